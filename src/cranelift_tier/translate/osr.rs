//! Loop-header versions (OSR): the enclosing loops' current iterations peeled.
//!
//! A version entered at header `h` takes its registers from the frame, and
//! the loops around `h` are still running: the code after the hot loop
//! leads back to `h` through their headers. Entered straight at the
//! ordinary `h`, that header would have a second way in from outside its
//! loop (the entry and the op before it in the enclosing loop's body): a
//! register the enclosing loop sets and the hot loop only reads (a row of
//! a 2-D array) would get a block parameter at `h`, defined inside the
//! loop, and its null, kind and length checks would run on every
//! iteration. (Cranelift also sees `h`, which then dominates every op, as
//! the header of the enclosing loops too.)
//!
//! So the version translates, as levels, the rest of each enclosing loop's
//! current iteration: level 0 is what runs from `h` until control reaches
//! the header of a loop enclosing `h`'s, level 1 from the innermost such
//! header until it reaches an outer one, and so on; the ordinary blocks
//! start at the outermost header. Each level's loops have one way in (from
//! the level before, or the entry), as in the version compiled from the
//! function's start, so they get the same hoisting. Every level translates
//! the same ops the same way (same pcs, same traps): which copy of an op
//! runs never changes what it does.

use super::*;
use std::ops::RangeInclusive;

/// At most this many ops are translated again for the levels (inlined
/// callees not counted): past it, the last level goes on in the ordinary
/// blocks, correct, with the outer loops' invariants no longer hoisted.
const MAX_PEELED_OPS: usize = 4096;

/// The levels of a loop-header version (empty for a version entered at
/// the function's start, or at a loop no other loop encloses).
#[derive(Default)]
pub(super) struct Peel {
    /// Per level, the block of each op it translates (None: not its op).
    levels: Vec<Vec<Option<Block>>>,
    /// The headers of the loops that enclose the entry's, innermost first:
    /// level `k` starts at `exits[k - 1]` (level 0 at the entry), and a
    /// level's code that reaches `exits[m]` goes on in level `m + 1`, or
    /// in the ordinary blocks past the last level.
    exits: Vec<usize>,
}

impl Peel {
    /// The levels for entry at `entry` of a function with `code`, whose
    /// ops `reachable` the entry reaches; with their blocks.
    pub(super) fn plan(
        b: &mut FunctionBuilder<'_>,
        function: &crate::bytecode::Function,
        entry: EntryPoint,
        reachable: &[bool],
    ) -> Peel {
        let EntryPoint::LoopHeader(h) = entry else {
            return Peel::default();
        };
        let h = h as usize;
        let mut exits: Vec<usize> = loops(&function.code)
            .filter(|ops| *ops.start() < h && h <= *ops.end() && reachable[*ops.start()])
            .map(|ops| *ops.start())
            .collect();
        exits.sort_unstable_by(|a, b| b.cmp(a));
        exits.dedup();
        // Code outside the outermost of those loops runs in the ordinary
        // blocks (no level copies what follows the loops).
        let outer = match exits.last() {
            Some(&start) => {
                let end = loops(&function.code)
                    .filter(|ops| *ops.start() == start)
                    .map(|ops| *ops.end())
                    .max()
                    .unwrap_or(start);
                start..=end
            }
            None => h..=h,
        };
        let mut levels = Vec::new();
        let mut peeled = 0;
        for k in 0..exits.len() {
            let start = if k == 0 { h } else { exits[k - 1] };
            let ops = ops_until(function, start, &exits[k..], &outer);
            peeled += ops.iter().filter(|&&op| op).count();
            if peeled > MAX_PEELED_OPS {
                break;
            }
            levels.push(
                ops.into_iter()
                    .map(|op| op.then(|| b.create_block()))
                    .collect(),
            );
        }
        Peel { levels, exits }
    }

    /// How many levels there are.
    pub(super) fn len(&self) -> usize {
        self.levels.len()
    }

    /// Whether level `level` translates op `pc`.
    pub(super) fn has(&self, level: usize, pc: usize) -> bool {
        self.levels[level][pc].is_some()
    }

