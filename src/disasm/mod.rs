//! Machine code as text: one function per ISA (iced-x86 for x86-64,
//! yaxpeax-arm for aarch64) and one for the host, in the format of the
//! template tier's golden listings; and [`code_versions`] and [`listing`],
//! the machine code of every version of every function of a module and its
//! listing (what `tierjit dis --asm` prints).
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

mod versions;

pub use versions::{CodeVersion, VersionKind, code_versions, listing};

use std::fmt::Write as _;

/// x86-64 machine code `code`, placed at address `base`: one instruction
/// per line, address, bytes and Intel syntax; branch targets are
/// addresses (offsets from the start when `base` is 0). A byte that
/// starts no instruction (or a truncated one) is shown as `(bad)`, and
/// decoding goes on at the next byte.
///
/// Data after the code is shown as data, not decoded: from the first
/// address past its instruction that a `rip`-relative operand reads (the
/// constants Cranelift pools at the end of a function), 8 bytes a line as
/// `.quad` (`.byte` for a shorter tail), and the zeros that align it as
/// `.byte`; an instruction that would run into the data is `(bad)`.
pub fn x64(code: &[u8], base: u64) -> String {
    use iced_x86::{Formatter, IntelFormatter};
    let mut fmt = IntelFormatter::new();
    let o = fmt.options_mut();
    o.set_hex_prefix("0x");
    o.set_hex_suffix("");
    o.set_uppercase_hex(false);
    o.set_space_after_operand_separator(true);
    o.set_branch_leading_zeros(false);
    o.set_show_useless_prefixes(true);
    let data = x64_data_start(code, base);
    let mut insns = Vec::new();
    let mut at = 0usize;
    while at < data {
        let (ins, len) = x64_decode(code, base, at);
        insns.push((at, ins, len.min(data - at)));
        at += len;
    }
    // Before data, the zeros that align it: `00 00` decodes as `add [rax],
    // al`, which ends no function.
    let mut padding = data;
    if data < code.len() {
        while let Some(&(at, _, len)) = insns.last()
            && code[at..at + len].iter().all(|&b| b == 0)
        {
            padding = at;
            insns.pop();
        }
    }
    let line = |out: &mut String, at: usize, bytes: &[u8], text: &str| {
        let addr = base.wrapping_add(at as u64);
        let hex = hex_bytes(bytes);
        let _ = writeln!(out, "{addr:4x}: {hex:<32} {text}");
    };
    let mut out = String::new();
    let mut text = String::new();
    for (at, ins, len) in insns {
        text.clear();
        if ins.is_invalid() || at + len > padding || len < ins.len() {
            text.push_str("(bad)");
        } else {
            fmt.format(&ins, &mut text);
        }
        line(&mut out, at, &code[at..at + len], &text);
    }
    if padding < data {
        line(&mut out, padding, &code[padding..data], ".byte");
    }
    for (k, chunk) in code[data..].chunks(8).enumerate() {
        let text = match <[u8; 8]>::try_from(chunk) {
            Ok(q) => format!(".quad {:#018x}", u64::from_le_bytes(q)),
            Err(_) => ".byte".to_string(),
        };
        line(&mut out, data + 8 * k, chunk, &text);
    }
    out
}

/// The instruction at offset `at` of `code` and the bytes it takes: past a
/// byte that starts no instruction, decoding resumes at the next byte (as
/// objdump does).
fn x64_decode(code: &[u8], base: u64, at: usize) -> (iced_x86::Instruction, usize) {
    use iced_x86::{Decoder, DecoderOptions};
    let ip = base.wrapping_add(at as u64);
    let ins = Decoder::with_ip(64, &code[at..], ip, DecoderOptions::NONE).decode();
    let len = if ins.is_invalid() {
        1
    } else {
        ins.len().clamp(1, code.len() - at)
    };
    (ins, len)
}

/// Where the data after the code of `code` starts (its length if none):
/// the lowest address inside it, past the instruction, that a
/// `rip`-relative operand of the code before it reads.
fn x64_data_start(code: &[u8], base: u64) -> usize {
    let mut data = code.len();
    let mut at = 0usize;
    while at < data {
        let (ins, len) = x64_decode(code, base, at);
        if !ins.is_invalid() && ins.is_ip_rel_memory_operand() {
            let target = ins.ip_rel_memory_address().wrapping_sub(base);
            if let Ok(target) = usize::try_from(target)
                && target >= at + len
                && target < data
            {
                data = target;
            }
        }
        at += len;
    }
    data
}

