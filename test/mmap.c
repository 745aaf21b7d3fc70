// SPDX-License-Identifier: MIT
/* MMAP's semantics: the mmap family of the override library (src/mapcalls.c,
 * linked into this program beside the core library) while the warmers run.
 * A program maps, unmaps and re-maps at the same addresses: private and
 * shared anonymous memory, private and shared file mappings, mprotect flips
 * between PROT_NONE and read-write, mremap and madvise(MADV_DONTNEED); and
 * checks that the warmers populate what is tracked, never a page of anything
 * else (mincore, /proc/self/pagemap), that no byte of a file or shared
 * mapping changes, that nothing the program wrote changes, and that the
 * stats count it; and commits of fresh reservations served from the warm
 * pool keep mprotect's exact result; that fl_snapshot_prepare gives the
 * pool's unused pages back; that a signal handler's own mmap never waits
 * on a lock its thread holds. test/mmap.sh runs it with
 * FAULTLESS_MMAP=1.
 *
 *   mmap semantics   the checks above
 *   mmap rule        the option's auto rule and values (no environment)
 *   mmap probe       map 8 MiB and exit (test/mmap.sh reads the stats) */
#define _GNU_SOURCE
#include "config.h"
#include "faultless.h"
#include "testhelper.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB (1024ul * 1024)

static size_t page;
static char file_path[] = "/tmp/faultless-mmap-XXXXXX";
static int file_fd = -1;
#define FILE_SIZE (8 * MiB)

static unsigned char file_byte(size_t i) {
  return (unsigned char)(i * 7 + 3 + (i >> 12));
}

/* Pages of [p, p+len) resident now. */
static size_t resident(void *p, size_t len) {
  size_t n = len / page, count = 0;
  unsigned char *vec = malloc(n);
  if (!vec || mincore(p, len, vec) != 0) {
    free(vec);
    return (size_t)-1;
  }
  for (size_t i = 0; i < n; i++)
    count += vec[i] & 1;
  free(vec);
  return count;
}

/* Pages of [p, p+len) that are private anonymous copies (present, and not
 * file or shared: /proc/self/pagemap bits 63 and 61). In a private file
 * mapping that nobody wrote, each would be a write the program did not
 * make. (size_t)-1 when pagemap cannot be read. */
static size_t anon_copies(void *p, size_t len) {
  int fd = open("/proc/self/pagemap", O_RDONLY);
  if (fd < 0) return (size_t)-1;
  size_t count = 0;
  for (size_t off = 0; off < len; off += page) {
    uint64_t e;
    off_t at = (off_t)(((uintptr_t)p + off) / page * sizeof e);
    if (pread(fd, &e, sizeof e, at) != (ssize_t)sizeof e) {
      close(fd);
      return (size_t)-1;
    }
    if ((e >> 63 & 1) && !(e >> 61 & 1)) count++;
  }
  close(fd);
  return count;
}

static bool file_intact(void) {
  static unsigned char buf[64 * 1024];
  for (size_t off = 0; off < FILE_SIZE; off += sizeof buf) {
    if (pread(file_fd, buf, sizeof buf, (off_t)off) != (ssize_t)sizeof buf) return false;
    for (size_t i = 0; i < sizeof buf; i++)
      if (buf[i] != file_byte(off + i)) return false;
  }
  return true;
}

static bool mapping_is_file(const unsigned char *p) {
  for (size_t i = 0; i < FILE_SIZE; i += 997)
    if (p[i] != file_byte(i)) return false;
  return true;
}

/* The program's own data: one word per page, in every page. */
static void fill(void *p, size_t len, unsigned seed) {
  for (size_t off = 0; off < len; off += page)
    *(uint64_t *)((char *)p + off) = off * 31 + seed;
}
static bool filled(const void *p, size_t len, unsigned seed) {
  for (size_t off = 0; off < len; off += page)
    if (*(const uint64_t *)((const char *)p + off) != off * 31 + seed) return false;
  return true;
}

static void wait_warmers(void) {
  CHECK(fl_prefault_wait(20000) == 0);
}

static fl_stats_t stats(void) {
  fl_stats_t st = {.size = sizeof st};
  fl_stats_get(&st);
  return st;
}

#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

