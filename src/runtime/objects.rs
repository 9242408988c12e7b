//! The program's objects seen from Rust: what a host function (through
//! [`Caller`](super::host::Caller)) and the embedder (through
//! `Instance::objects`) read, write and make. Every reference is a handle
//! ([`Ref`]); every access checks it and the object's kind and bounds, as
//! the ops do, so nothing here can reach memory that is not a live object.

use super::handles::HandleError;
use super::heap::{
    self, ARRAY_DATA_OFFSET, ArrayHeader, BYTES_KIND, ElemKind, FUNC_REF_KIND, HOST_OBJECT_KIND,
    Heap, HostObject, HostPayload, I64_BYTES_KIND, STRING_KIND,
};
use super::structs::{STRUCT_KIND_BASE, struct_slot_offset};
use super::trap::TrapKind;
use super::value::{Ref, Value};
use crate::bytecode::{Bank, Module};
use std::any::Any;

/// Why an object access from Rust failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ObjectError {
    /// The handle does not name a live object of this instance.
    #[error(transparent)]
    Handle(#[from] HandleError),
    /// The reference is null.
    #[error("null reference")]
    Null,
    /// The object is not of the kind the access needs.
    #[error("expected {expected}, found {found}")]
    WrongKind {
        /// What the access needs.
        expected: &'static str,
        /// What the object is.
        found: String,
    },
    /// An element index past the end (or negative).
    #[error("index {index} out of bounds for length {len}")]
    OutOfBounds {
        /// The index asked for.
        index: i64,
        /// The array's length.
        len: u64,
    },
    /// A value of the wrong bank for the element or field.
    #[error("a value of bank {got} where {want} is needed")]
    WrongBank {
        /// The bank the element or field holds.
        want: Bank,
        /// The value's bank.
        got: Bank,
    },
    /// The heap limit would be passed.
    #[error("out of memory (the heap limit)")]
    OutOfMemory,
    /// An allocation the heap refuses (a negative or too large length).
    #[error("cannot allocate: {0}")]
    Alloc(&'static str),
    /// No struct type or field of that name.
    #[error("no {what} named `{name}`")]
    NoSuchName {
        /// "struct type" or "field".
        what: &'static str,
        /// The name asked for.
        name: String,
    },
    /// A struct made with the wrong number of field values.
    #[error("struct `{name}` has {want} fields, {got} values given")]
    FieldCount {
        /// The struct type.
        name: String,
        /// Its fields, inherited ones included.
        want: usize,
        /// The values given.
        got: usize,
    },
}

impl From<ObjectError> for String {
    fn from(e: ObjectError) -> String {
        e.to_string()
    }
}

fn alloc_error(k: TrapKind) -> ObjectError {
    match k {
        TrapKind::OutOfMemory => ObjectError::OutOfMemory,
        TrapKind::NegativeLength => ObjectError::Alloc("negative length"),
        _ => ObjectError::Alloc("refused by the heap"),
    }
}

/// What an object is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    /// An array of i64 (`newi`).
    I64Array,
    /// An array of f64 (`newf`).
    F64Array,
    /// An array of references (`newr`).
    RefArray,
    /// A byte array (`newb`, or made by Rust from bytes or a string).
    Bytes,
    /// An immutable byte string (a string constant's object, `sconst`).
    String,
    /// A function reference or closure (`fref`, `closure`).
    FuncRef,
    /// A host object (only Rust reads into it).
    HostObject,
    /// A struct (`snew`); [`Objects::struct_type`] names its type.
    Struct,
}

