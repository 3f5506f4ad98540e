/* SPDX-License-Identifier: MIT */
/*
 * Calls the syscall buffer takes, in the ways that leave more than one
 * record or event for one call of the program (preload/syscallbuf.c,
 * buffered-wait.c, buffered-fd.c), for an EP run to answer from a TP log
 * (ep/syscall-log-sb.c):
 *   - calls that wait: the buffer's attempt finds nothing (read, poll,
 *     ppoll and select with a timeout, recvmsg, epoll_wait), then the
 *     traced call waits until another thread writes, 3 ms later;
 *   - calls ready at once: their outputs (revents, fd sets, a recvmsg's
 *     bytes scattered over 3 iovecs and its msg_flags, readv's iovecs,
 *     fstat, epoll events);
 *   - writes the kernel takes part of (a 256 KiB write and a writev of 3
 *     iovecs to a pipe another thread drains): the rest goes traced;
 *   - writes to a regular file (kept as hashes in the log) read back.
 * Prints what each call returned and checksums of the bytes: the same in
 * every run.
 *
 * Usage: ep_buffered DIR (a directory it may write a file in)
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "progs.h"

#define BIG (256 * 1024)

static int g_fd;		/* where the helper writes */
static const char *g_what;	/* what it writes */
static unsigned char g_big[BIG];

/* Write g_what to g_fd 3 ms from now (the waiter is in the kernel by then). */
static void *
later(void *arg)
{
	(void)arg;
	sleep_us(3000);
	if (write(g_fd, g_what, strlen(g_what)) != (ssize_t)strlen(g_what))
		die("ep_buffered: write: %s", strerror(errno));
	return NULL;
}

static pthread_t
write_later(int fd, const char *what)
{
	pthread_t t;

	g_fd = fd;
	g_what = what;
	if (pthread_create(&t, NULL, later, NULL) != 0)
		die("ep_buffered: pthread_create");
	return t;
}

/* Read all of pipe g_fd until EOF, slowly at first: returns the checksum. */
static void *
drain(void *arg)
{
	static unsigned char buf[8192];
	uint64_t sum = FNV1A_INIT, total = 0;
	ssize_t n;

	(void)arg;
	sleep_us(3000);
	while ((n = read(g_fd, buf, sizeof(buf))) > 0) {
		sum = fnv1a(sum, buf, (size_t)n);
		total += (uint64_t)n;
	}
	say("  drained %llu bytes, checksum %016llx\n", (unsigned long long)total, (unsigned long long)sum);
	return NULL;
}

static void
pipe_of(int p[2])
{
	if (pipe2(p, O_CLOEXEC) < 0)
		die("ep_buffered: pipe: %s", strerror(errno));
}

static void
waits(void)
{
	struct pollfd pfd[2];
	struct timespec ts = { 5, 0 };
	struct timeval tv = { 5, 0 };
	struct epoll_event ev = { .events = EPOLLIN }, got[4];
	char buf[64] = "";
	fd_set rd;
	int p[2], ep;
	ssize_t n;
	pthread_t t;

	pipe_of(p);
	t = write_later(p[1], "ping");
	n = read(p[0], buf, sizeof(buf));
	pthread_join(t, NULL);
	say("read waits: %zd '%.*s'\n", n, (int)(n > 0 ? n : 0), buf);

	t = write_later(p[1], "x");
	pfd[0] = (struct pollfd){ .fd = p[0], .events = POLLIN };
	n = poll(pfd, 1, -1);
	pthread_join(t, NULL);
	say("poll waits: %zd, revents 0x%x\n", n, pfd[0].revents);
	pfd[1] = (struct pollfd){ .fd = p[1], .events = POLLOUT };
	n = poll(pfd, 2, 0);
	say("poll ready at once: %zd, revents 0x%x 0x%x\n", n, pfd[0].revents, pfd[1].revents);
	if (read(p[0], buf, sizeof(buf)) != 1)
		die("ep_buffered: read x");

	n = ppoll(pfd, 1, &(struct timespec){ 0, 0 }, NULL);
	say("ppoll with nothing ready, no wait: %zd\n", n);
	t = write_later(p[1], "yz");
	n = ppoll(pfd, 1, &ts, NULL);
	pthread_join(t, NULL);
	say("ppoll waits: %zd, revents 0x%x\n", n, pfd[0].revents);

	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	n = select(p[0] + 1, &rd, NULL, NULL, &tv);
	say("select ready at once: %zd, readable %d\n", n, FD_ISSET(p[0], &rd));
	if (read(p[0], buf, sizeof(buf)) != 2)
		die("ep_buffered: read yz");
	t = write_later(p[1], "w");
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	n = select(p[0] + 1, &rd, NULL, NULL, &tv);
	pthread_join(t, NULL);
	say("select waits: %zd, readable %d\n", n, FD_ISSET(p[0], &rd));

	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.data.u64 = 0x1234;
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) < 0)
		die("ep_buffered: epoll: %s", strerror(errno));
	n = epoll_wait(ep, got, 4, -1);
	say("epoll ready at once: %zd, data 0x%llx\n", n, (unsigned long long)got[0].data.u64);
	if (read(p[0], buf, sizeof(buf)) != 1)
		die("ep_buffered: read w");
	t = write_later(p[1], "v");
	n = epoll_wait(ep, got, 4, -1);
	pthread_join(t, NULL);
	say("epoll waits: %zd, data 0x%llx\n", n, (unsigned long long)got[0].data.u64);
	close(ep);
	close(p[0]);
	close(p[1]);
}

