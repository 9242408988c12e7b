//! Byte arrays, immutable strings, and the bulk operations (`copy`,
//! `filli`, `fillf`, `fillr`): ranges, overflow, overlap, kinds, the packed
//! and wide forms of i64 arrays, and the trap order, on every engine.

use crate::differential::{self, ENGINES, base_config, check};
use tierjit::{Engine, Module, SharedOutput, TrapKind, Value};

const I: fn(i64) -> Value = Value::I;

/// Helpers shared by the programs below: checksums of arrays of each kind
/// (sum of element * (index + 1), so order and place matter).
const SUMS: &str = "
func sumb(r) -> i
    len i0, r0
    iconst i1, 0
    iconst i2, 0
    jlei i0, 0, done
loop:
    getb i3, r0, i1
    addi i4, i1, 1
    mul i3, i3, i4
    add i2, i2, i3
    addi i1, i1, 1
    jlt i1, i0, loop
done:
    reti i2
end
func sumi(r) -> i
    len i0, r0
    iconst i1, 0
    iconst i2, 0
    jlei i0, 0, done
loop:
    geti i3, r0, i1
    addi i4, i1, 1
    mul i3, i3, i4
    add i2, i2, i3
    addi i1, i1, 1
    jlt i1, i0, loop
done:
    reti i2
end
func sumf(r) -> f
    len i0, r0
    iconst i1, 0
    fconst f0, 0.0
    jlei i0, 0, done
loop:
    getf f1, r0, i1
    addi i4, i1, 1
    i2f f2, i4
    fmul f1, f1, f2
    fadd f0, f0, f1
    addi i1, i1, 1
    jlt i1, i0, loop
done:
    retf f0
end
; a byte array of n bytes: k + 1 at k (low 8 bits)
func ramp_b(i) -> r
    newb r0, i0
    iconst i1, 0
    jlei i0, 0, done
loop:
    addi i2, i1, 1
    setb r0, i1, i2
    addi i1, i1, 1
    jlt i1, i0, loop
done:
    retr r0
end
; an i64 array of n elements: (k + 1) * m at k (m > 255: widened)
func ramp_i(i, i) -> r
    newi r0, i0
    iconst i2, 0
    jlei i0, 0, done
loop:
    addi i3, i2, 1
    mul i3, i3, i1
    seti r0, i2, i3
    addi i2, i2, 1
    jlt i2, i0, loop
done:
    retr r0
end
";

/// The checksum `sumb` and `sumi` compute (wrapping, as the bytecode does).
fn weigh(v: &[i64]) -> i64 {
    v.iter().enumerate().fold(0i64, |acc, (k, x)| {
        acc.wrapping_add(x.wrapping_mul(k as i64 + 1))
    })
}

fn program(body: &str) -> String {
    format!("{SUMS}\n{body}")
}

/// `copy` between two byte arrays of 8 and 6 bytes, at any range: the
/// destination's checksum, or the trap.
const COPY_RANGE: &str = "
func copy_range(i, i, i) -> i   ; dst_off, src_off, count
    iconst i10, 8
    call r0, ramp_b, 10
    iconst i10, 6
    call r1, ramp_b, 10
    copy r0, r1, i0
    call i5, sumb, 0
    reti i5
end
";

