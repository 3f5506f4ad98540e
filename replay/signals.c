/* SPDX-License-Identifier: MIT */
/*
 * Replay's signals and execution points: a recorded signal delivered where
 * the recording delivered it (at an event, instead of a syscall, or at a
 * counted tick), a thread run to a preemption's execution point, counting
 * code installed, rdtsc, group stops, and the emulated ptrace stops
 * (recorder/ptrace-emu.c) that hold a traced thread instead of a delivery.
 */
#define LOG_PREFIX "replay"
#include <asm/unistd.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "recorder/recorder.h"
#include "replay/replay-private.h"
#include "sched/ticks-soft.h"
#include "sched/ticks.h"
#include "syscalls/syscalls.h"
#include "trace/trace.h"
#include "tracee/tracee.h"
#include "x86_64/arch.h"

/* ---- emulated ptrace (recorder/ptrace-emu.c), as the recording did ---- */

static int restore_own_mask(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t,
			    enum tracee_delivery how, uint64_t own_mask);

static int
ptrace_locate(void *ctx, pid_t tid, pid_t *ret_tid, pid_t *ret_tgid, int *ret_memfd)
{
	struct pthread_r *t = replay_find_rec(ctx, tid);

	if (!t || !t->space)
		return -ESRCH;
	*ret_tid = t->tid;
	*ret_tgid = t->tgid;
	*ret_memfd = t->space->memfd;
	return 0;
}

static int
ptrace_resume(void *ctx, const struct rec_ptracee *pt, int sig, const siginfo_t *si)
{
	struct replayer *rp = ctx;
	struct pthread_r *t = replay_find_rec(rp, pt->tid);
	enum tracee_delivery how;
	int status;

	if (!t)
		return -ESRCH;
	t->stepping = pt->step;
	if (!sig || pt->stop == REC_PTRACE_GROUP_STOP)
		return 0;
	if (pt->stop != REC_PTRACE_SIGNAL_STOP) {
		/* raised in the recording: its delivery is an event of the trace */
		rec_ptrace_find(&rp->ptrace, pt->tid)->inject = sig;
		return 0;
	}
	if (tracee_deliver_signal(t->tid, sig, si, &how, &status) < 0)
		return -ESRCH;
	t->state = how == TRACEE_DELIVERY_RUNNING ? PT_RUNNING : PT_HELD;
	if (how == TRACEE_DELIVERY_HANDLER)
		t->stepping = false; /* its stop at the handler is an event */
	if (t->held_wait) {
		t->held_wait = false;
		return restore_own_mask(rp, rp->ptrace_ev, t, how, t->held_own_mask) < 0 ? -EIO : 0;
	}
	return 0;
}

/* The recorded ptrace(2) call of @t succeeded: do to its tracee what it did. */
int
replay_ptrace_exit(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t)
{
	char why[160] = "";
	struct rec_ptrace_ops ops = { rp, ptrace_locate, NULL, ptrace_resume, NULL, NULL, NULL, NULL };
	struct rec_ptrace_call c = {
		.ops = &ops, .tracer = t->rec_tid, .tracer_tgid = t->rec_tgid,
		.parent_tgid = t->rec_parent, .tracer_memfd = t->space->memfd, .replay = true,
		.debugregs_taken = rp->pmu,
		.why = why, .why_len = sizeof(why),
	};
	int64_t got;

	rp->ptrace_ev = ev;
	got = rec_ptrace_request(&rp->ptrace, &c, t->args);

	if (got != (int64_t)ev->values[1])
		return replay_diverge(rp, ev, "ptrace request %ld returns %" PRId64 ", recorded %" PRId64 "%s%s",
			       (long)t->args[0], got, (int64_t)ev->values[1], why[0] ? ": " : "", why);
	return 0;
}

int
replay_on_stop_filter(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t)
{
	unsigned how;
	int64_t got;

	if (ev->nvalues < 2)
		return replay_diverge(rp, ev, "a stop filter event without its values");
	if (t->state != PT_HELD)
		return replay_diverge(rp, ev, "stop filter stacked on a thread that is not held");
	how = (unsigned)ev->values[0];
	if (rec_seccomp_stack_stop_filter(t->tid, t->space->memfd, false, &how, &got) < 0)
		return replay_diverge(rp, ev, "cannot stack the stop filter on thread %d", t->tid);
	/* a failed TSYNC names a thread: its id differs here */
	if ((got == 0) != ((int64_t)ev->values[1] == 0))
		return replay_diverge(rp, ev, "seccomp(2) of the stop filter returned %" PRId64
			       ", recorded %" PRId64, got, (int64_t)ev->values[1]);
	return 0;
}

