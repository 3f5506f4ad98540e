/* SPDX-License-Identifier: MIT */
/*
 * Rollback of an end-of-epoch divergence (doc/uniparallel.md, "Divergence
 * and rollback"): the EP run's process, which the trace holds, is written
 * into a stopped process that has the TP run's kernel state at the same
 * point (checkpoint k+1's copy today; the TP run's own processes once it
 * waits at each epoch's end). What is written is what the epoch's check
 * found different, over the check's own pages, exclusions and pairing of
 * threads (struct rec_ep_pair): never the EP run's stubs, its buffer pages,
 * its patched code or uprr's own memory, never over the target's.
 *
 * And the test switch UPRR_EP_DIVERGE=K[:WHERE], which makes the EP run
 * diverge on purpose at the end of epoch K (the first checked from K on),
 * merges every divergence into its checkpoint's copy and checks the epoch
 * again: it must then verify (UPRR_EP_DIVERGE=merge: the merges alone).
 * UPRR_EP_DIVERGE=K:live[:0xADDR] makes the TP run diverge instead, as a
 * race would: under lock-step, with the TP run held at the end of epoch K
 * (the first checked from K on), a byte is changed in its process and in
 * checkpoint k's copy; the check diverges there and the rollback (the
 * real one, rollback_live()) takes the TP run back to the EP run's state.
 */
#define LOG_PREFIX "record"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "checkpoint/process.h"
#include "common/log.h"
#include "ep/ep.h"
#include "kernel-merge/kernel-merge.h"
#include "recorder/record-private.h"
#include "syscalls/syscalls.h"
#include "tracee/tracee.h"
#include "x86_64/arch.h"

/* The callee-saved register @name of @r (what a program keeps across the
 * calls that lead to a syscall), NULL if @name is none of them. */
static unsigned long long *
callee_saved(struct user_regs_struct *r, const char *name)
{
	static const struct {
		const char *name;
		size_t off;
	} regs[] = {
		{ "rbx", offsetof(struct user_regs_struct, rbx) },
		{ "rbp", offsetof(struct user_regs_struct, rbp) },
		{ "r12", offsetof(struct user_regs_struct, r12) },
		{ "r13", offsetof(struct user_regs_struct, r13) },
		{ "r14", offsetof(struct user_regs_struct, r14) },
		{ "r15", offsetof(struct user_regs_struct, r15) },
	};

	for (size_t i = 0; i < ARRAY_SIZE(regs); i++)
		if (strcmp(regs[i].name, name) == 0)
			return (unsigned long long *)((char *)r + regs[i].off);
	return NULL;
}

/* Whether byte @addr lies in one of @p's ranges left out. */
static bool
left_out(const struct rec_ep_pair *p, uint64_t addr)
{
	for (size_t i = 0; i < p->nignore; i++)
		if (p->ignore[i].addr <= addr && addr < p->ignore[i].addr + p->ignore[i].len)
			return true;
	return false;
}

/* Read UPRR_EP_DIVERGE once: K[:WHERE], WHERE an address (0x...), a
 * callee-saved register of the first thread (rbx, rbp, r12-r15) or "map"
 * (a page mapped in the checkpoint's copy only); none: a byte of the first
 * page the EP process wrote that the check compares. Or "merge": nothing
 * forced, the divergences found merged and checked again. Or K:syscall:
 * a divergence at the EP run's first call of epoch K (a re-run's test),
 * NAME:syscall at its first call NAME after the loader's epoch. */
