/* SPDX-License-Identifier: MIT */
/*
 *   ptrace_sigreturn phases   a tracer that wants syscall stops only for
 * a while (PTRACE_CONT, then PTRACE_SYSCALL, then PTRACE_CONT again), of a
 * child that handles signals in every phase, in its threads and in a child
 * of its own. Natively the
 * handler's rt_sigreturn (and arch_prctl) stop only in the middle phase, and
 * only in the traced thread. Under uprr those syscalls pass its base filter;
 * the first PTRACE_SYSCALL stacks a second filter on the whole process,
 * which its other threads (one created before, one after) and its untraced
 * child inherit: none of them may see a difference, and PR_GET_SECCOMP must
 * still read 0 everywhere (no filter of the program's own).
 *
 *   ptrace_sigreturn suspend   the first PTRACE_SYSCALL comes at the
 *                              stop of a signal that interrupted
 *                              sigsuspend(2), and delivers it: its handler
 *                              runs under the wait's mask, as natively
 *   ptrace_sigreturn suspend-quiet   the same with a handler that makes no
 *                              syscall: its rt_sigreturn stops
 *
 * Prints the tracer's stops (the signal stops; the syscall stops of
 * rt_sigreturn, arch_prctl, prctl and getppid), then what the child saw.
 * Exits 0 when every observation was as expected, 1 otherwise.
 */
#include <asm/prctl.h>
#include <linux/audit.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "tracer.h"

static volatile sig_atomic_t g_usr1, g_usr2, g_usr2_blocked = -1;
static bool g_quiet; /* the handler makes no syscall */
static int g_go[2], g_done[2];

static void
on_usr1(int sig)
{
	sigset_t now;

	(void)sig;
	g_usr1++;
	if (!g_quiet && sigprocmask(SIG_BLOCK, NULL, &now) == 0)
		g_usr2_blocked = sigismember(&now, SIGUSR2);
}

static void
on_usr2(int sig)
{
	(void)sig;
	g_usr2++;
}

/* A thread of the traced child (not traced: no PTRACE_O_TRACECLONE): waits
 * for a byte, reads PR_GET_SECCOMP, handles SIGUSR2, and says so. */
static void *
helper(void *arg)
{
	const char *name = arg;
	char c;
	long mode;

	if (read(g_go[0], &c, 1) != 1)
		return NULL;
	mode = syscall(SYS_prctl, PR_GET_SECCOMP, 0, 0, 0, 0);
	raise(SIGUSR2);
	say("child: thread %s: PR_GET_SECCOMP %ld\n", name, mode);
	if (write(g_done[1], "d", 1) != 1)
		return NULL;
	return NULL;
}

/* Let helper @th go, and wait until it is done. */
static void
run_helper(pthread_t th)
{
	char c;

	if (write(g_go[1], "g", 1) != 1 || read(g_done[0], &c, 1) != 1 || pthread_join(th, NULL) != 0)
		_exit(22);
}

static int
child(void)
{
	unsigned long fs = 0;
	long mode, status;
	pthread_t before, after;
	pid_t pid;
	int st;

	if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0)
		_exit(20);
	signal(SIGUSR1, on_usr1);
	signal(SIGUSR2, on_usr2);
	if (pipe(g_go) < 0 || pipe(g_done) < 0 || pthread_create(&before, NULL, helper, "before") != 0)
		_exit(21);
	/* phase 1: the tracer resumes with PTRACE_CONT */
	raise(SIGSTOP);
	raise(SIGUSR1);
	/* phase 2: with PTRACE_SYSCALL from this signal's stop on, which it
	 * delivers: the handler's rt_sigreturn stops */
	raise(SIGUSR1);
	mode = syscall(SYS_prctl, PR_GET_SECCOMP, 0, 0, 0, 0);
	syscall(SYS_arch_prctl, ARCH_GET_FS, &fs);
	run_helper(before);
	if (pthread_create(&after, NULL, helper, "after") != 0)
		_exit(21);
	run_helper(after);
	pid = fork();
	if (pid == 0) {
		/* untraced (no PTRACE_O_TRACEFORK) */
		long m = syscall(SYS_prctl, PR_GET_SECCOMP, 0, 0, 0, 0);

		raise(SIGUSR1);
		say("child: its child: PR_GET_SECCOMP %ld, SIGUSR1 handled %d\n", m, (int)g_usr1);
		_exit(0);
	}
	status = pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	/* phase 3: the tracer goes back to PTRACE_CONT at this one's exit */
	syscall(SYS_getppid);
	raise(SIGUSR1);
	say("child: PR_GET_SECCOMP %ld, its child's status %ld, SIGUSR1 handled %d, "
	    "SIGUSR2 handled %d\n", mode, status, (int)g_usr1, (int)g_usr2);
	_exit(mode == 0 && status == 0 && g_usr1 == 3 && g_usr2 == 2 ? 0 : 23);
}

