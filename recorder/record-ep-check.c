/* SPDX-License-Identifier: MIT */
/*
 * The EP run's checks of its epochs (doc/uniparallel.md, "EP runs"): each
 * thread stops at its end of the epoch, and when all have, each process is
 * compared with the TP run's checkpoint that ends the epoch.
 */
#define LOG_PREFIX "record"
#include <asm/unistd.h>
#include <cpuid.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
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
#include "x86_64/patch.h"
#include "preload/uprr-preload.h"
#include "preload/uprr-sync.h"

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
static void
write_verdict(struct recorder *rec, uint64_t k, uint64_t v)
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
		if (!e->copy)
			return EP_WHY_NO_COPY;
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
			return;
		}
		why = unchecked_why(ep, ep->k, &thinned, &tid);
		if (why == EP_WHY_NONE)
			return;
		if (thinned) {
			ep->verdicts->merged++;
			log_debug("epoch %" PRIu64 ": its checkpoint was not kept, it is checked with the next",
				  ep->k - 1);
			continue;
		}
		count_unchecked(ep, why);
		log_debug("epoch %" PRIu64 " not checked: %s (the log's thread %d)", ep->k - 1,
			  ep_why_name(why), tid);
		write_verdict(rec, ep->k, 2);
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
		if (entry && !t->ep_call && taken == e->idx && !ep_log_call(ep->log, log_tid, e->idx) &&
		    !ep_log_whole(ep->log)) {
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

/* Whether thread @log_tid went past its end @e (a matched call after it). */
static bool
passed(const struct rec_ep *ep, pid_t log_tid, const struct ep_end *e)
{
	size_t taken = ep_log_taken(ep->log, log_tid);

	return e->at == EP_END_FUTEX ? taken > e->idx : taken > e->idx + 1;
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
		 * delivered after its checkpoint (rec_ep_exit_signals()) */
		if (!t->ep_parked_entry)
			rec_ep_exit_signals(rec, t, true);
		t->ep_parked = false;
		sched_set_state(rec->sched, t->tid, SCHED_RUNNABLE);
	}
}

/* One range @addr, @len of process @tgid into ep->patched. */
static void
note_patched(struct rec_ep *ep, pid_t tgid, uint64_t addr, uint64_t len)
{
	if (!len || UTIL_GROW(ep->patched, ep->patched_cap, ep->npatched + 1) < 0)
		return; /* not left out: the check says where it differs */
	ep->patched[ep->npatched++] = (struct ep_patched){ tgid, addr, len };
}

void
rec_ep_note_patch(struct recorder *rec, const struct trace_event *ev)
{
	const struct rthread *t = rec_find_thread(rec, (pid_t)ev->tid);

	/* values[1], values[2]: a new stub area; blobs[1]: the stubs (in an
	 * area), blobs[2...]: the code edited (sched/ticks-soft.c) */
	if (!t || ev->nvalues < 3)
		return;
	note_patched(rec->ep, t->tgid, ev->values[1], ev->values[2]);
	for (uint32_t i = 1; i < ev->nblobs; i++)
		note_patched(rec->ep, t->tgid, ev->blobs[i].addr, ev->blobs[i].len);
}

/* The EP run's own patches of process @tgid (rec_ep_note_patch()),
 * appended to @v. A fork's child has its parent's: they are left out in
 * every process. */
