#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-layer: the Lambda layer the way Lambda runs it. The x86_64 zip is
# unzipped into a temporary folder standing in for /opt, the local Runtime
# API (test/lambda/server.py) serves the events, and each runtime starts as
# Lambda starts a managed one: $AWS_LAMBDA_EXEC_WRAPPER RUNTIME ARGS...
#   Node.js: AWS's aws-lambda-ric 4.x with an apache-arrow handler
#   Python:  Debian's python3 with a minimal runtime loop, a numpy handler
# Then: the wrapper's contract (arguments, LD_PRELOAD, defaults, usage), a
# layer whose library is missing, for another architecture or for a newer
# glibc; the custom-runtime and container-image examples of lambda/examples/;
# both zips' file lists and ELF machines; the arm64 layer under qemu-user.
# Loopback only; the runtimes and the server run under `timeout`.
# usage: test/layer/run.sh [BUILD_DIR]   (make test-layer)
#   LAYER_TEST_KEEP=1 keeps the temporary folder (logs, outputs) and names it.
set -u
B=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/test/layer
cd "$ROOT" || exit 1
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
MARKER=$ROOT/$B/test/layer/liblayer_marker.so
T=$(mktemp -d "${TMPDIR:-/tmp}/faultless-layer.XXXXXX")
if [ -n "${LAYER_TEST_KEEP:-}" ]; then echo "layer: keeping $T"; else trap 'rm -rf "$T"' EXIT; fi
. "$ROOT/test/checks.sh"
check() {
  name=$1
  shift
  if "$@"; then
    ok
    echo "ok   $name"
  else
    fail "$name"
  fi
}
skip() { echo "skip $1: $2"; }
for a in x86_64 arm64; do
  [ -f "build/layer/faultless-layer-$a.zip" ] || {
    echo "layer: build/layer/faultless-layer-$a.zip missing (make layer)" >&2
    exit 1
  }
done
[ -f "$MARKER" ] || {
  echo "layer: $MARKER missing (make test-layer builds it)" >&2
  exit 1
}

# --- The zips -----------------------------------------------------------------
want_files() {
  printf '%s\n' README.md faultless-wrapper bin/faultless include/faultless.h lib/libfaultless.so \
    lib/libfaultless-jemalloc.so lib/libfaultless-mimalloc.so
  [ -d lambda/python ] && (cd lambda/python && find . -type f ! -path '*/__pycache__/*' ! -name '*.pyc' |
    sed 's|^\./|python/|')
}
want_files | sort >"$T/want"
for a in x86_64 arm64; do
  zip=build/layer/faultless-layer-$a.zip
  mkdir -p "$T/z-$a"
  (cd "$T/z-$a" && unzip -q "$ROOT/$zip")
  (cd "$T/z-$a" && find . -type f | sed 's|^\./||' | sort) >"$T/have-$a"
  check "$a zip: exactly the layer's files" diff -u "$T/want" "$T/have-$a"
  check "$a zip: lib/libfaultless.so.0, the soname programs link against, links to libfaultless.so" \
    test "$(readlink "$T/z-$a/lib/libfaultless.so.0")" = libfaultless.so
  check "$a zip: wrapper and bin/faultless executable" \
    test -x "$T/z-$a/faultless-wrapper" -a -x "$T/z-$a/bin/faultless"
  case $a in x86_64) m='Advanced Micro Devices X86-64' ;; arm64) m=AArch64 ;; esac
  for f in bin/faultless lib/libfaultless.so lib/libfaultless-jemalloc.so lib/libfaultless-mimalloc.so; do
    check "$a zip: $f is $m, no debug info" sh -c "
      readelf -h '$T/z-$a/$f' | grep -q 'Machine: *$m\$' &&
      ! readelf -S '$T/z-$a/$f' | grep -q '\.debug_info'"
  done
done
OPT=$T/opt
cp -R "$T/z-x86_64" "$OPT"
W=$OPT/faultless-wrapper

# --- The wrapper's contract ---------------------------------------------------
"$W" >"$T/u.out" 2>"$T/u.err"
rc=$?
check "wrapper: no arguments -> exit 2, usage on stderr" sh -c \
  "[ $rc -eq 2 ] && grep -q '^usage: faultless-wrapper RUNTIME' '$T/u.err' && ! test -s '$T/u.out'"
