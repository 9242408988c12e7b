//! Execution on the host: the harness (mapped code, a fake frame and
//! context, kernels over the scratch registers) and the tests, generic over
//! the ISA and instantiated for the one the host runs.

use memmap2::{Mmap, MmapMut};

use super::{FPRS, GPRS, TestIsa, assemble};
use crate::bytecode::Bank;
use crate::runtime::context::offsets::CALL_DEPTH;
use crate::template::masm::{Fpr, Gpr, MacroAssembler};

mod calls;
mod fp;
mod int;
mod memory;

pub use calls::*;
pub use fp::*;
pub use int::*;
pub use memory::*;

/// The native entry signature.
type Entry = unsafe extern "C" fn(*mut u8, *mut i64, *mut f64, *mut u64) -> u32;

/// Finished code, mapped read+execute (never writable and executable at
/// once).
pub struct Jit {
    map: Mmap,
}

impl Jit {
    pub fn from_code<I: TestIsa>(code: &[u8]) -> Jit {
        let mut map = MmapMut::map_anon(code.len().max(4)).expect("map");
        map[..code.len()].copy_from_slice(code);
        let map = map.make_exec().expect("make_exec");
        I::prepare_exec(map.as_ptr(), code.len());
        Jit { map }
    }

    /// `prologue; body; epilogue(T0)` with the host's CPU features.
    pub fn build<I: TestIsa>(body: impl FnOnce(&mut I::Masm)) -> Jit {
        Jit::build_with::<I>(I::masm(), body)
    }

    pub fn build_with<I: TestIsa>(mut m: I::Masm, body: impl FnOnce(&mut I::Masm)) -> Jit {
        m.prologue(CALL_DEPTH);
        body(&mut m);
        m.epilogue(Gpr::T0);
        Jit::from_code::<I>(m.finish().expect("finish"))
    }

    pub fn addr(&self) -> usize {
        self.map.as_ptr() as usize
    }

    pub fn call(&self, fr: &mut Frame) -> u32 {
        self.call_at(fr, [0, 0, 0])
    }

    /// Call with the bases at slots `at` of each bank.
    pub fn call_at(&self, fr: &mut Frame, at: [usize; 3]) -> u32 {
        let i = fr.i[at[0]..].as_mut_ptr();
        let f = fr.f[at[1]..].as_mut_ptr();
        let r = fr.r[at[2]..].as_mut_ptr();
        self.call_raw(fr, i, f, r)
    }

    /// Call with explicit (possibly shifted) bases.
    pub fn call_raw(&self, fr: &mut Frame, i: *mut i64, f: *mut f64, r: *mut u64) -> u32 {
        // SAFETY: the code was generated for the native entry signature and
        // only touches the frame and context it is given (each test sets up
        // the slots and context bytes its code reaches).
        unsafe {
            let entry: Entry = std::mem::transmute(self.map.as_ptr());
            entry(fr.ctx.as_mut_ptr().cast(), i, f, r)
        }
    }
}

/// Slots per bank of [`Frame::new`].
pub const N: usize = 256;
/// Context bytes of [`Frame::sized`].
const BIG_CTX: usize = 1 << 16;

/// A fake context and the three banks of one frame.
pub struct Frame {
    /// The context, as words.
    pub ctx: Vec<u64>,
    pub i: Vec<i64>,
    pub f: Vec<f64>,
    pub r: Vec<u64>,
}

impl Frame {
    /// [`N`] slots per bank and a 256-byte context.
    pub fn new() -> Frame {
        Frame::with(N, 32)
    }

    /// `slots` per bank and a 64 KiB context.
    pub fn sized(slots: usize) -> Frame {
        Frame::with(slots, BIG_CTX / 8)
    }

    fn with(slots: usize, ctx_words: usize) -> Frame {
        Frame {
            ctx: vec![0; ctx_words],
            i: vec![0; slots],
            f: vec![0.0; slots],
            r: vec![0; slots],
        }
    }

    pub fn ctx_addr(&mut self) -> u64 {
        self.ctx.as_mut_ptr() as u64
    }

