// SPDX-License-Identifier: MIT
/* faultless: a memory allocator whose heap lives in a background-warmed arena.
 *
 * Physical memory is mapped ("warmed") by low-priority background threads while
 * the process does its start-up work, so that allocations are later served from
 * memory that is already backed and never wait for first-touch page faults.
 *
 * All functions are thread-safe. Blocks from fl_malloc and friends are aligned
 * to at least 16 bytes and must be released with fl_free (or free(), when the
 * library is used as the process's malloc).
 */
#ifndef FAULTLESS_H
#define FAULTLESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FL_VERSION_MAJOR 0
#define FL_VERSION_MINOR 1
#define FL_VERSION_PATCH 0

/* --- Allocation --------------------------------------------------------- */

/* Like malloc: NULL with errno ENOMEM when size cannot be served. */
void *fl_malloc(size_t size);
/* Like calloc: NULL with errno ENOMEM when count * size overflows. */
void *fl_calloc(size_t count, size_t size);
/* Like realloc; grows large blocks in place when the following memory is free.
 * On failure returns NULL, sets ENOMEM and leaves the old block untouched. */
void *fl_realloc(void *ptr, size_t size);
/* Like free: NULL is a no-op. A pointer faultless did not hand out, or one
 * already freed, stops the process with a one-line message on stderr. */
void fl_free(void *ptr);
/* alignment: any power of two (also above 2 MiB). NULL with errno EINVAL when
 * alignment is not a power of two, ENOMEM when the size cannot be served. */
void *fl_aligned_alloc(size_t alignment, size_t size);
/* Like posix_memalign: returns 0, EINVAL (alignment not a power of two
 * multiple of sizeof(void*)) or ENOMEM; *out is untouched on failure. */
int fl_posix_memalign(void **out, size_t alignment, size_t size);
/* Bytes usable in the block (>= the size asked for); 0 for NULL. */
size_t fl_usable_size(const void *ptr);

/* --- Warming ------------------------------------------------------------ */

/* Start warming, in the background, the next `bytes` of the arena that
 * allocations will use (capped by the budget). Returns at once. Calling it
 * again extends the target; memory already warm is never warmed twice.
 * Returns 0, or ENOMEM when no arena could be reserved. */
int fl_prefault(size_t bytes);
/* Wait until warming has reached its target or stopped (budget, memory
 * pressure), or timeout_ms passes (negative: no limit).
 * Returns 0 when warming is done, ETIMEDOUT otherwise. */
int fl_prefault_wait(long timeout_ms);
/* Give free warm memory back to the OS now (what RELEASE does when idle).
 * Returns the number of bytes released. */
size_t fl_release(void);

/* --- Snapshots ---------------------------------------------------------- */

/* Before a snapshot of the process (AWS Lambda SnapStart, a microVM or CRIU
 * snapshot): stop the warmers, waiting for the chunks they are populating,
 * and give back to the OS every warm byte the program does not hold: the
 * arena above the heap and the free spans in it. Live blocks keep every
 * byte; afterwards the process's resident memory is about what it holds, so
 * the snapshot holds no warm memory that nothing uses. The warm target is
 * remembered, and no warming starts again until fl_snapshot_restored, while
 * allocations go on as usual. Idempotent; safe from any thread at any time. */
void fl_snapshot_prepare(void);
/* After a restore (or whenever a prepared process goes on): read the budget
 * afresh, since the restored machine may differ from the one snapshotted,
 * and warm again in the background up to the remembered target (what
 * fl_prefault asked for, and what prepare gave back). Returns at once;
 * fl_prefault_wait waits for it. Idempotent; without a prepare before it,
 * it only reads the budget again and goes on warming. */
void fl_snapshot_restored(void);

/* --- Options ------------------------------------------------------------ */

/* Set option `name` (e.g. "PREFAULT" or "FAULTLESS_PREFAULT", any case) from
 * its text form, exactly as the environment variable would.
 * Returns 0, ENOENT (no such option) or EINVAL (malformed value; the old value
 * is kept). Options read at start-up (RESERVE, THP) only act before the first
 * allocation. */
