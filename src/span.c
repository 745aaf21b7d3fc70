// SPDX-License-Identifier: MIT
/* Spans: runs of slices cut from the reservation. Free spans sit in bins by
 * length, most recently freed first (they are the warmest); new memory comes
 * from the frontier in address order, which is the order the warmers warm.
 * All of it under one lock, the span layer's own: span allocation is the slow
 * path. Invariants (checked by FL_ASSERT and _fl_span_check): below the
 * frontier every slice belongs to exactly one span; a span's first
 * descriptor holds its kind and length, its others are INTERIOR; free spans
 * never touch (they coalesce) and each sits in the bin of its length; the
 * frontier only moves up. */
#include "spanfree.h"

#include <string.h>

fl_free_spans_t _fl_free_spans = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Below this growth a heap's size-class spans fault in as they are used,
 * even after a prefault. */
#define SMALL_HEAP (16 * FL_MiB)
/* Without a prefault, size-class spans are warmed only while this much is
 * in use: span_alloc. */
#define SMALL_WARM_IN_USE (96 * FL_MiB)

static void bin_push(fl_span_t *s) {
  FL_ASSERT(s->kind == FL_SPAN_FREE && s->slices > 0);
  fl_span_t **head = &_fl_free_spans.bins[_fl_span_bin_of(s->slices)];
  s->prev = NULL;
  s->next = *head;
  if (*head) (*head)->prev = s;
  *head = s;
}

static void bin_remove(fl_span_t *s) {
  FL_ASSERT(s->kind == FL_SPAN_FREE);
  FL_ASSERT(s->prev ? s->prev->next == s : _fl_free_spans.bins[_fl_span_bin_of(s->slices)] == s);
  FL_ASSERT(!s->next || s->next->prev == s);
  if (s->prev)
    s->prev->next = s->next;
  else
    _fl_free_spans.bins[_fl_span_bin_of(s->slices)] = s->next;
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = NULL;
}

/* Descriptor of the last slice points back to the first, so the span after a
 * freed one can find it to coalesce. */
static void mark_last(fl_span_t *s) {
  if (s->slices > 1) {
    fl_span_t *last = s + s->slices - 1;
    last->kind = FL_SPAN_INTERIOR;
    last->slices = s->slices - 1;
  }
}

void _fl_span_mark_interior(fl_span_t *s) {
  for (uint32_t i = 1; i < s->slices; i++) {
    s[i].kind = FL_SPAN_INTERIOR;
    s[i].slices = i;
  }
}

#ifdef FL_SECURE
void _fl_span_guard(fl_span_t *s, bool on) {
  _fl_prim_protect((char *)_fl_span_start(s) + _fl_span_usable(s), FL_GUARD, on);
}
#endif

/* Move the frontier up to slice f. pre: span lock held. */
static void frontier_raise(size_t f) {
  fl_arena_t *a = &_fl_arena;
  FL_ASSERT(f > atomic_load_explicit(&a->frontier, memory_order_relaxed) && f <= a->nslices);
  atomic_store_explicit(&a->frontier, f, memory_order_relaxed);
}

/* The free span that ends where slice `first` starts, or NULL. Interior
 * descriptors may be stale: trust only a FREE span that ends exactly there.
 * pre: span lock held. */
static fl_span_t *free_before(size_t first) {
  fl_span_t *spans = _fl_arena.spans;
  if (first == 0) return NULL;
  fl_span_t *p = &spans[first - 1];
  if (p->kind != FL_SPAN_FREE && p->kind != FL_SPAN_INTERIOR) return NULL;
  size_t pfirst = p->kind == FL_SPAN_INTERIOR ? first - 1 - p->slices : first - 1;
  fl_span_t *prev = &spans[pfirst];
  return prev->kind == FL_SPAN_FREE && pfirst + prev->slices == first ? prev : NULL;
}

/* Make [first, first+n) a free span with `flags`, merged with free
 * neighbours. pre: span lock held. */
