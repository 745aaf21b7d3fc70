// SPDX-License-Identifier: MIT
/* jemalloc adapter: every hook path, run with jemalloc and
 * libfaultless-jemalloc.so preloaded (test/adapters/run.sh). First the hook
 * contract called directly, as jemalloc would; then the same paths reached
 * through jemalloc itself: large blocks (alloc, split, merge), arena.0.purge
 * and arena.0.decay (dalloc, decommit, purge_forced, purge_lazy),
 * arenas.create and arena.<i>.destroy (destroy). jemalloc is reached only
 * through dlsym, so no jemalloc header is needed. */
#define _GNU_SOURCE
#include "testhelper.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* jemalloc 5's documented hook table and mallocx flags. */
typedef struct hooks_s hooks_t;
struct hooks_s {
  void *(*alloc)(hooks_t *, void *, size_t, size_t, bool *, bool *, unsigned);
  bool (*dalloc)(hooks_t *, void *, size_t, bool, unsigned);
  void (*destroy)(hooks_t *, void *, size_t, bool, unsigned);
  bool (*commit)(hooks_t *, void *, size_t, size_t, size_t, unsigned);
  bool (*decommit)(hooks_t *, void *, size_t, size_t, size_t, unsigned);
  bool (*purge_lazy)(hooks_t *, void *, size_t, size_t, size_t, unsigned);
  bool (*purge_forced)(hooks_t *, void *, size_t, size_t, size_t, unsigned);
  bool (*split)(hooks_t *, void *, size_t, size_t, size_t, bool, unsigned);
  bool (*merge)(hooks_t *, void *, size_t, void *, size_t, bool, unsigned);
};
#define MALLOCX_ARENA(a) ((int)(((unsigned)(a) + 1) << 20))
#define MALLOCX_TCACHE_NONE (1 << 8)

typedef int (*mallctl_t)(const char *, void *, size_t *, void *, size_t);
enum { ALLOC, DALLOC, DESTROY, COMMIT, DECOMMIT, PURGE_LAZY, PURGE_FORCED, SPLIT, MERGE };
static const char *const names[] = {"alloc",      "dalloc",       "destroy", "commit", "decommit",
                                    "purge_lazy", "purge_forced", "split",   "merge"};
static mallctl_t mallctl_p;
static void (*calls_p)(unsigned long[9]);

static unsigned long calls(int hook) {
  unsigned long c[9];
  calls_p(c);
  return c[hook];
}

static long minflt(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_minflt;
}

