//! Large frames (issue 20): the reproducers in `big_frames/`, on every
//! engine, against the interpreter. Under Cranelift they once compiled for
//! minutes (a Variable and a store per register of the frame) and under
//! the template tier ran slower than the interpreter (a frame cleared one
//! slot a round).

use crate::differential::check_with;
use tierjit::bytecode::text::parse;
use tierjit::{TrapKind, Value};

fn module(src: &str) -> tierjit::bytecode::Module {
    parse(src).unwrap_or_else(|e| panic!("does not parse: {e}"))
}

#[test]
fn a_recursion_over_65535_registers_per_bank_overflows_alike() {
    let m = module(include_str!("big_frames/recursion_65535.tj"));
    // 16 frames of 65,535 registers per bank, then a stack overflow.
    let out = check_with(&m, "main", &[Value::I(0)], |c| {
        c.stack_slots(1 << 20, 1 << 20, 1 << 20);
    });
    assert_eq!(out.trap(), (TrapKind::StackOverflow, "rec", 8));
}

#[test]
fn tak_over_32768_registers_computes_alike() {
    let m = module(include_str!("big_frames/tak_32767.tj"));
    let out = check_with(&m, "main", &[Value::I(12), Value::I(8), Value::I(4)], |c| {
        c.stack_slots(1 << 20, 1 << 10, 1 << 10);
    });
    assert_eq!(out.int(), 5);
}

#[test]
fn untouched_reference_slots_hold_no_stale_reference() {
    let m = module(include_str!("big_frames/stale_references.tj"));
    // Two arrays of 100,000 slots do not fit the heap; one does.
    let n = Value::I(100_000);
    let out = check_with(&m, "main", &[n, n], |c| {
        c.heap_limit(1_200_000);
    });
    assert_eq!(out.int(), 100_000);
}

#[test]
fn many_allocations_into_many_registers_compute_alike() {
    let m = module(include_str!("big_frames/many_allocations.tj"));
    let out = check_with(&m, "main", &[Value::I(3)], |_| {});
    assert_eq!(out.int(), 1200);
}
