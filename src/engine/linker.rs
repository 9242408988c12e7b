//! Host functions bound by import name.

use super::{Instance, Module};
use crate::bytecode::{Bank, Signature};
use crate::error::{Error, Result};
use crate::runtime::host::HostFunc;
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

    /// Define host function `name`. References may be passed to host
    /// functions but not returned from them. A later definition of the same
    /// name replaces the earlier one.
    pub fn func(
        &mut self,
        name: &str,
        sig: Signature,
        f: impl FnMut(&[Value]) -> Result<Option<Value>, String> + Send + 'static,
    ) -> Result<&mut Linker> {
        if sig.result == Some(Bank::R) {
            return Err(Error::Link(format!(
                "host function `{name}` cannot return a reference"
            )));
        }
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
            let sig = f
                .lock()
                .map_err(|_| Error::Link("host function poisoned".into()))?
                .sig
                .clone();
            if sig != imp.sig {
                return Err(Error::Link(format!(
                    "import `{}` has signature {} but the host function has {}",
                    imp.name, imp.sig, sig
                )));
            }
            let shared = f.clone();
            hosts.push(HostFunc::new(sig, move |args| match shared.lock() {
                Ok(mut h) => (h.func)(args),
                Err(_) => Err("host function poisoned".into()),
            }));
        }
        Instance::with_hosts(module, hosts)
    }
}