/*
 * @t took a signal that stops its process (SIGSTOP & co.): hold it at its
 * group stop, where the recording held it until SIGCONT, so its next run of
 * user code starts there, as it did in the recording. Its other threads
 * pass over theirs (replay_resume_to_stop()): the trace says when each runs.
 */
static int
hold_group_stop(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t)
{
	enum tracee_stop kind;
	int status, sig;

	for (;;) {
		if (tracee_wait(t->tid, &status) < 0)
			return replay_diverge(rp, ev, "lost thread %d", t->tid);
		kind = tracee_classify(status, &sig);
		if (tracee_group_stop_sig(status))
			break;
		if (kind == TRACEE_STOP_SIGNAL && replay_noise(rp, t->tid, sig)) {
			tracee_resume(t->tid, PTRACE_CONT, 0);
			continue;
		}
		return replay_diverge(rp, ev, "expected a group stop, got %s", replay_stop_name(kind, sig));
	}
	if (tracee_get_regs(t->tid, &t->regs) < 0)
		return replay_diverge(rp, ev, "lost thread %d", t->tid);
	t->state = PT_HELD;
	return 0;
}

/* Deliver @sig (siginfo @info, NULL: the one the stop holds) to @t, in its
 * delivery stop, with the single step that stops it at its handler's first
 * instruction. Stores what happened in *@ret_how unless it is NULL. */
static int
deliver_stepped(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t, int sig,
		const siginfo_t *info, enum tracee_delivery *ret_how)
{
	enum tracee_delivery how;
	int status = 0, r;

	r = tracee_deliver_signal(t->tid, sig, info, &how, &status);
	if (r < 0)
		return replay_diverge(rp, ev, "cannot deliver %s: %s", tracee_signal_name(sig), strerror(-r));
	t->state = how == TRACEE_DELIVERY_RUNNING ? PT_RUNNING : PT_HELD;
	if (ret_how)
		*ret_how = how;
	if (how == TRACEE_DELIVERY_RUNNING && tracee_is_stop_signal(sig))
		return hold_group_stop(rp, ev, t);
	return 0;
}

/*
 * Whether the delivery of @sig to @t may wait for @t's next run: resumed
 * with the signal (PTRACE_CONT), the kernel builds the frame and no user
 * instruction runs before the handler's first, so the run that follows is
 * the one that starts there after the single step, and the stop it ends in
 * the same, one ptrace stop fewer; the soft tick budget of a run counts from
 * 0 at the handler all the same (the recorder's rec_deliver_unstepped()
 * relies on it too). Not: a stop signal (its group stop is held here), a
 * thread its emulated tracer steps, a delivery whose outcome the caller
 * needs (a wait's mask to put back), the PMU's count (it starts at the
 * handler, run_to_ticks_pmu()).
 */
static bool
may_defer(const struct replayer *rp, const struct pthread_r *t, int sig)
{
	return !rp->pmu && !t->stepping && !t->held_wait && sig >= 1 && sig <= 64 && sig != SIGKILL &&
	       !tracee_is_stop_signal(sig);
}

/*
 * Deliver @sig with the recorded siginfo to @t, stopped at the point of
 * delivery. A caught signal runs its handler from its first instruction,
 * as in the recording: with a single step there, or, when the caller needs
 * no outcome (@ret_how NULL) and may_defer(), when the thread next runs to
 * an event of its own (replay_settle_deferred() steps it before any other
 * event). Stores what happened in *@ret_how unless it is NULL. Returns 0,
 * 1 if a recorded tracer holds it instead (its emulated stop), or -EPROTO.
 */
static int
deliver(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t, int sig,
	enum tracee_delivery *ret_how)
{
	const siginfo_t *info = NULL;
	enum tracee_sig_disposition d;
	siginfo_t si;

