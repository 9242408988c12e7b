//! The text-format parser: `.tj` text to a [`Module`].
//!
//! Operands are parsed by their [`Operand`] kind from [`Opcode::operands`];
//! no opcode has a case of its own. Names (labels, functions, imports) may
//! be used before they are defined: they are recorded and patched in when
//! the function (labels) or the file (functions, imports) ends.

use super::lexer::{TokKind, Token, lex_line};
use crate::bytecode::error::ParseError;
use crate::bytecode::module::{
    FieldDecl, Function, Global, Import, Module, Signature, StructDecl, SwitchTable,
};
use crate::bytecode::op::{Bank, Flow, NO_REG, Op, Opcode, Operand};
use std::collections::HashMap;
use std::sync::LazyLock;

/// The most ops a function may have. One less than the number of `u16`
/// values, so that a label after the last op still has an index.
pub(crate) const MAX_OPS: usize = u16::MAX as usize;

/// The most entries of a table indexed by a `u16` field (functions,
/// imports, constant pools, strings).
pub(crate) const MAX_ENTRIES: usize = u16::MAX as usize + 1;

/// What a mnemonic stands for.
struct Mnemonic {
    /// The opcode, or its inline form when it has a pooled one.
    op: Opcode,
    /// `(field, opcode)`: the opcode to use when the immediate in `field`
    /// does not fit 16 bits, which then holds an i64 pool index instead.
    pooled: Option<(usize, Opcode)>,
}

/// Mnemonic lookup, built from [`Opcode::ALL`].
static MNEMONICS: LazyLock<HashMap<&'static str, Mnemonic>> = LazyLock::new(|| {
    let mut map: HashMap<&'static str, Mnemonic> = HashMap::new();
    for &opc in Opcode::ALL {
        match map.get_mut(opc.mnemonic()) {
            None => {
                map.insert(
                    opc.mnemonic(),
                    Mnemonic {
                        op: opc,
                        pooled: None,
                    },
                );
            }
            Some(m) => {
                if m.pooled.is_none()
                    && let Some(field) = pooled_field(m.op, opc)
                {
                    m.pooled = Some((field, opc));
                }
            }
        }
    }
    map
});

/// The field where `pooled` takes an i64 pool index and `inline` an
/// immediate, when that is their only difference.
fn pooled_field(inline: Opcode, pooled: Opcode) -> Option<usize> {
    let mut field = None;
    for (i, (x, y)) in inline
        .operands()
        .iter()
        .zip(pooled.operands().iter())
        .enumerate()
    {
        if x == y {
            continue;
        }
        if *x == Operand::Imm && *y == Operand::ConstI && field.is_none() {
            field = Some(i);
        } else {
            return None;
        }
    }
    field
}

/// Parses a module from its text form.
pub fn parse(src: &str) -> Result<Module, ParseError> {
    let lines: Vec<&str> = src
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    Parser::new(&lines).run()
}

/// Parses a module from the bytes of a `.tj` file: as [`parse`] when they
/// are UTF-8; otherwise an error at the first byte that is not, its line
/// and column counted as [`parse`] counts them (lines split at `\n`,
/// columns in characters from 1).
pub fn parse_bytes(bytes: &[u8]) -> Result<Module, ParseError> {
    match std::str::from_utf8(bytes) {
        Ok(src) => parse(src),
        Err(e) => Err(utf8_error(bytes, &e)),
    }
}

/// The error for bytes that are valid UTF-8 up to `e.valid_up_to()` only.
fn utf8_error(bytes: &[u8], e: &std::str::Utf8Error) -> ParseError {
    let bad = e.valid_up_to();
    let (before, after) = bytes.split_at(bad.min(bytes.len()));
    // `before` is valid UTF-8 (from_utf8 says so).
    let before = std::str::from_utf8(before).unwrap_or_default();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let prefix = before.get(line_start..).unwrap_or_default();
    let line = line_no(before.matches('\n').count());
    let column = u32::try_from(prefix.chars().count())
        .unwrap_or(u32::MAX)
        .saturating_add(1);
    let rest = after.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut source_line = String::from(prefix);
    source_line.push_str(&String::from_utf8_lossy(rest));
    if source_line.ends_with('\r') {
        source_line.pop();
    }
    let byte = after.first().copied().unwrap_or(0);
    let message = match e.error_len() {
        None => format!(
            "invalid UTF-8 byte {byte:#04x}: the file ends inside a character \
             (.tj files are UTF-8 text)"
        ),
        Some(_) => format!("invalid UTF-8 byte {byte:#04x} (.tj files are UTF-8 text)"),
    };
    ParseError {
        line,
        column,
        message,
        source_line,
    }
}

/// An error inside the current line (or, with `line`, another one).
struct LocalErr {
    line: Option<u32>,
    col: u32,
    msg: String,
}

type LResult<T> = Result<T, LocalErr>;

fn lerr<T>(col: u32, msg: impl Into<String>) -> LResult<T> {
    Err(LocalErr {
        line: None,
        col,
        msg: msg.into(),
    })
}

/// A 0-based index as a 1-based `u32` line number.
fn line_no(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX).saturating_add(1)
}

/// How a token is named in messages.
fn describe(t: Option<&Token<'_>>) -> String {
    match t.map(|t| &t.kind) {
        None => "end of line".into(),
        Some(TokKind::Ident(s)) | Some(TokKind::Number(s)) => format!("`{s}`"),
        Some(TokKind::Str(_)) => "a string".into(),
        Some(TokKind::Comma) => "`,`".into(),
        Some(TokKind::LParen) => "`(`".into(),
        Some(TokKind::RParen) => "`)`".into(),
        Some(TokKind::LBrace) => "`{`".into(),
        Some(TokKind::RBrace) => "`}`".into(),
        Some(TokKind::Colon) => "`:`".into(),
        Some(TokKind::Equals) => "`=`".into(),
        Some(TokKind::Arrow) => "`->`".into(),
        Some(TokKind::Dash) => "`-`".into(),
    }
}

/// The tokens of one line and a position in them.
struct Cursor<'t, 'a> {
    toks: &'t [Token<'a>],
    pos: usize,
}

impl<'t, 'a> Cursor<'t, 'a> {
    fn peek(&self) -> Option<&'t Token<'a>> {
        self.toks.get(self.pos)
    }

    fn peek2(&self) -> Option<&'t Token<'a>> {
        self.toks.get(self.pos.saturating_add(1))
    }

    /// The column of the next token, or just past the last one.
    fn col(&self) -> u32 {
        match self.peek() {
            Some(t) => t.col,
            None => self.toks.last().map_or(1, |t| t.end),
        }
    }

    /// An error "expected WHAT, found ..." at the next token.
    fn expected<T>(&self, what: &str) -> LResult<T> {
        lerr(
            self.col(),
            format!("expected {what}, found {}", describe(self.peek())),
        )
    }

    /// Consumes a token of this kind (compared without payload).
    fn expect(&mut self, kind: &TokKind<'_>, what: &str) -> LResult<u32> {
        match self.peek() {
            Some(t) if std::mem::discriminant(&t.kind) == std::mem::discriminant(kind) => {
                self.pos += 1;
                Ok(t.col)
            }
            _ => self.expected(what),
        }
    }

    fn ident(&mut self, what: &str) -> LResult<(&'a str, u32)> {
        match self.peek() {
            Some(Token {
                kind: TokKind::Ident(s),
                col,
                ..
            }) => {
                self.pos += 1;
                Ok((s, *col))
            }
            _ => self.expected(what),
        }
    }

