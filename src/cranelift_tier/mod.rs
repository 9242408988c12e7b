//! The Cranelift tier: re-lowers a function through cranelift-frontend, one
//! Cranelift block per bytecode op and one `Variable` per bytecode register,
//! into code with the same native entry signature as the template tier.
//!
//! A function compiles to position-independent machine code
//! ([`CompiledCode`]), which the caller publishes in a [`CodeMemory`] of
//! its own (which makes it executable and visible to instruction fetch)
//! and can release again there. A newer version is installed by storing
//! its address into the function table, which every call goes through.
//!
//! A function can also be compiled for entry at one of its loop headers,
//! with every register taken from the frame (on-stack replacement): a
//! separate version with the same native entry signature, in which the code
//! before the header is unreachable (see [`EntryPoint`]).

mod translate;

use crate::bytecode::Module;
use crate::runtime::call_profile::CallProfiles;
use crate::runtime::code_info::OpOffset;
use crate::runtime::code_memory::{CodeMemory, CodeRef, FUNCTION_ALIGN};
use crate::runtime::compile_error::CompileFailure;
use crate::runtime::float;
use crate::runtime::frame::FrameLayout;
use crate::runtime::helpers::HelperAddrs;
use crate::runtime::unwind::FrameUnwind;
use cranelift_codegen::ir::{ExternalName, LibCall, SourceLoc};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::isa::unwind::{CfaUnwindInfo, UnwindInfo};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::FunctionBuilderContext;
use gimli::write::Address;
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

/// The machine code of one function for one entry point, linked to run at
/// any address: calls of the function itself are PC-relative to its start,
/// libcalls go to absolute addresses. Constants Cranelift pools follow the
/// code. Publish it in a [`CodeMemory`] to run it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledCode {
    /// The function's index in the module.
    pub func: usize,
    /// Where the code is entered.
    pub entry: EntryPoint,
    /// The machine code, entered at its first byte.
    pub code: Vec<u8>,
    /// Where each op's code starts, sorted by offset; code of no op (the
    /// prologue, shared exits) starts an [`OpOffset::NO_OP`] entry. An op's
    /// code may lie in several places (cold paths, a packed copy of its
    /// loop), each with its entry; an inlined callee's code is its call's.
    pub ops: Vec<OpOffset>,
    /// How its frames unwind: a builder of its FDE for the address it is
    /// published at, from Cranelift's call-frame information.
    pub unwind: FrameUnwind,
}

/// Cranelift's call-frame information as a tier-neutral [`FrameUnwind`].
fn frame_unwind(info: Option<CfaUnwindInfo>) -> FrameUnwind {
    match info {
        Some(info) => FrameUnwind::Fde(Arc::new(move |addr| info.to_fde(Address::Constant(addr)))),
        None => FrameUnwind::None,
    }
}

/// The op offsets of code `len` bytes long from its source locations
/// (`srclocs`: start, end, location; the translation tags each op's code
/// with its index), into `out`.
fn op_offsets(
    srclocs: impl Iterator<Item = (u32, u32, SourceLoc)>,
    len: usize,
    out: &mut Vec<OpOffset>,
) {
    let push = |out: &mut Vec<OpOffset>, code_offset: u32, op: u32| {
        if out.last().is_none_or(|l| l.op != op) {
            out.push(OpOffset { code_offset, op });
        }
    };
    let mut end = 0;
    for (start, region_end, loc) in srclocs {
        if start > end {
            push(out, end, OpOffset::NO_OP);
        }
        let op = if loc.is_default() {
            OpOffset::NO_OP
        } else {
            loc.bits()
        };
        push(out, start, op);
        end = region_end;
    }
    if (end as usize) < len {
        push(out, end, OpOffset::NO_OP);
    }
}

/// One compiled function published in a [`CodeMemory`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compiled {
    /// The function's index in the module.
    pub func: usize,
    /// Its code: the native entry address and the length in bytes.
    pub code: CodeRef,
}

impl Compiled {
    /// The native entry address.
    pub fn addr(&self) -> usize {
        self.code.ptr as usize
    }
}

