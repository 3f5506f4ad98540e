/* SPDX-License-Identifier: MIT */
/*
 * Emulated ptrace(2) between recorded processes. uprr is the real tracer of
 * every tracee, and a thread has one tracer only, so a recorded debugger or
 * crash reporter cannot trace its child for real: uprr plays the kernel's
 * part. The traced thread's signal-delivery-stops are held back for the
 * emulated tracer, whose wait4(2) reports them and whose requests (PEEK,
 * POKE, GETREGS, CONT...) uprr carries out on the traced thread. The same
 * state machine runs in record and in replay, at the same events, so that
 * replay holds and resumes the traced thread where the recording did; what
 * the tracer read comes from the trace, what it wrote is written again.
 */
#define LOG_PREFIX "ptrace"
#include <asm/unistd.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/audit.h>

#include "common/log.h"
#include "recorder/recorder.h"
#include "syscalls/syscalls.h"
#include "tracee/tracee.h"
#include "x86_64/arch.h"

/* PTRACE_O_* options the emulation honours (ptrace(2)); TRACESECCOMP is
 * not (uprr's own filter decides which syscalls stop). */
#define SUPPORTED_OPTIONS                                                                       \
	(PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL | PTRACE_O_TRACEEXEC | PTRACE_O_TRACEFORK |     \
	 PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | PTRACE_O_TRACEVFORKDONE | PTRACE_O_TRACEEXIT)

struct rec_ptracee *
rec_ptrace_find(struct rec_ptrace_emu *e, pid_t tid)
{
	for (size_t i = 0; i < e->n; i++)
		if (e->v[i].tid == tid)
			return &e->v[i];
	return NULL;
}

bool
rec_ptrace_has_tracees(const struct rec_ptrace_emu *e, pid_t tracer_tgid)
{
	for (size_t i = 0; i < e->n; i++)
		if (e->v[i].tracer_tgid == tracer_tgid)
			return true;
	return false;
}

static struct rec_ptracee *
add_tracee(struct rec_ptrace_emu *e, pid_t tid, pid_t tracer, pid_t tracer_tgid)
{
	struct rec_ptracee *pt;

	if (UTIL_GROW(e->v, e->cap, e->n + 1) < 0)
		return NULL;
	pt = &e->v[e->n++];
	*pt = (struct rec_ptracee){ .tid = tid, .tracer = tracer, .tracer_tgid = tracer_tgid };
	if (e->early.tid == tid && e->early.stop != REC_PTRACE_RUNNING) {
		/* replay: the stop the trace gave it as it was seized */
		pt->stop = e->early.stop;
		pt->si = e->early.si;
		pt->seq = e->early.seq;
	}
	e->early.tid = 0;
	return pt;
}

static void enter(struct rec_ptrace_emu *e, struct rec_ptracee *pt, enum rec_ptrace_stop kind);

void
rec_ptrace_forget(struct rec_ptrace_emu *e, pid_t tid)
{
	struct rec_ptracee *pt = rec_ptrace_find(e, tid);

	if (pt)
		*pt = e->v[--e->n];
}

void
rec_ptrace_free(struct rec_ptrace_emu *e)
{
	free(e->v);
	*e = (struct rec_ptrace_emu){ 0 };
}

bool
rec_ptrace_intercepts(struct rec_ptrace_emu *e, pid_t tid, int sig)
{
	struct rec_ptracee *pt = rec_ptrace_find(e, tid);

	if (!pt || sig == SIGKILL)
		return false;
	if (pt->inject == sig) {
		/* the tracer passed it on: delivered without another stop */
		pt->inject = 0;
		return false;
	}
	return true;
}

void
rec_ptrace_enter_stop(struct rec_ptrace_emu *e, pid_t tid, enum rec_ptrace_stop kind,
		      const siginfo_t *si)
{
	struct rec_ptracee *pt = rec_ptrace_find(e, tid);

	if (!pt)
		return;
	enter(e, pt, kind);
	if (si) {
		pt->si = *si;
	} else {
		/* the SIGTRAP a traced execve raises: send_sig(SIGTRAP, current,
		 * 0) in ptrace_event(), SI_USER from the thread itself */
		memset(&pt->si, 0, sizeof(pt->si));
		pt->si.si_signo = SIGTRAP;
		pt->si.si_code = SI_USER;
		pt->si.si_pid = tid;
	}
}

