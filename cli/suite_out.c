// SPDX-License-Identifier: MIT
/* faultless suite's output: the table, results.json, results.csv and the
 * charts, all from the analysed suite_t (suite.h). */
#define _GNU_SOURCE
#include "suite.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static char *const notes[] = {
    "Every measurement is a fresh process; allocators are interleaved (A B A B) and their order "
    "rotated every round and workload; the first round(s) are warm-up and not counted.",
    "Time is each workload's own elapsed time (CLOCK_MONOTONIC, start-up excluded); spread is "
    "(max-min)/median over the measured rounds; ratios are medians of per-round ratios.",
    "Peak RSS is wait4()'s ru_maxrss of the whole process (libraries included).",
    "faultless runs with warming off (FAULTLESS_PREFAULT=0 FAULTLESS_AHEAD=0); faultless-warm "
    "with its defaults (AHEAD warms in step with the heap; nothing at start-up outside Lambda).",
    "Thread workloads divide a fixed amount of work among their threads (prodcons: N pairs); "
    "scaling is time at 1 thread over time at N.",
    "Warming: warmer_ns is wall time of a SCHED_IDLE thread, so other load on the machine "
    "lowers it; each setting runs in three processes back to back and the better of the last two "
    "counts: they start right after another freed its memory, as probe's repeats do (the first "
    "may pay host faults after free page reporting; it is shown as 'first')."};
#define NNOTES (sizeof notes / sizeof notes[0])

static int label_width(const suite_t *s) {
  int w = 8;
  for (int a = 0; a < s->nalloc; a++)
    if ((int)strlen(s->alloc[a].label) > w) w = (int)strlen(s->alloc[a].label);
  return w;
}

/* One target line: value against target, which is a ceiling (at_most) or a
 * floor. */
static void print_target(FILE *out, const char *what, double value, double target, bool at_most) {
  fprintf(out, "  %-58s %6.2f  target %s %.2f: %s\n", what, value, at_most ? "<=" : ">=", target,
          !isfinite(value)                                ? "no data"
          : (at_most ? value <= target : value >= target) ? "met"
                                                          : "NOT met");
}

static void print_header(const suite_t *s, FILE *out) {
  fprintf(out,
          "faultless suite: %d workload cases x %d allocators; %ld measured round%s + %ld "
          "warm-up; scale %g; %.1f s\n",
          s->ncases, s->nalloc, s->repeat, s->repeat > 1 ? "s" : "", s->warmup, s->scale,
          s->elapsed_s);
  fprintf(out, "command: %s\n", s->command);
  fprintf(out, "machine: %s, %ld CPUs, virtualization %s, kernel %s, THP %s\n",
          env_get(&s->env, "cpu_model") ?: "?", s->env.cpus,
          env_get(&s->env, "systemd_detect_virt") ?: "?", env_get(&s->env, "kernel") ?: "?",
          env_get(&s->env, "thp_enabled") ?: "?");
}

/* A table's title and its header row: the allocators but `skip`, each in a
 * column `w` wide. */
/* A cell of a table: case c, allocator a; `of` the table's own allocator. */
typedef void cell_fn(const suite_t *s, int c, int a, int of, char v[48]);

static void time_cell(const suite_t *s, int c, int a, int of, char v[48]) {
  const cell_t *x = cell(s, c, a);
  if (x->n)
    snprintf(v, 48, "%.1f (%2.0f%%)", x->ms, 100 * (x->ms_max - x->ms_min) / x->ms);
  else
    snprintf(v, 48, "failed");
}

static void ratio_cell(const suite_t *s, int c, int peer, int of, char v[48]) {
  const sratio_t *q = ratio(s, c, of, peer);
  if (q->n)
    snprintf(v, 48, "%.2f [%.2f..%.2f]", q->median, q->min, q->max);
  else
    snprintf(v, 48, "-");
}

static void rss_cell(const suite_t *s, int c, int a, int of, char v[48]) {
  snprintf(v, 48, "%.1f", cell(s, c, a)->rss_mib);
}

/* Time at the first thread count over time at c's. */
static void scaling_cell(const suite_t *s, int c, int a, int of, char v[48]) {
  int base = -1;
  for (int d = 0; d < s->ncases; d++)
    if (s->cases[d].workload == s->cases[c].workload && s->cases[d].threads == s->thread_counts[0])
      base = d;
  snprintf(v, 48, "%.2f", cell(s, base, a)->ms / cell(s, c, a)->ms);
}

