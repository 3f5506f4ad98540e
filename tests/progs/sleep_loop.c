/* SPDX-License-Identifier: MIT */
/*
 * Blocking calls that wait on time, for epochs that interrupt them
 * (doc/uniparallel.md): a thread sleeps in a loop with nanosleep(2) (raw:
 * the kernel restarts it as restart_syscall(2)), clock_nanosleep(2), poll(2)
 * with a timeout on an empty pipe (restart_syscall too) and select(2) with
 * a timeout (-ERESTARTNOHAND: restarted with the time left, which the
 * kernel writes into its timeval), and every few rounds writes a byte into
 * a pipe the main thread blocks on in read(2) (-ERESTARTSYS). Each call's
 * result is checked; the output depends on nothing but the loop, and the
 * clock shows the time slept (at least the sum of the sleeps). nanosleep's
 * time left is not looked at: an interrupt writes it (-ERESTART_RESTARTBLOCK
 * too), so a TP run's epoch shows there.
 *
 * Exits 1 if a call fails or returns what it should not.
 */
#include <poll.h>
#include <pthread.h>
#include <sys/select.h>
#include <sys/syscall.h>

#include "progs.h"

#define ROUNDS 25
#define SLEEP_NS 3000000L

static int wake_pipe[2], idle_pipe[2];

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *
sleeper(void *arg)
{
	struct pollfd p = { .fd = idle_pipe[0], .events = POLLIN };
	uint64_t start = now_ns(), slept = 0;

	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		struct timespec ts = { 0, SLEEP_NS }, rem;
		struct timeval tv = { 0, SLEEP_NS / 1000 };
		long r;

		r = syscall(SYS_nanosleep, &ts, &rem);
		if (r != 0)
			die("round %d: nanosleep returned %ld", i, r);
		r = clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
		if (r != 0)
			die("round %d: clock_nanosleep returned %ld", i, r);
		r = poll(&p, 1, (int)(SLEEP_NS / 1000000));
		if (r != 0)
			die("round %d: poll returned %ld", i, r);
		r = select(0, NULL, NULL, NULL, &tv);
		if (r != 0 || tv.tv_sec || tv.tv_usec)
			die("round %d: select returned %ld, time left %ld us", i, r, (long)tv.tv_usec);
		slept += 4 * SLEEP_NS;
		if (i % 5 == 4 && write(wake_pipe[1], "w", 1) != 1)
			die("round %d: write: %s", i, strerror(errno));
	}
	say("sleeper: %d rounds of nanosleep, clock_nanosleep, poll, select: all 0\n", ROUNDS);
	say("sleeper: slept at least %s ms: %s\n", "300",
	    now_ns() - start >= slept ? "yes" : "no");
	close(wake_pipe[1]);
	return NULL;
}

int
main(void)
{
	pthread_t t;
	int reads = 0;
	char c;

	if (pipe(wake_pipe) < 0 || pipe(idle_pipe) < 0)
		die("pipe: %s", strerror(errno));
	if (pthread_create(&t, NULL, sleeper, NULL) != 0)
		die("pthread_create failed");
	for (;;) {
		ssize_t n = read(wake_pipe[0], &c, 1);

		if (n < 0)
			die("read: %s", strerror(errno));
		if (n == 0)
			break;
		reads++;
	}
	pthread_join(t, NULL);
	say("main: %d wake-ups read\n", reads);
	return reads == ROUNDS / 5 ? 0 : 1;
}