TEST(tracked_ranges_are_warmed) {
  fl_stats_t before = stats();
  size_t len = 16 * MiB;
  char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, ANON, -1, 0);
  CHECK(p != MAP_FAILED);
  wait_warmers();
  CHECK(resident(p, len) == len / page);
  fl_stats_t after = stats();
  CHECK(after.mmap_ranges > before.mmap_ranges);
  CHECK(after.mmap_warmed >= before.mmap_warmed + len);
  /* Committed by mprotect of a PROT_NONE reservation, as V8 does. */
  char *r = mmap(NULL, 32 * MiB, PROT_NONE, ANON | MAP_NORESERVE, -1, 0);
  CHECK(r != MAP_FAILED);
  CHECK(mprotect(r + 8 * MiB, 8 * MiB, PROT_READ | PROT_WRITE) == 0);
  wait_warmers();
  CHECK(resident(r + 8 * MiB, 8 * MiB) == 8 * MiB / page);
  CHECK(resident(r, 8 * MiB) == 0);
  CHECK(resident(r + 16 * MiB, 16 * MiB) == 0);
  munmap(r, 32 * MiB);
  munmap(p, len);
}

/* |a - b| under 1 MiB: warm also moves by what the test's own mallocs
 * populate. */
static bool near(uint64_t a, uint64_t b) {
  return (a > b ? a - b : b - a) < MiB;
}

/* What the warmers populated in the program's mappings, or moved there from
 * the pool, counts in warm until the program unmaps or drops it, and once
 * only: a range made writable again is not counted twice. */
TEST(warm_counts_what_is_there) {
  size_t len = 16 * MiB;
  uint64_t w0 = stats().warm;
  char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, ANON, -1, 0);
  CHECK(p != MAP_FAILED);
  wait_warmers();
  CHECK(near(stats().warm, w0 + len));
  CHECK(madvise(p, len / 2, MADV_DONTNEED) == 0);
  CHECK(near(stats().warm, w0 + len / 2));
  CHECK(mprotect(p, len, PROT_READ) == 0);
  CHECK(mprotect(p + len / 2, len / 2, PROT_READ | PROT_WRITE) == 0);
  wait_warmers();
  CHECK(near(stats().warm, w0 + len / 2)); /* still there: not counted again */
  CHECK(mprotect(p, len, PROT_READ | PROT_WRITE) == 0);
  wait_warmers();
  CHECK(near(stats().warm, w0 + len)); /* the dropped half, warmed again */
  CHECK(munmap(p, len) == 0);
  CHECK(near(stats().warm, w0));
  /* Pages served from the pool: dropped, they stop counting. */
  size_t piece = 256 * 1024;
  char *r = mmap(NULL, len, PROT_NONE, ANON | MAP_NORESERVE, -1, 0);
  CHECK(r != MAP_FAILED);
  CHECK(mprotect(r, piece, PROT_READ | PROT_WRITE) == 0); /* asks for a pool */
  wait_warmers();
  fl_stats_t a = stats();
  CHECK(mprotect(r + piece, piece, PROT_READ | PROT_WRITE) == 0);
  fl_stats_t b = stats();
  CHECK(b.mmap_pooled == a.mmap_pooled + piece && b.warm == a.warm);
  CHECK(madvise(r + piece, piece, MADV_DONTNEED) == 0);
  CHECK(stats().warm == b.warm - piece);
  CHECK(munmap(r, len) == 0);
  CHECK(stats().warm == b.warm - 2 * piece); /* and the first commit, warmed */
}

/* A program that maps, uses and unmaps ranges over and over, as a runtime's
 * collector does, gets each one warmed, however small the budget: what it
 * unmapped no longer counts. */
TEST(budget_given_back) {
  size_t len = 16 * MiB;
  for (int i = 0; i < 8; i++) {
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, ANON, -1, 0);
    CHECK(p != MAP_FAILED);
    wait_warmers();
    CHECK(resident(p, len) == len / page);
    munmap(p, len);
  }
}

TEST(others_never_touched) {
  fl_stats_t before = stats();
  size_t len = 16 * MiB;
  char *shared = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  char *none = mmap(NULL, len, PROT_NONE, ANON, -1, 0);
  char *ro = mmap(NULL, len, PROT_READ, ANON, -1, 0);
  unsigned char *fpriv = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, file_fd, 0);
  unsigned char *fshared = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, file_fd, 0);
  CHECK(shared != MAP_FAILED && none != MAP_FAILED && ro != MAP_FAILED);
  CHECK(fpriv != MAP_FAILED && fshared != MAP_FAILED);
  wait_warmers();
  CHECK(resident(shared, len) == 0);
  CHECK(resident(none, len) == 0);
  CHECK(resident(ro, len) == 0);
  CHECK(anon_copies(fpriv, FILE_SIZE) == 0);
  CHECK(mapping_is_file(fpriv) && mapping_is_file(fshared));
  CHECK(file_intact());
  fl_stats_t after = stats();
  CHECK(after.mmap_skipped >= before.mmap_skipped + 2); /* the two writable file mappings */
  CHECK(after.mmap_warmed == before.mmap_warmed);
  munmap(shared, len);
  munmap(none, len);
  munmap(ro, len);
  munmap(fpriv, FILE_SIZE);
  munmap(fshared, FILE_SIZE);
}