static int
patched_ranges(const struct rec_ep *ep, struct checkpoint_range **v, size_t *n, size_t *cap)
{
	for (size_t i = 0; i < ep->npatched; i++) {
		if (UTIL_GROW(*v, *cap, *n + 1) < 0)
			return -ENOMEM;
		(*v)[(*n)++] = (struct checkpoint_range){ ep->patched[i].addr, ep->patched[i].len };
	}
	return 0;
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

/* The writable segments (PT_LOAD with PF_W: its data and bss) of the ELF
 * file at @path loaded at @base, appended to @v. */
static int
elf_data(const char *path, uint64_t base, struct checkpoint_range **v, size_t *n, size_t *cap)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf64_Ehdr eh;
	Elf64_Phdr ph;

	if (fd < 0)
		return -errno;
	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) || eh.e_phentsize != sizeof(ph))
		return -ENOEXEC;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))) != (ssize_t)sizeof(ph))
			return -ENOEXEC;
		if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_W))
			continue;
		if (UTIL_GROW(*v, *cap, *n + 1) < 0)
			return -ENOMEM;
		(*v)[(*n)++] = (struct checkpoint_range){ base + ph.p_vaddr, ph.p_memsz };
	}
	return 0;
}

/* The byte of ld.so's copy of cpuid(1) that holds the initial APIC id
 * (EBX bits 31-24) in mapping @m of process @pid, appended to @v: the
 * loader keeps what cpuid(1) said on the CPU it ran on (glibc's
 * cpu_features), which uprr does not record, and the EP run runs pinned
 * to another CPU than the TP run's loader may have (seen at --epoch=2 in
 * ep_threads, whose first check comes before the loader makes that page
 * read-only: 0x01020800 in A, 0x00020800 in B, 4 of 40 recordings). Found
 * by the other registers of cpuid(1) here (the same on every CPU of the
 * machine) at a 4-byte step; nothing is left out if it is not found. */
static int
loader_apic_id(pid_t pid, const struct tracee_mapping *m, struct checkpoint_range **v, size_t *n,
	       size_t *cap)
{
	unsigned eax, ebx, ecx, edx;
	uint32_t page[1024];

	if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
		return 0;
	for (uint64_t a = m->start; a < m->end; a += sizeof(page)) {
		if (tracee_read(pid, a, page, sizeof(page)) < 0)
			return 0;
		for (size_t i = 0; i + 4 <= ARRAY_SIZE(page); i++) {
			if (page[i] != eax || (page[i + 1] & 0xffffff) != (ebx & 0xffffff) ||
			    page[i + 2] != ecx || page[i + 3] != edx)
				continue;
			if (UTIL_GROW(*v, *cap, *n + 1) < 0)
				return -ENOMEM;
			(*v)[(*n)++] = (struct checkpoint_range){ a + 4 * (i + 1) + 3, 1 };
			return 0;
		}
	}
	return 0;
}

/*
 * The condition variables the sync-order log names (a signal's or
 * broadcast's object), read on from where the last call stopped, into
 * ep->conds. A pthread_cond_t's words are glibc's bookkeeping of its
 * waiters (__wseq, __g_refs...), which the TP run's real waits advance and
 * FOLLOW, which orders the waits without making them, does not: they
 * differ by design (ep_threads' turn_changed, "0x22 in A, 0x00 in B",
 * tp-epochs-verify-ep_threads). What the program sees of them (who wakes,
 * in which order) is the order's, which the log holds.
 */
