// SPDX-License-Identifier: MIT
/* faultless internals: types shared by the layers, and every _fl_ function,
 * grouped by the file that defines it.
 *
 * Glossary (DESIGN.md, at the top of the repository, explains each word and
 * the design around it; the code uses them in these senses):
 *   reservation  the one contiguous range of virtual addresses faultless owns;
 *                whether a pointer is ours is a range check.
 *   chunk        2 MiB, huge-page aligned: the unit of warming.
 *   slice        64 KiB: the unit of span bookkeeping; every slice of the
 *                reservation has a span descriptor in `spans[]`.
 *   warm / cold  backed by physical memory / reserved but never touched (or
 *                released back to the OS).
 *   warmer       a background thread at the lowest priority turning cold
 *                chunks warm, in address order, up to the prefault target.
 *   budget       how many bytes may be warm at once.
 *   frontier     the first slice never handed out; everything above it is
 *                fresh (reads as zero).
 *   span         a run of slices handed to one purpose: a size-class span of
 *                equal blocks, or one large block.
 *   size class   one of FL_CLASSES block sizes for blocks up to FL_SMALL_MAX.
 *   block        one allocation.
 *   heap         a thread's allocator state: its size-class spans.
 *   remote free  a block freed by a thread that does not own its heap; it is
 *                pushed onto its span's atomic remote list, and the span is
 *                announced to the owner heap, which collects it later.
 *   held span    an announced span whose owner still had free blocks in it:
 *                its remote list waits until those run out.
 *   outside      a block mapped straight from the OS because the reservation
 *                was full; tracked in a table so free() recognises it.
 *
 * Layers, each using only those below it:
 *   adapters/              page provider for jemalloc and mimalloc
 *   alloc.c / override.c   the public API and the malloc family; system.c
 *                          (PASSTHROUGH to the system allocator)
 *   heap.c                 size classes, thread heaps, remote frees
 *   span.c outside.c       slices to spans: free bins, frontier, release
 *   warm.c budget.c        reservation, chunk states, warmers, budget
 *   options.c stats.c      configuration and counters; parse.c (option
 *                          values, shared with the faultless command)
 *   prim/                  the OS
 */
#ifndef FL_INTERNAL_H
#define FL_INTERNAL_H

#include "faultless.h"
#include "prim/prim.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FL_LIKELY(x) __builtin_expect(!!(x), 1)
#define FL_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define FL_INTERNAL __attribute__((visibility("hidden")))
/* Built with ThreadSanitizer (GCC's and Clang's ways of saying so). */
#if defined(__SANITIZE_THREAD__)
#define FL_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FL_TSAN 1
#endif
#endif

#define FL_KiB ((size_t)1024)
#define FL_MiB (1024 * FL_KiB)
#define FL_GiB (1024 * FL_MiB)

#define FL_CHUNK_SHIFT 21
#define FL_CHUNK ((size_t)1 << FL_CHUNK_SHIFT)
#define FL_SLICE_SHIFT 16
#define FL_SLICE ((size_t)1 << FL_SLICE_SHIFT)
#define FL_SLICES_PER_CHUNK (FL_CHUNK / FL_SLICE)

#define FL_ALIGN 16                      /* alignment of every block */
#define FL_SMALL_MAX (128 * FL_KiB)      /* largest size-class block */
#define FL_CLASSES 49                    /* class 0 unused; 1..48 */
#define FL_MAX_ALLOC (((size_t)1 << 62)) /* anything above is ENOMEM at once */

static inline size_t _fl_align_up(size_t n, size_t a) {
  return (n + a - 1) & ~(a - 1);
}
static inline bool _fl_is_pow2(size_t n) {
  return n && !(n & (n - 1));
}

/* --- options.c ---------------------------------------------------------- */

#include "parse.h"

