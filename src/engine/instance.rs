//! An instance: a module with its own register stacks, heap, host
//! functions and compiled code; calls into it, tier control and statistics.

use super::{InterruptHandle, Linker, Module, Params, Results, Tier, TypedFunc};
use crate::bytecode::{Bank, Signature};
use crate::error::{Error, Result};
use crate::interp;
use crate::runtime::Store;
use crate::runtime::context::FuncTier;
use crate::runtime::heap::{Heap, StringTable};
use crate::runtime::host::HostFunc;
use crate::runtime::objects::Objects;
use crate::runtime::stacks::RegisterStacks;
use crate::runtime::trap::{Trap, TrapKind};
use crate::runtime::value::Value;
use crate::tiering::JitRuntime;
use crate::tiering::TierStats;
use std::fmt;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What is known of one function of an instance (see
/// [`Instance::function_stats`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FunctionStats {
    /// Its name.
    pub name: String,
    /// The tier it runs in now (`None`: not compiled yet).
    pub tier: Option<Tier>,
    /// Calls counted by its template code (under `auto` only), in every
    /// instance of the module.
    pub template_calls: Option<u64>,
    /// Template compile time and machine-code bytes.
    pub template: Option<(std::time::Duration, usize)>,
    /// Cranelift compile time and machine-code bytes (latest version).
    pub cranelift: Option<(std::time::Duration, usize)>,
    /// When its Cranelift version was installed, since the module was
    /// loaded.
    pub tiered_up_at: Option<std::time::Duration>,
    /// Cranelift compile time and machine-code bytes of its versions entered
    /// at a loop header (on-stack replacement), summed.
    pub osr_compiles: Option<(std::time::Duration, usize)>,
    /// Times a running template activation continued in Cranelift code at a
    /// loop header, in every instance of the module.
    pub osr_entries: u64,
    /// Of those, this instance's.
    pub instance_osr_entries: u64,
    /// Why the Cranelift tier did not take it, if it did not: over the
    /// compile budget, the engine's code memory at its cap, or an error.
    /// The function keeps running in the template tier.
    pub cranelift_refusal: Option<String>,
}

/// What [`Instance::heap_stats`] reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeapStats {
    /// Bytes held now (live data and garbage not yet collected).
    pub bytes: usize,
    /// The most bytes ever held.
    pub peak_bytes: usize,
    /// The most live bytes a collection found.
    pub max_live_bytes: usize,
    /// Objects held now.
    pub objects: usize,
    /// Collections run so far.
    pub collections: u64,
}

/// A module with its own register stacks, heap and host functions.
/// A trap ends the call that raised it; the instance stays usable.
pub struct Instance {
    pub(super) module: Module,
    pub(super) store: Store,
    /// The compiled tiers' state, unless the interpreter runs this instance.
    pub(super) jit: Option<JitRuntime>,
}

impl fmt::Debug for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instance")
            .field("module", &self.module)
            .finish()
    }
}

impl Instance {
    /// Instantiate a module that imports nothing (use [`Linker`] otherwise).
    pub fn new(module: &Module) -> Result<Instance> {
        Linker::new().instantiate(module)
    }

    pub(super) fn with_hosts(module: &Module, hosts: Vec<HostFunc>) -> Result<Instance> {
        let config = module.engine().config();
        let store = Store {
            stacks: RegisterStacks::new(config.stack_slots)?,
            heap: Heap::with_structs(config.heap_limit, module.inner.structs.clone()),
            out: Box::new(std::io::stdout()),
            hosts,
            max_call_depth: config.max_call_depth,
            interrupt: Arc::new(AtomicBool::new(false)),
            count_ops: config.count_ops,
            executed_ops: 0,
            func_refs: Store::func_ref_table(&module.inner.layouts),
            globals: module.bytecode().global_inits().map(Vec::into_boxed_slice),
            strings: StringTable::new(&module.bytecode().strings),
        };
        // Code is the module's: making an instance compiles nothing.
        let jit = module.inner.jit.clone().map(JitRuntime::new);
        Ok(Instance {
            module: module.clone(),
            store,
            jit,
        })
    }

    /// Send what the program prints to `out` instead of standard output.
    pub fn set_output(&mut self, out: impl Write + Send + 'static) {
        self.store.out = Box::new(out);
    }

    /// A handle to interrupt running calls from another thread.
    pub fn interrupt_handle(&self) -> InterruptHandle {
        InterruptHandle(self.store.interrupt.clone())
    }

