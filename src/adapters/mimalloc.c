// SPDX-License-Identifier: MIT
/* mimalloc adapter: faultless as the page source of mimalloc 2.x. mimalloc
 * has no per-allocation hooks; what it documents is mi_manage_os_memory_ex,
 * which adds a region of memory the caller owns as a mimalloc arena. New
 * segments come from arenas before the OS, so a warm region handed over
 * before the program's real work makes its allocations land in warm memory.
 * The contract is in src/adapters/README.md.
 *
 * mimalloc's header is often not installed: the few entry points are
 * declared here from the documented API and found with dlsym, so the same
 * code serves a preloaded and a linked mimalloc. */
#define _GNU_SOURCE
#include "pages.h"
#include "adapters/faultless-adapters.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

/* mimalloc 2.x: bool mi_manage_os_memory_ex(void *start, size_t size, bool
 * is_committed, bool is_large, bool is_zero, int numa_node, bool exclusive,
 * mi_arena_id_t *arena_id), mi_arena_id_t being an int. */
typedef bool (*manage_fn)(void *, size_t, bool, bool, bool, int, bool, int *);
typedef int (*version_fn)(void);
typedef void *(*area_fn)(int, size_t *);

/* mimalloc 2.0 allocates arenas in blocks of one segment (32 MiB), 2.1 in
 * 64 MiB; a segment is found by masking a pointer, so a region must start on
 * a block boundary and only whole blocks of it are used. */
static size_t block_size(int version) {
  return version >= 210 ? 64 * FL_MiB : 32 * FL_MiB;
}

/* A 2.x segment: 32 MiB, aligned to its size (found by masking a pointer). */
#define SEGMENT_SIZE (32 * FL_MiB)

/* mimalloc 2.0 keeps at most 64 arenas; a few regions per process is plenty. */
#define MAX_REGIONS 8

static _Atomic int started;

typedef struct {
  manage_fn manage;
  area_fn area;
  void *(*mi_malloc)(size_t);
  void (*mi_free)(void *);
  int version;
} mimalloc_t;

static mimalloc_t mi;

/* Hand mimalloc `bytes` of the arena (rounded to whole blocks) as one region,
 * leased: its pages are not populated yet, the warmers do that in address
 * order while mimalloc may already use it. Returns the bytes handed over. */
static size_t hand_over(size_t bytes) {
  size_t block = block_size(mi.version);
  size_t size = _fl_align_up(bytes, block);
  bool zeroed = false;
  void *p = _fl_pages_lease(size, block, &zeroed);
  if (!p) return 0;
  /* is_committed: mimalloc may use every page at once (it will fault in or
   * find it warm). That also makes mimalloc 2 treat the region as pinned: it
   * never decommits or resets it, so warm pages stay warm. is_large false:
   * these are not huge OS pages reserved up front, and mimalloc must not
   * limit the region to threads that allow them. */
  int id = 0;
  if (!mi.manage(p, size, true, false, zeroed, -1, false, &id)) {
    _fl_pages_free(p);
    return 0;
  }
  size_t used = size;
  if (mi.area) mi.area(id, &used);
  _fl_verbose("mimalloc %d.%d.%d: region %p of %zu MiB (arena %d, %zu MiB used)", mi.version / 100,
              mi.version / 10 % 10, mi.version % 10, p, size >> 20, id, used >> 20);
  return size;
}

int fl_mimalloc_attach(void) {
  version_fn version = (version_fn)dlsym(RTLD_DEFAULT, "mi_version");
  manage_fn manage = (manage_fn)dlsym(RTLD_DEFAULT, "mi_manage_os_memory_ex");
  if (!version || !manage) {
    _fl_message("mimalloc is not loaded (preload libmimalloc.so.2 with "
                "libfaultless-mimalloc.so); nothing attached");
    return ENOENT;
  }
  int v = version();
  /* 2.x: the signature above, with is_large and an int arena id. 1.x arenas
   * differ in block size, and 3.x changed both the arena id and the region
   * contract. */
  if (v < 200 || v >= 300) {
    _fl_message("mimalloc %d.%d.%d: mi_manage_os_memory_ex differs from mimalloc 2; not attached, "
                "mimalloc runs unwarmed",
                v / 100, v / 10 % 10, v % 10);
    return ENOTSUP;
  }
  if (atomic_exchange(&started, 1)) return 0;
  if (!_fl_pages_init()) return ENOMEM;
  mi = (mimalloc_t){manage, (area_fn)dlsym(RTLD_DEFAULT, "mi_arena_area"),
                    (void *(*)(size_t))dlsym(RTLD_DEFAULT, "mi_malloc"),
                    (void (*)(void *))dlsym(RTLD_DEFAULT, "mi_free"), v};
  /* PREFAULT is served as regions, not by the core's own start-up warming
   * (memory mimalloc would never see). Without PREFAULT nothing is handed
   * over: mimalloc runs as it would alone. */
  if (!_fl_pages_claim_start_prefault()) {
    _fl_verbose("mimalloc: the start-up prefault already ran; warm regions are not handed over");
    return 0;
  }
  size_t want = _fl_pages_prefault_default(), given = 0;
  if (want == 0 || !_fl_pages_warming_on()) return 0;
  /* The main thread's first segment: mimalloc takes it from the OS before
   * any constructor of ours runs, and fills its free space before it opens a
   * new segment, so the program's first allocations land there, not in a
   * region. The warmers warm it first, then the regions. */
  if (mi.mi_malloc && mi.mi_free) {
    void *probe = mi.mi_malloc(1);
    uintptr_t segment = (uintptr_t)probe & ~(uintptr_t)(SEGMENT_SIZE - 1);
    mi.mi_free(probe);
    if (probe && !_fl_pages_owned((void *)segment))
      _fl_pages_warm_foreign((void *)segment, SEGMENT_SIZE);
  }
  /* Synchronously, before the program's first real allocation: the regions
   * are only reserved here, so this costs a few system calls. */
  size_t piece = _fl_align_up(want / MAX_REGIONS + 1, block_size(v));
  for (int r = 0; r < MAX_REGIONS && given < want; r++) {
    size_t got = hand_over(want - given < piece ? want - given : piece);
    if (!got) break;
    given += got;
  }
  if (!given) {
    _fl_message("mimalloc: no warm region could be handed over; mimalloc runs unwarmed");
    return ENOMEM;
  }
  return 0;
}

/* Before the core's own start-up constructor, which would otherwise warm
 * PREFAULT where mimalloc never looks. */
__attribute__((constructor(200))) static void mimalloc_adapter_start(void) {
  fl_mimalloc_attach();
}
