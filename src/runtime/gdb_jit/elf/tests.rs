//! The images read back with `object::read` and `gimli::read`.

use super::*;
use gimli::write::CallFrameInstruction;
use object::read::elf::{ElfFile64, FileHeader as _, SectionHeader as _};
use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};

const ADDR: u64 = 0x7f12_3456_7000;

fn spec<'a>(rows: &'a [LineRow], arch: Arch) -> ImageSpec<'a> {
    ImageSpec {
        arch,
        name: "fib",
        producer: "tierjit template",
        comp_dir: "/work/programs",
        file: "fib.tj",
        addr: ADDR,
        len: 0x120,
        rows,
        frame: None,
    }
}

/// The rows of a function of three ops at lines 4, 5, 7, the prologue at
/// line 3 and stubs after 0x100.
const ROWS: [LineRow; 5] = [
    LineRow { offset: 0, line: 3 },
    LineRow {
        offset: 0x10,
        line: 4,
    },
    LineRow {
        offset: 0x40,
        line: 5,
    },
    LineRow {
        offset: 0x90,
        line: 7,
    },
    LineRow {
        offset: 0x100,
        line: 0,
    },
];

type Reader<'a> = gimli::EndianSlice<'a, gimli::LittleEndian>;

fn load_dwarf<'a>(file: &ElfFile64<'a>) -> gimli::Dwarf<Reader<'a>> {
    gimli::Dwarf::load(|id| -> Result<Reader<'a>, ()> {
        let data = file
            .section_by_name(id.name())
            .map_or(&[][..], |s| s.data().unwrap());
        Ok(gimli::EndianSlice::new(data, gimli::LittleEndian))
    })
    .unwrap()
}

/// The line table's rows: (address, line, prologue_end), end of sequence
/// as line `u64::MAX`.
fn line_rows(dwarf: &gimli::Dwarf<Reader<'_>>) -> Vec<(u64, u64, bool)> {
    let header = dwarf.units().next().unwrap().unwrap();
    let unit = dwarf.unit(header).unwrap();
    let program = unit.line_program.clone().unwrap();
    let (_, seqs) = program.clone().sequences().unwrap();
    assert_eq!(seqs.len(), 1);
    let mut rows = program.rows();
    let mut out = Vec::new();
    while let Some((header, row)) = rows.next_row().unwrap() {
        if row.end_sequence() {
            out.push((row.address(), u64::MAX, false));
            continue;
        }
        let file = row.file(header).unwrap();
        let name = dwarf.attr_string(&unit, file.path_name()).unwrap();
        assert_eq!(name.slice(), b"fib.tj");
        out.push((
            row.address(),
            row.line().map_or(0, |l| l.get()),
            row.prologue_end(),
        ));
    }
    out
}

#[test]
fn the_text_section_and_symbol_sit_at_the_code() {
    for arch in [Arch::X86_64, Arch::Aarch64] {
        let image = build(spec(&ROWS, arch)).unwrap();
        let file = ElfFile64::<object::Endianness>::parse(&*image).unwrap();
        let header = file.elf_header();
        let e = file.endian();
        assert_eq!(header.e_type(e), elf::ET_REL);
        assert_eq!(header.e_machine(e), arch.e_machine());
        let text = file.section_by_name(".text").unwrap();
        assert_eq!(text.address(), ADDR);
        assert_eq!(text.size(), 0x120);
        let text_header = text.elf_section_header();
        assert_eq!(text_header.sh_type(e), elf::SHT_NOBITS);
        assert_eq!(
            text_header.sh_flags(e),
            u64::from(elf::SHF_ALLOC | elf::SHF_EXECINSTR)
        );
        let syms: Vec<_> = file.symbols().collect();
        assert_eq!(syms.len(), 1);
        let fib = &syms[0];
        assert_eq!(fib.name().unwrap(), "fib");
        assert_eq!(fib.kind(), SymbolKind::Text);
        assert!(fib.is_global());
        assert_eq!(fib.section_index(), Some(text.index()));
        // Relocatable: the value is relative to `.text`.
        assert_eq!(text.address() + fib.address(), ADDR);
        assert_eq!(fib.size(), 0x120);
    }
}