/// Compiles functions to position-independent machine code, one at a time,
/// reusing its buffers; any module, any call profiles.
pub struct Compiler {
    isa: OwnedTargetIsa,
    inline_max_ops: u32,
    inline_max_depth: u32,
    budget: CompileBudget,
    ctx: cranelift_codegen::Context,
    builder_ctx: FunctionBuilderContext,
}

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
        })
    }

    /// Drop the buffers kept from compile to compile (they keep the
    /// capacity of the largest function compiled so far).
    pub fn release_buffers(&mut self) {
        self.ctx = cranelift_codegen::Context::new();
        self.builder_ctx = FunctionBuilderContext::new();
    }

    /// Compile one function for one entry point; the bytes run at any
    /// address. `profiles` says what indirect call sites have called (a
    /// site with one callee calls it behind a guard).
    pub fn compile_code(
        &mut self,
        module: &Module,
        layouts: &[FrameLayout],
        helpers: &HelperAddrs,
        profiles: Option<&CallProfiles>,
        func: usize,
        entry: EntryPoint,
    ) -> Result<CompiledCode, CompileFailure> {
        let f = module
            .functions
            .get(func)
            .ok_or(CompileFailure::NoSuchFunction(func))?;
        self.ctx.clear();
        let src = translate::Source {
            module,
            layouts,
            helpers,
            inline_max_ops: self.inline_max_ops,
            inline_max_depth: self.inline_max_depth,
            self_id: (entry == EntryPoint::Start).then_some(SELF_NAME_INDEX),
            profiles,
        };
        self.translate(src, func, entry)?;
        let mut ops = Vec::new();
        let result = self
            .ctx
            .compile(&*self.isa, &mut Default::default())
            .map_err(|e| CompileFailure::Cranelift(format!("`{}`: {:?}", f.name, e.inner)))
            .and_then(|c| {
                // Constants in the pool are aligned relative to the start.
                if c.buffer.alignment as usize > FUNCTION_ALIGN {
                    return Err(CompileFailure::Cranelift(format!(
                        "`{}` needs {}-byte alignment",
                        f.name, c.buffer.alignment
                    )));
                }
                let mut code = c.code_buffer().to_vec();
                link(&mut code, c.buffer.relocs(), libcall_address)?;
                let srclocs = c.buffer.get_srclocs_sorted().iter();
                let regions = srclocs.map(|s| (s.start, s.end, s.loc));
                op_offsets(regions, code.len(), &mut ops);
                let unwind = match c.create_unwind_info(&*self.isa) {
                    Ok(Some(UnwindInfo::SystemV(info))) => frame_unwind(Some(info)),
                    Ok(_) => frame_unwind(None),
                    Err(e) => {
                        return Err(CompileFailure::Cranelift(format!(
                            "`{}`: unwind info: {e:?}",
                            f.name
                        )));
                    }
                };
                Ok((code, unwind))
            });
        self.ctx.clear();
        let (code, unwind) = result?;
        Ok(CompiledCode {
            func,
            entry,
            code,
            ops,
            unwind,
        })
    }

    /// [`Compiler::compile_code`], then publish the code alone in `memory`
    /// (which makes it executable and visible to instruction fetch on every
    /// core; [`CodeMemory::release`] frees it).
    #[allow(clippy::too_many_arguments)]
    pub fn compile_into(
        &mut self,
        memory: &mut CodeMemory,
        module: &Module,
        layouts: &[FrameLayout],
        helpers: &HelperAddrs,
        profiles: Option<&CallProfiles>,
        func: usize,
        entry: EntryPoint,
    ) -> Result<Compiled, CompileFailure> {
        let compiled = self.compile_code(module, layouts, helpers, profiles, func, entry)?;
        let code = memory
            .publish(&compiled.code)
            .map_err(|e| CompileFailure::CodeMemory(e.to_string()))?;
        Ok(Compiled { func, code })
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
        let src = translate::Source {
            module,
            layouts,
            helpers: &HelperAddrs::fake(),
            inline_max_ops: self.inline_max_ops,
            inline_max_depth: self.inline_max_depth,
            self_id: (entry == EntryPoint::Start).then_some(SELF_NAME_INDEX),
            profiles: None,
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
            // Without the op indices the translation tags code with (for
            // profilers): the listing shows the IR alone.
            self.ctx.func.stencil.srclocs.clear();
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
    /// [`Compiler::compile_code`] makes it: helper addresses are fake ones
    /// (as in [`Compiler::listing`]) and libcall addresses 0; direct calls
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
            .map_err(|e| CompileFailure::Cranelift(format!("{:?}", e.inner)))
            .and_then(|c| {
                let mut code = c.code_buffer().to_vec();
                link(&mut code, c.buffer.relocs(), |lib| {
                    libcall_address(lib).map(|_| 0)
                })?;
                Ok(code)
            });
        self.ctx.clear();
        result
    }
}

