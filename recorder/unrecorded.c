/* SPDX-License-Identifier: MIT */
/*
 * Going on unrecorded.
 *
 * When the trace cannot be written any more (disk full, quota, file size
 * limit), the program goes on as if uprr had never been there, only slower.
 * uprr cannot detach: the seccomp filter stays with every tracee for life,
 * and its SECCOMP_RET_TRACE fails every syscall with ENOSYS once no tracer
 * listens (seccomp(2)). So uprr stays the tracer and lets every stop go:
 * syscalls run as they come (one stop each), signals are delivered as they
 * arrive, new processes and threads run free, rdtsc (still trapped by
 * PR_SET_TSC, which threads inherit) is executed for them. Nothing is
 * recorded and no thread waits for another. PTRACE_O_SUSPEND_SECCOMP would
 * save the stops, but it suspends every filter, the program's own too (a
 * sandbox it installs later would not hold), and needs CAP_SYS_ADMIN.
 */
#define LOG_PREFIX "record"
#include <asm/unistd.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint/checkpoint.h"
#include "common/log.h"
#include "recorder/record-private.h"
#include "recorder/recorder.h"
#include "sched/sched.h"
#include "sched/ticks-soft.h"
#include "trace/trace.h"
#include "tracee/tracee.h"

/* A signal-delivery-stop of thread @tid (@t: NULL for one uprr never
 * recorded) while unrecorded: deliver the signal, unless it is uprr's own. */
static void
unrecorded_signal(struct recorder *rec, struct rthread *t, pid_t tid, int sig)
{
	struct user_regs_struct regs;
	siginfo_t si;
	unsigned len;

	if (ptrace(PTRACE_GETSIGINFO, tid, 0, &si) < 0 || tracee_get_regs(tid, &regs) < 0)
		return; /* vanished: its end comes through waitpid */
	if (sig == SIGSEGV && si.si_code == SI_KERNEL && rec_run_tsc(tid, &regs, &len)) {
		if (tracee_set_regs(tid, &regs) == 0)
			tracee_resume(tid, PTRACE_CONT, 0);
		return;
	}
	if (t && t->space && sig == SIGTRAP &&
	    ticks_soft_settle(t->space->mem.soft, tid, &regs) == PATCH_STOP_TRAPPED) {
		/* a budget armed before the trace failed ran out: the thread
		 * stands at a counted branch, whose code goes on as it is */
		if (tracee_set_regs(tid, &regs) == 0)
			tracee_resume(tid, PTRACE_CONT, 0);
		return;
	}
	/* a signal uprr held back and raised again: its own siginfo */
	for (size_t i = 0; t && i < t->nlater; i++) {
		if (t->later[i].si_signo != sig)
			continue;
		if (ptrace(PTRACE_SETSIGINFO, tid, 0, &t->later[i]) < 0)
			log_debug("thread %d: cannot restore the siginfo of %s", tid,
				  tracee_signal_name(sig));
		memmove(&t->later[i], &t->later[i + 1], (--t->nlater - i) * sizeof(*t->later));
		break;
	}
	rec->last_sig_rip = regs.rip;
	rec->last_sig_tid = tid;
	tracee_resume(tid, PTRACE_CONT, sig);
}

/*
 * Raise again the signals uprr took from the kernel for @t and holds for an
 * execution point; they are kept in t->later, with the one raised and not yet
 * delivered first, so that each gets its own siginfo back at delivery.
 */
static void
raise_held_signals(struct rthread *t)
{
	size_t n = t->nlater + (t->deferred_sig != 0) + (t->injecting_sig != 0), k = 0;
	siginfo_t *v = calloc(MAX(n, 1u), sizeof(*v));
	siginfo_t si;

	if (!v)
		log_warn("out of memory: signals of thread %d lose their siginfo", t->tid);
	if (v && t->injecting_sig)
		v[k++] = t->injecting_info;
	while (t->deferred_sig) {
		syscall(SYS_tgkill, t->tgid, t->tid, rec_take_deferred(t, &si));
		if (v)
			v[k++] = si;
	}
	free(t->later);
	t->later = v;
	t->nlater = k;
	t->later_cap = MAX(n, 1u);
	t->injecting_sig = 0;
}

/* Let one stop (@status) of thread @tid go, unrecorded. */
static void
unrecorded_stop(struct recorder *rec, pid_t tid, int status)
{
	struct rthread *t = rec_find_thread(rec, tid);
	int sig = 0;

	switch (tracee_classify(status, &sig)) {
	case TRACEE_GONE:
		if (tid == rec->root)
			rec->status = status;
		if (t)
			rec_remove_thread(rec, tid);
		break;
	case TRACEE_STOP_SIGNAL:
		unrecorded_signal(rec, t, tid, sig);
		break;
	case TRACEE_STOP_GROUP:
		/* a group stop holds until SIGCONT, as without uprr */
		if (tracee_group_stop_sig(status)) {
			if (ptrace(PTRACE_LISTEN, tid, 0, 0) < 0)
				log_debug("thread %d: PTRACE_LISTEN: %s", tid, strerror(errno));
			break;
		}
		tracee_resume(tid, PTRACE_CONT, 0);
		break;
	default:
		/* a syscall to run, a syscall's end, a new thread's first stop,
		 * an exec, an exit, a group stop: let it go on */
		tracee_resume(tid, PTRACE_CONT, 0);
		break;
	}
}

