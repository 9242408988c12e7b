//! The verifier, on modules built directly as structs: one test per rule,
//! valid modules, and a property test that it never panics.

mod common;

use common::generate::{garbage_globals, garbage_structs, garbage_tables};
use proptest::prelude::*;
use tierjit::VerifyError;
use tierjit::bytecode::op::MAX_PRINTF_DIGITS;
use tierjit::bytecode::verify::verify;
use tierjit::bytecode::{
    Bank, FieldDecl, Function, Global, Import, Module, NO_REG, Op, Opcode, Operand, Signature,
    StructDecl, SwitchTable,
};

use Bank::{F, I, R};
use Opcode::*;

fn op(opcode: Opcode, a: u16, b: u16, c: u16) -> Op {
    Op::new(opcode, a, b, c)
}

fn func(
    name: &str,
    params: &[Bank],
    result: Option<Bank>,
    regs: [u16; 3],
    code: Vec<Op>,
) -> Function {
    Function {
        name: name.to_owned(),
        sig: Signature::new(params.to_vec(), result),
        param_defaults: Vec::new(),
        regs,
        code,
        lines: Vec::new(),
        columns: Vec::new(),
        switch_tables: Vec::new(),
    }
}

fn import(name: &str, params: &[Bank], result: Option<Bank>) -> Import {
    Import {
        name: name.to_owned(),
        sig: Signature::new(params.to_vec(), result),
        line: None,
    }
}

/// fib(i) -> i and main(i=40) -> none, as in docs/text-format.md.
fn fib_module() -> Module {
    let fib = func(
        "fib",
        &[I],
        Some(I),
        [3, 0, 0],
        vec![
            op(JLtI, 0, 2, 7),
            op(SubI, 1, 0, 1),
            op(Call, 1, 0, 1),
            op(SubI, 2, 0, 2),
            op(Call, 2, 0, 2),
            op(Add, 0, 1, 2),
            op(RetI, 0, 0, 0),
            op(RetI, 0, 0, 0),
        ],
    );
    let mut main = func(
        "main",
        &[I],
        None,
        [2, 0, 0],
        vec![
            op(PrintS, 0, 0, 0),
            op(PrintI, 0, 0, 0),
            op(PrintS, 1, 0, 0),
            op(Call, 1, 0, 0),
            op(PrintI, 1, 0, 0),
            op(PrintS, 2, 0, 0),
            op(Ret, 0, 0, 0),
        ],
    );
    main.param_defaults = vec![Some(40)];
    Module {
        functions: vec![fib, main],
        imports: Vec::new(),
        iconsts: Vec::new(),
        fconsts: Vec::new(),
        strings: vec!["fib(".into(), ") = ".into(), "\n".into()],
        types: Vec::new(),
        globals: Vec::new(),
        structs: Vec::new(),
    }
}

/// A module with one of every opcode, each with valid operands.
fn every_opcode_module() -> Module {
    // f0: (i, f, r) -> none; callee and import take (i, f, r) -> i.
    let regs = [4, 4, 4];
    let mut code = Vec::new();
    for &opc in Opcode::ALL {
        if opc.flow() == tierjit::bytecode::Flow::Return {
            continue;
        }
        let mut fields = [0u16; 3];
        for (k, kind) in opc.operands().iter().enumerate() {
            fields[k] = match kind {
                Operand::None => 0,
                Operand::Read(_) | Operand::Write(_) | Operand::Update(_) => 3,
                Operand::ReadRun(..) => 1,
                Operand::Imm => 0xffff,
                Operand::ConstI | Operand::ConstF | Operand::Str => 0,
                Operand::Target => 0,
                Operand::Func => 1,
                Operand::Host => 0,
                Operand::CallDst => 2,
                Operand::ArgWindow => 3,
                Operand::Count => MAX_PRINTF_DIGITS,
                Operand::Type | Operand::Global(_) | Operand::Table | Operand::Struct => 0,
                // `P`'s fields: i, f, r.
                Operand::Field(b) => b.index() as u16,
            };
        }
        code.push(op(opc, fields[0], fields[1], fields[2]));
    }
    code.push(op(Ret, 0, 0, 0));
    let ret = (code.len() - 1) as u16;
    let mut all = func("all", &[I, F, R], None, regs, code);
    all.switch_tables = vec![SwitchTable {
        targets: vec![ret, ret],
        default: ret,
    }];
    let callee = func(
        "callee",
        &[I, F, R],
        Some(I),
        [1, 1, 1],
        vec![op(RetI, 0, 0, 0)],
    );
    let retf = func("retf", &[], Some(F), [0, 1, 0], vec![op(RetF, 0, 0, 0)]);
    let retr = func("retr", &[], Some(R), [0, 0, 1], vec![op(RetR, 0, 0, 0)]);
    Module {
        functions: vec![all, callee, retf, retr],
        imports: vec![import("host", &[I, F, R], Some(I))],
        iconsts: vec![1 << 40],
        fconsts: vec![1.5f64.to_bits()],
        strings: vec!["s".into()],
        types: vec![Signature::new([I, F, R], Some(I))],
        globals: vec![
            Global {
                name: "gi".into(),
                bank: I,
                init: 5,
            },
            Global {
                name: "gf".into(),
                bank: F,
                init: 0,
            },
            Global {
                name: "gr".into(),
                bank: R,
                init: 0,
            },
        ],
        structs: vec![StructDecl {
            name: "P".into(),
            parent: None,
            fields: [I, F, R]
                .iter()
                .enumerate()
                .map(|(j, &bank)| FieldDecl {
                    name: format!("x{j}"),
                    bank,
                })
                .collect(),
        }],
    }
}