#[test]
fn copy_checks_every_field_of_the_range() {
    let src = program(COPY_RANGE);
    let run = |d: i64, s: i64, n: i64| check(&src, "copy_range", &[I(d), I(s), I(n)]);
    let bounds = |d, s, n| {
        let out = run(d, s, n);
        assert_eq!(
            out.trap(),
            (TrapKind::IndexOutOfBounds, "copy_range", 4),
            "copy({d}, {s}, {n})"
        );
    };
    // In range: dst [1..=8], src [1..=6].
    let sum = weigh;
    assert_eq!(run(0, 0, 0).int(), sum(&[1, 2, 3, 4, 5, 6, 7, 8]));
    assert_eq!(run(2, 1, 5).int(), sum(&[1, 2, 2, 3, 4, 5, 6, 8]));
    assert_eq!(
        run(8, 6, 0).int(),
        sum(&[1, 2, 3, 4, 5, 6, 7, 8]),
        "empty at the ends"
    );
    assert_eq!(
        run(2, 0, 6).int(),
        sum(&[1, 2, 1, 2, 3, 4, 5, 6]),
        "to the end"
    );
    // Each field negative.
    bounds(-1, 0, 1);
    bounds(0, -1, 1);
    bounds(0, 0, -1);
    bounds(i64::MIN, 0, 0);
    // Past the end of either array, by one.
    bounds(3, 0, 6);
    bounds(0, 1, 6);
    bounds(9, 0, 0);
    bounds(0, 7, 0);
    // offset + count past i64::MAX (and u64 wrap-around would be in range).
    bounds(i64::MAX, 0, 1);
    bounds(1, 0, i64::MAX);
    bounds(i64::MAX, i64::MAX, i64::MAX);
    bounds(0, 2, i64::MAX - 1);
}

/// Overlapping copies in one array, both directions, for every element
/// kind: `memmove`, as if through a buffer.
const OVERLAP: &str = "
func overlap_b(i, i, i) -> i
    iconst i10, 16
    call r0, ramp_b, 10
    copy r0, r0, i0
    call i5, sumb, 0
    reti i5
end
func overlap_i(i, i, i, i) -> i  ; dst, src, count, multiplier (>255: wide)
    iconst i10, 16
    mov i11, i3
    call r0, ramp_i, 10
    copy r0, r0, i0
    call i5, sumi, 0
    reti i5
end
func overlap_f(i, i, i) -> f
    iconst i10, 16
    newf r0, i10
    iconst i11, 0
    fconst f1, 0.5
fill:
    i2f f0, i11
    fadd f0, f0, f1
    setf r0, i11, f0
    addi i11, i11, 1
    jlt i11, i10, fill
    copy r0, r0, i0
    call f2, sumf, 0
    retf f2
end
func overlap_r(i, i, i) -> i    ; element k: an i64 array [k]; sum of elements' values * (k + 1)
    iconst i10, 16
    newr r0, i10
    iconst i11, 0
    iconst i12, 1
fill:
    newi r1, i12
    iconst i13, 0
    seti r1, i13, i11
    setr r0, i11, r1
    addi i11, i11, 1
    jlt i11, i10, fill
    copy r0, r0, i0
    iconst i11, 0
    iconst i14, 0
sum:
    getr r1, r0, i11
    geti i15, r1, i13
    addi i16, i11, 1
    mul i15, i15, i16
    add i14, i14, i15
    addi i11, i11, 1
    jlt i11, i10, sum
    reti i14
end
";

/// What `memmove` of `count` elements from `src` to `dst` does to `v`.
fn memmove<T: Copy>(v: &mut [T], dst: usize, src: usize, count: usize) {
    v.copy_within(src..src + count, dst);
}

#[test]
fn overlapping_copies_move_as_memmove_in_both_directions() {
    let src = program(OVERLAP);
    for (d, s, n) in [
        (2, 0, 10),
        (0, 2, 10),
        (1, 0, 15),
        (0, 1, 15),
        (5, 5, 11),
        (3, 9, 7),
    ] {
        let args = [I(d), I(s), I(n)];
        let mut bytes: Vec<i64> = (1..=16).collect();
        memmove(&mut bytes, d as usize, s as usize, n as usize);
        assert_eq!(check(&src, "overlap_b", &args).int(), weigh(&bytes));
        for m in [3, 1000] {
            let mut ints: Vec<i64> = (1..=16).map(|k| k * m).collect();
            memmove(&mut ints, d as usize, s as usize, n as usize);
            let args = [I(d), I(s), I(n), I(m)];
            assert_eq!(check(&src, "overlap_i", &args).int(), weigh(&ints), "m {m}");
        }
        let mut floats: Vec<f64> = (0..16).map(|k| k as f64 + 0.5).collect();
        memmove(&mut floats, d as usize, s as usize, n as usize);
        let want: f64 = floats
            .iter()
            .enumerate()
            .fold(0.0, |acc, (k, x)| acc + x * (k as f64 + 1.0));
        assert_eq!(check(&src, "overlap_f", &args).float(), want);
        let mut refs: Vec<i64> = (0..16).collect();
        memmove(&mut refs, d as usize, s as usize, n as usize);
        assert_eq!(check(&src, "overlap_r", &args).int(), weigh(&refs));
    }
}