/// The index of the one user-named function compiled code refers to: the
/// function itself (see `translate::Source::self_id`).
const SELF_NAME_INDEX: u32 = 0;

/// Where a relocation points.
#[derive(Clone, Copy)]
enum RelocTarget {
    /// This many bytes from the start of the code.
    InCode(i64),
    /// This absolute address.
    Absolute(u64),
}

/// Resolve `relocs` in `code`, which starts at offset 0 and must run at any
/// address: calls of the function itself (the only user-named function,
/// [`SELF_NAME_INDEX`]) and references into the code PC-relative, libcalls
/// absolute at the address `libcall` gives. Any other kind or target is a
/// failure.
///
/// With the flags of [`isa_flags`] (`is_pic` and `use_colocated_libcalls`
/// off) Cranelift 0.135 emits: for calls of a colocated user-named
/// function `X86CallPCRel4` (x86-64) or `Arm64Call` (aarch64); for
/// libcalls `Abs8`, the address loaded by `movabs` (x86-64) or from a
/// literal (aarch64, which lowers no f64 operation to a libcall). With
/// colocated libcalls x86-64 would call them PC-relative
/// (`X86CallPCRel4`), which code that runs at any address cannot resolve:
/// refused.
fn link(
    code: &mut [u8],
    relocs: &[cranelift_codegen::FinalizedMachReloc],
    libcall: impl Fn(LibCall) -> Option<u64>,
) -> Result<(), CompileFailure> {
    use cranelift_codegen::FinalizedRelocTarget;
    use cranelift_codegen::binemit::Reloc;
    for r in relocs {
        let target = match &r.target {
            FinalizedRelocTarget::ExternalName(ExternalName::User(_)) => RelocTarget::InCode(0),
            FinalizedRelocTarget::Func(offset) => RelocTarget::InCode(i64::from(*offset)),
            FinalizedRelocTarget::ExternalName(ExternalName::LibCall(lib)) => {
                RelocTarget::Absolute(libcall(*lib).ok_or_else(|| {
                    CompileFailure::Cranelift(format!("no function for the libcall {lib}"))
                })?)
            }
            other => {
                return Err(CompileFailure::Cranelift(format!(
                    "cannot link a relocation to {}",
                    other.display(None)
                )));
            }
        };
        let unsupported = || {
            CompileFailure::Cranelift(format!(
                "cannot link a {:?} relocation at {} to {}",
                r.kind,
                r.offset,
                r.target.display(None)
            ))
        };
        let at = r.offset as usize;
        match (r.kind, target) {
            (Reloc::X86PCRel4 | Reloc::X86CallPCRel4, RelocTarget::InCode(to)) => {
                let delta = to.wrapping_add(r.addend).wrapping_sub(at as i64);
                let delta = i32::try_from(delta).map_err(|_| unsupported())?;
                let field = code.get_mut(at..at + 4).ok_or_else(unsupported)?;
                field.copy_from_slice(&delta.to_le_bytes());
            }
            (Reloc::Arm64Call, RelocTarget::InCode(to)) => {
                // `bl`: the offset in words in the low 26 bits.
                let delta = to.wrapping_add(r.addend).wrapping_sub(at as i64);
                if delta % 4 != 0 || !(-(1 << 27)..(1 << 27)).contains(&delta) {
                    return Err(unsupported());
                }
                let field = code.get_mut(at..at + 4).ok_or_else(unsupported)?;
                let word = u32::from_le_bytes([field[0], field[1], field[2], field[3]]);
                let patched = (word & 0xfc00_0000) | ((delta >> 2) as u32 & 0x03ff_ffff);
                field.copy_from_slice(&patched.to_le_bytes());
            }
            (Reloc::Abs8, RelocTarget::Absolute(addr)) => {
                let value = addr.wrapping_add(r.addend as u64);
                let field = code.get_mut(at..at + 8).ok_or_else(unsupported)?;
                field.copy_from_slice(&value.to_le_bytes());
            }
            _ => return Err(unsupported()),
        }
    }
    Ok(())
}

