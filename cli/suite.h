// SPDX-License-Identifier: MIT
/* faultless suite: the general-purpose allocator suite (bench/suite/) across
 * allocators, each workload a fresh process under LD_PRELOAD. */
#ifndef FL_CLI_SUITE_H
#define FL_CLI_SUITE_H

int cmd_suite(int argc, char **argv);

#endif
