#!/usr/bin/env bash
# make test: every suite, each in its own make step, then one total line.
# A step that fails does not stop the others; the exit status says if any did.
set -u
steps=(test-unit test-asan test-tsan test-override)
grep -q '^test-cli:' cli/build.mk 2>/dev/null && steps+=(test-cli)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
for s in "${steps[@]}"; do
  echo "== make $s"
  start=$(date +%s)
  make --no-print-directory "$s" 2>&1 | grep -vE '^(cc|g\+\+|ar) ' | tee -a "$log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || { status=1; echo "== make $s FAILED"; }
  echo "== make $s: $(($(date +%s) - start)) s"
done
# Each step ends with one summary line labelled by the step (unit, unit-asan,
# unit-tsan, override, cli): add those up.
read -r p f < <(grep -E '^(unit|unit-asan|unit-tsan|override|cli): [0-9]+ passed, [0-9]+ failed' "$log" |
  sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\1 \2/' | awk '{p+=$1; f+=$2} END {print p+0, f+0}')
[ $status -ne 0 ] && [ "$f" -eq 0 ] && f=1
echo "total: $p passed, $f failed"
exit $status
