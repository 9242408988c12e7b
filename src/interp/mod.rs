//! The reference interpreter: the semantics every other engine must match
//! bit for bit, and the baseline of every benchmark ratio.
//!
//! It runs on the shared frame layout (three register stacks, frames as base
//! offsets), so a function can move between engines at a call without any
//! translation. It does not recurse on the Rust stack: frames live in a
//! `Vec`, so a deep bytecode recursion ends in a stack-overflow trap at the
//! configured depth, never in a crashed process.

use crate::bytecode::op::imm16;
use crate::bytecode::{Bank, Module, NO_REG, Opcode};
use crate::runtime::Store;
use crate::runtime::float;
use crate::runtime::frame::FrameLayout;
use crate::runtime::heap::{
    ElemKind, array_len, bytes_of, element_ptr, func_ref, get_byte, get_i64, set_byte, set_i64,
};
use crate::runtime::helpers::{copy_array, fill_array};
use crate::runtime::host::{HostFrame, run_host, store_result};
use crate::runtime::print::{write_f64, write_i64};
use crate::runtime::structs::{field_ptr, is_a};
use crate::runtime::trap::{RawTrap, Trap, TrapKind};
use std::sync::atomic::Ordering;

/// A suspended caller.
struct Frame {
    func: u32,
    /// The index of the call op in the caller.
    pc: u32,
    /// Base offsets (in slots) into the three register stacks.
    bases: [usize; 3],
}

/// Check that a frame with these bases fits the register stacks, and clear
/// its non-parameter registers: every engine starts them at 0, 0.0 and null.
fn enter_frame(store: &mut Store, layout: &FrameLayout, bases: [usize; 3]) -> Result<(), TrapKind> {
    let cap = store.stacks.capacity();
    for b in 0..3 {
        if bases[b] + layout.regs[b] as usize > cap[b] {
            return Err(TrapKind::StackOverflow);
        }
    }
    let (p, r) = (layout.params, layout.regs);
    store.stacks.i[bases[0] + p[0] as usize..bases[0] + r[0] as usize].fill(0);
    store.stacks.f[bases[1] + p[1] as usize..bases[1] + r[1] as usize].fill(0.0);
    store.stacks.r[bases[2] + p[2] as usize..bases[2] + r[2] as usize].fill(0);
    Ok(())
}

/// Where [`run_until_loop_header`] stops: the `nth` time the entry frame
/// jumps back to op `header`.
#[derive(Clone, Copy, Debug)]
struct Pause {
    header: usize,
    nth: u64,
    /// Set when the run stopped there.
    reached: bool,
}

/// Run function `entry` of a verified `module` on a frame at the bottom of
/// the register stacks (bases 0), whose parameter slots the caller has
/// filled. On return the result is in slot 0 of the result bank.
pub fn run(
    module: &Module,
    layouts: &[FrameLayout],
    store: &mut Store,
    entry: usize,
) -> Result<(), Trap> {
    run_with(module, layouts, store, entry, None)
}

/// Like [`run`], but stop the `nth` time (from 1) the entry function's own
/// activation jumps back to loop header `header`, with the frame current
/// and nothing executed at the header yet: the state from which another
/// engine can continue the loop (on-stack replacement). Returns whether it
/// stopped there; `false` means the function returned.
pub fn run_until_loop_header(
    module: &Module,
    layouts: &[FrameLayout],
    store: &mut Store,
    entry: usize,
    header: u32,
    nth: u64,
) -> Result<bool, Trap> {
    let mut pause = Pause {
        header: header as usize,
        nth,
        reached: false,
    };
    run_with(module, layouts, store, entry, Some(&mut pause))?;
    Ok(pause.reached)
}

fn run_with(
    module: &Module,
    layouts: &[FrameLayout],
    store: &mut Store,
    entry: usize,
    pause: Option<&mut Pause>,
) -> Result<(), Trap> {
    let mut frames: Vec<Frame> = Vec::new();
    let mut func = entry;
    let mut pc = 0usize;
    let mut bases = [0usize; 3];
    let mut ops = 0u64;
    let st = State {
        frames: &mut frames,
        func: &mut func,
        pc_out: &mut pc,
        bases: &mut bases,
        ops: &mut ops,
    };
    let result = match (pause, store.count_ops) {
        (Some(p), _) => execute::<false, true>(module, layouts, store, st, Some(p)),
        (None, true) => execute::<true, false>(module, layouts, store, st, None),
        (None, false) => execute::<false, false>(module, layouts, store, st, None),
    };
    store.executed_ops += ops;
    result.map_err(|t| {
        Trap::at(module, func as u32, pc as u32, t.kind, t.detail).with_user_code(t.user_code)
    })
}

