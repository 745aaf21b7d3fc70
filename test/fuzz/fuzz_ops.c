// SPDX-License-Identifier: MIT
/* libFuzzer harness: the input is a sequence of allocator operations, split
 * between two threads, checked against a shadow model.
 *
 * Input: records of RECORD bytes, a trailing partial record is ignored.
 *   byte 0  bit 7: which thread runs it; bits 0-6 mod OP_COUNT: the operation
 *   byte 1  bits 0-4: slot in that thread's table of live blocks; bit 7: for an
 *           aligned allocation, posix_memalign instead of aligned_alloc
 *   byte 2  operation argument: calloc's count, aligned allocation's alignment,
 *           whether a CHECK record checks (when it is a multiple of 8)
 *   byte 3-4 size: bits 13-15 of the little-endian word pick the scale,
 *           bits 0-12 the value (see decode_size)
 * test/fuzz/make_corpus.py writes inputs in this format.
 *
 * The model: every live block is filled over its whole usable size (for large
 * blocks: the first 64 KiB and both edges of every page) with a pattern
 * derived from a fresh id, and verified before it is freed, moved by
 * realloc or rewritten (realloc must keep the prefix). Every live block's
 * [p, p + usable) is in one sorted interval set shared by both threads; an
 * insert that overlaps a neighbour is a failure. Blocks are 16-byte aligned
 * and aligned as asked, usable >= requested, calloc memory reads zero. A
 * handoff slot lets blocks move between the threads, so frees, reallocs and
 * usable-size calls also happen on the thread that does not own the block.
 * fl_heap_check() runs on a CHECK record, at the end of each thread's stream
 * and after each input. PREFAULT and RELEASE records call fl_prefault and
 * fl_release, so warmers and released memory meet the allocations. Any failure prints one line and
 * aborts. */
#include "faultless.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECORD 5
#define SLOTS 32
#define THREADS 2
#define MAX_LIVE (THREADS * SLOTS + 1)

enum {
  OP_MALLOC,
  OP_CALLOC,
  OP_REALLOC,
  OP_ALIGNED,
  OP_FREE,
  OP_USABLE,
  OP_HANDOFF,
  OP_REWRITE,
  OP_CHECK,
  OP_PREFAULT,
  OP_RELEASE,
  OP_COUNT
};

typedef struct block_s {
  unsigned char *p; /* NULL: slot empty */
  size_t req;       /* bytes asked for */
  size_t usable;    /* fl_usable_size when it was made */
  size_t align;     /* alignment asked for */
  uint64_t id;      /* pattern seed */
} block_t;

/* --- Failures ----------------------------------------------------------- */

static _Noreturn __attribute__((format(printf, 1, 2))) void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "fuzz_ops: FAILED: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  abort();
}

/* --- Patterns ----------------------------------------------------------- */

static _Atomic uint64_t next_id = 1;

/* The bytes of a block the model writes and checks: all of the first DENSE,
 * then the first and last EDGE bytes of every 4 KiB page. Large blocks stay
 * cheap, every page of them is still written, and the set does not depend on
 * the block's length, so a realloc'd prefix is checked against the same set. */
#define DENSE ((size_t)64 * 1024)
#define PAGE ((size_t)4096)
#define EDGE ((size_t)64)

/* Word i (at offset 8 * i) of id's pattern is seed(id) + i * STEP. */
#define STEP 0xD6E8FEB86659FD93ull
static inline uint64_t pattern_seed(uint64_t id) {
  uint64_t x = id * 0x9E3779B97F4A7C15ull;
  return x ^ (x >> 31);
}

typedef enum { FILL, CHECK_PATTERN, CHECK_ZERO } walk_t;

/* Block memory is not ASan-tracked (faultless maps it itself), and these loops
 * run over many bytes: instrumenting them would only slow the fuzzer down. */
#define HOT __attribute__((no_sanitize("address", "coverage")))

/* Fill [lo, hi) with id's pattern, or return the offset of its first byte
 * that differs from the pattern (or from zero); SIZE_MAX when none does.
 * pre: lo is a multiple of 8. */
