/* SPDX-License-Identifier: MIT */
/*
 * The owner of a TP run's checkpoints (tp/epoch.h): a list of (k, process,
 * copy, pages written), the last TP_EPOCHS_KEPT checkpoint numbers kept,
 * or all of them up to TP_EPOCHS_CAP numbers (tp_epochs_new_all()).
 */
#define LOG_PREFIX "tp-epoch"
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "checkpoint/dirty.h"
#include "checkpoint/process.h"
#include "common/util.h"
#include "kernel-merge/kernel-merge.h"
#include "common/log.h"
#include "tp/epoch.h"
#include "tracee/tracee.h"

/* How many checkpoint numbers back the kernel state is kept at least: a
 * re-run starts from the epoch the EP run diverged in, which lock-step
 * checks while the TP run stands at its end or a little later. Past them,
 * that of the checkpoints from the last epoch verified on
 * (tp_epochs_verified()), up to TP_STATE_UNVERIFIED numbers back: an EP
 * run that goes on beside its TP run (overlap) checks epochs several
 * checkpoints behind it (2-7 in cond_idle's recordings). A record holds
 * uprr's duplicates of the process's descriptors: the bound keeps their
 * number to that many times the program's. */
#define TP_STATE_KEPT 4
#define TP_STATE_UNVERIFIED 16

/* What the TP run did to kernel objects in epoch k (from checkpoint k on;
 * on_call, on_read): the files it wrote, the input it read from outside. */
struct epoch_rec {
	uint64_t k;
	struct kmerge_epoch *rec;
};

struct tp_checkpoint {
	uint64_t k;
	pid_t pid;
	struct checkpoint_copy *copy;
	struct dirty_pages *written; /* NULL: none known */
	/* its process's kernel state there, for a re-run from it (tp/rerun.c):
	 * the copy's descriptors before they were closed, NULL: not kept */
	struct kmerge_epoch *fds;
	char *cwd;		/* malloc'd, NULL: not read */
	unsigned umask;
	struct rec_timers timers; /* its timers there (keep()'s) */
};


struct tp_epochs {
	struct tp_checkpoint *v;
	size_t n, cap;
	bool all;		  /* keep them all (up to TP_EPOCHS_CAP numbers) */
	struct tp_checkpoint *owed; /* thinned: pages written owed to the next kept */
	size_t nowed, owed_cap;
	uint64_t thinned;	  /* checkpoint numbers freed by thin() */
	/* the records of the epochs a re-run may start from (state_needed()),
	 * in the order of k */
	struct epoch_rec *recs;
	size_t nrecs, recs_cap;
	uint64_t verified;	  /* the last checkpoint an epoch verified ends */
};

/* Whether the kernel state at checkpoint (or of epoch) @k may still be
 * needed by a re-run, checkpoint @now taken: one of the last
 * TP_STATE_KEPT, or of the last TP_STATE_UNVERIFIED not before the last
 * verified epoch's end. */
static bool
state_needed(const struct tp_epochs *e, uint64_t k, uint64_t now)
{
	return k + TP_STATE_KEPT > now || (k >= e->verified && k + TP_STATE_UNVERIFIED > now);
}

static void
drop_state(struct tp_checkpoint *c)
{
	kmerge_epoch_free(c->fds);
	c->fds = NULL;
	free(c->cwd);
	c->cwd = NULL;
}

static void
drop(struct tp_checkpoint *c)
{
	drop_state(c);
	checkpoint_copy_free(c->copy);
	if (c->written)
		dirty_pages_fini(c->written);
	free(c->written);
}

/* @into (pages written in an epoch) grows by @from's, which is freed; NULL
 * (not known) wins. */
static void
merge_written(struct dirty_pages **into, struct dirty_pages *from)
{
	struct dirty_pages u = { 0 };

	if (*into && from && dirty_pages_union(*into, from, &u) >= 0) {
		dirty_pages_fini(*into);
		**into = u;
	} else {
		dirty_pages_fini(&u);
		if (*into)
			dirty_pages_fini(*into);
		free(*into);
		*into = NULL;
	}
	if (from)
		dirty_pages_fini(from);
	free(from);
}

/* Give @c the pages written owed to its process by checkpoints thinned out
 * before it. */
static void
pay_owed(struct tp_epochs *e, struct tp_checkpoint *c)
{
	size_t j = 0;

	for (size_t i = 0; i < e->nowed; i++) {
		if (e->owed[i].pid != c->pid) {
			e->owed[j++] = e->owed[i];
			continue;
		}
		/* its pages first, then this epoch's */
		merge_written(&e->owed[i].written, c->written);
		c->written = e->owed[i].written;
	}
	e->nowed = j;
}

