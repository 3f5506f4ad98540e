/* SPDX-License-Identifier: MIT */
/*
 * out_lines N MS [MARKER]: two threads write N lines each to stdout, one
 * every MS milliseconds per thread, numbered in the order they are written
 * (a counter taken under a mutex, the write made under it too), one thread
 * with write(2), the other with writev(2). The output is the same in every
 * run: "line 0" to "line 2N-1", then "out_lines: 2N lines". When both
 * threads are done, MARKER (a regular file) is created: a reader of stdout
 * outside the recording can tell whether it saw a line before the program
 * ended (output commit holds a TP run's lines until the EP run verified
 * them; e2e e2e_output.py).
 */
#include <fcntl.h>
#include <pthread.h>
#include <sys/uio.h>

#include "progs.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned g_next;
static unsigned g_lines;
static long g_ms;

/* Write all of @iov[@n] to stdout (a pipe may take it in parts). */
static void
put(struct iovec *iov, int n, int use_writev)
{
	while (n > 0) {
		ssize_t w = use_writev ? writev(STDOUT_FILENO, iov, n)
				       : write(STDOUT_FILENO, iov[0].iov_base, iov[0].iov_len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			die("out_lines: write: %s", strerror(errno));
		while (n > 0 && (size_t)w >= iov[0].iov_len) {
			w -= (ssize_t)iov[0].iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov[0].iov_base = (char *)iov[0].iov_base + w;
			iov[0].iov_len -= (size_t)w;
		}
	}
}

static void *
writer(void *arg)
{
	int use_writev = (int)(intptr_t)arg;
	struct timespec pause = { g_ms / 1000, (g_ms % 1000) * 1000000 };

	for (unsigned i = 0; i < g_lines; i++) {
		char head[] = "line ", num[24];
		struct iovec iov[2];
		int len;

		pthread_mutex_lock(&g_lock);
		len = snprintf(num, sizeof(num), "%u\n", g_next++);
		if (use_writev) {
			iov[0] = (struct iovec){ head, 5 };
			iov[1] = (struct iovec){ num, (size_t)len };
			put(iov, 2, 1);
		} else {
			char line[32];

			len = snprintf(line, sizeof(line), "line %s", num);
			iov[0] = (struct iovec){ line, (size_t)len };
			put(iov, 1, 0);
		}
		pthread_mutex_unlock(&g_lock);
		nanosleep(&pause, NULL);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t t[2];

	if (argc < 3)
		die("usage: out_lines N MS [MARKER]");
	g_lines = (unsigned)atoi(argv[1]);
	g_ms = atol(argv[2]);
	for (int i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, writer, (void *)(intptr_t)i) != 0)
			die("out_lines: pthread_create failed");
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	say("out_lines: %u lines\n", 2 * g_lines);
	if (argc > 3) {
		int fd = open(argv[3], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

		if (fd < 0)
			die("out_lines: cannot create %s: %s", argv[3], strerror(errno));
		close(fd);
	}
	return 0;
}
