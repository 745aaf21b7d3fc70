// SPDX-License-Identifier: MIT
/* The malloc family, for LD_PRELOAD and for programs linked with
 * -lfaultless: every entry point the glibc manual ("Replacing malloc") lists,
 * the __libc_ aliases, and the glibc extras programs call beside them. */
#define _GNU_SOURCE
#include "api.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#define FL_EXPORT __attribute__((visibility("default")))

/* The fast paths themselves, not a jump to fl_malloc/fl_free (api.h). */
FL_EXPORT void *malloc(size_t size) {
  return _fl_malloc_inline(size);
}
FL_EXPORT void free(void *p) {
  _fl_free_inline(p);
}
FL_EXPORT void *calloc(size_t n, size_t size) {
  return fl_calloc(n, size);
}
FL_EXPORT void *realloc(void *p, size_t size) {
  return fl_realloc(p, size);
}

FL_EXPORT void *reallocarray(void *p, size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  return fl_realloc(p, total);
}

FL_EXPORT void *aligned_alloc(size_t align, size_t size) {
  return fl_aligned_alloc(align, size);
}

FL_EXPORT int posix_memalign(void **out, size_t align, size_t size) {
  return fl_posix_memalign(out, align, size);
}

/* memalign: alignment 0 or below 16 means plain malloc, as in glibc. */
FL_EXPORT void *memalign(size_t align, size_t size) {
  if (align <= FL_ALIGN) return fl_malloc(size);
  return fl_aligned_alloc(align, size);
}

FL_EXPORT void *valloc(size_t size) {
  return fl_aligned_alloc(_fl_prim_page_size(), size);
}

FL_EXPORT void *pvalloc(size_t size) {
  size_t page = _fl_prim_page_size();
  size_t rounded = _fl_align_up(size ? size : 1, page);
  if (rounded < size) {
    errno = ENOMEM;
    return NULL;
  }
  return fl_aligned_alloc(page, rounded);
}

FL_EXPORT size_t malloc_usable_size(void *p) {
  return fl_usable_size(p);
}

/* C23: the size and alignment are hints; faultless knows both already. */
FL_EXPORT void free_sized(void *p, size_t size) {
  fl_free(p);
}
FL_EXPORT void free_aligned_sized(void *p, size_t align, size_t size) {
  fl_free(p);
}

/* glibc's internal names, which some programs and libraries call directly. */
FL_EXPORT void *__libc_malloc(size_t size) {
  return fl_malloc(size);
}
FL_EXPORT void __libc_free(void *p) {
  fl_free(p);
}
FL_EXPORT void *__libc_calloc(size_t n, size_t size) {
  return fl_calloc(n, size);
}
FL_EXPORT void *__libc_realloc(void *p, size_t size) {
  return fl_realloc(p, size);
}
FL_EXPORT void *__libc_memalign(size_t align, size_t size) {
  return memalign(align, size);
}
FL_EXPORT void *__libc_valloc(size_t size) {
  return valloc(size);
}
FL_EXPORT void *__libc_pvalloc(size_t size) {
  return pvalloc(size);
}

/* --- glibc's tuning and reporting calls, answered for our heap ---------- */

/* No glibc parameter applies to faultless; accept them all, as a no-op. */
FL_EXPORT int mallopt(int param, int value) {
  return 1;
}

/* Give free memory back to the OS; 1 when some was released. */
FL_EXPORT int malloc_trim(size_t pad) {
  return fl_release() > 0;
}

static void fill_mallinfo(fl_stats_t *st) {
  st->size = sizeof *st;
  fl_stats_get(st);
}

FL_EXPORT struct mallinfo2 mallinfo2(void) {
  fl_stats_t st;
  fill_mallinfo(&st);
  struct mallinfo2 mi;
  memset(&mi, 0, sizeof mi);
  mi.arena = st.warm;      /* memory faultless has populated */
  mi.uordblks = st.in_use; /* in spans handed out */
  mi.fordblks = st.warm > st.in_use ? st.warm - st.in_use : 0;
  mi.hblks = 0;
  mi.hblkhd = st.outside; /* mapped straight from the OS */
  mi.usmblks = st.peak_in_use;
  mi.keepcost = 0;
  return mi;
}

/* The old int-sized form, clamped. */
FL_EXPORT struct mallinfo mallinfo(void) {
  struct mallinfo2 m2 = mallinfo2();
  struct mallinfo mi;
  memset(&mi, 0, sizeof mi);
#define FL_CLAMP(x) ((x) > 0x7fffffff ? 0x7fffffff : (int)(x))
  mi.arena = FL_CLAMP(m2.arena);
  mi.uordblks = FL_CLAMP(m2.uordblks);
  mi.fordblks = FL_CLAMP(m2.fordblks);
  mi.hblkhd = FL_CLAMP(m2.hblkhd);
  mi.usmblks = FL_CLAMP(m2.usmblks);
#undef FL_CLAMP
  return mi;
}

FL_EXPORT void malloc_stats(void) {
  fl_stats_print(stderr);
}

FL_EXPORT int malloc_info(int options, FILE *out) {
  if (options != 0) {
    errno = EINVAL;
    return -1;
  }
  fl_stats_t st;
  fill_mallinfo(&st);
  fprintf(out,
          "<malloc version=\"faultless-1\"><system type=\"current\" size=\"%llu\"/>"
          "<total type=\"in_use\" size=\"%llu\"/></malloc>\n",
          (unsigned long long)st.warm, (unsigned long long)st.in_use);
  return 0;
}
