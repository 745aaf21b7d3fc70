// SPDX-License-Identifier: MIT
/* faultless lambda collect: the recorded responses of `faultless lambda
 * invoke` (each one `faultless bench --format json` run in a sandbox) merged
 * into one bench_t, written as `faultless bench --out` writes its results
 * (bench_out.c), plus lambda.csv with each invocation's Lambda facts. */
#define _GNU_SOURCE
#include "bench.h"
#include "lambda.h"

#include "../tools/json.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Re-serialize a parsed value through tools/util.c's writer. */
static void write_jv(json_t *j, const char *key, const jv_t *v) {
  switch (v->type) {
  case JV_NULL:
    json_raw(j, key, "null");
    break;
  case JV_BOOL:
    json_bool(j, key, v->boolean);
    break;
  case JV_NUMBER:
    if (v->number == floor(v->number) && fabs(v->number) < 9e15)
      json_int(j, key, (long long)v->number);
    else
      json_double(j, key, v->number);
    break;
  case JV_STRING:
    json_string(j, key, v->string);
    break;
  case JV_ARRAY:
  case JV_OBJECT:
    if (v->type == JV_ARRAY)
      json_array_begin(j, key);
    else
      json_object_begin(j, key);
    for (size_t i = 0; i < v->count; i++)
      write_jv(j, v->type == JV_OBJECT ? v->keys[i] : NULL, v->items[i]);
    if (v->type == JV_ARRAY)
      json_array_end(j);
    else
      json_object_end(j);
    break;
  }
}

static char *jv_text(const jv_t *v) {
  json_t j;
  if (!json_open_text(&j)) return NULL;
  write_jv(&j, NULL, v);
  return json_close_text(&j);
}

static long num(const jv_t *obj, const char *key, long fallback) {
  const jv_t *v = jv_get(obj, key);
  return v && v->type == JV_NUMBER ? (long)v->number : fallback;
}

static int find_label(const bench_t *b, const char *label) {
  for (int v = 0; v < b->nvariants; v++)
    if (!strcmp(b->variants[v].label, label)) return v;
  return -1;
}

static bool round_taken(const bench_t *b, int variant, int round) {
  for (int i = 0; i < b->nruns; i++)
    if (b->runs[i].variant == variant && b->runs[i].round == round) return true;
  return false;
}

static uint32_t *u32_array(const jv_t *a, size_t n) {
  uint32_t *out = xmalloc((n + 1) * sizeof *out);
  for (size_t i = 0; i < n; i++)
    out[i] = (uint32_t)a->items[i]->number;
  return out;
}

static void note(bench_t *b, char *text) {
  fprintf(stderr, "faultless lambda: note: %s\n", text);
  if (b->nskipped < (int)(sizeof b->skipped / sizeof b->skipped[0]))
    b->skipped[b->nskipped++] = text;
  else
    free(text);
}

/* The options of the first response become b's; a later one measured with
 * others is skipped (noted). */
static bool take_options(bench_t *b, const char *name, const jv_t *d, bool first) {
  const jv_t *opt = jv_get(d, "options");
  long chunks = num(opt, "chunks", -1), iterations = num(opt, "iterations", -1),
       threads = num(opt, "threads", -1), size = num(opt, "size", -1);
  if (first) {
    b->chunks = chunks;
    b->iterations = iterations;
    b->threads = threads;
    b->size = (size_t)size;
    b->align = (size_t)num(opt, "align", 0);
    b->setup_ms = num(opt, "setup_ms", 0);
    b->setup_busy = num(opt, "setup_busy_pct", 0);
    b->prefault = (size_t)num(opt, "prefault", 0);
    const jv_t *env = jv_get(d, "environment");
    for (size_t i = 0; env && i < env->count && b->env.count < 64; i++) {
      env_item_t *e = &b->env.items[b->env.count++];
      e->key = xstrdup(env->keys[i]);
      e->number = env->items[i]->type == JV_NUMBER;
      e->value = env->items[i]->type == JV_NULL ? NULL
                 : jv_str(env->items[i])        ? xstrdup(jv_str(env->items[i]))
                                                : jv_text(env->items[i]);
    }
  } else if (chunks != b->chunks || iterations != b->iterations || threads != b->threads ||
             (size_t)size != b->size) {
    strbuf_t msg = {0};
    sb_printf(&msg, "%s: measured with other chunks/size/iterations/threads; skipped", name);
    return note(b, msg.data), false;
  }
  return true;
}

