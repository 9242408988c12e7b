//! References across the host boundary, on every engine: host functions
//! that receive, read, make and return objects; the embedder making
//! objects, passing them in and reading results; handles that die with
//! their call and cannot be forged; host objects with finalizers; and
//! collections while handles are held.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tierjit::{
    Bank, Config, Engine, Error, Instance, Linker, Module, ObjectError, ObjectKind, Ref, Signature,
    Tier, TrapKind, Value,
};

/// Every engine, with `auto` tiering up at once.
fn engines() -> Vec<(Tier, Engine)> {
    [Tier::Interp, Tier::Template, Tier::Cranelift, Tier::Auto]
        .into_iter()
        .map(|tier| {
            let mut config = Config::new();
            config
                .tier(tier)
                .hot_calls(1)
                .hot_loops(1)
                .background_compilation(false)
                .heap_limit(1 << 28);
            (tier, Engine::new(config).unwrap())
        })
        .collect()
}

fn sig(params: &[Bank], result: Option<Bank>) -> Signature {
    Signature::new(params.to_vec(), result)
}

fn trap_of(e: Error) -> (TrapKind, String) {
    match e {
        Error::Trap(t) => (t.kind, t.to_string()),
        e => panic!("expected a trap, got {e}"),
    }
}

/// `iota(n)` is made by the host; the program sums it with `geti`, and the
/// host sums an array the program made.
const ARRAYS: &str = "
import iota(i) -> r
import total(r) -> i

func main(i) -> i
    hcall r0, iota, 0
    len i1, r0
    iconst i2, 0
    iconst i3, 0
loop:
    jge i2, i1, done
    geti i4, r0, i2
    add i3, i3, i4
    addi i2, i2, 1
    jmp loop
done:
    newi r1, i1
    iconst i2, 0
fill:
    jge i2, i1, host
    muli i4, i2, 2
    seti r1, i2, i4
    addi i2, i2, 1
    jmp fill
host:
    hcall i5, total, 1
    muli i3, i3, 1000
    add i3, i3, i5
    reti i3
end

func reverse(r) -> r
    len i0, r0
    newi r1, i0
    iconst i1, 0
loop:
    jge i1, i0, done
    geti i2, r0, i1
    sub i3, i0, i1
    subi i3, i3, 1
    seti r1, i3, i2
    addi i1, i1, 1
    jmp loop
done:
    retr r1
end
";

fn array_linker() -> Linker {
    let mut linker = Linker::new();
    linker
        .func_with_caller("iota", sig(&[Bank::I], Some(Bank::R)), |caller, args| {
            let Value::I(n) = args[0] else { unreachable!() };
            let values: Vec<i64> = (0..n).collect();
            Ok(Some(Value::R(caller.new_i64_array(&values)?)))
        })
        .unwrap()
        .func_with_caller("total", sig(&[Bank::R], Some(Bank::I)), |caller, args| {
            let Value::R(a) = args[0] else { unreachable!() };
            let mut sum = 0;
            for i in 0..caller.len(a)? as i64 {
                if let Value::I(v) = caller.get(a, i)? {
                    sum += v;
                }
            }
            Ok(Some(Value::I(sum)))
        })
        .unwrap();
    linker
}

#[test]
fn host_functions_receive_make_and_return_references() {
    for (tier, engine) in engines() {
        let module = Module::new(&engine, ARRAYS).unwrap();
        let mut inst = array_linker().instantiate(&module).unwrap();
        for n in [0, 1, 10, 300] {
            let got = inst.call("main", &[Value::I(n)]).unwrap();
            let want = (0..n).sum::<i64>() * 1000 + (0..n).map(|i| 2 * i).sum::<i64>();
            assert_eq!(got, Some(Value::I(want)), "{tier} n={n}");
        }
        assert_eq!(
            inst.objects().live_handles(),
            0,
            "{tier}: call handles released"
        );
    }
}

