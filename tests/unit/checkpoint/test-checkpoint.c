/* SPDX-License-Identifier: MIT */
/*
 * Memory checkpoints and syscall injection, end to end on a real traced
 * process (checkpoint-helper.c): injected syscalls leave registers, code and
 * signal mask as they were; a rollback restores exactly the restore point's
 * bytes in global, heap, anonymous and private file memory (user and kernel
 * writes), except kept ranges; sync moves the restore point; remap tracks a
 * new mapping; the mirror is reaped. Prints (does not assert) what
 * checkpoint_new, checkpoint_sync and checkpoint_rollback cost.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint/checkpoint-private.h"
#include "checkpoint/checkpoint.h"
#include "common/util.h"
#include "tracee/tracee.h"
#include "x86_64/arch.h"

#define PAGE 4096

/* Layout shared with checkpoint-helper.c. */
struct helper_info {
	uint64_t magic;
	uint64_t global, heap, anon, file;
	uint64_t extra, extralen;
	uint64_t grow, deep;
};

/* The helper's four kinds of memory, as tracee_read() sees them. */
struct snap {
	uint8_t global[4 * PAGE];
	uint8_t heap[4 * PAGE];
	uint8_t anon[16 * PAGE];
	uint8_t file[2 * PAGE];
};

static pid_t pid = -1;
static int memfd = -1;
static struct checkpoint *cp;
static struct helper_info info;
static uint64_t info_addr;
static char file_path[64];

static void
fini(void)
{
	checkpoint_free(cp);
	cp = NULL;
	if (memfd >= 0)
		close(memfd);
	if (pid > 0)
		tracee_kill_all(pid);
	if (file_path[0])
		unlink(file_path);
}

TestSuite(checkpoint, .fini = fini, .timeout = 60);

/* What this kernel lacks for checkpoints, or NULL (kerndat-style probe). */
static const char *
missing_feature(void)
{
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED,
	};
	static uint8_t page[PAGE] __attribute__((aligned(PAGE)));
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = (uintptr_t)page,
		.end = (uintptr_t)page + PAGE,
		.category_mask = PAGE_IS_WRITTEN,
		.return_mask = PAGE_IS_WRITTEN,
	};
	int fd, r;

	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (fd < 0)
		return "userfaultfd(2)";
	r = ioctl(fd, UFFDIO_API, &api);
	close(fd);
	if (r < 0)
		return "UFFD_FEATURE_WP_ASYNC (Linux 6.7)";
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return "/proc/self/pagemap";
	r = ioctl(fd, PAGEMAP_SCAN, &arg);
	close(fd);
	return r < 0 ? "PAGEMAP_SCAN (Linux 6.7)" : NULL;
}

/* Resume the helper until its next int3; returns its round (rax). */
static uint64_t
run_to_trap(struct user_regs_struct *regs)
{
	for (;;) {
		int status, sig = 0;

		tracee_resume(pid, PTRACE_CONT, 0);
		cr_assert_eq(tracee_wait(pid, &status), 0);
		switch (tracee_classify(status, &sig)) {
		case TRACEE_GONE:
			cr_assert_fail("helper ended, status 0x%x", status);
			break;
		case TRACEE_STOP_SIGNAL:
			if (sig != SIGTRAP)
				cr_assert_fail("helper stopped by %s", tracee_signal_name(sig));
			cr_assert_eq(tracee_get_regs(pid, regs), 0);
			return regs->rax;
		default:
			/* seccomp stops of its own syscalls (filtered runs) */
			continue;
		}
	}
}

/* Start the helper (with seccomp @filter, or none) and run it to round 0. */
static void
spawn(const struct sock_fprog *filter)
{
	struct user_regs_struct regs;
	const char *missing = missing_feature();
	char *argv[] = { (char *)CHECKPOINT_HELPER, file_path, NULL };
	char *envp[] = { NULL };
	struct tracee_spawn_options o = {
		.path = CHECKPOINT_HELPER, .argv = argv, .envp = envp, .cpu = -1, .filter = filter,
	};
	int exec_errno = 0, fd;

	if (missing)
		cr_skip_test("this kernel lacks %s", missing);
	snprintf(file_path, sizeof(file_path), "/tmp/uprr-checkpoint-XXXXXX");
	fd = mkstemp(file_path);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(tracee_spawn(&o, TRACEE_PTRACE_OPTIONS, &pid, &exec_errno), 0);
	memfd = tracee_open_mem(pid);
	cr_assert_geq(memfd, 0);
	cr_assert_eq(run_to_trap(&regs), 0);
	info_addr = regs.rbx;
	cr_assert_eq(tracee_read(pid, info_addr, &info, sizeof(info)), 0);
	cr_assert_eq(info.magic, 0xc0ffee);
}

static void
take(struct snap *s)
{
	cr_assert_eq(tracee_read(pid, info.global, s->global, sizeof(s->global)), 0);
	cr_assert_eq(tracee_read(pid, info.heap, s->heap, sizeof(s->heap)), 0);
	cr_assert_eq(tracee_read(pid, info.anon, s->anon, sizeof(s->anon)), 0);
	cr_assert_eq(tracee_read(pid, info.file, s->file, sizeof(s->file)), 0);
}

static void
same_bytes(const char *what, const uint8_t *want, const uint8_t *got, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (want[i] != got[i])
			cr_assert_fail("%s+0x%zx: 0x%02x, want 0x%02x", what, i, got[i], want[i]);
}

static void
assert_same(const struct snap *want, const struct snap *got)
{
	same_bytes("global", want->global, got->global, sizeof(want->global));
	same_bytes("heap", want->heap, got->heap, sizeof(want->heap));
	same_bytes("anon", want->anon, got->anon, sizeof(want->anon));
	same_bytes("file", want->file, got->file, sizeof(want->file));
}

static uint64_t
sigmask_of(pid_t tid)
{
	uint64_t mask = 0;

	cr_assert_eq(ptrace(PTRACE_GETSIGMASK, tid, sizeof(mask), &mask), 0);
	return mask;
}

/* Number of open fds of process @p. */
static int
count_fds_of(pid_t p)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", p);
	d = opendir(path);
	cr_assert_not_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static int
count_fds(void)
{
	return count_fds_of(pid);
}

