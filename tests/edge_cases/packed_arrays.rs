//! Byte-packed i64 arrays: widening on every engine and across tiers,
//! the Cranelift tier's packed-loop copies, fills and selects, and widening
//! through another reference.

use crate::differential::{self, check};
use tierjit::{TrapKind, Value};

/// i64 arrays start byte-packed and widen at the first store of a value
/// outside 0..=255 (see `runtime::heap`): in every engine, in mid-loop,
/// across tiers (the functions of `staged` alternate Cranelift and template
/// in the mixed run), and at one `geti` that reads both forms in turn.
const PACKED: &str = "
func store_one(i, i, i) -> i    ; n, at, v: a[k] = k % 256, a[at] = v, sum a[k] * (k + 1)
    newi r0, i0
    iconst i3, 0
    jlei i0, 0, stored
fill:
    andi i4, i3, 255
    seti r0, i3, i4
    addi i3, i3, 1
    jlt  i3, i0, fill
stored:
    seti r0, i1, i2
    iconst i3, 0
    iconst i5, 0
sum:
    geti i4, r0, i3
    addi i6, i3, 1
    mul  i4, i4, i6
    add  i5, i5, i4
    addi i3, i3, 1
    jlt  i3, i0, sum
    reti i5
end
func ramp(i, i) -> i            ; n, m: a[k] = k * m in one loop, then sum a[k] * (k + 1)
    newi r0, i0
    iconst i2, 0
fill:
    mul  i3, i2, i1
    seti r0, i2, i3
    addi i2, i2, 1
    jlt  i2, i0, fill
    iconst i2, 0
    iconst i4, 0
sum:
    geti i3, r0, i2
    addi i5, i2, 1
    mul  i3, i3, i5
    add  i4, i4, i3
    addi i2, i2, 1
    jlt  i2, i0, sum
    reti i4
end
func both(i) -> i               ; r0 stays packed, r1 widens; one geti reads both
    newi r0, i0
    newi r1, i0
    iconst i1, 0
    iconst i5, 1000
fill:
    andi i2, i1, 255
    seti r0, i1, i2
    add  i3, i1, i5
    seti r1, i1, i3
    addi i1, i1, 1
    jlt  i1, i0, fill
    iconst i1, 0
    iconst i4, 0
read:
    andi i2, i1, 1
    rmov r2, r0
    jz   i2, pick
    rmov r2, r1
pick:
    geti i3, r2, i1
    muli i4, i4, 31
    add  i4, i4, i3
    addi i1, i1, 1
    jlt  i1, i0, read
    reti i4
end
func staged(i, i) -> i          ; n, v: store_one split over four functions
    newi r0, i0
    rmov r2, r0
    mov  i2, i0
    call -, fill, 2
    rmov r2, r0
    iconst i2, 7
    mov  i3, i1
    call -, put, 2
    rmov r2, r0
    mov  i2, i0
    call i0, total, 2
    reti i0
end
func fill(r, i) -> none
    iconst i1, 0
again:
    andi i2, i1, 255
    seti r0, i1, i2
    addi i1, i1, 1
    jlt  i1, i0, again
    ret
end
func put(r, i, i) -> none
    seti r0, i0, i1
    ret
end
func total(r, i) -> i
    iconst i1, 0
    iconst i2, 0
again:
    geti i3, r0, i1
    addi i4, i1, 1
    mul  i3, i3, i4
    add  i2, i2, i3
    addi i1, i1, 1
    jlt  i1, i0, again
    reti i2
end
func bounds_first(i) -> i       ; a store that would widen, out of bounds
    iconst i1, 3
    newi r0, i1
    iconst i2, 1000
    seti r0, i0, i2
    reti i2
end
func wrong_kind() -> i
    iconst i0, 3
    newf r0, i0
    geti i0, r0, i0
    reti i0
end
";

/// The sum of `a[k] * (k + 1)`, wrapping: what the array programs return.
fn weighted(a: &[i64]) -> i64 {
    a.iter().enumerate().fold(0i64, |s, (k, &x)| {
        s.wrapping_add(x.wrapping_mul(k as i64 + 1))
    })
}

