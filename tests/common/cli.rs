//! Running the `tierjit` binary from a test.

use std::process::{Command, Output};

/// The `tierjit` command with `args`, in the crate's folder, with `env` on
/// top of an environment cleared of the variables that choose tiers or
/// turn on the log. Under qemu-user (scripts/test-aarch64.sh) the binary runs through
/// `TIERJIT_TEST_RUNNER`.
pub fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
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
        .env_remove("TIERJIT_HOT_LOOPS")
        // A developer's log filter would add tier-up events to stderr.
        .env_remove("RUST_LOG")
        .envs(env.iter().copied());
    cmd
}

/// Run [`command`] to completion.
pub fn tierjit(args: &[&str], env: &[(&str, &str)]) -> Output {
    command(args, env).output().expect("tierjit runs")
}
