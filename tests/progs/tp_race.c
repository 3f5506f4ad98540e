/* SPDX-License-Identifier: MIT */
/*
 * A data race an EP run's epoch check must see (issue 15, item 4): two
 * threads add to one counter without a lock or atomics, a read, some work,
 * then a write back, so that increments made at once on two CPUs are lost.
 * Every INCS_PER_CALL increments each thread makes a syscall (a write of
 * one byte to /dev/null), so that a TP run's epochs find the threads in
 * syscalls, where an EP run finds its ends. Lost increments make the TP
 * run's counter differ from the EP run's, which runs one thread at a time:
 * the check of that epoch diverges.
 *
 * The first QUIET rounds make only the syscall: the race starts after the
 * EP run's first checks (a first check compares every writable page, the
 * later ones only the pages the dirty logs list: those must show it).
 *
 * Prints the rounds each thread made (the same in every run); the counter
 * itself is checked, not printed: a write of it would differ between the
 * two runs, a divergence at a syscall. Usage: tp_race [ROUNDS [QUIET [branch|call]]]
 *
 * With "branch", the main thread then locks one mutex if no increment was
 * lost and another if some were: a TP run that lost some and its EP run,
 * which lost none, make other synchronization operations, a divergence
 * from the sync-order log (libuprr-sync's FOLLOW). With "call", it makes
 * a getppid(2) if some were lost: a TP run that lost some makes a syscall
 * its EP run does not, a divergence at a syscall (a printed count would be
 * a held write whose bytes the EP run's replace, not a divergence).
 */
#include <fcntl.h>
#include <pthread.h>

#include "progs.h"

#define NTHREADS 2
#define INCS_PER_CALL 20

static volatile uint64_t g_counter;
static long g_rounds = 2000, g_quiet;
static int g_null;
static pthread_mutex_t g_all = PTHREAD_MUTEX_INITIALIZER, g_lost = PTHREAD_MUTEX_INITIALIZER;

static void *
thread_main(void *arg)
{
	long id = (long)(intptr_t)arg;
	char byte = (char)('0' + id);

	for (long r = 0; r < g_rounds; r++) {
		for (int i = 0; i < INCS_PER_CALL && r >= g_quiet; i++)
			racy_add(&g_counter, 200);
		if (write(g_null, &byte, 1) != 1)
			die("write /dev/null: %s", strerror(errno));
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t th[NTHREADS];
	uint64_t want;

	if (argc > 1)
		g_rounds = atol(argv[1]);
	if (argc > 2)
		g_quiet = atol(argv[2]);
	g_null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (g_null < 0)
		die("open /dev/null: %s", strerror(errno));
	for (long i = 0; i < NTHREADS; i++)
		if (pthread_create(&th[i], NULL, thread_main, (void *)(intptr_t)i) != 0)
			die("pthread_create failed");
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	want = (uint64_t)NTHREADS * (uint64_t)(g_rounds - g_quiet) * INCS_PER_CALL;
	if (argc > 3 && strcmp(argv[3], "branch") == 0) {
		pthread_mutex_t *m = g_counter == want ? &g_all : &g_lost;

		pthread_mutex_lock(m);
		pthread_mutex_unlock(m);
	}
	if (argc > 3 && strcmp(argv[3], "call") == 0 && g_counter != want)
		(void)getppid();
	say("tp_race: %d threads, %ld rounds each, the counter at %p", NTHREADS, g_rounds,
	    (void *)&g_counter);
	/* exit status, not output: 0 whatever was lost (the EP run's
	 * differs, and the trace replays the EP run's) */
	return g_counter > want;
}
