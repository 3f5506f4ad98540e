/* SPDX-License-Identifier: MIT */
/*
 * Children that end while their parent works (`uprr record --mode=tp`):
 * SIGCHLD, which the parent leaves at SIG_DFL (ignored, as python3's
 * multiprocessing and most programs leave it), comes to the parent in the
 * middle of its own work. The first child ends at once while the parent
 * computes in user code; the second ends after a little work while the
 * parent's main thread waits in pthread_join(3) (a futex wait) for a
 * thread that computes. Then the parent reaps both. Prints the sums and
 * the children's exit statuses: the same in every run.
 */
#include <pthread.h>
#include <sys/wait.h>

#include "progs.h"

/* work the compiler cannot drop */
static uint64_t
work(uint64_t n, uint64_t seed)
{
	volatile uint64_t x = seed;

	for (uint64_t i = 0; i < n; i++)
		x = x * 6364136223846793005ull + i;
	return x;
}

static pid_t
child(int status, uint64_t n)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		(void)work(n, 1);
		_exit(status);
	}
	return pid;
}

static void *
thread_work(void *arg)
{
	uint64_t *sum = arg;

	*sum = work(100000000, 3);
	return NULL;
}

int
main(void)
{
	uint64_t user_sum, thread_sum = 0;
	pthread_t thread;
	int status_a, status_b;
	pid_t a, b;

	/* A ends while this runs user code */
	a = child(3, 0);
	user_sum = work(100000000, 2);
	/* B ends while the main thread waits in a join */
	if (pthread_create(&thread, NULL, thread_work, &thread_sum) != 0)
		die("pthread_create failed");
	b = child(4, 1000000);
	if (pthread_join(thread, NULL) != 0)
		die("pthread_join failed");
	if (waitpid(a, &status_a, 0) != a || waitpid(b, &status_b, 0) != b)
		die("waitpid: %s", strerror(errno));
	say("tp_child_exit: user sum %llx, thread sum %llx\n", (unsigned long long)user_sum,
	    (unsigned long long)thread_sum);
	say("tp_child_exit: children exited %d and %d\n", WEXITSTATUS(status_a),
	    WEXITSTATUS(status_b));
	return 0;
}
