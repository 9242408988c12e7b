//! The engine's compiled code: one code memory for every version of every
//! module's functions, under a cap, with eviction of Cranelift versions and
//! freeing of retired code once no call can still be running it.
//!
//! Every store of a code address into a function table (or an OSR table)
//! happens here, under one lock, together with the bookkeeping of which
//! version each address belongs to; so an eviction never undoes a newer
//! install.
//!
//! The cap: a Cranelift version (whole function or loop-header entry) that
//! would take the code in use past the cap first frees retired code, then
//! evicts the oldest Cranelift versions (their functions go back to their
//! template code, their loop headers stay in template code) and is refused
//! when that does not make room: the function keeps running where it is.
//! Template code is never refused (a function must run somewhere): it lives
//! as long as its module, is counted against the cap, and its arrival evicts
//! Cranelift versions too. So the code in use stays under the cap plus the
//! template code of the modules loaded, which is proportional to their size.

use super::epochs::{EpochSlot, Epochs};
use super::events;
use super::module_code::ModuleCode;
use super::pool::CompilerPool;
use crate::cranelift_tier::{self, CraneliftSettings};
use crate::runtime::code_info::{CodeKind, CodeObserver, OpOffset};
use crate::runtime::code_memory::{CodeMemory, CodeRef};
use crate::runtime::compile_error::CompileFailure;
use crate::runtime::unwind::FrameUnwind;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// A compiled version's code and what its compiler tells of it.
#[derive(Clone, Copy, Debug)]
pub(super) struct VersionCode<'a> {
    /// The machine code.
    pub code: &'a [u8],
    /// Where each op's code starts (see [`OpOffset`]).
    pub ops: &'a [OpOffset],
    /// Where the out-of-line stubs start, if known.
    pub stubs_offset: Option<u32>,
    /// How its frames unwind.
    pub unwind: &'a FrameUnwind,
}

/// A version's key: module id, function, kind.
type VersionKey = (u64, usize, CodeKind);

/// One installed version.
#[derive(Debug)]
struct Version {
    module: Weak<ModuleCode>,
    code: CodeRef,
    /// Its place in the eviction order (Cranelift versions only).
    age: u64,
}

/// Engine-wide figures of compiled code (see
/// [`Engine::code_stats`](crate::Engine::code_stats)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CodeStats {
    /// Bytes of executable memory held now: the pages of every live
    /// version and of retired code not yet freed.
    pub bytes_in_use: usize,
    /// The cap on [`CodeStats::bytes_in_use`] for Cranelift versions.
    pub bytes_limit: usize,
    /// The most [`CodeStats::bytes_in_use`] ever held.
    pub peak_bytes: usize,
    /// Template versions installed now.
    pub template_versions: usize,
    /// Cranelift versions installed now (whole functions and loop-header
    /// entries).
    pub cranelift_versions: usize,
    /// Versions out of the tables whose memory waits for the calls that
    /// may still run them to return.
    pub retired_pending: usize,
    /// Cranelift versions evicted to make room.
    pub evictions: u64,
    /// Cranelift versions refused because the cap was reached.
    pub refusals: u64,
    /// Cranelift compiles refused by the compile budget.
    pub over_budget: u64,
    /// Background compiler threads running now.
    pub compiler_threads: usize,
    /// Compiles queued for the compiler threads now.
    pub queued: usize,
    /// Queued compiles dropped because their module's last instance went.
    pub cancelled: u64,
}

/// The engine's code memory and its bookkeeping.
#[derive(Debug)]
struct CodeSpace {
    memory: CodeMemory,
    versions: HashMap<VersionKey, Version>,
    /// Cranelift versions, oldest first: the eviction order.
    by_age: BTreeMap<u64, VersionKey>,
    next_age: u64,
    /// Code out of the tables, with the epoch it left at.
    retired: Vec<(CodeRef, u64)>,
    peak: usize,
    evictions: u64,
    refusals: u64,
}

/// The compiled code of one engine, shared by its modules and instances,
/// and the compiler pool that serves them.
pub struct CodeCache {
    space: Mutex<CodeSpace>,
    /// Retired pieces not yet freed (read without the lock).
    retired_count: AtomicUsize,
    limit: usize,
    epochs: Epochs,
    pool: CompilerPool,
    /// Cranelift compilers not in use, for compiles on the caller's thread.
    idle_compilers: Mutex<Vec<cranelift_tier::Compiler>>,
    settings: CraneliftSettings,
    next_module: AtomicU64,
    over_budget: AtomicU64,
    /// Told of every version published and freed (profilers, debuggers).
    observers: Vec<Arc<dyn CodeObserver>>,
}

impl Drop for CodeCache {
    fn drop(&mut self) {
        // The code memory unmaps everything when dropped with the space.
        if self.observers.is_empty() {
            return;
        }
        let space = self.space.get_mut().unwrap_or_else(|e| e.into_inner());
        let live = space.versions.values().map(|v| v.code);
        let retired = space.retired.iter().map(|&(code, _)| code);
        for code in live.chain(retired) {
            for o in &self.observers {
                o.freed(code.ptr as usize, code.len);
            }
        }
    }
}

