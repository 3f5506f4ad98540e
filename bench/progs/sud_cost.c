/* SPDX-License-Identifier: MIT */
/*
 * Benchmark (issue 14, the fallback for syscall sites that cannot be
 * patched): what one getppid costs, without uprr, under each way a
 * supervisor that ptraces its tracee could take it. The tracer is this
 * program's parent, both pinned to one CPU as uprr pins them:
 *   native     the syscall instruction
 *   sud        syscall user dispatch, no tracer: SIGSYS, a handler that
 *              makes the call from the allowed range, rt_sigreturn from there
 *              (prctl(2) PR_SET_SYSCALL_USER_DISPATCH, Linux 5.11)
 *   traced     uprr's traced path: a seccomp RET_TRACE stop, PTRACE_SYSCALL
 *              to the exit stop, PTRACE_CONT (two stops)
 *   redirect   one seccomp RET_TRACE stop where the tracer skips the call
 *              (orig_rax -1) and sends the thread to a trampoline that makes
 *              it from an address the filter allows, and back (one stop)
 *   sud-traced syscall user dispatch under ptrace: the SIGSYS stops the
 *              thread at its signal-delivery-stop (ptrace(2): every signal
 *              but SIGKILL does), PTRACE_GETSIGINFO (is it SUD's?),
 *              PTRACE_CONT with SIGSYS, the handler
 * usage: sud_cost [N]; prints "KIND N NS_PER_CALL" for each (wall clock,
 * in the tracee), and to stderr the CPU time per call of tracer and
 * tracee together (user + system), which a loaded machine disturbs less.
 */

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_OFF 0
#define PR_SYS_DISPATCH_ON 1
#endif
#ifndef SYS_USER_DISPATCH
#define SYS_USER_DISPATCH 2
#endif

/* The allowed range: a syscall instruction that returns, the restorer,
 * and the redirect's trampoline, in a section of their own. */
__asm__(".pushsection sud_text, \"ax\", @progbits\n"
	/* long allowed_syscall(nr, a0, ..., a5) */
	".globl allowed_syscall\n"
	"allowed_syscall:\n\t"
	"mov %rdi, %rax\n\t"
	"mov %rsi, %rdi\n\t"
	"mov %rdx, %rsi\n\t"
	"mov %rcx, %rdx\n\t"
	"mov %r8, %r10\n\t"
	"mov %r9, %r8\n\t"
	"mov 8(%rsp), %r9\n"
	"raw_syscall:\n\t"
	"syscall\n"
	".globl allowed_syscall_ip\n"
	"allowed_syscall_ip:\n\t"
	"ret\n"
	".globl allowed_restorer\n"
	"allowed_restorer:\n\t"
	"mov $15, %eax\n\t"
	"syscall\n"
	/* entered with the syscall's registers, rcx where to go back (what
	 * the syscall instruction puts there); skips the red zone */
	".globl redirect_tramp\n"
	"redirect_tramp:\n\t"
	"lea -128(%rsp), %rsp\n\t"
	"push %rcx\n\t"
	"call raw_syscall\n\t"
	"ret $128\n"
	".popsection\n");
extern char __start_sud_text[], __stop_sud_text[];
extern char allowed_syscall_ip[], redirect_tramp[];
long allowed_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5);
void allowed_restorer(void);

static volatile char g_selector = 1; /* SYSCALL_DISPATCH_FILTER_BLOCK */
static volatile long g_calls;

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* getppid from a site of its own (not the allowed range) */
static long __attribute__((noinline))
site_getppid(void)
{
	long ret;

	__asm__ __volatile__("syscall" : "=a"(ret) : "a"((long)SYS_getppid) : "rcx", "r11", "memory");
	return ret;
}

static void
sigsys(int sig, siginfo_t *si, void *ucv)
{
	greg_t *g = ((ucontext_t *)ucv)->uc_mcontext.gregs;

	(void)sig;
	g_calls++;
	if (si->si_code != SYS_USER_DISPATCH)
		_exit(3);

	g[REG_RAX] = allowed_syscall(g[REG_RAX], g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10], g[REG_R8],
				     g[REG_R9]);
}

/* the kernel's struct sigaction (x86-64) */
struct ksigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

static int
sud_on(void)
{
	struct ksigaction sa = { (void *)sigsys, SA_SIGINFO | 0x04000000 /* SA_RESTORER */,
				 (void *)allowed_restorer, 0 };

	if (allowed_syscall(-1, 0, 0, 0, 0, 0, 0) != -ENOSYS) /* page it in */
		return -1;
	if (syscall(SYS_rt_sigaction, SIGSYS, &sa, NULL, 8) < 0)
		return -1;
	return prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, (unsigned long)__start_sud_text,
		     (unsigned long)(__stop_sud_text - __start_sud_text), &g_selector);
}

static int
seccomp_trace_getppid(void)
{
	uint64_t ip = (uint64_t)allowed_syscall_ip;
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 4),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)ip, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer) + 4),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(ip >> 32), 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	/* getppid traced, but from the allowed instruction */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/* The tracee: set up for @kind, stop for the tracer to seize it, time
 * @n calls, print. */