static void
cond_vars(struct rec_ep *ep)
{
	_Static_assert(ARRAY_SIZE(((struct rec_ep *)0)->cond_seen) == UPRR_SYNC_NSLOTS, "cond_seen");
	_cleanup_close_ int fd = -1;
	struct uprr_sync_head h;
	uint64_t slot_size;

	if (!ep->sync_log || (fd = open(ep->sync_log, O_RDONLY | O_CLOEXEC)) < 0 ||
	    pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || h.magic != UPRR_SYNC_MAGIC ||
	    h.nslots != UPRR_SYNC_NSLOTS)
		return;
	slot_size = uprr_sync_slot_size(h.nrecs);
	for (uint32_t i = 0; i < UPRR_SYNC_NSLOTS; i++) {
		off_t base = UPRR_SYNC_HEAD_SIZE + (off_t)i * (off_t)slot_size;
		struct uprr_sync_slot slot;
		struct uprr_sync_rec recs[256];

		if (pread(fd, &slot, sizeof(slot), base) != (ssize_t)sizeof(slot) || !slot.used)
			continue;
		for (uint64_t n = MIN(slot.count, h.nrecs); ep->cond_seen[i] < n;) {
			uint64_t want = MIN(n - ep->cond_seen[i], ARRAY_SIZE(recs));
			ssize_t got = pread(fd, recs, want * sizeof(*recs),
					    base + (off_t)sizeof(slot) + (off_t)(ep->cond_seen[i] * sizeof(*recs)));
			uint64_t k;

			if (got <= 0)
				break;
			for (k = 0; k < (uint64_t)got / sizeof(*recs); k++) {
				bool known = false;

				if (!recs[k].kind)
					break; /* not complete yet: read again next time */
				if (recs[k].kind != UPRR_SYNC_COND_SIGNAL &&
				    recs[k].kind != UPRR_SYNC_COND_BROADCAST)
					continue;
				for (size_t j = 0; j < ep->nconds && !known; j++)
					known = ep->conds[j] == recs[k].obj;
				if (!known && UTIL_GROW(ep->conds, ep->conds_cap, ep->nconds + 1) == 0)
					ep->conds[ep->nconds++] = recs[k].obj;
			}
			ep->cond_seen[i] += k;
			if (k < (uint64_t)got / sizeof(*recs) || k < want)
				break;
		}
	}
}

/* uprr's own memory in EP process @pid (not the program's state; it
 * differs from the TP run's by design), appended to @v: the
 * interposer's log, mapped privately and read-only here, shared and
 * written there; the interposer's data and bss (libuprr-sync.so runs in
 * mode tp in the TP run and FOLLOW here: sync_mode and tp_mode differ). */
static int
own_ranges(const struct rec_ep *ep, pid_t pid, struct checkpoint_range **v, size_t *n, size_t *cap)
{
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	size_t nmaps = 0;
	int r = tracee_read_maps(pid, &maps, &nmaps);

	if (r < 0)
		return r;
	/* the condition variables' words (cond_vars()); an object of one
	 * process named at the same address in another leaves those bytes
	 * out there too */
	cond_vars((struct rec_ep *)ep);
	if (UTIL_GROW(*v, *cap, *n + ep->nconds) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < ep->nconds; i++)
		(*v)[(*n)++] = (struct checkpoint_range){ ep->conds[i], sizeof(pthread_cond_t) };
	for (size_t i = 0; i < nmaps; i++) {
		const struct tracee_mapping *m = &maps[i];

		const char *base = strrchr(m->path, '/');

		if (base && !strncmp(base, "/ld-linux", 9) && m->perms[1] == 'w') {
			r = loader_apic_id(pid, m, v, n, cap);
			if (r < 0)
				return r;
			continue;
		}
		if (base && strstr(base, "libuprr-sync.so") && m->offset == 0) {
			r = elf_data(m->path, m->start, v, n, cap);
			if (r < 0)
				return r;
			continue;
		}
		if (!ep->sync_log || strcmp(m->path, ep->sync_log) != 0)
			continue;
		if (UTIL_GROW(*v, *cap, *n + 1) < 0)
			return -ENOMEM;
		(*v)[(*n)++] = (struct checkpoint_range){ m->start, m->end - m->start };
	}
	return 0;
}

/* The syscall buffer's fixed pages (preload/uprr-preload.h) and the stub
 * mappings its site patches made (ep_log_stubs()): the TP run maps them
 * (its buffer is on), the EP run does not. A stub mapping is left out only
 * where EP process @pid maps nothing (what it maps there is the
 * program's); it is not known which process made it (a fork's child has
 * its parent's). Appended to @v. */
