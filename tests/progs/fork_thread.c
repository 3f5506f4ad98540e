/* SPDX-License-Identifier: MIT */
/*
 * fork(2) from a thread other than main while the other threads run: three
 * threads increment a counter under a mutex; once every thread has done a
 * tenth of its increments, thread FORKER forks. The kernel copies only the
 * forking thread into the child, which may find the mutex held by a thread
 * it does not have: the child touches neither the mutex nor stdio. It prints
 * its pid and parent pid, the counter it inherited and a small computation,
 * and _exit()s with CHILD_STATUS. The forking thread reaps it and prints its
 * pid and status; main joins the threads and prints the totals.
 *
 * The other threads do not end before the fork has happened (they wait for
 * it, bounded), so the process has three threads when it forks. The counter
 * value at the fork depends on the schedule, so natively it differs from run
 * to run. Exits 1 if anything is off.
 */
#include <pthread.h>
#include <sys/wait.h>

#include "progs.h"

#define NTHREADS 3
#define FORKER 1
#define ITERS 200000
#define FORK_AT (ITERS / 10)
#define CHILD_STATUS 42
#define CHILD_TERMS 100000
/* Bounds of the waits: polls of 100 us for the forker, seconds for the others. */
#define READY_POLLS 50000
#define FORKED_WAIT_S 30

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_forked_cond = PTHREAD_COND_INITIALIZER;
static long g_counter;
static long g_done[NTHREADS];
static int g_forked;
static int g_child_ok;

static void
child_main(void)
{
	uint64_t sum = 0;

	/* No lock: the mutex may be held by a thread the child does not have. */
	say("child pid %d ppid %d\n", getpid(), getppid());
	say("child sees counter %ld\n", *(volatile long *)&g_counter);
	for (uint64_t i = 0; i < CHILD_TERMS; i++)
		sum += i * i;
	say("child sum of squares below %d: %llu\n", CHILD_TERMS, (unsigned long long)sum);
	_exit(CHILD_STATUS);
}

/* Waits until every other thread has done FORK_AT increments; false if
 * they have not after READY_POLLS polls. */
static int
others_ready(void)
{
	for (int poll = 0; poll < READY_POLLS; poll++) {
		int ready = 1;

		pthread_mutex_lock(&g_lock);
		for (int i = 0; i < NTHREADS; i++)
			if (g_done[i] < FORK_AT)
				ready = 0;
		pthread_mutex_unlock(&g_lock);
		if (ready)
			return 1;
		sleep_us(100);
	}
	return 0;
}

static void
fork_child(int id)
{
	long before;
	pid_t pid, r;
	int status;

	if (!others_ready())
		say("thread %d: the other threads made no progress; forking anyway\n", id);
	pthread_mutex_lock(&g_lock);
	before = g_counter;
	pthread_mutex_unlock(&g_lock);
	say("thread %d forks at counter %ld\n", id, before);
	pid = fork();
	if (pid < 0)
		die("fork_thread: fork: %s", strerror(errno));
	if (pid == 0)
		child_main();
	while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (r != pid)
		die("fork_thread: waitpid: %s", strerror(errno));
	if (WIFEXITED(status))
		say("thread %d: child %d exited with status %d\n", id, pid, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		say("thread %d: child %d killed by signal %d\n", id, pid, WTERMSIG(status));
	pthread_mutex_lock(&g_lock);
	g_forked = 1;
	g_child_ok = WIFEXITED(status) && WEXITSTATUS(status) == CHILD_STATUS;
	pthread_cond_broadcast(&g_forked_cond);
	pthread_mutex_unlock(&g_lock);
}

static void *
thread_main(void *arg)
{
	int id = (int)(intptr_t)arg;
	struct timespec until;

	for (long i = 0; i < ITERS; i++) {
		if (id == FORKER && i == FORK_AT)
			fork_child(id);
		pthread_mutex_lock(&g_lock);
		g_counter++;
		g_done[id]++;
		pthread_mutex_unlock(&g_lock);
	}
	/* Stay alive until the fork is over, so it happens in a process of
	 * NTHREADS threads. */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += FORKED_WAIT_S;
	pthread_mutex_lock(&g_lock);
	while (!g_forked)
		if (pthread_cond_timedwait(&g_forked_cond, &g_lock, &until) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&g_lock);
	return NULL;
}

int
main(void)
{
	pthread_t t[NTHREADS];
	int ok;

	for (int i = 0; i < NTHREADS; i++)
		if (pthread_create(&t[i], NULL, thread_main, (void *)(intptr_t)i))
			die("fork_thread: pthread_create failed");
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < NTHREADS; i++)
		say("thread %d: %ld increments\n", i, g_done[i]);
	say("counter %ld (expected %d)\n", g_counter, NTHREADS * ITERS);
	say("parent pid %d\n", getpid());
	ok = g_forked && g_child_ok && g_counter == NTHREADS * ITERS;
	say("fork_thread: %s\n", ok ? "ok" : "WRONG");
	return ok ? 0 : 1;
}
