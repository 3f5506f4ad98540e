/* SPDX-License-Identifier: MIT */
/*
 * Benchmark (bench/bench14.sh "spin"): one thread spins on a flag, with no
 * syscall in its loop, until another thread's computation ends (about 0.2 s
 * natively with the default ROUNDS). Natively both run at once on two CPUs,
 * so the program takes as long as the computation. A recorder that runs one
 * thread at a time loses whatever part of each timeslice it gives the
 * spinner; that waste is what the record ratio of this program shows.
 *
 * usage: spin_wait [ROUNDS]
 * Prints the computation's result and how many times the spinner polled.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define DEFAULT_ROUNDS 100000000L

static volatile int g_done;
static volatile uint64_t g_result;
static long g_polls;

static void *
spinner(void *arg)
{
	long n = 0;

	(void)arg;
	while (!g_done)
		n++;
	g_polls = n;
	return NULL;
}

/* A dependent chain of multiplies: one round cannot start before the
 * previous ends, so the time is the same on every CPU of a kind. */
static uint64_t
compute(uint64_t x, long rounds)
{
	for (long i = 0; i < rounds; i++) {
		x ^= x >> 13;
		x *= 0xff51afd7ed558ccdull;
		x += (uint64_t)i;
	}
	return x;
}

int
main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : DEFAULT_ROUNDS;
	pthread_t t;

	if (pthread_create(&t, NULL, spinner, NULL)) {
		fprintf(stderr, "spin_wait: pthread_create failed\n");
		return 1;
	}
	g_result = compute(0x9e3779b97f4a7c15ull, rounds);
	/* volatile both: the result is stored before the flag (x86 keeps
	 * stores in order) */
	g_done = 1;
	pthread_join(t, NULL);
	printf("spin_wait: %ld rounds, result %016llx; the spinner polled %ld times\n", rounds,
	       (unsigned long long)g_result, g_polls);
	return 0;
}
