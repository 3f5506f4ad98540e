/* SPDX-License-Identifier: MIT */
/*
 * Waits that swap the signal mask: sigsuspend(2), ppoll(2), pselect(2) and
 * epoll_pwait(2) each install a temporary mask while they wait and, when a
 * signal interrupts them, keep it for the handler, which then runs under the
 * temporary mask plus its sa_mask, while the signal frame saves the caller's
 * own mask for sigreturn to restore.
 *
 * The program blocks SIGUSR1 and SIGCHLD. Each round forks a child that sends
 * SIGURG (ignored by default: it may interrupt a traced wait, which the
 * kernel then restarts), then SIGUSR1, to its parent and exits. The parent
 * waits with one of the four calls, with a mask that lets SIGUSR1 and SIGCHLD
 * through and blocks SIGHUP, until both handlers have run. Each handler
 * blocks the other signal and SIGUSR2 (sa_mask). The handlers note the mask they run
 * under and the mask their frame saved (uc_sigmask). After each round the
 * program prints what the handlers saw and checks that its own mask is back.
 * Exits 1 if a handler saw a wrong mask or the mask did not come back.
 */
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <ucontext.h>

#include "progs.h"

#define ROUNDS 40
#define MAX_WAITS 10000 /* per round: interrupted waits before giving up */

enum wait_kind { W_SIGSUSPEND, W_PPOLL, W_PSELECT, W_EPOLL_PWAIT, W_KINDS };
static const char *const kind_names[W_KINDS] = { "sigsuspend", "ppoll", "pselect", "epoll_pwait" };

static volatile sig_atomic_t g_usr1, g_chld;
static volatile sig_atomic_t g_bad; /* a handler saw a wrong mask */

static void
on_signal(int sig, siginfo_t *info, void *uctx)
{
	const ucontext_t *uc = uctx;
	sigset_t now;

	(void)info;
	sigprocmask(SIG_BLOCK, NULL, &now);
	/* running: the wait's mask (HUP) + sa_mask (USR2, USR1, CHLD) */
	if (!sigismember(&now, SIGHUP) || !sigismember(&now, SIGUSR2) ||
	    !sigismember(&now, SIGUSR1) || !sigismember(&now, SIGCHLD))
		g_bad = 1;
	/* saved: the program's own mask (USR1 and CHLD, not HUP or USR2) */
	if (!sigismember(&uc->uc_sigmask, SIGUSR1) || !sigismember(&uc->uc_sigmask, SIGCHLD) ||
	    sigismember(&uc->uc_sigmask, SIGUSR2) || sigismember(&uc->uc_sigmask, SIGHUP))
		g_bad = 1;
	if (sig == SIGUSR1)
		g_usr1++;
	else
		g_chld++;
}

/* One wait of @kind under @open; returns its result (-1 with errno). */
static int
wait_once(enum wait_kind kind, const sigset_t *open, int pipe_rd, int epfd)
{
	struct pollfd pfd = { .fd = pipe_rd, .events = POLLIN };
	struct epoll_event ev;
	fd_set rd;

	switch (kind) {
	case W_SIGSUSPEND:
		return sigsuspend(open);
	case W_PPOLL:
		return ppoll(&pfd, 1, NULL, open);
	case W_PSELECT:
		FD_ZERO(&rd);
		FD_SET(pipe_rd, &rd);
		return pselect(pipe_rd + 1, &rd, NULL, NULL, NULL, open);
	default:
		return epoll_pwait(epfd, &ev, 1, -1, open);
	}
}

int
main(void)
{
	struct sigaction sa = { .sa_sigaction = on_signal, .sa_flags = SA_SIGINFO };
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t own, open, now;
	int fds[2], epfd;
	long waits = 0;

	/* a pipe nobody writes: ppoll, pselect and epoll_pwait wait on it */
	if (pipe(fds) < 0 || (epfd = epoll_create1(0)) < 0 ||
	    epoll_ctl(epfd, EPOLL_CTL_ADD, fds[0], &ev) < 0) {
		say("wait_mask: setup: %s\n", strerror(errno));
		return 1;
	}
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	sigaddset(&sa.sa_mask, SIGUSR1);
	sigaddset(&sa.sa_mask, SIGCHLD);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&own);
	sigaddset(&own, SIGUSR1);
	sigaddset(&own, SIGCHLD);
	sigprocmask(SIG_BLOCK, &own, NULL);
	sigprocmask(SIG_BLOCK, NULL, &own);
	open = own;
	sigdelset(&open, SIGUSR1);
	sigdelset(&open, SIGCHLD);
	sigaddset(&open, SIGHUP);

	for (int round = 0; round < ROUNDS; round++) {
		enum wait_kind kind = (enum wait_kind)(round % W_KINDS);
		int n = 0, status = 0, r;
		pid_t child;

		g_usr1 = g_chld = 0;
		child = fork();
		if (child < 0) {
			say("wait_mask: fork: %s\n", strerror(errno));
			return 1;
		}
		if (child == 0) {
			kill(getppid(), SIGURG);
			kill(getppid(), SIGUSR1);
			_exit(round);
		}
		while ((!g_usr1 || !g_chld) && n < MAX_WAITS) {
			r = wait_once(kind, &open, fds[0], epfd);
			if (r != -1 || errno != EINTR) {
				say("wait_mask: %s returned %d (%s)\n", kind_names[kind], r, strerror(errno));
				return 1;
			}
			n++;
		}
		waits += n;
		if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != round) {
			say("wait_mask: round %d: child %d not reaped right\n", round, child);
			return 1;
		}
		sigprocmask(SIG_BLOCK, NULL, &now);
		say("round %d %s: child %d, SIGUSR1 %d, SIGCHLD %d, mask back %s\n", round,
		    kind_names[kind], child, g_usr1, g_chld,
		    sigismember(&now, SIGUSR1) && sigismember(&now, SIGCHLD) && !sigismember(&now, SIGUSR2)
			    && !sigismember(&now, SIGHUP) ? "yes" : "NO");
		if (!sigismember(&now, SIGUSR1) || !sigismember(&now, SIGCHLD) || g_bad || !g_usr1 || !g_chld) {
			say("wait_mask: round %d: wrong mask (handler %s)\n", round, g_bad ? "bad" : "fine");
			return 1;
		}
	}
	say("interrupted waits: %ld\n", waits);
	say("wait_mask: ok\n");
	return 0;
}
