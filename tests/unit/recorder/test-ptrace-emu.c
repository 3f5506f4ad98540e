/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the emulated ptrace (recorder/ptrace-emu.c) against the
 * kernel's own: this process really traces a child, and each emulated
 * request on that child must give what the real request gives (results,
 * words, registers, siginfo, wait statuses), with the kernel's errors.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <elf.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "recorder/recorder.h"

static volatile long child_word = 0x5eed;
static volatile bool child_syscall; /* the child makes a syscall after its stop */

struct fixture {
	pid_t child;
	int child_mem, self_mem;
	int resumed_sig;
};

static int
locate(void *ctx, pid_t tid, pid_t *ret_tid, pid_t *ret_tgid, int *ret_memfd)
{
	struct fixture *f = ctx;

	if (tid != f->child)
		return -ESRCH;
	*ret_tid = *ret_tgid = tid;
	*ret_memfd = f->child_mem;
	return 0;
}

static pid_t
parent_of(void *ctx, pid_t tid)
{
	return getpid();
}

static int
resume(void *ctx, const struct rec_ptracee *pt, int sig, const siginfo_t *si)
{
	struct fixture *f = ctx;

	f->resumed_sig = sig;
	return ptrace(pt->step ? PTRACE_SINGLESTEP : PTRACE_CONT, pt->tid, 0, (void *)(long)sig) < 0
		       ? -errno
		       : 0;
}

/* A child that asks to be traced and stops itself, really traced by us. */
static void
start(struct fixture *f, int *ret_status)
{
	char path[64];

	f->child = fork();
	cr_assert_geq(f->child, 0);
	if (f->child == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		if (child_syscall)
			syscall(SYS_getppid); /* a syscall to stop at */
		_exit(child_word == 0xfeed ? 5 : 6);
	}
	cr_assert_eq(waitpid(f->child, ret_status, 0), f->child);
	snprintf(path, sizeof(path), "/proc/%d/mem", f->child);
	f->child_mem = open(path, O_RDWR | O_CLOEXEC);
	f->self_mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	cr_assert(f->child_mem >= 0 && f->self_mem >= 0);
}

static char why[160]; /* what the last request could not emulate */
static bool taken;    /* uprr sets the debug registers itself */

static int64_t
request(struct rec_ptrace_emu *e, struct fixture *f, long req, long pid, uint64_t addr,
	uint64_t data)
{
	struct rec_ptrace_ops ops = { f, locate, parent_of, resume, NULL, NULL, NULL, NULL };
	struct rec_ptrace_call c = { .ops = &ops, .tracer = getpid(), .tracer_tgid = getpid(),
				     .tracer_memfd = f->self_mem, .debugregs_taken = taken,
				     .why = why, .why_len = sizeof(why) };
	uint64_t args[6] = { (uint64_t)req, (uint64_t)pid, addr, data };

	return rec_ptrace_request(e, &c, args);
}

