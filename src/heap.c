// SPDX-License-Identifier: MIT
/* Thread heaps: each thread allocates small blocks from size-class spans it
 * owns, without locks. A block freed by another thread is pushed onto its
 * span's atomic remote list and collected by the owner on its slow path,
 * unless that thread is in caching mode (heapcache.c). The heap of an
 * exited thread is kept and adopted by the next new thread, with its blocks
 * and pending remote frees. */
#include "heap.h"

#include <errno.h>
#include <string.h>

_Static_assert(FL_SLICE / 16 <= FL_REMOTE_COUNT / FL_REMOTE_ONE,
               "a span's remote count holds every block of a one-slice span");
_Static_assert((8 * FL_SMALL_MAX + FL_SLICE + FL_GUARD_MAX) / 16 < FL_REMOTE_HEAD,
               "a span's remote head holds the offset / 16 of any block");
/* A span of more than one slice has fewer than 16 blocks (class_slices). */
_Static_assert(FL_SLICE / 16 <= UINT16_MAX, "a span's used count holds every block");

_Alignas(2 * FL_TWIN_BIT) fl_heap_t _fl_heap_none;
__thread fl_heap_t *_fl_heap_tl __attribute__((tls_model("initial-exec"))) = &_fl_heap_none;
uintptr_t _fl_free_key;
uint64_t _fl_class_magic[FL_CLASSES];
uint16_t _fl_class_color[FL_CLASSES];

/* Block size of each class: 16-byte steps to 128, then four classes per
 * doubling up to 128 KiB. Matches _fl_size_class(). */
#define C4(b)                                                                                      \
  (1u << (b)) + (1u << ((b)-2)), (1u << (b)) + (2u << ((b)-2)), (1u << (b)) + (3u << ((b)-2)),     \
      (1u << ((b) + 1))
const uint32_t _fl_class_size[FL_CLASSES] = {0,      16,     32,     48,     64,    80,     96,
                                             112,    128,    C4(7),  C4(8),  C4(9), C4(10), C4(11),
                                             C4(12), C4(13), C4(14), C4(15), C4(16)};

/* The class of each size up to FL_CLASS_TABLE_MAX, in 16-byte steps:
 * _fl_class_of_small[(size + 15) >> 4], entry i being the class of size 16 * i
 * by the arithmetic of _fl_size_class (class boundaries above 128 B are
 * multiples of 32). The unit tests check every size against the arithmetic. */
#define TOP_BIT(x) (63 - __builtin_clzll(x))
#define CLASS_AT(i)                                                                                \
  ((uint8_t)((i) <= 8 ? ((i) > 0 ? (i) : 1)                                                        \
                      : 9 + (TOP_BIT(16ull * (i)-1) - 7) * 4 +                                     \
                            (((16ull * (i)-1) >> (TOP_BIT(16ull * (i)-1) - 2)) & 3)))
#define CLASSES4(i) CLASS_AT(i), CLASS_AT((i) + 1), CLASS_AT((i) + 2), CLASS_AT((i) + 3)
#define CLASSES16(i) CLASSES4(i), CLASSES4((i) + 4), CLASSES4((i) + 8), CLASSES4((i) + 12)
#define CLASSES64(i) CLASSES16(i), CLASSES16((i) + 16), CLASSES16((i) + 32), CLASSES16((i) + 48)
#define CLASSES256(i) CLASSES64(i), CLASSES64((i) + 64), CLASSES64((i) + 128), CLASSES64((i) + 192)
_Static_assert(FL_CLASS_TABLE_MAX == 16 * 1024, "the table below has 16 KiB / 16 + 1 entries");
const uint8_t _fl_class_of_small[FL_CLASS_TABLE_MAX / 16 + 1] = {
    CLASSES256(0), CLASSES256(256), CLASSES256(512), CLASSES256(768), CLASS_AT(1024)};