/// A module with one function `f` returning none with this code.
fn one(regs: [u16; 3], code: Vec<Op>) -> Module {
    Module {
        functions: vec![func("f", &[], None, regs, code)],
        ..Module::default()
    }
}

#[track_caller]
fn expect_err(m: &Module, function: Option<&str>, pc: Option<u32>, reason: &str) -> VerifyError {
    let e = verify(m).expect_err("module should be rejected");
    assert_eq!(e.function.as_deref(), function, "function of {e}");
    assert_eq!(e.pc, pc, "pc of {e}");
    assert!(
        e.reason.contains(reason),
        "reason {:?} should contain {reason:?}",
        e.reason
    );
    e
}

// ---- valid modules ----

#[test]
fn fib_module_verifies() {
    verify(&fib_module()).unwrap();
}

#[test]
fn every_opcode_verifies() {
    verify(&every_opcode_module()).unwrap();
}

#[test]
fn empty_module_verifies() {
    verify(&Module::default()).unwrap();
}

#[test]
fn call_window_only_constrains_banks_with_parameters() {
    // fib has no f registers, yet its window 1 is fine: the callee takes none.
    let m = fib_module();
    assert_eq!(m.functions[0].regs[F.index()], 0);
    verify(&m).unwrap();
}

// ---- module rules ----

#[test]
fn duplicate_function_name() {
    let mut m = fib_module();
    m.functions[1].name = "fib".into();
    expect_err(&m, Some("fib"), None, "duplicate function name `fib`");
}

#[test]
fn empty_function_name() {
    let mut m = fib_module();
    m.functions[1].name = String::new();
    expect_err(&m, Some(""), None, "empty name");
}

#[test]
fn duplicate_import_name() {
    let mut m = fib_module();
    m.imports = vec![import("h", &[], None), import("h", &[I], None)];
    m.imports[1].line = Some(7);
    let e = expect_err(&m, None, None, "duplicate import name `h`");
    assert_eq!(e.line, Some(7));
}

#[test]
fn empty_import_name() {
    let mut m = fib_module();
    m.imports = vec![import("", &[], None)];
    expect_err(&m, None, None, "empty name");
}

#[test]
fn function_and_import_may_share_a_name() {
    let mut m = fib_module();
    m.imports = vec![import("fib", &[], None)];
    verify(&m).unwrap();
}

#[test]
fn too_many_functions() {
    let f = func("x", &[], None, [0; 3], vec![op(Ret, 0, 0, 0)]);
    let mut m = Module::default();
    for i in 0..=65535u32 {
        let mut f = f.clone();
        f.name = format!("f{i}");
        m.functions.push(f);
    }
    expect_err(&m, None, None, "65536 functions");
    m.functions.pop();
    verify(&m).unwrap();
}

#[test]
fn too_many_imports() {
    let mut m = Module::default();
    for i in 0..=65535u32 {
        m.imports.push(import(&format!("h{i}"), &[], None));
    }
    expect_err(&m, None, None, "65536 imports");
    m.imports.pop();
    verify(&m).unwrap();
}

#[test]
fn import_with_too_many_parameters() {
    let mut m = Module::default();
    m.imports.push(import("h", &vec![F; 65536], None));
    expect_err(&m, None, None, "65536 f parameters");
}

#[test]
fn imports_are_checked_before_functions() {
    let mut m = fib_module();
    m.functions[0].code[0].flags = 1;
    m.imports = vec![import("h", &[], None), import("h", &[], None)];
    expect_err(&m, None, None, "duplicate import");
}

#[test]
fn functions_and_ops_are_checked_in_order() {
    let mut m = fib_module();
    m.functions[0].code[5].flags = 1;
    m.functions[0].code[3].a = 99;
    m.functions[1].code[0].flags = 1;
    expect_err(&m, Some("fib"), Some(3), "register i99");
}

// ---- function rules ----

#[test]
fn empty_function() {
    let m = one([0; 3], vec![]);
    expect_err(&m, Some("f"), None, "no ops");
}

#[test]
fn too_many_ops() {
    let mut code = vec![op(Nop, 0, 0, 0); 65535];
    code.push(op(Ret, 0, 0, 0));
    let m = one([0; 3], code);
    expect_err(&m, Some("f"), None, "65536 ops");
    let mut code = vec![op(Nop, 0, 0, 0); 65534];
    code.push(op(Jmp, 65534, 0, 0));
    verify(&one([0; 3], code)).unwrap();
}

