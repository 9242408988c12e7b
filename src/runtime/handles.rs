//! Handles: how references cross the host boundary.
//!
//! Neither the embedder nor a host function ever holds an object's address.
//! A [`Ref`] names a slot of its heap's handle table (with the slot's
//! generation and the heap's id); the slot holds the object and is a root of
//! the collector for as long as the handle is live. A handle is checked on
//! every use: one of another instance, one released (its slot's generation
//! moved on) or one made up from nothing fails with [`HandleError`] instead
//! of reaching memory. So a host function cannot forge a reference, keep one
//! past its lifetime unsafely, or see a freed object.
//!
//! Handles are released in two ways: those made while a host function runs
//! (its arguments, what it allocates) when it returns
//! ([`HandleTable::open_scope`] / [`HandleTable::close_scope`]); the others
//! (call results, objects the embedder made) when the embedder releases them
//! or a scope it opened ends.

use super::value::Ref;
use std::sync::atomic::{AtomicU32, Ordering};

/// Why a handle does not name a live object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandleError {
    /// The handle belongs to another instance.
    #[error("the reference belongs to another instance")]
    ForeignInstance,
    /// The handle was released (by the end of the host call or scope that
    /// made it, or explicitly), or never existed.
    #[error("the reference is stale: it was released or never made here")]
    Stale,
}

/// Ids of heaps, so a handle of one instance is refused by another. 0 is
/// never used (it marks [`Ref::NULL`]).
static NEXT_HEAP_ID: AtomicU32 = AtomicU32::new(1);

/// A heap's live handles. `objects` is a root set of the collector (a free
/// slot holds null).
#[derive(Debug)]
pub struct HandleTable {
    heap_id: u32,
    objects: Vec<u64>,
    generations: Vec<u32>,
    free: Vec<u32>,
    /// Slots made inside each open scope, innermost last, to release when
    /// it closes.
    scopes: Vec<Vec<u32>>,
}

impl Default for HandleTable {
    fn default() -> HandleTable {
        HandleTable::new()
    }
}

impl HandleTable {
    /// An empty table with a fresh heap id.
    pub fn new() -> HandleTable {
        HandleTable {
            heap_id: NEXT_HEAP_ID.fetch_add(1, Ordering::Relaxed).max(1),
            objects: Vec::new(),
            generations: Vec::new(),
            free: Vec::new(),
            scopes: Vec::new(),
        }
    }

    /// The objects held, as a root set (null in free slots).
    pub fn roots(&self) -> &[u64] {
        &self.objects
    }

    /// Handles live now.
    pub fn live(&self) -> usize {
        self.objects.len() - self.free.len()
    }

    /// A handle to `object` (null gives [`Ref::NULL`]), released when the
    /// innermost open scope closes, or by [`HandleTable::release`] when none
    /// is open.
    pub fn make(&mut self, object: u64) -> Ref {
        if object == 0 {
            return Ref::NULL;
        }
        let slot = match self.free.pop() {
            Some(s) => {
                self.objects[s as usize] = object;
                s
            }
            None => {
                self.objects.push(object);
                self.generations.push(1);
                (self.objects.len() - 1) as u32
            }
        };
        if let Some(scope) = self.scopes.last_mut() {
            scope.push(slot);
        }
        Ref {
            heap: self.heap_id,
            slot,
            generation: self.generations[slot as usize],
        }
    }

    /// The object `r` names (0 for null).
    pub fn get(&self, r: Ref) -> Result<u64, HandleError> {
        if r.is_null() {
            return Ok(0);
        }
        if r.heap != self.heap_id {
            return Err(HandleError::ForeignInstance);
        }
        let s = r.slot as usize;
        match (self.objects.get(s), self.generations.get(s)) {
            (Some(&obj), Some(&g)) if g == r.generation && obj != 0 => Ok(obj),
            _ => Err(HandleError::Stale),
        }
    }

    /// Release `r`: its object is no longer kept alive by it, and every use
    /// of it fails from now on. Releasing null does nothing.
    pub fn release(&mut self, r: Ref) -> Result<(), HandleError> {
        if r.is_null() {
            return Ok(());
        }
        self.get(r)?;
        self.free_slot(r.slot);
        // A scope that recorded the slot would free it a second time.
        for scope in &mut self.scopes {
            scope.retain(|&s| s != r.slot);
        }
        Ok(())
    }

    fn free_slot(&mut self, slot: u32) {
        let s = slot as usize;
        self.objects[s] = 0;
        self.generations[s] = self.generations[s].wrapping_add(1).max(1);
        self.free.push(slot);
    }

    /// Open a scope: handles made until the matching
    /// [`HandleTable::close_scope`] are released by it.
    pub fn open_scope(&mut self) {
        self.scopes.push(Vec::new());
    }

    /// Close the innermost scope, releasing its handles.
    pub fn close_scope(&mut self) {
        if let Some(slots) = self.scopes.pop() {
            for slot in slots {
                self.free_slot(slot);
            }
        }
    }

    /// Keep `r` past the scope that made it: it then lives until released.
    pub fn persist(&mut self, r: Ref) -> Result<(), HandleError> {
        self.get(r)?;
        for scope in &mut self.scopes {
            scope.retain(|&s| s != r.slot);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_checked_on_every_use() {
        let mut t = HandleTable::new();
        let mut other = HandleTable::new();
        let a = t.make(0x1000);
        assert_eq!(t.get(a), Ok(0x1000));
        assert_eq!(other.get(a), Err(HandleError::ForeignInstance));
        assert_eq!(t.make(0), Ref::NULL);
        assert_eq!(t.get(Ref::NULL), Ok(0));
        t.release(a).unwrap();
        assert_eq!(t.get(a), Err(HandleError::Stale));
        assert_eq!(t.release(a), Err(HandleError::Stale));
        // The slot is reused under a new generation: the old handle stays dead.
        let b = t.make(0x2000);
        assert_eq!(b.slot, a.slot);
        assert_eq!(t.get(a), Err(HandleError::Stale));
        assert_eq!(t.get(b), Ok(0x2000));
        assert_eq!(t.roots(), &[0x2000]);
        let forged = Ref {
            heap: b.heap,
            slot: 7,
            generation: 1,
        };
        assert_eq!(t.get(forged), Err(HandleError::Stale));
        let _ = other.make(1);
    }

    #[test]
    fn scopes_release_what_they_made_unless_persisted() {
        let mut t = HandleTable::new();
        let outside = t.make(0x10);
        t.open_scope();
        let inner = t.make(0x20);
        let kept = t.make(0x30);
        t.persist(kept).unwrap();
        t.close_scope();
        assert_eq!(t.get(outside), Ok(0x10));
        assert_eq!(t.get(inner), Err(HandleError::Stale));
        assert_eq!(t.get(kept), Ok(0x30));
        assert_eq!(t.live(), 2);
    }
}