static pthread_key_t heap_key;
static pthread_mutex_t heaps_lock = PTHREAD_MUTEX_INITIALIZER;
static fl_heap_t *abandoned;
static fl_heap_t *all_heaps;
static char *slab; /* heaps are carved from OS pages, never freed */
static size_t slab_left;
/* Each heap takes a block of this alignment: the heap, and its twin above. */
#define HEAP_BLOCK (2 * FL_TWIN_BIT)
#define HEAPS_PER_SLAB 16
/* Every SWEEP_EVERY malloc slow paths, a sweep looks at SWEEP_SPANS listed
 * spans or more (sweep_empty). */
#define SWEEP_EVERY 256
#define SWEEP_SPANS 64

/* Slices of a class's span: at least 8 blocks, at least one slice. */
static size_t class_slices(size_t cls) {
  size_t bytes = (size_t)_fl_class_size[cls] * 8 + FL_GUARD;
  if (bytes < FL_SLICE) bytes = FL_SLICE;
  return _fl_align_up(bytes, FL_SLICE) >> FL_SLICE_SHIFT;
}

/* The classes' colors (heap.h). The classes with the fewest choices (the
 * largest blocks) choose first; each takes the start whose 64-byte line
 * (its L1 set, for a cache of 64 sets) the fewest classes have taken, the
 * lowest such start on a tie. Classes up to 512 bytes each get a set of
 * their own (test/classes.c). */
static void choose_colors(void) {
  uint8_t taken[FL_COLOR_RANGE / 64] = {0};
  for (size_t cls = FL_CLASSES - 1; cls > 0; cls--) {
    uint32_t b = _fl_class_size[cls], best = 0;
    for (uint32_t c = b; c + b <= FL_COLOR_RANGE; c += b)
      if (taken[c / 64] < taken[best / 64]) best = c;
    taken[best / 64]++;
    _fl_class_color[cls] = (uint16_t)best;
  }
}

void _fl_heap_init(void) {
  pthread_key_create(&heap_key, _fl_heap_thread_exit);
  _fl_free_key = (uintptr_t)_fl_prim_random() | 1;
  for (size_t cls = 1; cls < FL_CLASSES; cls++) {
    uint64_t b = _fl_class_size[cls]; /* floor(2^64 / b) + 1, b a power of two or not */
    _fl_class_magic[cls] = UINT64_MAX / b + 1 + (UINT64_MAX % b == b - 1);
  }
  choose_colors();
}

/* --- Heap life ---------------------------------------------------------- */

static fl_heap_t *heap_new(void) {
  if (slab_left == 0) {
    /* One page more than the blocks, to align them. */
    char *m = _fl_prim_map(HEAPS_PER_SLAB * HEAP_BLOCK + FL_TWIN_BIT);
    if (!m) return NULL;
    slab = (char *)_fl_align_up((uintptr_t)m, HEAP_BLOCK);
    slab_left = HEAPS_PER_SLAB;
  }
  slab_left--;
  fl_heap_t *h = (fl_heap_t *)slab;
  slab += HEAP_BLOCK;
  memset(h, 0, sizeof *h);
  h->next_all = all_heaps;
  all_heaps = h;
  return h;
}

/* pre: the library is initialised (the API layer makes sure). */
fl_heap_t *_fl_heap_get(void) {
  if (_fl_heap_tl != &_fl_heap_none) return _fl_heap_tl;
  pthread_mutex_lock(&heaps_lock);
  fl_heap_t *h = abandoned;
  if (h) {
    abandoned = h->next_abandoned;
    h->abandoned = false;
    FL_STAT_ADD(heaps_reused, 1);
  } else {
    h = heap_new();
    if (h) FL_STAT_ADD(heaps, 1);
  }
  pthread_mutex_unlock(&heaps_lock);
  if (!h) return NULL;
  _fl_heap_tl = h;
  /* Set after _fl_heap_tl: pthread_setspecific may itself call malloc. */
  pthread_setspecific(heap_key, h);
  return h;
}

