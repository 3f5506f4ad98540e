/* SPDX-License-Identifier: MIT */
/*
 * The recorder's scheduling policy, on top of sched/: a thread whose blocked
 * syscall completes runs at once (wakeup preemption), a run of user code
 * takes a restore point only when another thread may want the CPU during it,
 * and a thread that spins (its timeslices end with no event, its loop making
 * no progress) gets shorter timeslices, counted in ticks, and gives the CPU
 * to the others as soon as it is seen spinning.
 *
 * Every switch still happens at an event or at an execution point
 * (TRACE_EV_PREEMPT with its ticks), so replay, which follows the recorded
 * events, does not know any of this.
 */
#define LOG_PREFIX "record"
#include <asm/unistd.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/time.h>

#include "common/log.h"
#include "recorder/record-private.h"
#include "sched/sched.h"
#include "tracee/tracee.h"

/*
 * Whether @u waits in the kernel for something only another recorded thread
 * (or a signal) can bring: a futex wait with no timeout (futex(2)
 * FUTEX_WAIT, FUTEX_WAIT_BITSET with a NULL timeout). Whatever wakes it is
 * an event of the thread that wakes it: the run of user code under way ends
 * first. A signal from outside may still wake it; then it waits for the
 * running thread's next event (or execution point, where counting code runs).
 */
static bool
waits_for_a_thread(const struct rthread *u)
{
	uint64_t cmd = u->model_args[1] & FUTEX_CMD_MASK;

	return u->model_nr == __NR_futex && (cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET) &&
	       u->model_args[3] == 0;
}

bool
rec_others_may_run(const struct recorder *rec, const struct rthread *t)
{
	for (size_t i = 0; i < rec->nthreads; i++) {
		const struct rthread *u = &rec->threads[i];

		if (u == t)
			continue;
		switch (u->state) {
		case RT_ZOMBIE:
			break;
		case RT_IN_SYSCALL:
			if (!waits_for_a_thread(u))
				return true;
			break;
		default:
			return true;
		}
	}
	return false;
}

bool
rec_timer_armed(const struct rthread *t)
{
	struct itimerval itv;
	struct timespec its[2];

	switch (t->model_nr) {
	case __NR_alarm:
		return t->model_args[0] != 0;
	case __NR_setitimer:
		/* a NULL new value is an error (EFAULT) since Linux 2.6.x */
		if (tracee_read(t->tid, t->model_args[1], &itv, sizeof(itv)) < 0)
			return true;
		return itv.it_value.tv_sec || itv.it_value.tv_usec;
	case __NR_timer_settime:
		if (tracee_read(t->tid, t->model_args[2], its, sizeof(its)) < 0)
			return true;
		return its[1].tv_sec || its[1].tv_nsec;
	default:
		return true; /* a timer of another kind: assume armed */
	}
}

void
rec_on_wakeup(struct recorder *rec, struct rthread *t)
{
	t->state = RT_EXIT_READY;
	sched_wake(rec->sched, t->tid);
}