/* Stacks mapped with MAP_STACK (writable at once, or PROT_NONE with a guard
 * page and then made writable) are never warmed. */
TEST(stacks_not_warmed) {
  fl_stats_t before = stats();
  size_t len = 8 * MiB;
  char *rw = mmap(NULL, len, PROT_READ | PROT_WRITE, ANON | MAP_STACK, -1, 0);
  char *guarded = mmap(NULL, len + page, PROT_NONE, ANON | MAP_STACK, -1, 0);
  CHECK(rw != MAP_FAILED && guarded != MAP_FAILED);
  CHECK(mprotect(guarded + page, len, PROT_READ | PROT_WRITE) == 0);
  wait_warmers();
  CHECK(resident(rw, len) == 0);
  CHECK(resident(guarded, len + page) == 0);
  fl_stats_t after = stats();
  CHECK(after.mmap_warmed == before.mmap_warmed);
  CHECK(after.mmap_skipped >= before.mmap_skipped + 2);
  munmap(rw, len);
  munmap(guarded, len + page);
}

/* At one address, over and over: a tracked range is committed and written
 * while the warmers start on it, then replaced by something else at once.
 * Whatever replaced it must never be populated or changed by them. */
TEST(remapped_under_the_warmers) {
  size_t len = 32 * MiB;
  char *base = mmap(NULL, len, PROT_NONE, ANON | MAP_NORESERVE, -1, 0);
  CHECK(base != MAP_FAILED);
  int bad_resident = 0, bad_data = 0, bad_file = 0, misplaced = 0, taken = 0;
  for (int i = 0; i < 48; i++) {
    char *p = mmap(base, len, PROT_READ | PROT_WRITE, ANON | MAP_FIXED, -1, 0);
    if (p != base) {
      misplaced++;
      continue;
    }
    fill(p, 4 * MiB, (unsigned)i);
    if (!filled(p, 4 * MiB, (unsigned)i)) bad_data++;
    /* Warmers wait until the program has made no call for 5 ms: let them
     * start on the range, and catch them at different points of it. */
    usleep(6000 + (unsigned)(i % 3) * 4000);
    switch (i % 4) {
    case 0: /* replaced in place by shared anonymous memory */
      p = mmap(base, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
      wait_warmers();
      if (resident(p, len) != 0) bad_resident++;
      break;
    case 1: /* unmapped, then a shared file mapping at the same address */
      munmap(base, len);
      p = mmap(base, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, file_fd,
               0);
      if (p == MAP_FAILED) {
        /* EEXIST: another mapping (a thread's stack, say) took the hole
         * first; not faultless's doing, and nothing to check. */
        if (errno == EEXIST)
          taken++;
        else
          misplaced++;
        break;
      }
      wait_warmers();
      if (!mapping_is_file((unsigned char *)p) || !file_intact()) bad_file++;
      break;
    case 2: /* replaced in place by a private file mapping */
      p = mmap(base, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, file_fd, 0);
      wait_warmers();
      if (anon_copies(p, FILE_SIZE) != 0 || !mapping_is_file((unsigned char *)p)) bad_file++;
      break;
    case 3: /* its contents dropped: no warming after that */
      madvise(p + 4 * MiB, len - 4 * MiB, MADV_DONTNEED);
      wait_warmers();
      if (resident(p + 4 * MiB, len - 4 * MiB) != 0) bad_resident++;
      if (!filled(p, 4 * MiB, (unsigned)i)) bad_data++;
      break;
    }
    /* Back to a reservation for the next round. */
    mmap(base, len, PROT_NONE, ANON | MAP_NORESERVE | MAP_FIXED, -1, 0);
  }
  CHECK(misplaced == 0);
  CHECK(taken < 6); /* of 12 */
  CHECK(bad_resident == 0);
  CHECK(bad_data == 0);
  CHECK(bad_file == 0);
  munmap(base, len);
}

/* mprotect NONE <-> RW flips and mremap: the program's data survives, and
 * memory made PROT_NONE is not warmed again until it is read-write. */
TEST(protect_and_remap) {
  size_t len = 16 * MiB;
  int bad = 0;
  for (int i = 0; i < 16; i++) {
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, ANON, -1, 0);
    CHECK(p != MAP_FAILED);
    fill(p, len / 2, (unsigned)i);
    CHECK(mprotect(p, len, PROT_NONE) == 0);
    wait_warmers();
    /* The upper half: never written, perhaps warmed before the flip, but
     * not after; made read-write it is tracked again and warmed. */
    CHECK(mprotect(p, len, PROT_READ | PROT_WRITE) == 0);
    if (!filled(p, len / 2, (unsigned)i)) bad++;
    wait_warmers();
    if (resident(p, len) != len / page) bad++;
    /* Grown and moved: the data moves with it; the old place, mapped
     * again as shared memory, is never populated. */
    char *q = mremap(p, len, 2 * len, MREMAP_MAYMOVE);
    CHECK(q != MAP_FAILED);
    if (!filled(q, len / 2, (unsigned)i)) bad++;
    if (q != p) {
      char *s = mmap(p, len, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
      wait_warmers();
      if (s == p && resident(s, len) != 0) bad++;
      if (s != MAP_FAILED) munmap(s, len);
    }
    munmap(q, 2 * len);
  }
  CHECK(bad == 0);
}

/* The flags the kernel shows for the mapping holding p (smaps VmFlags,
 * two-letter codes separated by spaces), and its permissions ("rw-p"). */
static bool vm_flags(const void *p, char *flags, size_t cap, char perms[5]) {
  FILE *f = fopen("/proc/self/smaps", "r");
  if (!f) return false;
  char line[512];
  bool in = false, found = false;
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    char pm[5];
    if (sscanf(line, "%lx-%lx %4s", &lo, &hi, pm) == 3 && strchr(line, '-') < strchr(line, ' ')) {
      in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
      if (in) memcpy(perms, pm, 5);
    } else if (in && strncmp(line, "VmFlags:", 8) == 0) {
      size_t n = strlen(line + 8);
      if (n >= cap) n = cap - 1;
      memcpy(flags, line + 8, n);
      flags[n] = 0;
      found = true;
      break;
    }
  }
  fclose(f);
  return found;
}

