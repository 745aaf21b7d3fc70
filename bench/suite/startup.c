// SPDX-License-Identifier: MIT
/* Not a workload: a process that allocates once and then does --scale
 * seconds of start-up work (sleeping), so that `faultless suite --warming`
 * can read what faultless's warmers did meanwhile (FAULTLESS_STATS=json). */
#include "suite.h"

#include <unistd.h>

int main(int argc, char **argv) {
  suite_args_t a = suite_parse(argc, argv, "startup");
  uint64_t t0 = suite_now_ns();
  char *p = suite_xmalloc(64);
  p[0] = 1;
  usleep((useconds_t)(a.scale * 1e6));
  uint64_t check = (unsigned char)p[0];
  free(p);
  suite_report(&a, t0, 1, check);
  return 0;
}
