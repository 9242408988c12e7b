//! [`CodeBuffer`]: the buffer both macro-assemblers emit into through
//! `dynasm!`, reused from one function to the next.
//!
//! dynasmrt's own `VecAssembler` hands its code out only by value or through
//! a draining iterator, so every function would cost a fresh allocation (and
//! page faults for the large ones) or a byte-by-byte copy. This buffer keeps
//! its allocations, hands out a slice, and supports dynamic labels only:
//! the templates use no named local or global labels, which `VecAssembler`
//! looks up in hash maps.

use std::ops::Range;

use dynasmrt::aarch64::Aarch64Relocation;
use dynasmrt::components::{LabelRegistry, PatchLoc};
use dynasmrt::relocations::{Relocation, RelocationKind};
use dynasmrt::x64::X64Relocation;
use dynasmrt::{AssemblyOffset, DynamicLabel, DynasmApi, DynasmLabelApi};

use crate::template::masm::AsmError;

/// How an ISA's label references are patched.
pub trait Patch: Relocation {
    /// The byte that aligns data after code (never executed).
    const PAD: u8;

    /// Write the relative displacement `value` into `field` (the bytes the
    /// relocation covers); false if it does not fit.
    fn write(&self, field: &mut [u8], value: isize) -> bool {
        self.write_value(field, value).is_ok()
    }
}

/// x86-64 displacements are plain little-endian integers: written here
/// directly, without dynasmrt's three levels of dispatch per reference
/// (measured: a fifth of the compile time of a large function).
impl Patch for X64Relocation {
    /// `int3`.
    const PAD: u8 = 0xCC;

    fn write(&self, field: &mut [u8], value: isize) -> bool {
        match field {
            [byte] => i8::try_from(value).map(|v| *byte = v as u8).is_ok(),
            [_, _, _, _] => i32::try_from(value)
                .map(|v| field.copy_from_slice(&v.to_le_bytes()))
                .is_ok(),
            _ => self.write_value(field, value).is_ok(),
        }
    }
}

/// aarch64 displacements are bit fields of the instruction: dynasmrt's
/// encoders write them.
impl Patch for Aarch64Relocation {
    /// Unused: aarch64 code is whole words.
    const PAD: u8 = 0;
}

/// A short forward jump waiting for its target: where its displacement
/// counts from (the end of the instruction).
#[must_use]
pub struct ShortForward(usize);

/// An assembling buffer with dynamic labels, cleared and reused per function.
#[derive(Debug)]
pub struct CodeBuffer<R: Patch> {
    ops: Vec<u8>,
    labels: LabelRegistry,
    relocs: Vec<(PatchLoc<R>, DynamicLabel)>,
    /// Data entries: `(field, base, label)`, patched to the 32-bit
    /// `label - base` (little-endian, as both ISAs are).
    data_relocs: Vec<(usize, usize, DynamicLabel)>,
    /// The byte ranges that hold data (jump tables), not instructions.
    data: Vec<Range<usize>>,
    /// Tables to emit after the code: their label, and their entries'
    /// labels (a range of `deferred_labels`).
    deferred: Vec<(DynamicLabel, Range<usize>)>,
    deferred_labels: Vec<DynamicLabel>,
    /// The first misuse seen (a label bound twice, a named label), reported
    /// by [`CodeBuffer::finish`].
    error: Option<AsmError>,
}

impl<R: Patch> Default for CodeBuffer<R> {
    fn default() -> Self {
        CodeBuffer {
            ops: Vec::new(),
            labels: LabelRegistry::new(),
            relocs: Vec::new(),
            data_relocs: Vec::new(),
            data: Vec::new(),
            deferred: Vec::new(),
            deferred_labels: Vec::new(),
            error: None,
        }
    }
}

impl<R: Patch> CodeBuffer<R> {
    /// Forget everything emitted, keeping the allocations.
    pub fn clear(&mut self) {
        self.ops.clear();
        self.labels.clear();
        self.relocs.clear();
        self.data_relocs.clear();
        self.data.clear();
        self.deferred.clear();
        self.deferred_labels.clear();
        self.error = None;
    }

    /// As [`CodeBuffer::label_offsets`] from the table's own start, but
    /// emitted after the code, 4-byte aligned, by [`CodeBuffer::finish`]:
    /// `table` is bound there.
    pub fn defer_label_offsets(&mut self, table: DynamicLabel, labels: &[DynamicLabel]) {
        let start = self.deferred_labels.len();
        self.deferred_labels.extend_from_slice(labels);
        self.deferred
            .push((table, start..self.deferred_labels.len()));
    }

    /// Emit a table of one 32-bit entry per label, each `label - base`
    /// (`base` an offset of this code, typically the table's own start),
    /// filled in by [`CodeBuffer::finish`], and record it as data.
    pub fn label_offsets(&mut self, base: usize, labels: &[DynamicLabel]) {
        let start = self.ops.len();
        for &label in labels {
            self.data_relocs.push((self.ops.len(), base, label));
            self.ops.extend([0; 4]);
        }
        self.data.push(start..self.ops.len());
    }

    /// The byte ranges of the code that hold data, not instructions, in
    /// order.
    pub fn data(&self) -> &[Range<usize>] {
        &self.data
    }

    /// A fresh, unbound label.
    pub fn new_label(&mut self) -> DynamicLabel {
        self.labels.new_dynamic_label()
    }

    /// Where `label` is bound, if it is yet.
    pub fn label_offset(&self, label: DynamicLabel) -> Option<usize> {
        self.labels.resolve_dynamic(label).ok().map(|at| at.0)
    }

