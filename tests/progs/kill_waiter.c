/* SPDX-License-Identifier: MIT */
/*
 * A signal from another process that reaches a thread blocked in a futex
 * wait: python3's `with Pool(...)`, whose terminate() sends SIGTERM to
 * workers waiting for their next task (a process-shared semaphore).
 *
 * A child waits on a process-shared semaphore (sem_wait(3), a futex wait)
 * after telling the parent through a pipe; the parent lets it block, then:
 *   round 1: SIGUSR1, which the child's handler takes (sem_wait returns
 *            EINTR, the child waits again), then sem_post(3): the child
 *            says whether its handler ran and exits 0;
 *   round 2: SIGTERM, whose default action kills the child in its wait.
 * The parent prints how each child ended: the output is deterministic (the
 * e2e case compares it with a native run).
 */
#include <errno.h>
#include <semaphore.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "progs.h"

static volatile sig_atomic_t got;

static void
on_usr1(int sig)
{
	(void)sig;
	got = 1;
}

static void
child(sem_t *s, int ready)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		die("sigaction: %s", strerror(errno));
	if (write(ready, "r", 1) != 1)
		die("write ready: %s", strerror(errno));
	while (sem_wait(s) < 0)
		if (errno != EINTR)
			die("sem_wait: %s", strerror(errno));
	say("kill_waiter: child woke, its handler %s\n", got ? "ran" : "did not run");
	_exit(0);
}

static void
round_with(sem_t *s, int sig)
{
	int p[2], status;
	pid_t pid;
	char c;

	if (pipe(p) < 0)
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		close(p[0]);
		child(s, p[1]);
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1)
		die("read ready: %s", strerror(errno));
	close(p[0]);
	usleep(100000); /* the child blocks in its wait by then */
	if (kill(pid, sig) < 0)
		die("kill: %s", strerror(errno));
	if (sig == SIGUSR1 && sem_post(s) < 0)
		die("sem_post: %s", strerror(errno));
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid: %s", strerror(errno));
	if (WIFSIGNALED(status))
		say("kill_waiter: signal %d: the child was killed by signal %d\n", sig, WTERMSIG(status));
	else
		say("kill_waiter: signal %d: the child exited %d\n", sig, WEXITSTATUS(status));
}

int
main(void)
{
	sem_t *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (s == MAP_FAILED || sem_init(s, 1, 0) < 0)
		die("semaphore: %s", strerror(errno));
	round_with(s, SIGUSR1);
	round_with(s, SIGTERM);
	return 0;
}
