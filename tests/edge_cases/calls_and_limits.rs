//! Calls and their limits: deep recursion, early exits, inlined leaves
//! and callers, every call-depth and register-stack limit, the instance
//! after a trap, and fresh frames' registers.

use crate::differential::{self, check, check_module, check_with};
use tierjit::{TrapKind, Value};

const RECURSE: &str = "
func down(i) -> i
    jeqi i0, 0, done
    subi i1, i0, 1
    call i1, down, 1
    addi i0, i1, 1
    reti i0
done:
    reti i0
end";

#[test]
fn deep_recursion_is_a_trap_not_a_crash() {
    let module = tierjit::bytecode::text::parse(RECURSE).unwrap();
    // The default depth limit (200,000) with stacks big enough to reach it.
    let big_stacks = |c: &mut tierjit::Config| {
        c.stack_slots(1 << 20, 1 << 10, 1 << 10);
    };
    let out = check_with(&module, "down", &[Value::I(1_000_000)], big_stacks);
    assert_eq!(out.trap(), (TrapKind::StackOverflow, "down", 2));
    // Within the limit it works.
    assert_eq!(
        check_with(&module, "down", &[Value::I(100_000)], big_stacks).int(),
        100_000
    );
    // A small register stack overflows before the depth limit.
    let out = check_with(&module, "down", &[Value::I(1000)], |c| {
        c.stack_slots(100, 100, 100);
    });
    assert_eq!(out.trap(), (TrapKind::StackOverflow, "down", 2));
    let out = check_with(&module, "down", &[Value::I(1000)], |c| {
        c.max_call_depth(50);
    });
    assert_eq!(out.trap(), (TrapKind::StackOverflow, "down", 2));
}

/// Functions that return at once when a test of their arguments holds:
/// the Cranelift tier runs that test at a call it does not inline and
/// calls only when the function would not return at once.
const EARLY_EXITS: &str = "
; halves(n, x): 0.0 for n <= 0 (an uninitialised register), else
; x + halves(n - 1, x / 2)
func halves(i, f) -> f
    jgti i0, 0, work
    retf f1
work:
    subi i0, i0, 1
    fconst f2, 0.5
    fmul f3, f0, f2
    fmov f1, f0
    fmov f0, f3
    call f4, halves, 0
    fadd f1, f1, f4
    retf f1
end
; steps(a, b): 0 when a >= b, else 1 + steps(a + 1, b)
func steps(i, i) -> i
    jge  i0, i1, same
    addi i0, i0, 1
    call i0, steps, 0
    addi i0, i0, 1
    reti i0
same:
    reti i2
end
; zeros(n): n for n == 0, else zeros(n - 1), computed twice
func zeros(i) -> i
    jz   i0, done
    subi i1, i0, 1
    call i2, zeros, 1
    subi i1, i0, 1
    call i1, zeros, 1
    reti i1
done:
    reti i0
end
func main(i) -> i
    mov  i1, i0
    i2f  f1, i0
    call f1, halves, 1
    f2i  i2, f1
    iconst i3, 0
    mov  i4, i0
    call i3, steps, 3
    mov  i4, i0
    call i4, zeros, 4
    muli i2, i2, 1000
    add  i2, i2, i3
    add  i2, i2, i4
    reti i2
end
";

#[test]
fn early_exits_check_the_frame_like_real_calls() {
    let module = tierjit::bytecode::text::parse(EARLY_EXITS).unwrap();
    for n in [0i64, 1, 2, 9] {
        let halves: f64 = (0..n).map(|k| n as f64 / f64::powi(2.0, k as i32)).sum();
        let want = (halves as i64) * 1000 + n;
        assert_eq!(
            check_module(&module, "main", &[Value::I(n)]).int(),
            want,
            "main({n})"
        );
    }
    // At every depth limit and register-stack size around what recursion
    // to 0 needs, the call that returns at once traps like a real one.
    for n in [3i64, 7] {
        for depth in 1..(n as u32 + 4) {
            check_with(&module, "main", &[Value::I(n)], |c| {
                c.max_call_depth(depth);
            });
            let recurse = tierjit::bytecode::text::parse(RECURSE).unwrap();
            check_with(&recurse, "down", &[Value::I(n)], |c| {
                c.max_call_depth(depth);
            });
        }
        for slots in 2..(3 * n as usize + 8) {
            check_with(&module, "main", &[Value::I(n)], |c| {
                c.stack_slots(slots, 64, 64);
            });
            check_with(&module, "main", &[Value::I(n)], |c| {
                c.stack_slots(64, slots, 64);
            });
        }
    }
}

/// Small leaves the Cranelift tier inlines: traps inside them name the
/// callee and its op; the call-site checks still trap at the call.
const LEAVES: &str = "
func quot(i, i) -> i
    div  i0, i0, i1
    reti i0
