// SPDX-License-Identifier: MIT
/* faultless suite: the general-purpose allocator suite (bench/suite/), each
 * workload a fresh process under each allocator by LD_PRELOAD. Allocators are
 * interleaved (A B A B) with their order rotated every round and case; the
 * table shows medians, spread, ratios to each peer, the geometric mean over
 * the suite, peak RSS (wait4's ru_maxrss) and the scaling of the thread
 * workloads. --warming also checks the warmers' throughput against what
 * `faultless probe` measures here. */
#define _GNU_SOURCE
#include "suite.h"

#include "../tools/peers.h"
#include "../tools/progress.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

const workload_t workloads[NWORKLOADS] = {
    {"small", false, "tight malloc/free loop, 8..512 B"},
    {"churn", false, "random churn, 8 B..64 KiB, random lifetimes"},
    {"larson", true, "server simulation, tables handed between threads"},
    {"prodcons", true, "producer/consumer pairs, cross-thread frees"},
    {"falseshare", true, "passive false sharing (cache-scratch)"},
    {"realloc", false, "4 buffers grown by realloc x2 to 64 MiB"},
    {"columnar", false, "batches of 16 aligned buffers of 1..16 MiB"},
    {"threadchurn", true, "short-lived threads that allocate and exit"},
    {"randlife", true, "random sizes 8 B..16 KiB and lifetimes, handed across threads"},
    {"nbody", false, "Barnes-Hut n-body: an octree of small nodes per step"},
    {"bigsparse", false, "one 512 MiB block of which 57 MiB is used"},
    {"randfree", true, "random allocate/free, 16 B..4 KiB, per thread"},
    {"glibcthread", true, "glibc-style thread test: per-thread churn, small sizes"},
    {"objloop", true, "allocate, write and free a few small objects"},
};

static const char *const default_allocators =
    "glibc,jemalloc,mimalloc,tcmalloc,faultless,faultless-warm";

static void usage(FILE *out) {
  fprintf(out,
          "usage: faultless suite [--repeat N] [--warmup N] [--scale X] [--allocators LIST]\n"
          "                       [--workloads LIST] [--threads LIST] [--out DIR] [--json]\n"
          "                       [--warming] [--bin DIR] [--lib PATH] [--timeout-s S]\n"
          "Runs the allocator suite (bench/suite/): each workload in fresh processes under\n"
          "each allocator by LD_PRELOAD, interleaved and rotated; prints medians, spread,\n"
          "ratios, the geometric mean, peak RSS and the scaling of the thread workloads.\n"
          "  --repeat N        measured rounds (5)\n"
          "  --warmup N        warm-up rounds, not counted (1)\n"
          "  --scale X         work multiplier for every workload (1; 0.01 is a smoke test)\n"
          "  --allocators L    from glibc, jemalloc, mimalloc, tcmalloc, faultless (warming\n"
          "                    off), faultless-warm (defaults), NAME:lib=PATH; faultless\n"
          "                    entries take :OPTION=VALUE for FAULTLESS_OPTION\n"
          "                    (default %s)\n"
          "  --workloads L     from small, churn, larson, prodcons, falseshare, realloc,\n"
          "                    columnar, threadchurn, randlife, nbody, bigsparse,\n"
          "                    randfree, glibcthread, objloop (all)\n"
          "  --threads L       thread counts for thread workloads, 'all' = every CPU (1,2,all)\n"
          "  --out DIR         write results.json, results.csv and charts there\n"
          "  --json            print results.json on stdout instead of the table\n"
          "  --warming         also measure the warmers against `faultless probe`\n"
          "  --bin DIR         the workload programs (next to this program: bench/suite)\n"
          "  --lib PATH        libfaultless.so (next to this program)\n"
          "  --timeout-s S     per process (120)\n",
          default_allocators);
}

#define bad_usage(...) usage_error("faultless suite", usage, __VA_ARGS__)

/* --- Allocators --- */

