#!/bin/sh
# SPDX-License-Identifier: MIT
# Quick test of the allocator suite (make test-suite): every workload runs once
# at a tiny size under glibc and faultless through `faultless suite`, and
# each program alone; outputs must be sane and the runner's JSON must parse.
# This is not a benchmark. usage: bench/suite/test.sh [BUILD_DIR]
B=${1:-build}
FL=$B/faultless
BIN=$B/bench/suite
T=$(mktemp -d "${TMPDIR:-/tmp}/faultless-suite.XXXXXX")
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/../../test/checks.sh"

[ -x "$FL" ] && [ -f "$B/libfaultless.so" ] || {
  echo "suite: $FL or $B/libfaultless.so missing (make bench-suite-tools)" >&2
  exit 1
}

# Each program alone, under faultless: one well-formed result line.
for w in small churn larson prodcons falseshare realloc columnar threadchurn \
  randlife nbody bigsparse randfree glibcthread objloop; do
  LD_PRELOAD=$B/libfaultless.so "$BIN/$w" --threads 2 --scale 0.01 >"$T/$w.out" 2>"$T/$w.err"
  check "$w: exit 0 under faultless" test $? -eq 0
  check "$w: result line" grep -qE "^suite workload=$w threads=[12] scale=0.01 elapsed_ms=[0-9.]+ ops=[1-9][0-9]* check=[0-9a-f]{16}\$" "$T/$w.out"
  check "$w: quiet" test ! -s "$T/$w.err"
done
# prodcons's hand-over variants move the same blocks: same check, no deadlock.
for v in --no-pin --wake-each --spin; do
  LD_PRELOAD=$B/libfaultless.so timeout 60 "$BIN/prodcons" --threads 3 --scale 0.01 $v >"$T/pc.out" 2>"$T/pc.err"
  check "prodcons $v: exit 0" test $? -eq 0
  LD_PRELOAD=$B/libfaultless.so "$BIN/prodcons" --threads 3 --scale 0.01 >"$T/pc.ref"
  check "prodcons $v: same check as the default" test "$(grep -o 'check=.*' "$T/pc.out")" = "$(grep -o 'check=.*' "$T/pc.ref")"
done
"$BIN/prodcons" --threads 1 --bogus >/dev/null 2>"$T/err"
check "prodcons bad flag: exit 2" test $? -eq 2
"$BIN/small" --threads 0 >/dev/null 2>"$T/err"
check "bad --threads: exit 2" test $? -eq 2

# The runner: both allocators, thread counts 1 and 2, JSON, CSV and charts.
"$FL" suite --repeat 1 --warmup 0 --scale 0.01 --threads 1,2 --allocators glibc,faultless \
  --out "$T/out" >"$T/table" 2>"$T/err"
check "runner: exit 0 (every run ok, checks agree)" test $? -eq 0
check "runner: time table" grep -q '^time, ms: median' "$T/table"
check "runner: geomean row" grep -qE '^geomean +[0-9.]+' "$T/table"
check "runner: targets" grep -q 'faultless time / glibc, worst' "$T/table"
# With glibc the only peer, it is every case's fastest and leanest: the
# geomean against the fastest peer is the geomean row's, and the RSS line is
# the worst of the cases' peak RSS over 1.3x glibc's + 2 MiB.
check "runner: targets against the fastest and leanest peer" python3 - "$T/table" "$T/out/results.json" <<'PY'
import json, re, sys
t = open(sys.argv[1]).read()
d = json.load(open(sys.argv[2]))
row = float(re.search(r"^geomean +([0-9.]+)", t, re.M).group(1))
worst = re.search(r"faultless time / fastest peer, worst \(([a-z]+(/[12])?)\) +([0-9.]+)  target <= 1.05: (met|NOT met)$", t, re.M)
geo = float(re.search(r"faultless time / fastest peer, geomean +([0-9.]+)  target <= 0.95: (met|NOT met)$", t, re.M).group(1))
rss = re.search(r"faultless RSS / \(1.3 x leanest \+ 2 MiB\), worst \((\S+)\) +([0-9.]+)  target <= 1.00: (met|NOT met)$", t, re.M)
assert worst and rss, t
assert abs(geo - row) < 0.006, (geo, row)
m = {(x["case"], x["allocator"]): x["peak_rss_mib_median"] for x in d["summary"]}
r = {c: m[c, "faultless"] / (1.3 * m[c, "glibc"] + 2) for c, a in m if a == "glibc"}
top = max(r, key=r.get)
assert abs(float(rss.group(2)) - r[top]) < 0.006 and rss.group(1) == top, (rss.groups(), top, r[top])
PY
check "runner: results.json parses" python3 -c "
import json, sys
d = json.load(open('$T/out/results.json'))
runs = d['runs']
assert len(runs) == 22 * 2, len(runs)
assert all(r['ok'] and r['ms'] > 0 and r['peak_rss_kib'] > 0 for r in runs), runs
cases = {r['case'] for r in runs}
assert len(cases) == 22, cases
for c in cases:
    assert len({r['check'] for r in runs if r['case'] == c}) == 1, c
assert {s['allocator'] for s in d['summary']} == {'glibc', 'faultless'}
assert any(g['allocator'] == 'faultless' and g['peer'] == 'glibc' for g in d['geomean'])
"
check "runner: results.csv has every run" sh -c "[ \$(grep -c ',glibc,\|,faultless,' '$T/out/results.csv') -eq 44 ]"
check "runner: chart script" test -s "$T/out/charts.gp"
check "runner: quiet on a pipe" test ! -s "$T/err"

# --out makes the directory and its parents.
"$FL" suite --repeat 1 --warmup 0 --scale 0.01 --threads 1 --workloads small --allocators glibc \
  --out "$T/deep/er/out" >/dev/null 2>&1
check "runner --out: creates missing parents" test -s "$T/deep/er/out/results.json"

# Progress on a terminal (script(1) gives a pty): one line rewritten in place,
# with the round, the workload and the allocator, then cleared.
if command -v script >/dev/null 2>&1; then
  script -qec "$FL suite --repeat 1 --warmup 1 --scale 0.01 --threads 1 --workloads small,churn \
    --allocators glibc,faultless >/dev/null" /dev/null >"$T/tty" 2>&1 </dev/null
  check "runner on a terminal: progress line, then cleared" python3 - "$T/tty" <<'PY'
import re, sys
t = open(sys.argv[1], "rb").read().decode()
lines = re.findall(r"\r\x1b\[Ksuite: round (\d)/2( \(warm-up\))? (small|churn) (glibc|faultless)  \d+s elapsed(, ~\d+s left)?", t)
assert len(lines) == 8, (lines, t)
assert lines[0][1] == " (warm-up)" and lines[-1][0] == "2", lines
assert {l[2] for l in lines} == {"small", "churn"} and {l[3] for l in lines} == {"glibc", "faultless"}
assert all(l[4] for l in lines[1:]), lines
assert "\n" not in t.strip(), repr(t)
assert t.rstrip("\r\n").endswith("\r\x1b[K"), repr(t[-40:])
PY
else
  fail "runner progress: script(1) (util-linux, Debian package bsdutils) is not installed"
fi

"$FL" suite --allocators nosuch >/dev/null 2>"$T/err"
check "runner: unknown allocator is a usage error" test $? -eq 2

report suite