static bool has_flag(const char *flags, const char *code) {
  char pat[8];
  snprintf(pat, sizeof pat, " %s", code);
  return strstr(flags, pat) != NULL;
}

static bool all_zero(const char *p, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (p[i]) return false;
  return true;
}

/* Commits of fresh ranges (mprotect of a PROT_NONE, MAP_NORESERVE
 * reservation to read-write, as V8 commits its pages) served from the warm
 * pool: each reads as zero, is read-write and present, keeps
 * MADV_DONTFORK where it was given (and only there), and afterwards behaves
 * as any committed range: data kept across PROT_NONE and back, dropped by
 * MADV_DONTNEED, gone with munmap, absent in a fork child. */
TEST(pool_commits) {
  size_t piece = 256 * 1024, len = 64 * MiB;
  char *r = mmap(NULL, len, PROT_NONE, ANON | MAP_NORESERVE, -1, 0);
  char *plain = mmap(NULL, len, PROT_NONE, ANON | MAP_NORESERVE, -1, 0);
  CHECK(r != MAP_FAILED && plain != MAP_FAILED);
  CHECK(madvise(r, len, MADV_DONTFORK) == 0);
  /* The first fresh commit asks for the pool; the warmers fill it. */
  CHECK(mprotect(r, piece, PROT_READ | PROT_WRITE) == 0);
  wait_warmers();
  fl_stats_t before = stats();
  int n = 32, not_present = 0, not_zero = 0, bad_flags = 0;
  for (int k = 1; k <= n; k++) {
    char *p = r + (size_t)k * piece;
    CHECK(mprotect(p, piece, PROT_READ | PROT_WRITE) == 0);
    if (resident(p, piece) != piece / page) not_present++;
    if (!all_zero(p, piece)) not_zero++;
    fill(p, piece, (unsigned)k);
    char flags[256] = "", perms[5] = "";
    if (!vm_flags(p, flags, sizeof flags, perms) || strcmp(perms, "rw-p") != 0 ||
        !has_flag(flags, "dc") || has_flag(flags, "hg") || has_flag(flags, "nh"))
      bad_flags++;
  }
  fl_stats_t after = stats();
  CHECK(after.mmap_pooled - before.mmap_pooled == (uint64_t)n * piece);
  CHECK(not_present == 0);
  CHECK(not_zero == 0);
  CHECK(bad_flags == 0);
  /* The neighbours stay reserved: PROT_NONE, nothing present. */
  char flags[256], perms[5] = "";
  CHECK(vm_flags(r + (size_t)(n + 1) * piece, flags, sizeof flags, perms) &&
        strcmp(perms, "---p") == 0);
  CHECK(resident(r + (size_t)(n + 1) * piece, len - (size_t)(n + 1) * piece) == 0);
  /* Without MADV_DONTFORK on the reservation, none on the commit. */
  CHECK(mprotect(plain, piece, PROT_READ | PROT_WRITE) == 0);
  CHECK(vm_flags(plain, flags, sizeof flags, perms) && !has_flag(flags, "dc") &&
        strcmp(perms, "rw-p") == 0);
  CHECK(all_zero(plain, piece));
  /* Data survives PROT_NONE and back (that commit is not fresh: a plain
   * mprotect, not served). */
  before = stats();
  char *p1 = r + piece;
  CHECK(mprotect(p1, piece, PROT_NONE) == 0);
  CHECK(mprotect(p1, piece, PROT_READ | PROT_WRITE) == 0);
  CHECK(filled(p1, piece, 1));
  CHECK(stats().mmap_pooled == before.mmap_pooled);
  /* MADV_DONTNEED drops it; munmap removes it, and a new mapping there is
   * zero. */
  char *p2 = r + 2 * piece;
  CHECK(madvise(p2, piece, MADV_DONTNEED) == 0);
  CHECK(all_zero(p2, piece));
  char *p3 = r + 3 * piece;
  CHECK(munmap(p3, piece) == 0);
  char *q = mmap(p3, piece, PROT_READ | PROT_WRITE, ANON | MAP_FIXED_NOREPLACE, -1, 0);
  CHECK((q == MAP_FAILED && errno == EEXIST) || (q == p3 && all_zero(q, piece)));
  /* A fork child has no DONTFORK memory: mincore says it is not mapped. */
  char *p4 = r + 4 * piece;
  pid_t pid = fork();
  if (pid == 0) {
    unsigned char vec[64];
    _exit(mincore(p4, piece, vec) == -1 && errno == ENOMEM ? 0 : 1);
  }
  int status = 0;
  CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
        WEXITSTATUS(status) == 0);
  CHECK(filled(p4, piece, 4));
  /* Not served: a commit with PROT_EXEC, one larger than the pool serves,
   * one of a range given other advice first, one of a range mapped with
   * another flag (MAP_STACK). Each still reads zero. */
  before = stats();
  char *x = r + 40 * piece;
  CHECK(mprotect(x, piece, PROT_READ | PROT_WRITE | PROT_EXEC) == 0 && all_zero(x, piece));
  char *big = r + 48 * piece; /* 4 MiB, fresh */
  CHECK(mprotect(big, 16 * piece, PROT_READ | PROT_WRITE) == 0 && all_zero(big, 16 * piece));
  char *h = r + 80 * piece;
  CHECK(madvise(h, piece, MADV_HUGEPAGE) == 0);
  CHECK(mprotect(h, piece, PROT_READ | PROT_WRITE) == 0 && all_zero(h, piece));
  char *st = mmap(NULL, piece, PROT_NONE, ANON | MAP_NORESERVE | MAP_STACK, -1, 0);
  CHECK(st != MAP_FAILED && mprotect(st, piece, PROT_READ | PROT_WRITE) == 0 &&
        all_zero(st, piece));
  munmap(st, piece);
  CHECK(stats().mmap_pooled == before.mmap_pooled);
  /* The served pieces kept what was written in them. */
  int lost = 0;
  for (int k = 5; k <= n; k++)
    if (!filled(r + (size_t)k * piece, piece, (unsigned)k)) lost++;
  CHECK(lost == 0);
  munmap(r, len);
  munmap(plain, len);
}