/* --- Spans of a class --------------------------------------------------- */

static void list_push(fl_heap_t *h, fl_span_t *s) {
  FL_ASSERT(s->kind == FL_SPAN_SMALL && s->heap == h && !s->in_list);
  fl_span_t **head = &h->avail[s->cls];
  s->prev = NULL;
  s->next = *head;
  if (*head)
    (*head)->prev = s;
  else
    h->avail_tail[s->cls] = s;
  *head = s;
  s->in_list = 1;
}

/* A span that fills up leaves its list; the first free into it puts it back
 * at the tail, so it gathers free blocks while the head span serves, instead
 * of flapping between full and listed on every free. */
static void list_append(fl_heap_t *h, fl_span_t *s) {
  FL_ASSERT(s->kind == FL_SPAN_SMALL && s->heap == h && !s->in_list);
  fl_span_t **tail = &h->avail_tail[s->cls];
  s->next = NULL;
  s->prev = *tail;
  if (*tail)
    (*tail)->next = s;
  else
    h->avail[s->cls] = s;
  *tail = s;
  s->in_list = 1;
}

static void list_remove(fl_heap_t *h, fl_span_t *s) {
  FL_ASSERT(s->in_list && s->heap == h);
  FL_ASSERT(s->prev ? s->prev->next == s : h->avail[s->cls] == s);
  FL_ASSERT(s->next ? s->next->prev == s : h->avail_tail[s->cls] == s);
  if (s->prev)
    s->prev->next = s->next;
  else
    h->avail[s->cls] = s->next;
  if (s->next)
    s->next->prev = s->prev;
  else
    h->avail_tail[s->cls] = s->prev;
  s->next = s->prev = NULL;
  s->in_list = 0;
}

/* Where the last whole block of s ends. */
static uint32_t blocks_end(const fl_span_t *s) {
  uint32_t bsize = _fl_span_bsize(s), usable = (uint32_t)_fl_span_usable(s);
  return usable - usable % bsize;
}

/* The slice info of s (heap.h). */
static void set_info(fl_span_t *s, uint16_t info) {
  atomic_store_explicit(&_fl_arena.slice_info[_fl_span_index(s)], info, memory_order_relaxed);
}

/* Whether s has blocks left to carve: another one below its usable end
 * (carved_end is a multiple of the block size, so this is carved_end <
 * blocks_end without its division, on every look at an exhausted span),
 * or the ones its color holds back. */
static bool can_carve(const fl_span_t *s) {
  return (size_t)s->carved_end + _fl_span_bsize(s) <= _fl_span_usable(s) ||
         (s->flags & FL_SPAN_HOLDING);
}

/* Put the blocks of s in [from, stop) on its free list, in address order,
 * each with the free tag: a free of one not yet handed out fails the
 * checks. */
static void push_carved(fl_span_t *s, uint32_t from, uint32_t stop) {
  uint32_t bsize = _fl_span_bsize(s);
  char *start = _fl_span_start(s);
  for (uint32_t off = stop; off > from;) {
    off -= bsize;
    fl_block_t *b = (fl_block_t *)(start + off);
    _fl_block_set_next(b, s->free);
    _fl_block_mark_free(b);
#ifdef FL_DEBUG
    _fl_debug_fill_freed(b, bsize);
#endif
    s->free = b;
  }
}

/* Carve the next blocks of s's untouched tail onto its free list: up to a
 * page's worth, the first time only to the end of the first page (it starts
 * at the color); or, once the tail is all carved, the blocks the color held
 * back. Carving as the span fills, not all at once, keeps a span that holds
 * a few blocks from touching all its pages. pre: can_carve(s). */
