/* SPDX-License-Identifier: MIT */
/*
 * A small debugger and crash reporter: ptraces its own child and prints
 * what it sees, the same in every run (under uprr, ptrace between recorded
 * processes is emulated; natively it is the kernel's):
 *   ptrace_child crash     the child asks to be traced (PTRACE_TRACEME) and
 *                          stops itself: the parent reads and changes its
 *                          memory (PEEKDATA, POKEDATA), reads its registers;
 *                          then the child crashes: the parent reads the fault
 *                          (GETSIGINFO, GETREGS, PEEKTEXT at rip) and lets
 *                          the SIGSEGV kill it
 *   ptrace_child exec      a traced child execs: it stops with SIGTRAP
 *                          after the exec, then runs on and exits 7
 *   ptrace_child attach    the parent attaches to a running child (ATTACH:
 *                          SIGSTOP), peeks, changes a register, detaches;
 *                          then seizes it (SEIZE), sees its SIGUSR1 stop,
 *                          suppresses one signal, passes the next on
 *   ptrace_child sigchld   a tracer that sleeps in sigsuspend until SIGCHLD
 *                          tells it its tracee stopped (CLD_TRAPPED), then
 *                          reaps the stop with waitpid(WNOHANG), as gdb does
 * Exits 0 when every observation was as expected, 1 otherwise.
 */
#include <signal.h>
#include <stddef.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>

#include "tracer.h"

static volatile long secret = 0x1234, seen;
static int *volatile bad_address = (int *)8;
static volatile sig_atomic_t usr1_count;

static void
describe(int status)
{
	if (WIFSTOPPED(status))
		say("status: stopped by %s (event %d)\n", strsignal(WSTOPSIG(status) & 0x7f),
		    status >> 16);
	else if (WIFSIGNALED(status))
		say("status: killed by %s\n", strsignal(WTERMSIG(status)));
	else if (WIFEXITED(status))
		say("status: exited %d\n", WEXITSTATUS(status));
}

static int
crash(void)
{
	struct user_regs_struct regs;
	siginfo_t si;
	pid_t pid = fork();
	long word;
	int status;

	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0)
			_exit(20);
		raise(SIGSTOP);
		seen = secret;
		*bad_address = 1;
		_exit(21);
	}
	wait_child(pid, &status);
	describe(status);
	expect(WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP, "the child stopped itself");
	errno = 0;
	word = ptrace(PTRACE_PEEKDATA, pid, &secret, 0);
	expect(errno == 0 && word == 0x1234, "PEEKDATA read the child's secret");
	expect(ptrace(PTRACE_POKEDATA, pid, &secret, (void *)0xbeefL) == 0, "POKEDATA");
	expect(ptrace(PTRACE_GETREGS, pid, 0, &regs) == 0, "GETREGS");
	say("parent: the child stopped in syscall %lld\n", regs.orig_rax);
	expect(ptrace(PTRACE_GETSIGINFO, pid, 0, &si) == 0 && si.si_signo == SIGSTOP &&
		       si.si_code == SI_TKILL,
	       "GETSIGINFO: SIGSTOP from tgkill");
	expect(ptrace(PTRACE_PEEKDATA, pid + 1000000, &secret, 0) == -1 && errno == ESRCH,
	       "PEEKDATA of no tracee: ESRCH");
	expect(ptrace(PTRACE_CONT, pid, 0, 0) == 0, "CONT");
	wait_child(pid, &status);
	describe(status);
	expect(WIFSTOPPED(status) && WSTOPSIG(status) == SIGSEGV, "the child crashed");
	expect(ptrace(PTRACE_GETSIGINFO, pid, 0, &si) == 0 && si.si_signo == SIGSEGV &&
		       si.si_addr == (void *)8 && si.si_code == SEGV_MAPERR,
	       "GETSIGINFO: SIGSEGV at address 8");
	errno = 0;
	word = ptrace(PTRACE_PEEKDATA, pid, &seen, 0);
	expect(errno == 0 && word == 0xbeef, "the child saw the secret the parent wrote");
	expect(ptrace(PTRACE_GETREGS, pid, 0, &regs) == 0, "GETREGS at the crash");
	errno = 0;
	word = ptrace(PTRACE_PEEKTEXT, pid, (void *)regs.rip, 0);
	say("parent: the crash is at an instruction starting 0x%02lx\n", word & 0xff);
	errno = 0;
	word = ptrace(PTRACE_PEEKUSER, pid, (void *)offsetof(struct user_regs_struct, rip), 0);
	expect(errno == 0 && (unsigned long long)word == regs.rip, "PEEKUSER rip");
	expect(ptrace(PTRACE_CONT, pid, 0, (void *)SIGSEGV) == 0, "CONT with SIGSEGV");
	wait_child(pid, &status);
	describe(status);
	expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, "the child died of it");
	return failures ? 1 : 0;
}

static int
exec(const char *self)
{
	siginfo_t si;
	pid_t pid = fork();
	int status;

	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0)
			_exit(20);
		execl(self, self, "exec-child", (char *)NULL);
		_exit(21);
	}
	wait_child(pid, &status);
	describe(status);
	expect(WIFSTOPPED(status) && WSTOPSIG(status) == SIGTRAP, "stopped after its exec");
	expect(ptrace(PTRACE_GETSIGINFO, pid, 0, &si) == 0 && si.si_signo == SIGTRAP &&
		       si.si_code == SI_USER,
	       "GETSIGINFO: the exec's SIGTRAP");
	expect(ptrace(PTRACE_CONT, pid, 0, 0) == 0, "CONT");
	wait_child(pid, &status);
	describe(status);
	expect(WIFEXITED(status) && WEXITSTATUS(status) == 7, "the exec'd child exited 7");
	return failures ? 1 : 0;
}

