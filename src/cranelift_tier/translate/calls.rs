//! Calls: real ones through the function table (or straight to the
//! function itself), inlined ones, ones that run the callee's early exit in
//! line, and host calls; with the call-depth and register-stack checks of
//! each, and the frame check on entry that lets most calls skip them.

use super::*;
use crate::runtime::context::TAIL_CALL_STATUS;
use crate::runtime::heap::{
    FUNC_REF_ENV_OFFSET, FUNC_REF_FUNC_OFFSET, FUNC_REF_KIND, FUNC_REF_TYPE_OFFSET,
    func_ref_frame_offset,
};
use crate::runtime::host::HostCallSite;

/// At most this many callees get a case in a `calli`'s jump table
/// ([`Translator::switched_indirect_call`]).
const MAX_SWITCHED_TARGETS: usize = 16;
/// The largest span of function indices a `calli`'s jump table covers.
const MAX_SWITCHED_SPAN: usize = 256;

/// A function that starts by returning at once when a test of its
/// arguments holds: `j<cmp>[i] a, b, L` (or `jz`/`jnz`) with a `ret` at
/// either `L` or the next op.
#[derive(Clone, Copy)]
pub(super) struct EarlyExit {
    /// The test, op 0.
    test: Op,
    /// Whether the function returns when the test's branch is taken (else
    /// when it is not).
    when_taken: bool,
    /// The `ret` it then runs.
    ret: Op,
}

pub(super) fn early_exit(code: &[Op]) -> Option<EarlyExit> {
    use Opcode::*;
    let test = *code.first()?;
    let reads_ints = matches!(
        test.opcode,
        JEq | JNe | JLt | JLe | JGt | JGe | JEqI | JNeI | JLtI | JLeI | JGtI | JGeI | Jz | Jnz
    );
    let is_ret = |op: &Op| matches!(op.opcode, Ret | RetI | RetF | RetR);
    let taken = code.get(usize::from(test.target()?))?;
    let (when_taken, ret) = match code.get(1) {
        _ if is_ret(taken) => (true, *taken),
        Some(next) if is_ret(next) => (false, *next),
        _ => return None,
    };
    reads_ints.then_some(EarlyExit {
        test,
        when_taken,
        ret,
    })
}

/// A function inlines at most this many times `inline_max_ops` ops in all:
/// a `main` calling 3,000 small leaves once each (programs/mixed.tj) took
/// 6x longer to compile with every call inlined.
pub(super) const INLINE_BUDGET_FACTOR: u32 = 8;

/// Whatever the settings, a function inlines at most this many ops in all,
/// so that no setting makes a compile run for minutes: with every limit
/// raised, fib compiled for over 10 minutes with a cap of 65,536 ops, and
/// takes about a second with this one (16 times the default budget).
pub(super) const MAX_INLINE_BUDGET: u32 = 1 << 12;

/// Whether every frame that this function's calls make fits, computed once
/// on entry against the largest need of any call site (call depth, and the
/// frame's end in each register stack): then a call skips its own depth and
/// register-stack checks, and only when it does not fit does a call site
/// run them, on a cold path, to trap exactly where the interpreter does.
/// The largest need is known only when translation ends, so it is written
/// into placeholder constants then.
pub(super) struct FrameRoom {
    /// True when the largest need fits.
    fits: Value,
    /// The constants: the deepest callee's depth above this activation,
    /// and per bank the furthest frame end past this frame's base (bytes).
    depth_need: Inst,
    end_need: [Inst; 3],
    /// Per bank, the compare of the furthest frame end with the stack's:
    /// true by itself when no call site's frame has registers in that bank.
    end_fits: [Inst; 3],
    /// The largest needs seen so far.
    max_depth: i64,
    max_end: [i64; 3],
}

impl FrameRoom {
    /// The check, in the entry block, with needs of 0 for now.
    pub(super) fn new(
        b: &mut FunctionBuilder<'_>,
        ctx: Value,
        bases: [Value; 3],
        depth: Value,
    ) -> FrameRoom {
        let depth_need = b.ins().iconst(I64, 0);
        let deepest = b.ins().iadd(depth, depth_need);
        let max = b.ins().load(I64, invariant(), ctx, offsets::MAX_CALL_DEPTH);
        let mut fits = b.ins().icmp(IntCC::UnsignedLessThanOrEqual, deepest, max);
        let end_need = Bank::ALL.map(|bank| {
            let need = b.ins().iconst(I64, 0);
            let end = b.ins().iadd(bases[bank.index()], need);
            let stack_end = b
                .ins()
                .load(I64, invariant(), ctx, offsets::stack_end(bank.index()));
            let ok = b.ins().icmp(IntCC::UnsignedLessThanOrEqual, end, stack_end);
            fits = b.ins().band(fits, ok);
            (need, ok)
        });
        let inst = |v: Value| b.func.dfg.value_def(v).unwrap_inst();
        FrameRoom {
            fits,
            depth_need: inst(depth_need),
            end_need: end_need.map(|(need, _)| inst(need)),
            end_fits: end_need.map(|(_, ok)| inst(ok)),
            max_depth: 0,
            max_end: [0; 3],
        }
    }

    /// Write the largest needs into the check's constants.
    pub(super) fn finish(&self, func: &mut Function) {
        func.replace(self.depth_need).iconst(I64, self.max_depth);
        for b in 0..3 {
            func.replace(self.end_need[b]).iconst(I64, self.max_end[b]);
            if self.max_end[b] == 0 {
                func.replace(self.end_fits[b]).iconst(I8, 1);
            }
        }
    }
}