static void carve(fl_span_t *s) {
  uint32_t bsize = _fl_span_bsize(s), end = blocks_end(s), from = s->carved_end;
  if (from == end) {
    FL_ASSERT(s->flags & FL_SPAN_HOLDING);
    push_carved(s, 0, _fl_class_color[s->cls]);
    s->flags &= (uint8_t)~FL_SPAN_HOLDING;
    return;
  }
  uint32_t page = (uint32_t)_fl_prim_page_size();
  uint32_t room = from < page ? page - from : page;
  uint32_t n = bsize >= room ? 1 : room / bsize;
  uint32_t stop = from + n * bsize < end ? from + n * bsize : end;
  FL_ASSERT(s->kind == FL_SPAN_SMALL && from < stop && stop <= end);
  push_carved(s, from, stop);
  /* Relaxed atomics: a thread freeing a block of s reads them (checked_span,
   * free's fast path). */
  __atomic_store_n(&s->carved_end, stop, __ATOMIC_RELAXED);
  __atomic_store_n(&s->first_lim, _fl_span_first_lim(s), __ATOMIC_RELAXED);
  if (s->cls < FL_CACHE_CLASSES) {
    uint32_t kib = stop >> 10 < FL_INFO_KIB_MAX ? stop >> 10 : FL_INFO_KIB_MAX;
    set_info(s, (uint16_t)(s->cls | kib << FL_INFO_SHIFT));
  }
}

static fl_span_t *span_new(fl_heap_t *h, size_t cls) {
  bool fresh;
  fl_span_t *s = _fl_span_alloc(class_slices(cls), FL_SLICE, FL_SPAN_SMALL, &fresh);
  if (!s) return NULL;
  s->cls = (uint8_t)cls;
  s->bsize_magic = _fl_class_magic[cls];
  atomic_store_explicit(&s->remote_head, 0, memory_order_relaxed);
  _fl_span_guard(s, true);
  s->used = 0;
  s->heap = h;
  s->free = NULL;
  uint32_t color = _fl_class_color[cls], bsize = _fl_span_bsize(s);
  char *start = _fl_span_start(s);
  for (uint32_t off = 0; off < color; off += bsize)
    _fl_block_mark_free((fl_block_t *)(start + off));
  if (color) s->flags |= FL_SPAN_HOLDING;
  __atomic_store_n(&s->carved_end, color, __ATOMIC_RELAXED);
  carve(s);
  list_push(h, s);
  return s;
}

static void span_retire(fl_heap_t *h, fl_span_t *s) {
  FL_ASSERT(s->heap == h && !(s->flags & FL_SPAN_HELD));
  if (s->in_list) list_remove(h, s);
  if (s->cls < FL_CACHE_CLASSES) set_info(s, 0);
  __atomic_store_n(&s->first_lim, 0, __ATOMIC_RELAXED); /* 0 unless SMALL */
  s->heap = NULL;
  _fl_span_guard(s, false);
  _fl_span_free(s);
}

/* A remote head word's parts: how many blocks its list holds, and the block
 * at a head (offset / 16 + 1; 0: none) of span start `start`. */
static inline uint32_t remote_count(uint32_t head) {
  return (head & FL_REMOTE_COUNT) / FL_REMOTE_ONE;
}
static inline fl_block_t *remote_block(char *start, uint32_t head) {
  uint32_t at = head & FL_REMOTE_HEAD;
  return at ? (fl_block_t *)(start + ((size_t)(at - 1) << 4)) : NULL;
}

/* --- Freeing to the owner ----------------------------------------------- */

/* pre: the caller owns s->heap; b is a live block of s. An emptied span
 * stays listed (it is the warmest memory for its class); sweep_empty gives
 * spare empty spans back now and then. */
void _fl_heap_free_local(fl_heap_t *h, fl_span_t *s, fl_block_t *b) {
  FL_ASSERT(s->heap == h && s->used > 0);
  _fl_span_push(s, b);
  s->used--;
  if (!s->in_list) list_append(h, s);
}

void _fl_heap_relink(fl_span_t *s) {
  list_append(s->heap, s);
}

