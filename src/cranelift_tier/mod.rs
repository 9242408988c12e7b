//! The Cranelift tier: re-lowers a function through cranelift-frontend, one
//! Cranelift block per bytecode op and one `Variable` per bytecode register,
//! into code with the same native entry signature as the template tier.
//!
//! Each compilation batch gets its own `JITModule`; modules are freed when
//! the [`Compiler`] is dropped. Functions are never replaced inside a
//! module: a newer version is installed by storing its address into the
//! function table, which every call goes through.
//!
//! A function can also be compiled for entry at one of its loop headers,
//! with every register taken from the frame (on-stack replacement): a
//! separate version with the same native entry signature, in which the code
//! before the header is unreachable (see [`EntryPoint`]).

mod translate;

use crate::bytecode::Module;
use crate::runtime::call_profile::CallProfiles;
use crate::runtime::code_memory::{sync_instruction_cache, sync_other_cores};
use crate::runtime::compile_error::CompileFailure;
use crate::runtime::float;
use crate::runtime::frame::FrameLayout;
use crate::runtime::helpers::HelperAddrs;
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::FunctionBuilderContext;
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{Linkage, Module as _, default_libcall_names};
use std::sync::{Arc, Mutex};

pub use translate::{CompileBudget, DEFAULT_MAX_OPS, DEFAULT_MAX_TIME, EntryPoint};

/// Whether this build can run Cranelift code.
pub const AVAILABLE: bool = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

/// Cranelift's optimisation level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OptLevel {
    /// No optimisation passes: fastest compile.
    None,
    /// Optimise for speed (the e-graph mid-end, among others).
    Speed,
    /// Optimise for speed and size.
    SpeedAndSize,
}

/// Cranelift's register allocator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegallocAlgorithm {
    /// The backtracking allocator: better code.
    Backtracking,
    /// The single-pass allocator: faster compile, more spills.
    SinglePass,
}

/// The default of [`CraneliftSettings::inline_max_ops`]: enough for
/// accessor-sized helpers, small enough to keep compiles short.
pub const DEFAULT_INLINE_MAX_OPS: u32 = 32;

/// The default of [`CraneliftSettings::inline_max_depth`]: fib (7 ops)
/// under `cranelift` takes 0.48, 0.38 and 0.33 s with 2, 3 and 4 levels,
/// and compiles in 3.2, 5.2 and 10.2 ms (5 levels run out of the budget of
/// 8 x 32 ops).
pub const DEFAULT_INLINE_MAX_DEPTH: u32 = 4;

/// The largest [`CraneliftSettings::inline_max_depth`]; larger settings
/// are clamped to it (the translator recurses once per level).
pub const MAX_INLINE_DEPTH: u32 = 16;

/// Settings of the Cranelift tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CraneliftSettings {
    /// Optimisation level.
    pub opt_level: OptLevel,
    /// Register allocator.
    pub regalloc: RegallocAlgorithm,
    /// Run Cranelift's IR verifier on every function (costly; for tests).
    pub verifier: bool,
    /// Calls to functions of at most this many ops that neither allocate,
    /// nor print, nor call the host are translated in line, up to
    /// `inline_max_depth` levels deep (deeper calls stay calls), up to 8
    /// times this many ops per function in all; 0 inlines nothing.
    pub inline_max_ops: u32,
    /// Inlined callees nest at most this deep (a callee's calls are
    /// inlined too, up to this depth; at most [`MAX_INLINE_DEPTH`]); 0
    /// inlines nothing.
    pub inline_max_depth: u32,
    /// How large and slow one function's compile may be; beyond, it fails
    /// with [`CompileFailure::OverBudget`].
    pub budget: CompileBudget,
}

impl Default for CraneliftSettings {
    /// `speed` and the backtracking allocator (Cranelift's own defaults for
    /// generated code), inlining as the constants above say; the verifier
    /// only in debug builds.
    fn default() -> CraneliftSettings {
        CraneliftSettings {
            opt_level: OptLevel::Speed,
            regalloc: RegallocAlgorithm::Backtracking,
            verifier: cfg!(debug_assertions),
            inline_max_ops: DEFAULT_INLINE_MAX_OPS,
            inline_max_depth: DEFAULT_INLINE_MAX_DEPTH,
            budget: CompileBudget::default(),
        }
    }
}

/// One compiled function of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compiled {
    /// The function's index in the module.
    pub func: usize,
    /// Its native entry address.
    pub addr: usize,
    /// Machine-code bytes.
    pub code_bytes: usize,
}

/// Compiles batches of functions; owns every `JITModule` it made.
pub struct Compiler {
    isa: OwnedTargetIsa,
    inline_max_ops: u32,
    inline_max_depth: u32,
    budget: CompileBudget,
    ctx: cranelift_codegen::Context,
    builder_ctx: FunctionBuilderContext,
    modules: Vec<JITModule>,
    /// What indirect call sites have called, when template code recorded
    /// it: a site with one callee calls it behind a guard.
    profiles: Option<Arc<CallProfiles>>,
}

// SAFETY: the modules hold raw pointers to their own code memory only; the
// compiler is used by one thread at a time (it is not `Sync`).
unsafe impl Send for Compiler {}

