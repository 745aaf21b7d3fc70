// SPDX-License-Identifier: MIT
/* seed: the seed post's experiment, run once in this process.
 *
 * Allocate --chunks buffers of --size bytes and paint each with memset, free
 * them all, and do it again --iterations times with another byte. Per
 * allocation it records the time of alloc+memset, the minor faults taken (by
 * the allocating thread and by the whole process), and the seed's own measure:
 * pages at virtual addresses this process never used before.
 *
 * --api malloc measures whichever malloc is loaded (LD_PRELOAD); --api fl calls
 * the fl_* functions of the faultless core linked in. The worker's own memory
 * (samples, the page set) comes straight from mmap so that it does not disturb
 * the allocator under test. `faultless bench` runs it in fresh processes.
 */
#define _GNU_SOURCE
#include "faultless.h"
#include "../tools/size.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* --- Options --- */

typedef enum { API_MALLOC, API_FL } api_t;
typedef enum { FORMAT_CSV, FORMAT_SEED } format_t;

static struct {
  api_t api;
  format_t format;
  const char *name;
  long chunks;
  size_t size;
  long iterations;
  size_t align;
  long threads;
  long setup_ms;
  long setup_busy_pct;
  size_t prefault;
} opt = {API_MALLOC, FORMAT_CSV, NULL, 100, 1 << 20, 2, 0, 1, 0, 10, 0};

static void usage(FILE *out) {
  fprintf(out, "usage: seed [--api malloc|fl] [--chunks N] [--size BYTES] [--iterations N]\n"
               "            [--align A] [--threads N] [--setup-ms MS] [--setup-busy PCT]\n"
               "            [--prefault BYTES] [--format csv|seed] [--name NAME]\n"
               "Runs the seed's experiment once in this process (see `faultless bench`).\n"
               "BYTES take a K, M or G suffix (binary). --prefault needs --api fl.\n");
}

static bool parse_long(const char *text, long min, long max, long *out) {
  char *end;
  errno = 0;
  long value = strtol(text, &end, 10);
  if (errno || end == text || *end || value < min || value > max) return false;
  *out = value;
  return true;
}

static void bad(const char *what, const char *value) {
  fprintf(stderr, "seed: bad %s: '%s'\n", what, value ? value : "(missing)");
  usage(stderr);
  exit(2);
}

static void parse_options(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *name = argv[i];
    if (!strcmp(name, "-h") || !strcmp(name, "--help")) {
      usage(stdout);
      exit(0);
    }
    const char *value = i + 1 < argc ? argv[i + 1] : NULL;
    if (!value) bad(name, NULL);
    i++;
    if (!strcmp(name, "--api")) {
      if (!strcmp(value, "malloc"))
        opt.api = API_MALLOC;
      else if (!strcmp(value, "fl"))
        opt.api = API_FL;
      else
        bad(name, value);
    } else if (!strcmp(name, "--format")) {
      if (!strcmp(value, "csv"))
        opt.format = FORMAT_CSV;
      else if (!strcmp(value, "seed"))
        opt.format = FORMAT_SEED;
      else
        bad(name, value);
    } else if (!strcmp(name, "--name")) {
      opt.name = value;
    } else if (!strcmp(name, "--chunks")) {
      if (!parse_long(value, 1, 1L << 24, &opt.chunks)) bad(name, value);
    } else if (!strcmp(name, "--iterations")) {
      if (!parse_long(value, 1, 1000, &opt.iterations)) bad(name, value);
    } else if (!strcmp(name, "--threads")) {
      if (!parse_long(value, 1, 1024, &opt.threads)) bad(name, value);
    } else if (!strcmp(name, "--setup-ms")) {
      if (!parse_long(value, 0, 3600 * 1000L, &opt.setup_ms)) bad(name, value);
    } else if (!strcmp(name, "--setup-busy")) {
      if (!parse_long(value, 0, 100, &opt.setup_busy_pct)) bad(name, value);
    } else if (!strcmp(name, "--size")) {
      if (!parse_bytes(value, &opt.size) || opt.size == 0) bad(name, value);
    } else if (!strcmp(name, "--align")) {
      if (!parse_bytes(value, &opt.align) || (opt.align & (opt.align - 1))) bad(name, value);
    } else if (!strcmp(name, "--prefault")) {
      if (!parse_bytes(value, &opt.prefault)) bad(name, value);
    } else {
      fprintf(stderr, "seed: unknown option '%s'\n", name);
      usage(stderr);
      exit(2);
    }
  }
  if (opt.prefault && opt.api != API_FL) bad("--prefault (needs --api fl)", "");
  if (!opt.name) opt.name = opt.api == API_FL ? "faultless" : "malloc";
}

