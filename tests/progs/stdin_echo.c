/* SPDX-License-Identifier: MIT */
/*
 * stdin_echo [--pid=FILE] [COUNT_FILE]: reads its standard input 64 bytes
 * at a time, one read(2) each millisecond, and writes what it read to its
 * standard output, until the end of its input; then "stdin_echo: N bytes",
 * and "stdin_echo: M signals" if SIGRTMIN came M > 0 times (a real-time
 * signal: each one sent queues, none merges with another pending). Its input is
 * consumed as it runs (e2e tp-rerun-redeliver: a TP run's reads of a pipe
 * it started with are given again to a re-run from a checkpoint). With
 * COUNT_FILE, after each read the file is made anew (O_TRUNC) with the
 * count so far (e2e tp-rerun-refused: a file cut after a checkpoint is not
 * put back, and the re-run is refused, named). With --pid=FILE, its pid
 * goes to FILE first, for a sender of SIGRTMIN outside the recording (e2e
 * tp-rerun-signals: the TP run's signals from outside are sent again to a
 * re-run from a checkpoint).
 */
#include <fcntl.h>
#include <signal.h>

#include "progs.h"

static volatile sig_atomic_t g_sigs;

static void
on_signal(int sig)
{
	(void)sig;
	g_sigs++;
}

int
main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	struct timespec ms = { 0, 1000000 };
	const char *count_file = NULL;
	char buf[64];
	long total = 0;
	ssize_t n;

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGRTMIN, &sa, NULL) < 0)
		die("stdin_echo: sigaction: %s", strerror(errno));
	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--pid=", 6)) {
			int fd = open(argv[i] + 6, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

			if (fd < 0 || dprintf(fd, "%d\n", (int)getpid()) < 0 || close(fd) < 0)
				die("stdin_echo: %s: %s", argv[i] + 6, strerror(errno));
		} else {
			count_file = argv[i];
		}
	}
	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("stdin_echo: read: %s", strerror(errno));
		if (write(STDOUT_FILENO, buf, (size_t)n) != n)
			die("stdin_echo: write: %s", strerror(errno));
		total += n;
		if (count_file) {
			int fd = open(count_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

			if (fd < 0 || dprintf(fd, "%ld\n", total) < 0 || close(fd) < 0)
				die("stdin_echo: %s: %s", count_file, strerror(errno));
		}
		nanosleep(&ms, NULL);
	}
	printf("stdin_echo: %ld bytes\n", total);
	if (g_sigs)
		printf("stdin_echo: %d signals\n", (int)g_sigs);
	return 0;
}
