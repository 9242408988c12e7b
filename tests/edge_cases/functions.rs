//! Functions as values: `fref`, `closure`, indirect calls (`calli`) and
//! tail calls (`tcall`, `tcalli`): their traps (a null reference, a
//! reference of another type or kind, deep recursion through references),
//! closures' environments and the collector, and tail calls in constant
//! space, alike on every engine (under `auto` also across tiers).

use crate::differential::{check, check_with};
use tierjit::{TrapKind, Value};

/// `apply(f, x)` calls the unary function reference `f`; `main(sel, x)`
/// picks what it passes: 0 a plain reference, 1 a closure adding its
/// environment's first element, 2 null, 3 an array, 4 a reference of
/// another type, 5 a closure whose function traps.
const APPLY: &str = "
type unary = (i) -> i
type binary = (i, i) -> i

func double(i) -> i
    add i0, i0, i0
    reti i0
end

func add_env(i, r) -> i
    iconst i1, 0
    geti i2, r0, i1
    add i0, i0, i2
    reti i0
end

func sum2(i, i) -> i
    add i0, i0, i1
    reti i0
end

func fails(i, r) -> i
    addi i0, i0, 100
    trap i0
end

func apply(r, i) -> i
    mov i1, i0
    calli unary, r0, 1
    reti i1
end

func main(i, i) -> i
    jeqi i0, 0, plain
    jeqi i0, 1, closure
    jeqi i0, 2, null
    jeqi i0, 3, array
    jeqi i0, 4, other
    iconst i5, 1
    newi r2, i5
    closure r1, fails, r2
    jmp go
plain:
    fref r1, double
    jmp go
closure:
    iconst i5, 1
    newi r2, i5
    iconst i6, 40
    iconst i7, 0
    seti r2, i7, i6
    closure r1, add_env, r2
    jmp go
null:
    rnull r1
    jmp go
array:
    iconst i5, 3
    newr r1, i5
    jmp go
other:
    fref r1, sum2
go:
    rmov r10, r1
    mov i10, i1
    call i2, apply, 10
    reti i2
end
";

#[test]
fn indirect_calls_reach_references_and_closures() {
    assert_eq!(check(APPLY, "main", &[Value::I(0), Value::I(21)]).int(), 42);
    assert_eq!(check(APPLY, "main", &[Value::I(1), Value::I(2)]).int(), 42);
}

#[test]
fn indirect_calls_trap_on_null_and_on_references_of_another_type() {
    let at_calli = |sel: i64, kind: TrapKind| {
        let out = check(APPLY, "main", &[Value::I(sel), Value::I(1)]);
        assert_eq!(out.trap(), (kind, "apply", 1), "selector {sel}");
    };
    at_calli(2, TrapKind::NullReference);
    at_calli(3, TrapKind::SignatureMismatch);
    at_calli(4, TrapKind::SignatureMismatch);
    // A trap inside the callee names the callee.
    let out = check(APPLY, "main", &[Value::I(5), Value::I(1)]);
    assert_eq!(out.trap(), (TrapKind::User, "fails", 1));
    assert_eq!(out.trap.as_ref().and_then(|t| t.user_code), Some(101));
}

#[test]
fn function_references_are_values_not_arrays() {
    // `len` of a function reference is 0; element ops trap on its kind;
    // two `fref`s of one function are the same reference.
    let src = "
func f() -> none
    ret
end

func main() -> i
    fref r0, f
    fref r1, f
    len i0, r0
    iconst i1, 0
    newr r2, i1
    iconst i1, 1
    newr r2, i1
    iconst i1, 0
    setr r2, i1, r0
    getr r3, r2, i1
    geti i2, r3, i1
    reti i0
end";
    assert_eq!(
        check(src, "main", &[]).trap(),
        (TrapKind::ElementKind, "main", 10)
    );
}

/// Even/odd by mutual tail recursion, direct (`tcall`) or through
/// references (`tcalli`), and a tail-recursive sum: constant depth, so far
/// past the call-depth limit.
const TAIL: &str = "
type step = (i, r) -> i

func even(i) -> i
    jeqi i0, 0, yes
    subi i0, i0, 1
    tcall odd, 0
yes:
    iconst i0, 1
    reti i0
end

func odd(i) -> i
    jeqi i0, 0, no
    subi i0, i0, 1
    tcall even, 0
no:
    iconst i0, 0
    reti i0
end

; the other one's reference travels with the argument
func even_r(i, r) -> i
    jeqi i0, 0, yes
    subi i0, i0, 1
    rmov r1, r0
    fref r0, even_r
    tcalli step, r1, 0
