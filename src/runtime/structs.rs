//! Struct objects: their layout, kinds and the per-module table every
//! engine and the collector read.
//!
//! A struct object is an [`ArrayHeader`] (`kind`, `marked`, `len` 0) and
//! then one 8-byte slot per field, the parent's fields first (a small one
//! comes from the heap's pools, readable to [`MIN_OBJECT_SIZE`] bytes like
//! every object). Its kind is
//! [`STRUCT_KIND_BASE`] plus its type's *rank*: struct types numbered in
//! preorder of the inheritance forest, so a type and its descendants have
//! the ranks `lo..=hi` of its subtree. Whether a reference may be accessed
//! as a struct of type S is then one unsigned compare, `kind - BASE - lo <=
//! hi - lo` ([`StructType::admits`]); null reads kind 0 through the null
//! object and fails it too.

#[cfg(doc)]
use super::heap::MIN_OBJECT_SIZE;
use super::heap::{ARRAY_DATA_OFFSET, ArrayHeader, ELEM_SIZE};
use super::trap::TrapKind;
use crate::bytecode::{Bank, Module};

/// The kind of the struct of rank 0; ranks count up from here. Kinds below
/// it are arrays, function references and kinds reserved for other objects.
pub const STRUCT_KIND_BASE: u32 = 16;

/// The offset of slot `slot` in a struct object.
pub const fn struct_slot_offset(slot: u32) -> usize {
    ARRAY_DATA_OFFSET + slot as usize * ELEM_SIZE
}

/// What engines need of a struct type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StructType {
    /// Its kind ([`STRUCT_KIND_BASE`] + its rank): what `snew` writes.
    pub kind: u32,
    /// How many kinds its subtree spans beyond its own: its descendants
    /// have kinds `kind + 1 ..= kind + span`.
    pub span: u32,
    /// Its slots: inherited and own fields.
    pub slots: u32,
}

impl StructType {
    /// Whether an object of kind `kind` is a struct of this type or of a
    /// descendant: one unsigned compare (null's 0 and every non-struct kind
    /// fail it).
    #[inline(always)]
    pub fn admits(self, kind: u32) -> bool {
        kind.wrapping_sub(self.kind) <= self.span
    }
}

/// Where a field lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldSlot {
    /// The struct that declares it (accesses check against this type).
    pub owner: u32,
    /// Its slot in every object of that type and its descendants.
    pub slot: u32,
    /// The bank of its values.
    pub bank: Bank,
}

impl FieldSlot {
    /// Its byte offset in the object.
    pub fn offset(self) -> usize {
        struct_slot_offset(self.slot)
    }
}

/// What the collector needs of the objects of one rank.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct RankInfo {
    /// Bytes allocated per object.
    size: usize,
    /// The slots that hold references: exactly what it traces.
    ref_slots: Box<[u32]>,
}

/// Every struct type and field of a module, computed once when it is
/// loaded (as [`FrameLayout::all`](super::frame::FrameLayout::all)); shared
/// by the engines and the instances' heaps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StructLayouts {
    types: Vec<StructType>,
    fields: Vec<FieldSlot>,
    by_rank: Vec<RankInfo>,
}