impl Translator<'_, '_> {
    /// A real call, through the function table (or straight to the
    /// compiled function itself), with the template tier's checks in the
    /// same order: call depth, interrupt, native stack, register stacks.
    /// The exact checks load their limits at each call, not as invariant:
    /// hoisted to the entry, they outlived the registers across calls and
    /// were spilled (fib 8% slower).
    pub(super) fn call(&mut self, pc: u32, op: Op) {
        let callee = op.b as usize;
        self.call_with_frame(pc, op, self.layouts[callee], None);
    }

    /// `calli T, r[b], w` through a register known to hold what `fref f`
    /// or `closure f` made, of type `T`: a call of `f` with the arguments,
    /// checks and result of `calli` (the frame it checks is the one an
    /// indirect call needs; the environment slot gets the closure's
    /// environment, or null), without the reference's checks; inlined when
    /// `f` is small, as a direct call is.
    pub(super) fn known_indirect_call(&mut self, pc: u32, op: Op, known: KnownRef) {
        // A closure never changes, and this one is not null.
        let obj = self.get(Bank::R, op.b);
        self.call_known_ref(pc, op, known, obj);
    }

    /// The one function the `calli` at `pc` of the function being
    /// translated has called (in template code with counters), as a
    /// reference of the call's type.
    pub(super) fn profiled_target(&self, pc: u32, op: Op) -> Option<KnownRef> {
        let code = &self.module.functions[self.func as usize].code;
        let f = self
            .profiles?
            .target(self.func as usize, site_of(code, pc as usize))?;
        let layout = self.layouts.get(usize::from(f))?;
        let ty = u32::from(op.a);
        (layout.ref_type == ty || layout.closure_type == ty).then_some(KnownRef {
            func: f,
            closure: layout.closure_type == ty,
        })
    }

    /// The object in `r[reg]` (the null object for null) and its kind,
    /// function and type words, as a function reference would hold them.
    /// Every object is at least as large as a function reference: no load
    /// faults, so all may leave loops (a function reference never changes,
    /// and no other object's kind becomes or stops being its kind).
    fn func_ref_fields(&mut self, reg: u16) -> (Value, Value, Value, Value) {
        let (_, _, obj) = self.array_header(reg);
        // (Cranelift hoists plain `load`s only, not `uload32`.)
        let load =
            |t: &mut Self, offset: usize| t.b.ins().load(I32, invariant(), obj, offset as i32);
        (
            obj,
            load(self, ARRAY_KIND_OFFSET),
            load(self, FUNC_REF_FUNC_OFFSET),
            load(self, FUNC_REF_TYPE_OFFSET),
        )
    }

    /// `calli` at a site whose profile names `known`: when the reference
    /// is not null, is a function reference, and refers to `known.func`
    /// with the call's type, a call of that function as for a known
    /// reference; else the general indirect call.
    pub(super) fn guarded_indirect_call(&mut self, pc: u32, op: Op, known: KnownRef) {
        let (obj, kind, func, ty) = self.func_ref_fields(op.b);
        let checked = self.is_func_ref_of_type(kind, ty, op.a);
        let same_func = self
            .b
            .ins()
            .icmp_imm_s(IntCC::Equal, func, i64::from(known.func));
        let hit = self.b.ins().band(checked, same_func);
        let (fast, general, done) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        self.b.ins().brif(hit, fast, &[], general, &[]);
        self.b.switch_to_block(fast);
        self.call_known_ref(pc, op, known, obj);
        self.b.ins().jump(done, &[]);
        self.general_indirect_call(pc, op, general, done);
    }

    /// Whether a reference's `kind` and `ty` (from
    /// [`Self::func_ref_fields`]) make it a function reference of type `want`.
    fn is_func_ref_of_type(&mut self, kind: Value, ty: Value, want: u16) -> Value {
        let is_ref = self
            .b
            .ins()
            .icmp_imm_s(IntCC::Equal, kind, i64::from(FUNC_REF_KIND));
        let same_type = self.b.ins().icmp_imm_s(IntCC::Equal, ty, i64::from(want));
        self.b.ins().band(is_ref, same_type)
    }

    /// The general indirect call in the cold block `general` (what a
    /// speculating call falls back to: it traps as it must), then on to
    /// `done`, where code continues.
    fn general_indirect_call(&mut self, pc: u32, op: Op, general: Block, done: Block) {
        self.b.switch_to_block(general);
        self.b.set_cold_block(general);
        self.indirect_call(pc, op);
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(done);
    }

    /// The functions a `calli` of type `ty` could call that would be
    /// inlined here (a reference of another type traps), at most
    /// [`MAX_SWITCHED_TARGETS`] of them in a span of at most
    /// [`MAX_SWITCHED_SPAN`] function indices; none if fewer than two.
    pub(super) fn switched_targets(&self, ty: u16) -> Vec<KnownRef> {
        let ty = u32::from(ty);
        let targets: Vec<KnownRef> = self
            .layouts
            .iter()
            .enumerate()
            .filter(|(f, l)| (l.ref_type == ty || l.closure_type == ty) && self.inlinable(*f))
            .take(MAX_SWITCHED_TARGETS)
            .filter_map(|(f, l)| {
                Some(KnownRef {
                    func: u16::try_from(f).ok()?,
                    closure: l.closure_type == ty,
                })
            })
            .collect();
        let span = match (targets.first(), targets.last()) {
            (Some(first), Some(last)) => usize::from(last.func - first.func) + 1,
            _ => 0,
        };
        if targets.len() < 2 || span > MAX_SWITCHED_SPAN {
            return Vec::new();
        }
        targets
    }

