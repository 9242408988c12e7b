//! Unit tests of the text format: samples, round trips and one test per
//! error kind (checking line and column).

use super::{parse, parse_bytes, parse_int_literal, print, print_annotated};
use crate::bytecode::error::ParseError;
use crate::bytecode::module::{Function, Import, Module, Signature};
use crate::bytecode::op::{Bank, Cmp, IntBinOp, NO_REG, Op, Opcode};
use std::collections::HashSet;

const FIB: &str = r#"; fib.tj: naive Fibonacci
func fib(i) -> i
    jlti i0, 2, small          ; if n < 2 goto small
    subi i1, i0, 1
    call i1, fib, 1            ; i1 = fib(i1): arguments from window 1
    subi i2, i0, 2
    call i2, fib, 2            ; i2 = fib(i2)
    add  i0, i1, i2
    reti i0
small:
    reti i0
end

func main(i=40) -> none
    prints "fib("
    printi i0
    prints ") = "
    call i1, fib, 0            ; i1 = fib(i0)
    printi i1
    prints "\n"
    ret
end
"#;

/// Uses every mnemonic (and both forms of `iconst`).
const EVERY_OP: &str = r#"
type unary = (i) -> i
type nullary = () -> i
global i count = -3
global f scale = bits:0x7ff8000000000001
global r cache
import host.print(i, f) -> none
import $clock() -> f
import mkarr(i) -> r

func main(i=-7, f, r, i) -> none regs i=8 f=6 r=5
start:
    nop
    iconst i2, 5
    iconst i2, -32768
    iconst i3, 32768
    iconst i3, -9223372036854775808
    iconst i4, 0x7fffffffffffffff
    iconst i4, 32768                 ; pooled once
    fconst f1, 2.5
    fconst f1, -0.0
    fconst f2, 1e300
    fconst f2, inf
    fconst f3, -inf
    fconst f3, nan
    fconst f4, bits:0x7ff8000000000001
    fconst f4, 3                     ; an integer as f64
    fconst f5, 2.5                   ; pooled once
    rnull r1
    mov i1, i2
    fmov f1, f2
    rmov r1, r0
    add i1, i2, i3
    sub i1, i2, i3
    mul i1, i2, i3
    div i1, i2, i3
    rem i1, i2, i3
    and i1, i2, i3
    or i1, i2, i3
    xor i1, i2, i3
    shl i1, i2, i3
    shr i1, i2, i3
    ushr i1, i2, i3
    addi i1, i2, 1
    subi i1, i2, -1
    muli i1, i2, 0x7fff
    divi i1, i2, -0x8000
    remi i1, i2, 3
    andi i1, i2, 4
    ori i1, i2, 5
    xori i1, i2, 6
    shli i1, i2, 7
    shri i1, i2, 8
    ushri i1, i2, 9
    neg i1, i2
    not i1, i2
    eq i1, i2, i3
    ne i1, i2, i3
    lt i1, i2, i3
    le i1, i2, i3
    gt i1, i2, i3
    ge i1, i2, i3
    eqi i1, i2, 1
    nei i1, i2, 1
    lti i1, i2, 1
    lei i1, i2, 1
    gti i1, i2, 1
    gei i1, i2, 1
    jeq i1, i2, start
    jne i1, i2, fwd
    jlt i1, i2, start
    jle i1, i2, fwd
    jgt i1, i2, start
    jge i1, i2, fwd
    jeqi i1, 0, start
    jnei i1, 0, fwd
    jlti i1, 0, start
    jlei i1, 0, fwd
    jgti i1, 0, start
    jgei i1, 0, fwd
    fadd f1, f2, f3
    fsub f1, f2, f3
    fmul f1, f2, f3
    fdiv f1, f2, f3
    fneg f1, f2
    fabs f1, f2
    fsqrt f1, f2
    ffloor f1, f2
    feq i1, f2, f3
    fne i1, f2, f3
    flt i1, f2, f3
    fle i1, f2, f3
    fgt i1, f2, f3
    fge i1, f2, f3
    fjeq f1, f2, start
    fjne f1, f2, fwd
    fjlt f1, f2, start
    fjle f1, f2, fwd
    fjgt f1, f2, start
    fjge f1, f2, fwd
    udiv i1, i2, i3
    urem i1, i2, i3
    ult i1, i2, i3
    ule i1, i2, i3
    ugt i1, i2, i3
    uge i1, i2, i3
    jult i1, i2, start
    jule i1, i2, fwd
    jugt i1, i2, start
    juge i1, i2, fwd
    popcnt i1, i2
    clz i1, i2
    ctz i1, i2
    rotl i1, i2, i3
    rotr i1, i2, i3
    rotli i1, i2, -1
    min i1, i2, i3
    max i1, i2, i3
    sel i1, i2, i3
    fsel f1, f2, i3
    rsel r1, r2, i3
    sext8 i1, i2
    sext16 i1, i2
    sext32 i1, i2
    zext8 i1, i2
    zext16 i1, i2
    zext32 i1, i2
    fma f1, f2, f3
    fmin f1, f2, f3
    fmax f1, f2, f3
    fceil f1, f2
    ftrunc f1, f2
    fround f1, f2
    fcopysign f1, f2, f3
    fbits i1, f2
    bitsf f1, i2
fwd: i2f f1, i1
    f2i i1, f1
    jmp done
    jz i1, start
    jnz i1, done
    call -, main, 0
    call f5, helper, 1
    hcall -, host.print, 2
    hcall f1, $clock, 0
    hcall r2, mkarr, 3
    newi r1, i1
    newf r2, i1
    newr r3, i1
    len i1, r1
    geti i1, r1, i2
    getf f1, r1, i2
    getr r1, r1, i2
    seti r1, i2, i3
    setf r1, i2, f3
    setr r1, i2, r4
    prints "hello, \"world\"\n\t\\\r\0\u{1F600}\u{7}"
    prints ""
    prints "hello, \"world\"\n\t\\\r\0\u{1F600}\u{7}"
    printi i1
    printf f1, 9
done:
    ret
end

func helper(f) -> f
    retf f0
end

func geti_ret() -> i
    reti i0
end

func getr_ret() -> r
    retr r0
end

func panics(i) -> i
    jz i0, fixed
    trap i0
fixed:
    trapi -32768
end

func with_env(i, r) -> i
    reti i0
end

func functions_as_values(i) -> i
    fref r0, panics
    closure r1, with_env, r0
    calli unary, r0, 0
    calli nullary, r1, 2
    jz i0, tail
    tcalli unary, r1, 0
tail:
    tcall panics, 1
end

func globals_and_switch(i) -> i
    ggeti i1, count
    ggetf f0, scale
    ggetr r0, cache
    gseti count, i1
    gsetf scale, f0
    gsetr cache, r0
    switch i0, (a, b, a), c