static pid_t
ppid_of(pid_t p)
{
	char path[64], *text = NULL, *at;
	size_t len;
	pid_t ppid;

	snprintf(path, sizeof(path), "/proc/%d/status", p);
	cr_assert_eq(util_read_file(path, &text, &len), 0);
	at = strstr(text, "\nPPid:");
	cr_assert_not_null(at);
	ppid = (pid_t)strtol(at + 6, NULL, 10);
	free(text);
	return ppid;
}

static uint64_t
mmap_fixed(uint64_t addr, uint64_t len, int64_t *ret)
{
	uint64_t args[6] = { addr, len, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, (uint64_t)-1, 0 };

	cr_assert_eq(tracee_inject_syscall(pid, memfd, __NR_mmap, args, ret), 0);
	return addr;
}

Test(checkpoint, inject_syscall_leaves_no_trace)
{
	struct user_regs_struct before, after, regs;
	uint8_t code_before[16], code_after[16], buf[6];
	uint64_t args[6] = { 0 }, mask;
	int64_t res;
	int fds;

	spawn(NULL);
	mask = sigmask_of(pid);
	fds = count_fds();
	cr_assert_eq(tracee_get_regs(pid, &before), 0);
	cr_assert_eq(tracee_read(pid, before.rip - 8, code_before, sizeof(code_before)), 0);

	cr_assert_eq(tracee_inject_syscall(pid, memfd, __NR_getpid, args, &res), 0);
	cr_assert_eq(res, pid);
	mmap_fixed(0x200000000, 2 * PAGE, &res);
	cr_assert_eq((uint64_t)res, 0x200000000);
	mmap_fixed(0x200000000, 2 * PAGE, &res);
	cr_assert_eq(res, -EEXIST, "MAP_FIXED_NOREPLACE twice gave %ld", (long)res);
	cr_assert_eq(tracee_write(memfd, 0x200000000 + PAGE, "hello", 6), 0);
	cr_assert_eq(tracee_read(pid, 0x200000000 + PAGE, buf, sizeof(buf)), 0);
	cr_assert_str_eq((char *)buf, "hello");

	cr_assert_eq(tracee_get_regs(pid, &after), 0);
	cr_assert_eq(memcmp(&before, &after, sizeof(before)), 0, "registers changed");
	cr_assert_eq(tracee_read(pid, before.rip - 8, code_after, sizeof(code_after)), 0);
	cr_assert_eq(memcmp(code_before, code_after, sizeof(code_before)), 0, "code changed");
	cr_assert_eq(sigmask_of(pid), mask);
	cr_assert_eq(count_fds(), fds);

	/* and the program goes on as if nothing happened */
	cr_assert_eq(run_to_trap(&regs), 1);
	cr_assert_eq(regs.rbx, info_addr);
	cr_assert_eq(tracee_read(pid, info.global + PAGE, buf, 1), 0);
	cr_assert_eq(buf[0], 0x11);
	cr_assert_eq(run_to_trap(&regs), 2);
}

/* A batch runs its calls in order from one save, stops after a failure
 * (unless may_fail) or an unexpected result, and leaves no trace either. */
Test(checkpoint, inject_syscalls_batch)
{
	const uint64_t at = 0x200000000;
	struct tracee_call calls[] = {
		{ .nr = __NR_getpid, .may_fail = true },
		{ .nr = __NR_close, .args = { (uint64_t)-1 }, .may_fail = true },
		{ .nr = __NR_mmap,
		  .args = { at, PAGE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, (uint64_t)-1, 0 },
		  .expect = (int64_t)at },
		{ .nr = __NR_mprotect, .args = { at, PAGE, PROT_READ } },
	};
	struct user_regs_struct before, after;
	int64_t res[ARRAY_SIZE(calls)] = { 0 };
	uint64_t mask;
	size_t done = 99;

	spawn(NULL);
	mask = sigmask_of(pid);
	cr_assert_eq(tracee_get_regs(pid, &before), 0);
	cr_assert_eq(tracee_inject_syscalls(pid, memfd, calls, ARRAY_SIZE(calls), res, &done), 0);
	cr_assert_eq(done, 4);
	cr_assert_eq(res[0], pid);
	cr_assert_eq(res[1], -EBADF, "a failure that may fail: %ld", (long)res[1]);
	cr_assert_eq((uint64_t)res[2], at);
	cr_assert_eq(res[3], 0);
	/* again: the mmap finds its address taken and ends the batch there */
	res[3] = 12345;
	cr_assert_eq(tracee_inject_syscalls(pid, memfd, calls, ARRAY_SIZE(calls), res, &done), 0);
	cr_assert_eq(done, 3);
	cr_assert_eq(res[2], -EEXIST);
	cr_assert_eq(res[3], 12345, "the call after a failure ran");
	/* an mmap that returns another address than expected ends it too */
	calls[2].args[3] = MAP_PRIVATE | MAP_ANONYMOUS;
	cr_assert_eq(tracee_inject_syscalls(pid, memfd, calls, ARRAY_SIZE(calls), res, &done), 0);
	cr_assert_eq(done, 3);
	cr_assert_neq((uint64_t)res[2], at);
	cr_assert_eq(tracee_get_regs(pid, &after), 0);
	cr_assert_eq(memcmp(&before, &after, sizeof(before)), 0, "registers changed");
	cr_assert_eq(sigmask_of(pid), mask);
}

/* A call's argument may be the result of the call before it (replay opens
 * a file and maps that fd in one batch): the fd an openat returned is the
 * one an mmap maps, and closed after. */
Test(checkpoint, inject_syscalls_chain_result)
{
	const uint64_t at = 0x210000000;
	struct tracee_call calls[] = {
		{ .nr = __NR_openat, .args = { (uint64_t)AT_FDCWD, 0, O_RDONLY | O_CLOEXEC } },
		{ .nr = __NR_mmap, .arg_from_prev = 5,
		  .args = { at, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED_NOREPLACE, (uint64_t)-1, 0 },
		  .expect = (int64_t)at },
		{ .nr = __NR_close, .arg_from_prev = 0 },
	};
	static const char path[] = "/proc/self/exe";
	int64_t res[ARRAY_SIZE(calls)] = { 0 };
	uint8_t elf[4];
	size_t done = 0;
	int fds;

	spawn(NULL);
	fds = count_fds();
	/* the path in the helper's memory: its global page */
	cr_assert_eq(tracee_write(memfd, info.global + 2 * PAGE - sizeof(path), path, sizeof(path)), 0);
	calls[0].args[1] = info.global + 2 * PAGE - sizeof(path);
	cr_assert_eq(tracee_inject_syscalls(pid, memfd, calls, 2, res, &done), 0);
	cr_assert_eq(done, 2);
	cr_assert_geq(res[0], 0, "openat: %ld", (long)res[0]);
	cr_assert_eq((uint64_t)res[1], at, "mmap of the opened fd: %ld", (long)res[1]);
	cr_assert_eq(tracee_read(pid, at, elf, sizeof(elf)), 0);
	cr_assert_eq(memcmp(elf, "\177ELF", 4), 0, "the mapping is not of the file opened");
	calls[2].args[0] = (uint64_t)res[0];
	cr_assert_eq(tracee_inject_syscalls(pid, memfd, &calls[2], 1, &res[2], &done), 0);
	cr_assert_eq(res[2], 0);
	cr_assert_eq(count_fds(), fds);
}

