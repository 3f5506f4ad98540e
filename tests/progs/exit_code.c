/* SPDX-License-Identifier: MIT */
/*
 * Ends in the way argv asks, to test how uprr reports the end of a tracee:
 *   exit_code N        prints a line and exits with status N
 *   exit_code raise N  prints a line and kills itself with signal N
 *   exit_code segv     prints a line and dereferences NULL (SIGSEGV)
 */
#include <signal.h>

#include "progs.h"

int
main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "segv") == 0) {
		int *volatile p = NULL;

		say("exit_code: dereferencing NULL\n");
		return *p;
	}
	if (argc == 3 && strcmp(argv[1], "raise") == 0) {
		int sig = atoi(argv[2]);

		say("exit_code: raising signal %d\n", sig);
		signal(sig, SIG_DFL);
		raise(sig);
		die("exit_code: still alive after signal %d", sig);
	}
	if (argc == 2) {
		say("exit_code: exiting with %d\n", atoi(argv[1]));
		fprintf(stderr, "exit_code: a line on stderr\n");
		return atoi(argv[1]);
	}
	die("usage: exit_code N | raise N | segv");
}
