// SPDX-License-Identifier: MIT
/* An n-body simulation in the Barnes-Hut manner: every step builds an octree
 * of the bodies, one small malloc'd node per cell (the tree's shape changes
 * as the bodies move), computes each body's force from the tree with an
 * opening angle, moves the bodies and frees the whole tree. The allocator
 * sees bursts of ~100-byte allocations freed together, with the program's
 * own arithmetic in between. Not a thread workload. */
#include "suite.h"

#include <math.h>

typedef struct {
  double x[3], v[3], m;
} body_t;

typedef struct node_s {
  double c[3], half; /* cell centre and half width */
  double com[3], m;  /* centre of mass, mass */
  struct node_s *kid[8];
  int body; /* index of the one body in a leaf, or -1 */
} node_t;

static body_t *bodies;
static uint64_t nodes_made;

static node_t *node_new(const double c[3], double half) {
  node_t *n = suite_xmalloc(sizeof *n);
  memcpy(n->c, c, sizeof n->c);
  n->half = half;
  n->m = 0;
  n->com[0] = n->com[1] = n->com[2] = 0;
  memset(n->kid, 0, sizeof n->kid);
  n->body = -1;
  nodes_made++;
  return n;
}

static int octant(const node_t *n, const double x[3]) {
  return (x[0] > n->c[0]) | (x[1] > n->c[1]) << 1 | (x[2] > n->c[2]) << 2;
}

static node_t *child(node_t *n, int o) {
  if (!n->kid[o]) {
    double c[3], h = n->half / 2;
    for (int d = 0; d < 3; d++)
      c[d] = n->c[d] + ((o >> d) & 1 ? h : -h);
    n->kid[o] = node_new(c, h);
  }
  return n->kid[o];
}

static void insert(node_t *n, int b, int depth) {
  const body_t *p = &bodies[b];
  for (int d = 0; d < 3; d++)
    n->com[d] += p->x[d] * p->m;
  n->m += p->m;
  if (n->body < 0 && n->m == p->m) { /* empty leaf */
    n->body = b;
    return;
  }
  if (n->body >= 0 && depth < 40) { /* leaf turns internal */
    int old = n->body;
    n->body = -2;
    insert(child(n, octant(n, bodies[old].x)), old, depth + 1);
  }
  if (depth < 40) insert(child(n, octant(n, p->x)), b, depth + 1);
}

static void finish(node_t *n) {
  if (n->m > 0)
    for (int d = 0; d < 3; d++)
      n->com[d] /= n->m;
  for (int o = 0; o < 8; o++)
    if (n->kid[o]) finish(n->kid[o]);
}

static void force(const node_t *n, int b, double theta, double acc[3]) {
  if (n->m == 0 || n->body == b) return;
  const body_t *p = &bodies[b];
  double d[3], r2 = 1e-4; /* softening */
  for (int k = 0; k < 3; k++) {
    d[k] = n->com[k] - p->x[k];
    r2 += d[k] * d[k];
  }
  if (n->body >= 0 || 4 * n->half * n->half < theta * theta * r2) {
    double f = n->m / (r2 * sqrt(r2));
    for (int k = 0; k < 3; k++)
      acc[k] += f * d[k];
    return;
  }
  for (int o = 0; o < 8; o++)
    if (n->kid[o]) force(n->kid[o], b, theta, acc);
}

static void tree_free(node_t *n) {
  for (int o = 0; o < 8; o++)
    if (n->kid[o]) tree_free(n->kid[o]);
  free(n);
}

int main(int argc, char **argv) {
  suite_args_t a = suite_parse(argc, argv, "nbody");
  size_t nb = 3000, steps = suite_scaled(&a, 30, 1);
  suite_rng_t rng = suite_rng(99);
  bodies = suite_xmalloc(nb * sizeof *bodies);
  for (size_t i = 0; i < nb; i++) {
    for (int d = 0; d < 3; d++) {
      bodies[i].x[d] = (double)suite_below(&rng, 1u << 20) / (1u << 20) - 0.5;
      bodies[i].v[d] = 0;
    }
    bodies[i].m = 1.0 / (double)nb;
  }
  uint64_t t0 = suite_now_ns();
  for (size_t s = 0; s < steps; s++) {
    double lo = 1e9, hi = -1e9;
    for (size_t i = 0; i < nb; i++)
      for (int d = 0; d < 3; d++) {
        lo = fmin(lo, bodies[i].x[d]);
        hi = fmax(hi, bodies[i].x[d]);
      }
    double c[3] = {(lo + hi) / 2, (lo + hi) / 2, (lo + hi) / 2};
    node_t *root = node_new(c, (hi - lo) / 2 + 1e-9);
    for (size_t i = 0; i < nb; i++)
      insert(root, (int)i, 0);
    finish(root);
    for (size_t i = 0; i < nb; i++) {
      double acc[3] = {0, 0, 0};
      force(root, (int)i, 0.7, acc);
      for (int d = 0; d < 3; d++)
        bodies[i].v[d] += 1e-4 * acc[d];
    }
    for (size_t i = 0; i < nb; i++)
      for (int d = 0; d < 3; d++)
        bodies[i].x[d] += 1e-3 * bodies[i].v[d];
    tree_free(root);
  }
  /* The positions are computed the same way under every allocator. */
  uint64_t check = nodes_made;
  for (size_t i = 0; i < nb; i++) {
    uint64_t bits;
    memcpy(&bits, &bodies[i].x[0], sizeof bits);
    check = check * 31 + bits;
  }
  suite_report(&a, t0, nodes_made, check);
  free(bodies);
  return 0;
}
