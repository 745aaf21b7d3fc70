#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-lambda: the Lambda runtime against a local Runtime API (server.py),
# the zip's glibc symbol versions, and `faultless lambda` (dry runs, collect
# on recorded responses). Loopback only; every process runs under `timeout`.
# usage: test/lambda/run.sh [BUILD_DIR]   (make test-lambda)
set -u
B=${1:-build}
ZIP=$B/lambda/function.zip
FL=$B/faultless
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
T=$(mktemp -d "${TMPDIR:-/tmp}/faultless-lambda.XXXXXX")
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/../checks.sh"
[ -f "$ZIP" ] && [ -x "$FL" ] || {
  echo "lambda: $ZIP or $FL missing (make lambda tools)" >&2
  exit 1
}

# --- The zip ---
mkdir "$T/fn"
(cd "$T/fn" && unzip -q "$OLDPWD/$ZIP")
for f in bootstrap faultless bench/seed; do
  check "zip: $f executable" test -x "$T/fn/$f"
done
check "zip: libfaultless.so" test -f "$T/fn/libfaultless.so"
# AL2023 has glibc 2.34: no ELF in the zip may need a later symbol version.
elfs=0
for f in $(find "$T/fn" -type f); do
  head -c 4 "$f" | grep -q 'ELF' || continue
  elfs=$((elfs + 1))
  max=$(readelf --version-info "$f" | grep -o 'Name: GLIBC_[0-9.]*' | sed 's/Name: GLIBC_//' |
    sort -V | tail -n 1)
  if [ -z "$max" ] || [ "$(printf '%s\n2.34\n' "$max" | sort -V | tail -n 1)" = "2.34" ]; then
    ok
  else
    fail "zip: ${f#$T/fn/} needs GLIBC_$max (> 2.34)"
  fi
done
check "zip: at least 5 ELF files checked ($elfs)" test "$elfs" -ge 5

# make lambda never ships less than lambda/README.md lists: with a peer
# missing it stops, says which and how to get it, and leaves the zip alone.
before=$(cksum <"$ZIP")
make --no-print-directory -s B="$B" lambda LAMBDA_PEERS="libjemalloc.so.2 libnosuch-peer.so.1" \
  >"$T/make.out" 2>&1
check "make lambda, a peer missing: fails, names it and scripts/setup" sh -c "[ $? -ne 0 ] &&
  grep -q 'missing peer allocator libraries: libnosuch-peer.so.1' '$T/make.out' &&
  grep -q 'run scripts/setup' '$T/make.out'"
check "make lambda, a peer missing: the zip untouched" test "$(cksum <"$ZIP")" = "$before"
check "zip: every peer in lib/" sh -c "for p in libjemalloc.so.2 libmimalloc.so.2 libtcmalloc_minimal.so.4; do
  test -f '$T/fn/lib/'\$p || exit 1; done"

# --- The runtime against a local Runtime API ---
# serve EVENTS_JSON NAME [ENV...]: run the server and the bootstrap until the
# server disappears; bootstrap's stdout/stderr/exit in $T/NAME.{out,err,rc}.
serve() {
  events=$1 name=$2
  shift 2
  rm -f "$T/$name.port"
  timeout 90 "$PY" "$HERE/server.py" --events "$events" --log "$T/$name.log" \
    --port-file "$T/$name.port" --timeout 80 ${SAVE:+--save-dir "$SAVE"} \
    ${SERVER_ON_RESTORE:+--on-restore "$SERVER_ON_RESTORE"} &
  spid=$!
  for _ in $(seq 100); do [ -s "$T/$name.port" ] && break; sleep 0.05; done
  env "$@" AWS_LAMBDA_RUNTIME_API="127.0.0.1:$(cat "$T/$name.port")" \
    timeout 60 "$T/fn/bootstrap" >"$T/$name.out" 2>"$T/$name.err"
  echo $? >"$T/$name.rc"
  kill "$spid" 2>/dev/null
  wait "$spid" 2>/dev/null
}

cat >"$T/events.json" <<'JSON'
[{"allocator": "glibc", "chunks": 3, "size": "64K", "round": 0},
 {"allocator": "mimalloc", "chunks": 3, "size": 65536},
 "{not json",
 {"allocator": "glibc", "chunkz": 3},
 [1, 2],
 {"allocator": "faultless:setup-ms=50:prefault=8M", "chunks": 4, "size": "1M", "iterations": 2},
 {"allocator": "nosuch"}]