/// Where a run is, for the caller to report traps.
struct State<'a> {
    frames: &'a mut Vec<Frame>,
    func: &'a mut usize,
    pc_out: &'a mut usize,
    bases: &'a mut [usize; 3],
    ops: &'a mut u64,
}

// Not inlined: each instantiation is then a function of its own, whose
// register allocation does not depend on its caller. Inlined into
// `run_with`, the three shared one function, and an unrelated change there
// made the dispatch loop spill `pc` (mandelbrot and nbody 1.4-1.9x slower
// under the interpreter, with the same instruction count).
#[inline(never)]
fn execute<const COUNT_OPS: bool, const PAUSE: bool>(
    module: &Module,
    layouts: &[FrameLayout],
    store: &mut Store,
    st: State<'_>,
    mut pause: Option<&mut Pause>,
) -> Result<(), RawTrap> {
    let State {
        frames,
        func,
        pc_out,
        bases,
        ops,
    } = st;
    let entry = *func;
    enter_frame(store, &layouts[*func], *bases)?;
    let max_depth = store.max_call_depth as usize;
    let interrupt = store.interrupt.clone();
    // The heap keeps its own; a clone does not borrow the store.
    let structs = store.heap.structs().clone();
    let i0 = store.stacks.i.as_mut_ptr();
    let f0 = store.stacks.f.as_mut_ptr();
    let r0 = store.stacks.r.as_mut_ptr();

    let mut code = module.functions[*func].code.as_slice();
    let mut layout = layouts[*func];
    let mut pc = 0usize;
    // SAFETY: the frame fits the stacks (checked in `enter_frame` and at every
    // call), and the verifier guarantees every register index is below the
    // function's register count, so `ip/fp/rp + k` stays inside the stacks.
    // The stacks are not reallocated while this runs.
    let (mut ip, mut fp, mut rp) =
        unsafe { (i0.add(bases[0]), f0.add(bases[1]), r0.add(bases[2])) };

    macro_rules! i {
        ($k:expr) => {
            *ip.add($k as usize)
        };
    }
    macro_rules! f {
        ($k:expr) => {
            *fp.add($k as usize)
        };
    }
    macro_rules! r {
        ($k:expr) => {
            *rp.add($k as usize)
        };
    }
    macro_rules! trap {
        ($e:expr) => {{
            *pc_out = pc;
            return Err(RawTrap::from($e));
        }};
    }
    macro_rules! try_trap {
        ($e:expr) => {
            match $e {
                Ok(v) => v,
                Err(k) => trap!(k),
            }
        };
    }
    // A taken jump; backward ones poll the interrupt flag so that an
    // embedder can always stop a loop.
    macro_rules! jump {
        ($t:expr) => {{
            let t = $t as usize;
            if t <= pc && interrupt.load(Ordering::Relaxed) {
                trap!(TrapKind::Interrupted);
            }
            if PAUSE
                && t <= pc
                && frames.is_empty()
                && *func == entry
                && let Some(p) = pause.as_deref_mut()
                && p.header == t
            {
                p.nth -= 1;
                if p.nth == 0 {
                    p.reached = true;
                    *pc_out = t;
                    return Ok(());
                }
            }
            pc = t;
            continue;
        }};
    }
    macro_rules! br {
        ($cond:expr, $t:expr) => {
            if $cond {
                jump!($t)
            }
        };
    }
    // The callee of call op `op`: function `func` when `direct`; else the
    // function of the reference `r[op.b]` of type `op.a`, after its checks.
    // With its layout, the registers its frame needs (an indirect call's
    // room) and a closure's environment. (Compiled code also writes an
    // `fref`'s null one, to a slot the callee clears or past its frame:
    // nothing can tell.)
    macro_rules! callee {
        ($op:expr, $direct:expr, $func:expr) => {
            if $direct {
                let cl = *layouts.get_unchecked($func as usize);
                ($func as usize, cl, cl.regs, None)
            } else {
                let f = try_trap!(func_ref(r!($op.b), u32::from($op.a)));
                let cl = *layouts.get_unchecked(f.func as usize);
                let env = (f.type_id == cl.closure_type).then_some(f.env);
                (f.func as usize, cl, cl.indirect_regs(), env)
            }
        };
    }
    // The live part of the reference stack: the collector's roots.
    macro_rules! roots {
        () => {
            std::slice::from_raw_parts(r0, rp.offset_from(r0) as usize + layout.regs[2] as usize)
        };
    }

    // SAFETY: see above; every register access goes through i!/f!/r!.
    unsafe {
        loop {
            // The verifier guarantees no path runs past the last op.
            let op = *code.get_unchecked(pc);
            if COUNT_OPS {
                *ops += 1;
            }
            match op.opcode {
                Opcode::Nop => {}
                Opcode::IConst => i!(op.a) = imm16(op.b),
                Opcode::IConstK => i!(op.a) = *module.iconsts.get_unchecked(op.b as usize),
                Opcode::FConst => {
                    f!(op.a) = f64::from_bits(*module.fconsts.get_unchecked(op.b as usize))
                }
                Opcode::RNull => r!(op.a) = 0,
                Opcode::Mov => i!(op.a) = i!(op.b),
                Opcode::FMov => f!(op.a) = f!(op.b),
                Opcode::RMov => r!(op.a) = r!(op.b),

                Opcode::Add => i!(op.a) = i!(op.b).wrapping_add(i!(op.c)),
                Opcode::Sub => i!(op.a) = i!(op.b).wrapping_sub(i!(op.c)),
                Opcode::Mul => i!(op.a) = i!(op.b).wrapping_mul(i!(op.c)),
                Opcode::Div => i!(op.a) = try_trap!(int_div(i!(op.b), i!(op.c))),
                Opcode::Rem => i!(op.a) = try_trap!(int_rem(i!(op.b), i!(op.c))),
                Opcode::And => i!(op.a) = i!(op.b) & i!(op.c),
                Opcode::Or => i!(op.a) = i!(op.b) | i!(op.c),
                Opcode::Xor => i!(op.a) = i!(op.b) ^ i!(op.c),
                Opcode::Shl => i!(op.a) = i!(op.b).wrapping_shl(i!(op.c) as u32),
                Opcode::Shr => i!(op.a) = i!(op.b).wrapping_shr(i!(op.c) as u32),
                Opcode::Ushr => i!(op.a) = (i!(op.b) as u64).wrapping_shr(i!(op.c) as u32) as i64,

                Opcode::AddI => i!(op.a) = i!(op.b).wrapping_add(imm16(op.c)),
                Opcode::SubI => i!(op.a) = i!(op.b).wrapping_sub(imm16(op.c)),
                Opcode::MulI => i!(op.a) = i!(op.b).wrapping_mul(imm16(op.c)),
                Opcode::DivI => i!(op.a) = try_trap!(int_div(i!(op.b), imm16(op.c))),
                Opcode::RemI => i!(op.a) = try_trap!(int_rem(i!(op.b), imm16(op.c))),
                Opcode::AndI => i!(op.a) = i!(op.b) & imm16(op.c),
                Opcode::OrI => i!(op.a) = i!(op.b) | imm16(op.c),
                Opcode::XorI => i!(op.a) = i!(op.b) ^ imm16(op.c),
                Opcode::ShlI => i!(op.a) = i!(op.b).wrapping_shl(imm16(op.c) as u32),
                Opcode::ShrI => i!(op.a) = i!(op.b).wrapping_shr(imm16(op.c) as u32),
                Opcode::UshrI => {
                    i!(op.a) = (i!(op.b) as u64).wrapping_shr(imm16(op.c) as u32) as i64
                }

                Opcode::Neg => i!(op.a) = i!(op.b).wrapping_neg(),
                Opcode::Not => i!(op.a) = !i!(op.b),

                Opcode::Eq => i!(op.a) = (i!(op.b) == i!(op.c)) as i64,
                Opcode::Ne => i!(op.a) = (i!(op.b) != i!(op.c)) as i64,
                Opcode::Lt => i!(op.a) = (i!(op.b) < i!(op.c)) as i64,
                Opcode::Le => i!(op.a) = (i!(op.b) <= i!(op.c)) as i64,
                Opcode::Gt => i!(op.a) = (i!(op.b) > i!(op.c)) as i64,
                Opcode::Ge => i!(op.a) = (i!(op.b) >= i!(op.c)) as i64,
                Opcode::EqI => i!(op.a) = (i!(op.b) == imm16(op.c)) as i64,
                Opcode::NeI => i!(op.a) = (i!(op.b) != imm16(op.c)) as i64,
                Opcode::LtI => i!(op.a) = (i!(op.b) < imm16(op.c)) as i64,
                Opcode::LeI => i!(op.a) = (i!(op.b) <= imm16(op.c)) as i64,
                Opcode::GtI => i!(op.a) = (i!(op.b) > imm16(op.c)) as i64,
                Opcode::GeI => i!(op.a) = (i!(op.b) >= imm16(op.c)) as i64,

                Opcode::JEq => br!(i!(op.a) == i!(op.b), op.c),
                Opcode::JNe => br!(i!(op.a) != i!(op.b), op.c),
                Opcode::JLt => br!(i!(op.a) < i!(op.b), op.c),
                Opcode::JLe => br!(i!(op.a) <= i!(op.b), op.c),
                Opcode::JGt => br!(i!(op.a) > i!(op.b), op.c),
                Opcode::JGe => br!(i!(op.a) >= i!(op.b), op.c),
                Opcode::JEqI => br!(i!(op.a) == imm16(op.b), op.c),
                Opcode::JNeI => br!(i!(op.a) != imm16(op.b), op.c),
                Opcode::JLtI => br!(i!(op.a) < imm16(op.b), op.c),
                Opcode::JLeI => br!(i!(op.a) <= imm16(op.b), op.c),
                Opcode::JGtI => br!(i!(op.a) > imm16(op.b), op.c),
                Opcode::JGeI => br!(i!(op.a) >= imm16(op.b), op.c),

                Opcode::FAdd => f!(op.a) = f!(op.b) + f!(op.c),
                Opcode::FSub => f!(op.a) = f!(op.b) - f!(op.c),
                Opcode::FMul => f!(op.a) = f!(op.b) * f!(op.c),
                Opcode::FDiv => f!(op.a) = f!(op.b) / f!(op.c),
                Opcode::FNeg => f!(op.a) = -f!(op.b),
                Opcode::FAbs => f!(op.a) = f!(op.b).abs(),
                Opcode::FSqrt => f!(op.a) = f!(op.b).sqrt(),
                Opcode::FFloor => f!(op.a) = f!(op.b).floor(),

                Opcode::FEq => i!(op.a) = (f!(op.b) == f!(op.c)) as i64,
                Opcode::FNe => i!(op.a) = (f!(op.b) != f!(op.c)) as i64,
                Opcode::FLt => i!(op.a) = (f!(op.b) < f!(op.c)) as i64,
                Opcode::FLe => i!(op.a) = (f!(op.b) <= f!(op.c)) as i64,
                Opcode::FGt => i!(op.a) = (f!(op.b) > f!(op.c)) as i64,
                Opcode::FGe => i!(op.a) = (f!(op.b) >= f!(op.c)) as i64,
                Opcode::FJEq => br!(f!(op.a) == f!(op.b), op.c),
                Opcode::FJNe => br!(f!(op.a) != f!(op.b), op.c),
                Opcode::FJLt => br!(f!(op.a) < f!(op.b), op.c),
                Opcode::FJLe => br!(f!(op.a) <= f!(op.b), op.c),
                Opcode::FJGt => br!(f!(op.a) > f!(op.b), op.c),
                Opcode::FJGe => br!(f!(op.a) >= f!(op.b), op.c),

                Opcode::UDiv => i!(op.a) = try_trap!(uint_div(i!(op.b), i!(op.c))),
                Opcode::URem => i!(op.a) = try_trap!(uint_rem(i!(op.b), i!(op.c))),
                Opcode::ULt => i!(op.a) = ((i!(op.b) as u64) < (i!(op.c) as u64)) as i64,
                Opcode::ULe => i!(op.a) = ((i!(op.b) as u64) <= (i!(op.c) as u64)) as i64,
                Opcode::UGt => i!(op.a) = ((i!(op.b) as u64) > (i!(op.c) as u64)) as i64,
                Opcode::UGe => i!(op.a) = ((i!(op.b) as u64) >= (i!(op.c) as u64)) as i64,
                Opcode::JULt => br!((i!(op.a) as u64) < (i!(op.b) as u64), op.c),
                Opcode::JULe => br!((i!(op.a) as u64) <= (i!(op.b) as u64), op.c),
                Opcode::JUGt => br!((i!(op.a) as u64) > (i!(op.b) as u64), op.c),
                Opcode::JUGe => br!((i!(op.a) as u64) >= (i!(op.b) as u64), op.c),
                Opcode::Popcnt => i!(op.a) = i64::from(i!(op.b).count_ones()),
                Opcode::Clz => i!(op.a) = i64::from(i!(op.b).leading_zeros()),
                Opcode::Ctz => i!(op.a) = i64::from(i!(op.b).trailing_zeros()),
                Opcode::Rotl => i!(op.a) = i!(op.b).rotate_left((i!(op.c) & 63) as u32),
                Opcode::Rotr => i!(op.a) = i!(op.b).rotate_right((i!(op.c) & 63) as u32),
                Opcode::RotlI => i!(op.a) = i!(op.b).rotate_left((imm16(op.c) & 63) as u32),
                Opcode::Min => i!(op.a) = i!(op.b).min(i!(op.c)),
                Opcode::Max => i!(op.a) = i!(op.b).max(i!(op.c)),
                Opcode::Sel => {
                    if i!(op.c) != 0 {
                        i!(op.a) = i!(op.b)
                    }
                }
                Opcode::FSel => {
                    if i!(op.c) != 0 {
                        f!(op.a) = f!(op.b)
                    }
                }
                Opcode::RSel => {
                    if i!(op.c) != 0 {
                        r!(op.a) = r!(op.b)
                    }
                }
                Opcode::Sext8 => i!(op.a) = i!(op.b) as i8 as i64,
                Opcode::Sext16 => i!(op.a) = i!(op.b) as i16 as i64,
                Opcode::Sext32 => i!(op.a) = i!(op.b) as i32 as i64,
                Opcode::Zext8 => i!(op.a) = i!(op.b) as u8 as i64,
                Opcode::Zext16 => i!(op.a) = i!(op.b) as u16 as i64,
                Opcode::Zext32 => i!(op.a) = i!(op.b) as u32 as i64,
                Opcode::Fma => f!(op.a) = float::fma(f!(op.a), f!(op.b), f!(op.c)),
                Opcode::FMin => f!(op.a) = float::minimum(f!(op.b), f!(op.c)),
                Opcode::FMax => f!(op.a) = float::maximum(f!(op.b), f!(op.c)),
                Opcode::FCeil => f!(op.a) = float::ceil(f!(op.b)),
                Opcode::FTrunc => f!(op.a) = float::trunc(f!(op.b)),
                Opcode::FRound => f!(op.a) = float::round_ties_even(f!(op.b)),
                Opcode::FCopysign => f!(op.a) = float::copysign(f!(op.b), f!(op.c)),
                // Through the slots' bits: moving a signalling NaN through
                // an f64 value could quiet it on some ABIs.
                Opcode::FBits => *ip.add(op.a as usize) = *(fp.add(op.b as usize) as *const i64),
                Opcode::BitsF => *(fp.add(op.a as usize) as *mut i64) = *ip.add(op.b as usize),

                Opcode::I2F => f!(op.a) = i!(op.b) as f64,
                Opcode::F2I => i!(op.a) = f!(op.b) as i64,

                Opcode::Jmp => jump!(op.a),
                Opcode::Jz => br!(i!(op.a) == 0, op.b),
                Opcode::Jnz => br!(i!(op.a) != 0, op.b),

                Opcode::Call | Opcode::CallI => {
                    // `calli`: the reference's checks, then the callee's
                    // indirect-call frame; its environment goes after the
                    // type's `r` parameters.
                    let (callee, cl, room, env) = callee!(op, op.opcode == Opcode::Call, op.b);
                    let w = op.c as usize;
                    // Depth counts the running frame: the entry is depth 1.
                    if frames.len() + 2 > max_depth {
                        trap!(TrapKind::StackOverflow);
                    }
                    if interrupt.load(Ordering::Relaxed) {
                        trap!(TrapKind::Interrupted);
                    }
                    let (nip, nfp, nrp) = (
                        ip.add(layout.regs[0] as usize),
                        fp.add(layout.regs[1] as usize),
                        rp.add(layout.regs[2] as usize),
                    );
                    let new_bases = [
                        nip.offset_from(i0) as usize,
                        nfp.offset_from(f0) as usize,
                        nrp.offset_from(r0) as usize,
                    ];
                    let cap = store.stacks.capacity();
                    if (0..3).any(|b| new_bases[b] + room[b] as usize > cap[b]) {
                        trap!(TrapKind::StackOverflow);
                    }
                    // Arguments from the window; the rest of the frame cleared.
                    // The verifier bounds the window only in banks where the
                    // callee has parameters: form the others without `add`.
                    copy_slots(
                        ip.wrapping_add(w) as *const u64,
                        nip as *mut u64,
                        cl.params[0],
                    );
                    copy_slots(
                        fp.wrapping_add(w) as *const u64,
                        nfp as *mut u64,
                        cl.params[1],
                    );
                    copy_slots(rp.wrapping_add(w), nrp, cl.params[2]);
                    start_frame([nip as *mut u64, nfp as *mut u64, nrp], &cl, env);
                    frames.push(Frame {
                        func: *func as u32,
                        pc: pc as u32,
                        bases: [
                            ip.offset_from(i0) as usize,
                            fp.offset_from(f0) as usize,
                            rp.offset_from(r0) as usize,
                        ],
                    });
                    *func = callee;
                    code = module.functions.get_unchecked(callee).code.as_slice();
                    layout = cl;
                    (ip, fp, rp) = (nip, nfp, nrp);
                    pc = 0;
                    continue;
                }
                Opcode::HostCall => {
                    let frame = HostFrame {
                        window: op.c as usize,
                        ib: ip,
                        fb: fp,
                        rb: rp,
                    };
                    let hf = store.hosts.get_unchecked_mut(op.b as usize);
                    let globals = &store.globals[2][..];
                    match run_host(hf, &mut store.heap, module, roots!(), globals, &frame) {
                        Ok(v) if op.a != NO_REG => store_result(&frame, op.a.into(), v),
                        Ok(_) => {}
                        Err(e) => {
                            *pc_out = pc;
                            return Err(e);
                        }
                    }
                }
                Opcode::Ret | Opcode::RetI | Opcode::RetF | Opcode::RetR => {
                    match op.opcode {
                        Opcode::RetI => i!(0) = i!(op.a),
                        Opcode::RetF => f!(0) = f!(op.a),
                        Opcode::RetR => r!(0) = r!(op.a),
                        _ => {}
                    }
                    let Some(caller) = frames.pop() else {
                        *pc_out = pc;
                        return Ok(());
                    };
                    let (cip, cfp, crp) = (ip, fp, rp);
                    *func = caller.func as usize;
                    code = module.functions.get_unchecked(*func).code.as_slice();
                    layout = *layouts.get_unchecked(*func);
                    (ip, fp, rp) = (
                        i0.add(caller.bases[0]),
                        f0.add(caller.bases[1]),
                        r0.add(caller.bases[2]),
                    );
                    pc = caller.pc as usize;
                    let call = *code.get_unchecked(pc);
                    // `call` names its result register; `calli` puts the
                    // result in its window's first register.
                    let dst = if call.opcode == Opcode::CallI {
                        call.c
                    } else {
                        call.a
                    };
                    if dst != NO_REG {
                        match op.opcode {
                            Opcode::RetI => i!(dst) = *cip,
                            Opcode::RetF => f!(dst) = *cfp,
                            Opcode::RetR => r!(dst) = *crp,
                            _ => {}
                        }
                    }
                }
                Opcode::TCall | Opcode::TCallI => {
                    // The callee replaces this activation: same bases, same
                    // depth; its return is this function's.
                    let direct = op.opcode == Opcode::TCall;
                    let (callee, cl, room, env) = callee!(op, direct, op.a);
                    let w = if direct { op.b } else { op.c } as usize;
                    if interrupt.load(Ordering::Relaxed) {
                        trap!(TrapKind::Interrupted);
                    }
                    let here = [
                        ip.offset_from(i0) as usize,
                        fp.offset_from(f0) as usize,
                        rp.offset_from(r0) as usize,
                    ];
                    let cap = store.stacks.capacity();
                    if (0..3).any(|b| here[b] + room[b] as usize > cap[b]) {
                        trap!(TrapKind::StackOverflow);
                    }
                    // Forward copies: slot `w + k` goes to slot `k <= w + k`,
                    // so no argument is overwritten before it is read.
                    for (base, bank) in [(ip as *mut u64, 0), (fp as *mut u64, 1), (rp, 2)] {
                        for k in 0..cl.params[bank] as usize {
                            *base.add(k) = *base.add(w + k);
                        }
                    }
                    start_frame([ip as *mut u64, fp as *mut u64, rp], &cl, env);
                    *func = callee;
                    code = module.functions.get_unchecked(callee).code.as_slice();
                    layout = cl;
                    pc = 0;
                    continue;
                }
                Opcode::FRef => r!(op.a) = store.func_ref(op.b as usize),
                Opcode::GGetI => i!(op.a) = *store.globals[0].get_unchecked(op.b as usize) as i64,
                Opcode::GGetF => {
                    f!(op.a) = f64::from_bits(*store.globals[1].get_unchecked(op.b as usize))
                }
                Opcode::GGetR => r!(op.a) = *store.globals[2].get_unchecked(op.b as usize),
                Opcode::GSetI => {
                    *store.globals[0].get_unchecked_mut(op.a as usize) = i!(op.b) as u64
                }
                Opcode::GSetF => {
                    *store.globals[1].get_unchecked_mut(op.a as usize) = f!(op.b).to_bits()
                }
                Opcode::GSetR => *store.globals[2].get_unchecked_mut(op.a as usize) = r!(op.b),
                Opcode::Switch => {
                    // Every target is forward: no interrupt poll.
                    let table = module
                        .functions
                        .get_unchecked(*func)
                        .switch_tables
                        .get_unchecked(op.b as usize);
                    pc = table.target_of(i!(op.a)) as usize;
                    continue;
                }
                Opcode::Closure => {
                    let proto = store.func_refs.get_unchecked(op.b as usize);
                    let env = r!(op.c);
                    let roots = [roots!(), &store.globals[2][..]];
                    r!(op.a) = try_trap!(store.heap.alloc_closure(proto, env, &roots));
                }

                Opcode::NewI | Opcode::NewF | Opcode::NewR => {
                    let (_, kind) = ElemKind::of_op(op.opcode);
                    let len = i!(op.b);
                    let roots = [roots!(), &store.globals[2][..]];
                    r!(op.a) = try_trap!(store.heap.alloc(kind, len, &roots));
                }
                Opcode::Len => i!(op.a) = try_trap!(array_len(r!(op.b))),
                Opcode::SNew => {
                    let roots = [roots!(), &store.globals[2][..]];
                    r!(op.a) = try_trap!(store.heap.alloc_struct(op.b as usize, &roots));
                }
                Opcode::SGetI => {
                    i!(op.a) = *try_trap!(field_ptr(r!(op.b), &structs, op.c as usize)) as i64
                }
                Opcode::SGetF => {
                    f!(op.a) =
                        f64::from_bits(*try_trap!(field_ptr(r!(op.b), &structs, op.c as usize)))
                }
                Opcode::SGetR => {
                    r!(op.a) = *try_trap!(field_ptr(r!(op.b), &structs, op.c as usize))
                }
                Opcode::SSetI => {
                    *try_trap!(field_ptr(r!(op.a), &structs, op.b as usize)) = i!(op.c) as u64
                }
                Opcode::SSetF => {
                    *try_trap!(field_ptr(r!(op.a), &structs, op.b as usize)) = f!(op.c).to_bits()
                }
                Opcode::SSetR => {
                    *try_trap!(field_ptr(r!(op.a), &structs, op.b as usize)) = r!(op.c)
                }
                Opcode::Isa => i!(op.a) = i64::from(is_a(r!(op.b), &structs, op.c as usize)),
                Opcode::IsNull => i!(op.a) = i64::from(r!(op.b) == 0),
                Opcode::REq => i!(op.a) = i64::from(r!(op.b) == r!(op.c)),
                Opcode::JNull => br!(r!(op.a) == 0, op.b),
                Opcode::JNNull => br!(r!(op.a) != 0, op.b),
                Opcode::GetI => i!(op.a) = try_trap!(get_i64(r!(op.b), i!(op.c))),
                Opcode::GetF => {
                    f!(op.a) =
                        f64::from_bits(*try_trap!(element_ptr(r!(op.b), ElemKind::F64, i!(op.c))))
                }
                Opcode::GetR => {
                    r!(op.a) = *try_trap!(element_ptr(r!(op.b), ElemKind::Ref, i!(op.c)))
                }
                Opcode::SetI => {
                    try_trap!(set_i64(r!(op.a), i!(op.b), i!(op.c)))
                }
                Opcode::SetF => {
                    *try_trap!(element_ptr(r!(op.a), ElemKind::F64, i!(op.b))) = f!(op.c).to_bits()
                }
                Opcode::SetR => {
                    *try_trap!(element_ptr(r!(op.a), ElemKind::Ref, i!(op.b))) = r!(op.c)
                }

                // Output errors (a closed pipe) do not change the program's
                // semantics, as with C's unchecked printf.
                Opcode::PrintS => {
                    let _ = store
                        .out
                        .write_all(module.strings.get_unchecked(op.a as usize).as_bytes());
                }
                Opcode::PrintI => {
                    let _ = write_i64(&mut *store.out, i!(op.a));
                }
                Opcode::PrintF => {
                    let _ = write_f64(&mut *store.out, f!(op.a), op.b as usize);
                }
                Opcode::NewB => {
                    let len = i!(op.b);
                    let roots = [roots!(), &store.globals[2][..]];
                    r!(op.a) = try_trap!(store.heap.alloc(ElemKind::Bytes, len, &roots));
                }
                Opcode::GetB => i!(op.a) = try_trap!(get_byte(r!(op.b), i!(op.c))),
                Opcode::SetB => try_trap!(set_byte(r!(op.a), i!(op.b), i!(op.c))),
                Opcode::SConst => r!(op.a) = store.strings.get(op.b as usize),
                Opcode::PrintB => {
                    let bytes = try_trap!(bytes_of(r!(op.a)));
                    let _ = store.out.write_all(bytes);
                }
                Opcode::Copy => {
                    let c = op.c as usize;
                    try_trap!(copy_array(r!(op.a), r!(op.b), i!(c), i!(c + 1), i!(c + 2)))
                }
                Opcode::FillI | Opcode::FillF | Opcode::FillR => {
                    let (bank, value) = match op.opcode {
                        Opcode::FillI => (Bank::I, i!(op.c) as u64),
                        Opcode::FillF => (Bank::F, f!(op.c).to_bits()),
                        _ => (Bank::R, r!(op.c)),
                    };
                    let b = op.b as usize;
                    try_trap!(fill_array(bank, r!(op.a), i!(b), i!(b + 1), value))
                }
                Opcode::Trap | Opcode::TrapI => {
                    let code = if op.opcode == Opcode::Trap {
                        i!(op.a)
                    } else {
                        imm16(op.a)
                    };
                    *pc_out = pc;
                    return Err(RawTrap {
                        kind: TrapKind::User,
                        detail: None,
                        user_code: Some(code),
                    });
                }
            }
            pc += 1;
        }
    }
}

