/* SPDX-License-Identifier: MIT */
/*
 * A periodic timer faster than a recorder can deliver its signals: an
 * ITIMER_REAL of 50 us fires SIGALRM while the main thread computes in user
 * code, with a second thread (so that restore points and counting code are
 * in play) blocked in read(2). Natively the kernel keeps at most one SIGALRM
 * pending and merges the others (signal(7)); a recorder that queued each
 * one for its own delivery would fall ever further behind and never finish.
 *
 * A recorder slower to deliver a signal than the timer's period must still
 * let the program progress: the handler's rt_sigreturn finds the next one
 * pending at once, wherever the thread stands, even at a syscall instruction.
 *
 * Stops after WANTED handler runs or after LIMIT_S seconds of wall time,
 * whichever comes first, and prints how many ran (at least one) and a
 * checksum of the computation. Exits 1 if no signal arrived.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include "progs.h"

#define WANTED 300
#define LIMIT_S 20
#define STEPS 200000

static volatile sig_atomic_t g_alarms;
static int g_pipe[2];

static void
on_alarm(int sig)
{
	(void)sig;
	g_alarms++;
}

static void *
sleeper(void *arg)
{
	char c;

	(void)arg;
	while (read(g_pipe[0], &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

int
main(void)
{
	struct itimerval it = { { 0, 50 }, { 0, 50 } }, off = { 0 };
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	struct timespec start, now;
	uint64_t sum = 0, rounds = 0;
	pthread_t th;

	if (pipe(g_pipe) < 0 || pthread_create(&th, NULL, sleeper, NULL) != 0)
		die("timer_flood: cannot start: %s", strerror(errno));
	sigaction(SIGALRM, &sa, NULL);
	clock_gettime(CLOCK_MONOTONIC, &start);
	if (setitimer(ITIMER_REAL, &it, NULL) < 0)
		die("timer_flood: setitimer: %s", strerror(errno));
	do {
		for (uint64_t i = 0; i < STEPS && g_alarms < WANTED; i++)
			sum = sum * 6364136223846793005ull + i;
		rounds++;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (g_alarms < WANTED && now.tv_sec - start.tv_sec < LIMIT_S);
	setitimer(ITIMER_REAL, &off, NULL);
	if (write(g_pipe[1], "x", 1) != 1 || pthread_join(th, NULL) != 0)
		die("timer_flood: cannot stop the other thread");
	say("%d handler runs over %llu rounds, checksum %016llx\n", (int)g_alarms,
	    (unsigned long long)rounds, (unsigned long long)sum);
	if (g_alarms == 0)
		die("timer_flood: no SIGALRM arrived");
	say("timer_flood: ok\n");
	return 0;
}
