/* SPDX-License-Identifier: MIT */
/*
 * `uprr record --epoch-check` (a testing aid, doc/uniparallel.md "Epoch
 * boundaries and checkpoints"): each checkpoint copy compared with the
 * process it copies (ep/divergence.h), and the dirty log checked: a page
 * it did not list as written in the epoch must be as in the checkpoint
 * before. Out of record-epoch.c, which takes the checkpoints and calls
 * rec_epoch_check_copy() when the switch is on.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <unistd.h>

#include "checkpoint/dirty.h"
#include "checkpoint/process.h"
#include "common/log.h"
#include "common/util.h"
#include "ep/divergence.h"
#include "recorder/record-private.h"
#include "syscalls/syscalls.h"
#include "tracee/tracee.h"
#include "x86_64/arch.h"

int
rec_writable_pages(pid_t pid, struct dirty_pages *ret)
{
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	size_t n = 0;
	int r = tracee_read_maps(pid, &maps, &n);

	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const struct tracee_mapping *m = &maps[i];

		if (m->perms[1] != 'w' || (m->path[0] == '[' && strcmp(m->path, "[heap]") != 0 &&
					    strcmp(m->path, "[stack]") != 0))
			continue;
		if (UTIL_GROW(ret->v, ret->cap, ret->n + 1) < 0)
			return -ENOMEM;
		ret->v[ret->n++] = (struct checkpoint_range){ .addr = m->start, .len = m->end - m->start };
	}
	return 0;
}

/*
 * The test switch, for the dirty log: every writable page of process @pid
 * (now at checkpoint k) that its dirty log did not list as written in the
 * epoch (@written) must be as in @prev, the copy that is its checkpoint
 * k - 1 (stopped since; tp/epoch.c keeps it until k is handed over).
 * Returns the pages that differ (0: the log missed none), or -errno.
 */
static int64_t
check_unwritten(pid_t pid, pid_t prev, const struct dirty_pages *writable,
		const struct dirty_pages *written, uint64_t *ret_first, uint64_t *ret_compared)
{
	struct dirty_pages rest = { 0 };
	_cleanup_free_ uint64_t *ha = NULL, *hb = NULL;
	uint64_t npages = 0;
	int64_t differ = 0;
	size_t j = 0;
	int r = 0;

	/* writable minus written (both sorted, disjoint) */
	for (size_t i = 0; i < writable->n && r >= 0; i++) {
		uint64_t a = writable->v[i].addr, end = a + writable->v[i].len;

		while (a < end) {
			uint64_t stop = end;

			while (j < written->n && written->v[j].addr + written->v[j].len <= a)
				j++;
			if (j < written->n && written->v[j].addr <= a) {
				a = MIN(end, written->v[j].addr + written->v[j].len);
				continue;
			}
			if (j < written->n && written->v[j].addr < end)
				stop = written->v[j].addr;
			if (rest.n == rest.cap) {
				size_t cap = rest.cap ? rest.cap * 2 : 64;
				struct checkpoint_range *v = realloc(rest.v, cap * sizeof(*v));

				if (!v) {
					r = -ENOMEM;
					break;
				}
				rest.v = v;
				rest.cap = cap;
			}
			rest.v[rest.n++] = (struct checkpoint_range){ .addr = a, .len = stop - a };
			npages += (stop - a) / DIRTY_PAGE;
			a = stop;
		}
	}
	if (r >= 0 && npages) {
		ha = malloc(npages * sizeof(*ha));
		hb = malloc(npages * sizeof(*hb));
		r = !ha || !hb ? -ENOMEM : ep_hash_pages(pid, &rest, NULL, 0, ha);
		if (r >= 0)
			r = ep_hash_pages(prev, &rest, NULL, 0, hb);
	}
	for (uint64_t p = 0, i = 0, off = 0; r >= 0 && p < npages; p++) {
		if (ha[p] != hb[p] && !differ++)
			*ret_first = rest.v[i].addr + off;
		off += DIRTY_PAGE;
		if (off == rest.v[i].len) {
			i++;
			off = 0;
		}
	}
	*ret_compared = npages;
	dirty_pages_fini(&rest);
	return r < 0 ? r : differ;
}

