/* SPDX-License-Identifier: MIT */
/*
 * The divergence check at an epoch's end (divergence.h). Its cost is that of
 * the pages either run wrote: each is read once from each process through a
 * buffer of 1 MiB and hashed; nothing else of the memory is touched. The
 * hashes are compared rather than the bytes so that one side's hashes can be
 * taken when that side is at hand (checkpoint k+1) and kept without a copy
 * of its pages.
 */
#define LOG_PREFIX "ep"
#include "ep/divergence.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/log.h"
#include "tracee/tracee.h"
#include "x86_64/arch.h"

/* Pages read at once (dirty_pages_read()). */
#define HASH_BATCH DIRTY_READ_BATCH
/* Pages from which the two sides are hashed on two threads at once. */
#define PARALLEL_PAGES 256

/* Read and hash the @k pages at @addrs of @pid into @ret; a page ignored
 * whole hashes the same mapped or not (uprr's own memory, which one side
 * may not map: the TP run's syscall buffer). */
static int
hash_batch(pid_t pid, int *memfd, const uint64_t *addrs, size_t k,
	   const struct checkpoint_range *ignore, size_t nignore, uint8_t *buf, uint64_t *ret)
{
	bool bad[HASH_BATCH];
	int r = dirty_pages_read(pid, memfd, addrs, k, buf, bad);

	if (r < 0)
		return r;
	for (size_t j = 0; j < k; j++) {
		if (dirty_page_ignored(addrs[j], ignore, nignore)) {
			ret[j] = 0;
			continue;
		}
		if (bad[j]) {
			ret[j] = EP_HASH_UNMAPPED;
			continue;
		}
		(void)dirty_page_mask(buf + j * DIRTY_PAGE, addrs[j], ignore, nignore);
		ret[j] = XXH3_64bits(buf + j * DIRTY_PAGE, DIRTY_PAGE);
	}
	return 0;
}

int
ep_hash_pages(pid_t pid, const struct dirty_pages *runs, const struct checkpoint_range *ignore,
	      size_t nignore, uint64_t *ret)
{
	_cleanup_free_ uint8_t *buf = malloc(HASH_BATCH * DIRTY_PAGE);
	_cleanup_close_ int memfd = -1;
	uint64_t addrs[HASH_BATCH];
	size_t k = 0;
	int r;

	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < runs->n; i++) {
		uint64_t end = runs->v[i].addr + runs->v[i].len;

		for (uint64_t a = runs->v[i].addr; a < end; a += DIRTY_PAGE) {
			addrs[k++] = a;
			if (k < HASH_BATCH)
				continue;
			r = hash_batch(pid, &memfd, addrs, k, ignore, nignore, buf, ret);
			if (r < 0)
				return r;
			ret += k;
			k = 0;
		}
	}
	return k ? hash_batch(pid, &memfd, addrs, k, ignore, nignore, buf, ret) : 0;
}

/* The first byte of the page at @page that differs between A and B, the
 * bytes of @ignore aside. */
static void
first_byte(pid_t a, pid_t b, uint64_t page, const struct checkpoint_range *ignore, size_t nignore,
	   struct ep_divergence *d)
{
	uint8_t pa[DIRTY_PAGE], pb[DIRTY_PAGE];
	bool ra = tracee_read(a, page, pa, sizeof(pa)) >= 0;
	bool rb = tracee_read(b, page, pb, sizeof(pb)) >= 0;

	(void)dirty_page_mask(pa, page, ignore, nignore);
	(void)dirty_page_mask(pb, page, ignore, nignore);
	d->mem_addr = page;
	if (ra && rb) {
		for (size_t i = 0; i < DIRTY_PAGE; i++) {
			if (pa[i] != pb[i]) {
				d->mem_addr = page + i;
				break;
			}
		}
	}
	d->mem_a = ra ? pa[d->mem_addr - page] : -1;
	d->mem_b = rb ? pb[d->mem_addr - page] : -1;
}

/* At debug level, each 8-byte word of the page at @page that differs
 * between A and B (the first 32), the bytes of @ignore aside: what a
 * divergence's first byte alone does not show. */