impl Compiler {
    /// A compiler for the host machine.
    pub fn new(settings: CraneliftSettings) -> Result<Compiler, CompileFailure> {
        Ok(Compiler {
            isa: host_isa(settings)?,
            inline_max_ops: settings.inline_max_ops,
            inline_max_depth: settings.inline_max_depth.min(MAX_INLINE_DEPTH),
            budget: settings.budget,
            ctx: cranelift_codegen::Context::new(),
            builder_ctx: FunctionBuilderContext::new(),
            modules: Vec::new(),
            profiles: None,
        })
    }

    /// Read indirect call sites' callees from `profiles` in later compiles.
    pub fn set_call_profiles(&mut self, profiles: Arc<CallProfiles>) {
        self.profiles = Some(profiles);
    }
    /// Compile `funcs` of a verified `module` as one batch (one
    /// `JITModule`), each with its entry point.
    pub fn compile(
        &mut self,
        module: &Module,
        layouts: &[FrameLayout],
        helpers: &HelperAddrs,
        funcs: &[(usize, EntryPoint)],
    ) -> Result<Vec<Compiled>, CompileFailure> {
        let mut jit = JITModule::new(jit_builder(self.isa.clone()));
        let result = self.compile_into(&mut jit, module, layouts, helpers, funcs);
        match result {
            Ok(ids) => {
                if let Err(e) = jit.finalize_definitions() {
                    // SAFETY: nothing of this module was handed out.
                    unsafe { jit.free_memory() };
                    return Err(CompileFailure::Cranelift(format!("finalize: {e}")));
                }
                // Keep the module before anything can fail: its code is
                // freed with the compiler, never while it might run.
                let compiled: Vec<Compiled> = ids
                    .into_iter()
                    .map(|(func, id, code_bytes)| Compiled {
                        func,
                        addr: jit.get_finalized_function(id) as usize,
                        code_bytes,
                    })
                    .collect();
                self.modules.push(jit);
                // cranelift-jit's own cache maintenance does nothing on
                // aarch64 Linux: make the new code visible to instruction
                // fetch on every core ourselves (nothing on x86-64).
                for c in &compiled {
                    sync_instruction_cache(c.addr, c.code_bytes)
                        .map_err(|e| CompileFailure::CodeMemory(e.to_string()))?;
                }
                sync_other_cores().map_err(|e| CompileFailure::CodeMemory(e.to_string()))?;
                Ok(compiled)
            }
            Err(e) => {
                self.ctx.clear();
                // SAFETY: nothing of this module was handed out.
                unsafe { jit.free_memory() };
                Err(e)
            }
        }
    }

    /// Compile one function with one entry point as its own batch.
    pub fn compile_one(
        &mut self,
        module: &Module,
        layouts: &[FrameLayout],
        func: usize,
        entry: EntryPoint,
    ) -> Result<Compiled, CompileFailure> {
        let compiled = self.compile(module, layouts, &HelperAddrs::native(), &[(func, entry)])?;
        compiled
            .first()
            .copied()
            .ok_or_else(|| CompileFailure::Cranelift("the batch compiled nothing".into()))
    }

    fn compile_into(
        &mut self,
        jit: &mut JITModule,
        module: &Module,
        layouts: &[FrameLayout],
        helpers: &HelperAddrs,
        funcs: &[(usize, EntryPoint)],
    ) -> Result<Vec<(usize, cranelift_module::FuncId, usize)>, CompileFailure> {
        let sig = translate::native_entry_signature(&*self.isa);
        let mut ids = Vec::with_capacity(funcs.len());
        for (k, &(func, entry)) in funcs.iter().enumerate() {
            let f = module
                .functions
                .get(func)
                .ok_or(CompileFailure::NoSuchFunction(func))?;
            let id = jit
                .declare_function(&format!("f{func}_{k}"), Linkage::Local, &sig)
                .map_err(|e| CompileFailure::Cranelift(format!("declare `{}`: {e}", f.name)))?;
            let profiles = self.profiles.clone();
            let src = translate::Source {
                module,
                layouts,
                helpers,
                inline_max_ops: self.inline_max_ops,
                inline_max_depth: self.inline_max_depth,
                self_id: (entry == EntryPoint::Start).then_some(id),
                profiles: profiles.as_deref(),
            };
            self.translate(src, func, entry)?;
            jit.define_function(id, &mut self.ctx)
                .map_err(|e| CompileFailure::Cranelift(format!("`{}`: {e:?}", f.name)))?;
            let code_bytes = self
                .ctx
                .compiled_code()
                .map_or(0, |c| c.code_info().total_size as usize);
            jit.clear_context(&mut self.ctx);
            ids.push((func, id, code_bytes));
        }
        Ok(ids)
    }

    /// Translate `func` into the reused context's function, within the
    /// compile budget.
    fn translate(
        &mut self,
        src: translate::Source<'_>,
        func: usize,
        entry: EntryPoint,
    ) -> Result<(), CompileFailure> {
        self.ctx.func.signature = translate::native_entry_signature(&*self.isa);
        let result = translate::translate(
            &mut self.ctx.func,
            &mut self.builder_ctx,
            src,
            func,
            entry,
            self.isa.frontend_config(),
            self.budget,
        );
        if result.is_err() {
            // An abandoned translation leaves both mid-function.
            self.builder_ctx = FunctionBuilderContext::new();
            self.ctx.clear();
        }
        result
    }

