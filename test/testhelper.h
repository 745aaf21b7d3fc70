// SPDX-License-Identifier: MIT
/* A tiny assertion helper: CHECK prints what failed and where, and the run
 * goes on; SKIP counts a check this build or machine cannot make, with why;
 * dies_with() runs a function that must stop the process; test_report()
 * prints "N passed, N failed[, N skipped]" and gives the exit code. */
#ifndef FL_TESTHELPER_H
#define FL_TESTHELPER_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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

/* Run fn in a child with stderr captured; true when it died of SIGABRT with a
 * message naming faultless, the call and (when given) the pointer. */
static inline int dies_with(void (*fn)(void *), void *arg, const char *call, const char *what) {
  int fds[2];
  if (pipe(fds) != 0) return 0;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 2);
    close(fds[0]);
    fn(arg);
    _exit(0);
  }
  close(fds[1]);
  char buf[1024] = {0};
  size_t got = 0;
  ssize_t n;
  while ((n = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0)
    got += (size_t)n;
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  /* Lines of the child's stderr, less qemu-user's own report of the signal
   * ("qemu: uncaught target signal 6 ...") when the arm64 build runs there. */
  int lines = 0;
  for (char *l = buf; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l))
    lines += strncmp(l, "qemu: ", 6) != 0;
  int ok = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(buf, "faultless") &&
           strstr(buf, call) && strstr(buf, what) && lines == 1;
  if (!ok) fprintf(stderr, "  child said: %s", buf);
  return ok;
}

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
