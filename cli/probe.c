// SPDX-License-Identifier: MIT
/* faultless probe: what memory costs on this machine, in a minute or less.
 *
 *   memset      bandwidth on memory that is already mapped (the limit)
 *   first touch the cost of each first write, per 4 KiB page and per 2 MiB huge
 *               page, on fresh memory, on memory this process just gave back
 *               (the guest still has it: guest-only faults) and on memory given
 *               back a few seconds ago (a guest with free page reporting has
 *               handed it to the host, which must back it again)
 *   warming     throughput of touch / MAP_POPULATE / MADV_POPULATE_WRITE, with
 *               huge pages off and on, from 1 to N threads
 * and the FAULTLESS_* settings that follow. The probe maps memory itself; it
 * does not use the allocator. */
#define _GNU_SOURCE
#include "probe.h"

#include "../tools/progress.h"

#include "../tools/machine.h"
#include "../tools/util.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define HUGE (2UL << 20)
#define MAX_THREAD_COUNTS 12

/* --- Options --- */

static struct {
  bool json, quick;
  size_t touch_size; /* first-touch region, 4 KiB pages */
  size_t huge_size;  /* first-touch region, 2 MiB pages */
  size_t warm_size;  /* per warming measurement */
  long max_threads;
  long idle_ms;
  long repeats;
  char *command;
} po;

static void usage(FILE *out) {
  fprintf(out,
          "usage: faultless probe [--json] [--quick] [--size BYTES] [--threads N]\n"
          "                       [--idle-ms MS]\n"
          "Measures memset bandwidth, the first-touch cost per 4 KiB and 2 MiB page, and\n"
          "warming throughput by method x huge pages x threads; prints the environment\n"
          "and the FAULTLESS_* settings that warm fastest here. At most about a minute.\n"
          "  --json         machine-readable output\n"
          "  --quick        small sizes, no idle phase, one repeat (a few seconds)\n"
          "  --size BYTES   memory per warming measurement (256M; --quick 32M)\n"
          "  --threads N    most warming threads to try (all CPUs)\n"
          "  --idle-ms MS   pause before the after-idle first-touch phase, so that a\n"
          "                 guest with free page reporting gives pages back (3000; 0 skips)\n");
}

static int bad_usage(const char *fmt, const char *arg) {
  fprintf(stderr, "faultless probe: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n");
  usage(stderr);
  return EXIT_USAGE;
}

/* --- Memory --- */

static uint64_t deadline_ns;
static bool out_of_time(void) {
  return now_ns() > deadline_ns;
}

static void *map(size_t bytes, int extra_flags) {
  void *p =
      mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | extra_flags, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

/* A mapping of `bytes` aligned to 2 MiB, with huge pages asked for or refused. */
static void *map_aligned(size_t bytes, bool huge, void **base, size_t *base_len) {
  *base_len = bytes + HUGE;
  char *raw = map(*base_len, 0);
  if (!raw) return NULL;
  *base = raw;
  char *p = (char *)(((uintptr_t)raw + HUGE - 1) & ~(HUGE - 1));
  madvise(p, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  return p;
}

static long minflt(void) {
  struct rusage ru;
  getrusage(RUSAGE_THREAD, &ru);
  return ru.ru_minflt;
}

/* AnonHugePages of the whole process, bytes. */
static size_t anon_huge_bytes(void) {
  FILE *f = fopen("/proc/self/smaps_rollup", "r");
  if (!f) return 0;
  char line[256];
  size_t kib = 0;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "AnonHugePages:", 14)) kib = strtoull(line + 14, NULL, 10);
  fclose(f);
  return kib * 1024;
}

/* --- memset bandwidth --- */

static struct {
  double best_gbps, median_gbps;
  size_t bytes;
  int passes;
} memset_result;