/* The allocators of a response not seen before. */
static void add_variants(bench_t *b, const jv_t *allocs) {
  for (size_t i = 0; i < allocs->count; i++) {
    const jv_t *a = allocs->items[i];
    const char *label = jv_str(jv_get(a, "label"));
    if (!label || find_label(b, label) >= 0) continue;
    if (b->nvariants >= (int)(sizeof b->variants / sizeof b->variants[0])) continue;
    variant_t *v = &b->variants[b->nvariants++];
    memset(v, 0, sizeof *v);
    v->label = xstrdup(label);
    v->base = xstrdup(jv_str(jv_get(a, "allocator")) ? jv_str(jv_get(a, "allocator")) : label);
    const char *kind = jv_str(jv_get(a, "kind"));
    v->kind = KIND_PRELOAD;
    for (int k = 0; kind && k < NKINDS; k++)
      if (!strcmp(kind, bench_kind_names[k])) v->kind = (kind_t)k;
    if (jv_str(jv_get(a, "library"))) v->library = xstrdup(jv_str(jv_get(a, "library")));
    if (jv_str(jv_get(a, "library_realpath")))
      v->library_real = xstrdup(jv_str(jv_get(a, "library_realpath")));
    if (jv_str(jv_get(a, "package"))) v->package_version = xstrdup(jv_str(jv_get(a, "package")));
    v->setup_ms = num(a, "setup_ms", 0);
    v->prefault = (size_t)num(a, "prefault", 0);
  }
}