    /// `calli` whose possible callees of the call's type are all small
    /// (`targets`, in function order): when the reference is not null, is
    /// a function reference and has the call's type, a jump table on its
    /// function to that function's inlined call (as for a known
    /// reference); anything else (null, another object or type, another
    /// function) takes the general indirect call, which traps as it must.
    pub(super) fn switched_indirect_call(&mut self, pc: u32, op: Op, targets: &[KnownRef]) {
        let (obj, kind, func, ty) = self.func_ref_fields(op.b);
        let checked = self.is_func_ref_of_type(kind, ty, op.a);
        let (dispatch, general, done) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        self.b.ins().brif(checked, dispatch, &[], general, &[]);
        self.b.switch_to_block(dispatch);
        let first = targets[0].func;
        let span = usize::from(targets[targets.len() - 1].func - first) + 1;
        // Below `first` the index wraps past the table: the default.
        let index = self.b.ins().iadd_imm_s(func, -i64::from(first));
        let blocks: Vec<Block> = targets.iter().map(|_| self.b.create_block()).collect();
        let default = self.b.func.dfg.block_call(general, &[]);
        let mut entries = vec![default; span];
        for (target, &block) in targets.iter().zip(&blocks) {
            entries[usize::from(target.func - first)] = self.b.func.dfg.block_call(block, &[]);
        }
        let jt = self
            .b
            .create_jump_table(JumpTableData::new(default, &entries));
        self.b.ins().br_table(index, jt);
        for (&target, block) in targets.iter().zip(blocks) {
            self.b.switch_to_block(block);
            self.call_known_ref(pc, op, target, obj);
            self.b.ins().jump(done, &[]);
        }
        self.general_indirect_call(pc, op, general, done);
    }

    /// A call of the function `known` refers to, for `calli`; a closure's
    /// environment is loaded from the reference at `obj`, which never
    /// faults (the reference itself, or the null object for null).
    fn call_known_ref(&mut self, pc: u32, op: Op, known: KnownRef, obj: Value) {
        let f = known.func;
        let mut cl = self.layouts[usize::from(f)];
        cl.regs = cl.indirect_regs();
        let dst = if cl.result.is_some() { op.c } else { NO_REG };
        // The type's `r` parameters come first; the environment follows.
        let visible_refs = self.module.types[usize::from(op.a)].param_counts()[Bank::R.index()];
        let env = if known.closure {
            self.b
                .ins()
                .load(I64, invariant(), obj, FUNC_REF_ENV_OFFSET as i32)
        } else {
            self.b.ins().iconst(I64, 0)
        };
        let env = (u32::from(visible_refs), env);
        let call = Op::new(Opcode::Call, dst, f, op.c);
        if self.inlinable(usize::from(f)) {
            self.inline_callee(pc, call, cl, Some(env));
        } else {
            self.call_with_frame(pc, call, cl, Some(env));
        }
    }

    /// [`Self::call`] of a callee whose frame, as this call checks it, is
    /// `cl` (its own layout, or for an indirect call the registers it makes
    /// room for); with `env`, that value (an environment, or null) goes to
    /// that slot of the callee's `r` registers.
    fn call_with_frame(&mut self, pc: u32, op: Op, cl: FrameLayout, env: Option<(u32, Value)>) {
        let callee = op.b as usize;
        let me = self.layout;

        let depth = self.b.ins().iadd_imm_s(self.depth, 1);
        // Outside loops, when the function's [`FrameRoom`] check holds, the
        // call depth and register stacks need no check of their own.
        // (In a loop, branching on it cost more than it saved, see
        // `check_inlined_frame`.)
        let checked = self.b.create_block();
        if !self.in_loop(pc) {
            let fits = self.frame_fits(cl);
            let (fast, exact) = (self.b.create_block(), self.b.create_block());
            self.b.ins().brif(fits, fast, &[], exact, &[]);
            self.b.switch_to_block(fast);
            self.enter_callee(pc, depth);
            self.b.ins().jump(checked, &[]);
            self.b.switch_to_block(exact);
            self.b.set_cold_block(exact);
        }
        let max = self.load_ctx(I64, offsets::MAX_CALL_DEPTH, trusted());
        let too_deep = self.b.ins().icmp(IntCC::UnsignedGreaterThan, depth, max);
        self.trap_if(too_deep, pc, TrapKind::StackOverflow);
        self.enter_callee(pc, depth);
        self.check_register_stacks(pc, cl);
        self.b.ins().jump(checked, &[]);
        self.b.switch_to_block(checked);
        let callee_bases = self.callee_bases();
        let window = op.c;
        for bank in Bank::ALL {
            let b = bank.index();
            // A closure's environment is not in the window: it goes to its
            // slot below.
            let passed = match env {
                Some((slot, _)) if bank == Bank::R => slot.min(cl.params[b]),
                _ => cl.params[b],
            };
            for k in 0..passed {
                let v = self.get(bank, window + k as u16);
                self.store_slot(bank, me.regs[b] + k, v);
            }
        }
        if let Some((slot, env)) = env {
            self.store_slot(Bank::R, me.regs[Bank::R.index()] + slot, env);
        }
        let args = [self.ctx, callee_bases[0], callee_bases[1], callee_bases[2]];
        let status = match self.self_ref {
            // A call of the compiled function (from its own code or from a
            // callee inlined into it) goes straight to it, not through the
            // table: it is compiled, and it computes what any tier would.
            (me, Some(me_ref)) if callee == me as usize => {
                let call = self.b.ins().call(me_ref, &args);
                self.b.inst_results(call)[0]
            }
            _ => self.call_through_table(pc, callee, &args),
        };
        // Only a function with a tail call of its own returns the tail
        // call status (its callers' sites run its tail calls to the end).
        let may_tail = self.module.functions[callee]
            .code
            .iter()
            .any(|op| op.opcode.is_tail_call());
        self.returned(status, depth, callee_bases, may_tail);
        if op.a != NO_REG
            && let Some(bank) = cl.result
        {
            let v = self.load_slot(bank, me.regs[bank.index()]);
            self.set(bank, op.a, v);
        }
    }

