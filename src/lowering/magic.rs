//! Signed division by a constant as a multiplication by its reciprocal
//! (Hacker's Delight, ch. 10): `idiv` takes 40 to 90 cycles on the machines
//! we measure, a high multiply and a few shifts and adds about 6.

use super::alu::AluOp;

/// How to divide by a constant `d` (|d| >= 2): `q = mulhi(x, multiplier)`,
/// then `q = q op x` (with [`Magic::adjust`]'s op, if any), then
/// `q >>= shift` (arithmetic), then `q += q >>> 63` (round toward zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Magic {
    /// The 64-bit reciprocal, scaled by `2^(64 + shift)`.
    pub multiplier: i64,
    /// Add or subtract the dividend after the high multiply, when the
    /// multiplier's sign differs from the divisor's.
    pub adjust: Option<AluOp>,
    /// The arithmetic right shift after that.
    pub shift: u32,
}

impl Magic {
    /// The reciprocal of `d`, or `None` for -1, 0 and 1 (no multiplier
    /// does those: the templates handle them apart).
    pub fn of(d: i64) -> Option<Magic> {
        if (-1..=1).contains(&d) {
            return None;
        }
        const TWO63: u64 = 1 << 63;
        let ad = d.unsigned_abs();
        let t = TWO63 + ((d as u64) >> 63);
        // |nc|: the largest dividend with `nc % d == d - 1`.
        let anc = t - 1 - t % ad;
        let mut p = 63u32;
        let (mut q1, mut r1) = (TWO63 / anc, TWO63 % anc);
        let (mut q2, mut r2) = (TWO63 / ad, TWO63 % ad);
        loop {
            p += 1;
            // r1 < anc <= 2^63 and r2 < ad <= 2^63: doubling cannot wrap.
            q1 = q1.wrapping_mul(2);
            r1 *= 2;
            if r1 >= anc {
                q1 = q1.wrapping_add(1);
                r1 -= anc;
            }
            q2 = q2.wrapping_mul(2);
            r2 *= 2;
            if r2 >= ad {
                q2 = q2.wrapping_add(1);
                r2 -= ad;
            }
            let delta = ad - r2;
            if !(q1 < delta || (q1 == delta && r1 == 0)) {
                break;
            }
        }
        let m = q2.wrapping_add(1) as i64;
        let multiplier = if d < 0 { m.wrapping_neg() } else { m };
        let adjust = if d > 0 && multiplier < 0 {
            Some(AluOp::Add)
        } else if d < 0 && multiplier > 0 {
            Some(AluOp::Sub)
        } else {
            None
        };
        Some(Magic {
            multiplier,
            adjust,
            shift: p - 64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{AluOp, Magic};

    impl Magic {
        /// `x / d` computed the way the templates emit it.
        fn quotient(self, x: i64) -> i64 {
            let mut q = ((i128::from(x) * i128::from(self.multiplier)) >> 64) as i64;
            q = match self.adjust {
                Some(AluOp::Add) => q.wrapping_add(x),
                Some(_) => q.wrapping_sub(x),
                None => q,
            };
            q >>= self.shift;
            q.wrapping_add(((q as u64) >> 63) as i64)
        }
    }

    /// Every 16-bit divisor (the immediates `divi`/`remi` take) and some
    /// wider ones, against Rust's division, on dividends at the edges.
    #[test]
    fn quotients_match_division() {
        let mut xs = vec![
            0,
            1,
            -1,
            2,
            -2,
            7,
            -7,
            i64::MAX,
            i64::MIN,
            i64::MAX - 1,
            i64::MIN + 1,
            1 << 62,
            -(1 << 62),
            0x5555_5555_5555_5555,
            -0x1234_5678_9abc,
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..24 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            xs.push(seed as i64);
            xs.push((seed >> 40) as i64);
        }
        let wide = [
            i64::MAX,
            i64::MIN,
            i64::MIN + 1,
            1 << 40,
            -(1 << 40),
            1_000_000_007,
        ];
        for d in (-32768..=32767).chain(wide) {
            let Some(magic) = Magic::of(d) else {
                assert!((-1..=1).contains(&d));
                continue;
            };
            for &x in &xs {
                for x in [x, x.wrapping_add(d), x.wrapping_sub(1), x / 2 * 2] {
                    assert_eq!(magic.quotient(x), x.wrapping_div(d), "{x} / {d}: {magic:?}");
                }
            }
        }
    }
}
