//! Splits one line of the text format into tokens.
//!
//! The format is line-oriented (one op per line, strings never span lines),
//! so the lexer works on one line at a time. Columns are 1-based and count
//! characters, not bytes.

use std::iter::Peekable;
use std::str::CharIndices;

/// What a token is. Identifiers and numbers keep their text: whether `i3`
/// is a register or a name, or `12` an immediate or a float, depends on
/// where it stands, which the parser knows.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum TokKind<'a> {
    /// `[A-Za-z_.$][A-Za-z0-9_.$]*`: names, mnemonics, registers, keywords.
    Ident(&'a str),
    /// A token starting with a digit, or `-` and a digit (`-5`, `0x7f`, `1.5e-3`).
    Number(&'a str),
    /// A string literal, escapes already decoded.
    Str(String),
    Comma,
    LParen,
    RParen,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    Colon,
    Equals,
    /// `->`
    Arrow,
    /// A `-` not followed by a digit or `>` (no call result, or `-inf`).
    Dash,
}

/// A token and where it is.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token<'a> {
    pub kind: TokKind<'a>,
    /// 1-based column of the first character.
    pub col: u32,
    /// 1-based column just past the last character.
    pub end: u32,
}

/// A lexical error: its column and message.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LexError {
    pub col: u32,
    pub message: String,
}

/// Whether `c` may start an identifier.
pub(crate) fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || matches!(c, '_' | '.' | '$')
}

/// Whether `c` may continue an identifier.
pub(crate) fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$')
}

/// A character cursor that counts columns.
struct Chars<'a> {
    line: &'a str,
    it: Peekable<CharIndices<'a>>,
    /// Characters consumed so far.
    col: u32,
}

impl<'a> Chars<'a> {
    fn new(line: &'a str) -> Chars<'a> {
        Chars {
            line,
            it: line.char_indices().peekable(),
            col: 0,
        }
    }

    fn peek(&mut self) -> Option<(usize, char)> {
        self.it.peek().copied()
    }

    fn bump(&mut self) -> Option<(usize, char)> {
        let r = self.it.next();
        if r.is_some() {
            self.col = self.col.saturating_add(1);
        }
        r
    }

    /// Byte offset of the next character (the line's length at its end).
    fn pos(&mut self) -> usize {
        let len = self.line.len();
        self.it.peek().map_or(len, |&(i, _)| i)
    }

    /// The text from byte `start` to the current position.
    fn since(&mut self, start: usize) -> &'a str {
        let end = self.pos();
        self.line.get(start..end).unwrap_or_default()
    }

    /// The 1-based column of the next character.
    fn next_col(&self) -> u32 {
        self.col.saturating_add(1)
    }
}

/// Tokenizes one line (without its line terminator). A `;` starts a
/// comment that runs to the end of the line.
pub(crate) fn lex_line(line: &str) -> Result<Vec<Token<'_>>, LexError> {
    let mut cs = Chars::new(line);
    let mut toks = Vec::new();
    while let Some((start, c)) = cs.peek() {
        let col = cs.next_col();
        if c == ';' {
            break;
        }
        if c.is_whitespace() || c == '\u{feff}' {
            cs.bump();
            continue;
        }
        let kind = match c {
            ',' | '(' | ')' | '{' | '}' | ':' | '=' => {
                cs.bump();
                match c {
                    ',' => TokKind::Comma,
                    '(' => TokKind::LParen,
                    ')' => TokKind::RParen,
                    '{' => TokKind::LBrace,
                    '}' => TokKind::RBrace,
                    ':' => TokKind::Colon,
                    _ => TokKind::Equals,
                }
            }
            '-' => {
                cs.bump();
                match cs.peek() {
                    Some((_, '>')) => {
                        cs.bump();
                        TokKind::Arrow
                    }
                    Some((_, d)) if d.is_ascii_digit() => {
                        lex_number(&mut cs, start);
                        TokKind::Number(cs.since(start))
                    }
                    _ => TokKind::Dash,
                }
            }
            '"' => TokKind::Str(lex_string(&mut cs, col)?),
            c if c.is_ascii_digit() => {
                lex_number(&mut cs, start);
                TokKind::Number(cs.since(start))
            }
            c if is_ident_start(c) => {
                while matches!(cs.peek(), Some((_, c)) if is_ident_char(c)) {
                    cs.bump();
                }
                TokKind::Ident(cs.since(start))
            }
            c => {
                return Err(LexError {
                    col,
                    message: format!("unexpected character {c:?}"),
                });
            }
        };
        toks.push(Token {
            kind,
            col,
            end: cs.next_col(),
        });
    }
    Ok(toks)
}

