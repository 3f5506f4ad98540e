/* SPDX-License-Identifier: MIT */
/*
 * A tracer of its child's syscalls, as strace does (PTRACE_SYSCALL,
 * PTRACE_O_TRACESYSGOOD, PTRACE_GET_SYSCALL_INFO, PTRACE_O_TRACEEXEC):
 * prints the stops of a few syscalls whose arguments and results do not
 * change from run to run, the same in every run (under uprr, ptrace between
 * recorded processes is emulated):
 *   ptrace_syscall         the child calls getppid, a failing write, a
 *                          signal handler's rt_sigreturn, arch_prctl, then
 *                          execs itself (exec event, then the execve's exit
 *                          stop), and the new image exits 7
 * GET_SYSCALL_INFO is checked at a signal stop (op none), with a short
 * buffer (only that many bytes written; the size it had returned), and at
 * every syscall stop (op, arch, number, arguments, value).
 * Exits 0 when every observation was as expected, 1 otherwise.
 */
#include <asm/prctl.h>
#include <linux/audit.h>
#include <signal.h>
#include <stddef.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "tracer.h"

static volatile sig_atomic_t handled;

static void
on_usr1(int sig)
{
	(void)sig;
	handled = 1;
}

static int
child(const char *self)
{
	unsigned long fs = 0;

	if (ptrace(PTRACE_TRACEME, 0, 0, 0) < 0)
		_exit(20);
	signal(SIGUSR1, on_usr1);
	raise(SIGSTOP);
	syscall(SYS_getppid);
	syscall(SYS_write, -1, "x", 1);
	raise(SIGUSR1);
	syscall(SYS_arch_prctl, ARCH_GET_FS, &fs);
	execl(self, self, "exit7", (char *)NULL);
	_exit(21);
}

/* The syscalls whose stops are printed (others pass unprinted: the loader's
 * differ from run to run and between systems). */
static const char *
shown(unsigned long long nr)
{
	switch (nr) {
	case SYS_getppid: return "getppid";
	case SYS_write: return "write";
	case SYS_rt_sigreturn: return "rt_sigreturn";
	case SYS_arch_prctl: return "arch_prctl";
	case SYS_execve: return "execve";
	case SYS_exit_group: return "exit_group";
	default: return NULL;
	}
}

int
main(int argc, char **argv)
{
	struct __ptrace_syscall_info info;
	unsigned long long nr = 0;
	unsigned char small[12];
	pid_t pid;
	long size;
	int status, sig = 0;

	if (argc > 1 && strcmp(argv[1], "exit7") == 0)
		return 7;
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0)
		child("/proc/self/exe");
	expect(waitpid(pid, &status, 0) == pid && WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP,
	       "the child stopped itself");
	expect(ptrace(PTRACE_SETOPTIONS, pid, 0, (void *)(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXEC)) == 0,
	       "SETOPTIONS TRACESYSGOOD|TRACEEXEC");
	memset(&info, 0xa5, sizeof(info));
	size = ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void *)sizeof(info), &info);
	say("at the signal stop: size %ld, op %d, arch %s\n", size, info.op,
	    info.arch == AUDIT_ARCH_X86_64 ? "x86_64" : "?");
	memset(small, 0xa5, sizeof(small));
	size = ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void *)8, small);
	expect(size == offsetof(struct __ptrace_syscall_info, entry) && small[8] == 0xa5,
	       "a short buffer gets that many bytes, the call the whole size");
	for (;;) {
		if (ptrace(PTRACE_SYSCALL, pid, 0, (void *)(long)sig) < 0)
			die("PTRACE_SYSCALL: %s", strerror(errno));
		sig = 0;
		if (waitpid(pid, &status, 0) != pid)
			die("waitpid: %s", strerror(errno));
		if (WIFEXITED(status) || WIFSIGNALED(status))
			break;
		if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_EXEC << 8))) {
			say("exec event\n");
			continue;
		}
		if (WSTOPSIG(status) != (SIGTRAP | 0x80)) {
			sig = WSTOPSIG(status);
			say("signal stop: %s\n", strsignal(sig));
			continue;
		}
		memset(&info, 0, sizeof(info));
		size = ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void *)sizeof(info), &info);
		if (info.op == PTRACE_SYSCALL_INFO_ENTRY) {
			nr = info.entry.nr;
			if (!shown(nr))
				continue;
			say("entry %s: size %ld, first argument %lld\n", shown(nr), size,
			    nr == SYS_write || nr == SYS_arch_prctl ? (long long)info.entry.args[0] : 0);
		} else if (info.op == PTRACE_SYSCALL_INFO_EXIT) {
			if (!shown(nr))
				continue;
			say("exit %s: size %ld, %s %lld\n", shown(nr), size,
			    info.exit.is_error ? "error" : "value",
			    nr == SYS_getppid ? 1 : nr == SYS_rt_sigreturn ? 0 : (long long)info.exit.rval);
		} else {
			say("a syscall stop with op %d\n", info.op);
			failures++;
		}
		expect(info.arch == AUDIT_ARCH_X86_64 && info.instruction_pointer && info.stack_pointer,
		       "arch, instruction and stack pointers");
	}
	say("child: %s %d\n", WIFEXITED(status) ? "exited" : "killed by",
	    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return failures ? 1 : 0;
}
