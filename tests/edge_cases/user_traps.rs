//! User traps (`trap`, `trapi`): a language's `panic` ends the call with a
//! `User` trap carrying its code, the function, the op and the source
//! place, alike on every engine, and the instance stays usable.

use crate::differential::check;
use tierjit::{Config, Engine, Error, Instance, Module, Tier, TrapKind, Value};

/// `check_input` panics with code `1000 + x` on a negative input (through a
/// register), with code -7 on zero (an immediate), and otherwise returns
/// its input doubled; `main` calls it from a loop, so the trap happens in a
/// callee (inlined by the Cranelift tier), mid-loop, after output.
const SRC: &str = "
func check_input(i) -> i
    jlti i0, 0, negative
    jeqi i0, 0, zero
    add i0, i0, i0
    reti i0
negative:
    addi i1, i0, 1000
    trap i1
zero:
    trapi -7
end

func main(i) -> i
    iconst i1, 3
    iconst i2, 0
top:
    call i3, check_input, 1
    add i2, i2, i3
    printi i1
    prints \" \"
    sub i1, i1, i0
    jgti i2, -30000, top
    reti i2
end
";

#[test]
fn user_traps_carry_their_code_on_every_engine() {
    // 3, 2, 1, 0: the zero traps with the immediate code.
    let out = check(SRC, "main", &[Value::I(1)]);
    assert_eq!(out.trap(), (TrapKind::User, "check_input", 6));
    let trap = out.trap.as_ref().expect("a trap");
    assert_eq!(trap.user_code, Some(-7));
    assert_eq!(trap.position, Some((11, 5)));
    assert_eq!(out.output, "3 2 1 ");
    // 3, 1, -1: the negative one traps with 1000 + (-1), from a register.
    let out = check(SRC, "main", &[Value::I(2)]);
    assert_eq!(out.trap(), (TrapKind::User, "check_input", 5));
    assert_eq!(out.trap.as_ref().and_then(|t| t.user_code), Some(999));
    assert_eq!(out.output, "3 1 ");
    assert_eq!(
        out.trap.as_ref().map(ToString::to_string).as_deref(),
        Some("trap: user trap 999 in function `check_input` at op 5 (line 9, column 5)")
    );
}

#[test]
fn an_instance_is_usable_after_a_user_trap() {
    for tier in [Tier::Interp, Tier::Template, Tier::Cranelift, Tier::Auto] {
        let mut config = Config::new();
        config.tier(tier).hot_calls(2).hot_loops(2);
        let engine = Engine::new(config).unwrap();
        let module = Module::new(&engine, SRC).unwrap();
        let mut instance = Instance::new(&module).unwrap();
        instance.set_output(tierjit::SharedOutput::new());
        for round in 0..3 {
            let Err(Error::Trap(t)) = instance.call("main", &[Value::I(2)]) else {
                panic!("{tier}: expected a trap");
            };
            assert_eq!(
                (t.kind, t.user_code),
                (TrapKind::User, Some(999)),
                "{tier} {round}"
            );
            let Err(Error::Trap(t)) = instance.call("check_input", &[Value::I(0)]) else {
                panic!("{tier}: expected a trap");
            };
            assert_eq!(t.user_code, Some(-7), "{tier} {round}");
            assert_eq!(
                instance.call("check_input", &[Value::I(21)]).unwrap(),
                Some(Value::I(42)),
                "{tier} {round}"
            );
        }
    }
}

#[test]
fn every_immediate_code_and_extreme_register_codes_agree() {
    for code in [0i64, 1, -1, 32767, -32768, i64::MAX, i64::MIN] {
        let src = format!("func main(i) -> none\n    iconst i1, {code}\n    trap i1\nend\n");
        let out = check(&src, "main", &[Value::I(0)]);
        assert_eq!(out.trap.and_then(|t| t.user_code), Some(code));
    }
    for code in [0i16, 1, -1, i16::MAX, i16::MIN] {
        let src = format!("func main() -> none\n    trapi {code}\nend\n");
        let out = check(&src, "main", &[]);
        assert_eq!(out.trap.and_then(|t| t.user_code), Some(i64::from(code)));
    }
    // Other traps carry no user code.
    let out = check(
        "func main(i) -> i\n    divi i0, i0, 0\n    reti i0\nend\n",
        "main",
        &[Value::I(1)],
    );
    assert_eq!(
        out.trap.map(|t| (t.kind, t.user_code)),
        Some((TrapKind::DivisionByZero, None))
    );
}
