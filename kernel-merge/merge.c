/* SPDX-License-Identifier: MIT */
/*
 * kernel-merge (kernel-merge.h): B's memory and registers written into A,
 * whose kernel objects stay. The cost is that of what differs: the mappings
 * are compared whole (a few hundred lines of /proc/PID/maps), the memory
 * only over the pages either process wrote, hashed in each and copied where
 * the hashes differ, each process read once.
 */
#define LOG_PREFIX "kmerge"
#include "kernel-merge/kernel-merge.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "checkpoint/process.h"
#include "common/log.h"
#include "tracee/tracee.h"

/* Pages moved per process_vm_readv(2)/process_vm_writev(2) pair: 1 MiB, at
 * most as many iovecs (UIO_MAXIOV is 1024). */
#define COPY_BATCH DIRTY_READ_BATCH

#define PAGE_UP(x) (((x) + DIRTY_PAGE - 1) & ~(DIRTY_PAGE - 1))

/* What to do to A over one range. */
enum kmerge_op {
	KMERGE_OP_NONE,	    /* the same in both */
	KMERGE_OP_UNMAP,    /* mapped in A only */
	KMERGE_OP_MAP,	    /* anonymous private in B, absent or another kind in A */
	KMERGE_OP_PROTECT,  /* the same mapping, another protection in B */
	KMERGE_OP_GROW,	    /* B's stack reaches lower than A's: grow A's */
	KMERGE_OP_REFUSED,  /* in B, and cannot be made from memory */
};

struct kmerge_action {
	enum kmerge_op op;
	uint64_t start, end;
	int prot; /* MAP, PROTECT: B's */
};

struct kmerge_plan {
	struct kmerge_action *v;
	size_t n, cap;
};

static const char *
map_name(const struct tracee_mapping *m)
{
	/* "[heap]" labels the anonymous mappings that overlap the break's
	 * range (show_map_vma(), fs/proc/task_mmu.c): no kind of its own */
	return strcmp(m->path, "[heap]") == 0 ? "" : m->path;
}

static int
prot_of(const struct tracee_mapping *m)
{
	return (m->perms[0] == 'r' ? PROT_READ : 0) | (m->perms[1] == 'w' ? PROT_WRITE : 0) |
	       (m->perms[2] == 'x' ? PROT_EXEC : 0);
}

/* Whether B's @y over [@s, ...) may be made in A as fresh anonymous memory:
 * private, no file, no name (the stack's growth and named anonymous memory,
 * PR_SET_VMA_ANON_NAME, are not made by mmap alone). */
static bool
makeable(const struct tracee_mapping *y)
{
	return y->perms[3] == 'p' && y->ino == 0 && map_name(y)[0] == 0;
}

/* Whether @x and @y map the same thing at @s, protection aside. */
static bool
same_object(const struct tracee_mapping *x, const struct tracee_mapping *y, uint64_t s)
{
	return x->perms[3] == y->perms[3] && strcmp(map_name(x), map_name(y)) == 0 && x->dev == y->dev &&
	       x->ino == y->ino && (!x->ino || x->offset + (s - x->start) == y->offset + (s - y->start));
}

static int
plan_add(struct kmerge_plan *p, enum kmerge_op op, uint64_t s, uint64_t e, int prot)
{
	struct kmerge_action *last = p->n ? &p->v[p->n - 1] : NULL;

	if (op == KMERGE_OP_NONE)
		return 0;
	if (last && last->op == op && last->end == s && last->prot == prot) {
		last->end = e;
		return 0;
	}
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 32;
		struct kmerge_action *v = realloc(p->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n++] = (struct kmerge_action){ op, s, e, prot };
	return 0;
}

