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
  return test_report("classes");
}
