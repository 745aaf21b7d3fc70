// SPDX-License-Identifier: MIT
/* API tests: every public function and option, through the fl_* interface. */
#define _GNU_SOURCE
#include "faultless.h"
#include "testhelper.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB (1024u * 1024u)

static void fill(void *p, size_t n, unsigned seed) {
  unsigned char *c = p;
  for (size_t i = 0; i < n; i++)
    c[i] = (unsigned char)(seed + i * 7);
}
static int verify(const void *p, size_t n, unsigned seed) {
  const unsigned char *c = p;
  for (size_t i = 0; i < n; i++)
    if (c[i] != (unsigned char)(seed + i * 7)) return 0;
  return 1;
}
static int all_zero(const void *p, size_t n) {
  const unsigned char *c = p;
  for (size_t i = 0; i < n; i++)
    if (c[i]) return 0;
  return 1;
}
static fl_stats_t stats(void) {
  fl_stats_t st = {.size = sizeof st};
  fl_stats_get(&st);
  return st;
}

/* 20,000-byte blocks come from spans of three 64 KiB slices, whose first
 * slice holds the blocks at offsets 0, 20480, 40960 and 61440 from it: a
 * block at an offset from a 64 KiB boundary that is not a multiple of 20480
 * lies past its span's first slice, where a free finds the span from the
 * slice's count back to the first. NULL if none of n blocks does. */
/* A block of `size` bytes from a span that its malloc made. The blocks
 * taken before it go to keep[0..max) (NULL past what was taken), or are
 * left live when keep is NULL. NULL when malloc failed or `max` ran out. */
static char *new_span_block(size_t size, char **keep, int max) {
  for (int i = 0; !keep || i < max; i++) {
    uint64_t spans = stats().spans_small;
    char *p = fl_malloc(size);
    if (!p || stats().spans_small != spans) return p;
    if (keep) keep[i] = p;
  }
  return NULL;
}
static char *far_block(char **keep, int n) {
  char *far = NULL;
  for (int i = 0; i < n; i++) {
    keep[i] = fl_malloc(20000);
    if (!far && ((uintptr_t)keep[i] & 0xffff) % 20480) far = keep[i];
  }
  return far;
}

TEST(malloc_sizes) {
  static const size_t sizes[] = {0,      1,      8,      15,   16,          17,      100,
                                 128,    129,    1000,   4096, 8191,        40000,   65536,
                                 131072, 131073, 200000, MiB,  3 * MiB + 5, 17 * MiB};
  void *p[sizeof sizes / sizeof sizes[0]];
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    p[i] = fl_malloc(sizes[i]);
    CHECK(p[i] != NULL);
    CHECK(((uintptr_t)p[i] & 15) == 0);
    CHECK(fl_usable_size(p[i]) >= sizes[i]);
    fill(p[i], sizes[i], (unsigned)i);
  }
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    CHECK(verify(p[i], sizes[i], (unsigned)i));
    fl_free(p[i]);
  }
  fl_free(NULL);
  CHECK(fl_usable_size(NULL) == 0);
  CHECK(fl_heap_check() == 0);
}

TEST(distinct_blocks) {
  /* Many live small blocks never overlap. */
  enum { N = 20000 };
  static char *p[N];
  for (int i = 0; i < N; i++) {
    p[i] = fl_malloc(24);
    memset(p[i], i & 0xff, 24);
  }
  int ok = 1;
  for (int i = 0; i < N; i++)
    for (int j = 0; j < 24; j++)
      ok &= (unsigned char)p[i][j] == (i & 0xff);
  CHECK(ok);
  for (int i = 0; i < N; i++)
    fl_free(p[i]);
  CHECK(fl_heap_check() == 0);
}

