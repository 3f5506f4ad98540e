/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of what syscalls/classify.c says of a syscall beyond its row:
 * clones and execs, the seccomp and namespace calls, and the calls the
 * in-process syscall buffer takes, checked against the model's rows.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
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

/* The syscalls that take all six registers (their kernel prototypes). */
static bool
takes_six(long nr)
{
	switch (nr) {
	case SYS_preadv2: case SYS_pwritev2: case SYS_copy_file_range: case SYS_splice:
	case SYS_mmap: case SYS_mbind: case SYS_move_pages: case SYS_sendto: case SYS_recvfrom:
	case SYS_pselect6: case SYS_epoll_pwait: case SYS_epoll_pwait2: case SYS_futex:
	case __NR_futex_wait:
	case SYS_process_vm_readv: case SYS_process_vm_writev:
		return true;
	default:
		return false;
	}
}

Test(classify, every_modelled_call_has_its_argument_count)
{
	char why[160];

	/* an EP run compares these many arguments with its log's: a row
	 * without a count would compare garbage registers (6) */
	for (long nr = 0; nr < NR_LIMIT; nr++) {
		if (sc_check(nr, none, why, sizeof(why)) < 0)
			continue;
		cr_assert(sc_nargs(nr) < 6 || takes_six(nr), "%s has no argument count",
			  sc_name(nr) ?: "?");
	}
	cr_assert_eq(sc_nargs(SYS_read), 3);
	cr_assert_eq(sc_nargs(SYS_getpid), 0);
	cr_assert_eq(sc_nargs(SYS_clone), 5);
	cr_assert_eq(sc_nargs(SYS_getrandom), 3);
	cr_assert_eq(sc_nargs(-1), 6, "an unknown number compares every register");
	cr_assert_eq(sc_nargs(NR_LIMIT + 5), 6);
}

Test(classify, what_an_ep_run_executes)
{
	/* the process's own kernel state, as replay executes it */
	cr_assert(sc_ep_live(SYS_mmap, none));
	cr_assert(sc_ep_live(SYS_munmap, none));
	cr_assert(sc_ep_live(SYS_brk, none));
	cr_assert(sc_ep_live(SYS_clone, none));
	cr_assert(sc_ep_live(SYS_exit_group, none));
	cr_assert(sc_ep_live(SYS_rt_sigaction, none));
	/* its own schedule decides the waits */
	cr_assert(sc_ep_live(SYS_futex, none));
	cr_assert(sc_ep_live(SYS_sched_yield, none));
	cr_assert(sc_ep_unmatched(SYS_futex));
	cr_assert(sc_ep_unmatched(SYS_sched_yield));
	/* the rest comes from the log, and is matched */
	cr_assert_not(sc_ep_live(SYS_read, none));
	cr_assert_not(sc_ep_live(SYS_openat, none));
	cr_assert_not(sc_ep_live(SYS_getrandom, none));
	cr_assert_not(sc_ep_live(SYS_gettid, none));
	cr_assert_not(sc_ep_unmatched(SYS_mmap));
	cr_assert_not(sc_ep_unmatched(SYS_read));
}

