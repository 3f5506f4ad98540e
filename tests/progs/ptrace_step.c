/* SPDX-License-Identifier: MIT */
/*
 * A small debugger, doing what gdb does to run a program to a breakpoint and
 * step it: the child asks to be traced (PTRACE_TRACEME) and stops itself;
 * the parent plants int3 breakpoints (one with PTRACE_POKETEXT, one with a
 * pwrite to /proc/PID/task/TID/mem, as gdb does), continues to them (SIGTRAP,
 * SI_KERNEL), puts the original bytes back and rewinds rip, single-steps
 * (PTRACE_SINGLESTEP: SIGTRAP, TRAP_TRACE, DR6's single-step bit), reads
 * and changes registers through PTRACE_GETREGSET/SETREGSET (NT_PRSTATUS,
 * NT_PRFPREG, NT_X86_XSTATE), steps into a signal handler (SINGLESTEP
 * delivering SIGUSR1), steps over two syscall instructions (one
 * uprr's seccomp filter traces, one it does not), sets a hardware
 * watchpoint (POKEUSER of DR0 and DR7) and lets the child run to its end.
 *   ptrace_step            prints what it saw, the same in every run but
 *                          for a value chosen at random and the child's
 *                          result computed from it
 * Exits 0 when every observation was as expected, 1 otherwise.
 */
#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>

#include "tracer.h"

#define STEPS 12

static volatile sig_atomic_t usr1_seen;
static volatile int watched;

static void
on_usr1(int sig)
{
	usr1_seen = sig;
}

/* The functions the parent breaks in, out of line so their addresses hold. */
__attribute__((noinline)) static long
mix(long x)
{
	long acc = x;

	for (int i = 0; i < 5; i++)
		acc = acc * 3 + i;
	return acc;
}

__attribute__((noinline)) static long
target(long x)
{
	return mix(x) + 1;
}

/* Two syscall instructions to step over: getpid, which uprr records, and
 * arch_prctl(ARCH_GET_FS), which it leaves unrecorded. A step over one
 * stops as the syscall returns: SIGTRAP, TRAP_BRKPT
 * (user_single_step_report()). Returns what getpid returned. */
__asm__(".text\n"
	".type step_syscalls, @function\n"
	"step_syscalls:\n"
	"\tmov $39, %eax\n"
	"\tsyscall\n"
	"\tmov %rax, %r8\n"
	"\tsub $8, %rsp\n"
	"\tmov %rsp, %rsi\n"
	"\tmov $0x1003, %edi\n"
	"\tmov $158, %eax\n"
	"\tsyscall\n"
	"\tadd $8, %rsp\n"
	"\tmov %r8, %rax\n"
	"\tret\n"
	".size step_syscalls, . - step_syscalls\n");
long step_syscalls(void);

static const char *
trap_code(int code)
{
	switch (code) {
	case SI_KERNEL: return "SI_KERNEL";
	case TRAP_BRKPT: return "TRAP_BRKPT";
	case TRAP_TRACE: return "TRAP_TRACE";
	default: return "other";
	}
}

/* Wait for @pid's next stop; say which signal and si_code. Returns the
 * signal, 0 if it did not stop. */
static int
next_stop(pid_t pid, siginfo_t *si)
{
	int status;

	if (wait_child(pid, &status) != pid || !WIFSTOPPED(status))
		return 0;
	memset(si, 0, sizeof(*si));
	if (ptrace(PTRACE_GETSIGINFO, pid, 0, si) < 0)
		return 0;
	return WSTOPSIG(status);
}

static void
child(long x)
{
	long r;

	struct sigaction sa = { .sa_handler = on_usr1 };

	sigaction(SIGUSR1, &sa, NULL);
	if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0)
		_exit(2);
	raise(SIGSTOP);
	raise(SIGUSR1);
	if (usr1_seen != SIGUSR1)
		say("child: the handler did not run\n");
	r = target(x);
	say("child: target(%ld) = %ld\n", x, r);
	r = mix(x + 1);
	say("child: mix(%ld) = %ld\n", x + 1, r);
	if (step_syscalls() != getpid())
		say("child: the stepped getpid returned another id\n");
	watched = (int)x;
	_exit(0);
}

/* Plant an int3 at @addr with POKETEXT; returns the original word. */
static long
poke_break(pid_t pid, uint64_t addr)
{
	long word;

	errno = 0;
	word = ptrace(PTRACE_PEEKTEXT, pid, addr, 0);
	expect(errno == 0, "PEEKTEXT reads the code");
	expect(ptrace(PTRACE_POKETEXT, pid, addr, (word & ~0xffl) | 0xcc) == 0, "POKETEXT plants int3");
	return word;
}

/* At a breakpoint's SIGTRAP: rip is past the int3; rewind it. */
static void
rewind_break(pid_t pid, uint64_t addr)
{
	struct user_regs_struct regs;

	expect(ptrace(PTRACE_GETREGS, pid, 0, &regs) == 0, "GETREGS at the breakpoint");
	expect(regs.rip == addr + 1, "rip is just past the int3");
	regs.rip = addr;
	expect(ptrace(PTRACE_SETREGS, pid, 0, &regs) == 0, "SETREGS rewinds rip");
}