    /// After a real call whose callee, of depth `depth` and with frame
    /// bases `callee_bases`, returned `status`: go on when it is 0; when it
    /// is [`TAIL_CALL_STATUS`] (the callee ended in a tail call it left to
    /// its caller), run `tail_call_dispatch` on the callee's frame, as if
    /// calling the callee again, and go on or propagate by its status; any
    /// other status propagates. Both off the hot path. Without `may_tail`
    /// (the callee has no tail call), any non-zero status propagates.
    pub(super) fn returned(
        &mut self,
        status: Value,
        depth: Value,
        callee_bases: [Value; 3],
        may_tail: bool,
    ) {
        if !may_tail {
            let cont = self.b.create_block();
            self.b
                .ins()
                .brif(status, self.propagate_block, &[status.into()], cont, &[]);
            self.b.switch_to_block(cont);
            return;
        }
        let (not_ok, dispatch, cont) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        self.b.ins().brif(status, not_ok, &[], cont, &[]);
        self.b.switch_to_block(not_ok);
        self.b.set_cold_block(not_ok);
        let tail = self
            .b
            .ins()
            .icmp_imm_s(IntCC::Equal, status, i64::from(TAIL_CALL_STATUS));
        self.b
            .ins()
            .brif(tail, dispatch, &[], self.propagate_block, &[status.into()]);
        self.b.switch_to_block(dispatch);
        self.b.set_cold_block(dispatch);
        self.b
            .ins()
            .store(trusted(), depth, self.ctx, offsets::CALL_DEPTH);
        let addr = self
            .b
            .ins()
            .iconst(I64, self.helpers.tail_call_dispatch as i64);
        let args = [self.ctx, callee_bases[0], callee_bases[1], callee_bases[2]];
        // The native entry's signature, imported anew: a helper call, not
        // one of the function's calls of bytecode functions.
        let sig = self.b.func.signature.clone();
        let sig = *self
            .dispatch_sig
            .get_or_insert_with(|| self.b.import_signature(sig));
        let call = self.b.ins().call_indirect(sig, addr, &args);
        let status = self.b.inst_results(call)[0];
        self.b
            .ins()
            .brif(status, self.propagate_block, &[status.into()], cont, &[]);
        self.b.switch_to_block(cont);
    }

    /// The checks of an indirect call (`calli`, `tcalli`) at `pc` through
    /// `r[reg]`, expecting type `ty`, in the interpreter's order: null, not
    /// a function reference, another type. The reference.
    pub(super) fn checked_func_ref(&mut self, pc: u32, reg: u16, ty: u16) -> Value {
        // Through the null object for null: every object is as large as a
        // function reference, so no load of its fields faults, and as a
        // function reference never changes, they may all leave loops.
        let (_, is_null, r) = self.array_header(reg);
        self.trap_if(is_null, pc, TrapKind::NullReference);
        // The kind first: the fields of another object mean nothing.
        let kind = self
            .b
            .ins()
            .load(I32, invariant(), r, ARRAY_KIND_OFFSET as i32);
        let not_ref = self
            .b
            .ins()
            .icmp_imm_s(IntCC::NotEqual, kind, i64::from(FUNC_REF_KIND));
        self.trap_if(not_ref, pc, TrapKind::SignatureMismatch);
        let type_id = self
            .b
            .ins()
            .load(I32, invariant(), r, FUNC_REF_TYPE_OFFSET as i32);
        let wrong = self
            .b
            .ins()
            .icmp_imm_s(IntCC::NotEqual, type_id, i64::from(ty));
        self.trap_if(wrong, pc, TrapKind::SignatureMismatch);
        r
    }

    /// Trap at `pc` with a stack overflow unless the register need of the
    /// function reference `r` (its `frame_bytes`) fits on every register
    /// stack from `offsets` slots past this frame's bases.
    pub(super) fn check_ref_frame(&mut self, pc: u32, r: Value, offsets: [u32; 3]) {
        for bank in Bank::ALL {
            let b = bank.index();
            let bytes = self.func_ref_u32(r, func_ref_frame_offset(b));
            let from = self
                .b
                .ins()
                .iadd_imm_s(self.bases[b], Self::slot_offset(offsets[b]) as i64);
            let end = self.b.ins().iadd(from, bytes);
            let over = self.past_stack_end(bank, end, trusted());
            self.trap_if(over, pc, TrapKind::StackOverflow);
        }
    }

    /// A `u32` field of the checked function reference at `r`, as an i64
    /// (a plain load: Cranelift hoists no `uload32`).
    fn func_ref_u32(&mut self, r: Value, offset: usize) -> Value {
        let v = self.b.ins().load(I32, invariant(), r, offset as i32);
        self.b.ins().uextend(I64, v)
    }