/* One run of a response, with its Lambda facts in lambda.csv. */
static void add_run(bench_t *b, const char *name, const jv_t *r, size_t i, const jv_t *lambda,
                    FILE *lambda_csv, size_t *run_cap) {
  long want_round = num(lambda, "round", -1);
  int v = find_label(b, jv_str(jv_get(r, "allocator")) ? jv_str(jv_get(r, "allocator")) : "");
  const jv_t *s = jv_get(r, "samples");
  const jv_t *cols[7] = {jv_get(s, "thread"),   jv_get(s, "iteration"),
                         jv_get(s, "index"),    jv_get(s, "duration_ns"),
                         jv_get(s, "minflt"),   jv_get(s, "minflt_process"),
                         jv_get(s, "new_pages")};
  bool shaped = v >= 0;
  size_t n = cols[0] ? cols[0]->count : 0;
  for (int c = 0; c < 7 && shaped; c++)
    shaped = cols[c] && cols[c]->type == JV_ARRAY && cols[c]->count == n;
  for (int c = 0; c < 7 && shaped; c++)
    for (size_t k = 0; k < n && shaped; k++)
      shaped = cols[c]->items[k]->type == JV_NUMBER;
  if (!shaped) {
    strbuf_t msg = {0};
    sb_printf(&msg, "%s: run %zu has no usable samples; skipped", name, i);
    note(b, msg.data);
    return;
  }
  if ((size_t)b->nruns == *run_cap) {
    *run_cap = *run_cap ? *run_cap * 2 : 64;
    b->runs = xrealloc(b->runs, *run_cap * sizeof *b->runs);
  }
  /* The round the invocation was sent in pairs allocators for the ratios;
   * a second response for the same round and allocator takes a new one. */
  int round = want_round >= 0 ? (int)want_round : 0;
  while (round_taken(b, v, round))
    round++;
  run_t *run = &b->runs[b->nruns++];
  memset(run, 0, sizeof *run);
  run->variant = v;
  run->round = round;
  run->position = (int)num(r, "position", 0);
  const jv_t *ok = jv_get(r, "ok");
  run->ok = ok && ok->type == JV_BOOL && ok->boolean &&
            n == (size_t)(b->chunks * b->iterations * b->threads);
  const jv_t *wall = jv_get(r, "wall_ms");
  run->wall_ms = wall && wall->type == JV_NUMBER ? wall->number : NAN;
  run->setup_ns = (uint64_t)num(r, "setup_ns", 0);
  run->total_minflt = num(r, "total_minflt", 0);
  if (jv_get(r, "fl_stats")) run->fl_stats = jv_text(jv_get(r, "fl_stats"));
  run->n = n;
  run->thread = u32_array(cols[0], n);
  run->iteration = u32_array(cols[1], n);
  run->index = u32_array(cols[2], n);
  run->duration_ns = xmalloc((n + 1) * sizeof *run->duration_ns);
  for (size_t k = 0; k < n; k++)
    run->duration_ns[k] = (uint64_t)cols[3]->items[k]->number;
  run->minflt = u32_array(cols[4], n);
  run->minflt_proc = u32_array(cols[5], n);
  run->new_pages = u32_array(cols[6], n);
  if (round + 1 > b->repeat) b->repeat = round + 1;
  if (lambda_csv) {
    const jv_t *cold = jv_get(lambda, "cold_start");
    fprintf(lambda_csv, "%s,%s,%s,%d,%s,%ld,%s,%.3f\n", name,
            jv_str(jv_get(lambda, "request_id")) ? jv_str(jv_get(lambda, "request_id")) : "",
            b->variants[v].label, round,
            cold && cold->type == JV_BOOL ? (cold->boolean ? "1" : "0") : "",
            num(lambda, "invocation_in_sandbox", -1),
            jv_str(jv_get(lambda, "memory_size_mb")) ? jv_str(jv_get(lambda, "memory_size_mb"))
                                                     : "",
            num(lambda, "init_ms", -1) >= 0 ? jv_get(lambda, "init_ms")->number : NAN);
  }
}

/* Add one response's runs to b. Returns false (with a note) when it cannot. */
static bool add_response(bench_t *b, const char *name, const jv_t *d, bool first, FILE *lambda_csv,
                         size_t *run_cap) {
  strbuf_t msg = {0};
  if (jv_get(d, "errorType")) {
    sb_printf(&msg, "%s: the function failed: %s: %s", name, jv_str(jv_get(d, "errorType")),
              jv_str(jv_get(d, "errorMessage")) ? jv_str(jv_get(d, "errorMessage")) : "");
    return note(b, msg.data), false;
  }
  const jv_t *runs = jv_get(d, "runs"), *allocs = jv_get(d, "allocators");
  if (!jv_get(d, "options") || !runs || runs->type != JV_ARRAY || !allocs) {
    sb_printf(&msg, "%s: not a faultless bench result; skipped", name);
    return note(b, msg.data), false;
  }
  if (!take_options(b, name, d, first)) return false;
  add_variants(b, allocs);
  const jv_t *skipped = jv_get(d, "skipped");
  for (size_t i = 0; skipped && i < skipped->count; i++) {
    strbuf_t s = {0};
    sb_printf(&s, "%s: %s", name, jv_str(skipped->items[i]) ? jv_str(skipped->items[i]) : "?");
    note(b, s.data);
  }
  for (size_t i = 0; i < runs->count; i++)
    add_run(b, name, runs->items[i], i, jv_get(d, "lambda"), lambda_csv, run_cap);
  return true;
}

static int by_name(const struct dirent **a, const struct dirent **b) {
  return strcmp((*a)->d_name, (*b)->d_name);
}