static int
buffer_pages(const struct rec_ep *ep, pid_t pid, struct checkpoint_range **v, size_t *n,
	     size_t *cap)
{
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	const struct ep_stub_area *s;
	size_t nmaps = 0, ns = 0;
	int r = tracee_read_maps(pid, &maps, &nmaps);

	if (r < 0)
		return r;
	if (UTIL_GROW(*v, *cap, *n + 2) < 0)
		return -ENOMEM;
	(*v)[(*n)++] = (struct checkpoint_range){ UPRR_PRELOAD_ADDR, UPRR_PRELOAD_MAP_SIZE };
	/* and the EP run's own: soft ticks' page, mapped where it
	 * preempts a thread in user code (sched/ticks-soft.c) */
	(*v)[(*n)++] = (struct checkpoint_range){ PATCH_TICK_PAGE, 4096 };
	s = ep_log_stubs(ep->log, &ns);
	for (size_t i = 0; i < ns; i++) {
		bool mapped = false;

		for (size_t j = 0; j < nmaps && !mapped; j++)
			mapped = maps[j].start < s[i].addr + s[i].len && s[i].addr < maps[j].end;
		if (mapped)
			continue;
		if (UTIL_GROW(*v, *cap, *n + 1) < 0)
			return -ENOMEM;
		(*v)[(*n)++] = (struct checkpoint_range){ s[i].addr, s[i].len };
	}
	return 0;
}

/* How far up the stack of thread @tid (its registers @regs, NULL: read
 * them) the syscall buffer's library's frames reach, with the red zone
 * of the program's site the stub skipped above them; 0 if the thread is
 * not in the library, or its way in is not found. A patched site's stub
 * skips the red zone and calls the library (preload/entry.S,
 * syscall_abi_entry): the first slot up from the stack pointer holding an
 * address in a stub area is that call's return address, and the site's
 * stack pointer 128 bytes above it. The library runs in record mode in
 * the TP run and in replay mode here: its frames hold other values (the
 * registers it saved, its locals; seen: pipe_threads' read(2) ends,
 * 0xca in A and 0 in B in the library's buffered()), and the stub that
 * it returns to may be another of the same area (0x7ffff7da618b in A,
 * 0x7ffff7da61bb in B: the sites patched in another order). A stale
 * stub address in a library slot found first only makes the part left
 * out smaller. */
static uint64_t
library_top(const struct rec_ep *ep, pid_t tid, const struct user_regs_struct *regs)
{
	struct user_regs_struct rr;
	const struct ep_stub_area *s;
	uint64_t slots[512];
	size_t ns = 0;

	if (!ep->sb)
		return 0;
	if (!regs) {
		if (tracee_get_regs(tid, &rr) < 0)
			return 0;
		regs = &rr;
	}
	if (regs->rip < UPRR_PRELOAD_ADDR || regs->rip >= UPRR_PRELOAD_ADDR + UPRR_PRELOAD_CODE_SIZE)
		return 0;
	s = ep_log_stubs(ep->log, &ns);
	/* 512 bytes at a time: the stack's mapping may end before 4 KiB */
	for (size_t i = 0; i < ARRAY_SIZE(slots); i++) {
		if (i % 64 == 0 && tracee_read(tid, regs->rsp + 8 * i, slots + i, 512) < 0)
			break;
		for (size_t j = 0; j < ns; j++)
			if (slots[i] >= s[j].addr && slots[i] < s[j].addr + s[j].len)
				return regs->rsp + 8 * (i + 1) + 128;
	}
	log_debug("thread %d: in the buffer's library at %#llx, no stub's return address found above "
		  "%#llx: its frames compared", tid, regs->rip, regs->rsp);
	return 0;
}

