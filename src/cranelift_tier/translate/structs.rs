//! Structs and reference tests: `snew` through a helper, field accesses as
//! a checked load or store, `isa`, `isnull`, `req`, `jnull`, `jnnull`.
//!
//! A field access's check reads the kind through the null object (so it
//! never faults and, being pure, leaves loops whose reference does not
//! change) and compares it once, unsigned, against the field's struct's
//! range of kinds ([`StructType::admits`]); the cold path tells null from a
//! wrong type. A reference checked for a struct type stays checked for it
//! (and its ancestors) until its register is written or a jump target is
//! reached: a type never changes.

use super::{Translator, bank_type, invariant, trusted};
use crate::bytecode::{Bank, Op, Opcode};
use crate::runtime::heap::ARRAY_KIND_OFFSET;
use crate::runtime::structs::{FieldSlot, StructType};
use crate::runtime::trap::TrapKind;
use cranelift_codegen::ir::InstBuilder;
use cranelift_codegen::ir::Value;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{I32, I64};

/// How many checked struct references the translator remembers.
pub(super) const MAX_CHECKED_STRUCTS: usize = 16;

impl Translator<'_, '_> {
    /// The struct type check of `r[obj]` for type `ty`: whether `kind -
    /// ty.kind <= ty.span`, kind read through the null object. Gives the
    /// reference, whether it is null and whether it fails.
    fn struct_test(&mut self, obj: u16, ty: StructType) -> (Value, Value, Value) {
        let (r, is_null, header) = self.array_header(obj);
        let k = self
            .b
            .ins()
            .load(I32, invariant(), header, ARRAY_KIND_OFFSET as i32);
        let d = self.b.ins().iadd_imm_s(k, -i64::from(ty.kind));
        let fails = self
            .b
            .ins()
            .icmp_imm_s(IntCC::UnsignedGreaterThan, d, i64::from(ty.span));
        (r, is_null, fails)
    }

    /// `r[obj]`, checked to be a struct of the type that declares `field`
    /// (or a descendant), else a trap at `pc`.
    fn field_object(&mut self, pc: u32, obj: u16, field: FieldSlot) -> Value {
        let ty = self.structs.ty(field.owner as usize);
        let covered = |&(reg, t): &(u16, StructType)| {
            reg == obj && t.kind >= ty.kind && t.kind + t.span <= ty.kind + ty.span
        };
        if self.checked_structs.iter().any(covered) {
            return self.get(Bank::R, obj);
        }
        let (r, is_null, fails) = self.struct_test(obj, ty);
        self.trap_if_with(fails, pc, |t| {
            let null = t.status(TrapKind::NullReference);
            let wrong = t.status(TrapKind::WrongType);
            t.b.ins().select(is_null, null, wrong)
        });
        if self.checked_structs.len() == MAX_CHECKED_STRUCTS {
            self.checked_structs.remove(0);
        }
        self.checked_structs.push((obj, ty));
        r
    }

    /// The ops of structs and reference tests.
    pub(super) fn struct_op(&mut self, pc: u32, op: Op) {
        use Opcode::*;
        match op.opcode {
            SNew => {
                let s = self.b.ins().iconst(I64, i64::from(op.b));
                let (out, top) = self.alloc_out_top(op.a);
                let status = self.call_helper(self.helpers.new_struct, &[s, out, top]);
                self.check_status(status, pc);
                let v = self.load_slot(Bank::R, op.a.into());
                self.set(Bank::R, op.a, v);
            }
            SGetI | SGetF | SGetR => {
                let field = self.structs.field(op.c.into());
                let r = self.field_object(pc, op.b, field);
                let v =
                    self.b
                        .ins()
                        .load(bank_type(field.bank), trusted(), r, field.offset() as i32);
                self.set(field.bank, op.a, v);
            }
            SSetI | SSetF | SSetR => {
                let field = self.structs.field(op.b.into());
                let r = self.field_object(pc, op.a, field);
                let v = self.get(field.bank, op.c);
                self.b.ins().store(trusted(), v, r, field.offset() as i32);
            }
            Isa => {
                let ty = self.structs.ty(op.c.into());
                let (_, _, fails) = self.struct_test(op.b, ty);
                let ok = self.b.ins().bxor_imm_u(fails, 1);
                let v = self.b.ins().uextend(I64, ok);
                self.set(Bank::I, op.a, v);
            }
            IsNull | REq => {
                let x = self.get(Bank::R, op.b);
                let c = if op.opcode == IsNull {
                    self.b.ins().icmp_imm_s(IntCC::Equal, x, 0)
                } else {
                    let y = self.get(Bank::R, op.c);
                    self.b.ins().icmp(IntCC::Equal, x, y)
                };
                let v = self.b.ins().uextend(I64, c);
                self.set(Bank::I, op.a, v);
            }
            _ => {
                let cc = if op.opcode == JNull {
                    IntCC::Equal
                } else {
                    IntCC::NotEqual
                };
                let x = self.get(Bank::R, op.a);
                let c = self.b.ins().icmp_imm_s(cc, x, 0);
                self.branch(pc, c, op.b);
            }
        }
    }
}
