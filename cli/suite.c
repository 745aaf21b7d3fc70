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

#include "../lambda/json.h"
#include "env.h"
#include "progress.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* --- What is measured --- */

typedef struct {
  const char *name;
  bool threaded; /* takes --threads; runs at every thread count */
  const char *what;
} workload_t;

static const workload_t workloads[] = {
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
#define NWORKLOADS (int)(sizeof workloads / sizeof workloads[0])

typedef struct {
  char *label;
  const char *base; /* glibc, jemalloc, mimalloc, tcmalloc, faultless */
  char *library;    /* preloaded; NULL for glibc */
  char *env[8];     /* extra VAR=VALUE */
  int nenv;
  bool faultless;
  bool warming; /* faultless with warming on */
} allocator_t;

typedef struct {
  int workload;
  int threads;
} case_t;

typedef struct {
  int c, a, round, position;
  bool warmup, ok;
  int status;
  double ms;      /* the workload's own elapsed time */
  double wall_ms; /* the whole process */
  long maxrss_kib;
  unsigned long long check;
  char *note;
} srun_t;

typedef struct {
  double ms, ms_min, ms_max;
  double rss_mib, rss_min, rss_max;
  int n;
} cell_t;

typedef struct {
  double median, min, max;
  int n;
} ratio_t;

typedef struct {
  double gbps_thp[2];   /* warmers, median; huge pages off / on; NaN if not measured */
  double gbps_first[2]; /* the same, in the first process of a pair (see measure_warming) */
  double probe_pw[2];   /* probe: MADV_POPULATE_WRITE at the warmers' thread count */
  double probe_best;
  char probe_best_name[96];
  long best_threads; /* probe's best method: threads, huge pages */
  bool best_huge;
  double gbps_best; /* warmers in that setting, all together (warming_ns) */
  int warmers;
  int runs;
  bool ran;
  char note[256];
} warming_t;

typedef struct {
  long repeat, warmup, timeout_s;
  double scale;
  const char *out_dir;
  bool json, quiet, warming_check;
  char *command;
  char *bin_dir, *library_so, *self;
  allocator_t alloc[16];
  int nalloc;
  char *skipped[16];
  int nskipped;
  bool use_workload[NWORKLOADS];
  int thread_counts[8];
  int nthreads;
  case_t cases[NWORKLOADS * 8];
  int ncases;
  env_t env;
  srun_t *runs;
  int nruns;
  cell_t *cells;   /* ncases x nalloc */
  ratio_t *ratios; /* ncases x nalloc x nalloc: time of a over time of b */
  warming_t warming;
  double elapsed_s;
  int failures;
} suite_t;

static const char *const default_allocators =
    "glibc,jemalloc,mimalloc,tcmalloc,faultless,faultless-warm";

static const char *const notes[] = {
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
    "may pay host faults after free page reporting; it is shown as 'first').",
    NULL};

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

static int bad_usage(const char *what, const char *arg) {
  fprintf(stderr, "faultless suite: %s%s%s\n", what, arg ? ": " : "", arg ? arg : "");
  usage(stderr);
  return EXIT_USAGE;
}

/* --- Allocators --- */

static char *find_preload(const char *const *names) {
  static const char *const dirs[] = {"/usr/lib/x86_64-linux-gnu",
                                     "/usr/lib/aarch64-linux-gnu",
                                     "/usr/lib64",
                                     "/usr/lib",
                                     "/usr/local/lib",
                                     NULL};
  for (int n = 0; names[n]; n++)
    for (int d = 0; dirs[d]; d++) {
      strbuf_t sb = {0};
      sb_printf(&sb, "%s/%s", dirs[d], names[n]);
      if (access(sb.data, R_OK) == 0) return sb.data;
      free(sb.data);
    }
  return NULL;
}

static void upper(char *s) {
  for (; *s; s++)
    if (*s >= 'a' && *s <= 'z')
      *s = (char)(*s - 'a' + 'A');
    else if (*s == '-')
      *s = '_';
}

/* One --allocators entry; 0, EXIT_USAGE, or -1 when not installed (noted). */
static int add_allocator(suite_t *s, const char *spec) {
  if (s->nalloc >= (int)(sizeof s->alloc / sizeof s->alloc[0]))
    return bad_usage("too many allocators", NULL);
  char *copy = xstrdup(spec);
  char *save = NULL;
  char *name = strtok_r(copy, ":", &save);
  allocator_t a = {.label = xstrdup(spec)};
  static const char *const je[] = {"libjemalloc.so.2", NULL};
  static const char *const mi[] = {"libmimalloc.so.2", "libmimalloc.so", NULL};
  static const char *const tc[] = {"libtcmalloc.so.4", "libtcmalloc_minimal.so.4", NULL};
  const char *const *names = NULL;
  if (!name) return free(copy), bad_usage("empty allocator name", spec);
  if (!strcmp(name, "glibc"))
    a.base = "glibc";
  else if (!strcmp(name, "jemalloc"))
    a.base = "jemalloc", names = je;
  else if (!strcmp(name, "mimalloc"))
    a.base = "mimalloc", names = mi;
  else if (!strcmp(name, "tcmalloc"))
    a.base = "tcmalloc", names = tc;
  else if (!strcmp(name, "faultless") || !strcmp(name, "faultless-warm"))
    a.base = "faultless", a.faultless = true, a.warming = name[9] != 0;
  else
    a.base = "custom";
  if (a.faultless && !a.warming) {
    a.env[a.nenv++] = xstrdup("FAULTLESS_PREFAULT=0");
    a.env[a.nenv++] = xstrdup("FAULTLESS_AHEAD=0");
  }
  for (char *kv = strtok_r(NULL, ":", &save); kv; kv = strtok_r(NULL, ":", &save)) {
    char *eq = strchr(kv, '=');
    if (!eq) return free(copy), bad_usage("allocator option needs KEY=VALUE", spec);
    *eq = 0;
    if (!strcmp(kv, "lib")) {
      a.library = xstrdup(eq + 1);
    } else if (a.faultless && a.nenv < 8) {
      upper(kv);
      strbuf_t sb = {0};
      sb_printf(&sb, "FAULTLESS_%s=%s", kv, eq + 1);
      a.env[a.nenv++] = sb.data;
      if (!strcmp(kv, "PREFAULT") || !strcmp(kv, "AHEAD")) a.warming = strcmp(eq + 1, "0") != 0;
    } else {
      return free(copy),
             bad_usage("unknown allocator option (lib=PATH; faultless: OPTION=VALUE)", spec);
    }
  }
  if (!strcmp(a.base, "custom") && !a.library)
    return free(copy), bad_usage("unknown allocator (glibc, jemalloc, mimalloc, tcmalloc, "
                                 "faultless, faultless-warm, NAME:lib=PATH)",
                                 name);
  if (!a.library && names) a.library = find_preload(names);
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

static int parse_list(const char *text, int (*item)(suite_t *, const char *), suite_t *s) {
  char *copy = xstrdup(text);
  char *save = NULL;
  int rc = 0;
  for (char *t = strtok_r(copy, ",", &save); t && rc >= 0 && rc != EXIT_USAGE;
       t = strtok_r(NULL, ",", &save)) {
    rc = item(s, t);
    if (rc < 0) rc = 0;
  }
  free(copy);
  return rc;
}

static int add_workload(suite_t *s, const char *name) {
  for (int w = 0; w < NWORKLOADS; w++)
    if (!strcmp(workloads[w].name, name)) return s->use_workload[w] = true, 0;
  return bad_usage("unknown workload", name);
}

static int add_threads(suite_t *s, const char *text) {
  long n;
  if (!strcmp(text, "all"))
    n = s->env.cpus > 0 ? s->env.cpus : 1;
  else if (!parse_long(text, 1, 1024, &n))
    return bad_usage("bad thread count", text);
  for (int i = 0; i < s->nthreads; i++)
    if (s->thread_counts[i] == n) return 0;
  if (s->nthreads >= 8) return bad_usage("at most 8 thread counts", NULL);
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
  for (int i = 1; i < argc; i++) {
    bool missing = false;
    const char *v;
    long n;
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      usage(stdout);
      exit(0);
    } else if ((v = option_value(argc, argv, &i, "--repeat", &missing))) {
      if (!parse_long(v, 1, 1000, &s->repeat)) return bad_usage("bad --repeat", v);
    } else if ((v = option_value(argc, argv, &i, "--warmup", &missing))) {
      if (!parse_long(v, 0, 100, &s->warmup)) return bad_usage("bad --warmup", v);
    } else if ((v = option_value(argc, argv, &i, "--timeout-s", &missing))) {
      if (!parse_long(v, 1, 86400, &s->timeout_s)) return bad_usage("bad --timeout-s", v);
    } else if ((v = option_value(argc, argv, &i, "--scale", &missing))) {
      char *end;
      s->scale = strtod(v, &end);
      if (*end || !(s->scale > 0) || s->scale > 1000) return bad_usage("bad --scale", v);
    } else if ((v = option_value(argc, argv, &i, "--allocators", &missing))) {
      allocators = v;
    } else if ((v = option_value(argc, argv, &i, "--workloads", &missing))) {
      wl = v;
    } else if ((v = option_value(argc, argv, &i, "--threads", &missing))) {
      threads = v;
    } else if ((v = option_value(argc, argv, &i, "--out", &missing))) {
      s->out_dir = v;
    } else if ((v = option_value(argc, argv, &i, "--bin", &missing))) {
      s->bin_dir = xstrdup(v);
    } else if ((v = option_value(argc, argv, &i, "--lib", &missing))) {
      s->library_so = xstrdup(v);
    } else if (!strcmp(argv[i], "--json")) {
      s->json = true;
    } else if (!strcmp(argv[i], "--warming")) {
      s->warming_check = true;
    } else {
      return bad_usage(missing ? "missing value for" : "unknown option", argv[i]);
    }
    (void)n;
  }
  if (!s->bin_dir) {
    strbuf_t sb = {0};
    sb_printf(&sb, "%s/bench/suite", s->self);
    s->bin_dir = sb.data;
  }
  if (!s->library_so) s->library_so = find_own_library("libfaultless");
  env_collect(&s->env);
  int rc = parse_list(allocators, add_allocator, s);
  if (rc) return rc;
  if (s->nalloc == 0) return bad_usage("no allocator left to measure", NULL);
  if (wl) {
    if ((rc = parse_list(wl, add_workload, s))) return rc;
  } else {
    for (int w = 0; w < NWORKLOADS; w++)
      s->use_workload[w] = true;
  }
  if ((rc = parse_list(threads, add_threads, s))) return rc;
  if (s->nthreads == 0) return bad_usage("no thread count", NULL);
  for (int w = 0; w < NWORKLOADS; w++) {
    if (!s->use_workload[w]) continue;
    for (int t = 0; t < (workloads[w].threaded ? s->nthreads : 1); t++)
      s->cases[s->ncases++] = (case_t){w, workloads[w].threaded ? s->thread_counts[t] : 1};
  }
  strbuf_t cmd = {0};
  sb_printf(&cmd, "faultless");
  for (int i = 0; i < argc; i++) {
    sb_printf(&cmd, " ");
    sb_shell_quote(&cmd, argv[i]);
  }
  s->command = cmd.data;
  return 0;
}

/* --- Running one process --- */

/* Our environment without LD_PRELOAD and FAULTLESS_*, plus the allocator's. */
static char **child_env(const allocator_t *a, char *const *extra) {
  static const char *const drop[] = {"LD_PRELOAD=", "FAULTLESS_", NULL};
  size_t nextra = 0;
  while (extra && extra[nextra])
    nextra++;
  size_t k;
  char **envp = env_without(drop, 1 + (size_t)a->nenv + nextra, &k);
  strbuf_t pre = {0};
  if (a->library) {
    sb_printf(&pre, "LD_PRELOAD=%s", a->library);
    envp[k++] = pre.data;
  }
  for (int i = 0; i < a->nenv; i++)
    envp[k++] = a->env[i];
  for (int i = 0; extra && extra[i]; i++)
    envp[k++] = extra[i];
  envp[k] = NULL;
  return envp;
}

static const char *find_field(const char *line, const char *key) {
  const char *f = strstr(line, key);
  return f ? f + strlen(key) : NULL;
}

static void run_one(suite_t *s, srun_t *r) {
  const case_t *c = &s->cases[r->c];
  const allocator_t *a = &s->alloc[r->a];
  strbuf_t prog = {0}, thr = {0}, scale = {0};
  sb_printf(&prog, "%s/%s", s->bin_dir, workloads[c->workload].name);
  sb_printf(&thr, "%d", c->threads);
  sb_printf(&scale, "%g", s->scale);
  char *argv[] = {prog.data, "--threads", thr.data, "--scale", scale.data, NULL};
  char **envp = child_env(a, NULL);
  child_t p;
  run_child(argv, envp, NULL, CHILD_STDOUT | CHILD_STDERR, s->timeout_s * 1000, &p);
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
  free(thr.data);
  free(scale.data);
  for (size_t i = 0; envp[i]; i++)
    if (!strncmp(envp[i], "LD_PRELOAD=", 11) && a->library) free(envp[i]);
  free(envp);
  free(p.output.data);
}

/* --- Analysis --- */

static cell_t *cell(const suite_t *s, int c, int a) {
  return &s->cells[c * s->nalloc + a];
}
static ratio_t *ratio(const suite_t *s, int c, int a, int b) {
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
        ratio_t *q = ratio(s, c, a, b);
        q->n = k;
        q->median = median(ms, (size_t)k);
        q->min = k ? ms[0] : NAN;
        q->max = k ? ms[k - 1] : NAN;
      }
    }
  free(ms);
  free(rss);
}

