//! Assembly without execution (every host): errors that `finish` reports
//! instead of panicking, byte counts, extreme arguments.

use super::{ALU_OPS, CONDS, TestIsa};
use crate::bytecode::Bank;
use crate::runtime::context::offsets::CALL_DEPTH;
use crate::template::masm::{AsmError, Cond, Fpr, Gpr, HelperArg, MAX_HELPER_ARGS, MacroAssembler};

pub fn finish_reports_errors_instead_of_panicking<I: TestIsa>() {
    let mut m = I::masm();
    let l = m.new_label();
    m.jump(l);
    assert!(m.finish().is_err(), "unbound label (jump)");

    let mut m = I::masm();
    let a = m.new_label();
    m.branch(Cond::Ne, Gpr::T0, Gpr::T1, a);
    assert!(m.finish().is_err(), "unbound label (branch)");

    let mut m = I::masm();
    let l = m.new_label();
    m.bind(l);
    m.bind(l);
    assert!(m.finish().is_err(), "label bound twice");

    let mut m = I::masm();
    let a = m.new_label();
    m.bind(a);
    m.jump(a);
    m.bind(a);
    assert!(m.finish().is_err(), "label bound twice, used between");

    let mut m = I::masm();
    m.call_helper(0, &[HelperArg::Ctx; MAX_HELPER_ARGS + 1]);
    let err = m.finish().expect_err("too many helper arguments");
    assert!(matches!(err, AsmError::TooManyHelperArguments(_)), "{err}");

    let mut m = I::masm();
    m.call_helper(0x1000, &[HelperArg::Imm(0); MAX_HELPER_ARGS + 1]);
    let err = m.finish().expect_err("too many helper arguments");
    assert!(matches!(err, AsmError::TooManyHelperArguments(_)), "{err}");

    let mut m = I::masm();
    let (a, b) = (m.new_label(), m.new_label());
    m.bind(a);
    m.jump_table(Gpr::T0, &[a, b], a);
    assert!(m.finish().is_err(), "unbound label (jump table entry)");

    let mut m = I::masm();
    let (a, b) = (m.new_label(), m.new_label());
    m.bind(a);
    m.jump_table(Gpr::T0, &[a], b);
    assert!(m.finish().is_err(), "unbound label (jump table default)");

    let mut m = I::Masm::default();
    m.call_helper(0, &[HelperArg::Ctx; MAX_HELPER_ARGS]);
    assert!(m.finish().is_ok());
}

pub fn label_of_another_assembler_is_an_error<I: TestIsa>() {
    let mut other = I::masm();
    for _ in 0..5 {
        other.new_label();
    }
    let foreign = other.new_label();
    let mut m = I::masm();
    m.jump(foreign);
    assert!(m.finish().is_err());
    let mut m = I::masm();
    m.bind(foreign);
    assert!(m.finish().is_err());
}

pub fn offset_counts_bytes<I: TestIsa>() {
    let mut m = I::masm();
    assert_eq!(m.offset(), 0);
    m.prologue(CALL_DEPTH);
    let p = m.offset();
    assert!(p > 0);
    m.load_imm(Gpr::T0, 1);
    let n = m.offset();
    assert!(n > p);
    m.load_imm(Gpr::T0, 0x1234_5678_9ABC_DEF0);
    let end = m.offset();
    assert!(end > n);
    assert_eq!(m.finish().unwrap().len(), end);
}

/// Every method with extreme arguments: no panic, and everything decodes.
pub fn extreme_arguments_never_panic<I: TestIsa>() {
    let mut m = I::masm();
    {
        let m = &mut m;
        let a = m.new_label();
        m.prologue(CALL_DEPTH);
        m.bind(a);
        for bank in Bank::ALL {
            for slot in [u32::MAX, u32::MAX - 1, 1 << 29] {
                m.load_slot(Gpr::T0, bank, slot);
                m.store_slot(bank, slot, Gpr::T1);
                m.slot_addr(Gpr::T2, bank, slot);
                m.zero_slots(bank, slot, 3);
                m.zero_slots(bank, slot, u32::MAX);
                m.call_helper(usize::MAX, &[HelperArg::SlotAddr(bank, slot)]);
            }
            m.zero_slots(bank, 0, u32::MAX);
        }
        m.load_fslot(Fpr::F0, u32::MAX);
        m.store_fslot(u32::MAX, Fpr::F1);
        for v in [i64::MIN, i64::MAX, 0, -1] {
            m.load_imm(Gpr::T0, v);
            m.load_fimm(Fpr::F0, v as u64);
        }
        for imm in [i32::MIN, i32::MAX] {
            for op in ALU_OPS {
                m.alu_imm(op, Gpr::T0, Gpr::T0, imm);
            }
            for cond in CONDS {
                m.set_cond_imm(cond, Gpr::T0, Gpr::T1, imm);
                m.branch_imm(cond, Gpr::T0, imm, a);
            }
            m.load_mem(Gpr::T0, Gpr::T1, imm);
            m.load_mem_u32(Gpr::T0, Gpr::T1, imm);
            m.load_mem_u8(Gpr::T0, Gpr::T1, imm);
            m.load_indexed(Gpr::T0, Gpr::T1, Gpr::T2, imm);
            m.store_indexed(Gpr::T0, Gpr::T1, imm, Gpr::T2);
            m.load_indexed_u8(Gpr::T0, Gpr::T1, Gpr::T2, imm);
            m.store_indexed_u8(Gpr::T0, Gpr::T1, imm, Gpr::T2);
            m.load_findexed(Fpr::F0, Gpr::T1, Gpr::T2, imm);
            m.store_findexed(Gpr::T0, Gpr::T1, imm, Fpr::F2);
            m.load_ctx(Gpr::T0, imm);
            m.store_ctx(imm, Gpr::T0);
            m.store_ctx_u32(imm, u32::MAX);
            m.store_ctx_reg_u32(imm, Gpr::T0);
            m.branch_stack_below(imm, a);
            m.branch_flag_set(imm, a);
        }
        m.call_native(Gpr::T2, [u32::MAX; 3]);
        for g in Gpr::ALL {
            m.jump_table(g, &[], a);
            m.jump_table(g, &[a; 4096], a);
            m.jump_table(g, &[a; 4097], a);
        }
        m.epilogue(Gpr::T2);
    }
    let code = m.finish().expect("finish").to_vec();
    I::disassemble(&code, m.data());
}
