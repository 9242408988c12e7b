//! The runtime shared by every engine: traps, the heap, the register stacks.

pub mod trap;
