/* SPDX-License-Identifier: MIT */
/*
 * Incremental memory checkpoints of a tracee (DESIGN.md, "Scheduling and
 * ticks"): a restore point taken before every resume into user code, and a
 * rollback of every page written since, so that a thread can be run again from
 * the start of its current run of user code.
 *
 * The kernel tracks the writes: a userfaultfd created inside the tracee in
 * asynchronous write-protect mode (UFFD_FEATURE_WP_ASYNC, Linux 6.7) marks
 * every page written since it was last protected, and the PAGEMAP_SCAN ioctl
 * of /proc/PID/pagemap (Linux 6.7) lists those pages and protects them again.
 * The restore point's memory lives in a "mirror": a copy-on-write fork of the
 * tracee that never runs, brought up to date page by page at each sync (the
 * pages a sync copies go into a store of ours beside it); for a
 * process that is not our child, in a "shadow": a sparse memfd of ours
 * indexed by address, filled by a copy (see checkpoint_new()).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/util.h"

/** The memory checkpoint of one process. */
struct checkpoint;

/** A byte range of tracee memory. */
struct checkpoint_range {
	uint64_t addr; /**< first byte */
	uint64_t len;  /**< length in bytes */
};

/**
 * Start tracking the memory of process @pid; the current memory becomes the
 * restore point. @tid is a thread of @pid stopped as tracee_inject_syscall()
 * requires (it runs userfaultfd(2), close(2) and clone(2) there, and is left in
 * a signal-delivery-stop for SIGTRAP). @memfd is /proc/PID/mem opened O_RDWR;
 * it stays the caller's and must outlive the checkpoint.
 *
 * When @pid is our child, the restore point is a mirror: a
 * clone(CLONE_PARENT | CLONE_PTRACE) of it, our child too (the program's
 * wait(2) never sees it), stopped for good. It holds no file open: forked
 * with CLONE_FILES, it swaps the shared file table for an empty one
 * (close_range(2) CLOSE_RANGE_UNSHARE, Linux 5.9). A supervisor that waits with waitpid(-1) hears of it only if
 * someone else kills it: see checkpoint_mirror_pid(). Needs Linux 6.7
 * (UFFD_FEATURE_WP_ASYNC, PAGEMAP_SCAN) and pidfd_getfd(2) (5.6). Stores a new
 * checkpoint in *ret (free with checkpoint_free()).
 * Otherwise (a process the program forked: a mirror would be the program's
 * child, seen by its wait(2) and SIGCHLD) the restore point is a shadow: a
 * memfd of ours holding a copy of every private writable page, made at each
 * checkpoint_remap() (costlier than a fork for a large process, and it takes
 * our memory for every non-zero page), kept up to date by each sync as a
 * mirror would be.
 * Returns 0 or -errno: -EINVAL/-ENOTTY if the kernel lacks the features,
 * what the injected syscalls returned.
 */
int checkpoint_new(pid_t pid, pid_t tid, int memfd, struct checkpoint **ret) _wur_;

/**
 * checkpoint_new(), leaving the @nuntracked ranges at @untracked (page
 * aligned; copied) out: their pages are never write-protected, synced or
 * rolled back, whatever mapping lies there (remaps too), and their writes
 * cost the tracee no fault. For memory whose contents at the restore point
 * nothing needs: the caller puts back what matters itself after a rollback
 * (the syscall buffer's records, recorder/syscallbuf.c). Part of a mapping
 * registered with the userfaultfd is a mapping of its own in
 * /proc/PID/maps. Returns as checkpoint_new(), -EINVAL for a range that is
 * not page aligned.
 */
int checkpoint_new_except(pid_t pid, pid_t tid, int memfd, const struct checkpoint_range *untracked,
			  size_t nuntracked, struct checkpoint **ret) _wur_;

/** checkpoint_new_except() with the kind of restore point chosen: a shadow
 * if @shadow, else a mirror (then @pid must be our child). For tests. */
int checkpoint_new_how(pid_t pid, pid_t tid, int memfd, bool shadow,
		       const struct checkpoint_range *untracked, size_t nuntracked,
		       struct checkpoint **ret) _wur_;

/**
 * Make the current memory the restore point: list the pages written since the
 * last one and protect them again (PAGEMAP_SCAN with PM_SCAN_WP_MATCHING),
 * copy them with process_vm_readv(2) (or /proc/PID/mem) into the
 * checkpoint's store, an area of our memory beside the mirror (the mirror
 * keeps the pages no sync copied since its fork; a shadow's memfd is written
 * instead). The process must be stopped, except threads blocked in
 * syscalls. Pages of MAP_SHARED mappings are not copied (the mirror shares
 * them); pages the mirror lacks (the main stack grew) are kept in our memory.
 * Returns the number of pages copied (>= 0) or -errno: -ESRCH if the tracee
 * died; after any failure the restore point is lost and sync and rollback
 * return -ESTALE until a checkpoint_remap() succeeds.
 */
int checkpoint_sync(struct checkpoint *c) _wur_;

