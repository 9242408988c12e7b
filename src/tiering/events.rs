//! Tier-up events, through the [`tracing`] crate: what the orchestrator
//! decides and the code cache does, as structured events a subscriber
//! (`tierjit --log`, `RUST_LOG`, or an embedder's) can print or collect.
//!
//! | message | target | level | fields |
//! | --- | --- | --- | --- |
//! | `queued` | `tierjit::tiering` | debug | `func`, `reason` (`"calls"` or `"loop header"`), `header`, `calls` (counted so far), `threshold`, `compile` (`"background"` or `"synchronous"`: compiled at once by the thread that found it hot) |
//! | `compiled` | `tierjit::tiering` | debug | `func`, `tier` (`"template"` or `"cranelift"`), `header` (a loop-header version), `micros`, `code_bytes`, `ops` |
//! | `installed` | `tierjit::code` | debug | `func`, `tier`, `header`, `addr` (hex) |
//! | `osr entered` | `tierjit::tiering` | debug | `func`, `header`, `instance` (once per instance and header) |
//! | `refused` | `tierjit::tiering` (budget, error) or `tierjit::code` (cap) | info | `func`, `why` (`"budget"`, `"cap"` or `"error"`), `detail` |
//! | `evicted` | `tierjit::code` | info | `func`, `tier`, `header` |
//! | `cancelled` | `tierjit::tiering` | debug | `func`, `reason`, `header` |
//!
//! Levels: `debug` for the ordinary course of tiering, which a hot program
//! goes through once per function and loop; `info` for what leaves a
//! function slower than the policy asked (a refusal or an eviction), so
//! `tierjit=info` shows only those. `header` is present on loop-header
//! (on-stack replacement) versions and requests only.
//!
//! Cost: each event is one `tracing` macro, off every compiled-code path
//! (hooks run once per budget that trips, installs once per version). With
//! no subscriber, or one whose filter leaves the event out, it is a load of
//! the call site's cached interest and a branch; its fields (the function's
//! name, the elapsed time) are computed only when the event is recorded,
//! and no string is formatted here. A build may also remove them with
//! `tracing`'s static level features (`max_level_*`).
//!
//! The code cache's events are sent under its lock, the others from the
//! thread that compiles (a background compiler's, or the running one): a
//! subscriber records or prints them, and must not call into the engine.

use super::module_code::ModuleCode;
use super::pool::Request;
use crate::runtime::code_info::CodeKind;
use crate::runtime::compile_error::CompileFailure;
use std::fmt;
use std::time::Instant;
use tracing::{Level, debug, info};

/// The target of the orchestrator's events (requests, compiles, OSR
/// entries, budget refusals, cancellations).
pub const TIERING: &str = "tierjit::tiering";

/// The target of the code cache's events (installs, evictions, refusals at
/// the cap).
pub const CODE: &str = "tierjit::code";

/// The name of function `func` of `module` (empty for no such function).
fn name(module: &ModuleCode, func: usize) -> &str {
    module
        .code
        .functions
        .get(func)
        .map_or("", |f| f.name.as_str())
}

/// The tier a version is compiled in, as events name it.
fn tier(kind: CodeKind) -> &'static str {
    match kind {
        CodeKind::Template => "template",
        CodeKind::Cranelift | CodeKind::LoopEntry { .. } => "cranelift",
    }
}

/// The loop header a version is entered at, if it is a loop-header one.
fn header(kind: CodeKind) -> Option<u32> {
    match kind {
        CodeKind::LoopEntry { header: h } => Some(h),
        _ => None,
    }
}

/// A code address, printed in hex.
struct Addr(usize);

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// Why a whole-function version is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum WholeReason {
    /// The call budget ran out.
    Calls,
    /// A loop's budget ran out in a function whose activations are short.
    ShortActivations,
    /// A second activation entered a loop-header version.
    OsrEntries,
}

impl WholeReason {
    fn as_str(self) -> &'static str {
        match self {
            WholeReason::Calls => "calls",
            WholeReason::ShortActivations => "short activations",
            WholeReason::OsrEntries => "osr entries",
        }
    }
}