static void
force_parse(struct rec_ep_force *f)
{
	const char *s = getenv("UPRR_EP_DIVERGE");
	char *end;

	if (f->parsed)
		return;
	f->parsed = true;
	f->nr = -1;
	if (!s || !*s)
		return;
	end = strchr(s, ':');
	if (end && strcmp(end, ":syscall") == 0 && (s[0] < '0' || s[0] > '9')) {
		for (long nr = 0; nr < 1024 && f->nr < 0; nr++)
			if (sc_name(nr) && strlen(sc_name(nr)) == (size_t)(end - s) &&
			    strncmp(sc_name(nr), s, (size_t)(end - s)) == 0)
				f->nr = nr;
		if (f->nr < 0) {
			log_warn("UPRR_EP_DIVERGE=%s: no syscall of that name; ignored", s);
			return;
		}
		f->epoch = 1;
		f->syscall = true;
		return;
	}
	if (strcmp(s, "merge") == 0) {
		/* nothing forced: the real divergences merged and checked again */
		f->on = f->done = true;
		return;
	}
	f->epoch = strtoull(s, &end, 10);
	if (end == s || (*end && *end != ':')) {
		log_warn("UPRR_EP_DIVERGE=%s: not K[:ADDR|rbx|rbp|r12..r15|map]; ignored", s);
		return;
	}
	if (strcmp(end, ":syscall") == 0) {
		/* nothing changed at an end: rec_ep_force_syscall() */
		f->syscall = true;
		return;
	}
	f->on = true;
	if (*end == ':' && (strncmp(end + 1, "live", 4) == 0 || strncmp(end + 1, "late", 4) == 0) &&
	    (!end[5] || end[5] == ':')) {
		f->live = true;
		f->late = end[2] == 'a';
		end += 5;
	}
	if (*end == ':')
		snprintf(f->where, sizeof(f->where), "%s", end + 1);
	if (f->live && f->where[0] && strncmp(f->where, "0x", 2) != 0) {
		log_warn("UPRR_EP_DIVERGE=%s: K:live takes an address only (K:live:0xADDR); ignored", s);
		f->on = false;
		return;
	}
	if (f->where[0] && strcmp(f->where, "map") != 0 && !strncmp(f->where, "0x", 2))
		f->addr = strtoull(f->where, NULL, 16);
}

bool
rec_ep_force_syscall(struct recorder *rec, long nr)
{
	struct rec_ep_force *f = &rec->ep->force;
	const struct rec_ep_verdicts *v = rec->ep->verdicts;

	force_parse(f);
	/* NAME: the run that diverged alone, not its re-run (which takes
	 * that call from the log where a thread stood at its entry at the
	 * checkpoint) */
	if (!f->syscall || f->done || v->verified + v->diverged + v->unchecked < f->epoch ||
	    (f->nr >= 0 && (nr != f->nr || rec->ep->live)))
		return false;
	f->done = true;
	return true;
}

/* The first byte the check compares of the pages B wrote (0: none). */
static uint64_t
first_compared(const struct rec_ep_pair *p)
{
	for (size_t i = 0; i < p->all.n; i++)
		for (uint64_t a = p->all.v[i].addr; a < p->all.v[i].addr + p->all.v[i].len; a++)
			if (!left_out(p, a))
				return a;
	return 0;
}

/* Count the page of @addr as written by B, whatever the dirty log says. */
static int
mark_written(struct rec_ep_pair *p, uint64_t addr)
{
	struct dirty_pages one = { 0 }, u = { 0 };
	struct checkpoint_range page = { addr & ~(uint64_t)(DIRTY_PAGE - 1), DIRTY_PAGE };

	one.v = &page;
	one.n = 1;
	if (dirty_pages_union(&p->all, &one, &u) < 0)
		return -ENOMEM;
	dirty_pages_fini(&p->all);
	p->all = u;
	return 0;
}

/*
 * UPRR_EP_DIVERGE=K:live[:0xADDR]: the TP run diverges, as a race would
 * make it: the byte (ADDR, else the first the check compares) changed in
 * the TP run's process, held at checkpoint k (lock-step, the check at once),
 * and in that checkpoint's copy. Nothing is taken back: the check finds the
 * difference, and the rollback into the copy and then the TP run's process
 * (rollback_live()) puts the EP run's byte back; refused, the TP run goes on
 * with the changed byte.
 */
