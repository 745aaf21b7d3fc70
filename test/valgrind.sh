#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Valgrind memcheck sees through faultless: under valgrind the library routes
# every call to the system allocator (PASSTHROUGH=auto), so leaks and invalid
# accesses are reported as without faultless. Also PASSTHROUGH=1 by hand.
set -u
B=${1:-build}
pass=0 fail=0
check() { # check NAME COND...
  local name=$1
  shift
  if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "valgrind: FAILED: $name"; fi
}
if ! command -v valgrind >/dev/null; then
  echo "valgrind: skipped: valgrind is not installed (Debian package valgrind; scripts/setup)"
  echo "valgrind: 0 passed, 0 failed, 1 skipped"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
lib=$(cd "$B" && pwd)/libfaultless.so
vg=(valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=9 --quiet)

# fl_* API, library linked statically
"${vg[@]}" "$B/test/valgrind-target" fl >"$tmp/fl.out" 2>"$tmp/fl.err"
check "fl: errors make valgrind exit 9" test $? -eq 9
check "fl: the leak is reported" grep -q "1,234 bytes in 1 blocks are definitely lost" "$tmp/fl.err"
check "fl: the invalid read is reported" grep -q "Invalid read of size 1" "$tmp/fl.err"
check "fl: the read is 0 bytes after a 40-byte block" grep -q "0 bytes after a block of size 40 alloc'd" "$tmp/fl.err"
check "fl: no arena under valgrind" grep -q "reserved=0" "$tmp/fl.out"

# plain malloc, faultless preloaded
LD_PRELOAD="$lib" "${vg[@]}" "$B/test/valgrind-target" malloc >"$tmp/m.out" 2>"$tmp/m.err"
check "preload: errors make valgrind exit 9" test $? -eq 9
check "preload: the leak is reported" grep -q "1,234 bytes in 1 blocks are definitely lost" "$tmp/m.err"
check "preload: the invalid read is reported" grep -q "Invalid read of size 1" "$tmp/m.err"

# the switch by hand, without valgrind: the program runs on the system allocator
FAULTLESS_PASSTHROUGH=1 "$B/test/valgrind-target" fl >"$tmp/p.out" 2>&1
check "PASSTHROUGH=1 runs" test $? -eq 0
check "PASSTHROUGH=1: no arena" grep -q "reserved=0" "$tmp/p.out"
FAULTLESS_PASSTHROUGH=1 LD_PRELOAD="$lib" sh -c 'x=$(seq 1 2000 | sort -n | tail -1); test "$x" = 2000'
check "PASSTHROUGH=1 preloaded into a shell pipeline" test $? -eq 0
"$B/test/valgrind-target" fl >"$tmp/n.out" 2>&1
check "without valgrind the arena is used" grep -qE '^reserved=[1-9][0-9]*$' "$tmp/n.out"

[ $fail -ne 0 ] && sed -n 1,40p "$tmp/fl.err"
echo "valgrind: $pass passed, $fail failed"
[ $fail -eq 0 ]
