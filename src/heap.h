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
  FL_ASSERT(s->kind == FL_SPAN_SMALL && b != NULL);
  FL_ASSERT(s->used < s->carved_end / _fl_span_bsize(s));
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