    /// The context's bytes.
    pub fn ctx_bytes(&mut self) -> &mut [u8] {
        let len = self.ctx.len() * 8;
        // SAFETY: the words' bytes, borrowed as long as the words.
        unsafe { std::slice::from_raw_parts_mut(self.ctx.as_mut_ptr().cast(), len) }
    }

    pub fn base(&mut self, bank: Bank) -> u64 {
        match bank {
            Bank::I => self.i.as_mut_ptr() as u64,
            Bank::F => self.f.as_mut_ptr() as u64,
            Bank::R => self.r.as_mut_ptr() as u64,
        }
    }
}

pub fn gi(g: Gpr) -> usize {
    g as usize
}

pub fn fi(f: Fpr) -> usize {
    FPRS.iter().position(|&x| x == f).unwrap_or(0)
}

/// The register file the tests observe: `T0..T2` and [`FPRS`] (bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Regs {
    pub t: [i64; 3],
    pub f: [u64; 4],
}

impl Regs {
    /// Put the values where a kernel loads them from: i slots 0..3 and
    /// f slots 0..4.
    pub fn place(&self, fr: &mut Frame) {
        fr.i[..3].copy_from_slice(&self.t);
        for (slot, bits) in fr.f.iter_mut().zip(self.f) {
            *slot = f64::from_bits(bits);
        }
    }
}

pub const SENTINELS: Regs = Regs {
    t: [
        0x0123_4567_89ab_cdef,
        -0x1111_2222_3333_4444,
        0x7777_0000_5555,
    ],
    f: [
        0x4009_21fb_5444_2d18,
        0xc05e_dd2f_1a9f_be77,
        0x7ff0_0000_0000_0000,
        0x3ff8_0000_0000_0001,
    ],
};

/// A kernel: load `T0..T2` from i slots 0..2 and [`FPRS`] from f slots
/// 0..3, run `op`, store them back to i slots 3..5 and f slots 4..7.
pub fn kernel_with<I: TestIsa>(m: I::Masm, op: impl FnOnce(&mut I::Masm)) -> Jit {
    Jit::build_with::<I>(m, |m| {
        for (k, g) in GPRS.into_iter().enumerate() {
            m.load_slot(g, Bank::I, k as u32);
        }
        for (k, f) in FPRS.into_iter().enumerate() {
            m.load_fslot(f, k as u32);
        }
        op(m);
        for (k, g) in GPRS.into_iter().enumerate() {
            m.store_slot(Bank::I, 3 + k as u32, g);
        }
        for (k, f) in FPRS.into_iter().enumerate() {
            m.store_fslot(4 + k as u32, f);
        }
    })
}

/// A fresh assembler of the feature variant named `name`
/// ([`TestIsa::feature_variants`]).
pub fn variant_masm<I: TestIsa>(name: &str) -> I::Masm {
    I::feature_variants()
        .into_iter()
        .find(|v| v.0 == name)
        .expect("variant")
        .1
}

pub fn kernel<I: TestIsa>(op: impl FnOnce(&mut I::Masm)) -> Jit {
    kernel_with::<I>(I::masm(), op)
}

/// Runs a kernel on `regs`: the registers it leaves.
pub fn run(jit: &Jit, fr: &mut Frame, regs: Regs) -> Regs {
    regs.place(fr);
    jit.call(fr);
    Regs {
        t: [fr.i[3], fr.i[4], fr.i[5]],
        f: [4, 5, 6, 7].map(|k| fr.f[k].to_bits()),
    }
}

/// Registers with `lhs = x` and `rhs = y` (`y` wins when they are the
/// same register), the others holding sentinels.
pub fn with_operands(l: usize, x: i64, r: usize, y: i64) -> Regs {
    let mut regs = SENTINELS;
    regs.t[l] = x;
    regs.t[r] = y;
    regs
}

/// The same for f64 registers.
pub fn with_foperands(l: usize, x: f64, r: usize, y: f64) -> Regs {
    let mut regs = SENTINELS;
    regs.f[l] = x.to_bits();
    regs.f[r] = y.to_bits();
    regs
}

