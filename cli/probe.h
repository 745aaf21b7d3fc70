// SPDX-License-Identifier: MIT
/* faultless probe: what memory costs on this machine (memset bandwidth,
 * first-touch cost per page, warming throughput by method) and the
 * FAULTLESS_* settings that follow from it. */
#ifndef FL_CLI_PROBE_H
#define FL_CLI_PROBE_H

int cmd_probe(int argc, char **argv);

#endif
