// SPDX-License-Identifier: MIT
/* A small HTTP/1.1 client for the Lambda Runtime API: one request per
 * connection to a numeric address on the same machine ("127.0.0.1:9001",
 * "localhost:9001", "[::1]:9001"). It resolves no host names, so it needs
 * neither NSS nor a resolver inside the sandbox. */
#ifndef FL_LAMBDA_HTTP_H
#define FL_LAMBDA_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_HEADER_BYTES (64 * 1024)
#define HTTP_MAX_BODY_BYTES (64 * 1024 * 1024) /* Lambda payloads stop at 6 MB */

typedef struct {
  char *name, *value;
} http_header_t;

typedef struct {
  int status;
  http_header_t *headers;
  size_t nheaders;
  char *body; /* NUL-terminated for convenience; body_len excludes the NUL */
  size_t body_len;
} http_response_t;

/* Send one request and read the whole response. `headers` holds extra
 * "Name: value" lines (NULL-terminated, may be NULL). timeout_ms bounds the
 * whole exchange; 0 waits forever (the Runtime API's `next` may legitimately
 * block while the sandbox is frozen). Returns 0, or -1 with a message in err. */
int http_request(const char *endpoint, const char *method, const char *path,
                 const char *const *headers, const char *body, size_t body_len, long timeout_ms,
                 http_response_t *resp, char *err, size_t errlen);
/* The value of header `name` (case-insensitive), or NULL. */
const char *http_header(const http_response_t *resp, const char *name);
void http_response_free(http_response_t *resp);

#endif
