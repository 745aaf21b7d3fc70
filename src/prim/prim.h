// SPDX-License-Identifier: MIT
/* The OS layer: every call into the kernel that faultless makes is declared
 * here, each with a one-line contract, and defined in exactly one OS file
 * (src/prim/linux.c). Nothing above this layer includes a system header that
 * maps memory or reads /proc or /sys. */
#ifndef FL_PRIM_H
#define FL_PRIM_H

#include "prim/glibc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- Memory ------------------------------------------------------------- */

/* Reserve `size` bytes of read-write address space aligned to `align` (a power
 * of two), without committing memory. post: NULL and errno set on failure. */
void *_fl_prim_reserve(size_t size, size_t align);
/* Map `size` bytes of fresh zeroed read-write memory (outside the reservation). */
void *_fl_prim_map(size_t size);
/* Unmap a range from _fl_prim_map or _fl_prim_reserve. */
void _fl_prim_unmap(void *addr, size_t size);
/* Make [addr, addr+size) resident, writable and zero where never touched, in one
 * call when the kernel can (MADV_POPULATE_WRITE), else by touching every page
 * without changing its contents. Returns 0 or an errno (ENOMEM; EINVAL when a
 * page of the range is not writable). */
int _fl_prim_populate(void *addr, size_t size);
/* The same by touching one byte per page (the "touch" method). */
int _fl_prim_populate_touch(void *addr, size_t size);
/* Ask for (on=true) or refuse transparent huge pages on a range; best effort. */
void _fl_prim_hugepage(void *addr, size_t size, bool on);
/* Give a range's physical pages back; the range reads as zero afterwards. */
int _fl_prim_release(void *addr, size_t size);
/* Make a range inaccessible (on) or read-write again (off): the guard pages
 * of secure builds. Best effort. */
void _fl_prim_protect(void *addr, size_t size, bool on);
/* True when the kernel supports MADV_POPULATE_WRITE. */
bool _fl_prim_has_populate(void);
/* The system's transparent huge page mode: 0 never, 1 madvise, 2 always. */
int _fl_prim_thp_mode(void);
/* True when this is a virtual machine whose virtio balloon reports free
 * pages to the host (VIRTIO_BALLOON_F_REPORTING): freed huge-page-sized
 * blocks then lose their host backing, and faulting them in is slow. */
bool _fl_prim_free_page_reporting(void);
/* The OS page size, read once (AT_PAGESZ) and kept here: the one place the
 * other layers ask. A power of two; faultless runs its arena when it is at
 * most FL_SLICE (init.c), else it passes every call to the system allocator.
 * Test builds (FL_TEST_HOOKS) take FAULTLESS_TEST_PAGE_SIZE instead when it
 * is a larger power of two, and then refuse, as that kernel would, memory
 * calls on ranges that are not aligned to it. */
size_t _fl_prim_page_size(void);
/* The kernel's own page size: _fl_prim_page_size's but for a pretended one. */
size_t _fl_prim_kernel_page_size(void);
/* The size of a transparent huge page (one page-table page of pages: 2 MiB
 * with 4 KiB pages, 32 MiB with 16 KiB, 512 MiB with 64 KiB), or 0 when
 * unknown. */
size_t _fl_prim_huge_page_size(void);

/* The raw system calls, which reach the kernel without passing through the
 * override library's own mmap family (or anyone else's). As the libc calls,
 * they return MAP_FAILED / -1 and set errno on failure. */
void *_fl_prim_sys_mmap(void *addr, size_t len, int prot, int flags, int fd, long off);
int _fl_prim_sys_munmap(void *addr, size_t len);
int _fl_prim_sys_mprotect(void *addr, size_t len, int prot);
int _fl_prim_sys_madvise(void *addr, size_t len, int advice);
void *_fl_prim_sys_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr);
/* pkey_mprotect (ENOSYS where the kernel headers lack it), mlock2 (flags 0:
 * mlock), munlock, mlockall, munlockall. */
int _fl_prim_sys_pkey_mprotect(void *addr, size_t len, int prot, int pkey);
int _fl_prim_sys_mlock2(const void *addr, size_t len, unsigned flags);
int _fl_prim_sys_munlock(const void *addr, size_t len);
int _fl_prim_sys_mlockall(int flags);
int _fl_prim_sys_munlockall(void);
/* What an mmap's prot, flags and fd say about the mapping, as FL_MAP_* bits:
 * anonymous and private (not shared, not a file, not hugetlbfs), readable
 * and writable, PROT_NONE, placed at a fixed address, ... */
#define FL_MAP_ANON_PRIVATE 1u
#define FL_MAP_WRITABLE 2u
#define FL_MAP_NONE 4u
#define FL_MAP_FIXED 8u
#define FL_MAP_NORESERVE 16u /* MAP_NORESERVE */
#define FL_MAP_EXACT_RW 32u  /* prot is PROT_READ | PROT_WRITE, nothing more */
/* No flag beyond MAP_PRIVATE, MAP_ANONYMOUS, MAP_NORESERVE and MAP_FIXED(_
 * NOREPLACE): nothing (huge pages, locking, growing down, a stack) that
 * makes the mapping differ from a plain one. */
#define FL_MAP_PLAIN 64u
/* MAP_STACK or MAP_GROWSDOWN: a stack. */
#define FL_MAP_STACK 128u
unsigned _fl_prim_map_class(int prot, int flags, int fd);
/* The same bits (FL_MAP_WRITABLE, FL_MAP_NONE) for an mprotect's prot. */
unsigned _fl_prim_prot_class(int prot);
/* What madvise's advice does to a range, as an FL_ADVICE_*: nothing lasting
 * (WILLNEED, COLD, PAGEOUT, POPULATE_*), drops its contents (DONTNEED,
 * DONTNEED_LOCKED, FREE, REMOVE), MADV_DONTFORK, MADV_DOFORK, or changes the mapping's flags some
 * other way (HUGEPAGE, MERGEABLE, DONTDUMP, WIPEONFORK, ... and any advice
 * not known here). */
