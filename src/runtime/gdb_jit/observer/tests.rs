//! Line rows of code versions, and the observer's registrations.

use super::*;
use object::read::elf::ElfFile64;
use object::{Object, ObjectSection, ObjectSymbol};

fn ops(pairs: &[(u32, u32)]) -> Vec<OpOffset> {
    pairs
        .iter()
        .map(|&(code_offset, op)| OpOffset { code_offset, op })
        .collect()
}

fn version<'a>(ops: &'a [OpOffset], lines: &'a [u32], path: Option<&'a str>) -> CodeVersion<'a> {
    CodeVersion {
        module_name: "fib",
        source_path: path,
        func: 0,
        func_name: "fib",
        kind: CodeKind::Template,
        addr: 0x7000_0000,
        len: 0x100,
        ops,
        lines,
        stubs_offset: Some(0xc0),
        unwind: &crate::runtime::unwind::FrameUnwind::None,
    }
}

fn row(offset: u32, line: u32) -> LineRow {
    LineRow { offset, line }
}

#[test]
fn rows_follow_the_lines_of_the_ops() {
    // Ops 0..4 at lines 3, 3, 4, 6; a NO_OP piece; the stubs at 0xc0.
    let o = ops(&[
        (0x10, 0),
        (0x18, 1),
        (0x30, 2),
        (0x50, OpOffset::NO_OP),
        (0x60, 3),
    ]);
    let lines = [3, 3, 4, 6];
    let v = version(&o, &lines, Some("/p/fib.tj"));
    let (file, lines) = source_of(&v);
    assert_eq!(file, "/p/fib.tj");
    assert_eq!(
        line_rows(&v, lines),
        [
            row(0, 3),
            row(0x10, 3),
            row(0x30, 4),
            row(0x50, 0),
            row(0x60, 6),
            row(0xc0, 0)
        ]
    );
}

#[test]
fn without_lines_the_ops_are_the_lines_of_a_synthetic_file() {
    let o = ops(&[(0x10, 0), (0x18, 1), (0x30, 2)]);
    for (lines, path) in [(&[][..], Some("/p/fib.tj")), (&[3, 4, 5][..], None)] {
        let v = version(&o, lines, path);
        let (file, lines) = source_of(&v);
        assert_eq!(file, "fib.ops");
        assert_eq!(
            line_rows(&v, lines),
            [
                row(0, 1),
                row(0x10, 1),
                row(0x18, 2),
                row(0x30, 3),
                row(0xc0, 0)
            ]
        );
    }
}

#[test]
fn an_op_at_offset_zero_takes_the_entry_row() {
    let o = ops(&[(0, 0), (0x20, 1)]);
    let op_lines = [7, 8];
    let mut v = version(&o, &op_lines, Some("f.tj"));
    v.stubs_offset = None;
    let (_, lines) = source_of(&v);
    assert_eq!(line_rows(&v, lines), [row(0, 7), row(0x20, 8)]);
    // No ops at all: one row for the whole code.
    let v = version(&[], &op_lines, Some("f.tj"));
    let (_, lines) = source_of(&v);
    assert_eq!(line_rows(&v, lines), [row(0, 0), row(0xc0, 0)]);
}

#[test]
fn the_image_names_the_function_at_the_code_and_the_tier() {
    let o = ops(&[(0x10, 0), (0x30, 1)]);
    let lines = [3, 4];
    let mut v = version(&o, &lines, Some("/p/fib.tj"));
    v.kind = CodeKind::LoopEntry { header: 17 };
    let image = image_of(&v, Arch::X86_64, "/work", None).unwrap();
    let file = ElfFile64::<object::Endianness>::parse(&*image).unwrap();
    let text = file.section_by_name(".text").unwrap();
    assert_eq!(text.address(), 0x7000_0000);
    let sym = file.symbols().next().unwrap();
    assert_eq!(sym.name().unwrap(), "fib");
    let strings = file.section_by_name(".debug_str").unwrap();
    let strings = String::from_utf8_lossy(strings.data().unwrap());
    assert!(strings.contains("tierjit osr (loop at op 17)"), "{strings}");
    assert!(strings.contains("/p/fib.tj"), "{strings}");
}

/// Where the observer's image of the version at `addr` is.
fn image_at(observer: &GdbJitObserver, addr: usize) -> (usize, usize) {
    let versions = lock(&observer.versions);
    let image = &versions[&addr]._image;
    (image.as_ptr() as usize, image.len())
}

#[test]
fn published_versions_are_listed_until_freed() {
    let listed = |image| super::super::listed_images().contains(&image);
    let observer = GdbJitObserver::new();
    let o = ops(&[(0x10, 0)]);
    let lines = [3];
    let mut a = version(&o, &lines, Some("fib.tj"));
    a.addr = 0x1234_0000;
    let mut b = a;
    b.addr = 0x1235_0000;
    b.kind = CodeKind::Cranelift;
    observer.published(&a);
    observer.published(&b);
    assert_eq!(observer.registered(), 2);
    let (image_a, image_b) = (image_at(&observer, a.addr), image_at(&observer, b.addr));
    assert!(listed(image_a) && listed(image_b));
    observer.freed(a.addr, a.len);
    assert_eq!(observer.registered(), 1);
    assert!(!listed(image_a) && listed(image_b));
    // Freeing what was never published changes nothing.
    observer.freed(0x999, 1);
    assert_eq!(observer.registered(), 1);
    // A dropped observer takes its versions out of the list.
    drop(observer);
    assert!(!listed(image_b));
}