impl std::fmt::Debug for CodeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeCache")
            .field("stats", &self.stats())
            .finish()
    }
}

/// Lock `m`, whatever a panicking thread left.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Rounded up to whole 4 KiB pages: what publishing `len` bytes takes at
/// least (each publish starts on a fresh page).
fn pages(len: usize) -> usize {
    len.next_multiple_of(4096)
}

impl CodeCache {
    /// An empty cache: at most `limit` bytes of executable memory for
    /// Cranelift versions, at most `threads` background compiler threads
    /// (started when first needed), Cranelift compiling with `settings`;
    /// `observers` are told of every version published and freed.
    pub fn new(
        limit: usize,
        threads: usize,
        settings: CraneliftSettings,
        observers: Vec<Arc<dyn CodeObserver>>,
    ) -> Arc<CodeCache> {
        Arc::new(CodeCache {
            space: Mutex::new(CodeSpace {
                memory: CodeMemory::new(),
                versions: HashMap::new(),
                by_age: BTreeMap::new(),
                next_age: 0,
                retired: Vec::new(),
                peak: 0,
                evictions: 0,
                refusals: 0,
            }),
            retired_count: AtomicUsize::new(0),
            limit,
            epochs: Epochs::default(),
            pool: CompilerPool::new(threads.max(1), settings),
            idle_compilers: Mutex::new(Vec::new()),
            settings,
            next_module: AtomicU64::new(1),
            over_budget: AtomicU64::new(0),
            observers,
        })
    }

    /// The figures now.
    pub fn stats(&self) -> CodeStats {
        let space = lock(&self.space);
        let cranelift = space.by_age.len();
        let pool = self.pool.stats();
        CodeStats {
            bytes_in_use: space.memory.bytes_resident(),
            bytes_limit: self.limit,
            peak_bytes: space.peak,
            template_versions: space.versions.len() - cranelift,
            cranelift_versions: cranelift,
            retired_pending: space.retired.len(),
            evictions: space.evictions,
            refusals: space.refusals,
            over_budget: self.over_budget.load(Ordering::Relaxed),
            compiler_threads: pool.threads,
            queued: pool.queued,
            cancelled: pool.cancelled,
        }
    }

    /// The Cranelift settings every compile of this engine uses.
    pub fn settings(&self) -> CraneliftSettings {
        self.settings
    }

    /// The compiler pool.
    pub(super) fn pool(&self) -> &CompilerPool {
        &self.pool
    }

    /// A fresh module id.
    pub(super) fn module_id(&self) -> u64 {
        self.next_module.fetch_add(1, Ordering::Relaxed)
    }

    /// An instance's epoch slot.
    pub(super) fn epoch_slot(&self) -> EpochSlot {
        self.epochs.register()
    }

    /// The epochs of calls into compiled code.
    pub(super) fn epochs(&self) -> &Epochs {
        &self.epochs
    }

    /// Note a compile refused by the budget.
    pub(super) fn note_over_budget(&self) {
        self.over_budget.fetch_add(1, Ordering::Relaxed);
    }

    /// Run `f` with a Cranelift compiler of this engine (one not in use, or
    /// a new one).
    pub(super) fn with_compiler<T>(
        &self,
        f: impl FnOnce(&mut cranelift_tier::Compiler) -> Result<T, CompileFailure>,
    ) -> Result<T, CompileFailure> {
        let idle = lock(&self.idle_compilers).pop();
        let mut compiler = match idle {
            Some(c) => c,
            None => cranelift_tier::Compiler::new(self.settings)?,
        };
        let out = f(&mut compiler);
        lock(&self.idle_compilers).push(compiler);
        out
    }

    /// Publish `version` as version `kind` of function `func` of `module`
    /// and make it the one that runs: `install` gets its address and
    /// stores it into the module's tables (under this cache's lock). The
    /// version it replaces is retired. A Cranelift version that does not
    /// fit under the cap is refused (see the module documentation). The
    /// observers are told of it once it is in the tables.
    pub(super) fn install(
        &self,
        module: &ModuleCode,
        func: usize,
        kind: CodeKind,
        version: VersionCode<'_>,
        install: impl FnOnce(usize),
    ) -> Result<usize, CompileFailure> {
        let code = version.code;
        // Dropped after the lock: see `evict_locked`.
        let mut evicted_from = Vec::new();
        let mut space = lock(&self.space);
        self.reclaim_locked(&mut space);
        let key = (module.id(), func, kind);
        if kind != CodeKind::Template {
            let need = pages(code.len());
            while space.memory.bytes_resident() + need > self.limit {
                if !self.evict_oldest(&mut space, key, &mut evicted_from) {
                    space.refusals += 1;
                    return Err(CompileFailure::CodeCap(format!(
                        "the engine's code memory is full ({} bytes in use, {} more needed, cap {})",
                        space.memory.bytes_resident(),
                        need,
                        self.limit
                    )));
                }
            }
        }
        let published = space
            .memory
            .publish(code)
            .map_err(|e| CompileFailure::CodeMemory(e.to_string()))?;
        let addr = published.ptr as usize;
        install(addr);
        if !self.observers.is_empty() {
            let v = module.code_version(func, kind, published, version);
            for o in &self.observers {
                o.published(&v);
            }
        }
        events::installed(module, func, kind, addr);
        let age = if kind == CodeKind::Template {
            0
        } else {
            space.next_age += 1;
            let age = space.next_age;
            space.by_age.insert(age, key);
            age
        };
        let installed = Version {
            module: module.weak(),
            code: published,
            age,
        };
        if let Some(old) = space.versions.insert(key, installed) {
            space.by_age.remove(&old.age);
            self.retire_locked(&mut space, old.code);
        }
        if kind == CodeKind::Template {
            // Template code is never refused; it pushes Cranelift code out.
            while space.memory.bytes_resident() > self.limit
                && self.evict_oldest(&mut space, key, &mut evicted_from)
            {}
        }
        let in_use = space.memory.bytes_resident();
        space.peak = space.peak.max(in_use);
        Ok(addr)
    }

