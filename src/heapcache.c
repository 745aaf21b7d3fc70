// SPDX-License-Identifier: MIT
/* Caching mode (heap.h says what it is and why). A thread enters it when it
 * keeps freeing other threads' blocks while it mallocs itself: 1,024 such
 * frees during which it took the malloc slow path at least 16 times. A
 * thread that only frees what others allocated (a consumer) never enters
 * it, nor does one that frees its own blocks: they keep handing blocks
 * straight to their spans. Blocks in a cache stay counted in their spans'
 * `used`, so no span is retired under them; a cache holds at most 64 KiB
 * per class (16 to 512 blocks), and is emptied when its thread exits. */
#include "heap.h"

#include <string.h>

#define FOREIGN_EPOCH 1024 /* foreign frees between looks at the evidence */
#define SLOW_MIN 16        /* malloc slow paths in that time: the thread mallocs */

/* Blocks a stand-in holds at most. A refill or a full cache moves half. */
static uint32_t cache_cap(size_t cls) {
  uint32_t n = 65536 / _fl_class_size[cls];
  return n < 16 ? 16 : n > 512 ? 512 : n;
}

/* Free b to its span, h's own or another heap's. pre: the caller owns h. */
static void to_span(fl_heap_t *h, fl_span_t *s, fl_block_t *b) {
  if (s->heap == h)
    _fl_heap_free_local(h, s, b);
  else
    _fl_heap_give_back(s, b);
}

/* Keep the first `keep` blocks of k and free the rest to their spans. */
static void cache_cut(fl_heap_t *h, fl_span_t *k, uint32_t keep) {
  fl_block_t *rest = k->free, *last = NULL;
  uint32_t n = 0;
  for (; n < keep && rest; n++) {
    last = rest;
    rest = _fl_block_next(rest);
  }
  if (last)
    _fl_block_set_next(last, NULL);
  else
    k->free = NULL;
  k->used = FL_CACHE_BASE - n;
  while (rest) {
    fl_block_t *b = rest;
    rest = _fl_block_next(b);
    to_span(h, _fl_span_lookup(b), b);
  }
}

static void twin_init(fl_heap_t *h) {
  fl_heap_t *t = _fl_heap_twin(h);
  memset(t, 0, sizeof *t);
  for (size_t cls = 1; cls < FL_CACHE_CLASSES; cls++) {
    fl_span_t *k = &t->cache[cls];
    k->kind = FL_SPAN_CACHE;
    k->cls = (uint8_t)cls;
    k->heap = t;
    k->used = FL_CACHE_BASE;
    k->carved_end = cache_cap(cls);
    k->bsize_magic = _fl_class_magic[cls];
    t->avail[cls] = k;
  }
  h->has_twin = true;
}

/* pre: h is the calling thread's heap, not in the mode. */
void _fl_cache_note_foreign(fl_heap_t *h) {
  if (++h->foreign_frees < FOREIGN_EPOCH) return;
  bool mallocs = h->slow_calls - h->slow_mark >= SLOW_MIN;
  h->foreign_frees = 0;
  h->slow_mark = h->slow_calls;
  if (!mallocs) return;
  if (!h->has_twin) twin_init(h);
  _fl_heap_tl = _fl_heap_twin(h);
}

/* A free in the mode that the inline path left: a full stand-in, a class
 * above the cache's, a block past a span's first slice. pre: twin is the
 * calling thread's; b is a live block of s. */
void _fl_cache_free(fl_heap_t *twin, fl_span_t *s, fl_block_t *b) {
  fl_heap_t *h = _fl_heap_behind(twin);
  size_t cls = s->cls;
  if (cls >= FL_CACHE_CLASSES) {
    to_span(h, s, b);
    return;
  }
  fl_span_t *k = &twin->cache[cls];
  if (_fl_cache_count(k) >= k->carved_end) cache_cut(h, k, k->carved_end / 2);
  _fl_cache_push(k, b);
}

/* The twin's stand-in for cls is empty: move half a cache of blocks from
 * the heap's spans into it and hand out one. */
void *_fl_cache_refill(fl_heap_t *twin, size_t cls) {
  fl_heap_t *h = _fl_heap_behind(twin);
  if (cls >= FL_CACHE_CLASSES) return _fl_heap_take(h, cls);
  fl_span_t *k = &twin->cache[cls];
  for (uint32_t i = k->carved_end / 2; i > 0; i--) {
    fl_span_t *s = h->avail[cls];
    fl_block_t *b;
    if (s && s->free)
      b = _fl_span_pop(s);
    else if (!_fl_in_arena(b = _fl_heap_take(h, cls)))
      return b; /* the heap has no room: an outside block (or NULL) for this malloc */
    _fl_cache_push(k, b);
  }
  return k->free ? _fl_span_pop(k) : NULL;
}

/* Empty h's cache into the spans and leave the mode. pre: the caller owns h. */
void _fl_cache_leave(fl_heap_t *h) {
  h->foreign_frees = 0;
  h->slow_mark = h->slow_calls;
  if (!h->has_twin) return;
  for (size_t cls = 1; cls < FL_CACHE_CLASSES; cls++)
    cache_cut(h, &_fl_heap_twin(h)->cache[cls], 0);
  if (_fl_heap_tl == _fl_heap_twin(h)) _fl_heap_tl = h;
}

/* Each stand-in holds as many blocks as it counts, each free, of its class,
 * in a live span; none when `empty`. */
int _fl_cache_check(const fl_heap_t *twin, bool empty) {
  for (size_t cls = 1; cls < FL_CACHE_CLASSES; cls++) {
    const fl_span_t *k = &twin->cache[cls];
    uint32_t n = 0;
    bool bad = twin->avail[cls] != k || k->kind != FL_SPAN_CACHE || k->carved_end != cache_cap(cls);
    for (const fl_block_t *b = k->free; b && !bad; b = _fl_block_next(b)) {
      const fl_span_t *s = _fl_in_arena(b) ? _fl_span_lookup(b) : NULL;
      bad = !s || s->kind != FL_SPAN_SMALL || s->cls != cls ||
            ((uintptr_t)b - (uintptr_t)_fl_span_start(s)) % _fl_span_bsize(s) ||
            !_fl_block_is_free(b) || ++n > k->carved_end;
    }
    if (bad || n != _fl_cache_count(k) || (empty && n)) {
      _fl_message("heap check: the thread's cache of class %zu is not a list of its free blocks",
                  cls);
      return 1;
    }
  }
  return 0;
}
