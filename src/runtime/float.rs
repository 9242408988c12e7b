//! The f64 operations whose results every engine must reproduce bit for
//! bit and that no single machine instruction gives on every ISA: the
//! interpreter calls these, the JIT tiers match them (or call them as a
//! slow path).
//!
//! NaNs: an arithmetic NaN is the ISA's (x86-64 SSE returns the first NaN
//! operand quieted and the default NaN `0xfff8_0000_0000_0000` for an
//! invalid operation; aarch64 the first NaN operand quieted and the default
//! NaN `0x7ff8_0000_0000_0000`). The interpreter runs on the same ISA as the
//! compiled code, so the engines agree per ISA; these functions define their
//! NaN results in terms of `+` and `*` so that they inherit that rule.

/// `b * c + a` rounded once (`f64::mul_add`). A NaN result is replaced by
/// the NaN of `b * c + a` rounded twice: for NaN operands the fused
/// instructions of the ISAs (and C libraries' `fma`) choose among them
/// differently from `*` and `+`; when no operand is a NaN both forms give
/// the ISA's default NaN, so only NaN operands see the difference.
#[inline]
pub fn fma(a: f64, b: f64, c: f64) -> f64 {
    let r = b.mul_add(c, a);
    if r.is_nan() {
        unfused_mul_add(a, b, c)
    } else {
        r
    }
}

/// `b * c + a` as two roundings, the operands in that order: the NaN rule
/// of [`fma`].
#[inline]
pub fn unfused_mul_add(a: f64, b: f64, c: f64) -> f64 {
    add_in_order(mul_in_order(b, c), a)
}

/// `x + y` by the ISA's instruction with `x` as its first operand. With two
/// NaN operands the instruction returns the first (quieted), and `x + y`
/// in Rust leaves the order to the compiler, which may swap the operands
/// of a commutative operation.
#[inline]
pub fn add_in_order(x: f64, y: f64) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        let mut r = x;
        // SAFETY: one SSE2 instruction on registers.
        unsafe {
            std::arch::asm!("addsd {r}, {y}", r = inout(xmm_reg) r, y = in(xmm_reg) y,
                options(pure, nomem, nostack));
        }
        r
    }
    #[cfg(target_arch = "aarch64")]
    {
        let r: f64;
        // SAFETY: one instruction on registers.
        unsafe {
            std::arch::asm!("fadd {r:d}, {x:d}, {y:d}", r = out(vreg) r, x = in(vreg) x,
                y = in(vreg) y, options(pure, nomem, nostack));
        }
        r
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        x + y
    }
}

/// `x * y` by the ISA's instruction with `x` as its first operand (see
/// [`add_in_order`]).
#[inline]
pub fn mul_in_order(x: f64, y: f64) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        let mut r = x;
        // SAFETY: one SSE2 instruction on registers.
        unsafe {
            std::arch::asm!("mulsd {r}, {y}", r = inout(xmm_reg) r, y = in(xmm_reg) y,
                options(pure, nomem, nostack));
        }
        r
    }
    #[cfg(target_arch = "aarch64")]
    {
        let r: f64;
        // SAFETY: one instruction on registers.
        unsafe {
            std::arch::asm!("fmul {r:d}, {x:d}, {y:d}", r = out(vreg) r, x = in(vreg) x,
                y = in(vreg) y, options(pure, nomem, nostack));
        }
        r
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        x * y
    }
}

/// IEEE 754-2019 `minimum`: -0.0 is below +0.0; a NaN operand gives the
/// NaN of `x + y`.
#[inline]
pub fn minimum(x: f64, y: f64) -> f64 {
    if x < y {
        x
    } else if y < x {
        y
    } else if x == y {
        // Equal: the same bits but for the sign of zeros; -0.0 wins.
        f64::from_bits(x.to_bits() | y.to_bits())
    } else {
        add_in_order(x, y)
    }
}

/// IEEE 754-2019 `maximum`: +0.0 is above -0.0; a NaN operand gives the
/// NaN of `x + y`.
#[inline]
pub fn maximum(x: f64, y: f64) -> f64 {
    if x > y {
        x
    } else if y > x {
        y
    } else if x == y {
        // Equal: the same bits but for the sign of zeros; +0.0 wins.
        f64::from_bits(x.to_bits() & y.to_bits())
    } else {
        add_in_order(x, y)
    }
}

