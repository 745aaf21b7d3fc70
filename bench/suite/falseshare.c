// SPDX-License-Identifier: MIT
/* False sharing, passively induced (Berger et al.'s cache-scratch): the main
 * thread allocates one small object per worker, side by side; each worker
 * writes the object it was given, frees it, and then keeps allocating its
 * own small object, writing it many times and freeing it. An allocator that
 * hands a worker memory on a cache line another worker writes makes every
 * write miss. The total work is fixed and divided among the workers. */
#include "suite.h"

#define OBJ 8
#define WRITES 500

/* One object per worker, allocated side by side by the main thread. */
static char **given;

static void *work(void *arg) {
  suite_worker_t *w = arg;
  volatile char *g = given[w->id];
  for (int k = 0; k < WRITES; k++)
    g[k % OBJ] = (char)(g[k % OBJ] + 1);
  uint64_t check = (unsigned char)g[0];
  free(given[w->id]);
  for (size_t r = 0; r < w->steps; r++) {
    volatile char *p = suite_xmalloc(OBJ);
    for (int k = 0; k < OBJ; k++)
      p[k] = 0;
    for (int k = 0; k < WRITES; k++)
      p[k % OBJ] = (char)(p[k % OBJ] + 1);
    check += (unsigned char)p[0];
    free((void *)p);
  }
  w->check = check;
  return NULL;
}

int main(int argc, char **argv) {
  suite_args_t a = suite_parse(argc, argv, "falseshare");
  int n = a.threads;
  size_t steps = suite_scaled(&a, 400000, (size_t)n) / (size_t)n;
  given = suite_xmalloc((size_t)n * sizeof *given);
  for (int i = 0; i < n; i++) {
    given[i] = suite_xmalloc(OBJ);
    memset(given[i], 1, OBJ);
  }
  suite_run_workers(&a, steps, (uint64_t)steps * (uint64_t)n * WRITES, work);
  free(given);
  return 0;
}
