// SPDX-License-Identifier: MIT
/* faultless bench: options, finding the allocators and running the rounds;
 * the statistics live in bench_stats.c, the output formats in bench_out.c. */
#define _GNU_SOURCE
#include "bench.h"

#include "../tools/peers.h"
#include "../tools/progress.h"
#include "parse.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* glibc-tuned: the largest mmap threshold glibc accepts (32 MiB on 64-bit) and a
 * trim threshold high enough that freed memory stays mapped. */
#define GLIBC_TUNED_TUNABLES                                                                       \
  "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296"

static void usage(FILE *out) {
  fprintf(out, "usage: faultless bench [options]\n"
               "The seed's experiment: allocate --chunks buffers of --size bytes, paint each\n"
               "with memset, free them all, repeat --iterations times; every measurement in\n"
               "a fresh process, allocators interleaved and their order rotated per round.\n"
               "\n"
               "  --allocators LIST  comma-separated (default: every one found of glibc,\n"
               "                     glibc-tuned, jemalloc, mimalloc, tcmalloc, faultless).\n"
               "                     Each goes through malloc: faultless by LD_PRELOAD of\n"
               "                     libfaultless.so, as the peers; also faultless-api (the\n"
               "                     worker calls fl_* linked in), jemalloc+faultless and\n"
               "                     mimalloc+faultless (their adapters). An entry may override\n"
               "                     options: NAME:setup-ms=MS:prefault=BYTES, give faultless\n"
               "                     options (faultless:warmers=2 sets FAULTLESS_WARMERS=2),\n"
               "                     or preload any library: LABEL:lib=/path/libx.so\n"
               "  --chunks N         buffers per iteration (100)\n"
               "  --size BYTES       bytes per buffer, K/M/G suffix (1M)\n"
               "  --iterations N     allocate/paint/free rounds per process (2)\n"
               "  --align A          use aligned_alloc with alignment A (0: malloc)\n"
               "  --threads N        threads each running the experiment (1)\n"
               "  --setup-ms MS      simulated start-up work before the first allocation (0)\n"
               "  --setup-busy PCT   share of the start-up spent on the CPU, not waiting (10)\n"
               "  --prefault BYTES   faultless: warm this much at start (fl_prefault) (0)\n"
               "  --repeat N         measured rounds, fresh processes each (5)\n"
               "  --warmup N         extra first rounds reported apart, not in the table (1)\n"
               "  --gap-ms MS        pause before each process, so that a guest with free page\n"
               "                     reporting gives freed memory back to its host (0)\n"
               "  --format F         table (default), seed (the seed's log), csv, json\n"
               "  --out DIR          write results.json, results.csv and charts to DIR\n"
               "  --worker PATH      the seed worker (default: found next to this program)\n"
               "  --timeout S        per-process limit in seconds (120)\n"
               "  --from FILE        measure nothing: analyse and write the runs of a\n"
               "                     results.json again (- reads stdin); --format and --out apply\n"
               "FAULTLESS_* variables of the caller do not reach the measured processes (as in\n"
               "`faultless suite`): options go in the entry, faultless:KEY=VALUE.\n"
               "FAULTLESS_BENCH_LIB_DIR names a directory searched first for the peers.\n"
               "When stderr is a terminal, one line shows the progress.\n");
}

#define bad_usage(...) usage_error("faultless bench", usage, __VA_ARGS__)

/* --- Finding the allocators --- */

typedef struct {
  const char *name;
  kind_t kind;
  const char *peer; /* KIND_PRELOAD: its allocator in tools/peers.c */
} known_t;