void _fl_heap_free_small(fl_span_t *s, fl_block_t *b) {
  if (s->heap == _fl_heap_tl) /* never a twin: in caching mode every free goes to the cache */
    _fl_heap_free_local(s->heap, s, b);
  else
    _fl_heap_free_remote(s, b);
}

void _fl_heap_free_remote(fl_span_t *s, fl_block_t *b) {
  fl_heap_t *me = _fl_heap_tl;
  if (_fl_heap_is_twin(me)) {
    _fl_cache_free(me, s, b);
    return;
  }
  _fl_heap_give_back(s, b);
  if (me != &_fl_heap_none) _fl_cache_note_foreign(me);
}

/* Hand back: mark the block free (double frees are caught the same way)
 * and push it on the span's own remote list. The freer that makes the list
 * non-empty also announces the span on its owner's remote_spans stack, so the
 * owner finds it even when the span is full and off its lists. Per-span lists
 * keep the freeing threads off one shared cache line. */
void _fl_heap_give_back(fl_span_t *s, fl_block_t *b) {
  fl_heap_t *h = s->heap;
  char *start = _fl_span_start(s);
#ifdef FL_DEBUG
  _fl_debug_fill_freed(b, _fl_span_bsize(s));
#endif
  _fl_block_mark_free(b);
  uint32_t me = (uint32_t)(((char *)b - start) >> 4) + 1;
  FL_ASSERT(s->kind == FL_SPAN_SMALL && me <= FL_REMOTE_HEAD);
  uint32_t head = atomic_load_explicit(&s->remote_head, memory_order_relaxed);
  do {
    _fl_block_set_next(b, remote_block(start, head));
    /* The count never wraps: a span's remote list holds at most its blocks. */
    FL_ASSERT((head & FL_REMOTE_COUNT) != FL_REMOTE_COUNT);
  } while (!atomic_compare_exchange_weak_explicit(
      &s->remote_head, &head, ((head & FL_REMOTE_COUNT) + FL_REMOTE_ONE) | me | FL_REMOTE_ANNOUNCED,
      memory_order_acq_rel, memory_order_relaxed));
  if (head & FL_REMOTE_ANNOUNCED) return; /* acq_rel above: after the owner's read of remote_link */
  uint32_t self = (uint32_t)_fl_span_index(s) + 1;
  uint32_t top = atomic_load_explicit(&h->remote_spans, memory_order_relaxed);
  do {
    s->remote_link = top;
  } while (!atomic_compare_exchange_weak_explicit(&h->remote_spans, &top, self,
                                                  memory_order_release, memory_order_relaxed));
}

/* Move a remote list onto s's free list. It goes in front, so when s has
 * free blocks this walks the list for its tail: each step is a miss on a line
 * another core wrote, which is why collect_remote avoids it. */
static void take_remote(fl_heap_t *h, fl_span_t *s, uint32_t head) {
  uint32_t n = remote_count(head);
  char *start = _fl_span_start(s);
  fl_block_t *first = remote_block(start, head);
  if (!first) return;
  if (FL_UNLIKELY(n == 0 || n > s->used)) _fl_corrupt_free_list(s, first);
#if defined(FL_SECURE) || defined(FL_DEBUG)
  bool walk = true; /* check every link, as the default build did before counting */
#else
  bool walk = s->free != NULL;
#endif
  if (walk) {
    fl_block_t *last = first;
    for (uint32_t i = 1; i < n; i++) {
      last = _fl_block_next(last);
      if (FL_UNLIKELY((uintptr_t)last - (uintptr_t)start >= s->carved_end))
        _fl_corrupt_free_list(s, last);
    }
    if (FL_UNLIKELY(_fl_block_next(last) != NULL)) _fl_corrupt_free_list(s, last);
    if (s->free) _fl_block_set_next(last, s->free);
  }
  s->free = first;
  s->used -= n;
  FL_ASSERT(s->heap == h);
  if (!s->in_list) list_append(h, s);
}