TEST(a_colored_span_hands_out_every_block) {
  /* A new span hands out blocks from its class's color on (the class of
   * 64 bytes has one), and the blocks below the color once every other
   * block is out: each block of the span once, the held-back ones last,
   * then blocks of another span. */
  enum { SIZE = 64, PER_SLICE = 0x10000 / SIZE };
  static char *p[4 * PER_SLICE]; /* what came before the new span, then its blocks */
  char *first = new_span_block(SIZE, p, 3 * PER_SLICE);
  CHECK(first != NULL);
  if (!first) return;
  char *start = (char *)((uintptr_t)first & ~(uintptr_t)0xffff), *q = first;
  size_t color = (size_t)(first - start), last = 0;
  CHECK(color > 0);
  static unsigned char seen[PER_SLICE];
  memset(seen, 0, sizeof seen);
  int inside = 0, twice = 0;
  for (int n = 0; n < PER_SLICE + 1 && q >= start && q < start + 0x10000; n++) {
    last = (size_t)(q - start) / SIZE;
    inside++, twice += seen[last]++;
    if (n == PER_SLICE / 2) CHECK(fl_heap_check() == 0);
    p[3 * PER_SLICE + n] = q = fl_malloc(SIZE);
  }
  int gaps = 0;
  for (int i = 0; i < inside && i < PER_SLICE; i++)
    gaps += !seen[i];
  CHECK(inside > PER_SLICE / 2);
  CHECK(twice == 0 && gaps == 0);
  CHECK(last < color / SIZE);
  CHECK(fl_heap_check() == 0);
  for (int i = 0; i < 4 * PER_SLICE; i++)
    fl_free(p[i]);
  CHECK(fl_heap_check() == 0);
}

TEST(blocks_past_a_spans_first_slice) {
  /* Freed there, a block goes back to its span: a later malloc of its
   * class (within a span's worth) takes it again, and every other block
   * keeps its bytes. */
  enum { N = 16 };
  char *keep[N], *more[N], *far = far_block(keep, N);
  CHECK(far != NULL);
  for (int i = 0; i < N; i++)
    fill(keep[i], 20000, (unsigned)i);
  fl_free(far);
  int again = 0, ok = 1;
  for (int i = 0; i < N; i++)
    again |= (more[i] = fl_malloc(20000)) == far;
  CHECK(again);
  for (int i = 0; i < N; i++)
    ok &= keep[i] == far || verify(keep[i], 20000, (unsigned)i);
  CHECK(ok);
  CHECK(fl_heap_check() == 0);
  for (int i = 0; i < N; i++) {
    fl_free(more[i]);
    if (keep[i] != far) fl_free(keep[i]);
  }
  CHECK(fl_heap_check() == 0);
}

