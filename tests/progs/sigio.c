/* SPDX-License-Identifier: MIT */
/*
 * Signal-driven I/O, as nginx's master and workers use it on their channel
 * socketpair: ioctl FIOASYNC + FIOSETOWN on a socket (plain SIGIO), and on
 * a pipe fcntl F_SETFL O_ASYNC + F_SETOWN_EX + F_SETSIG SIGRTMIN (a queued
 * signal whose siginfo names the fd and the band). A child writes one
 * message at a time and waits for the parent's ack; the parent waits for
 * each signal, reads the message and prints it, then the signal counts.
 * Seed from argv[1], else random.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "progs.h"

#define ROUNDS 12

static volatile sig_atomic_t sigio_count, rt_count, rt_fd = -1, rt_band, rt_code;

static void
on_sigio(int sig)
{
	(void)sig;
	sigio_count++;
}

static void
on_rt(int sig, siginfo_t *si, void *ctx)
{
	(void)sig, (void)ctx;
	rt_count++;
	rt_fd = si->si_fd;
	rt_band = (int)si->si_band;
	rt_code = si->si_code;
}

static void
child(int sock, int pipe_w, int ack_r, uint64_t seed)
{
	char msg[48], ack;

	prctl(PR_SET_PDEATHSIG, SIGKILL); /* a parent that fails ends it */
	for (int i = 0; i < ROUNDS; i++) {
		int fd = i % 2 ? pipe_w : sock;

		snprintf(msg, sizeof(msg), "message %d %08" PRIx64, i, rng_next(&seed) & 0xffffffff);
		if (write(fd, msg, strlen(msg)) < 0 || read(ack_r, &ack, 1) != 1)
			die("child: %s", strerror(errno));
	}
	_exit(0);
}

int
main(int argc, char **argv)
{
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : random_seed();
	struct sigaction sa = { .sa_handler = on_sigio }, rt = { .sa_sigaction = on_rt,
								  .sa_flags = SA_SIGINFO };
	struct f_owner_ex owner = { F_OWNER_TID, 0 }, got_owner;
	int sv[2], p[2], ack[2], on = 1, me = getpid(), got = 0, status;
	sigset_t block, old;
	char buf[64];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || pipe2(p, O_CLOEXEC) < 0 ||
	    pipe2(ack, O_CLOEXEC) < 0)
		die("socketpair or pipe: %s", strerror(errno));
	sigaction(SIGIO, &sa, NULL);
	sigaction(SIGRTMIN, &rt, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGIO);
	sigaddset(&block, SIGRTMIN);
	sigprocmask(SIG_BLOCK, &block, &old);

	/* the socket: nginx's way */
	if (ioctl(sv[0], FIOASYNC, &on) < 0 || ioctl(sv[0], FIOSETOWN, &me) < 0)
		die("FIOASYNC/FIOSETOWN: %s", strerror(errno));
	if (ioctl(sv[0], FIOGETOWN, &got) < 0)
		die("FIOGETOWN: %s", strerror(errno));
	say("socket: owner is this process: %s\n", got == me ? "yes" : "no");
	got = 0;
	if (ioctl(sv[0], SIOCGPGRP, &got) < 0)
		die("SIOCGPGRP: %s", strerror(errno));
	say("socket: SIOCGPGRP agrees: %s; F_GETOWN agrees: %s\n", got == me ? "yes" : "no",
	    fcntl(sv[0], F_GETOWN) == me ? "yes" : "no");

	/* the pipe: fcntl's way, with a queued signal */
	owner.pid = me; /* the main thread */
	if (fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_ASYNC) < 0 ||
	    fcntl(p[0], F_SETOWN_EX, &owner) < 0 || fcntl(p[0], F_SETSIG, SIGRTMIN) < 0)
		die("fcntl: %s", strerror(errno));
	if (fcntl(p[0], F_GETOWN_EX, &got_owner) < 0)
		die("F_GETOWN_EX: %s", strerror(errno));
	say("pipe: owner type %s, this thread: %s; F_GETSIG is SIGRTMIN: %s\n",
	    got_owner.type == F_OWNER_TID ? "F_OWNER_TID" : "other",
	    got_owner.pid == me ? "yes" : "no", fcntl(p[0], F_GETSIG) == SIGRTMIN ? "yes" : "no");
	if (fcntl(sv[0], F_SETOWN, me) < 0)
		die("F_SETOWN: %s", strerror(errno));

	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0)
		child(sv[1], p[1], ack[0], seed);
	for (int i = 0; i < ROUNDS; i++) {
		int fd = i % 2 ? p[0] : sv[0];
		int want_io = sigio_count + !(i % 2), want_rt = rt_count + (i % 2);
		ssize_t n;

		while (sigio_count < want_io || rt_count < want_rt)
			sigsuspend(&old);
		n = read(fd, buf, sizeof(buf) - 1);
		if (n <= 0)
			die("read: %s", strerror(errno));
		buf[n] = '\0';
		if (i % 2)
			say("pipe signal: fd is the pipe's: %s, band %s, code %s: '%s'\n",
			    rt_fd == p[0] ? "yes" : "no", rt_band & POLLIN ? "POLLIN" : "?",
			    rt_code == POLL_IN ? "POLL_IN" : "?", buf);
		else
			say("SIGIO: '%s'\n", buf);
		if (write(ack[1], "k", 1) != 1)
			die("ack: %s", strerror(errno));
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		die("the child failed");
	say("signals: %d SIGIO, %d SIGRTMIN\n", (int)sigio_count, (int)rt_count);
	say("sigio: %s\n", sigio_count >= ROUNDS / 2 && rt_count == ROUNDS / 2 ? "ok" : "WRONG");
	return 0;
}