void
rec_ep_note_exit(struct recorder *rec, const struct rthread *t)
{
	struct rec_ep *ep = rec->ep;
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	size_t nmaps = 0;
	uint64_t top;

	if (!ep || tracee_read_maps(t->tid, &maps, &nmaps) < 0)
		return;
	/* the thread's frames end at its call, but for the buffer's
	 * library's, whose values differ between the runs by design
	 * (library_top()): below that, what its last calls left, which
	 * nothing reads but a later thread's unwritten slots where glibc
	 * gives the stack again (the check drops the range then). Seen:
	 * tp_fsum's first adder, gone, its stack at 0x7fffdfbfec48 held the
	 * library's frames of record mode in A, replay mode in B. */
	top = library_top(ep, t->tid, &t->regs);
	if (!top)
		top = t->regs.rsp;
	for (size_t j = 0; j < nmaps; j++) {
		if (t->regs.rsp < maps[j].start || t->regs.rsp >= maps[j].end)
			continue;
		if (UTIL_GROW(ep->dead, ep->dead_cap, ep->ndead + 1) < 0)
			return; /* not left out: the check says where it differs */
		ep->dead[ep->ndead++] = (struct ep_patched){ t->tgid, maps[j].start,
							     top - maps[j].start };
	}
}

/* The stacks of process @pid's threads gone (rec_ep_note_exit()), but
 * those a thread of it (@tids, @n) runs on again, appended to @v. */
static int
gone_stacks(const struct rec_ep *ep, pid_t pid, const pid_t *tids, size_t n,
	    struct checkpoint_range **v, size_t *nv, size_t *cap)
{
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	size_t nmaps = 0;
	int r = tracee_read_maps(pid, &maps, &nmaps);

	for (size_t i = 0; i < ep->ndead && r >= 0; i++) {
		const struct ep_patched *d = &ep->dead[i];
		bool live = false;

		if (d->tgid != pid)
			continue;
		/* a thread on the same mapping: glibc gave the stack again */
		for (size_t k = 0; k < n && !live; k++) {
			struct user_regs_struct regs;

			if (tracee_get_regs(tids[k], &regs) < 0)
				continue;
			for (size_t j = 0; j < nmaps && !live; j++)
				live = maps[j].start <= d->addr && d->addr < maps[j].end &&
				       maps[j].start <= regs.rsp && regs.rsp < maps[j].end;
		}
		if (live)
			continue;
		if (UTIL_GROW(*v, *cap, *nv + 1) < 0)
			return -ENOMEM;
		(*v)[(*nv)++] = (struct checkpoint_range){ d->addr, d->len };
	}
	return r;
}

/* How far up its stack thread @tid's signal frames reach that it scans
 * for: SCAN_FRAMES_BYTES above its stack pointer. */
#define SCAN_FRAMES_BYTES 65536u

/*
 * The syscall buffer's library's frames of calls a signal handler
 * interrupted, in the stack of B's thread @tid at @rsp (A's @atid at the
 * same point): a handler delivered while the library ran a call (at that
 * call's exit: SIGPIPE after a write to a pipe with no reader) has its
 * frames below the library's, whose values differ between the runs by
 * design (library_top()); at an epoch's end inside the handler they are
 * live (sig_unblock catch, --epoch=5: "0 in A, 0x6d011068 in B" at
 * 0x7fffffffe290, the library's record pointer, 2 recordings in 10). Each
 * signal frame (struct rt_sigframe: an interrupted rip in the library, cs
 * the user's, an rsp above the frame) whose library frames reach as far up
 * in A as in B gives the range from its interrupted rsp to there, appended
 * to @v. A slot that only looks like a frame makes the part compared
 * smaller, never a divergence.
 */
static int
handler_library_frames(const struct rec_ep *ep, pid_t tid, pid_t atid, uint64_t rsp, uint64_t end,
		       struct checkpoint_range **v, size_t *nv, size_t *cap)
{
	_cleanup_free_ uint64_t *slots = NULL;
	size_t len = MIN((size_t)(end - rsp), (size_t)SCAN_FRAMES_BYTES) & ~7ul, n;

