// SPDX-License-Identifier: MIT
/* faultless probe's report: the settings that follow from the measurements
 * (probe.c), then everything as text or JSON. */
#define _GNU_SOURCE
#include "probe.h"

#include "../tools/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
  char settings[96]; /* the advised FAULTLESS_* variables */
} rec;

static void recommend(const env_t *env) {
  long spare = env->cpus > 1 ? env->cpus - 1 : 1;
  for (int i = 0; i < probe_nwarm; i++) {
    const warm_result_t *w = &probe_warm[i];
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
    const touch_result_t *t = rec.advised->huge ? &probe_touch2m : &probe_touch4k;
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
  if (rec.advised)
    snprintf(rec.settings, sizeof rec.settings,
             "FAULTLESS_PREFAULT=%zuM FAULTLESS_WARMERS=%ld FAULTLESS_THP=%d", rec.prefault >> 20,
             rec.advised->threads, rec.advised->huge ? 1 : 0);
}

/* --- Output --- */

static void print_recommendation(const env_t *env);

/* One first-touch table: a row per phase, then its populations. */
static void print_touch(const touch_result_t *t) {
  char page[32];
  printf("\nfirst touch per %s page (us; timer included):\n", format_bytes(t->page, page));
  if (!t->available) {
    printf("  not measured: %s\n", t->why_not);
    return;
  }
  if (t->why_not) printf("  note: %s\n", t->why_not);
  printf("  %-11s %7s %9s %9s %9s %9s %9s %8s %7s %6s\n", "phase", "pages", "p10", "median", "p90",
         "p99", "max", "GB/s", "flt/pg", "huge");
  for (int i = 0; i < t->nphases; i++) {
    const touch_phase_t *ph = &t->phases[i];
    printf("  %-11s %7zu %9.2f %9.2f %9.2f %9.2f %9.1f %8.2f %7.2f %5.0f%%\n", ph->name, ph->pages,
           ph->p10, ph->p50, ph->p90, ph->p99, ph->max, (double)t->page / (ph->p50 * 1e3),
           ph->faults_per_page, ph->huge_share * 100);
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

static void print_text(const env_t *env, double elapsed) {
  printf("faultless probe (%.1f s)\n\nenvironment:\n", elapsed);
  env_print_text(env, stdout);
  printf("\nmemset on mapped memory (%zu MiB, %d passes): median %.2f GB/s, best %.2f GB/s\n",
         probe_memset_result.bytes >> 20, probe_memset_result.passes,
         probe_memset_result.median_gbps, probe_memset_result.best_gbps);
  print_touch(&probe_touch4k);
  print_touch(&probe_touch2m);
  printf("  phases: fresh = first memory this probe maps; recycled = mapped again right after\n"
         "  unmapping (the guest still holds those pages); after-idle = mapped %ld ms after\n"
         "  unmapping (free page reporting%s has time to give them to the host)\n",
         probe_opts.idle_ms, env->free_page_reporting ? ", present here," : ", not seen here,");

  printf("\nwarming throughput (GB/s, median of %ld; %zu MiB each, recently freed memory):\n",
         probe_opts.repeats, probe_opts.warm_size >> 20);
  printf("  %-20s %-5s %7s %9s %6s\n", "method", "huge", "threads", "GB/s", "huge");
  for (int i = 0; i < probe_nwarm; i++) {
    const warm_result_t *w = &probe_warm[i];
    if (w->available)
      printf("  %-20s %-5s %7ld %9.2f %5.0f%%\n", probe_method_names[w->method],
             w->huge ? "on" : "off", w->threads, w->median_gbps, w->huge_share * 100);
    else if (w->threads == 1)
      printf("  %-20s %-5s %7s %9s  (%s)\n", probe_method_names[w->method], w->huge ? "on" : "off",
             "*", "n/a", w->why_not);
  }

  print_recommendation(env);
}

/* The FAULTLESS_* settings, and what warming takes at the advised rate. */
static void print_recommendation(const env_t *env) {
  printf("\nrecommendation:\n");
  if (!rec.advised) {
    printf("  no warming method worked here; leave FAULTLESS_PREFAULT=0\n");
    return;
  }
  char pf[32];
  printf("  %s\n", rec.settings);
  printf("  fastest here leaving a CPU to the application: %s, huge pages %s, %ld thread%s: "
         "%.2f GB/s\n",
         probe_method_names[rec.advised->method], rec.advised->huge ? "on" : "off",
         rec.advised->threads, rec.advised->threads > 1 ? "s" : "", rec.advised->median_gbps);
  if (rec.best != rec.advised)
    printf("  fastest overall: %s, huge pages %s, %ld threads: %.2f GB/s (uses every CPU)\n",
           probe_method_names[rec.best->method], rec.best->huge ? "on" : "off", rec.best->threads,
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
  if (probe_touch4k.nphases) {
    double first = (double)probe_touch4k.page / (probe_touch4k.phases[0].p50 * 1e3);
    printf("  first touch runs at %.2f GB/s here against %.2f GB/s for memset on warm memory: "
           "%.0f us per MiB that warming ahead can save\n",
           first, probe_memset_result.median_gbps,
           (1.0 / first - 1.0 / probe_memset_result.median_gbps) * MiB / 1e3);
  }
}

/* One page size's first-touch results, into the object open in j. */
static void json_touch(json_t *j, const touch_result_t *t) {
  json_bool(j, "measured", t->available);
  json_string(j, "note", t->why_not);
  json_int(j, "page_bytes", (long long)t->page);
  json_array_begin(j, "phases");
  for (int i = 0; i < t->nphases; i++) {
    const touch_phase_t *ph = &t->phases[i];
    json_object_begin(j, NULL);
    json_string(j, "phase", ph->name);
    json_int(j, "pages", (long long)ph->pages);
    json_double(j, "p10_us", ph->p10);
    json_double(j, "median_us", ph->p50);
    json_double(j, "p90_us", ph->p90);
    json_double(j, "p99_us", ph->p99);
    json_double(j, "max_us", ph->max);
    json_double(j, "median_gb_per_s", (double)t->page / (ph->p50 * 1e3));
    json_double(j, "faults_per_page", ph->faults_per_page);
    json_double(j, "huge_share", ph->huge_share);
    json_object_end(j);
  }
  json_array_end(j);
  json_bool(j, "two_populations", t->bimodal);
  if (t->bimodal) {
    json_double(j, "split_us", t->split_us);
    json_double(j, "fast_share", t->fast_share);
    json_double(j, "fast_median_us", t->fast_median);
    json_double(j, "slow_median_us", t->slow_median);
  }
}

static void print_json(const env_t *env, double elapsed) {
  json_t j;
  json_init(&j, stdout);
  json_object_begin(&j, NULL);
  json_string(&j, "tool", "faultless probe");
  json_string(&j, "command", probe_opts.command);
  json_double(&j, "elapsed_s", elapsed);
  env_print_json(env, &j, "environment");
  json_object_begin(&j, "memset");
  json_int(&j, "bytes", (long long)probe_memset_result.bytes);
  json_int(&j, "passes", probe_memset_result.passes);
  json_double(&j, "median_gb_per_s", probe_memset_result.median_gbps);
  json_double(&j, "best_gb_per_s", probe_memset_result.best_gbps);
  json_object_end(&j);

  json_object_begin(&j, "first_touch");
  json_object_begin(&j, "page_4k");
  json_touch(&j, &probe_touch4k);
  json_object_end(&j);
  json_object_begin(&j, "page_2m");
  json_touch(&j, &probe_touch2m);
  json_object_end(&j);
  json_object_end(&j);

  json_array_begin(&j, "warming");
  for (int i = 0; i < probe_nwarm; i++) {
    const warm_result_t *w = &probe_warm[i];
    json_object_begin(&j, NULL);
    json_string(&j, "method", probe_method_names[w->method]);
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
    json_string(&j, "environment", rec.settings);
    json_int(&j, "prefault", (long long)rec.prefault);
    json_string(&j, "prefault_reason", rec.prefault_reason);
    json_int(&j, "warmers", rec.advised->threads);
    json_int(&j, "thp", rec.advised->huge);
    json_string(&j, "method", probe_method_names[rec.advised->method]);
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

void probe_report(const env_t *env, double elapsed) {
  recommend(env);
  if (probe_opts.json)
    print_json(env, elapsed);
  else
    print_text(env, elapsed);
}
