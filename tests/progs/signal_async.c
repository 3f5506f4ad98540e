/* SPDX-License-Identifier: MIT */
/*
 * Asynchronous signals arriving while threads run or are blocked in the kernel:
 *  0. a periodic SIGALRM while the main thread loops on getppid(2): how many
 *     calls fit between two alarms depends on timing, so natively the counts
 *     differ from run to run;
 *  1. a periodic setitimer(ITIMER_REAL) SIGALRM, handler without SA_RESTART,
 *     while the main thread blocks in read(2) on a pipe nobody writes: every
 *     delivery ends the read with EINTR;
 *  2. one-shot timers and alarm(2) while the main thread waits in pause(2);
 *  3. pthread_kill(SIGUSR1) to a second thread blocked in read(2), handler
 *     with SA_RESTART: the read resumes after each handler.
 * Prints the counts and the signal details the handlers saw. In replay the
 * signals must arrive at the same points.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include "progs.h"

#define NALARMS 10
#define NUSR1 5

static volatile sig_atomic_t g_alarms;
static volatile sig_atomic_t g_alarm_code;
static volatile sig_atomic_t g_usr1;
static volatile sig_atomic_t g_usr1_tid;
static int g_ack[2];

static void
on_alarm(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	g_alarms++;
	g_alarm_code = si->si_code;
}

static void
on_usr1(int sig, siginfo_t *si, void *uc)
{
	char c = 'a';
	int saved = errno;

	(void)sig;
	(void)si;
	(void)uc;
	g_usr1++;
	g_usr1_tid = gettid();
	if (write(g_ack[1], &c, 1) < 0) {
		/* nothing to do in a handler */
	}
	errno = saved;
}

static void
set_timer(long first_us, long interval_us)
{
	struct itimerval it = {
		.it_value = { .tv_sec = first_us / 1000000, .tv_usec = first_us % 1000000 },
		.it_interval = { .tv_sec = interval_us / 1000000, .tv_usec = interval_us % 1000000 },
	};

	if (setitimer(ITIMER_REAL, &it, NULL) < 0)
		die("signal_async: setitimer: %s", strerror(errno));
}

static void *
blocked_reader(void *arg)
{
	int fd = *(int *)arg;
	char c = 0;
	long reads = 0;
	ssize_t n;

	say("thread: tid %s the process id\n", gettid() == getpid() ? "equals" : "differs from");
	/* SA_RESTART: each SIGUSR1 runs the handler and the read resumes. */
	do {
		n = read(fd, &c, 1);
		reads++;
	} while (n < 0 && errno == EINTR);
	say("thread: read returned %zd ('%c') after %ld calls\n", n, n == 1 ? c : '?', reads);
	return NULL;
}

int
main(void)
{
	struct sigaction sa = { 0 };
	int idle[2], wake[2];
	pthread_t t;
	long eintr = 0, loops = 0;
	char c;

	if (pipe(idle) < 0 || pipe(wake) < 0 || pipe(g_ack) < 0)
		die("signal_async: pipe: %s", strerror(errno));

	sa.sa_sigaction = on_alarm;
	sa.sa_flags = SA_SIGINFO; /* no SA_RESTART: read() fails with EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);

	/* 0. periodic SIGALRM while the main thread makes syscalls */
	set_timer(1000, 1000);
	say("part 0: getppid calls between alarms:");
	for (int i = 0; i < NALARMS; i++) {
		int before = g_alarms;
		long calls = 0;

		while (g_alarms == before && calls < 1000000) {
			getppid();
			calls++;
		}
		say(" %ld", calls);
	}
	set_timer(0, 0);
	say("\n");
	g_alarms = 0;

	/* 1. periodic SIGALRM interrupting read() */
	set_timer(2000, 2000);
	while (g_alarms < NALARMS && loops < 10 * NALARMS) {
		ssize_t n = read(idle[0], &c, 1);

		loops++;
		if (n < 0 && errno == EINTR)
			eintr++;
		else
			die("signal_async: read on an idle pipe returned %zd", n);
	}
	set_timer(0, 0);
	say("part 1: %d alarms, %ld reads ended with EINTR, si_code %d\n", (int)g_alarms, eintr,
	    (int)g_alarm_code);

	/* 2. pause() until a one-shot timer, three times, then alarm(1) */
	for (int i = 0; i < 3; i++) {
		int before = g_alarms;

		set_timer(3000, 0);
		while (g_alarms == before)
			pause();
	}
	alarm(1);
	{
		int before = g_alarms;

		while (g_alarms == before)
			pause();
	}
	say("part 2: %d alarms in total\n", (int)g_alarms);

	/* 3. pthread_kill(SIGUSR1) to a thread blocked in read() */
	sa.sa_sigaction = on_usr1;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	if (pthread_create(&t, NULL, blocked_reader, &wake[0]))
		die("signal_async: pthread_create failed");
	sleep_us(2000);
	for (int i = 0; i < NUSR1; i++) {
		if (pthread_kill(t, SIGUSR1))
			die("signal_async: pthread_kill failed");
		/* Wait for the handler's acknowledgement so that no two SIGUSR1
		 * are pending at once (standard signals do not queue). */
		while (read(g_ack[0], &c, 1) < 0 && errno == EINTR)
			;
	}
	if (write(wake[1], "q", 1) != 1)
		die("signal_async: write: %s", strerror(errno));
	pthread_join(t, NULL);
	say("part 3: %d SIGUSR1 handled, last in %s\n", (int)g_usr1,
	    g_usr1_tid == getpid() ? "the main thread" : "the reader thread");
	if (g_usr1 != NUSR1 || g_usr1_tid == getpid()) {
		say("signal_async: WRONG SIGUSR1 DELIVERY\n");
		return 1;
	}
	say("signal_async: ok\n");
	return 0;
}
