//! The tiering manager: every function starts in the template tier, whose
//! code (compiled with counters) decrements the function's call budget at
//! entry and its loop budget at every back-edge. A budget that goes
//! negative calls a hook ([`crate::runtime::helpers::hot_call`],
//! [`crate::runtime::helpers::hot_loop`]) that asks for a Cranelift
//! version: on the compiler thread of this module by default, at once in
//! synchronous mode. A whole-function version is installed with one atomic
//! store of its address into the function table, so it takes over at the
//! next call; a hot loop of a running template activation continues in a
//! version compiled for entry at that loop header (on-stack replacement
//! through the shared frame).

use crate::bytecode::Module;
use crate::cranelift_tier::{self, CraneliftSettings, EntryPoint};
use crate::runtime::context::{FuncEntry, FuncTier};
use crate::runtime::frame::FrameLayout;
use crate::runtime::helpers::HelperAddrs;
use crate::runtime::jit::TierStats;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// When functions move up, and where they are compiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TieringPolicy {
    /// A function tiers up at this call (1 = its first).
    pub hot_calls: u32,
    /// A function's loops tier up at this back-edge (counted over all its
    /// activations).
    pub hot_loops: u32,
    /// Compile on a background thread (the default), or at once on the
    /// thread that found the function hot (deterministic, for tests).
    pub background: bool,
}

impl TieringPolicy {
    /// The budget a counter starts at: it trips at the `threshold`-th
    /// decrement.
    pub fn budget(threshold: u32) -> i64 {
        i64::from(threshold.max(1)) - 1
    }
}

/// A budget that never trips again: a function that has been queued does
/// not call its hook at every call.
pub const SPENT_BUDGET: i64 = i64::MAX / 2;

/// What is known of one function's compilations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FuncRecord {
    /// Template compile time and code bytes.
    pub template: Option<(Duration, usize)>,
    /// Cranelift compile time and code bytes (the latest version).
    pub cranelift: Option<(Duration, usize)>,
    /// When the Cranelift version was installed, since the instance was
    /// made.
    pub tiered_up_at: Option<Duration>,
    /// Cranelift compile time and code bytes of the loop-header versions
    /// (on-stack replacement), summed.
    pub osr_compiles: Option<(Duration, usize)>,
    /// Times a running template activation continued in Cranelift code at a
    /// loop header.
    pub osr_entries: u64,
}

/// Cranelift versions entered at a loop header, by (function, header): the
/// entry address, or 0 while its compile is pending.
pub type OsrTable = Arc<Mutex<HashMap<(usize, u32), usize>>>;

/// Lock an OSR table, whatever a panicking thread left.
pub fn lock_osr(table: &OsrTable) -> std::sync::MutexGuard<'_, HashMap<(usize, u32), usize>> {
    table.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the compiler thread is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// The function, entered at its start: installed for every later call.
    Function(usize),
    /// A version of the function entered at this loop header, for the
    /// activations whose loop is hot.
    Loop(usize, u32),
}

/// Compilation records: per function and per tier, shared with the
/// compiler thread.
#[derive(Debug, Default)]
pub struct Ledger {
    /// One record per function.
    pub funcs: Vec<FuncRecord>,
    /// Totals per tier.
    pub totals: TierStats,
}

/// The ledger of an instance.
pub type Records = Arc<Mutex<Ledger>>;

/// Lock `records`, whatever a panicking thread left.
pub fn lock(records: &Records) -> std::sync::MutexGuard<'_, Ledger> {
    records.lock().unwrap_or_else(|e| e.into_inner())
}

/// Install Cranelift code at `addr` for `entry`: one atomic store of the
/// address calls use, after the code is complete and visible to instruction
/// fetch (the compiler made sure of that).
pub fn install_cranelift(entry: &FuncEntry, addr: usize) {
    entry
        .tier
        .store(FuncTier::Cranelift as u32, Ordering::Release);
    entry.code.store(addr, Ordering::Release);
    entry.queued.store(0, Ordering::Release);
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

/// Note a compilation in `records`; `started` is when the instance was made.
pub fn record(records: &Records, c: Compilation, started: Instant) {
    let mut ledger = lock(records);
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

/// What the compiler thread reads: the module, shared read-only.
pub struct Source {
    /// The verified module.
    pub code: Arc<Module>,
    /// Its frame layouts.
    pub layouts: Arc<[FrameLayout]>,
}

/// The background compiler of one instance: a thread with its own
/// Cranelift compiler (and so its own `JITModule`s), fed function indices.
/// Dropping it stops the thread after the compile in progress and frees
/// every module it made: by then no code of the instance runs.
pub struct CompilerThread {
    sender: Option<mpsc::Sender<Request>>,
    handle: Option<JoinHandle<()>>,
}

impl CompilerThread {
    /// Start the thread. It installs what it compiles into `table` (whole
    /// functions) or `osr` (loop-header versions) and notes it in `records`
    /// (times relative to `started`).
    pub fn spawn(
        source: Source,
        settings: CraneliftSettings,
        table: Arc<[FuncEntry]>,
        osr: OsrTable,
        records: Records,
        started: Instant,
    ) -> std::io::Result<CompilerThread> {
        let (sender, receiver) = mpsc::channel::<Request>();
        let handle = std::thread::Builder::new()
            .name("tierjit-compiler".into())
            .spawn(move || {
                let Ok(mut compiler) = cranelift_tier::Compiler::new(settings) else {
                    // Functions stay in the template tier.
                    return;
                };
                let helpers = HelperAddrs::native();
                for request in receiver {
                    let (func, entry) = match request {
                        Request::Function(f) => (f, EntryPoint::Start),
                        Request::Loop(f, h) => (f, EntryPoint::LoopHeader(h)),
                    };
                    let (Some(table_entry), Some(f)) =
                        (table.get(func), source.code.functions.get(func))
                    else {
                        continue;
                    };
                    let t0 = Instant::now();
                    let compiled =
                        compiler.compile(&source.code, &source.layouts, &helpers, &[(func, entry)]);
                    // What Cranelift cannot compile stays in the template
                    // tier; the request stays marked so it is not repeated.
                    let Some(c) = compiled.ok().and_then(|c| c.first().copied()) else {
                        continue;
                    };
                    match request {
                        Request::Function(_) => install_cranelift(table_entry, c.addr),
                        Request::Loop(_, h) => {
                            lock_osr(&osr).insert((func, h), c.addr);
                        }
                    }
                    let c = Compilation {
                        func,
                        ops: f.code.len(),
                        tier: FuncTier::Cranelift,
                        osr: matches!(request, Request::Loop(..)),
                        took: t0.elapsed(),
                        code_bytes: c.code_bytes,
                    };
                    record(&records, c, started);
                }
            })?;
        Ok(CompilerThread {
            sender: Some(sender),
            handle: Some(handle),
        })
    }

    /// Ask for a Cranelift version. Never blocks.
    pub fn request(&self, request: Request) {
        if let Some(s) = &self.sender {
            let _ = s.send(request);
        }
    }
}

impl Drop for CompilerThread {
    fn drop(&mut self) {
        self.sender = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
