// SPDX-License-Identifier: MIT
/* Footprint: what faultless populates for a program that does not ask for
 * warm memory. A heap of a few MiB that stops growing gets nothing warmed
 * ahead of it; a big block is populated only up to POPULATE, the rest as
 * the program touches it; a calloc of fresh memory writes nothing; explicit
 * prefaults and POPULATE still warm what they ask for. One process, in this
 * order (each check measures RSS growth from /proc/self/statm, so the
 * blocks of earlier checks stay allocated and later ones get fresh memory).
 * ThreadSanitizer's shadow is larger than the memory it shadows: its build
 * skips the RSS bounds. */
#define _GNU_SOURCE
#include "faultless.h"
#include "testhelper.h"

#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define MiB ((size_t)1 << 20)

#if defined(__SANITIZE_THREAD__)
#define RSS_CHECKS 0
#else
#define RSS_CHECKS 1
#endif
/* ASan's shadow of what the test writes: an eighth, and some slack. */
#if defined(__SANITIZE_ADDRESS__)
#define SLACK (4 * MiB)
#else
#define SLACK 0
#endif

static fl_stats_t stats(void) {
  fl_stats_t st = {.size = sizeof st};
  fl_stats_get(&st);
  return st;
}

static size_t page(void) {
  return (size_t)sysconf(_SC_PAGESIZE);
}

#define SMALL_BLOCKS (3 * MiB / 64)
static void *small[SMALL_BLOCKS];
static char *big, *zeroed, *populated;

/* A heap that grows to 3 MiB and stops: warming ahead adds less than two
 * chunks (it used to add 8 MiB at least). */
TEST(small_heap_gets_little_ahead) {
  size_t r0 = test_rss();
  for (size_t i = 0; i < SMALL_BLOCKS; i++) {
    small[i] = fl_malloc(64);
    if (small[i]) memset(small[i], 1, 64);
  }
  CHECK(small[SMALL_BLOCKS - 1] != NULL);
  fl_prefault_wait(5000);
  size_t grown = test_rss() - r0;
  printf("footprint: 3 MiB of 64 B blocks: RSS +%zu KiB\n", grown >> 10);
  if (!RSS_CHECKS) {
    SKIP("footprint", "small heap RSS bound: ThreadSanitizer's shadow");
    return;
  }
  CHECK(grown >= 3 * MiB);
  CHECK(grown <= 3 * MiB + 4 * MiB + SLACK);
}

/* 512 MiB of which 57 MiB is written: RSS follows what is written. */
TEST(big_block_populated_in_part) {
  size_t r0 = test_rss();
  fl_stats_t s0 = stats();
  big = fl_malloc(512 * MiB);
  CHECK(big != NULL);
  if (!big) return;
  size_t after_malloc = test_rss() - r0;
  fl_stats_t s1 = stats();
  for (size_t off = 0; off < 57 * MiB; off += page())
    big[off] = 1;
  fl_prefault_wait(5000);
  size_t after_touch = test_rss() - r0;
  printf("footprint: 512 MiB block: RSS +%zu MiB after malloc, +%zu MiB after writing 57 MiB "
         "(populated inline %llu MiB)\n",
         after_malloc >> 20, after_touch >> 20,
         (unsigned long long)(s1.populated_inline - s0.populated_inline) >> 20);
  CHECK(s1.populated_inline - s0.populated_inline <= 16 * MiB);
  if (!RSS_CHECKS) {
    SKIP("footprint", "big block RSS bound: ThreadSanitizer's shadow");
    return;
  }
  CHECK(after_malloc <= 16 * MiB + SLACK);
  CHECK(after_touch >= 57 * MiB);
  CHECK(after_touch <= 57 * MiB + 16 * MiB + SLACK);
}

/* calloc of fresh memory: zero without a write. */
TEST(fresh_calloc_writes_nothing) {
  size_t r0 = test_rss();
  zeroed = fl_calloc(1, 256 * MiB);
  CHECK(zeroed != NULL);
  if (!zeroed) return;
  size_t grown = test_rss() - r0;
  int nonzero = 0;
  for (size_t off = 0; off < 256 * MiB; off += 4099 * 64)
    nonzero |= zeroed[off];
  CHECK(nonzero == 0);
  printf("footprint: calloc 256 MiB: RSS +%zu MiB\n", grown >> 20);
  if (!RSS_CHECKS) {
    SKIP("footprint", "calloc RSS bound: ThreadSanitizer's shadow");
    return;
  }
  CHECK(grown <= 16 * MiB + SLACK);
}

