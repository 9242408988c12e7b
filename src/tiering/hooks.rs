//! What compiled code asks of the orchestrator through the runtime's
//! helpers: compilation at first call and the tiering hooks.

use super::code_cache::lock;
use super::events::{self, WholeReason};
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
        let Some(entry) = self.code.table.get(func) else {
            return 0;
        };
        entry.call_budget.store(SPENT_BUDGET, Ordering::Relaxed);
        self.request_whole(func, WholeReason::Calls)
    }

    /// Ask for the whole-function Cranelift version of `func`: queue it
    /// (background; returns 0) or compile it now (synchronous; returns its
    /// address, 0 when it failed). Once: a function already queued, being
    /// compiled or refused is not asked for again.
    fn request_whole(&self, func: usize, reason: WholeReason) -> usize {
        let code = &self.code;
        let Some(entry) = code.table.get(func) else {
            return 0;
        };
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
        events::queued_whole(code, func, reason, policy.background);
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
    ///
    /// A loop whose function's activations are short (many calls for the
    /// back-edges counted) gets no loop-header version: the whole function
    /// is asked for instead, and this activation, about to end anyway,
    /// finishes in template code. Only a template activation still looping
    /// once the whole version is installed (a long one) is moved over.
    fn on_hot_loop(&mut self, func: usize, header: u32) -> usize {
        let code = self.code.clone();
        let Some(policy) = code.options.tiering else {
            return 0;
        };
        let Some(entry) = code.table.get(func) else {
            return 0;
        };
        let known = lock(&code.loops).get(&(func, header)).copied();
        if known.is_none()
            && entry.tier() != FuncTier::Cranelift
            && code.counted_calls(func).is_some_and(|calls| {
                short_activations(calls, policy) && code.refusal(func).is_none()
            })
        {
            // Compiled at once (synchronous) or not, this activation goes
            // on in template code for another budget; the next call runs
            // the new version.
            self.request_whole(func, WholeReason::ShortActivations);
            entry
                .loop_budget
                .store(TieringPolicy::budget(policy.hot_loops), Ordering::Relaxed);
            return 0;
        }
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
                events::queued_loop(&code, func, header, policy.background);
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
            entry
                .loop_budget
                .store(TieringPolicy::budget(policy.hot_loops), Ordering::Relaxed);
            return 0;
        }
        *self.osr_entries.entry(func).or_default() += 1;
        // Reported once per instance and header: a function called in a
        // loop enters the version at every call.
        if events::osr_enabled() && self.osr_reported.insert((func, header)) {
            events::osr_entered(&code, func, header, self.id);
        }
        let entries = lock(&code.records).funcs.get_mut(func).map(|rec| {
            rec.osr_entries += 1;
            rec.osr_entries
        });
        // A second activation entering a loop-header version: the function
        // is called again and again with long loops, so its next calls
        // should start in the whole-function version rather than enter
        // this one (whose code, reached only through its header, keeps
        // more values live: sieve.tj's 14%).
        // Twice as many entries each time that version was evicted, as
        // the call budget backs off.
        let wanted = OSR_ENTRIES_FOR_WHOLE << code.times_evicted(func).min(16);
        if entries.is_some_and(|n| n >= wanted) && entry.tier() != FuncTier::Cranelift {
            self.request_whole(func, WholeReason::OsrEntries);
        }
        addr
    }
}

/// Whether a function called `calls` times when its loop budget ran out
/// runs short activations, under `policy`: at most
/// [`SHORT_ACTIVATION_BACK_EDGES`] back-edges each on average (counting
/// the one budget of `hot_loops`), and calls enough to be half-way to its
/// call threshold, so that a few activations started together, each with
/// a long loop, are not taken for many short ones. One call is never
/// short: that activation is the one looping.
fn short_activations(calls: u64, policy: TieringPolicy) -> bool {
    calls >= 2
        && calls.saturating_mul(2) >= u64::from(policy.hot_calls)
        && calls.saturating_mul(SHORT_ACTIVATION_BACK_EDGES) >= u64::from(policy.hot_loops)
}

/// Activations entering loop-header versions of a function (module-wide)
/// after which its whole-function version is asked for.
const OSR_ENTRIES_FOR_WHOLE: u64 = 2;

/// At most this many back-edges per activation on average, and a hot loop's
/// function gets a whole-function version instead of a loop-header one.
const SHORT_ACTIVATION_BACK_EDGES: u64 = 16;
