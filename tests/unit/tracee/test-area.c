/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of tracee_find_area_high() on a sleep(1) run without address
 * randomization (as uprr runs programs): the area lies above every mapping
 * the kernel and the loader made top-down (above mmap_base), clear of the
 * stack's growth, within reach of the code; none with an unlimited stack
 * (the legacy layout).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tracee/tracee.h"

TestSuite(tracee_area, .timeout = 20);

#define AREA (256 * 1024)
#define GUARD (64 * 1024)
#define REACH (1ull << 30)

/* sleep(1) for a minute, exec'd without randomization and with a stack
 * limit of 8 MiB, its libc mapped:
 * its pid; its maps in *ret_maps (the caller's to free). */
static pid_t
sleeper(struct tracee_mapping **ret_maps, size_t *ret_n)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct rlimit rl;

		/* Debian's default limit, whatever the test's */
		getrlimit(RLIMIT_STACK, &rl);
		rl.rlim_cur = 8u << 20;
		setrlimit(RLIMIT_STACK, &rl);
		personality(ADDR_NO_RANDOMIZE);
		execlp("sleep", "sleep", "60", (char *)NULL);
		_exit(127);
	}
	for (int tries = 0; tries < 500; tries++) {
		struct tracee_mapping *maps = NULL;
		size_t n = 0;

		bool exec = false, libc = false;

		/* sleep(1)'s own (the fork's copy before its exec(2) maps the
		 * test's libc, randomized) */
		if (tracee_read_maps(pid, &maps, &n) == 0)
			for (size_t i = 0; i < n; i++) {
				exec |= strstr(maps[i].path, "/sleep") != NULL;
				libc |= strstr(maps[i].path, "/libc.so") != NULL;
			}
		if (exec && libc) {
			*ret_maps = maps;
			*ret_n = n;
			return pid;
		}
		free(maps);
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	}
	cr_assert_fail("sleep(1) did not map libc within 5 s");
	return -1;
}

static void
reap(pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

Test(tracee_area, above_mmap_base)
{
	struct tracee_mapping *maps = NULL;
	uint64_t base = 0, code = 0, stack_end = 0;
	size_t n = 0;
	pid_t pid = sleeper(&maps, &n);
	struct rlimit rl;

	cr_assert_eq(prlimit(pid, RLIMIT_STACK, NULL, &rl), 0);
	for (size_t i = 0; i < n; i++) {
		if (!code && strstr(maps[i].path, "/libc.so") && maps[i].perms[2] == 'x')
			code = maps[i].start;
		if (!strcmp(maps[i].path, "[stack]"))
			stack_end = maps[i].end;
	}
	cr_assert_neq(code, 0);
	cr_assert_neq(stack_end, 0);
	cr_assert_eq(rl.rlim_cur, 8u << 20);
	cr_assert_eq(tracee_find_area_high(pid, code, AREA, GUARD, REACH, NULL, 0, &base), 0);
	/* within reach, clear of the stack's growth and its guard gap */
	cr_assert(tracee_area_reaches(base, AREA, code, REACH));
	cr_assert_leq(base + AREA + GUARD, stack_end - rl.rlim_cur - (1u << 20));
	/* above everything the kernel placed top-down (the loader, libc, the
	 * vdso): all of it below mmap_base, which the area is above */
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(maps[i].path, "[stack]") || !strcmp(maps[i].path, "[vsyscall]"))
			continue;
		cr_assert_leq(maps[i].end + GUARD, base, "%s at 0x%lx-0x%lx, the area at 0x%lx",
			      maps[i].path, (unsigned long)maps[i].start, (unsigned long)maps[i].end,
			      (unsigned long)base);
	}
	reap(pid);
	free(maps);
}

Test(tracee_area, legacy_layout)
{
	struct tracee_mapping *maps = NULL;
	struct rlimit inf;
	uint64_t base = 0;
	size_t n = 0;
	pid_t pid = sleeper(&maps, &n);

	cr_assert_eq(prlimit(pid, RLIMIT_STACK, NULL, &inf), 0);
	inf.rlim_cur = inf.rlim_max;
	cr_assert_eq(prlimit(pid, RLIMIT_STACK, &inf, NULL), 0);
	cr_assert_eq(tracee_find_area_high(pid, maps[0].start, AREA, GUARD, REACH, NULL, 0, &base),
		     -ENOSPC);
	reap(pid);
	free(maps);
}
