// SPDX-License-Identifier: MIT
/* Realloc growth as Arrow's builders do it: four column buffers appended to
 * in turn, each doubling with realloc from 64 B to 64 MiB; the bytes appended
 * are written (non-zero). Then all four are freed, and the whole is done
 * again. Allocators that grow in place (or with mremap) copy nothing. Not a
 * thread workload. */
#include "suite.h"

#define COLUMNS 4

int main(int argc, char **argv) {
  suite_args_t a = suite_parse(argc, argv, "realloc");
  size_t limit = suite_scaled(&a, 64.0 * 1024 * 1024, 64 * 1024);
  size_t rounds = a.scale < 1 ? 1 : (size_t)(2 * a.scale);
  uint64_t check = 0, ops = 0;
  uint64_t t0 = suite_now_ns();
  for (size_t r = 0; r < rounds; r++) {
    char *col[COLUMNS] = {0};
    size_t cap[COLUMNS] = {0}, len[COLUMNS] = {0};
    for (size_t size = 64; size <= limit; size *= 2) {
      for (int c = 0; c < COLUMNS; c++) {
        char *p = realloc(col[c], size);
        if (!p) return 1;
        col[c] = p;
        cap[c] = size;
        memset(p + len[c], 'a' + c, cap[c] - len[c]);
        len[c] = cap[c];
        check += (unsigned char)p[len[c] / 2];
        ops++;
      }
    }
    for (int c = 0; c < COLUMNS; c++)
      free(col[c]);
  }
  suite_report(&a, t0, ops, check);
  return 0;
}
