/* SPDX-License-Identifier: MIT */
/*
 * The cost of a pthread_mutex_lock + unlock pair (bench/sync.sh runs it
 * natively and under libuprr-sync.so in LOG and FOLLOW mode):
 *
 *   sync_lock ITERATIONS THREADS [malloc]
 *
 * THREADS threads each lock and unlock one shared mutex ITERATIONS times,
 * adding to a counter under it; prints the wall time per pair (all pairs
 * of all threads) in ns. With "malloc": a malloc(64) + free pair instead
 * (the cost of --heap).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static long counter, iterations;
static int use_malloc;

static void *
worker(void *arg)
{
	if (use_malloc) {
		for (long i = 0; i < iterations; i++) {
			void *volatile p = malloc(64);

			free(p);
		}
		__atomic_fetch_add(&counter, iterations, __ATOMIC_RELAXED);
		return arg;
	}
	for (long i = 0; i < iterations; i++) {
		pthread_mutex_lock(&mtx);
		counter++;
		pthread_mutex_unlock(&mtx);
	}
	return arg;
}

int
main(int argc, char **argv)
{
	struct timespec a, b;
	pthread_t t[64];
	int n;

	if (argc != 3 && argc != 4)
		return 2;
	use_malloc = argc == 4;
	iterations = atol(argv[1]);
	n = atoi(argv[2]);
	if (n < 1 || n > 64 || iterations < 1)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.1f ns per %s (%d threads x %ld, counter %ld)\n",
		((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / ((double)iterations * n),
		use_malloc ? "malloc+free" : "lock+unlock", n,
		iterations, counter);
	return counter == iterations * n ? 0 : 1;
}
