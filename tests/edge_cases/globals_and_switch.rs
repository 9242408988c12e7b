//! Globals (per instance, initial values to the bit, reference globals as
//! roots of the collector, reads in loops next to writes and calls) and
//! `switch` (every case, the default for values out of range, empty
//! tables, 64 cases), alike on every engine.

use crate::EDGE_INTS;
use crate::differential::check;
use tierjit::{Config, Engine, Instance, Module, Tier, Value};

/// `pick(v)` returns `100 + k` for case `k` of a 5-case switch, -1 for the
/// default; `none(v)` switches over an empty table.
const PICK: &str = "
func pick(i) -> i
    switch i0, (c0, c1, c2, c3, c4), other
c0: iconst i1, 100
    reti i1
c1: iconst i1, 101
    reti i1
c2: iconst i1, 102
    reti i1
c3: iconst i1, 103
    reti i1
c4: iconst i1, 104
    reti i1
other:
    iconst i1, -1
    reti i1
end

func none(i) -> i
    switch i0, (), out
    trapi 1
out:
    reti i0
end";

#[test]
fn switch_takes_cases_in_range_and_the_default_otherwise() {
    for &v in EDGE_INTS
        .iter()
        .chain(&[3, 4, 5, -5, 1 << 32, (1 << 32) + 2])
    {
        let want = if (0..5).contains(&v) { 100 + v } else { -1 };
        assert_eq!(check(PICK, "pick", &[Value::I(v)]).int(), want, "pick({v})");
        assert_eq!(check(PICK, "none", &[Value::I(v)]).int(), v, "none({v})");
    }
}

#[test]
fn a_64_case_switch_in_a_loop() {
    // Case k adds k * k; the loop runs the cases 0..70 (the last 6 go to
    // the default, which adds 1000).
    let mut src = String::from("func main() -> i\n    iconst i0, 0\n    iconst i1, 0\ntop:\n");
    src.push_str("    switch i0, (");
    let cases: Vec<String> = (0..64).map(|k| format!("c{k}")).collect();
    src.push_str(&cases.join(", "));
    src.push_str("), other\n");
    for k in 0..64 {
        src.push_str(&format!("c{k}: iconst i2, {}\n    jmp next\n", k * k));
    }
    src.push_str("other: iconst i2, 1000\nnext: add i1, i1, i2\n    addi i0, i0, 1\n");
    src.push_str("    jlti i0, 70, top\n    reti i1\nend\n");
    let want: i64 = (0..64).map(|k| k * k).sum::<i64>() + 6 * 1000;
    assert_eq!(check(&src, "main", &[]).int(), want);
}

/// Globals of every bank; `bump` writes the counter, which `main` reads
/// in a loop that calls `bump` on some iterations and writes it itself on
/// others.
const GLOBALS: &str = "
global i counter = -9223372036854775808
global f nan = bits:0x7ff8000000000123
global f neg_zero = -0.0
global r saved

func bump() -> none
    ggeti i0, counter
    addi i0, i0, 3
    gseti counter, i0
    ret
end

func main(i) -> i
    iconst i1, 0
    iconst i2, 0
top:
    ggeti i3, counter
    add i2, i2, i3
    andi i4, i1, 3
    jnei i4, 0, skip
    call -, bump, 0
skip:
    jnei i4, 1, no_write
    gseti counter, i1
no_write:
    addi i1, i1, 1
    jlt i1, i0, top
    ggetf f0, nan
    ggetf f1, neg_zero
    fadd f2, f1, f1
    printf f2, 1
    prints \" \"
    fjeq f0, f0, wrong
    gsetf nan, f1
    reti i2
wrong:
    trapi 2
end";

#[test]
fn globals_are_read_and_written_in_loops_with_calls() {
    let n = 100i64;
    let mut counter = i64::MIN;
    let mut sum = 0i64;
    for i in 0..n {
        sum = sum.wrapping_add(counter);
        if i & 3 == 0 {
            counter = counter.wrapping_add(3);
        }
        if i & 3 == 1 {
            counter = i;
        }
    }
    let out = check(GLOBALS, "main", &[Value::I(n)]);
    assert_eq!(out.int(), sum);
    assert_eq!(out.output, "-0.0 ");
}

