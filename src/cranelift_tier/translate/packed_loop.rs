//! Which loops get a second copy specialised for byte-packed i64 arrays.
//!
//! An i64 array's kind can change under a running loop (a store of a value
//! outside `0..=255` widens it), so every i64 access tests it: a load, a
//! compare and a branch per access, which Cranelift cannot hoist. A loop
//! that accesses its i64 arrays through registers it never writes, and
//! that neither calls nor allocates, can widen an array only through one of
//! its own stores. Such a loop gets a second copy: entered when all those
//! arrays are byte-packed, with their lengths loaded once, and left for the
//! ordinary copy (at the same op, which then redoes it in full) when a
//! store would widen or an index is out of bounds. Both copies share the
//! registers' Variables, so moving between them costs a jump.
//!
//! A copy of the form `for (; i <= n; i++) a[i] = v` also fills the whole
//! range at once (the C version's `memset`) when it is in bounds and `v`
//! fits a byte.

use super::*;
use crate::bytecode::{Bank, Op, Opcode, Operand};
use std::collections::BTreeMap;
use std::ops::RangeInclusive;

/// A loop that gets a copy for byte-packed arrays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct PackedLoop {
    /// The loop's ops: its header (the only op jumped to from outside) to
    /// its last back-edge.
    pub ops: RangeInclusive<usize>,
    /// The reference registers of its i64 accesses that it never writes:
    /// the copy runs while all of them hold byte-packed arrays.
    pub arrays: Vec<u16>,
    /// Set when the loop is a fill.
    pub fill: Option<Fill>,
}

/// A loop `seti a, i, v; addi i, i, 1; j(le|lt) i, bound, header`, or as
/// a compiler writes it, tested at the top with its value set inside:
/// `header: j(ge|gt) i, bound, exit; [iconst v, k;] seti a, i, v; addi i,
/// i, 1; jmp header` (`exit` the op after the loop). It stores `v` at `i`,
/// `i + 1`, ... up to the bound (the bottom-tested form at `i` at least
/// once).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Fill {
    pub array: u16,
    pub index: u16,
    pub value: u16,
    /// The constant an `iconst` in the loop puts in `value` before each
    /// store, if it does.
    pub constant: Option<i64>,
    pub bound: Bound,
    /// The bound is the last index (`jle`, `jgt`) rather than one past it
    /// (`jlt`, `jge`).
    pub inclusive: bool,
}

/// The bound of a fill: a register or an immediate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Bound {
    Reg(u16),
    Imm(i64),
}

/// The loops of `code` that get a packed copy, by header.
pub(super) fn packed_loops(code: &[Op]) -> Vec<PackedLoop> {
    // A switch could enter a loop anywhere: the single-entry test below
    // reads jump targets only.
    if code.iter().any(|op| op.opcode == Opcode::Switch) {
        return Vec::new();
    }
    let mut last_back_edge = BTreeMap::new();
    for (pc, op) in code.iter().enumerate() {
        if let Some(target) = op.target().map(usize::from)
            && target <= pc
        {
            let end = last_back_edge.entry(target).or_insert(pc);
            *end = pc.max(*end);
        }
    }
    last_back_edge
        .into_iter()
        .filter_map(|(header, end)| plan(code, header..=end))
        .collect()
}

fn plan(code: &[Op], ops: RangeInclusive<usize>) -> Option<PackedLoop> {
    let header = *ops.start();
    // One entry, and no loop inside: every jump into the loop from outside
    // goes to the header, and every back-edge inside either goes to the
    // header or leaves the loop.
    let single_entry = code.iter().enumerate().all(|(pc, op)| {
        op.target().map(usize::from).is_none_or(|target| {
            let from_inside = ops.contains(&pc);
            target == header || !ops.contains(&target) || (from_inside && target > pc)
        })
    });
    let body = &code[ops.clone()];
    // Anything that runs other code or allocates could widen an array
    // (a tail call runs other code, or this function's start anew), as
    // can a bulk op storing i64 values (`copy`, `filli`).
    let self_contained = body.iter().all(|op| {
        !matches!(
            op.opcode,
            Opcode::Call
                | Opcode::HostCall
                | Opcode::NewI
                | Opcode::NewF
                | Opcode::NewR
                | Opcode::NewB
                | Opcode::Copy
                | Opcode::FillI
                | Opcode::Closure
                | Opcode::SNew
                | Opcode::CallI
                | Opcode::TCall
                | Opcode::TCallI
        )
    });
    if !single_entry || !self_contained {
        return None;
    }
    let written = |reg: u16| {
        body.iter().any(|op| {
            op.opcode
                .operands()
                .iter()
                .zip(op.fields())
                .any(|(kind, field)| {
                    matches!(kind, Operand::Write(Bank::R) | Operand::Update(Bank::R))
                        && field == reg
                })
        })
    };
    let mut arrays = Vec::new();
    for op in body {
        let array = match op.opcode {
            Opcode::GetI => op.b,
            // A store through an array the loop may change could widen an
            // array another register holds.
            Opcode::SetI if written(op.a) => return None,
            Opcode::SetI => op.a,
            _ => continue,
        };
        if !written(array) && !arrays.contains(&array) {
            arrays.push(array);
        }
    }
    if arrays.is_empty() {
        return None;
    }
    let fill = fill(body, header);
    Some(PackedLoop { ops, arrays, fill })
}

