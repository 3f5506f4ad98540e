/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the deterministic scheduler: round-robin order, timeslice
 * accounting, blocked and dead threads, wakeups, yields, removal, and the
 * empty cases.
 */
#include <criterion/criterion.h>

#include "sched/sched.h"

static struct sched *s;

static void
fini(void)
{
	sched_free(s);
	s = NULL;
}

TestSuite(sched, .fini = fini, .timeout = 10);

/* A scheduler with @timeslice and threads 101, 102, ... 100 + @n. */
static void
setup(uint32_t timeslice, unsigned n)
{
	s = sched_new(timeslice);
	cr_assert_not_null(s);
	for (unsigned i = 1; i <= n; i++)
		cr_assert_eq(sched_add(s, (pid_t)(100 + i)), 0);
}

/* The thread added after @tid among @n threads, wrapping around. */
static pid_t
next_of(pid_t tid, unsigned n)
{
	return (pid_t)(100 + (unsigned)(tid - 100) % n + 1);
}

/* Pick until @tid is current (at most one round). */
static void
pick_until(pid_t tid)
{
	for (unsigned k = 0; k < 64; k++)
		if (sched_pick(s) == tid)
			return;
	cr_assert_fail("thread %d never picked", tid);
}

Test(sched, pick_makes_current)
{
	pid_t t;

	setup(10, 3);
	cr_assert_eq(sched_current(s), 0, "nothing runs before the first pick");
	t = sched_pick(s);
	cr_assert(t >= 101 && t <= 103);
	cr_assert_eq(sched_current(s), t);
}

Test(sched, first_pick_is_first_added)
{
	setup(10, 3);
	cr_assert_eq(sched_pick(s), 101, "a fresh scheduler starts with the first thread added");
}

Test(sched, round_robin_order)
{
	pid_t prev, t;

	setup(10, 4);
	prev = sched_pick(s);
	for (int k = 0; k < 12; k++) {
		t = sched_pick(s);
		cr_assert_eq(t, next_of(prev, 4), "after %d came %d", prev, t);
		prev = t;
	}
}

Test(sched, single_thread_picked_again)
{
	setup(10, 1);
	cr_assert_eq(sched_pick(s), 101);
	cr_assert_eq(sched_pick(s), 101, "the current thread comes last, but it does come");
}

Test(sched, timeslice_counts_events)
{
	setup(3, 2);
	sched_pick(s);
	cr_assert_not(sched_event(s));
	cr_assert_not(sched_event(s));
	cr_assert(sched_event(s), "third event of a 3-event slice");
	/* a new pick starts a fresh slice */
	sched_pick(s);
	cr_assert_not(sched_event(s));
	cr_assert_not(sched_event(s));
	cr_assert(sched_event(s));
}

Test(sched, default_timeslice)
{
	setup(0, 2);
	sched_pick(s);
	for (int i = 1; i < SCHED_DEFAULT_TIMESLICE; i++)
		cr_assert_not(sched_event(s), "event %d", i);
	cr_assert(sched_event(s));
}

Test(sched, timeslice_needs_another_runnable)
{
	pid_t t, other;

	setup(2, 2);
	t = sched_pick(s);
	other = next_of(t, 2);
	sched_set_state(s, other, SCHED_BLOCKED);
	for (int i = 0; i < 10; i++)
		cr_assert_not(sched_event(s), "no switch while the other thread is blocked");
	sched_set_state(s, other, SCHED_RUNNABLE);
	cr_assert(sched_event(s), "slice long over and now another thread can run");
	cr_assert_eq(sched_pick(s), other);
}

Test(sched, alone_never_switches)
{
	setup(1, 1);
	sched_pick(s);
	for (int i = 0; i < 10; i++)
		cr_assert_not(sched_event(s));
}

Test(sched, dead_thread_is_not_another_runnable)
{
	pid_t t;

	setup(1, 2);
	t = sched_pick(s);
	sched_set_state(s, next_of(t, 2), SCHED_DEAD);
	cr_assert_not(sched_event(s));
	cr_assert_eq(sched_pick(s), t);
}

Test(sched, blocked_never_picked)
{
	setup(1, 3);
	sched_set_state(s, 102, SCHED_BLOCKED);
	cr_assert_eq(sched_state_of(s, 102), SCHED_BLOCKED);
	for (int k = 0; k < 9; k++)
		cr_assert_neq(sched_pick(s), 102);
	sched_set_state(s, 102, SCHED_RUNNABLE);
	pick_until(102);
}

