//! Array element access: null, kind and bounds checks, byte-packed i64
//! arrays and their widening.

use crate::bytecode::{Bank, Op};
use crate::runtime::heap::{
    ARRAY_DATA_OFFSET, ARRAY_KIND_OFFSET, ARRAY_LEN_OFFSET, ElemKind, I64_BYTES_KIND, I64_BYTES_MAX,
};
use crate::runtime::trap::TrapKind;
use crate::template::masm::{Cond, Gpr, MacroAssembler};

use Gpr::{T0, T1, T2};

use super::Emitter;
use super::stubs::Stub;

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
}
