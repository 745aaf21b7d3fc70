// SPDX-License-Identifier: MIT
/* Limits and the environment: each case re-runs this program as a child with
 * an environment or an rlimit set, and checks what the child reports.
 * Usage: limits            run every case
 *        limits child CASE  (internal) run one case's child side */
#define _GNU_SOURCE
#include "faultless.h"
#include "testhelper.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB (1024ull * 1024)

static fl_stats_t stats(void) {
  fl_stats_t st = {.size = sizeof st};
  fl_stats_get(&st);
  return st;
}

/* Child side: allocate past a small reservation; everything must still work. */
static int child_overflow(void) {
  enum { N = 40 };
  char *p[N];
  for (int i = 0; i < N; i++) {
    p[i] = fl_malloc(4 * MiB);
    if (!p[i]) return 10;
    memset(p[i], i, 4 * MiB);
  }
  void *small[5000];
  for (int i = 0; i < 5000; i++)
    if (!(small[i] = fl_malloc(200 + (size_t)i % 64 * 256))) return 16;
  fl_stats_t st = stats();
  printf("reserved=%llu outside=%llu\n", (unsigned long long)st.reserved,
         (unsigned long long)st.outside);
  char *g = fl_realloc(p[0], 64 * MiB); /* outside growth keeps contents */
  if (!g || g[4 * MiB - 1] != 0) return 11;
  p[0] = g;
  if (fl_usable_size(g) < 64 * MiB) return 12;
  for (int i = 0; i < N; i++) {
    for (size_t k = 0; k < 4 * MiB; k += 4096)
      if (p[i][k] != (char)i) return 13;
    fl_free(p[i]);
  }
  for (int i = 0; i < 5000; i++)
    fl_free(small[i]);
  if (fl_malloc(SIZE_MAX / 4) != NULL || errno != ENOMEM) return 14;
  return fl_heap_check() == 0 ? 0 : 15;
}

/* Child side: a thread in caching mode (one that frees other threads'
 * blocks while it mallocs) whose heap runs out of room mallocs from the OS
 * too. Its cache refills from the heap, so this is a path of its own. */
enum { FOREIGN = 2048 };
static void *foreign[FOREIGN];

static void *overflow_in_mode(void *arg) {
  int *rc = arg;
  void *own[16];
  for (int i = 0; i < 16; i++) /* a malloc slow path each: this thread mallocs */
    own[i] = fl_malloc(16 * (size_t)(i + 1) * 64);
  for (int i = 0; i < FOREIGN; i++)
    fl_free(foreign[i]);
  void *p = fl_malloc(64);
  if (p != foreign[FOREIGN - 1]) *rc = 20; /* not in the mode: the case tests nothing */
  fl_free(p);
  enum { N = 8, SMALL = 2000 };
  char *big[N];
  for (int i = 0; i < N; i++) /* 32 MiB: past the 8 MiB reservation */
    big[i] = fl_malloc(4 * MiB);
  void *small[SMALL];
  for (int i = 0; i < SMALL; i++)
    if (!(small[i] = fl_malloc(200 + (size_t)i % 64 * 256)) && !*rc) *rc = 21;
  if (stats().outside == 0 && !*rc) *rc = 22;
  for (int i = 0; i < SMALL; i++)
    fl_free(small[i]);
  for (int i = 0; i < N; i++)
    fl_free(big[i]);
  for (int i = 0; i < 16; i++)
    fl_free(own[i]);
  return NULL;
}

static int child_overflow_in_mode(void) {
  for (int i = 0; i < FOREIGN; i++)
    foreign[i] = fl_malloc(64);
  int rc = 0;
  pthread_t t;
  pthread_create(&t, NULL, overflow_in_mode, &rc);
  pthread_join(t, NULL);
  return rc ? rc : fl_heap_check() == 0 ? 0 : 23;
}

