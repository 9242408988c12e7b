//! The per-op templates, written once against [`MacroAssembler`]: one pass
//! over the bytecode, one `emit_*` per op family, no IR.
//!
//! Every op loads its operands from the frame slots into scratch registers,
//! computes, and stores the result back: between ops the frame is the truth,
//! exactly as in the interpreter, so a function can change tier at any call.
//! Traps branch to out-of-line stubs that record the op index; loop
//! back-edges and calls poll the interrupt flag.

use super::masm::{AluOp, Cond, FpOp, FpUnary, Fpr, Gpr, HelperArg, MacroAssembler};
use crate::bytecode::op::{FloatBinOp, FloatUnOp, IntBinOp};
use crate::bytecode::{Bank, Cmp, Flow, Module, NO_REG, Op, Opcode, Operand};
use crate::lowering::Magic;
use crate::runtime::compile_error::CompileFailure;
use crate::runtime::context::offsets;
use crate::runtime::frame::FrameLayout;
use crate::runtime::heap::{
    ARRAY_DATA_OFFSET, ARRAY_KIND_OFFSET, ARRAY_LEN_OFFSET, ElemKind, I64_BYTES_KIND, I64_BYTES_MAX,
};
use crate::runtime::helpers::HelperAddrs;
use crate::runtime::trap::TrapKind;

use Gpr::{T0, T1, T2};

/// What an out-of-line trap stub does.
#[derive(Clone, Copy)]
enum TrapCode {
    /// A fixed kind.
    Kind(TrapKind),
    /// The kind is the status a helper left in `T0`.
    Dynamic,
}

/// Out-of-line code emitted after the function body.
enum Stub<L> {
    Trap {
        label: L,
        pc: u32,
        code: TrapCode,
    },
    /// Back-edge with counters or f64 registers to restore: poll the
    /// interrupt flag, count down the loop budget (with counters), restore
    /// the registers, then continue at the loop header.
    BackEdge {
        label: L,
        /// The `Trap` stub of the interrupt.
        interrupted: L,
        target: L,
        header: u32,
        /// The header's f64 registers on entry and those at the branch, as
        /// indices into the emitter's `fp_states`.
        fp_restore: Option<(u32, u32)>,
    },
    /// The call budget ran out at entry: ask for a Cranelift version and
    /// run this call there if one is ready, else resume.
    HotCall {
        label: L,
        resume: L,
    },
    /// A store to a byte-packed i64 array of a value it cannot hold (array,
    /// index and value in `T0`, `T1`, `T2`): widen it and store.
    WidenSetI64 {
        label: L,
        resume: L,
    },
    /// First call of a callee not compiled yet: compile it, then resume.
    LazyCompile {
        label: L,
        resume: L,
        pc: u32,
        callee: u32,
    },
}

/// An i64 slot whose value is also in a scratch register.
type Cached = (u32, Gpr);

/// The f64 slot each scratch f64 register holds, if any.
pub(super) type FpHolds = [Option<u32>; Fpr::ALL.len()];

/// Only loops of fewer ops keep f64 registers across their header (see
/// [`Target::fp_on_entry`]). Inner loops, where it pays, are short; a long
/// body evicts the inputs from the 8 registers anyway, and the scan for
/// them, the preloads and the restores cost compile time in proportion to
/// the loop (on the generated 10,000-op function of `benches/compile.rs`,
/// 50-op loops, about 4 ns per op).
const MAX_KEPT_LOOP_OPS: usize = 32;

/// No jump lands on this op.
const NO_TARGET: u32 = u32::MAX;

/// The jump targets of a function: per op an index into `targets` (4 bytes
/// per op, as the compiler clears this for every function), or
/// [`NO_TARGET`].
struct OpTargets<L> {
    of_op: Vec<u32>,
    targets: Vec<Target<L>>,
}

impl<L> Default for OpTargets<L> {
    fn default() -> Self {
        OpTargets {
            of_op: Vec::new(),
            targets: Vec::new(),
        }
    }
}

impl<L: Copy> OpTargets<L> {
    fn get(&self, pc: usize) -> Option<Target<L>> {
        let index = *self.of_op.get(pc)?;
        self.targets.get(index as usize).copied()
    }

    fn get_mut(&mut self, pc: usize) -> Option<&mut Target<L>> {
        let index = *self.of_op.get(pc)?;
        self.targets.get_mut(index as usize)
    }
}

