/* SPDX-License-Identifier: MIT */
/*
 * Four threads increment a shared counter under a pthread spinlock, NINCS
 * times each, with a little work inside the lock and more outside (several
 * milliseconds per thread in all). Each thread counts how often
 * pthread_spin_trylock found the lock taken before it waited in
 * pthread_spin_lock; the holders fold their ids into a hash in the order
 * they got the lock and count the handoffs from one thread to another. All
 * depend on the interleaving, so natively they differ from run to run; the
 * counter does not. Four handoffs mean each thread ran alone to its end.
 *
 * A spinning waiter makes no syscall: under a one-thread-at-a-time recorder
 * it runs until it is preempted at a counted point, and a holder preempted
 * inside the critical section makes every waiter spin a whole timeslice.
 *
 * Exits 1 if the counter is wrong.
 */
#include <pthread.h>

#include "progs.h"

#define NTHREADS 4
#define NINCS 20000
#define WORK_INSIDE 16
#define WORK_OUTSIDE 512

static pthread_spinlock_t g_lock;
static pthread_barrier_t g_start;
static long g_counter;
static uint64_t g_order = FNV1A_INIT;
static int g_last_owner = -1;
static long g_handoffs;
static long g_busy[NTHREADS];

static uint64_t
mix(uint64_t x, int rounds)
{
	for (int i = 0; i < rounds; i++) {
		x ^= x >> 29;
		x *= 0xbf58476d1ce4e5b9ull;
	}
	return x;
}

static void *
thread_main(void *arg)
{
	int id = (int)(intptr_t)arg;
	uint64_t x = (uint64_t)id + 1;
	long busy = 0;

	pthread_barrier_wait(&g_start);
	for (int i = 0; i < NINCS; i++) {
		x = mix(x, WORK_OUTSIDE);
		if (pthread_spin_trylock(&g_lock) != 0) {
			busy++;
			pthread_spin_lock(&g_lock);
		}
		g_counter++;
		g_order = fnv1a(g_order, &id, sizeof(id));
		g_order = mix(g_order, WORK_INSIDE);
		if (g_last_owner != id) {
			g_handoffs++;
			g_last_owner = id;
		}
		pthread_spin_unlock(&g_lock);
	}
	g_busy[id] = busy;
	return (void *)(uintptr_t)x;
}

int
main(void)
{
	pthread_t t[NTHREADS];
	uint64_t sum = 0;

	if (pthread_spin_init(&g_lock, PTHREAD_PROCESS_PRIVATE) ||
	    pthread_barrier_init(&g_start, NULL, NTHREADS))
		die("spinlock: cannot initialize the lock or the barrier");
	for (int i = 0; i < NTHREADS; i++)
		if (pthread_create(&t[i], NULL, thread_main, (void *)(intptr_t)i))
			die("spinlock: pthread_create failed");
	for (int i = 0; i < NTHREADS; i++) {
		void *ret;

		pthread_join(t[i], &ret);
		sum ^= (uint64_t)(uintptr_t)ret;
	}
	for (int i = 0; i < NTHREADS; i++)
		say("thread %d: found the lock taken %ld times\n", i, g_busy[i]);
	say("lock order hash %016llx, %ld handoffs, work %016llx\n", (unsigned long long)g_order,
	    g_handoffs, (unsigned long long)sum);
	say("counter %ld (expected %d)\n", g_counter, NTHREADS * NINCS);
	if (g_counter != NTHREADS * NINCS) {
		say("spinlock: WRONG COUNTER\n");
		return 1;
	}
	say("spinlock: ok\n");
	return 0;
}
