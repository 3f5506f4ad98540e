/* SPDX-License-Identifier: MIT */
/*
 * stdin_echo [--pid=FILE] [COUNT_FILE]: reads its standard input 64 bytes
 * at a time, one read(2) each millisecond, and writes what it read to its
 * standard output, until the end of its input; then "stdin_echo: N bytes",
 * and "stdin_echo: M signals" if SIGRTMIN came M > 0 times (a real-time
 * signal: each one sent queues, none merges with another pending). Its input is
 * consumed as it runs (e2e tp-rerun-redeliver: a TP run's reads of a pipe
 * it started with are given again to a re-run from a checkpoint). With
 * COUNT_FILE, after each read the file is made anew (O_TRUNC) with the
 * count so far (e2e tp-rerun-refused: a file cut after a checkpoint is not
 * put back, and the re-run is refused, named). With --pid=FILE, its pid
 * goes to FILE first, for a sender of SIGRTMIN outside the recording (e2e
 * tp-rerun-signals: the TP run's signals from outside are sent again to a
 * re-run from a checkpoint). With --selfpipe, it waits for its input in
 * epoll_wait(2) on an epoll instance that also watches a self-pipe
 * holding one byte, and before each read makes the self-pipe anew (the
 * old one's byte read, both its ends closed, the new one added to the
 * instance): each time, the pipe's byte must be there and the instance
 * must report the pipe readable, an eventfd must hold the number of
 * turns before, a timerfd (CLOCK_MONOTONIC) must be set to expire in
 * 1000 + that number of seconds, less the few elapsed (each turn sets it
 * again), and a signalfd must take SIGUSR1 or SIGUSR2 by its parity (its
 * mask read from /proc/self/fdinfo, opened the turn before and held open
 * across the wait; each turn sets it again), else it says so and exits 3
 * (e2e tp-rerun-selfpipe: a pipe of the program's own that the TP run
 * closed after the checkpoint is made anew for a re-run, with its byte;
 * the epoll instance has the interest list it had there, the eventfd its
 * counter there, the timerfd and signalfd their setting there, and the
 * /proc file is opened anew in the re-run's process). With
 * --conn=PORTFILE, its input and output are instead two TCP connections
 * it accepts on 127.0.0.1 one after the other (the port written to
 * PORTFILE, left open), the first with accept4(2), the second with
 * accept(2), which must give the peer's address, 127.0.0.1; at each
 * connection's end it closes it (a dup2(2) of /dev/null over it, as a
 * daemon drops its stdio), and after the second it reads its standard
 * input to its end, as the client, which waits for each close, says it is
 * done. The program's one dup2 and one accept are where the e2e cases
 * force a divergence: tp-rerun-conn (at the dup2: a connection the TP run
 * closed after the checkpoint is given to a re-run from it, and its close
 * reaches the client), tp-rerun-accept (at the accept: the connection the
 * TP run accepted after the checkpoint is given to the re-run's accept).
 * With --nonblock before it, the listening socket is non-blocking and each
 * accept waits for it in poll(2) (e2e tp-rerun-accept-refused: such a
 * connection is not given to a re-run, refused by name).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <poll.h>

#include "progs.h"

static volatile sig_atomic_t g_sigs;

static void selfpipe_new(int ep, int sp[2]);

/* The signal signalfd @sfd takes at turn @turns. */
static int
turn_signal(uint64_t turns)
{
	return turns % 2 ? SIGUSR2 : SIGUSR1;
}

/* /proc/self/fdinfo of signalfd @sfd, opened (for the next turn's read:
 * open across the wait for input, so a re-run from a checkpoint there is
 * given it; the TP run's description shows a process gone, and reads
 * nothing: uprr opens it anew in the re-run's process). */
static int
fdinfo_open(int sfd)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", sfd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("stdin_echo: %s: %s", path, strerror(errno));
	return fd;
}

/* Turn @turns: timerfd @tfd expires in 1000 + @turns s, less the few
 * elapsed, and signalfd @sfd takes turn_signal(@turns), as its fdinfo
 * opened the turn before (*@info) says; then both set for the next turn,
 * and its fdinfo opened again. */
