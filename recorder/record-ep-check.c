/* SPDX-License-Identifier: MIT */
/*
 * The EP run's checks of its epochs (doc/uniparallel.md, "EP runs"): each
 * thread stops at its end of the epoch, and when all have, each process is
 * compared with the TP run's checkpoint that ends the epoch.
 */
#define LOG_PREFIX "record"
#include <asm/unistd.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/dirty.h"
#include "checkpoint/process.h"
#include "common/log.h"
#include "ep/divergence.h"
#include "ep/ep.h"
#include "recorder/record-private.h"
#include "syscalls/syscalls.h"
#include "trace/trace.h"
#include "tracee/tracee.h"
#include "x86_64/arch.h"

/* ---- the epochs' checks (doc/uniparallel.md, "uprr record --mode=tp") ----
 *
 * With the TP run's checkpoints at hand (rec_options.ep_checkpoints), the
 * epoch that checkpoint k of the log ends (epoch k - 1) is checked when
 * every thread ended it at a syscall: each thread of the EP run stops at
 * its end (rec_ep_park()), the same call after the same matched calls,
 * where sched/ passes it over; when all have, each process is compared
 * with its checkpoint k (ep_check_divergence()) and the verdict goes into
 * the trace (TRACE_EV_EPOCH). The EP run goes on either way: its execution
 * is valid, the trace holds it.
 */

/* How long threads may stand parked while the others cannot run (blocked
 * for good, or gone past their ends unseen) before the epoch is left
 * unchecked. */
#define EP_STALL_NS 200000000ull

/* Lock-step: how many epochs of the TP run such threads may wait for. */
#define EP_STALL_ROUNDS 2

void
rec_ep_checks(struct recorder *rec, const struct rec_ep_checkpoints *ckpts,
	      struct rec_ep_verdicts *verdicts)
{
	struct rec_ep *ep = rec->ep;

	ep->ckpts = ckpts && ckpts->find ? ckpts : NULL;
	ep->sb = rec_ep_sb_wanted(rec);
	ep->verdicts = verdicts ? verdicts : &ep->own;
	memset(ep->verdicts, 0, sizeof(*ep->verdicts));
	ep->verdicts->epochs = ep_log_checkpoints(ep->log) + 1;
}

