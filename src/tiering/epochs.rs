//! When retired code may be freed: epochs of the calls into compiled code.
//!
//! Code that leaves the function table (an evicted or replaced version) may
//! still be running: an activation entered it before, or a caller loaded its
//! address just before the table changed. Every such activation belongs to
//! a call from Rust into compiled code that began before the retirement.
//! So each instance publishes, while it runs compiled code, the epoch at
//! which its call began (0 when idle); retiring code advances the epoch,
//! and retired code is freed once every running call began after it.
//!
//! The orderings are all `SeqCst`: an entry stores its epoch before it
//! reads the table, and the retirer changes the table before it advances
//! the epoch and reads the slots, so a call the retirer sees as idle (or as
//! newer) reads the new table.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// The epochs of one engine's calls into compiled code.
#[derive(Debug)]
pub struct Epochs {
    now: AtomicU64,
    slots: Mutex<Slots>,
}

/// The instances' slots, some of dropped instances until pruned.
#[derive(Debug, Default)]
struct Slots {
    all: Vec<Weak<AtomicU64>>,
    /// Prune when `all` reaches this length (amortised: it doubles).
    prune_at: usize,
}

impl Default for Epochs {
    fn default() -> Epochs {
        Epochs {
            now: AtomicU64::new(1),
            slots: Mutex::new(Slots::default()),
        }
    }
}

/// An instance's slot: the epoch its running call began at, 0 when idle.
pub type EpochSlot = Arc<AtomicU64>;

impl Epochs {
    /// A new slot, idle.
    pub fn register(&self) -> EpochSlot {
        let slot = Arc::new(AtomicU64::new(0));
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if slots.all.len() >= slots.prune_at {
            slots.all.retain(|s| s.strong_count() > 0);
            slots.prune_at = (2 * slots.all.len()).max(64);
        }
        slots.all.push(Arc::downgrade(&slot));
        slot
    }

    /// A call into compiled code begins (a slot is one instance's, and an
    /// instance never runs two calls at once).
    pub fn enter(&self, slot: &AtomicU64) {
        slot.store(self.now.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    /// The call returned.
    pub fn leave(&self, slot: &AtomicU64) {
        slot.store(0, Ordering::SeqCst);
    }

    /// Code just left the table: the epoch to retire it at.
    pub fn retire(&self) -> u64 {
        self.now.fetch_add(1, Ordering::SeqCst)
    }

    /// Code retired at `epoch` can be freed once this is above it: the
    /// oldest epoch a running call began at (`u64::MAX` when none runs).
    pub fn oldest_running(&self) -> u64 {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots
            .all
            .iter()
            .filter_map(Weak::upgrade)
            .map(|s| s.load(Ordering::SeqCst))
            .filter(|&e| e != 0)
            .min()
            .unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retired_code_waits_for_calls_that_began_before() {
        let epochs = Epochs::default();
        let (a, b) = (epochs.register(), epochs.register());
        epochs.enter(&a);
        let retired = epochs.retire();
        assert!(epochs.oldest_running() <= retired, "a may still run it");
        epochs.enter(&b);
        epochs.leave(&a);
        assert!(epochs.oldest_running() > retired, "b began after");
        epochs.leave(&b);
        assert_eq!(epochs.oldest_running(), u64::MAX);
        drop(a);
        drop(b);
        let kept: Vec<EpochSlot> = (0..200).map(|_| epochs.register()).collect();
        let len = epochs.slots.lock().unwrap().all.len();
        assert!(len <= 202, "dead slots pruned: {len}");
        drop(kept);
    }
}
