/* SPDX-License-Identifier: MIT */
/*
 * The bundled racy program: a configuration pointer that a reloader thread
 * replaces while two worker threads use it. The workers check the pointer,
 * pause (a nanosleep, a write), then read it again to use it: a
 * check-then-use race. Most reloads swap the pointer in one store, but a
 * "slow" reload retires the old configuration first and publishes the new
 * one a millisecond later; a worker that checked before the retirement and
 * uses the pointer after it dereferences NULL and dies of SIGSEGV.
 *
 * Whether that happens depends on the interleaving of the threads, so it
 * crashes in some runs only (about 30-40 %), natively and under a scheduler
 * that runs one thread at a time and switches only at syscalls: the
 * worker's check and its use are separated by syscalls, where such a
 * scheduler lets the reloader run. Sleeps are random (seeded by getrandom),
 * so runs differ.
 *
 * Exits 0 and prints "racy_crash: survived" when it does not crash.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "progs.h"

#define NWORKERS 2
#define NRELOADS 6
#define SLOW_RELOAD_PERCENT 7
#define MAX_ITERATIONS 20000

struct config {
	int version;
	int value;
};

/* Read and written with relaxed atomics: the bug is the check-then-use
 * pattern, not a torn access. */
static struct config *_Atomic g_config;
static atomic_int g_done;
static uint64_t g_seed;

static struct config *
config_new(int version, uint64_t *rng)
{
	struct config *c = malloc(sizeof(*c));

	if (!c)
		die("racy_crash: out of memory");
	c->version = version;
	c->value = (int)(rng_next(rng) % 1000);
	return c;
}

static void *
reloader(void *arg)
{
	uint64_t rng = g_seed ^ 0x5bd1e995u;

	(void)arg;
	for (int v = 1; v <= NRELOADS; v++) {
		struct config *fresh;

		sleep_us(2000 + rng_next(&rng) % 3000);
		fresh = config_new(v, &rng);
		if (rng_next(&rng) % 100 < SLOW_RELOAD_PERCENT) {
			/* The old configuration is retired before the new one is
			 * ready; a worker between its check and its use sees NULL.
			 * Retired configurations are leaked on purpose, so the bug
			 * shows as a NULL dereference, not a use after free. */
			atomic_store_explicit(&g_config, NULL, memory_order_relaxed);
			say("reloader: slow reload to v%d\n", v);
			sleep_us(1000 + rng_next(&rng) % 1000);
			atomic_store_explicit(&g_config, fresh, memory_order_relaxed);
		} else {
			atomic_store_explicit(&g_config, fresh, memory_order_relaxed);
			say("reloader: reload to v%d\n", v);
		}
	}
	atomic_store(&g_done, 1);
	return NULL;
}

static void *
worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	uint64_t rng = g_seed + (uint64_t)id * 0x9e3779b97f4a7c15ull;
	unsigned long sum = 0;
	int i, waits = 0;

	for (i = 0; i < MAX_ITERATIONS && !atomic_load(&g_done); i++) {
		if (atomic_load_explicit(&g_config, memory_order_relaxed) == NULL) {
			waits++;
			sleep_us(100);
			continue;
		}
		/* The window: syscalls between the check and the use. */
		if (i % 32 == 0)
			say("worker %d: iteration %d, sum %lu\n", id, i, sum);
		sleep_us(rng_next(&rng) % 200);
		/* BUG: reads the pointer again instead of using the one checked. */
		sum += atomic_load_explicit(&g_config, memory_order_relaxed)->value;
	}
	say("worker %d: done after %d iterations (%d waits), sum %lu\n", id, i, waits, sum);
	return NULL;
}

int
main(void)
{
	pthread_t workers[NWORKERS], rel;
	uint64_t rng;

	g_seed = random_seed();
	rng = g_seed;
	atomic_store(&g_config, config_new(0, &rng));
	say("racy_crash: %d workers, %d reloads\n", NWORKERS, NRELOADS);
	for (int i = 0; i < NWORKERS; i++)
		if (pthread_create(&workers[i], NULL, worker, (void *)(intptr_t)(i + 1)))
			die("racy_crash: pthread_create failed");
	if (pthread_create(&rel, NULL, reloader, NULL))
		die("racy_crash: pthread_create failed");
	pthread_join(rel, NULL);
	for (int i = 0; i < NWORKERS; i++)
		pthread_join(workers[i], NULL);
	say("racy_crash: survived\n");
	return 0;
}