/**
 * The address space changed (mmap, munmap, mremap, brk, mprotect, madvise
 * MADV_DONTNEED & co., which drop pages without marking them written): track
 * the writable mappings there are now (UFFDIO_REGISTER_MODE_WP) and fork a
 * new mirror through thread @tid, stopped as for checkpoint_new(); the old
 * mirror is killed. The current memory becomes the restore point. Costs a
 * fork of the process (page tables of all its memory).
 * Returns 0 or -errno; after a failure sync and rollback return -ESTALE until
 * a remap succeeds.
 */
int checkpoint_remap(struct checkpoint *c, pid_t tid) _wur_;

/**
 * The tracee dropped the pages of [@addr, +@len) (madvise(2) MADV_DONTNEED,
 * which returned 0): the restore point drops them too, without the fork of
 * a checkpoint_remap(). The mirror gets the same madvise(2), injected (its
 * private pages then read as zeros, or as their file's bytes, as the
 * tracee's do: madvise(2)); a shadow gets a hole; saved pages there are
 * forgotten. The dropped pages lose their write protection with them
 * (zap_pte_range(), mm/memory.c: anonymous ptes are cleared whole) and a
 * walk then lists them as written: those of private mappings, which read
 * as the restore point's now, are protected again (not in a shadow), so the
 * next sync copies none of them. Returns 0 or -errno; after a failure the
 * caller remaps (-ESTALE: a remap is due anyway).
 */
int checkpoint_discard(struct checkpoint *c, uint64_t addr, uint64_t len) _wur_;

/**
 * The tracee mapped new private memory at [@addr, +@len) that reads as
 * zeros (mmap(2) MAP_PRIVATE | MAP_ANONYMOUS, brk(2) growing the heap):
 * track its writes (UFFDIO_REGISTER_MODE_WP) without the fork of a
 * checkpoint_remap(). The mirror has no such mapping: a rollback writes
 * zeros back there, or the copy a sync kept in our memory, as for the main
 * stack's growth. Refuses (-EEXIST) a range where the mirror holds a
 * mapping (it would restore that mapping's bytes), and (-E2BIG) when many
 * pages are kept in our memory already: the caller remaps then.
 * Returns 0 or -errno; after -errno other than those two, the caller remaps.
 */
int checkpoint_track_new(struct checkpoint *c, uint64_t addr, uint64_t len) _wur_;

/**
 * Put back every page written since the restore point from the mirror, except
 * the bytes in @keep (@nkeep ranges, in any order; NULL if @nkeep is 0). The
 * process must be stopped; the caller restores the registers. Restored pages
 * stay listed as written until the next sync. Nothing is written unless every
 * page can be restored.
 * Pages below the main stack's extent at the fork (it grew since) come back
 * as zeros, or as the last sync saw them.
 * Returns the number of pages restored (>= 0) or -errno: -ENOENT if a written
 * page has no copy (it lies in a MAP_SHARED mapping, or in a MADV_DONTFORK one
 * and was not synced since the fork): rolling back is impossible; -ESTALE
 * after a failed sync or remap.
 */
int checkpoint_rollback(struct checkpoint *c, const struct checkpoint_range *keep, size_t nkeep) _wur_;

/** Counters since checkpoint_new(). */
struct checkpoint_stats {
	uint64_t syncs;		 /**< checkpoint_sync() calls that succeeded */
	uint64_t pages_synced;	 /**< pages copied into the mirror (4 KiB each) */
	uint64_t rollbacks;	 /**< checkpoint_rollback() calls that succeeded */
	uint64_t pages_restored; /**< pages written back into the tracee */
	uint64_t forks;		 /**< mirrors forked (checkpoint_new() and each remap) */
	uint64_t discards;	 /**< checkpoint_discard() calls that succeeded */
	uint64_t tracked_new;	 /**< checkpoint_track_new() calls that succeeded */
	uint64_t sync_ns;	 /**< wall time in checkpoint_sync() (CLOCK_MONOTONIC) */
	uint64_t scan_ns;	 /**< of which in its PAGEMAP_SCAN walks */
	uint64_t pages_walked;	 /**< tracked pages the syncs' walks went over */
	uint64_t remap_ns;	 /**< in checkpoint_remap() and checkpoint_new() */
	uint64_t rollback_ns;	 /**< in checkpoint_rollback() */
};

/** Copy the counters of @c into *ret. */
void checkpoint_get_stats(const struct checkpoint *c, struct checkpoint_stats *ret);

/**
 * The pid of the current mirror, our child that never runs (-1: a shadow, no
 * process): a supervisor that
 * waits with waitpid(-1) ignores it. Only checkpoint_free() reaps it.
 */
pid_t checkpoint_mirror_pid(const struct checkpoint *c);

/** The dirty log of @c's restore points (dirty.h): its acc may be set. */
struct dirty_log *checkpoint_dirty_log(struct checkpoint *c);

/**
 * Kill the mirror (SIGKILL, then waitpid(2) reaps it), stop tracking (closing
 * the userfaultfd unregisters every range) and free @c. NULL accepted. Safe
 * after the tracee died. Call it before tracee_kill_all(), which waits for
 * every child, and when the tracee execs or exits (the mirror would keep a
 * copy of memory nobody needs).
 */
void checkpoint_free(struct checkpoint *c);
