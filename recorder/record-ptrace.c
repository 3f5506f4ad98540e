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
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
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
 * Tell the tracer of @pt that it stopped, or exited: the kernel sends it
 * SIGCHLD (do_notify_parent_cldstop(), kernel/signal.c: sent from here, it
 * gets its siginfo at arrival: rec_ptrace_notice_siginfo()), and a wait4 of
 * the tracer's that sleeps in the kernel is interrupted to report it (its
 * exit stop then returns the stop: rec_emulated_wait_exit()); one held at
 * its entry (no child to wait for in the kernel) goes on.
 */
static void
tell_tracer(struct recorder *rec, const struct rec_ptracee *pt)
{
	pid_t tracer_tgid = pt->tracer_tgid;

	kill(tracer_tgid, SIGCHLD);
	for (size_t i = 0; i < rec->nthreads; i++) {
		struct rthread *w = &rec->threads[i];

		if (w->tgid != tracer_tgid || w->model_nr != __NR_wait4 ||
		    (w->state != RT_IN_SYSCALL && !w->pt_waiting) ||
		    !rec_ptrace_waitable(&rec->ptrace, w->tgid, (pid_t)w->model_args[0]))
			continue;
		if (w->pt_waiting) {
			w->pt_waiting = false;
			sched_set_state(rec->sched, w->tid, SCHED_RUNNABLE);
		} else if (!(w->model_args[2] & WNOHANG) && ptrace(PTRACE_INTERRUPT, w->tid, 0, 0) < 0) {
			log_debug("cannot interrupt the wait of thread %d", w->tid);
		}
		return;
	}
}

/* Say the stop of @pt in the trace, for replay (TRACE_EV_PTRACE_STOP). */
static void
write_stop(struct recorder *rec, const struct rec_ptracee *pt)
{
	struct trace_event ev;

	rec_event_init(&ev, TRACE_EV_PTRACE_STOP, pt->tid);
	ev.nvalues = 4;
	ev.values[0] = pt->stop;
	ev.values[1] = (uint64_t)pt->si.si_signo;
	ev.values[2] = (uint64_t)pt->event;
	ev.values[3] = pt->msg;
	rec_write_event(rec, &ev);
}

void
rec_ptrace_hold(struct recorder *rec, struct rthread *t, enum rthread_state state, bool to_trace)
{
	const struct rec_ptracee *pt = rec_ptrace_find(&rec->ptrace, t->tid);

	t->state = state;
	sched_set_state(rec->sched, t->tid, SCHED_BLOCKED);
	if (!pt)
		return;
	if (to_trace)
		write_stop(rec, pt);
	tell_tracer(rec, pt);
}

/* @t entered an emulated ptrace-stop where it would run user code next. */
void
rec_ptrace_stopped(struct recorder *rec, struct rthread *t)
{
	rec_ptrace_hold(rec, t, RT_HELD, false);
}

bool
rec_ptrace_entry_stop(struct recorder *rec, struct rthread *t)
{
	if (rec_ptrace_syscall_stops(&rec->ptrace, t->tid, true)) {
		rec_ptrace_hold(rec, t, RT_PT_ENTRY, false);
		return true;
	}
	/* interrupted while it ran: it traps before its syscall sleeps */
	if (rec_ptrace_interrupt_due(&rec->ptrace, t->tid)) {
		rec_ptrace_hold(rec, t, RT_PT_ENTRY, true);
		return true;
	}
	return false;
}

