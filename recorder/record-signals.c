/* SPDX-License-Identifier: MIT */
/*
 * The recorder's signals and execution points: an asynchronous signal is
 * delivered where replay finds it again (at the thread's last event, instead
 * of entering its next syscall, or at a counted branch), a thread that
 * overran its timeslice is stopped at an execution point (soft ticks:
 * rolled back to its restore point and counted; the PMU: read), rdtsc is
 * emulated. A deferred signal the thread's mask blocks goes back to the
 * kernel.
 */
#define LOG_PREFIX "record"
#include <asm/unistd.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/audit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "checkpoint/checkpoint.h"
#include "common/log.h"
#include "preload/uprr-preload.h"
#include "recorder/record-private.h"
#include "recorder/recorder.h"
#include "sched/sched.h"
#include "sched/ticks-soft.h"
#include "sched/ticks.h"
#include "trace/trace.h"
#include "tracee/tracee.h"
#include "x86_64/arch.h"

/* Rollbacks tried in one run of user code before uprr stops trying to reach
 * an execution point there (the thread then runs to its next event). */
#define MAX_ROLLBACKS 8
/* Time a thread has to reach a counted branch once its budget is armed. */
#define TRAP_GRACE_NS 4000000ull
/* Time a run has before a thread that woke preempts it. */
#define WAKEUP_AFTER_NS 20000ull
/* Time a re-run has to consume its buffered calls (it ran them once in
 * less than a timeslice): past it, it diverged. */
#define RERUN_MAX_NS 2000000000ull
/* Time until a thread stopped inside the syscall buffer's library is
 * looked at again. */
#define IN_LIBRARY_NS 50000ull

/*
 * If @t's mask blocks its deferred signal now, give that signal back to the
 * kernel and return true: it stays pending there until the thread unblocks
 * it, and arrives again then (signal(7)). A handler of an earlier instance
 * blocks it (its sa_mask) until its rt_sigreturn, which uprr does not see:
 * delivering it now would run a handler the kernel would not, and injecting
 * it would leave it pending at a point replay cannot find. The kernel's
 * siginfo goes back with it where rt_tgsigqueueinfo(2) takes it (si_code
 * below 0), else it arrives again as sent by tgkill.
 */
bool
rec_requeue_if_blocked(struct rthread *t)
{
	uint64_t mask;
	siginfo_t si;
	int sig;

	if (!t->deferred_sig || tracee_get_sigmask(t->tid, &mask) < 0 ||
	    !(mask & (1ull << (t->deferred_sig - 1))))
		return false;
	sig = rec_take_deferred(t, &si);
	if (si.si_code >= 0 || syscall(SYS_rt_tgsigqueueinfo, t->tgid, t->tid, sig, &si) < 0)
		syscall(SYS_tgkill, t->tgid, t->tid, sig);
	return true;
}

/*
 * Whether @t, at a syscall entry with a deferred signal, should take it during
 * the syscall rather than before it: a syscall that may wait; or when the
 * handler already ran before this very syscall and the thread came back with
 * the same registers, another signal arrived before it could issue the
 * syscall (a timer faster than a delivery under ptrace), and rewinding again
 * would never let it progress.
 * Not for syscalls that change the signal mask, wait for signals, or replace
 * or copy the thread, where a signal pending during the call acts otherwise.
 */
bool
rec_signal_during_syscall(const struct rthread *t)
{
	uint64_t args[6];

	switch (t->regs.orig_rax) {
	case __NR_rt_sigprocmask: case __NR_rt_sigsuspend: case __NR_rt_sigtimedwait:
	case __NR_pselect6: case __NR_ppoll: case __NR_epoll_pwait: case __NR_epoll_pwait2:
	case __NR_execve: case __NR_execveat: case __NR_clone: case __NR_clone3:
	case __NR_fork: case __NR_vfork: case __NR_exit: case __NR_exit_group:
		return false;
	default:
		break;
	}
	if (t->injected && !arch_regs_differ(&t->regs, &t->injected_regs))
		return true;
	/* A call that may wait takes it while it waits (EINTR, or a restart
	 * after the handler), as it would natively in all but the short
	 * window before the call: an event loop that checks a flag its
	 * handler sets and then waits (nginx and SIGQUIT) waits forever if
	 * the handler runs in that window, which a signal deferred through a
	 * run of buffered syscalls would hit every time. */
	for (int i = 0; i < 6; i++)
		args[i] = arch_syscall_arg(&t->regs, i);
	return sc_flags((long)t->regs.orig_rax, args) & SC_MAY_BLOCK;
}

/*
 * Raise @t's deferred signal while it enters its syscall, which then runs
 * with the signal pending: the kernel interrupts it if it would block, and
 * delivers the signal when it returns, where on_signal records it as one
 * pending at that event (signal(7): the same as a signal arriving then).
 */
void
rec_raise_during_syscall(struct rthread *t)
{
	t->injecting_late = true;
	t->injecting_sig = rec_take_deferred(t, &t->injecting_info);
	syscall(SYS_tgkill, t->tgid, t->tid, t->injecting_sig);
}

/*
 * Deliver @t's deferred signal where it stands, in a ptrace stop that is no
 * signal-delivery-stop (an interrupt's PTRACE_EVENT_STOP, a seccomp stop):
 * a resumption from there injects no signal (ptrace(2): only a
 * signal-delivery-stop does; do_jobctl_trap(), kernel/signal.c, drops the
 * tracer's exit code). Raise it again: the thread stops for its delivery
 * before any instruction runs, where rec_on_signal() delivers it with its
 * siginfo (one of that number already pending merges with it, signal(7)).
 * The caller wrote its event.
 */
void
rec_raise_deferred(struct rthread *t)
{
	t->injecting_late = false;
	t->injecting_sig = rec_take_deferred(t, &t->injecting_info);
	syscall(SYS_tgkill, t->tgid, t->tid, t->injecting_sig);
	rec_resume(t, PTRACE_CONT, 0);
}

