/* SPDX-License-Identifier: MIT */
/*
 * Group stops: a parent forks a child with two threads that each write a
 * byte to a pipe every 2 ms. For SIGSTOP and then SIGTSTP the parent stops
 * the child, sees WIFSTOPPED from waitpid(WUNTRACED), checks that no byte
 * comes for 100 ms (no thread of a stopped process runs), sends SIGCONT,
 * sees WIFCONTINUED from waitpid(WCONTINUED) and a byte again (signal(7),
 * "Stopping and continuing"). It then ends the child with SIGTERM. The output
 * does not depend on the schedule: it is the same natively.
 *
 * `group_stop orphan`: in a session of its own (an orphaned process group),
 * the program raises SIGTSTP: the kernel discards it (signal(7)), the
 * program goes on, computing with two threads.
 *
 * Exits 1 if anything differs from that; every wait is bounded.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "progs.h"

#define CHILD_ROUNDS 5000	/* 2 ms each: the child gives up after ~10 s */
#define WAIT_MS 5000

static int g_pipe[2];

static void *
writer(void *arg)
{
	char c = (char)(uintptr_t)arg;

	for (int i = 0; i < CHILD_ROUNDS; i++) {
		if (write(g_pipe[1], &c, 1) != 1)
			_exit(2);
		sleep_us(2000);
	}
	_exit(3);
}

/* Bytes waiting in the pipe, read without blocking. */
static int
drain(void)
{
	char buf[4096];
	int n = 0;
	ssize_t r;

	while ((r = read(g_pipe[0], buf, sizeof(buf))) > 0)
		n += (int)r;
	return n;
}

/* Wait up to WAIT_MS for a byte; 1 if one came. */
static int
await_byte(void)
{
	struct pollfd p = { .fd = g_pipe[0], .events = POLLIN };

	return poll(&p, 1, WAIT_MS) == 1 && drain() > 0;
}

static int
stop_and_continue(pid_t child, int sig)
{
	int status, late;

	if (!await_byte()) {
		say("the child made no progress before %s\n", strsignal(sig));
		return -1;
	}
	kill(child, sig);
	if (waitpid(child, &status, WUNTRACED) != child || !WIFSTOPPED(status)) {
		say("waitpid(WUNTRACED) after %s: status 0x%x\n", strsignal(sig), status);
		return -1;
	}
	say("child stopped by %s\n", strsignal(WSTOPSIG(status)));
	drain();
	sleep_us(100000);
	late = drain();
	if (late) {
		say("the child ran while stopped: %d bytes\n", late);
		return -1;
	}
	say("no progress while stopped\n");
	kill(child, SIGCONT);
	if (waitpid(child, &status, WCONTINUED) != child || !WIFCONTINUED(status)) {
		say("waitpid(WCONTINUED): status 0x%x\n", status);
		return -1;
	}
	say("child continued\n");
	if (!await_byte()) {
		say("no progress after SIGCONT\n");
		return -1;
	}
	say("progress after SIGCONT\n");
	return 0;
}

static void *
compute(void *arg)
{
	uint64_t x = (uintptr_t)arg;

	for (int i = 0; i < 20000000; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	return (void *)(uintptr_t)(x >> 48);
}

static int
orphan(void)
{
	pthread_t t;
	void *a, *b;

	if (getsid(0) != getpid() && setsid() < 0)
		die("group_stop: setsid: %s", strerror(errno));
	raise(SIGTSTP);
	say("SIGTSTP discarded in an orphaned process group\n");
	if (pthread_create(&t, NULL, compute, (void *)(uintptr_t)1))
		die("group_stop: pthread_create failed");
	a = compute((void *)(uintptr_t)2);
	pthread_join(t, &b);
	say("computed %lx %lx\n", (unsigned long)(uintptr_t)a, (unsigned long)(uintptr_t)b);
	return 0;
}

int
main(int argc, char **argv)
{
	pthread_t t;
	pid_t child;
	int status, bad = 0;

	if (argc == 2 && strcmp(argv[1], "orphan") == 0)
		return orphan();

	if (pipe(g_pipe) < 0)
		die("group_stop: pipe: %s", strerror(errno));
	child = fork();
	if (child < 0)
		die("group_stop: fork: %s", strerror(errno));
	/* a process group of its own, with its parent outside it in the same
	 * session: not orphaned, so SIGTSTP stops it (POSIX discards the
	 * terminal stop signals in orphaned process groups) */
	if (child == 0) {
		setpgid(0, 0);
		close(g_pipe[0]);
		if (pthread_create(&t, NULL, writer, (void *)(uintptr_t)'y'))
			_exit(4);
		writer((void *)(uintptr_t)'x');
	}
	setpgid(child, child);
	close(g_pipe[1]);
	fcntl(g_pipe[0], F_SETFL, O_NONBLOCK);
	bad |= stop_and_continue(child, SIGSTOP);
	bad |= stop_and_continue(child, SIGTSTP);
	kill(child, SIGTERM);
	if (waitpid(child, &status, 0) != child)
		die("group_stop: waitpid: %s", strerror(errno));
	if (WIFSIGNALED(status))
		say("child killed by %s\n", strsignal(WTERMSIG(status)));
	else
		say("child exited with %d\n", WEXITSTATUS(status));
	return bad || !WIFSIGNALED(status) || WTERMSIG(status) != SIGTERM;
}