static void
log_words(pid_t a, pid_t b, uint64_t page, const struct checkpoint_range *ignore, size_t nignore)
{
	uint64_t pa[DIRTY_PAGE / 8], pb[DIRTY_PAGE / 8];
	int n = 0;

	if (log_get_level() < LOG_LEVEL_DEBUG || tracee_read(a, page, pa, sizeof(pa)) < 0 ||
	    tracee_read(b, page, pb, sizeof(pb)) < 0)
		return;
	(void)dirty_page_mask((uint8_t *)pa, page, ignore, nignore);
	(void)dirty_page_mask((uint8_t *)pb, page, ignore, nignore);
	for (size_t i = 0; i < DIRTY_PAGE / 8 && n < 32; i++)
		if (pa[i] != pb[i] && ++n)
			log_debug("  %#" PRIx64 ": %#" PRIx64 " in A, %#" PRIx64 " in B", page + 8 * i,
				  pa[i], pb[i]);
}

/* One side's hashing, on a thread of its own. */
struct hash_job {
	pid_t pid;
	const struct dirty_pages *runs;
	const struct checkpoint_range *ignore;
	size_t nignore;
	uint64_t *hashes;
	int result;
};

static void *
hash_job_run(void *arg)
{
	struct hash_job *j = arg;

	j->result = ep_hash_pages(j->pid, j->runs, j->ignore, j->nignore, j->hashes);
	return NULL;
}

/*
 * Hash @runs (@npages pages) in A into @ha and in B into @hb: A's on a
 * thread of ours while this one does B's, when there are enough pages for
 * the thread's start (~50 us) to be worth it: two CPUs read and hash at
 * once (process_vm_readv(2) needs no ptrace relation to the caller's
 * thread, ptrace(2) does: nothing else is done there).
 */
static int
hash_both(pid_t a, pid_t b, const struct dirty_pages *runs, uint64_t npages,
	  const struct checkpoint_range *ignore, size_t nignore, uint64_t *ha, uint64_t *hb)
{
	struct hash_job job = { a, runs, ignore, nignore, ha, 0 };
	pthread_t t;
	int r;

	if (npages < PARALLEL_PAGES || pthread_create(&t, NULL, hash_job_run, &job) != 0) {
		r = ep_hash_pages(a, runs, ignore, nignore, ha);
		return r < 0 ? r : ep_hash_pages(b, runs, ignore, nignore, hb);
	}
	r = ep_hash_pages(b, runs, ignore, nignore, hb);
	pthread_join(t, NULL);
	return job.result < 0 ? job.result : r;
}

/*
 * Add to *@v the fields of each thread's rseq(2) area that the kernel writes
 * on its own at each return to user mode after a migration or preemption
 * (rseq_update_cpu_node_id(), kernel/rseq.c): cpu_id_start and cpu_id
 * (offsets 0-7), node_id and mm_cid (20-27, Linux 6.3), which say where
 * the thread ran, not what it computed (an EP run is pinned to one CPU, the
 * TP run is not). rseq_cs and flags are the program's and are compared.
 * The registration comes from PTRACE_GET_RSEQ_CONFIGURATION (Linux 5.13;
 * EIO before: no rseq to leave out).
 */
static int
rseq_ignored(const struct ep_side *s, struct checkpoint_range **v, size_t *n, size_t *cap)
{
	for (size_t i = 0; i < s->ntids; i++) {
		struct __ptrace_rseq_configuration conf = { 0 };

		if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, s->tids[i], (void *)sizeof(conf), &conf) < 0) {
			if (errno == ESRCH)
				return -ESRCH; /* the thread vanished: an expected event */
			continue;
		}
		if (!conf.rseq_abi_pointer)
			continue;
		if (UTIL_GROW(*v, *cap, *n + 2) < 0)
			return -ENOMEM;
		(*v)[(*n)++] = (struct checkpoint_range){ conf.rseq_abi_pointer, 8 };
		if (conf.rseq_abi_size >= 28)
			(*v)[(*n)++] = (struct checkpoint_range){ conf.rseq_abi_pointer + 20, 8 };
	}
	return 0;
}

