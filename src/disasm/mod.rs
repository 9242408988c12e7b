//! Machine code as text: one function per ISA (iced-x86 for x86-64,
//! yaxpeax-arm for aarch64) and one for the host, in the format of the
//! template tier's golden listings; and [`module`], the listing of every
//! version of every function of a module (what `tierjit dis --asm` prints).
//!
//! Only with the `disasm` feature (on by default).
//!
//! ```
//! // mov rax, rdi; ret
//! let text = tierjit::disasm::x64(&[0x48, 0x89, 0xf8, 0xc3], 0);
//! assert_eq!(text, "   0: 48 89 f8                         mov rax, rdi\n   3: c3                               ret\n");
//! // mov x0, x1; ret
//! let text = tierjit::disasm::aarch64(&[0xe0, 0x03, 0x01, 0xaa, 0xc0, 0x03, 0x5f, 0xd6], 0);
//! assert_eq!(text, "    0: aa0103e0  mov x0, x1\n    4: d65f03c0  ret\n");
//! ```

use std::fmt::Write as _;

/// x86-64 machine code `code`, placed at address `base`: one instruction
/// per line, address, bytes and Intel syntax; branch targets are
/// addresses (offsets from the start when `base` is 0). A byte that
/// starts no instruction (or a truncated one) is shown as `(bad)`, and
/// decoding goes on at the next byte.
pub fn x64(code: &[u8], base: u64) -> String {
    use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};
    let mut decoder = Decoder::with_ip(64, code, base, DecoderOptions::NONE);
    let mut fmt = IntelFormatter::new();
    let o = fmt.options_mut();
    o.set_hex_prefix("0x");
    o.set_hex_suffix("");
    o.set_uppercase_hex(false);
    o.set_space_after_operand_separator(true);
    o.set_branch_leading_zeros(false);
    o.set_show_useless_prefixes(true);
    let mut out = String::new();
    let mut text = String::new();
    let mut at = 0usize;
    while at < code.len() {
        decoder.set_ip(base.wrapping_add(at as u64));
        if decoder.set_position(at).is_err() {
            break;
        }
        let ins = decoder.decode();
        // Past a byte that starts no instruction, decoding resumes at the
        // next byte (as objdump does).
        let len = if ins.is_invalid() {
            1
        } else {
            ins.len().clamp(1, code.len() - at)
        };
        let hex = hex_bytes(&code[at..at + len]);
        text.clear();
        if ins.is_invalid() {
            text.push_str("(bad)");
        } else {
            fmt.format(&ins, &mut text);
        }
        let addr = base.wrapping_add(at as u64);
        let _ = writeln!(out, "{addr:4x}: {hex:<32} {text}");
        at += len;
    }
    out
}

/// aarch64 machine code `code`, placed at address `base`: one word per
/// line, address, word and disassembly (branch targets relative, `$+0x..`).
/// A word that is no instruction is shown as `.word` with the decoder's
/// reason; a tail shorter than a word as `.byte`.
pub fn aarch64(code: &[u8], base: u64) -> String {
    use yaxpeax_arch::{Arch, Decoder, U8Reader};
    use yaxpeax_arm::armv8::a64::ARMv8;
    let decoder = <ARMv8 as Arch>::Decoder::default();
    let mut out = String::new();
    let words = code.chunks_exact(4);
    let tail = words.remainder();
    for (k, chunk) in words.enumerate() {
        let addr = base.wrapping_add(4 * k as u64);
        let word = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        let mut reader = U8Reader::new(chunk);
        let text = match decoder.decode(&mut reader) {
            Ok(inst) => inst.to_string(),
            Err(e) => format!(".word 0x{word:08x} ; {e}"),
        };
        let _ = writeln!(out, "{addr:5x}: {word:08x}  {text}");
    }
    if !tail.is_empty() {
        let addr = base.wrapping_add((code.len() - tail.len()) as u64);
        let _ = writeln!(out, "{addr:5x}: {:<8}  .byte {}", "", hex_bytes(tail));
    }
    out
}

/// Machine code of the host's ISA as text: [`x64`] on x86-64, [`aarch64`]
/// on aarch64.
#[cfg(target_arch = "x86_64")]
pub fn host(code: &[u8], base: u64) -> String {
    x64(code, base)
}

/// Machine code of the host's ISA as text: [`x64`] on x86-64, [`aarch64`]
/// on aarch64.
#[cfg(target_arch = "aarch64")]
pub fn host(code: &[u8], base: u64) -> String {
    aarch64(code, base)
}

