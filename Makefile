# faultless build. One source list; variants by BUILD/SAN:
#   make                  -> build/ (release, -O2 -g)
#   make SAN=asan         -> build-asan/ (ASan+UBSan, library used through fl_* only)
#   make SAN=tsan         -> build-tsan/ (TSan)
#   make test | bench | install | format | format-check
PREFIX ?= /usr/local
CC ?= cc
SAN ?=
ifeq ($(SAN),)
  B ?= build
  SANFLAGS :=
else ifeq ($(SAN),asan)
  B ?= build-asan
  SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -DFL_SANITIZE=1
else ifeq ($(SAN),tsan)
  B ?= build-tsan
  SANFLAGS := -fsanitize=thread -DFL_SANITIZE=1
else
  $(error SAN must be empty, asan or tsan)
endif
# SECURE=1: encoded free lists, guard pages, randomized reuse (see TUNING.md).
ifeq ($(SECURE),1)
  SANFLAGS += -DFL_SECURE=1
endif

WARN := -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=gnu11 $(CFLAGS) $(WARN) -fPIC -pthread -Iinclude -Isrc $(SANFLAGS)
LDLIBS := -pthread

CORE_SRC := src/prim/linux.c src/options.c src/stats.c src/budget.c src/warm.c \
            src/span.c src/outside.c src/heap.c src/alloc.c src/init.c
OVERRIDE_SRC := src/override.c
CORE_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(CORE_SRC))
OVERRIDE_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(OVERRIDE_SRC))
HDRS := include/faultless.h src/internal.h src/prim/prim.h

LIB_SO := $(B)/libfaultless.so
LIB_A := $(B)/libfaultless.a
LIB_CORE_A := $(B)/libfaultless-core.a

.PHONY: all lib test test-unit test-asan test-tsan bench install format format-check clean setup
all: lib

lib: $(LIB_SO) $(LIB_A) $(LIB_CORE_A)

$(B)/obj/%.o: %.c $(HDRS)
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
	rm -rf build build-asan build-tsan

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	@clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h') && echo "format: ok"
