//! The typed builder: valid programs verify, misuse is an error (never a
//! panic), pools are deduplicated.

use tierjit::bytecode::op::{BitCount, Extension, FloatBinOp, FloatUnOp, IntBinOp};
use tierjit::bytecode::verify::verify;
use tierjit::bytecode::{
    AnyReg, Bank, BuildError, Cmp, FuncRef, IReg, Module, ModuleBuilder, NO_REG, Op, Opcode,
    Signature,
};

fn sig(params: &[Bank], result: Option<Bank>) -> Signature {
    Signature::new(params.to_vec(), result)
}

fn build_fib(mb: &mut ModuleBuilder, fib: FuncRef) {
    let mut f = mb.function(fib);
    let n = f.param_i(0);
    let (a, b) = (f.new_i(), f.new_i());
    let small = f.new_label();
    f.branch_imm(Cmp::Lt, n, 2, small);
    f.int_op_imm(IntBinOp::Sub, a, n, 1);
    f.call(fib, &[a.into()], a);
    f.int_op_imm(IntBinOp::Sub, b, n, 2);
    f.call(fib, &[b.into()], b);
    f.int_op(IntBinOp::Add, a, a, b);
    f.ret_i(a);
    f.bind(small);
    f.ret_i(n);
    f.finish().unwrap();
}

fn fib_module() -> Module {
    let mut mb = ModuleBuilder::new();
    let main = mb.declare_function("main", sig(&[Bank::I], None));
    let fib = mb.declare_function("fib", sig(&[Bank::I], Some(Bank::I)));
    let mut m = mb.function(main);
    m.set_default(0, 40);
    let n = m.param_i(0);
    let r = m.new_i();
    m.prints("fib(");
    m.printi(n);
    m.prints(") = ");
    m.call(fib, &[n.into()], r);
    m.printi(r);
    m.prints("\n");
    m.ret();
    m.finish().unwrap();
    build_fib(&mut mb, fib);
    mb.finish().unwrap()
}

#[test]
fn fib_builds_and_verifies() {
    let m = fib_module();
    verify(&m).unwrap();
    assert_eq!(m.functions[0].name, "main");
    assert_eq!(m.functions[0].param_defaults, vec![Some(40)]);
    let fib = &m.functions[1];
    // i0 = n, i1, i2 = a, b; the argument window is i3 above them.
    assert_eq!(fib.regs, [4, 0, 0]);
    use Opcode::*;
    let expected = [
        Op::new(JLtI, 0, 2, 9),
        Op::new(SubI, 1, 0, 1),
        Op::new(Mov, 3, 1, 0),
        Op::new(Call, 1, 1, 3),
        Op::new(SubI, 2, 0, 2),
        Op::new(Mov, 3, 2, 0),
        Op::new(Call, 2, 1, 3),
        Op::new(Add, 1, 1, 2),
        Op::new(RetI, 1, 0, 0),
        Op::new(RetI, 0, 0, 0),
    ];
    assert_eq!(fib.code, expected);
    // Strings are pooled once each, in first-use order.
    assert_eq!(m.strings, ["fib(", ") = ", "\n"]);
}

/// main(n): fill an i64 and an f64 array with squares and roots, sum them.
#[test]
fn loop_with_arrays_builds_and_verifies() {
    let mut mb = ModuleBuilder::new();
    let main = mb.declare_function("main", sig(&[Bank::I], Some(Bank::F)));
    let mut f = mb.function(main);
    let n = f.param_i(0);
    let (ai, af) = (f.new_r(), f.new_r());
    let (i, sq, sum) = (f.new_i(), f.new_i(), f.new_i());
    let (x, fsum) = (f.new_f(), f.new_f());
    f.new_array(Bank::I, ai, n);
    f.new_array(Bank::F, af, n);
    f.iconst(i, 0);
    f.iconst(sum, 0);
    f.fconst(fsum, 0.0);
    let (top, done) = (f.new_label(), f.new_label());
    f.bind(top);
    f.branch(Cmp::Ge, i, n, done);
    f.int_op(IntBinOp::Mul, sq, i, i);
    f.set_i(ai, i, sq);
    f.get_i(sq, ai, i);
    f.int_op(IntBinOp::Add, sum, sum, sq);
    f.i2f(x, i);
    f.float_unop(FloatUnOp::Sqrt, x, x);
    f.set_f(af, i, x);
    f.get_f(x, af, i);
    f.float_op(FloatBinOp::Add, fsum, fsum, x);
    f.int_op_imm(IntBinOp::Add, i, i, 1);
    f.jump(top);
    f.bind(done);
    f.len(i, af);
    f.printi(sum);
    f.printf(fsum, 6);
    f.ret_f(fsum);
    f.finish().unwrap();
    let m = mb.finish().unwrap();
    verify(&m).unwrap();
    let code = &m.functions[0].code;
    // The loop head is op 5, `done` is the `len`.
    assert_eq!(code[5].opcode, Opcode::JGe);
    assert_eq!(code[5].c as usize, code.len() - 4);
    assert_eq!(code[code.len() - 5], Op::new(Opcode::Jmp, 5, 0, 0));
    assert_eq!(m.functions[0].regs, [4, 2, 2]);
}