/* Geometric mean over the cases of a's median ratio to b (time or RSS). */
static double geomean(const suite_t *s, int a, int b, bool memory) {
  double sum = 0;
  int n = 0;
  for (int c = 0; c < s->ncases; c++) {
    double r = memory ? cell(s, c, a)->rss_mib / cell(s, c, b)->rss_mib : ratio(s, c, a, b)->median;
    if (isfinite(r) && r > 0) sum += log(r), n++;
  }
  return n ? exp(sum / n) : NAN;
}

static int find_alloc(const suite_t *s, const char *label) {
  for (int a = 0; a < s->nalloc; a++)
    if (!strcmp(s->alloc[a].label, label)) return a;
  return -1;
}

static void case_name(const suite_t *s, int c, char buf[48]) {
  const case_t *x = &s->cases[c];
  if (workloads[x->workload].threaded)
    snprintf(buf, 48, "%s/%d", workloads[x->workload].name, x->threads);
  else
    snprintf(buf, 48, "%s", workloads[x->workload].name);
}

/* --- The warmers against probe --- */

static double probe_rate(const jv_t *warming, const char *method, int huge, long threads) {
  for (size_t i = 0; warming && i < warming->count; i++) {
    const jv_t *w = jv_at(warming, i);
    const jv_t *m = jv_get(w, "measured"), *h = jv_get(w, "huge_pages");
    const char *name = jv_str(jv_get(w, "method"));
    long t;
    if (!m || !m->boolean || !name || !h || !jv_long(jv_get(w, "threads"), 1, 1024, &t)) continue;
    if (method && strcmp(name, method)) continue;
    if (huge >= 0 && h->boolean != (huge == 1)) continue;
    if (threads > 0 && t != threads) continue;
    const jv_t *g = jv_get(w, "median_gb_per_s");
    if (g && g->type == JV_NUMBER) return g->number;
  }
  return NAN;
}

