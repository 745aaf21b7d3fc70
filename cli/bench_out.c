// SPDX-License-Identifier: MIT
/* faultless bench: what it prints and writes (table, seed log, CSV, JSON,
 * gnuplot charts). */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char *const bench_notes[] = {
    "'seed/buf' is the seed's own measure of new pages per buffer: pages at virtual addresses this "
    "process had "
    "never used. It hides pages an allocator gave back to the OS and faulted in again, "
    "and counts pages warmed ahead of use as new though they cost no fault; 'flt/buf' "
    "(getrusage minor faults of the allocating thread) shows both.",
    "'us/MiB' is the time of one allocation plus memset, per MiB of buffer; GB/s is the buffer "
    "size over the median time; 'vs glibc' compares medians of the same iteration.",
    "Every measurement is a fresh process; allocators are interleaved and their order rotated "
    "each round, so a noisy machine hurts them alike."};
#define NNOTES (sizeof bench_notes / sizeof bench_notes[0])

static int label_width(const bench_t *b) {
  int w = 9;
  for (int v = 0; v < b->nvariants; v++)
    if ((int)strlen(b->variants[v].label) > w) w = (int)strlen(b->variants[v].label);
  return w;
}

/* --- Table --- */

static void print_ratio(const ratio_t *r, int w, FILE *out) {
  fprintf(out, "  %-*s %6.2f [%.2f..%.2f]  target %s %.2f: %s\n", w, r->name, r->median, r->min,
          r->max, r->at_most ? "<=" : ">=", r->target,
          r->rounds == 0 ? "no data"
          : r->met       ? "met"
                         : "NOT met");
  fprintf(out, "     %s\n", r->description);
  if (r->has_faults)
    fprintf(out,
            "     first-batch faults per buffer: %.2f in the allocating thread (target < 1), "
            "%.2f in the whole process\n",
            r->faults_thread, r->faults_process);
}

void bench_print_table(const bench_t *b, FILE *out) {
  char size[32];
  fprintf(out, "faultless bench: %ld x %s buffers, %ld iteration%s, %ld thread%s, align %zu; ",
          b->chunks, format_bytes(b->size, size), b->iterations, b->iterations > 1 ? "s" : "",
          b->threads, b->threads > 1 ? "s" : "", b->align);
  fprintf(out, "%ld measured round%s", b->repeat, b->repeat > 1 ? "s" : "");
  if (b->warmup)
    fprintf(out, " + %ld warm-up round%s (not in the table; in results.json)", b->warmup,
            b->warmup > 1 ? "s" : "");
  if (b->gap_ms) fprintf(out, "; %ld ms pause before each process", b->gap_ms);
  fprintf(out, "; %.1f s\n", b->elapsed_s);
  fprintf(out, "command: %s\n\n", b->command);

  int w = label_width(b);
  fprintf(out, "%-*s %4s %11s %11s %6s %8s %9s %26s %8s\n", w, "allocator", "iter", "med us/MiB",
          "p99 us/MiB", "GB/s", "flt/buf", "seed/buf", "batch ms median [min..max]", "vs glibc");
  for (int i = 0; i < b->nsummary; i++) {
    const summary_t *s = &b->summary[i];
    char batch[64], ratio[16];
    snprintf(batch, sizeof batch, "%.1f [%.1f..%.1f]", s->batch_ms_median, s->batch_ms_min,
             s->batch_ms_max);
    if (isfinite(s->ratio_to_glibc))
      snprintf(ratio, sizeof ratio, "%.2fx", s->ratio_to_glibc);
    else
      snprintf(ratio, sizeof ratio, "-");
    fprintf(out, "%-*s %4d %11.1f %11.1f %6.2f %8.1f %9.1f %26s %8s\n", w,
            b->variants[s->variant].label, s->iteration, s->median_us_per_mib, s->p99_us_per_mib,
            s->gbps, s->minflt_per_buffer, s->new_pages_per_buffer, batch, ratio);
  }

  fprintf(out, "\nhow each row allocates:\n");
  for (int v = 0; v < b->nvariants; v++) {
    const variant_t *x = &b->variants[v];
    fprintf(out, "  %-*s %s", w, x->label, bench_path(x));
    /* The library's file name is enough here; results.json has the path. */
    if (x->kind == KIND_PRELOAD) {
      char *copy = xstrdup(x->library ? x->library : "");
      for (char *save, *lib = strtok_r(copy, " ", &save); lib; lib = strtok_r(NULL, " ", &save)) {
        const char *slash = strrchr(lib, '/');
        fprintf(out, " %s", slash ? slash + 1 : lib);
      }
      free(copy);
    }
    for (int i = 0; i < x->nenv; i++)
      fprintf(out, " %s", x->env[i]);
    fprintf(out, "\n");
  }

  if (b->warmup) {
    fprintf(out, "\nwarm-up round%s, batch ms per iteration:", b->warmup > 1 ? "s" : "");
    for (int i = 0; i < b->nruns; i++) {
      const run_t *r = &b->runs[i];
      if (!r->warmup) continue;
      fprintf(out, "%s %s", r->position == 0 ? "\n " : ";", b->variants[r->variant].label);
      for (int it = 1; r->ok && it <= b->iterations; it++)
        fprintf(out, " %.1f", batch_ms(r, it, b->threads));
      if (!r->ok) fprintf(out, " failed");
    }
    fprintf(out, "\n");
  }

  fprintf(out, "\nstart-up targets (per-round ratio of batch times, median [min..max] over the "
               "measured rounds):\n");
  if (b->nratios == 0)
    fprintf(out, "  (none computable: they need faultless with glibc and/or mimalloc, and 2 "
                 "iterations)\n");
  int rw = 0;
  bool r1 = false;
  for (int i = 0; i < b->nratios; i++) {
    if ((int)strlen(b->ratios[i].name) > rw) rw = (int)strlen(b->ratios[i].name);
    r1 |= b->ratios[i].name[1] == '1';
  }
  for (int i = 0; i < b->nratios; i++)
    print_ratio(&b->ratios[i], rw, out);
  if (!r1)
    fprintf(out, "  R1 needs a faultless entry with setup-ms > 0 and prefault > 0, e.g. "
                 "faultless:setup-ms=300:prefault=128M\n");

  fprintf(out, "\nnotes:\n");
  for (size_t i = 0; i < NNOTES; i++)
    fprintf(out, "- %s\n", bench_notes[i]);
  for (int i = 0; i < b->nskipped; i++)
    fprintf(out, "- %s\n", b->skipped[i]);
}