#[test]
fn every_op_family() {
    let mut mb = ModuleBuilder::new();
    let h = mb.declare_import("h", sig(&[Bank::F, Bank::I, Bank::R], Some(Bank::R)));
    let g = mb.declare_function("g", sig(&[Bank::R, Bank::F], None));
    let main = mb.declare_function("main", sig(&[], Some(Bank::I)));

    let mut f = mb.function(g);
    let (r, x) = (f.param_r(0), f.param_f(0));
    let i = f.new_i();
    f.f2i(i, x);
    let l = f.new_label();
    f.bind(l);
    f.jz(i, l);
    f.rnull(r);
    f.ret();
    f.finish().unwrap();

    let mut f = mb.function(main);
    let (i0, i1, i2) = (f.new_i(), f.new_i(), f.new_i());
    let (f0, f1) = (f.new_f(), f.new_f());
    let (r0, r1) = (f.new_r(), f.new_r());
    let end = f.new_label();
    f.nop();
    f.mov(i0, i1);
    f.mov(f0, f1);
    f.mov(r0, r1);
    f.neg(i0, i1);
    f.not(i0, i1);
    f.cmp(Cmp::Eq, i0, i1, i2);
    f.cmp_imm(Cmp::Ne, i0, i1, -3);
    f.fcmp(Cmp::Lt, i0, f0, f1);
    f.fbranch(Cmp::Le, f0, f1, end);
    f.jnz(i0, end);
    f.iconst(i2, 3);
    f.new_array(Bank::R, r0, i2);
    f.get_r(r1, r0, i1);
    f.set_r(r0, i1, r1);
    f.host_call(h, &[f0.into(), i2.into(), r1.into()], r1);
    f.host_call(h, &[f1.into(), i0.into(), r0.into()], None);
    f.call(g, &[r0.into(), f1.into()], None);
    f.bind(end);
    f.ret_i(i0);
    f.finish().unwrap();
    let m = mb.finish().unwrap();
    verify(&m).unwrap();
    // A discarded r result went into a fresh r register (r2); the window is
    // above every register of every bank (3 i, 2 f, 3 r).
    let main = &m.functions[1];
    assert_eq!(main.regs, [4, 4, 4]);
    let calls: Vec<&Op> = main
        .code
        .iter()
        .filter(|op| matches!(op.opcode, Opcode::Call | Opcode::HostCall))
        .collect();
    assert_eq!(calls.len(), 3);
    assert_eq!(*calls[0], Op::new(Opcode::HostCall, 1, 0, 3));
    assert_eq!(*calls[1], Op::new(Opcode::HostCall, 2, 0, 3));
    assert_eq!(*calls[2], Op::new(Opcode::Call, NO_REG, 0, 3));
}

/// The helper ALU's methods build the ops the text format names.
#[test]
fn alu_ops_build_what_the_text_parses() {
    let mut mb = ModuleBuilder::new();
    let main = mb.declare_function("main", sig(&[], None));
    let mut f = mb.function(main);
    let (i0, i1, i2) = (f.new_i(), f.new_i(), f.new_i());
    let (f0, f1, f2) = (f.new_f(), f.new_f(), f.new_f());
    let (r0, r1) = (f.new_r(), f.new_r());
    let end = f.new_label();
    f.udiv(i0, i1, i2);
    f.urem(i0, i1, i2);
    for cmp in [Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge, Cmp::Eq] {
        f.ucmp(cmp, i0, i1, i2);
    }
    for cmp in [Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge, Cmp::Ne] {
        f.ubranch(cmp, i0, i1, end);
    }
    for op in [BitCount::Popcnt, BitCount::Clz, BitCount::Ctz] {
        f.bit_count(op, i0, i1);
    }
    f.rotl(i0, i1, i2);
    f.rotr(i0, i1, i2);
    f.rotl_imm(i0, i1, -4);
    f.min(i0, i1, i2);
    f.max(i0, i1, i2);
    f.select(i0, i1, i2);
    f.select(f0, f1, i2);
    f.select(r0, r1, i2);
    for ext in Extension::ALL {
        f.extend(ext, i0, i1);
    }
    f.fma(f0, f1, f2);
    f.fmin(f0, f1, f2);
    f.fmax(f0, f1, f2);
    for op in [FloatUnOp::Ceil, FloatUnOp::Trunc, FloatUnOp::Round] {
        f.float_unop(op, f0, f1);
    }
    f.fcopysign(f0, f1, f2);
    f.fbits(i0, f1);
    f.bitsf(f0, i1);
    f.bind(end);
    f.ret();
    f.finish().unwrap();
    let built = mb.finish().unwrap();
    let text = tierjit::bytecode::text::parse(
        "func main() -> none
    udiv i0, i1, i2
    urem i0, i1, i2
    ult i0, i1, i2
    ule i0, i1, i2
    ugt i0, i1, i2
    uge i0, i1, i2
    eq i0, i1, i2
    jult i0, i1, end
    jule i0, i1, end
    jugt i0, i1, end
    juge i0, i1, end
    jne i0, i1, end
    popcnt i0, i1
    clz i0, i1
    ctz i0, i1
    rotl i0, i1, i2
    rotr i0, i1, i2
    rotli i0, i1, -4
    min i0, i1, i2
    max i0, i1, i2
    sel i0, i1, i2
    fsel f0, f1, i2
    rsel r0, r1, i2
    sext8 i0, i1
    sext16 i0, i1
    sext32 i0, i1
    zext8 i0, i1
    zext16 i0, i1
    zext32 i0, i1
    fma f0, f1, f2
    fmin f0, f1, f2
    fmax f0, f1, f2
    fceil f0, f1
    ftrunc f0, f1
    fround f0, f1
    fcopysign f0, f1, f2
    fbits i0, f1
    bitsf f0, i1
end:
    ret
end",
    )
    .unwrap();
    assert_eq!(built.functions[0].code, text.functions[0].code);
}