/* The action over [@s, @e), where A maps @x and B @y (NULL: nothing). */
static enum kmerge_op
decide(const struct tracee_mapping *x, const struct tracee_mapping *y, uint64_t s)
{
	if (!y)
		return x ? KMERGE_OP_UNMAP : KMERGE_OP_NONE;
	if (x && same_object(x, y, s))
		return strcmp(x->perms, y->perms) == 0 ? KMERGE_OP_NONE : KMERGE_OP_PROTECT;
	if (!x && strcmp(y->path, "[stack]") == 0)
		return KMERGE_OP_GROW;
	return makeable(y) ? KMERGE_OP_MAP : KMERGE_OP_REFUSED;
}

static void
describe_refused(struct kmerge_report *rep, const struct tracee_mapping *x, const struct tracee_mapping *y,
		 uint64_t s, uint64_t e)
{
	rep->fail_start = s;
	rep->fail_end = e;
	snprintf(rep->what, sizeof(rep->what), "0x%" PRIx64 "-0x%" PRIx64 " %s %.200s in B, %s%s%.200s in A: %s", s, e,
		 y->perms, y->path[0] ? y->path : "(anonymous)", x ? x->perms : "none", x ? " " : "",
		 x ? (x->path[0] ? x->path : "(anonymous)") : "",
		 y->ino ? "a file mapping cannot be made from memory"
			: "a shared, named or stack mapping cannot be made from memory");
}

/*
 * Compare the mappings of A and B (@ma, @na; @mb, @nb: sorted, disjoint) range
 * by range, cut where either has a boundary, into @p. A range that cannot
 * be merged stops the walk: -EOPNOTSUPP, described in @rep.
 */
static int
plan_maps(const struct tracee_mapping *ma, size_t na, const struct tracee_mapping *mb, size_t nb,
	  struct kmerge_plan *p, struct kmerge_report *rep)
{
	size_t i = 0, j = 0;
	uint64_t at = 0;

	while (i < na || j < nb) {
		const struct tracee_mapping *x = i < na ? &ma[i] : NULL, *y = j < nb ? &mb[j] : NULL;
		uint64_t s, e;
		enum kmerge_op op;
		int r;

		/* the next range from @at on: where the first of the two
		 * current mappings starts, to the next boundary of either */
		s = UINT64_MAX;
		if (x)
			s = MIN(s, MAX(at, x->start));
		if (y)
			s = MIN(s, MAX(at, y->start));
		e = UINT64_MAX;
		if (x)
			e = MIN(e, s < x->start ? x->start : x->end);
		if (y)
			e = MIN(e, s < y->start ? y->start : y->end);
		if (x && s < x->start)
			x = NULL;
		if (y && s < y->start)
			y = NULL;
		op = decide(x, y, s);
		/* only where A's stack goes on from e: it grows down to s */
		if (op == KMERGE_OP_GROW && !(i < na && ma[i].start == e && strcmp(ma[i].path, "[stack]") == 0))
			op = KMERGE_OP_REFUSED;
		if (op == KMERGE_OP_REFUSED) {
			describe_refused(rep, x, y, s, e);
			return -EOPNOTSUPP;
		}
		r = plan_add(p, op, s, e, y ? prot_of(y) : 0);
		if (r < 0)
			return r;
		at = e;
		if (i < na && ma[i].end <= at)
			i++;
		if (j < nb && mb[j].end <= at)
			j++;
	}
	return 0;
}

/* Read both processes' mappings and plan A's changes into @p. */
static int
plan_read(pid_t a, pid_t b, struct kmerge_plan *p, struct kmerge_report *rep)
{
	_cleanup_free_ struct tracee_mapping *ma = NULL, *mb = NULL;
	size_t na, nb;
	int r;

	p->n = 0;
	r = tracee_read_maps(a, &ma, &na);
	if (r >= 0)
		r = tracee_read_maps(b, &mb, &nb);
	if (r < 0)
		return r;
	return plan_maps(ma, na, mb, nb, p, rep);
}

static int
inject(pid_t tid, int memfd, long nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
       int64_t *ret)
{
	uint64_t args[6] = { a0, a1, a2, a3, (uint64_t)-1, 0 };

	return tracee_inject_syscall(tid, memfd, nr, args, ret);
}

