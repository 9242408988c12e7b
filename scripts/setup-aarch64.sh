#!/usr/bin/env bash
# Installs what `cargo test --target aarch64-unknown-linux-gnu` needs on a
# Debian machine: the cross gcc (used as the linker), the arm64 libc for the
# linker and for qemu (-L /usr/aarch64-linux-gnu), qemu-user, and the Rust
# target. Idempotent: does nothing that is already done. Run as root (or with
# sudo available) the first time; later runs only check.
set -euo pipefail

SUDO=()
if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
fi

missing=()
command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || missing+=(gcc-aarch64-linux-gnu)
[[ -e /usr/aarch64-linux-gnu/lib/libc.so.6 && -e /usr/aarch64-linux-gnu/lib/crt1.o ]] \
    || missing+=(libc6-dev-arm64-cross)
command -v qemu-aarch64 >/dev/null 2>&1 || missing+=(qemu-user)

if ((${#missing[@]})); then
    echo "setup-aarch64: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update
    "${SUDO[@]}" apt-get install -y "${missing[@]}"
else
    echo "setup-aarch64: cross gcc, arm64 libc and qemu-aarch64 present"
fi

if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    echo "setup-aarch64: adding Rust target aarch64-unknown-linux-gnu"
    rustup target add aarch64-unknown-linux-gnu
else
    echo "setup-aarch64: Rust target aarch64-unknown-linux-gnu present"
fi
