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

typedef struct {
  char *given;
  size_t rounds;
  uint64_t check;
} worker_t;

static void *work(void *arg) {
  worker_t *w = arg;
  volatile char *g = w->given;
  for (int k = 0; k < WRITES; k++)
    g[k % OBJ] = (char)(g[k % OBJ] + 1);
  uint64_t check = (unsigned char)g[0];
  free(w->given);
  for (size_t r = 0; r < w->rounds; r++) {
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
  size_t total = suite_scaled(&a, 400000, (size_t)n);
  worker_t *w = calloc((size_t)n, sizeof *w);
  pthread_t *th = suite_xmalloc((size_t)n * sizeof *th);
  if (!w) return 1;
  for (int i = 0; i < n; i++) {
    w[i].given = suite_xmalloc(OBJ);
    memset(w[i].given, 1, OBJ);
    w[i].rounds = total / (size_t)n;
  }
  uint64_t t0 = suite_now_ns();
  for (int i = 0; i < n; i++)
    suite_thread(&th[i], work, &w[i]);
  uint64_t check = 0, ops = 0;
  for (int i = 0; i < n; i++) {
    pthread_join(th[i], NULL);
    check += w[i].check;
    ops += w[i].rounds * WRITES;
  }
  suite_report(&a, t0, ops, check);
  free(w);
  free(th);
  return 0;
}