static int
force_live(struct recorder *rec, struct rec_ep_pair *p)
{
	struct rec_ep *ep = rec->ep;
	struct rec_ep_force *f = &ep->force;
	_cleanup_close_ int live = -1;
	uint8_t byte;
	int r;

	if (!p->copy || !ep->follow || !ep->follow->stands_at ||
	    !ep->follow->stands_at(ep->follow->arg, ep->k)) {
		log_info("UPRR_EP_DIVERGE: epoch %" PRIu64 ": the TP run does not stand at its end, "
			 "nothing changed (the next epoch)", ep->k - 1);
		return 0;
	}
	f->done = true;
	if (!f->addr)
		f->addr = first_compared(p);
	live = tracee_open_mem(p->log_pid);
	if (!f->addr || live < 0 || (r = tracee_read(p->log_pid, f->addr, &byte, 1)) < 0) {
		log_warn("UPRR_EP_DIVERGE: no byte to change at %#" PRIx64 " in the TP run's process %d",
			 f->addr, p->log_pid);
		return 0;
	}
	f->old = byte;
	byte ^= 0x5a;
	r = tracee_write(live, f->addr, &byte, 1);
	if (r >= 0)
		r = tracee_write(checkpoint_copy_mem(p->copy), f->addr, &byte, 1);
	if (r < 0)
		return r;
	log_info("UPRR_EP_DIVERGE: epoch %" PRIu64 ": byte %#" PRIx64 " of the TP run's process %d "
		 "and of checkpoint %" PRIu64 "'s copy 0x%02x, was 0x%02x",
		 ep->k - 1, f->addr, p->log_pid, ep->k, byte, (unsigned)f->old);
	return mark_written(p, f->addr);
}

int
rec_ep_force_apply(struct recorder *rec, struct rec_ep_pair *p)
{
	struct rec_ep *ep = rec->ep;
	struct rec_ep_force *f = &ep->force;
	struct user_regs_struct regs;
	unsigned long long *reg;
	uint8_t byte;
	int r;

	force_parse(f);
	f->applied = false;
	if (!f->on || f->done || ep->k - 1 < f->epoch)
		return 0;
	if (f->live)
		return force_live(rec, p);
	f->done = true;
	f->applied = true;
	f->pid = p->b.pid;
	if (strcmp(f->where, "map") == 0) {
		/* a page the copy maps and the EP process does not */
		uint64_t args[6] = { 0, DIRTY_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				     (uint64_t)-1, 0 };
		int64_t at;

		r = tracee_inject_syscall(p->a.tids[0], checkpoint_copy_mem(p->copy), __NR_mmap, args, &at);
		if (r < 0 || at < 0) {
			log_warn("UPRR_EP_DIVERGE: no mmap in copy %d: %s", p->a.pid,
				 strerror(r < 0 ? -r : (int)-at));
			f->applied = false;
			return r < 0 ? r : 0;
		}
		f->map = (uint64_t)at;
		log_info("UPRR_EP_DIVERGE: epoch %" PRIu64 ": a page mapped at %#" PRIx64
			 " in checkpoint %" PRIu64 "'s copy only", ep->k - 1, f->map, ep->k);
		return 0;
	}
	if (p->b.ntids && f->where[0] && strncmp(f->where, "0x", 2) != 0) {
		f->tid = p->tids[0];
		r = tracee_get_regs(f->tid, &regs);
		if (r < 0)
			return r;
		reg = callee_saved(&regs, f->where);
		if (!reg) {
			log_warn("UPRR_EP_DIVERGE: %s is none of rbx, rbp, r12-r15, map or 0xADDR", f->where);
			f->tid = 0;
			f->applied = false;
			return 0;
		}
		f->old = *reg;
		*reg ^= 1;
		log_info("UPRR_EP_DIVERGE: epoch %" PRIu64 ": %s of thread %d %#llx, was %#" PRIx64,
			 ep->k - 1, f->where, f->tid, *reg, f->old);
		return tracee_set_regs(f->tid, &regs);
	}
	if (!f->addr)
		f->addr = first_compared(p);
	if (!f->addr || (r = tracee_read(f->pid, f->addr, &byte, 1)) < 0) {
		log_warn("UPRR_EP_DIVERGE: no byte to change at %#" PRIx64, f->addr);
		f->applied = false;
		return 0;
	}
	_cleanup_close_ int memfd = tracee_open_mem(f->pid);

	f->old = byte;
	byte ^= 0x5a;
	r = memfd < 0 ? memfd : tracee_write(memfd, f->addr, &byte, 1);
	if (r < 0)
		return r;
	log_info("UPRR_EP_DIVERGE: epoch %" PRIu64 ": byte %#" PRIx64 " of process %d 0x%02x, was 0x%02x",
		 ep->k - 1, f->addr, f->pid, byte, (unsigned)f->old);
	/* the page is written, whatever the dirty log says */
	return mark_written(p, f->addr);
}

