/* SPDX-License-Identifier: MIT */
/*
 * Test helpers shared by the unit tests that stop a helper program's threads
 * at int3s and copy or compare them (unit-divergence, unit-kmerge): which
 * thread is which, and waiting for the traps. Criterion asserts inside.
 */
#pragma once

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "tracee/tracee.h"

/* Whether @t is one of the @n of @v. */
static inline bool
has(const pid_t *v, size_t n, pid_t t)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == t)
			return true;
	return false;
}

/*
 * Resume every stop of our tracees but SIGTRAPs (int3) until @n threads sit
 * in one; a thread of @only (@nonly, 0: any) only counts. Any other signal
 * fails the test. The trapped threads go to @ret in the order they stopped.
 */
static inline void
wait_traps(const pid_t *only, size_t nonly, pid_t *ret, size_t n)
{
	size_t got = 0;

	while (got < n) {
		int status, sig = 0;
		pid_t w = waitpid(-1, &status, __WALL);

		cr_assert_gt(w, 0, "waitpid: %s", strerror(errno));
		switch (tracee_classify(status, &sig)) {
		case TRACEE_GONE:
			cr_assert_fail("thread %d ended (status 0x%x)", w, status);
			break;
		case TRACEE_STOP_SIGNAL:
			if (sig == SIGTRAP && (!nonly || has(only, nonly, w))) {
				ret[got++] = w;
				continue;
			}
			if (sig != SIGTRAP) {
				siginfo_t si = { 0 };

				(void)!ptrace(PTRACE_GETSIGINFO, w, 0, &si);
				cr_assert_fail("thread %d: signal %d at %p", w, sig, si.si_addr);
			}
			tracee_resume(w, PTRACE_CONT, 0);
			continue;
		default:
			tracee_resume(w, PTRACE_CONT, 0);
			continue;
		}
	}
}

/* Order the @n threads of process @p in @tids as the helpers number them:
 * the leader, then in the order they were created (tids are given out in
 * increasing order, pid_max is far). */
static inline void
in_order(pid_t p, pid_t *tids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n; j++) {
			if (tids[j] == p || (tids[i] != p && tids[j] < tids[i])) {
				pid_t t = tids[i];

				tids[i] = tids[j];
				tids[j] = t;
			}
		}
	}
	cr_assert_eq(tids[0], p);
}
