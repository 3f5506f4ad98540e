/* SPDX-License-Identifier: MIT */
/*
 * A thread that computes without a syscall while another thread talks with
 * a child process through two pipes, one round trip after the other, the
 * child sleeping 50 us before each answer: while both wait the busy thread
 * runs, and each time the child's sleep or the thread's read completes in
 * the kernel, that thread must run at once (record-sched.c: the recorder
 * preempts the computing thread), not when the computing thread's 5 ms
 * timeslice ends; 3,000 round trips would then take over a minute (the
 * case's timeout).
 *
 * Prints a checksum of the replies (seeded, so it differs between runs) and
 * how far the busy thread got during the round trips, which depends on the
 * interleaving.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/wait.h>

#include "progs.h"

#define ROUNDS 3000

static int g_req[2], g_rep[2];
static atomic_int g_done, g_started;
static uint64_t g_seed;

static void *
busy(void *arg)
{
	uint64_t x = g_seed, n = 0;

	atomic_store(&g_started, 1);
	while (!atomic_load_explicit(&g_done, memory_order_relaxed)) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		n++;
	}
	*(uint64_t *)arg = n ^ (x & 0);
	return NULL;
}

static void
child(void)
{
	struct timespec nap = { 0, 50000 };
	uint64_t v;

	close(g_req[1]);
	close(g_rep[0]);
	while (read(g_req[0], &v, sizeof(v)) == sizeof(v)) {
		v = v * 0x9e3779b97f4a7c15ull + 1;
		nanosleep(&nap, NULL);
		if (write(g_rep[1], &v, sizeof(v)) != sizeof(v))
			_exit(2);
	}
	_exit(0);
}

int
main(void)
{
	uint64_t sum = 0, v, iterations = 0;
	pthread_t t;
	pid_t pid;
	int status;

	g_seed = random_seed();
	if (pipe(g_req) || pipe(g_rep))
		die("wake_busy: pipe failed");
	pid = fork();
	if (pid < 0)
		die("wake_busy: fork failed");
	if (pid == 0)
		child();
	close(g_req[0]);
	close(g_rep[1]);
	if (pthread_create(&t, NULL, busy, &iterations))
		die("wake_busy: pthread_create failed");
	while (!atomic_load(&g_started))
		; /* the busy thread runs before the round trips start */
	v = g_seed;
	for (int i = 0; i < ROUNDS; i++) {
		if (write(g_req[1], &v, sizeof(v)) != sizeof(v) || read(g_rep[0], &v, sizeof(v)) != sizeof(v))
			die("wake_busy: the child stopped answering");
		sum = (sum ^ v) * 0x100000001b3ull;
	}
	atomic_store(&g_done, 1);
	pthread_join(t, NULL);
	close(g_req[1]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		die("wake_busy: the child failed");
	say("wake_busy: %d round trips, checksum %016llx\n", ROUNDS, (unsigned long long)sum);
	say("the busy thread ran %llu iterations meanwhile\n", (unsigned long long)iterations);
	say("wake_busy: ok\n");
	return 0;
}