void
rec_ep_force_undo(struct recorder *rec, struct rec_ep_pair *p)
{
	struct rec_ep_force *f = &rec->ep->force;

	if (!f->applied)
		return;
	f->applied = false;
	if (f->map) {
		uint64_t args[6] = { f->map, DIRTY_PAGE, 0, 0, 0, 0 };
		int64_t res;

		if (p->copy && tracee_inject_syscall(p->a.tids[0], checkpoint_copy_mem(p->copy), __NR_munmap,
						     args, &res) < 0)
			log_debug("UPRR_EP_DIVERGE: cannot unmap %#" PRIx64 " in the copy", f->map);
		return;
	}
	if (f->tid) {
		struct user_regs_struct regs;

		if (tracee_get_regs(f->tid, &regs) == 0) {
			*callee_saved(&regs, f->where) = f->old;
			if (tracee_set_regs(f->tid, &regs) == 0)
				return;
		}
		rec_stop_recording(rec, "UPRR_EP_DIVERGE: %s of thread %d cannot be put back", f->where, f->tid);
		return;
	}
	{
		_cleanup_close_ int memfd = tracee_open_mem(f->pid);
		uint8_t byte = (uint8_t)f->old;

		if (memfd < 0 || tracee_write(memfd, f->addr, &byte, 1) < 0)
			rec_stop_recording(rec, "UPRR_EP_DIVERGE: byte %#" PRIx64 " cannot be put back", f->addr);
	}
}

/* Whether @d is the forced divergence alone: what a merge and the undo
 * take back whole. */
static bool
forced_only(const struct rec_ep_force *f, const struct ep_divergence *d)
{
	if (!f->applied || d->threads_differ)
		return false;
	if (f->map)
		return d->mapping_differs && d->map_start == f->map && !d->pages_differ && !d->thread_differs;
	if (f->tid)
		return !d->mapping_differs && !d->pages_differ && d->thread_differs &&
		       strcmp(d->reg, f->where) == 0;
	return !d->mapping_differs && !d->thread_differs && d->pages_differ == 1 && d->mem_addr == f->addr;
}

/* Whether @a and @b, rips of thread @tid (the TP run's) and of its EP
 * run's, one a syscall instruction's length past the other with that
 * instruction at the lower, stand at the same call: one at its entry, the
 * other rewound onto it for the kernel to restart it (an end that
 * interrupted the call, -ERESTART*: the kernel moves rip back by the
 * instruction, arch/x86/kernel/signal.c). The thread keeps its own stop,
 * which makes that call next either way. */
static bool
same_syscall(pid_t tid, uint64_t a, uint64_t b)
{
	uint64_t lo = MIN(a, b);
	uint8_t code[ARCH_SYSCALL_INSN_LEN];

	return MAX(a, b) - lo == ARCH_SYSCALL_INSN_LEN &&
	       tracee_read(tid, lo, code, sizeof(code)) == 0 && arch_is_syscall_insn(code);
}

/* Whether thread @tid of the live TP run and its EP run's @btid stand at
 * the same point (their registers into *@ret_now, *@ret_want): the same
 * rip (or one at a call's entry and one rewound onto it, same_syscall()),
 * and not in two different calls at one rip (the syscall buffer's library
 * makes every traced call at one instruction: the thread's call would
 * run with the EP run's arguments). 0, or -errno with @what saying why. */
static int
live_point(pid_t tid, pid_t btid, struct user_regs_struct *ret_now, struct user_regs_struct *ret_want,
	   char *what, size_t len)
{
	struct user_regs_struct now, want;
	int r;

	r = tracee_get_regs(tid, &now);
	if (r >= 0)
		r = tracee_get_regs(btid, &want);
	if (r < 0) {
		snprintf(what, len, "thread %d: its registers cannot be read", tid);
		return r;
	}
	if (now.rip != want.rip && !same_syscall(tid, now.rip, want.rip)) {
		snprintf(what, len, "thread %d stands at 0x%llx, the EP run's at 0x%llx", tid, now.rip,
			 want.rip);
		return -EOPNOTSUPP;
	}
	if ((long long)now.orig_rax >= 0 && (long long)want.orig_rax >= 0 &&
	    now.orig_rax != want.orig_rax && now.orig_rax != __NR_restart_syscall) {
		snprintf(what, len, "thread %d stands in syscall %s, the EP run's in %s", tid,
			 sc_name((long)now.orig_rax) ?: "?", sc_name((long)want.orig_rax) ?: "?");
		return -EOPNOTSUPP;
	}
	/* in a call at another depth: it returns through frames of its own
	 * (the syscall buffer's library and stubs, which the check leaves
	 * out): given the EP run's stack pointer it returned into the EP
	 * run's (tp-mode-fifo_open-epoch20: an interrupted openat(2), the TP
	 * run dead of SIGSEGV after) */
	if ((long long)now.orig_rax >= 0 && now.rsp != want.rsp) {
		snprintf(what, len, "thread %d stands in syscall %s with its stack at 0x%llx, the EP "
			 "run's at 0x%llx", tid, sc_name((long)now.orig_rax) ?: "?", now.rsp, want.rsp);
		return -EOPNOTSUPP;
	}
	*ret_now = now;
	*ret_want = want;
	return 0;
}