a:  reti i0
b:  switch i1, (), c
c:  reti i1
end

func bytes_and_bulk() -> none
    newb r0, i0
    getb i1, r0, i2
    setb r0, i2, i1
    sconst r1, "abc\u{e9}\0"
    printb r1
    copy r0, r1, i3
    filli r0, i3, i1
    fillf r2, i4, f0
    fillr r3, i4, r1
    ret
end
func structs(r) -> i
    snew r1, Point3
    sseti r1, Point3.x, i0
    sgeti i1, r1, Point.y
    ssetf r1, Point3.z, f0
    sgetf f1, r1, Point3.z
    ssetr r1, Point3.next, r0
    sgetr r2, r1, Point3.next
    isa i2, r1, Point
    isnull i3, r0
    req i4, r0, r1
    jnull r0, done
    jnnull r2, done
    snew r3, Empty
done:
    reti i4
end

struct Point { i x, i y }
struct Point3 : Point { f z, r next }
struct Empty {}
"#;

#[test]
fn types_are_named_declared_anywhere_and_shared() {
    let m = round_trip(
        "func main() -> i\n  fref r0, f\n  calli u, r0, 0\n  reti i0\nend\n\
         type u = (i) -> i\ntype same = (i) -> i\nfunc f(i) -> i\n  tcall f, 0\nend\n",
    );
    assert_eq!(m.types, vec![Signature::new([Bank::I], Some(Bank::I))]);
    // The window holds the argument and receives the result.
    assert_eq!(m.functions[0].regs, [1, 0, 1]);
    assert_err(
        "func main() -> none\n  calli nope, r0, 0\n  ret\nend\n",
        2,
        9,
        "unknown type `nope`",
    );
    assert_err(
        "type a = () -> none\ntype a = (i) -> none\n",
        2,
        6,
        "duplicate type `a`",
    );
    assert_err("type a = (i) -> q\n", 1, 17, "result bank");
}

#[test]
fn structs_and_fields_are_named_with_inheritance() {
    let m = round_trip(
        "func main() -> i\n  snew r0, B\n  sgeti i0, r0, B.x\n  ssetf r0, B.y, f0\n  \
         isa i1, r0, A\n  reti i0\nend\n\
         struct A { i x }\nstruct B : A { f y, r z }\nstruct E {}\n",
    );
    assert_eq!(m.structs.len(), 3);
    assert_eq!(m.structs[1].parent, Some(0));
    // `B.x` is the inherited `A.x`, field 0; `B.y` is field 1.
    let code = &m.functions[0].code;
    assert_eq!((code[1].c, code[2].b, code[3].c), (0, 1, 0));
    assert!(print(&m).contains("sgeti i0, r0, A.x"));
    assert!(print(&m).contains("struct B : A { f y, r z }"));
    let decls = "struct A { i x }\nstruct B : A { f y }\n";
    let with = |body: &str| format!("{decls}func main() -> none\n{body}\n  ret\nend\n");
    assert_err(
        &with("  sgeti i0, r0, B.q"),
        4,
        17,
        "struct `B` has no field `q`",
    );
    assert_err(
        &with("  sgeti i0, r0, B.y"),
        4,
        17,
        "is of bank `f`, the op needs bank `i`",
    );
    assert_err(&with("  sgeti i0, r0, Q.x"), 4, 17, "unknown struct `Q`");
    assert_err(
        &with("  sgeti i0, r0, x"),
        4,
        17,
        "expected a field `Struct.field`",
    );
    assert_err(&with("  snew r0, Q"), 4, 12, "unknown struct `Q`");
    assert_err(&with("  snew r0, 5"), 4, 12, "expected a struct name");
    assert_err(
        "struct B : A { i x }\nstruct A {}\n",
        1,
        12,
        "unknown parent struct `A`",
    );
    assert_err("struct A {}\nstruct A {}\n", 2, 8, "duplicate struct `A`");
    assert_err("struct A { i x, f x }\n", 1, 19, "duplicate field `x`");
    assert_err(
        &format!("{decls}struct C : B {{ r x }}\n"),
        3,
        18,
        "duplicate field `x`",
    );
    assert_err("struct A { q x }\n", 1, 12, "expected a field's bank");
    assert_err("struct A { i x y }\n", 1, 16, "expected `,` or `}`");
    assert_err("struct A { i a.b }\n", 1, 14, "contains `.`");
    assert_err("struct A i x }\n", 1, 10, "expected `{`");
}

fn perr(src: &str) -> ParseError {
    match parse(src) {
        Ok(m) => panic!("expected a parse error, got {m:?}"),
        Err(e) => e,
    }
}

/// Asserts that `src` fails at `line`:`col` with a message containing `needle`.
#[track_caller]
fn assert_err(src: &str, line: u32, col: u32, needle: &str) {
    let e = perr(src);
    assert_eq!((e.line, e.column), (line, col), "wrong place for error {e}");
    assert!(
        e.message.contains(needle),
        "message {:?} lacks {needle:?}",
        e.message
    );
    let expected_line = src
        .split('\n')
        .nth(line as usize - 1)
        .unwrap_or("")
        .trim_end_matches('\r');
    assert_eq!(e.source_line, expected_line);
}

#[track_caller]
fn round_trip(src: &str) -> Module {
    let m = parse(src).unwrap_or_else(|e| panic!("{e}"));
    let text = print(&m);
    let m2 = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(
        m,
        without_import_lines(&m2, &m),
        "round trip changed the module:\n{text}"
    );
    assert_eq!(print(&m2), text, "print is not a fixed point");
    let annotated = print_annotated(&m);
    assert_eq!(
        parse(&annotated).map(|m3| without_import_lines(&m3, &m)),
        Ok(m.clone())
    );
    m
}

/// `m` with the import lines of `like` (import lines are part of equality).
fn without_import_lines(m: &Module, like: &Module) -> Module {
    let mut m = m.clone();
    for (i, l) in m.imports.iter_mut().zip(&like.imports) {
        i.line = l.line;
    }
    m
}

#[test]
fn parses_the_fib_example() {
    let m = round_trip(FIB);
    assert_eq!(m.functions.len(), 2);
    let fib = &m.functions[0];
    assert_eq!(fib.name, "fib");
    assert_eq!(fib.sig, Signature::new([Bank::I], Some(Bank::I)));
    assert!(fib.param_defaults.is_empty());
    assert_eq!(fib.regs, [3, 0, 0]);
    assert_eq!(fib.code[0], Op::new(Opcode::JLtI, 0, 2, 7));
    assert_eq!(fib.code[2], Op::new(Opcode::Call, 1, 0, 1));
    assert_eq!(fib.lines, vec![3, 4, 5, 6, 7, 8, 9, 11]);
    let main = &m.functions[1];
    assert_eq!(main.param_defaults, vec![Some(40)]);
    assert_eq!(main.regs, [2, 0, 0]);
    assert_eq!(main.code[3], Op::new(Opcode::Call, 1, 0, 0));
    assert_eq!(m.strings, vec!["fib(", ") = ", "\n"]);
    assert_eq!(m.entry(), Some(1));
}

