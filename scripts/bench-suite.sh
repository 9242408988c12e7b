#!/usr/bin/env bash
# The main job: the whole suite through `tierjit bench`, side by side with the
# peers (lua5.4, luajit -joff, luajit, gcc -O2) of ../shared/peers, at the
# default sizes, then the mixed workload (programs/mixed.tj, no peers: the
# case for tiering), then the programs written in Lark (programs/lang/*.lark,
# the reference language) against their Lua and C versions (the suite's for
# the seven suite programs, benches/peers for the others). Installs what it
# needs. Usage:
#   scripts/bench-suite.sh [--tiers interp,...] [--runs N] [extra bench flags]
set -euo pipefail
cd "$(dirname "$0")/.."
peers=${TIERJIT_PEERS:-../shared/peers}
if ! command -v lua5.4 >/dev/null || ! command -v luajit >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq lua5.4 luajit >/dev/null
  else
    echo "note: lua5.4/luajit missing; install them to compare against Lua" >&2
  fi
fi
bin=target/peers-bin
mkdir -p "$bin"
for dir in "$peers" benches/peers; do
  [ -d "$dir/c" ] || continue
  for c in "$dir"/c/*.c; do
    n=$(basename "$c" .c)
    [ "$bin/$n.O2" -nt "$c" ] || gcc -O2 -march=native -o "$bin/$n.O2" "$c" -lm
  done
done
cargo build --release --quiet
target/release/tierjit bench --peers "$peers" --peer-bin "$bin" "$@" \
  programs/fib.tj programs/loop.tj programs/sieve.tj programs/nbody.tj \
  programs/mandelbrot.tj programs/spectralnorm.tj programs/matmul.tj \
  programs/mixed.tj
echo
echo "# Lark programs (programs/lang)"
exec target/release/tierjit bench --peers "$peers" --peers benches/peers \
  --peer-bin "$bin" "$@" programs/lang/*.lark
