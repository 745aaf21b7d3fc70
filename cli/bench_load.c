// SPDX-License-Identifier: MIT
/* faultless bench --from FILE: a results.json (as --out or --format json
 * wrote it, or as `faultless lambda collect` merged Lambda's responses) read
 * back into a bench_t, to be analysed and written as if just measured.
 * Whatever the file holds, bench_stats.c may assume of the runs kept that
 * each is its variant's only run in its round, and that round lies in
 * [0, warmup + repeat): a run that breaks this is skipped with a note. */
#define _GNU_SOURCE
#include "bench.h"

#include "../tools/json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static long num(const jv_t *obj, const char *key, long fallback) {
  const jv_t *v = jv_get(obj, key);
  return v && v->type == JV_NUMBER ? (long)v->number : fallback;
}

static char *str(const jv_t *obj, const char *key) {
  const char *s = jv_str(jv_get(obj, key));
  return s ? xstrdup(s) : NULL;
}

/* A string's text, or any other value as JSON (a number, fl_stats' object);
 * NULL for null. */
static char *text_of(const jv_t *v) {
  if (!v || v->type == JV_NULL) return NULL;
  return v->type == JV_STRING ? xstrdup(v->string) : strndup(v->raw, v->raw_len);
}

static void note(bench_t *b, const char *fmt, const char *name, size_t i) {
  strbuf_t msg = {0};
  sb_printf(&msg, fmt, name, i);
  fprintf(stderr, "faultless bench: note: %s\n", msg.data);
  if (b->nskipped < (int)(sizeof b->skipped / sizeof b->skipped[0]))
    b->skipped[b->nskipped++] = msg.data;
  else
    free(msg.data);
}

/* The options, the command and the machine it ran on; false when the
 * document is no bench result. */
static bool read_header(bench_t *b, const jv_t *d, const char *path) {
  const jv_t *o = jv_get(d, "options"), *argv = jv_get(d, "argv"), *env = jv_get(d, "environment");
#define READ_OPTION(key, field) b->field = num(o, #key, 0);
  BENCH_OPTIONS(READ_OPTION)
#undef READ_OPTION
  if (b->chunks < 1 || b->iterations < 1 || b->threads < 1 || b->repeat < 1 || b->warmup < 0 ||
      b->warmup > 1000 || b->repeat > 100000 || !jv_get(d, "allocators") || !jv_get(d, "runs")) {
    fprintf(stderr, "faultless bench: %s: not a faultless bench result\n", path);
    return false;
  }
  if (jv_str(jv_get(d, "command"))) free(b->command), b->command = str(d, "command");
  b->worker = str(d, "worker");
  b->argc = argv ? (int)argv->count : 0;
  b->argv = xmalloc(((size_t)b->argc + 1) * sizeof *b->argv);
  for (int i = 0; i < b->argc; i++)
    b->argv[i] = xstrdup(jv_str(argv->items[i]) ? argv->items[i]->string : "");
  for (size_t i = 0; env && i < env->count && b->env.count < 64; i++) {
    env_item_t *e = &b->env.items[b->env.count++];
    e->key = xstrdup(env->keys[i]);
    e->number = env->items[i]->type == JV_NUMBER;
    e->value = text_of(env->items[i]);
  }
  /* Said when they were measured: kept, not said again. */
  const jv_t *skipped = jv_get(d, "skipped");
  for (size_t i = 0; skipped && i < skipped->count && b->nskipped < 32; i++)
    if (jv_str(skipped->items[i])) b->skipped[b->nskipped++] = xstrdup(skipped->items[i]->string);
  return true;
}

static void read_variants(bench_t *b, const jv_t *allocs) {
  for (size_t i = 0; i < allocs->count; i++) {
    const jv_t *a = allocs->items[i], *opts = jv_get(a, "options");
    const char *kind = jv_str(jv_get(a, "kind"));
    if (!jv_str(jv_get(a, "label")) || b->nvariants >= 32) continue;
    variant_t *v = &b->variants[b->nvariants++];
    *v = (variant_t){.label = str(a, "label"), .kind = KIND_PRELOAD};
    v->base = jv_str(jv_get(a, "allocator")) ? str(a, "allocator") : v->label;
    for (int k = 0; kind && k < NKINDS; k++)
      if (!strcmp(kind, bench_kind_names[k])) v->kind = (kind_t)k;
    v->library = str(a, "library");
    v->library_real = str(a, "library_realpath");
    v->package_version = str(a, "package");
    v->setup_ms = num(a, "setup_ms", 0);
    v->prefault = (size_t)num(a, "prefault", 0);
    for (size_t k = 0; opts && k < opts->count && v->nenv < 8; k++)
      if (jv_str(opts->items[k])) v->env[v->nenv++] = xstrdup(opts->items[k]->string);
  }
}

