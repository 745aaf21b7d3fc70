// SPDX-License-Identifier: MIT
/* What every workload of the allocator suite shares: its command line, a
 * fixed-seed generator, a monotonic clock and the one result line the runner
 * (`faultless suite`) reads. The workloads call plain malloc/free/realloc/
 * aligned_alloc, so any allocator can be measured under LD_PRELOAD.
 *
 * usage: WORKLOAD [--threads N] [--scale X]
 *   --threads N  worker threads (thread workloads only; default 1)
 *   --scale X    work multiplier (default 1; the quick test uses 0.01)
 * Output, one line on stdout:
 *   suite workload=NAME threads=N scale=X elapsed_ms=T ops=N check=HEX */
#ifndef FL_SUITE_H
#define FL_SUITE_H

#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
  const char *name;
  int threads;
  double scale;
} suite_args_t;

static inline void suite_usage(const char *name) {
  fprintf(stderr, "usage: %s [--threads N] [--scale X]\n", name);
  exit(2);
}

static inline suite_args_t suite_parse(int argc, char **argv, const char *name) {
  suite_args_t a = {name, 1, 1.0};
  for (int i = 1; i < argc; i++) {
    char *end = NULL;
    if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
      long n = strtol(argv[++i], &end, 10);
      if (*end || n < 1 || n > 1024) suite_usage(name);
      a.threads = (int)n;
    } else if (!strcmp(argv[i], "--scale") && i + 1 < argc) {
      a.scale = strtod(argv[++i], &end);
      if (*end || !(a.scale > 0) || a.scale > 1000) suite_usage(name);
    } else {
      suite_usage(name);
    }
  }
  return a;
}

/* n scaled, at least `min`. */
static inline size_t suite_scaled(const suite_args_t *a, double n, size_t min) {
  double v = n * a->scale;
  return v < (double)min ? min : (size_t)v;
}

static inline uint64_t suite_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: fast, fixed seed, identical sequence under every allocator. */
typedef struct {
  uint64_t s;
} suite_rng_t;

static inline suite_rng_t suite_rng(uint64_t seed) {
  suite_rng_t r = {seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull};
  if (!r.s) r.s = 1;
  return r;
}
static inline uint64_t suite_next(suite_rng_t *r) {
  r->s ^= r->s >> 12;
  r->s ^= r->s << 25;
  r->s ^= r->s >> 27;
  return r->s * 0x2545F4914F6CDD1Dull;
}
/* Uniform in [0, n). */
static inline size_t suite_below(suite_rng_t *r, size_t n) {
  return (size_t)((suite_next(r) >> 32) * (uint64_t)n >> 32);
}
/* Log-uniform in [lo, hi]: as many blocks of 8..16 B as of 32..64 KiB. */
static inline size_t suite_log_size(suite_rng_t *r, size_t lo, size_t hi) {
  unsigned lo_bit = 63u - (unsigned)__builtin_clzll(lo);
  unsigned hi_bit = 63u - (unsigned)__builtin_clzll(hi);
  unsigned bit = lo_bit + (unsigned)suite_below(r, hi_bit - lo_bit + 1);
  size_t base = (size_t)1 << bit;
  size_t size = base + suite_below(r, base);
  return size < lo ? lo : size > hi ? hi : size;
}

static inline void *suite_xmalloc(size_t n) {
  void *p = malloc(n);
  if (!p) {
    fprintf(stderr, "suite: malloc(%zu) failed\n", n);
    exit(1);
  }
  return p;
}

static inline void suite_thread(pthread_t *t, void *(*fn)(void *), void *arg) {
  if (pthread_create(t, NULL, fn, arg) != 0) {
    fprintf(stderr, "suite: pthread_create failed\n");
    exit(1);
  }
}

static inline void suite_report(const suite_args_t *a, uint64_t t0, uint64_t ops, uint64_t check) {
  double ms = (double)(suite_now_ns() - t0) / 1e6;
  printf("suite workload=%s threads=%d scale=%g elapsed_ms=%.3f ops=%llu check=%016llx\n", a->name,
         a->threads, a->scale, ms, (unsigned long long)ops, (unsigned long long)check);
  fflush(stdout);
}

/* What each thread of a workload whose threads share nothing is given (its
 * index and how many steps to take) and gives back (a checksum). */
typedef struct {
  int id;
  size_t steps;
  uint64_t check;
} suite_worker_t;

/* Run fn on --threads threads, each with a suite_worker_t of its own, time
 * them from the first start to the last join, and report ops and the sum of
 * their checks. */
static inline void suite_run_workers(const suite_args_t *a, size_t steps, uint64_t ops,
                                     void *(*fn)(void *)) {
  int n = a->threads;
  pthread_t *th = suite_xmalloc((size_t)n * sizeof *th);
  suite_worker_t *w = suite_xmalloc((size_t)n * sizeof *w);
  uint64_t t0 = suite_now_ns();
  for (int i = 0; i < n; i++) {
    w[i] = (suite_worker_t){.id = i, .steps = steps};
    suite_thread(&th[i], fn, &w[i]);
  }
  uint64_t check = 0;
  for (int i = 0; i < n; i++) {
    pthread_join(th[i], NULL);
    check += w[i].check;
  }
  suite_report(a, t0, ops, check);
  free(th);
  free(w);
}

#endif
