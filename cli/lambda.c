// SPDX-License-Identifier: MIT
/* faultless lambda: the seed's experiment on AWS Lambda, through the AWS CLI.
 *   deploy   create or update the function from build/lambda/function.zip
 *   invoke   N rounds x every allocator, C invocations at a time
 *   collect  merge the recorded responses into results.json + charts, as
 *            `faultless bench --out` writes them (bench_out.c does the writing)
 * --dry-run prints the exact aws commands instead of running them. */
#define _GNU_SOURCE
#include "lambda.h"

#include "../tools/json.h"
#include "bench.h"
#include "../tools/progress.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_ALLOCATORS                                                                         \
  "glibc,glibc-tuned,jemalloc,mimalloc,tcmalloc,faultless,faultless:setup-ms=300:prefault=128M"

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: faultless lambda deploy --function NAME --role ARN [--memory MB] [--timeout S]\n"
      "                               [--zip PATH] [--region R] [--profile P] [--dry-run]\n"
      "       faultless lambda invoke --function NAME --out DIR [--rounds N] [--concurrency C]\n"
      "                               [--allocators LIST] [--chunks N] [--size BYTES]\n"
      "                               [--iterations N] [--align A] [--setup-ms MS]\n"
      "                               [--prefault BYTES] [--region R] [--profile P] [--dry-run]\n"
      "       faultless lambda collect DIR [--out DIR2]\n"
      "The seed's experiment in AWS Lambda (lambda/README.md). deploy creates the function\n"
      "(provided.al2023, x86_64; memory 2048 MB and timeout 300 s by default) or updates\n"
      "it; invoke runs --rounds rounds (5) of one invocation per allocator (default\n"
      "%s),\n"
      "--concurrency at a time (4), saving each response in DIR/raw/; collect merges\n"
      "them into DIR2 (default DIR): results.json, results.csv, charts, lambda.csv.\n"
      "--dry-run prints the aws commands and runs nothing.\n",
      DEFAULT_ALLOCATORS);
}

static int bad_usage(const char *fmt, const char *arg) {
  fprintf(stderr, "faultless lambda: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n");
  usage(stderr);
  return EXIT_USAGE;
}

/* --- Commands --- */

typedef struct {
  char *argv[48];
  int argc;
  char *stdout_path; /* where its stdout goes (NULL: ours) */
} command_t;

static void add(command_t *c, const char *arg) {
  if (c->argc < 47) c->argv[c->argc++] = xstrdup(arg);
  c->argv[c->argc] = NULL;
}

static void command_free(command_t *c) {
  for (int i = 0; i < c->argc; i++)
    free(c->argv[i]);
  free(c->stdout_path);
  memset(c, 0, sizeof *c);
}

static void print_command(const command_t *c, FILE *out) {
  strbuf_t sb = {0};
  for (int i = 0; i < c->argc; i++) {
    if (i) sb_append(&sb, " ", 1);
    sb_shell_quote(&sb, c->argv[i]);
  }
  if (c->stdout_path) {
    sb_append(&sb, " >", 2);
    sb_shell_quote(&sb, c->stdout_path);
  }
  fprintf(out, "%s\n", sb.data);
  free(sb.data);
}

typedef struct {
  const char *region, *profile;
  bool dry_run;
} aws_t;

static void aws_start(command_t *c, const aws_t *aws, const char *verb) {
  memset(c, 0, sizeof *c);
  add(c, "aws");
  if (aws->region) {
    add(c, "--region");
    add(c, aws->region);
  }
  if (aws->profile) {
    add(c, "--profile");
    add(c, aws->profile);
  }
  add(c, "lambda");
  add(c, verb);
}

/* Start c; its stdout to c->stdout_path or /dev/null. Returns the pid, or -1
 * (said on stderr) when it could not start. */