    /// The module.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// Ops executed by the interpreter so far (0 unless
    /// [`Config::count_ops`](super::Config::count_ops) is on).
    pub fn executed_ops(&self) -> u64 {
        self.store.executed_ops
    }

    /// What the JIT tiers compiled so far for this instance's module, per
    /// tier: code is shared by every instance of a module, so these are the
    /// module's figures ([`Module::compile_stats`]), except the hook time
    /// and calls, which are this instance's (zero under the interpreter).
    pub fn compile_stats(&self) -> TierStats {
        let Some(rt) = &self.jit else {
            return TierStats::default();
        };
        let mut stats = rt.module_code().stats();
        (stats.hook_time, stats.hook_calls) = rt.hook_figures();
        stats
    }

    /// The tier function `name` runs in now (in every instance of the
    /// module): [`Tier::Interp`] under the interpreter, `None` when it has
    /// not been compiled yet.
    pub fn tier_of(&self, name: &str) -> Result<Option<Tier>> {
        self.module.tier_of(name)
    }

    /// Compile function `name` in `tier` (template or Cranelift) now, so
    /// that its next call (in every instance of the module) runs there,
    /// whatever tier the engine starts functions in. Calls between tiers go through the function table.
    /// Fails under the interpreter.
    pub fn compile_function(&mut self, name: &str, tier: Tier) -> Result<()> {
        let idx = self.func_index(name)?;
        let func_tier = match tier {
            Tier::Template => FuncTier::Template,
            Tier::Cranelift => FuncTier::Cranelift,
            _ => {
                return Err(Error::Call(format!(
                    "functions can be compiled in the template or cranelift tier, not `{tier}`"
                )));
            }
        };
        let Some(rt) = &mut self.jit else {
            return Err(Error::Call(
                "this instance runs the interpreter: it compiles nothing".into(),
            ));
        };
        rt.compile(idx, func_tier).map(|_| ())?;
        Ok(())
    }

    /// Move function `name` to the Cranelift tier now and return once it is
    /// installed: its next call, in every instance of the module, runs there (activations already running
    /// finish where they are; under `auto` a hot loop of one moves through
    /// its own loop-header version). Fails under the interpreter.
    pub fn tier_up(&mut self, name: &str) -> Result<()> {
        let idx = self.func_index(name)?;
        let Some(rt) = &mut self.jit else {
            return Err(Error::Call(
                "this instance runs the interpreter: it compiles nothing".into(),
            ));
        };
        rt.tier_up(idx)?;
        Ok(())
    }

    /// What is known of function `name`: its tier, calls counted in the
    /// template tier, compile times and code sizes per tier, when it tiered
    /// up, and how often a running loop moved to Cranelift.
    pub fn function_stats(&self, name: &str) -> Result<FunctionStats> {
        let idx = self.func_index(name)?;
        Ok(self.function_stats_at(idx))
    }

    /// [`Instance::function_stats`] of every function, in module order.
    pub fn all_function_stats(&self) -> Vec<FunctionStats> {
        (0..self.module.bytecode().functions.len())
            .map(|idx| self.function_stats_at(idx))
            .collect()
    }

    fn function_stats_at(&self, idx: usize) -> FunctionStats {
        let name = self.module.bytecode().functions[idx].name.clone();
        let Some(rt) = &self.jit else {
            return FunctionStats {
                name,
                tier: Some(Tier::Interp),
                ..FunctionStats::default()
            };
        };
        let code = rt.module_code();
        let rec = code.record(idx).unwrap_or_default();
        FunctionStats {
            name,
            tier: self.module.tier_at(idx),
            template_calls: code.counted_calls(idx),
            template: rec.template,
            cranelift: rec.cranelift,
            tiered_up_at: rec.tiered_up_at,
            osr_compiles: rec.osr_compiles,
            osr_entries: rec.osr_entries,
            instance_osr_entries: rt.osr_entries(idx),
            cranelift_refusal: code.refusal(idx),
        }
    }

    /// Bytes the heap holds now.
    pub fn heap_bytes(&self) -> usize {
        self.store.heap.bytes()
    }

    /// The heap's figures: bytes now and at most, objects, collections.
    pub fn heap_stats(&self) -> HeapStats {
        let heap = &self.store.heap;
        HeapStats {
            bytes: heap.bytes(),
            peak_bytes: heap.peak_bytes(),
            max_live_bytes: heap.max_live_bytes(),
            objects: heap.object_count(),
            collections: heap.collections(),
        }
    }