FL_INTERNAL void _fl_options_init(void);
FL_INTERNAL long long _fl_option(fl_option_t opt);
FL_INTERNAL bool _fl_option_is_set(fl_option_t opt);
FL_INTERNAL void _fl_options_print(void);
/* Format a message and write it to stderr prefixed with "faultless: ". */
FL_INTERNAL void _fl_message(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
FL_INTERNAL void _fl_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A fatal error about `ptr` in `call`: one line on stderr, then abort. */
FL_INTERNAL _Noreturn void _fl_fatal(const char *call, const void *ptr, const char *what);

/* --- stats.c ------------------------------------------------------------ */

#define FL_COUNTERS(X)                                                                             \
  X(warm)                                                                                          \
  X(in_use)                                                                                        \
  X(peak_in_use)                                                                                   \
  X(outside)                                                                                       \
  X(warmed_by_warmers)                                                                             \
  X(warmer_ns)                                                                                     \
  X(warming_ns)                                                                                    \
  X(populated_inline)                                                                              \
  X(faults_taken)                                                                                  \
  X(faults_avoided)                                                                                \
  X(released)                                                                                      \
  X(spans_small)                                                                                   \
  X(spans_large)                                                                                   \
  X(heaps)                                                                                         \
  X(heaps_reused)                                                                                  \
  X(snapshot_prepares)                                                                             \
  X(snapshot_released)                                                                             \
  X(snapshot_prepare_ns)                                                                           \
  X(snapshot_restores)

typedef struct fl_counters_s {
#define FL_COUNTER_FIELD(name) _Atomic uint64_t name;
  FL_COUNTERS(FL_COUNTER_FIELD)
#undef FL_COUNTER_FIELD
} fl_counters_t;

FL_INTERNAL extern fl_counters_t _fl_counters;
#define FL_STAT_ADD(name, n)                                                                       \
  atomic_fetch_add_explicit(&_fl_counters.name, (n), memory_order_relaxed)
#define FL_STAT_SUB(name, n)                                                                       \
  atomic_fetch_sub_explicit(&_fl_counters.name, (n), memory_order_relaxed)
FL_INTERNAL void _fl_stats_in_use_add(size_t bytes);
FL_INTERNAL void _fl_stats_in_use_sub(size_t bytes);
FL_INTERNAL void _fl_stats_at_exit(void);

/* --- budget.c ----------------------------------------------------------- */

typedef struct fl_budget_s {
  uint64_t limit;  /* smallest limit found, before headroom */
  uint64_t budget; /* limit less headroom */
  uint64_t headroom;
  fl_budget_source_t source;
  bool in_lambda;
  uint64_t lambda_bytes; /* function memory, when in Lambda */
} fl_budget_t;

/* Work out the budget from the option, the Lambda variable, the cgroup files
 * and /proc/meminfo, all read under `root` ("" for the real machine).
 * option_bytes / lambda_mb: 0 when unset. headroom_opt: FL_AUTO or bytes. */
FL_INTERNAL void _fl_budget_detect(const char *root, uint64_t option_bytes, const char *lambda_mb,
                                   long long headroom_opt, fl_budget_t *out);
/* Where the warmers read /proc/meminfo: NULL for the real one; tests point it
 * at a fixture tree to simulate memory pressure. */
FL_INTERNAL extern const char *_fl_fs_root;
/* MemAvailable from <root>/proc/meminfo in bytes, or 0 when unknown. */
FL_INTERNAL uint64_t _fl_budget_mem_available(const char *root);

/* --- warm.c ------------------------------------------------------------- */

enum { FL_CHUNK_COLD = 0, FL_CHUNK_WARMING = 1, FL_CHUNK_WARM = 2, FL_CHUNK_TAKEN = 3 };

/* Span descriptor kinds. Every slice has a descriptor; only the first slice of
 * a span holds the span's state, the others are INTERIOR and point back. */
enum { FL_SPAN_NONE = 0, FL_SPAN_FREE, FL_SPAN_SMALL, FL_SPAN_LARGE, FL_SPAN_INTERIOR };
/* HELD (SMALL): the span's remote list stays announced and untaken until
 * its free list runs out (collect_remote in heap.c). */
enum { FL_SPAN_WARM = 1, FL_SPAN_FRESH = 2, FL_SPAN_HELD = 4 };

typedef struct fl_block_s {
  struct fl_block_s *next;
  uintptr_t freed_tag; /* address ^ key while the block is free: finds double frees */
} fl_block_t;

struct fl_heap_s;
typedef struct fl_span_s {
  uint8_t kind;
  uint8_t flags;       /* FL_SPAN_WARM, FL_SPAN_FRESH, FL_SPAN_HELD */
  uint8_t in_list;     /* SMALL: linked in its heap's class list */
  uint8_t cls;         /* SMALL: size class */
  uint32_t slices;     /* length; for INTERIOR: distance back to the first slice */
  uint32_t used;       /* SMALL: blocks handed out and not yet freed to the owner */
  uint32_t carved_end; /* SMALL: blocks below this offset exist; above, untouched */
  /* SMALL: blocks freed by other threads, a list through the blocks: the
   * last one's offset / 16 + 1 (0: none) and how many there are, packed
   * (FL_REMOTE_*), and FL_REMOTE_ANNOUNCED once the span is on its heap's
   * remote_spans stack. The count saves the owner a walk of the list, whose
   * every step is a miss on a line the freeing thread wrote. */
  _Atomic uint32_t remote_head;
  uint32_t remote_link; /* SMALL: slice + 1 of the next span on that stack */
  /* SMALL: ceil(2^64 / bsize). An offset below 2^32 is a multiple of bsize
   * exactly when offset * magic (mod 2^64) < magic: one multiply, no divide. */
  uint64_t bsize_magic;
  struct fl_span_s *next, *prev; /* heap class list, or free bin */
  union {
    struct {
      fl_block_t *free;       /* SMALL: blocks free for the owner to hand out */
      struct fl_heap_s *heap; /* SMALL: the owner */
    };
    struct {
      size_t size;       /* LARGE: bytes asked for */
      uint64_t freed_ms; /* FREE: when it was freed (RELEASE) */
    };
  };
} fl_span_t;
/* One cache line each: the slice index becomes a descriptor by a shift. */
_Static_assert(sizeof(fl_span_t) == 64, "span descriptors are 64 bytes");

typedef struct fl_arena_s {
  char *base; /* the reservation */
  size_t size;
  size_t nslices, nchunks;
  fl_span_t *spans;                /* one descriptor per slice */
  _Atomic uint8_t *chunk_state;    /* one FL_CHUNK_* per chunk */
  _Atomic uint8_t *chunk_progress; /* pieces a warmer has populated, per chunk */
  bool thp;                        /* huge pages on the whole reservation */
  /* Huge pages for the chunks warmers warm, while they stay cheap: under
   * free page reporting a huge page costs ~0.25 ms while the guest holds the
   * memory and ~5 ms once the host has taken it back. */
  bool thp_warmers;
  _Atomic bool thp_slow;   /* huge chunks were slow: only those far ahead of the heap */
  bool touch_method;       /* warm by touching pages instead of populate */
  pthread_mutex_t lock;    /* span allocation, free bins, frontier */
  _Atomic size_t frontier; /* first slice never handed out */
  /* warming */
  pthread_mutex_t warm_lock;
  pthread_cond_t warm_done;
  _Atomic size_t warm_cursor; /* next chunk a warmer looks at */
  _Atomic size_t warm_target; /* warm chunks below this index */
  _Atomic int warmers_running;
  uint64_t warmers_since; /* when warmers_running last left 0 (warming_ns) */
  int warmers_max;
  bool forked; /* this process is a fork() child: no automatic warming */
  fl_budget_t budget;
  uint64_t prefault_bytes; /* total bytes asked by prefault calls */
  /* Chunks below this were asked for by PREFAULT or fl_prefault (not AHEAD):
   * warmed while the program is still starting, with time to spare. */
  _Atomic size_t prefault_until;
} fl_arena_t;

FL_INTERNAL extern fl_arena_t _fl_arena;
FL_INTERNAL extern _Atomic int _fl_ready; /* 0 no, 1 initialising, 2 ready, 3 failed */

/* pre: called once, under the init lock. Reserves and starts the warmers. */
FL_INTERNAL bool _fl_arena_init(void);
FL_INTERNAL void _fl_arena_start_prefault(void);
/* The start-up prefault happens once: the first caller of this gets true.
 * An adapter that warms its own regions instead takes it first. */
FL_INTERNAL bool _fl_claim_start_prefault(void);
/* The bytes PREFAULT asks for at start-up (its default worked out). */
FL_INTERNAL size_t _fl_prefault_default(void);
/* Have the warmers populate slices [first, first+n), in address order, at
 * idle priority, within the budget, whoever owns them meanwhile. */
FL_INTERNAL void _fl_warm_range(size_t first, size_t n);
/* Have the warmers populate another allocator's memory [addr, addr+size)
 * before their next chunk, within the budget; pieces that fail are skipped.
 * fl_prefault_wait waits for it too. 0, or EBUSY when too many are queued. */
FL_INTERNAL int _fl_warm_foreign(void *addr, size_t size);
/* Make slices [first, first+n) of fresh memory warm before they are handed
 * out: warm chunks cost nothing, the rest is populated in one call per run.
 * Returns 0 or an errno. */
FL_INTERNAL int _fl_warm_fresh(size_t first, size_t n);
FL_INTERNAL int _fl_prefault_bytes(size_t bytes);
/* True unless warming is off (WARMERS=0, or PREFAULT=0 with AHEAD=0). */
FL_INTERNAL bool _fl_warming_on(void);
/* The frontier moved to slice `frontier` and entered a new chunk. */
FL_INTERNAL void _fl_warm_ahead(size_t frontier);
FL_INTERNAL int _fl_prefault_wait_ms(long timeout_ms);
/* Snapshots (snapshot.c). Stop the warmers: none takes a new chunk or
 * starts until _fl_warmers_resume; returns once those running have left. */
FL_INTERNAL void _fl_warmers_pause(void);
/* Warm chunks from `from` (moving the cursor back there) up to at least
 * `target` again; returns the number of warmers that will run. */
FL_INTERNAL int _fl_warmers_resume(size_t from, size_t target);
/* The chunk the warmers are to warm up to. */
FL_INTERNAL size_t _fl_warm_target(void);
/* Read the budget afresh (options, Lambda, cgroup, MemAvailable). pre: the
 * warmers are paused. */
FL_INTERNAL void _fl_budget_refresh(void);
FL_INTERNAL void _fl_warm_atfork_child(void);
/* Take (true) or release the snapshot calls' lock: outermost of the locks
 * fork_prepare holds, since prepare takes the warmers' and the span lock
 * inside it. */
FL_INTERNAL void _fl_snapshot_lock(bool lock);
/* Populate a range inside an allocation call, counting the faults it takes. */
FL_INTERNAL int _fl_populate_inline(void *addr, size_t size);

static inline bool _fl_in_arena(const void *p) {
  return (uintptr_t)p - (uintptr_t)_fl_arena.base < _fl_arena.size;
}
static inline size_t _fl_slice_of(const void *p) {
  return ((uintptr_t)p - (uintptr_t)_fl_arena.base) >> FL_SLICE_SHIFT;
}
static inline void *_fl_slice_addr(size_t slice) {
  return _fl_arena.base + (slice << FL_SLICE_SHIFT);
}
static inline size_t _fl_span_index(const fl_span_t *s) {
  return (size_t)(s - _fl_arena.spans);
}
static inline void *_fl_span_start(const fl_span_t *s) {
  return _fl_slice_addr(_fl_span_index(s));
}

/* --- span.c ------------------------------------------------------------- */

/* A span of `slices` whose start is aligned to `align` bytes (>= FL_SLICE),
 * warm, typed `kind`. NULL when the reservation has no room. *fresh tells
 * whether the memory is known to read as zero. */
FL_INTERNAL fl_span_t *_fl_span_alloc(size_t slices, size_t align, uint8_t kind, bool *fresh);
/* Return a span (SMALL or LARGE) to the free bins, coalescing neighbours. */
/* A large span whose fresh memory is left as it is, for an adapter that
 * hands it over at once and lets the warmers populate it (_fl_warm_range). */
FL_INTERNAL fl_span_t *_fl_span_lease(size_t slices, size_t align, bool *fresh);
FL_INTERNAL void _fl_span_free(fl_span_t *s);
/* Grow a LARGE span in place to `slices`; true on success. */
FL_INTERNAL bool _fl_span_grow(fl_span_t *s, size_t slices);
/* Shrink a LARGE span in place to `slices`, freeing the tail. */
FL_INTERNAL void _fl_span_shrink(fl_span_t *s, size_t slices);
/* Secure builds end every span with a guard page, so a linear overflow out
 * of its last block faults instead of reaching the next span. It is one OS
 * page, at most FL_GUARD_MAX: the arena runs only with pages up to a slice. */
#ifdef FL_SECURE
#define FL_GUARD _fl_prim_page_size()
#define FL_GUARD_MAX FL_SLICE
FL_INTERNAL void _fl_span_guard(fl_span_t *s, bool on);
#else
#define FL_GUARD ((size_t)0)
#define FL_GUARD_MAX ((size_t)0)
static inline void _fl_span_guard(fl_span_t *s, bool on) {}
#endif
#define FL_REMOTE_ANNOUNCED 0x80000000u
#define FL_REMOTE_HEAD_BITS 17 /* offsets / 16 in spans up to 2 MiB */
#define FL_REMOTE_HEAD ((1u << FL_REMOTE_HEAD_BITS) - 1)
#define FL_REMOTE_ONE (1u << FL_REMOTE_HEAD_BITS) /* one block in the count */
#define FL_REMOTE_COUNT (FL_REMOTE_ANNOUNCED - FL_REMOTE_ONE)

/* Block size of a SMALL span. */
FL_INTERNAL extern const uint32_t _fl_class_size[FL_CLASSES];
static inline uint32_t _fl_span_bsize(const fl_span_t *s) {
  return _fl_class_size[s->cls];
}
/* Bytes of a span that blocks may use. */
static inline size_t _fl_span_usable(const fl_span_t *s) {
  return ((size_t)s->slices << FL_SLICE_SHIFT) - FL_GUARD;
}
/* Write descriptors so every slice of s points back to it. */
FL_INTERNAL void _fl_span_mark_interior(fl_span_t *s);
/* Release free warm spans idle for at least min_idle_ms (0: all). */
FL_INTERNAL size_t _fl_span_release_idle(uint64_t min_idle_ms);
/* What _fl_span_snapshot_release gave back: bytes of free spans and above
 * the frontier, and the chunks it made COLD, [cold_lo, cold_hi) at most. */
typedef struct fl_snapshot_release_s {
  size_t free, above;
  size_t cold_lo, cold_hi;
} fl_snapshot_release_t;
/* Give back every warm byte no live block holds: free spans and what lies
 * above the frontier. Their chunks turn cold. pre: warmers paused. */
FL_INTERNAL void _fl_span_snapshot_release(fl_snapshot_release_t *r);
/* The span owning p (in the arena), or NULL when p is in no live span. */
FL_INTERNAL fl_span_t *_fl_span_lookup(const void *p);
FL_INTERNAL int _fl_span_check(void);
/* Fork: hold the span lock across fork() so the child gets it unheld. */
FL_INTERNAL void _fl_span_lock(bool lock);

/* --- outside.c ---------------------------------------------------------- */

/* Blocks mapped from the OS when the reservation is full. */
FL_INTERNAL void *_fl_outside_alloc(size_t size, size_t align);
/* The block's usable size, or 0 when p is not an outside block. */
FL_INTERNAL size_t _fl_outside_size(const void *p);
/* Unmap an outside block; false when p is not one. */
FL_INTERNAL bool _fl_outside_free(void *p);
FL_INTERNAL void _fl_outside_lock(bool lock);

/* --- heap.c ------------------------------------------------------------- */

typedef struct fl_heap_s {
  fl_span_t *avail[FL_CLASSES];      /* spans with (maybe) free blocks; head is current */
  fl_span_t *avail_tail[FL_CLASSES]; /* their last span */
  /* Spans holding blocks freed by other threads (slice + 1 of the first;
   * they link through remote_link). On a cache line of its own: the freeing
   * threads write it, and it must not share a line with the owner's lists. */
  _Alignas(64) _Atomic uint32_t remote_spans;
  char remote_pad[64 - sizeof(uint32_t)];
  struct fl_heap_s *next_abandoned;
  struct fl_heap_s *next_all;
  bool abandoned;
  uint32_t slow_calls; /* malloc slow paths, to sweep empty spans now and then */
} fl_heap_t;

FL_INTERNAL extern __thread fl_heap_t *_fl_heap_tl __attribute__((tls_model("initial-exec")));
FL_INTERNAL extern uintptr_t _fl_free_key;
FL_INTERNAL extern const uint32_t _fl_class_size[FL_CLASSES];

FL_INTERNAL extern const uint8_t _fl_class_of_small[65];

static inline size_t _fl_size_class(size_t size) {
  /* Up to 1 KiB by table (the common case: one load), above by arithmetic. */
  if (size <= 1024) return _fl_class_of_small[(size + 15) >> 4];
  size_t b = 63 - (size_t)__builtin_clzll(size - 1); /* size in (2^b, 2^(b+1)] */
  return 9 + (b - 7) * 4 + (((size - 1) >> (b - 2)) & 3);
}

FL_INTERNAL void *_fl_heap_malloc_slow(fl_heap_t *heap, size_t cls);
FL_INTERNAL fl_heap_t *_fl_heap_get(void);
FL_INTERNAL void _fl_heap_free_small(fl_span_t *s, fl_block_t *b);
/* Free a block of a span another thread owns. */
FL_INTERNAL void _fl_heap_free_remote(fl_span_t *s, fl_block_t *b);
/* Put a span that had no free block back on its heap's list. pre: owner. */
FL_INTERNAL void _fl_heap_relink(fl_span_t *s);
FL_INTERNAL void _fl_heap_thread_exit(void *heap);
FL_INTERNAL void _fl_heap_init(void);
FL_INTERNAL int _fl_heap_check_current(void);
FL_INTERNAL void _fl_heap_atfork_child(void);
FL_INTERNAL void _fl_heap_lock(bool lock);

/* --- Blocks on free lists ------------------------------------------------ */

/* A free block holds the link to the next one and a tag, address ^ key, that
 * marks it free (a second free of it is a double free). Secure builds store
 * the link encoded with the block's address and the key, so an overflow that
 * writes a plain pointer into a free block is caught instead of obeyed. */
static inline fl_block_t *_fl_block_next(const fl_block_t *b) {
#ifdef FL_SECURE
  return (fl_block_t *)((uintptr_t)b->next ^ (uintptr_t)b ^ _fl_free_key);
#else
  return b->next;
#endif
}
static inline void _fl_block_set_next(fl_block_t *b, fl_block_t *next) {
#ifdef FL_SECURE
  b->next = (fl_block_t *)((uintptr_t)next ^ (uintptr_t)b ^ _fl_free_key);
#else
  b->next = next;
#endif
}
static inline bool _fl_block_is_free(const fl_block_t *b) {
  return b->freed_tag == ((uintptr_t)b ^ _fl_free_key);
}
static inline void _fl_block_mark_free(fl_block_t *b) {
  b->freed_tag = (uintptr_t)b ^ _fl_free_key;
}

#ifdef FL_DEBUG
#define FL_DEBUG_FREED 0xDF /* fills free blocks past their link in debug builds */
FL_INTERNAL void _fl_debug_fill_freed(fl_block_t *b, size_t bsize);
FL_INTERNAL void _fl_debug_check_freed(fl_block_t *b, size_t bsize);
#endif
FL_INTERNAL _Noreturn void _fl_corrupt_free_list(const fl_span_t *s, const void *b);

/* Take the first free block of s. pre: s->free != NULL. */
static inline fl_block_t *_fl_span_pop(fl_span_t *s) {
  fl_block_t *b = s->free;
  fl_block_t *next = _fl_block_next(b);
#if defined(FL_SECURE) || defined(FL_DEBUG)
  if (next && (uintptr_t)next - (uintptr_t)_fl_span_start(s) >= s->carved_end)
    _fl_corrupt_free_list(s, b);
#endif
#ifdef FL_DEBUG
  _fl_debug_check_freed(b, _fl_span_bsize(s));
#endif
  s->free = next;
  s->used++;
  b->freed_tag = 0;
  return b;
}

/* Put block b on s's free list. Secure builds randomise where, so the next
 * allocation is not predictably the block just freed. */
static inline void _fl_span_push(fl_span_t *s, fl_block_t *b) {
#ifdef FL_DEBUG
  _fl_debug_fill_freed(b, _fl_span_bsize(s));
#endif
  _fl_block_mark_free(b);
#ifdef FL_SECURE
  fl_block_t *head = s->free;
  if (head && ((uintptr_t)b >> 4 ^ (uintptr_t)head >> 4 ^ _fl_free_key) & 1) {
    _fl_block_set_next(b, _fl_block_next(head));
    _fl_block_set_next(head, b);
    return;
  }
#endif
  _fl_block_set_next(b, s->free);
  s->free = b;
}

/* --- alloc.c ------------------------------------------------------------ */

FL_INTERNAL void *_fl_alloc_aligned(size_t size, size_t align, bool zero);
FL_INTERNAL void _fl_free_slow(void *p, const char *call);
FL_INTERNAL size_t _fl_usable(const void *p, const char *call);

/* Pages for the adapters (src/adapters/): a run of warm memory from the arena
 * for another allocator to manage. size is rounded up to slices; *zeroed
 * tells whether it reads as zero. NULL when the arena cannot serve it. */
FL_INTERNAL void *_fl_pages_alloc(size_t size, size_t align, bool *zeroed);
/* The same, but returned at once with its fresh pages not yet populated:
 * the warmers populate them in the background, in address order, while the
 * other allocator may already write there (populating never changes what a
 * page holds). For an allocator that takes its memory once, up front. */
FL_INTERNAL void *_fl_pages_lease(size_t size, size_t align, bool *zeroed);
/* Give back a run from _fl_pages_alloc (whole, as it was handed out). */
FL_INTERNAL void _fl_pages_free(void *p);
/* True when p lies in the arena's reservation. */
FL_INTERNAL bool _fl_pages_owned(const void *p);

/* --- system.c ----------------------------------------------------------- */

/* PASSTHROUGH mode: the system allocator serves everything (valgrind). */
FL_INTERNAL extern bool _fl_passthrough;
FL_INTERNAL void *_fl_system_alloc(size_t size, size_t align, bool zero);
FL_INTERNAL void _fl_system_free(void *p);
FL_INTERNAL void *_fl_system_realloc(void *p, size_t size);
FL_INTERNAL size_t _fl_system_usable(void *p);

/* --- init.c ------------------------------------------------------------- */

/* Make sure the library is initialised; false if no arena could be made. */
FL_INTERNAL bool _fl_init_slow(void);
static inline bool _fl_ensure_init(void) {
  return FL_LIKELY(atomic_load_explicit(&_fl_ready, memory_order_acquire) == 2) || _fl_init_slow();
}

#endif
