/* SPDX-License-Identifier: MIT */
/*
 * The dirty log (dirty.h): the userfaultfd in asynchronous write-protect
 * mode, the registration of a process's writable mappings, and the
 * PAGEMAP_SCAN walks that list and protect the written pages. checkpoint.c
 * (restore points) and ep/ (the divergence check) both use it.
 */
#define LOG_PREFIX "checkpoint"
#include "checkpoint/dirty.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "tracee/tracee.h"

/* Page regions per PAGEMAP_SCAN call of dirty_log_written(). */
#define WRITTEN_VEC 512

int
dirty_log_init(struct dirty_log *d, pid_t pid, pid_t tid, int memfd)
{
	uint64_t args[6] = { O_CLOEXEC | UFFD_USER_MODE_ONLY, 0, 0, 0, 0, 0 };
	struct uffdio_api api = {
		.api = UFFD_API,
		.features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED,
	};
	_cleanup_close_ int pidfd = -1;
	char path[64];
	int64_t fd, ignored;
	int r = 0, r2;

	*d = (struct dirty_log){ .pid = pid, .uffd = -1, .pagemap = -1 };
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	d->pagemap = open(path, O_RDONLY | O_CLOEXEC);
	if (d->pagemap < 0)
		return -errno;
	r = tracee_inject_syscall(tid, memfd, __NR_userfaultfd, args, &fd);
	if (r < 0)
		return r;
	if (fd < 0)
		return log_debug_errno((int)fd, "userfaultfd in %d", pid);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		r = -errno;
	else if ((d->uffd = (int)syscall(SYS_pidfd_getfd, pidfd, (int)fd, 0)) < 0)
		r = -errno;
	/* leave the program's file table as it was */
	args[0] = (uint64_t)fd;
	r2 = tracee_inject_syscall(tid, memfd, __NR_close, args, &ignored);
	if (r < 0)
		return r;
	if (r2 < 0)
		return r2;
	if (ioctl(d->uffd, UFFDIO_API, &api) < 0)
		return log_debug_errno(-errno, "UFFDIO_API (WP_ASYNC needs Linux 6.7)");
	return 0;
}

void
dirty_log_fini(struct dirty_log *d)
{
	if (d->uffd >= 0)
		close(d->uffd);
	if (d->pagemap >= 0)
		close(d->pagemap);
	d->uffd = d->pagemap = -1;
	d->scan_end = d->tracked_pages = 0;
}

int
dirty_log_register(struct dirty_log *d, uint64_t start, uint64_t end)
{
	struct uffdio_register reg = {
		.range = { start, end - start },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};

	if (ioctl(d->uffd, UFFDIO_REGISTER, &reg) < 0)
		return -errno;
	d->scan_end = MAX(d->scan_end, end);
	d->tracked_pages += (end - start) / DIRTY_PAGE;
	return 0;
}

/* True for the kernel's special mappings, which userfaultfd refuses. */
static bool
special_mapping(const char *path)
{
	return strcmp(path, "[vsyscall]") == 0 || strcmp(path, "[vdso]") == 0 ||
	       strncmp(path, "[vvar", 5) == 0;
}

/*
 * Where the part of [@a, @end) to track next starts (skipping the @nu
 * ranges at @u), into *@a; returns where it ends (before the next untracked
 * range), or @end if nothing is left to track.
 */
static uint64_t
next_tracked(const struct checkpoint_range *u, size_t nu, uint64_t *a, uint64_t end)
{
	for (;;) {
		uint64_t stop = end;
		bool moved = false;

		for (size_t k = 0; k < nu && !moved; k++) {
			uint64_t us = u[k].addr, ue = us + u[k].len;

			if (us <= *a && *a < ue) {
				*a = MIN(ue, end);
				moved = true;
			} else if (us > *a && us < stop) {
				stop = us;
			}
		}
		if (!moved)
			return stop;
	}
}