/* A table: its title, a column per allocator but `of` (w wide), a row per
 * case (with `threaded`, per case of a thread workload). */
static void print_cells(const suite_t *s, FILE *out, const char *title, int of, int w,
                        bool threaded, cell_fn *fn) {
  char name[48], v[48];
  fprintf(out, "\n%s\n%-14s", title, "workload");
  for (int a = 0; a < s->nalloc; a++)
    if (a != of) fprintf(out, " %*s", w, s->alloc[a].label);
  for (int c = 0; c < s->ncases; c++) {
    if (threaded && !workloads[s->cases[c].workload].threaded) continue;
    case_name(s, c, name);
    fprintf(out, "\n%-14s", name);
    for (int a = 0; a < s->nalloc; a++)
      if (a != of) fn(s, c, a, of, v), fprintf(out, " %*s", w, v);
  }
  fprintf(out, "\n");
}

/* Each faultless entry's time against every other allocator. */
static void print_ratios(const suite_t *s, FILE *out, int a, int w) {
  char title[160];
  snprintf(title, sizeof title,
           "%s: time ratio to each peer, median of per-round ratios [min..max]", s->alloc[a].label);
  print_cells(s, out, title, a, w > 18 ? w : 18, false, ratio_cell);
  fprintf(out, "%-14s", "geomean");
  for (int b = 0; b < s->nalloc; b++)
    if (b != a) fprintf(out, " %*.2f", w > 18 ? w : 18, geomean(s, a, b, false));
  fprintf(out, "\n");
}

static void print_rss_and_scaling(const suite_t *s, FILE *out, int w) {
  print_cells(s, out, "peak RSS, MiB: median (ru_maxrss)", -1, w, false, rss_cell);
  bool threaded = false;
  for (int c = 0; c < s->ncases; c++)
    threaded |= workloads[s->cases[c].workload].threaded;
  if (s->nthreads >= 2 && threaded)
    print_cells(s, out, "scaling: time at 1 thread / time at N threads (fixed total work)", -1, w,
                true, scaling_cell);
}

/* The target on the worst case of a against b: time (the median ratio) or
 * peak RSS. */
static void print_worst(const suite_t *s, FILE *out, int a, int b, bool memory, double target) {
  double worst = NAN;
  int wc = -1;
  for (int c = 0; c < s->ncases; c++) {
    double r = memory ? cell(s, c, a)->rss_mib / cell(s, c, b)->rss_mib : ratio(s, c, a, b)->median;
    if (!(r <= worst)) worst = r, wc = c;
  }
  char name[48] = "-", what[160];
  if (wc >= 0) case_name(s, wc, name);
  snprintf(what, sizeof what, "%s %s / %s, worst (%s)", s->alloc[a].label,
           memory ? "peak RSS" : "time", s->alloc[b].label, name);
  print_target(out, what, worst, target, true);
}

/* The peer (an allocator that is not faultless) with the lowest median time
 * on case c (memory: the lowest peak RSS); -1 when none ran it. */
static int best_peer(const suite_t *s, int c, bool memory) {
  int best = -1;
  for (int b = 0; b < s->nalloc; b++) {
    const cell_t *x = cell(s, c, b);
    if (s->alloc[b].faultless || !x->n) continue;
    if (best < 0 ||
        (memory ? x->rss_mib < cell(s, c, best)->rss_mib : x->ms < cell(s, c, best)->ms))
      best = b;
  }
  return best;
}

/* Against the best peer of each case: time (the median of per-round ratios
 * to the fastest peer), worst case and geomean; and peak RSS against 1.3x
 * the leanest peer's + 2 MiB, worst case. */
