/* SPDX-License-Identifier: MIT */
/*
 * kernel-merge (DESIGN.md, "Uniparallel execution"; issue 15, deliverable 5):
 * make a live process from one execution's memory and registers and another
 * process's kernel state. First use: rollback after an end-of-epoch
 * divergence, where A is the TP run's checkpoint k+1 (a stopped copy whose
 * descriptors share the TP run's open files) and B the EP run at the end of
 * epoch k (a stopped process with the same threads, whose memory and
 * registers are the valid execution). The merge writes B's memory, mappings,
 * program break and thread state into A; A keeps its file descriptors, their
 * offsets, its signal dispositions, its children and every other kernel
 * object.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "checkpoint/dirty.h"
#include "common/util.h"

/** One of the two processes merged, stopped with every thread in a ptrace
 * stop from which it may take an injected syscall (tracee_inject_syscall()). */
struct kmerge_side {
	pid_t pid;			   /**< the process */
	int memfd;			   /**< /proc/PID/mem, O_RDWR, the caller's */
	const pid_t *tids;		   /**< its threads, in the order they pair up */
	size_t ntids;			   /**< how many */
	const struct dirty_pages *written; /**< pages it wrote since checkpoint k */
};

/** What a merge did and what it cost; on -EOPNOTSUPP, what could not be merged. */
struct kmerge_report {
	uint64_t pages_compared; /**< pages of the union of both dirty logs, hashed in each */
	uint64_t pages_copied;	 /**< of those, the ones that differed, copied from B */
	uint64_t fresh_pages;	 /**< pages of mappings made anew in A (mmap, brk, stack) */
	uint64_t fresh_copied;	 /**< of those, the ones not all zero in B, copied */
	unsigned maps_created;	 /**< anonymous mappings made in A, stacks grown */
	unsigned maps_removed;	 /**< ranges unmapped in A */
	unsigned maps_protected; /**< ranges whose protection was changed in A */
	bool brk_set;		 /**< A's program break was moved */
	uint64_t brk;		 /**< to this (B's) */
	unsigned threads;	 /**< threads whose state was set */

	/** -EOPNOTSUPP: the mapping [fail_start, fail_end) of B that A cannot
	 * be given from memory alone, and why, e.g. "0x7f..-0x7f.. r--p
	 * /usr/lib/x.so in B, none in A: a file mapping cannot be made from
	 * memory". Other errors: the step that failed ("brk", "thread 2"). */
	uint64_t fail_start, fail_end;
	char what[512];

	uint64_t maps_ns;    /**< time of the brk and mapping steps, fresh copies included */
	uint64_t pages_ns;   /**< time comparing the union and copying what differs */
	uint64_t threads_ns; /**< time reading and setting the threads' state */
	uint64_t total_ns;   /**< the whole merge (CLOCK_MONOTONIC) */
};

/**
 * Merge process B's memory and registers into process A, both stopped
 * (they are left so: every thread of A in a signal-delivery-stop for
 * SIGTRAP, to be resumed with signal 0; B's threads may be too, see
 * checkpoint_thread_get(), which reads them). In order:
 *
 * - the mappings are compared (/proc/PID/maps) and everything is checked
 *   before anything is changed: a range B maps that A cannot be given from
 *   memory alone (a file, a shared or named mapping) fails
 *   the merge with -EOPNOTSUPP, A untouched, @report naming it;
 * - the program break: brk(0) injected in each, A's moved to B's by an
 *   injected brk(2) if they differ;
 * - ranges A maps and B does not are unmapped (munmap(2)), private
 *   anonymous ones B maps and A does not are made at the same address
 *   (mmap(2) with MAP_FIXED), with B's protection; a stack B's grew
 *   further down than A's is grown in A (a fault of an injected syscall
 *   that writes at its lowest address); ranges of the same kind
 *   whose protection differs get B's (mprotect(2)); all injected into A's
 *   first thread. A range made anew (mmap, brk, stack) is not in B's dirty log
 *   (the log tracks the mappings it was started with): every page of it
 *   that is not all zeros in B is copied;
 * - the pages of the union of both dirty logs are read from each, 1 MiB
 *   at a time, hashed (XXH3, as ep_hash_pages()), and B's copied over A's
 *   where the hashes differ, on two threads (process_vm_readv(2) and
 *   process_vm_writev(2), /proc/PID/mem for the pages those cannot reach:
 *   read-only or PROT_NONE, proc(5)'s FOLL_FORCE);
 * - thread i of A gets the state of thread i of B (checkpoint_thread_get(),
 *   checkpoint_thread_set()): registers with FS and GS base, XSAVE state,
 *   signal mask, and where B's differs, robust list, clear-tid address,
 *   alternate signal stack, rseq registration and name.
 *
 * Afterwards ep_check_divergence() of A and B finds nothing. Signal
 * dispositions, pending signals, descriptors and their offsets, timers and
 * children stay A's. The thread counts must be equal (-EINVAL). Fills
 * @report as far as the merge went. Returns 0 or -errno: -EOPNOTSUPP (see
 * above), -ESRCH (a thread vanished), -ENOMEM, another -errno of a step
 * (@report->what names it; A is then partly merged: kill it).
 */
int kmerge_merge(const struct kmerge_side *a, const struct kmerge_side *b,
		 struct kmerge_report *report) _wur_;

/**
 * The memory part of kmerge_merge() alone, for two stopped processes whose
 * mappings the caller found to be the same (ep_check_divergence(), which
 * leaves out what @ignore covers): the pages of the union of a->written and
 * b->written are read from each and hashed, the bytes of the @nignore
 * ranges at @ignore taken as zeros in both (as ep_hash_pages() takes
 * them), and where the hashes differ B's bytes are written over A's, but
 * those of @ignore (a page partly covered is written run by run through
 * a->memfd; one covered whole is neither compared nor written). A page B
 * cannot read is left. No thread state is touched, nothing is injected:
 * B may be any stopped process, A needs a->memfd (O_RDWR). Fills
 * @report's pages_compared, pages_copied, pages_ns and total_ns (what on
 * failure). Returns 0 or -errno (-ESRCH: a process is gone; A is then
 * partly written).
 */
int kmerge_copy_pages(const struct kmerge_side *a, const struct kmerge_side *b,
		      const struct checkpoint_range *ignore, size_t nignore,
		      struct kmerge_report *report) _wur_;
