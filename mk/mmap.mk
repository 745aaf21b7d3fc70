# SPDX-License-Identifier: MIT
# MMAP: the memory a program maps itself, warmed in the background.
#   make test-mmap   test/mmap.sh: test/mmap.c (the override library's mmap
#                    family, src/mapcalls.c, linked beside the core library)
#                    maps, unmaps and re-maps files, shared and private
#                    memory while the warmers run, in the release build and
#                    under TSan; the option's rule; python3 under LD_PRELOAD
# The mmap family is built without TSan's instrumentation: TSan's runtime
# calls mmap through the symbol while it initialises (its symbolizer), before
# an instrumented function may enter it. The calls it makes into the core
# library below are instrumented as usual.
$(B)/test/mapcalls.o: src/mapcalls.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -fsanitize=thread,$(ALL_CFLAGS)) -c $< -o $@
$(B)/test/mmap: test/mmap.c $(B)/test/mapcalls.o test/testhelper.h $(LIB_CORE_A)
	$(CC) $(ALL_CFLAGS) test/mmap.c $(B)/test/mapcalls.o -o $@ $(LIB_CORE_A) $(LDLIBS)

TEST_STEPS += test-mmap
.PHONY: test-mmap
test-mmap: $(B)/test/mmap $(LIB_SO)
	@$(MAKE) --no-print-directory SAN=tsan B=build-tsan build-tsan/test/mmap >/dev/null
	@test/mmap.sh $(B) build-tsan
