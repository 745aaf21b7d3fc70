// SPDX-License-Identifier: MIT
/* The API layer: fl_*, the malloc family, start-up and fork, PASSTHROUGH.
 * What its files share; the adapters above see only pages.h. */
#ifndef FL_API_H
#define FL_API_H

#include "heap.h"
#include "pages.h"

/* --- alloc.c ------------------------------------------------------------ */

FL_INTERNAL void *_fl_alloc_aligned(size_t size, size_t align, bool zero);
FL_INTERNAL void _fl_free_slow(void *p, const char *call);
FL_INTERNAL size_t _fl_usable(const void *p, const char *call);

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
