//! Entry at loop headers (on-stack replacement): the interpreter runs a
//! call until its own activation jumps back to a loop header, then the
//! Cranelift tier continues from the same frame. Result, f64 bits, output
//! and traps must be what the interpreter alone gives.

mod common;
mod differential;

use common::programs::{load, op_programs, suite_program};
use tierjit::bytecode::loop_headers;
use tierjit::{Config, Engine, Error, Instance, Module, SharedOutput, Tier, Value, bytecode};

/// Run `func` with the switch at `header` on its `nth` arrival.
fn run_with_osr(
    module: &bytecode::Module,
    func: &str,
    args: &[Value],
    header: u32,
    nth: u64,
) -> (differential::Outcome, bool) {
    let engine = Engine::new(differential::base_config(Tier::Template)).expect("engine");
    let module = Module::from_bytecode(&engine, module.clone()).expect("module verifies");
    let mut instance = differential::deterministic_hosts(module.bytecode())
        .instantiate(&module)
        .expect("instance");
    let out = SharedOutput::new();
    instance.set_output(out.clone());
    let (result, trap, switched) = match instance.call_with_osr(func, args, header, nth) {
        Ok((v, switched)) => (Ok(v), None, switched),
        Err(Error::Trap(t)) => (Err((t.kind, t.func_name.clone(), t.pc)), Some(t), true),
        Err(e) => panic!("call failed outside a trap: {e}"),
    };
    let outcome = differential::Outcome {
        result,
        trap,
        output: out.take_string(),
    };
    (outcome, switched)
}

/// Every loop header of `func`, entered on the 1st, 2nd and 7th arrival,
/// agrees with the interpreter. Returns how many runs switched tier.
fn check_every_header(module: &bytecode::Module, func: &str, args: &[Value]) -> usize {
    let oracle = differential::run_on(differential::base_config(Tier::Interp), module, func, args);
    let idx = module.function_index(func).expect("function");
    let mut switched = 0;
    for header in loop_headers(&module.functions[idx].code) {
        for nth in [1, 2, 7] {
            let (got, did) = run_with_osr(module, func, args, header, nth);
            assert!(
                oracle.same_as(&got),
                "`{func}`{args:?} entered at op {header} (arrival {nth}) disagrees:\n  interp: {oracle:?}\n  osr: {got:?}"
            );
            switched += usize::from(did);
        }
    }
    switched
}

#[test]
fn suite_programs_continue_in_cranelift_at_every_loop_header() {
    let sizes: &[(&str, &[i64])] = &[
        ("loop", &[1000]),
        ("sieve", &[1000, 3]),
        ("nbody", &[100]),
        ("mandelbrot", &[40, 20]),
        ("spectralnorm", &[20]),
        ("matmul", &[12]),
    ];
    for (name, args) in sizes {
        let module = suite_program(name);
        let args: Vec<Value> = args.iter().map(|&v| Value::I(v)).collect();
        let switched = check_every_header(&module, "main", &args);
        assert!(switched > 0, "{name}: no run switched to Cranelift");
    }
}

#[test]
fn op_programs_continue_in_cranelift_at_every_loop_header() {
    for path in op_programs() {
        let module = load(&path);
        check_every_header(&module, "main", &[]);
    }
}

#[test]
fn every_bank_and_the_heap_survive_the_switch() {
    // Loop-carried i64, f64 and reference registers, an allocation (and so
    // possibly a collection) after the switch, and a value computed before
    // the loop that is only read after it.
    let src = "
        func main(i) -> f
            fconst f0, 0.5
            fconst f1, 0.0
            iconst i1, 0
            iconst i5, 77
            newf r0, i0
        top:
            jge i1, i0, done
            i2f f2, i1
            fmul f2, f2, f0
            fadd f1, f1, f2
            setf r0, i1, f1
            newi r1, i1
            addi i1, i1, 1
            jmp top
        done:
            len i2, r0
            add i2, i2, i5
            i2f f3, i2
            fadd f1, f1, f3
            subi i3, i0, 1
            getf f4, r0, i3
            fadd f1, f1, f4
            retf f1
        end
    ";
    let module = bytecode::text::parse(src).expect("parses");
    assert!(check_every_header(&module, "main", &[Value::I(50)]) > 0);
}

#[test]
fn traps_after_the_switch_name_the_op() {
    // Division by zero on the 6th iteration, and an index out of bounds.
    let src = "
        func main(i) -> i
            iconst i1, 0
            iconst i2, 0
            newi r0, i0
        top:
            jge i1, i0, done
            subi i3, i1, 5
            divi i4, i0, 1
            div i4, i4, i3
            add i2, i2, i4
            addi i1, i1, 1
            jmp top
        done:
            geti i5, r0, i1
            reti i2
        end
    ";
    let module = bytecode::text::parse(src).expect("parses");
    for n in [3, 10] {
        assert!(check_every_header(&module, "main", &[Value::I(n)]) > 0);
    }
}