impl ObjectKind {
    /// The kind of the object with header kind `kind`.
    fn of_header(kind: u32) -> Option<ObjectKind> {
        Some(match kind {
            k if k == ElemKind::I64 as u32 || k == I64_BYTES_KIND => ObjectKind::I64Array,
            k if k == ElemKind::F64 as u32 => ObjectKind::F64Array,
            k if k == ElemKind::Ref as u32 => ObjectKind::RefArray,
            BYTES_KIND => ObjectKind::Bytes,
            STRING_KIND => ObjectKind::String,
            FUNC_REF_KIND => ObjectKind::FuncRef,
            HOST_OBJECT_KIND => ObjectKind::HostObject,
            k if k >= STRUCT_KIND_BASE => ObjectKind::Struct,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            ObjectKind::I64Array => "an i64 array",
            ObjectKind::F64Array => "an f64 array",
            ObjectKind::RefArray => "a reference array",
            ObjectKind::Bytes => "a byte array",
            ObjectKind::String => "a string",
            ObjectKind::FuncRef => "a function reference",
            ObjectKind::HostObject => "a host object",
            ObjectKind::Struct => "a struct",
        }
    }
}

/// Access to one instance's objects, for as long as it is borrowed.
///
/// References come in and go out as handles: those made while a host
/// function runs are released when it returns (use
/// [`Objects::persist`] to keep one); those made by the embedder live until
/// [`Objects::release`].
pub struct Objects<'a> {
    heap: &'a mut Heap,
    /// Roots besides the handles: the running frames' reference registers
    /// and the reference globals.
    roots: [&'a [u64]; 2],
    module: &'a Module,
}

impl<'a> Objects<'a> {
    /// Access to `heap`, whose other roots are `stack` (the live reference
    /// registers) and `globals` (the reference globals).
    pub(crate) fn new(
        heap: &'a mut Heap,
        stack: &'a [u64],
        globals: &'a [u64],
        module: &'a Module,
    ) -> Objects<'a> {
        Objects {
            heap,
            roots: [stack, globals],
            module,
        }
    }

    /// The object `r` names; null is an error.
    fn object(&self, r: Ref) -> Result<u64, ObjectError> {
        match self.heap.handles.get(r)? {
            0 => Err(ObjectError::Null),
            obj => Ok(obj),
        }
    }

    /// The object `r` names, null included, for storing into the heap.
    pub(crate) fn resolve(&self, r: Ref) -> Result<u64, ObjectError> {
        Ok(self.heap.handles.get(r)?)
    }

    /// A handle to `obj`.
    pub(crate) fn handle(&mut self, obj: u64) -> Ref {
        self.heap.handles.make(obj)
    }

    fn header_kind(obj: u64) -> u32 {
        // SAFETY: `obj` came from a live handle: a live object.
        unsafe { (*(obj as *const ArrayHeader)).kind }
    }

    /// What `r` is; `None` for null.
    pub fn kind(&self, r: Ref) -> Result<Option<ObjectKind>, ObjectError> {
        match self.resolve(r)? {
            0 => Ok(None),
            obj => Ok(ObjectKind::of_header(Self::header_kind(obj))),
        }
    }

    fn found(obj: u64) -> String {
        ObjectKind::of_header(Self::header_kind(obj))
            .map_or("another kind of object", ObjectKind::name)
            .to_string()
    }

    /// The length of array `r` (0 for objects that are not arrays).
    pub fn len(&self, r: Ref) -> Result<u64, ObjectError> {
        let obj = self.object(r)?;
        // SAFETY: a live object (see `header_kind`).
        Ok(unsafe { heap::array_len(obj) }.unwrap_or(0) as u64)
    }

    /// Whether `r` is an empty array (or not an array).
    pub fn is_empty(&self, r: Ref) -> Result<bool, ObjectError> {
        Ok(self.len(r)? == 0)
    }

    fn alloc(&mut self, kind: ElemKind, len: usize) -> Result<u64, ObjectError> {
        let len = i64::try_from(len).map_err(|_| ObjectError::OutOfMemory)?;
        self.heap.alloc(kind, len, &self.roots).map_err(alloc_error)
    }

    /// A new i64 array holding `values`.
    pub fn new_i64_array(&mut self, values: &[i64]) -> Result<Ref, ObjectError> {
        let obj = self.alloc(ElemKind::I64, values.len())?;
        for (i, &v) in values.iter().enumerate() {
            // SAFETY: a fresh i64 array of this length.
            unsafe { heap::set_i64(obj, i as i64, v) }.map_err(|_| ObjectError::OutOfMemory)?;
        }
        Ok(self.handle(obj))
    }

    /// A new f64 array holding `values`.
    pub fn new_f64_array(&mut self, values: &[f64]) -> Result<Ref, ObjectError> {
        let obj = self.alloc(ElemKind::F64, values.len())?;
        for (i, &v) in values.iter().enumerate() {
            // SAFETY: a fresh f64 array of this length.
            unsafe {
                *heap::element_ptr(obj, ElemKind::F64, i as i64).unwrap_unchecked() = v.to_bits()
            };
        }
        Ok(self.handle(obj))
    }