static void free_range(size_t first, size_t n, uint8_t flags) {
  fl_arena_t *a = &_fl_arena;
  fl_span_t *spans = a->spans;
  size_t end = first + n;
  FL_ASSERT(n > 0 && end <= atomic_load_explicit(&a->frontier, memory_order_relaxed));
  if (end < atomic_load_explicit(&a->frontier, memory_order_relaxed) &&
      spans[end].kind == FL_SPAN_FREE) {
    fl_span_t *next = &spans[end];
    bin_remove(next);
    flags &= next->flags;
    n += next->slices;
    next->kind = FL_SPAN_NONE;
  }
  fl_span_t *prev = free_before(first);
  if (prev) {
    bin_remove(prev);
    flags &= prev->flags;
    n += prev->slices;
    spans[first].kind = FL_SPAN_NONE;
    first = _fl_span_index(prev);
  }
  fl_span_t *s = &spans[first];
  s->kind = FL_SPAN_FREE;
  s->flags = flags;
  s->slices = (uint32_t)n;
  s->freed_ms = a->base && _fl_option(FL_OPT_RELEASE) != FL_AUTO ? _fl_span_now_ms() : 0;
  mark_last(s);
  bin_push(s);
}

/* The first slice at or after `first` whose address is aligned to `align`
 * bytes: alignment is of addresses, and the base is only chunk-aligned. */
static size_t aligned_slice(size_t first, size_t align) {
  uintptr_t addr = (uintptr_t)_fl_slice_addr(first);
  return first + ((_fl_align_up(addr, align) - addr) >> FL_SLICE_SHIFT);
}

/* Cut `slices` at an `align`ed start out of free span s (already out of its
 * bin), giving head and tail back. Returns the first slice. */
static size_t carve(fl_span_t *s, size_t slices, size_t align) {
  size_t first = _fl_span_index(s), len = s->slices;
  uint8_t flags = s->flags;
  size_t start = aligned_slice(first, align);
  FL_ASSERT(start + slices <= first + len);
  s->kind = FL_SPAN_NONE;
  if (start > first) free_range(first, start - first, flags);
  if (start + slices < first + len) free_range(start + slices, first + len - start - slices, flags);
  return start;
}

static bool fits(fl_span_t *s, size_t slices, size_t align) {
  size_t first = _fl_span_index(s);
  return aligned_slice(first, align) + slices <= first + s->slices;
}

/* pre: span lock held. A free span that can hold `slices` aligned, or NULL. */
static fl_span_t *find_free(size_t slices, size_t align) {
  for (size_t b = slices; b < FL_SPAN_BINS; b++)
    for (fl_span_t *s = _fl_free_spans.bins[b]; s; s = s->next)
      if (fits(s, slices, align)) return s;
  for (fl_span_t *s = _fl_free_spans.bins[0]; s; s = s->next)
    if (fits(s, slices, align)) return s;
  return NULL;
}

/* mode: POPULATE_NONE leaves fresh memory as it is (the warmers reach it in
 * their own time); POPULATE_MOVED populates as POPULATE_AUTO but counts no
 * growth; otherwise as _fl_span_alloc says. */
enum { POPULATE_AUTO, POPULATE_NONE, POPULATE_MOVED };

/* Whether the program asked for warm memory: a prefault (PREFAULT,
 * fl_prefault, Lambda's default) raised the warmers' target. */
static bool prefault_asked(void) {
  return atomic_load_explicit(&_fl_arena.warm.prefault_until, memory_order_relaxed) > 0;
}

/* A size-class span is populated whole, and counts as growth, only when the
 * program asked for warm memory or holds SMALL_WARM_IN_USE, and from
 * SMALL_HEAP of growth on. Otherwise faultless acts as a plain allocator for
 * small blocks: their pages fault as they are carved, so that RSS is what
 * the program touches. A span whose blocks are partly used holds pages
 * nobody touched, and populated whole they counted in RSS: two threads
 * freeing each other's blocks left their spans a third unused, and the
 * heap's RSS was 1.5x its live bytes against 1.0x when faulted in
 * (TUNING.md). A heap that large gains speed from warming (its pages would
 * fault one by one) and has the room: warm-ahead keeps a quarter of its
 * recent growth, within the 1.3x of the footprint target. Each class's
 * first span populated whole would cost ~3 MiB per thread heap over every
 * class. */