#[test]
fn globals_belong_to_the_instance_and_keep_their_bits() {
    for tier in [Tier::Interp, Tier::Template, Tier::Cranelift, Tier::Auto] {
        let mut config = Config::new();
        config.tier(tier).hot_calls(1).hot_loops(1);
        let engine = Engine::new(config).unwrap();
        let module = Module::new(&engine, GLOBALS).unwrap();
        let (mut a, mut b) = (
            Instance::new(&module).unwrap(),
            Instance::new(&module).unwrap(),
        );
        a.set_output(tierjit::SharedOutput::new());
        a.call("bump", &[]).unwrap();
        a.call("bump", &[]).unwrap();
        assert_eq!(
            a.global("counter").unwrap(),
            Value::I(i64::MIN + 6),
            "{tier}"
        );
        assert_eq!(b.global("counter").unwrap(), Value::I(i64::MIN), "{tier}");
        match b.global("nan").unwrap() {
            Value::F(v) => assert_eq!(v.to_bits(), 0x7ff8000000000123, "{tier}"),
            v => panic!("{v}"),
        }
        a.call("main", &[Value::I(2)]).unwrap();
        match a.global("nan").unwrap() {
            Value::F(v) => assert_eq!(v.to_bits(), (-0.0f64).to_bits(), "{tier}"),
            v => panic!("{v}"),
        }
        assert!(matches!(a.global("saved").unwrap(), Value::R(r) if r.is_null()));
    }
}

#[test]
fn reference_globals_keep_objects_alive() {
    // An array kept only in a global survives collections forced by
    // garbage; its elements are read back after.
    let src = "
global r keep

func fill() -> none
    iconst i0, 100
    newi r0, i0
    iconst i1, 0
loop:
    muli i2, i1, 7
    seti r0, i1, i2
    addi i1, i1, 1
    jlt i1, i0, loop
    gsetr keep, r0
    ret
end

func churn() -> none
    iconst i0, 0
loop:
    iconst i1, 10000
    newf r0, i1
    addi i0, i0, 1
    jlti i0, 300, loop
    ret
end

func main() -> i
    call -, fill, 0
    call -, churn, 0
    ggetr r0, keep
    iconst i0, 0
    iconst i1, 0
loop:
    geti i2, r0, i1
    add i0, i0, i2
    addi i1, i1, 1
    jlti i1, 100, loop
    reti i0
end";
    assert_eq!(check(src, "main", &[]).int(), 7 * 99 * 100 / 2);
}

/// `sum(n)` adds `x % P + x / P` for x = 100 i, i in -3..n, `P` read in the loop as a
/// compiler writes it (a fresh register per use), never written by the
/// module: the Cranelift tier divides by its initial value when the global
/// still holds it, so the embedder's changes must take the general path,
/// traps included.
const DIVISOR_GLOBAL: &str = "
global i P = 1000003

func sum(i) -> i
    iconst i1, 0
    iconst i2, -3
top:
    jge i2, i0, done
    muli i7, i2, 100
    ggeti i3, P
    rem i4, i7, i3
    ggeti i5, P
    div i6, i7, i5
    add i1, i1, i4
    add i1, i1, i6
    addi i2, i2, 1
    jmp top
done:
    reti i1
end";

#[test]
fn a_division_by_a_global_the_module_never_writes_follows_the_embedders_writes() {
    let want = |p: i64, n: i64| -> Option<i64> {
        let mut s = 0i64;
        for i in -3..n {
            if p == 0 {
                return None;
            }
            let x = i * 100;
            s = s
                .wrapping_add(x.wrapping_rem(p))
                .wrapping_add(x.wrapping_div(p));
        }
        Some(s)
    };
    for tier in [Tier::Interp, Tier::Template, Tier::Cranelift, Tier::Auto] {
        let mut config = Config::new();
        config.tier(tier).hot_calls(1).hot_loops(1);
        let engine = Engine::new(config).unwrap();
        let module = Module::new(&engine, DIVISOR_GLOBAL).unwrap();
        let mut inst = Instance::new(&module).unwrap();
        for p in [1000003, 7, -1, i64::MIN, 0, 1, 1000003] {
            inst.set_global("P", Value::I(p)).unwrap();
            for n in [-5, 0, 20_000] {
                let got = inst.call("sum", &[Value::I(n)]);
                match (want(p, n), got) {
                    (Some(w), Ok(v)) => assert_eq!(v, Some(Value::I(w)), "{tier} P={p} n={n}"),
                    (None, Err(e)) if n > -3 => {
                        assert!(
                            e.to_string().contains("division by zero"),
                            "{tier} P={p}: {e}"
                        )
                    }
                    (w, g) => panic!("{tier} P={p} n={n}: want {w:?}, got {g:?}"),
                }
            }
        }
    }
    assert_eq!(
        check(DIVISOR_GLOBAL, "sum", &[Value::I(30_000)]).int(),
        want(1000003, 30_000).unwrap()
    );
}
