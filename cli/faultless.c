// SPDX-License-Identifier: MIT
/* faultless: the command. Subcommands measure what memory costs here (probe)
 * and how allocators cope with it (bench). It uses the library only through
 * the public header. */
#include "faultless.h"

#include "bench.h"
#include "probe.h"
#include "run.h"
#include "suite.h"
#include "../tools/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out) {
  fprintf(out,
          "usage: faultless COMMAND [options]\n"
          "  bench    the seed's experiment across allocators (faultless bench --help)\n"
          "  lambda   the experiment on AWS Lambda (faultless lambda --help)\n"
          "  probe    what first touch of memory costs on this machine (faultless probe --help)\n"
          "  run      run a program with faultless as its malloc (faultless run --help)\n"
          "  suite    the general-purpose allocator suite (faultless suite --help)\n"
          "  version  print the version\n");
}

/* faultless lambda: the AWS CLI's work, done by the script installed beside
 * this program (cli/faultless-lambda). invoke's byte counts go to the handler
 * as given ("1M"), which reads them with the library's parser: they are
 * checked here with that same parser, so that a bad one is a usage error now
 * and not a failed invocation in Lambda. */
static int cmd_lambda(int argc, char **argv) {
  for (int i = 2; argc > 1 && !strcmp(argv[1], "invoke") && i < argc; i++) {
    static const char *const bytes[] = {"--size", "--align", "--prefault"};
    bool missing;
    size_t n;
    for (int k = 0; k < 3; k++) {
      const char *v = option_value(argc, argv, &i, bytes[k], &missing);
      if (v && !parse_bytes(v, &n))
        return usage_error("faultless lambda", usage,
                           "bad byte count in '%s' (faultless lambda --help)", v);
    }
  }
  char *dir = self_dir();
  static const char *const rel[] = {"faultless-lambda", "../libexec/faultless/lambda", NULL};
  char *script = find_relative(dir, rel, true);
  free(dir);
  if (script) {
    argv[0] = script;
    execv(script, argv);
  }
  fprintf(stderr, "faultless lambda: cannot run %s: %s\n",
          script ? script : "faultless-lambda beside this program",
          strerror(script ? errno : ENOENT));
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "bench")) return cmd_bench(argc - 1, argv + 1);
  if (!strcmp(cmd, "lambda")) return cmd_lambda(argc - 1, argv + 1);
  if (!strcmp(cmd, "probe")) return cmd_probe(argc - 1, argv + 1);
  if (!strcmp(cmd, "run")) return cmd_run(argc - 1, argv + 1);
  if (!strcmp(cmd, "suite")) return cmd_suite(argc - 1, argv + 1);
  if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
    printf("faultless %d.%d.%d\n", FL_VERSION_MAJOR, FL_VERSION_MINOR, FL_VERSION_PATCH);
    return 0;
  }
  if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "faultless: unknown command '%s'\n", cmd);
  usage(stderr);
  return EXIT_USAGE;
}