#[test]
fn the_embedder_makes_objects_passes_them_in_and_reads_results() {
    for (tier, engine) in engines() {
        let module = Module::new(&engine, ARRAYS).unwrap();
        let mut inst = array_linker().instantiate(&module).unwrap();
        let a = inst.objects().new_i64_array(&[1, 2, 300, -4]).unwrap();
        let rev = inst.typed_func::<(Ref,), Ref>("reverse").unwrap();
        let b = rev.call(&mut inst, (a,)).unwrap();
        let mut objs = inst.objects();
        assert_eq!(objs.kind(b).unwrap(), Some(ObjectKind::I64Array), "{tier}");
        let got: Vec<Value> = (0..4).map(|i| objs.get(b, i).unwrap()).collect();
        let want: Vec<Value> = [-4, 300, 2, 1].map(Value::I).to_vec();
        assert_eq!(got, want, "{tier}");
        assert!(matches!(
            objs.get(b, 4),
            Err(ObjectError::OutOfBounds { index: 4, len: 4 })
        ));
        assert!(matches!(
            objs.set(b, 0, Value::F(1.0)),
            Err(ObjectError::WrongBank { .. })
        ));
        // Release: the handle is dead, its object collectable.
        objs.release(a).unwrap();
        assert!(matches!(
            objs.get(a, 0),
            Err(ObjectError::Handle(tierjit::HandleError::Stale))
        ));
        let err = inst.call("reverse", &[Value::R(a)]).unwrap_err();
        assert!(err.to_string().contains("stale"), "{tier}: {err}");
        // Null is refused where an object is needed, accepted as a value.
        let err = inst.call("reverse", &[Value::R(Ref::NULL)]).unwrap_err();
        assert_eq!(trap_of(err).0, TrapKind::NullReference, "{tier}");
        // Scopes release what was made inside them.
        let before = inst.objects().live_handles();
        inst.scope(|inst| {
            for _ in 0..100 {
                let r = inst.objects().new_f64_array(&[0.5; 10]).unwrap();
                let out = inst.call("reverse", &[Value::R(r)]);
                // An f64 array is the wrong kind for `geti`.
                assert_eq!(trap_of(out.unwrap_err()).0, TrapKind::ElementKind);
            }
        });
        assert_eq!(inst.objects().live_handles(), before, "{tier}");
    }
}

#[test]
fn references_of_another_instance_are_refused() {
    for (tier, engine) in engines() {
        let module = Module::new(&engine, ARRAYS).unwrap();
        let mut a = array_linker().instantiate(&module).unwrap();
        let mut b = array_linker().instantiate(&module).unwrap();
        let r = a.objects().new_i64_array(&[1]).unwrap();
        let err = b.call("reverse", &[Value::R(r)]).unwrap_err();
        assert!(
            err.to_string().contains("another instance"),
            "{tier}: {err}"
        );
        assert!(matches!(
            b.objects().len(r),
            Err(ObjectError::Handle(tierjit::HandleError::ForeignInstance))
        ));
        assert!(b.set_global("nothing", Value::R(r)).is_err());
    }
}

/// A host function that keeps the handle of its argument in a static and
/// returns it on a later call: the handle died with the first call.
#[test]
fn a_handle_kept_past_its_call_is_refused_not_followed() {
    const SRC: &str = "
import stash(r) -> none
import unstash() -> r
import keep(r) -> none
import kept() -> r
func main() -> i
    iconst i0, 3
    newi r0, i0
    hcall -, stash, 0
    hcall r1, unstash, 0
    len i1, r1
    reti i1
end
func kept_ok() -> i
    iconst i0, 5
    newi r0, i0
    hcall -, keep, 0
    rnull r0
    iconst i1, 100000
    newi r2, i1
    newi r2, i1
    hcall r1, kept, 0
    len i1, r1
    reti i1
end
";
    for (tier, engine) in engines() {
        let module = Module::new(&engine, SRC).unwrap();
        let slot: Arc<Mutex<Ref>> = Arc::default();
        let mut linker = Linker::new();
        let (s1, s2, s3, s4) = (slot.clone(), slot.clone(), slot.clone(), slot.clone());
        linker
            .func("stash", sig(&[Bank::R], None), move |args| {
                let Value::R(r) = args[0] else { unreachable!() };
                *s1.lock().unwrap() = r;
                Ok(None)
            })
            .unwrap()
            .func("unstash", sig(&[], Some(Bank::R)), move |_| {
                Ok(Some(Value::R(*s2.lock().unwrap())))
            })
            .unwrap()
            .func_with_caller("keep", sig(&[Bank::R], None), move |caller, args| {
                let Value::R(r) = args[0] else { unreachable!() };
                caller.persist(r)?;
                *s3.lock().unwrap() = r;
                Ok(None)
            })
            .unwrap()
            .func("kept", sig(&[], Some(Bank::R)), move |_| {
                Ok(Some(Value::R(*s4.lock().unwrap())))
            })
            .unwrap();
        let mut inst = linker.instantiate(&module).unwrap();
        let (kind, msg) = trap_of(inst.call("main", &[]).unwrap_err());
        assert_eq!(kind, TrapKind::HostError, "{tier}");
        assert!(msg.contains("stale"), "{tier}: {msg}");
        // The instance stays usable; a persisted handle outlives its call
        // and the collections in between.
        assert_eq!(
            inst.call("kept_ok", &[]).unwrap(),
            Some(Value::I(5)),
            "{tier}"
        );
    }
}