/* Every syscall of the helper stops at seccomp (SECCOMP_RET_TRACE). */
static struct sock_filter trace_all[] = {
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE),
};
static const struct sock_fprog trace_all_prog = { ARRAY_SIZE(trace_all), trace_all };

Test(checkpoint, inject_at_seccomp_stop_and_checkpoint_under_filter)
{
	struct user_regs_struct regs, skipped;
	struct snap *s0 = malloc(sizeof(*s0)), *now = malloc(sizeof(*now));
	uint64_t args[6] = { 0 };
	int64_t res;
	int status, sig;

	spawn(&trace_all_prog);
	/* the injected userfaultfd, close and clone stop at seccomp too */
	cr_assert_eq(checkpoint_new(pid, pid, memfd, &cp), 0);
	take(s0);
	/* round 1's pread(2): skip it, pretending it read 64 bytes */
	for (;;) {
		tracee_resume(pid, PTRACE_CONT, 0);
		cr_assert_eq(tracee_wait(pid, &status), 0);
		cr_assert_eq(tracee_classify(status, &sig), TRACEE_STOP_SECCOMP);
		cr_assert_eq(tracee_get_regs(pid, &regs), 0);
		if (regs.orig_rax == __NR_pread64)
			break;
	}
	regs.orig_rax = (uint64_t)-1;
	regs.rax = 64;
	cr_assert_eq(tracee_set_regs(pid, &regs), 0);
	cr_assert_eq(tracee_get_regs(pid, &skipped), 0);
	cr_assert_eq(tracee_inject_syscall(pid, memfd, __NR_getpid, args, &res), 0);
	cr_assert_eq(res, pid);
	cr_assert_eq(tracee_get_regs(pid, &regs), 0);
	cr_assert_eq(memcmp(&regs, &skipped, sizeof(regs)), 0, "registers changed");
	cr_assert_eq(run_to_trap(&regs), 1);
	cr_assert_geq(checkpoint_rollback(cp, NULL, 0), 9);
	take(now);
	assert_same(s0, now);
	free(s0);
	free(now);
}

Test(checkpoint, rollback_restores_four_kinds_of_memory)
{
	struct snap *s0 = malloc(sizeof(*s0)), *s1 = malloc(sizeof(*s1)), *now = malloc(sizeof(*now));
	struct user_regs_struct regs;
	struct checkpoint_stats st;
	pid_t mirror;
	int n, fds;

	spawn(NULL);
	fds = count_fds();
	cr_assert_eq(checkpoint_new(pid, pid, memfd, &cp), 0);
	cr_assert_eq(count_fds(), fds, "the program's file table changed");
	mirror = checkpoint_mirror_pid(cp);
	cr_assert_gt(mirror, 0);
	cr_assert_eq(ppid_of(mirror), getpid(), "the mirror is not our child");
	cr_assert_eq(count_fds_of(mirror), 0, "the mirror holds files open");
	take(s0);
	cr_assert_eq(run_to_trap(&regs), 1);
	take(s1);
	cr_assert_eq(s1->global[PAGE], 0x11);
	cr_assert_eq(s1->heap[0], 0x11);
	cr_assert_eq(s1->heap[3 * PAGE + 16], 1, "pread(2) into the heap");
	cr_assert_eq(s1->anon[5 * PAGE], 0x11);
	cr_assert_eq(s1->file[10], 0x11);

	/* global 2, heap 3 (one by the kernel), anon 3, file 2, and the stack */
	n = checkpoint_rollback(cp, NULL, 0);
	cr_assert_geq(n, 10, "restored %d pages", n);
	take(now);
	assert_same(s0, now);
	checkpoint_get_stats(cp, &st);
	cr_assert_eq(st.rollbacks, 1);
	cr_assert_eq(st.pages_restored, (uint64_t)n);
	cr_assert_eq(st.forks, 1);
	cr_assert_eq(st.syncs, 0);

	/* restored pages stay listed as written: a second rollback is a no-op */
	cr_assert_eq(checkpoint_rollback(cp, NULL, 0), n);
	take(now);
	assert_same(s0, now);
	free(s0);
	free(s1);
	free(now);
}

Test(checkpoint, rollback_keeps_ranges)
{
	struct snap *s0 = malloc(sizeof(*s0)), *s1 = malloc(sizeof(*s1)), *now = malloc(sizeof(*now));
	struct user_regs_struct regs;
	struct checkpoint_range keep[] = {
		{ 0, 1 },	/* anon + 2 pages */
		{ 0, 50 },	/* global + 1 page + 100 */
		{ 0, 4096 },	/* the file's second page, whole */
	};

	spawn(NULL);
	keep[0].addr = info.anon + 2 * PAGE;
	keep[1].addr = info.global + PAGE + 100;
	keep[2].addr = info.file + PAGE;
	cr_assert_eq(checkpoint_new(pid, pid, memfd, &cp), 0);
	take(s0);
	cr_assert_eq(run_to_trap(&regs), 1);
	take(s1);
	cr_assert_gt(checkpoint_rollback(cp, keep, ARRAY_SIZE(keep)), 0);
	take(now);
	memcpy(s0->anon + 2 * PAGE, s1->anon + 2 * PAGE, 1);
	memcpy(s0->global + PAGE + 100, s1->global + PAGE + 100, 50);
	memcpy(s0->file + PAGE, s1->file + PAGE, PAGE);
	assert_same(s0, now);
	cr_assert_eq(now->global[PAGE + 99], 0xdd);
	cr_assert_eq(now->global[PAGE + 100], 0x11);
	cr_assert_eq(now->global[PAGE + 150], 0xdd);
	free(s0);
	free(s1);
	free(now);
}