#[test]
fn fewer_registers_than_parameters() {
    for bank in Bank::ALL {
        // Two parameters of `bank` and one of each bank.
        let mut regs = [1u16; 3];
        regs[bank.index()] = 2;
        let params = [bank, I, F, R];
        let m = Module {
            functions: vec![func("g", &params, None, regs, vec![op(Ret, 0, 0, 0)])],
            ..Module::default()
        };
        verify(&m).unwrap();
        regs[bank.index()] = 1;
        let m = Module {
            functions: vec![func("g", &params, None, regs, vec![op(Ret, 0, 0, 0)])],
            ..Module::default()
        };
        let want = format!("2 {bank} parameters but only 1 {bank} registers");
        expect_err(&m, Some("g"), None, &want);
    }
}

#[test]
fn param_defaults_length() {
    let mut m = fib_module();
    m.functions[1].param_defaults = vec![Some(1), None];
    expect_err(
        &m,
        Some("main"),
        None,
        "2 parameter defaults for 1 parameters",
    );
    m.functions[1].param_defaults = vec![None];
    verify(&m).unwrap();
}

#[test]
fn param_default_on_non_i_parameter() {
    let mut f = func("g", &[I, F], None, [1, 1, 0], vec![op(Ret, 0, 0, 0)]);
    f.param_defaults = vec![Some(1), Some(2)];
    let mut m = Module {
        functions: vec![f],
        ..Module::default()
    };
    expect_err(&m, Some("g"), None, "parameter 1 is of bank f");
    m.functions[0].param_defaults = vec![Some(1), None];
    verify(&m).unwrap();
}

// ---- op rules ----

#[test]
fn nonzero_flags() {
    let mut m = fib_module();
    m.functions[0].code[1].flags = 0x80;
    expect_err(&m, Some("fib"), Some(1), "flags 0x80");
}

#[test]
fn register_read_out_of_range() {
    let mut m = fib_module();
    m.functions[0].code[5].c = 3;
    expect_err(
        &m,
        Some("fib"),
        Some(5),
        "register i3 out of range (function has 3 i registers)",
    );
}

#[test]
fn register_write_out_of_range() {
    let m = one([1, 1, 1], vec![op(FAdd, 1, 0, 0), op(Ret, 0, 0, 0)]);
    expect_err(
        &m,
        Some("f"),
        Some(0),
        "register f1 out of range (function has 1 f registers)",
    );
    let m = one([1, 1, 0], vec![op(RNull, 0, 0, 0), op(Ret, 0, 0, 0)]);
    expect_err(
        &m,
        Some("f"),
        Some(0),
        "register r0 out of range (function has 0 r registers)",
    );
    let m = one([4, 1, 1], vec![op(Add, 65535, 0, 0), op(Ret, 0, 0, 0)]);
    expect_err(&m, Some("f"), Some(0), "register i65535");
}

#[test]
fn bank_of_each_field_comes_from_the_table() {
    // geti writes i, reads r and i: an r index valid only as i is rejected.
    let m = one([5, 0, 1], vec![op(GetI, 0, 3, 0), op(Ret, 0, 0, 0)]);
    expect_err(&m, Some("f"), Some(0), "register r3");
    // setf reads f in field C.
    let m = one([5, 0, 1], vec![op(SetF, 0, 0, 0), op(Ret, 0, 0, 0)]);
    expect_err(&m, Some("f"), Some(0), "register f0");
}

#[test]
fn iconst_pool_index_out_of_range() {
    let mut m = one([1, 0, 0], vec![op(IConstK, 0, 1, 0), op(Ret, 0, 0, 0)]);
    m.iconsts = vec![5];
    expect_err(
        &m,
        Some("f"),
        Some(0),
        "i64 constant 1 out of range (module has 1",
    );
    m.iconsts.push(6);
    verify(&m).unwrap();
}

#[test]
fn fconst_pool_index_out_of_range() {
    let m = one([0, 1, 0], vec![op(FConst, 0, 0, 0), op(Ret, 0, 0, 0)]);
    expect_err(
        &m,
        Some("f"),
        Some(0),
        "f64 constant 0 out of range (module has 0",
    );
}

#[test]
fn string_index_out_of_range() {
    let mut m = fib_module();
    m.strings.pop();
    expect_err(
        &m,
        Some("main"),
        Some(5),
        "string 2 out of range (module has 2",
    );
}

