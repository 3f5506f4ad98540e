/* SPDX-License-Identifier: MIT */
/*
 * kernel-merge (kernel-merge/kernel-merge.h). A program of 3 threads
 * (kmerge-helper.c) stops on an int3 in each: A and B are two copies of it
 * there (checkpoint_copy_new()), each with a dirty log. B is told to run
 * its epoch differently (pages, registers, xmm7, signal mask, GS base,
 * alternate signal stack, clear-tid address, robust list, rseq, a new
 * anonymous mapping, an unmapped page, a grown break and stack, its data
 * file's descriptor replaced); both run to the epoch's end, B is merged into A,
 * and the divergence check (ep/divergence.h) must find nothing. Resumed,
 * A and B must print the same state, and A's write through the data
 * file's descriptor must land in the data file at A's offset (B's goes to
 * /dev/null). Without the merge the two print different states. A file
 * mapping only B has is refused, named, with A left as it was. Prints the
 * merge's cost for ~1,000 and ~100,000 differing pages.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint/dirty.h"
#include "checkpoint/process.h"
#include "common/util.h"
#include "ep/divergence.h"
#include "kernel-merge/kernel-merge.h"
#include "tests/unit/stopped-threads.h"
#include "tracee/tracee.h"

#define NTHREADS 3
/* as in kmerge-helper.c */
#define CTL_ADDR 0x6f0000100000UL
#define FILE_ADDR 0x6f0000400000UL

static pid_t pid = -1;
static int memfd = -1;
static struct checkpoint_copy *copies[2]; /* A, B */
static struct dirty_log *logs[2];
static char dir[] = "/tmp/kmerge-XXXXXX";
static char data_path[64], out_path[64];

static void
fini(void)
{
	for (size_t i = 0; i < 2; i++) {
		dirty_log_free(logs[i]);
		logs[i] = NULL;
		checkpoint_copy_free(copies[i]);
		copies[i] = NULL;
	}
	if (memfd >= 0)
		close(memfd);
	memfd = -1;
	if (pid > 0)
		tracee_kill_all(pid);
	pid = -1;
	if (data_path[0]) {
		unlink(data_path);
		unlink(out_path);
		rmdir(dir);
		data_path[0] = 0;
		strcpy(dir, "/tmp/kmerge-XXXXXX");
	}
}

TestSuite(kmerge, .fini = fini, .timeout = 200);

/* Run until processes @p0 and @p1 (threads @tids, 2 * NTHREADS) have ended,
 * each with status 0. */
static void
wait_ends(pid_t p0, pid_t p1, const pid_t *tids)
{
	int left = 2;

	while (left) {
		int status, sig = 0;
		pid_t w = waitpid(-1, &status, __WALL);

		cr_assert_gt(w, 0, "waitpid: %s", strerror(errno));
		cr_assert(has(tids, 2 * NTHREADS, w), "stop of %d, not A's nor B's", w);
		switch (tracee_classify(status, &sig)) {
		case TRACEE_GONE:
			if (w == p0 || w == p1) {
				cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%d: status 0x%x", w,
					  status);
				left--;
			}
			continue;
		case TRACEE_STOP_SIGNAL:
			cr_assert_eq(sig, SIGTRAP, "thread %d: signal %d", w, sig);
			tracee_resume(w, PTRACE_CONT, 0);
			continue;
		default:
			tracee_resume(w, PTRACE_CONT, 0);
			continue;
		}
	}
}

static void
spawn(long pages)
{
	char arg[32];
	char *argv[] = { (char *)KMERGE_HELPER, data_path, arg, out_path, NULL };
	char *envp[] = { NULL };
	struct tracee_spawn_options o = {
		.path = KMERGE_HELPER, .argv = argv, .envp = envp, .cpu = -1,
	};
	int exec_errno = 0;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(data_path, sizeof(data_path), "%s/data", dir);
	snprintf(out_path, sizeof(out_path), "%s/out", dir);
	snprintf(arg, sizeof(arg), "%ld", pages);
	cr_assert_eq(tracee_spawn(&o, TRACEE_PTRACE_OPTIONS, &pid, &exec_errno), 0);
	memfd = tracee_open_mem(pid);
	cr_assert_geq(memfd, 0);
	tracee_resume(pid, PTRACE_CONT, 0);
}

/* Two copies of one epoch, stopped at its end, B run as @variant says. */
struct epoch {
	struct kmerge_side a, b;
	struct dirty_pages wa, wb;
	const pid_t *ta, *tb;
};