	if (!ep->sb || !atid || len < ARCH_SIGFRAME_CSGSFS_OFFSET + 8)
		return 0;
	slots = malloc(len);
	if (!slots)
		return -ENOMEM;
	if (tracee_read(tid, rsp, slots, len) < 0)
		return 0; /* not left out: the check says where it differs */
	n = len / 8;
	for (size_t i = 0; i + ARCH_SIGFRAME_CSGSFS_OFFSET / 8 < n; i++) {
		struct user_regs_struct in = { 0 }, ain = { 0 };
		uint64_t at = rsp + 8 * i, top, atop;

		in.rip = slots[i + ARCH_SIGFRAME_RIP_OFFSET / 8];
		in.rsp = slots[i + ARCH_SIGFRAME_RSP_OFFSET / 8];
		if (in.rip < UPRR_PRELOAD_ADDR || in.rip >= UPRR_PRELOAD_ADDR + UPRR_PRELOAD_CODE_SIZE ||
		    (slots[i + ARCH_SIGFRAME_CSGSFS_OFFSET / 8] & 0xffff) != ARCH_USER_CS ||
		    in.rsp <= at || in.rsp >= end)
			continue;
		top = library_top(ep, tid, &in);
		if (!top ||
		    tracee_read(atid, at + ARCH_SIGFRAME_RSP_OFFSET, &ain.rsp, sizeof(ain.rsp)) < 0 ||
		    tracee_read(atid, at + ARCH_SIGFRAME_RIP_OFFSET, &ain.rip, sizeof(ain.rip)) < 0 ||
		    ain.rsp != in.rsp || ain.rip != in.rip)
			continue;
		atop = library_top(ep, atid, &ain);
		if (atop != top)
			continue;
		if (UTIL_GROW(*v, *cap, *nv + 1) < 0)
			return -ENOMEM;
		(*v)[(*nv)++] = (struct checkpoint_range){ in.rsp, top - in.rsp };
		log_debug("thread %d: the library's frames under a handler, %#" PRIx64 " to %#" PRIx64
			  ", left out", tid, (uint64_t)in.rsp, top);
	}
	return 0;
}

/* The dead part of each thread's stack in process @pid (threads @tids,
 * @n of them, stopped): below its stack pointer, down to the start of the
 * mapping it is in. The ABI leaves what is below the red zone to whatever
 * runs next (a signal handler's frame, a callee's): it holds what code
 * that ran and returned left there, which differs between the two runs by
 * design (libuprr-sync.so takes other paths in the TP run and in FOLLOW
 * mode; the syscall buffer's library runs in the TP run only, its frames
 * below a patched site's red zone). The red zone is left out too: a
 * thread stands at a syscall, and a deeper frame's red zone holds what the
 * library's frames of an earlier call left (seen: pipe_threads' producer
 * at clock_nanosleep(2), 0x42 at rsp - 128 in the TP run's copy, 0 in the
 * EP run, in 2 of 5 recordings with the buffer on, never with it off).
 * What a leaf function keeps there across its syscall is not compared;
 * what the call reads there is, when the EP run matches the call.
 * Appended to @v. */
static int
dead_stacks(const struct rec_ep *ep, pid_t pid, const pid_t *tids, const pid_t *atids, size_t na,
	    size_t n, struct checkpoint_range **v, size_t *nv, size_t *cap)
{
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	size_t nmaps = 0;
	int r = tracee_read_maps(pid, &maps, &nmaps);

	for (size_t i = 0; i < n && r >= 0; i++) {
		struct user_regs_struct regs;
		uint64_t low, top;

		if (tracee_get_regs(tids[i], &regs) < 0)
			continue;
		low = regs.rsp;
		/* a thread in the buffer's library (both runs run it): its
		 * frames are uprr's, and A's are the same only where the
		 * paths were (library_top()) */
		top = library_top(ep, tids[i], &regs);
		if (top && i < na && top == library_top(ep, atids[i], NULL)) {
			if (UTIL_GROW(*v, *cap, *nv + 1) < 0)
				return -ENOMEM;
			(*v)[(*nv)++] = (struct checkpoint_range){ regs.rsp, top - regs.rsp };
		}
		for (size_t j = 0; j < nmaps; j++) {
			if (regs.rsp < maps[j].start || regs.rsp >= maps[j].end)
				continue;
			r = handler_library_frames(ep, tids[i], i < na ? atids[i] : 0, regs.rsp,
						   maps[j].end, v, nv, cap);
			if (r < 0)
				return r;
			if (maps[j].start >= low)
				continue;
			if (UTIL_GROW(*v, *cap, *nv + 1) < 0)
				return -ENOMEM;
			(*v)[(*nv)++] = (struct checkpoint_range){ maps[j].start, low - maps[j].start };
		}
	}
	return r;
}

