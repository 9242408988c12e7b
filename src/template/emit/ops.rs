//! Every op's template, once, dispatched by opcode.

use crate::bytecode::op::{BitCount, Extension, FloatBinOp, FloatUnOp, IntBinOp, imm16};
use crate::bytecode::{Bank, Cmp, Op, Opcode};
use crate::runtime::context::offsets;
use crate::runtime::heap::{ARRAY_DATA_OFFSET, ARRAY_LEN_OFFSET, ElemKind};
use crate::runtime::host::HostCallSite;
use crate::runtime::trap::TrapKind;
use crate::template::masm::{AluOp, Cond, FpOp, FpUnary, Gpr, HelperArg, MacroAssembler};

use Gpr::{T0, T1, T2};

use super::Emitter;
use super::stubs::TrapCode;

// The lookups below are only called from the match arms of their own
// opcodes, for which the op table always has an answer; the fallbacks are
// unreachable.

/// The ALU operation of an i64 op other than div/rem, in either form.
pub(super) fn alu_of(opcode: Opcode) -> AluOp {
    match opcode.int_binop() {
        Some(IntBinOp::Sub) => AluOp::Sub,
        Some(IntBinOp::Mul) => AluOp::Mul,
        Some(IntBinOp::And) => AluOp::And,
        Some(IntBinOp::Or) => AluOp::Or,
        Some(IntBinOp::Xor) => AluOp::Xor,
        Some(IntBinOp::Shl) => AluOp::Shl,
        Some(IntBinOp::Shr) => AluOp::Sar,
        Some(IntBinOp::Ushr) => AluOp::Shr,
        _ => AluOp::Add,
    }
}

/// The comparison of a compare or compare-and-branch op.
pub(super) fn cmp_of(opcode: Opcode) -> Cmp {
    opcode.cmp().unwrap_or(Cmp::Eq)
}

/// The operation of an f64 binary op.
pub(super) fn fp_op(opcode: Opcode) -> FpOp {
    match opcode.float_binop() {
        Some(FloatBinOp::Sub) => FpOp::Sub,
        Some(FloatBinOp::Mul) => FpOp::Mul,
        Some(FloatBinOp::Div) => FpOp::Div,
        _ => FpOp::Add,
    }
}

/// The operation of an f64 unary op.
pub(super) fn fp_unary(opcode: Opcode) -> FpUnary {
    match opcode.float_unop() {
        Some(FloatUnOp::Abs) => FpUnary::Abs,
        Some(FloatUnOp::Sqrt) => FpUnary::Sqrt,
        Some(FloatUnOp::Floor) => FpUnary::Floor,
        Some(FloatUnOp::Ceil) => FpUnary::Ceil,
        Some(FloatUnOp::Trunc) => FpUnary::Trunc,
        Some(FloatUnOp::Round) => FpUnary::Round,
        _ => FpUnary::Neg,
    }
}

/// An immediate field as the `i32` the macro-assembler takes (16 bits
/// always fit).
pub(super) fn imm(field: u16) -> i32 {
    imm16(field) as i32
}

impl<'m, M: MacroAssembler> Emitter<'m, M> {
    /// `gget*` and `gset*`: bank `b`'s globals are an array of 8-byte
    /// values at `ctx.globals[b]`. f64 values go through the registers of
    /// the f64 cache, as array elements do.
    fn global(&mut self, op: Op) {
        let bank = op.opcode.global_bank().unwrap_or(Bank::I);
        let base = offsets::globals(bank.index());
        let get = matches!(op.opcode, Opcode::GGetI | Opcode::GGetF | Opcode::GGetR);
        let (global, reg) = if get { (op.b, op.a) } else { (op.a, op.b) };
        let offset = i32::from(global) * 8;
        match (bank, get) {
            (Bank::F, true) => {
                self.masm.load_ctx(T0, base);
                self.masm.load_imm(T1, global.into());
                let d = self.dst_f(reg, &[]);
                self.masm.load_findexed(d, T0, T1, 0);
                self.store_f(reg, d);
            }
            (Bank::F, false) => {
                let x = self.use_f(reg, &[]);
                self.masm.load_ctx(T0, base);
                self.masm.load_imm(T1, global.into());
                self.masm.store_findexed(T0, T1, 0, x);
            }
            (Bank::I, true) => {
                self.masm.load_ctx(T0, base);
                self.masm.load_mem(T0, T0, offset);
                self.store_i(reg, T0);
            }
            (Bank::R, true) => {
                self.masm.load_ctx(T0, base);
                self.masm.load_mem(T0, T0, offset);
                self.masm.store_slot(Bank::R, reg.into(), T0);
            }
            (_, false) => {
                // The first load may reuse the previous op's result.
                if bank == Bank::I {
                    self.load_i(T1, reg);
                } else {
                    self.masm.load_slot(T1, bank, reg.into());
                }
                self.masm.load_ctx(T0, base);
                self.masm.store_mem(T0, offset, T1);
            }
        }
    }

