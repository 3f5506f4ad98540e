/* SPDX-License-Identifier: MIT */
/*
 * The model's rows and checks for the sandboxing calls, which
 * recorder/sandbox.c acts on: seccomp, prctl PR_SET_SECCOMP/PR_GET_SECCOMP/
 * PR_SET_NO_NEW_PRIVS, personality, unshare, setns, clone's CLONE_NEW* and
 * landlock. The outputs are checked against the real syscall on a
 * canary-filled buffer.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "syscalls/syscalls.h"

#define CANARY 0xa5

static int
check6(long nr, uint64_t a0, uint64_t a1, uint64_t a2, char *why, size_t len)
{
	uint64_t args[6] = { a0, a1, a2 };

	return sc_check(nr, args, why, len);
}

static uint32_t
flags6(long nr, uint64_t a0, uint64_t a1)
{
	uint64_t args[6] = { a0, a1 };

	return sc_flags(nr, args);
}

static int
no_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	(void)ctx, (void)addr, (void)buf, (void)len;
	return -EFAULT;
}

Test(sandbox, seccomp_get_notif_sizes_covers_the_struct)
{
	unsigned char buf[64];
	struct sc_ranges rs = { 0 };
	uint64_t args[6] = { SECCOMP_GET_NOTIF_SIZES, 0, (uint64_t)(uintptr_t)(buf + 8) };
	long r;

	memset(buf, CANARY, sizeof(buf));
	r = syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, buf + 8);
	if (r < 0)
		cr_skip_test("SECCOMP_GET_NOTIF_SIZES: %s", strerror(errno));
	cr_assert_eq(sc_check(SYS_seccomp, args, (char[64]){ 0 }, 64), 0);
	cr_assert_eq(sc_outputs(SYS_seccomp, args, r, NULL, no_read, NULL, &rs), 0);
	cr_assert_eq(rs.n, 1);
	cr_assert_eq(rs.v[0].addr, args[2]);
	cr_assert_eq(rs.v[0].len, sizeof(struct seccomp_notif_sizes));
	for (size_t i = 0; i < sizeof(buf); i++)
		if (i < 8 || i >= 8 + sizeof(struct seccomp_notif_sizes))
			cr_assert_eq(buf[i], CANARY, "the kernel wrote byte %zu outside the struct", i);
	sc_ranges_free(&rs);
}

Test(sandbox, seccomp_get_action_avail_writes_nothing)
{
	uint32_t action = SECCOMP_RET_KILL_PROCESS;
	uint64_t args[6] = { SECCOMP_GET_ACTION_AVAIL, 0, (uint64_t)(uintptr_t)&action };
	struct sc_ranges rs = { 0 };
	long r = syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action);

	cr_assert_eq(sc_outputs(SYS_seccomp, args, r < 0 ? -errno : r, NULL, no_read, NULL,
				&rs),
		     0);
	cr_assert_eq(rs.n, 0);
	cr_assert_eq(action, SECCOMP_RET_KILL_PROCESS, "the kernel only reads the action");
}

Test(sandbox, landlock_version_writes_nothing)
{
	uint64_t args[6] = { 0, 0, 1 /* LANDLOCK_CREATE_RULESET_VERSION */ };
	struct sc_ranges rs = { 0 };
	long r = syscall(SYS_landlock_create_ruleset, NULL, 0, 1);

	cr_assert(sc_known(SYS_landlock_create_ruleset));
	cr_assert(sc_known(SYS_landlock_add_rule));
	cr_assert(sc_known(SYS_landlock_restrict_self));
	cr_assert_eq(sc_outputs(SYS_landlock_create_ruleset, args, r < 0 ? -errno : r, NULL,
				no_read, NULL, &rs),
		     0);
	cr_assert_eq(rs.n, 0);
}

