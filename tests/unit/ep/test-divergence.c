/* SPDX-License-Identifier: MIT */
/*
 * The divergence check (ep/divergence.h) and the dirty log it uses
 * (checkpoint/dirty.h). A program of 3 threads (ep-helper.c) stops on an
 * int3 in each: A is that process, B a copy of it (checkpoint_copy_new()),
 * or a copy of the copy. Each gets a dirty log there; both run on to a
 * second int3 in each thread, the same way, and are compared: no
 * divergence. Then B is made to do one thing differently (a byte, rax,
 * xmm7, the signal mask, the GS base, one more mapping, a page only B
 * writes) and the check must name exactly that. Prints the check's cost
 * for ~1,000 and ~100,000 written pages.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint/dirty.h"
#include "checkpoint/process.h"
#include "common/util.h"
#include "ep/divergence.h"
#include "tests/unit/stopped-threads.h"
#include "tracee/tracee.h"

#define NTHREADS 3
/* as in ep-helper.c */
#define MAP_ADDR 0x6f0000000000UL
#define AREA_ADDR 0x6e0000000000UL
#define CTL_ADDR 0x6f0000100000UL

static pid_t pid = -1;
static int memfd = -1;
static struct checkpoint_copy *copies[2];
static struct dirty_log *logs[2];

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
}

TestSuite(divergence, .fini = fini, .timeout = 180);

static void
spawn(long pages)
{
	char arg[32];
	char *argv[] = { (char *)EP_HELPER, arg, NULL };
	char *envp[] = { NULL };
	struct tracee_spawn_options o = {
		.path = EP_HELPER, .argv = argv, .envp = envp, .cpu = -1,
	};
	int exec_errno = 0;

	snprintf(arg, sizeof(arg), "%ld", pages);
	cr_assert_eq(tracee_spawn(&o, TRACEE_PTRACE_OPTIONS, &pid, &exec_errno), 0);
	memfd = tracee_open_mem(pid);
	cr_assert_geq(memfd, 0);
	tracee_resume(pid, PTRACE_CONT, 0);
}

/* The outcome of one epoch run twice. */
struct epoch {
	struct ep_divergence d;
	uint64_t written_a, written_b; /* pages in each dirty log */
	uint64_t log_ns;	       /* both dirty_log_written() walks */
	uint64_t again;		       /* pages listed by a second walk of A's log after a re-arm */
};

/*
 * Run the helper (@pages per thread) to its checkpoint, copy it (twice
 * with @copy_of_copy: B is the copy of the copy), write @variant into B,
 * start a dirty log in each, run both to the epoch's end and compare.
 */
