//! The code generator: lowers a checked program through the public
//! [`ModuleBuilder`], as any language implementer outside the crate would.
//!
//! The code is deliberately plain: every local and parameter owns one
//! register for its whole function, every intermediate value gets a fresh
//! register, conditions compile to fused compare-and-branch ops, and calls
//! pass their arguments through the builder's windows. Making this fast is
//! the JIT tiers' job, not the frontend's.

use std::collections::HashMap;

use super::LangError;
use super::ast::*;
use super::types::{Builtin, Checked, Resolved, Type, is_identity_type};
use crate::bytecode::op::{FloatBinOp, FloatUnOp, IntBinOp};
use crate::bytecode::{
    AnyReg, Bank, Cmp, FReg, FieldRef, FuncRef, FunctionBuilder, GlobalRef, HostRef, IReg, Label,
    Module, ModuleBuilder, RReg, Signature, StructRef, TypeRef,
};

/// Digits after the point when `print` shows a float without `: digits`.
pub const DEFAULT_FLOAT_DIGITS: u16 = 6;

/// The fewest values a `match` needs for a jump table (`switch`): with
/// fewer, compares are as quick. The values must also be dense: the table
/// spans at most twice as many entries as there are values.
pub const MATCH_TABLE_MIN_CASES: usize = 4;

/// The user trap code of a function that ends without returning a value
/// (the checker rejects such functions, so it marks a compiler bug).
pub const MISSING_RETURN_TRAP: i16 = 1;

/// The hidden first field of every root class: the object's vtable, a ref
/// array of function references, one per virtual method slot.
pub const VTABLE_FIELD: &str = "$vtable";

/// A struct type no object ever has, declared when the program casts down
/// the hierarchy: reading its field from an object of the wrong class is
/// how a failed cast traps with `WrongType` (the only op that traps so).
pub const CAST_FAILED: &str = "$cast_failed";

/// The bytecode of a class: a struct type, a vtable shared by its objects
/// (a global, built by the constructor on first use), one function type per
/// vtable slot, and a constructor function `Name.$new() -> r`.
struct ClassCode {
    strukt: StructRef,
    vtable_field: FieldRef,
    fields: HashMap<String, FieldRef>,
    slot_types: Vec<TypeRef>,
    new: FuncRef,
}

struct Loop {
    continue_to: Label,
    break_to: Label,
}

/// A closure's environment: a struct with one field per captured value.
struct LambdaCode {
    env: StructRef,
    fields: Vec<FieldRef>,
}

/// What every function's code generator shares.
struct Context<'a> {
    checked: &'a Checked,
    funcs: &'a [FuncRef],
    imports: &'a [HostRef],
    globals: &'a [GlobalRef],
    classes: &'a [ClassCode],
    lambdas: &'a [LambdaCode],
    /// The box struct of each bank (`$box.i`, ...) and its one field, when
    /// a closure captures a `var` of that bank.
    boxes: [Option<(StructRef, FieldRef)>; 3],
    /// The field of [`CAST_FAILED`], when a cast down the hierarchy needs it.
    cast_failed: Option<FieldRef>,
    /// The type of every function value's signature, by its banks.
    func_types: &'a HashMap<(Vec<Bank>, Option<Bank>), TypeRef>,
}

struct FnGen<'a, 'm> {
    fb: FunctionBuilder<'m>,
    cx: &'a Context<'a>,
    locals: HashMap<NodeId, AnyReg>,
    loops: Vec<Loop>,
    /// Whether the next op can be reached (false after a return, break or
    /// continue until a label is bound).
    reachable: bool,
}

fn sig_of(params: &[Type], result: &Type) -> Signature {
    Signature::new(
        params.iter().filter_map(Type::bank).collect::<Vec<_>>(),
        result.bank(),
    )
}

fn int_op(op: BinOp) -> IntBinOp {
    match op {
        BinOp::Add => IntBinOp::Add,
        BinOp::Sub => IntBinOp::Sub,
        BinOp::Mul => IntBinOp::Mul,
        BinOp::Div => IntBinOp::Div,
        BinOp::Rem => IntBinOp::Rem,
        BinOp::BitAnd => IntBinOp::And,
        BinOp::BitOr => IntBinOp::Or,
        BinOp::BitXor => IntBinOp::Xor,
        BinOp::Shl => IntBinOp::Shl,
        BinOp::Shr => IntBinOp::Shr,
        _ => IntBinOp::Ushr,
    }
}

fn float_op(op: BinOp) -> FloatBinOp {
    match op {
        BinOp::Add => FloatBinOp::Add,
        BinOp::Sub => FloatBinOp::Sub,
        BinOp::Mul => FloatBinOp::Mul,
        _ => FloatBinOp::Div,
    }
}

fn cmp_of(op: BinOp) -> Option<Cmp> {
    Some(match op {
        BinOp::Eq => Cmp::Eq,
        BinOp::Ne => Cmp::Ne,
        BinOp::Lt => Cmp::Lt,
        BinOp::Le => Cmp::Le,
        BinOp::Gt => Cmp::Gt,
        BinOp::Ge => Cmp::Ge,
        _ => return None,
    })
}

/// The value of `e` when it is an int literal that fits an op's 16-bit
/// immediate (`addi`, `jlti`, ...).
fn small_literal(e: &Expr) -> Option<i16> {
    match e.kind {
        ExprKind::Int(v) => i16::try_from(v).ok(),
        _ => None,
    }
}

/// The comparison that holds exactly when `c` does not (for integers).
fn negate(c: Cmp) -> Cmp {
    match c {
        Cmp::Eq => Cmp::Ne,
        Cmp::Ne => Cmp::Eq,
        Cmp::Lt => Cmp::Ge,
        Cmp::Le => Cmp::Gt,
        Cmp::Gt => Cmp::Le,
        Cmp::Ge => Cmp::Lt,
    }
}

impl FnGen<'_, '_> {
    fn ty(&self, e: &Expr) -> &Type {
        self.cx.checked.type_of(e.id)
    }

    fn new_reg(&mut self, bank: Bank) -> AnyReg {
        match bank {
            Bank::I => self.fb.new_i().into(),
            Bank::F => self.fb.new_f().into(),
            Bank::R => self.fb.new_r().into(),
        }
    }

    fn bind(&mut self, label: Label) {
        self.fb.bind(label);
        self.reachable = true;
    }

    fn mov(&mut self, dst: AnyReg, src: AnyReg) {
        match (dst, src) {
            (AnyReg::I(d), AnyReg::I(s)) => self.fb.mov(d, s),
            (AnyReg::F(d), AnyReg::F(s)) => self.fb.mov(d, s),
            (AnyReg::R(d), AnyReg::R(s)) => self.fb.mov(d, s),
            // The checker gives both sides one type, hence one bank.
            _ => {}
        }
    }