/* A fresh reservation of len bytes whose first piece was committed, and
 * the pool that commit asked for filled. */
static char *reservation_with_pool(size_t len, size_t piece) {
  char *r = mmap(NULL, len, PROT_NONE, ANON | MAP_NORESERVE, -1, 0);
  CHECK(r != MAP_FAILED);
  CHECK(mprotect(r, piece, PROT_READ | PROT_WRITE) == 0);
  wait_warmers();
  return r;
}

/* Calls that change a reservation outside mprotect: after them its commit
 * is no longer served from the pool, which would undo them. Data written
 * after pkey_mprotect made the range read-write survives PROT_NONE and back;
 * a commit of an mlock'ed reservation stays locked. And a served commit
 * leaves errno as it was, as a successful mprotect does. */
TEST(pool_respects_other_calls) {
  size_t piece = 256 * 1024, len = 16 * MiB;
  char *r = reservation_with_pool(len, piece);
  /* errno is kept by a served commit. */
  fl_stats_t before = stats();
  errno = ERANGE;
  CHECK(mprotect(r + piece, piece, PROT_READ | PROT_WRITE) == 0);
  CHECK(errno == ERANGE);
  CHECK(stats().mmap_pooled == before.mmap_pooled + piece);
  /* pkey_mprotect with the default key 0 (every kernel with the call). */
  char *k = r + 4 * piece;
  int rc = pkey_mprotect(k, piece, PROT_READ | PROT_WRITE, 0);
  if (rc != 0 && (errno == ENOSYS || errno == EINVAL)) {
    SKIP("mmap", "pool_respects_other_calls: pkey_mprotect with key 0 refused here (no keys)");
  } else {
    CHECK(rc == 0);
    fill(k, piece, 77);
    CHECK(mprotect(k, piece, PROT_NONE) == 0);
    CHECK(mprotect(k, piece, PROT_READ | PROT_WRITE) == 0);
    CHECK(filled(k, piece, 77));
  }
  /* mlock of a reservation: its commit keeps the lock ("lo"). */
  char *l = r + 8 * piece;
  if (mlock(l, piece) != 0) {
    SKIP("mmap", "pool_respects_other_calls: mlock of a reservation refused here");
  } else {
    CHECK(mprotect(l, piece, PROT_READ | PROT_WRITE) == 0);
    char flags[256] = "", perms[5] = "";
    CHECK(vm_flags(l, flags, sizeof flags, perms) && has_flag(flags, "lo"));
    CHECK(all_zero(l, piece));
    munlock(l, piece);
  }
  munmap(r, len);
}