int
dirty_log_track(struct dirty_log *d, const struct tracee_mapping *maps, size_t n,
		const struct checkpoint_range *untracked, size_t nuntracked,
		int (*added)(void *arg, const struct tracee_mapping *m, uint64_t start, uint64_t end),
		void *arg)
{
	d->scan_end = 0;
	d->tracked_pages = 0;
	for (size_t i = 0; i < n; i++) {
		const struct tracee_mapping *m = &maps[i];

		if (m->perms[1] != 'w' || special_mapping(m->path))
			continue;
		for (uint64_t a = m->start, end; a < m->end; a = end) {
			int r;

			end = next_tracked(untracked, nuntracked, &a, m->end);
			if (a >= end)
				break;
			r = dirty_log_register(d, a, end);
			if (r < 0) {
				/* e.g. EBUSY: the program's own userfaultfd has it. Its
				 * writes go unseen: a limitation, not an error. */
				log_debug("%d: cannot track %" PRIx64 "-%" PRIx64 " %s: %s", d->pid, a,
					  end, m->path, strerror(-r));
				continue;
			}
			r = added ? added(arg, m, a, end) : 0;
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* Runs d->acc holds at least before they are sorted and merged (a program
 * whose epochs are not checked would grow it at every sync). */
#define ACC_COMPACT 65536

static int
cmp_run(const void *a, const void *b)
{
	const struct checkpoint_range *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Sort @acc's runs and merge those that touch or overlap. */
static void
acc_compact(struct dirty_pages *acc)
{
	size_t k = 0;

	qsort(acc->v, acc->n, sizeof(*acc->v), cmp_run);
	for (size_t i = 0; i < acc->n; i++) {
		struct checkpoint_range *last = k ? &acc->v[k - 1] : NULL;

		if (last && last->addr + last->len >= acc->v[i].addr) {
			last->len = MAX(last->addr + last->len, acc->v[i].addr + acc->v[i].len) - last->addr;
			continue;
		}
		acc->v[k++] = acc->v[i];
	}
	acc->n = k;
}

/* Append @n regions of @vec (pages) to @acc; -ENOMEM. */
static int
acc_add(struct dirty_pages *acc, const struct page_region *vec, size_t n)
{
	/* when full: it grows only if merging freed too little */
	if (acc->n >= ACC_COMPACT && acc->n == acc->cap)
		acc_compact(acc);
	for (size_t i = 0; i < n; i++) {
		if (acc->n && acc->v[acc->n - 1].addr + acc->v[acc->n - 1].len == vec[i].start) {
			acc->v[acc->n - 1].len += vec[i].end - vec[i].start;
			continue;
		}
		if (UTIL_GROW(acc->v, acc->cap, acc->n + 1) < 0)
			return -ENOMEM;
		acc->v[acc->n++] = (struct checkpoint_range){ vec[i].start, vec[i].end - vec[i].start };
	}
	return 0;
}

static int scan(const struct dirty_log *d, uint64_t *start, uint64_t end,
		const struct dirty_scan *how, struct page_region *vec, size_t vec_len);

/* Append the written pages of [@start, @end) to d->acc (a walk that does not
 * protect), before a walk protects them. */
static int
acc_written(const struct dirty_log *d, uint64_t start, uint64_t end)
{
	static const struct dirty_scan how = {
		.mask = PAGE_IS_WPALLOWED | PAGE_IS_WRITTEN,
		.returned = PAGE_IS_WRITTEN,
	};
	struct page_region vec[256];

	while (start < end) {
		int n = scan(d, &start, end, &how, vec, 256);

		if (n < 0)
			return n == -EPROTO ? 0 : n;
		if (acc_add(d->acc, vec, (size_t)n) < 0)
			return -ENOMEM;
	}
	return 0;
}

int
dirty_log_scan(const struct dirty_log *d, uint64_t *start, uint64_t end, const struct dirty_scan *how,
	       struct page_region *vec, size_t vec_len)
{
	bool written_only = how->mask == (PAGE_IS_WPALLOWED | PAGE_IS_WRITTEN) && !how->inverted &&
			    !how->anyof && (how->returned & PAGE_IS_WRITTEN) && vec;
	int n, r;

	if (!d->acc || !how->protect)
		return scan(d, start, end, how, vec, vec_len);
	/* the written pages it protects: those it returns, or a walk first */
	if (!written_only && (r = acc_written(d, *start, end)) < 0)
		return r;
	n = scan(d, start, end, how, vec, vec_len);
	if (n > 0 && written_only && acc_add(d->acc, vec, (size_t)n) < 0)
		return -ENOMEM;
	return n;
}

static int
scan(const struct dirty_log *d, uint64_t *start, uint64_t end, const struct dirty_scan *how,
     struct page_region *vec, size_t vec_len)
{
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.flags = how->protect ? PM_SCAN_WP_MATCHING : 0,
		.start = *start,
		.end = end,
		.vec = (uint64_t)(uintptr_t)vec,
		.vec_len = vec_len,
		.category_inverted = how->inverted,
		.category_mask = how->mask,
		.category_anyof_mask = how->anyof,
		.return_mask = how->returned,
	};
	int n = ioctl(d->pagemap, PAGEMAP_SCAN, &arg);

	if (n < 0)
		return -errno;
	if (arg.walk_end <= *start && n == 0)
		return -EPROTO; /* no progress: never loop forever */
	*start = arg.walk_end;
	return n;
}

int
dirty_log_protect(const struct dirty_log *d, uint64_t start, uint64_t end)
{
	/* WPALLOWED: only registered pages; no output vector: the kernel's
	 * fast path just protects */
	static const struct dirty_scan how = {
		.mask = PAGE_IS_WPALLOWED | PAGE_IS_WRITTEN,
		.returned = PAGE_IS_WRITTEN,
		.protect = true,
	};

	while (start < end) {
		int r = dirty_log_scan(d, &start, end, &how, NULL, 0);

		if (r < 0)
			return r;
	}
	return 0;
}

/* Append [@start, @end) to @p, merged with its last run if they touch. */
static int
pages_push(struct dirty_pages *p, uint64_t start, uint64_t end)
{
	if (p->n && p->v[p->n - 1].addr + p->v[p->n - 1].len == start) {
		p->v[p->n - 1].len += end - start;
		return 0;
	}
	if (UTIL_GROW(p->v, p->cap, p->n + 1) < 0)
		return -ENOMEM;
	p->v[p->n++] = (struct checkpoint_range){ start, end - start };
	return 0;
}

int64_t
dirty_log_written(struct dirty_log *d, bool rearm, struct dirty_pages *ret)
{
	/* WPALLOWED: only registered mappings, whose unprotected pages are
	 * the written ones */
	const struct dirty_scan how = {
		.mask = PAGE_IS_WPALLOWED | PAGE_IS_WRITTEN,
		.returned = PAGE_IS_WRITTEN,
		.protect = rearm,
	};
	struct page_region vec[WRITTEN_VEC];
	uint64_t start = 0;
	int64_t pages = 0;

	while (start < d->scan_end) {
		int k = dirty_log_scan(d, &start, d->scan_end, &how, vec, ARRAY_SIZE(vec));

		if (k < 0)
			return log_debug_errno(k, "dirty log of %d", d->pid);
		for (int i = 0; i < k; i++) {
			if (pages_push(ret, vec[i].start, vec[i].end) < 0)
				return -ENOMEM;
			pages += (int64_t)((vec[i].end - vec[i].start) / DIRTY_PAGE);
		}
	}
	return pages;
}

int
dirty_log_new(pid_t pid, pid_t tid, int memfd, struct dirty_log **ret)
{
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	struct dirty_log *d;
	size_t n;
	int r;

	d = malloc(sizeof(*d));
	if (!d)
		return -ENOMEM;
	r = dirty_log_init(d, pid, tid, memfd);
	if (r >= 0)
		r = tracee_read_maps(pid, &maps, &n);
	if (r >= 0)
		r = dirty_log_track(d, maps, n, NULL, 0, NULL, NULL);
	if (r >= 0)
		r = dirty_log_protect(d, 0, d->scan_end);
	if (r < 0) {
		dirty_log_free(d);
		return r;
	}
	*ret = d;
	return 0;
}

void
dirty_log_free(struct dirty_log *d)
{
	if (!d)
		return;
	dirty_log_fini(d);
	free(d);
}

void
dirty_pages_fini(struct dirty_pages *p)
{
	free(p->v);
	*p = (struct dirty_pages){ 0 };
}

size_t
dirty_page_mask(uint8_t *page, uint64_t addr, const struct checkpoint_range *ignore, size_t nignore)
{
	size_t covered = 0;

	for (size_t i = 0; i < nignore; i++) {
		uint64_t a = MAX(ignore[i].addr, addr);
		uint64_t e = MIN(ignore[i].addr + ignore[i].len, addr + DIRTY_PAGE);

		if (a >= e)
			continue;
		memset(page + (a - addr), 0, e - a);
		covered += e - a;
	}
	return covered;
}

bool
dirty_page_ignored(uint64_t addr, const struct checkpoint_range *ignore, size_t nignore)
{
	for (size_t i = 0; i < nignore; i++)
		if (ignore[i].addr <= addr && addr + DIRTY_PAGE <= ignore[i].addr + ignore[i].len)
			return true;
	return false;
}

int64_t
dirty_pages_union(const struct dirty_pages *a, const struct dirty_pages *b, struct dirty_pages *ret)
{
	size_t i = 0, j = 0;
	int64_t pages = 0;

	while (i < a->n || j < b->n) {
		const struct checkpoint_range *r;
		uint64_t start, end;

		if (j >= b->n || (i < a->n && a->v[i].addr <= b->v[j].addr))
			r = &a->v[i++];
		else
			r = &b->v[j++];
		start = r->addr;
		end = r->addr + r->len;
		/* overlapping the last run: extend it by what lies past its end */
		if (ret->n && ret->v[ret->n - 1].addr + ret->v[ret->n - 1].len >= start) {
			struct checkpoint_range *last = &ret->v[ret->n - 1];
			uint64_t last_end = last->addr + last->len;

			if (end > last_end) {
				pages += (int64_t)((end - last_end) / DIRTY_PAGE);
				last->len = end - last->addr;
			}
			continue;
		}
		if (pages_push(ret, start, end) < 0)
			return -ENOMEM;
		pages += (int64_t)((end - start) / DIRTY_PAGE);
	}
	return pages;
}

size_t
dirty_pages_iov(const uint64_t *addrs, size_t n, uint8_t *buf, struct iovec *local,
		struct iovec *remote)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (k && (uint64_t)(uintptr_t)remote[k - 1].iov_base + remote[k - 1].iov_len == addrs[i]) {
			local[k - 1].iov_len += DIRTY_PAGE;
			remote[k - 1].iov_len += DIRTY_PAGE;
			continue;
		}
		local[k] = (struct iovec){ buf + i * DIRTY_PAGE, DIRTY_PAGE };
		remote[k] = (struct iovec){ (void *)(uintptr_t)addrs[i], DIRTY_PAGE };
		k++;
	}
	return k;
}

int
dirty_pages_read(pid_t pid, int *memfd, const uint64_t *addrs, size_t n, uint8_t *buf, bool *bad)
{
	struct iovec local[DIRTY_READ_BATCH], remote[DIRTY_READ_BATCH];
	size_t k = 0, done;
	ssize_t got;

	if (n > DIRTY_READ_BATCH)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		bad[i] = false;
	k = dirty_pages_iov(addrs, n, buf, local, remote);
	got = process_vm_readv(pid, local, k, remote, k, 0);
	if (got < 0 && errno == ESRCH)
		return -ESRCH; /* the process is gone: an expected event, the caller's */
	for (done = got > 0 ? (size_t)got / DIRTY_PAGE : 0; done < n; done++) {
		if (*memfd < 0) {
			*memfd = tracee_open_mem(pid);
			if (*memfd < 0)
				return *memfd;
		}
		if (tracee_read_mem(*memfd, addrs[done], buf + done * DIRTY_PAGE, DIRTY_PAGE) < 0)
			bad[done] = true;
	}
	return 0;
}