static bool small_may_warm(int mode) {
  return mode == POPULATE_AUTO && _fl_warming_on() &&
         (prefault_asked() ||
          atomic_load_explicit(&_fl_counters.in_use, memory_order_relaxed) >= SMALL_WARM_IN_USE);
}

/* What span_alloc takes, and how it is to be made warm. */
typedef struct take_s {
  size_t first, slices;
  size_t warm_n;  /* slices to populate from first (a large span: up to a limit) */
  size_t pop;     /* below first + pop the memory was warm already */
  size_t crossed; /* the frontier crossed a chunk boundary: its new value */
  uint64_t grown; /* the heap's growth, after this span's */
  uint8_t flags;  /* the memory's FL_SPAN_* flags before the span took it */
  bool populate;  /* populate [first + pop, first + warm_n) in the call */
  bool counts;    /* the span counts as growth for warming ahead */
} take_t;

/* Take t->slices at the frontier. False when the reservation is full.
 * pre: span lock held. */
static bool take_frontier(take_t *t, size_t align, int mode) {
  fl_arena_t *a = &_fl_arena;
  size_t f = atomic_load_explicit(&a->frontier, memory_order_relaxed);
  /* A block realloc moves starts in the warm free span that ends at the
   * frontier, if there is one (too short, or find_free would have found it),
   * and takes only the rest from fresh memory: warm slices below the
   * frontier are not stranded for want of a few more. Two rounds of
   * realloc'd columns: the second, shifted by one slice a thread start had
   * taken, no longer fitted in what the first had freed, and its last 64 MiB
   * went above the frontier, 64 MiB more RSS. A free span not known warm
   * costs no RSS where it is. (Only for moves: other allocations keep their
   * layout, which the snapshot tests' chunk states rely on.) */
  fl_span_t *tail = mode == POPULATE_MOVED ? free_before(f) : NULL;
  size_t tfirst = tail ? _fl_span_index(tail) : f, tstart = aligned_slice(tfirst, align);
  if (tail && (tstart >= f || !(tail->flags & FL_SPAN_WARM))) tail = NULL;
  size_t first = tail ? tstart : aligned_slice(f, align);
  if (first + t->slices > a->nslices) return false;
  FL_ASSERT(first + t->slices > f); /* else find_free would have found the tail */
  t->first = first;
  t->flags = FL_SPAN_FRESH;
  if (tail) {
    t->flags = 0; /* part warm (populated from f on), part fresh */
    t->pop = f - first;
    bin_remove(tail);
    tail->kind = FL_SPAN_NONE;
  }
  frontier_raise(first + t->slices);
  if (tail && first > tfirst) free_range(tfirst, first - tfirst, FL_SPAN_WARM);
  if (!tail && first > f) free_range(f, first - f, FL_SPAN_FRESH);
  if ((first + t->slices) / FL_SLICES_PER_CHUNK != f / FL_SLICES_PER_CHUNK)
    t->crossed = first + t->slices;
  /* Growth: the span's warm part above the old frontier (not the padding
   * an alignment left below it). */
  size_t from = first > f ? first : f;
  if (t->counts && first + t->warm_n > from)
    _fl_free_spans.grown += (uint64_t)(first + t->warm_n - from) << FL_SLICE_SHIFT;
  t->grown = _fl_free_spans.grown;
  return true;
}

/* Make what t took warm as it says, outside the lock (other threads keep
 * allocating meanwhile), in one call. 0, or the errno of a populate that
 * failed. rest: see span_alloc. */