bool
rec_ptrace_exec_stops(struct rec_ptrace_emu *e, pid_t tid)
{
	struct rec_ptracee *pt = rec_ptrace_find(e, tid);

	/* a seized tracee without PTRACE_O_TRACEEXEC gets no stop at all */
	if (!pt || (pt->seized && !(pt->options & PTRACE_O_TRACEEXEC)))
		return false;
	rec_ptrace_enter_stop(e, tid, REC_PTRACE_EXEC_STOP, NULL);
	pt->msg = (uint64_t)tid; /* the former id: its own (an exec from
				  * another thread is not emulated) */
	return true;
}

/* Whether wait4(2)'s @pid argument asks for thread @tid of process @tgid
 * (-1: any child; 0 and < -1, a process group: taken as any). */
static bool
wait_matches(pid_t pid, pid_t tid, pid_t tgid)
{
	return pid <= 0 || pid == tid || pid == tgid;
}

struct rec_ptracee *
rec_ptrace_waitable(struct rec_ptrace_emu *e, pid_t tracer_tgid, pid_t pid)
{
	struct rec_ptracee *best = NULL;

	/* the stop that happened first: the order the tracer would see them in */
	for (size_t i = 0; i < e->n; i++) {
		struct rec_ptracee *pt = &e->v[i];

		if (pt->tracer_tgid == tracer_tgid && pt->stop != REC_PTRACE_RUNNING &&
		    !pt->reported && wait_matches(pid, pt->tid, pt->tid) &&
		    (!best || pt->seq < best->seq))
			best = pt;
	}
	return best;
}

int
rec_ptrace_wait_status(const struct rec_ptracee *pt)
{
	int sig = pt->si.si_signo;

	switch (pt->stop) {
	case REC_PTRACE_EXITED:
		return (int)pt->msg;
	case REC_PTRACE_EXEC_STOP:
		if (pt->options & PTRACE_O_TRACEEXEC)
			sig = SIGTRAP | (PTRACE_EVENT_EXEC << 8);
		break;
	case REC_PTRACE_SYSCALL_ENTRY:
	case REC_PTRACE_SYSCALL_EXIT:
		/* ptrace_report_syscall(): 0x80 with PTRACE_O_TRACESYSGOOD */
		sig = SIGTRAP | ((pt->options & PTRACE_O_TRACESYSGOOD) ? 0x80 : 0);
		break;
	case REC_PTRACE_EVENT_STOP:
		sig = SIGTRAP | (pt->event << 8);
		break;
	case REC_PTRACE_GROUP_STOP:
		sig = pt->si.si_signo | (PTRACE_EVENT_STOP << 8);
		break;
	default:
		break;
	}
	return (sig << 8) | 0x7f; /* W_STOPCODE */
}

/* @pt enters stop @kind, reported after the stops before it. */
static void
enter(struct rec_ptrace_emu *e, struct rec_ptracee *pt, enum rec_ptrace_stop kind)
{
	pt->stop = kind;
	pt->reported = false;
	pt->seq = ++e->seq;
}

/* The siginfo of a stop that is no signal's: ptrace_do_notify() in
 * kernel/signal.c, with the stop's exit code (wait status >> 8) as si_code. */
static void
trap_info(struct rec_ptracee *pt, int sig)
{
	memset(&pt->si, 0, sizeof(pt->si));
	pt->si.si_signo = sig;
	pt->si.si_code = (rec_ptrace_wait_status(pt) >> 8) & 0xffff;
	pt->si.si_pid = pt->tid;
	pt->si.si_uid = getuid();
}

void
rec_ptrace_set_stop(struct rec_ptrace_emu *e, pid_t tid, enum rec_ptrace_stop kind, int sig,
		    int event, uint64_t msg)
{
	struct rec_ptracee *pt = rec_ptrace_find(e, tid);

	if (!pt) {
		/* replay: a thread being seized (attach()), not a tracee yet */
		pt = &e->early;
		*pt = (struct rec_ptracee){ .tid = tid };
	}
	if (kind == REC_PTRACE_CONTINUED) {
		pt->continued = true;
		return;
	}
	enter(e, pt, kind);
	pt->event = event;
	if (kind == REC_PTRACE_EVENT_STOP || kind == REC_PTRACE_EXITED)
		pt->msg = msg;
	if (kind == REC_PTRACE_GROUP_STOP)
		pt->listening = false;
	if (kind != REC_PTRACE_EXITED)
		trap_info(pt, sig ? sig : SIGTRAP);
}

bool
rec_ptrace_syscall_stops(struct rec_ptrace_emu *e, pid_t tid, bool entry)
{
	struct rec_ptracee *pt = rec_ptrace_find(e, tid);

	if (!pt || !pt->syscall_stops || pt->stop != REC_PTRACE_RUNNING || pt->listening)
		return false;
	rec_ptrace_set_stop(e, tid, entry ? REC_PTRACE_SYSCALL_ENTRY : REC_PTRACE_SYSCALL_EXIT,
			    SIGTRAP, 0, 0);
	return true;
}