static int select_json(const struct dirent *e) {
  size_t n = strlen(e->d_name);
  return n > 5 && !strcmp(e->d_name + n - 5, ".json") && !strstr(e->d_name, ".meta.json");
}

int lambda_collect(int argc, char **argv) {
  const char *dir = NULL, *out = NULL;
  for (int i = 1; i < argc; i++) {
    bool missing;
    const char *v;
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return lambda_usage(stdout), 0;
    if ((v = option_value(argc, argv, &i, "--out", &missing)) || missing) {
      if (missing) return lambda_bad_usage("option %s needs a value", "--out");
      out = v;
    } else if (argv[i][0] == '-' || dir) {
      return lambda_bad_usage("collect: unexpected argument '%s'", argv[i]);
    } else {
      dir = argv[i];
    }
  }
  if (!dir) return lambda_bad_usage("collect needs DIR (what faultless lambda invoke --out wrote)");
  if (!out) out = dir;

  /* Responses are in DIR/raw/ (invoke) or DIR itself (a folder of files). */
  strbuf_t raw = {0};
  sb_printf(&raw, "%s/raw", dir);
  struct stat st;
  const char *from = stat(raw.data, &st) == 0 && S_ISDIR(st.st_mode) ? raw.data : dir;
  struct dirent **names;
  int nnames = scandir(from, &names, select_json, by_name);
  if (nnames < 0) {
    fprintf(stderr, "faultless lambda: cannot read %s: %s\n", from, strerror(errno));
    return free(raw.data), 1;
  }

  static bench_t b;
  memset(&b, 0, sizeof b);
  b.argc = argc;
  b.argv = argv;
  b.command = command_text("faultless lambda", argc, argv);
  b.worker = "bench/seed in AWS Lambda (faultless lambda)";
  b.format = "table";

  if (mkdir(out, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "faultless lambda: cannot create %s: %s\n", out, strerror(errno));
    return 1;
  }
  strbuf_t csv_path = {0};
  sb_printf(&csv_path, "%s/lambda.csv", out);
  FILE *csv = fopen(csv_path.data, "w");
  if (csv)
    fprintf(csv, "file,request_id,allocator,round,cold_start,invocation_in_sandbox,memory_mb,"
                 "init_ms\n");
  size_t cap = 0;
  int used = 0, failed = 0;
  for (int i = 0; i < nnames; i++) {
    strbuf_t path = {0};
    sb_printf(&path, "%s/%s", from, names[i]->d_name);
    FILE *f = fopen(path.data, "r");
    strbuf_t text = {0};
    char buf[65536];
    size_t n;
    while (f && (n = fread(buf, 1, sizeof buf, f)) > 0)
      sb_append(&text, buf, n);
    if (f) fclose(f);
    char err[200];
    jv_t *d = text.data ? jv_parse(text.data, text.len, err, sizeof err) : NULL;
    if (!d) {
      strbuf_t m = {0};
      sb_printf(&m, "%s: not JSON (%s); skipped", names[i]->d_name, text.data ? err : "unreadable");
      note(&b, m.data);
      failed++;
    } else if (add_response(&b, names[i]->d_name, d, used == 0, csv, &cap)) {
      used++;
    } else {
      failed++;
    }
    jv_free(d);
    free(text.data);
    free(path.data);
    free(names[i]);
  }
  free(names);
  if (csv) fclose(csv);
  free(csv_path.data);
  free(raw.data);
  if (used == 0 || b.nruns == 0) {
    fprintf(stderr, "faultless lambda: no usable response in %s\n", from);
    return 1;
  }
  bench_analyze(&b);
  bench_print_table(&b, stdout);
  printf("\nfaultless lambda: %d response%s merged, %d skipped; wrote %s/results.json, "
         "results.csv, lambda.csv, charts\n",
         used, used == 1 ? "" : "s", failed, out);
  return bench_write_dir(&b, out);
}
