/* SPDX-License-Identifier: MIT */
/*
 * Spin-waits in processes uprr did not start itself: main forks a child,
 * which forks a grandchild; in each of the two, the main thread spins until
 * a new worker thread runs, and the worker then spins on a plain volatile
 * flag that the main thread sets after a stretch of work, with no syscall in
 * either loop. A recorder that preempts only the
 * first process's threads never gets a spinning child out of its loop.
 *
 * Each process then reaps its children with waitpid(-1, __WALL) until ECHILD
 * and counts them: a restore point kept in a process that is the program's
 * child (a mirror forked with CLONE_PARENT) would show up there.
 *
 * A wait gives up after SPIN_LIMIT spins (about a second natively) and the
 * process then exits 1.
 */
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "progs.h"

#define WORK_ROUNDS 3000000
#define SPIN_LIMIT 1000000000L

static volatile int g_started, g_flag;
static volatile uint64_t g_result;
static uint64_t g_seen;
static long g_spins;

static void *
worker(void *arg)
{
	long n = 0;

	(void)arg;
	g_started = 1;
	while (!g_flag)
		if (++n == SPIN_LIMIT) {
			g_spins = -1;
			return NULL;
		}
	g_spins = n;
	g_seen = g_result;
	return NULL;
}

static uint64_t
work(uint64_t x, long rounds)
{
	for (long i = 0; i < rounds; i++) {
		x ^= x >> 13;
		x *= 0xff51afd7ed558ccdull;
		x += (uint64_t)i;
	}
	return x;
}

/* The spin wait of one process: 0 if the worker saw the result. */
static int
spin_once(const char *who, uint64_t seed)
{
	pthread_t t;
	uint64_t result;

	long n = 0;

	if (pthread_create(&t, NULL, worker, NULL))
		die("spin_child: pthread_create failed");
	/* first wait for the worker to run: whichever thread runs first after
	 * the clone, one of them must be preempted */
	while (!g_started)
		if (++n == SPIN_LIMIT) {
			say("%s: GAVE UP after %ld spins: the worker never ran\n", who, SPIN_LIMIT);
			_exit(1);
		}
	result = work(seed, WORK_ROUNDS);
	g_result = result;
	g_flag = 1;
	pthread_join(t, NULL);
	if (g_spins < 0) {
		say("%s: GAVE UP after %ld spins: the computing thread never ran\n", who,
		    SPIN_LIMIT);
		return 1;
	}
	say("%s: the worker saw %016llx (%s)\n", who, (unsigned long long)g_seen,
	    g_seen == result ? "right" : "WRONG");
	return g_seen != result;
}

/* Reap every child; returns how many there were, or -1 if one failed. */
static int
reap_all(void)
{
	int n = 0, bad = 0, status;

	while (waitpid(-1, &status, __WALL) > 0) {
		n++;
		bad |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	}
	return bad ? -1 : n;
}

int
main(void)
{
	pid_t child, grandchild;
	int bad, n;

	say("spin_child: a worker thread spins in a child and a grandchild\n");
	child = fork();
	if (child < 0)
		die("spin_child: fork failed");
	if (child == 0) {
		grandchild = fork();
		if (grandchild < 0)
			die("spin_child: fork failed");
		if (grandchild == 0)
			_exit(spin_once("grandchild", 7));
		bad = spin_once("child", 3);
		n = reap_all();
		say("child: reaped %d child(ren)\n", n);
		_exit(bad || n != 1);
	}
	n = reap_all();
	say("main: reaped %d child(ren)\n", n);
	if (n != 1) {
		say("spin_child: FAILED\n");
		return 1;
	}
	say("spin_child: ok\n");
	return 0;
}