bool
rec_ptrace_vfork_done_stops(struct rec_ptrace_emu *e, pid_t tid, pid_t child)
{
	struct rec_ptracee *pt = rec_ptrace_find(e, tid);

	if (!pt || !(pt->options & PTRACE_O_TRACEVFORKDONE) || pt->stop != REC_PTRACE_RUNNING)
		return false;
	/* ptrace_event_pid(PTRACE_EVENT_VFORK_DONE, pid) in kernel_clone() */
	rec_ptrace_set_stop(e, tid, REC_PTRACE_EVENT_STOP, SIGTRAP, PTRACE_EVENT_VFORK_DONE,
			    (uint64_t)child);
	return true;
}

bool
rec_ptrace_after_syscall(struct rec_ptrace_emu *e, pid_t tid, long nr, const uint64_t args[6],
			 int64_t result)
{
	if (sc_is_exec(nr) && result == 0 && rec_ptrace_exec_stops(e, tid))
		return true;
	if ((sc_clone_flags(nr, args) & CLONE_VFORK) && result > 0 &&
	    rec_ptrace_vfork_done_stops(e, tid, (pid_t)result))
		return true;
	return rec_ptrace_syscall_stops(e, tid, false);
}

bool
rec_ptrace_on_clone(struct rec_ptrace_emu *e, pid_t parent, pid_t child, uint64_t flags)
{
	struct rec_ptracee *pt = rec_ptrace_find(e, parent), *c;
	pid_t tracer, tracer_tgid;
	uint64_t options, want;
	bool seized;
	int event;

	if (!pt || (flags & CLONE_UNTRACED) || pt->stop != REC_PTRACE_RUNNING)
		return false;
	/* kernel_clone(), kernel/fork.c: which event this clone is */
	if (flags & CLONE_VFORK) {
		event = PTRACE_EVENT_VFORK;
		want = PTRACE_O_TRACEVFORK;
	} else if ((flags & CSIGNAL) != SIGCHLD) {
		event = PTRACE_EVENT_CLONE;
		want = PTRACE_O_TRACECLONE;
	} else {
		event = PTRACE_EVENT_FORK;
		want = PTRACE_O_TRACEFORK;
	}
	if (!(pt->options & want) || rec_ptrace_find(e, child))
		return false;
	tracer = pt->tracer;
	tracer_tgid = pt->tracer_tgid;
	options = pt->options;
	seized = pt->seized;
	c = add_tracee(e, child, tracer, tracer_tgid);
	if (!c)
		return false;
	c->options = options;
	c->seized = seized;
	rec_ptrace_set_stop(e, parent, REC_PTRACE_EVENT_STOP, SIGTRAP, event, (uint64_t)child);
	/* ptrace_init_task(): a seized child traps in PTRACE_EVENT_STOP, the
	 * others take a SIGSTOP (pending, no siginfo queued: SI_USER from 0) */
	if (seized) {
		rec_ptrace_set_stop(e, child, REC_PTRACE_GROUP_STOP, SIGTRAP, 0, 0);
	} else {
		siginfo_t si = { .si_signo = SIGSTOP, .si_code = SI_USER };

		rec_ptrace_enter_stop(e, child, REC_PTRACE_SIGNAL_STOP, &si);
	}
	return true;
}

bool
rec_ptrace_interrupt_due(struct rec_ptrace_emu *e, pid_t tid)
{
	struct rec_ptracee *pt = rec_ptrace_find(e, tid);

	if (!pt || !pt->interrupt || pt->stop != REC_PTRACE_RUNNING)
		return false;
	pt->interrupt = false;
	rec_ptrace_set_stop(e, tid, REC_PTRACE_GROUP_STOP, SIGTRAP, 0, 0);
	return true;
}

bool
rec_ptrace_wants_exit_stop(struct rec_ptrace_emu *e, pid_t tid)
{
	struct rec_ptracee *pt = rec_ptrace_find(e, tid);

	return pt && (pt->options & PTRACE_O_TRACEEXIT) && pt->stop == REC_PTRACE_RUNNING;
}

bool
rec_ptrace_gone(struct rec_ptrace_emu *e, pid_t tid, pid_t tgid, pid_t parent_tgid, int status)
{
	struct rec_ptracee *pt = rec_ptrace_find(e, tid);

	if (!pt)
		return false;
	if (tid == tgid && parent_tgid == pt->tracer_tgid) {
		/* its parent's own wait4 reports it: the kernel's */
		rec_ptrace_forget(e, tid);
		return false;
	}
	rec_ptrace_set_stop(e, tid, REC_PTRACE_EXITED, 0, 0, (uint64_t)(unsigned)status);
	return true;
}

