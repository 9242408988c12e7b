//! The lexer: source text to tokens, each with its line and column.
//!
//! Lines count from 1 (split at `\n`), columns from 1 in characters, as in
//! the `.tj` text format. Every token remembers whether a line break came
//! before it: the parser ends a statement there when it could end, which is
//! what makes semicolons optional.

use super::LangError;
use super::ast::Pos;

/// What a token is.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// A decimal integer literal, not yet range-checked (the parser folds a
    /// leading `-` so that `-9223372036854775808` fits).
    Int(u64),
    /// A hex integer literal: a 64-bit pattern (two's complement).
    Hex(u64),
    /// A float literal.
    Float(f64),
    /// A string literal, escapes resolved.
    Str(String),
    /// An identifier that is not a keyword.
    Ident(String),
    /// A keyword or punctuation, spelled as in the source.
    Sym(&'static str),
    /// The end of the source.
    Eof,
}

/// One token and where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    /// What it is.
    pub tok: Tok,
    /// Its first character's line and column.
    pub pos: Pos,
    /// Whether a line break separates it from the previous token.
    pub newline_before: bool,
}

/// The keywords: reserved, never identifiers. `class`, `extends`, `self`,
/// `null`, `fun` and `import` are reserved for the next steps (classes,
/// closures, host calls).
pub const KEYWORDS: &[&str] = &[
    "fn", "let", "var", "if", "else", "while", "for", "in", "break", "continue", "return", "true",
    "false", "new", "as", "int", "float", "bool", "string", "class", "extends", "self", "null",
    "fun", "import", "is", "match", "bytes",
];

/// Punctuation, longest first so that the first match is the longest.
const PUNCT: &[&str] = &[
    ">>>", "..", "->", "=>", "==", "!=", "<=", ">=", "&&", "||", "<<", ">>", "+=", "-=", "*=",
    "/=", "%=", "(", ")", "{", "}", "[", "]", ",", ":", ";", ".", "+", "-", "*", "/", "%", "&",
    "|", "^", "~", "!", "<", ">", "=",
];

struct Lexer<'s> {
    chars: Vec<char>,
    at: usize,
    line: u32,
    col: u32,
    file: &'s str,
}

