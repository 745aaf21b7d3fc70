# SPDX-License-Identifier: MIT
# Fuzzing: a libFuzzer harness over the fl_* API (test/fuzz/fuzz_ops.c), the
# library's sources compiled into it with clang, ASan and UBSan. Included by
# the top Makefile (B, WARN, CORE_SRC, HDRS).
#
#   make fuzz       fuzz for FUZZ_SECONDS (600); new inputs are kept in
#                   $(B)/fuzz/corpus, crashes go to $(B)/fuzz/artifacts
#   make test-fuzz  replay test/fuzz/corpus and test/fuzz/regress, then fuzz
#                   for FUZZ_CI_SECONDS (60); skipped when clang cannot build
#                   a libFuzzer program (scripts/setup installs clang and
#                   libclang-rt-14-dev)
#   FUZZ_DEFS=-DFL_SECURE=1 (or -DFL_DEBUG=1) fuzzes that build instead.
#
# libFuzzer runs one process (no -jobs): CI has two cores.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 600
FUZZ_CI_SECONDS ?= 60
FUZZ_DEFS ?=
FUZZ_BIN := $(B)/fuzz/fuzz_ops
FUZZ_CFLAGS := -std=gnu11 -O2 -g $(WARN) -pthread -Iinclude -Isrc \
               -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
               -fno-omit-frame-pointer -DFL_SANITIZE=1 $(FUZZ_DEFS)

# Rebuild when the compiler or flags change (FUZZ_DEFS), not only the sources.
$(B)/fuzz/cflags: fuzz-always
	@mkdir -p $(dir $@)
	@echo '$(FUZZ_CC) $(FUZZ_CFLAGS)' | cmp -s - $@ || echo '$(FUZZ_CC) $(FUZZ_CFLAGS)' >$@

$(FUZZ_BIN): test/fuzz/fuzz_ops.c $(CORE_SRC) $(HDRS) $(B)/fuzz/cflags
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) test/fuzz/fuzz_ops.c $(CORE_SRC) -o $@

FUZZ_ENV := FUZZ_CC="$(FUZZ_CC)" FUZZ_BIN="$(FUZZ_BIN)" FUZZ_DIR="$(B)/fuzz" MAKE="$(MAKE)" B="$(B)"

.PHONY: fuzz fuzz-bin test-fuzz fuzz-always
fuzz-always:
fuzz-bin: $(FUZZ_BIN)

fuzz:
	@$(FUZZ_ENV) test/fuzz/run.sh fuzz $(FUZZ_SECONDS)

TEST_STEPS += test-fuzz
test-fuzz:
	@$(FUZZ_ENV) test/fuzz/run.sh test $(FUZZ_CI_SECONDS)
