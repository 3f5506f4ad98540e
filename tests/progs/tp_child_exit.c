/* SPDX-License-Identifier: MIT */
/*
 * Children that end while their parent works (`uprr record --mode=tp`):
 * SIGCHLD, which the parent leaves at SIG_DFL (ignored, as python3's
 * multiprocessing and most programs leave it), comes to the parent in the
 * middle of its own work. The first child ends at once while the parent
 * computes in user code; the second ends after a little work while the
 * parent's main thread waits in pthread_join(3) (a futex wait) for a
 * thread that computes; the third ends while the parent is blocked in a
 * read(2) of a pipe (which the kernel restarts), whose bytes a fourth
 * writes later. Then the parent reaps them all. Prints the sums, what it
 * read and the children's exit statuses: the same in every run.
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

/* A child that works for @n rounds, writes "ready" to @fd and exits with
 * @status */
static pid_t
writer(int status, uint64_t n, int fd)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		(void)work(n, 4);
		if (write(fd, "ready", 5) != 5)
			_exit(99);
		_exit(status);
	}
	return pid;
}

int
main(void)
{
	uint64_t user_sum, thread_sum = 0;
	int status_a, status_b, status_c, status_d, p[2];
	pthread_t thread;
	pid_t a, b, c, d;
	char buf[8] = "";
	ssize_t n;

	/* A ends while this runs user code */
	a = child(3, 0);
	user_sum = work(100000000, 2);
	/* B ends while the main thread waits in a join */
	if (pthread_create(&thread, NULL, thread_work, &thread_sum) != 0)
		die("pthread_create failed");
	b = child(4, 1000000);
	if (pthread_join(thread, NULL) != 0)
		die("pthread_join failed");
	/* C ends while this waits in read(2); D writes later */
	if (pipe(p) < 0)
		die("pipe: %s", strerror(errno));
	c = child(5, 2000000);
	d = writer(6, 20000000, p[1]);
	do
		n = read(p[0], buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	if (waitpid(a, &status_a, 0) != a || waitpid(b, &status_b, 0) != b ||
	    waitpid(c, &status_c, 0) != c || waitpid(d, &status_d, 0) != d)
		die("waitpid: %s", strerror(errno));
	say("tp_child_exit: user sum %llx, thread sum %llx\n", (unsigned long long)user_sum,
	    (unsigned long long)thread_sum);
	say("tp_child_exit: read %zd bytes: %s\n", n, buf);
	say("tp_child_exit: children exited %d, %d, %d and %d\n", WEXITSTATUS(status_a),
	    WEXITSTATUS(status_b), WEXITSTATUS(status_c), WEXITSTATUS(status_d));
	return 0;
}
