/* SPDX-License-Identifier: MIT */
/*
 * An EP run (`uprr record --mode=tp`) that cannot follow its
 * synchronization order, with nothing that tells it so at once: a thread
 * waits for a turn the log gives an operation this run does not make.
 *
 * Two adders add to one counter without a lock (tests/progs/tp_race's race:
 * a TP run on 2 CPUs loses increments, an EP run, one thread at a time,
 * none). After joining them, the main thread locks and unlocks a mutex if
 * some were lost, then lets a third thread go (a flag it polls with
 * sched_yield(2), which an EP run does not match with the log), which
 * locks and unlocks the same mutex, then joins it. The TP run that lost
 * increments logs the main thread's lock, then the third thread's; its EP
 * run, which lost none, makes no lock in the main thread (its last
 * operation: the interposer finds nothing different), and the third thread
 * waits for a turn that never comes while the main thread waits in
 * pthread_join(3): every thread in a futex wait. Prints one line, the same
 * in every run. Usage: tp_sync_stuck [ROUNDS]
 */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>

#include "progs.h"

#define NADDERS 2
#define INCS_PER_CALL 20

static volatile uint64_t g_counter;
static volatile int g_go;
static long g_rounds = 2000;
static int g_null;
static pthread_mutex_t g_mutex = PTHREAD_MUTEX_INITIALIZER;

static void *
adder(void *arg)
{
	char byte = (char)('0' + (int)(intptr_t)arg);

	for (long r = 0; r < g_rounds; r++) {
		for (int i = 0; i < INCS_PER_CALL; i++)
			racy_add(&g_counter, 200);
		/* a syscall now and then: where epochs find the threads */
		if (write(g_null, &byte, 1) != 1)
			die("write /dev/null: %s", strerror(errno));
	}
	return NULL;
}

static void *
late(void *arg)
{
	(void)arg;
	while (!g_go)
		sched_yield();
	pthread_mutex_lock(&g_mutex);
	pthread_mutex_unlock(&g_mutex);
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t th[NADDERS], last;

	if (argc > 1)
		g_rounds = atol(argv[1]);
	g_null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (g_null < 0)
		die("open /dev/null: %s", strerror(errno));
	for (long i = 0; i < NADDERS; i++)
		if (pthread_create(&th[i], NULL, adder, (void *)(intptr_t)i) != 0)
			die("pthread_create failed");
	if (pthread_create(&last, NULL, late, NULL) != 0)
		die("pthread_create failed");
	for (int i = 0; i < NADDERS; i++)
		pthread_join(th[i], NULL);
	if (g_counter != (uint64_t)NADDERS * (uint64_t)g_rounds * INCS_PER_CALL) {
		pthread_mutex_lock(&g_mutex);
		pthread_mutex_unlock(&g_mutex);
	}
	g_go = 1;
	pthread_join(last, NULL);
	say("tp_sync_stuck: %d adders, %ld rounds each", NADDERS, g_rounds);
	/* exit status, not output: 0 whatever was lost */
	return 0;
}
