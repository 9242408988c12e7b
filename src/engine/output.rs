//! The handles an embedder keeps on a running instance: stopping it from
//! another thread and capturing what it prints.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// A handle that stops a running call from another thread: the call traps
/// with [`TrapKind::Interrupted`](crate::TrapKind::Interrupted) at its next loop back-edge or call.
#[derive(Clone, Debug)]
pub struct InterruptHandle(pub(super) Arc<AtomicBool>);

impl InterruptHandle {
    /// Ask the running call to stop.
    pub fn interrupt(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A `Write` sink shared with the embedder, to capture what a program prints.
#[derive(Clone, Debug, Default)]
pub struct SharedOutput(pub(super) Arc<Mutex<Vec<u8>>>);

impl SharedOutput {
    /// An empty buffer.
    pub fn new() -> SharedOutput {
        SharedOutput::default()
    }

    /// Take what was written so far.
    pub fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }

    /// Take what was written so far, as (lossy) UTF-8.
    pub fn take_string(&self) -> String {
        String::from_utf8_lossy(&self.take()).into_owned()
    }
}

impl Write for SharedOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.lock() {
            Ok(mut v) => {
                v.extend_from_slice(buf);
                Ok(buf.len())
            }
            Err(_) => Err(std::io::Error::other("output buffer poisoned")),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