/// What the pre-pass learns of an op that is a jump target.
#[derive(Clone, Copy)]
struct Target<L> {
    label: L,
    /// A branch from an earlier op lands here.
    forward_entry: bool,
    /// The last op that branches back here (the end of a loop), if any.
    loop_end: Option<u32>,
    /// For a loop header entered only by falling in and by back-edges: the
    /// f64 slots the scratch registers hold on entry (an index into the
    /// emitter's `fp_states`: kept out of line, as one `Target` is made per
    /// op). Falling in, they hold them already; each back-edge's stub
    /// restores them (see [`restore_fp`]). So values carried around the
    /// loop, such as an accumulator, stay in registers instead of going
    /// through the frame at every iteration.
    fp_on_entry: Option<u32>,
}

/// Which f64 slots the scratch f64 registers hold. The copies are
/// write-through (every op still stores its result to the frame, so the
/// frame stays the truth and any op may end a run of cached values): later
/// ops read the register instead of reloading a slot just stored, which
/// would wait for store-to-load forwarding on every step of a chain.
/// Emptied where paths join (labels) and by calls, which clobber the
/// registers.
#[derive(Clone, Copy, Default)]
struct FpCache {
    holds: FpHolds,
    /// The register the next allocation evicts if none is free
    /// (round-robin: the oldest allocation goes first).
    next: usize,
}

impl FpCache {
    fn find(&self, slot: u32) -> Option<Fpr> {
        let k = self.holds.iter().position(|&h| h == Some(slot))?;
        Some(Fpr::ALL[k])
    }

    /// A register for a new value, none of `busy`: a free one if any,
    /// else the round-robin victim.
    fn pick(&mut self, busy: &[Fpr]) -> Fpr {
        let n = Fpr::ALL.len();
        let free = (0..n).find(|&k| self.holds[k].is_none() && !busy.contains(&Fpr::ALL[k]));
        let k = free.unwrap_or_else(|| {
            let mut k = self.next;
            while busy.contains(&Fpr::ALL[k]) {
                k = (k + 1) % n;
            }
            self.next = (k + 1) % n;
            k
        });
        self.holds[k] = None;
        Fpr::ALL[k]
    }

    /// `reg` now holds `slot`'s current value; any other copy is stale.
    fn set(&mut self, reg: Fpr, slot: u32) {
        self.forget_slot(slot);
        self.holds[reg as usize] = Some(slot);
    }

    /// `slot` was written behind the cache's back.
    fn forget_slot(&mut self, slot: u32) {
        for h in &mut self.holds {
            if *h == Some(slot) {
                *h = None;
            }
        }
    }

    fn clear(&mut self) {
        self.holds = [None; Fpr::ALL.len()];
    }
}

/// Compiles function after function, reusing its assembler's buffers and
/// its own: after the first few functions, compiling allocates nothing.
pub struct Compiler<M: MacroAssembler> {
    masm: M,
    buffers: Buffers<M::Label>,
}

/// The per-function tables of [`Emitter`], kept from function to function.
struct Buffers<L> {
    op_targets: OpTargets<L>,
    stubs: Vec<Stub<L>>,
    fp_states: Vec<FpHolds>,
}

impl<M: MacroAssembler> Compiler<M> {
    /// A compiler emitting through `masm`.
    pub fn new(masm: M) -> Self {
        Compiler {
            masm,
            buffers: Buffers {
                op_targets: OpTargets::default(),
                stubs: Vec::new(),
                fp_states: Vec::new(),
            },
        }
    }

    /// Compile function `func` of a verified `module`, returning its
    /// position-independent machine code (valid until the next compile).
    /// Helper calls go to the addresses in `helpers` ([`HelperAddrs::native`]
    /// for code that runs). With `counters`, the code counts its calls and
    /// loop back-edges into the function table and calls the tiering hooks.
    pub fn compile(
        &mut self,
        helpers: &HelperAddrs,
        module: &Module,
        layouts: &[FrameLayout],
        func: usize,
        counters: bool,
    ) -> Result<&[u8], CompileFailure> {
        self.masm.clear();
        let mut e = Emitter::new(
            &mut self.masm,
            &mut self.buffers,
            helpers,
            module,
            layouts,
            func,
        );
        e.counters = counters;
        e.function().map_err(CompileFailure::Assembly)?;
        self.masm.finish().map_err(CompileFailure::Assembly)
    }
}