# Arguments exactly as given: spaces, quotes, empty, globs, dollars, newlines.
"$W" "$PY" -c 'import json, sys; print(json.dumps(sys.argv[1:]))' \
  "a b" "" "q'\"x" " " "*" '$HOME' "tab	x" "line
two" -- "-n" >"$T/args.out" 2>"$T/args.err"
check "wrapper: arguments passed exactly (spaces, quotes, empty strings)" "$PY" - "$T/args.out" <<'PY'
import json, sys
got = json.load(open(sys.argv[1]))
assert got == ["a b", "", "q'\"x", " ", "*", "$HOME", "tab\tx", "line\ntwo", "--", "-n"], got
PY
check "wrapper: nothing on stderr when the library loads" test ! -s "$T/args.err"
# Amazon Linux's /bin/sh is bash (this machine's is dash): the wrapper under bash.
bash "$W" "$PY" -c 'import json, sys; print(json.dumps(sys.argv[1:]))' \
  "a b" "" "q'\"x" " " "*" '$HOME' >"$T/bash.out" 2>"$T/bash.err"
check "wrapper under bash: arguments exact, nothing on stderr" "$PY" - "$T/bash.out" "$T/bash.err" <<'PY'
import json, sys
got = json.load(open(sys.argv[1]))
assert got == ["a b", "", "q'\"x", " ", "*", "$HOME"], got
assert open(sys.argv[2]).read() == ""
PY
mkdir -p "$T/bash-opt"
cp "$W" "$T/bash-opt/"
env -u LD_PRELOAD bash "$T/bash-opt/faultless-wrapper" /bin/echo ran >"$T/bash2.out" 2>"$T/bash2.err"
check "wrapper under bash: no library -> one line, the runtime runs" sh -c "
  grep -q '^ran\$' '$T/bash2.out' && [ \$(grep -c . '$T/bash2.err') -eq 1 ] &&
  grep -q '^faultless-wrapper: .*/lib/libfaultless.so not found; running without faultless\$' '$T/bash2.err'"
# env_of VAR [ENV...]: the runtime's view of VAR ("<unset>" when unset).
env_of() {
  local var=$1
  shift
  env "$@" "$W" "$PY" -c 'import os, sys; print(os.environ.get(sys.argv[1], "<unset>"))' "$var" 2>/dev/null
}
check "wrapper: PREFAULT_PID is the runtime's own PID (the wrapper execs it)" \
  env -u FAULTLESS_PREFAULT_PID "$W" sh -c 'test "$$" = "$FAULTLESS_PREFAULT_PID"'
check "wrapper: the function's own variables named like the wrapper's words (dir, lib, out, why) kept" \
  env dir=/data lib=mine out=keep why=because "$W" sh -c 'test "$dir:$lib:$out:$why" = /data:mine:keep:because'
check "wrapper: the function's own PREFAULT_PID kept" \
  test "$(env_of FAULTLESS_PREFAULT_PID FAULTLESS_PREFAULT_PID=any)" = any
check "wrapper: MMAP on when the function sets none" \
  test "$(env_of FAULTLESS_MMAP -u FAULTLESS_MMAP)" = 1
check "wrapper: the function's own MMAP kept" \
  test "$(env_of FAULTLESS_MMAP FAULTLESS_MMAP=0)" = 0
# The runtime warms at start-up; a program it starts inherits the preload
# but warms only ahead of its own heap.
prefault_target() {
  env -u FAULTLESS_PREFAULT -u FAULTLESS_PREFAULT_PID AWS_LAMBDA_FUNCTION_MEMORY_SIZE=2048 \
    "$W" "$@" 2>&1 >/dev/null | sed -n 's/.*"prefault_target": \([0-9]*\).*/\1/p'
}
check "wrapper: the runtime warms at start-up (prefault_target > 0)" \
  test "$(prefault_target env FAULTLESS_STATS=json /bin/true)" -gt 0
check "wrapper: a program the runtime starts does not (prefault_target 0)" \
  test "$(prefault_target sh -c 'FAULTLESS_STATS=json /bin/true; :')" = 0
check "wrapper: LD_PRELOAD set when the function has none" \
  test "$(env_of LD_PRELOAD -u LD_PRELOAD)" = "$OPT/lib/libfaultless.so"