bool
rec_ptrace_exit_stop(struct recorder *rec, struct rthread *t)
{
	unsigned long msg = 0;

	/* The thread that called exit or exit_group stops there (ptrace(2));
	 * threads a group exit kills do not: SIGKILL is pending in them, and
	 * ptrace_stop() does not stop a thread with a fatal signal pending. */
	if ((t->nr != __NR_exit && t->nr != __NR_exit_group) ||
	    !rec_ptrace_wants_exit_stop(&rec->ptrace, t->tid) ||
	    ptrace(PTRACE_GETEVENTMSG, t->tid, 0, &msg) < 0)
		return false;
	rec_ptrace_set_stop(&rec->ptrace, t->tid, REC_PTRACE_EVENT_STOP, SIGTRAP, PTRACE_EVENT_EXIT, msg);
	rec_ptrace_hold(rec, t, RT_AT_EXIT, true);
	return true;
}

void
rec_ptrace_on_gone(struct recorder *rec, struct rthread *t, int status)
{
	if (!rec_ptrace_gone(&rec->ptrace, t->tid, t->tgid, t->parent_tgid, status))
		return;
	write_stop(rec, rec_ptrace_find(&rec->ptrace, t->tid));
	tell_tracer(rec, rec_ptrace_find(&rec->ptrace, t->tid));
}

bool
rec_ptrace_group_stop(struct recorder *rec, struct rthread *t, int sig, bool begins)
{
	struct rec_ptracee *pt = rec_ptrace_find(&rec->ptrace, t->tid);

	if (!pt || !pt->seized)
		return false;
	if (begins) {
		/* a seized tracee reports its group-stop: PTRACE_EVENT_STOP of
		 * the stop signal (do_jobctl_trap()); it stays stopped */
		if (pt->stop != REC_PTRACE_RUNNING)
			return false;
		rec_ptrace_set_stop(&rec->ptrace, t->tid, REC_PTRACE_GROUP_STOP, sig, 0, 0);
		write_stop(rec, pt);
		tell_tracer(rec, pt);
		return false;
	}
	if (!pt->listening) {
		/* still in a stop its tracer sees: there it stays; a LISTEN
		 * there finds it woken (REC_PTRACE_CONTINUED, in the trace) */
		if (pt->stop == REC_PTRACE_RUNNING)
			return false;
		t->state = RT_HELD;
		sched_set_state(rec->sched, t->tid, SCHED_BLOCKED);
		if (pt->stop == REC_PTRACE_GROUP_STOP) {
			struct rec_ptracee note = *pt;

			pt->continued = true;
			note.stop = REC_PTRACE_CONTINUED;
			write_stop(rec, &note);
		}
		return true;
	}
	/* SIGCONT woke it from PTRACE_LISTEN: it traps in PTRACE_EVENT_STOP of
	 * SIGTRAP and waits for its tracer there (ptrace(2), "PTRACE_LISTEN") */
	rec_ptrace_set_stop(&rec->ptrace, t->tid, REC_PTRACE_GROUP_STOP, SIGTRAP, 0, 0);
	rec_ptrace_hold(rec, t, RT_HELD, true);
	return true;
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
	if (pt->stop == REC_PTRACE_EXITED) {
		/* do_notify_parent(), kernel/signal.c */
		int status = (int)pt->msg;

		si->si_code = WIFEXITED(status) ? CLD_EXITED : WCOREDUMP(status) ? CLD_DUMPED : CLD_KILLED;
		si->si_status = WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status);
	}
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

/* Stack the stop filter on the process of @t, in a stop where a syscall can
 * be injected, and say so in the trace (replay stacks it at that event). */
static void
stack_stop_filter(struct recorder *rec, struct rthread *t)
{
	struct trace_event ev;
	unsigned how = 0;
	int64_t result = 0;

	if (rec_seccomp_stack_stop_filter(t->tid, t->space->mem.memfd, true, &how, &result) < 0)
		return; /* vanished, or no stack: its tracer misses those stops */
	rec_event_init(&ev, TRACE_EV_STOP_FILTER, t->tid);
	ev.nvalues = 2;
	ev.values[0] = how;
	ev.values[1] = (uint64_t)result;
	if (rec_write_event(rec, &ev) < 0 || result != 0) {
		log_debug("thread %d: seccomp(2) of the stop filter returned %" PRId64, t->tid, result);
		return;
	}
	for (size_t i = 0; i < rec->nthreads; i++)
		if (rec->threads[i].tgid == t->tgid && ((how & REC_STOP_FILTER_TSYNC) || &rec->threads[i] == t))
			rec->threads[i].stop_filter = true;
}