int fl_option_set(const char *name, const char *value);
/* The current value of an option as a number (bytes, counts, milliseconds,
 * 0/1; -1 for "auto"), or -2 when there is no such option. */
long long fl_option_get(const char *name);

/* --- Statistics --------------------------------------------------------- */

#define FL_STATS_VERSION 4

/* Where the budget came from. */
typedef enum fl_budget_source_e {
  FL_BUDGET_AVAILABLE = 0,  /* MemAvailable of /proc/meminfo */
  FL_BUDGET_OPTION = 1,     /* FAULTLESS_BUDGET */
  FL_BUDGET_LAMBDA = 2,     /* AWS_LAMBDA_FUNCTION_MEMORY_SIZE */
  FL_BUDGET_CGROUP2 = 3,    /* cgroup v2 memory.max */
  FL_BUDGET_CGROUP1 = 4,    /* cgroup v1 memory.limit_in_bytes */
  FL_BUDGET_RESERVATION = 5 /* the reservation itself was the smallest */
} fl_budget_source_t;

typedef struct fl_stats_s {
  size_t size;                /* set by the caller: sizeof(fl_stats_t) */
  uint32_t version;           /* set by fl_stats_get: FL_STATS_VERSION */
  uint32_t budget_source;     /* an fl_budget_source_t */
  uint64_t reserved;          /* bytes of address space in the reservation */
  uint64_t warm;              /* bytes populated by faultless and not released */
  uint64_t in_use;            /* bytes in spans handed to heaps or large blocks */
  uint64_t peak_in_use;       /* highest in_use seen */
  uint64_t outside;           /* bytes mapped from the OS beyond the reservation */
  uint64_t budget;            /* cap on warm bytes */
  uint64_t prefault_target;   /* bytes the warmers were asked to warm */
  uint64_t warmed_by_warmers; /* bytes the warmers populated */
  uint64_t warmer_ns;         /* time the warmers spent populating */
  uint64_t populated_inline;  /* bytes populated inside allocation calls */
  uint64_t faults_taken;      /* page faults taken inside faultless calls */
  uint64_t faults_avoided;    /* pages handed out that warmers had warmed */
  uint64_t released;          /* bytes given back to the OS */
  uint64_t spans_small;       /* size-class spans created */
  uint64_t spans_large;       /* large spans created */
  uint64_t heaps;             /* thread heaps created */
  uint64_t heaps_reused;      /* thread heaps adopted from exited threads */
  /* version 2 */
  uint64_t warming_ns; /* wall time while at least one warmer ran */
  /* version 3 */
  uint64_t snapshot_prepares;   /* fl_snapshot_prepare calls */
  uint64_t snapshot_released;   /* bytes they gave back (also in released) */
  uint64_t snapshot_prepare_ns; /* time they took */
  uint64_t snapshot_restores;   /* fl_snapshot_restored calls */
  /* version 4: memory a runtime maps itself (FAULTLESS_MMAP) */
  uint64_t mmap_ranges;  /* anonymous private writable ranges tracked */
  uint64_t mmap_warmed;  /* bytes populated in tracked ranges */
  uint64_t mmap_skipped; /* ranges refused or left unwarmed (file, shared, cap, ...) */
  uint64_t mmap_pooled;  /* bytes of commits served from warm memory */
} fl_stats_t;

/* Fill *stats (stats->size must be set; fields beyond it are not written).
 * Returns 0, or EINVAL when stats is NULL or size is too small. */
int fl_stats_get(fl_stats_t *stats);
/* Human-readable stats, one "name: value" per line. */
void fl_stats_print(FILE *out);
/* The same as one JSON object followed by a newline. */
void fl_stats_print_json(FILE *out);

/* --- Checking ----------------------------------------------------------- */

/* Walk the arena's spans and free bins, the calling thread's heap and the
 * heaps of exited threads; return 0 when consistent, otherwise print the
 * first inconsistency on stderr and return EFAULT. (Other live threads'
 * heaps change without locks and are not walked.) */
int fl_heap_check(void);

#ifdef __cplusplus
}
#endif
#endif /* FAULTLESS_H */