static void
run_epoch(struct epoch *e, int variant, long pages)
{
	pid_t t0[NTHREADS], all[2 * NTHREADS], stopped[2 * NTHREADS];
	size_t n;

	spawn(pages);
	wait_traps(NULL, 0, t0, NTHREADS);
	in_order(pid, t0, NTHREADS);
	for (size_t i = 0; i < 2; i++) {
		const pid_t *t;
		int mem;

		cr_assert_eq(checkpoint_copy_new(pid, memfd, t0, NTHREADS, &copies[i]), 0);
		t = checkpoint_copy_tids(copies[i], &n);
		cr_assert_eq(n, NTHREADS);
		mem = checkpoint_copy_mem(copies[i]);
		cr_assert_eq(dirty_log_new(checkpoint_copy_pid(copies[i]), t[0], mem, &logs[i]), 0);
		memcpy(all + i * NTHREADS, t, NTHREADS * sizeof(*t));
	}
	/* after the logs started: the variant's page is one B wrote */
	cr_assert_eq(tracee_write(checkpoint_copy_mem(copies[1]), CTL_ADDR, &variant, sizeof(variant)), 0);
	checkpoint_copy_resume(copies[0]);
	checkpoint_copy_resume(copies[1]);
	wait_traps(all, 2 * NTHREADS, stopped, 2 * NTHREADS);
	*e = (struct epoch){ 0 };
	cr_assert_geq(dirty_log_written(logs[0], false, &e->wa), 0);
	cr_assert_geq(dirty_log_written(logs[1], false, &e->wb), 0);
	e->ta = checkpoint_copy_tids(copies[0], &n);
	e->tb = checkpoint_copy_tids(copies[1], &n);
	e->a = (struct kmerge_side){ checkpoint_copy_pid(copies[0]), checkpoint_copy_mem(copies[0]), e->ta,
				     NTHREADS, &e->wa };
	e->b = (struct kmerge_side){ checkpoint_copy_pid(copies[1]), checkpoint_copy_mem(copies[1]), e->tb,
				     NTHREADS, &e->wb };
}

static struct ep_divergence
check(const struct epoch *e)
{
	struct ep_side sa = { .pid = e->a.pid, .tids = e->ta, .ntids = NTHREADS, .written = &e->wa };
	struct ep_side sb = { .pid = e->b.pid, .tids = e->tb, .ntids = NTHREADS, .written = &e->wb };
	struct ep_divergence d;
	char line[512];

	cr_assert_eq(ep_check_divergence(&sa, &sb, &d), 0);
	cr_log_info("%s", ep_divergence_describe(&d, line, sizeof(line)));
	return d;
}

static void
epoch_done(struct epoch *e)
{
	dirty_pages_fini(&e->wa);
	dirty_pages_fini(&e->wb);
}

/* Resume A and B to their ends; the states each printed, PID prefix
 * removed, into @sa and @sb (@len bytes each). */
static void
finish(const struct epoch *e, char *sa, char *sb, size_t len)
{
	pid_t all[2 * NTHREADS];
	char line[512];
	FILE *f;

	for (size_t i = 0; i < NTHREADS; i++) {
		all[i] = e->ta[i];
		all[NTHREADS + i] = e->tb[i];
		tracee_resume(e->ta[i], PTRACE_CONT, 0);
		tracee_resume(e->tb[i], PTRACE_CONT, 0);
	}
	wait_ends(e->a.pid, e->b.pid, all);
	sa[0] = sb[0] = 0;
	f = fopen(out_path, "re");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		pid_t p = atoi(line);

		cr_assert_not_null(colon, "line '%s'", line);
		cr_log_info("%s", line);
		if (p == e->a.pid)
			snprintf(sa, len, "%s", colon + 2);
		else if (p == e->b.pid)
			snprintf(sb, len, "%s", colon + 2);
		else
			cr_assert_fail("line of another process: %s", line);
	}
	fclose(f);
	cr_assert(sa[0] && sb[0], "A printed '%s', B '%s'", sa, sb);
}

/* The data file: "AAAA" (before the checkpoint), then @state, written by A
 * through its descriptor at its offset (4). */