/*
 * The tracer resumes @pt with PTRACE_SYSCALL: stack the stop filter on its
 * process unless it has it (its children inherit it, exec keeps it), so that
 * rt_sigreturn, arch_prctl and set_robust_list stop there. Only where the
 * thread stands in a signal or syscall-exit stop (a stop it leaves for user
 * code, where a syscall can be injected); elsewhere (an event or group
 * stop, inside a syscall) a later PTRACE_SYSCALL stacks it, before the
 * thread runs user code again.
 */
static void
ptrace_want_syscall_stops(void *ctx, const struct rec_ptracee *pt)
{
	struct recorder *rec = ctx;
	struct rthread *t = rec_find_thread(rec, pt->tid);
	struct user_regs_struct regs;
	uint64_t mask;

	if (!t || t->stop_filter || t->state != RT_HELD ||
	    (pt->stop != REC_PTRACE_SIGNAL_STOP && pt->stop != REC_PTRACE_SYSCALL_EXIT) ||
	    tracee_get_regs(t->tid, &regs) < 0)
		return;
	/* A signal that interrupted sigsuspend, ppoll & co. is delivered under
	 * the wait's mask; an injected syscall would return to user mode first,
	 * where the kernel puts the thread's own mask back (restore_saved_sigmask()):
	 * stacked once it stands at its handler (ptrace_resume()) */
	if (pt->stop == REC_PTRACE_SIGNAL_STOP && regs.orig_rax == t->nr &&
	    sc_wait_mask((long)t->model_nr, t->model_args, (int64_t)regs.rax,
			 rec_tracee_mem_read, &t->tid, &mask) != 0) {
		t->stop_filter_due = true;
		return;
	}
	stack_stop_filter(rec, t);
}

/* What record does after @pt's stop, let go: where it stands. */
static enum rthread_state
state_after(const struct rec_ptracee *pt, const struct rthread *t)
{
	switch (pt->stop) {
	case REC_PTRACE_SYSCALL_ENTRY:
		return RT_PT_ENTRY;
	case REC_PTRACE_EVENT_STOP:
		if (pt->event == PTRACE_EVENT_EXIT)
			return RT_AT_EXIT;
		if (pt->event != PTRACE_EVENT_VFORK_DONE)
			return RT_AT_CLONE;
		return RT_HELD;
	case REC_PTRACE_GROUP_STOP:
		return t->state; /* where it was interrupted */
	default:
		return RT_HELD;
	}
}

