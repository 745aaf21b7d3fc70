// SPDX-License-Identifier: MIT
/* The API layer: fl_*, the malloc family, start-up and fork, PASSTHROUGH.
 * What its files share; the adapters above see only pages.h. */
#ifndef FL_API_H
#define FL_API_H

#include "heap.h"
#include "pages.h"

/* --- alloc.c ------------------------------------------------------------ */

FL_INTERNAL void *_fl_alloc_aligned(size_t size, size_t align, bool zero);
/* malloc's path for what the inline one leaves: a thread without a heap yet,
 * sizes past the class table. */
FL_INTERNAL void *_fl_malloc_rest(size_t size);
/* malloc's slow path for a size of class cls in the class table. */
FL_INTERNAL void *_fl_malloc_slow(size_t size, size_t cls);
FL_INTERNAL void _fl_free_slow(void *p, const char *call);
FL_INTERNAL size_t _fl_usable(const void *p, const char *call);

/* The fast paths of malloc and free, inlined into both fl_malloc/fl_free
 * (alloc.c) and the malloc/free that programs call (override.c): a malloc
 * that only jumped to fl_malloc cost `small` about 12% (bench/RESULTS.md). */
#define FL_FAST static inline __attribute__((always_inline))

/* A block of class cls from h's current span; NULL when it has none. */
FL_FAST fl_block_t *_fl_heap_pop(fl_heap_t *h, size_t cls) {
  fl_span_t *s = h->avail[cls];
  return FL_LIKELY(s != NULL && s->free != NULL) ? _fl_span_pop(s) : NULL;
}

/* A block of class cls from heap h (a real heap, not _fl_heap_none). */
FL_FAST void *_fl_heap_alloc(fl_heap_t *h, size_t cls) {
  fl_block_t *b = _fl_heap_pop(h, cls);
  return FL_LIKELY(b != NULL) ? b : _fl_heap_malloc_slow(h, cls);
}

/* Sizes past the class table (16 KiB..FL_SMALL_MAX, rarer) take their class
 * by arithmetic in _fl_malloc_rest: one compare less on every other malloc.
 * A thread without a heap has _fl_heap_none's empty lists, and takes the
 * slow path. */
FL_FAST void *_fl_malloc_inline(size_t size) {
  if (FL_LIKELY(size <= FL_CLASS_TABLE_MAX)) {
    size_t cls = _fl_class_of_small[(size + 15) >> 4];
    fl_block_t *b = _fl_heap_pop(_fl_heap_tl, cls);
    return FL_LIKELY(b != NULL) ? b : _fl_malloc_slow(size, cls);
  }
  return _fl_malloc_rest(size);
}

/* The checks of the default build on a free of b, `off` bytes into its
 * slice, whose descriptor s may be of any kind: true when s is SMALL and b
 * starts a block of its first slice that was handed out and is not already
 * free. first_lim (span.h) makes the kind, start and carved checks one.
 * CHECKS=0 builds leave the checks out, to measure what they cost; the slow
 * path still checks. */
FL_FAST bool _fl_first_slice_free_ok(const fl_span_t *s, const fl_block_t *b, uint64_t off) {
#ifdef FL_NO_CHECKS
  (void)b, (void)off;
  return s->kind == FL_SPAN_SMALL;
#else
  return _fl_first_slice_block(s, off) && !_fl_block_is_free(b);
#endif
}

/* A free in caching mode (heap.h): onto the thread's cache, from the
 * slice's info word and not the span's descriptor, with the same checks.
 * False when the block is not for the inline path or fails a check: the
 * caller then goes on as for any free. */
FL_FAST bool _fl_cache_free_inline(fl_heap_t *twin, fl_block_t *b) {
  uint32_t info =
      atomic_load_explicit(&_fl_arena.slice_info[_fl_slice_of(b)], memory_order_relaxed);
  size_t cls = info & FL_INFO_CLASS;
  if (cls == 0 || cls >= FL_CACHE_CLASSES) return false;
  fl_span_t *k = &twin->cache[cls];
  if (_fl_cache_count(k) >= k->carved_end) return false;
#ifndef FL_NO_CHECKS
  uint64_t off = (uintptr_t)b & (FL_SLICE - 1), magic = k->bsize_magic;
  if (!(off * magic < magic && off < (uint64_t)(info >> FL_INFO_SHIFT) << 10 &&
        !_fl_block_is_free(b)))
    return false;
#endif
  _fl_cache_push(k, b);
  return true;
}

/* Free b, a block of SMALL span s that passed the checks, for the thread
 * whose heap (or twin) is h. */
FL_FAST void _fl_free_block(fl_heap_t *h, fl_span_t *s, fl_block_t *b) {
  if (FL_LIKELY(s->heap == h)) {
    _fl_span_push(s, b);
    s->used--;
    if (FL_UNLIKELY(!s->in_list)) _fl_heap_relink(s);
  } else {
    _fl_heap_free_remote(s, b);
  }
}

FL_FAST void _fl_free_inline(void *p) {
  if (FL_LIKELY(_fl_in_arena(p))) {
    fl_heap_t *h = _fl_heap_tl;
    if (FL_UNLIKELY(_fl_heap_is_twin(h)) && _fl_cache_free_inline(h, p)) return;
    /* A block in its span's first slice: the span starts at the slice's
     * boundary. Others take the slow path, which finds their span. */
    fl_span_t *s = &_fl_arena.spans[_fl_slice_of(p)];
    if (FL_LIKELY(_fl_first_slice_free_ok(s, p, (uintptr_t)p & (FL_SLICE - 1)))) {
      _fl_free_block(h, s, p);
      return;
    }
  } else if (p == NULL) {
    return;
  }
  _fl_free_slow(p, "free");
}

/* --- system.c ----------------------------------------------------------- */

/* PASSTHROUGH mode: the system allocator serves everything (valgrind). */
FL_INTERNAL extern bool _fl_passthrough;
FL_INTERNAL void *_fl_system_alloc(size_t size, size_t align, bool zero);
FL_INTERNAL void _fl_system_free(void *p);
FL_INTERNAL void *_fl_system_realloc(void *p, size_t size);
FL_INTERNAL size_t _fl_system_usable(void *p);

/* --- control.c ---------------------------------------------------------- */

/* Print the stats at exit as the STATS option asks. */
FL_INTERNAL void _fl_stats_at_exit(void);

/* --- init.c ------------------------------------------------------------- */

FL_INTERNAL extern _Atomic int _fl_ready; /* 0 no, 1 initialising, 2 ready, 3 failed */
/* Make sure the library is initialised; false if no arena could be made.
 * Every entry point that reaches a lower layer's state makes sure first:
 * the layers below take it as given. */
FL_INTERNAL bool _fl_init_slow(void);
static inline bool _fl_ensure_init(void) {
  return FL_LIKELY(atomic_load_explicit(&_fl_ready, memory_order_acquire) == 2) || _fl_init_slow();
}

#endif
