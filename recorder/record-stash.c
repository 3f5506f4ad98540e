/* SPDX-License-Identifier: MIT */
/*
 * Two recorders in one thread of uprr (lock-step, tp/lockstep.h): a TP run
 * and the EP run that goes along with it, each with its own event loop,
 * one suspended while the other runs. Both wait with waitpid(-1): one may
 * be told of the other's tracee (a thread killed from outside, one whose
 * live wait ended while its run stood still). Such an event is kept here
 * and handed to its recorder when its loop waits next, in the order it
 * came. With one recorder, waitpid(-1) as ever.
 */
#define LOG_PREFIX "record"
#include <errno.h>
#include <stdio.h>
#include <sys/wait.h>

#include "common/log.h"
#include "recorder/record-private.h"

/* The recorders whose loops run in this thread. */
static struct recorder *active[2];

/* Events kept for the recorder whose tracee they are. */
#define STASH_MAX 1024
static struct {
	struct recorder *rec;
	pid_t tid;
	int status;
} stash[STASH_MAX];
static size_t nstash;

static const struct rec_overlap *overlap;

/* Each active recorder's loop, suspended in rec_wait_any() while the
 * other runs (overlap): when its timer is due (0: none). */
static bool suspended[2];
static uint64_t due_ns[2];

void
rec_stash_enter(struct recorder *rec)
{
	for (size_t i = 0; i < ARRAY_SIZE(active); i++)
		if (!active[i]) {
			active[i] = rec;
			return;
		}
	log_warn("%s", "more than two recorders in one thread: events may go astray");
}

void
rec_stash_leave(struct recorder *rec)
{
	size_t j = 0;

	for (size_t i = 0; i < ARRAY_SIZE(active); i++)
		if (active[i] == rec) {
			active[i] = NULL;
			suspended[i] = false;
			due_ns[i] = 0;
		}
	for (size_t i = 0; i < nstash; i++)
		if (stash[i].rec != rec)
			stash[j++] = stash[i];
	nstash = j;
}

/* Line @key ("Tgid", "PPid") of /proc/@tid/status, 0 if unknown. */
static pid_t
status_id(pid_t tid, const char *key)
{
	pid_t v;

	return tracee_status_id(tid, key, &v) == 0 ? v : 0;
}

/* Whether @tid is @rec's tracee: a thread it knows, or one of a process it
 * knows, or a process a process of it forked (its event before the fork's). */
static bool
owns(struct recorder *rec, pid_t tid)
{
	pid_t tgid;

	if (rec_find_thread(rec, tid))
		return true;
	tgid = status_id(tid, "Tgid");
	if (tgid && rec_find_thread(rec, tgid))
		return true;
	tgid = tgid ? status_id(tgid, "PPid") : 0;
	return tgid && rec_find_thread(rec, tgid);
}

bool
rec_stash_others(const struct recorder *rec)
{
	for (size_t i = 0; i < ARRAY_SIZE(active); i++)
		if (active[i] && active[i] != rec)
			return true;
	return false;
}

void
rec_overlap_set(const struct rec_overlap *ov)
{
	overlap = ov;
}

static int
slot_of(const struct recorder *rec)
{
	for (int i = 0; i < (int)ARRAY_SIZE(active); i++)
		if (active[i] == rec)
			return i;
	return -1;
}

static bool
has_stash(const struct recorder *rec)
{
	for (size_t i = 0; i < nstash; i++)
		if (stash[i].rec == rec)
			return true;
	return false;
}

/* The other active recorder's slot, -1: none. */
static int
other_slot(const struct recorder *rec)
{
	for (int i = 0; i < (int)ARRAY_SIZE(active); i++)
		if (active[i] && active[i] != rec)
			return i;
	return -1;
}

/* Overlap: whether the loop suspended while @rec's runs has something to
 * do now. */
static bool
other_due(const struct recorder *rec, uint64_t now)
{
	int o = other_slot(rec);

	if (!overlap)
		return false;
	if (o >= 0 && suspended[o] && (has_stash(active[o]) || (due_ns[o] && now >= due_ns[o])))
		return true;
	return overlap->wants(overlap->arg);
}