static void
expect_data(const char *state)
{
	char buf[512] = { 0 };
	int fd = open(data_path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	cr_assert_geq(fd, 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	cr_assert_gt(n, 4);
	cr_expect_eq(strncmp(buf, "AAAA", 4), 0, "data file: '%s'", buf);
	cr_expect_str_eq(buf + 4, state, "data file: '%s'", buf);
}

Test(kmerge, merged)
{
	struct epoch e;
	struct kmerge_report rep;
	struct ep_divergence d;
	char sa[256], sb[256];
	int r;

	/* B differs in memory, mappings and threads (not_merged checks it:
	 * not here, where the check's reads of A through /proc/PID/mem, at
	 * the pages B wrote below A's stack, would grow A's stack
	 * (__access_remote_vm() calls expand_stack(), Linux 6.5) and leave
	 * the merge nothing to do there) */
	run_epoch(&e, 1, 16);
	r = kmerge_merge(&e.a, &e.b, &rep);
	cr_assert_eq(r, 0, "merge: %s: %s", strerror(-r), rep.what);
	cr_log_info("merge: %" PRIu64 " of %" PRIu64 " pages copied, %" PRIu64 " of %" PRIu64
		    " fresh pages, %u maps made, %u removed, %u protected, brk %d",
		    rep.pages_copied, rep.pages_compared, rep.fresh_copied, rep.fresh_pages, rep.maps_created,
		    rep.maps_removed, rep.maps_protected, rep.brk_set);
	/* the area (3 x 16 pages), only_a, only_b, the variant, stacks */
	cr_expect_geq(rep.pages_copied, NTHREADS * 16 + 3);
	/* the 2 pages at MAP_ADDR, the main thread's stack grown */
	cr_expect_eq(rep.maps_created, 2);
	cr_expect_geq(rep.maps_removed, 1);
	cr_expect_eq(rep.maps_protected, 1);
	cr_expect(rep.brk_set);
	/* those, the break's growth (16 pages) and the stack's */
	cr_expect_gt(rep.fresh_pages, 2 + 16, "%" PRIu64 " fresh pages", rep.fresh_pages);
	/* the 2 pages at MAP_ADDR, half the break's growth, the stack's */
	cr_expect_gt(rep.fresh_copied, 2 + 8, "%" PRIu64 " fresh pages copied", rep.fresh_copied);
	cr_expect_eq(rep.threads, NTHREADS);
	d = check(&e);
	cr_expect_not(d.diverged, "diverged after the merge");
	epoch_done(&e);
	finish(&e, sa, sb, sizeof(sa));
	cr_expect_str_eq(sa, sb, "A printed '%s', B '%s'", sa, sb);
	cr_expect(strstr(sb, "variant 1 map 1 gone 1 brk +") && strstr(sb, " rax 43 xmm7 68 mask 800 gs 12340000 alt 1 tid 1 robust 1 rseq 1"),
		  "B: '%s'", sb);
	expect_data(sa);
}

/* The break's growth in state @s, as the helper prints it. */
static unsigned long
brk_of(const char *s)
{
	const char *at = strstr(s, "brk +");

	return at ? strtoul(at + 5, NULL, 10) : 0;
}

/* Without the merge A goes on as itself: what the merged test checks can
 * tell the two apart. */
Test(kmerge, not_merged)
{
	struct ep_divergence d;
	struct epoch e;
	char sa[256], sb[256];

	run_epoch(&e, 1, 16);
	d = check(&e);
	cr_assert(d.diverged && d.pages_differ && d.mapping_differs && d.thread_differs,
		  "B was to differ in memory, mappings and threads");
	epoch_done(&e);
	finish(&e, sa, sb, sizeof(sa));
	cr_expect_str_neq(sa, sb);
	cr_expect(strstr(sa, "variant 0 map 0 gone 0 brk +") && strstr(sa, " rax 42 xmm7 67 mask 0 gs 0 alt 0 tid 0 robust 0 rseq 0"), "A: '%s'",
		  sa);
	cr_expect_eq(brk_of(sb), brk_of(sa) + 65536, "A: '%s', B: '%s'", sa, sb);
	expect_data(sa);
}

/* Merging two copies that ran alike changes nothing but what the
 * injected syscalls need: no page copied, no mapping touched. */
Test(kmerge, same)
{
	struct epoch e;
	struct kmerge_report rep;
	char sa[256], sb[256];
	int r;

	run_epoch(&e, 0, 16);
	r = kmerge_merge(&e.a, &e.b, &rep);
	cr_assert_eq(r, 0, "merge: %s: %s", strerror(-r), rep.what);
	/* but the pages of the threads' rseq areas, where the kernel writes
	 * the CPU each runs on (A's and B's may have run on others) */
	cr_expect_leq(rep.pages_copied, NTHREADS, "%" PRIu64 " pages copied", rep.pages_copied);
	cr_expect_eq(rep.maps_created + rep.maps_removed + rep.maps_protected, 0);
	cr_expect_not(rep.brk_set);
	cr_expect_not(check(&e).diverged);
	epoch_done(&e);
	finish(&e, sa, sb, sizeof(sa));
	cr_expect_str_eq(sa, sb);
}

/* kmerge_copy_pages() (a rollback's merge: the mappings the same): only
 * the pages that differ are copied, and the bytes of the ranges left out
 * are neither compared nor written, in a page partly left out as in one
 * left out whole. */
Test(kmerge, pages_ignored)
{
	struct epoch e;
	struct kmerge_report rep;
	/* CTL_ADDR's page is one B wrote (run_epoch()) */
	const uint64_t copied_at = CTL_ADDR + 100, kept_at = CTL_ADDR + 200;
	struct checkpoint_range whole = { CTL_ADDR, 4096 }, ignore[] = { { kept_at, 1 } };
	uint8_t x, y, a_copied, a_kept, got;
	int r;

	run_epoch(&e, 0, 16);
	cr_assert_eq(tracee_read(e.a.pid, kept_at, &a_kept, 1), 0);
	cr_assert_eq(tracee_read(e.a.pid, copied_at, &a_copied, 1), 0);
	x = (uint8_t)(a_copied ^ 0xff);
	y = (uint8_t)(a_kept ^ 0xff);
	cr_assert_eq(tracee_write(e.b.memfd, copied_at, &x, 1), 0);
	cr_assert_eq(tracee_write(e.b.memfd, kept_at, &y, 1), 0);
	/* the page left out whole: not written */
	r = kmerge_copy_pages(&e.a, &e.b, &whole, 1, &rep);
	cr_assert_eq(r, 0, "copy: %s: %s", strerror(-r), rep.what);
	cr_assert_eq(tracee_read(e.a.pid, copied_at, &got, 1), 0);
	cr_expect_eq(got, a_copied, "a page left out whole: %#x in A, was %#x", got, a_copied);
	/* one byte of it left out */
	r = kmerge_copy_pages(&e.a, &e.b, ignore, ARRAY_SIZE(ignore), &rep);
	cr_assert_eq(r, 0, "copy: %s: %s", strerror(-r), rep.what);
	cr_log_info("copy: %" PRIu64 " of %" PRIu64 " pages copied", rep.pages_copied, rep.pages_compared);
	/* that page, and the threads' rseq areas' (kmerge.same) */
	cr_expect_geq(rep.pages_copied, 1);
	cr_expect_leq(rep.pages_copied, 1 + NTHREADS, "%" PRIu64 " pages copied", rep.pages_copied);
	cr_expect_gt(rep.pages_compared, rep.pages_copied);
	cr_assert_eq(tracee_read(e.a.pid, copied_at, &got, 1), 0);
	cr_expect_eq(got, x, "the byte that differed: %#x in A", got);
	cr_assert_eq(tracee_read(e.a.pid, kept_at, &got, 1), 0);
	cr_expect_eq(got, a_kept, "the byte left out: %#x in A, was %#x", got, a_kept);
	epoch_done(&e);
}

/* A file mapping only B has: refused, named, A untouched. */
Test(kmerge, file_mapping_refused)
{
	struct epoch e;
	struct kmerge_report rep;
	struct ep_divergence before, after;
	int r;

	run_epoch(&e, 2, 16);
	before = check(&e);
	r = kmerge_merge(&e.a, &e.b, &rep);
	cr_assert_eq(r, -EOPNOTSUPP, "merge: %d: %s", r, rep.what);
	cr_log_info("refused: %s", rep.what);
	cr_expect_eq(rep.fail_start, FILE_ADDR, "at 0x%" PRIx64, rep.fail_start);
	cr_expect(strstr(rep.what, "kmerge-helper") && strstr(rep.what, "file mapping"), "'%s'", rep.what);
	after = check(&e);
	cr_expect_eq(after.pages_differ, before.pages_differ, "A changed");
	cr_expect_eq(rep.pages_copied + rep.threads + rep.maps_created + rep.maps_removed, 0);
	epoch_done(&e);
}

/* The merge's cost for about @total differing pages, best of @rounds. */
static void
cost(long total, int rounds)
{
	struct kmerge_report best = { .total_ns = UINT64_MAX };

	for (int i = 0; i < rounds; i++) {
		struct epoch e;
		struct kmerge_report rep;
		int r;

		run_epoch(&e, 1, (total + NTHREADS - 1) / NTHREADS);
		r = kmerge_merge(&e.a, &e.b, &rep);
		cr_assert_eq(r, 0, "merge: %s: %s", strerror(-r), rep.what);
		cr_expect_not(check(&e).diverged);
		if (rep.total_ns < best.total_ns)
			best = rep;
		epoch_done(&e);
		fini();
	}
	fprintf(stderr,
		"merge of %" PRIu64 " differing pages (%" PRIu64 " compared): %.2f ms (%.2f us a page copied;"
		" comparing and copying %.2f ms, mappings and brk %.2f ms, %u threads %.2f ms); best of %d\n",
		best.pages_copied, best.pages_compared, best.total_ns / 1e6,
		best.total_ns / 1e3 / (double)best.pages_copied, best.pages_ns / 1e6,
		best.maps_ns / 1e6, best.threads, best.threads_ns / 1e6, rounds);
}

Test(kmerge, cost_1000)
{
	cost(1000, 5);
}

Test(kmerge, cost_100000)
{
	cost(100000, 3);
}
