/* SPDX-License-Identifier: MIT */
/*
 * The total order of the syscalls that touch kernel state threads and
 * processes share (doc/uniparallel.md, "The order of shared-state calls";
 * which calls: sc_order()).
 *
 * TP run: each ordered call that returns gets the next global number, in
 * the log's syscall exit event (values[6], trace-format.md). The supervisor
 * sees exits, not the kernel's order inside two calls in the kernel at
 * once; so an SC_ORDER_ONE call runs while no other is in the kernel: one
 * that comes to its entry meanwhile is held there (SCHED_BLOCKED, which
 * record-tp.c's pass leaves alone) until that one's exit. A call that may
 * wait for another thread's (SC_ORDER_EXIT: a read of a pipe until a
 * write) is numbered at its exit only and holds no one up: holding it, or
 * holding the write it waits for, could deadlock. A holder that stays in
 * the kernel more than ORDER_HOLD_NS (a write into a full pipe whose
 * reader must first make an ordered call) is let go of: the calls it held
 * run beside it, numbered by their exits (counted: `expired`).
 *
 * EP run: a call whose log number is s runs once the numbers below s that
 * any thread came with have run: a thread that comes early is held at its
 * entry (SCHED_BLOCKED: sched/ does not pick it, as a thread an emulated
 * tracer holds) and made runnable when the number before it has gone. A
 * number no thread comes with (the log's call was folded into a buffered
 * record, or its thread never gets there) must not hang the run: when only
 * order waiters are left for ORDER_STUCK_NS, the lowest waiting number goes
 * (counted: `skipped`). A thread that comes later with a number below one
 * already let go cannot follow the log's order: a divergence.
 */
#define LOG_PREFIX "record-order"
#include <inttypes.h>
#include <linux/sched.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "ep/ep.h"
#include "recorder/record-private.h"
#include "sched/sched.h"
#include "syscalls/syscalls.h"

/* How long an SC_ORDER_ONE call may hold the others at their entries. */
#define ORDER_HOLD_NS 2000000ull
/* How long an EP run waits, with only order waiters left (every other
 * thread sleeps in the kernel), before the lowest number goes. */
#define ORDER_STUCK_NS 20000000ull
/* The syscall exit event's value that holds the number (trace-format.md). */
#define ORDER_VALUE 6

static void
hold(struct recorder *rec, struct rthread *t)
{
	t->state = RT_AT_ENTRY;
	if (!t->order_wait)
		rec->order.waits++;
	t->order_wait = true;
	sched_set_state(rec->sched, t->tid, SCHED_BLOCKED);
}

static void
release(struct recorder *rec, struct rthread *t)
{
	t->order_wait = false;
	sched_set_state(rec->sched, t->tid, SCHED_RUNNABLE);
}

/* TP run: let every held thread go; the first to come back takes the turn. */
static void
release_all(struct recorder *rec)
{
	for (size_t i = 0; i < rec->nthreads; i++)
		if (rec->threads[i].order_wait)
			release(rec, &rec->threads[i]);
}

/*
 * Whether thread @tid sleeps in the kernel (proc(5): /proc/PID/stat's state
 * S or D), not stopped at an event uprr has yet to take (t) or running (R):
 * a futex waiter the last call woke may not have reported its return yet.
 */