#[test]
fn every_opcode_round_trips() {
    let m = round_trip(EVERY_OP);
    let used: HashSet<Opcode> = m
        .functions
        .iter()
        .flat_map(|f| f.code.iter().map(|op| op.opcode))
        .collect();
    for &opc in Opcode::ALL {
        assert!(used.contains(&opc), "sample lacks {opc:?}");
    }
    assert_eq!(m.iconsts, vec![32768, i64::MIN, i64::MAX]);
    let f = |v: f64| v.to_bits();
    assert_eq!(
        m.fconsts,
        vec![
            f(2.5),
            f(-0.0),
            f(1e300),
            f(f64::INFINITY),
            f(f64::NEG_INFINITY),
            f(f64::NAN),
            0x7ff8000000000001,
            f(3.0)
        ]
    );
    assert_eq!(m.strings.len(), 3);
    assert_eq!(m.strings[0], "hello, \"world\"\n\t\\\r\0\u{1F600}\u{7}");
    assert_eq!(m.strings[2], "abc\u{e9}\0");
    // A register run needs every register of the run: `copy .., i3` reads
    // i3..i5.
    let bulk = m.functions.iter().find(|f| f.name == "bytes_and_bulk");
    assert_eq!(bulk.map(|f| f.regs), Some([6, 1, 4]));
    assert_eq!(
        m.types,
        vec![
            Signature::new([Bank::I], Some(Bank::I)),
            Signature::new([], Some(Bank::I))
        ]
    );
    let main = &m.functions[0];
    assert_eq!(main.param_defaults, vec![Some(-7), None, None, None]);
    assert_eq!(main.regs, [8, 6, 5]);
    assert_eq!(main.code.len(), main.lines.len());
    assert_eq!(main.lines[0], 13);
    let imports: Vec<_> = m
        .imports
        .iter()
        .map(|i| (i.name.as_str(), i.line))
        .collect();
    assert_eq!(
        imports,
        vec![
            ("host.print", Some(7)),
            ("$clock", Some(8)),
            ("mkarr", Some(9))
        ]
    );
    let calls: Vec<Op> = main
        .code
        .iter()
        .copied()
        .filter(|op| matches!(op.opcode, Opcode::Call | Opcode::HostCall))
        .collect();
    assert_eq!(
        calls,
        vec![
            Op::new(Opcode::Call, NO_REG, 0, 0),
            Op::new(Opcode::Call, 5, 1, 1),
            Op::new(Opcode::HostCall, NO_REG, 0, 2),
            Op::new(Opcode::HostCall, 1, 1, 0),
            Op::new(Opcode::HostCall, 2, 2, 3),
        ]
    );
    // Labels: `start` is op 0, `fwd` is the op on its line.
    let fwd = main
        .code
        .iter()
        .position(|op| op.opcode == Opcode::I2F)
        .unwrap() as u16;
    assert_eq!(
        main.code
            .iter()
            .find(|op| op.opcode == Opcode::JNe)
            .unwrap()
            .c,
        fwd
    );
    assert_eq!(
        main.code
            .iter()
            .find(|op| op.opcode == Opcode::JEq)
            .unwrap()
            .c,
        0
    );
}

#[test]
fn iconst_is_inline_exactly_when_it_fits_16_bits() {
    let m = parse("func main() -> none\n iconst i0, 32767\n iconst i0, -32769\n ret\nend").unwrap();
    assert_eq!(m.functions[0].code[0], Op::new(Opcode::IConst, 0, 32767, 0));
    assert_eq!(m.functions[0].code[1], Op::new(Opcode::IConstK, 0, 0, 0));
    assert_eq!(m.iconsts, vec![-32769]);
    let text = print(&m);
    assert!(
        text.contains("iconst i0, 32767\n") && text.contains("iconst i0, -32769\n"),
        "{text}"
    );
}

#[test]
fn regs_inference() {
    // Highest index named + 1, at least the parameter count, and enough for
    // the argument windows of calls (callee declared later).
    let src = "func main(i, i, f) -> none\n\
               \x20   mov i0, i1\n\
               \x20   call -, g, 4\n\
               \x20   rnull r2\n\
               \x20   ret\n\
               end\n\
               func g(i, r, i) -> none regs f=9\n\
               \x20   ret\n\
               end\n";
    let m = parse(src).unwrap();
    assert_eq!(m.functions[0].regs, [6, 1, 5]);
    assert_eq!(m.functions[1].regs, [2, 9, 1]);
}

#[test]
fn labels_forward_backward_and_on_the_op_line() {
    let src = "func main() -> none\ntop: jmp bottom\n    nop\nbottom: a: jmp top\nend_: ret\nend";
    let m = parse(src).unwrap();
    let code = &m.functions[0].code;
    assert_eq!(code[0], Op::new(Opcode::Jmp, 2, 0, 0));
    assert_eq!(code[2], Op::new(Opcode::Jmp, 0, 0, 0));
    assert_eq!(m.functions[0].lines, vec![2, 3, 4, 5]);
}

#[test]
fn label_at_the_end_names_the_index_after_the_last_op() {
    let m = round_trip("func main() -> none\n jmp out\nout:\nend");
    assert_eq!(m.functions[0].code, vec![Op::new(Opcode::Jmp, 1, 0, 0)]);
}

#[test]
fn crlf_comments_and_blank_input() {
    assert_eq!(parse(""), Ok(Module::default()));
    assert_eq!(parse("\n ; only a comment\n\n"), Ok(Module::default()));
    let m = parse("func main() -> none\r\n    ret ; bye\r\nend\r\n").unwrap();
    assert_eq!(m.functions[0].code, vec![Op::new(Opcode::Ret, 0, 0, 0)]);
    assert_eq!(m.functions[0].lines, vec![2]);
}