/* At TP_EPOCHS_CAP numbers: free every other one (the 2nd, 4th... of the
 * numbers kept), its pages written going to the next one of its process
 * (or owed to the next one to come). */
static void
thin(struct tp_epochs *e)
{
	uint64_t nth = 0, last = UINT64_MAX;
	size_t j = 0;

	for (size_t i = 0; i < e->n; i++) {
		struct tp_checkpoint *c = &e->v[i];
		bool later = false;

		if (c->k != last) {
			nth++;
			last = c->k;
			if (nth % 2 == 0)
				e->thinned++;
		}
		if (nth % 2) {
			e->v[j++] = *c;
			continue;
		}
		checkpoint_copy_free(c->copy);
		for (size_t l = i + 1; l < e->n && !later; l++)
			if (e->v[l].pid == c->pid && e->v[l].k != c->k) {
				struct dirty_pages *w = e->v[l].written;

				e->v[l].written = c->written;
				merge_written(&e->v[l].written, w);
				later = true;
			}
		if (later)
			continue;
		if (UTIL_GROW(e->owed, e->owed_cap, e->nowed + 1) < 0) {
			log_warn("out of memory: the pages process %d wrote before checkpoint %" PRIu64
				 " are lost to the next check", c->pid, c->k);
			merge_written(&c->written, NULL);
			continue;
		}
		e->owed[e->nowed++] = (struct tp_checkpoint){ .k = c->k, .pid = c->pid,
							      .written = c->written };
	}
	e->n = j;
}

/* Checkpoint numbers kept. */
static size_t
numbers(const struct tp_epochs *e)
{
	size_t n = 0;

	for (size_t i = 0; i < e->n; i++)
		n += !i || e->v[i].k != e->v[i - 1].k;
	return n;
}

/*
 * A checkpoint kept for an EP run's check holds no file open: its fork
 * copied the process's descriptors, and a pipe's write end open in a kept
 * copy keeps the reader from its EOF for good (pipe_threads' consumer
 * waited in read(2) until killed). close_range(2) injected into its first
 * thread closes them all (its threads share one table).
 */
static void
drop_files(struct checkpoint_copy *copy)
{
	uint64_t args[6] = { 0, ~0U, 0, 0, 0, 0 };
	size_t n = 0;
	const pid_t *tids = checkpoint_copy_tids(copy, &n);
	int64_t res = 0;
	int r;

	if (!n)
		return;
	r = tracee_inject_syscall(tids[0], checkpoint_copy_mem(copy), __NR_close_range, args, &res);
	if (r < 0 || res < 0)
		log_warn("copy %d: cannot close its files (%s): a pipe it holds sees no EOF",
			 checkpoint_copy_pid(copy), strerror(r < 0 ? -r : (int)-res));
}

/* What a re-run from checkpoint @c needs of its process and cannot read
 * later (tp/rerun.c): the descriptors of @c's copy, which its fork made
 * the TP run's at the checkpoint (offsets, flags, a file's description
 * kept: kmerge_epoch_save_fds()), its working directory and umask. */
static void
save_state(struct tp_checkpoint *c)
{
	char path[64], cwd[PATH_MAX], line[128];
	pid_t pid = checkpoint_copy_pid(c->copy);
	ssize_t n;
	FILE *f;

	if (kmerge_epoch_new(c->k, &c->fds) < 0)
		return;
	if (kmerge_epoch_save_fds(c->fds, pid) < 0 || kmerge_epoch_save_queues(c->fds, pid) < 0) {
		drop_state(c);
		return;
	}
	snprintf(path, sizeof(path), "/proc/%d/cwd", pid);
	n = readlink(path, cwd, sizeof(cwd) - 1);
	if (n > 0) {
		cwd[n] = 0;
		c->cwd = strdup(cwd);
	}
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Umask: %o", &c->umask) == 1)
			break;
	if (f)
		fclose(f);
	if (!c->cwd)
		drop_state(c);
}

