/* SPDX-License-Identifier: MIT */
/*
 * exec_loop [N]: execs /proc/self/exe with N - 1 (N: 100), N times in a
 * row, then prints "exec_loop: N execs" (N the first one's). A process that
 * spends most of its time in execve(2): a TP run's epoch end that finds it
 * there stops it at the exec's exit, where a copy had PKRU 0 where the
 * process had its default (record-epoch.c puts such an end off).
 */
#include "progs.h"

int
main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100;
	long first = argc > 2 ? strtol(argv[2], NULL, 10) : n;
	char left[32], total[32];
	char *args[] = { "/proc/self/exe", left, total, NULL };

	if (n <= 0) {
		printf("exec_loop: %ld execs\n", first);
		return 0;
	}
	snprintf(left, sizeof(left), "%ld", n - 1);
	snprintf(total, sizeof(total), "%ld", first);
	execv(args[0], args);
	die("execv: %s", strerror(errno));
}