    fn block(&mut self, b: &Block) {
        for s in &b.stmts {
            self.stmt(s);
        }
    }

    fn stmt(&mut self, s: &Stmt) {
        match &s.kind {
            StmtKind::Var(d) => {
                let ty = self.cx.checked.type_of(d.id).clone();
                let Some(bank) = ty.bank() else { return };
                if let Some((strukt, field)) = self.box_of(d.id) {
                    // A fresh box each time the declaration runs.
                    let b = self.fb.new_r();
                    self.fb.new_struct(b, strukt);
                    if let Some(init) = &d.init {
                        let v = self.value(init);
                        self.fb.field_set(b, field, v);
                    }
                    self.locals.insert(d.id, b.into());
                    return;
                }
                let reg = self.new_reg(bank);
                if let Some(init) = &d.init {
                    self.store(reg, init);
                }
                self.locals.insert(d.id, reg);
            }
            StmtKind::Assign { target, op, value } => self.assign(target, *op, value),
            StmtKind::If { arms, otherwise } => {
                // `if c { break }` and `if c { continue }`: one branch.
                if let ([(cond, then)], None) = (arms.as_slice(), otherwise)
                    && let [only] = then.stmts.as_slice()
                    && let Some(target) = self.loop_jump(&only.kind)
                {
                    self.cond_jump(cond, target, true);
                    return;
                }
                let end = self.fb.new_label();
                let mut reaches_end = false;
                for (k, (cond, then)) in arms.iter().enumerate() {
                    let last = k + 1 == arms.len() && otherwise.is_none();
                    let next = if last { end } else { self.fb.new_label() };
                    self.cond_jump(cond, next, false);
                    reaches_end |= last;
                    self.block(then);
                    if self.reachable && !last {
                        self.fb.jump(end);
                        reaches_end = true;
                    }
                    reaches_end |= last && self.reachable;
                    if !last {
                        self.bind(next);
                    }
                }
                if let Some(other) = otherwise {
                    self.block(other);
                    reaches_end |= self.reachable;
                }
                if reaches_end {
                    self.bind(end);
                }
            }
            StmtKind::Match {
                value,
                arms,
                default,
            } => self.match_statement(value, arms, default.as_ref()),
            StmtKind::While { cond, body } => {
                let head = self.fb.new_label();
                let exit = self.fb.new_label();
                self.bind(head);
                self.cond_jump(cond, exit, false);
                self.loop_body(body, head, exit);
                self.fb.jump(head);
                self.reachable = false;
                // Bound even when nothing jumps here (`while true`): the
                // function's closing `ret` or trap then follows it.
                self.bind(exit);
            }
            StmtKind::For {
                var,
                start,
                end,
                body,
            } => {
                let i = self.fb.new_i();
                self.store(i.into(), start);
                let limit = self.fb.new_i();
                self.store(limit.into(), end);
                self.locals.insert(var.id, i.into());
                let head = self.fb.new_label();
                let step = self.fb.new_label();
                let exit = self.fb.new_label();
                self.bind(head);
                self.fb.branch(Cmp::Ge, i, limit, exit);
                self.loop_body(body, step, exit);
                self.bind(step);
                self.fb.int_op_imm(IntBinOp::Add, i, i, 1);
                self.fb.jump(head);
                self.bind(exit);
            }
            StmtKind::Break | StmtKind::Continue => {
                if let Some(target) = self.loop_jump(&s.kind) {
                    self.fb.jump(target);
                    self.reachable = false;
                }
            }
            StmtKind::Return(value) => {
                match value.as_ref().map(|e| self.value(e)) {
                    None => self.fb.ret(),
                    Some(AnyReg::I(r)) => self.fb.ret_i(r),
                    Some(AnyReg::F(r)) => self.fb.ret_f(r),
                    Some(AnyReg::R(r)) => self.fb.ret_r(r),
                }
                self.reachable = false;
            }
            StmtKind::Expr(e) => {
                self.expr(e);
            }
            StmtKind::Block(b) => self.block(b),
        }
    }

    /// A `match`: a jump table (`switch`) when its values are dense,
    /// else a compare for each value; then the arms, none falling through.
    fn match_statement(&mut self, value: &Expr, arms: &[MatchArm], default: Option<&Block>) {
        let v = self.int(value);
        let end = self.fb.new_label();
        let labels: Vec<Label> = arms.iter().map(|_| self.fb.new_label()).collect();
        let otherwise = if default.is_some() {
            self.fb.new_label()
        } else {
            end
        };
        let cases: Vec<(i64, Label)> = arms
            .iter()
            .zip(&labels)
            .flat_map(|(a, &l)| a.values.iter().map(move |&(v, _)| (v, l)))
            .collect();
        let (min, max) = cases
            .iter()
            .fold((i64::MAX, i64::MIN), |(lo, hi), &(v, _)| {
                (lo.min(v), hi.max(v))
            });
        let span = i128::from(max) - i128::from(min) + 1;
        if cases.len() >= MATCH_TABLE_MIN_CASES && span <= 2 * cases.len() as i128 {
            // Dense: index = v - min (wrapping: a value outside min..=max
            // wraps outside the table too, to the default).
            let index = match i16::try_from(min.wrapping_neg()) {
                Ok(0) => v,
                Ok(neg) if min != i64::MIN => {
                    let i = self.fb.new_i();
                    self.fb.int_op_imm(IntBinOp::Add, i, v, neg);
                    i
                }
                _ => {
                    let base = self.fb.new_i();
                    self.fb.iconst(base, min);
                    let i = self.fb.new_i();
                    self.fb.int_op(IntBinOp::Sub, i, v, base);
                    i
                }
            };
            let mut table = vec![otherwise; span as usize];
            for &(value, label) in &cases {
                table[(i128::from(value) - i128::from(min)) as usize] = label;
            }
            self.fb.switch(index, &table, otherwise);
        } else {
            for &(value, label) in &cases {
                match i16::try_from(value) {
                    Ok(imm) => self.fb.branch_imm(Cmp::Eq, v, imm, label),
                    Err(_) => {
                        let c = self.fb.new_i();
                        self.fb.iconst(c, value);
                        self.fb.branch(Cmp::Eq, v, c, label);
                    }
                }
            }
            self.fb.jump(otherwise);
        }
        self.reachable = false;
        let mut reaches_end = default.is_none();
        for (arm, &label) in arms.iter().zip(&labels) {
            self.bind(label);
            self.block(&arm.body);
            if self.reachable {
                self.fb.jump(end);
                reaches_end = true;
            }
        }
        if let Some(b) = default {
            self.bind(otherwise);
            self.block(b);
            reaches_end |= self.reachable;
        }
        if reaches_end {
            self.bind(end);
        } else {
            self.reachable = false;
        }
    }

