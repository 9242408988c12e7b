//! The background compiler of an instance: a thread with its own Cranelift
//! compiler, fed requests, installing what it compiles.

use super::install::install_cranelift;
use super::ledger::{Compilation, Records, record};
use super::osr::{OsrTable, lock_osr};
use crate::bytecode::Module;
use crate::cranelift_tier::{self, CraneliftSettings, EntryPoint};
use crate::runtime::call_profile::CallProfiles;
use crate::runtime::code_memory::CodeMemory;
use crate::runtime::context::{FuncEntry, FuncTier};
use crate::runtime::frame::FrameLayout;
use crate::runtime::helpers::HelperAddrs;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Instant;

/// What the compiler thread is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// The function, entered at its start: installed for every later call.
    Function(usize),
    /// A version of the function entered at this loop header, for the
    /// activations whose loop is hot.
    Loop(usize, u32),
}

/// What the compiler thread reads: the module, shared read-only.
pub struct Source {
    /// The verified module.
    pub code: Arc<Module>,
    /// Its frame layouts.
    pub layouts: Arc<[FrameLayout]>,
    /// What its indirect call sites have called (template code records).
    pub profiles: Option<Arc<CallProfiles>>,
}

/// The background compiler of one instance: a thread with its own
/// Cranelift compiler and code memory, fed function indices. Dropping it
/// stops the thread after the compile in progress and frees all the code
/// it made: by then no code of the instance runs.
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
                // Dropped when the thread ends: by then no code of the
                // instance runs (see `Drop`).
                let mut memory = CodeMemory::new();
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
                    let compiled = compiler.compile_into(
                        &mut memory,
                        &source.code,
                        &source.layouts,
                        &helpers,
                        source.profiles.as_deref(),
                        func,
                        entry,
                    );
                    // What Cranelift cannot compile stays in the template
                    // tier; the request stays marked so it is not repeated.
                    let Ok(c) = compiled else {
                        continue;
                    };
                    match request {
                        Request::Function(_) => install_cranelift(table_entry, c.addr()),
                        Request::Loop(_, h) => {
                            lock_osr(&osr).insert((func, h), c.addr());
                        }
                    }
                    let c = Compilation {
                        func,
                        ops: f.code.len(),
                        tier: FuncTier::Cranelift,
                        osr: matches!(request, Request::Loop(..)),
                        took: t0.elapsed(),
                        code_bytes: c.code.len,
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