#[test]
fn nested_loops_switch_at_the_inner_and_the_outer_header() {
    let src = "
        func main(i) -> i
            iconst i1, 0
            iconst i4, 0
        outer:
            jge i1, i0, done
            iconst i2, 0
        inner:
            jge i2, i1, next
            mul i3, i1, i2
            xor i4, i4, i3
            addi i2, i2, 1
            jmp inner
        next:
            addi i1, i1, 1
            jmp outer
        done:
            reti i4
        end
    ";
    let module = bytecode::text::parse(src).expect("parses");
    let headers = loop_headers(&module.functions[0].code);
    assert_eq!(headers.len(), 2, "two loop headers: {headers:?}");
    assert!(check_every_header(&module, "main", &[Value::I(30)]) > 0);
}

#[test]
fn loops_inside_loops_continue_with_the_enclosing_iterations_translated_again() {
    // A loop-header version inside other loops translates the rest of each
    // enclosing loop's iteration again (docs/architecture.md, "OSR
    // entries"): the rows benchmark, and a three-deep nest with a jump to
    // the outermost loop's step from the innermost, a packed i64 loop
    // (whose stores widen a row when rep + row reaches 32), a row left
    // null (a trap in the middle loop, at its op) and an index past a
    // row's end (a trap in the inner loop).
    let rows = load(&common::programs::root().join("benches/programs/rows.tj"));
    assert!(check_every_header(&rows, "main", &[Value::I(7), Value::I(3)]) > 0);
    let src = "
        func main(i, i, i) -> i
            newr r0, i0
            iconst i3, 0
        init:
            jge i3, i0, init_done
            jeq i3, i1, skip           ; row i1 stays null
            newi r1, i0
            setr r0, i3, r1
        skip:
            addi i3, i3, 1
            jmp init
        init_done:
            iconst i9, 0               ; the sum
            iconst i4, 0               ; rep
        rep:
            iconst i3, 0
        row:
            getr r1, r0, i3
            len i8, r1
            iconst i5, 0
        col:
            geti i6, r1, i5
            add i9, i9, i6
            jgti i9, 30000, next_rep   ; on to the next rep at once
            addi i5, i5, 1
            jlt i5, i8, col
            iconst i5, 0
            add i7, i4, i3
            muli i7, i7, 8
        fill:
            seti r1, i5, i7            ; packed while i7 < 256
            addi i5, i5, 1
            jlt i5, i2, fill
            addi i3, i3, 1
            jlt i3, i0, row
        next_rep:
            addi i4, i4, 1
            jlti i4, 40, rep
            reti i9
        end
    ";
    let module = bytecode::text::parse(src).expect("parses");
    assert_eq!(loop_headers(&module.functions[0].code).len(), 5);
    // n, the null row (none: n), how far `fill` goes (past n: a trap).
    for args in [[9, 9, 9], [9, 9, 4], [9, 5, 9], [9, 9, 10], [40, 40, 40]] {
        let args = args.map(Value::I);
        assert!(check_every_header(&module, "main", &args) > 0, "{args:?}");
    }
}

#[test]
fn a_tail_call_of_itself_after_the_switch_starts_the_function_again() {
    // The version entered at `top` jumps to op 0 for the tail call: op 0
    // must be translated, though the entry does not reach it otherwise.
    let src = "
        func f(i, i) -> i
            jlei i0, 0, out
            iconst i2, 0
        top:
            add i1, i1, i2
            addi i2, i2, 1
            jlti i2, 30, top
            subi i0, i0, 1
            tcall f, 0
        out:
            reti i1
        end
    ";
    let module = bytecode::text::parse(src).expect("parses");
    assert!(check_every_header(&module, "f", &[Value::I(5), Value::I(1)]) > 0);
}

#[test]
fn a_non_header_is_refused_and_the_instance_stays_usable() {
    let module_src = "
        func main(i) -> i
        top:
            subi i0, i0, 1
            jnz i0, top
            reti i0
        end
    ";
    let engine = Engine::new(Config::new().tier(Tier::Cranelift).clone()).expect("engine");
    let module = Module::new(&engine, module_src).expect("module");
    let mut instance = Instance::new(&module).expect("instance");
    let err = instance
        .call_with_osr("main", &[Value::I(5)], 1, 1)
        .expect_err("op 1 is not a loop header");
    assert!(err.to_string().contains("not a loop header"), "{err}");
    let (v, switched) = instance
        .call_with_osr("main", &[Value::I(5)], 0, 2)
        .expect("runs");
    assert_eq!((v, switched), (Some(Value::I(0)), true));
    assert_eq!(
        instance.call("main", &[Value::I(9)]).unwrap(),
        Some(Value::I(0))
    );
}