static const known_t known[] = {
    {"glibc", KIND_GLIBC, NULL},
    {"glibc-tuned", KIND_GLIBC_TUNED, NULL},
    {"jemalloc", KIND_PRELOAD, "jemalloc"},
    {"mimalloc", KIND_PRELOAD, "mimalloc"},
    {"tcmalloc", KIND_PRELOAD, "tcmalloc"},
    {"faultless", KIND_FAULTLESS_PRELOAD, NULL},
    {"faultless-api", KIND_FAULTLESS, NULL},
    /* the same as `faultless`: its name from when `faultless` meant faultless-api */
    {"faultless-preload", KIND_FAULTLESS_PRELOAD, NULL},
    /* jemalloc/mimalloc kept, faultless as their page source (src/adapters/) */
    {"jemalloc+faultless", KIND_PRELOAD, "jemalloc"},
    {"mimalloc+faultless", KIND_PRELOAD, "mimalloc"},
};
#define NKNOWN (int)(sizeof known / sizeof known[0])

/* Whether the variant's processes load faultless by LD_PRELOAD (and so take
 * prefault as FAULTLESS_PREFAULT). */
static bool preloads_faultless(const variant_t *v) {
  return v->kind == KIND_FAULTLESS_PRELOAD || strstr(v->base, "+faultless") != NULL;
}

static char *package_of(const char *path) {
  if (access("/usr/bin/dpkg-query", X_OK) != 0) return NULL;
  strbuf_t cmd = {0};
  sb_printf(&cmd, "p=$(dpkg-query -S ");
  sb_shell_quote(&cmd, path);
  sb_printf(&cmd, " 2>/dev/null | head -n1 | cut -d: -f1) && [ -n \"$p\" ] && "
                  "echo \"$p $(dpkg-query -W -f '${Version}' \"$p\" 2>/dev/null)\"");
  char *result = command_line_output(cmd.data);
  free(cmd.data);
  return result;
}

static const char *const option_names[] = {
#define FL_OPTION_NAME(name, kind, def) #name,
    FL_OPTIONS(FL_OPTION_NAME)
#undef FL_OPTION_NAME
};

char *faultless_env(const char *key, const char *value) {
  for (int o = 0; o < FL_OPT_COUNT; o++) {
    const char *n = option_names[o];
    size_t i = 0;
    while (key[i] && n[i] && (key[i] == '-' ? '_' : toupper((unsigned char)key[i])) == n[i])
      i++;
    long long parsed;
    if (key[i] || n[i]) continue;
    if (!_fl_option_parse(o, value, &parsed)) return NULL;
    strbuf_t sb = {0};
    sb_printf(&sb, "FAULTLESS_%s=%s", n, value);
    return sb.data;
  }
  return NULL;
}

/* NAME+faultless: the adapter, found as libfaultless.so is, joins the allocator in
 * LD_PRELOAD; a note when it is missing. */
static void add_adapter(const peer_t *p, variant_t *v, strbuf_t *note) {
  char *ad = find_own_library(p->adapter);
  if (!ad) {
    sb_printf(note,
              "%s+faultless: %s.so not found where libfaultless.so is looked for (make "
              "adapters); skipped",
              p->name, p->adapter);
  } else {
    char *both = peer_with_adapter(p, v->library, ad);
    free(v->library);
    v->library = both;
  }
  free(ad);
}

/* Whether the entry's allocator is faultless, or one with faultless as its
 * page source: then it takes faultless's options. */
static bool takes_faultless_options(const known_t *k) {
  return k && (k->kind == KIND_FAULTLESS || k->kind == KIND_FAULTLESS_PRELOAD ||
               strstr(k->name, "+faultless"));
}

/* One KEY=VALUE of an --allocators entry into v (k: its known allocator, or
 * NULL); 0 or EXIT_USAGE (said). */
static int entry_option(variant_t *v, const known_t *k, char *kv, const char *spec) {
  char *eq = strchr(kv, '=');
  if (!eq) return bad_usage("allocator option needs KEY=VALUE: '%s'", spec);
  *eq = 0;
  const char *value = eq + 1;
  if (!strcmp(kv, "setup-ms"))
    return parse_long(value, 0, 3600000, &v->setup_ms) ? 0
                                                       : bad_usage("bad setup-ms in '%s'", spec);
  if (!strcmp(kv, "prefault"))
    return parse_bytes(value, &v->prefault) ? 0 : bad_usage("bad prefault in '%s'", spec);
  if (!strcmp(kv, "lib")) {
    free(v->library);
    v->library = xstrdup(value);
    return 0;
  }
  /* Any other option of faultless's, as its environment variable. */
  char *env = takes_faultless_options(k) && v->nenv < 8 ? faultless_env(kv, value) : NULL;
  if (!env)
    return bad_usage("unknown allocator option or bad value in '%s' (setup-ms, prefault, lib; "
                     "faultless: KEY=VALUE of its options)",
                     spec);
  v->env[v->nenv++] = env;
  return 0;
}

