#!/usr/bin/env bash
# Runs the test suite for aarch64 under qemu-user (after installing what that
# needs, see setup-aarch64.sh). Extra arguments go to `cargo test`, e.g.
#   scripts/test-aarch64.sh --lib
#   scripts/test-aarch64.sh -- some_test_name
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup-aarch64.sh
# The linker and the qemu runner come from .cargo/config.toml. Tests that
# start the `tierjit` binary themselves (tests/cli.rs) need the runner too:
# qemu-user does not follow execve into another foreign binary.
export TIERJIT_TEST_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
cargo test --target aarch64-unknown-linux-gnu "$@"
