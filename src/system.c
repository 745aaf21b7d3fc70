// SPDX-License-Identifier: MIT
/* Passthrough: every fl_* call served by the system allocator instead of the
 * warm arena. For tools that must see each allocation themselves: under
 * valgrind (PASSTHROUGH=auto) memcheck then reports leaks and invalid
 * accesses with exact block boundaries, as for any program without
 * faultless. */
#include "api.h"

#include <errno.h>
#include <string.h>

bool _fl_passthrough;
static fl_system_alloc_t sys;
static _Atomic int sys_state; /* 0 unresolved, 1 resolving, 2 ready */

/* dlsym may allocate while it resolves: serve those few requests from a
 * static buffer, which free() then recognises and ignores. */
static char early[16384] __attribute__((aligned(16)));
static _Atomic size_t early_used;

static void *early_alloc(size_t size) {
  size = _fl_align_up(size ? size : 1, 16);
  size_t at = atomic_fetch_add(&early_used, size);
  return at + size <= sizeof early ? early + at : NULL;
}

static bool is_early(const void *p) {
  return (const char *)p >= early && (const char *)p < early + sizeof early;
}

static bool resolve(void) {
  int st = atomic_load(&sys_state);
  if (st == 2) return true;
  int zero = 0;
  if (!atomic_compare_exchange_strong(&sys_state, &zero, 1)) return false;
  if (!_fl_prim_system_alloc(&sys)) {
    _fl_message("PASSTHROUGH: the system allocator could not be found; stopping");
    _fl_prim_abort();
  }
  atomic_store(&sys_state, 2);
  return true;
}

void *_fl_system_alloc(size_t size, size_t align, bool zero) {
  if (!resolve()) return early_alloc(size); /* only while dlsym runs */
  void *p = NULL;
  if (align <= FL_ALIGN)
    p = zero ? sys.calloc(1, size) : sys.malloc(size);
  else if (sys.posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size) != 0)
    p = NULL;
  else if (zero && p)
    memset(p, 0, size);
  if (!p) errno = ENOMEM;
  return p;
}

void _fl_system_free(void *p) {
  if (!p || is_early(p)) return;
  if (resolve()) sys.free(p);
}

void *_fl_system_realloc(void *p, size_t size) {
  if (is_early(p)) { /* move an early block out of the static buffer */
    void *q = _fl_system_alloc(size, FL_ALIGN, false);
    size_t left = (size_t)(early + sizeof early - (char *)p);
    if (q) memcpy(q, p, size < left ? size : left);
    return q;
  }
  return resolve() ? sys.realloc(p, size) : NULL;
}

size_t _fl_system_usable(void *p) {
  if (!p) return 0;
  if (is_early(p)) return 16;
  return resolve() ? sys.usable_size(p) : 0;
}