yes:
    iconst i0, 1
    reti i0
end

func odd_r(i, r) -> i
    jeqi i0, 0, no
    subi i0, i0, 1
    rmov r1, r0
    fref r0, odd_r
    tcalli step, r1, 0
no:
    iconst i0, 0
    reti i0
end

func sum(i, i) -> i
    jeqi i0, 0, out
    add i1, i1, i0
    subi i0, i0, 1
    tcall sum, 0
out:
    reti i1
end

func main(i) -> i
    mov i5, i0
    call i1, even, 5
    fref r5, odd_r
    call i2, even_r, 5
    iconst i6, 0
    call i3, sum, 5
    muli i1, i1, 10
    add i1, i1, i2
    muli i1, i1, 10
    xor i1, i1, i3
    reti i1
end
";

#[test]
fn tail_calls_run_in_constant_space() {
    // 10,000,000 tail calls deep, past the call-depth limit (200,000) and a
    // small native stack; every engine, also across tiers.
    // main(n) = ((even(n) * 10 + even_r(n)) * 10) ^ sum(n).
    let want = |n: i64| {
        let even = i64::from(n % 2 == 0);
        ((even * 10 + even) * 10) ^ (n * (n + 1) / 2)
    };
    for n in [10_000_000, 10_000_001] {
        assert_eq!(check(TAIL, "main", &[Value::I(n)]).int(), want(n), "{n}");
    }
}

#[test]
fn tail_calls_reuse_the_frame_with_overlapping_windows() {
    // The window overlaps the parameters it replaces: `rot(a, b, c, n)`
    // tail-calls `rot(b, c, a, n - 1)` from window 1.
    let src = "
func rot(i, i, i, i) -> i
    jeqi i3, 0, done
    subi i4, i3, 1
    mov i3, i0
    tcall rot, 1
done:
    muli i0, i0, 100
    muli i1, i1, 10
    add i0, i0, i1
    add i0, i0, i2
    reti i0
end";
    let out = check(
        src,
        "rot",
        &[Value::I(1), Value::I(2), Value::I(3), Value::I(4)],
    );
    assert_eq!(out.int(), 231);
}

#[test]
fn tail_calls_check_the_callee_frame_and_poll() {
    // The callee's frame, at the caller's bases, must fit the stacks.
    let src = "
func big() -> i regs i=5000
    iconst i4999, 7
    reti i4999
end

func small() -> i
    tcall big, 0
end

func main() -> i
    call i0, small, 0
    reti i0
end";
    let module = tierjit::bytecode::text::parse(src).unwrap();
    let out = check_with(&module, "main", &[], |c| {
        c.stack_slots(4000, 100, 100);
    });
    assert_eq!(out.trap(), (TrapKind::StackOverflow, "small", 0));
    let out = check_with(&module, "main", &[], |c| {
        c.stack_slots(6000, 100, 100);
    });
    assert_eq!(out.int(), 7);
}

#[test]
fn deep_recursion_through_references_is_a_trap() {
    let src = "
type t = (i, r) -> i
func down(i, r) -> i
    jeqi i0, 0, done
    subi i1, i0, 1
    rmov r1, r0
    calli t, r0, 1
    addi i0, i1, 1
    reti i0
done:
    reti i0
end

func main(i) -> i
    fref r1, down
    mov i1, i0
    call i0, down, 1
    reti i0
end";
    let module = tierjit::bytecode::text::parse(src).unwrap();
    let big = |c: &mut tierjit::Config| {
        c.stack_slots(1 << 20, 1 << 10, 1 << 20);
    };
    let out = check_with(&module, "main", &[Value::I(1_000_000)], big);
    assert_eq!(out.trap(), (TrapKind::StackOverflow, "down", 3));
    assert_eq!(
        check_with(&module, "main", &[Value::I(1000)], big).int(),
        1000
    );
}