Test(ptrace_emu, requests_match_the_kernel)
{
	struct rec_ptrace_emu e = { 0 };
	struct fixture f = { 0 };
	struct user_regs_struct real_regs, emu_regs;
	siginfo_t real_si, emu_si;
	long word = 0, real_word;
	int status;

	start(&f, &status);
	/* a process not traced: the kernel's ESRCH */
	cr_assert_eq(request(&e, &f, PTRACE_PEEKDATA, f.child, (uint64_t)&child_word,
			     (uint64_t)&word), -ESRCH);
	/* attach (the child is ours; no SIGSTOP sent for SEIZE) */
	cr_assert_eq(request(&e, &f, PTRACE_SEIZE, f.child, 0, 0), 0);
	cr_assert_eq(request(&e, &f, PTRACE_SEIZE, f.child, 0, 0), -EPERM);
	cr_assert_eq(request(&e, &f, PTRACE_PEEKDATA, f.child, (uint64_t)&child_word,
			     (uint64_t)&word), -ESRCH, "not stopped yet");
	/* its stop, as the interception sees it */
	cr_assert(rec_ptrace_intercepts(&e, f.child, SIGSTOP));
	cr_assert_not(rec_ptrace_intercepts(&e, f.child, SIGKILL));
	cr_assert_eq(ptrace(PTRACE_GETSIGINFO, f.child, 0, &real_si), 0);
	rec_ptrace_enter_stop(&e, f.child, REC_PTRACE_SIGNAL_STOP, &real_si);
	cr_assert_eq(rec_ptrace_waitable(&e, getpid(), -1), rec_ptrace_find(&e, f.child));
	cr_assert_null(rec_ptrace_waitable(&e, getpid(), f.child + 1));
	cr_assert_eq(rec_ptrace_wait_status(rec_ptrace_find(&e, f.child)), status,
		     "wait status 0x%x, the kernel's 0x%x",
		     rec_ptrace_wait_status(rec_ptrace_find(&e, f.child)), status);
	/* reads */
	errno = 0;
	real_word = ptrace(PTRACE_PEEKDATA, f.child, &child_word, 0);
	cr_assert_eq(request(&e, &f, PTRACE_PEEKDATA, f.child, (uint64_t)&child_word,
			     (uint64_t)&word), 0);
	cr_assert_eq(word, real_word);
	cr_assert_eq(request(&e, &f, PTRACE_PEEKDATA, f.child, 8, (uint64_t)&word), -EIO);
	cr_assert_eq(ptrace(PTRACE_GETREGS, f.child, 0, &real_regs), 0);
	cr_assert_eq(request(&e, &f, PTRACE_GETREGS, f.child, 0, (uint64_t)&emu_regs), 0);
	cr_assert_arr_eq(&emu_regs, &real_regs, sizeof(real_regs));
	real_word = ptrace(PTRACE_PEEKUSER, f.child, offsetof(struct user_regs_struct, rip), 0);
	cr_assert_eq(request(&e, &f, PTRACE_PEEKUSER, f.child, offsetof(struct user_regs_struct, rip),
			     (uint64_t)&word), 0);
	cr_assert_eq(word, real_word);
	cr_assert_eq(request(&e, &f, PTRACE_PEEKUSER, f.child, 3, (uint64_t)&word), -EIO);
	cr_assert_eq(request(&e, &f, PTRACE_GETSIGINFO, f.child, 0, (uint64_t)&emu_si), 0);
	cr_assert_arr_eq(&emu_si, &real_si, sizeof(real_si));
	/* writes: the kernel sees them */
	cr_assert_eq(request(&e, &f, PTRACE_POKEDATA, f.child, (uint64_t)&child_word, 0xfeed), 0);
	cr_assert_eq(ptrace(PTRACE_PEEKDATA, f.child, &child_word, 0), 0xfeed);
	/* unsupported options are named */
	cr_assert_eq(request(&e, &f, PTRACE_SETOPTIONS, f.child, 0,
			     PTRACE_O_TRACESECCOMP | PTRACE_O_TRACESYSGOOD), -ENOTSUP);
	cr_assert_str_eq(why, "ptrace options PTRACE_O_TRACESECCOMP");
	cr_assert_eq(request(&e, &f, PTRACE_SETOPTIONS, f.child, 0, PTRACE_O_EXITKILL), 0);
	/* CONT with the stop's signal suppressed; the child sees its new word */
	cr_assert_eq(request(&e, &f, PTRACE_CONT, f.child, 0, 0), 0);
	cr_assert_eq(f.resumed_sig, 0);
	cr_assert_eq(rec_ptrace_find(&e, f.child)->stop, REC_PTRACE_RUNNING);
	cr_assert_null(rec_ptrace_waitable(&e, getpid(), -1));
	cr_assert_eq(request(&e, &f, PTRACE_CONT, f.child, 0, 0), -ESRCH, "running");
	cr_assert_eq(waitpid(f.child, &status, 0), f.child);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 5, "status 0x%x", status);
	rec_ptrace_forget(&e, f.child);
	cr_assert_null(rec_ptrace_find(&e, f.child));
	rec_ptrace_free(&e);
}

