//! Arrays: bounds, null, element kind and length checks, the order of
//! their traps, checks repeated after a change, and the heap limit.

use crate::differential::{check, check_module, check_with};
use tierjit::{TrapKind, Value};

const ARRAYS: &str = "
func geti(i, i) -> i          ; new i64 array of length i0, read element i1
    newi r0, i0
    geti i0, r0, i1
    reti i0
end
func setget(i, i) -> i        ; store 7 at index i1 of a length-i0 array
    newi r0, i0
    iconst i2, 7
    seti r0, i1, i2
    geti i0, r0, i1
    reti i0
end
func null() -> i
    len i0, r0
    reti i0
end
func kind() -> f
    iconst i0, 3
    newi r0, i0
    getf f0, r0, i1
    retf f0
end
func refs(i) -> i             ; an array of arrays
    newr r0, i0
    newf r1, i0
    fconst f0, 2.5
    subi i1, i0, 1
    setf r1, i1, f0
    setr r0, i1, r1
    getr r2, r0, i1
    len i2, r2
    getf f1, r2, i1
    f2i i3, f1
    add i0, i2, i3
    reti i0
end
";

#[test]
fn arrays_check_bounds_null_kind_and_length() {
    assert_eq!(check(ARRAYS, "geti", &[Value::I(3), Value::I(2)]).int(), 0);
    assert_eq!(
        check(ARRAYS, "setget", &[Value::I(3), Value::I(2)]).int(),
        7
    );
    for idx in [3, 4, -1, i64::MIN, i64::MAX] {
        assert_eq!(
            check(ARRAYS, "geti", &[Value::I(3), Value::I(idx)]).trap(),
            (TrapKind::IndexOutOfBounds, "geti", 1)
        );
        assert_eq!(
            check(ARRAYS, "setget", &[Value::I(3), Value::I(idx)]).trap(),
            (TrapKind::IndexOutOfBounds, "setget", 2)
        );
    }
    assert_eq!(
        check(ARRAYS, "geti", &[Value::I(0), Value::I(0)]).trap(),
        (TrapKind::IndexOutOfBounds, "geti", 1)
    );
    assert_eq!(
        check(ARRAYS, "geti", &[Value::I(-1), Value::I(0)]).trap(),
        (TrapKind::NegativeLength, "geti", 0)
    );
    assert_eq!(
        check(ARRAYS, "null", &[]).trap(),
        (TrapKind::NullReference, "null", 0)
    );
    assert_eq!(
        check(ARRAYS, "kind", &[]).trap(),
        (TrapKind::ElementKind, "kind", 2)
    );
    assert_eq!(check(ARRAYS, "refs", &[Value::I(4)]).int(), 6);
    let huge = check(ARRAYS, "geti", &[Value::I(i64::MAX), Value::I(0)]);
    assert_eq!(huge.trap(), (TrapKind::OutOfMemory, "geti", 0));
}

/// Every element access traps in the interpreter's order, null, then the
/// element kind (whatever the index), then bounds, on every engine: the
/// Cranelift tier checks all three with one compare and sorts them out on
/// the cold path.
#[test]
fn element_accesses_trap_null_then_kind_then_bounds() {
    // (access op, the op making an array of its kind, one of another kind)
    let accesses = [
        ("geti i2, r0, i1", "newi", "newf"),
        ("seti r0, i1, i2", "newi", "newr"),
        ("getf f0, r0, i1", "newf", "newi"),
        ("setf r0, i1, f0", "newf", "newr"),
        ("getr r1, r0, i1", "newr", "newf"),
        ("setr r0, i1, r1", "newr", "newi"),
    ];
    for (access, right, wrong) in accesses {
        // access(case, index): case 0 = null, 1 = wrong kind, else the
        // right kind; arrays of length 3.
        let src = format!(
            "func access(i, i) -> i\n    iconst i3, 3\n    jz i0, go\n    \
             jeqi i0, 1, other\n    {right} r0, i3\n    jmp go\n\
             other:\n    {wrong} r0, i3\n\
             go:\n    {access}\n    reti i0\nend\n"
        );
        let at = 6; // the access op
        for idx in [0, 2, 3, -1, i64::MIN, i64::MAX] {
            let run = |case| check(&src, "access", &[Value::I(case), Value::I(idx)]);
            assert_eq!(
                run(0).trap(),
                (TrapKind::NullReference, "access", at),
                "{access} null [{idx}]"
            );
            assert_eq!(
                run(1).trap(),
                (TrapKind::ElementKind, "access", at),
                "{access} {wrong} [{idx}]"
            );
            if (0..3).contains(&idx) {
                assert_eq!(run(2).int(), 2, "{access} [{idx}]");
            } else {
                assert_eq!(
                    run(2).trap(),
                    (TrapKind::IndexOutOfBounds, "access", at),
                    "{access} [{idx}]"
                );
            }
        }
    }
}

