/* SPDX-License-Identifier: MIT */
#define LOG_PREFIX "sched"
#include "sched/sched.h"

#include <errno.h>

#include "common/log.h"

struct sched_thread {
	pid_t tid;
	enum sched_state state;
	uint32_t priority; /* chaos mode: higher runs first */
	uint64_t woken;	   /* when it woke (sched_wake()), 0: not waiting so */
	uint64_t picked;   /* the pick that last made it current */
};

struct sched {
	struct sched_thread *threads; /* round-robin order */
	size_t n, cap;
	size_t current; /* index of the last thread picked; SIZE_MAX before any */
	bool has_current;
	uint32_t timeslice;
	uint32_t used; /* events the current thread ran in this slice */
	uint32_t slice; /* events in this slice */
	uint64_t slice_ns;
	bool chaos;
	uint64_t rng; /* xorshift64 state, chaos mode */
	uint64_t wakeups; /* sched_wake() calls: the order threads woke in */
	uint64_t picks;	  /* threads made current so far */
	bool starved;	  /* the current thread was picked for having waited
			   * SCHED_STARVED_PICKS picks: wakeups wait for it */
};

static uint64_t
next_random(struct sched *s)
{
	/* xorshift64 (Marsaglia 2003): cheap, and reproducible from the seed */
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return s->rng;
}

struct sched *
sched_new(uint32_t timeslice)
{
	struct sched *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->timeslice = timeslice ? timeslice : SCHED_DEFAULT_TIMESLICE;
	s->slice = s->timeslice;
	s->slice_ns = SCHED_DEFAULT_TIMESLICE_NS;
	s->current = SIZE_MAX; /* the first pick starts at index 0 */
	return s;
}

void
sched_free(struct sched *s)
{
	if (!s)
		return;
	free(s->threads);
	free(s);
}

static ssize_t
index_of(const struct sched *s, pid_t tid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->threads[i].tid == tid)
			return (ssize_t)i;
	return -1;
}

int
sched_add(struct sched *s, pid_t tid)
{
	if (UTIL_GROW(s->threads, s->cap, s->n + 1) < 0)
		return -ENOMEM;
	s->threads[s->n++] = (struct sched_thread){ tid, SCHED_RUNNABLE,
						    s->chaos ? (uint32_t)next_random(s) : 0, 0, s->picks };
	return 0;
}

void
sched_remove(struct sched *s, pid_t tid)
{
	ssize_t i = index_of(s, tid);

	if (i < 0)
		return;
	if (s->has_current && (size_t)i == s->current)
		s->has_current = false;
	/* keep the round-robin position: the next pick starts after the
	 * removed thread's place */
	if (s->current != SIZE_MAX && (size_t)i <= s->current)
		s->current = s->current == 0 ? SIZE_MAX : s->current - 1;
	memmove(&s->threads[i], &s->threads[i + 1], (s->n - (size_t)i - 1) * sizeof(*s->threads));
	s->n--;
}

void
sched_rename(struct sched *s, pid_t old_tid, pid_t new_tid)
{
	ssize_t i = index_of(s, old_tid);

	if (i >= 0)
		s->threads[i].tid = new_tid;
}

void
sched_set_state(struct sched *s, pid_t tid, enum sched_state state)
{
	ssize_t i = index_of(s, tid);

	if (i < 0)
		return;
	s->threads[i].state = state;
	if (state != SCHED_RUNNABLE)
		s->threads[i].woken = 0;
	if (state != SCHED_RUNNABLE && s->has_current && (size_t)i == s->current)
		s->has_current = false;
}

void
sched_wake(struct sched *s, pid_t tid)
{
	ssize_t i = index_of(s, tid);

	if (i < 0)
		return;
	s->threads[i].state = SCHED_RUNNABLE;
	if (!s->chaos && !s->threads[i].woken && !(s->has_current && (size_t)i == s->current))
		s->threads[i].woken = ++s->wakeups;
}

/* The index of the thread that woke first and still waits, or -1. */
static ssize_t
first_woken(const struct sched *s)
{
	ssize_t best = -1;

	for (size_t i = 0; i < s->n; i++)
		if (s->threads[i].woken && s->threads[i].state == SCHED_RUNNABLE &&
		    !(s->has_current && i == s->current) &&
		    (best < 0 || s->threads[i].woken < s->threads[best].woken))
			best = (ssize_t)i;
	return best;
}

bool
sched_wakeup_pending(const struct sched *s)
{
	return !(s->has_current && s->starved) && first_woken(s) >= 0;
}

/* The runnable thread that has waited longest, if it waited
 * SCHED_STARVED_PICKS picks or more (woken threads kept running others,
 * a ping-pong between two threads through pipes), else -1. */
