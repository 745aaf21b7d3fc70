#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make test: every step in TEST_STEPS (test/build.mk and the fragments that
# add to it), each in its own make, then one total line. A step that fails
# does not stop the others; the exit status says whether any did. Each step's
# last "N passed, N failed[, N skipped]" line is its total; a check that
# cannot run here is counted as skipped, and its "skipped" line (what and
# why) is repeated under the total, so that nothing is silently left out.
set -u
read -r -a steps < <(make --no-print-directory -s print-test-steps)
status=0
p=0 f=0 k=0
reasons=()
total_re='(^|.*[^0-9])([0-9]+) passed, ([0-9]+) failed(, ([0-9]+) skipped)?'
for s in "${steps[@]}"; do
  echo "== make $s"
  start=$(date +%s)
  out=$(make --no-print-directory "$s" 2>&1)
  rc=$?
  printf '%s\n' "$out" | grep -vE '^(cc|g\+\+|ar|clang) '
  last=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
  sp=$(printf '%s' "$last" | sed -nE "s/$total_re.*/\\2/p")
  sf=$(printf '%s' "$last" | sed -nE "s/$total_re.*/\\3/p")
  sk=$(printf '%s' "$last" | sed -nE "s/$total_re.*/\\5/p")
  p=$((p + ${sp:-0}))
  f=$((f + ${sf:-0}))
  k=$((k + ${sk:-0}))
  while IFS= read -r line; do
    [ -n "$line" ] && reasons+=("$s: $line")
  done < <(printf '%s\n' "$out" | grep -E '^([a-z0-9-]+: )?skipped[: ]')
  if [ $rc -ne 0 ]; then
    status=1
    echo "== make $s FAILED (exit $rc)"
    [ "${sf:-0}" -eq 0 ] && f=$((f + 1))
  fi
  echo "== make $s: $(($(date +%s) - start)) s"
done
echo "total: $p passed, $f failed, $k skipped"
for r in "${reasons[@]+"${reasons[@]}"}"; do
  echo "  $r"
done
exit $status
