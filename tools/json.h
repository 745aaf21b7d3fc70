// SPDX-License-Identifier: MIT
/* A small JSON reader: text -> tree, for the Lambda runtime's events and for
 * merging recorded results. Writing JSON is util.h's json_* functions.
 * Strict RFC 8259: anything else is an error with its byte offset, because an
 * event we half-understood would measure the wrong thing. */
#ifndef FL_TOOLS_JSON_H
#define FL_TOOLS_JSON_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { JV_NULL, JV_BOOL, JV_NUMBER, JV_STRING, JV_ARRAY, JV_OBJECT } jv_type_t;

typedef struct jv jv_t;
struct jv {
  jv_type_t type;
  bool boolean;
  double number;
  char *string; /* JV_STRING: UTF-8, NUL-terminated (\u0000 is refused) */
  char **keys;  /* JV_OBJECT: keys[i] names items[i] */
  jv_t **items; /* JV_ARRAY and JV_OBJECT */
  size_t count;
  const char *raw; /* the value's own text in what jv_parse read (valid while that is) */
  size_t raw_len;
};

/* Parse all of text[0..len); NULL on error with a message in err (when not NULL). */
jv_t *jv_parse(const char *text, size_t len, char *err, size_t errlen);
void jv_free(jv_t *v);

/* Lookups that return NULL when v is not an object/array or has no such item. */
jv_t *jv_get(const jv_t *v, const char *key);
jv_t *jv_at(const jv_t *v, size_t i);
/* The string, or NULL when v is not a string. */
const char *jv_str(const jv_t *v);
/* v as a whole number in [min, max]; false when it is not one. */
bool jv_long(const jv_t *v, long min, long max, long *out);

#endif
