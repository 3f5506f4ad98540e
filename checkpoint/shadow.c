/* SPDX-License-Identifier: MIT */
/*
 * The shadow of a checkpoint (checkpoint.c): the restore point of a process
 * uprr did not start, a sparse memfd of ours indexed by address, filled at
 * each remap by a copy of the private writable memory (pages of zeros left
 * as holes) and then kept up to date by the syncs as a mirror would be.
 */
#define LOG_PREFIX "checkpoint"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "checkpoint/checkpoint-private.h"
#include "common/log.h"
#include "common/util.h"
#include "tracee/tracee.h"

/* Whether the CP_PAGE bytes at @p are all zero. */
static bool
page_is_zero(const uint8_t *p)
{
	static const uint8_t zero[CP_PAGE];

	return memcmp(p, zero, CP_PAGE) == 0;
}

/*
 * Copy [@addr, @end) of the tracee into the shadow @fd, leaving pages of
 * zeros as holes. A chunk that cannot be read whole is read page by page,
 * and a page that cannot be read at all (a file mapping past the end of its
 * file, SIGBUS) is left out: the program cannot write it either.
 */
static int
shadow_copy(struct checkpoint *c, int fd, uint64_t addr, uint64_t end)
{
	for (uint64_t a = addr; a < end; a += SYNC_CHUNK) {
		uint64_t len = MIN(end - a, SYNC_CHUNK), run = 0;
		bool whole = tracee_read_mem(c->memfd, a, c->buf, len) == 0;

		for (uint64_t o = 0; o <= len; o += CP_PAGE) {
			bool keep = o < len &&
				    (whole || tracee_read_mem(c->memfd, a + o, c->buf + o, CP_PAGE) == 0) &&
				    !page_is_zero(c->buf + o);
			int r;

			if (keep) {
				run += CP_PAGE;
				continue;
			}
			if (run) {
				r = tracee_write(fd, a + o - run, c->buf + o - run, run);
				if (r < 0)
					return r;
			}
			run = 0;
		}
	}
	return 0;
}

/*
 * Append the populated pages (present or swapped) of [@start, @end) to *@v
 * (*@n of them, *@cap allocated): the others of an anonymous mapping read
 * as zeros. Before the range is write-protected: the protection's markers on
 * its unpopulated pages (PTE markers, Linux 6.7's UFFD_FEATURE_WP_ASYNC)
 * read as swapped to PAGEMAP_SCAN, so afterwards every page looks populated
 * (a 12 MiB syscall buffer area, 3,000 pages, read at each child's fork).
 */
static int
populated_ranges(struct checkpoint *c, uint64_t start, uint64_t end, struct range **v, size_t *n,
		 size_t *cap)
{
	static const struct dirty_scan how = {
		.anyof = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		.returned = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
	};

	while (start < end) {
		uint64_t from = start;
		int k = dirty_log_scan(&c->dl, &start, end, &how, c->vec, c->vec_cap);

		if (k < 0)
			return k;
		if (UTIL_GROW(*v, *cap, *n + (size_t)k) < 0)
			return -ENOMEM;
		for (int i = 0; i < k; i++)
			(*v)[(*n)++] = (struct range){ c->vec[i].start, c->vec[i].end, RANGE_PRIVATE, 0 };
		if (start <= from)
			return 0;
	}
	return 0;
}

/* Copy the @n ranges at @v into the shadow @fd. */
static int
copy_ranges(struct checkpoint *c, int fd, const struct range *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = shadow_copy(c, fd, v[i].start, v[i].end);

		if (r < 0)
			return r;
	}
	return 0;
}

/* Make [@start, @end) of the shadow @fd a hole (reads as zeros). */
int
cp_shadow_punch(int fd, uint64_t start, uint64_t end)
{
	if (start < end &&
	    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)start, (off_t)(end - start)) < 0)
		return -errno;
	return 0;
}

/* An anonymous mapping (no file, or the heap, a stack): untouched pages
 * read as zeros. */
static bool
anonymous(const struct tracee_mapping *m)
{
	return m->path[0] == 0 || m->path[0] == '[';
}

/*
 * Protect the tracked memory of the tracee (what it writes from here on is
 * in the next sync) and fill a new shadow with the private part as it is
 * now, and swap it for the old one. Pages of zeros stay holes; of an
 * anonymous mapping only the populated pages are read, as they were
 * before the protection (populated_ranges()). The tracee is stopped; what
 * the kernel writes for its other threads' syscalls in between is kept
 * across a rollback anyway (checkpoint_rollback()'s @keep).
 */
static int
protect_fill_shadow(struct checkpoint *c)
{
	_cleanup_close_ int fd = memfd_create("uprr-restore-point", MFD_CLOEXEC);
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	_cleanup_free_ struct range *pop = NULL;
	size_t n, npop = 0, pop_cap = 0;
	int r;

	if (fd < 0)
		return -errno;
	r = tracee_read_maps(c->pid, &maps, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r >= 0; i++)
		if (cp_in_private_range(c, maps[i].start, maps[i].end - maps[i].start) && anonymous(&maps[i]))
			r = populated_ranges(c, maps[i].start, maps[i].end, &pop, &npop, &pop_cap);
	if (r >= 0)
		r = cp_protect_all(c);
	if (r >= 0)
		r = cp_buf_reserve(c, SYNC_CHUNK);
	if (r < 0)
		return r;
	r = copy_ranges(c, fd, pop, npop);
	for (size_t i = 0; i < n && r >= 0; i++) {
		const struct tracee_mapping *m = &maps[i];

		if (cp_in_private_range(c, m->start, m->end - m->start) && !anonymous(m))
			r = shadow_copy(c, fd, m->start, m->end);
	}
	cp_buf_trim(c);
	if (r < 0)
		return log_debug_errno(r, "shadow of %d", c->pid);
	if (c->mirror_mem >= 0)
		close(c->mirror_mem);
	c->mirror_mem = steal_fd(&fd);
	return 0;
}

