// SPDX-License-Identifier: MIT
/* faultless lambda: the seed's experiment on AWS Lambda, through the AWS CLI.
 *   deploy   create or update the function from build/lambda/function.zip
 *   invoke   N rounds x every allocator, C invocations at a time
 *   collect  merge the recorded responses into results.json + charts, as
 *            `faultless bench --out` writes them (lambda_collect.c)
 * --dry-run prints the exact aws commands instead of running them. */
#define _GNU_SOURCE
#include "lambda.h"

#include "../tools/progress.h"
#include "../tools/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_ALLOCATORS                                                                         \
  "glibc,glibc-tuned,jemalloc,mimalloc,tcmalloc,faultless,faultless:setup-ms=300:prefault=128M"

void lambda_usage(FILE *out) {
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

/* --- Commands --- */

typedef struct {
  char *argv[48];
  int argc;
  char *stdout_path; /* where its stdout goes (NULL: /dev/null) */
} command_t;

typedef struct {
  const char *region, *profile;
  bool dry_run;
} aws_t;

/* Append the arguments, up to a NULL. */
static void add(command_t *c, ...) {
  va_list ap;
  va_start(ap, c);
  for (const char *arg; (arg = va_arg(ap, const char *)) && c->argc < 47;)
    c->argv[c->argc++] = xstrdup(arg);
  va_end(ap);
  c->argv[c->argc] = NULL;
}

/* "aws [--region R] [--profile P] lambda VERB". */
static void aws_command(command_t *c, const aws_t *aws, const char *verb) {
  memset(c, 0, sizeof *c);
  add(c, "aws", NULL);
  if (aws->region) add(c, "--region", aws->region, NULL);
  if (aws->profile) add(c, "--profile", aws->profile, NULL);
  add(c, "lambda", verb, NULL);
}

static void command_free(command_t *c) {
  for (int i = 0; i < c->argc; i++)
    free(c->argv[i]);
  free(c->stdout_path);
  memset(c, 0, sizeof *c);
}

static void print_command(const command_t *c) {
  strbuf_t sb = {0};
  for (int i = 0; i < c->argc; i++) {
    if (i) sb_append(&sb, " ", 1);
    sb_shell_quote(&sb, c->argv[i]);
  }
  if (c->stdout_path) {
    sb_append(&sb, " >", 2);
    sb_shell_quote(&sb, c->stdout_path);
  }
  printf("%s\n", sb.data);
  free(sb.data);
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

typedef struct {
  const char *function, *role, *zip;
  long memory, timeout;
  aws_t aws;
} deploy_t;

/* 0, or EXIT_USAGE (said), or -1 for --help (printed). */
static int parse_deploy(deploy_t *d, int argc, char **argv) {
  *d = (deploy_t){.memory = 2048, .timeout = 300};
  /* Lambda's own limits: 128..10240 MB, up to 900 s. */
  const opt_t opts[] = {
      {"--function", OPT_STRING, &d->function, 0, 0, NULL},
      {"--role", OPT_STRING, &d->role, 0, 0, NULL},
      {"--zip", OPT_STRING, &d->zip, 0, 0, NULL},
      {"--memory", OPT_LONG, &d->memory, 128, 10240, " (128..10240 MB)"},
      {"--timeout", OPT_LONG, &d->timeout, 1, 900, " (1..900 s)"},
      {"--region", OPT_STRING, &d->aws.region, 0, 0, NULL},
      {"--profile", OPT_STRING, &d->aws.profile, 0, 0, NULL},
      {"--dry-run", OPT_FLAG, &d->aws.dry_run, 0, 0, NULL},
  };
  int rc = parse_args(argc, argv, opts, sizeof opts / sizeof opts[0], "faultless lambda deploy",
                      lambda_usage);
  if (rc) return rc;
  if (!d->function) return lambda_bad_usage("deploy needs --function NAME");
  if (!d->role) return lambda_bad_usage("deploy needs --role ARN (an execution role for Lambda)");
  return 0;
}

enum { GET, CREATE, WAIT_ACTIVE, CODE, WAIT_UPDATED, CONFIG, NSTEPS };

/* The aws commands of a deploy, in steps[]. */
static void deploy_commands(const deploy_t *d, const char *zip, command_t steps[NSTEPS]) {
  char fileb[4200], mem[32], tmo[32];
  snprintf(fileb, sizeof fileb, "fileb://%s", zip);
  snprintf(mem, sizeof mem, "%ld", d->memory);
  snprintf(tmo, sizeof tmo, "%ld", d->timeout);
  const char *verbs[NSTEPS] = {"get-function", "create-function",
                               "wait",         "update-function-code",
                               "wait",         "update-function-configuration"};
  for (int k = 0; k < NSTEPS; k++)
    aws_command(&steps[k], &d->aws, verbs[k]);
  /* Lambda refuses a second update while the first is in progress: wait. */
  add(&steps[WAIT_ACTIVE], "function-active-v2", NULL);
  add(&steps[WAIT_UPDATED], "function-updated-v2", NULL);
  for (int k = 0; k < NSTEPS; k++)
    add(&steps[k], "--function-name", d->function, NULL);
  add(&steps[CREATE], "--runtime", "provided.al2023", "--architectures", "x86_64", "--handler",
      "seed", "--role", d->role, "--memory-size", mem, "--timeout", tmo, "--zip-file", fileb,
      "--description", "faultless: the seed experiment, first touch of memory", NULL);
  add(&steps[CODE], "--zip-file", fileb, NULL);
  add(&steps[CONFIG], "--memory-size", mem, "--timeout", tmo, "--role", d->role, NULL);
}

static int deploy_run(const deploy_t *d, command_t steps[NSTEPS]) {
  int exists = run(&steps[GET]), rc = 1;
  if (exists < 0) return 1;
  if (exists != 0) {
    printf("faultless lambda: creating %s\n", d->function);
    rc = run(&steps[CREATE]) || run(&steps[WAIT_ACTIVE]);
  } else {
    printf("faultless lambda: updating %s\n", d->function);
    rc = run(&steps[CODE]) || run(&steps[WAIT_UPDATED]) || run(&steps[CONFIG]) ||
         run(&steps[WAIT_UPDATED]);
  }
  if (rc)
    fprintf(stderr, "faultless lambda: deploy failed (the aws message is above)\n");
  else
    printf("faultless lambda: %s is ready (%ld MB, %ld s)\n", d->function, d->memory, d->timeout);
  return rc;
}

static int cmd_deploy(int argc, char **argv) {
  deploy_t d;
  int rc = parse_deploy(&d, argc, argv);
  if (rc) return rc < 0 ? 0 : rc;
  char *found = NULL;
  if (!d.zip) {
    char *dir = self_dir();
    static const char *const rel[] = {"lambda/function.zip", NULL};
    d.zip = found = find_relative(dir, rel, false);
    free(dir);
  }
  if (!d.zip || (!d.aws.dry_run && access(d.zip, R_OK) != 0)) {
    fprintf(stderr, "faultless lambda: %s not found (make lambda)\n",
            d.zip ? d.zip : "lambda/function.zip next to this program");
    return 1;
  }
  command_t steps[NSTEPS];
  deploy_commands(&d, d.zip, steps);
  if (d.aws.dry_run) {
    printf("# faultless lambda deploy --dry-run: the commands it would run\n");
    print_command(&steps[GET]);
    printf("# when get-function fails (no such function):\n");
    print_command(&steps[CREATE]);
    print_command(&steps[WAIT_ACTIVE]);
    printf("# when it exists:\n");
    for (int k = CODE; k < NSTEPS; k++)
      print_command(&steps[k]);
    print_command(&steps[WAIT_UPDATED]);
  } else {
    rc = deploy_run(&d, steps);
  }
  for (int k = 0; k < NSTEPS; k++)
    command_free(&steps[k]);
  free(found);
  return rc ? 1 : 0;
}

/* --- invoke --- */

typedef struct {
  const char *function, *out, *allocators;
  const char *size, *align, *prefault; /* as given ("1M"): the handler parses them */
  long rounds, concurrency, chunks, iterations, setup_ms;
  aws_t aws;
} invoke_t;

/* 0, or EXIT_USAGE (said), or -1 for --help (printed). */
static int parse_invoke(invoke_t *o, int argc, char **argv) {
  *o = (invoke_t){.allocators = DEFAULT_ALLOCATORS,
                  .rounds = 5,
                  .concurrency = 4,
                  .chunks = -1,
                  .iterations = -1,
                  .setup_ms = -1};
  size_t bytes;
  const opt_t opts[] = {
      {"--function", OPT_STRING, &o->function, 0, 0, NULL},
      {"--out", OPT_STRING, &o->out, 0, 0, NULL},
      {"--allocators", OPT_STRING, &o->allocators, 0, 0, NULL},
      {"--size", OPT_STRING, &o->size, 0, 0, NULL},
      {"--align", OPT_STRING, &o->align, 0, 0, NULL},
      {"--prefault", OPT_STRING, &o->prefault, 0, 0, NULL},
      {"--rounds", OPT_LONG, &o->rounds, 1, 10000, NULL},
      {"--concurrency", OPT_LONG, &o->concurrency, 1, 1000, " (1..1000)"},
      {"--chunks", OPT_LONG, &o->chunks, 1, 1L << 24, NULL},
      {"--iterations", OPT_LONG, &o->iterations, 1, 1000, NULL},
      {"--setup-ms", OPT_LONG, &o->setup_ms, 0, 600000, NULL},
      {"--region", OPT_STRING, &o->aws.region, 0, 0, NULL},
      {"--profile", OPT_STRING, &o->aws.profile, 0, 0, NULL},
      {"--dry-run", OPT_FLAG, &o->aws.dry_run, 0, 0, NULL},
  };
  int rc = parse_args(argc, argv, opts, sizeof opts / sizeof opts[0], "faultless lambda invoke",
                      lambda_usage);
  if (rc) return rc;
  /* Byte counts travel as the strings given ("1M"), for the handler to parse
   * as faultless bench does: here they are only checked. */
  const char *sizes[] = {o->size, o->align, o->prefault};
  for (int k = 0; k < 3; k++)
    if (sizes[k] && !parse_bytes(sizes[k], &bytes))
      return lambda_bad_usage("bad byte count in '%s'", sizes[k]);
  if (!o->function) return lambda_bad_usage("invoke needs --function NAME");
  if (!o->out) return lambda_bad_usage("invoke needs --out DIR (responses go to DIR/raw/)");
  return 0;
}

/* One invocation: its payload, and its response file and the CLI's own
 * answer (StatusCode, FunctionError) next to it, in raw/. */
static void invocation(const invoke_t *o, const char *raw, const char *label, int round,
                       command_t *c) {
  strbuf_t payload = {0}, file = {0};
  sb_printf(&payload, "{\"allocator\":\"%s\",\"round\":%d", label, round);
  if (o->chunks > 0) sb_printf(&payload, ",\"chunks\":%ld", o->chunks);
  if (o->iterations > 0) sb_printf(&payload, ",\"iterations\":%ld", o->iterations);
  if (o->setup_ms >= 0) sb_printf(&payload, ",\"setup_ms\":%ld", o->setup_ms);
  if (o->size) sb_printf(&payload, ",\"size\":\"%s\"", o->size);
  if (o->align) sb_printf(&payload, ",\"align\":\"%s\"", o->align);
  if (o->prefault) sb_printf(&payload, ",\"prefault\":\"%s\"", o->prefault);
  sb_printf(&payload, "}");
  /* The label as a file name: letters, digits, '.', '-'; anything else '_'. */
  sb_printf(&file, "%s/r%03d-", raw, round);
  for (const char *p = label; *p; p++)
    sb_append(&file,
              strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-", *p) ? p
                                                                                             : "_",
              1);
  size_t stem = file.len;
  sb_printf(&file, ".json");
  aws_command(c, &o->aws, "invoke");
  /* CLI v2 would otherwise want the payload in base64 */
  add(c, "--function-name", o->function, "--cli-binary-format", "raw-in-base64-out",
      "--cli-read-timeout", "900", "--payload", payload.data, file.data, NULL);
  file.len = stem;
  sb_printf(&file, ".meta.json");
  c->stdout_path = file.data;
  free(payload.data);
}

/* A small pool: at most `concurrency` aws processes at once. Returns how
 * many failed. */
static int invoke_all(const invoke_t *o, command_t *cmds, int total) {
  pid_t *pids = xmalloc((size_t)total * sizeof *pids);
  int started = 0, running = 0, done = 0, failed = 0;
  progress_start("lambda", total);
  while (done < total) {
    for (; running < o->concurrency && started < total; started++) {
      pids[started] = spawn(&cmds[started]);
      if (pids[started] < 0)
        failed++, done++;
      else
        running++;
    }
    int status, which = -1;
    pid_t pid = wait(&status);
    if (pid < 0) break;
    running--;
    done++;
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
  return failed;
}

static int cmd_invoke(int argc, char **argv) {
  invoke_t o;
  int rc = parse_invoke(&o, argc, argv);
  if (rc) return rc < 0 ? 0 : rc;
  char *list = xstrdup(o.allocators), *labels[64];
  int nlabels = 0;
  for (char *save, *item = strtok_r(list, ",", &save); item && nlabels < 64;
       item = strtok_r(NULL, ",", &save))
    labels[nlabels++] = item;
  if (nlabels == 0) return free(list), lambda_bad_usage("no allocator in '%s'", o.allocators);
  strbuf_t raw = {0};
  sb_printf(&raw, "%s/raw", o.out);
  if (!o.aws.dry_run && mkdir_p(raw.data) != 0) {
    fprintf(stderr, "faultless lambda: cannot create %s: %s\n", raw.data, strerror(errno));
    return free(list), free(raw.data), 1;
  }
  /* Every round asks for every allocator, in an order rotated per round so
   * that no allocator always lands on the sandboxes that start first. */
  int total = (int)o.rounds * nlabels, failed = 0;
  command_t *cmds = xmalloc((size_t)total * sizeof *cmds);
  for (int r = 0, n = 0; r < o.rounds; r++)
    for (int k = 0; k < nlabels; k++, n++)
      invocation(&o, raw.data, labels[(k + r) % nlabels], r, &cmds[n]);
  if (o.aws.dry_run) {
    printf("# faultless lambda invoke --dry-run: %d invocations, %ld at a time\n", total,
           o.concurrency);
    printf("mkdir -p %s\n", raw.data);
    for (int i = 0; i < total; i++)
      print_command(&cmds[i]);
  } else {
    failed = invoke_all(&o, cmds, total);
    printf("faultless lambda: %d of %d invocations answered; now: faultless lambda collect %s\n",
           total - failed, total, o.out);
  }
  for (int i = 0; i < total; i++)
    command_free(&cmds[i]);
  free(cmds);
  free(list);
  free(raw.data);
  return failed ? 1 : 0;
}

int cmd_lambda(int argc, char **argv) {
  if (argc < 2) return lambda_usage(stderr), EXIT_USAGE;
  const char *verb = argv[1];
  if (!strcmp(verb, "deploy")) return cmd_deploy(argc - 1, argv + 1);
  if (!strcmp(verb, "invoke")) return cmd_invoke(argc - 1, argv + 1);
  if (!strcmp(verb, "collect")) return lambda_collect(argc - 1, argv + 1);
  if (!strcmp(verb, "-h") || !strcmp(verb, "--help")) return lambda_usage(stdout), 0;
  return lambda_bad_usage("unknown lambda command '%s' (deploy, invoke, collect)", verb);
}