/// The host allocates enough to collect several times while it holds its
/// argument, and the caller holds references in registers outside the
/// argument window: all survive.
#[test]
fn collections_during_host_calls_keep_every_held_reference() {
    const SRC: &str = "
import churn(r) -> r
func main() -> i
    iconst i0, 7
    newi r3, i0
    iconst i1, 41
    iconst i2, 6
    seti r3, i2, i1
    iconst i0, 2
    newi r0, i0
    iconst i1, 9
    iconst i2, 1
    seti r0, i2, i1
    hcall r1, churn, 0
    geti i3, r1, i2
    geti i4, r3, i0
    iconst i5, 6
    geti i4, r3, i5
    add i3, i3, i4
    geti i4, r0, i2
    add i3, i3, i4
    reti i3
end
";
    for (tier, engine) in engines() {
        let module = Module::new(&engine, SRC).unwrap();
        let mut linker = Linker::new();
        linker
            .func_with_caller("churn", sig(&[Bank::R], Some(Bank::R)), |caller, args| {
                let Value::R(arg) = args[0] else {
                    unreachable!()
                };
                let mine = caller.new_i64_array(&[0, 1000])?;
                for _ in 0..200 {
                    // 800 KB each: a collection every few iterations.
                    let junk = caller.new_f64_array(&[1.0; 100_000])?;
                    caller.release(junk)?;
                }
                let Value::I(x) = caller.get(arg, 1)? else {
                    unreachable!()
                };
                caller.set(mine, 1, Value::I(1000 + x))?;
                Ok(Some(Value::R(mine)))
            })
            .unwrap();
        let mut inst = linker.instantiate(&module).unwrap();
        // 1009 + 41 + 9.
        assert_eq!(
            inst.call("main", &[]).unwrap(),
            Some(Value::I(1059)),
            "{tier}"
        );
        assert!(inst.heap_bytes() < 4 << 20, "{tier}: junk was collected");
    }
}