/* 48 MiB of 16 KiB blocks of which the program writes the first byte: the
 * heap grows past 16 MiB, yet with no prefault asked for, its size-class
 * spans fault in as they are used, so RSS follows the pages written (one
 * in four) rather than the spans (they used to be populated whole past
 * 16 MiB). Before any prefault in this process. */
#define SPARSE_BLOCKS (48 * MiB / (16 * 1024))
static char *sparse[SPARSE_BLOCKS];
TEST(small_blocks_fault_in_as_touched) {
  size_t r0 = test_rss();
  fl_stats_t s0 = stats();
  for (size_t i = 0; i < SPARSE_BLOCKS; i++) {
    sparse[i] = fl_malloc(16 * 1024);
    if (sparse[i]) sparse[i][0] = 1;
  }
  CHECK(sparse[SPARSE_BLOCKS - 1] != NULL);
  fl_prefault_wait(5000);
  size_t grown = test_rss() - r0;
  fl_stats_t s1 = stats();
  printf("footprint: 48 MiB of 16 KiB blocks, first byte written: RSS +%zu MiB (populated %llu "
         "MiB in the calls, %llu by warmers)\n",
         grown >> 20, (unsigned long long)(s1.populated_inline - s0.populated_inline) >> 20,
         (unsigned long long)(s1.warmed_by_warmers - s0.warmed_by_warmers) >> 20);
  if (!RSS_CHECKS) {
    SKIP("footprint", "sparse small blocks RSS bound: ThreadSanitizer's shadow");
    return;
  }
#ifdef FL_DEBUG
  SKIP("footprint", "sparse small blocks RSS bound: debug builds fill every block as it is carved");
  return;
#endif
  /* ASan's shadow: a page of it for every two blocks written. */
  CHECK(grown <= 16 * MiB + (SLACK ? SLACK + 8 * MiB : 0));
}

/* Four buffers doubled in turn by realloc from 256 KiB to 32 MiB, the
 * appended bytes written (Arrow's builders). A move populates the new
 * block's first half in the call and has the warmers populate the second
 * half beside the copy: the bytes must all arrive, and what is warm stays
 * within the buffers and the holes their moves left (at most their size
 * again). Last: it runs after the prefaults, on the warm arena they left. */
#define COLUMNS 4
static char *column[COLUMNS];
TEST(realloc_growth_not_warmed_ahead) {
  size_t r0 = test_rss();
  fl_stats_t s0 = stats();
  size_t len = 0;
  for (size_t size = 256 * 1024; size <= 32 * MiB; size *= 2) {
    for (int c = 0; c < COLUMNS; c++) {
      char *p = fl_realloc(column[c], size);
      CHECK(p != NULL);
      if (!p) return;
      column[c] = p;
      memset(p + len, 'a' + c, size - len);
    }
    len = size;
  }
  fl_prefault_wait(5000);
  fl_stats_t s1 = stats();
  size_t grown = test_rss() - r0;
  uint64_t warm = s1.warm - s0.warm, in_use = s1.in_use - s0.in_use;
  printf("footprint: 4 columns doubled by realloc to 32 MiB: in use +%llu MiB, warm +%llu MiB, "
         "RSS +%zu MiB\n",
         (unsigned long long)in_use >> 20, (unsigned long long)warm >> 20, grown >> 20);
  CHECK(in_use >= 4 * 32 * MiB);
  /* The columns, the holes their last moves left (at most their size
   * again), less than a chunk at the edges. */
  CHECK(warm <= 2 * in_use + 4 * MiB);
  for (int c = 0; c < COLUMNS; c++)
    CHECK(column[c][32 * MiB - 1] == 'a' + c && column[c][0] == 'a' + c);
}