/* The end of thread @log_tid of the log at checkpoint @k, NULL if none. */
static const struct ep_end *
end_at(const struct ep_log *log, pid_t log_tid, uint64_t k)
{
	size_t n, lo = 0, hi;
	const struct ep_end *e = ep_log_ends(log, log_tid, &n);

	for (hi = n; lo < hi;) {
		size_t mid = (lo + hi) / 2;

		if (e[mid].k < k)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && e[lo].k == k ? &e[lo] : NULL;
}

/* Tell the TP run's side (lock-step, rec_ep_follow.verdict) the verdict
 * @v on the epoch checkpoint @k ends, with this run's threads. */
static void
tell_verdict(struct recorder *rec, uint64_t k, int v)
{
	const struct rec_ep_follow *f = rec->ep->follow;
	pid_t *tids = calloc(rec->nthreads + 1, sizeof(*tids));
	pid_t *log_tids = calloc(rec->nthreads + 1, sizeof(*log_tids));
	size_t n = 0;

	for (size_t i = 0; tids && log_tids && i < rec->nthreads; i++) {
		if (rec->threads[i].state == RT_ZOMBIE)
			continue;
		tids[n] = rec->threads[i].tid;
		log_tids[n++] = ep_log_tid(rec->ep->log, rec->threads[i].tid);
	}
	/* 3: diverged, and the TP run's processes took the EP run's state */
	if (v == 0 && rec->ep->rolled)
		v = 3;
	rec->ep->rolled = false;
	f->verdict(f->arg, k, v, v == 0 || v == 3 ? rec->ep->verdicts->first : "", tids, log_tids, n);
	free(tids);
	free(log_tids);
}

/* Write the verdict @v (1 verified, 0 diverged, 2 not checked) on the epoch
 * that checkpoint @k ends, and flush the frame (write(2), in the page cache:
 * a kill -9 of uprr does not lose it): a trace cut after it replays to
 * there. Only then is lock-step told (it releases the output of a verified
 * epoch); a verdict that could not be written is not told. */
void
rec_ep_write_verdict(struct recorder *rec, uint64_t k, uint64_t v)
{
	struct trace_event ev;

	/* named by the log's id of the first process (rec_ep_name_threads()) */
	rec_event_init(&ev, TRACE_EV_EPOCH, rec->root);
	ev.nvalues = 4;
	ev.values[0] = k;
	ev.values[1] = v;
	if (rec_write_event(rec, &ev) < 0)
		return;
	if (trace_writer_flush(rec->w) < 0) {
		rec_stop_recording(rec, "%s", "cannot write the trace");
		return;
	}
	if (rec->ep->follow && rec->ep->follow->verdict)
		tell_verdict(rec, k, (int)v);
}

/* The checkpoint @k of the process whose copy is @copy_pid, found by the
 * log's id of one of its threads (the keeper's is its process's id), NULL
 * if not kept; its pages written into *@ret_written. */
static struct checkpoint_copy *
find_copy(const struct rec_ep *ep, uint64_t k, pid_t copy_pid, const struct dirty_pages **ret_written)
{
	for (size_t i = 0; i < ep_log_nthreads(ep->log); i++) {
		pid_t log_tid = ep_log_thread(ep->log, i);
		const struct ep_end *e = end_at(ep->log, log_tid, k);
		struct checkpoint_copy *c;

		if (!e || e->copy != copy_pid)
			continue;
		c = ep->ckpts->find(ep->ckpts->arg, k, log_tid, ret_written);
		if (c && checkpoint_copy_pid(c) == copy_pid)
			return c;
	}
	return NULL;
}

_Static_assert(EP_WHY_N <= ARRAY_SIZE(((struct rec_ep_verdicts *)0)->why), "rec_ep_verdicts.why");

/* Count an epoch not checked, for @why. */
static void
count_unchecked(struct rec_ep *ep, enum ep_why why)
{
	ep->verdicts->unchecked++;
	ep->verdicts->why[why]++;
}

/* Whether the epoch that checkpoint @k ends can be checked: EP_WHY_NONE,
 * or why not (*@ret_tid: the log's thread whose end it was, if one);
 * *@ret_thinned: its checkpoint was not kept (the keeper's cap), it runs
 * on into the next. */
static enum ep_why
unchecked_why(const struct rec_ep *ep, uint64_t k, bool *ret_thinned, pid_t *ret_tid)
{
	bool any = false;

	*ret_thinned = false;
	*ret_tid = 0;
	/* after a divergence, its checkpoints are the diverged TP run's */
	if (ep->diverged)
		return EP_WHY_DIVERGED;
	/* The loader's start keeps what cpuid(1) says, the initial APIC id of
	 * the CPU it ran on included (glibc's cpu_features, in ld.so's data
	 * until made read-only): uprr does not record cpuid, and the EP run's
	 * CPU is not the TP run's. Seen: 0x01020800 in the TP run, 0x00020800
	 * in the EP run. */
	if (k == 1)
		return EP_WHY_LOADER;
	for (size_t i = 0; i < ep_log_nthreads(ep->log); i++) {
		const struct ep_end *e = end_at(ep->log, ep_log_thread(ep->log, i), k);

		if (!e)
			continue;
		any = true;
		*ret_tid = ep_log_thread(ep->log, i);
		/* a point an EP run cannot find: ep_end.why says which */
		if (e->at == EP_END_USER || e->at == EP_END_UNKNOWN)
			return e->why ? e->why : EP_WHY_NO_CALL;
		/* held at the entry of the library's traced call: this run
		 * makes it there only if it runs the library too */
		if (e->why == EP_WHY_LIBRARY && !ep->sb)
			return EP_WHY_LIBRARY;
		/* in a condition wait: found where libuprr-sync waits for the
		 * TP run's record, which it does only while the log grows */
		if (e->at == EP_END_SYNC && !ep->live && (!ep->follow || ep_log_whole(ep->log)))
			return EP_WHY_LIBRARY_FUTEX;
		if (!e->copy)
			return EP_WHY_NO_COPY;
		/* a re-run's EP run stands where the one that diverged stood,
		 * with no copy to check against (record-ep-live.c) */
		if (!ep->ckpts)
			continue;
		if (!find_copy(ep, k, e->copy, NULL)) {
			*ret_thinned = true;
			return EP_WHY_NO_COPY;
		}
	}
	*ret_tid = 0;
	return any ? EP_WHY_NONE : EP_WHY_NO_END;
}

/* Move on to the next epoch that can be checked (ep->k: the checkpoint
 * that ends it; 0: none left); those passed over get their verdict now. */
static void
next_epoch(struct recorder *rec)
{
	struct rec_ep *ep = rec->ep;

	while (!rec->done) {
		enum ep_why why;
		bool thinned;
		pid_t tid;

		++ep->k;
		/* lock-step: the TP run goes on until the log holds the end
		 * and what tells where each thread stands at it */
		while (!ep_log_ends_known(ep->log, ep->k) && rec_ep_more(rec, "the epoch's end not known yet"))
			;
		if (ep->k > ep_log_checkpoints(ep->log)) {
			ep->k = 0;
			rec_ep_view(rec, 0);
			return;
		}
		why = unchecked_why(ep, ep->k, &thinned, &tid);
		if (why == EP_WHY_NONE) {
			rec_ep_view(rec, ep->k);
			return;
		}
		if (thinned) {
			ep->verdicts->merged++;
			log_debug("epoch %" PRIu64 ": its checkpoint was not kept, it is checked with the next",
				  ep->k - 1);
			continue;
		}
		count_unchecked(ep, why);
		log_debug("epoch %" PRIu64 " not checked: %s (the log's thread %d)", ep->k - 1,
			  ep_why_name(why), tid);
		rec_ep_write_verdict(rec, ep->k, 2);
	}
}

/* Whether @t (the log's @log_tid), at a syscall's entry (@entry) or after
 * its exit, stands at its end @e. */
static bool
at_end(const struct rec_ep *ep, const struct rthread *t, pid_t log_tid, const struct ep_end *e,
       bool entry)
{
	size_t taken = ep_log_taken(ep->log, log_tid);

	switch (e->at) {
	case EP_END_ENTRY:
		/* lock-step: at the entry of a call not logged yet, the one
		 * the TP run said (resolve_before(), ep/syscall-log.c) */
		/* (a re-run's, its log whole: the TP run killed before it made
		 * that call, record-ep-live.c) */
		if (entry && !t->ep_call && taken == e->idx && !ep_log_call(ep->log, log_tid, e->idx) &&
		    (!ep_log_whole(ep->log) || ep->live)) {
			if ((long)t->nr != e->nr)
				return false;
			for (int i = 0; i < sc_nargs(e->nr); i++)
				if (t->args[i] != e->args[i])
					return false;
			return true;
		}
		_fallthrough_;
	case EP_END_EXIT:
		return entry == (e->at == EP_END_ENTRY) && t->ep_call && taken == e->idx + 1 &&
		       t->ep_call == ep_log_call(ep->log, log_tid, e->idx);
	case EP_END_SYNC:
		/* parked in libuprr-sync's wait for the record (rec_ep_park_sync()) */
		return t->ep_sync_rec == e->sync_rec && t->ep_sync_frame == e->sync_frame &&
		       taken == e->idx;
	case EP_END_FUTEX:
		/* one the buffer's library made: at the program's site here
		 * when this run has no buffer, at the library's own call (the
		 * same rip) when it has */
		if (!entry || t->ep_call || taken != e->idx || (long)t->nr != e->nr ||
		    ((!e->library || ep->sb) && t->regs.rip != e->rip))
			return false;
		for (int i = 0; i < sc_nargs(e->nr); i++)
			if (t->args[i] != e->args[i])
				return false;
		return true;
	default:
		return false;
	}
}

/* Whether the EP run parks a thread whose end is @e where libuprr-sync
 * waits for the acquisition's record (rec_ep_park_sync()): EP_END_SYNC;
 * and, with the order's view (overlap, a re-run: rec_options.ep_order),
 * EP_END_FUTEX in such a wait (its record known: glibc's own futex call,
 * from a site the syscall buffer had not patched yet), which FOLLOW never
 * makes: a thread waiting there through uprr moved the view on for good.
 * Lock-step keeps its earlier way (parked so, memcached's EP run diverged
 * in the order: doc/uniparallel.md, "Overlap"). */
static bool
parks_in_sync(const struct rec_ep *ep, const struct ep_end *e)
{
	return e->at == EP_END_SYNC || (ep->order && e->at == EP_END_FUTEX && e->sync_rec);
}

/* Whether thread @log_tid went past its end @e (a matched call after it). */
static bool
passed(const struct rec_ep *ep, pid_t log_tid, const struct ep_end *e)
{
	size_t taken = ep_log_taken(ep->log, log_tid);

	return e->at == EP_END_FUTEX || e->at == EP_END_SYNC ? taken > e->idx : taken > e->idx + 1;
}

/* Every thread with an end at ep->k stands parked at it, and no other runs. */
static bool
all_parked(const struct recorder *rec)
{
	const struct rec_ep *ep = rec->ep;

	for (size_t i = 0; i < ep_log_nthreads(ep->log); i++) {
		pid_t log_tid = ep_log_thread(ep->log, i);
		const struct rthread *t;

		if (!end_at(ep->log, log_tid, ep->k))
			continue;
		t = rec_find_thread((struct recorder *)rec, ep_log_tid_of(ep->log, log_tid));
		if (!t || !t->ep_parked)
			return false;
	}
	for (size_t i = 0; i < rec->nthreads; i++)
		if (!rec->threads[i].ep_parked && rec->threads[i].state != RT_ZOMBIE)
			return false;
	return true;
}

/* Let the parked threads go on, but those that stand at their end of the
 * epoch now run (a call interrupted at two ends in a row). */
static void
let_go(struct recorder *rec)
{
	struct rec_ep *ep = rec->ep;

	for (size_t i = 0; i < rec->nthreads; i++) {
		struct rthread *t = &rec->threads[i];
		pid_t log_tid = ep_log_tid(ep->log, t->tid);
		const struct ep_end *e = ep->k ? end_at(ep->log, log_tid, ep->k) : NULL;

		if (!t->ep_parked || (e && at_end(ep, t, log_tid, e, t->ep_parked_entry)))
			continue;
		/* at an exit: the log's signals there, which the TP run
		 * delivered after its checkpoint (rec_ep_exit_signals()); in
		 * libuprr-sync's wait, its call skipped: it looks again */
		if (!t->ep_parked_entry && !t->ep_sync_rec)
			rec_ep_exit_signals(rec, t, true);
		t->ep_sync_rec = 0;
		t->ep_sync_frame = 0;
		t->ep_parked = false;
		sched_set_state(rec->sched, t->tid, SCHED_RUNNABLE);
	}
}

void
rec_ep_space_free(struct rspace *sp)
{
	if (sp->ckpt && checkpoint_dirty_log(sp->ckpt)->acc == sp->ep_written)
		checkpoint_dirty_log(sp->ckpt)->acc = NULL;
	if (sp->ep_written)
		dirty_pages_fini(sp->ep_written);
	free(sp->ep_written);
	sp->ep_written = NULL;
}

/* From the check of the epoch ep->k ends on (or the start), each address
 * space's restore points' dirty log keeps the pages written (dirty.h's
 * acc) for the next check; one with no restore point yet has none (its
 * next check compares every writable page). */
static void
start_written(struct recorder *rec)
{
	for (size_t i = 0; i < rec->nthreads; i++) {
		struct rspace *sp = rec->threads[i].space;

		if (!sp)
			continue;
		sp->ep_since = rec->ep->k;
		if (!sp->ckpt) {
			sp->ep_since = UINT64_MAX;
			continue;
		}
		if (!sp->ep_written && !(sp->ep_written = calloc(1, sizeof(*sp->ep_written)))) {
			sp->ep_since = UINT64_MAX;
			continue;
		}
		sp->ep_written->n = 0;
		checkpoint_dirty_log(sp->ckpt)->acc = sp->ep_written;
	}
}

static int
cmp_run(const void *a, const void *b)
{
	const struct checkpoint_range *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* The pages process @sp wrote since the last check into @ret (sorted,
 * disjoint): those its restore points protected again meanwhile
 * (ep_written) and those written since. False if they are not known: no
 * restore point kept them all (none yet, a new one, a remap due). */
static bool
b_written(const struct rec_ep *ep, struct rspace *sp, struct dirty_pages *ret)
{
	struct dirty_log *dl = sp->ckpt ? checkpoint_dirty_log(sp->ckpt) : NULL;
	struct dirty_pages cur = { 0 }, acc = { 0 };
	bool ok;

	if (!dl || !sp->ep_written || dl->acc != sp->ep_written || sp->ep_since != ep->last_k ||
	    sp->need_remap)
		return false;
	/* sorted and merged: the walks appended them in their order */
	qsort(sp->ep_written->v, sp->ep_written->n, sizeof(*sp->ep_written->v), cmp_run);
	for (size_t i = 0; i < sp->ep_written->n; i++) {
		const struct checkpoint_range *r = &sp->ep_written->v[i];

		if (acc.n && acc.v[acc.n - 1].addr + acc.v[acc.n - 1].len >= r->addr) {
			uint64_t end = MAX(acc.v[acc.n - 1].addr + acc.v[acc.n - 1].len, r->addr + r->len);

			acc.v[acc.n - 1].len = end - acc.v[acc.n - 1].addr;
			continue;
		}
		if (UTIL_GROW(acc.v, acc.cap, acc.n + 1) < 0) {
			dirty_pages_fini(&acc);
			return false;
		}
		acc.v[acc.n++] = *r;
	}
	/* written since the last sync: not protected, listed without */
	dl->acc = NULL;
	ok = dirty_log_written(dl, false, &cur) >= 0 && dirty_pages_union(&acc, &cur, ret) >= 0;
	dl->acc = sp->ep_written;
	dirty_pages_fini(&acc);
	dirty_pages_fini(&cur);
	return ok;
}

/* The pages the TP run's process wrote from the last check's checkpoint to
 * checkpoint ep->k (the log's process @log_pid), into @ret: the union of
 * each checkpoint's pages written in the epoch before it (a checkpoint the
 * keeper freed gave its own to the next one kept). False if not known
 * (a process's first checkpoint). */
static bool
a_written(const struct rec_ep *ep, pid_t log_pid, struct dirty_pages *ret)
{
	struct dirty_pages u = { 0 };

	if (!ep->last_k)
		return false;
	for (uint64_t j = ep->last_k + 1; j <= ep->k; j++) {
		const struct ep_end *e = end_at(ep->log, log_pid, j);
		const struct dirty_pages *w = NULL;
		struct dirty_pages next = { 0 };

		if (!e || !e->copy) {
			dirty_pages_fini(&u);
			return false;
		}
		if (!find_copy(ep, j, e->copy, &w))
			continue; /* freed: its pages are the next one's */
		if (!w || dirty_pages_union(&u, w, &next) < 0) {
			dirty_pages_fini(&u);
			dirty_pages_fini(&next);
			return false;
		}
		dirty_pages_fini(&u);
		u = next;
	}
	*ret = u;
	return true;
}

/* The threads of EP process @tgid in the order of checkpoint @k's copy
 * @copy_pid of it (the order of the log's ends), then any other, into
 * @tids (room for rec->nthreads); returns how many. */
static size_t
copy_order(const struct recorder *rec, pid_t tgid, uint64_t k, pid_t copy_pid, pid_t *tids)
{
	const struct rec_ep *ep = rec->ep;
	size_t n = 0;
	uint64_t last = 0;

	for (;;) {
		const struct ep_end *best = NULL;
		pid_t best_tid = 0;

		for (size_t i = 0; i < ep_log_nthreads(ep->log); i++) {
			pid_t log_tid = ep_log_thread(ep->log, i);
			const struct ep_end *e = end_at(ep->log, log_tid, k);

			if (e && e->copy == copy_pid && (!n || e->seq > last) &&
			    (!best || e->seq < best->seq)) {
				best = e;
				best_tid = ep_log_tid_of(ep->log, log_tid);
			}
		}
		if (!best || n == rec->nthreads)
			break;
		last = best->seq;
		tids[n++] = best_tid;
	}
	for (size_t i = 0; i < rec->nthreads && n < rec->nthreads; i++) {
		bool in = false;

		if (rec->threads[i].tgid != tgid)
			continue;
		for (size_t j = 0; j < n; j++)
			in |= tids[j] == rec->threads[i].tid;
		if (!in)
			tids[n++] = rec->threads[i].tid;
	}
	return n;
}

/* Put B's threads @tb (@nb) in the order of A's @ta (@na) by their FS
 * base (each thread's own TLS, at the same address in both runs): the
 * copy's threads are in the order the recorder listed them, which the
 * log's order of the ends does not always give (it moves a thread first).
 * Left as they are unless each of A's has one of B's with its FS base. */
static void
pair_by_fs(const pid_t *ta, size_t na, pid_t *tb, size_t nb)
{
	_cleanup_free_ pid_t *order = calloc(nb ? nb : 1, sizeof(*order));
	_cleanup_free_ uint64_t *fb = calloc(nb ? nb : 1, sizeof(*fb));
	struct user_regs_struct r;

	if (!order || !fb || na != nb)
		return;
	for (size_t j = 0; j < nb; j++) {
		if (tracee_get_regs(tb[j], &r) < 0)
			return;
		fb[j] = r.fs_base;
	}
	for (size_t i = 0; i < na; i++) {
		size_t found = nb;

		if (tracee_get_regs(ta[i], &r) < 0)
			return;
		for (size_t j = 0; j < nb; j++)
			if (fb[j] == r.fs_base && tb[j])
				found = found == nb ? j : nb + 1;
		if (found >= nb)
			return; /* none, or two: the order stays */
		order[i] = tb[found];
	}
	memcpy(tb, order, nb * sizeof(*tb));
}

void
rec_ep_pair_fini(struct rec_ep_pair *p)
{
	free(p->tids);
	free(p->regs);
	free(p->library);
	free(p->ignore);
	free(p->aliases);
	free(p->paths);
	dirty_pages_fini(&p->all);
	dirty_pages_fini(&p->tp_written);
	*p = (struct rec_ep_pair){ 0 };
}

int
rec_ep_pair_build(struct recorder *rec, pid_t tgid, struct rec_ep_pair *p)
{
	struct rec_ep *ep = rec->ep;
	const struct ep_end *e;
	int r = 0;

	*p = (struct rec_ep_pair){ .b = { .pid = tgid } };
	p->log_pid = ep_log_tid(ep->log, tgid);
	e = p->log_pid ? end_at(ep->log, p->log_pid, ep->k) : NULL;
	p->tids = calloc(rec->nthreads, sizeof(*p->tids));
	p->regs = calloc(rec->nthreads, sizeof(*p->regs));
	p->library = calloc(rec->nthreads, sizeof(*p->library));
	if (!p->tids || !p->regs || !p->library)
		return -ENOMEM;
	if (!e)
		return -ENOENT;
	p->copy = find_copy(ep, ep->k, e->copy, NULL);
	if (!p->copy)
		return -ENOENT;
	p->a.pid = checkpoint_copy_pid(p->copy);
	p->a.tids = checkpoint_copy_tids(p->copy, &p->a.ntids);
	p->b.ntids = copy_order(rec, tgid, ep->k, e->copy, p->tids);
	pair_by_fs(p->a.tids, p->a.ntids, p->tids, p->b.ntids);
	p->b.tids = p->tids;
	/* the pages either wrote since the last check, or every writable
	 * page of B where that is not known */
	p->whole = !a_written(ep, p->log_pid, &p->tp_written) ||
		   !b_written(ep, rec_find_thread(rec, tgid) ? rec_find_thread(rec, tgid)->space
							     : rec->threads[0].space, &p->all);
	if (p->whole) {
		dirty_pages_fini(&p->all);
		ep->verdicts->whole++;
		r = rec_writable_pages(tgid, &p->all);
	}
	if (r >= 0)
		r = rec_ep_left_out(ep, tgid, p->tids, p->b.ntids, p->a.tids, p->a.ntids, &p->ignore,
				    &p->nignore, &p->ignore_cap);
	for (size_t i = 0; i < p->b.ntids && r >= 0; i++) {
		pid_t log_tid = ep_log_tid(ep->log, p->tids[i]);
		const struct ep_end *te = log_tid ? end_at(ep->log, log_tid, ep->k) : NULL;
		const struct rthread *t = rec_find_thread(rec, p->tids[i]);

		/* parked in a condition wait or a lock (rec_ep_park_sync()) */
		if (te && parks_in_sync(ep, te) && t && t->ep_sync_rec && i < p->a.ntids)
			r = rec_ep_sync_wait_out(te, p->tids[i], p->a.tids[i], &p->ignore, &p->nignore,
						 &p->ignore_cap);
		/* what an interrupted call's exit wrote (the time left of a
		 * sleep), in the copy and not here yet: the EP run writes the
		 * log's bytes when it answers the call */
		for (uint32_t j = 0; te && j < te->nwrote && r >= 0; j++) {
			if (UTIL_GROW(p->ignore, p->ignore_cap, p->nignore + 1) < 0)
				r = -ENOMEM;
			else
				p->ignore[p->nignore++] = (struct checkpoint_range){
					te->wrote[2 * j], te->wrote[2 * j + 1]
				};
		}
	}
	if (r >= 0)
		r = rec_ep_file_aliases(ep, tgid, &p->aliases, &p->b.naliases, &p->paths);
	p->b.written = &p->all;
	p->a.written = p->whole ? &p->all : &p->tp_written;
	p->b.ignore = p->ignore;
	p->b.nignore = p->nignore;
	p->b.aliases = p->aliases;
	p->b.scratch_free = true;
	return r;
}

int
rec_ep_pair_check(struct recorder *rec, struct rec_ep_pair *p, struct ep_divergence *d)
{
	struct rec_ep *ep = rec->ep;
	_cleanup_free_ struct user_regs_struct *saved = calloc(p->b.ntids + 1, sizeof(*saved));
	_cleanup_free_ bool *set = calloc(p->b.ntids + 1, sizeof(*set));
	int r = 0;

	if (!saved || !set)
		return -ENOMEM;
	/* each thread as its copy has it: one at a syscall's entry rewound
	 * onto the syscall instruction (the copy's was interrupted and will
	 * enter it again), orig_rax -1 (checkpoint_copy_new()) */
	for (size_t i = 0; i < p->b.ntids; i++) {
		const struct rthread *t = rec_find_thread(rec, p->tids[i]);
		struct user_regs_struct regs, ra;

		p->library[i] = false;
		if (tracee_get_regs(p->tids[i], &saved[i]) < 0)
			continue;
		regs = saved[i];
		if (t && t->ep_parked_entry)
			arch_rewind_syscall(&regs);
		regs.orig_rax = (uint64_t)-1;
		/* the argument registers its call does not take hold what the
		 * code before it left (the interposer's differs by design; EP
		 * runs match only the arguments a call takes, sc_nargs()): as
		 * A's for the check */
		if (t && i < p->a.ntids && tracee_get_regs(p->a.tids[i], &ra) == 0) {
			const struct ep_end *te = end_at(ep->log, ep_log_tid(ep->log, p->tids[i]), ep->k);

			for (int j = sc_nargs((long)t->nr); j < 6; j++)
				arch_set_syscall_arg(&regs, j, arch_syscall_arg(&ra, j));
			/* A's thread stands at restart_syscall(2): the
			 * kernel's restart of a sleep an earlier end
			 * interrupted (-ERESTART_RESTARTBLOCK puts its number
			 * in ax, arch_do_signal_or_restart()), interrupted in
			 * turn; B's at the entry of the sleep it continues:
			 * the same point (pipe_order's main thread, asleep
			 * over several ends: "rax 0xdb in A, 0xe6 in B" at
			 * every check, each rolled back) */
			if (t->ep_parked_entry && ra.rax == __NR_restart_syscall && ra.rip == regs.rip)
				regs.rax = ra.rax;
			/* A's thread stands in a call the syscall buffer's
			 * library made for this one (ep_end.library): in the
			 * library's frame, its registers the library's
			 * (uprr_traced_call() zeroes those that are not
			 * arguments), which the site's are not derived from:
			 * not compared. The frame is below B's red zone
			 * (dead_stacks()), the buffer's pages left out. */
			if (te && te->library && !ep->sb) {
				regs = ra;
				p->library[i] = true;
				ep->verdicts->library_regs++;
			}
			/* A's thread stands in glibc's condition wait, this
			 * one in libuprr-sync's wait for the acquisition's
			 * record (EP_END_SYNC): other code, other registers,
			 * not compared (nor merged: A's are kept) */
			if (te && parks_in_sync(ep, te) && t->ep_sync_rec) {
				regs = ra;
				p->library[i] = true;
			}
		}
		p->regs[i] = regs;
		set[i] = tracee_set_regs(p->tids[i], &regs) == 0;
	}
	r = ep_check_divergence(&p->a, &p->b, d);
	for (size_t i = 0; i < p->b.ntids; i++)
		if (set[i] && tracee_set_regs(p->tids[i], &saved[i]) < 0)
			log_debug("thread %d: cannot put its registers back", p->tids[i]);
	if (r >= 0 && d->diverged) {
		for (size_t i = 0; i < p->b.ntids; i++) {
			const struct rthread *t = rec_find_thread(rec, p->tids[i]);
			struct user_regs_struct ra = { 0 };

			if (i < p->a.ntids && tracee_get_regs(p->a.tids[i], &ra) < 0)
				ra.rip = 0;
			log_debug("  thread %d (the log's %d): rip %#llx, orig_rax %#llx, rsp %#llx, "
				  "%s; A's: rip %#llx, rsp %#llx", p->tids[i],
				  ep_log_tid(ep->log, p->tids[i]), saved[i].rip, saved[i].orig_rax,
				  saved[i].rsp,
				  t && t->ep_parked_entry ? "at a syscall's entry" : "after a syscall's exit",
				  ra.rip, ra.rsp);
		}
	}
	return r;
}

/* Compare EP process @tgid with its checkpoint ep->k: 1 equal, 0 diverged
 * (said in @what), or -errno (not checked). */
static int
check_process(struct recorder *rec, pid_t tgid, char *what, size_t len)
{
	struct rec_ep *ep = rec->ep;
	struct rec_ep_pair p;
	struct ep_divergence d;
	int r;

	r = rec_ep_pair_build(rec, tgid, &p);
	if (r >= 0)
		r = rec_ep_force_apply(rec, &p); /* UPRR_EP_DIVERGE */
	if (r >= 0)
		r = rec_ep_pair_check(rec, &p, &d);
	if (r < 0) {
		rec_ep_force_undo(rec, &p);
		rec_ep_pair_fini(&p);
		return r;
	}
	ep->verdicts->pages += d.pages_compared;
	if (d.diverged) {
		snprintf(what, len, "process %d (%s): ", p.log_pid,
			 p.whole ? "every writable page" : "the pages written since the last check");
		ep_divergence_describe(&d, what + strlen(what), len - strlen(what));
		rec_ep_rollback(rec, &p, &d);
	}
	rec_ep_force_undo(rec, &p);
	rec_ep_pair_fini(&p);
	return !d.diverged;
}

/*
 * Why a thread that stands at its end at the entry of a traced call of
 * the syscall buffer's library (EP_WHY_LIBRARY) cannot be compared, or
 * EP_WHY_NONE. The library's frames differ between the runs by design
 * (the TP run's library made the call from its entry under the end's
 * request, this run's after finding no record): they are left out only
 * where a stub's return address bounds them (rec_ep_library_top()); with none
 * (libuprr-sync's gettid(2) through the library), they were compared
 * (tp_race: "0x2 in A, 0 in B" at the stack pointer, a false divergence
 * at the first check, 3 recordings in 5). And a call made inside
 * libuprr-sync.so has its frames above, which take other paths in mode
 * tp and in FOLLOW (pipe_order, tp_race: "0x7ffff7fb75da in A,
 * 0x7ffff7fb76f8 in B", return addresses into it).
 */
static enum ep_why
library_end_unfound(struct recorder *rec)
{
	struct rec_ep *ep = rec->ep;

	for (size_t i = 0; i < rec->nthreads; i++) {
		const struct rthread *t = &rec->threads[i];
		pid_t log_tid = ep_log_tid(ep->log, t->tid);
		const struct ep_end *e = log_tid ? end_at(ep->log, log_tid, ep->k) : NULL;
		struct user_regs_struct regs;

		if (t->state == RT_ZOMBIE || !e || e->why != EP_WHY_LIBRARY)
			continue;
		if (!rec_ep_library_top(ep, t->tid, NULL))
			return EP_WHY_LIBRARY_FRAMES;
		if (tracee_get_regs(t->tid, &regs) < 0 || rec_interposer_frames(t->tid, regs.rsp))
			return EP_WHY_INTERPOSER;
	}
	return EP_WHY_NONE;
}

/* All threads stand at their ends of the epoch ep->k ends: check every
 * process, write the verdict. */
static void
check_epoch(struct recorder *rec)
{
	struct rec_ep *ep = rec->ep;
	struct rec_ep_verdicts *v = ep->verdicts;
	uint64_t t0 = util_now_ns(), ns;
	char what[sizeof(v->first)] = "";
	enum ep_why why;
	int verdict = 1;

	why = library_end_unfound(rec);
	if (why != EP_WHY_NONE) {
		count_unchecked(ep, why);
		log_debug("epoch %" PRIu64 " not checked: %s", ep->k - 1, ep_why_name(why));
		rec_ep_write_verdict(rec, ep->k, 2);
		return;
	}
	for (size_t i = 0; i < rec->nthreads && verdict > 0; i++) {
		bool seen = false;

		for (size_t j = 0; j < i; j++)
			seen |= rec->threads[j].tgid == rec->threads[i].tgid;
		if (seen || rec->threads[i].state == RT_ZOMBIE)
			continue;
		verdict = check_process(rec, rec->threads[i].tgid, what, sizeof(what));
	}
	ns = util_now_ns() - t0;
	v->check_ns += ns;
	v->check_max_ns = MAX(v->check_max_ns, ns);
	if (verdict < 0) {
		count_unchecked(ep, EP_WHY_CHECK_FAILED);
		log_info("epoch %" PRIu64 " not checked: %s", ep->k - 1, strerror(-verdict));
		rec_ep_write_verdict(rec, ep->k, 2);
		return;
	}
	if (verdict) {
		v->verified++;
		log_debug("epoch %" PRIu64 " verified (%" PRIu64 " us)", ep->k - 1, ns / 1000);
		rec_ep_write_verdict(rec, ep->k, 1);
		return;
	}
	v->diverged++;
	if (!v->first[0])
		snprintf(v->first, sizeof(v->first), "epoch %" PRIu64 ": %s", ep->k - 1, what);
	log_info("epoch %" PRIu64 " diverged from checkpoint %" PRIu64 ": %s", ep->k - 1, ep->k, what);
	ep->diverged = !ep->go_on;
	rec_ep_write_verdict(rec, ep->k, 0);
}

/* Whether a thread's end of the epoch checkpoint @k ends is its entry
 * into exit_group(2): an end the TP run took at the program's exit
 * (rec_epoch_end_at_exit()). */
static bool
ends_at_exit(const struct rec_ep *ep, uint64_t k)
{
	for (size_t i = 0; i < ep_log_nthreads(ep->log); i++) {
		const struct ep_end *e = end_at(ep->log, ep_log_thread(ep->log, i), k);

		if (e && e->exit_group)
			return true;
	}
	return false;
}

/* Every thread stands at its end of the epoch checkpoint @k ends, the
 * program's exit: only the thread at exit_group goes on, and its exit
 * ends the others where the TP run's stood when it ended (let go, one of
 * them would run on past the log: memcached's mc-lrumaint, killed in the
 * TP run between two of its operations). */
static void
let_go_exit(struct recorder *rec, uint64_t k)
{
	struct rec_ep *ep = rec->ep;

	for (size_t i = 0; i < rec->nthreads; i++) {
		struct rthread *t = &rec->threads[i];
		const struct ep_end *e = end_at(ep->log, ep_log_tid(ep->log, t->tid), k);

		if (!t->ep_parked || !e || !e->exit_group)
			continue;
		t->ep_parked = false;
		sched_set_state(rec->sched, t->tid, SCHED_RUNNABLE);
	}
}

/* Check the epoch while every thread stands at its end, and go on. */
static void
settle(struct recorder *rec)
{
	struct rec_ep *ep = rec->ep;

	while (ep->k && !rec->done && all_parked(rec)) {
		/* a re-run from checkpoint k stands at it: no check, live on;
		 * at the ends before it, it stands as the EP run that diverged
		 * stood for its checks, and goes on (the same interleaving:
		 * record-ep-live.c) */
		if (ep->live && ep->k >= ep->live->k) {
			rec_ep_go_live(rec);
			return;
		}
		if (ends_at_exit(ep, ep->k)) {
			/* the program's last process ends there (an end the
			 * TP run took so that it stands, its kernel state
			 * whole, while this run made the epoch's calls): its
			 * memory goes with it, not compared */
			uint64_t k = ep->k;

			count_unchecked(ep, EP_WHY_PROGRAM_EXIT);
			rec_ep_write_verdict(rec, k, 2);
			ep->last_k = k;
			next_epoch(rec);
			let_go_exit(rec, k);
			continue;
		}
		if (ep->live) {
			count_unchecked(ep, EP_WHY_NO_COPY);
			rec_ep_write_verdict(rec, ep->k, 2);
		} else {
			check_epoch(rec);
		}
		ep->last_k = ep->k;
		start_written(rec);
		next_epoch(rec);
		let_go(rec);
	}
}

/* Leave the epoch ep->k ends unchecked (@why; @reason counted) and go on. */
static void
give_up_as(struct recorder *rec, const char *why, enum ep_why reason)
{
	struct rec_ep *ep = rec->ep;

	if (ep->live && ep->k >= ep->live->k) {
		snprintf(ep->live->why, sizeof(ep->live->why), "%s", why);
		rec_stop_recording(rec, "the re-run from checkpoint %" PRIu64 " did not stand at it: %s",
				   ep->k, why);
		return;
	}
	count_unchecked(ep, reason);
	ep->verdicts->stalls += reason == EP_WHY_STALL;
	log_info("epoch %" PRIu64 " not checked: %s", ep->k - 1, why);
	rec_ep_write_verdict(rec, ep->k, 2);
	ep->stall_ns = 0;
	next_epoch(rec);
	let_go(rec);
	settle(rec);
}

static void
give_up(struct recorder *rec, const char *why, bool stall)
{
	give_up_as(rec, why, stall ? EP_WHY_STALL : EP_WHY_PASSED);
}

/* @t stands at its end of the epoch: parked there; the epoch is checked
 * when all are. */
static void
park(struct recorder *rec, struct rthread *t, bool entry)
{
	t->ep_parked = true;
	t->ep_parked_entry = entry;
	t->state = entry ? RT_AT_ENTRY : RT_HELD;
	sched_set_state(rec->sched, t->tid, SCHED_BLOCKED);
	rec->ep->stall_ns = 0;
	settle(rec);
}

bool
rec_ep_park(struct recorder *rec, struct rthread *t, bool entry)
{
	struct rec_ep *ep = rec->ep;
	const struct ep_end *e;
	pid_t log_tid;

	/* progress for a stall: an entry, but not the same live call made
	 * again and again with no call of the log taken between (libuprr-sync
	 * polls a thread's exit with a timed futex wait: tp_detached's, its
	 * thread parked on its way out, waited so for ever); FOLLOW's waits
	 * for the order's records are other calls, and count */
	if (entry) {
		size_t taken = ep_log_taken(ep->log, ep_log_tid(ep->log, t->tid));
		bool again = taken == t->ep_taken_seen && t->nr == t->ep_last_nr && t->args[0] == t->ep_last_arg0;

		ep->progress += !again;
		t->ep_taken_seen = taken;
		t->ep_last_nr = t->nr;
		t->ep_last_arg0 = t->args[0];
	}
	if ((!ep->ckpts && !ep->live) || rec->done)
		return false;
	if (!ep->started) {
		/* after the first exec, which the trace starts with */
		ep->started = true;
		if (ep_log_checkpoints(ep->log) || ep->follow)
			next_epoch(rec);
		/* the first check compares every writable page anyway (the TP
		 * run's pages written before its first checkpoint are not
		 * known) */
	}
	if (!ep->k)
		return false;
	log_tid = ep_log_tid(ep->log, t->tid);
	e = log_tid ? end_at(ep->log, log_tid, ep->k) : NULL;
	if (!e)
		return false;
	if (!at_end(ep, t, log_tid, e, entry)) {
		if (passed(ep, log_tid, e)) {
			char why[160];

			snprintf(why, sizeof(why), "thread %d went past its end (after call %zu, at %s of %ld)",
				 log_tid, e->idx, entry ? "the entry" : "the exit", (long)t->nr);
			/* in a condition wait: libuprr-sync did not wait there
			 * (the log stopped growing: the TP run ended) */
			give_up_as(rec, why, e->at == EP_END_SYNC ? EP_WHY_LIBRARY_FUTEX : EP_WHY_PASSED);
		}
		return false;
	}
	park(rec, t, entry);
	return true;
}

bool
rec_ep_park_unlogged(struct recorder *rec, struct rthread *t)
{
	struct rec_ep *ep = rec->ep;
	const struct ep_end *e;
	pid_t log_tid;

	if (((!ep->ckpts || !ep->follow) && !ep->live) || rec->done || !ep->k)
		return false;
	log_tid = ep_log_tid(ep->log, t->tid);
	e = log_tid ? end_at(ep->log, log_tid, ep->k) : NULL;
	if (!e || !at_end(ep, t, log_tid, e, true))
		return false;
	ep->progress++;
	park(rec, t, true);
	return true;
}

bool
rec_ep_park_sync(struct recorder *rec, struct rthread *t, uint64_t rec1, uint64_t frame)
{
	struct rec_ep *ep = rec->ep;
	const struct ep_end *e;
	pid_t log_tid;

	/* (a re-run's: its cut order grows until it goes live, record-ep-live.c) */
	if ((!ep->ckpts || !ep->follow) && !ep->live)
		return false;
	if (!ep->started || rec->done || !ep->k || !rec1)
		return false;
	log_tid = ep_log_tid(ep->log, t->tid);
	e = log_tid ? end_at(ep->log, log_tid, ep->k) : NULL;
	if (!e || !parks_in_sync(ep, e) || e->sync_rec != rec1 || e->sync_frame != frame ||
	    ep_log_taken(ep->log, log_tid) != e->idx) {
		if (e)
			log_debug("thread %d (the log's %d) waits for record %" PRIu64 " (frame %#" PRIx64
				  ", after %zu calls); its end at checkpoint %" PRIu64 " is not there "
				  "(at %u, record %" PRIu64 ", frame %#" PRIx64 ", after %zu calls)",
				  t->tid, log_tid, rec1 - 1, frame, ep_log_taken(ep->log, log_tid), ep->k,
				  e->at, e->sync_rec - 1, e->sync_frame, e->idx);
		return false;
	}
	t->ep_sync_rec = rec1;
	t->ep_sync_frame = frame;
	ep->progress++;
	park(rec, t, false);
	return true;
}

/* Why the epoch under check stalls: a thread with its end in a condition
 * wait or a lock (EP_END_SYNC) not parked there, the log no longer growing
 * (the TP run ended: libuprr-sync no longer waits for a record, and one
 * the TP run never completed blocks its thread for good) is named so;
 * else a stall. */
static enum ep_why
stall_why(const struct recorder *rec)
{
	const struct rec_ep *ep = rec->ep;

	if (!ep_log_whole(ep->log))
		return EP_WHY_STALL;
	for (size_t i = 0; i < ep_log_nthreads(ep->log); i++) {
		pid_t log_tid = ep_log_thread(ep->log, i);
		const struct ep_end *e = end_at(ep->log, log_tid, ep->k);
		const struct rthread *t;

		if (!e || !parks_in_sync(ep, e))
			continue;
		t = rec_find_thread((struct recorder *)rec, ep_log_tid_of(ep->log, log_tid));
		if (!t || !t->ep_parked)
			return EP_WHY_LIBRARY_FUTEX;
	}
	return EP_WHY_STALL;
}

bool
rec_ep_stalled(struct recorder *rec, uint64_t *wait_ns)
{
	struct rec_ep *ep = rec->ep;
	uint64_t now = util_now_ns();
	bool any = false;

	for (size_t i = 0; i < rec->nthreads; i++)
		any |= rec->threads[i].ep_parked;
	if (!any || !ep->k) {
		ep->stall_ns = 0;
		return false;
	}
	if (!ep->stall_ns || ep->progress != ep->stall_progress) {
		ep->stall_ns = now;
		ep->stall_progress = ep->progress;
		ep->stall_rounds = 0;
	}
	/* lock-step: what the threads wait for may be in the TP run's next
	 * epoch (a synchronization record it completes there); once the log
	 * holds that epoch, they wait for nothing the log will bring (overlap:
	 * once the order's view holds it) */
	if (ep->follow && (!ep_log_whole(ep->log) || ep->view_on)) {
		if ((ep->view_on ? ep->view_k : ep_log_checkpoints(ep->log)) <= ep->k &&
		    ep->stall_rounds++ < EP_STALL_ROUNDS)
			return rec_ep_more_order(rec, "threads parked, the others cannot run");
		give_up(rec, "its threads did not all reach their ends", true);
		return true;
	}
	if (now - ep->stall_ns < EP_STALL_NS) {
		*wait_ns = EP_STALL_NS / 5;
		return false;
	}
	give_up_as(rec, "its threads did not all reach their ends", stall_why(rec));
	return true;
}