Test(sched, blocking_the_current_thread)
{
	setup(10, 3);
	pick_until(102);
	sched_set_state(s, 102, SCHED_BLOCKED);
	cr_assert_eq(sched_current(s), 0, "a blocked thread is not current");
	cr_assert_not(sched_event(s), "no current thread, no event to count");
	cr_assert_eq(sched_pick(s), 103, "round robin goes on after the blocked thread");
}

Test(sched, yield_switches_at_next_event)
{
	setup(100, 2);
	sched_pick(s);
	cr_assert_not(sched_event(s));
	sched_yield_current(s);
	cr_assert(sched_event(s), "a yield ends the slice");
}

Test(sched, yield_alone_keeps_running)
{
	setup(100, 2);
	sched_set_state(s, 102, SCHED_BLOCKED);
	cr_assert_eq(sched_pick(s), 101);
	sched_yield_current(s);
	cr_assert_not(sched_event(s), "nobody to yield to");
	cr_assert_eq(sched_current(s), 101);
}

/* avoid() of the pick tests: the tids in the array @ctx (0-terminated) */
static bool
avoid_listed(void *ctx, pid_t tid)
{
	for (const pid_t *p = ctx; *p; p++)
		if (*p == tid)
			return true;
	return false;
}

Test(sched, pick_avoiding_passes_over_spinners)
{
	pid_t spinners[] = { 102, 103, 0 }, all[] = { 101, 102, 103, 104, 0 };

	setup(100, 4);
	pick_until(101);
	cr_assert_eq(sched_pick_avoiding(s, avoid_listed, spinners), 104,
		     "102 and 103 would only spin: 104 runs");
	cr_assert_eq(sched_pick_avoiding(s, avoid_listed, spinners), 101, "round robin goes on");
	cr_assert_eq(sched_pick_avoiding(s, avoid_listed, all), 102,
		     "all would spin: round robin as sched_pick()");
	cr_assert_eq(sched_pick_avoiding(s, NULL, NULL), 103, "no test: sched_pick()");
}

Test(sched, pick_avoiding_keeps_wakeups_first)
{
	pid_t spinners[] = { 103, 0 };

	setup(100, 4);
	sched_set_state(s, 103, SCHED_BLOCKED);
	pick_until(101);
	sched_wake(s, 103);
	cr_assert_eq(sched_pick_avoiding(s, avoid_listed, spinners), 103,
		     "a woken thread runs first whatever the test says");
}

Test(sched, woken_thread_ends_the_slice_and_runs_next)
{
	setup(100, 4);
	sched_set_state(s, 103, SCHED_BLOCKED);
	pick_until(101);
	cr_assert_not(sched_wakeup_pending(s));
	cr_assert_not(sched_event(s), "the slice is long");
	sched_wake(s, 103);
	cr_assert_eq(sched_state_of(s, 103), SCHED_RUNNABLE);
	cr_assert(sched_wakeup_pending(s));
	cr_assert(sched_event(s), "a woken thread ends the slice at the next event");
	cr_assert_eq(sched_pick(s), 103, "the woken thread runs first, not 102");
	cr_assert_not(sched_wakeup_pending(s), "it runs: nothing pending");
	cr_assert_eq(sched_pick(s), 104, "round robin goes on from it");
}

Test(sched, wakeups_run_in_the_order_they_came)
{
	setup(100, 4);
	sched_set_state(s, 102, SCHED_BLOCKED);
	sched_set_state(s, 104, SCHED_BLOCKED);
	pick_until(101);
	sched_wake(s, 104);
	sched_wake(s, 102);
	sched_wake(s, 104); /* a second wake keeps its place */
	cr_assert_eq(sched_pick(s), 104);
	cr_assert_eq(sched_pick(s), 102);
	cr_assert_not(sched_wakeup_pending(s));
}

Test(sched, woken_then_blocked_is_no_wakeup)
{
	setup(100, 3);
	sched_set_state(s, 102, SCHED_BLOCKED);
	pick_until(101);
	sched_wake(s, 102);
	sched_set_state(s, 102, SCHED_BLOCKED);
	cr_assert_not(sched_wakeup_pending(s));
	cr_assert_not(sched_event(s));
	sched_set_state(s, 102, SCHED_RUNNABLE);
	cr_assert_not(sched_wakeup_pending(s), "made runnable, not woken");
}

