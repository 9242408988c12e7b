//! Executable memory goes back to the system: engines, modules and
//! instances dropped in every order (and with a background compile in
//! flight) leave no executable anonymous mapping behind, and no page is ever
//! writable and executable at once. Read from `/proc/self/maps` (Linux
//! only), so the test is alone in its process: one `#[test]` runs by
//! default; the other (ignored until code memory frees released pages)
//! takes the same lock when un-ignored.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tierjit::{Config, Engine, Instance, Module, Tier, Value};

/// Both tests count the process's mappings: one at a time.
static MAPS: Mutex<()> = Mutex::new(());

/// One line of `/proc/self/maps`: its size, permissions and whether it is
/// anonymous (no file, no `[name]`).
struct Mapping {
    bytes: usize,
    perms: String,
    anonymous: bool,
    line: String,
}

fn mappings() -> Option<Vec<Mapping>> {
    let text = std::fs::read_to_string("/proc/self/maps").ok()?;
    Some(
        text.lines()
            .filter_map(|line| {
                let mut cols = line.split_whitespace();
                let range = cols.next()?;
                let perms = cols.next()?.to_owned();
                let (_offset, _dev, inode) = (cols.next()?, cols.next()?, cols.next()?);
                let path = cols.next();
                let (lo, hi) = range.split_once('-')?;
                let lo = usize::from_str_radix(lo, 16).ok()?;
                let hi = usize::from_str_radix(hi, 16).ok()?;
                Some(Mapping {
                    bytes: hi - lo,
                    perms,
                    anonymous: inode == "0" && path.is_none(),
                    line: line.to_owned(),
                })
            })
            .collect(),
    )
}

/// Executable anonymous mappings now: how many, and their bytes.
fn executable_anonymous() -> (usize, usize) {
    let maps = mappings().expect("/proc/self/maps");
    let exec: Vec<&Mapping> = maps
        .iter()
        .filter(|m| m.anonymous && m.perms.starts_with("r-x"))
        .collect();
    (exec.len(), exec.iter().map(|m| m.bytes).sum())
}