/// The NaN the rounding ops (`fceil`, `ftrunc`, `fround`) give
/// for a NaN operand: the operand quieted, its payload and sign kept (as
/// x86 `roundsd`, aarch64 `frint*` and `x + x` do on both).
#[inline]
fn quiet(x: f64) -> f64 {
    f64::from_bits(x.to_bits() | (1 << 51))
}

/// `ceil(x)`; a NaN comes back quieted.
#[inline]
pub fn ceil(x: f64) -> f64 {
    if x.is_nan() { quiet(x) } else { x.ceil() }
}

/// `trunc(x)`; a NaN comes back quieted.
#[inline]
pub fn trunc(x: f64) -> f64 {
    if x.is_nan() { quiet(x) } else { x.trunc() }
}

/// `x` rounded to the nearest integer, ties to even; a NaN comes back
/// quieted.
#[inline]
pub fn round_ties_even(x: f64) -> f64 {
    if x.is_nan() {
        quiet(x)
    } else {
        x.round_ties_even()
    }
}

/// The magnitude of `x` with the sign of `y`, on the bits (a NaN keeps its
/// payload).
#[inline]
pub fn copysign(x: f64, y: f64) -> f64 {
    const SIGN: u64 = 1 << 63;
    f64::from_bits((x.to_bits() & !SIGN) | (y.to_bits() & SIGN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fma_rounds_once() {
        // 0.1 * 10 - 1 is exactly 2^-54 fused, 0 unfused.
        assert_eq!(fma(-1.0, 0.1, 10.0), 2f64.powi(-54));
        assert_eq!(unfused_mul_add(-1.0, 0.1, 10.0), 0.0);
        // (1 + 2^-30)(1 - 2^-30) - 1 is -2^-60 fused, 0 unfused.
        let e = 2f64.powi(-30);
        assert_eq!(fma(-1.0, 1.0 + e, 1.0 - e), -2f64.powi(-60));
        assert_eq!(unfused_mul_add(-1.0, 1.0 + e, 1.0 - e), 0.0);
    }

    #[test]
    fn two_nans_give_the_first_operand_quieted() {
        // Quiet ones: which one wins also depends on signalling on aarch64.
        let (p, q) = (
            f64::from_bits(0x7ff8_0000_0000_0001),
            f64::from_bits(0xfff8_0000_0000_0002),
        );
        assert_eq!(add_in_order(p, q).to_bits(), p.to_bits());
        assert_eq!(add_in_order(q, p).to_bits(), q.to_bits());
        assert_eq!(mul_in_order(q, p).to_bits(), q.to_bits());
        assert_eq!(minimum(q, 1.0).to_bits(), q.to_bits());
    }

    #[test]
    fn minimum_and_maximum_order_zeros_and_spread_nans() {
        assert_eq!(minimum(0.0, -0.0).to_bits(), (-0.0f64).to_bits());
        assert_eq!(minimum(-0.0, 0.0).to_bits(), (-0.0f64).to_bits());
        assert_eq!(maximum(-0.0, 0.0).to_bits(), 0);
        assert_eq!(maximum(0.0, -0.0).to_bits(), 0);
        assert!(minimum(f64::NAN, 1.0).is_nan());
        assert!(maximum(1.0, f64::NAN).is_nan());
        assert_eq!(minimum(f64::NEG_INFINITY, 3.0), f64::NEG_INFINITY);
        assert_eq!(maximum(f64::NEG_INFINITY, 3.0), 3.0);
    }

    #[test]
    fn rounding_quiets_nans_and_keeps_their_payload() {
        let snan = f64::from_bits(0x7ff4_0000_0000_0001);
        for f in [ceil, trunc, round_ties_even] {
            assert_eq!(f(snan).to_bits(), 0x7ffc_0000_0000_0001);
        }
        assert_eq!(round_ties_even(2.5), 2.0);
        assert_eq!(round_ties_even(-0.5).to_bits(), (-0.0f64).to_bits());
        assert_eq!(copysign(snan, -1.0).to_bits(), 0xfff4_0000_0000_0001);
    }
}