/* Pages left out of tracking keep what the run wrote there across a
 * rollback and a sync, in a mirror and in a shadow; the rest is restored. */
static void
rollback_leaves_untracked(bool shadow)
{
	struct snap *s0 = malloc(sizeof(*s0)), *s1 = malloc(sizeof(*s1)), *now = malloc(sizeof(*now));
	struct user_regs_struct regs;
	struct checkpoint_range untracked[] = {
		{ 0, 2 * PAGE }, /* anon + 5, + 6: written whole by each round */
		{ 0, PAGE },	 /* anon + 2: one byte */
	};
	int n, all;

	spawn(NULL);
	untracked[0].addr = info.anon + 5 * PAGE;
	untracked[1].addr = info.anon + 2 * PAGE;
	/* what a rollback of the same run restores with everything tracked */
	cr_assert_eq(checkpoint_new_how(pid, pid, memfd, shadow, NULL, 0, &cp), 0);
	cr_assert_eq(run_to_trap(&regs), 1);
	all = checkpoint_rollback(cp, NULL, 0);
	checkpoint_free(cp);
	cr_assert_eq(checkpoint_new_how(pid, pid, memfd, shadow, untracked, ARRAY_SIZE(untracked),
					&cp), 0);
	take(s0);
	cr_assert_eq(run_to_trap(&regs), 2);
	take(s1);
	n = checkpoint_rollback(cp, NULL, 0);
	cr_assert_eq(n, all - 3, "restored %d pages, %d with all tracked", n, all);
	take(now);
	memcpy(s0->anon + 5 * PAGE, s1->anon + 5 * PAGE, 2 * PAGE);
	memcpy(s0->anon + 2 * PAGE, s1->anon + 2 * PAGE, PAGE);
	assert_same(s0, now);
	cr_assert_eq(now->anon[5 * PAGE], 0x22);
	cr_assert_eq(now->anon[2 * PAGE], 0x22);
	/* a sync copies none of them, and a rollback after it none either */
	cr_assert_eq(checkpoint_sync(cp), all - 3);
	cr_assert_eq(run_to_trap(&regs), 3);
	take(s1);
	cr_assert_eq(checkpoint_rollback(cp, NULL, 0), all - 3);
	take(now);
	memcpy(s0->anon + 5 * PAGE, s1->anon + 5 * PAGE, 2 * PAGE);
	memcpy(s0->anon + 2 * PAGE, s1->anon + 2 * PAGE, PAGE);
	assert_same(s0, now);
	cr_assert_eq(now->anon[5 * PAGE], 0x33);
	free(s0);
	free(s1);
	free(now);
}

Test(checkpoint, rollback_leaves_untracked_mirror)
{
	rollback_leaves_untracked(false);
}

Test(checkpoint, rollback_leaves_untracked_shadow)
{
	rollback_leaves_untracked(true);
}

Test(checkpoint, rerun_then_sync_moves_the_restore_point)
{
	struct snap *s1 = malloc(sizeof(*s1)), *again = malloc(sizeof(*again));
	struct user_regs_struct r0, regs;
	static uint8_t x0[16384];
	struct checkpoint_stats st;
	size_t xlen;
	int n;

	spawn(NULL);
	cr_assert_eq(checkpoint_new(pid, pid, memfd, &cp), 0);
	cr_assert_eq(tracee_get_regs(pid, &r0), 0);
	cr_assert_eq(tracee_get_xstate(pid, x0, sizeof(x0), &xlen), 0);
	cr_assert_eq(run_to_trap(&regs), 1);
	take(s1);

	/* roll the thread back to the restore point and run it again */
	cr_assert_gt(checkpoint_rollback(cp, NULL, 0), 0);
	cr_assert_eq(tracee_set_regs(pid, &r0), 0);
	cr_assert_eq(tracee_set_xstate(pid, x0, xlen), 0);
	cr_assert_eq(run_to_trap(&regs), 1, "the rerun is round 1 again");
	take(again);
	assert_same(s1, again);

	n = checkpoint_sync(cp);
	cr_assert_geq(n, 10, "synced %d pages", n);
	cr_assert_eq(run_to_trap(&regs), 2);
	take(again);
	cr_assert_eq(again->global[PAGE], 0x22);
	cr_assert_gt(checkpoint_rollback(cp, NULL, 0), 0);
	take(again);
	assert_same(s1, again);
	checkpoint_get_stats(cp, &st);
	cr_assert_eq(st.syncs, 1);
	cr_assert_eq(st.pages_synced, (uint64_t)n);
	cr_assert_eq(st.rollbacks, 2);
	free(s1);
	free(again);
}

Test(checkpoint, remap_tracks_a_new_mapping)
{
	const uint64_t extra = 0x300000000, len = 3 * PAGE;
	struct snap *s0 = malloc(sizeof(*s0)), *now = malloc(sizeof(*now));
	uint8_t *buf = malloc(len), *zero = calloc(1, len);
	struct user_regs_struct regs;
	struct checkpoint_stats st;
	pid_t old_mirror;
	int64_t res;
	int status;

	spawn(NULL);
	cr_assert_eq(checkpoint_new(pid, pid, memfd, &cp), 0);
	old_mirror = checkpoint_mirror_pid(cp);
	mmap_fixed(extra, len, &res);
	cr_assert_eq((uint64_t)res, extra);
	cr_assert_eq(tracee_write(memfd, info_addr + offsetof(struct helper_info, extra), &extra, 8), 0);
	cr_assert_eq(tracee_write(memfd, info_addr + offsetof(struct helper_info, extralen), &len, 8), 0);
	cr_assert_eq(checkpoint_remap(cp, pid), 0);
	checkpoint_get_stats(cp, &st);
	cr_assert_eq(st.forks, 2);
	cr_assert_neq(checkpoint_mirror_pid(cp), old_mirror);
	cr_assert_eq(waitpid(old_mirror, &status, WNOHANG | __WALL), -1);
	cr_assert_eq(errno, ECHILD, "the old mirror was not reaped");
	take(s0);

	cr_assert_eq(run_to_trap(&regs), 1);
	cr_assert_eq(tracee_read(pid, extra, buf, len), 0);
	cr_assert_eq(buf[0], 0x11);
	cr_assert_eq(buf[len - 1], 0x11);
	cr_assert_gt(checkpoint_rollback(cp, NULL, 0), 0);
	cr_assert_eq(tracee_read(pid, extra, buf, len), 0);
	same_bytes("extra", zero, buf, len);
	take(now);
	assert_same(s0, now);
	free(s0);
	free(now);
	free(buf);
	free(zero);
}

