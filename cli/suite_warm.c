// SPDX-License-Identifier: MIT
/* faultless suite --warming: the warmers' throughput in a process that asks
 * for memory at start-up, against what `faultless probe` measures for the
 * same method on this machine. */
#define _GNU_SOURCE
#include "suite.h"

#include "../tools/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The fastest measured entry of probe's "warming" list with that method
 * (NULL: any), huge pages (-1: either) and threads (0: any); NULL if none. */
static const jv_t *probe_fastest(const jv_t *warming, const char *method, int huge, long threads) {
  const jv_t *best = NULL;
  for (size_t i = 0; warming && i < warming->count; i++) {
    const jv_t *w = jv_at(warming, i), *m = jv_get(w, "measured"), *h = jv_get(w, "huge_pages");
    const jv_t *g = jv_get(w, "median_gb_per_s");
    const char *name = jv_str(jv_get(w, "method"));
    long t;
    if (!m || !m->boolean || !name || !h || !jv_long(jv_get(w, "threads"), 1, 1024, &t) || !g ||
        g->type != JV_NUMBER)
      continue;
    if ((method && strcmp(name, method)) || (huge >= 0 && h->boolean != (huge == 1)) ||
        (threads > 0 && t != threads))
      continue;
    if (!best || g->number > jv_get(best, "median_gb_per_s")->number) best = w;
  }
  return best;
}

static double rate_of(const jv_t *w) {
  return w ? jv_get(w, "median_gb_per_s")->number : NAN;
}

/* One `faultless probe --json` run: its MADV_POPULATE_WRITE rates at the
 * warmers' thread count into pw (huge pages off, on; NaN when it has none),
 * its best method into s->warming (probe_best_name, best_threads, best_huge);
 * returns that method's rate, NaN when probe gave none. */
static double run_probe(suite_t *s, double pw[2]) {
  warming_t *w = &s->warming;
  strbuf_t probe = {0};
  sb_printf(&probe, "%s/faultless", s->self);
  char *argv[] = {probe.data, "probe", "--json", "--idle-ms", "0", NULL};
  childenv_t env;
  allocator_env(&env, NULL, NULL, 0, false);
  child_t child;
  run_child(argv, env.vars, NULL, CHILD_STDOUT, 300000, &child);
  childenv_free(&env);
  free(probe.data);
  char err[128];
  jv_t *pj =
      child.output.data ? jv_parse(child.output.data, child.output.len, err, sizeof err) : NULL;
  free(child.output.data);
  const jv_t *warming = jv_get(pj, "warming"), *x = probe_fastest(warming, NULL, -1, 0);
  for (int h = 0; h < 2; h++)
    pw[h] = rate_of(probe_fastest(warming, "MADV_POPULATE_WRITE", h, w->warmers));
  double best = rate_of(x);
  if (x) {
    jv_long(jv_get(x, "threads"), 1, 1024, &w->best_threads);
    w->best_huge = jv_get(x, "huge_pages")->boolean;
    snprintf(w->probe_best_name, sizeof w->probe_best_name, "%s, huge pages %s, %ld thread%s",
             jv_str(jv_get(x, "method")), w->best_huge ? "on" : "off", w->best_threads,
             w->best_threads > 1 ? "s" : "");
  }
  jv_free(pj);
  return best;
}

/* The warmers' rates in a process that asks for 256 MiB at start-up (what
 * probe warms in each measurement) and then idles, from its FAULTLESS_STATS
 * line: *each, warmed_by_warmers / warmer_ns
 * (per warmer), and *all, warmed_by_warmers / warming_ns (all of them
 * together, by the wall time they ran). NaN when the line is missing. */
