// SPDX-License-Identifier: MIT
/* The glibc symbol versions the library binds to, so that it loads on glibc
 * 2.17 and later (Amazon Linux 2 has 2.26). glibc 2.34 moved the pthread and
 * dl functions from libpthread and libdl into libc under a new version,
 * GLIBC_2.34, and kept the old versions there as compatibility symbols.
 * Binding each to its old version makes a library built on a new glibc need
 * nothing newer than the architecture's baseline; on an old glibc the old
 * versions come from libpthread.so.0 and libdl.so.2, which the shared
 * libraries therefore name as dependencies (the Makefile's SO_LDLIBS).
 * The check is `make test-glibc` (objdump -T on both architectures).
 *
 * Only the shared libraries' objects are built so (FL_GLIBC_COMPAT, the
 * Makefile's obj-so/): a static link (-static) finds no versioned symbol in
 * libc.a. Sanitizer builds are left alone: their runtimes intercept these
 * calls, and they are never shipped. A symbol listed here but not used in a
 * file costs nothing. Functions newer than 2.17 (getrandom, memfd_create,
 * reallocarray, pthread_getattr_default_np, ...) have no old version to
 * bind: the library does not call them (prim/linux.c uses syscall()). */
#ifndef FL_PRIM_GLIBC_H
#define FL_PRIM_GLIBC_H

#if __has_include(<features.h>)
#include <features.h> /* __GLIBC__ */
#endif

#if defined(FL_GLIBC_COMPAT) && defined(__GLIBC__) && !defined(FL_SANITIZE)
#if defined(__x86_64__)
#define FL_GLIBC_BASE "GLIBC_2.2.5"
#define FL_GLIBC_SETCLOCK "GLIBC_2.3.3"
#elif defined(__aarch64__)
#define FL_GLIBC_BASE "GLIBC_2.17"
#define FL_GLIBC_SETCLOCK "GLIBC_2.17"
#endif
#endif

#ifdef FL_GLIBC_BASE
#define FL_SYMVER(name, version) __asm__(".symver " #name "," #name "@" version)
FL_SYMVER(pthread_create, FL_GLIBC_BASE);
FL_SYMVER(pthread_join, FL_GLIBC_BASE);
FL_SYMVER(pthread_detach, FL_GLIBC_BASE);
FL_SYMVER(pthread_attr_setstacksize, FL_GLIBC_BASE);
FL_SYMVER(pthread_attr_getstacksize, FL_GLIBC_BASE);
FL_SYMVER(pthread_key_create, FL_GLIBC_BASE);
FL_SYMVER(pthread_key_delete, FL_GLIBC_BASE);
FL_SYMVER(pthread_setspecific, FL_GLIBC_BASE);
FL_SYMVER(pthread_getspecific, FL_GLIBC_BASE);
FL_SYMVER(pthread_once, FL_GLIBC_BASE);
FL_SYMVER(pthread_mutex_trylock, FL_GLIBC_BASE);
FL_SYMVER(pthread_condattr_setclock, FL_GLIBC_SETCLOCK);
FL_SYMVER(pthread_sigmask, FL_GLIBC_BASE);
FL_SYMVER(pthread_getattr_np, FL_GLIBC_BASE);
FL_SYMVER(dlsym, FL_GLIBC_BASE);
FL_SYMVER(dlvsym, FL_GLIBC_BASE);
FL_SYMVER(dlopen, FL_GLIBC_BASE);
FL_SYMVER(dlclose, FL_GLIBC_BASE);
FL_SYMVER(dlerror, FL_GLIBC_BASE);
FL_SYMVER(dladdr, FL_GLIBC_BASE);
#undef FL_SYMVER
#endif

#endif