#[test]
fn float_literals() {
    let bits = |lit: &str| {
        let m = parse(&format!("func main() -> none\n fconst f0, {lit}\nend"))
            .unwrap_or_else(|e| panic!("{lit}: {e}"));
        m.fconsts[0]
    };
    assert_eq!(bits("1.5"), 1.5f64.to_bits());
    assert_eq!(bits("-1.5e-3"), (-1.5e-3f64).to_bits());
    assert_eq!(bits("1E5"), 1e5f64.to_bits());
    assert_eq!(bits("1."), 1.0f64.to_bits());
    assert_eq!(bits(".5"), 0.5f64.to_bits());
    assert_eq!(bits("-7"), (-7.0f64).to_bits());
    assert_eq!(bits("0x10"), 16.0f64.to_bits());
    assert_eq!(
        bits("123456789012345678901234567890"),
        123456789012345678901234567890f64.to_bits()
    );
    assert_eq!(bits("- inf"), f64::NEG_INFINITY.to_bits());
    assert_eq!(bits("bits:0xfff0000000000001"), 0xfff0000000000001);
    for v in [
        0.1,
        -0.0,
        5e-324,
        f64::MAX,
        f64::MIN_POSITIVE,
        1e16,
        123456.789,
    ] {
        assert_eq!(bits(&super::printer::format_f64(v.to_bits())), v.to_bits());
    }
    assert_eq!(super::printer::format_f64(f64::NAN.to_bits()), "nan");
    assert_eq!(
        super::printer::format_f64(0x7ff8000000000001),
        "bits:0x7ff8000000000001"
    );
    assert_eq!(
        super::printer::format_f64((-f64::NAN).to_bits()),
        format!("bits:{:#018x}", (-f64::NAN).to_bits())
    );
}

#[test]
fn call_result_register_bank() {
    // Any bank is accepted when the callee returns nothing (the verifier
    // rejects it); the callee's result bank otherwise.
    let m = parse("func main() -> none\n call f3, g, 0\n call -, h, 0\nend\nfunc g() -> none\nend\nfunc h() -> i\nend")
        .unwrap();
    assert_eq!(m.functions[0].code[0], Op::new(Opcode::Call, 3, 1, 0));
    assert_eq!(m.functions[0].code[1], Op::new(Opcode::Call, NO_REG, 2, 0));
    assert_err(
        "func main() -> none\n call f3, h, 0\nend\nfunc h() -> i\nend",
        2,
        7,
        "returns `i`",
    );
    assert_err(
        "import h() -> r\nfunc main() -> none\n hcall i0, h, 0\nend",
        3,
        8,
        "returns `r`",
    );
    assert_err(
        "func main() -> none\n call i65535, main, 0\nend",
        2,
        7,
        "call result",
    );
}

/// A switch table with a target past the code.
fn tierjit_table() -> crate::bytecode::SwitchTable {
    crate::bytecode::SwitchTable {
        targets: vec![1, 4000],
        default: 0,
    }
}

#[test]
fn printer_survives_bad_modules() {
    let f = Function {
        name: "main".into(),
        sig: Signature::new([Bank::F], None),
        param_defaults: vec![Some(3), Some(4), None],
        regs: [1, 1, 1],
        code: vec![
            Op::new(Opcode::IConstK, 0, 9, 0),
            Op::new(Opcode::FConst, 0, 9, 0),
            Op::new(Opcode::PrintS, 9, 0, 0),
            Op::new(Opcode::Jmp, 999, 0, 0),
            Op::new(Opcode::Call, 4, 77, 0),
            Op::new(Opcode::HostCall, 4, 77, 0),
            Op::new(Opcode::Call, 4, 0, 0),
            Op::new(Opcode::CallI, 5, 0, 0),
            Op::new(Opcode::GGetI, 0, 3, 0),
            Op::new(Opcode::Switch, 0, 8, 0),
            Op::new(Opcode::Switch, 0, 0, 0),
        ],
        lines: vec![],
        columns: vec![],
        switch_tables: vec![tierjit_table()],
    };
    let m = Module {
        functions: vec![f],
        ..Module::default()
    };
    let text = print(&m);
    for needle in [
        "?k9",
        "?kf9",
        "?s9",
        "?L999",
        "?fn77",
        "?imp77",
        "call i4, main, 0",
        "?t5",
        "?gi3",
        "?table8",
        "(L1, ?L4000), L0",
    ] {
        assert!(text.contains(needle), "{needle} not in\n{text}");
    }
    let _ = print_annotated(&m);
    assert!(parse(&text).is_err());
}

#[test]
fn annotated_listing() {
    let m = parse(FIB).unwrap();
    let text = print_annotated(&m);
    assert!(text.contains("; pc 0, line 3\n"), "{text}");
    assert!(text.contains("; pc 7, line 11\n"), "{text}");
}

// ---- errors: one test per kind, each checking line and column ----

#[test]
fn err_unknown_mnemonic() {
    assert_err(
        "func main() -> none\n    frob i0\nend",
        2,
        5,
        "unknown mnemonic `frob`",
    );
}

#[test]
fn err_op_or_junk_outside_a_function() {
    assert_err("\n  add i0, i1, i2", 2, 3, "outside a function");
    assert_err("fucn main() -> none", 1, 1, "expected `func`");
    assert_err("x:\n", 1, 1, "label `x` outside a function");
    assert_err(
        "func main() -> none\nend\n  end",
        3,
        3,
        "`end` without `func`",
    );
    assert_err("func main() -> none\n  42\nend", 2, 3, "expected an op");
}

#[test]
fn err_duplicate_label() {
    assert_err(
        "func main() -> none\nl: nop\n  l: nop\nend",
        3,
        3,
        "duplicate label `l`",
    );
}

#[test]
fn err_unknown_label() {
    assert_err(
        "func main() -> none\n  jmp nowhere\n  ret\nend",
        2,
        7,
        "unknown label `nowhere`",
    );
    // Labels are local to their function.
    assert_err(
        "func a() -> none\nx: ret\nend\nfunc main() -> none\n  jz i0, x\nend",
        5,
        10,
        "unknown label `x`",
    );
}

#[test]
fn err_unknown_function_and_import() {
    assert_err(
        "func main() -> none\n  call -, nothere, 0\nend",
        2,
        11,
        "unknown function `nothere`",
    );
    assert_err(
        "func main() -> none\n  hcall -, nothere, 0\nend",
        2,
        12,
        "unknown import `nothere`",
    );
    // Functions and imports are separate namespaces.
    assert_err(
        "import f() -> none\nfunc main() -> none\n  call -, f, 0\nend",
        3,
        11,
        "unknown function `f`",
    );
}

#[test]
fn err_wrong_register_bank() {
    assert_err(
        "func main() -> none\n  add i0, f1, i2\nend",
        2,
        11,
        "expected an `i` register, found `f1`",
    );
    assert_err(
        "func main() -> none\n  fmov f0, x1\nend",
        2,
        12,
        "expected an `f` register, found `x1`",
    );
    assert_err(
        "func main() -> none\n  call 3, main, 0\nend",
        2,
        8,
        "a register or `-`",
    );
}

#[test]
fn err_register_index_out_of_range() {
    assert_err(
        "func main() -> none\n  mov i0, i65536\nend",
        2,
        11,
        "above 65535",
    );
    assert_err(
        "func main() -> none\n  mov i0, i99999999999999999999999\nend",
        2,
        11,
        "above 65535",
    );
    assert!(parse("func main() -> none\n  mov i65535, i0\nend").is_ok());
}