check "wrapper: the function's LD_PRELOAD kept behind faultless (spaces)" \
  test "$(env_of LD_PRELOAD "LD_PRELOAD=$MARKER /lib/x86_64-linux-gnu/libm.so.6")" = \
  "$OPT/lib/libfaultless.so:$MARKER /lib/x86_64-linux-gnu/libm.so.6"
check "wrapper: the function's LD_PRELOAD kept behind faultless (colons)" \
  test "$(env_of LD_PRELOAD "LD_PRELOAD=$MARKER:/lib/x86_64-linux-gnu/libm.so.6")" = \
  "$OPT/lib/libfaultless.so:$MARKER:/lib/x86_64-linux-gnu/libm.so.6"
check "wrapper: a function that preloads faultless itself keeps its LD_PRELOAD" \
  test "$(env_of LD_PRELOAD "LD_PRELOAD=$MARKER $OPT/lib/libfaultless-jemalloc.so")" = \
  "$MARKER $OPT/lib/libfaultless-jemalloc.so"
check "wrapper: PREFAULT a quarter of the function's memory (2048 MB -> 512M)" \
  test "$(env_of FAULTLESS_PREFAULT -u FAULTLESS_PREFAULT AWS_LAMBDA_FUNCTION_MEMORY_SIZE=2048)" = 512M
check "wrapper: PREFAULT at most 1 GiB (10240 MB -> 1024M)" \
  test "$(env_of FAULTLESS_PREFAULT -u FAULTLESS_PREFAULT AWS_LAMBDA_FUNCTION_MEMORY_SIZE=10240)" = 1024M
check "wrapper: the function's own PREFAULT kept" \
  test "$(env_of FAULTLESS_PREFAULT AWS_LAMBDA_FUNCTION_MEMORY_SIZE=2048 FAULTLESS_PREFAULT=64M)" = 64M
check "wrapper: no PREFAULT default outside Lambda" \
  test "$(env_of FAULTLESS_PREFAULT -u AWS_LAMBDA_FUNCTION_MEMORY_SIZE -u FAULTLESS_PREFAULT)" = "<unset>"
# Loads, but cannot start: an address-space limit too small for its reservation.
(ulimit -v 12000 && env -u LD_PRELOAD "$W" /bin/echo ran) >"$T/small.out" 2>"$T/small.err"
check "wrapper: a library that loads but does not start -> one line, the runtime runs" sh -c "
  [ \$(grep -c . '$T/small.err') -eq 1 ] && grep -q '^ran\$' '$T/small.out' &&
  grep -q '^faultless-wrapper: .*/libfaultless.so loaded but did not start: FAULTLESS_VERBOSE=1 says why; running without faultless\$' '$T/small.err'"
env -u LD_PRELOAD "$W" /bin/sh -c 'exit 7' 2>/dev/null
check "wrapper: the runtime's exit status comes back" test $? -eq 7
# The wrapper may be run by a relative path: LD_PRELOAD is made absolute.
(cd "$T" && env -u LD_PRELOAD opt/faultless-wrapper "$PY" -c 'import os; print(os.environ["LD_PRELOAD"])' \
  >"$T/rel.out" 2>&1)
check "wrapper: run by a relative path, LD_PRELOAD is absolute" \
  test "$(cat "$T/rel.out")" = "$T/./opt/lib/libfaultless.so" -o "$(cat "$T/rel.out")" = "$T/opt/lib/libfaultless.so"

# --- Functions against the local Runtime API ----------------------------------
LAMBDA_ENV=(AWS_LAMBDA_FUNCTION_NAME=faultless-layer-test AWS_LAMBDA_FUNCTION_VERSION='$LATEST'
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024 AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/faultless-layer-test
  'AWS_LAMBDA_LOG_STREAM_NAME=2026/01/01/[$LATEST]0123456789abcdef' AWS_REGION=us-east-1
  LD_PRELOAD="$MARKER")
