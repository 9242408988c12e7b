//! `tierjit bench`: programs under several engines, alternating, side by side
//! in one run, with the peers of `../shared/peers` (Lua, LuaJIT, gcc) when
//! asked.

use super::source::{STDIN_ARG, Source};
use super::{CraneliftArgs, config_for, parse_args};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tierjit::{Engine, Instance, SharedOutput, Tier};

#[derive(Args)]
pub struct BenchArgs {
    /// Engines to compare (comma-separated): auto, template, cranelift,
    /// interp. Default: every engine this build has, interpreter first.
    #[arg(long, value_delimiter = ',')]
    tiers: Vec<String>,
    /// Timed runs per program and engine (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Also time the peer implementations in this folder (`lua/NAME.lua`
    /// under lua5.4, `luajit -joff` and `luajit`, and `bin/NAME.O2` when
    /// built). Repeatable: a program's peers come from the first folder
    /// with a version of it (`lua/NAME.lua`, `c/NAME.c` or `bin/NAME.O2`;
    /// `fib.tj` and `fib.lark` share `fib`'s).
    #[arg(long)]
    peers: Vec<PathBuf>,
    /// Where the peers' C binaries (`NAME.O2`) are, if not in `PEERS/bin`.
    #[arg(long)]
    peer_bin: Option<PathBuf>,
    /// Count executed ops in a separate interpreter run and report ns per op.
    #[arg(long)]
    ns_per_op: bool,
    #[command(flatten)]
    cranelift: CraneliftArgs,
    /// Programs: `FILE.tj`, or `FILE.tj@ARG,ARG` to pass `main` arguments
    /// (`-`: the program on standard input, read once; `-- -@ARG,ARG`
    /// with arguments).
    #[arg(required = true)]
    files: Vec<String>,
}

/// One contender: an engine of ours, or a peer's command line.
enum Contender {
    Tier(Tier),
    Peer {
        name: &'static str,
        argv: Vec<String>,
    },
}

impl Contender {
    fn name(&self) -> String {
        match self {
            Contender::Tier(t) => t.name().to_string(),
            Contender::Peer { name, .. } => name.to_string(),
        }
    }
}

struct Timing {
    /// Parse and verify, plus (for the JIT tiers) all compilation.
    compile: Duration,
    /// The call of `main` (for peers: the whole process).
    run: Duration,
    output: String,
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time_tier(
    tier: Tier,
    cranelift: CraneliftArgs,
    source: &Source,
    args: &[String],
) -> Result<Timing, String> {
    let mut config = config_for(None, cranelift).map_err(|e| e.to_string())?;
    config.tier(tier);
    let engine = Engine::new(config).map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let module = source.module(&engine)?;
    let compile = t0.elapsed();
    let mut instance = Instance::new(&module).map_err(|e| e.to_string())?;
    let out = SharedOutput::new();
    instance.set_output(out.clone());
    let args = parse_args(args)?;
    let t1 = Instant::now();
    instance
        .call(tierjit::bytecode::ENTRY_NAME, &args)
        .map_err(|e| source.error(e))?;
    let run = t1.elapsed();
    // JIT tiers compile lazily, inside the run: that time is reported as
    // compile time too (the run time stays end to end).
    let compile = compile + instance.compile_stats().total().time;
    Ok(Timing {
        compile,
        run,
        output: out.take_string(),
    })
}

fn time_peer(argv: &[String]) -> Result<Timing, String> {
    let t0 = Instant::now();
    let out = Command::new(&argv[0])
        .args(&argv[1..])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", argv[0]))?;
    let run = t0.elapsed();
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            argv.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(Timing {
        compile: Duration::ZERO,
        run,
        output: String::from_utf8_lossy(&out.stdout).into_owned(),
    })
}

fn peers_for(dir: &Path, bin: Option<&Path>, name: &str, args: &[String]) -> Vec<Contender> {
    let mut v = Vec::new();
    let lua = dir.join("lua").join(format!("{name}.lua"));
    let on_path = |p: &str| {
        std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(p).is_file()))
    };
    let script = lua.display().to_string();
    if lua.is_file() && on_path("lua5.4") {
        let argv = [vec!["lua5.4".to_string(), script.clone()], args.to_vec()].concat();
        v.push(Contender::Peer {
            name: "lua5.4",
            argv,
        });
    }
    if lua.is_file() && on_path("luajit") {
        let argv = [
            vec!["luajit".to_string(), "-joff".to_string(), script.clone()],
            args.to_vec(),
        ]
        .concat();
        v.push(Contender::Peer {
            name: "luajit-joff",
            argv,
        });
        let argv = [vec!["luajit".to_string(), script], args.to_vec()].concat();
        v.push(Contender::Peer {
            name: "luajit",
            argv,
        });
    }
    let gcc = bin
        .map_or_else(|| dir.join("bin"), Path::to_path_buf)
        .join(format!("{name}.O2"));
    if gcc.is_file() {
        let argv = [vec![gcc.display().to_string()], args.to_vec()].concat();
        v.push(Contender::Peer {
            name: "gcc-O2",
            argv,
        });
    }
    v
}

fn fmt_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 0.1 {
        format!("{s:.3}")
    } else {
        format!("{s:.6}")
    }
}

fn fmt_compile(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else {
        format!("{:.1} ms", us / 1000.0)
    }
}