enum { FL_ADVICE_NONE, FL_ADVICE_DISCARD, FL_ADVICE_DONTFORK, FL_ADVICE_DOFORK, FL_ADVICE_FLAGS };
int _fl_prim_advice_class(int advice);
/* Move the pages of [src, src+len) to dst, replacing what was mapped there
 * (mremap MREMAP_FIXED): dst then holds src's pages and flags, src is
 * unmapped. 0 or an errno; on failure dst may have been unmapped. */
int _fl_prim_move_pages(void *src, size_t len, void *dst);
/* Map fresh zeroed read-write anonymous private memory at [addr, addr+len)
 * with MAP_NORESERVE, replacing what was there. 0 or an errno. */
int _fl_prim_map_fresh_at(void *addr, size_t len);
/* Fresh read-write anonymous private memory with MAP_NORESERVE, as a
 * reservation made so is once committed; NULL on failure. */
void *_fl_prim_map_noreserve(size_t len);
/* madvise(MADV_DONTFORK) on a range. 0 or an errno. */
int _fl_prim_dontfork(void *addr, size_t len);
/* Block every asynchronous signal in the calling thread; returns the mask
 * to give back to _fl_prim_signals_restore. For sections that hold a lock
 * a signal handler's own call would take again. Errno is kept. */
uint64_t _fl_prim_signals_block(void);
void _fl_prim_signals_restore(uint64_t old);
/* An event word (0 or 1) for one waiting thread: post sets it and wakes
 * the waiter (async-signal-safe: an atomic and a futex wake, errno kept);
 * wait sleeps until it is set, and clears it. */
void _fl_prim_event_post(_Atomic unsigned *word);
void _fl_prim_event_wait(_Atomic unsigned *word);
/* madvise(MADV_DOFORK) on a range. 0 or an errno. */
int _fl_prim_dofork(void *addr, size_t len);
/* True when mremap's flags come with a new address, as glibc's wrapper
 * reads it: MREMAP_FIXED (the place) or MREMAP_DONTUNMAP (a hint). */
bool _fl_prim_remap_fixed(int flags);

/* --- Limits ------------------------------------------------------------- */

/* Read a whole small file (up to cap-1 bytes) under `root` (NULL or "" for
 * the real root) into buf, NUL-terminated. Returns bytes read or -1. Does not
 * allocate. */
long _fl_prim_read_file(const char *root, const char *path, char *buf, size_t cap);
/* The soft RLIMIT_AS in bytes, or SIZE_MAX when unlimited. */
size_t _fl_prim_address_limit(void);
/* Bytes of address space the process has mapped now (VmSize), or 0. */
size_t _fl_prim_address_used(void);
/* Number of online CPUs the process may run on (>= 1). */
int _fl_prim_cpu_count(void);

/* --- Environment, time, threads ----------------------------------------- */

/* getenv without calling into libc's locale or allocation machinery, safe
 * while the library is being loaded. NULL when unset. */
const char *_fl_prim_getenv(const char *name);
/* The calling process's ID. */
int _fl_prim_pid(void);
/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t _fl_prim_now_ns(void);
/* Minor page faults taken so far by the calling thread. */
uint64_t _fl_prim_thread_minflt(void);
/* Start a detached thread running fn(arg). Returns 0 or an errno. */
int _fl_prim_thread_start(void *(*fn)(void *), void *arg);
/* Give the CPU to another runnable thread (sched_yield). */
void _fl_prim_thread_yield(void);
/* Sleep the calling thread for about `us` microseconds. */
void _fl_prim_sleep_us(unsigned us);
/* Put the calling thread at the lowest scheduling priority (SCHED_IDLE, else
 * nice 19). Returns true when SCHED_IDLE was granted. */
bool _fl_prim_thread_lowest_priority(void);
/* Name the calling thread (at most 15 bytes show), so that ps, top and a
 * program counting its own threads' faults can tell faultless's apart. */
void _fl_prim_thread_name(const char *name);
/* Write a message to stderr with one write(2) call; never allocates. */
void _fl_prim_write_stderr(const char *msg, size_t len);
/* Stop the process now (abort). */
_Noreturn void _fl_prim_abort(void);
/* Some random bits from the kernel (getrandom), else from the clock. */
uint64_t _fl_prim_random(void);

/* --- The system allocator ------------------------------------------------ */

/* The malloc that the process would have without faultless: libc's, or the
 * replacement a tool such as valgrind puts in its place. */
typedef struct fl_system_alloc_s {
  void *(*malloc)(size_t);
  void (*free)(void *);
  void *(*calloc)(size_t, size_t);
  void *(*realloc)(void *, size_t);
  int (*posix_memalign)(void **, size_t, size_t);
  size_t (*usable_size)(void *);
} fl_system_alloc_t;

/* Look the system allocator up (dlsym RTLD_NEXT). May itself allocate.
 * Returns false when any entry is missing. */
bool _fl_prim_system_alloc(fl_system_alloc_t *out);
/* True when the first definition of `name` in the process's symbol lookup
 * order is not `self`: another copy of the library comes first. */
bool _fl_prim_shadowed(const char *name, void *self);
/* True when the process runs under valgrind. */
bool _fl_prim_under_valgrind(void);

#endif
