/* SPDX-License-Identifier: MIT */
/*
 * The program's own seccomp filter on top of uprr's: getpid fails with
 * EPERM (SECCOMP_RET_ERRNO), uname raises SIGSYS (SECCOMP_RET_TRAP), caught
 * by a handler that notes si_syscall, in this thread and, through
 * SECCOMP_FILTER_FLAG_TSYNC, in a thread started before the filter; a forked
 * child's filter kills it (SECCOMP_RET_KILL_PROCESS) on getppid, and the
 * parent prints how it died. Also what PR_GET_SECCOMP, PR_GET_NO_NEW_PRIVS,
 * SECCOMP_GET_ACTION_AVAIL and SECCOMP_GET_NOTIF_SIZES say. Every line but
 * the "nonce" one is the same natively, recorded and replayed.
 * `seccomp_filter strict` enters strict mode, `seccomp_filter listener`
 * asks for a user-notification listener and `seccomp_filter trace` has its
 * filter ask for a tracer (SECCOMP_RET_TRACE): uprr refuses them by name.
 */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "progs.h"

static volatile sig_atomic_t trapped_nr = -1, trapped_code, trapped_arch_ok, ntraps;

static void
on_sigsys(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	trapped_nr = si->si_syscall;
	trapped_code = si->si_code;
	trapped_arch_ok = si->si_arch == AUDIT_ARCH_X86_64;
	ntraps++;
}

/* ERRNO(EPERM) for getpid, TRAP for uname, KILL_PROCESS for @kill_nr (-1:
 * none), ALLOW for the rest. */
static void
make_filter(struct sock_filter *f, struct sock_fprog *prog, long kill_nr)
{
	unsigned n = 0;

	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpid, 0, 1);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_uname, 0, 1);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP | 42);
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)kill_nr, 0, 1);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	prog->len = (unsigned short)n;
	prog->filter = f;
}

static int go[2];
static long thread_getpid = 1;
static int thread_errno, thread_traps;

static void *
thread_main(void *arg)
{
	struct utsname u;
	char c;

	(void)arg;
	if (read(go[0], &c, 1) != 1)
		return NULL;
	thread_getpid = syscall(SYS_getpid);
	thread_errno = errno;
	syscall(SYS_uname, &u);
	thread_traps = ntraps;
	return NULL;
}

static void
child(void)
{
	struct sock_filter f[16];
	struct sock_fprog prog;
	struct rlimit none = { 0, 0 };

	/* no core file of the killed child */
	setrlimit(RLIMIT_CORE, &none);
	make_filter(f, &prog, SYS_getppid);
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		_exit(3);
	say("child: about to call getppid\n");
	syscall(SYS_getppid);
	say("child: still alive after getppid\n");
	_exit(4);
}

/* spin mode: a sandbox that forbids mmap, mprotect, clone, userfaultfd,
 * openat and close_range (EPERM), and a thread that spins on a flag main
 * sets after a stretch of work, so uprr must preempt it in user code and
 * its own syscalls (the counting code's mapping, a restore point's clone
 * and userfaultfd) must get past the program's filter. */
static volatile int spin_flag;

static void *
spinner(void *arg)
{
	long n = 0;

	(void)arg;
	while (!spin_flag)
		if (++n == 4000000000L)
			return (void *)1;
	return NULL;
}

static uint64_t __attribute__((noinline))
work(uint64_t x, long rounds)
{
	for (long i = 0; i < rounds; i++) {
		x ^= x >> 13;
		x *= 0xff51afd7ed558ccdull;
		x += (uint64_t)i;
	}
	return x;
}

static int
spin(void)
{
	static const int denied[] = { SYS_mmap, SYS_mprotect, SYS_clone, SYS_userfaultfd,
				      SYS_openat, SYS_close_range };
	struct sock_filter f[32];
	struct sock_fprog prog = { .filter = f };
	uint64_t x = random_seed();
	void *ret = (void *)2;
	pthread_t th;
	unsigned n = 0;

	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr));
	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, denied[i], 0, 1);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
	}
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	prog.len = (unsigned short)n;
	if (pthread_create(&th, NULL, spinner, NULL) != 0)
		die("pthread_create failed");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0)
		die("seccomp: %s", strerror(errno));
	say("spin: mmap now fails: %d\n",
	    mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED);
	x = work(x, 100000000L);
	spin_flag = 1;
	pthread_join(th, &ret);
	say("spin: %s (%llu)\n", ret ? "the spinner gave up" : "ok",
	    (unsigned long long)(x & 0xff));
	return ret != NULL;
}

/* killthread mode: a thread's own filter (no TSYNC) kills it on getppid
 * (SECCOMP_RET_KILL_THREAD); the process goes on, main joins it.
 * killprocess mode: the same with SECCOMP_RET_KILL_PROCESS, while main
 * waits in pthread_join: the process dies of SIGSYS. */
static void *
doomed(void *arg)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, (uint32_t)(uintptr_t)arg),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		return (void *)1;
	say("seccomp_filter: the thread calls getppid\n");
	syscall(SYS_getppid);
	say("seccomp_filter: the thread survived\n");
	return NULL;
}

