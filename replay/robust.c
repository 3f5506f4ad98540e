/* SPDX-License-Identifier: MIT */
/*
 * Robust futexes in replay. A thread that dies holding a robust mutex leaves
 * its lock word marked FUTEX_OWNER_DIED: the kernel walks the thread's robust
 * list (set_robust_list(2)) at its exit and marks each word whose owner TID
 * is the dying thread's (exit_robust_list() and handle_futex_death(),
 * kernel/futex/core.c). In replay the words hold the recorded TIDs (ids the
 * kernel wrote into memory read as recorded), which are not the replayed
 * threads', so the kernel leaves them alone: replay marks them itself, as
 * the kernel did in the recording. Waiters need no wake-up: their futex
 * waits are emulated.
 */
#define LOG_PREFIX "replay"
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "replay/replay-private.h"
#include "tracee/tracee.h"

/* ROBUST_LIST_LIMIT of the kernel: a list longer than this is cut short. */
#define ROBUST_LIST_LIMIT 2048

/* The layout of struct robust_list_head (linux/futex.h) in a 64-bit tracee. */
struct robust_head64 {
	uint64_t next;		  /* struct robust_list *: the first entry */
	int64_t futex_offset;	  /* from an entry to its lock word */
	uint64_t list_op_pending; /* an entry being locked or unlocked */
};

/* handle_futex_death() for lock word @uaddr of a thread recorded as
 * @rec_tid: mark it FUTEX_OWNER_DIED, keeping FUTEX_WAITERS. */
static int
futex_death(pid_t tid, int memfd, uint64_t uaddr, pid_t rec_tid)
{
	uint32_t uval, mval;

	if (tracee_read(tid, uaddr, &uval, sizeof(uval)) < 0)
		return 0; /* the kernel skips a word it cannot read */
	if ((uval & FUTEX_TID_MASK) != (uint32_t)rec_tid)
		return 0;
	mval = (uval & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
	return tracee_write(memfd, uaddr, &mval, sizeof(mval));
}

int
replay_robust_exit(pid_t tid, int memfd, pid_t rec_tid)
{
	struct robust_head64 head;
	uint64_t head_addr = 0, entry, pending;
	size_t len = 0;
	int r;

	if (syscall(SYS_get_robust_list, tid, &head_addr, &len) < 0)
		return errno == ESRCH ? 0 : -errno; /* gone: nothing to mark */
	if (!head_addr || len != sizeof(head) ||
	    tracee_read(tid, head_addr, &head, sizeof(head)) < 0)
		return 0;
	pending = head.list_op_pending;
	entry = head.next;
	for (unsigned n = 0; entry != head_addr && n < ROBUST_LIST_LIMIT; n++) {
		uint64_t next;

		/* bit 0 of an entry: a PI futex, handled alike here */
		if (tracee_read(tid, entry & ~1ull, &next, sizeof(next)) < 0)
			break;
		if (entry != pending) {
			r = futex_death(tid, memfd, (entry & ~1ull) + (uint64_t)head.futex_offset, rec_tid);
			if (r < 0)
				return r;
		}
		entry = next;
	}
	if (pending)
		return futex_death(tid, memfd, (pending & ~1ull) + (uint64_t)head.futex_offset, rec_tid);
	return 0;
}