/// The rustdoc example of a hash map kept in Rust, run on every engine:
/// the program holds the map by reference, the collector drops it and its
/// finalizer runs.
#[test]
fn host_objects_are_opaque_and_finalized() {
    const SRC: &str = "
import map_new() -> r
import map_put(r, i, i) -> none
import map_get(r, i) -> i
func main(i) -> i
    hcall r1, map_new, 0
    iconst i1, 0
put:
    jge i1, i0, get
    mul i2, i1, i1
    hcall -, map_put, 1
    addi i1, i1, 1
    jmp put
get:
    iconst i3, 0
    iconst i1, 0
sum:
    jge i1, i0, done
    hcall i2, map_get, 1
    add i3, i3, i2
    addi i1, i1, 1
    jmp sum
done:
    reti i3
end
func peek() -> i
    hcall r0, map_new, 0
    iconst i0, 0
    geti i1, r0, i0
    reti i1
end
";
    for (tier, engine) in engines() {
        let finalized = Arc::new(AtomicUsize::new(0));
        let module = Module::new(&engine, SRC).unwrap();
        let mut linker = Linker::new();
        let f = finalized.clone();
        linker
            .func_with_caller("map_new", sig(&[], Some(Bank::R)), move |caller, _| {
                let f = f.clone();
                let map = caller.new_host_object_with_finalizer(
                    HashMap::<i64, i64>::new(),
                    move |_| {
                        f.fetch_add(1, Ordering::Relaxed);
                    },
                )?;
                Ok(Some(Value::R(map)))
            })
            .unwrap()
            .func_with_caller(
                "map_put",
                sig(&[Bank::R, Bank::I, Bank::I], None),
                |caller, args| {
                    let (Value::R(m), Value::I(k), Value::I(v)) = (args[0], args[1], args[2])
                    else {
                        unreachable!()
                    };
                    caller.host_object::<HashMap<i64, i64>>(m)?.insert(k, v);
                    Ok(None)
                },
            )
            .unwrap()
            .func_with_caller(
                "map_get",
                sig(&[Bank::R, Bank::I], Some(Bank::I)),
                |caller, args| {
                    let (Value::R(m), Value::I(k)) = (args[0], args[1]) else {
                        unreachable!()
                    };
                    let map = caller.host_object::<HashMap<i64, i64>>(m)?;
                    Ok(Some(Value::I(map.get(&k).copied().unwrap_or(-1))))
                },
            )
            .unwrap();
        let mut inst = linker.instantiate(&module).unwrap();
        let n = 50;
        let want: i64 = (0..n).map(|i| i * i).sum();
        assert_eq!(
            inst.call("main", &[Value::I(n)]).unwrap(),
            Some(Value::I(want))
        );
        // The program cannot read into a host object.
        let (kind, _) = trap_of(inst.call("peek", &[]).unwrap_err());
        assert_eq!(kind, TrapKind::ElementKind, "{tier}");
        // Garbage from the embedder's side forces a collection: both maps go.
        for _ in 0..20 {
            inst.scope(|inst| inst.objects().new_i64_array(&[-1; 100_000]).map(|_| ()))
                .unwrap();
        }
        assert_eq!(finalized.load(Ordering::Relaxed), 2, "{tier}");
        // A live one is finalized when the instance goes away.
        let kept = inst.call("main", &[Value::I(1)]);
        assert!(kept.is_ok());
        let map = inst.objects().new_host_object(7u32).unwrap();
        assert_eq!(*inst.objects().host_object::<u32>(map).unwrap(), 7);
        assert!(matches!(
            inst.objects().host_object::<i64>(map),
            Err(ObjectError::WrongKind { .. })
        ));
        assert!(matches!(
            inst.objects().get(map, 0),
            Err(ObjectError::WrongKind { .. })
        ));
        drop(inst);
        assert_eq!(finalized.load(Ordering::Relaxed), 3, "{tier}");
    }
}

#[test]
fn a_panicking_host_function_is_a_trap_and_the_instance_goes_on() {
    const SRC: &str = "
import boom(r, i) -> r
func main(i) -> i
    iconst i1, 4
    newi r0, i1
    hcall r1, boom, 0
    len i2, r1
    reti i2
end
";
    for (tier, engine) in engines() {
        let module = Module::new(&engine, SRC).unwrap();
        let mut linker = Linker::new();
        linker
            .func_with_caller(
                "boom",
                sig(&[Bank::R, Bank::I], Some(Bank::R)),
                |c, args| {
                    let Value::I(how) = args[1] else {
                        unreachable!()
                    };
                    match how {
                        0 => panic!("the host function panics"),
                        1 => Err("refused".into()),
                        // A reference of the wrong bank of value.
                        2 => Ok(Some(Value::I(1))),
                        3 => Ok(Some(args[0])),
                        _ => Ok(Some(Value::R(c.new_i64_array(&[0; 9])?))),
                    }
                },
            )
            .unwrap();
        let mut inst = linker.instantiate(&module).unwrap();
        for (how, want) in [(0, "panicked"), (1, "refused"), (2, "signature")] {
            let (kind, msg) = trap_of(inst.call("main", &[Value::I(how)]).unwrap_err());
            assert_eq!(kind, TrapKind::HostError, "{tier}");
            assert!(msg.contains(want), "{tier}: {msg}");
        }
        assert_eq!(
            inst.call("main", &[Value::I(3)]).unwrap(),
            Some(Value::I(4))
        );
        assert_eq!(
            inst.call("main", &[Value::I(4)]).unwrap(),
            Some(Value::I(9))
        );
        assert_eq!(inst.objects().live_handles(), 0, "{tier}");
    }
}