/// Copy `n` register slots. Frames are small: a plain loop beats a call to
/// `memcpy` (which showed as 10% of a call-heavy profile).
///
/// # Safety
/// Both ranges valid for `n` slots and disjoint.
#[inline(always)]
unsafe fn copy_slots(src: *const u64, dst: *mut u64, n: u32) {
    if n > 8 {
        // SAFETY: by the caller's contract.
        unsafe { std::ptr::copy_nonoverlapping(src, dst, n as usize) };
        return;
    }
    for k in 0..n as usize {
        // SAFETY: by the caller's contract.
        unsafe { std::ptr::write_volatile(dst.add(k), *src.add(k)) };
    }
}

/// Start a callee's frame at `bases`, its parameters in place: clear its
/// other registers, then put a closure's environment `env` in its last `r`
/// parameter.
///
/// # Safety
/// The frame of `cl` at `bases` is valid.
#[inline(always)]
unsafe fn start_frame(bases: [*mut u64; 3], cl: &FrameLayout, env: Option<u64>) {
    for ((base, params), regs) in bases.iter().zip(cl.params).zip(cl.regs) {
        // SAFETY: by the caller's contract.
        unsafe { clear_slots(base.add(params as usize), regs - params) };
    }
    if let Some(env) = env {
        // SAFETY: a closure's function has an `r` parameter (verified).
        unsafe { *bases[2].add(cl.params[2] as usize - 1) = env };
    }
}

