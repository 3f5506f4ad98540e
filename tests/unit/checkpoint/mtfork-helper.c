/* SPDX-License-Identifier: MIT */
/*
 * The tracee of the process-copy tests (test-process.c): a deterministic
 * multithreaded program whose threads sit in different states when it stops
 * on an int3 in main (rax = 0xc0de): "compute" runs floating-point code,
 * "futex" is blocked in FUTEX_WAIT, "read" in a read(2) of a pipe, "altstack"
 * spins with an alternate signal stack and its own signal mask, and main holds
 * a robust mutex. Resumed, main releases them all and joins them; each thread
 * then reports what it sees of itself (signal mask, sigaltstack, robust list,
 * clear-tid address, FS base, name, CPU count of its affinity, a SIGUSR1
 * handler's stack, its result), and the
 * whole report goes to the file argv[1] in one write(2) (O_APPEND), ending in
 * "end\n". A copy of the process must write the same report.
 */
#include <asm/prctl.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ITER 150000000L

/* One report per thread, put together in a fixed order by main. */
static char report[5][1024];
static size_t report_len[5];
static pthread_mutex_t robust;
static volatile long progress;
static volatile int futex_word, release_spin, ready_spin;
static int pipe_fds[2];
static pid_t tids[4];
static char altstack_mem[64 * 1024] __attribute__((aligned(16)));
static volatile uintptr_t handler_sp;

static void __attribute__((format(printf, 2, 3)))
say(int slot, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_len[slot] += (size_t)vsnprintf(report[slot] + report_len[slot],
					      sizeof(report[slot]) - report_len[slot], fmt, ap);
	va_end(ap);
}

/* What thread @name sees of its own kernel state. */
static void
self_report(int slot, const char *name)
{
	sigset_t mask;
	stack_t ss;
	void *head = NULL, *tidp = NULL;
	size_t len = 0;
	unsigned long fs = 0;
	uint64_t bits = 0;
	char comm[16] = "";
	cpu_set_t cpus;

	pthread_sigmask(SIG_BLOCK, NULL, &mask);
	for (int s = 1; s < 64; s++)
		if (sigismember(&mask, s) == 1)
			bits |= 1ULL << (s - 1);
	sigaltstack(NULL, &ss);
	syscall(SYS_get_robust_list, 0, &head, &len);
	prctl(PR_GET_TID_ADDRESS, &tidp);
	syscall(SYS_arch_prctl, ARCH_GET_FS, &fs);
	prctl(PR_GET_NAME, comm);
	sched_getaffinity(0, sizeof(cpus), &cpus);
	say(slot, "%s: mask %#llx altstack %p+%zu flags %d robust %p/%zu tidaddr %p fs %#lx "
	    "name %s cpus %d\n", name, (unsigned long long)bits, ss.ss_sp, ss.ss_size, ss.ss_flags,
	    head, len, tidp, fs, comm, CPU_COUNT(&cpus));
}

static void *
compute(void *arg)
{
	double x = 1.0, s = 0.0;

	(void)arg;
	tids[0] = (pid_t)syscall(SYS_gettid);
	for (long i = 0; i < ITER; i++) {
		x = x * 1.0000001 + 1e-9;
		s += x;
		if ((i & 0xfffff) == 0)
			progress = i + 1;
	}
	self_report(0, "compute");
	say(0, "compute: %a\n", s);
	return NULL;
}

static void *
futex_wait(void *arg)
{
	sigset_t m;

	(void)arg;
	sigemptyset(&m);
	sigaddset(&m, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &m, NULL);
	tids[1] = (pid_t)syscall(SYS_gettid);
	while (futex_word == 0)
		syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	self_report(1, "futex");
	say(1, "futex: word %d\n", futex_word);
	return NULL;
}

static void *
pipe_read(void *arg)
{
	char c = 0;
	ssize_t n;

	(void)arg;
	tids[2] = (pid_t)syscall(SYS_gettid);
	n = read(pipe_fds[0], &c, 1);
	self_report(2, "read");
	say(2, "read: %zd '%c'\n", n, c);
	return NULL;
}

static void
on_usr1(int sig)
{
	int here;

	(void)sig;
	handler_sp = (uintptr_t)&here;
}

static void *
altstack(void *arg)
{
	stack_t ss = { .ss_sp = altstack_mem, .ss_size = sizeof(altstack_mem) };
	sigset_t m;
	long spins = 0;

	(void)arg;
	sigaltstack(&ss, NULL);
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sigaddset(&m, SIGUSR2);
	sigaddset(&m, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &m, NULL);
	tids[3] = (pid_t)syscall(SYS_gettid);
	ready_spin = 1;
	while (!release_spin)
		spins++;
	self_report(3, "altstack");
	/* SIGUSR1 is blocked: it waits; unblocking it runs the handler */
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR1);
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &m, NULL);
	say(3, "altstack: handler on the alternate stack: %s\n",
	    handler_sp >= (uintptr_t)altstack_mem &&
	    handler_sp < (uintptr_t)altstack_mem + sizeof(altstack_mem) ? "yes" : "no");
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

int
main(int argc, char **argv)
{
	void *(*fns[4])(void *) = { compute, futex_wait, pipe_read, altstack };
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_ONSTACK };
	pthread_mutexattr_t attr;
	pthread_t th[4];
	int out;

	if (argc != 2)
		return 2;
	out = open(argv[1], O_WRONLY | O_APPEND | O_CLOEXEC);
	if (out < 0 || pipe(pipe_fds) < 0)
		return 2;
	sigaction(SIGUSR1, &sa, NULL);
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&robust, &attr);
	pthread_mutex_lock(&robust);
	for (int i = 0; i < 4; i++) {
		static const char *names[4] = { "compute", "futex", "read", "altstack" };

		pthread_create(&th[i], NULL, fns[i], NULL);
		pthread_setname_np(th[i], names[i]);
	}
	{
		cpu_set_t one;

		/* one thread on one CPU, the others on all */
		CPU_ZERO(&one);
		CPU_SET(0, &one);
		pthread_setaffinity_np(th[3], sizeof(one), &one);
	}
	while (!progress || !ready_spin || !blocked_in(tids[1], SYS_futex) ||
	       !blocked_in(tids[2], SYS_read))
		usleep(1000);
	__asm__ volatile("int3" : : "a"(0xc0de) : "memory");
	release_spin = 1;
	futex_word = 7;
	syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	if (write(pipe_fds[1], "x", 1) != 1)
		return 3;
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	self_report(4, "main");
	say(4, "main: unlock %d\nend\n", pthread_mutex_unlock(&robust));
	{
		char all[sizeof(report)];
		size_t len = 0;

		for (int i = 0; i < 5; i++) {
			memcpy(all + len, report[i], report_len[i]);
			len += report_len[i];
		}
		return write(out, all, len) == (ssize_t)len ? 0 : 4;
	}
}