static double median_of(double *v, int n) {
  return n ? median(v, (size_t)n) : NAN;
}

/* One `faultless probe --json` run: its MADV_POPULATE_WRITE rates at the
 * warmers' thread count (huge pages off, on) and its best method. */
static bool run_probe(suite_t *s, double pw[2], double *best, char *best_name, size_t name_len,
                      long *best_threads, bool *best_huge) {
  warming_t *w = &s->warming;
  allocator_t none = {.label = "probe"};
  strbuf_t probe = {0};
  sb_printf(&probe, "%s/faultless", s->self);
  char *argv[] = {probe.data, "probe", "--json", "--idle-ms", "0", NULL};
  char **envp = child_env(&none, NULL);
  child_t child;
  run_child(argv, envp, NULL, CHILD_STDOUT, 300000, &child);
  free(envp);
  free(probe.data);
  char err[128];
  jv_t *pj =
      child.output.data ? jv_parse(child.output.data, child.output.len, err, sizeof err) : NULL;
  free(child.output.data);
  if (!pj) return false;
  const jv_t *warming = jv_get(pj, "warming");
  for (int h = 0; h < 2; h++)
    pw[h] = probe_rate(warming, "MADV_POPULATE_WRITE", h, w->warmers);
  *best = NAN;
  for (size_t i = 0; warming && i < warming->count; i++) {
    const jv_t *x = jv_at(warming, i);
    const jv_t *g = jv_get(x, "median_gb_per_s");
    if (!g || g->type != JV_NUMBER || (isfinite(*best) && g->number <= *best)) continue;
    long t = 0;
    jv_long(jv_get(x, "threads"), 1, 1024, &t);
    const jv_t *hp = jv_get(x, "huge_pages");
    *best = g->number;
    *best_threads = t;
    *best_huge = hp && hp->boolean;
    snprintf(best_name, name_len, "%s, huge pages %s, %ld thread%s", jv_str(jv_get(x, "method")),
             hp && hp->boolean ? "on" : "off", t, t > 1 ? "s" : "");
  }
  jv_free(pj);
  return true;
}

