# SPDX-License-Identifier: MIT
# Shared by the shell test scripts (sourced, POSIX sh): count checks and
# report them as "LABEL: N passed, N failed" (", N skipped" when some were).
#   check NAME CMD...   CMD must succeed
#   ok [MSG] / fail MSG count one by hand (ok prints "ok   MSG" when given one)
#   skip NAME WHY       a check that cannot run here: counted and said why
#   report LABEL        print the closing line; returns non-zero on failures
passed=0
failed=0
skipped=0
ok() {
  passed=$((passed + 1))
  [ $# -eq 0 ] || echo "ok   $*"
}
skip() {
  skipped=$((skipped + 1))
  echo "skipped: $1: $2"
}
fail() {
  failed=$((failed + 1))
  echo "FAIL: $*" >&2
}
check() {
  name=$1
  shift
  if "$@"; then ok; else fail "$name"; fi
}
report() {
  if [ "$skipped" -gt 0 ]; then
    echo "$1: $passed passed, $failed failed, $skipped skipped"
  else
    echo "$1: $passed passed, $failed failed"
  fi
  [ "$failed" -eq 0 ]
}