static int child_prefault_budget(void) {
  /* A budget smaller than the prefault: warming stops at the budget. */
  fl_prefault(512 * MiB);
  fl_prefault_wait(30000);
  fl_stats_t st = stats();
  printf("budget=%llu warm=%llu warmed=%llu source=%u\n", (unsigned long long)st.budget,
         (unsigned long long)st.warm, (unsigned long long)st.warmed_by_warmers, st.budget_source);
  return 0;
}

/* Memory runs short after start-up (the fixture says 256 MiB available): the
 * warmers stop instead of warming the 2 GiB asked for. */
extern const char *_fl_fs_root;
static int child_pressure(void) {
  _fl_fs_root = FIXTURES "/lowmem";
  fl_prefault(2048 * MiB);
  if (fl_prefault_wait(30000) != 0) return 20;
  fl_stats_t st = stats();
  printf("warmed=%llu\n", (unsigned long long)st.warmed_by_warmers);
  char *p = fl_malloc(8 * MiB); /* and the process goes on allocating */
  memset(p, 1, 8 * MiB);
  fl_free(p);
  return 0;
}

/* Wait for the prefault, then report how much of the process is in huge
 * pages, and which mappings are marked for them (VmFlags "hg"). */
/* Print each mapping with huge pages asked for ("hg=START-END") and the
 * process's AnonHugePages total ("huge_kb=N"). */
static void print_huge_mappings(void) {
  unsigned long long kb = 0, total = 0, start = 0, end = 0;
  FILE *f = fopen("/proc/self/smaps", "r");
  char line[512];
  while (f && fgets(line, sizeof line, f)) {
    if (sscanf(line, "AnonHugePages: %llu kB", &kb) == 1) total += kb;
    if (!strncmp(line, "VmFlags:", 8) && strstr(line, " hg")) printf("hg=%llx-%llx\n", start, end);
    unsigned long long s0, e0;
    char perms[8];
    if (sscanf(line, "%llx-%llx %7s", &s0, &e0, perms) == 3) start = s0, end = e0; /* a header */
  }
  if (f) fclose(f);
  printf("huge_kb=%llu\n", total);
}

static int child_huge(void) {
  if (fl_prefault_wait(30000) != 0) return 30;
  print_huge_mappings();
  return 0;
}

/* A prefault asked for after the heap has grown reaches the end of a small
 * reservation: the warmers' huge-page marks must stay inside it. */
static int child_huge_edge(void) {
  if (fl_prefault_wait(30000) != 0) return 30;
  char *p = fl_malloc(40 * MiB);
  if (!p) return 31;
  memset(p, 1, 40 * MiB);
  fl_prefault(128 * MiB);
  if (fl_prefault_wait(30000) != 0) return 32;
  print_huge_mappings();
  fl_free(p);
  return 0;
}

static int run_child(const char *name) {
  if (!strcmp(name, "huge")) return child_huge();
  if (!strcmp(name, "huge-edge")) return child_huge_edge();
  if (!strcmp(name, "pressure")) return child_pressure();
  if (!strcmp(name, "overflow")) return child_overflow();
  if (!strcmp(name, "overflow-in-mode")) return child_overflow_in_mode();
  if (!strcmp(name, "budget")) return child_prefault_budget();
  if (!strcmp(name, "noop")) {
    void *p = fl_malloc(10);
    fl_free(p);
    return 0;
  }
  return 99;
}

/* Run `self child NAME` with extra environment and an optional RLIMIT_AS;
 * capture stdout+stderr into out. Returns the exit status (or -signal). */
