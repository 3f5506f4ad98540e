/* SPDX-License-Identifier: MIT */
/*
 * Two processes, and a second thread in each, write lines in turn to the
 * same kernel objects with no lock between them: a file through one open
 * file description (opened before the fork: its offset is shared, so each
 * line lands where the last writer left it), a pipe, and stdout. Their
 * lines interleave as the kernel happened to run them, which differs from
 * run to run. At the end the parent reads the pipe and the file back and
 * prints them. A replay must show every stdout line in the recording's
 * order, and what the file and the pipe held.
 * Usage: order_shared DIR [ROUNDS] (DIR holds its file, order_shared.out).
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "progs.h"

static int file_fd, pipe_fd[2], rounds = 50;

/* one line to each object: a write(2) each, the file's at the shared offset */
static void
put(const char *who, int i)
{
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "%s %d\n", who, i);

	if (write(file_fd, buf, (size_t)n) != n || write(pipe_fd[1], buf, (size_t)n) != n ||
	    write(STDOUT_FILENO, buf, (size_t)n) != n)
		die("order_shared: %s: write: %s", who, strerror(errno));
}

static void *
writer(void *arg)
{
	for (int i = 0; i < rounds; i++)
		put(arg, i);
	return NULL;
}

/* @main_name and @thread_name write at once, from two threads */
static void
both(char *main_name, char *thread_name)
{
	pthread_t th;

	if (pthread_create(&th, NULL, writer, thread_name))
		die("order_shared: pthread_create");
	writer(main_name);
	pthread_join(th, NULL);
}

/* print what @fd holds from @off on (the whole pipe, or the file) */
static void
show(const char *what, int fd, int is_file)
{
	static char buf[1 << 16];
	size_t len = 0;
	ssize_t r;

	while ((r = is_file ? pread(fd, buf + len, sizeof(buf) - len, (off_t)len)
			    : read(fd, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)r;
	if (r < 0)
		die("order_shared: read %s: %s", what, strerror(errno));
	say("%s: %zu bytes\n", what, len);
	for (size_t off = 0; off < len;) {
		ssize_t w = write(STDOUT_FILENO, buf + off, len - off);

		if (w <= 0)
			die("order_shared: write: %s", strerror(errno));
		off += (size_t)w;
	}
}

int
main(int argc, char **argv)
{
	char path[4096];
	sigset_t chld;
	int status;
	pid_t pid;

	if (argc < 2)
		die("usage: order_shared DIR [ROUNDS]");
	if (argc > 2)
		rounds = atoi(argv[2]);
	/* the child's SIGCHLD stays pending: delivered while the parent waits
	 * for its thread in a futex, an EP run could not place it yet
	 * (ep/ep.h: a signal after a futex wait) */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	snprintf(path, sizeof(path), "%s/order_shared.out", argv[1]);
	file_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (file_fd < 0 || pipe2(pipe_fd, O_CLOEXEC) < 0)
		die("order_shared: %s: %s", path, strerror(errno));
	pid = fork();
	if (pid < 0)
		die("order_shared: fork: %s", strerror(errno));
	if (pid == 0) {
		both("child", "child-thread");
		_exit(0);
	}
	both("parent", "parent-thread");
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		die("order_shared: the child failed");
	close(pipe_fd[1]);
	show("pipe", pipe_fd[0], 0);
	show("file", file_fd, 1);
	return 0;
}