static void
on_usr1(int sig)
{
	(void)sig;
	usr1_count++;
}

static int
attach(void)
{
	struct user_regs_struct regs;
	int fds[2], status;
	pid_t pid;
	char c;

	if (pipe(fds) < 0)
		die("pipe: %s", strerror(errno));
	signal(SIGUSR1, on_usr1);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		sigset_t none, usr1;

		/* SIGUSR1 only inside sigsuspend: none lands between the test
		 * of the count and the wait */
		sigemptyset(&none);
		sigemptyset(&usr1);
		sigaddset(&usr1, SIGUSR1);
		sigprocmask(SIG_BLOCK, &usr1, NULL);
		close(fds[0]);
		if (write(fds[1], "r", 1) != 1)
			_exit(20);
		while (usr1_count < 2)
			sigsuspend(&none);
		_exit(usr1_count == 2 ? 3 : 4);
	}
	close(fds[1]);
	if (read(fds[0], &c, 1) != 1)
		die("the child did not start");
	expect(ptrace(PTRACE_ATTACH, pid, 0, 0) == 0, "ATTACH");
	wait_child(pid, &status);
	describe(status);
	expect(WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP, "the child stopped (SIGSTOP)");
	expect(ptrace(PTRACE_ATTACH, pid, 0, 0) == -1 && errno == EPERM, "ATTACH again: EPERM");
	expect(ptrace(PTRACE_GETREGS, pid, 0, &regs) == 0, "GETREGS");
	regs.r15 = 42;
	expect(ptrace(PTRACE_SETREGS, pid, 0, &regs) == 0, "SETREGS");
	expect(ptrace(PTRACE_PEEKUSER, pid, (void *)offsetof(struct user_regs_struct, r15), 0) == 42,
	       "PEEKUSER sees the register it set");
	expect(ptrace(PTRACE_DETACH, pid, 0, 0) == 0, "DETACH");
	expect(ptrace(PTRACE_SEIZE, pid, 0, (void *)PTRACE_O_EXITKILL) == 0, "SEIZE");
	kill(pid, SIGUSR1);
	wait_child(pid, &status);
	describe(status);
	expect(WIFSTOPPED(status) && WSTOPSIG(status) == SIGUSR1, "a SIGUSR1 stop");
	expect(ptrace(PTRACE_CONT, pid, 0, 0) == 0, "CONT, suppressing it");
	kill(pid, SIGUSR1);
	wait_child(pid, &status);
	describe(status);
	expect(ptrace(PTRACE_CONT, pid, 0, (void *)SIGUSR1) == 0, "CONT, passing it on");
	kill(pid, SIGUSR1);
	wait_child(pid, &status);
	describe(status);
	expect(ptrace(PTRACE_CONT, pid, 0, (void *)SIGUSR1) == 0, "CONT, passing it on");
	wait_child(pid, &status);
	describe(status);
	expect(WIFEXITED(status) && WEXITSTATUS(status) == 3, "the child handled two and exited 3");
	return failures ? 1 : 0;
}

static volatile sig_atomic_t chld_code, chld_status, chld_count;

static void
on_chld(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	(void)ctx;
	chld_code = si->si_code;
	chld_status = si->si_status;
	chld_count++;
}

static int
sigchld(void)
{
	struct sigaction sa = { .sa_sigaction = on_chld, .sa_flags = SA_SIGINFO };
	sigset_t chld, none;
	int status;
	pid_t pid;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&none);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0)
			_exit(20);
		raise(SIGSTOP);
		_exit(9);
	}
	while (chld_count == 0)
		sigsuspend(&none);
	say("SIGCHLD: %s, status %s\n", chld_code == CLD_TRAPPED ? "CLD_TRAPPED" : "another code",
	    strsignal(chld_status));
	expect(waitpid(pid, &status, WNOHANG) == pid, "waitpid(WNOHANG) reaps the stop");
	describe(status);
	expect(waitpid(pid, &status, WNOHANG) == 0, "nothing more to reap");
	chld_count = 0;
	expect(ptrace(PTRACE_CONT, pid, 0, 0) == 0, "CONT");
	while (chld_count == 0)
		sigsuspend(&none);
	say("SIGCHLD: %s\n", chld_code == CLD_EXITED ? "CLD_EXITED" : "another code");
	wait_child(pid, &status);
	describe(status);
	expect(WIFEXITED(status) && WEXITSTATUS(status) == 9, "the child exited 9");
	return failures ? 1 : 0;
}

int
main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "exec-child") == 0)
		return 7;
	if (argc == 2 && strcmp(argv[1], "crash") == 0)
		return crash();
	if (argc == 2 && strcmp(argv[1], "exec") == 0)
		return exec(argv[0]);
	if (argc == 2 && strcmp(argv[1], "attach") == 0)
		return attach();
	if (argc == 2 && strcmp(argv[1], "sigchld") == 0)
		return sigchld();
	die("usage: ptrace_child crash|exec|attach|sigchld");
}
