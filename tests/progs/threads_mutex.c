/* SPDX-License-Identifier: MIT */
/*
 * Four threads share a counter under a mutex, in rounds separated by a
 * barrier made of a mutex and a condition variable. Which thread wins each
 * increment depends on the schedule, so the per-thread counts differ from
 * run to run natively; the totals do not. Exercises futex wait/wake and
 * sched_yield.
 *
 * Exits 1 if the totals are wrong.
 */
#include <pthread.h>
#include <sched.h>

#include "progs.h"

#define NTHREADS 4
#define NROUNDS 10
#define QUOTA 2000

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_round_done = PTHREAD_COND_INITIALIZER;
static long g_counter;
static int g_round;
static int g_round_count;
static int g_arrived;
static int g_counts[NROUNDS][NTHREADS];

static void *
thread_main(void *arg)
{
	int id = (int)(intptr_t)arg;
	long mine = 0;

	pthread_mutex_lock(&g_lock);
	while (g_round < NROUNDS) {
		int round = g_round;

		if (g_round_count < QUOTA) {
			g_counter++;
			g_round_count++;
			g_counts[round][id]++;
			mine++;
			if (mine % 64 == 0) {
				pthread_mutex_unlock(&g_lock);
				sched_yield();
				pthread_mutex_lock(&g_lock);
			}
			continue;
		}
		/* Barrier: the last thread to arrive starts the next round. */
		if (++g_arrived == NTHREADS) {
			g_arrived = 0;
			g_round_count = 0;
			g_round++;
			pthread_cond_broadcast(&g_round_done);
		} else {
			while (g_round == round)
				pthread_cond_wait(&g_round_done, &g_lock);
		}
	}
	pthread_mutex_unlock(&g_lock);
	return (void *)mine;
}

int
main(void)
{
	pthread_t t[NTHREADS];
	long total = 0;

	for (int i = 0; i < NTHREADS; i++)
		if (pthread_create(&t[i], NULL, thread_main, (void *)(intptr_t)i))
			die("threads_mutex: pthread_create failed");
	for (int i = 0; i < NTHREADS; i++) {
		void *ret;

		pthread_join(t[i], &ret);
		say("thread %d: %ld increments\n", i, (long)ret);
		total += (long)ret;
	}
	for (int r = 0; r < NROUNDS; r++) {
		say("round %d:", r);
		for (int i = 0; i < NTHREADS; i++)
			say(" %d", g_counts[r][i]);
		say("\n");
	}
	say("total %ld, counter %ld, expected %d\n", total, g_counter, NROUNDS * QUOTA);
	if (total != NROUNDS * QUOTA || g_counter != total) {
		say("threads_mutex: WRONG TOTAL\n");
		return 1;
	}
	return 0;
}