    /// The code address of function `func` (an i64 value) from the
    /// function table, compiling it first if it has none (failing: an
    /// out-of-memory trap at `pc`).
    pub(super) fn code_of(&mut self, pc: u32, func: Value) -> Value {
        let table = self.load_ctx(I64, offsets::FUNCTIONS, invariant());
        let offset = self
            .b
            .ins()
            .imul_imm_s(func, i64::from(offsets::FUNC_ENTRY_SIZE));
        let entry = self.b.ins().iadd(table, offset);
        let code = self
            .b
            .ins()
            .load(I64, trusted(), entry, offsets::FUNC_ENTRY_CODE);
        let (lazy, have) = (self.b.create_block(), self.b.create_block());
        self.b.append_block_param(have, I64);
        self.b.ins().brif(code, have, &[code.into()], lazy, &[]);
        self.b.switch_to_block(lazy);
        self.b.set_cold_block(lazy);
        let addr = self.call_helper(self.helpers.compile, &[func]);
        let failed = self.b.ins().icmp_imm_s(IntCC::Equal, addr, 0);
        self.trap_if(failed, pc, TrapKind::OutOfMemory);
        self.b.ins().jump(have, &[addr.into()]);
        self.b.switch_to_block(have);
        self.b.block_params(have)[0]
    }

    /// `calli T, r[b], w`: the reference's checks, then `call`'s checks
    /// in its order with the register stacks checked against the
    /// reference's frame need, the arguments (by the type), the
    /// environment after the type's `r` parameters, the call through the
    /// table, the result into register `w` of its bank.
    pub(super) fn indirect_call(&mut self, pc: u32, op: Op) {
        let ty = &self.module.types[usize::from(op.a)];
        let (params, result) = (ty.param_counts().map(u32::from), ty.result);
        let me = self.layout;
        let r = self.checked_func_ref(pc, op.b, op.a);
        let depth = self.b.ins().iadd_imm_s(self.depth, 1);
        let max = self.load_ctx(I64, offsets::MAX_CALL_DEPTH, trusted());
        let too_deep = self.b.ins().icmp(IntCC::UnsignedGreaterThan, depth, max);
        self.trap_if(too_deep, pc, TrapKind::StackOverflow);
        self.enter_callee(pc, depth);
        self.check_ref_frame(pc, r, me.regs);
        let callee_bases = self.callee_bases();
        let window = op.c;
        for bank in Bank::ALL {
            let b = bank.index();
            for k in 0..params[b] {
                let v = self.get(bank, window + k as u16);
                self.store_slot(bank, me.regs[b] + k, v);
            }
        }
        let env = self
            .b
            .ins()
            .load(I64, invariant(), r, FUNC_REF_ENV_OFFSET as i32);
        self.store_slot(Bank::R, me.regs[Bank::R.index()] + params[2], env);
        let func = self.func_ref_u32(r, FUNC_REF_FUNC_OFFSET);
        let code = self.code_of(pc, func);
        let args = [self.ctx, callee_bases[0], callee_bases[1], callee_bases[2]];
        let call = self.b.ins().call_indirect(self.entry_sig, code, &args);
        let status = self.b.inst_results(call)[0];
        self.returned(status, depth, callee_bases, true);
        if let Some(bank) = result {
            let v = self.load_slot(bank, me.regs[bank.index()]);
            self.set(bank, op.c, v);
        }
    }

    /// `tcall f, w` and `tcalli T, r[b], w`: the checks (`tcalli`: the
    /// reference's first), the interrupt poll, the callee's frame measured
    /// from this one's bases; the arguments into this frame's first slots,
    /// then (`tcall` of the function itself, compiled as a whole) a jump to
    /// its start with the registers defined anew, or else the callee in
    /// `ctx.tail_func` and [`TAIL_CALL_STATUS`], for the caller's call
    /// site to call it on this frame.
    pub(super) fn tail_call(&mut self, pc: u32, op: Op) {
        let indirect = op.opcode == Opcode::TCallI;
        let (r, params, window) = if indirect {
            let ty = &self.module.types[usize::from(op.a)];
            let params = ty.param_counts().map(u32::from);
            (Some(self.checked_func_ref(pc, op.b, op.a)), params, op.c)
        } else {
            (None, self.layouts[usize::from(op.a)].params, op.b)
        };
        let flag = self.interrupt_flag();
        self.trap_if(flag, pc, TrapKind::Interrupted);
        let args = Bank::ALL.map(|bank| {
            (0..params[bank.index()])
                .map(|k| self.get(bank, window + k as u16))
                .collect::<Vec<_>>()
        });
        let to_itself = !indirect && u32::from(op.a) == self.func && self.inline_depth == 0;
        if to_itself {
            // The frame is this one's: it fits. The function's start, from
            // outside any loop (through a packed loop's guard); no loop
            // with a tail call has a packed copy.
            debug_assert!(self.in_copy.is_none());
            self.define_registers(&args);
            let start = self.target_block(None, 0);
            self.b.ins().jump(start, &[]);
            return;
        }
        match r {
            Some(r) => self.check_ref_frame(pc, r, [0; 3]),
            None => {
                let cl = self.layouts[usize::from(op.a)];
                for bank in Bank::ALL {
                    let b = bank.index();
                    if cl.regs[b] == 0 {
                        continue;
                    }
                    let end = self
                        .b
                        .ins()
                        .iadd_imm_s(self.bases[b], Self::slot_offset(cl.regs[b]) as i64);
                    let over = self.past_stack_end(bank, end, trusted());
                    self.trap_if(over, pc, TrapKind::StackOverflow);
                }
            }
        }
        for bank in Bank::ALL {
            for (k, &v) in args[bank.index()].iter().enumerate() {
                self.store_slot(bank, k as u32, v);
            }
        }
        let func = match r {
            Some(r) => {
                let env = self
                    .b
                    .ins()
                    .load(I64, invariant(), r, FUNC_REF_ENV_OFFSET as i32);
                self.store_slot(Bank::R, params[2], env);
                self.func_ref_u32(r, FUNC_REF_FUNC_OFFSET)
            }
            None => self.b.ins().iconst(I64, i64::from(op.a)),
        };
        self.b
            .ins()
            .store(trusted(), func, self.ctx, offsets::TAIL_FUNC);
        let tail = self.b.ins().iconst(I32, i64::from(TAIL_CALL_STATUS));
        self.b.ins().return_(&[tail]);
    }