JSON
start=$(date +%s)
serve "$T/events.json" main
check "runtime: exits non-zero when the API disappears" test "$(cat "$T/main.rc")" = 1
check "runtime: says the API is gone" grep -q 'Runtime API at 127.0.0.1:[0-9]* is gone' "$T/main.err"
check "runtime: bounded (< 30 s)" test $(($(date +%s) - start)) -lt 30
check "runtime: warming during init, before the first next" sh -c "
  head -n 1 '$T/main.out' | grep -q '^faultless runtime: ready in .* warming 33554432 bytes' &&
  head -n 1 '$T/main.log' | grep -q '\"event\": 0'"
check "runtime: the seed's log lines" sh -c "
  grep -q '^backend_name:glibc$' '$T/main.out' &&
  grep -q '^ALLOCATING 3 CHUNCKS OF 65536 BYTES$' '$T/main.out' &&
  grep -q '^iteration;allocation_duration;new_pages_allocated$' '$T/main.out' &&
  test \$(grep -cE '^[12];[0-9]+;[0-9]+$' '$T/main.out') -eq $((6 + 6 + 8))"
check "runtime: every invocation answered, in one process" "$PY" - "$T/main.log" <<'PY'
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
posts = {e["path"].split("/")[-2]: e for e in log if e.get("method") == "POST"}
assert sorted(posts) == ["req-%d" % i for i in range(1, 8)], sorted(posts)
for rid in ("req-1", "req-2", "req-6"):
    p = posts[rid]
    assert p["path"].endswith("/response"), p["path"]
    d = json.loads(p["body"])
    assert d["lambda"]["request_id"] == rid
    assert d["tool"] == "faultless bench"
    n = d["options"]["chunks"] * d["options"]["iterations"]
    assert len(d["runs"]) == 1 and d["runs"][0]["ok"], d["runs"]
    assert len(d["runs"][0]["samples"]["duration_ns"]) == n
    assert d["summary"] and d["environment"]["kernel"]
assert json.loads(posts["req-1"]["body"])["lambda"]["cold_start"] is True
assert json.loads(posts["req-6"]["body"])["lambda"]["invocation_in_sandbox"] == 6
assert json.loads(posts["req-1"]["body"])["lambda"]["round"] == 0
# _X_AMZN_TRACE_ID follows each invocation's header, and is cleared without one
assert json.loads(posts["req-1"]["body"])["lambda"]["trace_id"].endswith("e700;Sampled=1")
assert json.loads(posts["req-2"]["body"])["lambda"]["trace_id"] is None
PY
check "runtime: malformed events get errorType + errorMessage" "$PY" - "$T/main.log" <<'PY'
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
posts = {e["path"].split("/")[-2]: e for e in log if e.get("method") == "POST"}
for rid, want in (("req-3", "not JSON"), ("req-4", "chunkz"), ("req-5", "JSON object"),
                  ("req-7", "refused")):
    p = posts[rid]
    assert p["path"].endswith("/" + rid + "/error"), p["path"]
    d = json.loads(p["body"])
    assert d["errorType"] == "Faultless.InvalidEvent" == p["error_type"], d
    assert want in d["errorMessage"], d
PY

check "runtime: no restore/next without SnapStart" sh -c "! grep -q '\"path\": \"[^\"]*/restore/' '$T/main.log'"

# SnapStart: prepare at the end of init, restore/next, restored, then events.
echo '[{"allocator": "glibc", "chunks": 2, "size": "64K"}]' >"$T/snap.json"
serve "$T/snap.json" snap AWS_LAMBDA_INITIALIZATION_TYPE=snap-start FAULTLESS_VERBOSE=1
check "snap-start: exits when the API disappears" test "$(cat "$T/snap.rc")" = 1
check "snap-start: restore/next after init, before the first next" "$PY" - "$T/snap.log" <<'PY'
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
paths = [e.get("path") for e in log]
assert paths[0] == "/2018-06-01/runtime/restore/next", paths
assert paths[1] == "/2018-06-01/runtime/invocation/next", paths
assert paths.count("/2018-06-01/runtime/restore/next") == 1, paths
assert "/2018-06-01/runtime/invocation/req-1/response" in paths, paths
assert not any("error" in (p or "") for p in paths), paths
PY
check "snap-start: prepare, then restored, then the answer" sh -c "
  grep -n 'snapshot prepare: warmers stopped' '$T/snap.err' | head -n 1 | cut -d: -f1 >'$T/snap.l1' &&
  grep -n 'snapshot restored: warming' '$T/snap.err' | head -n 1 | cut -d: -f1 >'$T/snap.l2' &&
  test \$(cat '$T/snap.l1') -lt \$(cat '$T/snap.l2') &&
  grep -q '^faultless runtime: restored; warming again' '$T/snap.out'"