HOT static size_t walk_range(walk_t what, unsigned char *p, size_t lo, size_t hi, uint64_t id) {
  size_t end = hi & ~(size_t)7;
  uint64_t *w = (uint64_t *)p;
  uint64_t v = what == CHECK_ZERO ? 0 : pattern_seed(id) + (lo / 8) * STEP;
  uint64_t step = what == CHECK_ZERO ? 0 : STEP;
  size_t i = lo / 8;
  if (what == FILL) {
    for (; i < end / 8; i++, v += step)
      w[i] = v;
    for (size_t j = end; j < hi; j++)
      p[j] = (unsigned char)(v >> (8 * (j - end)));
    return SIZE_MAX;
  }
  for (; i < end / 8; i++, v += step)
    if (w[i] != v) return i * 8 + (size_t)__builtin_ctzll(w[i] ^ v) / 8;
  for (size_t j = end; j < hi; j++)
    if (p[j] != (unsigned char)(v >> (8 * (j - end)))) return j;
  return SIZE_MAX;
}

/* The model's bytes of [0, n): see DENSE. */
static size_t walk(walk_t what, unsigned char *p, size_t n, uint64_t id) {
  size_t off = walk_range(what, p, 0, n < DENSE ? n : DENSE, id);
  for (size_t page = DENSE; page < n && off == SIZE_MAX; page += PAGE) {
    off = walk_range(what, p, page, n < page + EDGE ? n : page + EDGE, id);
    if (off == SIZE_MAX && page + PAGE - EDGE < n)
      off = walk_range(what, p, page + PAGE - EDGE, n < page + PAGE ? n : page + PAGE, id);
  }
  return off;
}

static void fill(unsigned char *p, size_t n, uint64_t id) {
  walk(FILL, p, n, id);
}

static void verify(const block_t *b, size_t n, const char *when) {
  size_t off = walk(CHECK_PATTERN, b->p, n, b->id);
  if (off != SIZE_MAX)
    fail("%s: block %p (id %" PRIu64 ", %zu bytes asked, %zu usable) changed at offset %zu", when,
         (void *)b->p, b->id, b->req, b->usable, off);
}

/* --- The interval set of live blocks ------------------------------------ */

typedef struct range_s {
  uintptr_t lo, hi;
} range_t;

static range_t live[MAX_LIVE];
static size_t nlive;
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;

/* The first index whose lo is >= lo. pre: live_lock held. */
static size_t live_find(uintptr_t lo) {
  size_t a = 0, b = nlive;
  while (a < b) {
    size_t m = (a + b) / 2;
    if (live[m].lo < lo)
      a = m + 1;
    else
      b = m;
  }
  return a;
}

static void live_insert(const block_t *b) {
  uintptr_t lo = (uintptr_t)b->p, hi = lo + (b->usable ? b->usable : 1);
  pthread_mutex_lock(&live_lock);
  size_t i = live_find(lo);
  if (nlive == MAX_LIVE) fail("more than %d live blocks in the model", MAX_LIVE);
  if (i > 0 && live[i - 1].hi > lo)
    fail("block [%#" PRIxPTR ", %#" PRIxPTR ") overlaps live block [%#" PRIxPTR ", %#" PRIxPTR ")",
         lo, hi, live[i - 1].lo, live[i - 1].hi);
  if (i < nlive && live[i].lo < hi)
    fail("block [%#" PRIxPTR ", %#" PRIxPTR ") overlaps live block [%#" PRIxPTR ", %#" PRIxPTR ")",
         lo, hi, live[i].lo, live[i].hi);
  memmove(&live[i + 1], &live[i], (nlive - i) * sizeof live[0]);
  live[i] = (range_t){lo, hi};
  nlive++;
  pthread_mutex_unlock(&live_lock);
}

/* Called before the block goes back to faultless, so that the other thread
 * may be handed the same memory at once. */
static void live_remove(const block_t *b) {
  uintptr_t lo = (uintptr_t)b->p;
  pthread_mutex_lock(&live_lock);
  size_t i = live_find(lo);
  if (i == nlive || live[i].lo != lo) fail("model: block %p is not in the live set", (void *)b->p);
  memmove(&live[i], &live[i + 1], (nlive - i - 1) * sizeof live[0]);
  nlive--;
  pthread_mutex_unlock(&live_lock);
}

