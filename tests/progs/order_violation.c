/* SPDX-License-Identifier: MIT */
/*
 * The bundled order-violation bug: main starts a worker thread and only
 * afterwards sets up the configuration the worker reads. The worker first
 * warms up politely (WARMUP_YIELDS rounds of sched_yield(2) and a short spin),
 * then reads the configuration pointer; NULL means it got there first: the
 * program says so and exits 1, where a real program would crash.
 *
 * Natively the bug almost never shows: a worker started on main's CPU
 * yields it back to main, which publishes within microseconds, and one
 * started on the other CPU takes longer than that to get going. A scheduler
 * that runs the thread of highest priority, yield or not (chaos mode draws
 * random priorities), runs the new worker first about half the time, and
 * the worker then reads NULL. With round-robin scheduling the yields hand the
 * CPU to main, as natively.
 *
 * Prints the same lines in every run that does not hit the bug.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "progs.h"

/* Rounds of "parsing" main does between starting the worker and publishing
 * the configuration; the worker's warm-up: yields, and spins after each. */
#define LOAD_ROUNDS 2000
#define WARMUP_YIELDS 3
#define WARMUP_SPINS 500

struct config {
	int threshold;
	int scale;
};

static struct config g_storage;
/* BUG: published after the worker that reads it has been started. The
 * release/acquire pair is right; the order of the two threads is not. */
static struct config *_Atomic g_config;

static void *
worker(void *arg)
{
	struct config *c;
	long sum = 0;

	(void)arg;
	for (int i = 0; i < WARMUP_YIELDS; i++) {
		volatile long spin = 0;

		sched_yield();
		while (spin < WARMUP_SPINS)
			spin++;
	}
	c = atomic_load_explicit(&g_config, memory_order_acquire);
	if (!c) {
		say("order_violation: BUG: the worker read the configuration before main "
		    "published it\n");
		_exit(1);
	}
	for (int i = 0; i < 100; i++)
		sum += i % c->threshold * c->scale;
	say("worker: threshold %d, scale %d, sum %ld\n", c->threshold, c->scale, sum);
	return NULL;
}

static void
load_config(struct config *c)
{
	volatile uint64_t x = 12345;

	for (int i = 0; i < LOAD_ROUNDS; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	c->threshold = 7;
	c->scale = 3;
}

int
main(void)
{
	pthread_t t;

	say("order_violation: starting the worker, then loading the configuration\n");
	if (pthread_create(&t, NULL, worker, NULL))
		die("order_violation: pthread_create failed");
	load_config(&g_storage);
	atomic_store_explicit(&g_config, &g_storage, memory_order_release);
	pthread_join(t, NULL);
	say("order_violation: ok\n");
	return 0;
}