#[test]
fn err_immediate_out_of_range() {
    assert_err(
        "func main() -> none\n  addi i0, i0, 32768\nend",
        2,
        16,
        "out of the 16-bit range",
    );
    assert_err(
        "func main() -> none\n  jlti i0, -32769, l\nl: ret\nend",
        2,
        12,
        "out of the 16-bit range",
    );
    assert_err(
        "func main() -> none\n  iconst i0, 9223372036854775808\nend",
        2,
        14,
        "does not fit 64 bits",
    );
    assert_err(
        "func main() -> none\n  iconst i0, -0x8000000000000001\nend",
        2,
        14,
        "does not fit 64 bits",
    );
    assert_err(
        "func main() -> none\n  iconst i0, 1.5\nend",
        2,
        14,
        "expected an integer",
    );
    assert_err(
        "func main() -> none\n  printf f0, 65536\nend",
        2,
        14,
        "0..=65535",
    );
    assert_err(
        "func main() -> none\n  call -, main, -1\nend",
        2,
        17,
        "0..=65535",
    );
}

#[test]
fn err_wrong_operand_count() {
    assert_err(
        "func main() -> none\n  add i0, i1\nend",
        2,
        3,
        "`add` takes 3 operands, found 2",
    );
    assert_err(
        "func main() -> none\n  add\nend",
        2,
        3,
        "`add` takes 3 operands, found 0",
    );
    assert_err(
        "func main() -> none\n  add i0, i1, i2, i3\nend",
        2,
        19,
        "`add` takes only 3 operands",
    );
    assert_err(
        "func main() -> none\n  ret i0\nend",
        2,
        7,
        "`ret` takes no operands",
    );
    assert_err(
        "func main() -> none\n  add i0 i1, i2\nend",
        2,
        10,
        "expected `,`",
    );
    assert_err(
        "func main() -> none\n  add i0, i1, i2 i3\nend",
        2,
        18,
        "expected `,` or end of line",
    );
    assert_err(
        "func main() -> none\n  add i0, i1,\nend",
        2,
        14,
        "expected an `i` register, found end of line",
    );
}

#[test]
fn err_duplicate_function_or_import() {
    assert_err(
        "func f() -> none\nend\nfunc  f() -> none\nend",
        3,
        7,
        "duplicate function `f`",
    );
    assert_err(
        "import h() -> none\nimport h(i) -> i",
        2,
        8,
        "duplicate import `h`",
    );
}

#[test]
fn err_strings_and_escapes() {
    assert_err(
        "func main() -> none\n  prints \"abc\nend",
        2,
        10,
        "unterminated string",
    );
    assert_err(
        "func main() -> none\n  prints \"ab\\\"\nend",
        2,
        10,
        "unterminated string",
    );
    assert_err(
        "func main() -> none\n  prints \"a\\qb\"\nend",
        2,
        12,
        "unknown escape `\\q`",
    );
    assert_err(
        "func main() -> none\n  prints \"a\\u{110000}\"\nend",
        2,
        12,
        "bad `\\u` escape",
    );
    assert_err(
        "func main() -> none\n  prints \"a\\u{}\"\nend",
        2,
        12,
        "bad `\\u` escape",
    );
    assert_err(
        "func main() -> none\n  prints \"a\\u0041\"\nend",
        2,
        12,
        "bad `\\u` escape",
    );
    assert_err(
        "func main() -> none\n  prints 5\nend",
        2,
        10,
        "expected a string",
    );
}

#[test]
fn err_unexpected_character() {
    assert_err(
        "func main() -> none\n  nop #\nend",
        2,
        7,
        "unexpected character '#'",
    );
    assert_err("func mäin() -> none\nend", 1, 7, "unexpected character");
}

#[test]
fn err_missing_end() {
    assert_err(
        "\nfunc main() -> none\n  ret\n",
        2,
        1,
        "function `main` has no `end`",
    );
    assert_err(
        "func a() -> none\n  ret\n  func b() -> none\nend",
        3,
        3,
        "expected `end` of function `a`",
    );
    assert_err(
        "func a() -> none\n  import b() -> none\nend",
        2,
        3,
        "before `import`",
    );
    assert_err(
        "func a() -> none\n  ret\nend junk",
        3,
        5,
        "expected end of line",
    );
}

#[test]
fn err_bad_headers() {
    assert_err(
        "func main(f=1.5) -> none\nend",
        1,
        11,
        "only `i` parameters may have defaults",
    );
    assert_err("import h(i=1) -> none", 1, 11, "cannot have defaults");
    assert_err(
        "func main(i,) -> none\nend",
        1,
        13,
        "expected a parameter bank",
    );
    assert_err("func main(x) -> none\nend", 1, 11, "expected a bank");
    assert_err("func main() -> q\nend", 1, 16, "expected a result bank");
    assert_err("func main() none\nend", 1, 13, "expected `->`");
    assert_err("func main() -> none regs i=1 i=2\nend", 1, 30, "twice");
    assert_err("func main() -> none regs i=70000\nend", 1, 28, "0..=65535");
    assert_err("func main() -> none regs\nend", 1, 25, "expected `i=N`");
    assert_err("func 5() -> none\nend", 1, 6, "expected a function name");
    assert_err(
        "func main(i=99999999999999999999) -> none\nend",
        1,
        13,
        "does not fit 64 bits",
    );
}

#[test]
fn err_bad_floats() {
    assert_err(
        "func main() -> none\n  fconst f0, 1.5.5\nend",
        2,
        14,
        "expected a float",
    );
    assert_err(
        "func main() -> none\n  fconst f0, bits:0x1ffffffffffffffff\nend",
        2,
        19,
        "does not fit 64 bits",
    );
    assert_err(
        "func main() -> none\n  fconst f0, bits:12\nend",
        2,
        19,
        "expected hex bits",
    );
    assert_err(
        "func main() -> none\n  fconst f0, - 5\nend",
        2,
        14,
        "expected a float",
    );
    assert_err(
        "func main() -> none\n  fconst f0, 1e5x\nend",
        2,
        14,
        "expected a float",
    );
}

#[test]
fn err_too_many_ops() {
    let mut src = String::from("func main() -> none\n");
    for _ in 0..65535 {
        src.push_str("nop\n");
    }
    let ok = format!("{src}end\n");
    assert_eq!(parse(&ok).unwrap().functions[0].code.len(), 65535);
    src.push_str("  nop\nend\n");
    assert_err(&src, 65537, 3, "more than 65535 ops");
}

#[test]
fn error_display_points_at_the_column() {
    let e = perr("func main() -> none\n  add i0, f1, i2\nend");
    assert_eq!(
        e.to_string(),
        "2:11: expected an `i` register, found `f1` (bank `f`)\n  |   add i0, f1, i2\n  |           ^"
    );
}