static int spawn(const char *self, const char *name, char *const env[], size_t rlimit_as, char *out,
                 size_t cap) {
  int fds[2];
  if (pipe(fds) != 0) return -100;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    if (rlimit_as) {
      struct rlimit rl = {rlimit_as, rlimit_as};
      setrlimit(RLIMIT_AS, &rl);
    }
    /* Under an emulator (the arm64 build runs under qemu-user) the child
     * starts through it too: this kernel cannot exec the binary itself.
     * FAULTLESS_TEST_EMULATOR holds its command, up to 7 words. qemu-user
     * takes setrlimit(RLIMIT_AS) as a no-op (the limit would bind its own
     * allocations), so there util-linux's prlimit sets it on the emulator. */
    char *argv[16], *emu = getenv("FAULTLESS_TEST_EMULATOR"), as[64];
    int argc = 0;
    if (emu && rlimit_as) {
      snprintf(as, sizeof as, "--as=%zu", rlimit_as);
      argv[argc++] = "/usr/bin/prlimit";
      argv[argc++] = as;
    }
    for (char *w = emu ? strtok(emu, " ") : NULL; w && argc < 7; w = strtok(NULL, " "))
      argv[argc++] = w;
    argv[argc++] = (char *)self;
    argv[argc++] = "child";
    argv[argc++] = (char *)name;
    argv[argc] = NULL;
    execve(argv[0], argv, env);
    _exit(98);
  }
  close(fds[1]);
  size_t got = 0;
  ssize_t n;
  while (got + 1 < cap && (n = read(fds[0], out + got, cap - 1 - got)) > 0)
    got += (size_t)n;
  out[got] = 0;
  close(fds[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p++)
    n++;
  return n;
}

static const char *self;
static char out[16384];

TEST(small_reservation_overflows_to_the_os) {
  char *env[] = {"FAULTLESS_RESERVE=8M", "FAULTLESS_PREFAULT=0", NULL};
  int rc = spawn(self, "overflow", env, 0, out, sizeof out);
  CHECK(rc == 0);
  unsigned long long reserved = 0, outside = 0;
  const char *p = strstr(out, "reserved=");
  if (p) sscanf(p, "reserved=%llu outside=%llu", &reserved, &outside);
  CHECK(reserved == 8 * MiB);
  CHECK(outside > 0);
}

TEST(small_reservation_overflows_in_caching_mode) {
  char *env[] = {"FAULTLESS_RESERVE=8M", "FAULTLESS_PREFAULT=0", NULL};
  int rc = spawn(self, "overflow-in-mode", env, 0, out, sizeof out);
  CHECK(rc == 0);
}

TEST(address_space_limit) {
  /* ulimit -v 1 GiB, far below the default 64 GiB reservation. */
  char *env[] = {"FAULTLESS_VERBOSE=1", NULL};
  int rc = spawn(self, "overflow", env, 1024 * MiB, out, sizeof out);
  CHECK(rc == 0);
  CHECK(strstr(out, "RLIMIT_AS") != NULL);
  unsigned long long reserved = 0, outside = 0;
  const char *p = strstr(out, "reserved=");
  if (p) sscanf(p, "reserved=%llu outside=%llu", &reserved, &outside);
  CHECK(reserved > 0 && reserved <= 512 * MiB);
  /* So small a limit that no reservation is possible: still runs. */
  if (getenv("FAULTLESS_TEST_EMULATOR")) {
    printf("limits: skipped the 48 MiB half of address_space_limit: qemu-user alone needs more "
           "address space than that\n");
    return;
  }
  rc = spawn(self, "noop", env, 48 * MiB, out, sizeof out);
  CHECK(rc == 0);
}

TEST(malformed_values_reported_once) {
  char *env[] = {"FAULTLESS_WARMERS=lots", "FAULTLESS_BUDGET=-5", "FAULTLESS_RELEASE=sometimes",
                 NULL};
  int rc = spawn(self, "noop", env, 0, out, sizeof out);
  CHECK(rc == 0);
  CHECK(count(out, "FAULTLESS_WARMERS=\"lots\" is not a valid value") == 1);
  CHECK(count(out, "FAULTLESS_BUDGET=\"-5\"") == 1);
  CHECK(count(out, "FAULTLESS_RELEASE=\"sometimes\"") == 1);
  CHECK(count(out, "faultless:") == 3);
}