static void probe_memset(void) {
  size_t bytes = po.warm_size;
  void *base;
  size_t base_len;
  char *p = map_aligned(bytes, true, &base, &base_len);
  if (!p) return;
  memset(p, 1, bytes); /* map it all first */
  double gbps[8];
  int passes = po.quick ? 3 : 8;
  for (int i = 0; i < passes; i++) {
    uint64_t t0 = now_ns();
    memset(p, 'a' + i, bytes);
    __asm__ volatile("" : : "r"(p) : "memory");
    gbps[i] = (double)bytes / (double)(now_ns() - t0);
  }
  munmap(base, base_len);
  memset_result.bytes = bytes;
  memset_result.passes = passes;
  memset_result.median_gbps = median(gbps, (size_t)passes);
  memset_result.best_gbps = gbps[passes - 1];
}

/* --- First touch --- */

typedef struct {
  const char *name;
  size_t pages;
  double *us; /* per page, sorted after analysis */
  double p10, p50, p90, p99, max;
  double faults_per_page; /* minor faults per page touched (1 per huge page when huge) */
  double huge_share;      /* of the range backed by huge pages */
} touch_phase_t;

typedef struct {
  bool available;
  const char *why_not;
  size_t page;
  touch_phase_t phases[3]; /* fresh, recycled, after idle */
  int nphases;
  /* Two populations, when the histogram shows them. */
  bool bimodal;
  double split_us, fast_share, fast_median, slow_median;
} touch_result_t;

/* touch4k: the kernel's base page (4 KiB on x86_64; 4, 16 or 64 KiB on
 * arm64), set in cmd_probe; the name stays for the JSON key, page_4k. */
static touch_result_t touch4k = {.page = 4096}, touch2m = {.page = HUGE};

static void touch_region(touch_result_t *t, const char *name, char *p, size_t bytes) {
  touch_phase_t *ph = &t->phases[t->nphases++];
  ph->name = name;
  ph->pages = bytes / t->page;
  ph->us = xmalloc(ph->pages * sizeof *ph->us);
  long f0 = minflt();
  size_t huge0 = anon_huge_bytes();
  for (size_t i = 0; i < ph->pages; i++) {
    uint64_t t0 = now_ns();
    p[i * t->page] = 1;
    ph->us[i] = (double)(now_ns() - t0) / 1e3;
  }
  ph->faults_per_page = (double)(minflt() - f0) / (double)ph->pages;
  size_t huge1 = anon_huge_bytes();
  ph->huge_share = huge1 > huge0 ? (double)(huge1 - huge0) / (double)bytes : 0;
  double *sorted = xmalloc(ph->pages * sizeof *sorted);
  memcpy(sorted, ph->us, ph->pages * sizeof *sorted);
  ph->p10 = percentile(sorted, ph->pages, 10);
  ph->p50 = percentile(sorted, ph->pages, 50);
  ph->p90 = percentile(sorted, ph->pages, 90);
  ph->p99 = percentile(sorted, ph->pages, 99);
  ph->max = sorted[ph->pages - 1];
  free(sorted);
}

/* Look for two modes in the log-scale histogram of every phase's samples:
 * two peaks separated by a valley below half of the smaller peak. */
static void find_populations(touch_result_t *t) {
  enum { BINS = 96, PER_OCTAVE = 4 };
  const double lo = 0.05; /* us */
  double hist[BINS] = {0};
  size_t total = 0;
  for (int k = 0; k < t->nphases; k++)
    for (size_t i = 0; i < t->phases[k].pages; i++) {
      double v = t->phases[k].us[i];
      int bin = v <= lo ? 0 : (int)(log2(v / lo) * PER_OCTAVE);
      hist[bin < BINS ? bin : BINS - 1]++;
      total++;
    }
  if (total < 20) return;
  double smooth[BINS];
  for (int i = 0; i < BINS; i++)
    smooth[i] = (hist[i > 0 ? i - 1 : i] + 2 * hist[i] + hist[i < BINS - 1 ? i + 1 : i]) / 4;
  int best = 0;
  for (int i = 1; i < BINS; i++)
    if (smooth[i] > smooth[best]) best = i;
  /* The highest peak on the other side of a deep valley. */
  int second = -1, valley = -1;
  for (int dir = -1; dir <= 1; dir += 2) {
    double low = smooth[best];
    int low_at = best;
    for (int i = best + dir; i >= 0 && i < BINS; i += dir) {
      if (smooth[i] < low) {
        low = smooth[i];
        low_at = i;
      }
      bool peak = smooth[i] >= (double)total * 0.03 && low < smooth[i] * 0.5 &&
                  (second < 0 || smooth[i] > smooth[second]);
      if (peak) {
        second = i;
        valley = low_at;
      }
    }
  }
  if (second < 0) return;
  t->bimodal = true;
  t->split_us = lo * exp2((double)valley / PER_OCTAVE);
  double *fast = xmalloc(total * sizeof *fast), *slow = xmalloc(total * sizeof *slow);
  size_t nf = 0, ns = 0;
  for (int k = 0; k < t->nphases; k++)
    for (size_t i = 0; i < t->phases[k].pages; i++) {
      double v = t->phases[k].us[i];
      if (v < t->split_us)
        fast[nf++] = v;
      else
        slow[ns++] = v;
    }
  t->fast_share = (double)nf / (double)total;
  t->fast_median = median(fast, nf);
  t->slow_median = median(slow, ns);
  free(fast);
  free(slow);
}

