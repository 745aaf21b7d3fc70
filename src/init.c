// SPDX-License-Identifier: MIT
/* Process life: initialisation on the first call (possibly while the dynamic
 * loader is still running, so nothing here may allocate through malloc),
 * start-up warming from a constructor, fork handlers, and the exit summary. */
#include "api.h"

_Atomic int _fl_ready;
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

bool _fl_init_slow(void) {
  int st = atomic_load_explicit(&_fl_ready, memory_order_acquire);
  if (st == 2) return true;
  if (st == 3) return false;
  pthread_mutex_lock(&init_lock);
  st = atomic_load(&_fl_ready);
  if (st == 0) {
    atomic_store(&_fl_ready, 1);
    _fl_options_init();
    _fl_heap_init();
    long long pass = _fl_option(FL_OPT_PASSTHROUGH);
    _fl_passthrough = pass == 1 || (pass == FL_AUTO && _fl_prim_under_valgrind());
    /* Spans are cut, released and guarded in slices: the arena needs pages
     * no larger than one (4, 16 and 64 KiB pages all fit). */
    size_t page = _fl_prim_page_size();
    if (!_fl_passthrough && (page > FL_SLICE || !_fl_is_pow2(page))) {
      _fl_passthrough = true;
      _fl_message("the page size is %zu KiB, larger than the %zu KiB slices it manages memory in; "
                  "the system allocator serves every call (PASSTHROUGH)",
                  page >> 10, FL_SLICE >> 10);
    } else if (_fl_passthrough)
      _fl_verbose("PASSTHROUGH: the system allocator serves every call%s",
                  pass == FL_AUTO ? " (running under valgrind)" : "");
    /* In passthrough mode there is no arena: no reservation, no warming. */
    bool ok = _fl_passthrough || _fl_arena_init();
    atomic_store_explicit(&_fl_ready, ok ? 2 : 3, memory_order_release);
    st = ok ? 2 : 3;
  }
  pthread_mutex_unlock(&init_lock);
  return st == 2;
}

/* --- Fork --------------------------------------------------------------- */

/* Hold every lock across fork() so the child never inherits one held by a
 * thread that does not exist there. */
static void fork_prepare(void) {
  _fl_snapshot_lock(true);
  _fl_heap_lock(true);
  _fl_outside_lock(true);
  _fl_arena_lock(true);
  _fl_span_lock(true);
}

static void fork_parent(void) {
  _fl_span_lock(false);
  _fl_arena_lock(false);
  _fl_outside_lock(false);
  _fl_heap_lock(false);
  _fl_snapshot_lock(false);
}

/* The forking thread holds those locks and is the child's only thread: it
 * releases them as in the parent. Then the layers whose other threads left
 * state behind reset it (arena.c lists all of the arena layer's). */
static void fork_child(void) {
  fork_parent();
  _fl_arena_atfork_child();
  _fl_heap_atfork_child();
}

/* --- Start and exit ----------------------------------------------------- */

__attribute__((constructor)) static void fl_process_start(void) {
  if (!_fl_ensure_init()) return;
  pthread_atfork(fork_prepare, fork_parent, fork_child);
  if (_fl_option(FL_OPT_VERBOSE)) _fl_options_print();
  /* Two copies of faultless in one process (a program with the library
   * linked in statically, run with libfaultless.so or an adapter preloaded):
   * only the copy that serves the process's calls warms, or the two would
   * warm twice the memory and compete for the same core. */
  if (_fl_prim_shadowed("fl_malloc", (void *)fl_malloc)) {
    _fl_verbose("another copy of faultless comes first in this process: this one does not warm");
    return;
  }
  _fl_maps_start();
  /* Warm during the program's own start-up: this is the point of faultless. */
  _fl_arena_start_prefault();
}

__attribute__((destructor)) static void fl_process_end(void) {
  _fl_stats_at_exit();
}