/* --- The seed's log --- */

void bench_print_seed(const bench_t *b, FILE *out) {
  for (int i = 0; i < b->nruns; i++) {
    const run_t *r = &b->runs[i];
    if (r->warmup || !r->ok) continue;
    fprintf(out, "backend_name:%s\n", b->variants[r->variant].label);
    fprintf(out, "ALLOCATING %ld CHUNCKS OF %zu BYTES\n", b->chunks, b->size);
    fprintf(out, "iteration;allocation_duration;new_pages_allocated\n");
    for (size_t k = 0; k < r->n; k++)
      fprintf(out, "%u;%llu;%u\n", r->iteration[k], (unsigned long long)(r->duration_ns[k] / 1000),
              r->new_pages[k]);
  }
}

/* --- CSV --- */

void bench_write_csv(const bench_t *b, FILE *out) {
  fprintf(out, "# %s\n", b->command);
  fprintf(out, "allocator,round,warmup,thread,iteration,index,duration_ns,minflt,minflt_process,"
               "new_pages\n");
  for (int i = 0; i < b->nruns; i++) {
    const run_t *r = &b->runs[i];
    for (size_t k = 0; k < r->n; k++)
      fprintf(out, "%s,%d,%d,%u,%u,%u,%llu,%u,%u,%u\n", b->variants[r->variant].label, r->round,
              r->warmup, r->thread[k], r->iteration[k], r->index[k],
              (unsigned long long)r->duration_ns[k], r->minflt[k], r->minflt_proc[k],
              r->new_pages[k]);
  }
}

/* --- JSON --- */

static void write_variants(const bench_t *b, json_t *j) {
  json_array_begin(j, "allocators");
  for (int v = 0; v < b->nvariants; v++) {
    const variant_t *x = &b->variants[v];
    json_object_begin(j, NULL);
    json_string(j, "label", x->label);
    json_string(j, "allocator", x->base);
    json_string(j, "kind", bench_kind_names[x->kind]);
    json_string(j, "api", x->kind == KIND_FAULTLESS ? "fl" : "malloc");
    json_string(j, "path", bench_path(x));
    json_string_array(j, "options", x->env, (size_t)x->nenv);
    json_string(j, "library", x->library);
    json_string(j, "library_realpath", x->library_real);
    json_string(j, "package", x->package_version ? x->package_version : x->package);
    json_int(j, "setup_ms", x->setup_ms);
    json_int(j, "prefault", (long long)x->prefault);
    json_object_end(j);
  }
  json_array_end(j);
}