/* Memory the program drops before the warmers reach it is not warmed
 * again: MADV_DONTNEED_LOCKED as MADV_DONTNEED. */
TEST(dropped_not_rewarmed) {
#ifdef MADV_DONTNEED_LOCKED
  size_t len = 8 * MiB;
  char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, ANON, -1, 0);
  CHECK(p != MAP_FAILED);
  int rc = madvise(p, len, MADV_DONTNEED_LOCKED);
  if (rc != 0 && errno == EINVAL) {
    SKIP("mmap", "dropped_not_rewarmed: MADV_DONTNEED_LOCKED unknown to this kernel");
  } else {
    CHECK(rc == 0);
    wait_warmers();
    CHECK(resident(p, len) == 0);
  }
  munmap(p, len);
#else
  SKIP("mmap", "dropped_not_rewarmed: no MADV_DONTNEED_LOCKED in these headers");
#endif
}

/* The pool is not inherited by a fork child: its populated pages would be
 * shared copy-on-write with the child, and every page the parent is served
 * afterwards would fault on its first write, even once the child is gone.
 * mremap with MREMAP_DONTUNMAP takes new_address as a hint, as glibc's
 * wrapper passes it. */
static long minflt(void) {
  struct rusage ru;
  getrusage(RUSAGE_THREAD, &ru);
  return ru.ru_minflt;
}
TEST(pool_after_fork) {
  size_t piece = 256 * 1024, len = 16 * MiB;
  char *r = reservation_with_pool(len, piece);
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  int status = 0;
  CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
  fl_stats_t before = stats();
  char *p = r + piece;
  CHECK(mprotect(p, piece, PROT_READ | PROT_WRITE) == 0);
  CHECK(stats().mmap_pooled == before.mmap_pooled + piece);
  long f0 = minflt();
  for (size_t i = 0; i < piece; i += page)
    p[i] = 1;
  long faults = minflt() - f0;
#if defined(FL_SANITIZE)
  /* A sanitizer's shadow memory takes faults of its own on those writes. */
  (void)faults;
  SKIP("mmap", "pool_after_fork: page faults not counted under a sanitizer (its shadow faults)");
#else
  CHECK(faults < (long)(piece / page / 4));
#endif
  munmap(r, len);
#ifdef MREMAP_DONTUNMAP
  char *src = mmap(NULL, 1 * MiB, PROT_READ | PROT_WRITE, ANON, -1, 0);
  char *hint = mmap(NULL, 4 * MiB, PROT_NONE, ANON, -1, 0);
  CHECK(src != MAP_FAILED && hint != MAP_FAILED);
  munmap(hint, 4 * MiB);
  src[0] = 5;
  char *q = mremap(src, 1 * MiB, 1 * MiB, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, hint + 1 * MiB);
  if (q == MAP_FAILED && errno == EINVAL) {
    SKIP("mmap", "pool_after_fork: MREMAP_DONTUNMAP refused by this kernel");
  } else {
    CHECK(q == hint + 1 * MiB);
    CHECK(q != MAP_FAILED && q[0] == 5);
    if (q != MAP_FAILED) munmap(q, 1 * MiB);
  }
  munmap(src, 1 * MiB);
#endif
}

/* fl_snapshot_prepare gives back the pool's warm pages that no commit took
 * (they would be saved in the snapshot, and counted in warm); after the
 * restore the pool is filled again and serves commits. */
TEST(snapshot_gives_back_the_pool) {
  size_t piece = 256 * 1024, len = 16 * MiB;
  char *r = reservation_with_pool(len, piece);
  CHECK(mprotect(r + piece, piece, PROT_READ | PROT_WRITE) == 0); /* the pool is there */
  fl_stats_t before = stats();
  CHECK(before.mmap_pooled > 0);
  fl_snapshot_prepare();
  fl_stats_t mid = stats();
  /* What the pool held is no longer counted warm: at least 2 MiB, as a
   * region with less left than the largest commit it serves is replaced. */
  CHECK(mid.warm + 2 * MiB <= before.warm);
  fl_snapshot_restored();
  wait_warmers();
  fl_stats_t after = stats();
  CHECK(mprotect(r + 2 * piece, piece, PROT_READ | PROT_WRITE) == 0);
  CHECK(stats().mmap_pooled == after.mmap_pooled + piece);
  CHECK(all_zero(r + 2 * piece, piece));
  munmap(r, len);
}