/* One --allocators entry; 0, EXIT_USAGE, or -1 when not installed (noted). */
static int add_allocator(suite_t *s, const char *spec) {
  if (s->nalloc >= (int)(sizeof s->alloc / sizeof s->alloc[0]))
    return bad_usage("too many allocators");
  char *copy = xstrdup(spec);
  char *save = NULL;
  char *name = strtok_r(copy, ":", &save);
  allocator_t a = {.label = xstrdup(spec)};
  if (!name) return free(copy), bad_usage("empty allocator name: %s", spec);
  const peer_t *peer = peer_named(name);
  if (!strcmp(name, "glibc") || peer)
    a.base = peer ? peer->name : "glibc";
  else if (!strcmp(name, "faultless") || !strcmp(name, "faultless-warm"))
    a.base = "faultless", a.faultless = true, a.warming = name[9] != 0;
  else
    a.base = "custom";
  for (char *kv = strtok_r(NULL, ":", &save); kv; kv = strtok_r(NULL, ":", &save)) {
    char *eq = strchr(kv, '=');
    if (!eq) return free(copy), bad_usage("allocator option needs KEY=VALUE: %s", spec);
    *eq = 0;
    char *env = NULL;
    if (!strcmp(kv, "lib")) {
      a.library = xstrdup(eq + 1);
    } else if (a.faultless && a.nenv < 8 && (env = faultless_env(kv, eq + 1))) {
      a.env[a.nenv++] = env;
      if (!strcasecmp(kv, "prefault") || !strcasecmp(kv, "ahead"))
        a.warming = strcmp(eq + 1, "0") != 0;
    } else {
      return free(copy), bad_usage("unknown allocator option or bad value (lib=PATH; faultless: "
                                   "OPTION=VALUE): %s",
                                   spec);
    }
  }
  /* faultless warms nothing unless its entry says so: the entry's options
   * come first, where the library reads the first of a name. */
  if (a.faultless && !name[9]) {
    a.env[a.nenv++] = xstrdup("FAULTLESS_PREFAULT=0");
    a.env[a.nenv++] = xstrdup("FAULTLESS_AHEAD=0");
  }
  if (!strcmp(a.base, "custom") && !a.library)
    return free(copy), bad_usage("unknown allocator '%s' (glibc, jemalloc, mimalloc, "
                                 "tcmalloc, faultless, faultless-warm, NAME:lib=PATH)",
                                 name);
  if (!a.library && peer) a.library = peer_find(peer);
  if (!a.library && a.faultless) a.library = s->library_so ? xstrdup(s->library_so) : NULL;
  strbuf_t note = {0};
  if (!a.library && strcmp(a.base, "glibc") != 0)
    sb_printf(&note, "%s: library not found; skipped", spec);
  else if (a.library && access(a.library, R_OK) != 0)
    sb_printf(&note, "%s: %s not readable; skipped", spec, a.library);
  free(copy);
  if (note.data) {
    s->skipped[s->nskipped++] = note.data;
    return -1;
  }
  s->alloc[s->nalloc++] = a;
  return 0;
}

/* --- Options --- */

/* Each item of a comma-separated list: 0, or the first usage error; an
 * item that is skipped (-1, noted) is no error. */
static int parse_list(const char *text, int (*item)(suite_t *, const char *), suite_t *s) {
  char *copy = xstrdup(text), *save = NULL;
  int rc = 0;
  for (char *t = strtok_r(copy, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save))
    rc = item(s, t) > 0 ? EXIT_USAGE : 0;
  free(copy);
  return rc;
}

static int add_workload(suite_t *s, const char *name) {
  for (int w = 0; w < NWORKLOADS; w++)
    if (!strcmp(workloads[w].name, name)) return s->use_workload[w] = true, 0;
  return bad_usage("unknown workload: %s", name);
}

static int add_threads(suite_t *s, const char *text) {
  long n;
  if (!strcmp(text, "all"))
    n = s->env.cpus > 0 ? s->env.cpus : 1;
  else if (!parse_long(text, 1, 1024, &n))
    return bad_usage("bad thread count: %s", text);
  for (int i = 0; i < s->nthreads; i++)
    if (s->thread_counts[i] == n) return 0;
  if (s->nthreads >= 8) return bad_usage("at most 8 thread counts");
  int i = s->nthreads++;
  while (i > 0 && s->thread_counts[i - 1] > n) {
    s->thread_counts[i] = s->thread_counts[i - 1];
    i--;
  }
  s->thread_counts[i] = (int)n;
  return 0;
}

