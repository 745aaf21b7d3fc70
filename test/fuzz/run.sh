#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build and run the libFuzzer harness; called by mk/fuzz.mk.
#   test/fuzz/run.sh test SECONDS   replay test/fuzz/corpus and test/fuzz/regress
#                                   (one process per input), then fuzz SECONDS
#                                   from a fresh copy of the corpus
#   test/fuzz/run.sh fuzz SECONDS   fuzz SECONDS, keeping what it finds in
#                                   $FUZZ_DIR/corpus between runs
# Environment (set by mk/fuzz.mk): FUZZ_CC FUZZ_BIN FUZZ_DIR MAKE B.
# Ends with "fuzz: N passed, N failed"; a clean fuzz run counts as one pass.
set -u
mode=$1
seconds=$2
src=test/fuzz
: "${FUZZ_CC:=clang}" "${FUZZ_BIN:=build/fuzz/fuzz_ops}" "${FUZZ_DIR:=build/fuzz}" "${MAKE:=make}"
: "${B:=build}"
# libFuzzer flags for every run: a unit stuck for 30 s (a deadlock) is a failure.
flags=(-timeout=30 -rss_limit_mb=2048 -max_len=4096)

# --- Is there a toolchain? ---------------------------------------------------
mkdir -p "$FUZZ_DIR"
probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }\n' \
  >"$probe_dir/probe.c"
if ! "$FUZZ_CC" -fsanitize=fuzzer,address,undefined "$probe_dir/probe.c" -o "$probe_dir/probe" \
  >"$probe_dir/log" 2>&1; then
  echo "fuzz: skipped: $FUZZ_CC cannot build a libFuzzer program; install clang and"
  echo "fuzz: libclang-rt-14-dev (scripts/setup). $(head -n 1 "$probe_dir/log")"
  if [ "$mode" = test ]; then
    echo "fuzz: 0 passed, 0 failed, 1 skipped"
    exit 0
  fi
  exit 1
fi

if ! $MAKE --no-print-directory B="$B" fuzz-bin; then
  echo "fuzz: the harness did not build"
  echo "fuzz: 0 passed, 1 failed"
  exit 1
fi

passed=0 failed=0

# The lines of a libFuzzer log that say what failed and where: messages, the
# summary, and the stack frames outside the sanitizer, libFuzzer and libc.
summary() {
  grep -E 'fuzz_ops: FAILED|faultless:|ERROR:|SUMMARY:|^ +#[0-9]+ |Test unit written to' "$1" |
    grep -vE '__sanitizer|fuzzer::|libc\.so|nptl/|raise\.c|abort\.c' | head -n 30
}

# --- Replay ------------------------------------------------------------------
if [ "$mode" = test ]; then
  for f in "$src"/corpus/* "$src"/regress/*; do
    [ -f "$f" ] || continue
    # (The braces keep bash's own "Aborted" line out of the output.)
    if { "$FUZZ_BIN" "${flags[@]}" "$f" >"$FUZZ_DIR/replay.log" 2>&1; } 2>/dev/null; then
      passed=$((passed + 1))
    else
      failed=$((failed + 1))
      echo "fuzz: replay of $f FAILED:"
      summary "$FUZZ_DIR/replay.log"
    fi
  done
  echo "fuzz: replayed $((passed + failed)) inputs of $src/corpus and $src/regress: $failed failed"
fi

# --- Fuzz --------------------------------------------------------------------
# New inputs go to the first directory; the committed corpus is only read.
if [ "$mode" = test ]; then
  work=$FUZZ_DIR/ci-corpus
  rm -rf "$work"
else
  work=$FUZZ_DIR/corpus
fi
mkdir -p "$work" "$FUZZ_DIR/artifacts"
log=$FUZZ_DIR/$mode.log
cmd=("$FUZZ_BIN" "${flags[@]}" -max_total_time="$seconds" -print_final_stats=1
  -artifact_prefix="$FUZZ_DIR/artifacts/" "$work" "$src/corpus" "$src/regress")
echo "fuzz: ${cmd[*]}"
start=$(date +%s)
if [ "$mode" = fuzz ]; then
  # Show libFuzzer's progress lines as they come.
  "${cmd[@]}" 2>&1 | tee "$log" | grep --line-buffered -E 'pulse|INITED|DONE|FAILED|ERROR|SUMMARY'
  rc=${PIPESTATUS[0]}
else
  "${cmd[@]}" >"$log" 2>&1
  rc=$?
fi
elapsed=$(($(date +%s) - start))
execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n 1)
[ -n "$execs" ] || execs=$(sed -nE 's/^Done ([0-9]+) runs.*/\1/p' "$log" | tail -n 1)
[ -n "$execs" ] || execs=$(sed -nE 's/^#([0-9]+)[[:space:]].*/\1/p' "$log" | tail -n 1)
echo "fuzz: $seconds s asked, $elapsed s run, ${execs:-?} executions; $work holds $(ls "$work" | wc -l) inputs"
if [ $rc -eq 0 ]; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  echo "fuzz: the fuzzer stopped with exit $rc (log: $log):"
  summary "$log"
  crash=$(sed -nE 's/.*Test unit written to (.*)$/\1/p' "$log" | tail -n 1)
  if [ -n "$crash" ]; then
    echo "fuzz: minimize it and keep it as a regression test:"
    echo "  $FUZZ_BIN -minimize_crash=1 -max_total_time=60 -exact_artifact_path=$src/regress/NAME $crash"
  fi
fi
echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