    /// A real call of a function that may return at once (see
    /// [`EarlyExit`]): the test runs here, on the arguments, and only when
    /// the function would not return at once is it called. Returning at
    /// once, it is an inlined call: the same depth and register-stack
    /// checks, and its result. (fib: half the calls below the inlined
    /// levels are of fib(0) or fib(1).)
    pub(super) fn call_with_early_exit(&mut self, pc: u32, op: Op, exit: EarlyExit) {
        let cl = self.layouts[op.b as usize];
        // A register of the callee on entry: an argument, or 0.
        let entry_value = |t: &mut Self, bank: Bank, reg: u16| {
            if u32::from(reg) < cl.params[bank.index()] {
                t.get(bank, op.c + reg)
            } else if bank == Bank::F {
                t.b.ins().f64const(0.0)
            } else {
                t.b.ins().iconst(I64, 0)
            }
        };
        let (taken, _) =
            self.int_branch_condition(exit.test, |t, reg| entry_value(t, Bank::I, reg));
        let (returns, calls) = (self.b.create_block(), self.b.create_block());
        let join = self.b.create_block();
        if exit.when_taken {
            self.b.ins().brif(taken, returns, &[], calls, &[]);
        } else {
            self.b.ins().brif(taken, calls, &[], returns, &[]);
        }
        self.b.switch_to_block(returns);
        self.check_inlined_frame(pc, cl);
        if op.a != NO_REG
            && let Some(bank) = exit.ret.opcode.transfer_bank()
        {
            let v = entry_value(self, bank, exit.ret.a);
            self.set(bank, op.a, v);
        }
        self.b.ins().jump(join, &[]);
        self.b.switch_to_block(calls);
        self.call(pc, op);
        self.b.ins().jump(join, &[]);
        self.b.switch_to_block(join);
    }

    /// Call function `callee` through its function-table entry, compiling
    /// it first if it has no code yet: the status it returns.
    pub(super) fn call_through_table(
        &mut self,
        pc: u32,
        callee: usize,
        args: &[Value; 4],
    ) -> Value {
        let table = self.load_ctx(I64, offsets::FUNCTIONS, invariant());
        let entry_offset = callee as i32 * offsets::FUNC_ENTRY_SIZE + offsets::FUNC_ENTRY_CODE;
        let code = self.b.ins().load(I64, trusted(), table, entry_offset);
        let (lazy, do_call) = (self.b.create_block(), self.b.create_block());
        self.b.append_block_param(do_call, I64);
        self.b.ins().brif(code, do_call, &[code.into()], lazy, &[]);

        // First call of a callee not compiled yet: compile it.
        self.b.switch_to_block(lazy);
        self.b.set_cold_block(lazy);
        let idx = self.b.ins().iconst(I64, callee as i64);
        let addr = self.call_helper(self.helpers.compile, &[idx]);
        let failed = self.b.ins().icmp_imm_s(IntCC::Equal, addr, 0);
        self.trap_if(failed, pc, TrapKind::OutOfMemory);
        self.b.ins().jump(do_call, &[addr.into()]);

        self.b.switch_to_block(do_call);
        let addr = self.b.block_params(do_call)[0];
        let call = self.b.ins().call_indirect(self.entry_sig, addr, args);
        self.b.inst_results(call)[0]
    }

    /// Where a callee's frame starts in each bank: right after ours.
    pub(super) fn callee_bases(&mut self) -> [Value; 3] {
        let me = self.layout;
        Bank::ALL.map(|bank| {
            let b = bank.index();
            self.b
                .ins()
                .iadd_imm_s(self.bases[b], Self::slot_offset(me.regs[b]) as i64)
        })
    }

    /// The checks of a real call between its depth check and its register
    /// stacks' (the template tier's order): poll the interrupt flag (as the
    /// interpreter's calls do, so recursion without loops stops too; an
    /// inlined call adds no native frame and does not poll), store the
    /// callee's depth in the context, where its entry reads it (ours stays
    /// in `self.depth`, so nothing is restored after the call), and check
    /// the native stack.
    pub(super) fn enter_callee(&mut self, pc: u32, depth: Value) {
        let flag = self.interrupt_flag();
        self.trap_if(flag, pc, TrapKind::Interrupted);
        self.b
            .ins()
            .store(trusted(), depth, self.ctx, offsets::CALL_DEPTH);
        let sp = self.b.ins().get_stack_pointer(I64);
        let limit = self.load_ctx(I64, offsets::NATIVE_STACK_LIMIT, trusted());
        let low = self.b.ins().icmp(IntCC::UnsignedLessThan, sp, limit);
        self.trap_if(low, pc, TrapKind::StackOverflow);
    }

    /// Whether op `pc` of the current function runs in a loop, of its own
    /// or around the call that inlined it.
    pub(super) fn in_loop(&self, pc: u32) -> bool {
        let code = &self.module.functions[self.func as usize].code;
        self.inlined_in_loop || loops(code).any(|ops| ops.contains(&(pc as usize)))
    }

