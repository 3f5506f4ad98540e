/* SPDX-License-Identifier: MIT */
/*
 * A floating-point reduction over 2 threads under a mutex (`uprr record
 * --mode=tp`): each thread adds its terms, one per lock, to a shared double.
 * Floating-point addition is not associative, so the sum's last bits
 * depend on the order the threads took the lock in: natively it differs
 * from run to run; a recording must print the order its TP run took, and
 * its replay the same. Prints whether the sum is within rounding of the
 * exact total (as natively), then its bits and the number of times the
 * lock changed hands (as the run's order made them).
 */
#include <pthread.h>

#include "progs.h"

#define NTERMS 3000
/* work between two additions, outside the lock (~10 us), so that the
 * threads take turns at the lock even where a wake costs a ptrace stop */
#define WORK 4000

/* work between the locks, which the compiler cannot drop: each thread's
 * own (one shared by both, added to without the lock, was a race: its
 * value at an epoch's end differed between a TP run and an EP run) */
static __thread volatile unsigned sink;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t t[2];
static pthread_barrier_t start;
static double sum;
static int last = -1;
static long handoffs;

/* thread 0 adds terms near 1e8, thread 1 terms near 0.1: each addition of
 * a small term to a large sum rounds, differently in each order */
static double
term(int who, int i)
{
	return who == 0 ? 1e8 / 3.0 + i : 0.1 * (i % 7 + 1) / 3.0;
}

static void *
adder(void *arg)
{
	int who = (int)(long)arg;

	pthread_barrier_wait(&start);
	for (int i = 0; i < NTERMS; i++) {
		for (int w = 0; w < WORK; w++)
			sink += (unsigned)w;
		pthread_mutex_lock(&lock);
		sum += term(who, i);
		if (last != who)
			handoffs++;
		last = who;
		pthread_mutex_unlock(&lock);
	}
	/* thread 1 leaves after thread 0 has: a thread's exit gives its
	 * malloc arena and cache back under glibc's own locks
	 * (arena_thread_freeres()), whose order is not logged; two exits at
	 * once leave malloc's lists in either order (seen at an epoch's end:
	 * a TP run's and an EP run's arena free lists in reverse order) */
	if (who == 1 && pthread_join(t[0], NULL) != 0)
		die("pthread_join");
	return NULL;
}

int
main(void)
{
	double exact = 0;

	pthread_barrier_init(&start, NULL, 2);
	for (long i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, adder, (void *)i) != 0)
			die("pthread_create");
	/* thread 1 joined thread 0 */
	pthread_join(t[1], NULL);
	/* long double: an order-independent reference within 1e-9 relative */
	{
		long double e = 0;

		for (int who = 0; who < 2; who++)
			for (int i = 0; i < NTERMS; i++)
				e += term(who, i);
		exact = (double)e;
	}
	say("tp_fsum: within rounding of the exact total: %s\n",
	    (sum > exact ? sum - exact : exact - sum) <= 1e-9 * exact ? "yes" : "no");
	say("tp_fsum: sum %a, the lock changed hands %ld times\n", sum, handoffs);
	return 0;
}
