#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-programs: real programs under faultless. Each runs twice, without and
# with libfaultless.so preloaded (through `faultless run`, which sets
# LD_PRELOAD), and the two outputs must be the same -- not only the exit
# status. A program that is not installed is skipped with the reason.
#   test/programs/run.sh [BUILD_DIR]
set -u
B=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
case $B in /*) ;; *) B=$root/$B ;; esac
here=$root/test/programs
fl=$B/faultless
lib=$B/libfaultless.so
py=/usr/bin/python3 # Debian's, not a pyenv shim on PATH
tmp=$(mktemp -d /tmp/faultless-programs.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0 skipped=0
start_all=$(date +%s)

ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() {
  echo "FAIL $1"
  [ -n "${2:-}" ] && printf '%s\n' "$2" | head -n 30 | sed 's/^/     /'
  failed=$((failed + 1))
}
skip() { echo "skipped: $1: $2"; skipped=$((skipped + 1)); }

# same NAME DIR CMD...: run CMD in DIR/plain and DIR/faultless (the same
# relative layout), compare stdout and exit status; stderr is kept for the
# report. A filter on stdout can be given in FILTER (a shell command).
same() {
  local name=$1 dir=$2
  shift 2
  local t0 t1 t2 rc0 rc1
  mkdir -p "$dir/plain" "$dir/faultless"
  t0=$(date +%s.%N)
  (cd "$dir/plain" && timeout 200 "$@") >"$dir/plain.out" 2>"$dir/plain.err"
  rc0=$?
  t1=$(date +%s.%N)
  (cd "$dir/faultless" && timeout 200 "$fl" run -- "$@") >"$dir/faultless.out" 2>"$dir/faultless.err"
  rc1=$?
  t2=$(date +%s.%N)
  if [ -n "${FILTER:-}" ]; then
    eval "$FILTER" <"$dir/plain.out" >"$dir/plain.cmp"
    eval "$FILTER" <"$dir/faultless.out" >"$dir/faultless.cmp"
  else
    cp "$dir/plain.out" "$dir/plain.cmp"
    cp "$dir/faultless.out" "$dir/faultless.cmp"
  fi
  local times
  times=$(awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "%.1f s plain, %.1f s faultless", b - a, c - b }')
  if [ $rc0 -ne 0 ]; then
    bad "$name: fails without faultless too (exit $rc0)" "$(tail -n 20 "$dir/plain.err")"
  elif [ $rc1 -ne 0 ]; then
    bad "$name: exit $rc1 with faultless (0 without)" "$(tail -n 20 "$dir/faultless.err")"
  elif ! [ -s "$dir/plain.cmp" ]; then
    bad "$name: no output to compare" "$(tail -n 20 "$dir/plain.err")"
  elif ! cmp -s "$dir/plain.cmp" "$dir/faultless.cmp"; then
    bad "$name: output differs with faultless" "$(diff "$dir/plain.cmp" "$dir/faultless.cmp" | head -n 30)"
  else
    ok "$name ($(wc -l <"$dir/plain.cmp") lines identical; $times)"
  fi
}

# --- The preload is real ---------------------------------------------------
out=$("$fl" run -- "$py" -c 'print(any("libfaultless.so" in l for l in open("/proc/self/maps")))' 2>&1)
[ "$out" = "True" ] && ok "faultless run maps libfaultless.so into the program" || bad "preload is active" "$out"

# --- Library life cycle: dlopen, fork among threads, exiting threads ---------
same "lifecycle (dlopen+TLS, fork from 4 threads, threads exiting with blocks)" "$tmp/lifecycle" "$B/test/programs/lifecycle"

# --- Python with numpy --------------------------------------------------------
if ! [ -x "$py" ]; then
  skip "numpy" "$py not installed (scripts/setup)"
elif ! "$py" -c 'import numpy' 2>/dev/null; then
  skip "numpy" "python3-numpy not installed (scripts/setup)"
else
  same "python3 + numpy: 2 rounds of 16+16 columns of 8 MiB" "$tmp/numpy" "$py" "$here/python/numpy_columns.py" 2 16 1000000
fi

# --- CPython's regression tests ----------------------------------------------
# Compare each test's result (ok / skipped / expected failure / FAIL / ERROR),
# not timings; -v prints one "name (class) ... result" line per test.
cpython_tests="test_dict test_list test_set test_unicode test_bytes test_threading test_gc test_mmap"
if ! [ -d /usr/lib/python3.11/test ] || ! [ -e /usr/lib/python3.11/test/test_dict.py ]; then
  skip "CPython regression tests" "libpython3.11-testsuite not installed (scripts/setup)"
else
  # shellcheck disable=SC2016
  FILTER='grep -aE " \.\.\. (ok|FAIL|ERROR|skipped.*|expected failure|unexpected success)$" | sort' \
    same "CPython regrtest: $cpython_tests" "$tmp/cpython" "$py" -m test -v $cpython_tests
  if [ -s "$tmp/cpython/faultless.out" ]; then
    n=$(wc -l <"$tmp/cpython/faultless.cmp")
    grep -q "^Tests result: SUCCESS" "$tmp/cpython/faultless.out" &&
      ok "CPython regrtest under faultless: Tests result: SUCCESS ($n test cases)" ||
      bad "CPython regrtest under faultless" "$(tail -n 15 "$tmp/cpython/faultless.out")"
  fi
fi

# --- Node.js with apache-arrow -----------------------------------------------
nodedir=$here/node
if ! why=$("$nodedir/ensure.sh"); then
  skip "node + apache-arrow" "$why"
else
  same "node $(node --version) + apache-arrow: 3M-row table -> IPC -> table, 2 rounds" "$tmp/node" node "$nodedir/arrow.mjs" 3000000 2
fi

# --- git ----------------------------------------------------------------------
if ! command -v git >/dev/null; then
  skip "git" "git not installed"
else
  # A generated repository (fixed dates, so the hashes are the same in every
  # run): 400 commits through fast-import, then clone, log, repack and fsck.
  "$py" - "$tmp/gen.fi" <<'PY'
import sys
out = open(sys.argv[1], "w")
mark = 0
for c in range(400):
    mark += 1
    body = "".join(f"line {i} of file {c % 37} at commit {c}\n" for i in range(50 + c % 100))
    out.write(f"blob\nmark :{mark}\ndata {len(body)}\n{body}\n")
    msg = f"commit {c}: touch file {c % 37}\n"
    out.write(f"commit refs/heads/main\nmark :{100000 + c}\n"
              f"author A U Thor <a@example.com> {1700000000 + c * 60} +0000\n"
              f"committer A U Thor <a@example.com> {1700000000 + c * 60} +0000\n"
              f"data {len(msg)}\n{msg}")
    if c:
        out.write(f"from :{100000 + c - 1}\n")
    out.write(f"M 100644 :{mark} dir{c % 5}/file{c % 37}.txt\n\n")
PY
  git_script='set -e
export GIT_CONFIG_NOSYSTEM=1 HOME=$PWD GIT_AUTHOR_DATE=@1700000000 GIT_COMMITTER_DATE=@1700000000
git init -q -b main gen && (cd gen && git fast-import --quiet <"$1" && git checkout -q main)
git clone -q --no-local gen clone
cd clone
git log --stat --format="%H %an %s" | md5sum
git log --format="%H %s" | head -n 5
git rev-list --count HEAD
git repack -q -a -d -f
git count-objects -v | grep -E "^(count|in-pack|packs)"
git fsck --no-progress 2>&1 | wc -l
git log -p --format=%H | md5sum
cd ..
# this repository, when the tree is a git checkout (an exported tarball is not)
if git -C "$2" rev-parse --git-dir >/dev/null 2>&1; then
  git clone -q --no-local "$2" self && cd self && git log --stat --format="%H %s" | md5sum && git ls-files | wc -l
else
  echo "not a git checkout: no clone of this repository"
fi'
  same "git: fast-import 400 commits, clone, log, repack, fsck; clone+log of this repository" \
    "$tmp/git" bash -c "$git_script" git "$tmp/gen.fi" "$root"
fi

# --- sqlite3 -----------------------------------------------------------------
if ! command -v sqlite3 >/dev/null; then
  skip "sqlite3" "sqlite3 not installed (scripts/setup)"
else
  cat >"$tmp/fill.sql" <<'SQL'
CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, price REAL, note TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
INSERT INTO item SELECT i, 'item-' || i, i % 97, (i * 7919 % 10007) / 100.0,
  substr(printf('%05x', i * 48271 % 1048573) || printf('%.*c', i % 200, 'x'), 1, 200) FROM n;
CREATE INDEX item_grp ON item(grp, price);
SELECT count(*), sum(grp), round(sum(price), 2), sum(length(note)) FROM item;
SELECT grp, count(*), round(avg(price), 4), max(name) FROM item GROUP BY grp ORDER BY grp LIMIT 10;
SELECT a.grp, count(*) FROM item a JOIN item b ON a.id = b.id + 1 AND a.grp = b.grp + 1
  GROUP BY a.grp ORDER BY 2 DESC, 1 LIMIT 5;
SELECT name FROM item ORDER BY note DESC, price, id LIMIT 5;
UPDATE item SET note = upper(note) WHERE id % 3 = 0;
DELETE FROM item WHERE id % 5 = 0;
SELECT count(*), sum(length(note)), group_concat(DISTINCT substr(note, 1, 1)) FROM item;
VACUUM;
PRAGMA integrity_check;
SQL
  same "sqlite3 $(sqlite3 --version | cut -d' ' -f1): create, fill and query a 100k-row table" \
    "$tmp/sqlite" bash -c 'rm -f db && sqlite3 db <"$1"' sqlite "$tmp/fill.sql"
fi

# --- gcc compiling one of our own sources ------------------------------------
if ! command -v gcc >/dev/null; then
  skip "gcc" "gcc not installed"
else
  # The same object file, byte for byte (cwd is part of the debug info, so
  # both runs compile from the source tree into their own directory).
  # shellcheck disable=SC2016
  gcc_script='set -e
out=$1; cd "$2"
gcc -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -fPIC -pthread -Iinclude -Isrc -c src/heap.c -o "$out/heap.o"
gcc -std=gnu11 -O2 -Iinclude -Isrc -fPIC -S src/span.c -o "$out/span.s"
md5sum <"$out/heap.o"; md5sum <"$out/span.s"; size "$out/heap.o" | tail -n 1 | cut -f1-4'
  mkdir -p "$tmp/gcc/objs"
  same "gcc $(gcc -dumpfullversion): compile src/heap.c and src/span.c, identical object and assembly" \
    "$tmp/gcc" bash -c "$gcc_script" gcc "$tmp/gcc/objs" "$root"
fi

echo "programs: $((passed + failed + skipped)) checks in $(($(date +%s) - start_all)) s"
echo "programs: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