static int find_label(const bench_t *b, const char *label) {
  for (int v = 0; label && v < b->nvariants; v++)
    if (!strcmp(b->variants[v].label, label)) return v;
  return -1;
}

/* The seven sample columns of a run, all numbers of one length; false when
 * they are not. */
static bool sample_columns(const jv_t *r, const jv_t *cols[7], size_t *n) {
#define COLUMN_NAME(key, field, type) #key,
  static const char *const names[7] = {BENCH_COLUMNS(COLUMN_NAME)};
#undef COLUMN_NAME
  const jv_t *s = jv_get(r, "samples");
  for (int c = 0; c < 7; c++) {
    cols[c] = jv_get(s, names[c]);
    if (!cols[c] || cols[c]->type != JV_ARRAY || cols[c]->count != cols[0]->count) return false;
    for (size_t k = 0; k < cols[c]->count; k++)
      if (cols[c]->items[k]->type != JV_NUMBER) return false;
  }
  *n = cols[0]->count;
  return true;
}

static void read_run(bench_t *b, const jv_t *r, size_t i) {
  int v = find_label(b, jv_str(jv_get(r, "allocator")));
  long round = num(r, "round", -1);
  const jv_t *cols[7], *ok = jv_get(r, "ok"), *wall = jv_get(r, "wall_ms");
  size_t n;
  if (v < 0 || !sample_columns(r, cols, &n)) {
    note(b, "%s: run %zu has no usable samples; skipped", "--from", i);
    return;
  }
  if (round < 0 || round >= b->warmup + b->repeat || bench_find_run(b, v, (int)round, false)) {
    note(b, "%s: run %zu is in no round of its own; skipped", "--from", i);
    return;
  }
  run_t *run = &b->runs[b->nruns++];
  *run = (run_t){.variant = v, .round = (int)round, .n = n, .warmup = round < b->warmup};
  run->position = (int)num(r, "position", 0);
  run->ok = ok && ok->type == JV_BOOL && ok->boolean &&
            n == (size_t)(b->chunks * b->iterations * b->threads);
  run->wall_ms = wall && wall->type == JV_NUMBER ? wall->number : NAN;
  run->setup_ns = (uint64_t)num(r, "setup_ns", 0);
  run->total_minflt = num(r, "total_minflt", 0);
  run->fl_stats = text_of(jv_get(r, "fl_stats"));
  const jv_t **col = cols;
  /* Each column in its field's own type. */
#define READ_COLUMN(key, field, type)                                                              \
  run->field = xmalloc((n + 1) * sizeof *run->field);                                              \
  for (size_t k = 0; k < n; k++)                                                                   \
    run->field[k] = (__typeof__(*run->field))(*col)->items[k]->number;                             \
  col++;
  BENCH_COLUMNS(READ_COLUMN)
#undef READ_COLUMN
}

int bench_load(bench_t *b, const char *path) {
  FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
  strbuf_t text = {0};
  char buf[65536], err[200];
  size_t got;
  while (f && (got = fread(buf, 1, sizeof buf, f)) > 0)
    sb_append(&text, buf, got);
  if (!f || ferror(f)) {
    fprintf(stderr, "faultless bench: cannot read %s: %s\n", path, strerror(errno));
    return 1;
  }
  if (f != stdin) fclose(f);
  jv_t *d = jv_parse(text.data ? text.data : "", text.len, err, sizeof err);
  if (!d) fprintf(stderr, "faultless bench: %s: not JSON (%s)\n", path, err);
  bool ok = d && read_header(b, d, path);
  if (ok) {
    const jv_t *runs = jv_get(d, "runs");
    read_variants(b, jv_get(d, "allocators"));
    b->runs = xmalloc((runs->count + 1) * sizeof *b->runs);
    for (size_t i = 0; i < runs->count; i++)
      read_run(b, runs->items[i], i);
  }
  jv_free(d);
  free(text.data);
  return ok ? 0 : 1;
}