static pid_t spawn(const command_t *c) {
  int err;
  pid_t pid = child_start(c->argv, NULL, NULL, CHILD_DISCARD, c->stdout_path, NULL, &err);
  if (pid > 0 && err) {
    child_wait(pid, NULL);
    fprintf(stderr, "faultless lambda: cannot run %s: %s (install the AWS CLI v2)\n", c->argv[0],
            strerror(err));
    return -1;
  }
  return pid;
}

/* Run c and wait; returns its exit status (-1: it could not start). */
static int run(const command_t *c) {
  pid_t pid = spawn(c);
  int status = pid < 0 ? -1 : child_wait(pid, NULL);
  if (status < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* --- deploy --- */

static int cmd_deploy(int argc, char **argv) {
  const char *function = NULL, *role = NULL, *zip = NULL;
  long memory = 2048, timeout = 300;
  aws_t aws = {0};
  for (int i = 1; i < argc; i++) {
    bool missing;
    const char *v, *arg = argv[i];
#define OPT(name) ((v = option_value(argc, argv, &i, name, &missing)) || missing)
    if (!strcmp(arg, "--dry-run")) {
      aws.dry_run = true;
      continue;
    }
    if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) return usage(stdout), 0;
    if (!(OPT("--function") || OPT("--role") || OPT("--zip") || OPT("--memory") ||
          OPT("--timeout") || OPT("--region") || OPT("--profile")))
      return bad_usage("deploy: unknown argument '%s'", arg);
    if (missing) return bad_usage("option %s needs a value", arg);
    if (!strncmp(arg, "--function", 10)) function = v;
    if (!strncmp(arg, "--role", 6)) role = v;
    if (!strncmp(arg, "--zip", 5)) zip = v;
    if (!strncmp(arg, "--region", 8)) aws.region = v;
    if (!strncmp(arg, "--profile", 9)) aws.profile = v;
    /* Lambda's own limits: 128..10240 MB, up to 900 s. */
    if (!strncmp(arg, "--memory", 8) && !parse_long(v, 128, 10240, &memory))
      return bad_usage("bad --memory '%s' (128..10240 MB)", v);
    if (!strncmp(arg, "--timeout", 9) && !parse_long(v, 1, 900, &timeout))
      return bad_usage("bad --timeout '%s' (1..900 s)", v);
#undef OPT
  }
  if (!function) return bad_usage("deploy needs --function NAME%s", "");
  if (!role) return bad_usage("deploy needs --role ARN (an execution role for Lambda)%s", "");
  char *found = NULL;
  if (!zip) {
    char *dir = self_dir();
    static const char *const rel[] = {"lambda/function.zip", NULL};
    found = find_relative(dir, rel, false);
    free(dir);
    zip = found;
  }
  if (!zip || (!aws.dry_run && access(zip, R_OK) != 0)) {
    fprintf(stderr, "faultless lambda: %s not found (make lambda)\n",
            zip ? zip : "lambda/function.zip next to this program");
    return 1;
  }
  strbuf_t fileb = {0}, mem = {0}, tmo = {0};
  sb_printf(&fileb, "fileb://%s", zip);
  sb_printf(&mem, "%ld", memory);
  sb_printf(&tmo, "%ld", timeout);

  command_t get, create, code, wait_active, wait_updated, config;
  aws_start(&get, &aws, "get-function");
  add(&get, "--function-name");
  add(&get, function);
  aws_start(&create, &aws, "create-function");
  const char *create_args[] = {"--function-name",
                               function,
                               "--runtime",
                               "provided.al2023",
                               "--architectures",
                               "x86_64",
                               "--handler",
                               "seed",
                               "--role",
                               role,
                               "--memory-size",
                               mem.data,
                               "--timeout",
                               tmo.data,
                               "--zip-file",
                               fileb.data,
                               "--description",
                               "faultless: the seed experiment, first touch of memory",
                               NULL};
  for (int i = 0; create_args[i]; i++)
    add(&create, create_args[i]);
  aws_start(&code, &aws, "update-function-code");
  add(&code, "--function-name");
  add(&code, function);
  add(&code, "--zip-file");
  add(&code, fileb.data);
  aws_start(&config, &aws, "update-function-configuration");
  const char *config_args[] = {"--function-name", function,    "--memory-size",
                               mem.data,          "--timeout", tmo.data,
                               "--role",          role,        NULL};
  for (int i = 0; config_args[i]; i++)
    add(&config, config_args[i]);
  /* Lambda refuses a second update while the first is in progress. */
  aws_start(&wait_active, &aws, "wait");
  add(&wait_active, "function-active-v2");
  add(&wait_active, "--function-name");
  add(&wait_active, function);
  aws_start(&wait_updated, &aws, "wait");
  add(&wait_updated, "function-updated-v2");
  add(&wait_updated, "--function-name");
  add(&wait_updated, function);

  int rc = 0;
  if (aws.dry_run) {
    printf("# faultless lambda deploy --dry-run: the commands it would run\n");
    print_command(&get, stdout);
    printf("# when get-function fails (no such function):\n");
    print_command(&create, stdout);
    print_command(&wait_active, stdout);
    printf("# when it exists:\n");
    print_command(&code, stdout);
    print_command(&wait_updated, stdout);
    print_command(&config, stdout);
    print_command(&wait_updated, stdout);
  } else {
    int exists = run(&get);
    if (exists < 0) {
      rc = 1;
    } else if (exists != 0) {
      printf("faultless lambda: creating %s\n", function);
      rc = run(&create) || run(&wait_active);
    } else {
      printf("faultless lambda: updating %s\n", function);
      rc = run(&code) || run(&wait_updated) || run(&config) || run(&wait_updated);
    }
    if (rc)
      fprintf(stderr, "faultless lambda: deploy failed (the aws message is above)\n");
    else
      printf("faultless lambda: %s is ready (%ld MB, %ld s)\n", function, memory, timeout);
  }
  command_free(&get);
  command_free(&create);
  command_free(&code);
  command_free(&config);
  command_free(&wait_active);
  command_free(&wait_updated);
  free(fileb.data);
  free(mem.data);
  free(tmo.data);
  free(found);
  return rc ? 1 : 0;
}

/* --- invoke --- */

/* A label as a file name: letters, digits, '.', '-'; anything else '_'. */
static void file_label(strbuf_t *sb, const char *label) {
  for (const char *p = label; *p; p++) {
    char c = *p;
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '-';
    sb_append(sb, keep ? &c : "_", 1);
  }
}

static int cmd_invoke(int argc, char **argv) {
  const char *function = NULL, *out = NULL, *allocators = DEFAULT_ALLOCATORS;
  const char *size = NULL, *align = NULL, *prefault = NULL;
  long rounds = 5, concurrency = 4, chunks = -1, iterations = -1, setup_ms = -1;
  aws_t aws = {0};
  for (int i = 1; i < argc; i++) {
    bool missing;
    const char *v, *arg = argv[i];
#define OPT(name) ((v = option_value(argc, argv, &i, name, &missing)) || missing)
    if (!strcmp(arg, "--dry-run")) {
      aws.dry_run = true;
      continue;
    }
    if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) return usage(stdout), 0;
    if (OPT("--function")) {
      if (missing) return bad_usage("option %s needs a value", arg);
      function = v;
    } else if (OPT("--out")) {
      if (missing) return bad_usage("option %s needs a value", arg);
      out = v;
    } else if (OPT("--allocators")) {
      if (missing || !*v) return bad_usage("option %s needs a value", arg);
      allocators = v;
    } else if (OPT("--rounds")) {
      if (missing || !parse_long(v, 1, 10000, &rounds)) return bad_usage("bad --rounds '%s'", v);
    } else if (OPT("--concurrency")) {
      if (missing || !parse_long(v, 1, 1000, &concurrency))
        return bad_usage("bad --concurrency '%s' (1..1000)", v);
    } else if (OPT("--chunks")) {
      if (missing || !parse_long(v, 1, 1L << 24, &chunks)) return bad_usage("bad --chunks '%s'", v);
    } else if (OPT("--iterations")) {
      if (missing || !parse_long(v, 1, 1000, &iterations))
        return bad_usage("bad --iterations '%s'", v);
    } else if (OPT("--setup-ms")) {
      if (missing || !parse_long(v, 0, 600000, &setup_ms))
        return bad_usage("bad --setup-ms '%s'", v);
    } else if (OPT("--size") || OPT("--align") || OPT("--prefault")) {
      size_t bytes;
      if (missing || !parse_bytes(v, &bytes)) return bad_usage("bad byte count in '%s'", arg);
      if (!strncmp(arg, "--size", 6)) size = v;
      if (!strncmp(arg, "--align", 7)) align = v;
      if (!strncmp(arg, "--prefault", 10)) prefault = v;
    } else {
      return bad_usage("invoke: unknown argument '%s'", arg);
    }
#undef OPT
  }
  if (!function) return bad_usage("invoke needs --function NAME%s", "");
  if (!out) return bad_usage("invoke needs --out DIR (responses go to DIR/raw/)%s", "");

  char *list = xstrdup(allocators);
  char *labels[64];
  int nlabels = 0;
  for (char *save, *item = strtok_r(list, ",", &save); item && nlabels < 64;
       item = strtok_r(NULL, ",", &save))
    labels[nlabels++] = item;
  if (nlabels == 0) return free(list), bad_usage("no allocator in '%s'", allocators);

  strbuf_t raw = {0};
  sb_printf(&raw, "%s/raw", out);
  if (!aws.dry_run && ((mkdir(out, 0777) != 0 && errno != EEXIST) ||
                       (mkdir(raw.data, 0777) != 0 && errno != EEXIST))) {
    fprintf(stderr, "faultless lambda: cannot create %s: %s\n", raw.data, strerror(errno));
    return free(list), free(raw.data), 1;
  }

  /* Every round asks for every allocator, in an order rotated per round so
   * that no allocator always lands on the sandboxes that start first. */
  int total = (int)rounds * nlabels;
  command_t *cmds = xmalloc((size_t)total * sizeof *cmds);
  for (int r = 0, n = 0; r < rounds; r++)
    for (int k = 0; k < nlabels; k++, n++) {
      const char *label = labels[(k + r) % nlabels];
      strbuf_t payload = {0}, file = {0};
      sb_printf(&payload, "{\"allocator\":\"%s\",\"round\":%d", label, r);
      if (chunks > 0) sb_printf(&payload, ",\"chunks\":%ld", chunks);
      if (iterations > 0) sb_printf(&payload, ",\"iterations\":%ld", iterations);
      if (setup_ms >= 0) sb_printf(&payload, ",\"setup_ms\":%ld", setup_ms);
      /* Byte counts travel as the strings given ("1M"): the handler parses
       * them as faultless bench does. */
      if (size) sb_printf(&payload, ",\"size\":\"%s\"", size);
      if (align) sb_printf(&payload, ",\"align\":\"%s\"", align);
      if (prefault) sb_printf(&payload, ",\"prefault\":\"%s\"", prefault);
      sb_printf(&payload, "}");
      sb_printf(&file, "%s/r%03d-", raw.data, r);
      file_label(&file, label);
      command_t *c = &cmds[n];
      aws_start(c, &aws, "invoke");
      add(c, "--function-name");
      add(c, function);
      add(c, "--cli-binary-format");
      add(c, "raw-in-base64-out"); /* CLI v2 would otherwise want base64 */
      add(c, "--cli-read-timeout");
      add(c, "900");
      add(c, "--payload");
      add(c, payload.data);
      sb_printf(&file, ".json");
      add(c, file.data);
      /* The CLI's own answer (StatusCode, FunctionError) goes next to it. */
      file.len -= 5;
      sb_printf(&file, ".meta.json");
      c->stdout_path = file.data;
      free(payload.data);
    }

  int failed = 0;
  if (aws.dry_run) {
    printf("# faultless lambda invoke --dry-run: %d invocations, %ld at a time\n", total,
           concurrency);
    printf("mkdir -p %s\n", raw.data);
    for (int i = 0; i < total; i++)
      print_command(&cmds[i], stdout);
  } else {
    /* A small pool: at most `concurrency` aws processes at once. */
    pid_t *pids = xmalloc((size_t)total * sizeof *pids);
    int started = 0, running = 0, done = 0;
    progress_start("lambda", total);
    while (done < total) {
      while (running < concurrency && started < total) {
        pids[started] = spawn(&cmds[started]);
        if (pids[started] < 0) {
          failed++;
          done++;
        } else {
          running++;
        }
        started++;
      }
      int status;
      pid_t pid = wait(&status);
      if (pid < 0) break;
      running--;
      done++;
      int which = -1;
      for (int i = 0; i < started; i++)
        if (pids[i] == pid) which = i;
      bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      char *meta = which >= 0 ? read_text(cmds[which].stdout_path) : NULL;
      if (meta && strstr(meta, "\"FunctionError\"")) ok = false;
      if (!ok) {
        failed++;
        progress_clear();
        fprintf(stderr, "faultless lambda: invocation failed: %s\n",
                which >= 0 ? cmds[which].argv[cmds[which].argc - 1] : "?");
      }
      free(meta);
      progress_update(done, "%d/%d invocations answered", done, total);
    }
    progress_end();
    free(pids);
    printf("faultless lambda: %d of %d invocations answered; now: faultless lambda collect %s\n",
           total - failed, total, out);
  }
  for (int i = 0; i < total; i++)
    command_free(&cmds[i]);
  free(cmds);
  free(list);
  free(raw.data);
  return failed ? 1 : 0;
}

