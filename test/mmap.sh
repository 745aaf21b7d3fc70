#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# MMAP's checks (mk/mmap.mk): the semantics program in the release build and
# under TSan, the option's rule from the environment, and the shared
# library's own mmap under LD_PRELOAD. Usage: test/mmap.sh BUILD TSAN_BUILD
set -u
B=${1:-build}
T=${2:-build-tsan}
lib=$(cd "$B" && pwd)/libfaultless.so
passed=0 failed=0
check() {
  local what=$1
  shift
  if "$@"; then
    echo "ok   $what"
    passed=$((passed + 1))
  else
    echo "FAIL $what"
    failed=$((failed + 1))
  fi
}
unset FAULTLESS_PREFAULT FAULTLESS_MMAP FAULTLESS_AHEAD FAULTLESS_WARMERS FAULTLESS_STATS
# The warmers do only this program's mappings: no arena prefault, no warming
# ahead. Two warmers, so that two populate at once.
run_semantics() {
  local bin=$1 out
  out=$(FAULTLESS_MMAP=1 FAULTLESS_PREFAULT=0 FAULTLESS_AHEAD=0 FAULTLESS_WARMERS=2 \
    TSAN_OPTIONS=halt_on_error=1:exitcode=66 "$bin" semantics 2>&1)
  local rc=$?
  printf '%s\n' "$out" | grep -v '^mmap: [0-9]* passed' | sed 's/^/  /'
  printf '%s\n' "$out" | grep -qE '^mmap: [0-9]+ passed, 0 failed(, [0-9]+ skipped)?$' && [ $rc -eq 0 ]
}
check "semantics (release build): tracked ranges warmed; files, shared, PROT_NONE and replaced ranges untouched; data kept" \
  run_semantics "$B/test/mmap"
check "semantics under TSan: the same, no report" run_semantics "$T/test/mmap"
check "the rule and the values (unit)" sh -c "'$B/test/mmap' rule | grep -q '^mmap-rule: [0-9]* passed, 0 failed\$'"

# One mode of test/mmap in a process of its own: its details indented, one
# check from its total line. Usage: alone MODE DESCRIPTION [VAR=VALUE...]
alone() {
  local mode=$1 what=$2 out
  shift 2
  out=$(env FAULTLESS_MMAP=1 FAULTLESS_PREFAULT=0 FAULTLESS_AHEAD=0 "$@" "$B/test/mmap" "$mode" 2>&1)
  printf '%s\n' "$out" | grep -v "^mmap-$mode: [0-9]* passed" | sed 's/^/  /'
  check "$what" sh -c 'printf "%s\n" "$2" | grep -q "^mmap-$1: [0-9]* passed, 0 failed\$"' _ "$mode" "$out"
}
alone share "a prefault is a total: memory warmed in the program's own mappings leaves the arena the rest" \
  FAULTLESS_WARMERS=1
alone busy "a prefault is warmed while another thread keeps mapping, and blocks filled meanwhile keep their bytes" \
  FAULTLESS_WARMERS=1
alone budget "a 40 MiB budget: eight 16 MiB ranges mapped, warmed and unmapped in turn, each warmed" \
  FAULTLESS_BUDGET=40M

# mmap_ranges at exit of a process that maps 8 MiB, under the given env.
ranges() {
  env "$@" FAULTLESS_STATS=json "$B/test/mmap" probe 2>&1 >/dev/null |
    sed -n 's/.*"mmap_ranges": \([0-9]*\).*/\1/p'
}
check "auto, PREFAULT unset: off (mmap_ranges 0)" test "$(ranges)" = 0
check "auto, PREFAULT=0 in the environment: on" test "$(ranges FAULTLESS_PREFAULT=0)" -gt 0
check "auto, PREFAULT=64M: on" test "$(ranges FAULTLESS_PREFAULT=64M)" -gt 0
check "MMAP=0 with PREFAULT=64M: off" test "$(ranges FAULTLESS_PREFAULT=64M FAULTLESS_MMAP=0)" = 0
check "MMAP=1 without PREFAULT: on" test "$(ranges FAULTLESS_MMAP=1)" -gt 0
check "WARMERS=0: off whatever MMAP says" test "$(ranges FAULTLESS_MMAP=1 FAULTLESS_WARMERS=0)" = 0
bad=$(FAULTLESS_MMAP=sometimes FAULTLESS_STATS=json "$B/test/mmap" probe 2>&1 >/dev/null)
check "a bad value is reported once and ignored (auto: off here)" sh -c '
  test "$(printf "%s\n" "$1" | grep -c "MMAP")" = 1 &&
  printf "%s\n" "$1" | grep -q "\"mmap_ranges\": 0"' _ "$bad"

# The shared library's own mmap: python3's mmap module calls it through libc's
# symbol, which the preloaded library takes.
if command -v python3 >/dev/null; then
  out=$(LD_PRELOAD=$lib FAULTLESS_MMAP=1 FAULTLESS_PREFAULT=0 FAULTLESS_STATS=json python3 -c '
import mmap, time
m = mmap.mmap(-1, 64 << 20)
time.sleep(0.5)
m[0:4] = b"abcd"
assert m[0:4] == b"abcd" and m[(64 << 20) - 1] == 0
' 2>&1)
  check "LD_PRELOAD: python3's anonymous mmap tracked and warmed, its data kept" sh -c '
    printf "%s\n" "$1" | grep -qE "\"mmap_ranges\": [1-9]" &&
    printf "%s\n" "$1" | grep -qE "\"mmap_warmed\": [1-9]"' _ "$out"
else
  echo "mmap: skipped LD_PRELOAD check: no python3"
fi
echo "mmap: $passed passed, $failed failed"
[ $failed -eq 0 ]