/* The tracer lets @pt go on from its emulated stop, delivering @sig. */
static int
ptrace_resume(void *ctx, const struct rec_ptracee *pt, int sig, const siginfo_t *si)
{
	struct recorder *rec = ctx;
	struct rthread *t = rec_find_thread(rec, pt->tid);
	enum tracee_delivery how = TRACEE_DELIVERY_NONE;
	int status = 0, r;
	bool filter_due;

	/* where it stands now: the tracer may have changed its registers */
	if (!t || tracee_get_regs(t->tid, &t->regs) < 0)
		return -ESRCH;
	filter_due = t->stop_filter_due;
	t->stop_filter_due = false;
	t->state = state_after(pt, t);
	t->stepping = pt->step;
	sched_set_state(rec->sched, t->tid, SCHED_RUNNABLE);
	if (!sig || pt->stop == REC_PTRACE_GROUP_STOP)
		return 0; /* PTRACE_EVENT_STOP takes no signal (do_jobctl_trap()) */
	if (pt->stop != REC_PTRACE_SIGNAL_STOP) {
		/* not in a signal stop: raise it, to arrive at its next event
		 * (ptrace_report_syscall() and ptrace_event() send it) */
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
	if (r == 0 && how == TRACEE_DELIVERY_HANDLER && filter_due) {
		/* before the handler's first instruction, its mask and frame made */
		stack_stop_filter(rec, t);
		if (tracee_get_regs(t->tid, &t->regs) < 0)
			r = -ESRCH;
	}
	if (r == 0 && how == TRACEE_DELIVERY_HANDLER && t->stepping) {
		/* stepping into a handler stops at its first instruction */
		t->stepping = false;
		t->step_stop = SIGTRAP;
	}
	if (how == TRACEE_DELIVERY_RUNNING)
		t->state = RT_RUNNING;
	return r < 0 ? -ESRCH : 0;
}

/* Record: the signal of the group-stop @tid stands in, SIGTRAP if it is
 * held at an event, 0 if it runs. */
static int
ptrace_stopped_sig(void *ctx, pid_t tid)
{
	struct rthread *t = rec_find_thread(ctx, tid);

	if (!t)
		return 0;
	switch (t->state) {
	case RT_STOPPED:
		return t->group_sig ? t->group_sig : SIGSTOP;
	case RT_RUNNING:
	case RT_IN_SYSCALL:
	case RT_ZOMBIE:
		return 0;
	default:
		return SIGTRAP;
	}
}

/* @pt runs and was interrupted: a syscall it sleeps in returns, to be
 * restarted (the kernel's PTRACE_INTERRUPT), so it comes to an event; user
 * code comes to one by itself (its next syscall, or a preemption). */
static void
ptrace_kick(void *ctx, const struct rec_ptracee *pt)
{
	struct rthread *t = rec_find_thread(ctx, pt->tid);

	if (t && t->state == RT_IN_SYSCALL && ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) < 0)
		log_debug("thread %d: cannot interrupt its syscall", t->tid); /* vanished */
}

static void
ptrace_note(void *ctx, const struct rec_ptracee *pt, bool to_trace)
{
	struct recorder *rec = ctx;
	struct rthread *t = rec_find_thread(rec, pt->tid);

	if (t && t->state != RT_STOPPED)
		sched_set_state(rec->sched, t->tid, SCHED_BLOCKED);
	if (to_trace)
		write_stop(rec, pt);
	tell_tracer(rec, pt);
}

void
rec_skip_syscall(struct recorder *rec, struct rthread *t, int64_t result)
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
report_stop(struct recorder *rec, struct rthread *t, struct rec_ptracee *pt)
{
	static const uint8_t zero_rusage[144]; /* struct rusage: nothing counted */
	int status = rec_ptrace_wait_status(pt);
	if (t->model_args[1] && tracee_write(t->space->mem.memfd, t->model_args[1], &status,
					     sizeof(status)) < 0)
		log_debug("thread %d: cannot store a wait status", t->tid);
	if (t->model_args[3] && tracee_write(t->space->mem.memfd, t->model_args[3], zero_rusage,
					     sizeof(zero_rusage)) < 0)
		log_debug("thread %d: cannot store a wait rusage", t->tid);
	rec_ptrace_reported(&rec->ptrace, t->tgid, pt->tid); /* @pt may be gone now */
}

/*
 * Whether process @tgid has a child the kernel's wait4 sees, alive or a
 * zombie not reaped yet: @pid (> 0), or any. The children of each of its
 * threads are in /proc/PID/task/TID/children (proc(5)). -errno if /proc
 * cannot say.
 */
static int
has_kernel_child(pid_t tgid, pid_t pid)
{
	char path[80];
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", tgid);
	d = opendir(path);
	if (!d)
		return -errno;
	while (!found && (de = readdir(d))) {
		FILE *f;
		long child;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/children", tgid, de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue; /* a thread that just ended */
		while (!found && fscanf(f, "%ld", &child) == 1)
			found = pid <= 0 || child == pid;
		fclose(f);
	}
	closedir(d);
	return found;
}

