/* SPDX-License-Identifier: MIT */
/*
 * tcp_inside ROUNDS: a parent and its child talk over TCP on 127.0.0.1
 * (the child listens, the parent connects): ROUNDS times the parent sends
 * "ping N" and waits for "pong N". Both ends are recorded processes, so
 * output commit must not hold their writes (each would wait for the
 * other's held reply for ever). Prints "tcp_inside: N rounds".
 *
 * tcp_inside ROUNDS PORT MARKER: connects to 127.0.0.1:PORT instead (a
 * server outside the recording), sends "msg N" ROUNDS times, 5 ms apart,
 * with write(2) and send(2) in turn, shuts it down for writing, closes,
 * then creates the file MARKER:
 * held, the server sees no byte before MARKER exists.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "progs.h"

/* Read one line ending in '\n' from @fd into @buf. */
static void
get_line(int fd, char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len) {
		ssize_t r = read(fd, buf + n, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("tcp_inside: read: %s", r ? strerror(errno) : "end of stream");
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
}

static void
put_line(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		die("tcp_inside: write: %s", strerror(errno));
}

static int
to_outside(int rounds, int port, const char *marker)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timespec pause = { 0, 5000000 };
	char buf[64];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("tcp_inside: connect: %s", strerror(errno));
	for (int i = 0; i < rounds; i++) {
		int n = snprintf(buf, sizeof(buf), "msg %d\n", i);

		if ((i % 2 ? send(fd, buf, (size_t)n, 0) : write(fd, buf, (size_t)n)) != n)
			die("tcp_inside: send: %s", strerror(errno));
		nanosleep(&pause, NULL);
	}
	/* the end of the stream, before the close (a held shutdown must
	 * come after the held messages) */
	if (shutdown(fd, SHUT_WR) < 0)
		die("tcp_inside: shutdown: %s", strerror(errno));
	close(fd);
	fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		die("tcp_inside: cannot create %s: %s", marker, strerror(errno));
	close(fd);
	say("tcp_inside: %d messages sent\n", rounds);
	return 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int rounds = argc > 1 ? atoi(argv[1]) : 20, lfd, fd, status;
	char buf[64], want[64];
	pid_t child;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (argc > 3)
		return to_outside(rounds, atoi(argv[2]), argv[3]);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) < 0)
		die("tcp_inside: listen: %s", strerror(errno));
	child = fork();
	if (child < 0)
		die("tcp_inside: fork: %s", strerror(errno));
	if (child == 0) {
		int c = accept(lfd, NULL, NULL);

		if (c < 0)
			die("tcp_inside: accept: %s", strerror(errno));
		for (int i = 0; i < rounds; i++) {
			get_line(c, buf, sizeof(buf));
			snprintf(want, sizeof(want), "ping %d\n", i);
			if (strcmp(buf, want))
				die("tcp_inside: the server got %s", buf);
			snprintf(want, sizeof(want), "pong %d\n", i);
			put_line(c, want);
		}
		_exit(0);
	}
	close(lfd);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("tcp_inside: connect: %s", strerror(errno));
	for (int i = 0; i < rounds; i++) {
		snprintf(want, sizeof(want), "ping %d\n", i);
		put_line(fd, want);
		get_line(fd, buf, sizeof(buf));
		snprintf(want, sizeof(want), "pong %d\n", i);
		if (strcmp(buf, want))
			die("tcp_inside: the client got %s", buf);
	}
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		die("tcp_inside: the server failed");
	say("tcp_inside: %d rounds\n", rounds);
	return 0;
}
