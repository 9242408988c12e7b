//! When functions move up: the thresholds and the budgets compiled code
//! counts down.

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