/* POPULATE raised: a 32 MiB block comes warm (populated in the call, or by
 * warmers its growth set going). */
TEST(populate_option_honoured) {
  CHECK(fl_option_set("POPULATE", "64M") == 0);
  size_t r0 = test_rss();
  populated = fl_malloc(32 * MiB);
  size_t grown = test_rss() - r0;
  CHECK(populated != NULL);
  printf("footprint: POPULATE=64M, malloc 32 MiB: RSS +%zu MiB\n", grown >> 20);
  CHECK(grown >= 30 * MiB);
  CHECK(fl_option_set("POPULATE", "auto") == 0);
  CHECK(fl_option_set("POPULATE", "lots") != 0);
}

/* An explicit prefault still warms what it asks for: a block allocated
 * after it finds its pages warm. */
static char *after_prefault;
TEST(prefault_still_warms) {
  fl_stats_t s0 = stats();
  CHECK(fl_prefault(32 * MiB) == 0);
  CHECK(fl_prefault_wait(10000) == 0);
  fl_stats_t s1 = stats();
  after_prefault = fl_malloc(24 * MiB);
  CHECK(after_prefault != NULL);
  fl_stats_t s2 = stats();
  uint64_t warmed = s1.warmed_by_warmers - s0.warmed_by_warmers;
  uint64_t found = (s2.faults_avoided - s1.faults_avoided) * page();
  printf("footprint: prefault 32 MiB: warmers warmed %llu MiB; a 24 MiB block found %llu MiB "
         "warm\n",
         (unsigned long long)warmed >> 20, (unsigned long long)found >> 20);
#ifdef FL_SECURE
  if (warmed == 0) {
    SKIP("footprint", "prefault: secure build without populate warms nothing");
    return;
  }
#endif
  CHECK(found >= 22 * MiB);
}

/* A big block that lands inside a prefault's target is populated in part;
 * the warmers go on past it to the end of the target (in secure builds they
 * would stop at its guard page if its tail were left to them). */
static char *inside_target;
TEST(warmers_pass_a_partial_block) {
  CHECK(fl_prefault_wait(10000) == 0);
  fl_stats_t s0 = stats();
  CHECK(fl_prefault(320 * MiB) == 0);
  inside_target = fl_malloc(256 * MiB);
  CHECK(inside_target != NULL);
  CHECK(fl_prefault_wait(20000) == 0);
  fl_stats_t s1 = stats();
  /* Fresh memory after the block, all of which the prefault covered. */
  char *after = fl_malloc(32 * MiB);
  fl_stats_t s2 = stats();
  uint64_t found = (s2.faults_avoided - s1.faults_avoided) * page();
  printf("footprint: prefault 320 MiB, then a 256 MiB block: %llu MiB populated in the call, "
         "warmers %llu MiB; the next 32 MiB found %llu MiB warm\n",
         (unsigned long long)(s1.populated_inline - s0.populated_inline) >> 20,
         (unsigned long long)(s1.warmed_by_warmers - s0.warmed_by_warmers) >> 20,
         (unsigned long long)found >> 20);
  if (s1.warmed_by_warmers == s0.warmed_by_warmers) {
    SKIP("footprint", "partial block in a prefault: no warmer ran (warming off in this build)");
  } else {
    CHECK(found >= 24 * MiB);
  }
  fl_free(after);
}

int main(void) {
  RUN(small_heap_gets_little_ahead);
  RUN(small_blocks_fault_in_as_touched);
  RUN(big_block_populated_in_part);
  RUN(fresh_calloc_writes_nothing);
  RUN(populate_option_honoured);
  RUN(prefault_still_warms);
  RUN(warmers_pass_a_partial_block);
  RUN(realloc_growth_not_warmed_ahead);
  for (size_t i = 0; i < SMALL_BLOCKS; i++)
    fl_free(small[i]);
  for (size_t i = 0; i < SPARSE_BLOCKS; i++)
    fl_free(sparse[i]);
  for (int c = 0; c < COLUMNS; c++)
    fl_free(column[c]);
  fl_free(big);
  fl_free(zeroed);
  fl_free(populated);
  fl_free(after_prefault);
  fl_free(inside_target);
  return test_report("footprint");
}
