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

#include "prim/prim.h"

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

/* --- Options --- */

probe_options_t probe_opts;
probe_memset_t probe_memset_result;
/* probe_touch4k: the kernel's base page (4 KiB on x86_64; 4, 16 or 64 KiB on
 * arm64), set in cmd_probe; the name stays for the JSON key, page_4k. */
touch_result_t probe_touch4k = {.page = 4096}, probe_touch2m = {.page = HUGE};
const char *const probe_method_names[] = {"touch", "MAP_POPULATE", "MADV_POPULATE_WRITE"};
warm_result_t probe_warm[NMETHODS * 2 * MAX_THREAD_COUNTS];
int probe_nwarm;

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

static void probe_memset(void) {
  size_t bytes = probe_opts.warm_size;
  void *base;
  size_t base_len;
  char *p = map_aligned(bytes, true, &base, &base_len);
  if (!p) return;
  memset(p, 1, bytes); /* map it all first */
  double gbps[8];
  int passes = probe_opts.quick ? 3 : 8;
  for (int i = 0; i < passes; i++) {
    uint64_t t0 = now_ns();
    memset(p, 'a' + i, bytes);
    __asm__ volatile("" : : "r"(p) : "memory");
    gbps[i] = (double)bytes / (double)(now_ns() - t0);
  }
  munmap(base, base_len);
  probe_memset_result.bytes = bytes;
  probe_memset_result.passes = passes;
  probe_memset_result.median_gbps = median(gbps, (size_t)passes);
  probe_memset_result.best_gbps = gbps[passes - 1];
}

/* --- First touch --- */

