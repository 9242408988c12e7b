//! Bytecode to Cranelift IR: a pre-pass for loop headers, one block per op,
//! one `Variable` per register.
//!
//! Registers live in Variables between ops; the frame slots are made
//! current only where someone else reads them: every reference register
//! before a call or an allocation (the collector's roots), a host call's
//! arguments, the arguments of a bytecode call (in the callee's slots) and
//! the returned value. At the start the parameters come from the frame and
//! the other registers start at 0; code compiled for entry at a loop header
//! (OSR) takes every register from the frame.

use super::packed_loop::{Bound, Fill, PackedLoop, packed_loops};
use crate::bytecode::op::{FloatBinOp, FloatUnOp, IntBinOp};
use crate::bytecode::{Bank, Cmp, Flow, Module, NO_REG, Op, Opcode, Operand};
use crate::runtime::context::offsets;
use crate::runtime::frame::{FrameLayout, SLOT_SIZE};
use crate::runtime::heap::{
    ARRAY_DATA_OFFSET, ARRAY_KIND_OFFSET, ARRAY_LEN_OFFSET, ArrayHeader, ElemKind, I64_BYTES_KIND,
    I64_BYTES_MAX, NULL_ARRAY_HEADER,
};
use crate::runtime::helpers::HelperAddrs;
use crate::runtime::trap::TrapKind;
use crate::template::magic::Magic;
use crate::template::masm::AluOp;
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::immediates::Ieee64;
use cranelift_codegen::ir::types::{F64, I8, I32, I64};
use cranelift_codegen::ir::{
    AbiParam, Block, ExtFuncData, ExternalName, FuncRef, Function, Inst, InstBuilder, MemFlagsData,
    SigRef, Signature, Type, UserExternalName, UserFuncName, Value,
};
use cranelift_codegen::isa::{TargetFrontendConfig, TargetIsa};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_module::FuncId;

/// `(ctx, i_base, f_base, r_base) -> status` in the ISA's default
/// convention: the same native entry as the template tier.
pub fn native_entry_signature(isa: &dyn TargetIsa) -> Signature {
    let mut sig = Signature::new(isa.default_call_conv());
    sig.params.extend([AbiParam::new(I64); 4]);
    sig.returns.push(AbiParam::new(I32));
    sig
}

/// Where compiled code starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntryPoint {
    /// At op 0, as every call does.
    Start,
    /// At this loop header, with every register taken from the frame
    /// (on-stack replacement). The header must be one of [`loop_headers`].
    LoopHeader(u32),
}

/// The ops of `code` that a backward jump targets: where a loop can be
/// entered from the frame (OSR).
pub fn loop_headers(code: &[Op]) -> Vec<u32> {
    let mut headers: Vec<u32> = loops(code).map(|ops| *ops.start() as u32).collect();
    headers.sort_unstable();
    headers.dedup();
    headers
}

/// The ops of each loop of `code`: from a backward jump's target to the
/// jump.
fn loops(code: &[Op]) -> impl Iterator<Item = std::ops::RangeInclusive<usize>> + '_ {
    code.iter().enumerate().filter_map(|(end, op)| {
        let start = usize::from(op.target()?);
        (start <= end).then_some(start..=end)
    })
}

/// Whether `op` only computes an i64 register from i64 registers and
/// immediates: no trap, no memory, so it may run whether or not it should.
fn computes_int(op: Op) -> bool {
    use Opcode::*;
    matches!(
        op.opcode,
        IConst
            | IConstK
            | Mov
            | Add
            | Sub
            | Mul
            | And
            | Or
            | Xor
            | Shl
            | Shr
            | Ushr
            | AddI
            | SubI
            | MulI
            | AndI
            | OrI
            | XorI
            | ShlI
            | ShrI
            | UshrI
            | Neg
            | Not
            | Eq
            | Ne
            | Lt
            | Le
            | Gt
            | Ge
            | EqI
            | NeI
            | LtI
            | LeI
            | GtI
            | GeI
    )
}

/// A function that starts by returning at once when a test of its
/// arguments holds: `j<cmp>[i] a, b, L` (or `jz`/`jnz`) with a `ret` at
/// either `L` or the next op.
#[derive(Clone, Copy)]
struct EarlyExit {
    /// The test, op 0.
    test: Op,
    /// Whether the function returns when the test's branch is taken (else
    /// when it is not).
    when_taken: bool,
    /// The `ret` it then runs.
    ret: Op,
}

fn early_exit(code: &[Op]) -> Option<EarlyExit> {
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

/// What the translation of a function's ops asks about the function as a
/// whole.
struct FuncFacts {
    /// Which ops a jump targets.
    targeted: Vec<bool>,
    /// Per i64 register, the constant it holds after its only write, an
    /// `iconst` at that op, when that op runs before any branch or jump
    /// target: once past it, control never comes back before it, so every
    /// later read sees the constant (loop.tj's divisors).
    constants: Vec<Option<(u32, i64)>>,
}

impl FuncFacts {
    fn of(module: &Module, code: &[Op], int_regs: u32) -> FuncFacts {
        let mut targeted = vec![false; code.len()];
        for op in code {
            if let Some(t) = op.target() {
                targeted[usize::from(t)] = true;
            }
        }
        let mut writes = vec![0u32; int_regs as usize];
        let mut constants = vec![None; int_regs as usize];
        let mut straight = true;
        for (pc, op) in code.iter().enumerate() {
            straight &= !targeted[pc];
            let fields = op.fields();
            for (kind, reg) in op.opcode.operands().iter().zip(fields) {
                if matches!(kind, Operand::Write(Bank::I) | Operand::CallDst)
                    && let Some(w) = writes.get_mut(usize::from(reg))
                {
                    *w += 1;
                }
            }
            let value = match op.opcode {
                Opcode::IConst => Some(imm(op.b)),
                Opcode::IConstK => Some(module.iconsts[usize::from(op.b)]),
                _ => None,
            };
            if let Some(v) = value.filter(|_| straight) {
                constants[usize::from(op.a)] = Some((pc as u32, v));
            }
            straight &= op.target().is_none();
        }
        for (c, w) in constants.iter_mut().zip(writes) {
            if w != 1 {
                *c = None;
            }
        }
        FuncFacts {
            targeted,
            constants,
        }
    }

    /// The constant i64 register `reg` holds when op `pc` reads it.
    fn constant_at(&self, pc: u32, reg: u16) -> Option<i64> {
        let (at, v) = self.constants.get(usize::from(reg)).copied().flatten()?;
        (pc > at).then_some(v)
    }
}

/// What a translation reads: a verified module, its frame layouts, and the
/// helper addresses calls go to.
#[derive(Clone, Copy)]
pub(super) struct Source<'a> {
    pub module: &'a Module,
    pub layouts: &'a [FrameLayout],
    pub helpers: &'a HelperAddrs,
    /// Calls to functions of at most this many ops may be inlined.
    pub inline_max_ops: u32,
    /// Inlined callees nest at most this deep.
    pub inline_max_depth: u32,
    /// The module's id of the function being compiled, when it is compiled
    /// from its start: its calls of itself then go straight to it.
    pub self_id: Option<FuncId>,
}

/// Translate function `func` into `out` (whose signature is already
/// [`native_entry_signature`]).
pub(super) fn translate(
    out: &mut Function,
    builder_ctx: &mut FunctionBuilderContext,
    src: Source<'_>,
    func: usize,
    entry: EntryPoint,
    frontend: TargetFrontendConfig,
) {
    let module = src.module;
    out.name = UserFuncName::user(0, func as u32);
    let b = FunctionBuilder::new(out, builder_ctx);
    let mut t = Translator::new(b, src, func);
    t.entry(entry);
    let code = &module.functions[func].code;
    for (pc, op) in code.iter().enumerate() {
        let block = t.op_blocks[pc];
        t.b.switch_to_block(block);
        t.op(pc as u32, *op);
    }
    t.packed_copies();
    t.finish(frontend);
}

/// Frame slots and context fields: plain, aligned, never faulting.
fn trusted() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// Memory no op writes while a function runs (the addresses of the function
/// table and the interrupt flag, array headers read through a never-null
/// address): loads of it are pure, so Cranelift may merge them and hoist
/// them out of loops.
fn invariant() -> MemFlagsData {
    MemFlagsData::trusted().with_readonly().with_can_move()
}

