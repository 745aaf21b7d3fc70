// SPDX-License-Identifier: MIT
/* A tiny assertion helper: CHECK prints what failed and where, and the run
 * goes on; SKIP counts a check this build or machine cannot make, with why;
 * test_report() prints "N passed, N failed[, N skipped]" and gives the exit
 * code. */
#ifndef FL_TESTHELPER_H
#define FL_TESTHELPER_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int test_passed, test_failed, test_skipped;
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

/* SKIP("suite", "what: why"): one check that cannot run here, reported. */
#define SKIP(suite, why)                                                                           \
  do {                                                                                             \
    test_skipped++;                                                                                \
    printf("%s: skipped %s\n", suite, why);                                                        \
  } while (0)

#define TEST(name) __attribute__((unused)) static void name(void)
#define RUN(name)                                                                                  \
  do {                                                                                             \
    test_current = #name;                                                                          \
    name();                                                                                        \
  } while (0)

/* Resident memory of this process, in bytes (/proc/self/statm); 0 when it
 * cannot be read. */
static inline size_t test_rss(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size = 0, res = 0;
  if (f) {
    if (fscanf(f, "%lu %lu", &size, &res) != 2) res = 0;
    fclose(f);
  }
  return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

static inline int test_report(const char *suite) {
  if (test_skipped)
    printf("%s: %d passed, %d failed, %d skipped\n", suite, test_passed, test_failed, test_skipped);
  else
    printf("%s: %d passed, %d failed\n", suite, test_passed, test_failed);
  return test_failed ? 1 : 0;
}

#endif