    /// The level a level's code reaching op `to`, which it does not
    /// translate, goes on in (None: the ordinary blocks, past the last
    /// level or outside the enclosing loops).
    fn level_after(&self, to: usize) -> Option<usize> {
        let m = self.exits.iter().position(|&e| e == to)?;
        (m + 1 < self.levels.len()).then_some(m + 1)
    }
}

/// The ops that run from `start` on until control reaches one of `stops`
/// or leaves `within` (a stop itself is not one of them, unless it is
/// `start`).
fn ops_until(
    function: &crate::bytecode::Function,
    start: usize,
    stops: &[usize],
    within: &RangeInclusive<usize>,
) -> Vec<bool> {
    let code = &function.code;
    let mut ops = vec![false; code.len()];
    let mut work = vec![start];
    while let Some(pc) = work.pop() {
        if !within.contains(&pc) || (pc != start && stops.contains(&pc)) {
            continue;
        }
        if std::mem::replace(&mut ops[pc], true) {
            continue;
        }
        let op = &code[pc];
        if op.opcode.flow().falls_through() {
            work.push(pc + 1);
        }
        work.extend(function.targets_of(op).map(usize::from));
    }
    ops
}

impl Translator<'_, '_> {
    /// The block of op `to` in level `level` (None: the ordinary blocks),
    /// or where that level goes on when it does not translate `to`.
    pub(super) fn level_block(&self, level: Option<usize>, to: usize) -> Block {
        let Some(l) = level else {
            return self.op_blocks[to];
        };
        match self.peel.levels[l][to] {
            Some(block) => block,
            // Into the next level, through its packed guard if `to` heads
            // a packed loop there.
            None => self.target_block_at(self.peel.level_after(to), None, to),
        }
    }

    /// Plan the levels of the version entered at `entry` (whose reachable
    /// ops are `reachable`), and a packed copy in each level for each of
    /// the ordinary ones whose loop the level translates whole.
    pub(super) fn peel_levels(&mut self, entry: EntryPoint, reachable: &[bool]) {
        let function = &self.module.functions[self.func as usize];
        self.peel = Peel::plan(&mut self.b, function, entry, reachable);
        let ordinary = self.packed.len();
        for level in 0..self.peel.len() {
            for k in 0..ordinary {
                if self.packed[k].ops().all(|pc| self.peel.has(level, pc)) {
                    let copy = self.packed[k].for_level(&mut self.b, level);
                    self.packed.push(copy);
                }
            }
        }
    }