# A restore that fails (the tools gone from the restored environment): the
# runtime reports it on restore/error and asks for no event.
mkdir "$T/fnr" && cp -r "$T/fn/." "$T/fnr/"
SERVER_ON_RESTORE="rm -f '$T/fnr/bench/seed'" serve "$T/snap.json" snapfail \
  AWS_LAMBDA_INITIALIZATION_TYPE=snap-start FAULTLESS_LAMBDA_ROOT="$T/fnr"
check "snap-start failure: exit non-zero" test "$(cat "$T/snapfail.rc")" = 1
check "snap-start failure: POST restore/error, no next" "$PY" - "$T/snapfail.log" <<'PY'
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
assert [e.get("path") for e in log] == ["/2018-06-01/runtime/restore/next",
                                        "/2018-06-01/runtime/restore/error"], log
e = log[1]
d = json.loads(e["body"])
assert d["errorType"] == "Runtime.RestoreError" == e["error_type"], d
assert "bench/seed" in d["errorMessage"] and "restore" in d["errorMessage"], d
PY

# Init failure: no tools where the runtime looks.
mkdir "$T/empty"
echo '[{"allocator": "glibc"}]' >"$T/one.json"
serve "$T/one.json" init FAULTLESS_LAMBDA_ROOT="$T/empty"
check "init failure: exit non-zero" test "$(cat "$T/init.rc")" = 1
check "init failure: POST init/error, no next" "$PY" - "$T/init.log" <<'PY'
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
assert len(log) == 1, log
e = log[0]
assert e["path"] == "/2018-06-01/runtime/init/error", e
d = json.loads(e["body"])
assert d["errorType"] == "Runtime.InitError" == e["error_type"] and "not found" in d["errorMessage"]
PY

# No API at all: a port nobody listens on.
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start=$(date +%s)
AWS_LAMBDA_RUNTIME_API=127.0.0.1:$port timeout 20 "$T/fn/bootstrap" >/dev/null 2>"$T/none.err"
rc=$?
check "no API: exit 1 with a message, quickly" sh -c "[ $rc -eq 1 ] && grep -q 'is gone' '$T/none.err' && [ $(($(date +%s) - start)) -lt 10 ]"
env -u AWS_LAMBDA_RUNTIME_API timeout 20 "$T/fn/bootstrap" >/dev/null 2>"$T/unset.err"
check "no AWS_LAMBDA_RUNTIME_API: exit 1" sh -c "[ $? -eq 1 ] && grep -q 'not set' '$T/unset.err'"
AWS_LAMBDA_RUNTIME_API=example.com:80 timeout 20 "$T/fn/bootstrap" >/dev/null 2>"$T/name.err"
check "host names refused, not resolved" sh -c "[ $? -eq 1 ] && grep -q 'bad endpoint' '$T/name.err'"

# --- The layer's Python module (lambda/python/faultless.py) ---
# pytest MODE ENV...: run test/lambda/python/test_faultless.py MODE with a
# stand-in snapshot_restore_py on the path, and count its ok/FAIL lines.
pytest() {
  mode=$1
  shift
  out=$(env PYTHONPATH="$HERE/../../lambda/python:$HERE/python/stub" "$@" \
    timeout 60 "$PY" "$HERE/python/test_faultless.py" "$mode" 2>&1)
  rc=$?
  printf '%s\n' "$out" | grep '^FAIL' >&2
  line=$(printf '%s\n' "$out" | grep -E "^python-$mode: [0-9]+ passed" | tail -n 1)
  if [ -z "$line" ]; then
    fail "python $mode: no result (exit $rc)"
    return
  fi
  set -- $line
  passed=$((passed + $2))
  failed=$((failed + $4))
}
LIBSO=$(cd "$B" && pwd)/libfaultless.so
pytest none FAULTLESS_LIBRARY=/nonexistent/libfaultless.so
pytest preload LD_PRELOAD="$LIBSO"
pytest path FAULTLESS_LIBRARY="$LIBSO" AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512
env FAULTLESS_LIBRARY=/nonexistent/libfaultless.so PYTHONPATH="$HERE/../../lambda/python" \
  timeout 60 "$PY" "$HERE/python/test_faultless.py" nohooks >"$T/nohooks" 2>&1
