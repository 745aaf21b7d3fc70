// SPDX-License-Identifier: MIT
/* The Linux implementation of the OS contract in prim.h. This is the only file
 * of the library that talks to the kernel. */
#define _GNU_SOURCE
#include "prim/prim.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#if !defined(FL_NO_VALGRIND) && __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define FL_HAVE_VALGRIND 1
#endif

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

extern char **environ;

/* The library's own memory calls go to the kernel directly: the override
 * library defines mmap, munmap, mprotect, mremap and madvise itself (to warm
 * what a runtime maps), and faultless's own reservation, blocks and advice
 * must neither be tracked there nor wait on its lock. Not instrumented by
 * TSan: its runtime calls mmap through the symbol while it initialises, and
 * a program that defines mmap passes those calls here. */
#define FL_NO_TSAN __attribute__((no_sanitize("thread")))
FL_NO_TSAN void *_fl_prim_sys_mmap(void *addr, size_t len, int prot, int flags, int fd, long off) {
  return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}
FL_NO_TSAN int _fl_prim_sys_munmap(void *addr, size_t len) {
  return (int)syscall(SYS_munmap, addr, len);
}
FL_NO_TSAN int _fl_prim_sys_mprotect(void *addr, size_t len, int prot) {
  return (int)syscall(SYS_mprotect, addr, len, prot);
}
FL_NO_TSAN int _fl_prim_sys_madvise(void *addr, size_t len, int advice) {
  return (int)syscall(SYS_madvise, addr, len, advice);
}
FL_NO_TSAN void *_fl_prim_sys_mremap(void *old, size_t old_len, size_t new_len, int flags,
                                     void *new_addr) {
  return (void *)syscall(SYS_mremap, old, old_len, new_len, flags, new_addr);
}
/* Through pthread_sigmask: glibc keeps its own signals (cancellation,
 * setxid) open, and TSan, which defers a signal to its next interceptor,
 * delivers one already caught in this call, before any lock is taken. The
 * mask is the first 64 signals of sigset_t: all Linux has. The synchronous
 * signals stay open: blocking them turns a fault into death. */
