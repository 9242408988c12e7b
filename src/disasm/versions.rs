//! The machine code of every version of every function of a module, as a
//! run would compile it (with fake helper addresses, so that listings are
//! the same from run to run).

use crate::bytecode::loop_headers;
use crate::cranelift_tier::{self, EntryPoint};
use crate::engine::{Module, Tier};
use crate::error::Result;
use crate::runtime::compile_error::{CompileError, CompileFailure};
use crate::runtime::context::FuncTier;
use crate::runtime::helpers::HelperAddrs;
use crate::template::{HostMasm, emit};
use std::fmt::{self, Write as _};

/// Which version of a function a piece of machine code is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VersionKind {
    /// The template tier's code, entered at the start; with `counters`, it
    /// counts calls and loop back-edges toward tier-up (as under
    /// [`Tier::Auto`]).
    Template {
        /// Compiled with the tier-up counters.
        counters: bool,
    },
    /// The Cranelift tier's code, entered at the start.
    Cranelift,
    /// The Cranelift tier's code entered at the loop header at this op
    /// (on-stack replacement).
    LoopHeader(u32),
}

impl fmt::Display for VersionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionKind::Template { counters: true } => {
                f.write_str("template code, with tier-up counters")
            }
            VersionKind::Template { counters: false } => {
                f.write_str("template code, without tier-up counters")
            }
            VersionKind::Cranelift => f.write_str("Cranelift code"),
            VersionKind::LoopHeader(h) => {
                write!(
                    f,
                    "Cranelift code entered at the loop header at op {h} (OSR)"
                )
            }
        }
    }
}

/// The machine code of one version of one function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeVersion {
    /// The function's index in the module.
    pub func: usize,
    /// Its name.
    pub name: String,
    /// Which version.
    pub kind: VersionKind,
    /// The machine code for the host, placed at address 0: helper
    /// addresses are [`HelperAddrs::fake`]; a Cranelift version's direct
    /// calls of its function go to 0, its start.
    pub code: Vec<u8>,
}

/// The machine code of every version of every function of `module` that a
/// run can use, in function order: its template code (with the tier-up
/// counters when the engine's tier is [`Tier::Auto`], as that tier compiles
/// it; without under the others), its Cranelift code, and a Cranelift
/// version entered at each of its loop headers
/// ([`crate::bytecode::loop_headers`]), with the engine's Cranelift
/// settings. Helper addresses are fake ones, so the code is the same from
/// run to run.
pub fn code_versions(module: &Module) -> Result<Vec<CodeVersion>> {
    let config = module.engine().config();
    let counters = config.get_tier() == Tier::Auto;
    let (code, layouts) = (module.bytecode(), module.layouts());
    let helpers = HelperAddrs::fake();
    let failed = |func: usize, tier: FuncTier, failure: CompileFailure| {
        CompileError::in_module(code, func, tier, failure)
    };
    let mut template = emit::Compiler::new(HostMasm::new());
    let mut cranelift = cranelift_tier::Compiler::new(config.get_cranelift())
        .map_err(|e| failed(0, FuncTier::Cranelift, e))?;
    let mut versions = Vec::new();
    for (func, f) in code.functions.iter().enumerate() {
        let mut version = |kind, code| {
            versions.push(CodeVersion {
                func,
                name: f.name.clone(),
                kind,
                code,
            })
        };
        let bytes = template
            .compile(&helpers, code, layouts, func, counters)
            .map_err(|e| failed(func, FuncTier::Template, e))?;
        version(VersionKind::Template { counters }, bytes.to_vec());
        let entries = std::iter::once(EntryPoint::Start).chain(
            loop_headers(&f.code)
                .into_iter()
                .map(EntryPoint::LoopHeader),
        );
        for entry in entries {
            let bytes = cranelift
                .machine_code(code, layouts, func, entry)
                .map_err(|e| failed(func, FuncTier::Cranelift, e))?;
            let kind = match entry {
                EntryPoint::Start => VersionKind::Cranelift,
                EntryPoint::LoopHeader(h) => VersionKind::LoopHeader(h),
            };
            version(kind, bytes);
        }
    }
    Ok(versions)
}

/// What `tierjit dis --asm` prints: a header, then every version of
/// [`code_versions`], each under a line naming the function and the
/// version, disassembled with [`super::host`].
pub fn listing(module: &Module) -> Result<String> {
    let versions = code_versions(module)?;
    let tier = module.engine().config().get_tier();
    let template = match tier {
        Tier::Auto => "template code with tier-up counters first, Cranelift code once a \
                       function is hot, a loop-header version once a loop is hot"
            .to_string(),
        Tier::Template => "the template code only (without counters)".to_string(),
        Tier::Cranelift => "the Cranelift code only".to_string(),
        Tier::Interp => "no machine code (the interpreter)".to_string(),
    };
    let mut out = String::new();
    let _ = writeln!(out, "; machine code for {}", super::HOST_ISA);
    let _ = writeln!(out, "; tier {tier} runs {template}");
    // Every field, so that a new helper cannot be left out.
    let HelperAddrs {
        new_array,
        host_call,
        print_str,
        print_i64,
        print_f64,
        compile,
        hot_call,
        hot_loop,
        widen_set_i64,
        fill_bytes,
        null_array_header,
        new_closure,
        tail_call_dispatch,
        record_call_target,
        copy_elements,
        fill_elements,
        print_bytes,
        new_struct,
    } = HelperAddrs::fake();
    let _ = write!(out, "; helpers at fake addresses:");
    for (name, addr) in [
        ("new_array", new_array),
        ("host_call", host_call),
        ("print_str", print_str),
        ("print_i64", print_i64),
        ("print_f64", print_f64),
        ("compile", compile),
        ("hot_call", hot_call),
        ("hot_loop", hot_loop),
        ("widen_set_i64", widen_set_i64),
        ("fill_bytes", fill_bytes),
        ("null_array_header", null_array_header),
        ("new_closure", new_closure),
        ("tail_call_dispatch", tail_call_dispatch),
        ("record_call_target", record_call_target),
        ("copy_elements", copy_elements),
        ("fill_elements", fill_elements),
        ("print_bytes", print_bytes),
        ("new_struct", new_struct),
    ] {
        let _ = write!(out, " {name} {addr:#x}");
    }
    out.push('\n');
    for v in &versions {
        let _ = writeln!(
            out,
            "\n; function {}: {}: {}, {} bytes",
            v.func,
            v.name,
            v.kind,
            v.code.len()
        );
        out.push_str(&super::host(&v.code, 0));
    }
    Ok(out)
}