/* Deliver a deferred asynchronous signal instead of entering the syscall:
 * rewind to the syscall instruction so it is issued again after the handler. */
void
rec_inject_at_syscall(struct recorder *rec, struct rthread *t)
{
	struct trace_event ev;
	struct trace_blob blob = { 0, sizeof(siginfo_t), &t->deferred_info };
	struct user_regs_struct regs = t->regs;

	rec_event_init(&ev, TRACE_EV_SIGNAL, t->tid);
	ev.nvalues = 2;
	ev.values[0] = (uint64_t)t->deferred_sig;
	ev.values[1] = TRACE_SIGNAL_AT_SYSCALL;
	rec_event_set_regs(&ev, &t->regs);
	ev.nblobs = 1;
	ev.blobs = &blob;
	if (rec_write_event(rec, &ev) < 0)
		return;
	arch_rewind_syscall(&regs);
	if (tracee_set_regs(t->tid, &regs) < 0)
		return;
	t->injected = true;
	t->injected_regs = t->regs;
	t->state = RT_RUNNING;
	rec_raise_deferred(t);
}

/* ---- signals ---- */

bool
rec_exit_at_signal(struct recorder *rec, const struct rthread *t)
{
	int sig = (int)(t->nr == __NR_tgkill ? t->args[2] : t->args[1]);
	uint64_t mask;

	/* only what surely stops at the delivery: a standard signal (a
	 * real-time one may fail, EAGAIN past RLIMIT_SIGPENDING), not
	 * SIGKILL (no stop), to this very thread (kill(2) of its own process
	 * when it is the only thread: the one that wants it, complete_signal(),
	 * kernel/signal.c); a ptraced thread stops there even for a signal it
	 * ignores (ptrace(2)), but not for one it blocks. Not under a
	 * recorded tracer, which sees its syscall stops. */
	switch (t->nr) {
	case __NR_tgkill:
		if (t->args[0] != (uint64_t)t->tgid || t->args[1] != (uint64_t)t->tid)
			return false;
		break;
	case __NR_tkill:
		if (t->args[0] != (uint64_t)t->tid)
			return false;
		break;
	case __NR_kill:
		if (t->args[0] != (uint64_t)t->tgid || rec_has_other_threads(rec, t->tgid, t->tid))
			return false;
		break;
	default:
		return false;
	}
	if (sig < 1 || sig >= 32 || sig == SIGKILL || t->nr != t->model_nr || t->stepping ||
	    rec_ptrace_find(&rec->ptrace, t->tid))
		return false;
	return tracee_get_sigmask(t->tid, &mask) == 0 && !(mask & (1ull << (sig - 1)));
}

/* Whether @t's rt_sigaction(2) discards a pending @sig: SIG_IGN, or SIG_DFL
 * of a signal whose default is to ignore it (signal(7); do_sigaction()). */
static bool
discards_pending(const struct rthread *t, int sig)
{
	uint64_t handler;

	if (!t->args[1] || tracee_read(t->tid, t->args[1], &handler, sizeof(handler)) < 0)
		return !!t->args[1];
	return handler == (uint64_t)(uintptr_t)SIG_IGN ||
	       (handler == (uint64_t)(uintptr_t)SIG_DFL &&
		(sig == SIGCHLD || sig == SIGURG || sig == SIGWINCH || sig == SIGCONT));
}

/* Whether @t's syscall was a read(2) or readv(2) of a signalfd, which takes
 * pending signals. */
static bool
reads_signalfd(const struct rthread *t)
{
	char target[64];

	if (t->nr != __NR_read && t->nr != __NR_readv)
		return false;
	if (tracee_fd_path(t->tid, (int)t->args[0], target, sizeof(target)) <= 0)
		return true; /* cannot tell: forget */
	return strcmp(target, "anon_inode:[signalfd]") == 0;
}

/*
 * A signal noted in @t's sent_blocked stays pending and blocked at each event
 * until it is delivered: forget those a syscall may have taken (signalfd,
 * sigtimedwait) or dropped (SIG_IGN, exec), and those its mask lets in now
 * (no longer pending: the kernel would deliver them at this event).
 */
static void
forget_taken(struct rthread *t)
{
	uint64_t mask;

	switch (t->nr) {
	case __NR_rt_sigaction:
		if (t->args[0] >= 1 && t->args[0] <= 64 && discards_pending(t, (int)t->args[0]))
			t->sent_blocked &= ~(1ull << (t->args[0] - 1));
		break;
	case __NR_rt_sigtimedwait: case __NR_execve: case __NR_execveat:
		t->sent_blocked = 0;
		return;
	default:
		if (reads_signalfd(t)) {
			t->sent_blocked = 0;
			return;
		}
		break;
	}
	if (tracee_get_sigmask(t->tid, &mask) < 0)
		t->sent_blocked = 0;
	else
		t->sent_blocked &= mask;
}

/*
 * A signal left pending while its thread's mask blocks it is delivered where
 * the mask first lets it in (signal(7)). A traced syscall that unblocks it
 * is an event, where on_signal finds it at the event's registers; an
 * rt_sigreturn(2) is not (it passes uprr's filter since format 9), and the
 * delivery stop comes at the registers of the frame it restored: raise() in
 * a handler of that very signal (GNU sort's SIGPIPE handler: signal(sig,
 * SIG_DFL); raise(sig)), or another thread's signal blocked by a handler's
 * sa_mask. Note those that recorded calls send, in the thread they target,
 * so that delivery stop is told from one arriving in user code, which waits
 * for an execution point.
 */
