# SPDX-License-Identifier: MIT
# Runtimes that map their heaps themselves: OpenJDK 17 (HotSpot) and Node (V8)
# under faultless. Included by the top Makefile (B, LIB_SO).
#
#   make test-runtimes   the Java and the Node program give the same checksums
#                        with and without libfaultless.so; with PREFAULT their
#                        first round's page faults fall below the targets (Java
#                        also through the Lambda layer's wrapper); the JVM
#                        starts when the library cannot load
#                        (bench/runtimes/test.py)
#   make bench-runtimes  first-round time and faults, and the JVM's start-up:
#                        plain, faultless (PREFAULT=1G) and AlwaysPreTouch;
#                        part of `make bench` (bench/runtimes/run.sh; knobs below)
# The Java programs are compiled with javac into $(B)/runtimes/classes; without
# javac (scripts/setup installs openjdk-17-jdk-headless) the Java checks and
# rows are skipped and say so.
ifeq ($(BENCH_QUICK),1)
RUNTIMES_BENCH_REPEAT = 1
endif
RUNTIMES_BENCH_REPEAT ?= 5
RUNTIMES_BENCH_ARGS ?=
RUNTIMES_BENCH_OUT ?= $(B)/bench-results/runtimes
RUNTIMES_CLASSES := $(B)/runtimes/classes
RUNTIMES_JAVA := bench/runtimes/FirstRound.java bench/runtimes/Nothing.java

TEST_STEPS += test-runtimes
.PHONY: test-runtimes bench-runtimes runtimes-classes

runtimes-classes: $(RUNTIMES_CLASSES)/FirstRound.class

$(RUNTIMES_CLASSES)/FirstRound.class: $(RUNTIMES_JAVA)
	@if command -v javac >/dev/null; then \
	  mkdir -p $(RUNTIMES_CLASSES) && echo "javac -d $(RUNTIMES_CLASSES) $(RUNTIMES_JAVA)" && \
	  javac -d $(RUNTIMES_CLASSES) $(RUNTIMES_JAVA); \
	else echo "runtimes: no javac (scripts/setup installs openjdk-17-jdk-headless); the Java programs are not built"; fi

test-runtimes: $(LIB_SO) runtimes-classes
	@/usr/bin/python3 bench/runtimes/test.py --build $(B)

bench-runtimes: $(LIB_SO)
	@if [ -x scripts/setup ]; then scripts/setup; fi
	@$(MAKE) --no-print-directory runtimes-classes
	bench/runtimes/run.sh --build $(B) --repeat $(RUNTIMES_BENCH_REPEAT) \
	  --out $(RUNTIMES_BENCH_OUT) $(RUNTIMES_BENCH_ARGS)

bench: bench-runtimes
