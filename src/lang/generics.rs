//! Generics by monomorphization: an instance of a generic class or function
//! is a copy of its declaration with the type parameters replaced by the
//! type arguments and every node renumbered, checked and compiled as if it
//! had been written out by hand.
//!
//! The checker ([`super::types`]) decides when to instantiate (a type
//! `Vec<int>`, a call of a generic function), infers a generic function's
//! type arguments ([`infer`]) and names each instance ([`mangle`]); this
//! file does the copying.

use std::collections::HashMap;

use super::ast::*;
use super::types::Type;

/// Type parameters' names and the types that replace them, as written.
pub type Substitution = HashMap<String, TypeExpr>;

/// Copies declarations, substituting type parameters and giving every node
/// a fresh [`NodeId`] after `next_id`.
pub struct Instantiator<'a> {
    /// The replacement of each type parameter.
    pub subst: &'a Substitution,
    /// The last [`NodeId`] given out; the copies take the next ones.
    pub next_id: &'a mut NodeId,
}

impl Instantiator<'_> {
    fn id(&mut self) -> NodeId {
        *self.next_id += 1;
        *self.next_id
    }

    /// `t` with the type parameters replaced.
    pub fn type_expr(&self, t: &TypeExpr) -> TypeExpr {
        match t {
            TypeExpr::Named(n, _) if self.subst.contains_key(n) => self.subst[n].clone(),
            TypeExpr::Array(e) => TypeExpr::Array(Box::new(self.type_expr(e))),
            TypeExpr::Func(params, result) => TypeExpr::Func(
                params.iter().map(|p| self.type_expr(p)).collect(),
                result.as_ref().map(|r| Box::new(self.type_expr(r))),
            ),
            TypeExpr::Generic(n, args, pos) => TypeExpr::Generic(
                n.clone(),
                args.iter().map(|a| self.type_expr(a)).collect(),
                *pos,
            ),
            other => other.clone(),
        }
    }

    /// A copy of function `f` (its type parameters dropped).
    pub fn func(&mut self, f: &FuncDecl) -> FuncDecl {
        let mut out = f.clone();
        out.type_params.clear();
        self.func_in_place(&mut out);
        out
    }

    fn func_in_place(&mut self, f: &mut FuncDecl) {
        for p in &mut f.params {
            p.id = self.id();
            p.ty = self.type_expr(&p.ty);
        }
        f.result = f.result.as_ref().map(|r| self.type_expr(r));
        f.self_id = self.id();
        self.block(&mut f.body);
    }

    fn block(&mut self, b: &mut Block) {
        for s in &mut b.stmts {
            self.stmt(s);
        }
    }

    fn var(&mut self, d: &mut VarDecl) {
        d.id = self.id();
        d.ty = d.ty.as_ref().map(|t| self.type_expr(t));
        if let Some(e) = &mut d.init {
            self.expr(e);
        }
    }

    fn stmt(&mut self, s: &mut Stmt) {
        match &mut s.kind {
            StmtKind::Var(d) => self.var(d),
            StmtKind::Assign { target, value, .. } => {
                self.expr(target);
                self.expr(value);
            }
            StmtKind::If { arms, otherwise } => {
                for (cond, then) in arms {
                    self.expr(cond);
                    self.block(then);
                }
                if let Some(b) = otherwise {
                    self.block(b);
                }
            }
            StmtKind::Match {
                value,
                arms,
                default,
            } => {
                self.expr(value);
                for arm in arms {
                    self.block(&mut arm.body);
                }
                if let Some(b) = default {
                    self.block(b);
                }
            }
            StmtKind::While { cond, body } => {
                self.expr(cond);
                self.block(body);
            }
            StmtKind::For {
                var,
                start,
                end,
                body,
            } => {
                self.var(var);
                self.expr(start);
                self.expr(end);
                self.block(body);
            }
            StmtKind::Return(e) => {
                if let Some(e) = e {
                    self.expr(e);
                }
            }
            StmtKind::Expr(e) => self.expr(e),
            StmtKind::Block(b) => self.block(b),
            StmtKind::Break | StmtKind::Continue => {}
        }
    }

    fn expr(&mut self, e: &mut Expr) {
        e.id = self.id();
        match &mut e.kind {
            ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Bool(_)
            | ExprKind::Str(_)
            | ExprKind::Name(_)
            | ExprKind::Null => {}
            ExprKind::Unary(_, a) | ExprKind::NewBytes(a) | ExprKind::Field(a, _) => self.expr(a),
            ExprKind::Binary(_, a, b) | ExprKind::Index(a, b) => {
                self.expr(a);
                self.expr(b);
            }
            ExprKind::Call(_, args) | ExprKind::NewObject(_, args) => {
                for a in args {
                    self.expr(a);
                }
            }
            ExprKind::CallValue(f, args) => {
                self.expr(f);
                for a in args {
                    self.expr(a);
                }
            }
            ExprKind::Is(a, t) => {
                *t = self.type_expr(t);
                self.expr(a);
            }
            ExprKind::Print { args, .. } => {
                for a in args {
                    self.expr(&mut a.expr);
                }
            }
            ExprKind::NewArray(t, len) => {
                *t = self.type_expr(t);
                self.expr(len);
            }
            ExprKind::Cast(a, t) => {
                *t = self.type_expr(t);
                self.expr(a);
            }
            ExprKind::NewGeneric(t, args) => {
                *t = self.type_expr(t);
                for a in args {
                    self.expr(a);
                }
            }
            ExprKind::MethodCall(obj, _, args) => {
                self.expr(obj);
                for a in args {
                    self.expr(a);
                }
            }
            ExprKind::Lambda(f) => self.func_in_place(f),
        }
    }
}

