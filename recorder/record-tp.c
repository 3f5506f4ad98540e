/* SPDX-License-Identifier: MIT */
/*
 * The TP knob of the recorder (doc/uniparallel.md, "The TP run"): the same
 * event loop and syscall path as UP recording, but sched/ picks no thread.
 * Every thread stopped at an event goes on at once, on the CPUs the
 * program has natively; a traced syscall stops only its own thread, and one
 * that blocks blocks only it. What the recorder writes is the same event
 * records, in the order the supervisor saw them: a log of each thread's
 * syscalls, results and the bytes the kernel wrote, not a schedule (the
 * header's mode is TRACE_MODE_TP_LOG).
 *
 * What the TP run skips is decided where UP recording decides it, by
 * rec_serial(): the pick and the timeslices (record.c's loop,
 * rec_after_entry(), the exit's hand-over), the restore points and the
 * buffer's wakes and maps (rec_start_run()), execution points for signals
 * (rec_on_signal(): an asynchronous signal waits for its thread's next
 * event). With no ticks (TICKS_SOURCE_NONE) no counting code is installed
 * and no spin is looked for.
 */
#define LOG_PREFIX "record-tp"
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "common/log.h"
#include "recorder/record-private.h"
#include "sched/sched.h"

/* Whether @t stands stopped at an event the recorder moves it on from (not
 * in user code, not in the kernel, not held by an emulated tracer or a
 * group stop). */
static bool
stands_at_event(const struct recorder *rec, const struct rthread *t)
{
	switch (t->state) {
	case RT_HELD:
	case RT_AT_ENTRY:
	case RT_EXIT_READY:
	case RT_PT_ENTRY:
	case RT_AT_CLONE:
	case RT_AT_EXIT:
		/* an emulated tracer's hold makes it SCHED_BLOCKED
		 * (record-ptrace.c), as a UP run's pick passes it over */
		return sched_state_of(rec->sched, t->tid) == SCHED_RUNNABLE;
	case RT_IN_SYSCALL:
	case RT_RUNNING:
	case RT_ZOMBIE:
	case RT_STOPPED:
		break;
	}
	return false;
}

bool
rec_tp_run_ready(struct recorder *rec)
{
	_cleanup_free_ pid_t *tids = NULL;
	size_t n = 0, running = 0;
	bool moved = false;

	/* the threads array changes under rec_run_current() (a clone adds, an
	 * exit removes): take the tids first, and find each again */
	tids = malloc(MAX(rec->nthreads, 1u) * sizeof(*tids));
	if (!tids) {
		rec_stop_recording(rec, "%s", "out of memory");
		return false;
	}
	for (size_t i = 0; i < rec->nthreads; i++)
		if (stands_at_event(rec, &rec->threads[i]))
			tids[n++] = rec->threads[i].tid;
	for (size_t i = 0; i < n && !rec->done; i++) {
		struct rthread *t = rec_find_thread(rec, tids[i]);

		/* an earlier one's event may have moved it on, or ended it */
		if (!t || !stands_at_event(rec, t))
			continue;
		rec_run_current(rec, t);
		rec->tp_stats.resumed++;
		moved = true;
	}
	if (!moved)
		return false;
	rec->tp_stats.passes++;
	for (size_t i = 0; i < rec->nthreads; i++)
		running += rec->threads[i].state == RT_RUNNING;
	if (running > rec->tp_stats.max_running)
		rec->tp_stats.max_running = (uint32_t)running;
	return true;
}

void
rec_tp_log_stats(const struct recorder *rec)
{
	log_info("TP run: %" PRIu64 " passes let %" PRIu64 " threads go on from an event; "
		 "at most %" PRIu32 " threads in user code at once",
		 rec->tp_stats.passes, rec->tp_stats.resumed, rec->tp_stats.max_running);
}