uint64_t _fl_prim_signals_block(void) {
  sigset_t all, old;
  sigfillset(&all);
  static const int sync[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS};
  for (size_t i = 0; i < sizeof sync / sizeof sync[0]; i++)
    sigdelset(&all, sync[i]);
  int e = errno;
  pthread_sigmask(SIG_BLOCK, &all, &old);
  errno = e;
  uint64_t bits = 0;
  memcpy(&bits, &old, sizeof bits);
  return bits;
}
void _fl_prim_signals_restore(uint64_t bits) {
  sigset_t old;
  sigemptyset(&old);
  memcpy(&old, &bits, sizeof bits);
  int e = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  errno = e;
}
void _fl_prim_event_post(_Atomic unsigned *word) {
  if (atomic_exchange(word, 1u) != 0) return;
  int e = errno;
  syscall(SYS_futex, (unsigned *)word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
  errno = e;
}
void _fl_prim_event_wait(_Atomic unsigned *word) {
  while (atomic_exchange(word, 0u) == 0)
    syscall(SYS_futex, (unsigned *)word, FUTEX_WAIT_PRIVATE, 0u, NULL, NULL, 0);
}
FL_NO_TSAN int _fl_prim_sys_pkey_mprotect(void *addr, size_t len, int prot, int pkey) {
#ifdef SYS_pkey_mprotect
  return (int)syscall(SYS_pkey_mprotect, addr, len, prot, pkey);
#else
  errno = ENOSYS;
  return -1;
#endif
}
FL_NO_TSAN int _fl_prim_sys_mlock2(const void *addr, size_t len, unsigned flags) {
  /* mlock itself where flags are 0: mlock2 is younger (Linux 4.4). */
  if (!flags) return (int)syscall(SYS_mlock, addr, len);
#ifdef SYS_mlock2
  return (int)syscall(SYS_mlock2, addr, len, flags);
#else
  errno = ENOSYS;
  return -1;
#endif
}
FL_NO_TSAN int _fl_prim_sys_munlock(const void *addr, size_t len) {
  return (int)syscall(SYS_munlock, addr, len);
}
FL_NO_TSAN int _fl_prim_sys_mlockall(int flags) {
  return (int)syscall(SYS_mlockall, flags);
}
FL_NO_TSAN int _fl_prim_sys_munlockall(void) {
  return (int)syscall(SYS_munlockall);
}
#define sys_mmap _fl_prim_sys_mmap
#define sys_munmap _fl_prim_sys_munmap
#define sys_mprotect _fl_prim_sys_mprotect
#define sys_madvise _fl_prim_sys_madvise

unsigned _fl_prim_map_class(int prot, int flags, int fd) {
  unsigned c = 0;
  if ((flags & MAP_ANONYMOUS) && fd == -1 && (flags & MAP_TYPE) == MAP_PRIVATE &&
      !(flags & MAP_HUGETLB))
    c |= FL_MAP_ANON_PRIVATE;
  if (!(flags & ~(MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED | MAP_FIXED_NOREPLACE)))
    c |= FL_MAP_PLAIN;
  if ((prot & (PROT_READ | PROT_WRITE)) == (PROT_READ | PROT_WRITE)) c |= FL_MAP_WRITABLE;
  if (prot == PROT_NONE) c |= FL_MAP_NONE;
  if (flags & MAP_FIXED) c |= FL_MAP_FIXED;
  if (flags & MAP_NORESERVE) c |= FL_MAP_NORESERVE;
  if (prot == (PROT_READ | PROT_WRITE)) c |= FL_MAP_EXACT_RW;
  if (flags & (MAP_STACK | MAP_GROWSDOWN)) c |= FL_MAP_STACK;
  return c;
}

unsigned _fl_prim_prot_class(int prot) {
  return _fl_prim_map_class(prot, MAP_PRIVATE | MAP_ANONYMOUS, -1) & ~FL_MAP_ANON_PRIVATE;
}

#ifndef MADV_COLD
#define MADV_COLD 20
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED 24
#endif

int _fl_prim_advice_class(int advice) {
  switch (advice) {
  case MADV_WILLNEED:
  case MADV_COLD:
  case MADV_PAGEOUT:
  case MADV_POPULATE_READ:
  case MADV_POPULATE_WRITE:
    return FL_ADVICE_NONE;
  case MADV_DONTNEED:
  case MADV_DONTNEED_LOCKED:
  case MADV_FREE:
  case MADV_REMOVE:
    return FL_ADVICE_DISCARD;
  case MADV_DONTFORK:
    return FL_ADVICE_DONTFORK;
  case MADV_DOFORK:
    return FL_ADVICE_DOFORK;
  default:
    return FL_ADVICE_FLAGS;
  }
}

int _fl_prim_move_pages(void *src, size_t len, void *dst) {
  void *p = _fl_prim_sys_mremap(src, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
  return p == dst ? 0 : (p == MAP_FAILED ? errno : EINVAL);
}

int _fl_prim_map_fresh_at(void *addr, size_t len) {
  void *p = _fl_prim_sys_mmap(addr, len, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  return p == addr ? 0 : (p == MAP_FAILED ? errno : EINVAL);
}

void *_fl_prim_map_noreserve(size_t len) {
  void *p = _fl_prim_sys_mmap(NULL, len, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

int _fl_prim_dontfork(void *addr, size_t len) {
  return _fl_prim_sys_madvise(addr, len, MADV_DONTFORK) == 0 ? 0 : errno;
}

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
bool _fl_prim_remap_fixed(int flags) {
  return (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) != 0;
}

int _fl_prim_dofork(void *addr, size_t len) {
  return _fl_prim_sys_madvise(addr, len, MADV_DOFORK) == 0 ? 0 : errno;
}

/* --- Page size ---------------------------------------------------------- */

/* Relaxed atomics: threads may race to fill these in, with the same values. */
static size_t page_size;  /* what the library uses */
static size_t real_page;  /* what the kernel uses */
static bool page_pretend; /* page_size != real_page (test builds only) */

static size_t page_init(void) {
  size_t real = (size_t)getauxval(AT_PAGESZ);
  if (!real) real = (size_t)sysconf(_SC_PAGESIZE);
  size_t p = real;
#ifdef FL_TEST_HOOKS
  const char *t = _fl_prim_getenv("FAULTLESS_TEST_PAGE_SIZE");
  size_t want = t ? (size_t)strtoull(t, NULL, 0) : 0;
  if (want > real && !(want & (want - 1))) p = want;
#endif
  __atomic_store_n(&real_page, real, __ATOMIC_RELAXED);
  __atomic_store_n(&page_pretend, p != real, __ATOMIC_RELAXED);
  __atomic_store_n(&page_size, p, __ATOMIC_RELAXED);
  return p;
}

size_t _fl_prim_page_size(void) {
  size_t p = __atomic_load_n(&page_size, __ATOMIC_RELAXED);
  return __builtin_expect(p != 0, 1) ? p : page_init();
}

size_t _fl_prim_kernel_page_size(void) {
  _fl_prim_page_size();
  return __atomic_load_n(&real_page, __ATOMIC_RELAXED);
}
#define kernel_page_size _fl_prim_kernel_page_size

/* With a pretended page size, a call the kernel of that page size would
 * refuse (EINVAL: the start is not page-aligned) or widen (the length is
 * rounded up to whole pages, over memory the caller did not name) stops the
 * test with one line naming the call. */
static void page_check(const char *call, const void *addr, size_t size, bool whole) {
#ifdef FL_TEST_HOOKS
  if (!__atomic_load_n(&page_pretend, __ATOMIC_RELAXED)) return;
  size_t mask = _fl_prim_page_size() - 1;
  if (!((uintptr_t)addr & mask) && !(whole && (size & mask))) return;
  char msg[160];
  int n = snprintf(msg, sizeof msg,
                   "faultless: test page size %zu: %s(%p, %zu) is not page-aligned; a kernel "
                   "with that page size would refuse or widen it\n",
                   mask + 1, call, addr, size);
  _fl_prim_write_stderr(msg, n > 0 && (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
  abort();
#else
  (void)call, (void)addr, (void)size, (void)whole;
#endif
}

size_t _fl_prim_huge_page_size(void) {
  size_t page = _fl_prim_page_size();
  /* A page-table page holds page / 8 entries, each mapping a page. */
  size_t derived = page * (page / sizeof(uint64_t));
  if (__atomic_load_n(&page_pretend, __ATOMIC_RELAXED)) return derived;
  char buf[32];
  if (_fl_prim_read_file(NULL, "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", buf,
                         sizeof buf) > 0) {
    size_t n = (size_t)strtoull(buf, NULL, 10);
    if (n) return n;
  }
  return derived;
}

/* --- Memory ------------------------------------------------------------- */

/* `size` bytes at an `align`-aligned address: over-map by `align`, then trim
 * both ends (the trims are in the kernel's pages, which may be smaller than
 * a pretended page size). */
static void *map_aligned(size_t size, size_t align, int flags) {
  size_t page = _fl_prim_page_size();
  if (align < page) align = page;
  if (size + align < size) {
    errno = ENOMEM;
    return NULL;
  }
  size_t over = size + align;
  char *p =
      sys_mmap(NULL, over, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
  if (p == MAP_FAILED) return NULL;
  uintptr_t start = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
  size_t head = start - (uintptr_t)p;
  size_t tail = over - head - size;
  if (head) sys_munmap(p, head);
  if (tail) sys_munmap((char *)start + size, tail);
  return (void *)start;
}

void *_fl_prim_reserve(size_t size, size_t align) {
  /* MAP_NORESERVE: the reservation commits nothing until pages are touched. */
  return map_aligned(size, align, MAP_NORESERVE);
}

void *_fl_prim_map(size_t size) {
  size_t page = _fl_prim_page_size();
  /* With a pretended page size, placed as that kernel would place it. */
  if (page != kernel_page_size()) return map_aligned((size + page - 1) & ~(page - 1), page, 0);
  void *p = sys_mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

void _fl_prim_unmap(void *addr, size_t size) {
  page_check("munmap", addr, size, false);
  sys_munmap(addr, size);
}

int _fl_prim_populate_touch(void *addr, size_t size) {
  size_t page = _fl_prim_page_size();
  /* An atomic add of zero is a write fault that keeps whatever another thread
   * stored there: the range may already hold live blocks. */
  for (size_t off = 0; off < size; off += page)
    __atomic_fetch_add((char *)addr + off, 0, __ATOMIC_RELAXED);
  return 0;
}

static int populate_state; /* 0 unknown, 1 supported, 2 unsupported */

bool _fl_prim_has_populate(void) {
  int s = __atomic_load_n(&populate_state, __ATOMIC_RELAXED);
  if (s == 0) {
    /* Populate one fresh page and see it resident: qemu-user (and any
     * sandbox that takes advice as a hint) answers 0 without populating, and
     * there only touching warms memory. */
    size_t page = kernel_page_size();
    unsigned char vec = 0;
    void *p = sys_mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    s = 2;
    if (p != MAP_FAILED) {
      if (sys_madvise(p, page, MADV_POPULATE_WRITE) == 0 && mincore(p, page, &vec) == 0 &&
          (vec & 1))
        s = 1;
      sys_munmap(p, page);
    }
    __atomic_store_n(&populate_state, s, __ATOMIC_RELAXED);
  }
  return s == 1;
}

int _fl_prim_populate(void *addr, size_t size) {
  if (size == 0) return 0;
  page_check("madvise(MADV_POPULATE_WRITE)", addr, size, false);
  if (!_fl_prim_has_populate()) return _fl_prim_populate_touch(addr, size);
  for (;;) {
    if (sys_madvise(addr, size, MADV_POPULATE_WRITE) == 0) return 0;
    if (errno != EINTR && errno != EAGAIN) return errno; /* EINVAL: a page is not writable */
  }
}

void _fl_prim_hugepage(void *addr, size_t size, bool on) {
  page_check("madvise(MADV_HUGEPAGE)", addr, size, false);
  sys_madvise(addr, size, on ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
}

int _fl_prim_release(void *addr, size_t size) {
  page_check("madvise(MADV_DONTNEED)", addr, size, true);
  return sys_madvise(addr, size, MADV_DONTNEED) == 0 ? 0 : errno;
}

void _fl_prim_protect(void *addr, size_t size, bool on) {
  page_check("mprotect", addr, size, true);
  sys_mprotect(addr, size, on ? PROT_NONE : PROT_READ | PROT_WRITE);
}

int _fl_prim_thp_mode(void) {
  char buf[128];
  if (_fl_prim_read_file(NULL, "/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof buf) <= 0)
    return 0;
  if (strstr(buf, "[always]")) return 2;
  if (strstr(buf, "[madvise]")) return 1;
  return 0;
}

bool _fl_prim_free_page_reporting(void) {
  /* virtio device id 5 is the balloon; feature bit 5 is free page reporting.
   * sysfs writes the feature bits as a string of '0'/'1', bit 0 first. */
  char path[64], buf[160];
  for (int i = 0; i < 64; i++) {
    snprintf(path, sizeof path, "/sys/bus/virtio/devices/virtio%d/device", i);
    if (_fl_prim_read_file(NULL, path, buf, sizeof buf) <= 0) {
      if (i > 16) break;
      continue;
    }
    if (strtol(buf, NULL, 16) != 5) continue;
    snprintf(path, sizeof path, "/sys/bus/virtio/devices/virtio%d/features", i);
    if (_fl_prim_read_file(NULL, path, buf, sizeof buf) > 5 && buf[5] == '1') return true;
  }
  return false;
}

/* --- Limits ------------------------------------------------------------- */

long _fl_prim_read_file(const char *root, const char *path, char *buf, size_t cap) {
  char full[512];
  size_t rl = root ? strlen(root) : 0, pl = strlen(path);
  if (cap == 0 || rl + pl + 1 > sizeof full) return -1;
  memcpy(full, root ? root : "", rl);
  memcpy(full + rl, path, pl + 1);
  int fd = open(full, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t got = 0;
  while (got + 1 < cap) {
    ssize_t n = read(fd, buf + got, cap - 1 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  close(fd);
  buf[got] = 0;
  return (long)got;
}

size_t _fl_prim_address_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return SIZE_MAX;
  return (size_t)rl.rlim_cur;
}

size_t _fl_prim_address_used(void) {
  char buf[128];
  if (_fl_prim_read_file(NULL, "/proc/self/statm", buf, sizeof buf) <= 0) return 0;
  return (size_t)strtoull(buf, NULL, 10) * kernel_page_size();
}

int _fl_prim_cpu_count(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

/* --- Environment, time, threads ----------------------------------------- */

const char *_fl_prim_getenv(const char *name) {
  size_t len = strlen(name);
  for (char **e = environ; e && *e; e++)
    if (strncmp(*e, name, len) == 0 && (*e)[len] == '=') return *e + len + 1;
  return NULL;
}

int _fl_prim_pid(void) {
  return (int)getpid();
}

uint64_t _fl_prim_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t _fl_prim_thread_minflt(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_THREAD, &ru) != 0) return 0;
  return (uint64_t)ru.ru_minflt;
}

int _fl_prim_thread_start(void *(*fn)(void *), void *arg) {
  pthread_attr_t attr;
  pthread_t t;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  /* Warmers need little stack; keep their footprint small. */
  pthread_attr_setstacksize(&attr, 256 * 1024);
  /* The thread starts with every signal blocked (it inherits the mask): the
   * program's handlers never run on it, so none runs while it holds a lock
   * of faultless's (a handler that maps memory would wait for it forever). */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&t, &attr, fn, arg);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  return rc;
}

void _fl_prim_thread_yield(void) {
  sched_yield();
}

void _fl_prim_sleep_us(unsigned us) {
  struct timespec ts = {(time_t)(us / 1000000u), (long)(us % 1000000u) * 1000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

bool _fl_prim_thread_lowest_priority(void) {
  struct sched_param sp = {0};
  if (sched_setscheduler(0, SCHED_IDLE, &sp) == 0) return true;
  setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
  return false;
}

void _fl_prim_thread_name(const char *name) {
  prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}

void _fl_prim_write_stderr(const char *msg, size_t len) {
  while (len > 0) {
    ssize_t n = write(2, msg, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    msg += n;
    len -= (size_t)n;
  }
}

_Noreturn void _fl_prim_abort(void) {
  abort();
}

uint64_t _fl_prim_random(void) {
  uint64_t r = 0;
  if (syscall(SYS_getrandom, &r, sizeof r, 1 /* GRND_NONBLOCK */) != (long)sizeof r)
    r = _fl_prim_now_ns() * 0x9E3779B97F4A7C15ull;
  return r;
}

/* --- The system allocator ------------------------------------------------ */

bool _fl_prim_system_alloc(fl_system_alloc_t *out) {
  out->malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
  out->free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
  out->calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
  out->realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
  out->posix_memalign = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
  out->usable_size = (size_t(*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
  return out->malloc && out->free && out->calloc && out->realloc && out->posix_memalign &&
         out->usable_size;
}

bool _fl_prim_shadowed(const char *name, void *self) {
  void *first = dlsym(RTLD_DEFAULT, name);
  return first && first != self;
}

bool _fl_prim_under_valgrind(void) {
#ifdef FL_HAVE_VALGRIND
  return RUNNING_ON_VALGRIND != 0;
#else
  return false;
#endif
}