/// Watches `/proc/self/maps` on a thread until dropped; remembers every
/// mapping it saw writable and executable at once.
struct WxWatch {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WxWatch {
    fn start() -> WxWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let (s, v) = (stop.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                for m in mappings().unwrap_or_default() {
                    if m.perms.starts_with("rwx") {
                        v.lock().unwrap().push(m.line);
                    }
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        WxWatch {
            stop,
            seen,
            thread: Some(thread),
        }
    }

    /// Stop and return what it saw.
    fn finish(mut self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().expect("watcher");
        }
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

/// A module with a loop, a call and recursion, to compile in both tiers.
const PROGRAM: &str = r#"
func tri(i) -> i
    jgti i0, 0, more
    iconst i0, 0
    reti i0
more:
    subi i5, i0, 1
    call i5, tri, 5
    add i0, i0, i5
    reti i0
end

func main(i) -> i
    iconst i1, 0
    iconst i2, 0
top:
    jge i1, i0, done
    andi i5, i1, 7
    call i5, tri, 5
    add i2, i2, i5
    addi i1, i1, 1
    jmp top
done:
    reti i2
end
"#;

fn want(n: i64) -> i64 {
    (0..n).map(|k| (k & 7) * ((k & 7) + 1) / 2).sum()
}

/// A function of `blocks` blocks of arithmetic: slow for Cranelift to
/// compile (about 170 ms in a debug build on x86-64 for 1,500).
fn slow_to_compile(blocks: usize) -> String {
    let mut s = String::from("func big(i) -> i\n    iconst i1, 1\n");
    for k in 0..blocks {
        s.push_str(&format!(
            "    jgti i0, {k}, b{k}\n    addi i1, i1, {k}\nb{k}:\n    muli i1, i1, 3\n    xor i1, i1, i0\n"
        ));
    }
    s.push_str("    reti i1\nend\n");
    s
}

fn config(tier: Tier) -> Config {
    let mut c = Config::new();
    c.tier(tier)
        .stack_slots(1 << 14, 1 << 14, 1 << 14)
        .hot_calls(2)
        .hot_loops(3)
        .background_compilation(false);
    c
}

/// An engine, a module and an instance that ran code in both tiers (and
/// tiered up under `auto`).
fn loaded(tier: Tier) -> (Engine, Module, Instance) {
    let engine = Engine::new(config(tier)).expect("engine");
    let module = Module::new(&engine, PROGRAM).expect("verifies");
    let mut instance = Instance::new(&module).expect("instance");
    for _ in 0..3 {
        assert_eq!(
            instance.call("main", &[Value::I(40)]).unwrap(),
            Some(Value::I(want(40)))
        );
    }
    if tier != Tier::Cranelift {
        instance.tier_up("main").expect("tier up");
    }
    assert!(engine.code_stats().bytes_in_use > 0);
    (engine, module, instance)
}

/// Wait (at most 5 s: a compiler thread may be finishing a compile) until
/// the executable anonymous mappings are back to `baseline`.
fn back_to(baseline: (usize, usize)) -> (usize, usize) {
    let start = Instant::now();
    loop {
        let now = executable_anonymous();
        if now.0 <= baseline.0 || start.elapsed() > Duration::from_secs(5) {
            return now;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn no_executable_memory_is_left_in_any_drop_order() {
    if mappings().is_none() {
        eprintln!("skipped: no /proc/self/maps");
        return;
    }
    let _alone = MAPS.lock().unwrap_or_else(|e| e.into_inner());
    let watch = WxWatch::start();
    let baseline = executable_anonymous();
    for tier in [Tier::Auto, Tier::Template, Tier::Cranelift] {
        // Engine first, then module, then instance: the instance keeps
        // running while the handles it came from are gone.
        let (engine, module, mut instance) = loaded(tier);
        drop(engine);
        drop(module);
        assert_eq!(
            instance.call("main", &[Value::I(9)]).unwrap(),
            Some(Value::I(want(9)))
        );
        drop(instance);
        assert_eq!(back_to(baseline), baseline, "{tier}: engine first");

        // Module first.
        let (engine, module, instance) = loaded(tier);
        drop(module);
        drop(engine);
        drop(instance);
        assert_eq!(back_to(baseline), baseline, "{tier}: module first");

        // Instance first, then module, then engine.
        let (engine, module, instance) = loaded(tier);
        drop(instance);
        drop(module);
        assert!(engine.code_stats().template_versions == 0, "{tier}");
        drop(engine);
        assert_eq!(back_to(baseline), baseline, "{tier}: instance first");

        // Instance first, then engine, then module.
        let (engine, module, instance) = loaded(tier);
        drop(instance);
        drop(engine);
        drop(module);
        assert_eq!(back_to(baseline), baseline, "{tier}: engine before module");
    }
    // A background compile in flight when everything goes, in each order.
    for order in 0..3 {
        let mut c = config(Tier::Auto);
        c.background_compilation(true)
            .hot_calls(1)
            .compiler_threads(1);
        let engine = Engine::new(c).expect("engine");
        let module = Module::new(&engine, &slow_to_compile(1500)).expect("verifies");
        let mut instance = Instance::new(&module).expect("instance");
        instance.call("big", &[Value::I(3)]).expect("runs");
        // Give the compiler thread time to take the job.
        let start = Instant::now();
        while engine.code_stats().queued > 0 && start.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(1));
        }
        match order {
            0 => drop((engine, module, instance)),
            1 => drop((instance, module, engine)),
            _ => drop((module, instance, engine)),
        }
        assert_eq!(
            back_to(baseline),
            baseline,
            "compile in flight, order {order}"
        );
    }
    let rwx = watch.finish();
    assert!(rwx.is_empty(), "writable and executable pages: {rwx:#?}");
}

#[test]
fn an_engine_that_lives_on_gives_back_evicted_code() {
    if mappings().is_none() {
        eprintln!("skipped: no /proc/self/maps");
        return;
    }
    let _alone = MAPS.lock().unwrap_or_else(|e| e.into_inner());
    let watch = WxWatch::start();
    let baseline = executable_anonymous();
    let (engine, module, mut instance) = loaded(Tier::Auto);
    let with_cranelift = engine.code_stats();
    assert!(with_cranelift.cranelift_versions > 0, "{with_cranelift:?}");
    let mapped_with = executable_anonymous();
    assert!(module.evict_cranelift_code().expect("evict") > 0);
    // The next call returns: nothing can run the evicted code any more.
    assert_eq!(
        instance.call("main", &[Value::I(9)]).unwrap(),
        Some(Value::I(want(9)))
    );
    let after = engine.code_stats();
    assert_eq!(after.retired_pending, 0, "{after:?}");
    assert!(
        after.bytes_in_use < with_cranelift.bytes_in_use,
        "{with_cranelift:?} -> {after:?}"
    );
    let mapped_after = executable_anonymous();
    assert!(
        mapped_after.1 < mapped_with.1,
        "executable bytes {mapped_with:?} -> {mapped_after:?}"
    );
    // A module's code goes with its last instance and handle, while the
    // engine lives on.
    drop((module, instance));
    assert_eq!(
        engine.code_stats().bytes_in_use,
        0,
        "{:?}",
        engine.code_stats()
    );
    assert_eq!(back_to(baseline), baseline);
    drop(engine);
    let rwx = watch.finish();
    assert!(rwx.is_empty(), "writable and executable pages: {rwx:#?}");
}
