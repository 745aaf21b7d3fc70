// SPDX-License-Identifier: MIT
/* A buffer sized for the worst case and used in part: one 512 MiB malloc of
 * which the program writes the first 57 MiB (as a pool it carves records
 * from), then reads and updates those records a few times, and frees it.
 * An allocator that populates the whole block at once pays for zeroing
 * memory nobody uses, and the process's peak RSS shows it. Not a thread
 * workload; --scale sets the passes over the records, not the sizes. */
#include "suite.h"

#define BLOCK ((size_t)512 << 20)
#define USED ((size_t)57 << 20)

typedef struct {
  uint64_t key, value, next, pad[5];
} record_t;

int main(int argc, char **argv) {
  suite_args_t a = suite_parse(argc, argv, "bigsparse");
  size_t passes = suite_scaled(&a, 6, 1);
  size_t n = USED / sizeof(record_t);
  uint64_t t0 = suite_now_ns();
  record_t *pool = suite_xmalloc(BLOCK);
  suite_rng_t rng = suite_rng(512);
  for (size_t i = 0; i < n; i++) {
    pool[i].key = suite_next(&rng);
    pool[i].value = i;
    pool[i].next = suite_below(&rng, n);
  }
  uint64_t check = 0;
  for (size_t p = 0; p < passes; p++)
    for (size_t i = 0; i < n; i++) {
      record_t *r = &pool[i];
      r->value += pool[r->next].key >> 60;
      check += r->value;
    }
  free(pool);
  suite_report(&a, t0, n * (passes + 1), check);
  return 0;
}
