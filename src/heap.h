// SPDX-License-Identifier: MIT
/* The heap layer: size classes, thread heaps, remote frees and the free
 * lists of size-class spans. What it offers the API above: a thread's heap,
 * its allocation slow path and frees. */
#ifndef FL_HEAP_H
#define FL_HEAP_H

#include "span.h"

/* A SMALL span's remote_head word (span.h): FL_REMOTE_HEAD_BITS of head,
 * the count above it, ANNOUNCED on top. */
#define FL_REMOTE_ANNOUNCED 0x80000000u
#define FL_REMOTE_HEAD_BITS 17 /* offsets / 16 in spans up to 2 MiB */
#define FL_REMOTE_HEAD ((1u << FL_REMOTE_HEAD_BITS) - 1)
#define FL_REMOTE_ONE (1u << FL_REMOTE_HEAD_BITS) /* one block in the count */
#define FL_REMOTE_COUNT (FL_REMOTE_ANNOUNCED - FL_REMOTE_ONE)

/* Block size of each class (heap.c). */
FL_INTERNAL extern const uint32_t _fl_class_size[FL_CLASSES];
/* Block size of a SMALL span. */
static inline uint32_t _fl_span_bsize(const fl_span_t *s) {
  return _fl_class_size[s->cls];
}

/* Caching mode (heapcache.c). A thread whose program hands its data
 * between threads (a server passing requests among workers) frees many
 * blocks of other threads' spans. Handed back to their owners, those blocks
 * cost a line moving between cores at each end, and reading their spans'
 * descriptors costs more lines the owners keep writing. Such a thread
 * switches to a cache in front of its heap, as a thread-caching allocator
 * works: `_fl_heap_tl` points at the heap's twin, FL_TWIN_BIT above it,
 * whose avail[cls] is always a stand-in span (FL_SPAN_CACHE) whose free list
 * is the cache. malloc's fast path pops the stand-in as it pops any span;
 * free sees the twin's bit and pushes onto the stand-in, reading the slice's
 * info word (arena.h) instead of the span's descriptor; an empty cache is
 * refilled from the heap's spans and a full one gives half its blocks back
 * to their spans. A thread not in the mode pays one test of a register on
 * free. A stand-in's `used` counts down from FL_CACHE_BASE as blocks enter,
 * and its carved_end holds its cap. */
enum { FL_SPAN_CACHE = FL_SPAN_INTERIOR + 1 };
#define FL_CACHE_CLASSES 37      /* classes up to 16 KiB */
#define FL_CACHE_BASE (1u << 15) /* above any cap (cache_cap), within `used` */
/* A heap and its twin share an aligned block of 2 * FL_TWIN_BIT bytes. */
#define FL_TWIN_BIT ((uintptr_t)4096)
/* A size-class span's info, at its first slice (0 at the others, and for
 * classes the cache does not hold): its class, and above FL_INFO_SHIFT how
 * many KiB of it are carved (carved_end rounded down, at most
 * FL_INFO_KIB_MAX). Two bytes: a line holds 32 slices'. */
#define FL_INFO_CLASS 63u
#define FL_INFO_SHIFT 6
#define FL_INFO_KIB_MAX 1023u

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
  uint32_t sweep_next; /* the class the next sweep starts at, modulo the classes */
  /* Caching mode: in a heap, whether its twin is set up and the evidence for
   * entering the mode; in a twin, its stand-in spans. */
  bool has_twin;
  uint32_t foreign_frees, slow_mark;
  fl_span_t cache[FL_CACHE_CLASSES];
} fl_heap_t;
_Static_assert(sizeof(fl_heap_t) <= FL_TWIN_BIT, "a heap fits below its twin");