#[test]
fn raw_call_window() {
    let mut mb = ModuleBuilder::new();
    let fib = mb.declare_function("fib", sig(&[Bank::I], Some(Bank::I)));
    let main = mb.declare_function("main", sig(&[], Some(Bank::I)));
    build_fib(&mut mb, fib);
    let mut f = mb.function(main);
    let (r, arg) = (f.new_i(), f.new_i());
    f.iconst(arg, 10);
    f.call_window(fib, arg.0, r);
    f.ret_i(r);
    f.finish().unwrap();
    let m = mb.finish().unwrap();
    assert_eq!(m.functions[1].code[1], Op::new(Opcode::Call, 0, 0, 1));
    assert_eq!(m.functions[1].regs, [2, 0, 0]);

    // A window past the allocated registers is an error.
    let mut mb = ModuleBuilder::new();
    let fib = mb.declare_function("fib", sig(&[Bank::I], Some(Bank::I)));
    let mut f = mb.function(fib);
    let n = f.param_i(0);
    f.call_window(fib, 1, n);
    f.ret_i(n);
    let e = f.finish().unwrap_err();
    assert!(e.to_string().contains("needs i registers 1..2"), "{e}");
}

// ---- pools ----

#[test]
fn pools_are_deduplicated() {
    let mut mb = ModuleBuilder::new();
    let a = mb.declare_function("a", sig(&[], None));
    let b = mb.declare_function("b", sig(&[], None));
    for func in [a, b] {
        let mut f = mb.function(func);
        let (i, x) = (f.new_i(), f.new_f());
        for v in [1i64 << 40, -1 << 40, 1 << 40, i64::MIN, i64::MAX, i64::MIN] {
            f.iconst(i, v);
        }
        for v in [1.5, 0.0, -0.0, 1.5, f64::NAN, f64::NAN, f64::INFINITY] {
            f.fconst(x, v);
        }
        f.prints("x");
        f.prints("y");
        f.prints("x");
        f.ret();
        f.finish().unwrap();
    }
    let m = mb.finish().unwrap();
    assert_eq!(m.iconsts, [1 << 40, -1 << 40, i64::MIN, i64::MAX]);
    let bits: Vec<u64> = [1.5, 0.0, -0.0, f64::NAN, f64::INFINITY]
        .iter()
        .map(|v: &f64| v.to_bits())
        .collect();
    assert_eq!(m.fconsts, bits);
    assert_eq!(m.strings, ["x", "y"]);
    assert_eq!(m.functions[0].code, m.functions[1].code);
}

#[test]
fn small_integers_are_inline() {
    let mut mb = ModuleBuilder::new();
    let main = mb.declare_function("main", sig(&[], None));
    let mut f = mb.function(main);
    let i = f.new_i();
    for v in [0, -1, 32767, -32768, 32768, -32769] {
        f.iconst(i, v);
    }
    f.ret();
    f.finish().unwrap();
    let m = mb.finish().unwrap();
    use Opcode::{IConst, IConstK};
    let code = &m.functions[0].code;
    assert_eq!(code[0], Op::new(IConst, 0, 0, 0));
    assert_eq!(code[1], Op::new(IConst, 0, 0xffff, 0));
    assert_eq!(code[2], Op::new(IConst, 0, 0x7fff, 0));
    assert_eq!(code[3], Op::new(IConst, 0, 0x8000, 0));
    assert_eq!(code[4], Op::new(IConstK, 0, 0, 0));
    assert_eq!(code[5], Op::new(IConstK, 0, 1, 0));
    assert_eq!(m.iconsts, [32768, -32769]);
}

// ---- errors ----

/// Build `main() -> none` with `body`, returning the function's finish result.
fn try_main(
    body: impl FnOnce(&mut tierjit::bytecode::FunctionBuilder<'_>),
) -> Result<(), BuildError> {
    let mut mb = ModuleBuilder::new();
    let main = mb.declare_function("main", sig(&[], None));
    let mut f = mb.function(main);
    body(&mut f);
    f.finish()
}

#[test]
fn unbound_label() {
    let e = try_main(|f| {
        let l = f.new_label();
        f.jump(l);
    })
    .unwrap_err();
    assert_eq!(
        e,
        BuildError::UnboundLabel {
            function: "main".into(),
            label: 0
        }
    );
    // A label that is never used need not be bound.
    try_main(|f| {
        f.new_label();
        f.ret();
    })
    .unwrap();
}

#[test]
fn label_bound_twice() {
    let e = try_main(|f| {
        let l = f.new_label();
        f.bind(l);
        f.nop();
        f.bind(l);
        f.jump(l);
    })
    .unwrap_err();
    assert!(
        matches!(e, BuildError::LabelBoundTwice { label: 0, .. }),
        "{e}"
    );
}

#[test]
fn label_bound_at_end() {
    let e = try_main(|f| {
        let l = f.new_label();
        f.jump(l);
        f.bind(l);
    })
    .unwrap_err();
    // The last op is `jmp`, fine, but the label points past it.
    assert!(matches!(e, BuildError::LabelAtEnd { .. }), "{e}");
}

#[test]
fn label_of_another_function() {
    let mut mb = ModuleBuilder::new();
    let a = mb.declare_function("a", sig(&[], None));
    let b = mb.declare_function("b", sig(&[], None));
    let mut f = mb.function(a);
    let l = f.new_label();
    f.bind(l);
    f.jump(l);
    f.finish().unwrap();
    let mut f = mb.function(b);
    f.new_label();
    f.jump(l);
    let e = f.finish().unwrap_err();
    assert!(matches!(e, BuildError::ForeignLabel { .. }), "{e}");
}

#[test]
fn falls_off_the_end() {
    let e = try_main(|f| {
        let l = f.new_label();
        f.bind(l);
        f.ret();
        let i = f.new_i();
        f.jz(i, l);
    })
    .unwrap_err();
    assert_eq!(
        e,
        BuildError::FallsOffEnd {
            function: "main".into(),
            op: Opcode::Jz
        }
    );
    let e = try_main(|_| {}).unwrap_err();
    assert!(matches!(e, BuildError::EmptyFunction { .. }), "{e}");
}

#[test]
fn wrong_return_kind() {
    let e = try_main(|f| {
        let i = f.new_i();
        f.ret_i(i);
    })
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("`reti` in a function returning none"),
        "{e}"
    );
}