static void probe_first_touch(const env_t *env) {
  size_t b4 = po.touch_size, b2 = po.huge_size;
  touch4k.available = true;
  touch2m.available = env->thp_available;
  if (!touch2m.available) touch2m.why_not = "transparent huge pages are off here (THP 'never')";

  /* fresh, then recycled: the pages this process just unmapped */
  for (int phase = 0; phase < 2; phase++) {
    void *base;
    size_t len;
    char *p = map_aligned(b4, false, &base, &len);
    if (p) {
      touch_region(&touch4k, phase ? "recycled" : "fresh", p, b4);
      munmap(base, len);
    }
    if (touch2m.available && (p = map_aligned(b2, true, &base, &len))) {
      touch_region(&touch2m, phase ? "recycled" : "fresh", p, b2);
      munmap(base, len);
    }
  }
  /* after idle: long enough for free page reporting to hand the pages to the host */
  if (po.idle_ms > 0 && !out_of_time()) {
    struct timespec ts = {po.idle_ms / 1000, (po.idle_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    void *base;
    size_t len;
    char *p = map_aligned(b4, false, &base, &len);
    if (p) {
      touch_region(&touch4k, "after-idle", p, b4);
      munmap(base, len);
    }
    if (touch2m.available && (p = map_aligned(b2, true, &base, &len))) {
      touch_region(&touch2m, "after-idle", p, b2);
      munmap(base, len);
    }
  }
  find_populations(&touch4k);
  if (touch2m.available) {
    find_populations(&touch2m);
    if (touch2m.nphases && touch2m.phases[0].huge_share < 0.5) {
      touch2m.why_not = "huge pages were asked for (MADV_HUGEPAGE) but not given; "
                        "figures are per 2 MiB of 4 KiB pages";
    }
  }
}

/* --- Warming throughput --- */

typedef enum { METHOD_TOUCH, METHOD_MAP_POPULATE, METHOD_POPULATE_WRITE, NMETHODS } method_t;
static const char *const method_names[] = {"touch", "MAP_POPULATE", "MADV_POPULATE_WRITE"};

typedef struct {
  method_t method;
  bool huge;
  long threads;
  bool available;
  const char *why_not;
  double gbps[8];
  int runs;
  double median_gbps;
  double huge_share;
} warm_result_t;

static warm_result_t warm[NMETHODS * 2 * MAX_THREAD_COUNTS];
static int nwarm;

typedef struct {
  warm_result_t *w;
  char *start; /* this thread's slice; NULL for MAP_POPULATE */
  size_t bytes;
  pthread_barrier_t *go;
  void *mapped; /* MAP_POPULATE: what this thread mapped */
  int error;
} warm_job_t;

static void *warm_thread(void *arg) {
  warm_job_t *job = arg;
  pthread_barrier_wait(job->go);
  switch (job->w->method) {
  case METHOD_TOUCH:
    for (size_t off = 0; off < job->bytes; off += touch4k.page)
      ((volatile char *)job->start)[off] = 1;
    break;
  case METHOD_MAP_POPULATE:
    job->mapped = map(job->bytes, MAP_POPULATE);
    job->error = job->mapped ? 0 : errno;
    break;
  case METHOD_POPULATE_WRITE:
    job->error = madvise(job->start, job->bytes, MADV_POPULATE_WRITE) ? errno : 0;
    break;
  default:
    break;
  }
  return NULL;
}

static void warm_once(warm_result_t *w) {
  size_t bytes = po.warm_size / HUGE / (size_t)w->threads * HUGE * (size_t)w->threads;
  size_t slice = bytes / (size_t)w->threads;
  void *base = NULL;
  size_t base_len = 0;
  char *p = NULL;
  if (w->method != METHOD_MAP_POPULATE && !(p = map_aligned(bytes, w->huge, &base, &base_len)))
    return;
  pthread_barrier_t go;
  pthread_barrier_init(&go, NULL, (unsigned)w->threads + 1);
  warm_job_t jobs[256];
  pthread_t tids[256];
  for (long t = 0; t < w->threads; t++) {
    jobs[t] = (warm_job_t){w, p ? p + (size_t)t * slice : NULL, slice, &go, NULL, 0};
    pthread_create(&tids[t], NULL, warm_thread, &jobs[t]);
  }
  size_t huge0 = anon_huge_bytes();
  uint64_t t0 = now_ns();
  pthread_barrier_wait(&go);
  for (long t = 0; t < w->threads; t++)
    pthread_join(tids[t], NULL);
  uint64_t elapsed = now_ns() - t0;
  size_t huge1 = anon_huge_bytes();
  pthread_barrier_destroy(&go);
  bool failed = false;
  for (long t = 0; t < w->threads; t++) {
    failed |= jobs[t].error != 0;
    if (jobs[t].mapped) munmap(jobs[t].mapped, slice);
  }
  if (base) munmap(base, base_len);
  if (failed) {
    w->available = false;
    w->why_not = "the kernel refused it";
    return;
  }
  w->gbps[w->runs++] = (double)bytes / (double)elapsed;
  w->huge_share = huge1 > huge0 ? (double)(huge1 - huge0) / (double)bytes : 0;
}

static void probe_warming(const env_t *env) {
  long counts[MAX_THREAD_COUNTS];
  int ncounts = 0;
  for (long t = 1; t <= po.max_threads && ncounts < MAX_THREAD_COUNTS - 1; t *= 2)
    counts[ncounts++] = t;
  if (counts[ncounts - 1] != po.max_threads) counts[ncounts++] = po.max_threads;
  const char *thp = env_get(env, "thp_enabled");
  bool populate_write =
      env_get(env, "madv_populate_write") && !strcmp(env_get(env, "madv_populate_write"), "yes");
  for (int m = 0; m < NMETHODS; m++)
    for (int h = 0; h < 2; h++)
      for (int c = 0; c < ncounts; c++) {
        warm_result_t *w = &warm[nwarm++];
        *w = (warm_result_t){
            .method = (method_t)m, .huge = h, .threads = counts[c], .available = true};
        if (h && !env->thp_available)
          w->available = false, w->why_not = "THP is 'never'";
        else if (h && m == METHOD_MAP_POPULATE && (!thp || strcmp(thp, "always")))
          w->available = false,
          w->why_not = "THP is not 'always': MAP_POPULATE cannot ask for huge pages";
        else if (!h && m == METHOD_MAP_POPULATE && thp && !strcmp(thp, "always"))
          w->available = false,
          w->why_not = "THP is 'always': MAP_POPULATE cannot refuse huge pages";
        else if (m == METHOD_POPULATE_WRITE && !populate_write)
          w->available = false, w->why_not = "MADV_POPULATE_WRITE needs Linux 5.14";
      }
  /* Interleave: every configuration once per repeat, so drift hurts all alike. */
  for (int rep = 0; rep < po.repeats && !out_of_time(); rep++)
    for (int k = 0; k < nwarm && !out_of_time(); k++) {
      int i = rep % 2 ? nwarm - 1 - k : k; /* reverse the order every other repeat */
      if (warm[i].available) warm_once(&warm[i]);
    }
  for (int i = 0; i < nwarm; i++) {
    double copy[8];
    memcpy(copy, warm[i].gbps, sizeof copy);
    warm[i].median_gbps = warm[i].runs ? median(copy, (size_t)warm[i].runs) : NAN;
    if (warm[i].available && !warm[i].runs)
      warm[i].available = false, warm[i].why_not = "skipped: out of time";
  }
}

/* --- Recommendation --- */

static struct {
  const warm_result_t *best;    /* fastest overall */
  const warm_result_t *advised; /* fastest leaving a CPU to the application */
  size_t budget;
  const char *budget_source;
  size_t prefault;
  const char *prefault_reason;
  double slowdown;   /* slow / fast first-touch population, 1 when one population */
  double start_gbps; /* advised rate with that slowdown applied */
} rec;

static void recommend(const env_t *env) {
  long spare = env->cpus > 1 ? env->cpus - 1 : 1;
  for (int i = 0; i < nwarm; i++) {
    const warm_result_t *w = &warm[i];
    if (!w->available) continue;
    if (!rec.best || w->median_gbps > rec.best->median_gbps) rec.best = w;
    /* With free page reporting, huge pages are fast only on memory the guest
     * still holds; after idle they wait for the host (the after-idle phase of
     * the 2 MiB table), so advise 4 KiB pages as the library's THP=auto does. */
    if (w->huge && env->free_page_reporting) continue;
    if (w->threads <= spare && (!rec.advised || w->median_gbps > rec.advised->median_gbps))
      rec.advised = w;
  }
  rec.budget = env->memory_limit;
  rec.budget_source = env->memory_limit_source;
  if (env->lambda_memory) {
    rec.prefault = env->lambda_memory / 2;
    rec.prefault_reason = "inside Lambda the function's memory is paid for: warm half of it";
  } else if (rec.advised) {
    /* What warms during the seed's ~300 ms of start-up, at most a quarter of the budget.
     * The warming figures are on memory the guest still holds; where first touch showed a
     * slow population (the host backing pages again), scale the rate down by it, since a
     * cloud function starts after idle. */
    const touch_result_t *t = rec.advised->huge ? &touch2m : &touch4k;
    rec.slowdown = t->bimodal ? t->slow_median / t->fast_median : 1;
    rec.start_gbps = rec.advised->median_gbps / rec.slowdown;
    rec.prefault = (size_t)fmin(rec.start_gbps * 1e9 * 0.3, (double)rec.budget / 4);
    rec.prefault_reason = t->bimodal ? "what the advised method warms in 300 ms of start-up when "
                                       "the host must back the pages too, at most a quarter of "
                                       "the budget"
                                     : "what the advised method warms in 300 ms of start-up, at "
                                       "most a quarter of the budget";
  }
  rec.prefault = rec.prefault / HUGE * HUGE;
}

/* --- Output --- */

static void print_text(const env_t *env, double elapsed) {
  printf("faultless probe (%.1f s)\n\nenvironment:\n", elapsed);
  env_print_text(env, stdout);

  printf("\nmemset on mapped memory (%zu MiB, %d passes): median %.2f GB/s, best %.2f GB/s\n",
         memset_result.bytes >> 20, memset_result.passes, memset_result.median_gbps,
         memset_result.best_gbps);

  touch_result_t *ts[] = {&touch4k, &touch2m};
  for (int k = 0; k < 2; k++) {
    touch_result_t *t = ts[k];
    if (k)
      printf("\nfirst touch per 2 MiB page (us; timer included):\n");
    else
      printf("\nfirst touch per %zu KiB page (us; timer included):\n", t->page >> 10);
    if (!t->available) {
      printf("  not measured: %s\n", t->why_not);
      continue;
    }
    if (t->why_not) printf("  note: %s\n", t->why_not);
    printf("  %-11s %7s %9s %9s %9s %9s %9s %8s %7s %6s\n", "phase", "pages", "p10", "median",
           "p90", "p99", "max", "GB/s", "flt/pg", "huge");
    for (int i = 0; i < t->nphases; i++) {
      touch_phase_t *ph = &t->phases[i];
      printf("  %-11s %7zu %9.2f %9.2f %9.2f %9.2f %9.1f %8.2f %7.2f %5.0f%%\n", ph->name,
             ph->pages, ph->p10, ph->p50, ph->p90, ph->p99, ph->max,
             (double)t->page / (ph->p50 * 1e3), ph->faults_per_page, ph->huge_share * 100);
    }
    if (t->bimodal)
      printf("  two populations: %.0f%% fast (median %.2f us), %.0f%% slow (median %.2f us, "
             "%.1fx), split at %.2f us\n"
             "  (fast: the guest had the page; slow: the host had to back it as well)\n",
             t->fast_share * 100, t->fast_median, (1 - t->fast_share) * 100, t->slow_median,
             t->slow_median / t->fast_median, t->split_us);
    else
      printf("  one population\n");
  }
  printf("  phases: fresh = first memory this probe maps; recycled = mapped again right after\n"
         "  unmapping (the guest still holds those pages); after-idle = mapped %ld ms after\n"
         "  unmapping (free page reporting%s has time to give them to the host)\n",
         po.idle_ms, env->free_page_reporting ? ", present here," : ", not seen here,");

  printf("\nwarming throughput (GB/s, median of %ld; %zu MiB each, recently freed memory):\n",
         po.repeats, po.warm_size >> 20);
  printf("  %-20s %-5s %7s %9s %6s\n", "method", "huge", "threads", "GB/s", "huge");
  for (int i = 0; i < nwarm; i++) {
    const warm_result_t *w = &warm[i];
    if (w->available)
      printf("  %-20s %-5s %7ld %9.2f %5.0f%%\n", method_names[w->method], w->huge ? "on" : "off",
             w->threads, w->median_gbps, w->huge_share * 100);
    else if (w->threads == 1)
      printf("  %-20s %-5s %7s %9s  (%s)\n", method_names[w->method], w->huge ? "on" : "off", "*",
             "n/a", w->why_not);
  }

  printf("\nrecommendation:\n");
  if (!rec.advised) {
    printf("  no warming method worked here; leave FAULTLESS_PREFAULT=0\n");
    return;
  }
  char pf[32];
  printf("  FAULTLESS_PREFAULT=%zuM FAULTLESS_WARMERS=%ld FAULTLESS_THP=%d\n", rec.prefault >> 20,
         rec.advised->threads, rec.advised->huge ? 1 : 0);
  printf("  fastest here leaving a CPU to the application: %s, huge pages %s, %ld thread%s: "
         "%.2f GB/s\n",
         method_names[rec.advised->method], rec.advised->huge ? "on" : "off", rec.advised->threads,
         rec.advised->threads > 1 ? "s" : "", rec.advised->median_gbps);
  if (rec.best != rec.advised)
    printf("  fastest overall: %s, huge pages %s, %ld threads: %.2f GB/s (uses every CPU)\n",
           method_names[rec.best->method], rec.best->huge ? "on" : "off", rec.best->threads,
           rec.best->median_gbps);
  char budget[32];
  printf("  PREFAULT %s: %s (budget %s from %s)\n", format_bytes(rec.prefault, pf),
         rec.prefault_reason, format_bytes(rec.budget / (1 << 20) * (1 << 20), budget),
         rec.budget_source);
  printf("  the library picks the method itself (MADV_POPULATE_WRITE where the kernel has it)\n");
  if (env->free_page_reporting)
    printf(
        "  huge pages off: this guest reports free pages to its host, and a 2 MiB page touched\n"
        "  after idle waits for the host (see the after-idle p90 above); THP=auto does the same\n");
  static const size_t sizes[] = {64UL << 20, 256UL << 20, 1UL << 30, 4UL << 30};
  for (int slow = 0; slow < 1 + (rec.slowdown > 1.2); slow++) {
    double gbps = slow ? rec.start_gbps : rec.advised->median_gbps;
    printf("  warming takes, at %.2f GB/s%s:", gbps,
           slow ? " (host backing the pages too)" : " (memory the guest holds)");
    for (int i = 0; i < 4; i++)
      if (sizes[i] <= rec.budget)
        printf("%s %s in %.0f ms", i ? "," : "", format_bytes(sizes[i], pf),
               (double)sizes[i] / (gbps * 1e6));
    printf("\n");
  }
  if (touch4k.nphases) {
    double first = (double)touch4k.page / (touch4k.phases[0].p50 * 1e3);
    printf("  first touch runs at %.2f GB/s here against %.2f GB/s for memset on warm memory: "
           "%.0f us per MiB that warming ahead can save\n",
           first, memset_result.median_gbps,
           (1.0 / first - 1.0 / memset_result.median_gbps) * MiB / 1e3);
  }
}

static void print_json(const env_t *env, double elapsed) {
  json_t j;
  json_init(&j, stdout);
  json_object_begin(&j, NULL);
  json_string(&j, "tool", "faultless probe");
  json_string(&j, "command", po.command);
  json_double(&j, "elapsed_s", elapsed);
  env_print_json(env, &j, "environment");
  json_object_begin(&j, "memset");
  json_int(&j, "bytes", (long long)memset_result.bytes);
  json_int(&j, "passes", memset_result.passes);
  json_double(&j, "median_gb_per_s", memset_result.median_gbps);
  json_double(&j, "best_gb_per_s", memset_result.best_gbps);
  json_object_end(&j);

  json_object_begin(&j, "first_touch");
  touch_result_t *ts[] = {&touch4k, &touch2m};
  for (int k = 0; k < 2; k++) {
    touch_result_t *t = ts[k];
    json_object_begin(&j, k ? "page_2m" : "page_4k");
    json_bool(&j, "measured", t->available);
    json_string(&j, "note", t->why_not);
    json_int(&j, "page_bytes", (long long)t->page);
    json_array_begin(&j, "phases");
    for (int i = 0; i < t->nphases; i++) {
      touch_phase_t *ph = &t->phases[i];
      json_object_begin(&j, NULL);
      json_string(&j, "phase", ph->name);
      json_int(&j, "pages", (long long)ph->pages);
      json_double(&j, "p10_us", ph->p10);
      json_double(&j, "median_us", ph->p50);
      json_double(&j, "p90_us", ph->p90);
      json_double(&j, "p99_us", ph->p99);
      json_double(&j, "max_us", ph->max);
      json_double(&j, "median_gb_per_s", (double)t->page / (ph->p50 * 1e3));
      json_double(&j, "faults_per_page", ph->faults_per_page);
      json_double(&j, "huge_share", ph->huge_share);
      json_object_end(&j);
    }
    json_array_end(&j);
    json_bool(&j, "two_populations", t->bimodal);
    if (t->bimodal) {
      json_double(&j, "split_us", t->split_us);
      json_double(&j, "fast_share", t->fast_share);
      json_double(&j, "fast_median_us", t->fast_median);
      json_double(&j, "slow_median_us", t->slow_median);
    }
    json_object_end(&j);
  }
  json_object_end(&j);

  json_array_begin(&j, "warming");
  for (int i = 0; i < nwarm; i++) {
    const warm_result_t *w = &warm[i];
    json_object_begin(&j, NULL);
    json_string(&j, "method", method_names[w->method]);
    json_bool(&j, "huge_pages", w->huge);
    json_int(&j, "threads", w->threads);
    json_bool(&j, "measured", w->available);
    if (w->available) {
      json_double(&j, "median_gb_per_s", w->median_gbps);
      json_double(&j, "huge_share", w->huge_share);
      json_array_begin(&j, "runs_gb_per_s");
      for (int r = 0; r < w->runs; r++)
        json_double(&j, NULL, w->gbps[r]);
      json_array_end(&j);
    } else {
      json_string(&j, "note", w->why_not);
    }
    json_object_end(&j);
  }
  json_array_end(&j);

  json_object_begin(&j, "recommendation");
  if (rec.advised) {
    strbuf_t env_line = {0};
    sb_printf(&env_line, "FAULTLESS_PREFAULT=%zuM FAULTLESS_WARMERS=%ld FAULTLESS_THP=%d",
              rec.prefault >> 20, rec.advised->threads, rec.advised->huge ? 1 : 0);
    json_string(&j, "environment", env_line.data);
    free(env_line.data);
    json_int(&j, "prefault", (long long)rec.prefault);
    json_string(&j, "prefault_reason", rec.prefault_reason);
    json_int(&j, "warmers", rec.advised->threads);
    json_int(&j, "thp", rec.advised->huge);
    json_string(&j, "method", method_names[rec.advised->method]);
    json_double(&j, "gb_per_s", rec.advised->median_gbps);
    json_double(&j, "ms_per_gib", 1024.0 * 1024 * 1024 / (rec.advised->median_gbps * 1e6));
    json_double(&j, "host_backing_slowdown", rec.slowdown);
    json_double(&j, "start_gb_per_s", rec.start_gbps);
    json_double(&j, "start_ms_per_gib", 1024.0 * 1024 * 1024 / (rec.start_gbps * 1e6));
  }
  json_int(&j, "budget", (long long)rec.budget);
  json_string(&j, "budget_source", rec.budget_source);
  json_object_end(&j);
  json_object_end(&j);
}

int cmd_probe(int argc, char **argv) {
  long page = sysconf(_SC_PAGESIZE);
  if (page > 0) touch4k.page = (size_t)page;
  po.repeats = 5;
  po.idle_ms = 3000;
  size_t size = 0;
  long threads = 0;
  bool idle_set = false;
  const opt_t opts[] = {{"--size", OPT_BYTES, &size, HUGE, 0, " (at least 2M)"},
                        {"--threads", OPT_LONG, &threads, 1, 256, " (1..256)"},
                        {"--idle-ms", OPT_LONG, &po.idle_ms, 0, 30000, " (0..30000)"}};
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) return usage(stdout), 0;
    int took = take_option(argc, argv, &i, opts, 3, "faultless probe");
    if (took < 0) return usage(stderr), EXIT_USAGE;
    idle_set |= took && !strncmp(arg, "--idle-ms", 9);
    if (took) continue;
    if (!strcmp(arg, "--json"))
      po.json = true;
    else if (!strcmp(arg, "--quick"))
      po.quick = true;
    else
      return bad_usage("unknown argument '%s'", arg);
  }
  po.command = command_text("faultless", argc, argv);

  uint64_t start = now_ns();
  deadline_ns = start + 50ULL * 1000000000ULL; /* leaves time to finish the section running */
  env_t env;
  env_collect(&env);
  po.max_threads = threads ? threads : (env.cpus > 0 ? env.cpus : 1);
  po.warm_size = size ? size : po.quick ? 32UL << 20 : 256UL << 20;
  po.touch_size = po.quick ? 8UL << 20 : 64UL << 20;
  po.huge_size = po.quick ? 32UL << 20 : 256UL << 20;
  if (po.quick) {
    po.repeats = 1;
    if (!idle_set) po.idle_ms = 0;
  }
  /* Stay well inside what the machine has. */
  size_t cap = env.memory_limit ? env.memory_limit / 4 : (size_t)1 << 30;
  cap = cap / HUGE * HUGE;
  if (cap < HUGE) cap = HUGE;
  if (po.warm_size > cap) po.warm_size = cap;
  if (po.huge_size > cap) po.huge_size = cap;
  if (po.touch_size > cap) po.touch_size = cap;

  progress_start("probe", 3);
  progress_update(0, "memset");
  probe_memset();
  progress_update(1, "first touch%s", po.idle_ms ? " (with an idle pause)" : "");
  probe_first_touch(&env);
  progress_update(2, "warming methods");
  probe_warming(&env);
  progress_end();
  recommend(&env);
  double elapsed = (double)(now_ns() - start) / 1e9;
  if (po.json)
    print_json(&env, elapsed);
  else
    print_text(&env, elapsed);
  return fflush(stdout) == 0 ? 0 : 1;
}