#[test]
fn register_run_out_of_range() {
    // `copy` reads i[c], i[c+1], i[c+2]: the whole run must exist.
    let ok = one([3, 0, 2], vec![op(Copy, 0, 1, 0), op(Ret, 0, 0, 0)]);
    verify(&ok).expect("i0..i2 exist");
    let m = one([3, 0, 2], vec![op(Copy, 0, 1, 1), op(Ret, 0, 0, 0)]);
    expect_err(
        &m,
        Some("f"),
        Some(0),
        "`copy` reads i registers 1..4 but function has 3",
    );
    // The last register of a run past the largest index: no overflow.
    let m = one([3, 0, 1], vec![op(FillI, 0, u16::MAX, 0), op(Ret, 0, 0, 0)]);
    expect_err(
        &m,
        Some("f"),
        Some(0),
        "`filli` reads i registers 65535..65537 but function has 3",
    );
    let m = one([2, 1, 1], vec![op(FillF, 0, 1, 0), op(Ret, 0, 0, 0)]);
    expect_err(
        &m,
        Some("f"),
        Some(0),
        "`fillf` reads i registers 1..3 but function has 2",
    );
}

#[test]
fn jump_target_out_of_range() {
    let mut m = fib_module();
    m.functions[0].code[0].c = 8;
    expect_err(
        &m,
        Some("fib"),
        Some(0),
        "jump target 8 out of range (function has 8 ops)",
    );
    let m = one([1, 0, 0], vec![op(Jz, 0, 99, 0), op(Ret, 0, 0, 0)]);
    expect_err(
        &m,
        Some("f"),
        Some(0),
        "jump target 99 out of range (function has 2 ops)",
    );
    let m = one([0; 3], vec![op(Jmp, 1, 0, 0)]);
    expect_err(&m, Some("f"), Some(0), "jump target 1");
}

#[test]
fn function_index_out_of_range() {
    let mut m = fib_module();
    m.functions[1].code[3].b = 2;
    expect_err(
        &m,
        Some("main"),
        Some(3),
        "function index 2 out of range (module has 2 functions)",
    );
}

#[test]
fn import_index_out_of_range() {
    let mut m = fib_module();
    m.functions[1].code[3].opcode = HostCall;
    expect_err(
        &m,
        Some("main"),
        Some(3),
        "import index 0 out of range (module has 0 imports)",
    );
}

#[test]
fn unused_fields_must_be_zero() {
    let m = one([0; 3], vec![op(Ret, 0, 0, 1)]);
    expect_err(&m, Some("f"), Some(0), "unused field C of `ret` is 1");
    let m = one([1, 0, 0], vec![op(Neg, 0, 0, 7), op(Ret, 0, 0, 0)]);
    expect_err(&m, Some("f"), Some(0), "field C");
    let m = one([0; 3], vec![op(Jmp, 0, 1, 0)]);
    expect_err(&m, Some("f"), Some(0), "field B");
    let m = one([0; 3], vec![op(Nop, 1, 0, 0), op(Ret, 0, 0, 0)]);
    expect_err(&m, Some("f"), Some(0), "field A");
}

#[test]
fn printf_digit_count() {
    let m = one(
        [0, 1, 0],
        vec![op(PrintF, 0, MAX_PRINTF_DIGITS, 0), op(Ret, 0, 0, 0)],
    );
    verify(&m).unwrap();
    let m = one(
        [0, 1, 0],
        vec![op(PrintF, 0, MAX_PRINTF_DIGITS + 1, 0), op(Ret, 0, 0, 0)],
    );
    expect_err(&m, Some("f"), Some(0), "digit count 41");
}

#[test]
fn immediates_take_any_value() {
    let m = one(
        [1, 0, 0],
        vec![
            op(IConst, 0, 0x8000, 0),
            op(AddI, 0, 0, 0xffff),
            op(JEqI, 0, 0x7fff, 3),
            op(Ret, 0, 0, 0),
        ],
    );
    verify(&m).unwrap();
}

// ---- calls ----

#[test]
fn call_window_too_high() {
    let mut m = fib_module();
    m.functions[0].code[2].c = 3;
    expect_err(
        &m,
        Some("fib"),
        Some(2),
        "call to `fib` needs i registers 3..4 but function has 3",
    );
}

#[test]
fn call_window_does_not_overflow() {
    let mut m = fib_module();
    m.functions[0].code[2].c = 65535;
    m.functions[0].regs = [65535, 0, 0];
    expect_err(&m, Some("fib"), Some(2), "needs i registers 65535..65536");
}

#[test]
fn call_window_checks_every_bank_with_parameters() {
    let callee = func("g", &[F, R, F], None, [0, 2, 1], vec![op(Ret, 0, 0, 0)]);
    let caller = |regs| {
        func(
            "f",
            &[],
            None,
            regs,
            vec![op(Call, NO_REG, 0, 1), op(Ret, 0, 0, 0)],
        )
    };
    let mut m = Module {
        functions: vec![callee, caller([0, 3, 2])],
        ..Module::default()
    };
    verify(&m).unwrap();
    m.functions[1] = caller([0, 2, 2]);
    expect_err(
        &m,
        Some("f"),
        Some(0),
        "needs f registers 1..3 but function has 2",
    );
    m.functions[1] = caller([0, 3, 1]);
    expect_err(
        &m,
        Some("f"),
        Some(0),
        "needs r registers 1..2 but function has 1",
    );
}