#[test]
fn unallocated_register() {
    let e = try_main(|f| {
        f.printi(IReg(0));
        f.ret();
    })
    .unwrap_err();
    assert_eq!(
        e,
        BuildError::UnallocatedRegister {
            function: "main".into(),
            reg: AnyReg::I(IReg(0))
        }
    );
}

#[test]
fn missing_parameter() {
    let e = try_main(|f| {
        let p = f.param_f(0);
        f.printf(p, 2);
        f.ret();
    })
    .unwrap_err();
    assert!(e.to_string().contains("no f parameter 0"), "{e}");
}

#[test]
fn default_on_non_i_parameter() {
    let mut mb = ModuleBuilder::new();
    let g = mb.declare_function("g", sig(&[Bank::I, Bank::F], None));
    let mut f = mb.function(g);
    f.set_default(1, 5);
    f.ret();
    assert!(f.finish().is_err());
    let mut f = mb.function(g);
    f.set_default(2, 5);
    f.ret();
    assert!(f.finish().is_err());
}

#[test]
fn printf_digits() {
    let e = try_main(|f| {
        let x = f.new_f();
        f.printf(x, 41);
        f.ret();
    })
    .unwrap_err();
    assert!(e.to_string().contains("41 digits"), "{e}");
}

#[test]
fn call_argument_and_result_banks_are_checked() {
    let mut mb = ModuleBuilder::new();
    let g = mb.declare_function("g", sig(&[Bank::I, Bank::F], Some(Bank::F)));
    let main = mb.declare_function("main", sig(&[], None));
    let try_call = |mb: &mut ModuleBuilder, swap: bool, dst_i: bool| {
        let mut f = mb.function(main);
        let (i, x) = (f.new_i(), f.new_f());
        let args: [AnyReg; 2] = if swap {
            [x.into(), i.into()]
        } else {
            [i.into(), x.into()]
        };
        let dst: AnyReg = if dst_i { i.into() } else { x.into() };
        f.call(g, &args, dst);
        f.ret();
        f.finish()
    };
    let e = try_call(&mut mb, true, false).unwrap_err();
    assert!(
        e.to_string()
            .contains("takes (i, f) -> f but the call passes (f, i)"),
        "{e}"
    );
    let e = try_call(&mut mb, false, true).unwrap_err();
    assert!(
        e.to_string()
            .contains("returns f but the call has result register i0"),
        "{e}"
    );
    try_call(&mut mb, false, false).unwrap();
}

#[test]
fn result_register_for_a_function_returning_none() {
    let mut mb = ModuleBuilder::new();
    let main = mb.declare_function("main", sig(&[], None));
    let mut f = mb.function(main);
    let i = f.new_i();
    f.call(main, &[], i);
    f.ret();
    let e = f.finish().unwrap_err();
    assert!(
        e.to_string()
            .contains("returns none but the call has result register i0"),
        "{e}"
    );
}

#[test]
fn undefined_function() {
    let mut mb = ModuleBuilder::new();
    mb.declare_function("main", sig(&[], None));
    assert_eq!(
        mb.finish().unwrap_err(),
        BuildError::Undefined("main".into())
    );
}

#[test]
fn abandoned_definition_is_undefined() {
    let mut mb = ModuleBuilder::new();
    let main = mb.declare_function("main", sig(&[], None));
    let mut f = mb.function(main);
    f.ret();
    drop(f);
    assert_eq!(
        mb.finish().unwrap_err(),
        BuildError::Undefined("main".into())
    );
}

#[test]
fn defined_twice() {
    let mut mb = ModuleBuilder::new();
    let main = mb.declare_function("main", sig(&[], None));
    for round in 0..2 {
        let mut f = mb.function(main);
        f.ret();
        let r = f.finish();
        if round == 0 {
            r.unwrap();
        } else {
            assert_eq!(r.unwrap_err(), BuildError::DefinedTwice("main".into()));
        }
    }
    mb.finish().unwrap();
}

