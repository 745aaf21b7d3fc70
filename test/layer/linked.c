// SPDX-License-Identifier: MIT
/* The custom-runtime recipe that links the layer's library instead of
 * preloading it: built by test/layer/run.sh with
 *   cc -I/opt/include linked.c -L/opt/lib -Wl,-rpath,/opt/lib -Wl,--no-as-needed -lfaultless
 * (the unzipped layer standing in for /opt). Exit 0 when faultless serves
 * this program's malloc: its statistics count a 32 MiB block as in use. */
#include "faultless.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  size_t size = 32u << 20;
  char *p = malloc(size);
  if (!p) return 1;
  memset(p, 1, size);
  fl_stats_t st = {.size = sizeof st};
  if (fl_stats_get(&st) != 0) return 1;
  printf("reserved %llu in_use %llu\n", (unsigned long long)st.reserved,
         (unsigned long long)st.in_use);
  int ok = st.reserved > 0 && st.in_use >= size;
  free(p);
  return ok ? 0 : 1;
}