    /// Translate each level's ops into its blocks.
    pub(super) fn translate_levels(&mut self) {
        let code = &self.module.functions[self.func as usize].code;
        for level in 0..self.peel.len() {
            self.in_peel = Some(level);
            for (pc, op) in code.iter().enumerate() {
                let Some(block) = self.peel.levels[level][pc] else {
                    continue;
                };
                // A level's first op is a loop header, a jump target: what
                // the previous op checked is forgotten there.
                self.b.switch_to_block(block);
                // Tagged as in the ordinary blocks: a level's code is its
                // ops' (profilers and debuggers map it back).
                self.b
                    .set_srcloc(cranelift_codegen::ir::SourceLoc::new(pc as u32));
                self.op(pc as u32, *op);
                if self.meter.failed() {
                    break;
                }
            }
        }
        self.in_peel = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(src: &str, h: u32) -> (Vec<Vec<usize>>, Vec<usize>) {
        let m = crate::bytecode::text::parse(src).expect("parses");
        let function = &m.functions[0];
        let entry = EntryPoint::LoopHeader(h);
        let reachable = reachable_ops(function, 0, entry);
        let mut func = Function::new();
        let mut ctx = FunctionBuilderContext::new();
        let mut b = FunctionBuilder::new(&mut func, &mut ctx);
        let peel = Peel::plan(&mut b, function, entry, &reachable);
        let ops = (0..peel.len())
            .map(|l| (0..reachable.len()).filter(|&pc| peel.has(l, pc)).collect())
            .collect();
        (ops, peel.exits)
    }

    /// Per innermost loop of `func` compiled for `entry` and optimised as
    /// Cranelift compiles it: how many loads, selects, compares and
    /// branches it runs per iteration, sorted.
    fn inner_loop_work(m: &Module, func: usize, entry: EntryPoint) -> Vec<[usize; 4]> {
        use cranelift_codegen::ir::Opcode as Clif;
        let isa =
            crate::cranelift_tier::host_isa(crate::cranelift_tier::CraneliftSettings::default())
                .expect("isa");
        let layouts = FrameLayout::all(m);
        let src = Source {
            module: m,
            layouts: &layouts,
            helpers: &HelperAddrs::fake(),
            inline_max_ops: 32,
            inline_max_depth: 4,
            self_id: None,
            profiles: None,
        };
        let mut ctx = cranelift_codegen::Context::new();
        ctx.func.signature = native_entry_signature(&*isa);
        let mut builder_ctx = FunctionBuilderContext::new();
        translate(
            &mut ctx.func,
            &mut builder_ctx,
            src,
            func,
            entry,
            isa.frontend_config(),
            CompileBudget::default(),
        )
        .expect("translates");
        ctx.optimize(&*isa, &mut Default::default())
            .expect("optimises");
        ctx.compute_cfg();
        ctx.compute_domtree();
        ctx.compute_loop_analysis();
        let la = &ctx.loop_analysis;
        let inner = la
            .loops()
            .filter(|&lp| !la.loops().any(|c| la.loop_parent(c) == Some(lp)));
        let mut work: Vec<[usize; 4]> = inner
            .map(|lp| {
                let mut counts = [0; 4];
                for block in ctx.func.layout.blocks() {
                    if la.innermost_loop(block) != Some(lp) {
                        continue;
                    }
                    for inst in ctx.func.layout.block_insts(block) {
                        let k = match ctx.func.dfg.insts[inst].opcode() {
                            Clif::Load | Clif::Uload8 | Clif::Uload16 | Clif::Uload32 => 0,
                            Clif::Select => 1,
                            Clif::Icmp | Clif::Fcmp => 2,
                            Clif::Brif => 3,
                            _ => continue,
                        };
                        counts[k] += 1;
                    }
                }
                counts
            })
            .collect();
        work.sort_unstable();
        work
    }

    #[test]
    fn loop_header_versions_keep_the_enclosing_loops_invariants_out_of_the_inner_loop() {
        let m = crate::bytecode::text::parse(include_str!("../../../benches/programs/rows.tj"))
            .expect("parses");
        // Each innermost loop of a version entered at a header does what
        // one of the whole-function version's does per iteration (the
        // inner loops: an element's load, the interrupt flag's, the bounds
        // and loop compares). Entered at the inner loop's header without
        // levels, its loop was merged with the enclosing ones, reloading
        // the row's kind and length: 7 loads, 4 selects, 9 compares.
        let whole = inner_loop_work(&m, 0, EntryPoint::Start);
        assert_eq!(whole.len(), 3, "{whole:?}");
        for h in crate::bytecode::loop_headers(&m.functions[0].code) {
            let osr = inner_loop_work(&m, 0, EntryPoint::LoopHeader(h));
            assert!(!osr.is_empty());
            for work in &osr {
                assert!(
                    whole.contains(work),
                    "entered at op {h}: an inner loop does {work:?}, the whole function's {whole:?}"
                );
            }
        }
    }

    const NEST: &str = "
func main(i=3) -> none
    iconst i1, 0
outer:
    iconst i2, 0
middle:
    iconst i3, 0
inner:
    addi i3, i3, 1
    jlt  i3, i0, inner
    addi i2, i2, 1
    jlt  i2, i0, middle
    addi i1, i1, 1
    jlt  i1, i0, outer
    ret
end
";

    #[test]
    fn each_enclosing_loop_gets_a_level_up_to_its_header() {
        // outer = 1, middle = 2, inner = 3.
        let (ops, exits) = levels(NEST, 3);
        assert_eq!(exits, [2, 1]);
        // The `ret` after the loops is the ordinary blocks'.
        assert_eq!(ops, [vec![3, 4, 5, 6, 7, 8], vec![2, 3, 4, 5, 6, 7, 8]]);
        let (ops, exits) = levels(NEST, 2);
        assert_eq!((ops, exits), (vec![vec![2, 3, 4, 5, 6, 7, 8]], vec![1]));
        // The outermost loop needs no level; neither does the start.
        assert_eq!(levels(NEST, 1), (vec![], vec![]));
    }
}
