//! Formatting of the print ops, shared by every engine so output is identical.

use std::io::Write;

/// Write `v` as C's `printf("%.<digits>f", v)` does with glibc.
pub fn write_f64(out: &mut dyn Write, v: f64, digits: usize) -> std::io::Result<()> {
    if v.is_nan() {
        // glibc prints the sign of a NaN.
        out.write_all(if v.is_sign_negative() {
            b"-nan"
        } else {
            b"nan"
        })
    } else if v.is_infinite() {
        out.write_all(if v < 0.0 { b"-inf" } else { b"inf" })
    } else {
        // Rust's fixed-precision formatting is exact and rounds half to even,
        // as glibc does.
        write!(out, "{v:.digits$}")
    }
}

/// Write `v` in decimal.
pub fn write_i64(out: &mut dyn Write, v: i64) -> std::io::Result<()> {
    write!(out, "{v}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: f64, d: usize) -> String {
        let mut s = Vec::new();
        write_f64(&mut s, v, d).unwrap();
        String::from_utf8(s).unwrap()
    }

    #[test]
    fn matches_glibc_printf() {
        // Expected strings are what glibc's printf prints.
        assert_eq!(f(-0.169075164, 9), "-0.169075164");
        assert_eq!(f(0.125, 2), "0.12");
        assert_eq!(f(0.375, 2), "0.38");
        assert_eq!(f(2.5, 0), "2");
        assert_eq!(f(-0.0, 3), "-0.000");
        assert_eq!(f(f64::NAN, 3), "nan");
        assert_eq!(f(-f64::NAN, 3), "-nan");
        assert_eq!(f(f64::NEG_INFINITY, 3), "-inf");
        assert_eq!(f(1e300, 1).len(), 303);
    }
}