/* The library v preloads, as found; a note in `note` when it is missing (the
 * variant is then skipped). */
static void find_library(const bench_t *b, const known_t *k, variant_t *v, const char *spec,
                         const char *name, strbuf_t *note) {
  if (v->library) {
    if (access(v->library, R_OK) != 0)
      sb_printf(note, "%s: %s not found; skipped", spec, v->library);
  } else if (v->kind == KIND_PRELOAD) {
    const peer_t *p = peer_named(k->peer);
    v->library = peer_find(p);
    if (!v->library)
      sb_printf(note, "%s: not found (Debian package %s); skipped", name, p->package);
    else if (strstr(k->name, "+faultless"))
      add_adapter(p, v, note);
  } else if (v->kind == KIND_FAULTLESS_PRELOAD) {
    if (b->library_so)
      v->library = xstrdup(b->library_so);
    else
      sb_printf(note, "%s: libfaultless.so not found next to this program (make lib); skipped",
                name);
  }
}

/* Parse one --allocators entry; 0, EXIT_USAGE (message printed), or -1 when the
 * allocator is known but not installed (note added to b->skipped). */
static int add_variant(bench_t *b, const char *spec) {
  char *copy = xstrdup(spec);
  const char *name = strtok(copy, ":");
  variant_t v = {.label = xstrdup(spec), .setup_ms = b->setup_ms, .prefault = b->prefault};
  const known_t *k = NULL;
  int bad = name ? 0 : bad_usage("empty allocator name in '%s'", spec);
  for (int i = 0; !bad && i < NKNOWN; i++)
    if (!strcmp(known[i].name, name)) k = &known[i];
  for (char *kv = bad ? NULL : strtok(NULL, ":"); kv && !bad; kv = strtok(NULL, ":"))
    bad = entry_option(&v, k, kv, spec);
  if (!bad && !k && !v.library)
    bad = bad_usage("unknown allocator '%s' (glibc, glibc-tuned, jemalloc, mimalloc, "
                    "tcmalloc, faultless, faultless-api, jemalloc+faultless, "
                    "mimalloc+faultless, or NAME:lib=PATH)",
                    name);
  if (bad) {
    free(copy);
    free(v.label);
    free(v.library);
    for (int i = 0; i < v.nenv; i++)
      free(v.env[i]);
    return bad;
  }
  v.base = k ? k->name : "custom";
  v.kind = k ? k->kind : KIND_PRELOAD;
  v.package = !k                                                   ? NULL
              : k->peer                                            ? peer_named(k->peer)->package
              : v.kind == KIND_GLIBC || v.kind == KIND_GLIBC_TUNED ? "libc6"
                                                                   : NULL;
  strbuf_t note = {0};
  find_library(b, k, &v, spec, name, &note);
  if (v.prefault && v.kind != KIND_FAULTLESS && !preloads_faultless(&v) && v.library &&
      strcmp(spec, name) != 0)
    fprintf(stderr, "faultless bench: note: prefault applies to faultless only (%s)\n", spec);
  free(copy);
  if (note.data) {
    b->skipped[b->nskipped++] = note.data;
    return -1;
  }
  if (v.library) {
    char real[4096];
    v.library_real = xstrdup(realpath(v.library, real) ? real : v.library);
  }
  if (b->nvariants >= (int)(sizeof b->variants / sizeof b->variants[0]))
    return bad_usage("too many allocators");
  b->variants[b->nvariants++] = v;
  return 0;
}

/* --- Options --- */

/* The seed worker: `given` (--worker), else the one beside this program (the
 * build tree) or in ../libexec/faultless (installed); NULL (said) if none. */