    /// The box struct and field of local `id` when a closure captures it.
    fn box_of(&self, id: NodeId) -> Option<(StructRef, FieldRef)> {
        if !self.cx.checked.boxed.contains(&id) {
            return None;
        }
        let bank = self.cx.checked.type_of(id).bank()?;
        self.cx.boxes[bank.index()]
    }

    /// The register holding local `id`'s value: its own, or for a boxed
    /// `var` a fresh one loaded from the box.
    fn local(&mut self, id: NodeId) -> Option<AnyReg> {
        let reg = *self.locals.get(&id)?;
        match (self.box_of(id), reg) {
            (Some((_, field)), AnyReg::R(b)) => {
                let v = self.new_reg(field.bank());
                self.fb.field_get(v, b, field);
                Some(v)
            }
            _ => Some(reg),
        }
    }

    /// `callee(args)` through a function value of the callee's type.
    fn call_value(&mut self, e: &Expr, callee: RReg, args: &[Expr]) -> Option<AnyReg> {
        let regs: Vec<AnyReg> = args.iter().map(|a| self.value(a)).collect();
        let result = self.ty(e).bank();
        let key = (regs.iter().map(|r| r.bank()).collect::<Vec<_>>(), result);
        let ty = *self.cx.func_types.get(&key)?;
        let dst = result.map(|b| self.new_reg(b));
        self.fb.call_indirect(ty, callee, &regs, dst);
        dst
    }

    /// Where a `break` or `continue` statement jumps.
    fn loop_jump(&self, kind: &StmtKind) -> Option<Label> {
        let l = self.loops.last()?;
        match kind {
            StmtKind::Break => Some(l.break_to),
            StmtKind::Continue => Some(l.continue_to),
            _ => None,
        }
    }

    fn loop_body(&mut self, body: &Block, continue_to: Label, break_to: Label) {
        self.loops.push(Loop {
            continue_to,
            break_to,
        });
        self.block(body);
        self.loops.pop();
    }

    /// `dst = e`, computing constants and arithmetic straight into `dst`
    /// (every operand is read before the op writes `dst`, so `x = x + 1`
    /// is safe) and moving any other value there.
    fn store(&mut self, dst: AnyReg, e: &Expr) {
        match (&e.kind, dst) {
            (ExprKind::Int(v), AnyReg::I(d)) => self.fb.iconst(d, *v),
            (ExprKind::Bool(b), AnyReg::I(d)) => self.fb.iconst(d, i64::from(*b)),
            (ExprKind::Float(v), AnyReg::F(d)) => self.fb.fconst(d, *v),
            (ExprKind::Binary(op, l, r), _)
                if !op.is_comparison() && !matches!(op, BinOp::And | BinOp::Or) =>
            {
                let a = self.value(l);
                if let (AnyReg::I(a), AnyReg::I(d), Some(imm)) = (a, dst, small_literal(r)) {
                    self.fb.int_op_imm(int_op(*op), d, a, imm);
                } else {
                    let b = self.value(r);
                    self.arith_into(*op, dst, a, b);
                }
            }
            _ => {
                let v = self.value(e);
                self.mov(dst, v);
            }
        }
    }

    /// What `target op= v` stores: `v` itself for a plain assignment, else
    /// the target's current value (`load` reads it into a fresh register of
    /// `bank`) combined with `v`.
    fn updated(
        &mut self,
        op: Option<BinOp>,
        v: AnyReg,
        bank: Bank,
        load: impl FnOnce(&mut Self, AnyReg),
    ) -> AnyReg {
        let Some(op) = op else {
            return v;
        };
        let cur = self.new_reg(bank);
        load(self, cur);
        self.arith_into(op, cur, cur, v);
        cur
    }

    fn assign(&mut self, target: &Expr, op: Option<BinOp>, value: &Expr) {
        match &target.kind {
            ExprKind::Name(_) => match self.cx.checked.resolved.get(&target.id) {
                Some(Resolved::Local(decl)) => {
                    let Some(&reg) = self.locals.get(decl) else {
                        return;
                    };
                    if let (Some((_, field)), AnyReg::R(b)) = (self.box_of(*decl), reg) {
                        let v = self.value(value);
                        let v = self
                            .updated(op, v, field.bank(), |t, cur| t.fb.field_get(cur, b, field));
                        self.fb.field_set(b, field, v);
                        return;
                    }
                    match (op, reg, small_literal(value)) {
                        (None, _, _) => self.store(reg, value),
                        (Some(op), AnyReg::I(r), Some(imm)) => {
                            self.fb.int_op_imm(int_op(op), r, r, imm);
                        }
                        (Some(op), _, _) => {
                            let v = self.value(value);
                            self.arith_into(op, reg, reg, v);
                        }
                    }
                }
                Some(&Resolved::Global(g)) => {
                    let g = self.cx.globals[g];
                    let v = self.value(value);
                    let v = self.updated(op, v, v.bank(), |t, cur| t.fb.global_get(cur, g));
                    self.fb.global_set(g, v);
                }
                _ => {}
            },
            ExprKind::Field(obj, name) => {
                let Some(field) = self.field_ref(obj, name) else {
                    return;
                };
                let o = self.reference(obj);
                let v = self.value(value);
                let v = self.updated(op, v, field.bank(), |t, cur| t.fb.field_get(cur, o, field));
                self.fb.field_set(o, field, v);
            }
            ExprKind::Index(array, index) => {
                let a = self.reference(array);
                let i = self.int(index);
                let v = self.value(value);
                let bytes = *self.ty(array) == Type::Bytes;
                let v = match op {
                    None => v,
                    Some(op) if bytes => {
                        let cur = self.fb.new_i();
                        self.fb.get_b(cur, a, i);
                        self.arith_into(op, cur.into(), cur.into(), v);
                        cur.into()
                    }
                    Some(op) => {
                        let cur = self.element(a, i, self.ty(target).clone());
                        self.arith_into(op, cur, cur, v);
                        cur
                    }
                };
                match v {
                    AnyReg::I(v) if bytes => self.fb.set_b(a, i, v),
                    AnyReg::I(v) => self.fb.set_i(a, i, v),
                    AnyReg::F(v) => self.fb.set_f(a, i, v),
                    AnyReg::R(v) => self.fb.set_r(a, i, v),
                }
            }
            _ => {}
        }
    }

    /// `dst = a op b` for arithmetic (not comparison) operators.
    fn arith_into(&mut self, op: BinOp, dst: AnyReg, a: AnyReg, b: AnyReg) {
        match (dst, a, b) {
            (AnyReg::I(d), AnyReg::I(a), AnyReg::I(b)) => self.fb.int_op(int_op(op), d, a, b),
            (AnyReg::F(d), AnyReg::F(a), AnyReg::F(b)) => self.fb.float_op(float_op(op), d, a, b),
            (AnyReg::R(d), AnyReg::R(a), AnyReg::R(b)) => {
                let s = self.concat(a, b);
                self.fb.mov(d, s);
            }
            // The checker allows arithmetic on ints and floats, and `+` on
            // strings, only.
            _ => {}
        }
    }