fn fill(body: &[Op], header: usize) -> Option<Fill> {
    // (the test or none, the `iconst` or none, the store, the step, the
    // bound and whether it is inclusive).
    let (constant, store, step, bound, inclusive) = match body {
        [store, step, branch] => {
            let (bound, inclusive) = match branch.opcode {
                Opcode::JLe => (Bound::Reg(branch.b), true),
                Opcode::JLt => (Bound::Reg(branch.b), false),
                Opcode::JLeI => (Bound::Imm(imm16(branch.b)), true),
                Opcode::JLtI => (Bound::Imm(imm16(branch.b)), false),
                _ => return None,
            };
            let counts = branch.a == store.b && usize::from(branch.c) == header;
            counts.then_some((None, store, step, bound, inclusive))?
        }
        [test, rest @ .., step, back] if rest.len() <= 2 && !rest.is_empty() => {
            let (bound, inclusive) = match test.opcode {
                Opcode::JGe => (Bound::Reg(test.b), false),
                Opcode::JGt => (Bound::Reg(test.b), true),
                Opcode::JGeI => (Bound::Imm(imm16(test.b)), false),
                Opcode::JGtI => (Bound::Imm(imm16(test.b)), true),
                _ => return None,
            };
            let (constant, store) = match rest {
                [store] => (None, store),
                [set, store] if set.opcode == Opcode::IConst && set.a == store.c => {
                    (Some((set.a, imm16(set.b))), store)
                }
                _ => return None,
            };
            let loops = back.opcode == Opcode::Jmp
                && usize::from(back.a) == header
                && test.a == store.b
                && usize::from(test.c) == header + body.len();
            loops.then_some((constant, store, step, bound, inclusive))?
        }
        _ => return None,
    };
    let index = store.b;
    let fill = store.opcode == Opcode::SetI
        && store.c != index
        && step.opcode == Opcode::AddI
        && (step.a, step.b, step.c) == (index, index, 1)
        && bound != Bound::Reg(index)
        && constant.is_none_or(|(v, _)| v != index && bound != Bound::Reg(v));
    fill.then_some(Fill {
        array: store.a,
        index,
        value: store.c,
        constant: constant.map(|(_, k)| k),
        bound,
        inclusive,
    })
}

/// A loop's copy for byte-packed arrays (see [`super::packed_loop`]).
pub(super) struct PackedCopy {
    plan: PackedLoop,
    /// Where the loop is entered from outside: it tests the arrays' kinds,
    /// then goes to the copy or the ordinary loop.
    guard: Block,
    /// The copy's op blocks, from the loop's header on.
    blocks: Vec<Block>,
    /// Each of `plan.arrays` with its length, loaded in the guard.
    lens: Vec<(u16, Value)>,
}

impl PackedCopy {
    /// The first op of the loop it copies.
    pub(super) fn header(&self) -> usize {
        *self.plan.ops.start()
    }

