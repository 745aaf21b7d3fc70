// SPDX-License-Identifier: MIT
/* The HTTP/1.1 client of http.h. Responses may be framed by Content-Length,
 * chunked transfer coding, or the end of the connection; anything malformed or
 * over the limits is an error rather than a guess. */
#define _GNU_SOURCE
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- Connecting --- */

/* "host:port" with host a numeric IPv4 address, "localhost" or "[IPv6]". */
static int parse_endpoint(const char *endpoint, struct sockaddr_storage *sa, socklen_t *salen) {
  if (!endpoint) return -1;
  const char *colon = strrchr(endpoint, ':');
  if (!colon || colon == endpoint) return -1;
  char *end;
  errno = 0;
  long port = strtol(colon + 1, &end, 10);
  if (errno || end == colon + 1 || *end || port < 1 || port > 65535) return -1;
  char host[64];
  size_t n = (size_t)(colon - endpoint);
  if (n >= sizeof host) return -1;
  memcpy(host, endpoint, n);
  host[n] = 0;
  memset(sa, 0, sizeof *sa);
  if (host[0] == '[' && host[n - 1] == ']') {
    host[n - 1] = 0;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;
    if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1) return -1;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    *salen = sizeof *s6;
    return 0;
  }
  struct sockaddr_in *s4 = (struct sockaddr_in *)sa;
  if (!strcmp(host, "localhost"))
    s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  else if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
    return -1;
  s4->sin_family = AF_INET;
  s4->sin_port = htons((uint16_t)port);
  *salen = sizeof *s4;
  return 0;
}

/* Wait until fd is ready for `events`; false on timeout (deadline 0: none). */
static bool wait_ready(int fd, short events, long long deadline) {
  for (;;) {
    int ms = -1;
    if (deadline) {
      long long left = deadline - now_ms();
      if (left <= 0) return false;
      ms = left > 1000000 ? 1000000 : (int)left;
    }
    struct pollfd p = {fd, events, 0};
    int rc = poll(&p, 1, ms);
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) return false;
  }
}

/* --- Reading --- */

typedef struct {
  int fd;
  long long deadline;
  char *data;
  size_t len, cap, pos; /* bytes [pos, len) are read but not yet consumed */
  bool eof;
  const char *error;
} conn_t;

/* Read more bytes into the buffer; false at EOF or on error (c->error set). */
static bool fill(conn_t *c) {
  if (c->eof) return false;
  if (c->len + 4096 > c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 16384;
    char *p = realloc(c->data, cap);
    if (!p) return c->error = "out of memory", false;
    c->data = p;
    c->cap = cap;
  }
  for (;;) {
    if (!wait_ready(c->fd, POLLIN, c->deadline)) return c->error = "timed out", false;
    ssize_t n = read(c->fd, c->data + c->len, c->cap - c->len - 1);
    if (n > 0) {
      c->len += (size_t)n;
      c->data[c->len] = 0;
      return true;
    }
    if (n == 0) {
      c->eof = true;
      return false;
    }
    if (errno != EINTR && errno != EAGAIN) return c->error = strerror(errno), false;
  }
}

/* Make at least `need` unconsumed bytes available. */
static bool need_bytes(conn_t *c, size_t need) {
  while (c->len - c->pos < need)
    if (!fill(c)) return false;
  return true;
}

/* A line ending in CRLF (or LF), without it; NULL at EOF. pre: limit > 0. */
static char *read_line(conn_t *c, size_t limit) {
  for (;;) {
    char *start = c->data ? c->data + c->pos : NULL;
    char *nl = start ? memchr(start, '\n', c->len - c->pos) : NULL;
    if (nl) {
      size_t n = (size_t)(nl - start);
      c->pos += n + 1;
      if (n && start[n - 1] == '\r') n--;
      start[n] = 0;
      return start;
    }
    if (c->len - c->pos > limit) return c->error = "line too long", NULL;
    if (!fill(c)) return NULL;
  }
}

