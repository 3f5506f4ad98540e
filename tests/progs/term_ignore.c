/* SPDX-License-Identifier: MIT */
/*
 * A program that does not end when asked: `term_ignore sleep SECONDS`
 * ignores SIGTERM and sleeps; `term_ignore spin SECONDS` ignores SIGTERM
 * and computes for about that long. It prints "ready" first. For the test
 * that uprr record and uprr replay end anyway, a little after a SIGTERM.
 *
 * Exits 0 after SECONDS.
 */
#include <signal.h>

#include "progs.h"

int
main(int argc, char **argv)
{
	struct timespec t0, now;
	volatile uint64_t x = 1;
	int secs;

	if (argc != 3 || (strcmp(argv[1], "sleep") && strcmp(argv[1], "spin")))
		die("usage: term_ignore sleep|spin SECONDS");
	secs = atoi(argv[2]);
	signal(SIGTERM, SIG_IGN);
	say("ready\n");
	if (strcmp(argv[1], "sleep") == 0) {
		for (int i = 0; i < secs * 10; i++)
			sleep_us(100000);
	} else {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		do {
			for (int i = 0; i < 1000000; i++)
				x = x * 6364136223846793005ull + 1;
			clock_gettime(CLOCK_MONOTONIC, &now);
		} while (now.tv_sec - t0.tv_sec < secs);
	}
	say("done\n");
	return 0;
}