/* Ranges made anew in A, zero-filled (but the bytes an injected syscall
 * wrote to grow the stack): B's bytes go in whole. */
struct kmerge_fresh {
	struct checkpoint_range *v;
	size_t n, cap;
	uint64_t stack_page; /* the page of the stack grown that is not zero (0: none) */
};

static int
fresh_add(struct kmerge_fresh *f, uint64_t start, uint64_t end)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 16;
		struct checkpoint_range *v = realloc(f->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		f->v = v;
		f->cap = cap;
	}
	f->v[f->n++] = (struct checkpoint_range){ .addr = start, .len = end - start };
	return 0;
}

/* Move A's program break to B's. */
static int
merge_brk(const struct kmerge_side *a, const struct kmerge_side *b, struct kmerge_fresh *fresh,
	  struct kmerge_report *rep)
{
	int64_t ba, bb, res;
	int r;

	/* brk(0) fails and returns the current break (mm/mmap.c) */
	r = inject(b->tids[0], b->memfd, __NR_brk, 0, 0, 0, 0, &bb);
	if (r >= 0)
		r = inject(a->tids[0], a->memfd, __NR_brk, 0, 0, 0, 0, &ba);
	if (r < 0)
		return r;
	if (ba == bb)
		return 0;
	r = inject(a->tids[0], a->memfd, __NR_brk, (uint64_t)bb, 0, 0, 0, &res);
	if (r < 0)
		return r;
	if (res != bb) {
		snprintf(rep->what, sizeof(rep->what),
			 "brk: A's break 0x%" PRIx64 " could not be moved to B's 0x%" PRIx64 " (got 0x%" PRIx64 ")",
			 (uint64_t)ba, (uint64_t)bb, (uint64_t)res);
		return -ENOMEM;
	}
	rep->brk_set = true;
	rep->brk = (uint64_t)bb;
	if (PAGE_UP((uint64_t)bb) > PAGE_UP((uint64_t)ba))
		return fresh_add(fresh, PAGE_UP((uint64_t)ba), PAGE_UP((uint64_t)bb));
	return 0;
}

/* Carry out @p in A. Unmapping first, so that a range freed for a new
 * mapping is free. */
static int
apply_plan(const struct kmerge_side *a, const struct kmerge_plan *p, struct kmerge_fresh *fresh,
	   struct kmerge_report *rep)
{
	static const enum kmerge_op order[] = { KMERGE_OP_UNMAP, KMERGE_OP_MAP, KMERGE_OP_GROW,
						KMERGE_OP_PROTECT };

