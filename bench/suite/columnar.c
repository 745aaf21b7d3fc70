// SPDX-License-Identifier: MIT
/* Columnar batches: each batch allocates 16 buffers of 1..16 MiB aligned to
 * 64 bytes (aligned_alloc, as Arrow's memory pool asks), fills them, reads
 * them back and frees them all. A batch of this size is where glibc
 * switches between mmap and its heap, and where first-touch costs show. Not
 * a thread workload. */
#include "suite.h"

#define BUFFERS 16

int main(int argc, char **argv) {
  suite_args_t a = suite_parse(argc, argv, "columnar");
  size_t batches = suite_scaled(&a, 12, 1);
  size_t max_mib = a.scale < 1 ? 1 : 16;
  suite_rng_t rng = suite_rng(3);
  uint64_t check = 0, ops = 0;
  uint64_t t0 = suite_now_ns();
  for (size_t b = 0; b < batches; b++) {
    char *buf[BUFFERS];
    size_t len[BUFFERS];
    for (int i = 0; i < BUFFERS; i++) {
      size_t mib = 1 + suite_below(&rng, max_mib);
      len[i] = (mib << 20) - suite_below(&rng, 4096) * 64;
      buf[i] = aligned_alloc(64, len[i]);
      if (!buf[i]) return 1;
      check += (uintptr_t)buf[i] & 63; /* 0 when aligned */
      memset(buf[i], 1 + i, len[i]);
      ops++;
    }
    for (int i = 0; i < BUFFERS; i++) {
      uint64_t sum = 0;
      for (size_t k = 0; k < len[i]; k += 4096)
        sum += (unsigned char)buf[i][k];
      check += sum;
    }
    for (int i = 0; i < BUFFERS; i++)
      free(buf[i]);
  }
  suite_report(&a, t0, ops, check);
  return 0;
}
