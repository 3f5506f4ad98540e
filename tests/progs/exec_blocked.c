/* SPDX-License-Identifier: MIT */
/*
 * execve(2) from the main thread while another thread is blocked in a
 * syscall: `exec_blocked MODE` starts a thread that sleeps (nanosleep),
 * waits on a condition variable (futex) or reads a pipe nobody writes
 * (read), each bounded at about 10 s; main lets it block, then execs
 * /proc/self/exe --after. The kernel kills the blocked thread (de_thread()
 * in fs/exec.c). After the exec the program prints its pid, which must be
 * the one from before, and exits AFTER_STATUS.
 *
 * Exits 1 if the thread's wait ended (no exec came) or the exec failed.
 */
#include <pthread.h>

#include "progs.h"

#define AFTER_STATUS 3
#define WAIT_S 10

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static int g_pipe[2];
static const char *g_mode;

static void *
blocker(void *arg)
{
	struct timespec ts;
	char c;

	(void)arg;
	if (strcmp(g_mode, "sleep") == 0) {
		sleep_us(WAIT_S * 1000000);
	} else if (strcmp(g_mode, "futex") == 0) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += WAIT_S;
		pthread_mutex_lock(&g_lock);
		pthread_cond_timedwait(&g_cond, &g_lock, &ts);
		pthread_mutex_unlock(&g_lock);
	} else {
		/* the write end stays open in main: read blocks until the exec */
		if (read(g_pipe[0], &c, 1) < 0)
			die("exec_blocked: read: %s", strerror(errno));
	}
	say("exec_blocked: the %s thread woke up: no exec happened\n", g_mode);
	_exit(1);
}

int
main(int argc, char **argv)
{
	char *args[] = { argv[0], "--after", NULL };
	pthread_t t;

	if (argc == 2 && strcmp(argv[1], "--after") == 0) {
		say("after exec pid %d tid %d\n", getpid(), gettid());
		return AFTER_STATUS;
	}
	if (argc != 2 || (strcmp(argv[1], "sleep") && strcmp(argv[1], "futex") &&
			  strcmp(argv[1], "read")))
		die("usage: exec_blocked sleep|futex|read");
	g_mode = argv[1];
	if (pipe(g_pipe) < 0)
		die("exec_blocked: pipe: %s", strerror(errno));
	say("before exec pid %d, a thread blocks in %s\n", getpid(), g_mode);
	if (pthread_create(&t, NULL, blocker, NULL))
		die("exec_blocked: pthread_create failed");
	/* let it block */
	for (int i = 0; i < 5; i++)
		sleep_us(10000);
	execv("/proc/self/exe", args);
	die("exec_blocked: execv /proc/self/exe: %s", strerror(errno));
}
