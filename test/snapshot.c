// SPDX-License-Identifier: MIT
/* Snapshots: fl_snapshot_prepare gives back the warm memory nothing holds and
 * keeps every live byte; fl_snapshot_restored warms it again. Built for every
 * variant; sanitizers keep shadow memory of their own, so the RSS checks are
 * taken against a baseline measured with the held memory already written, and
 * the fault counts are loosened where the sanitizer's shadow faults too. */
#define _GNU_SOURCE
#include "faultless.h"
#include "testhelper.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MiB ((size_t)1 << 20)

/* Page faults allowed per 1 MiB buffer after the restore (strictly below). */
#if defined(__SANITIZE_ADDRESS__)
/* A first write faults in the sanitizer's shadow too: 1/8 of the memory. */
#define FAULTS_PER_BUFFER 64
#elif defined(__SANITIZE_THREAD__)
/* ThreadSanitizer's shadow is larger than the memory it shadows. */
#define FAULTS_PER_BUFFER -1
#elif defined(FL_SECURE)
/* Guard pages keep warmers out of chunks shared with live spans: a buffer
 * cut from a free span there populates that part itself (a cold buffer
 * takes 256). */
#define FAULTS_PER_BUFFER 4
#else
#define FAULTS_PER_BUFFER 1
#endif

static long thread_minflt(void) {
  struct rusage ru;
  getrusage(RUSAGE_THREAD, &ru);
  return ru.ru_minflt;
}

static fl_stats_t stats(void) {
  fl_stats_t st = {.size = sizeof st};
  fl_stats_get(&st);
  return st;
}

static void fill(void *p, size_t n, unsigned seed) {
  uint32_t *w = p;
  for (size_t i = 0; i < n / 4; i++)
    w[i] = (uint32_t)(seed * 2654435761u + i);
}
static int verify(const void *p, size_t n, unsigned seed) {
  const uint32_t *w = p;
  for (size_t i = 0; i < n / 4; i++)
    if (w[i] != (uint32_t)(seed * 2654435761u + i)) return 0;
  return 1;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Before anything was prepared: restored reads the budget again and goes on;
 * nothing breaks, nothing is lost. */
TEST(restored_without_prepare) {
  void *p = fl_malloc(3 * MiB);
  CHECK(p != NULL);
  fill(p, 3 * MiB, 7);
  fl_stats_t a = stats();
  fl_snapshot_restored();
  fl_snapshot_restored();
  CHECK(fl_prefault_wait(30000) == 0);
  fl_stats_t b = stats();
  CHECK(b.snapshot_restores == a.snapshot_restores + 2);
  CHECK(b.snapshot_prepares == 0 && b.snapshot_released == 0);
  CHECK(b.budget > 0);
  CHECK(verify(p, 3 * MiB, 7));
  CHECK(fl_heap_check() == 0);
  fl_free(p);
}

/* A process that prepares and is never restored (a child here): it goes on
 * allocating, and no warmer starts again, whatever it asks. */
TEST(prepare_without_restore) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    fl_snapshot_prepare();
    fl_stats_t a = stats();
    fl_prefault(32 * MiB);
    void *p = fl_malloc(8 * MiB);
    int ok = p != NULL;
    if (ok) fill(p, 8 * MiB, 3);
    sleep_ms(50);
    fl_stats_t b = stats();
    ok = ok && verify(p, 8 * MiB, 3) && b.warmed_by_warmers == a.warmed_by_warmers &&
         b.snapshot_prepares == a.snapshot_prepares && a.snapshot_prepares >= 1 &&
         fl_heap_check() == 0;
    fl_free(p);
    _exit(ok ? 0 : 1);
  }
  int status = -1;
  CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

#define HELD_LARGE 24  /* 1 MiB blocks */
#define HELD_SMALL 256 /* 32 KiB blocks: 8 MiB of size-class spans */
#define GAPS 6         /* 4 MiB blocks freed between live ones: free spans */