static void
messages(void)
{
	char a[3], b[5], c[16];
	struct iovec iov[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
	struct sockaddr_storage name;
	struct msghdr m = { .msg_name = &name, .msg_namelen = sizeof(name), .msg_iov = iov, .msg_iovlen = 3 };
	int s[2];
	ssize_t n;
	pthread_t t;

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, s) < 0)
		die("ep_buffered: socketpair: %s", strerror(errno));
	if (send(s[1], "abcdefghijkl", 12, 0) != 12)
		die("ep_buffered: send");
	n = recvmsg(s[0], &m, 0);
	say("recvmsg ready at once: %zd '%.3s' '%.5s' '%.4s' namelen %u flags 0x%x\n", n, a, b, c,
	    m.msg_namelen, m.msg_flags);
	t = write_later(s[1], "0123456789abcdefghijklmnopqrstuvwxyz");
	m.msg_namelen = sizeof(name);
	n = recvmsg(s[0], &m, 0);
	pthread_join(t, NULL);
	say("recvmsg waits: %zd '%.3s' '%.5s' '%.16s' flags 0x%x (truncated: %d)\n", n, a, b, c,
	    m.msg_flags, !!(m.msg_flags & MSG_TRUNC));
	close(s[0]);
	close(s[1]);
}

static void
partial_writes(void)
{
	struct iovec iov[3] = { { g_big, 100000 }, { g_big + 100000, 100000 }, { g_big + 200000, BIG - 200000 } };
	uint64_t rng = 42;
	int p[2];
	ssize_t n;
	pthread_t t;

	for (size_t i = 0; i < BIG; i++)
		g_big[i] = (unsigned char)rng_next(&rng);
	say("%d bytes to write, checksum %016llx\n", BIG, (unsigned long long)fnv1a(FNV1A_INIT, g_big, BIG));
	for (int k = 0; k < 2; k++) {
		pipe_of(p);
		g_fd = p[0];
		if (pthread_create(&t, NULL, drain, NULL) != 0)
			die("ep_buffered: pthread_create");
		n = k ? writev(p[1], iov, 3) : write(p[1], g_big, BIG);
		say("%s of %d bytes to a pipe: %zd\n", k ? "writev" : "write", BIG, n);
		close(p[1]);
		pthread_join(t, NULL);
		close(p[0]);
	}
}

static void
files(const char *dir)
{
	char path[4096], a[100], b[28], c[1000];
	struct iovec out[2] = { { g_big, 5000 }, { g_big + 5000, 300 } };
	struct iovec in[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
	struct stat st;
	uint64_t sum;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/ep_buffered.out", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die("ep_buffered: %s: %s", path, strerror(errno));
	n = write(fd, g_big, 4000);
	say("write to a file: %zd\n", n);
	n = writev(fd, out, 2);
	say("writev to a file: %zd\n", n);
	n = pwrite(fd, g_big + 9000, 777, 100);
	say("pwrite to a file: %zd\n", n);
	if (fstat(fd, &st) < 0)
		die("ep_buffered: fstat: %s", strerror(errno));
	say("fstat: size %lld\n", (long long)st.st_size);
	if (lseek(fd, 0, SEEK_SET) != 0)
		die("ep_buffered: lseek: %s", strerror(errno));
	n = readv(fd, in, 3);
	sum = fnv1a(fnv1a(fnv1a(FNV1A_INIT, a, sizeof(a)), b, sizeof(b)), c, sizeof(c));
	say("readv: %zd, checksum %016llx\n", n, (unsigned long long)sum);
	close(fd);
	unlink(path);
}

int
main(int argc, char **argv)
{
	if (argc != 2)
		die("usage: ep_buffered DIR");
	waits();
	messages();
	partial_writes();
	files(argv[1]);
	say("ep_buffered: done\n");
	return 0;
}
