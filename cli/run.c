// SPDX-License-Identifier: MIT
/* faultless run: an unmodified program with faultless as its malloc. It
 * preloads libfaultless.so (found next to this binary), turns the options
 * into FAULTLESS_* variables, runs the program as a child and passes its exit
 * status through. The library itself does the work; this only sets the stage.
 *
 * --stats sets FAULTLESS_STATS, which CMD's children inherit: every process
 * that loads the library and returns from main or calls exit() prints its own
 * summary (exec'd images and children that _exit() print nothing more), so
 * the main process prints exactly once. This command then adds one line of
 * its own: CMD's status, wall time, peak RSS and faults of the whole tree. */
#define _GNU_SOURCE
#include "faultless.h"
#include "parse.h"

#include "run.h"

#include "../tools/peers.h"
#include "../tools/util.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static void run_usage(FILE *out) {
  fprintf(out,
          "usage: faultless run [options] -- CMD [ARGS...]\n"
          "Run CMD with libfaultless.so preloaded; exits with CMD's status (128+N when a\n"
          "signal N killed it).\n"
          "  --prefault SIZE  bytes to warm at start-up: 512M, 1.5G, 25%% of the budget, auto\n"
          "  --budget SIZE    cap on warm bytes (size or none)\n"
          "  --warmers N      warmer threads (0 turns warming off, auto)\n"
          "  --stats[=json]   each process that loads faultless prints its statistics on\n"
          "                   stderr when it exits; then this command prints CMD's status,\n"
          "                   wall time and peak RSS\n"
          "  --with ALLOC     keep jemalloc or mimalloc as malloc, with faultless as its page\n"
          "                   source (libfaultless-ALLOC.so and Debian's libjemalloc.so.2 or\n"
          "                   libmimalloc.so.2; src/adapters/README.md)\n"
          "  --verbose        faultless prints its options and decisions; this command\n"
          "                   prints what it runs\n"
          "Options not given here keep what the environment says (FAULTLESS_*).\n");
}

/* --- The library --- */

/* "lib" or "lib:old", unless old already starts with lib. */
static char *preload_value(const char *lib) {
  const char *old = getenv("LD_PRELOAD");
  strbuf_t sb = {0};
  sb_printf(&sb, "%s", lib);
  size_t len = strlen(lib);
  if (old && *old) {
    if (!strncmp(old, lib, len) && (old[len] == 0 || old[len] == ':' || old[len] == ' '))
      sb_printf(&sb, "%s", old + len);
    else
      sb_printf(&sb, ":%s", old);
  }
  return sb.data;
}

/* --- Running --- */

static volatile sig_atomic_t child_pid;

/* Signals meant for the whole job reach the child from the terminal anyway;
 * those sent to us alone (kill PID) are passed on. */
static void forward(int sig) {
  if (child_pid > 0) kill((pid_t)child_pid, sig);
}

static int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

typedef struct {
  const char *value[3]; /* --prefault, --budget, --warmers: run_options' values */
  const char *stats, *with;
  bool verbose;
  char **cmd;
} run_t;

/* The FAULTLESS_* options of `run`: each checked by the library's own parser
 * (src/parse.c) before it goes into the environment. */
static const struct {
  const char *flag, *env, *what;
  fl_option_t opt;
} run_options[] = {
    {"--prefault", "FAULTLESS_PREFAULT", "not a size (512M, 1.5G), N% or auto", FL_OPT_PREFAULT},
    {"--budget", "FAULTLESS_BUDGET", "not a size (512M, 1.5G) or none", FL_OPT_BUDGET},
    {"--warmers", "FAULTLESS_WARMERS", "not a count 0-256 or auto", FL_OPT_WARMERS},
};

#define run_bad_usage(...) usage_error("faultless run", run_usage, __VA_ARGS__)

/* 0; -1 after --help; or EXIT_USAGE (said). The options end at "--" or at
 * the first argument that is none: CMD. */
static int parse_run(run_t *r, int argc, char **argv) {
  *r = (run_t){0};
  const opt_t opts[] = {{"--prefault", OPT_STRING, &r->value[0], 0, 0, NULL},
                        {"--budget", OPT_STRING, &r->value[1], 0, 0, NULL},
                        {"--warmers", OPT_STRING, &r->value[2], 0, 0, NULL},
                        {"--with", OPT_STRING, &r->with, 0, 0, NULL}};
  int i = 1;
  for (; i < argc && strcmp(argv[i], "--"); i++) {
    const char *a = argv[i];
    int took = take_option(argc, argv, &i, opts, sizeof opts / sizeof opts[0], "faultless run");
    if (took < 0) return run_usage(stderr), EXIT_USAGE;
    if (took) continue;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) return run_usage(stdout), -1;
    if (!strcmp(a, "--stats") || !strcmp(a, "--stats=json"))
      r->stats = a[7] ? "json" : "1";
    else if (!strcmp(a, "--verbose") || !strcmp(a, "-v"))
      r->verbose = true;
    else if (a[0] == '-')
      return run_bad_usage("unknown option '%s'", a);
    else
      break;
  }
  long long parsed;
  for (int k = 0; k < 3; k++)
    if (r->value[k] && !_fl_option_parse(run_options[k].opt, r->value[k], &parsed))
      return run_bad_usage("%s '%s': %s", run_options[k].flag, r->value[k], run_options[k].what);
  if (r->with && (!peer_named(r->with) || !peer_named(r->with)->adapter))
    return run_bad_usage("--with '%s': jemalloc or mimalloc", r->with);
  if (i < argc && !strcmp(argv[i], "--")) i++;
  if (i >= argc) return run_bad_usage("no command given");
  r->cmd = argv + i;
  return 0;
}