pub fn bench(a: &BenchArgs) -> Result<(), String> {
    let mut tiers = a
        .tiers
        .iter()
        .map(|t| t.parse::<Tier>().map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    if tiers.is_empty() {
        tiers = [Tier::Interp, Tier::Template, Tier::Cranelift, Tier::Auto]
            .into_iter()
            .filter(|t| t.is_available())
            .collect();
    }
    let runs = a.runs.max(1);
    println!("# tierjit bench: median of {runs} runs, wall seconds (ratio to the first engine)\n");
    // Columns follow the first program's contenders; a later program
    // without some peer shows `-` there.
    let mut columns: Option<Vec<String>> = None;
    // Standard input is read once, at its first `-`.
    let mut stdin: Option<Source> = None;
    for spec in &a.files {
        let (file, args) = match spec.split_once('@') {
            Some((f, a)) => (
                f,
                a.split(',')
                    .map(str::to_string)
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>(),
            ),
            None => (spec.as_str(), Vec::new()),
        };
        let file = Path::new(file);
        let source = match (&stdin, file.as_os_str() == STDIN_ARG) {
            (Some(s), true) => s.clone(),
            (None, true) => stdin.insert(Source::read(file)?).clone(),
            (_, false) => Source::read(file)?,
        };
        let name = if file.as_os_str() == STDIN_ARG {
            "stdin".to_string()
        } else {
            file.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let mut contenders: Vec<Contender> = tiers.iter().map(|&t| Contender::Tier(t)).collect();
        // The first folder with a Lua or C version of the program (its C
        // binary may live in the shared --peer-bin).
        let has_peer = |dir: &&PathBuf| {
            dir.join("lua").join(format!("{name}.lua")).is_file()
                || dir.join("c").join(format!("{name}.c")).is_file()
                || dir.join("bin").join(format!("{name}.O2")).is_file()
        };
        if let Some(dir) = a.peers.iter().find(has_peer) {
            contenders.extend(peers_for(dir, a.peer_bin.as_deref(), &name, &args));
        }
        if columns.is_none() {
            let mut h = String::from("| program | args |");
            let mut sep = String::from("|---|---|");
            for c in &contenders {
                h += &format!(" {} |", c.name());
                sep += "---:|";
                if matches!(c, Contender::Tier(_)) {
                    h += &format!(" {} compile |", c.name());
                    sep += "---:|";
                }
            }
            if a.ns_per_op {
                h += " interp ns/op |";
                sep += "---:|";
            }
            println!("{h}\n{sep}");
            columns = Some(contenders.iter().map(Contender::name).collect());
        }
        let mut run_times: Vec<Vec<Duration>> = vec![Vec::new(); contenders.len()];
        let mut compile_times: Vec<Vec<Duration>> = vec![Vec::new(); contenders.len()];
        let mut reference_output: Option<(String, String)> = None;
        // Alternate the contenders so that machine noise hits all alike.
        for _ in 0..runs {
            for (k, c) in contenders.iter().enumerate() {
                let t = match c {
                    Contender::Tier(tier) => time_tier(*tier, a.cranelift, &source, &args)?,
                    Contender::Peer { argv, .. } => time_peer(argv)?,
                };
                match &reference_output {
                    None => reference_output = Some((c.name(), t.output.clone())),
                    Some((who, out)) if *out != t.output => {
                        return Err(format!(
                            "{}: output of {} differs from {who}:\n{}\nvs\n{out}",
                            source.name,
                            c.name(),
                            t.output
                        ));
                    }
                    Some(_) => {}
                }
                run_times[k].push(t.run);
                compile_times[k].push(t.compile);
            }
        }
        let base = median(&mut run_times[0]).as_secs_f64();
        let mut row = format!("| {name} | {} |", args.join(" "));
        for column in columns.iter().flatten() {
            let Some(k) = contenders.iter().position(|c| c.name() == *column) else {
                row += " - |";
                continue;
            };
            let m = median(&mut run_times[k]);
            row += &format!(" {} ({:.2}x) |", fmt_secs(m), m.as_secs_f64() / base);
            if matches!(contenders[k], Contender::Tier(_)) {
                row += &format!(" {} |", fmt_compile(median(&mut compile_times[k])));
            }
        }
        if a.ns_per_op {
            let ops = count_ops(&source, &args)?;
            let interp = contenders
                .iter()
                .position(|c| matches!(c, Contender::Tier(Tier::Interp)))
                .map(|k| median(&mut run_times[k]));
            match interp {
                Some(t) if ops > 0 => {
                    row += &format!(" {:.2} ({ops} ops) |", t.as_secs_f64() * 1e9 / ops as f64)
                }
                _ => row += " - |",
            }
        }
        println!("{row}");
    }
    Ok(())
}

/// Executed ops of one interpreter run (a separate, counting run).
fn count_ops(source: &Source, args: &[String]) -> Result<u64, String> {
    let mut config = config_for(None, CraneliftArgs::default()).map_err(|e| e.to_string())?;
    config.tier(Tier::Interp).count_ops(true);
    let engine = Engine::new(config).map_err(|e| e.to_string())?;
    let module = source.module(&engine)?;
    let mut instance = Instance::new(&module).map_err(|e| e.to_string())?;
    instance.set_output(std::io::sink());
    instance
        .call(tierjit::bytecode::ENTRY_NAME, &parse_args(args)?)
        .map_err(|e| source.error(e))?;
    Ok(instance.executed_ops())
}
