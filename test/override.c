// SPDX-License-Identifier: MIT
/* The malloc family reaches faultless: run under LD_PRELOAD of
 * libfaultless.so, or linked with libfaultless.a. Checks that each entry point
 * serves from the faultless heap (stats move; usable sizes agree) and that
 * glibc's extras answer sensibly. */
#define _GNU_SOURCE
#include "faultless.h"
#include "testhelper.h"

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
void free_sized(void *, size_t) __attribute__((weak));
void free_aligned_sized(void *, size_t, size_t) __attribute__((weak));

typedef int (*stats_fn)(fl_stats_t *);
static stats_fn get_stats;

static uint64_t in_use(void) {
  fl_stats_t st = {.size = sizeof st};
  get_stats(&st);
  return st.in_use;
}

/* Allocating a large block through `call` must raise faultless's in_use. */
#define SERVES(expr, freeexpr)                                                                     \
  do {                                                                                             \
    uint64_t before = in_use();                                                                    \
    void *p_ = (expr);                                                                             \
    CHECK(p_ != NULL && in_use() >= before + 4 * 1024 * 1024);                                     \
    memset(p_, 1, 4 * 1024 * 1024);                                                                \
    freeexpr(p_);                                                                                  \
  } while (0)

static void *memalign64(size_t n) {
  return memalign(64, n);
}
static void *aligned64(size_t n) {
  return aligned_alloc(64, n);
}
static void *calloc1(size_t n) {
  return calloc(1, n);
}
static void *realloc_null(size_t n) {
  return realloc(NULL, n);
}
static void *reallocarray_null(size_t n) {
  return reallocarray(NULL, n / 8, 8);
}
static void *posix64(size_t n) {
  void *p = NULL;
  return posix_memalign(&p, 64, n) == 0 ? p : NULL;
}
static void *libc_calloc1(size_t n) {
  return __libc_calloc(1, n);
}
static void *libc_memalign64(size_t n) {
  return __libc_memalign(64, n);
}
static void *libc_realloc_null(size_t n) {
  return __libc_realloc(NULL, n);
}
static void sized_free(void *p) {
  if (free_sized)
    free_sized(p, 4 * 1024 * 1024);
  else
    free(p);
}

TEST(entry_points_serve_from_faultless) {
  const size_t n = 4 * 1024 * 1024;
  SERVES(malloc(n), free);
  SERVES(calloc1(n), free);
  SERVES(realloc_null(n), free);
  SERVES(reallocarray_null(n), free);
  SERVES(aligned64(n), free);
  SERVES(memalign64(n), free);
  SERVES(posix64(n), free);
  SERVES(valloc(n), free);
  SERVES(pvalloc(n), free);
  SERVES(__libc_malloc(n), __libc_free);
  SERVES(libc_calloc1(n), free);
  SERVES(libc_memalign64(n), free);
  SERVES(libc_realloc_null(n), free);
  SERVES(malloc(n), sized_free);
  void *p = aligned_alloc(4096, 100);
  CHECK(p && ((uintptr_t)p & 4095) == 0);
  if (free_aligned_sized)
    free_aligned_sized(p, 4096, 100);
  else
    free(p);
}

TEST(glibc_extras) {
  void *p = malloc(1000);
  CHECK(malloc_usable_size(p) >= 1000 && malloc_usable_size(p) == fl_usable_size(p));
  CHECK(malloc_usable_size(NULL) == 0);
  free(p);
  CHECK(mallopt(M_MMAP_THRESHOLD, 1 << 20) == 1);
  CHECK(mallopt(M_ARENA_MAX, 2) == 1);
  void *big = malloc(32 << 20);
  memset(big, 1, 32 << 20);
  struct mallinfo2 mi = mallinfo2();
  CHECK(mi.uordblks >= (32u << 20));
  free(big);
  CHECK(malloc_trim(0) == 1); /* the 32 MiB just freed goes back */
  /* volatile: keep the compiler from judging these calls at build time */
  volatile size_t huge = SIZE_MAX, half = SIZE_MAX / 2;
  errno = 0;
  CHECK(malloc(huge) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(calloc(half, 4) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(reallocarray(NULL, half, 4) == NULL && errno == ENOMEM);
  char *m = memalign(0, 10); /* glibc: alignment 0 acts as malloc */
  CHECK(m != NULL);
  free(m);
  /* strdup, getline and friends allocate inside glibc: freed by us. */
  char *d = strdup("faultless");
  CHECK(d && strcmp(d, "faultless") == 0);
  free(d);
}

TEST(child_inherits_preload) {
  /* exec of a child that inherits LD_PRELOAD: it runs and exits cleanly. */
  pid_t pid = fork();
  if (pid == 0) {
    execlp("sh", "sh", "-c", "x=$(printf 'a%.0s' $(seq 1 200)); echo ${#x} >/dev/null", NULL);
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void) {
  get_stats = (stats_fn)dlsym(RTLD_DEFAULT, "fl_stats_get");
  CHECK(get_stats != NULL);
  if (!get_stats) {
    printf("override: faultless is not loaded (run under LD_PRELOAD or link it)\n");
    return test_report("override");
  }
  RUN(entry_points_serve_from_faultless);
  RUN(glibc_extras);
  RUN(child_inherits_preload);
  return test_report("override");
}