/* Compare the pages either side wrote, by their hashes. */
static int
check_memory(const struct ep_side *a, const struct ep_side *b, struct ep_divergence *d)
{
	_cleanup_free_ struct checkpoint_range *ignore = NULL;
	size_t nignore = 0, ignore_cap = 0;
	_cleanup_free_ uint64_t *ha = NULL, *hb = NULL;
	struct dirty_pages all = { 0 };
	uint64_t t0 = util_now_ns();
	int64_t npages;
	size_t p = 0;
	int r = 0;

	r = rseq_ignored(a, &ignore, &nignore, &ignore_cap);
	if (r >= 0)
		r = rseq_ignored(b, &ignore, &nignore, &ignore_cap);
	for (size_t s = 0; s < 2 && r >= 0; s++) {
		const struct ep_side *x = s ? b : a;

		if (UTIL_GROW(ignore, ignore_cap, nignore + x->nignore) < 0)
			r = -ENOMEM;
		else if (x->nignore) {
			memcpy(ignore + nignore, x->ignore, x->nignore * sizeof(*ignore));
			nignore += x->nignore;
		}
	}
	if (r < 0)
		return r;
	npages = dirty_pages_union(a->written, b->written, &all);
	if (npages < 0)
		return (int)npages;
	d->pages_compared = (uint64_t)npages;
	ha = malloc(MAX((size_t)npages, 1) * sizeof(*ha));
	hb = malloc(MAX((size_t)npages, 1) * sizeof(*hb));
	if (!ha || !hb)
		r = -ENOMEM;
	if (r >= 0)
		r = hash_both(a->pid, b->pid, &all, (uint64_t)npages, ignore, nignore, ha, hb);
	d->hash_ns = util_now_ns() - t0;
	for (size_t i = 0; r >= 0 && i < all.n; i++) {
		for (uint64_t o = 0; o < all.v[i].len; o += DIRTY_PAGE, p++) {
			if (ha[p] == hb[p])
				continue;
			if (!d->pages_differ++)
				first_byte(a->pid, b->pid, all.v[i].addr + o, ignore, nignore, d);
			if (d->pages_differ <= 8)
				log_words(a->pid, b->pid, all.v[i].addr + o, ignore, nignore);
		}
	}
	dirty_pages_fini(&all);
	return r;
}

/*
 * The name of mapping @m as compared: "[heap]" is no property of the memory
 * but the label of the mappings that overlap the program break's range
 * (show_map_vma(), fs/proc/task_mmu.c), and where a mapping is cut in two
 * differs between a process and its fork (vma_merge() needs one anon_vma,
 * which a fork gives each mapping anew): anonymous memory either way.
 */
static const char *
map_name(const struct tracee_mapping *m)
{
	return strcmp(m->path, "[heap]") == 0 ? "" : m->path;
}

/* The inode of a mapping of an aliased file (struct ep_file_alias): it
 * is known by its path. */
#define ALIASED_INO UINT64_MAX

/* Shared anonymous memory (mmap(2) MAP_SHARED | MAP_ANONYMOUS, or of
 * /dev/zero): a shmem file of its own for each mapping made
 * (shmem_zero_setup(), mm/shmem.c), named so in /proc/PID/maps. */
#define SHARED_ANON "/dev/zero (deleted)"

/* What /proc/PID/maps adds to the path of a file removed since it was
 * mapped (d_path(), fs/d_path.c). */
#define DELETED " (deleted)"

/* Whether paths @x and @y are one, a DELETED at the end of either left
 * out: an EP run's alias (struct ep_file_alias) stands for the TP run's
 * file, which the TP run may have removed while it stayed mapped (an
 * EP run removes nothing: its unlink(2) is answered from the log;
 * tp-mode-shared-file, with an epoch's end after the program's unlink:
 * "'/tmp/.../shared (deleted)' in A, '/tmp/.../shared' in B"). */
static bool
same_path_undeleted(const char *x, const char *y)
{
	size_t nx = strlen(x), ny = strlen(y), nd = strlen(DELETED);

	if (nx >= nd && strcmp(x + nx - nd, DELETED) == 0)
		nx -= nd;
	if (ny >= nd && strcmp(y + ny - nd, DELETED) == 0)
		ny -= nd;
	return nx == ny && memcmp(x, y, nx) == 0;
}

/* Whether @x and @y map the same file, or are both anonymous. Both
 * shared anonymous memory count as one: the EP run makes its own with
 * the TP run's call (record-ep.c prepare_mmap()), a file the TP run's
 * is not, whose bytes the check compares as any others
 * (tp-mode-order with --epoch=auto: "file differs: '/dev/zero
 * (deleted)' in A, '/dev/zero (deleted)' in B"). An aliased file is
 * known by its path, removed or not (same_path_undeleted()). */
