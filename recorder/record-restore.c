/* SPDX-License-Identifier: MIT */
/*
 * Restore points of the recorder's runs of user code (checkpoint/checkpoint.h):
 * when a run takes one, and what a change of the address space costs them.
 *
 * A restore point lets a thread that overran its timeslice in code with no
 * counting code yet run again from the start of its run, counted
 * (record-signals.c). Each costs a sync of the mirror (a copy of every page
 * written since the last one) and each change of the address space a fork of
 * a new mirror, so a run takes one only when it may be preempted, and the
 * changes that leave the restore point's memory as it was (madvise advice
 * about paging, mprotect that takes the write permission away) or that the
 * mirror can follow by itself (MADV_DONTNEED) cost no fork.
 */
#define LOG_PREFIX "record"
#include <asm/unistd.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "checkpoint/checkpoint.h"
#include "common/log.h"
#include "recorder/record-private.h"
#include "tracee/tracee.h"
#include "x86_64/arch.h"

/* Free @sp's restore points (its mirror dies), keeping their figures. */
void
rec_space_drop_checkpoint(struct recorder *rec, struct rspace *sp)
{
	struct checkpoint_stats cs;

	if (!sp->ckpt)
		return;
	checkpoint_get_stats(sp->ckpt, &cs);
	rec->ckpt_stats.syncs += cs.syncs;
	rec->ckpt_stats.pages_synced += cs.pages_synced;
	rec->ckpt_stats.forks += cs.forks;
	rec->ckpt_stats.rollbacks += cs.rollbacks;
	rec->ckpt_stats.pages_restored += cs.pages_restored;
	rec->ckpt_stats.sync_ns += cs.sync_ns;
	rec->ckpt_stats.scan_ns += cs.scan_ns;
	rec->ckpt_stats.pages_walked += cs.pages_walked;
	rec->ckpt_stats.remap_ns += cs.remap_ns;
	rec->ckpt_stats.rollback_ns += cs.rollback_ns;
	checkpoint_free(sp->ckpt);
	sp->ckpt = NULL;
}

/* @x rounded up to a whole page. */
#define PAGE_UP(x) (((x) + 4095) & ~(uint64_t)4095)

/* Whether madvise(2) advice @advice leaves the contents and the mappings of
 * memory as they were, so that the restore point needs nothing (madvise(2):
 * hints about access patterns, huge pages, core dumps). */
static bool
advice_keeps_memory(uint64_t advice)
{
	switch (advice) {
	case MADV_NORMAL:
	case MADV_RANDOM:
	case MADV_SEQUENTIAL:
	case MADV_WILLNEED:
	case MADV_HUGEPAGE:
	case MADV_NOHUGEPAGE:
	case MADV_DONTDUMP:
	case MADV_DODUMP:
		return true;
	default:
		return false;
	}
}

void
rec_restore_maps_changed(struct recorder *rec, struct rthread *t, int64_t result)
{
	rec_restore_map_change(rec, t->space, (long)t->model_nr, t->model_args, result);
}

void
rec_restore_map_change(struct recorder *rec, struct rspace *sp, long nr, const uint64_t a[6], int64_t result)
{
	uint64_t brk_was = sp->brk_end;

	(void)rec;
	if (nr == __NR_brk)
		sp->brk_end = (uint64_t)result; /* brk(2) returns the break, failed or not */
	/* where libuprr-sync's code is may have changed (rec_in_interposer()) */
	if (nr == __NR_mmap || nr == __NR_munmap || nr == __NR_mremap)
		sp->sync_looked = false;
	if (!sp->ckpt || sp->need_remap || sp->mem.users > 1) {
		sp->need_remap = true;
		return;
	}
	switch (nr) {
	case __NR_madvise:
		/* a failed madvise may have acted on part of its range (ENOMEM
		 * for a hole in it, madvise(2)): look again */
		if (result != 0)
			break;
		if (advice_keeps_memory(a[2]))
			return;
		if (a[2] == MADV_DONTNEED && checkpoint_discard(sp->ckpt, a[0], a[1]) == 0)
			return;
		break;
	case __NR_mmap:
		/* A mapping nobody can write (a library's code, a file read
		 * through mmap) holds no restore point: a later mprotect that
		 * makes it writable looks again. One over another (MAP_FIXED)
		 * unmaps it, which needs nothing, as munmap(2) (a failed one
		 * may have, mmap(2)). */
		if ((uint64_t)result >= (uint64_t)-4095 || !(a[2] & PROT_WRITE))
			return;
		/* new zeros: tracked where the restore point has nothing */
		if ((a[3] & MAP_TYPE) == MAP_PRIVATE && (a[3] & MAP_ANONYMOUS) &&
		    checkpoint_track_new(sp->ckpt, (uint64_t)result, a[1]) == 0)
			return;
		break;
	case __NR_brk:
		/* the heap grown past the end it had: new zeros (a heap that
		 * shrank needs nothing, as munmap(2)) */
		if (brk_was && PAGE_UP((uint64_t)result) <= PAGE_UP(brk_was))
			return;
		if (brk_was && checkpoint_track_new(sp->ckpt, PAGE_UP(brk_was),
						    PAGE_UP((uint64_t)result) - PAGE_UP(brk_was)) == 0)
			return;
		break;
	case __NR_mprotect:
	case __NR_pkey_mprotect:
		/* no new writable memory: the mirror holds what it held (the
		 * restore point's pages are read and written with FOLL_FORCE
		 * where process_vm_readv(2) cannot) */
		if (result == 0 && !(a[2] & PROT_WRITE))
			return;
		break;
	default:
		break;
	}
	sp->need_remap = true;
}

