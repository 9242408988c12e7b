//! Running the `tierjit` binary from a test.

use std::process::{Command, Output};

/// Run `tierjit` with `args` in the crate's folder, with `env` on top of an
/// environment cleared of the variables that choose tiers. Under qemu-user
/// (scripts/test-aarch64.sh) the binary runs through `TIERJIT_TEST_RUNNER`.
pub fn tierjit(args: &[&str], env: &[(&str, &str)]) -> Output {
    let runner = std::env::var("TIERJIT_TEST_RUNNER").unwrap_or_default();
    let mut argv = runner.split_whitespace();
    let mut cmd = match argv.next() {
        Some(program) => {
            let mut c = Command::new(program);
            c.args(argv).arg(env!("CARGO_BIN_EXE_tierjit"));
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_tierjit")),
    };
    cmd.args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("TIERJIT_TIER")
        .env_remove("TIERJIT_HOT_CALLS")
        .env_remove("TIERJIT_HOT_LOOPS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("tierjit runs")
}