# serve NAME EVENTS_JSON ENV... -- CMD...: the server and the runtime, until
# the server has served every event and gone; the runtime's output, status
# and the server's log in $T/NAME.{out,err,rc,log}.
serve() {
  local name=$1 events=$2 spid envs=()
  shift 2
  while [ "$1" != -- ]; do
    envs+=("$1")
    shift
  done
  shift
  rm -f "$T/$name.port"
  timeout 150 "$PY" "$ROOT/test/lambda/server.py" --events "$events" --log "$T/$name.log" \
    --port-file "$T/$name.port" --timeout 140 &
  spid=$!
  for _ in $(seq 100); do [ -s "$T/$name.port" ] && break; sleep 0.05; done
  env "${LAMBDA_ENV[@]}" "${envs[@]}" AWS_LAMBDA_RUNTIME_API="127.0.0.1:$(cat "$T/$name.port")" \
    timeout 120 "$@" >"$T/$name.out" 2>"$T/$name.err"
  echo $? >"$T/$name.rc"
  kill "$spid" 2>/dev/null
  wait "$spid" 2>/dev/null
}
# check_log NAME LOADED(true|false) MARKER(true|false) KIND: every event
# answered by the right endpoint, the numbers right, the process's libraries.
check_log() {
  "$PY" - "$T/$1.log" "$2" "$3" "$4" "$OPT/lib/libfaultless.so" "$MARKER" <<'PY'
import json, sys
log = [json.loads(l) for l in open(sys.argv[1])]
loaded, marker, kind, lib, mark = sys.argv[2] == "true", sys.argv[3] == "true", sys.argv[4], sys.argv[5], sys.argv[6]
events = json.load(open(sys.argv[1][:-4] + ".events"))
posts = {e["path"].split("/")[-2]: e for e in log if e.get("method") == "POST"}
assert sorted(posts) == ["req-%d" % (i + 1) for i in range(len(events))], (sorted(posts), log)
for i, ev in enumerate(events):
    p = posts["req-%d" % (i + 1)]
    if "throw" in ev:
        assert p["path"].endswith("/error"), p
        d = json.loads(p["body"])
        assert ev["throw"] in d["errorMessage"] and d["errorType"], d
        # The Python loop sends the error type as a header too; aws-lambda-ric's
        # native client puts it in the body only.
        assert p["error_type"] or kind == "arrow", p
        continue
    assert p["path"].endswith("/response"), p
    d = json.loads(p["body"])
    assert d["request_id"] == "req-%d" % (i + 1), d
    n = ev.get("rows", 1000000)
    if kind == "numpy":
        cols = ev.get("columns", 8)
        assert d["rows"] == n and d["columns"] == cols, d
        assert d["total"] == n * (n - 1) // 2 * cols * (cols + 1) // 2, d
        if loaded:
            assert d["stats"] and d["stats"]["reserved"] > 0, d["stats"]
            assert d["stats"]["peak_in_use"] >= 8 * n, d["stats"]  # a column went through faultless
        else:
            assert d["stats"] is None, d["stats"]
    else:
        assert d["rows"] == n and d["sum_id"] == n * (n - 1) // 2, d
        assert d["sum_v"] == sum((i % 1000) / 4 for i in range(n)), d
    assert d["faultless"] is loaded, ("faultless loaded", d["faultless"], d["ld_preload"])
    assert d["marker"] is marker, ("marker loaded", d["marker"], d["ld_preload"])
    if loaded:
        assert d["ld_preload"].split(":")[0] == lib and mark in d["ld_preload"], d["ld_preload"]
        assert d["prefault"] == "256M", d["prefault"]  # a quarter of 1024 MB
    else:
        assert d["ld_preload"] == mark, d["ld_preload"]
PY
}
# wrapper_lines NAME: the number of lines the wrapper printed.
wrapper_lines() { grep -c '^faultless-wrapper: ' "$T/$1.err"; }

# Python: Debian's python3, the runtime loop of test/layer/python/runtime.py.
PYFN=(_HANDLER=numpy_handler.handler LAMBDA_TASK_ROOT="$HERE/python" AWS_LAMBDA_EXEC_WRAPPER="$W")
echo '[{"rows": 1000000}, {"rows": 300000, "columns": 3}, {"throw": "boom from the test"}, {"rows": 1000}]' \
  >"$T/py.events"
py_function() { serve "$1" "$T/$1.events" "${PYFN[@]}" "${@:2}" -- "$W" "$PY" "$HERE/python/runtime.py"; }
if ! "$PY" -c 'import numpy' 2>/dev/null; then
  skip "python + numpy function" "numpy is not installed for $PY (scripts/setup installs python3-numpy)"