#[test]
fn host_call_window() {
    let mut m = one(
        [2, 0, 0],
        vec![op(HostCall, NO_REG, 0, 1), op(Ret, 0, 0, 0)],
    );
    m.imports = vec![import("h", &[I, I], None)];
    expect_err(
        &m,
        Some("f"),
        Some(0),
        "host call to `h` needs i registers 1..3 but function has 2",
    );
    m.functions[0].regs[0] = 3;
    verify(&m).unwrap();
}

#[test]
fn call_result_of_callee_returning_none() {
    let mut m = one([2, 0, 0], vec![op(HostCall, 1, 0, 0), op(Ret, 0, 0, 0)]);
    m.imports = vec![import("h", &[], None)];
    expect_err(
        &m,
        Some("f"),
        Some(0),
        "returns none, so it has no result register",
    );
}

#[test]
fn call_result_missing() {
    let mut m = fib_module();
    m.functions[1].code[3].a = NO_REG;
    expect_err(
        &m,
        Some("main"),
        Some(3),
        "call to `fib` returns i but has no result register",
    );
}

#[test]
fn call_result_out_of_range() {
    let mut m = fib_module();
    m.functions[1].code[3].a = 2;
    expect_err(
        &m,
        Some("main"),
        Some(3),
        "register i2 out of range (function has 2 i registers)",
    );
    // The result bank is the callee's: an f result checks f registers.
    let mut m = one([5, 0, 0], vec![op(HostCall, 0, 0, 0), op(Ret, 0, 0, 0)]);
    m.imports = vec![import("h", &[], Some(F))];
    expect_err(&m, Some("f"), Some(0), "register f0 out of range");
}

// ---- returns ----

#[test]
fn typed_return_in_function_returning_none() {
    let m = one([1, 0, 0], vec![op(RetI, 0, 0, 0)]);
    expect_err(
        &m,
        Some("f"),
        Some(0),
        "`reti` in a function returning none",
    );
}

#[test]
fn ret_in_function_returning_a_value() {
    let mut m = fib_module();
    m.functions[0].code[7] = op(Ret, 0, 0, 0);
    expect_err(&m, Some("fib"), Some(7), "`ret` in a function returning i");
}

#[test]
fn return_of_the_wrong_bank() {
    let mut m = fib_module();
    m.functions[0].regs = [3, 1, 1];
    m.functions[0].code[7] = op(RetF, 0, 0, 0);
    expect_err(&m, Some("fib"), Some(7), "`retf` in a function returning i");
    m.functions[0].code[7] = op(RetR, 0, 0, 0);
    expect_err(&m, Some("fib"), Some(7), "`retr` in a function returning i");
}

// ---- falling off the end ----

#[test]
fn last_op_falls_through() {
    let m = one([1, 0, 0], vec![op(Ret, 0, 0, 0), op(AddI, 0, 0, 1)]);
    expect_err(&m, Some("f"), Some(1), "last op `addi` can fall through");
    let m = one([1, 0, 0], vec![op(Nop, 0, 0, 0)]);
    expect_err(&m, Some("f"), Some(0), "fall through");
}

#[test]
fn last_op_is_a_branch() {
    let m = one([1, 0, 0], vec![op(Ret, 0, 0, 0), op(Jnz, 0, 0, 0)]);
    expect_err(&m, Some("f"), Some(1), "last op `jnz` can fall through");
    let m = one([1, 0, 0], vec![op(Ret, 0, 0, 0), op(JEqI, 0, 0, 0)]);
    expect_err(&m, Some("f"), Some(1), "`jeqi`");
}

#[test]
fn last_op_is_a_call() {
    let mut m = fib_module();
    m.functions[1].code.truncate(4);
    expect_err(&m, Some("main"), Some(3), "last op `call`");
}

// ---- lines ----

#[test]
fn line_comes_from_the_function() {
    let mut m = fib_module();
    m.functions[0].lines = (10..18).collect();
    m.functions[0].code[4].b = 9;
    let e = expect_err(&m, Some("fib"), Some(4), "function index 9");
    assert_eq!(e.line, Some(14));
    let text = e.to_string();
    assert!(
        text.contains("`fib`") && text.contains("op 4") && text.contains("line 14"),
        "{text}"
    );
}

#[test]
fn no_line_without_lines() {
    let mut m = fib_module();
    m.functions[0].code[4].b = 9;
    assert_eq!(verify(&m).unwrap_err().line, None);
    // Short or missing line tables do not confuse the verifier.
    m.functions[0].lines = vec![1, 2];
    assert_eq!(verify(&m).unwrap_err().line, None);
}

// ---- never panics ----

fn arb_bank() -> impl Strategy<Value = Bank> {
    prop_oneof![Just(I), Just(F), Just(R)]
}

fn arb_sig() -> impl Strategy<Value = Signature> {
    (
        prop::collection::vec(arb_bank(), 0..5),
        prop::option::of(arb_bank()),
    )
        .prop_map(|(p, r)| Signature::new(p, r))
}