static void run_warmers(suite_t *s, bool huge, int warmers, double *each, double *all) {
  strbuf_t prog = {0};
  sb_printf(&prog, "%s/startup", s->bin_dir);
  char *argv[] = {prog.data, "--scale", "1", NULL};
  childenv_t env;
  allocator_env(&env, s->library_so, NULL, 0, false);
  childenv_add(&env, "FAULTLESS_PREFAULT=256M");
  childenv_add(&env, "FAULTLESS_STATS=json");
  childenv_add(&env, "FAULTLESS_THP=%d", huge);
  childenv_add(&env, "FAULTLESS_WARMERS=%d", warmers);
  child_t p;
  run_child(argv, env.vars, NULL, CHILD_STDOUT | CHILD_STDERR, 60000, &p);
  childenv_free(&env);
  free(prog.data);
  char err[128];
  const char *js = p.output.data ? strstr(p.output.data, "{\"version\"") : NULL;
  jv_t *st = js ? jv_parse(js, strcspn(js, "\n"), err, sizeof err) : NULL;
  const jv_t *bytes = jv_get(st, "warmed_by_warmers");
  const char *per[2] = {"warmer_ns", "warming_ns"};
  double *out[2] = {each, all};
  for (int i = 0; i < 2; i++) {
    const jv_t *ns = jv_get(st, per[i]);
    *out[i] = bytes && ns && bytes->type == JV_NUMBER && ns->type == JV_NUMBER && ns->number > 0
                  ? bytes->number / ns->number
                  : NAN;
  }
  jv_free(st);
  free(p.output.data);
}

/* One setting of the warmers in three processes back to back: *first, the
 * first one's rate, which may find that free page reporting gave the memory
 * to the host (a huge page then costs a host fault too); *held, the better
 * of the next two, which start right after another freed its memory, as
 * probe's repeats do. The reporting worker (every 2 s here) can still take
 * that memory between two processes; rarely twice in a row. `all`: rate of
 * all warmers together, else per warmer. */
static void measure_setting(suite_t *s, bool huge, int warmers, bool all, double *first,
                            double *held) {
  double rate[2];
  *held = NAN;
  for (int i = 0; i < 3; i++) {
    run_warmers(s, huge, warmers, &rate[0], &rate[1]);
    double r = rate[all];
    if (i == 0)
      *first = r;
    else if (isfinite(r) && !(r <= *held))
      *held = r;
  }
}

/* Interleaved rounds of: probe, then the warmers with huge pages off and on,
 * then as many warmers as probe's best method has threads, in its huge page
 * setting (measure_setting). */
void measure_warming(suite_t *s) {
  warming_t *w = &s->warming;
  w->ran = true;
  w->warmers = s->env.cpus <= 2 ? 1 : (int)(s->env.cpus / 2 > 8 ? 8 : s->env.cpus / 2);
  w->runs = 3;
  if (!s->library_so) {
    snprintf(w->note, sizeof w->note, "libfaultless.so not found");
    return;
  }
  double warm[2][8], first[2][8], probe[2][8], best[8], at_best[8];
  int nw[2] = {0, 0}, nf[2] = {0, 0}, np[2] = {0, 0}, nb = 0, nab = 0;
  for (int r = 0; r < w->runs; r++) {
    double pw[2], b = run_probe(s, pw), f = NAN, rate = NAN;
    for (int h = 0; h < 2; h++)
      if (isfinite(pw[h])) probe[h][np[h]++] = pw[h];
    if (isfinite(b)) best[nb++] = b;
    for (int h = 0; h < 2; h++) {
      measure_setting(s, h == 1, w->warmers, false, &f, &rate);
      if (isfinite(f)) first[h][nf[h]++] = f;
      if (isfinite(rate)) warm[h][nw[h]++] = rate;
    }
    if (isfinite(b) && w->best_threads > 0) {
      measure_setting(s, w->best_huge, (int)w->best_threads, true, &f, &rate);
      if (isfinite(rate)) at_best[nab++] = rate;
    }
  }
  for (int h = 0; h < 2; h++) {
    w->gbps_thp[h] = median(warm[h], (size_t)nw[h]);
    w->gbps_first[h] = median(first[h], (size_t)nf[h]);
    w->probe_pw[h] = median(probe[h], (size_t)np[h]);
  }
  w->probe_best = median(best, (size_t)nb);
  w->gbps_best = median(at_best, (size_t)nab);
  if (!np[0] && !np[1]) snprintf(w->note, sizeof w->note, "faultless probe --json gave no result");
  if (!nw[0] && !nw[1])
    snprintf(w->note, sizeof w->note, "no FAULTLESS_STATS=json line from the startup program");
}