else
  py_function py
  check "python: numpy answers right, the throw on the error endpoint; faultless and the marker loaded" \
    check_log py true true numpy
  check "python: the wrapper said nothing" test "$(wrapper_lines py)" -eq 0

  # The layer without its library, with another architecture's, with one
  # that needs a newer glibc than this one (GLIBC_2.99, from a stub libc):
  # the function answers without faultless, and one line says why.
  echo '[{"rows": 1000}]' >"$T/one.events"
  broken() {
    local case=$1 why=$2
    cp "$T/one.events" "$T/$case.events"
    py_function "$case"
    check "$case: the function answers without faultless" check_log "$case" false true numpy
    check "$case: one line says why ($why)" sh -c \
      "[ \$(grep -c '^faultless-wrapper: ' '$T/$case.err') -eq 1 ] && grep '^faultless-wrapper: ' '$T/$case.err' | grep -q '$why'"
  }
  mv "$OPT/lib/libfaultless.so" "$T/libfaultless.so.saved"
  broken missing "libfaultless.so not found; running without faultless"
  cp "$T/z-arm64/lib/libfaultless.so" "$OPT/lib/libfaultless.so"
  broken otherarch "libfaultless.so is for aarch64, this machine is x86_64"
  mkdir -p "$T/stub"
  echo 'void fl_layer_future(void) {}' >"$T/stub/s.c"
  echo 'GLIBC_2.99 { global: fl_layer_future; local: *; };' >"$T/stub/v.map"
  printf 'void fl_layer_future(void);\nvoid fl_layer_needs(void) { fl_layer_future(); }\n' >"$T/stub/l.c"
  if cc -shared -nostdlib -Wl,-soname,libc.so.6 -Wl,--version-script="$T/stub/v.map" \
    -o "$T/stub/libc.so" "$T/stub/s.c" &&
    cc -shared -fPIC -nostdlib -o "$OPT/lib/libfaultless.so" "$T/stub/l.c" -L"$T/stub" -lc; then
    broken newglibc "version .GLIBC_2.99. not found"
  else
    fail "newglibc: could not build the stand-in library"
  fi
  mv "$T/libfaultless.so.saved" "$OPT/lib/libfaultless.so"
fi

# Node.js: AWS's runtime interface client, as the managed runtime starts it.
NODEDIR=$HERE/node
if ! why=$("$NODEDIR/ensure.sh"); then
  skip "node function (aws-lambda-ric 4.x + apache-arrow)" "$why"
else
  echo '[{"rows": 1000000}, {"rows": 250000}, {"throw": "boom from the test"}, {"rows": 1000}]' \
    >"$T/node.events"
  serve node "$T/node.events" _HANDLER=handler.handler LAMBDA_TASK_ROOT="$NODEDIR" \
    AWS_LAMBDA_EXEC_WRAPPER="$W" FAULTLESS_STATS=json -- \
    "$W" node --max-http-header-size 81920 "$NODEDIR/node_modules/aws-lambda-ric/index.mjs"
  check "node $(node --version) + aws-lambda-ric $(node -p 'require("'"$NODEDIR"'/node_modules/aws-lambda-ric/package.json").version'): arrow answers right, the throw on the error endpoint; faultless and the marker loaded" \
    check_log node true true arrow
  check "node: the wrapper said nothing" test "$(wrapper_lines node)" -eq 0
  # The runtime exits when the API goes; faultless's statistics at exit show
  # that it served the handler's typed arrays (8 MB for a million doubles).
  check "node: faultless served the arrays (FAULTLESS_STATS=json at exit)" "$PY" - "$T/node.err" <<'PY'