fn imm(field: u16) -> i64 {
    field as i16 as i64
}

fn int_cc(cmp: Cmp) -> IntCC {
    match cmp {
        Cmp::Eq => IntCC::Equal,
        Cmp::Ne => IntCC::NotEqual,
        Cmp::Lt => IntCC::SignedLessThan,
        Cmp::Le => IntCC::SignedLessThanOrEqual,
        Cmp::Gt => IntCC::SignedGreaterThan,
        Cmp::Ge => IntCC::SignedGreaterThanOrEqual,
    }
}

/// IEEE compares: ordered ones are false on NaN, `NotEqual` is true.
fn float_cc(cmp: Cmp) -> FloatCC {
    match cmp {
        Cmp::Eq => FloatCC::Equal,
        Cmp::Ne => FloatCC::NotEqual,
        Cmp::Lt => FloatCC::LessThan,
        Cmp::Le => FloatCC::LessThanOrEqual,
        Cmp::Gt => FloatCC::GreaterThan,
        Cmp::Ge => FloatCC::GreaterThanOrEqual,
    }
}

/// A function inlines at most this many times `inline_max_ops` ops in all:
/// a `main` calling 3,000 small leaves once each (programs/mixed.tj) took
/// 6x longer to compile with every call inlined.
const INLINE_BUDGET_FACTOR: u32 = 8;

/// Whatever the settings, a function inlines at most this many ops in all,
/// so that no setting makes a compile run for minutes: with every limit
/// raised, fib compiled for over 10 minutes with a cap of 65,536 ops, and
/// takes about a second with this one (16 times the default budget).
const MAX_INLINE_BUDGET: u32 = 1 << 12;

/// How many checked accesses the translator remembers (see
/// `Translator::checked`): a straight run of ops is short, and a long one
/// would make each access's lookup long.
const MAX_CHECKED: usize = 16;

/// One Variable per register of a frame of `layout`.
fn declare_vars(b: &mut FunctionBuilder<'_>, layout: FrameLayout) -> [Vec<Variable>; 3] {
    Bank::ALL.map(|bank| {
        (0..layout.regs[bank.index()])
            .map(|_| b.declare_var(bank_type(bank)))
            .collect()
    })
}

fn bank_type(bank: Bank) -> Type {
    match bank {
        Bank::F => F64,
        Bank::I | Bank::R => I64,
    }
}

