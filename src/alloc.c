// SPDX-License-Identifier: MIT
/* The allocation API: size-class blocks from the thread heap on the fast
 * path, large blocks as spans, outside blocks when the reservation is full. */
#include "api.h"

#include <errno.h>
#include <string.h>

/* --- Fast paths --------------------------------------------------------- */

/* rest: non-NULL for a block that replaces one realloc frees next
 * (_fl_span_alloc_moved). */
static void *alloc_large(size_t size, size_t align, bool zero, fl_span_rest_t *rest) {
  if (size > FL_MAX_ALLOC) return NULL;
  if (!_fl_ensure_init()) return _fl_outside_alloc(size, align);
  size_t slices = _fl_align_up(size + FL_GUARD, FL_SLICE) >> FL_SLICE_SHIFT;
  bool fresh = false;
  fl_span_t *s = rest ? _fl_span_alloc_moved(slices, align, &fresh, rest)
                      : _fl_span_alloc(slices, align, FL_SPAN_LARGE, &fresh);
  if (!s) {
    void *p = _fl_outside_alloc(size, align);
    return p; /* fresh OS memory reads as zero */
  }
  s->size = size;
  _fl_span_guard(s, true);
  void *p = _fl_span_start(s);
  if (zero && !fresh) memset(p, 0, size);
  return p;
}

/* The first class able to hold `size` at `align` (<= FL_SLICE): block
 * addresses are span start + i * bsize, so bsize must be a multiple of align. */
static size_t aligned_class(size_t size, size_t align) {
  size_t cls = _fl_size_class(_fl_align_up(size, align));
  while (cls < FL_CLASSES && _fl_class_size[cls] % align)
    cls++;
  return cls;
}

void *_fl_alloc_aligned(size_t size, size_t align, bool zero) {
  bool ready = _fl_ensure_init();
  if (FL_UNLIKELY(ready && _fl_passthrough)) return _fl_system_alloc(size, align, zero);
  if (size <= FL_SMALL_MAX && align <= FL_SLICE) {
    size_t cls = align <= FL_ALIGN ? _fl_size_class(size) : aligned_class(size, align);
    if (cls < FL_CLASSES) {
      fl_heap_t *h = _fl_heap_tl != &_fl_heap_none ? _fl_heap_tl : ready ? _fl_heap_get() : NULL;
      void *p = h ? _fl_heap_alloc(h, cls) : NULL;
      if (!p)
        p = _fl_outside_alloc(size, align);
      else if (zero)
        memset(p, 0, size);
      if (!p) errno = ENOMEM;
      return p;
    }
  }
  void *p = alloc_large(size, align < FL_ALIGN ? FL_ALIGN : align, zero, NULL);
  if (!p) errno = ENOMEM;
  return p;
}

void *_fl_malloc_rest(size_t size) {
  fl_heap_t *h = _fl_heap_tl;
  if (FL_LIKELY(h != &_fl_heap_none && size <= FL_SMALL_MAX))
    return _fl_heap_alloc(h, _fl_size_class(size));
  return _fl_alloc_aligned(size, FL_ALIGN, false);
}

void *_fl_malloc_slow(size_t size, size_t cls) {
  fl_heap_t *h = _fl_heap_tl;
  if (FL_UNLIKELY(h == &_fl_heap_none)) return _fl_alloc_aligned(size, FL_ALIGN, false);
  return _fl_heap_malloc_slow(h, cls);
}

void *fl_malloc(size_t size) {
  return _fl_malloc_inline(size);
}

void fl_free(void *p) {
  _fl_free_inline(p);
}

/* --- Slow paths --------------------------------------------------------- */

/* The span of p, checked; stops the process on a pointer faultless did not
 * hand out. NULL for outside blocks. */
