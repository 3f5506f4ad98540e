/* SPDX-License-Identifier: MIT */
/*
 * Memory checkpoints (checkpoint.h). Three kernel objects do the work, the
 * first two through the dirty log (dirty.c):
 *
 * - a userfaultfd of the tracee's mm in asynchronous write-protect mode: a
 *   write (by the program or by the kernel on its behalf) to a protected page
 *   just unprotects it, so "not protected" means "written since the last
 *   protection" (Documentation/admin-guide/mm/userfaultfd.rst, Linux 6.7);
 * - /proc/PID/pagemap's PAGEMAP_SCAN ioctl, which lists those pages and, with
 *   PM_SCAN_WP_MATCHING, protects them again in the same walk;
 * - the mirror, a fork of the tracee that never runs: its copy-on-write pages
 *   are the restore point's memory, as it was at the fork; the pages each
 *   sync copies since go into the store (store.c), an area of ours beside
 *   it, a bit a page saying where a page's copy is.
 *
 * A process uprr did not start cannot have such a mirror: forked through the
 * tracee with CLONE_PARENT it would be a child of the program, which its
 * wait(2) or waitid(P_ALL, __WALL) would see and reap, and whose end would
 * raise SIGCHLD in it. Its restore point is a "shadow" instead: a sparse
 * memfd of ours where the byte at file offset A is the restore point's byte
 * at address A (user addresses end below 2^47, tmpfs files may be 2^63
 * long), filled by a full copy of its private writable memory at each remap
 * (all-zero pages are left as holes) and then kept up to date by each sync
 * exactly as a mirror.
 *
 * Pages the mirror cannot hold (the main stack grew below the extent it had
 * at the fork; a MADV_DONTFORK mapping) are kept in our memory ("saved
 * pages"); pages of MAP_SHARED mappings are the mirror's own too, so they are
 * tracked only to refuse a rollback that would need them.
 */
#define LOG_PREFIX "checkpoint"
#include "checkpoint/checkpoint.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "checkpoint/checkpoint-private.h"
#include "common/log.h"
#include "tracee/tracee.h"


static void
checkpoint_freep(struct checkpoint **c)
{
	checkpoint_free(*c);
}

static int
seg_push(struct seg_list *l, uint64_t addr, uint64_t len, size_t off, enum piece_kind src)
{
	if (UTIL_GROW(l->v, l->cap, l->n + 1) < 0)
		return -ENOMEM;
	l->v[l->n++] = (struct seg){ addr, len, off, src };
	return 0;
}

int
cp_buf_reserve(struct checkpoint *c, size_t len)
{
	return UTIL_GROW(c->buf, c->buf_cap, len);
}

void
cp_buf_trim(struct checkpoint *c)
{
	if (c->buf_cap > BUF_KEEP) {
		free(c->buf);
		c->buf = NULL;
		c->buf_cap = 0;
	}
}

