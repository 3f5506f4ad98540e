/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of what syscalls/classify.c says of a syscall beyond its row:
 * clones and execs, the seccomp and namespace calls, and the calls the
 * in-process syscall buffer takes, checked against the model's rows.
 */
#include <criterion/criterion.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "preload/uprr-preload.h"
#include "syscalls/syscalls.h"

/* Past the highest syscall number x86-64 has (syscall_64.tbl) */
#define NR_LIMIT 1024

static const uint64_t none[6];

TestSuite(classify, .timeout = 10);

Test(classify, clones_and_execs)
{
	uint64_t thread[6] = { CLONE_VM | CLONE_THREAD | CLONE_SIGHAND };

	cr_assert(sc_is_clone(SYS_clone));
	cr_assert(sc_is_clone(SYS_fork));
	cr_assert(sc_is_clone(SYS_vfork));
	cr_assert_not(sc_is_clone(SYS_clone3), "clone3 is refused with ENOSYS, never followed");
	cr_assert_not(sc_is_clone(SYS_execve));
	cr_assert_not(sc_is_clone(-1));
	cr_assert(sc_is_exec(SYS_execve));
	cr_assert(sc_is_exec(SYS_execveat));
	cr_assert_not(sc_is_exec(SYS_fork));

	cr_assert_eq(sc_clone_flags(SYS_clone, thread), thread[0], "clone's own flags");
	cr_assert_eq(sc_clone_flags(SYS_fork, thread), (uint64_t)SIGCHLD, "fork ignores its arguments");
	cr_assert_eq(sc_clone_flags(SYS_vfork, none), (uint64_t)(CLONE_VM | CLONE_VFORK | SIGCHLD));
	cr_assert_eq(sc_clone_flags(SYS_getpid, thread), 0, "not a clone: no flags");
	/* every clone the model follows is replay-executed, execs too */
	for (long nr = 0; nr < NR_LIMIT; nr++)
		if (sc_is_clone(nr) || sc_is_exec(nr))
			cr_assert(sc_flags(nr, none) & SC_REPLAY_EXEC, "%s is emulated", sc_name(nr));
}

Test(classify, filters_and_namespaces)
{
	cr_assert(sc_installs_filter(SYS_seccomp, (uint64_t[6]){ SECCOMP_SET_MODE_FILTER }, 0));
	cr_assert_not(sc_installs_filter(SYS_seccomp, (uint64_t[6]){ SECCOMP_SET_MODE_FILTER }, -22),
		      "a filter that failed installs nothing");
	cr_assert_not(sc_installs_filter(SYS_seccomp, (uint64_t[6]){ SECCOMP_GET_ACTION_AVAIL }, 0));
	cr_assert(sc_installs_filter(SYS_prctl, (uint64_t[6]){ PR_SET_SECCOMP, SECCOMP_MODE_FILTER }, 0));
	cr_assert_not(sc_installs_filter(SYS_prctl, (uint64_t[6]){ PR_GET_SECCOMP }, 0));

	cr_assert(sc_moves_children(SYS_unshare, (uint64_t[6]){ CLONE_NEWPID | CLONE_NEWNS }, 0));
	cr_assert_not(sc_moves_children(SYS_unshare, (uint64_t[6]){ CLONE_NEWNET }, 0));
	cr_assert_not(sc_moves_children(SYS_unshare, (uint64_t[6]){ CLONE_NEWPID }, -1));
	cr_assert(sc_moves_children(SYS_setns, (uint64_t[6]){ 3, 0 }, 0), "nstype 0: any namespace");
	cr_assert(sc_moves_children(SYS_setns, (uint64_t[6]){ 3, CLONE_NEWPID }, 0));
	cr_assert_not(sc_moves_children(SYS_setns, (uint64_t[6]){ 3, CLONE_NEWUTS }, 0));
	cr_assert_not(sc_moves_children(SYS_clone, (uint64_t[6]){ CLONE_NEWPID }, 0),
		      "clone's namespace is the child's own, not its next children's");
}

/*
 * The buffer's calls against the model: every one has a row (replay finds
 * its outputs in the buffer's records, and a call the library sends on to
 * the traced path is recorded by that row), and the only ones replay
 * executes are those that change mappings, which the library makes again
 * in replay (UPRR_BUFFERED_MAPS); replay takes the others from the records.
 */
Test(classify, buffered_calls_have_rows)
{
	unsigned n = 0;

	for (long nr = 0; nr < NR_LIMIT; nr++) {
		if (!sc_buffered(nr))
			continue;
		n++;
		cr_assert(sc_known(nr), "the buffer takes %s (%ld), which has no row",
			  sc_name(nr) ?: "?", nr);
		cr_assert_eq(!!(sc_flags(nr, none) & SC_REPLAY_EXEC), !!UPRR_BUFFERED_MAPS(nr),
			     "%s: replay executes it (%d) but the buffer's maps calls are %s",
			     sc_name(nr), !!(sc_flags(nr, none) & SC_REPLAY_EXEC),
			     "mmap, munmap, madvise");
		cr_assert_not(sc_flags(nr, none) & SC_UNTRACED,
			      "%s never stops: the buffer would never see it", sc_name(nr));
	}
	cr_assert(sc_buffered(SYS_read));
	cr_assert(sc_buffered(SYS_futex));
	cr_assert_not(sc_buffered(SYS_execve));
	cr_assert_not(sc_buffered(SYS_clone));
	cr_assert_not(sc_buffered(-1));
	cr_assert_geq(n, 40, "the buffer takes %u calls", n);
}
