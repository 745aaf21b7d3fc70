// SPDX-License-Identifier: MIT
/* faultless as the page source of another allocator (src/adapters/README.md).
 * Both calls are made for you by libfaultless-jemalloc.so and
 * libfaultless-mimalloc.so when they are preloaded; call them yourself when
 * the allocator is linked in (or prefixed) and you hold its entry points. */
#ifndef FAULTLESS_ADAPTERS_H
#define FAULTLESS_ADAPTERS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* jemalloc's mallctl, or a prefixed copy of it (je_mallctl). */
typedef int (*fl_mallctl_fn)(const char *name, void *oldp, size_t *oldlenp, void *newp,
                             size_t newlen);

/* Install faultless's extent hooks on every jemalloc arena (5.x only).
 * Returns 0, or an errno (ENOTSUP: not jemalloc 5; one line on stderr says
 * why, and jemalloc goes on unwarmed). Calling it again is harmless. */
int fl_jemalloc_attach(fl_mallctl_fn mallctl_fn);

/* Diagnostic: how often each jemalloc hook was called, in extent_hooks_t
 * order (alloc, dalloc, destroy, commit, decommit, purge_lazy, purge_forced,
 * split, merge). */
void fl_jemalloc_hook_calls(unsigned long calls[9]);

/* Hand mimalloc 2.x warm regions of the faultless arena (as much as
 * FAULTLESS_PREFAULT asks, once the warmers have warmed it). Uses the
 * mimalloc linked into or loaded in the process. 0, or an errno (ENOTSUP:
 * not mimalloc 2, ENOENT: no mimalloc loaded). */
int fl_mimalloc_attach(void);

#ifdef __cplusplus
}
#endif
#endif
