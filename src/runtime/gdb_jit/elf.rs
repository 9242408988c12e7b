//! The in-memory ELF image gdb reads for one code version: a relocatable
//! object (`ET_REL`) whose sections already carry their final addresses, as
//! LLVM's JIT debug objects do.
//!
//! gdb opens the image with BFD and adds it as a symbol file whose allocated
//! sections sit at their `sh_addr` (no relocation), so:
//!
//! - `.text` is `SHT_NOBITS` (the bytes stay in the code memory, where gdb
//!   reads them from the process) with `sh_addr` the version's address and
//!   `sh_size` its length;
//! - the one symbol, the bytecode function's name (`break fib` finds every
//!   version of `fib`), is `STT_FUNC` at offset 0 of `.text` (an `ET_REL`
//!   symbol's value is relative to its section);
//! - the DWARF (version 4) uses absolute addresses and needs no relocation:
//!   a compilation unit named after the source file, the tier in its
//!   producer, one `DW_TAG_subprogram` with the name and the code range, and
//!   a line program mapping the code to source lines;
//! - `.debug_frame` holds the version's call frame information when there is
//!   one (otherwise gdb unwinds by analysing the frame-pointer prologues).

use gimli::write::{
    Address, AttributeValue, CommonInformationEntry, DebugFrame, DwarfUnit, EndianVec,
    FrameDescriptionEntry, FrameTable, LineProgram, LineString, Sections,
};
use gimli::{Encoding, Format, LineEncoding, RunTimeEndian};
use object::elf;
use object::write::elf::{FileHeader, SectionHeader, Sym, Writer};

/// The machine an image describes code of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// x86-64 (`EM_X86_64`).
    X86_64,
    /// AArch64 (`EM_AARCH64`).
    Aarch64,
}

impl Arch {
    /// The machine this process runs on, if the JIT tiers support it.
    pub fn host() -> Option<Arch> {
        if cfg!(target_arch = "x86_64") {
            Some(Arch::X86_64)
        } else if cfg!(target_arch = "aarch64") {
            Some(Arch::Aarch64)
        } else {
            None
        }
    }

    fn e_machine(self) -> u16 {
        match self {
            Arch::X86_64 => elf::EM_X86_64,
            Arch::Aarch64 => elf::EM_AARCH64,
        }
    }
}

/// One row of the line table: the machine code from `offset` (bytes from
/// the version's start) up to the next row's offset comes from `line` of
/// the image's source file (0: no source line, e.g. out-of-line stubs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineRow {
    /// Bytes from the start of the code.
    pub offset: u32,
    /// The source line, from 1; 0 for none.
    pub line: u32,
}

/// Call frame information for the code: a CIE and the FDE covering the
/// version (its address must be the version's).
pub struct FrameInfo {
    /// The common part (code and data alignment, return address register,
    /// initial CFA rule).
    pub cie: CommonInformationEntry,
    /// The version's own rules.
    pub fde: FrameDescriptionEntry,
}

/// What an image says of one code version.
pub struct ImageSpec<'a> {
    /// The machine of the code.
    pub arch: Arch,
    /// The symbol and subprogram name: the bytecode function's name.
    pub name: &'a str,
    /// The compilation unit's producer, naming the tier
    /// (`tierjit template`, ...).
    pub producer: &'a str,
    /// The directory relative source paths are relative to
    /// (`DW_AT_comp_dir`).
    pub comp_dir: &'a str,
    /// The source file the rows' lines are lines of (the compilation unit's
    /// name, the line program's file).
    pub file: &'a str,
    /// Where the code starts.
    pub addr: u64,
    /// How many bytes of code.
    pub len: u64,
    /// The line table, sorted by offset; the first row's line is also the
    /// subprogram's declaration line.
    pub rows: &'a [LineRow],
    /// Unwind rules, when known.
    pub frame: Option<FrameInfo>,
}

/// Why an image could not be built (a DWARF or ELF writer error; not
/// expected for valid input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("gdb JIT image: {0}")]
pub struct ImageError(String);

impl From<gimli::write::Error> for ImageError {
    fn from(e: gimli::write::Error) -> ImageError {
        ImageError(e.to_string())
    }
}