    /// Translate `func` for a listing (not linked, fake helper addresses)
    /// into the cleared context.
    fn translate_unlinked(
        &mut self,
        module: &Module,
        layouts: &[FrameLayout],
        func: usize,
        entry: EntryPoint,
    ) -> Result<(), CompileFailure> {
        if func >= module.functions.len() {
            return Err(CompileFailure::NoSuchFunction(func));
        }
        self.ctx.clear();
        let profiles = self.profiles.clone();
        let src = translate::Source {
            module,
            layouts,
            helpers: &HelperAddrs::fake(),
            inline_max_ops: self.inline_max_ops,
            inline_max_depth: self.inline_max_depth,
            // Any id: the listing is not linked.
            self_id: (entry == EntryPoint::Start).then_some(cranelift_module::FuncId::from_u32(0)),
            profiles: profiles.as_deref(),
        };
        self.translate(src, func, entry)
    }

    /// Function `func` as Cranelift IR (`clif`) before optimisation, or
    /// with `machine_code` as the compiled listing; helper addresses are
    /// fake ones, as in the template tier's golden listings.
    pub fn listing(
        &mut self,
        module: &Module,
        layouts: &[FrameLayout],
        func: usize,
        entry: EntryPoint,
        machine_code: bool,
    ) -> Result<String, CompileFailure> {
        self.translate_unlinked(module, layouts, func, entry)?;
        if !machine_code {
            let text = self.ctx.func.display().to_string();
            self.ctx.clear();
            return Ok(text);
        }
        self.ctx.set_disasm(true);
        let result = self
            .ctx
            .compile(&*self.isa, &mut Default::default())
            .map(|c| c.vcode.clone().unwrap_or_default())
            .map_err(|e| CompileFailure::Cranelift(format!("{:?}", e.inner)));
        self.ctx.set_disasm(false);
        self.ctx.clear();
        result
    }

    /// The machine code of function `func` entered at `entry`, as
    /// [`Compiler::compile`] makes it, placed at address 0: helper
    /// addresses are fake ones (as in [`Compiler::listing`]); direct calls
    /// of the function itself (recursion, in [`EntryPoint::Start`] code)
    /// are linked to its start, as in the installed code. Constants
    /// Cranelift pools follow the code.
    pub fn machine_code(
        &mut self,
        module: &Module,
        layouts: &[FrameLayout],
        func: usize,
        entry: EntryPoint,
    ) -> Result<Vec<u8>, CompileFailure> {
        self.translate_unlinked(module, layouts, func, entry)?;
        let result = self
            .ctx
            .compile(&*self.isa, &mut Default::default())
            .map(|c| {
                let mut code = c.code_buffer().to_vec();
                link_self_calls(&mut code, c.buffer.relocs());
                code
            })
            .map_err(|e| CompileFailure::Cranelift(format!("{:?}", e.inner)));
        self.ctx.clear();
        result
    }
}

/// Patch the PC-relative calls of `relocs` to the one function a listing
/// declares, itself, to its start (offset 0), as cranelift-jit links them.
fn link_self_calls(code: &mut [u8], relocs: &[cranelift_codegen::FinalizedMachReloc]) {
    use cranelift_codegen::FinalizedRelocTarget;
    use cranelift_codegen::binemit::Reloc;
    use cranelift_codegen::ir::ExternalName;
    for r in relocs {
        if !matches!(
            r.target,
            FinalizedRelocTarget::ExternalName(ExternalName::User(_))
        ) {
            continue;
        }
        let at = r.offset as usize;
        let Some(field) = code.get_mut(at..at + 4) else {
            continue;
        };
        let word = u32::from_le_bytes([field[0], field[1], field[2], field[3]]);
        let delta = r.addend.wrapping_sub(at as i64);
        let patched = match r.kind {
            Reloc::X86PCRel4 | Reloc::X86CallPCRel4 => delta as i32 as u32,
            // `bl`: the offset in words in the low 26 bits.
            Reloc::Arm64Call => (word & 0xfc00_0000) | ((delta >> 2) as u32 & 0x03ff_ffff),
            _ => continue,
        };
        field.copy_from_slice(&patched.to_le_bytes());
    }
}

/// A builder of the `JITModule` of one batch. Cranelift lowers a few f64
/// operations to calls of C library functions when the CPU lacks the
/// instruction (x86-64: `fma` without FMA3, the roundings without
/// SSE4.1), linked by name; cranelift-jit would look them up with
/// `dlsym`, which does not find them in every process (it panics then).
/// They are bound here to Rust functions of the same semantics instead.
fn jit_builder(isa: OwnedTargetIsa) -> JITBuilder {
    let mut builder = JITBuilder::with_isa(isa, default_libcall_names());
    let libcalls: [(&str, *const u8); 5] = [
        ("fma", libcall_fma as *const u8),
        ("floor", libcall_floor as *const u8),
        ("ceil", libcall_ceil as *const u8),
        ("trunc", libcall_trunc as *const u8),
        ("nearbyint", libcall_nearbyint as *const u8),
    ];
    builder.symbols(libcalls);
    builder
}

/// C's `fma`: `x * y + z` rounded once.
extern "C" fn libcall_fma(x: f64, y: f64, z: f64) -> f64 {
    x.mul_add(y, z)
}

/// C's `floor`, as the interpreter's `ffloor`.
extern "C" fn libcall_floor(x: f64) -> f64 {
    x.floor()
}

/// C's `ceil` (a NaN comes back quieted, as from `roundsd`).
extern "C" fn libcall_ceil(x: f64) -> f64 {
    float::ceil(x)
}