static int parse_options(suite_t *s, int argc, char **argv) {
  const char *allocators = default_allocators, *wl = NULL, *threads = "1,2,all";
  s->repeat = 5;
  s->warmup = 1;
  s->timeout_s = 120;
  s->scale = 1;
  s->self = self_dir();
  const char *bin = NULL, *lib = NULL, *scale = NULL;
  const opt_t opts[] = {
      {"--repeat", OPT_LONG, &s->repeat, 1, 1000, NULL},
      {"--warmup", OPT_LONG, &s->warmup, 0, 100, NULL},
      {"--timeout-s", OPT_LONG, &s->timeout_s, 1, 86400, NULL},
      {"--scale", OPT_STRING, &scale, 0, 0, NULL},
      {"--allocators", OPT_STRING, &allocators, 0, 0, NULL},
      {"--workloads", OPT_STRING, &wl, 0, 0, NULL},
      {"--threads", OPT_STRING, &threads, 0, 0, NULL},
      {"--out", OPT_STRING, &s->out_dir, 0, 0, NULL},
      {"--bin", OPT_STRING, &bin, 0, 0, NULL},
      {"--lib", OPT_STRING, &lib, 0, 0, NULL},
      {"--json", OPT_FLAG, &s->json, 0, 0, NULL},
      {"--warming", OPT_FLAG, &s->warming_check, 0, 0, NULL},
  };
  int rc = parse_args(argc, argv, opts, sizeof opts / sizeof opts[0], "faultless suite", usage);
  if (rc < 0) exit(0);
  if (rc) return rc;
  char *end;
  if (scale && (s->scale = strtod(scale, &end), *end || !(s->scale > 0) || s->scale > 1000))
    return bad_usage("bad --scale: %s", scale);
  strbuf_t sb = {0};
  if (!bin) sb_printf(&sb, "%s/bench/suite", s->self);
  s->bin_dir = bin ? xstrdup(bin) : sb.data;
  s->library_so = lib ? xstrdup(lib) : find_own_library("libfaultless");
  env_collect(&s->env);
  rc = parse_list(allocators, add_allocator, s);
  if (rc) return rc;
  if (s->nalloc == 0) return bad_usage("no allocator left to measure");
  if (wl) {
    if ((rc = parse_list(wl, add_workload, s))) return rc;
  } else {
    for (int w = 0; w < NWORKLOADS; w++)
      s->use_workload[w] = true;
  }
  if ((rc = parse_list(threads, add_threads, s))) return rc;
  if (s->nthreads == 0) return bad_usage("no thread count");
  for (int w = 0; w < NWORKLOADS; w++) {
    if (!s->use_workload[w]) continue;
    for (int t = 0; t < (workloads[w].threaded ? s->nthreads : 1); t++)
      s->cases[s->ncases++] = (case_t){w, workloads[w].threaded ? s->thread_counts[t] : 1};
  }
  s->command = command_text("faultless", argc, argv);
  return 0;
}

/* --- Running one process --- */

static const char *find_field(const char *line, const char *key) {
  const char *f = strstr(line, key);
  return f ? f + strlen(key) : NULL;
}