#[test]
fn duplicate_and_empty_names() {
    let mut mb = ModuleBuilder::new();
    mb.declare_function("f", sig(&[], None));
    mb.declare_function("f", sig(&[], None));
    assert!(matches!(
        mb.finish().unwrap_err(),
        BuildError::DuplicateName {
            kind: "function",
            ..
        }
    ));
    let mut mb = ModuleBuilder::new();
    mb.declare_import("h", sig(&[], None));
    mb.declare_import("h", sig(&[], None));
    assert!(matches!(
        mb.finish().unwrap_err(),
        BuildError::DuplicateName { kind: "import", .. }
    ));
    let mut mb = ModuleBuilder::new();
    mb.declare_function("", sig(&[], None));
    assert!(matches!(mb.finish().unwrap_err(), BuildError::Module(_)));
}

#[test]
fn references_from_another_builder() {
    let mut other = ModuleBuilder::new();
    let foreign = other.declare_function("g", sig(&[], None));
    let foreign_h = other.declare_import("h", sig(&[], None));
    let mut mb = ModuleBuilder::new();
    let main = mb.declare_function("main", sig(&[], None));
    let mut f = mb.function(main);
    f.call(foreign, &[], None);
    f.ret();
    assert!(f.finish().is_err());
    let mut f = mb.function(main);
    f.host_call(foreign_h, &[], None);
    f.ret();
    assert!(f.finish().is_err());
    let mut f = mb.function(foreign);
    f.ret();
    assert!(f.finish().is_err());
}

#[test]
fn too_many_registers() {
    let e = try_main(|f| {
        for _ in 0..65536 {
            f.new_f();
        }
        f.ret();
    })
    .unwrap_err();
    assert!(
        matches!(e, BuildError::TooManyRegisters { bank: Bank::F, .. }),
        "{e}"
    );
    // 65535 is the limit, but then there is no room for a call window.
    let mut mb = ModuleBuilder::new();
    let g = mb.declare_function("g", sig(&[Bank::F], None));
    let mut f = mb.function(g);
    let x = f.param_f(0);
    for _ in 1..65535 {
        f.new_f();
    }
    f.call(g, &[x.into()], None);
    f.ret();
    let e = f.finish().unwrap_err();
    assert!(
        matches!(e, BuildError::TooManyRegisters { bank: Bank::F, .. }),
        "{e}"
    );
}

#[test]
fn too_many_ops() {
    let e = try_main(|f| {
        for _ in 0..65535 {
            f.nop();
        }
        f.ret();
    })
    .unwrap_err();
    assert!(
        matches!(e, BuildError::TooManyOps { count: 65536, .. }),
        "{e}"
    );
    try_main(|f| {
        for _ in 0..65534 {
            f.nop();
        }
        f.ret();
    })
    .unwrap();
}

#[test]
fn opcode_helpers_invert_the_table() {
    let ints = [
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
    ];
    for op in ints {
        assert_eq!(Opcode::int_rr(op).int_binop(), Some(op));
        assert_eq!(Opcode::int_ri(op).int_binop(), Some(op));
        assert_ne!(Opcode::int_rr(op), Opcode::int_ri(op));
    }
    let cmps = [Cmp::Eq, Cmp::Ne, Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge];
    for c in cmps {
        for opc in [
            Opcode::cmp_rr(c),
            Opcode::cmp_ri(c),
            Opcode::branch_rr(c),
            Opcode::branch_ri(c),
            Opcode::fcmp_rr(c),
            Opcode::fbranch_rr(c),
        ] {
            assert_eq!(opc.cmp(), Some(c), "{opc}");
        }
        assert_eq!(
            Opcode::branch_rr(c).operands()[1],
            tierjit::bytecode::Operand::Read(Bank::I)
        );
        assert_eq!(
            Opcode::branch_ri(c).operands()[1],
            tierjit::bytecode::Operand::Imm
        );
        assert_eq!(
            Opcode::cmp_ri(c).operands()[2],
            tierjit::bytecode::Operand::Imm
        );
        assert_eq!(
            Opcode::fcmp_rr(c).operands()[1],
            tierjit::bytecode::Operand::Read(Bank::F)
        );
        assert_eq!(
            Opcode::fbranch_rr(c).flow(),
            tierjit::bytecode::Flow::Branch
        );
    }
    for op in [
        FloatBinOp::Add,
        FloatBinOp::Sub,
        FloatBinOp::Mul,
        FloatBinOp::Div,
    ] {
        assert_eq!(Opcode::float_rr(op).float_binop(), Some(op));
    }
    for op in [
        FloatUnOp::Neg,
        FloatUnOp::Abs,
        FloatUnOp::Sqrt,
        FloatUnOp::Floor,
    ] {
        assert_eq!(Opcode::float_un(op).float_unop(), Some(op));
    }
}