    /// Whether the frame of a call of `callee` from here fits, by the
    /// function's [`FrameRoom`] check (which takes in this call's need).
    pub(super) fn frame_fits(&mut self, callee: FrameLayout) -> Value {
        let me = self.layout;
        let room = &mut self.room;
        room.max_depth = room.max_depth.max(i64::from(self.inline_depth) + 1);
        for b in 0..3 {
            if callee.regs[b] != 0 {
                let end = self.base_offsets[b]
                    + i64::from(Self::slot_offset(me.regs[b] + callee.regs[b]));
                room.max_end[b] = room.max_end[b].max(end);
            }
        }
        room.fits
    }

    /// For an inlined call, a real call's checks of the call depth and the
    /// register stacks ([`Self::check_register_stacks`]) as one compare:
    /// with no interrupt poll between them, both trap alike at `pc`.
    /// Outside loops it runs only when the [`FrameRoom`] check fails. The
    /// callee's depth.
    pub(super) fn check_inlined_frame(&mut self, pc: u32, callee: FrameLayout) -> Value {
        let depth = self.b.ins().iadd_imm_s(self.depth, 1);
        // In a loop, the exact check's condition is pure, and Cranelift
        // hoists it out of the loop by itself. (Branching first on the
        // entry's check there kept Cranelift from hoisting other invariants
        // of the loop: spectralnorm 0.22 -> 0.29 s.)
        let checked = self.b.create_block();
        if !self.in_loop(pc) {
            let fits = self.frame_fits(callee);
            let exact = self.b.create_block();
            self.b.ins().brif(fits, checked, &[], exact, &[]);
            self.b.switch_to_block(exact);
            self.b.set_cold_block(exact);
        }
        let max = self.load_ctx(I64, offsets::MAX_CALL_DEPTH, invariant());
        let mut over = self.b.ins().icmp(IntCC::UnsignedGreaterThan, depth, max);
        for (bank, end) in self.frame_ends(callee) {
            let past = self.past_stack_end(bank, end, invariant());
            over = self.b.ins().bor(over, past);
        }
        self.trap_if(over, pc, TrapKind::StackOverflow);
        self.b.ins().jump(checked, &[]);
        self.b.switch_to_block(checked);
        depth
    }

    /// Where a frame of layout `callee` above this one ends, in each bank
    /// it has registers in.
    pub(super) fn frame_ends(&mut self, callee: FrameLayout) -> Vec<(Bank, Value)> {
        let me = self.layout;
        Bank::ALL
            .into_iter()
            .filter(|bank| callee.regs[bank.index()] != 0)
            .map(|bank| {
                let b = bank.index();
                let end = self.b.ins().iadd_imm_s(
                    self.bases[b],
                    Self::slot_offset(me.regs[b] + callee.regs[b]) as i64,
                );
                (bank, end)
            })
            .collect()
    }

    /// Trap at `pc` unless a frame of layout `callee` fits on every register
    /// stack above this one.
    pub(super) fn check_register_stacks(&mut self, pc: u32, callee: FrameLayout) {
        for (bank, end) in self.frame_ends(callee) {
            let over = self.past_stack_end(bank, end, trusted());
            self.trap_if(over, pc, TrapKind::StackOverflow);
        }
    }

    /// Whether frame end `end` lies past the end of `bank`'s register
    /// stack, whose end is loaded with `flags`.
    pub(super) fn past_stack_end(&mut self, bank: Bank, end: Value, flags: MemFlagsData) -> Value {
        let stack_end = self.load_ctx(I64, offsets::stack_end(bank.index()), flags);
        self.b
            .ins()
            .icmp(IntCC::UnsignedGreaterThan, end, stack_end)
    }

    /// Whether a call of `callee` is translated in line: a small function
    /// within the remaining budget that neither allocates, nor prints, nor
    /// calls the host (so no helper needs its frame current), at most
    /// `inline_max_depth` inlined calls deep, so recursion unrolls that many
    /// levels and the calls below stay real calls.
    pub(super) fn inlinable(&self, callee: usize) -> bool {
        self.inline_depth < self.inline_max_depth
            && self.small_leafish(callee, self.inline_budget)
            && self.loop_calls_inline(callee, self.inline_max_depth - self.inline_depth - 1)
    }

    /// Whether `func` is small enough to inline (within `budget` too) and
    /// does nothing that needs its frame current.
    pub(super) fn small_leafish(&self, func: usize, budget: u32) -> bool {
        use Opcode::*;
        let code = &self.module.functions[func].code;
        code.len() <= self.inline_max_ops.min(budget) as usize
            && code.iter().all(|op| {
                !matches!(
                    op.opcode,
                    HostCall
                        | NewI
                        | NewF
                        | NewR
                        | NewB
                        | PrintB
                        | PrintS
                        | PrintI
                        | PrintF
                        | Closure
                        | SNew
                        | CallI
                        | TCall
                        | TCallI
                )
            })
    }

    /// Whether every call inside a loop of `func` would be inlined too, with
    /// `levels` more levels of inlining left. Inlining a function whose
    /// loop calls stay real calls loses: compiled on its own, that function
    /// would inline them (spectralnorm, with 2 levels, ran 8x slower when
    /// `main` inlined the loop of `mul_av` but not its call of `eval_a`).
    pub(super) fn loop_calls_inline(&self, func: usize, levels: u32) -> bool {
        // The walk may look at as many ops as inlining may still add: a
        // function calling itself in a loop many times would otherwise make
        // it exponential in `levels`. Past that, the answer is no.
        let mut ops_left = self.inline_budget;
        self.loop_calls_inline_within(func, levels, &mut ops_left)
    }