/// The name of the host's ISA, as listings name it.
pub const HOST_ISA: &str = if cfg!(target_arch = "x86_64") {
    "x86-64"
} else if cfg!(target_arch = "aarch64") {
    "aarch64"
} else {
    "unknown"
};

fn hex_bytes(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (k, b) in bytes.iter().enumerate() {
        if k > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x64_lines_carry_address_bytes_and_intel_syntax() {
        // push rbp; jmp to itself (rel8 -2); ud2-free garbage (0x06 is
        // invalid in 64-bit mode); a truncated mov imm32.
        let code = [0x55, 0xeb, 0xfe, 0x06, 0xb8, 0x01];
        let text = x64(&code, 0x1000);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], format!("1000: {:<32} push rbp", "55"));
        assert_eq!(lines[1], format!("1001: {:<32} jmp short 0x1001", "eb fe"));
        assert_eq!(lines[2], format!("1003: {:<32} (bad)", "06"));
        assert_eq!(lines[3], format!("1004: {:<32} (bad)", "b8"));
        assert_eq!(lines[4], format!("1005: {:<32} (bad)", "01"));
        assert_eq!(lines.len(), 5, "{text}");
    }

    #[test]
    fn aarch64_lines_carry_address_word_and_disassembly() {
        // add x0, x0, #1; b .; an undefined word; two stray bytes.
        let mut code = Vec::new();
        for w in [0x9100_0400u32, 0x1400_0000, 0x0000_0000] {
            code.extend_from_slice(&w.to_le_bytes());
        }
        code.extend_from_slice(&[0xaa, 0xbb]);
        let text = aarch64(&code, 0x40);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "   40: 91000400  add x0, x0, #0x1");
        assert!(lines[1].starts_with("   44: 14000000  b "), "{text}");
        assert!(lines[2].starts_with("   48: 00000000  "), "{text}");
        assert_eq!(lines[3], "   4c:           .byte aa bb");
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn the_host_function_decodes_the_host_isa() {
        let ret: &[u8] = if cfg!(target_arch = "x86_64") {
            &[0xc3]
        } else {
            &[0xc0, 0x03, 0x5f, 0xd6]
        };
        assert!(host(ret, 0).trim_end().ends_with("ret"), "{}", host(ret, 0));
    }

    /// The golden listings of the macro-assemblers (`tests/golden/<isa>/`),
    /// line by line: each instruction, decoded alone at its address, reads
    /// exactly as its line. The listings of `dis --asm` and the golden
    /// files are one format.
    #[test]
    fn lines_match_the_golden_listings_of_the_macro_assemblers() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
        let mut checked = [0usize; 2];
        for (k, isa) in ["x64", "aarch64"].into_iter().enumerate() {
            let Ok(dir) = std::fs::read_dir(root.join(isa)) else {
                continue;
            };
            for entry in dir.flatten() {
                let path = entry.path();
                if path.extension().is_none_or(|e| e != "txt") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                for line in text.lines() {
                    let Some((addr, rest)) = line.split_once(": ") else {
                        continue;
                    };
                    let Ok(addr) = u64::from_str_radix(addr.trim_start(), 16) else {
                        continue;
                    };
                    let bytes: Vec<u8> = if k == 0 {
                        // `b8 01 00 00 00    mov eax, 1`: the bytes before
                        // the padding.
                        let Some(hex) = rest.get(..32) else { continue };
                        let parsed: Option<Vec<u8>> = hex
                            .split_whitespace()
                            .map(|b| u8::from_str_radix(b, 16).ok())
                            .collect();
                        match parsed {
                            Some(b) if !b.is_empty() => b,
                            _ => continue,
                        }
                    } else {
                        let Some(word) = rest.get(..8) else { continue };
                        if !rest[8..].starts_with("  ") {
                            continue;
                        }
                        match u32::from_str_radix(word, 16) {
                            Ok(w) => w.to_le_bytes().to_vec(),
                            Err(_) => continue,
                        }
                    };
                    let ours = if k == 0 {
                        x64(&bytes, addr)
                    } else {
                        aarch64(&bytes, addr)
                    };
                    assert_eq!(ours, format!("{line}\n"), "{}", path.display());
                    checked[k] += 1;
                }
            }
        }
        assert!(
            checked.iter().all(|&n| n > 1000),
            "lines checked: {checked:?}"
        );
    }
}