/* The ranges registered with our userfaultfd now (PAGE_IS_WPALLOWED), in
 * address order, into *ret (malloc'd). */
static int
registered_ranges(struct checkpoint *c, struct range **ret, size_t *ret_n)
{
	/* registered before: below the end of the highest tracked mapping */
	uint64_t start = 0, end = c->dl.scan_end;
	struct range *v = NULL;
	size_t n = 0, cap = 0;
	int k, r = 0;

	while (start < end) {
		k = cp_scan_range(c, &start, end, PAGE_IS_WPALLOWED, 0, false);
		if (k < 0) {
			r = k;
			break;
		}
		if (UTIL_GROW(v, cap, n + (size_t)k) < 0) {
			r = -ENOMEM;
			break;
		}
		for (int i = 0; i < k; i++) {
			if (n && v[n - 1].end == c->vec[i].start)
				v[n - 1].end = c->vec[i].end;
			else
				v[n++] = (struct range){ c->vec[i].start, c->vec[i].end, RANGE_PRIVATE, 0 };
		}
		if (k == 0)
			break;
	}
	if (r < 0) {
		free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static bool
within(const struct range *v, size_t n, uint64_t start, uint64_t end)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].start <= start && end <= v[i].end)
			return true;
	return false;
}

/*
 * Bring mapping @m of the shadow to the memory as it is now, protecting
 * what it copies. An anonymous mapping that was tracked already (@known)
 * only needs its pages written since the last protection (PAGEMAP_SCAN
 * gets and protects them at once: a page written after is in the next
 * sync), and holes where it has no page any more (MADV_DONTNEED drops the
 * write protection of anonymous pages with them); any other is protected
 * and copied whole.
 */
static int
shadow_refresh(struct checkpoint *c, const struct tracee_mapping *m, bool known)
{
	uint64_t start = m->start;
	int k, r;

	if (!known || !anonymous(m)) {
		_cleanup_free_ struct range *pop = NULL;
		size_t npop = 0, pop_cap = 0;

		/* its populated pages before the protection (populated_ranges()) */
		if (anonymous(m) && (r = populated_ranges(c, m->start, m->end, &pop, &npop, &pop_cap)) < 0)
			return r;
		r = cp_protect_range(c, m->start, m->end);
		if (r < 0)
			return r;
		r = cp_shadow_punch(c->mirror_mem, m->start, m->end);
		if (r < 0)
			return r;
		return anonymous(m) ? copy_ranges(c, c->mirror_mem, pop, npop)
				    : shadow_copy(c, c->mirror_mem, m->start, m->end);
	}
	while (start < m->end) {
		k = cp_scan_range(c, &start, m->end, PAGE_IS_WPALLOWED | PAGE_IS_WRITTEN, 0, true);
		if (k < 0)
			return k;
		for (int i = 0; i < k; i++) {
			uint64_t a = c->vec[i].start, e = c->vec[i].end;

			r = cp_shadow_punch(c->mirror_mem, a, e);
			if (r < 0)
				return r;
			/* c->vec is overwritten below only by a later scan */
			r = shadow_copy(c, c->mirror_mem, a, e);
			if (r < 0)
				return r;
		}
	}
	start = m->start;
	while (start < m->end) {
		k = cp_scan_range(c, &start, m->end, PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
			       PAGE_IS_PRESENT | PAGE_IS_SWAPPED, false);
		if (k < 0)
			return k;
		for (int i = 0; i < k; i++) {
			r = cp_shadow_punch(c->mirror_mem, c->vec[i].start, c->vec[i].end);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/*
 * The remap of a shadow: register the new mappings, then refresh each
 * private one (shadow_refresh()), protect the shared ones, and punch the
 * shadow between them (what was unmapped). The first time, or after a
 * failure, every mapping is copied whole into a new shadow.
 */
int
cp_shadow_remap(struct checkpoint *c)
{
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	_cleanup_free_ struct range *known = NULL;
	size_t n, nknown = 0;
	uint64_t prev_end = 0;
	int r;

	if (c->mirror_mem < 0 || !c->shadow_ok) {
		r = cp_track_mappings(c);
		if (r < 0)
			return r;
		r = protect_fill_shadow(c);
		c->shadow_ok = r >= 0;
		return r;
	}
	c->shadow_ok = false;
	r = registered_ranges(c, &known, &nknown);
	if (r < 0)
		return r;
	r = cp_track_mappings(c);
	if (r < 0)
		return r;
	r = tracee_read_maps(c->pid, &maps, &n);
	if (r < 0)
		return r;
	r = cp_buf_reserve(c, SYNC_CHUNK);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const struct tracee_mapping *m = &maps[i];
		bool private = cp_in_private_range(c, m->start, m->end - m->start);

		if (private) {
			r = cp_shadow_punch(c->mirror_mem, prev_end, m->start);
			if (r >= 0)
				r = shadow_refresh(c, m, within(known, nknown, m->start, m->end));
			prev_end = m->end;
		} else if (m->perms[1] == 'w') {
			r = cp_protect_range(c, m->start, m->end); /* shared, or untracked */
		}
		if (r < 0)
			return log_debug_errno(r, "shadow of %d at 0x%" PRIx64, c->pid, m->start);
	}
	r = cp_shadow_punch(c->mirror_mem, prev_end, 1ULL << 47);
	if (r < 0)
		return r;
	cp_buf_trim(c);
	c->shadow_ok = true;
	return 0;
}
