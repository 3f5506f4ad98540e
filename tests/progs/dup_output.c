/* SPDX-License-Identifier: MIT */
/*
 * Writes to stdout and stderr through every kind of descriptor that refers
 * to them, each line tagged with a seed that differs between native runs:
 * dup, dup2, dup3, F_DUPFD, F_DUPFD_CLOEXEC, writev, /dev/stdout and
 * /proc/self/fd/1, a child writing through an inherited dup in turn with its
 * parent, sendfile from a file it then removes (1.2 MB: several trace
 * records), splice and tee from a pipe, vmsplice (stdout a pipe only),
 * copy_file_range (stdout a file only).
 * Usage: dup_output DIR (DIR holds its temporary file). A replay must show
 * all of it, in the same order. `dup_output DIR wait`: a splice that waits
 * for its pipe's bytes.
 */
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "progs.h"

static unsigned seed;

/* write(2) all of @s to @fd, or die */
static void
put(int fd, const char *what, const char *s)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "%s: %s (seed %08x)\n", what, s, seed);

	if (write(fd, buf, (size_t)n) != n)
		die("dup_output: write to fd %d (%s): %s", fd, what, strerror(errno));
}

static void
report(const char *what, long r)
{
	say("dup_output: %s returned %ld%s%s\n", what, r, r < 0 ? " " : "",
	    r < 0 ? strerrorname_np(errno) : "");
}

/* A file of whole tagged lines, at least @n bytes (its size in *ret_size),
 * under @dir, open for reading. */
