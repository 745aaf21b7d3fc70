// SPDX-License-Identifier: MIT
/* faultless bench's analysis: per allocator and iteration the medians of the
 * measured rounds, and the start-up ratios, from the runs (measured by
 * bench.c, or read back from a results.json by bench_load.c). The writers
 * (bench_out.c) read what it leaves in bench_t. */
#define _GNU_SOURCE
#include "bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Whether faultless serves the variant's allocations (linked in or preloaded). */
static bool is_faultless(const variant_t *v) {
  return v->kind == KIND_FAULTLESS || v->kind == KIND_FAULTLESS_PRELOAD;
}

const char *const bench_kind_names[NKINDS] = {"glibc", "glibc-tuned", "preload", "faultless-api",
                                              "faultless-preload"};

const char *bench_path(const variant_t *v) {
  static const char *const paths[NKINDS] = {
      "malloc, glibc's", "malloc, glibc's with GLIBC_TUNABLES", "malloc, LD_PRELOAD",
      "fl_* linked into the worker", "malloc, LD_PRELOAD libfaultless.so"};
  return v->kind < NKINDS ? paths[v->kind] : "?";
}

double batch_ms(const run_t *r, int iteration, long threads) {
  double ns = 0;
  for (size_t i = 0; i < r->n; i++)
    if ((int)r->iteration[i] == iteration) ns += (double)r->duration_ns[i];
  return ns / 1e6 / (double)threads;
}

const run_t *bench_find_run(const bench_t *b, int variant, int round, bool ok) {
  for (int i = 0; i < b->nruns; i++)
    if (b->runs[i].variant == variant && b->runs[i].round == round && (b->runs[i].ok || !ok))
      return &b->runs[i];
  return NULL;
}

/* The first variant of `kind` (KIND_FAULTLESS: faultless by either path)
 * named `base` (NULL: any); want_setup 1: with start-up work (and, for
 * faultless, prefault), 0: without, -1: either. */
static int find_variant(const bench_t *b, kind_t kind, const char *base, int want_setup) {
  for (int v = 0; v < b->nvariants; v++) {
    const variant_t *x = &b->variants[v];
    if (kind == KIND_FAULTLESS ? !is_faultless(x) : x->kind != kind) continue;
    if (base && strcmp(x->base, base)) continue;
    bool setup = x->setup_ms > 0 && (!is_faultless(x) || x->prefault > 0);
    if (want_setup < 0 || (want_setup == 1) == setup) return v;
  }
  return -1;
}

static void summarize(bench_t *b) {
  int glibc = find_variant(b, KIND_GLIBC, "glibc", -1);
  b->summary = xmalloc((size_t)b->nvariants * b->iterations * sizeof *b->summary);
  b->nsummary = 0;
  double mib = (double)b->size / MiB;
  for (int v = 0; v < b->nvariants; v++)
    for (int it = 1; it <= b->iterations; it++) {
      summary_t s = {.variant = v, .iteration = it};
      size_t cap = 0;
      for (int i = 0; i < b->nruns; i++)
        if (b->runs[i].variant == v && !b->runs[i].warmup && b->runs[i].ok) cap += b->runs[i].n;
      double *us = xmalloc((cap + 1) * sizeof *us);
      double *batches = xmalloc(((size_t)b->repeat + 1) * sizeof *batches);
      size_t nbatch = 0;
      double flt = 0, fltp = 0, pages = 0;
      for (int i = 0; i < b->nruns; i++) {
        const run_t *r = &b->runs[i];
        if (r->variant != v || r->warmup || !r->ok) continue;
        for (size_t k = 0; k < r->n; k++)
          if ((int)r->iteration[k] == it) {
            us[s.samples++] = (double)r->duration_ns[k] / 1e3 / mib;
            flt += r->minflt[k];
            fltp += r->minflt_proc[k];
            pages += r->new_pages[k];
          }
        batches[nbatch++] = batch_ms(r, it, b->threads);
      }
      s.median_us_per_mib = median(us, s.samples);
      s.p99_us_per_mib = percentile(us, s.samples, 99);
      s.gbps = (double)b->size / (s.median_us_per_mib * mib * 1e3);
      double n = s.samples ? (double)s.samples : NAN;
      s.minflt_per_buffer = flt / n;
      s.minflt_process_per_buffer = fltp / n;
      s.new_pages_per_buffer = pages / n;
      s.batch_ms_median = median(batches, nbatch);
      s.batch_ms_min = nbatch ? batches[0] : NAN;
      s.batch_ms_max = nbatch ? batches[nbatch - 1] : NAN;
      s.ratio_to_glibc = NAN;
      free(us);
      free(batches);
      b->summary[b->nsummary++] = s;
    }
  for (int i = 0; glibc >= 0 && i < b->nsummary; i++) {
    summary_t *s = &b->summary[i];
    const summary_t *g = &b->summary[glibc * b->iterations + s->iteration - 1];
    s->ratio_to_glibc = s->median_us_per_mib / g->median_us_per_mib;
  }
}