/// C's `trunc`.
extern "C" fn libcall_trunc(x: f64) -> f64 {
    float::trunc(x)
}

/// C's `nearbyint` in the default rounding mode: ties to even.
extern "C" fn libcall_nearbyint(x: f64) -> f64 {
    float::round_ties_even(x)
}

/// The host ISA for `settings`, made once per process: detecting the CPU and
/// building the ISA costs ~60 µs, more than compiling a small function.
fn host_isa(settings: CraneliftSettings) -> Result<OwnedTargetIsa, CompileFailure> {
    static ISAS: Mutex<Vec<(CraneliftSettings, OwnedTargetIsa)>> = Mutex::new(Vec::new());
    let mut isas = ISAS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, isa)) = isas.iter().find(|(s, _)| *s == settings) {
        return Ok(isa.clone());
    }
    if !AVAILABLE {
        return Err(CompileFailure::HostIsa(format!(
            "the Cranelift tier does not support {}",
            target_lexicon::HOST.architecture
        )));
    }
    let isa = cranelift_native::builder()
        .map_err(|e| CompileFailure::HostIsa(e.to_string()))?
        .finish(isa_flags(settings)?)
        .map_err(|e| CompileFailure::HostIsa(e.to_string()))?;
    isas.push((settings, isa.clone()));
    Ok(isa)
}

/// The shared (not ISA-specific) Cranelift flags for `settings`.
fn isa_flags(settings: CraneliftSettings) -> Result<settings::Flags, CompileFailure> {
    let mut flags = settings::builder();
    let opt = match settings.opt_level {
        OptLevel::None => "none",
        OptLevel::Speed => "speed",
        OptLevel::SpeedAndSize => "speed_and_size",
    };
    let regalloc = match settings.regalloc {
        RegallocAlgorithm::Backtracking => "backtracking",
        RegallocAlgorithm::SinglePass => "single_pass",
    };
    let verifier = if settings.verifier { "true" } else { "false" };
    for (name, value) in [
        ("opt_level", opt),
        ("regalloc_algorithm", regalloc),
        ("enable_verifier", verifier),
        // No unwinder walks our frames: helpers never unwind.
        ("unwind_info", "false"),
        // Calls go to absolute addresses; nothing is linked by name.
        ("use_colocated_libcalls", "false"),
        ("is_pic", "false"),
    ] {
        flags
            .set(name, value)
            .map_err(|e| CompileFailure::HostIsa(format!("setting {name}={value}: {e}")))?;
    }
    Ok(settings::Flags::new(flags))
}

impl Drop for Compiler {
    fn drop(&mut self) {
        for jit in self.modules.drain(..) {
            // SAFETY: the compiler is dropped with the runtime that owns the
            // function table; no code of these modules runs any more.
            unsafe { jit.free_memory() };
        }
    }
}

#[cfg(all(test, any(target_arch = "x86_64", target_arch = "aarch64")))]
mod tests {
    use super::*;
    use crate::runtime::wx_watch::{assert_no_wx, lock, maps, while_watching_for_wx};

    fn starts(funcs: &[usize]) -> Vec<(usize, EntryPoint)> {
        funcs.iter().map(|&f| (f, EntryPoint::Start)).collect()
    }

    fn module(n: usize) -> (Module, Vec<FrameLayout>) {
        let mut src = String::new();
        for k in 0..n {
            src += &format!(
                "func f{k}(i) -> i\n  iconst i1, {k}\ntop:\n  add i1, i1, i0\n  subi i0, i0, 1\n  jgti i0, 0, top\n  reti i1\nend\n"
            );
        }
        let m = crate::bytecode::text::parse(&src).expect("parses");
        let layouts = FrameLayout::all(&m);
        (m, layouts)
    }

    #[test]
    fn code_is_never_writable_and_executable() {
        // qemu-user's emulated maps can miss a mapping while another thread
        // maps memory: take the code-memory tests' lock.
        let _g = lock();
        let (m, layouts) = module(40);
        let helpers = HelperAddrs::native();
        while_watching_for_wx(|| {
            let mut compiler = Compiler::new(CraneliftSettings::default()).expect("compiler");
            let mut all = Vec::new();
            for batch in (0..40).collect::<Vec<_>>().chunks(4) {
                all.extend(
                    compiler
                        .compile(&m, &layouts, &helpers, &starts(batch))
                        .expect("compiles"),
                );
                assert_no_wx();
            }
            let maps = maps();
            for c in &all {
                let m = maps
                    .iter()
                    .find(|m| (m.start..m.end).contains(&c.addr))
                    .expect("code is mapped");
                assert!(m.perms.starts_with("r-x"), "code mapping is {}", m.line);
            }
        });
    }

    #[test]
    fn a_batch_shares_one_module_and_every_function_has_code() {
        let (m, layouts) = module(5);
        let mut compiler = Compiler::new(CraneliftSettings::default()).expect("compiler");
        let got = compiler
            .compile(
                &m,
                &layouts,
                &HelperAddrs::native(),
                &[
                    (0, EntryPoint::Start),
                    (2, EntryPoint::LoopHeader(1)),
                    (2, EntryPoint::Start),
                ],
            )
            .expect("compiles");
        assert_eq!(got.iter().map(|c| c.func).collect::<Vec<_>>(), [0, 2, 2]);
        assert!(got.iter().all(|c| c.addr != 0 && c.code_bytes > 0));
        assert_eq!(compiler.modules.len(), 1);
        assert!(
            compiler
                .compile(&m, &layouts, &HelperAddrs::native(), &starts(&[9]))
                .is_err()
        );
        assert_eq!(compiler.modules.len(), 1, "a failed batch keeps no module");
    }

