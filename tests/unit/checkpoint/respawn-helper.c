/* SPDX-License-Identifier: MIT */
/*
 * The tracee of the respawn tests (test-respawn.c): respawn-helper OUT N MIB
 * [nocap|newpidns|pgrp|setsid|ttyfg|seccomp]. N threads: main spins in user code, thread 1 (and threads 3 and
 * up) wait in FUTEX_WAIT, thread 2 in a read(2) of a pipe; MIB MiB of
 * memory are touched; main holds a PI futex (FUTEX_LOCK_PI: the kernel wrote
 * its tid in the word). "nocap" drops CAP_SYS_ADMIN and
 * CAP_CHECKPOINT_RESTORE first, "newpidns" unshares CLONE_NEWPID (its
 * children go to a new pid namespace), "pgrp" makes it the leader of a
 * process group of its own (setpgid(2)), "setsid" of a session of its own
 * (setsid(2)), "ttyfg" makes a session with a pseudoterminal and goes on
 * in a child, the leader of its terminal's foreground group, "seccomp" installs a filter that
 * fails clone3(2) with ENOSYS, as uprr's own does (recorder/seccomp.c):
 * glibc falls back to clone(2). Once every thread is in its state, main
 * writes to OUT what each thread is ("B<i> pid P tid T ppid Q") and stops on
 * an int3 (rax = 0xc0de); resumed, it spins until a SIGUSR1 (only main
 * leaves it unblocked). Then it wakes the others, sends SIGUSR2 to thread 1
 * with pthread_kill(3), unlocks the PI futex (FUTEX_UNLOCK_PI: -EPERM
 * unless the word's tid is the caller's), and every thread reports what it
 * sees of itself ("T<i> pid P tid T ppid Q self S word W": S the tid in its
 * struct pthread, read through pthread_getcpuclockid(3), W the word at its
 * clear-tid address, glibc's struct pthread tid); the whole report goes to
 * OUT in one write(2), ending in "end\n".
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 16
#define CAP_CHECKPOINT_RESTORE_BIT 40

static char report[MAX_THREADS + 1][256];
static size_t report_len[MAX_THREADS + 1];
static volatile int go, wake_word;
static volatile pid_t usr2_tid;
static volatile pid_t tids[MAX_THREADS];
static int pipe_fds[2];
static uint32_t pi_word;

static void __attribute__((format(printf, 2, 3)))
say(int slot, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_len[slot] += (size_t)vsnprintf(report[slot] + report_len[slot],
					      sizeof(report[slot]) - report_len[slot], fmt, ap);
	va_end(ap);
}

static pid_t
gettid_raw(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* What thread @i sees of its ids. */
static void
self_report(int i)
{
	clockid_t cid;
	int *word = NULL;
	pid_t self = -1;

	/* MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED) of glibc's struct pthread
	 * tid: ~tid << 3 | 6 (include/linux/posix-timers.h) */
	if (pthread_getcpuclockid(pthread_self(), &cid) == 0)
		self = (pid_t)~(cid >> 3);
	prctl(PR_GET_TID_ADDRESS, &word);
	say(i, "T%d pid %d tid %d ppid %d self %d word %d\n", i, getpid(), gettid_raw(), getppid(), self,
	    word ? *word : -1);
}

static void
on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

static void
on_usr2(int sig)
{
	(void)sig;
	usr2_tid = gettid_raw();
}

static void *
thread(void *arg)
{
	int i = (int)(intptr_t)arg;
	sigset_t m;
	char c;

	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &m, NULL);
	tids[i] = gettid_raw();
	if (i == 2) {
		if (read(pipe_fds[0], &c, 1) != 1)
			say(i, "read failed\n");
	} else {
		while (wake_word == 0)
			syscall(SYS_futex, &wake_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	}
	self_report(i);
	if (i == 1) {
		struct timespec ms = { 0, 1000000 };

		/* SIGUSR2 from main's pthread_kill(): 2 s at most */
		for (int k = 0; k < 2000 && !usr2_tid; k++)
			nanosleep(&ms, NULL);
		say(i, "usr2 handled by %d\n", usr2_tid);
	}
	return NULL;
}

/* Whether thread @tid is blocked in syscall @nr (/proc/self/task/TID/syscall). */
static int
blocked_in(pid_t tid, int nr)
{
	char path[64], buf[64] = "";
	int fd, got;
	ssize_t n;

	if (tid == 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 && sscanf(buf, "%d", &got) == 1 && got == nr;
}

/* Drop CAP_SYS_ADMIN and CAP_CHECKPOINT_RESTORE from every set (capset(2)). */
static int
drop_caps(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return -1;
	for (int k = 0; k < 2; k++) {
		d[k].effective &= ~((k == 0 ? 1u << CAP_SYS_ADMIN : 0) |
				    (k == 1 ? 1u << (CAP_CHECKPOINT_RESTORE_BIT - 32) : 0));
		d[k].permitted = d[k].effective;
		d[k].inheritable = 0;
	}
	return (int)syscall(SYS_capset, &h, d);
}

/* Make a session of our own whose controlling terminal is a new
 * pseudoterminal, and fork: the child leads a process group of its own,
 * the terminal's foreground group, and goes on as the program; we wait for
 * all our children and exit with its status. tcsetpgrp(3) from a background group raises
 * SIGTTOU unless it is blocked (tty_check_change(),
 * drivers/tty/tty_jobctrl.c). */
static int
terminal_session(void)
{
	int master, slave, status;
	sigset_t m;
	pid_t child;

	if (setsid() < 0)
		return -1;
	master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0)
		return -1;
	/* a session leader without a terminal acquires the one it opens */
	slave = open(ptsname(master), O_RDWR);
	if (slave < 0)
		return -1;
	child = fork();
	if (child < 0)
		return -1;
	if (child > 0) {
		int code = 6;
		pid_t w;

		/* every child: the program, and its copies (CLONE_PARENT); the
		 * terminal lives while we do */
		while ((w = wait(&status)) > 0 || errno == EINTR)
			if (w == child)
				code = WIFEXITED(status) ? WEXITSTATUS(status) : 6;
		_exit(code);
	}
	sigemptyset(&m);
	sigaddset(&m, SIGTTOU);
	if (setpgid(0, 0) < 0 || sigprocmask(SIG_BLOCK, &m, NULL) < 0 || tcsetpgrp(slave, getpid()) < 0)
		return -1;
	sigprocmask(SIG_UNBLOCK, &m, NULL);
	/* the master stays open in us: the terminal lives as long as we do */
	close(slave);
	return 0;
}

