/* SPDX-License-Identifier: MIT */
/*
 * Buffered calls made from a syscall instruction that uprr's patcher cannot
 * rewrite (recorder/syscallbuf-patch.c knows `syscall; cmp` and `mov $nr,
 * %eax; syscall`; here nops surround it, and the instruction right after
 * it is a jump target: moving it into a stub would break the loop that
 * jumps there). uprr sends each such call into the library from its
 * seccomp stop (recorder/syscallbuf-redirect.c). Made in a loop by the
 * main thread while SIGUSR1s arrive (their handler makes calls there too),
 * by a second thread, by a forked child and a vfork child: getpid, gettid, clock_gettime,
 * read of the input file, fstat, lseek, write of each line to stdout.
 * Then a worker that makes calls there and spins, with no syscall, until
 * main, after a computation, sets a flag: uprr preempts the spin by a
 * rollback that keeps the run's records, whose re-run goes through the
 * site's seccomp stops again (doc/syscall-buffer.md). Prints what it saw;
 * the last line ("clock: ") differs from run to run.
 *
 * usage: unpatchable_site INPUT_FILE
 */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "progs.h"

#define ROUNDS 400
#define SIGNALS 40
#define SPIN_ROUNDS 6
#define SPIN_LIMIT 1000000000L

/* long site_call(long nr, long a0, long a1, long a2): the syscall
 * instruction with nops around it, and a jump back to right after it
 * (`again`), taken when rax holds the magic -4242 (never, since no syscall
 * returns it): code may jump there, so it cannot move into a stub */
__asm__(".text\n"
	".globl site_call\n"
	".type site_call, @function\n"
	"site_call:\n\t"
	"mov %rdi, %rax\n\t"
	"mov %rsi, %rdi\n\t"
	"mov %rdx, %rsi\n\t"
	"mov %rcx, %rdx\n\t"
	"nop\n\tnop\n\tnop\n\tnop\n\tnop\n\tnop\n\tnop\n\t"
	"syscall\n"
	"again:\n\t"
	"nop\n\t"
	"cmp $-4242, %rax\n\t"
	"je again\n\t"
	"ret\n"
	".size site_call, .-site_call\n");
long site_call(long nr, long a0, long a1, long a2);

#define SITE(nr, a0, a1, a2) site_call((nr), (long)(a0), (long)(a1), (long)(a2))

static const char *g_input;
static atomic_int g_handled;
static atomic_int g_handler_bad;
static pid_t g_pid;
static volatile int g_flag;
static volatile uint64_t g_result;
static int g_pipe[2];

/* a line to stdout through the site */
__attribute__((format(printf, 1, 2))) static void
site_say(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0 && SITE(SYS_write, 1, buf, n) != n)
		exit(2);
}

static void
on_usr1(int sig)
{
	(void)sig;
	if (SITE(SYS_getpid, 0, 0, 0) != g_pid)
		atomic_fetch_add(&g_handler_bad, 1);
	atomic_fetch_add(&g_handled, 1);
}

/* @rounds rounds of calls through the site; returns the checksum of what
 * it read, or 0 if a call gave a wrong answer. */