	if (ev->nblobs >= 1 && ev->blobs[0].len == sizeof(siginfo_t))
		info = ev->blobs[0].data;
	if (rec_ptrace_intercepts(&rp->ptrace, t->rec_tid, sig)) {
		/* a recorded tracer traces it: held in its stop, as recorded */
		if (!info && ptrace(PTRACE_GETSIGINFO, t->tid, 0, &si) == 0)
			info = &si;
		rec_ptrace_enter_stop(&rp->ptrace, t->rec_tid, REC_PTRACE_SIGNAL_STOP, info);
		t->state = PT_HELD;
		if (ret_how)
			*ret_how = TRACEE_DELIVERY_NONE;
		return 1;
	}
	/* A stop stops here too, whatever the process group: the kernel
	 * discards SIGTSTP, SIGTTIN and SIGTTOU in an orphaned one (get_signal(),
	 * kernel/signal.c), and replay emulates setpgid(2). */
	if (sig != SIGSTOP && tracee_is_stop_signal(sig) &&
	    tracee_signal_disposition(t->tid, sig, &d) == 0 && d == TRACEE_SIG_DEFAULT) {
		sig = SIGSTOP;
		info = NULL;
	}
	if (!ret_how && may_defer(rp, t, sig)) {
		/* the kernel keeps it for the resumption (ptrace_signal(),
		 * kernel/signal.c: the same signal number keeps the siginfo) */
		if (info && ptrace(PTRACE_SETSIGINFO, t->tid, 0, info) < 0)
			return replay_diverge(rp, ev, "cannot deliver %s: %s", tracee_signal_name(sig),
				       strerror(errno));
		BUG_ON(rp->deferred_tid);
		t->state = PT_HELD;
		t->defer_sig = sig;
		rp->deferred_tid = t->rec_tid;
		rp->deliveries.deferred++;
		return 0;
	}
	rp->deliveries.stepped++;
	return deliver_stepped(rp, ev, t, sig, info, ret_how);
}

/* Whether @ev, an event of the thread whose delivery waits, runs it to a
 * stop before it looks at it or changes it (whitelist: every other event
 * settles the delivery first). */
static bool
runs_thread_first(const struct replayer *rp, const struct trace_event *ev)
{
	switch (ev->type) {
	case TRACE_EV_SYSCALL_ENTRY: /* replay_on_entry() */
	case TRACE_EV_SITE_PATCH:    /* replay_on_site_patch() */
	case TRACE_EV_RDTSC:
		return true;
	case TRACE_EV_SYSCALLBUF:
		/* fills the syscall buffer, apart from the frame's stack */
		return true;
	case TRACE_EV_PREEMPT:
		/* the budget is set before the run, which counts from the
		 * handler's entry (the PMU is never deferred) */
		return !rp->pmu;
	case TRACE_EV_SIGNAL:
		return ev->nvalues >= 2 &&
		       (ev->values[1] == TRACE_SIGNAL_SYNC || ev->values[1] == TRACE_SIGNAL_AT_SYSCALL ||
			(ev->values[1] == TRACE_SIGNAL_AT_TICKS && !rp->pmu));
	default:
		return false;
	}
}

int
replay_settle_deferred(struct replayer *rp, const struct trace_event *ev)
{
	struct pthread_r *t;
	int sig;

	if (!rp->deferred_tid || ((pid_t)ev->tid == rp->deferred_tid && runs_thread_first(rp, ev)))
		return 0;
	t = replay_find_rec(rp, rp->deferred_tid);
	rp->deferred_tid = 0;
	if (!t || !t->defer_sig)
		return 0;
	sig = t->defer_sig;
	t->defer_sig = 0;
	rp->deliveries.settled++;
	/* still in the delivery stop, its siginfo set */
	return deliver_stepped(rp, ev, t, sig, NULL, NULL);
}

/* Raise @sig in @t, held after an event, and run it to the signal's
 * delivery stop. Returns 0, or a divergence that names @where (" where
 * rt_sigreturn unblocks it", or ""). */
static int
raise_to_delivery(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t, int sig,
		  const char *where)
{
	enum tracee_stop kind;
	int got_sig, r;

	syscall(SYS_tgkill, t->tgid, t->tid, sig);
	rp->injecting = sig;
	r = replay_run_to_stop(rp, t, ev, &kind, &got_sig);
	rp->injecting = 0;
	if (r < 0)
		return r;
	if (kind != TRACEE_STOP_SIGNAL || got_sig != sig)
		return replay_diverge(rp, ev, "expected the delivery of %s%s, got %s at rip 0x%llx",
				      tracee_signal_name(sig), where, replay_stop_name(kind, got_sig),
				      t->regs.rip);
	return 0;
}

