// SPDX-License-Identifier: MIT
/* faultless on a kernel with larger pages, pretended: built with
 * TEST_HOOKS=1, the library takes FAULTLESS_TEST_PAGE_SIZE as the page size
 * and aborts on any memory call not aligned to it (src/prim/linux.c), as
 * that kernel would refuse or widen it. test/pagesize.sh runs this with 16
 * and 64 KiB (the arena must work) and 256 KiB (every call must go to the
 * system allocator).
 *   pagesize arena|passthrough */
#include "faultless.h"
#include "prim/prim.h"
#include "testhelper.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB ((size_t)1 << 20)

static fl_stats_t stats(void) {
  fl_stats_t s = {.size = sizeof s};
  fl_stats_get(&s);
  return s;
}

static size_t pretended(void) {
  const char *t = getenv("FAULTLESS_TEST_PAGE_SIZE");
  return t ? (size_t)strtoull(t, NULL, 0) : 0;
}

/* Blocks of every kind hold what was written, realloc keeps it, calloc
 * zeroes, and aligned blocks are aligned to the page. */
static void blocks(void) {
  static const size_t sizes[] = {1, 16, 100, 1000, 5000, 40000, 70000, 200000, 3 * MiB};
  enum { N = sizeof sizes / sizeof sizes[0] };
  unsigned char *p[N];
  for (int i = 0; i < N; i++) {
    p[i] = fl_malloc(sizes[i]);
    CHECK(p[i] != NULL);
    if (p[i]) memset(p[i], i + 1, sizes[i]);
  }
  for (int i = 0; i < N; i++) {
    int same = p[i] != NULL;
    for (size_t k = 0; same && k < sizes[i]; k += 97)
      same = p[i][k] == i + 1;
    CHECK(same && (!p[i] || p[i][sizes[i] - 1] == i + 1));
    unsigned char *q = fl_realloc(p[i], sizes[i] * 3);
    CHECK(q != NULL && q[0] == i + 1 && q[sizes[i] - 1] == i + 1);
    fl_free(q ? q : p[i]);
  }
  size_t page = _fl_prim_page_size();
  unsigned char *z = fl_calloc(1, 5 * page);
  int zero = z != NULL;
  for (size_t k = 0; zero && k < 5 * page; k++)
    zero = z[k] == 0;
  CHECK(zero);
  fl_free(z);
  void *a = fl_aligned_alloc(page, 100), *b = NULL;
  CHECK(a && (uintptr_t)a % page == 0);
  CHECK(fl_posix_memalign(&b, 2 * page, 3 * page) == 0 && (uintptr_t)b % (2 * page) == 0);
  fl_free(a);
  fl_free(b);
}

static void *churn(void *arg) {
  void *keep[64] = {0};
  for (int i = 0; i < 20000; i++) {
    int k = i % 64;
    fl_free(keep[k]);
    keep[k] = fl_malloc((size_t)(i * 7919 % 150000) + 1);
    if (keep[k]) memset(keep[k], 5, 1);
  }
  for (int k = 0; k < 64; k++)
    fl_free(keep[k]);
  return arg;
}

/* Warming, releasing and threads: populate and MADV_DONTNEED on the arena
 * in its own units, each checked against the pretended page. */
static void arena(void) {
  CHECK(fl_prefault(8 * MiB) == 0);
  CHECK(fl_prefault_wait(5000) == 0);
  fl_stats_t s = stats();
  CHECK(s.reserved > 0);
  CHECK(s.warm >= 8 * MiB);
  pthread_t t[3];
  for (int i = 0; i < 3; i++)
    pthread_create(&t[i], NULL, churn, NULL);
  churn(NULL);
  for (int i = 0; i < 3; i++)
    pthread_join(t[i], NULL);
  fl_release();
  CHECK(stats().released > 0);
  CHECK(fl_heap_check() == 0);
  blocks(); /* again, on released memory */
#ifdef FL_SECURE
  /* The guard after a large block is one whole page: the first byte past
   * the block faults, and so does the last byte of the guard. */
  size_t page = _fl_prim_page_size();
  for (int last = 0; last < 2; last++) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      char *p = fl_malloc(3 * MiB);
      p[fl_usable_size(p) + (last ? page - 1 : 0)] = 1;
      _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
  }
#endif
}

int main(int argc, char **argv) {
  if (argc != 2 || (strcmp(argv[1], "arena") && strcmp(argv[1], "passthrough"))) {
    fprintf(stderr, "usage: pagesize arena|passthrough\n");
    return 2;
  }
  bool want_arena = !strcmp(argv[1], "arena");
  CHECK(pretended() != 0 && _fl_prim_page_size() == pretended());
  blocks();
  if (want_arena)
    arena();
  else
    CHECK(stats().reserved == 0 && stats().in_use == 0);
  printf("pagesize: %zu KiB pages, %s\n", _fl_prim_page_size() >> 10,
         stats().reserved ? "the arena" : "the system allocator");
  return test_report("pagesize");
}
