/* SPDX-License-Identifier: MIT */
/*
 * Epoch-parallel runs (DESIGN.md, "Uniparallel execution"): the divergence
 * check at an epoch's end. An EP run of epoch k diverges when its memory and
 * registers at the epoch's end differ from checkpoint k+1 of the TP run
 * (issue 15, item 4). Only the pages either wrote since checkpoint k are
 * compared, by hashes (XXH3), never by whole copies; the pages written come
 * from each process's dirty log (checkpoint/dirty.h).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "checkpoint/dirty.h"
#include "common/util.h"

/** A file an EP run maps in place of another (the log's kept copy of it):
 * a mapping of @dev, @ino compares as one of the file at @path in the
 * other process (by path, offset and permissions). */
struct ep_file_alias {
	dev_t dev;
	uint64_t ino;
	const char *path; /**< the original's path as /proc/PID/maps shows it */
};

/** One of the two processes compared, stopped with all its threads. */
struct ep_side {
	pid_t pid;			   /**< the process */
	const pid_t *tids;		   /**< its threads, in the order they pair up */
	size_t ntids;			   /**< how many */
	const struct dirty_pages *written; /**< pages it wrote since checkpoint k */
	/** Ranges of this side that are uprr's own, not the program's (an EP
	 * run's stub areas and tick page, the interposer's data): a mapping
	 * within one, in either side, is not compared, and their bytes are
	 * taken as zeros in both (sorted or not; NULL: none). */
	const struct checkpoint_range *ignore;
	size_t nignore;
	/** Every thread stands at a syscall, which code reached through calls
	 * (the C library's, the interposer's) that may differ between the
	 * sides by design: the registers the x86-64 ABI leaves to callees,
	 * xmm0-15, the upper halves of ymm and zmm, zmm16-31 and k0-7, hold
	 * what those calls left and are not compared (when either side says
	 * so). The general registers all are. */
	bool scratch_free;
	/** Files this side maps in place of the other's (NULL: none). */
	const struct ep_file_alias *aliases;
	size_t naliases;
};

/** What differs, each kind its first instance; all zero: no divergence. */
struct ep_divergence {
	bool diverged; /**< any of the below */

	/** The thread counts differ (nothing per thread is compared). */
	bool threads_differ;

	/** A mapping differs: [map_start, map_end) is mapped in one and not
	 * the other, or with other permissions, file or offset; map_what
	 * says how ("in A only", "in B only", "rw-p in A, r--p in B", "file
	 * differs"). */
	bool mapping_differs;
	uint64_t map_start, map_end;
	char map_what[96];

	/** Memory: of the pages_compared pages either wrote, pages_differ hash
	 * differently; the first differing byte is at mem_addr, mem_a in A
	 * and mem_b in B (-1: not readable there, not mapped). */
	uint64_t pages_compared;
	uint64_t pages_differ;
	uint64_t mem_addr;
	int mem_a, mem_b;

	/** A thread's state: of the thread at index thread (tid thread_a in A,
	 * thread_b in B), the field named reg ("rax", "fs_base", "xmm7",
	 * "sigmask"...), its first 8 bytes reg_a in A and reg_b in B. */
	bool thread_differs;
	size_t thread;
	pid_t thread_a, thread_b;
	char reg[24];
	uint64_t reg_a, reg_b;

	uint64_t hash_ns;  /**< time reading and hashing pages (CLOCK_MONOTONIC) */
	uint64_t total_ns; /**< time of the whole check */
};

/**
 * Compare process A (the TP run at checkpoint k+1) with process B (the EP run
 * at the end of epoch k), both stopped with every thread in a ptrace stop
 * (they are left so). Checked, in this order:
 *
 * - the thread counts;
 * - the mappings (/proc/PID/maps, adjacent entries of the same kind joined:
 *   a userfaultfd registration splits a mapping): start, end, permissions,
 *   file (device, inode, offset) or pseudo name;
 * - every page of the union of A's and B's written pages: hashed in each
 *   (ep_hash_pages()), the hashes compared; the first differing byte is
 *   found by reading the first differing page again. Left out: the fields
 *   of each thread's rseq(2) area the kernel writes with the CPU the thread
 *   runs on (cpu_id_start, cpu_id, node_id, mm_cid; uprr's tracees have
 *   rseq off, but a copy's thread keeps a registration it finds);
 * - thread by thread, index for index: general registers with FS and GS base
 *   (arch_regs_differ(): eflags bits other than the arithmetic ones and DF,
 *   such as RF and TF, depend on how a thread stopped and are ignored), the
 *   XSAVE area (PTRACE_GETREGSET NT_X86_XSTATE, arch_xstate_differ(): the
 *   XSAVE header, mxcsr_mask and the reserved and kernel-software bytes are
 *   ignored), and the signal mask (PTRACE_GETSIGMASK).
 *
 * Every check runs; *ret gets the first difference of each kind. Returns 0
 * (whether or not they diverged) or -errno: -ESRCH if a thread vanished,
 * -ENOMEM.
 */
int ep_check_divergence(const struct ep_side *a, const struct ep_side *b,
			struct ep_divergence *ret) _wur_;

/**
 * Describe @d in one line into @buf (@len bytes): "no divergence", or each
 * difference found, e.g. "memory: 3 of 1000 written pages differ, first at
 * 0x7f0000001234 (0x41 in A, 0x42 in B); thread 1 (12345, 12350): rax 0x2a
 * in A, 0x2b in B". Returns @buf.
 */
const char *ep_divergence_describe(const struct ep_divergence *d, char *buf, size_t len);

/** ep_hash_pages()'s hash of a page that cannot be read. */
#define EP_HASH_UNMAPPED UINT64_MAX

/**
 * Hash the pages of @runs (sorted, DIRTY_PAGE aligned) in process @pid:
 * XXH3 64-bit of each 4 KiB, in order, into @ret (one per page), the bytes
 * of the @nignore ranges at @ignore taken as zeros; a page that cannot be
 * read (not mapped) gets EP_HASH_UNMAPPED. Reads through one
 * buffer of at most 1 MiB: process_vm_readv(2), then /proc/PID/mem for
 * what that cannot read (PROT_NONE pages, proc(5)'s FOLL_FORCE). Returns 0
 * or -errno (-ESRCH: the process is gone).
 */
int ep_hash_pages(pid_t pid, const struct dirty_pages *runs, const struct checkpoint_range *ignore,
		  size_t nignore, uint64_t *ret) _wur_;
