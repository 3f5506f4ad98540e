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
 * event, or TP_SIGNAL_WAIT_NS, after which the thread is interrupted where
 * it stands: seek_execution_point() hands it to rec_tp_signal_here()). With
 * no ticks (TICKS_SOURCE_NONE) no counting code is installed and no spin is
 * looked for.
 *
 * One UP assumption is replaced rather than skipped: that the other threads
 * stand still while a syscall site is rewritten for the buffer
 * (syscallbuf-patch.c). rec_tp_hold_space() stops them for the patch.
 */
#define LOG_PREFIX "record-tp"
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "common/log.h"
#include "recorder/record-private.h"
#include "sched/sched.h"
#include "tracee/tracee.h"
#include "x86_64/arch.h"

/* How long an asynchronous signal waits for an event of its thread (a
 * syscall, a buffered call it interrupts) before the thread is interrupted
 * where it stands in user code: a loop that makes no syscall (a spin on a
 * flag the handler sets) must get it, as natively. Counted in the CPU time
 * the thread ran since the signal came (/proc/TID/schedstat), not in wall
 * time: a thread the kernel did not run for 10 ms (a loaded machine), or
 * one held at an epoch's end meanwhile, is not spinning, and a signal
 * interrupted in user code is one an EP run cannot place yet (the record
 * of tp-rerun-signals then ended, exit 125: 2 in 40 runs beside another
 * suite). */
#define TP_SIGNAL_WAIT_NS 10000000ull

/* Whether @t's deferred signal waited long enough (at @now): the time
 * left to wait, in ns, into *@ret_left otherwise. */
static bool
signal_waited(const struct rthread *t, uint64_t now, uint64_t *ret_left)
{
	uint64_t cpu;

	if (now - t->deferred_ns < TP_SIGNAL_WAIT_NS) {
		*ret_left = TP_SIGNAL_WAIT_NS - (now - t->deferred_ns);
		return false;
	}
	if (t->deferred_cpu_ns == UINT64_MAX || tracee_cpu_time(t->tid, &cpu) < 0 ||
	    cpu - t->deferred_cpu_ns >= TP_SIGNAL_WAIT_NS)
		return true;
	/* it did not run that long: look again once it could have (1 ms at
	 * least, not a busy poll) */
	*ret_left = TP_SIGNAL_WAIT_NS - (cpu - t->deferred_cpu_ns);
	if (*ret_left < 1000000ull)
		*ret_left = 1000000ull;
	return false;
}

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
	/* first the events that came while a site was patched */
	/* (not one held for an epoch's end: its event waits until the end
	 * is taken or given up, record-epoch.c) */
	for (size_t i = 0; i < rec->nthreads; i++)
		if (rec->threads[i].tp_status_due && !rec->threads[i].epoch_held)
			tids[n++] = rec->threads[i].tid;
	for (size_t i = 0; i < n && !rec->done; i++) {
		struct rthread *t = rec_find_thread(rec, tids[i]);

		if (!t || !t->tp_status_due || t->epoch_held)
			continue;
		t->tp_status_due = false;
		rec_dispatch(rec, t->tid, t->tp_status);
		moved = true;
	}
	if (moved)
		return true;
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
		 "at most %" PRIu32 " threads in user code at once; %" PRIu64
		 " signals delivered where their thread was interrupted; %" PRIu64
		 " threads stopped for a site's patch (%" PRIu64 " at an event first)",
		 rec->tp_stats.passes, rec->tp_stats.resumed, rec->tp_stats.max_running,
		 rec->tp_stats.interrupted, rec->tp_stats.holds, rec->tp_stats.holds_failed);
}

bool
rec_tp_signal_due(struct recorder *rec, uint64_t *ret_wait_ns)
{
	uint64_t now = util_now_ns(), wait = 0, left = 0;

	for (size_t i = 0; i < rec->nthreads; i++) {
		struct rthread *t = &rec->threads[i];

		if (t->state != RT_RUNNING || !t->deferred_sig || t->uncountable ||
		    t->tp_status_due || t->epoch_held)
			continue;
		/* the CPU time it had run when the signal came, read at the
		 * loop's first look after (UP recording reads none) */
		if (!t->deferred_cpu_ns && tracee_cpu_time(t->tid, &t->deferred_cpu_ns) < 0)
			t->deferred_cpu_ns = UINT64_MAX;
		if (signal_waited(t, now, &left)) {
			/* stopped where it stands, or at an event that came
			 * first (record-signals.c); rec_tp_signal_here() */
			rec_interrupt_running(rec, t);
			return true;
		}
		if (!wait || left < wait)
			wait = left;
	}
	*ret_wait_ns = wait;
	return false;
}