/* Set field @off of the helper's info to @v. */
static void
set_info(size_t off, uint64_t v)
{
	cr_assert_eq(tracee_write(memfd, info_addr + off, &v, sizeof(v)), 0);
}

static uint8_t
byte_at(uint64_t addr)
{
	uint8_t b;

	cr_assert_eq(tracee_read(pid, addr, &b, 1), 0);
	return b;
}

Test(checkpoint, stack_growth_is_restored)
{
	struct user_regs_struct r0, regs;
	static uint8_t x0[16384];
	uint64_t deep;
	size_t xlen;
	int n;

	spawn(NULL);
	/* below the main stack's mapping as the mirror gets it */
	set_info(offsetof(struct helper_info, grow), 512 << 10);
	cr_assert_eq(checkpoint_new(pid, pid, memfd, &cp), 0);
	cr_assert_eq(tracee_get_regs(pid, &r0), 0);
	cr_assert_eq(tracee_get_xstate(pid, x0, sizeof(x0), &xlen), 0);
	cr_assert_eq(run_to_trap(&regs), 1);
	cr_assert_eq(tracee_read(pid, info_addr + offsetof(struct helper_info, deep), &deep, 8), 0);
	cr_assert_lt(deep, r0.rsp - (256 << 10));
	cr_assert_eq(byte_at(deep), 0x11);

	/* not mapped at the restore point: zeros */
	cr_assert_gt(checkpoint_rollback(cp, NULL, 0), 0);
	cr_assert_eq(byte_at(deep), 0);
	cr_assert_eq(tracee_set_regs(pid, &r0), 0);
	cr_assert_eq(tracee_set_xstate(pid, x0, xlen), 0);
	cr_assert_eq(run_to_trap(&regs), 1);
	cr_assert_eq(byte_at(deep), 0x11);

	/* synced: the mirror lacks the page, we keep it */
	n = checkpoint_sync(cp);
	cr_assert_gt(n, 0);
	cr_assert_eq(run_to_trap(&regs), 2);
	cr_assert_eq(byte_at(deep), 0x22);
	cr_assert_gt(checkpoint_rollback(cp, NULL, 0), 0);
	cr_assert_eq(byte_at(deep), 0x11);
}

Test(checkpoint, dontfork_memory_is_kept_after_a_sync)
{
	struct snap *s1 = malloc(sizeof(*s1)), *now = malloc(sizeof(*now));
	uint64_t args[6] = { 0 };
	struct user_regs_struct regs;
	int64_t res;

	spawn(NULL);
	/* the anonymous region's pages 5 and 6, which every round writes */
	args[0] = info.anon + 5 * PAGE;
	args[1] = 2 * PAGE;
	args[2] = MADV_DONTFORK;
	cr_assert_eq(tracee_inject_syscall(pid, memfd, __NR_madvise, args, &res), 0);
	cr_assert_eq(res, 0);
	cr_assert_eq(checkpoint_new(pid, pid, memfd, &cp), 0);
	cr_assert_eq(run_to_trap(&regs), 1);
	take(s1);
	cr_assert_eq(checkpoint_rollback(cp, NULL, 0), -ENOENT);
	take(now);
	assert_same(s1, now);
	cr_assert_gt(checkpoint_sync(cp), 0);
	cr_assert_eq(run_to_trap(&regs), 2);
	cr_assert_gt(checkpoint_rollback(cp, NULL, 0), 0);
	take(now);
	assert_same(s1, now);
	free(s1);
	free(now);
}

Test(checkpoint, written_shared_memory_refuses_rollback)
{
	const uint64_t shared = 0x500000000;
	uint64_t args[6] = { shared, PAGE, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, (uint64_t)-1, 0 };
	struct user_regs_struct regs;
	int64_t res;

	spawn(NULL);
	cr_assert_eq(tracee_inject_syscall(pid, memfd, __NR_mmap, args, &res), 0);
	cr_assert_eq((uint64_t)res, shared);
	set_info(offsetof(struct helper_info, extra), shared);
	set_info(offsetof(struct helper_info, extralen), 8);
	cr_assert_eq(checkpoint_new(pid, pid, memfd, &cp), 0);
	cr_assert_eq(run_to_trap(&regs), 1);
	cr_assert_eq(checkpoint_rollback(cp, NULL, 0), -ENOENT);
	cr_assert_eq(byte_at(info.global + PAGE), 0x11, "a refused rollback wrote");
	/* a sync skips the shared page (the mirror has it) and forgets it */
	cr_assert_gt(checkpoint_sync(cp), 0);
	cr_assert_eq(checkpoint_rollback(cp, NULL, 0), 0);
}

Test(checkpoint, free_reaps_the_mirror)
{
	struct user_regs_struct regs;
	pid_t mirror;
	int status;

	spawn(NULL);
	cr_assert_eq(checkpoint_new(pid, pid, memfd, &cp), 0);
	mirror = checkpoint_mirror_pid(cp);
	cr_assert_eq(kill(mirror, 0), 0);
	checkpoint_free(cp);
	cp = NULL;
	cr_assert_eq(waitpid(mirror, &status, WNOHANG | __WALL), -1);
	cr_assert_eq(errno, ECHILD);
	cr_assert_eq(kill(mirror, 0), -1, "the mirror is still there (zombie?)");
	/* the program runs on, untracked */
	cr_assert_eq(run_to_trap(&regs), 1);
	cr_assert_eq(run_to_trap(&regs), 2);
}

Test(checkpoint, free_after_the_tracee_died)
{
	pid_t mirror;
	int status;

	spawn(NULL);
	cr_assert_eq(checkpoint_new(pid, pid, memfd, &cp), 0);
	mirror = checkpoint_mirror_pid(cp);
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, __WALL) == pid && WIFSTOPPED(status))
		ptrace(PTRACE_CONT, pid, 0, 0);
	pid = -1;
	cr_assert_eq(checkpoint_sync(cp), -ESRCH);
	checkpoint_free(cp);
	cp = NULL;
	cr_assert_eq(waitpid(mirror, &status, WNOHANG | __WALL), -1);
	cr_assert_eq(errno, ECHILD);
}

/* The children of process @p (/proc/P/task/P/children, one thread's). */
static void
children_of(pid_t p, char *buf, size_t cap)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", p, p);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	n = read(fd, buf, cap - 1);
	cr_assert_geq(n, 0);
	buf[n] = 0;
	close(fd);
}