    /// A new string of `a`'s bytes then `b`'s. Strings made at run time
    /// are byte arrays (which every string op accepts); the language
    /// never writes to them.
    fn concat(&mut self, a: RReg, b: RReg) -> RReg {
        let (la, lb, n) = (self.fb.new_i(), self.fb.new_i(), self.fb.new_i());
        self.fb.len(la, a);
        self.fb.len(lb, b);
        self.fb.int_op(IntBinOp::Add, n, la, lb);
        let r = self.fb.new_r();
        self.fb.new_bytes(r, n);
        let zero = self.fb.new_i();
        self.fb.iconst(zero, 0);
        self.copy_elements(r, zero, a, zero, la);
        self.copy_elements(r, la, b, zero, lb);
        r
    }

    /// `copy` of `n` elements (bytes) of `src` from `from` to `dst` from
    /// `at`.
    fn copy_elements(&mut self, dst: RReg, at: IReg, src: RReg, from: IReg, n: IReg) {
        let run = self.fb.new_i_run(3);
        self.fb.mov(run, at);
        self.fb.mov(IReg(run.0.saturating_add(1)), from);
        self.fb.mov(IReg(run.0.saturating_add(2)), n);
        self.fb.copy(dst, src, run);
    }

    /// A new string of `n` bytes of `src` from `from`.
    fn substring(&mut self, src: RReg, from: IReg, n: IReg) -> RReg {
        let r = self.fb.new_r();
        self.fb.new_bytes(r, n);
        let zero = self.fb.new_i();
        self.fb.iconst(zero, 0);
        self.copy_elements(r, zero, src, from, n);
        r
    }

    /// The field `name` of the class `obj` has.
    fn field_ref(&self, obj: &Expr, name: &str) -> Option<FieldRef> {
        let &Type::Class(c, _) = self.ty(obj) else {
            return None;
        };
        self.cx.classes[c].fields.get(name).copied()
    }

    fn element(&mut self, array: RReg, index: IReg, elem: Type) -> AnyReg {
        let dst = self.new_reg(elem.bank().unwrap_or(Bank::I));
        match dst {
            AnyReg::I(d) => self.fb.get_i(d, array, index),
            AnyReg::F(d) => self.fb.get_f(d, array, index),
            AnyReg::R(d) => self.fb.get_r(d, array, index),
        }
        dst
    }

    /// Jump to `target` when `e` (a bool) is `when`; fall through otherwise.
    fn cond_jump(&mut self, e: &Expr, target: Label, when: bool) {
        match &e.kind {
            ExprKind::Bool(b) => {
                if *b == when {
                    self.fb.jump(target);
                    self.reachable = false;
                }
            }
            ExprKind::Unary(UnOp::Not, inner) => self.cond_jump(inner, target, !when),
            ExprKind::Binary(BinOp::And | BinOp::Or, l, r) => {
                let is_and = matches!(e.kind, ExprKind::Binary(BinOp::And, ..));
                // `a && b` is false as soon as `a` is; `a || b` true.
                if is_and != when {
                    self.cond_jump(l, target, when);
                    self.cond_jump(r, target, when);
                } else {
                    let skip = self.fb.new_label();
                    self.cond_jump(l, skip, !when);
                    self.cond_jump(r, target, when);
                    self.bind(skip);
                }
            }
            ExprKind::Binary(op @ (BinOp::Eq | BinOp::Ne), l, r) if self.by_identity(l, r) => {
                let jump_if_same = (*op == BinOp::Eq) == when;
                match self.null_test(l, r) {
                    Some(other) => {
                        let a = self.reference(other);
                        if jump_if_same {
                            self.fb.jnull(a, target);
                        } else {
                            self.fb.jnnull(a, target);
                        }
                    }
                    None => {
                        let a = self.reference(l);
                        let b = self.reference(r);
                        let same = self.fb.new_i();
                        self.fb.ref_eq(same, a, b);
                        if jump_if_same {
                            self.fb.jnz(same, target);
                        } else {
                            self.fb.jz(same, target);
                        }
                    }
                }
            }
            ExprKind::Binary(op, l, r)
                if op.is_comparison() && matches!(self.ty(l), Type::Int | Type::Bool) =>
            {
                let cmp = cmp_of(*op).unwrap_or(Cmp::Eq);
                let cmp = if when { cmp } else { negate(cmp) };
                let a = self.int(l);
                match small_literal(r) {
                    Some(imm) => self.fb.branch_imm(cmp, a, imm, target),
                    None => {
                        let b = self.int(r);
                        self.fb.branch(cmp, a, b, target);
                    }
                }
            }
            _ => {
                // Float comparisons included: `!(a < b)` is not `a >= b`
                // with a NaN, so the 0/1 result is tested.
                let v = self.int(e);
                if when {
                    self.fb.jnz(v, target);
                } else {
                    self.fb.jz(v, target);
                }
            }
        }
    }

    fn value(&mut self, e: &Expr) -> AnyReg {
        self.expr(e).unwrap_or_else(|| self.fb.new_i().into())
    }

    fn int(&mut self, e: &Expr) -> IReg {
        match self.value(e) {
            AnyReg::I(r) => r,
            _ => self.fb.new_i(),
        }
    }

    fn float(&mut self, e: &Expr) -> FReg {
        match self.value(e) {
            AnyReg::F(r) => r,
            _ => self.fb.new_f(),
        }
    }

    fn reference(&mut self, e: &Expr) -> RReg {
        match self.value(e) {
            AnyReg::R(r) => r,
            _ => self.fb.new_r(),
        }
    }