static struct epoch
run_epoch(int variant, long pages, bool copy_of_copy)
{
	pid_t ta[NTHREADS], all[2 * NTHREADS], stopped[2 * NTHREADS];
	const pid_t *tb;
	struct checkpoint_copy *b;
	struct dirty_pages wa = { 0 }, wb = { 0 };
	struct epoch e = { 0 };
	size_t nb;
	int bmem;
	char line[512];
	uint64_t t0;
	int64_t k;

	spawn(pages);
	wait_traps(NULL, 0, ta, NTHREADS);
	in_order(pid, ta, NTHREADS);
	cr_assert_eq(checkpoint_copy_new(pid, memfd, ta, NTHREADS, &copies[0]), 0);
	b = copies[0];
	if (copy_of_copy) {
		tb = checkpoint_copy_tids(copies[0], &nb);
		cr_assert_eq(checkpoint_copy_new(checkpoint_copy_pid(copies[0]), checkpoint_copy_mem(copies[0]),
						 tb, nb, &copies[1]),
			     0);
		b = copies[1];
	}
	tb = checkpoint_copy_tids(b, &nb);
	cr_assert_eq(nb, NTHREADS);
	bmem = checkpoint_copy_mem(b);
	if (variant)
		cr_assert_eq(tracee_write(bmem, CTL_ADDR, &variant, sizeof(variant)), 0);
	cr_assert_eq(dirty_log_new(pid, ta[0], memfd, &logs[0]), 0);
	cr_assert_eq(dirty_log_new(checkpoint_copy_pid(b), tb[0], bmem, &logs[1]), 0);
	for (size_t i = 0; i < NTHREADS; i++)
		tracee_resume(ta[i], PTRACE_CONT, 0);
	checkpoint_copy_resume(b);
	memcpy(all, ta, sizeof(ta));
	memcpy(all + NTHREADS, tb, NTHREADS * sizeof(*tb));
	wait_traps(all, 2 * NTHREADS, stopped, 2 * NTHREADS);

	t0 = util_now_ns();
	k = dirty_log_written(logs[0], true, &wa);
	cr_assert_geq(k, 0);
	e.written_a = (uint64_t)k;
	k = dirty_log_written(logs[1], false, &wb);
	cr_assert_geq(k, 0);
	e.written_b = (uint64_t)k;
	e.log_ns = util_now_ns() - t0;
	{
		struct dirty_pages again = { 0 };
		int64_t n = dirty_log_written(logs[0], false, &again);

		/* re-armed, and nothing ran since */
		cr_assert_geq(n, 0);
		e.again = (uint64_t)n;
		dirty_pages_fini(&again);
	}
	{
		struct ep_side sa = { .pid = pid, .tids = ta, .ntids = NTHREADS, .written = &wa };
		struct ep_side sb = { .pid = checkpoint_copy_pid(b), .tids = tb, .ntids = NTHREADS, .written = &wb };

		cr_assert_eq(ep_check_divergence(&sa, &sb, &e.d), 0);
	}
	cr_log_info("variant %d, %ld pages a thread: %s", variant, pages,
		    ep_divergence_describe(&e.d, line, sizeof(line)));
	/* every page each thread wrote of the area is in both logs */
	for (int s = 0; s < 2; s++) {
		const struct dirty_pages *w = s ? &wb : &wa;
		uint64_t end = AREA_ADDR + NTHREADS * (uint64_t)pages * 4096;
		bool covered = false;

		for (size_t i = 0; i < w->n; i++)
			covered |= w->v[i].addr <= AREA_ADDR && end <= w->v[i].addr + w->v[i].len;
		cr_expect(covered, "%s's dirty log lacks the area", s ? "B" : "A");
	}
	dirty_pages_fini(&wa);
	dirty_pages_fini(&wb);
	return e;
}

Test(divergence, same)
{
	struct epoch e = run_epoch(0, 16, false);

	cr_expect_not(e.d.diverged, "diverged");
	cr_expect_geq(e.d.pages_compared, NTHREADS * 16);
	cr_expect_eq(e.written_a, e.written_b, "A wrote %" PRIu64 " pages, B %" PRIu64, e.written_a,
		     e.written_b);
	cr_expect_eq(e.again, 0, "%" PRIu64 " pages written after the re-arm", e.again);
}

Test(divergence, same_copy_of_copy)
{
	struct epoch e = run_epoch(0, 16, true);

	cr_expect_not(e.d.diverged, "diverged");
	cr_expect_geq(e.d.pages_compared, NTHREADS * 16);
}

/* Nothing else than what the variant changes differs. */
static void
only(const struct ep_divergence *d, bool memory, bool mapping, bool thread)
{
	cr_expect(d->diverged);
	cr_expect_not(d->threads_differ);
	cr_expect_eq(d->mapping_differs, mapping, "mapping: %s", d->map_what);
	cr_expect_eq(d->pages_differ != 0, memory, "memory: %" PRIu64 " pages at 0x%" PRIx64,
		     d->pages_differ, d->mem_addr);
	cr_expect_eq(d->thread_differs, thread, "thread %zu: %s", d->thread, d->reg);
}