/// `copy` between arrays of any two kinds (0 bytes, 1 string, 2 i64,
/// 3 f64, 4 refs, 5 null, 6 function reference) of 4 elements: the count
/// of elements copied, or the trap, with the checks in their order.
const KINDS: &str = "
func make(i) -> r
    iconst i1, 4
    switch i0, (kb, ks, ki, kf, kr, kn), kfn
kb: newb r0, i1
    retr r0
ks: sconst r0, \"abcd\"
    retr r0
ki: newi r0, i1
    retr r0
kf: newf r0, i1
    retr r0
kr: newr r0, i1
    retr r0
kn: rnull r0
    retr r0
kfn: fref r0, make
    retr r0
end
func copy_kinds(i, i) -> i      ; dst kind, src kind
    mov i10, i0
    call r0, make, 10
    mov i10, i1
    call r1, make, 10
    iconst i2, 0
    iconst i3, 0
    iconst i4, 4
    copy r0, r1, i2
    reti i4
end
";

#[test]
fn copy_takes_one_element_kind_and_traps_in_order() {
    let src = KINDS;
    let (bytes, string, int, float, refs, null, func) = (0, 1, 2, 3, 4, 5, 6);
    let all = [bytes, string, int, float, refs, null, func];
    for dst in all {
        for s in all {
            let out = check(src, "copy_kinds", &[I(dst), I(s)]);
            let class = |k| match k {
                0 | 1 => Some(0),
                2 => Some(2),
                3 => Some(3),
                4 => Some(4),
                _ => None,
            };
            let want = if dst == null || s == null {
                Err(TrapKind::NullReference)
            } else if class(dst).is_none() || class(dst) != class(s) {
                Err(TrapKind::ElementKind)
            } else if dst == string {
                Err(TrapKind::Immutable)
            } else {
                Ok(4)
            };
            match want {
                Ok(n) => assert_eq!(out.int(), n, "copy({dst} <- {s})"),
                Err(k) => assert_eq!(out.trap(), (k, "copy_kinds", 7), "copy({dst} <- {s})"),
            }
        }
    }
    // A string's bytes copy into a byte array.
    let src = program(
        "func from_string() -> i
    sconst r1, \"\\u{e9}t\\u{e9}\"      ; 5 UTF-8 bytes: c3 a9 74 c3 a9
    len i3, r1
    newb r0, i3
    iconst i0, 0
    iconst i1, 0
    mov i2, i3
    copy r0, r1, i0
    call i4, sumb, 0
    reti i4
end",
    );
    let want = [0xc3, 0xa9, 0x74, 0xc3, 0xa9]
        .iter()
        .enumerate()
        .map(|(k, x)| x * (k as i64 + 1))
        .sum::<i64>();
    assert_eq!(check(&src, "from_string", &[]).int(), want);
}

/// i64 arrays in either form, copied into either form: the destination
/// widens when it must, and reads the same as an array that never packed.
const PACKED_WIDE: &str = "
func mixed(i, i, i, i) -> i    ; dst multiplier, src multiplier, dst_off, count
    iconst i10, 12
    mov i11, i0
    call r0, ramp_i, 10
    iconst i10, 10
    mov i11, i1
    call r1, ramp_i, 10
    mov i5, i2
    iconst i6, 0
    mov i7, i3
    copy r0, r1, i5
    call i8, sumi, 0
    ; the array still takes small and large values at any place
    iconst i9, 11
    iconst i12, 7
    seti r0, i9, i12
    call i13, sumi, 0
    add i8, i8, i13
    reti i8
