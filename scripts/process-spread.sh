#!/usr/bin/env bash
# How much a program's time varies from one process to the next: runs each
# program N times per tier, each run a separate process, and prints per
# program and tier the min, median and max of its CPU seconds (user + sys)
# and of its wall seconds, and max/min. A single `tierjit bench` process
# cannot see this spread (its runs share one address layout); see
# docs/architecture.md, "Measuring".
#
# Runs are interleaved (round by round, every program under every tier in
# each round) so that the machine's noise spreads evenly over all of them.
# Prefer the CPU column on a shared machine: wall time also counts the time
# other processes held the core.
#
# A control tells the machine's own noise apart from tierjit's: a native
# program (say the C peer compiled with gcc -O2) run in the same rounds has
# no JIT and no address-layout dependence of ours, so its max/min is the
# floor this machine allows.
#
# With --in-process K each tierjit process runs the program K times
# (`tierjit bench --runs K`): its wall column is then the median of those
# runs, its CPU column the process's CPU seconds / K. A process's address
# layout is fixed for its life, so this measures the speed a layout gives,
# with the machine's bursts of load (shorter than a process) filtered out.
#
# Usage:
#   scripts/process-spread.sh [--runs N] [--tier T]... [--bin PATH]
#                             [--control NAME=COMMAND]... [--in-process K]
#                             [--raw FILE] PROGRAM.tj...
#   --runs N     processes per program and tier (default 20)
#   --tier T     a tier to run (repeatable; default: template and cranelift)
#   --bin PATH   the tierjit binary (default: target/release/tierjit, built
#                here with `cargo build --release` if missing)
#   --control NAME=COMMAND
#                also run COMMAND (split on spaces) once a round, reported
#                as program NAME, tier `native` (repeatable)
#   --in-process K
#                run each tierjit process's program K times (see above)
#   --raw FILE   also write one line per process: program tier cpu wall
set -euo pipefail
cd "$(dirname "$0")/.."

runs=20
tiers=()
bin=
raw=
repeat=
controls=()
programs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --tier) tiers+=("$2"); shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --raw) raw=$2; shift 2 ;;
    --in-process) repeat=$2; shift 2 ;;
    --control)
      case "$2" in
        ?*=?*) controls+=("$2") ;;
        *) echo "process-spread: --control wants NAME=COMMAND, not '$2'" >&2; exit 2 ;;
      esac
      shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "process-spread: unknown option $1" >&2; exit 2 ;;
    *) programs+=("$1"); shift ;;
  esac
done
[ ${#programs[@]} -gt 0 ] || { echo "process-spread: no program given (--help)" >&2; exit 2; }
[ ${#tiers[@]} -gt 0 ] || tiers=(template cranelift)
if [ -z "$bin" ]; then
  bin=target/release/tierjit
  [ -x "$bin" ] || cargo build --release --quiet
fi
[ -x "$bin" ] || { echo "process-spread: $bin is not executable" >&2; exit 2; }
case "$repeat" in
  '' | [1-9] | [1-9][0-9]) ;;
  *) echo "process-spread: --in-process wants 1 to 99 runs, not '$repeat'" >&2; exit 2 ;;
esac
command -v /usr/bin/time >/dev/null || { echo "process-spread: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
data=$work/data
: >"$data"
# One process of command "$4"... as program $1, tier $2, running the
# program $3 times (its CPU seconds are divided by that).
measure() {
  local name=$1 tier=$2 times=$3
  shift 3
  if ! /usr/bin/time -f '%U %S %e' -o "$work/time" "$@" >"$work/out" 2>"$work/err"; then
    echo "process-spread: $* failed:" >&2
    cat "$work/err" "$work/time" >&2
    exit 1
  fi
  # The last line: `time` puts a note above it when the command failed.
  read -r user sys wall < <(tail -n 1 "$work/time")
  if [ -n "$repeat" ] && [ "$tier" != native ]; then
    # bench's table row: | program | args | median (ratio) | compile |
    wall=$(awk -F'|' '$2 ~ /[^ ]/ && $4 ~ /^ *[0-9.]+ / { split($4, f, " "); print f[1]; exit }' "$work/out")
    [ -n "$wall" ] || { echo "process-spread: no time in bench's output:" >&2; cat "$work/out" >&2; exit 1; }
  fi
  echo "$name $tier $(awk -v u="$user" -v s="$sys" -v n="$times" 'BEGIN { printf "%.3f", (u + s) / n }') $wall" >>"$data"
}
for ((round = 1; round <= runs; round++)); do
  for p in "${programs[@]}"; do
    for t in "${tiers[@]}"; do
      if [ -n "$repeat" ]; then
        measure "$(basename "$p" .tj)" "$t" "$repeat" "$bin" bench --tiers "$t" --runs "$repeat" "$p"
      else
        measure "$(basename "$p" .tj)" "$t" 1 "$bin" run --tier "$t" "$p"
      fi
    done
  done
  for c in "${controls[@]}"; do
    # shellcheck disable=SC2086 # the command is split on spaces
    measure "${c%%=*}" native 1 ${c#*=}
  done
  printf '\rround %d/%d' "$round" "$runs" >&2
done
printf '\r%*s\r' 20 '' >&2
[ -z "$raw" ] || cp "$data" "$raw"

# Per program and tier: min, median, max and max/min of both columns.
printf '%-14s %-10s %5s  %-31s %-31s\n' program tier runs \
  'cpu s: min med max (max/min)' 'wall s: min med max (max/min)'
sort -k1,1 -k2,2 -s "$data" | awk '
  function stats(v, n,   i, j, x, med) {
    for (i = 2; i <= n; i++) { x = v[i]; for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
    med = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    return sprintf("%.3f %.3f %.3f (%.2f)", v[1], med, v[n], v[1] > 0 ? v[n] / v[1] : 0)
  }
  function flush() {
    if (n) printf "%-14s %-10s %5d  %-31s %-31s\n", prog, tier, n, stats(cpu, n), stats(wall, n)
    n = 0
  }
  $1 != prog || $2 != tier { flush(); prog = $1; tier = $2 }
  { n++; cpu[n] = $3; wall[n] = $4 }
  END { flush() }'