check "python nohooks: imports without snapshot_restore_py" sh -c "
  grep -q '^python-nohooks: [1-9][0-9]* passed, 0 failed' '$T/nohooks'"

# --- faultless lambda ---
usage_error() {
  name=$1
  shift
  "$@" >"$T/u.out" 2>"$T/u.err"
  rc=$?
  if [ $rc -eq 2 ] && grep -q '^usage: ' "$T/u.err"; then ok; else fail "$name (exit $rc)"; fi
}
usage_error "lambda: no verb" "$FL" lambda
usage_error "lambda: unknown verb" "$FL" lambda frobnicate
usage_error "deploy: needs --role" "$FL" lambda deploy --function f --dry-run
usage_error "deploy: bad memory" "$FL" lambda deploy --function f --role r --memory 64 --dry-run
usage_error "invoke: needs --out" "$FL" lambda invoke --function f --dry-run
usage_error "invoke: bad concurrency" "$FL" lambda invoke --function f --out d --concurrency 0
usage_error "collect: needs DIR" "$FL" lambda collect

"$FL" lambda deploy --function fl-seed --role arn:aws:iam::123456789012:role/lambda-basic \
  --memory 2048 --zip "$ZIP" --region eu-west-1 --dry-run >"$T/deploy"
has_line() { grep -qxF -e "$2" "$1"; }
check "deploy --dry-run: get-function" has_line "$T/deploy" \
  "aws --region eu-west-1 lambda get-function --function-name fl-seed"
check "deploy --dry-run: create-function" has_line "$T/deploy" \
  "aws --region eu-west-1 lambda create-function --function-name fl-seed --runtime provided.al2023 --architectures x86_64 --handler seed --role arn:aws:iam::123456789012:role/lambda-basic --memory-size 2048 --timeout 300 --zip-file fileb://$ZIP --description 'faultless: the seed experiment, first touch of memory'"
check "deploy --dry-run: update-function-code" has_line "$T/deploy" \
  "aws --region eu-west-1 lambda update-function-code --function-name fl-seed --zip-file fileb://$ZIP"
check "deploy --dry-run: wait for the update" has_line "$T/deploy" \
  "aws --region eu-west-1 lambda wait function-updated-v2 --function-name fl-seed"
"$FL" lambda invoke --function fl-seed --out "$T/inv" --rounds 3 --concurrency 8 \
  --allocators glibc,mimalloc,faultless --chunks 100 --size 1M --dry-run >"$T/invoke"
check "invoke --dry-run: rounds x allocators invocations" test \
  "$(grep -c '^aws lambda invoke --function-name fl-seed --cli-binary-format raw-in-base64-out ' "$T/invoke")" -eq 9
check "invoke --dry-run: payload and files" has_line "$T/invoke" \
  "aws lambda invoke --function-name fl-seed --cli-binary-format raw-in-base64-out --cli-read-timeout 900 --payload '{\"allocator\":\"mimalloc\",\"round\":2,\"chunks\":100,\"size\":\"1M\"}' $T/inv/raw/r002-mimalloc.json >$T/inv/raw/r002-mimalloc.meta.json"
check "invoke --dry-run: creates nothing" test ! -e "$T/inv"
# Without the AWS CLI the invocations fail cleanly. Run with a PATH that has
# no aws (an empty directory), so that the check runs on every machine.
mkdir "$T/noaws-path"
PATH="$T/noaws-path" "$(command -v timeout)" 30 "$FL" lambda invoke --function fl-seed --out "$T/inv" \
  --rounds 1 --allocators glibc >/dev/null 2>"$T/noaws"
check "invoke without aws: exit 1, says so" sh -c "[ $? -eq 1 ] && grep -q 'install the AWS CLI' '$T/noaws'"

# A stand-in aws on PATH: it logs each call, writes invoke's response file,
# answers FunctionError for allocators named "bad*", and fails what
# FAKE_FAIL names. So the commands really run: the pool, the answers, exits.
mkdir "$T/fake"
cat >"$T/fake/aws" <<'SH'
#!/bin/sh
echo "$*" >>"$FAKE_LOG"
for a; do last=$a; done
case "$*" in *"$FAKE_FAIL"*) exit 3 ;; esac
case "$*" in
*" get-function "*) [ -n "$FAKE_EXISTS" ] ;;
*" invoke "*)
  echo '{"ok": 1}' >"$last"
  case "$*" in *'"allocator":"bad'*) echo '{"FunctionError": "Unhandled"}' ;; *) echo '{"StatusCode": 200}' ;; esac ;;