impl From<object::write::Error> for ImageError {
    fn from(e: object::write::Error) -> ImageError {
        ImageError(e.to_string())
    }
}

/// A string DWARF and ELF can hold: no NUL byte (a C string ends there), not
/// empty (gimli refuses empty file names).
fn c_string(s: &str, empty: &str) -> Vec<u8> {
    let bytes: Vec<u8> = s.bytes().map(|b| if b == 0 { b'?' } else { b }).collect();
    if bytes.is_empty() {
        empty.as_bytes().to_vec()
    } else {
        bytes
    }
}

/// The DWARF sections of `spec`, named, without the empty ones.
fn dwarf_sections(spec: &ImageSpec<'_>) -> Result<Vec<(&'static str, Vec<u8>)>, ImageError> {
    let encoding = Encoding {
        format: Format::Dwarf32,
        version: 4,
        address_size: 8,
    };
    let comp_dir = c_string(spec.comp_dir, ".");
    let file = c_string(spec.file, "module");
    let name = c_string(spec.name, "function");
    let mut dwarf = DwarfUnit::new(encoding);
    let mut lines = LineProgram::new(
        encoding,
        LineEncoding::default(),
        LineString::String(comp_dir.clone()),
        None,
        LineString::String(file.clone()),
        None,
    );
    let dir = lines.default_directory();
    let file_id = lines.add_file(LineString::String(file.clone()), dir, None);
    lines.begin_sequence(Some(Address::Constant(spec.addr)));
    let mut last_offset = None;
    for (k, row) in spec.rows.iter().enumerate() {
        // Rows past the end, or not after the previous one, say nothing.
        if u64::from(row.offset) >= spec.len || last_offset.is_some_and(|o| row.offset <= o) {
            continue;
        }
        last_offset = Some(row.offset);
        let r = lines.row();
        r.address_offset = u64::from(row.offset);
        r.file = file_id;
        r.line = u64::from(row.line);
        r.is_statement = row.line != 0;
        // The first row is the entry (the prologue), the second the first
        // op's code: where `break fib` stops.
        r.prologue_end = k == 1;
        lines.generate_row();
    }
    lines.end_sequence(spec.len);
    dwarf.unit.line_program = lines;

    let decl_line = spec.rows.first().map_or(0, |r| r.line);
    let producer = dwarf.strings.add(c_string(spec.producer, "tierjit"));
    let cu_name = dwarf.strings.add(file);
    let cu_dir = dwarf.strings.add(comp_dir);
    let sub_name = dwarf.strings.add(name);
    let root = dwarf.unit.root();
    let cu = dwarf.unit.get_mut(root);
    cu.set(gimli::DW_AT_producer, AttributeValue::StringRef(producer));
    cu.set(gimli::DW_AT_name, AttributeValue::StringRef(cu_name));
    cu.set(gimli::DW_AT_comp_dir, AttributeValue::StringRef(cu_dir));
    cu.set(
        gimli::DW_AT_low_pc,
        AttributeValue::Address(Address::Constant(spec.addr)),
    );
    cu.set(gimli::DW_AT_high_pc, AttributeValue::Udata(spec.len));
    let sub = dwarf.unit.add(root, gimli::DW_TAG_subprogram);
    let sub = dwarf.unit.get_mut(sub);
    sub.set(gimli::DW_AT_name, AttributeValue::StringRef(sub_name));
    sub.set(gimli::DW_AT_external, AttributeValue::Flag(true));
    sub.set(
        gimli::DW_AT_low_pc,
        AttributeValue::Address(Address::Constant(spec.addr)),
    );
    sub.set(gimli::DW_AT_high_pc, AttributeValue::Udata(spec.len));
    if decl_line != 0 {
        sub.set(
            gimli::DW_AT_decl_file,
            AttributeValue::FileIndex(Some(file_id)),
        );
        sub.set(
            gimli::DW_AT_decl_line,
            AttributeValue::Udata(u64::from(decl_line)),
        );
    }

    let mut sections = Sections::new(EndianVec::new(RunTimeEndian::Little));
    dwarf.write(&mut sections)?;
    let mut out = Vec::new();
    sections.for_each_mut(|id, section| {
        let data = std::mem::replace(section, EndianVec::new(RunTimeEndian::Little)).into_vec();
        if !data.is_empty() {
            out.push((id.name(), data));
        }
        Ok::<_, ImageError>(())
    })?;
    Ok(out)
}

