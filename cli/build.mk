# SPDX-License-Identifier: MIT
# The measuring tools: `faultless` (bench, probe) and the bench worker `seed`.
# Included by the top Makefile, which provides B, CC, ALL_CFLAGS, LDLIBS,
# LIB_CORE_A, LIB_SO and LIB_A.
#
#   make tools      build $(B)/faultless and $(B)/bench/seed
#   make bench      the seed's experiment across the installed allocators,
#                   into $(B)/bench-results/ (the start-up ratios at the end)
#   make test-cli   quick self-test of both commands (cli/test.sh)

# tools/: what the command and the Lambda runtime (mk/lambda.mk) share. The
# dependencies go one way: cli/ and lambda/ include tools/, never each other,
# and tools/ includes neither.
TOOLS_SRC := tools/util.c tools/json.c tools/machine.c tools/peers.c tools/progress.c
TOOLS_HDR := tools/size.h tools/util.h tools/json.h tools/machine.h tools/peers.h tools/progress.h
CLI_SRC := cli/faultless.c cli/bench.c cli/bench_load.c cli/bench_out.c cli/probe.c cli/run.c cli/suite_out.c cli/suite_warm.c cli/bench_stats.c cli/probe_out.c \
           cli/suite.c $(TOOLS_SRC)
CLI_HDR := src/parse.h src/internal.h src/config.h src/prim/prim.h $(TOOLS_HDR) cli/bench.h cli/probe.h cli/run.h cli/suite.h \
           include/faultless.h
CLI_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(CLI_SRC))

# Knobs for `make bench` (under two minutes on a 2-vCPU machine). The second
# run pauses before each process so that free page reporting hands freed
# memory back to the host: every process then starts as a cloud function does.
BENCH_REPEAT ?= 25
BENCH_COLD_REPEAT ?= 3
BENCH_COLD_GAP_MS ?= 2500
BENCH_COLD_ALLOCATORS ?= glibc,mimalloc,faultless,faultless:setup-ms=300:prefault=128M
BENCH_OUT ?= $(B)/bench-results
BENCH_ALLOCATORS ?= glibc,glibc-tuned,jemalloc,mimalloc,tcmalloc,faultless,faultless:setup-ms=300:prefault=128M
BENCH_ARGS ?=

TEST_STEPS += test-cli
.PHONY: tools bench test-cli

tools: $(B)/faultless $(B)/faultless-lambda $(B)/bench/seed

# `faultless lambda` runs this script, found beside the command.
$(B)/faultless-lambda: cli/faultless-lambda
	@mkdir -p $(dir $@)
	cp $< $@

$(B)/obj/cli/%.o: cli/%.c $(CLI_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@
$(B)/obj/tools/%.o: tools/%.c $(TOOLS_HDR) src/parse.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# The command also looks for the library in ../lib/<multiarch>/ (Debian's
# layout, tools/util.h); the tuple is the compiler's, so a cross build looks
# for its own.
FL_MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
$(B)/obj/cli/%.o $(B)/obj/tools/%.o: ALL_CFLAGS += -DFL_MULTIARCH='"$(FL_MULTIARCH)"'

# The command never starts the allocator (the bench worker links it). From the
# core archive it takes only the objects of the readers it shares with the
# library, so that both read a thing one way: the option and size parser
# (src/parse.c) and the budget's memory limit (src/budget.c, over the OS layer).
$(B)/faultless: $(CLI_OBJ) $(LIB_CORE_A)
	$(CC) $(ALL_CFLAGS) -o $@ $(CLI_OBJ) $(LIB_CORE_A) $(LDLIBS) -lm

# Linked against the core library (fl_* only, no malloc override), so that with
# --api malloc it measures whichever allocator is LD_PRELOADed.
$(B)/bench/seed: bench/seed.c include/faultless.h tools/size.h $(LIB_CORE_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ bench/seed.c $(LIB_CORE_A) $(LDLIBS)

# Missing allocators are skipped with a note. The faultless rows go through
# malloc with libfaultless.so preloaded, as the peers do (faultless-api: the
# worker's fl_* calls instead). The output directories are made by the command.
bench: tools $(LIB_SO)
	@if [ -x scripts/setup ]; then scripts/setup; fi
	$(B)/faultless bench --repeat $(BENCH_REPEAT) --allocators $(BENCH_ALLOCATORS) \
	  --out $(BENCH_OUT) $(BENCH_ARGS)
	@echo
	$(B)/faultless bench --repeat $(BENCH_COLD_REPEAT) --gap-ms $(BENCH_COLD_GAP_MS) \
	  --allocators $(BENCH_COLD_ALLOCATORS) --out $(BENCH_OUT)/cold $(BENCH_ARGS)

test-cli: tools $(LIB_SO)
	cli/test.sh $(B)