static char *find_worker(const char *given) {
  static const char *const rel[] = {"bench/seed", "../libexec/faultless/seed", NULL};
  char *dir = self_dir(), *worker = given ? xstrdup(given) : find_relative(dir, rel, true);
  free(dir);
  if (worker && access(worker, X_OK) == 0) return worker;
  fprintf(stderr, "faultless bench: the seed worker was not found (looked for bench/seed and "
                  "../libexec/faultless/seed next to this program; build it with `make tools`)\n");
  free(worker);
  return NULL;
}

static int parse_options(bench_t *b, int argc, char **argv) {
  /* The default: the first six known allocators. */
  const char *allocators = "glibc,glibc-tuned,jemalloc,mimalloc,tcmalloc,faultless", *worker = NULL;
  *b = (bench_t){.chunks = 100,
                 .iterations = 2,
                 .threads = 1,
                 .setup_busy = 10,
                 .repeat = 5,
                 .warmup = 1,
                 .timeout_s = 120,
                 .size = 1 << 20,
                 .format = "table"};
  b->argc = argc;
  b->argv = argv;
  const opt_t opts[] = {
      {"--allocators", OPT_STRING, &allocators, 0, 0, NULL},
      {"--chunks", OPT_LONG, &b->chunks, 1, 1L << 24, " (1 or more)"},
      {"--size", OPT_BYTES, &b->size, 1, 0, " (bytes > 0, K/M/G suffix)"},
      {"--iterations", OPT_LONG, &b->iterations, 1, 1000, " (1..1000)"},
      {"--align", OPT_BYTES, &b->align, 0, 0, " (0 or a power of two)"},
      {"--threads", OPT_LONG, &b->threads, 1, 1024, " (1..1024)"},
      {"--setup-ms", OPT_LONG, &b->setup_ms, 0, 3600000, NULL},
      {"--setup-busy", OPT_LONG, &b->setup_busy, 0, 100, " (0..100)"},
      {"--prefault", OPT_BYTES, &b->prefault, 0, 0, " (bytes, K/M/G suffix)"},
      {"--repeat", OPT_LONG, &b->repeat, 1, 10000, " (1 or more)"},
      {"--warmup", OPT_LONG, &b->warmup, 0, 100, " (0..100)"},
      {"--gap-ms", OPT_LONG, &b->gap_ms, 0, 600000, NULL},
      {"--timeout", OPT_LONG, &b->timeout_s, 1, 86400, NULL},
      {"--format", OPT_STRING, &b->format, 0, 0, NULL},
      {"--out", OPT_STRING, &b->out_dir, 0, 0, NULL},
      {"--worker", OPT_STRING, &worker, 0, 0, NULL},
      {"--from", OPT_STRING, &b->from, 0, 0, NULL},
  };
  int rc = parse_args(argc, argv, opts, sizeof opts / sizeof opts[0], "faultless bench", usage);
  if (rc < 0) exit(0);
  if (rc) return rc;
  if (b->align & (b->align - 1))
    return bad_usage("bad --align '%zu' (0 or a power of two)", b->align);
  static const struct {
    const char *name;
    void (*write)(const bench_t *, FILE *);
  } formats[] = {{"table", bench_print_table},
                 {"seed", bench_print_seed},
                 {"csv", bench_write_csv},
                 {"json", bench_write_json}};
  for (int i = 0; i < 4; i++)
    if (!strcmp(b->format, formats[i].name)) b->write = formats[i].write;
  if (!b->write) return bad_usage("bad --format '%s' (table, seed, csv, json)", b->format);
  b->command = command_text("faultless", argc, argv);
  if (b->from) return 0;
  if (!(b->worker = find_worker(worker))) return 1;
  b->library_so = find_own_library("libfaultless");
  char *list = xstrdup(allocators);
  for (char *save, *item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save))
    if (add_variant(b, item) > 0) return EXIT_USAGE;
  free(list);
  for (int i = 0; i < b->nskipped; i++)
    fprintf(stderr, "faultless bench: note: %s\n", b->skipped[i]);
  if (b->nvariants == 0) {
    fprintf(stderr, "faultless bench: no allocator left to measure\n");
    return 1;
  }
  return 0;
}