Test(divergence, byte)
{
	struct epoch e = run_epoch(1, 16, false);

	only(&e.d, true, false, false);
	cr_expect_eq(e.d.pages_differ, 1);
	cr_expect_eq(e.d.mem_addr, AREA_ADDR + (16 + 5) * 4096 + 123, "at 0x%" PRIx64, e.d.mem_addr);
	cr_expect_eq(e.d.mem_a, 31 + 5, "A: 0x%x", e.d.mem_a);
	cr_expect_eq(e.d.mem_b, e.d.mem_a ^ 0x5a, "B: 0x%x", e.d.mem_b);
}

Test(divergence, page_only_b_wrote)
{
	struct epoch e = run_epoch(7, 16, false);

	only(&e.d, true, false, false);
	cr_expect_eq(e.written_b, e.written_a + 1, "A %" PRIu64 " pages, B %" PRIu64, e.written_a,
		     e.written_b);
	cr_expect_eq(e.d.pages_differ, 1);
	cr_expect_eq(e.d.mem_addr & 0xfff, 100, "at 0x%" PRIx64, e.d.mem_addr);
	cr_expect_eq(e.d.mem_a, 0);
	cr_expect_eq(e.d.mem_b, 1);
}

/* Thread 1 differs in register @reg: @a in A, @b in B. */
static void
thread_reg(int variant, const char *reg, uint64_t a, uint64_t b)
{
	struct epoch e = run_epoch(variant, 16, false);

	only(&e.d, false, false, true);
	cr_expect_eq(e.d.thread, 1);
	cr_expect_str_eq(e.d.reg, reg);
	cr_expect_eq(e.d.reg_a, a, "%s in A: 0x%" PRIx64, reg, e.d.reg_a);
	cr_expect_eq(e.d.reg_b, b, "%s in B: 0x%" PRIx64, reg, e.d.reg_b);
}

Test(divergence, rax)
{
	thread_reg(2, "rax", 42, 43);
}

Test(divergence, xmm7)
{
	/* sum of 0.5 p for p < 16, + 7: 67 */
	thread_reg(3, "xmm7", 67, 68);
}

Test(divergence, sigmask)
{
	thread_reg(4, "sigmask", 0, 1ULL << (SIGUSR2 - 1));
}

Test(divergence, gs_base)
{
	thread_reg(5, "gs_base", 0, 0x12340000);
}

Test(divergence, mapping)
{
	struct epoch e = run_epoch(6, 16, false);

	only(&e.d, false, true, false);
	cr_expect_eq(e.d.map_start, MAP_ADDR, "at 0x%" PRIx64, e.d.map_start);
	cr_expect_eq(e.d.map_end, MAP_ADDR + 4096);
	cr_expect_str_eq(e.d.map_what, "in B only");
}

/* The check's cost for about @total written pages, best of @rounds. */
static void
cost(long total, int rounds)
{
	uint64_t best = UINT64_MAX, best_hash = 0, best_log = 0, pages = 0;

	for (int i = 0; i < rounds; i++) {
		struct epoch e = run_epoch(0, (total + NTHREADS - 1) / NTHREADS, false);

		cr_expect_not(e.d.diverged);
		if (e.d.total_ns < best) {
			best = e.d.total_ns;
			best_hash = e.d.hash_ns;
			best_log = e.log_ns;
			pages = e.d.pages_compared;
		}
		fini();
	}
	fprintf(stderr,
		"divergence check of %" PRIu64 " written pages: %.2f ms (%.2f us a page; hashing %.2f ms),"
		" the two dirty-log walks %.2f ms; best of %d\n",
		pages, best / 1e6, best / 1e3 / (double)pages, best_hash / 1e6, best_log / 1e6, rounds);
}

Test(divergence, cost_1000)
{
	cost(1000, 5);
}

Test(divergence, cost_100000)
{
	cost(100000, 3);
}