    fn end_of_line(&self) -> LResult<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => self.expected("end of line"),
        }
    }
}

/// Why a numeric literal was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NumErr {
    Invalid,
    Range,
}

/// Whether an integer literal is written as unsigned hex (`0x...`).
fn is_unsigned_hex(text: &str) -> bool {
    text.starts_with("0x") || text.starts_with("0X")
}

/// An integer literal: decimal or `0x` hex, optionally negative.
///
/// A decimal literal is a value and must lie in `i64`'s range. An unsigned
/// hex literal is a 64-bit pattern: anything up to `0xffffffffffffffff` is
/// accepted and read as two's complement (`0xffffffffffffffff` is -1). A
/// negative hex literal `-0xN` is the value -N and must be at least
/// `-0x8000000000000000`.
fn parse_int(text: &str) -> Result<i64, NumErr> {
    let (neg, body) = match text.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, text),
    };
    let (digits, radix) = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        Some(h) => (h, 16),
        None => (body, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(NumErr::Invalid);
    }
    let mag = u64::from_str_radix(digits, radix).map_err(|_| NumErr::Range)?;
    if neg {
        if mag > 1u64 << 63 {
            return Err(NumErr::Range);
        }
        Ok(i64::from_ne_bytes(mag.to_ne_bytes()).wrapping_neg())
    } else if radix == 16 {
        Ok(i64::from_ne_bytes(mag.to_ne_bytes()))
    } else {
        i64::try_from(mag).map_err(|_| NumErr::Range)
    }
}

/// The message for an integer literal `text` rejected with `e`.
fn int_error(text: &str, e: NumErr) -> String {
    let shown = text.escape_debug();
    match e {
        NumErr::Invalid => {
            format!("`{shown}` is not an integer literal (decimal like `-12`, or hex like `0xff`)")
        }
        NumErr::Range => {
            let why = if text.strip_prefix('-').is_some_and(is_unsigned_hex) {
                "a negative hex literal is at least -0x8000000000000000"
            } else if is_unsigned_hex(text) {
                "a hex literal has at most 16 significant digits"
            } else {
                "a decimal literal is in -9223372036854775808..=9223372036854775807; \
                 write a 64-bit pattern in hex"
            };
            format!("integer `{shown}` does not fit 64 bits ({why})")
        }
    }
}

/// Parses one integer with exactly the literal rules of the text format
/// (for example a command-line argument): decimal in `i64`'s range, or
/// `0x` hex up to 64 bits taken as a two's-complement bit pattern
/// (`0xffffffffffffffff` is -1), optionally negative (`-0x8000000000000000`
/// is `i64::MIN`). No sign `+`, no surrounding spaces, no `_`. The error
/// says what is wrong, without a place.
pub fn parse_int_literal(s: &str) -> Result<i64, String> {
    parse_int(s).map_err(|e| int_error(s, e))
}

/// The bits of a 16-bit immediate field from an integer literal `text` of
/// value `v`: a value in `-32768..=32767`, or an unsigned hex literal up
/// to `0xffff`, taken as its 16-bit pattern (`0xffff` is -1 once the op
/// sign-extends it).
fn imm16(text: &str, v: i64) -> Option<u16> {
    if let Ok(x) = i16::try_from(v) {
        return Some(x as u16);
    }
    if is_unsigned_hex(text) {
        return u16::try_from(v).ok();
    }
    None
}

/// A number token where an f64 is expected: an integer literal (the value
/// of the i64 it denotes, so `0xffffffffffffffff` is -1.0) or
/// anything `f64::from_str` takes that contains `.`, `e` or `E`.
fn number_to_f64(text: &str) -> Option<f64> {
    let body = text.strip_prefix('-').unwrap_or(text);
    if body.starts_with("0x") || body.starts_with("0X") {
        return parse_int(text).ok().map(|v| v as f64);
    }
    let plain_int = !body.is_empty() && body.chars().all(|c| c.is_ascii_digit());
    if plain_int || text.contains(['.', 'e', 'E']) {
        text.parse::<f64>().ok()
    } else {
        None
    }
}

/// Whether an identifier is a register; its bank and index text.
fn split_register(s: &str) -> Option<(Bank, &str)> {
    let mut cs = s.chars();
    let bank = Bank::from_letter(cs.next()?)?;
    let digits = cs.as_str();
    (!digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())).then_some((bank, digits))
}

/// Something named in an op that is resolved later.
struct NameRef<'a> {
    pc: usize,
    field: usize,
    name: &'a str,
    line: u32,
    col: u32,
}

/// A `call` or `hcall`, resolved when the file ends.
struct CallRef<'a> {
    func: usize,
    /// The callee name and where the op puts its index.
    target: NameRef<'a>,
    host: bool,
    /// The bank and column of a result register, if one was named.
    dst: Option<(Bank, u32)>,
    /// The argument window.
    window: Option<u16>,
}

/// Sets the field `name` names, in op `name.pc` of function `func`, to
/// `value` (what the name resolved to).
fn patch(module: &mut Module, func: usize, name: &NameRef<'_>, value: u16) {
    if let Some(op) = module
        .functions
        .get_mut(func)
        .and_then(|f| f.code.get_mut(name.pc))
    {
        op.set_field(name.field, value);
    }
}

/// An indirect call's (or `tcalli`'s) type name, resolved when the file
/// ends.
struct TypeRef<'a> {
    func: usize,
    target: NameRef<'a>,
    /// The argument window, whose register `window` of the result bank
    /// receives the result.
    window: Option<u16>,
}

/// A global named by an op, resolved when the file ends.
struct GlobalUse<'a> {
    func: usize,
    target: NameRef<'a>,
    bank: Bank,
}

/// A struct or a field (`Struct.field`) named by an op, resolved when the
/// file ends.
struct StructUse<'a> {
    func: usize,
    target: NameRef<'a>,
    /// For a field: the bank of the op.
    field: Option<Bank>,
}

/// An entry of a switch table naming a label: the table, the case (`None`
/// for the default), the label and where it is written.
struct TableLabel<'a> {
    table: usize,
    case: Option<usize>,
    name: &'a str,
    line: u32,
    col: u32,
}

/// The function being parsed.
struct Open<'a> {
    func: Function,
    /// Where its `func` keyword is.
    line: u32,
    col: u32,
    labels: HashMap<&'a str, (u16, u32)>,
    label_refs: Vec<NameRef<'a>>,
    table_labels: Vec<TableLabel<'a>>,
    /// `regs` given in the header, per bank.
    explicit: [Option<u16>; 3],
    /// Registers needed per bank for what the function names.
    need: [u32; 3],
}