/* A signal handler that maps and unmaps, run on any thread at any moment:
 * on a thread inside a reported call (holding the tables' lock), or on a
 * warmer (holding it across a piece). Neither may deadlock. */
static _Atomic int handled;
static void map_in_handler(int sig) {
  (void)sig;
  int e = errno;
  void *p = mmap(NULL, 64 * 1024, PROT_READ | PROT_WRITE, ANON, -1, 0);
  if (p != MAP_FAILED) munmap(p, 64 * 1024);
  atomic_fetch_add(&handled, 1);
  errno = e;
}
static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "FAIL signal_handler_maps: deadlocked\n";
  ssize_t w = write(2, msg, sizeof msg - 1);
  (void)w;
  _exit(3);
}
static _Atomic int calls_stop;
static void *map_calls(void *arg) {
  (void)arg;
  while (!atomic_load(&calls_stop)) {
    char *p = mmap(NULL, 1 * MiB, PROT_READ | PROT_WRITE, ANON, -1, 0);
    if (p == MAP_FAILED) continue;
    mprotect(p, 1 * MiB, PROT_NONE);
    munmap(p, 1 * MiB);
  }
  return NULL;
}
TEST(signal_handler_maps) {
  struct sigaction sa = {.sa_handler = map_in_handler}, old, olda;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  CHECK(sigaction(SIGUSR1, &sa, &old) == 0);
  struct sigaction al = {.sa_handler = on_alarm};
  sigemptyset(&al.sa_mask);
  CHECK(sigaction(SIGALRM, &al, &olda) == 0);
  alarm(20);
  /* The warmers block every signal: the handler never runs there. */
  DIR *d = opendir("/proc/self/task");
  int warmers_open = 0;
  if (d) {
    struct dirent *e;
    while ((e = readdir(d))) {
      if (e->d_name[0] == '.' || atoi(e->d_name) == getpid()) continue;
      char path[300], line[256];
      snprintf(path, sizeof path, "/proc/self/task/%s/status", e->d_name);
      FILE *f = fopen(path, "r");
      if (!f) continue;
      while (fgets(line, sizeof line, f))
        if (strncmp(line, "SigBlk:", 7) == 0) {
          unsigned long long blk = strtoull(line + 7, NULL, 16);
          if (!(blk & (1ull << (SIGUSR1 - 1)))) warmers_open++;
        }
      fclose(f);
    }
    closedir(d);
  }
  CHECK(warmers_open == 0);
  /* A thread in reported calls, signalled again and again. */
  atomic_store(&calls_stop, 0);
  atomic_store(&handled, 0);
  pthread_t t;
  CHECK(pthread_create(&t, NULL, map_calls, NULL) == 0);
  for (int i = 0; i < 20000; i++) {
    pthread_kill(t, SIGUSR1);
    if (i % 64 == 0) sched_yield();
  }
  atomic_store(&calls_stop, 1);
  pthread_join(t, NULL);
  alarm(0);
  CHECK(atomic_load(&handled) > 0);
  sigaction(SIGUSR1, &old, NULL);
  sigaction(SIGALRM, &olda, NULL);
}

TEST(the_rule) {
  long long v = 0;
  CHECK(!_fl_mmap_rule(FL_AUTO, false));
  CHECK(_fl_mmap_rule(FL_AUTO, true));
  CHECK(!_fl_mmap_rule(0, true));
  CHECK(_fl_mmap_rule(1, false));
  CHECK(_fl_option_parse(FL_OPT_MMAP, "auto", &v) && v == FL_AUTO);
  CHECK(_fl_option_parse(FL_OPT_MMAP, "0", &v) && v == 0);
  CHECK(_fl_option_parse(FL_OPT_MMAP, "on", &v) && v == 1);
  v = 7;
  CHECK(!_fl_option_parse(FL_OPT_MMAP, "2", &v) && v == 7);
  CHECK(!_fl_option_parse(FL_OPT_MMAP, "", &v) && v == 7);
}

/* Run with PREFAULT=0 and AHEAD=0 (test/mmap.sh). A prefault says how much
 * to warm in all: after the warmers populated 64 MiB this program mapped, a
 * prefault of 96 MiB leaves the arena the remaining 32 MiB to warm. */
