// SPDX-License-Identifier: MIT
/* The span layer: the slices of the reservation cut into spans (free bins,
 * the frontier, coalescing, in-place growth, RELEASE), blocks from the OS
 * when the reservation is full, and what snapshots give back. What it offers
 * the heap above: spans of slices, typed SMALL or LARGE, and their
 * descriptors. */
#ifndef FL_SPAN_H
#define FL_SPAN_H

#include "arena.h"

/* Span descriptor kinds. Every slice has a descriptor; only the first slice of
 * a span holds the span's state, the others are INTERIOR and point back. */
enum { FL_SPAN_NONE = 0, FL_SPAN_FREE, FL_SPAN_SMALL, FL_SPAN_LARGE, FL_SPAN_INTERIOR };
/* HELD (SMALL): the span's remote list stays announced and untaken until
 * its free list runs out (collect_remote in heap.c). HOLDING (SMALL): the
 * blocks below its class's color are held back (heap.h). */
enum { FL_SPAN_WARM = 1, FL_SPAN_FRESH = 2, FL_SPAN_HELD = 4, FL_SPAN_HOLDING = 8 };

typedef struct fl_block_s {
  struct fl_block_s *next;
  uintptr_t freed_tag; /* address ^ key while the block is free: finds double frees */
} fl_block_t;

struct fl_heap_s;
typedef struct fl_span_s {
  uint8_t kind;
  uint8_t flags; /* FL_SPAN_WARM, FL_SPAN_FRESH, FL_SPAN_HELD, FL_SPAN_HOLDING */
  /* SMALL: blocks handed out and not yet freed to the owner. malloc's and
   * free's fast paths write it just before free reads first_lim and in_list:
   * it shares no 4-byte word with them, so those loads need not wait on the
   * stores (TUNING.md). */
  uint16_t used;
  uint32_t slices; /* length; for INTERIOR: distance back to the first slice */
  uint8_t in_list; /* SMALL: linked in its heap's class list */
  uint8_t cls;     /* SMALL: size class */
  /* SMALL: min(carved blocks * (bsize * bsize_magic mod 2^64), 0xFFFF); 0 in
   * every other descriptor. An offset `off` in a span's first slice starts a
   * carved block exactly when off * bsize_magic (mod 2^64) < first_lim: the
   * product is k * (bsize * bsize_magic mod 2^64) at the start of block k and
   * at least bsize_magic elsewhere. Free's fast path checks the kind, the
   * block start and the carving with that one multiply and compare. */
  uint16_t first_lim;
  uint32_t carved_end; /* SMALL: blocks below this offset exist; above, untouched */
  /* SMALL: blocks freed by other threads, a list through the blocks: the
   * last one's offset / 16 + 1 (0: none) and how many there are, packed
   * (FL_REMOTE_*), and FL_REMOTE_ANNOUNCED once the span is on its heap's
   * remote_spans stack. The count saves the owner a walk of the list, whose
   * every step is a miss on a line the freeing thread wrote. */
  _Atomic uint32_t remote_head;
  uint32_t remote_link; /* SMALL: slice + 1 of the next span on that stack */
  /* SMALL: floor(2^64 / bsize) + 1. An offset below 2^32 is a multiple of
   * bsize exactly when offset * magic (mod 2^64) < magic: one multiply, no
   * divide. bsize * magic mod 2^64 is in [1, bsize]: never 0, which lets
   * first_lim tell blocks apart for a power-of-two bsize too. */
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
_Static_assert(sizeof(fl_span_t) == FL_SPAN_DESC, "span descriptors are FL_SPAN_DESC bytes");

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
/* Slices of a span left to the warmers for a while: [first, first+n). */
typedef struct fl_span_rest_s {
  size_t first, n;
} fl_span_rest_t;
/* A large span for a block realloc moves: as _fl_span_alloc, but not counted
 * as the heap's growth for warming ahead (the old block is freed next), and
 * from fresh memory only its first half is populated in the call: the
 * warmers populate *rest while the caller copies the block, and
 * _fl_span_warm_rest then populates what they have not reached (0, or an
 * errno: ENOMEM, and the caller frees the span). */
FL_INTERNAL fl_span_t *_fl_span_alloc_moved(size_t slices, size_t align, bool *fresh,
                                            fl_span_rest_t *rest);
FL_INTERNAL int _fl_span_warm_rest(const fl_span_rest_t *rest);
/* A large span whose fresh memory is left as it is, for an adapter that
 * hands it over at once and lets the warmers populate it (_fl_warm_range). */
FL_INTERNAL fl_span_t *_fl_span_lease(size_t slices, size_t align, bool *fresh);
/* Return a span (SMALL or LARGE) to the free bins, coalescing neighbours. */
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
/* The span owning p (in the arena), or NULL when p is in no live span.
 * Inline: a thread in caching mode looks up every block it hands back to
 * its span (heapcache.c). */
static inline fl_span_t *_fl_span_lookup(const void *p) {
  size_t i = _fl_slice_of(p);
  fl_span_t *s = &_fl_arena.spans[i];
  if (s->kind == FL_SPAN_INTERIOR) {
    if (s->slices > i) return NULL;
    size_t first = i - s->slices;
    s = &_fl_arena.spans[first];
    if (first + s->slices <= i) return NULL;
  }
  return s->kind == FL_SPAN_SMALL || s->kind == FL_SPAN_LARGE ? s : NULL;
}
FL_INTERNAL int _fl_span_check(void);
/* Fork: hold the span lock across fork() (lock), then release it, in the
 * parent and in the child. */
FL_INTERNAL void _fl_span_lock(bool lock);

/* --- outside.c ---------------------------------------------------------- */

/* Blocks mapped from the OS when the reservation is full. */
FL_INTERNAL void *_fl_outside_alloc(size_t size, size_t align);
/* The block's usable size, or 0 when p is not an outside block. */
FL_INTERNAL size_t _fl_outside_size(const void *p);
/* Unmap an outside block; false when p is not one. */
FL_INTERNAL bool _fl_outside_free(void *p);
FL_INTERNAL void _fl_outside_lock(bool lock);

/* --- snapshot.c --------------------------------------------------------- */

/* Before a snapshot: stop the warmers and give back the warm memory no live
 * block holds. After the restore: read the budget afresh and warm up to the
 * same target again. pre: the library is initialised. */
FL_INTERNAL void _fl_snapshot_prepare(void);
FL_INTERNAL void _fl_snapshot_restored(void);
/* Fork: take (true) or release the snapshot calls' lock, the outermost of
 * those fork() is held across (prepare takes the warmers' and the span lock
 * inside it). */
FL_INTERNAL void _fl_snapshot_lock(bool lock);

#endif
