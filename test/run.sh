#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run test programs, echo their output, and total their "N passed, N failed"
# lines. Usage: test/run.sh LABEL CMD... (each CMD one word: a program path)
set -u
label=$1
shift
passed=0 failed=0 skipped=0 crashed=0
for t in "$@"; do
  out=$("$t" 2>&1)
  rc=$?
  printf '%s\n' "$out" | grep -v '^stress: round'
  line=$(printf '%s\n' "$out" | grep -E '^[a-z-]+: [0-9]+ passed, [0-9]+ failed' | tail -n 1)
  if [ -z "$line" ] || [ $rc -ne 0 ]; then
    [ -z "$line" ] && echo "$label: $t crashed or printed no result (exit $rc)"
    crashed=$((crashed + 1))
  fi
  p=$(printf '%s' "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
  f=$(printf '%s' "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
  k=$(printf '%s' "$line" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p')
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
  skipped=$((skipped + ${k:-0}))
done
failed=$((failed + crashed))
if [ $skipped -gt 0 ]; then
  echo "$label: $passed passed, $failed failed, $skipped skipped"
else
  echo "$label: $passed passed, $failed failed"
fi
# make test adds up every step's line at the end
if [ -n "${TEST_LOG_DIR:-}" ]; then
  mkdir -p "$TEST_LOG_DIR" && echo "$passed $failed" >"$TEST_LOG_DIR/$label"
fi
[ $failed -eq 0 ]
