# SPDX-License-Identifier: MIT
# faultless build. One source list; make -> build/ (release, -O2 -g).
#   make test | bench | install | format | format-check
PREFIX ?= /usr/local
CC ?= cc
# ARCH=arm64 (or aarch64): cross-build for aarch64 with Debian's
# gcc-aarch64-linux-gnu into build-arm64 (mk/arm64.mk runs its tests under
# qemu-user). ARCH=x86_64 (amd64) or unset: the native build.
ARCH ?=
CROSS_ARM64 := $(if $(filter arm64 aarch64,$(ARCH)),1)
ifeq ($(CROSS_ARM64),1)
  # Unless CC / CXX is given on the command line: a host compiler named in
  # the environment cannot build for aarch64.
  ifneq ($(filter default environment,$(origin CC)),)
    CC := aarch64-linux-gnu-gcc
  endif
  ifneq ($(filter default environment,$(origin CXX)),)
    CXX := aarch64-linux-gnu-g++
  endif
else ifneq ($(filter-out x86_64 amd64,$(ARCH)),)
  $(error ARCH must be empty, x86_64 or arm64)
endif
# Variants, each in its own build folder:
#   SAN=asan|tsan  sanitizers (the library is then used through fl_* only)
#   SECURE=1       encoded free lists, guard pages, randomized reuse
#   DEBUG=1        freed blocks filled and checked on reuse (write-after-free)
#   VALGRIND=0     leave out the valgrind detection (see TUNING.md, PASSTHROUGH)
#   CHECKS=0       no invalid/double-free checks on the free fast path (to measure their cost)
#   TEST_HOOKS=1   FAULTLESS_TEST_PAGE_SIZE pretends a 16/64/256 KiB page kernel (make test-pagesize)
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
ifeq ($(TEST_HOOKS),1)
  SANFLAGS += -DFL_TEST_HOOKS=1
endif
B ?= build$(if $(CROSS_ARM64),-arm64)$(if $(SAN),-$(SAN))$(if $(filter 1,$(SECURE)),-secure)$(if $(filter 1,$(DEBUG)),-debug)$(if $(filter 0,$(CHECKS)),-nochecks)$(if $(filter 1,$(TEST_HOOKS)),-hooks)

WARN := -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS ?= -O2 -g
# Every function on a cache line of its own, so that where the linker happens
# to put malloc's and free's fast paths does not move the suite's figures
# (bench/suite/README.md has the measurement).
ALIGN := -falign-functions=64
ALL_CFLAGS := -std=gnu11 $(CFLAGS) $(ALIGN) $(WARN) -fPIC -fno-semantic-interposition -pthread -Iinclude -Isrc $(SANFLAGS)
LDLIBS := -pthread -ldl
# The shared libraries name libpthread and libdl as dependencies: before glibc
# 2.34 the old symbol versions they bind to (src/prim/glibc.h) live there.
SO_LDLIBS := $(LDLIBS) -Wl,--push-state,--no-as-needed -l:libpthread.so.0 -l:libdl.so.2 -Wl,--pop-state

# By layer, bottom up (src/README.md).
CORE_SRC := src/prim/linux.c src/assert.c src/parse.c src/options.c src/stats.c src/budget.c \
            src/arena.c src/populate.c src/huge.c src/warm.c src/maps.c src/mapknown.c \
            src/span.c src/spanrelease.c src/outside.c src/snapshot.c src/heap.c src/heapcache.c \
            src/alloc.c src/control.c src/system.c src/init.c
OVERRIDE_SRC := src/override.c src/mapcalls.c
CORE_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(CORE_SRC))
OVERRIDE_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(OVERRIDE_SRC))
# The shared libraries' objects, in obj-so/: built with FL_GLIBC_COMPAT, which
# binds pthread and dl functions to their pre-2.34 versions
# (src/prim/glibc.h), so that they load on glibc 2.17 and later. The static
# archives keep plain references: a versioned one cannot link with -static.
CORE_SO_OBJ := $(patsubst %.c,$(B)/obj-so/%.o,$(CORE_SRC))
OVERRIDE_SO_OBJ := $(patsubst %.c,$(B)/obj-so/%.o,$(OVERRIDE_SRC))
HDRS := include/faultless.h src/internal.h src/parse.h src/prim/prim.h src/prim/glibc.h \
        src/config.h src/arena.h src/span.h src/spanfree.h src/heap.h src/api.h src/pages.h

LIB_SO := $(B)/libfaultless.so
# The ABI version in the soname (libfaultless.so.0). Raise it when a change
# breaks programs linked against the previous one; the Debian runtime package's
# name (libfaultless0) follows it. The build tree links LIB_SO under its plain
# name and keeps the soname beside it as a link, so that programs linked
# against it run from here.
FL_SOVERSION := 0
LIB_A := $(B)/libfaultless.a
LIB_CORE_A := $(B)/libfaultless-core.a

.PHONY: all lib test test-unit test-asan test-tsan bench install format format-check clean setup
all: lib

lib: $(LIB_SO) $(LIB_A) $(LIB_CORE_A)

# Objects depend on this file too: a change of flags here rebuilds them.
$(B)/obj/%.o: %.c $(HDRS) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(B)/obj-so/%.o: %.c $(HDRS) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DFL_GLIBC_COMPAT=1 -c $< -o $@

$(LIB_SO): $(CORE_SO_OBJ) $(OVERRIDE_SO_OBJ) src/exports.map
	$(CC) $(ALL_CFLAGS) -shared -Wl,--version-script=src/exports.map \
	  -Wl,-soname,libfaultless.so.$(FL_SOVERSION) -o $@ $(CORE_SO_OBJ) $(OVERRIDE_SO_OBJ) $(SO_LDLIBS)
	ln -sf libfaultless.so $@.$(FL_SOVERSION)

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
