/* SPDX-License-Identifier: MIT */
/*
 * The recorder's side of emulated ptrace (recorder/ptrace-emu.c holds the
 * state machine, shared with replay): a traced thread's stop held out of
 * the scheduler, its tracer told (SIGCHLD, an interrupted wait4), the
 * tracer's ptrace and wait4 calls carried out instead of the kernel's, and
 * the end of a tracer.
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

/*
 * @t entered an emulated ptrace-stop: it waits, held, for its tracer, and a
 * wait4 of the tracer's that sleeps in the kernel is interrupted to report
 * it (its exit stop then returns the stop: rec_emulated_wait_exit()).
 */
void
rec_ptrace_stopped(struct recorder *rec, struct rthread *t)
{
	const struct rec_ptracee *pt = rec_ptrace_find(&rec->ptrace, t->tid);

	t->state = RT_HELD;
	sched_set_state(rec->sched, t->tid, SCHED_BLOCKED);
	/* the kernel tells the tracer with SIGCHLD, CLD_TRAPPED
	 * (do_notify_parent_cldstop(), kernel/signal.c): sent from here, it
	 * gets its siginfo at arrival (rec_ptrace_notice_siginfo()) */
	if (pt)
		kill(pt->tracer_tgid, SIGCHLD);
	for (size_t i = 0; pt && i < rec->nthreads; i++) {
		struct rthread *w = &rec->threads[i];

		if (w->tgid == pt->tracer_tgid && w->state == RT_IN_SYSCALL &&
		    w->model_nr == __NR_wait4 && !(w->model_args[2] & WNOHANG) &&
		    rec_ptrace_waitable(&rec->ptrace, w->tgid, (pid_t)w->model_args[0]) == pt) {
			if (ptrace(PTRACE_INTERRUPT, w->tid, 0, 0) < 0)
				log_debug("cannot interrupt the wait of thread %d", w->tid);
			return;
		}
	}
}

/* ---- emulated ptrace (recorder/ptrace-emu.c) ---- */

/*
 * The SIGCHLD uprr sent tracer @t's process when one of its tracees stopped
 * (rec_ptrace_stopped()) reads as the kernel's: CLD_TRAPPED, the tracee's id and
 * its stop's signal (sigaction(2)); the tracer sees the same siginfo.
 */
void
rec_ptrace_notice_siginfo(struct recorder *rec, struct rthread *t, siginfo_t *si)
{
	const struct rec_ptracee *pt = NULL;

	for (size_t i = 0; i < rec->ptrace.n && !pt; i++)
		if (rec->ptrace.v[i].tracer_tgid == t->tgid && rec->ptrace.v[i].stop != REC_PTRACE_RUNNING)
			pt = &rec->ptrace.v[i];
	if (!pt)
		return;
	memset(si, 0, sizeof(*si));
	si->si_signo = SIGCHLD;
	si->si_code = CLD_TRAPPED;
	si->si_pid = pt->tid;
	si->si_uid = getuid();
	si->si_status = pt->si.si_signo;
	if (ptrace(PTRACE_SETSIGINFO, t->tid, 0, si) < 0)
		log_debug("thread %d: cannot set the siginfo of SIGCHLD", t->tid);
}

static int
ptrace_locate(void *ctx, pid_t tid, pid_t *ret_tid, pid_t *ret_tgid, int *ret_memfd)
{
	struct rthread *t = rec_find_thread(ctx, tid);

	if (!t || !t->space)
		return -ESRCH;
	*ret_tid = t->tid;
	*ret_tgid = t->tgid;
	*ret_memfd = t->space->mem.memfd;
	return 0;
}

static pid_t
ptrace_parent_of(void *ctx, pid_t tid)
{
	struct rthread *t = rec_find_thread(ctx, tid);

	return t ? t->parent_tgid : 0;
}

/* The tracer lets @pt go on from its emulated stop, delivering @sig. */
static int
ptrace_resume(void *ctx, const struct rec_ptracee *pt, int sig, const siginfo_t *si)
{
	struct recorder *rec = ctx;
	struct rthread *t = rec_find_thread(rec, pt->tid);
	enum tracee_delivery how = TRACEE_DELIVERY_NONE;
	int status = 0, r;

	/* where it stands now: the tracer may have changed its registers */
	if (!t || tracee_get_regs(t->tid, &t->regs) < 0)
		return -ESRCH;
	t->state = RT_HELD;
	t->stepping = pt->step;
	sched_set_state(rec->sched, t->tid, SCHED_RUNNABLE);
	if (!sig)
		return 0;
	if (pt->stop == REC_PTRACE_EXEC_STOP) {
		/* not in a signal stop: raise it, to arrive at its next event */
		rec_ptrace_find(&rec->ptrace, pt->tid)->inject = sig;
		syscall(SYS_tgkill, t->tgid, t->tid, sig);
		return 0;
	}
	r = tracee_deliver_signal(t->tid, sig, si, &how, &status);
	if (r == -EINPROGRESS) {
		t->state = RT_RUNNING;
		rec_dispatch(rec, t->tid, status);
		return 0;
	}
	if (r == 0 && how != TRACEE_DELIVERY_RUNNING && tracee_get_regs(t->tid, &t->regs) < 0)
		r = -ESRCH;
	if (r == 0 && how == TRACEE_DELIVERY_HANDLER && t->stepping) {
		/* stepping into a handler stops at its first instruction */
		t->stepping = false;
		t->step_stop = SIGTRAP;
	}
	if (how == TRACEE_DELIVERY_RUNNING)
		t->state = RT_RUNNING;
	return r < 0 ? -ESRCH : 0;
}