static void
timers_turn(int tfd, int sfd, int *info, uint64_t turns)
{
	struct itimerspec its = { 0 };
	char text[512], *at;
	unsigned long long mask = 0;
	sigset_t next;
	ssize_t n;

	if (timerfd_gettime(tfd, &its) < 0)
		die("stdin_echo: timerfd_gettime: %s", strerror(errno));
	if (its.it_value.tv_sec > (time_t)(1000 + turns) || its.it_value.tv_sec < (time_t)(990 + turns))
		die("stdin_echo: the timerfd expires in %lld s, not about %llu", (long long)its.it_value.tv_sec,
		    (unsigned long long)(1000 + turns));
	n = read(*info, text, sizeof(text) - 1);
	close(*info);
	text[n > 0 ? n : 0] = 0;
	at = strstr(text, "sigmask:");
	if (!at || sscanf(at, "sigmask: %llx", &mask) != 1 || mask != 1ull << (turn_signal(turns) - 1))
		die("stdin_echo: the signalfd takes %#llx, not signal %d", mask, turn_signal(turns));
	its = (struct itimerspec){ .it_value = { (time_t)(1000 + turns + 1), 0 } };
	sigemptyset(&next);
	sigaddset(&next, turn_signal(turns + 1));
	if (timerfd_settime(tfd, 0, &its, NULL) < 0 || signalfd(sfd, &next, 0) != sfd)
		die("stdin_echo: timerfd_settime, signalfd: %s", strerror(errno));
	*info = fdinfo_open(sfd);
}

/* The self-pipe @sp: its byte there, and @ep reports it readable; then
 * made anew, the old one closed, the new one added to @ep, its byte in.
 * The eventfd @efd holds the number of turns before (its counter: read,
 * then the next number written). */
static void
selfpipe_turn(int ep, int sp[2], int efd, int tfd, int sfd, int *info)
{
	static uint64_t turns;
	uint64_t v = 0;

	if (read(efd, &v, sizeof(v)) != (turns ? (ssize_t)sizeof(v) : -1) || v != turns)
		die("stdin_echo: the eventfd holds %llu, not %llu", (unsigned long long)v, (unsigned long long)turns);
	timers_turn(tfd, sfd, info, turns);
	turns++;
	if (write(efd, &turns, sizeof(turns)) != sizeof(turns))
		die("stdin_echo: eventfd write: %s", strerror(errno));
	selfpipe_new(ep, sp);
}

static void
selfpipe_new(int ep, int sp[2])
{
	struct epoll_event evs[4], ev = { .events = EPOLLIN };
	int n = epoll_wait(ep, evs, 4, 0), np[2];
	bool seen = false;
	char c = 0;

	for (int i = 0; i < n; i++)
		seen |= evs[i].data.fd == sp[0];
	if (!seen)
		die("stdin_echo: the epoll instance does not report the self-pipe (%d events)", n);
	if (read(sp[0], &c, 1) != 1 || c != 'T')
		die("stdin_echo: the self-pipe's byte is not there");
	if (pipe2(np, O_CLOEXEC) < 0 || write(np[1], "T", 1) != 1)
		die("stdin_echo: pipe2: %s", strerror(errno));
	close(sp[0]);
	close(sp[1]);
	ev.data.fd = np[0];
	if (epoll_ctl(ep, EPOLL_CTL_ADD, np[0], &ev) < 0)
		die("stdin_echo: epoll_ctl: %s", strerror(errno));
	sp[0] = np[0];
	sp[1] = np[1];
}

/* --conn=@portfile: two connections echoed (the usage above); the bytes
 * they sent. */
static long
serve_conns(const char *portfile, bool nonblock)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timespec ms = { 0, 1000000 };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0), fd, null;
	long total = 0;
	char buf[64];
	ssize_t n;

	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &len) < 0)
		die("stdin_echo: listen: %s", strerror(errno));
	fd = open(portfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || null < 0 || dprintf(fd, "%d\n", ntohs(a.sin_port)) < 0)
		die("stdin_echo: %s: %s", portfile, strerror(errno));
	for (int i = 0; i < 2; i++) {
		struct sockaddr_in peer = { 0 };

		struct pollfd pfd = { .fd = l, .events = POLLIN };

		if (nonblock && poll(&pfd, 1, -1) != 1)
			die("stdin_echo: poll: %s", strerror(errno));
		len = sizeof(peer);
		fd = i == 0 ? accept4(l, NULL, NULL, SOCK_CLOEXEC) : accept(l, (struct sockaddr *)&peer, &len);
		if (fd < 0)
			die("stdin_echo: accept: %s", strerror(errno));
		if (i == 1 && (len != sizeof(peer) || peer.sin_family != AF_INET ||
			       peer.sin_addr.s_addr != htonl(INADDR_LOOPBACK)))
			die("stdin_echo: accept(2) gave no peer address 127.0.0.1 (length %u)", (unsigned)len);
		while ((n = read(fd, buf, sizeof(buf))) != 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 || write(fd, buf, (size_t)n) != n)
				die("stdin_echo: connection %d: %s", i, strerror(errno));
			total += n;
			nanosleep(&ms, NULL);
		}
		/* the client's end: ours */
		if (dup2(null, fd) < 0)
			die("stdin_echo: dup2 /dev/null: %s", strerror(errno));
	}
	/* the client's word that it saw both */
	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) != 0)
		if (n < 0 && errno != EINTR)
			die("stdin_echo: read stdin: %s", strerror(errno));
	return total;
}