/* What a process the program forked gets: a shadow, no process at all */
Test(checkpoint, shadow_restores_without_a_process)
{
	struct snap *s0 = malloc(sizeof(*s0)), *s1 = malloc(sizeof(*s1)), *now = malloc(sizeof(*now));
	struct user_regs_struct r0, regs;
	struct checkpoint_stats st;
	char kids[256], want[32];
	int n, fds;

	spawn(NULL);
	fds = count_fds();
	cr_assert_eq(checkpoint_new_how(pid, pid, memfd, true, NULL, 0, &cp), 0);
	cr_assert_eq(checkpoint_mirror_pid(cp), -1);
	cr_assert_eq(count_fds(), fds, "the program's file table changed");
	children_of(pid, kids, sizeof(kids));
	cr_assert_str_empty(kids, "the program has a child: %s", kids);
	children_of(getpid(), kids, sizeof(kids));
	snprintf(want, sizeof(want), "%d ", pid);
	cr_assert_str_eq(kids, want, "our children: %s", kids);
	cr_assert_eq(tracee_get_regs(pid, &r0), 0);
	take(s0);
	cr_assert_eq(run_to_trap(&regs), 1);
	take(s1);
	cr_assert_eq(s1->global[PAGE], 0x11);
	cr_assert_eq(s1->heap[3 * PAGE + 16], 1, "pread(2) into the heap");
	n = checkpoint_rollback(cp, NULL, 0);
	cr_assert_geq(n, 10, "restored %d pages", n);
	take(now);
	assert_same(s0, now);

	/* round 1 again, synced: the restore point moves there */
	cr_assert_eq(tracee_set_regs(pid, &r0), 0);
	cr_assert_eq(run_to_trap(&regs), 1);
	cr_assert_geq(checkpoint_sync(cp), 10);
	cr_assert_eq(run_to_trap(&regs), 2);
	take(now);
	cr_assert_eq(now->global[PAGE], 0x22);
	cr_assert_gt(checkpoint_rollback(cp, NULL, 0), 0);
	take(now);
	assert_same(s1, now);

	/* a remap fills a new shadow from the memory as it is */
	cr_assert_eq(tracee_set_regs(pid, &r0), 0);
	cr_assert_eq(run_to_trap(&regs), 1);
	cr_assert_eq(checkpoint_remap(cp, pid), 0);
	cr_assert_eq(run_to_trap(&regs), 2);
	cr_assert_gt(checkpoint_rollback(cp, NULL, 0), 0);
	take(now);
	assert_same(s1, now);
	checkpoint_get_stats(cp, &st);
	cr_assert_eq(st.rollbacks, 3);
	free(s0);
	free(s1);
	free(now);
}

/* A shadow's remap copies only what changed: pages dropped with
 * MADV_DONTNEED and a mapping put over another with MAP_FIXED must read as
 * the memory does, not as the shadow held them before. */
Test(checkpoint, shadow_remap_sees_dropped_and_replaced_pages)
{
	struct snap *s2 = malloc(sizeof(*s2)), *now = malloc(sizeof(*now));
	struct user_regs_struct regs;
	uint64_t args[6] = { 0 };
	uint8_t v = 0x77;
	int64_t res;

	spawn(NULL);
	cr_assert_eq(checkpoint_new_how(pid, pid, memfd, true, NULL, 0, &cp), 0);
	cr_assert_eq(run_to_trap(&regs), 1);
	cr_assert_eq(tracee_write(memfd, info.anon + 9 * PAGE, &v, 1), 0);
	cr_assert_geq(checkpoint_sync(cp), 1);

	/* pages 0-7 of anon dropped: zeros again, in the restore point too */
	args[0] = info.anon;
	args[1] = 8 * PAGE;
	args[2] = MADV_DONTNEED;
	cr_assert_eq(tracee_inject_syscall(pid, memfd, __NR_madvise, args, &res), 0);
	cr_assert_eq(res, 0);
	cr_assert_eq(checkpoint_remap(cp, pid), 0);
	take(s2);
	cr_assert_eq(s2->anon[5 * PAGE], 0);
	cr_assert_eq(run_to_trap(&regs), 2);
	take(now);
	cr_assert_eq(now->anon[5 * PAGE], 0x22);
	cr_assert_gt(checkpoint_rollback(cp, NULL, 0), 0);
	take(now);
	assert_same(s2, now);

	/* pages 8-11 a new mapping over the old: page 9 is 0 again */
	args[0] = info.anon + 8 * PAGE;
	args[1] = 4 * PAGE;
	args[2] = PROT_READ | PROT_WRITE;
	args[3] = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
	args[4] = (uint64_t)-1;
	cr_assert_eq(tracee_inject_syscall(pid, memfd, __NR_mmap, args, &res), 0);
	cr_assert_eq((uint64_t)res, info.anon + 8 * PAGE);
	cr_assert_eq(checkpoint_remap(cp, pid), 0);
	take(s2);
	cr_assert_eq(s2->anon[9 * PAGE], 0);
	v = 0x55;
	cr_assert_eq(tracee_write(memfd, info.anon + 9 * PAGE, &v, 1), 0);
	cr_assert_gt(checkpoint_rollback(cp, NULL, 0), 0);
	take(now);
	assert_same(s2, now);
	free(s2);
	free(now);
}

/* Pages the tracee drops (MADV_DONTNEED) after the restore point was
 * synced read as zeros; checkpoint_discard() makes the restore point agree
 * without a fork: a rollback of a later run that writes them puts zeros
 * back, not the bytes the restore point held before. Linux 6.18 lists the
 * dropped pages as written to the next walk: with a mirror the discard
 * protects them again, so the next sync copies none of them (glibc drops a thread's
 * whole stack at its exit: 2,042 pages copied per thread before); a
 * shadow's sync still copies them. */
