// SPDX-License-Identifier: MIT
/* Option values: the syntax of every FAULTLESS_* option, parsed without
 * touching the library's state. The library reads its options with it
 * (options.c), and the faultless command checks what it is given with the
 * same code before it passes the value on (cli/run.c). */
#ifndef FL_PARSE_H
#define FL_PARSE_H

#include <stdbool.h>

/* Each option: NAME, what its values are, its default. */
#define FL_OPTIONS(X)                                                                              \
  X(PREFAULT, "size or %", "auto")                                                                 \
  X(PREFAULT_PID, "pid or any", "any")                                                             \
  X(WARMERS, "count or auto", "auto")                                                              \
  X(THP, "auto, 0 or 1", "auto")                                                                   \
  X(BUDGET, "size", "none")                                                                        \
  X(RELEASE, "never or duration", "never")                                                         \
  X(VERBOSE, "0 or 1", "0")                                                                        \
  X(STATS, "0, 1 or json", "0")                                                                    \
  X(RESERVE, "size", "64G")                                                                        \
  X(WARM_METHOD, "auto, populate or touch", "auto")                                                \
  X(HEADROOM, "size or auto", "auto")                                                              \
  X(AHEAD, "size, auto or 0", "auto")                                                              \
  X(POPULATE, "size or auto", "auto")                                                              \
  X(PASSTHROUGH, "auto, 0 or 1", "auto")                                                           \
  X(MMAP, "auto, 0 or 1", "auto")

typedef enum fl_option_e {
#define FL_OPTION_ENUM(name, kind, def) FL_OPT_##name,
  FL_OPTIONS(FL_OPTION_ENUM)
#undef FL_OPTION_ENUM
      FL_OPT_COUNT
} fl_option_t;

#define FL_AUTO (-1LL)             /* "auto", "none" or "never" */
#define FL_PERCENT_BIT (1LL << 62) /* PREFAULT given as a percentage */

/* Smallest RESERVE: four chunks (options.c checks it against FL_CHUNK). */
#define FL_RESERVE_MIN (4ull << 21)

/* Parse "64M", "1.5G", "4096" into bytes. Returns false when malformed. */
__attribute__((visibility("hidden"))) bool _fl_parse_size(const char *s, unsigned long long *out);
/* Parse a value of opt into *out (FL_AUTO, FL_PERCENT_BIT, bytes, counts,
 * milliseconds). Returns false when malformed, leaving *out alone. */
__attribute__((visibility("hidden"))) bool _fl_option_parse(fl_option_t opt, const char *s,
                                                            long long *out);

#endif
