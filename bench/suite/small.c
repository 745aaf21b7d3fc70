// SPDX-License-Identifier: MIT
/* Tight loop of small blocks: malloc and free at once (the pattern of short
 * temporaries), then a ring of 64 live blocks freed in allocation order.
 * Sizes cycle over 8..512 bytes. Not a thread workload. */
#include "suite.h"

static const size_t sizes[16] = {8,   16,  24,  32,  48,  64,  80,  96,
                                 128, 160, 192, 256, 320, 384, 448, 512};

int main(int argc, char **argv) {
  suite_args_t a = suite_parse(argc, argv, "small");
  size_t n = suite_scaled(&a, 20e6, 1000);
  uint64_t check = 0;
  void *ring[64] = {0};
  uint64_t t0 = suite_now_ns();
  for (size_t i = 0; i < n; i++) {
    char *p = malloc(sizes[i & 15]);
    if (!p) return 1;
    p[0] = (char)i;
    check += (unsigned char)p[0];
    free(p);
  }
  for (size_t i = 0; i < n; i++) {
    size_t slot = i & 63;
    free(ring[slot]);
    char *p = malloc(sizes[(i * 7) & 15]);
    if (!p) return 1;
    p[0] = (char)i;
    ring[slot] = p;
    check += (uintptr_t)p & 7; /* 0: aligned to 8 at least (8-byte blocks need no more) */
  }
  for (int i = 0; i < 64; i++)
    free(ring[i]);
  suite_report(&a, t0, 2 * n, check);
  return 0;
}
