/* SPDX-License-Identifier: MIT */
/*
 * stdin_echo: reads its standard input 64 bytes at a time, one read(2)
 * each millisecond, and writes what it read to its standard output, until
 * the end of its input; then "stdin_echo: N bytes". Its input is consumed
 * as it runs (e2e tp-rerun-refused: a TP run's reads of a pipe it started
 * with are not given back to a re-run from a checkpoint, which is refused,
 * named).
 */
#include "progs.h"

int
main(void)
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
		nanosleep(&ms, NULL);
	}
	printf("stdin_echo: %ld bytes\n", total);
	return 0;
}