static int populate_taken(const take_t *t, int mode, fl_span_rest_t *rest) {
  bool was_warm = t->flags & FL_SPAN_WARM;
  /* What is not made warm here stays for the warmers (secure builds: is
   * taken from them, see _fl_populate_skip); a lease is the warmers'. */
  if (mode != POPULATE_NONE && !was_warm)
    _fl_populate_skip(t->populate ? t->first + t->warm_n : t->first,
                      t->populate ? t->slices - t->warm_n : t->slices);
  if (!t->populate || was_warm) return 0;
  size_t pop = t->pop > t->warm_n ? t->warm_n : t->pop, now_n = t->warm_n;
#ifndef FL_SECURE
  /* A block realloc moves: its old bytes are copied into the first half,
   * which is populated here, while the warmers populate the second half
   * beside the copy; _fl_span_warm_rest populates what they did not reach.
   * This is what warm-ahead gave a growing realloc'd buffer, without
   * warming beyond the block. (Secure builds: a warmer would stop at the
   * span's guard page.) */
  if (mode == POPULATE_MOVED && t->warm_n - pop >= 2 * FL_SLICES_PER_CHUNK) {
    size_t mid =
        _fl_align_up(t->first + pop + (t->warm_n - pop) / 2, FL_SLICES_PER_CHUNK) - t->first;
    if (mid < t->warm_n) {
      now_n = mid;
      rest->first = t->first + mid;
      rest->n = t->warm_n - mid;
      _fl_warm_beside(rest->first, rest->n);
    }
  }
#endif
  return _fl_warm_fresh(t->first + pop, now_n - pop);
}

/* rest (POPULATE_MOVED): what of the span is left to the warmers and to
 * _fl_span_warm_rest; {0, 0} when nothing is. */
static fl_span_t *span_alloc(size_t slices, size_t align, uint8_t kind, int mode, bool *fresh,
                             fl_span_rest_t *rest) {
  fl_arena_t *a = &_fl_arena;
  if (!a->base || slices == 0 || slices > a->nslices) return NULL;
  if (align < FL_SLICE) align = FL_SLICE;
  take_t t = {.slices = slices};
  /* A large span is made warm up to a limit (_fl_populate_slices); its
   * pages beyond fault in as the program touches them, or a warmer that
   * comes by populates them. */
  t.warm_n = kind == FL_SPAN_LARGE ? _fl_populate_slices(slices) : slices;
  bool small_may = small_may_warm(mode);
  /* What counts as growth: a realloc's new block replaces one it frees
   * right after, so the heap grows by the difference at most (its columns
   * doubling in turn to 64 MiB had warm-ahead keep 65 MiB warm that nothing
   * reached); size-class spans count only when they may be populated. */
  t.counts = kind == FL_SPAN_LARGE ? mode != POPULATE_MOVED : small_may;
  pthread_mutex_lock(&_fl_free_spans.lock);
  t.populate = kind == FL_SPAN_LARGE ? mode != POPULATE_NONE
                                     : small_may && _fl_free_spans.grown >= SMALL_HEAP;
  fl_span_t *s = find_free(slices, align);
  if (s) {
    t.flags = s->flags;
    bin_remove(s);
    t.first = carve(s, slices, align);
  } else if (!take_frontier(&t, align, mode)) {
    pthread_mutex_unlock(&_fl_free_spans.lock);
    return NULL;
  }
  FL_ASSERT(t.first + slices <= atomic_load_explicit(&a->frontier, memory_order_relaxed));
  s = &a->spans[t.first];
  s->kind = kind;
  s->flags = FL_SPAN_WARM;
  s->slices = (uint32_t)slices;
  s->next = s->prev = NULL;
  _fl_span_mark_interior(s);
  _fl_stats_in_use_add(slices << FL_SLICE_SHIFT);
  pthread_mutex_unlock(&_fl_free_spans.lock);
  /* A lease is warmed as a range by its taker, not ahead of the heap. */
  if (t.crossed && mode != POPULATE_NONE) _fl_warm_ahead(t.crossed, t.grown);
  if (populate_taken(&t, mode, rest) != 0) {
    rest->first = rest->n = 0; /* the span is gone: nothing left to warm */
    pthread_mutex_lock(&_fl_free_spans.lock);
    _fl_stats_in_use_sub(slices << FL_SLICE_SHIFT);
    free_range(t.first, slices, t.flags);
    pthread_mutex_unlock(&_fl_free_spans.lock);
    return NULL;
  }
  *fresh = (t.flags & FL_SPAN_FRESH) != 0;
  if (kind == FL_SPAN_SMALL)
    FL_STAT_ADD(spans_small, 1);
  else
    FL_STAT_ADD(spans_large, 1);
  return s;
}

