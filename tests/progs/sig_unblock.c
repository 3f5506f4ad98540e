/* SPDX-License-Identifier: MIT */
/*
 * Signals sent while a handler's mask blocks them: the kernel keeps them
 * pending and delivers them as the handler's rt_sigreturn(2) unblocks them,
 * before any instruction of the interrupted code runs (signal(7)).
 *
 *   sig_unblock die     GNU sort's SIGPIPE handler: signal(sig, SIG_DFL);
 *                       raise(sig). The process dies of SIGPIPE as the
 *                       handler returns; the write never returns.
 *   sig_unblock catch   the raised signal caught by a second handler, which
 *                       runs before the write that drew SIGPIPE returns; the
 *                       same for a signal blocked by the handler's sa_mask,
 *                       and for two of them pending at once.
 *   sig_unblock thread  another thread signals the main thread while the
 *                       main thread's handler blocks that signal (sa_mask).
 *   sig_unblock forget  a signal raised while blocked and taken from a
 *                       signalfd, or by sigtimedwait, is no longer pending:
 *                       the same signal sent later by another process, while
 *                       the program spins, is handled there.
 *
 * Prints what it saw; the output is deterministic (the e2e case compares it
 * with a native run).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "progs.h"

#define ROUNDS 5

static int fds[2];
static volatile sig_atomic_t stage, second_at, usr2_at, term_at, order;
static int go_pipe[2], done_pipe[2];
static pthread_t main_thread;
static volatile sig_atomic_t got_usr1;

static void
set_handler(int sig, void (*fn)(int), const int *masked)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	for (; masked && *masked; masked++)
		sigaddset(&sa.sa_mask, *masked);
	if (sigaction(sig, &sa, NULL) < 0)
		die("sigaction: %s", strerror(errno));
}

static void
die_handler(int sig)
{
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
second_handler(int sig)
{
	(void)sig;
	second_at = stage;
}

static void
first_handler(int sig)
{
	set_handler(sig, second_handler, NULL);
	raise(sig); /* pending: this handler blocks its own signal */
	stage = 2;  /* the second handler runs after this one returns */
}

static void
usr2_handler(int sig)
{
	(void)sig;
	usr2_at = stage;
	order = order * 10 + 2;
}

static void
term_handler(int sig)
{
	(void)sig;
	term_at = stage;
	order = order * 10 + 5;
}

/* SIGPIPE's handler, its sa_mask blocking SIGUSR2 (and SIGTERM) */
static void
masked_handler(int sig)
{
	(void)sig;
	raise(SIGUSR2);
	stage = 2;
}

static void
two_handler(int sig)
{
	(void)sig;
	raise(SIGTERM);
	raise(SIGUSR2);
	stage = 2;
}

/* write to a pipe with no reader: SIGPIPE at the write's return */
static ssize_t
broken_write(void)
{
	if (pipe(fds) < 0)
		die("pipe: %s", strerror(errno));
	close(fds[0]);
	stage = 1;
	return write(fds[1], "x", 1);
}

static void
after_write(const char *what, ssize_t n)
{
	/* the first thing after the write: a handler that runs from here on
	 * sees stage 3, one that ran before the write returned stage 2 */
	stage = 3;
	close(fds[1]);
	say("%s: write returned %zd\n", what, n);
}

static void
thread_handler(int sig)
{
	char c = 'g';

	(void)sig;
	/* the other thread sends SIGUSR2, which this handler blocks */
	if (write(go_pipe[1], &c, 1) != 1 || read(done_pipe[0], &c, 1) != 1)
		die("handshake: %s", strerror(errno));
	stage = 2;
}

static void *
sender(void *arg)
{
	char c;

	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		if (read(go_pipe[0], &c, 1) != 1)
			die("read go: %s", strerror(errno));
		pthread_kill(main_thread, SIGUSR2);
		if (write(done_pipe[1], &c, 1) != 1)
			die("write done: %s", strerror(errno));
	}
	return NULL;
}

static void
usr1_handler(int sig)
{
	(void)sig;
	got_usr1++;
}

/* raise SIGUSR1 while blocked, take it (signalfd, or sigtimedwait), unblock
 * it, and have a child send one while this process spins */