static ssize_t
most_starved(const struct sched *s)
{
	ssize_t best = -1;

	for (size_t i = 0; i < s->n; i++)
		if (s->threads[i].state == SCHED_RUNNABLE && !s->threads[i].woken &&
		    s->picks - s->threads[i].picked >= SCHED_STARVED_PICKS &&
		    (best < 0 || s->threads[i].picked < s->threads[best].picked))
			best = (ssize_t)i;
	return best;
}

enum sched_state
sched_state_of(const struct sched *s, pid_t tid)
{
	ssize_t i = index_of(s, tid);

	return i < 0 ? SCHED_DEAD : s->threads[i].state;
}

pid_t
sched_current(const struct sched *s)
{
	return s->has_current ? s->threads[s->current].tid : 0;
}

static bool
other_runnable(const struct sched *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->threads[i].state == SCHED_RUNNABLE && (!s->has_current || i != s->current))
			return true;
	return false;
}

bool
sched_event(struct sched *s)
{
	if (!s->has_current)
		return false;
	s->used++;
	return (s->used >= s->slice && other_runnable(s)) || sched_wakeup_pending(s);
}

bool
sched_chaos_event(struct sched *s)
{
	return s->chaos && sched_event(s);
}

void
sched_yield_current(struct sched *s)
{
	s->used = s->slice;
}

bool
sched_others_runnable(const struct sched *s)
{
	return other_runnable(s);
}

uint64_t
sched_timeslice_ns(const struct sched *s)
{
	return s->slice_ns;
}

void
sched_set_chaos(struct sched *s, uint64_t seed)
{
	s->chaos = true;
	s->rng = seed | 1;
	for (size_t i = 0; i < s->n; i++)
		s->threads[i].priority = (uint32_t)next_random(s);
}

/* Chaos mode: now and then new priorities; a slice of 1 to 2x the usual
 * events and from 0.05 ms to 2x the usual time. */
static void
chaos_draw(struct sched *s)
{
	if (next_random(s) % 8 == 0)
		for (size_t i = 0; i < s->n; i++)
			s->threads[i].priority = (uint32_t)next_random(s);
	/* half the slices end at the next event */
	s->slice = next_random(s) % 2 ? 1 : 1 + (uint32_t)(next_random(s) % (2 * s->timeslice));
	s->slice_ns = 50000 + next_random(s) % (2 * SCHED_DEFAULT_TIMESLICE_NS);
}

/* Thread @i runs next, with a fresh timeslice. */
static pid_t
make_current(struct sched *s, size_t i)
{
	s->current = i;
	s->has_current = true;
	s->used = 0;
	s->threads[i].woken = 0;
	s->threads[i].picked = ++s->picks;
	s->starved = false;
	return s->threads[i].tid;
}

pid_t
sched_pick(struct sched *s)
{
	return sched_pick_avoiding(s, NULL, NULL);
}

pid_t
sched_pick_avoiding(struct sched *s, bool (*avoid)(void *ctx, pid_t tid), void *ctx)
{
	size_t start = s->current + 1; /* round robin from the last one that ran */
	ssize_t best = -1, useful = -1;

	s->has_current = false;
	if (s->chaos)
		chaos_draw(s);
	/* a thread whose syscall completed meanwhile runs first, unless
	 * wakeups kept another waiting too long: that one gets a timeslice
	 * that wakeups do not cut short */
	if (!s->chaos && (best = most_starved(s)) >= 0) {
		make_current(s, (size_t)best);
		s->starved = true;
		return s->threads[best].tid;
	}
	best = first_woken(s);
	if (best >= 0)
		return make_current(s, (size_t)best);
	/* the first runnable thread in round-robin order; in chaos mode the
	 * first of those of highest priority (all are 0 otherwise) */
	for (size_t k = 0; k < s->n; k++) {
		size_t i = (start + k) % s->n;

		if (s->threads[i].state != SCHED_RUNNABLE)
			continue;
		if (best < 0 || s->threads[i].priority > s->threads[best].priority)
			best = (ssize_t)i;
		if (useful < 0 && avoid && !s->chaos && !avoid(ctx, s->threads[i].tid))
			useful = (ssize_t)i;
	}
	if (useful >= 0)
		best = useful;
	if (best < 0)
		return 0;
	return make_current(s, (size_t)best);
}

pid_t
sched_hand_over(struct sched *s, pid_t tid)
{
	ssize_t i = index_of(s, tid);

	if (s->chaos || i < 0 || s->threads[i].state != SCHED_RUNNABLE)
		return sched_pick(s);
	return make_current(s, (size_t)i);
}

unsigned
sched_nthreads(const struct sched *s)
{
	unsigned n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += s->threads[i].state != SCHED_DEAD;
	return n;
}