/// `.debug_frame` holding `frame`.
fn debug_frame(frame: FrameInfo) -> Result<Vec<u8>, ImageError> {
    let mut table = FrameTable::default();
    let cie = table.add_cie(frame.cie);
    table.add_fde(cie, frame.fde);
    let mut section = DebugFrame(EndianVec::new(RunTimeEndian::Little));
    table.write_debug_frame(&mut section)?;
    Ok(section.0.into_vec())
}

/// Build the image of the code `spec` describes.
pub fn build(spec: ImageSpec<'_>) -> Result<Vec<u8>, ImageError> {
    let mut debug = dwarf_sections(&spec)?;
    let frame_align = if let Some(frame) = spec.frame {
        debug.push((".debug_frame", debug_frame(frame)?));
        8
    } else {
        1
    };
    let symbol = c_string(spec.name, "function");

    let mut image = Vec::new();
    let mut w = Writer::new(object::Endianness::Little, true, &mut image);
    w.reserve_file_header();
    w.reserve_null_section_index();
    let text_name = w.add_section_name(b".text");
    let text = w.reserve_section_index();
    // Section indices in the order the headers are written below.
    let debug_names: Vec<_> = debug
        .iter()
        .map(|(name, _)| {
            w.reserve_section_index();
            w.add_section_name(name.as_bytes())
        })
        .collect();
    w.reserve_symtab_section_index();
    w.reserve_strtab_section_index();
    w.reserve_shstrtab_section_index();
    let symbol_name = w.add_string(&symbol);
    w.reserve_null_symbol_index();
    w.reserve_symbol_index(Some(text));
    let align_of = |name: &str| {
        if name == ".debug_frame" {
            frame_align
        } else {
            1
        }
    };
    let offsets: Vec<usize> = debug
        .iter()
        .map(|(name, data)| w.reserve(data.len(), align_of(name)))
        .collect();
    w.reserve_symtab();
    w.reserve_strtab();
    w.reserve_shstrtab();
    w.reserve_section_headers();

    w.write_file_header(&FileHeader {
        os_abi: elf::ELFOSABI_NONE,
        abi_version: 0,
        e_type: elf::ET_REL,
        e_machine: spec.arch.e_machine(),
        e_entry: 0,
        e_flags: 0,
    })?;
    for (name, data) in &debug {
        w.write_align(align_of(name));
        w.write(data);
    }
    w.write_null_symbol();
    w.write_symbol(&Sym {
        name: Some(symbol_name),
        section: Some(text),
        st_info: (elf::STB_GLOBAL << 4) | elf::STT_FUNC,
        st_other: elf::STV_DEFAULT,
        st_shndx: 0,
        st_value: 0,
        st_size: spec.len,
    });
    w.write_strtab();
    w.write_shstrtab();
    w.write_null_section_header();
    w.write_section_header(&SectionHeader {
        name: Some(text_name),
        sh_type: elf::SHT_NOBITS,
        sh_flags: u64::from(elf::SHF_ALLOC | elf::SHF_EXECINSTR),
        sh_addr: spec.addr,
        sh_offset: 0,
        sh_size: spec.len,
        sh_link: 0,
        sh_info: 0,
        sh_addralign: 16,
        sh_entsize: 0,
    });
    for (((name, data), &id), &offset) in debug.iter().zip(&debug_names).zip(&offsets) {
        w.write_section_header(&SectionHeader {
            name: Some(id),
            sh_type: elf::SHT_PROGBITS,
            sh_flags: 0,
            sh_addr: 0,
            sh_offset: offset as u64,
            sh_size: data.len() as u64,
            sh_link: 0,
            sh_info: 0,
            sh_addralign: align_of(name) as u64,
            sh_entsize: 0,
        });
    }
    // Only the null symbol is local.
    w.write_symtab_section_header(1);
    w.write_strtab_section_header();
    w.write_shstrtab_section_header();
    debug_assert_eq!(w.reserved_len(), w.len());
    Ok(image)
}

#[cfg(test)]
mod tests;