int main(void) {
  mallctl_p = (mallctl_t)dlsym(RTLD_DEFAULT, "mallctl");
  calls_p = (void (*)(unsigned long[9]))dlsym(RTLD_DEFAULT, "fl_jemalloc_hook_calls");
  if (!mallctl_p || !calls_p) {
    printf("hooks: needs jemalloc and libfaultless-jemalloc.so preloaded\n");
    return 1;
  }
  hooks_t *h = NULL;
  size_t len = sizeof h;
  CHECK(mallctl_p("arena.0.extent_hooks", &h, &len, NULL, 0) == 0);
  CHECK(h && h->alloc && h->merge);
  unsigned narenas = 0;
  len = sizeof narenas;
  CHECK(mallctl_p("arenas.narenas", &narenas, &len, NULL, 0) == 0);
  for (unsigned i = 0; i < narenas; i++) { /* every arena, the huge one included */
    char name[64];
    hooks_t *hi = NULL;
    snprintf(name, sizeof name, "arena.%u.extent_hooks", i);
    len = sizeof hi;
    CHECK(mallctl_p(name, &hi, &len, NULL, 0) == 0 && hi == h);
  }

  /* --- The contract, called directly --- */
  const size_t M = 1 << 20;
  bool zero = false, commit = false;
  char *p = h->alloc(h, NULL, 2 * M, 4096, &zero, &commit, 0);
  CHECK(p && commit);                                                /* always committed */
  memset(p, 0x5a, 2 * M);                                            /* usable */
  CHECK(h->alloc(h, p + 2 * M, M, 4096, &zero, &commit, 0) == NULL); /* no growing in place */
  zero = true;
  char *z = h->alloc(h, NULL, M, 1 << 21, &zero, &commit, 0);
  CHECK(z && zero && ((uintptr_t)z & ((1 << 21) - 1)) == 0 && z[0] == 0 && z[M - 1] == 0);
  CHECK(h->commit(h, p, 2 * M, 0, 2 * M, 0) == false);      /* success: already committed */
  CHECK(h->decommit(h, p, 2 * M, 0, 2 * M, 0) == true);     /* opt out: stays warm */
  CHECK(h->purge_lazy(h, p, 2 * M, 0, 2 * M, 0) == true);   /* opt out */
  CHECK(h->purge_forced(h, p, 2 * M, 0, 2 * M, 0) == true); /* opt out */
  CHECK(p[0] == 0x5a && p[2 * M - 1] == 0x5a);              /* ... and nothing was lost */
  CHECK(h->split(h, p, 2 * M, M, M, true, 0) == false);     /* split anywhere */
  CHECK(h->merge(h, p, M, p + M, M, true, 0) == false);     /* merge back */
  int local;
  CHECK(h->merge(h, p + M, M, &local, 4096, true, 0) == true); /* warm with foreign: refused */
  CHECK(h->dalloc(h, p, M, true, 0) == true);                  /* half a run: jemalloc keeps it */
  h->destroy(h, p, M, true, 0);                                /* destroyed: counted */
  CHECK(h->dalloc(h, p + M, M, true, 0) == false);             /* completes the run: taken back */
  CHECK(h->dalloc(h, z, M, true, 0) == false);                 /* a whole run: taken back */

  /* --- The same paths through jemalloc --- */
  unsigned long before[9];
  calls_p(before);
  void (*prefault_wait)(long) = (void (*)(long))dlsym(RTLD_DEFAULT, "fl_prefault_wait");
  if (prefault_wait) prefault_wait(5000);
  long f0 = minflt();
  char *big[24];
  for (int i = 0; i < 24; i++) { /* 1..3 MiB: carved from grown extents (split) */
    big[i] = malloc(M + (size_t)(i % 3) * M);
    memset(big[i], i + 1, M);
  }
  long faults = minflt() - f0;
  for (int i = 0; i < 24; i++) {
    CHECK(big[i][M - 1] == (char)(i + 1));
    free(big[i]); /* neighbours coalesce (merge) */
  }
  CHECK(mallctl_p("arena.0.decay", NULL, NULL, NULL, 0) == 0);
  CHECK(mallctl_p("arena.0.purge", NULL, NULL, NULL, 0) == 0);
  /* Warm memory again after the purge: jemalloc's purges were declined. */
  f0 = minflt();
  for (int i = 0; i < 24; i++) {
    big[i] = malloc(M);
    memset(big[i], 7, M);
  }
  long faults_after_purge = minflt() - f0;
  for (int i = 0; i < 24; i++)
    free(big[i]);
  printf("hooks: 24 large blocks: %ld faults; again after arena.0.purge: %ld faults\n", faults,
         faults_after_purge);
  /* Plain jemalloc purges these pages and faults all 24 x 256 again; here
   * the purge was declined and the pages are reused (what faults remain are
   * a new extent populated in one call, which ru_minflt also counts). */
  CHECK(faults_after_purge < 24 * 256 / 4);

  unsigned a = 0;
  len = sizeof a;
  CHECK(mallctl_p("arenas.create", &a, &len, NULL, 0) == 0);
  char name[64];
  snprintf(name, sizeof name, "arena.%u.extent_hooks", a);
  hooks_t *ha = NULL;
  len = sizeof ha;
  CHECK(mallctl_p(name, &ha, &len, NULL, 0) == 0);
  if (ha != h) {
    printf("hooks: skipped arenas.create: jemalloc precedes libfaultless-jemalloc.so in "
           "LD_PRELOAD, so the program's mallctl is jemalloc's (put the adapter first)\n");
  } else {
    void *(*mallocx_p)(size_t, int) = (void *(*)(size_t, int))dlsym(RTLD_DEFAULT, "mallocx");
    void (*dallocx_p)(void *, int) = (void (*)(void *, int))dlsym(RTLD_DEFAULT, "dallocx");
    CHECK(mallocx_p && dallocx_p);
    for (int i = 0; mallocx_p && i < 8; i++) {
      void *q = mallocx_p(M, MALLOCX_ARENA(a) | MALLOCX_TCACHE_NONE);
      CHECK(q != NULL);
      memset(q, 3, M);
      dallocx_p(q, MALLOCX_TCACHE_NONE);
    }
    snprintf(name, sizeof name, "arena.%u.destroy", a);
    CHECK(mallctl_p(name, NULL, NULL, NULL, 0) == 0);
  }
  unsigned long after[9];
  calls_p(after);
  for (int k = 0; k < 9; k++) {
    bool via_jemalloc = after[k] > before[k];
    printf("hooks: %-12s %4lu calls through jemalloc\n", names[k], after[k] - before[k]);
    /* commit is never needed (our extents are never decommitted) and destroy
     * only comes with arena.<i>.destroy; both were called directly above. */
    if (k != COMMIT && !(k == DESTROY && ha != h)) CHECK(via_jemalloc);
  }
  CHECK(calls(DESTROY) > 0 && calls(COMMIT) > 0);
  return test_report("hooks");
}