	for (size_t o = 0; o < ARRAY_SIZE(order); o++) {
		for (size_t i = 0; i < p->n; i++) {
			const struct kmerge_action *x = &p->v[i];
			uint64_t len = x->end - x->start;
			int64_t res;
			int r;

			if (x->op != order[o])
				continue;
			switch (x->op) {
			case KMERGE_OP_UNMAP:
				r = inject(a->tids[0], a->memfd, __NR_munmap, x->start, len, 0, 0, &res);
				rep->maps_removed++;
				break;
			case KMERGE_OP_MAP:
				r = inject(a->tids[0], a->memfd, __NR_mmap, x->start, len, (uint64_t)x->prot,
					   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, &res);
				if (r >= 0 && res == (int64_t)x->start)
					r = fresh_add(fresh, x->start, x->end);
				rep->maps_created++;
				break;
			case KMERGE_OP_GROW:
				/* A fault on an address under a stack mapping
				 * grows it (lock_mm_and_find_vma(), mm/memory.c,
				 * Linux 6.5; the guard gap and RLIMIT_STACK
				 * apply), a fault of the kernel's copy to user
				 * memory too: a syscall that writes 16 bytes at
				 * the lowest address does it, in A's own
				 * context. (process_vm_writev(2) would not:
				 * get_user_pages() never grows a stack since
				 * Linux 6.5; /proc/PID/mem would, its
				 * __access_remote_vm() calls expand_stack(), but
				 * as a side effect, not an interface.) */
				r = inject(a->tids[0], a->memfd, __NR_clock_gettime, CLOCK_MONOTONIC, x->start, 0,
					   0, &res);
				if (r >= 0 && res >= 0) {
					fresh->stack_page = x->start;
					r = fresh_add(fresh, x->start, x->end);
				}
				rep->maps_created++;
				break;
			default:
				r = inject(a->tids[0], a->memfd, __NR_mprotect, x->start, len, (uint64_t)x->prot, 0,
					   &res);
				rep->maps_protected++;
				break;
			}
			if (r < 0)
				return r;
			if (res < 0 || (x->op == KMERGE_OP_MAP && res != (int64_t)x->start)) {
				rep->fail_start = x->start;
				rep->fail_end = x->end;
				snprintf(rep->what, sizeof(rep->what), "%s of 0x%" PRIx64 "-0x%" PRIx64 " in A: %s",
					 x->op == KMERGE_OP_UNMAP	 ? "munmap"
					 : x->op == KMERGE_OP_MAP	 ? "mmap"
					 : x->op == KMERGE_OP_GROW ? "stack growth"
								   : "mprotect",
					 x->start, x->end, res < 0 ? strerror((int)-res) : "another address");
				return res < 0 ? (int)res : -EFAULT;
			}
		}
	}
	return 0;
}

/* dirty_pages_read() of @side's process, through its /proc/PID/mem. */
static int
read_pages(const struct kmerge_side *side, const uint64_t *addrs, size_t k, uint8_t *buf, bool *bad)
{
	int memfd = side->memfd;

	return dirty_pages_read(side->pid, &memfd, addrs, k, buf, bad);
}

/*
 * Move @npages pages at @addrs from B to A through @buf. A page that
 * process_vm_readv(2) or process_vm_writev(2) cannot reach (they stop at the
 * first, and neither forces access) goes through /proc/PID/mem. With
 * @skip_zero, pages all zero in B are not written (A's are zero already).
 * Returns the number of pages written or -errno.
 */
static int64_t
copy_batch(const struct kmerge_side *a, const struct kmerge_side *b, const uint64_t *addrs, size_t npages,
	   uint8_t *buf, bool skip_zero)
{
	static const uint8_t zero[DIRTY_PAGE];
	/* zeroed: 8 KiB a MiB moved, and no path reads one unset */
	struct iovec local[COPY_BATCH] = { 0 }, remote[COPY_BATCH] = { 0 };
	bool bad[COPY_BATCH];
	size_t k = 0, done, written = 0;
	ssize_t n;
	int r;

	if (npages == 0)
		return 0;
	/* -ESRCH: B is gone, an expected event, the caller's to handle */
	r = read_pages(b, addrs, npages, buf, bad);
	if (r < 0)
		return r;
	for (size_t i = 0; i < npages; i++)
		if (bad[i])
			return -EFAULT;
	if (skip_zero) {
		/* write page by page what is not zero */
		for (size_t i = 0; i < npages; i++) {
			if (memcmp(buf + i * DIRTY_PAGE, zero, DIRTY_PAGE) == 0)
				continue;
			r = tracee_write(a->memfd, addrs[i], buf + i * DIRTY_PAGE, DIRTY_PAGE);
			if (r < 0)
				return r;
			written++;
		}
		return (int64_t)written;
	}
	k = dirty_pages_iov(addrs, npages, buf, local, remote);
	n = process_vm_writev(a->pid, local, k, remote, k, 0);
	if (n < 0 && errno == ESRCH)
		return -ESRCH; /* A is gone: an expected event */
	for (done = n > 0 ? (size_t)n / DIRTY_PAGE : 0; done < npages; done++) {
		r = tracee_write(a->memfd, addrs[done], buf + done * DIRTY_PAGE, DIRTY_PAGE);
		if (r < 0)
			return r;
	}
	return (int64_t)npages;
}