static void print_best_peer(const suite_t *s, FILE *out, int a) {
  double worst = NAN, worst_rss = NAN, sum = 0;
  int wc = -1, wr = -1, n = 0;
  for (int c = 0; c < s->ncases; c++) {
    int f = best_peer(s, c, false), l = best_peer(s, c, true);
    if (f < 0 || !cell(s, c, a)->n) continue;
    double t = ratio(s, c, a, f)->median;
    double m = cell(s, c, a)->rss_mib / (1.3 * cell(s, c, l)->rss_mib + 2);
    if (isfinite(t) && t > 0) sum += log(t), n++;
    if (!(t <= worst)) worst = t, wc = c;
    if (!(m <= worst_rss)) worst_rss = m, wr = c;
  }
  char name[48] = "-", what[160];
  if (wc >= 0) case_name(s, wc, name);
  snprintf(what, sizeof what, "%s time / fastest peer, worst (%s)", s->alloc[a].label, name);
  print_target(out, what, worst, 1.05, true);
  snprintf(what, sizeof what, "%s time / fastest peer, geomean", s->alloc[a].label);
  print_target(out, what, n ? exp(sum / n) : NAN, 0.95, true);
  strcpy(name, "-");
  if (wr >= 0) case_name(s, wr, name);
  snprintf(what, sizeof what, "%s RSS / (1.3 x leanest + 2 MiB), worst (%s)", s->alloc[a].label,
           name);
  print_target(out, what, worst_rss, 1.0, true);
}

static void print_targets(const suite_t *s, FILE *out) {
  int mi = find_alloc(s, "mimalloc"), gl = find_alloc(s, "glibc");
  fprintf(out, "\ntime and memory targets:\n");
  for (int a = 0; a < s->nalloc; a++) {
    if (!s->alloc[a].faultless) continue;
    print_best_peer(s, out, a);
    if (mi >= 0) {
      char what[160];
      snprintf(what, sizeof what, "%s time / mimalloc, geomean", s->alloc[a].label);
      print_target(out, what, geomean(s, a, mi, false), 1.0, true);
      print_worst(s, out, a, mi, false, 1.2);
    }
    if (gl >= 0) print_worst(s, out, a, gl, false, 1.0);
    if (mi >= 0 && !s->alloc[a].warming) print_worst(s, out, a, mi, true, 1.25);
  }
}

static void print_warming(const warming_t *x, FILE *out) {
  fprintf(out,
          "\nwarming throughput (warmed_by_warmers / warmer_ns, per warmer, of a process asking "
          "for FAULTLESS_PREFAULT=256M, against `faultless probe`; %d interleaved rounds, "
          "medians; %d warmer%s):\n",
          x->runs, x->warmers, x->warmers > 1 ? "s" : "");
  if (x->note[0]) fprintf(out, "  %s\n", x->note);
  for (int h = 0; h < 2; h++) {
    fprintf(out,
            "  huge pages %-3s: warmers %.2f GB/s (first %.2f), probe "
            "MADV_POPULATE_WRITE %.2f GB/s\n",
            h ? "on" : "off", x->gbps_thp[h], x->gbps_first[h], x->probe_pw[h]);
    char what[160];
    snprintf(what, sizeof what, "warmers / probe MADV_POPULATE_WRITE, huge pages %s",
             h ? "on" : "off");
    print_target(out, what, x->gbps_thp[h] / x->probe_pw[h], 0.9, false);
  }
  /* Not a target: the warmers' method is probe's best (the lines above);
   * this adds their number, thread starts and all, as a scaling figure. */
  fprintf(out,
          "  probe's best: %s, %.2f GB/s; %ld warmer%s with huge pages %s, all together (wall "
          "time from their start): %.2f GB/s, %.2f of it\n",
          x->probe_best_name, x->probe_best, x->best_threads, x->best_threads > 1 ? "s" : "",
          x->best_huge ? "on" : "off", x->gbps_best, x->gbps_best / x->probe_best);
}

static void print_notes(const suite_t *s, FILE *out) {
  char name[48];
  fprintf(out, "\nnotes:\n");
  for (size_t i = 0; i < NNOTES; i++)
    fprintf(out, "- %s\n", notes[i]);
  for (int i = 0; i < s->nskipped; i++)
    fprintf(out, "- %s\n", s->skipped[i]);
  for (int i = 0; i < s->nruns; i++)
    if (s->runs[i].note) {
      case_name(s, s->runs[i].c, name);
      fprintf(out, "- FAILED %s under %s (round %d): %s\n", name, s->alloc[s->runs[i].a].label,
              s->runs[i].round, s->runs[i].note);
    }
}

void suite_print_table(const suite_t *s, FILE *out) {
  int w = label_width(s);
  print_header(s, out);
  print_cells(s, out, "time, ms: median (spread = (max-min)/median)", -1, w > 15 ? w : 15, false,
              time_cell);
  for (int a = 0; a < s->nalloc; a++)
    if (s->alloc[a].faultless) print_ratios(s, out, a, w);
  print_rss_and_scaling(s, out, w);
  print_targets(s, out);
  if (s->warming.ran) print_warming(&s->warming, out);
  print_notes(s, out);
}