Test(ptrace_emu, traceme_and_exec_stops)
{
	struct rec_ptrace_emu e = { 0 };
	struct fixture f = { 0 };
	struct rec_ptracee pt;
	struct rec_ptrace_ops ops = { &f, locate, parent_of, resume, NULL, NULL, NULL, NULL };
	struct rec_ptrace_call c = { .ops = &ops, .tracer = 100, .tracer_tgid = 100,
				     .why = why, .why_len = sizeof(why) };
	uint64_t traceme[6] = { PTRACE_TRACEME };
	int status;
	pid_t pid;

	/* a parent uprr does not record: the kernel's answer in a tracee */
	cr_assert_eq(rec_ptrace_request(&e, &c, traceme), -EPERM);
	c.parent_tgid = 50;
	cr_assert_eq(rec_ptrace_request(&e, &c, traceme), 0);
	cr_assert_eq(rec_ptrace_request(&e, &c, traceme), -EPERM, "traced already");
	cr_assert_eq(rec_ptrace_find(&e, 100)->tracer_tgid, 50);
	/* the legacy SIGTRAP after an exec, then PTRACE_EVENT_EXEC as the
	 * kernel reports it to a tracer with PTRACE_O_TRACEEXEC */
	cr_assert(rec_ptrace_exec_stops(&e, 100));
	cr_assert_eq(rec_ptrace_wait_status(rec_ptrace_find(&e, 100)), 0x57f);
	rec_ptrace_find(&e, 100)->options = PTRACE_O_TRACEEXEC;
	pid = fork();
	if (pid == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		execl("/bin/true", "true", (char *)NULL);
		_exit(1);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert_eq(ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACEEXEC), 0);
	cr_assert_eq(ptrace(PTRACE_CONT, pid, 0, 0), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert_eq(rec_ptrace_wait_status(rec_ptrace_find(&e, 100)), status,
		     "the kernel's 0x%x", status);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	/* a seized tracee without TRACEEXEC does not stop */
	rec_ptrace_find(&e, 100)->seized = true;
	rec_ptrace_find(&e, 100)->options = 0;
	cr_assert_not(rec_ptrace_exec_stops(&e, 100));
	/* the tracer's end detaches it */
	cr_assert(rec_ptrace_tracer_gone(&e, 50, &pt));
	cr_assert_eq(pt.tid, 100);
	cr_assert_not(rec_ptrace_tracer_gone(&e, 50, &pt));
	rec_ptrace_free(&e);
}

/* GETREGSET/SETREGSET, the debug registers (a hardware watchpoint) and
 * SINGLESTEP, against the
 * kernel's own requests on the same stopped child. */
Test(ptrace_emu, regsets_debug_registers_and_steps_match_the_kernel)
{
	static uint8_t real_xs[1 << 16], emu_xs[1 << 16];
	struct rec_ptrace_emu e = { 0 };
	struct fixture f = { 0 };
	struct user_regs_struct real_regs, emu_regs;
	struct iovec real_iov = { &real_regs, sizeof(real_regs) }, emu_iov = { &emu_regs, 4096 };
	siginfo_t si;
	long word = 0;
	int status;

	start(&f, &status);
	cr_assert_eq(request(&e, &f, PTRACE_SEIZE, f.child, 0, 0), 0);
	cr_assert_eq(ptrace(PTRACE_GETSIGINFO, f.child, 0, &si), 0);
	rec_ptrace_enter_stop(&e, f.child, REC_PTRACE_SIGNAL_STOP, &si);
	/* NT_PRSTATUS: the kernel cuts the iovec to the regset's size */
	cr_assert_eq(ptrace(PTRACE_GETREGSET, f.child, NT_PRSTATUS, &real_iov), 0);
	cr_assert_eq(request(&e, &f, PTRACE_GETREGSET, f.child, NT_PRSTATUS, (uint64_t)&emu_iov), 0);
	cr_assert_eq(emu_iov.iov_len, real_iov.iov_len);
	cr_assert_arr_eq(&emu_regs, &real_regs, sizeof(real_regs));
	/* the XSAVE area, whole and cut short */
	real_iov = (struct iovec){ real_xs, sizeof(real_xs) };
	emu_iov = (struct iovec){ emu_xs, sizeof(emu_xs) };
	cr_assert_eq(ptrace(PTRACE_GETREGSET, f.child, NT_X86_XSTATE, &real_iov), 0);
	cr_assert_eq(request(&e, &f, PTRACE_GETREGSET, f.child, NT_X86_XSTATE, (uint64_t)&emu_iov), 0);
	cr_assert_eq(emu_iov.iov_len, real_iov.iov_len);
	cr_assert_arr_eq(emu_xs, real_xs, real_iov.iov_len);
	emu_iov.iov_len = 576;
	cr_assert_eq(request(&e, &f, PTRACE_GETREGSET, f.child, NT_X86_XSTATE, (uint64_t)&emu_iov), 0);
	cr_assert_eq(emu_iov.iov_len, 576);
	/* the kernel's errors: a partial XSAVE area, an unknown regset */
	cr_assert_eq(request(&e, &f, PTRACE_SETREGSET, f.child, NT_X86_XSTATE, (uint64_t)&emu_iov),
		     ptrace(PTRACE_SETREGSET, f.child, NT_X86_XSTATE, &emu_iov) < 0 ? -errno : 0);
	cr_assert_eq(request(&e, &f, PTRACE_GETREGSET, f.child, 0x7777, (uint64_t)&emu_iov), -EINVAL);
	/* SETREGSET: the kernel sees the new registers */
	emu_regs.r12 = 0x1234567;
	emu_iov = (struct iovec){ &emu_regs, sizeof(emu_regs) };
	cr_assert_eq(request(&e, &f, PTRACE_SETREGSET, f.child, NT_PRSTATUS, (uint64_t)&emu_iov), 0);
	cr_assert_eq(ptrace(PTRACE_GETREGS, f.child, 0, &real_regs), 0);
	cr_assert_eq(real_regs.r12, 0x1234567);
	/* the debug registers read as the kernel's */
	for (int i = 0; i < 8; i++) {
		uint64_t off = offsetof(struct user, u_debugreg) + i * 8;

		if (i == 4 || i == 5)
			continue; /* DR4 and DR5 do not exist: EIO */
		cr_assert_eq(request(&e, &f, PTRACE_PEEKUSER, f.child, off, (uint64_t)&word), 0);
		cr_assert_eq(word, ptrace(PTRACE_PEEKUSER, f.child, off, 0), "DR%d", i);
	}
	/* a hardware watchpoint on child_word (4 bytes written, DR7 L0) */
	cr_assert_eq(request(&e, &f, PTRACE_POKEUSER, f.child, offsetof(struct user, u_debugreg[0]),
			     (uint64_t)&child_word), 0);
	cr_assert_eq(request(&e, &f, PTRACE_POKEUSER, f.child, offsetof(struct user, u_debugreg[7]),
			     0xd0001), 0);
	cr_assert_eq(ptrace(PTRACE_PEEKUSER, f.child, offsetof(struct user, u_debugreg[0]), 0),
		     (long)&child_word);
	cr_assert_eq(ptrace(PTRACE_PEEKUSER, f.child, offsetof(struct user, u_debugreg[7]), 0) & 0xf0003,
		     0xd0001);
	cr_assert_eq(request(&e, &f, PTRACE_POKEUSER, f.child, offsetof(struct user, u_debugreg[4]), 0),
		     ptrace(PTRACE_POKEUSER, f.child, offsetof(struct user, u_debugreg[4]), 0) < 0 ? -errno : 0);
	cr_assert_eq(request(&e, &f, PTRACE_POKEUSER, f.child, offsetof(struct user, u_debugreg[7]), 0), 0);
	taken = true; /* uprr's own (replay with --ticks=pmu) */
	cr_assert_eq(request(&e, &f, PTRACE_POKEUSER, f.child, offsetof(struct user, u_debugreg[7]), 1),
		     -ENOTSUP);
	cr_assert(strstr(why, "debug register DR7"), "%s", why);
	taken = false;
	/* SINGLESTEP: one instruction, then the kernel's SIGTRAP, TRAP_TRACE */
	cr_assert_eq(request(&e, &f, PTRACE_SINGLESTEP, f.child, 0, 0), 0);
	cr_assert(rec_ptrace_find(&e, f.child)->step);
	cr_assert_eq(waitpid(f.child, &status, 0), f.child);
	cr_assert(WIFSTOPPED(status) && WSTOPSIG(status) == SIGTRAP, "status 0x%x", status);
	cr_assert_eq(ptrace(PTRACE_GETSIGINFO, f.child, 0, &si), 0);
	cr_assert_eq(si.si_code, TRAP_TRACE);
	rec_ptrace_enter_stop(&e, f.child, REC_PTRACE_SIGNAL_STOP, &si);
	cr_assert_eq(request(&e, &f, PTRACE_CONT, f.child, 0, 0), 0);
	cr_assert_not(rec_ptrace_find(&e, f.child)->step);
	cr_assert_eq(waitpid(f.child, &status, 0), f.child);
	cr_assert(WIFEXITED(status), "status 0x%x", status);
	rec_ptrace_free(&e);
}

/* What GET_SYSCALL_INFO of a stop of @f.child gives, emulated (@emu) and the
 * kernel's (@real), compared; the wait status too. */
static void
same_syscall_info(struct rec_ptrace_emu *e, struct fixture *f, int status)
{
	struct __ptrace_syscall_info real, emu;
	long real_size;

	int64_t got;

	memset(&real, 0xa5, sizeof(real));
	memset(&emu, 0xa5, sizeof(emu));
	real_size = ptrace(PTRACE_GET_SYSCALL_INFO, f->child, sizeof(real), &real);
	got = request(e, f, PTRACE_GET_SYSCALL_INFO, f->child, sizeof(emu), (uint64_t)&emu);
	cr_assert_eq(got, real_size, "size %ld, the kernel's %ld", (long)got, real_size);
	cr_assert_arr_eq(&emu, &real, (size_t)real_size, "op %d", real.op);
	cr_assert_eq(rec_ptrace_wait_status(rec_ptrace_find(e, f->child)), status,
		     "wait status 0x%x, the kernel's 0x%x",
		     rec_ptrace_wait_status(rec_ptrace_find(e, f->child)), status);
}

Test(ptrace_emu, syscall_stops_match_the_kernel)
{
	struct rec_ptrace_emu e = { 0 };
	struct fixture f = { 0 };
	siginfo_t si;
	int status;

	child_syscall = true;
	start(&f, &status);
	cr_assert_eq(ptrace(PTRACE_SETOPTIONS, f.child, 0, PTRACE_O_TRACESYSGOOD), 0);
	cr_assert_eq(request(&e, &f, PTRACE_SEIZE, f.child, 0, PTRACE_O_TRACESYSGOOD), 0);
	cr_assert_eq(ptrace(PTRACE_GETSIGINFO, f.child, 0, &si), 0);
	rec_ptrace_enter_stop(&e, f.child, REC_PTRACE_SIGNAL_STOP, &si);
	same_syscall_info(&e, &f, status); /* op none, at a signal stop */
	/* the kernel's syscall stops, which the emulation enters as recorded */
	cr_assert_eq(ptrace(PTRACE_SYSCALL, f.child, 0, 0), 0);
	rec_ptrace_find(&e, f.child)->stop = REC_PTRACE_RUNNING;
	rec_ptrace_find(&e, f.child)->syscall_stops = true;
	cr_assert_eq(waitpid(f.child, &status, 0), f.child);
	cr_assert(rec_ptrace_syscall_stops(&e, f.child, true));
	same_syscall_info(&e, &f, status);
	cr_assert_eq(ptrace(PTRACE_SYSCALL, f.child, 0, 0), 0);
	rec_ptrace_find(&e, f.child)->stop = REC_PTRACE_RUNNING;
	cr_assert_eq(waitpid(f.child, &status, 0), f.child);
	cr_assert(rec_ptrace_syscall_stops(&e, f.child, false));
	same_syscall_info(&e, &f, status);
	/* PTRACE_GETSIGINFO at a syscall stop: SIGTRAP, si_code the stop's */
	cr_assert_eq(ptrace(PTRACE_GETSIGINFO, f.child, 0, &si), 0);
	cr_assert_eq(rec_ptrace_find(&e, f.child)->si.si_signo, si.si_signo);
	cr_assert_eq(rec_ptrace_find(&e, f.child)->si.si_code, si.si_code);
	/* LISTEN and INTERRUPT want a seized tracee in PTRACE_EVENT_STOP */
	cr_assert_eq(request(&e, &f, PTRACE_LISTEN, f.child, 0, 0), -EIO);
	/* the event stops of its children */
	rec_ptrace_find(&e, f.child)->stop = REC_PTRACE_RUNNING;
	rec_ptrace_find(&e, f.child)->options = PTRACE_O_TRACEFORK;
	cr_assert_not(rec_ptrace_on_clone(&e, f.child, 12345, CLONE_VM | CLONE_VFORK | SIGCHLD),
		      "no PTRACE_O_TRACEVFORK");
	cr_assert_null(rec_ptrace_find(&e, 12345));
	cr_assert(rec_ptrace_on_clone(&e, f.child, 12345, SIGCHLD));
	cr_assert_eq(rec_ptrace_wait_status(rec_ptrace_find(&e, f.child)),
		     0x7f | ((SIGTRAP | PTRACE_EVENT_FORK << 8) << 8));
	cr_assert_eq(rec_ptrace_find(&e, f.child)->msg, 12345);
	cr_assert(rec_ptrace_find(&e, 12345)->seized);
	cr_assert_eq(rec_ptrace_wait_status(rec_ptrace_find(&e, 12345)),
		     0x7f | ((SIGTRAP | PTRACE_EVENT_STOP << 8) << 8), "seized: PTRACE_EVENT_STOP");
	/* stops are reported in the order they happened */
	cr_assert_eq(rec_ptrace_waitable(&e, getpid(), -1), rec_ptrace_find(&e, f.child));
	rec_ptrace_reported(&e, getpid(), f.child);
	cr_assert_eq(rec_ptrace_waitable(&e, getpid(), -1), rec_ptrace_find(&e, 12345));
	/* a process that is not the tracer's child: its end is the tracer's to see */
	cr_assert(rec_ptrace_gone(&e, 12345, 12345, 999, 7 << 8));
	cr_assert_eq(rec_ptrace_wait_status(rec_ptrace_find(&e, 12345)), 7 << 8);
	rec_ptrace_reported(&e, getpid(), 12345);
	cr_assert_null(rec_ptrace_find(&e, 12345), "reported: forgotten");
	cr_assert_eq(ptrace(PTRACE_CONT, f.child, 0, 0), 0);
	cr_assert_eq(waitpid(f.child, &status, 0), f.child);
	cr_assert(WIFEXITED(status));
	rec_ptrace_free(&e);
}

/* Record's answers for a seized thread that stands in a group-stop. */
static int stopped_sig_answer;

static int
stopped_sig(void *ctx, pid_t tid)
{
	(void)ctx;
	(void)tid;
	return stopped_sig_answer;
}

static int notes, notes_in_trace, kicks;

static void
note(void *ctx, const struct rec_ptracee *pt, bool to_trace)
{
	(void)ctx;
	(void)pt;
	notes++;
	notes_in_trace += to_trace;
}

static void
kick(void *ctx, const struct rec_ptracee *pt)
{
	(void)ctx;
	cr_assert(pt->interrupt);
	kicks++;
}

Test(ptrace_emu, seize_interrupt_listen)
{
	struct rec_ptrace_emu e = { 0 };
	struct fixture f = { 0 };
	struct rec_ptrace_ops ops = { &f, locate, parent_of, resume, stopped_sig, note, kick, NULL };
	struct rec_ptrace_call c = { .ops = &ops, .tracer = getpid(), .tracer_tgid = getpid(),
				     .why = why, .why_len = sizeof(why) };
	uint64_t seize[6] = { PTRACE_SEIZE, 0, 0, PTRACE_O_TRACESYSGOOD };
	uint64_t interrupt[6] = { PTRACE_INTERRUPT }, listen[6] = { PTRACE_LISTEN };
	uint64_t cont[6] = { PTRACE_CONT };
	int status;

	start(&f, &status); /* a child of ours, in a stop: locate() finds it */
	c.tracer_memfd = f.self_mem;
	seize[1] = interrupt[1] = listen[1] = cont[1] = (uint64_t)f.child;
	/* seized in a group-stop: PTRACE_EVENT_STOP of SIGSTOP at once, said
	 * in the trace (replay cannot see the group-stop) */
	stopped_sig_answer = SIGSTOP;
	cr_assert_eq(rec_ptrace_request(&e, &c, seize), 0);
	cr_assert_eq(rec_ptrace_wait_status(rec_ptrace_find(&e, f.child)),
		     0x7f | ((SIGSTOP | PTRACE_EVENT_STOP << 8) << 8));
	cr_assert_eq(notes_in_trace, 1);
	cr_assert_eq(rec_ptrace_request(&e, &c, interrupt), 0, "stopped already: nothing");
	/* LISTEN: stopped, not waitable; requests see no stopped tracee */
	cr_assert_eq(rec_ptrace_request(&e, &c, listen), 0);
	cr_assert_null(rec_ptrace_waitable(&e, getpid(), -1));
	cr_assert_eq(rec_ptrace_request(&e, &c, cont), -ESRCH);
	/* a SIGCONT that came before the LISTEN: it traps again at once */
	rec_ptrace_find(&e, f.child)->listening = false;
	rec_ptrace_set_stop(&e, f.child, REC_PTRACE_GROUP_STOP, SIGSTOP, 0, 0);
	rec_ptrace_set_stop(&e, f.child, REC_PTRACE_CONTINUED, 0, 0, 0);
	cr_assert_eq(rec_ptrace_find(&e, f.child)->stop, REC_PTRACE_GROUP_STOP, "not a stop");
	cr_assert_eq(rec_ptrace_request(&e, &c, listen), 0);
	cr_assert_eq(rec_ptrace_wait_status(rec_ptrace_find(&e, f.child)),
		     0x7f | ((SIGTRAP | PTRACE_EVENT_STOP << 8) << 8));
	cr_assert_not(rec_ptrace_find(&e, f.child)->listening);
	/* CONT from a group-stop the thread still stands in: refused by name */
	stopped_sig_answer = SIGSTOP;
	cr_assert_eq(rec_ptrace_request(&e, &c, cont), -ENOTSUP);
	cr_assert_str_eq(why, "ptrace PTRACE_CONT of a thread in a group-stop");
	stopped_sig_answer = SIGTRAP; /* held at an event */
	cr_assert_eq(rec_ptrace_request(&e, &c, cont), 0);
	cr_assert_eq(rec_ptrace_find(&e, f.child)->stop, REC_PTRACE_RUNNING);
	/* INTERRUPT of one that runs: it traps at its next event */
	stopped_sig_answer = 0;
	cr_assert_eq(rec_ptrace_request(&e, &c, interrupt), 0);
	cr_assert_eq(kicks, 1);
	cr_assert_eq(rec_ptrace_find(&e, f.child)->stop, REC_PTRACE_RUNNING);
	cr_assert(rec_ptrace_interrupt_due(&e, f.child));
	cr_assert_not(rec_ptrace_interrupt_due(&e, f.child), "once");
	cr_assert_eq(rec_ptrace_wait_status(rec_ptrace_find(&e, f.child)),
		     0x7f | ((SIGTRAP | PTRACE_EVENT_STOP << 8) << 8));
	/* INTERRUPT and LISTEN want a seized tracee */
	rec_ptrace_find(&e, f.child)->seized = false;
	cr_assert_eq(rec_ptrace_request(&e, &c, interrupt), -EIO);
	cr_assert_eq(rec_ptrace_request(&e, &c, listen), -EIO);
	kill(f.child, SIGKILL);
	waitpid(f.child, &status, 0);
	rec_ptrace_free(&e);
}
