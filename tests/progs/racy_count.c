/* SPDX-License-Identifier: MIT */
/*
 * A data race whose result is printed (issue 15, output commit): two
 * threads add to one counter without a lock or atomics (a read, a window,
 * a write back), then main prints the counter. Natively, and in a TP run,
 * increments made at once on two CPUs are lost, and the count printed
 * varies; an EP run, one thread at a time, loses none. So under `uprr
 * record --mode=tp` the write of the count is the first place the two runs
 * differ at a syscall: the TP run's bytes are held (output commit), and the
 * EP run's, whose execution the trace holds, take their place; what is
 * shown is the count of the execution the trace replays.
 *
 * Usage: racy_count [ROUNDS]. Prints "racy_count: COUNT of WANT".
 */
#include <pthread.h>

#include "progs.h"

#define NTHREADS 2

static volatile uint64_t g_counter;
static long g_rounds = 200000;

static void *
thread_main(void *arg)
{
	(void)arg;
	for (long r = 0; r < g_rounds; r++) {
		racy_add(&g_counter, 20);
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
		if (pthread_create(&th[i], NULL, thread_main, NULL) != 0)
			die("pthread_create failed");
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	say("racy_count: %llu of %llu\n", (unsigned long long)g_counter,
	    (unsigned long long)(NTHREADS * g_rounds));
	return 0;
}
