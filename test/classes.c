// SPDX-License-Identifier: MIT
/* Size classes: the table for sizes up to 1 KiB agrees with the arithmetic
 * above it, every class holds its sizes, and each size gets the tightest. */
#include "heap.h"
#include "testhelper.h"

static size_t by_arithmetic(size_t size) {
  if (size <= 128) return size <= 16 ? 1 : (size + 15) >> 4;
  size_t b = 63 - (size_t)__builtin_clzll(size - 1);
  return 9 + (b - 7) * 4 + (((size - 1) >> (b - 2)) & 3);
}

/* Every byte offset below `end` of a span of class c whose first `carved`
 * blocks are carved: the slow free's check (offset * magic < magic) holds
 * exactly at block starts, and the fast one (_fl_first_slice_block, for the
 * first slice) exactly at the starts of carved blocks. Returns the misses. */
static int check_offsets(size_t c, uint32_t carved, uint32_t end) {
  uint32_t b = _fl_class_size[c];
  fl_span_t s = {.kind = FL_SPAN_SMALL, .cls = (uint8_t)c, .bsize_magic = _fl_class_magic[c]};
  s.carved_end = carved * b;
  s.first_lim = _fl_span_first_lim(&s);
  int bad = 0;
  for (uint32_t off = 0, r = 0, k = 0; off < end; off++) {
    bool start = r == 0;
    bad += ((uint64_t)off * s.bsize_magic < s.bsize_magic) != start;
    if (off < FL_SLICE) bad += _fl_first_slice_block(&s, off) != (start && k < carved);
    if (++r == b) r = 0, k++;
  }
  return bad;
}

int main(void) {
  int table_bad = 0, holds_bad = 0, tight_bad = 0;
  for (size_t size = 0; size <= FL_SMALL_MAX; size++) {
    size_t c = _fl_size_class(size);
    table_bad += c != by_arithmetic(size);
    holds_bad += c < 1 || c >= FL_CLASSES || _fl_class_size[c] < size;
    tight_bad += c > 1 && size <= _fl_class_size[c - 1];
  }
  CHECK(table_bad == 0);
  CHECK(holds_bad == 0);
  CHECK(tight_bad == 0);
  CHECK(_fl_size_class(FL_SMALL_MAX) == FL_CLASSES - 1);
  for (size_t c = 2; c < FL_CLASSES; c++)
    CHECK(_fl_class_size[c] > _fl_class_size[c - 1]);
  for (size_t c = 1; c < FL_CLASSES; c++)
    CHECK(_fl_class_size[c] % FL_ALIGN == 0);
  /* The block-start arithmetic, for counts of carved blocks around where
   * the first slice ends and the limit's cap (0xFFFF) begins. */
  if (!_fl_class_magic[1]) _fl_heap_init();
  int start_bad = 0, descriptor_bad = 0;
  for (size_t c = 1; c < FL_CLASSES; c++) {
    uint32_t b = _fl_class_size[c], first = (FL_SLICE + b - 1) / b; /* blocks starting there */
    uint32_t counts[] = {0, 1, 2, 3, first / 2, first - 1, first, first + 1, 2 * first + 3};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
      start_bad += check_offsets(c, counts[i], i == 0 ? 8 * b + FL_SLICE : FL_SLICE + 2 * b);
    /* A descriptor of another kind has first_lim 0: no offset passes. */
    fl_span_t other = {.kind = FL_SPAN_LARGE, .bsize_magic = _fl_class_magic[c]};
    for (uint32_t off = 0; off < FL_SLICE; off += 16)
      descriptor_bad += _fl_first_slice_block(&other, off);
  }
  CHECK(start_bad == 0);
  CHECK(descriptor_bad == 0);
  /* Colors: a multiple of the block size, leaving the block after it within
   * the range (or 0), and a set of the L1 cache (a 64-byte line within the
   * range) for each class up to 512 bytes that no other class takes. */
  int color_bad = 0, set_shared = 0;
  for (size_t c = 1; c < FL_CLASSES; c++) {
    uint32_t b = _fl_class_size[c], color = _fl_class_color[c];
    color_bad += color % b != 0 || (color != 0 && color + b > FL_COLOR_RANGE);
    for (size_t d = 1; d < FL_CLASSES && b <= 512; d++)
      set_shared += d != c && _fl_class_color[d] / 64 == color / 64;
  }
  CHECK(color_bad == 0);
  CHECK(set_shared == 0);
  return test_report("classes");
}