void
rec_note_sent_blocked(struct recorder *rec, struct rthread *t, int64_t result)
{
	struct rthread *to = NULL;
	uint64_t mask;
	int sig;

	if (t->sent_blocked)
		forget_taken(t);
	switch (t->nr) {
	case __NR_tgkill:
		to = rec_find_thread(rec, (pid_t)t->args[1]);
		if (to && to->tgid != (pid_t)t->args[0])
			to = NULL;
		break;
	case __NR_tkill:
		to = rec_find_thread(rec, (pid_t)t->args[0]);
		break;
	case __NR_kill:
		/* of its own process, when it is its only thread (the kernel
		 * picks a thread otherwise: complete_signal()) */
		if ((pid_t)t->args[0] == t->tgid && !rec_has_other_threads(rec, t->tgid, t->tid))
			to = t;
		break;
	default:
		return;
	}
	sig = (int)(t->nr == __NR_tgkill ? t->args[2] : t->args[1]);
	if (result != 0 || !to || sig < 1 || sig > 64 || sig == SIGKILL || sig == SIGSTOP)
		return;
	/* a thread in a syscall that may block: the mask it waits with; one
	 * that lets the signal in after the call delivers it at its exit,
	 * an event */
	if ((to == t || to->state == RT_HELD ? tracee_get_sigmask(to->tid, &mask) :
					       tracee_read_sigblk(to->tid, &mask)) == 0 &&
	    (mask & (1ull << (sig - 1))))
		to->sent_blocked |= 1ull << (sig - 1);
}

bool
rec_deliver_unstepped(struct recorder *rec, struct rthread *t, int sig, const siginfo_t *info)
{
	bool pending;

	/* The step puts the run's start at the handler's entry, with the
	 * frame built: the point a rollback returns to, and where the PMU's
	 * count starts. A run that takes no restore point needs neither: the
	 * kernel builds the frame and no user instruction runs in between, so
	 * the run's ticks count from 0 at the handler's entry all the same
	 * (replay starts its run there). A thread its emulated tracer steps
	 * is delivered the usual way, and so is one with another signal
	 * pending that its mask lets in: the kernel stops it for that one
	 * right after the frame (before the handler runs), where the step
	 * leaves its registers and the event there finds it (a pending
	 * signal waits for no execution point). A signal that is not caught
	 * goes the same way (ignored: the kernel drops it; fatal: the
	 * process ends), but for a stop signal, whose thread runs on with
	 * no restore point after SIGCONT (rec_resume_user()). An EP run's
	 * signal delivered under a wait's mask stops at its handler too, to
	 * put the thread's own mask in the frame (rec_ep_wait_delivered()). */
	if (sig < 1 || sig > 64 || sig == SIGKILL || tracee_is_stop_signal(sig) || rec->pmu ||
	    t->stepping || t->ep_wait_due || rec_restore_point_wanted(rec, t))
		return false;
	if (tracee_pending_unblocked(t->tid, &pending) < 0 || pending)
		return false;
	if (info && ptrace(PTRACE_SETSIGINFO, t->tid, 0, info) < 0)
		return false;
	t->state = RT_RUNNING;
	if (t->deferred_sig || t->nlater)
		rec_syscallbuf_interrupt(rec, t);
	rec_start_run(rec, t);
	rec_resume(t, PTRACE_CONT, sig);
	rec->stats.unstepped++;
	return true;
}

/* If thread @tid stands at an rdtsc or rdtscp that trapped (PR_SET_TSC),
 * run it for the thread in @regs: the counter's value, rip past it; store
 * its length. */
bool
rec_run_tsc(pid_t tid, struct user_regs_struct *regs, unsigned *ret_len)
{
	uint8_t code[16];
	enum arch_trapped_insn kind;
	uint32_t aux = 0;
	uint64_t tsc;

	if (tracee_read(tid, regs->rip, code, sizeof(code)) < 0 &&
	    tracee_read(tid, regs->rip, code, 3) < 0)
		return false;
	if (arch_decode_trapped(code, sizeof(code), &kind, ret_len) < 0 || kind == ARCH_INSN_NONE)
		return false;
	tsc = arch_rdtscp(&aux);
	regs->rax = (uint32_t)tsc;
	regs->rdx = tsc >> 32;
	if (kind == ARCH_INSN_RDTSCP)
		regs->rcx = aux;
	regs->rip += *ret_len;
	return true;
}

static bool
emulate_tsc(struct recorder *rec, struct rthread *t)
{
	struct user_regs_struct before = t->regs;
	struct trace_event ev;
	unsigned len;

	if (!rec_run_tsc(t->tid, &t->regs, &len))
		return false;
	if (rec->ep)
		rec_ep_tsc(rec, t, &before);
	rec_event_init(&ev, TRACE_EV_RDTSC, t->tid);
	rec_event_set_regs(&ev, &before);
	ev.nvalues = 4;
	ev.values[0] = t->regs.rax;
	ev.values[1] = t->regs.rdx;
	ev.values[2] = t->regs.rcx;
	ev.values[3] = len;
	if (rec_write_event(rec, &ev) < 0 || tracee_set_regs(t->tid, &t->regs) < 0)
		return true;
	rec_resume_user(rec, t, 0, NULL);
	return true;
}

void
rec_record_signal(struct recorder *rec, struct rthread *t, int sig, const siginfo_t *si,
		  enum trace_signal_kind kind, const struct user_regs_struct *regs)
{
	struct trace_event ev;
	struct trace_blob blob = { 0, sizeof(*si), si };

	rec_event_init(&ev, TRACE_EV_SIGNAL, t->tid);
	ev.nvalues = 2;
	ev.values[0] = (uint64_t)sig;
	ev.values[1] = kind;
	rec_event_set_regs(&ev, regs);
	ev.nblobs = 1;
	ev.blobs = &blob;
	rec->last_sig_rip = regs->rip;
	rec->last_sig_tid = t->tid;
	rec_write_event(rec, &ev);
}

/* Output ranges of syscalls other threads of @self's process still run in
 * the kernel, or whose exit is not recorded yet: the kernel may write there
 * at any time, so a rollback keeps those bytes. (Another process's addresses
 * say nothing of this one's memory: without ASLR its stack is at the same
 * addresses.) */
