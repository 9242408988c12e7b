//! What the orchestrator records of compilations of a module: per function
//! and per tier, over every instance.

use crate::runtime::context::FuncTier;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Compilation statistics of one tier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompileStats {
    /// Functions compiled.
    pub functions: u64,
    /// Bytecode ops compiled.
    pub ops: u64,
    /// Machine-code bytes produced.
    pub code_bytes: u64,
    /// Time spent compiling.
    pub time: Duration,
}

/// Compilation statistics of a module (over every instance), per tier.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TierStats {
    /// The template tier.
    pub template: CompileStats,
    /// The Cranelift tier.
    pub cranelift: CompileStats,
    /// Time the running program spent in the tiering hooks (queueing a
    /// compile; in synchronous mode, compiling), and how many hook calls.
    /// Under background compilation this is what tier-up costs the program.
    pub hook_time: Duration,
    /// Calls of the tiering hooks.
    pub hook_calls: u64,
}

impl TierStats {
    /// Both tiers together.
    pub fn total(&self) -> CompileStats {
        let (t, c) = (self.template, self.cranelift);
        CompileStats {
            functions: t.functions + c.functions,
            ops: t.ops + c.ops,
            code_bytes: t.code_bytes + c.code_bytes,
            time: t.time + c.time,
        }
    }
}

/// What is known of one function's compilations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FuncRecord {
    /// Template compile time and code bytes.
    pub template: Option<(Duration, usize)>,
    /// Cranelift compile time and code bytes (the latest version).
    pub cranelift: Option<(Duration, usize)>,
    /// When the Cranelift version was installed, since the module was
    /// loaded.
    pub tiered_up_at: Option<Duration>,
    /// Cranelift compile time and code bytes of the loop-header versions
    /// (on-stack replacement), summed.
    pub osr_compiles: Option<(Duration, usize)>,
    /// Times a running template activation continued in Cranelift code at a
    /// loop header.
    pub osr_entries: u64,
}

/// Compilation records of a module: per function and per tier.
#[derive(Debug, Default)]
pub struct Ledger {
    /// One record per function.
    pub funcs: Vec<FuncRecord>,
    /// Totals per tier.
    pub totals: TierStats,
    /// Why the Cranelift tier did not take a function (budget, code cap,
    /// or an error), by function.
    pub refusals: HashMap<usize, String>,
}

/// One finished compilation, for the ledger.
#[derive(Clone, Copy, Debug)]
pub struct Compilation {
    /// The function.
    pub func: usize,
    /// Its op count.
    pub ops: usize,
    /// The tier it was compiled in.
    pub tier: FuncTier,
    /// A loop-header version (Cranelift only).
    pub osr: bool,
    /// How long it took.
    pub took: Duration,
    /// Machine-code bytes.
    pub code_bytes: usize,
}

/// Note a compilation in `ledger`; `started` is when the module was
/// loaded.
pub fn record(ledger: &mut Ledger, c: Compilation, started: Instant) {
    let total = if c.tier == FuncTier::Cranelift {
        &mut ledger.totals.cranelift
    } else {
        &mut ledger.totals.template
    };
    total.functions += 1;
    total.ops += c.ops as u64;
    total.code_bytes += c.code_bytes as u64;
    total.time += c.took;
    if let Some(rec) = ledger.funcs.get_mut(c.func) {
        if c.osr {
            let (t, b) = rec.osr_compiles.unwrap_or_default();
            rec.osr_compiles = Some((t + c.took, b + c.code_bytes));
        } else if c.tier == FuncTier::Cranelift {
            rec.cranelift = Some((c.took, c.code_bytes));
            rec.tiered_up_at = Some(started.elapsed());
        } else {
            rec.template = Some((c.took, c.code_bytes));
        }
    }
}
