/* SPDX-License-Identifier: MIT */
/*
 * The recorder's scheduling policy, on top of sched/: a thread whose blocked
 * syscall completes runs at once (wakeup preemption), a run of user code
 * takes a restore point only when another thread may want the CPU during it,
 * and a thread that spins (its timeslices end with no event, its loop making
 * no progress) gets shorter timeslices, counted in ticks, and gives the CPU
 * to the others as soon as it is seen spinning: to one that is not spinning
 * on memory nobody changed since (rec_spin_pick()), the thread it waits for.
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
#include <sys/wait.h>

#include "common/log.h"
#include "recorder/record-private.h"
#include "sched/sched.h"
#include "sched/ticks-soft.h"
#include "tracee/tracee.h"
#include "x86_64/arch.h"

/*
 * Whether @u waits in the kernel for something only another recorded thread
 * (or a signal) can bring: a futex wait with no timeout (futex(2)
 * FUTEX_WAIT, FUTEX_WAIT_BITSET with a NULL timeout), a wait for a child. Whatever wakes it is
 * an event of the thread that wakes it: the run of user code under way ends
 * first. A signal from outside may still wake it; then it waits for the
 * running thread's next event (or execution point, where counting code runs).
 */
static bool
waits_for_a_thread(const struct rthread *u)
{
	uint64_t cmd = u->model_args[1] & FUTEX_CMD_MASK;

	switch (u->model_nr) {
	case __NR_futex:
		return (cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET) && u->model_args[3] == 0;
	case __NR_wait4:
	case __NR_waitid:
		/* A child's change of state (exit, stop, continue: wait(2)) is
		 * an event of that child, a recorded process, or of whoever
		 * signals it; a blocking wait (no WNOHANG) ends only then, or
		 * when a signal interrupts it: a timer of its own process
		 * (SIGALRM...) may, at any time. */
		return !(u->model_args[u->model_nr == __NR_wait4 ? 2 : 3] & WNOHANG) &&
		       !u->space->signals;
	default:
		return false;
	}
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

/* How long an EP run's threads may all wait for one another, with no event
 * written, before rec_ep_stuck() takes the run as stuck: far longer than a
 * woken thread takes to report its syscall's exit on a loaded machine */
#define EP_STUCK_NS 2000000000ull

bool
rec_ep_stuck(struct recorder *rec, uint64_t *wait_ns)
{
	struct rec_ep *ep = rec->ep;
	const struct rthread *first = NULL;
	uint64_t now = util_now_ns(), events = rec_events_written(rec->w);

	for (size_t i = 0; i < rec->nthreads; i++) {
		const struct rthread *u = &rec->threads[i];

		if (u->state == RT_ZOMBIE)
			continue;
		if (u->state != RT_IN_SYSCALL || !waits_for_a_thread(u)) {
			ep->stuck_ns = 0;
			return false;
		}
		first = first ? first : u;
	}
	if (!first) {
		ep->stuck_ns = 0;
		return false;
	}
	if (!ep->stuck_ns || events != ep->stuck_events) {
		ep->stuck_ns = now;
		ep->stuck_events = events;
	}
	if (now - ep->stuck_ns < EP_STUCK_NS) {
		if (!*wait_ns || *wait_ns > EP_STUCK_NS / 4)
			*wait_ns = EP_STUCK_NS / 4;
		return false;
	}
	/* An EP run leaves out the signals from outside and its children's
	 * SIGCHLD (record-ep.c), and answers timers from the log: nothing
	 * will end these waits. libuprr-sync's FOLLOW waits so for a turn the
	 * log gives an operation this run did not make (its thread took
	 * another path, with no operation the interposer would have found
	 * different). */
	rec_ep_diverge_at(rec, first,
			  "every thread of the run has waited %.1f s in a futex wait (or a wait for a "
			  "child) that only another could end: the run cannot follow the log (an "
			  "operation of the log's synchronization order this run did not make?)",
			  (double)(now - ep->stuck_ns) / 1e9);
	return true;
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

/* ---- spinning ---- */

/*
 * A thread preempted after a timeslice with no event is looked at in its
 * next runs: its budget traps every so many ticks (a counted branch of a
 * loop it runs), and its registers tell whether its loop makes progress. The
 * same registers at two looks in a row, or registers of which only one
 * changed, by the same amount over two intervals of the same length (a spin
 * counter), mean a loop that waits for memory another thread writes (a flag,
 * a lock-free queue): the others run now, instead of after the rest of a
 * 5 ms timeslice. Looks that find progress come twice as far apart each
 * time (and once more at the same distance when one register changed, to
 * see whether it counts), so a thread that computes is stopped a few times
 * per timeslice, then no more. After a pure spin, the next runs' first look
 * comes about where that spin began (half the last interval). A loop seen counting that counts on from where it stood when
 * it was preempted for it either waits for something that takes long, or
 * does not wait at all (a loop that fills an array): its next runs' first
 * look comes twice as late each time. The intervals are powers of two, so a loop of 1, 2 or 4
 * counted branches stands at the same branch at each look.
 */
#define SPIN_PROBE_FIRST 256u	 /* ticks to the first look, at first */
#define SPIN_PROBE_MIN 16u	 /* the soonest a look comes */
#define SPIN_PROBE_LAST (1u << 20) /* looks stop beyond this many ticks */

#define NREGS (sizeof(struct user_regs_struct) / sizeof(unsigned long long))

/* The first timeslice of a process without counting code: the first
 * preemption of a spinning or computing thread rolls its run back and
 * installs counting code, after which its timeslices are the usual ones;
 * waiting the usual 5 ms (10 with its CPU time) for it made short programs
 * that spin (tests/progs/spin_flag) cost 20 times their native time. */
#define FIRST_SLICE_NS 1000000ull

uint64_t
rec_timeslice_ns(const struct recorder *rec, const struct rthread *t)
{
	uint64_t ns = sched_timeslice_ns(rec->sched);

	if (rec->soft && t->space->mem.soft && !ticks_soft_active(t->space->mem.soft))
		ns = MIN(ns, FIRST_SLICE_NS);
	return ns;
}

int
rec_arm_budget(struct rthread *t, uint64_t ticks, uint64_t budget)
{
	t->ticks_base = ticks;
	t->budget = budget;
	return ticks_soft_set_budget(t->space->mem.memfd, budget);
}

void
rec_spin_start_run(struct recorder *rec, struct rthread *t)
{
	t->probing = false;
	t->spin.looks = 0;
	t->spin.spinning = false;
	t->spin.nwatch = 0; /* it runs: what it waits for may come */
	if (!t->spin.probe || !sched_others_runnable(rec->sched))
		return;
	if (rec_arm_budget(t, 0, t->spin.probe) < 0) {
		log_debug("thread %d: cannot arm its tick budget", t->tid);
		return;
	}
	t->probing = true;
}

/* How many registers differ between @a and @b; the last one in *ret_reg,
 * its change in *ret_delta. */
static unsigned
regs_changed(const struct user_regs_struct *a, const struct user_regs_struct *b, int *ret_reg,
	     uint64_t *ret_delta)
{
	const unsigned long long *x = (const void *)a, *y = (const void *)b;
	unsigned n = 0;

	for (size_t i = 0; i < NREGS; i++)
		if (x[i] != y[i]) {
			n++;
			*ret_reg = (int)i;
			*ret_delta = x[i] - y[i];
		}
	return n;
}

/*
 * A look that finds @t back at the counted branch of the loop it was last
 * seen spinning in (a consumer that emptied its queue, a producer that
 * filled it): take these registers as the first of two looks and arm the
 * second as far away as the two that saw it spin there, so one more look
 * tells (the same registers, or its counter moved as it did then), instead
 * of three looks at growing distances. A loop that makes progress there
 * shows it at that look and is looked at as before. Returns true if it
 * armed that look (@ticks: the thread's ticks now).
 */
static bool
spin_loop_again(struct rthread *t, const struct user_regs_struct *regs, uint64_t ticks)
{
	struct rec_spin *sp = &t->spin;

	if (!sp->spin_interval || regs->rip != sp->counter_rip ||
	    (sp->looks && sp->regs.rip == regs->rip))
		return false;
	sp->regs = *regs;
	sp->reg = sp->counter;
	sp->delta = sp->spin_delta;
	sp->interval = sp->spin_interval;
	sp->looks++;
	t->probing = true;
	return rec_arm_budget(t, ticks, sp->spin_interval) == 0 && tracee_set_regs(t->tid, regs) == 0;
}

bool
rec_spin_probe(struct recorder *rec, struct rthread *t, const struct user_regs_struct *regs)
{
	struct rec_spin *sp = &t->spin;
	uint64_t ticks = t->ticks_base + t->budget, next = 0, delta = 0, now;
	bool others = sched_others_runnable(rec->sched), pure = false, counts = false, on = false;
	unsigned changed = 0;
	int reg = -1;

	rec->stats.probes++;
	/* a signal to deliver, a thread that woke: this is the point */
	if (t->deferred_sig || sched_wakeup_pending(rec->sched))
		return false;
	if (sp->looks) {
		changed = regs_changed(regs, &sp->regs, &reg, &delta);
		pure = changed == 0;
		counts = changed == 1 && sp->reg == reg && sp->delta == delta &&
			 sp->interval == t->budget;
	}
	if (counts && sp->counter == reg && sp->counter_rip == regs->rip) {
		/* the loop it was preempted in counts on: what it waits for
		 * takes long, or it does not wait at all (it fills an array) */
		now = ((const unsigned long long *)regs)[reg];
		on = (int64_t)(now - sp->counter_val) * (int64_t)delta > 0;
	}
	if ((pure || counts) && others) {
		sp->spin_interval = t->budget;
		sp->spin_delta = counts ? delta : 0;
		sp->spinning = true;
		if (pure) /* next time, look first about where it began */
			sp->probe = MAX(SPIN_PROBE_MIN, t->budget / 2);
		else if (on) /* give it longer runs, twice as long each time */
			sp->probe = MIN(SPIN_PROBE_LAST, sp->probe * 2);
		sp->counter = counts ? reg : -1;
		sp->counter_val = counts ? ((const unsigned long long *)regs)[reg] : 0;
		sp->counter_rip = regs->rip;
		rec->stats.spins++;
		return false;
	}
	if (others && spin_loop_again(t, regs, ticks)) {
		rec_resume(t, PTRACE_CONT, 0);
		return true;
	}
	/* progress (or no other thread to run: a wakeup will interrupt it) */
	if (others && !pure)
		next = changed == 1 && sp->interval != t->budget ? t->budget : t->budget * 2;
	if (next > SPIN_PROBE_LAST) {
		next = 0;
		sp->probe = 0; /* it computes: its next timeslice will tell */
	}
	sp->regs = *regs;
	sp->reg = changed == 1 ? reg : -1;
	sp->delta = delta;
	sp->interval = sp->looks ? t->budget : 0;
	sp->looks++;
	t->probing = next != 0;
	if (rec_arm_budget(t, ticks, next) < 0 || tracee_set_regs(t->tid, regs) < 0)
		return false;
	rec_resume(t, PTRACE_CONT, 0);
	return true;
}

/* Bytes of code a spin loop may have: a longer one is not looked into. */
#define SPIN_LOOP_MAX 256u

/*
 * The memory the loop @t spins in reads (its registers @regs, settled at the
 * counted branch that trapped), from the branch's target to the branch. A
 * trap site (a backward jmp made int3) has that target as clean address,
 * the jmp as trap. A stub site runs its region relocated at its clean
 * address (x86_64/patch.h): the region's first jmp or jcc there is the
 * counted branch; the loop is the original code from its target up to the
 * region (replaced by a jmp to the stub), then the relocated region up to
 * the branch. Stores up to @max in @ret; returns how many.
 */
static size_t
spin_loop_loads(const struct rthread *t, const struct user_regs_struct *regs, struct arch_load *ret,
		size_t max)
{
	const struct patch_site *ps = ticks_soft_site_at(t->space->mem.soft, regs->rip);
	uint8_t code[SPIN_LOOP_MAX];
	uint64_t at, target;
	size_t n = 0;

	if (!ps)
		return 0;
	if (!ps->stub) {
		if (ps->trap <= ps->clean || ps->trap - ps->clean > sizeof(code) ||
		    tracee_read(t->tid, ps->clean, code, ps->trap - ps->clean) < 0)
			return 0;
		return arch_code_loads(code, ps->trap - ps->clean, ps->clean, 0, regs, ret, max);
	}
	if (tracee_read(t->tid, ps->clean, code, 64) < 0 ||
	    arch_first_branch(code, 64, ps->clean, &at, &target) < 0)
		return 0;
	/* the original code from the target on, to the jmp to the stub (or
	 * the int3 after it, when the target lies in the region itself) */
	if ((target < ps->stub || target > at) && tracee_read(t->tid, target, code, 64) == 0)
		n = arch_code_loads(code, 64, target, ps->stub, regs, ret, max);
	if (tracee_read(t->tid, ps->clean, code, at - ps->clean) == 0)
		n += arch_code_loads(code, at - ps->clean, ps->clean, 0, regs, ret + n, max - n);
	return n;
}

void
rec_spin_preempted(struct recorder *rec, struct rthread *t, const struct user_regs_struct *regs)
{
	struct rec_spin *sp = &t->spin;
	struct arch_load loads[REC_SPIN_WATCH];
	size_t n;

	if (!sp->probe)
		sp->probe = SPIN_PROBE_FIRST;
	sp->nwatch = 0;
	/* only where the next pick has more than one thread to choose from */
	if (!sp->spinning || sched_nthreads(rec->sched) < 3)
		return;
	sp->spinning = false;
	n = spin_loop_loads(t, regs, loads, REC_SPIN_WATCH);
	for (size_t i = 0; i < n; i++) {
		uint64_t v = 0;

		if (tracee_read(t->tid, loads[i].addr, &v, loads[i].size) < 0)
			continue;
		sp->watch[sp->nwatch] = loads[i];
		sp->watch_val[sp->nwatch++] = v;
	}
}

/* sched_pick_avoiding()'s test: thread @tid was preempted spinning, and
 * what its loop reads has not changed since: it would spin again. */
static bool
spins_again(void *ctx, pid_t tid)
{
	struct recorder *rec = ctx;
	const struct rthread *u = rec_find_thread(rec, tid);

	if (!u || !u->spin.nwatch)
		return false;
	for (unsigned i = 0; i < u->spin.nwatch; i++) {
		uint64_t v = 0;

		if (tracee_read(u->tid, u->spin.watch[i].addr, &v, u->spin.watch[i].size) < 0 ||
		    v != u->spin.watch_val[i])
			return false;
	}
	rec->stats.passed_over++;
	return true;
}

pid_t
rec_spin_pick(struct recorder *rec)
{
	return sched_pick_avoiding(rec->sched, spins_again, rec);
}

void
rec_on_wakeup(struct recorder *rec, struct rthread *t)
{
	t->state = RT_EXIT_READY;
	sched_wake(rec->sched, t->tid);
}