static void __attribute__((noreturn))
tracee(const char *kind, long n)
{
	int64_t t0, t1;
	long bad = 0, want = getppid();

	if ((!strcmp(kind, "traced") || !strcmp(kind, "redirect")) && seccomp_trace_getppid() < 0)
		_exit(2);
	if (!strncmp(kind, "sud", 3) && sud_on() < 0) {
		fprintf(stderr, "sud_cost: syscall user dispatch: %s\n", strerror(errno));
		_exit(77);
	}
	if (strcmp(kind, "native") && strcmp(kind, "sud"))
		raise(SIGSTOP); /* the tracer seizes it here */
	for (int i = 0; i < 100; i++)
		bad += site_getppid() != want;
	t0 = now_ns();
	for (long i = 0; i < n; i++)
		bad += site_getppid() != want;
	t1 = now_ns();
	if (!strncmp(kind, "sud", 3))
		g_selector = 0; /* printf's calls: allowed */
	printf("%s %ld %.0f (%ld SIGSYS handled)\n", kind, n, (double)(t1 - t0) / (double)n, g_calls);
	fflush(stdout);
	_exit(bad ? 1 : 0);
}

static int
trace(pid_t pid, const char *kind)
{
	long stops = 0;
	int status;

	if (waitpid(pid, &status, WSTOPPED) < 0 || !WIFSTOPPED(status)) {
		fprintf(stderr, "sud_cost: %s: no stop (status 0x%x): %s\n", kind, status, strerror(errno));
		return -1;
	}
	if (ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACESECCOMP | PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL) < 0)
		return -1;
	kill(pid, SIGCONT);
	for (;;) {
		struct user_regs_struct regs;
		int sig = 0;

		if (waitpid(pid, &status, 0) < 0)
			return -1;
		stops++;
		if (WIFEXITED(status)) {
			fprintf(stderr, "sud_cost: %s: the tracer saw %ld stops\n", kind, stops);
			fflush(stderr);
			return WEXITSTATUS(status);
		}
		if (WIFSIGNALED(status))
			return 128 + WTERMSIG(status);
		if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_SECCOMP << 8))) {
			if (!strcmp(kind, "traced")) {
				/* to the exit stop, then on */
				ptrace(PTRACE_SYSCALL, pid, 0, 0);
				if (waitpid(pid, &status, 0) < 0)
					return -1;
				stops++;
				ptrace(PTRACE_GETREGS, pid, 0, &regs); /* the result */
			} else {
				ptrace(PTRACE_GETREGS, pid, 0, &regs);
				regs.rcx = regs.rip;
				regs.rip = (uint64_t)redirect_tramp;
				regs.rax = regs.orig_rax;
				regs.orig_rax = (uint64_t)-1;
				ptrace(PTRACE_SETREGS, pid, 0, &regs);
			}
		} else if (WIFSTOPPED(status) && WSTOPSIG(status) != SIGTRAP &&
			   WSTOPSIG(status) != (SIGTRAP | 0x80) && status >> 16 == 0) {
			siginfo_t si;

			sig = WSTOPSIG(status);
			if (sig == SIGSTOP || sig == SIGCONT)
				sig = 0;
			/* the least a recorder needs: tell SUD's SIGSYS
			 * (si_code SYS_USER_DISPATCH) from another */
			if (sig == SIGSYS && ptrace(PTRACE_GETSIGINFO, pid, 0, &si) < 0)
				return -1;
		}
		ptrace(PTRACE_CONT, pid, 0, sig);
	}
}

/* CPU time of this process and its waited-for children, ns */
static int64_t
cpu_ns(void)
{
	struct rusage self, kids;

	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	return ((int64_t)self.ru_utime.tv_sec + self.ru_stime.tv_sec + kids.ru_utime.tv_sec +
		kids.ru_stime.tv_sec) * 1000000000 +
	       ((int64_t)self.ru_utime.tv_usec + self.ru_stime.tv_usec + kids.ru_utime.tv_usec +
		kids.ru_stime.tv_usec) * 1000;
}

int
main(int argc, char **argv)
{
	static const char *const kinds[] = { "native", "sud", "traced", "redirect", "sud-traced" };
	long n = argc > 1 ? atol(argv[1]) : 100000;
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	sched_setaffinity(0, sizeof(one), &one);
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		int64_t cpu0 = cpu_ns();
		pid_t pid = fork();
		int r, status;

		if (pid < 0)
			return 1;
		if (pid == 0)
			tracee(kinds[k], n);
		if (!strcmp(kinds[k], "native") || !strcmp(kinds[k], "sud")) {
			if (waitpid(pid, &status, 0) < 0)
				return 1;
			r = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		} else {
			r = trace(pid, kinds[k]);
		}
		if (r != 0)
			fprintf(stderr, "sud_cost: %s: status %d\n", kinds[k], r);
		fprintf(stderr, "%s cpu %.0f\n", kinds[k], (double)(cpu_ns() - cpu0) / (double)n);
	}
	return 0;
}
