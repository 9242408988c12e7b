//! Structs and reference tests: field access on every struct type of a
//! small hierarchy (own and inherited fields), the traps of a null, a
//! sibling, a parent accessed as a child, an array and a function
//! reference, structs used as arrays, `isa` on everything, `isnull`, `req`,
//! `jnull`/`jnnull`, and the collector on struct graphs with cycles, alike
//! on every engine.

use crate::differential::{check, check_with};
use tierjit::{TrapKind, Value};

/// `Shape` has two children, `Circle` (with a child `Ring`) and `Rect`.
const HIERARCHY: &str = "
struct Shape { i id, r next }
struct Circle : Shape { f radius }
struct Rect : Shape { i w, i h }
struct Ring : Circle { f inner, r tag }
struct Other { i id }
";

/// `make(sel)`: 0 a Shape, 1 a Circle, 2 a Rect, 3 a Ring, 4 an Other,
/// 5 null, 6 an i64 array, 7 a reference array, 8 a function reference.
const MAKE: &str = "
func make(i) -> r
    jeqi i0, 0, shape
    jeqi i0, 1, circle
    jeqi i0, 2, rect
    jeqi i0, 3, ring
    jeqi i0, 4, other
    jeqi i0, 6, ints
    jeqi i0, 7, refs
    jeqi i0, 8, func
    rnull r0
    retr r0
shape:
    snew r0, Shape
    retr r0
circle:
    snew r0, Circle
    retr r0
rect:
    snew r0, Rect
    retr r0
ring:
    snew r0, Ring
    retr r0
other:
    snew r0, Other
    retr r0
ints:
    iconst i1, 3
    newi r0, i1
    retr r0
refs:
    iconst i1, 3
    newr r0, i1
    retr r0
func:
    fref r0, make
    retr r0
end
";

fn program(body: &str) -> String {
    format!("{HIERARCHY}{MAKE}{body}")
}

#[test]
fn fields_start_zero_and_keep_what_is_stored() {
    let src = program(
        "
func main() -> i
    snew r0, Ring
    sgeti i0, r0, Ring.id
    sgetf f0, r0, Ring.radius
    sgetr r1, r0, Ring.tag
    isnull i1, r1
    add i0, i0, i1          ; 0 + 1
    iconst i2, -5
    sseti r0, Shape.id, i2  ; through the parent's name
    fconst f1, 2.5
    ssetf r0, Circle.radius, f1
    fconst f2, -0.0
    ssetf r0, Ring.inner, f2
    snew r2, Rect
    ssetr r0, Ring.tag, r2
    ssetr r0, Ring.next, r0 ; a cycle through itself
    sgeti i3, r0, Ring.id
    add i0, i0, i3          ; 1 - 5
    sgetf f3, r0, Ring.radius
    sgetf f4, r0, Ring.inner
    fadd f3, f3, f4
    f2i i4, f3
    muli i4, i4, 100
    add i0, i0, i4          ; -4 + 200
    sgetr r3, r0, Shape.next
    req i5, r3, r0
    muli i5, i5, 1000
    add i0, i0, i5          ; + 1000
    sgetr r4, r0, Ring.tag
    req i6, r4, r2
    muli i6, i6, 10000
    add i0, i0, i6          ; + 10000
    reti i0
end",
    );
    assert_eq!(check(&src, "main", &[]).int(), 11196);
}

/// `get(sel)` reads `Circle.radius` of `make(sel)`; `set(sel)` writes
/// `Rect.w`; `shape(sel)` reads `Shape.id`.
const ACCESS: &str = "
func get(i) -> f
    call r0, make, 0
    sgetf f0, r0, Circle.radius
    retf f0
end

func set(i) -> none
    call r0, make, 0
    iconst i1, 7
    sseti r0, Rect.w, i1
    ret
end

func shape(i) -> i
    call r0, make, 0
    sgeti i1, r0, Shape.id
    reti i1
end
";

#[test]
fn field_access_checks_null_then_the_type() {
    let src = program(ACCESS);
    let trap = |func: &str, sel: i64| check(&src, func, &[Value::I(sel)]).trap().0;
    // Circle.radius: a Circle or a Ring.
    assert_eq!(check(&src, "get", &[Value::I(1)]).float(), 0.0);
    assert_eq!(check(&src, "get", &[Value::I(3)]).float(), 0.0);
    for (sel, kind) in [
        (0, TrapKind::WrongType), // the parent accessed as a child
        (2, TrapKind::WrongType), // a sibling
        (4, TrapKind::WrongType), // an unrelated struct
        (5, TrapKind::NullReference),
        (6, TrapKind::WrongType), // arrays
        (7, TrapKind::WrongType),
        (8, TrapKind::WrongType), // a function reference
    ] {
        assert_eq!(trap("get", sel), kind, "get on make({sel})");
    }
    // Rect.w: a Rect only.
    assert!(check(&src, "set", &[Value::I(2)]).result.is_ok());
    for sel in [0, 1, 3, 4, 6, 7, 8] {
        assert_eq!(trap("set", sel), TrapKind::WrongType, "set on make({sel})");
    }
    assert_eq!(trap("set", 5), TrapKind::NullReference);
    // Shape.id: every Shape, through the parent's field.
    for sel in 0..4 {
        assert_eq!(check(&src, "shape", &[Value::I(sel)]).int(), 0);
    }
    assert_eq!(trap("shape", 4), TrapKind::WrongType);
    // The trap names the access op.
    assert_eq!(
        check(&src, "set", &[Value::I(5)]).trap(),
        (TrapKind::NullReference, "set", 2)
    );
}