/* --- Memory of the worker itself: straight from mmap --- */

static void *map_or_die(size_t bytes) {
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("seed: mmap");
    exit(1);
  }
  return p;
}

/* --- The seed's measure: pages at addresses never seen before --- */

/* Open addressing on page numbers (+1, so 0 marks an empty slot). */
static struct {
  pthread_mutex_t lock;
  uintptr_t *slots;
  size_t capacity, count;
} seen = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0};

static size_t page_size;

static bool seen_insert(uintptr_t *slots, size_t capacity, uintptr_t key) {
  size_t mask = capacity - 1;
  for (size_t i = (key * 0x9E3779B97F4A7C15ULL) >> 20 & mask;; i = (i + 1) & mask) {
    if (slots[i] == key) return false;
    if (slots[i] == 0) {
      slots[i] = key;
      return true;
    }
  }
}

static void seen_grow(void) {
  size_t capacity = seen.capacity ? seen.capacity * 2 : 1 << 16;
  uintptr_t *slots = map_or_die(capacity * sizeof *slots);
  for (size_t i = 0; i < seen.capacity; i++)
    if (seen.slots[i]) seen_insert(slots, capacity, seen.slots[i]);
  if (seen.slots) munmap(seen.slots, seen.capacity * sizeof *seen.slots);
  seen.slots = slots;
  seen.capacity = capacity;
}

/* Count the pages of [p, p+size) this process had never used, and remember them. */
static uint32_t new_pages(const void *p, size_t size) {
  uintptr_t first = (uintptr_t)p / page_size, last = ((uintptr_t)p + size - 1) / page_size;
  uint32_t fresh = 0;
  pthread_mutex_lock(&seen.lock);
  for (uintptr_t page = first; page <= last; page++) {
    if ((seen.count + 1) * 2 > seen.capacity) seen_grow();
    if (seen_insert(seen.slots, seen.capacity, page + 1)) {
      seen.count++;
      fresh++;
    }
  }
  pthread_mutex_unlock(&seen.lock);
  return fresh;
}

/* --- The experiment --- */

typedef struct {
  uint64_t duration_ns;
  uint32_t minflt;      /* faults of the allocating thread (RUSAGE_THREAD) */
  uint32_t minflt_proc; /* faults of the whole process (RUSAGE_SELF) */
  uint32_t new_pages;   /* the seed's measure */
} sample_t;

static sample_t *samples; /* [thread][iteration][chunk] */
static pthread_barrier_t barrier;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static long minflt(int who) {
  struct rusage ru;
  getrusage(who, &ru);
  return ru.ru_minflt;
}

static void *allocate(size_t size) {
  if (opt.api == API_FL) return opt.align ? fl_aligned_alloc(opt.align, size) : fl_malloc(size);
  if (opt.align) return aligned_alloc(opt.align, (size + opt.align - 1) / opt.align * opt.align);
  return malloc(size);
}

static void release(void *p) {
  if (opt.api == API_FL)
    fl_free(p);
  else
    free(p);
}

static void *run_thread(void *arg) {
  long thread = (long)(intptr_t)arg;
  void **buffers = map_or_die((size_t)opt.chunks * sizeof *buffers);
  for (long it = 0; it < opt.iterations; it++) {
    /* A non-zero byte, different per iteration: memset(0) could become calloc. */
    int byte = 'a' + (int)(it % 26);
    sample_t *row = samples + ((size_t)thread * opt.iterations + it) * opt.chunks;
    pthread_barrier_wait(&barrier);
    for (long i = 0; i < opt.chunks; i++) {
      long flt0 = minflt(RUSAGE_THREAD), proc0 = minflt(RUSAGE_SELF);
      uint64_t t0 = now_ns();
      void *p = allocate(opt.size);
      if (p) memset(p, byte, opt.size);
      __asm__ volatile("" : : "r"(p) : "memory"); /* the paint must happen */
      uint64_t t1 = now_ns();
      long flt1 = minflt(RUSAGE_THREAD), proc1 = minflt(RUSAGE_SELF);
      if (!p) {
        fprintf(stderr, "seed: allocation %ld of %zu bytes failed: %s\n", i, opt.size,
                strerror(errno));
        exit(1);
      }
      buffers[i] = p;
      row[i] = (sample_t){t1 - t0, (uint32_t)(flt1 - flt0), (uint32_t)(proc1 - proc0),
                          new_pages(p, opt.size)};
    }
    for (long i = 0; i < opt.chunks; i++)
      release(buffers[i]);
  }
  munmap(buffers, (size_t)opt.chunks * sizeof *buffers);
  return NULL;
}

