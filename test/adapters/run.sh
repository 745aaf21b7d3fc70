#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make test-adapters: faultless as jemalloc's and mimalloc's page source.
# Usage: test/adapters/run.sh BUILD_DIR. Prints "adapters: N passed, N failed".
set -u
b=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0 skipped=0
ok() { echo "adapters: ok   $1"; passed=$((passed + 1)); }
bad() { echo "adapters: FAIL $1"; failed=$((failed + 1)); }
skip() { echo "adapters: skipped $1: $2"; skipped=$((skipped + 1)); }
libdir=/usr/lib/x86_64-linux-gnu
je=$libdir/libjemalloc.so.2 mi=$libdir/libmimalloc.so.2
fj=$b/libfaultless-jemalloc.so fm=$b/libfaultless-mimalloc.so
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run NAME TIMEOUT ENV... -- CMD...: pass when CMD exits 0 within TIMEOUT s.
run() {
  local name=$1 t=$2
  shift 2
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  if timeout "$t" env "${envs[@]}" "$@" >"$tmp/out" 2>&1; then ok "$name"; else
    bad "$name (exit $?)"; tail -n 5 "$tmp/out"; fi
  grep -E '^hooks: [a-z_]+ +[0-9]+ calls|faults' "$tmp/out" | sed 's/^/    /'
}

if [ -r "$je" ]; then
  # Both orders: the adapter first also catches arenas.create (mallctl).
  run "jemalloc hooks, adapter first" 30 FAULTLESS_PREFAULT=64M LD_PRELOAD="$fj $je" -- "$b/test/adapters/hooks"
  run "jemalloc hooks, jemalloc first" 30 FAULTLESS_PREFAULT=64M LD_PRELOAD="$je $fj" -- "$b/test/adapters/hooks"
  run "jemalloc+faultless: 100 buffers in warm memory" 60 FAULTLESS_PREFAULT=160M LD_PRELOAD="$fj $je" -- "$b/test/adapters/warm" 100
  run "test/stress.c on jemalloc+faultless" 60 LD_PRELOAD="$fj $je" -- "$b/test/adapters/stress-malloc" 4 20000
  if grep -qE 'peak_in_use [1-9]' "$tmp/out"; then ok "jemalloc's extents came from faultless"; else
    bad "jemalloc's extents came from faultless"; fi
else
  skip "jemalloc" "$je not installed (Debian package libjemalloc2)"
fi
if [ -r "$mi" ]; then
  run "test/stress.c on mimalloc+faultless" 60 FAULTLESS_PREFAULT=64M LD_PRELOAD="$mi $fm" -- "$b/test/adapters/stress-malloc" 4 20000
  FAULTLESS_VERBOSE=1 FAULTLESS_PREFAULT=64M LD_PRELOAD="$mi $fm" timeout 10 sleep 0.5 2>"$tmp/v"
  if grep -q 'mimalloc 2\.[0-9.]*: region' "$tmp/v"; then ok "mimalloc took warm regions"; else
    bad "mimalloc took warm regions"; cat "$tmp/v"; fi
  if grep -q "warmed 32 of 32 MiB of another allocator's memory" "$tmp/v"; then
    ok "mimalloc's first segment warmed"; else bad "mimalloc's first segment warmed"; cat "$tmp/v"; fi
  run "mimalloc+faultless: 100 buffers in warm memory" 60 FAULTLESS_PREFAULT=160M LD_PRELOAD="$mi $fm" -- "$b/test/adapters/warm" 100
else
  skip "mimalloc" "$mi not installed (Debian package libmimalloc2.0)"
fi

# faultless run --with: the adapter and the allocator preloaded, in order.
for a in jemalloc mimalloc; do
  [ -r "$libdir/lib$a.so.2" ] || continue
  out=$("$b/faultless" run --with $a --prefault 32M --verbose -- /bin/echo ran 2>&1)
  if printf '%s\n' "$out" | grep -q "LD_PRELOAD=.*libfaultless-$a.so" &&
    printf '%s\n' "$out" | grep -q "lib$a.so.2" && printf '%s\n' "$out" | grep -qx ran; then
    ok "faultless run --with $a"; else bad "faultless run --with $a"; printf '%s\n' "$out" | tail -n 3; fi
done

# Versions whose interface differs: one "faultless:" line, the program runs on.
fake=$b/test/adapters/libfake_allocator.so
for a in jemalloc mimalloc; do
  out=$(LD_PRELOAD="$fake $b/libfaultless-$a.so" /bin/echo ran 2>&1)
  if [ "$(printf '%s\n' "$out" | grep -c '^faultless: .*not attached')" = 1 ] &&
    printf '%s\n' "$out" | grep -qx ran; then ok "$a of another version refused, program ran"; else
    bad "$a of another version refused, program ran"; printf '%s\n' "$out"; fi
done

# Node + apache-arrow: V8's ArrayBuffers come from the process's malloc, so
# the route to warm memory is faultless's malloc (libfaultless.so); node
# keeps glibc malloc otherwise (it is not built with jemalloc), and with
# jemalloc or mimalloc preloaded the adapters serve it the same way.
nodedir=$here/../programs/node
if ! why=$("$nodedir/ensure.sh"); then
  skip "node + apache-arrow" "$why"
else
  js=("$nodedir/arrow.mjs" 1000000 1)
  node "${js[@]}" >"$tmp/plain" 2>/dev/null
  for mode in "libfaultless.so:$b/libfaultless.so" "jemalloc+faultless:$fj $je" "mimalloc+faultless:$mi $fm"; do
    name=${mode%%:*} pre=${mode#*:}
    FAULTLESS_PREFAULT=128M FAULTLESS_STATS=1 LD_PRELOAD="$pre" timeout 60 node "${js[@]}" >"$tmp/out" 2>"$tmp/err"
    if cmp -s "$tmp/plain" "$tmp/out" && [ -s "$tmp/out" ]; then ok "node + apache-arrow on $name: same output"; else
      bad "node + apache-arrow on $name: same output"; tail -n 3 "$tmp/err"; fi
  done
fi
echo "adapters: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