fl_span_t *_fl_span_alloc(size_t slices, size_t align, uint8_t kind, bool *fresh) {
  fl_span_rest_t rest = {0, 0};
  return span_alloc(slices, align, kind, POPULATE_AUTO, fresh, &rest);
}

fl_span_t *_fl_span_alloc_moved(size_t slices, size_t align, bool *fresh, fl_span_rest_t *rest) {
  rest->first = rest->n = 0;
  return span_alloc(slices, align, FL_SPAN_LARGE, POPULATE_MOVED, fresh, rest);
}

int _fl_span_warm_rest(const fl_span_rest_t *rest) {
  return rest->n ? _fl_warm_fresh(rest->first, rest->n) : 0;
}

fl_span_t *_fl_span_lease(size_t slices, size_t align, bool *fresh) {
  fl_span_rest_t rest = {0, 0};
  return span_alloc(slices, align, FL_SPAN_LARGE, POPULATE_NONE, fresh, &rest);
}

void _fl_span_free(fl_span_t *s) {
  pthread_mutex_lock(&_fl_free_spans.lock);
  if (s->kind != FL_SPAN_SMALL && s->kind != FL_SPAN_LARGE) {
    pthread_mutex_unlock(&_fl_free_spans.lock);
    _fl_fatal("free", _fl_span_start(s), "block already freed");
  }
  size_t first = _fl_span_index(s), n = s->slices;
  _fl_stats_in_use_sub(n << FL_SLICE_SHIFT);
  s->kind = FL_SPAN_NONE;
  free_range(first, n, FL_SPAN_WARM);
  long long release = _fl_option(FL_OPT_RELEASE);
  if (release != FL_AUTO) {
    uint64_t now = _fl_span_now_ms();
    if (now - _fl_free_spans.last_release_ms >= (uint64_t)(release / 2 > 10 ? release / 2 : 10)) {
      _fl_free_spans.last_release_ms = now;
      pthread_mutex_unlock(&_fl_free_spans.lock);
      _fl_span_release_idle((uint64_t)release);
      return;
    }
  }
  pthread_mutex_unlock(&_fl_free_spans.lock);
}

bool _fl_span_grow(fl_span_t *s, size_t slices) {
  fl_arena_t *a = &_fl_arena;
  FL_ASSERT(s->kind == FL_SPAN_LARGE && slices > s->slices);
  size_t first = _fl_span_index(s), end = first + s->slices, need = slices - s->slices;
  uint8_t flags;
  pthread_mutex_lock(&_fl_free_spans.lock);
  size_t f = atomic_load_explicit(&a->frontier, memory_order_relaxed);
  if (end == f && f + need <= a->nslices) {
    frontier_raise(f + need);
    flags = FL_SPAN_FRESH;
  } else if (end < f && a->spans[end].kind == FL_SPAN_FREE && a->spans[end].slices >= need) {
    fl_span_t *next = &a->spans[end];
    flags = next->flags;
    bin_remove(next);
    carve(next, need, FL_SLICE);
  } else if (end < f && a->spans[end].kind == FL_SPAN_FREE && end + a->spans[end].slices == f &&
             end + need <= a->nslices) {
    /* The free neighbour runs up to the frontier: take it and the rest from
     * fresh memory. Part may be warm and part not; populate checks. */
    fl_span_t *next = &a->spans[end];
    bin_remove(next);
    next->kind = FL_SPAN_NONE;
    frontier_raise(end + need);
    flags = 0;
  } else {
    pthread_mutex_unlock(&_fl_free_spans.lock);
    return false;
  }
  s->slices = (uint32_t)slices;
  _fl_span_mark_interior(s);
  _fl_stats_in_use_add(need << FL_SLICE_SHIFT);
  pthread_mutex_unlock(&_fl_free_spans.lock);
  size_t warm_n = _fl_populate_slices(need);
  if (!(flags & FL_SPAN_WARM)) _fl_populate_skip(end + warm_n, need - warm_n);
  if (!(flags & FL_SPAN_WARM) && _fl_warm_fresh(end, warm_n) != 0) {
    _fl_span_shrink(s, slices - need);
    return false;
  }
  return true;
}