impl Lexer<'_> {
    fn peek(&self, k: usize) -> Option<char> {
        self.chars.get(self.at + k).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek(0)?;
        self.at += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: self.col,
        }
    }

    fn error(&self, pos: Pos, message: String) -> LangError {
        LangError::new(self.file, pos, message)
    }

    /// Skip blanks and `//` comments; whether a line break was skipped.
    fn skip_space(&mut self) -> bool {
        let mut newline = false;
        loop {
            match self.peek(0) {
                Some('\n') => {
                    newline = true;
                    self.bump();
                }
                Some(c) if c.is_whitespace() => {
                    self.bump();
                }
                Some('/') if self.peek(1) == Some('/') => {
                    while self.peek(0).is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                }
                _ => return newline,
            }
        }
    }

    fn number(&mut self, pos: Pos) -> Result<Tok, LangError> {
        if self.peek(0) == Some('0') && matches!(self.peek(1), Some('x' | 'X')) {
            self.bump();
            self.bump();
            let mut digits = String::new();
            while let Some(c) = self
                .peek(0)
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            {
                digits.push(c);
                self.bump();
            }
            return u64::from_str_radix(&digits, 16)
                .map(Tok::Hex)
                .map_err(|_| self.error(pos, format!("bad hex literal `0x{digits}`")));
        }
        let mut text = String::new();
        let mut is_float = false;
        while let Some(c) = self.peek(0).filter(char::is_ascii_digit) {
            text.push(c);
            self.bump();
        }
        // `1..n` is a range, not the float `1.`: a fraction needs a digit.
        if self.peek(0) == Some('.') && self.peek(1).is_some_and(|c| c.is_ascii_digit()) {
            is_float = true;
            text.push('.');
            self.bump();
            while let Some(c) = self.peek(0).filter(char::is_ascii_digit) {
                text.push(c);
                self.bump();
            }
        }
        if matches!(self.peek(0), Some('e' | 'E')) {
            let sign = matches!(self.peek(1), Some('+' | '-'));
            let digit_at = if sign { 2 } else { 1 };
            if self.peek(digit_at).is_some_and(|c| c.is_ascii_digit()) {
                is_float = true;
                for _ in 0..digit_at {
                    text.push(self.bump().unwrap_or('e'));
                }
                while let Some(c) = self.peek(0).filter(char::is_ascii_digit) {
                    text.push(c);
                    self.bump();
                }
            }
        }
        if self
            .peek(0)
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            return Err(self.error(self.pos(), "a letter right after a number".to_owned()));
        }
        if is_float {
            text.parse::<f64>()
                .map(Tok::Float)
                .map_err(|_| self.error(pos, format!("bad float literal `{text}`")))
        } else {
            text.parse::<u64>().map(Tok::Int).map_err(|_| {
                self.error(
                    pos,
                    format!("integer literal `{text}` does not fit 64 bits"),
                )
            })
        }
    }

    fn string(&mut self, pos: Pos) -> Result<Tok, LangError> {
        self.bump(); // the opening quote
        let mut s = String::new();
        loop {
            let at = self.pos();
            match self.bump() {
                None | Some('\n') => {
                    return Err(self.error(pos, "unterminated string literal".to_owned()));
                }
                Some('"') => return Ok(Tok::Str(s)),
                Some('\\') => {
                    let c = match self.bump() {
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('r') => '\r',
                        Some('0') => '\0',
                        Some('\\') => '\\',
                        Some('"') => '"',
                        other => {
                            let what = other.map_or("end of input".to_owned(), |c| {
                                format!("`{}`", c.escape_debug())
                            });
                            return Err(
                                self.error(at, format!("unknown escape \\ followed by {what}"))
                            );
                        }
                    };
                    s.push(c);
                }
                Some(c) => s.push(c),
            }
        }
    }

    fn token(&mut self) -> Result<Token, LangError> {
        let newline_before = self.skip_space();
        let pos = self.pos();
        let Some(c) = self.peek(0) else {
            return Ok(Token {
                tok: Tok::Eof,
                pos,
                newline_before,
            });
        };
        let tok = if c.is_ascii_digit() {
            self.number(pos)?
        } else if c == '"' {
            self.string(pos)?
        } else if c.is_alphabetic() || c == '_' {
            let mut name = String::new();
            while let Some(c) = self.peek(0).filter(|c| c.is_alphanumeric() || *c == '_') {
                name.push(c);
                self.bump();
            }
            match KEYWORDS.iter().find(|k| **k == name) {
                Some(k) => Tok::Sym(k),
                None => Tok::Ident(name),
            }
        } else {
            let matched = PUNCT.iter().find(|p| {
                p.chars()
                    .enumerate()
                    .all(|(k, pc)| self.peek(k) == Some(pc))
            });
            match matched {
                Some(p) => {
                    for _ in 0..p.chars().count() {
                        self.bump();
                    }
                    Tok::Sym(p)
                }
                None => {
                    return Err(
                        self.error(pos, format!("unexpected character `{}`", c.escape_debug()))
                    );
                }
            }
        };
        Ok(Token {
            tok,
            pos,
            newline_before,
        })
    }
}

/// The tokens of `source`, ending with [`Tok::Eof`], or the first lexical
/// error.
pub fn tokenize(source: &str, file: &str) -> Result<Vec<Token>, LangError> {
    let mut lexer = Lexer {
        chars: source.chars().collect(),
        at: 0,
        line: 1,
        col: 1,
        file,
    };
    let mut tokens = Vec::new();
    loop {
        let t = lexer.token()?;
        let end = t.tok == Tok::Eof;
        tokens.push(t);
        if end {
            return Ok(tokens);
        }
    }
}
