//! Bytecode to Cranelift IR: a pre-pass for loop headers, one block per op,
//! one `Variable` per register the code touches ([`used_regs`]).
//!
//! Registers live in Variables between ops; the frame slots are made
//! current only where someone else reads them: a reference register at
//! each write (the collector's roots; untouched ones are cleared at the
//! start), a host call's arguments, the arguments of a bytecode call (in
//! the callee's slots) and the returned value. At the start the parameters
//! come from the frame and the other registers start at 0; code compiled
//! for entry at a loop header (OSR) takes every register from the frame.
//!
//! Calls (real, inlined, early exits, host) are in [`calls`]; the copies of
//! loops for byte-packed arrays in [`packed_loop`].

mod budget;
mod calls;
mod packed_loop;
mod structs;
mod used_regs;

use crate::bytecode::op::{BitCount, FloatBinOp, FloatUnOp, IntBinOp, imm16};
use crate::bytecode::{Bank, Cmp, Flow, Module, NO_REG, Op, Opcode, Operand, loops};
use crate::lowering::AluOp;
use crate::lowering::Magic;
use crate::runtime::call_profile::{CallProfiles, site_of};
use crate::runtime::compile_error::CompileFailure;
use crate::runtime::context::offsets;
use crate::runtime::frame::{FrameLayout, SLOT_SIZE};
use crate::runtime::heap::{
    ARRAY_DATA_OFFSET, ARRAY_KIND_OFFSET, ARRAY_LEN_OFFSET, BYTES_KIND, ElemKind, FUNC_REF_SIZE,
    I64_BYTES_KIND, I64_BYTES_MAX, STRING_KIND,
};
use crate::runtime::helpers::HelperAddrs;
use crate::runtime::structs::{StructLayouts, StructType};
use crate::runtime::trap::TrapKind;
use budget::BudgetMeter;
pub use budget::{CompileBudget, DEFAULT_MAX_OPS, DEFAULT_MAX_TIME};
use calls::{FrameRoom, INLINE_BUDGET_FACTOR, MAX_INLINE_BUDGET, early_exit};
use cranelift_codegen::cursor::{Cursor, FuncCursor};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::immediates::Ieee64;
use cranelift_codegen::ir::types::{F64, I8, I16, I32, I64};
use cranelift_codegen::ir::{
    AbiParam, Block, BlockCall, ExtFuncData, ExternalName, FuncRef, Function, Inst, InstBuilder,
    JumpTableData, MemFlagsData, SigRef, Signature, SourceLoc, StackSlot, StackSlotData,
    StackSlotKind, TrapCode, Type, UserExternalName, UserFuncName, Value,
};
use cranelift_codegen::isa::{TargetFrontendConfig, TargetIsa};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use packed_loop::PackedCopy;

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
    /// (on-stack replacement). The header must be one of [`crate::bytecode::loop_headers`].
    LoopHeader(u32),
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
            | ULt
            | ULe
            | UGt
            | UGe
            | Popcnt
            | Clz
            | Ctz
            | Rotl
            | Rotr
            | RotlI
            | Min
            | Max
            | Sel
            | Sext8
            | Sext16
            | Sext32
            | Zext8
            | Zext16
            | Zext32
    )
}

/// A function reference known at compile time: what `fref` or `closure`
/// made.
#[derive(Clone, Copy, Debug)]
pub(super) struct KnownRef {
    /// The function it calls.
    pub func: u16,
    /// Whether it is a closure (its environment passed to `func`), not a
    /// plain `fref`.
    pub closure: bool,
}

impl KnownRef {
    /// Its type, as an indirect call expects it.
    fn type_id(self, layouts: &[FrameLayout]) -> u32 {
        let l = layouts[usize::from(self.func)];
        if self.closure {
            l.closure_type
        } else {
            l.ref_type
        }
    }
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
    /// Per reference register, the function reference it holds after its
    /// only write, an `fref` or a `closure` at that op, under the same
    /// conditions as `constants`: an indirect call through it calls that
    /// function.
    frefs: Vec<Option<(u32, KnownRef)>>,
    /// Per bank, the registers the function's code touches, ascending
    /// ([`used_regs::used_registers`]): only they get Variables.
    used: [used_regs::RegList; 3],
    /// Whether the collector may scan the function's frame while it runs
    /// ([`used_regs::may_collect`]).
    may_collect: bool,
}

impl FuncFacts {
    fn of(module: &Module, func: usize, layout: FrameLayout) -> FuncFacts {
        let function = &module.functions[func];
        let code = &function.code;
        let regs = layout.regs;
        let (int_regs, ref_regs) = (regs[Bank::I.index()], regs[Bank::R.index()]);
        let mut targeted = vec![false; code.len()];
        for op in code {
            for t in function.targets_of(op) {
                targeted[usize::from(t)] = true;
            }
        }
        let mut writes = vec![0u32; int_regs as usize];
        let mut constants = vec![None; int_regs as usize];
        let mut ref_writes = vec![0u32; ref_regs as usize];
        let mut frefs = vec![None; ref_regs as usize];
        let mut straight = true;
        for (pc, op) in code.iter().enumerate() {
            straight &= !targeted[pc];
            let fields = op.fields();
            for (kind, reg) in op.opcode.operands().iter().zip(fields) {
                if matches!(
                    kind,
                    Operand::Write(Bank::I) | Operand::Update(Bank::I) | Operand::CallDst
                ) && let Some(w) = writes.get_mut(usize::from(reg))
                {
                    *w += 1;
                }
                if matches!(
                    kind,
                    Operand::Write(Bank::R) | Operand::Update(Bank::R) | Operand::CallDst
                ) && let Some(w) = ref_writes.get_mut(usize::from(reg))
                {
                    *w += 1;
                }
            }
            // `calli` writes its result to its window's first register.
            if op.opcode == Opcode::CallI {
                let result = module.types[usize::from(op.a)].result;
                let w = match result {
                    Some(Bank::I) => writes.get_mut(usize::from(op.c)),
                    Some(Bank::R) => ref_writes.get_mut(usize::from(op.c)),
                    _ => None,
                };
                if let Some(w) = w {
                    *w += 1;
                }
            }
            if matches!(op.opcode, Opcode::FRef | Opcode::Closure) && straight {
                let known = KnownRef {
                    func: op.b,
                    closure: op.opcode == Opcode::Closure,
                };
                frefs[usize::from(op.a)] = Some((pc as u32, known));
            }
            let value = match op.opcode {
                Opcode::IConst => Some(imm16(op.b)),
                Opcode::IConstK => Some(module.iconsts[usize::from(op.b)]),
                _ => None,
            };
            if let Some(v) = value.filter(|_| straight) {
                constants[usize::from(op.a)] = Some((pc as u32, v));
            }
            straight &= op.opcode.flow().falls_through() && op.target().is_none();
        }
        for (c, w) in constants.iter_mut().zip(writes) {
            if w != 1 {
                *c = None;
            }
        }
        for (f, w) in frefs.iter_mut().zip(ref_writes) {
            if w != 1 {
                *f = None;
            }
        }
        FuncFacts {
            targeted,
            constants,
            frefs,
            used: used_regs::used_registers(module, func, layout),
            may_collect: used_regs::may_collect(code),
        }
    }

