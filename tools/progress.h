// SPDX-License-Identifier: MIT
/* One line of progress on stderr, rewritten in place, for the long-running
 * subcommands (bench, suite). Only when stderr is a terminal: on a pipe or a
 * file every call does nothing, so logs hold only the results. There is one
 * line per process (stderr is one), so the state is kept here. */
#ifndef FL_TOOLS_PROGRESS_H
#define FL_TOOLS_PROGRESS_H

#include <stdbool.h>

/* Start counting `total` steps for `who` ("bench"); the clock starts now. */
void progress_start(const char *who, int total);
/* `done` steps are finished and the next is described by fmt: the line shows
 * it, the time since progress_start and an estimate of the time left. */
void progress_update(int done, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Erase the line (before other output on stderr); the next update redraws it. */
void progress_clear(void);
/* Erase the line for good. */
void progress_end(void);
/* Whether progress is being shown (stderr is a terminal). */
bool progress_active(void);

#endif
