// SPDX-License-Identifier: MIT
/* The failure of an FL_ASSERT (internal.h): one line, then abort. Built into
 * every variant, called only from those that check (DEBUG=1, sanitizers). */
#include "internal.h"

#include <stdio.h>

void _fl_assert_fail(const char *file, int line, const char *expr) {
  char buf[512];
  int n = snprintf(buf, sizeof buf, "faultless: %s:%d: assertion failed: %s\n", file, line, expr);
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof buf) {
    n = (int)sizeof buf - 1;
    buf[n - 1] = '\n';
  }
  _fl_prim_write_stderr(buf, (size_t)n);
  _fl_prim_abort();
}