TEST(prepare_and_restore) {
  void *large[HELD_LARGE], *small[HELD_SMALL], *gap[GAPS], *keep[GAPS];
  size_t rss0 = test_rss();
  /* Hold 32 MiB, with free spans between live blocks. */
  for (int i = 0; i < GAPS; i++) {
    gap[i] = fl_malloc(4 * MiB);
    keep[i] = fl_malloc(64 * 1024);
    CHECK(gap[i] && keep[i]);
    memset(gap[i], 0x5A, 4 * MiB);
    fill(keep[i], 64 * 1024, 1000u + (unsigned)i);
  }
  for (int i = 0; i < HELD_LARGE; i++) {
    large[i] = fl_malloc(MiB);
    CHECK(large[i] != NULL);
    fill(large[i], MiB, (unsigned)i);
  }
  for (int i = 0; i < HELD_SMALL; i++) {
    small[i] = fl_malloc(32 * 1024);
    CHECK(small[i] != NULL);
    fill(small[i], 32 * 1024, 100u + (unsigned)i);
  }
  for (int i = 0; i < GAPS; i++)
    fl_free(gap[i]);
  size_t held = HELD_LARGE * MiB + HELD_SMALL * 32 * 1024 + GAPS * 64 * 1024;
  size_t rss_held = test_rss(); /* held memory and whatever the sanitizer keeps for it */

  CHECK(fl_prefault(512 * MiB) == 0);
  CHECK(fl_prefault_wait(60000) == 0);
  fl_stats_t warmed = stats();
  size_t rss_warm = test_rss();
  printf("snapshot: rss at start %zu MiB, holding %zu MiB: %zu MiB, warmed: %zu MiB "
         "(stats warm %llu MiB)\n",
         rss0 >> 20, held >> 20, rss_held >> 20, rss_warm >> 20,
         (unsigned long long)(warmed.warm >> 20));
  CHECK(rss_warm >= rss_held + 400 * MiB);

  fl_snapshot_prepare();
  size_t rss_prep = test_rss();
  fl_stats_t prep = stats();
  printf("snapshot: after prepare rss %zu MiB (gave back %llu MiB in %.1f ms)\n", rss_prep >> 20,
         (unsigned long long)(prep.snapshot_released >> 20),
         (double)prep.snapshot_prepare_ns / 1e6);
  /* Within a few MiB of what is held (4 MiB of slack: span descriptors,
   * part-used size-class spans, the test's own stdio). */
  CHECK(rss_prep <= rss_held + 4 * MiB);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  CHECK(rss_prep <= rss0 + held + 6 * MiB);
#endif
  CHECK(prep.snapshot_prepares == warmed.snapshot_prepares + 1);
  /* The free spans between live blocks and the warm arena above them. */
  CHECK(prep.snapshot_released >= warmed.snapshot_released + 400 * MiB + GAPS * 4 * MiB);
  CHECK(prep.released >= prep.snapshot_released);
  CHECK(prep.warm + 400 * MiB <= warmed.warm);
  CHECK(prep.snapshot_prepare_ns > 0);

  /* Every live byte kept. */
  int intact = 1;
  for (int i = 0; i < HELD_LARGE; i++)
    intact &= verify(large[i], MiB, (unsigned)i);
  for (int i = 0; i < HELD_SMALL; i++)
    intact &= verify(small[i], 32 * 1024, 100u + (unsigned)i);
  for (int i = 0; i < GAPS; i++)
    intact &= verify(keep[i], 64 * 1024, 1000u + (unsigned)i);
  CHECK(intact);
  CHECK(fl_heap_check() == 0);

  /* Twice: nothing more to give back, nothing lost. */
  fl_snapshot_prepare();
  fl_stats_t twice = stats();
  CHECK(twice.snapshot_prepares == prep.snapshot_prepares + 1);
  CHECK(twice.snapshot_released - prep.snapshot_released < 2 * MiB);
  CHECK(test_rss() <= rss_prep + 2 * MiB);
  CHECK(verify(large[0], MiB, 0) &&
        verify(small[HELD_SMALL - 1], 32 * 1024, 100u + HELD_SMALL - 1));

  /* Prepared, the process still allocates (memory that reads as zero where
   * it was given back), but no warmer starts until the restore. */
  void *mid = fl_calloc(1, 24 * MiB);
  CHECK(mid != NULL);
  const unsigned char *z = mid;
  int zero = 1;
  for (size_t i = 0; i < 24 * MiB; i += 4093)
    zero &= z[i] == 0;
  CHECK(zero);
  fill(mid, 24 * MiB, 77);
  sleep_ms(50);
  fl_stats_t paused = stats();
  CHECK(paused.warmed_by_warmers == twice.warmed_by_warmers);
  CHECK(verify(mid, 24 * MiB, 77));
  fl_free(mid);

  /* Restored: warm again, then the seed's experiment takes (almost) no
   * faults. */
  fl_snapshot_restored();
  fl_snapshot_restored(); /* idempotent */
  CHECK(fl_prefault_wait(60000) == 0);
  fl_stats_t back = stats();
  size_t rss_back = test_rss();
  printf("snapshot: after restored rss %zu MiB (stats warm %llu MiB)\n", rss_back >> 20,
         (unsigned long long)(back.warm >> 20));
  CHECK(back.snapshot_restores == paused.snapshot_restores + 2);
  CHECK(back.warmed_by_warmers >= paused.warmed_by_warmers + 400 * MiB);
  CHECK(rss_back >= rss_prep + 400 * MiB);

  void *buf[100];
  long f0 = thread_minflt();
  uint64_t taken0 = stats().faults_taken;
  for (int i = 0; i < 100; i++) {
    buf[i] = fl_malloc(MiB);
    CHECK(buf[i] != NULL);
    memset(buf[i], 0x33 + i, MiB);
  }
  long faults = thread_minflt() - f0;
  uint64_t taken = stats().faults_taken - taken0;
  printf("snapshot: 100 x 1 MiB after restored: %ld faults (%.2f per buffer), %llu inside "
         "faultless\n",
         faults, faults / 100.0, (unsigned long long)taken);
#ifdef FL_SECURE
  CHECK(taken < 100 * FAULTS_PER_BUFFER);
#else
  CHECK(taken < 100); /* faultless populated (almost) nothing itself */
#endif
  if (FAULTS_PER_BUFFER > 0)
    CHECK(faults < 100 * FAULTS_PER_BUFFER);
  else
    printf("snapshot: ThreadSanitizer build: page faults not counted (its shadow memory "
           "faults on every first write)\n");
  for (int i = 0; i < 100; i++)
    fl_free(buf[i]);

  intact = 1;
  for (int i = 0; i < HELD_LARGE; i++) {
    intact &= verify(large[i], MiB, (unsigned)i);
    fl_free(large[i]);
  }
  for (int i = 0; i < HELD_SMALL; i++) {
    intact &= verify(small[i], 32 * 1024, 100u + (unsigned)i);
    fl_free(small[i]);
  }
  for (int i = 0; i < GAPS; i++) {
    intact &= verify(keep[i], 64 * 1024, 1000u + (unsigned)i);
    fl_free(keep[i]);
  }
  CHECK(intact);
  CHECK(fl_heap_check() == 0);
}