/* --- Blocks ------------------------------------------------------------- */

/* Check a block faultless just handed out, then record and fill it. */
static void adopt(block_t *b, const char *call, size_t req, size_t align) {
  uintptr_t a = (uintptr_t)b->p;
  if (a % 16) fail("%s(%zu): %p is not 16-byte aligned", call, req, (void *)b->p);
  if (a % align) fail("%s(%zu): %p is not aligned to %zu", call, req, (void *)b->p, align);
  b->req = req;
  b->align = align;
  b->usable = fl_usable_size(b->p);
  if (b->usable < req)
    fail("%s(%zu): %p has only %zu usable bytes", call, req, (void *)b->p, b->usable);
  b->id = atomic_fetch_add(&next_id, 1);
  live_insert(b);
}

static void release(block_t *b) {
  if (!b->p) return;
  verify(b, b->usable, "before free");
  live_remove(b);
  fl_free(b->p);
  b->p = NULL;
}

/* A requested size: half the time up to 1 KiB, now and then up to 2 MiB, so
 * that a run covers every size class, large spans and their in-place growth,
 * and stays fast. */
static size_t decode_size(const uint8_t *r) {
  unsigned word = (unsigned)r[3] | (unsigned)r[4] << 8;
  unsigned v = word & 0x1fff;
  switch (word >> 13) {
  case 0:
  case 1:
  case 2:
  case 3:
    return v & 0x3ff; /* up to 1 KiB */
  case 4:
  case 5:
    return v; /* up to 8 KiB */
  case 6:
    return (size_t)v * 32; /* up to 256 KiB: the largest classes, small large blocks */
  default:
    return (size_t)v * 256; /* up to 2 MiB */
  }
}

/* An alignment: mostly 1 B to 64 KiB, a quarter of the time 128 KiB to 8 MiB
 * (larger than a slice, larger than a chunk). */
static size_t decode_align(uint8_t arg) {
  unsigned shift = arg < 192 ? arg % 17 : 17 + arg % 7;
  return (size_t)1 << shift;
}

/* --- The two threads ---------------------------------------------------- */

typedef struct stream_s {
  const uint8_t *data;
  size_t size;
  unsigned thread;
  block_t slots[SLOTS];
} stream_t;

static block_t handoff;
static pthread_mutex_t handoff_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start_line;

static void heap_check(const char *when) {
  int rc = fl_heap_check();
  if (rc != 0) fail("fl_heap_check() returned %d %s", rc, when);
}