/* A thread of the live TP run, @tid, held by its recorder at the epoch's
 * end: it takes B's thread @btid's registers but its own rip, rax and
 * orig_rax (the stop it stands in, which its recorder resumes it from: a
 * syscall's entry, or a call interrupted in the kernel), B's XSAVE state
 * and mask. Both must stand at the same instruction. 0 or -errno, @what
 * saying why. */
static int
live_thread_set(pid_t tid, pid_t btid, uint8_t *xstate, size_t cap, char *what, size_t len)
{
	struct user_regs_struct now, want;
	size_t xlen;
	uint64_t mask;
	int r;

	r = live_point(tid, btid, &now, &want, what, len);
	if (r < 0)
		return r;
	/* its own stop: one of the two may stand rewound onto the call */
	want.rip = now.rip;
	want.rax = now.rax;
	want.orig_rax = now.orig_rax;
	r = tracee_get_xstate(btid, xstate, cap, &xlen);
	if (r >= 0)
		r = tracee_get_sigmask(btid, &mask);
	if (r >= 0)
		r = tracee_set_regs(tid, &want);
	if (r >= 0)
		r = tracee_set_xstate(tid, xstate, xlen);
	if (r >= 0)
		r = tracee_set_sigmask(tid, mask);
	if (r < 0)
		snprintf(what, len, "thread %d: %s", tid, strerror(-r));
	return r;
}

