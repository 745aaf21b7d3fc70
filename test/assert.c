// SPDX-License-Identifier: MIT
/* FL_ASSERT (internal.h): in the builds that check (DEBUG=1, sanitizers) a
 * false invariant prints one line naming faultless, the file, the line and
 * the expression, then aborts; in release builds the expression is not even
 * evaluated. */
#include "internal.h"
#include "testhelper.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#if FL_ASSERTS
/* Run FL_ASSERT(value == 2) with value 1 in a child; what it wrote to stderr
 * goes to buf. Returns the child's wait status. */
static int failing_child(char *buf, size_t cap) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 2);
    volatile int value = 1;
    FL_ASSERT(value == 2);
    _exit(0);
  }
  close(fds[1]);
  size_t got = 0;
  ssize_t n;
  while (got < cap - 1 && (n = read(fds[0], buf + got, cap - 1 - got)) > 0)
    got += (size_t)n;
  buf[got] = 0;
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}
#endif

int main(void) {
  int evaluated = 0;
  FL_ASSERT(++evaluated > 0);
  FL_ASSERT(1 + 1 == 2);
#if FL_ASSERTS
  CHECK(evaluated == 1);
  char buf[1024];
  int status = failing_child(buf, sizeof buf);
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
  CHECK(strncmp(buf, "faultless: ", 11) == 0);
  CHECK(strstr(buf, "test/assert.c:") != NULL);
  CHECK(strstr(buf, "value == 2") != NULL);
  CHECK(strchr(buf, '\n') == buf + strlen(buf) - 1); /* one line */
  printf("assert: a false FL_ASSERT printed: %s", buf);
#else
  CHECK(evaluated == 0); /* compiled out: not evaluated */
  FL_ASSERT(evaluated == 1);
  CHECK(evaluated == 0);
  printf("assert: release build, FL_ASSERT compiled out\n");
#endif
  return test_report("assert");
}