    /// Without FMA3 (or SSE4.1) Cranelift lowers `fma` (and the roundings)
    /// to libcalls of the C library's `fma` (`ceil`, ...), linked by name:
    /// with the host's flags but those features off, they resolve in a
    /// `JITModule` made as `Compiler::compile` makes it, and compute the
    /// same as Rust (the `fma` op's NaN fix-up is in the IR, around it).
    #[test]
    fn fma_and_rounding_libcalls_resolve_without_the_cpu_features() {
        use cranelift_codegen::ir::{AbiParam, InstBuilder, Signature, types::F64};
        let mut isa = cranelift_native::builder().expect("host isa");
        if cfg!(target_arch = "x86_64") {
            for flag in ["has_fma", "has_avx", "has_sse41", "has_sse42", "has_avx2"] {
                isa.set(flag, "false").expect(flag);
            }
        }
        let isa = isa
            .finish(isa_flags(CraneliftSettings::default()).expect("flags"))
            .expect("isa");
        let mut jit = JITModule::new(jit_builder(isa.clone()));
        let mut ctx = jit.make_context();
        let mut sig = Signature::new(isa.default_call_conv());
        sig.params.extend([AbiParam::new(F64); 3]);
        sig.returns.push(AbiParam::new(F64));
        ctx.func.signature = sig.clone();
        let mut fctx = FunctionBuilderContext::new();
        {
            let mut b = cranelift_frontend::FunctionBuilder::new(&mut ctx.func, &mut fctx);
            let block = b.create_block();
            b.append_block_params_for_function_params(block);
            b.switch_to_block(block);
            let [x, y, z] = [0, 1, 2].map(|k| b.block_params(block)[k]);
            // fma(x, y, z) + ceil(z) + trunc(z) + nearest(z)
            let f = b.ins().fma(x, y, z);
            let c = b.ins().ceil(z);
            let t = b.ins().trunc(z);
            let n = b.ins().nearest(z);
            let s = b.ins().fadd(f, c);
            let s = b.ins().fadd(s, t);
            let s = b.ins().fadd(s, n);
            b.ins().return_(&[s]);
            b.seal_all_blocks();
            b.finalize(isa.frontend_config());
        }
        let id = jit
            .declare_function("t", Linkage::Local, &sig)
            .expect("declare");
        jit.define_function(id, &mut ctx).expect("define");
        jit.finalize_definitions().expect("libcalls resolve");
        let code = jit.get_finalized_function(id);
        // SAFETY: compiled for this signature just above.
        let f: extern "C" fn(f64, f64, f64) -> f64 = unsafe { std::mem::transmute(code) };
        for (x, y, z) in [
            (0.1f64, 10.0, -1.0f64),
            (1.5, -2.0, 2.5),
            (1e300, 1e10, -0.5),
        ] {
            let want = x.mul_add(y, z) + z.ceil() + z.trunc() + z.round_ties_even();
            assert_eq!(f(x, y, z).to_bits(), want.to_bits(), "{x} {y} {z}");
        }
        // SAFETY: the function is not used after this.
        unsafe { jit.free_memory() };
    }

    /// The real calls in the IR of function `func` of `src`.
    fn real_calls(src: &str, func: usize, inline_max_ops: u32, inline_max_depth: u32) -> usize {
        let m = crate::bytecode::text::parse(src).expect("parses");
        let layouts: Vec<_> = FrameLayout::all(&m);
        let settings = CraneliftSettings {
            inline_max_ops,
            inline_max_depth,
            ..CraneliftSettings::default()
        };
        let mut compiler = Compiler::new(settings).expect("compiler");
        let clif = compiler
            .listing(&m, &layouts, func, EntryPoint::Start, false)
            .expect("clif");
        // Through the table, or straight to the function itself.
        clif.matches("call_indirect sig0").count() + clif.matches(" = call fn0(").count()
    }

    #[test]
    fn small_callees_are_inlined_to_the_depth_limit() {
        let src = "func leaf(i) -> i\n  addi i0, i0, 1\n  reti i0\nend\n\
                   func mid(i) -> i\n  call i0, leaf, 0\n  reti i0\nend\n\
                   func main(i) -> i\n  call i0, leaf, 0\n  call i0, mid, 0\n  reti i0\nend\n\
                   func fib(i) -> i\n  jlti i0, 2, small\n  subi i1, i0, 1\n  call i1, fib, 1\n\
                     subi i2, i0, 2\n  call i2, fib, 2\n  add i0, i1, i2\n  reti i0\n\
                   small:\n  reti i0\nend\n";
        let ops = DEFAULT_INLINE_MAX_OPS;
        // One level: `leaf` and `mid` inlined, `mid`'s call of `leaf` real.
        assert_eq!(real_calls(src, 2, ops, 1), 1);
        assert_eq!(real_calls(src, 2, ops, 2), 0);
        assert_eq!(
            real_calls(src, 2, 1, 2),
            2,
            "2-op callees are over a limit of 1"
        );
        assert_eq!(real_calls(src, 2, 0, 2), 2);
        assert_eq!(real_calls(src, 2, ops, 0), 2);
        // Recursion unrolls a level per level: 2^(levels + 1) real calls.
        assert_eq!(real_calls(src, 3, ops, 0), 2);
        assert_eq!(real_calls(src, 3, ops, 1), 4);
        assert_eq!(real_calls(src, 3, ops, 2), 8);
        assert_eq!(real_calls(src, 3, ops, 3), 16);
    }