esac
SH
chmod +x "$T/fake/aws"
fake() { env PATH="$T/fake:$PATH" FAKE_LOG="$T/fake.log" "$@"; }
fake FAKE_FAIL=none "$FL" lambda invoke --function f --out "$T/finv" --rounds 3 --concurrency 2 \
  --allocators glibc,bad1 >"$T/finv.out" 2>"$T/finv.err"
check "invoke: 6 calls, 3 answered, 3 failed by name, exit 1" sh -c "[ $? -eq 1 ] &&
  [ \$(grep -c '^lambda invoke ' '$T/fake.log') -eq 6 ] && [ \$(ls '$T/finv/raw' | grep -c meta) -eq 6 ] &&
  grep -q '^faultless lambda: 3 of 6 invocations answered' '$T/finv.out' &&
  [ \$(grep -c 'invocation failed: .*r00[0-2]-bad1.json' '$T/finv.err') -eq 3 ]"
: >"$T/fake.log"
fake FAKE_FAIL=none "$FL" lambda deploy --function f --role r --zip "$ZIP" >"$T/fdep.out" 2>&1
check "deploy, no function yet: create-function, wait active" sh -c "[ $? -eq 0 ] &&
  [ \"\$(cut -d' ' -f2,3 '$T/fake.log' | tr '\n' ,)\" = 'get-function --function-name,create-function --function-name,wait function-active-v2,' ] &&
  grep -q 'f is ready (2048 MB, 300 s)' '$T/fdep.out'"
: >"$T/fake.log"
fake FAKE_EXISTS=1 FAKE_FAIL=update-function-configuration "$FL" lambda deploy --function f --role r \
  --zip "$ZIP" >"$T/fdep.out" 2>&1
check "deploy, an update failing: stops there, exit 1, says so" sh -c "[ $? -eq 1 ] &&
  [ \$(grep -c . '$T/fake.log') -eq 4 ] && grep -q 'deploy failed' '$T/fdep.out'"

# collect: recorded responses of real local runs of the handler (fixtures/README).
cp -r "$HERE/fixtures/recorded" "$T/rec"
"$FL" lambda collect "$T/rec" >"$T/collect" 2>"$T/collect.err"
check "collect: exit 0" test $? -eq 0
check "collect: table and ratios" sh -c "grep -q '^allocator .*med us/MiB' '$T/collect' &&
  grep -q 'R1 faultless:setup-ms=300:prefault=128M' '$T/collect' && grep -q 'R2 glibc / faultless' '$T/collect'"
check "collect: the failed invocation is noted" grep -q 'the function failed: Faultless.InvalidEvent' "$T/collect.err"
check "collect: merged results.json" "$PY" - "$T/rec" <<'PY'
import json, os, sys
d = json.load(open(os.path.join(sys.argv[1], "results.json")))
raw = os.path.join(sys.argv[1], "raw")
good = [json.load(open(os.path.join(raw, f))) for f in sorted(os.listdir(raw))
        if f.endswith(".json") and not f.endswith(".meta.json")]
good = [g for g in good if "runs" in g]
assert len(d["runs"]) == sum(len(g["runs"]) for g in good) == len(good), len(d["runs"])
labels = {a["label"] for a in d["allocators"]}
assert labels == {r["allocator"] for g in good for r in g["runs"]}, labels
rounds = {(r["allocator"], r["round"]) for r in d["runs"]}
assert len(rounds) == len(d["runs"])  # one run per allocator and round
assert len(d["summary"]) == len(labels) * d["options"]["iterations"]
assert d["command"].startswith("faultless lambda collect")
assert all(r["ok"] for r in d["runs"])
PY
check "collect: results.csv and lambda.csv" sh -c "test -s '$T/rec/results.csv' &&
  head -n 1 '$T/rec/lambda.csv' | grep -q '^file,request_id,allocator,round,cold_start'"
if command -v gnuplot >/dev/null 2>&1; then
  check "collect: charts" test -s "$T/rec/latency.svg" -a -s "$T/rec/medians.png"
else
  skip "collect: charts" "gnuplot is not installed (scripts/setup)"
fi
mkdir "$T/junk" && echo '{"hello": 1}' >"$T/junk/a.json" && echo 'nope' >"$T/junk/b.json"
"$FL" lambda collect "$T/junk" >/dev/null 2>"$T/junk.err"
check "collect: nothing usable -> exit 1" sh -c "[ $? -eq 1 ] && grep -q 'not JSON' '$T/junk.err'"

report lambda
