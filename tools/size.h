// SPDX-License-Identifier: MIT
/* Sizes on command lines and in events: "123", "64K", "1.5M", "2GiB". Every
 * tool reads them with the library's parser (src/parse.c), so that a size means
 * what it means in a FAULTLESS_* option. Header-only: the bench workers link
 * the library (which holds the parser) but not the tools' code. */
#ifndef FL_TOOLS_SIZE_H
#define FL_TOOLS_SIZE_H

#include "parse.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline bool parse_bytes(const char *text, size_t *out) {
  unsigned long long bytes;
  if (!text || !_fl_parse_size(text, &bytes) || bytes > SIZE_MAX) return false;
  *out = (size_t)bytes;
  return true;
}

#endif