TEST(prefault_shared_with_mappings) {
  size_t len = 64 * MiB, chunk = 2 * MiB;
  char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, ANON, -1, 0);
  CHECK(p != MAP_FAILED);
  wait_warmers();
  fl_stats_t a = stats();
  CHECK(a.mmap_warmed >= len);
  CHECK(fl_prefault(96 * MiB) == 0);
  wait_warmers();
  fl_stats_t b = stats();
  size_t arena = (size_t)(b.warmed_by_warmers - b.mmap_warmed);
  /* Warmers look between chunks: up to two chunks either side. */
  CHECK(arena + 2 * chunk >= 96 * MiB - (size_t)b.mmap_warmed);
  CHECK(arena <= 96 * MiB - (size_t)b.mmap_warmed + 2 * chunk);
  printf("mmap-share: prefault 96 MiB: %zu MiB warmed in the mapping, %zu MiB in the arena\n",
         (size_t)(b.mmap_warmed >> 20), arena >> 20);
  munmap(p, len);
}

/* While the program keeps changing its mappings, the warmers touch the
 * arena's pages instead of populating them (a populate would hold the
 * address-space lock its calls need): the prefault is warmed all the same,
 * and blocks the program fills meanwhile keep what it wrote. */
TEST(arena_warmed_while_mapping) {
  pthread_t t;
  atomic_store(&calls_stop, 0);
  CHECK(pthread_create(&t, NULL, map_calls, NULL) == 0);
  fl_stats_t a = stats();
  CHECK(fl_prefault(64 * MiB) == 0);
  enum { N = 64 };
  static char *blocks[N];
  for (int i = 0; i < N; i++) {
    blocks[i] = fl_malloc(256 * 1024);
    if (blocks[i]) fill(blocks[i], 256 * 1024, (unsigned)i);
  }
  CHECK(fl_prefault_wait(20000) == 0);
  atomic_store(&calls_stop, 1);
  pthread_join(t, NULL);
  fl_stats_t b = stats();
  CHECK(b.warmed_by_warmers - b.mmap_warmed >= a.warmed_by_warmers - a.mmap_warmed + 48 * MiB);
  for (int i = 0; i < N; i++) {
    CHECK(blocks[i] && filled(blocks[i], 256 * 1024, (unsigned)i));
    fl_free(blocks[i]);
  }
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "semantics";
  page = (size_t)sysconf(_SC_PAGESIZE);
  if (strcmp(mode, "probe") == 0) {
    void *p = mmap(NULL, 8 * MiB, PROT_READ | PROT_WRITE, ANON, -1, 0);
    return p == MAP_FAILED;
  }
  /* Modes that run one test in a process of their own (test/mmap.sh gives
   * each its options). */
#define ALONE(mode, test)                                                                          \
  { mode, "mmap-" mode, #test, test }
  static const struct {
    const char *mode, *report, *name;
    void (*test)(void);
  } alone[] = {ALONE("share", prefault_shared_with_mappings),
               ALONE("busy", arena_warmed_while_mapping), ALONE("budget", budget_given_back),
               ALONE("rule", the_rule)};
#undef ALONE
  for (size_t i = 0; i < sizeof alone / sizeof alone[0]; i++) {
    if (strcmp(mode, alone[i].mode) != 0) continue;
    test_current = alone[i].name;
    alone[i].test();
    return test_report(alone[i].report);
  }
  fl_stats_t st = stats();
  (void)st;
  file_fd = mkstemp(file_path);
  if (file_fd < 0) {
    perror("mkstemp");
    return 1;
  }
  unlink(file_path);
  static unsigned char buf[64 * 1024];
  for (size_t off = 0; off < FILE_SIZE; off += sizeof buf) {
    for (size_t i = 0; i < sizeof buf; i++)
      buf[i] = file_byte(off + i);
    if (pwrite(file_fd, buf, sizeof buf, (off_t)off) != (ssize_t)sizeof buf) return 1;
  }
  if (!getenv("FAULTLESS_MMAP") || strcmp(getenv("FAULTLESS_MMAP"), "1") != 0) {
    SKIP("mmap", "semantics: run with FAULTLESS_MMAP=1 (test/mmap.sh)");
    return test_report("mmap");
  }
  RUN(tracked_ranges_are_warmed);
  RUN(warm_counts_what_is_there);
  RUN(others_never_touched);
  RUN(stacks_not_warmed);
  RUN(remapped_under_the_warmers);
  RUN(protect_and_remap);
  RUN(pool_commits);
  RUN(pool_respects_other_calls);
  RUN(dropped_not_rewarmed);
  RUN(pool_after_fork);
  RUN(snapshot_gives_back_the_pool);
  RUN(signal_handler_maps);
  close(file_fd);
  return test_report("mmap");
}