/* Copy B's non-zero pages of the ranges made anew in A. */
static int
copy_fresh(const struct kmerge_side *a, const struct kmerge_side *b, const struct kmerge_fresh *fresh,
	   uint8_t *buf, struct kmerge_report *rep)
{
	uint64_t addrs[COPY_BATCH];
	size_t k = 0;
	int64_t n;

	for (size_t i = 0; i < fresh->n; i++) {
		uint64_t end = fresh->v[i].addr + fresh->v[i].len;

		for (uint64_t p = fresh->v[i].addr; p < end; p += DIRTY_PAGE) {
			rep->fresh_pages++;
			if (p == fresh->stack_page) {
				/* not all zero in A: B's page whatever it holds */
				n = copy_batch(a, b, &p, 1, buf, false);
				if (n < 0)
					return (int)n;
				rep->fresh_copied++;
				continue;
			}
			addrs[k++] = p;
			if (k < COPY_BATCH)
				continue;
			n = copy_batch(a, b, addrs, k, buf, true);
			if (n < 0)
				return (int)n;
			rep->fresh_copied += (uint64_t)n;
			k = 0;
		}
	}
	if (k) {
		n = copy_batch(a, b, addrs, k, buf, true);
		if (n < 0)
			return (int)n;
		rep->fresh_copied += (uint64_t)n;
	}
	return 0;
}


/* One of the two workers comparing and copying the union. */
struct page_job {
	const struct kmerge_side *a, *b;
	const uint64_t *addrs; /* its pages */
	size_t n;
	const struct checkpoint_range *ignore; /* bytes neither compared nor written */
	size_t nignore;
	uint64_t copied;
	int r;
};

/* Write B's page @pb at @addr over A's but the bytes of @ignore: each run
 * of bytes between them (a page partly left out: a red zone, a stack's
 * dead part, a field). */
static int
write_unignored(const struct kmerge_side *a, uint64_t addr, const uint8_t *pb,
		const struct checkpoint_range *ignore, size_t nignore)
{
	bool skip[DIRTY_PAGE] = { 0 };

	for (size_t i = 0; i < nignore; i++) {
		uint64_t s = MAX(ignore[i].addr, addr), e = MIN(ignore[i].addr + ignore[i].len, addr + DIRTY_PAGE);

		for (uint64_t x = s; x < e; x++)
			skip[x - addr] = true;
	}
	for (size_t o = 0; o < DIRTY_PAGE;) {
		size_t end = o;
		int r;

		if (skip[o]) {
			o++;
			continue;
		}
		while (end < DIRTY_PAGE && !skip[end])
			end++;
		r = tracee_write(a->memfd, addr + o, pb + o, end - o);
		if (r < 0)
			return r;
		o = end;
	}
	return 0;
}

/*
 * For each batch of the job's pages: read and hash them in A and in B
 * (XXH3, as ep_hash_pages()), and write B's bytes, still in the buffer,
 * over the pages whose hashes differ. Each side is read once. A page not
 * mapped in B is not in A either, after the mapping step: left out.
 */
