/* SPDX-License-Identifier: MIT */
/*
 * The contract between the synchronization-order interposer
 * (preload/sync-*.c, libuprr-sync.so, LD_PRELOAD'ed in a tracee) and whoever
 * reads its log (tp/sync-order.c): the log's layout, the operation kinds and
 * what their clocks mean. See doc/sync-order.md. Freestanding: only
 * <stdint.h>.
 */
#pragma once

#include <stdint.h>

/** Bumped whenever anything below changes meaning. */
#define UPRR_SYNC_VERSION 2
/** uprr_sync_head.magic once a process owns the log ("SYNC"). */
#define UPRR_SYNC_MAGIC 0x434e5953u

/** The environment the interposer reads once, at load (and then removes,
 * so that a program the tracee executes does not write the same log):
 * the mode, "log" or "follow"; the log file; in log mode the records each
 * thread may hold (default UPRR_SYNC_RECS_DEFAULT). */
#define UPRR_SYNC_ENV_MODE "UPRR_SYNC_MODE"
#define UPRR_SYNC_ENV_LOG "UPRR_SYNC_LOG"
#define UPRR_SYNC_ENV_RECS "UPRR_SYNC_RECS"
/** "1": LOG orders the heap too (UPRR_SYNC_HEAP records; the head's
 * UPRR_SYNC_HEAD_HEAP tells FOLLOW) */
#define UPRR_SYNC_ENV_HEAP "UPRR_SYNC_HEAP"
#define UPRR_SYNC_RECS_DEFAULT (1u << 16)
#define UPRR_SYNC_RECS_MAX (1u << 26)

/** Threads of a process that get a log; later ones run unordered, and the
 * head counts them (uprr_sync_head.lost_threads). */
#define UPRR_SYNC_NSLOTS 64
/** The exit status of a process whose FOLLOW run met an operation its log
 * does not have next (another object or kind, or the log's end): the order
 * cannot be followed (replay's divergence status). */
#define UPRR_SYNC_DIVERGED_EXIT 125

/* The file: the head (one page), then UPRR_SYNC_NSLOTS slots of
 * uprr_sync_slot_size() bytes each, written in place through a shared
 * mapping. Its pages are touched as they are written. */
#define UPRR_SYNC_HEAD_SIZE 4096u

/** Operation kinds. An *acquisition* gets its clock just after it took the
 * object (while it holds it, or with the fetch-add that follows it); a
 * *release* gets its clock just before it gives the object up; so the
 * clocks of one object order its operations as a sequence in which each
 * could be made at once, and FOLLOW makes them in that sequence. */
enum uprr_sync_kind {
	UPRR_SYNC_NONE = 0,		/* a record still being written */
	UPRR_SYNC_MUTEX_LOCK,		/* acquisition; result: 0, EOWNERDEAD, or an error (observation) */
	UPRR_SYNC_MUTEX_TRYLOCK,	/* acquisition; EBUSY: observation */
	UPRR_SYNC_MUTEX_TIMEDLOCK,	/* acquisition; ETIMEDOUT: observation */
	UPRR_SYNC_MUTEX_UNLOCK,		/* release */
	UPRR_SYNC_RW_RDLOCK,		/* acquisition */
	UPRR_SYNC_RW_TRYRDLOCK,		/* acquisition; EBUSY: observation */
	UPRR_SYNC_RW_TIMEDRDLOCK,	/* acquisition; ETIMEDOUT: observation */
	UPRR_SYNC_RW_WRLOCK,		/* acquisition */
	UPRR_SYNC_RW_TRYWRLOCK,		/* acquisition; EBUSY: observation */
	UPRR_SYNC_RW_TIMEDWRLOCK,	/* acquisition; ETIMEDOUT: observation */
	UPRR_SYNC_RW_UNLOCK,		/* release */
	UPRR_SYNC_COND_RELEASE,		/* obj: the mutex a cond wait gives up (release) */
	UPRR_SYNC_COND_ACQUIRE,		/* obj: the mutex a cond wait took back (acquisition);
					 * result: the wait's (0, ETIMEDOUT) */
	UPRR_SYNC_COND_SIGNAL,		/* obj: the condition variable (release) */
	UPRR_SYNC_COND_BROADCAST,	/* obj: the condition variable (release) */
	UPRR_SYNC_SEM_WAIT,		/* acquisition; result: 0 or the errno (EINTR: observation) */
	UPRR_SYNC_SEM_TRYWAIT,		/* acquisition; EAGAIN: observation */
	UPRR_SYNC_SEM_TIMEDWAIT,	/* acquisition; ETIMEDOUT, EINTR: observation */
	UPRR_SYNC_SEM_POST,		/* release */
	UPRR_SYNC_BARRIER_ARRIVE,	/* release: the thread reached the barrier */
	UPRR_SYNC_BARRIER_LEAVE,	/* acquisition; result: PTHREAD_BARRIER_SERIAL_THREAD (-1) or 0 */
	UPRR_SYNC_ONCE,			/* acquisition; result 1: this thread ran the init function */
	UPRR_SYNC_SPIN_LOCK,		/* acquisition */
	UPRR_SYNC_SPIN_TRYLOCK,		/* acquisition; EBUSY: observation */
	UPRR_SYNC_SPIN_UNLOCK,		/* release */
	UPRR_SYNC_FUTEX_WAKE,		/* release; result: threads woken */
	UPRR_SYNC_FUTEX_WAIT,		/* acquisition; result: 0 or -errno (EAGAIN, ETIMEDOUT, EINTR) */
	UPRR_SYNC_HEAP,			/* obj: the library's heap word; one malloc, free, calloc,
					 * realloc or memalign call (acquisition); result: the low
					 * 32 bits of the pointer returned (0 for free) */
	UPRR_SYNC_FORK,			/* obj: the heap word; a fork(2) made at this turn of the
					 * heap (acquisition), so the child's copy of the heap is
					 * the same in every run; result 0 */
	UPRR_SYNC_THREAD_END,		/* obj: the heap word; a thread's end (its function
					 * returned, or pthread_exit(3)), at this turn of the heap;
					 * the heap's next operation waits until the kernel has
					 * cleared the thread's tid word (UPRR_SYNC_F_ENDED) */
	UPRR_SYNC_NKINDS,
};