void
rec_tp_signal_here(struct recorder *rec, struct rthread *t, struct user_regs_struct *regs)
{
	t->regs = *regs;
	/* a signal its mask blocks goes back to the kernel, pending */
	while (rec_requeue_if_blocked(t))
		;
	if (!t->deferred_sig) {
		rec_resume(t, PTRACE_CONT, 0);
		return;
	}
	rec_record_signal(rec, t, t->deferred_sig, &t->deferred_info, TRACE_SIGNAL_AT_REGS, regs);
	rec->tp_stats.interrupted++;
	/* a PTRACE_CONT from the interrupt's stop delivers no signal */
	rec_raise_deferred(t);
}

/*
 * Stop @u, interrupted (PTRACE_INTERRUPT) in user code, where it stands:
 * true if it stands at the interrupt's stop. One that entered a syscall
 * first has it skipped and rewound (as rec_interrupt_running() does: a
 * pending interrupt would make a blocking call return early), so it stops
 * at its syscall instruction and enters it again once let go
 * (u->tp_rewound). Any other event that came first is left for the loop
 * (u->tp_status_due).
 */
bool
rec_tp_hold_one(struct recorder *rec, struct rthread *u)
{
	struct user_regs_struct regs;
	int status, sig;

	u->tp_rewound = false;
	for (int round = 0; round < 2; round++) {
		/* a leader turned zombie in a group exit, or gone: its end
		 * comes through the loop */
		if (!rec_wait_thread_stop(rec, u, &status))
			return false;
		switch (tracee_classify(status, &sig)) {
		case TRACEE_STOP_GROUP:
			if (tracee_group_stop_sig(status) || tracee_get_regs(u->tid, &regs) < 0)
				break;
			u->tp_rip = regs.rip;
			return true;
		case TRACEE_STOP_SECCOMP:
			if (round > 0 || tracee_get_regs(u->tid, &regs) < 0)
				break;
			arch_rewind_syscall(&regs);
			if (tracee_set_regs(u->tid, &regs) < 0)
				break;
			u->tp_rewound = true;
			rec_resume(u, PTRACE_CONT, 0);
			continue;
		default:
			break;
		}
		break;
	}
	u->tp_status_due = true;
	u->tp_status = status;
	u->tp_rip = tracee_get_regs(u->tid, &regs) == 0 ? regs.rip : 0;
	return false;
}

bool
rec_tp_hold_space(struct recorder *rec, const struct rthread *t)
{
	bool still = true;

	for (size_t i = 0; i < rec->nthreads; i++) {
		struct rthread *u = &rec->threads[i];

		/* one held for an epoch's end stands still already */
		if (u == t || u->space != t->space || u->state != RT_RUNNING || u->tp_status_due ||
		    u->epoch_held)
			continue;
		if (ptrace(PTRACE_INTERRUPT, u->tid, 0, 0) < 0) {
			still = false; /* vanished: its end comes through the loop */
			continue;
		}
		u->tp_held = true;
	}
	for (size_t i = 0; i < rec->nthreads; i++) {
		struct rthread *u = &rec->threads[i];

		if (!u->tp_held)
			continue;
		rec->tp_stats.holds++;
		if (!rec_tp_hold_one(rec, u)) {
			u->tp_held = false;
			rec->tp_stats.holds_failed++;
			still = false;
		}
	}
	return still;
}

void
rec_tp_release_space(struct recorder *rec)
{
	for (size_t i = 0; i < rec->nthreads; i++) {
		struct rthread *u = &rec->threads[i];

		if (!u->tp_held)
			continue;
		u->tp_held = false;
		rec_resume(u, PTRACE_CONT, 0);
	}
}

bool
rec_tp_position(const struct recorder *rec, const struct rthread *u, uint64_t *ret_rip)
{
	if (rec_serial(rec) || u->state != RT_RUNNING) {
		*ret_rip = u->regs.rip;
		return true;
	}
	if (u->tp_held || u->tp_status_due || u->epoch_held) {
		*ret_rip = u->tp_rip;
		return true;
	}
	return false; /* in user code, anywhere */
}