/// The address of the Rust function bound to a libcall, `None` for the
/// libcalls we bind none to. Cranelift lowers a few f64 operations to calls
/// of C library functions when the CPU lacks the instruction (x86-64: `fma`
/// without FMA3, the roundings without SSE4.1); they are bound to Rust
/// functions of the same semantics rather than looked up in a C library
/// the process may not link.
fn libcall_address(lib: LibCall) -> Option<u64> {
    let unary: extern "C" fn(f64) -> f64 = match lib {
        LibCall::FmaF64 => {
            let fma: extern "C" fn(f64, f64, f64) -> f64 = libcall_fma;
            return Some(fma as usize as u64);
        }
        LibCall::FloorF64 => libcall_floor,
        LibCall::CeilF64 => libcall_ceil,
        LibCall::TruncF64 => libcall_trunc,
        LibCall::NearestF64 => libcall_nearbyint,
        _ => return None,
    };
    Some(unary as usize as u64)
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
        // Call-frame information, registered with the system unwinder
        // (`runtime::unwind`) so backtraces and debuggers cross our frames.
        ("unwind_info", "true"),
        // Frame-pointer walks (`perf --call-graph fp`) cross our frames.
        ("preserve_frame_pointers", "true"),
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

#[cfg(all(test, any(target_arch = "x86_64", target_arch = "aarch64")))]
mod tests {
    use super::*;
    use crate::runtime::wx_watch::{assert_no_wx, lock, maps, while_watching_for_wx};

    /// Compile and publish `func` at `entry` in `memory`.
    fn publish(
        compiler: &mut Compiler,
        memory: &mut CodeMemory,
        m: &Module,
        layouts: &[FrameLayout],
        func: usize,
        entry: EntryPoint,
    ) -> Result<Compiled, CompileFailure> {
        compiler.compile_into(
            memory,
            m,
            layouts,
            &HelperAddrs::native(),
            None,
            func,
            entry,
        )
    }

    /// The bytes of published code.
    fn bytes_of(c: &Compiled) -> &[u8] {
        // SAFETY: published code stays mapped and readable while its code
        // memory lives and does not release it (it lives for the test).
        unsafe { std::slice::from_raw_parts(c.code.ptr, c.code.len) }
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
        while_watching_for_wx(|| {
            let mut compiler = Compiler::new(CraneliftSettings::default()).expect("compiler");
            let mut memory = CodeMemory::new();
            let mut all = Vec::new();
            for f in 0..40 {
                for entry in [EntryPoint::Start, EntryPoint::LoopHeader(1)] {
                    all.push(
                        publish(&mut compiler, &mut memory, &m, &layouts, f, entry)
                            .expect("compiles"),
                    );
                }
                assert_no_wx();
            }
            let maps = maps();
            for c in &all {
                let m = maps
                    .iter()
                    .find(|m| (m.start..m.end).contains(&c.addr()))
                    .expect("code is mapped");
                assert!(m.perms.starts_with("r-x"), "code mapping is {}", m.line);
            }
            // Released, the code memory gives everything back.
            for c in all {
                memory.release(c.code).expect("releases");
            }
            assert_eq!((memory.bytes_used(), memory.bytes_resident()), (0, 0));
            assert_no_wx();
        });
    }

    #[test]
    fn compiled_code_runs_anywhere_and_failures_keep_the_compiler() {
        let _g = lock();
        let (m, layouts) = module(3);
        let mut compiler = Compiler::new(CraneliftSettings::default()).expect("compiler");
        let helpers = HelperAddrs::native();
        assert_eq!(
            compiler.compile_code(&m, &layouts, &helpers, None, 9, EntryPoint::Start),
            Err(CompileFailure::NoSuchFunction(9))
        );
        let got = compiler
            .compile_code(&m, &layouts, &helpers, None, 2, EntryPoint::LoopHeader(1))
            .expect("compiles after a failure");
        assert_eq!((got.func, got.entry), (2, EntryPoint::LoopHeader(1)));
        assert!(!got.code.is_empty());
        // Published twice, the same bytes at two addresses.
        let mut memory = CodeMemory::new();
        let a = memory.publish(&got.code).expect("publishes");
        let b = memory.publish(&got.code).expect("publishes");
        assert_ne!(a.ptr, b.ptr);
        assert_eq!(
            compiler.compile_code(&m, &layouts, &helpers, None, 2, EntryPoint::LoopHeader(1)),
            Ok(got)
        );
    }

    /// Cranelift's FDEs are written against `runtime::unwind::host_cie`,
    /// which must therefore be Cranelift's CIE; and compiled code carries
    /// unwind info that starts at its first byte and covers all of it.
    #[test]
    fn compiled_code_unwinds_against_the_host_cie() {
        let _g = lock();
        let (m, layouts) = module(3);
        let mut compiler = Compiler::new(CraneliftSettings::default()).expect("compiler");
        assert_eq!(
            compiler.isa.create_systemv_cie(),
            Some(crate::runtime::unwind::host_cie())
        );
        let helpers = HelperAddrs::native();
        let got = compiler
            .compile_code(&m, &layouts, &helpers, None, 2, EntryPoint::Start)
            .expect("compiles");
        let fde = got.unwind.fde(0x1000, got.code.len()).expect("an FDE");
        let eh_frame = crate::runtime::unwind::eh_frame(fde);
        let rows = crate::runtime::unwind::tests::cfa_rows(&eh_frame, 0x1000);
        assert_eq!(rows.first().map(|r| r.0), Some(0x1000));
        assert!(rows.iter().all(|r| r.1 <= 0x1000 + got.code.len() as u64));
    }

    /// The host ISA with `fma` and the SSE4.1 roundings off (x86-64), so
    /// Cranelift lowers them to libcalls, with colocated libcalls or not.
    fn isa_without_fma(colocated_libcalls: bool) -> OwnedTargetIsa {
        let mut isa = cranelift_native::builder().expect("host isa");
        if cfg!(target_arch = "x86_64") {
            for flag in ["has_fma", "has_avx", "has_sse41", "has_sse42", "has_avx2"] {
                isa.set(flag, "false").expect(flag);
            }
        }
        let mut flags = settings::builder();
        for (name, value) in [
            ("opt_level", "speed"),
            ("unwind_info", "false"),
            ("is_pic", "false"),
            (
                "use_colocated_libcalls",
                if colocated_libcalls { "true" } else { "false" },
            ),
        ] {
            flags.set(name, value).expect(name);
        }
        isa.finish(settings::Flags::new(flags)).expect("isa")
    }

    /// `fma(x, y, z) + ceil(z) + trunc(z) + nearest(z)` compiled for `isa`,
    /// linked as [`Compiler::compile_code`] links.
    fn fma_and_roundings(isa: &OwnedTargetIsa) -> Result<Vec<u8>, CompileFailure> {
        use cranelift_codegen::ir::{AbiParam, InstBuilder, Signature, types::F64};
        let mut ctx = cranelift_codegen::Context::new();
        let mut sig = Signature::new(isa.default_call_conv());
        sig.params.extend([AbiParam::new(F64); 3]);
        sig.returns.push(AbiParam::new(F64));
        ctx.func.signature = sig;
        let mut fctx = FunctionBuilderContext::new();
        {
            let mut b = cranelift_frontend::FunctionBuilder::new(&mut ctx.func, &mut fctx);
            let block = b.create_block();
            b.append_block_params_for_function_params(block);
            b.switch_to_block(block);
            let [x, y, z] = [0, 1, 2].map(|k| b.block_params(block)[k]);
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
        let c = ctx
            .compile(&**isa, &mut Default::default())
            .expect("compiles");
        if cfg!(target_arch = "x86_64") {
            assert_eq!(c.buffer.relocs().len(), 4, "one per libcall");
        }
        let mut code = c.code_buffer().to_vec();
        link(&mut code, c.buffer.relocs(), libcall_address)?;
        Ok(code)
    }

    /// Without FMA3 (or SSE4.1) Cranelift lowers `fma` (and the roundings)
    /// to libcalls of the C library's `fma` (`ceil`, ...): they are linked
    /// to absolute addresses of Rust functions (`Abs8`) and compute the
    /// same as Rust (the `fma` op's NaN fix-up is in the IR, around it).
    #[test]
    fn fma_and_rounding_libcalls_link_without_the_cpu_features() {
        let _g = lock();
        let code = fma_and_roundings(&isa_without_fma(false)).expect("links");
        let mut memory = CodeMemory::new();
        let published = memory.publish(&code).expect("publishes");
        // SAFETY: compiled for this signature just above, published.
        let f: extern "C" fn(f64, f64, f64) -> f64 = unsafe { std::mem::transmute(published.ptr) };
        for (x, y, z) in [
            (0.1f64, 10.0, -1.0f64),
            (1.5, -2.0, 2.5),
            (1e300, 1e10, -0.5),
        ] {
            let want = x.mul_add(y, z) + z.ceil() + z.trunc() + z.round_ties_even();
            assert_eq!(f(x, y, z).to_bits(), want.to_bits(), "{x} {y} {z}");
        }
    }

    /// Colocated libcalls are called PC-relative: code that must run at any
    /// address cannot link them, and says so.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn pc_relative_libcalls_are_refused() {
        match fma_and_roundings(&isa_without_fma(true)) {
            Err(CompileFailure::Cranelift(e)) => {
                assert!(e.contains("X86CallPCRel4"), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn relocations_out_of_the_code_or_without_a_target_are_failures() {
        use cranelift_codegen::binemit::Reloc;
        use cranelift_codegen::ir::UserExternalNameRef;
        use cranelift_codegen::{FinalizedMachReloc, FinalizedRelocTarget};
        let reloc = |offset, kind, target| FinalizedMachReloc {
            offset,
            kind,
            target,
            addend: 0,
        };
        let user = || {
            FinalizedRelocTarget::ExternalName(ExternalName::User(UserExternalNameRef::from_u32(0)))
        };
        let libcall = |lib| FinalizedRelocTarget::ExternalName(ExternalName::LibCall(lib));
        let mut code = vec![0u8; 16];
        let fails = |code: &mut [u8], r| link(code, &[r], libcall_address).is_err();
        assert!(fails(&mut code, reloc(14, Reloc::X86CallPCRel4, user())));
        assert!(fails(
            &mut code,
            reloc(12, Reloc::Abs8, libcall(LibCall::FloorF64))
        ));
        assert!(fails(
            &mut code,
            reloc(0, Reloc::Abs8, libcall(LibCall::Memcpy))
        ));
        assert!(fails(&mut code, reloc(0, Reloc::Abs8, user())));
        assert!(fails(
            &mut code,
            reloc(0, Reloc::Abs4, libcall(LibCall::FloorF64))
        ));
        assert!(fails(
            &mut code,
            reloc(0, Reloc::X86CallPCRel4, libcall(LibCall::CeilF64))
        ));
        assert_eq!(code, [0; 16], "nothing patched");
        // A call at 4 of the start: -4 - 4 (from the end of the field).
        link(
            &mut code,
            &[FinalizedMachReloc {
                addend: -4,
                ..reloc(4, Reloc::X86CallPCRel4, user())
            }],
            libcall_address,
        )
        .expect("links");
        assert_eq!(code[4..8], (-8i32).to_le_bytes());
        link(
            &mut code,
            &[reloc(8, Reloc::Abs8, libcall(LibCall::TruncF64))],
            libcall_address,
        )
        .expect("links");
        assert_eq!(
            code[8..16],
            libcall_address(LibCall::TruncF64)
                .expect("bound")
                .to_le_bytes()
        );
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
        let _g = lock();
        let (m, layouts) = module(2);
        let mut compiler = Compiler::new(CraneliftSettings::default()).expect("compiler");
        let mut memory = CodeMemory::new();
        for entry in [EntryPoint::Start, EntryPoint::LoopHeader(1)] {
            let code = compiler
                .machine_code(&m, &layouts, 1, entry)
                .expect("compiles");
            // The same bytes as the version compiled for running (this
            // function calls no helper and relocates nothing)...
            let compiled =
                publish(&mut compiler, &mut memory, &m, &layouts, 1, entry).expect("compiles");
            assert_eq!(code, bytes_of(&compiled), "{entry:?}");
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
        let _g = lock();
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
        // the installed version has the same bytes (it calls no helper, so
        // no address differs), and runs.
        let mut memory = CodeMemory::new();
        let compiled = publish(
            &mut compiler,
            &mut memory,
            &m,
            &layouts,
            0,
            EntryPoint::Start,
        )
        .expect("compiles");
        assert_eq!(code, bytes_of(&compiled));
        let relocs = compiler
            .compile_code(
                &m,
                &layouts,
                &HelperAddrs::native(),
                None,
                0,
                EntryPoint::Start,
            )
            .expect("compiles");
        assert_eq!(relocs.code, code);
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
                    .compile_code(&m, &layouts, &HelperAddrs::native(), None, f, entry)
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
