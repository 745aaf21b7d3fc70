// SPDX-License-Identifier: MIT
/* The span layer's own state, shared by span.c (cutting and returning spans)
 * and spanrelease.c (giving free memory back: RELEASE, snapshots); nothing
 * above the span layer reads it. */
#ifndef FL_SPANFREE_H
#define FL_SPANFREE_H

#include "span.h"

#define FL_SPAN_BINS (FL_SLICES_PER_CHUNK + 1) /* 1..32 exact; bin 0: longer spans */

/* The span layer's state. */
typedef struct fl_free_spans_s {
  pthread_mutex_t lock;          /* the bins, every descriptor's kind, the frontier */
  fl_span_t *bins[FL_SPAN_BINS]; /* free spans by length, most recently freed first */
  uint64_t last_release_ms;      /* RELEASE: when idle spans were last given back */
  /* Bytes of fresh memory taken at the frontier for large spans (the part
   * made warm; not a block realloc moves) and, after a prefault, for
   * size-class spans: the heap's growth as warming ahead measures it. */
  uint64_t grown;
} fl_free_spans_t;

FL_INTERNAL extern fl_free_spans_t _fl_free_spans;

static inline size_t _fl_span_bin_of(size_t slices) {
  return slices < FL_SPAN_BINS ? slices : 0;
}

static inline uint64_t _fl_span_now_ms(void) {
  return _fl_prim_now_ns() / 1000000u;
}

#endif