static int
running_outputs(struct recorder *rec, const struct rthread *self, struct sc_ranges *out)
{
	out->n = 0;
	for (size_t i = 0; i < rec->nthreads; i++) {
		struct rthread *u = &rec->threads[i];

		if (u == self || u->space != self->space ||
		    (u->state != RT_IN_SYSCALL && u->state != RT_EXIT_READY))
			continue;
		if (sc_outputs((long)u->model_nr, u->model_args, INT64_MAX, &u->entry, rec_tracee_mem_read,
			       &u->tid, out) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Arm the budget: @t traps at its next counted branch. */
static int
arm_trap(struct recorder *rec, struct rthread *t, uint64_t ticks_so_far)
{
	int r = rec_arm_budget(t, ticks_so_far, 1);

	if (r < 0)
		return r;
	t->trap_armed = true;
	t->probing = false;
	rec_set_deadline(rec, MAX(TRAP_GRACE_NS, sched_timeslice_ns(rec->sched)));
	return 0;
}

/*
 * Roll @t back to the start of its run of user code and install counting code
 * in the loops around @rip, where it ran out of time uncounted; it runs again
 * from there with its budget armed. A run that made buffered calls
 * (@records) keeps them: it re-runs them as replay does, its budget not
 * armed until the library's notify call after the last (rec_rerun_notify()).
 * Returns 0, or -errno when the run cannot be rolled back (the thread is
 * then left where it is).
 */
static int
rollback_and_count(struct recorder *rec, struct rthread *t, uint64_t rip, bool records)
{
	struct sc_ranges keep = { 0 };
	_cleanup_free_ struct checkpoint_range *kept = NULL;
	struct trace_event ev;
	uint64_t avoid[64];
	const uint64_t *reserved;
	size_t nreserved;
	size_t navoid = 0;
	int r, nsites;

	if (!t->xstate_len)
		return -ENODATA; /* its FPU state at the start is unknown */
	if (records && (r = rec_syscallbuf_keep_records(rec, t)) < 0)
		return r;
	if ((r = rec_syscallbuf_claims(rec, t)) < 0)
		return r;
	r = running_outputs(rec, t, &keep);
	if (r >= 0 && keep.n && !(kept = calloc(keep.n, sizeof(*kept))))
		r = -ENOMEM;
	if (r >= 0) {
		for (size_t i = 0; i < keep.n; i++)
			kept[i] = (struct checkpoint_range){ keep.v[i].addr, keep.v[i].len };
		r = checkpoint_rollback(t->space->ckpt, kept, keep.n);
	}
	sc_ranges_free(&keep);
	if (r < 0)
		return r;
	rec->stats.rollbacks++;
	t->rollbacks++;
	/* the buffers are no part of the restore point */
	if ((r = rec_syscallbuf_rolled_heads(rec, t)) < 0) {
		rec_stop_recording(rec, "cannot roll back the syscall buffer of thread %d: %s", t->tid,
				   strerror(-r));
		return r;
	}
	/* from here on the records exist only in rec->sb.keep: losing them
	 * would lose syscalls that happened */
	if (records && (r = rec_syscallbuf_rolled_back(rec, t)) < 0) {
		rec_stop_recording(rec, "cannot keep the buffered syscalls of thread %d across a "
				   "rollback: %s", t->tid, strerror(-r));
		return r;
	}
	if (!records) {
		/* the run may have claimed the thread's buffer, which the
		 * rollback undid: an interrupt written there now would meet
		 * the re-run's claim, which replay makes with none */
		rec_syscallbuf_forget(t);
		if (t->deferred_sig || t->nlater)
			rec_syscallbuf_interrupt(rec, t); /* the rollback put it back */
	}
	t->start_regs.orig_rax = (uint64_t)-1; /* no syscall restart on the way back */
	/* the mask too: a handler that returned in the run (rt_sigreturn)
	 * unblocked its signal, which would nest when it runs again */
	if ((r = tracee_set_regs(t->tid, &t->start_regs)) < 0 ||
	    (r = tracee_set_xstate(t->tid, t->xstate, t->xstate_len)) < 0 ||
	    (r = tracee_set_sigmask(t->tid, t->start_mask)) < 0)
		return log_debug_errno(r, "thread %d: cannot roll back its registers", t->tid);
	avoid[navoid++] = t->start_regs.rip;
	for (size_t i = 0; i < rec->nthreads && navoid < ARRAY_SIZE(avoid); i++)
		if (&rec->threads[i] != t)
			avoid[navoid++] = rec->threads[i].regs.rip;
	reserved = rec_ep_reserved(rec, &nreserved);
	nsites = ticks_soft_plan(t->space->mem.soft, t->tgid, t->tid, rip, avoid, navoid, reserved,
				 nreserved, &ev);
	/* never in the syscall buffer's library, whose branches replay must
	 * count as the recording does whatever way a re-run took there
	 * (the code window around a rip one page away would reach it) */
	for (uint32_t i = 2; nsites > 0 && i < ev.nblobs; i++)
		if (rec_syscallbuf_in_library(ev.blobs[i].addr) ||
		    rec_syscallbuf_in_library(ev.blobs[i].addr + ev.blobs[i].len - 1) ||
		    rec_in_interposer(rec, t, ev.blobs[i].addr) ||
		    rec_in_interposer(rec, t, ev.blobs[i].addr + ev.blobs[i].len - 1))
			nsites = 0;
	if (nsites > 0) {
		if (rec_write_event(rec, &ev) < 0)
			return -EIO;
		r = ticks_soft_apply(t->space->mem.soft, t->tid, t->space->mem.memfd, &ev);
		if (r < 0) {
			rec_stop_recording(rec, "cannot install counting code in the program: %s",
				       strerror(-r));
			return r;
		}
		rec->stats.patches++;
		r = checkpoint_remap(t->space->ckpt, t->tid);
		if (r < 0) {
			rec_stop_recording(rec, "cannot checkpoint the program: %s", strerror(-r));
			return r;
		}
	} else {
		log_debug("nothing to count around 0x%" PRIx64 " (%s)", rip,
			  nsites < 0 ? strerror(-nsites) : "no loop");
	}
	if (records) {
		/* after the restore point was taken again: it must not hold
		 * the re-run's state */
		r = rec_syscallbuf_rerun(rec, t);
		if (r < 0) {
			rec_stop_recording(rec, "cannot put back the buffered syscalls of thread %d "
					   "after a rollback: %s", t->tid, strerror(-r));
			return r;
		}
		if (r > 0) {
			/* Its syscalls happened, and others may have seen them:
			 * no execution point before the last of them. The trap
			 * is armed at the notify call; ticks count from the
			 * run's start meanwhile, as replay counts them. */
			t->trap_armed = false;
			t->probing = false;
			if (ticks_soft_active(t->space->mem.soft) && rec_arm_budget(t, 0, 0) < 0)
				return -EIO;
			rec_set_deadline(rec, RERUN_MAX_NS);
			return 0;
		}
		if (t->deferred_sig || t->nlater)
			rec_syscallbuf_interrupt(rec, t);
	}
	if (ticks_soft_active(t->space->mem.soft))
		return arm_trap(rec, t, 0);
	rec_set_deadline(rec, rec_timeslice_ns(rec, t)); /* the run starts again */
	return 0;
}

void
rec_rerun_notify(struct recorder *rec, struct rthread *t)
{
	struct user_regs_struct regs;
	uint64_t left;
	int k;

	t->sb_rerun = false;
	if (tracee_get_regs(t->tid, &regs) < 0)
		return; /* vanished */
	if (regs.orig_rax != UPRR_NOTIFY_NR || !rec_syscallbuf_in_library(regs.rip)) {
		rec_stop_recording(rec, "thread %d re-ran its run after a rollback and made syscall %s "
				   "before its buffered ones were all consumed: the re-run diverged; "
				   "recording stopped", t->tid, sc_name((long)regs.orig_rax) ?: "?");
		return;
	}
	k = rec_syscallbuf_rerun_diff(rec, t);
	if (k >= 0) {
		rec_stop_recording(rec, "thread %d re-ran its run after a rollback and its buffered "
				   "syscall %d differs from the one it made: the re-run diverged; "
				   "recording stopped", t->tid, k);
		return;
	}
	/* not a syscall: nothing recorded, nothing run, every register kept
	 * but rax, which the library keeps (entry.S) */
	regs.orig_rax = (uint64_t)-1;
	regs.rax = (uint64_t)-ENOSYS;
	if (tracee_set_regs(t->tid, &regs) < 0)
		return;
	/* it stops at its next counted branch (its next buffered call is an
	 * event), its ticks counted from the run's start */
	if (ticks_soft_active(t->space->mem.soft) && ticks_soft_get_budget(t->tid, &left) == 0) {
		if (arm_trap(rec, t, t->ticks_base + t->budget - left) < 0)
			log_debug("thread %d: cannot arm its tick budget", t->tid);
	} else {
		rec_set_deadline(rec, rec_timeslice_ns(rec, t));
	}
	rec_syscallbuf_interrupt(rec, t);
	rec_resume(t, PTRACE_CONT, 0);
}

/*
 * @t stands at an execution point, @ticks into its run of user code (a counted
 * branch trapped, or the PMU counted them): take its deferred signal there, or
 * preempt it. @delivery_stop: it stopped there for a signal's delivery (a
 * counted branch's SIGTRAP, an asynchronous signal), whose resumption
 * delivers the deferred one instead; else in an interrupt's stop, which
 * delivers none.
 */
static void
at_execution_point(struct recorder *rec, struct rthread *t, struct user_regs_struct *regs,
		   uint64_t ticks, bool delivery_stop)
{
	struct trace_event ev;

	if (tracee_set_regs(t->tid, regs) < 0)
		return;
	t->regs = *regs;
	t->trap_armed = false;
	while (rec_requeue_if_blocked(t))
		;
	if (t->deferred_sig) {
		struct trace_blob blob = { 0, sizeof(siginfo_t), &t->deferred_info };
		siginfo_t si;
		int sig = t->deferred_sig;

		rec_event_init(&ev, TRACE_EV_SIGNAL, t->tid);
		ev.nvalues = 3;
		ev.values[0] = (uint64_t)sig;
		ev.values[1] = TRACE_SIGNAL_AT_TICKS;
		ev.values[2] = ticks;
		rec_event_set_regs(&ev, regs);
		ev.nblobs = 1;
		ev.blobs = &blob;
		if (rec_write_event(rec, &ev) < 0)
			return;
		rec->stats.signals_at_ticks++;
		if (!delivery_stop) {
			/* Resumed from the interrupt's stop with it, it was lost:
			 * the program ran on without its handler, as if it
			 * never came, and when the next one arrived at these
			 * registers, it was recorded as pending at this event
			 * (timer_flood's replay, one handler run more, diverged
			 * 1 time in 10-20) */
			rec_raise_deferred(t);
			rec->stats.signals_raised++;
			return;
		}
		sig = rec_take_deferred(t, &si);
		rec_resume_user(rec, t, sig, &si);
		return;
	}
	rec_event_init(&ev, TRACE_EV_PREEMPT, t->tid);
	ev.nvalues = 1;
	ev.values[0] = ticks;
	rec_event_set_regs(&ev, regs);
	if (rec_write_event(rec, &ev) < 0)
		return;
	rec->stats.preemptions++;
	rec_spin_preempted(rec, t, regs);
	t->state = RT_HELD;
	sched_yield_current(rec->sched);
	sched_set_state(rec->sched, t->tid, SCHED_RUNNABLE);
	rec_spin_pick(rec);
}

/*
 * @t, the running thread, is stopped somewhere in user code and must reach an
 * execution point (to be preempted, or to take an asynchronous signal): arm
 * its budget if counting code may already run, else roll back and count.
 * Resumes it in every case. @delivery_stop: it stopped for a signal's
 * delivery, else in an interrupt's stop (at_execution_point()).
 */
static void
seek_execution_point(struct recorder *rec, struct rthread *t, struct user_regs_struct *regs,
		     bool delivery_stop)
{
	uint8_t code[ARCH_SYSCALL_INSN_LEN];
	uint64_t left, rip;
	bool records;
	int r = 0;

	if (!rec_serial(rec)) {
		/* a TP run counts nothing: the registers are the point */
		rec_tp_signal_here(rec, t, regs);
		return;
	}
	if (rec->pmu) {
		/* the counter says how far it is: (ticks, registers) is the point */
		if (t->pmu_fd >= 0 && ticks_pmu_read(t->pmu_fd, &left) == 0) {
			at_execution_point(rec, t, regs, left, delivery_stop);
			return;
		}
		t->uncountable = true;
		rec_resume(t, PTRACE_CONT, 0);
		return;
	}
	if (!t->space->mem.soft || !t->space->ckpt) {
		rec_resume(t, PTRACE_CONT, 0);
		return;
	}
	/* stopped inside counting code: no tick may stay half done */
	switch (ticks_soft_settle(t->space->mem.soft, t->tid, regs)) {
	case PATCH_STOP_OUTSIDE:
		break;
	case PATCH_STOP_TRAPPED:
		if (t->trap_armed || t->probing) {
			/* stopped on its way to the trap: the same execution point */
			at_execution_point(rec, t, regs, t->ticks_base + t->budget, delivery_stop);
			return;
		}
		_fallthrough_;
	default:
		if (tracee_set_regs(t->tid, regs) < 0)
			return;
		break;
	}
	rip = regs->rip;
	if (t->sb_rerun) {
		/* a re-run that does not reach its notify call */
		rec_stop_recording(rec, "thread %d re-ran its run after a rollback and did not consume "
				   "its buffered syscalls: the re-run diverged; recording stopped", t->tid);
		return;
	}
	if (tracee_read(t->tid, rip, code, sizeof(code)) == 0 && arch_is_syscall_insn(code) &&
	    rip != UPRR_PRELOAD_ADDR + UPRR_PRELOAD_UNTRACED_OFF) {
		/* it is about to enter a syscall: that is its next execution
		 * point, and no rollback could bring one nearer (no more
		 * interrupts until then: one might come before it runs) */
		t->uncountable = true;
		rec_resume(t, PTRACE_CONT, 0);
		return;
	}
	if (ticks_soft_active(t->space->mem.soft) && !t->trap_armed && t->rollbacks == 0 &&
	    ticks_soft_get_budget(t->tid, &left) == 0) {
		if (arm_trap(rec, t, t->ticks_base + t->budget - left) < 0)
			log_debug("cannot arm the tick budget");
		rec_resume(t, PTRACE_CONT, 0);
		return;
	}
	/* (libuprr-sync's code in a run that follows an order: its paths
	 * differ in the replay by design, rec_in_interposer()) */
	if (rec_syscallbuf_in_library(rip) || rec_in_interposer(rec, t, rip)) {
		/* Inside the syscall buffer's library (no rollback from
		 * there, no counting code there): perhaps past a
		 * buffered syscall whose record does not count yet, which a
		 * rollback would run again. It leaves soon (no loop there
		 * waits): look again once it ran a little. */
		t->point_later = true;
		rec_set_deadline(rec, IN_LIBRARY_NS);
		rec_resume(t, PTRACE_CONT, 0);
		return;
	}
	records = rec_syscallbuf_pending(rec, t);
	if (t->rollbacks >= MAX_ROLLBACKS || (r = rollback_and_count(rec, t, rip, records)) < 0) {
		if (rec->done)
			return;
		/* uncountable code: it keeps running to its next event */
		log_debug("thread %d: no execution point reached near 0x%" PRIx64 " (%s)", t->tid, rip,
			  r < 0 ? strerror(-r) : "too many rollbacks");
		rec->stats.gave_up++;
		t->trap_armed = false;
		t->uncountable = true;
		/* a run that made buffered calls: its next one at the latest */
		if (records)
			rec_syscallbuf_interrupt(rec, t);
	}
	if (!rec->done)
		rec_resume(t, PTRACE_CONT, 0);
}

/* Whether the running thread should be stopped at an execution point now,
 * and if not, in how many ns to look again (0: no need). */
bool
rec_point_due(struct recorder *rec, struct rthread *t, uint64_t *ret_wait_ns)
{
	*ret_wait_ns = 0;
	/* it stops for the delivery of a signal uprr raised before any
	 * instruction runs (rec_raise_deferred()): an interrupt taken first
	 * (get_signal() takes job control traps first) would find it at the
	 * point with that signal still pending */
	if (t->injecting_sig && !t->injecting_late)
		return false;
	/* it runs to its notify call, or out of the library, soon: not
	 * stopped again before it ran a little */
	if (t->sb_rerun)
		return rec_deadline_passed(rec, t->tid, ret_wait_ns);
	if (t->point_later) {
		if (!rec_deadline_passed(rec, t->tid, ret_wait_ns))
			return false;
		t->point_later = false;
		return true;
	}
	if ((!rec->pmu && (!t->space->mem.soft || !t->space->ckpt)) || t->uncountable)
		return false;
	if (t->deferred_sig && !t->trap_armed)
		return true;
	/* A thread whose syscall completed runs now, as a woken task
	 * preempts the running one in Linux: not at the end of the slice
	 * (after a few microseconds, for a run that soon ends by itself).
	 * Only where counting code (or the PMU) finds an execution point
	 * without rolling the run back: a run rolled back and counted only
	 * for a wakeup costs more than it saves (and a rollback in a vfork
	 * child's ld.so, just after its mprotect of RELRO, crashed it 1 time
	 * in 8 in e2e namespaces-unshare: not understood yet). */
	if (!t->trap_armed && sched_wakeup_pending(rec->sched) &&
	    (rec->pmu || (ticks_soft_active(t->space->mem.soft) && t->rollbacks == 0))) {
		uint64_t ran = util_now_ns() - rec->due.start_ns;

		if (ran >= WAKEUP_AFTER_NS)
			return true;
		*ret_wait_ns = WAKEUP_AFTER_NS - ran;
		return false;
	}
	if (!t->trap_armed && !sched_others_runnable(rec->sched))
		return false;
	return rec_deadline_passed(rec, t->tid, ret_wait_ns);
}

/* The running thread overran its deadline: stop it where it is. */
void
rec_interrupt_running(struct recorder *rec, struct rthread *t)
{
	struct user_regs_struct regs;
	pid_t tid = t->tid;
	int status, sig;

	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0)
		return;
	/* A leader may turn zombie meanwhile, in a group exit: its end comes
	 * through the main loop (rec_wait_thread_stop()), which must not
	 * interrupt it again (uncountable: no execution point is due) but
	 * wait for its other threads' exit stops. Waiting for it here hung
	 * a Go program's recording 1 time in 5. */
	if (!rec_wait_thread_stop(rec, t, &status)) {
		t->uncountable = true;
		return;
	}
	if (tracee_classify(status, &sig) == TRACEE_STOP_SECCOMP) {
		/* It entered a syscall first. The pending interrupt would make a
		 * blocking syscall return early to be restarted, which replay
		 * could not reproduce: skip the syscall, take the interrupt stop
		 * at the syscall instruction, and let it enter the syscall again. */
		if (tracee_get_regs(tid, &regs) < 0)
			return;
		arch_rewind_syscall(&regs);
		if (tracee_set_regs(tid, &regs) < 0)
			return;
		rec_resume(t, PTRACE_CONT, 0);
		if (!rec_wait_thread_stop(rec, t, &status)) {
			t->uncountable = true; /* see above */
			return;
		}
		if (tracee_classify(status, &sig) == TRACEE_STOP_GROUP && !tracee_group_stop_sig(status)) {
			sched_yield_current(rec->sched);
			rec_resume(t, PTRACE_CONT, 0);
			return;
		}
	}
	if (tracee_classify(status, &sig) != TRACEE_STOP_GROUP || tracee_group_stop_sig(status)) {
		/* an event (or a group stop) came first: the interrupt stop
		 * follows later */
		if (!t->deferred_sig)
			sched_yield_current(rec->sched);
		rec_dispatch(rec, tid, status);
		return;
	}
	if (tracee_get_regs(tid, &regs) < 0)
		return;
	if ((int64_t)regs.orig_rax >= 0) {
		/* Still on its way out of the syscall its run starts at
		 * (user code clears orig_rax in an interrupt stop): the
		 * kernel may yet restart it (-ERESTART*, signal(7)), which
		 * registers set now would undo. No user code ran: try later. */
		rec_set_deadline(rec, rec->due.len);
		rec_resume(t, PTRACE_CONT, 0);
		return;
	}
	if (ticks_soft_trap_pending(t->space->mem.soft, regs.rip)) {
		/* between an int3 of counting code and its SIGTRAP: take that
		 * first (the deadline stays passed: it is interrupted again) */
		rec_resume(t, PTRACE_CONT, 0);
		return;
	}
	log_debug("thread %d stopped at 0x%llx (trap armed %d, rollbacks %u)", tid, regs.rip,
		  t->trap_armed, t->rollbacks);
	seek_execution_point(rec, t, &regs, false);
}

/*
 * In a TP run, an asynchronous signal @t's process discards (SIG_IGN, or
 * SIG_DFL of SIGCHLD and the like: a parent's child ended) is let go
 * unlogged, as the kernel would drop it: it changes nothing in the
 * program, and the EP run, which drops its own such signals
 * (rec_ep_drop_signal()), needs no point to deliver it at. Logged, it stood
 * where an EP run cannot find it yet (in user code, after a futex wait:
 * ep_log_open() refuses the log). A call it interrupted restarts as the
 * kernel has it (its -ERESTART* exit, then its entry again), which the log
 * reader folds into one call. uprr's own SIGCHLD to an emulated tracer
 * goes the usual way. Returns whether it was let go.
 */
static bool
tp_drops(struct recorder *rec, struct rthread *t, int sig, siginfo_t *si,
	 const struct user_regs_struct *regs)
{
	bool discarded;

	if (sig > 64 || (si->si_code == SI_USER && si->si_pid == getpid()) ||
	    tracee_signal_discarded(t->tid, sig, &discarded) < 0 || !discarded)
		return false;
	log_debug("thread %d: %s, which its process discards, left unlogged", t->tid, strsignal(sig));
	if (!arch_regs_differ(regs, &t->regs))
		/* pending when it left its last event: let go from there as
		 * a logged one is, whose delivery does nothing */
		rec_resume_user(rec, t, sig, si);
	else
		/* arrived while it ran: on, the signal not passed on */
		rec_resume(t, t->state == RT_IN_SYSCALL ? PTRACE_SYSCALL : PTRACE_CONT, 0);
	return true;
}

void
rec_on_signal(struct recorder *rec, struct rthread *t, int sig)
{
	struct user_regs_struct regs;
	bool sent_blocked, ours, behind;
	siginfo_t si;

	if (ptrace(PTRACE_GETSIGINFO, t->tid, 0, &si) < 0 || tracee_get_regs(t->tid, &regs) < 0)
		return;
	if (sig == SIGSYS && si.si_code == 1 /* SYS_SECCOMP */ && si.si_arch != AUDIT_ARCH_X86_64) {
		/* uprr's filter traps the syscalls of another ABI (seccomp.c) */
		rec_stop_recording(rec, "the program made an i386 syscall (number %d, through int 0x80), "
			       "which uprr does not record; recording stopped", si.si_syscall);
		return;
	}
	if (sig == SIGCHLD && si.si_code == SI_USER && si.si_pid == getpid())
		rec_ptrace_notice_siginfo(rec, t, &si);
	ours = t->injecting_sig == sig;
	if (ours) {
		t->injecting_sig = 0;
		if (!t->injecting_late) {
			/* the signal we raised at an event: give it its original siginfo */
			rec_resume_user(rec, t, sig, &t->injecting_info);
			return;
		}
		/* raised during its syscall: one arriving now, with its own siginfo
		 * (at the syscall's exit, as one pending at that event) */
		t->injecting_late = false;
		si = t->injecting_info;
	}
	if (sig == SIGTRAP && t->stepping && (si.si_code == TRAP_TRACE || si.si_code == TRAP_BRKPT)) {
		/* the single step its emulated tracer asked for: the kernel's
		 * SIGTRAP (TRAP_BRKPT past a syscall the filter does not trace),
		 * whose delivery becomes the tracer's stop; replay steps the
		 * same instruction (replay_resume_to_stop()) */
		t->stepping = false;
		rec_record_signal(rec, t, sig, &si, TRACE_SIGNAL_SYNC, &regs);
		t->regs = regs;
		rec_resume_user(rec, t, sig, &si);
		return;
	}
	if (sig == SIGTRAP) {
		enum patch_stop stop =
			ticks_soft_count_trap(t->space->mem.soft, t->space->mem.memfd, &regs);

		if (stop != PATCH_STOP_OUTSIDE)
			rec->stats.trap_ticks++;
		if (stop == PATCH_STOP_COUNTED) {
			/* a trap site's tick, the budget not run out: on past its jmp */
			if (tracee_set_regs(t->tid, &regs) == 0)
				rec_resume(t, PTRACE_CONT, 0);
			return;
		}
	}
	if (sig == SIGTRAP && ticks_soft_settle(t->space->mem.soft, t->tid, &regs) == PATCH_STOP_TRAPPED) {
		/* a look at whether it spins (record-sched.c), or its point */
		if (t->probing && !t->trap_armed && rec_spin_probe(rec, t, &regs))
			return;
		at_execution_point(rec, t, &regs, t->ticks_base + t->budget, true);
		return;
	}
	if (sig == SIGSEGV && si.si_code == SI_KERNEL) {
		t->regs = regs;
		if (emulate_tsc(rec, t))
			return;
	}
	if (tracee_signal_is_sync(&si)) {
		rec_record_signal(rec, t, sig, &si, TRACE_SIGNAL_SYNC, &regs);
		t->regs = regs;
		rec_resume_user(rec, t, sig, NULL);
		return;
	}
	if (!ours && rec->ep && rec_ep_drop_signal(rec, t, sig, &si))
		return;
	sent_blocked = sig <= 64 && (t->sent_blocked & (1ull << (sig - 1)));
	if (sig <= 64)
		t->sent_blocked &= ~(1ull << (sig - 1));
	if (!ours && rec->tp && tp_drops(rec, t, sig, &si, &regs))
		return;
	/* Another signal the kernel dequeued before one uprr raised to deliver
	 * where the thread stands (a lower number: rec_raise_deferred()),
	 * whose event is written: delivered now, its handler would run before
	 * the recorded one's; it waits for the next point. */
	behind = t->injecting_sig && !t->injecting_late;
	/* A re-run after a rollback, before its notify call, stands at no
	 * event even where its registers are its last event's (its first
	 * instruction): its kept records are syscalls that happened, and an
	 * event now would end the re-run and make them again (signal_async
	 * wrote a line twice). The signal waits for a point after them. */
	if (!t->sb_rerun && !behind && !arch_regs_differ(&regs, &t->regs)) {
		/* pending when the thread left its last event: deliver it there */
		rec_record_signal(rec, t, sig, &si, TRACE_SIGNAL_AT_EVENT, &regs);
		rec_resume_user(rec, t, sig, &si);
		return;
	}
	if (sent_blocked && !t->sb_rerun && !behind) {
		/* Pending and blocked at every event since it was sent (one
		 * that let it in would have taken it): an rt_sigreturn
		 * unblocked it, and the kernel delivers it right after,
		 * before the restored code runs. Deliver it here, as a
		 * synchronous signal is (replay raises it at the last event,
		 * where it waits for the same rt_sigreturn). */
		rec_record_signal(rec, t, sig, &si, TRACE_SIGNAL_AT_UNBLOCK, &regs);
		t->regs = regs;
		rec_resume_user(rec, t, sig, &si);
		rec->stats.signals_at_unblock++;
		return;
	}
	/* arrived while running user code: deliver it at the next execution
	 * point, a counted branch or the next syscall, whichever comes first
	 * (the next syscall only, the first time: no restore point was taken) */
	t->space->may_preempt = true;
	t->space->signals = true;
	if (rec_defer_signal(t, &si) < 0) {
		rec_stop_recording(rec, "%s", "out of memory");
		return;
	}
	/* already on its way to one (its budget armed, or running to its next
	 * event): seeking again would roll back the way it made so far */
	if (t->state == RT_RUNNING && !t->trap_armed && !t->uncountable && !t->sb_rerun &&
	    !behind && rec_serial(rec))
		seek_execution_point(rec, t, &regs, true);
	else
		rec_resume(t, t->state == RT_IN_SYSCALL ? PTRACE_SYSCALL : PTRACE_CONT, 0);
	/* its next buffered call is an execution point for it too (after
	 * any rollback, which puts the buffer back) */
	if (t->state == RT_RUNNING)
		rec_syscallbuf_interrupt(rec, t);
}

