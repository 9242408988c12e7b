//! What compiled code asks of the orchestrator through the runtime's
//! helpers: compilation at first call and the tiering hooks.

use super::code_cache::lock;
use super::events;
use super::jit_runtime::JitRuntime;
use super::module_code::LoopEntry;
use super::policy::{SPENT_BUDGET, TieringPolicy};
use super::pool::Request;
use crate::runtime::compile_error::CompileError;
use crate::runtime::context::FuncTier;
use crate::runtime::helpers::CodeHooks;
use std::sync::atomic::Ordering;
use std::time::Instant;

impl CodeHooks for JitRuntime {
    fn compile(&mut self, func: usize) -> Result<usize, CompileError> {
        self.code.ensure_compiled(func)
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
    /// Account a hook call that started at `t0`, here and module-wide.
    fn note_hook(&mut self, t0: Instant) {
        let took = t0.elapsed();
        self.hook_time += took;
        self.hook_calls += 1;
        let mut ledger = lock(&self.code.records);
        ledger.totals.hook_time += took;
        ledger.totals.hook_calls += 1;
    }

    /// The call-budget hook: queue `func` for Cranelift (background), or
    /// compile it now (synchronous) and return its address so the call that
    /// found it hot runs there too.
    fn on_hot_call(&mut self, func: usize) -> usize {
        let code = &self.code;
        let Some(entry) = code.table.get(func) else {
            return 0;
        };
        entry.call_budget.store(SPENT_BUDGET, Ordering::Relaxed);
        let Some(policy) = code.options.tiering else {
            return 0;
        };
        if entry.tier() == FuncTier::Cranelift {
            return entry.code.load(Ordering::Acquire);
        }
        // The first instance to find it hot compiles or queues it, once;
        // the others go on in template code meanwhile.
        if entry
            .queued
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return 0;
        }
        events::queued(code, Request::Function(func), policy.background);
        if policy.background {
            if !code.submit(Request::Function(func)) {
                entry.queued.store(0, Ordering::Release);
            }
            0
        } else {
            // Installing clears `queued`; a failed compile leaves it set,
            // so it is not tried again.
            code.tier_up(func)
                .map_or(0, |()| entry.code.load(Ordering::Acquire))
        }
    }

    /// The loop-budget hook, at the back-edge to `header`: the address of
    /// the version entered at that header, to continue this activation in,
    /// or 0 to go on in template code for another budget (its compile was
    /// queued, or is still running, or was refused).
    fn on_hot_loop(&mut self, func: usize, header: u32) -> usize {
        let code = self.code.clone();
        let Some(policy) = code.options.tiering else {
            return 0;
        };
        let known = {
            // Look and mark in one step: one instance queues it.
            let mut loops = lock(&code.loops);
            let known = loops.get(&(func, header)).copied();
            if known.is_none() {
                loops.insert((func, header), LoopEntry::Pending);
            }
            known
        };
        let addr = match known {
            Some(LoopEntry::Ready(addr)) => addr,
            Some(LoopEntry::Pending | LoopEntry::Never) => 0,
            None => {
                let request = Request::Loop(func, header);
                events::queued(&code, request, policy.background);
                if policy.background {
                    if !code.submit(request) {
                        lock(&code.loops).remove(&(func, header));
                    }
                    0
                } else {
                    code.compile_loop_entry(func, header).unwrap_or(0)
                }
            }
        };
        if addr == 0 {
            // Look again a budget later.
            if let Some(e) = code.table.get(func) {
                e.loop_budget
                    .store(TieringPolicy::budget(policy.hot_loops), Ordering::Relaxed);
            }
        } else {
            *self.osr_entries.entry(func).or_default() += 1;
            // Reported once per instance and header: a function called in
            // a loop enters the version at every call.
            if events::osr_enabled() && self.osr_reported.insert((func, header)) {
                events::osr_entered(&code, func, header, self.id);
            }
            if let Some(rec) = lock(&code.records).funcs.get_mut(func) {
                rec.osr_entries += 1;
            }
        }
        addr
    }
}