static int
make_file(const char *dir, size_t n, char *path, size_t len, size_t *ret_size)
{
	static char buf[1 << 16];
	size_t off = 0, used = 0;
	int fd;

	snprintf(path, len, "%s/dup_output.%d", dir, getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die("dup_output: %s: %s", path, strerror(errno));
	for (unsigned i = 0; off < n; i++) {
		used += (size_t)snprintf(buf + used, sizeof(buf) - used, "file line %u seed %08x\n",
					 i, seed);
		if (used > sizeof(buf) - 64 || off + used >= n) {
			if (write(fd, buf, used) != (ssize_t)used)
				die("dup_output: write %s: %s", path, strerror(errno));
			off += used;
			used = 0;
		}
	}
	lseek(fd, 0, SEEK_SET);
	*ret_size = off;
	return fd;
}

/* parent and child write in turn through their own dups, passing a token */
static void
take_turns(void)
{
	int to_child[2], to_parent[2];
	char tok = 't', buf[64];
	pid_t pid;

	if (pipe(to_child) < 0 || pipe(to_parent) < 0)
		die("dup_output: pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("dup_output: fork: %s", strerror(errno));
	if (pid == 0) {
		for (int i = 0; i < 3; i++) {
			if (read(to_child[0], &tok, 1) != 1)
				_exit(1);
			snprintf(buf, sizeof(buf), "turn %d", 2 * i + 1);
			put(7, "child via inherited dup2 fd 7", buf);
			put(2, "child to stderr", buf);
			if (write(to_parent[1], &tok, 1) != 1)
				_exit(1);
		}
		_exit(0);
	}
	for (int i = 0; i < 3; i++) {
		snprintf(buf, sizeof(buf), "turn %d", 2 * i);
		put(8, "parent via dup3 fd 8", buf);
		if (write(to_child[1], &tok, 1) != 1 || read(to_parent[0], &tok, 1) != 1)
			die("dup_output: token: %s", strerror(errno));
	}
	if (waitpid(pid, NULL, 0) != pid)
		die("dup_output: waitpid: %s", strerror(errno));
	close(to_child[0]), close(to_child[1]), close(to_parent[0]), close(to_parent[1]);
}

/* `dup_output DIR wait`: splice to stdout from a pipe that is empty until a
 * child writes to it: the splice waits for the bytes. */
static int
splice_waits(void)
{
	char msg[64];
	int p[2];
	pid_t pid;
	ssize_t r;

	if (pipe(p) < 0)
		die("dup_output: pipe: %s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		usleep(100000);
		snprintf(msg, sizeof(msg), "spliced after a wait (seed %08x)\n", seed);
		_exit(write(p[1], msg, strlen(msg)) != (ssize_t)strlen(msg));
	}
	r = splice(p[0], NULL, 1, NULL, 4096, 0);
	report("splice(empty pipe, 1)", r);
	if (waitpid(pid, NULL, 0) != pid)
		die("dup_output: waitpid: %s", strerror(errno));
	return 0;
}

int
main(int argc, char **argv)
{
	char path[4096], msg[128];
	struct iovec iov[3];
	struct stat st;
	size_t size, done;
	int fd, p[2];
	off_t off;
	ssize_t r;

	if (argc != 2 && !(argc == 3 && strcmp(argv[2], "wait") == 0))
		die("usage: dup_output DIR [wait]");
	seed = (unsigned)random_seed();
	if (argc == 3)
		return splice_waits();
	say("dup_output: seed %08x, stdout is a %s\n", seed,
	    fstat(1, &st) == 0 && S_ISREG(st.st_mode) ? "file" : S_ISFIFO(st.st_mode) ? "pipe" : "other");

	fd = dup(1);
	put(fd, "dup(1)", "one");
	if (dup2(1, 7) != 7 || dup3(1, 8, O_CLOEXEC) != 8)
		die("dup_output: dup2/dup3: %s", strerror(errno));
	put(7, "dup2(1, 7)", "two");
	put(8, "dup3(1, 8)", "three");
	put(fcntl(1, F_DUPFD, 10), "F_DUPFD", "four");
	put(fcntl(1, F_DUPFD_CLOEXEC, 20), "F_DUPFD_CLOEXEC", "five");
	put(fcntl(2, F_DUPFD, 30), "stderr F_DUPFD", "six");
	iov[0] = (struct iovec){ "writev(dup): ", 13 };
	iov[1] = (struct iovec){ msg, (size_t)snprintf(msg, sizeof(msg), "seven (seed %08x)", seed) };
	iov[2] = (struct iovec){ "\n", 1 };
	if (writev(fd, iov, 3) != (ssize_t)(13 + iov[1].iov_len + 1))
		die("dup_output: writev: %s", strerror(errno));

	/* a new open file on stdout: O_APPEND, then fd 1 moves to the end,
	 * so a file as stdout does not overwrite what they wrote */
	fd = open("/dev/stdout", O_WRONLY | O_APPEND | O_CLOEXEC);
	put(fd, "/dev/stdout", "eight");
	close(fd);
	fd = open("/proc/self/fd/1", O_WRONLY | O_APPEND | O_CLOEXEC);
	put(fd, "/proc/self/fd/1", "nine");
	close(fd);
	lseek(1, 0, SEEK_END);

	take_turns();

	/* an fd number that was stdout and now is a file: not output */
	fd = dup(1);
	put(fd, "dup(1) again", "ten");
	close(fd);
	snprintf(path, sizeof(path), "%s/reused.%d", argv[1], getpid());
	if (open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) != fd)
		die("dup_output: open did not reuse fd %d", fd);
	put(fd, "not output", "a file that took the fd of a dup of stdout");
	close(fd);
	unlink(path);

	/* sendfile from a file that is gone by the time of replay; a pipe
	 * takes what fits, so loop */
	fd = make_file(argv[1], 1200000, path, sizeof(path), &size);
	for (done = 0; done < size / 2; done += (size_t)r)
		if ((r = sendfile(7, fd, NULL, size / 2 - done)) <= 0)
			break;
	report("sendfile(7, file, NULL): bytes", (long)done);
	for (off = (off_t)done; (size_t)off < size;)
		if ((r = sendfile(8, fd, &off, size - (size_t)off)) <= 0)
			break;
	say("dup_output: sendfile(8, file, &off): offset now %ld of %zu\n", (long)off, size);
	if (unlink(path) < 0)
		die("dup_output: unlink: %s", strerror(errno));

	/* splice from a pipe: the pipe's bytes are gone after it */
	if (pipe(p) < 0)
		die("dup_output: pipe: %s", strerror(errno));
	snprintf(msg, sizeof(msg), "spliced from a pipe (seed %08x)\n", seed);
	if (write(p[1], msg, strlen(msg)) != (ssize_t)strlen(msg))
		die("dup_output: write to the pipe: %s", strerror(errno));
	r = splice(p[0], NULL, 7, NULL, 4096, 0);
	report("splice(pipe, 7)", r);

	/* tee: both ends pipes (stdout a file: EINVAL); then splice the rest */
	snprintf(msg, sizeof(msg), "teed from a pipe (seed %08x)\n", seed);
	if (write(p[1], msg, strlen(msg)) != (ssize_t)strlen(msg))
		die("dup_output: write to the pipe: %s", strerror(errno));
	r = tee(p[0], 8, 4096, 0);
	report("tee(pipe, 8)", r);
	r = splice(p[0], NULL, 1, NULL, 4096, 0);
	report("splice(pipe, 1)", r);

	/* vmsplice: stdout a pipe only (else EBADF); its pages stay as they
	 * are, since the pipe's reader may see later changes */
	{
		static char vm[64];
		struct iovec v = { vm, (size_t)snprintf(vm, sizeof(vm), "vmspliced (seed %08x)\n",
							seed) };

		r = vmsplice(1, &v, 1, 0);
		report("vmsplice(1)", r);
	}

	/* copy_file_range to stdout: a regular file only (else EINVAL) */
	fd = make_file(argv[1], 3000, path, sizeof(path), &size);
	unlink(path);
	r = copy_file_range(fd, NULL, 1, NULL, size, 0);
	report("copy_file_range(file, 1)", r);
	lseek(1, 0, SEEK_END);
	put(2, "stderr", "the end");
	say("dup_output: done\n");
	return 0;
}