/// What the operands of one op name besides plain values.
#[derive(Default)]
struct OpInfo<'a> {
    regs: Vec<(Bank, u16)>,
    label: Option<(usize, &'a str, u32)>,
    callee: Option<(usize, bool, &'a str, u32)>,
    ty: Option<(usize, &'a str, u32)>,
    global: Option<(usize, Bank, &'a str, u32)>,
    /// A struct (`None`) or a field of this bank, by name.
    structure: Option<(usize, Option<Bank>, &'a str, u32)>,
    table: Vec<(Option<usize>, &'a str, u32)>,
    dst: Option<(Bank, u32)>,
    window: Option<u16>,
}

struct Parser<'s, 'a> {
    lines: &'s [&'a str],
    module: Module,
    iconsts: HashMap<i64, u16>,
    fconsts: HashMap<u64, u16>,
    strings: HashMap<String, u16>,
    func_names: HashMap<&'a str, (u16, u32)>,
    import_names: HashMap<&'a str, (u16, u32)>,
    type_names: HashMap<&'a str, (u16, u32)>,
    /// Per global name: its bank, index in the bank, declaration line.
    global_names: HashMap<&'a str, (Bank, u16, u32)>,
    global_uses: Vec<GlobalUse<'a>>,
    /// Per struct name: its index and declaration line.
    struct_names: HashMap<&'a str, (u16, u32)>,
    struct_uses: Vec<StructUse<'a>>,
    /// Per finished function: explicit `regs` and registers needed.
    explicit: Vec<[Option<u16>; 3]>,
    need: Vec<[u32; 3]>,
    calls: Vec<CallRef<'a>>,
    type_refs: Vec<TypeRef<'a>>,
    cur: Option<Open<'a>>,
}

/// Interns `key` in a pool that a `u16` field indexes.
fn intern<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, u16>,
    pool_len: usize,
    key: K,
    what: &str,
    col: u32,
) -> LResult<(u16, bool)> {
    if let Some(&k) = map.get(&key) {
        return Ok((k, false));
    }
    if pool_len >= MAX_ENTRIES {
        return lerr(col, format!("more than {MAX_ENTRIES} distinct {what}"));
    }
    let k = u16::try_from(pool_len).map_err(|_| LocalErr {
        line: None,
        col,
        msg: format!("more than {MAX_ENTRIES} distinct {what}"),
    })?;
    map.insert(key, k);
    Ok((k, true))
}

impl<'s, 'a> Parser<'s, 'a> {
    fn new(lines: &'s [&'a str]) -> Parser<'s, 'a> {
        Parser {
            lines,
            module: Module::default(),
            iconsts: HashMap::new(),
            fconsts: HashMap::new(),
            strings: HashMap::new(),
            func_names: HashMap::new(),
            import_names: HashMap::new(),
            type_names: HashMap::new(),
            global_names: HashMap::new(),
            global_uses: Vec::new(),
            struct_names: HashMap::new(),
            struct_uses: Vec::new(),
            explicit: Vec::new(),
            need: Vec::new(),
            calls: Vec::new(),
            type_refs: Vec::new(),
            cur: None,
        }
    }

    fn err(&self, line: u32, col: u32, message: impl Into<String>) -> ParseError {
        let source_line = self
            .lines
            .get((line as usize).saturating_sub(1))
            .map(|s| s.to_string())
            .unwrap_or_default();
        ParseError {
            line,
            column: col,
            message: message.into(),
            source_line,
        }
    }

    fn run(mut self) -> Result<Module, ParseError> {
        let lines = self.lines;
        for (i, text) in lines.iter().enumerate() {
            let line = line_no(i);
            let toks = lex_line(text).map_err(|e| self.err(line, e.col, e.message))?;
            self.line(&toks, line)
                .map_err(|e| self.err(e.line.unwrap_or(line), e.col, e.msg))?;
        }
        if let Some(open) = &self.cur {
            return Err(self.err(
                open.line,
                open.col,
                format!("function `{}` has no `end`", open.func.name),
            ));
        }
        self.resolve_calls()
            .map_err(|e| self.err(e.line.unwrap_or(0), e.col, e.msg))?;
        self.resolve_types()
            .map_err(|e| self.err(e.line.unwrap_or(0), e.col, e.msg))?;
        self.resolve_globals()
            .map_err(|e| self.err(e.line.unwrap_or(0), e.col, e.msg))?;
        self.resolve_structs()
            .map_err(|e| self.err(e.line.unwrap_or(0), e.col, e.msg))?;
        self.finish_regs();
        Ok(self.module)
    }

    fn line(&mut self, toks: &[Token<'a>], line: u32) -> LResult<()> {
        let mut cur = Cursor { toks, pos: 0 };
        // Labels: `NAME:`, possibly several, possibly before an op.
        while let (
            Some(Token {
                kind: TokKind::Ident(name),
                col,
                ..
            }),
            Some(Token {
                kind: TokKind::Colon,
                ..
            }),
        ) = (cur.peek(), cur.peek2())
        {
            self.label(name, line, *col)?;
            cur.pos += 2;
        }
        let Some(first) = cur.peek() else {
            return Ok(());
        };
        let col = first.col;
        match first.kind {
            TokKind::Ident("func") => {
                cur.pos += 1;
                self.func_header(&mut cur, line, col)
            }
            TokKind::Ident("import") => {
                cur.pos += 1;
                self.import(&mut cur, line, col)
            }
            TokKind::Ident("type") if self.cur.is_none() => {
                cur.pos += 1;
                self.type_decl(&mut cur, line, col)
            }
            TokKind::Ident("global") if self.cur.is_none() => {
                cur.pos += 1;
                self.global_decl(&mut cur, line, col)
            }
            TokKind::Ident("struct") if self.cur.is_none() => {
                cur.pos += 1;
                self.struct_decl(&mut cur, line, col)
            }
            TokKind::Ident("end") => {
                cur.pos += 1;
                cur.end_of_line()?;
                self.end(col)
            }
            TokKind::Ident(m) => {
                cur.pos += 1;
                self.op(&mut cur, m, line, col)
            }
            _ => cur
                .expected("an op, a label, `func`, `import`, `type`, `global`, `struct` or `end`"),
        }
    }

    fn label(&mut self, name: &'a str, line: u32, col: u32) -> LResult<()> {
        let Some(open) = self.cur.as_mut() else {
            return lerr(col, format!("label `{name}` outside a function"));
        };
        if let Some(&(_, first)) = open.labels.get(name) {
            return lerr(
                col,
                format!("duplicate label `{name}` (first defined on line {first})"),
            );
        }
        // Ops are capped at MAX_OPS, so the index after the last one fits.
        let pc = u16::try_from(open.func.code.len()).unwrap_or(u16::MAX);
        open.labels.insert(name, (pc, line));
        Ok(())
    }

    /// `(i, f=..., ...)`: the banks and the defaults (`None` where absent).
    fn params(
        &mut self,
        cur: &mut Cursor<'_, 'a>,
        defaults: bool,
    ) -> LResult<(Vec<Bank>, Vec<Option<i64>>)> {
        cur.expect(&TokKind::LParen, "`(`")?;
        let mut banks = Vec::new();
        let mut values = Vec::new();
        if cur.peek().is_some_and(|t| t.kind == TokKind::RParen) {
            cur.pos += 1;
            return Ok((banks, values));
        }
        loop {
            let (name, col) = cur.ident("a parameter bank (`i`, `f` or `r`)")?;
            let bank = single_bank(name).ok_or_else(|| LocalErr {
                line: None,
                col,
                msg: format!("expected a bank `i`, `f` or `r`, found `{name}`"),
            })?;
            let mut value = None;
            if let Some(eq) = cur.peek().filter(|t| t.kind == TokKind::Equals) {
                if !defaults {
                    return lerr(eq.col, "import parameters cannot have defaults");
                }
                if bank != Bank::I {
                    return lerr(col, "only `i` parameters may have defaults");
                }
                cur.pos += 1;
                value = Some(int_literal(cur)?.0);
            }
            banks.push(bank);
            values.push(value);
            match cur.peek().map(|t| &t.kind) {
                Some(TokKind::Comma) => cur.pos += 1,
                Some(TokKind::RParen) => {
                    cur.pos += 1;
                    return Ok((banks, values));
                }
                _ => return cur.expected("`,` or `)`"),
            }
        }
    }

    /// `-> BANK|none`
    fn result(cur: &mut Cursor<'_, 'a>) -> LResult<Option<Bank>> {
        cur.expect(&TokKind::Arrow, "`->`")?;
        let (name, col) = cur.ident("a result bank or `none`")?;
        if name == "none" {
            return Ok(None);
        }
        single_bank(name).map(Some).ok_or_else(|| LocalErr {
            line: None,
            col,
            msg: format!("expected a result bank `i`, `f`, `r` or `none`, found `{name}`"),
        })
    }

    fn import(&mut self, cur: &mut Cursor<'_, 'a>, line: u32, kw_col: u32) -> LResult<()> {
        if let Some(open) = &self.cur {
            return lerr(
                kw_col,
                format!(
                    "expected `end` of function `{}` before `import`",
                    open.func.name
                ),
            );
        }
        let index = self.module.imports.len();
        if index >= MAX_ENTRIES {
            return lerr(kw_col, format!("more than {MAX_ENTRIES} imports"));
        }
        let (name, ncol) = cur.ident("an import name")?;
        if let Some(&(_, first)) = self.import_names.get(name) {
            return lerr(
                ncol,
                format!("duplicate import `{name}` (first declared on line {first})"),
            );
        }
        let (params, _) = self.params(cur, false)?;
        let result = Self::result(cur)?;
        cur.end_of_line()?;
        self.import_names
            .insert(name, (u16::try_from(index).unwrap_or(u16::MAX), line));
        self.module.imports.push(Import {
            name: name.to_string(),
            sig: Signature { params, result },
            line: Some(line),
        });
        Ok(())
    }

    /// `type NAME = (BANKS) -> BANK|none`: a function type for indirect
    /// calls. Equal signatures share one entry of the type table.
    fn type_decl(&mut self, cur: &mut Cursor<'_, 'a>, line: u32, kw_col: u32) -> LResult<()> {
        let (name, ncol) = cur.ident("a type name")?;
        if let Some(&(_, first)) = self.type_names.get(name) {
            return lerr(
                ncol,
                format!("duplicate type `{name}` (first declared on line {first})"),
            );
        }
        cur.expect(&TokKind::Equals, "`=`")?;
        let (params, _) = self.params(cur, false)?;
        let result = Self::result(cur)?;
        cur.end_of_line()?;
        let sig = Signature { params, result };
        let index = match self.module.types.iter().position(|t| *t == sig) {
            Some(i) => i,
            None => {
                if self.module.types.len() >= MAX_ENTRIES {
                    return lerr(kw_col, format!("more than {MAX_ENTRIES} types"));
                }
                self.module.types.push(sig);
                self.module.types.len() - 1
            }
        };
        self.type_names
            .insert(name, (u16::try_from(index).unwrap_or(u16::MAX), line));
        Ok(())
    }

    /// `global BANK NAME [= VALUE]`: an i64 or f64 global with an initial
    /// value (0 when omitted), or a reference global (always null).
    fn global_decl(&mut self, cur: &mut Cursor<'_, 'a>, line: u32, kw_col: u32) -> LResult<()> {
        let (b, bcol) = cur.ident("a bank `i`, `f` or `r`")?;
        let bank = single_bank(b).ok_or_else(|| LocalErr {
            line: None,
            col: bcol,
            msg: format!("expected a bank `i`, `f` or `r`, found `{b}`"),
        })?;
        let (name, ncol) = cur.ident("a global name")?;
        if let Some(&(_, _, first)) = self.global_names.get(name) {
            return lerr(
                ncol,
                format!("duplicate global `{name}` (first declared on line {first})"),
            );
        }
        let mut init = 0u64;
        if let Some(eq) = cur.peek().filter(|t| t.kind == TokKind::Equals) {
            if bank == Bank::R {
                return lerr(eq.col, "a reference global starts null: no initial value");
            }
            cur.pos += 1;
            init = match bank {
                Bank::I => int_literal(cur)?.0 as u64,
                _ => float_literal(cur)?,
            };
        }
        cur.end_of_line()?;
        let index = self
            .module
            .globals
            .iter()
            .filter(|g| g.bank == bank)
            .count();
        if index >= MAX_ENTRIES - 1 {
            return lerr(
                kw_col,
                format!("more than {} {bank} globals", MAX_ENTRIES - 1),
            );
        }
        self.global_names
            .insert(name, (bank, u16::try_from(index).unwrap_or(u16::MAX), line));
        self.module.globals.push(Global {
            name: name.to_string(),
            bank,
            init,
        });
        Ok(())
    }

    /// `struct NAME [: PARENT] { BANK NAME, ... }`: a struct type, its
    /// parent declared before it.
    fn struct_decl(&mut self, cur: &mut Cursor<'_, 'a>, line: u32, kw_col: u32) -> LResult<()> {
        let (name, ncol) = cur.ident("a struct name")?;
        if let Some(&(_, first)) = self.struct_names.get(name) {
            return lerr(
                ncol,
                format!("duplicate struct `{name}` (first declared on line {first})"),
            );
        }
        let mut parent = None;
        if cur.peek().is_some_and(|t| t.kind == TokKind::Colon) {
            cur.pos += 1;
            let (p, pcol) = cur.ident("the parent struct's name")?;
            let Some(&(k, _)) = self.struct_names.get(p) else {
                return lerr(
                    pcol,
                    format!(
                        "unknown parent struct `{p}` (a parent is declared before its children)"
                    ),
                );
            };
            parent = Some(k);
        }
        cur.expect(&TokKind::LBrace, "`{`")?;
        let mut fields: Vec<FieldDecl> = Vec::new();
        if cur.peek().is_some_and(|t| t.kind == TokKind::RBrace) {
            cur.pos += 1;
        } else {
            loop {
                let (b, bcol) = cur.ident("a field's bank `i`, `f` or `r`")?;
                let bank = single_bank(b).ok_or_else(|| LocalErr {
                    line: None,
                    col: bcol,
                    msg: format!("expected a field's bank `i`, `f` or `r`, found `{b}`"),
                })?;
                let (fname, fcol) = cur.ident("a field name")?;
                if fname.contains('.') {
                    return lerr(fcol, format!("field name `{fname}` contains `.`"));
                }
                let inherited = parent.and_then(|p| {
                    self.module
                        .field_index(usize::from(p), fname)
                        .is_some()
                        .then_some(p)
                });
                if fields.iter().any(|f| f.name == fname) || inherited.is_some() {
                    return lerr(
                        fcol,
                        format!("duplicate field `{fname}` in struct `{name}`"),
                    );
                }
                if self.module.field_count() + fields.len() >= MAX_ENTRIES - 1 {
                    return lerr(fcol, format!("more than {} fields", MAX_ENTRIES - 1));
                }
                fields.push(FieldDecl {
                    name: fname.to_string(),
                    bank,
                });
                match cur.peek().map(|t| &t.kind) {
                    Some(TokKind::Comma) => cur.pos += 1,
                    Some(TokKind::RBrace) => {
                        cur.pos += 1;
                        break;
                    }
                    _ => return cur.expected("`,` or `}`"),
                }
            }
        }
        cur.end_of_line()?;
        let index = self.module.structs.len();
        if index >= MAX_ENTRIES - 1 {
            return lerr(kw_col, format!("more than {} structs", MAX_ENTRIES - 1));
        }
        self.struct_names
            .insert(name, (u16::try_from(index).unwrap_or(u16::MAX), line));
        self.module.structs.push(StructDecl {
            name: name.to_string(),
            parent,
            fields,
        });
        Ok(())
    }

    fn func_header(&mut self, cur: &mut Cursor<'_, 'a>, line: u32, kw_col: u32) -> LResult<()> {
        if let Some(open) = &self.cur {
            return lerr(
                kw_col,
                format!(
                    "expected `end` of function `{}` (line {}) before `func`",
                    open.func.name, open.line
                ),
            );
        }
        let index = self.module.functions.len();
        if index >= MAX_ENTRIES {
            return lerr(kw_col, format!("more than {MAX_ENTRIES} functions"));
        }
        let (name, ncol) = cur.ident("a function name")?;
        if let Some(&(_, first)) = self.func_names.get(name) {
            return lerr(
                ncol,
                format!("duplicate function `{name}` (first defined on line {first})"),
            );
        }
        let (params, defaults) = self.params(cur, true)?;
        let result = Self::result(cur)?;
        let mut explicit: [Option<u16>; 3] = [None; 3];
        if let Some(Token {
            kind: TokKind::Ident("regs"),
            ..
        }) = cur.peek()
        {
            cur.pos += 1;
            if cur.peek().is_none() {
                return cur.expected("`i=N`, `f=N` or `r=N`");
            }
            while cur.peek().is_some() {
                let (b, bcol) = cur.ident("`i=N`, `f=N` or `r=N`")?;
                let bank = single_bank(b).ok_or_else(|| LocalErr {
                    line: None,
                    col: bcol,
                    msg: format!("expected a bank `i`, `f` or `r`, found `{b}`"),
                })?;
                cur.expect(&TokKind::Equals, "`=`")?;
                let n = u16_literal(cur, "a register count")?;
                let slot = &mut explicit[bank.index()];
                if slot.is_some() {
                    return lerr(bcol, format!("`regs` gives bank `{bank}` twice"));
                }
                *slot = Some(n);
            }
        }
        cur.end_of_line()?;
        self.func_names
            .insert(name, (u16::try_from(index).unwrap_or(u16::MAX), line));
        let sig = Signature { params, result };
        let counts = sig.param_counts();
        let param_defaults = if defaults.iter().any(Option::is_some) {
            defaults
        } else {
            Vec::new()
        };
        self.cur = Some(Open {
            func: Function {
                name: name.to_string(),
                sig,
                param_defaults,
                regs: [0; 3],
                code: Vec::new(),
                lines: Vec::new(),
                columns: Vec::new(),
                switch_tables: Vec::new(),
            },
            line,
            col: kw_col,
            labels: HashMap::new(),
            label_refs: Vec::new(),
            table_labels: Vec::new(),
            explicit,
            need: counts.map(u32::from),
        });
        Ok(())
    }

    fn end(&mut self, col: u32) -> LResult<()> {
        let Some(mut open) = self.cur.take() else {
            return lerr(col, "`end` without `func`");
        };
        for r in &open.label_refs {
            let Some(&(pc, _)) = open.labels.get(r.name) else {
                return Err(LocalErr {
                    line: Some(r.line),
                    col: r.col,
                    msg: format!("unknown label `{}`", r.name),
                });
            };
            if let Some(op) = open.func.code.get_mut(r.pc) {
                op.set_field(r.field, pc);
            }
        }
        for t in &open.table_labels {
            let Some(&(pc, _)) = open.labels.get(t.name) else {
                return Err(LocalErr {
                    line: Some(t.line),
                    col: t.col,
                    msg: format!("unknown label `{}`", t.name),
                });
            };
            if let Some(table) = open.func.switch_tables.get_mut(t.table) {
                match t.case {
                    Some(k) => table.targets[k] = pc,
                    None => table.default = pc,
                }
            }
        }
        self.explicit.push(open.explicit);
        self.need.push(open.need);
        self.module.functions.push(open.func);
        Ok(())
    }

    fn op(&mut self, cur: &mut Cursor<'_, 'a>, m: &'a str, line: u32, mcol: u32) -> LResult<()> {
        let entry = MNEMONICS.get(m);
        let Some(pc) = self.cur.as_ref().map(|o| o.func.code.len()) else {
            return match entry {
                Some(_) => lerr(mcol, format!("op `{m}` outside a function")),
                None => lerr(
                    mcol,
                    format!("expected `func`, `import` or an empty line, found `{m}`"),
                ),
            };
        };
        let Some(entry) = entry else {
            return lerr(mcol, format!("unknown mnemonic `{m}`"));
        };
        if pc >= MAX_OPS {
            return lerr(mcol, format!("function has more than {MAX_OPS} ops"));
        }
        let mut opcode = entry.op;
        let kinds = opcode.operands();
        let expected = kinds.iter().filter(|k| **k != Operand::None).count();
        let mut fields = [0u16; 3];
        let mut info = OpInfo::default();
        let mut found = 0;
        for (field, &kind) in kinds.iter().enumerate() {
            if kind == Operand::None {
                continue;
            }
            if cur.peek().is_none() {
                return lerr(
                    mcol,
                    format!(
                        "`{m}` takes {expected} operand{}, found {found}",
                        plural(expected)
                    ),
                );
            }
            if found > 0 {
                cur.expect(&TokKind::Comma, "`,`")?;
            }
            let at = cur.pos;
            let value = match entry.pooled {
                Some((pfield, pooled)) if pfield == field => {
                    int_literal(cur).and_then(|(v, col)| match i16::try_from(v) {
                        Ok(imm) => Ok(imm as u16),
                        Err(_) => {
                            opcode = pooled;
                            self.iconst(v, col)
                        }
                    })
                }
                _ => self.operand(kind, field, cur, &mut info),
            };
            let value = value.map_err(|mut e| {
                let text = self.lines.get((line as usize).saturating_sub(1));
                let hint = Hint {
                    op: entry.op,
                    mnemonic: m,
                    mnemonic_col: mcol,
                    field,
                    toks: cur.toks,
                    at,
                    line_text: text.copied().unwrap_or_default(),
                };
                if e.line.is_none()
                    && let Some(h) = hint.message()
                {
                    e.msg = format!("{}; {h}", e.msg);
                }
                e
            })?;
            fields[field] = value;
            found += 1;
        }
        if let Some(t) = cur.peek() {
            if expected == 0 {
                return lerr(t.col, format!("`{m}` takes no operands"));
            }
            if t.kind == TokKind::Comma {
                let col = cur.peek2().map_or(t.col, |n| n.col);
                return lerr(
                    col,
                    format!("`{m}` takes only {expected} operand{}", plural(expected)),
                );
            }
            return cur.expected("`,` or end of line");
        }

        let Some(open) = self.cur.as_mut() else {
            return lerr(mcol, format!("`{m}` outside a function"));
        };
        // Where an op names something resolved later.
        let name_ref = |field, name, col| NameRef {
            pc,
            field,
            name,
            line,
            col,
        };
        let [a, b, c] = fields;
        open.func.code.push(Op::new(opcode, a, b, c));
        open.func.lines.push(line);
        open.func.columns.push(mcol);
        for (bank, idx) in info.regs {
            let n = &mut open.need[bank.index()];
            *n = (*n).max(u32::from(idx) + 1);
        }
        if let Some((field, name, col)) = info.label {
            open.label_refs.push(name_ref(field, name, col));
        }
        if !info.table.is_empty() {
            let table = open.func.switch_tables.len();
            let cases = info
                .table
                .iter()
                .filter(|(case, _, _)| case.is_some())
                .count();
            open.func.switch_tables.push(SwitchTable {
                targets: vec![0; cases],
                default: 0,
            });
            for (case, name, col) in info.table {
                open.table_labels.push(TableLabel {
                    table,
                    case,
                    name,
                    line,
                    col,
                });
            }
            if let Some(op) = open.func.code.last_mut() {
                op.b = u16::try_from(table).unwrap_or(u16::MAX);
            }
        }
        if let Some((field, bank, name, col)) = info.global {
            let func = self.module.functions.len();
            self.global_uses.push(GlobalUse {
                func,
                target: name_ref(field, name, col),
                bank,
            });
        }
        if let Some((field, bank, name, col)) = info.structure {
            let func = self.module.functions.len();
            self.struct_uses.push(StructUse {
                func,
                target: name_ref(field, name, col),
                field: bank,
            });
        }
        if let Some((field, name, col)) = info.ty {
            let func = self.module.functions.len();
            self.type_refs.push(TypeRef {
                func,
                target: name_ref(field, name, col),
                window: info.window,
            });
        }
        if let Some((field, host, name, col)) = info.callee {
            let func = self.module.functions.len();
            self.calls.push(CallRef {
                func,
                target: name_ref(field, name, col),
                host,
                dst: info.dst,
                window: info.window,
            });
        }
        Ok(())
    }

    fn iconst(&mut self, v: i64, col: u32) -> LResult<u16> {
        let (k, new) = intern(
            &mut self.iconsts,
            self.module.iconsts.len(),
            v,
            "i64 constants",
            col,
        )?;
        if new {
            self.module.iconsts.push(v);
        }
        Ok(k)
    }

    /// Parses one operand of kind `kind` for field `field`.
    fn operand(
        &mut self,
        kind: Operand,
        field: usize,
        cur: &mut Cursor<'_, 'a>,
        info: &mut OpInfo<'a>,
    ) -> LResult<u16> {
        match kind {
            Operand::None => Ok(0),
            Operand::Read(bank) | Operand::Write(bank) | Operand::Update(bank) => {
                let (b, idx, _) = register(cur, Some(bank))?;
                info.regs.push((b, idx));
                Ok(idx)
            }
            Operand::ReadRun(bank, n) => {
                // The first register; the run needs the registers after it.
                let (b, idx, _) = register(cur, Some(bank))?;
                info.regs.push((b, idx));
                info.regs
                    .push((b, idx.saturating_add(u16::from(n).saturating_sub(1))));
                Ok(idx)
            }
            Operand::Imm => imm_literal(cur),
            Operand::ConstI => {
                let (v, col) = int_literal(cur)?;
                self.iconst(v, col)
            }
            Operand::ConstF => {
                let col = cur.col();
                let bits = float_literal(cur)?;
                let (k, new) = intern(
                    &mut self.fconsts,
                    self.module.fconsts.len(),
                    bits,
                    "f64 constants",
                    col,
                )?;
                if new {
                    self.module.fconsts.push(bits);
                }
                Ok(k)
            }
            Operand::Str => match cur.peek() {
                Some(Token {
                    kind: TokKind::Str(s),
                    col,
                    ..
                }) => {
                    cur.pos += 1;
                    let (k, new) = intern(
                        &mut self.strings,
                        self.module.strings.len(),
                        s.clone(),
                        "strings",
                        *col,
                    )?;
                    if new {
                        self.module.strings.push(s.clone());
                    }
                    Ok(k)
                }
                _ => cur.expected("a string"),
            },
            Operand::Target => {
                let (name, col) = cur.ident("a label")?;
                info.label = Some((field, name, col));
                Ok(0)
            }
            Operand::Func | Operand::Host => {
                let host = kind == Operand::Host;
                let (name, col) = cur.ident(if host {
                    "an import name"
                } else {
                    "a function name"
                })?;
                info.callee = Some((field, host, name, col));
                Ok(0)
            }
            Operand::CallDst => {
                if let Some(Token {
                    kind: TokKind::Dash,
                    ..
                }) = cur.peek()
                {
                    cur.pos += 1;
                    return Ok(NO_REG);
                }
                let (bank, idx, col) = register(cur, None)?;
                if idx == NO_REG {
                    return lerr(
                        col,
                        format!("register index {NO_REG} cannot hold a call result (it means `-`)"),
                    );
                }
                info.regs.push((bank, idx));
                info.dst = Some((bank, col));
                Ok(idx)
            }
            Operand::ArgWindow => {
                let w = u16_literal(cur, "an argument window (a register index)")?;
                info.window = Some(w);
                Ok(w)
            }
            Operand::Count => u16_literal(cur, "a count"),
            Operand::Type => {
                let (name, col) = cur.ident("a type name")?;
                info.ty = Some((field, name, col));
                Ok(0)
            }
            Operand::Global(bank) => {
                let (name, col) = cur.ident("a global name")?;
                info.global = Some((field, bank, name, col));
                Ok(0)
            }
            Operand::Struct => {
                let (name, col) = cur.ident("a struct name")?;
                info.structure = Some((field, None, name, col));
                Ok(0)
            }
            Operand::Field(bank) => {
                let (name, col) = cur.ident("a field `Struct.field`")?;
                info.structure = Some((field, Some(bank), name, col));
                Ok(0)
            }
            Operand::Table => {
                // `(L0, L1, ...), Ldefault`
                cur.expect(&TokKind::LParen, "`(` and the case labels")?;
                let mut case = 0;
                if cur.peek().is_some_and(|t| t.kind == TokKind::RParen) {
                    cur.pos += 1;
                } else {
                    loop {
                        if case + 1 >= MAX_OPS {
                            return lerr(cur.col(), format!("more than {MAX_OPS} cases"));
                        }
                        let (name, col) = cur.ident("a case label")?;
                        info.table.push((Some(case), name, col));
                        case += 1;
                        match cur.peek().map(|t| &t.kind) {
                            Some(TokKind::Comma) => cur.pos += 1,
                            Some(TokKind::RParen) => {
                                cur.pos += 1;
                                break;
                            }
                            _ => return cur.expected("`,` or `)`"),
                        }
                    }
                }
                cur.expect(&TokKind::Comma, "`,` and the default label")?;
                let (name, col) = cur.ident("the default label")?;
                info.table.push((None, name, col));
                Ok(0)
            }
        }
    }

    /// Patches global indices, checking each global's bank.
    fn resolve_globals(&mut self) -> LResult<()> {
        for u in &self.global_uses {
            let t = &u.target;
            let Some(&(bank, index, _)) = self.global_names.get(t.name) else {
                return Err(LocalErr {
                    line: Some(t.line),
                    col: t.col,
                    msg: format!("unknown global `{}`", t.name),
                });
            };
            if bank != u.bank {
                return Err(LocalErr {
                    line: Some(t.line),
                    col: t.col,
                    msg: format!(
                        "global `{}` is of bank `{bank}`, the op needs bank `{}`",
                        t.name, u.bank
                    ),
                });
            }
            patch(&mut self.module, u.func, t, index);
        }
        Ok(())
    }

    /// Patches struct and field indices: `S` names struct `S`, `S.f` the
    /// field `f` of `S` or of its nearest ancestor declaring it, whose bank
    /// must be the op's.
    fn resolve_structs(&mut self) -> LResult<()> {
        let firsts = self.module.first_fields();
        for u in &self.struct_uses {
            let t = &u.target;
            let err = |msg: String| LocalErr {
                line: Some(t.line),
                col: t.col,
                msg,
            };
            let Some(bank) = u.field else {
                let Some(&(index, _)) = self.struct_names.get(t.name) else {
                    return Err(err(format!("unknown struct `{}`", t.name)));
                };
                patch(&mut self.module, u.func, t, index);
                continue;
            };
            let Some((sname, fname)) = t.name.rsplit_once('.') else {
                return Err(err(format!(
                    "expected a field `Struct.field`, found `{}`",
                    t.name
                )));
            };
            let Some(&(s, _)) = self.struct_names.get(sname) else {
                return Err(err(format!("unknown struct `{sname}`")));
            };
            let Some(k) = self.module.field_index(usize::from(s), fname) else {
                return Err(err(format!("struct `{sname}` has no field `{fname}`")));
            };
            let Some(f) = self.module.field(k) else {
                return Err(err(format!("struct `{sname}` has no field `{fname}`")));
            };
            if f.decl.bank != bank {
                return Err(err(format!(
                    "field `{}.{fname}` is of bank `{}`, the op needs bank `{bank}`",
                    self.module.structs[f.owner].name, f.decl.bank
                )));
            }
            debug_assert_eq!(firsts[f.owner] + f.position, k);
            patch(
                &mut self.module,
                u.func,
                t,
                u16::try_from(k).unwrap_or(u16::MAX),
            );
        }
        Ok(())
    }

    /// Patches type indices and widens the inferred register counts by the
    /// argument windows and result registers of indirect calls.
    fn resolve_types(&mut self) -> LResult<()> {
        for r in &self.type_refs {
            let t = &r.target;
            let Some(&(index, _)) = self.type_names.get(t.name) else {
                return Err(LocalErr {
                    line: Some(t.line),
                    col: t.col,
                    msg: format!("unknown type `{}`", t.name),
                });
            };
            let Some(sig) = self.module.types.get(usize::from(index)) else {
                continue;
            };
            if let (Some(window), Some(need)) = (r.window, self.need.get_mut(r.func)) {
                for (n, count) in need.iter_mut().zip(sig.param_counts()) {
                    if count > 0 {
                        *n = (*n).max(u32::from(window) + u32::from(count));
                    }
                }
                if let Some(result) = sig.result {
                    let n = &mut need[result.index()];
                    *n = (*n).max(u32::from(window) + 1);
                }
            }
            patch(&mut self.module, r.func, t, index);
        }
        Ok(())
    }

    /// Patches callee indices, checks named result banks and widens the
    /// inferred register counts by the argument windows.
    fn resolve_calls(&mut self) -> LResult<()> {
        for call in &self.calls {
            let r = &call.target;
            let names = if call.host {
                &self.import_names
            } else {
                &self.func_names
            };
            let Some(&(index, _)) = names.get(r.name) else {
                let what = if call.host { "import" } else { "function" };
                return Err(LocalErr {
                    line: Some(r.line),
                    col: r.col,
                    msg: format!("unknown {what} `{}`", r.name),
                });
            };
            let sig = if call.host {
                self.module.imports.get(usize::from(index)).map(|i| &i.sig)
            } else {
                self.module
                    .functions
                    .get(usize::from(index))
                    .map(|f| &f.sig)
            };
            let Some(sig) = sig else { continue };
            if let (Some((bank, col)), Some(result)) = (call.dst, sig.result)
                && bank != result
            {
                return Err(LocalErr {
                    line: Some(r.line),
                    col,
                    msg: format!(
                        "`{}` returns `{result}`, but the result register is of bank `{bank}`",
                        r.name
                    ),
                });
            }
            let counts = sig.param_counts();
            if let (Some(window), Some(need)) = (call.window, self.need.get_mut(call.func)) {
                for (n, count) in need.iter_mut().zip(counts) {
                    if count > 0 {
                        *n = (*n).max(u32::from(window) + u32::from(count));
                    }
                }
            }
            patch(&mut self.module, call.func, r, index);
        }
        Ok(())
    }

    /// Sets `regs` of every function: as given, or inferred.
    fn finish_regs(&mut self) {
        for (i, f) in self.module.functions.iter_mut().enumerate() {
            let explicit = self.explicit.get(i).copied().unwrap_or_default();
            let need = self.need.get(i).copied().unwrap_or_default();
            for ((r, e), n) in f.regs.iter_mut().zip(explicit).zip(need) {
                *r = e.unwrap_or_else(|| u16::try_from(n).unwrap_or(u16::MAX));
            }
        }
    }
}

/// Whether `y` is the other form of `x` that takes, in field `field`, a
/// constant where `x` reads a register, or a register where `x` takes a
/// constant; everything else alike. The pairs come from the op table: a
/// register-register op and its immediate form (mnemonic + `i`, same
/// operation, same flow: `add`/`addi`, `jlt`/`jlti`), and a move and the
/// load of a constant into the same bank (`mov`/`iconst`, `fmov`/`fconst`).
pub(crate) fn counterpart(x: Opcode, y: Opcode, field: usize) -> bool {
    let (kx, ky) = (x.operands(), y.operands());
    let others_alike = kx
        .iter()
        .zip(ky.iter())
        .enumerate()
        .all(|(i, (a, b))| i == field || a == b);
    let (Some(&fx), Some(&fy)) = (kx.get(field), ky.get(field)) else {
        return false;
    };
    if !others_alike || x == y {
        return false;
    }
    let immediate_form = |reg: Opcode, imm: Opcode| {
        imm.mnemonic().strip_suffix('i') == Some(reg.mnemonic())
            && reg.int_binop() == imm.int_binop()
            && reg.cmp() == imm.cmp()
            && reg.flow() == imm.flow()
    };
    let load_of = |mov: Opcode, bank: Bank, konst: Operand| {
        mov.transfer_bank() == Some(bank)
            && mov.flow() == Flow::Next
            && match konst {
                Operand::Imm | Operand::ConstI => bank == Bank::I,
                Operand::ConstF => bank == Bank::F,
                _ => false,
            }
    };
    match (fx, fy) {
        (Operand::Read(Bank::I), Operand::Imm) if immediate_form(x, y) => true,
        (Operand::Imm, Operand::Read(Bank::I)) if immediate_form(y, x) => true,
        (Operand::Read(b), k) => load_of(x, b, k),
        (k, Operand::Read(b)) => load_of(y, b, k),
        _ => false,
    }
}

/// What an operand that did not parse stands in, to suggest the form of
/// the op that takes what was written there.
struct Hint<'t, 'a> {
    /// The op as the mnemonic names it (its inline form).
    op: Opcode,
    mnemonic: &'a str,
    mnemonic_col: u32,
    field: usize,
    /// The line's tokens, and the index of the operand's first one.
    toks: &'t [Token<'a>],
    at: usize,
    line_text: &'a str,
}

impl Hint<'_, '_> {
    /// The hint, if there is one.
    fn message(&self) -> Option<String> {
        let kind = *self.op.operands().get(self.field)?;
        let tok = self.toks.get(self.at)?;
        let int = match &tok.kind {
            TokKind::Number(text) => parse_int(text).ok().map(|v| (*text, v)),
            _ => None,
        };
        let pooled_at = |op: Opcode| {
            MNEMONICS
                .get(op.mnemonic())
                .is_some_and(|e| e.pooled.is_some_and(|(f, _)| f == self.field))
        };
        // An immediate out of range (where no pool takes over): the
        // register form.
        if kind == Operand::Imm
            && !pooled_at(self.op)
            && let Some((text, v)) = int
            && imm16(text, v).is_none()
        {
            let reg_form = Opcode::ALL
                .iter()
                .find(|&&y| counterpart(self.op, y, self.field))
                .map_or(String::new(), |y| {
                    format!(" and use the register form `{y}`")
                });
            return Some(format!(
                "load it into a free `i` register with `iconst`{reg_form}"
            ));
        }
        for &y in Opcode::ALL {
            if !counterpart(self.op, y, self.field) {
                continue;
            }
            let Some(&wants) = y.operands().get(self.field) else {
                continue;
            };
            let fits = match wants {
                Operand::Imm => {
                    int.is_some_and(|(text, v)| imm16(text, v).is_some() || pooled_at(y))
                }
                Operand::ConstI => int.is_some(),
                Operand::ConstF => {
                    let mut c = Cursor {
                        toks: self.toks,
                        pos: self.at,
                    };
                    float_literal(&mut c).is_ok()
                }
                Operand::Read(bank) => matches!(
                    &tok.kind,
                    TokKind::Ident(s) if split_register(s).is_some_and(|(b, _)| b == bank)
                ),
                _ => false,
            };
            if !fits {
                if wants == Operand::Imm
                    && let Some((text, _)) = int
                {
                    return Some(format!(
                        "`{m}` takes a register there, and `{text}` does not fit \
                         the 16-bit immediate of `{y}`: load it into a free `i` \
                         register with `iconst`",
                        m = self.mnemonic
                    ));
                }
                continue;
            }
            let m = self.mnemonic;
            let suggestion = format!("`{y} {}`", self.operands_text());
            let reads_register = matches!(kind, Operand::Read(_));
            return Some(match (reads_register, y.transfer_bank().is_some()) {
                (true, false) if self.op.transfer_bank().is_some() => {
                    format!("`{m}` copies a register: to load a constant use {suggestion}")
                }
                (true, _) => {
                    format!("`{m}` takes a register there: for an immediate use {suggestion}")
                }
                (false, true) => {
                    format!("`{m}` loads a constant: to copy a register use {suggestion}")
                }
                (false, false) => {
                    format!("`{m}` takes an immediate there: for a register use {suggestion}")
                }
            });
        }
        None
    }

    /// The source text of the op's operands, as written.
    fn operands_text(&self) -> String {
        let len = u32::try_from(self.mnemonic.chars().count()).unwrap_or(u32::MAX);
        let from = self.mnemonic_col.saturating_add(len);
        let to = self.toks.last().map_or(from, |t| t.end);
        let skip = usize::try_from(from.saturating_sub(1)).unwrap_or(usize::MAX);
        let take = usize::try_from(to.saturating_sub(from)).unwrap_or(0);
        let text: String = self.line_text.chars().skip(skip).take(take).collect();
        text.trim().to_string()
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `i`, `f` or `r` as a bank.
fn single_bank(s: &str) -> Option<Bank> {
    let mut cs = s.chars();
    let b = Bank::from_letter(cs.next()?)?;
    cs.next().is_none().then_some(b)
}

/// A register, of bank `want` when given: its bank, index and column.
fn register(cur: &mut Cursor<'_, '_>, want: Option<Bank>) -> LResult<(Bank, u16, u32)> {
    let what = match want {
        Some(b) => format!("an `{b}` register"),
        None => "a register or `-`".to_string(),
    };
    let Some(Token {
        kind: TokKind::Ident(s),
        col,
        ..
    }) = cur.peek()
    else {
        return cur.expected(&what);
    };
    let col = *col;
    let Some((bank, digits)) = split_register(s) else {
        return cur.expected(&what);
    };
    if let Some(w) = want
        && w != bank
    {
        return lerr(col, format!("expected {what}, found `{s}` (bank `{bank}`)"));
    }
    let idx = digits
        .parse::<u64>()
        .ok()
        .and_then(|v| u16::try_from(v).ok())
        .ok_or_else(|| LocalErr {
            line: None,
            col,
            msg: format!("register index of `{s}` is above 65535"),
        })?;
    cur.pos += 1;
    Ok((bank, idx, col))
}

/// An i64 literal and its column.
fn int_literal(cur: &mut Cursor<'_, '_>) -> LResult<(i64, u32)> {
    let Some(Token {
        kind: TokKind::Number(text),
        col,
        ..
    }) = cur.peek()
    else {
        return cur.expected("an integer");
    };
    match parse_int(text) {
        Ok(v) => {
            cur.pos += 1;
            Ok((v, *col))
        }
        Err(NumErr::Range) => lerr(*col, int_error(text, NumErr::Range)),
        Err(NumErr::Invalid) => cur.expected("an integer"),
    }
}

/// A 16-bit immediate (see [`imm16`]).
fn imm_literal(cur: &mut Cursor<'_, '_>) -> LResult<u16> {
    let text = match cur.peek() {
        Some(Token {
            kind: TokKind::Number(text),
            ..
        }) => *text,
        _ => "",
    };
    let (v, col) = int_literal(cur)?;
    imm16(text, v).ok_or_else(|| LocalErr {
        line: None,
        col,
        msg: format!(
            "immediate `{text}` is out of the 16-bit range \
             (-32768..=32767, or 0x8000..=0xffff in hex as a bit pattern)"
        ),
    })
}

/// An integer literal in `0..=65535`.
fn u16_literal(cur: &mut Cursor<'_, '_>, what: &str) -> LResult<u16> {
    let Some(Token {
        kind: TokKind::Number(text),
        col,
        ..
    }) = cur.peek()
    else {
        return cur.expected(what);
    };
    match parse_int(text) {
        Ok(v) => {
            let v = u16::try_from(v)
                .or_else(|_| lerr(*col, format!("{what} must be in 0..=65535, found `{text}`")))?;
            cur.pos += 1;
            Ok(v)
        }
        Err(NumErr::Range) => lerr(*col, format!("{what} must be in 0..=65535, found `{text}`")),
        Err(NumErr::Invalid) => cur.expected(what),
    }
}

/// An f64 literal, as bits: a number, `inf`, `-inf`, `nan` or `bits:0x...`.
fn float_literal(cur: &mut Cursor<'_, '_>) -> LResult<u64> {
    let what = "a float";
    let Some(tok) = cur.peek() else {
        return cur.expected(what);
    };
    let value = match &tok.kind {
        TokKind::Number(text) => number_to_f64(text),
        TokKind::Ident("inf") => Some(f64::INFINITY),
        TokKind::Ident("nan") => Some(f64::NAN),
        TokKind::Ident("bits") => {
            cur.pos += 1;
            cur.expect(&TokKind::Colon, "`:` after `bits`")?;
            let Some(Token {
                kind: TokKind::Number(text),
                col,
                ..
            }) = cur.peek()
            else {
                return cur.expected("hex bits `0x...`");
            };
            let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"));
            return match digits {
                Some(d) if !d.is_empty() && d.chars().all(|c| c.is_ascii_hexdigit()) => {
                    let bits = u64::from_str_radix(d, 16)
                        .or_else(|_| lerr(*col, format!("`{text}` does not fit 64 bits")))?;
                    cur.pos += 1;
                    Ok(bits)
                }
                _ => cur.expected("hex bits `0x...`"),
            };
        }
        TokKind::Dash => match cur.peek2() {
            Some(Token {
                kind: TokKind::Ident("inf"),
                ..
            }) => {
                cur.pos += 1;
                Some(f64::NEG_INFINITY)
            }
            _ => None,
        },
        // `.5` lexes as an identifier.
        TokKind::Ident(text) if text.contains('.') => text.parse::<f64>().ok(),
        _ => None,
    };
    match value {
        Some(v) => {
            cur.pos += 1;
            Ok(v.to_bits())
        }
        None => cur.expected(what),
    }
}
