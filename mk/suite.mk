# SPDX-License-Identifier: MIT
# The general-purpose allocator suite: bench/suite/ holds one small
# program per workload, calling plain malloc/free; `faultless suite` runs each
# in fresh processes under glibc, jemalloc, mimalloc, tcmalloc and faultless
# (LD_PRELOAD), interleaved and rotated. Included by the top Makefile (B, CC,
# ALL_CFLAGS, LDLIBS, LIB_SO).
#
#   make bench-suite   the suite, ~10 minutes on 2 vCPUs, into $(B)/bench-results/suite/
#                      (knobs below: SUITE_REPEAT, SUITE_WARMUP, SUITE_SCALE, ...)
#   make test-suite    every workload once at a tiny size under faultless and
#                      glibc; the runner's JSON parses (bench/suite/test.sh)
SUITE_WORKLOADS := small churn larson prodcons falseshare realloc columnar threadchurn \
  randlife nbody bigsparse randfree glibcthread objloop startup
SUITE_BIN := $(patsubst %,$(B)/bench/suite/%,$(SUITE_WORKLOADS))

SUITE_REPEAT ?= 5
SUITE_WARMUP ?= 1
SUITE_SCALE ?= 1
SUITE_THREADS ?= 1,2,all
SUITE_ALLOCATORS ?= glibc,jemalloc,mimalloc,tcmalloc,faultless,faultless-warm
SUITE_OUT ?= $(B)/bench-results/suite
SUITE_ARGS ?= --warming

TEST_STEPS += test-suite
.PHONY: bench-suite bench-suite-tools test-suite

# The workloads link nothing of ours: the allocator comes by LD_PRELOAD.
$(B)/bench/suite/%: bench/suite/%.c bench/suite/suite.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDLIBS)
$(B)/bench/suite/nbody: LDLIBS += -lm

bench-suite-tools: $(SUITE_BIN) $(B)/faultless $(LIB_SO)

bench-suite: bench-suite-tools
	@if [ -x scripts/setup ]; then scripts/setup; fi
	$(B)/faultless suite --repeat $(SUITE_REPEAT) --warmup $(SUITE_WARMUP) --scale $(SUITE_SCALE) \
	  --threads $(SUITE_THREADS) --allocators $(SUITE_ALLOCATORS) --out $(SUITE_OUT) $(SUITE_ARGS)

test-suite: bench-suite-tools
	@bench/suite/test.sh $(B)