/// Compiles one function of a verified module.
struct Emitter<'m, M: MacroAssembler> {
    masm: &'m mut M,
    helpers: &'m HelperAddrs,
    module: &'m Module,
    layouts: &'m [FrameLayout],
    func: u32,
    layout: FrameLayout,
    /// Each op that is a jump target: its label and how it is entered.
    op_targets: &'m mut OpTargets<M::Label>,
    stubs: &'m mut Vec<Stub<M::Label>>,
    /// f64 register states of loop headers and back-edges.
    fp_states: &'m mut Vec<FpHolds>,
    /// Status already in `T0`, trap record already filled by a callee.
    propagate: M::Label,
    /// Trap kind in `T0`, pc already stored: fill the rest and return.
    trap_exit: M::Label,
    /// Return status 0.
    return_ok: M::Label,
    /// The slot the previous op stored last, still in its register: the
    /// current op's first loads may reuse it instead of reloading (the
    /// reload would wait for store-to-load forwarding). Only valid when no
    /// label lies between the two ops.
    carried: Option<Cached>,
    /// What the current op stored last (through `store_i`).
    stored: Option<Cached>,
    /// The f64 slots still in scratch registers.
    fp: FpCache,
    /// Count calls and back-edges for the tiering manager.
    counters: bool,
}

/// Compile function `func` of a verified `module` with a new `masm`, as
/// [`Compiler::compile`] does.
pub fn compile<M: MacroAssembler>(
    masm: M,
    helpers: &HelperAddrs,
    module: &Module,
    layouts: &[FrameLayout],
    func: usize,
    counters: bool,
) -> Result<Vec<u8>, CompileFailure> {
    Compiler::new(masm)
        .compile(helpers, module, layouts, func, counters)
        .map(<[u8]>::to_vec)
}

// The lookups below are only called from the match arms of their own
// opcodes, for which the op table always has an answer; the fallbacks are
// unreachable.

