#!/bin/sh
# SPDX-License-Identifier: MIT
# Quick self-test of `faultless bench`, `faultless probe` and the seed worker.
# usage: cli/test.sh [BUILD_DIR]   (make test-cli)
# Each check asserts something that can fail; the last line counts them.
B=${1:-build}
FL=$B/faultless
SEED=$B/bench/seed
T=$(mktemp -d "${TMPDIR:-/tmp}/faultless-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/../test/checks.sh"
# usage_error NAME ARGS...: exit status 2 and usage on stderr
usage_error() {
  name=$1
  shift
  "$@" >"$T/out" 2>"$T/err"
  rc=$?
  if [ $rc -eq 2 ] && grep -q '^usage: ' "$T/err"; then ok; else fail "$name (exit $rc)"; fi
}

[ -x "$FL" ] && [ -x "$SEED" ] || {
  echo "cli: $FL or $SEED missing (make tools)" >&2
  exit 1
}

# --- Parsing and its errors ---
usage_error "no command" "$FL"
usage_error "unknown command" "$FL" frobnicate
usage_error "zero chunks" "$FL" bench --chunks 0
usage_error "bad size suffix" "$FL" bench --size 12Q
usage_error "zero size" "$FL" bench --size 0
usage_error "size overflow" "$FL" bench --size 99999999999999999999G
usage_error "unknown allocator" "$FL" bench --allocators glibc,nosuch
usage_error "bad allocator option" "$FL" bench --allocators faultless:warp=9
# the message names the entry it refuses (it once printed freed memory)
"$FL" bench --allocators nosuch-name 2>"$T/err" >/dev/null
check "unknown allocator named" grep -q "unknown allocator 'nosuch-name'" "$T/err"
usage_error "allocator option without value" "$FL" bench --allocators faultless:x
usage_error "zero repeat" "$FL" bench --repeat 0
usage_error "align not a power of two" "$FL" bench --align 48
usage_error "bad format" "$FL" bench --format xml
usage_error "missing value" "$FL" bench --chunks
usage_error "unknown option" "$FL" bench --fast
usage_error "probe unknown option" "$FL" probe --slow
usage_error "probe bad threads" "$FL" probe --threads 0
usage_error "seed bad api" "$SEED" --api tcmalloc
usage_error "seed prefault without fl" "$SEED" --prefault 1M
check "help exits 0" "$FL" bench --help >/dev/null

# --- The worker ---
"$SEED" --chunks 3 --size 64K --format seed --name glibc >"$T/seed" 2>"$T/err"
check "seed: log header" sh -c "head -n 3 '$T/seed' | tr '\n' '|' | grep -qx 'backend_name:glibc|ALLOCATING 3 CHUNCKS OF 65536 BYTES|iteration;allocation_duration;new_pages_allocated|'"
check "seed: 6 allocation lines" sh -c "tail -n +4 '$T/seed' | grep -cE '^[12];[0-9]+;[0-9]+$' | grep -qx 6"
check "seed: first allocation has new pages" sh -c "sed -n 4p '$T/seed' | grep -qE '^1;[0-9]+;(1[6-9]|[2-9][0-9])$'"
"$SEED" --api fl --chunks 2 --prefault 4M >"$T/fl" 2>"$T/err"
check "seed --api fl: 4 samples" sh -c "grep -cE '^0,[12],[01],[0-9]+,[0-9]+,[0-9]+,[0-9]+$' '$T/fl' | grep -qx 4"
check "seed --api fl: stats line" grep -q '^# fl_stats {' "$T/fl"

# --- bench ---
"$FL" bench --chunks 4 --repeat 1 --allocators glibc >"$T/table" 2>"$T/err"
check "bench: exit 0" test $? -eq 0
check "bench: table header" grep -q '^allocator .*med us/MiB' "$T/table"
check "bench: glibc rows for both iterations" sh -c "grep -cE '^glibc +[12] ' '$T/table' | grep -qx 2"
check "bench: seed measure caveat" grep -q 'hides pages an allocator gave back' "$T/table"
check "bench: quiet on a pipe" test ! -s "$T/err"

"$FL" bench --chunks 4 --repeat 2 --warmup 1 --allocators glibc,faultless --format json >"$T/json" 2>"$T/err"
check "bench --format json: valid" python3 -m json.tool "$T/json" /dev/null
check "bench json: every sample (2 alloc x 3 rounds x 4 x 2)" python3 -c "
import json, sys
d = json.load(open('$T/json'))
n = sum(len(r['samples']['duration_ns']) for r in d['runs'])
assert n == 48, n
assert all(len(r['samples'][k]) == 8 for r in d['runs'] for k in r['samples'])
assert sum(r['warmup'] for r in d['runs']) == 2
for k in ('kernel', 'thp_enabled', 'cgroup_version', 'free_page_reporting'):
    assert k in d['environment'], k
assert d['command'].startswith('faultless bench')
assert any(r['name'].startswith('R2') for r in d['startup_ratios'])
"
# --from reads a results.json back: the same document again, analysis and all.
"$FL" bench --from "$T/json" --format json >"$T/json2" 2>"$T/err"
check "bench --from: the same results again" python3 -c "
import json
a, b = json.load(open('$T/json')), json.load(open('$T/json2'))
assert a == b, [k for k in a if a[k] != b.get(k)]
"
echo '{"options": {"chunks": 1}}' | "$FL" bench --from - >/dev/null 2>"$T/err"
check "bench --from: no bench result -> exit 1, says so" sh -c "[ $? -eq 1 ] && grep -q 'not a faultless bench result' '$T/err'"
python3 -c "
import json
d = json.load(open('$T/json'))
d['runs'].append(dict(d['runs'][-1]))  # a second run in one round
json.dump(d, open('$T/dup.json', 'w'))"
"$FL" bench --from "$T/dup.json" >"$T/dup" 2>"$T/err"
check "bench --from: a run in another's round is skipped with a note" sh -c "[ $? -eq 0 ] &&
  grep -q 'run 6 is in no round of its own; skipped' '$T/err' && grep -q 'run 6 is in no round' '$T/dup'"

"$FL" bench --chunks 4 --repeat 1 --warmup 0 --allocators glibc --format csv >"$T/csv"
check "bench --format csv: command, header and 8 rows" sh -c "
  head -n1 '$T/csv' | grep -q '^# faultless bench' &&
  sed -n 2p '$T/csv' | grep -qx 'allocator,round,warmup,thread,iteration,index,duration_ns,minflt,minflt_process,new_pages' &&
  tail -n +3 '$T/csv' | grep -cE '^glibc,0,0,0,[12],[0-3],[0-9]+,[0-9]+,[0-9]+,[0-9]+$' | grep -qx 8"

"$FL" bench --chunks 3 --size 1M --repeat 1 --allocators glibc --format seed >"$T/seedlog"
check "bench --format seed: the seed's log" sh -c "
  head -n 3 '$T/seedlog' | tr '\n' '|' | grep -qx 'backend_name:glibc|ALLOCATING 3 CHUNCKS OF 1048576 BYTES|iteration;allocation_duration;new_pages_allocated|' &&
  tail -n +4 '$T/seedlog' | grep -cE '^[12];[0-9]+;[0-9]+$' | grep -qx 6 &&
  test \$(wc -l <'$T/seedlog') -eq 9"

"$FL" bench --chunks 4 --repeat 1 --allocators glibc,custom:lib=/nonexistent/libx.so \
  >/dev/null 2>"$T/err"
check "bench: missing allocator skipped with a note" grep -q 'custom:lib=/nonexistent/libx.so.*skipped' "$T/err"

# --out makes the directory and its parents, as on a fresh clone.
"$FL" bench --chunks 4 --repeat 1 --allocators glibc --out "$T/res/a/b" >/dev/null 2>&1
check "bench --out: creates missing parents" test -d "$T/res/a/b"
check "bench --out: results.json valid" python3 -m json.tool "$T/res/a/b/results.json" /dev/null
check "bench --out: results.csv" test -s "$T/res/a/b/results.csv"
if command -v gnuplot >/dev/null 2>&1; then
  check "bench --out: charts" test -s "$T/res/a/b/latency.svg" -a -s "$T/res/a/b/latency.png" \
    -a -s "$T/res/a/b/medians.svg" -a -s "$T/res/a/b/medians.png"
else
  skip "bench --out: charts" "gnuplot is not installed (scripts/setup)"
fi
: >"$T/file"
"$FL" bench --chunks 4 --repeat 1 --allocators glibc --out "$T/file/x" >"$T/out" 2>"$T/err"
check "bench --out under a file: exit 1 before measuring, says why" sh -c \
  "[ $? -eq 1 ] && grep -q 'cannot create $T/file/x' '$T/err' && test ! -s '$T/out'"

# The faultless rows go through malloc with libfaultless.so preloaded, as the
# peers do, and the table and JSON name each row's path.
"$FL" bench --chunks 4 --repeat 1 --allocators glibc,faultless,faultless-api --format json >"$T/paths.json" 2>"$T/err"
check "bench json: the path of each row" python3 -c "
import json
d = json.load(open('$T/paths.json'))
a = {x['label']: x for x in d['allocators']}
assert a['faultless']['api'] == 'malloc' and a['faultless']['library'].endswith('/libfaultless.so'), a
assert a['faultless']['path'] == 'malloc, LD_PRELOAD libfaultless.so', a
assert a['faultless-api']['api'] == 'fl' and a['faultless-api']['library'] is None, a
assert a['glibc']['path'] == \"malloc, glibc's\", a
"
"$FL" bench --chunks 4 --repeat 1 --allocators glibc,faultless >"$T/table" 2>"$T/err"
check "bench table: how each row allocates" sh -c "grep -q '^how each row allocates' '$T/table' &&
  grep -qE '^  faultless +malloc, LD_PRELOAD libfaultless.so$' '$T/table'"

# The caller's FAULTLESS_* never reach the measured processes (as in suite and
# the programs bench); an entry's options do. A stand-in worker records its
# environment (it prints no samples, so bench reports the runs as failed).
printf '#!/bin/sh\nenv >>"%s/worker.env"\nexit 3\n' "$T" >"$T/worker"
chmod +x "$T/worker"
FAULTLESS_WARMERS=7 FAULTLESS_STATS=1 "$FL" bench --worker "$T/worker" --repeat 1 --warmup 0 \
  --allocators faultless:warmers=2:prefault=8M,glibc >/dev/null 2>"$T/err"
check "bench env: the stand-in worker ran twice" test "$(grep -c '^PATH=' "$T/worker.env")" -eq 2
check "bench env: the caller's FAULTLESS_* stripped" sh -c "! grep -qE '^FAULTLESS_(STATS=1|WARMERS=7)' '$T/worker.env'"
check "bench env: the entry's options passed" sh -c "grep -qx 'FAULTLESS_WARMERS=2' '$T/worker.env' &&
  grep -qx 'FAULTLESS_PREFAULT=8388608' '$T/worker.env' && grep -q '^LD_PRELOAD=.*/libfaultless.so$' '$T/worker.env'"
usage_error "bench: bad faultless option value" "$FL" bench --allocators faultless:warmers=many

# Progress: one line rewritten in place on a terminal, cleared at the end;
# nothing on a pipe ("bench: quiet on a pipe" above). script(1) gives a pty.
if command -v script >/dev/null 2>&1; then
  script -qec "$FL bench --chunks 4 --repeat 2 --allocators glibc,faultless >/dev/null" /dev/null \
    >"$T/tty" 2>&1 </dev/null
  check "bench on a terminal: progress line, then cleared" python3 - "$T/tty" <<'PY'
import re, sys
t = open(sys.argv[1], "rb").read().decode()
lines = re.findall(r"\r\x1b\[Kbench: round (\d)/3( \(warm-up\))? (glibc|faultless)  (\d+s) elapsed(, ~\d+s left)?", t)
assert len(lines) == 6, (lines, t)
assert lines[0][:3] == ("1", " (warm-up)", "glibc") and lines[-1][0] == "3", lines
assert all(l[4] for l in lines[1:]), lines  # an estimate once one run is done
assert "\n" not in t.strip(), repr(t)  # rewritten in place, never a new line
assert t.rstrip("\r\n").endswith("\r\x1b[K"), repr(t[-40:])  # cleared at the end
PY
else
  fail "bench progress: script(1) (util-linux, Debian package bsdutils) is not installed"
fi

# --- probe ---
"$FL" probe --quick >"$T/probe" 2>"$T/err"
check "probe --quick: exit 0" test $? -eq 0
check "probe: sections" sh -c "grep -q '^memset on mapped memory' '$T/probe' &&
  grep -q '^first touch per 4 KiB page' '$T/probe' && grep -q '^warming throughput' '$T/probe' &&
  grep -q 'FAULTLESS_PREFAULT=[0-9]*M FAULTLESS_WARMERS=[0-9]* FAULTLESS_THP=[01]' '$T/probe'"
"$FL" probe --quick --json >"$T/probe.json" 2>/dev/null
check "probe --json: valid, with every section" python3 -c "
import json
d = json.load(open('$T/probe.json'))
assert d['memset']['median_gb_per_s'] > 0
assert d['first_touch']['page_4k']['phases'][0]['median_us'] > 0
assert any(w['measured'] for w in d['warming'])
assert 'environment' in d and 'recommendation' in d
"

# --- The tools' structure ---
# Shared code lives in tools/ and depends on none of its users; cli/, lambda/
# and bench/ include tools/ but never each other, so dependencies go one way.
R=$(cd "$(dirname "$0")/.." && pwd)
includes() { # includes DIR PATTERN: the files in DIR that include PATTERN
  grep -l "#include \"$2" "$R/$1"/*.c "$R/$1"/*.h 2>/dev/null
}
check "tools/ includes neither cli/ nor lambda/ nor bench/" sh -c \
  "! grep -q '#include \"\.\./\(cli\|lambda\|bench\)/' '$R'/tools/*.[ch]"
check "lambda/ and bench/ do not include cli/" test -z "$(includes lambda ../cli/; includes bench ../cli/)"
check "cli/ and bench/ do not include lambda/" test -z "$(includes cli ../lambda/; includes bench ../lambda/)"
# bench_out.c writes what bench_stats.c computed and never calls back into
# bench.c: no symbol bench.o defines is undefined in bench_out.o.
calls_back() {
  nm --defined-only -g "$B/obj/cli/bench.o" | awk '{print $3}' | sort >"$T/defs"
  nm -u "$B/obj/cli/bench_out.o" | awk '{print $2}' | sort >"$T/undef"
  [ -s "$T/defs" ] && [ -n "$(comm -12 "$T/defs" "$T/undef")" ]
}
if command -v nm >/dev/null 2>&1 && [ -f "$B/obj/cli/bench.o" ]; then
  if calls_back; then fail "bench_out.c calls back into bench.c"; else ok; fi
else
  skip "bench_out.c calls nothing of bench.c" "nm or $B/obj/cli/bench.o missing"
fi

report cli
