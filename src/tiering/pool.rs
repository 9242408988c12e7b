//! The engine's background compilers: at most a configured number of
//! threads, started when first needed, serving every module and instance
//! of the engine from one queue, hottest request first.
//!
//! Threads are never joined: dropping the engine tells them to stop, and a
//! thread in the middle of a compile finishes it (its result still lands,
//! or is freed with its module) and then exits, so no program waits for a
//! compile nobody needs.

use super::code_cache::lock;
use super::module_code::ModuleCode;
use crate::cranelift_tier::{self, CraneliftSettings};
use std::sync::{Arc, Condvar, Mutex, Weak};

/// What a compiler thread is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// The function, entered at its start: installed for every later call.
    Function(usize),
    /// A version of the function entered at this loop header, for the
    /// activations whose loop is hot.
    Loop(usize, u32),
}

/// One queued compile.
struct Job {
    module: Weak<ModuleCode>,
    module_id: u64,
    request: Request,
}

/// The queue and the threads' count, under one lock.
#[derive(Default)]
struct Queue {
    jobs: Vec<Job>,
    threads: usize,
    idle: usize,
    stop: bool,
    cancelled: u64,
}

/// What the threads share.
struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
}

/// The pool's figures.
#[derive(Clone, Copy, Debug, Default)]
pub struct PoolStats {
    /// Threads running.
    pub threads: usize,
    /// Jobs queued.
    pub queued: usize,
    /// Jobs dropped because their module's last instance went.
    pub cancelled: u64,
}

/// The engine's compiler threads and their queue.
pub struct CompilerPool {
    shared: Arc<Shared>,
    max_threads: usize,
    settings: CraneliftSettings,
}

impl CompilerPool {
    /// A pool of at most `max_threads` threads (none started yet).
    pub fn new(max_threads: usize, settings: CraneliftSettings) -> CompilerPool {
        CompilerPool {
            shared: Arc::new(Shared {
                queue: Mutex::new(Queue::default()),
                ready: Condvar::new(),
            }),
            max_threads,
            settings,
        }
    }

    /// The figures now.
    pub fn stats(&self) -> PoolStats {
        let q = lock(&self.shared.queue);
        PoolStats {
            threads: q.threads,
            queued: q.jobs.len(),
            cancelled: q.cancelled,
        }
    }

    /// Queue `request` for `module`; starts a thread when none is idle and
    /// the pool is not full. Never blocks on a compile. False when no
    /// thread can serve it (none could be started).
    pub fn submit(&self, module: &Arc<ModuleCode>, request: Request) -> bool {
        let mut q = lock(&self.shared.queue);
        q.jobs.push(Job {
            module: Arc::downgrade(module),
            module_id: module.id(),
            request,
        });
        if q.idle == 0 && q.threads < self.max_threads {
            let shared = self.shared.clone();
            let settings = self.settings;
            let started = std::thread::Builder::new()
                .name("tierjit-compiler".into())
                .spawn(move || serve(shared, settings));
            if started.is_ok() {
                q.threads += 1;
            } else if q.threads == 0 {
                q.jobs.pop();
                return false;
            }
        }
        drop(q);
        self.shared.ready.notify_one();
        true
    }

    /// Drop the queued jobs of module `module_id` (its last instance went);
    /// each gets `cancel` so its module can clear its pending marks.
    pub fn cancel_module(&self, module_id: u64, mut cancel: impl FnMut(Request)) {
        let mut q = lock(&self.shared.queue);
        let mut dropped = 0;
        q.jobs.retain(|j| {
            let keep = j.module_id != module_id;
            if !keep {
                cancel(j.request);
                dropped += 1;
            }
            keep
        });
        q.cancelled += dropped;
    }
}

impl Drop for CompilerPool {
    fn drop(&mut self) {
        let mut q = lock(&self.shared.queue);
        q.stop = true;
        q.jobs.clear();
        drop(q);
        self.shared.ready.notify_all();
    }
}

/// Take the hottest job: loop-header requests first (an activation is
/// running that loop in template code now), then whole functions by calls
/// counted since they were queued.
/// The modules looked at are kept in `looked_at`, for the caller to drop
/// once it released the queue's lock (dropping the last handle of a module
/// can drop the engine's pool, which takes that lock).
fn take_hottest(jobs: &mut Vec<Job>, looked_at: &mut Vec<Arc<ModuleCode>>) -> Option<Job> {
    let mut heat = |j: &Job| -> u64 {
        match j.request {
            Request::Loop(..) => u64::MAX,
            Request::Function(f) => j.module.upgrade().map_or(0, |m| {
                let calls = m.calls_since_queued(f);
                looked_at.push(m);
                calls
            }),
        }
    };
    let heats: Vec<u64> = jobs.iter().map(&mut heat).collect();
    let best = (0..jobs.len()).max_by_key(|&k| (heats[k], usize::MAX - k))?;
    Some(jobs.remove(best))
}

/// A compiler thread's loop.
fn serve(shared: Arc<Shared>, settings: CraneliftSettings) {
    let Ok(mut compiler) = cranelift_tier::Compiler::new(settings) else {
        // Functions stay in the template tier.
        lock(&shared.queue).threads -= 1;
        return;
    };
    loop {
        let mut looked_at = Vec::new();
        let job = {
            let mut q = lock(&shared.queue);
            loop {
                if q.stop {
                    q.threads -= 1;
                    drop(q);
                    return;
                }
                if let Some(job) = take_hottest(&mut q.jobs, &mut looked_at) {
                    break job;
                }
                q.idle += 1;
                q = shared.ready.wait(q).unwrap_or_else(|e| e.into_inner());
                q.idle -= 1;
            }
        };
        drop(looked_at);
        // A module whose last instance and handle went has nothing to run.
        if let Some(module) = job.module.upgrade() {
            module.compile_request(&mut compiler, job.request);
        }
    }
}