/* Mode suspend: SIGUSR1 and SIGUSR2 blocked, a wait in sigsuspend(2) with
 * none blocked, which SIGUSR1 from the tracer ends. */
static int
child_suspend(void)
{
	sigset_t both, none;
	int r;

	if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0)
		_exit(20);
	signal(SIGUSR1, on_usr1);
	sigemptyset(&none);
	sigemptyset(&both);
	sigaddset(&both, SIGUSR1);
	sigaddset(&both, SIGUSR2);
	sigprocmask(SIG_BLOCK, &both, NULL);
	raise(SIGSTOP);
	r = sigsuspend(&none);
	say("child: sigsuspend returned %d (%s), SIGUSR1 handled %d, SIGUSR2 blocked in the "
	    "handler %d\n", r, r < 0 ? strerror(errno) : "-", (int)g_usr1, (int)g_usr2_blocked);
	_exit(g_usr1 == 1 && g_usr2_blocked == (g_quiet ? -1 : 0) ? 0 : 23);
}

/* The syscalls whose stops are printed. */
static const char *
shown(unsigned long long nr)
{
	switch (nr) {
	case SYS_rt_sigreturn: return "rt_sigreturn";
	case SYS_arch_prctl: return "arch_prctl";
	case SYS_prctl: return "prctl";
	case SYS_getppid: return "getppid";
	default: return NULL;
	}
}

int
main(int argc, char **argv)
{
	bool suspend = argc > 1 && strncmp(argv[1], "suspend", 7) == 0;
	struct __ptrace_syscall_info info;
	unsigned long long nr = 0;
	int status, sig = 0, usr1 = 0, sigreturns = 0, stray = 0;

	g_quiet = argc > 1 && strcmp(argv[1], "suspend-quiet") == 0;
	long how = PTRACE_CONT;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0)
		return suspend ? child_suspend() : child();
	expect(wait_child(pid, &status) == pid && WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP,
	       "the child stopped itself");
	say("signal stop: %s\n", strsignal(SIGSTOP));
	expect(ptrace(PTRACE_SETOPTIONS, pid, 0, (void *)PTRACE_O_TRACESYSGOOD) == 0,
	       "SETOPTIONS TRACESYSGOOD");
	if (suspend) {
		/* pending before or during its wait: either way it ends it */
		expect(kill(pid, SIGUSR1) == 0, "SIGUSR1 sent");
		usr1 = 1;
	}
	for (;;) {
		if (ptrace(how, pid, 0, (void *)(long)sig) < 0)
			die("ptrace resume: %s", strerror(errno));
		sig = 0;
		if (wait_child(pid, &status) != pid)
			die("waitpid: %s", strerror(errno));
		if (WIFEXITED(status) || WIFSIGNALED(status))
			break;
		if (WSTOPSIG(status) != (SIGTRAP | 0x80)) {
			say("signal stop: %s\n", strsignal(WSTOPSIG(status)));
			if (WSTOPSIG(status) != SIGSTOP)
				sig = WSTOPSIG(status);
			if (sig == SIGUSR1 && ++usr1 == 2)
				how = PTRACE_SYSCALL;
			continue;
		}
		if (how != PTRACE_SYSCALL)
			stray++;
		memset(&info, 0, sizeof(info));
		if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void *)sizeof(info), &info) <= 0)
			die("PTRACE_GET_SYSCALL_INFO: %s", strerror(errno));
		if (info.op == PTRACE_SYSCALL_INFO_ENTRY) {
			nr = info.entry.nr;
			sigreturns += nr == SYS_rt_sigreturn;
			if (shown(nr))
				say("entry %s\n", shown(nr));
		} else if (info.op == PTRACE_SYSCALL_INFO_EXIT && shown(nr)) {
			say("exit %s: %s\n", shown(nr), info.exit.is_error ? "error" : "ok");
			if (nr == SYS_getppid)
				how = PTRACE_CONT;
		}
	}
	expect(stray == 0, "syscall stops only while resumed with PTRACE_SYSCALL");
	expect(sigreturns == 1, "one rt_sigreturn stop: the handler's of the middle phase");
	expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child saw what it does natively");
	say("child: %s %d\n", WIFEXITED(status) ? "exited" : "killed by",
	    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return failures ? 1 : 0;
}
