# SPDX-License-Identifier: MIT
# Shared by the shell test scripts (sourced, POSIX sh): count checks and
# report them as "LABEL: N passed, N failed".
#   check NAME CMD...   CMD must succeed
#   ok / fail MSG       count one by hand
#   report LABEL        print the closing line; returns non-zero on failures
passed=0
failed=0
ok() { passed=$((passed + 1)); }
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
  echo "$1: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
