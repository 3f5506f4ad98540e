/* SPDX-License-Identifier: MIT */
/*
 * Asynchronous signals that interrupt blocking calls, for the EP knob
 * (issue 15): SIGALRM from a setitimer(ITIMER_REAL) interval timer
 *  1. with SA_RESTART, interrupting a read(2) of an empty pipe: the kernel
 *     restarts the read after each handler (-ERESTARTSYS); the third
 *     handler writes a byte into the pipe, which the read then returns;
 *  2. without SA_RESTART: the read fails with EINTR at the first alarm;
 *  3. a child that exits while the parent waits in wait4(2), with a SIGCHLD
 *     handler counting its runs.
 * What it prints does not depend on where the signals land.
 * `ep_signals exec`: a child execs `ep_signals random`, which prints its
 * AT_RANDOM bytes (getauxval(3)): an EP run must start an exec'ed child
 * with the log's initial stack, not the kernel's new random bytes.
 */
#include <signal.h>
#include <sys/auxv.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "progs.h"

#define ALARM_US 20000

static int g_pipe[2];
static volatile sig_atomic_t g_alarms, g_chlds;

static void
on_alarm(int sig)
{
	(void)sig;
	if (++g_alarms == 3 && write(g_pipe[1], "x", 1) != 1)
		_exit(3);
}

static void
on_chld(int sig)
{
	(void)sig;
	g_chlds++;
}

static void
handle(int sig, void (*fn)(int), int flags)
{
	struct sigaction sa = { .sa_handler = fn, .sa_flags = flags };

	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) < 0)
		_exit(2);
}

static void
timer(long us)
{
	struct itimerval it = { { 0, us }, { 0, us } };

	if (setitimer(ITIMER_REAL, &it, NULL) < 0)
		_exit(2);
}

/* Fork a child that execs @self with argument "random", wait for it. */
static int
exec_child(const char *self)
{
	pid_t child;
	int status = 0;

	handle(SIGCHLD, on_chld, SA_RESTART);
	child = fork();
	if (child < 0)
		return 2;
	if (child == 0) {
		execl(self, self, "random", (char *)NULL);
		_exit(127);
	}
	if (waitpid(child, &status, 0) != child)
		return 2;
	say("exec'ed child exited %d, SIGCHLD handled %d time(s)\n", WEXITSTATUS(status),
	    (int)g_chlds);
	return 0;
}

static int
print_random(void)
{
	const unsigned char *r = (const unsigned char *)getauxval(AT_RANDOM);
	char hex[33];

	if (!r)
		return 2;
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", r[i]);
	say("AT_RANDOM %s\n", hex);
	return 0;
}

int
main(int argc, char **argv)
{
	char c = 0;
	ssize_t n;
	pid_t child;
	int status = 0;

	if (argc > 1 && strcmp(argv[1], "exec") == 0)
		return exec_child(argv[0]);
	if (argc > 1 && strcmp(argv[1], "random") == 0)
		return print_random();

	if (pipe(g_pipe) < 0)
		return 2;
	handle(SIGALRM, on_alarm, SA_RESTART);
	timer(ALARM_US);
	n = read(g_pipe[0], &c, 1);
	timer(0);
	say("restarted read: %zd '%c' after %d alarms\n", n, c, (int)g_alarms);
	handle(SIGALRM, on_alarm, 0);
	g_alarms = 10;
	timer(ALARM_US);
	n = read(g_pipe[0], &c, 1);
	say("interrupted read: %zd (%s)\n", n, n < 0 ? strerror(errno) : "data");
	timer(0);
	handle(SIGCHLD, on_chld, SA_RESTART);
	child = fork();
	if (child < 0)
		return 2;
	if (child == 0) {
		struct timespec ts = { 0, 30000000 };

		nanosleep(&ts, NULL);
		_exit(7);
	}
	if (waitpid(child, &status, 0) != child)
		return 2;
	say("child exited %d, SIGCHLD handled %d time(s)\n", WEXITSTATUS(status), (int)g_chlds);
	return 0;
}