    /// Expect about `bytes` more bytes.
    pub fn reserve(&mut self, bytes: usize) {
        self.ops.reserve(bytes);
    }

    /// Patch every label reference and return the code. The buffer keeps it
    /// until [`CodeBuffer::clear`].
    pub fn finish(&mut self) -> Result<&[u8], AsmError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let mut deferred = std::mem::take(&mut self.deferred);
        let labels = std::mem::take(&mut self.deferred_labels);
        for (table, entries) in deferred.drain(..) {
            self.align(4, R::PAD);
            self.dynamic_label(table);
            let base = self.ops.len();
            self.label_offsets(base, &labels[entries]);
        }
        // Keep the allocations.
        self.deferred = deferred;
        self.deferred_labels = labels;
        self.deferred_labels.clear();
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        for (loc, label) in self.relocs.drain(..) {
            let target = self
                .labels
                .resolve_dynamic(label)
                .map_err(|_| AsmError::UnboundLabel(label.get_id()))?;
            let field = self
                .ops
                .get_mut(loc.range(0))
                .ok_or(AsmError::ReferenceOutsideCode)?;
            // Position-independent: label references are relative, so the
            // buffer's address does not matter.
            let patched = match loc.relocation.kind() {
                RelocationKind::Relative => loc.relocation.write(field, loc.value(target.0, 0)),
                _ => loc.patch(field, 0, target.0).is_ok(),
            };
            if !patched {
                return Err(AsmError::OutOfRange(label.get_id()));
            }
        }
        for (field, base, label) in self.data_relocs.drain(..) {
            let target = self
                .labels
                .resolve_dynamic(label)
                .map_err(|_| AsmError::UnboundLabel(label.get_id()))?;
            let value = i32::try_from(target.0 as i64 - base as i64)
                .map_err(|_| AsmError::OutOfRange(label.get_id()))?;
            self.ops
                .get_mut(field..field + 4)
                .ok_or(AsmError::ReferenceOutsideCode)?
                .copy_from_slice(&value.to_le_bytes());
        }
        Ok(&self.ops)
    }

    /// Emit the one-byte `opcode` of a jump with an 8-bit displacement
    /// (x86-64 `jcc rel8`, `jmp rel8`), filled in by
    /// [`CodeBuffer::land_short`]: a forward branch within a template needs
    /// no label and no relocation.
    pub fn short_forward(&mut self, opcode: u8) -> ShortForward {
        self.ops.extend([opcode, 0]);
        ShortForward(self.ops.len())
    }

    /// Point `jump` here.
    pub fn land_short(&mut self, jump: ShortForward) {
        let distance = self.ops.len() - jump.0;
        match i8::try_from(distance) {
            Ok(d) => self.ops[jump.0 - 1] = d as u8,
            Err(_) => self.fail(AsmError::ShortJumpTooFar(distance)),
        }
    }

    fn fail(&mut self, e: AsmError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }
}

impl<R: Patch> Extend<u8> for CodeBuffer<R> {
    fn extend<T: IntoIterator<Item = u8>>(&mut self, iter: T) {
        self.ops.extend(iter)
    }
}

impl<'a, R: Patch> Extend<&'a u8> for CodeBuffer<R> {
    fn extend<T: IntoIterator<Item = &'a u8>>(&mut self, iter: T) {
        self.ops.extend(iter)
    }
}

impl<R: Patch> DynasmApi for CodeBuffer<R> {
    fn offset(&self) -> AssemblyOffset {
        AssemblyOffset(self.ops.len())
    }

    fn push(&mut self, byte: u8) {
        self.ops.push(byte);
    }

    fn align(&mut self, alignment: usize, with: u8) {
        let misalign = self.ops.len() % alignment.max(1);
        if misalign != 0 {
            self.ops
                .extend(std::iter::repeat_n(with, alignment - misalign));
        }
    }
}

impl<R: Patch> DynasmLabelApi for CodeBuffer<R> {
    type Relocation = R;

    fn local_label(&mut self, name: &'static str) {
        self.fail(AsmError::NamedLabel(name));
    }

    fn global_label(&mut self, name: &'static str) {
        self.local_label(name);
    }

    fn dynamic_label(&mut self, id: DynamicLabel) {
        let offset = self.offset();
        if self.labels.define_dynamic(id, offset).is_err() {
            self.fail(AsmError::LabelBoundTwice(id.get_id()));
        }
    }

    fn forward_relocation(&mut self, name: &'static str, _: isize, _: u8, _: u8, _: R) {
        self.local_label(name);
    }

    fn backward_relocation(&mut self, name: &'static str, _: isize, _: u8, _: u8, _: R) {
        self.local_label(name);
    }

    fn global_relocation(&mut self, name: &'static str, _: isize, _: u8, _: u8, _: R) {
        self.local_label(name);
    }

    fn dynamic_relocation(
        &mut self,
        id: DynamicLabel,
        target_offset: isize,
        field_offset: u8,
        ref_offset: u8,
        kind: R,
    ) {
        let loc = PatchLoc::new(self.offset(), target_offset, field_offset, ref_offset, kind);
        self.relocs.push((loc, id));
    }

    fn value_relocation(&mut self, value: usize, field_offset: u8, ref_offset: u8, kind: R) {
        let loc = PatchLoc::new(self.offset(), 0, field_offset, ref_offset, kind);
        let patched = match self.ops.get_mut(loc.range(0)) {
            Some(field) => loc.patch(field, 0, value).is_ok(),
            None => false,
        };
        if !patched {
            self.fail(AsmError::ValueTooLarge(value));
        }
    }
}
