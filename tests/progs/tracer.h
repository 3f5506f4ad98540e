/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the test programs that ptrace their children
 * (ptrace_child, ptrace_fork, ptrace_step, ptrace_syscall): a check that
 * prints "ok" or "WRONG" and counts failures, and waitpid(2) without EINTR.
 */
#pragma once

#include <sys/wait.h>

#include "progs.h"

static int failures;

/* Print "ok: @what" or "WRONG: @what"; main returns failures ? 1 : 0. */
static inline void
expect(int ok, const char *what)
{
	say("%s: %s\n", ok ? "ok" : "WRONG", what);
	failures += !ok;
}

/* waitpid(@pid, @status, 0), again after EINTR. */
static inline pid_t
wait_child(pid_t pid, int *status)
{
	pid_t r;

	do
		r = waitpid(pid, status, 0);
	while (r < 0 && errno == EINTR);
	return r;
}