static inline bool _fl_heap_is_twin(const fl_heap_t *h) {
  return (uintptr_t)h & FL_TWIN_BIT;
}
static inline fl_heap_t *_fl_heap_twin(fl_heap_t *h) {
  return (fl_heap_t *)((uintptr_t)h | FL_TWIN_BIT);
}
/* The heap a twin stands in front of; a heap itself. */
static inline fl_heap_t *_fl_heap_behind(fl_heap_t *h) {
  return (fl_heap_t *)((uintptr_t)h & ~FL_TWIN_BIT);
}
/* s's first_lim (span.h) for its carved_end. Past 0xFFFF it stays there:
 * block k starting in the first slice has k * bsize <= 0xFFF0, so its
 * k * (bsize * magic mod 2^64) <= k * bsize still passes, and a block not
 * carved has a product of at least the uncapped limit, over 0xFFFF. */
static inline uint16_t _fl_span_first_lim(const fl_span_t *s) {
  uint32_t bsize = _fl_span_bsize(s);
  uint64_t lim = (uint64_t)(s->carved_end / bsize) * (uint64_t)(bsize * s->bsize_magic);
  return lim < 0xFFFF ? (uint16_t)lim : 0xFFFF;
}
/* Whether `off` bytes into the first slice of the span whose descriptor is
 * s is the start of a block carved from it; false for a descriptor that is
 * not a SMALL span's first. */
static inline bool _fl_first_slice_block(const fl_span_t *s, uint64_t off) {
  return off * s->bsize_magic < __atomic_load_n(&s->first_lim, __ATOMIC_RELAXED);
}
/* floor(2^64 / size) + 1 of each class, as in a span's bsize_magic. */
FL_INTERNAL extern uint64_t _fl_class_magic[FL_CLASSES];

/* A SMALL span's color: the bytes at its start whose blocks it hands out
 * last. Spans start at slice boundaries, so without it the first block of
 * every class would fall in the same set of the L1 cache, and a program
 * that takes and gives back a few blocks of many sizes would evict its own
 * hot blocks (TUNING.md). Each class's color is a multiple of its block
 * size that leaves the block after it within FL_COLOR_RANGE, the smallest
 * page, so the first carve touches no page it would not touch without one.
 * While the span is FL_SPAN_HOLDING, the blocks below the color carry the
 * free tag and are on no list: free's checks turn them away, and they are
 * carved once every other block of the span is out. */
#define FL_COLOR_RANGE 4096u
FL_INTERNAL extern uint16_t _fl_class_color[FL_CLASSES];
/* Whether the block `off` bytes into SMALL span s is one its color holds
 * back: never handed out yet. */
static inline bool _fl_span_held_back(const fl_span_t *s, uint64_t off) {
  return (s->flags & FL_SPAN_HOLDING) && off < _fl_class_color[s->cls];
}

FL_INTERNAL extern __thread fl_heap_t *_fl_heap_tl __attribute__((tls_model("initial-exec")));
/* What `_fl_heap_tl` points at in a thread without a heap (before its first
 * malloc, after its exit): a heap with no spans, never a twin and owning no
 * span, so malloc's fast path needs no test for a missing heap and falls to
 * the slow path, and a free goes as a free from another thread. */
FL_INTERNAL extern fl_heap_t _fl_heap_none;
FL_INTERNAL extern uintptr_t _fl_free_key;
/* The calling thread's heap, behind its twin in caching mode; NULL when it
 * has none. */
static inline fl_heap_t *_fl_heap_own(void) {
  fl_heap_t *h = _fl_heap_behind(_fl_heap_tl);
  return h == &_fl_heap_none ? NULL : h;
}
/* Sizes up to this get their class from a table (1 KiB of it); above, by
 * arithmetic. The branch between them mispredicted on about a third of the
 * mallocs of programs whose sizes straddle the limit (16 B..4 KiB at random,
 * when it was 1 KiB): 16 KiB leaves it to the rare large block. */
#define FL_CLASS_TABLE_MAX (16 * 1024)
FL_INTERNAL extern const uint8_t _fl_class_of_small[FL_CLASS_TABLE_MAX / 16 + 1];