/*
 * After the delivery (@how) of a signal that interrupted a wait with a
 * temporary mask: the thread's own mask @own_mask comes back as the kernel
 * brings it back (sc_emulate_own_mask(), as in an EP run): in the handler's
 * frame, for rt_sigreturn(2) to restore, or at once if nothing was
 * delivered; a process that ends or stops keeps it.
 */
static int
restore_own_mask(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t,
		 enum tracee_delivery how, uint64_t own_mask)
{
	if (how == TRACEE_DELIVERY_RUNNING)
		return 0;
	if (sc_emulate_own_mask(t->tid, t->space->memfd, how == TRACEE_DELIVERY_HANDLER, own_mask) < 0)
		return replay_diverge(rp, ev, "cannot restore the signal mask of thread %d", t->tid);
	return 0;
}

/*
 * Raise @sig in @t, held after an event, and deliver it with the recorded
 * siginfo. With @wait_mask (a sigsuspend, ppoll & co. the replay skipped was
 * interrupted), the delivery sees that mask, as the recorded one did, and the
 * frame saves the thread's own mask for rt_sigreturn(2) to restore. A thread
 * its tracer held in such a delivery is still under the wait's mask.
 */
static int
deliver_injected(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t, int sig,
		 bool restore_regs, const uint64_t *wait_mask)
{
	enum tracee_delivery how = TRACEE_DELIVERY_NONE;
	uint64_t own_mask = 0, held_mask;
	int r;

	if (t->held_wait) {
		own_mask = t->held_own_mask;
		t->held_wait = false;
		if (!wait_mask) {
			if (tracee_get_sigmask(t->tid, &held_mask) < 0)
				return replay_diverge(rp, ev, "lost thread %d", t->tid);
			wait_mask = &held_mask;
		}
	} else if (wait_mask && tracee_get_sigmask(t->tid, &own_mask) < 0) {
		return replay_diverge(rp, ev, "lost thread %d", t->tid);
	}
	if (wait_mask && tracee_set_sigmask(t->tid, *wait_mask) < 0)
		return replay_diverge(rp, ev, "lost thread %d", t->tid);
	r = raise_to_delivery(rp, ev, t, sig, "");
	if (r < 0)
		return r;
	rp->last_sig_rip = ev->regs[offsetof(struct user_regs_struct, rip) / 8];
	rp->last_sig_tid = t->rec_tid;
	if (restore_regs) {
		/* including orig_rax and rax, which drive syscall restart */
		memcpy(&t->regs, ev->regs, sizeof(t->regs));
		if (tracee_set_regs(t->tid, &t->regs) < 0)
			return replay_diverge(rp, ev, "lost thread %d", t->tid);
	}
	r = deliver(rp, ev, t, sig, wait_mask ? &how : NULL);
	if (r < 0 || !wait_mask)
		return r < 0 ? r : 0;
	if (r == 1) {
		/* held for its tracer: the kernel keeps the wait's mask */
		t->held_wait = true;
		t->held_own_mask = own_mask;
		return 0;
	}
	return restore_own_mask(rp, ev, t, how, own_mask);
}

/*
 * run_to_ticks with the PMU: a counter interrupts TICKS_PMU_SKID ticks before
 * the point, then a hardware breakpoint at the recorded rip stops the thread
 * each time it gets there, and on the last tick single steps find the
 * registers (a rep-prefixed instruction repeats at one rip with one count).
 */