static void
on_signal(int sig)
{
	(void)sig;
	g_sigs++;
}

int
main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	struct timespec ms = { 0, 1000000 };
	const char *count_file = NULL;
	int ep = -1, sp[2] = { -1, -1 }, efd = -1, tfd = -1, sfd = -1, info = -1;
	bool nonblock = false;
	char buf[64];
	long total = 0;
	ssize_t n;

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGRTMIN, &sa, NULL) < 0)
		die("stdin_echo: sigaction: %s", strerror(errno));
	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--pid=", 6)) {
			int fd = open(argv[i] + 6, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

			if (fd < 0 || dprintf(fd, "%d\n", (int)getpid()) < 0 || close(fd) < 0)
				die("stdin_echo: %s: %s", argv[i] + 6, strerror(errno));
		} else if (!strcmp(argv[i], "--selfpipe")) {
			struct epoll_event ev = { .events = EPOLLIN, .data.fd = STDIN_FILENO };

			struct itimerspec its = { .it_value = { 1000, 0 } };
			sigset_t first;

			sigemptyset(&first);
			sigaddset(&first, turn_signal(0));
			ep = epoll_create1(EPOLL_CLOEXEC);
			efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
			sfd = signalfd(-1, &first, SFD_CLOEXEC | SFD_NONBLOCK);
			if (tfd < 0 || sfd < 0 || timerfd_settime(tfd, 0, &its, NULL) < 0)
				die("stdin_echo: timerfd, signalfd: %s", strerror(errno));
			info = fdinfo_open(sfd);
			if (ep < 0 || efd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, STDIN_FILENO, &ev) < 0 ||
			    pipe2(sp, O_CLOEXEC) < 0 || write(sp[1], "T", 1) != 1)
				die("stdin_echo: epoll: %s", strerror(errno));
			ev.data.fd = sp[0];
			if (epoll_ctl(ep, EPOLL_CTL_ADD, sp[0], &ev) < 0)
				die("stdin_echo: epoll_ctl: %s", strerror(errno));
		} else if (!strcmp(argv[i], "--nonblock")) {
			nonblock = true;
		} else if (!strncmp(argv[i], "--conn=", 7)) {
			printf("stdin_echo: %ld bytes\n", serve_conns(argv[i] + 7, nonblock));
			return 0;
		} else {
			count_file = argv[i];
		}
	}
	for (;;) {
		if (ep >= 0) {
			struct epoll_event evs[4];
			bool input = false;

			selfpipe_turn(ep, sp, efd, tfd, sfd, &info);
			/* the pipe is always readable: wait until stdin is */
			while (!input) {
				int k = epoll_wait(ep, evs, 4, -1);

				for (int i = 0; i < k; i++)
					input |= evs[i].data.fd == STDIN_FILENO;
				if (!input)
					nanosleep(&ms, NULL);
			}
		}
		n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n == 0)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("stdin_echo: read: %s", strerror(errno));
		if (write(STDOUT_FILENO, buf, (size_t)n) != n)
			die("stdin_echo: write: %s", strerror(errno));
		total += n;
		if (count_file) {
			int fd = open(count_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

			if (fd < 0 || dprintf(fd, "%ld\n", total) < 0 || close(fd) < 0)
				die("stdin_echo: %s: %s", count_file, strerror(errno));
		}
		nanosleep(&ms, NULL);
	}
	printf("stdin_echo: %ld bytes\n", total);
	if (g_sigs)
		printf("stdin_echo: %d signals\n", (int)g_sigs);
	return 0;
}