/// The Cranelift tier checks an f64 or reference access once per straight
/// run of ops, until its array or index register is written: an inlined
/// callee's registers are its own, and writes between the accesses make
/// them check again.
const RECHECKS: &str = "
func peek(r, i) -> f
    getf f0, r0, i0
    retf f0
end
; recheck(k, n, m, p): a = f64[n], b = f64[m], c = f64[p]; a[k] = 1.5;
; a[k] + b[k] (b's read by an inlined callee, in its r0 and i0) stored back
; to a[k]; plus c[k] (read through r0), plus a[k] again, plus a[k + 1]
func recheck(i, i, i, i) -> f
    newf r0, i1
    newf r1, i2
    newf r3, i3
    fconst f3, 1.5
    setf r0, i0, f3
    getf f0, r0, i0
    rmov r5, r1
    mov  i5, i0
    call f1, peek, 5
    fadd f0, f0, f1
    setf r0, i0, f0
    rmov r2, r0
    rmov r0, r3
    getf f1, r0, i0
    fadd f0, f0, f1
    rmov r0, r2
    getf f1, r0, i0
    fadd f0, f0, f1
    addi i0, i0, 1
    getf f2, r0, i0
    fadd f0, f0, f2
    retf f0
end
; merge(k, n, flag): a = f64[n]; a[k] read only when flag is set, then
; at a jump target (where it must be checked again) in any case
func merge(i, i, i) -> f
    newf r0, i1
    jz   i2, skip
    getf f0, r0, i0
skip:
    getf f1, r0, i0
    retf f1
end
";

#[test]
fn repeated_accesses_check_again_after_any_change() {
    let module = tierjit::bytecode::text::parse(RECHECKS).unwrap();
    let run = |k: i64, n: i64, m: i64, p: i64| {
        let args = [Value::I(k), Value::I(n), Value::I(m), Value::I(p)];
        check_module(&module, "recheck", &args)
    };
    assert_eq!(run(0, 4, 1, 1).float(), 3.0);
    assert_eq!(
        run(2, 4, 1, 4).trap(),
        (TrapKind::IndexOutOfBounds, "peek", 0)
    );
    assert_eq!(
        run(2, 4, 3, 1).trap(),
        (TrapKind::IndexOutOfBounds, "recheck", 13)
    );
    assert_eq!(
        run(0, 1, 1, 1).trap(),
        (TrapKind::IndexOutOfBounds, "recheck", 19)
    );
    assert_eq!(run(2, 4, 3, 3).float(), 3.0);
    let merge = |k: i64, flag: i64| {
        check_module(
            &module,
            "merge",
            &[Value::I(k), Value::I(3), Value::I(flag)],
        )
    };
    assert_eq!(merge(5, 0).trap(), (TrapKind::IndexOutOfBounds, "merge", 3));
    assert_eq!(merge(5, 1).trap(), (TrapKind::IndexOutOfBounds, "merge", 2));
    assert_eq!(merge(2, 0).float(), 0.0);
}

#[test]
fn heap_limit_traps_and_garbage_is_collected() {
    // 1000 arrays of 100 KB each under a 16 MB limit: only garbage
    // collection lets this finish.
    let src = "
func churn(i) -> i
    iconst i1, 12800
loop:
    newf r0, i1
    subi i0, i0, 1
    jgti i0, 0, loop
    len i0, r0
    reti i0
end";
    let out = check_with(
        &tierjit::bytecode::text::parse(src).unwrap(),
        "churn",
        &[Value::I(1000)],
        |c| {
            c.heap_limit(16 << 20);
        },
    );
    assert_eq!(out.int(), 12800);
    let out = check_with(
        &tierjit::bytecode::text::parse(src).unwrap(),
        "churn",
        &[Value::I(1)],
        |c| {
            c.heap_limit(50_000);
        },
    );
    assert_eq!(out.trap(), (TrapKind::OutOfMemory, "churn", 1));
}
