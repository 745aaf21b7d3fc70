// SPDX-License-Identifier: MIT
/* faultless: the command. Subcommands measure what memory costs here (probe)
 * and how allocators cope with it (bench). It uses the library only through
 * the public header. */
#include "faultless.h"

#include "bench.h"
#include "lambda.h"
#include "probe.h"
#include "run.h"
#include "suite.h"
#include "../tools/util.h"

#include <string.h>

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