static void run_record(stream_t *st, const uint8_t *r) {
  block_t *b = &st->slots[(r[1] & 0x7f) % SLOTS];
  size_t size = decode_size(r);
  switch ((r[0] & 0x7f) % OP_COUNT) {
  case OP_MALLOC:
    release(b);
    b->p = fl_malloc(size);
    if (!b->p) {
      if (size) fail("malloc(%zu) returned NULL", size);
      break;
    }
    adopt(b, "malloc", size, 16);
    fill(b->p, b->usable, b->id);
    break;
  case OP_CALLOC: {
    release(b);
    size_t count = (size_t)r[2] % 8 + 1, each = size / count;
    b->p = fl_calloc(count, each);
    if (!b->p) {
      if (count * each) fail("calloc(%zu, %zu) returned NULL", count, each);
      break;
    }
    adopt(b, "calloc", count * each, 16);
    size_t off = walk(CHECK_ZERO, b->p, count * each, 0);
    if (off != SIZE_MAX)
      fail("calloc(%zu, %zu) = %p: byte %zu is not zero", count, each, (void *)b->p, off);
    fill(b->p, b->usable, b->id);
    break;
  }
  case OP_REALLOC: {
    block_t old = *b;
    if (old.p) {
      verify(&old, old.usable, "before realloc");
      live_remove(&old);
    }
    b->p = fl_realloc(old.p, size);
    if (!b->p) {
      if (size) fail("realloc(%p, %zu) returned NULL", (void *)old.p, size);
      break; /* realloc(p, 0) frees p and may return NULL */
    }
    adopt(b, "realloc", size, 16);
    if (old.p) {
      /* Everything the old block could hold, up to the new size, moves. */
      block_t moved = *b;
      moved.id = old.id;
      verify(&moved, old.usable < size ? old.usable : size, "after realloc");
    }
    fill(b->p, b->usable, b->id);
    break;
  }
  case OP_ALIGNED: {
    release(b);
    size_t align = decode_align(r[2]);
    const char *call;
    if (r[1] & 0x80) {
      call = "posix_memalign";
      if (align < sizeof(void *)) align = sizeof(void *);
      void *p = NULL;
      int rc = fl_posix_memalign(&p, align, size);
      if (rc != 0) fail("posix_memalign(%zu, %zu) returned %d", align, size, rc);
      b->p = p;
    } else {
      call = "aligned_alloc";
      b->p = fl_aligned_alloc(align, size);
    }
    if (!b->p) {
      if (size) fail("%s(%zu, %zu) returned NULL", call, align, size);
      break;
    }
    adopt(b, call, size, align);
    fill(b->p, b->usable, b->id);
    break;
  }
  case OP_FREE:
    release(b);
    break;
  case OP_USABLE:
    if (b->p) {
      size_t n = fl_usable_size(b->p);
      if (n != b->usable)
        fail("usable_size(%p) = %zu, was %zu (%zu asked)", (void *)b->p, n, b->usable, b->req);
    }
    if (fl_usable_size(NULL) != 0) fail("usable_size(NULL) is not 0");
    break;
  case OP_HANDOFF: {
    /* Swap with the shared slot: the other thread may free or realloc it. */
    pthread_mutex_lock(&handoff_lock);
    block_t t = handoff;
    handoff = *b;
    *b = t;
    pthread_mutex_unlock(&handoff_lock);
    break;
  }
  case OP_REWRITE:
    if (b->p) {
      verify(b, b->usable, "before rewrite");
      b->id = atomic_fetch_add(&next_id, 1);
      fill(b->p, b->usable, b->id);
    }
    break;
  case OP_CHECK:
    /* Walking the heap costs more than most inputs: one CHECK in eight. */
    if (r[2] % 8 == 0) heap_check("on a CHECK record");
    break;
  case OP_PREFAULT:
    /* Warmers populate chunks while both threads allocate from them. */
    if (fl_prefault(size) != 0) fail("prefault(%zu) failed", size);
    break;
  case OP_RELEASE:
    /* Free warm memory goes back to the OS; blocks made from it later must
     * still work, and calloc must still read zero. */
    if (r[2] % 4 == 0) fl_release();
    break;
  }
}

static void *stream_main(void *arg) {
  stream_t *st = arg;
  pthread_barrier_wait(&start_line);
  for (size_t i = 0; i + RECORD <= st->size; i += RECORD) {
    const uint8_t *r = st->data + i;
    if ((r[0] >> 7) == st->thread) run_record(st, r);
  }
  heap_check("at the end of a thread's stream");
  return NULL;
}

/* --- libFuzzer entry points --------------------------------------------- */

/* Options must be in the environment before faultless initialises, which its
 * own constructor does: this one runs earlier. Values already set win. */
__attribute__((constructor(101))) static void fuzz_options(void) {
  setenv("FAULTLESS_PREFAULT", "0", 0); /* warming only on PREFAULT records */
  /* Small: inputs with many large blocks fill it and get OS blocks. */
  setenv("FAULTLESS_RESERVE", "64M", 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  pthread_barrier_init(&start_line, NULL, THREADS);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static stream_t streams[THREADS];
  pthread_t tid[THREADS];
  for (unsigned t = 0; t < THREADS; t++) {
    streams[t] = (stream_t){.data = data, .size = size, .thread = t};
    if (pthread_create(&tid[t], NULL, stream_main, &streams[t]) != 0) fail("pthread_create");
  }
  for (unsigned t = 0; t < THREADS; t++)
    pthread_join(tid[t], NULL);
  /* What the threads left is freed here, by a thread that owns none of it. */
  for (unsigned t = 0; t < THREADS; t++)
    for (size_t i = 0; i < SLOTS; i++)
      release(&streams[t].slots[i]);
  release(&handoff);
  if (nlive != 0) fail("model: %zu blocks still live after the input", nlive);
  heap_check("after the input");
  return 0;
}