void
rec_ptrace_reported(struct rec_ptrace_emu *e, pid_t tracer_tgid, pid_t pid)
{
	struct rec_ptracee *pt = rec_ptrace_find(e, pid);

	if (!pt || pt->tracer_tgid != tracer_tgid)
		return;
	pt->reported = true;
	if (pt->stop == REC_PTRACE_EXITED)
		rec_ptrace_forget(e, pid);
}

/* Name the PTRACE_O_* options in @options that are not emulated, in @c->why. */
static int64_t
refuse_options(const struct rec_ptrace_call *c, uint64_t options)
{
	static const char *const names[] = {
		"TRACESYSGOOD", "TRACEFORK", "TRACEVFORK", "TRACECLONE", "TRACEEXEC",
		"TRACEVFORKDONE", "TRACEEXIT", "TRACESECCOMP",
	};
	uint64_t left = options & ~(uint64_t)SUPPORTED_OPTIONS;
	size_t off = (size_t)snprintf(c->why, c->why_len, "ptrace options");

	for (size_t i = 0; i < ARRAY_SIZE(names) && off < c->why_len; i++)
		if (left & (1ull << i))
			off += (size_t)snprintf(c->why + off, c->why_len - off, " PTRACE_O_%s", names[i]);
	if (off < c->why_len && left & ~0xffull)
		snprintf(c->why + off, c->why_len - off, " 0x%lx", (unsigned long)(left & ~0xffull));
	return -ENOTSUP;
}

/* Registers of the traced thread @tid (a live id). */
static int
get_regs(pid_t tid, struct user_regs_struct *ret)
{
	return tracee_get_regs(tid, ret);
}

/* The siginfo a tracer's signal @sig gets when it is not the stop's own:
 * ptrace_signal() in kernel/signal.c rebuilds it as sent by the tracer. */
static void
tracer_siginfo(const struct rec_ptracee *pt, int sig, siginfo_t *ret)
{
	if (sig == pt->si.si_signo) {
		*ret = pt->si;
		return;
	}
	memset(ret, 0, sizeof(*ret));
	ret->si_signo = sig;
	ret->si_code = SI_USER;
	ret->si_pid = pt->tracer_tgid;
	ret->si_uid = getuid();
}

/* Write @len bytes to the tracer's memory at @addr (record only: in replay
 * the trace holds them). */
static int
to_tracer(const struct rec_ptrace_call *c, uint64_t addr, const void *buf, size_t len)
{
	if (c->replay)
		return 0;
	return tracee_write(c->tracer_memfd, addr, buf, len) < 0 ? -EFAULT : 0;
}

static int
from_tracer(const struct rec_ptrace_call *c, uint64_t addr, void *buf, size_t len)
{
	return tracee_read_mem(c->tracer_memfd, addr, buf, len) < 0 ? -EFAULT : 0;
}

static int64_t
attach(struct rec_ptrace_emu *e, const struct rec_ptrace_call *c, long req, pid_t pid,
       uint64_t options)
{
	pid_t tid, tgid;
	int memfd;

	if (c->ops->locate(c->ops->ctx, pid, &tid, &tgid, &memfd) < 0) {
		snprintf(c->why, c->why_len, "ptrace %s of process %d, which uprr does not record",
			 req == PTRACE_ATTACH ? "PTRACE_ATTACH" : "PTRACE_SEIZE", pid);
		return -ENOTSUP;
	}
	if (tgid == c->tracer_tgid || rec_ptrace_find(e, pid))
		return -EPERM;
	if (!c->replay && c->ops->parent_of(c->ops->ctx, pid) != c->tracer_tgid) {
		/* wait4 reports a non-child's stops and exit to its tracer:
		 * not emulated yet */
		snprintf(c->why, c->why_len, "ptrace %s of process %d, not a child of the tracer",
			 req == PTRACE_ATTACH ? "PTRACE_ATTACH" : "PTRACE_SEIZE", pid);
		return -ENOTSUP;
	}
	if (options & ~(uint64_t)SUPPORTED_OPTIONS)
		return refuse_options(c, options);
	if (!add_tracee(e, pid, c->tracer, c->tracer_tgid))
		return -ENOMEM;
	rec_ptrace_find(e, pid)->seized = req == PTRACE_SEIZE;
	rec_ptrace_find(e, pid)->options = options;
	/* ptrace_attach() sends SIGSTOP, which the tracee reports as its
	 * first stop; in replay that signal is an event of the trace */
	if (req == PTRACE_ATTACH && !c->replay)
		syscall(SYS_tgkill, tgid, tid, SIGSTOP);
	/* a seized thread in a group-stop traps at once in PTRACE_EVENT_STOP
	 * of its stop signal (ptrace_attach()); in replay the trace says so */
	if (req == PTRACE_SEIZE && !c->replay && c->ops->stopped_sig) {
		int sig = c->ops->stopped_sig(c->ops->ctx, pid);

		if (sig > 0 && sig != SIGTRAP) {
			rec_ptrace_set_stop(e, pid, REC_PTRACE_GROUP_STOP, sig, 0, 0);
			if (c->ops->note)
				c->ops->note(c->ops->ctx, rec_ptrace_find(e, pid), true);
		}
	}
	return 0;
}