static void run_one(suite_t *s, srun_t *r) {
  const case_t *c = &s->cases[r->c];
  const allocator_t *a = &s->alloc[r->a];
  strbuf_t prog = {0};
  char thr[16], scale[32];
  sb_printf(&prog, "%s/%s", s->bin_dir, workloads[c->workload].name);
  snprintf(thr, sizeof thr, "%d", c->threads);
  snprintf(scale, sizeof scale, "%g", s->scale);
  char *argv[] = {prog.data, "--threads", thr, "--scale", scale, NULL};
  childenv_t env;
  allocator_env(&env, a->library, a->env, a->nenv, false);
  child_t p;
  run_child(argv, env.vars, NULL, CHILD_STDOUT | CHILD_STDERR, s->timeout_s * 1000, &p);
  r->status = p.status;
  r->wall_ms = p.wall_ms;
  r->maxrss_kib = p.usage.ru_maxrss;
  const char *line = p.output.data ? strstr(p.output.data, "suite workload=") : NULL;
  const char *ms = line ? find_field(line, " elapsed_ms=") : NULL;
  const char *check = line ? find_field(line, " check=") : NULL;
  strbuf_t note = {0};
  if (p.timed_out)
    sb_printf(&note, "timed out after %ld s", s->timeout_s);
  else if (p.status < 0 || !WIFEXITED(p.status) || WEXITSTATUS(p.status) != 0)
    sb_printf(&note, "%s %d", WIFSIGNALED(p.status) ? "killed by signal" : "exit status",
              WIFSIGNALED(p.status) ? WTERMSIG(p.status) : WEXITSTATUS(p.status));
  else if (!ms || !check)
    sb_printf(&note, "no result line");
  if (!note.data) {
    r->ms = strtod(ms, NULL);
    r->check = strtoull(check, NULL, 16);
    r->ok = r->ms > 0;
  } else {
    /* Keep the tail of what it printed, for the report. */
    size_t len = p.output.len, keep = len > 300 ? 300 : len;
    if (keep) sb_printf(&note, ": %.*s", (int)keep, p.output.data + len - keep);
    r->note = note.data;
  }
  free(prog.data);
  childenv_free(&env);
  free(p.output.data);
}

/* --- Analysis --- */

cell_t *cell(const suite_t *s, int c, int a) {
  return &s->cells[c * s->nalloc + a];
}
sratio_t *ratio(const suite_t *s, int c, int a, int b) {
  return &s->ratios[(c * s->nalloc + a) * s->nalloc + b];
}

static const srun_t *find_run(const suite_t *s, int c, int a, int round) {
  for (int i = 0; i < s->nruns; i++) {
    const srun_t *r = &s->runs[i];
    if (r->c == c && r->a == a && r->round == round) return r;
  }
  return NULL;
}

static void analyze(suite_t *s) {
  s->cells = xmalloc((size_t)s->ncases * s->nalloc * sizeof *s->cells);
  s->ratios = xmalloc((size_t)s->ncases * s->nalloc * s->nalloc * sizeof *s->ratios);
  double *ms = xmalloc((size_t)s->repeat * sizeof *ms);
  double *rss = xmalloc((size_t)s->repeat * sizeof *rss);
  for (int c = 0; c < s->ncases; c++)
    for (int a = 0; a < s->nalloc; a++) {
      int n = 0;
      for (int round = (int)s->warmup; round < s->warmup + s->repeat; round++) {
        const srun_t *r = find_run(s, c, a, round);
        if (!r || !r->ok) continue;
        ms[n] = r->ms;
        rss[n++] = (double)r->maxrss_kib / 1024.0;
      }
      cell_t *x = cell(s, c, a);
      x->n = n;
      x->ms = median(ms, (size_t)n);
      x->ms_min = n ? ms[0] : NAN; /* median() sorted them */
      x->ms_max = n ? ms[n - 1] : NAN;
      x->rss_mib = median(rss, (size_t)n);
      x->rss_min = n ? rss[0] : NAN;
      x->rss_max = n ? rss[n - 1] : NAN;
      for (int b = 0; b < s->nalloc; b++) {
        int k = 0;
        for (int round = (int)s->warmup; round < s->warmup + s->repeat; round++) {
          const srun_t *ra = find_run(s, c, a, round), *rb = find_run(s, c, b, round);
          if (ra && rb && ra->ok && rb->ok) ms[k++] = ra->ms / rb->ms;
        }
        sratio_t *q = ratio(s, c, a, b);
        q->n = k;
        q->median = median(ms, (size_t)k);
        q->min = k ? ms[0] : NAN;
        q->max = k ? ms[k - 1] : NAN;
      }
    }
  free(ms);
  free(rss);
}