import json, sys
stats = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{"version"')]
assert len(stats) == 1, stats
assert stats[0]["reserved"] > 0 and stats[0]["peak_in_use"] >= 8_000_000, stats
PY
fi

# --- lambda/examples ----------------------------------------------------------
# Custom runtime (provided.al2023): the example bootstrap runs the function's
# own program under the wrapper; here that program is the Python runtime loop.
if "$PY" -c 'import numpy' 2>/dev/null; then
  mkdir -p "$T/task"
  cp lambda/examples/provided/bootstrap "$T/task/bootstrap"
  cp "$HERE/python/runtime.py" "$T/task/function"
  cp "$HERE/python/numpy_handler.py" "$T/task/"
  echo '[{"rows": 200000}, {"throw": "boom from the test"}]' >"$T/provided.events"
  serve provided "$T/provided.events" _HANDLER=numpy_handler.handler LAMBDA_TASK_ROOT="$T/task" \
    FAULTLESS_LAYER_DIR="$OPT" -- "$T/task/bootstrap"
  check "custom runtime: lambda/examples/provided/bootstrap runs the function with faultless" \
    check_log provided true true numpy
  # Container image: the Dockerfile's ENV lines and CMD, as the image would
  # run them (docker does not run here): the layer's /opt is $OPT, and the
  # Python runtime loop stands in for the base image's entrypoint.
  img_env=()
  while IFS= read -r line; do
    img_env+=("${line//\/opt\//$OPT/}")
  done < <(sed -n 's/^ENV \([A-Z_]*=.*\)$/\1/p' lambda/examples/container/Dockerfile)
  cmd=$(sed -n 's/^CMD \["\([^"]*\)"\]$/\1/p' lambda/examples/container/Dockerfile)
  echo '[{"rows": 200000}]' >"$T/container.events"
  LAMBDA_ENV=("${LAMBDA_ENV[@]/#LD_PRELOAD=*/LD_PRELOAD=}")
  serve container "$T/container.events" _HANDLER="$cmd" LAMBDA_TASK_ROOT="$HERE/python" \
    "${img_env[@]}" -- "$PY" "$HERE/python/runtime.py"
  check "container image: ENV LD_PRELOAD=${img_env[0]#LD_PRELOAD=} and CMD $cmd, faultless loaded" \
    sh -c "[ '${#img_env[@]}' -ge 1 ] && '$PY' - '$T/container.log' <<'PY'
import json, sys
posts = [json.loads(l) for l in open(sys.argv[1])]
posts = [p for p in posts if p.get('method') == 'POST']
assert len(posts) == 1 and posts[0]['path'].endswith('/response'), posts
d = json.loads(posts[0]['body'])
assert d['total'] == 200000 * 199999 // 2 * 36 and d['faultless'] and d['stats']['reserved'] > 0, d
PY"
fi
# Linking instead of preloading (a custom runtime built in C, C++ or Rust).
if cc -I"$OPT/include" "$HERE/linked.c" -o "$T/linked" -L"$OPT/lib" -Wl,-rpath,"$OPT/lib" \
  -Wl,--no-as-needed -lfaultless 2>"$T/linked.err"; then
  check "custom runtime linked with -lfaultless -Wl,-rpath,/opt/lib: faultless serves malloc" \
    sh -c "env -u LD_PRELOAD timeout 20 '$T/linked' >'$T/linked.out' 2>&1"
else
  fail "linked: $(cat "$T/linked.err")"
fi

# --- arm64 under qemu-user ----------------------------------------------------
# The wrapper's load check runs an arm64 program too (FAULTLESS_WRAPPER_PROBE),
# since /bin/true here is x86_64. qemu's own (x86_64) loader notes that it
# cannot preload the arm64 library; the arm64 program's loader preloads it.
QEMU=(qemu-aarch64 -L /usr/aarch64-linux-gnu)
if ! command -v qemu-aarch64 >/dev/null || ! [ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ]; then
  skip "arm64 layer under qemu-user" "qemu-user or libc6-arm64-cross missing (scripts/setup installs them)"
else
  A=$T/z-arm64
  env -u LD_PRELOAD FAULTLESS_STATS=json FAULTLESS_WRAPPER_PROBE="${QEMU[*]} $A/bin/faultless version" \
    timeout 120 "$A/faultless-wrapper" "${QEMU[@]}" "$A/bin/faultless" version >"$T/arm.out" 2>"$T/arm.err"
  arm_active() {
    grep -q '^faultless [0-9]' "$T/arm.out" && ! grep -q '^faultless-wrapper:' "$T/arm.err" &&
      grep -q '"reserved": [1-9][0-9]*, .*"heaps": [1-9]' "$T/arm.err" && return 0
    sed 's/^/    /' "$T/arm.out" "$T/arm.err" >&2
    return 1
  }
  check "arm64: the layer's wrapper runs bin/faultless with the arm64 library active" arm_active
fi

report layer