static void
check_regsets(pid_t pid, long x)
{
	struct user_regs_struct regs, set;
	struct user_fpregs_struct fp;
	struct iovec iov = { &set, sizeof(set) };
	static uint8_t xstate[1 << 16];
	uint64_t bv;

	expect(ptrace(PTRACE_GETREGS, pid, 0, &regs) == 0, "GETREGS");
	expect(ptrace(PTRACE_GETREGSET, pid, NT_PRSTATUS, &iov) == 0, "GETREGSET NT_PRSTATUS");
	expect(iov.iov_len == sizeof(set) && memcmp(&regs, &set, sizeof(set)) == 0,
	       "NT_PRSTATUS holds the registers GETREGS gives");
	expect(set.rdi == (uint64_t)x, "the first argument is in rdi");
	/* the child computes with another argument */
	set.rdi = (uint64_t)x * 2;
	iov.iov_len = sizeof(set);
	expect(ptrace(PTRACE_SETREGSET, pid, NT_PRSTATUS, &iov) == 0, "SETREGSET NT_PRSTATUS");
	iov = (struct iovec){ &fp, sizeof(fp) };
	expect(ptrace(PTRACE_GETREGSET, pid, NT_PRFPREG, &iov) == 0 && iov.iov_len == sizeof(fp),
	       "GETREGSET NT_PRFPREG");
	say("mxcsr 0x%x\n", fp.mxcsr & 0xffc0); /* the exception flags aside */
	iov = (struct iovec){ xstate, sizeof(xstate) };
	expect(ptrace(PTRACE_GETREGSET, pid, NT_X86_XSTATE, &iov) == 0 && iov.iov_len >= 576,
	       "GETREGSET NT_X86_XSTATE");
	memcpy(&bv, xstate + 464, sizeof(bv)); /* sw_reserved: XCR0 (the XSAVE features) */
	expect((bv & 3) == 3, "XCR0 has x87 and SSE");
	expect(memcmp(xstate, &fp, 160) == 0, "the XSAVE area begins with the FXSAVE area");
	/* gdb's first look (x86_linux_nat_target::read_description) */
	iov = (struct iovec){ xstate, 576 };
	expect(ptrace(PTRACE_GETREGSET, pid, NT_X86_XSTATE, &iov) == 0 && iov.iov_len == 576,
	       "GETREGSET NT_X86_XSTATE of 576 bytes");
	errno = 0;
	say("SETREGSET NT_X86_XSTATE of 576 bytes: %s\n",
	    ptrace(PTRACE_SETREGSET, pid, NT_X86_XSTATE, &iov) == 0 ? "done" : strerror(errno));
	iov = (struct iovec){ xstate, sizeof(xstate) };
	expect(ptrace(PTRACE_GETREGSET, pid, NT_X86_XSTATE, &iov) == 0, "GETREGSET NT_X86_XSTATE");
	expect(ptrace(PTRACE_SETREGSET, pid, NT_X86_XSTATE, &iov) == 0, "SETREGSET NT_X86_XSTATE");
}

/* Single-step @pid from @from, saying where each step lands relative to
 * @base, until it leaves [base, base + 4096) or after STEPS steps. */
static void
step_some(pid_t pid, uint64_t base, int steps)
{
	struct user_regs_struct regs;
	siginfo_t si;
	long dr6;

	for (int i = 0; i < steps; i++) {
		if (ptrace(PTRACE_SINGLESTEP, pid, 0, 0) < 0) {
			expect(0, "SINGLESTEP");
			return;
		}
		if (next_stop(pid, &si) != SIGTRAP) {
			expect(0, "a step stops with SIGTRAP");
			return;
		}
		ptrace(PTRACE_GETREGS, pid, 0, &regs);
		errno = 0;
		dr6 = ptrace(PTRACE_PEEKUSER, pid, offsetof(struct user, u_debugreg[6]), 0);
		say("step %d: %s, at %s%+lld, DR6.BS %d\n", i, trap_code(si.si_code),
		    base == (uint64_t)(uintptr_t)step_syscalls ? "step_syscalls"
		    : base == (uint64_t)(uintptr_t)on_usr1	 ? "on_usr1"
							 : "target",
		    (long long)(regs.rip - base), errno ? -1 : !!(dr6 & 0x4000));
		if ((si.si_code != TRAP_TRACE && si.si_code != TRAP_BRKPT) ||
		    (uint64_t)si.si_addr != regs.rip)
			expect(0, "a step's siginfo is TRAP_TRACE or TRAP_BRKPT at the new rip");
		if (regs.rip == base + 7)
			expect(regs.rax == (uint64_t)pid, "the stepped getpid returned the child's id");
	}
}

