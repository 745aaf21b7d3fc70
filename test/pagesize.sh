#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# faultless on 16, 64 and 256 KiB page kernels, pretended through the test
# builds' FAULTLESS_TEST_PAGE_SIZE (mk/pagesize.mk builds them): with 16 and
# 64 KiB pages the arena works, every memory call aligned to those pages (the
# library aborts on one that is not); with 256 KiB pages, larger than a slice,
# every call goes to the system allocator and stderr says so in one line.
# Usage: test/pagesize.sh BUILD SECURE_BUILD (TEST_HOOKS=1 builds)
set -u
B=$1
S=$2
. "$(dirname "$0")/checks.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A test program's own "N passed, N failed" line must show no failure.
suite() { # NAME PAGE CMD...
  local name=$1 page=$2
  shift 2
  FAULTLESS_TEST_PAGE_SIZE=$page "$@" >"$tmp/out" 2>&1
  local rc=$? line
  line=$(grep -E '^[a-z-]+: [0-9]+ passed, [0-9]+ failed' "$tmp/out" | tail -n 1)
  if [ $rc -eq 0 ] && [ -n "$line" ] && [ "${line% failed}" != "$line" ] &&
    [ "$(printf '%s' "$line" | sed -E 's/.* ([0-9]+) failed/\1/')" = 0 ]; then
    ok "$name, $((page / 1024)) KiB pages: $line"
  else
    fail "$name, $((page / 1024)) KiB pages (exit $rc): ${line:-no result}"
    grep -E 'check failed|test page size|child said' "$tmp/out" | head -n 5
  fi
}

# A real program under LD_PRELOAD: Python's big and small objects. Debian's
# python3 itself (scripts/setup), not a wrapper that starts more processes,
# each of which would print its own line.
python=/usr/bin/python3
py='a = [bytes(i % 251 for i in range(100000)) for _ in range(40)]
b = bytearray(48 << 20)
b[-1] = 7
print(sum(len(x) for x in a) + len(b) + b[-1])'
want=$((40 * 100000 + (48 << 20) + 7))
python_under() { # PAGE LIB -> stdout in $tmp/py, stderr in $tmp/py.err
  FAULTLESS_TEST_PAGE_SIZE=$1 LD_PRELOAD=$2 $python -c "$py" >"$tmp/py" 2>"$tmp/py.err"
}

for page in 16384 65536; do
  suite "pagesize arena" $page "$B/test/pagesize" arena
  suite "pagesize arena, secure build (guard = 1 page)" $page "$S/test/pagesize" arena
  for t in api budget classes stress limits; do
    suite "$t" $page "$B/test/$t"
  done
  suite "api, secure build" $page "$S/test/api"
  if [ ! -x $python ]; then
    echo "pagesize: skipped python3 under LD_PRELOAD: no $python (scripts/setup installs it)"
  elif python_under $page "$(pwd)/$B/libfaultless.so" && [ "$(cat "$tmp/py")" = "$want" ] &&
    [ ! -s "$tmp/py.err" ]; then
    ok "python3 under LD_PRELOAD, $((page / 1024)) KiB pages: $want, nothing on stderr"
  else
    fail "python3 under LD_PRELOAD, $((page / 1024)) KiB pages: got '$(cat "$tmp/py")'"
    head -n 5 "$tmp/py.err"
  fi
done

# 256 KiB pages: passthrough, and exactly one line naming faultless and why.
one_line() { # FILE
  [ "$(grep -c . "$1")" = 1 ] && grep -q '^faultless: the page size is 256 KiB, larger than' "$1" &&
    grep -q 'PASSTHROUGH' "$1"
}
FAULTLESS_TEST_PAGE_SIZE=262144 "$B/test/pagesize" passthrough >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ] && grep -q '^pagesize: [0-9]* passed, 0 failed' "$tmp/out" && one_line "$tmp/err"; then
  ok "256 KiB pages: the system allocator serves fl_*; stderr: $(cat "$tmp/err")"
else
  fail "256 KiB pages, fl_* (exit $rc)"
  cat "$tmp/out" "$tmp/err" | head -n 8
fi
if [ -x $python ]; then
  if python_under 262144 "$(pwd)/$B/libfaultless.so" && [ "$(cat "$tmp/py")" = "$want" ] &&
    one_line "$tmp/py.err"; then
    ok "256 KiB pages: python3 under LD_PRELOAD answers $want, one line on stderr"
  else
    fail "256 KiB pages: python3 under LD_PRELOAD: got '$(cat "$tmp/py")'"
    head -n 5 "$tmp/py.err"
  fi
fi
report pagesize
