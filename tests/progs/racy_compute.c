/* SPDX-License-Identifier: MIT */
/*
 * Two threads run long computations in chunks of different lengths, with no
 * syscall between chunks. After each chunk a thread appends its id to a
 * shared array through a plain index, with no lock and no atomics: a data
 * race on purpose. The order of the ids shows how the threads interleaved,
 * and two appends that race lose one of them; both differ between native
 * runs. Under a one-thread-at-a-time recorder the order shows where the
 * threads were preempted, which replay must reproduce.
 */
#include <pthread.h>

#include "progs.h"

#define NTHREADS 2
#define NAPPENDS (48 + 30)
#define LINE 60

static const int nchunks[NTHREADS] = { 48, 30 };
static const long chunk_rounds[NTHREADS] = { 800000, 1280000 };

/* volatile so that every append reads and writes memory; still not atomic. */
static volatile int g_n;
static volatile char g_order[NAPPENDS];

static void
append(int id)
{
	int n = g_n;

	if (n < NAPPENDS)
		g_order[n] = (char)('0' + id);
	g_n = n + 1;
}

static void *
thread_main(void *arg)
{
	int id = (int)(intptr_t)arg;
	uint64_t h = FNV1A_INIT + (uint64_t)id;

	for (int c = 0; c < nchunks[id]; c++) {
		for (long i = 0; i < chunk_rounds[id]; i++) {
			h ^= (uint64_t)i;
			h *= 0x100000001b3ull;
			h ^= h >> 23;
		}
		append(id);
	}
	return (void *)(uintptr_t)h;
}

int
main(void)
{
	pthread_t t[NTHREADS];
	uint64_t h[NTHREADS];
	char line[LINE + 1];
	int n, switches = 0;

	for (int i = 0; i < NTHREADS; i++)
		if (pthread_create(&t[i], NULL, thread_main, (void *)(intptr_t)i))
			die("racy_compute: pthread_create failed");
	for (int i = 0; i < NTHREADS; i++) {
		void *ret;

		pthread_join(t[i], &ret);
		h[i] = (uint64_t)(uintptr_t)ret;
		say("thread %d: %d chunks of %ld rounds, hash %016llx\n", i, nchunks[i],
		    chunk_rounds[i], (unsigned long long)h[i]);
	}
	n = g_n < NAPPENDS ? g_n : NAPPENDS;
	say("order of the chunks (%d of %d appends kept):\n", n, NAPPENDS);
	for (int i = 0; i < n; i += LINE) {
		int len = n - i < LINE ? n - i : LINE;

		for (int j = 0; j < len; j++)
			line[j] = g_order[i + j];
		line[len] = '\0';
		say("  %s\n", line);
	}
	for (int i = 1; i < n; i++)
		switches += g_order[i] != g_order[i - 1];
	say("%d switches between the threads, %d appends lost\n", switches, NAPPENDS - g_n);
	say("racy_compute: ok\n");
	return 0;
}