    #[test]
    fn recursive_calls_go_straight_to_the_function_compiled_from_its_start() {
        let src = "func fib(i) -> i\n  jlti i0, 2, small\n  subi i1, i0, 1\n  call i1, fib, 1\n\
                     subi i2, i0, 2\n  call i2, fib, 2\n  add i0, i1, i2\n  reti i0\n\
                   small:\n  reti i0\nend\n\
                   func count(i) -> i\ntop:\n  call i1, fib, 0\n  call i1, count, 1\n\
                     subi i0, i0, 1\n  jgti i0, 0, top\n  reti i0\nend\n";
        let m = crate::bytecode::text::parse(src).expect("parses");
        let layouts: Vec<_> = FrameLayout::all(&m);
        let settings = CraneliftSettings {
            inline_max_depth: 1,
            ..CraneliftSettings::default()
        };
        let mut compiler = Compiler::new(settings).expect("compiler");
        let mut calls = |func, entry| {
            let clif = compiler
                .listing(&m, &layouts, func, entry, false)
                .expect("clif");
            (
                clif.matches(" = call fn0(").count(),
                clif.matches("call_indirect sig0").count(),
            )
        };
        // fib's four real calls (below its inlined ones) are all direct.
        assert_eq!(calls(0, EntryPoint::Start), (4, 0));
        // count inlines fib's calls of fib through the table (fib is not the
        // function compiled), and calls itself directly...
        assert_eq!(calls(1, EntryPoint::Start), (1, 2));
        // ...unless entered at its loop header: that code is not its start.
        assert_eq!(calls(1, EntryPoint::LoopHeader(0)), (0, 3));
    }

    #[test]
    fn inlining_decisions_stay_cheap_for_any_setting() {
        // Ten calls of itself in a loop: deciding whether to inline it 16
        // levels deep looks at a bounded number of ops, not 10^15.
        let src = format!(
            "func f(i) -> i\ntop:\n{}  subi i0, i0, 1\n  jgti i0, 0, top\n  reti i0\nend\n",
            "  call i1, f, 1\n".repeat(10)
        );
        let ops = 14;
        assert_eq!(real_calls(&src, 0, ops, 1_000_000), 10);
        assert_eq!(real_calls(&src, 0, u32::MAX, MAX_INLINE_DEPTH), 10);
    }

    #[test]
    fn a_callee_is_not_inlined_if_its_loop_calls_would_stay_calls() {
        // `rows` calls `leaf` in a loop; `outer` calls `rows` in a loop.
        let src = "func leaf(i) -> i\n  addi i0, i0, 1\n  reti i0\nend\n\
                   func rows(i) -> i\ntop:\n  call i1, leaf, 1\n  subi i0, i0, 1\n\
                     jgti i0, 0, top\n  reti i1\nend\n\
                   func outer(i) -> i\ntop:\n  call i1, rows, 1\n  subi i0, i0, 1\n\
                     jgti i0, 0, top\n  reti i1\nend\n";
        let ops = DEFAULT_INLINE_MAX_OPS;
        // With one level `rows` stays a call, and inlines `leaf` itself.
        assert_eq!(real_calls(src, 2, ops, 1), 1);
        assert_eq!(real_calls(src, 1, ops, 1), 0);
        // With two, both are inlined.
        assert_eq!(real_calls(src, 2, ops, 2), 0);
    }

    #[test]
    fn inlining_stops_at_the_budget() {
        let src = format!(
            "func leaf(i) -> i\n  addi i0, i0, 1\n  reti i0\nend\n\
             func main(i) -> i\n{}  reti i0\nend\n",
            "  call i0, leaf, 0\n".repeat(10)
        );
        let m = crate::bytecode::text::parse(&src).expect("parses");
        let layouts: Vec<_> = FrameLayout::all(&m);
        let settings = CraneliftSettings {
            inline_max_ops: 2,
            ..CraneliftSettings::default()
        };
        let mut compiler = Compiler::new(settings).expect("compiler");
        let clif = compiler
            .listing(&m, &layouts, 1, EntryPoint::Start, false)
            .expect("clif");
        // A budget of 8 * 2 ops: 8 two-op calls inlined, 2 called.
        assert_eq!(clif.matches("call_indirect sig0").count(), 2, "{clif}");
    }

    #[test]
    fn listings_show_ir_and_machine_code() {
        let (m, layouts) = module(1);
        let mut compiler = Compiler::new(CraneliftSettings::default()).expect("compiler");
        let clif = compiler
            .listing(&m, &layouts, 0, EntryPoint::LoopHeader(1), false)
            .expect("clif");
        assert!(
            clif.contains("function u0:0") && clif.contains("brif"),
            "{clif}"
        );
        let asm = compiler
            .listing(&m, &layouts, 0, EntryPoint::Start, true)
            .expect("asm");
        assert!(!asm.is_empty());
        assert!(
            compiler
                .listing(&m, &layouts, 3, EntryPoint::Start, true)
                .is_err()
        );
    }