static int
run_to_ticks_pmu(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t,
		 uint64_t ticks)
{
	_cleanup_close_ int fd = -1, irq_fd = -1;
	struct user_regs_struct want;
	enum tracee_stop kind;
	uint64_t n;
	int sig, r;

	if (!ev->has_regs)
		return replay_diverge(rp, ev, "execution point without registers");
	memcpy(&want, ev->regs, sizeof(want));
	r = ticks_pmu_open(t->tid, 0, 0, &fd);
	if (r >= 0 && ticks > TICKS_PMU_SKID)
		r = ticks_pmu_open(t->tid, ticks - TICKS_PMU_SKID, TICKS_PMU_SIGNAL, &irq_fd);
	if (r < 0)
		return replay_diverge(rp, ev, "cannot count ticks: %s", strerror(-r));
	if (irq_fd >= 0) {
		r = replay_run_to_stop(rp, t, ev, &kind, &sig);
		if (r < 0)
			return r;
		if (kind != TRACEE_STOP_SIGNAL || sig != TICKS_PMU_SIGNAL)
			return replay_diverge(rp, ev, "expected to come near tick %" PRIu64
				       ", got %s at rip 0x%llx", ticks, replay_stop_name(kind, sig),
				       t->regs.rip);
		t->state = PT_HELD; /* resumed without the overflow signal */
	}
	for (;;) {
		r = ticks_pmu_read(fd, &n);
		if (r < 0)
			return replay_diverge(rp, ev, "cannot read the tick counter: %s", strerror(-r));
		if (n > ticks)
			return replay_diverge(rp, ev, "went past tick %" PRIu64 " (at %" PRIu64 ", rip 0x%llx)",
				       ticks, n, t->regs.rip);
		if (n == ticks && !arch_regs_differ(&want, &t->regs))
			break;
		r = tracee_set_hw_breakpoint(t->tid, n < ticks ? want.rip : 0);
		if (r < 0)
			return replay_diverge(rp, ev, "cannot set a breakpoint at 0x%llx: %s", want.rip,
				       strerror(-r));
		r = replay_resume_to_stop(rp, t, ev, n < ticks ? PTRACE_CONT : PTRACE_SINGLESTEP, &kind, &sig);
		if (r < 0)
			return r;
		if (kind != TRACEE_STOP_SIGNAL || sig != SIGTRAP)
			return replay_diverge(rp, ev, "expected to reach tick %" PRIu64 ", got %s at rip 0x%llx",
				       ticks, replay_stop_name(kind, sig), t->regs.rip);
		t->state = PT_HELD; /* resumed without the SIGTRAP */
	}
	if (tracee_set_hw_breakpoint(t->tid, 0) < 0)
		return replay_diverge(rp, ev, "lost thread %d", t->tid);
	return 0;
}

/*
 * Run @t, held at the start of its run of user code, to the execution point
 * @ev names: its budget makes it trap at the same counted branch as in the
 * recording (soft ticks), or the PMU counts its way there. Leaves it held
 * there with clean registers.
 */
static int
run_to_ticks(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t, uint64_t ticks)
{
	enum tracee_stop kind;
	int sig, r;

	if (t->state != PT_HELD)
		return replay_diverge(rp, ev, "execution point of a thread that is not held");
	if (rp->pmu)
		return run_to_ticks_pmu(rp, ev, t, ticks);
	if (!ticks_soft_active(t->space->soft) || ticks_soft_set_budget(t->space->memfd, ticks) < 0)
		return replay_diverge(rp, ev, "execution point without counting code");
	r = replay_run_to_stop(rp, t, ev, &kind, &sig);
	if (r < 0)
		return r;
	if (kind != TRACEE_STOP_SIGNAL || sig != SIGTRAP ||
	    ticks_soft_settle(t->space->soft, t->tid, &t->regs) != PATCH_STOP_TRAPPED)
		return replay_diverge(rp, ev, "expected to reach tick %" PRIu64 ", got %s at rip 0x%llx", ticks,
			       replay_stop_name(kind, sig), t->regs.rip);
	if (tracee_set_regs(t->tid, &t->regs) < 0)
		return replay_diverge(rp, ev, "lost thread %d", t->tid);
	t->state = PT_HELD;
	return replay_check_regs(rp, ev, t);
}

int
replay_on_preempt(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t)
{
	if (ev->nvalues < 1)
		return replay_diverge(rp, ev, "malformed preemption event");
	return run_to_ticks(rp, ev, t, ev->values[0]);
}

int
replay_on_patch(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t)
{
	int r;

	if (t->state != PT_HELD)
		return replay_diverge(rp, ev, "counting code installed while the thread runs");
	r = ticks_soft_apply(t->space->soft, t->tid, t->space->memfd, ev);
	if (r < 0)
		return replay_diverge(rp, ev, "cannot install the recorded counting code: %s", strerror(-r));
	return 0;
}

/* Deliver @sig where @t stands (a synchronous signal, or one that arrived at
 * this tick count), noting where, for the report if it kills the program. */
static int
deliver_here(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t, int sig)
{
	int r;

	rp->last_sig_rip = t->regs.rip;
	rp->last_sig_tid = t->rec_tid;
	r = deliver(rp, ev, t, sig, NULL);
	return r < 0 ? r : 0;
}

/*
 * A signal sent while @t's mask blocked it, delivered in the recording where
 * an untraced rt_sigreturn(2) unblocked it (TRACE_SIGNAL_AT_UNBLOCK): raise
 * it where @t stands, after its previous event, where the mask still blocks
 * it, and let the kernel deliver it at the same point, as it did there
 * (replay emulates the kill that sent it).
 */
