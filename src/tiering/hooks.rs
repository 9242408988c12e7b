//! What compiled code asks of the orchestrator through the runtime's
//! helpers: compilation at first call and the tiering hooks.

use super::compiler_thread::{CompilerThread, Request, Source};
use super::jit_runtime::JitRuntime;
use super::ledger::lock;
use super::osr::lock_osr;
use super::policy::{SPENT_BUDGET, TieringPolicy};
use crate::runtime::compile_error::CompileError;
use crate::runtime::context::FuncTier;
use crate::runtime::helpers::CodeHooks;
use std::sync::atomic::Ordering;
use std::time::Instant;

impl CodeHooks for JitRuntime {
    fn compile(&mut self, func: usize) -> Result<usize, CompileError> {
        self.ensure_compiled(func)
    }

    fn hot_call(&mut self, func: usize) -> usize {
        let t0 = Instant::now();
        let addr = self.on_hot_call(func);
        self.note_hook(t0);
        addr
    }

    fn hot_loop(&mut self, func: usize, header: u32) -> usize {
        let t0 = Instant::now();
        let addr = self.on_hot_loop(func, header);
        self.note_hook(t0);
        addr
    }
}

impl JitRuntime {
    /// Account a hook call that started at `t0`.
    fn note_hook(&self, t0: Instant) {
        let mut ledger = lock(&self.records);
        ledger.totals.hook_time += t0.elapsed();
        ledger.totals.hook_calls += 1;
    }

    /// The call-budget hook: queue `func` for Cranelift (background), or
    /// compile it now (synchronous) and return its address so the call that
    /// found it hot runs there too.
    fn on_hot_call(&mut self, func: usize) -> usize {
        let Some(entry) = self.table.get(func) else {
            return 0;
        };
        entry.call_budget.store(SPENT_BUDGET, Ordering::Relaxed);
        let Some(t) = &self.tiering else {
            return 0;
        };
        if t.policy.background {
            if entry
                .queued
                .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                self.request(Request::Function(func));
            }
            0
        } else if entry.tier() == FuncTier::Cranelift {
            entry.code.load(Ordering::Acquire)
        } else {
            self.tier_up(func)
                .map_or(0, |()| self.table[func].code.load(Ordering::Acquire))
        }
    }

    /// The loop-budget hook, at the back-edge to `header`: the address of
    /// the version entered at that header, to continue this activation in,
    /// or 0 to go on in template code for another budget (its compile was
    /// queued, or is still running).
    fn on_hot_loop(&mut self, func: usize, header: u32) -> usize {
        let Some(t) = &self.tiering else {
            return 0;
        };
        let (background, hot_loops) = (t.policy.background, t.policy.hot_loops);
        let known = lock_osr(&self.osr).get(&(func, header)).copied();
        let addr = match known {
            Some(addr) => addr,
            None if background => {
                lock_osr(&self.osr).insert((func, header), 0);
                self.request(Request::Loop(func, header));
                0
            }
            None => self.compile_loop_entry(func, header).unwrap_or(0),
        };
        if addr == 0 {
            // Look again a budget later.
            if let Some(e) = self.table.get(func) {
                e.loop_budget
                    .store(TieringPolicy::budget(hot_loops), Ordering::Relaxed);
            }
        } else if let Some(rec) = lock(&self.records).funcs.get_mut(func) {
            rec.osr_entries += 1;
        }
        addr
    }

    /// Send `request` to the compiler thread, started now if needed.
    fn request(&mut self, request: Request) {
        let Some(t) = &mut self.tiering else {
            return;
        };
        if t.thread.is_none() {
            let source = Source {
                code: self.code.clone(),
                layouts: self.layouts.clone(),
                profiles: self.profiles.clone(),
            };
            match CompilerThread::spawn(
                source,
                self.cranelift_settings,
                self.table.clone(),
                self.osr.clone(),
                self.records.clone(),
                self.started,
            ) {
                Ok(th) => t.thread = Some(th),
                // No thread: the function stays in the template tier.
                Err(_) => return,
            }
        }
        if let Some(th) = &t.thread {
            th.request(request);
        }
    }
}