/*
 * PTRACE_GET_SYSCALL_INFO of @pt, stopped, into the tracer's @size bytes at
 * @data: ptrace_get_syscall_info() in kernel/ptrace.c fills the op, arch,
 * instruction and stack pointers, then the entry's number and arguments or
 * the exit's value, and returns the size it had (it copies at most @size).
 */
static int64_t
syscall_info(const struct rec_ptrace_call *c, const struct rec_ptracee *pt, pid_t tid,
	     uint64_t size, uint64_t data)
{
	struct __ptrace_syscall_info info;
	struct user_regs_struct regs;
	size_t len = offsetof(struct __ptrace_syscall_info, entry);
	int r;

	if (get_regs(tid, &regs) < 0)
		return -ESRCH;
	memset(&info, 0, sizeof(info));
	info.op = PTRACE_SYSCALL_INFO_NONE;
	info.arch = AUDIT_ARCH_X86_64;
	info.instruction_pointer = regs.rip;
	info.stack_pointer = regs.rsp;
	if (pt->stop == REC_PTRACE_SYSCALL_ENTRY) {
		info.op = PTRACE_SYSCALL_INFO_ENTRY;
		info.entry.nr = regs.orig_rax;
		info.entry.args[0] = regs.rdi;
		info.entry.args[1] = regs.rsi;
		info.entry.args[2] = regs.rdx;
		info.entry.args[3] = regs.r10;
		info.entry.args[4] = regs.r8;
		info.entry.args[5] = regs.r9;
		len = offsetof(struct __ptrace_syscall_info, entry.args) + sizeof(info.entry.args);
	} else if (pt->stop == REC_PTRACE_SYSCALL_EXIT) {
		info.op = PTRACE_SYSCALL_INFO_EXIT;
		info.exit.rval = (int64_t)regs.rax;
		/* IS_ERR_VALUE() */
		info.exit.is_error = regs.rax >= (uint64_t)-4095;
		len = offsetof(struct __ptrace_syscall_info, exit.is_error) + sizeof(info.exit.is_error);
	}
	r = to_tracer(c, data, &info, MIN(len, size));
	return r < 0 ? r : (int64_t)len;
}

/* PTRACE_CONT, PTRACE_SYSCALL, PTRACE_SINGLESTEP or PTRACE_DETACH (@req) of
 * @pt with signal @sig. */
static int64_t
resume(struct rec_ptrace_emu *e, const struct rec_ptrace_call *c, struct rec_ptracee *pt, long req,
       int sig)
{
	pid_t pid = pt->tid;
	siginfo_t si;
	int r;

	if (!c->replay && pt->stop == REC_PTRACE_GROUP_STOP && c->ops->stopped_sig &&
	    c->ops->stopped_sig(c->ops->ctx, pid) != SIGTRAP) {
		snprintf(c->why, c->why_len, "ptrace %s of a thread in a group-stop",
			 req == PTRACE_DETACH ? "PTRACE_DETACH" : "PTRACE_CONT");
		return -ENOTSUP;
	}
	if (req == PTRACE_SYSCALL &&
	    (pt->stop == REC_PTRACE_EXEC_STOP ||
	     (pt->stop == REC_PTRACE_EVENT_STOP && pt->event == PTRACE_EVENT_VFORK_DONE))) {
		/* these stops come at the syscall's end, before its exit stop
		 * (ptrace(2)): the next stop is that one, where it stands */
		pt->syscall_stops = true;
		rec_ptrace_set_stop(e, pid, REC_PTRACE_SYSCALL_EXIT, SIGTRAP, 0, 0);
		if (c->ops->note)
			c->ops->note(c->ops->ctx, pt, false);
		return 0;
	}
	if (req == PTRACE_SINGLESTEP && pt->stop != REC_PTRACE_SIGNAL_STOP &&
	    pt->stop != REC_PTRACE_EXEC_STOP) {
		/* from a syscall, event or group stop the thread is inside
		 * a syscall, whose end the step would have to report */
		snprintf(c->why, c->why_len, "ptrace PTRACE_SINGLESTEP from a %s",
			 pt->stop == REC_PTRACE_GROUP_STOP ? "group-stop"
			 : pt->stop == REC_PTRACE_EVENT_STOP ? "ptrace event stop"
							     : "syscall stop");
		return -ENOTSUP;
	}
	pt->step = req == PTRACE_SINGLESTEP;
	if (req == PTRACE_SYSCALL && c->ops->want_syscall_stops)
		c->ops->want_syscall_stops(c->ops->ctx, pt);
	tracer_siginfo(pt, sig, &si);
	r = c->ops->resume(c->ops->ctx, pt, sig, &si);
	if (r < 0)
		return r;
	pt = rec_ptrace_find(e, pid);
	if (req == PTRACE_DETACH) {
		rec_ptrace_forget(e, pid);
	} else if (pt) {
		pt->stop = REC_PTRACE_RUNNING;
		pt->syscall_stops = req == PTRACE_SYSCALL;
		pt->continued = false;
	}
	return 0;
}

