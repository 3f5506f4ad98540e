/* SPDX-License-Identifier: MIT */
/*
 * Benchmark of soft ticks (bench/ticks.sh): the cost of a branch-heavy,
 * CPU-bound loop while counting code is installed in it, and where it is not.
 *
 * Phase "alone": one thread runs loop_alone(); nothing else is runnable, so
 * uprr never needs to preempt it and never installs counting code there.
 * Phase "contended": two threads run loop_contended() at once; uprr preempts
 * them at counted points, so it installs counting code in that loop.
 * Each phase prints the CPU time (ns) its threads spent in the loop, per
 * thread (CLOCK_THREAD_CPUTIME_ID), which leaves out the time a thread waits
 * for the CPU while the other runs.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t iterations;

static uint64_t
thread_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A loop with data-dependent branches (a Collatz walk), kept out of line so
 * each phase has its own code. */
#define LOOP_BODY                                                   \
	uint64_t x = seed, steps = 0;                               \
	for (uint64_t i = 0; i < iterations; i++) {                 \
		if (x & 1)                                          \
			x = 3 * x + 1;                              \
		else                                                \
			x >>= 1;                                    \
		if (x <= 1)                                         \
			x = seed + i;                               \
		steps += x & 7;                                     \
	}                                                           \
	return steps;

static __attribute__((noipa)) uint64_t
loop_alone(uint64_t seed)
{
	LOOP_BODY
}

static __attribute__((noipa)) uint64_t
loop_contended(uint64_t seed)
{
	LOOP_BODY
}

struct result {
	uint64_t seed, sum, ns;
};

static void *
contended(void *arg)
{
	struct result *res = arg;
	uint64_t t0 = thread_ns();

	res->sum = loop_contended(res->seed);
	res->ns = thread_ns() - t0;
	return NULL;
}

int
main(int argc, char **argv)
{
	struct result alone = { 27, 0, 0 }, a = { 31, 0, 0 }, b = { 41, 0, 0 };
	pthread_t ta, tb;
	uint64_t t0;

	iterations = argc > 1 ? strtoull(argv[1], NULL, 0) : 200000000u;
	t0 = thread_ns();
	alone.sum = loop_alone(alone.seed);
	alone.ns = thread_ns() - t0;
	pthread_create(&ta, NULL, contended, &a);
	pthread_create(&tb, NULL, contended, &b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	printf("alone %llu ns (sum %llu)\n", (unsigned long long)alone.ns, (unsigned long long)alone.sum);
	printf("contended %llu ns (sums %llu %llu)\n", (unsigned long long)((a.ns + b.ns) / 2),
	       (unsigned long long)a.sum, (unsigned long long)b.sum);
	return 0;
}