/* --- Running one measurement --- */

void allocator_env(childenv_t *e, const char *library, char *const env[], int nenv, bool tunables) {
  static const char *const drop[] = {"LD_PRELOAD=", "FAULTLESS_", "GLIBC_TUNABLES=", NULL};
  childenv_init(e, tunables ? drop : (const char *const[]){drop[0], drop[1], NULL});
  if (library) childenv_add(e, "LD_PRELOAD=%s", library);
  for (int i = 0; i < nenv; i++)
    childenv_add(e, "%s", env[i]);
}

/* The worker's environment: glibc-tuned's GLIBC_TUNABLES added to ours, and
 * prefault as FAULTLESS_PREFAULT where faultless is preloaded. */
static void worker_env(const variant_t *v, childenv_t *e) {
  bool tuned = v->kind == KIND_GLIBC_TUNED;
  const char *tunables = getenv("GLIBC_TUNABLES");
  allocator_env(e, tuned ? NULL : v->library, v->env, v->nenv, tuned);
  if (tuned)
    childenv_add(e, "GLIBC_TUNABLES=%s%s%s", tunables ? tunables : "", tunables ? ":" : "",
                 GLIBC_TUNED_TUNABLES);
  if (preloads_faultless(v) && v->prefault) childenv_add(e, "FAULTLESS_PREFAULT=%zu", v->prefault);
}

static bool parse_worker_output(run_t *r, char *text, size_t expected) {
  r->n = 0;
#define ALLOC_COLUMN(key, field, type) r->field = xmalloc(expected * sizeof *r->field);
  BENCH_COLUMNS(ALLOC_COLUMN)
#undef ALLOC_COLUMN
  for (char *save, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    unsigned long long setup_ns, v[7], *x = v;
    long total;
    if (sscanf(line, "# setup_ns=%llu total_minflt=%ld", &setup_ns, &total) == 2) {
      r->setup_ns = setup_ns;
      r->total_minflt = total;
    } else if (!strncmp(line, "# fl_stats ", 11)) {
      r->fl_stats = xstrdup(line + 11);
    } else if (line[0] != '#' && sscanf(line, "%llu,%llu,%llu,%llu,%llu,%llu,%llu", &v[0], &v[1],
                                        &v[2], &v[3], &v[4], &v[5], &v[6]) == 7) {
      if (r->n >= expected) return false;
        /* The worker prints the columns in BENCH_COLUMNS's order. */
#define STORE_COLUMN(key, field, type) r->field[r->n] = (__typeof__(*r->field))*x++;
      BENCH_COLUMNS(STORE_COLUMN)
#undef STORE_COLUMN
      r->n++;
    }
  }
  return r->n == expected;
}

/* The worker's command line for v (num holds the numbers it names). */
static void worker_argv(const bench_t *b, const variant_t *v, char *argv[24], char num[8][24]) {
  const struct {
    const char *flag;
    unsigned long long value;
  } args[8] = {{"--chunks", b->chunks},         {"--size", b->size},
               {"--iterations", b->iterations}, {"--align", b->align},
               {"--threads", b->threads},       {"--setup-ms", v->setup_ms},
               {"--setup-busy", b->setup_busy}, {"--prefault", v->prefault}};
  int a = 0;
  argv[a++] = b->worker;
  argv[a++] = "--api";
  argv[a++] = v->kind == KIND_FAULTLESS ? "fl" : "malloc";
  argv[a++] = "--name";
  argv[a++] = v->label;
  /* --prefault is the worker's fl_prefault call, so --api fl's alone; a
   * preloaded faultless takes FAULTLESS_PREFAULT (worker_env). */
  for (int i = 0; i < (v->kind == KIND_FAULTLESS && v->prefault ? 8 : 7); i++) {
    snprintf(num[i], 24, "%llu", args[i].value);
    argv[a++] = (char *)args[i].flag;
    argv[a++] = num[i];
  }
  argv[a] = NULL;
}