impl StructLayouts {
    /// The layouts of a verified module's structs (parents before
    /// children, field names unique).
    pub fn of(module: &Module) -> StructLayouts {
        let structs = &module.structs;
        let n = structs.len();
        let parent = |k: usize| structs[k].parent.map(usize::from).filter(|&p| p < k);
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut roots = Vec::new();
        for k in 0..n {
            match parent(k) {
                Some(p) => children[p].push(k),
                None => roots.push(k),
            }
        }
        // Slots: the parent's, then the own fields (parents come first).
        let mut slots = vec![0u32; n];
        let mut fields = Vec::with_capacity(module.field_count());
        for k in 0..n {
            let base = parent(k).map_or(0, |p| slots[p]);
            for (j, f) in structs[k].fields.iter().enumerate() {
                fields.push(FieldSlot {
                    owner: k as u32,
                    slot: base + j as u32,
                    bank: f.bank,
                });
            }
            slots[k] = base + structs[k].fields.len() as u32;
        }
        // Ranks in preorder, without recursion (the forest may be deep).
        let mut rank = vec![0u32; n];
        let mut span = vec![0u32; n];
        let mut order = Vec::with_capacity(n);
        let mut stack: Vec<usize> = roots.into_iter().rev().collect();
        while let Some(k) = stack.pop() {
            rank[k] = order.len() as u32;
            order.push(k);
            stack.extend(children[k].iter().rev());
        }
        // Subtree sizes, children after parents in `order`: sum backwards.
        let mut size = vec![1u32; n];
        for &k in order.iter().rev() {
            if let Some(p) = parent(k) {
                size[p] += size[k];
            }
        }
        for k in 0..n {
            span[k] = size[k] - 1;
        }
        let bank_of_slot = |k: usize| -> Vec<Bank> {
            let mut chain = Vec::new();
            let mut cur = Some(k);
            while let Some(c) = cur {
                chain.push(c);
                cur = parent(c);
            }
            chain
                .iter()
                .rev()
                .flat_map(|&c| structs[c].fields.iter().map(|f| f.bank))
                .collect()
        };
        let by_rank = order
            .iter()
            .map(|&k| RankInfo {
                size: object_size(slots[k]),
                ref_slots: bank_of_slot(k)
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| **b == Bank::R)
                    .map(|(s, _)| s as u32)
                    .collect(),
            })
            .collect();
        let types = (0..n)
            .map(|k| StructType {
                kind: STRUCT_KIND_BASE + rank[k],
                span: span[k],
                slots: slots[k],
            })
            .collect();
        StructLayouts {
            types,
            fields,
            by_rank,
        }
    }

    /// Struct type `s` (an index of the module's structs).
    #[inline(always)]
    pub fn ty(&self, s: usize) -> StructType {
        self.types[s]
    }

    /// Field `k` (a module-wide field index).
    #[inline(always)]
    pub fn field(&self, k: usize) -> FieldSlot {
        self.fields[k]
    }

    /// How many struct types there are.
    pub fn len(&self) -> usize {
        self.types.len()
    }

    /// Whether the module has no struct types.
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    /// The allocation size of an object of struct kind `kind`, if it is one.
    pub fn size_of_kind(&self, kind: u32) -> Option<usize> {
        let rank = kind.checked_sub(STRUCT_KIND_BASE)?;
        self.by_rank.get(rank as usize).map(|r| r.size)
    }

    /// The reference slots of an object of struct kind `kind` (none if it
    /// is not one).
    pub fn ref_slots_of_kind(&self, kind: u32) -> &[u32] {
        kind.checked_sub(STRUCT_KIND_BASE)
            .and_then(|rank| self.by_rank.get(rank as usize))
            .map_or(&[], |r| &r.ref_slots)
    }
}

/// The bytes an object of `slots` slots takes.
pub fn object_size(slots: u32) -> usize {
    struct_slot_offset(slots)
}

/// The address of field `field` of the struct `r`, after the checks every
/// engine makes: null, then the type (the field's struct or a
/// descendant).
///
/// # Safety
/// `r` must be null or a live object of an instance (heap or table).
#[inline(always)]
pub unsafe fn field_ptr(
    r: u64,
    layouts: &StructLayouts,
    field: usize,
) -> Result<*mut u64, TrapKind> {
    if r == 0 {
        return Err(TrapKind::NullReference);
    }
    let f = layouts.field(field);
    // SAFETY: by the caller's contract; every object has a header.
    let kind = unsafe { (*(r as *const ArrayHeader)).kind };
    if !layouts.ty(f.owner as usize).admits(kind) {
        return Err(TrapKind::WrongType);
    }
    Ok((r as usize + f.offset()) as *mut u64)
}