/* ratio per measured round of batch(a, ita) / batch(c, itc). */
static void ratio(bench_t *b, ratio_t *out, int a, int ita, int c, int itc) {
  double *values = xmalloc(((size_t)b->repeat + 1) * sizeof *values);
  int n = 0;
  for (int round = (int)b->warmup; round < b->warmup + b->repeat; round++) {
    const run_t *ra = bench_find_run(b, a, round, true), *rc = bench_find_run(b, c, round, true);
    if (ra && rc) values[n++] = batch_ms(ra, ita, b->threads) / batch_ms(rc, itc, b->threads);
  }
  out->rounds = n;
  out->median = median(values, (size_t)n);
  out->min = n ? values[0] : NAN;
  out->max = n ? values[n - 1] : NAN;
  out->met = n > 0 && (out->at_most ? out->median <= out->target : out->median >= out->target);
  free(values);
}

/* The next target: NAME (with the label for %s), what it compares, and its
 * bound, a ceiling (at_most) or a floor. */
static ratio_t *target(bench_t *b, const char *name, const char *label, const char *description,
                       double bound, bool at_most) {
  ratio_t *r = &b->ratios[b->nratios++];
  snprintf(r->name, sizeof r->name, name, label);
  snprintf(r->description, sizeof r->description, "%s", description);
  r->target = bound;
  r->at_most = at_most;
  return r;
}

/* The three start-up targets, for whichever of them this run's allocators allow. */
static void startup_ratios(bench_t *b) {
  b->nratios = 0;
  int glibc = find_variant(b, KIND_GLIBC, "glibc", -1);
  int mimalloc = find_variant(b, KIND_PRELOAD, "mimalloc", -1);
  int warmed = find_variant(b, KIND_FAULTLESS, NULL, 1);
  int plain = find_variant(b, KIND_FAULTLESS, NULL, 0);
  if (warmed >= 0 && b->iterations >= 2) {
    ratio_t *r =
        target(b, "R1 %s", b->variants[warmed].label,
               "first batch / second batch, after start-up work with prefault", 1.15, true);
    ratio(b, r, warmed, 1, warmed, 2);
    const summary_t *s = &b->summary[warmed * b->iterations];
    r->has_faults = true;
    r->faults_thread = s->minflt_per_buffer;
    r->faults_process = s->minflt_process_per_buffer;
    r->met = r->met && s->minflt_per_buffer < 1.0;
  }
  if (plain >= 0 && glibc >= 0 && b->variants[glibc].setup_ms == 0)
    ratio(b,
          target(b, "R2 glibc / %s", b->variants[plain].label,
                 "first batch, no start-up work: glibc's time / faultless's (speed-up)", 1.6,
                 false),
          glibc, 1, plain, 1);
  for (int v = 0; mimalloc >= 0 && b->iterations >= 2 && v < b->nvariants; v++)
    if (is_faultless(&b->variants[v]))
      ratio(b,
            target(b, "R3 %s / mimalloc", b->variants[v].label,
                   "second batch: faultless's time / mimalloc's", 1.05, true),
            v, 2, mimalloc, 2);
}

/* pre: variants, runs, repeat, warmup, iterations, threads, size set. */
void bench_analyze(bench_t *b) {
  summarize(b);
  startup_ratios(b);
}