Test(sched, waking_the_current_thread_is_no_wakeup)
{
	setup(100, 2);
	pick_until(101);
	sched_wake(s, 101);
	cr_assert_not(sched_wakeup_pending(s));
	cr_assert_not(sched_event(s));
	sched_wake(s, 999); /* unknown: nothing happens */
	cr_assert_not(sched_wakeup_pending(s));
}

Test(sched, wakeups_do_not_starve_a_runnable_thread)
{
	int picks_of_103 = 0;

	/* 101 and 102 wake each other (a ping-pong through pipes); 103
	 * computes, runnable all along */
	setup(100, 3);
	pick_until(101);
	for (int k = 0; k < 4 * SCHED_STARVED_PICKS; k++) {
		pid_t cur = sched_current(s), other = cur == 101 ? 102 : 101;

		if (cur == 103) {
			picks_of_103++;
			cr_assert_not(sched_wakeup_pending(s), "wakeups wait for a starved thread");
			cr_assert_not(sched_event(s));
			sched_yield_current(s); /* its slice ends */
			sched_pick(s);
			continue;
		}
		sched_set_state(s, cur, SCHED_BLOCKED);
		sched_wake(s, other);
		sched_pick(s);
	}
	cr_assert(picks_of_103 >= 2 && picks_of_103 <= 8, "103 ran %d times", picks_of_103);
}

Test(sched, chaos_wakeups_only_make_runnable)
{
	setup(100, 3);
	sched_set_chaos(s, 42);
	sched_set_state(s, 102, SCHED_BLOCKED);
	sched_pick(s);
	sched_wake(s, 102);
	cr_assert_eq(sched_state_of(s, 102), SCHED_RUNNABLE);
	cr_assert_not(sched_wakeup_pending(s), "chaos mode: priorities decide");
}

Test(sched, nothing_runnable)
{
	s = sched_new(5);
	cr_assert_not_null(s);
	cr_assert_eq(sched_pick(s), 0, "empty scheduler");
	cr_assert_not(sched_event(s));
	for (pid_t t = 1; t <= 3; t++)
		cr_assert_eq(sched_add(s, t), 0);
	cr_assert_neq(sched_pick(s), 0);
	for (pid_t t = 1; t <= 3; t++)
		sched_set_state(s, t, SCHED_BLOCKED);
	cr_assert_eq(sched_pick(s), 0);
	cr_assert_eq(sched_current(s), 0);
	sched_set_state(s, 2, SCHED_RUNNABLE);
	cr_assert_eq(sched_pick(s), 2);
}

Test(sched, remove_current)
{
	setup(10, 3);
	pick_until(102);
	sched_remove(s, 102);
	cr_assert_eq(sched_current(s), 0, "the removed thread is no longer current");
	cr_assert_eq(sched_nthreads(s), 2);
	cr_assert_eq(sched_state_of(s, 102), SCHED_DEAD, "unknown threads read as dead");
	cr_assert_eq(sched_pick(s), 103, "round robin goes on after the removed thread");
}

Test(sched, remove_last_current_wraps)
{
	setup(10, 3);
	pick_until(103);
	sched_remove(s, 103);
	cr_assert_eq(sched_pick(s), 101);
}

Test(sched, remove_other_keeps_current)
{
	setup(10, 4);
	pick_until(103);
	sched_remove(s, 101);
	cr_assert_eq(sched_current(s), 103, "removing an earlier thread keeps the current one");
	sched_remove(s, 104);
	cr_assert_eq(sched_current(s), 103);
	sched_remove(s, 999); /* unknown: nothing happens */
	cr_assert_eq(sched_current(s), 103);
	cr_assert_eq(sched_nthreads(s), 2);
	cr_assert_eq(sched_pick(s), 102);
	cr_assert_eq(sched_pick(s), 103);
}

Test(sched, remove_before_blocked_current_keeps_order)
{
	setup(10, 4);
	pick_until(103);
	sched_set_state(s, 103, SCHED_BLOCKED);
	sched_remove(s, 101);
	cr_assert_eq(sched_pick(s), 104, "round robin goes on after the blocked thread");
}

