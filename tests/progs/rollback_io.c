/* SPDX-License-Identifier: MIT */
/*
 * For the rollback of the TP run (doc/uniparallel.md, "Divergence and
 * rollback"; e2e tp-rollback-live, tp-rollback-syscall): a thread writes
 * chunks into a pipe and a stream socket (socketpair(2)); the main thread
 * reads each chunk from both and one from a file, folds them into a global
 * state, sleeps 2 ms and appends a line with the state to a file.
 * UPRR_EP_DIVERGE=K:live:ADDR changes a byte of that state in the TP run at
 * epoch K's end: rolled back, the TP run goes on from the EP run's state,
 * and the lines appended and the bytes read are a native run's. A
 * divergence at a syscall of epoch K (UPRR_EP_DIVERGE=K:syscall) re-runs
 * the epoch: what the TP run read from the pipe and the socket must be
 * read again, its lines appended once.
 *
 * Prints the state's address to stderr (the same in every recording: uprr
 * turns address randomization off), and to stdout what it read and the
 * final state.
 * Usage: rollback_io INFILE OUTFILE [CHUNKS]
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "progs.h"

#define CHUNK 256

static volatile uint64_t g_state = 0xcbf29ce484222325ull;
static int g_pipe[2], g_sock[2];
static long g_chunks = 60;

static void *
writer_main(void *arg)
{
	struct timespec ms = { 0, 1000000 };
	unsigned char buf[CHUNK];

	(void)arg;
	for (long i = 0; i < g_chunks; i++) {
		for (int j = 0; j < CHUNK; j++)
			buf[j] = (unsigned char)(i * 31 + j * 7);
		if (write(g_pipe[1], buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			die("write pipe: %s", strerror(errno));
		for (int j = 0; j < CHUNK; j++)
			buf[j] = (unsigned char)(i * 17 + j * 3 + 1);
		if (send(g_sock[1], buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
			die("send: %s", strerror(errno));
		nanosleep(&ms, NULL);
	}
	close(g_pipe[1]);
	shutdown(g_sock[1], SHUT_WR);
	return NULL;
}

/* Read @len bytes of @fd into @buf (recv(2) if @sock): the count read
 * (short at EOF). */
static size_t
read_full(int fd, unsigned char *buf, size_t len, bool sock)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = sock ? recv(fd, buf + off, len - off, 0) : read(fd, buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read: %s", strerror(errno));
		if (!n)
			break;
		off += (size_t)n;
	}
	return off;
}

static void
fold(const unsigned char *buf, size_t n)
{
	uint64_t s = g_state;

	for (size_t i = 0; i < n; i++)
		s = (s ^ buf[i]) * 0x100000001b3ull;
	g_state = s;
}

int
main(int argc, char **argv)
{
	struct timespec ms2 = { 0, 2000000 };
	unsigned char buf[CHUNK];
	size_t from_file = 0, from_pipe = 0, from_sock = 0;
	pthread_t th;
	int in, out;

	if (argc < 3)
		die("usage: rollback_io INFILE OUTFILE [CHUNKS]");
	if (argc > 3)
		g_chunks = atol(argv[3]);
	in = open(argv[1], O_RDONLY | O_CLOEXEC);
	out = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (in < 0 || out < 0)
		die("open: %s", strerror(errno));
	if (pipe(g_pipe) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, g_sock) < 0)
		die("pipe: %s", strerror(errno));
	fprintf(stderr, "rollback_io: state at %p\n", (void *)&g_state);
	if (pthread_create(&th, NULL, writer_main, NULL) != 0)
		die("pthread_create failed");
	for (long i = 0; i < g_chunks; i++) {
		char line[64];
		size_t n = read_full(g_pipe[0], buf, sizeof(buf), false);
		int len;

		from_pipe += n;
		fold(buf, n);
		n = read_full(g_sock[0], buf, sizeof(buf), true);
		from_sock += n;
		fold(buf, n);
		n = read_full(in, buf, sizeof(buf), false);
		from_file += n;
		fold(buf, n);
		nanosleep(&ms2, NULL);
		len = snprintf(line, sizeof(line), "chunk %ld: %016llx\n", i, (unsigned long long)g_state);
		if (write(out, line, (size_t)len) != len)
			die("write %s: %s", argv[2], strerror(errno));
	}
	pthread_join(th, NULL);
	say("rollback_io: %zu bytes from the file, %zu from the pipe, %zu from the socket, state %016llx\n",
	    from_file, from_pipe, from_sock, (unsigned long long)g_state);
	return 0;
}