/// The whole-function version of `func` is wanted, for `reason`: queued
/// for the compiler pool when `background`, else compiled at once by this
/// thread.
pub(super) fn queued_whole(
    module: &ModuleCode,
    func: usize,
    reason: WholeReason,
    background: bool,
) {
    debug!(
        target: TIERING,
        func = name(module, func),
        reason = reason.as_str(),
        calls = module.counted_calls(func),
        threshold = module.options.tiering.map(|p| p.hot_calls),
        compile = compile_mode(background),
        "queued"
    );
}

/// The version of `func` entered at loop header `header` is wanted: queued
/// or compiled at once, as for [`queued_whole`].
pub(super) fn queued_loop(module: &ModuleCode, func: usize, header: u32, background: bool) {
    debug!(
        target: TIERING,
        func = name(module, func),
        reason = "loop header",
        header,
        calls = module.counted_calls(func),
        threshold = module.options.tiering.map(|p| p.hot_loops),
        compile = compile_mode(background),
        "queued"
    );
}

fn compile_mode(background: bool) -> &'static str {
    if background {
        "background"
    } else {
        "synchronous"
    }
}

/// Version `kind` of `func` was compiled, from `start` until now, into
/// `code_bytes` of machine code. (A failed compile has a `refused` event,
/// or its error.)
pub(super) fn compiled(
    module: &ModuleCode,
    func: usize,
    kind: CodeKind,
    start: Instant,
    code_bytes: usize,
) {
    debug!(
        target: TIERING,
        func = name(module, func),
        tier = tier(kind),
        header = header(kind),
        micros = start.elapsed().as_micros() as u64,
        code_bytes,
        ops = module.code.functions.get(func).map_or(0, |f| f.code.len()),
        "compiled"
    );
}

/// Version `kind` of `func` now runs from `addr`.
pub(super) fn installed(module: &ModuleCode, func: usize, kind: CodeKind, addr: usize) {
    debug!(
        target: CODE,
        func = name(module, func),
        tier = tier(kind),
        header = header(kind),
        addr = %Addr(addr),
        "installed"
    );
}

/// Whether `osr entered` events are recorded: the caller keeps the set of
/// headers it reported only then.
pub(super) fn osr_enabled() -> bool {
    tracing::enabled!(target: TIERING, Level::DEBUG)
}

/// An activation of `func` in instance `instance` continued in the
/// Cranelift version entered at `header`.
pub(super) fn osr_entered(module: &ModuleCode, func: usize, header: u32, instance: u64) {
    debug!(
        target: TIERING,
        func = name(module, func),
        header,
        instance,
        "osr entered"
    );
}

/// Cranelift did not take `func` because of `failure`: over the compile
/// budget, at the code cap, or an error; it stays where it runs.
pub(super) fn refused(module: &ModuleCode, func: usize, failure: &CompileFailure) {
    let func = || name(module, func);
    match failure {
        CompileFailure::CodeCap(_) => {
            info!(target: CODE, func = func(), why = "cap", detail = %failure, "refused")
        }
        CompileFailure::OverBudget { .. } => {
            info!(target: TIERING, func = func(), why = "budget", detail = %failure, "refused")
        }
        _ => info!(target: TIERING, func = func(), why = "error", detail = %failure, "refused"),
    }
}

/// Version `kind` of `func` was evicted to make room under the cap.
pub(super) fn evicted(module: &ModuleCode, func: usize, kind: CodeKind) {
    info!(
        target: CODE,
        func = name(module, func),
        tier = tier(kind),
        header = header(kind),
        "evicted"
    );
}

/// A queued `request` was dropped: its module's last instance went.
pub(super) fn cancelled(module: &ModuleCode, request: Request) {
    let (func, reason, header) = match request {
        Request::Function(f) => (f, "calls", None),
        Request::Loop(f, h) => (f, "loop header", Some(h)),
    };
    debug!(
        target: TIERING,
        func = name(module, func),
        reason,
        header,
        "cancelled"
    );
}
