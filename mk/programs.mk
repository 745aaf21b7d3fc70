# SPDX-License-Identifier: MIT
# Real programs under faultless: the test step and the benchmarks.
# Included by the top Makefile (B, CC, ALL_CFLAGS, LDLIBS, LIB_SO).
#
#   make test-programs   python3+numpy, CPython's regression tests, node+arrow,
#                        git, sqlite3, gcc and a life-cycle program, each with
#                        and without libfaultless.so; outputs compared
#                        (test/programs/run.sh)
#   make bench-programs  numpy and node+arrow across glibc, jemalloc, mimalloc,
#                        tcmalloc and `faultless run`; part of `make bench`
#                        (bench/programs/run.sh; knobs below)
PROGRAMS_BENCH_REPEAT ?= 5
PROGRAMS_BENCH_ARGS ?=
PROGRAMS_BENCH_OUT ?= $(B)/bench-results/programs

TEST_STEPS += test-programs
.PHONY: test-programs bench-programs

$(B)/test/programs/lifecycle: test/programs/lifecycle.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< -o $@ -ldl $(LDLIBS)

test-programs: lib tools $(B)/test/programs/lifecycle
	@test/programs/run.sh $(B)

bench-programs: lib tools
	@if [ -x scripts/setup ]; then scripts/setup; fi
	bench/programs/run.sh --build $(B) --repeat $(PROGRAMS_BENCH_REPEAT) \
	  --out $(PROGRAMS_BENCH_OUT) $(PROGRAMS_BENCH_ARGS)

bench: bench-programs