    /// The register holding `e`'s value; `None` for a call returning
    /// nothing. A local's own register is returned as is.
    fn expr(&mut self, e: &Expr) -> Option<AnyReg> {
        Some(match &e.kind {
            ExprKind::Int(v) => {
                let r = self.fb.new_i();
                self.fb.iconst(r, *v);
                r.into()
            }
            ExprKind::Bool(b) => {
                let r = self.fb.new_i();
                self.fb.iconst(r, i64::from(*b));
                r.into()
            }
            ExprKind::Float(v) => {
                let r = self.fb.new_f();
                self.fb.fconst(r, *v);
                r.into()
            }
            ExprKind::Str(s) => {
                let r = self.fb.new_r();
                self.fb.sconst(r, s);
                r.into()
            }
            ExprKind::Null => {
                let r = self.fb.new_r();
                self.fb.rnull(r);
                r.into()
            }
            ExprKind::Name(_) => match self.cx.checked.resolved.get(&e.id) {
                Some(&Resolved::Func(f)) => {
                    let r = self.fb.new_r();
                    self.fb.func_ref(r, self.cx.funcs[f]);
                    r.into()
                }
                Some(Resolved::Local(decl)) => self.local(*decl)?,
                Some(&Resolved::Global(g)) => {
                    let bank = self.ty(e).bank()?;
                    let r = self.new_reg(bank);
                    self.fb.global_get(r, self.cx.globals[g]);
                    r
                }
                _ => return None,
            },
            ExprKind::Unary(op, inner) => match (op, self.value(inner)) {
                (UnOp::Neg, AnyReg::I(v)) => {
                    let r = self.fb.new_i();
                    self.fb.neg(r, v);
                    r.into()
                }
                (UnOp::Neg, AnyReg::F(v)) => {
                    let r = self.fb.new_f();
                    self.fb.float_unop(FloatUnOp::Neg, r, v);
                    r.into()
                }
                (UnOp::Not, AnyReg::I(v)) => {
                    let r = self.fb.new_i();
                    self.fb.int_op_imm(IntBinOp::Xor, r, v, 1);
                    r.into()
                }
                (_, AnyReg::I(v)) => {
                    let r = self.fb.new_i();
                    self.fb.not(r, v);
                    r.into()
                }
                _ => return None,
            },
            ExprKind::Binary(op, l, r) => return Some(self.binary(e, *op, l, r)),
            ExprKind::Call(_, args) => return self.call(e, args),
            ExprKind::CallValue(callee, args) => {
                let f = self.reference(callee);
                return self.call_value(e, f, args);
            }
            ExprKind::Print { newline, args } => {
                for a in args {
                    self.print(a);
                }
                if *newline {
                    self.fb.prints("\n");
                }
                return None;
            }
            ExprKind::Index(array, index) => {
                let a = self.reference(array);
                let i = self.int(index);
                if matches!(self.ty(array), Type::Str | Type::Bytes) {
                    let r = self.fb.new_i();
                    self.fb.get_b(r, a, i);
                    r.into()
                } else {
                    self.element(a, i, self.ty(e).clone())
                }
            }
            ExprKind::NewArray(_, len) => {
                let n = self.int(len);
                let Type::Array(elem) = self.ty(e).clone() else {
                    return None;
                };
                let r = self.fb.new_r();
                self.fb.new_array(elem.bank().unwrap_or(Bank::I), r, n);
                r.into()
            }
            ExprKind::Cast(inner, _) => match (self.value(inner), self.ty(e)) {
                (AnyReg::R(v), _) => {
                    if let Some(&Resolved::Class(c)) = self.cx.checked.resolved.get(&e.id) {
                        self.downcast(v, c);
                    }
                    v.into()
                }
                (AnyReg::I(v), Type::Float) => {
                    let r = self.fb.new_f();
                    self.fb.i2f(r, v);
                    r.into()
                }
                (AnyReg::F(v), Type::Int) => {
                    let r = self.fb.new_i();
                    self.fb.f2i(r, v);
                    r.into()
                }
                // `bool as int` and casts to the same type keep the value.
                (v, _) => v,
            },
            ExprKind::Lambda(_) => {
                let Some(&Resolved::Lambda(k)) = self.cx.checked.resolved.get(&e.id) else {
                    return None;
                };
                let info = &self.cx.checked.lambdas[k];
                let code = &self.cx.lambdas[k];
                let env = self.fb.new_r();
                self.fb.new_struct(env, code.env);
                for ((id, _), &field) in info.captures.iter().zip(&code.fields) {
                    let v = *self.locals.get(id)?;
                    self.fb.field_set(env, field, v);
                }
                let r = self.fb.new_r();
                self.fb.closure(r, self.cx.funcs[info.func], env);
                r.into()
            }
            ExprKind::NewBytes(len) => {
                let n = self.int(len);
                let r = self.fb.new_r();
                self.fb.new_bytes(r, n);
                r.into()
            }
            ExprKind::NewObject(_, args) | ExprKind::NewGeneric(_, args) => {
                let &Type::Class(c, _) = self.ty(e) else {
                    return None;
                };
                let r = self.fb.new_r();
                self.fb.call(self.cx.classes[c].new, &[], AnyReg::from(r));
                if let Some(&Resolved::Func(init)) = self.cx.checked.resolved.get(&e.id) {
                    let mut regs = vec![AnyReg::from(r)];
                    regs.extend(args.iter().map(|a| self.value(a)));
                    self.fb.call(self.cx.funcs[init], &regs, None);
                }
                r.into()
            }
            ExprKind::Is(obj, _) => {
                let Some(&Resolved::Class(c)) = self.cx.checked.resolved.get(&e.id) else {
                    return None;
                };
                let o = self.reference(obj);
                let r = self.fb.new_i();
                self.fb.isa(r, o, self.cx.classes[c].strukt);
                r.into()
            }
            ExprKind::Field(obj, name) => {
                let field = self.field_ref(obj, name)?;
                let o = self.reference(obj);
                let r = self.new_reg(field.bank());
                self.fb.field_get(r, o, field);
                r
            }
            ExprKind::MethodCall(obj, name, args) => {
                let how = self.cx.checked.resolved.get(&e.id).copied();
                if how == Some(Resolved::CallField) {
                    let field = self.field_ref(obj, name)?;
                    let o = self.reference(obj);
                    let f = self.fb.new_r();
                    self.fb.field_get(f, o, field);
                    return self.call_value(e, f, args);
                }
                let Some(Resolved::Method { class, slot }) = how else {
                    return None;
                };
                let o = self.reference(obj);
                let dst = self.ty(e).bank().map(|b| self.new_reg(b));
                let code = &self.cx.classes[class];
                if let Some(f) = self.cx.checked.direct_target(class, slot) {
                    // No override anywhere below: a direct call, after the
                    // null check the vtable load would have made (`self`
                    // and a new object are never null).
                    let never_null = matches!(&obj.kind, ExprKind::Name(n) if n == "self")
                        || matches!(obj.kind, ExprKind::NewObject(..));
                    if !never_null {
                        let ok = self.fb.new_label();
                        self.fb.jnnull(o, ok);
                        let table = self.fb.new_r();
                        self.fb.field_get(table, o, code.vtable_field);
                        self.bind(ok);
                    }
                    let mut regs = vec![AnyReg::from(o)];
                    regs.extend(args.iter().map(|a| self.value(a)));
                    self.fb.call(self.cx.funcs[f], &regs, dst);
                    return dst;
                }
                let (vtable_field, slot_type) = (code.vtable_field, code.slot_types[slot]);
                let table = self.fb.new_r();
                self.fb.field_get(table, o, vtable_field);
                let k = self.fb.new_i();
                self.fb.iconst(k, i64::try_from(slot).unwrap_or(i64::MAX));
                let method = self.fb.new_r();
                self.fb.get_r(method, table, k);
                let mut regs = vec![AnyReg::from(o)];
                regs.extend(args.iter().map(|a| self.value(a)));
                self.fb.call_indirect(slot_type, method, &regs, dst);
                return dst;
            }
        })
    }