static fl_span_t *checked_span(const void *p, const char *call) {
  if (!_fl_in_arena(p)) return NULL;
  fl_span_t *s = _fl_span_lookup(p);
  if (!s) {
    fl_span_t *d = &_fl_arena.spans[_fl_slice_of(p)];
    _fl_fatal(call, p,
              d->kind == FL_SPAN_FREE || d->kind == FL_SPAN_INTERIOR
                  ? "pointer not allocated (already freed, or never handed out)"
                  : "pointer was never handed out by faultless");
  }
  char *start = _fl_span_start(s);
  if (s->kind == FL_SPAN_LARGE) {
    if (p != start) _fl_fatal(call, p, "pointer inside a block, not at its start");
    return s;
  }
  uint64_t off = (uint64_t)((const char *)p - start);
  if (off * s->bsize_magic >= s->bsize_magic)
    _fl_fatal(call, p, "pointer inside a block, not at its start");
  if (off >= __atomic_load_n(&s->carved_end, __ATOMIC_RELAXED))
    _fl_fatal(call, p, "pointer was never handed out by faultless");
  const fl_block_t *b = p;
  if (_fl_block_is_free(b))
    _fl_fatal(call, p,
              _fl_span_held_back(s, off) ? "pointer was never handed out by faultless"
                                         : "double free");
  return s;
}

/* free's checks for b, `off` bytes into SMALL span s (any of its slices):
 * b starts a block that was handed out and is not already free. CHECKS=0
 * builds leave them out here too; checked_span still makes them. */
static bool span_free_ok(const fl_span_t *s, const fl_block_t *b, uint64_t off) {
#ifdef FL_NO_CHECKS
  (void)s, (void)b, (void)off;
  return true;
#else
  return off * s->bsize_magic < s->bsize_magic &&
         off < __atomic_load_n(&s->carved_end, __ATOMIC_RELAXED) && !_fl_block_is_free(b);
#endif
}

void _fl_free_slow(void *p, const char *call) {
  /* A block past its span's first slice (the spans of classes above 8 KiB
   * cover several) is freed here as the inline path frees the others, once
   * the lookup has found its span; what fails a check goes on below. */
  fl_span_t *d = _fl_in_arena(p) ? _fl_span_lookup(p) : NULL;
  if (d && d->kind == FL_SPAN_SMALL &&
      span_free_ok(d, p, (uint64_t)((char *)p - (char *)_fl_span_start(d)))) {
    _fl_free_block(_fl_heap_tl, d, p);
    return;
  }
  fl_span_t *s = checked_span(p, call);
  if (!s) {
    if (_fl_passthrough) {
      _fl_system_free(p);
      return;
    }
    if (!_fl_outside_free(p)) _fl_fatal(call, p, "pointer was never handed out by faultless");
    return;
  }
  if (s->kind == FL_SPAN_LARGE) {
    _fl_span_guard(s, false);
    _fl_span_free(s);
  } else {
    _fl_heap_free_small(s, p);
  }
}

size_t _fl_usable(const void *p, const char *call) {
  fl_span_t *s = checked_span(p, call);
  if (!s) {
    if (_fl_passthrough) return _fl_system_usable((void *)p);
    size_t n = _fl_outside_size(p);
    if (!n) _fl_fatal(call, p, "pointer was never handed out by faultless");
    return n;
  }
  return s->kind == FL_SPAN_LARGE ? _fl_span_usable(s) : _fl_span_bsize(s);
}

/* --- The rest of the API ------------------------------------------------ */

void *fl_calloc(size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  return _fl_alloc_aligned(total, FL_ALIGN, true);
}