    /// `switch`: a jump table over the case targets, the default for any
    /// value outside them. Every target is forward (no poll, no restore);
    /// the next op is reached only as a target, with nothing in registers.
    fn switch(&mut self, pc: u32, op: Op) {
        let function = &self.module.functions[self.func as usize];
        let Some(table) = function.switch_tables.get(usize::from(op.b)) else {
            // Unreachable for verified code.
            return;
        };
        self.switch_labels.clear();
        for &t in &table.targets {
            let label = self.branch_target(pc, t, false);
            self.switch_labels.push(label);
        }
        let default = self.branch_target(pc, table.default, false);
        self.load_i(T0, op.a);
        self.masm.jump_table(T0, self.switch_labels, default);
        self.fp.clear();
    }

    pub(super) fn op(&mut self, pc: u32, op: Op) {
        use Opcode::*;
        let m = &mut self.masm;
        match op.opcode {
            GGetI | GGetF | GGetR | GSetI | GSetF | GSetR => self.global(op),
            Switch => self.switch(pc, op),
            Nop => {}
            IConst => {
                m.load_imm(T0, imm(op.b).into());
                self.store_i(op.a, T0);
            }
            IConstK => {
                m.load_imm(T0, self.module.iconsts[op.b as usize]);
                self.store_i(op.a, T0);
            }
            FConst => {
                m.load_imm(T0, self.module.fconsts[op.b as usize] as i64);
                m.store_slot(Bank::F, op.a.into(), T0);
                self.fp.forget_slot(op.a.into());
            }
            RNull => m.zero_slots(Bank::R, op.a.into(), 1),
            FMov => {
                let x = self.use_f(op.b, &[]);
                self.store_f(op.a, x);
            }
            Mov | RMov => {
                let bank = op.opcode.transfer_bank().unwrap_or(Bank::I);
                m.load_slot(T0, bank, op.b.into());
                m.store_slot(bank, op.a.into(), T0);
            }
            Add | Sub | Mul | And | Or | Xor | Shl | Shr | Ushr => {
                let alu = alu_of(op.opcode);
                self.load_i(T0, op.b);
                self.load_i(T1, op.c);
                self.masm.alu(alu, T0, T0, T1);
                self.store_i(op.a, T0);
            }
            AddI | SubI | MulI | AndI | OrI | XorI | ShlI | ShrI | UshrI => {
                let alu = alu_of(op.opcode);
                self.load_i(T0, op.b);
                self.masm.alu_imm(alu, T0, T0, imm(op.c));
                self.store_i(op.a, T0);
            }
            Div | Rem => {
                self.load_i(T0, op.b);
                self.load_i(T1, op.c);
                self.division(pc, op.opcode == Div, op.a);
            }
            DivI | RemI => self.division_by_constant(pc, op.opcode == DivI, op.a, op.b, imm(op.c)),
            Neg | Not => {
                self.load_i(T0, op.b);
                if op.opcode == Neg {
                    self.masm.neg(T0, T0);
                } else {
                    self.masm.not(T0, T0);
                }
                self.store_i(op.a, T0);
            }
            Eq | Ne | Lt | Le | Gt | Ge => {
                let cond = Cond::signed(cmp_of(op.opcode));
                self.load_i(T0, op.b);
                self.load_i(T1, op.c);
                self.masm.set_cond(cond, T0, T0, T1);
                self.store_i(op.a, T0);
            }
            EqI | NeI | LtI | LeI | GtI | GeI => {
                let cond = Cond::signed(cmp_of(op.opcode));
                self.load_i(T0, op.b);
                self.masm.set_cond_imm(cond, T0, T0, imm(op.c));
                self.store_i(op.a, T0);
            }
            JEq | JNe | JLt | JLe | JGt | JGe => {
                let cond = Cond::signed(cmp_of(op.opcode));
                let to = self.branch_target(pc, op.c, false);
                self.load_i(T0, op.a);
                self.load_i(T1, op.b);
                self.masm.branch(cond, T0, T1, to);
            }
            JEqI | JNeI | JLtI | JLeI | JGtI | JGeI => {
                let cond = Cond::signed(cmp_of(op.opcode));
                let to = self.branch_target(pc, op.c, false);
                self.load_i(T0, op.a);
                self.masm.branch_imm(cond, T0, imm(op.b), to);
            }
            FAdd | FSub | FMul | FDiv => {
                let fop = fp_op(op.opcode);
                let l = self.use_f(op.b, &[]);
                let r = self.use_f(op.c, &[l]);
                let d = self.result_f(op.a, (op.b, l), &[l, r]);
                self.masm.fp_op(fop, d, l, r);
                self.store_f(op.a, d);
            }
            FNeg | FAbs | FSqrt | FFloor | FCeil | FTrunc | FRound => {
                let un = fp_unary(op.opcode);
                let x = self.use_f(op.b, &[]);
                let d = self.result_f(op.a, (op.b, x), &[x]);
                self.masm.fp_unary(un, d, x);
                self.store_f(op.a, d);
            }
            FEq | FNe | FLt | FLe | FGt | FGe => {
                let cmp = cmp_of(op.opcode);
                let l = self.use_f(op.b, &[]);
                let r = self.use_f(op.c, &[l]);
                self.masm.fp_set_cond(cmp, T0, l, r);
                self.store_i(op.a, T0);
            }
            FJEq | FJNe | FJLt | FJLe | FJGt | FJGe => {
                let cmp = cmp_of(op.opcode);
                let l = self.use_f(op.a, &[]);
                let r = self.use_f(op.b, &[l]);
                let to = self.branch_target(pc, op.c, true);
                self.masm.fp_branch(cmp, l, r, to);
            }
            UDiv | URem => {
                self.load_i(T0, op.b);
                self.load_i(T1, op.c);
                let zero = self.trap_kind(pc, TrapKind::DivisionByZero);
                self.masm.branch_imm(Cond::Eq, T1, 0, zero);
                if op.opcode == UDiv {
                    self.masm.udiv(T0, T0, T1);
                } else {
                    self.masm.urem(T0, T0, T1);
                }
                self.store_i(op.a, T0);
            }
            ULt | ULe | UGt | UGe => {
                let cond = Cond::unsigned(op.opcode.unsigned_cmp().unwrap_or(Cmp::Eq));
                self.load_i(T0, op.b);
                self.load_i(T1, op.c);
                self.masm.set_cond(cond, T0, T0, T1);
                self.store_i(op.a, T0);
            }
            JULt | JULe | JUGt | JUGe => {
                let cond = Cond::unsigned(op.opcode.unsigned_cmp().unwrap_or(Cmp::Eq));
                let to = self.branch_target(pc, op.c, false);
                self.load_i(T0, op.a);
                self.load_i(T1, op.b);
                self.masm.branch(cond, T0, T1, to);
            }
            Popcnt | Clz | Ctz => {
                let count = op.opcode.bit_count().unwrap_or(BitCount::Popcnt);
                self.load_i(T0, op.b);
                self.masm.bit_count(count, T0, T0);
                self.store_i(op.a, T0);
            }
            Sext8 | Sext16 | Sext32 | Zext8 | Zext16 | Zext32 => {
                let ext = op.opcode.extension().unwrap_or(Extension::U32);
                self.load_i(T0, op.b);
                self.masm.extend(ext, T0, T0);
                self.store_i(op.a, T0);
            }
            Rotl | Rotr | Min | Max => {
                self.load_i(T0, op.b);
                self.load_i(T1, op.c);
                match op.opcode {
                    Rotl => self.masm.alu(AluOp::Rotl, T0, T0, T1),
                    Rotr => self.masm.alu(AluOp::Rotr, T0, T0, T1),
                    Min => self.masm.select(Cond::Lt, T0, T0, T1),
                    _ => self.masm.select(Cond::Gt, T0, T0, T1),
                }
                self.store_i(op.a, T0);
            }
            RotlI => {
                self.load_i(T0, op.b);
                self.masm.alu_imm(AluOp::Rotl, T0, T0, imm(op.c));
                self.store_i(op.a, T0);
            }
            Sel => {
                self.load_i(T0, op.a);
                self.load_i(T1, op.b);
                self.load_i(T2, op.c);
                self.masm.move_if_nonzero(T0, T1, T2);
                self.store_i(op.a, T0);
            }
            FSel | RSel => {
                // On the slots' bits, in integer registers (f64 slots are
                // current: every op writes its result through); the
                // condition first, as it may be the previous op's result.
                let bank = op.opcode.select_bank().unwrap_or(Bank::R);
                self.load_i(T2, op.c);
                self.masm.load_slot(T0, bank, op.a.into());
                self.masm.load_slot(T1, bank, op.b.into());
                self.masm.move_if_nonzero(T0, T1, T2);
                self.masm.store_slot(bank, op.a.into(), T0);
                if bank == Bank::F {
                    self.fp.forget_slot(op.a.into());
                }
            }
            Fma => {
                let acc = self.use_f(op.a, &[]);
                let l = self.use_f(op.b, &[acc]);
                let r = self.use_f(op.c, &[acc, l]);
                // The accumulator's register, where it stays for the next
                // `fma` of a loop.
                let d = self.dst_f(op.a, &[l, r]);
                self.masm.fp_fma(d, acc, l, r);
                self.store_f(op.a, d);
            }
            FMin | FMax | FCopysign => {
                let l = self.use_f(op.b, &[]);
                let r = self.use_f(op.c, &[l]);
                let d = self.result_f(op.a, (op.b, l), &[l, r]);
                match op.opcode {
                    FCopysign => self.masm.fp_copysign(d, l, r),
                    _ => self.masm.fp_min_max(op.opcode == FMax, d, l, r),
                }
                self.store_f(op.a, d);
            }
            FBits => {
                self.masm.load_slot(T0, Bank::F, op.b.into());
                self.store_i(op.a, T0);
            }
            BitsF => {
                self.load_i(T0, op.b);
                self.masm.store_slot(Bank::F, op.a.into(), T0);
                self.fp.forget_slot(op.a.into());
            }
            I2F => {
                self.load_i(T0, op.b);
                let d = self.dst_f(op.a, &[]);
                self.masm.i2f(d, T0);
                self.store_f(op.a, d);
            }
            F2I => {
                let x = self.use_f(op.b, &[]);
                self.masm.f2i(T0, x);
                self.store_i(op.a, T0);
            }
            Jmp => {
                let to = self.branch_target(pc, op.a, false);
                self.masm.jump(to);
            }
            Jz | Jnz => {
                let cond = if op.opcode == Jz { Cond::Eq } else { Cond::Ne };
                let to = self.branch_target(pc, op.b, false);
                self.load_i(T0, op.a);
                self.masm.branch_imm(cond, T0, 0, to);
            }
            Call => self.call(pc, op),
            CallI => self.call_indirect(pc, op),
            TCall => self.tail_call(pc, op),
            TCallI => self.tail_call_indirect(pc, op),
            FRef => self.fref(op),
            Closure => self.closure(pc, op),
            HostCall => {
                let frame_refs = self.layout.regs[Bank::R.index()] as u16;
                let packed = HostCallSite::of_op(op, frame_refs).pack();
                self.call_helper(
                    self.helpers.host_call,
                    &[
                        HelperArg::Ctx,
                        HelperArg::Imm(packed),
                        HelperArg::SlotAddr(Bank::I, 0),
                        HelperArg::SlotAddr(Bank::F, 0),
                        HelperArg::SlotAddr(Bank::R, 0),
                    ],
                );
                let trap = self.trap(pc, TrapCode::Dynamic);
                self.masm.branch_imm(Cond::Ne, T0, 0, trap);
            }
            Ret | RetI | RetF | RetR => {
                // The result goes to slot 0 of its bank, where it may be.
                if let Some(bank) = op.opcode.transfer_bank()
                    && op.a != 0
                {
                    m.load_slot(T0, bank, op.a.into());
                    m.store_slot(bank, 0, T0);
                }
                // The shared exit follows the last op.
                if pc as usize + 1 < self.module.functions[self.func as usize].code.len() {
                    let ret = self.return_ok;
                    self.masm.jump(ret);
                }
            }
            NewI | NewF | NewR | NewB => {
                let kind = match op.opcode {
                    NewB => ElemKind::Bytes,
                    _ => ElemKind::of_op(op.opcode).1,
                };
                self.load_i(T0, op.b);
                let top = self.layout.regs[Bank::R.index()];
                self.call_helper(
                    self.helpers.new_array,
                    &[
                        HelperArg::Ctx,
                        HelperArg::Imm(kind as i64),
                        HelperArg::Reg(T0),
                        HelperArg::SlotAddr(Bank::R, op.a.into()),
                        HelperArg::SlotAddr(Bank::R, top),
                    ],
                );
                let trap = self.trap(pc, TrapCode::Dynamic);
                self.masm.branch_imm(Cond::Ne, T0, 0, trap);
            }
            Len => {
                let null = self.trap_kind(pc, TrapKind::NullReference);
                let m = &mut self.masm;
                m.load_slot(T0, Bank::R, op.b.into());
                m.branch_imm(Cond::Eq, T0, 0, null);
                m.load_mem(T0, T0, ARRAY_LEN_OFFSET as i32);
                self.store_i(op.a, T0);
            }
            GetI => self.get_i64(pc, op),
            GetB => self.get_byte(pc, op),
            SetB => self.set_byte(pc, op),
            SConst => self.string_const(op),
            PrintB | Copy | FillI | FillF | FillR => self.bulk(pc, op),
            SetI => self.set_i64(pc, op),
            SNew => self.new_struct(pc, op),
            SGetI | SGetF | SGetR => self.field_get(pc, op),
            SSetI | SSetF | SSetR => self.field_set(pc, op),
            Isa => self.isa(op),
            IsNull | REq | JNull | JNNull => self.ref_test(pc, op),
            GetF | GetR => {
                let (bank, kind) = ElemKind::of_op(op.opcode);
                self.element_address(pc, op.b, op.c, kind);
                // f64 elements go through the register their bank computes
                // in, so the next op can reuse it.
                if bank == Bank::F {
                    let d = self.dst_f(op.a, &[]);
                    self.masm.load_findexed(d, T0, T1, ARRAY_DATA_OFFSET as i32);
                    self.store_f(op.a, d);
                } else {
                    self.masm.load_indexed(T0, T0, T1, ARRAY_DATA_OFFSET as i32);
                    self.masm.store_slot(bank, op.a.into(), T0);
                }
            }
            SetF | SetR => {
                let (bank, kind) = ElemKind::of_op(op.opcode);
                self.element_address(pc, op.a, op.b, kind);
                if bank == Bank::F {
                    // The checks leave the f64 registers alone.
                    let x = self.use_f(op.c, &[]);
                    self.masm
                        .store_findexed(T0, T1, ARRAY_DATA_OFFSET as i32, x);
                } else {
                    self.masm.load_slot(T2, bank, op.c.into());
                    self.masm
                        .store_indexed(T0, T1, ARRAY_DATA_OFFSET as i32, T2);
                }
            }
            PrintS => {
                self.call_helper(
                    self.helpers.print_str,
                    &[HelperArg::Ctx, HelperArg::Imm(op.a.into())],
                );
            }
            PrintI => {
                m.load_slot(T0, Bank::I, op.a.into());
                self.call_helper(
                    self.helpers.print_i64,
                    &[HelperArg::Ctx, HelperArg::Reg(T0)],
                );
            }
            PrintF => {
                m.load_slot(T0, Bank::F, op.a.into());
                self.call_helper(
                    self.helpers.print_f64,
                    &[
                        HelperArg::Ctx,
                        HelperArg::Reg(T0),
                        HelperArg::Imm(op.b.into()),
                    ],
                );
            }
            Trap | TrapI => {
                if op.opcode == Trap {
                    self.load_i(T0, op.a);
                } else {
                    self.masm.load_imm(T0, imm16(op.a));
                }
                self.masm.store_ctx(offsets::TRAP_USER_CODE, T0);
                let user = self.trap_kind(pc, TrapKind::User);
                self.masm.jump(user);
            }
        }
    }
}