    fn binary(&mut self, e: &Expr, op: BinOp, l: &Expr, r: &Expr) -> AnyReg {
        if matches!(op, BinOp::And | BinOp::Or) {
            // A bool value: 1, unless the condition jumps over to 0.
            let dst = self.fb.new_i();
            let is_false = self.fb.new_label();
            let end = self.fb.new_label();
            self.cond_jump(e, is_false, false);
            self.fb.iconst(dst, 1);
            self.fb.jump(end);
            self.bind(is_false);
            self.fb.iconst(dst, 0);
            self.bind(end);
            return dst.into();
        }
        if let Some(&f) = self.cx.checked.helpers.get(&e.id) {
            // `==`/`!=` of strings: the library's `str_eq`.
            let regs = [self.value(l), self.value(r)];
            let dst = self.fb.new_i();
            self.fb.call(self.cx.funcs[f], &regs, AnyReg::from(dst));
            if op == BinOp::Ne {
                self.fb.int_op_imm(IntBinOp::Xor, dst, dst, 1);
            }
            return dst.into();
        }
        if matches!(op, BinOp::Eq | BinOp::Ne) && self.by_identity(l, r) {
            let dst = self.fb.new_i();
            match self.null_test(l, r) {
                Some(other) => {
                    let a = self.reference(other);
                    self.fb.is_null(dst, a);
                }
                None => {
                    let a = self.reference(l);
                    let b = self.reference(r);
                    self.fb.ref_eq(dst, a, b);
                }
            }
            if op == BinOp::Ne {
                self.fb.int_op_imm(IntBinOp::Xor, dst, dst, 1);
            }
            return dst.into();
        }
        if op == BinOp::Add && *self.ty(l) == Type::Str {
            let a = self.reference(l);
            let b = self.reference(r);
            return self.concat(a, b).into();
        }
        if let Some(cmp) = cmp_of(op) {
            let dst = self.fb.new_i();
            let a = self.value(l);
            if let (AnyReg::I(a), Some(imm)) = (a, small_literal(r)) {
                self.fb.cmp_imm(cmp, dst, a, imm);
                return dst.into();
            }
            match (a, self.value(r)) {
                (AnyReg::I(a), AnyReg::I(b)) => self.fb.cmp(cmp, dst, a, b),
                (AnyReg::F(a), AnyReg::F(b)) => self.fb.fcmp(cmp, dst, a, b),
                // The checker compares ints, bools and floats only.
                _ => {}
            }
            return dst.into();
        }
        let bank = self.ty(l).bank().unwrap_or(Bank::I);
        let dst = self.new_reg(bank);
        self.store(dst, e);
        dst
    }

    /// Trap with `WrongType` unless `v` is null or an object of class `c`
    /// (or a descendant): a field read of the never-allocated struct
    /// [`CAST_FAILED`] is the trap, off the path a good cast takes.
    fn downcast(&mut self, v: RReg, c: usize) {
        let Some(never) = self.cx.cast_failed else {
            return;
        };
        let ok = self.fb.new_label();
        self.fb.jnull(v, ok);
        let is = self.fb.new_i();
        self.fb.isa(is, v, self.cx.classes[c].strukt);
        self.fb.jnz(is, ok);
        let trap = self.fb.new_i();
        self.fb.field_get(trap, v, never);
        self.bind(ok);
    }

    /// Whether `l == r` compares references by identity (`req`, `isnull`).
    fn by_identity(&self, l: &Expr, r: &Expr) -> bool {
        is_identity_type(self.ty(l)) || is_identity_type(self.ty(r))
    }

    /// For `x == null` or `null == x`: `x` (tested with `isnull`/`jnull`).
    fn null_test<'e>(&self, l: &'e Expr, r: &'e Expr) -> Option<&'e Expr> {
        if *self.ty(r) == Type::Null {
            Some(l)
        } else if *self.ty(l) == Type::Null {
            Some(r)
        } else {
            None
        }
    }

    fn call(&mut self, e: &Expr, args: &[Expr]) -> Option<AnyReg> {
        match self.cx.checked.resolved.get(&e.id).copied()? {
            Resolved::Builtin(Builtin::Len) => {
                let a = self.reference(&args[0]);
                let r = self.fb.new_i();
                self.fb.len(r, a);
                Some(r.into())
            }
            Resolved::Builtin(Builtin::Slice) => {
                let s = self.reference(&args[0]);
                let from = self.int(&args[1]);
                let to = self.int(&args[2]);
                let n = self.fb.new_i();
                self.fb.int_op(IntBinOp::Sub, n, to, from);
                Some(self.substring(s, from, n).into())
            }
            Resolved::Builtin(Builtin::Chr) => {
                let c = self.int(&args[0]);
                let r = self.fb.new_r();
                let one = self.fb.new_i();
                self.fb.iconst(one, 1);
                self.fb.new_bytes(r, one);
                let zero = self.fb.new_i();
                self.fb.iconst(zero, 0);
                self.fb.set_b(r, zero, c);
                Some(r.into())
            }
            Resolved::Builtin(Builtin::Copy) => {
                let dst = self.reference(&args[0]);
                let at = self.int(&args[1]);
                let src = self.reference(&args[2]);
                let from = self.int(&args[3]);
                let n = self.int(&args[4]);
                self.copy_elements(dst, at, src, from, n);
                None
            }
            Resolved::Builtin(Builtin::ToString) => {
                let b = self.reference(&args[0]);
                let n = self.int(&args[1]);
                let zero = self.fb.new_i();
                self.fb.iconst(zero, 0);
                Some(self.substring(b, zero, n).into())
            }
            Resolved::Builtin(Builtin::Trap) => {
                match small_literal(&args[0]) {
                    Some(code) => self.fb.trap_imm(code),
                    None => {
                        let code = self.int(&args[0]);
                        self.fb.trap(code);
                    }
                }
                self.reachable = false;
                None
            }
            Resolved::Builtin(Builtin::Hash) => {
                if let Some(&f) = self.cx.checked.helpers.get(&e.id) {
                    let s = self.value(&args[0]);
                    let dst = self.fb.new_i();
                    self.fb.call(self.cx.funcs[f], &[s], AnyReg::from(dst));
                    return Some(dst.into());
                }
                // An int's hash: multiply by an odd constant (2^64 / the
                // golden ratio) and fold the high bits down, so that keys
                // differing in high bits spread over a table's low bits.
                let k = self.int(&args[0]);
                let m = self.fb.new_i();
                self.fb.iconst(m, -7046029254386353131);
                let h = self.fb.new_i();
                self.fb.int_op(IntBinOp::Mul, h, k, m);
                let hi = self.fb.new_i();
                self.fb.int_op_imm(IntBinOp::Ushr, hi, h, 32);
                self.fb.int_op(IntBinOp::Xor, h, h, hi);
                Some(h.into())
            }
            Resolved::Builtin(b) => {
                let x = self.float(&args[0]);
                let r = self.fb.new_f();
                let op = match b {
                    Builtin::Sqrt => FloatUnOp::Sqrt,
                    Builtin::Abs => FloatUnOp::Abs,
                    _ => FloatUnOp::Floor,
                };
                self.fb.float_unop(op, r, x);
                Some(r.into())
            }
            Resolved::Func(f) => {
                let regs: Vec<AnyReg> = args.iter().map(|a| self.value(a)).collect();
                let dst = self.ty(e).bank().map(|b| self.new_reg(b));
                self.fb.call(self.cx.funcs[f], &regs, dst);
                dst
            }
            how @ (Resolved::CallLocal(_) | Resolved::CallGlobal(_)) => {
                let callee = match how {
                    Resolved::CallLocal(id) => match self.local(id)? {
                        AnyReg::R(r) => r,
                        _ => return None,
                    },
                    Resolved::CallGlobal(g) => {
                        let r = self.fb.new_r();
                        self.fb.global_get(r, self.cx.globals[g]);
                        r
                    }
                    _ => return None,
                };
                let regs: Vec<AnyReg> = args.iter().map(|a| self.value(a)).collect();
                let result = self.ty(e).bank();
                let key = (regs.iter().map(|r| r.bank()).collect::<Vec<_>>(), result);
                let ty = *self.cx.func_types.get(&key)?;
                let dst = result.map(|b| self.new_reg(b));
                self.fb.call_indirect(ty, callee, &regs, dst);
                dst
            }
            Resolved::Import(h) => {
                let regs: Vec<AnyReg> = args.iter().map(|a| self.value(a)).collect();
                let dst = self.ty(e).bank().map(|b| self.new_reg(b));
                self.fb.host_call(self.cx.imports[h], &regs, dst);
                dst
            }
            _ => None,
        }
    }