static bool
same_file(const struct tracee_mapping *x, const struct tracee_mapping *y)
{
	if (x->ino == ALIASED_INO || y->ino == ALIASED_INO)
		return same_path_undeleted(x->path, y->path);
	if (strcmp(x->path, SHARED_ANON) == 0 && strcmp(y->path, SHARED_ANON) == 0)
		return true;
	return x->dev == y->dev && x->ino == y->ino;
}

/* Whether @x and @y have the same name in /proc/PID/maps (map_name()),
 * an aliased file's removed or not (same_path_undeleted()). */
static bool
same_name(const struct tracee_mapping *x, const struct tracee_mapping *y)
{
	if (x->ino == ALIASED_INO || y->ino == ALIASED_INO)
		return same_path_undeleted(x->path, y->path);
	return strcmp(map_name(x), map_name(y)) == 0;
}

/* Whether mapping @m goes on in @n (the same kind of mapping, adjacent). */
static bool
continues(const struct tracee_mapping *m, const struct tracee_mapping *n)
{
	return m->end == n->start && strcmp(m->perms, n->perms) == 0 && same_name(m, n) &&
	       same_file(m, n) &&
	       (!m->ino || m->offset + (m->end - m->start) == n->offset);
}

/* Whether mapping @m lies within a range of @s->ignore or of @o->ignore. */
static bool
ignored(const struct tracee_mapping *m, const struct ep_side *s, const struct ep_side *o)
{
	for (size_t k = 0; k < 2; k++) {
		const struct ep_side *x = k ? o : s;

		for (size_t i = 0; i < x->nignore; i++)
			if (m->start >= x->ignore[i].addr &&
			    m->end <= x->ignore[i].addr + x->ignore[i].len)
				return true;
	}
	return false;
}

/* Read the mappings of side @s, adjacent entries of the same kind joined,
 * those within either side's ignored ranges (@o: the other) left out. */
static int
joined_maps(const struct ep_side *s, const struct ep_side *o, struct tracee_mapping **ret,
	    size_t *ret_n)
{
	struct tracee_mapping *m;
	size_t n, k = 0;
	int r;

	r = tracee_read_maps(s->pid, &m, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (ignored(&m[i], s, o))
			continue;
		for (size_t j = 0; j < s->naliases; j++)
			if (m[i].ino && m[i].dev == s->aliases[j].dev && m[i].ino == s->aliases[j].ino) {
				snprintf(m[i].path, sizeof(m[i].path), "%s", s->aliases[j].path);
				m[i].ino = ALIASED_INO;
			}
		if (k && continues(&m[k - 1], &m[i])) {
			m[k - 1].end = m[i].end;
		} else {
			m[k++] = m[i];
			if (strcmp(m[k - 1].path, "[heap]") == 0)
				m[k - 1].path[0] = 0;
		}
	}
	*ret = m;
	*ret_n = k;
	return 0;
}

/* Whether @x and @y are the same kind of mapping (bounds aside): the
 * offset counts for a file only (an anonymous mapping's is its address). */
static bool
same_kind(const struct tracee_mapping *x, const struct tracee_mapping *y)
{
	return strcmp(x->perms, y->perms) == 0 && same_name(x, y) && same_file(x, y) &&
	       (!x->ino || x->offset == y->offset);
}

/* The last @n characters of @path (all of it if shorter). */
static const char *
path_end(const char *path, size_t n)
{
	size_t len = strlen(path);

	return len > n ? path + len - n : path;
}

static void
map_differs(struct ep_divergence *d, uint64_t start, uint64_t end, const char *what)
{
	d->mapping_differs = true;
	d->map_start = start;
	d->map_end = end;
	snprintf(d->map_what, sizeof(d->map_what), "%s", what);
}