void *fl_realloc(void *p, size_t size) {
  if (!p) return fl_malloc(size);
  if (FL_UNLIKELY(_fl_passthrough) && size > 0) return _fl_system_realloc(p, size);
  if (size == 0) { /* glibc's behaviour: free and return NULL */
    fl_free(p);
    return NULL;
  }
  size_t usable = _fl_usable(p, "realloc");
  if (size > FL_MAX_ALLOC) {
    errno = ENOMEM;
    return NULL;
  }
  fl_span_t *s = _fl_in_arena(p) ? _fl_span_lookup(p) : NULL;
  if (s && s->kind == FL_SPAN_LARGE && size > FL_SMALL_MAX) {
    size_t slices = _fl_align_up(size + FL_GUARD, FL_SLICE) >> FL_SLICE_SHIFT;
    /* Grow in place into free or fresh slices after the block: builders that
     * double their buffers then never copy. Shrink by freeing the tail. */
    if (slices != s->slices) {
      _fl_span_guard(s, false);
      bool grown = slices < s->slices || _fl_span_grow(s, slices);
      if (slices < s->slices) _fl_span_shrink(s, slices);
      _fl_span_guard(s, true);
      if (!grown) goto move;
    }
    s->size = size;
    return p;
  }
  /* A small block keeps its place while the new size fits and wastes at
   * most half of it. */
  if (size <= usable && (size >= usable / 2 || usable <= 64)) return p;
move:;
  fl_span_rest_t rest = {0, 0};
  void *q = size > FL_SMALL_MAX ? alloc_large(size, FL_ALIGN, false, &rest)
                                : _fl_alloc_aligned(size, FL_ALIGN, false);
  if (!q) {
    errno = ENOMEM;
    return NULL;
  }
  memcpy(q, p, size < usable ? size : usable);
  if (_fl_span_warm_rest(&rest) != 0) {
    fl_free(q);
    errno = ENOMEM;
    return NULL;
  }
  fl_free(p);
  return q;
}

void *fl_aligned_alloc(size_t alignment, size_t size) {
  if (!_fl_is_pow2(alignment)) {
    errno = EINVAL;
    return NULL;
  }
  return _fl_alloc_aligned(size, alignment, false);
}

int fl_posix_memalign(void **out, size_t alignment, size_t size) {
  if (!_fl_is_pow2(alignment) || alignment % sizeof(void *) != 0) return EINVAL;
  int saved = errno;
  void *p = _fl_alloc_aligned(size, alignment, false);
  errno = saved;
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

size_t fl_usable_size(const void *p) {
  return p ? _fl_usable(p, "usable_size") : 0;
}

/* --- Pages for the adapters --------------------------------------------- */

/* Both kinds of run for the adapters; a lease is left unpopulated and
 * queued for the warmers as a range. */
static void *pages_take(size_t size, size_t align, bool lease, bool *zeroed) {
  if (size == 0 || size > FL_MAX_ALLOC || !_fl_ensure_init() || _fl_passthrough) return NULL;
  bool fresh = false;
  size_t slices = _fl_align_up(size, FL_SLICE) >> FL_SLICE_SHIFT;
  fl_span_t *s = lease ? _fl_span_lease(slices, align, &fresh)
                       : _fl_span_alloc(slices, align, FL_SPAN_LARGE, &fresh);
  if (!s) return NULL;
  s->size = size;
  *zeroed = fresh;
  if (lease) _fl_warm_range(_fl_span_index(s), slices);
  return _fl_span_start(s);
}

bool _fl_pages_init(void) {
  return _fl_ensure_init();
}

void *_fl_pages_alloc(size_t size, size_t align, bool *zeroed) {
  return pages_take(size, align, false, zeroed);
}

void *_fl_pages_lease(size_t size, size_t align, bool *zeroed) {
  return pages_take(size, align, true, zeroed);
}

void _fl_pages_free(void *p) {
  _fl_free_slow(p, "pages_free");
}

bool _fl_pages_owned(const void *p) {
  return _fl_in_arena(p);
}

bool _fl_pages_claim_start_prefault(void) {
  return _fl_claim_start_prefault();
}

size_t _fl_pages_prefault_default(void) {
  return _fl_prefault_default();
}

bool _fl_pages_warming_on(void) {
  return _fl_warming_on();
}

int _fl_pages_warm_foreign(void *addr, size_t size) {
  return _fl_warm_foreign(addr, size);
}