Test(sandbox, replay_executes_what_changes_later_syscalls)
{
	/* the filter and no_new_privs act on the syscalls replay executes */
	cr_assert(flags6(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0) & SC_REPLAY_EXEC);
	cr_assert(flags6(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER) & SC_REPLAY_EXEC);
	cr_assert(flags6(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1) & SC_REPLAY_EXEC);
	/* the persona shapes the next exec's image */
	cr_assert(flags6(SYS_personality, PER_LINUX32, 0) & SC_REPLAY_EXEC);
	/* queries and namespaces: their results are in the trace */
	cr_assert_not(flags6(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0) & SC_REPLAY_EXEC);
	cr_assert_not(flags6(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0) & SC_REPLAY_EXEC);
	cr_assert_not(flags6(SYS_prctl, PR_GET_SECCOMP, 0) & SC_REPLAY_EXEC);
	cr_assert_not(flags6(SYS_unshare, CLONE_NEWUSER, 0) & SC_REPLAY_EXEC);
	cr_assert_not(flags6(SYS_setns, 3, CLONE_NEWNET) & SC_REPLAY_EXEC);
	cr_assert_not(flags6(SYS_landlock_restrict_self, 3, 0) & SC_REPLAY_EXEC);
	cr_assert_not(flags6(SYS_sethostname, 0, 0) & SC_REPLAY_EXEC);
}

Test(sandbox, check_refuses_by_name)
{
	/* -EPERM: never run, the recording stops (a failure under uprr's filter
	 * would be recorded where natively it succeeds) */
	char why[160];

	cr_assert_eq(check6(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, 0, why, sizeof(why)), -EPERM);
	cr_assert(strstr(why, "SECCOMP_SET_MODE_STRICT"), "message: '%s'", why);
	cr_assert_eq(check6(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, why, sizeof(why)),
		     -EPERM);
	cr_assert(strstr(why, "SECCOMP_MODE_STRICT"), "message: '%s'", why);
	cr_assert_eq(check6(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
			    0x1000, why, sizeof(why)),
		     -EPERM);
	cr_assert(strstr(why, "NEW_LISTENER"), "message: '%s'", why);
}

Test(sandbox, check_accepts_what_acts_as_natively)
{
	char why[160];

	/* libseccomp's probes fail natively as under uprr (EINVAL, EFAULT) */
	cr_assert_eq(check6(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 1, 0, why, sizeof(why)), 0);
	cr_assert_eq(check6(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
			    0, why, sizeof(why)),
		     0);
	cr_assert_eq(check6(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			    SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_LOG |
				    SECCOMP_FILTER_FLAG_SPEC_ALLOW,
			    0x1000, why, sizeof(why)),
		     0);
	cr_assert_eq(check6(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, 0x1000, why, sizeof(why)),
		     0);
	cr_assert_eq(check6(SYS_prctl, PR_GET_SECCOMP, 0, 0, why, sizeof(why)), 0);
	cr_assert_eq(check6(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, why, sizeof(why)), 0);
	cr_assert_eq(check6(SYS_unshare, CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWNET |
					 CLONE_NEWIPC | CLONE_FILES | CLONE_FS | CLONE_SYSVSEM,
			    0, 0, why, sizeof(why)),
		     0);
	cr_assert_eq(check6(SYS_clone, CLONE_NEWUTS | CLONE_NEWNET | SIGCHLD, 0, 0, why, sizeof(why)),
		     0);
	cr_assert_eq(check6(SYS_setns, 3, CLONE_NEWUTS, 0, why, sizeof(why)), 0);
	/* PID namespaces: the thread-start event keeps the ids they give */
	cr_assert_eq(check6(SYS_unshare, CLONE_NEWPID | CLONE_NEWUSER, 0, 0, why, sizeof(why)), 0);
	cr_assert_eq(check6(SYS_clone, CLONE_NEWPID | SIGCHLD, 0, 0, why, sizeof(why)), 0);
	cr_assert_eq(check6(SYS_setns, 3, CLONE_NEWPID, 0, why, sizeof(why)), 0);
	cr_assert_eq(check6(SYS_personality, PER_LINUX32 | UNAME26, 0, 0, why, sizeof(why)), 0);
}

Test(sandbox, kernel_persona_keeps_aslr_off)
{
	cr_assert_eq(sc_kernel_persona(0xffffffff), 0xffffffff, "a query stays a query");
	cr_assert_eq(sc_kernel_persona(PER_LINUX), ADDR_NO_RANDOMIZE);
	cr_assert_eq(sc_kernel_persona(PER_LINUX32 | UNAME26),
		     PER_LINUX32 | UNAME26 | ADDR_NO_RANDOMIZE);
	cr_assert_eq(sc_kernel_persona(ADDR_NO_RANDOMIZE), ADDR_NO_RANDOMIZE);
	/* clone's exit signal (its low byte) is never taken for a namespace */
	cr_assert_eq(SC_CLONE_NEW_MASK & 0xff, 0);
	cr_assert(SC_CLONE_NEW_MASK & CLONE_NEWPID);
}