/* Compare the mappings of A and B: the first address where they differ. */
static int
check_mappings(const struct ep_side *a, const struct ep_side *b, struct ep_divergence *d)
{
	_cleanup_free_ struct tracee_mapping *ma = NULL, *mb = NULL;
	size_t na, nb, i = 0, j = 0;
	char what[96];
	int r;

	r = joined_maps(a, b, &ma, &na);
	if (r >= 0)
		r = joined_maps(b, a, &mb, &nb);
	if (r < 0)
		return r;
	while (i < na && j < nb) {
		const struct tracee_mapping *x = &ma[i], *y = &mb[j];

		if (x->start < y->start) {
			map_differs(d, x->start, MIN(x->end, y->start), "in A only");
			return 0;
		}
		if (y->start < x->start) {
			map_differs(d, y->start, MIN(y->end, x->start), "in B only");
			return 0;
		}
		if (!same_kind(x, y)) {
			if (strcmp(x->perms, y->perms) != 0)
				snprintf(what, sizeof(what), "%s in A, %s in B", x->perms, y->perms);
			else
				/* the paths' ends: where they tell files apart */
				snprintf(what, sizeof(what), "file differs: '%.30s' in A, '%.30s' in B",
					 path_end(x->path, 30), path_end(y->path, 30));
			map_differs(d, x->start, MIN(x->end, y->end), what);
			return 0;
		}
		if (x->end != y->end) {
			map_differs(d, MIN(x->end, y->end), MAX(x->end, y->end),
				    x->end > y->end ? "in A only" : "in B only");
			return 0;
		}
		i++;
		j++;
	}
	if (i < na)
		map_differs(d, ma[i].start, ma[i].end, "in A only");
	else if (j < nb)
		map_differs(d, mb[j].start, mb[j].end, "in B only");
	return 0;
}

static void
thread_differs(struct ep_divergence *d, size_t i, pid_t ta, pid_t tb, const char *reg, uint64_t va,
	       uint64_t vb)
{
	d->thread_differs = true;
	d->thread = i;
	d->thread_a = ta;
	d->thread_b = tb;
	snprintf(d->reg, sizeof(d->reg), "%s", reg);
	d->reg_a = va;
	d->reg_b = vb;
}

/* Zero the caller-saved vector and mask registers (struct ep_side's
 * scratch_free) in XSAVE area @x (@len bytes, standard format): xmm0-15 at
 * bytes 160-415 of the legacy area (Intel SDM vol. 1, 10.5.1), and the
 * components YMM_Hi128 (2), opmask (5), ZMM_Hi256 (6) and Hi16_ZMM (7) where
 * cpuid leaf 0xd puts them (13.4.3). */
static void
zero_scratch(uint8_t *x, size_t len)
{
	static const unsigned comps[] = { 2, 5, 6, 7 };

	if (len >= 416)
		memset(x + 160, 0, 256);
	for (size_t i = 0; i < sizeof(comps) / sizeof(comps[0]); i++) {
		unsigned size = 0, off = 0, c = 0, dx = 0;

		__cpuid_count(0xd, comps[i], size, off, c, dx);
		if (size && off >= 576 && (size_t)off + size <= len)
			memset(x + off, 0, size);
	}
}

/* Compare thread @i of A (tid @ta) with thread @i of B (tid @tb): sets the
 * difference and returns 1 if one differs, 0 if none, or -errno. With
 * @scratch_free, the vector and mask registers are not (zero_scratch()). */
static int
check_thread(size_t i, pid_t ta, pid_t tb, uint8_t *xa, uint8_t *xb, size_t cap, bool scratch_free,
	     struct ep_divergence *d)
{
	struct user_regs_struct ra, rb;
	uint64_t va = 0, vb = 0, sa, sb;
	size_t la, lb;
	const char *reg;
	char name[24];
	int r;