/* LD_PRELOAD's value: the library, or with --with the adapter and its
 * allocator; NULL (said) when it cannot be preloaded. */
static char *find_preload(const char *with) {
  const peer_t *peer = peer_named(with);
  const char *name = peer ? peer->adapter : "libfaultless";
  char *lib = find_own_library(name);
  if (!lib) {
    char *dir = self_dir();
    fprintf(stderr,
            "faultless run: %s.so is neither in %s nor in %s/../lib%s%s; build it (make lib%s) "
            "or install it (make install, or the libfaultless0 package)\n",
            name, dir, dir, *FL_MULTIARCH ? " or ../lib/" : "", FL_MULTIARCH,
            with ? " adapters" : "");
    free(dir);
    return NULL;
  }
  if (strpbrk(lib, ": ")) {
    fprintf(stderr, "faultless run: cannot preload '%s': LD_PRELOAD splits at ':' and ' '\n", lib);
    free(lib);
    return NULL;
  }
  if (peer) {
    /* The allocator by its soname: the loader's search path finds Debian's copy. */
    char *both = peer_with_adapter(peer, peer->files[0], lib);
    free(lib);
    lib = both;
  }
  char *preload = preload_value(lib);
  free(lib);
  return preload;
}

/* Our environment for CMD (it inherits it), and with --verbose what runs. */
static void set_environment(const run_t *r, const char *preload) {
  setenv("LD_PRELOAD", preload, 1);
  for (int k = 0; k < 3; k++)
    if (r->value[k]) setenv(run_options[k].env, r->value[k], 1);
  if (r->stats) setenv("FAULTLESS_STATS", r->stats, 1);
  if (r->verbose) setenv("FAULTLESS_VERBOSE", "1", 1);
  if (!r->verbose) return;
  strbuf_t sb = {0};
  sb_printf(&sb, "faultless run: LD_PRELOAD=%s", preload);
  static const char *const names[] = {"FAULTLESS_PREFAULT", "FAULTLESS_BUDGET", "FAULTLESS_WARMERS",
                                      "FAULTLESS_STATS", "FAULTLESS_VERBOSE"};
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
    if (getenv(names[k])) sb_printf(&sb, " %s=%s", names[k], getenv(names[k]));
  for (char **c = r->cmd; *c; c++) {
    sb_printf(&sb, " ");
    sb_shell_quote(&sb, *c);
  }
  fprintf(stderr, "%s\n", sb.data);
  free(sb.data);
}

int cmd_run(int argc, char **argv) {
  run_t r;
  int rc = parse_run(&r, argc, argv);
  if (rc) return rc < 0 ? 0 : rc;
  char *preload = find_preload(r.with);
  if (!preload) return 127;
  set_environment(&r, preload);
  free(preload);
  uint64_t start = now_ns();
  int err;
  pid_t pid = child_start(r.cmd, NULL, NULL, CHILD_INHERIT, NULL, NULL, &err);
  if (pid < 0) {
    perror("faultless run: fork");
    return 126;
  }
  child_pid = pid;
  struct sigaction sa = {.sa_handler = forward};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  /* The terminal sends these to CMD as well; we wait for it to react. */
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  int status = child_wait(pid, NULL);
  if (err) {
    fprintf(stderr, "faultless run: %s: %s\n", r.cmd[0], strerror(err));
    return err == ENOENT ? 127 : 126;
  }
  double wall = (double)(now_ns() - start) / 1e9;
  struct rusage ru;
  getrusage(RUSAGE_CHILDREN, &ru);
  int code = exit_code(status);
  char what[64];
  if (WIFSIGNALED(status))
    snprintf(what, sizeof what, "killed by signal %d (exit %d)", WTERMSIG(status), code);
  else
    snprintf(what, sizeof what, "exited with %d", code);
  if (r.stats)
    fprintf(stderr,
            "faultless run: %s %s after %.3f s; peak RSS %.1f MiB (largest process), %ld minor "
            "faults (all processes)\n",
            r.cmd[0], what, wall, (double)ru.ru_maxrss / 1024.0, ru.ru_minflt);
  return code;
}
