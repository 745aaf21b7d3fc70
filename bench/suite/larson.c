// SPDX-License-Identifier: MIT
/* Server simulation in the manner of Larson and Krishnan's benchmark: each
 * thread owns a table of live blocks and keeps replacing random ones (random
 * sizes 16..1024 B), as a server's worker threads do with requests; after
 * each epoch the tables rotate to the next thread, so every thread frees
 * blocks another thread allocated. The total work is fixed and divided among
 * the threads (the scaling curve is a speed-up). */
#include "suite.h"

#define SLOTS 2000
#define EPOCH 20000

typedef struct {
  char **slots;
  size_t *sizes;
} table_t;

static table_t *tables;
static int nthreads;
static size_t epochs;
static pthread_barrier_t barrier;

typedef struct {
  int id;
  uint64_t check;
} worker_t;

static void *work(void *arg) {
  worker_t *w = arg;
  suite_rng_t rng = suite_rng(1000 + (uint64_t)w->id);
  uint64_t check = 0;
  for (size_t e = 0; e < epochs; e++) {
    table_t *t = &tables[((size_t)w->id + e) % (size_t)nthreads];
    for (int i = 0; i < EPOCH; i++) {
      size_t k = suite_below(&rng, SLOTS);
      if (t->slots[k]) {
        check += (unsigned char)t->slots[k][t->sizes[k] - 1];
        free(t->slots[k]);
      }
      size_t size = 16 + suite_below(&rng, 1009);
      char *p = suite_xmalloc(size);
      p[0] = (char)i;
      p[size - 1] = (char)k;
      t->slots[k] = p;
      t->sizes[k] = size;
    }
    pthread_barrier_wait(&barrier);
  }
  w->check = check;
  return NULL;
}

int main(int argc, char **argv) {
  suite_args_t a = suite_parse(argc, argv, "larson");
  nthreads = a.threads;
  size_t total_epochs = suite_scaled(&a, 400, 2);
  epochs = (total_epochs + (size_t)nthreads - 1) / (size_t)nthreads;
  tables = suite_xmalloc((size_t)nthreads * sizeof *tables);
  for (int i = 0; i < nthreads; i++) {
    tables[i].slots = calloc(SLOTS, sizeof(char *));
    tables[i].sizes = calloc(SLOTS, sizeof(size_t));
    if (!tables[i].slots || !tables[i].sizes) return 1;
  }
  pthread_barrier_init(&barrier, NULL, (unsigned)nthreads);
  pthread_t *th = suite_xmalloc((size_t)nthreads * sizeof *th);
  worker_t *w = suite_xmalloc((size_t)nthreads * sizeof *w);
  uint64_t t0 = suite_now_ns();
  for (int i = 0; i < nthreads; i++) {
    w[i] = (worker_t){.id = i};
    suite_thread(&th[i], work, &w[i]);
  }
  uint64_t check = 0;
  for (int i = 0; i < nthreads; i++) {
    pthread_join(th[i], NULL);
    check += w[i].check;
  }
  for (int i = 0; i < nthreads; i++) {
    for (size_t k = 0; k < SLOTS; k++)
      free(tables[i].slots[k]);
    free(tables[i].slots);
    free(tables[i].sizes);
  }
  suite_report(&a, t0, (uint64_t)epochs * EPOCH * (uint64_t)nthreads, check);
  free(th);
  free(w);
  free(tables);
  return 0;
}