/** uprr_sync_rec.flags: the operation did not change the object (a
 * failed trylock, a timeout): its clock is the object's clock it saw, not
 * one it took; FOLLOW gives the logged result once the object's clock has
 * reached it, without making the call. */
#define UPRR_SYNC_F_OBSERVE 0x1u
/** uprr_sync_rec.flags: the object is shared between processes (a
 * semaphore or mutex made process-shared, in a MAP_SHARED mapping): its
 * clock is one for every process of the log, and it is known by its
 * address, the same in each (mapped before the fork). Other objects'
 * clocks are their process's (uprr_sync_slot.proc). */
#define UPRR_SYNC_F_SHARED 0x2u
/** uprr_sync_rec.flags of a heap operation: before its call it waited until
 * the thread whose end (UPRR_SYNC_THREAD_END) came just before it had
 * exited (glibc's whole exit path run: its arena and tcache given back,
 * its stack queued in the cache); FOLLOW waits so too. Not set: the wait
 * gave up (2 s; a TSD destructor waiting for this thread, say). */
#define UPRR_SYNC_F_ENDED 0x4u

/** uprr_sync_rec.flags, set by uprr, not by the interposer: the TP run's
 * supervisor, at an epoch's end, on the record (not complete yet) whose
 * acquisition a thread waits for in glibc (a condition wait or a mutex
 * lock, uprr_sync_slot.wait_obj; recorder/record-epoch.c); LOG keeps it
 * when it completes the record. FOLLOW, before it waits for such a record,
 * makes a traced call that changes nothing (an event of an EP run's trace
 * and of its replay alike: where the EP run parks the thread at its end,
 * doc/uniparallel.md). */
#define UPRR_SYNC_F_END 0x8u

/** One synchronization operation of one thread. */
struct uprr_sync_rec {
	uint64_t obj;		/* the object's address in the tracee */
	uint32_t clock;		/* the object's logical clock at the operation */
	int32_t result;		/* see enum uprr_sync_kind (errno values positive) */
	uint16_t kind;		/* enum uprr_sync_kind; written last: 0 = not complete */
	uint16_t flags;		/* UPRR_SYNC_F_* */
	uint32_t pad;
};

/** A thread's log: who it is (its parent's slot and its rank among the
 * threads and processes that parent created with pthread_create(3) and
 * fork(2), which do not depend on timing), then its records in program
 * order. A forked child's thread is the first of a process of its own:
 * its private objects have clocks of their own, from 0. */