    fn print(&mut self, a: &PrintArg) {
        if let ExprKind::Str(s) = &a.expr.kind {
            self.fb.prints(s);
            return;
        }
        let ty = self.ty(&a.expr).clone();
        match (self.value(&a.expr), ty) {
            (AnyReg::I(v), Type::Bool) => {
                let no = self.fb.new_label();
                let end = self.fb.new_label();
                self.fb.jz(v, no);
                self.fb.prints("true");
                self.fb.jump(end);
                self.bind(no);
                self.fb.prints("false");
                self.bind(end);
            }
            (AnyReg::I(v), _) => self.fb.printi(v),
            (AnyReg::F(v), _) => self.fb.printf(v, a.digits.unwrap_or(DEFAULT_FLOAT_DIGITS)),
            (AnyReg::R(v), _) => self.fb.printb(v),
        }
    }
}

/// Lower a checked program to a verified module.
pub fn lower(checked: &Checked, file: &str) -> Result<Module, LangError> {
    let mut mb = ModuleBuilder::new();
    let mut globals = Vec::new();
    for g in &checked.globals {
        let r = match (&g.ty, &g.init) {
            (Type::Float, Some(ExprKind::Float(v))) => mb.declare_global_f(&g.name, *v),
            (Type::Float, _) => mb.declare_global_f(&g.name, 0.0),
            (Type::Int | Type::Bool, Some(ExprKind::Int(v))) => mb.declare_global_i(&g.name, *v),
            (Type::Int | Type::Bool, Some(ExprKind::Bool(b))) => {
                mb.declare_global_i(&g.name, i64::from(*b))
            }
            (Type::Int | Type::Bool, _) => mb.declare_global_i(&g.name, 0),
            _ => mb.declare_global_r(&g.name),
        };
        globals.push(r);
    }
    // A closure's code takes its environment as an extra, last `r`
    // parameter.
    let lambda_of: HashMap<usize, usize> = checked
        .lambdas
        .iter()
        .enumerate()
        .map(|(k, l)| (l.func, k))
        .collect();
    let funcs: Vec<FuncRef> = checked
        .funcs
        .iter()
        .enumerate()
        .map(|(k, f)| {
            let mut sig = sig_of(&f.params, &f.result);
            if lambda_of.contains_key(&k) {
                sig.params.push(Bank::R);
            }
            mb.declare_function(&f.name, sig)
        })
        .collect();
    let imports: Vec<HostRef> = checked
        .imports
        .iter()
        .map(|f| mb.declare_import(&f.name, sig_of(&f.params, &f.result)))
        .collect();
    let classes = declare_classes(&mut mb, checked, &funcs, file)?;
    let lambdas: Vec<LambdaCode> = checked
        .lambdas
        .iter()
        .enumerate()
        .map(|(k, l)| {
            let names: Vec<String> = (0..l.captures.len()).map(|j| format!("c{j}")).collect();
            let fields: Vec<(Bank, &str)> = l
                .captures
                .iter()
                .zip(&names)
                .map(|((id, t), n)| {
                    let bank = if checked.boxed.contains(id) {
                        Bank::R
                    } else {
                        t.bank().unwrap_or(Bank::I)
                    };
                    (bank, n.as_str())
                })
                .collect();
            let env = mb.declare_struct(format!("fun${k}.env"), None, &fields);
            let fields = names.iter().map(|n| mb.field(env, n)).collect();
            LambdaCode { env, fields }
        })
        .collect();
    let mut boxes = [None; 3];
    for bank in [Bank::I, Bank::F, Bank::R] {
        let used = checked
            .boxed
            .iter()
            .any(|id| checked.type_of(*id).bank() == Some(bank));
        if used {
            let s = mb.declare_struct(format!("$box.{bank}"), None, &[(bank, "value")]);
            boxes[bank.index()] = Some((s, mb.field(s, "value")));
        }
    }
    let mut func_types = HashMap::new();
    let field_types = checked
        .classes
        .iter()
        .flat_map(|c| c.fields.iter().map(|f| &f.1));
    // Declared in a fixed order (the types table is a hash map), so one
    // source always compiles to the same module.
    let mut sigs: Vec<Signature> = checked
        .types
        .values()
        .chain(field_types)
        .filter_map(|t| match t {
            Type::Func(params, result) => Some(sig_of(params, result)),
            _ => None,
        })
        .collect();
    let order = |s: &Signature| {
        let banks: Vec<usize> = s.params.iter().map(|b| b.index()).collect();
        (banks, s.result.map(|b| b.index()))
    };
    sigs.sort_by_key(order);
    for sig in sigs {
        let key = (sig.params.clone(), sig.result);
        func_types
            .entry(key)
            .or_insert_with(|| mb.declare_type(sig));
    }
    let cast_failed = checked
        .resolved
        .iter()
        .any(|(id, r)| {
            matches!(r, Resolved::Class(_)) && checked.type_of(*id).bank() == Some(Bank::R)
        })
        .then(|| {
            let s = mb.declare_struct(CAST_FAILED, None, &[(Bank::I, "never")]);
            mb.field(s, "never")
        });
    let context = Context {
        checked,
        boxes,
        cast_failed,
        funcs: &funcs,
        imports: &imports,
        globals: &globals,
        classes: &classes,
        lambdas: &lambdas,
        func_types: &func_types,
    };
    // Each body: its declaration, its parameters' declarations, the
    // closure it is (if one), its function index and its file.
    type Body<'b> = (&'b FuncDecl, Vec<NodeId>, Option<usize>, usize, &'b str);
    let mut bodies: Vec<Body> = Vec::new();
    for body in &checked.bodies {
        let decl = &body.decl;
        let mut ids: Vec<NodeId> = Vec::new();
        if body.class.is_some() {
            ids.push(decl.self_id);
        }
        ids.extend(decl.params.iter().map(|p| p.id));
        bodies.push((decl, ids, None, body.func, &body.file));
    }
    for (k, l) in checked.lambdas.iter().enumerate() {
        let ids = l.decl.params.iter().map(|p| p.id).collect();
        bodies.push((&l.decl, ids, Some(k), l.func, file));
    }
    for (decl, ids, lambda, index, file) in bodies {
        let sig = &checked.funcs[index];
        let mut fb = mb.function(funcs[index]);
        let mut locals = HashMap::new();
        let mut counts = [0u16; 3];
        for (k, param) in decl.params.iter().enumerate() {
            if let Some(v) = param.default {
                fb.set_default(k, v);
            }
        }
        for (id, ty) in ids.into_iter().zip(&sig.params) {
            let Some(bank) = ty.bank() else { continue };
            let j = counts[bank.index()];
            counts[bank.index()] += 1;
            let reg: AnyReg = match bank {
                Bank::I => fb.param_i(j).into(),
                Bank::F => fb.param_f(j).into(),
                Bank::R => fb.param_r(j).into(),
            };
            locals.insert(id, reg);
        }
        if let Some(k) = lambda {
            // The captured values, copied out of the environment once.
            let env = fb.param_r(counts[Bank::R.index()]);
            for ((id, ty), &field) in checked.lambdas[k].captures.iter().zip(&lambdas[k].fields) {
                let bank = if checked.boxed.contains(id) {
                    Bank::R
                } else {
                    ty.bank().unwrap_or(Bank::I)
                };
                let reg = match bank {
                    Bank::I => AnyReg::from(fb.new_i()),
                    Bank::F => fb.new_f().into(),
                    Bank::R => fb.new_r().into(),
                };
                fb.field_get(reg, env, field);
                locals.insert(*id, reg);
            }
        }
        let mut g = FnGen {
            fb,
            cx: &context,
            locals,
            loops: Vec::new(),
            reachable: true,
        };
        g.block(&decl.body);
        if g.reachable {
            if sig.result == Type::Void {
                g.fb.ret();
            } else {
                g.fb.trap_imm(MISSING_RETURN_TRAP);
            }
        }
        g.fb.finish().map_err(|e| {
            LangError::new(
                file,
                decl.pos,
                format!("cannot compile `{}`: {e}", sig.name),
            )
        })?;
    }
    mb.finish().map_err(|e| {
        LangError::new(
            file,
            Pos { line: 1, col: 1 },
            format!("cannot build the module: {e}"),
        )
    })
}

