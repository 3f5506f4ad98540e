/* SPDX-License-Identifier: MIT */
/*
 * uprr's stdout a regular file: lines written to fd 1 (through the syscall
 * buffer: plain writes to a regular file, which mark no fd), fd 1 closed
 * (buffered too) and the number reused by an open of another file, written
 * in the same batch. The flush must find where each write went from the
 * file its record names (dev and ino), not from what fd 1 is then: replay
 * shows the "shown" lines and not the last one. Its own summary goes to
 * stderr.
 */
#include <fcntl.h>

#include "progs.h"

int
main(int argc, char **argv)
{
	char path[512], line[64], back[64];
	int fd, n;

	if (argc != 2)
		die("usage: stdout_file_reuse DIR");
	snprintf(path, sizeof(path), "%s/other", argv[1]);
	/* each call's first trap patches its site (traced): warm them up */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, "warm\n", 5) != 5 || close(fd) != 0)
		die("stdout_file_reuse: %s: %s", path, strerror(errno));
	for (int i = 0; i < 3; i++) {
		n = snprintf(line, sizeof(line), "shown %d\n", i);
		if (write(STDOUT_FILENO, line, (size_t)n) != n)
			die("stdout_file_reuse: write: %s", strerror(errno));
	}
	if (close(STDOUT_FILENO) != 0)
		die("stdout_file_reuse: close: %s", strerror(errno));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd != STDOUT_FILENO)
		die("stdout_file_reuse: the open gave fd %d, not 1", fd);
	if (write(fd, "not shown: another file\n", 24) != 24 || close(fd) != 0)
		die("stdout_file_reuse: write to %s: %s", path, strerror(errno));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : (int)read(fd, back, sizeof(back));
	dprintf(STDERR_FILENO, "stdout_file_reuse: the other file has %d bytes\n", n);
	return 0;
}