int
main(void)
{
	uint64_t at_target = (uint64_t)(uintptr_t)target, at_mix = (uint64_t)(uintptr_t)mix;
	uint64_t at_sys = (uint64_t)(uintptr_t)step_syscalls;
	long x = (long)(random_seed() % 1000), word;
	char path[64];
	siginfo_t si;
	struct user_regs_struct regs;
	uint8_t orig, cc = 0xcc;
	int status, fd;
	pid_t pid;

	say("x is random this run\n");
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0)
		child(x);
	expect(next_stop(pid, &si) == SIGSTOP, "the child stopped itself");

	/* a breakpoint through POKETEXT */
	word = poke_break(pid, at_target);
	/* a step that delivers a signal stops at its handler's first
	 * instruction (signal_delivered(): ptrace_notify(SIGTRAP)) */
	expect(ptrace(PTRACE_CONT, pid, 0, 0) == 0, "CONT to SIGUSR1");
	expect(next_stop(pid, &si) == SIGUSR1, "SIGUSR1 stops it");
	expect(ptrace(PTRACE_SINGLESTEP, pid, 0, SIGUSR1) == 0, "SINGLESTEP delivering SIGUSR1");
	expect(next_stop(pid, &si) == SIGTRAP, "the step stops with SIGTRAP");
	ptrace(PTRACE_GETREGS, pid, 0, &regs);
	say("into the handler: si_code %d, si_pid is the child %d, at the handler's entry %d\n",
	    si.si_code, si.si_pid == pid, regs.rip == (uint64_t)(uintptr_t)on_usr1);
	step_some(pid, (uint64_t)(uintptr_t)on_usr1, 1);

	expect(ptrace(PTRACE_CONT, pid, 0, 0) == 0, "CONT to the breakpoint");
	expect(next_stop(pid, &si) == SIGTRAP && si.si_code == SI_KERNEL,
	       "the breakpoint stops it: SIGTRAP, SI_KERNEL");
	rewind_break(pid, at_target);
	expect(ptrace(PTRACE_POKETEXT, pid, at_target, word) == 0, "POKETEXT restores the code");
	check_regsets(pid, x);
	step_some(pid, at_target, STEPS);

	/* one through /proc/PID/task/TID/mem, as gdb plants them: the second
	 * call of mix() stops there (the steps may have entered the first) */
	snprintf(path, sizeof(path), "/proc/%d/task/%d/mem", pid, pid);
	fd = open(path, O_RDWR | O_CLOEXEC);
	expect(fd >= 0, "/proc/PID/task/TID/mem opens");
	expect(pread(fd, &orig, 1, (off_t)at_mix) == 1, "pread of /proc/PID/mem");
	expect(pwrite(fd, &cc, 1, (off_t)at_mix) == 1, "pwrite of int3 to /proc/PID/mem");
	expect(ptrace(PTRACE_CONT, pid, 0, 0) == 0, "CONT to the second breakpoint");
	expect(next_stop(pid, &si) == SIGTRAP && si.si_code == SI_KERNEL,
	       "the second breakpoint stops it");
	rewind_break(pid, at_mix);
	expect(pwrite(fd, &orig, 1, (off_t)at_mix) == 1, "pwrite restores the code");
	close(fd);
	step_some(pid, at_target, STEPS);

	/* over syscall instructions */
	word = poke_break(pid, at_sys);
	expect(ptrace(PTRACE_CONT, pid, 0, 0) == 0, "CONT to the third breakpoint");
	expect(next_stop(pid, &si) == SIGTRAP && si.si_code == SI_KERNEL,
	       "the third breakpoint stops it");
	rewind_break(pid, at_sys);
	expect(ptrace(PTRACE_POKETEXT, pid, at_sys, word) == 0, "POKETEXT restores the code");
	step_some(pid, at_sys, 11);

	/* a hardware watchpoint, as gdb's `watch`: DR0 the address, DR7 a
	 * 4-byte write watch in slot 0; the write traps after it
	 * (SIGTRAP, TRAP_HWBKPT) and DR6 says which slot */
	expect(ptrace(PTRACE_POKEUSER, pid, offsetof(struct user, u_debugreg[0]), &watched) == 0,
	       "POKEUSER DR0");
	expect(ptrace(PTRACE_POKEUSER, pid, offsetof(struct user, u_debugreg[7]), 0xd0001) == 0,
	       "POKEUSER DR7");
	expect(ptrace(PTRACE_CONT, pid, 0, 0) == 0, "CONT to the watchpoint");
	expect(next_stop(pid, &si) == SIGTRAP, "the watchpoint stops it");
	errno = 0;
	word = ptrace(PTRACE_PEEKUSER, pid, offsetof(struct user, u_debugreg[6]), 0);
	say("watchpoint: si_code %d (TRAP_HWBKPT %d), DR6 slot 0 %d\n", si.si_code, TRAP_HWBKPT,
	    errno == 0 && (word & 1));
	errno = 0;
	word = ptrace(PTRACE_PEEKDATA, pid, &watched, 0);
	expect(errno == 0 && (int)word == (int)x, "the watched variable holds x");
	expect(ptrace(PTRACE_POKEUSER, pid, offsetof(struct user, u_debugreg[7]), 0) == 0,
	       "POKEUSER DR7 clears it");

	expect(ptrace(PTRACE_CONT, pid, 0, 0) == 0, "CONT to the end");
	expect(wait_child(pid, &status) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "the child exits 0");
	say("%d failures\n", failures);
	return failures ? 1 : 0;
}
