# SPDX-License-Identifier: MIT
# faultless on kernels with 16, 64 and 256 KiB pages, pretended: the
# TEST_HOOKS=1 builds (build-hooks, build-secure-hooks) take the page size
# from FAULTLESS_TEST_PAGE_SIZE and abort on any memory call a kernel with
# that page size would refuse. Runs on this machine's own architecture.
#   make test-pagesize   test/pagesize.sh: the arena with 16 and 64 KiB pages
#                        (unit suites, secure guard pages, python3 under
#                        LD_PRELOAD); passthrough + one line with 256 KiB
PAGESIZE_TESTS := pagesize $(TEST_NAMES)

TEST_STEPS += test-pagesize
.PHONY: test-pagesize

test-pagesize:
	@$(MAKE) --no-print-directory TEST_HOOKS=1 ARCH= B=build-hooks lib \
	  $(PAGESIZE_TESTS:%=build-hooks/test/%) >/dev/null
	@$(MAKE) --no-print-directory TEST_HOOKS=1 SECURE=1 ARCH= B=build-secure-hooks lib \
	  build-secure-hooks/test/pagesize build-secure-hooks/test/api >/dev/null
	@test/pagesize.sh build-hooks build-secure-hooks