static void measure(bench_t *b, run_t *r) {
  const variant_t *v = &b->variants[r->variant];
  char num[8][24], *argv[24];
  worker_argv(b, v, argv, num);
  childenv_t env;
  worker_env(v, &env);
  child_t child;
  uint64_t t0 = now_ns();
  long timeout_ms = b->timeout_s * 1000 + v->setup_ms;
  run_child(argv, env.vars, NULL, CHILD_STDOUT, timeout_ms, &child);
  r->wall_ms = (double)(now_ns() - t0) / 1e6;
  r->status = child.status;
  size_t expected = (size_t)b->threads * b->iterations * b->chunks;
  bool exited = child.status >= 0 && WIFEXITED(child.status) && WEXITSTATUS(child.status) == 0;
  r->ok = exited && child.output.data && parse_worker_output(r, child.output.data, expected);
  if (!r->ok) {
    progress_clear();
    if (child.timed_out)
      fprintf(stderr, "faultless bench: %s timed out after %ld s\n", v->label, timeout_ms / 1000);
    else if (child.status >= 0 && WIFSIGNALED(child.status))
      fprintf(stderr, "faultless bench: %s died of signal %d\n", v->label, WTERMSIG(child.status));
    else
      fprintf(stderr, "faultless bench: %s failed (exit %d, %zu of %zu samples)\n", v->label,
              child.status >= 0 && WIFEXITED(child.status) ? WEXITSTATUS(child.status) : -1, r->n,
              expected);
  }
  free(child.output.data);
  childenv_free(&env);
}

/* --- The rounds --- */

/* Every round measures every variant, in an order rotated each round. */
static void measure_rounds(bench_t *b) {
  if (getenv("LD_PRELOAD"))
    fprintf(stderr, "faultless bench: note: LD_PRELOAD is not passed to the measurements\n");
  env_collect(&b->env);
  if (b->out_dir || !strcmp(b->format, "json"))
    for (int v = 0; v < b->nvariants; v++)
      if (b->variants[v].library)
        b->variants[v].package_version = package_of(b->variants[v].library);
  int rounds = (int)(b->warmup + b->repeat);
  b->runs = xmalloc((size_t)rounds * b->nvariants * sizeof *b->runs);
  uint64_t start = now_ns();
  progress_start("bench", rounds * b->nvariants);
  for (int round = 0; round < rounds; round++)
    for (int p = 0; p < b->nvariants; p++) {
      run_t *r = &b->runs[b->nruns];
      *r = (run_t){.variant = (p + round) % b->nvariants,
                   .round = round,
                   .warmup = round < b->warmup,
                   .position = p};
      progress_update(b->nruns, "round %d/%d%s %s", round + 1, rounds,
                      r->warmup ? " (warm-up)" : "", b->variants[r->variant].label);
      if (b->gap_ms > 0) {
        struct timespec gap = {b->gap_ms / 1000, (b->gap_ms % 1000) * 1000000L};
        nanosleep(&gap, NULL);
      }
      measure(b, r);
      b->nruns++;
    }
  progress_end();
  b->elapsed_s = (double)(now_ns() - start) / 1e9;
}

int cmd_bench(int argc, char **argv) {
  static bench_t b;
  int rc = parse_options(&b, argc, argv);
  if (rc) return rc;
  /* Before the measurements, so that a bad --out costs no time. */
  if (b.out_dir && mkdir_p(b.out_dir) != 0) {
    fprintf(stderr, "faultless bench: cannot create %s: %s\n", b.out_dir, strerror(errno));
    return 1;
  }
  if (b.from && bench_load(&b, b.from)) return 1;
  if (!b.from) measure_rounds(&b);
  bench_analyze(&b);
  b.write(&b, stdout);
  rc = b.out_dir ? bench_write_dir(&b, b.out_dir) : 0;
  /* A failed measurement fails the command once, when it ran, not when
   * its results are read again. */
  for (int i = 0; !b.from && i < b.nruns; i++)
    if (!b.runs[i].ok) rc = 1;
  return rc;
}