#[test]
fn reference_globals_take_and_give_handles() {
    const SRC: &str = "
global r saved
func sum() -> i
    ggetr r0, saved
    len i0, r0
    iconst i1, 0
    iconst i2, 0
loop:
    jge i1, i0, done
    geti i3, r0, i1
    add i2, i2, i3
    addi i1, i1, 1
    jmp loop
done:
    reti i2
end
";
    for (tier, engine) in engines() {
        let module = Module::new(&engine, SRC).unwrap();
        let mut inst = Instance::new(&module).unwrap();
        let a = inst.objects().new_i64_array(&[5, 6, 7]).unwrap();
        inst.set_global("saved", Value::R(a)).unwrap();
        inst.objects().release(a).unwrap();
        assert_eq!(inst.call("sum", &[]).unwrap(), Some(Value::I(18)), "{tier}");
        let Value::R(back) = inst.global("saved").unwrap() else {
            panic!()
        };
        assert_eq!(inst.objects().get(back, 2).unwrap(), Value::I(7), "{tier}");
        assert!(inst.set_global("saved", Value::R(a)).is_err(), "{tier}");
    }
}

/// Strings both ways: the program hands the host a string constant and a
/// byte array it built; the host reads both and returns a new byte string
/// that the program changes and prints; the embedder reads a result.
#[test]
fn strings_cross_both_ways() {
    const SRC: &str = r#"
import join(r, r) -> r
func main() -> i
    sconst r0, "tier"
    iconst i0, 3
    newb r1, i0
    iconst i1, 0
    iconst i2, 106
    setb r1, i1, i2
    iconst i1, 1
    iconst i2, 105
    setb r1, i1, i2
    iconst i1, 2
    iconst i2, 116
    setb r1, i1, i2
    hcall r2, join, 0
    iconst i1, 0
    iconst i2, 84
    setb r2, i1, i2
    printb r2
    len i0, r2
    reti i0
end
func greeting() -> r
    sconst r0, "hello"
    retr r0
end
func shout(r) -> r
    iconst i0, 0
    iconst i1, 72
    setb r0, i0, i1
    retr r0
end
"#;
    for (tier, engine) in engines() {
        let module = Module::new(&engine, SRC).unwrap();
        let mut linker = Linker::new();
        linker
            .func_with_caller(
                "join",
                sig(&[Bank::R, Bank::R], Some(Bank::R)),
                |c, args| {
                    let (Value::R(a), Value::R(b)) = (args[0], args[1]) else {
                        unreachable!()
                    };
                    assert_eq!(c.kind(a)?, Some(ObjectKind::String));
                    assert_eq!(c.kind(b)?, Some(ObjectKind::Bytes));
                    let text = format!("{}{}", c.string(a)?, c.string(b)?);
                    // A string constant is immutable from Rust too.
                    assert!(c.set(a, 0, Value::I(0)).is_err());
                    Ok(Some(Value::R(c.new_string(&text)?)))
                },
            )
            .unwrap();
        let mut inst = linker.instantiate(&module).unwrap();
        let out = tierjit::SharedOutput::new();
        inst.set_output(out.clone());
        assert_eq!(inst.call("main", &[]).unwrap(), Some(Value::I(7)), "{tier}");
        assert_eq!(out.take_string(), "Tierjit", "{tier}");
        let Some(Value::R(g)) = inst.call("greeting", &[]).unwrap() else {
            panic!()
        };
        assert_eq!(inst.objects().bytes(g).unwrap(), b"hello", "{tier}");
        let mine = inst.objects().new_bytes(b"hi\xff").unwrap();
        let Some(Value::R(s)) = inst.call("shout", &[Value::R(mine)]).unwrap() else {
            panic!()
        };
        assert!(inst.objects().same(s, mine).unwrap());
        assert_eq!(inst.objects().bytes(mine).unwrap(), b"Hi\xff", "{tier}");
        assert_eq!(inst.objects().get(mine, 2).unwrap(), Value::I(255));
        // The program cannot write a string constant either.
        let err = inst.call("shout", &[Value::R(g)]).unwrap_err();
        assert_eq!(trap_of(err).0, TrapKind::Immutable, "{tier}");
    }
}