static void
discard_follows_dropped_pages(bool shadow)
{
	struct snap *s2 = malloc(sizeof(*s2)), *now = malloc(sizeof(*now));
	struct user_regs_struct regs;
	struct checkpoint_stats st;
	uint64_t args[6] = { 0 };
	pid_t mirror;
	int64_t res;
	int synced;

	spawn(NULL);
	cr_assert_eq(checkpoint_new_how(pid, pid, memfd, shadow, NULL, 0, &cp), 0);
	mirror = checkpoint_mirror_pid(cp);
	cr_assert_eq(run_to_trap(&regs), 1);
	cr_assert_geq(checkpoint_sync(cp), 1);
	take(s2);
	cr_assert_neq(s2->anon[5 * PAGE], 0);

	args[0] = info.anon;
	args[1] = 8 * PAGE;
	args[2] = MADV_DONTNEED;
	cr_assert_eq(tracee_inject_syscall(pid, memfd, __NR_madvise, args, &res), 0);
	cr_assert_eq(res, 0);
	cr_assert_eq(checkpoint_discard(cp, info.anon, 8 * PAGE), 0);
	synced = checkpoint_sync(cp);
	if (shadow)
		cr_assert_geq(synced, 0);
	else
		/* the injection's scratch on the stack at most */
		cr_assert_lt(synced, 8, "the sync after the discard copied %d pages", synced);
	take(s2);
	cr_assert_eq(s2->anon[5 * PAGE], 0);
	cr_assert_eq(run_to_trap(&regs), 2);
	take(now);
	cr_assert_eq(now->anon[5 * PAGE], 0x22);
	cr_assert_gt(checkpoint_rollback(cp, NULL, 0), 0);
	take(now);
	assert_same(s2, now);
	checkpoint_get_stats(cp, &st);
	cr_assert_eq(st.forks, 1, "a discard forked");
	cr_assert_eq(st.discards, 1);
	cr_assert_eq(checkpoint_mirror_pid(cp), mirror);
	free(s2);
	free(now);
}

Test(checkpoint, discard_follows_dropped_pages_mirror)
{
	discard_follows_dropped_pages(false);
}

Test(checkpoint, discard_follows_dropped_pages_shadow)
{
	discard_follows_dropped_pages(true);
}

/* New zero memory (an anonymous mmap, a grown heap) tracked without a
 * fork: a rollback puts zeros back where nothing was synced, what the last
 * sync saw where it was; a remap after that keeps it; a range where the
 * mirror holds a mapping is refused. */
static void
track_new_memory(bool shadow)
{
	const uint64_t extra = 0x300000000, len = 3 * PAGE;
	uint8_t *buf = malloc(len), *want = malloc(len);
	struct user_regs_struct regs;
	struct checkpoint_stats st;
	int64_t res;

	spawn(NULL);
	cr_assert_eq(checkpoint_new_how(pid, pid, memfd, shadow, NULL, 0, &cp), 0);
	cr_assert_eq(checkpoint_track_new(cp, info.anon, PAGE), -EEXIST);
	mmap_fixed(extra, len, &res);
	cr_assert_eq((uint64_t)res, extra);
	set_info(offsetof(struct helper_info, extra), extra);
	set_info(offsetof(struct helper_info, extralen), len);
	cr_assert_eq(checkpoint_track_new(cp, extra, len), 0);
	cr_assert_geq(checkpoint_sync(cp), 0);

	/* round 1 writes it: back to zeros */
	cr_assert_eq(run_to_trap(&regs), 1);
	cr_assert_eq(byte_at(extra + PAGE), 0x11);
	cr_assert_gt(checkpoint_rollback(cp, NULL, 0), 0);
	memset(want, 0, len);
	cr_assert_eq(tracee_read(pid, extra, buf, len), 0);
	same_bytes("extra after the first rollback", want, buf, len);

	/* round 1 again, synced, then round 2: back to round 1's bytes */
	cr_assert_eq(tracee_set_regs(pid, &regs), 0);
	memset(want, 0x11, len);
	cr_assert_eq(tracee_write(memfd, extra, want, len), 0);
	cr_assert_gt(checkpoint_sync(cp), 0);
	if (shadow) /* a remap refreshes the shadow: it keeps the range */
		cr_assert_eq(checkpoint_remap(cp, pid), 0);
	cr_assert_eq(run_to_trap(&regs), 2);
	cr_assert_eq(byte_at(extra + PAGE), 0x22);
	cr_assert_gt(checkpoint_rollback(cp, NULL, 0), 0);
	cr_assert_eq(tracee_read(pid, extra, buf, len), 0);
	same_bytes("extra after the second rollback", want, buf, len);
	/* dropped again: the mirror has no such mapping, nothing to drop */
	{
		uint64_t args[6] = { extra, len, MADV_DONTNEED, 0, 0, 0 };

		cr_assert_eq(tracee_inject_syscall(pid, memfd, __NR_madvise, args, &res), 0);
		cr_assert_eq(res, 0);
		cr_assert_eq(checkpoint_discard(cp, extra, len), 0);
	}
	checkpoint_get_stats(cp, &st);
	cr_assert_eq(st.tracked_new, 1);
	cr_assert_eq(st.discards, 1);
	cr_assert_eq(st.forks, shadow ? 2 : 1);
	free(buf);
	free(want);
}

Test(checkpoint, track_new_memory_mirror)
{
	track_new_memory(false);
}

Test(checkpoint, track_new_memory_shadow)
{
	track_new_memory(true);
}

Test(checkpoint, signal_discarded)
{
	bool discarded;

	spawn(NULL);
	/* SIG_IGN, and SIG_DFL of signals whose default is to do nothing */
	cr_assert_eq(tracee_signal_discarded(pid, SIGUSR2, &discarded), 0);
	cr_assert(discarded);
	cr_assert_eq(tracee_signal_discarded(pid, SIGCHLD, &discarded), 0);
	cr_assert(discarded);
	cr_assert_eq(tracee_signal_discarded(pid, SIGWINCH, &discarded), 0);
	cr_assert(discarded);
	/* caught, and SIG_DFL that ends the process */
	cr_assert_eq(tracee_signal_discarded(pid, SIGUSR1, &discarded), 0);
	cr_assert_not(discarded);
	cr_assert_eq(tracee_signal_discarded(pid, SIGTERM, &discarded), 0);
	cr_assert_not(discarded);
	cr_assert_eq(tracee_signal_discarded(pid, 65, &discarded), -EINVAL);
}