/* Make @t's syscall, at its seccomp stop, return @result without running:
 * its exit stop follows (seccomp(2): orig_rax -1 skips it). */
static void
skip_syscall(struct recorder *rec, struct rthread *t, int64_t result)
{
	struct user_regs_struct regs = t->regs;

	regs.orig_rax = (uint64_t)-1;
	regs.rax = (uint64_t)result;
	if (tracee_set_regs(t->tid, &regs) < 0)
		return; /* vanished: its end comes through waitpid */
	t->may_block = false;
	rec_run_syscall(rec, t);
}

/* Store the wait4 result of stop @pt in @t's status and rusage arguments. */
static void
report_stop(struct rthread *t, struct rec_ptracee *pt)
{
	static const uint8_t zero_rusage[144]; /* struct rusage: nothing counted */
	int status = rec_ptrace_wait_status(pt);

	pt->reported = true;
	if (t->model_args[1] && tracee_write(t->space->mem.memfd, t->model_args[1], &status,
					     sizeof(status)) < 0)
		log_debug("thread %d: cannot store a wait status", t->tid);
	if (t->model_args[3] && tracee_write(t->space->mem.memfd, t->model_args[3], zero_rusage,
					     sizeof(zero_rusage)) < 0)
		log_debug("thread %d: cannot store a wait rusage", t->tid);
}

/*
 * Syscalls uprr carries out itself instead of the kernel: ptrace(2) between
 * recorded processes, and a wait4(2) that reports an emulated ptrace-stop.
 * Returns true if @t's syscall was handled so.
 */
bool
rec_emulate_syscall(struct recorder *rec, struct rthread *t)
{
	char why[160] = "";
	struct rec_ptrace_ops ops = { rec, ptrace_locate, ptrace_parent_of, ptrace_resume };
	struct rec_ptrace_call c = {
		.ops = &ops, .tracer = t->tid, .tracer_tgid = t->tgid,
		.parent_tgid = t->parent_tgid, .tracer_memfd = t->space->mem.memfd,
		.debugregs_taken = rec->pmu, /* its replay sets them */
		.why = why, .why_len = sizeof(why),
	};
	struct rec_ptracee *pt;
	int64_t result;

	if (t->model_nr == __NR_wait4 && rec_ptrace_has_tracees(&rec->ptrace, t->tgid)) {
		pt = rec_ptrace_waitable(&rec->ptrace, t->tgid, (pid_t)t->model_args[0]);
		if (!pt)
			return false; /* the kernel's wait; a stop will interrupt it */
		report_stop(t, pt);
		skip_syscall(rec, t, pt->tid);
		return true;
	}
	if (t->model_nr != __NR_ptrace)
		return false;
	result = rec_ptrace_request(&rec->ptrace, &c, t->model_args);
	if (result == -ENOTSUP) {
		char named[160];

		/* a request not emulated at all: the model names it */
		if (rec_syscall_check((long)t->model_nr, t->model_args, named, sizeof(named)) < 0)
			snprintf(why, sizeof(why), "%s", named);
		rec_stop_recording(rec, "the program used an unsupported %s; recording stopped", why);
		return true;
	}
	t = rec_find_thread(rec, c.tracer); /* a delivery may have moved it */
	if (t)
		skip_syscall(rec, t, result);
	return true;
}

/*
 * At the exit of @t's wait4, which a stop of one of its process's tracees
 * interrupted (PTRACE_INTERRUPT: -ERESTARTSYS): return that stop instead,
 * with no restart (orig_rax -1).
 */
void
rec_emulated_wait_exit(struct recorder *rec, struct rthread *t)
{
	struct rec_ptracee *pt;

	if (t->model_nr != __NR_wait4 || !rec_syscall_result_restarts((int64_t)t->regs.rax))
		return;
	pt = rec_ptrace_waitable(&rec->ptrace, t->tgid, (pid_t)t->model_args[0]);
	if (!pt)
		return;
	report_stop(t, pt);
	t->regs.rax = (uint64_t)pt->tid;
	t->regs.orig_rax = (uint64_t)-1;
	if (tracee_set_regs(t->tid, &t->regs) < 0)
		log_debug("thread %d: cannot return a wait result", t->tid);
}

/* Process @tgid ended: the threads it traced are detached, or killed
 * (PTRACE_O_EXITKILL), and go on from their stops without a signal. */
void
rec_tracer_gone(struct recorder *rec, pid_t tgid)
{
	struct rec_ptracee pt;

	while (rec_ptrace_tracer_gone(&rec->ptrace, tgid, &pt)) {
		struct rthread *u = rec_find_thread(rec, pt.tid);

		if (!u)
			continue;
		if (pt.options & PTRACE_O_EXITKILL)
			syscall(SYS_tgkill, u->tgid, u->tid, SIGKILL);
		if (pt.stop != REC_PTRACE_RUNNING)
			sched_set_state(rec->sched, u->tid, SCHED_RUNNABLE);
	}
}