/// Structs both ways: the embedder makes one (an inherited field
/// included) and the program reads it; a host function reads a struct the
/// program made, by field name, and returns a new one of a child type.
#[test]
fn structs_cross_both_ways() {
    const SRC: &str = r#"
struct Point { i x, f y }
struct Named : Point { r name }
import grow(r) -> r
func norm1(r) -> i
    sgeti i0, r0, Point.x
    sgetf f0, r0, Point.y
    f2i i1, f0
    add i0, i0, i1
    reti i0
end
func main() -> i
    snew r0, Point
    iconst i0, 40
    sseti r0, Point.x, i0
    hcall r1, grow, 0
    isa i1, r1, Named
    sgetr r2, r1, Named.name
    len i2, r2
    sgeti i3, r1, Named.x
    muli i1, i1, 1000
    muli i2, i2, 100
    add i1, i1, i2
    add i1, i1, i3
    reti i1
end
"#;
    for (tier, engine) in engines() {
        let module = Module::new(&engine, SRC).unwrap();
        let mut linker = Linker::new();
        linker
            .func_with_caller("grow", sig(&[Bank::R], Some(Bank::R)), |c, args| {
                let Value::R(p) = args[0] else { unreachable!() };
                assert_eq!(c.kind(p)?, Some(ObjectKind::Struct));
                assert_eq!(c.struct_type(p)?, "Point");
                let Value::I(x) = c.field(p, "x")? else {
                    unreachable!()
                };
                assert!(c.field(p, "name").is_err(), "Point has no name");
                let name = c.new_string("grown")?;
                let n = c.new_struct("Named", &[Value::I(x + 2), Value::F(0.5), Value::R(name)])?;
                Ok(Some(Value::R(n)))
            })
            .unwrap();
        let mut inst = linker.instantiate(&module).unwrap();
        // isa 1, len("grown") 5, x 42.
        assert_eq!(
            inst.call("main", &[]).unwrap(),
            Some(Value::I(1542)),
            "{tier}"
        );
        let mut objs = inst.objects();
        let name = objs.new_string("p").unwrap();
        let p = objs
            .new_struct("Named", &[Value::I(5), Value::F(2.75), Value::R(name)])
            .unwrap();
        assert!(matches!(
            objs.new_struct("Named", &[Value::I(5)]),
            Err(ObjectError::FieldCount {
                want: 3,
                got: 1,
                ..
            })
        ));
        assert!(matches!(
            objs.new_struct("Point", &[Value::F(5.0), Value::F(1.0)]),
            Err(ObjectError::WrongBank { .. })
        ));
        assert!(matches!(
            objs.new_struct("Nope", &[]),
            Err(ObjectError::NoSuchName { .. })
        ));
        objs.set_field(p, "y", Value::F(3.5)).unwrap();
        let Value::R(back) = objs.field(p, "name").unwrap() else {
            panic!()
        };
        assert!(objs.same(back, name).unwrap());
        // A child passes where its parent is expected.
        assert_eq!(
            inst.call("norm1", &[Value::R(p)]).unwrap(),
            Some(Value::I(8)),
            "{tier}"
        );
        let arr = inst.objects().new_i64_array(&[1]).unwrap();
        let err = inst.call("norm1", &[Value::R(arr)]).unwrap_err();
        assert_eq!(trap_of(err).0, TrapKind::WrongType, "{tier}");
    }
}