/// Kernels in which `T0 = 1` if the branch emitted by `br` to its label is
/// taken, else 2, stored to i slot 9 and returned; the scratch registers
/// are stored to i slots 6..8 on either path (the branch must not change
/// them). The branch goes forward in the first, backward in the second.
pub fn branch_kernels<I: TestIsa>(
    br: impl Fn(&mut I::Masm, <I::Masm as MacroAssembler>::Label),
) -> [Jit; 2] {
    fn keep<M: MacroAssembler>(m: &mut M, status: i64) {
        for (k, g) in GPRS.into_iter().enumerate() {
            m.store_slot(Bank::I, 6 + k as u32, g);
        }
        m.load_imm(Gpr::T0, status);
    }
    let forward = kernel::<I>(|m| {
        let taken = m.new_label();
        let end = m.new_label();
        br(m, taken);
        keep(m, 2);
        m.jump(end);
        m.bind(taken);
        keep(m, 1);
        m.bind(end);
        m.store_slot(Bank::I, 9, Gpr::T0);
    });
    let backward = kernel::<I>(|m| {
        let test = m.new_label();
        let taken = m.new_label();
        let end = m.new_label();
        m.jump(test);
        m.bind(taken);
        keep(m, 1);
        m.jump(end);
        m.bind(test);
        br(m, taken);
        keep(m, 2);
        m.bind(end);
        m.store_slot(Bank::I, 9, Gpr::T0);
    });
    [forward, backward]
}

/// Runs a branch kernel on `regs`: whether the branch was taken.
pub fn taken(jit: &Jit, fr: &mut Frame, regs: Regs) -> bool {
    regs.place(fr);
    taken_in(jit, fr)
}

/// Runs a branch kernel on the frame as it is: whether the branch was
/// taken, after checking that the scratch registers were left alone.
pub fn taken_in(jit: &Jit, fr: &mut Frame) -> bool {
    let t = [fr.i[0], fr.i[1], fr.i[2]];
    let status = jit.call(fr);
    assert_eq!([fr.i[6], fr.i[7], fr.i[8]], t, "branch changed a register");
    assert_eq!(status as i64, fr.i[9]);
    match status {
        1 => true,
        2 => false,
        s => panic!("status {s}"),
    }
}

/// Integer edge values (the union of both ISAs' former sets).
pub const EDGE: [i64; 25] = [
    0,
    1,
    -1,
    2,
    -2,
    63,
    64,
    65,
    -64,
    127,
    128,
    -128,
    i64::MIN,
    i64::MAX,
    i64::MIN + 1,
    0x5555_5555_5555_5555,
    -0x1234_5678_9abc,
    0x1234_5678_9ABC_DEF0,
    -0x0FED_CBA9_8765_4321,
    1 << 32,
    u32::MAX as i64,
    -7,
    0x7FFF_FFFF,
    -0x8000_0000,
    0xFFFF,
];

/// 32-bit immediates and offsets: the edges of both ISAs' encodings (x86-64:
/// imm8, imm32; aarch64: imm12, imm12 << 12, 24-bit splits, logical
/// bitmasks, shifts).
pub const IMMS: [i32; 40] = [
    0,
    1,
    -1,
    2,
    63,
    64,
    65,
    127,
    128,
    -128,
    -129,
    255,
    256,
    -256,
    -257,
    4095,
    4096,
    -4095,
    -4096,
    4097,
    -4097,
    0x12345,
    0x7F_F000,
    0xFF_F000,
    -0xFF_F000,
    0xFF_FFFF,
    0x100_0000,
    -0x100_0000,
    0x3FFF_C000,
    0x0FF0,
    -8,
    0x00FF_00FF,
    0x5555_5555,
    0x1234_5678,
    i32::MIN,
    i32::MAX,
    i32::MIN + 1,
    100,
    -5,
    5,
];

/// `code` run as `prologue; code; epilogue(g)`, for epilogue tests.
pub fn with_epilogue<I: TestIsa>(g: Gpr, body: impl FnOnce(&mut I::Masm)) -> Jit {
    Jit::from_code::<I>(&assemble::<I>(|m| {
        m.prologue(CALL_DEPTH);
        body(m);
        m.epilogue(g);
    }))
}