void _fl_span_shrink(fl_span_t *s, size_t slices) {
  FL_ASSERT(s->kind == FL_SPAN_LARGE);
  pthread_mutex_lock(&_fl_free_spans.lock);
  size_t first = _fl_span_index(s), old = s->slices;
  if (slices < old) {
    s->slices = (uint32_t)slices;
    _fl_stats_in_use_sub((old - slices) << FL_SLICE_SHIFT);
    free_range(first + slices, old - slices, FL_SPAN_WARM);
  }
  pthread_mutex_unlock(&_fl_free_spans.lock);
}

/* --- Lookup and checking ------------------------------------------------ */

int _fl_span_check(void) {
  fl_arena_t *a = &_fl_arena;
  if (!a->base) return 0;
  int rc = 0;
  pthread_mutex_lock(&_fl_free_spans.lock);
  size_t f = atomic_load(&a->frontier), free_walked = 0, free_binned = 0;
  bool prev_free = false;
  for (size_t i = 0; i < f && rc == 0;) {
    fl_span_t *s = &a->spans[i];
    if ((s->kind != FL_SPAN_FREE && s->kind != FL_SPAN_SMALL && s->kind != FL_SPAN_LARGE) ||
        s->slices == 0 || i + s->slices > f) {
      _fl_message("heap check: slice %zu has a bad span descriptor (kind %d, %u slices)", i,
                  s->kind, s->slices);
      rc = 1;
      break;
    }
    /* Free's fast path takes a descriptor with a first_lim for SMALL. */
    for (size_t j = i; j < i + s->slices && rc == 0; j++)
      if (a->spans[j].first_lim != 0 && (j > i || s->kind != FL_SPAN_SMALL)) {
        _fl_message("heap check: slice %zu has a first-slice limit but is not a small span's", j);
        rc = 1;
      }
    if (s->kind == FL_SPAN_FREE) {
      if (prev_free) {
        _fl_message("heap check: free span at slice %zu was not coalesced", i);
        rc = 1;
      }
      free_walked += s->slices;
    }
    prev_free = s->kind == FL_SPAN_FREE;
    i += s->slices;
  }
  for (size_t b = 0; b < FL_SPAN_BINS && rc == 0; b++)
    for (fl_span_t *s = _fl_free_spans.bins[b]; s; s = s->next) {
      if (s->kind != FL_SPAN_FREE || _fl_span_bin_of(s->slices) != b) {
        _fl_message("heap check: bin %zu holds a span that is not free or of another length", b);
        rc = 1;
        break;
      }
      free_binned += s->slices;
    }
  if (rc == 0 && free_walked != free_binned) {
    _fl_message("heap check: %zu free slices in the arena but %zu in the bins", free_walked,
                free_binned);
    rc = 1;
  }
  pthread_mutex_unlock(&_fl_free_spans.lock);
  return rc;
}
/* --- Fork --------------------------------------------------------------- */

void _fl_span_lock(bool lock) {
  if (lock)
    pthread_mutex_lock(&_fl_free_spans.lock);
  else
    pthread_mutex_unlock(&_fl_free_spans.lock);
}