end

func sum_down(i) -> i
    iconst i1, 0
top:
    jlei i0, 0, done
    add  i1, i1, i0
    subi i0, i0, 1
    jmp  top
done:
    reti i1
end

func elem(r, i) -> f
    getf f0, r0, i0
    retf f0
end

; main(a, b, k): a / b + (a + ... + 1) + (f64 array of 3 with [1] = 2.5)[k]
func main(i, i, i) -> i
    mov  i4, i0
    mov  i5, i1
    call i4, quot, 4
    mov  i5, i0
    call i5, sum_down, 5
    add  i4, i4, i5
    iconst i6, 3
    newf r6, i6
    iconst i7, 1
    fconst f0, 2.5
    setf r6, i7, f0
    mov  i6, i2
    call f6, elem, 6
    f2i  i7, f6
    add  i4, i4, i7
    reti i4
end
";

#[test]
fn inlined_leaves_trap_like_real_calls() {
    let module = tierjit::bytecode::text::parse(LEAVES).unwrap();
    let args = |a: i64, b: i64, k: i64| [Value::I(a), Value::I(b), Value::I(k)];
    let run = |a, b, k| differential::check_module(&module, "main", &args(a, b, k));
    assert_eq!(run(7, 2, 1).int(), 3 + 28 + 2);
    assert_eq!(run(-7, 2, 0).int(), -3);
    assert_eq!(run(7, 0, 1).trap(), (TrapKind::DivisionByZero, "quot", 0));
    assert_eq!(
        run(i64::MIN, -1, 1).trap(),
        (TrapKind::IntegerOverflow, "quot", 0)
    );
    assert_eq!(run(7, 2, 3).trap(), (TrapKind::IndexOutOfBounds, "elem", 0));
    assert_eq!(
        run(7, 2, -1).trap(),
        (TrapKind::IndexOutOfBounds, "elem", 0)
    );
    // The engine's entry is depth 1: no call fits under a limit of 1.
    let out = check_with(&module, "main", &args(7, 2, 1), |c| {
        c.max_call_depth(1);
    });
    assert_eq!(out.trap(), (TrapKind::StackOverflow, "main", 2));
    // main's 8 i64 registers fit, quot's 2 more do not.
    let out = check_with(&module, "main", &args(7, 2, 1), |c| {
        c.stack_slots(9, 16, 16);
    });
    assert_eq!(out.trap(), (TrapKind::StackOverflow, "main", 2));
}

/// Recursion through every bank, unrolled by the Cranelift tier's nested
/// inlining: whichever limit binds (call depth, or one of the three
/// register stacks), every engine traps at the same call, whether that call
/// is a real one or one inlined a few levels down. The recursion cycles
/// through five functions, so the trap's function tells the depth.
const DOWN: &str = "
func d0(i, f, r) -> i          ; recurse i0 deep through d0, d1, ...
    jlei i0, 0, done
    subi i1, i0, 1
    fmov f1, f0
    rmov r1, r0
    call i1, d1, 1
    reti i1
done:
    reti i0
end

func d1(i, f, r) -> i          ; recurse i0 deep through d1, d2, ...
    jlei i0, 0, done
    subi i1, i0, 1
    fmov f1, f0
    rmov r1, r0
    call i1, d2, 1
    reti i1
done:
    reti i0
end

func d2(i, f, r) -> i          ; recurse i0 deep through d2, d3, ...
    jlei i0, 0, done
    subi i1, i0, 1
    fmov f1, f0
    rmov r1, r0
    call i1, d3, 1
    reti i1
done:
    reti i0
end

func d3(i, f, r) -> i          ; recurse i0 deep through d3, d4, ...
    jlei i0, 0, done
    subi i1, i0, 1
    fmov f1, f0
    rmov r1, r0
    call i1, d4, 1
    reti i1
done:
    reti i0
end

func d4(i, f, r) -> i          ; recurse i0 deep through d4, d0, ...
    jlei i0, 0, done
    subi i1, i0, 1
    fmov f1, f0
    rmov r1, r0
    call i1, d0, 1
    reti i1
done:
    reti i0
end

func main(i) -> i
    fconst f0, 1.5
    call i0, d0, 0
    reti i0
end
";

