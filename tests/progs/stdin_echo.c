/* SPDX-License-Identifier: MIT */
/*
 * stdin_echo [COUNT_FILE]: reads its standard input 64 bytes at a time,
 * one read(2) each millisecond, and writes what it read to its standard
 * output, until the end of its input; then "stdin_echo: N bytes". Its
 * input is consumed as it runs (e2e tp-rerun-redeliver: a TP run's reads of
 * a pipe it started with are given again to a re-run from a checkpoint).
 * With COUNT_FILE, after each read the file is made anew (O_TRUNC) with the
 * count so far (e2e tp-rerun-refused: a file cut after a checkpoint is not
 * put back, and the re-run is refused, named).
 */
#include <fcntl.h>

#include "progs.h"

int
main(int argc, char **argv)
{
	struct timespec ms = { 0, 1000000 };
	char buf[64];
	long total = 0;
	ssize_t n;

	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("stdin_echo: read: %s", strerror(errno));
		if (write(STDOUT_FILENO, buf, (size_t)n) != n)
			die("stdin_echo: write: %s", strerror(errno));
		total += n;
		if (argc > 1) {
			int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

			if (fd < 0 || dprintf(fd, "%ld\n", total) < 0 || close(fd) < 0)
				die("stdin_echo: %s: %s", argv[1], strerror(errno));
		}
		nanosleep(&ms, NULL);
	}
	printf("stdin_echo: %ld bytes\n", total);
	return 0;
}