static void write_summary(const suite_t *s, json_t *j) {
  char name[48];
  json_array_begin(j, "summary");
  for (int c = 0; c < s->ncases; c++)
    for (int a = 0; a < s->nalloc; a++) {
      const cell_t *x = cell(s, c, a);
      case_name(s, c, name);
      json_object_begin(j, NULL);
      json_string(j, "case", name);
      json_string(j, "workload", workloads[s->cases[c].workload].name);
      json_int(j, "threads", s->cases[c].threads);
      json_string(j, "allocator", s->alloc[a].label);
      json_int(j, "rounds", x->n);
      json_double(j, "ms_median", x->ms);
      json_double(j, "ms_min", x->ms_min);
      json_double(j, "ms_max", x->ms_max);
      json_double(j, "peak_rss_mib_median", x->rss_mib);
      json_double(j, "peak_rss_mib_min", x->rss_min);
      json_double(j, "peak_rss_mib_max", x->rss_max);
      json_object_begin(j, "time_ratio_to");
      for (int b = 0; b < s->nalloc; b++) {
        if (b == a) continue;
        const sratio_t *q = ratio(s, c, a, b);
        json_object_begin(j, s->alloc[b].label);
        json_double(j, "median", q->median);
        json_double(j, "min", q->min);
        json_double(j, "max", q->max);
        json_object_end(j);
      }
      json_object_end(j);
      json_object_end(j);
    }
  json_array_end(j);
}

static void write_geomeans(const suite_t *s, json_t *j) {
  json_array_begin(j, "geomean");
  for (int a = 0; a < s->nalloc; a++)
    for (int b = 0; b < s->nalloc; b++) {
      if (a == b) continue;
      json_object_begin(j, NULL);
      json_string(j, "allocator", s->alloc[a].label);
      json_string(j, "peer", s->alloc[b].label);
      json_double(j, "time_ratio", geomean(s, a, b, false));
      json_double(j, "peak_rss_ratio", geomean(s, a, b, true));
      json_object_end(j);
    }
  json_array_end(j);
}

static void write_warming(const warming_t *x, json_t *j) {
  json_object_begin(j, "warming");
  json_int(j, "warmers", x->warmers);
  json_int(j, "runs", x->runs);
  json_double(j, "warmers_gb_per_s_huge_off", x->gbps_thp[0]);
  json_double(j, "warmers_gb_per_s_huge_on", x->gbps_thp[1]);
  json_double(j, "warmers_first_gb_per_s_huge_off", x->gbps_first[0]);
  json_double(j, "warmers_first_gb_per_s_huge_on", x->gbps_first[1]);
  json_double(j, "probe_populate_write_gb_per_s_huge_off", x->probe_pw[0]);
  json_double(j, "probe_populate_write_gb_per_s_huge_on", x->probe_pw[1]);
  json_double(j, "probe_best_gb_per_s", x->probe_best);
  json_string(j, "probe_best", x->probe_best_name);
  json_int(j, "probe_best_threads", x->best_threads);
  json_bool(j, "probe_best_huge_pages", x->best_huge);
  json_double(j, "warmers_at_probe_best_gb_per_s", x->gbps_best);
  json_string(j, "note", x->note[0] ? x->note : NULL);
  json_object_end(j);
}

static void write_runs(const suite_t *s, json_t *j) {
  char name[48];
  json_array_begin(j, "runs");
  for (int i = 0; i < s->nruns; i++) {
    const srun_t *r = &s->runs[i];
    case_name(s, r->c, name);
    json_object_begin(j, NULL);
    json_string(j, "case", name);
    json_string(j, "allocator", s->alloc[r->a].label);
    json_int(j, "round", r->round);
    json_bool(j, "warmup", r->warmup);
    json_int(j, "position", r->position);
    json_bool(j, "ok", r->ok);
    json_double(j, "ms", r->ok ? r->ms : NAN);
    json_double(j, "wall_ms", r->wall_ms);
    json_int(j, "peak_rss_kib", r->maxrss_kib);
    char hex[32];
    snprintf(hex, sizeof hex, "%016llx", r->check);
    json_string(j, "check", r->ok ? hex : NULL);
    json_string(j, "note", r->note);
    json_object_end(j);
  }
  json_array_end(j);
}