/// A field: usually small (so some ops are valid), sometimes anything.
fn arb_field() -> impl Strategy<Value = u16> {
    prop_oneof![
        6 => 0u16..6,
        1 => Just(NO_REG),
        1 => Just(u16::MAX - 1),
        1 => any::<u16>(),
    ]
}

fn arb_op() -> impl Strategy<Value = Op> {
    (
        0..Opcode::ALL.len(),
        prop_oneof![9 => Just(0u8), 1 => any::<u8>()],
        arb_field(),
        arb_field(),
        arb_field(),
    )
        .prop_map(|(k, flags, a, b, c)| Op {
            opcode: Opcode::ALL[k],
            flags,
            a,
            b,
            c,
        })
}

fn arb_function() -> impl Strategy<Value = Function> {
    (
        prop_oneof![
            Just("f".to_owned()),
            Just("main".to_owned()),
            Just(String::new()),
            "[a-c]{1,2}"
        ],
        arb_sig(),
        prop::collection::vec(prop::option::of(any::<i64>()), 0..4),
        [arb_field(), arb_field(), arb_field()],
        prop::collection::vec(arb_op(), 0..12),
        prop::collection::vec(any::<u32>(), 0..12),
    )
        .prop_map(|(name, sig, param_defaults, regs, code, lines)| Function {
            name,
            sig,
            param_defaults,
            regs,
            code,
            columns: lines.iter().map(|l| l.rotate_left(7)).collect(),
            switch_tables: garbage_tables(&lines),
            lines,
        })
}

fn arb_module() -> impl Strategy<Value = Module> {
    (
        prop::collection::vec(arb_function(), 0..4),
        prop::collection::vec(
            ("[a-c]{0,2}", arb_sig(), prop::option::of(any::<u32>()))
                .prop_map(|(name, sig, line)| Import { name, sig, line }),
            0..3,
        ),
        prop::collection::vec(any::<i64>(), 0..3),
        prop::collection::vec(any::<u64>(), 0..3),
        prop::collection::vec(".{0,3}", 0..3),
        prop::collection::vec(arb_sig(), 0..3),
    )
        .prop_map(
            |(functions, imports, iconsts, fconsts, strings, types)| Module {
                functions,
                imports,
                iconsts,
                fconsts,
                globals: garbage_globals(&strings),
                structs: garbage_structs(&strings),
                strings,
                types,
            },
        )
}

/// The invariants engines rely on, checked independently of the verifier.
fn engine_invariants_hold(m: &Module) -> bool {
    m.functions.iter().all(|f| {
        let counts = f.sig.param_counts();
        Bank::ALL
            .iter()
            .all(|b| counts[b.index()] <= f.regs[b.index()])
            && !f.code.is_empty()
            && matches!(
                f.code.last().unwrap().opcode.flow(),
                tierjit::bytecode::Flow::Jump
                    | tierjit::bytecode::Flow::Return
                    | tierjit::bytecode::Flow::Trap
            )
            && f.code.iter().enumerate().all(|(pc, op)| {
                op.flags == 0
                    && op
                        .opcode
                        .operands()
                        .iter()
                        .zip(op.fields())
                        .all(|(k, v)| match k {
                            Operand::Read(b) | Operand::Write(b) | Operand::Update(b) => {
                                v < f.regs[b.index()]
                            }
                            Operand::ReadRun(b, n) => {
                                u32::from(v) + u32::from(*n) <= u32::from(f.regs[b.index()])
                            }
                            Operand::Target => (v as usize) < f.code.len(),
                            Operand::Func => (v as usize) < m.functions.len(),
                            Operand::Host => (v as usize) < m.imports.len(),
                            Operand::ConstI => (v as usize) < m.iconsts.len(),
                            Operand::ConstF => (v as usize) < m.fconsts.len(),
                            Operand::Str => (v as usize) < m.strings.len(),
                            Operand::Type => (v as usize) < m.types.len(),
                            Operand::Global(b) => (v as usize) < m.global_counts()[b.index()],
                            Operand::Struct => (v as usize) < m.structs.len(),
                            Operand::Field(b) => m.field(v as usize).is_some_and(|x| {
                                x.decl.bank == *b
                                    && m.structs[x.owner]
                                        .parent
                                        .is_none_or(|p| usize::from(p) < x.owner)
                            }),
                            Operand::Table => f.switch_tables.get(v as usize).is_some_and(|t| {
                                t.all_targets()
                                    .all(|x| (x as usize) < f.code.len() && x as usize > pc)
                            }),
                            Operand::None => v == 0,
                            _ => true,
                        })
                    && indirect_call_fits(m, f, op)
            })
    })
}

