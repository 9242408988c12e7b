//! Array element access: null, kind and bounds checks, byte-packed i64
//! arrays and their widening.

use crate::bytecode::{Bank, Op, Opcode};
use crate::runtime::context::offsets;
use crate::runtime::heap::{
    ARRAY_DATA_OFFSET, ARRAY_KIND_OFFSET, ARRAY_LEN_OFFSET, BYTES_KIND, ElemKind, I64_BYTES_KIND,
    I64_BYTES_MAX, STRING_KIND,
};
use crate::runtime::trap::TrapKind;
use crate::template::masm::{AluOp, Cond, Gpr, HelperArg, MacroAssembler};

use Gpr::{T0, T1, T2};

use super::Emitter;
use super::stubs::{Stub, TrapCode};

impl<'m, M: MacroAssembler> Emitter<'m, M> {
    /// Check array `r[array]` and index `i[index]` for an f64 or reference
    /// array: leaves the array in `T0` and the index in `T1`, or traps.
    pub(super) fn element_address(&mut self, pc: u32, array: u16, index: u16, kind: ElemKind) {
        let null = self.trap_kind(pc, TrapKind::NullReference);
        let wrong_kind = self.trap_kind(pc, TrapKind::ElementKind);
        let bounds = self.trap_kind(pc, TrapKind::IndexOutOfBounds);
        let m = &mut self.masm;
        m.load_slot(T0, Bank::R, array.into());
        m.branch_imm(Cond::Eq, T0, 0, null);
        m.load_mem_u32(T1, T0, ARRAY_KIND_OFFSET as i32);
        m.branch_imm(Cond::Ne, T1, kind as i32, wrong_kind);
        Self::index_in_bounds(m, index, bounds);
    }

    /// The bounds check of an access to array `T0` at `i[index]`: leaves
    /// the index in `T1`, or jumps to `bounds`.
    pub(super) fn index_in_bounds(m: &mut M, index: u16, bounds: M::Label) {
        m.load_slot(T1, Bank::I, index.into());
        m.load_mem(T2, T0, ARRAY_LEN_OFFSET as i32);
        // Unsigned: a negative index is a huge one.
        m.branch(Cond::Uge, T1, T2, bounds);
    }

    /// The checks of an access to i64 array `r[array]` at `i[index]`, in
    /// the interpreter's order (null, kind, bounds), for both forms of the
    /// array (see [`crate::runtime::heap`]), then `packed` or `wide`. Each
    /// finds the array in `T0` and the index in `T1`; `packed` ends with a
    /// jump to the returned label, `wide` falls through to it.
    pub(super) fn i64_access(
        &mut self,
        pc: u32,
        array: u16,
        index: u16,
        packed: impl FnOnce(&mut M, M::Label),
        wide: impl FnOnce(&mut M),
    ) -> M::Label {
        let null = self.trap_kind(pc, TrapKind::NullReference);
        let wrong_kind = self.trap_kind(pc, TrapKind::ElementKind);
        let bounds = self.trap_kind(pc, TrapKind::IndexOutOfBounds);
        let m = &mut self.masm;
        let wide_form = m.new_label();
        let done = m.new_label();
        m.load_slot(T0, Bank::R, array.into());
        m.branch_imm(Cond::Eq, T0, 0, null);
        m.load_mem_u32(T1, T0, ARRAY_KIND_OFFSET as i32);
        m.branch_imm(Cond::Ne, T1, I64_BYTES_KIND as i32, wide_form);
        Self::index_in_bounds(m, index, bounds);
        packed(m, done);
        m.bind(wide_form);
        m.branch_imm(Cond::Ne, T1, ElemKind::I64 as i32, wrong_kind);
        Self::index_in_bounds(m, index, bounds);
        wide(m);
        m.bind(done);
        done
    }

    /// `i[a] = r[b][i[c]]`.
    pub(super) fn get_i64(&mut self, pc: u32, op: Op) {
        let data = ARRAY_DATA_OFFSET as i32;
        self.i64_access(
            pc,
            op.b,
            op.c,
            |m, done| {
                m.load_indexed_u8(T0, T0, T1, data);
                m.jump(done);
            },
            |m| m.load_indexed(T0, T0, T1, data),
        );
        self.store_i(op.a, T0);
    }

    /// `r[a][i[b]] = i[c]`: a value outside `0..=255` widens a byte-packed
    /// array, through a helper call in a stub.
    pub(super) fn set_i64(&mut self, pc: u32, op: Op) {
        let data = ARRAY_DATA_OFFSET as i32;
        let widen = self.masm.new_label();
        let value = u32::from(op.c);
        let done = self.i64_access(
            pc,
            op.a,
            op.b,
            |m, done| {
                m.load_slot(T2, Bank::I, value);
                m.branch_imm(Cond::Ugt, T2, I64_BYTES_MAX as i32, widen);
                m.store_indexed_u8(T0, T1, data, T2);
                m.jump(done);
            },
            |m| {
                m.load_slot(T2, Bank::I, value);
                m.store_indexed(T0, T1, data, T2);
            },
        );
        self.stubs.push(Stub::WidenSetI64 {
            label: widen,
            resume: done,
        });
        // The stub's helper call clobbers the f64 scratch registers.
        self.fp.clear();
    }

