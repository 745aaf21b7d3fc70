# SPDX-License-Identifier: MIT
# faultless as the page source of jemalloc and mimalloc (src/adapters/).
# Included by the top Makefile (B, CC, ALL_CFLAGS, SO_LDLIBS, CORE_SO_OBJ).
#
#   make adapters        $(B)/libfaultless-jemalloc.so, $(B)/libfaultless-mimalloc.so
#   make test-adapters   every hook path, the stress test under each adapter,
#                        node + apache-arrow (test/adapters/run.sh)
#   make bench-adapters  the seed's experiment: jemalloc+faultless and
#                        mimalloc+faultless beside plain jemalloc and mimalloc;
#                        part of `make bench`
# The core objects without override.c: jemalloc or mimalloc stays malloc. The
# adapter links last so that its constructor runs after the core's (the
# mimalloc adapter's has priority 200 and runs first, to take the prefault).
ADAPTER_HDR := src/adapters/faultless-adapters.h
ADAPTER_LIBS := $(B)/libfaultless-jemalloc.so $(B)/libfaultless-mimalloc.so
ADAPTERS_BENCH_REPEAT ?= 9
ADAPTERS_BENCH_ARGS ?=
ADAPTERS_BENCH_ALLOCATORS ?= jemalloc:setup-ms=300,jemalloc+faultless:setup-ms=300:prefault=160M,mimalloc:setup-ms=300,mimalloc+faultless:setup-ms=300:prefault=160M

TEST_STEPS += test-adapters
.PHONY: adapters test-adapters bench-adapters

adapters: $(ADAPTER_LIBS)

$(B)/libfaultless-%.so: $(B)/obj-so/src/adapters/%.o $(CORE_SO_OBJ) src/adapters/exports.map
	$(CC) $(ALL_CFLAGS) -shared -Wl,--version-script=src/adapters/exports.map \
	  -Wl,-soname,libfaultless-$*.so -o $@ $(CORE_SO_OBJ) $< $(SO_LDLIBS)

$(B)/obj-so/src/adapters/%.o: src/adapters/%.c $(HDRS) $(ADAPTER_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DFL_GLIBC_COMPAT=1 -c $< -o $@

# The tests call jemalloc/mimalloc only through dlsym, so they build without
# those headers and run against whichever library is preloaded.
$(B)/test/adapters/%: test/adapters/%.c test/testhelper.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itest $< -o $@ -ldl $(LDLIBS)

# test/stress.c itself, with the fl_* calls turned into the process's malloc.
$(B)/test/adapters/stress-malloc: test/stress.c test/testhelper.h test/adapters/stress_shim.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itest -include test/adapters/stress_shim.h $< -o $@ -ldl $(LDLIBS)

ADAPTER_TESTS := $(B)/test/adapters/hooks $(B)/test/adapters/stress-malloc $(B)/test/adapters/warm \
  $(B)/test/adapters/libfake_allocator.so

test-adapters: lib tools $(ADAPTER_LIBS) $(ADAPTER_TESTS)
	@test/adapters/run.sh $(B)

# libfaultless.so too: `faultless bench` finds the adapters beside it.
bench-adapters: tools $(LIB_SO) $(ADAPTER_LIBS)
	@if [ -x scripts/setup ]; then scripts/setup; fi
	$(B)/faultless bench --repeat $(ADAPTERS_BENCH_REPEAT) \
	  --allocators $(ADAPTERS_BENCH_ALLOCATORS) --out $(B)/bench-results/adapters $(ADAPTERS_BENCH_ARGS)

bench: bench-adapters

$(B)/test/adapters/libfake_allocator.so: test/adapters/fake_allocator.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -shared $< -o $@
