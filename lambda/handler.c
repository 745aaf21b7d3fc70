// SPDX-License-Identifier: MIT
/* The handler: event JSON -> `faultless bench` in fresh processes -> the
 * seed's log on stdout and bench's results JSON as the response.
 *
 * Every allocator is measured in a new process (the seed worker, preloaded
 * with the allocator's library), as `faultless bench` does everywhere: a
 * process that already used the memory would hide the first-touch cost this
 * function exists to measure. */
#define _GNU_SOURCE
#include "handler.h"

#include "../tools/util.h"
#include "../tools/json.h"
#include "../tools/peers.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Debian's peer libraries as shipped in the zip's lib/ (see mk/lambda.mk). */

static char *vformat(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *vformat(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0) s = NULL;
  va_end(ap);
  return s ? s : xstrdup("(out of memory)");
}

static bool exited_ok(const child_t *c) {
  return c->status >= 0 && WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0;
}

/* --- Init --- */

/* Run the worker once, tiny, under LD_PRELOAD=lib (NULL: none). A preload
 * whose dependencies or symbol versions are missing here makes the loader stop
 * the process, so exit 0 means the allocator really was loaded. */
static bool worker_runs(const handler_t *h, const char *lib) {
  static const char *const drop[] = {"LD_PRELOAD=", NULL};
  childenv_t env;
  childenv_init(&env, drop);
  if (lib) childenv_add(&env, "LD_PRELOAD=%s", lib);
  char *argv[] = {h->worker, "--chunks", "1", "--size", "4096", "--iterations", "1", NULL};
  child_t child;
  run_child(argv, env.vars, NULL, CHILD_STDOUT, 10000, &child);
  free(child.output.data);
  childenv_free(&env);
  return exited_ok(&child);
}

int handler_init(handler_t *h, char *err, size_t errlen) {
  const char *root = getenv("FAULTLESS_LAMBDA_ROOT"); /* tests point it elsewhere */
  h->root = root && *root ? xstrdup(root) : self_dir();
  static const char *const cli[] = {"faultless", NULL}, *const worker[] = {"bench/seed", NULL};
  h->faultless = find_relative(h->root, cli, true);
  h->worker = find_relative(h->root, worker, true);
  if (!h->faultless || !h->worker) {
    snprintf(err, errlen, "%s not found in %s (the zip must hold faultless and bench/seed)",
             !h->faultless ? "faultless" : "bench/seed", h->root);
    return -1;
  }
  if (!worker_runs(h, NULL)) {
    snprintf(err, errlen, "the seed worker %s does not run here (see the log above)", h->worker);
    return -1;
  }
  /* Peers that load go into a directory of links that faultless bench searches
   * first; one that does not load is then reported as skipped, by name. */
  char tmpl[PATH_MAX];
  const char *tmp = getenv("TMPDIR");
  snprintf(tmpl, sizeof tmpl, "%s/faultless-peers.XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (mkdtemp(tmpl)) h->peer_dir = xstrdup(tmpl);
  for (const peer_t *p = peers; p->name; p++)
    for (int f = 0; p->files[f]; f++) {
      const char *file = p->files[f];
      char *path = vformat("%s/lib/%s", h->root, file);
      if (access(path, R_OK) != 0) {
        free(path);
        continue;
      }
      bool ok = h->peer_dir && worker_runs(h, path);
      if (ok) {
        char *link = vformat("%s/%s", h->peer_dir, file);
        ok = symlink(path, link) == 0;
        free(link);
      }
      if (ok && h->npeers_ok < PEERS_MAX) h->peers_ok[h->npeers_ok++] = file;
      if (!ok && h->npeers_failed < PEERS_MAX) h->peers_failed[h->npeers_failed++] = file;
      if (!ok) printf("faultless runtime: %s does not load here; its allocator is skipped\n", path);
      free(path);
    }
  return 0;
}

int handler_restored(handler_t *h, char *err, size_t errlen) {
  const char *const tools[] = {h->faultless, h->worker};
  for (int i = 0; i < 2; i++)
    if (access(tools[i], X_OK) != 0) {
      snprintf(err, errlen, "%s is gone after the restore (%s)", tools[i], strerror(errno));
      return -1;
    }
  return 0;
}

/* --- The event --- */

typedef struct {
  char allocator[512];
  long chunks, iterations, threads, setup_ms, repeat, round;
  size_t size, align, prefault;
  bool has_round;
} params_t;

/* A byte count: a JSON number, or a string with a K/M/G suffix ("1M"). */
static bool get_bytes(const jv_t *v, size_t *out) {
  long n;
  if (jv_long(v, 0, LONG_MAX, &n)) return *out = (size_t)n, true;
  return jv_str(v) && parse_bytes(jv_str(v), out);
}

/* Allocator entries as faultless bench takes them; the characters are
 * limited so that a label is safe in file names and charts. */
static bool allocator_ok(const char *s) {
  if (!*s || strlen(s) >= 512) return false;
  for (const char *p = s; *p; p++)
    if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9') &&
        !strchr(":=,.-_", *p))
      return false;
  return true;
}