TEST(bad_sizes) {
  errno = 0;
  CHECK(fl_malloc(SIZE_MAX) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(fl_malloc(SIZE_MAX / 2) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(fl_calloc(SIZE_MAX / 2, 3) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(fl_calloc((size_t)1 << 33, (size_t)1 << 33) == NULL && errno == ENOMEM);
  void *p = fl_malloc(100);
  fill(p, 100, 3);
  errno = 0;
  CHECK(fl_realloc(p, SIZE_MAX - 10) == NULL && errno == ENOMEM);
  CHECK(verify(p, 100, 3)); /* the old block survives untouched */
  fl_free(p);
}

TEST(calloc_zeroes_reused_memory) {
  static const size_t sizes[] = {16, 200, 5000, 100000, 2 * MiB};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    void *p = fl_malloc(sizes[i]);
    memset(p, 0xAB, sizes[i]);
    fl_free(p);
    unsigned char *z = fl_calloc(1, sizes[i]);
    CHECK(z != NULL && all_zero(z, sizes[i]));
    fl_free(z);
  }
  void *z = fl_calloc(0, 10);
  CHECK(z != NULL);
  fl_free(z);
}

TEST(realloc_in_place_and_moving) {
  void *z0 = fl_realloc(NULL, 0); /* realloc(NULL, 0) is malloc(0): a block, as fl_malloc(0) */
  CHECK(z0 != NULL);
  fl_free(z0);
  void *m = fl_realloc(NULL, 50);
  CHECK(m != NULL);
  fill(m, 50, 1);
  void *m2 = fl_realloc(m, 40); /* shrink within the class: same block */
  CHECK(m2 == m && verify(m2, 40, 1));
  void *m3 = fl_realloc(m2, 5000); /* grow small: moves, keeps contents */
  CHECK(m3 != NULL && verify(m3, 40, 1));
  CHECK(fl_realloc(m3, 0) == NULL); /* frees */

  /* Geometric growth of a large buffer at the frontier stays in place. */
  char *b = fl_malloc(MiB);
  fill(b, MiB, 9);
  char *g = b;
  int moves = 0;
  for (size_t sz = 2 * MiB; sz <= 64 * MiB; sz *= 2) {
    char *n = fl_realloc(g, sz);
    CHECK(n != NULL);
    moves += n != g;
    g = n;
  }
  CHECK(moves == 0);
  CHECK(verify(g, MiB, 9));
  /* A block grows into a freed neighbour. Large blocks taken one after the
   * other come from the frontier side by side (in secure builds a guard
   * page, rounded up to 64 KiB, ends each); of a few, two must be
   * neighbours, or the case could not run (and that is a failure). */
  char *run[8];
  int at = -1;
  for (int i = 0; i < 8; i++) {
    run[i] = fl_malloc(MiB);
    if (at < 0 && i > 0 && run[i] >= run[i - 1] + MiB && run[i] <= run[i - 1] + MiB + 64 * 1024)
      at = i - 1;
  }
  CHECK(at >= 0);
  if (at >= 0) {
    fl_free(run[at + 1]);
    run[at + 1] = NULL;
    fill(run[at], MiB, 5);
    CHECK(fl_realloc(run[at], 2 * MiB) == run[at] && verify(run[at], MiB, 5));
  }
  for (int i = 0; i < 8; i++)
    fl_free(run[i]);
  /* Shrinking a large block keeps it in place. */
  char *s = fl_realloc(g, 3 * MiB);
  CHECK(s == g && verify(s, MiB, 9));
  /* A block followed by a live block must move to grow, keeping contents. */
  char *x = fl_malloc(MiB);
  char *fence = fl_malloc(MiB);
  fill(x, MiB, 4);
  char *y = fl_realloc(x, 4 * MiB);
  CHECK(y != NULL && y != x && verify(y, MiB, 4));
  fl_free(y);
  fl_free(fence);
  fl_free(s);
  CHECK(fl_heap_check() == 0);
}

/* One alignment and size: 0 when both calls give a block aligned and big enough. */
static int aligned_pair_bad(size_t align, size_t size) {
  int bad = 0;
  void *p = fl_aligned_alloc(align, size);
  if (p == NULL || ((uintptr_t)p & (align - 1)) != 0 || fl_usable_size(p) < size)
    bad = 1;
  else
    memset(p, 1, size);
  fl_free(p);
  void *q = NULL;
  if (align >= sizeof(void *) &&
      (fl_posix_memalign(&q, align, size) != 0 || q == NULL || ((uintptr_t)q & (align - 1)) != 0))
    bad = 1;
  fl_free(q);
  if (bad) fprintf(stderr, "alignment: align %zu, size %zu failed\n", align, size);
  return bad;
}

TEST(alignment) {
  /* Every power of two up to 64 MiB with five sizes: one check, not one per
   * pair, so that the total counts what is tested. */
  int bad = 0;
  for (size_t align = 1; align <= 64 * MiB; align <<= 1) {
    static const size_t sizes[] = {1, 24, 1000, 70000, 3 * MiB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
      bad += aligned_pair_bad(align, sizes[i]);
  }
  CHECK(bad == 0);
  errno = 0;
  CHECK(fl_aligned_alloc(24, 100) == NULL && errno == EINVAL);
  errno = 0;
  CHECK(fl_aligned_alloc(0, 100) == NULL && errno == EINVAL);
  void *q = (void *)1;
  CHECK(fl_posix_memalign(&q, 24, 100) == EINVAL && q == (void *)1);
  CHECK(fl_posix_memalign(&q, 0, 100) == EINVAL);
  CHECK(fl_posix_memalign(&q, 4, 100) == EINVAL); /* not a multiple of sizeof(void*) */
  CHECK(fl_posix_memalign(&q, 64, SIZE_MAX - 100) == ENOMEM && q == (void *)1);
  CHECK(fl_heap_check() == 0);
}

/* Threads of this process named as faultless names its warmers. */
static int warmer_threads(void) {
  DIR *d = opendir("/proc/self/task");
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    char path[300], comm[32] = "";
    snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    if (fgets(comm, sizeof comm, f) && strcmp(comm, "faultless-warm\n") == 0) n++;
    fclose(f);
  }
  closedir(d);
  return n;
}

TEST(prefault_and_stats) {
  fl_stats_t before = stats();
  CHECK(before.version == FL_STATS_VERSION && before.size == sizeof before);
  CHECK(before.reserved > 0 && before.budget > 0);
  /* More than the default start-up PREFAULT (64M), which is warming now. */
  CHECK(fl_prefault(96 * MiB) == 0);
  CHECK(fl_prefault_wait(20000) == 0);
  fl_stats_t a = stats();
  CHECK(a.warmed_by_warmers >= before.warmed_by_warmers);
  CHECK(a.warm >= 96 * MiB);
  CHECK(a.prefault_target >= 96 * MiB);
  /* The same request again warms nothing new. */
  CHECK(fl_prefault(96 * MiB) == 0);
  CHECK(fl_prefault_wait(20000) == 0);
  fl_stats_t b = stats();
  CHECK(b.warmed_by_warmers == a.warmed_by_warmers);
  /* A larger one extends. */
  CHECK(fl_prefault(160 * MiB) == 0);
  /* The warmers that serve it carry their name, which ps and programs that
   * count their own threads' faults go by. */
  int named = 0, done = 0;
  while (!(named = warmer_threads()) && !(done = fl_prefault_wait(1) == 0)) {
  }
  if (named == 0 && done)
    SKIP("api", "(warmer name: the warming ended before the threads were listed)");
  else
    CHECK(named > 0);
  CHECK(fl_prefault_wait(-1) == 0);
  fl_stats_t c = stats();
  CHECK(c.warmed_by_warmers > b.warmed_by_warmers);
  CHECK(c.warmer_ns > 0);
  /* Wall time while warmers ran: it grew with this warming, and no warmer
   * ran longer than all of them together did. */
  CHECK(c.warming_ns > b.warming_ns);
  CHECK(c.warming_ns - b.warming_ns >= (c.warmer_ns - b.warmer_ns) / (uint64_t)get_nprocs());
  /* Memory the warmers warmed is handed out without faults. */
  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  void *p = fl_malloc(8 * MiB);
  memset(p, 1, 8 * MiB);
  getrusage(RUSAGE_SELF, &r1);
  fl_stats_t d = stats();
  CHECK(d.faults_avoided > c.faults_avoided);
#ifndef FL_SANITIZE
  CHECK(r1.ru_minflt - r0.ru_minflt < 8); /* 2048 pages, not one fault each */
#else
  (void)r0, (void)r1;
  SKIP("api", "the page-fault count: sanitizer shadow memory faults on its own");
#endif
  CHECK(d.in_use >= 8 * MiB && d.peak_in_use >= d.in_use);
  fl_free(p);
  CHECK(stats().in_use < d.in_use);
}

TEST(stats_versioning) {
  CHECK(fl_stats_get(NULL) == EINVAL);
  fl_stats_t small = {.size = 4};
  CHECK(fl_stats_get(&small) == EINVAL);
  /* An older, shorter struct gets only its own fields. */
  struct {
    fl_stats_t st;
    uint64_t guard;
  } s;
  memset(&s, 0x5a, sizeof s);
  s.st.size = offsetof(fl_stats_t, warm);
  CHECK(fl_stats_get(&s.st) == 0);
  CHECK(s.st.reserved > 0);
  uint64_t pattern;
  memset(&pattern, 0x5a, sizeof pattern);
  CHECK(s.st.warm == pattern && s.guard == pattern);

  char buf[4096];
  FILE *f = fmemopen(buf, sizeof buf, "w");
  fl_stats_print(f);
  fclose(f);
  CHECK(strstr(buf, "reserved") && strstr(buf, "faults_avoided") && strstr(buf, "budget_source"));
  f = fmemopen(buf, sizeof buf, "w");
  fl_stats_print_json(f);
  fclose(f);
  CHECK(buf[0] == '{' && strstr(buf, "\"warmed_by_warmers\": ") && strstr(buf, "}\n"));
}

TEST(options) {
  CHECK(fl_option_set("RELEASE", "250ms") == 0 && fl_option_get("RELEASE") == 250);
  CHECK(fl_option_set("faultless_release", "2s") == 0 && fl_option_get("release") == 2000);
  CHECK(fl_option_set("RELEASE", "never") == 0 && fl_option_get("RELEASE") == -1);
  CHECK(fl_option_set("RELEASE", "soon") == EINVAL && fl_option_get("RELEASE") == -1);
  CHECK(fl_option_set("BUDGET", "1.5G") == 0 && fl_option_get("BUDGET") == 1536ll * MiB);
  CHECK(fl_option_set("BUDGET", "12 parsecs") == EINVAL);
  CHECK(fl_option_get("BUDGET") == 1536ll * MiB);
  CHECK(fl_option_set("WARMERS", "auto") == 0 && fl_option_get("WARMERS") == -1);
  CHECK(fl_option_set("WARMERS", "3") == 0 && fl_option_get("WARMERS") == 3);
  CHECK(fl_option_set("WARMERS", "-3") == EINVAL);
  CHECK(fl_option_set("THP", "maybe") == EINVAL);
  CHECK(fl_option_set("THP", "0") == 0 && fl_option_get("THP") == 0);
  CHECK(fl_option_set("VERBOSE", "0") == 0);
  CHECK(fl_option_set("STATS", "json") == 0 && fl_option_get("STATS") == 2);
  CHECK(fl_option_set("STATS", "0") == 0);
  CHECK(fl_option_set("WARM_METHOD", "touch") == 0 && fl_option_get("WARM_METHOD") == 1);
  CHECK(fl_option_set("WARM_METHOD", "populate") == 0);
  CHECK(fl_option_set("PREFAULT", "10%") == 0);
  CHECK(fl_option_set("PREFAULT", "150%") == EINVAL);
  CHECK(fl_option_set("PREFAULT", "0") == 0 && fl_option_get("PREFAULT") == 0);
  CHECK(fl_option_set("RESERVE", "1K") == EINVAL);
  CHECK(fl_option_set("PREFAULT_PID", "12x") == EINVAL);
  CHECK(fl_option_set("PREFAULT_PID", "0") == EINVAL);
  CHECK(fl_option_set("PREFAULT_PID", "4242") == 0 && fl_option_get("PREFAULT_PID") == 4242);
  CHECK(fl_option_set("PREFAULT_PID", "any") == 0 && fl_option_get("PREFAULT_PID") == -1);
  CHECK(fl_option_set("NO_SUCH_OPTION", "1") == ENOENT);
  CHECK(fl_option_get("NO_SUCH_OPTION") == -2);
  CHECK(fl_option_set("HEADROOM", "64M") == 0 && fl_option_get("HEADROOM") == 64ll * MiB);
}

TEST(release) {
  char *p = fl_malloc(4 * MiB);
  memset(p, 0x77, 4 * MiB);
  fl_free(p);
  fl_stats_t a = stats();
  size_t n = fl_release();
  CHECK(n >= 4 * MiB);
  fl_stats_t b = stats();
  CHECK(b.released >= a.released + n);
  /* Released memory is populated again on reuse, and reads as zero. */
  unsigned char *z = fl_calloc(1, 4 * MiB);
  CHECK(z != NULL && all_zero(z, 4 * MiB));
  fl_free(z);
  CHECK(fl_heap_check() == 0);
}

/* --- Threads ------------------------------------------------------------- */

static void *thread_alloc(void *arg) {
  void **out = arg;
  for (int i = 0; i < 1000; i++)
    out[i] = fl_malloc(16 + (size_t)i % 300);
  for (int i = 0; i < 1000; i++)
    fill(out[i], 16, (unsigned)i);
  return NULL;
}

static void *thread_noop_alloc(void *arg) {
  void *p = fl_malloc(64);
  fl_free(p);
  return NULL;
}

TEST(remote_free_and_heap_reuse) {
  static void *blocks[1000];
  pthread_t t;
  pthread_create(&t, NULL, thread_alloc, blocks);
  pthread_join(t, NULL); /* the owner has exited: its heap is abandoned */
  int ok = 1;
  for (int i = 0; i < 1000; i++)
    ok &= verify(blocks[i], 16, (unsigned)i);
  CHECK(ok);
  for (int i = 0; i < 1000; i++)
    fl_free(blocks[i]); /* remote frees */
  fl_stats_t a = stats();
  pthread_create(&t, NULL, thread_noop_alloc, NULL);
  pthread_join(t, NULL);
  fl_stats_t b = stats();
  CHECK(b.heaps_reused > a.heaps_reused); /* the new thread adopted a heap */
  CHECK(b.heaps == a.heaps);
  CHECK(fl_heap_check() == 0);
}

/* Remote frees into a span that still has free blocks wait, announced, until
 * its free list runs out; then they are handed out again. Also at thread exit,
 * where the owner takes them all. */
enum { HELD_N = 200 };
static void **held_blocks;

static void *free_held_blocks(void *arg) {
  for (int i = 0; i < HELD_N; i++)
    fl_free(held_blocks[i]); /* remote: the main thread owns them */
  return NULL;
}

/* Allocate 64-byte blocks until every one of held_blocks came back, or far
 * more than the spans they came from hold. */
static int held_blocks_come_back(void) {
  enum { TRIES = 8192 };
  static void *got[TRIES];
  int back = 0, n = 0;
  while (back < HELD_N && n < TRIES) {
    got[n] = fl_malloc(64);
    for (int i = 0; i < HELD_N; i++)
      if (got[n] == held_blocks[i]) back++;
    n++;
  }
  for (int i = 0; i < n; i++)
    fl_free(got[i]);
  return back;
}

/* Run malloc's slow path, which collects remote frees: a span of 40000-byte
 * blocks holds fewer than 32 of them. */
static void slow_path(void) {
  void *p[32];
  for (int i = 0; i < 32; i++)
    p[i] = fl_malloc(40000);
  for (int i = 0; i < 32; i++)
    fl_free(p[i]);
}

/* Allocate 2 * HELD_N blocks into `blocks`; another thread frees the first
 * half, this one the second half (so the span has free blocks); then a slow
 * path collects the remote frees, which leaves the span held. */
static void hold_remote_frees(void **blocks) {
  for (int i = 0; i < 2 * HELD_N; i++)
    blocks[i] = fl_malloc(64);
  held_blocks = blocks;
  pthread_t t;
  pthread_create(&t, NULL, free_held_blocks, NULL);
  pthread_join(t, NULL);
  for (int i = HELD_N; i < 2 * HELD_N; i++)
    fl_free(blocks[i]);
  slow_path();
}

static void *held_then_exit(void *arg) {
  static void *mine[2 * HELD_N];
  hold_remote_frees(mine);
  return NULL; /* exits with the span held */
}

TEST(remote_frees_held_until_needed) {
  static void *blocks[2 * HELD_N];
  hold_remote_frees(blocks);
  pthread_t t;
  CHECK(fl_heap_check() == 0);
  CHECK(held_blocks_come_back() == HELD_N);
  CHECK(fl_heap_check() == 0);

  pthread_create(&t, NULL, held_then_exit, NULL);
  pthread_join(t, NULL);
  CHECK(fl_heap_check() == 0); /* checks the abandoned heap too */
}

/* Spans whose blocks all came back as remote frees while they were held are
 * empty: the owner's sweep gives them back to the arena. */
enum { SWEPT_N = 64 * 1024 };
static void *swept[SWEPT_N];
static int swept_phase;

static void *free_swept(void *arg) {
  for (int i = 0; i < SWEPT_N; i++)
    if ((swept_phase == 0) == (i % 512 == 0)) fl_free(swept[i]);
  return NULL;
}

TEST(held_spans_given_back_when_empty) {
  size_t before = stats().in_use;
  for (int i = 0; i < SWEPT_N; i++)
    swept[i] = fl_malloc(64); /* 4 MiB: 64 spans */
  pthread_t t;
  pthread_create(&t, NULL, free_swept, NULL); /* one block of each span */
  pthread_join(t, NULL);
  slow_path(); /* takes those (the spans were full), so the spans have free blocks */
  swept_phase = 1;
  pthread_create(&t, NULL, free_swept, NULL); /* the rest: the spans are held */
  pthread_join(t, NULL);
  /* A sweep every 256 slow paths looks at a few of the 48 size classes, from
   * where the last one stopped: give the sweeps time to go round them all. */
  for (int i = 0; i < 300 * 48 && stats().in_use >= before + 1024 * 1024; i++)
    slow_path();
  CHECK(stats().in_use < before + 1024 * 1024);
  CHECK(fl_heap_check() == 0);
}

static void *thread_spin_alloc(void *arg) {
  atomic_int *stop = arg;
  while (!atomic_load(stop))
    fl_free(fl_malloc(100));
  return NULL;
}

TEST(fork_while_threads_allocate) {
  static atomic_int stop;
  pthread_t t;
  fflush(stdout);
  pthread_create(&t, NULL, thread_spin_alloc, &stop);
  int good = 0;
  for (int i = 0; i < 20; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      void *p[100];
      for (int j = 0; j < 100; j++)
        p[j] = fl_malloc((size_t)j * 1000 + 1);
      for (int j = 0; j < 100; j++)
        fl_free(p[j]);
      void *big = fl_malloc(8 * MiB);
      memset(big, 1, 8 * MiB);
      fl_free(big);
      _exit(fl_heap_check() == 0 ? 0 : 3);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    good += WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  atomic_store(&stop, 1);
  pthread_join(t, NULL);
  CHECK(good == 20);
}

/* --- Invalid frees stop the process with one line --------------------------- */

static void double_free_small(void *a) {
  void *p = fl_malloc(40);
  fl_free(p);
  fl_free(p);
}
static void double_free_large(void *a) {
  void *p = fl_malloc(3 * MiB);
  fl_free(p);
  fl_free(p);
}
static void interior_small(void *a) {
  char *p = fl_malloc(64);
  fl_free(p + 16);
}
static void interior_large(void *a) {
  char *p = fl_malloc(MiB);
  fl_free(p + 4096);
}
static void double_free_far(void *a) {
  char *keep[16], *p = far_block(keep, 16);
  if (!p) _exit(3);
  fl_free(p);
  fl_free(p);
}
static void interior_far(void *a) {
  char *keep[16], *p = far_block(keep, 16);
  if (!p) _exit(3);
  fl_free(p + 16);
}
/* 7,000 bytes: blocks of 7 KiB, nine to a one-slice span. A malloc that
 * makes a new span carves a page's worth of blocks there (at least one) and
 * hands out the first: the block after them was never handed out. The page
 * is the test builds' pretended one when FAULTLESS_TEST_PAGE_SIZE sets it. */
static void uncarved_small(void *a) {
  char *p = new_span_block(7000, NULL, 0);
  if (!p) _exit(3);
  const char *pretend = getenv("FAULTLESS_TEST_PAGE_SIZE");
  size_t page = pretend ? strtoul(pretend, NULL, 0) : (size_t)sysconf(_SC_PAGESIZE);
  size_t bsize = fl_usable_size(p), carved = page > bsize ? page / bsize : 1;
  /* Clear what a block's tag would be: a stale one, left by a free block
   * of an earlier span there, would stop the free as a double free. */
  char *next = p + carved * bsize;
  memset(next, 0, 16);
  fl_free(next);
}
/* The block at the start of a new span of 64-byte blocks: held back by the
 * class's color, it carries the free tag until the span is carved. */
static void held_back_small(void *a) {
  char *p = new_span_block(64, NULL, 0);
  if (!p) _exit(3);
  fl_free((void *)((uintptr_t)p & ~(uintptr_t)0xffff));
}
/* The block after a new span's first one (64-byte blocks): carved with
 * it, never handed out, it carries the free tag. */
static void carved_unused_small(void *a) {
  char *p = new_span_block(64, NULL, 0);
  if (!p || ((uintptr_t)p & 0xffff) + 2 * 64 > 4096) _exit(3); /* the first carve: to 4 KiB */
  fl_free(p + 64);
}
static void foreign_pointer(void *a) {
  int local;
  fl_free(&local);
}
static void realloc_freed(void *a) {
  void *p = fl_malloc(100);
  fl_free(p);
  fl_realloc(p, 200);
}
static void *free_in_thread(void *p) {
  fl_free(p);
  return NULL;
}
static void remote_double_free(void *a) {
  void *p = fl_malloc(48);
  pthread_t t;
  fl_free(p);
  /* the second free comes from another thread */
  pthread_create(&t, NULL, free_in_thread, p);
  pthread_join(t, NULL);
}

#ifdef FL_SECURE
static void overwrite_free_link(void *a) {
  void **p = fl_malloc(64);
  void **q = fl_malloc(64);
  fl_free(q);
  fl_free(p);
  int local;
  /* A use-after-free write of a plain pointer into both free blocks' links. */
  p[0] = &local;
  q[0] = &local;
  for (int i = 0; i < 4; i++)
    fl_malloc(64);
}
static void overflow_into_guard(void *a) {
  char *p = fl_malloc(3 * MiB);
  size_t n = fl_usable_size(p);
  memset(p, 1, n + 4096); /* a linear overflow past the block */
}
#endif
#ifdef FL_DEBUG
static void write_after_free(void *a) {
  char *p = fl_malloc(256);
  fl_free(p);
  p[100] = 7;
  fl_malloc(256);
}
#endif

TEST(hardening) {
#ifdef FL_SECURE
  CHECK(dies_with(overwrite_free_link, NULL, "malloc", "corrupted free list"));
  /* The guard page turns the overflow into a fault at once. */
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    overflow_into_guard(NULL);
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
#endif
#ifdef FL_DEBUG
  CHECK(dies_with(write_after_free, NULL, "malloc", "written after it was freed"));
#endif
#if !defined(FL_SECURE) && !defined(FL_DEBUG)
  printf("api: hardening checks run in the SECURE=1 and DEBUG=1 builds (make test-hardened)\n");
#endif
}

TEST(invalid_frees_abort) {
  CHECK(dies_with(double_free_small, NULL, "free", "double free"));
  CHECK(dies_with(double_free_large, NULL, "free", "already freed"));
  CHECK(dies_with(interior_small, NULL, "free", "inside a block"));
  CHECK(dies_with(interior_large, NULL, "free", "inside a block"));
  CHECK(dies_with(double_free_far, NULL, "free", "double free"));
  CHECK(dies_with(interior_far, NULL, "free", "inside a block"));
  CHECK(dies_with(uncarved_small, NULL, "free", "never handed out"));
  CHECK(dies_with(held_back_small, NULL, "free", "never handed out"));
  CHECK(dies_with(carved_unused_small, NULL, "free", "double free"));
  CHECK(dies_with(foreign_pointer, NULL, "free", "never handed out"));
  CHECK(dies_with(realloc_freed, NULL, "realloc", "double free"));
  CHECK(dies_with(remote_double_free, NULL, "free", "double free"));
}

int main(void) {
  /* First, while the arena is fresh: these look at the frontier. */
  RUN(prefault_and_stats);
  RUN(realloc_in_place_and_moving);
  RUN(malloc_sizes);
  RUN(distinct_blocks);
  RUN(a_colored_span_hands_out_every_block);
  RUN(blocks_past_a_spans_first_slice);
  RUN(bad_sizes);
  RUN(calloc_zeroes_reused_memory);
  RUN(alignment);
  RUN(stats_versioning);
  RUN(release);
  RUN(remote_free_and_heap_reuse);
  RUN(remote_frees_held_until_needed);
  RUN(held_spans_given_back_when_empty);
  RUN(fork_while_threads_allocate);
  RUN(invalid_frees_abort);
  RUN(hardening);
  RUN(options); /* last: it changes options for the rest of the process */
  return test_report("api");
}
