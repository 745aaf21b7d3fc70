// SPDX-License-Identifier: MIT
/* A program with one leak and one invalid read, for test/valgrind.sh:
 * valgrind must see both through faultless (PASSTHROUGH=auto).
 * Usage: valgrind-target fl|malloc */
#include "faultless.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  int use_fl = argc > 1 && strcmp(argv[1], "fl") == 0;
  void *(*alloc)(size_t) = use_fl ? fl_malloc : malloc;
  void (*release)(void *) = use_fl ? fl_free : free;
  char *leak = alloc(1234);
  memset(leak, 1, 1234);
  leak = NULL; /* lost */
  char *small = alloc(40);
  memset(small, 2, 40);
  volatile char past = small[40]; /* one byte past the block */
  (void)past;
  release(small);
  fl_stats_t st = {.size = sizeof st};
  fl_stats_get(&st);
  printf("reserved=%llu\n", (unsigned long long)st.reserved);
  return 0;
}