/* What rec_restore_point() does for @t's next run, decided once for it and
 * for rec_restore_point_wanted(). */
enum point_kind {
	POINT_TAKE,	/* a restore point */
	POINT_NEVER,	/* this run needs none: no execution point may be wanted */
	POINT_SHARED,	/* a vfork child's run in its parent's memory */
	POINT_ALONE,	/* no other thread may want the CPU, no signal expected */
};

static enum point_kind
point_kind(const struct recorder *rec, const struct rthread *t)
{
	const struct rspace *sp = t->space;

	/* Restore points cost a copy of every page a run writes: none are taken
	 * until a run may need an execution point. The exec stop is inside
	 * execve, where no syscall can be injected: the loader never needs one. */
	if (!sp->mem.soft || sp->unrestorable || !sp->may_preempt || sp->at_exec)
		return POINT_NEVER;
	/* A vfork child runs in its parent's memory until it execs or exits:
	 * the restore point is the parent's, which a checkpoint made or synced
	 * through the child would tie to a process that soon leaves it. */
	if (sp->mem.users > 1)
		return POINT_SHARED;
	/* Nothing will preempt a run while no other thread may want the CPU
	 * and no signal is expected: it needs no restore point (the copy of
	 * every page written since the last one). One that must stop anyway
	 * (a signal came, a thread woke) stops at a counted branch if it is
	 * in counting code, else at its next event. */
	if (sp->ckpt && !sp->signals && !rec_others_may_run(rec, t))
		return POINT_ALONE;
	return POINT_TAKE;
}

/* Whether rec_restore_point() would take a restore point for @t's next run
 * now (without its side effects). */
bool
rec_restore_point_wanted(const struct recorder *rec, const struct rthread *t)
{
	return point_kind(rec, t) == POINT_TAKE;
}

/*
 * @t is about to run user code: make this its restore point, if it may need
 * one. The checkpoint takes the memory (created at the first run: from then
 * on every run of user code can be rolled back), we take the registers.
 */
void
rec_restore_point(struct recorder *rec, struct rthread *t)
{
	struct rspace *sp = t->space;
	int r;

	rec->stats.runs++;
	switch (point_kind(rec, t)) {
	case POINT_NEVER:
		sp->at_exec = false;
		rec_syscallbuf_maps(rec, t, true); /* nothing rolls this run back */
		return;
	case POINT_SHARED:
		t->xstate_len = 0; /* this run cannot be rolled back */
		rec_syscallbuf_maps(rec, t, false); /* its parent's restore point */
		return;
	case POINT_ALONE:
		/* and it makes no buffered futex wake, which would let a
		 * waiter run with no event of this thread first */
		rec_syscallbuf_wakes(rec, t, false);
		rec_syscallbuf_maps(rec, t, true);
		t->xstate_len = 0;
		rec->stats.points_alone++;
		return;
	case POINT_TAKE:
		break;
	}
	rec->stats.points++;
	rec_syscallbuf_wakes(rec, t, true); /* before the checkpoint: a rollback keeps it */
	/* a mapping change the recorder learns of only at the flush could not
	 * be rolled back (the mirror and its dirty log do not know of it) */
	rec_syscallbuf_maps(rec, t, false);
	t->start_regs = t->regs;
	if (!sp->ckpt) {
		struct checkpoint_range untracked;

		if (sp->mem.syscallbuf)
			rec_syscallbuf_untracked(&untracked);
		r = checkpoint_new_except(t->tgid, t->tid, sp->mem.memfd, &untracked,
					  sp->mem.syscallbuf ? 1 : 0, &sp->ckpt);
		if (r == -ESRCH)
			return; /* exiting (a group exit in progress): see waitpid */
		if (r < 0) {
			log_warn("cannot checkpoint process %d (%s): its CPU-bound threads "
				 "will not be preempted", t->tgid, strerror(-r));
			sp->unrestorable = true;
			return;
		}
		sp->need_remap = false;
	} else {
		r = sp->need_remap ? checkpoint_remap(sp->ckpt, t->tid) : checkpoint_sync(sp->ckpt);
		if (r == -ESTALE) /* an earlier one failed half-way (a thread vanished) */
			r = checkpoint_remap(sp->ckpt, t->tid);
		sp->need_remap = false;
		if (r == -ESRCH)
			return; /* exiting (a group exit in progress): see waitpid */
		if (r < 0) {
			rec_stop_recording(rec, "cannot checkpoint the program: %s", strerror(-r));
			return;
		}
	}
	if (sp->mem.syscallbuf)
		rec_syscallbuf_save_head(rec, t);
	if (!t->xstate)
		t->xstate = malloc(arch_xstate_size());
	if (!t->xstate ||
	    tracee_get_xstate(t->tid, t->xstate, arch_xstate_size(), &t->xstate_len) < 0 ||
	    tracee_get_sigmask(t->tid, &t->start_mask) < 0)
		t->xstate_len = 0; /* this run cannot be rolled back */
}