#[test]
fn byte_packed_i64_arrays_widen_alike_on_every_engine() {
    let n = 600i64;
    for at in [0, 1, 299, n - 1] {
        for v in [
            0,
            1,
            7,
            127,
            128,
            255,
            256,
            -1,
            -256,
            1 << 40,
            i64::MIN,
            i64::MAX,
        ] {
            let mut a: Vec<i64> = (0..n).map(|k| k & 255).collect();
            a[at as usize] = v;
            let args = [Value::I(n), Value::I(at), Value::I(v)];
            assert_eq!(
                check(PACKED, "store_one", &args).int(),
                weighted(&a),
                "at {at} v {v}"
            );
        }
    }
    for v in [0, 255, 256, -1, i64::MIN] {
        let mut a: Vec<i64> = (0..n).map(|k| k & 255).collect();
        a[7] = v;
        let args = [Value::I(n), Value::I(v)];
        assert_eq!(
            check(PACKED, "staged", &args).int(),
            weighted(&a),
            "staged v {v}"
        );
    }
    // m = 3 widens at k = 86; m = 0 and m = 1 (n <= 256) never do; m = -1
    // widens at k = 1.
    for (len, m) in [(200i64, 3i64), (200, 0), (256, 1), (300, 1), (200, -1)] {
        let a: Vec<i64> = (0..len).map(|k| k * m).collect();
        let args = [Value::I(len), Value::I(m)];
        assert_eq!(
            check(PACKED, "ramp", &args).int(),
            weighted(&a),
            "ramp {len} {m}"
        );
    }
    let want = (0..n).fold(0i64, |s, k| {
        let x = if k % 2 == 0 { k & 255 } else { k + 1000 };
        s.wrapping_mul(31).wrapping_add(x)
    });
    assert_eq!(check(PACKED, "both", &[Value::I(n)]).int(), want);
    for idx in [3, -1, i64::MIN] {
        assert_eq!(
            check(PACKED, "bounds_first", &[Value::I(idx)]).trap(),
            (TrapKind::IndexOutOfBounds, "bounds_first", 3)
        );
    }
    assert_eq!(check(PACKED, "bounds_first", &[Value::I(2)]).int(), 1000);
    assert_eq!(
        check(PACKED, "wrong_kind", &[]).trap(),
        (TrapKind::ElementKind, "wrong_kind", 2)
    );
}

/// Loops that get a copy for byte-packed arrays in the Cranelift tier (see
/// `cranelift_tier::packed_loop`), a fill among them, and branches over
/// one op (a select there).
const PACKED_LOOPS: &str = "
; fill(n, from, to, v): a = new [n] of k % 7, then for (i = from; ; i++)
; { a[i] = v; if (i + 1 > to) break }: the weighted sum of a, plus the
; final i times 1000003
func fill(i, i, i, i) -> i
    newi r0, i0
    iconst i4, 0
    jlei i0, 0, init_done
init:
    remi i5, i4, 7
    seti r0, i4, i5
    addi i4, i4, 1
    jlt  i4, i0, init
init_done:
    mov  i4, i1
store:
    seti r0, i4, i3
    addi i4, i4, 1
    jle  i4, i2, store
    muli i6, i4, 1000
    muli i6, i6, 1000
    add  i6, i6, i4
    add  i6, i6, i4
    add  i6, i6, i4
    iconst i5, 0
    jlei i0, 0, done
sum:
    geti i7, r0, i5
    addi i8, i5, 1
    mul  i7, i7, i8
    add  i6, i6, i7
    addi i5, i5, 1
    jlt  i5, i0, sum
done:
    reti i6
end
; fill_below(n, from, v): a[i] = v for i = from up to 99 (jlti), then the
; sum of a[k] * (k + 1), plus the final i times 1000
func fill_below(i, i, i) -> i
    newi r0, i0
    mov  i3, i1
store:
    seti r0, i3, i2
    addi i3, i3, 1
    jlti i3, 100, store
    muli i6, i3, 1000
    iconst i5, 0
sum:
    geti i7, r0, i5
    addi i8, i5, 1
    mul  i7, i7, i8
    add  i6, i6, i7
    addi i5, i5, 1
    jlt  i5, i0, sum
    reti i6
end
; stride(n, step, v, alias): through r1 (r0's array, or with alias 0 a
; fresh one), a[j] = v for j = 0, step, ... < n, and each time read back
; a[j / 2] through r0 into a sum; v outside 0..=255 widens mid-loop
func stride(i, i, i, i) -> i
    newi r0, i0
    rmov r1, r0
    jnz  i3, same
    newi r1, i0
same:
    iconst i4, 0
    iconst i6, 0
loop:
    seti r1, i4, i2
    divi i5, i4, 2
    geti i5, r0, i5
    add  i6, i6, i5
    muli i6, i6, 3
    add  i4, i4, i1
    jlt  i4, i0, loop
    reti i6