#[test]
fn the_unit_names_the_file_and_tier_and_the_subprogram_the_code() {
    let image = build(spec(&ROWS, Arch::X86_64)).unwrap();
    let file = ElfFile64::<object::Endianness>::parse(&*image).unwrap();
    for name in [".debug_info", ".debug_abbrev", ".debug_str", ".debug_line"] {
        assert!(file.section_by_name(name).is_some(), "{name} missing");
    }
    let dwarf = load_dwarf(&file);
    let header = dwarf.units().next().unwrap().unwrap();
    let unit = dwarf.unit(header).unwrap();
    let mut entries = unit.entries();
    let mut subprograms = Vec::new();
    while let Some(entry) = entries.next_dfs().unwrap() {
        let string = |at| {
            let value = entry.attr_value(at).unwrap();
            dwarf
                .attr_string(&unit, value)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        };
        let low = entry.attr_value(gimli::DW_AT_low_pc);
        let high = entry.attr_value(gimli::DW_AT_high_pc);
        assert_eq!(low, Some(gimli::AttributeValue::Addr(ADDR)));
        assert_eq!(high, Some(gimli::AttributeValue::Udata(0x120)));
        if entry.tag() == gimli::DW_TAG_compile_unit {
            assert_eq!(string(gimli::DW_AT_name), "fib.tj");
            assert_eq!(string(gimli::DW_AT_comp_dir), "/work/programs");
            assert_eq!(string(gimli::DW_AT_producer), "tierjit template");
        } else {
            assert_eq!(entry.tag(), gimli::DW_TAG_subprogram);
            subprograms.push(string(gimli::DW_AT_name));
            assert_eq!(
                entry.attr_value(gimli::DW_AT_decl_line),
                Some(gimli::AttributeValue::Udata(3))
            );
        }
    }
    assert_eq!(subprograms, ["fib"]);
}

#[test]
fn the_line_rows_map_the_code_range_to_the_lines() {
    let image = build(spec(&ROWS, Arch::Aarch64)).unwrap();
    let file = ElfFile64::<object::Endianness>::parse(&*image).unwrap();
    let rows = line_rows(&load_dwarf(&file));
    assert_eq!(
        rows,
        [
            (ADDR, 3, false),
            (ADDR + 0x10, 4, true),
            (ADDR + 0x40, 5, false),
            (ADDR + 0x90, 7, false),
            (ADDR + 0x100, 0, false),
            (ADDR + 0x120, u64::MAX, false),
        ]
    );
}

#[test]
fn rows_out_of_order_or_past_the_end_are_left_out() {
    let rows = [
        LineRow { offset: 0, line: 2 },
        LineRow { offset: 8, line: 3 },
        LineRow { offset: 8, line: 9 },
        LineRow { offset: 4, line: 9 },
        LineRow {
            offset: 0x120,
            line: 9,
        },
    ];
    let image = build(spec(&rows, Arch::X86_64)).unwrap();
    let file = ElfFile64::<object::Endianness>::parse(&*image).unwrap();
    let got = line_rows(&load_dwarf(&file));
    assert_eq!(
        got,
        [
            (ADDR, 2, false),
            (ADDR + 8, 3, true),
            (ADDR + 0x120, u64::MAX, false)
        ]
    );
}

#[test]
fn odd_names_do_not_break_the_image() {
    let mut s = spec(&[], Arch::X86_64);
    s.name = "a\0b";
    s.file = "";
    s.comp_dir = "";
    let image = build(s).unwrap();
    let file = ElfFile64::<object::Endianness>::parse(&*image).unwrap();
    let sym = file.symbols().next().unwrap();
    assert_eq!(sym.name().unwrap(), "a?b");
    let dwarf = load_dwarf(&file);
    assert_eq!(dwarf.units().count(), 1);
}

#[test]
fn frame_info_goes_to_debug_frame() {
    use gimli::UnwindSection;
    let mut s = spec(&ROWS, Arch::X86_64);
    let mut cie = CommonInformationEntry::new(
        Encoding {
            format: Format::Dwarf32,
            version: 1,
            address_size: 8,
        },
        1,
        -8,
        gimli::X86_64::RA,
    );
    cie.add_instruction(CallFrameInstruction::Cfa(gimli::X86_64::RSP, 8));
    let mut fde = FrameDescriptionEntry::new(Address::Constant(ADDR), 0x120);
    fde.add_instruction(1, CallFrameInstruction::CfaOffset(16));
    s.frame = Some(FrameInfo { cie, fde });
    let image = build(s).unwrap();
    let file = ElfFile64::<object::Endianness>::parse(&*image).unwrap();
    let section = file.section_by_name(".debug_frame").unwrap();
    let frame = gimli::DebugFrame::new(section.data().unwrap(), gimli::LittleEndian);
    let bases = gimli::BaseAddresses::default();
    let mut ctx = gimli::UnwindContext::new();
    let fde = frame
        .fde_for_address(&bases, ADDR + 4, gimli::DebugFrame::cie_from_offset)
        .unwrap();
    assert_eq!(fde.initial_address(), ADDR);
    assert_eq!(fde.len(), 0x120);
    let row = fde
        .unwind_info_for_address(&frame, &bases, &mut ctx, ADDR + 4)
        .unwrap();
    assert_eq!(
        *row.cfa(),
        gimli::CfaRule::RegisterAndOffset {
            register: gimli::X86_64::RSP,
            offset: 16
        }
    );
}