/* Returns NULL or a malloc'd message naming what is wrong. */
static char *parse_event(const char *event, size_t len, params_t *p) {
  *p = (params_t){.chunks = 100, .iterations = 2, .threads = 1, .repeat = 1, .size = 1 << 20};
  snprintf(p->allocator, sizeof p->allocator, "faultless");
  char err[200];
  jv_t *root = jv_parse(event, len, err, sizeof err);
  if (!root) return vformat("the event is not JSON: %s", err);
  char *msg = NULL;
  if (root->type != JV_OBJECT) {
    msg = vformat("the event must be a JSON object");
    goto out;
  }
  for (size_t i = 0; i < root->count && !msg; i++) {
    const char *key = root->keys[i];
    const jv_t *v = root->items[i];
    if (!strcmp(key, "allocator")) {
      if (!jv_str(v) || !allocator_ok(jv_str(v)))
        msg = vformat("\"allocator\" must be a string like \"glibc\", \"mimalloc,faultless\" or "
                      "\"faultless:setup-ms=300:prefault=128M\"");
      else
        snprintf(p->allocator, sizeof p->allocator, "%s", jv_str(v));
    } else if (!strcmp(key, "chunks")) {
      if (!jv_long(v, 1, 1L << 24, &p->chunks)) msg = vformat("\"chunks\" must be 1 or more");
    } else if (!strcmp(key, "iterations")) {
      if (!jv_long(v, 1, 1000, &p->iterations)) msg = vformat("\"iterations\" must be 1..1000");
    } else if (!strcmp(key, "threads")) {
      if (!jv_long(v, 1, 1024, &p->threads)) msg = vformat("\"threads\" must be 1..1024");
    } else if (!strcmp(key, "setup_ms")) {
      if (!jv_long(v, 0, 600000, &p->setup_ms)) msg = vformat("\"setup_ms\" must be 0..600000");
    } else if (!strcmp(key, "repeat")) {
      if (!jv_long(v, 1, 100, &p->repeat)) msg = vformat("\"repeat\" must be 1..100");
    } else if (!strcmp(key, "round")) {
      if (!jv_long(v, 0, 1000000, &p->round)) msg = vformat("\"round\" must be 0 or more");
      p->has_round = true;
    } else if (!strcmp(key, "size")) {
      if (!get_bytes(v, &p->size) || p->size == 0)
        msg = vformat("\"size\" must be bytes > 0 (a number, or a string such as \"1M\")");
    } else if (!strcmp(key, "align")) {
      if (!get_bytes(v, &p->align) || (p->align & (p->align - 1)))
        msg = vformat("\"align\" must be 0 or a power of two");
    } else if (!strcmp(key, "prefault")) {
      if (!get_bytes(v, &p->prefault))
        msg = vformat("\"prefault\" must be bytes (a number, or a string such as \"128M\")");
    } else {
      /* Strict: a misspelt parameter would silently measure the default. */
      msg = vformat("unknown event field \"%s\" (allocator, chunks, size, iterations, align, "
                    "threads, setup_ms, prefault, repeat, round)",
                    key);
    }
  }
  /* The whole run must fit in memory and in the function's time; this bound
   * only stops absurd requests before they start. */
  if (!msg && p->size > (64UL << 30) / (size_t)p->chunks)
    msg = vformat("chunks x size is over 64 GiB");
out:
  jv_free(root);
  return msg;
}