/*
 * The test switch (rec_options.epoch_check): compare the fresh copy @c of
 * process @pid (threads @tids, @n of them, index for index the copy's) with
 * @pid itself, still stopped: every writable page, the mappings, every
 * thread's registers, XSAVE state and mask (ep_check_divergence()); then,
 * given @prev (its checkpoint k - 1's copy) and @written (the pages of the
 * epoch), check the dirty log (check_unwritten()). A
 * thread copied at the exit of a syscall (a traced one's exit stop, or a
 * buffered one's interrupt stop) is compared as the copy has it
 * (process.h): orig_rax -1, and rewound if the kernel will restart it; its
 * registers are set so for the check, and put back.
 */
void
rec_epoch_check_copy(struct recorder *rec, pid_t pid, const pid_t *tids, size_t n, struct checkpoint_copy *c,
	   pid_t prev, const struct dirty_pages *written)
{
	struct dirty_pages pages = { 0 };
	struct user_regs_struct *saved = calloc(n, sizeof(*saved));
	bool *rewound = calloc(n, sizeof(*rewound));
	struct ep_divergence d;
	struct ep_side a = { .pid = pid, .tids = tids, .ntids = n, .written = &pages };
	struct ep_side b = { .pid = checkpoint_copy_pid(c), .written = &pages };
	char what[512];
	int r = !saved || !rewound ? -ENOMEM : rec_writable_pages(pid, &pages);

	b.tids = checkpoint_copy_tids(c, &b.ntids);
	for (size_t i = 0; i < n && r >= 0; i++) {
		struct user_regs_struct regs;

		if (tracee_get_regs(tids[i], &saved[i]) < 0)
			continue;
		regs = saved[i];
		if ((int64_t)regs.orig_rax < 0)
			continue;
		if (sc_result_restarts((int64_t)regs.rax)) {
			regs.rip -= 2;
			regs.rax = regs.orig_rax;
		}
		regs.orig_rax = (uint64_t)-1;
		rewound[i] = tracee_set_regs(tids[i], &regs) == 0;
	}
	if (r >= 0)
		r = ep_check_divergence(&a, &b, &d);
	for (size_t i = 0; i < n; i++)
		if (rewound[i] && tracee_set_regs(tids[i], &saved[i]) < 0)
			log_warn("thread %d: cannot put its registers back", tids[i]);
	rec->epochs.checked++;
	if (r < 0) {
		rec->epochs.differed++;
		log_error("checkpoint %" PRIu64 " of process %d: cannot check it: %s", rec->epochs.k,
			  pid, strerror(-r));
	} else if (d.diverged) {
		rec->epochs.differed++;
		log_error("checkpoint %" PRIu64 " of process %d differs from it: %s", rec->epochs.k, pid,
			  ep_divergence_describe(&d, what, sizeof(what)));
		for (size_t i = 0; i < n; i++) {
			struct rthread *u = rec_find_thread(rec, tids[i]);

			log_error("  thread %d: %s, rip %#llx, orig_rax %#llx, rax %#llx", tids[i],
				  u && u->epoch_in_syscall ? "in a syscall" : "in user code", saved[i].rip,
				  saved[i].orig_rax, saved[i].rax);
		}
	} else {
		log_debug("checkpoint %" PRIu64 " of process %d: equal (%" PRIu64 " pages compared)",
			  rec->epochs.k, pid, d.pages_compared);
	}
	if (r >= 0 && prev && written) {
		uint64_t first = 0, compared = 0;
		int64_t missed = check_unwritten(pid, prev, &pages, written, &first, &compared);

		if (missed) {
			rec->epochs.differed++;
			if (missed < 0)
				log_error("checkpoint %" PRIu64 " of process %d: cannot check its dirty log: %s",
					  rec->epochs.k, pid, strerror((int)-missed));
			else
				log_error("checkpoint %" PRIu64 " of process %d differs from it: its dirty log "
					  "missed %" PRId64 " written pages of %" PRIu64 ", first at %#" PRIx64,
					  rec->epochs.k, pid, missed, compared, first);
		} else {
			rec->epochs.unwritten_checked += compared;
		}
	}
	dirty_pages_fini(&pages);
	free(saved);
	free(rewound);
}