static void write_summary(const bench_t *b, json_t *j) {
  json_array_begin(j, "summary");
  for (int i = 0; i < b->nsummary; i++) {
    const summary_t *s = &b->summary[i];
    json_object_begin(j, NULL);
    json_string(j, "allocator", b->variants[s->variant].label);
    json_int(j, "iteration", s->iteration);
    json_int(j, "samples", (long long)s->samples);
    json_double(j, "median_us_per_mib", s->median_us_per_mib);
    json_double(j, "p99_us_per_mib", s->p99_us_per_mib);
    json_double(j, "gb_per_s", s->gbps);
    json_double(j, "minflt_per_buffer", s->minflt_per_buffer);
    json_double(j, "minflt_process_per_buffer", s->minflt_process_per_buffer);
    json_double(j, "seed_new_pages_per_buffer", s->new_pages_per_buffer);
    json_double(j, "batch_ms_median", s->batch_ms_median);
    json_double(j, "batch_ms_min", s->batch_ms_min);
    json_double(j, "batch_ms_max", s->batch_ms_max);
    json_double(j, "ratio_to_glibc", s->ratio_to_glibc);
    json_object_end(j);
  }
  json_array_end(j);
}

static void write_ratios(const bench_t *b, json_t *j) {
  json_array_begin(j, "startup_ratios");
  for (int i = 0; i < b->nratios; i++) {
    const ratio_t *r = &b->ratios[i];
    json_object_begin(j, NULL);
    json_string(j, "name", r->name);
    json_string(j, "description", r->description);
    json_double(j, "median", r->median);
    json_double(j, "min", r->min);
    json_double(j, "max", r->max);
    json_int(j, "rounds", r->rounds);
    json_string(j, "target", r->at_most ? "at most" : "at least");
    json_double(j, "target_value", r->target);
    json_bool(j, "met", r->met);
    if (r->has_faults) {
      json_double(j, "first_batch_faults_per_buffer_thread", r->faults_thread);
      json_double(j, "first_batch_faults_per_buffer_process", r->faults_process);
    }
    json_object_end(j);
  }
  json_array_end(j);
}

static void write_runs(const bench_t *b, json_t *j) {
  json_array_begin(j, "runs");
  for (int i = 0; i < b->nruns; i++) {
    const run_t *r = &b->runs[i];
    json_object_begin(j, NULL);
    json_string(j, "allocator", b->variants[r->variant].label);
    json_int(j, "round", r->round);
    json_bool(j, "warmup", r->warmup);
    json_int(j, "position", r->position);
    json_bool(j, "ok", r->ok);
    json_double(j, "wall_ms", r->wall_ms);
    json_int(j, "setup_ns", (long long)r->setup_ns);
    json_int(j, "total_minflt", r->total_minflt);
    if (r->fl_stats) json_raw(j, "fl_stats", r->fl_stats);
    json_object_begin(j, "samples");
#define WRITE_COLUMN(key, field, type) json_##type##_array(j, #key, r->field, r->n);
    BENCH_COLUMNS(WRITE_COLUMN)
#undef WRITE_COLUMN
    json_object_end(j);
    json_object_end(j);
  }
  json_array_end(j);
}

void bench_write_json(const bench_t *b, FILE *out) {
  json_t j;
  json_init(&j, out);
  json_object_begin(&j, NULL);
  json_string(&j, "tool", "faultless bench");
  json_string(&j, "command", b->command);
  json_string_array(&j, "argv", b->argv, (size_t)b->argc);
  json_string(&j, "worker", b->worker);

  json_object_begin(&j, "options");
#define WRITE_OPTION(key, field) json_int(&j, #key, (long long)b->field);
  BENCH_OPTIONS(WRITE_OPTION)
#undef WRITE_OPTION
  json_object_end(&j);
  env_print_json(&b->env, &j, "environment");

  write_variants(b, &j);
  json_string_array(&j, "skipped", b->skipped, (size_t)b->nskipped);

  write_summary(b, &j);
  write_ratios(b, &j);
  write_runs(b, &j);

  json_string_array(&j, "notes", bench_notes, NNOTES);
  json_object_end(&j);
}

/* --- Charts --- */

/* Median over the measured rounds of the time of allocation `index` in `iteration`. */
static double index_median_us(const bench_t *b, int v, int iteration, long index) {
  /* One sample per thread and round: a file read back (--from) may hold more. */
  size_t cap = (size_t)b->repeat * b->threads + 1, n = 0;
  double *values = xmalloc(cap * sizeof *values);
  for (int i = 0; i < b->nruns; i++) {
    const run_t *r = &b->runs[i];
    if (r->variant != v || r->warmup || !r->ok) continue;
    for (size_t k = 0; k < r->n; k++)
      if ((int)r->iteration[k] == iteration && r->index[k] == index && n < cap)
        values[n++] = (double)r->duration_ns[k] / 1e3;
  }
  double m = median(values, n);
  free(values);
  return m;
}

/* latency.dat: per allocator and iteration, a block of each allocation's
 * median time; medians.dat: per allocator, its median us/MiB per iteration. */