end
";

#[test]
fn copies_between_packed_and_wide_i64_arrays() {
    let src = program(PACKED_WIDE);
    // Multipliers 1 (packed: 1..=12 fit a byte) and 1000 (wide); large
    // source values copied into a packed destination widen it.
    for (dm, sm) in [(1, 1), (1, 1000), (1000, 1), (1000, 1000), (1, 25)] {
        for (off, n) in [(0, 10), (2, 10), (5, 3), (12, 0), (0, 0)] {
            let mut d: Vec<i64> = (1..=12).map(|k| k * dm).collect();
            let s: Vec<i64> = (1..=10).map(|k| k * sm).collect();
            d[off as usize..(off + n) as usize].copy_from_slice(&s[..n as usize]);
            let first = weigh(&d);
            d[11] = 7;
            let want = first + weigh(&d);
            let out = check(&src, "mixed", &[I(dm), I(sm), I(off), I(n)]);
            assert_eq!(out.int(), want, "dst x{dm}, src x{sm}, at {off}, {n}");
        }
    }
}

/// Fills of every kind: ranges, kinds, values.
const FILLS: &str = "
func fill_b(i, i, i) -> i      ; start, count, value into 8 bytes
    iconst i10, 8
    call r0, ramp_b, 10
    filli r0, i0, i2
    call i5, sumb, 0
    reti i5
end
func fill_i(i, i, i, i) -> i   ; start, count, value, multiplier into 8 i64s
    iconst i10, 8
    mov i11, i3
    call r0, ramp_i, 10
    filli r0, i0, i2
    call i5, sumi, 0
    reti i5
end
func fill_f(i, i) -> f          ; start, count: 2.5 into 8 f64s of 0.0
    iconst i10, 8
    newf r0, i10
    fconst f0, 2.5
    fillf r0, i0, f0
    call f1, sumf, 0
    retf f1
end
func fill_r(i, i) -> i          ; start, count: a 3-element array into 8 refs of 5-element ones
    iconst i10, 8
    newr r0, i10
    iconst i11, 3
    newi r1, i11
    fillr r0, i0, r1
    iconst i12, 0
    iconst i13, 0
    iconst i14, 5
    iconst i15, 0
pre:
    newi r2, i14
    setr r0, i12, r2
    addi i12, i12, 1
    jlt i12, i10, pre
    fillr r0, i0, r1
    iconst i12, 0
sum:
    getr r2, r0, i12
    len i16, r2
    addi i17, i12, 1
    mul i16, i16, i17
    add i13, i13, i16
    addi i12, i12, 1
    jlt i12, i10, sum
    reti i13
end
func fill_kind(i, i) -> i       ; array kind (as `make`), op: 0 filli, 1 fillf, 2 fillr
    call r0, make, 0
    iconst i2, 1
    iconst i3, 2
    fconst f0, 1.5
    rnull r1
    switch i1, (fi, ff), fr
fi: filli r0, i2, i2
    reti i3
ff: fillf r0, i2, f0
    reti i3
fr: fillr r0, i2, r1
    reti i3
end
";

