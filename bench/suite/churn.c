// SPDX-License-Identifier: MIT
/* Random churn: a table of live blocks, each step frees a random one and puts
 * a block of a random size (log-uniform 8 B..64 KiB) in its place, so
 * lifetimes are random (geometric). One byte per 4 KiB page is written, so
 * peak RSS shows how tightly the allocator packs. Not a thread workload. */
#include "suite.h"

#define SLOTS 20000

int main(int argc, char **argv) {
  suite_args_t a = suite_parse(argc, argv, "churn");
  size_t n = suite_scaled(&a, 3e6, 1000);
  suite_rng_t rng = suite_rng(42);
  static char *slot[SLOTS];
  static size_t slot_size[SLOTS];
  uint64_t check = 0;
  uint64_t t0 = suite_now_ns();
  for (size_t i = 0; i < n; i++) {
    size_t k = suite_below(&rng, SLOTS);
    if (slot[k]) {
      check += (unsigned char)slot[k][slot_size[k] - 1];
      free(slot[k]);
    }
    size_t size = suite_log_size(&rng, 8, 64 * 1024);
    char *p = suite_xmalloc(size);
    for (size_t off = 0; off < size; off += 4096)
      p[off] = (char)(i + 1);
    p[size - 1] = (char)k;
    slot[k] = p;
    slot_size[k] = size;
  }
  for (size_t k = 0; k < SLOTS; k++)
    free(slot[k]);
  suite_report(&a, t0, n, check);
  return 0;
}