/// A `calli`'s window holds its type's parameters and its result register
/// exists; a tail call returns what its function returns; a `closure`'s
/// function has an environment parameter.
fn indirect_call_fits(m: &Module, f: &Function, op: &Op) -> bool {
    let fits = |sig: &Signature, window: u16| {
        let counts = sig.param_counts();
        Bank::ALL.iter().all(|b| {
            let n = counts[b.index()];
            n == 0 || u32::from(window) + u32::from(n) <= u32::from(f.regs[b.index()])
        })
    };
    match op.opcode {
        CallI => m
            .types
            .get(usize::from(op.a))
            .is_some_and(|t| fits(t, op.c) && t.result.is_none_or(|b| op.c < f.regs[b.index()])),
        TCallI => m
            .types
            .get(usize::from(op.a))
            .is_some_and(|t| fits(t, op.c) && t.result == f.sig.result),
        TCall => m
            .functions
            .get(usize::from(op.a))
            .is_some_and(|g| fits(&g.sig, op.b) && g.sig.result == f.sig.result),
        Closure => m
            .functions
            .get(usize::from(op.b))
            .is_some_and(|g| g.sig.params.contains(&R)),
        _ => true,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn verify_never_panics_on_garbage(m in arb_module()) {
        if verify(&m).is_ok() {
            prop_assert!(engine_invariants_hold(&m));
        }
    }

    #[test]
    fn verify_never_panics_on_mutations(
        pick in any::<prop::sample::Index>(),
        field in 0usize..4,
        value in arb_field(),
        opcode in 0..Opcode::ALL.len(),
    ) {
        let mut m = every_opcode_module();
        let f = &mut m.functions[0];
        let pc = pick.index(f.code.len());
        match field {
            3 => f.code[pc].opcode = Opcode::ALL[opcode],
            k => f.code[pc].set_field(k, value),
        }
        if verify(&m).is_ok() {
            prop_assert!(engine_invariants_hold(&m));
        }
    }
}

/// The rules of functions as values: types distinct and in range, an
/// indirect call's result register inside its window's bank, tail calls
/// that return what their function returns, closures of functions with an
/// environment parameter.
#[test]
fn indirect_and_tail_calls_are_checked() {
    let unary = Signature::new([I], Some(I));
    let with = |types: Vec<Signature>, f: Function, g: Function| Module {
        functions: vec![f, g],
        types,
        ..Module::default()
    };
    let g = || func("g", &[I], Some(I), [1, 0, 0], vec![op(RetI, 0, 0, 0)]);
    let ok = with(
        vec![unary.clone()],
        func(
            "f",
            &[I],
            Some(I),
            [2, 0, 1],
            vec![op(FRef, 0, 1, 0), op(CallI, 0, 0, 1), op(TCallI, 0, 0, 0)],
        ),
        g(),
    );
    verify(&ok).expect("valid");

    let dup = with(vec![unary.clone(), unary.clone()], g(), g());
    expect_err(&dup, None, None, "repeats type 0");

    let mut m = ok.clone();
    m.functions[0].code[1] = op(CallI, 1, 0, 1);
    expect_err(&m, Some("f"), Some(1), "type index 1 out of range");

    // The result goes to register `window` of the result bank.
    let mut m = ok.clone();
    m.functions[0].code[1] = op(CallI, 0, 0, 2);
    expect_err(&m, Some("f"), Some(1), "i registers 2..3");
    let mut m = ok.clone();
    m.types = vec![Signature::new([], Some(F))];
    m.functions[0].code[1] = op(CallI, 0, 0, 1);
    expect_err(&m, Some("f"), Some(1), "result of an indirect call");

    // A tail call returns what its function returns.
    let mut m = ok.clone();
    m.functions[0].sig.result = Some(F);
    m.functions[0].code[2] = op(TCall, 1, 0, 0);
    m.functions[0].regs[1] = 1;
    expect_err(
        &m,
        Some("f"),
        Some(2),
        "returning i in a function returning f",
    );

    // A closure's function takes its environment as an r parameter.
    let mut m = ok.clone();
    m.functions[0].code[0] = op(Closure, 0, 1, 0);
    expect_err(&m, Some("f"), Some(0), "no `r` parameter");
}

/// Globals: unique non-empty names, reference globals start null, ops name
/// globals of their bank in range. Switch tables: in range, forward.
#[test]
fn globals_and_switch_tables_are_checked() {
    let g = |name: &str, bank: Bank, init: u64| Global {
        name: name.into(),
        bank,
        init,
    };
    let code = vec![
        op(GGetI, 0, 1, 0),
        op(GSetF, 0, 0, 0),
        op(Switch, 0, 0, 0),
        op(Ret, 0, 0, 0),
        op(Ret, 0, 0, 0),
    ];
    let mut ok = one([1, 1, 0], code);
    ok.globals = vec![g("a", I, 1), g("b", F, 0), g("c", I, 7)];
    ok.functions[0].switch_tables = vec![SwitchTable {
        targets: vec![3, 4, 3],
        default: 4,
    }];
    verify(&ok).expect("valid");

    let mut m = ok.clone();
    m.globals.push(g("a", R, 0));
    expect_err(&m, None, None, "duplicate global name `a`");
    let mut m = ok.clone();
    m.globals.push(g("r", R, 8));
    expect_err(&m, None, None, "reference globals start null");
    let mut m = ok.clone();
    m.functions[0].code[0] = op(GGetI, 0, 2, 0);
    expect_err(&m, Some("f"), Some(0), "i global 2 out of range");
    let mut m = ok.clone();
    m.functions[0].code[1] = op(GSetF, 1, 0, 0);
    expect_err(&m, Some("f"), Some(1), "f global 1 out of range");

    let mut m = ok.clone();
    m.functions[0].code[2] = op(Switch, 0, 1, 0);
    expect_err(&m, Some("f"), Some(2), "switch table 1 out of range");
    let mut m = ok.clone();
    m.functions[0].switch_tables[0].targets[1] = 2;
    expect_err(&m, Some("f"), Some(2), "not after the switch");
    let mut m = ok.clone();
    m.functions[0].switch_tables[0].default = 5;
    expect_err(&m, Some("f"), Some(2), "switch target 5 out of range");
    // A switch ends a function (it never falls through).
    let mut m = ok.clone();
    m.functions[0].code.truncate(3);
    m.functions[0].switch_tables[0] = SwitchTable {
        targets: vec![],
        default: 3,
    };
    expect_err(&m, Some("f"), Some(2), "switch target 3 out of range");
}

/// Structs: unique non-empty names, parents declared first, field names
/// unique within a struct and its ancestors; ops name structs in range and
/// fields in range of their bank.
#[test]
fn struct_declarations_and_field_operands_are_checked() {
    let field = |name: &str, bank: Bank| FieldDecl {
        name: name.into(),
        bank,
    };
    let st = |name: &str, parent: Option<u16>, fields: Vec<FieldDecl>| StructDecl {
        name: name.into(),
        parent,
        fields,
    };
    // Fields: 0 A.x (i), 1 A.next (r), 2 B.w (f), 3 C.x (i).
    let code = vec![
        op(SNew, 0, 1, 0),
        op(SGetI, 0, 0, 0),
        op(SSetF, 0, 2, 0),
        op(Isa, 0, 0, 2),
        op(SGetR, 0, 0, 1),
        op(Ret, 0, 0, 0),
    ];
    let mut ok = one([1, 1, 1], code);
    ok.structs = vec![
        st("A", None, vec![field("x", I), field("next", R)]),
        st("B", Some(0), vec![field("w", F)]),
        st("C", None, vec![field("x", I)]),
    ];
    verify(&ok).expect("valid");

    let mut m = ok.clone();
    m.structs[2].name = "A".into();
    expect_err(&m, None, None, "duplicate struct name `A`");
    let mut m = ok.clone();
    m.structs[1].name = String::new();
    expect_err(&m, None, None, "struct 1 has an empty name");
    // A parent after its child, itself, or nowhere: no cycles possible.
    for p in [1, 2, 9] {
        let mut m = ok.clone();
        m.structs[1].parent = Some(p);
        expect_err(&m, None, None, "a parent must be declared before");
    }
    let mut m = ok.clone();
    m.structs[1].fields.push(field("w", I));
    expect_err(&m, None, None, "duplicate field `w` in struct `B`");
    let mut m = ok.clone();
    m.structs[1].fields.push(field("next", R));
    expect_err(&m, None, None, "repeats a field of its ancestor `A`");
    let mut m = ok.clone();
    m.structs[0].fields[0].name = String::new();
    expect_err(&m, None, None, "field 0 of struct `A` has an empty name");
    let mut m = ok.clone();
    m.structs[0].fields[0].name = "a.b".into();
    expect_err(&m, None, None, "has a `.` in its name");

    let mut m = ok.clone();
    m.functions[0].code[0] = op(SNew, 0, 3, 0);
    expect_err(&m, Some("f"), Some(0), "struct 3 out of range");
    let mut m = ok.clone();
    m.functions[0].code[3] = op(Isa, 0, 0, 3);
    expect_err(&m, Some("f"), Some(3), "struct 3 out of range");
    let mut m = ok.clone();
    m.functions[0].code[1] = op(SGetI, 0, 0, 4);
    expect_err(&m, Some("f"), Some(1), "field 4 out of range");
    // A field of another bank than the op's.
    let mut m = ok.clone();
    m.functions[0].code[1] = op(SGetI, 0, 0, 2);
    expect_err(&m, Some("f"), Some(1), "needs a field of bank i");
    let mut m = ok.clone();
    m.functions[0].code[2] = op(SSetF, 0, 1, 0);
    expect_err(&m, Some("f"), Some(2), "needs a field of bank f");
    let mut m = ok.clone();
    m.functions[0].code[4] = op(SGetR, 0, 0, 3);
    expect_err(&m, Some("f"), Some(4), "needs a field of bank r");
    // Registers of the op's banks.
    let mut m = ok.clone();
    m.functions[0].code[1] = op(SGetI, 0, 1, 0);
    expect_err(&m, Some("f"), Some(1), "register r1 out of range");
}
