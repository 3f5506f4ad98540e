/* SPDX-License-Identifier: MIT */
/*
 * A vfork child's calls the syscall buffer takes, in the buffer it shares
 * with its parent (CLONE_VM, the same FS base: GNU make's children close
 * and dup2 descriptors between vfork and exec). Each round the parent
 * makes buffered calls (its buffer holds records), vforks; the child
 * writes to a pipe, closes descriptors and reads the time, then execs
 * /bin/true after an exec that fails (even rounds) or _exits (odd
 * rounds); the parent goes on with
 * buffered calls of its own: reads what the child wrote, writes, reaps.
 * posix_spawn(3) with file actions (glibc's vfork-like clone) runs the same
 * way. Prints what the parent read and each child's status: the same in
 * every run.
 */
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include "progs.h"

extern char **environ;

#define ROUNDS 12

/* Buffered calls of the parent: a write and a read back through a pipe */
static void
parent_calls(int round)
{
	char buf[64];
	int p[2];
	int n;

	if (pipe(p) < 0)
		die("pipe: %s", strerror(errno));
	n = snprintf(buf, sizeof(buf), "parent %d", round);
	if (write(p[1], buf, (size_t)n) != n)
		die("write: %s", strerror(errno));
	memset(buf, 0, sizeof(buf));
	if (read(p[0], buf, sizeof(buf) - 1) != n)
		die("read: %s", strerror(errno));
	close(p[0]);
	close(p[1]);
	say("round %d: %s\n", round, buf);
}

static void
vfork_round(int round)
{
	char *argv[] = { "true", NULL };
	struct timespec ts;
	char buf[64];
	int p[2], extra, status;
	pid_t pid;

	if (pipe(p) < 0)
		die("pipe: %s", strerror(errno));
	extra = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (extra < 0)
		die("open: %s", strerror(errno));
	parent_calls(round);
	pid = vfork();
	if (pid < 0)
		die("vfork: %s", strerror(errno));
	if (pid == 0) {
		/* buffered calls on the parent's memory */
		static const char msg[] = "child wrote";

		clock_gettime(CLOCK_MONOTONIC, &ts);
		if (write(p[1], msg, sizeof(msg) - 1) < 0)
			_exit(3);
		close(p[0]);
		close(p[1]);
		close(extra);
		if (round % 2 == 0) {
			/* a failed exec first, as a PATH search makes: the
			 * child goes on with buffered calls on its parent's
			 * memory */
			execve("/nonexistent/true", argv, environ);
			clock_gettime(CLOCK_MONOTONIC, &ts);
			execve("/bin/true", argv, environ);
			_exit(4);
		}
		_exit(round % 5);
	}
	close(p[1]);
	memset(buf, 0, sizeof(buf));
	if (read(p[0], buf, sizeof(buf) - 1) < 0)
		die("read: %s", strerror(errno));
	close(p[0]);
	close(extra);
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid: %s", strerror(errno));
	say("round %d: vfork child: \"%s\", exit %d\n", round, buf,
	    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static void
spawn_round(int round)
{
	char *argv[] = { "true", NULL };
	posix_spawn_file_actions_t fa;
	int status, fd;
	pid_t pid;

	fd = open("/dev/null", O_WRONLY);
	if (fd < 0)
		die("open: %s", strerror(errno));
	parent_calls(round);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd, 1);
	posix_spawn_file_actions_addclose(&fa, fd);
	errno = posix_spawn(&pid, "/bin/true", &fa, NULL, argv, environ);
	if (errno)
		die("posix_spawn: %s", strerror(errno));
	posix_spawn_file_actions_destroy(&fa);
	close(fd);
	parent_calls(round);
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid: %s", strerror(errno));
	say("round %d: spawned child: exit %d\n", round, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

int
main(void)
{
	for (int i = 0; i < ROUNDS; i++) {
		vfork_round(i);
		spawn_round(i);
	}
	say("vfork_buffered: done\n");
	return 0;
}
