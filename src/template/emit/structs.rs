//! Structs and reference tests: `snew`, field access with its null and
//! type checks (one unsigned compare of the kind, see
//! [`crate::runtime::structs`]), `isa`, `isnull`, `req`, `jnull`, `jnnull`.

use crate::bytecode::{Bank, Op, Opcode};
use crate::runtime::heap::ARRAY_KIND_OFFSET;
use crate::runtime::structs::FieldSlot;
use crate::runtime::trap::TrapKind;
use crate::template::masm::{AluOp, Cond, Gpr, HelperArg, MacroAssembler};

use Gpr::{T0, T1, T2};

use super::Emitter;
use super::stubs::TrapCode;

impl<'m, M: MacroAssembler> Emitter<'m, M> {
    /// The checks of an access to `field` of `r[obj]`, in the interpreter's
    /// order (null, then the type): leaves the object in `T0`, or traps.
    /// Clobbers `T1`.
    fn field_checks(&mut self, pc: u32, obj: u16, field: FieldSlot) {
        let ty = self.structs.ty(field.owner as usize);
        let null = self.trap_kind(pc, TrapKind::NullReference);
        let wrong = self.trap_kind(pc, TrapKind::WrongType);
        let m = &mut self.masm;
        m.load_slot(T0, Bank::R, obj.into());
        m.branch_imm(Cond::Eq, T0, 0, null);
        m.load_mem_u32(T1, T0, ARRAY_KIND_OFFSET as i32);
        // Kinds below the type's wrap around to huge values.
        m.alu_imm(AluOp::Sub, T1, T1, ty.kind as i32);
        m.branch_imm(Cond::Ugt, T1, ty.span as i32, wrong);
    }

    /// `sget* a, r[b], c`.
    pub(super) fn field_get(&mut self, pc: u32, op: Op) {
        let field = self.structs.field(op.c.into());
        self.field_checks(pc, op.b, field);
        self.masm.load_mem(T0, T0, field.offset() as i32);
        match field.bank {
            Bank::I => self.store_i(op.a, T0),
            bank => {
                self.masm.store_slot(bank, op.a.into(), T0);
                if bank == Bank::F {
                    self.fp.forget_slot(op.a.into());
                }
            }
        }
    }

    /// `sset* r[a], b, c`. The frame holds every f64 value (the f64
    /// registers write through), so the value is read from its slot.
    pub(super) fn field_set(&mut self, pc: u32, op: Op) {
        let field = self.structs.field(op.b.into());
        // First, while the previous op's result may still be in a register.
        match field.bank {
            Bank::I => self.load_i(T2, op.c),
            bank => self.masm.load_slot(T2, bank, op.c.into()),
        }
        self.field_checks(pc, op.a, field);
        self.masm.store_mem(T0, field.offset() as i32, T2);
    }

    /// `snew r[a], b`: a helper allocates, as for arrays (the frame's
    /// references are the roots).
    pub(super) fn new_struct(&mut self, pc: u32, op: Op) {
        let top = self.layout.regs[Bank::R.index()];
        self.call_helper(
            self.helpers.new_struct,
            &[
                HelperArg::Ctx,
                HelperArg::Imm(op.b.into()),
                HelperArg::SlotAddr(Bank::R, op.a.into()),
                HelperArg::SlotAddr(Bank::R, top),
            ],
        );
        let trap = self.trap(pc, TrapCode::Dynamic);
        self.masm.branch_imm(Cond::Ne, T0, 0, trap);
    }

    /// `isa i[a], r[b], c`: 0 for null, else the type compare.
    pub(super) fn isa(&mut self, op: Op) {
        let ty = self.structs.ty(op.c.into());
        let m = &mut self.masm;
        let done = m.new_label();
        m.load_slot(T1, Bank::R, op.b.into());
        m.load_imm(T0, 0);
        m.branch_imm(Cond::Eq, T1, 0, done);
        m.load_mem_u32(T0, T1, ARRAY_KIND_OFFSET as i32);
        m.alu_imm(AluOp::Sub, T0, T0, ty.kind as i32);
        m.set_cond_imm(Cond::Ule, T0, T0, ty.span as i32);
        m.bind(done);
        self.store_i(op.a, T0);
    }

    /// `isnull`, `req`, `jnull` and `jnnull`: compares of references.
    pub(super) fn ref_test(&mut self, pc: u32, op: Op) {
        match op.opcode {
            Opcode::IsNull => {
                self.masm.load_slot(T0, Bank::R, op.b.into());
                self.masm.set_cond_imm(Cond::Eq, T0, T0, 0);
                self.store_i(op.a, T0);
            }
            Opcode::REq => {
                self.masm.load_slot(T0, Bank::R, op.b.into());
                self.masm.load_slot(T1, Bank::R, op.c.into());
                self.masm.set_cond(Cond::Eq, T0, T0, T1);
                self.store_i(op.a, T0);
            }
            _ => {
                let cond = if op.opcode == Opcode::JNull {
                    Cond::Eq
                } else {
                    Cond::Ne
                };
                let to = self.branch_target(pc, op.b, false);
                self.masm.load_slot(T0, Bank::R, op.a.into());
                self.masm.branch_imm(cond, T0, 0, to);
            }
        }
    }
}