static bool append_body(http_response_t *r, const char *p, size_t n) {
  if (r->body_len + n > HTTP_MAX_BODY_BYTES) return false;
  char *b = realloc(r->body, r->body_len + n + 1);
  if (!b) return false;
  memcpy(b + r->body_len, p, n);
  r->body = b;
  r->body_len += n;
  r->body[r->body_len] = 0;
  return true;
}

static bool read_chunked(conn_t *c, http_response_t *r, const char **why) {
  for (;;) {
    char *line = read_line(c, 1024);
    if (!line) return *why = c->error ? c->error : "connection closed in a chunk header", false;
    char *end;
    errno = 0;
    unsigned long long size = strtoull(line, &end, 16);
    if (end == line || errno || (*end && *end != ';') || size > HTTP_MAX_BODY_BYTES)
      return *why = "bad chunk size", false;
    if (size == 0) break;
    /* Keep offsets, not pointers: fill() may move the buffer. */
    if (!need_bytes(c, (size_t)size + 2))
      return *why = c->error ? c->error : "connection closed in a chunk", false;
    const char *data = c->data + c->pos;
    if (data[size] != '\r' || data[size + 1] != '\n')
      return *why = "chunk not followed by CRLF", false;
    if (!append_body(r, data, (size_t)size)) return *why = "body too large", false;
    c->pos += (size_t)size + 2;
  }
  /* Trailer fields, ignored, up to the empty line. */
  for (;;) {
    char *line = read_line(c, HTTP_MAX_HEADER_BYTES);
    if (!line) return *why = c->error ? c->error : "connection closed in the trailer", false;
    if (!*line) return true;
  }
}

static bool read_response(conn_t *c, const char *method, http_response_t *r, const char **why) {
  char *line = read_line(c, HTTP_MAX_HEADER_BYTES);
  if (!line) return *why = c->error ? c->error : "connection closed before a response", false;
  int major, minor, status;
  if (sscanf(line, "HTTP/%d.%d %3d", &major, &minor, &status) != 3 || major != 1 || status < 100 ||
      status > 599)
    return *why = "not an HTTP/1.x status line", false;
  r->status = status;
  size_t header_bytes = 0, cap = 0;
  long long content_length = -1;
  bool chunked = false;
  for (;;) {
    line = read_line(c, HTTP_MAX_HEADER_BYTES);
    if (!line) return *why = c->error ? c->error : "connection closed in the headers", false;
    if (!*line) break;
    header_bytes += strlen(line);
    if (header_bytes > HTTP_MAX_HEADER_BYTES) return *why = "headers too large", false;
    char *colon = strchr(line, ':');
    if (!colon || colon == line) return *why = "malformed header line", false;
    *colon = 0;
    char *value = colon + 1;
    while (*value == ' ' || *value == '\t')
      value++;
    size_t vlen = strlen(value);
    while (vlen && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
      value[--vlen] = 0;
    if (r->nheaders == cap) {
      cap = cap ? cap * 2 : 16;
      http_header_t *h = realloc(r->headers, cap * sizeof *h);
      if (!h) return *why = "out of memory", false;
      r->headers = h;
    }
    r->headers[r->nheaders].name = strdup(line);
    r->headers[r->nheaders].value = strdup(value);
    r->nheaders++;
    if (!strcasecmp(line, "Content-Length")) {
      char *end;
      errno = 0;
      long long n = strtoll(value, &end, 10);
      if (errno || end == value || *end || n < 0) return *why = "bad Content-Length", false;
      if (content_length >= 0 && n != content_length)
        return *why = "conflicting Content-Length headers", false;
      content_length = n;
    } else if (!strcasecmp(line, "Transfer-Encoding")) {
      chunked = strcasestr(value, "chunked") != NULL;
    }
  }
  if (!append_body(r, "", 0)) return *why = "out of memory", false;
  /* No body in these, whatever the headers say (RFC 9112 section 6.3). */
  if (!strcmp(method, "HEAD") || status == 204 || status == 304 || status < 200) return true;
  if (chunked) return read_chunked(c, r, why);
  if (content_length >= 0) {
    if (content_length > HTTP_MAX_BODY_BYTES) return *why = "body too large", false;
    if (!need_bytes(c, (size_t)content_length))
      return *why = c->error ? c->error : "connection closed before the end of the body", false;
    append_body(r, c->data + c->pos, (size_t)content_length);
    c->pos += (size_t)content_length;
    return true;
  }
  /* Framed by the end of the connection. */
  while (fill(c))
    ;
  if (c->error) return *why = c->error, false;
  if (!append_body(r, c->data + c->pos, c->len - c->pos)) return *why = "body too large", false;
  c->pos = c->len;
  return true;
}

/* --- Writing --- */

static bool send_all(int fd, const char *p, size_t n, long long deadline) {
  while (n) {
    if (!wait_ready(fd, POLLOUT, deadline)) return false;
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL); /* a vanished server must not kill us */
    if (w < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return false;
    }
    p += w;
    n -= (size_t)w;
  }
  return true;
}

