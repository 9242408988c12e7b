//! Test support: reading `/proc/self/maps` and watching it for a page that
//! is writable and executable, for every test that makes code.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Serialises the tests that map code memory or read the maps, so the drop
/// test does not see another of them map memory where its chunks were, and
/// qemu-user's emulated maps do not miss a mapping made meanwhile.
static LOCK: Mutex<()> = Mutex::new(());

pub(crate) fn lock() -> std::sync::MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// One line of `/proc/self/maps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MapLine {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) perms: String,
    pub(crate) line: String,
}

pub(crate) fn maps() -> Vec<MapLine> {
    let text = std::fs::read_to_string("/proc/self/maps").expect("read /proc/self/maps");
    text.lines()
        .map(|line| {
            let mut fields = line.split_whitespace();
            let range = fields.next().expect("address range");
            let perms = fields.next().expect("permissions").to_string();
            let (start, end) = range.split_once('-').expect("start-end");
            MapLine {
                start: usize::from_str_radix(start, 16).expect("start"),
                end: usize::from_str_radix(end, 16).expect("end"),
                perms,
                line: line.to_string(),
            }
        })
        .collect()
}

pub(crate) fn assert_no_wx() {
    for m in maps() {
        let p = m.perms.as_bytes();
        assert!(
            !(p.get(1) == Some(&b'w') && p.get(2) == Some(&b'x')),
            "writable and executable mapping: {}",
            m.line
        );
    }
}

/// Run `work` while a second thread reads `/proc/self/maps` over and
/// over, failing on any mapping that is writable and executable, so a
/// transient W+X state is caught too.
pub(crate) fn while_watching_for_wx(work: impl FnOnce()) {
    /// Stops the watcher however `work` leaves the scope (the scope
    /// waits for the watcher, so a panic must stop it too).
    struct StopOnDrop<'a>(&'a AtomicBool);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Release);
        }
    }
    assert_no_wx();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let stop = StopOnDrop(&done);
        let watcher = s.spawn(|| {
            // At least one read, however soon the work is done.
            loop {
                let last = done.load(Ordering::Acquire);
                assert_no_wx();
                if last {
                    break;
                }
            }
        });
        work();
        drop(stop);
        watcher.join().unwrap();
    });
    assert_no_wx();
}