/* Take s's remote list, which clears ANNOUNCED. acq_rel: the owner's read of
 * remote_link happens before a freer that sees the cleared head announces the
 * span again (writing remote_link); the blocks' links are visible after. */
static void take_announced(fl_heap_t *h, fl_span_t *s) {
  FL_ASSERT(s->kind == FL_SPAN_SMALL && s->heap == h);
  FL_ASSERT(atomic_load_explicit(&s->remote_head, memory_order_relaxed) & FL_REMOTE_ANNOUNCED);
  s->flags &= (uint8_t)~FL_SPAN_HELD;
  take_remote(h, s, atomic_exchange_explicit(&s->remote_head, 0, memory_order_acq_rel));
}

/* Collect every announced span. A span leaves the stack before its list is
 * taken, so it is never on the stack twice, and one on the stack always has
 * blocks pending: it cannot be retired meanwhile. A span that still has free
 * blocks is HELD instead: it stays announced (freers keep pushing without
 * announcing it again) and its list is taken when its free list runs out,
 * with no walk. `all` takes every list now (thread exit). */
static void collect_remote(fl_heap_t *h, bool all) {
  uint32_t top = atomic_exchange_explicit(&h->remote_spans, 0, memory_order_acquire);
  while (top) {
    fl_span_t *s = &_fl_arena.spans[top - 1];
    top = s->remote_link;
    if (FL_UNLIKELY(s->kind != FL_SPAN_SMALL || s->heap != h)) _fl_corrupt_free_list(s, s);
    if (s->free && !all)
      s->flags |= FL_SPAN_HELD;
    else
      take_announced(h, s);
  }
  if (!all) return;
  for (size_t cls = 1; cls < FL_CLASSES; cls++)
    for (fl_span_t *s = h->avail[cls]; s; s = s->next)
      if (s->flags & FL_SPAN_HELD) take_announced(h, s);
}

/* Blocks of s on a held remote list (0 unless HELD). */
static uint32_t held_blocks(const fl_span_t *s) {
  if (!(s->flags & FL_SPAN_HELD)) return 0;
  return remote_count(atomic_load_explicit(&s->remote_head, memory_order_relaxed));
}

/* Give empty spans back to the arena, keeping at most `keep` per class. A
 * held span whose remote list holds every block it handed out is empty too:
 * its list goes with it, unwalked. The sweep goes through whole classes,
 * from where the last one stopped, until it has looked at `budget` spans
 * (SIZE_MAX: every class once): each look may miss on a descriptor, and a
 * sweep of every list at every turn cost a heap of a thousand spans more
 * than the slow paths it served (TUNING.md). */
static void sweep_empty(fl_heap_t *h, int keep, size_t budget) {
  size_t seen = 0;
  for (size_t n = 1; n < FL_CLASSES && seen < budget; n++) {
    size_t cls = 1 + h->sweep_next++ % (FL_CLASSES - 1);
    int kept = 0;
    for (fl_span_t *s = h->avail[cls], *next; s; s = next, seen++) {
      next = s->next;
      if (s->used != held_blocks(s) || ++kept <= keep) continue;
      if (s->flags & FL_SPAN_HELD) {
        s->flags &= (uint8_t)~FL_SPAN_HELD;
        uint32_t head = atomic_exchange_explicit(&s->remote_head, 0, memory_order_acq_rel);
        /* Every block is free, so only a double free could have added one. */
        if (remote_count(head) != s->used) _fl_corrupt_free_list(s, s);
      }
      span_retire(h, s);
    }
  }
}

/* --- Allocation slow path ----------------------------------------------- */

void *_fl_heap_malloc_slow(fl_heap_t *h, size_t cls) {
  FL_ASSERT(cls >= 1 && cls < FL_CLASSES && h == _fl_heap_tl);
  return _fl_heap_is_twin(h) ? _fl_cache_refill(h, cls) : _fl_heap_take(h, cls);
}