    #[test]
    fn machine_code_is_what_the_jit_installs() {
        let (m, layouts) = module(2);
        let mut compiler = Compiler::new(CraneliftSettings::default()).expect("compiler");
        for entry in [EntryPoint::Start, EntryPoint::LoopHeader(1)] {
            let code = compiler
                .machine_code(&m, &layouts, 1, entry)
                .expect("compiles");
            // Same size as the version compiled for running (this function
            // calls no helper and relocates nothing)...
            let compiled = compiler
                .compile(&m, &layouts, &HelperAddrs::native(), &[(1, entry)])
                .expect("compiles");
            assert_eq!(code.len(), compiled[0].code_bytes, "{entry:?}");
            // ...and the same bytes.
            // SAFETY: the code is finalized and lives as long as `compiler`.
            let installed =
                unsafe { std::slice::from_raw_parts(compiled[0].addr as *const u8, code.len()) };
            assert_eq!(code, installed, "{entry:?}");
            // Deterministic.
            assert_eq!(
                code,
                compiler
                    .machine_code(&m, &layouts, 1, entry)
                    .expect("again")
            );
        }
        assert!(
            compiler
                .machine_code(&m, &layouts, 2, EntryPoint::Start)
                .is_err()
        );
    }

    #[test]
    fn machine_code_links_calls_of_the_function_itself_to_its_start() {
        // Recursion without inlining: real direct calls of itself.
        let src = "func fib(i) -> i\n  jlti i0, 2, small\n  subi i1, i0, 1\n  call i1, fib, 1\n\
                     subi i2, i0, 2\n  call i2, fib, 2\n  add i0, i1, i2\n  reti i0\n\
                   small:\n  reti i0\nend\n";
        let m = crate::bytecode::text::parse(src).expect("parses");
        let layouts: Vec<_> = FrameLayout::all(&m);
        let settings = CraneliftSettings {
            inline_max_depth: 0,
            ..CraneliftSettings::default()
        };
        let mut compiler = Compiler::new(settings).expect("compiler");
        let code = compiler
            .machine_code(&m, &layouts, 0, EntryPoint::Start)
            .expect("compiles");
        // PC-relative calls of itself read the same wherever the code is:
        // the installed version, linked by cranelift-jit, has the same
        // bytes (it calls no helper, so no address differs).
        let compiled = compiler
            .compile(&m, &layouts, &HelperAddrs::native(), &starts(&[0]))
            .expect("compiles");
        assert_eq!(code.len(), compiled[0].code_bytes);
        // SAFETY: the code is finalized and lives as long as `compiler`.
        let installed =
            unsafe { std::slice::from_raw_parts(compiled[0].addr as *const u8, code.len()) };
        assert_eq!(code, installed);
    }

    /// Functions as values and tail calls (`fref`, `closure`, `calli`,
    /// `tcall`, `tcalli`), with loops around them and a function that
    /// calls itself in tail position in a loop.
    const FUNCTION_VALUES: &str = "type unary = (i) -> i\n\
        func add_k(i, r) -> i\n  iconst i1, 0\n  geti i2, r0, i1\n  add i0, i0, i2\n  reti i0\nend\n\
        func sum(i, i) -> i\ntop:\n  jeqi i0, 0, out\n  add i1, i1, i0\n  subi i0, i0, 1\n\
          jgti i1, 1000, far\n  tcall sum, 0\nfar:\n  jmp top\nout:\n  reti i1\nend\n\
        func even(i) -> i\n  jeqi i0, 0, yes\n  subi i0, i0, 1\n  tcall odd, 0\nyes:\n  iconst i0, 1\n  reti i0\nend\n\
        func odd(i, r) -> i\n  fref r0, even\n  jeqi i0, 0, no\n  subi i0, i0, 1\n  tcalli unary, r0, 0\n\
        no:\n  iconst i0, 0\n  reti i0\nend\n\
        func main(i) -> i\n  newi r0, i0\n  closure r1, add_k, r0\nloop:\n  mov i10, i0\n\
          calli unary, r1, 10\n  call i11, even, 10\n  call i12, sum, 10\n  subi i0, i0, 1\n\
          jgti i0, 0, loop\n  reti i10\nend\n";

    #[test]
    fn function_values_and_tail_calls_pass_the_verifier_at_every_entry() {
        let m = crate::bytecode::text::parse(FUNCTION_VALUES).expect("parses");
        crate::bytecode::verify::verify(&m).expect("verifies");
        let layouts: Vec<_> = FrameLayout::all(&m);
        let settings = CraneliftSettings {
            verifier: true,
            ..CraneliftSettings::default()
        };
        let mut compiler = Compiler::new(settings).expect("compiler");
        for (f, func) in m.functions.iter().enumerate() {
            let headers = crate::bytecode::loop_headers(&func.code);
            let entries = std::iter::once(EntryPoint::Start)
                .chain(headers.into_iter().map(EntryPoint::LoopHeader));
            for entry in entries {
                compiler
                    .compile(&m, &layouts, &HelperAddrs::native(), &[(f, entry)])
                    .unwrap_or_else(|e| panic!("{} at {entry:?}: {e:?}", func.name));
            }
        }
    }