/* Index of the first saved page at or above @addr. */
static size_t
saved_lower_bound(const struct checkpoint *c, uint64_t addr)
{
	size_t lo = 0, hi = c->nsaved;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->saved[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int
saved_put(struct checkpoint *c, uint64_t addr, const uint8_t *data)
{
	size_t i = saved_lower_bound(c, addr);
	uint8_t *page;

	if (i < c->nsaved && c->saved[i].addr == addr) {
		memcpy(c->saved[i].data, data, CP_PAGE);
		return 0;
	}
	if (UTIL_GROW(c->saved, c->saved_cap, c->nsaved + 1) < 0)
		return -ENOMEM;
	page = malloc(CP_PAGE);
	if (!page)
		return -ENOMEM;
	memcpy(page, data, CP_PAGE);
	memmove(&c->saved[i + 1], &c->saved[i], (c->nsaved - i) * sizeof(*c->saved));
	c->saved[i] = (struct saved_page){ addr, page };
	c->nsaved++;
	return 0;
}

static void
saved_clear(struct checkpoint *c)
{
	for (size_t i = 0; i < c->nsaved; i++)
		free(c->saved[i].data);
	c->nsaved = 0;
}

/* The index of the first range of c->ranges that ends above @addr
 * (c->nranges if none does). */
static size_t
range_above(const struct checkpoint *c, uint64_t addr)
{
	size_t lo = 0, hi = c->nranges;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->ranges[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The range of c->ranges holding @addr, or NULL. */
static const struct range *
range_of(const struct checkpoint *c, uint64_t addr)
{
	size_t i = range_above(c, addr);

	return i < c->nranges && c->ranges[i].start <= addr ? &c->ranges[i] : NULL;
}

/* The offset in the store of @addr, in a private range of the mirror. */
static uint64_t
store_offset(const struct checkpoint *c, uint64_t addr)
{
	const struct range *rg = range_of(c, addr);

	assert(rg && rg->kind == RANGE_PRIVATE);
	return rg->store_off + addr - rg->start;
}

/*
 * The run of pages from @addr to at most @end whose restore-point copy is in
 * one place: returns that place and stores where the run ends.
 */
static enum piece_kind
classify(const struct checkpoint *c, uint64_t addr, uint64_t end, uint64_t *ret_end)
{
	enum piece_kind kind;
	size_t lo = range_above(c, addr);

	if (lo < c->nranges && c->ranges[lo].start <= addr) {
		end = MIN(end, c->ranges[lo].end);
		kind = c->ranges[lo].kind == RANGE_SHARED ? PIECE_SHARED : PIECE_MIRROR;
		if (kind == PIECE_MIRROR && c->store.mem) {
			/* the run of pages whose copy is in the same place */
			uint64_t o = c->ranges[lo].store_off + addr - c->ranges[lo].start;
			bool in_store = cp_store_has(&c->store, o);
			uint64_t e = addr + CP_PAGE;

			for (o += CP_PAGE; e < end && cp_store_has(&c->store, o) == in_store; o += CP_PAGE)
				e += CP_PAGE;
			end = e;
			if (in_store)
				kind = PIECE_STORE;
		}
	} else {
		if (lo < c->nranges)
			end = MIN(end, c->ranges[lo].start);
		kind = PIECE_UNMAPPED;
	}
	if (kind != PIECE_SHARED && c->nsaved > 0) {
		size_t i = saved_lower_bound(c, addr);

		if (i < c->nsaved && c->saved[i].addr == addr) {
			uint64_t e = addr + CP_PAGE;

			while (++i < c->nsaved && c->saved[i].addr == e && e < end)
				e += CP_PAGE;
			*ret_end = MIN(e, end);
			return PIECE_SAVED;
		}
		if (i < c->nsaved && c->saved[i].addr < end)
			end = c->saved[i].addr;
	}
	*ret_end = end;
	return kind;
}

bool
cp_in_private_range(const struct checkpoint *c, uint64_t addr, uint64_t len)
{
	for (size_t i = 0; i < c->nranges; i++)
		if (c->ranges[i].kind == RANGE_PRIVATE && addr < c->ranges[i].end &&
		    addr + len > c->ranges[i].start)
			return true;
	return false;
}

/*
 * Read [@off, +@len) of the shadow @fd: a hole reads as zeros, and so does
 * what lies past its end (it grows with the highest page written).
 */
static int
shadow_read(int fd, uint8_t *buf, uint64_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pread(fd, buf, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) {
			memset(buf, 0, len);
			return 0;
		}
		buf += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

/* pread(2)/pwrite(2) all of [@addr, +@len) through /proc/PID/mem @memfd, or
 * the shadow memfd when @shadow. */
static int
proc_mem_xfer(int memfd, bool shadow, bool write, uint8_t *buf, uint64_t len, uint64_t addr)
{
	if (shadow && !write)
		return shadow_read(memfd, buf, len, addr);
	return write ? tracee_write(memfd, addr, buf, len) : tracee_read_mem(memfd, addr, buf, len);
}

/*
 * Copy the segments of @l from index @from on whose src is @src (-1: all)
 * between our @buf (each at its off) and process @pid: process_vm_readv(2) or
 * process_vm_writev(2) with up to IOV_BATCH segments a call, then what those
 * could not move (read-only, PROT_NONE or absent pages) one segment at a time
 * through @memfd, /proc/PID/mem (FOLL_FORCE, proc(5)); @pid <= 0: no process,
 * @memfd is a shadow, all through it. Returns 0, or -EFAULT
 * with the first segment neither moved in *ret_bad, or -errno (-ESRCH: the
 * process is gone).
 */
static int
transfer(pid_t pid, int memfd, bool write, const struct seg_list *l, size_t from, int src,
	 uint8_t *buf, size_t *ret_bad)
{
	struct iovec local[IOV_BATCH], remote[IOV_BATCH];
	size_t idx[IOV_BATCH];
	size_t i = from;

	while (i < l->n) {
		uint64_t want = 0, done;
		size_t k = 0;
		ssize_t n = 0;

		for (; i < l->n && k < IOV_BATCH; i++) {
			const struct seg *s = &l->v[i];

			if (src >= 0 && s->src != (enum piece_kind)src)
				continue;
			local[k] = (struct iovec){ buf + s->off, s->len };
			remote[k] = (struct iovec){ (void *)(uintptr_t)s->addr, s->len };
			idx[k++] = i;
			want += s->len;
		}
		if (k == 0)
			break;
		/* no process (a shadow): all of it through @memfd */
		if (pid > 0)
			n = write ? process_vm_writev(pid, local, k, remote, k, 0)
				  : process_vm_readv(pid, local, k, remote, k, 0);
		if (n < 0 && errno == ESRCH)
			return -ESRCH;
		if (n == (ssize_t)want)
			continue;
		/* partial: the rest of this batch through /proc/PID/mem */
		done = n > 0 ? (uint64_t)n : 0;
		for (size_t j = 0; j < k; j++) {
			const struct seg *s = &l->v[idx[j]];
			uint64_t skip = done;
			int r;

			if (done >= s->len) {
				done -= s->len;
				continue;
			}
			done = 0;
			r = proc_mem_xfer(memfd, pid <= 0, write, buf + s->off + skip, s->len - skip,
					  s->addr + skip);
			if (r < 0) {
				*ret_bad = idx[j];
				return r;
			}
		}
	}
	return 0;
}

/*
 * One PAGEMAP_SCAN over [*start, c->dl.scan_end) for pages of tracked mappings
 * written since their last protection, into c->vec from index @at; with
 * @protect, protect them again (PM_SCAN_WP_MATCHING). Returns the number of
 * regions and moves *start to where the walk stopped (the vector filled up).
 */
static int
scan_written(struct checkpoint *c, uint64_t *start, bool protect, size_t at)
{
	/* WPALLOWED: only mappings registered with our userfaultfd, whose
	 * unprotected pages are the written ones */
	const struct dirty_scan how = {
		.mask = PAGE_IS_WPALLOWED | PAGE_IS_WRITTEN,
		.returned = PAGE_IS_WRITTEN,
		.protect = protect,
	};

	return dirty_log_scan(&c->dl, start, c->dl.scan_end, &how, c->vec + at, c->vec_cap - at);
}

/* Copy the segments of c->reads (@total bytes) from the tracee to where
 * they belong: the mirror, or our saved pages. */
static int
sync_flush(struct checkpoint *c, size_t total)
{
	size_t bad, from = 0;
	int r;

	r = cp_buf_reserve(c, total);
	if (r < 0)
		return r;
	r = transfer(c->pid, c->memfd, false, &c->reads, 0, -1, c->buf, &bad);
	if (r < 0)
		return r;
	for (;;) {
		r = transfer(c->mirror, c->mirror_mem, true, &c->reads, from, PIECE_MIRROR, c->buf, &bad);
		if (r != -EFAULT)
			break;
		/* the mirror lacks these pages (MADV_DONTFORK): keep them here */
		c->reads.v[bad].src = PIECE_SAVED;
		from = bad + 1;
	}
	if (r < 0)
		return r;
	for (size_t i = 0; i < c->reads.n; i++) {
		const struct seg *s = &c->reads.v[i];

		if (s->src != PIECE_SAVED)
			continue;
		for (uint64_t o = 0; o < s->len; o += CP_PAGE) {
			r = saved_put(c, s->addr + o, c->buf + s->off + o);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* Read the segments of c->direct from the tracee straight into the store,
 * where they are the restore point from now on. */
static int
sync_direct(struct checkpoint *c)
{
	size_t bad;
	int r;

	if (!c->direct.n)
		return 0;
	r = transfer(c->pid, c->memfd, false, &c->direct, 0, -1, c->store.mem, &bad);
	if (r < 0)
		return r;
	for (size_t i = 0; i < c->direct.n; i++)
		cp_store_mark(&c->store, c->direct.v[i].off, c->direct.v[i].len);
	c->direct.n = 0;
	return 0;
}

/* Copy the @nreg regions of c->vec to the restore point; adds to *pages. */
static int
sync_regions(struct checkpoint *c, size_t nreg, uint64_t *pages)
{
	size_t total = 0;
	int r;

	c->reads.n = 0;
	c->direct.n = 0;
	c->direct_pages = 0;
	for (size_t i = 0; i < nreg; i++) {
		uint64_t end;

		for (uint64_t a = c->vec[i].start; a < c->vec[i].end; a = end) {
			enum piece_kind kind = classify(c, a, c->vec[i].end, &end);

			/* shared with the mirror: nothing to copy (rollback refuses) */
			if (kind == PIECE_SHARED)
				continue;
			/* one copy, into the store, instead of two (into our
			 * buffer, then into the mirror), while the store has
			 * room (a page in it stays there) */
			if (kind == PIECE_STORE ||
			    (kind == PIECE_MIRROR && c->store.mem &&
			     c->store.pages + c->direct_pages + (end - a) / CP_PAGE <= CP_STORE_PAGES_MAX)) {
				r = seg_push(&c->direct, a, end - a, store_offset(c, a), PIECE_STORE);
				if (r < 0)
					return r;
				if (kind == PIECE_MIRROR)
					c->direct_pages += (end - a) / CP_PAGE;
				*pages += (end - a) / CP_PAGE;
				continue;
			}
			if (kind == PIECE_UNMAPPED)
				kind = PIECE_SAVED;
			for (uint64_t b = a, len; b < end; b += len) {
				len = MIN(end - b, SYNC_CHUNK);
				if (total + len > SYNC_CHUNK) {
					r = sync_flush(c, total);
					if (r < 0)
						return r;
					c->reads.n = 0;
					total = 0;
				}
				r = seg_push(&c->reads, b, len, total, kind);
				if (r < 0)
					return r;
				total += len;
				*pages += len / CP_PAGE;
			}
		}
	}
	r = sync_direct(c);
	if (r < 0)
		return r;
	return c->reads.n ? sync_flush(c, total) : 0;
}

int
checkpoint_sync(struct checkpoint *c)
{
	uint64_t start = 0, pages = 0, t0 = util_now_ns();
	int r = 0;

	if (c->stale)
		return -ESTALE;
	while (start < c->dl.scan_end) {
		uint64_t t1 = util_now_ns();

		r = scan_written(c, &start, true, 0);
		c->stats.scan_ns += util_now_ns() - t1;
		if (r < 0)
			break;
		r = sync_regions(c, (size_t)r, &pages);
		if (r < 0)
			break;
	}
	cp_buf_trim(c);
	if (r < 0) {
		/* pages were protected again that the mirror never got */
		c->stale = true;
		return log_debug_errno(r, "sync of %d", c->pid);
	}
	c->stats.syncs++;
	c->stats.pages_synced += pages;
	c->stats.pages_walked += c->dl.tracked_pages;
	c->stats.sync_ns += util_now_ns() - t0;
	return (int)MIN(pages, (uint64_t)INT_MAX);
}

/* Forget the saved pages of [@start, @end). */
static void
saved_drop(struct checkpoint *c, uint64_t start, uint64_t end)
{
	size_t i = saved_lower_bound(c, start), j = i;

	while (j < c->nsaved && c->saved[j].addr < end)
		free(c->saved[j++].data);
	if (j == i)
		return; /* none there (c->saved may be NULL) */
	memmove(&c->saved[i], &c->saved[j], (c->nsaved - j) * sizeof(*c->saved));
	c->nsaved -= j - i;
}

/* Append the parts of @s outside every range of @keep to c->pieces. */
static int
push_unkept(struct checkpoint *c, const struct seg *s, const struct checkpoint_range *keep,
	    size_t nkeep)
{
	uint64_t a = s->addr, end = s->addr + s->len;

	while (a < end) {
		uint64_t next = end;
		bool kept = false;
		int r;

		for (size_t k = 0; k < nkeep; k++) {
			uint64_t kend = keep[k].addr + keep[k].len;

			if (kend < keep[k].addr)
				kend = UINT64_MAX;
			if (keep[k].len == 0)
				continue;
			if (keep[k].addr <= a && a < kend) {
				a = MIN(kend, end);
				kept = true;
				break;
			}
			if (keep[k].addr > a && keep[k].addr < next)
				next = keep[k].addr;
		}
		if (kept)
			continue;
		r = seg_push(&c->pieces, a, next - a, s->off + (a - s->addr), s->src);
		if (r < 0)
			return r;
		a = next;
	}
	return 0;
}

static int
rollback(struct checkpoint *c, const struct checkpoint_range *keep, size_t nkeep)
{
	uint64_t start = 0;
	size_t nreg = 0, total = 0, bad;
	int r;

	if (c->stale)
		return -ESTALE;
	/* List everything first: nothing is written unless all of it can be. */
	while (start < c->dl.scan_end) {
		if (nreg == c->vec_cap) {
			struct page_region *v = realloc(c->vec, 2 * c->vec_cap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			c->vec = v;
			c->vec_cap *= 2;
		}
		r = scan_written(c, &start, false, nreg);
		if (r < 0)
			return r;
		nreg += (size_t)r;
	}
	c->reads.n = 0;
	for (size_t i = 0; i < nreg; i++) {
		uint64_t end;

		for (uint64_t a = c->vec[i].start; a < c->vec[i].end; a = end) {
			enum piece_kind kind = classify(c, a, c->vec[i].end, &end);

			if (kind == PIECE_SHARED) {
				log_debug("rollback of %d: written page 0x%" PRIx64 " is MAP_SHARED",
					  c->pid, a);
				return -ENOENT;
			}
			r = seg_push(&c->reads, a, end - a, total, kind);
			if (r < 0)
				return r;
			total += end - a;
		}
	}
	r = cp_buf_reserve(c, total);
	if (r < 0)
		return r;
	for (size_t i = 0; i < c->reads.n; i++) {
		const struct seg *s = &c->reads.v[i];

		if (s->src == PIECE_UNMAPPED) {
			/* not mapped at the restore point: fresh zero pages */
			memset(c->buf + s->off, 0, s->len);
		} else if (s->src == PIECE_STORE) {
			memcpy(c->buf + s->off, c->store.mem + store_offset(c, s->addr), s->len);
		} else if (s->src == PIECE_SAVED) {
			size_t j = saved_lower_bound(c, s->addr);

			for (uint64_t o = 0; o < s->len; o += CP_PAGE, j++)
				memcpy(c->buf + s->off + o, c->saved[j].data, CP_PAGE);
		}
	}
	r = transfer(c->mirror, c->mirror_mem, false, &c->reads, 0, PIECE_MIRROR, c->buf, &bad);
	if (r == -EFAULT) {
		log_debug("rollback of %d: the mirror lacks 0x%" PRIx64, c->pid, c->reads.v[bad].addr);
		return -ENOENT;
	}
	if (r < 0)
		return r;
	c->pieces.n = 0;
	for (size_t i = 0; i < c->reads.n; i++) {
		r = push_unkept(c, &c->reads.v[i], keep, nkeep);
		if (r < 0)
			return r;
	}
	r = transfer(c->pid, c->memfd, true, &c->pieces, 0, -1, c->buf, &bad);
	cp_buf_trim(c);
	if (r < 0)
		return log_debug_errno(r, "rollback of %d at 0x%" PRIx64, c->pid,
				       r == -EFAULT ? c->pieces.v[bad].addr : 0);
	c->stats.rollbacks++;
	c->stats.pages_restored += total / CP_PAGE;
	return (int)MIN(total / CP_PAGE, (uint64_t)INT_MAX);
}

int
checkpoint_rollback(struct checkpoint *c, const struct checkpoint_range *keep, size_t nkeep)
{
	uint64_t t0 = util_now_ns();
	int r = rollback(c, keep, nkeep);

	c->stats.rollback_ns += util_now_ns() - t0;
	return r;
}

/* dirty_log_track()'s report of a piece registered: into the ranges of
 * cp_track_mappings(), merged with the previous one of its kind. */
struct track_ctx {
	struct range *ranges;
	size_t n;
};

static int
track_added(void *arg, const struct tracee_mapping *m, uint64_t a, uint64_t end)
{
	struct track_ctx *t = arg;
	enum range_kind kind = m->perms[3] == 's' ? RANGE_SHARED : RANGE_PRIVATE;

	if (t->n > 0 && t->ranges[t->n - 1].end == a && t->ranges[t->n - 1].kind == kind)
		t->ranges[t->n - 1].end = end;
	else
		t->ranges[t->n++] = (struct range){ a, end, kind, 0 };
	return 0;
}

/* Register every writable mapping with the userfaultfd (already registered
 * ones are skipped by the kernel), but for the untracked ranges, and record
 * what was registered in c->ranges (dirty_log_track()). */
int
cp_track_mappings(struct checkpoint *c)
{
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	struct track_ctx t = { 0 };
	size_t n;
	int r;

	r = tracee_read_maps(c->pid, &maps, &n);
	if (r < 0)
		return r;
	c->sysv = false;
	for (size_t i = 0; i < n; i++)
		if (strncmp(maps[i].path, "/SYSV", 5) == 0)
			c->sysv = true;
	/* each untracked range cuts at most one piece in two */
	t.ranges = malloc((n + c->nuntracked + 1) * sizeof(*t.ranges));
	if (!t.ranges)
		return -ENOMEM;
	r = dirty_log_track(&c->dl, maps, n, c->untracked, c->nuntracked, track_added, &t);
	if (r < 0) {
		free(t.ranges);
		return r;
	}
	free(c->ranges);
	c->ranges = t.ranges;
	c->nranges = t.n;
	return 0;
}

/* Protect every page of the tracked mappings: nothing is written yet. */
int
cp_protect_all(struct checkpoint *c)
{
	return dirty_log_protect(&c->dl, 0, c->dl.scan_end);
}

/* SIGKILL our child @pid and reap it (past its PTRACE_EVENT_EXIT stop:
 * PTRACE_O_TRACEEXIT is inherited; ECHILD: someone's waitpid(-1) reaped
 * it). */
static void
kill_mirror(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	tracee_reap(pid);
}

/*
 * Have the new mirror @pid, which shares the program's file table
 * (CLONE_FILES), swap it for an empty one of its own: close_range(0, ~0,
 * CLOSE_RANGE_UNSHARE) copies no descriptor and closes none (Linux 5.9,
 * __close_range()). So the mirror holds no file open (a pipe still sees EOF
 * when the program closes its end, or exits) and nothing is closed on the
 * program's behalf (no flush, no inotify IN_CLOSE events).
 */
static int
drop_files(pid_t pid, int memfd)
{
	uint64_t args[6] = { 0, ~0U, CLOSE_RANGE_UNSHARE, 0, 0, 0 };
	int64_t res;
	int r;

	r = tracee_inject_syscall(pid, memfd, __NR_close_range, args, &res);
	if (r < 0)
		return r;
	return res < 0 ? log_debug_errno((int)res, "close_range in mirror %d", pid) : 0;
}

/*
 * Detach the new mirror @pid from the program's SysV shared memory segments
 * (mappings of "/SYSV<key>", proc(5)): a fork attaches them again, and the
 * program would see one more attachment in shmctl(2)'s shm_nattch per
 * mirror. Their pages are shared, never restorable, so the mirror needs none.
 */
static int
drop_sysv_segments(pid_t pid, int memfd)
{
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	size_t n;
	int r;

	r = tracee_read_maps(pid, &maps, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		uint64_t args[6] = { maps[i].start, maps[i].end - maps[i].start, 0, 0, 0, 0 };
		int64_t res;

		if (strncmp(maps[i].path, "/SYSV", 5) != 0 || maps[i].perms[3] != 's')
			continue;
		r = tracee_inject_syscall(pid, memfd, __NR_munmap, args, &res);
		if (r < 0)
			return r;
		if (res < 0)
			return log_debug_errno((int)res, "munmap of a SysV segment in mirror %d", pid);
	}
	return 0;
}

/* Fork a new mirror through stopped thread @tid and kill the old one. */
static int
fork_mirror(struct checkpoint *c, pid_t tid)
{
	/* CLONE_PARENT: our child, not the program's; CLONE_PTRACE: traced and
	 * stopped before it runs anything; CLONE_FILES: takes no reference to
	 * any open file (see drop_files()) */
	uint64_t args[6] = { CLONE_PARENT | CLONE_PTRACE | CLONE_FILES | SIGCHLD, 0, 0, 0, 0, 0 };
	struct user_regs_struct regs;
	int64_t child;
	uint8_t code[3];
	int status, fd, r;

	r = tracee_get_regs(tid, &regs);
	if (r < 0)
		return r;
	r = tracee_inject_syscall(tid, c->memfd, __NR_clone, args, &child);
	if (r < 0)
		return r;
	if (child < 0)
		return (int)child;
	/* A seized tracer's CLONE_PTRACE child is seized too and first reports
	 * a PTRACE_EVENT_STOP (ptrace(2), "Attaching and detaching"). */
	r = tracee_wait((pid_t)child, &status);
	if (r < 0 || !WIFSTOPPED(status) ||
	    (status >> 16 != PTRACE_EVENT_STOP && WSTOPSIG(status) != SIGSTOP)) {
		kill_mirror((pid_t)child);
		return r < 0 ? r : -EPROTO;
	}
	fd = tracee_open_mem((pid_t)child);
	if (fd < 0) {
		kill_mirror((pid_t)child);
		return fd;
	}
	r = drop_files((pid_t)child, fd);
	if (r == 0 && c->sysv)
		r = drop_sysv_segments((pid_t)child, fd);
	if (r < 0) {
		close(fd);
		kill_mirror((pid_t)child);
		return r;
	}
	/* The fork copied the injected `syscall; int3` at rip: writable code
	 * there is restore point, give it the program's bytes. */
	if (cp_in_private_range(c, regs.rip, sizeof(code)) &&
	    (tracee_read_mem(c->memfd, regs.rip, code, sizeof(code)) < 0 ||
	     tracee_write(fd, regs.rip, code, sizeof(code)) < 0))
		log_debug("mirror of %d: cannot fix code at 0x%llx", c->pid, regs.rip);
	kill_mirror(c->mirror);
	if (c->mirror_mem >= 0)
		close(c->mirror_mem);
	c->mirror = (pid_t)child;
	c->mirror_mem = fd;
	return 0;
}

/*
 * One PAGEMAP_SCAN over [*start, @end) into c->vec: the regions of pages
 * whose categories match (@mask all set, each of @inverted inverted; with
 * @protect, protect the matching pages again). Returns their number and
 * moves *start to where the walk stopped.
 */
int
cp_scan_range(struct checkpoint *c, uint64_t *start, uint64_t end, uint64_t mask, uint64_t inverted,
	   bool protect)
{
	const struct dirty_scan how = {
		.mask = mask,
		.inverted = inverted,
		.returned = mask,
		.protect = protect,
	};

	return dirty_log_scan(&c->dl, start, end, &how, c->vec, c->vec_cap);
}

/* Protect the pages of [@start, @end) (registered ones: the others are
 * skipped by the category). */
int
cp_protect_range(struct checkpoint *c, uint64_t start, uint64_t end)
{
	return dirty_log_protect(&c->dl, start, end);
}

int
checkpoint_discard(struct checkpoint *c, uint64_t addr, uint64_t len)
{
	uint64_t args[6] = { addr, len, MADV_DONTNEED, 0, 0, 0 };
	uint64_t end = (addr + len + CP_PAGE - 1) & ~(CP_PAGE - 1);
	int64_t res;
	int r;

	if (c->stale)
		return -ESTALE;
	if (end < addr)
		return -EINVAL;
	if (c->shadow) {
		r = cp_shadow_punch(c->mirror_mem, addr, end);
	} else {
		/* the mirror is stopped for good: it takes an injected syscall
		 * as it took close_range(2) at its fork (drop_files()) */
		r = tracee_inject_syscall(c->mirror, c->mirror_mem, __NR_madvise, args, &res);
		/* ENOMEM: part of the range is not mapped in the mirror (memory
		 * checkpoint_track_new() took), the rest was dropped (madvise(2)) */
		if (r >= 0 && res < 0 && res != -ENOMEM)
			r = (int)res;
	}
	if (r < 0) {
		c->stale = true; /* the mirror may be half done */
		return log_debug_errno(r, "discard of %d at 0x%" PRIx64, c->pid, addr);
	}
	saved_drop(c, addr, end);
	for (size_t i = 0; i < c->nranges && r >= 0; i++) {
		const struct range *rg = &c->ranges[i];
		uint64_t a = MAX(addr, rg->start), e = MIN(end, rg->end);

		if (rg->kind != RANGE_PRIVATE || a >= e)
			continue;
		/* the mirror dropped them too: no copy is the restore point's */
		if (c->store.mem)
			cp_store_drop(&c->store, rg->store_off + a - rg->start, e - a);
		/* and the pages read in the mirror as in the tracee (zeros,
		 * or their file's bytes): protected again, they are not
		 * copied by the next sync, which would find them all written
		 * (a thread's stack, 2,042 pages, that glibc drops at its exit:
		 * advise_stack_range(), nptl/pthread_create.c). Not in a
		 * shadow, whose hole reads as zeros where a private file
		 * mapping reads as its file. */
		if (!c->shadow)
			r = cp_protect_range(c, a, e);
	}
	if (r < 0) {
		c->stale = true; /* pages protected the store may not have */
		return log_debug_errno(r, "protecting %d at 0x%" PRIx64, c->pid, addr);
	}
	c->stats.discards++;
	return 0;
}

/* Add [@start, @end), disjoint from every range, to c->ranges as private. */
static int
range_insert(struct checkpoint *c, uint64_t start, uint64_t end)
{
	size_t i = 0;

	while (i < c->nranges && c->ranges[i].end <= start)
		i++;
	if (i > 0 && c->ranges[i - 1].end == start && c->ranges[i - 1].kind == RANGE_PRIVATE) {
		c->ranges[i - 1].end = end;
		if (i < c->nranges && c->ranges[i].start == end && c->ranges[i].kind == RANGE_PRIVATE) {
			c->ranges[i - 1].end = c->ranges[i].end;
			memmove(&c->ranges[i], &c->ranges[i + 1], (c->nranges - i - 1) * sizeof(*c->ranges));
			c->nranges--;
		}
		return 0;
	}
	if (i < c->nranges && c->ranges[i].start == end && c->ranges[i].kind == RANGE_PRIVATE) {
		c->ranges[i].start = start;
		return 0;
	}
	/* c->ranges was allocated for exactly its ranges (cp_track_mappings()) */
	{
		struct range *v = realloc(c->ranges, (c->nranges + 1) * sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->ranges = v;
	}
	memmove(&c->ranges[i + 1], &c->ranges[i], (c->nranges - i) * sizeof(*c->ranges));
	c->ranges[i] = (struct range){ start, end, RANGE_PRIVATE, 0 };
	c->nranges++;
	return 0;
}

/* Pages kept in our memory beyond which checkpoint_track_new() asks for a
 * fork instead (each costs a malloc'd page and a sorted insertion). */
#define SAVED_MAX 4096

int
checkpoint_track_new(struct checkpoint *c, uint64_t addr, uint64_t len)
{
	uint64_t end = (addr + len + CP_PAGE - 1) & ~(CP_PAGE - 1);
	int r;

	if (c->stale)
		return -ESTALE;
	if ((addr & (CP_PAGE - 1)) || end <= addr)
		return -EINVAL;
	if (c->nsaved > SAVED_MAX)
		return -E2BIG;
	for (size_t i = 0; i < c->nranges; i++)
		if (c->ranges[i].start < end && addr < c->ranges[i].end)
			return -EEXIST;
	r = dirty_log_register(&c->dl, addr, end);
	if (r < 0)
		return log_debug_errno(r, "%d: cannot track 0x%" PRIx64 "-0x%" PRIx64, c->pid, addr,
				       end);
	/* A shadow can hold any address: it holds zeros there from now on
	 * (a hole), and the range is one of its own, copied into by syncs
	 * and refreshed by remaps like the others. */
	r = c->shadow ? cp_shadow_punch(c->mirror_mem, addr, end) : 0;
	if (r >= 0 && c->shadow)
		r = range_insert(c, addr, end);
	if (r >= 0)
		r = cp_protect_range(c, addr, end);
	if (r < 0) {
		c->stale = true;
		return r;
	}
	saved_drop(c, addr, end);
	c->stats.tracked_new++;
	return 0;
}

/*
 * A new, empty store for the private ranges of the new mirror: syncs copy
 * into it from now on. Without one (no room), they write into the mirror.
 */
static void
store_new(struct checkpoint *c)
{
	uint64_t len = 0;

	cp_store_fini(&c->store);
	for (size_t i = 0; i < c->nranges; i++) {
		if (c->ranges[i].kind != RANGE_PRIVATE)
			continue;
		c->ranges[i].store_off = len;
		len += c->ranges[i].end - c->ranges[i].start;
	}
	if (cp_store_init(&c->store, len) < 0)
		log_debug("%d: syncs write into the mirror", c->pid);
}

int
checkpoint_remap(struct checkpoint *c, pid_t tid)
{
	uint64_t t0 = util_now_ns();
	int r;

	c->stale = true;
	if (c->shadow) {
		r = cp_shadow_remap(c);
	} else {
		cp_store_fini(&c->store); /* stale from here on */
		r = cp_track_mappings(c);
		if (r >= 0)
			r = cp_protect_all(c);
		if (r >= 0)
			r = fork_mirror(c, tid);
		if (r >= 0)
			store_new(c);
	}
	if (r < 0)
		return r;
	saved_clear(c);
	c->stale = false;
	c->stats.forks++;
	c->stats.remap_ns += util_now_ns() - t0;
	return 0;
}

int
checkpoint_new(pid_t pid, pid_t tid, int memfd, struct checkpoint **ret)
{
	return checkpoint_new_except(pid, tid, memfd, NULL, 0, ret);
}

int
checkpoint_new_except(pid_t pid, pid_t tid, int memfd, const struct checkpoint_range *untracked,
		      size_t nuntracked, struct checkpoint **ret)
{
	pid_t ppid;
	int r;

	r = tracee_parent(pid, &ppid);
	if (r < 0)
		return r;
	/* a mirror forked with CLONE_PARENT is our child only if the tracee is */
	return checkpoint_new_how(pid, tid, memfd, ppid != getpid(), untracked, nuntracked, ret);
}

int
checkpoint_new_how(pid_t pid, pid_t tid, int memfd, bool shadow,
		   const struct checkpoint_range *untracked, size_t nuntracked,
		   struct checkpoint **ret)
{
	_cleanup_(checkpoint_freep) struct checkpoint *c = NULL;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < nuntracked; i++)
		if ((untracked[i].addr | untracked[i].len) & (CP_PAGE - 1) || !untracked[i].len ||
		    untracked[i].addr + untracked[i].len < untracked[i].addr)
			return -EINVAL;
	if (nuntracked) {
		c->untracked = malloc(nuntracked * sizeof(*c->untracked));
		if (!c->untracked)
			return -ENOMEM;
		memcpy(c->untracked, untracked, nuntracked * sizeof(*c->untracked));
		c->nuntracked = nuntracked;
	}
	c->shadow = shadow;
	c->pid = pid;
	c->memfd = memfd;
	c->dl.uffd = c->dl.pagemap = c->mirror_mem = -1;
	c->mirror = -1;
	c->vec_cap = SCAN_VEC;
	c->vec = malloc(c->vec_cap * sizeof(*c->vec));
	if (!c->vec)
		return -ENOMEM;
	r = dirty_log_init(&c->dl, pid, tid, memfd);
	if (r < 0)
		return r;
	r = checkpoint_remap(c, tid);
	if (r < 0)
		return r;
	*ret = steal_ptr(&c);
	return 0;
}

void
checkpoint_get_stats(const struct checkpoint *c, struct checkpoint_stats *ret)
{
	*ret = c->stats;
}

struct dirty_log *
checkpoint_dirty_log(struct checkpoint *c)
{
	return &c->dl;
}

pid_t
checkpoint_mirror_pid(const struct checkpoint *c)
{
	return c->mirror;
}

void
checkpoint_free(struct checkpoint *c)
{
	if (!c)
		return;
	kill_mirror(c->mirror);
	if (c->mirror_mem >= 0)
		close(c->mirror_mem);
	dirty_log_fini(&c->dl);
	saved_clear(c);
	free(c->saved);
	cp_store_fini(&c->store);
	free(c->direct.v);
	free(c->ranges);
	free(c->untracked);
	free(c->vec);
	free(c->reads.v);
	free(c->pieces.v);
	free(c->buf);
	free(c);
}