int
rec_ep_merge(struct recorder *rec, const struct rec_ep_pair *p, const struct ep_divergence *d,
	     const struct rec_ep_target *t, struct rec_ep_merged *ret)
{
	size_t cap = arch_xstate_size();
	_cleanup_free_ uint8_t *xstate = malloc(cap);
	_cleanup_close_ int bmem = -1;
	struct kmerge_side ka, kb;
	struct kmerge_report rep;
	uint64_t t0 = util_now_ns(), t1;
	int r;

	(void)rec;
	*ret = (struct rec_ep_merged){ 0 };
	if (!xstate)
		return -ENOMEM;
	/* what the merge does not make: refused, named, before anything changes */
	if (d->threads_differ || t->ntids != p->b.ntids || p->a.ntids != p->b.ntids) {
		snprintf(ret->what, sizeof(ret->what), "threads: %zu in the EP run, %zu in the copy, %zu in the target",
			 p->b.ntids, p->a.ntids, t->ntids);
		return -EOPNOTSUPP;
	}
	if (d->mapping_differs) {
		/* kmerge_merge()'s mapping step compares every mapping: it
		 * does not know the check's exclusions (the TP run's buffer
		 * and stubs, the EP run's tick page) nor the EP run's copies
		 * of mapped files, which differ by design */
		snprintf(ret->what, sizeof(ret->what),
			 "mapping 0x%" PRIx64 "-0x%" PRIx64 " %s: a rollback does not change mappings",
			 d->map_start, d->map_end, d->map_what);
		return -EOPNOTSUPP;
	}
	for (size_t i = 0; i < p->b.ntids; i++)
		if (!p->library[i] && !p->regs[i].rip) {
			snprintf(ret->what, sizeof(ret->what), "thread %d: its registers were not read",
				 p->tids[i]);
			return -ESRCH;
		}
	/* each live thread where its EP run's stands: checked before
	 * anything is written (a refusal leaves the TP run as it was) */
	for (size_t i = 0; i < p->b.ntids && t->live; i++) {
		struct user_regs_struct now, want;

		if (!p->library[i] &&
		    (r = live_point(t->tids[i], p->tids[i], &now, &want, ret->what, sizeof(ret->what))) < 0)
			return r;
	}
	/* the pages: those of the union of both runs' written pages that
	 * differ, B's bytes over the target's but for the ranges left out */
	bmem = tracee_open_mem(p->b.pid);
	if (bmem < 0)
		return bmem;
	ret->written = true;
	ka = (struct kmerge_side){ t->pid, t->memfd, t->tids, t->ntids, p->a.written };
	kb = (struct kmerge_side){ p->b.pid, bmem, p->tids, p->b.ntids, p->b.written };
	r = kmerge_copy_pages(&ka, &kb, p->ignore, p->nignore, &rep);
	ret->pages_compared = rep.pages_compared;
	ret->pages_copied = rep.pages_copied;
	ret->pages_ns = rep.pages_ns;
	if (r < 0) {
		snprintf(ret->what, sizeof(ret->what), "%.200s", rep.what);
		return r;
	}
	/* each thread: B's registers as its copy's stand (one at a syscall's
	 * entry rewound onto the instruction, orig_rax -1: the target's
	 * thread executes that syscall next, as B's does; one after an exit
	 * returns with B's result), B's XSAVE state and signal mask. Its
	 * robust list, clear-tid address, alternate stack, rseq and name,
	 * which the check does not compare, stay the target's (the same
	 * "now" and "want": checkpoint_thread_set() injects nothing). */
	t1 = util_now_ns();
	for (size_t i = 0; i < p->b.ntids && t->live; i++) {
		if (p->library[i]) {
			/* in the library's frame in the TP run: its registers
			 * (and the stack below the EP run's) are the library's,
			 * not compared, kept, as in the copy (below) */
			ret->threads_kept++;
			continue;
		}
		r = live_thread_set(t->tids[i], p->tids[i], xstate, cap, ret->what, sizeof(ret->what));
		if (r < 0)
			return r;
		ret->threads++;
	}
	for (size_t i = 0; i < p->b.ntids && !t->live; i++) {
		struct checkpoint_thread now = { .tid = t->tids[i] }, want = now;

		if (p->library[i]) {
			/* in the library's frame in the copy: its registers
			 * are the library's, not compared, kept */
			ret->threads_kept++;
			continue;
		}
		want.regs = p->regs[i];
		r = tracee_get_xstate(p->tids[i], xstate, cap, &want.xstate_len);
		if (r >= 0)
			r = tracee_get_sigmask(p->tids[i], &want.sigmask);
		want.xstate = xstate;
		if (r >= 0)
			r = checkpoint_thread_set(t->tids[i], t->memfd, &now, &want);
		if (r < 0) {
			snprintf(ret->what, sizeof(ret->what), "thread %d (the target's %d): %s", p->tids[i],
				 t->tids[i], strerror(-r));
			return r;
		}
		ret->threads++;
	}
	ret->threads_ns = util_now_ns() - t1;
	ret->total_ns = util_now_ns() - t0;
	return 0;
}

void
rec_ep_tp_target(struct recorder *rec, const struct rec_ep_pair *p, int memfd, pid_t *tids,
		 struct rec_ep_target *ret)
{
	for (size_t i = 0; i < p->b.ntids; i++)
		tids[i] = ep_log_tid(rec->ep->log, p->tids[i]);
	*ret = (struct rec_ep_target){ p->log_pid, memfd, tids, p->b.ntids, true };
}

/* Count merge @m into @v. */
static void
count_merge(struct rec_ep_verdicts *v, const struct rec_ep_merged *m)
{
	v->rollbacks++;
	v->rollback_pages_compared += m->pages_compared;
	v->rollback_pages_copied += m->pages_copied;
	v->rollback_threads += m->threads;
	v->rollback_ns += m->total_ns;
	v->rollback_pages_ns += m->pages_ns;
}

/* Lock-step, a rollback refused (@why): rather than the TP run going on
 * as it diverged (its later epochs unchecked, their output shown
 * unverified), the EP run stops here as at a divergence at a syscall, to
 * be re-run from the checkpoint it stands at (record-ep-live.c; the judge,
 * rec_rerun_judge(), decides; refused, it ends as before). Not with a test
 * switch's forced divergence, nor UPRR_EP_RERUN=0. True if so. */