static uint64_t
rounds(int rounds)
{
	uint64_t sum = FNV1A_INIT;
	struct timespec last = { 0 }, ts;
	char buf[97];
	struct stat st;
	long fd, n, tid = SITE(SYS_gettid, 0, 0, 0);

	fd = open(g_input, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("unpatchable_site: %s: %s", g_input, strerror(errno));
	for (int i = 0; i < rounds; i++) {
		if (SITE(SYS_getpid, 0, 0, 0) != getpid() || SITE(SYS_gettid, 0, 0, 0) != tid)
			return 0;
		if (SITE(SYS_clock_gettime, CLOCK_MONOTONIC, &ts, 0) != 0 ||
		    ts.tv_sec < last.tv_sec || (ts.tv_sec == last.tv_sec && ts.tv_nsec < last.tv_nsec))
			return 0;
		last = ts;
		n = SITE(SYS_read, fd, buf, sizeof(buf));
		if (n == 0) {
			if (SITE(SYS_fstat, fd, &st, 0) != 0 || SITE(SYS_lseek, fd, 0, SEEK_SET) != 0)
				return 0;
			sum = fnv1a(sum, &st.st_size, sizeof(st.st_size));
			continue;
		}
		if (n < 0)
			return 0;
		sum = fnv1a(sum, buf, (size_t)n);
	}
	close((int)fd);
	return sum;
}

static void *
thread_main(void *arg)
{
	*(uint64_t *)arg = rounds(ROUNDS);
	return NULL;
}

static void *
signaller(void *arg)
{
	pthread_t main_thread = *(pthread_t *)arg;

	for (int i = 0; i < SIGNALS; i++) {
		pthread_kill(main_thread, SIGUSR1);
		while (atomic_load(&g_handled) <= i)
			sleep_us(200);
	}
	return NULL;
}

static uint64_t
work(uint64_t x, long n)
{
	for (long i = 0; i < n; i++) {
		x ^= x >> 13;
		x *= 0xff51afd7ed558ccdull;
		x += (uint64_t)i;
	}
	return x;
}

/* each round: calls through the site (one writes the round into the
 * pipe, which wakes main), then a spin on the flag main sets */
static void *
spinner(void *arg)
{
	uint64_t *seen = arg;

	for (int r = 0; r < SPIN_ROUNDS; r++) {
		struct timespec ts;
		long spins = 0;
		char c = (char)('a' + r);

		if (SITE(SYS_getpid, 0, 0, 0) != g_pid || SITE(SYS_clock_gettime, CLOCK_MONOTONIC, &ts, 0) != 0 ||
		    SITE(SYS_write, g_pipe[1], &c, 1) != 1)
			return NULL;
		while (!g_flag)
			if (++spins > SPIN_LIMIT)
				return NULL;
		g_flag = 0;
		*seen ^= g_result;
	}
	return seen;
}

/* main's side of the spin phase; returns the worker's checksum, 0 if it
 * went wrong */
static uint64_t
spin_phase(void)
{
	uint64_t seen = 0;
	pthread_t th;
	void *ret;

	if (pipe(g_pipe) < 0 || pthread_create(&th, NULL, spinner, &seen))
		die("unpatchable_site: spin phase set-up failed");
	for (int r = 0; r < SPIN_ROUNDS; r++) {
		char c;

		if (read(g_pipe[0], &c, 1) != 1 || c != 'a' + r)
			die("unpatchable_site: round %d: the worker's byte is missing", r);
		g_result = work((uint64_t)r + 1, 2000000);
		__atomic_store_n(&g_flag, 1, __ATOMIC_RELEASE);
		while (__atomic_load_n(&g_flag, __ATOMIC_ACQUIRE))
			sched_yield();
	}
	pthread_join(th, &ret);
	return ret ? seen : 0;
}

int
main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	pthread_t th, sig_th, self = pthread_self();
	struct timespec ts;
	uint64_t thread_sum = 0, sum = 0;
	int status;
	pid_t child;

	if (argc != 2)
		die("usage: unpatchable_site INPUT_FILE");
	g_input = argv[1];
	g_pid = getpid();
	sigaction(SIGUSR1, &sa, NULL);
	if (pthread_create(&th, NULL, thread_main, &thread_sum) ||
	    pthread_create(&sig_th, NULL, signaller, &self))
		die("unpatchable_site: pthread_create failed");
	/* the main thread's calls, while the signals arrive */
	for (int i = 0; i < 8; i++) {
		uint64_t s = rounds(ROUNDS / 4);

		if (!s || (sum && s != sum))
			die("unpatchable_site: a call through the site gave a wrong answer");
		sum = s;
	}
	pthread_join(sig_th, NULL);
	pthread_join(th, NULL);
	if (!thread_sum)
		die("unpatchable_site: a call of the thread gave a wrong answer");
	site_say("main: 8 x %d rounds, sum %016llx\n", ROUNDS / 4, (unsigned long long)sum);
	site_say("thread: %d rounds, sum %016llx\n", ROUNDS, (unsigned long long)thread_sum);
	site_say("signals: %d handled, %d wrong answers in the handler\n", atomic_load(&g_handled),
		 atomic_load(&g_handler_bad));
	child = fork();
	if (child < 0)
		die("unpatchable_site: fork failed");
	if (child == 0) {
		g_pid = getpid();
		sum = rounds(ROUNDS);
		site_say("child: %d rounds, sum %016llx\n", ROUNDS, (unsigned long long)sum);
		_exit(sum ? 0 : 1);
	}
	if (waitpid(child, &status, 0) != child)
		die("unpatchable_site: waitpid failed");
	site_say("child: status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	/* a vfork child (the parent's memory and, in uprr, its address space) */
	child = vfork();
	if (child < 0)
		die("unpatchable_site: vfork failed");
	if (child == 0)
		_exit(SITE(SYS_getpid, 0, 0, 0) == SITE(SYS_gettid, 0, 0, 0) ? 0 : 1);
	if (waitpid(child, &status, 0) != child)
		die("unpatchable_site: waitpid failed");
	site_say("vfork child: status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	site_say("spin: %d rounds, checksum %016llx\n", SPIN_ROUNDS, (unsigned long long)spin_phase());
	SITE(SYS_clock_gettime, CLOCK_REALTIME, &ts, 0);
	site_say("clock: %lld.%09ld\n", (long long)ts.tv_sec, ts.tv_nsec);
	return 0;
}