/* When the heap has no room (the reservation is full): a block of the
 * class's size from outside the arena, aligned as a block of the class is,
 * at a multiple of its size from a slice boundary, so to the size's lowest
 * set bit up to a slice (what an aligned allocation's class relies on). */
static void *outside_block(size_t cls) {
  size_t bsize = _fl_class_size[cls], align = bsize & (0 - bsize);
  void *p = _fl_outside_alloc(bsize, align < FL_SLICE ? align : FL_SLICE);
  if (!p) errno = ENOMEM;
  return p;
}

void *_fl_heap_take(fl_heap_t *h, size_t cls) {
  if (atomic_load_explicit(&h->remote_spans, memory_order_relaxed)) collect_remote(h, false);
  if ((++h->slow_calls & (SWEEP_EVERY - 1)) == 0) sweep_empty(h, 1, SWEEP_SPANS);
  fl_span_t *s;
  /* Spans without free blocks leave the list (a free to them puts them
   * back), unless remote frees wait for them or their untouched tail can
   * give more. */
  while ((s = h->avail[cls]) && !s->free) {
    if (s->flags & FL_SPAN_HELD) {
      take_announced(h, s);
      break;
    }
    if (can_carve(s)) {
      carve(s);
      break;
    }
    list_remove(h, s);
  }
  if (!s && !(s = span_new(h, cls))) return outside_block(cls);
  FL_ASSERT(s->free && s->cls == cls && s->heap == h);
  return _fl_span_pop(s);
}

/* --- Thread exit and fork ----------------------------------------------- */

void _fl_heap_thread_exit(void *arg) {
  fl_heap_t *h = arg;
  if (!h) return;
  _fl_cache_leave(h);
  collect_remote(h, true);
  /* Keep one empty span per class for the thread that adopts this heap:
   * short-lived threads then reuse warm spans instead of cutting new ones. */
  sweep_empty(h, 1, SIZE_MAX);
  _fl_heap_tl = &_fl_heap_none;
  pthread_mutex_lock(&heaps_lock);
  h->abandoned = true;
  h->next_abandoned = abandoned;
  abandoned = h;
  pthread_mutex_unlock(&heaps_lock);
}

void _fl_heap_lock(bool lock) {
  if (lock)
    pthread_mutex_lock(&heaps_lock);
  else
    pthread_mutex_unlock(&heaps_lock);
}

void _fl_heap_atfork_child(void) {
  /* Only the forking thread lives on in the child. The other threads' heaps
   * may have been caught in the middle of a lock-free malloc or free, so no
   * thread of the child adopts them: they are orphaned, their blocks stay
   * valid (and can be freed as remote frees), their free blocks are lost to
   * the child. Heaps abandoned by exited threads were left whole and stay
   * up for adoption. */
  for (fl_heap_t *h = all_heaps; h; h = h->next_all)
    if (h != _fl_heap_own() && !h->abandoned) h->abandoned = true;
}

/* --- Checking ----------------------------------------------------------- */

void _fl_corrupt_free_list(const fl_span_t *s, const void *b) {
  _fl_fatal("malloc", b, "corrupted free list (a heap overflow or a write after free)");
}

#ifdef FL_DEBUG
void _fl_debug_fill_freed(fl_block_t *b, size_t bsize) {
  memset((char *)b + sizeof *b, FL_DEBUG_FREED, bsize - sizeof *b);
}

void _fl_debug_check_freed(fl_block_t *b, size_t bsize) {
  const unsigned char *p = (const unsigned char *)b + sizeof *b;
  for (size_t i = 0; i < bsize - sizeof *b; i++)
    if (p[i] != FL_DEBUG_FREED) _fl_fatal("malloc", b, "block written after it was freed");
}
#endif

/* A held span: announced, with a remote list of at most `used` blocks, all
 * inside it. Freers only push in front of the head read here, so the list
 * from it stays put while the owner (the caller) does not take it. */
