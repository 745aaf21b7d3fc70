#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The arm64 build under qemu-user, for correctness, not speed: the unit
# suites (api budget classes stress limits), the malloc override preloaded
# and linked in, and the seed's experiment through fl_* and through the
# preloaded libfaultless.so. Usage: test/arm64.sh [BUILD] (default build-arm64;
# mk/arm64.mk builds it first).
#
# What qemu-user cannot do is skipped inside the suites with the reason
# (test/limits.c): it passes no madvise but MADV_DONTNEED to the kernel, so
# huge pages are the host's choice; and it ignores setrlimit(RLIMIT_AS),
# which the limits suite then sets with prlimit on the emulator itself.
set -u
B=${1:-build-arm64}
prefix=/usr/aarch64-linux-gnu
. "$(dirname "$0")/checks.sh"
qemu=$(command -v qemu-aarch64)
if [ -z "$qemu" ] || [ ! -d $prefix/lib ]; then
  fail "qemu-aarch64 or $prefix missing: scripts/setup installs qemu-user and libc6-dev-arm64-cross"
  report arm64
  exit 1
fi
run() { "$qemu" -L $prefix "$@"; }
# The suites re-run themselves (limits) through this.
export FAULTLESS_TEST_EMULATOR="$qemu -L $prefix"
lib=$(cd "$B" && pwd)/libfaultless.so
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A suite passes when it exits 0 and its last "N passed, N failed" line
# shows no failure; its skip lines are shown. An x86 program the override
# test starts inherits the arm64 LD_PRELOAD, which the host's loader
# reports and ignores: that line is not the library's.
suite() { # NAME CMD...
  local name=$1
  shift
  run "$@" >"$tmp/out" 2>&1
  local rc=$? line
  line=$(grep -E '^[a-z-]+: [0-9]+ passed, [0-9]+ failed' "$tmp/out" | tail -n 1)
  grep -E '^[a-z-]+: skipped' "$tmp/out"
  if [ $rc -eq 0 ] && [[ "$line" =~ \ 0\ failed$ ]]; then
    ok "$name: $line"
  else
    fail "$name (exit $rc): ${line:-no result}"
    grep -vE '^stress: round|cannot be preloaded' "$tmp/out" | grep -E 'check failed|said|rror|qemu' |
      head -n 8
  fi
}

for t in api budget classes stress limits; do
  suite "$t" "$B/test/$t"
done
suite "override, preloaded" -E LD_PRELOAD="$lib" "$B/test/override-preload"
suite "override, linked in" "$B/test/override-static"

# The seed's experiment: 8 buffers of 4 MiB, painted twice. Each row of the
# first pass sees size / page new pages, the second none (the same memory
# again); faults per buffer are the figure, not a check (qemu-user is slow
# and the warmers run at idle priority on a shared machine).
seed_check() { # NAME FILE
  local name=$1 f=$2 page rows new1 new2 flt1
  page=$(sed -nE 's/^# seed .*page_size=([0-9]+).*/\1/p' "$f")
  rows=$(grep -cE '^0,[12],' "$f")
  new1=$(awk -F, '$2 == 1 {print $7}' "$f" | sort -u | tr '\n' ' ')
  new2=$(awk -F, '$2 == 2 {print $7}' "$f" | sort -u | tr '\n' ' ')
  flt1=$(awk -F, '$2 == 1 {s += $5} END {printf "%.0f", s / 8}' "$f")
  if [ -n "$page" ] && [ "$rows" = 16 ] && [ "$new1" = "$((4194304 / page)) " ] && [ "$new2" = "0 " ]; then
    ok "$name: 16 rows; first pass $((4194304 / page)) new pages per buffer, second none; faults per buffer in the first pass: $flt1"
  else
    fail "$name: rows=$rows page=$page first-pass new pages '$new1', second '$new2'"
    head -n 5 "$f"
  fi
}
seed_args=(--chunks 8 --size 4M --iterations 2 --setup-ms 300)
if run "$B/bench/seed" --api fl --prefault 48M "${seed_args[@]}" >"$tmp/fl" 2>"$tmp/fl.err"; then
  seed_check "seed --api fl --prefault 48M" "$tmp/fl"
else
  fail "seed --api fl exited $?: $(head -c 300 "$tmp/fl.err")"
fi
# Through the preloaded library: its stats at exit show it served the buffers.
if run -E LD_PRELOAD="$lib" -E FAULTLESS_PREFAULT=48M -E FAULTLESS_STATS=1 \
  "$B/bench/seed" --api malloc "${seed_args[@]}" >"$tmp/pre" 2>"$tmp/pre.err"; then
  seed_check "seed --api malloc, libfaultless.so preloaded" "$tmp/pre"
  peak=$(awk '$1 == "peak_in_use" {print $2}' "$tmp/pre.err" | sort -n | tail -n 1)
  if [ "${peak:-0}" -ge $((4 << 20)) ]; then
    ok "the preloaded library served malloc: peak_in_use $peak"
  else
    fail "the preloaded library's stats show no 4 MiB buffer (peak_in_use '${peak:-none}')"
    head -n 5 "$tmp/pre.err"
  fi
else
  fail "seed --api malloc preloaded exited $?: $(head -c 300 "$tmp/pre.err")"
fi
report arm64
