/* SPDX-License-Identifier: MIT */
/*
 * The owner of a TP run's checkpoints (tp/epoch.h): a list of (k, process,
 * copy, pages written), the last TP_EPOCHS_KEPT checkpoint numbers kept.
 */
#define LOG_PREFIX "tp-epoch"
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>

#include "checkpoint/dirty.h"
#include "checkpoint/process.h"
#include "common/log.h"
#include "tp/epoch.h"

struct tp_checkpoint {
	uint64_t k;
	pid_t pid;
	struct checkpoint_copy *copy;
	struct dirty_pages *written; /* NULL: none known */
};

struct tp_epochs {
	struct tp_checkpoint *v;
	size_t n, cap;
};

static void
drop(struct tp_checkpoint *c)
{
	checkpoint_copy_free(c->copy);
	if (c->written)
		dirty_pages_fini(c->written);
	free(c->written);
}

static void
keep(void *arg, uint64_t k, pid_t pid, struct checkpoint_copy *copy, struct dirty_pages *written)
{
	struct tp_epochs *e = arg;
	size_t j = 0;

	/* those older than the last TP_EPOCHS_KEPT numbers go first */
	for (size_t i = 0; i < e->n; i++) {
		if (e->v[i].k + TP_EPOCHS_KEPT <= k)
			drop(&e->v[i]);
		else
			e->v[j++] = e->v[i];
	}
	e->n = j;
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 8;
		struct tp_checkpoint *v = realloc(e->v, cap * sizeof(*v));

		if (!v) {
			log_warn("out of memory: checkpoint %" PRIu64 " of process %d not kept", k, pid);
			drop(&(struct tp_checkpoint){ .copy = copy, .written = written });
			return;
		}
		e->v = v;
		e->cap = cap;
	}
	e->v[e->n++] = (struct tp_checkpoint){ .k = k, .pid = pid, .copy = copy, .written = written };
}

static void
drop_all(void *arg)
{
	struct tp_epochs *e = arg;

	for (size_t i = 0; i < e->n; i++)
		drop(&e->v[i]);
	e->n = 0;
}

struct tp_epochs *
tp_epochs_new(struct rec_epoch_keeper *ret_keeper)
{
	struct tp_epochs *e = calloc(1, sizeof(*e));

	if (e)
		*ret_keeper = (struct rec_epoch_keeper){ .arg = e, .keep = keep, .drop_all = drop_all };
	return e;
}

struct checkpoint_copy *
tp_epochs_find(const struct tp_epochs *e, uint64_t k, pid_t pid, const struct dirty_pages **ret_written)
{
	for (size_t i = 0; i < e->n; i++) {
		if (e->v[i].k != k || e->v[i].pid != pid)
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
		alive += kill(checkpoint_copy_pid(e->v[i].copy), 0) == 0;
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
	for (size_t i = 0; i < e->n; i++)
		drop(&e->v[i]);
	free(e->v);
	free(e);
}