static void touch_region(touch_result_t *t, const char *name, char *p, size_t bytes) {
  touch_phase_t *ph = &t->phases[t->nphases++];
  ph->name = name;
  ph->pages = bytes / t->page;
  ph->us = xmalloc(ph->pages * sizeof *ph->us);
  uint64_t f0 = _fl_prim_thread_minflt();
  size_t huge0 = anon_huge_bytes();
  for (size_t i = 0; i < ph->pages; i++) {
    uint64_t t0 = now_ns();
    p[i * t->page] = 1;
    ph->us[i] = (double)(now_ns() - t0) / 1e3;
  }
  ph->faults_per_page = (double)(_fl_prim_thread_minflt() - f0) / (double)ph->pages;
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

/* One phase of first touch, each on a mapping of its own: base pages, then
 * huge pages where THP allows them. */
static void touch_phase(const char *name) {
  touch_result_t *ts[2] = {&probe_touch4k, &probe_touch2m};
  size_t sizes[2] = {probe_opts.touch_size, probe_opts.huge_size};
  for (int h = 0; h < 2; h++) {
    void *base;
    size_t len;
    char *p = ts[h]->available ? map_aligned(sizes[h], h, &base, &len) : NULL;
    if (!p) continue;
    touch_region(ts[h], name, p, sizes[h]);
    munmap(base, len);
  }
}

static void probe_first_touch(const env_t *env) {
  probe_touch4k.available = true;
  probe_touch2m.available = env->thp_available;
  if (!probe_touch2m.available)
    probe_touch2m.why_not = "transparent huge pages are off here (THP 'never')";
  /* fresh, then recycled: the pages this process just unmapped */
  touch_phase("fresh");
  touch_phase("recycled");
  /* after idle: long enough for free page reporting to hand the pages to the host */
  if (probe_opts.idle_ms > 0 && !out_of_time()) {
    struct timespec ts = {probe_opts.idle_ms / 1000, (probe_opts.idle_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    touch_phase("after-idle");
  }
  find_populations(&probe_touch4k);
  if (probe_touch2m.available) {
    find_populations(&probe_touch2m);
    if (probe_touch2m.nphases && probe_touch2m.phases[0].huge_share < 0.5) {
      probe_touch2m.why_not = "huge pages were asked for (MADV_HUGEPAGE) but not given; "
                              "figures are per 2 MiB of 4 KiB pages";
    }
  }
}

/* --- Warming throughput --- */

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
    for (size_t off = 0; off < job->bytes; off += probe_touch4k.page)
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
  size_t bytes = probe_opts.warm_size / HUGE / (size_t)w->threads * HUGE * (size_t)w->threads;
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
  for (long t = 1; t <= probe_opts.max_threads && ncounts < MAX_THREAD_COUNTS - 1; t *= 2)
    counts[ncounts++] = t;
  if (counts[ncounts - 1] != probe_opts.max_threads) counts[ncounts++] = probe_opts.max_threads;
  const char *thp = env_get(env, "thp_enabled");
  bool populate_write =
      env_get(env, "madv_populate_write") && !strcmp(env_get(env, "madv_populate_write"), "yes");
  for (int m = 0; m < NMETHODS; m++)
    for (int h = 0; h < 2; h++)
      for (int c = 0; c < ncounts; c++) {
        warm_result_t *w = &probe_warm[probe_nwarm++];
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
  for (int rep = 0; rep < probe_opts.repeats && !out_of_time(); rep++)
    for (int k = 0; k < probe_nwarm && !out_of_time(); k++) {
      int i = rep % 2 ? probe_nwarm - 1 - k : k; /* reverse the order every other repeat */
      if (probe_warm[i].available) warm_once(&probe_warm[i]);
    }
  for (int i = 0; i < probe_nwarm; i++) {
    double copy[8];
    memcpy(copy, probe_warm[i].gbps, sizeof copy);
    probe_warm[i].median_gbps = median(copy, (size_t)probe_warm[i].runs);
    if (probe_warm[i].available && !probe_warm[i].runs)
      probe_warm[i].available = false, probe_warm[i].why_not = "skipped: out of time";
  }
}

int cmd_probe(int argc, char **argv) {
  long page = sysconf(_SC_PAGESIZE);
  if (page > 0) probe_touch4k.page = (size_t)page;
  probe_opts.repeats = 5;
  probe_opts.idle_ms = -1; /* unset: 3000, or 0 with --quick */
  size_t size = 0;
  long threads = 0;
  const opt_t opts[] = {{"--size", OPT_BYTES, &size, HUGE, 0, " (at least 2M)"},
                        {"--threads", OPT_LONG, &threads, 1, 256, " (1..256)"},
                        {"--idle-ms", OPT_LONG, &probe_opts.idle_ms, 0, 30000, " (0..30000)"},
                        {"--json", OPT_FLAG, &probe_opts.json, 0, 0, NULL},
                        {"--quick", OPT_FLAG, &probe_opts.quick, 0, 0, NULL}};
  int rc = parse_args(argc, argv, opts, sizeof opts / sizeof opts[0], "faultless probe", usage);
  if (rc) return rc < 0 ? 0 : rc;
  if (probe_opts.idle_ms < 0) probe_opts.idle_ms = probe_opts.quick ? 0 : 3000;
  if (probe_opts.quick) probe_opts.repeats = 1;
  probe_opts.command = command_text("faultless", argc, argv);

  uint64_t start = now_ns();
  deadline_ns = start + 50ULL * 1000000000ULL; /* leaves time to finish the section running */
  env_t env;
  env_collect(&env);
  probe_opts.max_threads = threads ? threads : (env.cpus > 0 ? env.cpus : 1);
  probe_opts.warm_size = size ? size : probe_opts.quick ? 32UL << 20 : 256UL << 20;
  probe_opts.touch_size = probe_opts.quick ? 8UL << 20 : 64UL << 20;
  probe_opts.huge_size = probe_opts.quick ? 32UL << 20 : 256UL << 20;
  /* Stay well inside what the machine has. */
  size_t cap = env.memory_limit ? env.memory_limit / 4 : (size_t)1 << 30;
  cap = cap / HUGE * HUGE;
  if (cap < HUGE) cap = HUGE;
  if (probe_opts.warm_size > cap) probe_opts.warm_size = cap;
  if (probe_opts.huge_size > cap) probe_opts.huge_size = cap;
  if (probe_opts.touch_size > cap) probe_opts.touch_size = cap;

  progress_start("probe", 3);
  progress_update(0, "memset");
  probe_memset();
  progress_update(1, "first touch%s", probe_opts.idle_ms ? " (with an idle pause)" : "");
  probe_first_touch(&env);
  progress_update(2, "warming methods");
  probe_warming(&env);
  progress_end();
  probe_report(&env, (double)(now_ns() - start) / 1e9);
  return fflush(stdout) == 0 ? 0 : 1;
}