    pub(super) fn loop_calls_inline_within(
        &self,
        func: usize,
        levels: u32,
        ops_left: &mut u32,
    ) -> bool {
        let code = &self.module.functions[func].code;
        let Some(left) = ops_left.checked_sub(code.len() as u32) else {
            return false;
        };
        *ops_left = left;
        for ops in loops(code) {
            for op in &code[ops] {
                if op.opcode == Opcode::Call
                    && !(levels > 0
                        && self.small_leafish(op.b.into(), u32::MAX)
                        && self.loop_calls_inline_within(op.b.into(), levels - 1, ops_left))
                {
                    return false;
                }
            }
        }
        true
    }

    /// A call translated in line: the same checks and traps as a real call
    /// (call depth, register stacks; a trap in the callee names the callee
    /// and its op), the callee's registers as fresh Variables, its returns
    /// as jumps to the op after the call. The native stack check goes, as
    /// the native frame does. The callee's frame lies where a real call
    /// would put it and is written only as its own calls need: their
    /// argument slots, and its references (and ours first) for the
    /// collector, which scans the reference stack up to the newest frame.
    pub(super) fn inline_call(&mut self, pc: u32, op: Op) {
        let cl = self.layouts[op.b as usize];
        self.inline_callee(pc, op, cl, None);
    }

    /// Inline `call` (a `call` op: result register, callee, window) of a
    /// callee whose frame, as the call checks it, is `cl`; with `env`, the
    /// callee's `r` register of that index gets that value instead of a
    /// window register (a closure's environment).
    fn inline_callee(&mut self, pc: u32, op: Op, cl: FrameLayout, env: Option<(u32, Value)>) {
        let callee = op.b as usize;
        let depth = self.check_inlined_frame(pc, cl);
        let args = Bank::ALL.map(|bank| {
            (0..cl.params[bank.index()])
                .map(|k| match env {
                    Some((slot, v)) if bank == Bank::R && k == slot => v,
                    _ => self.get(bank, op.c + k as u16),
                })
                .collect::<Vec<_>>()
        });
        let code = &self.module.functions[callee].code;
        self.inline_budget -= code.len() as u32;
        let cont = self.b.create_block();
        if let Some(bank) = cl.result {
            self.b.append_block_param(cont, bank_type(bank));
        }
        let facts = FuncFacts::of(self.module, callee, cl);
        self.meter
            .add(super::budget::body_size(self.module, callee, &facts.used));
        let vars = declare_vars(&mut self.b, cl, &facts.used);
        let blocks: Vec<Block> = (0..code.len()).map(|_| self.b.create_block()).collect();
        let first = blocks[0];
        let callee_bases = self.callee_bases();
        let callee_offsets = std::array::from_fn(|b| {
            self.base_offsets[b] + i64::from(Self::slot_offset(self.layout.regs[b]))
        });
        let caller = (
            self.func,
            self.layout,
            std::mem::replace(&mut self.vars, vars),
            std::mem::replace(&mut self.op_blocks, blocks),
            std::mem::replace(&mut self.facts, facts),
            std::mem::replace(&mut self.bases, callee_bases),
            std::mem::replace(&mut self.base_offsets, callee_offsets),
            std::mem::replace(&mut self.depth, depth),
            self.inline_return.replace(cont),
            std::mem::replace(&mut self.packed, PackedCopy::plan(&mut self.b, code)),
            std::mem::take(&mut self.checked),
            std::mem::take(&mut self.checked_structs),
            std::mem::take(&mut self.local_constants),
            self.in_peel.take(),
        );
        let call_in_loop = self.in_loop(pc);
        let in_loop = std::mem::replace(&mut self.inlined_in_loop, call_in_loop);
        (self.func, self.layout) = (callee as u32, cl);
        self.inline_depth += 1;
        self.define_registers(&args);
        self.clear_untouched_refs();
        self.b.ins().jump(first, &[]);
        for (k, callee_op) in code.iter().enumerate() {
            let block = self.op_blocks[k];
            self.b.switch_to_block(block);
            self.op(k as u32, *callee_op);
        }
        self.packed_copies();
        (
            self.func,
            self.layout,
            self.vars,
            self.op_blocks,
            self.facts,
            self.bases,
            self.base_offsets,
            self.depth,
            self.inline_return,
            self.packed,
            self.checked,
            self.checked_structs,
            self.local_constants,
            self.in_peel,
        ) = caller;
        self.inline_depth -= 1;
        self.inlined_in_loop = in_loop;
        self.b.switch_to_block(cont);
        if op.a != NO_REG
            && let Some(bank) = cl.result
        {
            let v = self.b.block_params(cont)[0];
            self.set(bank, op.a, v);
        }
    }

    /// A host call: its arguments into their frame slots (and every
    /// reference register, which the collector scans if the host function
    /// allocates), the helper, its result back from the frame.
    pub(super) fn host_call(&mut self, pc: u32, op: Op) {
        let sig = &self.module.imports[op.b as usize].sig;
        let mut next = [0u16; 3];
        for &bank in &sig.params {
            let k = op.c + next[bank.index()];
            next[bank.index()] += 1;
            self.flush(bank, k);
        }
        let result = sig.result;
        let frame_refs = self.layout.regs[Bank::R.index()] as u16;
        let site = HostCallSite::of_op(op, frame_refs);
        let packed = self.b.ins().iconst(I64, site.pack());
        let [ib, fb, rb] = self.bases;
        let status = self.call_helper(self.helpers.host_call, &[packed, ib, fb, rb]);
        self.check_status(status, pc);
        if op.a != NO_REG
            && let Some(bank) = result
        {
            let v = self.load_slot(bank, op.a.into());
            self.set(bank, op.a, v);
        }
    }
}