    #[test]
    fn a_tail_call_of_the_function_itself_is_a_jump_and_others_return_the_status() {
        let m = crate::bytecode::text::parse(FUNCTION_VALUES).expect("parses");
        let layouts: Vec<_> = FrameLayout::all(&m);
        let mut compiler = Compiler::new(CraneliftSettings::default()).expect("compiler");
        let mut clif = |f| {
            compiler
                .listing(&m, &layouts, f, EntryPoint::Start, false)
                .expect("clif")
        };
        let tail_status = format!("iconst.i32 {}", crate::runtime::context::TAIL_CALL_STATUS);
        let sum = clif(1);
        assert!(
            !sum.contains(&tail_status) && !sum.contains("call"),
            "{sum}"
        );
        let (even, odd) = (clif(2), clif(3));
        assert!(even.contains(&tail_status), "{even}");
        assert!(odd.contains(&tail_status), "{odd}");
    }

    #[test]
    fn callees_with_closures_or_indirect_or_tail_calls_are_not_inlined() {
        let callee = |body: &str| {
            format!(
                "type unary = (i) -> i\n\
                 func leaf(i) -> i\n  reti i0\nend\n\
                 func f(i, r) -> i\n{body}\n  reti i0\nend\n\
                 func main(i) -> i\n  call i0, f, 0\n  reti i0\nend\n"
            )
        };
        let ops = DEFAULT_INLINE_MAX_OPS;
        assert_eq!(real_calls(&callee("  fref r0, leaf"), 2, ops, 2), 0);
        for body in [
            "  closure r0, f, r0",
            "  fref r0, leaf\n  calli unary, r0, 0",
            "  tcall leaf, 0",
            "  fref r0, leaf\n  tcalli unary, r0, 0",
        ] {
            assert_eq!(real_calls(&callee(body), 2, ops, 2), 1, "{body}");
        }
    }

    #[test]
    fn globals_are_loaded_once_in_functions_that_neither_call_nor_write_them() {
        // `sum` reads `g` in its loop and writes `h`; `calls` also calls.
        let src = "global i g = 3\nglobal i h\n\
                   func leaf() -> none\n  ret\nend\n\
                   func sum(i) -> i\n  iconst i1, 0\ntop:\n  ggeti i2, g\n  add i1, i1, i2\n  \
                   ggeti i3, h\n  gseti h, i1\n  subi i0, i0, 1\n  jgti i0, 0, top\n  reti i1\nend\n\
                   func calls(i) -> i\n  iconst i1, 0\ntop:\n  ggeti i2, g\n  add i1, i1, i2\n  \
                   call -, leaf, 0\n  subi i0, i0, 1\n  jgti i0, 0, top\n  reti i1\nend\n";
        let m = crate::bytecode::text::parse(src).expect("parses");
        let layouts = FrameLayout::all(&m);
        let mut compiler = Compiler::new(CraneliftSettings::default()).expect("compiler");
        // The flags of the loads of `g` (offset 0) and `h` (offset 8) from
        // the globals' base, itself loaded from the context.
        let mut flags_of_global_loads = |f| {
            let clif = compiler
                .listing(&m, &layouts, f, EntryPoint::Start, false)
                .expect("clif");
            let base_load = format!("v0+{}", crate::runtime::context::offsets::globals(0));
            // Each op loads the base anew.
            let bases: Vec<&str> = clif
                .lines()
                .filter(|l| l.contains("load.i64") && l.trim_end().ends_with(&base_load))
                .filter_map(|l| l.split_whitespace().next())
                .collect();
            let flags = |offset: &str| {
                clif.lines()
                    .filter(|l| {
                        l.contains("= load.i64")
                            && bases
                                .iter()
                                .any(|b| l.trim_end().ends_with(&format!(" {b}{offset}")))
                    })
                    .map(|l| l.contains("readonly can_move"))
                    .collect::<Vec<bool>>()
            };
            (flags(""), flags("+8"))
        };
        // In `sum`, `g`'s load may leave the loop; `h`'s may not (`sum`
        // writes `h`). In `calls`, the callee could write `g`.
        assert_eq!(flags_of_global_loads(1), (vec![true], vec![false]));
        assert_eq!(flags_of_global_loads(2).0, vec![false]);
    }

    #[test]
    fn an_indirect_call_through_a_known_fref_is_a_call_of_its_function() {
        let src = "type unary = (i) -> i\ntype binary = (i, i) -> i\n\
                   func sq(i) -> i\n  mul i0, i0, i0\n  reti i0\nend\n\
                   func known(i) -> i\n  fref r0, sq\n  calli unary, r0, 0\n  reti i0\nend\n\
                   func wrong_type(i) -> i\n  fref r0, sq\n  calli binary, r0, 0\n  reti i0\nend\n\
                   func written_twice(i) -> i\n  fref r0, sq\n  jz i0, on\n  rnull r0\non:\n\
                     calli unary, r0, 0\n  reti i0\nend\n";
        let m = crate::bytecode::text::parse(src).expect("parses");
        let layouts: Vec<_> = FrameLayout::all(&m);
        let mut compiler = Compiler::new(CraneliftSettings::default()).expect("compiler");
        let mismatch = format!(
            "iconst.i32 {}",
            crate::runtime::trap::TrapKind::SignatureMismatch.code()
        );
        let mut checks = |f| {
            let clif = compiler
                .listing(&m, &layouts, f, EntryPoint::Start, false)
                .expect("clif");
            clif.matches(&mismatch).count()
        };
        assert_eq!(checks(1), 0, "no reference checks");
        assert_eq!(checks(2), 2, "kind and type, as the call traps");
        assert_eq!(checks(3), 2, "not known");
    }
}