#[test]
fn closures_survive_collections() {
    // 2,000 counters, each a closure over its own one-element array, made
    // while garbage arrays force collections; each is then called `k`
    // times through a ref array that holds them.
    let src = "
type tick = () -> i

func count(r) -> i
    iconst i0, 0
    geti i1, r0, i0
    addi i1, i1, 1
    seti r0, i0, i1
    reti i1
end

func main() -> i
    iconst i0, 2000
    newr r0, i0
    iconst i1, 0
make:
    iconst i2, 1
    newi r1, i2
    closure r2, count, r1
    setr r0, i1, r2
    iconst i3, 4000
    newf r3, i3
    addi i1, i1, 1
    jlt i1, i0, make
    iconst i1, 0
    iconst i4, 0
calls:
    getr r2, r0, i1
    andi i5, i1, 7
call_more:
    calli tick, r2, 6
    add i4, i4, i6
    subi i5, i5, 1
    jgei i5, 0, call_more
    addi i1, i1, 1
    jlt i1, i0, calls
    reti i4
end";
    // Counter j is called (j & 7) + 1 times: it returns 1..=(j&7)+1.
    let want: i64 = (0..2000i64)
        .map(|j| {
            let n = (j & 7) + 1;
            n * (n + 1) / 2
        })
        .sum();
    assert_eq!(check(src, "main", &[]).int(), want);
}

/// Recursion through a reference whose possible callees are all small:
/// the Cranelift tier calls them from a jump table, inlined, and the
/// inlined callee's own call recurses; the depth trap and the results are
/// the interpreter's.
#[test]
fn deep_recursion_through_switched_references_is_a_trap() {
    let src = "
type t = (i, r) -> i
func down(i, r) -> i
    jeqi i0, 0, done
    mov i1, i0
    rmov r1, r0
    calli t, r0, 1
    addi i0, i1, 1
    reti i0
done:
    reti i0
end

func step(i, r) -> i
    subi i0, i0, 1
    call i0, down, 0
    reti i0
end

func triple(i, r) -> i
    muli i0, i0, 3
    reti i0
end

func main(i, i) -> i
    jeqi i1, 0, s
    fref r0, triple
    jmp go
s:
    fref r0, step
go:
    call i0, down, 0
    reti i0
end";
    let module = tierjit::bytecode::text::parse(src).unwrap();
    let big = |c: &mut tierjit::Config| {
        c.stack_slots(1 << 20, 1 << 10, 1 << 20);
    };
    let run = |n: i64, sel: i64| check_with(&module, "main", &[Value::I(n), Value::I(sel)], big);
    assert_eq!(run(1000, 0).int(), 1000);
    assert_eq!(run(5, 1).int(), 16);
    let out = run(1_000_000, 0);
    assert_eq!(out.trap(), (TrapKind::StackOverflow, "down", 3));
}

#[test]
fn a_call_site_that_saw_one_callee_still_calls_others() {
    // Under `auto`, template code records that the site called `inc` only;
    // the Cranelift version (here a loop-header version) calls `inc`
    // behind a guard, inlined. Then the site gets `dbl`, a closure of
    // another function, a null reference and an array: the guard fails and
    // the general path calls or traps as everywhere.
    let src = "
type unary = (i) -> i
func inc(i) -> i
    addi i0, i0, 1
    reti i0
end
func dbl(i, r) -> i
    add i0, i0, i0
    reti i0
end
func main(i, i) -> i
    fref r1, inc
    iconst i2, 0
    iconst i3, 0
loop:
    jne i2, i0, same
    jeqi i1, 0, other
    jeqi i1, 1, null
    iconst i4, 1
    newi r1, i4
    jmp same
null:
    rnull r1
    jmp same
other:
    closure r1, dbl, r1
same:
    mov i10, i3
    calli unary, r1, 10
    mov i3, i10
    addi i2, i2, 1
    jlti i2, 50, loop
    reti i3
end";
    // 20 increments, then 30 doublings (wrapping).
    let want = (0..30).fold(20i64, |x, _| x.wrapping_add(x));
    assert_eq!(check(src, "main", &[Value::I(20), Value::I(0)]).int(), want);
    let out = check(src, "main", &[Value::I(20), Value::I(1)]);
    assert_eq!(out.trap(), (TrapKind::NullReference, "main", 13));
    let out = check(src, "main", &[Value::I(20), Value::I(2)]);
    assert_eq!(out.trap(), (TrapKind::SignatureMismatch, "main", 13));
}

/// A closure called where its type's window ends at the caller's last
/// registers: its environment is not read from the window (the Cranelift
/// tier, which knows the callee, once read one register past the frame).
#[test]
fn a_closure_call_whose_window_ends_the_frame() {
    let src = "
type unit = () -> i
func main() -> i regs i=2 f=2 r=2
    iconst i0, 7
    newi r1, i0
    closure r0, body, r1
    calli unit, r0, 2
    reti i2
end
func body(r) -> i
    len i0, r0
    reti i0
end";
    // The result goes to register 2 of the result bank: `i` needs three.
    let src = src.replace("regs i=2 f=2 r=2", "regs i=3 f=2 r=2");
    assert_eq!(check(&src, "main", &[]).int(), 7);
}
