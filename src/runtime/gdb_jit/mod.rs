//! The GDB JIT compilation interface: code versions made known to a
//! debugger attached to (or starting) this process.
//!
//! gdb (manual, "JIT Compilation Interface") sets a breakpoint on
//! [`__jit_debug_register_code`] and, when it is hit, reads
//! [`__jit_debug_descriptor`]: a doubly linked list of `jit_code_entry`s,
//! each pointing to an in-memory object file (here an ELF image built by
//! [`elf::build`]), and which entry was just added or is about to go. Both
//! symbols must keep these exact names and layouts; a process holds one
//! list, so every engine of the process shares it under one mutex
//! ([`register`], dropping the [`Registration`]). A process that also links
//! another JIT defining the same symbols (LLVM, say) cannot link twice.
//!
//! Without a debugger the cost is building the image; registering is a few
//! pointer writes and a call of an empty function.

pub mod elf;
pub mod observer;

use std::ptr;
use std::sync::Mutex;

/// `jit_actions_t`: what the debugger is to do with
/// `relevant_entry`.
const JIT_NOACTION: u32 = 0;
const JIT_REGISTER_FN: u32 = 1;
const JIT_UNREGISTER_FN: u32 = 2;

/// `struct jit_code_entry`: one object file in the list.
#[repr(C)]
struct JitCodeEntry {
    next_entry: *mut JitCodeEntry,
    prev_entry: *mut JitCodeEntry,
    symfile_addr: *const u8,
    symfile_size: u64,
}

/// `struct jit_descriptor`: the list's head, as gdb reads it.
#[repr(C)]
pub struct JitDescriptor {
    version: u32,
    action_flag: u32,
    relevant_entry: *mut JitCodeEntry,
    first_entry: *mut JitCodeEntry,
}

/// The list gdb reads (the name is gdb's; version 1 of the interface).
/// Written only with `LIST` held.
#[unsafe(no_mangle)]
#[allow(non_upper_case_globals)]
pub static mut __jit_debug_descriptor: JitDescriptor = JitDescriptor {
    version: 1,
    action_flag: JIT_NOACTION,
    relevant_entry: ptr::null_mut(),
    first_entry: ptr::null_mut(),
};

/// Where gdb breaks to read the list after each change (the name is
/// gdb's). Never inlined, and its body is an opaque instruction so that no
/// call of it is optimised away.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn __jit_debug_register_code() {
    // SAFETY: an empty instruction sequence with no operands.
    unsafe { std::arch::asm!("", options(nostack, preserves_flags)) };
}

/// Serialises every change of [`__jit_debug_descriptor`] and its entries.
static LIST: Mutex<()> = Mutex::new(());

/// An image in the debugger's list; dropping it takes the image out (tell
/// the debugger before the code it describes is freed).
pub struct Registration {
    /// Owned: made by `Box::into_raw` in [`register`], freed on drop.
    entry: *mut JitCodeEntry,
    /// The object file `entry` points to; it must not move while listed.
    _image: Box<[u8]>,
}

// SAFETY: the entry is only read or written with `LIST` held; the image is
// owned and never written.
unsafe impl Send for Registration {}
// SAFETY: as above; a shared `Registration` offers no access at all.
unsafe impl Sync for Registration {}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("image_bytes", &self._image.len())
            .finish()
    }
}

/// Lock the list, whatever a panicking thread left (the list itself is
/// only changed by code that cannot panic).
fn lock_list() -> std::sync::MutexGuard<'static, ()> {
    LIST.lock().unwrap_or_else(|e| e.into_inner())
}

/// Add `image` (an object file, see [`elf::build`]) to the debugger's list
/// and tell the debugger.
pub fn register(image: Box<[u8]>) -> Registration {
    let entry = Box::into_raw(Box::new(JitCodeEntry {
        next_entry: ptr::null_mut(),
        prev_entry: ptr::null_mut(),
        symfile_addr: image.as_ptr(),
        symfile_size: image.len() as u64,
    }));
    let _list = lock_list();
    // SAFETY: the descriptor and every listed entry are only touched with
    // `LIST` held; `entry` is fresh and valid.
    unsafe {
        let d = &raw mut __jit_debug_descriptor;
        let first = (*d).first_entry;
        (*entry).next_entry = first;
        if !first.is_null() {
            (*first).prev_entry = entry;
        }
        (*d).first_entry = entry;
        (*d).relevant_entry = entry;
        (*d).action_flag = JIT_REGISTER_FN;
        __jit_debug_register_code();
        (*d).action_flag = JIT_NOACTION;
        (*d).relevant_entry = ptr::null_mut();
    }
    Registration {
        entry,
        _image: image,
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _list = lock_list();
        // SAFETY: as in `register`; `self.entry` is listed until now.
        unsafe {
            let d = &raw mut __jit_debug_descriptor;
            let e = self.entry;
            let (prev, next) = ((*e).prev_entry, (*e).next_entry);
            if prev.is_null() {
                (*d).first_entry = next;
            } else {
                (*prev).next_entry = next;
            }
            if !next.is_null() {
                (*next).prev_entry = prev;
            }
            (*d).relevant_entry = e;
            (*d).action_flag = JIT_UNREGISTER_FN;
            __jit_debug_register_code();
            (*d).action_flag = JIT_NOACTION;
            (*d).relevant_entry = ptr::null_mut();
            drop(Box::from_raw(e));
        }
    }
}

/// The images listed now, in list order, after checking the links both
/// ways (for tests).
#[cfg(test)]
fn listed_images() -> Vec<(usize, usize)> {
    let _list = lock_list();
    let mut out = Vec::new();
    // SAFETY: as in `register`.
    unsafe {
        let d = &raw const __jit_debug_descriptor;
        assert_eq!((*d).action_flag, JIT_NOACTION);
        assert!((*d).relevant_entry.is_null());
        let mut prev: *mut JitCodeEntry = ptr::null_mut();
        let mut e = (*d).first_entry;
        while !e.is_null() {
            assert_eq!((*e).prev_entry, prev, "a broken back link");
            out.push(((*e).symfile_addr as usize, (*e).symfile_size as usize));
            prev = e;
            e = (*e).next_entry;
        }
    }
    out
}

#[cfg(test)]
mod tests;
