/* SPDX-License-Identifier: MIT */
/*
 * The signal mask and ignored signals survive execve(2) (execve(2): "the
 * signal mask is preserved", "the dispositions of ignored signals are left
 * unchanged"). The program blocks SIGUSR1, ignores SIGUSR2 and execs itself;
 * the new image prints the SigBlk and SigIgn lines of /proc/self/status and
 * what sigprocmask(2) and sigaction(2) say, raises SIGUSR2 (ignored: nothing
 * happens) and SIGUSR1 (blocked: pending), then unblocks SIGUSR1 with a
 * handler installed, which runs. The output is the same natively.
 *
 * `exec_sigmask outer CMD [ARGS...]` sets up the same signal state, ignores
 * SIGTERM too, and execs
 * CMD: run as `exec_sigmask outer uprr record -- exec_sigmask --after`, the
 * recorded program starts with it (uprr execs it), and its replay must too.
 *
 * Exits 1 if the new image sees another mask or disposition.
 */
#include <signal.h>

#include "progs.h"

static volatile sig_atomic_t g_usr1;

static void
on_usr1(int sig)
{
	(void)sig;
	g_usr1++;
}

static void
print_status_masks(void)
{
	char buf[8192], *line;
	ssize_t n = 0, r;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		die("exec_sigmask: /proc/self/status: %s", strerror(errno));
	while ((r = (ssize_t)fread(buf + n, 1, sizeof(buf) - 1 - (size_t)n, f)) > 0)
		n += r;
	fclose(f);
	buf[n] = '\0';
	for (line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		if (strncmp(line, "SigBlk:", 7) == 0 || strncmp(line, "SigIgn:", 7) == 0)
			say("%s\n", line);
}

static int
after(void)
{
	struct sigaction sa;
	sigset_t set, pending;
	int bad = 0;

	print_status_masks();
	sigprocmask(SIG_BLOCK, NULL, &set);
	sigaction(SIGUSR2, NULL, &sa);
	say("SIGUSR1 %s, SIGUSR2 %s\n", sigismember(&set, SIGUSR1) ? "blocked" : "not blocked",
	    sa.sa_handler == SIG_IGN ? "ignored" : "not ignored");
	bad |= !sigismember(&set, SIGUSR1) || sa.sa_handler != SIG_IGN;
	raise(SIGUSR2);
	say("survived SIGUSR2\n");
	raise(SIGUSR1);
	sigpending(&pending);
	say("SIGUSR1 %s\n", sigismember(&pending, SIGUSR1) ? "pending" : "not pending");
	sa = (struct sigaction){ .sa_handler = on_usr1 };
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	say("SIGUSR1 handled %d times after the unblock\n", (int)g_usr1);
	return bad || g_usr1 != 1;
}

int
main(int argc, char **argv)
{
	char *args[] = { argv[0], "--after", NULL };
	sigset_t set;

	if (argc == 2 && strcmp(argv[1], "--after") == 0)
		return after();
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGUSR2, SIG_IGN);
	if (argc > 2 && strcmp(argv[1], "outer") == 0) {
		/* and SIGTERM, which uprr itself handles */
		signal(SIGTERM, SIG_IGN);
		execvp(argv[2], argv + 2);
		die("exec_sigmask: execvp %s: %s", argv[2], strerror(errno));
	}
	say("blocked SIGUSR1, ignored SIGUSR2, exec\n");
	execv("/proc/self/exe", args);
	die("exec_sigmask: execv: %s", strerror(errno));
}