static int write_chart_data(const bench_t *b, const char *dir) {
  FILE *f = create_in(dir, "latency.dat", "faultless bench");
  FILE *g = f ? create_in(dir, "medians.dat", "faultless bench") : NULL;
  if (!g) return f ? fclose(f), -1 : -1;
  fprintf(f,
          "# index, median us of alloc+memset over %ld rounds; one block per allocator and "
          "iteration\n",
          b->repeat);
  fprintf(g, "# allocator, median us/MiB per iteration\n");
  for (int v = 0; v < b->nvariants; v++) {
    fprintf(g, "\"%s\"", b->variants[v].label);
    for (int it = 1; it <= b->iterations; it++) {
      fprintf(f, "# %s iteration %d\n", b->variants[v].label, it);
      for (long i = 0; i < b->chunks; i++)
        fprintf(f, "%ld %.3f\n", i, index_median_us(b, v, it, i));
      fprintf(f, "\n\n");
      fprintf(g, " %.3f", b->summary[v * b->iterations + it - 1].median_us_per_mib);
    }
    fprintf(g, "\n");
  }
  fclose(f);
  fclose(g);
  return 0;
}

/* charts.gp: gnuplot's own loops over the formats, the allocators (LABELS)
 * and their iterations (IT) draw latency and medians, as SVG and PNG. */
static int write_charts(const bench_t *b, const char *dir) {
  FILE *f = write_chart_data(b, dir) ? NULL : create_in(dir, "charts.gp", "faultless bench");
  if (!f) return -1;
  double lowest = INFINITY;
  for (int i = 0; i < b->nsummary; i++)
    if (b->summary[i].median_us_per_mib > 0) lowest = fmin(lowest, b->summary[i].median_us_per_mib);
  char size[32];
  format_bytes(b->size, size);
  fprintf(f, "# gnuplot charts.gp  (written by: %s)\nIT = %ld\nLABELS = \"", b->command,
          b->iterations);
  for (int v = 0; v < b->nvariants; v++)
    fprintf(f, "%s%s", v ? " " : "", b->variants[v].label);
  fprintf(f,
          "\"\nset termoption noenhanced\nset key outside right top\nset grid\n"
          "do for [png=0:1] {\n"
          "  if (png) { set terminal pngcairo size 1200,650; ext = 'png' } else {\n"
          "    set terminal svg size 1200,650 background rgb 'white'; ext = 'svg' }\n"
          "  set output 'latency.'.ext\n"
          "  set title 'alloc + memset of %s, median of %ld rounds (fresh process each)'\n"
          "  set xlabel 'allocation in the batch'; set ylabel 'us'; set logscale y\n"
          "  set style data lines; unset xtics; set xtics; set yrange [*:*]\n"
          "  plot for [k=0:words(LABELS)*IT-1] 'latency.dat' index k using 1:2 lw 1.5 \\\n"
          "    lc k/IT+1 dt k%%IT+1 title sprintf('%%s #%%d', word(LABELS, k/IT+1), k%%IT+1)\n"
          "  set output 'medians.'.ext\n"
          "  set title 'median us per MiB, alloc + memset (%ld x %s)'\n"
          "  set xlabel ''; set ylabel 'us per MiB'; set style data histograms\n"
          "  set style histogram clustered gap 1; set style fill solid 0.8 border -1\n"
          "  set xtics rotate by -25\n",
          size, b->repeat, b->chunks, size);
  if (isfinite(lowest)) /* log scale: bars rise from a decade below the lowest */
    fprintf(f, "  set yrange [%g:*]\n", pow(10, floor(log10(lowest / 2))));
  fprintf(f, "  plot for [it=1:IT] 'medians.dat' using (column(it+1)):xtic(1) title "
             "sprintf('iteration %%d', it)\n  unset xtics; set xtics\n}\n");
  fclose(f);
  return run_gnuplot(dir, "faultless bench");
}

FILE *create_in(const char *dir, const char *name, const char *who) {
  strbuf_t path = {0};
  sb_printf(&path, "%s/%s", dir, name);
  FILE *f = fopen(path.data, "w");
  if (!f) fprintf(stderr, "%s: cannot write %s: %s\n", who, path.data, strerror(errno));
  free(path.data);
  return f;
}

int bench_write_dir(const bench_t *b, const char *dir) {
  for (int k = 0; k < 2; k++) {
    FILE *f = create_in(dir, k ? "results.csv" : "results.json", "faultless bench");
    if (!f) return 1;
    (k ? bench_write_csv : bench_write_json)(b, f);
    fclose(f);
  }
  if (write_charts(b, dir) != 0) return 1;
  if (is_tty(stderr))
    fprintf(stderr,
            "faultless bench: wrote %s/results.json, results.csv, latency.svg/png, "
            "medians.svg/png\n",
            dir);
  return 0;
}