static bool
rerun_instead(struct recorder *rec, const char *why)
{
	struct rec_ep *ep = rec->ep;

	uint64_t last_k = ep->last_k;

	if (!ep->follow || (ep->force.on && !ep->force.late) || !rec->rerun || rec_rerun_off() || rec->done)
		return false;
	/* it stands there: the re-run goes live there (judge_from_k()); one
	 * the judge refuses already leaves the TP run going on, as before */
	ep->last_k = ep->k;
	ep->end_rerun = true;
	rec_rerun_judge(rec, rec->rerun);
	if (rec->rerun->verdict <= 0 && rec->rerun->verdict_k <= 0) {
		log_info("epoch %" PRIu64 ": no re-run either: %s", ep->k - 1, rec->rerun->why_k);
		ep->last_k = last_k;
		ep->end_rerun = false;
		return false;
	}
	rec->ep_diverged = true;
	ep->verdicts->rollback_rerun++;
	rec_stop_recording(rec, "divergence from the TP run at the end of epoch %" PRIu64 ", not rolled "
			   "back (%s): the epochs to there are re-run", ep->k - 1, why);
	return true;
}

/* A merge refused or failed (@m.what): counted, said. */
static void
refused(struct rec_ep *ep, const struct rec_ep_merged *m)
{
	struct rec_ep_verdicts *v = ep->verdicts;

	v->rollback_refused++;
	if (!v->rollback_why[0])
		snprintf(v->rollback_why, sizeof(v->rollback_why), "epoch %" PRIu64 ": %s", ep->k - 1,
			 m->what);
	log_info("epoch %" PRIu64 ": no rollback: %s", ep->k - 1, m->what);
}

/* Merge @p's divergence @d into checkpoint k's copy (figures in @m) and
 * check the epoch again (into @again): 1 verified then, 0 not (said;
 * counted if it still diverges), -1 the merge refused or failed (said,
 * counted). */
static int
into_copy(struct recorder *rec, struct rec_ep_pair *p, const struct ep_divergence *d,
	  struct rec_ep_merged *m, struct ep_divergence *again)
{
	struct rec_ep *ep = rec->ep;
	struct rec_ep_target t = { p->a.pid, checkpoint_copy_mem(p->copy), p->a.tids, p->a.ntids,
				   false };
	char what[256] = "";
	int r;

	if (rec_ep_merge(rec, p, d, &t, m) < 0) {
		refused(ep, m);
		return -1;
	}
	r = rec_ep_pair_check(rec, p, again);
	if (r >= 0 && !again->diverged)
		return 1;
	if (r >= 0) {
		ep->verdicts->rollback_diverged++;
		ep_divergence_describe(again, what, sizeof(what));
	}
	log_info("epoch %" PRIu64 ": merged into checkpoint %" PRIu64 "'s copy, %s: %s", ep->k - 1,
		 ep->k, r < 0 ? "not checked again" : "still diverges", r < 0 ? strerror(-r) : what);
	return 0;
}

/*
 * Lock-step's rollback (doc/uniparallel.md, "Divergence and rollback"): the
 * TP run stands held at checkpoint k, the end of the epoch that diverged.
 * The merge goes into checkpoint k's copy, which is checked again (it must
 * now verify: the merge is whole), then, the same, into the TP run's
 * processes (rec_ep_target.live), which go on from the EP run's state: the
 * trace holds the EP run's execution, and the TP run's later epochs are
 * its continuation, checked as any.
 */