/* A seccomp filter failing clone3(2) with ENOSYS, every other syscall
 * allowed (seccomp(2)). */
static int
deny_clone3(void)
{
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(insns) / sizeof(insns[0]), .filter = insns };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

int
main(int argc, char **argv)
{
	struct sigaction sa1 = { .sa_handler = on_usr1 }, sa2 = { .sa_handler = on_usr2 };
	pthread_t th[MAX_THREADS];
	int out, n, kill_rc = -1, filtered;
	long spins = 0;
	size_t mib;
	char *mem;

	if (argc < 4)
		return 2;
	n = atoi(argv[2]);
	mib = (size_t)atol(argv[3]);
	if (n < 1 || n > MAX_THREADS)
		return 2;
	if (argc > 4 && strcmp(argv[4], "nocap") == 0 && drop_caps() < 0)
		return 2;
	if (argc > 4 && strcmp(argv[4], "pgrp") == 0 && setpgid(0, 0) < 0)
		return 2;
	if (argc > 4 && strcmp(argv[4], "setsid") == 0 && setsid() < 0)
		return 2;
	if (argc > 4 && strcmp(argv[4], "ttyfg") == 0 && terminal_session() < 0)
		return 2;
	filtered = argc > 4 && strcmp(argv[4], "seccomp") == 0;
	if (filtered && deny_clone3() < 0)
		return 2;
	out = open(argv[1], O_WRONLY | O_APPEND | O_CLOEXEC);
	if (out < 0 || pipe(pipe_fds) < 0)
		return 2;
	mem = mmap(NULL, mib << 20 | 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 2;
	memset(mem, 0x5a, mib << 20);
	sigaction(SIGUSR1, &sa1, NULL);
	sigaction(SIGUSR2, &sa2, NULL);
	tids[0] = gettid_raw();
	if (syscall(SYS_futex, &pi_word, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0) != 0)
		return 2;
	for (int i = 1; i < n; i++)
		pthread_create(&th[i], NULL, thread, (void *)(intptr_t)i);
	for (int i = 1; i < n; i++)
		while (!blocked_in(tids[i], i == 2 ? SYS_read : SYS_futex))
			usleep(1000);
	/* after the threads: CLONE_THREAD is refused once the children's pid
	 * namespace is not the caller's (copy_process(), kernel/fork.c) */
	if (argc > 4 && strcmp(argv[4], "newpidns") == 0 && unshare(CLONE_NEWPID) < 0)
		return 2;
	{
		char buf[MAX_THREADS * 64];
		int len = 0;

		for (int i = 0; i < n; i++)
			len += snprintf(buf + len, sizeof(buf) - (size_t)len, "B%d pid %d tid %d ppid %d\n",
					i, getpid(), tids[i], getppid());
		if (write(out, buf, (size_t)len) != len)
			return 3;
	}
	__asm__ volatile("int3" : : "a"(0xc0de) : "memory");
	while (!go)
		spins++;
	wake_word = 1;
	syscall(SYS_futex, &wake_word, FUTEX_WAKE_PRIVATE, MAX_THREADS, NULL, NULL, 0);
	if (n > 2 && write(pipe_fds[1], "x", 1) != 1)
		return 3;
	if (n > 1)
		kill_rc = pthread_kill(th[1], SIGUSR2);
	self_report(0);
	say(0, "pthread_kill %d\n", kill_rc);
	say(0, "pgrp %d\n", getpgid(0));
	if (filtered)
		say(0, "clone3 %d\n", syscall(SYS_clone3, NULL, 0) < 0 ? errno : 0);
	say(0, "pi unlock %d\n",
	    syscall(SYS_futex, &pi_word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0) == 0 ? 0 : errno);
	for (int i = 1; i < n; i++)
		pthread_join(th[i], NULL);
	say(MAX_THREADS, "end\n");
	{
		char all[sizeof(report)];
		size_t len = 0;

		for (int i = 0; i <= MAX_THREADS; i++) {
			memcpy(all + len, report[i], report_len[i]);
			len += report_len[i];
		}
		return write(out, all, len) == (ssize_t)len && (mib == 0 || mem[12345] == 0x5a) ? 0 : 4;
	}
}
