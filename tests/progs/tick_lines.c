/* SPDX-License-Identifier: MIT */
/*
 * A program that runs for a while and prints as it goes, for a recorder
 * killed in the middle of it (e2e killed-recorder): each of THREADS threads
 * (argv[1], default 1) prints LINES numbered lines (argv[2], default 1000),
 * one every INTERVAL ms (argv[3], default 5; about 5 s in all), each after
 * WORK thousand steps of computation (argv[4], default 0: a CPU-bound run,
 * whose EP run takes as long as its TP run's CPU time). Each line is
 * one write(2): "thread T line N total C", where C is a counter the
 * threads share under a mutex, so with several threads the lines' order and
 * totals are the schedule's. The last line is "done C".
 *
 * Exits 1 if a call fails or the total is wrong.
 */
#include <pthread.h>

#include "progs.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static long g_total;
static long g_lines = 1000, g_interval_ms = 5, g_work;
static volatile uint64_t g_sink;

/* @k thousand steps of a xorshift: CPU time, the same in every run. */
static void
work(long k)
{
	uint64_t x = 88172645463325252ull;

	for (long i = 0; i < k * 1000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	g_sink = x;
}

static void *
ticker(void *arg)
{
	int id = (int)(intptr_t)arg;

	for (long i = 0; i < g_lines; i++) {
		struct timespec ts = { g_interval_ms / 1000, (g_interval_ms % 1000) * 1000000L };
		long total;

		work(g_work);
		pthread_mutex_lock(&g_lock);
		total = ++g_total;
		say("thread %d line %ld total %ld\n", id, i, total);
		pthread_mutex_unlock(&g_lock);
		while (nanosleep(&ts, &ts) < 0)
			if (errno != EINTR)
				die("nanosleep: %s", strerror(errno));
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	long nthreads = argc > 1 ? atol(argv[1]) : 1;
	pthread_t tids[16];

	if (argc > 2)
		g_lines = atol(argv[2]);
	if (argc > 3)
		g_interval_ms = atol(argv[3]);
	if (argc > 4)
		g_work = atol(argv[4]);
	if (nthreads < 1 || nthreads > 16 || g_lines < 0 || g_interval_ms < 0 || g_work < 0)
		die("usage: tick_lines [THREADS (1-16) [LINES [INTERVAL_MS [WORK]]]]");
	for (long t = 1; t < nthreads; t++) {
		int r = pthread_create(&tids[t], NULL, ticker, (void *)(intptr_t)t);

		if (r)
			die("pthread_create: %s", strerror(r));
	}
	ticker((void *)0);
	for (long t = 1; t < nthreads; t++)
		pthread_join(tids[t], NULL);
	if (g_total != nthreads * g_lines)
		die("total %ld, expected %ld", g_total, nthreads * g_lines);
	say("done %ld\n", g_total);
	return 0;
}