Test(sched, remove_only_thread)
{
	setup(10, 1);
	cr_assert_eq(sched_pick(s), 101);
	sched_remove(s, 101);
	cr_assert_eq(sched_current(s), 0);
	cr_assert_eq(sched_nthreads(s), 0);
	cr_assert_eq(sched_pick(s), 0);
	cr_assert_eq(sched_add(s, 7), 0);
	cr_assert_eq(sched_pick(s), 7);
}

Test(sched, nthreads_counts_live_threads)
{
	setup(10, 3);
	cr_assert_eq(sched_nthreads(s), 3);
	sched_set_state(s, 101, SCHED_BLOCKED);
	cr_assert_eq(sched_nthreads(s), 3, "blocked threads still exist");
	sched_set_state(s, 102, SCHED_DEAD);
	cr_assert_eq(sched_nthreads(s), 2);
	cr_assert_eq(sched_state_of(s, 102), SCHED_DEAD);
	sched_remove(s, 102);
	cr_assert_eq(sched_nthreads(s), 2);
	sched_remove(s, 103);
	cr_assert_eq(sched_nthreads(s), 1);
}

Test(sched, many_threads)
{
	pid_t prev, t;

	setup(1, 100);
	cr_assert_eq(sched_nthreads(s), 100);
	prev = sched_pick(s);
	for (int k = 0; k < 250; k++) {
		t = sched_pick(s);
		cr_assert_eq(t, next_of(prev, 100));
		prev = t;
	}
}

Test(sched, free_null)
{
	sched_free(NULL);
}

/* The picks of a chaos scheduler seeded with @seed over 4 threads, one of
 * them (104) blocked; also checks each slice's length. */
static void
chaos_picks(uint64_t seed, pid_t *picks, size_t n)
{
	setup(50, 4);
	sched_set_chaos(s, seed);
	sched_set_state(s, 104, SCHED_BLOCKED);
	for (size_t i = 0; i < n; i++) {
		picks[i] = sched_pick(s);
		cr_assert(picks[i] >= 101 && picks[i] <= 103, "picked %d", picks[i]);
		cr_assert(sched_timeslice_ns(s) >= 50000 &&
			  sched_timeslice_ns(s) < 50000 + 2 * SCHED_DEFAULT_TIMESLICE_NS);
	}
	sched_free(s);
	s = NULL;
}

Test(sched, chaos_is_reproducible_and_not_round_robin)
{
	pid_t a[200], b[200], c[200];
	unsigned repeats = 0, runs[4] = { 0 };

	chaos_picks(7, a, ARRAY_SIZE(a));
	chaos_picks(7, b, ARRAY_SIZE(b));
	chaos_picks(8, c, ARRAY_SIZE(c));
	cr_assert_arr_eq(a, b, sizeof(a), "the same seed must give the same schedule");
	cr_assert(memcmp(a, c, sizeof(a)) != 0, "another seed gave the same 200 picks");
	for (size_t i = 1; i < ARRAY_SIZE(a); i++) {
		repeats += a[i] == a[i - 1];
		runs[a[i] - 101]++;
	}
	/* round robin never picks the same thread twice in a row while others
	 * are runnable; priorities do, and are re-drawn so that all run */
	cr_assert_gt(repeats, 50, "only %u repeated picks", repeats);
	for (int t = 0; t < 3; t++)
		cr_assert_gt(runs[t], 0, "thread %d never ran", 101 + t);
}

Test(sched, chaos_slices_end_at_the_next_event_half_the_time)
{
	unsigned one = 0;

	setup(50, 2);
	sched_set_chaos(s, 3);
	for (int k = 0; k < 400; k++) {
		sched_pick(s);
		one += sched_event(s); /* true: the slice was one event long */
	}
	cr_assert(one > 120 && one < 280, "%u of 400 slices were one event long", one);
}

Test(sched, chaos_events_only_in_chaos_mode)
{
	setup(1, 2);
	sched_pick(s);
	cr_assert_not(sched_chaos_event(s), "a syscall exit is no switch point outside chaos mode");
	sched_set_chaos(s, 5);
	sched_pick(s);
	int k = 0;

	while (k < 200 && !sched_chaos_event(s))
		k++;
	cr_assert_lt(k, 200, "a chaos slice never ended at a syscall exit");
}
