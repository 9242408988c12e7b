//! The per-op templates, written once against [`MacroAssembler`]: one pass
//! over the bytecode, one `emit_*` per op family, no IR.
//!
//! Every op loads its operands from the frame slots into scratch registers,
//! computes, and stores the result back: between ops the frame is the truth,
//! exactly as in the interpreter, so a function can change tier at any call.
//! Traps branch to out-of-line stubs that record the op index; loop
//! back-edges and calls poll the interrupt flag.

use super::masm::{Fpr, Gpr, HelperArg, MacroAssembler};
use crate::bytecode::{Bank, Flow, Module};
use crate::runtime::call_profile::CallProfiles;
use crate::runtime::code_info::OpOffset;
use crate::runtime::compile_error::CompileFailure;
use crate::runtime::context::offsets;
use crate::runtime::frame::FrameLayout;
use crate::runtime::helpers::HelperAddrs;
use crate::runtime::structs::StructLayouts;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

mod arith;
mod arrays;
mod calls;
mod fp_cache;
mod func_refs;
mod ops;
mod structs;
mod stubs;
mod targets;

#[cfg(test)]
pub(crate) use fp_cache::restore_fp;
use fp_cache::{FpCache, FpHolds, MAX_KEPT_LOOP_OPS};
use stubs::Stub;
use targets::{NO_TARGET, OpTargets, Target};

/// An i64 slot whose value is also in a scratch register.
type Cached = (u32, Gpr);

/// Compiles function after function, reusing its assembler's buffers and
/// its own: after the first few functions, compiling allocates nothing.
pub struct Compiler<M: MacroAssembler> {
    masm: M,
    buffers: Buffers<M::Label>,
    /// Where code with counters records its indirect calls' callees.
    call_profiles: Option<Arc<CallProfiles>>,
    /// The last function's machine code by op, and where its stubs start.
    op_offsets: Vec<OpOffset>,
    stubs_offset: u32,
}

/// A function's template code, as [`Compiler::compile_with_offsets`]
/// returns it (valid until the next compile).
#[derive(Clone, Copy, Debug)]
pub struct TemplateCode<'a> {
    /// The position-independent machine code.
    pub code: &'a [u8],
    /// Where each op's code starts, by op (every op has an entry; the
    /// prologue precedes the first).
    pub ops: &'a [OpOffset],
    /// Where the out-of-line code starts: the shared exit and the stubs,
    /// after the last op's code.
    pub stubs_offset: u32,
}

/// The per-function tables of [`Emitter`], kept from function to function.
struct Buffers<L> {
    op_targets: OpTargets<L>,
    stubs: Vec<Stub<L>>,
    fp_states: Vec<FpHolds>,
    switch_labels: Vec<L>,
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
                switch_labels: Vec::new(),
            },
            call_profiles: None,
            op_offsets: Vec::new(),
            stubs_offset: 0,
        }
    }

    /// The assembler, holding the last function compiled (its
    /// [`MacroAssembler::data`], for disassemblers).
    #[cfg(test)]
    pub(crate) fn masm(&self) -> &M {
        &self.masm
    }

    /// Code compiled with counters from now on records its indirect call
    /// sites' callees in `profiles`.
    pub fn set_call_profiles(&mut self, profiles: Option<Arc<CallProfiles>>) {
        self.call_profiles = profiles;
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
        self.compile_with_offsets(helpers, module, layouts, func, counters)
            .map(|c| c.code)
    }

    /// [`Compiler::compile`], with where each op's code starts.
    pub fn compile_with_offsets(
        &mut self,
        helpers: &HelperAddrs,
        module: &Module,
        layouts: &[FrameLayout],
        func: usize,
        counters: bool,
    ) -> Result<TemplateCode<'_>, CompileFailure> {
        self.masm.clear();
        self.op_offsets.clear();
        let mut e = Emitter::new(
            &mut self.masm,
            &mut self.buffers,
            &mut self.op_offsets,
            helpers,
            module,
            layouts,
            func,
        );
        e.counters = counters;
        if counters {
            e.call_profile = self.call_profiles.as_deref().map(|p| p.cells(func));
        }
        self.stubs_offset = e.function();
        let code = self
            .masm
            .finish()
            .map_err(|e| CompileFailure::Assembly(e.to_string()))?;
        Ok(TemplateCode {
            code,
            ops: &self.op_offsets,
            stubs_offset: self.stubs_offset,
        })
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
    /// The labels of a `switch`'s cases (reused from switch to switch).
    switch_labels: &'m mut Vec<M::Label>,
    /// Where each op's code starts, for profilers and debuggers.
    op_offsets: &'m mut Vec<OpOffset>,
    /// Status already in `T0`, trap record already filled by a callee.
    propagate: M::Label,
    /// Trap kind in `T0`, pc already stored: fill the rest and return.
    trap_exit: M::Label,
    /// Return status 0.
    return_ok: M::Label,
    /// The start of the body, after the prologue (and the call budget's
    /// count-down), where the non-parameter registers are cleared: a tail
    /// call of the function itself jumps here.
    body: M::Label,
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
    /// With counters, the profile cells of this function's `calli` sites,
    /// which its code keeps up to date.
    call_profile: Option<&'m [AtomicU64]>,
    /// The module's struct layouts, when the function names a struct or a
    /// field (else empty: computing them allocates).
    structs: StructLayouts,
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