static inline size_t _fl_size_class(size_t size) {
  /* One load up to FL_CLASS_TABLE_MAX (the common case), above by arithmetic. */
  if (FL_LIKELY(size <= FL_CLASS_TABLE_MAX)) return _fl_class_of_small[(size + 15) >> 4];
  size_t b = 63 - (size_t)__builtin_clzll(size - 1); /* size in (2^b, 2^(b+1)] */
  return 9 + (b - 7) * 4 + (((size - 1) >> (b - 2)) & 3);
}

FL_INTERNAL void *_fl_heap_malloc_slow(fl_heap_t *heap, size_t cls);
FL_INTERNAL fl_heap_t *_fl_heap_get(void);
FL_INTERNAL void _fl_heap_free_small(fl_span_t *s, fl_block_t *b);
/* Free a block of a span another thread owns, or any block in caching
 * mode. */
FL_INTERNAL void _fl_heap_free_remote(fl_span_t *s, fl_block_t *b);
/* Hand a block back to the heap that owns its span. */
FL_INTERNAL void _fl_heap_give_back(fl_span_t *s, fl_block_t *b);
/* Free a block of h's own span. pre: the caller owns h. */
FL_INTERNAL void _fl_heap_free_local(fl_heap_t *h, fl_span_t *s, fl_block_t *b);
/* A block of class cls from h's spans; when they have no room, an outside
 * block (NULL, errno ENOMEM, when the OS has none). pre: the caller owns h. */
FL_INTERNAL void *_fl_heap_take(fl_heap_t *h, size_t cls);
/* heapcache.c: count a foreign free toward the mode; a twin's free and
 * refill; leave the mode (thread exit); check a twin (`empty`: an exited
 * thread's, which must hold no block). */
FL_INTERNAL void _fl_cache_note_foreign(fl_heap_t *h);
FL_INTERNAL void _fl_cache_free(fl_heap_t *twin, fl_span_t *s, fl_block_t *b);
FL_INTERNAL void *_fl_cache_refill(fl_heap_t *twin, size_t cls);
FL_INTERNAL void _fl_cache_leave(fl_heap_t *h);
FL_INTERNAL int _fl_cache_check(const fl_heap_t *twin, bool empty);
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

/* A twin's stand-in span: how many blocks it holds (its cap is in
 * carved_end), and putting one more on it. */
static inline uint32_t _fl_cache_count(const fl_span_t *k) {
  return FL_CACHE_BASE - k->used;
}
static inline void _fl_cache_push(fl_span_t *k, fl_block_t *b) {
#ifdef FL_DEBUG
  _fl_debug_fill_freed(b, _fl_class_size[k->cls]);
#endif
  _fl_block_mark_free(b);
  _fl_block_set_next(b, k->free);
  k->free = b;
  k->used--;
}

/* Take the first free block of s. pre: s->free != NULL. */
static inline fl_block_t *_fl_span_pop(fl_span_t *s) {
  fl_block_t *b = s->free;
  fl_block_t *next = _fl_block_next(b);
  FL_ASSERT((s->kind == FL_SPAN_SMALL || s->kind == FL_SPAN_CACHE) && b != NULL);
  FL_ASSERT(s->kind == FL_SPAN_CACHE || s->used < s->carved_end / _fl_span_bsize(s));
#if defined(FL_SECURE) || defined(FL_DEBUG)
  if (next &&
      (s->kind == FL_SPAN_CACHE ? !_fl_in_arena(next)
                                : (uintptr_t)next - (uintptr_t)_fl_span_start(s) >= s->carved_end))
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
  FL_ASSERT(s->kind == FL_SPAN_SMALL && s->used > 0);
  FL_ASSERT((uintptr_t)b - (uintptr_t)_fl_span_start(s) < s->carved_end);
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

#endif
