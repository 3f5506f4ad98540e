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
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "recorder/recorder.h"
#include "tracee/tracee.h"
#include "x86_64/arch.h"

/* PTRACE_O_* options the emulation honours (ptrace(2)): TRACESYSGOOD only
 * marks syscall stops, which are not emulated yet; EXITKILL and TRACEEXEC
 * are carried out. */
#define SUPPORTED_OPTIONS (PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL | PTRACE_O_TRACEEXEC)

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
	if (UTIL_GROW(e->v, e->cap, e->n + 1) < 0)
		return NULL;
	e->v[e->n] = (struct rec_ptracee){ .tid = tid, .tracer = tracer, .tracer_tgid = tracer_tgid };
	return &e->v[e->n++];
}

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
	pt->stop = kind;
	pt->reported = false;
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
	for (size_t i = 0; i < e->n; i++) {
		struct rec_ptracee *pt = &e->v[i];

		if (pt->tracer_tgid == tracer_tgid && pt->stop != REC_PTRACE_RUNNING &&
		    !pt->reported && wait_matches(pid, pt->tid, pt->tid))
			return pt;
	}
	return NULL;
}

int
rec_ptrace_wait_status(const struct rec_ptracee *pt)
{
	int sig = pt->si.si_signo;

	if (pt->stop == REC_PTRACE_EXEC_STOP && (pt->options & PTRACE_O_TRACEEXEC))
		sig = SIGTRAP | (PTRACE_EVENT_EXEC << 8);
	return (sig << 8) | 0x7f; /* W_STOPCODE */
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
	return 0;
}

/* PEEKUSER/POKEUSER: @off into struct user; its registers are kept, and its
 * debug registers are the thread's own (arch/x86/kernel/ptrace.c,
 * ptrace_get_debugreg(), ptrace_set_debugreg()): gdb reads DR6 at every stop
 * to tell a watchpoint from a step, and sets hardware watchpoints and
 * breakpoints in DR0-DR3 and DR7. Their traps are SIGTRAPs at an instruction,
 * synchronous signals that replay meets again once the writes are done again. */
static int64_t
user_area(const struct rec_ptrace_call *c, pid_t tid, uint64_t off, bool poke, uint64_t value,
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
	if (!pt || pt->tracer_tgid != c->tracer_tgid)
		return -ESRCH;
	if (c->ops->locate(c->ops->ctx, pid, &tid, &tgid, &memfd) < 0)
		return -ESRCH;
	if (req == PTRACE_KILL) {
		/* deprecated: SIGKILL the tracee (ptrace(2)) */
		if (!c->replay)
			syscall(SYS_tgkill, tgid, tid, SIGKILL);
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
		return user_area(c, tid, addr, false, 0, data);
	case PTRACE_POKETEXT:
	case PTRACE_POKEDATA:
		return tracee_write(memfd, addr, &data, sizeof(data)) < 0 ? -EIO : 0;
	case PTRACE_POKEUSER:
		return user_area(c, tid, addr, true, data, 0);
	case PTRACE_GETREGS:
		if (get_regs(tid, &regs) < 0)
			return -ESRCH;
		return to_tracer(c, data, &regs, sizeof(regs));
	case PTRACE_SETREGS:
		r = from_tracer(c, data, &regs, sizeof(regs));
		if (r < 0)
			return r;
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
		/* after an exec: the thread's former id, its own here (an exec
		 * from another thread is not emulated) */
		word = pt->stop == REC_PTRACE_EXEC_STOP ? (uint64_t)pid : 0;
		return to_tracer(c, data, &word, sizeof(word));
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
	case PTRACE_DETACH:
		if (data >= _NSIG)
			return -EIO;
		pt->step = req == PTRACE_SINGLESTEP;
		tracer_siginfo(pt, (int)data, &si);
		r = c->ops->resume(c->ops->ctx, pt, (int)data, &si);
		if (r < 0)
			return r;
		if (req == PTRACE_DETACH) {
			rec_ptrace_forget(e, pid);
		} else {
			pt = rec_ptrace_find(e, pid);
			pt->stop = REC_PTRACE_RUNNING;
		}
		return 0;
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