double geomean(const suite_t *s, int a, int b, bool memory) {
  double sum = 0;
  int n = 0;
  for (int c = 0; c < s->ncases; c++) {
    double r = memory ? cell(s, c, a)->rss_mib / cell(s, c, b)->rss_mib : ratio(s, c, a, b)->median;
    if (isfinite(r) && r > 0) sum += log(r), n++;
  }
  return n ? exp(sum / n) : NAN;
}

int find_alloc(const suite_t *s, const char *label) {
  for (int a = 0; a < s->nalloc; a++)
    if (!strcmp(s->alloc[a].label, label)) return a;
  return -1;
}

void case_name(const suite_t *s, int c, char buf[48]) {
  const case_t *x = &s->cases[c];
  if (workloads[x->workload].threaded)
    snprintf(buf, 48, "%s/%d", workloads[x->workload].name, x->threads);
  else
    snprintf(buf, 48, "%s", workloads[x->workload].name);
}

/* --- The command --- */

/* Every round runs every case under every allocator, in an order rotated
 * each round and case. */
static void run_rounds(suite_t *s) {
  uint64_t t0 = now_ns();
  long rounds = s->warmup + s->repeat;
  progress_start("suite", (int)(rounds * s->ncases * s->nalloc) + (s->warming_check ? 1 : 0));
  s->runs = xmalloc((size_t)rounds * s->ncases * s->nalloc * sizeof *s->runs);
  for (int round = 0; round < rounds; round++)
    for (int c = 0; c < s->ncases; c++)
      for (int k = 0; k < s->nalloc; k++) {
        srun_t *r = &s->runs[s->nruns++];
        *r = (srun_t){.c = c,
                      .a = (k + round + c) % s->nalloc,
                      .round = round,
                      .position = k,
                      .warmup = round < s->warmup};
        char name[48];
        case_name(s, c, name);
        progress_update(s->nruns - 1, "round %d/%ld%s %s %s", round + 1, rounds,
                        r->warmup ? " (warm-up)" : "", name, s->alloc[r->a].label);
        run_one(s, r);
      }
  if (s->warming_check) {
    progress_update(s->nruns, "warming check (faultless probe, then the warmers)");
    measure_warming(s);
  }
  progress_end();
  s->elapsed_s = (double)(now_ns() - t0) / 1e9;
}

/* Count the failed runs; a run whose check differs from an earlier run of
 * its case fails too: the same case must compute the same check under every
 * allocator. */
static void check_runs(suite_t *s) {
  for (int i = 0; i < s->nruns; i++) {
    srun_t *r = &s->runs[i];
    for (int k = 0; r->ok && k < i; k++) {
      const srun_t *q = &s->runs[k];
      if (q->ok && q->c == r->c && q->check != r->check) {
        strbuf_t note = {0};
        sb_printf(&note, "check %016llx differs from %s's %016llx", r->check, s->alloc[q->a].label,
                  q->check);
        r->note = note.data;
        r->ok = false;
      }
    }
    if (!r->ok) s->failures++;
  }
}

int cmd_suite(int argc, char **argv) {
  static suite_t suite;
  suite_t *s = &suite;
  int rc = parse_options(s, argc, argv);
  if (rc) return rc;
  /* Before the measurements, so that a bad --out costs no time. */
  if (s->out_dir && mkdir_p(s->out_dir) != 0) {
    fprintf(stderr, "faultless suite: cannot create %s: %s\n", s->out_dir, strerror(errno));
    return 1;
  }
  for (int c = 0; c < s->ncases; c++) {
    char prog[4096];
    snprintf(prog, sizeof prog, "%s/%s", s->bin_dir, workloads[s->cases[c].workload].name);
    if (access(prog, X_OK) != 0)
      return fprintf(stderr, "faultless suite: %s missing (make bench-suite-tools)\n", prog), 1;
  }
  run_rounds(s);
  check_runs(s);
  analyze(s);
  if (s->json)
    suite_write_json(s, stdout);
  else
    suite_print_table(s, stdout);
  if (s->out_dir && suite_write_dir(s, s->out_dir)) return 1;
  return s->failures ? 1 : 0;
}