static int
kill_thread(uint32_t action)
{
	pthread_t th;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    pthread_create(&th, NULL, doomed, (void *)(uintptr_t)action) != 0)
		die("setup: %s", strerror(errno));
	pthread_join(th, NULL);
	say("seccomp_filter: main goes on, getppid works here: %d\n", syscall(SYS_getppid) > 0);
	return 0;
}

/* What uprr refuses: strict mode (its own filter excludes it) and a
 * listener fd (a supervisor would answer the program's syscalls). */
static int
refused(const char *what)
{
	long r;

	say("seccomp_filter: about to ask for %s\n", what);
	if (strcmp(what, "strict") == 0) {
		r = prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0);
		if (r == 0) {
			say("seccomp_filter: in strict mode\n");
			syscall(SYS_exit, 0);
		}
	} else if (strcmp(what, "trace") == 0) {
		/* natively, with no tracer: ENOSYS (seccomp(2)) */
		struct sock_filter f[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE | 7),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
			die("seccomp: %s", strerror(errno));
		r = syscall(SYS_getppid);
		if (r < 0)
			r = -errno;
	} else {
		struct sock_filter f[16];
		struct sock_fprog prog;

		make_filter(f, &prog, -1);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			die("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
			    &prog);
	}
	say("seccomp_filter: it returned %ld\n", r);
	return 0;
}

int
main(int argc, char **argv)
{
	struct sock_filter f[16];
	struct sock_fprog prog;
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	struct seccomp_notif_sizes sizes = { 0 };
	unsigned action = SECCOMP_RET_KILL_PROCESS;
	struct utsname u;
	pthread_t th;
	long r;
	int status;
	pid_t pid;

	if (argc == 2 && strcmp(argv[1], "spin") == 0)
		return spin();
	if (argc == 2 && strcmp(argv[1], "killthread") == 0)
		return kill_thread(SECCOMP_RET_KILL_THREAD);
	if (argc == 2 && strcmp(argv[1], "killprocess") == 0)
		return kill_thread(SECCOMP_RET_KILL_PROCESS);
	if (argc == 2)
		return refused(argv[1]);
	say("nonce: %llu\n", (unsigned long long)random_seed());
	say("PR_GET_SECCOMP before: %d\n", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
	say("PR_GET_NO_NEW_PRIVS before: %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	r = syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action);
	say("GET_ACTION_AVAIL KILL_PROCESS: %ld\n", r);
	action = 0x12340000;
	r = syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action);
	say("GET_ACTION_AVAIL bogus: %ld %s\n", r, r < 0 ? strerror(errno) : "");
	r = syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes);
	say("GET_NOTIF_SIZES: %ld notif %u resp %u data %u\n", r, sizes.seccomp_notif,
	    sizes.seccomp_notif_resp, sizes.seccomp_data);

	if (sigaction(SIGSYS, &sa, NULL) < 0 || pipe(go) < 0)
		die("setup: %s", strerror(errno));
	if (pthread_create(&th, NULL, thread_main, NULL) != 0)
		die("pthread_create failed");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	say("PR_GET_NO_NEW_PRIVS after: %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));

	make_filter(f, &prog, -1);
	r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		    SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_LOG |
			    SECCOMP_FILTER_FLAG_SPEC_ALLOW,
		    &prog);
	say("SET_MODE_FILTER TSYNC|LOG|SPEC_ALLOW: %ld\n", r);
	if (r != 0)
		die("seccomp: %s", strerror(errno));
	say("PR_GET_SECCOMP after: %d\n", prctl(PR_GET_SECCOMP, 0, 0, 0, 0));

	r = syscall(SYS_getpid);
	say("getpid: %ld %s\n", r, r < 0 ? strerror(errno) : "(not filtered)");
	r = syscall(SYS_uname, &u);
	say("uname: %ld (raw result), SIGSYS handled %d, si_syscall %d (uname is %d), "
	    "si_code %d, arch x86-64 %d\n",
	    r, (int)ntraps, (int)trapped_nr, SYS_uname, (int)trapped_code, (int)trapped_arch_ok);

	if (write(go[1], "g", 1) != 1 || pthread_join(th, NULL) != 0)
		die("thread: %s", strerror(errno));
	say("thread (TSYNC): getpid %ld %s, SIGSYS handled %d\n", thread_getpid,
	    thread_getpid < 0 ? strerror(thread_errno) : "(not filtered)", thread_traps);

	/* a second filter, installed with prctl: gettid fails too */
	{
		struct sock_filter g[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_gettid, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EACCES),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog gp = { .len = sizeof(g) / sizeof(g[0]), .filter = g };

		r = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &gp, 0, 0);
		say("PR_SET_SECCOMP FILTER: %ld\n", r);
		r = syscall(SYS_gettid);
		say("gettid: %ld %s\n", r, r < 0 ? strerror(errno) : "(not filtered)");
	}

	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0)
		child();
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid: %s", strerror(errno));
	if (WIFSIGNALED(status))
		say("child killed by signal %d (SIGSYS is %d)\n", WTERMSIG(status), SIGSYS);
	else
		say("child exited with %d\n", WEXITSTATUS(status));
	say("seccomp_filter: done\n");
	return 0;
}