/* Simulated start-up work: mostly waiting (the seed's workers talk to the
 * network), with setup_busy_pct of each 10 ms slice spent on the CPU. */
static void setup_work(void) {
  uint64_t end = now_ns() + (uint64_t)opt.setup_ms * 1000000ULL;
  volatile uint64_t sink = 0;
  for (uint64_t t = now_ns(); t < end; t = now_ns()) {
    uint64_t slice = end - t < 10000000ULL ? end - t : 10000000ULL;
    uint64_t busy_end = t + slice * (uint64_t)opt.setup_busy_pct / 100;
    while (now_ns() < busy_end)
      for (int k = 0; k < 1000; k++)
        sink = sink * 6364136223846793005ULL + 1442695040888963407ULL;
    uint64_t rest = t + slice - now_ns();
    if ((int64_t)rest > 0) {
      struct timespec ts = {0, (long)rest};
      nanosleep(&ts, NULL);
    }
  }
}

/* --- Output --- */

static void print_results(uint64_t setup_ns, long total_minflt) {
  if (opt.format == FORMAT_SEED) {
    printf("backend_name:%s\n", opt.name);
    printf("ALLOCATING %ld CHUNCKS OF %zu BYTES\n", opt.chunks, opt.size);
    printf("iteration;allocation_duration;new_pages_allocated\n");
  } else {
    printf("# seed api=%s name=%s chunks=%ld size=%zu iterations=%ld align=%zu threads=%ld "
           "setup_ms=%ld setup_busy_pct=%ld prefault=%zu page_size=%zu\n",
           opt.api == API_FL ? "fl" : "malloc", opt.name, opt.chunks, opt.size, opt.iterations,
           opt.align, opt.threads, opt.setup_ms, opt.setup_busy_pct, opt.prefault, page_size);
    printf("# setup_ns=%llu total_minflt=%ld\n", (unsigned long long)setup_ns, total_minflt);
    printf("thread,iteration,index,duration_ns,minflt,minflt_process,new_pages\n");
  }
  for (long t = 0; t < opt.threads; t++)
    for (long it = 0; it < opt.iterations; it++)
      for (long i = 0; i < opt.chunks; i++) {
        const sample_t *s = &samples[((size_t)t * opt.iterations + it) * opt.chunks + i];
        if (opt.format == FORMAT_SEED)
          printf("%ld;%llu;%u\n", it + 1, (unsigned long long)(s->duration_ns / 1000),
                 s->new_pages);
        else
          printf("%ld,%ld,%ld,%llu,%u,%u,%u\n", t, it + 1, i, (unsigned long long)s->duration_ns,
                 s->minflt, s->minflt_proc, s->new_pages);
      }
  if (opt.format == FORMAT_CSV && opt.api == API_FL) {
    printf("# fl_stats ");
    fl_stats_print_json(stdout);
  }
}

int main(int argc, char **argv) {
  static char out_buffer[1 << 16]; /* stdio must not allocate from the heap under test */
  setvbuf(stdout, out_buffer, _IOFBF, sizeof out_buffer);
  parse_options(argc, argv);
  page_size = (size_t)sysconf(_SC_PAGESIZE);
  long start_minflt = minflt(RUSAGE_SELF);

  if (opt.prefault && fl_prefault(opt.prefault) != 0)
    fprintf(stderr, "seed: fl_prefault(%zu) failed\n", opt.prefault);
  uint64_t t0 = now_ns();
  setup_work();
  uint64_t setup_ns = now_ns() - t0;

  size_t count = (size_t)opt.threads * opt.iterations * opt.chunks;
  samples = map_or_die(count * sizeof *samples);
  pthread_barrier_init(&barrier, NULL, (unsigned)opt.threads);
  pthread_t *threads = map_or_die((size_t)opt.threads * sizeof *threads);
  for (long t = 1; t < opt.threads; t++)
    if (pthread_create(&threads[t], NULL, run_thread, (void *)(intptr_t)t) != 0) {
      fprintf(stderr, "seed: cannot start thread %ld\n", t);
      return 1;
    }
  run_thread((void *)0);
  for (long t = 1; t < opt.threads; t++)
    pthread_join(threads[t], NULL);

  print_results(setup_ns, minflt(RUSAGE_SELF) - start_minflt);
  return fflush(stdout) == 0 ? 0 : 1;
}