/* The file process @tgid maps for file @id of the log: uprr's memfd of it
 * for a shared mapping (record-ep.c's shared_fd()), else the log's kept
 * copy; its identity into @st. */
static int
mapped_as(struct rec_ep *ep, uint32_t id, bool shared, const char *copy, struct stat *st)
{
	uint32_t first;

	if (!shared)
		return stat(copy, st);
	if (ep_log_file_first(ep->log, id, &first) < 0)
		return -1;
	for (size_t i = 0; i < ep->nshared; i++)
		if (ep->shared[i].first == first)
			return fstat(ep->shared[i].fd, st);
	return -1;
}

/* The log's kept copies of files (and uprr's memfds of files mapped
 * shared) that process @tgid maps in place of the originals the TP run
 * mapped, into *@ret (@n of them; paths in @paths, PATH_MAX each). */
static int
file_aliases(struct rec_ep *ep, pid_t tgid, struct ep_file_alias **ret, size_t *n,
	     char (**paths)[PATH_MAX])
{
	size_t cap = 0, pcap = 0;

	for (size_t i = 0; i < ep->nfiles; i++) {
		const char *copy, *original;
		struct stat st;

		if (ep->files[i].tgid != tgid ||
		    ep_log_file(ep->log, ep->files[i].id, &copy, &original) < 0 || !original ||
		    mapped_as(ep, ep->files[i].id, ep->files[i].shared, copy, &st) < 0)
			continue;
		if (UTIL_GROW(*ret, cap, *n + 1) < 0 || UTIL_GROW(*paths, pcap, *n + 1) < 0)
			return -ENOMEM;
		if (!realpath(original, (*paths)[*n]))
			snprintf((*paths)[*n], PATH_MAX, "%s", original);
		(*ret)[*n] = (struct ep_file_alias){ st.st_dev, st.st_ino, NULL };
		(*n)++;
	}
	for (size_t i = 0; i < *n; i++)
		(*ret)[i].path = (*paths)[i];
	return 0;
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
		r = own_ranges(ep, tgid, &p->ignore, &p->nignore, &p->ignore_cap);
	if (r >= 0)
		r = dead_stacks(ep, tgid, p->tids, p->a.tids, p->a.ntids, p->b.ntids, &p->ignore,
				&p->nignore, &p->ignore_cap);
	if (r >= 0)
		r = gone_stacks(ep, tgid, p->tids, p->b.ntids, &p->ignore, &p->nignore, &p->ignore_cap);
	if (r >= 0)
		r = buffer_pages(ep, tgid, &p->ignore, &p->nignore, &p->ignore_cap);
	if (r >= 0)
		r = patched_ranges(ep, &p->ignore, &p->nignore, &p->ignore_cap);
	for (size_t i = 0; i < p->b.ntids && r >= 0; i++) {
		pid_t log_tid = ep_log_tid(ep->log, p->tids[i]);
		const struct ep_end *te = log_tid ? end_at(ep->log, log_tid, ep->k) : NULL;

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
		r = file_aliases(ep, tgid, &p->aliases, &p->b.naliases, &p->paths);
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

/* How far above the stack pointer rec_interposer_frames() looks, in bytes. */
#define EP_INTERPOSER_SCAN 8192

/* (another value pointing into its code than a return address only leaves
 * an epoch unchecked, or an end put elsewhere) */
bool
rec_interposer_frames(pid_t tid, uint64_t rsp)
{
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	uint64_t slots[EP_INTERPOSER_SCAN / 8];
	size_t nmaps = 0, ncode = 0;

	if (tracee_read_maps(tid, &maps, &nmaps) < 0)
		return true; /* not known: not compared */
	/* its code's mappings, first: the scan compares each slot with them */
	for (size_t j = 0; j < nmaps; j++)
		if (maps[j].perms[2] == 'x' && strstr(maps[j].path, "libuprr-sync.so"))
			maps[ncode++] = maps[j];
	for (size_t i = 0; i < ARRAY_SIZE(slots) && ncode; i++) {
		/* 512 bytes at a time: the stack's mapping may end sooner */
		if (i % 64 == 0 && tracee_read(tid, rsp + 8 * i, slots + i, 512) < 0)
			break;
		for (size_t j = 0; j < ncode; j++)
			if (slots[i] >= maps[j].start && slots[i] < maps[j].end)
				return true;
	}
	return false;
}

/*
 * Why a thread that stands at its end at the entry of a traced call of
 * the syscall buffer's library (EP_WHY_LIBRARY) cannot be compared, or
 * EP_WHY_NONE. The library's frames differ between the runs by design
 * (the TP run's library made the call from its entry under the end's
 * request, this run's after finding no record): they are left out only
 * where a stub's return address bounds them (library_top()); with none
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
		if (!library_top(ep, t->tid, NULL))
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
		write_verdict(rec, ep->k, 2);
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
		write_verdict(rec, ep->k, 2);
		return;
	}
	if (verdict) {
		v->verified++;
		log_debug("epoch %" PRIu64 " verified (%" PRIu64 " us)", ep->k - 1, ns / 1000);
		write_verdict(rec, ep->k, 1);
		return;
	}
	v->diverged++;
	if (!v->first[0])
		snprintf(v->first, sizeof(v->first), "epoch %" PRIu64 ": %s", ep->k - 1, what);
	log_info("epoch %" PRIu64 " diverged from checkpoint %" PRIu64 ": %s", ep->k - 1, ep->k, what);
	ep->diverged = !ep->go_on;
	write_verdict(rec, ep->k, 0);
}

/* Check the epoch while every thread stands at its end, and go on. */
static void
settle(struct recorder *rec)
{
	struct rec_ep *ep = rec->ep;

	while (ep->k && !rec->done && all_parked(rec)) {
		check_epoch(rec);
		ep->last_k = ep->k;
		start_written(rec);
		next_epoch(rec);
		let_go(rec);
	}
}

/* Leave the epoch ep->k ends unchecked (@why) and go on. */
static void
give_up(struct recorder *rec, const char *why, bool stall)
{
	struct rec_ep *ep = rec->ep;

	count_unchecked(ep, stall ? EP_WHY_STALL : EP_WHY_PASSED);
	ep->verdicts->stalls += stall;
	log_info("epoch %" PRIu64 " not checked: %s", ep->k - 1, why);
	write_verdict(rec, ep->k, 2);
	ep->stall_ns = 0;
	next_epoch(rec);
	let_go(rec);
	settle(rec);
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

	ep->progress += entry;
	if (!ep->ckpts || rec->done)
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
			give_up(rec, why, false);
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

	if (!ep->ckpts || !ep->follow || rec->done || !ep->k)
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
	 * holds that epoch, they wait for nothing the log will bring */
	if (ep->follow && !ep_log_whole(ep->log)) {
		if (ep_log_checkpoints(ep->log) <= ep->k && ep->stall_rounds++ < EP_STALL_ROUNDS)
			return rec_ep_more(rec, "threads parked, the others cannot run");
		give_up(rec, "its threads did not all reach their ends", true);
		return true;
	}
	if (now - ep->stall_ns < EP_STALL_NS) {
		*wait_ns = EP_STALL_NS / 5;
		return false;
	}
	give_up(rec, "its threads did not all reach their ends", true);
	return true;
}