static void
rollback_live(struct recorder *rec, struct rec_ep_pair *p, const struct ep_divergence *d)
{
	struct rec_ep *ep = rec->ep;
	struct rec_ep_verdicts *v = ep->verdicts;
	_cleanup_free_ pid_t *tids = calloc(p->b.ntids + 1, sizeof(*tids));
	_cleanup_close_ int memfd = -1;
	struct rec_ep_merged m;
	struct rec_ep_target t;
	struct ep_divergence again;
	int r;

	if (!tids)
		return;
	r = into_copy(rec, p, d, &m, &again);
	if (r < 0)
		(void)rerun_instead(rec, m.what);
	if (r <= 0)
		return;
	memfd = tracee_open_mem(p->log_pid);
	if (memfd < 0) {
		snprintf(m.what, sizeof(m.what), "the TP run's process %d: %s", p->log_pid,
			 strerror(-memfd));
		refused(ep, &m);
		return;
	}
	rec_ep_tp_target(rec, p, memfd, tids, &t);
	r = rec_ep_merge(rec, p, d, &t, &m);
	if (r < 0 && !m.written) {
		/* refused before anything changed: re-run, or the TP run goes
		 * on as it is */
		if (!rerun_instead(rec, m.what))
			refused(ep, &m);
		return;
	}
	if (r < 0) {
		/* written in part: the TP run cannot go on from either state */
		rec_stop_recording(rec, "epoch %" PRIu64 ": the rollback into the TP run failed: %s",
				   ep->k - 1, m.what);
		return;
	}
	count_merge(v, &m);
	v->rollback_verified++;
	v->rollback_live++;
	ep->go_on = true;
	ep->rolled = true;
	log_info("epoch %" PRIu64 ": rolled back: the TP run's process %d goes on from the EP run's "
		 "state (%" PRIu64 " of %" PRIu64 " pages copied, %u threads' registers, %.3f ms)",
		 ep->k - 1, p->log_pid, m.pages_copied, m.pages_compared, m.threads,
		 (double)m.total_ns / 1e6);
}

/* UPRR_EP_ROLLBACK=0 (a testing aid): no rollback. */
static bool
rollback_off(void)
{
	const char *s = getenv("UPRR_EP_ROLLBACK");

	return s && strcmp(s, "0") == 0;
}

void
rec_ep_rollback(struct recorder *rec, struct rec_ep_pair *p, const struct ep_divergence *d)
{
	struct rec_ep *ep = rec->ep;
	struct rec_ep_verdicts *v = ep->verdicts;
	struct rec_ep_merged m;
	struct ep_divergence again;
	int r;

	ep->go_on = false;
	force_parse(&ep->force);
	if (!ep->force.on && rollback_off()) {
		/* a testing aid: the TP run goes on as it diverged, later
		 * epochs not checked (what a racy TP run did before rollback) */
		snprintf(m.what, sizeof(m.what), "%s", "rollback turned off (UPRR_EP_ROLLBACK=0)");
		refused(ep, &m);
		return;
	}
	/* the test switch's late rollback: as if its verdict came after the
	 * TP run went on */
	if (ep->force.late && ep->follow) {
		snprintf(m.what, sizeof(m.what), "the TP run went on past checkpoint %" PRIu64 " before the "
			 "check (UPRR_EP_DIVERGE=K:late)", ep->k);
		if (!rerun_instead(rec, m.what))
			refused(ep, &m);
		return;
	}
	/* lock-step: the TP run stands at this epoch's end, its processes
	 * the target (into the copy first, checked again: the merge is
	 * right, then into them) */
	if ((!ep->force.on || ep->force.live) && ep->follow && ep->follow->stands_at &&
	    ep->follow->stands_at(ep->follow->arg, ep->k) && p->copy) {
		rollback_live(rec, p, d);
		return;
	}
	if ((!ep->force.on || ep->force.live) && ep->follow && ep->follow->stands_at) {
		snprintf(m.what, sizeof(m.what), "the TP run went on past checkpoint %" PRIu64
			 " before the check (where a thread stood at the end was told by the next "
			 "epoch's events)",
			 ep->k);
		if (!rerun_instead(rec, m.what))
			refused(ep, &m);
		return;
	}
	/* else the target is checkpoint k+1's copy, under the test switch
	 * only: without lock-step the TP run went on past it */
	if (!ep->force.on || !p->copy)
		return;
	r = into_copy(rec, p, d, &m, &again);
	if (r >= 0)
		count_merge(v, &m);
	if (r <= 0)
		return;
	v->rollback_verified++;
	/* the forced difference alone, taken back in B after: the TP run's
	 * later checkpoints are still the EP run's to check */
	ep->go_on = forced_only(&ep->force, d);
	log_info("epoch %" PRIu64 ": rolled back into checkpoint %" PRIu64 "'s copy: %" PRIu64 " of %" PRIu64
		 " pages copied, %u threads' registers (%u kept), %.3f ms; checked again: verified "
		 "(%" PRIu64 " pages compared)",
		 ep->k - 1, ep->k, m.pages_copied, m.pages_compared, m.threads, m.threads_kept,
		 (double)m.total_ns / 1e6, again.pages_compared);
}