Test(classify, shared_state_calls_are_ordered)
{
	const uint64_t thread[6] = { CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
				     CLONE_THREAD };
	const uint64_t vfork[6] = { CLONE_VM | CLONE_VFORK | SIGCHLD };
	const uint64_t dupfd[6] = { 1, F_DUPFD_CLOEXEC, 10 };
	const uint64_t getfl[6] = { 1, F_GETFL };
	const uint64_t setlk[6] = { 3, F_SETLK, 0x1000 };

	/* one at a time: the data of an open file, the fd table, names, and
	 * fork, whose child takes the fd table as it stands */
	cr_assert_eq(sc_order(SYS_write, none), SC_ORDER_ONE);
	cr_assert_eq(sc_order(SYS_writev, none), SC_ORDER_ONE);
	cr_assert_eq(sc_order(SYS_pwrite64, none), SC_ORDER_ONE);
	cr_assert_eq(sc_order(SYS_lseek, none), SC_ORDER_ONE);
	cr_assert_eq(sc_order(SYS_sendmsg, none), SC_ORDER_ONE);
	cr_assert_eq(sc_order(SYS_sendfile, none), SC_ORDER_ONE);
	cr_assert_eq(sc_order(SYS_openat, none), SC_ORDER_ONE);
	cr_assert_eq(sc_order(SYS_close, none), SC_ORDER_ONE);
	cr_assert_eq(sc_order(SYS_dup2, none), SC_ORDER_ONE);
	cr_assert_eq(sc_order(SYS_dup3, none), SC_ORDER_ONE);
	cr_assert_eq(sc_order(SYS_pipe2, none), SC_ORDER_ONE);
	cr_assert_eq(sc_order(SYS_socket, none), SC_ORDER_ONE);
	cr_assert_eq(sc_order(SYS_renameat2, none), SC_ORDER_ONE);
	cr_assert_eq(sc_order(SYS_unlinkat, none), SC_ORDER_ONE);
	cr_assert_eq(sc_order(SYS_mkdir, none), SC_ORDER_ONE);
	cr_assert_eq(sc_order(SYS_fork, none), SC_ORDER_ONE);
	cr_assert_eq(sc_order(SYS_clone, thread), SC_ORDER_ONE);
	cr_assert_eq(sc_order(SYS_fcntl, dupfd), SC_ORDER_ONE);
	/* by their exit: they wait for a peer, which must not wait for them */
	cr_assert_eq(sc_order(SYS_read, none), SC_ORDER_EXIT);
	cr_assert_eq(sc_order(SYS_readv, none), SC_ORDER_EXIT);
	cr_assert_eq(sc_order(SYS_recvfrom, none), SC_ORDER_EXIT);
	cr_assert_eq(sc_order(SYS_recvmsg, none), SC_ORDER_EXIT);
	cr_assert_eq(sc_order(SYS_accept4, none), SC_ORDER_EXIT);
	cr_assert_eq(sc_order(SYS_connect, none), SC_ORDER_EXIT);
	cr_assert_eq(sc_order(SYS_vfork, none), SC_ORDER_EXIT);
	cr_assert_eq(sc_order(SYS_clone, vfork), SC_ORDER_EXIT, "the vfork child's calls wait for none");
	/* the thread's own state, memory, time, the schedule */
	cr_assert_eq(sc_order(SYS_fcntl, getfl), SC_ORDER_NONE);
	cr_assert_eq(sc_order(SYS_fcntl, setlk), SC_ORDER_NONE);
	cr_assert_eq(sc_order(SYS_getpid, none), SC_ORDER_NONE);
	cr_assert_eq(sc_order(SYS_mmap, none), SC_ORDER_NONE);
	cr_assert_eq(sc_order(SYS_futex, none), SC_ORDER_NONE);
	cr_assert_eq(sc_order(SYS_sched_yield, none), SC_ORDER_NONE);
	cr_assert_eq(sc_order(SYS_clock_gettime, none), SC_ORDER_NONE);
	cr_assert_eq(sc_order(SYS_exit_group, none), SC_ORDER_NONE);
	cr_assert_eq(sc_order(SYS_execve, none), SC_ORDER_NONE, "it has no exit to number");
	cr_assert_eq(sc_order(-1, none), SC_ORDER_NONE);
	cr_assert_eq(sc_order(NR_LIMIT + 5, none), SC_ORDER_NONE);
}

Test(classify, ordered_calls_have_rows)
{
	const uint64_t dupfd[6] = { 1, F_DUPFD };

	/* an EP run matches every ordered call with the log's: the model
	 * records each, and none is left out of the match */
	for (long nr = 0; nr < NR_LIMIT; nr++) {
		const uint64_t *args = nr == SYS_fcntl ? dupfd : none;

		if (sc_order(nr, args) == SC_ORDER_NONE)
			continue;
		cr_assert(sc_known(nr), "syscall %ld is ordered but has no row", nr);
		cr_assert_not(sc_ep_unmatched(nr), "syscall %s is ordered but not matched",
			      sc_name(nr));
	}
}