impl<'m, M: MacroAssembler> Emitter<'m, M> {
    fn new(
        masm: &'m mut M,
        buffers: &'m mut Buffers<M::Label>,
        op_offsets: &'m mut Vec<OpOffset>,
        helpers: &'m HelperAddrs,
        module: &'m Module,
        layouts: &'m [FrameLayout],
        func: usize,
    ) -> Self {
        let Buffers {
            op_targets,
            stubs,
            fp_states,
            switch_labels,
        } = buffers;
        // Pre-pass: labels only for the ops that are jump targets (of
        // branches and of switch tables), and how each is entered.
        let function = &module.functions[func];
        let code = &function.code;
        op_targets.of_op.clear();
        op_targets.of_op.resize(code.len(), NO_TARGET);
        op_targets.targets.clear();
        stubs.clear();
        fp_states.clear();
        for (pc, op) in code.iter().enumerate() {
            for t in function.targets_of(op) {
                let Some(index) = op_targets.of_op.get_mut(t as usize) else {
                    continue;
                };
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
        let structs = if code.iter().any(|op| op.opcode.names_struct()) {
            StructLayouts::of(module)
        } else {
            StructLayouts::default()
        };
        let propagate = masm.new_label();
        let trap_exit = masm.new_label();
        let return_ok = masm.new_label();
        let body = masm.new_label();
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
            switch_labels,
            op_offsets,
            propagate,
            trap_exit,
            return_ok,
            body,
            carried: None,
            stored: None,
            fp: FpCache::default(),
            counters: false,
            call_profile: None,
            structs,
        }
    }

    /// Emit the function; returns where its out-of-line code starts.
    fn function(&mut self) -> u32 {
        let code = &self.module.functions[self.func as usize].code;
        // About 30-60 bytes per op (see `benches/compile.rs`).
        self.masm.reserve(128 + 48 * code.len());
        self.op_offsets.reserve(code.len());
        self.masm.prologue(offsets::CALL_DEPTH);
        if self.counters {
            let (hot, resume) = (self.masm.new_label(), self.masm.new_label());
            self.count_down(offsets::FUNC_ENTRY_CALL_BUDGET, hot);
            self.masm.bind(resume);
            self.stubs.push(Stub::HotCall { label: hot, resume });
        }
        // Every engine starts non-parameter registers at 0, 0.0 and null.
        self.masm.bind(self.body);
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
            self.op_offsets.push(OpOffset {
                code_offset: self.masm.offset() as u32,
                op: pc as u32,
            });
            self.op(pc as u32, *op);
        }
        let stubs = self.masm.offset() as u32;
        self.tail();
        stubs
    }

    /// Call helper `addr` in line. It clobbers every scratch register, so
    /// no f64 slot is known to be in one afterwards.
    fn call_helper(&mut self, addr: usize, args: &[HelperArg]) {
        self.masm.call_helper(addr, args);
        self.fp.clear();
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
}
