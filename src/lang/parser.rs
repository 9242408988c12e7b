//! The parser: a hand-written recursive descent over the tokens, with
//! precedence climbing for binary operators.
//!
//! Statements end at a `;`, at a `}` or at a line break where the statement
//! could end; a `(` or `[` on a new line starts a new statement rather than
//! calling or indexing the previous line's value. Nesting is limited to
//! [`MAX_DEPTH`] so that no input, however deep, overflows the stack.

use super::LangError;
use super::ast::*;
use super::lexer::{Tok, Token};
use crate::bytecode::op::MAX_PRINTF_DIGITS;

/// The deepest nesting of blocks and parenthesised expressions accepted.
pub const MAX_DEPTH: u32 = 200;

struct Parser<'s> {
    tokens: Vec<Token>,
    at: usize,
    next_id: NodeId,
    depth: u32,
    file: &'s str,
}

type PResult<T> = Result<T, LangError>;

/// Binary operators: the token, the operator and its binding power (higher
/// binds tighter). Comparisons do not chain.
const BINARY: &[(&str, BinOp, u8)] = &[
    ("||", BinOp::Or, 1),
    ("&&", BinOp::And, 2),
    ("==", BinOp::Eq, 3),
    ("!=", BinOp::Ne, 3),
    ("<", BinOp::Lt, 3),
    ("<=", BinOp::Le, 3),
    (">", BinOp::Gt, 3),
    (">=", BinOp::Ge, 3),
    ("|", BinOp::BitOr, 4),
    ("^", BinOp::BitXor, 5),
    ("&", BinOp::BitAnd, 6),
    ("<<", BinOp::Shl, 7),
    (">>", BinOp::Shr, 7),
    (">>>", BinOp::Ushr, 7),
    ("+", BinOp::Add, 8),
    ("-", BinOp::Sub, 8),
    ("*", BinOp::Mul, 9),
    ("/", BinOp::Div, 9),
    ("%", BinOp::Rem, 9),
];

/// `as` binds tighter than every binary operator, looser than prefix ones.
const CAST_POWER: u8 = 10;

