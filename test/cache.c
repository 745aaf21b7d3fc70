// SPDX-License-Identifier: MIT
/* Caching mode (src/heap.h): a thread that keeps freeing other threads'
 * blocks while it mallocs frees onto a cache of its own and mallocs from
 * it. What must hold: it enters the mode only then, a malloc gets the block
 * just freed, every free is still checked, and no block is left in a cache
 * when its thread exits. */
#define _GNU_SOURCE
#include "faultless.h"
#include "testhelper.h"

#include <pthread.h>
#include <stdint.h>

/* Blocks the main thread allocates for a worker to free: more than the
 * 1,024 foreign frees after which a thread that mallocs enters the mode. */
enum { FOREIGN = 2048, CLASSES = 24, SIZE = 64 };

static void *foreign[FOREIGN];
static void *own[CLASSES];

static void fill_foreign(void) {
  for (int i = 0; i < FOREIGN; i++) {
    foreign[i] = fl_malloc(SIZE);
    memset(foreign[i], i & 0xff, SIZE);
  }
}

/* One block of each of CLASSES classes: a malloc slow path each, in a
 * thread's new heap. 16..128 B in 16s, then four classes per doubling. */
static void malloc_classes(void) {
  for (int i = 0; i < CLASSES; i++) {
    size_t size = i < 8 ? 16 * (size_t)(i + 1) : (128u << ((i - 8) / 4)) * (5 + (i - 8) % 4) / 4;
    own[i] = fl_malloc(size);
  }
}

static void free_classes(void) {
  for (int i = 0; i < CLASSES; i++)
    fl_free(own[i]);
}

static int in_foreign(const void *p) {
  for (int i = 0; i < FOREIGN; i++)
    if (p == foreign[i]) return 1;
  return 0;
}

/* A worker that mallocs, then frees every foreign block: it ends in the
 * mode, and its next malloc of their class is the last one it freed. */
static void *mallocs_and_frees(void *arg) {
  int *ok = arg;
  malloc_classes();
  for (int i = 0; i < FOREIGN; i++)
    fl_free(foreign[i]);
  void *p = fl_malloc(SIZE);
  ok[0] = p == foreign[FOREIGN - 1];
  ok[1] = fl_heap_check() == 0;
  fl_free(p);
  free_classes();
  return NULL;
}

/* A worker that only frees (a consumer): its frees go back to their owner,
 * so its own malloc gets none of them. */
static void *only_frees(void *arg) {
  int *ok = arg;
  for (int i = 0; i < FOREIGN; i++)
    fl_free(foreign[i]);
  void *p = fl_malloc(SIZE);
  ok[0] = !in_foreign(p);
  fl_free(p);
  return NULL;
}

static void run_worker(void *(*fn)(void *), int *ok) {
  pthread_t t;
  pthread_create(&t, NULL, fn, ok);
  pthread_join(t, NULL);
}

TEST(mode_reuses_freed_blocks) {
  fill_foreign();
  int ok[2] = {0, 0};
  run_worker(mallocs_and_frees, ok);
  CHECK(ok[0]);
  CHECK(ok[1]);
  /* The worker exited: the heap check finds its cache empty (every block
   * went back to its span) and every heap adding up. */
  CHECK(fl_heap_check() == 0);
}

TEST(consumer_stays_out) {
  fill_foreign();
  int ok[1] = {0};
  run_worker(only_frees, ok);
  CHECK(ok[0]);
  CHECK(fl_heap_check() == 0);
}

/* A worker in the mode that then frees `bad`; the process must stop. */
static void *enter_then_free(void *bad) {
  malloc_classes();
  for (int i = 0; i < FOREIGN; i++)
    fl_free(foreign[i]);
  fl_free(bad);
  return NULL;
}

static void double_free_in_mode(void *a) {
  fill_foreign();
  void *p = fl_malloc(SIZE);
  fl_free(p);
  pthread_t t;
  pthread_create(&t, NULL, enter_then_free, p);
  pthread_join(t, NULL);
}

static void interior_in_mode(void *a) {
  fill_foreign();
  char *p = fl_malloc(SIZE);
  pthread_t t;
  pthread_create(&t, NULL, enter_then_free, p + 16);
  pthread_join(t, NULL);
}

/* The worker's own freed block, freed again once it is in the mode. */
static void *enter_then_double_free(void *arg) {
  malloc_classes();
  for (int i = 0; i < FOREIGN; i++)
    fl_free(foreign[i]);
  void *p = fl_malloc(SIZE);
  fl_free(p);
  fl_free(p);
  return NULL;
}

static void cached_double_free(void *a) {
  fill_foreign();
  pthread_t t;
  pthread_create(&t, NULL, enter_then_double_free, NULL);
  pthread_join(t, NULL);
}

TEST(frees_in_mode_are_checked) {
  CHECK(dies_with(double_free_in_mode, NULL, "free", "double free"));
  CHECK(dies_with(cached_double_free, NULL, "free", "double free"));
  CHECK(dies_with(interior_in_mode, NULL, "free", "pointer inside a block"));
}

int main(void) {
  RUN(mode_reuses_freed_blocks);
  RUN(consumer_stays_out);
  RUN(frees_in_mode_are_checked);
  return test_report("cache");
}
