/* SPDX-License-Identifier: MIT */
/*
 * What the synchronization-order interposer's two files share
 * (preload/sync-log.c: the log, the thread slots, the clocks, LOG and FOLLOW;
 * preload/sync-wrap.c: the pthread, semaphore and futex wrappers). Inside
 * the tracee only; the contract with the reader is preload/uprr-sync.h.
 */
#pragma once

#include <stdint.h>

#include "preload/uprr-sync.h"

#define HIDDEN __attribute__((visibility("hidden")))
#define EXPORT __attribute__((visibility("default")))

enum sync_mode {
	SYNC_OFF,	/* no log: every call goes straight to glibc */
	SYNC_LOG,	/* record each operation's clock */
	SYNC_FOLLOW,	/* make each operation when its object's clock reaches the logged one */
};

/* What sync_begin() tells a wrapper to do */
enum sync_path {
	SYNC_PASS,		/* call glibc, nothing else */
	SYNC_PATH_LOG,		/* call glibc, log the operation */
	SYNC_PATH_FOLLOW,	/* wait for the turn, call glibc (blocking form), then sync_follow_done() */
	SYNC_PATH_OBSERVE,	/* the logged call changed nothing: sync_follow_observe() gives its result */
};

/* FOLLOW: a thread waiting for clock W of an object says so in one of
 * the object's SYNC_SLEEPERS slots (W + 1; 0: free) before it sleeps, and
 * an advance to clock C makes a wake only when a slot holds C + 1 (or
 * more threads sleep on the object than it has slots: `crowd`), with the
 * bit C % 32 of FUTEX_WAKE_BITSET (a sleeper waits with its W's): one that
 * waits for another turn sleeps on. An advance used to wake every sleeper:
 * tp_fsum's EP run made 4 ptrace stops of each of its 6,000 lock
 * operations, its waiting thread woken, looking and waiting again. */
#define SYNC_SLEEPERS 4

/* One object's logical clock, keyed by its address (a process-wide table:
 * glibc's objects have no room of their own). In FOLLOW the clock word is
 * the futex the threads waiting for their turn sleep on. */
struct sync_obj {
	uint64_t addr;
	uint32_t clock;
	uint32_t crowd;				/* FOLLOW: sleepers without a slot */
	uint32_t sleepers[SYNC_SLEEPERS];	/* FOLLOW: the clocks awaited, + 1 */
};

/* One operation in flight */
struct sync_op {
	struct sync_obj *obj;
	struct uprr_sync_rec *rec;	/* LOG: the reserved record (NULL: the slot is full);
					 * FOLLOW: the logged one */
	uint16_t kind;
	uint16_t shared;		/* the object is shared between processes: its clock
					 * is in the shared table, its futex not private */
	uint16_t flags;			/* LOG: UPRR_SYNC_F_* the record gets besides */
};

extern HIDDEN enum sync_mode sync_mode;
/* Whether the heap's calls are ordered too (preload/sync-heap.c) */
extern HIDDEN int sync_heap;
HIDDEN void sync_heap_start(void);
/* fork(2) as a heap operation (UPRR_SYNC_FORK), around glibc's fork:
 * before it (its turn; LOG: the heap's lock held across the fork), in the
 * parent after it (the clock taken or advanced), in the child (the lock
 * given back) */
HIDDEN void sync_heap_fork_prepare(void);
HIDDEN void sync_heap_fork_parent(void);
HIDDEN void sync_heap_fork_child(void);
/* The calling thread ends (its function returned, or pthread_exit(3)): a
 * heap operation (UPRR_SYNC_THREAD_END) after which its heap calls take no
 * turn, and which the heap's next operation waits to see over */
HIDDEN void sync_heap_thread_end(void);
/* Runs @fn(@arg) as one operation of the heap's order (when it is on);
 * its result's low 32 bits are the record's */
HIDDEN void *sync_heap_run(void *(*fn)(void *), void *arg);

/* Zero the stack just below the caller's frame (4 KiB). The calls the
 * caller made take other paths in the TP run (UPRR_SYNC_MODE=tp) than in
 * FOLLOW, and what they left there is what the program's next calls find
 * in the slots they have not written yet (padding, locals not set yet): an
 * EP run's check compares the thread's stack with the TP run's. */
HIDDEN void sync_scrub(void);

/* A syscall made here, not through glibc's syscall(3), which this library
 * interposes: the result or -errno, as the kernel returns it. */
static inline long
sync_raw_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	register long r10 __asm__("r10") = a3;
	register long r8 __asm__("r8") = a4;
	register long r9 __asm__("r9") = a5;
	long ret;

	__asm__ __volatile__("syscall"
		: "=a"(ret)
		: "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9)
		: "rcx", "r11", "memory");
	return ret;
}

/* Resolves glibc's functions (dlsym, dlvsym); idempotent. */
HIDDEN void sync_resolve(void);

/* Starts an operation of @kind on the object at @addr. */
HIDDEN enum sync_path sync_begin(struct sync_op *op, const void *addr, unsigned kind);
/* LOG, an acquisition made (or attempted: @observe when it changed nothing) */
HIDDEN void sync_log_acquired(struct sync_op *op, int result, int observe);
/* LOG, a release about to be made: takes its clock */
HIDDEN void sync_log_release(struct sync_op *op);
/* LOG, the release made: its result; completes the record */
HIDDEN void sync_log_done(struct sync_op *op, int result);
/* FOLLOW: waits until the object's clock is the logged one */
HIDDEN void sync_follow_turn(struct sync_op *op);
/* FOLLOW: the call made with @result; checks it against the log and
 * advances the object's clock, waking the threads waiting for theirs */
HIDDEN void sync_follow_done(struct sync_op *op, int result);
/* FOLLOW: advances the clock without a check (a call whose result comes
 * later, or is the log's) */
HIDDEN void sync_follow_advance(struct sync_op *op);
/* FOLLOW of an observation: waits until the object's clock reached the
 * logged one; returns the logged result */
HIDDEN int sync_follow_observe(struct sync_op *op);
/* FOLLOW: the logged result */
static inline int
sync_logged_result(const struct sync_op *op)
{
	return op->rec->result;
}

/* An operation of @kind on @obj that may wait in glibc starts (a
 * condition wait, UPRR_SYNC_COND_ACQUIRE on the condition variable; a
 * mutex lock, UPRR_SYNC_MUTEX_LOCK on the mutex), the return address of
 * the program's call into it at @frame (uprr_sync_slot.wait_frame): LOG
 * says so in the slot, for an epoch's end in the wait; FOLLOW keeps the
 * frame for the acquisition's wait_for_record(). sync_wait_end(): it
 * returned. */
HIDDEN void sync_wait_begin(unsigned kind, const void *obj, uint64_t frame);
HIDDEN void sync_wait_end(void);

/* Threads: the creator's side of pthread_create (the new thread's rank,
 * or -1 for a thread that gets no log) and the new thread's first act. */
HIDDEN int sync_thread_child_ordinal(uint32_t *ret_parent, uint32_t *ret_proc);
HIDDEN void sync_thread_attach(uint32_t parent, uint32_t ordinal, uint32_t proc);

/* Stops a FOLLOW run that cannot follow its log (exit 125). */
HIDDEN _Noreturn void sync_diverged(const char *what, const struct sync_op *op, uint64_t addr,
		unsigned kind);