#[test]
fn nested_inlined_calls_trap_at_every_limit_like_real_calls() {
    let module = tierjit::bytecode::text::parse(DOWN).unwrap();
    let n = 40;
    let name = |k: usize| format!("d{}", k % 5);
    // main is depth 1; the call past depth `limit` is made at depth
    // `limit`, by d(limit - 2).
    for limit in 2..14usize {
        let out = check_with(&module, "main", &[Value::I(n)], |c| {
            c.max_call_depth(limit as u32);
        });
        let (kind, func, pc) = out.trap();
        assert_eq!(
            (kind, func, pc),
            (TrapKind::StackOverflow, &*name(limit - 2), 4),
            "depth {limit}"
        );
    }
    // main has 1 slot per bank (its call reads i0, f0 and r0); the frame
    // of the k-th call down (k = 0 for d0) ends 2 (k + 1) slots above, so
    // the first that does not fit is k = (slots - 1) / 2, called by
    // d(k - 1).
    for slots in 3..20usize {
        for bank in 0..3 {
            let mut stacks = [1024usize; 3];
            stacks[bank] = slots;
            let out = check_with(&module, "main", &[Value::I(n)], |c| {
                c.stack_slots(stacks[0], stacks[1], stacks[2]);
            });
            let (kind, func, pc) = out.trap();
            assert_eq!(
                (kind, func, pc),
                (TrapKind::StackOverflow, &*name((slots - 1) / 2 + 4), 4),
                "bank {bank}, {slots} slots"
            );
        }
    }
    let out = check_with(&module, "main", &[Value::I(n)], |c| {
        c.max_call_depth(n as u32 + 2);
    });
    assert_eq!(out.int(), 0);
}

/// `wrap` is small enough for the Cranelift tier to inline, and calls
/// `fresh`, which allocates: its calls stay real calls, made from a frame
/// that exists only in memory. Main's `r1` (in no frame slot until the
/// inlined body starts) and the array `wrap` holds across its second call
/// must survive the collections those calls trigger.
const INLINED_CALLERS: &str = "
func fresh(i) -> r
    newi r0, i0
    retr r0
end

func wrap(r, i) -> i            ; r0 = main's array, i0 = a length
    call r1, fresh, 0
    iconst i4, 42
    seti r1, i5, i4             ; r1[0] = 42 (i5 is 0)
    call r2, fresh, 0
    geti i1, r1, i5
    len i2, r2
    geti i3, r0, i5
    add i0, i1, i2
    add i0, i0, i3
    reti i0
end

func main(i, i) -> i            ; i0 = rounds, i1 = length
    call r1, fresh, 1
    call r2, fresh, 1
    rmov r3, r1                 ; swap r1 and r2: no slot holds r1's new
    rmov r1, r2                 ; array in the Cranelift tier (the calls
    rmov r2, r3                 ; wrote the slots before the swap)
    rnull r3
    iconst i4, 7
    seti r1, i3, i4             ; r1[0] = 7 (i3 is 0)
    seti r2, i3, i4             ; r2[0] = 7
    mov i2, i1
loop:
    call i4, wrap, 2            ; wrap(r2, i2): r1 must survive its calls
    add i5, i5, i4
    geti i6, r1, i3
    add i5, i5, i6
    subi i0, i0, 1
    jgti i0, 0, loop
    reti i5
end
";

#[test]
fn inlined_callees_call_collect_and_recurse_like_real_calls() {
    let module = tierjit::bytecode::text::parse(INLINED_CALLERS).unwrap();
    let out = check_with(&module, "main", &[Value::I(2000), Value::I(100)], |c| {
        c.heap_limit(64 << 10);
    });
    assert_eq!(out.int(), 2000 * (42 + 100 + 7 + 7));
    // Recursion unrolled once by inlining meets the depth limit at the same
    // call as real recursion, whatever the limit.
    let module = tierjit::bytecode::text::parse(RECURSE).unwrap();
    for limit in 1..=7 {
        let out = check_with(&module, "down", &[Value::I(5)], |c| {
            c.max_call_depth(limit);
        });
        if limit > 5 {
            assert_eq!(out.int(), 5);
        } else {
            assert_eq!(out.trap(), (TrapKind::StackOverflow, "down", 2));
        }
    }
}

#[test]
fn instance_is_usable_after_a_trap() {
    let engine = tierjit::Engine::new(tierjit::Config::new()).unwrap();
    let module = tierjit::Module::new(&engine, RECURSE).unwrap();
    let mut inst = tierjit::Instance::new(&module).unwrap();
    for _ in 0..3 {
        assert!(matches!(
            inst.call("down", &[Value::I(1 << 40)]),
            Err(tierjit::Error::Trap(_))
        ));
        assert_eq!(
            inst.call("down", &[Value::I(100)]).unwrap(),
            Some(Value::I(100))
        );
    }
}

#[test]
fn uninitialised_registers_start_at_zero() {
    let src = "func t() -> f\n i2f f1, i5\n fadd f0, f1, f3\n retf f0\nend\n\
               func u() -> i\n iconst i9, 99\n call f0, t, 0\n f2i i0, f0\n reti i9\nend";
    assert_eq!(check(src, "t", &[]).float().to_bits(), 0.0f64.to_bits());
    assert_eq!(check(src, "u", &[]).int(), 99);
}
