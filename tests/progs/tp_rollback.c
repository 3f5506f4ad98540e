/* SPDX-License-Identifier: MIT */
/*
 * For the rollback of an end-of-epoch divergence (doc/uniparallel.md,
 * "Divergence and rollback"; e2e tp-rollback-merge): two threads add to a
 * global counter under a mutex and note their last round in a global each,
 * then sleep 1 ms (clock_nanosleep(2), where a TP run's epochs find them
 * and an EP run finds its ends). No race: the EP run verifies unless made
 * to diverge (UPRR_EP_DIVERGE), which then merges the EP process into its
 * checkpoint's copy and checks that epoch again.
 *
 * Prints the counter and each thread's rounds: the same in every run.
 * Usage: tp_rollback [ROUNDS]
 */
#include <pthread.h>

#include "progs.h"

#define NTHREADS 2

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t g_counter;
static volatile long g_last[NTHREADS];
static long g_rounds = 300;

static void *
thread_main(void *arg)
{
	long id = (long)(intptr_t)arg;
	struct timespec ms = { 0, 1000000 };

	for (long r = 0; r < g_rounds; r++) {
		pthread_mutex_lock(&g_lock);
		g_counter += (uint64_t)id + 1;
		pthread_mutex_unlock(&g_lock);
		g_last[id] = r;
		nanosleep(&ms, NULL);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t th[NTHREADS];

	if (argc > 1)
		g_rounds = atol(argv[1]);
	for (long i = 0; i < NTHREADS; i++)
		if (pthread_create(&th[i], NULL, thread_main, (void *)(intptr_t)i) != 0)
			die("pthread_create failed");
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	say("tp_rollback: %d threads, counter %llu, last rounds %ld %ld", NTHREADS,
	    (unsigned long long)g_counter, g_last[0], g_last[1]);
	return 0;
}
