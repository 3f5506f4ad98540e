/* SPDX-License-Identifier: MIT */
/*
 * Two threads take turns NTURNS times, each waiting for its turn with
 * sched_yield(2) in a loop (Go's runtime and many spin locks wait so). Then
 * four workers share a counter under a mutex and yield now and then while
 * they hold no lock, as threads_mutex does.
 *
 * Under uprr the syscall buffer takes sched_yield, up to a number in a
 * batch (UPRR_YIELDS_PER_BATCH): a waiter gives the CPU to the other thread
 * after that many, not at the end of its timeslice (a whole timeslice per
 * turn: seconds), and a worker that yields while it works keeps the CPU.
 *
 * The output is the same in every run; exits 1 if a count is wrong.
 */
#include <pthread.h>
#include <sched.h>

#include "progs.h"

#define NTURNS 400
#define NWORKERS 4
#define PER_WORKER 4096

static volatile int g_turn;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static long g_counter;

static void *
taker(void *arg)
{
	int me = (int)(intptr_t)arg;

	for (int i = 0; i < NTURNS; i++) {
		while (__atomic_load_n(&g_turn, __ATOMIC_ACQUIRE) != me)
			sched_yield();
		__atomic_store_n(&g_turn, !me, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void *
worker(void *arg)
{
	(void)arg;
	for (int i = 1; i <= PER_WORKER; i++) {
		pthread_mutex_lock(&g_lock);
		g_counter++;
		pthread_mutex_unlock(&g_lock);
		if (i % 64 == 0)
			sched_yield();
	}
	return NULL;
}

int
main(void)
{
	pthread_t t[NWORKERS];

	for (int i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, taker, (void *)(intptr_t)i))
			die("yield_turns: pthread_create failed");
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	say("yield_turns: %d turns each\n", NTURNS);
	for (int i = 0; i < NWORKERS; i++)
		if (pthread_create(&t[i], NULL, worker, NULL))
			die("yield_turns: pthread_create failed");
	for (int i = 0; i < NWORKERS; i++)
		pthread_join(t[i], NULL);
	say("yield_turns: counter %ld of %d\n", g_counter, NWORKERS * PER_WORKER);
	if (g_counter != NWORKERS * PER_WORKER)
		return 1;
	say("yield_turns: ok\n");
	return 0;
}