void suite_write_json(const suite_t *s, FILE *out) {
  json_t j;
  json_init(&j, out);
  json_object_begin(&j, NULL);
  json_string(&j, "tool", "faultless suite");
  json_string(&j, "command", s->command);
  json_double(&j, "elapsed_s", s->elapsed_s);
  json_object_begin(&j, "options");
  json_int(&j, "repeat", s->repeat);
  json_int(&j, "warmup_rounds", s->warmup);
  json_double(&j, "scale", s->scale);
  json_array_begin(&j, "threads");
  for (int i = 0; i < s->nthreads; i++)
    json_int(&j, NULL, s->thread_counts[i]);
  json_array_end(&j);
  json_object_end(&j);
  env_print_json(&s->env, &j, "environment");
  json_array_begin(&j, "allocators");
  for (int a = 0; a < s->nalloc; a++) {
    const allocator_t *x = &s->alloc[a];
    json_object_begin(&j, NULL);
    json_string(&j, "label", x->label);
    json_string(&j, "allocator", x->base);
    json_string(&j, "library", x->library);
    json_bool(&j, "warming", x->warming);
    json_string_array(&j, "environment", x->env, (size_t)x->nenv);
    json_object_end(&j);
  }
  json_array_end(&j);
  json_string_array(&j, "skipped", s->skipped, (size_t)s->nskipped);

  write_summary(s, &j);

  write_geomeans(s, &j);

  if (s->warming.ran) write_warming(&s->warming, &j);

  write_runs(s, &j);
  json_string_array(&j, "notes", notes, NNOTES);
  json_object_end(&j);
  fputc('\n', out);
}

static void write_csv(const suite_t *s, FILE *out) {
  char name[48];
  fprintf(out, "# %s\n", s->command);
  fprintf(out, "case,workload,threads,allocator,round,warmup,position,ok,ms,wall_ms,peak_rss_kib,"
               "check\n");
  for (int i = 0; i < s->nruns; i++) {
    const srun_t *r = &s->runs[i];
    case_name(s, r->c, name);
    fprintf(out, "%s,%s,%d,%s,%d,%d,%d,%d,%.3f,%.3f,%ld,%016llx\n", name,
            workloads[s->cases[r->c].workload].name, s->cases[r->c].threads, s->alloc[r->a].label,
            r->round, r->warmup, r->position, r->ok, r->ok ? r->ms : 0.0, r->wall_ms, r->maxrss_kib,
            r->check);
  }
}

/* Three charts: time relative to a baseline, peak RSS, scaling. */
/* suite.dat: index 0 the cases (time relative to `base`, then peak RSS), then
 * one block per threaded workload (threads, speed-up per allocator). */
static int write_chart_data(const suite_t *s, const char *dir, int base, strbuf_t *blocks) {
  FILE *f = create_in(dir, "suite.dat", "faultless suite");
  if (!f) return -1;
  char name[48];
  fprintf(f, "# case, then per allocator: median time / %s's, median peak RSS MiB\n",
          s->alloc[base].label);
  for (int c = 0; c < s->ncases; c++) {
    case_name(s, c, name);
    fprintf(f, "\"%s\"", name);
    for (int a = 0; a < s->nalloc; a++)
      fprintf(f, " %.4f", a == base ? 1.0 : ratio(s, c, a, base)->median);
    for (int a = 0; a < s->nalloc; a++)
      fprintf(f, " %.2f", cell(s, c, a)->rss_mib);
    fprintf(f, "\n");
  }
  fprintf(f, "\"geomean\"");
  for (int a = 0; a < s->nalloc; a++)
    fprintf(f, " %.4f", a == base ? 1.0 : geomean(s, a, base, false));
  for (int a = 0; a < s->nalloc; a++)
    fprintf(f, " %.2f", NAN);
  fprintf(f, "\n\n\n");
  for (int wl = 0; wl < NWORKLOADS; wl++) {
    if (!workloads[wl].threaded || !s->use_workload[wl]) continue;
    sb_printf(blocks, "%s%s", blocks->len ? " " : "", workloads[wl].name);
    fprintf(f, "# %s: threads, speed-up over %d thread per allocator\n", workloads[wl].name,
            s->thread_counts[0]);
    int c0 = -1;
    for (int c = 0; c < s->ncases; c++)
      if (s->cases[c].workload == wl && c0 < 0) c0 = c;
    for (int c = 0; c < s->ncases; c++) {
      if (s->cases[c].workload != wl) continue;
      fprintf(f, "%d", s->cases[c].threads);
      for (int a = 0; a < s->nalloc; a++)
        fprintf(f, " %.4f", cell(s, c0, a)->ms / cell(s, c, a)->ms);
      fprintf(f, "\n");
    }
    fprintf(f, "\n\n");
  }
  fclose(f);
  return 0;
}

