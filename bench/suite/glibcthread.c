// SPDX-License-Identifier: MIT
/* A thread benchmark in the manner of glibc's own (benchtests' malloc
 * thread test): every thread owns a working set of slots and, in a tight
 * loop, frees a random slot's block and allocates a new one there. Sizes
 * are drawn so that small blocks dominate, as in real programs: the chance
 * of a size falls off with it, from 4 B to 32 KiB. Threads share nothing;
 * each does the same amount of work, divided from a fixed total. */
#include "suite.h"

#define SLOTS 1024
#define MIN_SIZE 4
#define MAX_SIZE 32768

/* Sizes with density ~1/size^1.5 over [MIN_SIZE, MAX_SIZE], precomputed so
 * the loop measures the allocator, not pow(). */
#define TABLE 4096
static uint32_t size_table[TABLE];

static void make_sizes(void) {
  suite_rng_t rng = suite_rng(4242);
  for (int i = 0; i < TABLE; i++) {
    /* Product of two log-uniform draws' lower ends skews small. */
    size_t a = suite_log_size(&rng, MIN_SIZE, MAX_SIZE);
    size_t b = suite_log_size(&rng, MIN_SIZE, MAX_SIZE);
    size_table[i] = (uint32_t)(a < b ? a : b);
  }
}

static void *work(void *arg) {
  suite_worker_t *w = arg;
  suite_rng_t rng = suite_rng(900 + (uint64_t)w->id);
  char *slot[SLOTS] = {0};
  uint64_t check = 0;
  for (size_t i = 0; i < w->steps; i++) {
    uint64_t r = suite_next(&rng);
    size_t k = (size_t)(r & (SLOTS - 1));
    size_t size = size_table[(r >> 20) & (TABLE - 1)];
    free(slot[k]);
    char *p = suite_xmalloc(size);
    p[0] = (char)k;
    check += size;
    slot[k] = p;
  }
  for (size_t k = 0; k < SLOTS; k++)
    free(slot[k]);
  w->check = check;
  return NULL;
}

int main(int argc, char **argv) {
  suite_args_t a = suite_parse(argc, argv, "glibcthread");
  int n = a.threads;
  make_sizes();
  size_t steps = suite_scaled(&a, 10e6, 1000) / (size_t)n;
  suite_run_workers(&a, steps, steps * (uint64_t)n, work);
  return 0;
}
