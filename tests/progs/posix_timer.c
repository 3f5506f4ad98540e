/* SPDX-License-Identifier: MIT */
/*
 * A POSIX timer (timer_create(2), SIGEV_SIGNAL with SIGRTMIN, periodic
 * every PERIOD_MS): the program prints a line, waits for TICKS of its
 * signals in sigsuspend(2), printing a line each ROUND ticks, then deletes
 * the timer and prints its count. A fork does not carry the timer, nor
 * does an EP run that answers timer_create(2) from its log: a re-run from
 * a checkpoint, live from there, would wait for a signal that never comes
 * (uprr refuses that re-run, named). The output depends only on TICKS.
 */
#include <signal.h>
#include <time.h>

#include "progs.h"

#define PERIOD_MS 2
#define TICKS 200
#define ROUND 20

static volatile sig_atomic_t g_ticks;

static void
on_tick(int sig)
{
	(void)sig;
	g_ticks++;
}

int
main(void)
{
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN };
	struct itimerspec its = {
		.it_value = { .tv_nsec = PERIOD_MS * 1000000L },
		.it_interval = { .tv_nsec = PERIOD_MS * 1000000L },
	};
	struct sigaction sa = { .sa_handler = on_tick };
	sigset_t block, wait_mask;
	timer_t timer;
	int seen = 0;

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGRTMIN, &sa, NULL) < 0)
		die("sigaction: %s", strerror(errno));
	sigemptyset(&block);
	sigaddset(&block, SIGRTMIN);
	if (sigprocmask(SIG_BLOCK, &block, &wait_mask) < 0)
		die("sigprocmask: %s", strerror(errno));
	sigdelset(&wait_mask, SIGRTMIN);
	say("posix_timer: start\n");
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer) < 0)
		die("timer_create: %s", strerror(errno));
	if (timer_settime(timer, 0, &its, NULL) < 0)
		die("timer_settime: %s", strerror(errno));
	while (g_ticks < TICKS) {
		sigsuspend(&wait_mask);
		if (g_ticks / ROUND > seen) {
			seen = g_ticks / ROUND;
			say("posix_timer: %d rounds\n", seen);
		}
	}
	if (timer_delete(timer) < 0)
		die("timer_delete: %s", strerror(errno));
	say("posix_timer: %d ticks\n", TICKS);
	return 0;
}
