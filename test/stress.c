// SPDX-License-Identifier: MIT
/* Stress test (not a benchmark): 2 x cores threads with fixed seeds allocate,
 * check and free blocks, hand blocks to each other through a mailbox (remote
 * frees), exit and are replaced, while one thread forks children that
 * allocate. Every block's contents are checked before it is freed; the heap
 * checker runs after each round; RSS must stay bounded over the rounds.
 * Usage: stress [rounds] [ops-per-thread] */
#define _GNU_SOURCE
#include "faultless.h"
#include "testhelper.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SLOTS 512
#define MAILBOX 1024

typedef struct {
  uint64_t size;
  uint64_t seed;
} header_t;

static _Atomic(void *) mailbox[MAILBOX];
static atomic_long bad_blocks, handed, forks_ok, forks_bad;
static atomic_int stop_forking;
static long ops_per_thread = 20000;

static uint64_t rnd(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static size_t pick_size(uint64_t *s) {
  uint64_t r = rnd(s) % 1000;
  if (r < 700) return 16 + rnd(s) % 240;
  if (r < 950) return 256 + rnd(s) % 65536;
  if (r < 995) return 65536 + rnd(s) % (1 << 20);
  return (1 << 20) + rnd(s) % (4 << 20);
}

/* Fill the whole of a small block, the edges of a large one. */
static void paint(unsigned char *p, size_t n, uint64_t seed) {
  header_t h = {n, seed};
  memcpy(p, &h, sizeof h);
  size_t edge = n < 4096 ? n : 512;
  for (size_t i = sizeof h; i < edge; i++)
    p[i] = (unsigned char)(seed + i);
  for (size_t i = n > edge ? n - 512 : n; i < n; i++)
    p[i] = (unsigned char)(seed ^ i);
}

static int intact(const unsigned char *p) {
  header_t h;
  memcpy(&h, p, sizeof h);
  size_t n = h.size, edge = n < 4096 ? n : 512;
  for (size_t i = sizeof h; i < edge; i++)
    if (p[i] != (unsigned char)(h.seed + i)) return 0;
  for (size_t i = n > edge ? n - 512 : n; i < n; i++)
    if (p[i] != (unsigned char)(h.seed ^ i)) return 0;
  return 1;
}

static void check_and_free(void *p) {
  if (!intact(p)) atomic_fetch_add(&bad_blocks, 1);
  fl_free(p);
}

static void *worker(void *arg) {
  uint64_t seed = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
  void *slot[SLOTS] = {0};
  for (long op = 0; op < ops_per_thread; op++) {
    size_t i = rnd(&seed) % SLOTS;
    if (slot[i]) {
      uint64_t r = rnd(&seed) % 10;
      if (r < 3) { /* hand it to whoever looks in the mailbox next */
        void *old = atomic_exchange(&mailbox[rnd(&seed) % MAILBOX], slot[i]);
        atomic_fetch_add(&handed, 1);
        if (old) check_and_free(old); /* a remote free, most likely */
      } else if (r < 4) {             /* grow or shrink it */
        header_t h;
        memcpy(&h, slot[i], sizeof h);
        size_t n = pick_size(&seed);
        unsigned char *q = fl_realloc(slot[i], n);
        if (!q) {
          atomic_fetch_add(&bad_blocks, 1);
          continue;
        }
        size_t keep = n < h.size ? n : h.size;
        /* The first bytes moved with the block. */
        size_t edge = keep < 512 ? keep : 512;
        for (size_t k = sizeof h; k < edge && k < (h.size < 4096 ? h.size : 512); k++)
          if (q[k] != (unsigned char)(h.seed + k)) {
            atomic_fetch_add(&bad_blocks, 1);
            break;
          }
        paint(q, n, rnd(&seed));
        slot[i] = q;
        continue;
      } else {
        check_and_free(slot[i]);
      }
      slot[i] = NULL;
    } else {
      size_t n = pick_size(&seed);
      uint64_t kind = rnd(&seed) % 8;
      unsigned char *p;
      if (kind == 0) {
        p = fl_calloc(1, n);
        for (size_t k = 0; k < n && k < 4096; k++)
          if (p[k]) {
            atomic_fetch_add(&bad_blocks, 1);
            break;
          }
      } else if (kind == 1) {
        p = fl_aligned_alloc((size_t)64 << (rnd(&seed) % 8), n);
      } else {
        p = fl_malloc(n);
      }
      if (!p) {
        atomic_fetch_add(&bad_blocks, 1);
        continue;
      }
      paint(p, n, rnd(&seed));
      slot[i] = p;
    }
  }
  /* Exit with blocks still allocated: half go to the mailbox for others. */
  for (size_t i = 0; i < SLOTS; i++) {
    if (!slot[i]) continue;
    if (i % 2) {
      void *old = atomic_exchange(&mailbox[i % MAILBOX], slot[i]);
      if (old) check_and_free(old);
    } else {
      check_and_free(slot[i]);
    }
  }
  return NULL;
}

static void *forker(void *arg) {
  while (!atomic_load(&stop_forking)) {
    pid_t pid = fork();
    if (pid == 0) {
      void *p[64];
      for (int i = 0; i < 64; i++)
        p[i] = fl_malloc((size_t)(i + 1) * 1000);
      for (int i = 0; i < 64; i++)
        fl_free(p[i]);
      _exit(fl_heap_check() == 0 ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!ok)
      fprintf(stderr, "stress: forked child failed: %s %d\n", WIFEXITED(st) ? "exit" : "signal",
              WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    atomic_fetch_add(ok ? &forks_ok : &forks_bad, 1);
    usleep(2000);
  }
  return NULL;
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 8;
  if (argc > 2) ops_per_thread = atol(argv[2]);
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  int nthreads = (int)(2 * (cores < 2 ? 2 : cores));
  pthread_t fork_thread;
  pthread_create(&fork_thread, NULL, forker, NULL);
  long rss_early = 0, rss_last = 0;
  for (int r = 0; r < rounds; r++) {
    pthread_t t[64];
    for (int i = 0; i < nthreads && i < 64; i++)
      pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(r * 1000 + i + 1));
    for (int i = 0; i < nthreads && i < 64; i++)
      pthread_join(t[i], NULL);
    CHECK(fl_heap_check() == 0);
    rss_last = (long)(test_rss() / 1024);
    if (r == 1) rss_early = rss_last;
    printf("stress: round %d: %d threads, RSS %ld KiB\n", r, nthreads, rss_last);
  }
  atomic_store(&stop_forking, 1);
  pthread_join(fork_thread, NULL);
  for (int i = 0; i < MAILBOX; i++) {
    void *p = atomic_exchange(&mailbox[i], NULL);
    if (p) check_and_free(p);
  }
  CHECK(atomic_load(&bad_blocks) == 0);
  CHECK(atomic_load(&handed) > 0);
  CHECK(atomic_load(&forks_ok) > 0);
  CHECK(atomic_load(&forks_bad) == 0);
  CHECK(fl_heap_check() == 0);
  /* Memory of exited threads is reused: RSS after many thread lifetimes stays
   * within a generous bound of what two rounds needed. */
  if (rounds > 2) CHECK(rss_last < 2 * rss_early + 128 * 1024);
  fl_stats_t st = {.size = sizeof st};
  fl_stats_get(&st);
  CHECK(st.heaps_reused > 0);
  CHECK(st.heaps <= (uint64_t)nthreads + 4);
  printf("stress: %ld blocks handed between threads, %ld forks, heaps %llu (reused %llu), "
         "RSS %ld -> %ld KiB\n",
         atomic_load(&handed), atomic_load(&forks_ok), (unsigned long long)st.heaps,
         (unsigned long long)st.heaps_reused, rss_early, rss_last);
  return test_report("stress");
}