/// Built programs run (on whatever tier the engine picks) with the expected
/// results: the argument windows the builder places are where the engine
/// reads them.
#[test]
fn built_programs_run() {
    use tierjit::{Config, Engine, Instance, Value};
    let engine = Engine::new(Config::new()).unwrap();

    let module = tierjit::Module::from_bytecode(&engine, fib_module()).unwrap();
    let mut instance = Instance::new(&module).unwrap();
    let r = instance.call("fib", &[Value::I(20)]).unwrap();
    assert!(matches!(r, Some(Value::I(6765))), "{r:?}");

    // Mixed-bank calls: g(f, i, f) -> f = f0 * i0 - f1, called with
    // arguments that are not in order in the caller's registers.
    let mut mb = ModuleBuilder::new();
    let g = mb.declare_function("g", sig(&[Bank::F, Bank::I, Bank::F], Some(Bank::F)));
    let main = mb.declare_function("main", sig(&[Bank::I], Some(Bank::F)));
    let mut f = mb.function(g);
    let (a, n, b) = (f.param_f(0), f.param_i(0), f.param_f(1));
    let t = f.new_f();
    f.i2f(t, n);
    f.float_op(FloatBinOp::Mul, t, t, a);
    f.float_op(FloatBinOp::Sub, t, t, b);
    f.ret_f(t);
    f.finish().unwrap();
    let mut f = mb.function(main);
    let n = f.param_i(0);
    let (x, y, r) = (f.new_f(), f.new_f(), f.new_f());
    f.fconst(x, 2.5);
    f.fconst(y, 0.5);
    f.call(g, &[y.into(), n.into(), x.into()], r); // 0.5 * n - 2.5
    f.call(g, &[r.into(), n.into(), y.into()], r); // r * n - 0.5
    f.ret_f(r);
    f.finish().unwrap();
    let module = tierjit::Module::from_bytecode(&engine, mb.finish().unwrap()).unwrap();
    let mut instance = Instance::new(&module).unwrap();
    let r = instance.call("main", &[Value::I(10)]).unwrap();
    assert!(matches!(r, Some(Value::F(v)) if v == 24.5), "{r:?}");
}

#[test]
fn user_traps_end_a_function_and_carry_their_code() {
    let mut mb = ModuleBuilder::new();
    let main = mb.declare_function("main", sig(&[Bank::I], Some(Bank::I)));
    let mut f = mb.function(main);
    let n = f.param_i(0);
    let (negative, zero) = (f.new_label(), f.new_label());
    f.branch_imm(Cmp::Lt, n, 0, negative);
    f.branch_imm(Cmp::Eq, n, 0, zero);
    f.ret_i(n);
    f.bind(negative);
    f.trap(n);
    f.bind(zero);
    // The last op: a trap ends a function as `ret` does.
    f.trap_imm(-9);
    f.finish().unwrap();
    let m = mb.finish().unwrap();
    verify(&m).unwrap();
    assert_eq!(m.functions[0].code[3], Op::new(Opcode::Trap, 0, 0, 0));
    assert_eq!(
        m.functions[0].code[4],
        Op::new(Opcode::TrapI, -9i16 as u16, 0, 0)
    );
    let engine = tierjit::Engine::new(tierjit::Config::new()).unwrap();
    let module = tierjit::Module::from_bytecode(&engine, m).unwrap();
    let mut instance = tierjit::Instance::new(&module).unwrap();
    for (arg, code) in [(-5, -5), (0, -9)] {
        match instance.call("main", &[tierjit::Value::I(arg)]) {
            Err(tierjit::Error::Trap(t)) => {
                assert_eq!((t.kind, t.user_code), (tierjit::TrapKind::User, Some(code)));
                assert_eq!(t.position, None, "built, not parsed: no source place");
            }
            other => panic!("expected a user trap, got {other:?}"),
        }
    }
    assert_eq!(
        instance.call("main", &[tierjit::Value::I(4)]).unwrap(),
        Some(tierjit::Value::I(4))
    );
}

/// Closures, indirect and tail calls through the builder: a closure adding
/// its environment's element, called with arguments placed by the builder;
/// a tail call and an indirect tail call; misuse is an error.
#[test]
fn functions_as_values() {
    use tierjit::bytecode::RReg;
    let mut mb = ModuleBuilder::new();
    let unary = mb.declare_type(sig(&[Bank::I], Some(Bank::I)));
    assert_eq!(mb.declare_type(sig(&[Bank::I], Some(Bank::I))), unary);
    let add_env = mb.declare_function("add_env", sig(&[Bank::I, Bank::R], Some(Bank::I)));
    let twice = mb.declare_function("twice", sig(&[Bank::R, Bank::I], Some(Bank::I)));
    let main = mb.declare_function("main", sig(&[Bank::I], Some(Bank::I)));
    {
        let mut f = mb.function(add_env);
        let (x, env) = (f.param_i(0), f.param_r(0));
        let (zero, v) = (f.new_i(), f.new_i());
        f.iconst(zero, 0);
        f.get_i(v, env, zero);
        f.int_op(IntBinOp::Add, x, x, v);
        f.ret_i(x);
        f.finish().unwrap();
    }
    {
        // twice(g, x) = g(g(x)), the second call in tail position
        let mut f = mb.function(twice);
        let (g, x) = (f.param_r(0), f.param_i(0));
        let y = f.new_i();
        f.call_indirect(unary, g, &[x.into()], AnyReg::I(y));
        f.tail_call_indirect(unary, g, &[y.into()]);
        f.finish().unwrap();
    }
    {
        let mut f = mb.function(main);
        let x = f.param_i(0);
        let (one, zero, k) = (f.new_i(), f.new_i(), f.new_i());
        let (env, clo): (RReg, RReg) = (f.new_r(), f.new_r());
        f.iconst(one, 1);
        f.iconst(zero, 0);
        f.iconst(k, 20);
        f.new_array(Bank::I, env, one);
        f.set_i(env, zero, k);
        f.closure(clo, add_env, env);
        f.tail_call(twice, &[clo.into(), x.into()]);
        f.finish().unwrap();
    }
    let m = mb.finish().expect("valid");
    verify(&m).unwrap();
    let ops: Vec<Opcode> = m.functions[1].code.iter().map(|op| op.opcode).collect();
    assert!(ops.contains(&Opcode::CallI) && ops.contains(&Opcode::TCallI));
    let mut inst = interp_instance(m);
    assert_eq!(
        inst.call("main", &[tierjit::Value::I(2)]).unwrap(),
        Some(tierjit::Value::I(42))
    );

    // Misuse: a closure of a function without an r parameter, a tail call
    // returning another bank, arguments of the wrong banks.
    let mut mb = ModuleBuilder::new();
    let ty = mb.declare_type(sig(&[Bank::I], Some(Bank::I)));
    let plain = mb.declare_function("plain", sig(&[Bank::I], Some(Bank::I)));
    let none = mb.declare_function("none", sig(&[], None));
    let mut f = mb.function(none);
    let r = f.new_r();
    f.closure(r, plain, r);
    assert!(
        matches!(f.finish(), Err(BuildError::Invalid { message, .. }) if message.contains("no `r` parameter"))
    );
    let mut f = mb.function(none);
    let x = f.new_i();
    f.tail_call(plain, &[x.into()]);
    assert!(
        matches!(f.finish(), Err(BuildError::Invalid { message, .. }) if message.contains("returning i in a function returning none"))
    );
    let mut f = mb.function(none);
    let r = f.new_r();
    f.call_indirect(ty, r, &[r.into()], None);
    assert!(
        matches!(f.finish(), Err(BuildError::Invalid { message, .. }) if message.contains("takes (i) -> i"))
    );
}

