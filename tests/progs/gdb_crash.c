/* SPDX-License-Identifier: MIT */
/*
 * A program for gdb to debug (e2e gdb-batch: gdb -batch runs it under uprr
 * record, breaks in leaf(), prints, steps with `next`, continues to the
 * crash and prints the backtrace). It picks a number at random, so that a
 * second run differs from a replay, passes it down two calls, and leaf()
 * dereferences NULL: SIGSEGV in a nested call. Built without optimisation,
 * so gdb sees every variable and line.
 */
#include "progs.h"

static volatile int sink;

__attribute__((noinline)) static int
leaf(int *p, int n)
{
	int v = n * 3;

	sink = v;
	return *p + v;
}

__attribute__((noinline)) static int
middle(int n)
{
	int *p = n >= 0 ? NULL : (int *)&sink;

	return leaf(p, n + 1) + 1;
}

int
main(void)
{
	int n = (int)(random_seed() % 1000);

	say("n is %d\n", n);
	return middle(n);
}