end
; count_zeros(n, m, limit): a[k] = k % m for k < n, then count the zeros
; of a[0..limit] (a trap past n) and add a[k] + 7 where a[k] > 2: branches
; over one op, one of them a loop exit
func count_zeros(i, i, i) -> i
    newi r0, i0
    iconst i3, 0
init:
    rem  i4, i3, i1
    seti r0, i3, i4
    addi i3, i3, 1
    jlt  i3, i0, init
    iconst i3, 0
    iconst i5, 0
    iconst i6, 0
count:
    geti i4, r0, i3
    jnz  i4, nonzero
    addi i5, i5, 1
nonzero:
    jlei i4, 2, small
    add  i6, i6, i4
small:
    jgti i4, 2, big
    addi i6, i6, 7
big:
    addi i3, i3, 1
    jlt  i3, i2, count
    muli i5, i5, 1000
    muli i5, i5, 1000
    add  i5, i5, i6
    reti i5
end
; null_loop(n): a loop over a null array
func null_loop(i) -> i
    iconst i1, 0
loop:
    geti i2, r0, i1
    addi i1, i1, 1
    jlt  i1, i0, loop
    reti i1
end
";

#[test]
fn packed_loop_copies_fills_and_selects_agree_on_every_engine() {
    let n = 300i64;
    for (from, to) in [
        (0, n - 1),
        (5, 200),
        (7, 7),
        (9, 3),
        (n - 1, 0),
        (-1, 5),
        (250, n),
        (0, i64::MAX),
    ] {
        for v in [0, 1, 255, 256, -1, i64::MIN] {
            let args = [Value::I(n), Value::I(from), Value::I(to), Value::I(v)];
            let got = check(PACKED_LOOPS, "fill", &args);
            let last = to.max(from);
            if from < 0 || last >= n {
                assert_eq!(
                    got.trap(),
                    (TrapKind::IndexOutOfBounds, "fill", 8),
                    "{from} {to} {v}"
                );
                continue;
            }
            let mut a: Vec<i64> = (0..n).map(|k| k % 7).collect();
            for k in from..=last {
                a[k as usize] = v;
            }
            let want = weighted(&a).wrapping_add((last + 1) * 1_000_003);
            assert_eq!(got.int(), want, "fill {from} {to} {v}");
        }
    }
    for from in [0, 50, 99, 100, 150, -3] {
        for v in [3, 256] {
            let args = [Value::I(n), Value::I(from), Value::I(v)];
            let got = check(PACKED_LOOPS, "fill_below", &args);
            if from < 0 {
                assert_eq!(got.trap(), (TrapKind::IndexOutOfBounds, "fill_below", 2));
                continue;
            }
            let mut a = vec![0i64; n as usize];
            let last = from.max(99);
            for k in from..=last {
                a[k as usize] = v;
            }
            assert_eq!(
                got.int(),
                weighted(&a) + (last + 1) * 1000,
                "fill_below {from} {v}"
            );
        }
    }
    for step in [1, 3, 64] {
        for v in [0, 9, 255, 256, -7] {
            for alias in [0, 1] {
                let args = [Value::I(n), Value::I(step), Value::I(v), Value::I(alias)];
                let mut a = vec![0i64; n as usize];
                let mut sum = 0i64;
                let mut j = 0;
                while j < n {
                    if alias == 1 {
                        a[j as usize] = v;
                    }
                    sum = sum.wrapping_add(a[(j / 2) as usize]).wrapping_mul(3);
                    j += step;
                }
                let got = check(PACKED_LOOPS, "stride", &args).int();
                assert_eq!(got, sum, "stride {step} {v} {alias}");
            }
        }
    }
    for m in [1, 2, 5, 300, 1000] {
        let a: Vec<i64> = (0..n).map(|k| k % m).collect();
        let zeros = a.iter().filter(|&&x| x == 0).count() as i64;
        let rest: i64 = a.iter().map(|&x| if x > 2 { x } else { 7 }).sum();
        let args = [Value::I(n), Value::I(m), Value::I(n)];
        let got = check(PACKED_LOOPS, "count_zeros", &args).int();
        assert_eq!(got, zeros * 1_000_000 + rest, "count_zeros {m}");
        let args = [Value::I(n), Value::I(m), Value::I(n + 1)];
        assert_eq!(
            check(PACKED_LOOPS, "count_zeros", &args).trap(),
            (TrapKind::IndexOutOfBounds, "count_zeros", 9)
        );
    }
    assert_eq!(
        check(PACKED_LOOPS, "null_loop", &[Value::I(5)]).trap(),
        (TrapKind::NullReference, "null_loop", 1)
    );
}

