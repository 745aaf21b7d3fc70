# SPDX-License-Identifier: MIT
# Tests: test/*.c each build into $(B)/test/NAME against the core library.
#   make test        everything: release build, ASan+UBSan, TSan, CLI, real programs
#   make test-unit   the unit/stress suites of one build (SAN=asan|tsan for those)
TEST_STEPS := test-unit test-asan test-tsan test-hardened test-override test-valgrind
TEST_NAMES := api budget classes stress limits snapshot assert footprint ahead cache
TEST_BINS := $(patsubst %,$(B)/test/%,$(TEST_NAMES))

$(B)/test/%: test/%.c test/testhelper.h $(LIB_CORE_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(LIB_CORE_A) $(LDLIBS)

$(B)/test/budget $(B)/test/limits: ALL_CFLAGS += -DFIXTURES='"$(CURDIR)/test/fixtures"'

.PHONY: test-unit test-asan test-tsan test-hardened
test-unit: $(TEST_BINS)
	@test/run.sh unit$(if $(SAN),-$(SAN)) $(TEST_BINS)

test-asan:
	@$(MAKE) --no-print-directory SAN=asan test-unit
test-tsan:
	@$(MAKE) --no-print-directory SAN=tsan test-unit
# The secure and debug builds run the same suites plus their own checks.
test-hardened:
	@mkdir -p $(B)
	@$(MAKE) --no-print-directory SECURE=1 test-unit >$(B)/hardened.log 2>&1; s=$$?; \
	  $(MAKE) --no-print-directory DEBUG=1 test-unit >>$(B)/hardened.log 2>&1 || s=1; \
	  grep -E '^(unit|api|stress)' $(B)/hardened.log | grep -v 'unit-' ; \
	  grep -E 'check failed|crashed|^[a-z-]+: skipped ' $(B)/hardened.log; \
	  grep -E '^unit: ' $(B)/hardened.log | \
	    awk '{p+=$$2; f+=$$4; k+=$$6} END {printf "hardened: %d passed, %d failed", p, f; \
	      if (k) printf ", %d skipped", k; print ""}'; exit $$s

test: setup
	@$(MAKE) --no-print-directory lib
	@test/all.sh

# The malloc override: the same program under LD_PRELOAD and statically linked.
$(B)/test/override-preload: test/override.c test/testhelper.h $(LIB_SO)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< -o $@ -ldl $(LDLIBS) -Wl,--no-as-needed $(LIB_SO) -Wl,-rpath,$(CURDIR)/$(B)
$(B)/test/override-static: test/override.c test/testhelper.h $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -rdynamic $< -o $@ -Wl,--whole-archive $(LIB_A) -Wl,--no-whole-archive -ldl $(LDLIBS)
$(B)/test/override-cxx: test/override_cxx.cc $(LIB_SO)
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 -O2 -g -Wall -Wextra -Werror -Iinclude $< -o $@ -ldl -pthread

.PHONY: test-override
test-override: $(B)/test/override-preload $(B)/test/override-static $(B)/test/override-cxx
	@test/override.sh $(B)

# Valgrind memcheck through faultless (PASSTHROUGH=auto).
$(B)/test/valgrind-target: test/valgrind.c $(LIB_CORE_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O0 $< -o $@ $(LIB_CORE_A) $(LDLIBS)
.PHONY: test-valgrind
test-valgrind: $(B)/test/valgrind-target $(LIB_SO)
	@test/valgrind.sh $(B)