    /// The packed copies of `code`'s loops, with their blocks.
    pub(super) fn plan(b: &mut FunctionBuilder<'_>, code: &[Op]) -> Vec<PackedCopy> {
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

impl Translator<'_, '_> {
    /// The block a jump from op `from` (None: from the entry) to op `to`
    /// goes to: in a packed copy, the copy's op if it is in the loop; from
    /// outside a loop with a packed copy to its header, the guard that
    /// picks a copy; else the op's block.
    pub(super) fn target_block(&self, from: Option<usize>, to: usize) -> Block {
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
    pub(super) fn packed_copies(&mut self) {
        let code = &self.module.functions[self.func as usize].code;
        for k in 0..self.packed.len() {
            let (guard, first) = (self.packed[k].guard, self.packed[k].blocks[0]);
            let ops = self.packed[k].plan.ops.clone();
            let ordinary = self.op_blocks[*ops.start()];
            // The guard is the loop header's code; the copy's ops are theirs.
            self.b.set_srcloc(SourceLoc::new(*ops.start() as u32));
            self.b.switch_to_block(guard);
            let mut all_packed = self.b.ins().iconst(I8, 1);
            let mut lens = Vec::new();
            for a in self.packed[k].plan.arrays.clone() {
                let (_, _, header) = self.array_header(a);
                let (_, packed) = self.i64_kind(header);
                all_packed = self.b.ins().band(all_packed, packed);
                let len = self
                    .b
                    .ins()
                    .load(I64, invariant(), header, ARRAY_LEN_OFFSET as i32);
                lens.push((a, len));
            }
            self.packed[k].lens = lens;
            // The fill's array is one of the copy's: the loop stores to it.
            let fill = self.packed[k]
                .plan
                .fill
                .and_then(|f| Some((f, self.packed_len(k, f.array)?)));
            let fill_block = fill.map(|_| self.b.create_block());
            let start = fill_block.unwrap_or(first);
            self.b.ins().brif(all_packed, start, &[], ordinary, &[]);
            if let (Some((fill, len)), Some(block)) = (fill, fill_block) {
                // The loop clears the checked accesses at its header, so
                // the op after it expects none, and this path has made none.
                let exit = self.target_block(Some(*ops.end()), ops.end() + 1);
                self.b.switch_to_block(block);
                self.fill(fill, len, exit, first);
            }
            self.in_copy = Some(k);
            for pc in ops {
                let block = self.target_block(Some(pc), pc);
                self.b.switch_to_block(block);
                self.b.set_srcloc(SourceLoc::new(pc as u32));
                self.op(pc as u32, code[pc]);
            }
            self.in_copy = None;
        }
    }

    /// The length of array register `array` in packed copy `k`, if the
    /// copy assumes that array byte-packed.
    pub(super) fn packed_len(&self, k: usize, array: u16) -> Option<Value> {
        let lens = &self.packed[k].lens;
        lens.iter().find(|&&(a, _)| a == array).map(|&(_, len)| len)
    }

    /// In a packed copy, the length of the array an i64 access goes
    /// through, when the copy assumes that array byte-packed.
    pub(super) fn packed_access_len(&self, op: Op) -> Option<Value> {
        let array = if op.opcode == Opcode::GetI {
            op.b
        } else {
            op.a
        };
        self.packed_len(self.in_copy?, array)
    }

    /// An i64 access in a packed copy, to an array known to be byte-packed
    /// and of length `len`: an index in bounds (and for a store, a value
    /// that fits a byte) takes one compare; anything else goes to the same
    /// op in the ordinary loop, which traps or widens.
    pub(super) fn packed_access(&mut self, pc: u32, op: Op, len: Value) {
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
        match value {
            Some(v) => self.store_packed(r, idx, v),
            None => {
                let v = self.load_packed(r, idx);
                self.set(Bank::I, op.a, v);
            }
        }
    }

    /// A fill loop (see [`Fill`]) at once, when it stays in bounds (it
    /// stores from its index up to the bound, at least once) and its value
    /// fits a byte: one `memset`, and the index (and the value's register)
    /// left as the loop leaves them; then on to `exit`. Otherwise on to
    /// the copy's loop at `copy`.
    /// A fill is bounded by the array's length, so it polls no interrupt.
    pub(super) fn fill(&mut self, fill: Fill, len: Value, exit: Block, copy: Block) {
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
        let v = match fill.constant {
            Some(k) => self.b.ins().iconst(I64, k),
            None => self.get(Bank::I, fill.value),
        };
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
        if fill.constant.is_some() {
            self.set(Bank::I, fill.value, v);
        }
        self.b.ins().jump(exit, &[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytecode::text::parse;

    fn plans(src: &str) -> Vec<PackedLoop> {
        let module = parse(src).unwrap();
        packed_loops(&module.functions[0].code)
    }

    #[test]
    fn sieves_loops_are_packed_and_its_clear_loop_is_a_fill() {
        let src = std::fs::read_to_string("programs/sieve.tj").unwrap();
        let got = plans(&src);
        let ops: Vec<_> = got.iter().map(|l| l.ops.clone()).collect();
        // clear, inner and count; not outer, which holds inner.
        assert_eq!(ops, [1..=3, 10..=12, 18..=22]);
        assert!(got.iter().all(|l| l.arrays == [0]));
        let fill = Fill {
            array: 0,
            index: 1,
            value: 4,
            constant: None,
            bound: Bound::Reg(0),
            inclusive: true,
        };
        assert_eq!(got[0].fill, Some(fill));
        assert_eq!((got[1].fill, got[2].fill), (None, None));
    }

    #[test]
    fn loops_that_may_widen_otherwise_or_have_two_entries_get_no_copy() {
        let loop_with = |body: &str| {
            format!(
                "func f(r, i) -> none\nnewi r1, i0\nloop:\n{body}\naddi i1, i1, 1\njlt i1, i0, loop\nret\nend\n"
            )
        };
        for body in [
            "call -, f, 0",                                // a call may widen anything
            "newi r2, i0",                                 // so may the collector's run
            "rmov r0, r1\nseti r0, i1, i1",                // a store through a changed register
            "addi i2, i2, 1",                              // no array at all
            "geti i2, r1, i1\nclosure r2, f, r1",          // allocates
            "geti i2, r1, i1\njz i2, on\ntcall f, 0\non:", // runs other code
        ] {
            assert_eq!(plans(&loop_with(body)), [], "{body}");
        }
        let loads = plans(&loop_with("rmov r0, r1\ngeti i2, r0, i1\ngeti i3, r1, i1"));
        assert_eq!(loads.len(), 1);
        assert_eq!(
            loads[0].arrays,
            [1],
            "a changed register is read the usual way"
        );
        let second_entry = "func f(r, i) -> none\njmp mid\nloop:\ngeti i2, r0, i1\nmid:\naddi i1, i1, 1\njlt i1, i0, loop\nret\nend\n";
        assert_eq!(plans(second_entry), []);
    }

    #[test]
    fn fills_count_up_by_one_to_a_bound_other_than_the_index() {
        let fill_of = |body: &str| {
            let src = format!("func f(r, i) -> none\nloop:\n{body}\nret\nend\n");
            plans(&src).first().and_then(|l| l.fill)
        };
        let fill = fill_of("seti r0, i1, i2\naddi i1, i1, 1\njlti i1, 100, loop").unwrap();
        assert_eq!((fill.bound, fill.inclusive), (Bound::Imm(100), false));
        for body in [
            "seti r0, i1, i1\naddi i1, i1, 1\njle i1, i0, loop", // stores the index
            "seti r0, i1, i2\naddi i1, i1, 2\njle i1, i0, loop", // steps by 2
            "seti r0, i1, i2\naddi i1, i1, 1\njle i1, i1, loop", // bound is the index
            "seti r0, i1, i2\naddi i1, i1, 1\njge i0, i1, loop", // other compare
            "seti r0, i1, i2\naddi i2, i1, 1\njle i1, i0, loop", // steps another register
        ] {
            assert_eq!(fill_of(body), None, "{body}");
        }
        // Tested at the top, as Lark writes `for i in 0..n { a[i] = false }`.
        let top = |body: &str| fill_of(&format!("{body}\njmp loop\nexit:"));
        let fill = top("jge i1, i0, exit\niconst i3, 0\nseti r0, i1, i3\naddi i1, i1, 1").unwrap();
        assert_eq!(
            (fill.value, fill.constant, fill.bound, fill.inclusive),
            (3, Some(0), Bound::Reg(0), false)
        );
        let fill = top("jgti i1, 9, exit\nseti r0, i1, i2\naddi i1, i1, 1").unwrap();
        assert_eq!(
            (fill.constant, fill.bound, fill.inclusive),
            (None, Bound::Imm(9), true)
        );
        for body in [
            "jge i1, i0, exit\niconst i0, 0\nseti r0, i1, i0\naddi i1, i1, 1", // sets the bound
            "jge i1, i0, exit\niconst i3, 0\nseti r0, i1, i2\naddi i1, i1, 1", // stores another
            "jle i1, i0, exit\nseti r0, i1, i2\naddi i1, i1, 1",               // other compare
            "jge i2, i0, exit\nseti r0, i1, i2\naddi i1, i1, 1",               // tests another
        ] {
            assert_eq!(top(body), None, "{body}");
        }
    }
}