/* charts.gp: gnuplot's own loops over the allocators (LABELS) and the
 * scaling blocks (BLOCKS) draw time, rss and scaling, as SVG and PNG. */
static int write_charts(const suite_t *s, const char *dir) {
  int base = find_alloc(s, "mimalloc");
  if (base < 0) base = find_alloc(s, "glibc");
  if (base < 0) base = 0;
  strbuf_t blocks = {0};
  FILE *f = write_chart_data(s, dir, base, &blocks)
                ? NULL
                : create_in(dir, "charts.gp", "faultless suite");
  if (!f) return free(blocks.data), -1;
  fprintf(f, "# gnuplot charts.gp  (written by: %s)\nN = %d\nLABELS = \"", s->command, s->nalloc);
  for (int a = 0; a < s->nalloc; a++)
    fprintf(f, "%s%s", a ? " " : "", s->alloc[a].label);
  fprintf(f, "\"\nBLOCKS = \"%s\"\nNB = words(BLOCKS)\n", blocks.data ? blocks.data : "");
  fprintf(f, "set termoption noenhanced\nset key outside right top\nset grid ytics\n"
             "do for [png=0:1] {\n"
             "  if (png) { set terminal pngcairo size 1300,650; ext = 'png' } else {\n"
             "    set terminal svg size 1300,650 background rgb 'white'; ext = 'svg' }\n"
             "  set output 'time.'.ext\n");
  fprintf(f,
          "  set title 'time relative to %s (median of %ld rounds, fresh process each; lower is "
          "better)'\n",
          s->alloc[base].label, s->repeat);
  fprintf(
      f,
      "  set logscale y; set yrange [*:*]; set style data histograms\n"
      "  set style histogram clustered gap 1; set style fill solid 0.8 border -1\n"
      "  set xtics rotate by -30\n"
      "  plot for [a=1:N] 'suite.dat' index 0 using (column(a+1)):xtic(1) title word(LABELS, a)\n"
      "  set output 'rss.'.ext\n  set title 'peak RSS, MiB (median ru_maxrss)'\n"
      "  plot for [a=1:N] 'suite.dat' index 0 using (column(N+a+1)):xtic(1) title word(LABELS, a)\n"
      "  unset logscale y\n  set xtics norotate\n");
  if (s->nthreads > 1)
    fprintf(f,
            "  if (NB > 0) {\n"
            "    set output 'scaling.'.ext\n"
            "    set multiplot layout (NB + 4) / 5, (NB < 5 ? NB : 5) title 'speed-up over %d "
            "thread (fixed total work)'\n"
            "    set style data linespoints; set xlabel 'threads'\n"
            "    do for [k=1:NB] {\n"
            "      set title word(BLOCKS, k)\n"
            /* The key at the canvas's corner takes no room from the last plot. */
            "      if (k == NB) { set key at screen 0.99,0.02 right bottom } else { unset key }\n"
            "      plot for [a=1:N] 'suite.dat' index k using 1:(column(a+1)) lw 1.5 lc a title "
            "word(LABELS, a)\n"
            "    }\n"
            "    unset multiplot\n    unset xlabel\n    set key outside right top\n"
            "  }\n",
            s->thread_counts[0]);
  fprintf(f, "}\n");
  fclose(f);
  free(blocks.data);
  return run_gnuplot(dir, "faultless suite");
}

int suite_write_dir(const suite_t *s, const char *dir) {
  const char *names[] = {"results.json", "results.csv", "results.txt"};
  for (int k = 0; k < 3; k++) {
    FILE *f = create_in(dir, names[k], "faultless suite");
    if (!f) return 1;
    if (k == 0) suite_write_json(s, f);
    if (k == 1) write_csv(s, f);
    if (k == 2) suite_print_table(s, f);
    fclose(f);
  }
  return write_charts(s, dir) ? 1 : 0;
}