static void
keep(void *arg, uint64_t k, pid_t pid, struct checkpoint_copy *copy, struct dirty_pages *written,
     const struct rec_timers *timers)
{
	struct tp_epochs *e = arg;
	struct tp_checkpoint c = {
		.k = k, .pid = pid, .copy = copy, .written = written, .timers = *timers,
	};
	size_t j = 0;

	if (e->all) {
		for (size_t i = 0; i < e->n; i++)
			if (!state_needed(e, e->v[i].k, k))
				drop_state(&e->v[i]);
		/* epoch k's record begins (those no re-run needs go) */
		if (!e->nrecs || e->recs[e->nrecs - 1].k != k) {
			size_t m = 0;

			for (size_t i = 0; i < e->nrecs; i++) {
				if (state_needed(e, e->recs[i].k, k) && e->recs[i].rec)
					e->recs[m++] = e->recs[i];
				else
					kmerge_epoch_free(e->recs[i].rec);
			}
			e->nrecs = m;
			if (UTIL_GROW(e->recs, e->recs_cap, e->nrecs + 1) == 0 &&
			    kmerge_epoch_new(k, &e->recs[e->nrecs].rec) == 0)
				e->recs[e->nrecs++].k = k;
		}
		save_state(&c);
		drop_files(copy);
		if (e->n && e->v[e->n - 1].k != k && numbers(e) >= TP_EPOCHS_CAP) {
			thin(e);
			log_debug("%d checkpoints kept: every other one freed, epochs checked get "
				  "longer", TP_EPOCHS_CAP);
		}
		goto add;
	}
	/* those older than the last TP_EPOCHS_KEPT numbers go first */
	for (size_t i = 0; i < e->n; i++) {
		if (e->v[i].k + TP_EPOCHS_KEPT <= k)
			drop(&e->v[i]);
		else
			e->v[j++] = e->v[i];
	}
	e->n = j;
add:
	if (UTIL_GROW(e->v, e->cap, e->n + 1) < 0) {
		log_warn("out of memory: checkpoint %" PRIu64 " of process %d not kept", k, pid);
		drop(&c);
		return;
	}
	e->v[e->n++] = c;
	if (e->nowed)
		pay_owed(e, &e->v[e->n - 1]);
}

static void
drop_all(void *arg)
{
	struct tp_epochs *e = arg;
	size_t j = 0;

	/* the copies go; the kernel state a re-run from a checkpoint needs
	 * stays until tp_epochs_free() (tp/rerun.c restores from it once
	 * the TP run is gone) */
	for (size_t i = 0; i < e->n; i++) {
		struct tp_checkpoint c = e->v[i];

		checkpoint_copy_free(c.copy);
		if (c.written)
			dirty_pages_fini(c.written);
		free(c.written);
		c.copy = NULL;
		c.written = NULL;
		if (c.fds)
			e->v[j++] = c;
	}
	e->n = j;
	for (size_t i = 0; i < e->nowed; i++)
		merge_written(&e->owed[i].written, NULL);
	e->nowed = 0;
}

/* The record of the epoch the TP run makes now (the latest begun). */
static struct kmerge_epoch *
current_record(struct tp_epochs *e);

/* rec_epoch_keeper.on_call: the epoch's record notes what the call will
 * change (a file's bytes it overwrites: their pre-image), for the undo of
 * a re-run from a checkpoint before it (tp/rerun.c), whichever process
 * makes it. */
static void on_call(void *arg, pid_t tid, pid_t tgid, long nr, const uint64_t args[6]);

static struct kmerge_epoch *
current_record(struct tp_epochs *e)
{
	return e->nrecs ? e->recs[e->nrecs - 1].rec : NULL;
}

static void
on_call(void *arg, pid_t tid, pid_t tgid, long nr, const uint64_t args[6])
{
	struct tp_epochs *e = arg;
	struct kmerge_epoch *rec = current_record(e);

	if (rec)
		kmerge_epoch_on_entry(rec, tid, tgid, nr, args);
	/* an epoll instance made: the connections kept for a re-run are let
	 * go (one added to it, then closed by the program, would stay in it) */
	if (nr == __NR_epoll_create || nr == __NR_epoll_create1)
		for (size_t i = 0; i < e->n; i++)
			if (e->v[i].pid == tgid)
				kmerge_epoch_drop_conns(e->v[i].fds);
}

/* rec_epoch_keeper.on_read: the epoch's record keeps the bytes the read
 * took from outside the recording, for a re-run from a checkpoint before
 * it (tp/rerun.c). */
static void
on_read(void *arg, pid_t tid, pid_t tgid, int memfd, long nr, const uint64_t args[6], int64_t result)
{
	struct kmerge_epoch *rec = current_record(arg);

	if (rec)
		kmerge_epoch_on_exit(rec, tid, tgid, memfd, nr, args, result);
}