/* Events in the trace's whole frames: where its replay will end. */
uint64_t
rec_events_written(struct trace_writer *w)
{
	struct trace_stats st;

	trace_writer_stats(w, &st);
	return st.events_written;
}

/*
 * Recording ended because the trace cannot be written: let every recorded
 * process go on as it would have without uprr (see above). Returns once
 * they are all gone; the root's wait status is in rec->status.
 */
void
rec_go_on_unrecorded(struct recorder *rec)
{
	uint64_t t0 = util_now_ns();
	pid_t tid;
	int status;

	/* No restore points any more: kill the mirrors, stop tracking writes
	 * (closing the userfaultfd unregisters its ranges); no counted branch
	 * traps any more (a budget of 0 runs out after 2^64 branches). */
	for (size_t i = 0; i < rec->nthreads; i++) {
		struct rspace *sp = rec->threads[i].space;

		if (sp && sp->ckpt) {
			checkpoint_free(sp->ckpt);
			sp->ckpt = NULL;
		}
		if (sp && ticks_soft_active(sp->mem.soft) && ticks_soft_set_budget(sp->mem.memfd, 0) < 0)
			log_debug("process %d: cannot clear the tick budget", rec->threads[i].tgid);
	}
	/* the program's threads run on every CPU they may, as without uprr */
	if (rec->have_affinity) {
		(void)sched_setaffinity(0, sizeof(rec->affinity), &rec->affinity);
		for (size_t i = 0; i < rec->nthreads; i++)
			(void)sched_setaffinity(rec->threads[i].tid, sizeof(rec->affinity),
						&rec->affinity);
	}
	for (size_t i = 0; i < rec->nthreads;) {
		struct rthread *t = &rec->threads[i];
		size_t n = rec->nthreads;

		raise_held_signals(t);
		/* A thread in a ptrace stop: one not yet reported goes through
		 * unrecorded_stop(); one uprr holds (waiting for its turn, or
		 * left where recording stopped) simply goes on. One that runs
		 * reports its next stop to the loop below. */
		if (t->state == RT_STOPPED) {
			/* listening in a group stop: SIGCONT wakes it, and its
			 * report goes through unrecorded_stop() */
		} else if (tracee_thread_state(t->tid) == 't') {
			if (waitpid(t->tid, &status, __WALL | WNOHANG) == t->tid)
				unrecorded_stop(rec, t->tid, status);
			else /* a signal it stands in the delivery stop of goes in */
				tracee_resume(t->tid, PTRACE_CONT, t->exit_sig);
		}
		if (rec->nthreads == n)
			i++; /* else the thread went and another took its place */
	}
	log_info("the program runs unrecorded %.3f ms after the trace failed",
		 (double)(util_now_ns() - t0) / 1e6);
	while ((tid = waitpid(-1, &status, __WALL)) > 0 || errno == EINTR)
		if (tid > 0)
			unrecorded_stop(rec, tid, status);
}

/* Kill every recorded process and reap them all. Address spaces go first:
 * their checkpoint mirrors are uprr's children too. Other children of uprr
 * that stand still stay (an EP run's: the TP run's checkpoints, stopped,
 * which tp/ frees after it; racy_crash's EP run, diverged at a syscall
 * with checkpoints kept, waited for them forever). In lock-step only this
 * run's threads are reaped, by id: the other run's, held, report to its
 * own loop (rec_stash_others()). */
void
rec_kill_tracees(struct recorder *rec)
{
	_cleanup_free_ pid_t *tgids = calloc(rec->nthreads + 1, sizeof(pid_t));
	_cleanup_free_ pid_t *tids = calloc(rec->nthreads + 1, sizeof(pid_t));
	bool others = rec_stash_others(rec);
	size_t n = 0, nt = 0;

	for (size_t i = 0; tgids && i < rec->nthreads; i++)
		tgids[n++] = rec->threads[i].tgid;
	/* the others' threads first: a leader is reported after them */
	for (size_t i = 0; tids && i < rec->nthreads; i++)
		if (rec->threads[i].tid != rec->threads[i].tgid)
			tids[nt++] = rec->threads[i].tid;
	for (size_t i = 0; tids && i < rec->nthreads; i++)
		if (rec->threads[i].tid == rec->threads[i].tgid)
			tids[nt++] = rec->threads[i].tid;
	while (rec->nthreads)
		rec_remove_thread(rec, rec->threads[0].tid);
	if (!tgids || !tids) {
		tracee_kill_list(&rec->root, 1);
		return;
	}
	if (!others) {
		tgids[n++] = rec->root;
		tracee_kill_list(tgids, n);
		return;
	}
	/* lock-step: the other run's tracees (held) are uprr's children too,
	 * whose events the other run's loop must get: reaped by id only */
	for (size_t i = 0; i < n; i++)
		kill(tgids[i], SIGKILL);
	for (size_t i = 0; i < nt; i++)
		tracee_reap(tids[i]);
}