static int
deliver_at_unblock(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t, int sig)
{
	uint64_t mask;
	int r;

	if (tracee_get_sigmask(t->tid, &mask) < 0)
		return replay_diverge(rp, ev, "lost thread %d", t->tid);
	if (sig < 1 || sig > 64 || !(mask & (1ull << (sig - 1))))
		return replay_diverge(rp, ev, "%s was recorded as blocked after the previous event "
			       "of thread %d, and is not", tracee_signal_name(sig), t->rec_tid);
	r = raise_to_delivery(rp, ev, t, sig, " where rt_sigreturn unblocks it");
	if (r < 0)
		return r;
	r = replay_check_regs(rp, ev, t);
	if (r < 0)
		return r;
	return deliver_here(rp, ev, t, sig);
}

int
replay_on_signal(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t)
{
	int sig = (int)ev->values[0], got_sig, r;
	bool wait = t->has_wait_mask;
	uint64_t wait_mask = t->wait_mask;
	enum tracee_stop kind;

	t->has_wait_mask = false;
	switch (ev->values[1]) {
	case TRACE_SIGNAL_SYNC:
		r = replay_run_to_stop(rp, t, ev, &kind, &got_sig);
		if (r < 0)
			return r;
		if (kind != TRACEE_STOP_SIGNAL || got_sig != sig)
			return replay_diverge(rp, ev, "expected %s, got %s at rip 0x%llx",
				       tracee_signal_name(sig), replay_stop_name(kind, got_sig), t->regs.rip);
		r = replay_check_regs(rp, ev, t);
		if (r < 0)
			return r;
		return deliver_here(rp, ev, t, sig);
	case TRACE_SIGNAL_AT_EVENT:
		if (t->state == PT_AT_ENTRY)
			return replay_diverge(rp, ev, "signal recorded inside a syscall");
		return deliver_injected(rp, ev, t, sig, true, wait ? &wait_mask : NULL);
	case TRACE_SIGNAL_AT_SYSCALL: {
		struct user_regs_struct regs;

		r = replay_run_to_stop(rp, t, ev, &kind, &got_sig);
		if (r < 0)
			return r;
		if (kind != TRACEE_STOP_SECCOMP)
			return replay_diverge(rp, ev, "expected a syscall for %s, got %s",
				       tracee_signal_name(sig), replay_stop_name(kind, got_sig));
		r = replay_check_regs(rp, ev, t);
		if (r < 0)
			return r;
		regs = t->regs;
		arch_rewind_syscall(&regs);
		if (tracee_set_regs(t->tid, &regs) < 0)
			return replay_diverge(rp, ev, "lost thread %d", t->tid);
		t->state = PT_HELD;
		return deliver_injected(rp, ev, t, sig, false, NULL);
	}
	case TRACE_SIGNAL_AT_TICKS:
		if (ev->nvalues < 3)
			return replay_diverge(rp, ev, "malformed signal event");
		r = run_to_ticks(rp, ev, t, ev->values[2]);
		if (r < 0)
			return r;
		return deliver_here(rp, ev, t, sig);
	case TRACE_SIGNAL_AT_UNBLOCK:
		if (t->state == PT_AT_ENTRY)
			return replay_diverge(rp, ev, "signal recorded inside a syscall");
		return deliver_at_unblock(rp, ev, t, sig);
	default:
		return replay_diverge(rp, ev, "unknown signal kind %" PRIu64, ev->values[1]);
	}
}

int
replay_on_rdtsc(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t)
{
	enum tracee_stop kind;
	int sig, r;

	r = replay_run_to_stop(rp, t, ev, &kind, &sig);
	if (r < 0)
		return r;
	if (kind != TRACEE_STOP_SIGNAL || sig != SIGSEGV)
		return replay_diverge(rp, ev, "expected rdtsc, got %s at rip 0x%llx", replay_stop_name(kind, sig),
			       t->regs.rip);
	r = replay_check_regs(rp, ev, t);
	if (r < 0)
		return r;
	t->regs.rax = ev->values[0];
	t->regs.rdx = ev->values[1];
	t->regs.rcx = ev->values[2];
	t->regs.rip += ev->values[3];
	if (tracee_set_regs(t->tid, &t->regs) < 0)
		return replay_diverge(rp, ev, "lost thread %d", t->tid);
	t->state = PT_HELD; /* resumed without the SIGSEGV */
	return 0;
}