/// Declare each class's struct, vtable global, slot types and constructor,
/// and define the constructors.
fn declare_classes(
    mb: &mut ModuleBuilder,
    checked: &Checked,
    funcs: &[FuncRef],
    file: &str,
) -> Result<Vec<ClassCode>, LangError> {
    let mut classes: Vec<ClassCode> = Vec::new();
    let mut tables = Vec::new();
    for (k, c) in checked.classes.iter().enumerate() {
        let mut own: Vec<(Bank, &str)> = c
            .fields
            .iter()
            .map(|(n, t)| (t.bank().unwrap_or(Bank::I), n.as_str()))
            .collect();
        if c.parent.is_none() {
            own.insert(0, (Bank::R, VTABLE_FIELD));
        }
        let parent = c.parent.and_then(|p| classes.get(p)).map(|p| p.strukt);
        let strukt = mb.declare_struct(&c.name, parent, &own);
        let vtable_field = mb.field(strukt, VTABLE_FIELD);
        let mut fields = HashMap::new();
        let mut at = Some(k);
        while let Some(j) = at {
            for (n, _) in &checked.classes[j].fields {
                fields.insert(n.clone(), mb.field(strukt, n));
            }
            at = checked.classes[j].parent;
        }
        let slot_types = c
            .vtable
            .iter()
            .map(|&(_, f)| {
                let s = &checked.funcs[f];
                mb.declare_type(sig_of(&s.params, &s.result))
            })
            .collect();
        let new = mb.declare_function(
            format!("{}.$new", c.name),
            Signature::new([], Some(Bank::R)),
        );
        tables.push(mb.declare_global_r(format!("{}.$vtable", c.name)));
        classes.push(ClassCode {
            strukt,
            vtable_field,
            fields,
            slot_types,
            new,
        });
    }
    for ((c, code), &table) in checked.classes.iter().zip(&classes).zip(&tables) {
        let mut fb = mb.function(code.new);
        let obj = fb.new_r();
        fb.new_struct(obj, code.strukt);
        let vt = fb.new_r();
        fb.global_get(vt, table);
        let have = fb.new_label();
        fb.jnnull(vt, have);
        let n = fb.new_i();
        fb.iconst(n, i64::try_from(c.vtable.len()).unwrap_or(i64::MAX));
        fb.new_array(Bank::R, vt, n);
        for (k, &(_, f)) in c.vtable.iter().enumerate() {
            let method = fb.new_r();
            fb.func_ref(method, funcs[f]);
            let i = fb.new_i();
            fb.iconst(i, i64::try_from(k).unwrap_or(i64::MAX));
            fb.set_r(vt, i, method);
        }
        fb.global_set(table, vt);
        fb.bind(have);
        fb.field_set(obj, code.vtable_field, vt);
        fb.ret_r(obj);
        fb.finish().map_err(|e| {
            LangError::new(
                file,
                Pos { line: 1, col: 1 },
                format!("cannot compile `{}`'s constructor: {e}", c.name),
            )
        })?;
    }
    Ok(classes)
}
