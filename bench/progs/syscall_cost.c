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
 *   getpid_unpatched  getpid from a syscall instruction that uprr cannot
 *                  patch (nops around it): the fallback's cost
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

static const char *const g_kinds[] = { "getpid", "read", "clock_gettime", "getppid", "getpid_unpatched" };

/* getpid from a syscall instruction of its own, of neither shape that
 * recorder/syscallbuf-patch.c rewrites */
static long
unpatched_getpid(void)
{
	long ret;

	__asm__ __volatile__("nop\n\tnop\n\tnop\n\tnop\n\tnop\n\tnop\n\tnop\n\tsyscall\n\tnop"
			     : "=a"(ret)
			     : "a"((long)SYS_getpid)
			     : "rcx", "r11", "memory");
	return ret;
}
static int g_zero_fd = -1;

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Makes @n calls of kind @k (an index in g_kinds), the kind chosen outside
 * the loop; returns the number that failed. */
static long
calls(size_t k, long n)
{
	char buf[64];
	struct timespec ts;
	long bad = 0;

	switch (k) {
	case 0:
		for (long i = 0; i < n; i++)
			bad += syscall(SYS_getpid) < 0;
		break;
	case 1:
		for (long i = 0; i < n; i++)
			bad += syscall(SYS_read, g_zero_fd, buf, sizeof(buf)) != sizeof(buf);
		break;
	case 2:
		for (long i = 0; i < n; i++)
			bad += syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) < 0;
		break;
	case 3:
		for (long i = 0; i < n; i++)
			bad += syscall(SYS_getppid) < 0;
		break;
	default:
		for (long i = 0; i < n; i++)
			bad += unpatched_getpid() < 0;
		break;
	}
	return bad;
}

static int
time_kind(size_t k, long n)
{
	int64_t t0, t1;

	if (calls(k, WARMUP_CALLS))
		goto failed;
	t0 = now_ns();
	if (calls(k, n))
		goto failed;
	t1 = now_ns();
	printf("%s %ld %.1f\n", g_kinds[k], n, n > 0 ? (double)(t1 - t0) / (double)n : 0.0);
	return 0;
failed:
	fprintf(stderr, "syscall_cost: %s failed\n", g_kinds[k]);
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
		st |= time_kind(k, n);
	}
	if (!known) {
		fprintf(stderr, "usage: syscall_cost getpid|read|clock_gettime|getppid|getpid_unpatched|all [N]\n");
		return 2;
	}
	return st;
}