static void
forget_round(bool use_signalfd)
{
	struct signalfd_siginfo ssi;
	sigset_t set;
	pid_t child;
	int fd, status;
	long spins = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	raise(SIGUSR1);
	if (use_signalfd) {
		fd = signalfd(-1, &set, SFD_CLOEXEC);
		if (fd < 0 || read(fd, &ssi, sizeof(ssi)) != (ssize_t)sizeof(ssi))
			die("signalfd: %s", strerror(errno));
		close(fd);
	} else if (sigtimedwait(&set, NULL, &(struct timespec){ 1, 0 }) != SIGUSR1) {
		die("sigtimedwait: %s", strerror(errno));
	}
	got_usr1 = 0;
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	child = fork();
	if (child < 0)
		die("fork: %s", strerror(errno));
	if (child == 0) {
		usleep(2000); /* the parent spins by then */
		kill(getppid(), SIGUSR1);
		_exit(0);
	}
	while (!got_usr1 && spins < 4000000000L)
		spins++;
	waitpid(child, &status, 0);
	say("%s: taken, then the child's SIGUSR1 handled %d time(s)\n",
	    use_signalfd ? "signalfd" : "sigtimedwait", (int)got_usr1);
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "catch";
	int usr2[] = { SIGUSR2, 0 }, both[] = { SIGUSR2, SIGTERM, 0 };
	pthread_t th;
	ssize_t n;

	if (strcmp(mode, "die") == 0) {
		set_handler(SIGPIPE, die_handler, NULL);
		say("sig_unblock: die\n");
		n = broken_write();
		/* natively never here: SIGPIPE kills it as the handler returns */
		say("write returned %zd errno %d\n", n, errno);
		return 3;
	}
	if (strcmp(mode, "catch") == 0) {
		for (int i = 0; i < ROUNDS; i++) {
			set_handler(SIGPIPE, first_handler, NULL);
			second_at = 0;
			n = broken_write();
			after_write("raise in its own handler", n);
			say("  second handler ran at stage %d\n", (int)second_at);
		}
		set_handler(SIGUSR2, usr2_handler, NULL);
		set_handler(SIGTERM, term_handler, NULL);
		for (int i = 0; i < ROUNDS; i++) {
			set_handler(SIGPIPE, masked_handler, usr2);
			usr2_at = 0;
			n = broken_write();
			after_write("raise blocked by sa_mask", n);
			say("  SIGUSR2 handler ran at stage %d\n", (int)usr2_at);
		}
		for (int i = 0; i < ROUNDS; i++) {
			set_handler(SIGPIPE, two_handler, both);
			usr2_at = term_at = order = 0;
			n = broken_write();
			after_write("two raised, blocked by sa_mask", n);
			say("  SIGUSR2 at stage %d, SIGTERM at stage %d, order %d\n", (int)usr2_at,
			    (int)term_at, (int)order);
		}
		say("sig_unblock: catch done\n");
		return 0;
	}
	if (strcmp(mode, "thread") == 0) {
		main_thread = pthread_self();
		if (pipe(go_pipe) < 0 || pipe(done_pipe) < 0)
			die("pipe: %s", strerror(errno));
		set_handler(SIGUSR2, usr2_handler, NULL);
		if (pthread_create(&th, NULL, sender, NULL) != 0)
			die("%s", "pthread_create");
		for (int i = 0; i < ROUNDS; i++) {
			set_handler(SIGPIPE, thread_handler, usr2);
			usr2_at = 0;
			n = broken_write();
			after_write("another thread's signal blocked by sa_mask", n);
			say("  SIGUSR2 handler ran at stage %d\n", (int)usr2_at);
		}
		pthread_join(th, NULL);
		say("sig_unblock: thread done\n");
		return 0;
	}
	if (strcmp(mode, "forget") == 0) {
		set_handler(SIGUSR1, usr1_handler, NULL);
		for (int i = 0; i < ROUNDS; i++) {
			forget_round(true);
			forget_round(false);
		}
		say("sig_unblock: forget done\n");
		return 0;
	}
	die("usage: %s die|catch|thread|forget", argv[0]);
}