/// An array widens through one reference while a loop reads it through
/// another: in line, in a real call (the callee allocates, so it is not
/// inlined), or in an inlined callee. Iteration k reads a[k / 2] through
/// r0, then stores k * m at a[k] through r8 (the same array, or with `split`
/// another one), so the store of the first k * m outside 0..=255 widens
/// whichever array r8 holds, and the reads after it must see the 8-byte
/// form.
const WIDEN_ELSEWHERE: &str = "
func put(r, i, i) -> none       ; a[k] = v, then a fresh array (a real call)
    seti r0, i0, i1
    iconst i2, 1
    newi r1, i2
    ret
end
func put_inline(r, i, i) -> none ; a[k] = v (inlined)
    seti r0, i0, i1
    ret
end
; main(n, m, how, split): how 0 = in line, 1 = real call, 2 = inlined call;
; the sum of a[k / 2] * (k + 1) as read before each store, plus the sum of
; the array read through r0 at the end
func main(i, i, i, i) -> i
    newi r0, i0
    rmov r8, r0
    jz   i3, same
    newi r8, i0
same:
    iconst i4, 0                ; k
    iconst i5, 0                ; the sum
loop:
    divi i10, i4, 2
    geti i6, r0, i10
    addi i7, i4, 1
    mul  i6, i6, i7
    add  i5, i5, i6
    mov  i8, i4                 ; the window of put: r8, i8 = k, i9 = k * m
    mul  i9, i4, i1
    jeqi i2, 1, real
    jeqi i2, 2, inlined
    seti r8, i8, i9
    jmp  next
real:
    call -, put, 8
    jmp  next
inlined:
    call -, put_inline, 8
next:
    addi i4, i4, 1
    jlt  i4, i0, loop
    iconst i4, 0
again:
    geti i6, r0, i4
    add  i5, i5, i6
    addi i4, i4, 1
    jlt  i4, i0, again
    reti i5
end
";

#[test]
fn widening_through_another_reference_is_seen_on_every_engine() {
    let module = tierjit::bytecode::text::parse(WIDEN_ELSEWHERE).unwrap();
    let n = 300i64;
    for m in [0i64, 1, 3, 300, -1] {
        for split in [0, 1] {
            // r0's a[j] holds j * m once iteration j has run, if r8 is
            // r0's array; iteration k reads j = k / 2, which has run unless
            // k = 0 (where j * m = 0 anyway).
            let stored = |j: i64| if split == 0 { j * m } else { 0 };
            let before: i64 = (0..n).map(|k| stored(k / 2) * (k + 1)).sum();
            let after: i64 = (0..n).map(stored).sum();
            for how in 0..3 {
                let args = [Value::I(n), Value::I(m), Value::I(how), Value::I(split)];
                let got = differential::check_module(&module, "main", &args).int();
                assert_eq!(got, before + after, "m {m} how {how} split {split}");
            }
        }
    }
}

/// A fill loop tested at the top, its value set in the loop (as Lark
/// writes `for i in from..to { a[i] = v }`): `fill(n, from, to, v)` fills
/// a new array of n elements from `from` up to `to` (exclusive) and returns
/// the sum of `a[k] * (k + 1)` plus the index and value registers as the
/// loop left them. Whole fills, empty ones, fills out of bounds (trapping
/// at the store), values that widen, on every engine.
const TOP_TESTED_FILL: &str = "
func fill(i, i, i, i) -> i
    newi r0, i0
    mov i4, i1
    iconst i5, 77
top:
    jge i4, i2, filled
    iconst i5, 200
    seti r0, i4, i5
    addi i4, i4, 1
    jmp top
filled:
    iconst i6, 0
    iconst i8, 0
sum:
    jge i6, i0, done
    geti i9, r0, i6
    addi i10, i6, 1
    mul i9, i9, i10
    add i8, i8, i9
    addi i6, i6, 1
    jmp sum
done:
    muli i4, i4, 1000
    add i8, i8, i4
    muli i5, i5, 10000
    add i8, i8, i5
    reti i8
end";

#[test]
fn top_tested_fill_loops_match_the_interpreter() {
    for (n, from, to) in [
        (10, 0, 10),
        (10, 2, 7),
        (10, 7, 2),
        (10, 3, 3),
        (10, -1, 4),
        (10, 4, 11),
        (0, 0, 1),
        (1000, 0, 1000),
    ] {
        for value in ["200", "300"] {
            let src = TOP_TESTED_FILL.replace("iconst i5, 200", &format!("iconst i5, {value}"));
            check(
                &src,
                "fill",
                &[Value::I(n), Value::I(from), Value::I(to), Value::I(0)],
            );
        }
    }
}
