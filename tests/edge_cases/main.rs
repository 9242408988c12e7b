//! Per-op edge cases, run through every engine by the differential harness
//! and checked against the semantics of the design contract. One module per
//! subject; the edge values shared by several live here.

#[path = "../differential/mod.rs"]
mod differential;

mod alu_ops;
mod arrays;
mod big_frames;
mod bytes;
mod calls_and_limits;
mod float_ops;
mod functions;
mod globals_and_switch;
mod int_ops;
mod output;
mod packed_arrays;
mod structs;
mod user_traps;

const EDGE_INTS: &[i64] = &[
    0,
    1,
    -1,
    2,
    -2,
    7,
    -7,
    63,
    64,
    65,
    127,
    -128,
    32767,
    -32768,
    i32::MAX as i64,
    i32::MIN as i64,
    i64::MAX,
    i64::MIN,
    i64::MAX - 1,
    i64::MIN + 1,
    0x5555_5555_5555_5555,
    -0x1234_5678_9abc,
];