/// Whether every frame that this function's calls make fits, computed once
/// on entry against the largest need of any call site (call depth, and the
/// frame's end in each register stack): then a call skips its own depth and
/// register-stack checks, and only when it does not fit does a call site
/// run them, on a cold path, to trap exactly where the interpreter does.
/// The largest need is known only when translation ends, so it is written
/// into placeholder constants then.
struct FrameRoom {
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
    fn new(b: &mut FunctionBuilder<'_>, ctx: Value, bases: [Value; 3], depth: Value) -> FrameRoom {
        let depth_need = b.ins().iconst(I64, 0);
        let deepest = b.ins().iadd(depth, depth_need);
        let max = b.ins().load(I64, invariant(), ctx, offsets::MAX_CALL_DEPTH);
        let mut fits = b.ins().icmp(IntCC::UnsignedLessThanOrEqual, deepest, max);
        let end_need = Bank::ALL.map(|bank| {
            let need = b.ins().iconst(I64, 0);
            let end = b.ins().iadd(bases[bank.index()], need);
            let stack_end = b.ins().load(
                I64,
                invariant(),
                ctx,
                offsets::STACK_END + 8 * bank.index() as i32,
            );
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
    fn finish(&self, func: &mut Function) {
        func.replace(self.depth_need).iconst(I64, self.max_depth);
        for b in 0..3 {
            func.replace(self.end_need[b]).iconst(I64, self.max_end[b]);
            if self.max_end[b] == 0 {
                func.replace(self.end_fits[b]).iconst(I8, 1);
            }
        }
    }
}

/// A loop's copy for byte-packed arrays (see [`super::packed_loop`]).
struct PackedCopy {
    plan: PackedLoop,
    /// Where the loop is entered from outside: it tests the arrays' kinds,
    /// then goes to the copy or the ordinary loop.
    guard: Block,
    /// The copy's op blocks, from the loop's header on.
    blocks: Vec<Block>,
    /// The lengths of `plan.arrays`, loaded in the guard.
    lens: Vec<Value>,
}

impl PackedCopy {
    /// The packed copies of `code`'s loops, with their blocks.
    fn plan(b: &mut FunctionBuilder<'_>, code: &[Op]) -> Vec<PackedCopy> {
        packed_loops(code)
            .into_iter()
            .map(|plan| PackedCopy {
                guard: b.create_block(),
                blocks: plan.ops.clone().map(|_| b.create_block()).collect(),
                lens: Vec::new(),
                plan,
            })
            .collect()
    }
}

struct Translator<'a, 'f> {
    b: FunctionBuilder<'f>,
    module: &'a Module,
    layouts: &'a [FrameLayout],
    helpers: &'a HelperAddrs,
    inline_max_ops: u32,
    inline_max_depth: u32,
    /// How many inlined callees enclose the op being translated.
    inline_depth: u32,
    /// Whether the call that inlined the current callee runs in a loop
    /// (of its function, or of one that inlined it).
    inlined_in_loop: bool,
    /// Ops that calls may still inline into this function: Cranelift's
    /// compile time grows faster than linearly with a function's size.
    inline_budget: u32,
    /// The function whose ops are being translated: the compiled one, or a
    /// callee inlined into it (as are `layout`, `vars` and `op_blocks`).
    func: u32,
    layout: FrameLayout,
    ctx: Value,
    bases: [Value; 3],
    /// Where `bases` lie past the compiled function's: 0, or in an inlined
    /// callee the frames of its inlined callers.
    base_offsets: [i64; 3],
    /// This activation's call depth, read from the context on entry.
    depth: Value,
    room: FrameRoom,
    /// Where the interrupt flag lives, read from the context on entry of a
    /// function with loops or calls: its polls then load only the flag.
    /// (As a pure load at each poll, Cranelift placed it inside the loops:
    /// sieve 8% slower.) None in a function with neither, where the load
    /// would stay unused: an inlined callee's polls load the address.
    interrupt_flag: Option<Value>,
    vars: [Vec<Variable>; 3],
    op_blocks: Vec<Block>,
    /// About the function whose ops are being translated.
    facts: FuncFacts,
    /// The loops of the function being translated (compiled or inlined)
    /// that have a packed copy.
    packed: Vec<PackedCopy>,
    /// Which of them is being translated, if any.
    in_copy: Option<usize>,
    /// The f64 and reference accesses (array, index, kind) that every path
    /// to the op being translated has checked since the last jump target,
    /// with neither register written since: the same access again needs
    /// no check, as no such array changes its kind or length (nbody's
    /// `vx[j] += ...` reads and writes one element). At most
    /// [`MAX_CHECKED`], the latest.
    checked: Vec<(u16, u16, ElemKind)>,
    /// Params (kind: i32, pc: i32, func: i32): fill the trap record and
    /// return kind.
    trap_block: Block,
    /// In an inlined callee: where its returns go (with the result as the
    /// block's parameter, if it has one).
    inline_return: Option<Block>,
    /// Param (status: i32): a callee trapped; its record is filled.
    propagate_block: Block,
    entry_sig: SigRef,
    /// The compiled function (its index, and its reference when compiled
    /// from its start), for direct recursive calls.
    self_ref: (u32, Option<FuncRef>),
    /// Helper signatures by argument count (all i64 -> i64).
    helper_sigs: Vec<Option<SigRef>>,
}

impl<'a, 'f> Translator<'a, 'f> {
    fn new(mut b: FunctionBuilder<'f>, src: Source<'a>, func: usize) -> Self {
        let Source {
            module,
            layouts,
            helpers,
            inline_max_ops,
            inline_max_depth,
            self_id,
        } = src;
        let layout = layouts[func];
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let params = b.block_params(entry).to_vec();
        let (ctx, bases) = (params[0], [params[1], params[2], params[3]]);
        let depth = b.ins().load(I64, trusted(), ctx, offsets::CALL_DEPTH);
        let room = FrameRoom::new(&mut b, ctx, bases, depth);
        let code = &module.functions[func].code;
        let polls = loops(code).next().is_some() || code.iter().any(|op| op.opcode == Opcode::Call);
        let interrupt_flag = polls.then(|| b.ins().load(I64, trusted(), ctx, offsets::INTERRUPT));
        let vars = declare_vars(&mut b, layout);
        let op_blocks = (0..code.len()).map(|_| b.create_block()).collect();
        let packed = PackedCopy::plan(&mut b, code);
        let trap_block = b.create_block();
        for _ in 0..3 {
            b.append_block_param(trap_block, I32);
        }
        b.set_cold_block(trap_block);
        let propagate_block = b.create_block();
        b.append_block_param(propagate_block, I32);
        b.set_cold_block(propagate_block);
        let entry_sig = b.import_signature(b.func.signature.clone());
        let self_ref = self_id.map(|id| {
            let name = b
                .func
                .declare_imported_user_function(UserExternalName::new(0, id.as_u32()));
            b.import_function(ExtFuncData {
                name: ExternalName::user(name),
                signature: entry_sig,
                colocated: true,
                patchable: false,
            })
        });
        Translator {
            b,
            module,
            layouts,
            helpers,
            inline_max_ops,
            inline_max_depth,
            inline_depth: 0,
            inlined_in_loop: false,
            inline_budget: inline_max_ops
                .saturating_mul(INLINE_BUDGET_FACTOR)
                .min(MAX_INLINE_BUDGET),
            func: func as u32,
            layout,
            ctx,
            bases,
            base_offsets: [0; 3],
            depth,
            room,
            interrupt_flag,
            vars,
            op_blocks,
            facts: FuncFacts::of(module, code, layout.regs[Bank::I.index()]),
            packed,
            in_copy: None,
            checked: Vec::new(),
            trap_block,
            inline_return: None,
            propagate_block,
            entry_sig,
            self_ref: (func as u32, self_ref),
            helper_sigs: Vec::new(),
        }
    }

    fn var(&self, bank: Bank, reg: u16) -> Variable {
        self.vars[bank.index()][reg as usize]
    }

    fn get(&mut self, bank: Bank, reg: u16) -> Value {
        let v = self.var(bank, reg);
        self.b.use_var(v)
    }

    fn set(&mut self, bank: Bank, reg: u16, val: Value) {
        let v = self.var(bank, reg);
        self.b.def_var(v, val);
    }

    fn slot_offset(slot: u32) -> i32 {
        // Register counts are u16, so slot offsets fit i32.
        (slot as usize * SLOT_SIZE) as i32
    }

    fn load_slot(&mut self, bank: Bank, slot: u32) -> Value {
        let base = self.bases[bank.index()];
        self.b
            .ins()
            .load(bank_type(bank), trusted(), base, Self::slot_offset(slot))
    }

    fn store_slot(&mut self, bank: Bank, slot: u32, val: Value) {
        let base = self.bases[bank.index()];
        self.b
            .ins()
            .store(trusted(), val, base, Self::slot_offset(slot));
    }

    /// Store register `reg` into its frame slot.
    fn flush(&mut self, bank: Bank, reg: u16) {
        let v = self.get(bank, reg);
        self.store_slot(bank, reg.into(), v);
    }

    /// Make every reference slot current: the collector scans them.
    fn flush_refs(&mut self) {
        for k in 0..self.layout.regs[Bank::R.index()] {
            self.flush(Bank::R, k as u16);
        }
    }

    fn load_ctx(&mut self, ty: Type, offset: i32, flags: MemFlagsData) -> Value {
        self.b.ins().load(ty, flags, self.ctx, offset)
    }

    /// When `cond` holds, trap at `pc` with the status `status` computes.
    /// It runs in a cold block of its own, so the trap's constants stay off
    /// the hot path: that is a compare and a branch.
    fn trap_if_with(&mut self, cond: Value, pc: u32, status: impl FnOnce(&mut Self) -> Value) {
        let (cold, cont) = (self.b.create_block(), self.b.create_block());
        self.b.ins().brif(cond, cold, &[], cont, &[]);
        self.b.switch_to_block(cold);
        self.b.set_cold_block(cold);
        let status = status(self);
        self.jump_to_trap_status(pc, status);
        self.b.switch_to_block(cont);
    }

    /// Trap with `kind` at `pc` when `cond` holds.
    fn trap_if(&mut self, cond: Value, pc: u32, kind: TrapKind) {
        self.trap_if_with(cond, pc, |t| t.status(kind));
    }

    /// `kind` as the i32 status functions return.
    fn status(&mut self, kind: TrapKind) -> Value {
        self.b.ins().iconst(I32, i64::from(kind.code()))
    }

    /// End the current block in the trap block, with `status` at `pc`.
    fn jump_to_trap_status(&mut self, pc: u32, status: Value) {
        self.jump_to_trap_in(self.func, pc, status);
    }

    /// End the current block in the trap block, with `status` at `pc` of
    /// function `func`.
    fn jump_to_trap_in(&mut self, func: u32, pc: u32, status: Value) {
        let pcv = self.b.ins().iconst(I32, i64::from(pc));
        let funcv = self.b.ins().iconst(I32, i64::from(func));
        self.b
            .ins()
            .jump(self.trap_block, &[status.into(), pcv.into(), funcv.into()]);
    }

    /// The entry block. At the start, the parameters come from the frame
    /// and the other registers start at 0, 0.0 and null. At a loop header
    /// every register comes from the frame and control goes straight to the
    /// header: the code before it is unreachable and dropped, and the loop
    /// has one entry, so what it does not change stays loop-invariant.
    fn entry(&mut self, entry: EntryPoint) {
        let (target, from_frame) = match entry {
            EntryPoint::Start => (0, self.layout.params),
            EntryPoint::LoopHeader(h) => (h as usize, self.layout.regs),
        };
        let values = Bank::ALL.map(|bank| {
            (0..from_frame[bank.index()])
                .map(|k| self.load_slot(bank, k))
                .collect::<Vec<_>>()
        });
        self.define_registers(&values);
        let to = self.target_block(None, target);
        self.b.ins().jump(to, &[]);
    }

    /// The block a jump from op `from` (None: from the entry) to op `to`
    /// goes to: in a packed copy, the copy's op if it is in the loop; from
    /// outside a loop with a packed copy to its header, the guard that
    /// picks a copy; else the op's block.
    fn target_block(&self, from: Option<usize>, to: usize) -> Block {
        for (k, copy) in self.packed.iter().enumerate() {
            let ops = &copy.plan.ops;
            if self.in_copy == Some(k) && ops.contains(&to) {
                return copy.blocks[to - ops.start()];
            }
            if to == *ops.start() && !from.is_some_and(|pc| ops.contains(&pc)) {
                return copy.guard;
            }
        }
        self.op_blocks[to]
    }

    /// Each loop's guard and packed copy: the guard goes to the copy (or
    /// first the fill) when every array the copy assumes byte-packed is,
    /// else to the ordinary loop. (Null has the null header's kind, 0.)
    fn packed_copies(&mut self) {
        let code = &self.module.functions[self.func as usize].code;
        for k in 0..self.packed.len() {
            let (guard, first) = (self.packed[k].guard, self.packed[k].blocks[0]);
            let ops = self.packed[k].plan.ops.clone();
            let ordinary = self.op_blocks[*ops.start()];
            self.b.switch_to_block(guard);
            let mut all_packed = self.b.ins().iconst(I8, 1);
            let mut lens = Vec::new();
            for a in self.packed[k].plan.arrays.clone() {
                let (_, _, header) = self.array_header(a);
                let kind = self
                    .b
                    .ins()
                    .load(I32, trusted(), header, ARRAY_KIND_OFFSET as i32);
                let packed = self
                    .b
                    .ins()
                    .icmp_imm_s(IntCC::Equal, kind, i64::from(I64_BYTES_KIND));
                all_packed = self.b.ins().band(all_packed, packed);
                let len = self
                    .b
                    .ins()
                    .load(I64, invariant(), header, ARRAY_LEN_OFFSET as i32);
                lens.push(len);
            }
            self.packed[k].lens = lens;
            let fill = self.packed[k].plan.fill;
            let fill_block = fill.map(|_| self.b.create_block());
            let start = fill_block.unwrap_or(first);
            self.b.ins().brif(all_packed, start, &[], ordinary, &[]);
            if let (Some(fill), Some(block)) = (fill, fill_block) {
                // The loop clears the checked accesses at its header, so
                // the op after it expects none, and this path has made none.
                let exit = self.target_block(Some(*ops.end()), ops.end() + 1);
                let len = self.packed_len(k, fill.array);
                self.b.switch_to_block(block);
                self.fill(fill, len, exit, first);
            }
            self.in_copy = Some(k);
            for pc in ops {
                let block = self.target_block(Some(pc), pc);
                self.b.switch_to_block(block);
                self.op(pc as u32, code[pc]);
            }
            self.in_copy = None;
        }
    }

    /// The length of array register `array` in packed copy `k` (one of
    /// the copy's arrays).
    fn packed_len(&self, k: usize, array: u16) -> Value {
        let copy = &self.packed[k];
        let at = copy.plan.arrays.iter().position(|&a| a == array);
        copy.lens[at.unwrap_or(0)]
    }

    /// In a packed copy, the length of the array an i64 access goes
    /// through, when the copy assumes that array byte-packed.
    fn packed_access_len(&self, op: Op) -> Option<Value> {
        let k = self.in_copy?;
        let array = if op.opcode == Opcode::GetI {
            op.b
        } else {
            op.a
        };
        self.packed[k]
            .plan
            .arrays
            .contains(&array)
            .then(|| self.packed_len(k, array))
    }

    /// An i64 access in a packed copy, to an array known to be byte-packed
    /// and of length `len`: an index in bounds (and for a store, a value
    /// that fits a byte) takes one compare; anything else goes to the same
    /// op in the ordinary loop, which traps or widens.
    fn packed_access(&mut self, pc: u32, op: Op, len: Value) {
        let store = op.opcode == Opcode::SetI;
        let (array, index) = if store { (op.a, op.b) } else { (op.b, op.c) };
        let idx = self.get(Bank::I, index);
        let mut slow = self
            .b
            .ins()
            .icmp(IntCC::UnsignedGreaterThanOrEqual, idx, len);
        let value = store.then(|| self.get(Bank::I, op.c));
        if let Some(v) = value {
            let wide = self
                .b
                .ins()
                .icmp_imm_s(IntCC::UnsignedGreaterThan, v, I64_BYTES_MAX);
            slow = self.b.ins().bor(slow, wide);
        }
        let cont = self.b.create_block();
        let ordinary = self.op_blocks[pc as usize];
        self.b.ins().brif(slow, ordinary, &[], cont, &[]);
        self.b.switch_to_block(cont);
        let r = self.get(Bank::R, array);
        let addr = self.b.ins().iadd(r, idx);
        let offset = ARRAY_DATA_OFFSET as i32;
        match value {
            Some(v) => {
                self.b.ins().istore8(trusted(), v, addr, offset);
            }
            None => {
                let v = self.b.ins().uload8(I64, trusted(), addr, offset);
                self.set(Bank::I, op.a, v);
            }
        }
    }

    /// A fill loop (see [`Fill`]) at once, when it stays in bounds (it
    /// stores from its index up to the bound, at least once) and its value
    /// fits a byte: one `memset`, and the index left where the loop leaves
    /// it; then on to `exit`. Otherwise on to the copy's loop at `copy`.
    /// A fill is bounded by the array's length, so it polls no interrupt.
    fn fill(&mut self, fill: Fill, len: Value, exit: Block, copy: Block) {
        let first = self.get(Bank::I, fill.index);
        let last = match fill.bound {
            Bound::Reg(n) => {
                let n = self.get(Bank::I, n);
                if fill.inclusive {
                    n
                } else {
                    // Wraps for i64::MIN, which then fails `last < len`.
                    self.b.ins().iadd_imm_s(n, -1)
                }
            }
            Bound::Imm(n) => self.b.ins().iconst(I64, n - i64::from(!fill.inclusive)),
        };
        let v = self.get(Bank::I, fill.value);
        let b = &mut self.b;
        let from_zero = b
            .ins()
            .icmp_imm_s(IntCC::SignedGreaterThanOrEqual, first, 0);
        let ordered = b.ins().icmp(IntCC::SignedLessThanOrEqual, first, last);
        let in_bounds = b.ins().icmp(IntCC::SignedLessThan, last, len);
        let fits = b
            .ins()
            .icmp_imm_s(IntCC::UnsignedLessThanOrEqual, v, I64_BYTES_MAX);
        let ok = [ordered, in_bounds, fits]
            .into_iter()
            .fold(from_zero, |ok, c| b.ins().band(ok, c));
        let do_fill = self.b.create_block();
        self.b.ins().brif(ok, do_fill, &[], copy, &[]);
        self.b.switch_to_block(do_fill);
        let r = self.get(Bank::R, fill.array);
        let start = self.b.ins().iadd(r, first);
        let start = self.b.ins().iadd_imm_s(start, ARRAY_DATA_OFFSET as i64);
        let count = self.b.ins().isub(last, first);
        let count = self.b.ins().iadd_imm_s(count, 1);
        self.call_helper(self.helpers.fill_bytes, &[start, v, count]);
        let next = self.b.ins().iadd_imm_s(last, 1);
        self.set(Bank::I, fill.index, next);
        self.b.ins().jump(exit, &[]);
    }

    /// The interrupt flag's current value (an i8).
    fn interrupt_flag(&mut self) -> Value {
        let flag_ptr = match self.interrupt_flag {
            Some(ptr) => ptr,
            None => self.load_ctx(I64, offsets::INTERRUPT, invariant()),
        };
        self.b.ins().load(I8, trusted(), flag_ptr, 0)
    }

    /// The shared exits, then seal everything.
    fn finish(mut self, frontend: TargetFrontendConfig) {
        self.b.switch_to_block(self.trap_block);
        let p = self.b.block_params(self.trap_block).to_vec();
        let (kind, pc, func) = (p[0], p[1], p[2]);
        self.b
            .ins()
            .store(trusted(), kind, self.ctx, offsets::TRAP_KIND);
        self.b
            .ins()
            .store(trusted(), pc, self.ctx, offsets::TRAP_PC);
        self.b
            .ins()
            .store(trusted(), func, self.ctx, offsets::TRAP_FUNC);
        self.b.ins().return_(&[kind]);

        self.b.switch_to_block(self.propagate_block);
        let status = self.b.block_params(self.propagate_block)[0];
        self.b.ins().return_(&[status]);

        self.room.finish(self.b.func);
        self.b.seal_all_blocks();
        self.b.finalize(frontend);
    }

    /// A back-edge polls the interrupt flag before its op computes the
    /// branch condition, so the compare stays fused with the branch and
    /// the branch goes straight to the loop header: a poll in a block of its
    /// own between them cost a taken jump per iteration. The poll also runs
    /// when the loop exits; an interrupt is asynchronous, so trapping there
    /// is as right as trapping at the next back-edge or call.
    fn poll_at_back_edge(&mut self, pc: u32, op: Op) {
        if op.target().is_some_and(|t| u32::from(t) <= pc) {
            let flag = self.interrupt_flag();
            self.trap_if(flag, pc, TrapKind::Interrupted);
        }
    }

    fn next_block(&self, pc: u32) -> Block {
        self.target_block(Some(pc as usize), pc as usize + 1)
    }

    /// A helper call: `(ctx, args...) -> u64` at an absolute address.
    fn call_helper(&mut self, addr: usize, args: &[Value]) -> Value {
        let n = args.len() + 1;
        if self.helper_sigs.len() <= n {
            self.helper_sigs.resize(n + 1, None);
        }
        let sig = match self.helper_sigs[n] {
            Some(s) => s,
            None => {
                let mut sig = Signature::new(self.b.func.signature.call_conv);
                sig.params
                    .extend(std::iter::repeat_n(AbiParam::new(I64), n));
                sig.returns.push(AbiParam::new(I64));
                let s = self.b.import_signature(sig);
                self.helper_sigs[n] = Some(s);
                s
            }
        };
        let callee = self.b.ins().iconst(I64, addr as i64);
        let mut all = Vec::with_capacity(n);
        all.push(self.ctx);
        all.extend_from_slice(args);
        let call = self.b.ins().call_indirect(sig, callee, &all);
        self.b.inst_results(call)[0]
    }

    /// Trap with the status a helper returned, unless it is 0.
    fn check_status(&mut self, status: Value, pc: u32) {
        let status = self.b.ins().ireduce(I32, status);
        self.trap_if_with(status, pc, |_| status);
    }

    fn op(&mut self, pc: u32, op: Op) {
        if self.facts.targeted[pc as usize] {
            self.checked.clear();
        }
        self.poll_at_back_edge(pc, op);
        self.op_effect(pc, op);
        self.forget_checks_of_written(op);
        if matches!(op.opcode.flow(), Flow::Next) {
            let next = self.next_block(pc);
            self.b.ins().jump(next, &[]);
        }
    }

    /// What op `pc` does, short of going on to the next op.
    fn op_effect(&mut self, pc: u32, op: Op) {
        use Opcode::*;
        match op.opcode {
            Nop => {}
            IConst => {
                let v = self.b.ins().iconst(I64, imm(op.b));
                self.set(Bank::I, op.a, v);
            }
            IConstK => {
                let v = self.b.ins().iconst(I64, self.module.iconsts[op.b as usize]);
                self.set(Bank::I, op.a, v);
            }
            FConst => {
                let bits = self.module.fconsts[op.b as usize];
                let v = self.b.ins().f64const(Ieee64::with_bits(bits));
                self.set(Bank::F, op.a, v);
            }
            RNull => {
                let v = self.b.ins().iconst(I64, 0);
                self.set(Bank::R, op.a, v);
            }
            Mov | FMov | RMov => {
                let bank = op.opcode.transfer_bank().unwrap_or(Bank::I);
                let v = self.get(bank, op.b);
                self.set(bank, op.a, v);
            }
            Add | Sub | Mul | And | Or | Xor | Shl | Shr | Ushr => {
                let y = self.get(Bank::I, op.c);
                self.int_binop(op, y);
            }
            // x * 3, 5 or 9 as x + (x << k): one `lea` on x86-64 (1 cycle
            // where `imul` takes 3; loop.tj's accumulator chain).
            MulI if matches!(imm(op.c), 3 | 5 | 9) => {
                let x = self.get(Bank::I, op.b);
                let k = i64::from((imm(op.c) - 1).trailing_zeros());
                let shifted = self.b.ins().ishl_imm_u(x, k);
                let v = self.b.ins().iadd(x, shifted);
                self.set(Bank::I, op.a, v);
            }
            AddI | SubI | MulI | AndI | OrI | XorI | ShlI | ShrI | UshrI => {
                let y = self.b.ins().iconst(I64, imm(op.c));
                self.int_binop(op, y);
            }
            Div | Rem => match self.facts.constant_at(pc, op.c) {
                Some(d) => self.division_by_constant(pc, op, d),
                None => {
                    let y = self.get(Bank::I, op.c);
                    self.division(pc, op, y);
                }
            },
            DivI | RemI => self.division_by_constant(pc, op, imm(op.c)),
            Neg => {
                let x = self.get(Bank::I, op.b);
                let v = self.b.ins().ineg(x);
                self.set(Bank::I, op.a, v);
            }
            Not => {
                let x = self.get(Bank::I, op.b);
                let v = self.b.ins().bnot(x);
                self.set(Bank::I, op.a, v);
            }
            Eq | Ne | Lt | Le | Gt | Ge => {
                let y = self.get(Bank::I, op.c);
                self.compare(op, y);
            }
            EqI | NeI | LtI | LeI | GtI | GeI => {
                let y = self.b.ins().iconst(I64, imm(op.c));
                self.compare(op, y);
            }
            JEq | JNe | JLt | JLe | JGt | JGe => {
                let y = self.get(Bank::I, op.b);
                self.compare_and_branch(pc, op, y);
            }
            JEqI | JNeI | JLtI | JLeI | JGtI | JGeI => {
                let y = self.b.ins().iconst(I64, imm(op.b));
                self.compare_and_branch(pc, op, y);
            }
            FAdd | FSub | FMul | FDiv => {
                let x = self.get(Bank::F, op.b);
                let y = self.get(Bank::F, op.c);
                let ins = self.b.ins();
                let v = match op.opcode.float_binop() {
                    Some(FloatBinOp::Sub) => ins.fsub(x, y),
                    Some(FloatBinOp::Mul) => ins.fmul(x, y),
                    Some(FloatBinOp::Div) => ins.fdiv(x, y),
                    _ => ins.fadd(x, y),
                };
                self.set(Bank::F, op.a, v);
            }
            FNeg | FAbs | FSqrt | FFloor => {
                let x = self.get(Bank::F, op.b);
                let ins = self.b.ins();
                let v = match op.opcode.float_unop() {
                    Some(FloatUnOp::Abs) => ins.fabs(x),
                    Some(FloatUnOp::Sqrt) => ins.sqrt(x),
                    Some(FloatUnOp::Floor) => ins.floor(x),
                    _ => ins.fneg(x),
                };
                self.set(Bank::F, op.a, v);
            }
            FEq | FNe | FLt | FLe | FGt | FGe => {
                let cc = float_cc(op.opcode.cmp().unwrap_or(Cmp::Eq));
                let x = self.get(Bank::F, op.b);
                let y = self.get(Bank::F, op.c);
                let c = self.b.ins().fcmp(cc, x, y);
                let v = self.b.ins().uextend(I64, c);
                self.set(Bank::I, op.a, v);
            }
            FJEq | FJNe | FJLt | FJLe | FJGt | FJGe => {
                let cc = float_cc(op.opcode.cmp().unwrap_or(Cmp::Eq));
                let x = self.get(Bank::F, op.a);
                let y = self.get(Bank::F, op.b);
                let c = self.b.ins().fcmp(cc, x, y);
                self.branch(pc, c, op.c);
            }
            I2F => {
                let x = self.get(Bank::I, op.b);
                let v = self.b.ins().fcvt_from_sint(F64, x);
                self.set(Bank::F, op.a, v);
            }
            F2I => {
                // Saturating, NaN to 0: Rust's `as`.
                let x = self.get(Bank::F, op.b);
                let v = self.b.ins().fcvt_to_sint_sat(I64, x);
                self.set(Bank::I, op.a, v);
            }
            Jmp => {
                let to = self.target_block(Some(pc as usize), op.a.into());
                self.b.ins().jump(to, &[]);
            }
            Jz | Jnz => {
                let x = self.get(Bank::I, op.a);
                let c = if op.opcode == Jz {
                    self.b.ins().icmp_imm_s(IntCC::Equal, x, 0)
                } else {
                    self.b.ins().icmp_imm_s(IntCC::NotEqual, x, 0)
                };
                self.branch(pc, c, op.b);
            }
            Call if self.inlinable(op.b.into()) => self.inline_call(pc, op),
            Call => match early_exit(&self.module.functions[op.b as usize].code) {
                Some(exit) => self.call_with_early_exit(pc, op, exit),
                None => self.call(pc, op),
            },
            HostCall => self.host_call(pc, op),
            Ret | RetI | RetF | RetR => {
                let result = op
                    .opcode
                    .transfer_bank()
                    .map(|bank| (bank, self.get(bank, op.a)));
                if let Some(cont) = self.inline_return {
                    let args: Vec<_> = result.iter().map(|&(_, v)| v.into()).collect();
                    self.b.ins().jump(cont, &args);
                } else {
                    if let Some((bank, v)) = result {
                        self.store_slot(bank, 0, v);
                    }
                    let ok = self.b.ins().iconst(I32, 0);
                    self.b.ins().return_(&[ok]);
                }
            }
            NewI | NewF | NewR => {
                let (_, kind) = ElemKind::of_op(op.opcode);
                self.flush_refs();
                let len = self.get(Bank::I, op.b);
                let kind = self.b.ins().iconst(I64, kind as i64);
                let rb = self.bases[Bank::R.index()];
                let out = self
                    .b
                    .ins()
                    .iadd_imm_s(rb, Self::slot_offset(op.a.into()) as i64);
                let top_slot = self.layout.regs[Bank::R.index()];
                let top = self
                    .b
                    .ins()
                    .iadd_imm_s(rb, Self::slot_offset(top_slot) as i64);
                let status = self.call_helper(self.helpers.new_array, &[kind, len, out, top]);
                self.check_status(status, pc);
                let v = self.load_slot(Bank::R, op.a.into());
                self.set(Bank::R, op.a, v);
            }
            Len => {
                let (_, is_null, header) = self.array_header(op.b);
                self.trap_if(is_null, pc, TrapKind::NullReference);
                let len = self
                    .b
                    .ins()
                    .load(I64, invariant(), header, ARRAY_LEN_OFFSET as i32);
                self.set(Bank::I, op.a, len);
            }
            GetI | SetI if let Some(len) = self.packed_access_len(op) => {
                self.packed_access(pc, op, len);
            }
            GetI => {
                let v = self.i64_access(
                    pc,
                    op.b,
                    op.c,
                    |t, r, idx| {
                        let addr = t.b.ins().iadd(r, idx);
                        let v =
                            t.b.ins()
                                .uload8(I64, trusted(), addr, ARRAY_DATA_OFFSET as i32);
                        Some(v)
                    },
                    |t, r, idx| {
                        let addr = t.wide_element(r, idx);
                        let v =
                            t.b.ins()
                                .load(I64, trusted(), addr, ARRAY_DATA_OFFSET as i32);
                        Some(v)
                    },
                );
                if let Some(v) = v {
                    self.set(Bank::I, op.a, v);
                }
            }
            SetI => {
                let v = self.get(Bank::I, op.c);
                self.i64_access(
                    pc,
                    op.a,
                    op.b,
                    |t, r, idx| {
                        let (fits_block, widen_block) = (t.b.create_block(), t.b.create_block());
                        let join = t.b.create_block();
                        let fits =
                            t.b.ins()
                                .icmp_imm_s(IntCC::UnsignedLessThanOrEqual, v, I64_BYTES_MAX);
                        t.b.ins().brif(fits, fits_block, &[], widen_block, &[]);
                        t.b.switch_to_block(fits_block);
                        let addr = t.b.ins().iadd(r, idx);
                        t.b.ins()
                            .istore8(trusted(), v, addr, ARRAY_DATA_OFFSET as i32);
                        t.b.ins().jump(join, &[]);
                        t.b.switch_to_block(widen_block);
                        t.b.set_cold_block(widen_block);
                        t.call_helper(t.helpers.widen_set_i64, &[r, idx, v]);
                        t.b.ins().jump(join, &[]);
                        t.b.switch_to_block(join);
                        None
                    },
                    |t, r, idx| {
                        let addr = t.wide_element(r, idx);
                        t.b.ins()
                            .store(trusted(), v, addr, ARRAY_DATA_OFFSET as i32);
                        None
                    },
                );
            }
            GetF | GetR => {
                let (bank, kind) = ElemKind::of_op(op.opcode);
                let (r, idx) = self.element(pc, op.b, op.c, kind);
                let addr = self.wide_element(r, idx);
                let v =
                    self.b
                        .ins()
                        .load(bank_type(bank), trusted(), addr, ARRAY_DATA_OFFSET as i32);
                self.set(bank, op.a, v);
            }
            SetF | SetR => {
                let (bank, kind) = ElemKind::of_op(op.opcode);
                let (r, idx) = self.element(pc, op.a, op.b, kind);
                let addr = self.wide_element(r, idx);
                let v = self.get(bank, op.c);
                self.b
                    .ins()
                    .store(trusted(), v, addr, ARRAY_DATA_OFFSET as i32);
            }
            PrintS => {
                let idx = self.b.ins().iconst(I64, i64::from(op.a));
                self.call_helper(self.helpers.print_str, &[idx]);
            }
            PrintI => {
                let v = self.get(Bank::I, op.a);
                self.call_helper(self.helpers.print_i64, &[v]);
            }
            PrintF => {
                let v = self.get(Bank::F, op.a);
                let bits = self.b.ins().bitcast(I64, MemFlagsData::new(), v);
                let digits = self.b.ins().iconst(I64, i64::from(op.b));
                self.call_helper(self.helpers.print_f64, &[bits, digits]);
            }
        }
    }

    /// Drop the checked accesses whose array or index register `op`
    /// writes.
    fn forget_checks_of_written(&mut self, op: Op) {
        for (kind, reg) in op.opcode.operands().iter().zip(op.fields()) {
            let (array, index) = match kind {
                Operand::Write(Bank::R) => (true, false),
                Operand::Write(Bank::I) => (false, true),
                Operand::CallDst => (true, true),
                _ => continue,
            };
            self.checked
                .retain(|&(a, i, _)| !(array && a == reg || index && i == reg));
        }
    }

    /// A conditional branch to `target`, else the next op. A branch over
    /// one op that only computes an i64 register from others (and that
    /// nothing else jumps to) becomes a select: prime counting's `if
    /// (!composite[i]) count++` mispredicted on every prime.
    fn branch(&mut self, pc: u32, cond: Value, target: u16) {
        let (pc, target) = (pc as usize, usize::from(target));
        let to = self.target_block(Some(pc), target);
        let code = &self.module.functions[self.func as usize].code;
        let skipped = code[pc + 1];
        if target == pc + 2 && computes_int(skipped) && !self.facts.targeted[pc + 1] {
            let before = self.get(Bank::I, skipped.a);
            self.op_effect(pc as u32 + 1, skipped);
            let computed = self.get(Bank::I, skipped.a);
            let v = self.b.ins().select(cond, before, computed);
            self.set(Bank::I, skipped.a, v);
            self.b.ins().jump(to, &[]);
            return;
        }
        let next = self.next_block(pc as u32);
        self.b.ins().brif(cond, to, &[], next, &[]);
    }

    /// `a = (b cmp y) as i64`.
    fn compare(&mut self, op: Op, y: Value) {
        let cc = int_cc(op.opcode.cmp().unwrap_or(Cmp::Eq));
        let x = self.get(Bank::I, op.b);
        let c = self.b.ins().icmp(cc, x, y);
        let v = self.b.ins().uextend(I64, c);
        self.set(Bank::I, op.a, v);
    }

    /// Branch to `c` when `a cmp y`.
    fn compare_and_branch(&mut self, pc: u32, op: Op, y: Value) {
        let cc = int_cc(op.opcode.cmp().unwrap_or(Cmp::Eq));
        let x = self.get(Bank::I, op.a);
        let c = self.b.ins().icmp(cc, x, y);
        self.branch(pc, c, op.c);
    }

    fn int_binop(&mut self, op: Op, y: Value) {
        let x = self.get(Bank::I, op.b);
        let ins = self.b.ins();
        // Cranelift masks shift counts to the type's width, as we do.
        let v = match op.opcode.int_binop() {
            Some(IntBinOp::Sub) => ins.isub(x, y),
            Some(IntBinOp::Mul) => ins.imul(x, y),
            Some(IntBinOp::And) => ins.band(x, y),
            Some(IntBinOp::Or) => ins.bor(x, y),
            Some(IntBinOp::Xor) => ins.bxor(x, y),
            Some(IntBinOp::Shl) => ins.ishl(x, y),
            Some(IntBinOp::Shr) => ins.sshr(x, y),
            Some(IntBinOp::Ushr) => ins.ushr(x, y),
            _ => ins.iadd(x, y),
        };
        self.set(Bank::I, op.a, v);
    }

    /// `b / d` or `b % d` into `a` for a constant `d`: for `d > 1` other
    /// than a power of two, a multiplication by its reciprocal, with the sign correction taken
    /// from the dividend rather than from the quotient (gcc's form), which
    /// keeps it off the dependency chain: Cranelift's own sequence has two
    /// more ops on it (loop.tj). Others as any division.
    fn division_by_constant(&mut self, pc: u32, op: Op, d: i64) {
        // Powers of two Cranelift does with shifts alone.
        let magic = Magic::of(d).filter(|_| d > 1 && d.count_ones() > 1);
        let Some(magic) = magic else {
            let y = self.b.ins().iconst(I64, d);
            return self.division(pc, op, y);
        };
        let x = self.get(Bank::I, op.b);
        let b = &mut self.b;
        let m = b.ins().iconst(I64, magic.multiplier);
        let mut q = b.ins().smulhi(x, m);
        q = match magic.adjust {
            Some(AluOp::Sub) => b.ins().isub(q, x),
            Some(_) => b.ins().iadd(q, x),
            None => q,
        };
        if magic.shift > 0 {
            q = b.ins().sshr_imm_u(q, i64::from(magic.shift));
        }
        // Round toward zero: one more when the dividend is negative (the
        // quotient so far then is too, as d > 0).
        let sign = b.ins().sshr_imm_u(x, 63);
        q = b.ins().isub(q, sign);
        let v = if matches!(op.opcode, Opcode::Div | Opcode::DivI) {
            q
        } else {
            let qd = b.ins().imul_imm_s(q, d);
            b.ins().isub(x, qd)
        };
        self.set(Bank::I, op.a, v);
    }

    /// `b / y` or `b % y` into `a`, with the bytecode's traps checked
    /// before Cranelift's own (which would fault).
    fn division(&mut self, pc: u32, op: Op, y: Value) {
        let is_div = matches!(op.opcode, Opcode::Div | Opcode::DivI);
        let x = self.get(Bank::I, op.b);
        let zero = self.b.ins().icmp_imm_s(IntCC::Equal, y, 0);
        self.trap_if(zero, pc, TrapKind::DivisionByZero);
        let v = if is_div {
            let min = self.b.ins().icmp_imm_s(IntCC::Equal, x, i64::MIN);
            let minus_one = self.b.ins().icmp_imm_s(IntCC::Equal, y, -1);
            let overflow = self.b.ins().band(min, minus_one);
            self.trap_if(overflow, pc, TrapKind::IntegerOverflow);
            self.b.ins().sdiv(x, y)
        } else {
            // Cranelift's srem gives 0 for i64::MIN % -1, as we do.
            self.b.ins().srem(x, y)
        };
        self.set(Bank::I, op.a, v);
    }

    /// Array `r[array]`, and the address its header can always be read at
    /// (the null header for null). The length never changes while an array
    /// lives, so loads of it through that address are pure and Cranelift may
    /// hoist them out of loops; the kind of an i64 array changes when it is
    /// widened, so the kind loads of i64 accesses are not pure.
    fn array_header(&mut self, array: u16) -> (Value, Value, Value) {
        let r = self.get(Bank::R, array);
        let is_null = self.b.ins().icmp_imm_s(IntCC::Equal, r, 0);
        let null_header = &NULL_ARRAY_HEADER as *const ArrayHeader as i64;
        let null_header = self.b.ins().iconst(I64, null_header);
        let header = self.b.ins().select(is_null, null_header, r);
        (r, is_null, header)
    }

    /// Trap at `pc` unless `wrong_kind` is false; the null header's kind is
    /// 0, so a null array lands here too, and the cold path tells them
    /// apart.
    fn trap_if_wrong_kind(&mut self, wrong_kind: Value, is_null: Value, pc: u32) {
        self.trap_if_with(wrong_kind, pc, |t| {
            let null = t.status(TrapKind::NullReference);
            let wrong_kind = t.status(TrapKind::ElementKind);
            t.b.ins().select(is_null, null, wrong_kind)
        });
    }

    /// Index `i[index]`, checked against the length of the array whose
    /// header is at `header`.
    fn index_in_bounds(&mut self, pc: u32, header: Value, index: u16) -> Value {
        let idx = self.get(Bank::I, index);
        let len = self
            .b
            .ins()
            .load(I64, invariant(), header, ARRAY_LEN_OFFSET as i32);
        // Unsigned: a negative index is a huge one.
        let out = self
            .b
            .ins()
            .icmp(IntCC::UnsignedGreaterThanOrEqual, idx, len);
        self.trap_if(out, pc, TrapKind::IndexOutOfBounds);
        idx
    }

    /// Check f64 or reference array `r[array]` and index `i[index]` (null,
    /// kind, bounds, in the interpreter's order): the array and the index.
    /// The hot path is one compare, of the index against the length if the
    /// kind is right and 0 otherwise: that length is pure (only an i64
    /// array's kind changes, from byte-packed to 8-byte, and neither is
    /// `kind`), so Cranelift hoists it out of loops, and a loop keeps one
    /// value per array instead of a kind and a length (matmul, nbody). The
    /// cold path tells the three traps apart.
    fn element(&mut self, pc: u32, array: u16, index: u16, kind: ElemKind) -> (Value, Value) {
        if self.checked.contains(&(array, index, kind)) {
            let r = self.get(Bank::R, array);
            return (r, self.get(Bank::I, index));
        }
        if self.checked.len() == MAX_CHECKED {
            self.checked.remove(0);
        }
        self.checked.push((array, index, kind));
        let (r, is_null, header) = self.array_header(array);
        let k = self
            .b
            .ins()
            .load(I32, invariant(), header, ARRAY_KIND_OFFSET as i32);
        let right_kind = self.b.ins().icmp_imm_s(IntCC::Equal, k, kind as i64);
        let len = self
            .b
            .ins()
            .load(I64, invariant(), header, ARRAY_LEN_OFFSET as i32);
        let zero = self.b.ins().iconst(I64, 0);
        let len = self.b.ins().select(right_kind, len, zero);
        let idx = self.get(Bank::I, index);
        // Unsigned: a negative index is a huge one.
        let out = self
            .b
            .ins()
            .icmp(IntCC::UnsignedGreaterThanOrEqual, idx, len);
        self.trap_if_with(out, pc, |t| {
            let null = t.status(TrapKind::NullReference);
            let wrong_kind = t.status(TrapKind::ElementKind);
            let out_of_bounds = t.status(TrapKind::IndexOutOfBounds);
            let not_null = t.b.ins().select(right_kind, out_of_bounds, wrong_kind);
            t.b.ins().select(is_null, null, not_null)
        });
        (r, idx)
    }

    /// An access to i64 array `r[array]` at `i[index]`: the checks of
    /// [`Self::element`] (null, kind, bounds, in the interpreter's order),
    /// then `packed` or `wide` by the array's form (see
    /// [`crate::runtime::heap`]), given the array and the index. Both give
    /// a value (the result) or neither.
    fn i64_access(
        &mut self,
        pc: u32,
        array: u16,
        index: u16,
        packed: impl FnOnce(&mut Self, Value, Value) -> Option<Value>,
        wide: impl FnOnce(&mut Self, Value, Value) -> Option<Value>,
    ) -> Option<Value> {
        let (r, is_null, header) = self.array_header(array);
        let k = self
            .b
            .ins()
            .load(I32, trusted(), header, ARRAY_KIND_OFFSET as i32);
        let is_packed = self
            .b
            .ins()
            .icmp_imm_s(IntCC::Equal, k, i64::from(I64_BYTES_KIND));
        let (packed_block, wide_block) = (self.b.create_block(), self.b.create_block());
        let join = self.b.create_block();
        self.b
            .ins()
            .brif(is_packed, packed_block, &[], wide_block, &[]);

        self.b.switch_to_block(packed_block);
        let idx = self.index_in_bounds(pc, header, index);
        let v = packed(self, r, idx);
        if let Some(v) = v {
            self.b.append_block_param(join, I64);
            self.b.ins().jump(join, &[v.into()]);
        } else {
            self.b.ins().jump(join, &[]);
        }

        self.b.switch_to_block(wide_block);
        let wrong = self
            .b
            .ins()
            .icmp_imm_s(IntCC::NotEqual, k, ElemKind::I64 as i64);
        self.trap_if_wrong_kind(wrong, is_null, pc);
        let idx = self.index_in_bounds(pc, header, index);
        match wide(self, r, idx) {
            Some(v) => self.b.ins().jump(join, &[v.into()]),
            None => self.b.ins().jump(join, &[]),
        };

        self.b.switch_to_block(join);
        v.map(|_| self.b.block_params(join)[0])
    }

    /// The address of 8-byte element `idx` of array `r`, minus
    /// `ARRAY_DATA_OFFSET`.
    fn wide_element(&mut self, r: Value, idx: Value) -> Value {
        let scaled = self.b.ins().ishl_imm_u(idx, 3);
        self.b.ins().iadd(r, scaled)
    }

    /// A real call, through the function table (or straight to the
    /// compiled function itself), with the template tier's checks in the
    /// same order: call depth, interrupt, native stack, register stacks.
    /// The exact checks load their limits at each call, not as invariant:
    /// hoisted to the entry, they outlived the registers across calls and
    /// were spilled (fib 8% slower).
    fn call(&mut self, pc: u32, op: Op) {
        let callee = op.b as usize;
        let cl = self.layouts[callee];
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
        self.flush_refs();
        let window = op.c;
        for bank in Bank::ALL {
            let b = bank.index();
            for k in 0..cl.params[b] {
                let v = self.get(bank, window + k as u16);
                self.store_slot(bank, me.regs[b] + k, v);
            }
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
        let cont = self.b.create_block();
        self.b
            .ins()
            .brif(status, self.propagate_block, &[status.into()], cont, &[]);
        self.b.switch_to_block(cont);
        if op.a != NO_REG
            && let Some(bank) = cl.result
        {
            let v = self.load_slot(bank, me.regs[bank.index()]);
            self.set(bank, op.a, v);
        }
    }

    /// A real call of a function that may return at once (see
    /// [`EarlyExit`]): the test runs here, on the arguments, and only when
    /// the function would not return at once is it called. Returning at
    /// once, it is an inlined call: the same depth and register-stack
    /// checks, and its result. (fib: half the calls below the inlined
    /// levels are of fib(0) or fib(1).)
    fn call_with_early_exit(&mut self, pc: u32, op: Op, exit: EarlyExit) {
        use Opcode::*;
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
        let test = exit.test;
        let x = entry_value(self, Bank::I, test.a);
        let taken = match test.opcode {
            Jz => self.b.ins().icmp_imm_s(IntCC::Equal, x, 0),
            Jnz => self.b.ins().icmp_imm_s(IntCC::NotEqual, x, 0),
            _ => {
                let y = match test.opcode.operands()[1] {
                    Operand::Imm => self.b.ins().iconst(I64, imm(test.b)),
                    _ => entry_value(self, Bank::I, test.b),
                };
                let cc = int_cc(test.opcode.cmp().unwrap_or(Cmp::Eq));
                self.b.ins().icmp(cc, x, y)
            }
        };
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
    fn call_through_table(&mut self, pc: u32, callee: usize, args: &[Value; 4]) -> Value {
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
    fn callee_bases(&mut self) -> [Value; 3] {
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
    fn enter_callee(&mut self, pc: u32, depth: Value) {
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
    fn in_loop(&self, pc: u32) -> bool {
        let code = &self.module.functions[self.func as usize].code;
        self.inlined_in_loop || loops(code).any(|ops| ops.contains(&(pc as usize)))
    }

    /// Whether the frame of a call of `callee` from here fits, by the
    /// function's [`FrameRoom`] check (which takes in this call's need).
    fn frame_fits(&mut self, callee: FrameLayout) -> Value {
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
    fn check_inlined_frame(&mut self, pc: u32, callee: FrameLayout) -> Value {
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
    fn frame_ends(&mut self, callee: FrameLayout) -> Vec<(Bank, Value)> {
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
    fn check_register_stacks(&mut self, pc: u32, callee: FrameLayout) {
        for (bank, end) in self.frame_ends(callee) {
            let over = self.past_stack_end(bank, end, trusted());
            self.trap_if(over, pc, TrapKind::StackOverflow);
        }
    }

    /// Whether frame end `end` lies past the end of `bank`'s register
    /// stack, whose end is loaded with `flags`.
    fn past_stack_end(&mut self, bank: Bank, end: Value, flags: MemFlagsData) -> Value {
        let stack_end = self.load_ctx(I64, offsets::STACK_END + 8 * bank.index() as i32, flags);
        self.b
            .ins()
            .icmp(IntCC::UnsignedGreaterThan, end, stack_end)
    }

    /// Whether a call of `callee` is translated in line: a small function
    /// within the remaining budget that neither allocates, nor prints, nor
    /// calls the host (so no helper needs its frame current), at most
    /// `inline_max_depth` inlined calls deep, so recursion unrolls that many
    /// levels and the calls below stay real calls.
    fn inlinable(&self, callee: usize) -> bool {
        self.inline_depth < self.inline_max_depth
            && self.small_leafish(callee, self.inline_budget)
            && self.loop_calls_inline(callee, self.inline_max_depth - self.inline_depth - 1)
    }

    /// Whether `func` is small enough to inline (within `budget` too) and
    /// does nothing that needs its frame current.
    fn small_leafish(&self, func: usize, budget: u32) -> bool {
        use Opcode::*;
        let code = &self.module.functions[func].code;
        code.len() <= self.inline_max_ops.min(budget) as usize
            && code.iter().all(|op| {
                !matches!(
                    op.opcode,
                    HostCall | NewI | NewF | NewR | PrintS | PrintI | PrintF
                )
            })
    }

    /// Whether every call inside a loop of `func` would be inlined too, with
    /// `levels` more levels of inlining left. Inlining a function whose
    /// loop calls stay real calls loses: compiled on its own, that function
    /// would inline them (spectralnorm, with 2 levels, ran 8x slower when
    /// `main` inlined the loop of `mul_av` but not its call of `eval_a`).
    fn loop_calls_inline(&self, func: usize, levels: u32) -> bool {
        // The walk may look at as many ops as inlining may still add: a
        // function calling itself in a loop many times would otherwise make
        // it exponential in `levels`. Past that, the answer is no.
        let mut ops_left = self.inline_budget;
        self.loop_calls_inline_within(func, levels, &mut ops_left)
    }

    fn loop_calls_inline_within(&self, func: usize, levels: u32, ops_left: &mut u32) -> bool {
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
    fn inline_call(&mut self, pc: u32, op: Op) {
        let callee = op.b as usize;
        let cl = self.layouts[callee];
        let depth = self.check_inlined_frame(pc, cl);
        let args = Bank::ALL.map(|bank| {
            (0..cl.params[bank.index()])
                .map(|k| self.get(bank, op.c + k as u16))
                .collect::<Vec<_>>()
        });
        let code = &self.module.functions[callee].code;
        if code.iter().any(|op| op.opcode == Opcode::Call) {
            self.flush_refs();
        }
        self.inline_budget -= code.len() as u32;
        let cont = self.b.create_block();
        if let Some(bank) = cl.result {
            self.b.append_block_param(cont, bank_type(bank));
        }
        let vars = declare_vars(&mut self.b, cl);
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
            std::mem::replace(
                &mut self.facts,
                FuncFacts::of(self.module, code, cl.regs[Bank::I.index()]),
            ),
            std::mem::replace(&mut self.bases, callee_bases),
            std::mem::replace(&mut self.base_offsets, callee_offsets),
            std::mem::replace(&mut self.depth, depth),
            self.inline_return.replace(cont),
            std::mem::replace(&mut self.packed, PackedCopy::plan(&mut self.b, code)),
            std::mem::take(&mut self.checked),
        );
        let call_in_loop = self.in_loop(pc);
        let in_loop = std::mem::replace(&mut self.inlined_in_loop, call_in_loop);
        (self.func, self.layout) = (callee as u32, cl);
        self.inline_depth += 1;
        self.define_registers(&args);
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

    /// Define the registers of the current function: the first ones of
    /// bank `b` as `values[b]`, the rest as 0, 0.0 and null.
    fn define_registers(&mut self, values: &[Vec<Value>; 3]) {
        for bank in Bank::ALL {
            let b = bank.index();
            for k in 0..self.layout.regs[b] {
                let v = match values[b].get(k as usize) {
                    Some(&v) => v,
                    None if bank == Bank::F => self.b.ins().f64const(0.0),
                    _ => self.b.ins().iconst(I64, 0),
                };
                self.set(bank, k as u16, v);
            }
        }
    }

    /// A host call: its arguments into their frame slots, the helper, its
    /// result back from the frame.
    fn host_call(&mut self, pc: u32, op: Op) {
        let sig = &self.module.imports[op.b as usize].sig;
        let mut next = [0u16; 3];
        for &bank in &sig.params {
            let k = op.c + next[bank.index()];
            next[bank.index()] += 1;
            self.flush(bank, k);
        }
        let result = sig.result;
        let packed = i64::from(op.b) | i64::from(op.c) << 16 | i64::from(op.a) << 32;
        let packed = self.b.ins().iconst(I64, packed);
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