/*
 * Whether tracer @t's wait4 would fail in the kernel (ECHILD) though it
 * waits for emulated tracees: it asks for one that is not its child (a
 * grandchild strace -f follows, a thread), or for any while it has no
 * child of its own left, not even a zombie. Natively it would sleep until
 * a tracee stops.
 */
static bool
kernel_wait_fails(struct recorder *rec, const struct rthread *t)
{
	pid_t pid = (pid_t)t->model_args[0];
	struct rthread *u;
	int r;

	if (pid > 0 && !rec_ptrace_find(&rec->ptrace, pid))
		return false; /* the kernel's answer */
	r = has_kernel_child(t->tgid, pid > 0 ? pid : 0);
	if (r >= 0)
		return r == 0;
	/* without /proc: the recorded processes, which miss zombies */
	if (pid > 0) {
		u = rec_find_thread(rec, pid);
		return u && (u->tid != u->tgid || u->parent_tgid != t->tgid);
	}
	for (size_t i = 0; i < rec->nthreads; i++) {
		u = &rec->threads[i];
		if (u->tid == u->tgid && u->parent_tgid == t->tgid)
			return false;
	}
	return true;
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
	struct rec_ptrace_ops ops = { rec, ptrace_locate, ptrace_parent_of, ptrace_resume,
				      ptrace_stopped_sig, ptrace_note, ptrace_kick,
				      ptrace_want_syscall_stops };
	struct rec_ptrace_call c = {
		.ops = &ops, .tracer = t->tid, .tracer_tgid = t->tgid,
		.parent_tgid = t->parent_tgid, .tracer_memfd = t->space->mem.memfd,
		.debugregs_taken = rec->pmu, /* its replay sets them */
		.why = why, .why_len = sizeof(why),
	};
	struct rec_ptracee *pt;
	int64_t result;

	if (t->model_nr == __NR_wait4 && rec_ptrace_has_tracees(&rec->ptrace, t->tgid)) {
		pid_t tid;

		pt = rec_ptrace_waitable(&rec->ptrace, t->tgid, (pid_t)t->model_args[0]);
		if (!pt) {
			if (!kernel_wait_fails(rec, t))
				return false; /* the kernel's wait; a stop will interrupt it */
			if (t->model_args[2] & WNOHANG) {
				rec_skip_syscall(rec, t, 0); /* a tracee, not stopped */
				return true;
			}
			/* held at its entry until a tracee stops: tell_tracer() */
			t->pt_waiting = true;
			t->state = RT_AT_ENTRY;
			sched_set_state(rec->sched, t->tid, SCHED_BLOCKED);
			return true;
		}
		tid = pt->tid;
		report_stop(rec, t, pt);
		rec_skip_syscall(rec, t, tid);
		return true;
	}
	if (t->model_nr != __NR_ptrace)
		return false;
	result = rec_ptrace_request(&rec->ptrace, &c, t->model_args);
	if (result == -ENOTSUP) {
		char named[160];

		/* a request not emulated at all: the model names it */
		if (sc_check((long)t->model_nr, t->model_args, named, sizeof(named)) < 0)
			snprintf(why, sizeof(why), "%s", named);
		rec_stop_recording(rec, "the program used an unsupported %s; recording stopped", why);
		return true;
	}
	t = rec_find_thread(rec, c.tracer); /* a delivery may have moved it */
	if (t)
		rec_skip_syscall(rec, t, result);
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

	if (t->model_nr != __NR_wait4 || !sc_result_restarts((int64_t)t->regs.rax))
		return;
	pt = rec_ptrace_waitable(&rec->ptrace, t->tgid, (pid_t)t->model_args[0]);
	if (!pt)
		return;
	t->regs.rax = (uint64_t)pt->tid;
	report_stop(rec, t, pt);
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

