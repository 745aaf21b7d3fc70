// SPDX-License-Identifier: MIT
/* The mmap family, for LD_PRELOAD and for programs linked with
 * -lfaultless: mmap (and mmap64, its own symbol in glibc), munmap, mprotect,
 * mremap and madvise, and the calls that change a mapping's flags as advice
 * does (pkey_mprotect, mlock, mlock2, munlock, mlockall, munlockall), each
 * forwarded to the kernel as it is (the raw system
 * call: no libc version to bind, so the library loads on any glibc) and,
 * when MMAP is on, reported to maps.c: that is how the warmers learn of the
 * heaps the JVM and V8 map themselves. Nothing is populated here: the call
 * returns as soon as the kernel's does and the report is made.
 *
 * The report and the system call happen under one lock (_fl_maps_begin),
 * which a warmer also holds across each populate piece: a range that a call
 * unmaps, replaces or protects is never populated after the kernel changed
 * it. A failed call is reported too, as a change: the tables then forget the
 * range rather than guess. errno is the kernel's. glibc's own calls (thread
 * stacks, the loader, malloc) do not come here: they use the kernel
 * directly, and faultless's own memory calls do too (prim/linux.c). */
#include "api.h"

#include <errno.h>
#include <stdarg.h>
#include <sys/types.h>

#define FL_EXPORT __attribute__((visibility("default")))
#define FL_MAP_FAILED ((void *)-1)

/* Report only once the library runs with tracking on: a call made before
 * (another library's constructor) is forwarded untouched, and its range is
 * simply not known. */
static bool tracking(void) {
  return atomic_load_explicit(&_fl_ready, memory_order_acquire) == 2 && _fl_maps_on();
}

FL_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  if (!tracking()) return _fl_prim_sys_mmap(addr, len, prot, flags, fd, (long)off);
  uint64_t sigs = _fl_maps_begin();
  void *p = _fl_prim_sys_mmap(addr, len, prot, flags, fd, (long)off);
  int err = errno;
  unsigned cls = _fl_prim_map_class(prot, flags, fd);
  if (p != FL_MAP_FAILED)
    _fl_maps_mapped(p, len, true, cls);
  else if (cls & FL_MAP_FIXED)
    _fl_maps_mapped(addr, len, false, cls); /* what was there may be gone */
  _fl_maps_end(sigs);
  errno = err;
  return p;
}

FL_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  return mmap(addr, len, prot, flags, fd, off);
}

FL_EXPORT int munmap(void *addr, size_t len) {
  if (!tracking()) return _fl_prim_sys_munmap(addr, len);
  uint64_t sigs = _fl_maps_begin();
  int rc = _fl_prim_sys_munmap(addr, len);
  int err = errno;
  _fl_maps_unmapped(addr, len, false);
  _fl_maps_end(sigs);
  errno = err;
  return rc;
}

/* A commit of a range that never held data may be served from warm memory
 * instead (maps.c, the pool): the same result, without the page faults. */
FL_EXPORT int mprotect(void *addr, size_t len, int prot) {
  if (!tracking()) return _fl_prim_sys_mprotect(addr, len, prot);
  uint64_t sigs = _fl_maps_begin();
  unsigned pcls = _fl_prim_prot_class(prot);
  int rc, err = errno; /* kept on success, as the call keeps it */
  int served_err = 0;
  if (_fl_maps_serve(addr, len, pcls, &served_err)) {
    rc = served_err ? -1 : 0;
    if (served_err) err = served_err;
  } else {
    rc = _fl_prim_sys_mprotect(addr, len, prot);
    err = errno;
    _fl_maps_protected(addr, len, rc == 0 ? pcls : 0);
  }
  _fl_maps_end(sigs);
  errno = err;
  return rc;
}

/* A protection key, or a lock, changes the mapping's flags as a piece of
 * advice does: a reservation so changed is no longer served from the pool
 * (which would drop the key or the lock), and a key's commit is queued as
 * an mprotect's is. */