/// Globals and `switch` through the builder; misuse is an error.
#[test]
fn globals_and_switch() {
    let mut mb = ModuleBuilder::new();
    let total = mb.declare_global_i("total", 100);
    let scale = mb.declare_global_f("scale", 0.5);
    let last = mb.declare_global_r("last");
    let main = mb.declare_function("main", sig(&[Bank::I], Some(Bank::I)));
    let mut f = mb.function(main);
    let x = f.param_i(0);
    let (t, k) = (f.new_i(), f.new_i());
    let s = f.new_f();
    let r = f.new_r();
    let (zero, one, other, done) = (f.new_label(), f.new_label(), f.new_label(), f.new_label());
    f.global_get(t, total);
    f.global_get(s, scale);
    f.global_get(r, last);
    f.global_set(last, r);
    f.switch(x, &[zero, one], other);
    f.bind(zero);
    f.iconst(k, 10);
    f.jump(done);
    f.bind(one);
    f.iconst(k, 20);
    f.jump(done);
    f.bind(other);
    f.iconst(k, 30);
    f.bind(done);
    f.int_op(IntBinOp::Add, t, t, k);
    f.global_set(total, t);
    f.ret_i(t);
    f.finish().unwrap();
    let m = mb.finish().expect("valid");
    assert_eq!(m.globals.len(), 3);
    assert_eq!(m.functions[0].switch_tables[0].targets, vec![5, 7]);
    assert_eq!(m.functions[0].switch_tables[0].default, 9);
    let mut inst = interp_instance(m);
    let call = |inst: &mut tierjit::Instance, v| inst.call("main", &[tierjit::Value::I(v)]);
    assert_eq!(call(&mut inst, 1).unwrap(), Some(tierjit::Value::I(120)));
    assert_eq!(call(&mut inst, -4).unwrap(), Some(tierjit::Value::I(150)));
    assert_eq!(inst.global("total").unwrap(), tierjit::Value::I(150));
    inst.set_global("total", tierjit::Value::I(0)).unwrap();
    assert_eq!(call(&mut inst, 0).unwrap(), Some(tierjit::Value::I(10)));
    assert!(inst.set_global("total", tierjit::Value::F(1.0)).is_err());
    assert!(inst.global("nope").is_err());

    // Misuse: a global with a register of another bank, a switch target
    // before the switch.
    let mut mb = ModuleBuilder::new();
    let g = mb.declare_global_i("g", 0);
    let h = mb.declare_function("h", sig(&[], None));
    let mut f = mb.function(h);
    let s = f.new_f();
    f.global_get(s, g);
    assert!(
        matches!(f.finish(), Err(BuildError::Invalid { message, .. }) if message.contains("bank i used with a register of bank f"))
    );
    let mut f = mb.function(h);
    let (x, back) = (f.new_i(), f.new_label());
    f.bind(back);
    f.switch(x, &[back], back);
    let e = f.finish().and_then(|_| mb.finish().map(|_| ()));
    assert!(matches!(e, Err(BuildError::Verify(_))), "{e:?}");
}

/// An instance of `m` on the interpreter.
fn interp_instance(m: Module) -> tierjit::Instance {
    let mut config = tierjit::Config::new();
    config.tier(tierjit::Tier::Interp);
    let engine = tierjit::Engine::new(config).unwrap();
    let module = tierjit::Module::from_bytecode(&engine, m).unwrap();
    tierjit::Instance::new(&module).unwrap()
}

