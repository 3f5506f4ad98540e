/* SPDX-License-Identifier: MIT */
/*
 * Benchmark (bench/bench14.sh "syscall"): the cost of one syscall, timed
 * over N calls made with the syscall instruction (glibc's syscall(3), never
 * the vDSO), after a few untimed calls (a recorder may rewrite a syscall
 * site the first time it traps there). Kinds:
 *   getpid         nothing read or written
 *   read           read(2) of 64 bytes from /dev/zero: 64 bytes written
 *   clock_gettime  CLOCK_MONOTONIC through the syscall: a timespec written
 *   getppid        not in issue 14's buffered list: the unbuffered path
 *                  once the others are buffered
 * The clock around the loop is libc's clock_gettime (the vDSO natively).
 *
 * usage: syscall_cost KIND|all [N]
 * Prints "KIND N NS_PER_CALL" for each kind timed.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_CALLS 100000L
#define WARMUP_CALLS 100L

static const char *const g_kinds[] = { "getpid", "read", "clock_gettime", "getppid" };
static int g_zero_fd = -1;

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Makes @n calls of @kind; returns the number that failed. */
static long
calls(const char *kind, long n)
{
	char buf[64];
	struct timespec ts;
	long bad = 0;

	for (long i = 0; i < n; i++) {
		long r;

		if (!strcmp(kind, "getpid"))
			r = syscall(SYS_getpid);
		else if (!strcmp(kind, "read"))
			r = syscall(SYS_read, g_zero_fd, buf, sizeof(buf)) == sizeof(buf) ? 0 : -1;
		else if (!strcmp(kind, "clock_gettime"))
			r = syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
		else
			r = syscall(SYS_getppid);
		bad += r < 0;
	}
	return bad;
}

static int
time_kind(const char *kind, long n)
{
	int64_t t0, t1;

	if (calls(kind, WARMUP_CALLS))
		goto failed;
	t0 = now_ns();
	if (calls(kind, n))
		goto failed;
	t1 = now_ns();
	printf("%s %ld %.1f\n", kind, n, n > 0 ? (double)(t1 - t0) / (double)n : 0.0);
	return 0;
failed:
	fprintf(stderr, "syscall_cost: %s failed\n", kind);
	return 1;
}

int
main(int argc, char **argv)
{
	const char *kind = argc > 1 ? argv[1] : "all";
	long n = argc > 2 ? atol(argv[2]) : DEFAULT_CALLS;
	int known = !strcmp(kind, "all"), st = 0;

	g_zero_fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	if (g_zero_fd < 0) {
		perror("syscall_cost: /dev/zero");
		return 1;
	}
	for (size_t k = 0; k < sizeof(g_kinds) / sizeof(g_kinds[0]); k++) {
		if (strcmp(kind, "all") && strcmp(kind, g_kinds[k]))
			continue;
		known = 1;
		st |= time_kind(g_kinds[k], n);
	}
	if (!known) {
		fprintf(stderr, "usage: syscall_cost getpid|read|clock_gettime|getppid|all [N]\n");
		return 2;
	}
	return st;
}