/// Whether `r` is a non-null struct of type `s` or a descendant (`isa`).
///
/// # Safety
/// `r` must be null or a live object of an instance (heap or table).
#[inline(always)]
pub unsafe fn is_a(r: u64, layouts: &StructLayouts, s: usize) -> bool {
    // SAFETY: by the caller's contract.
    r != 0
        && layouts
            .ty(s)
            .admits(unsafe { (*(r as *const ArrayHeader)).kind })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytecode::text::parse;

    #[test]
    fn ranks_are_preorder_and_slots_follow_parents() {
        let m = parse(
            "struct A { i a }\nstruct B : A { r b }\nstruct C { f c }\nstruct D : A { i d, r e }\nstruct E : B { r f }\nfunc main() -> none\n ret\nend\n",
        )
        .unwrap();
        let l = StructLayouts::of(&m);
        // Preorder: A(0) B(1) E(2) D(3), then C(4).
        let kinds: Vec<u32> = (0..5).map(|s| l.ty(s).kind - STRUCT_KIND_BASE).collect();
        assert_eq!(kinds, [0, 1, 4, 3, 2]);
        let spans: Vec<u32> = (0..5).map(|s| l.ty(s).span).collect();
        assert_eq!(spans, [3, 1, 0, 0, 0]);
        let a = l.ty(0);
        for s in 0..5 {
            let descends = s != 2;
            assert_eq!(a.admits(l.ty(s).kind), descends, "struct {s}");
        }
        assert!(!a.admits(0), "null's kind");
        assert!(!a.admits(3), "a reference array");
        assert!(!l.ty(1).admits(l.ty(3).kind), "a sibling");
        assert!(!l.ty(1).admits(l.ty(0).kind), "a parent as a child");
        // Fields: A.a, B.b, C.c, D.d, D.e, E.f.
        let slots: Vec<(u32, u32)> = (0..6)
            .map(|k| (l.field(k).owner, l.field(k).slot))
            .collect();
        assert_eq!(slots, [(0, 0), (1, 1), (2, 0), (3, 1), (3, 2), (4, 2)]);
        assert_eq!(l.ref_slots_of_kind(l.ty(4).kind), [1, 2]);
        assert_eq!(l.ref_slots_of_kind(l.ty(3).kind), [2]);
        assert_eq!(l.ref_slots_of_kind(l.ty(2).kind), [] as [u32; 0]);
        assert_eq!(l.size_of_kind(l.ty(0).kind), Some(ARRAY_DATA_OFFSET + 8));
        assert_eq!(l.size_of_kind(3), None);
        assert_eq!(object_size(10), ARRAY_DATA_OFFSET + 80);
    }

    /// The collector traces exactly the reference slots of a struct (an i64
    /// slot holding an address-like value is not followed), keeps what the
    /// roots reach through structs, arrays and closures, and frees cycles.
    #[test]
    fn the_collector_traces_reference_slots_and_frees_cycles() {
        use crate::runtime::heap::{ElemKind, Heap, element_ptr};
        use std::sync::Arc;
        let m = parse(
            "struct N { i bits, r next }\nstruct M : N { f x, r other }\nfunc main() -> none\n ret\nend\n",
        )
        .unwrap();
        let layouts = Arc::new(StructLayouts::of(&m));
        let mut heap = Heap::with_structs(1 << 30, layouts.clone());
        let set =
            |r: u64, field: usize, v: u64| unsafe { *field_ptr(r, &layouts, field).unwrap() = v };
        let get = |r: u64, field: usize| unsafe { *field_ptr(r, &layouts, field).unwrap() };
        // a -> b -> c (an M) -> a: a cycle; d alone; an array holding c.
        let a = heap.alloc_struct(0, &[]).unwrap();
        let b = heap.alloc_struct(0, &[]).unwrap();
        let c = heap.alloc_struct(1, &[]).unwrap();
        let d = heap.alloc_struct(1, &[]).unwrap();
        let arr = heap.alloc(ElemKind::Ref, 1, &[]).unwrap();
        set(a, 1, b);
        set(b, 1, c);
        set(c, 1, a);
        set(c, 3, d); // M.other
        // Bits that look like a reference, in an i64 slot: never traced.
        set(a, 0, 0xdead_beef_0000);
        set(d, 0, b);
        unsafe { *element_ptr(arr, ElemKind::Ref, 0).unwrap() = c };
        assert_eq!(heap.object_count(), 5);
        // Two N (2 slots), two M (4 slots), an array of one.
        assert_eq!(heap.bytes(), 2 * 32 + 2 * 48 + 24);
        heap.collect(&[&[arr]]);
        assert_eq!(
            heap.object_count(),
            5,
            "everything reachable from the array"
        );
        assert_eq!(get(c, 3), d);
        // Through d only: d's i64 slot holding b's address keeps nothing.
        heap.collect(&[&[d]]);
        assert_eq!(heap.object_count(), 1);
        assert_eq!(get(d, 0), b);
        // The cycle alone, reached from b.
        let a = heap.alloc_struct(0, &[]).unwrap();
        let b = heap.alloc_struct(0, &[]).unwrap();
        set(a, 1, b);
        set(b, 1, a);
        heap.collect(&[&[b]]);
        assert_eq!(heap.object_count(), 2);
        heap.collect(&[]);
        assert_eq!((heap.object_count(), heap.bytes()), (0, 0));
        // A struct is not an array: the element and length checks.
        let s = heap.alloc_struct(1, &[]).unwrap();
        let arr = heap.alloc(ElemKind::Ref, 1, &[]).unwrap();
        unsafe {
            assert_eq!(element_ptr(s, ElemKind::Ref, 0), Err(TrapKind::ElementKind));
            assert_eq!(crate::runtime::heap::array_len(s), Ok(0));
            assert_eq!(field_ptr(0, &layouts, 0), Err(TrapKind::NullReference));
            assert_eq!(field_ptr(arr, &layouts, 0), Err(TrapKind::WrongType));
            assert!(is_a(s, &layouts, 0) && is_a(s, &layouts, 1));
            let n = heap.alloc_struct(0, &[]).unwrap();
            assert!(is_a(n, &layouts, 0) && !is_a(n, &layouts, 1));
            assert_eq!(field_ptr(n, &layouts, 2), Err(TrapKind::WrongType));
            assert!(!is_a(0, &layouts, 0));
        }
    }
}