#[test]
fn import_signature_and_line() {
    let m = parse("\n; c\nimport put(i, f, r) -> none\nimport get() -> f\n").unwrap();
    assert_eq!(
        m.imports,
        vec![
            Import {
                name: "put".into(),
                sig: Signature::new([Bank::I, Bank::F, Bank::R], None),
                line: Some(3)
            },
            Import {
                name: "get".into(),
                sig: Signature::new([], Some(Bank::F)),
                line: Some(4)
            },
        ]
    );
    assert_eq!(
        print(&m),
        "import put(i, f, r) -> none\nimport get() -> f\n"
    );
}

// ---- integer literals ----

/// The ops of `main` parsed from `body` (one op per line).
#[track_caller]
fn ops_of(body: &str) -> (Vec<Op>, Module) {
    let m = round_trip(&format!("func main() -> none\n{body}\nL: ret\nend\n"));
    let mut code = m.functions[0].code.clone();
    code.pop();
    (code, m)
}

#[test]
fn hex_literals_are_64_bit_patterns() {
    let (code, m) = ops_of(
        "  iconst i0, 0x9E3779B97F4A7C15\n\
         \x20 iconst i0, 0xffffffffffffffff\n\
         \x20 iconst i0, 0x8000000000000000\n\
         \x20 iconst i0, -0x8000000000000000\n\
         \x20 iconst i0, 0X7FFFFFFFFFFFFFFF\n\
         \x20 iconst i0, 0x00000000000000000000ff\n\
         \x20 iconst i0, 0xffff\n\
         \x20 iconst i0, -0x7fff",
    );
    assert_eq!(
        m.iconsts,
        vec![0x9E37_79B9_7F4A_7C15_u64 as i64, i64::MIN, i64::MAX, 0xffff]
    );
    assert_eq!(
        code,
        vec![
            Op::new(Opcode::IConstK, 0, 0, 0),
            Op::new(Opcode::IConst, 0, 0xffff, 0), // -1 fits inline
            Op::new(Opcode::IConstK, 0, 1, 0),
            Op::new(Opcode::IConstK, 0, 1, 0),
            Op::new(Opcode::IConstK, 0, 2, 0),
            Op::new(Opcode::IConst, 0, 0xff, 0),
            Op::new(Opcode::IConstK, 0, 3, 0), // the 64-bit rule: 65535
            Op::new(Opcode::IConst, 0, (-0x7fff_i16) as u16, 0),
        ]
    );
    assert_eq!(m.iconsts[0], -7046029254386353131);
    // Defaults of `i` parameters take the same rule.
    let m = round_trip("func main(i=0xffffffffffffffff, i=-0x8000000000000000) -> none\nend");
    assert_eq!(
        m.functions[0].param_defaults,
        vec![Some(-1), Some(i64::MIN)]
    );
}

#[test]
fn integer_literals_that_do_not_fit_64_bits() {
    for (lit, why) in [
        ("-0x8000000000000001", "negative hex"),
        ("0x10000000000000000", "16 significant digits"),
        ("0x1ffffffffffffffff", "16 significant digits"),
        ("18446744073709551615", "decimal"),
        ("9223372036854775808", "decimal"),
        ("-9223372036854775809", "decimal"),
    ] {
        let src = format!("func main() -> none\n  iconst i0, {lit}\nend");
        assert_err(&src, 2, 14, "does not fit 64 bits");
        assert_err(&src, 2, 14, why);
        let src = format!("func main() -> none\n  addi i0, i0, {lit}\nend");
        assert_err(&src, 2, 16, "does not fit 64 bits");
        let src = format!("func main(i, i={lit}) -> none\nend");
        assert_err(&src, 1, 16, "does not fit 64 bits");
    }
}

#[test]
fn hex_immediates_are_16_bit_patterns() {
    let (code, m) = ops_of(
        "  andi i0, i0, 0xffff\n\
         \x20 ori i0, i0, 0x8000\n\
         \x20 xori i0, i0, 0x7fff\n\
         \x20 addi i0, i0, -0x8000\n\
         \x20 subi i0, i0, 0xffffffffffffffff\n\
         \x20 muli i0, i0, 0XFFFE\n\
         \x20 jlti i0, 0xfffe, L\n\
         \x20 gei i1, i0, 0x0000ffff\n\
         \x20 divi i1, i0, -32768",
    );
    let imm = |op: &Op| match op.opcode {
        Opcode::JLtI => op.b,
        _ => op.c,
    };
    assert_eq!(
        code.iter().map(imm).collect::<Vec<u16>>(),
        vec![
            0xffff, 0x8000, 0x7fff, 0x8000, 0xffff, 0xfffe, 0xfffe, 0xffff, 0x8000
        ]
    );
    assert!(m.iconsts.is_empty(), "immediates are never pooled");
    // The printer writes what the op sees, in decimal; it parses back to
    // the same bits (checked by `round_trip` in `ops_of`).
    let text = print(&m);
    assert!(text.contains("andi i0, i0, -1\n"), "{text}");
    assert!(text.contains("ori i0, i0, -32768\n"), "{text}");
    assert!(text.contains("jlti i0, -2, L"), "{text}");
}

#[test]
fn immediates_that_do_not_fit_16_bits() {
    for lit in [
        "32768",
        "-32769",
        "65535",
        "0x10000",
        "-0x8001",
        "-0xffff",
        "0xFFFF8000",
        "0x7fffffffffffffff",
        "0x8000000000000000",
    ] {
        let src = format!("func main() -> none\n  andi i0, i0, {lit}\nend");
        assert_err(&src, 2, 16, "out of the 16-bit range");
        assert_err(&src, 2, 16, &format!("`{lit}`"));
        let src = format!("func main() -> none\n  jgei i0, {lit}, l\nl: ret\nend");
        assert_err(&src, 2, 12, "out of the 16-bit range");
    }
}

#[test]
fn hex_counts_and_windows() {
    let m = parse(
        "func main() -> none regs i=0x10 f=0xffff r=0\n  printf f0, 0x9\n  call -, main, 0xf\nend",
    )
    .unwrap();
    assert_eq!(m.functions[0].regs, [16, 0xffff, 0]);
    assert_eq!(m.functions[0].code[0], Op::new(Opcode::PrintF, 0, 9, 0));
    assert_eq!(m.functions[0].code[1], Op::new(Opcode::Call, NO_REG, 0, 15));
    // 0xffffffffffffffff is -1, which is no count.
    assert_err(
        "func main() -> none\n  printf f0, 0xffffffffffffffff\nend",
        2,
        14,
        "must be in 0..=65535, found `0xffffffffffffffff`",
    );
    assert_err(
        "func main() -> none regs i=0x10000\nend",
        1,
        28,
        "0..=65535",
    );
}