/// A language type written back as a type expression; a class by the name
/// the checker registered it under (an instance's mangled name included).
pub fn type_expr_of(t: &Type) -> TypeExpr {
    match t {
        Type::Int => TypeExpr::Int,
        Type::Float => TypeExpr::Float,
        Type::Bool => TypeExpr::Bool,
        Type::Str => TypeExpr::Str,
        Type::Bytes => TypeExpr::Bytes,
        Type::Array(e) => TypeExpr::Array(Box::new(type_expr_of(e))),
        Type::Class(_, name) => TypeExpr::Named(name.clone(), Pos::default()),
        Type::Func(params, result) => TypeExpr::Func(
            params.iter().map(type_expr_of).collect(),
            match **result {
                Type::Void => None,
                ref r => Some(Box::new(type_expr_of(r))),
            },
        ),
        // No value has type void (a function type's `-> nothing` is above)
        // and no variable has null's: neither is ever written back.
        Type::Void | Type::Null => TypeExpr::Int,
    }
}

/// The part of an instance's name that stands for type `t`: `int`,
/// `Vec$int` (a class's own name), `arr_int`, `fun_int_to_bool`.
pub fn mangle(t: &Type) -> String {
    match t {
        Type::Array(e) => format!("arr_{}", mangle(e)),
        Type::Func(params, result) => {
            let mut s = "fun".to_owned();
            for p in params {
                s.push('_');
                s.push_str(&mangle(p));
            }
            if **result != Type::Void {
                s.push_str("_to_");
                s.push_str(&mangle(result));
            }
            s
        }
        other => other.to_string(),
    }
}

/// The name of the instance of `base` for type arguments `args`:
/// `Vec$int`, `Map$string$Vec$float`.
pub fn instance_name(base: &str, args: &[Type]) -> String {
    let mut s = base.to_owned();
    for a in args {
        s.push('$');
        s.push_str(&mangle(a));
    }
    s
}

/// The names errors show for instances, by mangled name: `Map$string$int`
/// is `Map<string, int>`, `max$Vec$int` is `max<Vec<int>>`.
#[derive(Clone, Debug, Default)]
pub struct DisplayNames {
    names: HashMap<String, String>,
}

impl DisplayNames {
    /// Note instance `mangled` of generic `base` for `args` (whose own
    /// instances, made first, are noted already).
    pub fn note(&mut self, mangled: &str, base: &str, args: &[Type]) {
        let args: Vec<String> = args.iter().map(|a| self.rewrite(&a.to_string())).collect();
        self.names
            .insert(mangled.to_owned(), format!("{base}<{}>", args.join(", ")));
    }

    /// `text` with every mangled instance name (a whole identifier; `$`
    /// appears in no name a program writes) replaced by its display name:
    /// `` `Map$string$int.put` `` becomes `` `Map<string, int>.put` ``.
    pub fn rewrite(&self, text: &str) -> String {
        if self.names.is_empty() || !text.contains('$') {
            return text.to_owned();
        }
        let is_ident = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find(is_ident) {
            out.push_str(&rest[..start]);
            let word = &rest[start..];
            let end = word.find(|c: char| !is_ident(c)).unwrap_or(word.len());
            let (word, after) = word.split_at(end);
            out.push_str(self.names.get(word).map_or(word, String::as_str));
            rest = after;
        }
        out.push_str(rest);
        out
    }
}

/// Bind the type parameters in `pattern` (a parameter's declared type) by
/// matching it against `actual` (the argument's type). `instance_args`
/// gives the generic class and type arguments of each class that is an
/// instance. A parameter met twice keeps its first binding: the argument
/// check that follows reports the mismatch.
pub fn infer(
    pattern: &TypeExpr,
    actual: &Type,
    params: &[String],
    instance_args: &dyn Fn(usize) -> Option<(String, Vec<Type>)>,
    bound: &mut HashMap<String, Type>,
) {
    match (pattern, actual) {
        // `null` fits any reference type: it determines nothing.
        (TypeExpr::Named(n, _), t)
            if params.contains(n) && !matches!(t, Type::Void | Type::Null) =>
        {
            bound.entry(n.clone()).or_insert_with(|| t.clone());
        }
        (TypeExpr::Array(p), Type::Array(t)) => infer(p, t, params, instance_args, bound),
        (TypeExpr::Func(ps, r), Type::Func(ts, tr)) => {
            for (p, t) in ps.iter().zip(ts) {
                infer(p, t, params, instance_args, bound);
            }
            if let Some(r) = r {
                infer(r, tr, params, instance_args, bound);
            }
        }
        (TypeExpr::Generic(name, ps, _), Type::Class(c, _)) => {
            if let Some((base, ts)) = instance_args(*c)
                && base == *name
            {
                for (p, t) in ps.iter().zip(&ts) {
                    infer(p, t, params, instance_args, bound);
                }
            }
        }
        _ => {}
    }
}