FL_EXPORT int pkey_mprotect(void *addr, size_t len, int prot, int pkey) {
  if (!tracking()) return _fl_prim_sys_pkey_mprotect(addr, len, prot, pkey);
  uint64_t sigs = _fl_maps_begin();
  int rc = _fl_prim_sys_pkey_mprotect(addr, len, prot, pkey);
  int err = errno;
  _fl_maps_advised(addr, len, FL_ADVICE_FLAGS, true);
  _fl_maps_protected(addr, len, rc == 0 ? _fl_prim_prot_class(prot) : 0);
  _fl_maps_end(sigs);
  errno = err;
  return rc;
}

static int lock_call(const void *addr, size_t len, unsigned flags, bool lock) {
  if (!tracking())
    return lock ? _fl_prim_sys_mlock2(addr, len, flags) : _fl_prim_sys_munlock(addr, len);
  uint64_t sigs = _fl_maps_begin();
  int rc = lock ? _fl_prim_sys_mlock2(addr, len, flags) : _fl_prim_sys_munlock(addr, len);
  int err = errno;
  _fl_maps_advised((void *)addr, len, FL_ADVICE_FLAGS, true);
  _fl_maps_end(sigs);
  errno = err;
  return rc;
}

FL_EXPORT int mlock(const void *addr, size_t len) {
  return lock_call(addr, len, 0, true);
}

FL_EXPORT int mlock2(const void *addr, size_t len, unsigned int flags) {
  return lock_call(addr, len, flags, true);
}

FL_EXPORT int munlock(const void *addr, size_t len) {
  return lock_call(addr, len, 0, false);
}

static int lock_all_call(int flags, bool lock) {
  if (!tracking()) return lock ? _fl_prim_sys_mlockall(flags) : _fl_prim_sys_munlockall();
  uint64_t sigs = _fl_maps_begin();
  int rc = lock ? _fl_prim_sys_mlockall(flags) : _fl_prim_sys_munlockall();
  int err = errno;
  _fl_maps_locked_all();
  _fl_maps_end(sigs);
  errno = err;
  return rc;
}

FL_EXPORT int mlockall(int flags) {
  return lock_all_call(flags, true);
}

FL_EXPORT int munlockall(void) {
  return lock_all_call(0, false);
}

FL_EXPORT int madvise(void *addr, size_t len, int advice) {
  int what = _fl_prim_advice_class(advice);
  if (!tracking() || what == FL_ADVICE_NONE) return _fl_prim_sys_madvise(addr, len, advice);
  uint64_t sigs = _fl_maps_begin();
  int rc = _fl_prim_sys_madvise(addr, len, advice);
  int err = errno;
  _fl_maps_advised(addr, len, what, rc == 0);
  _fl_maps_end(sigs);
  errno = err;
  return rc;
}

/* new_addr is read only when the flags come with one (MREMAP_FIXED, or
 * MREMAP_DONTUNMAP's hint), as glibc's wrapper reads it. */
FL_EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  void *new_addr = _fl_prim_remap_fixed(flags) ? va_arg(ap, void *) : NULL;
  va_end(ap);
  if (!tracking()) return _fl_prim_sys_mremap(old, old_len, new_len, flags, new_addr);
  uint64_t sigs = _fl_maps_begin();
  void *p = _fl_prim_sys_mremap(old, old_len, new_len, flags, new_addr);
  int err = errno;
  /* Both places are forgotten, moved or not: the tables never follow a
   * mapping to a new address (a range there is found again only when a
   * later call commits it). */
  _fl_maps_unmapped(old, old_len > new_len ? old_len : new_len, true);
  if (p != FL_MAP_FAILED)
    _fl_maps_unmapped(p, new_len, false);
  else if (new_addr)
    _fl_maps_unmapped(new_addr, new_len, false);
  _fl_maps_end(sigs);
  errno = err;
  return p;
}