#[test]
fn integer_literals_as_floats_take_the_i64_value() {
    let (_, m) = ops_of(
        "  fconst f0, 0xff\n  fconst f0, 0xffffffffffffffff\n  fconst f0, -0x8000000000000000",
    );
    assert_eq!(
        m.fconsts,
        vec![
            255f64.to_bits(),
            (-1f64).to_bits(),
            (i64::MIN as f64).to_bits()
        ]
    );
    assert_err(
        "func main() -> none\n  fconst f0, 0x10000000000000000\nend",
        2,
        14,
        "expected a float",
    );
}

#[test]
fn parse_int_literal_follows_the_text_rules() {
    for (s, v) in [
        ("0", 0),
        ("-0", 0),
        ("42", 42),
        ("-42", -42),
        ("0x2a", 42),
        ("0X2A", 42),
        ("-0x2a", -42),
        ("9223372036854775807", i64::MAX),
        ("-9223372036854775808", i64::MIN),
        ("0x9E3779B97F4A7C15", -7046029254386353131),
        ("0xffffffffffffffff", -1),
        ("0x8000000000000000", i64::MIN),
        ("-0x8000000000000000", i64::MIN),
        ("000000000000000000000000000007", 7),
    ] {
        assert_eq!(parse_int_literal(s), Ok(v), "{s}");
        // The same value in a file, as an `iconst` and as a default.
        let m = parse(&format!("func main(i={s}) -> none\n  iconst i0, {s}\nend")).unwrap();
        assert_eq!(m.functions[0].param_defaults, vec![Some(v)], "{s}");
        let op = m.functions[0].code[0];
        let got = match op.opcode {
            Opcode::IConst => i64::from(op.b as i16),
            _ => m.iconsts[usize::from(op.b)],
        };
        assert_eq!(got, v, "{s}");
    }
    for (s, needle) in [
        ("", "not an integer literal"),
        ("+5", "not an integer literal"),
        (" 5", "not an integer literal"),
        ("5 ", "not an integer literal"),
        ("1_000", "not an integer literal"),
        ("0x", "not an integer literal"),
        ("-", "not an integer literal"),
        ("--5", "not an integer literal"),
        ("0b101", "not an integer literal"),
        ("1.5", "not an integer literal"),
        ("1e3", "not an integer literal"),
        ("0xg", "not an integer literal"),
        ("five", "not an integer literal"),
        ("\u{663}", "not an integer literal"), // an Arabic-Indic digit
        ("9223372036854775808", "does not fit 64 bits"),
        ("-9223372036854775809", "does not fit 64 bits"),
        ("0x10000000000000000", "does not fit 64 bits"),
        ("-0x8000000000000001", "does not fit 64 bits"),
    ] {
        let e = parse_int_literal(s).unwrap_err();
        assert!(e.contains(needle), "{s:?}: {e}");
        // What the function rejects, a file rejects too (spaces around a
        // literal only separate tokens in a file).
        assert!(
            s.trim() != s || parse(&format!("func main() -> none\n  iconst i0, {s}\nend")).is_err(),
            "{s:?}"
        );
    }
    assert_eq!(
        parse_int_literal("0x10000000000000000").unwrap_err(),
        "integer `0x10000000000000000` does not fit 64 bits \
         (a hex literal has at most 16 significant digits)"
    );
}

// ---- parse_bytes ----

#[test]
fn parse_bytes_parses_utf8_like_parse() {
    for src in [FIB, EVERY_OP, "", "\u{feff}func main() -> none\r\nend\r\n"] {
        assert_eq!(parse_bytes(src.as_bytes()), parse(src));
    }
    let bad = "func main() -> none\n  frob\nend";
    assert_eq!(parse_bytes(bad.as_bytes()), parse(bad));
}

/// The error of `parse_bytes(bytes)`.
#[track_caller]
fn bytes_err(bytes: &[u8]) -> ParseError {
    match parse_bytes(bytes) {
        Ok(m) => panic!("expected an error, got {m:?}"),
        Err(e) => e,
    }
}

#[test]
fn parse_bytes_reports_the_first_invalid_byte() {
    // Line 3; before the bad byte: 2 spaces, `prints "`, `é`, an emoji:
    // 12 characters (15 bytes), so the bad byte is in column 13.
    let mut src = b"func main() -> none\r\n; \xc3\xa9\n  prints \"".to_vec();
    src.extend("é\u{1F600}".as_bytes());
    src.push(0xff);
    src.extend(b"\"\r\n\xfe end\n");
    let e = bytes_err(&src);
    assert_eq!((e.line, e.column), (3, 13), "{e}");
    assert_eq!(
        e.message,
        "invalid UTF-8 byte 0xff (.tj files are UTF-8 text)"
    );
    assert_eq!(e.source_line, "  prints \"é\u{1F600}\u{FFFD}\"");
    assert_eq!(
        e.to_string(),
        "3:13: invalid UTF-8 byte 0xff (.tj files are UTF-8 text)\n\
         \x20 |   prints \"é\u{1F600}\u{FFFD}\"\n\
         \x20 |             ^"
    );

    // The first byte of the file; a BOM counts as a column, as in `parse`.
    let e = bytes_err(b"\x80func");
    assert_eq!((e.line, e.column), (1, 1));
    assert!(e.message.contains("byte 0x80"), "{e}");
    let e = bytes_err(b"\xef\xbb\xbf\xc0\x80");
    assert_eq!((e.line, e.column), (1, 2));
    assert!(e.message.contains("byte 0xc0"), "{e}");
    // A lead byte without its continuation bytes: the lead byte.
    let e = bytes_err(b"\n\nab\xe2\x82x");
    assert_eq!((e.line, e.column), (3, 3));
    assert!(e.message.contains("byte 0xe2"), "{e}");
    // A surrogate encoded in UTF-8 is not UTF-8.
    let e = bytes_err(b"x\xed\xa0\x80");
    assert_eq!((e.line, e.column), (1, 2));
    assert!(e.message.contains("byte 0xed"), "{e}");
    // The file ends inside a character.
    let e = bytes_err(b"func main() -> none\nend\n\xf0\x9f\x98");
    assert_eq!((e.line, e.column), (3, 1));
    assert!(e.message.contains("byte 0xf0"), "{e}");
    assert!(e.message.contains("ends inside a character"), "{e}");
    // A bad byte right after a `\r` in the line counts the `\r`.
    let e = bytes_err(b"a\rb\xff");
    assert_eq!((e.line, e.column), (1, 4));
}