/* Prepare and restore while other threads allocate, write, check and free. */
#define THREADS 3
static atomic_bool stop_workers;
static atomic_int corrupt;

static void *worker(void *arg) {
  unsigned seed = (unsigned)(uintptr_t)arg;
  enum { SLOTS = 64 };
  void *slot[SLOTS] = {0};
  size_t size[SLOTS] = {0};
  unsigned tag[SLOTS] = {0};
  unsigned long n = 0;
  while (!atomic_load(&stop_workers) || n < 2000) {
    seed = seed * 1103515245u + 12345u;
    int i = (int)((seed >> 8) % SLOTS);
    if (slot[i]) {
      if (!verify(slot[i], size[i], tag[i])) atomic_fetch_add(&corrupt, 1);
      fl_free(slot[i]);
      slot[i] = NULL;
    } else {
      unsigned r = seed >> 16;
      size[i] = r % 4 == 0 ? (size_t)(r % 3 + 1) * 700 * 1024 : (size_t)(r % 2000 + 1) * 16;
      slot[i] = fl_malloc(size[i]);
      if (!slot[i]) {
        atomic_fetch_add(&corrupt, 1);
        continue;
      }
      tag[i] = seed;
      fill(slot[i], size[i], tag[i]);
    }
    n++;
  }
  for (int i = 0; i < SLOTS; i++)
    if (slot[i]) {
      if (!verify(slot[i], size[i], tag[i])) atomic_fetch_add(&corrupt, 1);
      fl_free(slot[i]);
    }
  return NULL;
}

TEST(concurrent) {
  pthread_t t[THREADS];
  atomic_store(&stop_workers, false);
  for (int i = 0; i < THREADS; i++)
    CHECK(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1)) == 0);
  for (int round = 0; round < 6; round++) {
    fl_prefault(64 * MiB);
    sleep_ms(5);
    fl_snapshot_prepare();
    sleep_ms(5);
    if (round % 3 != 2) fl_snapshot_restored(); /* sometimes prepare twice in a row */
  }
  fl_snapshot_restored();
  atomic_store(&stop_workers, true);
  for (int i = 0; i < THREADS; i++)
    pthread_join(t[i], NULL);
  CHECK(atomic_load(&corrupt) == 0);
  CHECK(fl_prefault_wait(60000) == 0);
  CHECK(fl_heap_check() == 0);
  fl_stats_t st = stats();
  CHECK(st.snapshot_prepares >= 6 && st.snapshot_restores >= 5);
}

int main(void) {
  RUN(restored_without_prepare);
  RUN(prepare_without_restore);
  RUN(prepare_and_restore);
  RUN(concurrent);
  return test_report("snapshot");
}
