# SPDX-License-Identifier: MIT
# Snapshots (fl_snapshot_prepare / fl_snapshot_restored). The tests are
# test/snapshot.c (TEST_NAMES, every build variant) and the SnapStart flow in
# test-lambda; this fragment builds the measuring program.
#   make bench-snapshot   RSS before/after prepare, its time, and the seed's
#                         experiment after a restore (bench/snapshot.c)
SNAPSHOT_BENCH_ARGS ?=
.PHONY: bench-snapshot

$(B)/bench/snapshot: bench/snapshot.c include/faultless.h tools/size.h $(LIB_CORE_A)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ bench/snapshot.c $(LIB_CORE_A) $(LDLIBS)

bench-snapshot: $(B)/bench/snapshot
	$(B)/bench/snapshot $(SNAPSHOT_BENCH_ARGS)
