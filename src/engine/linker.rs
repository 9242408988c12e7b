//! Host functions bound by import name.

use super::{Instance, Module};
use crate::bytecode::Signature;
use crate::error::{Error, Result};
use crate::runtime::host::{Caller, HostFunc};
use crate::runtime::value::Value;
use std::sync::{Arc, Mutex};

/// Host functions by import name, to instantiate modules that import them.
#[derive(Default)]
pub struct Linker {
    pub(super) funcs: Vec<(String, Arc<Mutex<HostFunc>>)>,
}

impl Linker {
    /// An empty linker.
    pub fn new() -> Linker {
        Linker::default()
    }

    /// Define host function `name`, which needs nothing of its caller's
    /// objects (see [`Linker::func_with_caller`]). A later definition of the
    /// same name replaces the earlier one.
    pub fn func(
        &mut self,
        name: &str,
        sig: Signature,
        mut f: impl FnMut(&[Value]) -> Result<Option<Value>, String> + Send + 'static,
    ) -> Result<&mut Linker> {
        self.func_with_caller(name, sig, move |_, args| f(args))
    }

    /// Define host function `name`, which gets a [`Caller`] to read, write
    /// and make the program's objects. References cross as handles: the
    /// arguments' and those the function makes are released when it returns
    /// (except the one it returns), so it cannot keep one by accident; see
    /// [`crate::runtime::handles`]. A later definition of the same name
    /// replaces the earlier one.
    ///
    /// A hash map kept in Rust, used from bytecode through a host object:
    /// the program holds the map by reference but cannot read into it, and
    /// the collector drops it (running the finalizer) once nothing refers
    /// to it.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use tierjit::{Bank, Config, Engine, Linker, Module, Signature, Value};
    ///
    /// type Map = HashMap<i64, i64>;
    /// let mut linker = Linker::new();
    /// linker
    ///     .func_with_caller("map_new", Signature::new(vec![], Some(Bank::R)), |caller, _| {
    ///         let map = caller.new_host_object_with_finalizer(Map::new(), |m| {
    ///             eprintln!("a map of {} entries is gone", m.len());
    ///         })?;
    ///         Ok(Some(Value::R(map)))
    ///     })?
    ///     .func_with_caller(
    ///         "map_put",
    ///         Signature::new(vec![Bank::R, Bank::I, Bank::I], None),
    ///         |caller, args| {
    ///             let [Value::R(m), Value::I(k), Value::I(v)] = args else {
    ///                 return Err("bad arguments".into());
    ///             };
    ///             caller.host_object::<Map>(*m)?.insert(*k, *v);
    ///             Ok(None)
    ///         },
    ///     )?
    ///     .func_with_caller(
    ///         "map_get",
    ///         Signature::new(vec![Bank::R, Bank::I], Some(Bank::I)),
    ///         |caller, args| {
    ///             let [Value::R(m), Value::I(k)] = args else {
    ///                 return Err("bad arguments".into());
    ///             };
    ///             let map = caller.host_object::<Map>(*m)?;
    ///             Ok(Some(Value::I(map.get(k).copied().unwrap_or(-1))))
    ///         },
    ///     )?;
    ///
    /// let engine = Engine::new(Config::new())?;
    /// let module = Module::new(&engine, "
    ///     import map_new() -> r
    ///     import map_put(r, i, i) -> none
    ///     import map_get(r, i) -> i
    ///     ; squares(n): put k -> k*k for k < n, then sum the lookups
    ///     func squares(i) -> i
    ///         hcall r1, map_new, 0
    ///         iconst i1, 0
    ///     put:
    ///         jge i1, i0, sum
    ///         mul i2, i1, i1
    ///         hcall -, map_put, 1      ; map_put(r1, i1, i2)
    ///         addi i1, i1, 1
    ///         jmp put
    ///     sum:
    ///         iconst i3, 0
    ///     loop:
    ///         subi i1, i1, 1
    ///         jlti i1, 0, done
    ///         hcall i2, map_get, 1     ; i2 = map_get(r1, i1)
    ///         add i3, i3, i2
    ///         jmp loop
    ///     done:
    ///         reti i3
    ///     end
    /// ")?;
    /// let mut instance = linker.instantiate(&module)?;
    /// assert_eq!(instance.call("squares", &[Value::I(4)])?, Some(Value::I(14)));
    /// # Ok::<(), tierjit::Error>(())
    /// ```
    pub fn func_with_caller(
        &mut self,
        name: &str,
        sig: Signature,
        f: impl FnMut(&mut Caller<'_>, &[Value]) -> Result<Option<Value>, String> + Send + 'static,
    ) -> Result<&mut Linker> {
        self.funcs.retain(|(n, _)| n != name);
        self.funcs
            .push((name.to_owned(), Arc::new(Mutex::new(HostFunc::new(sig, f)))));
        Ok(self)
    }

    /// Instantiate `module`, binding each of its imports by name and
    /// checking its signature.
    pub fn instantiate(&self, module: &Module) -> Result<Instance> {
        let mut hosts = Vec::new();
        for imp in &module.inner.code.imports {
            let Some((_, f)) = self.funcs.iter().find(|(n, _)| *n == imp.name) else {
                return Err(Error::Link(format!("import `{}` is not defined", imp.name)));
            };
            let sig = f.lock().unwrap_or_else(|e| e.into_inner()).sig.clone();
            if sig != imp.sig {
                return Err(Error::Link(format!(
                    "import `{}` has signature {} but the host function has {}",
                    imp.name, imp.sig, sig
                )));
            }
            let shared = f.clone();
            // A panic in the function poisons the lock; the panic itself
            // became that call's trap, so later calls go on.
            hosts.push(HostFunc::new(sig, move |caller, args| {
                let mut h = shared.lock().unwrap_or_else(|e| e.into_inner());
                (h.func)(caller, args)
            }));
        }
        Instance::with_hosts(module, hosts)
    }
}