/// Consumes the rest of a number that started at byte `start`: letters,
/// digits, `_` and `.`, and a sign right after the exponent letter of a
/// decimal float. What it means is decided later.
fn lex_number(cs: &mut Chars<'_>, start: usize) {
    while let Some((_, c)) = cs.peek() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            cs.bump();
        } else if c == '+' || c == '-' {
            let so_far = cs.since(start);
            let body = so_far.strip_prefix('-').unwrap_or(so_far);
            let hex = body.starts_with("0x") || body.starts_with("0X");
            if !hex && so_far.ends_with(['e', 'E']) {
                cs.bump();
            } else {
                break;
            }
        } else {
            break;
        }
    }
}

/// Lexes a string literal whose opening quote is at column `open_col`.
fn lex_string(cs: &mut Chars<'_>, open_col: u32) -> Result<String, LexError> {
    let unterminated = || LexError {
        col: open_col,
        message: "unterminated string".into(),
    };
    cs.bump(); // the opening quote
    let mut s = String::new();
    loop {
        let esc_col = cs.next_col();
        match cs.bump() {
            None => return Err(unterminated()),
            Some((_, '"')) => return Ok(s),
            Some((_, '\\')) => match cs.bump() {
                None => return Err(unterminated()),
                Some((_, 'n')) => s.push('\n'),
                Some((_, 't')) => s.push('\t'),
                Some((_, 'r')) => s.push('\r'),
                Some((_, '0')) => s.push('\0'),
                Some((_, '\\')) => s.push('\\'),
                Some((_, '"')) => s.push('"'),
                Some((_, 'u')) => s.push(lex_unicode_escape(cs, esc_col)?),
                Some((_, c)) => {
                    return Err(LexError {
                        col: esc_col,
                        message: format!("unknown escape `\\{}`", c.escape_debug()),
                    });
                }
            },
            Some((_, c)) => s.push(c),
        }
    }
}

/// The rest of a `\u{HEX}` escape (after the `u`); `esc_col` is the column
/// of its backslash.
fn lex_unicode_escape(cs: &mut Chars<'_>, esc_col: u32) -> Result<char, LexError> {
    let bad = |what: &str| LexError {
        col: esc_col,
        message: format!("bad `\\u` escape: {what}"),
    };
    if !matches!(cs.bump(), Some((_, '{'))) {
        return Err(bad("expected `{`"));
    }
    let mut value: u32 = 0;
    let mut digits = 0;
    loop {
        match cs.bump() {
            Some((_, '}')) => break,
            Some((_, c)) => {
                let d = c
                    .to_digit(16)
                    .ok_or_else(|| bad("expected hex digits and `}`"))?;
                digits += 1;
                if digits > 6 {
                    return Err(bad("more than 6 hex digits"));
                }
                value = value * 16 + d;
            }
            None => return Err(bad("expected hex digits and `}`")),
        }
    }
    if digits == 0 {
        return Err(bad("no hex digits"));
    }
    char::from_u32(value).ok_or_else(|| bad(&format!("{value:#x} is not a Unicode scalar value")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(line: &str) -> Vec<TokKind<'_>> {
        lex_line(line)
            .unwrap()
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    #[test]
    fn lexes_the_token_kinds() {
        use TokKind::*;
        assert_eq!(
            kinds("L1: add i0, i1 ; comment, \"x\""),
            vec![
                Ident("L1"),
                Colon,
                Ident("add"),
                Ident("i0"),
                Comma,
                Ident("i1")
            ]
        );
        assert_eq!(
            kinds("func f(i=-40) -> none"),
            vec![
                Ident("func"),
                Ident("f"),
                LParen,
                Ident("i"),
                Equals,
                Number("-40"),
                RParen,
                Arrow,
                Ident("none")
            ]
        );
        assert_eq!(kinds("1.5e-3 0x1e-5 -inf - bits:0x7f"), {
            vec![
                Number("1.5e-3"),
                Number("0x1e"),
                Number("-5"),
                Dash,
                Ident("inf"),
                Dash,
                Ident("bits"),
                Colon,
                Number("0x7f"),
            ]
        });
        assert_eq!(
            kinds(r#""a\n\t\\\"\r\0\u{1F600}""#),
            vec![Str("a\n\t\\\"\r\0\u{1F600}".into())]
        );
    }

    #[test]
    fn columns_count_characters() {
        let toks = lex_line("  \"é\" x").unwrap();
        assert_eq!((toks[0].col, toks[0].end), (3, 6));
        assert_eq!((toks[1].col, toks[1].end), (7, 8));
    }

    #[test]
    fn lex_errors_point_at_the_culprit() {
        let e = lex_line("prints \"abc").unwrap_err();
        assert_eq!(e.col, 8);
        let e = lex_line("prints \"a\\qb\"").unwrap_err();
        assert_eq!(e.col, 10);
        let e = lex_line("prints \"a\\u{d800}\"").unwrap_err();
        assert_eq!(e.col, 10);
        let e = lex_line("add i0, #").unwrap_err();
        assert_eq!(e.col, 9);
    }
}
