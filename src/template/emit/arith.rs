//! Integer division and remainder: the traps, and division by constants
//! through a reciprocal multiply.

use crate::lowering::Magic;
use crate::runtime::trap::TrapKind;
use crate::template::masm::{AluOp, Cond, Gpr, MacroAssembler};

use Gpr::{T0, T1, T2};

use super::Emitter;

impl<'m, M: MacroAssembler> Emitter<'m, M> {
    /// `T0 / T1` or `T0 % T1` into slot `dst`, with the bytecode's traps.
    pub(super) fn division(&mut self, pc: u32, is_div: bool, dst: u16) {
        let zero = self.trap_kind(pc, TrapKind::DivisionByZero);
        self.masm.branch_imm(Cond::Eq, T1, 0, zero);
        if is_div {
            let overflow = self.trap_kind(pc, TrapKind::IntegerOverflow);
            self.masm.sdiv(T0, T0, T1, overflow);
        } else {
            self.masm.srem(T0, T0, T1);
        }
        self.store_i(dst, T0);
    }

    /// Division by a constant: the checks are decided now, and every
    /// divisor but 0 and ±1 is a multiplication by its reciprocal.
    pub(super) fn division_by_constant(
        &mut self,
        pc: u32,
        is_div: bool,
        dst: u16,
        src: u16,
        divisor: i32,
    ) {
        match (divisor, Magic::of(divisor.into())) {
            (0, _) => {
                let zero = self.trap_kind(pc, TrapKind::DivisionByZero);
                self.masm.jump(zero);
            }
            (_, Some(magic)) => {
                self.load_i(T0, src);
                self.divide_by_reciprocal(magic, is_div, divisor);
                self.store_i(dst, T0);
            }
            (-1, None) if is_div => {
                let overflow = self.trap_kind(pc, TrapKind::IntegerOverflow);
                self.load_i(T0, src);
                self.masm.load_imm(T2, i64::MIN);
                self.masm.branch(Cond::Eq, T0, T2, overflow);
                self.masm.neg(T0, T0);
                self.store_i(dst, T0);
            }
            // x / 1.
            (_, None) if is_div => {
                self.load_i(T0, src);
                self.store_i(dst, T0);
            }
            // x % 1 and x % -1.
            (_, None) => {
                self.masm.load_imm(T0, 0);
                self.store_i(dst, T0);
            }
        }
    }

    /// `T0 = T0 / d` or `T0 % d` by multiplying with `d`'s reciprocal
    /// (see [`Magic`]).
    pub(super) fn divide_by_reciprocal(&mut self, magic: Magic, is_div: bool, d: i32) {
        let m = &mut self.masm;
        m.load_imm(T1, magic.multiplier);
        m.mul_high(T1, T0, T1);
        if let Some(op) = magic.adjust {
            m.alu(op, T1, T1, T0);
        }
        if magic.shift > 0 {
            m.alu_imm(AluOp::Sar, T1, T1, magic.shift as i32);
        }
        // Round toward zero: one more for a negative quotient.
        m.alu_imm(AluOp::Shr, T2, T1, 63);
        if is_div {
            m.alu(AluOp::Add, T0, T1, T2);
        } else {
            m.alu(AluOp::Add, T1, T1, T2);
            m.alu_imm(AluOp::Mul, T1, T1, d);
            m.alu(AluOp::Sub, T0, T0, T1);
        }
    }
}