static void *
page_job_run(void *arg)
{
	struct page_job *j = arg;
	_cleanup_free_ uint8_t *ba = malloc(COPY_BATCH * DIRTY_PAGE), *bb = malloc(COPY_BATCH * DIRTY_PAGE);
	bool bad_a[COPY_BATCH], bad_b[COPY_BATCH];

	if (!ba || !bb) {
		j->r = -ENOMEM;
		return NULL;
	}
	for (size_t at = 0; at < j->n; at += COPY_BATCH) {
		size_t k = MIN((size_t)COPY_BATCH, j->n - at), m = 0;
		const uint64_t *addrs = j->addrs + at;
		struct iovec local[COPY_BATCH], remote[COPY_BATCH];
		uint64_t diff[COPY_BATCH];
		ssize_t n;
		int r;

		r = read_pages(j->a, addrs, k, ba, bad_a);
		if (r >= 0)
			r = read_pages(j->b, addrs, k, bb, bad_b);
		if (r < 0) {
			j->r = r;
			return NULL;
		}
		for (size_t i = 0; i < k; i++) {
			uint8_t *pb = bb + i * DIRTY_PAGE;
			bool part = false;

			if (bad_b[i] || dirty_page_ignored(addrs[i], j->ignore, j->nignore))
				continue;
			/* the bytes left out as zeros in both (ep_hash_pages()) */
			if (j->nignore) {
				part = dirty_page_mask(pb, addrs[i], j->ignore, j->nignore) > 0;
				(void)dirty_page_mask(ba + i * DIRTY_PAGE, addrs[i], j->ignore, j->nignore);
			}
			if (!bad_a[i] && XXH3_64bits(ba + i * DIRTY_PAGE, DIRTY_PAGE) == XXH3_64bits(pb, DIRTY_PAGE))
				continue;
			if (part) {
				r = write_unignored(j->a, addrs[i], pb, j->ignore, j->nignore);
				if (r < 0) {
					j->r = r;
					return NULL;
				}
				j->copied++;
				continue;
			}
			diff[m] = addrs[i];
			local[m] = (struct iovec){ pb, DIRTY_PAGE };
			remote[m] = (struct iovec){ (void *)(uintptr_t)addrs[i], DIRTY_PAGE };
			m++;
		}
		if (!m)
			continue;
		n = process_vm_writev(j->a->pid, local, m, remote, m, 0);
		if (n < 0 && errno == ESRCH) {
			j->r = -ESRCH; /* A is gone: an expected event, the caller's */
			return NULL;
		}
		/* it stops at the first page it cannot write (read-only):
		 * the rest through /proc/PID/mem, which forces */
		for (size_t done = n > 0 ? (size_t)n / DIRTY_PAGE : 0; done < m; done++) {
			r = tracee_write(j->a->memfd, diff[done], local[done].iov_base, DIRTY_PAGE);
			if (r < 0) {
				j->r = r;
				return NULL;
			}
		}
		j->copied += m;
	}
	return NULL;
}

/* Compare the pages of @runs (@npages) in A and B and copy from B the ones
 * that differ: two workers, each on half of the pages. */
static int
copy_differing(const struct kmerge_side *a, const struct kmerge_side *b, const struct dirty_pages *runs,
	       uint64_t npages, const struct checkpoint_range *ignore, size_t nignore,
	       struct kmerge_report *rep)
{
	_cleanup_free_ uint64_t *addrs = malloc((npages ? npages : 1) * sizeof(*addrs));
	struct page_job jobs[2];
	uint64_t t0 = util_now_ns();
	size_t k = 0, half;
	pthread_t th;
	bool threaded;

	if (!addrs)
		return -ENOMEM;
	for (size_t i = 0; i < runs->n; i++)
		for (uint64_t p = runs->v[i].addr; p < runs->v[i].addr + runs->v[i].len; p += DIRTY_PAGE)
			addrs[k++] = p;
	half = k >= 2 * COPY_BATCH ? k / 2 : k;
	jobs[0] = (struct page_job){ a, b, addrs, half, ignore, nignore, 0, 0 };
	jobs[1] = (struct page_job){ a, b, addrs + half, k - half, ignore, nignore, 0, 0 };
	threaded = jobs[1].n && pthread_create(&th, NULL, page_job_run, &jobs[1]) == 0;
	page_job_run(&jobs[0]);
	if (threaded)
		pthread_join(th, NULL);
	else if (jobs[1].n)
		page_job_run(&jobs[1]);
	rep->pages_compared += k;
	rep->pages_copied += jobs[0].copied + jobs[1].copied;
	rep->pages_ns += util_now_ns() - t0;
	return jobs[0].r < 0 ? jobs[0].r : jobs[1].r;
}