const COMPOUND: &[(&str, BinOp)] = &[
    ("+=", BinOp::Add),
    ("-=", BinOp::Sub),
    ("*=", BinOp::Mul),
    ("/=", BinOp::Div),
    ("%=", BinOp::Rem),
];

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Int(v) => format!("`{v}`"),
        Tok::Hex(v) => format!("`{v:#x}`"),
        Tok::Float(v) => format!("`{v}`"),
        Tok::Str(_) => "a string".to_owned(),
        Tok::Ident(n) => format!("`{n}`"),
        Tok::Sym(s) => format!("`{s}`"),
        Tok::Eof => "the end of the file".to_owned(),
    }
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.at.min(self.tokens.len() - 1)]
    }

    fn pos(&self) -> Pos {
        self.peek().pos
    }

    fn advance(&mut self) -> Token {
        let t = self.peek().clone();
        if self.at < self.tokens.len() - 1 {
            self.at += 1;
        }
        t
    }

    fn is(&self, sym: &str) -> bool {
        matches!(&self.peek().tok, Tok::Sym(s) if *s == sym)
    }

    fn eat(&mut self, sym: &str) -> bool {
        let found = self.is(sym);
        if found {
            self.advance();
        }
        found
    }

    fn error<T>(&self, pos: Pos, message: String) -> PResult<T> {
        Err(LangError::new(self.file, pos, message))
    }

    fn unexpected<T>(&self, wanted: &str) -> PResult<T> {
        let t = self.peek();
        self.error(
            t.pos,
            format!("expected {wanted}, found {}", describe(&t.tok)),
        )
    }

    fn expect(&mut self, sym: &str) -> PResult<()> {
        if self.eat(sym) {
            Ok(())
        } else {
            self.unexpected(&format!("`{sym}`"))
        }
    }

    fn ident(&mut self, what: &str) -> PResult<(String, Pos)> {
        match &self.peek().tok {
            Tok::Ident(n) => {
                let n = n.clone();
                let pos = self.advance().pos;
                Ok((n, pos))
            }
            _ => self.unexpected(what),
        }
    }

    fn id(&mut self) -> NodeId {
        self.next_id += 1;
        self.next_id
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.error(
                self.pos(),
                format!("nesting deeper than {MAX_DEPTH} levels"),
            );
        }
        Ok(())
    }

    fn program(&mut self) -> PResult<Program> {
        let mut items = Vec::new();
        loop {
            while self.eat(";") {}
            if self.peek().tok == Tok::Eof {
                return Ok(Program { items });
            }
            if self.eat("fn") {
                items.push(Item::Func(self.function()?));
            } else if self.eat("import") {
                self.expect("fn")?;
                items.push(Item::Import(self.signature()?));
                self.end_of_statement()?;
            } else if self.eat("class") {
                items.push(Item::Class(self.class()?));
            } else if self.is("var") || self.is("let") {
                let decl = self.var_decl()?;
                self.end_of_statement()?;
                items.push(Item::Global(decl));
            } else {
                return self.unexpected("`fn`, `class`, `import`, `var` or `let` at the top level");
            }
        }
    }

    fn class(&mut self) -> PResult<ClassDecl> {
        let (name, pos) = self.ident("a class name")?;
        let type_params = self.type_params()?;
        let parent = if self.eat("extends") {
            Some(self.ident("the parent class's name")?)
        } else {
            None
        };
        self.expect("{")?;
        let mut fields = Vec::new();
        let mut methods = Vec::new();
        loop {
            while self.eat(";") {}
            if self.eat("}") {
                break;
            }
            if self.eat("fn") {
                methods.push(self.function()?);
            } else if self.eat("var") {
                let (fname, fpos) = self.ident("a field name")?;
                self.expect(":")?;
                let ty = self.type_expr()?;
                self.end_of_statement()?;
                fields.push(FieldDecl {
                    name: fname,
                    pos: fpos,
                    ty,
                });
            } else {
                return self.unexpected("`var`, `fn` or `}` in a class");
            }
        }
        Ok(ClassDecl {
            name,
            pos,
            parent,
            fields,
            methods,
            type_params,
        })
    }

    /// `<T, U>` after a generic class's or function's name, if written.
    fn type_params(&mut self) -> PResult<Vec<String>> {
        let mut params = Vec::new();
        if !self.eat("<") {
            return Ok(params);
        }
        loop {
            let (name, pos) = self.ident("a type parameter's name")?;
            if params.contains(&name) {
                return self.error(pos, format!("type parameter `{name}` is declared twice"));
            }
            params.push(name);
            if !self.eat(",") {
                break;
            }
        }
        self.expect(">")?;
        Ok(params)
    }

    /// `<T, ...>` after a generic class's name in a type; a closing `>>`
    /// or `>>>` is split, so `Map<int, Vec<int>>` closes both lists.
    fn type_args(&mut self) -> PResult<Vec<TypeExpr>> {
        self.enter()?;
        let mut args = Vec::new();
        loop {
            args.push(self.type_expr()?);
            if !self.eat(",") {
                break;
            }
        }
        let at = self.at.min(self.tokens.len() - 1);
        match self.tokens[at].tok {
            Tok::Sym(">>") => {
                self.tokens[at].tok = Tok::Sym(">");
                self.tokens[at].pos.col += 1;
            }
            Tok::Sym(">>>") => {
                self.tokens[at].tok = Tok::Sym(">>");
                self.tokens[at].pos.col += 1;
            }
            _ => self.expect(">")?,
        }
        self.depth -= 1;
        Ok(args)
    }

    fn function(&mut self) -> PResult<FuncDecl> {
        let mut f = self.signature()?;
        f.body = self.block()?;
        Ok(f)
    }

    /// A function's name, parameters and result type, without its body.
    fn signature(&mut self) -> PResult<FuncDecl> {
        let (name, pos) = self.ident("a function name")?;
        let type_params = self.type_params()?;
        let mut f = self.params_and_result(name, pos)?;
        f.type_params = type_params;
        Ok(f)
    }

    /// `(params) [-> T]`.
    fn params_and_result(&mut self, name: String, pos: Pos) -> PResult<FuncDecl> {
        self.expect("(")?;
        let mut params = Vec::new();
        while !self.is(")") {
            let (pname, ppos) = self.ident("a parameter name")?;
            self.expect(":")?;
            let ty = self.type_expr()?;
            let default = if self.eat("=") {
                match self.expr()? {
                    Expr {
                        kind: ExprKind::Int(v),
                        ..
                    } => Some(v),
                    e => {
                        return self
                            .error(e.pos, "a default value must be an int literal".to_owned());
                    }
                }
            } else {
                None
            };
            let id = self.id();
            params.push(Param {
                id,
                name: pname,
                pos: ppos,
                ty,
                default,
            });
            if !self.eat(",") {
                break;
            }
        }
        self.expect(")")?;
        let result = if self.eat("->") {
            Some(self.type_expr()?)
        } else {
            None
        };
        let self_id = self.id();
        Ok(FuncDecl {
            name,
            pos,
            params,
            result,
            body: Block::default(),
            self_id,
            type_params: Vec::new(),
        })
    }

    fn type_expr(&mut self) -> PResult<TypeExpr> {
        let t = self.advance();
        Ok(match t.tok {
            Tok::Sym("int") => TypeExpr::Int,
            Tok::Sym("float") => TypeExpr::Float,
            Tok::Sym("bool") => TypeExpr::Bool,
            Tok::Sym("string") => TypeExpr::Str,
            Tok::Sym("bytes") => TypeExpr::Bytes,
            Tok::Ident(n) if self.is("<") => {
                self.advance();
                TypeExpr::Generic(n, self.type_args()?, t.pos)
            }
            Tok::Sym("[") => {
                self.enter()?;
                let elem = self.type_expr()?;
                self.depth -= 1;
                self.expect("]")?;
                TypeExpr::Array(Box::new(elem))
            }
            Tok::Ident(n) => TypeExpr::Named(n, t.pos),
            Tok::Sym("fun") => {
                self.enter()?;
                self.expect("(")?;
                let mut params = Vec::new();
                while !self.is(")") {
                    params.push(self.type_expr()?);
                    if !self.eat(",") {
                        break;
                    }
                }
                self.expect(")")?;
                let result = if self.eat("->") {
                    Some(Box::new(self.type_expr()?))
                } else {
                    None
                };
                self.depth -= 1;
                TypeExpr::Func(params, result)
            }
            other => {
                return self.error(
                    t.pos,
                    format!("expected a type, found {}", describe(&other)),
                );
            }
        })
    }

    fn block(&mut self) -> PResult<Block> {
        self.expect("{")?;
        self.enter()?;
        let mut stmts = Vec::new();
        loop {
            while self.eat(";") {}
            if self.eat("}") {
                break;
            }
            if self.peek().tok == Tok::Eof {
                return self.unexpected("`}`");
            }
            stmts.push(self.statement()?);
        }
        self.depth -= 1;
        Ok(Block { stmts })
    }

    /// A simple statement ends at `;`, `}`, a line break or the end.
    fn end_of_statement(&mut self) -> PResult<()> {
        if self.eat(";") {
            return Ok(());
        }
        let t = self.peek();
        if t.newline_before || t.tok == Tok::Eof || self.is("}") {
            return Ok(());
        }
        self.unexpected("the end of the statement (a line break or `;`)")
    }

    fn var_decl(&mut self) -> PResult<VarDecl> {
        let mutable = self.advance().tok == Tok::Sym("var");
        let (name, pos) = self.ident("a variable name")?;
        let ty = if self.eat(":") {
            Some(self.type_expr()?)
        } else {
            None
        };
        let init = if self.eat("=") {
            Some(self.expr()?)
        } else {
            None
        };
        let id = self.id();
        Ok(VarDecl {
            id,
            name,
            pos,
            mutable,
            ty,
            init,
        })
    }

    fn statement(&mut self) -> PResult<Stmt> {
        let pos = self.pos();
        let kind = match &self.peek().tok {
            Tok::Sym("let" | "var") => {
                let decl = self.var_decl()?;
                self.end_of_statement()?;
                StmtKind::Var(decl)
            }
            Tok::Sym("if") => self.if_statement()?,
            Tok::Sym("match") => self.match_statement()?,
            Tok::Sym("while") => {
                self.advance();
                let cond = self.expr()?;
                let body = self.block()?;
                StmtKind::While { cond, body }
            }
            Tok::Sym("for") => {
                self.advance();
                let (name, vpos) = self.ident("a loop variable")?;
                self.expect("in")?;
                let start = self.expr()?;
                self.expect("..")?;
                let end = self.expr()?;
                let body = self.block()?;
                let id = self.id();
                let var = VarDecl {
                    id,
                    name,
                    pos: vpos,
                    mutable: false,
                    ty: Some(TypeExpr::Int),
                    init: None,
                };
                StmtKind::For {
                    var,
                    start,
                    end,
                    body,
                }
            }
            Tok::Sym("break") => {
                self.advance();
                self.end_of_statement()?;
                StmtKind::Break
            }
            Tok::Sym("continue") => {
                self.advance();
                self.end_of_statement()?;
                StmtKind::Continue
            }
            Tok::Sym("return") => {
                self.advance();
                let t = self.peek();
                let bare = t.newline_before || t.tok == Tok::Eof || self.is("}") || self.is(";");
                let value = if bare { None } else { Some(self.expr()?) };
                self.end_of_statement()?;
                StmtKind::Return(value)
            }
            Tok::Sym("{") => StmtKind::Block(self.block()?),
            _ => {
                let target = self.expr()?;
                let compound = COMPOUND.iter().find(|(s, _)| self.is(s)).map(|&(_, op)| op);
                let kind = if compound.is_some() || self.is("=") {
                    let at = self.advance().pos;
                    if !matches!(
                        target.kind,
                        ExprKind::Name(_) | ExprKind::Index(..) | ExprKind::Field(..)
                    ) {
                        return self.error(
                            at,
                            "only a variable, an element or a field can be assigned".to_owned(),
                        );
                    }
                    let value = self.expr()?;
                    StmtKind::Assign {
                        target,
                        op: compound,
                        value,
                    }
                } else {
                    StmtKind::Expr(target)
                };
                self.end_of_statement()?;
                kind
            }
        };
        Ok(Stmt { kind, pos })
    }

    fn if_statement(&mut self) -> PResult<StmtKind> {
        self.advance(); // `if`
        let mut arms = Vec::new();
        let otherwise = loop {
            let cond = self.expr()?;
            let then = self.block()?;
            arms.push((cond, then));
            if !self.eat("else") {
                break None;
            }
            // `else if` continues the chain at the same depth.
            if !self.eat("if") {
                break Some(self.block()?);
            }
        };
        Ok(StmtKind::If { arms, otherwise })
    }

    fn match_statement(&mut self) -> PResult<StmtKind> {
        self.advance(); // `match`
        let value = self.expr()?;
        self.expect("{")?;
        let mut arms = Vec::new();
        let mut default = None;
        loop {
            while self.eat(";") {}
            if self.eat("}") {
                break;
            }
            if default.is_some() {
                return self.error(self.pos(), "the `_` arm must be the last".to_owned());
            }
            if matches!(&self.peek().tok, Tok::Ident(n) if n == "_") {
                self.advance();
                self.expect("=>")?;
                default = Some(self.block()?);
                continue;
            }
            let mut values = Vec::new();
            loop {
                values.push(self.match_value()?);
                if !self.eat(",") {
                    break;
                }
            }
            self.expect("=>")?;
            let body = self.block()?;
            arms.push(MatchArm { values, body });
        }
        Ok(StmtKind::Match {
            value,
            arms,
            default,
        })
    }

    /// An arm's int literal, `-` allowed.
    fn match_value(&mut self) -> PResult<(i64, Pos)> {
        let pos = self.pos();
        let negative = self.eat("-");
        let t = self.advance();
        let value = match t.tok {
            Tok::Int(v) if negative => 0i64.checked_sub_unsigned(v),
            Tok::Int(v) => i64::try_from(v).ok(),
            Tok::Hex(v) if !negative => Some(v as i64),
            other => {
                return self.error(
                    t.pos,
                    format!(
                        "expected an int literal or `_` in a match arm, found {}",
                        describe(&other)
                    ),
                );
            }
        };
        match value {
            Some(v) => Ok((v, pos)),
            None => self.error(pos, "integer literal does not fit 64 bits".to_owned()),
        }
    }

    fn expr(&mut self) -> PResult<Expr> {
        self.enter()?;
        let e = self.binary(0);
        self.depth -= 1;
        e
    }

    /// Each operator applied deepens the tree by one level, so a long
    /// chain (`1 + 1 + ...`) counts against [`MAX_DEPTH`] as parentheses
    /// do: the passes after the parser recurse over the tree's height.
    fn binary(&mut self, min_power: u8) -> PResult<Expr> {
        let saved = self.depth;
        let e = self.binary_chain(min_power);
        self.depth = saved;
        e
    }

    fn binary_chain(&mut self, min_power: u8) -> PResult<Expr> {
        let mut lhs = self.unary()?;
        loop {
            if (self.is("as") || self.is("is")) && CAST_POWER > min_power {
                self.enter()?;
                let is_test = self.is("is");
                let pos = self.advance().pos;
                let ty = self.type_expr()?;
                let id = self.id();
                let kind = if is_test {
                    ExprKind::Is(Box::new(lhs), ty)
                } else {
                    ExprKind::Cast(Box::new(lhs), ty)
                };
                lhs = Expr { id, kind, pos };
                continue;
            }
            let Some(&(_, op, power)) = BINARY.iter().find(|(s, _, _)| self.is(s)) else {
                return Ok(lhs);
            };
            if power <= min_power {
                return Ok(lhs);
            }
            self.enter()?;
            let pos = self.advance().pos;
            let rhs = self.binary(power)?;
            if op.is_comparison()
                && let Some(&(s, next, _)) = BINARY.iter().find(|(s, _, _)| self.is(s))
                && next.is_comparison()
            {
                return self.error(
                    self.pos(),
                    format!("comparisons do not chain: parenthesise before `{s}`"),
                );
            }
            let id = self.id();
            lhs = Expr {
                id,
                kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
                pos,
            };
        }
    }

    fn unary(&mut self) -> PResult<Expr> {
        let pos = self.pos();
        let op = match &self.peek().tok {
            Tok::Sym("-") => UnOp::Neg,
            Tok::Sym("!") => UnOp::Not,
            Tok::Sym("~") => UnOp::BitNot,
            _ => return self.postfix(),
        };
        self.advance();
        // `-9223372036854775808` is a literal, not the negation of one that
        // does not fit.
        if op == UnOp::Neg
            && let Tok::Int(v) = self.peek().tok
        {
            self.advance();
            let Some(value) = 0i64.checked_sub_unsigned(v) else {
                return self.error(pos, format!("integer literal `-{v}` does not fit 64 bits"));
            };
            let id = self.id();
            return self.postfix_of(Expr {
                id,
                kind: ExprKind::Int(value),
                pos,
            });
        }
        self.enter()?;
        let operand = self.unary()?;
        self.depth -= 1;
        let id = self.id();
        Ok(Expr {
            id,
            kind: ExprKind::Unary(op, Box::new(operand)),
            pos,
        })
    }

    fn postfix(&mut self) -> PResult<Expr> {
        let e = self.primary()?;
        self.postfix_of(e)
    }

    fn postfix_of(&mut self, mut e: Expr) -> PResult<Expr> {
        let saved = self.depth;
        loop {
            if self.is(".") {
                if let Err(err) = self.enter() {
                    self.depth = saved;
                    return Err(err);
                }
                self.advance();
                let (name, pos) = self.ident("a field or method name")?;
                let kind = if self.is("(") && !self.peek().newline_before {
                    self.advance();
                    let args = self.call_args()?;
                    ExprKind::MethodCall(Box::new(e), name, args)
                } else {
                    ExprKind::Field(Box::new(e), name)
                };
                let id = self.id();
                e = Expr { id, kind, pos };
                continue;
            }
            if self.is("(") && !self.peek().newline_before {
                if let Err(err) = self.enter() {
                    self.depth = saved;
                    return Err(err);
                }
                let pos = self.advance().pos;
                let args = self.call_args()?;
                let id = self.id();
                e = Expr {
                    id,
                    kind: ExprKind::CallValue(Box::new(e), args),
                    pos,
                };
                continue;
            }
            if !self.is("[") || self.peek().newline_before {
                break;
            }
            if let Err(err) = self.enter() {
                self.depth = saved;
                return Err(err);
            }
            let pos = self.advance().pos;
            let index = self.expr()?;
            self.expect("]")?;
            let id = self.id();
            e = Expr {
                id,
                kind: ExprKind::Index(Box::new(e), Box::new(index)),
                pos,
            };
        }
        self.depth = saved;
        Ok(e)
    }

    fn primary(&mut self) -> PResult<Expr> {
        let t = self.advance();
        let pos = t.pos;
        let kind = match t.tok {
            Tok::Int(v) => match i64::try_from(v) {
                Ok(v) => ExprKind::Int(v),
                Err(_) => {
                    return self.error(pos, format!("integer literal `{v}` does not fit 64 bits"));
                }
            },
            Tok::Hex(v) => ExprKind::Int(v as i64),
            Tok::Float(v) => ExprKind::Float(v),
            Tok::Str(s) => ExprKind::Str(s),
            Tok::Sym("true") => ExprKind::Bool(true),
            Tok::Sym("false") => ExprKind::Bool(false),
            Tok::Sym("null") => ExprKind::Null,
            Tok::Sym("(") => {
                let e = self.expr()?;
                self.expect(")")?;
                return Ok(e);
            }
            Tok::Sym("self") => ExprKind::Name("self".to_owned()),
            Tok::Sym("fun") => {
                let mut f = self.params_and_result("fun".to_owned(), pos)?;
                f.body = self.block()?;
                ExprKind::Lambda(Box::new(f))
            }
            Tok::Sym("new") if self.is("bytes") => {
                self.advance();
                self.expect("(")?;
                let len = self.expr()?;
                self.expect(")")?;
                ExprKind::NewBytes(Box::new(len))
            }
            Tok::Sym("new") if matches!(self.peek().tok, Tok::Ident(_)) => {
                let (name, npos) = self.ident("a class name")?;
                let generic = if self.eat("<") {
                    Some(TypeExpr::Generic(name.clone(), self.type_args()?, npos))
                } else {
                    None
                };
                self.expect("(")?;
                let args = self.call_args()?;
                match generic {
                    Some(t) => ExprKind::NewGeneric(t, args),
                    None => ExprKind::NewObject(name, args),
                }
            }
            Tok::Sym("new") => {
                if !self.is("[") {
                    return self.unexpected("an array type `[T]` after `new`");
                }
                let ty = self.type_expr()?;
                let TypeExpr::Array(elem) = ty else {
                    return self.unexpected("an array type");
                };
                self.expect("(")?;
                let len = self.expr()?;
                self.expect(")")?;
                ExprKind::NewArray(*elem, Box::new(len))
            }
            Tok::Ident(name) => {
                if self.is("(") && !self.peek().newline_before {
                    self.advance();
                    if name == "print" || name == "println" {
                        let args = self.print_args()?;
                        ExprKind::Print {
                            newline: name == "println",
                            args,
                        }
                    } else {
                        ExprKind::Call(name, self.call_args()?)
                    }
                } else {
                    ExprKind::Name(name)
                }
            }
            other => {
                return self.error(
                    pos,
                    format!("expected an expression, found {}", describe(&other)),
                );
            }
        };
        let id = self.id();
        Ok(Expr { id, kind, pos })
    }

    /// Arguments after the `(`, through the `)`.
    fn call_args(&mut self) -> PResult<Vec<Expr>> {
        let mut args = Vec::new();
        while !self.is(")") {
            args.push(self.expr()?);
            if !self.eat(",") {
                break;
            }
        }
        self.expect(")")?;
        Ok(args)
    }

    fn print_args(&mut self) -> PResult<Vec<PrintArg>> {
        let mut args = Vec::new();
        while !self.is(")") {
            let expr = self.expr()?;
            let digits = if self.eat(":") {
                let t = self.advance();
                match t.tok {
                    Tok::Int(d) if d <= u64::from(MAX_PRINTF_DIGITS) => Some(d as u16),
                    _ => {
                        return self.error(
                            t.pos,
                            format!("expected a digit count from 0 to {MAX_PRINTF_DIGITS}"),
                        );
                    }
                }
            } else {
                None
            };
            args.push(PrintArg { expr, digits });
            if !self.eat(",") {
                break;
            }
        }
        self.expect(")")?;
        Ok(args)
    }
}

/// Parse `tokens` (from [`tokenize`](super::lexer::tokenize)) into a
/// program.
pub fn parse(tokens: Vec<Token>, file: &str) -> Result<Program, LangError> {
    parse_from(tokens, file, 0).map(|(program, _)| program)
}

/// [`parse`], numbering the nodes after `first_id` (so that several files
/// share one [`NodeId`] space); also returns the last number given.
pub fn parse_from(
    tokens: Vec<Token>,
    file: &str,
    first_id: NodeId,
) -> Result<(Program, NodeId), LangError> {
    let mut tokens = tokens;
    if tokens.last().is_none_or(|t| t.tok != Tok::Eof) {
        tokens.push(Token {
            tok: Tok::Eof,
            pos: Pos::default(),
            newline_before: true,
        });
    }
    let mut p = Parser {
        tokens,
        at: 0,
        next_id: first_id,
        depth: 0,
        file,
    };
    let program = p.program()?;
    Ok((program, p.next_id))
}
