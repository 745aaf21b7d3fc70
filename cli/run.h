// SPDX-License-Identifier: MIT
/* faultless run: a program with libfaultless.so preloaded (cli/run.c). */
#ifndef FL_CLI_RUN_H
#define FL_CLI_RUN_H

int cmd_run(int argc, char **argv);

#endif
