/* SPDX-License-Identifier: MIT */
/*
 * Benchmark: a program that handles many signals and does little else (the
 * figure issue 13's closing note gave: 20,000 handled signals). Each round
 * raises SIGUSR1 at itself (tgkill(2)); its handler counts it and returns
 * through rt_sigreturn(2). A recorder pays per round for the tgkill, the
 * delivery and whatever rt_sigreturn costs it.
 *
 * usage: signal_loop [COUNT]   (default 20000)
 * Prints how many handler runs there were.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static volatile sig_atomic_t g_handled;

static void
on_usr1(int sig)
{
	(void)sig;
	g_handled++;
}

int
main(int argc, char **argv)
{
	long count = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
	struct sigaction sa = { .sa_handler = on_usr1 };

	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		return 1;
	for (long i = 0; i < count; i++)
		raise(SIGUSR1);
	printf("%d handler runs\n", (int)g_handled);
	return g_handled == count ? 0 : 1;
}
