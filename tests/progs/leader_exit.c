/* SPDX-License-Identifier: MIT */
/*
 * The thread-group leader exits (pthread_exit in main) while other threads
 * run. The kernel keeps the leader a zombie until the other threads are gone
 * and reports its death last (ptrace(2), "PTRACE_EVENT_EXIT"); meanwhile the
 * worker sleeps, computes, starts a second thread and joins it, and joins the
 * dead main thread (the kernel clears main's tid at its exit: the
 * CLONE_CHILD_CLEARTID write of set_tid_address(2) that pthread_join waits
 * for). The output does not depend on the schedule: it is the same natively.
 *
 * `leader_exit exec`: the worker then execs itself (--after), which
 * takes over the dead leader's pid (de_thread() in fs/exec.c) and says so.
 *
 * Exits 0 (the last thread's return ends the process); 1 if a join fails.
 */
#include <pthread.h>

#include "progs.h"

#define SLEEPS 5
#define TERMS 200000

static pthread_t g_main;
static char *g_exec_argv0;
static pid_t g_pid;

static uint64_t
compute(uint64_t x)
{
	for (int i = 0; i < TERMS; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	return x;
}

static void *
second(void *arg)
{
	say("second: computed %016llx\n", (unsigned long long)compute((uintptr_t)arg));
	return NULL;
}

static void *
worker(void *arg)
{
	pthread_t t;
	void *ret;

	(void)arg;
	/* main is gone (or going) while the worker sleeps */
	for (int i = 0; i < SLEEPS; i++)
		sleep_us(10000);
	if (pthread_join(g_main, &ret))
		die("leader_exit: cannot join main");
	say("worker: joined main, which returned %p\n", ret);
	say("worker: computed %016llx\n", (unsigned long long)compute(1));
	if (pthread_create(&t, NULL, second, (void *)(uintptr_t)7) || pthread_join(t, NULL))
		die("leader_exit: cannot run a second thread");
	if (g_exec_argv0) {
		char pid[32], *args[] = { g_exec_argv0, "--after", pid, NULL };

		snprintf(pid, sizeof(pid), "%d", (int)g_pid);
		say("worker: execs\n");
		/* not /proc/self/exe: the dead leader's has no exe link */
		execv(g_exec_argv0, args);
		die("leader_exit: execv: %s", strerror(errno));
	}
	say("worker: done\n");
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t t;

	if (argc == 3 && strcmp(argv[1], "--after") == 0) {
		say("after exec: pid %s, tid %s\n", getpid() == atoi(argv[2]) ? "the same" : "another",
		    gettid() == getpid() ? "the pid" : "another");
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "exec") == 0)
		g_exec_argv0 = argv[0];
	else if (argc != 1)
		die("usage: leader_exit [exec]");
	g_pid = getpid();
	g_main = pthread_self();
	if (pthread_create(&t, NULL, worker, NULL))
		die("leader_exit: pthread_create failed");
	say("main: exits with pthread_exit\n");
	pthread_exit((void *)0x2a);
}