/* Whether registers @regs, written at @pt's stop, change the syscall it
 * enters: its entry is in the trace already (replay does not run it again
 * changed), so that is refused by name. */
static bool
changes_syscall(const struct rec_ptrace_call *c, const struct rec_ptracee *pt, pid_t tid,
		const struct user_regs_struct *regs)
{
	struct user_regs_struct old;

	if (pt->stop != REC_PTRACE_SYSCALL_ENTRY || get_regs(tid, &old) < 0)
		return false;
	if (old.orig_rax == regs->orig_rax && old.rdi == regs->rdi && old.rsi == regs->rsi &&
	    old.rdx == regs->rdx && old.r10 == regs->r10 && old.r8 == regs->r8 && old.r9 == regs->r9)
		return false;
	snprintf(c->why, c->why_len, "ptrace change of a syscall at its entry stop");
	return true;
}

/* PEEKUSER/POKEUSER: @off into struct user; its registers are kept, and its
 * debug registers are the thread's own (arch/x86/kernel/ptrace.c,
 * ptrace_get_debugreg(), ptrace_set_debugreg()): gdb reads DR6 at every stop
 * to tell a watchpoint from a step, and sets hardware watchpoints and
 * breakpoints in DR0-DR3 and DR7. Their traps are SIGTRAPs at an instruction,
 * synchronous signals that replay meets again once the writes are done again. */
static int64_t
user_area(const struct rec_ptrace_call *c, const struct rec_ptracee *pt, pid_t tid, uint64_t off, bool poke, uint64_t value,
	  uint64_t data)
{
	const uint64_t dr = offsetof(struct user, u_debugreg);
	struct user_regs_struct regs;
	uint64_t word = 0;
	long got;
	int r;

	if (off & 7 || off >= sizeof(struct user))
		return -EIO;
	if (off < sizeof(regs)) {
		r = get_regs(tid, &regs);
		if (r < 0)
			return -ESRCH;
		if (poke) {
			memcpy((char *)&regs + off, &value, 8);
			if (changes_syscall(c, pt, tid, &regs))
				return -ENOTSUP;
			return tracee_set_regs(tid, &regs) < 0 ? -EIO : 0;
		}
		memcpy(&word, (char *)&regs + off, 8);
	} else if (off >= dr && off < dr + sizeof(((struct user *)0)->u_debugreg)) {
		if (poke && c->debugregs_taken) {
			snprintf(c->why, c->why_len,
				 "ptrace PTRACE_POKEUSER of debug register DR%lu (a hardware breakpoint "
				 "or watchpoint: uprr uses them to replay with --ticks=pmu)",
				 (unsigned long)(off - dr) / 8);
			return -ENOTSUP;
		}
		if (poke)
			return ptrace(PTRACE_POKEUSER, tid, off, value) < 0 ? -errno : 0;
		if (c->replay)
			return 0; /* the trace holds what the tracer read */
		errno = 0;
		got = ptrace(PTRACE_PEEKUSER, tid, off, 0);
		if (got == -1 && errno)
			return -errno;
		word = (uint64_t)got;
	} else if (poke) {
		snprintf(c->why, c->why_len, "ptrace PTRACE_POKEUSER at offset %lu", (unsigned long)off);
		return -ENOTSUP;
	}
	return to_tracer(c, data, &word, sizeof(word));
}

/* The largest regset GETREGSET/SETREGSET carry: the XSAVE area of the
 * machine (NT_X86_XSTATE, arch_xstate_size()) is the largest x86-64 has. */