    /// Evict the oldest Cranelift version other than `keep`; false when
    /// there is none.
    fn evict_oldest(
        &self,
        space: &mut CodeSpace,
        keep: VersionKey,
        evicted_from: &mut Vec<Arc<ModuleCode>>,
    ) -> bool {
        let Some(key) = space.by_age.values().copied().find(|&k| k != keep) else {
            return false;
        };
        self.evict_locked(space, key, evicted_from);
        true
    }

    /// Take version `key` out of its module's tables and retire its code.
    /// The module is pushed on `evicted_from`, for the caller to drop after
    /// releasing the lock: dropping a module's last handle frees its code,
    /// which takes the lock.
    fn evict_locked(
        &self,
        space: &mut CodeSpace,
        key: VersionKey,
        evicted_from: &mut Vec<Arc<ModuleCode>>,
    ) {
        let Some(version) = space.versions.remove(&key) else {
            return;
        };
        space.by_age.remove(&version.age);
        let (module_id, func, kind) = key;
        let template = space
            .versions
            .get(&(module_id, func, CodeKind::Template))
            .map(|v| v.code.ptr as usize);
        // A module being dropped frees its code itself; the retired code
        // waits for running calls either way.
        if let Some(m) = version.module.upgrade() {
            events::evicted(&m, func, kind);
            m.restore(func, kind, template);
            evicted_from.push(m);
        }
        space.evictions += 1;
        self.retire_locked(space, version.code);
        self.reclaim_locked(space);
    }

    /// Evict every Cranelift version of `module_id` (a test and a tool for
    /// embedders that want to shed code).
    pub(super) fn evict_module(&self, module_id: u64) -> usize {
        let mut evicted_from = Vec::new();
        let mut space = lock(&self.space);
        let keys: Vec<VersionKey> = space
            .by_age
            .values()
            .copied()
            .filter(|k| k.0 == module_id)
            .collect();
        for &k in &keys {
            self.evict_locked(&mut space, k, &mut evicted_from);
        }
        drop(space);
        keys.len()
    }

    /// Tell the observers `code` is about to be freed.
    fn freed(&self, code: CodeRef) {
        for o in &self.observers {
            o.freed(code.ptr as usize, code.len);
        }
    }

    fn retire_locked(&self, space: &mut CodeSpace, code: CodeRef) {
        let epoch = self.epochs.retire();
        space.retired.push((code, epoch));
        self.retired_count
            .store(space.retired.len(), Ordering::Relaxed);
    }

    /// Free retired code no running call can be in.
    fn reclaim_locked(&self, space: &mut CodeSpace) {
        if space.retired.is_empty() {
            return;
        }
        let oldest = self.epochs.oldest_running();
        let CodeSpace {
            memory, retired, ..
        } = space;
        retired.retain(|&(code, epoch)| {
            if epoch < oldest {
                self.freed(code);
                // An error leaves the pages inaccessible or mapped: never
                // reused either way.
                let _ = memory.release(code);
                false
            } else {
                true
            }
        });
        self.retired_count
            .store(space.retired.len(), Ordering::Relaxed);
    }

    /// A call into compiled code returned: free what waited for it.
    pub(super) fn reclaim(&self) {
        if self.retired_count.load(Ordering::Relaxed) > 0 {
            self.reclaim_locked(&mut lock(&self.space));
        }
    }

    /// Free every version of module `module_id`: no instance of it is
    /// left, so none of its code runs.
    pub(super) fn release_module(&self, module_id: u64) {
        let mut space = lock(&self.space);
        let keys: Vec<VersionKey> = space
            .versions
            .keys()
            .copied()
            .filter(|k| k.0 == module_id)
            .collect();
        for k in keys {
            if let Some(v) = space.versions.remove(&k) {
                space.by_age.remove(&v.age);
                self.freed(v.code);
                let _ = space.memory.release(v.code);
            }
        }
        self.reclaim_locked(&mut space);
    }
}
