//! Loops of a function's code, as every engine sees them: a loop runs from
//! a backward jump's target (its header) to the jump.

use super::Op;

/// The ops of `code` that a backward jump targets: where a loop can be
/// entered from the frame (OSR).
pub fn loop_headers(code: &[Op]) -> Vec<u32> {
    let mut headers: Vec<u32> = loops(code).map(|ops| *ops.start() as u32).collect();
    headers.sort_unstable();
    headers.dedup();
    headers
}

/// The ops of each loop of `code`: from a backward jump's target to the
/// jump.
pub fn loops(code: &[Op]) -> impl Iterator<Item = std::ops::RangeInclusive<usize>> + '_ {
    code.iter().enumerate().filter_map(|(end, op)| {
        let start = usize::from(op.target()?);
        (start <= end).then_some(start..=end)
    })
}