    /// Access to this instance's objects: make arrays, strings, structs and
    /// host objects to pass to [`Instance::call`], read results. Handles made
    /// here (and reference results of calls) keep their objects alive until
    /// [`Objects::release`]d, or until the [`Instance::scope`] that made them
    /// ends.
    pub fn objects(&mut self) -> Objects<'_> {
        // Outside a call no frame is live: the roots are the reference
        // globals and the handles.
        Objects::new(
            &mut self.store.heap,
            &[],
            &self.store.globals[2],
            self.module.inner.code.as_ref(),
        )
    }

    /// Run `f` and then release every handle made during it (by
    /// [`Instance::objects`], call results, [`Instance::global`]) that it
    /// did not [`persist`](Objects::persist): for embedders that call in a
    /// loop.
    pub fn scope<T>(&mut self, f: impl FnOnce(&mut Instance) -> T) -> T {
        self.store.heap.handles.open_scope();
        let out = f(self);
        self.store.heap.handles.close_scope();
        out
    }

    /// Call function `name`. Missing trailing i64 arguments take the
    /// parameters' declared defaults. A reference result is a handle that
    /// keeps its object alive until released (see [`Instance::objects`]).
    pub fn call(&mut self, name: &str, args: &[Value]) -> Result<Option<Value>> {
        let idx = self.func_index(name)?;
        self.call_index(idx, args)
    }

    /// The value of global `name` now (a reference as a handle that keeps
    /// its object alive until released: see [`Instance::objects`]).
    pub fn global(&mut self, name: &str) -> Result<Value> {
        let (bank, k) = self.global_slot(name)?;
        let bits = self.store.globals[bank.index()][k];
        Ok(match bank {
            Bank::I => Value::I(bits as i64),
            Bank::F => Value::F(f64::from_bits(bits)),
            Bank::R => Value::R(self.store.heap.handles.make(bits)),
        })
    }

    /// Set global `name` to `value`, of the global's bank (a reference must
    /// be a live handle of this instance).
    pub fn set_global(&mut self, name: &str, value: Value) -> Result<()> {
        let (bank, k) = self.global_slot(name)?;
        let bits = match (bank, value) {
            (Bank::I, Value::I(v)) => v as u64,
            (Bank::F, Value::F(v)) => v.to_bits(),
            (Bank::R, Value::R(r)) => self
                .store
                .heap
                .handles
                .get(r)
                .map_err(|e| Error::Call(format!("global `{name}`: {e}")))?,
            (bank, v) => {
                return Err(Error::Call(format!(
                    "global `{name}` is of bank {bank}, the value {v} is not"
                )));
            }
        };
        self.store.globals[bank.index()][k] = bits;
        Ok(())
    }

    /// The bank of global `name` and its index in the bank.
    fn global_slot(&self, name: &str) -> Result<(Bank, usize)> {
        let globals = &self.module.bytecode().globals;
        let g = globals
            .iter()
            .position(|g| g.name == name)
            .ok_or_else(|| Error::Call(format!("no global named `{name}`")))?;
        let bank = globals[g].bank;
        Ok((bank, globals[..g].iter().filter(|x| x.bank == bank).count()))
    }

    /// The index of function `name`.
    pub fn func_index(&self, name: &str) -> Result<usize> {
        self.module.func_index(name)
    }

    /// Call function number `idx`.
    pub fn call_index(&mut self, idx: usize, args: &[Value]) -> Result<Option<Value>> {
        self.enter(idx, args)?;
        let code = self.module.bytecode();
        let layouts = &self.module.inner.layouts;
        let result = match &mut self.jit {
            Some(rt) => rt.run(&mut self.store, idx).map_err(Error::from),
            None => interp::run(code, layouts, &mut self.store, idx).map_err(Error::from),
        };
        self.leave(idx, result)
    }

    /// Call `name` in the interpreter until its own activation jumps back to
    /// loop header `header` for the `nth` time, then continue from that
    /// frame in the Cranelift tier, entered at the header with every
    /// register taken from the frame (on-stack replacement; nothing is
    /// translated). Returns the result and whether the switch happened
    /// (`false` when the call returned first). For tests and experiments;
    /// fails under the interpreter.
    pub fn call_with_osr(
        &mut self,
        name: &str,
        args: &[Value],
        header: u32,
        nth: u64,
    ) -> Result<(Option<Value>, bool)> {
        let idx = self.func_index(name)?;
        if self.jit.is_none() {
            return Err(Error::Call(
                "this instance runs the interpreter: it has no Cranelift tier".into(),
            ));
        }
        let module = self.module.clone();
        let code = module.bytecode();
        if !crate::bytecode::loop_headers(&code.functions[idx].code).contains(&header) {
            return Err(Error::Call(format!(
                "op {header} of `{name}` is not a loop header"
            )));
        }
        self.enter(idx, args)?;
        let layouts = module.layouts();
        let paused =
            interp::run_until_loop_header(code, layouts, &mut self.store, idx, header, nth);
        let (result, switched) = match (paused, &mut self.jit) {
            (Ok(true), Some(rt)) => (
                rt.run_at_loop_header(&mut self.store, idx, header)
                    .map_err(Error::from),
                true,
            ),
            (other, _) => (other.map(|_| ()).map_err(Error::from), false),
        };
        Ok((self.leave(idx, result)?, switched))
    }

    /// Check a call's arguments and put them into the entry frame.
    fn enter(&mut self, idx: usize, args: &[Value]) -> Result<()> {
        let code = self.module.bytecode();
        let func = code
            .functions
            .get(idx)
            .ok_or_else(|| Error::Call(format!("no function with index {idx}")))?;
        let layout = self.module.inner.layouts[idx];
        if args.len() > func.sig.params.len() {
            return Err(Error::Call(format!(
                "`{}` takes {} arguments, got {}",
                func.name,
                func.sig.params.len(),
                args.len()
            )));
        }
        let cap = self.store.stacks.capacity();
        if (0..3).any(|b| layout.regs[b] as usize > cap[b]) {
            return Err(Error::Trap(Trap::at(
                code,
                idx as u32,
                0,
                TrapKind::StackOverflow,
                None,
            )));
        }
        let mut next = [0usize; 3];
        for (j, &bank) in func.sig.params.iter().enumerate() {
            let v = match args.get(j) {
                Some(v) => *v,
                None => match func.param_default(j) {
                    Some(d) => Value::I(d),
                    None => {
                        return Err(Error::Call(format!(
                            "`{}` takes {} arguments, got {} (parameter {j} has no default)",
                            func.name,
                            func.sig.params.len(),
                            args.len()
                        )));
                    }
                },
            };
            if v.bank() != bank {
                return Err(Error::Call(format!(
                    "argument {j} of `{}` must be of bank {bank}, got {v}",
                    func.name
                )));
            }
            let k = next[bank.index()];
            next[bank.index()] += 1;
            match v {
                Value::I(x) => self.store.stacks.i[k] = x,
                Value::F(x) => self.store.stacks.f[k] = x,
                Value::R(r) => {
                    self.store.stacks.r[k] =
                        self.store.heap.handles.get(r).map_err(|e| {
                            Error::Call(format!("argument {j} of `{}`: {e}", func.name))
                        })?
                }
            }
        }
        Ok(())
    }

    /// Flush the output and turn a finished call into its result.
    fn leave(&mut self, idx: usize, result: Result<()>) -> Result<Option<Value>> {
        let func = &self.module.bytecode().functions[idx];
        let _ = self.store.out.flush();
        if let Err(e) = result {
            // The instance stays usable: nothing of the dead call is live.
            self.store.interrupt.store(false, Ordering::Relaxed);
            return Err(e);
        }
        Ok(func.sig.result.map(|b| match b {
            Bank::I => Value::I(self.store.stacks.i[0]),
            Bank::F => Value::F(self.store.stacks.f[0]),
            Bank::R => Value::R(self.store.heap.handles.make(self.store.stacks.r[0])),
        }))
    }

    /// A typed handle to function `name`, checked against `P` and `R`.
    pub fn typed_func<P: Params, R: Results>(&self, name: &str) -> Result<TypedFunc<P, R>> {
        let idx = self.func_index(name)?;
        let sig = &self.module.bytecode().functions[idx].sig;
        if sig.params != P::banks() || sig.result != R::bank() {
            return Err(Error::Call(format!(
                "`{name}` has signature {sig}, not {}",
                Signature::new(P::banks(), R::bank())
            )));
        }
        Ok(TypedFunc {
            idx,
            _marker: std::marker::PhantomData,
        })
    }
}