/* --- collect --- */

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

static kind_t kind_of(const char *name) {
  static const struct {
    const char *name;
    kind_t kind;
  } kinds[] = {{"glibc", KIND_GLIBC},
               {"glibc-tuned", KIND_GLIBC_TUNED},
               {"preload", KIND_PRELOAD},
               {"faultless-api", KIND_FAULTLESS},
               {"faultless-preload", KIND_FAULTLESS_PRELOAD}};
  for (size_t i = 0; name && i < sizeof kinds / sizeof kinds[0]; i++)
    if (!strcmp(name, kinds[i].name)) return kinds[i].kind;
  return KIND_PRELOAD;
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

/* Add one response's runs to b. Returns false (with a note) when it cannot. */
static bool add_response(bench_t *b, const char *name, const jv_t *d, bool first, FILE *lambda_csv,
                         size_t *run_cap) {
  strbuf_t msg = {0};
  if (jv_get(d, "errorType")) {
    sb_printf(&msg, "%s: the function failed: %s: %s", name, jv_str(jv_get(d, "errorType")),
              jv_str(jv_get(d, "errorMessage")) ? jv_str(jv_get(d, "errorMessage")) : "");
    return note(b, msg.data), false;
  }
  const jv_t *opt = jv_get(d, "options"), *runs = jv_get(d, "runs"),
             *allocs = jv_get(d, "allocators");
  if (!opt || !runs || runs->type != JV_ARRAY || !allocs) {
    sb_printf(&msg, "%s: not a faultless bench result; skipped", name);
    return note(b, msg.data), false;
  }
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
    sb_printf(&msg, "%s: measured with other chunks/size/iterations/threads; skipped", name);
    return note(b, msg.data), false;
  }
  for (size_t i = 0; i < allocs->count; i++) {
    const jv_t *a = allocs->items[i];
    const char *label = jv_str(jv_get(a, "label"));
    if (!label || find_label(b, label) >= 0) continue;
    if (b->nvariants >= (int)(sizeof b->variants / sizeof b->variants[0])) continue;
    variant_t *v = &b->variants[b->nvariants++];
    memset(v, 0, sizeof *v);
    v->label = xstrdup(label);
    v->base = xstrdup(jv_str(jv_get(a, "allocator")) ? jv_str(jv_get(a, "allocator")) : label);
    v->kind = kind_of(jv_str(jv_get(a, "kind")));
    if (jv_str(jv_get(a, "library"))) v->library = xstrdup(jv_str(jv_get(a, "library")));
    if (jv_str(jv_get(a, "library_realpath")))
      v->library_real = xstrdup(jv_str(jv_get(a, "library_realpath")));
    if (jv_str(jv_get(a, "package"))) v->package_version = xstrdup(jv_str(jv_get(a, "package")));
    v->setup_ms = num(a, "setup_ms", 0);
    v->prefault = (size_t)num(a, "prefault", 0);
  }
  const jv_t *skipped = jv_get(d, "skipped");
  for (size_t i = 0; skipped && i < skipped->count; i++) {
    strbuf_t s = {0};
    sb_printf(&s, "%s: %s", name, jv_str(skipped->items[i]) ? jv_str(skipped->items[i]) : "?");
    note(b, s.data);
  }
  const jv_t *lambda = jv_get(d, "lambda");
  long want_round = num(lambda, "round", -1);
  for (size_t i = 0; i < runs->count; i++) {
    const jv_t *r = runs->items[i];
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
      sb_printf(&msg, "%s: run %zu has no usable samples; skipped", name, i);
      note(b, msg.data);
      msg = (strbuf_t){0};
      continue;
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
  free(msg.data);
  return true;
}

static int by_name(const struct dirent **a, const struct dirent **b) {
  return strcmp((*a)->d_name, (*b)->d_name);
}

static int select_json(const struct dirent *e) {
  size_t n = strlen(e->d_name);
  return n > 5 && !strcmp(e->d_name + n - 5, ".json") && !strstr(e->d_name, ".meta.json");
}

static int cmd_collect(int argc, char **argv) {
  const char *dir = NULL, *out = NULL;
  for (int i = 1; i < argc; i++) {
    bool missing;
    const char *v;
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return usage(stdout), 0;
    if ((v = option_value(argc, argv, &i, "--out", &missing)) || missing) {
      if (missing) return bad_usage("option %s needs a value", "--out");
      out = v;
    } else if (argv[i][0] == '-' || dir) {
      return bad_usage("collect: unexpected argument '%s'", argv[i]);
    } else {
      dir = argv[i];
    }
  }
  if (!dir) return bad_usage("collect needs DIR (what faultless lambda invoke --out wrote)%s", "");
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
  strbuf_t cmd = {0};
  sb_printf(&cmd, "faultless lambda");
  for (int i = 0; i < argc; i++) {
    sb_append(&cmd, " ", 1);
    sb_shell_quote(&cmd, argv[i]);
  }
  b.command = cmd.data;
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

int cmd_lambda(int argc, char **argv) {
  if (argc < 2) return usage(stderr), EXIT_USAGE;
  const char *verb = argv[1];
  if (!strcmp(verb, "deploy")) return cmd_deploy(argc - 1, argv + 1);
  if (!strcmp(verb, "invoke")) return cmd_invoke(argc - 1, argv + 1);
  if (!strcmp(verb, "collect")) return cmd_collect(argc - 1, argv + 1);
  if (!strcmp(verb, "-h") || !strcmp(verb, "--help")) return usage(stdout), 0;
  return bad_usage("unknown lambda command '%s' (deploy, invoke, collect)", verb);
}