	r = tracee_get_regs(ta, &ra);
	if (r >= 0)
		r = tracee_get_regs(tb, &rb);
	if (r < 0)
		return r;
	reg = arch_regs_differ(&ra, &rb);
	if (reg) {
		(void)arch_reg_value(&ra, reg, &va);
		(void)arch_reg_value(&rb, reg, &vb);
		thread_differs(d, i, ta, tb, reg, va, vb);
		return 1;
	}
	r = tracee_get_xstate(ta, xa, cap, &la);
	if (r >= 0)
		r = tracee_get_xstate(tb, xb, cap, &lb);
	if (r < 0)
		return r;
	if (la != lb) {
		thread_differs(d, i, ta, tb, "xstate size", la, lb);
		return 1;
	}
	if (scratch_free) {
		zero_scratch(xa, la);
		zero_scratch(xb, lb);
	}
	if (arch_xstate_differ(xa, xb, la, name, sizeof(name), &va, &vb)) {
		thread_differs(d, i, ta, tb, name, va, vb);
		return 1;
	}
	r = tracee_get_sigmask(ta, &sa);
	if (r >= 0)
		r = tracee_get_sigmask(tb, &sb);
	if (r < 0)
		return r;
	/* SIGTRAP blocked in A only: the kernel unblocks a blocked signal it
	 * forces (force_sig_info_to_task(), kernel/signal.c), as it forces
	 * SIGTRAP at a single step or a breakpoint, which B's run (an EP
	 * run's preemption at an execution point) makes and A's did not (seen:
	 * xz -T2's worker, all signals blocked, "sigmask 0xfffffffe7ffbfeff in
	 * A, 0xfffffffe7ffbfeef in B", once its ends in a condition wait were
	 * checked) */
	if ((sa & ~sb) == 1ull << (SIGTRAP - 1) && !(sb & ~sa))
		sb = sa;
	if (sa != sb) {
		thread_differs(d, i, ta, tb, "sigmask", sa, sb);
		return 1;
	}
	return 0;
}

static int
check_threads(const struct ep_side *a, const struct ep_side *b, struct ep_divergence *d)
{
	size_t cap = arch_xstate_size();
	_cleanup_free_ uint8_t *xa = malloc(cap), *xb = malloc(cap);

	if (!xa || !xb)
		return -ENOMEM;
	for (size_t i = 0; i < a->ntids; i++) {
		int r = check_thread(i, a->tids[i], b->tids[i], xa, xb, cap,
				     a->scratch_free || b->scratch_free, d);

		if (r != 0)
			return r < 0 ? r : 0;
	}
	return 0;
}

int
ep_check_divergence(const struct ep_side *a, const struct ep_side *b, struct ep_divergence *ret)
{
	struct ep_divergence d = { 0 };
	uint64_t t0 = util_now_ns();
	int r;

	d.threads_differ = a->ntids != b->ntids;
	r = check_mappings(a, b, &d);
	if (r >= 0)
		r = check_memory(a, b, &d);
	if (r >= 0 && !d.threads_differ)
		r = check_threads(a, b, &d);
	if (r < 0)
		return log_debug_errno(r, "divergence check of %d and %d", a->pid, b->pid);
	d.diverged = d.threads_differ || d.mapping_differs || d.pages_differ || d.thread_differs;
	d.total_ns = util_now_ns() - t0;
	*ret = d;
	return 0;
}

/* "0x41", or "nothing" for a byte that cannot be read. */
static const char *
byte_name(int v, char *buf, size_t len)
{
	if (v < 0)
		snprintf(buf, len, "nothing");
	else
		snprintf(buf, len, "0x%02x", v);
	return buf;
}

const char *
ep_divergence_describe(const struct ep_divergence *d, char *buf, size_t len)
{
	size_t o = 0;
	char x[16], y[16];

#define ADD(...)                                                              \
	do {                                                                  \
		if (o < len)                                                  \
			o += (size_t)snprintf(buf + o, len - o, __VA_ARGS__); \
	} while (0)
	buf[0] = 0;
	if (!d->diverged) {
		ADD("no divergence (%" PRIu64 " written pages compared)", d->pages_compared);
		return buf;
	}
	if (d->threads_differ)
		ADD("thread counts differ; ");
	if (d->mapping_differs)
		ADD("mapping 0x%" PRIx64 "-0x%" PRIx64 " %s; ", d->map_start, d->map_end, d->map_what);
	if (d->pages_differ)
		ADD("memory: %" PRIu64 " of %" PRIu64 " written pages differ, first at 0x%" PRIx64
		    " (%s in A, %s in B); ",
		    d->pages_differ, d->pages_compared, d->mem_addr, byte_name(d->mem_a, x, sizeof(x)),
		    byte_name(d->mem_b, y, sizeof(y)));
	if (d->thread_differs)
		ADD("thread %zu (%d, %d): %s 0x%" PRIx64 " in A, 0x%" PRIx64 " in B; ", d->thread,
		    d->thread_a, d->thread_b, d->reg, d->reg_a, d->reg_b);
#undef ADD
	/* drop the last "; " */
	o = strlen(buf);
	if (o >= 2 && buf[o - 2] == ';')
		buf[o - 2] = 0;
	return buf;
}