static size_t
regset_max(void)
{
	return arch_xstate_size();
}

/*
 * PTRACE_GETREGSET and PTRACE_SETREGSET of note type @type: the struct iovec
 * at @data in the tracer says where and how much (ptrace(2)); the kernel
 * reads or writes the thread's regset (any it has: NT_PRSTATUS, NT_PRFPREG,
 * NT_X86_XSTATE...) and stores back in iov_len the size it moved.
 */
static int64_t
regset(const struct rec_ptrace_call *c, pid_t tid, long req, uint64_t type, uint64_t data)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct iovec iov, kiov;
	int r;

	r = from_tracer(c, data, &iov, sizeof(iov));
	if (r < 0)
		return r;
	kiov.iov_len = MIN(iov.iov_len, regset_max());
	buf = calloc(1, MAX(kiov.iov_len, 1u));
	if (!buf)
		return -ENOMEM;
	kiov.iov_base = buf;
	if (req == PTRACE_SETREGSET) {
		r = from_tracer(c, (uint64_t)(uintptr_t)iov.iov_base, buf, kiov.iov_len);
		if (r < 0)
			return r;
		if (ptrace(PTRACE_SETREGSET, tid, type, &kiov) < 0)
			return -errno;
		iov.iov_len = kiov.iov_len;
		return to_tracer(c, data, &iov, sizeof(iov));
	}
	if (c->replay)
		return 0; /* the trace holds what the tracer read */
	if (ptrace(PTRACE_GETREGSET, tid, type, &kiov) < 0)
		return -errno;
	r = to_tracer(c, (uint64_t)(uintptr_t)iov.iov_base, buf, kiov.iov_len);
	if (r < 0)
		return r;
	iov.iov_len = kiov.iov_len;
	return to_tracer(c, data, &iov, sizeof(iov));
}

