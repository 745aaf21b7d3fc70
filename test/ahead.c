// SPDX-License-Identifier: MIT
/* Warming ahead measures the heap's growth over a window. Threads report the
 * growth they saw after dropping the span lock, so reports can arrive out of
 * order: one that is smaller than the window's mark (set by a later report)
 * must count as no growth, not wrap around to the largest warm-ahead. */
#include "arena.h"
#include "faultless.h"
#include "testhelper.h"

#include <unistd.h>

int main(void) {
  fl_free(fl_malloc(100)); /* the arena is set up */
  fl_arena_t *a = &_fl_arena;
  if (a->warm.max <= 0 || _fl_option(FL_OPT_AHEAD) == 0) {
    SKIP("ahead", "out-of-order growth reports: warming is off here");
    return test_report("ahead");
  }
  size_t frontier = atomic_load(&a->frontier);
  uint64_t later = 64ull << 20, earlier = later - (64 << 10);
  _fl_warm_ahead(frontier, 1000);  /* opens the first window */
  usleep(250000);                  /* idle over two windows: no growth carried over */
  _fl_warm_ahead(frontier, later); /* the later report rolls the window */
  size_t target = _fl_warm_target();
  _fl_warm_ahead(frontier, earlier); /* the earlier one arrives second */
  CHECK(_fl_warm_target() == target);
  return test_report("ahead");
}