static bool
sleeps(pid_t tid)
{
	char path[64], buf[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", tid);
	f = fopen(path, "re");
	if (!f)
		return true; /* gone: its end comes through the loop */
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	return !p || (p[1] == ' ' && (p[2] == 'S' || p[2] == 'D'));
}

/* Whether no thread of an EP run but the order's waiters can go on. */
static bool
only_waiters_left(struct recorder *rec)
{
	for (size_t i = 0; i < rec->nthreads; i++) {
		const struct rthread *u = &rec->threads[i];

		if (u->order_wait)
			continue;
		if (sched_state_of(rec->sched, u->tid) == SCHED_RUNNABLE ||
		    (u->state == RT_IN_SYSCALL && !sleeps(u->tid)))
			return false;
	}
	return true;
}

/* The log's number of @t's call in an EP run, 0: none. */
static uint64_t
log_number(const struct rthread *t)
{
	const struct ep_call *c = t->ep_call;

	return c && c->exited && c->nvalues > ORDER_VALUE ? c->values[ORDER_VALUE] : 0;
}

/* EP run: the numbers of vfork parents that returned early go once those
 * below them have; then the thread with the next number goes, if it waits
 * already. */
static void
advance(struct recorder *rec)
{
	struct rec_order *o = &rec->order;

	for (uint32_t i = 0; i < o->ndone;) {
		if (o->done[i] > o->seq + 1) {
			i++;
			continue;
		}
		if (o->done[i] == o->seq + 1)
			o->seq++;
		o->done[i] = o->done[--o->ndone];
		i = 0;
	}
	for (size_t i = 0; i < rec->nthreads; i++) {
		struct rthread *u = &rec->threads[i];

		if (u->order_wait && u->order_seq == o->seq + 1)
			release(rec, u);
	}
}

static bool
ep_issue(struct recorder *rec, struct rthread *t)
{
	uint64_t s = log_number(t);

	rec->order.stuck_ns = 0;
	if (!s)
		return false;
	/* the same call again, the kernel restarting it (rec_ep_exit()): its
	 * number went at its first entry */
	if (s == t->order_went)
		return false;
	if (s <= rec->order.seq) {
		char why[160];

		snprintf(why, sizeof(why),
			 "it is number %" PRIu64 " of the log's order of shared-state calls, "
			 "and %" PRIu64 " went already",
			 s, rec->order.seq);
		rec_ep_diverge(rec, t, why);
		return true;
	}
	if (s != rec->order.seq + 1) {
		if (sc_is_clone((long)t->nr) && (sc_clone_flags((long)t->nr, t->args) & CLONE_VFORK) &&
		    rec->order.ndone < ARRAY_SIZE(rec->order.done)) {
			/* A vfork parent's number is its exit's, after its
			 * child's exec (SC_ORDER_EXIT): the child's ordered
			 * calls before it (make's child dup2s its descriptors)
			 * have numbers below it. Held here, it would wait for
			 * the child it creates; it goes, and its number counts
			 * as gone once it returns and those below it have. */
			t->order_flight = s;
			t->order_wait = false;
			return false;
		}
		t->order_seq = s;
		hold(rec, t);
		return true;
	}
	rec->order.seq = s;
	t->order_went = s;
	t->order_wait = false;
	advance(rec);
	return false;
}

bool
rec_order_issue(struct recorder *rec, struct rthread *t)
{
	struct rthread *h;

	if (rec->ep)
		return ep_issue(rec, t);
	if (rec_serial(rec))
		return false; /* UP recording: one thread at a time already */
	t->order_kind = (uint8_t)sc_order((long)t->nr, t->args);
	if (t->order_kind != SC_ORDER_ONE)
		return false;
	/* the holder's turn lasts until its exit is numbered (a thread that
	 * went on from its exit stop first would be numbered after a call
	 * that ran later), or its bound (rec_order_due()) */
	h = rec->order.holder ? rec_find_thread(rec, rec->order.holder) : NULL;
	if (h && h != t) {
		hold(rec, t);
		return true;
	}
	t->order_wait = false;
	rec->order.holder = t->tid;
	rec->order.holder_ns = util_now_ns();
	return false;
}

void
rec_order_exit(struct recorder *rec, struct rthread *t, int64_t result, struct trace_event *ev)
{
	uint8_t kind = t->order_kind;
	struct rthread *h;
	uint64_t n;

	if (rec->ep && t->order_flight) {
		rec->order.done[rec->order.ndone++] = t->order_flight;
		t->order_flight = 0;
		advance(rec);
	}
	if (rec_serial(rec) || rec->ep)
		return;
	t->order_kind = SC_ORDER_NONE;
	if (rec->order.holder == t->tid) {
		rec->order.holder = 0;
		release_all(rec);
	}
	/* an exit the kernel restarts is not the call's end (the EP run's log
	 * reader folds it into its restart, ep_log_open()); a number kept for
	 * it is dropped (a call the kernel restarts put no bytes anywhere: a
	 * gap the EP run jumps over) */
	if (kind != SC_ORDER_NONE && sc_result_restarts(result))
		t->order_rsv = 0;
	if (kind == SC_ORDER_NONE || sc_result_restarts(result))
		return;
	if (t->order_rsv) {
		n = t->order_rsv;
		t->order_rsv = 0;
	} else {
		h = rec->order.holder ? rec_find_thread(rec, rec->order.holder) : NULL;
		/* A read (SC_ORDER_EXIT) that returns while a holder's call
		 * is in the kernel (a write into a pipe, block_in_kernel())
		 * may have taken bytes that call put there before its exit
		 * is numbered: the holder's call gets the next number now,
		 * kept until its exit, and the read the one after. The EP
		 * run then makes the read after the write whose bytes it
		 * returned. Nothing the holder did before its entry waits
		 * for the read; its call itself is answered from the log in
		 * the EP run and waits for nothing. */
		if (kind == SC_ORDER_EXIT && h && h != t && !h->order_rsv) {
			h->order_rsv = ++rec->order.seq;
			rec->order.reserved++;
		}
		n = ++rec->order.seq;
	}
	for (uint32_t i = ev->nvalues; i < ORDER_VALUE; i++)
		ev->values[i] = 0; /* 0 in every other value means none */
	ev->values[ORDER_VALUE] = n;
	ev->nvalues = ORDER_VALUE + 1;
}

bool
rec_order_due(struct recorder *rec, uint64_t *wait_ns)
{
	struct rthread *low = NULL;
	uint64_t now = util_now_ns();
	bool waiting = false;

	for (size_t i = 0; i < rec->nthreads; i++) {
		struct rthread *u = &rec->threads[i];

		if (!u->order_wait)
			continue;
		waiting = true;
		if (!low || u->order_seq < low->order_seq)
			low = u;
	}
	if (!waiting)
		return false;
	if (!rec->ep) {
		struct rthread *h = rec->order.holder ? rec_find_thread(rec, rec->order.holder) : NULL;

		/* a holder that vanished (killed in its call) has no turn */
		if (h && now - rec->order.holder_ns < ORDER_HOLD_NS) {
			uint64_t left = ORDER_HOLD_NS - (now - rec->order.holder_ns);

			if (!*wait_ns || left < *wait_ns)
				*wait_ns = left;
			return false;
		}
		if (h)
			rec->order.expired++;
		rec->order.holder = 0;
		release_all(rec);
		return true;
	}
	if (!rec->order.stuck_ns || !only_waiters_left(rec))
		rec->order.stuck_ns = now;
	if (now - rec->order.stuck_ns < ORDER_STUCK_NS) {
		uint64_t left = ORDER_STUCK_NS - (now - rec->order.stuck_ns);

		if (!*wait_ns || left < *wait_ns)
			*wait_ns = left;
		return false;
	}
	rec->order.stuck_ns = 0;
	log_debug("EP order: no thread came with numbers %" PRIu64 "-%" PRIu64 "; thread %d goes",
		  rec->order.seq + 1, low->order_seq - 1, low->tid);
	rec->order.skipped += low->order_seq - 1 - rec->order.seq;
	rec->order.seq = low->order_seq - 1;
	release(rec, low);
	return true;
}

void
rec_order_log_stats(const struct recorder *rec)
{
	if (rec->ep)
		log_info("EP run: %" PRIu64 " shared-state calls in the log's order; %" PRIu64
			 " held at their entry for it; %" PRIu64 " numbers no thread came with",
			 rec->order.seq, rec->order.waits, rec->order.skipped);
	else if (!rec_serial(rec))
		log_info("TP run: %" PRIu64 " shared-state calls numbered; %" PRIu64
			 " held at their entry while another was in the kernel; %" PRIu64
			 " holders let go of after %llu ms; %" PRIu64
			 " holders' numbers kept below a read's",
			 rec->order.seq, rec->order.waits, rec->order.expired,
			 ORDER_HOLD_NS / 1000000ull, rec->order.reserved);
}
