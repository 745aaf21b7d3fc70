// SPDX-License-Identifier: MIT
/* Random allocate/free: each thread flips a coin at every step, allocating a
 * block of a random size (16 B..4 KiB, uniform) into a random empty slot or
 * freeing a random live one, so its heap wanders around half full with no
 * order to allocation and free. Threads share nothing. The total work is
 * fixed and divided among the threads. */
#include "suite.h"

#include <stdbool.h>

#define SLOTS 8192

static void *work(void *arg) {
  suite_worker_t *w = arg;
  suite_rng_t rng = suite_rng(300 + (uint64_t)w->id);
  char **slot = calloc(SLOTS, sizeof *slot);
  if (!slot) exit(1);
  uint64_t check = 0;
  for (size_t i = 0; i < w->steps; i++) {
    size_t k = suite_below(&rng, SLOTS);
    bool alloc = suite_next(&rng) >> 63;
    if (alloc && !slot[k]) {
      size_t size = 16 + suite_below(&rng, 4081);
      char *p = suite_xmalloc(size);
      p[0] = (char)size;
      p[size - 1] = (char)k;
      slot[k] = p;
    } else if (!alloc && slot[k]) {
      check += (unsigned char)slot[k][0];
      free(slot[k]);
      slot[k] = NULL;
    }
  }
  for (size_t k = 0; k < SLOTS; k++)
    free(slot[k]);
  free(slot);
  w->check = check;
  return NULL;
}

int main(int argc, char **argv) {
  suite_args_t a = suite_parse(argc, argv, "randfree");
  int n = a.threads;
  size_t steps = suite_scaled(&a, 16e6, 1000) / (size_t)n;
  suite_run_workers(&a, steps, steps * (uint64_t)n, work);
  return 0;
}