int http_request(const char *endpoint, const char *method, const char *path,
                 const char *const *headers, const char *body, size_t body_len, long timeout_ms,
                 http_response_t *resp, char *err, size_t errlen) {
  memset(resp, 0, sizeof *resp);
  struct sockaddr_storage sa;
  socklen_t salen;
  if (parse_endpoint(endpoint, &sa, &salen) != 0)
    return set_err(err, errlen, "bad endpoint '%s' (want HOST:PORT, numeric host)",
                   endpoint ? endpoint : "(unset)");
  long long deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
  int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return set_err(err, errlen, "socket: %s", strerror(errno));
  if (connect(fd, (struct sockaddr *)&sa, salen) != 0) {
    int e = errno;
    if (e != EINPROGRESS) {
      close(fd);
      return set_err(err, errlen, "connect to %s: %s", endpoint, strerror(e));
    }
    /* Loopback connects finish at once; still, bound it by the deadline. */
    int so = 0;
    socklen_t len = sizeof so;
    if (!wait_ready(fd, POLLOUT, deadline) || getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len) ||
        so) {
      close(fd);
      return set_err(err, errlen, "connect to %s: %s", endpoint, so ? strerror(so) : "timed out");
    }
  }

  char *head = NULL;
  size_t head_len = 0;
  FILE *h = open_memstream(&head, &head_len);
  if (!h) {
    close(fd);
    return set_err(err, errlen, "out of memory");
  }
  fprintf(h, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nUser-Agent: faultless-lambda\r\n",
          method, path, endpoint);
  for (size_t i = 0; headers && headers[i]; i++)
    fprintf(h, "%s\r\n", headers[i]);
  if (body || strcmp(method, "GET")) fprintf(h, "Content-Length: %zu\r\n", body ? body_len : 0);
  fprintf(h, "\r\n");
  fclose(h);
  bool sent =
      send_all(fd, head, head_len, deadline) && (!body || send_all(fd, body, body_len, deadline));
  free(head);
  if (!sent) {
    int e = errno;
    close(fd);
    return set_err(err, errlen, "%s %s: sending failed: %s", method, path, strerror(e));
  }

  conn_t c = {.fd = fd, .deadline = deadline};
  const char *why = NULL;
  bool ok = read_response(&c, method, resp, &why);
  free(c.data);
  close(fd);
  if (!ok) {
    http_response_free(resp);
    return set_err(err, errlen, "%s %s: %s", method, path, why ? why : "bad response");
  }
  return 0;
}

const char *http_header(const http_response_t *resp, const char *name) {
  for (size_t i = 0; i < resp->nheaders; i++)
    if (!strcasecmp(resp->headers[i].name, name)) return resp->headers[i].value;
  return NULL;
}

void http_response_free(http_response_t *resp) {
  for (size_t i = 0; i < resp->nheaders; i++) {
    free(resp->headers[i].name);
    free(resp->headers[i].value);
  }
  free(resp->headers);
  free(resp->body);
  memset(resp, 0, sizeof *resp);
}