int64_t
rec_ptrace_request(struct rec_ptrace_emu *e, const struct rec_ptrace_call *c, const uint64_t args[6])
{
	long req = (long)args[0];
	pid_t pid = (pid_t)args[1], tid, tgid;
	uint64_t addr = args[2], data = args[3], word;
	struct rec_ptracee *pt;
	struct user_regs_struct regs;
	uint8_t fpregs[512];
	siginfo_t si;
	int memfd, r;

	switch (req) {
	case PTRACE_TRACEME:
		/* its tracer is its parent, if uprr records that one (else the
		 * kernel's answer: uprr traces it, EPERM) */
		if (!c->parent_tgid || rec_ptrace_find(e, c->tracer))
			return -EPERM;
		if (!add_tracee(e, c->tracer, c->parent_tgid, c->parent_tgid))
			return -ENOMEM;
		return 0;
	case PTRACE_ATTACH:
	case PTRACE_SEIZE:
		return attach(e, c, req, pid, req == PTRACE_SEIZE ? data : 0);
	default:
		break;
	}
	pt = rec_ptrace_find(e, pid);
	if (!pt || pt->tracer_tgid != c->tracer_tgid || pt->stop == REC_PTRACE_EXITED)
		return -ESRCH;
	if (c->ops->locate(c->ops->ctx, pid, &tid, &tgid, &memfd) < 0)
		return -ESRCH;
	if (req == PTRACE_KILL) {
		/* deprecated: SIGKILL the tracee (ptrace(2)) */
		if (!c->replay)
			syscall(SYS_tgkill, tgid, tid, SIGKILL);
		return 0;
	}
	if (req == PTRACE_INTERRUPT) {
		int sig;

		if (!pt->seized)
			return -EIO;
		/* a stopped one stays so; in replay the trace holds the stop */
		if (pt->stop != REC_PTRACE_RUNNING || c->replay)
			return 0;
		sig = c->ops->stopped_sig ? c->ops->stopped_sig(c->ops->ctx, pid) : 0;
		if (sig <= 0) {
			/* it traps at its next event (rec_ptrace_interrupt_due()),
			 * which the trace says */
			if (!c->ops->kick) {
				snprintf(c->why, c->why_len, "ptrace PTRACE_INTERRUPT of a thread that runs");
				return -ENOTSUP;
			}
			pt->interrupt = true;
			c->ops->kick(c->ops->ctx, pt);
			return 0;
		}
		/* do_jobctl_trap(): PTRACE_EVENT_STOP of the group-stop's
		 * signal, SIGTRAP outside one */
		rec_ptrace_set_stop(e, pid, REC_PTRACE_GROUP_STOP, sig, 0, 0);
		if (c->ops->note)
			c->ops->note(c->ops->ctx, rec_ptrace_find(e, pid), true);
		return 0;
	}
	if (req == PTRACE_LISTEN) {
		/* only a seized tracee in PTRACE_EVENT_STOP (ptrace_request()):
		 * it stays stopped, not waitable, until a SIGCONT ends its
		 * group-stop (or PTRACE_INTERRUPT) */
		if (!pt->seized || pt->stop != REC_PTRACE_GROUP_STOP)
			return pt->stop == REC_PTRACE_RUNNING ? -ESRCH : -EIO;
		if (pt->continued) {
			/* SIGCONT came already: it traps again at once, in
			 * PTRACE_EVENT_STOP of SIGTRAP (ptrace_resume of
			 * JOBCTL_TRAP_NOTIFY, kernel/ptrace.c) */
			pt->continued = false;
			rec_ptrace_set_stop(e, pid, REC_PTRACE_GROUP_STOP, SIGTRAP, 0, 0);
			if (c->ops->note)
				c->ops->note(c->ops->ctx, pt, false);
			return 0;
		}
		pt->stop = REC_PTRACE_RUNNING;
		pt->listening = true;
		return 0;
	}
	if (pt->stop == REC_PTRACE_RUNNING)
		return -ESRCH; /* ptrace_check_attach(): not stopped */
	switch (req) {
	case PTRACE_PEEKTEXT:
	case PTRACE_PEEKDATA:
		/* the raw syscall stores the word at @data (ptrace(2), C library
		 * difference) */
		if (tracee_read_mem(memfd, addr, &word, sizeof(word)) < 0)
			return -EIO;
		return to_tracer(c, data, &word, sizeof(word));
	case PTRACE_PEEKUSER:
		return user_area(c, pt, tid, addr, false, 0, data);
	case PTRACE_POKETEXT:
	case PTRACE_POKEDATA:
		return tracee_write(memfd, addr, &data, sizeof(data)) < 0 ? -EIO : 0;
	case PTRACE_POKEUSER:
		return user_area(c, pt, tid, addr, true, data, 0);
	case PTRACE_GETREGS:
		if (get_regs(tid, &regs) < 0)
			return -ESRCH;
		return to_tracer(c, data, &regs, sizeof(regs));
	case PTRACE_SETREGS:
		r = from_tracer(c, data, &regs, sizeof(regs));
		if (r < 0)
			return r;
		if (changes_syscall(c, pt, tid, &regs))
			return -ENOTSUP;
		return tracee_set_regs(tid, &regs) < 0 ? -EIO : 0;
	case PTRACE_GETFPREGS:
		if (ptrace(PTRACE_GETFPREGS, tid, 0, fpregs) < 0)
			return -errno;
		return to_tracer(c, data, fpregs, sizeof(fpregs));
	case PTRACE_SETFPREGS:
		r = from_tracer(c, data, fpregs, sizeof(fpregs));
		if (r < 0)
			return r;
		return ptrace(PTRACE_SETFPREGS, tid, 0, fpregs) < 0 ? -errno : 0;
	case PTRACE_GETSIGINFO:
		return to_tracer(c, data, &pt->si, sizeof(pt->si));
	case PTRACE_SETSIGINFO:
		r = from_tracer(c, data, &si, sizeof(si));
		if (r == 0)
			pt->si = si;
		return r;
	case PTRACE_GETEVENTMSG:
		return to_tracer(c, data, &pt->msg, sizeof(pt->msg));
	case PTRACE_GET_SYSCALL_INFO:
		return syscall_info(c, pt, tid, addr, data);
	case PTRACE_SETOPTIONS:
		if (data & ~(uint64_t)SUPPORTED_OPTIONS)
			return refuse_options(c, data);
		pt->options = data;
		return 0;
	case PTRACE_GETREGSET:
	case PTRACE_SETREGSET:
		return regset(c, tid, req, addr, data);
	case PTRACE_SINGLESTEP:
	case PTRACE_CONT:
	case PTRACE_SYSCALL:
	case PTRACE_DETACH:
		if (data >= _NSIG)
			return -EIO;
		return resume(e, c, pt, req, (int)data);
	default:
		snprintf(c->why, c->why_len, "ptrace request %ld", req);
		return -ENOTSUP;
	}
}

bool
rec_ptrace_tracer_gone(struct rec_ptrace_emu *e, pid_t tracer_tgid, struct rec_ptracee *ret_pt)
{
	for (size_t i = 0; i < e->n; i++) {
		if (e->v[i].tracer_tgid != tracer_tgid)
			continue;
		*ret_pt = e->v[i];
		e->v[i] = e->v[--e->n];
		return true;
	}
	return false;
}
