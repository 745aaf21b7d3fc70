# SPDX-License-Identifier: MIT
# faultless build. One source list; make -> build/ (release, -O2 -g).
#   make test | bench | install | format | format-check
PREFIX ?= /usr/local
CC ?= cc
# Variants, each in its own build folder:
#   SAN=asan|tsan  sanitizers (the library is then used through fl_* only)
#   SECURE=1       encoded free lists, guard pages, randomized reuse
#   DEBUG=1        freed blocks filled and checked on reuse (write-after-free)
#   VALGRIND=0     leave out the valgrind detection (see TUNING.md, PASSTHROUGH)
#   CHECKS=0       no invalid/double-free checks on the free fast path (to measure their cost)
SAN ?=
SECURE ?= 0
DEBUG ?= 0
SANFLAGS :=
ifeq ($(SAN),asan)
  SANFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -DFL_SANITIZE=1
else ifeq ($(SAN),tsan)
  SANFLAGS += -fsanitize=thread -DFL_SANITIZE=1
else ifneq ($(SAN),)
  $(error SAN must be empty, asan or tsan)
endif
ifeq ($(SECURE),1)
  SANFLAGS += -DFL_SECURE=1
endif
ifeq ($(DEBUG),1)
  SANFLAGS += -DFL_DEBUG=1
endif
ifeq ($(CHECKS),0)
  SANFLAGS += -DFL_NO_CHECKS=1
endif
ifeq ($(VALGRIND),0)
  SANFLAGS += -DFL_NO_VALGRIND=1
endif
B ?= build$(if $(SAN),-$(SAN))$(if $(filter 1,$(SECURE)),-secure)$(if $(filter 1,$(DEBUG)),-debug)$(if $(filter 0,$(CHECKS)),-nochecks)

WARN := -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS ?= -O2 -g
# Every function on a cache line of its own: without it, where the linker
# happened to put malloc's and free's fast paths moved the `small` and
# `prodcons/2` suite cases by 20% (bench/suite/README.md), with no change to them.
ALIGN := -falign-functions=64
ALL_CFLAGS := -std=gnu11 $(CFLAGS) $(ALIGN) $(WARN) -fPIC -fno-semantic-interposition -pthread -Iinclude -Isrc $(SANFLAGS)
LDLIBS := -pthread -ldl

CORE_SRC := src/prim/linux.c src/parse.c src/options.c src/stats.c src/budget.c src/warm.c \
            src/span.c src/outside.c src/heap.c src/alloc.c src/system.c src/init.c \
            src/snapshot.c
OVERRIDE_SRC := src/override.c
CORE_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(CORE_SRC))
OVERRIDE_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(OVERRIDE_SRC))
HDRS := include/faultless.h src/internal.h src/parse.h src/prim/prim.h

LIB_SO := $(B)/libfaultless.so
LIB_A := $(B)/libfaultless.a
LIB_CORE_A := $(B)/libfaultless-core.a

.PHONY: all lib test test-unit test-asan test-tsan bench install format format-check clean setup
all: lib

lib: $(LIB_SO) $(LIB_A) $(LIB_CORE_A)

# Objects depend on this file too: a change of flags here rebuilds them.
$(B)/obj/%.o: %.c $(HDRS) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB_SO): $(CORE_OBJ) $(OVERRIDE_OBJ) src/exports.map
	$(CC) $(ALL_CFLAGS) -shared -Wl,--version-script=src/exports.map -Wl,-soname,libfaultless.so \
	  -o $@ $(CORE_OBJ) $(OVERRIDE_OBJ) $(LDLIBS)

$(LIB_A): $(CORE_OBJ) $(OVERRIDE_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The library without the malloc override: what sanitizer builds and the
# internal unit tests link.
$(LIB_CORE_A): $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

include test/build.mk
-include cli/build.mk
# Further parts (install, real programs, fuzzing, Lambda, ...) each bring a
# fragment; a fragment adds its test step with `TEST_STEPS += test-NAME`.
-include $(sort $(wildcard mk/*.mk))

.PHONY: print-test-steps
print-test-steps:
	@echo $(TEST_STEPS)

setup:
	@scripts/setup

clean:
	rm -rf build build-*

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	@clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h') && echo "format: ok"