/* The warmers' rates in a process that asks for 256 MiB at start-up (what
 * probe warms in each measurement) and then idles, from its FAULTLESS_STATS
 * line: *each, warmed_by_warmers / warmer_ns
 * (per warmer), and *all, warmed_by_warmers / warming_ns (all of them
 * together, by the wall time they ran). NaN when the line is missing. */
static void run_warmers(suite_t *s, bool huge, int warmers, double *each, double *all) {
  allocator_t fl = {.label = "faultless", .library = s->library_so};
  strbuf_t prog = {0}, nw = {0};
  sb_printf(&prog, "%s/startup", s->bin_dir);
  sb_printf(&nw, "FAULTLESS_WARMERS=%d", warmers);
  char *argv[] = {prog.data, "--scale", "1", NULL};
  char *extra[] = {"FAULTLESS_PREFAULT=256M", "FAULTLESS_STATS=json",
                   huge ? "FAULTLESS_THP=1" : "FAULTLESS_THP=0", nw.data, NULL};
  char **envp = child_env(&fl, extra);
  child_t p;
  run_child(argv, envp, NULL, CHILD_STDOUT | CHILD_STDERR, 60000, &p);
  for (size_t i = 0; envp[i]; i++)
    if (!strncmp(envp[i], "LD_PRELOAD=", 11)) free(envp[i]);
  free(envp);
  free(prog.data);
  free(nw.data);
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
static void measure_warming(suite_t *s) {
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
    double pw[2], b = NAN, f = NAN, rate = NAN;
    char name[96];
    long threads = 0;
    bool huge = false;
    if (run_probe(s, pw, &b, name, sizeof name, &threads, &huge)) {
      for (int h = 0; h < 2; h++)
        if (isfinite(pw[h])) probe[h][np[h]++] = pw[h];
      if (isfinite(b)) {
        best[nb++] = b;
        snprintf(w->probe_best_name, sizeof w->probe_best_name, "%s", name);
        w->best_threads = threads;
        w->best_huge = huge;
      }
    }
    for (int h = 0; h < 2; h++) {
      measure_setting(s, h == 1, w->warmers, false, &f, &rate);
      if (isfinite(f)) first[h][nf[h]++] = f;
      if (isfinite(rate)) warm[h][nw[h]++] = rate;
    }
    if (isfinite(b) && threads > 0) {
      measure_setting(s, huge, (int)threads, true, &f, &rate);
      if (isfinite(rate)) at_best[nab++] = rate;
    }
  }
  for (int h = 0; h < 2; h++) {
    w->gbps_thp[h] = median_of(warm[h], nw[h]);
    w->gbps_first[h] = median_of(first[h], nf[h]);
    w->probe_pw[h] = median_of(probe[h], np[h]);
  }
  w->probe_best = median_of(best, nb);
  w->gbps_best = median_of(at_best, nab);
  if (!np[0] && !np[1]) snprintf(w->note, sizeof w->note, "faultless probe --json gave no result");
  if (!nw[0] && !nw[1])
    snprintf(w->note, sizeof w->note, "no FAULTLESS_STATS=json line from the startup program");
}