#[test]
fn fills_check_ranges_and_kinds_and_store_every_element() {
    let src = program(&format!(
        "{FILLS}\n{}",
        &KINDS[KINDS.find("func make").unwrap()..KINDS.find("func copy_kinds").unwrap()]
    ));
    let fill = |v: &mut Vec<i64>, s: i64, n: i64, x: i64| {
        for e in &mut v[s as usize..(s + n) as usize] {
            *e = x;
        }
    };
    for (s, n) in [(0, 8), (2, 3), (8, 0), (7, 1), (0, 0)] {
        for x in [0, 7, 255, 256, 0x1ff, -1, i64::MIN] {
            let mut b: Vec<i64> = (1..=8).collect();
            fill(&mut b, s, n, x & 0xff);
            let out = check(&src, "fill_b", &[I(s), I(n), I(x)]);
            assert_eq!(out.int(), weigh(&b), "bytes at {s}, {n}: {x}");
            for m in [1, 1000] {
                let mut v: Vec<i64> = (1..=8).map(|k| k * m).collect();
                fill(&mut v, s, n, x);
                let out = check(&src, "fill_i", &[I(s), I(n), I(x), I(m)]);
                assert_eq!(out.int(), weigh(&v), "i64 x{m} at {s}, {n}: {x}");
            }
        }
        let want: f64 = (s..s + n).map(|k| 2.5 * (k as f64 + 1.0)).sum();
        assert_eq!(check(&src, "fill_f", &[I(s), I(n)]).float(), want);
        let want: i64 = (0..8)
            .map(|k| if (s..s + n).contains(&k) { 3 } else { 5 } * (k + 1))
            .sum();
        assert_eq!(check(&src, "fill_r", &[I(s), I(n)]).int(), want);
    }
    for (s, n) in [
        (-1, 1),
        (0, -1),
        (8, 1),
        (1, 8),
        (i64::MAX, 1),
        (1, i64::MAX),
    ] {
        let out = check(&src, "fill_b", &[I(s), I(n), I(1)]);
        assert_eq!(out.trap(), (TrapKind::IndexOutOfBounds, "fill_b", 2));
        let out = check(&src, "fill_i", &[I(s), I(n), I(1000), I(1)]);
        assert_eq!(out.trap(), (TrapKind::IndexOutOfBounds, "fill_i", 3));
        let out = check(&src, "fill_f", &[I(s), I(n)]);
        assert_eq!(out.trap(), (TrapKind::IndexOutOfBounds, "fill_f", 3));
        let out = check(&src, "fill_r", &[I(s), I(n)]);
        assert_eq!(out.trap(), (TrapKind::IndexOutOfBounds, "fill_r", 4));
    }
    // Kinds: filli takes bytes and i64, fillf f64, fillr refs.
    for kind in 0..7 {
        for op in 0..3 {
            let out = check(&src, "fill_kind", &[I(kind), I(op)]);
            let want = match (kind, op) {
                (5, _) => Err(TrapKind::NullReference),
                (0 | 2, 0) | (3, 1) | (4, 2) => Ok(2),
                (1, 0) => Err(TrapKind::Immutable),
                _ => Err(TrapKind::ElementKind),
            };
            match want {
                Ok(v) => assert_eq!(out.int(), v),
                Err(k) => assert_eq!(out.trap(), (k, "fill_kind", 6 + op as u32 * 2)),
            }
        }
    }
}

