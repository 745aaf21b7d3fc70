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
#include "internal.h"
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

/* mimalloc 2.0 keeps at most 64 arenas; a few regions per process is plenty. */
#define MAX_REGIONS 8

static _Atomic int started;

typedef struct {
  manage_fn manage;
  area_fn area;
  int version;
} mimalloc_t;

/* Hand mimalloc `bytes` of the arena (rounded to whole blocks), as one
 * region. Returns the bytes mimalloc took. */
static size_t hand_over(const mimalloc_t *mi, size_t bytes) {
  size_t block = block_size(mi->version);
  size_t size = _fl_align_up(bytes, block);
  bool zeroed = false;
  void *p = _fl_pages_alloc(size, block, &zeroed);
  if (!p) return 0;
  /* is_committed: mapped and warm. That also makes mimalloc 2 treat the
   * region as pinned: it never decommits or resets it, so warm pages stay
   * warm. is_large false: these are not huge OS pages reserved up front,
   * and mimalloc must not limit the region to threads that allow them. */
  int id = 0;
  if (!mi->manage(p, size, true, false, zeroed, -1, false, &id)) {
    _fl_pages_free(p);
    return 0;
  }
  size_t used = size;
  if (mi->area) mi->area(id, &used);
  _fl_verbose("mimalloc %d.%d.%d: region %p of %zu MiB (arena %d, %zu MiB used)", mi->version / 100,
              mi->version / 10 % 10, mi->version % 10, p, size >> 20, id, used >> 20);
  return size;
}

/* In the background: wait for the warmers (at idle priority) to warm what
 * PREFAULT asked, then hand it over. Taking the region before would populate
 * it in one go, here, at normal priority. */
static void *hand_over_thread(void *arg) {
  mimalloc_t mi = *(mimalloc_t *)arg;
  fl_free(arg);
  /* The warmers start after this library's constructors. */
  for (int i = 0; i < 100 && fl_prefault_wait(0) == 0; i++)
    usleep(1000);
  fl_prefault_wait(10000);
  fl_stats_t st = {.size = sizeof st};
  fl_stats_get(&st);
  size_t want = (size_t)st.prefault_target, given = 0;
  size_t piece = _fl_align_up(want / MAX_REGIONS + 1, block_size(mi.version));
  for (int r = 0; r < MAX_REGIONS && given < want; r++) {
    size_t got = hand_over(&mi, want - given < piece ? want - given : piece);
    if (!got) break;
    given += got;
  }
  if (want && !given)
    _fl_message("mimalloc: no warm region could be handed over; mimalloc runs unwarmed");
  return NULL;
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
  if (!_fl_ensure_init()) return ENOMEM;
  mimalloc_t *mi = fl_malloc(sizeof *mi);
  if (!mi) return ENOMEM;
  *mi = (mimalloc_t){manage, (area_fn)dlsym(RTLD_DEFAULT, "mi_arena_area"), v};
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int rc = pthread_create(&t, &attr, hand_over_thread, mi);
  pthread_attr_destroy(&attr);
  if (rc) {
    fl_free(mi);
    atomic_store(&started, 0);
  }
  return rc;
}

__attribute__((constructor)) static void mimalloc_adapter_start(void) {
  fl_mimalloc_attach();
}