/* --- The run --- */

/* The seed's own log lines (its post's CloudWatch output) from bench's JSON. */
static void print_seed_log(const jv_t *results, const params_t *p) {
  const jv_t *runs = jv_get(results, "runs");
  for (size_t i = 0; runs && i < runs->count; i++) {
    const jv_t *r = runs->items[i];
    const jv_t *samples = jv_get(r, "samples");
    const jv_t *it = jv_get(samples, "iteration"), *dur = jv_get(samples, "duration_ns"),
               *pages = jv_get(samples, "new_pages");
    const char *label = jv_str(jv_get(r, "allocator"));
    if (!it || !dur || !pages || !label) continue;
    printf("backend_name:%s\n", label);
    printf("ALLOCATING %ld CHUNCKS OF %zu BYTES\n", p->chunks, p->size);
    printf("iteration;allocation_duration;new_pages_allocated\n");
    for (size_t k = 0; k < it->count && k < dur->count && k < pages->count; k++)
      /* Whole microseconds, truncated, as the seed printed them. */
      printf("%ld;%llu;%ld\n", (long)it->items[k]->number,
             (unsigned long long)dur->items[k]->number / 1000, (long)pages->items[k]->number);
  }
  fflush(stdout);
}

static long long unix_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* The runtime's facts, spliced in front of bench's own fields. */
static char *lambda_fields(const handler_t *h, const invocation_t *inv, const params_t *p) {
  json_t j;
  if (!json_open_text(&j)) return NULL;
  json_object_begin(&j, NULL);
  json_object_begin(&j, "lambda");
  json_string(&j, "request_id", inv->request_id);
  /* From the environment, where the runtime put it for the code it runs. */
  json_string(&j, "trace_id", getenv("_X_AMZN_TRACE_ID"));
  json_string(&j, "function_name", getenv("AWS_LAMBDA_FUNCTION_NAME"));
  json_string(&j, "function_version", getenv("AWS_LAMBDA_FUNCTION_VERSION"));
  json_string(&j, "memory_size_mb", getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"));
  json_string(&j, "region", getenv("AWS_REGION"));
  json_string(&j, "log_stream", getenv("AWS_LAMBDA_LOG_STREAM_NAME"));
  json_string(&j, "allocator", p->allocator);
  if (p->has_round) json_int(&j, "round", p->round);
  json_int(&j, "invocation_in_sandbox", h->invocations);
  json_bool(&j, "cold_start", h->invocations == 1);
  json_double(&j, "init_ms", h->init_ms);
  json_int(&j, "init_prefault", (long long)h->init_prefault);
  json_array_begin(&j, "peers_loaded");
  for (int i = 0; i < h->npeers_ok; i++)
    json_string(&j, NULL, h->peers_ok[i]);
  json_array_end(&j);
  json_array_begin(&j, "peers_not_loading");
  for (int i = 0; i < h->npeers_failed; i++)
    json_string(&j, NULL, h->peers_failed[i]);
  json_array_end(&j);
  json_object_end(&j);
  json_object_end(&j);
  char *text = json_close_text(&j);
  /* Drop the closing brace so bench's fields can follow. */
  char *brace = strrchr(text, '}');
  if (brace) *brace = 0;
  return text;
}

int handler_invoke(handler_t *h, const invocation_t *inv, const char *event, size_t len, char **out,
                   size_t *out_len, const char **error_type, char **error_message) {
  h->invocations++;
  params_t p;
  char *msg = parse_event(event, len, &p);
  if (msg) {
    *error_type = "Faultless.InvalidEvent";
    *error_message = msg;
    return -1;
  }
  /* Leave a second to report back before Lambda's own deadline. */
  long budget_ms = 15 * 60 * 1000;
  if (inv->deadline_ms > 0) budget_ms = (long)(inv->deadline_ms - unix_ms()) - 1000;
  if (budget_ms < 1000) {
    *error_type = "Faultless.Timeout";
    *error_message =
        vformat("only %ld ms left before the deadline: not enough to measure", budget_ms + 1000);
    return -1;
  }

  char num[8][32];
  snprintf(num[0], 32, "%ld", p.chunks);
  snprintf(num[1], 32, "%zu", p.size);
  snprintf(num[2], 32, "%ld", p.iterations);
  snprintf(num[3], 32, "%zu", p.align);
  snprintf(num[4], 32, "%ld", p.threads);
  snprintf(num[5], 32, "%ld", p.setup_ms);
  snprintf(num[6], 32, "%zu", p.prefault);
  snprintf(num[7], 32, "%ld", p.repeat);
  char timeout[32];
  snprintf(timeout, sizeof timeout, "%ld", budget_ms / 1000 > 0 ? budget_ms / 1000 : 1);
  char *argv[] = {h->faultless, "bench",      "--allocators", p.allocator,    "--chunks",
                  num[0],       "--size",     num[1],         "--iterations", num[2],
                  "--align",    num[3],       "--threads",    num[4],         "--setup-ms",
                  num[5],       "--prefault", num[6],         "--repeat",     num[7],
                  "--warmup",   "0",          "--format",     "json",         "--timeout",
                  timeout,      NULL};

  /* faultless bench looks for peers in FAULTLESS_BENCH_LIB_DIR first. */
  static const char *const drop[] = {"FAULTLESS_BENCH_LIB_DIR=", NULL};
  childenv_t env;
  childenv_init(&env, drop);
  childenv_add(&env, "FAULTLESS_BENCH_LIB_DIR=%s", h->peer_dir ? h->peer_dir : "/nonexistent");
  child_t child;
  run_child(argv, env.vars, NULL, CHILD_STDOUT, budget_ms, &child);
  childenv_free(&env);

  char err[200];
  jv_t *results =
      child.output.data ? jv_parse(child.output.data, child.output.len, err, sizeof err) : NULL;
  int rc = -1;
  if (child.timed_out) {
    *error_type = "Faultless.Timeout";
    *error_message = vformat("faultless bench did not finish in the %ld ms left", budget_ms);
  } else if (child.status >= 0 && WIFEXITED(child.status) && WEXITSTATUS(child.status) == 2) {
    *error_type = "Faultless.InvalidEvent";
    *error_message = vformat("faultless bench refused the parameters (allocator \"%s\"); its "
                             "message is in the function's log",
                             p.allocator);
  } else if (!results || results->type != JV_OBJECT || !jv_get(results, "runs")) {
    *error_type = "Faultless.BenchFailed";
    *error_message =
        vformat("faultless bench gave no results (exit status %d)",
                child.status >= 0 && WIFEXITED(child.status) ? WEXITSTATUS(child.status) : -1);
  } else {
    /* A run that failed is in the results with ok=false; bench exits 1 then,
     * and the response still carries what was measured. */
    print_seed_log(results, &p);
    char *head = lambda_fields(h, inv, &p);
    const char *rest = strchr(child.output.data, '{') + 1;
    strbuf_t sb = {0};
    sb_printf(&sb, "%s,%s", head ? head : "{", rest);
    free(head);
    *out = sb.data;
    *out_len = sb.len;
    rc = 0;
  }
  jv_free(results);
  free(child.output.data);
  return rc;
}
