/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the recorder's seccomp filters (recorder/seccomp.c), built
 * from the syscall model's SC_UNTRACED rows: each is loaded in a forked
 * child, which reports what a few syscalls did under it.
 */
#include <asm/prctl.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "recorder/recorder.h"

/* ---- the seccomp filter ---- */

/* What the child saw under the filter; shared, because it cannot exit(2). */
struct filter_report {
	int load_errno;	    /* errno of loading the filter, 0 if loaded */
	long rseq, clone3;  /* results of the syscalls, and their errnos */
	int rseq_errno, clone3_errno;
	long arch_prctl;
	int arch_prctl_errno;
	long getpid;
	int getpid_errno;
	long exit_group;
	int exit_group_errno;
	int done;
};

/* The filters a child loads. */
enum filter_kind {
	FILTER_BASE,	/* uprr's base filter */
	FILTER_STACKED, /* the stop filter, then the base filter */
	FILTER_FORMAT8, /* the base filter traces of format 8 were recorded under */
};

/*
 * Load the filters and try a few syscalls. With no tracer attached, RET_TRACE
 * makes a syscall fail with ENOSYS (seccomp(2)); exit_group is traced too, so
 * the child reports through shared memory and ends itself with a trap
 * (SIGILL, its default action restored before the filter is loaded). The
 * kernel runs every filter whatever their order: the stop filter goes first,
 * as the base filter would fail the seccomp(2) that stacks it.
 */
static void __attribute__((noreturn))
filter_child(struct filter_report *rep, enum filter_kind kind)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	const struct sock_fprog *base = kind == FILTER_FORMAT8 ? rec_seccomp_filter_for(8)
							       : rec_seccomp_filter();
	unsigned long fs;

	sigaction(SIGILL, &dfl, NULL);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    (kind == FILTER_STACKED &&
	     syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, rec_seccomp_stop_filter()) < 0) ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, base) < 0) {
		rep->load_errno = errno ? errno : EINVAL;
		_exit(1);
	}
#define TRY(field, ...)                            \
	do {                                       \
		errno = 0;                         \
		rep->field = syscall(__VA_ARGS__); \
		rep->field##_errno = errno;        \
	} while (0)
	TRY(rseq, SYS_rseq, NULL, 0, 0, 0);
	TRY(clone3, SYS_clone3, NULL, 0);
	TRY(arch_prctl, SYS_arch_prctl, ARCH_GET_FS, &fs);
	TRY(getpid, SYS_getpid);
	TRY(exit_group, SYS_exit_group, 0);
#undef TRY
	rep->done = 1;
	/* ud2 itself: __builtin_trap() is noreturn, and ASan's no-return hook
	 * makes syscalls the filter now fails */
	__asm__ volatile("ud2");
	__builtin_unreachable();
}

/* Run filter_child(@kind) and check what every kind of filter does. */
static void
check_filter(enum filter_kind kind, struct filter_report *rep)
{
	int status;
	pid_t pid;

	memset(rep, 0, sizeof(*rep));
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		filter_child(rep, kind);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	if (rep->load_errno == EINVAL || rep->load_errno == ENOSYS)
		cr_skip_test("seccomp filters unavailable: %s", strerror(rep->load_errno));
	cr_assert_eq(rep->load_errno, 0, "loading the filter: %s", strerror(rep->load_errno));
	cr_assert(rep->done, "the child did not get through (status 0x%x)", status);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGILL,
		  "the child should end by its trap, status 0x%x", status);
	cr_assert(rep->rseq == -1 && rep->rseq_errno == ENOSYS, "rseq: %ld, %s", rep->rseq,
		  strerror(rep->rseq_errno));
	cr_assert(rep->clone3 == -1 && rep->clone3_errno == ENOSYS, "clone3: %ld, %s", rep->clone3,
		  strerror(rep->clone3_errno));
	cr_assert(rep->getpid == -1 && rep->getpid_errno == ENOSYS,
		  "getpid is traced: with no tracer it fails with ENOSYS (got %ld, %s)", rep->getpid,
		  strerror(rep->getpid_errno));
	cr_assert(rep->exit_group == -1 && rep->exit_group_errno == ENOSYS, "exit_group is traced");
}

Test(seccomp, filter_in_child, .timeout = 30)
{
	struct filter_report *rep = mmap(NULL, sizeof(*rep), PROT_READ | PROT_WRITE,
					 MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	cr_assert_neq(rep, MAP_FAILED);
	/* without the filter these fail otherwise, or succeed */
	errno = 0;
	cr_assert_eq(syscall(SYS_clone3, NULL, 0), -1);
	cr_assert_neq(errno, ENOSYS, "this kernel has no clone3: the test would prove nothing");
	cr_assert_gt(syscall(SYS_getpid), 0);

	/* the syscalls the recorder lets go unrecorded pass the base filter */
	check_filter(FILTER_BASE, rep);
	cr_assert(rep->arch_prctl == 0 && rep->arch_prctl_errno == 0,
		  "arch_prctl passes the base filter: got %ld, %s", rep->arch_prctl,
		  strerror(rep->arch_prctl_errno));
	/* with the stop filter (a recorded tracer wants their syscall stops),
	 * and under format 8's filter, they stop: with no tracer, ENOSYS */
	check_filter(FILTER_STACKED, rep);
	cr_assert(rep->arch_prctl == -1 && rep->arch_prctl_errno == ENOSYS,
		  "arch_prctl stops under the stop filter: got %ld, %s", rep->arch_prctl,
		  strerror(rep->arch_prctl_errno));
	check_filter(FILTER_FORMAT8, rep);
	cr_assert(rep->arch_prctl == -1 && rep->arch_prctl_errno == ENOSYS,
		  "arch_prctl stops under format 8's filter: got %ld, %s", rep->arch_prctl,
		  strerror(rep->arch_prctl_errno));
	munmap(rep, sizeof(*rep));
}

Test(seccomp, filter_shape)
{
	const struct sock_fprog *p = rec_seccomp_filter();

	cr_assert_not_null(p);
	cr_assert_gt(p->len, 8);
	cr_assert_leq(p->len, BPF_MAXINSNS);
	cr_assert_eq(rec_seccomp_filter(), p, "a static program, built once");
	cr_assert_eq(rec_seccomp_filter()->len, p->len);
}