/// aarch64 machine code `code`, placed at address `base`: one word per
/// line, address, word and disassembly (branch targets relative, `$+0x..`).
/// A word that is no instruction is shown as `.word` with the decoder's
/// reason; a tail shorter than a word as `.byte`. The words a PC-relative
/// `ldr` (literal) reads (the constants Cranelift places in the code) are
/// shown as `.word`, not decoded.
pub fn aarch64(code: &[u8], base: u64) -> String {
    use yaxpeax_arch::{Arch, Decoder, U8Reader};
    use yaxpeax_arm::armv8::a64::ARMv8;
    let decoder = <ARMv8 as Arch>::Decoder::default();
    let mut out = String::new();
    let words = code.chunks_exact(4);
    let tail = words.remainder();
    let nwords = code.len() / 4;
    let mut is_data = vec![false; nwords];
    for (k, chunk) in words.enumerate() {
        let addr = base.wrapping_add(4 * k as u64);
        let word = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        let text = if is_data[k] {
            format!(".word 0x{word:08x}")
        } else {
            if let Some((target, bytes)) = a64_literal(word, 4 * k) {
                for w in target / 4..(target + bytes).div_ceil(4) {
                    if let Some(d) = is_data.get_mut(w) {
                        *d = true;
                    }
                }
            }
            let mut reader = U8Reader::new(chunk);
            match decoder.decode(&mut reader) {
                Ok(inst) => inst.to_string(),
                Err(e) => format!(".word 0x{word:08x} ; {e}"),
            }
        };
        let _ = writeln!(out, "{addr:5x}: {word:08x}  {text}");
    }
    if !tail.is_empty() {
        let addr = base.wrapping_add((code.len() - tail.len()) as u64);
        let _ = writeln!(out, "{addr:5x}: {:<8}  .byte {}", "", hex_bytes(tail));
    }
    out
}

/// For a PC-relative `ldr` (literal) at offset `at`: the offset it reads
/// and how many bytes, when that lies ahead of it.
fn a64_literal(word: u32, at: usize) -> Option<(usize, usize)> {
    // LDR (literal): opc(2) 011 V 00 imm19 Rt.
    if (word >> 24) & 0x3b != 0x18 {
        return None;
    }
    let (opc, vector) = (word >> 30, (word >> 26) & 1 == 1);
    let bytes = match (vector, opc) {
        (false, 0) | (false, 2) | (true, 0) => 4,
        (false, 1) | (true, 1) => 8,
        (true, 2) => 16,
        _ => return None, // PRFM, or unallocated
    };
    // imm19, sign-extended, in words.
    let offset = (((word >> 5) & 0x7_ffff) as i32) << 13 >> 13;
    let target = (at as i64).checked_add(i64::from(offset) * 4)?;
    let target = usize::try_from(target).ok()?;
    (target > at).then_some((target, bytes))
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
    fn x64_data_after_the_code_is_not_decoded() {
        // movsd xmm0, [rip+8] (the constant at 0x10); ret; 7 bytes of
        // alignment; the constant 1.0; a 4-byte tail.
        let mut code = vec![0xf2, 0x0f, 0x10, 0x05, 0x08, 0, 0, 0, 0xc3];
        code.extend_from_slice(&[0; 7]);
        code.extend_from_slice(&1.0f64.to_bits().to_le_bytes());
        code.extend_from_slice(&[1, 2, 3, 4]);
        let text = x64(&code, 0);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                format!("   0: {:<32} movsd xmm0, [0x10]", "f2 0f 10 05 08 00 00 00"),
                format!("   8: {:<32} ret", "c3"),
                format!("   9: {:<32} .byte", "00 00 00 00 00 00 00"),
                format!(
                    "  10: {:<32} .quad 0x3ff0000000000000",
                    "00 00 00 00 00 00 f0 3f"
                ),
                format!("  18: {:<32} .byte", "01 02 03 04"),
            ],
            "{text}"
        );
        // Code that ends in zeros keeps them when no data follows.
        let text = x64(&[0xb8, 0, 0, 0, 0], 0);
        assert!(text.ends_with("mov eax, 0\n"), "{text}");
    }

    #[test]
    fn aarch64_literals_are_data() {
        // ldr d0, #8 (the literal at 8); b #12 (over it); the 8-byte
        // literal 1.0, whose high word would decode as an instruction; ret.
        let mut code = Vec::new();
        for w in [0x5c00_0040u32, 0x1400_0003] {
            code.extend_from_slice(&w.to_le_bytes());
        }
        code.extend_from_slice(&1.0f64.to_bits().to_le_bytes());
        code.extend_from_slice(&0xd65f_03c0u32.to_le_bytes());
        let text = aarch64(&code, 0);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("    0: 5c000040  ldr d0, "), "{text}");
        assert!(lines[1].starts_with("    4: 14000003  b "), "{text}");
        assert_eq!(lines[2], "    8: 00000000  .word 0x00000000");
        assert_eq!(lines[3], "    c: 3ff00000  .word 0x3ff00000");
        assert_eq!(lines[4], "   10: d65f03c0  ret");
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