/// Zero `n` register slots (see [`copy_slots`]).
///
/// # Safety
/// The range is valid for `n` slots.
#[inline(always)]
unsafe fn clear_slots(dst: *mut u64, n: u32) {
    if n > 8 {
        // SAFETY: by the caller's contract.
        unsafe { std::ptr::write_bytes(dst, 0, n as usize) };
        return;
    }
    for k in 0..n as usize {
        // Volatile keeps LLVM from turning the loop back into `memset`.
        // SAFETY: by the caller's contract.
        unsafe { std::ptr::write_volatile(dst.add(k), 0) };
    }
}

/// `x / y` with the bytecode's traps.
#[inline(always)]
pub fn int_div(x: i64, y: i64) -> Result<i64, TrapKind> {
    if y == 0 {
        Err(TrapKind::DivisionByZero)
    } else if x == i64::MIN && y == -1 {
        Err(TrapKind::IntegerOverflow)
    } else {
        Ok(x / y)
    }
}

/// `x / y` as `u64`, with the bytecode's trap on a zero divisor.
#[inline(always)]
pub fn uint_div(x: i64, y: i64) -> Result<i64, TrapKind> {
    match (x as u64).checked_div(y as u64) {
        Some(q) => Ok(q as i64),
        None => Err(TrapKind::DivisionByZero),
    }
}

/// `x % y` as `u64`, with the bytecode's trap on a zero divisor.
#[inline(always)]
pub fn uint_rem(x: i64, y: i64) -> Result<i64, TrapKind> {
    match (x as u64).checked_rem(y as u64) {
        Some(r) => Ok(r as i64),
        None => Err(TrapKind::DivisionByZero),
    }
}

/// `x % y` with the bytecode's traps (`i64::MIN % -1` is 0).
#[inline(always)]
pub fn int_rem(x: i64, y: i64) -> Result<i64, TrapKind> {
    if y == 0 {
        Err(TrapKind::DivisionByZero)
    } else {
        Ok(x.wrapping_rem(y))
    }
}