TEST(verbose_and_stats_at_exit) {
  char *env[] = {"FAULTLESS_VERBOSE=1", "FAULTLESS_STATS=1", "FAULTLESS_PREFAULT=8M", NULL};
  int rc = spawn(self, "noop", env, 0, out, sizeof out);
  CHECK(rc == 0);
  CHECK(strstr(out, "option PREFAULT     = 8388608 (environment)") != NULL);
  CHECK(strstr(out, "budget") && strstr(out, "reservation"));
  char want[64];
  snprintf(want, sizeof want, "faultless stats (version %d)", FL_STATS_VERSION);
  CHECK(strstr(out, want) != NULL);
  CHECK(strstr(out, "  warming_ns ") != NULL);
  char *json[] = {"FAULTLESS_STATS=json", NULL};
  rc = spawn(self, "noop", json, 0, out, sizeof out);
  snprintf(want, sizeof want, "{\"version\": %d, \"reserved\": ", FL_STATS_VERSION);
  CHECK(rc == 0 && strstr(out, want) != NULL && strstr(out, "\"warming_ns\": ") != NULL);
}

TEST(budget_caps_warming) {
  char *env[] = {"FAULTLESS_BUDGET=64M", "FAULTLESS_PREFAULT=0", NULL};
  int rc = spawn(self, "budget", env, 0, out, sizeof out);
  CHECK(rc == 0);
  unsigned long long budget = 0, warm = 0, warmed = 0;
  unsigned source = 9;
  const char *p = strstr(out, "budget=");
  if (p) sscanf(p, "budget=%llu warm=%llu warmed=%llu source=%u", &budget, &warm, &warmed, &source);
  CHECK(budget == 64 * MiB && source == FL_BUDGET_OPTION);
  CHECK(warmed > 0 && warm <= budget);
  /* In Lambda, the function memory is the budget's source. */
  char *lambda[] = {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256", "FAULTLESS_PREFAULT=0", NULL};
  rc = spawn(self, "budget", lambda, 0, out, sizeof out);
  p = strstr(out, "budget=");
  if (p) sscanf(p, "budget=%llu warm=%llu warmed=%llu source=%u", &budget, &warm, &warmed, &source);
  CHECK(rc == 0 && source == FL_BUDGET_LAMBDA && budget == 224 * MiB && warm <= budget);
}

TEST(memory_pressure_stops_warming) {
  char *env[] = {"FAULTLESS_PREFAULT=0", "FAULTLESS_VERBOSE=1", NULL};
  int rc = spawn(self, "pressure", env, 0, out, sizeof out);
  CHECK(rc == 0);
  unsigned long long warmed = ~0ull;
  const char *p = strstr(out, "warmed=");
  if (p) sscanf(p, "warmed=%llu", &warmed);
  CHECK(warmed < 2048 * MiB);
  CHECK(strstr(out, "warming stops: only 256 MiB available") != NULL);
}

static unsigned long long huge_kb(void) {
  unsigned long long kb = ~0ull;
  const char *p = strstr(out, "huge_kb=");
  if (p) sscanf(p, "huge_kb=%llu", &kb);
  return kb;
}

/* The child's reservation address, from its VERBOSE output (0: none). */
static unsigned long long reservation_base(void) {
  unsigned long long base = 0;
  const char *r = strstr(out, "reservation 0x");
  if (r) sscanf(r, "reservation 0x%llx", &base);
  return base;
}

/* In a guest that reports free pages, THP=auto gives the prefault's chunks
 * huge pages; once two in a row are slow to warm, no chunk after them gets
 * one. THP=0 never does. With two warmers, chunks are marked in batches while
 * huge pages are cheap, and the rest of a batch is unmarked when they turn
 * slow: no chunk above the slow one stays marked. A chunk another warmer was
 * already faulting keeps its huge page, and that warmer may have gone on
 * through cheap chunks while the slow fault lasted: only one warmer's huge
 * pages are bounded by the slow chunk. */
static void check_huge_prefault(int warmers) {
  char w[32];
  snprintf(w, sizeof w, "FAULTLESS_WARMERS=%d", warmers);
  char *on[] = {"FAULTLESS_PREFAULT=160M", "FAULTLESS_VERBOSE=1", w, NULL};
  CHECK(spawn(self, "huge", on, 0, out, sizeof out) == 0);
  unsigned long long kb = huge_kb();
  const char *slow = strstr(out, "huge pages in a row took");
  if (!slow) {
    CHECK(kb >= 160 * 1024); /* every chunk of the prefault */
    return;
  }
  unsigned long long base = reservation_base(), s0 = 0, e0 = 0;
  size_t at = 0;
  const char *c = strstr(slow, "at chunk ");
  CHECK(base != 0);
  CHECK(c && sscanf(c, "at chunk %zu", &at) == 1);
  unsigned long long end = base + (at + 1) * 2048 * 1024ull;
  if (warmers == 1) CHECK(kb <= (at + 1) * 2048ull);
  for (const char *h = strstr(out, "hg="); h; h = strstr(h + 3, "hg="))
    if (sscanf(h, "hg=%llx-%llx", &s0, &e0) == 2) CHECK(s0 < base || e0 <= end);
}

TEST(huge_pages_for_prefault_chunks) {
  if (getenv("FAULTLESS_TEST_EMULATOR")) {
    printf("limits: skipped huge_pages_for_prefault_chunks: qemu-user passes no madvise but "
           "MADV_DONTNEED to the kernel, so which pages are huge is not faultless's doing there\n");
    return;
  }
  char *off[] = {"FAULTLESS_PREFAULT=16M", "FAULTLESS_THP=0", NULL};
  CHECK(spawn(self, "huge", off, 0, out, sizeof out) == 0);
  CHECK(huge_kb() == 0);
  char *probe[] = {"FAULTLESS_PREFAULT=0", "FAULTLESS_VERBOSE=1", NULL};
  CHECK(spawn(self, "huge", probe, 0, out, sizeof out) == 0);
  if (!strstr(out, "huge pages for warmed chunks while they stay cheap")) {
    SKIP("limits", "the huge-page half of huge_pages_for_prefault_chunks: the library chose "
                   "no huge pages (THP off, no free page reporting to a host, or the secure "
                   "build's guard pages split chunks)");
    return;
  }
  check_huge_prefault(1);
  check_huge_prefault(2);
  /* Two warmers mark batches of chunks: never past the reservation. */
  char *edge[] = {"FAULTLESS_RESERVE=128M", "FAULTLESS_PREFAULT=16M", "FAULTLESS_WARMERS=2",
                  "FAULTLESS_VERBOSE=1", NULL};
  CHECK(spawn(self, "huge-edge", edge, 0, out, sizeof out) == 0);
  unsigned long long base = reservation_base(), s0 = 0, e0 = 0;
  CHECK(base != 0);
  for (const char *h = strstr(out, "hg="); h; h = strstr(h + 3, "hg="))
    if (sscanf(h, "hg=%llx-%llx", &s0, &e0) == 2) CHECK(s0 >= base && e0 <= base + 128 * MiB);
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "child")) return run_child(argv[2]);
  self = "/proc/self/exe";
  static char path[4096];
  ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n > 0) {
    path[n] = 0;
    self = path;
  }
  RUN(small_reservation_overflows_to_the_os);
#ifndef FL_SANITIZE
  RUN(address_space_limit);
#else
  SKIP("limits", "address_space_limit: sanitizers reserve terabytes of shadow memory, "
                 "which no RLIMIT_AS allows");
#endif
  RUN(malformed_values_reported_once);
  RUN(verbose_and_stats_at_exit);
  RUN(budget_caps_warming);
  RUN(memory_pressure_stops_warming);
  RUN(huge_pages_for_prefault_chunks);
  return test_report("limits");
}