static int check_held(const fl_heap_t *h, const fl_span_t *s) {
  char *start = _fl_span_start(s);
  uint32_t head = atomic_load_explicit(&s->remote_head, memory_order_acquire);
  uint32_t n = remote_count(head);
  bool bad = h->abandoned || !(head & FL_REMOTE_ANNOUNCED) || !(head & FL_REMOTE_HEAD) || n == 0 ||
             n > s->used;
  fl_block_t *b = bad ? NULL : remote_block(start, head);
  for (uint32_t i = 0; b && i < n; i++) {
    size_t off = (size_t)((char *)b - start);
    if ((char *)b < start || off >= s->carved_end || off % _fl_span_bsize(s) ||
        !_fl_block_is_free(b)) {
      bad = true;
      break;
    }
    b = _fl_block_next(b);
  }
  if (bad || b) {
    _fl_message("heap check: span %p (class %u) is held with a bad remote list, or by an "
                "exited thread",
                (void *)start, s->cls);
    return 1;
  }
  return 0;
}

/* Check one heap's class lists and their spans' free lists.
 * pre: nobody else changes h (its owner, or heaps_lock for an abandoned one). */
static int check_heap(fl_heap_t *h) {
  for (size_t cls = 1; cls < FL_CLASSES; cls++) {
    for (fl_span_t *s = h->avail[cls]; s; s = s->next) {
      if (s->kind != FL_SPAN_SMALL || s->cls != cls || s->heap != h || !s->in_list) {
        _fl_message("heap check: span %p in class %zu list is not a span of this class and heap",
                    _fl_span_start(s), cls);
        return 1;
      }
      uint32_t nfree = 0;
      char *start = _fl_span_start(s);
      for (fl_block_t *b = s->free; b; b = _fl_block_next(b)) {
        size_t off = (size_t)((char *)b - start);
        if ((char *)b < start || off >= s->carved_end || off % _fl_span_bsize(s) ||
            !_fl_block_is_free(b) || ++nfree > s->carved_end / _fl_span_bsize(s)) {
          _fl_message("heap check: free list of span %p (class %zu) has a bad entry %p",
                      (void *)start, cls, (void *)b);
          return 1;
        }
      }
      if ((s->flags & FL_SPAN_HELD) && check_held(h, s)) return 1;
      if (s->first_lim != _fl_span_first_lim(s)) {
        _fl_message("heap check: span %p: first-slice limit %u, not %u", (void *)start,
                    s->first_lim, _fl_span_first_lim(s));
        return 1;
      }
      uint32_t held = 0, bsize = _fl_span_bsize(s);
      for (uint32_t off = 0; _fl_span_held_back(s, off); off += bsize, held++)
        if (!_fl_block_is_free((fl_block_t *)(start + off))) {
          _fl_message("heap check: span %p: block %p, held back by its color, lost its tag",
                      (void *)start, (void *)(start + off));
          return 1;
        }
      if (nfree + held + s->used != s->carved_end / bsize) {
        _fl_message("heap check: span %p: %u free + %u held back + %u used != %u blocks",
                    (void *)start, nfree, held, s->used, s->carved_end / bsize);
        return 1;
      }
    }
  }
  return 0;
}

/* The calling thread's heap, and every abandoned one (under heaps_lock, so no
 * thread adopts one meanwhile). Heaps of other live threads change under
 * their owners' hands without locks and are left out. */
int _fl_heap_check_current(void) {
  fl_heap_t *own = _fl_heap_own();
  if (own && check_heap(own)) return 1;
  if (own && own->has_twin && _fl_cache_check(_fl_heap_twin(own), false)) return 1;
  int rc = 0;
  pthread_mutex_lock(&heaps_lock);
  for (fl_heap_t *h = abandoned; h && !rc; h = h->next_abandoned)
    rc = check_heap(h) || (h->has_twin && _fl_cache_check(_fl_heap_twin(h), true));
  pthread_mutex_unlock(&heaps_lock);
  return rc;
}