/* Overlap: @rec's loop, which would wait @wait_ns at most (0: no bound),
 * gives this thread to the other till it swaps back. */
static void
swap_out(const struct recorder *rec, uint64_t wait_ns)
{
	int me = slot_of(rec);

	if (me >= 0) {
		suspended[me] = true;
		due_ns[me] = wait_ns ? util_now_ns() + wait_ns : 0;
	}
	overlap->to_other(overlap->arg);
	if (me >= 0)
		suspended[me] = false;
}

/* Overlap: the next thread with an event, left waitable (waitid(2)
 * WNOWAIT), waited for if @block: 0 when it is the other run's and its
 * loop, suspended, takes it (it waits for its own threads by id too: one
 * consumed here and kept would leave such a wait for ever); else its id,
 * for the caller to take, or -1 (errno; none yet without @block). */
static pid_t
peek(struct recorder *rec, bool block)
{
	siginfo_t si = { 0 };
	int o;

	if (waitid(P_ALL, 0, &si, WEXITED | WNOWAIT | __WALL | (block ? 0 : WNOHANG)) < 0)
		return -1;
	if (!si.si_pid) {
		errno = EAGAIN; /* WNOHANG: none yet */
		return -1;
	}
	o = other_slot(rec);
	if (o >= 0 && suspended[o] && !rec_find_thread(rec, si.si_pid) && owns(active[o], si.si_pid))
		return 0;
	return si.si_pid;
}

bool
rec_stash_own_pending(struct recorder *rec)
{
	return overlap && peek(rec, false) > 0;
}

pid_t
rec_wait_any(struct recorder *rec, uint64_t wait_ns, int *ret_status)
{
	struct recorder *other = NULL;
	uint64_t timer_ns = wait_ns;
	pid_t tid;
	int o;

	for (size_t i = 0; i < nstash; i++) {
		if (stash[i].rec != rec)
			continue;
		tid = stash[i].tid;
		*ret_status = stash[i].status;
		for (size_t j = i + 1; j < nstash; j++)
			stash[j - 1] = stash[j];
		nstash--;
		return tid;
	}
	if (!overlap) {
		rec_set_timer(timer_ns);
		tid = waitpid(-1, ret_status, __WALL);
		if (timer_ns)
			rec_set_timer(0);
	} else {
		uint64_t now = util_now_ns();

		/* its own events first: the other's timers (an EP run's
		 * slices) would else keep them waiting */
		tid = peek(rec, false);
		if (tid < 0 && errno != ECHILD && !other_due(rec, now)) {
			/* woken for the other's timer too */
			o = other_slot(rec);
			if (o >= 0 && suspended[o] && due_ns[o]) {
				uint64_t left = due_ns[o] > now ? due_ns[o] - now : 1;

				timer_ns = timer_ns ? MIN(timer_ns, left) : left;
			}
			rec_set_timer(timer_ns);
			tid = peek(rec, true);
			if (timer_ns)
				rec_set_timer(0);
		}
		/* the other's (left waitable for its loop: its waits for that
		 * thread by id find it there), or its timer, or more for it */
		if (tid == 0 || (tid < 0 && errno != ECHILD && other_due(rec, util_now_ns()))) {
			swap_out(rec, wait_ns);
			errno = EINTR;
			return -1;
		}
		if (tid > 0)
			tid = waitpid(tid, ret_status, __WALL);
	}
	if (tid <= 0)
		return tid;
	o = other_slot(rec);
	other = o >= 0 ? active[o] : NULL;
	if (!other || rec_find_thread(rec, tid) || !owns(other, tid))
		return tid;
	if (nstash == STASH_MAX) {
		log_warn("thread %d: an event of the other run lost (%zu kept)", tid, nstash);
	} else {
		stash[nstash].rec = other;
		stash[nstash].tid = tid;
		stash[nstash++].status = *ret_status;
	}
	if (other_due(rec, util_now_ns()))
		swap_out(rec, wait_ns);
	errno = EINTR;
	return -1;
}