Test(checkpoint, signal_disposition_and_xstate)
{
	enum tracee_sig_disposition d;
	static uint8_t x[16384];
	size_t len;

	spawn(NULL);
	cr_assert_eq(tracee_signal_disposition(pid, SIGUSR1, &d), 0);
	cr_assert_eq(d, TRACEE_SIG_CAUGHT);
	cr_assert_eq(tracee_signal_disposition(pid, SIGUSR2, &d), 0);
	cr_assert_eq(d, TRACEE_SIG_IGNORED);
	cr_assert_eq(tracee_signal_disposition(pid, SIGTERM, &d), 0);
	cr_assert_eq(d, TRACEE_SIG_DEFAULT);
	cr_assert_eq(tracee_signal_disposition(pid, 0, &d), -EINVAL);
	cr_assert_eq(tracee_signal_disposition(pid, 65, &d), -EINVAL);

	/* legacy FXSAVE area (512) + XSAVE header (64) at least */
	cr_assert_eq(tracee_get_xstate(pid, x, sizeof(x), &len), 0);
	cr_assert_geq(len, 576);
	cr_assert_eq(tracee_set_xstate(pid, x, len), 0);
}

/* The recorder's room for a thread's XSAVE state holds the kernel's whole
 * NT_X86_XSTATE regset, so a rollback can write it back: with 4096 bytes,
 * machines with AMX tiles (11008) failed every rollback with EFAULT and no
 * CPU-bound thread was ever preempted there. */
Test(checkpoint, xstate_room)
{
	static uint8_t whole[65536];
	size_t cap = arch_xstate_size(), len, full;
	uint8_t *x = malloc(cap);

	cr_assert_not_null(x);
	spawn(NULL);
	cr_assert_eq(tracee_get_xstate(pid, whole, sizeof(whole), &full), 0);
	cr_assert_leq(full, cap, "the regset has %zu bytes, the room %zu", full, cap);
	cr_assert_eq(tracee_get_xstate(pid, x, cap, &len), 0);
	cr_assert_eq(len, full);
	cr_assert_eq(tracee_set_xstate(pid, x, len), 0);
	free(x);
}

static double
us_since(uint64_t t0, unsigned n)
{
	return (double)(util_now_ns() - t0) / 1000.0 / n;
}

/* Dirty @n pages of the anonymous region (one byte each, via /proc/PID/mem). */
static void
dirty(uint64_t base, unsigned n, uint8_t v)
{
	for (unsigned p = 0; p < n; p++)
		cr_assert_eq(tracee_write(memfd, base + p * PAGE, &v, 1), 0);
}

/* Measured, printed, never asserted: the costs the scheduler pays. */
Test(checkpoint, costs, .timeout = 120)
{
	const unsigned nnew = 20, nsync = 2000, ndirty = 500;
	const uint64_t big = 0x400000000, biglen = 64ULL << 20;
	uint64_t t, sync0 = 0, sync10 = 0, roll10 = 0;
	static uint8_t chunk[1 << 20];
	double inject_us, new_us, remap_small_us, remap_us, big_sync0, big_page_us;
	const unsigned nbig = 2048, nbig_rounds = 20;
	uint64_t big_ns = 0;
	uint64_t args[6] = { 0 };
	int64_t res;

	spawn(NULL);
	t = util_now_ns();
	for (unsigned i = 0; i < 200; i++)
		cr_assert_eq(tracee_inject_syscall(pid, memfd, __NR_getpid, args, &res), 0);
	inject_us = us_since(t, 200);
	t = util_now_ns();
	for (unsigned i = 0; i < nnew; i++) {
		cr_assert_eq(checkpoint_new(pid, pid, memfd, &cp), 0);
		checkpoint_free(cp);
		cp = NULL;
	}
	new_us = us_since(t, nnew);

	cr_assert_eq(checkpoint_new(pid, pid, memfd, &cp), 0);
	t = util_now_ns();
	for (unsigned i = 0; i < nnew; i++)
		cr_assert_eq(checkpoint_remap(cp, pid), 0);
	remap_small_us = us_since(t, nnew);
	cr_assert_geq(checkpoint_sync(cp), 0);
	t = util_now_ns();
	for (unsigned i = 0; i < nsync; i++)
		cr_assert_eq(checkpoint_sync(cp), 0);
	sync0 = util_now_ns() - t;
	for (unsigned i = 0; i < ndirty; i++) {
		dirty(info.anon + 3 * PAGE, 10, (uint8_t)i);
		t = util_now_ns();
		cr_assert_eq(checkpoint_sync(cp), 10);
		sync10 += util_now_ns() - t;
		dirty(info.anon + 3 * PAGE, 10, (uint8_t)(i + 1));
		t = util_now_ns();
		cr_assert_eq(checkpoint_rollback(cp, NULL, 0), 10);
		roll10 += util_now_ns() - t;
		cr_assert_eq(checkpoint_sync(cp), 10);
	}

	/* the same with 64 MiB more resident memory to walk */
	mmap_fixed(big, biglen, &res);
	cr_assert_eq((uint64_t)res, big);
	memset(chunk, 0x5a, sizeof(chunk));
	for (uint64_t o = 0; o < biglen; o += sizeof(chunk))
		cr_assert_eq(tracee_write(memfd, big + o, chunk, sizeof(chunk)), 0);
	t = util_now_ns();
	cr_assert_eq(checkpoint_remap(cp, pid), 0);
	remap_us = us_since(t, 1);
	cr_assert_geq(checkpoint_sync(cp), 0);
	t = util_now_ns();
	for (unsigned i = 0; i < 200; i++)
		cr_assert_eq(checkpoint_sync(cp), 0);
	big_sync0 = us_since(t, 200);
	/* a sync that copies 8 MiB (sort's runs write 2,000 pages), per page,
	 * in uprr's CPU time (the machine may be loaded) */
	for (unsigned k = 0; k < nbig_rounds; k++) {
		struct timespec a, b;

		for (unsigned p = 0; p < nbig; p++)
			cr_assert_eq(tracee_write(memfd, big + p * PAGE, &k, 1), 0);
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
		cr_assert_eq(checkpoint_sync(cp), nbig);
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
		big_ns += (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000ull + (uint64_t)b.tv_nsec -
			  (uint64_t)a.tv_nsec;
	}
	big_page_us = (double)big_ns / 1000.0 / nbig / nbig_rounds;

	fprintf(stderr,
		"checkpoint costs: inject getpid %.1f us; new %.1f us; remap %.1f us; "
		"sync 0 dirty %.2f us; sync 10 dirty %.2f us; rollback 10 dirty %.2f us; "
		"with 64 MiB more resident: remap %.1f us, sync 0 dirty %.2f us, "
		"sync of %u dirty %.3f us a page (CPU time)\n",
		inject_us, new_us, remap_small_us, (double)sync0 / 1000.0 / nsync,
		(double)sync10 / 1000.0 / ndirty, (double)roll10 / 1000.0 / ndirty, remap_us,
		big_sync0, nbig, big_page_us);
}