    /// A new reference array holding `values` (each checked).
    pub fn new_ref_array(&mut self, values: &[Ref]) -> Result<Ref, ObjectError> {
        let objs = values
            .iter()
            .map(|&r| self.resolve(r))
            .collect::<Result<Vec<u64>, _>>()?;
        // The elements stay reachable through their handles meanwhile.
        let obj = self.alloc(ElemKind::Ref, objs.len())?;
        for (i, &v) in objs.iter().enumerate() {
            // SAFETY: a fresh reference array of this length.
            unsafe { *heap::element_ptr(obj, ElemKind::Ref, i as i64).unwrap_unchecked() = v };
        }
        Ok(self.handle(obj))
    }

    /// A new byte array holding `bytes`.
    pub fn new_bytes(&mut self, bytes: &[u8]) -> Result<Ref, ObjectError> {
        let obj = self.alloc(ElemKind::Bytes, bytes.len())?;
        // SAFETY: a fresh byte array of this length.
        unsafe {
            let data = (obj as usize + ARRAY_DATA_OFFSET) as *mut u8;
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), data, bytes.len());
        }
        Ok(self.handle(obj))
    }

    /// A new byte array holding the UTF-8 bytes of `text` (what the
    /// program's byte ops and `printb` work on).
    pub fn new_string(&mut self, text: &str) -> Result<Ref, ObjectError> {
        self.new_bytes(text.as_bytes())
    }

    /// The bytes of byte array or string `r`, borrowed while `self` is.
    pub fn bytes(&self, r: Ref) -> Result<&[u8], ObjectError> {
        let obj = self.object(r)?;
        // SAFETY: a live object; `bytes_of` checks its kind. The borrow of
        // `self` keeps the heap from changing while the slice lives.
        unsafe { heap::bytes_of(obj) }.map_err(|_| ObjectError::WrongKind {
            expected: "a byte array or string",
            found: Self::found(obj),
        })
    }

    /// The bytes of byte array or string `r` as text (invalid UTF-8 is
    /// replaced, as `String::from_utf8_lossy` does).
    pub fn string(&self, r: Ref) -> Result<String, ObjectError> {
        Ok(String::from_utf8_lossy(self.bytes(r)?).into_owned())
    }

    /// Element `index` of array `r` (an `i`, `f` or `r` value by its kind;
    /// a byte of a byte array or string is an `i`).
    pub fn get(&mut self, r: Ref, index: i64) -> Result<Value, ObjectError> {
        let obj = self.object(r)?;
        let out_of_bounds = |len| ObjectError::OutOfBounds { index, len };
        let len = self.len(r)?;
        // SAFETY: a live object; the helpers check its kind and the index.
        unsafe {
            match ObjectKind::of_header(Self::header_kind(obj)) {
                Some(ObjectKind::I64Array) => heap::get_i64(obj, index)
                    .map(Value::I)
                    .map_err(|_| out_of_bounds(len)),
                Some(ObjectKind::F64Array) => heap::element_ptr(obj, ElemKind::F64, index)
                    .map(|p| Value::F(f64::from_bits(*p)))
                    .map_err(|_| out_of_bounds(len)),
                Some(ObjectKind::RefArray) => {
                    let e = *heap::element_ptr(obj, ElemKind::Ref, index)
                        .map_err(|_| out_of_bounds(len))?;
                    Ok(Value::R(self.handle(e)))
                }
                Some(ObjectKind::Bytes | ObjectKind::String) => heap::get_byte(obj, index)
                    .map(Value::I)
                    .map_err(|_| out_of_bounds(len)),
                _ => Err(ObjectError::WrongKind {
                    expected: "an array",
                    found: Self::found(obj),
                }),
            }
        }
    }

    /// Store `value` at element `index` of array `r` (the low 8 bits of an
    /// `i` value into a byte array; a string is immutable).
    pub fn set(&mut self, r: Ref, index: i64, value: Value) -> Result<(), ObjectError> {
        let obj = self.object(r)?;
        let len = self.len(r)?;
        let out_of_bounds = ObjectError::OutOfBounds { index, len };
        let want = match ObjectKind::of_header(Self::header_kind(obj)) {
            Some(ObjectKind::I64Array | ObjectKind::Bytes) => Bank::I,
            Some(ObjectKind::F64Array) => Bank::F,
            Some(ObjectKind::RefArray) => Bank::R,
            _ => {
                return Err(ObjectError::WrongKind {
                    expected: "an array",
                    found: Self::found(obj),
                });
            }
        };
        if value.bank() != want {
            return Err(ObjectError::WrongBank {
                want,
                got: value.bank(),
            });
        }
        // SAFETY: a live array of the value's kind; the helpers check the index.
        unsafe {
            match value {
                Value::I(v) if Self::header_kind(obj) == BYTES_KIND => {
                    heap::set_byte(obj, index, v).map_err(|_| out_of_bounds)
                }
                Value::I(v) => heap::set_i64(obj, index, v).map_err(|_| out_of_bounds),
                Value::F(v) => heap::element_ptr(obj, ElemKind::F64, index)
                    .map(|p| *p = v.to_bits())
                    .map_err(|_| out_of_bounds),
                Value::R(e) => {
                    let e = self.resolve(e)?;
                    heap::element_ptr(obj, ElemKind::Ref, index)
                        .map(|p| *p = e)
                        .map_err(|_| out_of_bounds)
                }
            }
        }
    }

    /// The index of the struct type named `name`.
    fn struct_named(&self, name: &str) -> Result<usize, ObjectError> {
        self.module
            .struct_index(name)
            .ok_or_else(|| ObjectError::NoSuchName {
                what: "struct type",
                name: name.into(),
            })
    }

    /// The banks of struct `s`'s slots: its ancestors' fields, then its own.
    fn slot_banks(&self, s: usize) -> Vec<Bank> {
        let mut chain = vec![s];
        while let Some(p) = self.module.structs[*chain.last().unwrap_or(&s)].parent {
            // Parents come first (verified), so the walk ends.
            chain.push(usize::from(p));
        }
        chain
            .iter()
            .rev()
            .flat_map(|&k| self.module.structs[k].fields.iter().map(|f| f.bank))
            .collect()
    }

    /// A new struct of the type named `type_name`, its fields (inherited
    /// ones first, in declaration order) set to `fields`.
    pub fn new_struct(&mut self, type_name: &str, fields: &[Value]) -> Result<Ref, ObjectError> {
        let s = self.struct_named(type_name)?;
        let banks = self.slot_banks(s);
        if banks.len() != fields.len() {
            return Err(ObjectError::FieldCount {
                name: type_name.into(),
                want: banks.len(),
                got: fields.len(),
            });
        }
        let mut bits = Vec::with_capacity(fields.len());
        for (&want, &v) in banks.iter().zip(fields) {
            if v.bank() != want {
                return Err(ObjectError::WrongBank {
                    want,
                    got: v.bank(),
                });
            }
            bits.push(match v {
                Value::R(r) => self.resolve(r)?,
                v => v.to_bits(),
            });
        }
        // The field values stay reachable through their handles meanwhile.
        let obj = self
            .heap
            .alloc_struct(s, &self.roots)
            .map_err(alloc_error)?;
        for (slot, b) in bits.into_iter().enumerate() {
            // SAFETY: a fresh struct with this many slots.
            unsafe { *((obj as usize + struct_slot_offset(slot as u32)) as *mut u64) = b };
        }
        Ok(self.handle(obj))
    }

    /// The struct `r` is, as `(type index, slot and bank of field `name`)`.
    fn struct_field(&self, r: Ref, name: &str) -> Result<(u64, u32, Bank), ObjectError> {
        let obj = self.object(r)?;
        let s = self.struct_of(obj)?;
        let layouts = self.heap.structs();
        let k = self
            .module
            .field_index(s, name)
            .ok_or_else(|| ObjectError::NoSuchName {
                what: "field",
                name: format!("{}.{name}", self.module.structs[s].name),
            })?;
        let f = layouts.field(k);
        Ok((obj, f.slot, f.bank))
    }

    /// The index of the struct type of object `obj`.
    fn struct_of(&self, obj: u64) -> Result<usize, ObjectError> {
        let kind = Self::header_kind(obj);
        let layouts = self.heap.structs();
        (0..layouts.len())
            .find(|&s| layouts.ty(s).kind == kind)
            .ok_or_else(|| ObjectError::WrongKind {
                expected: "a struct",
                found: Self::found(obj),
            })
    }

    /// The name of struct `r`'s type.
    pub fn struct_type(&self, r: Ref) -> Result<&str, ObjectError> {
        let s = self.struct_of(self.object(r)?)?;
        Ok(self.module.structs[s].name.as_str())
    }

    /// Field `name` (own or inherited) of struct `r`.
    pub fn field(&mut self, r: Ref, name: &str) -> Result<Value, ObjectError> {
        let (obj, slot, bank) = self.struct_field(r, name)?;
        // SAFETY: a live struct with this slot.
        let bits = unsafe { *((obj as usize + struct_slot_offset(slot)) as *const u64) };
        Ok(match bank {
            Bank::R => Value::R(self.handle(bits)),
            bank => Value::from_register_bits(bank, bits),
        })
    }

    /// Set field `name` (own or inherited) of struct `r` to `value`.
    pub fn set_field(&mut self, r: Ref, name: &str, value: Value) -> Result<(), ObjectError> {
        let (obj, slot, bank) = self.struct_field(r, name)?;
        if value.bank() != bank {
            return Err(ObjectError::WrongBank {
                want: bank,
                got: value.bank(),
            });
        }
        let bits = match value {
            Value::R(e) => self.resolve(e)?,
            v => v.to_bits(),
        };
        // SAFETY: a live struct with this slot.
        unsafe { *((obj as usize + struct_slot_offset(slot)) as *mut u64) = bits };
        Ok(())
    }

    /// A new host object owning `value`, dropped when the collector frees
    /// it (or the instance goes away).
    pub fn new_host_object<T: Any + Send>(&mut self, value: T) -> Result<Ref, ObjectError> {
        self.new_host_payload(HostPayload {
            value: Box::new(value),
            finalizer: None,
        })
    }

    /// A new host object owning `value`; when the collector frees it (or
    /// the instance goes away), `finalizer` gets the value. A panic in the
    /// finalizer is caught and ignored.
    pub fn new_host_object_with_finalizer<T: Any + Send>(
        &mut self,
        value: T,
        finalizer: impl FnOnce(T) + Send + 'static,
    ) -> Result<Ref, ObjectError> {
        self.new_host_payload(HostPayload {
            value: Box::new(value),
            finalizer: Some(Box::new(move |v: Box<dyn Any + Send>| {
                if let Ok(v) = v.downcast::<T>() {
                    finalizer(*v)
                }
            })),
        })
    }

    fn new_host_payload(&mut self, payload: HostPayload) -> Result<Ref, ObjectError> {
        let obj = self
            .heap
            .alloc_host(payload, &self.roots)
            .map_err(alloc_error)?;
        Ok(self.handle(obj))
    }

    /// The value of host object `r`, if it is a `T`.
    pub fn host_object<T: Any>(&mut self, r: Ref) -> Result<&mut T, ObjectError> {
        let obj = self.object(r)?;
        let wrong = || ObjectError::WrongKind {
            expected: std::any::type_name::<T>(),
            found: Self::found(obj),
        };
        if Self::header_kind(obj) != HOST_OBJECT_KIND {
            return Err(wrong());
        }
        // SAFETY: a live host object owns its payload; the borrow of `self`
        // keeps the heap (and so the object) from changing meanwhile.
        let payload = unsafe { &mut *(*(obj as *mut HostObject)).payload };
        payload.value.downcast_mut::<T>().ok_or_else(wrong)
    }

    /// Release handle `r`: it no longer keeps its object alive, and using
    /// it again is an error.
    pub fn release(&mut self, r: Ref) -> Result<(), ObjectError> {
        Ok(self.heap.handles.release(r)?)
    }

    /// Keep `r`, made during a host call, past the call's end: it then
    /// lives until released (a host object may hold such handles).
    pub fn persist(&mut self, r: Ref) -> Result<(), ObjectError> {
        Ok(self.heap.handles.persist(r)?)
    }

    /// Whether `a` and `b` name the same object (null equals null).
    pub fn same(&self, a: Ref, b: Ref) -> Result<bool, ObjectError> {
        Ok(self.resolve(a)? == self.resolve(b)?)
    }

    /// Live handles of this instance.
    pub fn live_handles(&self) -> usize {
        self.heap.handles.live()
    }
}
