/* SPDX-License-Identifier: MIT */
/*
 * execve(2) from a thread other than main while main runs: main prints its
 * pid and starts a thread that execs /proc/self/exe --after, then keeps
 * computing and sleeping (bounded). The kernel kills every other thread of
 * the process, and the exec'ing thread takes over the thread group leader's
 * pid (de_thread() in fs/exec.c): after the exec the program prints its pid,
 * which must be the one from before, and its tid, which must equal it. It
 * then exits AFTER_STATUS.
 *
 * Exits 1 if the exec did not happen within MAIN_ROUNDS rounds (about 10 s)
 * or failed.
 */
#include <pthread.h>

#include "progs.h"

#define AFTER_STATUS 3
#define MAIN_ROUNDS 10000
#define SPIN_PER_ROUND 20000

static char *g_argv0;

static void *
exec_main(void *arg)
{
	char *args[] = { g_argv0, "--after", NULL };

	(void)arg;
	/* Let main get into its loop first. */
	sleep_us(20000);
	say("thread tid %d of pid %d calls execv\n", gettid(), getpid());
	execv("/proc/self/exe", args);
	die("exec_thread: execv /proc/self/exe: %s", strerror(errno));
}

int
main(int argc, char **argv)
{
	volatile uint64_t x = 1;
	pthread_t t;

	if (argc == 2 && strcmp(argv[1], "--after") == 0) {
		say("after exec pid %d tid %d\n", getpid(), gettid());
		return AFTER_STATUS;
	}
	if (argc != 1)
		die("usage: exec_thread");
	g_argv0 = argv[0];
	say("before exec pid %d\n", getpid());
	if (pthread_create(&t, NULL, exec_main, NULL))
		die("exec_thread: pthread_create failed");
	for (int round = 0; round < MAIN_ROUNDS; round++) {
		for (int i = 0; i < SPIN_PER_ROUND; i++)
			x = x * 6364136223846793005ull + 1442695040888963407ull;
		sleep_us(1000);
	}
	say("exec_thread: the thread did not exec in %d rounds\n", MAIN_ROUNDS);
	return 1;
}