/// The ALU operation of an i64 op other than div/rem, in either form.
fn alu_of(opcode: Opcode) -> AluOp {
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
fn cmp_of(opcode: Opcode) -> Cmp {
    opcode.cmp().unwrap_or(Cmp::Eq)
}

/// The operation of an f64 binary op.
fn fp_op(opcode: Opcode) -> FpOp {
    match opcode.float_binop() {
        Some(FloatBinOp::Sub) => FpOp::Sub,
        Some(FloatBinOp::Mul) => FpOp::Mul,
        Some(FloatBinOp::Div) => FpOp::Div,
        _ => FpOp::Add,
    }
}

/// The operation of an f64 unary op.
fn fp_unary(opcode: Opcode) -> FpUnary {
    match opcode.float_unop() {
        Some(FloatUnOp::Abs) => FpUnary::Abs,
        Some(FloatUnOp::Sqrt) => FpUnary::Sqrt,
        Some(FloatUnOp::Floor) => FpUnary::Floor,
        _ => FpUnary::Neg,
    }
}

fn imm(field: u16) -> i32 {
    field as i16 as i32
}

impl<'m, M: MacroAssembler> Emitter<'m, M> {
    fn new(
        masm: &'m mut M,
        buffers: &'m mut Buffers<M::Label>,
        helpers: &'m HelperAddrs,
        module: &'m Module,
        layouts: &'m [FrameLayout],
        func: usize,
    ) -> Self {
        let Buffers {
            op_targets,
            stubs,
            fp_states,
        } = buffers;
        // Pre-pass: labels only for the ops that are jump targets, and how
        // each is entered.
        let code = &module.functions[func].code;
        op_targets.of_op.clear();
        op_targets.of_op.resize(code.len(), NO_TARGET);
        op_targets.targets.clear();
        stubs.clear();
        fp_states.clear();
        for (pc, op) in code.iter().enumerate() {
            if let Some(t) = op.target()
                && let Some(index) = op_targets.of_op.get_mut(t as usize)
            {
                if *index == NO_TARGET {
                    *index = op_targets.targets.len() as u32;
                    op_targets.targets.push(Target {
                        label: masm.new_label(),
                        forward_entry: false,
                        loop_end: None,
                        fp_on_entry: None,
                    });
                }
                let target = &mut op_targets.targets[*index as usize];
                if t as usize > pc {
                    target.forward_entry = true;
                } else {
                    target.loop_end = Some(pc as u32);
                }
            }
        }
        let propagate = masm.new_label();
        let trap_exit = masm.new_label();
        let return_ok = masm.new_label();
        Emitter {
            masm,
            helpers,
            module,
            layouts,
            func: func as u32,
            layout: layouts[func],
            op_targets,
            stubs,
            fp_states,
            propagate,
            trap_exit,
            return_ok,
            carried: None,
            stored: None,
            fp: FpCache::default(),
            counters: false,
        }
    }

    fn function(&mut self) -> Result<(), String> {
        let code = &self.module.functions[self.func as usize].code;
        // About 30-60 bytes per op (see `benches/compile.rs`).
        self.masm.reserve(128 + 48 * code.len());
        self.masm.prologue(offsets::CALL_DEPTH);
        if self.counters {
            let (hot, resume) = (self.masm.new_label(), self.masm.new_label());
            self.count_down(offsets::FUNC_ENTRY_CALL_BUDGET, hot);
            self.masm.bind(resume);
            self.stubs.push(Stub::HotCall { label: hot, resume });
        }
        // Every engine starts non-parameter registers at 0, 0.0 and null.
        for bank in Bank::ALL {
            let b = bank.index();
            let (p, r) = (self.layout.params[b], self.layout.regs[b]);
            self.masm.zero_slots(bank, p, r - p);
        }
        for (pc, op) in code.iter().enumerate() {
            let stored = self.stored.take();
            self.carried = stored;
            if let Some(target) = self.op_targets.get(pc) {
                // Other paths join here: registers hold nothing known,
                // except at a loop header (see `Target::fp_on_entry`).
                self.carried = None;
                let falls_in =
                    pc == 0 || matches!(code[pc - 1].opcode.flow(), Flow::Next | Flow::Branch);
                match target.loop_end {
                    Some(end)
                        if falls_in
                            && !target.forward_entry
                            && end as usize - pc < MAX_KEPT_LOOP_OPS =>
                    {
                        self.keep_loop_inputs(pc, end as usize);
                        let holds = self.fp.holds;
                        if let Some(t) = self.op_targets.get_mut(pc)
                            && holds.iter().any(Option::is_some)
                        {
                            t.fp_on_entry = Some(self.fp_states.len() as u32);
                            self.fp_states.push(holds);
                        }
                    }
                    _ => self.fp.clear(),
                }
                self.masm.bind(target.label);
            }
            self.op(pc as u32, *op);
        }
        self.tail();
        Ok(())
    }

    /// Call helper `addr` in line. It clobbers every scratch register, so
    /// no f64 slot is known to be in one afterwards.
    fn call_helper(&mut self, addr: usize, args: &[HelperArg]) {
        self.masm.call_helper(addr, args);
        self.fp.clear();
    }

    /// A trap stub for `pc`, returning its label.
    fn trap(&mut self, pc: u32, code: TrapCode) -> M::Label {
        let label = self.masm.new_label();
        self.stubs.push(Stub::Trap { label, pc, code });
        label
    }

    fn trap_kind(&mut self, pc: u32, kind: TrapKind) -> M::Label {
        self.trap(pc, TrapCode::Kind(kind))
    }

    /// Where a branch to `target` from `pc` goes: straight to the op, or for
    /// a back-edge after a poll of the interrupt flag and a restore of the
    /// f64 registers the loop header keeps. Both go in line (emitted here,
    /// before the branch's i64 operands are loaded: they use no scratch
    /// register), unless the code counts (the stub counts down the loop
    /// budget) or the branch compares f64 registers (`fp_operands`: already
    /// loaded, a restore could overwrite them), which take a stub.
    fn branch_target(&mut self, pc: u32, target: u16, fp_operands: bool) -> M::Label {
        // The pre-pass made a target of every op a branch lands on.
        let Some(Target {
            label: to,
            fp_on_entry,
            ..
        }) = self.op_targets.get(target as usize)
        else {
            // Unreachable for verified code; a label keeps it harmless.
            return self.masm.new_label();
        };
        if u32::from(target) > pc {
            return to;
        }
        let restore = fp_on_entry
            .map(|on_entry| self.fp_states[on_entry as usize])
            .filter(|on_entry| {
                let now = &self.fp.holds;
                on_entry.iter().zip(now).any(|(e, n)| e.is_some() && e != n)
            });
        // In line, the branch goes straight to the header: one taken branch
        // per iteration instead of two. A restore before the compare also
        // runs when the loop exits, once; the registers then hold the
        // header's slots (memory is always current, so both paths agree).
        let needs_stub = self.counters || (fp_operands && restore.is_some());
        if !needs_stub {
            let interrupted = self.trap_kind(pc, TrapKind::Interrupted);
            self.masm.branch_flag_set(offsets::INTERRUPT, interrupted);
            if let Some(on_entry) = restore {
                restore_fp(&mut *self.masm, &on_entry, Some(&self.fp.holds));
                for (&held, reg) in on_entry.iter().zip(Fpr::ALL) {
                    if let Some(slot) = held {
                        self.fp.set(reg, slot);
                    }
                }
            }
            return to;
        }
        let (label, interrupted) = (self.masm.new_label(), self.masm.new_label());
        let fp_restore = fp_on_entry.map(|on_entry| {
            self.fp_states.push(self.fp.holds);
            (on_entry, self.fp_states.len() as u32 - 1)
        });
        self.stubs.push(Stub::BackEdge {
            label,
            interrupted,
            target: to,
            header: target.into(),
            fp_restore,
        });
        // Right after the stub, as its last part.
        self.stubs.push(Stub::Trap {
            label: interrupted,
            pc,
            code: TrapCode::Kind(TrapKind::Interrupted),
        });
        label
    }

    /// Falling into the header `pc` of a loop ending at `end`: keep the f64
    /// registers that hold the loop's inputs (the slots it reads before it
    /// writes them, scanning its ops in order), forget the others, and load
    /// the inputs no register holds into free ones. Back-edges then restore
    /// only those, and an input the loop updates in place (an accumulator)
    /// needs nothing restored.
    fn keep_loop_inputs(&mut self, pc: usize, end: usize) {
        const N: usize = Fpr::ALL.len();
        let code = &self.module.functions[self.func as usize].code;
        // Up to N inputs in order of first read; written slots up to N.
        let (mut inputs, mut n_inputs) = ([0u32; N], 0);
        let (mut written, mut n_written) = ([0u32; N], 0);
        'scan: for op in &code[pc..=end] {
            let kinds = op.opcode.operands();
            if !kinds
                .iter()
                .any(|&k| k == Operand::Read(Bank::F) || k == Operand::Write(Bank::F))
            {
                continue;
            }
            let fields = [op.a, op.b, op.c].map(u32::from);
            for (&slot, kind) in fields.iter().zip(kinds) {
                if kind == Operand::Read(Bank::F)
                    && !inputs[..n_inputs].contains(&slot)
                    && !written[..n_written].contains(&slot)
                {
                    if n_inputs == N {
                        break 'scan;
                    }
                    inputs[n_inputs] = slot;
                    n_inputs += 1;
                }
            }
            for (&slot, kind) in fields.iter().zip(kinds) {
                if kind == Operand::Write(Bank::F) && !written[..n_written].contains(&slot) {
                    if n_written == N {
                        break 'scan;
                    }
                    written[n_written] = slot;
                    n_written += 1;
                }
            }
        }
        let inputs = &inputs[..n_inputs];
        for h in &mut self.fp.holds {
            if h.is_some_and(|s| !inputs.contains(&s)) {
                *h = None;
            }
        }
        for &slot in inputs {
            if self.fp.find(slot).is_some() {
                continue;
            }
            let Some(k) = self.fp.holds.iter().position(Option::is_none) else {
                break;
            };
            self.masm.load_fslot(Fpr::ALL[k], slot);
            self.fp.holds[k] = Some(slot);
        }
    }

    /// Decrement this function's budget at `field` (a `FuncEntry` offset)
    /// in the function table; branch to `hot` when it goes negative.
    /// Clobbers `T0` and `T1`.
    fn count_down(&mut self, field: i32, hot: M::Label) {
        let at = self.func as i32 * offsets::FUNC_ENTRY_SIZE + field;
        let m = &mut self.masm;
        m.load_ctx(T0, offsets::FUNCTIONS);
        m.load_mem(T1, T0, at);
        m.alu_imm(AluOp::Sub, T1, T1, 1);
        m.store_mem(T0, at, T1);
        m.branch_imm(Cond::Lt, T1, 0, hot);
    }

    /// Continue this activation in the Cranelift code whose address a
    /// tiering hook left in `T0` (0: resume at `resume` instead), on this
    /// very frame, and return what it returns.
    fn continue_in_cranelift(&mut self, resume: M::Label) {
        let m = &mut self.masm;
        m.branch_imm(Cond::Eq, T0, 0, resume);
        // The same activation: same frame, same call depth (which earlier
        // calls left deeper in the context).
        m.call_depth(T1, 0);
        m.store_ctx(offsets::CALL_DEPTH, T1);
        m.call_native(T0, [0; 3]);
        m.jump(self.propagate);
    }

    /// Load an i64 slot, reusing the register the previous op left it in.
    /// Only for an op's first loads: later register writes are not tracked.
    fn load_i(&mut self, dst: Gpr, slot: u16) {
        let slot = u32::from(slot);
        match self.carried {
            Some((s, r)) if s == slot => {
                if r != dst {
                    self.masm.mov(dst, r);
                }
                return;
            }
            Some((_, r)) if r == dst => self.carried = None,
            _ => {}
        }
        self.masm.load_slot(dst, Bank::I, slot);
    }

    /// The register holding f64 slot `slot`, loaded into one that is none
    /// of `busy` (this op's other operands) if no register holds it.
    fn use_f(&mut self, slot: u16, busy: &[Fpr]) -> Fpr {
        let slot = u32::from(slot);
        if let Some(r) = self.fp.find(slot) {
            return r;
        }
        let r = self.fp.pick(busy);
        self.masm.load_fslot(r, slot);
        self.fp.set(r, slot);
        r
    }

    /// A register to compute the new value of f64 slot `dst` in, none of
    /// `busy` (the op's operand registers). When `dst` is the first operand's
    /// own slot, that operand's register: its old value is dead, and x86's
    /// two-operand forms overwrite the first operand anyway.
    fn result_f(&mut self, dst: u16, (first, first_reg): (u16, Fpr), busy: &[Fpr]) -> Fpr {
        if first == dst {
            return first_reg;
        }
        self.dst_f(dst, busy)
    }

    /// A register for the new value of f64 slot `dst`, none of `busy`: the
    /// one holding `dst`'s old value, which is dead now (so a loop's updates
    /// stay in the registers its header keeps, and its back-edges restore
    /// nothing), else a new one.
    fn dst_f(&mut self, dst: u16, busy: &[Fpr]) -> Fpr {
        match self.fp.find(dst.into()) {
            Some(r) if !busy.contains(&r) => r,
            _ => self.fp.pick(busy),
        }
    }

    /// Store an i64 slot as an op's last register-writing step.
    fn store_i(&mut self, slot: u16, src: Gpr) {
        self.masm.store_slot(Bank::I, slot.into(), src);
        self.stored = Some((slot.into(), src));
    }

    /// Store the new value of an f64 slot, computed in `src`, which keeps
    /// it for later ops.
    fn store_f(&mut self, slot: u16, src: Fpr) {
        self.masm.store_fslot(slot.into(), src);
        self.fp.set(src, slot.into());
    }

    fn op(&mut self, pc: u32, op: Op) {
        use Opcode::*;
        let m = &mut self.masm;
        match op.opcode {
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
            FNeg | FAbs | FSqrt | FFloor => {
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
            HostCall => {
                let packed = i64::from(op.b) | i64::from(op.c) << 16 | i64::from(op.a) << 32;
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
            NewI | NewF | NewR => {
                let (_, kind) = ElemKind::of_op(op.opcode);
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
            SetI => self.set_i64(pc, op),
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
        }
    }

    /// `T0 / T1` or `T0 % T1` into slot `dst`, with the bytecode's traps.
    fn division(&mut self, pc: u32, is_div: bool, dst: u16) {
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
    fn division_by_constant(&mut self, pc: u32, is_div: bool, dst: u16, src: u16, divisor: i32) {
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
    fn divide_by_reciprocal(&mut self, magic: Magic, is_div: bool, d: i32) {
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

    /// Check array `r[array]` and index `i[index]` for an f64 or reference
    /// array: leaves the array in `T0` and the index in `T1`, or traps.
    fn element_address(&mut self, pc: u32, array: u16, index: u16, kind: ElemKind) {
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
    fn index_in_bounds(m: &mut M, index: u16, bounds: M::Label) {
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
    fn i64_access(
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
    fn get_i64(&mut self, pc: u32, op: Op) {
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
    fn set_i64(&mut self, pc: u32, op: Op) {
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

    /// A call through the function table: depth, native-stack and
    /// register-stack checks, arguments into the callee's first slots, the
    /// call, the status check and the result.
    fn call(&mut self, pc: u32, op: Op) {
        let callee = op.b as usize;
        let cl = self.layouts[callee];
        let me = self.layout;
        let overflow = self.trap_kind(pc, TrapKind::StackOverflow);
        let interrupted = self.trap_kind(pc, TrapKind::Interrupted);
        let m = &mut self.masm;
        // The callee's depth goes to the context, where its prologue reads
        // it; ours stays in the pinned register, so nothing is restored.
        m.call_depth(T0, 1);
        m.load_ctx(T1, offsets::MAX_CALL_DEPTH);
        m.branch(Cond::Ugt, T0, T1, overflow);
        // Calls poll the interrupt flag, as in the interpreter: recursion
        // without loops stops too.
        m.branch_flag_set(offsets::INTERRUPT, interrupted);
        m.store_ctx(offsets::CALL_DEPTH, T0);
        m.branch_stack_below(offsets::NATIVE_STACK_LIMIT, overflow);
        for bank in Bank::ALL {
            let b = bank.index();
            if cl.regs[b] == 0 {
                continue;
            }
            m.slot_addr(T0, bank, me.regs[b] + cl.regs[b]);
            m.load_ctx(T1, offsets::STACK_END + 8 * b as i32);
            m.branch(Cond::Ugt, T0, T1, overflow);
        }
        let window = u32::from(op.c);
        for bank in Bank::ALL {
            let b = bank.index();
            for k in 0..cl.params[b] {
                m.load_slot(T0, bank, window + k);
                m.store_slot(bank, me.regs[b] + k, T0);
            }
        }
        m.load_ctx(T0, offsets::FUNCTIONS);
        m.load_mem(
            T0,
            T0,
            callee as i32 * offsets::FUNC_ENTRY_SIZE + offsets::FUNC_ENTRY_CODE,
        );
        let (lazy, resume) = (m.new_label(), m.new_label());
        m.branch_imm(Cond::Eq, T0, 0, lazy);
        m.bind(resume);
        m.call_native(T0, me.regs);
        // The callee clobbered every scratch register.
        self.fp.clear();
        let m = &mut self.masm;
        let propagate = self.propagate;
        m.branch_imm(Cond::Ne, T0, 0, propagate);
        if op.a != NO_REG
            && let Some(bank) = cl.result
        {
            m.load_slot(T0, bank, me.regs[bank.index()]);
            m.store_slot(bank, op.a.into(), T0);
        }
        self.stubs.push(Stub::LazyCompile {
            label: lazy,
            resume,
            pc,
            callee: callee as u32,
        });
    }

    /// The shared exits and the out-of-line stubs.
    fn tail(&mut self) {
        let mut stubs = std::mem::take(self.stubs);
        let m = &mut self.masm;
        m.bind(self.return_ok);
        m.load_imm(T0, 0);
        m.bind(self.propagate);
        m.epilogue(T0);

        for stub in stubs.drain(..) {
            let m = &mut self.masm;
            match stub {
                Stub::Trap { label, pc, code } => {
                    m.bind(label);
                    m.store_ctx_u32(offsets::TRAP_PC, pc);
                    if let TrapCode::Kind(kind) = code {
                        m.load_imm(T0, kind.code().into());
                    }
                    m.jump(self.trap_exit);
                }
                Stub::BackEdge {
                    label,
                    interrupted,
                    target,
                    header,
                    fp_restore,
                } => {
                    let fp = fp_restore.map(|(on_entry, at_branch)| {
                        (
                            self.fp_states[on_entry as usize],
                            self.fp_states[at_branch as usize],
                        )
                    });
                    m.bind(label);
                    // The poll falls through: no taken branch but the one
                    // back to the header.
                    m.branch_flag_set(offsets::INTERRUPT, interrupted);
                    if self.counters {
                        let hot = m.new_label();
                        self.count_down(offsets::FUNC_ENTRY_LOOP_BUDGET, hot);
                        let m = &mut self.masm;
                        if let Some((on_entry, at_branch)) = &fp {
                            restore_fp(&mut **m, on_entry, Some(at_branch));
                        }
                        m.jump(target);
                        m.bind(hot);
                        m.call_helper(
                            self.helpers.hot_loop,
                            &[
                                HelperArg::Ctx,
                                HelperArg::Imm(self.func.into()),
                                HelperArg::Imm(header.into()),
                            ],
                        );
                        // The helper call clobbered the f64 registers.
                        match &fp {
                            Some((on_entry, _)) => {
                                let resume = self.masm.new_label();
                                self.continue_in_cranelift(resume);
                                let m = &mut self.masm;
                                m.bind(resume);
                                restore_fp(&mut **m, on_entry, None);
                                m.jump(target);
                            }
                            None => self.continue_in_cranelift(target),
                        }
                    } else {
                        if let Some((on_entry, at_branch)) = &fp {
                            restore_fp(&mut **m, on_entry, Some(at_branch));
                        }
                        m.jump(target);
                    }
                }
                Stub::WidenSetI64 { label, resume } => {
                    m.bind(label);
                    m.call_helper(
                        self.helpers.widen_set_i64,
                        &[
                            HelperArg::Ctx,
                            HelperArg::Reg(T0),
                            HelperArg::Reg(T1),
                            HelperArg::Reg(T2),
                        ],
                    );
                    m.jump(resume);
                }
                Stub::HotCall { label, resume } => {
                    m.bind(label);
                    m.call_helper(
                        self.helpers.hot_call,
                        &[HelperArg::Ctx, HelperArg::Imm(self.func.into())],
                    );
                    self.continue_in_cranelift(resume);
                }
                Stub::LazyCompile {
                    label,
                    resume,
                    pc,
                    callee,
                } => {
                    m.bind(label);
                    m.call_helper(
                        self.helpers.compile,
                        &[HelperArg::Ctx, HelperArg::Imm(callee.into())],
                    );
                    let failed = m.new_label();
                    m.branch_imm(Cond::Eq, T0, 0, failed);
                    m.jump(resume);
                    m.bind(failed);
                    m.store_ctx_u32(offsets::TRAP_PC, pc);
                    m.load_imm(T0, TrapKind::OutOfMemory.code().into());
                    m.jump(self.trap_exit);
                }
            }
        }
        // Back, empty, for the next function.
        *self.stubs = stubs;

        let m = &mut self.masm;
        m.bind(self.trap_exit);
        m.store_ctx_reg_u32(offsets::TRAP_KIND, T0);
        m.store_ctx_u32(offsets::TRAP_FUNC, self.func);
        m.epilogue(T0);
    }
}

/// Before a jump to a loop header that expects the f64 registers
/// `on_entry`: put each slot in its register, from the register that
/// holds it in `now` (the state at the branch; `None` after a helper
/// call) or else from the frame, which is the truth (the registers are
/// write-through copies). A register is overwritten only when no other
/// wants what it holds; a cycle of such wants is broken by a load.
pub(super) fn restore_fp<M: MacroAssembler>(m: &mut M, on_entry: &FpHolds, now: Option<&FpHolds>) {
    const N: usize = Fpr::ALL.len();
    let mut cur = now.copied().unwrap_or([None; N]);
    let mut pending: FpHolds = [None; N];
    for k in 0..N {
        if on_entry[k].is_some() && cur[k] != on_entry[k] {
            pending[k] = on_entry[k];
        }
    }
    while let Some(first) = pending.iter().position(Option::is_some) {
        let free = (0..N).find(|&k| {
            pending[k].is_some() && cur[k].is_none_or(|held| !pending.contains(&Some(held)))
        });
        let k = free.unwrap_or(first);
        let Some(slot) = pending[k] else { break };
        match cur.iter().position(|&h| h == Some(slot)) {
            Some(from) if free.is_some() => m.fp_unary(FpUnary::Copy, Fpr::ALL[k], Fpr::ALL[from]),
            _ => m.load_fslot(Fpr::ALL[k], slot),
        }
        cur[k] = Some(slot);
        pending[k] = None;
    }
}