#[test]
fn isa_accepts_the_type_and_its_descendants_only() {
    let src = program(
        "
; isa bits: Shape, Circle, Rect, Ring, Other
func main(i) -> i
    call r0, make, 0
    isa i1, r0, Shape
    isa i2, r0, Circle
    isa i3, r0, Rect
    isa i4, r0, Ring
    isa i5, r0, Other
    shli i2, i2, 1
    shli i3, i3, 2
    shli i4, i4, 3
    shli i5, i5, 4
    or i1, i1, i2
    or i1, i1, i3
    or i1, i1, i4
    or i1, i1, i5
    reti i1
end",
    );
    let want = [0b1, 0b11, 0b101, 0b1011, 0b10000, 0, 0, 0, 0];
    for (sel, &bits) in want.iter().enumerate() {
        let got = check(&src, "main", &[Value::I(sel as i64)]).int();
        assert_eq!(got, bits, "isa of make({sel})");
    }
}

#[test]
fn structs_are_not_arrays_and_arrays_are_not_structs() {
    let src = program(
        "
func main(i) -> i
    snew r0, Rect
    iconst i1, 0
    jeqi i0, 1, get
    jeqi i0, 2, set
    jeqi i0, 3, getf
    jeqi i0, 4, call
    len i2, r0              ; 0
    reti i2
get:
    geti i2, r0, i1
    reti i2
set:
    setr r0, i1, r0
    reti i1
getf:
    getf f0, r0, i1
    reti i1
call:
    calli t, r0, 5
    reti i5
end
type t = () -> i",
    );
    assert_eq!(check(&src, "main", &[Value::I(0)]).int(), 0);
    for sel in 1..=3 {
        assert_eq!(
            check(&src, "main", &[Value::I(sel)]).trap().0,
            TrapKind::ElementKind,
            "array op {sel} on a struct"
        );
    }
    assert_eq!(
        check(&src, "main", &[Value::I(4)]).trap().0,
        TrapKind::SignatureMismatch
    );
}

#[test]
fn reference_tests_and_null_branches() {
    let src = program(
        "
func main(i) -> i
    call r0, make, 0
    call r1, make, 0
    isnull i1, r0
    req i2, r0, r0
    req i3, r0, r1          ; two objects differ; null equals null
    rnull r2
    req i4, r2, r0
    iconst i5, 0
    jnull r0, isnull
    addi i5, i5, 10
isnull:
    jnnull r0, notnull
    addi i5, i5, 100
notnull:
    shli i2, i2, 1
    shli i3, i3, 2
    shli i4, i4, 3
    or i1, i1, i2
    or i1, i1, i3
    or i1, i1, i4
    add i1, i1, i5
    reti i1
end",
    );
    // make(5) is null: isnull, req itself, null == null, null == null, +100.
    assert_eq!(check(&src, "main", &[Value::I(5)]).int(), 0b1111 + 100);
    // A struct: only req itself, +10.
    assert_eq!(check(&src, "main", &[Value::I(2)]).int(), 0b10 + 10);
    // Function references are shared: `fref` twice is one object.
    assert_eq!(check(&src, "main", &[Value::I(8)]).int(), 0b110 + 10);
}

/// A linked list of `n` nodes built front to back, then summed; `keep`
/// lists stay alive (in a ring of 4 through a reference array) while
/// `rounds` more are built, each also closing a cycle (last.next = first,
/// which must not keep it alive once dropped).
const LISTS: &str = "
struct Node { i val, r next }
struct Big : Node { r a, r b, f x, i y, r c }

func build(i) -> r
    rnull r0
    iconst i1, 0
loop:
    jge i1, i0, done
    snew r1, Big
    sseti r1, Node.val, i1
    ssetr r1, Node.next, r0
    ssetr r1, Big.c, r1          ; a self-cycle
    rmov r0, r1
    addi i1, i1, 1
    jmp loop
done:
    retr r0
end

func sum(r) -> i
    iconst i0, 0
loop:
    jnull r0, done
    sgeti i1, r0, Node.val
    add i0, i0, i1
    sgetr r0, r0, Node.next
    jmp loop
done:
    reti i0
end

func main(i, i) -> i
    iconst i2, 4
    newr r0, i2                  ; the ring of live lists
    iconst i3, 0                 ; round
    iconst i4, 0                 ; total
round:
    jge i3, i1, out
    mov i10, i0
    call r1, build, 10
    ; close a cycle: walk to the last node, point it at the first
    rmov r2, r1
last:
    sgetr r3, r2, Node.next
    jnull r3, found
    rmov r2, r3
    jmp last
found:
    ssetr r2, Node.next, r1
    ssetr r2, Node.next, r3      ; and break it again (r3 is null)
    andi i5, i3, 3
    setr r0, i5, r1
    ; sum every live list: the collector must have kept them
    iconst i6, 0
each:
    jgei i6, 4, summed
    getr r10, r0, i6
    call i7, sum, 10
    add i4, i4, i7
    addi i6, i6, 1
    jmp each
summed:
    addi i3, i3, 1
    jmp round
out:
    reti i4
end
";

#[test]
fn the_collector_keeps_live_struct_graphs_and_frees_cycles() {
    // 60 rounds of 2,000 nodes of 72 bytes: 8.6 MB, several collections.
    let out = check_with(
        &tierjit::bytecode::text::parse(LISTS).unwrap(),
        "main",
        &[Value::I(2000), Value::I(60)],
        |c| {
            c.heap_limit(4 << 20);
        },
    );
    // Round k sums the lists of rounds k-3..=k, each 0+1+...+1999.
    let per_list = 1999 * 2000 / 2;
    let lists: i64 = (0..60).map(|k: i64| (k + 1).min(4)).sum();
    assert_eq!(out.int(), per_list * lists);
}