struct tp_epochs *
tp_epochs_new(struct rec_epoch_keeper *ret_keeper)
{
	struct tp_epochs *e = calloc(1, sizeof(*e));

	if (e)
		*ret_keeper = (struct rec_epoch_keeper){ .arg = e, .keep = keep, .drop_all = drop_all,
							 .on_call = on_call, .on_read = on_read };
	return e;
}

static struct checkpoint_copy *
find(void *arg, uint64_t k, pid_t pid, const struct dirty_pages **ret_written)
{
	return tp_epochs_find(arg, k, pid, ret_written);
}

struct tp_epochs *
tp_epochs_new_all(struct rec_epoch_keeper *ret_keeper, struct rec_ep_checkpoints *ret_checkpoints)
{
	struct tp_epochs *e = tp_epochs_new(ret_keeper);

	if (!e)
		return NULL;
	e->all = true;
	*ret_checkpoints = (struct rec_ep_checkpoints){ .arg = e, .find = find };
	return e;
}

uint64_t
tp_epochs_thinned(const struct tp_epochs *e)
{
	return e->thinned;
}

struct checkpoint_copy *
tp_epochs_find(const struct tp_epochs *e, uint64_t k, pid_t pid, const struct dirty_pages **ret_written)
{
	for (size_t i = 0; i < e->n; i++) {
		if (e->v[i].k != k || e->v[i].pid != pid || !e->v[i].copy)
			continue;
		if (ret_written)
			*ret_written = e->v[i].written;
		return e->v[i].copy;
	}
	return NULL;
}

size_t
tp_epochs_count(const struct tp_epochs *e)
{
	return e->n;
}

void
tp_epochs_log(const struct tp_epochs *e)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	size_t alive = 0;

	for (size_t i = 0; i < e->n; i++) {
		lo = MIN(lo, e->v[i].k);
		hi = MAX(hi, e->v[i].k);
		/* stopped, traced by us: still there to be resumed */
		alive += e->v[i].copy && kill(checkpoint_copy_pid(e->v[i].copy), 0) == 0;
	}
	if (e->n)
		log_info("checkpoints kept at the end: %" PRIu64 " to %" PRIu64 ", %zu copies (%zu alive)",
			 lo, hi, e->n, alive);
}

void
tp_epochs_free(struct tp_epochs *e)
{
	if (!e)
		return;
	drop_all(e);
	for (size_t i = 0; i < e->n; i++)
		drop(&e->v[i]);
	for (size_t i = 0; i < e->nrecs; i++)
		kmerge_epoch_free(e->recs[i].rec);
	free(e->recs);
	free(e->v);
	free(e->owed);
	free(e);
}

bool
tp_epochs_take_state(struct tp_epochs *e, uint64_t k, pid_t pid, struct kmerge_epoch **ret_fds,
		     char **ret_cwd, unsigned *ret_umask, struct rec_timers *ret_timers)
{
	for (size_t i = 0; i < e->n; i++) {
		if (e->v[i].k != k || e->v[i].pid != pid || !e->v[i].fds)
			continue;
		*ret_fds = e->v[i].fds;
		*ret_cwd = e->v[i].cwd;
		*ret_umask = e->v[i].umask;
		*ret_timers = e->v[i].timers;
		e->v[i].fds = NULL;
		e->v[i].cwd = NULL;
		return true;
	}
	return false;
}

void
tp_epochs_verified(struct tp_epochs *e, uint64_t k)
{
	if (e)
		e->verified = MAX(e->verified, k);
	for (size_t i = 0; e && i < e->n; i++)
		if (e->v[i].k < k)
			kmerge_epoch_drop_conns(e->v[i].fds);
}

size_t
tp_epochs_pids(const struct tp_epochs *e, uint64_t k, pid_t *pids, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < e->n; i++)
		if (e->v[i].k == k && n < cap)
			pids[n++] = e->v[i].pid;
	return n;
}

size_t
tp_epochs_take_records(struct tp_epochs *e, uint64_t k, struct kmerge_epoch **recs, size_t cap)
{
	size_t first = 0, n;

	while (first < e->nrecs && e->recs[first].k < k)
		first++;
	/* every epoch from k to the latest, none missing, or none */
	n = e->nrecs - first;
	if (!n || e->recs[first].k != k || e->recs[e->nrecs - 1].k != k + n - 1 || n > cap)
		return 0;
	for (size_t i = 0; i < n; i++) {
		recs[i] = e->recs[first + i].rec;
		e->recs[first + i].rec = NULL;
	}
	e->nrecs = first;
	return n;
}