/* Thread i of A gets the state of thread i of B. */
static int
merge_threads(const struct kmerge_side *a, const struct kmerge_side *b, struct kmerge_report *rep)
{
	for (size_t i = 0; i < a->ntids; i++) {
		struct checkpoint_thread ta = { 0 }, tb = { 0 };
		int r;

		r = checkpoint_thread_get(b->tids[i], b->memfd, &tb);
		if (r >= 0)
			r = checkpoint_thread_get(a->tids[i], a->memfd, &ta);
		if (r >= 0)
			r = checkpoint_thread_set(a->tids[i], a->memfd, &ta, &tb);
		checkpoint_thread_done(&ta);
		checkpoint_thread_done(&tb);
		if (r < 0) {
			snprintf(rep->what, sizeof(rep->what), "thread %zu (%d in A, %d in B): %s", i, a->tids[i],
				 b->tids[i], strerror(-r));
			return r;
		}
		rep->threads++;
	}
	return 0;
}

int
kmerge_merge(const struct kmerge_side *a, const struct kmerge_side *b, struct kmerge_report *report)
{
	struct kmerge_plan plan = { 0 };
	struct kmerge_fresh fresh = { 0 };
	struct dirty_pages runs = { 0 };
	_cleanup_free_ uint8_t *buf = NULL;
	uint64_t t0 = util_now_ns(), t;
	int64_t npages;
	int r;

	*report = (struct kmerge_report){ 0 };
	if (a->ntids != b->ntids || a->ntids == 0) {
		snprintf(report->what, sizeof(report->what), "threads: %zu in A, %zu in B", a->ntids, b->ntids);
		return -EINVAL;
	}
	buf = malloc(COPY_BATCH * DIRTY_PAGE);
	if (!buf)
		return -ENOMEM;

	/* everything checked before anything changes: a refusal leaves A whole */
	r = plan_read(a->pid, b->pid, &plan, report);
	if (r < 0)
		goto out;
	r = merge_brk(a, b, &fresh, report);
	if (r < 0)
		goto out;
	/* again: the break moved A's heap */
	r = plan_read(a->pid, b->pid, &plan, report);
	if (r >= 0)
		r = apply_plan(a, &plan, &fresh, report);
	if (r >= 0)
		r = copy_fresh(a, b, &fresh, buf, report);
	report->maps_ns = util_now_ns() - t0;
	if (r < 0)
		goto out;

	npages = dirty_pages_union(a->written, b->written, &runs);
	if (npages < 0) {
		r = (int)npages;
		goto out;
	}
	r = copy_differing(a, b, &runs, (uint64_t)npages, NULL, 0, report);
	if (r < 0)
		goto out;

	t = util_now_ns();
	r = merge_threads(a, b, report);
	report->threads_ns = util_now_ns() - t;
out:
	report->total_ns = util_now_ns() - t0;
	dirty_pages_fini(&runs);
	free(plan.v);
	free(fresh.v);
	return r < 0 ? r : 0;
}

int
kmerge_copy_pages(const struct kmerge_side *a, const struct kmerge_side *b,
		  const struct checkpoint_range *ignore, size_t nignore, struct kmerge_report *report)
{
	struct dirty_pages runs = { 0 };
	uint64_t t0 = util_now_ns();
	int64_t npages;
	int r;

	*report = (struct kmerge_report){ 0 };
	npages = dirty_pages_union(a->written, b->written, &runs);
	r = npages < 0 ? (int)npages : copy_differing(a, b, &runs, (uint64_t)npages, ignore, nignore, report);
	if (r < 0 && !report->what[0])
		snprintf(report->what, sizeof(report->what), "pages: %s", strerror(-r));
	dirty_pages_fini(&runs);
	report->total_ns = util_now_ns() - t0;
	return r;
}