    /// `i[a] = r[b][i[c]]` of a byte array or string: null, kind (6 or 7,
    /// one unsigned compare), bounds, then a zero-extending byte load.
    pub(super) fn get_byte(&mut self, pc: u32, op: Op) {
        let null = self.trap_kind(pc, TrapKind::NullReference);
        let wrong_kind = self.trap_kind(pc, TrapKind::ElementKind);
        let bounds = self.trap_kind(pc, TrapKind::IndexOutOfBounds);
        let m = &mut self.masm;
        m.load_slot(T0, Bank::R, op.b.into());
        m.branch_imm(Cond::Eq, T0, 0, null);
        m.load_mem_u32(T1, T0, ARRAY_KIND_OFFSET as i32);
        // The two byte kinds are adjacent: kind - BYTES_KIND <= 1, unsigned.
        const _: () = assert!(STRING_KIND == BYTES_KIND + 1);
        m.alu_imm(AluOp::Sub, T1, T1, BYTES_KIND as i32);
        m.branch_imm(Cond::Ugt, T1, 1, wrong_kind);
        Self::index_in_bounds(m, op.c, bounds);
        m.load_indexed_u8(T0, T0, T1, ARRAY_DATA_OFFSET as i32);
        self.store_i(op.a, T0);
    }

    /// `r[a][i[b]] = i[c]` (its low byte) of a byte array: null, kind (a
    /// string is immutable), bounds, then a byte store.
    pub(super) fn set_byte(&mut self, pc: u32, op: Op) {
        let null = self.trap_kind(pc, TrapKind::NullReference);
        let immutable = self.trap_kind(pc, TrapKind::Immutable);
        let wrong_kind = self.trap_kind(pc, TrapKind::ElementKind);
        let bounds = self.trap_kind(pc, TrapKind::IndexOutOfBounds);
        let m = &mut self.masm;
        m.load_slot(T0, Bank::R, op.a.into());
        m.branch_imm(Cond::Eq, T0, 0, null);
        m.load_mem_u32(T1, T0, ARRAY_KIND_OFFSET as i32);
        m.branch_imm(Cond::Eq, T1, STRING_KIND as i32, immutable);
        m.branch_imm(Cond::Ne, T1, BYTES_KIND as i32, wrong_kind);
        Self::index_in_bounds(m, op.b, bounds);
        m.load_slot(T2, Bank::I, op.c.into());
        m.store_indexed_u8(T0, T1, ARRAY_DATA_OFFSET as i32, T2);
    }

    /// `r[a] =` string constant `b`'s object, from the store's table.
    pub(super) fn string_const(&mut self, op: Op) {
        let m = &mut self.masm;
        m.load_ctx(T0, offsets::STRINGS);
        m.load_mem(T0, T0, i32::from(op.b) * 8);
        m.store_slot(Bank::R, op.a.into(), T0);
    }

    /// `printb`, `copy`, `filli`, `fillf`, `fillr`: a call of their shared
    /// helper, which checks and does the whole operation (`memmove`,
    /// `memset`), and a trap on the status it returns.
    pub(super) fn bulk(&mut self, pc: u32, op: Op) {
        let m = &mut self.masm;
        m.load_slot(T0, Bank::R, op.a.into());
        match op.opcode {
            Opcode::PrintB => self.call_helper(
                self.helpers.print_bytes,
                &[HelperArg::Ctx, HelperArg::Reg(T0)],
            ),
            Opcode::Copy => {
                m.load_slot(T1, Bank::R, op.b.into());
                self.call_helper(
                    self.helpers.copy_elements,
                    &[
                        HelperArg::Ctx,
                        HelperArg::Reg(T0),
                        HelperArg::Reg(T1),
                        HelperArg::SlotAddr(Bank::I, op.c.into()),
                    ],
                );
            }
            _ => {
                let bank = match op.opcode {
                    Opcode::FillF => Bank::F,
                    Opcode::FillR => Bank::R,
                    _ => Bank::I,
                };
                // The frame is current (write-through): the value's bits
                // come from its slot.
                m.load_slot(T1, bank, op.c.into());
                self.call_helper(
                    self.helpers.fill_elements,
                    &[
                        HelperArg::Ctx,
                        HelperArg::Imm(bank.index() as i64),
                        HelperArg::Reg(T0),
                        HelperArg::SlotAddr(Bank::I, op.b.into()),
                        HelperArg::Reg(T1),
                    ],
                );
            }
        }
        let trap = self.trap(pc, TrapCode::Dynamic);
        self.masm.branch_imm(Cond::Ne, T0, 0, trap);
    }
}
