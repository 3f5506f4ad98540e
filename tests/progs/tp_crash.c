/* SPDX-License-Identifier: MIT */
/*
 * A crash in a thread of a program that runs threads at once, with no race
 * (issue 15: a tp trace replays "crash included"): two threads make a
 * syscall every round (a write of one byte to /dev/null) and compute in
 * between, at once; thread 0 then says it is done (a mutex and a condition
 * variable) and waits for good, and thread 1, once it has, dereferences
 * NULL. Where each thread stands when the crash kills the process is
 * fixed (thread 0 waits, main joins: a crash while thread 0 still runs
 * would end it after as many of its syscalls as the timing gave, a
 * divergence), so a TP run and its EP run both die of it, at the same
 * instruction of the same thread, and the trace's replay does too.
 *
 * Prints one line before the threads start; dies of SIGSEGV.
 */
#include <fcntl.h>
#include <pthread.h>

#include "progs.h"

#define NTHREADS 2
#define ROUNDS 150

static int g_null, g_done;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_done_cond = PTHREAD_COND_INITIALIZER, g_never = PTHREAD_COND_INITIALIZER;
static int *volatile g_nowhere;
static volatile uint64_t g_sink[NTHREADS];

static void *
thread_main(void *arg)
{
	long id = (long)(intptr_t)arg;
	char byte = (char)('0' + id);
	uint64_t h = FNV1A_INIT + (uint64_t)id;

	for (long r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < 40000; i++)
			h = fnv1a(h, &i, sizeof(i));
		g_sink[id] = h;
		if (write(g_null, &byte, 1) != 1)
			die("write /dev/null: %s", strerror(errno));
	}
	pthread_mutex_lock(&g_lock);
	if (id == 0) {
		g_done = 1;
		pthread_cond_signal(&g_done_cond);
		for (;;)
			pthread_cond_wait(&g_never, &g_lock);
	}
	while (!g_done)
		pthread_cond_wait(&g_done_cond, &g_lock);
	pthread_mutex_unlock(&g_lock);
	*g_nowhere = 1;
	return NULL;
}

int
main(void)
{
	pthread_t th[NTHREADS];

	g_null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (g_null < 0)
		die("open /dev/null: %s", strerror(errno));
	say("tp_crash: %d threads, %d rounds each, then thread 1 dereferences NULL", NTHREADS,
	    ROUNDS);
	for (long i = 0; i < NTHREADS; i++)
		if (pthread_create(&th[i], NULL, thread_main, (void *)(intptr_t)i) != 0)
			die("pthread_create failed");
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	say("tp_crash: not crashed");
	return 1;
}
