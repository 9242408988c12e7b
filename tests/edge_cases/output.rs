//! Printing: the output matches C's formatting.

use crate::differential::check;

#[test]
fn printing_matches_c() {
    let src = r#"
func main() -> none
    iconst i0, -9223372036854775808
    printi i0
    prints " \"q\"\n"
    fconst f0, -0.169075164
    printf f0, 9
    prints "|"
    fconst f1, 0.125
    printf f1, 2
    prints "|"
    fconst f2, nan
    printf f2, 3
    prints "|"
    fneg f2, f2
    printf f2, 3
    prints "|"
    fconst f3, -inf
    printf f3, 0
    prints "|"
    fconst f4, 2.5
    printf f4, 0
    prints "\n"
    ret
end"#;
    let out = check(src, "main", &[]);
    assert_eq!(
        out.output,
        "-9223372036854775808 \"q\"\n-0.169075164|0.12|nan|-nan|-inf|2\n"
    );
}
