//! The three register stacks ("arenas") of an instance.

/// Fixed-capacity register stacks, one per bank. The reference stack is the
/// collector's root set.
pub struct RegisterStacks {
    /// The `i` bank's registers.
    pub i: Box<[i64]>,
    /// The `f` bank's registers.
    pub f: Box<[f64]>,
    /// The `r` bank's registers: array addresses, 0 for null.
    pub r: Box<[u64]>,
}

impl RegisterStacks {
    /// Stacks of `slots` registers per bank, zeroed.
    pub fn new(slots: [usize; 3]) -> RegisterStacks {
        RegisterStacks {
            i: vec![0; slots[0]].into_boxed_slice(),
            f: vec![0.0; slots[1]].into_boxed_slice(),
            r: vec![0; slots[2]].into_boxed_slice(),
        }
    }

    /// Capacity per bank, in slots.
    pub fn capacity(&self) -> [usize; 3] {
        [self.i.len(), self.f.len(), self.r.len()]
    }
}