#[test]
fn parse_bytes_columns_agree_with_parse() {
    // `#` outside a string is a lex error at its column; put a bad byte in
    // the same place and the column is the same.
    let prefix = "func main() -> none\n\t\u{feff}prints \"é€\u{1F600}\", ";
    let e1 = perr(&format!("{prefix}#\nend"));
    let mut bytes = prefix.as_bytes().to_vec();
    bytes.push(0xfe);
    bytes.extend(b"\nend");
    let e2 = bytes_err(&bytes);
    assert_eq!((e1.line, e1.column), (e2.line, e2.column));
    assert_eq!((e2.line, e2.column), (2, 17));
}

// ---- hints for operands of the wrong kind ----

/// The message of the error `body` (one op in `main`) gives at line 2, `col`.
#[track_caller]
fn op_err(body: &str, col: u32) -> String {
    let src = format!("func main() -> none\n{body}\nL: ret\nend");
    let e = perr(&src);
    assert_eq!((e.line, e.column), (2, col), "{e}");
    e.message
}

#[test]
fn hint_a_constant_load_for_a_move_of_a_constant() {
    assert_eq!(
        op_err("  mov i0, 5", 11),
        "expected an `i` register, found `5`; `mov` copies a register: \
         to load a constant use `iconst i0, 5`"
    );
    // Any i64: iconst pools what does not fit 16 bits.
    assert!(
        op_err("  mov i3, 0x9E3779B97F4A7C15", 11).ends_with("use `iconst i3, 0x9E3779B97F4A7C15`")
    );
    assert!(op_err("  fmov f1, 2.5", 12).ends_with("to load a constant use `fconst f1, 2.5`"));
    assert!(op_err("  fmov f1, -inf", 12).ends_with("use `fconst f1, -inf`"));
    assert!(op_err("  fmov f1, 7", 12).ends_with("use `fconst f1, 7`"));
    // And the other way round.
    assert!(
        op_err("  iconst i0, i1", 14)
            .ends_with("`iconst` loads a constant: to copy a register use `mov i0, i1`")
    );
    assert!(op_err("  fconst f0, f1", 14).ends_with("to copy a register use `fmov f0, f1`"));
    // No hint where the other form would not take it.
    for (body, col) in [
        ("  mov i0, 1.5", 11),
        ("  fmov f0, i1", 12),
        ("  iconst i0, f1", 14),
        ("  rmov r0, 0", 12),
        ("  neg i0, 5", 11),
        ("  fneg f0, 2.5", 12),
        ("  i2f f0, 5", 11),
        ("  printi 5", 10),
    ] {
        let msg = op_err(body, col);
        assert!(!msg.contains("; "), "{body}: unexpected hint in {msg:?}");
    }
}

#[test]
fn hint_the_immediate_form() {
    assert_eq!(
        op_err("  jlt i0, 5, L", 11),
        "expected an `i` register, found `5`; `jlt` takes a register there: \
         for an immediate use `jlti i0, 5, L`"
    );
    assert!(op_err("  add i0, i1, -5", 15).ends_with("for an immediate use `addi i0, i1, -5`"));
    assert!(op_err("  ushr i0, i1, 0x3f", 16).ends_with("use `ushri i0, i1, 0x3f`"));
    assert!(op_err("  ge i0, i1, 0xffff", 14).ends_with("use `gei i0, i1, 0xffff`"));
    // Written as typed, labels before the op left out.
    assert!(op_err("x: y: add   i0,i1 ,  7 ; c", 22).ends_with("use `addi i0,i1 ,  7`"));
    // The other way round.
    assert!(
        op_err("  jnei i0, i1, L", 12)
            .ends_with("`jnei` takes an immediate there: for a register use `jne i0, i1, L`")
    );
    assert!(op_err("  muli i0, i1, i2", 16).ends_with("for a register use `mul i0, i1, i2`"));
    // A literal too wide for the immediate form: load it.
    assert_eq!(
        op_err("  add i0, i1, 100000", 15),
        "expected an `i` register, found `100000`; `add` takes a register there, \
         and `100000` does not fit the 16-bit immediate of `addi`: load it into \
         a free `i` register with `iconst`"
    );
    // No immediate form: no hint (fused branches take the immediate second).
    for (body, col) in [
        ("  jlt 5, i0, L", 7),
        ("  add i0, 5, i1", 11),
        ("  fadd f0, f1, 2.0", 16),
        ("  add i0, i1, f2", 15),
        ("  jz 0, L", 6),
        ("  addi i0, i1, f2", 16),
    ] {
        let msg = op_err(body, col);
        assert!(!msg.contains("; "), "{body}: unexpected hint in {msg:?}");
    }
}

#[test]
fn hint_iconst_for_an_immediate_out_of_range() {
    assert_eq!(
        op_err("  addi i0, i0, 100000", 16),
        "immediate `100000` is out of the 16-bit range (-32768..=32767, or \
         0x8000..=0xffff in hex as a bit pattern); load it into a free `i` \
         register with `iconst` and use the register form `add`"
    );
    assert!(op_err("  jgti i0, -40000, L", 12).ends_with("use the register form `jgt`"));
    assert!(op_err("  shli i0, i0, 0x10000", 16).ends_with("use the register form `shl`"));
    assert!(op_err("  nei i0, i0, 32768", 15).ends_with("use the register form `ne`"));
}

#[test]
fn counterparts_come_from_the_op_table() {
    // Every pair the hints use, found from the table, against the pairs
    // the op module's constructors name.
    let mut found = HashSet::new();
    for &x in Opcode::ALL {
        for &y in Opcode::ALL {
            for field in 0..3 {
                if super::parser::counterpart(x, y, field) {
                    found.insert((x, y, field));
                }
            }
        }
    }
    let mut expected = HashSet::new();
    let mut pair = |x: Opcode, y: Opcode, field: usize| {
        expected.insert((x, y, field));
        expected.insert((y, x, field));
    };
    for op in [
        IntBinOp::Add,
        IntBinOp::Sub,
        IntBinOp::Mul,
        IntBinOp::Div,
        IntBinOp::Rem,
        IntBinOp::And,
        IntBinOp::Or,
        IntBinOp::Xor,
        IntBinOp::Shl,
        IntBinOp::Shr,
        IntBinOp::Ushr,
    ] {
        pair(Opcode::int_rr(op), Opcode::int_ri(op), 2);
    }
    for cmp in [Cmp::Eq, Cmp::Ne, Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge] {
        pair(Opcode::cmp_rr(cmp), Opcode::cmp_ri(cmp), 2);
        pair(Opcode::branch_rr(cmp), Opcode::branch_ri(cmp), 1);
    }
    pair(Opcode::Mov, Opcode::IConst, 1);
    pair(Opcode::Mov, Opcode::IConstK, 1);
    pair(Opcode::FMov, Opcode::FConst, 1);
    pair(Opcode::Trap, Opcode::TrapI, 0);
    pair(Opcode::Rotl, Opcode::RotlI, 2);
    assert_eq!(found, expected);
}
