// SPDX-License-Identifier: MIT
/* The page interface: what the API layer offers the adapters (src/adapters/)
 * above it, and all of the library they use besides messages and options. */
#ifndef FL_PAGES_H
#define FL_PAGES_H

#include "config.h"

/* Initialise the library (as any fl_* call would); false when no arena
 * could be made. */
FL_INTERNAL bool _fl_pages_init(void);
/* Pages for the adapters (src/adapters/): a run of warm memory from the arena
 * for another allocator to manage. size is rounded up to slices; *zeroed
 * tells whether it reads as zero. NULL when the arena cannot serve it. */
FL_INTERNAL void *_fl_pages_alloc(size_t size, size_t align, bool *zeroed);
/* The same, but returned at once with its fresh pages not yet populated:
 * the warmers populate them in the background, in address order, while the
 * other allocator may already write there (populating never changes what a
 * page holds). For an allocator that takes its memory once, up front. */
FL_INTERNAL void *_fl_pages_lease(size_t size, size_t align, bool *zeroed);
/* Give back a run from _fl_pages_alloc (whole, as it was handed out). */
FL_INTERNAL void _fl_pages_free(void *p);
/* True when p lies in the arena's reservation. */
FL_INTERNAL bool _fl_pages_owned(const void *p);

/* The start-up prefault, which an adapter may take over: true for the first
 * caller (the library's constructor then warms nothing at start-up). */
FL_INTERNAL bool _fl_pages_claim_start_prefault(void);
/* The bytes PREFAULT asks for at start-up. */
FL_INTERNAL size_t _fl_pages_prefault_default(void);
/* True unless warming is off (WARMERS=0, or PREFAULT=0 with AHEAD=0). */
FL_INTERNAL bool _fl_pages_warming_on(void);
/* Have the warmers populate another allocator's memory [addr, addr+size)
 * before their next chunk; 0, or EBUSY when too many ranges are queued. */
FL_INTERNAL int _fl_pages_warm_foreign(void *addr, size_t size);

#endif
