// SPDX-License-Identifier: MIT
/* A tiny assertion helper: CHECK prints what failed and where, and the run
 * goes on; test_report() prints "N passed, N failed" and gives the exit code. */
#ifndef FL_TESTHELPER_H
#define FL_TESTHELPER_H

#include <stdio.h>
#include <stdlib.h>

static int test_passed, test_failed;
static const char *test_current = "";

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (cond)                                                                                      \
      test_passed++;                                                                               \
    else {                                                                                         \
      test_failed++;                                                                               \
      fprintf(stderr, "%s:%d: [%s] check failed: %s\n", __FILE__, __LINE__, test_current, #cond);  \
    }                                                                                              \
  } while (0)

#define TEST(name) __attribute__((unused)) static void name(void)
#define RUN(name)                                                                                  \
  do {                                                                                             \
    test_current = #name;                                                                          \
    name();                                                                                        \
  } while (0)

static inline int test_report(const char *suite) {
  printf("%s: %d passed, %d failed\n", suite, test_passed, test_failed);
  return test_failed ? 1 : 0;
}

#endif