#[test]
fn byte_access_bounds_kinds_and_immutable_strings() {
    let src = "
func access(i, i) -> i          ; which, index
    sconst r0, \"h\\u{e9}llo\"     ; 6 bytes
    iconst i5, 3
    newb r1, i5
    newi r2, i5
    iconst i6, 0x1ab
    switch i0, (gs, gb, sb, ss, gi, gn), sn
gs: getb i7, r0, i1
    reti i7
gb: setb r1, i1, i6
    getb i7, r1, i1
    reti i7
sb: setb r1, i1, i6
    len i7, r1
    reti i7
ss: setb r0, i1, i6
    reti i6
gi: getb i7, r2, i1
    reti i7
gn: rnull r3
    getb i7, r3, i1
    reti i7
sn: rnull r3
    setb r3, i1, i6
    reti i6
end
func lengths() -> i
    sconst r0, \"h\\u{e9}llo\"
    len i0, r0
    sconst r1, \"\"
    len i1, r1
    iconst i2, 5
    newb r2, i2
    len i3, r2
    muli i0, i0, 100
    muli i1, i1, 10
    add i0, i0, i1
    add i0, i0, i3
    reti i0
end
func negative() -> none
    iconst i0, -1
    newb r0, i0
    ret
end";
    let run = |which: i64, idx: i64| check(src, "access", &[I(which), I(idx)]);
    assert_eq!(run(0, 0).int(), i64::from(b'h'));
    assert_eq!(run(0, 1).int(), 0xc3, "zero-extended");
    assert_eq!(run(0, 5).int(), i64::from(b'o'));
    assert_eq!(run(1, 2).int(), 0xab, "the low 8 bits");
    assert_eq!(run(2, 0).int(), 3);
    for idx in [6, -1, i64::MIN, i64::MAX] {
        assert_eq!(
            run(0, idx).trap(),
            (TrapKind::IndexOutOfBounds, "access", 6)
        );
    }
    for idx in [3, -1] {
        assert_eq!(
            run(1, idx).trap(),
            (TrapKind::IndexOutOfBounds, "access", 8)
        );
    }
    // A string is immutable, checked before the index.
    for idx in [0, 99, -1] {
        assert_eq!(run(3, idx).trap(), (TrapKind::Immutable, "access", 14));
    }
    assert_eq!(run(4, 0).trap(), (TrapKind::ElementKind, "access", 16));
    assert_eq!(run(5, 0).trap(), (TrapKind::NullReference, "access", 19));
    assert_eq!(run(6, 0).trap(), (TrapKind::NullReference, "access", 22));
    assert_eq!(check(src, "lengths", &[]).int(), 605);
    assert_eq!(
        check(src, "negative", &[]).trap(),
        (TrapKind::NegativeLength, "negative", 1)
    );
}

/// The message and place of a write to a string, as the embedder sees it.
#[test]
fn setb_on_a_string_constant_names_the_op() {
    let src = "func main() -> none\n    sconst r0, \"abc\"\n    iconst i0, 1\n    setb r0, i0, i0\n    ret\nend\n";
    let out = check(src, "main", &[]);
    let trap = out.trap.expect("a trap");
    assert_eq!(
        (trap.kind, trap.pc, trap.position),
        (TrapKind::Immutable, 2, Some((4, 5)))
    );
    assert!(
        trap.to_string().contains("write to an immutable object"),
        "{trap}"
    );
}

/// `printb` writes bytes as they are (0 and 0xff too) on every engine;
/// the differential harness compares text, so the bytes are compared here.
#[test]
fn printb_writes_raw_bytes_on_every_engine() {
    let src = "
func main() -> none
    iconst i0, 4
    newb r0, i0
    iconst i1, 1
    iconst i2, 255
    setb r0, i1, i2
    iconst i1, 2
    iconst i2, 65
    setb r0, i1, i2
    iconst i1, 3
    iconst i2, 0x180
    setb r0, i1, i2
    printb r0
    sconst r1, \"|\\u{e9}\\0|\"
    printb r1
    rnull r2
    printb r2
    ret
end";
    let module = tierjit::bytecode::text::parse(src).expect("parses");
    for &tier in ENGINES {
        let engine = Engine::new(base_config(tier)).expect("engine");
        let module = Module::from_bytecode(&engine, module.clone()).expect("verifies");
        let mut instance = differential::deterministic_hosts(module.bytecode())
            .instantiate(&module)
            .expect("instance");
        let out = SharedOutput::new();
        instance.set_output(out.clone());
        let err = instance
            .call("main", &[])
            .expect_err("printb of null traps");
        assert!(err.to_string().contains("null reference"), "{tier}: {err}");
        assert_eq!(
            out.take(),
            [0, 0xff, b'A', 0x80, b'|', 0xc3, 0xa9, 0, b'|'],
            "{tier}"
        );
    }
    // And through the harness: every engine, tiering, mixed.
    let out = check(src, "main", &[]);
    assert_eq!(out.trap().0, TrapKind::NullReference);
}