    /// The function reference register `reg` refers to when op `pc` reads
    /// it, when only one `fref` can have set it.
    fn fref_at(&self, pc: u32, reg: u16) -> Option<KnownRef> {
        let (at, f) = self.frefs.get(usize::from(reg)).copied().flatten()?;
        (pc > at).then_some(f)
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
    /// The user-name index of the function being compiled, when it is
    /// compiled from its start: its calls of itself then go straight to it.
    pub self_id: Option<u32>,
    /// The callees indirect call sites have had.
    pub profiles: Option<&'a CallProfiles>,
}

/// Translate function `func` into `out` (whose signature is already
/// [`native_entry_signature`]), within `budget`. When it fails, `out` and
/// `builder_ctx` hold an abandoned function: clear them (make a new
/// context) before the next.
pub(super) fn translate(
    out: &mut Function,
    builder_ctx: &mut FunctionBuilderContext,
    src: Source<'_>,
    func: usize,
    entry: EntryPoint,
    frontend: TargetFrontendConfig,
    budget: CompileBudget,
) -> Result<(), CompileFailure> {
    let module = src.module;
    out.name = UserFuncName::user(0, func as u32);
    let meter = BudgetMeter::new(budget, &module.functions[func].name);
    let b = FunctionBuilder::new(out, builder_ctx);
    let mut t = Translator::new(b, src, func, meter);
    if t.meter.failed() {
        return t.meter.result();
    }
    // Ops the entry cannot reach get no code, only a trap (their blocks may
    // still be named, by packed copies): a loop-header version's prefix
    // would otherwise flow into the header, whose registers would then
    // have two definitions there, and no longer be invariant in the loop
    // (nor its loads hoistable).
    let reachable = reachable_ops(&module.functions[func], entry);
    t.packed.retain(|p| reachable[p.header()]);
    t.entry(entry);
    let code = &module.functions[func].code;
    for (pc, op) in code.iter().enumerate() {
        let block = t.op_blocks[pc];
        t.b.switch_to_block(block);
        // Each op's code (its cold paths and inlined callees too) is
        // tagged with its index, which the compiled code's source
        // locations give back (`Compiler::compile_code`'s op offsets).
        t.b.set_srcloc(SourceLoc::new(pc as u32));
        if reachable[pc] {
            t.op(pc as u32, *op);
        } else {
            t.b.ins().trap(TrapCode::unwrap_user(1));
        }
        if t.meter.failed() {
            return t.meter.result();
        }
    }
    t.packed_copies();
    // The shared exits belong to no op.
    t.b.set_srcloc(SourceLoc::default());
    let mut meter = std::mem::replace(&mut t.meter, BudgetMeter::new(budget, ""));
    t.finish(frontend);
    meter.check_time();
    meter.result()
}

/// Which ops of `function` run when it is entered at `entry`: the entry op
/// and every op reached from it by falling through or jumping.
fn reachable_ops(function: &crate::bytecode::Function, entry: EntryPoint) -> Vec<bool> {
    let code = &function.code;
    let mut reachable = vec![false; code.len()];
    let start = match entry {
        EntryPoint::Start => 0,
        EntryPoint::LoopHeader(h) => h as usize,
    };
    let mut work = vec![start];
    while let Some(pc) = work.pop() {
        let Some(seen) = reachable.get_mut(pc) else {
            continue;
        };
        if std::mem::replace(seen, true) {
            continue;
        }
        let op = &code[pc];
        if op.opcode.flow().falls_through() {
            work.push(pc + 1);
        }
        work.extend(function.targets_of(op).map(usize::from));
    }
    reachable
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

/// The condition of an integer compare or compare-and-branch opcode:
/// unsigned for `ult`, `jult`, ..., signed for the others.
fn int_cc_of(opcode: Opcode) -> IntCC {
    match opcode.unsigned_cmp() {
        Some(Cmp::Lt) => IntCC::UnsignedLessThan,
        Some(Cmp::Le) => IntCC::UnsignedLessThanOrEqual,
        Some(Cmp::Gt) => IntCC::UnsignedGreaterThan,
        Some(Cmp::Ge) => IntCC::UnsignedGreaterThanOrEqual,
        _ => int_cc(opcode.cmp().unwrap_or(Cmp::Eq)),
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

/// How many constants a function shares (see
/// `Translator::shared_constant`); past them each `iconst` makes its own.
const MAX_SHARED_CONSTANTS: usize = 256;

/// How many constants of a straight run of ops the translator remembers
/// (see `Translator::local_constants`).
const MAX_LOCAL_CONSTANTS: usize = 16;

/// How many checked accesses the translator remembers (see
/// `Translator::checked`): a straight run of ops is short, and a long one
/// would make each access's lookup long.
const MAX_CHECKED: usize = 16;

/// Up to how many untouched reference slots in a row
/// [`Translator::clear_untouched_refs`] clears with a store each (more get
/// a loop).
const CLEAR_UNROLLED: u32 = 8;

/// One Variable per register `used` of a frame of `layout`, indexed by
/// register (None for the registers the code never touches).
fn declare_vars(
    b: &mut FunctionBuilder<'_>,
    layout: FrameLayout,
    used: &[used_regs::RegList; 3],
) -> [Vec<Option<Variable>>; 3] {
    Bank::ALL.map(|bank| {
        let mut vars = vec![None; layout.regs[bank.index()] as usize];
        for &k in &used[bank.index()] {
            vars[usize::from(k)] = Some(b.declare_var(bank_type(bank)));
        }
        vars
    })
}

fn bank_type(bank: Bank) -> Type {
    match bank {
        Bank::F => F64,
        Bank::I | Bank::R => I64,
    }
}

/// Per bank and global, whether no op writes it while function `func`
/// runs: the function makes no call (nothing else runs, nothing is
/// inlined) and does not write it. Loads of such a global may then be
/// merged and hoisted out of loops.
fn readonly_globals(module: &Module, func: usize) -> [Vec<bool>; 3] {
    let code = &module.functions[func].code;
    let calls = code
        .iter()
        .any(|op| matches!(op.opcode, Opcode::Call | Opcode::CallI | Opcode::HostCall));
    let mut readonly = module.global_counts().map(|n| vec![!calls; n]);
    for op in code {
        let written = matches!(op.opcode, Opcode::GSetI | Opcode::GSetF | Opcode::GSetR);
        if written
            && let Some(bank) = op.opcode.global_bank()
            && let Some(slot) = readonly[bank.index()].get_mut(usize::from(op.a))
        {
            *slot = false;
        }
    }
    readonly
}

/// What an i64 register is known to hold (`Translator::local_constants`).
#[derive(Clone, Copy, Debug)]
enum KnownInt {
    Const(i64),
    /// The value of this i64 global.
    Global(u16),
}

/// Per i64 global of `module`, its initial value if no op writes it.
fn unwritten_globals(module: &Module) -> Vec<Option<i64>> {
    let mut unwritten: Vec<Option<i64>> = module
        .globals
        .iter()
        .filter(|g| g.bank == Bank::I)
        .map(|g| Some(g.init as i64))
        .collect();
    for f in &module.functions {
        for op in &f.code {
            if op.opcode == Opcode::GSetI
                && let Some(g) = unwritten.get_mut(usize::from(op.a))
            {
                *g = None;
            }
        }
    }
    unwritten
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
    /// Per bank and register, its Variable, if the code touches it.
    vars: [Vec<Option<Variable>>; 3],
    op_blocks: Vec<Block>,
    /// About the function whose ops are being translated.
    facts: FuncFacts,
    profiles: Option<&'a CallProfiles>,
    /// Per bank and global of the compiled function, whether its loads
    /// may be hoisted ([`readonly_globals`]).
    readonly_globals: [Vec<bool>; 3],
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
    /// The references that every path to the op being translated has
    /// checked for a struct type since the last jump target, with their
    /// registers not written since (at most `MAX_CHECKED_STRUCTS`).
    checked_structs: Vec<(u16, StructType)>,
    /// The i64 registers that an `iconst` or a `ggeti` set since the last
    /// jump target, not written since, with what they hold (at most
    /// [`MAX_LOCAL_CONSTANTS`], the latest): a compiler materialises a
    /// divisor just before its division, inside the loop, where
    /// [`FuncFacts::constant_at`] cannot see it (loop.lark).
    local_constants: Vec<(u16, KnownInt)>,
    /// Per i64 global, its initial value if no op of the module writes it
    /// (the embedder still may, between calls): a division by it is
    /// speculated to divide by that value. Found at the first division
    /// by a global.
    unwritten_globals: Option<Vec<Option<i64>>>,
    /// The entry block's jump to the first op, before which
    /// [`Translator::shared_constant`] puts its constants.
    entry_jump: Option<Inst>,
    /// The constants made so far by `shared_constant`, by (is f64, bits).
    constants: Vec<((bool, u64), Value)>,
    /// The module's struct layouts (empty when it has none).
    structs: StructLayouts,
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
    /// The signature of `tail_call_dispatch` calls, once imported.
    dispatch_sig: Option<SigRef>,
    /// Where a bulk operation (`copy`, `fill*`) puts its run of i64
    /// registers for its helper, which reads them through a pointer; made
    /// at the first such op.
    bulk_args: Option<StackSlot>,
    /// The compile's size and time against its budget.
    meter: BudgetMeter,
}

impl<'a, 'f> Translator<'a, 'f> {
    fn new(
        mut b: FunctionBuilder<'f>,
        src: Source<'a>,
        func: usize,
        mut meter: BudgetMeter,
    ) -> Self {
        let Source {
            module,
            layouts,
            helpers,
            inline_max_ops,
            inline_max_depth,
            self_id,
            profiles,
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
        let polls = loops(code).next().is_some()
            || code.iter().any(|op| {
                matches!(
                    op.opcode,
                    Opcode::Call | Opcode::CallI | Opcode::TCall | Opcode::TCallI
                )
            });
        let interrupt_flag = polls.then(|| b.ins().load(I64, trusted(), ctx, offsets::INTERRUPT));
        let facts = FuncFacts::of(module, func, layout);
        meter.add(budget::body_size(module, func, &facts.used));
        let vars = declare_vars(&mut b, layout, &facts.used);
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
                .declare_imported_user_function(UserExternalName::new(0, id));
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
            facts,
            readonly_globals: readonly_globals(module, func),
            profiles,
            packed,
            in_copy: None,
            checked: Vec::new(),
            checked_structs: Vec::new(),
            local_constants: Vec::new(),
            unwritten_globals: None,
            entry_jump: None,
            constants: Vec::new(),
            structs: if module.structs.is_empty() {
                StructLayouts::default()
            } else {
                StructLayouts::of(module)
            },
            trap_block,
            inline_return: None,
            propagate_block,
            entry_sig,
            self_ref: (func as u32, self_ref),
            helper_sigs: Vec::new(),
            dispatch_sig: None,
            bulk_args: None,
            meter,
        }
    }

    /// The Variable of register `reg`: every register an op names has
    /// one ([`used_regs::used_registers`] reads the same operand table).
    fn var(&self, bank: Bank, reg: u16) -> Variable {
        self.vars[bank.index()][reg as usize]
            .expect("an op names only registers its function touches")
    }

    fn get(&mut self, bank: Bank, reg: u16) -> Value {
        let v = self.var(bank, reg);
        self.b.use_var(v)
    }

    /// Set register `reg` to `val`. A reference register is written
    /// through to its slot as well: the collector may scan the frame at any
    /// call or allocation, and a store per write is less than storing every
    /// reference register at each of those (which, one `use_var` each in
    /// unsealed blocks, made cranelift-frontend's block parameters and code
    /// grow as allocations times references: 1,000 `newi` into 1,000
    /// registers compiled for 34 s).
    fn set(&mut self, bank: Bank, reg: u16, val: Value) {
        let v = self.var(bank, reg);
        self.b.def_var(v, val);
        if bank == Bank::R {
            self.store_slot(bank, reg.into(), val);
        }
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

    /// At the start of a function that may collect, store null into the
    /// slots of the reference registers its code never touches: the frame
    /// may hold a dead frame's references there, and the collector scans
    /// every slot. Short gaps get a store per slot, long ones a loop.
    fn clear_untouched_refs(&mut self) {
        if !self.facts.may_collect {
            return;
        }
        let bank = Bank::R;
        let runs = used_regs::unused_runs(&self.facts.used[bank.index()], self.layout.regs[2]);
        let base = self.bases[bank.index()];
        for (first, n) in runs {
            if n <= CLEAR_UNROLLED {
                let zero = self.b.ins().iconst(I64, 0);
                for k in first..first + n {
                    self.store_slot(bank, k, zero);
                }
                continue;
            }
            let start = self
                .b
                .ins()
                .iadd_imm_s(base, i64::from(Self::slot_offset(first)));
            let end = self
                .b
                .ins()
                .iadd_imm_s(base, i64::from(Self::slot_offset(first + n)));
            let (body, done) = (self.b.create_block(), self.b.create_block());
            self.b.append_block_param(body, I64);
            self.b.ins().jump(body, &[start.into()]);
            self.b.switch_to_block(body);
            let at = self.b.block_params(body)[0];
            let zero = self.b.ins().iconst(I64, 0);
            self.b.ins().store(trusted(), zero, at, 0);
            let next = self.b.ins().iadd_imm_s(at, SLOT_SIZE as i64);
            let more = self.b.ins().icmp(IntCC::UnsignedLessThan, next, end);
            self.b.ins().brif(more, body, &[next.into()], done, &[]);
            self.b.switch_to_block(done);
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
        let target = match entry {
            EntryPoint::Start => {
                let values = Bank::ALL.map(|bank| {
                    (0..self.layout.params[bank.index()])
                        .map(|k| self.load_slot(bank, k))
                        .collect::<Vec<_>>()
                });
                self.define_registers(&values);
                self.clear_untouched_refs();
                0
            }
            // The frame's owner cleared it: the registers the code never
            // touches hold what they must.
            EntryPoint::LoopHeader(h) => {
                for bank in Bank::ALL {
                    for k in 0..self.facts.used[bank.index()].len() {
                        let reg = self.facts.used[bank.index()][k];
                        let v = self.load_slot(bank, reg.into());
                        self.set(bank, reg, v);
                    }
                }
                h as usize
            }
        };
        let to = self.target_block(None, target);
        self.entry_jump = Some(self.b.ins().jump(to, &[]));
    }

    /// The value of constant `bits` of type `ty` (I64 or F64), one per
    /// function, defined in the entry block: a register set to a constant
    /// on every path into a join (as a compiler sets a fresh register per
    /// constant inside a loop, copied by the packed copy) then has one
    /// value there rather than a block parameter kept in a register
    /// across the loop (sieve.lark's spills). Cranelift still places each
    /// use's constant next to it.
    fn shared_constant(&mut self, ty: Type, bits: u64) -> Value {
        let key = (ty == F64, bits);
        if let Some(&(_, v)) = self.constants.iter().find(|(k, _)| *k == key) {
            return v;
        }
        let Some(jump) = self.entry_jump else {
            return if ty == F64 {
                self.b.ins().f64const(Ieee64::with_bits(bits))
            } else {
                self.b.ins().iconst(I64, bits as i64)
            };
        };
        let mut at = FuncCursor::new(&mut *self.b.func).at_inst(jump);
        let v = if ty == F64 {
            at.ins().f64const(Ieee64::with_bits(bits))
        } else {
            at.ins().iconst(I64, bits as i64)
        };
        if self.constants.len() < MAX_SHARED_CONSTANTS {
            self.constants.push((key, v));
        }
        v
    }

    /// The interrupt flag's current value (an i8).
    fn interrupt_flag(&mut self) -> Value {
        let flag_ptr = match self.interrupt_flag {
            Some(ptr) => ptr,
            None => self.load_ctx(I64, offsets::INTERRUPT, invariant()),
        };
        self.b.ins().load(I8, trusted(), flag_ptr, 0)
    }

    /// `switch`: a `br_table` on the value clamped to the table's length
    /// (past it: the default). Each target is reached through a block of
    /// its own, so the SSA builder can pass values on plain jumps.
    fn switch(&mut self, pc: u32, op: Op) {
        let table =
            self.module.functions[self.func as usize].switch_tables[usize::from(op.b)].clone();
        let v = self.get(Bank::I, op.a);
        let n = self.b.ins().iconst(I64, table.targets.len() as i64);
        let in_range = self.b.ins().icmp(IntCC::UnsignedLessThan, v, n);
        let index = self.b.ins().select(in_range, v, n);
        let index = self.b.ins().ireduce(I32, index);
        let targets: Vec<u16> = std::iter::once(table.default)
            .chain(table.targets.iter().copied())
            .collect();
        let vias: Vec<Block> = targets.iter().map(|_| self.b.create_block()).collect();
        let calls: Vec<BlockCall> = vias
            .iter()
            .map(|&via| self.b.func.dfg.block_call(via, &[]))
            .collect();
        let jt = self
            .b
            .create_jump_table(JumpTableData::new(calls[0], &calls[1..]));
        self.b.ins().br_table(index, jt);
        for (via, target) in vias.into_iter().zip(targets) {
            let block = self.target_block(Some(pc as usize), target.into());
            self.b.switch_to_block(via);
            self.b.ins().jump(block, &[]);
        }
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
        if self.meter.stop_before_op() {
            // Over budget: the function is given up; end the block.
            self.b.ins().trap(TrapCode::unwrap_user(1));
            return;
        }
        if self.facts.targeted[pc as usize] {
            self.checked.clear();
            self.checked_structs.clear();
            self.local_constants.clear();
        }
        self.poll_at_back_edge(pc, op);
        self.op_effect(pc, op);
        self.forget_checks_of_written(op);
        self.remember_constant(op);
        if matches!(op.opcode.flow(), Flow::Next) {
            let next = self.next_block(pc);
            self.b.ins().jump(next, &[]);
        }
    }

    /// What op `pc` does, short of going on to the next op.
    fn op_effect(&mut self, pc: u32, op: Op) {
        use Opcode::*;
        match op.opcode {
            FRef => {
                let table = self.load_ctx(I64, offsets::FUNC_REFS, invariant());
                let v = self
                    .b
                    .ins()
                    .iadd_imm_s(table, i64::from(op.b) * FUNC_REF_SIZE as i64);
                self.set(Bank::R, op.a, v);
            }
            Closure => {
                let func = self.b.ins().iconst(I64, i64::from(op.b));
                let env = self.get(Bank::R, op.c);
                let (out, top) = self.alloc_out_top(op.a);
                let status = self.call_helper(self.helpers.new_closure, &[func, env, out, top]);
                self.check_status(status, pc);
                let v = self.load_slot(Bank::R, op.a.into());
                self.set(Bank::R, op.a, v);
            }
            // Through a register that holds what `fref f` or `closure f`
            // made (of the type the call expects: else it traps, the
            // general way): a call of `f`, inlined when small.
            CallI
                if let Some(known) = self.facts.fref_at(pc, op.b)
                    && known.type_id(self.layouts) == u32::from(op.a) =>
            {
                self.known_indirect_call(pc, op, known)
            }
            // A site that has called one function (the profile template
            // code kept) calls it behind a guard, inlined when small.
            CallI if let Some(known) = self.profiled_target(pc, op) => {
                self.guarded_indirect_call(pc, op, known)
            }
            // Else a jump table on the reference's function to the inlined
            // call of each small function of the call's type.
            CallI => {
                let targets = self.switched_targets(op.a);
                if targets.is_empty() {
                    self.indirect_call(pc, op)
                } else {
                    self.switched_indirect_call(pc, op, &targets)
                }
            }
            TCall | TCallI => self.tail_call(pc, op),
            GGetI | GGetF | GGetR => {
                let bank = op.opcode.global_bank().unwrap_or(Bank::I);
                let base = self.load_ctx(I64, offsets::globals(bank.index()), invariant());
                let flags = if self.readonly_globals[bank.index()][usize::from(op.b)] {
                    invariant()
                } else {
                    trusted()
                };
                let v =
                    self.b
                        .ins()
                        .load(bank_type(bank), flags, base, Self::slot_offset(op.b.into()));
                self.set(bank, op.a, v);
            }
            GSetI | GSetF | GSetR => {
                let bank = op.opcode.global_bank().unwrap_or(Bank::I);
                let base = self.load_ctx(I64, offsets::globals(bank.index()), invariant());
                let v = self.get(bank, op.b);
                self.b
                    .ins()
                    .store(trusted(), v, base, Self::slot_offset(op.a.into()));
            }
            Switch => self.switch(pc, op),
            SNew | SGetI | SGetF | SGetR | SSetI | SSetF | SSetR | Isa | IsNull | REq | JNull
            | JNNull => self.struct_op(pc, op),
            Nop => {}
            IConst => {
                let v = self.shared_constant(I64, imm16(op.b) as u64);
                self.set(Bank::I, op.a, v);
            }
            IConstK => {
                let v = self.shared_constant(I64, self.module.iconsts[op.b as usize] as u64);
                self.set(Bank::I, op.a, v);
            }
            FConst => {
                let bits = self.module.fconsts[op.b as usize];
                let v = self.shared_constant(F64, bits);
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
            MulI if matches!(imm16(op.c), 3 | 5 | 9) => {
                let x = self.get(Bank::I, op.b);
                let k = i64::from((imm16(op.c) - 1).trailing_zeros());
                let shifted = self.b.ins().ishl_imm_u(x, k);
                let v = self.b.ins().iadd(x, shifted);
                self.set(Bank::I, op.a, v);
            }
            AddI | SubI | MulI | AndI | OrI | XorI | ShlI | ShrI | UshrI => {
                let y = self.b.ins().iconst(I64, imm16(op.c));
                self.int_binop(op, y);
            }
            Div | Rem => match self.known_int(pc, op.c) {
                Some(KnownInt::Const(d)) => self.division_by_constant(pc, op, d),
                Some(KnownInt::Global(g)) if let Some(d) = self.global_divisor(g) => {
                    self.division_by_global(pc, op, d)
                }
                _ => {
                    let y = self.get(Bank::I, op.c);
                    self.division(pc, op, y);
                }
            },
            DivI | RemI => self.division_by_constant(pc, op, imm16(op.c)),
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
                let y = self.b.ins().iconst(I64, imm16(op.c));
                self.compare(op, y);
            }
            JEq | JNe | JLt | JLe | JGt | JGe | JEqI | JNeI | JLtI | JLeI | JGtI | JGeI | Jz
            | Jnz => {
                let (c, target) = self.int_branch_condition(op, |t, reg| t.get(Bank::I, reg));
                self.branch(pc, c, target);
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
            FNeg | FAbs | FSqrt | FFloor | FCeil | FTrunc | FRound => {
                let x = self.get(Bank::F, op.b);
                let ins = self.b.ins();
                let v = match op.opcode.float_unop() {
                    Some(FloatUnOp::Abs) => ins.fabs(x),
                    Some(FloatUnOp::Sqrt) => ins.sqrt(x),
                    Some(FloatUnOp::Floor) => ins.floor(x),
                    Some(FloatUnOp::Ceil) => ins.ceil(x),
                    Some(FloatUnOp::Trunc) => ins.trunc(x),
                    Some(FloatUnOp::Round) => ins.nearest(x),
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
            UDiv | URem => self.unsigned_division(pc, op),
            ULt | ULe | UGt | UGe => {
                let y = self.get(Bank::I, op.c);
                self.compare(op, y);
            }
            JULt | JULe | JUGt | JUGe => {
                let (c, target) = self.int_branch_condition(op, |t, reg| t.get(Bank::I, reg));
                self.branch(pc, c, target);
            }
            Popcnt | Clz | Ctz | Sext8 | Sext16 | Sext32 | Zext8 | Zext16 | Zext32 => {
                let x = self.get(Bank::I, op.b);
                let v = self.int_unary(op.opcode, x);
                self.set(Bank::I, op.a, v);
            }
            Rotl | Rotr | RotlI | Min | Max => {
                let x = self.get(Bank::I, op.b);
                let y = if op.opcode == RotlI {
                    self.b.ins().iconst(I64, imm16(op.c))
                } else {
                    self.get(Bank::I, op.c)
                };
                let ins = self.b.ins();
                // Cranelift takes rotate counts modulo 64, as we do.
                let v = match op.opcode {
                    Rotr => ins.rotr(x, y),
                    Min => ins.smin(x, y),
                    Max => ins.smax(x, y),
                    _ => ins.rotl(x, y),
                };
                self.set(Bank::I, op.a, v);
            }
            Sel | FSel | RSel => {
                let bank = op.opcode.select_bank().unwrap_or(Bank::I);
                let cond = self.get(Bank::I, op.c);
                let new = self.get(bank, op.b);
                let old = self.get(bank, op.a);
                let v = self.b.ins().select(cond, new, old);
                self.set(bank, op.a, v);
            }
            Fma | FMin | FMax => self.float_special(op),
            FCopysign => {
                let x = self.get(Bank::F, op.b);
                let y = self.get(Bank::F, op.c);
                let v = self.b.ins().fcopysign(x, y);
                self.set(Bank::F, op.a, v);
            }
            FBits => {
                let x = self.get(Bank::F, op.b);
                let v = self.b.ins().bitcast(I64, MemFlagsData::new(), x);
                self.set(Bank::I, op.a, v);
            }
            BitsF => {
                let x = self.get(Bank::I, op.b);
                let v = self.b.ins().bitcast(F64, MemFlagsData::new(), x);
                self.set(Bank::F, op.a, v);
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
            NewI | NewF | NewR | NewB => {
                let kind = match op.opcode {
                    NewB => ElemKind::Bytes,
                    _ => ElemKind::of_op(op.opcode).1,
                };
                let len = self.get(Bank::I, op.b);
                let kind = self.b.ins().iconst(I64, kind as i64);
                let (out, top) = self.alloc_out_top(op.a);
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
                    |t, r, idx| Some(t.load_packed(r, idx)),
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
                        t.store_packed(r, idx, v);
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
            GetB => {
                let (r, idx) = self.byte_element(pc, op.b, op.c, false);
                let v = self.load_packed(r, idx);
                self.set(Bank::I, op.a, v);
            }
            SetB => {
                let (r, idx) = self.byte_element(pc, op.a, op.b, true);
                let v = self.get(Bank::I, op.c);
                self.store_packed(r, idx, v);
            }
            SConst => {
                // The table and its entries never change while code runs.
                let table = self.load_ctx(I64, offsets::STRINGS, invariant());
                let v = self
                    .b
                    .ins()
                    .load(I64, invariant(), table, i32::from(op.b) * 8);
                self.set(Bank::R, op.a, v);
            }
            PrintB => {
                let r = self.get(Bank::R, op.a);
                let status = self.call_helper(self.helpers.print_bytes, &[r]);
                self.check_status(status, pc);
            }
            Copy => {
                let dst = self.get(Bank::R, op.a);
                let src = self.get(Bank::R, op.b);
                let range = self.bulk_range(op.c, 3);
                let status = self.call_helper(self.helpers.copy_elements, &[dst, src, range]);
                self.check_status(status, pc);
            }
            FillI | FillF | FillR => {
                let bank = match op.opcode {
                    FillF => Bank::F,
                    FillR => Bank::R,
                    _ => Bank::I,
                };
                let array = self.get(Bank::R, op.a);
                let range = self.bulk_range(op.b, 2);
                let mut value = self.get(bank, op.c);
                if bank == Bank::F {
                    value = self.b.ins().bitcast(I64, MemFlagsData::new(), value);
                }
                let bank = self.b.ins().iconst(I64, bank.index() as i64);
                let status =
                    self.call_helper(self.helpers.fill_elements, &[bank, array, range, value]);
                self.check_status(status, pc);
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
            Trap | TrapI => {
                let code = if op.opcode == Trap {
                    self.get(Bank::I, op.a)
                } else {
                    self.b.ins().iconst(I64, imm16(op.a))
                };
                self.b
                    .ins()
                    .store(trusted(), code, self.ctx, offsets::TRAP_USER_CODE);
                let status = self.status(TrapKind::User);
                self.jump_to_trap_status(pc, status);
            }
        }
    }

    /// For an allocation into `r[a]`: the address of its slot, and of the
    /// slot past this frame's last reference register (the collector's
    /// roots end there).
    fn alloc_out_top(&mut self, a: u16) -> (Value, Value) {
        let rb = self.bases[Bank::R.index()];
        let out = self
            .b
            .ins()
            .iadd_imm_s(rb, Self::slot_offset(a.into()) as i64);
        let top_slot = self.layout.regs[Bank::R.index()];
        let top = self
            .b
            .ins()
            .iadd_imm_s(rb, Self::slot_offset(top_slot) as i64);
        (out, top)
    }

    /// Drop the checked accesses whose array or index register `op`
    /// writes.
    fn forget_checks_of_written(&mut self, op: Op) {
        if op.opcode == Opcode::CallI {
            // Its result goes to its window's first register.
            self.checked.retain(|&(a, i, _)| a != op.c && i != op.c);
            self.checked_structs.retain(|&(r, _)| r != op.c);
            self.local_constants.retain(|&(r, _)| r != op.c);
        }
        for (kind, reg) in op.opcode.operands().iter().zip(op.fields()) {
            let (array, index) = match kind {
                Operand::Write(Bank::R) | Operand::Update(Bank::R) => (true, false),
                Operand::Write(Bank::I) | Operand::Update(Bank::I) => (false, true),
                Operand::CallDst => (true, true),
                _ => continue,
            };
            self.checked
                .retain(|&(a, i, _)| !(array && a == reg || index && i == reg));
            if array {
                self.checked_structs.retain(|&(r, _)| r != reg);
            }
            if index {
                self.local_constants.retain(|&(r, _)| r != reg);
            }
        }
    }

    /// After `op`: remember the constant or global it put in an i64
    /// register.
    fn remember_constant(&mut self, op: Op) {
        let value = match op.opcode {
            Opcode::IConst => KnownInt::Const(imm16(op.b)),
            Opcode::IConstK => KnownInt::Const(self.module.iconsts[usize::from(op.b)]),
            Opcode::GGetI => KnownInt::Global(op.b),
            _ => return,
        };
        if self.local_constants.len() == MAX_LOCAL_CONSTANTS {
            self.local_constants.remove(0);
        }
        self.local_constants.push((op.a, value));
    }

    /// The constant i64 register `reg` holds when op `pc` reads it, if it
    /// is known: set once before any branch, or by an `iconst` since the
    /// last jump target.
    fn known_int(&self, pc: u32, reg: u16) -> Option<KnownInt> {
        let known = self.facts.constant_at(pc, reg).map(KnownInt::Const);
        known.or_else(|| {
            let mut local = self.local_constants.iter().rev();
            local.find(|&&(r, _)| r == reg).map(|&(_, v)| v)
        })
    }

    /// The value to speculate i64 global `g` holds as a divisor: its
    /// initial value, if no op writes it and it has a reciprocal.
    fn global_divisor(&mut self, g: u16) -> Option<i64> {
        let module = self.module;
        let unwritten = self
            .unwritten_globals
            .get_or_insert_with(|| unwritten_globals(module));
        let d = unwritten.get(usize::from(g)).copied().flatten()?;
        Magic::of(d)
            .filter(|_| d > 1 && d.count_ones() > 1)
            .map(|_| d)
    }

    /// `b / c` or `b % c` where `c` holds global `g`, never written by the
    /// module: by its initial value when it still holds it (a multiply by
    /// the reciprocal, whose guard's load and compare leave loops with the
    /// global's load), else as any division.
    fn division_by_global(&mut self, pc: u32, op: Op, d: i64) {
        let y = self.get(Bank::I, op.c);
        let is_d = self.b.ins().icmp_imm_s(IntCC::Equal, y, d);
        let (fast, slow, join) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        let result = self.b.append_block_param(join, I64);
        self.b.ins().brif(is_d, fast, &[], slow, &[]);
        self.b.switch_to_block(fast);
        self.division_by_constant(pc, op, d);
        let v = self.get(Bank::I, op.a);
        self.b.ins().jump(join, &[v.into()]);
        self.b.switch_to_block(slow);
        self.b.set_cold_block(slow);
        self.division(pc, op, y);
        let v = self.get(Bank::I, op.a);
        self.b.ins().jump(join, &[v.into()]);
        self.b.switch_to_block(join);
        self.set(Bank::I, op.a, result);
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
        let cc = int_cc_of(op.opcode);
        let x = self.get(Bank::I, op.b);
        let c = self.b.ins().icmp(cc, x, y);
        let v = self.b.ins().uextend(I64, c);
        self.set(Bank::I, op.a, v);
    }

    /// The condition of integer branch `op` (`j<cmp>`, `j<cmp>i`, `jz`,
    /// `jnz`), its registers' values given by `reg`; and its target.
    fn int_branch_condition(
        &mut self,
        op: Op,
        mut reg: impl FnMut(&mut Self, u16) -> Value,
    ) -> (Value, u16) {
        if let Opcode::Jz | Opcode::Jnz = op.opcode {
            let x = reg(self, op.a);
            let cc = if op.opcode == Opcode::Jz {
                IntCC::Equal
            } else {
                IntCC::NotEqual
            };
            return (self.b.ins().icmp_imm_s(cc, x, 0), op.b);
        }
        let y = match op.opcode.operands()[1] {
            Operand::Imm => self.b.ins().iconst(I64, imm16(op.b)),
            _ => reg(self, op.b),
        };
        let x = reg(self, op.a);
        let cc = int_cc_of(op.opcode);
        (self.b.ins().icmp(cc, x, y), op.c)
    }

    /// A bit count or an extension of `x`.
    fn int_unary(&mut self, opcode: Opcode, x: Value) -> Value {
        let ins = self.b.ins();
        match (opcode.bit_count(), opcode.extension()) {
            (Some(BitCount::Popcnt), _) => ins.popcnt(x),
            (Some(BitCount::Clz), _) => ins.clz(x),
            (Some(BitCount::Ctz), _) => ins.ctz(x),
            (None, Some(ext)) => {
                let narrow = match ext.bits() {
                    8 => I8,
                    16 => I16,
                    _ => I32,
                };
                let low = self.b.ins().ireduce(narrow, x);
                if ext.signed() {
                    self.b.ins().sextend(I64, low)
                } else {
                    self.b.ins().uextend(I64, low)
                }
            }
            (None, None) => x,
        }
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

    /// `udiv` and `urem`: a zero divisor traps as `div`'s does.
    fn unsigned_division(&mut self, pc: u32, op: Op) {
        let x = self.get(Bank::I, op.b);
        let y = self.get(Bank::I, op.c);
        let zero = self.b.ins().icmp_imm_s(IntCC::Equal, y, 0);
        self.trap_if(zero, pc, TrapKind::DivisionByZero);
        let v = if op.opcode == Opcode::UDiv {
            self.b.ins().udiv(x, y)
        } else {
            self.b.ins().urem(x, y)
        };
        self.set(Bank::I, op.a, v);
    }

    /// `fma`, `fmin`, `fmax`: the fused or IEEE-minimum result, but where
    /// the result (`fma`) or an operand (`fmin`, `fmax`) is a NaN, the NaN
    /// of the ISA's `+` (after `*` for `fma`), as `runtime::float` defines
    /// them: Cranelift's own NaN choice there is not specified.
    fn float_special(&mut self, op: Op) {
        let b = self.get(Bank::F, op.b);
        let c = self.get(Bank::F, op.c);
        let v = if op.opcode == Opcode::Fma {
            // The NaN case on a cold path: with a select, every `fma`
            // would also compute the unfused sum and wait for the compare.
            let a = self.get(Bank::F, op.a);
            let fused = self.b.ins().fma(b, c, a);
            let is_nan = self.b.ins().fcmp(FloatCC::Unordered, fused, fused);
            let (nan, join) = (self.b.create_block(), self.b.create_block());
            let result = self.b.append_block_param(join, F64);
            self.b.ins().brif(is_nan, nan, &[], join, &[fused.into()]);
            self.b.switch_to_block(nan);
            self.b.set_cold_block(nan);
            let product = self.b.ins().fmul(b, c);
            let unfused = self.b.ins().fadd(product, a);
            self.b.ins().jump(join, &[unfused.into()]);
            self.b.switch_to_block(join);
            result
        } else {
            let m = if op.opcode == Opcode::FMin {
                self.b.ins().fmin(b, c)
            } else {
                self.b.ins().fmax(b, c)
            };
            let is_nan = self.b.ins().fcmp(FloatCC::Unordered, b, c);
            let sum = self.b.ins().fadd(b, c);
            self.b.ins().select(is_nan, sum, m)
        };
        self.set(Bank::F, op.a, v);
    }

    /// Array `r[array]`, and the address its header can always be read at
    /// (the null header for null). The length never changes while an array
    /// lives, so loads of it through that address are pure and Cranelift may
    /// hoist them out of loops; the kind of an i64 array changes when it is
    /// widened, so the kind loads of i64 accesses are not pure.
    fn array_header(&mut self, array: u16) -> (Value, Value, Value) {
        let r = self.get(Bank::R, array);
        let is_null = self.b.ins().icmp_imm_s(IntCC::Equal, r, 0);
        let null_header = self.helpers.null_array_header as i64;
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
        self.remember_checked((array, index, kind));
        let (r, is_null, header) = self.array_header(array);
        let k = self
            .b
            .ins()
            .load(I32, invariant(), header, ARRAY_KIND_OFFSET as i32);
        let right_kind = self.b.ins().icmp_imm_s(IntCC::Equal, k, kind as i64);
        let idx = self.check_index(pc, index, header, is_null, right_kind, None);
        (r, idx)
    }

    /// Record that an access checked `(array, index, kind)`, forgetting the
    /// oldest record when full.
    fn remember_checked(&mut self, key: (u16, u16, ElemKind)) {
        if self.checked.len() == MAX_CHECKED {
            self.checked.remove(0);
        }
        self.checked.push(key);
    }

    /// The bounds check shared by element accesses: `i[index]` against the
    /// array's length if `right_kind` holds and 0 otherwise (one compare on
    /// the hot path), trapping in the interpreter's order: null, then
    /// `immutable` (the kind it names: `Immutable`), then the kind, then
    /// bounds. The index.
    fn check_index(
        &mut self,
        pc: u32,
        index: u16,
        header: Value,
        is_null: Value,
        right_kind: Value,
        immutable: Option<(Value, u32)>,
    ) -> Value {
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
            let mut not_null = t.b.ins().select(right_kind, out_of_bounds, wrong_kind);
            if let Some((k, immutable_kind)) = immutable {
                let status = t.status(TrapKind::Immutable);
                let is_immutable =
                    t.b.ins()
                        .icmp_imm_s(IntCC::Equal, k, i64::from(immutable_kind));
                not_null = t.b.ins().select(is_immutable, status, not_null);
            }
            t.b.ins().select(is_null, null, not_null)
        });
        idx
    }

    /// Check byte array `r[array]` and index `i[index]` for a read (a
    /// string too) or a write (a string traps: immutable), in the
    /// interpreter's order (null, kind, bounds): the array and the index.
    /// As in [`Self::element`], the hot path is one compare, of the index
    /// against the length if the kind is right and 0 otherwise (a byte
    /// array's kind and length never change: both loads are pure).
    fn byte_element(&mut self, pc: u32, array: u16, index: u16, write: bool) -> (Value, Value) {
        // A write's check covers reads too, and only writes are recorded.
        if self.checked.contains(&(array, index, ElemKind::Bytes)) {
            let r = self.get(Bank::R, array);
            return (r, self.get(Bank::I, index));
        }
        if write {
            self.remember_checked((array, index, ElemKind::Bytes));
        }
        let (r, is_null, header) = self.array_header(array);
        let k = self
            .b
            .ins()
            .load(I32, invariant(), header, ARRAY_KIND_OFFSET as i32);
        let right_kind = if write {
            self.b
                .ins()
                .icmp_imm_s(IntCC::Equal, k, i64::from(BYTES_KIND))
        } else {
            // The two byte kinds are adjacent: kind - BYTES_KIND <= 1.
            const _: () = assert!(STRING_KIND == BYTES_KIND + 1);
            let off = self.b.ins().iadd_imm_s(k, -i64::from(BYTES_KIND));
            self.b
                .ins()
                .icmp_imm_s(IntCC::UnsignedLessThanOrEqual, off, 1)
        };
        let immutable = write.then_some((k, STRING_KIND));
        let idx = self.check_index(pc, index, header, is_null, right_kind, immutable);
        (r, idx)
    }

    /// The address of `n` consecutive i64 values, registers `first..` of
    /// this function, for a bulk operation's helper: a stack slot of this
    /// function's frame (the register frame stays untouched).
    fn bulk_range(&mut self, first: u16, n: u16) -> Value {
        let slot = match self.bulk_args {
            Some(slot) => slot,
            None => {
                let data = StackSlotData::new(StackSlotKind::ExplicitSlot, 24, 3);
                let slot = self.b.create_sized_stack_slot(data);
                self.bulk_args = Some(slot);
                slot
            }
        };
        for k in 0..n {
            let v = self.get(Bank::I, first + k);
            self.b.ins().stack_store(I64, v, slot, i32::from(k) * 8);
        }
        self.b.ins().stack_addr(I64, slot, 0)
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
        let (k, is_packed) = self.i64_kind(header);
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

    /// The kind of the array whose header is at `header` (loaded at each
    /// use: an i64 array's changes when it widens), and whether it is a
    /// byte-packed i64 array.
    fn i64_kind(&mut self, header: Value) -> (Value, Value) {
        let k = self
            .b
            .ins()
            .load(I32, trusted(), header, ARRAY_KIND_OFFSET as i32);
        let is_packed = self
            .b
            .ins()
            .icmp_imm_s(IntCC::Equal, k, i64::from(I64_BYTES_KIND));
        (k, is_packed)
    }

    /// Element `idx` of byte-packed array `r`.
    fn load_packed(&mut self, r: Value, idx: Value) -> Value {
        let addr = self.b.ins().iadd(r, idx);
        self.b
            .ins()
            .uload8(I64, trusted(), addr, ARRAY_DATA_OFFSET as i32)
    }

    /// `r[idx] = v` in byte-packed array `r`, `v` fitting a byte.
    fn store_packed(&mut self, r: Value, idx: Value, v: Value) {
        let addr = self.b.ins().iadd(r, idx);
        self.b
            .ins()
            .istore8(trusted(), v, addr, ARRAY_DATA_OFFSET as i32);
    }

    /// The address of 8-byte element `idx` of array `r`, minus
    /// `ARRAY_DATA_OFFSET`.
    fn wide_element(&mut self, r: Value, idx: Value) -> Value {
        let scaled = self.b.ins().ishl_imm_u(idx, 3);
        self.b.ins().iadd(r, scaled)
    }

    /// Define the registers of the current function that its code
    /// touches: the first ones of bank `b` as `values[b]`, the rest as 0,
    /// 0.0 and null.
    fn define_registers(&mut self, values: &[Vec<Value>; 3]) {
        for bank in Bank::ALL {
            let b = bank.index();
            for i in 0..self.facts.used[b].len() {
                let k = self.facts.used[b][i];
                let v = match values[b].get(usize::from(k)) {
                    Some(&v) => v,
                    None if bank == Bank::F => self.b.ins().f64const(0.0),
                    _ => self.b.ins().iconst(I64, 0),
                };
                self.set(bank, k, v);
            }
        }
    }
}
