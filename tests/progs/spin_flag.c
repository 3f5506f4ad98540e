/* SPDX-License-Identifier: MIT */
/*
 * Threads that wait for each other by spinning on plain volatile ints, with
 * no syscall in the loop:
 *  1. the worker spins until main, after a stretch of work, publishes a
 *     result and sets a flag;
 *  2. then NROUNDS of ping-pong: each thread spins until it is its turn.
 * How many times each loop spins depends on the timing, so natively the
 * counts differ from run to run. A recorder that switches threads only at
 * syscalls never gets out of the first loop: it must preempt the spinning
 * thread at a counted point, and replay must preempt it at the same one.
 *
 * Every wait gives up after SPIN_LIMIT spins (about a second natively, far
 * more than any timeslice) and the program then exits 1.
 */
#include <pthread.h>

#include "progs.h"

#define WORK_ROUNDS 2000000
#define NROUNDS 8
#define SPIN_LIMIT 1000000000L

static volatile int g_flag;
static volatile uint64_t g_result;
static volatile int g_turn;
/* Set by the first wait that gives up; every wait stops on it. */
static volatile int g_gave_up;
static long g_first_spins;
static uint64_t g_seen;
static long g_spins[2][NROUNDS];

/* Spins until *@word == @want; returns the number of spins, or -1 (and
 * makes every other wait stop) after SPIN_LIMIT spins. */
static long
wait_for(volatile int *word, int want)
{
	long n = 0;

	while (*word != want) {
		if (g_gave_up)
			return -1;
		if (++n == SPIN_LIMIT) {
			g_gave_up = 1;
			return -1;
		}
	}
	return n;
}

static uint64_t
work(uint64_t x, long rounds)
{
	for (long i = 0; i < rounds; i++) {
		x ^= x >> 13;
		x *= 0xff51afd7ed558ccdull;
		x += (uint64_t)i;
	}
	return x;
}

static void *
worker(void *arg)
{
	(void)arg;
	g_first_spins = wait_for(&g_flag, 1);
	g_seen = g_result;
	for (int r = 0; r < NROUNDS; r++) {
		g_spins[1][r] = wait_for(&g_turn, 2 * r + 1);
		if (g_spins[1][r] < 0)
			break;
		g_turn = 2 * r + 2;
	}
	return NULL;
}

int
main(void)
{
	uint64_t seed = random_seed(), result, x;
	pthread_t t;
	int bad = 0;

	say("spin_flag: worker waits for %d rounds of work, then %d ping-pong rounds\n",
	    WORK_ROUNDS, NROUNDS);
	if (pthread_create(&t, NULL, worker, NULL))
		die("spin_flag: pthread_create failed");
	result = work(seed, WORK_ROUNDS);
	g_result = result;
	/* Both volatile: the compiler keeps the stores in this order, and x86
	 * keeps stores in order, so the worker sees the result once the flag. */
	g_flag = 1;
	x = result;
	for (int r = 0; r < NROUNDS; r++) {
		g_spins[0][r] = wait_for(&g_turn, 2 * r);
		if (g_spins[0][r] < 0)
			break;
		x = work(x, 1000);
		g_turn = 2 * r + 1;
	}
	pthread_join(t, NULL);

	say("phase 1: the worker spun %ld times, then saw result %016llx (%s)\n", g_first_spins,
	    (unsigned long long)g_seen, g_seen == result ? "right" : "WRONG");
	say("phase 2: main's work %016llx\n", (unsigned long long)x);
	bad |= g_seen != result;
	for (int r = 0; r < NROUNDS; r++)
		say("round %d: main spun %ld times, the worker %ld times\n", r, g_spins[0][r],
		    g_spins[1][r]);
	if (g_gave_up) {
		say("spin_flag: GAVE UP after %ld spins: the other thread never ran\n", SPIN_LIMIT);
		return 1;
	}
	if (bad) {
		say("spin_flag: WRONG RESULT\n");
		return 1;
	}
	say("spin_flag: ok\n");
	return 0;
}