/* --- Output --- */

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

static void print_table(const suite_t *s, FILE *out) {
  int w = label_width(s);
  fprintf(out,
          "faultless suite: %d workload cases x %d allocators; %ld measured round%s + %ld "
          "warm-up; scale %g; %.1f s\n",
          s->ncases, s->nalloc, s->repeat, s->repeat > 1 ? "s" : "", s->warmup, s->scale,
          s->elapsed_s);
  fprintf(out, "command: %s\n", s->command);
  fprintf(out, "machine: %s, %ld CPUs, virtualization %s, kernel %s, THP %s\n\n",
          env_get(&s->env, "cpu_model") ?: "?", s->env.cpus,
          env_get(&s->env, "systemd_detect_virt") ?: "?", env_get(&s->env, "kernel") ?: "?",
          env_get(&s->env, "thp_enabled") ?: "?");
  char name[48];

  fprintf(out, "time, ms: median (spread = (max-min)/median)\n%-14s", "workload");
  for (int a = 0; a < s->nalloc; a++)
    fprintf(out, " %*s", w > 15 ? w : 15, s->alloc[a].label);
  fprintf(out, "\n");
  for (int c = 0; c < s->ncases; c++) {
    case_name(s, c, name);
    fprintf(out, "%-14s", name);
    for (int a = 0; a < s->nalloc; a++) {
      const cell_t *x = cell(s, c, a);
      char v[40];
      if (x->n)
        snprintf(v, sizeof v, "%.1f (%2.0f%%)", x->ms, 100 * (x->ms_max - x->ms_min) / x->ms);
      else
        snprintf(v, sizeof v, "failed");
      fprintf(out, " %*s", w > 15 ? w : 15, v);
    }
    fprintf(out, "\n");
  }

  for (int a = 0; a < s->nalloc; a++) {
    if (!s->alloc[a].faultless) continue;
    fprintf(out, "\n%s: time ratio to each peer, median of per-round ratios [min..max]\n%-14s",
            s->alloc[a].label, "workload");
    for (int b = 0; b < s->nalloc; b++)
      if (b != a) fprintf(out, " %*s", w > 18 ? w : 18, s->alloc[b].label);
    fprintf(out, "\n");
    for (int c = 0; c < s->ncases; c++) {
      case_name(s, c, name);
      fprintf(out, "%-14s", name);
      for (int b = 0; b < s->nalloc; b++) {
        if (b == a) continue;
        const ratio_t *q = ratio(s, c, a, b);
        char v[48];
        if (q->n)
          snprintf(v, sizeof v, "%.2f [%.2f..%.2f]", q->median, q->min, q->max);
        else
          snprintf(v, sizeof v, "-");
        fprintf(out, " %*s", w > 18 ? w : 18, v);
      }
      fprintf(out, "\n");
    }
    fprintf(out, "%-14s", "geomean");
    for (int b = 0; b < s->nalloc; b++)
      if (b != a) fprintf(out, " %*.2f", w > 18 ? w : 18, geomean(s, a, b, false));
    fprintf(out, "\n");
  }

  fprintf(out, "\npeak RSS, MiB: median (ru_maxrss)\n%-14s", "workload");
  for (int a = 0; a < s->nalloc; a++)
    fprintf(out, " %*s", w, s->alloc[a].label);
  fprintf(out, "\n");
  for (int c = 0; c < s->ncases; c++) {
    case_name(s, c, name);
    fprintf(out, "%-14s", name);
    for (int a = 0; a < s->nalloc; a++)
      fprintf(out, " %*.1f", w, cell(s, c, a)->rss_mib);
    fprintf(out, "\n");
  }

  bool threaded = false;
  for (int c = 0; c < s->ncases; c++)
    threaded |= workloads[s->cases[c].workload].threaded;
  if (s->nthreads > 1 && threaded) {
    fprintf(out, "\nscaling: time at 1 thread / time at N threads (fixed total work)\n%-14s",
            "workload");
    for (int a = 0; a < s->nalloc; a++)
      fprintf(out, " %*s", w, s->alloc[a].label);
    fprintf(out, "\n");
    for (int c = 0; c < s->ncases; c++) {
      const case_t *x = &s->cases[c];
      if (!workloads[x->workload].threaded) continue;
      int base = -1;
      for (int d = 0; d < s->ncases; d++)
        if (s->cases[d].workload == x->workload && s->cases[d].threads == s->thread_counts[0])
          base = d;
      case_name(s, c, name);
      fprintf(out, "%-14s", name);
      for (int a = 0; a < s->nalloc; a++)
        fprintf(out, " %*.2f", w, cell(s, base, a)->ms / cell(s, c, a)->ms);
      fprintf(out, "\n");
    }
  }

  int mi = find_alloc(s, "mimalloc"), gl = find_alloc(s, "glibc");
  fprintf(out, "\ntime and memory targets:\n");
  for (int a = 0; a < s->nalloc; a++) {
    if (!s->alloc[a].faultless) continue;
    char what[160];
    if (mi >= 0) {
      snprintf(what, sizeof what, "%s time / mimalloc, geomean", s->alloc[a].label);
      print_target(out, what, geomean(s, a, mi, false), 1.0, true);
      double worst = NAN;
      int wc = -1;
      for (int c = 0; c < s->ncases; c++)
        if (!(ratio(s, c, a, mi)->median <= worst)) worst = ratio(s, c, a, mi)->median, wc = c;
      if (wc >= 0) case_name(s, wc, name);
      snprintf(what, sizeof what, "%s time / mimalloc, worst (%s)", s->alloc[a].label,
               wc >= 0 ? name : "-");
      print_target(out, what, worst, 1.2, true);
    }
    if (gl >= 0) {
      double worst = NAN;
      int wc = -1;
      for (int c = 0; c < s->ncases; c++)
        if (!(ratio(s, c, a, gl)->median <= worst)) worst = ratio(s, c, a, gl)->median, wc = c;
      if (wc >= 0) case_name(s, wc, name);
      snprintf(what, sizeof what, "%s time / glibc, worst (%s)", s->alloc[a].label,
               wc >= 0 ? name : "-");
      print_target(out, what, worst, 1.0, true);
    }
    if (mi >= 0 && !s->alloc[a].warming) {
      double worst = NAN;
      int wc = -1;
      for (int c = 0; c < s->ncases; c++) {
        double r = cell(s, c, a)->rss_mib / cell(s, c, mi)->rss_mib;
        if (!(r <= worst)) worst = r, wc = c;
      }
      if (wc >= 0) case_name(s, wc, name);
      snprintf(what, sizeof what, "%s peak RSS / mimalloc, worst (%s)", s->alloc[a].label,
               wc >= 0 ? name : "-");
      print_target(out, what, worst, 1.25, true);
    }
  }
  if (s->warming.ran) {
    const warming_t *x = &s->warming;
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
  fprintf(out, "\nnotes:\n");
  for (int i = 0; notes[i]; i++)
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

static void write_json(const suite_t *s, FILE *out) {
  json_t j;
  json_init(&j, out);
  char name[48];
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

  json_array_begin(&j, "summary");
  for (int c = 0; c < s->ncases; c++)
    for (int a = 0; a < s->nalloc; a++) {
      const cell_t *x = cell(s, c, a);
      case_name(s, c, name);
      json_object_begin(&j, NULL);
      json_string(&j, "case", name);
      json_string(&j, "workload", workloads[s->cases[c].workload].name);
      json_int(&j, "threads", s->cases[c].threads);
      json_string(&j, "allocator", s->alloc[a].label);
      json_int(&j, "rounds", x->n);
      json_double(&j, "ms_median", x->ms);
      json_double(&j, "ms_min", x->ms_min);
      json_double(&j, "ms_max", x->ms_max);
      json_double(&j, "peak_rss_mib_median", x->rss_mib);
      json_double(&j, "peak_rss_mib_min", x->rss_min);
      json_double(&j, "peak_rss_mib_max", x->rss_max);
      json_object_begin(&j, "time_ratio_to");
      for (int b = 0; b < s->nalloc; b++) {
        if (b == a) continue;
        const ratio_t *q = ratio(s, c, a, b);
        json_object_begin(&j, s->alloc[b].label);
        json_double(&j, "median", q->median);
        json_double(&j, "min", q->min);
        json_double(&j, "max", q->max);
        json_object_end(&j);
      }
      json_object_end(&j);
      json_object_end(&j);
    }
  json_array_end(&j);

  json_array_begin(&j, "geomean");
  for (int a = 0; a < s->nalloc; a++)
    for (int b = 0; b < s->nalloc; b++) {
      if (a == b) continue;
      json_object_begin(&j, NULL);
      json_string(&j, "allocator", s->alloc[a].label);
      json_string(&j, "peer", s->alloc[b].label);
      json_double(&j, "time_ratio", geomean(s, a, b, false));
      json_double(&j, "peak_rss_ratio", geomean(s, a, b, true));
      json_object_end(&j);
    }
  json_array_end(&j);

  if (s->warming.ran) {
    const warming_t *x = &s->warming;
    json_object_begin(&j, "warming");
    json_int(&j, "warmers", x->warmers);
    json_int(&j, "runs", x->runs);
    json_double(&j, "warmers_gb_per_s_huge_off", x->gbps_thp[0]);
    json_double(&j, "warmers_gb_per_s_huge_on", x->gbps_thp[1]);
    json_double(&j, "warmers_first_gb_per_s_huge_off", x->gbps_first[0]);
    json_double(&j, "warmers_first_gb_per_s_huge_on", x->gbps_first[1]);
    json_double(&j, "probe_populate_write_gb_per_s_huge_off", x->probe_pw[0]);
    json_double(&j, "probe_populate_write_gb_per_s_huge_on", x->probe_pw[1]);
    json_double(&j, "probe_best_gb_per_s", x->probe_best);
    json_string(&j, "probe_best", x->probe_best_name);
    json_int(&j, "probe_best_threads", x->best_threads);
    json_bool(&j, "probe_best_huge_pages", x->best_huge);
    json_double(&j, "warmers_at_probe_best_gb_per_s", x->gbps_best);
    json_string(&j, "note", x->note[0] ? x->note : NULL);
    json_object_end(&j);
  }

  json_array_begin(&j, "runs");
  for (int i = 0; i < s->nruns; i++) {
    const srun_t *r = &s->runs[i];
    case_name(s, r->c, name);
    json_object_begin(&j, NULL);
    json_string(&j, "case", name);
    json_string(&j, "allocator", s->alloc[r->a].label);
    json_int(&j, "round", r->round);
    json_bool(&j, "warmup", r->warmup);
    json_int(&j, "position", r->position);
    json_bool(&j, "ok", r->ok);
    json_double(&j, "ms", r->ok ? r->ms : NAN);
    json_double(&j, "wall_ms", r->wall_ms);
    json_int(&j, "peak_rss_kib", r->maxrss_kib);
    char hex[32];
    snprintf(hex, sizeof hex, "%016llx", r->check);
    json_string(&j, "check", r->ok ? hex : NULL);
    json_string(&j, "note", r->note);
    json_object_end(&j);
  }
  json_array_end(&j);
  json_array_begin(&j, "notes");
  for (int i = 0; notes[i]; i++)
    json_string(&j, NULL, notes[i]);
  json_array_end(&j);
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
static int write_charts(const suite_t *s, const char *dir) {
  int base = find_alloc(s, "mimalloc");
  if (base < 0) base = find_alloc(s, "glibc");
  if (base < 0) base = 0;
  strbuf_t path = {0};
  sb_printf(&path, "%s/suite.dat", dir);
  FILE *f = fopen(path.data, "w");
  free(path.data);
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
  /* scaling blocks: index 1.. one per threaded workload; columns threads, speed-up per allocator */
  int nblocks = 0;
  const char *block_name[NWORKLOADS];
  for (int wl = 0; wl < NWORKLOADS; wl++) {
    if (!workloads[wl].threaded || !s->use_workload[wl]) continue;
    block_name[nblocks++] = workloads[wl].name;
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

  path = (strbuf_t){0};
  sb_printf(&path, "%s/charts.gp", dir);
  f = fopen(path.data, "w");
  free(path.data);
  if (!f) return -1;
  fprintf(f, "# gnuplot charts.gp  (written by: %s)\n", s->command);
  fprintf(f, "set termoption noenhanced\nset key outside right top\nset grid ytics\n");
  for (int png = 0; png < 2; png++) {
    const char *term = png ? "pngcairo size 1300,650" : "svg size 1300,650 background rgb 'white'";
    const char *ext = png ? "png" : "svg";
    fprintf(f, "\nset terminal %s\nset output 'time.%s'\n", term, ext);
    fprintf(f,
            "set title 'time relative to %s (median of %ld rounds, fresh process each; lower is "
            "better)'\n",
            s->alloc[base].label, s->repeat);
    fprintf(f, "set logscale y\nset yrange [*:*]\nset style data histograms\nset style histogram "
               "clustered gap 1\nset style fill solid 0.8 border -1\nset xtics rotate by -30\n");
    fprintf(f, "plot ");
    for (int a = 0; a < s->nalloc; a++)
      fprintf(f, "%s'suite.dat' index 0 using %d%s title '%s'", a ? ", " : "", a + 2,
              a == 0 ? ":xtic(1)" : "", s->alloc[a].label);
    fprintf(f, "\n\nset output 'rss.%s'\n", ext);
    fprintf(f, "set title 'peak RSS, MiB (median ru_maxrss)'\n");
    fprintf(f, "plot ");
    for (int a = 0; a < s->nalloc; a++)
      fprintf(f, "%s'suite.dat' index 0 using %d%s title '%s'", a ? ", " : "", s->nalloc + a + 2,
              a == 0 ? ":xtic(1)" : "", s->alloc[a].label);
    fprintf(f, "\nunset logscale y\nunset style\nset xtics norotate\n");
    if (nblocks && s->nthreads > 1) {
      fprintf(f,
              "\nset output 'scaling.%s'\nset multiplot layout %d,%d title 'speed-up over %d "
              "thread (fixed total work)'\nset style data linespoints\nset xlabel 'threads'\n",
              ext, (nblocks + 4) / 5, nblocks < 5 ? nblocks : 5, s->thread_counts[0]);
      for (int k = 0; k < nblocks; k++) {
        fprintf(f, "set title '%s'\n%s", block_name[k], k == nblocks - 1 ? "" : "unset key\n");
        /* The key at the canvas's corner takes no room from the last plot. */
        if (k == nblocks - 1) fprintf(f, "set key at screen 0.99,0.02 right bottom\n");
        fprintf(f, "plot ");
        for (int a = 0; a < s->nalloc; a++)
          fprintf(f, "%s'suite.dat' index %d using 1:%d lw 1.5 lc %d title '%s'", a ? ", " : "",
                  k + 1, a + 2, a + 1, s->alloc[a].label);
        fprintf(f, "\n");
      }
      fprintf(f, "unset multiplot\nunset xlabel\nset key outside right top\n");
    }
  }
  fclose(f);
  return run_gnuplot(dir, "faultless suite");
}

static int write_dir(const suite_t *s, const char *dir) {
  if (mkdir_p(dir) != 0) {
    fprintf(stderr, "faultless suite: cannot create %s: %s\n", dir, strerror(errno));
    return 1;
  }
  const char *names[] = {"results.json", "results.csv", "results.txt"};
  for (int k = 0; k < 3; k++) {
    strbuf_t path = {0};
    sb_printf(&path, "%s/%s", dir, names[k]);
    FILE *f = fopen(path.data, "w");
    free(path.data);
    if (!f) {
      fprintf(stderr, "faultless suite: cannot write in %s: %s\n", dir, strerror(errno));
      return 1;
    }
    if (k == 0) write_json(s, f);
    if (k == 1) write_csv(s, f);
    if (k == 2) print_table(s, f);
    fclose(f);
  }
  return write_charts(s, dir) ? 1 : 0;
}

/* --- The command --- */

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
    strbuf_t prog = {0};
    sb_printf(&prog, "%s/%s", s->bin_dir, workloads[s->cases[c].workload].name);
    bool ok = access(prog.data, X_OK) == 0;
    if (!ok) fprintf(stderr, "faultless suite: %s missing (make bench-suite-tools)\n", prog.data);
    free(prog.data);
    if (!ok) return 1;
  }
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
  /* The same case must compute the same check under every allocator. */
  for (int i = 0; i < s->nruns; i++) {
    srun_t *r = &s->runs[i];
    if (!r->ok) {
      s->failures++;
      continue;
    }
    for (int k = 0; k < i; k++) {
      const srun_t *q = &s->runs[k];
      if (q->ok && q->c == r->c && q->check != r->check) {
        strbuf_t note = {0};
        sb_printf(&note, "check %016llx differs from %s's %016llx", r->check, s->alloc[q->a].label,
                  q->check);
        r->note = note.data;
        r->ok = false;
        s->failures++;
        break;
      }
    }
  }
  analyze(s);

  if (s->json)
    write_json(s, stdout);
  else
    print_table(s, stdout);
  if (s->out_dir && write_dir(s, s->out_dir)) return 1;
  return s->failures ? 1 : 0;
}