#[test]
fn byte_arrays_strings_and_bulk_ops_build() {
    let mut mb = ModuleBuilder::new();
    let main = mb.declare_function("main", sig(&[], None));
    let mut f = mb.function(main);
    let (s, b, fl, rs) = (f.new_r(), f.new_r(), f.new_r(), f.new_r());
    let (n, k, v) = (f.new_i(), f.new_i(), f.new_i());
    let run = f.new_i_run(3);
    let x = f.new_f();
    f.sconst(s, "abc");
    f.len(n, s);
    f.new_bytes(b, n);
    f.copy(b, s, run);
    f.fill_i(b, run, v);
    f.get_b(k, b, k);
    f.set_b(b, k, v);
    f.printb(b);
    f.new_array(Bank::F, fl, n);
    f.fill_f(fl, run, x);
    f.new_array(Bank::R, rs, n);
    f.fill_r(rs, run, b);
    f.ret();
    f.finish().unwrap();
    let m = mb.finish().unwrap();
    let code = &m.functions[0].code;
    assert_eq!(code[0], Op::new(Opcode::SConst, 0, 0, 0));
    assert_eq!(m.strings, ["abc"]);
    // The run is i3, i4, i5: its first register is the field.
    assert_eq!(code[3], Op::new(Opcode::Copy, 1, 0, 3));
    assert_eq!(code[4], Op::new(Opcode::FillI, 1, 3, 2));
    assert_eq!(m.functions[0].regs, [6, 1, 4]);
}

#[test]
fn a_register_run_must_be_allocated() {
    let e = try_main(|f| {
        let (a, first) = (f.new_r(), f.new_i());
        f.new_i();
        f.copy(a, a, first); // i0, i1 allocated, i2 not
        f.ret();
    })
    .unwrap_err();
    assert_eq!(
        e,
        BuildError::UnallocatedRegister {
            function: "main".into(),
            reg: AnyReg::I(IReg(2))
        }
    );
}

/// Structs through the builder: a parent and a child, inherited fields by
/// name, every struct op; misuse is an error.
#[test]
fn structs_and_reference_tests() {
    let mut mb = ModuleBuilder::new();
    let node = mb.declare_struct("Node", None, &[(Bank::I, "val"), (Bank::R, "next")]);
    let weighted = mb.declare_struct("Weighted", Some(node), &[(Bank::F, "w")]);
    let val = mb.field(weighted, "val");
    let next = mb.field(node, "next");
    let w = mb.field(weighted, "w");
    assert_eq!((val.index(), val.bank()), (0, Bank::I));
    assert_eq!((w.index(), w.bank()), (2, Bank::F));
    let main = mb.declare_function("main", sig(&[Bank::I], Some(Bank::I)));
    let mut f = mb.function(main);
    let x = f.param_i(0);
    let (a, b, t) = (f.new_r(), f.new_r(), f.new_r());
    let (k, y) = (f.new_i(), f.new_i());
    let fw = f.new_f();
    let (skip, done) = (f.new_label(), f.new_label());
    f.new_struct(a, weighted);
    f.field_set(a, val, x);
    f.new_struct(b, node);
    f.field_set(b, next, a);
    f.field_get(t, b, next);
    f.ref_eq(k, t, a); // 1
    f.field_get(y, t, val);
    f.int_op(IntBinOp::Add, k, k, y); // 1 + x
    f.isa(y, b, weighted); // 0
    f.int_op(IntBinOp::Add, k, k, y);
    f.isa(y, a, node); // 1
    f.int_op(IntBinOp::Add, k, k, y);
    f.field_get(fw, a, w);
    f.field_get(t, a, next); // null
    f.is_null(y, t);
    f.int_op(IntBinOp::Add, k, k, y); // 3 + x
    f.jnull(t, skip);
    f.iconst(k, -1);
    f.bind(skip);
    f.jnnull(a, done);
    f.iconst(k, -2);
    f.bind(done);
    f.ret_i(k);
    f.finish().unwrap();
    let m = mb.finish().expect("valid");
    assert_eq!(m.structs.len(), 2);
    let mut inst = interp_instance(m);
    let got = inst.call("main", &[tierjit::Value::I(39)]).unwrap();
    assert_eq!(got, Some(tierjit::Value::I(42)));

    // Misuse: an unknown field, a field with a register of another bank,
    // an inherited name declared again.
    let mut mb = ModuleBuilder::new();
    let s = mb.declare_struct("S", None, &[(Bank::I, "x")]);
    let _ = mb.field(s, "nope");
    assert!(matches!(mb.finish(), Err(BuildError::Module(m)) if m.contains("no field `nope`")));
    let mut mb = ModuleBuilder::new();
    let s = mb.declare_struct("S", None, &[(Bank::I, "x")]);
    let x = mb.field(s, "x");
    let main = mb.declare_function("main", sig(&[], None));
    let mut f = mb.function(main);
    let (r, v) = (f.new_r(), f.new_f());
    f.field_get(v, r, x);
    f.ret();
    assert!(
        matches!(f.finish(), Err(BuildError::Invalid { message, .. }) if message.contains("of bank i used with a register of bank f"))
    );
    let mut mb = ModuleBuilder::new();
    let s = mb.declare_struct("S", None, &[(Bank::I, "x")]);
    mb.declare_struct("T", Some(s), &[(Bank::F, "x")]);
    let main = mb.declare_function("main", sig(&[], None));
    let mut f = mb.function(main);
    f.ret();
    f.finish().unwrap();
    let e = mb.finish().unwrap_err();
    assert!(
        e.to_string()
            .contains("repeats a field of its ancestor `S`"),
        "{e}"
    );
}