struct uprr_sync_slot {
	uint32_t used;		/* 1 once a thread owns the slot */
	uint32_t parent;	/* the creator's slot; UPRR_SYNC_NO_PARENT for the first thread */
	uint32_t ordinal;	/* its rank among the creator's pthread_create calls */
	uint32_t tid;		/* the kernel tid it had (for reading the log only) */
	uint64_t count;		/* records reserved (a signal handler's come after) */
	uint64_t lost;		/* operations not logged: the slot was full */
	uint32_t proc;		/* the slot of its process's first thread */
	uint32_t forked;	/* 1: the first thread of a forked child */
	uint64_t wait_obj;	/* LOG (h-condwait; in what was padding, zero in a
				 * log of an older interposer: no wait said, so
				 * the version stays 2): the object the thread may
				 * wait for in glibc (an epoch's end there:
				 * recorder/record-epoch.c): a condition
				 * variable (@wait_kind UPRR_SYNC_COND_ACQUIRE:
				 * from its UPRR_SYNC_COND_RELEASE, complete,
				 * to the wait's return), or a mutex
				 * (UPRR_SYNC_MUTEX_LOCK: its record reserved,
				 * not complete, until the lock returns); 0 */
	uint64_t wait_frame;	/* then: where the return address of the
				 * program's call into the interposer is */
	uint64_t wait_kind;	/* then: the kind, as above */
	struct uprr_sync_rec recs[];
};
#define UPRR_SYNC_NO_PARENT 0xffffffffu

/** The log's first page. */
struct uprr_sync_head {
	uint32_t magic;		/* UPRR_SYNC_MAGIC once a process took the log */
	uint32_t version;	/* UPRR_SYNC_VERSION */
	uint32_t nslots;	/* UPRR_SYNC_NSLOTS */
	uint32_t nrecs;		/* records a slot holds */
	uint32_t nthreads;	/* slots given out */
	uint32_t pid;		/* the process that writes it */
	uint64_t lost_threads;	/* threads that found no free slot */
	uint64_t untracked;	/* operations on objects the clock table had no room for */
	uint32_t flags;		/* UPRR_SYNC_HEAD_* */
	uint32_t growing;	/* set by uprr: the TP run still writes it (lock-step,
				 * doc/uniparallel.md); FOLLOW waits for a record not
				 * there yet through uprr (UPRR_SYNC_WAIT_MAGIC) */
	uint32_t view;		/* set by uprr (doc/uniparallel.md, "Overlap"): the
				 * checkpoint whose places view_done[] holds, 0: none.
				 * FOLLOW then waits for record i of slot s through
				 * uprr, as for one not there yet, while i >=
				 * view_done[s]: an EP run epochs behind its TP run,
				 * or a re-run following the order cut at k, sees the
				 * order as lock-step's EP run saw it */
	uint32_t view_pad;
	uint64_t view_done[UPRR_SYNC_NSLOTS]; /* the records each slot's
				 * thread had completed at checkpoint `view` */
};

/** A FOLLOW thread (an EP run's) whose next record the TP run has not
 * written yet, the log still growing, makes futex(FUTEX_WAIT_PRIVATE) on a
 * word holding this value, with this value: the EP run's recorder takes the
 * call (it lets the TP run go on, and the call returns 0 at once), which
 * is not an event of the trace. Since h-condwait, r8 (futex's uaddr2, which
 * FUTEX_WAIT ignores) holds the record's index + 1 in the thread's slot,
 * and r9 (val3) UPRR_SYNC_WAIT_FRAME_MASK bits: the @wait_frame of the
 * condition wait or mutex lock whose acquisition it is (0: another): its
 * epoch's end may be there (doc/uniparallel.md, "Ends in a condition wait
 * or a lock"). */
#define UPRR_SYNC_WAIT_MAGIC 0x57727075u
/** The bits of r9 of that call that hold the frame */
#define UPRR_SYNC_WAIT_FRAME_MASK (~7ull)
/** uprr_sync_head.flags: the log orders the heap's calls too */
#define UPRR_SYNC_HEAD_HEAP 0x1u
/** uprr_sync_head.flags: an order cut where an EP run goes live (the
 * re-run from checkpoint k, doc/uniparallel.md): each slot holds the
 * records its thread completed before checkpoint k, and FOLLOW, past the
 * last of its thread's, runs unordered (glibc's call alone) from then on,
 * where without this flag it blocks for ever; a thread or a forked process
 * with no slot in the cut runs unordered too (without the flag: a
 * divergence). Set by uprr in the copy it cuts, in the recording and in
 * its trace alike. */
#define UPRR_SYNC_HEAD_OPEN_END 0x2u

/** Bytes of one slot holding @nrecs records, page-aligned. */
static inline uint64_t
uprr_sync_slot_size(uint32_t nrecs)
{
	uint64_t n = sizeof(struct uprr_sync_slot) + (uint64_t)nrecs * sizeof(struct uprr_sync_rec);

	return (n + 4095) & ~4095ull;
}

/** Bytes of the whole log file. */
static inline uint64_t
uprr_sync_log_size(uint32_t nrecs)
{
	return UPRR_SYNC_HEAD_SIZE + UPRR_SYNC_NSLOTS * uprr_sync_slot_size(nrecs);
}
