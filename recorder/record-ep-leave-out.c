/* SPDX-License-Identifier: MIT */
/*
 * What an EP run's check of an epoch leaves out (doc/uniparallel.md, "EP
 * runs"): the bytes of process A (the TP run's checkpoint) and B (the EP
 * run) that differ by design, not by a divergence. uprr's own memory
 * (the interposer's log and data, the condition variables FOLLOW never
 * waits on, the loader's copy of the APIC id), the syscall buffer's pages
 * and the EP run's own patches, each thread's dead stack and the frames of
 * uprr's libraries on it (the syscall buffer's, libuprr-sync's), the
 * stacks of threads gone, and the files B maps in place of A's. The
 * check itself (which pages, which threads, the verdict) is
 * record-ep-check.c's.
 */
#define LOG_PREFIX "record"
#include <cpuid.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "ep/ep.h"
#include "recorder/record-private.h"
#include "tracee/tracee.h"
#include "x86_64/arch.h"
#include "x86_64/patch.h"
#include "preload/uprr-preload.h"
#include "preload/uprr-sync.h"

/* One range @addr, @len of process @tgid into ep->patched. */
static void
note_patched(struct rec_ep *ep, pid_t tgid, uint64_t addr, uint64_t len)
{
	if (!len || UTIL_GROW(ep->patched, ep->patched_cap, ep->npatched + 1) < 0)
		return; /* not left out: the check says where it differs */
	ep->patched[ep->npatched++] = (struct ep_patched){ tgid, addr, len };
}

void
rec_ep_note_patch(struct recorder *rec, const struct trace_event *ev)
{
	const struct rthread *t = rec_find_thread(rec, (pid_t)ev->tid);

	/* values[1], values[2]: a new stub area; blobs[1]: the stubs (in an
	 * area), blobs[2...]: the code edited (sched/ticks-soft.c) */
	if (!t || ev->nvalues < 3)
		return;
	note_patched(rec->ep, t->tgid, ev->values[1], ev->values[2]);
	for (uint32_t i = 1; i < ev->nblobs; i++)
		note_patched(rec->ep, t->tgid, ev->blobs[i].addr, ev->blobs[i].len);
}

/* The EP run's own patches of process @tgid (rec_ep_note_patch()),
 * appended to @v. A fork's child has its parent's: they are left out in
 * every process. */
static int
patched_ranges(const struct rec_ep *ep, struct checkpoint_range **v, size_t *n, size_t *cap)
{
	for (size_t i = 0; i < ep->npatched; i++) {
		if (UTIL_GROW(*v, *cap, *n + 1) < 0)
			return -ENOMEM;
		(*v)[(*n)++] = (struct checkpoint_range){ ep->patched[i].addr, ep->patched[i].len };
	}
	return 0;
}

/* The writable segments (PT_LOAD with PF_W: its data and bss) of the ELF
 * file at @path loaded at @base, appended to @v. */
static int
elf_data(const char *path, uint64_t base, struct checkpoint_range **v, size_t *n, size_t *cap)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf64_Ehdr eh;
	Elf64_Phdr ph;

	if (fd < 0)
		return -errno;
	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) || eh.e_phentsize != sizeof(ph))
		return -ENOEXEC;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))) != (ssize_t)sizeof(ph))
			return -ENOEXEC;
		if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_W))
			continue;
		if (UTIL_GROW(*v, *cap, *n + 1) < 0)
			return -ENOMEM;
		(*v)[(*n)++] = (struct checkpoint_range){ base + ph.p_vaddr, ph.p_memsz };
	}
	return 0;
}

/* The byte of ld.so's copy of cpuid(1) that holds the initial APIC id
 * (EBX bits 31-24) in mapping @m of process @pid, appended to @v: the
 * loader keeps what cpuid(1) said on the CPU it ran on (glibc's
 * cpu_features), which uprr does not record, and the EP run runs pinned
 * to another CPU than the TP run's loader may have (seen at --epoch=2 in
 * ep_threads, whose first check comes before the loader makes that page
 * read-only: 0x01020800 in A, 0x00020800 in B, 4 of 40 recordings). Found
 * by the other registers of cpuid(1) here (the same on every CPU of the
 * machine) at a 4-byte step; nothing is left out if it is not found. */
static int
loader_apic_id(pid_t pid, const struct tracee_mapping *m, struct checkpoint_range **v, size_t *n,
	       size_t *cap)
{
	unsigned eax, ebx, ecx, edx;
	uint32_t page[1024];

	if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
		return 0;
	for (uint64_t a = m->start; a < m->end; a += sizeof(page)) {
		if (tracee_read(pid, a, page, sizeof(page)) < 0)
			return 0;
		for (size_t i = 0; i + 4 <= ARRAY_SIZE(page); i++) {
			if (page[i] != eax || (page[i + 1] & 0xffffff) != (ebx & 0xffffff) ||
			    page[i + 2] != ecx || page[i + 3] != edx)
				continue;
			if (UTIL_GROW(*v, *cap, *n + 1) < 0)
				return -ENOMEM;
			(*v)[(*n)++] = (struct checkpoint_range){ a + 4 * (i + 1) + 3, 1 };
			return 0;
		}
	}
	return 0;
}

/* Adds @obj to the set @v (of @n, @cap), if not there yet. */
static void
object_add(uint64_t **v, size_t *n, size_t *cap, uint64_t obj)
{
	for (size_t j = 0; j < *n; j++)
		if ((*v)[j] == obj)
			return;
	if (UTIL_GROW(*v, *cap, *n + 1) == 0)
		(*v)[(*n)++] = obj;
}

/*
 * The condition variables and mutexes the sync-order log names, read on
 * from where the last call stopped, into ep->conds and ep->mutexes.
 *
 * A condition variable: its record of a signal or broadcast. A
 * pthread_cond_t's words are glibc's bookkeeping of its waiters (__wseq,
 * __g_refs...), which the TP run's real waits advance and FOLLOW, which
 * orders the waits without making them, does not: they differ by design
 * (ep_threads' turn_changed, "0x22 in A, 0x00 in B",
 * tp-epochs-verify-ep_threads). What the program sees of them (who wakes,
 * in which order) is the order's, which the log holds.
 *
 * A mutex: the object of a lock, unlock, or condition wait's release or
 * acquisition (mutex_words() looks at them).
 */
static void
sync_objects(struct rec_ep *ep)
{
	_Static_assert(ARRAY_SIZE(((struct rec_ep *)0)->sync_seen) == UPRR_SYNC_NSLOTS, "sync_seen");
	_cleanup_close_ int fd = -1;
	struct uprr_sync_head h;
	uint64_t slot_size;

	if (!ep->sync_log || (fd = open(ep->sync_log, O_RDONLY | O_CLOEXEC)) < 0 ||
	    pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || h.magic != UPRR_SYNC_MAGIC ||
	    h.nslots != UPRR_SYNC_NSLOTS)
		return;
	slot_size = uprr_sync_slot_size(h.nrecs);
	for (uint32_t i = 0; i < UPRR_SYNC_NSLOTS; i++) {
		off_t base = UPRR_SYNC_HEAD_SIZE + (off_t)i * (off_t)slot_size;
		struct uprr_sync_slot slot;
		struct uprr_sync_rec recs[256];

		if (pread(fd, &slot, sizeof(slot), base) != (ssize_t)sizeof(slot) || !slot.used)
			continue;
		for (uint64_t n = MIN(slot.count, h.nrecs); ep->sync_seen[i] < n;) {
			uint64_t want = MIN(n - ep->sync_seen[i], ARRAY_SIZE(recs));
			ssize_t got = pread(fd, recs, want * sizeof(*recs),
					    base + (off_t)sizeof(slot) + (off_t)(ep->sync_seen[i] * sizeof(*recs)));
			uint64_t k;

			if (got <= 0)
				break;
			for (k = 0; k < (uint64_t)got / sizeof(*recs); k++) {
				switch (recs[k].kind) {
				case UPRR_SYNC_NONE:
					goto incomplete; /* not complete yet: read again next time */
				case UPRR_SYNC_COND_SIGNAL:
				case UPRR_SYNC_COND_BROADCAST:
					object_add(&ep->conds, &ep->nconds, &ep->conds_cap, recs[k].obj);
					break;
				case UPRR_SYNC_MUTEX_LOCK:
				case UPRR_SYNC_MUTEX_TRYLOCK:
				case UPRR_SYNC_MUTEX_TIMEDLOCK:
				case UPRR_SYNC_MUTEX_UNLOCK:
				case UPRR_SYNC_COND_RELEASE:
				case UPRR_SYNC_COND_ACQUIRE:
					object_add(&ep->mutexes, &ep->nmutexes, &ep->mutexes_cap, recs[k].obj);
					break;
				default:
					break;
				}
			}
incomplete:
			ep->sync_seen[i] += k;
			if (k < (uint64_t)got / sizeof(*recs) || k < want)
				break;
		}
	}
}

/*
 * The lock words of the mutexes the log names (sync_objects()) that hold
 * 2 in A (@atid's process) and 1 in B (@pid), appended to @v: both mean
 * held; 2 also "maybe waiters", which glibc's lock leaves after any
 * acquisition it had to wait for (lll_lock_wait() swaps in 2;
 * nptl/lowlevellock.c, glibc 2.36) and the unlock clears with a wake. The
 * TP run's threads contend and wait there; FOLLOW takes each lock at its
 * turn, after the release: 1 (pigz -p 2 at an epoch's end, "0x02 in A,
 * 0x01 in B" in its buffer pool's lock). Left out, a rollback keeps A's
 * 2, which is always safe (at most one wake of none). Any other
 * difference (held in one only, an owner's tid) is compared.
 */
static int
mutex_words(struct rec_ep *ep, pid_t pid, pid_t atid, struct checkpoint_range **v, size_t *n,
	    size_t *cap)
{
	for (size_t i = 0; i < ep->nmutexes; i++) {
		int32_t a, b;

		if (tracee_read(atid, ep->mutexes[i], &a, sizeof(a)) < 0 ||
		    tracee_read(pid, ep->mutexes[i], &b, sizeof(b)) < 0 || a != 2 || b != 1)
			continue;
		if (UTIL_GROW(*v, *cap, *n + 1) < 0)
			return -ENOMEM;
		(*v)[(*n)++] = (struct checkpoint_range){ ep->mutexes[i], sizeof(a) };
	}
	return 0;
}

/* uprr's own memory in EP process @pid (not the program's state; it
 * differs from the TP run's by design), appended to @v: the
 * interposer's log, mapped privately and read-only here, shared and
 * written there; the interposer's data and bss (libuprr-sync.so runs in
 * mode tp in the TP run and FOLLOW here: sync_mode and tp_mode differ). */
static int
own_ranges(struct rec_ep *ep, pid_t pid, struct checkpoint_range **v, size_t *n, size_t *cap)
{
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	size_t nmaps = 0;
	int r = tracee_read_maps(pid, &maps, &nmaps);

	if (r < 0)
		return r;
	/* the condition variables' words (sync_objects()); an object of one
	 * process named at the same address in another leaves those bytes
	 * out there too */
	sync_objects(ep);
	if (UTIL_GROW(*v, *cap, *n + ep->nconds) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < ep->nconds; i++)
		(*v)[(*n)++] = (struct checkpoint_range){ ep->conds[i], sizeof(pthread_cond_t) };
	for (size_t i = 0; i < nmaps; i++) {
		const struct tracee_mapping *m = &maps[i];

		const char *base = strrchr(m->path, '/');

		if (base && !strncmp(base, "/ld-linux", 9) && m->perms[1] == 'w') {
			r = loader_apic_id(pid, m, v, n, cap);
			if (r < 0)
				return r;
			continue;
		}
		if (base && strstr(base, "libuprr-sync.so") && m->offset == 0) {
			r = elf_data(m->path, m->start, v, n, cap);
			if (r < 0)
				return r;
			continue;
		}
		if (!ep->sync_log || strcmp(m->path, ep->sync_log) != 0)
			continue;
		if (UTIL_GROW(*v, *cap, *n + 1) < 0)
			return -ENOMEM;
		(*v)[(*n)++] = (struct checkpoint_range){ m->start, m->end - m->start };
	}
	return 0;
}

/* The syscall buffer's fixed pages (preload/uprr-preload.h) and the stub
 * mappings its site patches made (ep_log_stubs()): the TP run maps them
 * (its buffer is on), the EP run does not. A stub mapping is left out only
 * where EP process @pid maps nothing (what it maps there is the
 * program's); it is not known which process made it (a fork's child has
 * its parent's). Appended to @v. */
static int
buffer_pages(const struct rec_ep *ep, pid_t pid, struct checkpoint_range **v, size_t *n,
	     size_t *cap)
{
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	const struct ep_stub_area *s;
	size_t nmaps = 0, ns = 0;
	int r = tracee_read_maps(pid, &maps, &nmaps);

	if (r < 0)
		return r;
	if (UTIL_GROW(*v, *cap, *n + 2) < 0)
		return -ENOMEM;
	(*v)[(*n)++] = (struct checkpoint_range){ UPRR_PRELOAD_ADDR, UPRR_PRELOAD_MAP_SIZE };
	/* and the EP run's own: soft ticks' page, mapped where it
	 * preempts a thread in user code (sched/ticks-soft.c) */
	(*v)[(*n)++] = (struct checkpoint_range){ PATCH_TICK_PAGE, 4096 };
	s = ep_log_stubs(ep->log, &ns);
	for (size_t i = 0; i < ns; i++) {
		bool mapped = false;

		for (size_t j = 0; j < nmaps && !mapped; j++)
			mapped = maps[j].start < s[i].addr + s[i].len && s[i].addr < maps[j].end;
		if (mapped)
			continue;
		if (UTIL_GROW(*v, *cap, *n + 1) < 0)
			return -ENOMEM;
		(*v)[(*n)++] = (struct checkpoint_range){ s[i].addr, s[i].len };
	}
	return 0;
}

/* How far up the stack of thread @tid (its registers @regs, NULL: read
 * them) the syscall buffer's library's frames reach, with the red zone
 * of the program's site the stub skipped above them; 0 if the thread is
 * not in the library, or its way in is not found. A patched site's stub
 * skips the red zone and calls the library (preload/entry.S,
 * syscall_abi_entry): the first slot up from the stack pointer holding an
 * address in a stub area is that call's return address, and the site's
 * stack pointer 128 bytes above it. The library runs in record mode in
 * the TP run and in replay mode here: its frames hold other values (the
 * registers it saved, its locals; seen: pipe_threads' read(2) ends,
 * 0xca in A and 0 in B in the library's buffered()), and the stub that
 * it returns to may be another of the same area (0x7ffff7da618b in A,
 * 0x7ffff7da61bb in B: the sites patched in another order). A stale
 * stub address in a library slot found first only makes the part left
 * out smaller. */
uint64_t
rec_ep_library_top(const struct rec_ep *ep, pid_t tid, const struct user_regs_struct *regs)
{
	struct user_regs_struct rr;
	const struct ep_stub_area *s;
	uint64_t slots[512];
	size_t ns = 0;

	if (!ep->sb)
		return 0;
	if (!regs) {
		if (tracee_get_regs(tid, &rr) < 0)
			return 0;
		regs = &rr;
	}
	if (regs->rip < UPRR_PRELOAD_ADDR || regs->rip >= UPRR_PRELOAD_ADDR + UPRR_PRELOAD_CODE_SIZE)
		return 0;
	s = ep_log_stubs(ep->log, &ns);
	/* 512 bytes at a time: the stack's mapping may end before 4 KiB */
	for (size_t i = 0; i < ARRAY_SIZE(slots); i++) {
		if (i % 64 == 0 && tracee_read(tid, regs->rsp + 8 * i, slots + i, 512) < 0)
			break;
		for (size_t j = 0; j < ns; j++)
			if (slots[i] >= s[j].addr && slots[i] < s[j].addr + s[j].len)
				return regs->rsp + 8 * (i + 1) + 128;
	}
	log_debug("thread %d: in the buffer's library at %#llx, no stub's return address found above "
		  "%#llx: its frames compared", tid, regs->rip, regs->rsp);
	return 0;
}

void
rec_ep_note_exit(struct recorder *rec, const struct rthread *t)
{
	struct rec_ep *ep = rec->ep;
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	size_t nmaps = 0;
	uint64_t top;

	if (!ep || tracee_read_maps(t->tid, &maps, &nmaps) < 0)
		return;
	/* the thread's frames end at its call, but for the buffer's
	 * library's, whose values differ between the runs by design
	 * (rec_ep_library_top()): below that, what its last calls left, which
	 * nothing reads but a later thread's unwritten slots where glibc
	 * gives the stack again (the check drops the range then). Seen:
	 * tp_fsum's first adder, gone, its stack at 0x7fffdfbfec48 held the
	 * library's frames of record mode in A, replay mode in B. */
	top = rec_ep_library_top(ep, t->tid, &t->regs);
	if (!top)
		top = t->regs.rsp;
	for (size_t j = 0; j < nmaps; j++) {
		if (t->regs.rsp < maps[j].start || t->regs.rsp >= maps[j].end)
			continue;
		if (UTIL_GROW(ep->dead, ep->dead_cap, ep->ndead + 1) < 0)
			return; /* not left out: the check says where it differs */
		ep->dead[ep->ndead++] = (struct ep_patched){ t->tgid, maps[j].start,
							     top - maps[j].start };
	}
}

/* The stacks of process @pid's threads gone (rec_ep_note_exit()), but
 * those a thread of it (@tids, @n) runs on again, appended to @v. */
static int
gone_stacks(const struct rec_ep *ep, pid_t pid, const pid_t *tids, size_t n,
	    struct checkpoint_range **v, size_t *nv, size_t *cap)
{
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	size_t nmaps = 0;
	int r = tracee_read_maps(pid, &maps, &nmaps);

	for (size_t i = 0; i < ep->ndead && r >= 0; i++) {
		const struct ep_patched *d = &ep->dead[i];
		bool live = false;

		if (d->tgid != pid)
			continue;
		/* a thread on the same mapping: glibc gave the stack again */
		for (size_t k = 0; k < n && !live; k++) {
			struct user_regs_struct regs;

			if (tracee_get_regs(tids[k], &regs) < 0)
				continue;
			for (size_t j = 0; j < nmaps && !live; j++)
				live = maps[j].start <= d->addr && d->addr < maps[j].end &&
				       maps[j].start <= regs.rsp && regs.rsp < maps[j].end;
		}
		if (live)
			continue;
		if (UTIL_GROW(*v, *cap, *nv + 1) < 0)
			return -ENOMEM;
		(*v)[(*nv)++] = (struct checkpoint_range){ d->addr, d->len };
	}
	return r;
}

/* How far up its stack thread @tid's signal frames reach that it scans
 * for: SCAN_FRAMES_BYTES above its stack pointer. */
#define SCAN_FRAMES_BYTES 65536u

/*
 * The syscall buffer's library's frames of calls a signal handler
 * interrupted, in the stack of B's thread @tid at @rsp (A's @atid at the
 * same point): a handler delivered while the library ran a call (at that
 * call's exit: SIGPIPE after a write to a pipe with no reader) has its
 * frames below the library's, whose values differ between the runs by
 * design (rec_ep_library_top()); at an epoch's end inside the handler they are
 * live (sig_unblock catch, --epoch=5: "0 in A, 0x6d011068 in B" at
 * 0x7fffffffe290, the library's record pointer, 2 recordings in 10). Each
 * signal frame (struct rt_sigframe: an interrupted rip in the library, cs
 * the user's, an rsp above the frame) whose library frames reach as far up
 * in A as in B gives the range from its interrupted rsp to there, appended
 * to @v. A slot that only looks like a frame makes the part compared
 * smaller, never a divergence.
 */
static int
handler_library_frames(const struct rec_ep *ep, pid_t tid, pid_t atid, uint64_t rsp, uint64_t end,
		       struct checkpoint_range **v, size_t *nv, size_t *cap)
{
	_cleanup_free_ uint64_t *slots = NULL;
	size_t len = MIN((size_t)(end - rsp), (size_t)SCAN_FRAMES_BYTES) & ~7ul, n;

	if (!ep->sb || !atid || len < ARCH_SIGFRAME_CSGSFS_OFFSET + 8)
		return 0;
	slots = malloc(len);
	if (!slots)
		return -ENOMEM;
	if (tracee_read(tid, rsp, slots, len) < 0)
		return 0; /* not left out: the check says where it differs */
	n = len / 8;
	for (size_t i = 0; i + ARCH_SIGFRAME_CSGSFS_OFFSET / 8 < n; i++) {
		struct user_regs_struct in = { 0 }, ain = { 0 };
		uint64_t at = rsp + 8 * i, top, atop;

		in.rip = slots[i + ARCH_SIGFRAME_RIP_OFFSET / 8];
		in.rsp = slots[i + ARCH_SIGFRAME_RSP_OFFSET / 8];
		if (in.rip < UPRR_PRELOAD_ADDR || in.rip >= UPRR_PRELOAD_ADDR + UPRR_PRELOAD_CODE_SIZE ||
		    (slots[i + ARCH_SIGFRAME_CSGSFS_OFFSET / 8] & 0xffff) != ARCH_USER_CS ||
		    in.rsp <= at || in.rsp >= end)
			continue;
		top = rec_ep_library_top(ep, tid, &in);
		if (!top ||
		    tracee_read(atid, at + ARCH_SIGFRAME_RSP_OFFSET, &ain.rsp, sizeof(ain.rsp)) < 0 ||
		    tracee_read(atid, at + ARCH_SIGFRAME_RIP_OFFSET, &ain.rip, sizeof(ain.rip)) < 0 ||
		    ain.rsp != in.rsp || ain.rip != in.rip)
			continue;
		atop = rec_ep_library_top(ep, atid, &ain);
		if (atop != top)
			continue;
		if (UTIL_GROW(*v, *cap, *nv + 1) < 0)
			return -ENOMEM;
		(*v)[(*nv)++] = (struct checkpoint_range){ in.rsp, top - in.rsp };
		log_debug("thread %d: the library's frames under a handler, %#" PRIx64 " to %#" PRIx64
			  ", left out", tid, (uint64_t)in.rsp, top);
	}
	return 0;
}

/* The dead part of each thread's stack in process @pid (threads @tids,
 * @n of them, stopped): below its stack pointer, down to the start of the
 * mapping it is in. The ABI leaves what is below the red zone to whatever
 * runs next (a signal handler's frame, a callee's): it holds what code
 * that ran and returned left there, which differs between the two runs by
 * design (libuprr-sync.so takes other paths in the TP run and in FOLLOW
 * mode; the syscall buffer's library runs in the TP run only, its frames
 * below a patched site's red zone). The red zone is left out too: a
 * thread stands at a syscall, and a deeper frame's red zone holds what the
 * library's frames of an earlier call left (seen: pipe_threads' producer
 * at clock_nanosleep(2), 0x42 at rsp - 128 in the TP run's copy, 0 in the
 * EP run, in 2 of 5 recordings with the buffer on, never with it off).
 * What a leaf function keeps there across its syscall is not compared;
 * what the call reads there is, when the EP run matches the call.
 * Appended to @v. */
static int
dead_stacks(const struct rec_ep *ep, pid_t pid, const pid_t *tids, const pid_t *atids, size_t na,
	    size_t n, struct checkpoint_range **v, size_t *nv, size_t *cap)
{
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	size_t nmaps = 0;
	int r = tracee_read_maps(pid, &maps, &nmaps);

	for (size_t i = 0; i < n && r >= 0; i++) {
		struct user_regs_struct regs;
		uint64_t low, top;

		if (tracee_get_regs(tids[i], &regs) < 0)
			continue;
		low = regs.rsp;
		/* a thread in the buffer's library (both runs run it): its
		 * frames are uprr's, and A's are the same only where the
		 * paths were (rec_ep_library_top()) */
		top = rec_ep_library_top(ep, tids[i], &regs);
		if (top && i < na && top == rec_ep_library_top(ep, atids[i], NULL)) {
			if (UTIL_GROW(*v, *cap, *nv + 1) < 0)
				return -ENOMEM;
			(*v)[(*nv)++] = (struct checkpoint_range){ regs.rsp, top - regs.rsp };
		}
		for (size_t j = 0; j < nmaps; j++) {
			if (regs.rsp < maps[j].start || regs.rsp >= maps[j].end)
				continue;
			r = handler_library_frames(ep, tids[i], i < na ? atids[i] : 0, regs.rsp,
						   maps[j].end, v, nv, cap);
			if (r < 0)
				return r;
			if (maps[j].start >= low)
				continue;
			if (UTIL_GROW(*v, *cap, *nv + 1) < 0)
				return -ENOMEM;
			(*v)[(*nv)++] = (struct checkpoint_range){ maps[j].start, low - maps[j].start };
		}
	}
	return r;
}

/* The file process @tgid maps for file @id of the log: uprr's memfd of it
 * for a shared mapping (record-ep.c's shared_fd()), else the log's kept
 * copy; its identity into @st. */
static int
mapped_as(struct rec_ep *ep, uint32_t id, bool shared, const char *copy, struct stat *st)
{
	uint32_t first;

	if (!shared)
		return stat(copy, st);
	if (ep_log_file_first(ep->log, id, &first) < 0)
		return -1;
	for (size_t i = 0; i < ep->nshared; i++)
		if (ep->shared[i].first == first)
			return fstat(ep->shared[i].fd, st);
	return -1;
}

/* The log's kept copies of files (and uprr's memfds of files mapped
 * shared) that process @tgid maps in place of the originals the TP run
 * mapped, into *@ret (@n of them; paths in @paths, PATH_MAX each). */
int
rec_ep_file_aliases(struct rec_ep *ep, pid_t tgid, struct ep_file_alias **ret, size_t *n,
	     char (**paths)[PATH_MAX])
{
	size_t cap = 0, pcap = 0;

	for (size_t i = 0; i < ep->nfiles; i++) {
		const char *copy, *original;
		struct stat st;

		if (ep->files[i].tgid != tgid ||
		    ep_log_file(ep->log, ep->files[i].id, &copy, &original) < 0 || !original ||
		    mapped_as(ep, ep->files[i].id, ep->files[i].shared, copy, &st) < 0)
			continue;
		if (UTIL_GROW(*ret, cap, *n + 1) < 0 || UTIL_GROW(*paths, pcap, *n + 1) < 0)
			return -ENOMEM;
		if (!realpath(original, (*paths)[*n]))
			snprintf((*paths)[*n], PATH_MAX, "%s", original);
		(*ret)[*n] = (struct ep_file_alias){ st.st_dev, st.st_ino, NULL };
		(*n)++;
	}
	for (size_t i = 0; i < *n; i++)
		(*ret)[i].path = (*paths)[i];
	return 0;
}

int
rec_ep_left_out(struct rec_ep *ep, pid_t tgid, const pid_t *tids, size_t ntids, const pid_t *atids,
		size_t natids, struct checkpoint_range **v, size_t *n, size_t *cap)
{
	int r = own_ranges(ep, tgid, v, n, cap);

	if (r >= 0)
		r = dead_stacks(ep, tgid, tids, atids, natids, ntids, v, n, cap);
	if (r >= 0)
		r = gone_stacks(ep, tgid, tids, ntids, v, n, cap);
	if (r >= 0)
		r = buffer_pages(ep, tgid, v, n, cap);
	if (r >= 0)
		r = patched_ranges(ep, v, n, cap);
	if (r >= 0 && natids)
		r = mutex_words(ep, tgid, atids[0], v, n, cap);
	return r;
}

/* How much of a thread's descriptor (glibc's struct pthread, at its FS
 * base) sync_wait_descriptor() looks at: its size in glibc 2.36 is 2,304
 * bytes (0x900) */
#define SYNC_WAIT_DESCRIPTOR 0x900

/*
 * The words of A's thread @atid's descriptor (at @fs_base; B's @tid at the
 * same) that its condition wait sets and FOLLOW's does not, appended to
 * @v: glibc's wait registers a cancellation handler in a buffer on its
 * stack (__pthread_cleanup_push() in nptl/pthread_cond_wait.c: the
 * descriptor's `cleanup` points into [@low, @frame) while it waits; seen:
 * 0x60 in A, 0 in B, a byte of it), and its futex wait is cancellable
 * (__pthread_enable_asynccancel(), nptl/cancellation.c: `cancelhandling`
 * has CANCELTYPE_BITMASK, 0x2, set in A only; seen: 0x02 in A, 0 in B),
 * at every check of tests/progs/cond_idle before this. Found by value, not
 * by glibc's offsets.
 */
static int
sync_wait_descriptor(pid_t tid, pid_t atid, uint64_t fs_base, uint64_t low, uint64_t frame,
		     struct checkpoint_range **v, size_t *n, size_t *cap)
{
	uint64_t words[SYNC_WAIT_DESCRIPTOR / 8];
	uint32_t a[SYNC_WAIT_DESCRIPTOR / 4], b[SYNC_WAIT_DESCRIPTOR / 4];

	if (!fs_base || tracee_read(atid, fs_base, words, sizeof(words)) < 0 ||
	    tracee_read(tid, fs_base, b, sizeof(b)) < 0)
		return 0; /* not left out: the check says where it differs */
	memcpy(a, words, sizeof(a));
	for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
		if (words[i] < low || words[i] >= frame)
			continue;
		if (UTIL_GROW(*v, *cap, *n + 1) < 0)
			return -ENOMEM;
		(*v)[(*n)++] = (struct checkpoint_range){ fs_base + 8 * i, 8 };
	}
	for (size_t i = 0; i < ARRAY_SIZE(a); i++) {
		if ((a[i] ^ b[i]) != 0x2 || !(a[i] & 0x2))
			continue;
		if (UTIL_GROW(*v, *cap, *n + 1) < 0)
			return -ENOMEM;
		(*v)[(*n)++] = (struct checkpoint_range){ fs_base + 4 * i, 4 };
	}
	return 0;
}

int
rec_ep_sync_wait_out(const struct ep_end *e, pid_t tid, pid_t atid, struct checkpoint_range **v,
		     size_t *n, size_t *cap)
{
	struct user_regs_struct rb, ra;
	uint64_t low;

	if (tracee_get_regs(tid, &rb) < 0 || tracee_get_regs(atid, &ra) < 0)
		return 0; /* not left out: the check says where it differs */
	/* the frames below the program's call, and the red zone under the
	 * deeper of the two stack pointers */
	low = MIN(ra.rsp, rb.rsp) - 128;
	if (UTIL_GROW(*v, *cap, *n + 4) < 0)
		return -ENOMEM;
	if (e->sync_frame > low && e->sync_frame - low < (1u << 20))
		(*v)[(*n)++] = (struct checkpoint_range){ low, e->sync_frame - low };
	/* glibc's waiter bookkeeping in the condition variable: its
	 * sequence, groups, references and signals (the whole
	 * pthread_cond_t: nptl/pthread_cond_wait.c, glibc 2.36) */
	if (e->sync_cond)
		(*v)[(*n)++] = (struct checkpoint_range){ e->sync_cond, sizeof(pthread_cond_t) };
	/* and in the mutex: the lock word (2, contended, when a waiter of
	 * the TP run stands in its futex; FOLLOW takes its turns without)
	 * and __nusers, which glibc's wait leaves counted while it waits
	 * (__pthread_mutex_unlock_usercnt(mutex, 0)) and FOLLOW's unlock
	 * takes off (struct __pthread_mutex_s: __lock at 0, __nusers at 12) */
	(*v)[(*n)++] = (struct checkpoint_range){ e->sync_mutex, 4 };
	(*v)[(*n)++] = (struct checkpoint_range){ e->sync_mutex + 12, 4 };
	return sync_wait_descriptor(tid, atid, ra.fs_base, low, e->sync_frame, v, n, cap);
}

/* How far above the stack pointer rec_interposer_frames() looks, in bytes. */
#define EP_INTERPOSER_SCAN 8192

/* libuprr-sync.so's code mappings of @tid's process, moved to the front
 * of *@ret_maps (malloc'd); how many, or -errno. */
static int
interposer_code(pid_t tid, struct tracee_mapping **ret_maps)
{
	size_t nmaps = 0, ncode = 0;
	int r = tracee_read_maps(tid, ret_maps, &nmaps);

	if (r < 0)
		return r;
	for (size_t j = 0; j < nmaps; j++)
		if ((*ret_maps)[j].perms[2] == 'x' && strstr((*ret_maps)[j].path, "libuprr-sync.so"))
			(*ret_maps)[ncode++] = (*ret_maps)[j];
	return (int)ncode;
}

bool
rec_in_interposer(struct recorder *rec, struct rthread *t, uint64_t rip)
{
	const struct rec_ep *ep = rec->ep ? rec->ep : rec->ep_gone;
	struct rspace *sp = t->space;

	if (!ep || !ep->sync_log || !sp)
		return false;
	if (!sp->sync_looked) {
		_cleanup_free_ struct tracee_mapping *maps = NULL;
		int n = interposer_code(t->tid, &maps);

		/* not mapped yet (the loader maps it first): looked at again */
		sp->sync_looked = n > 0;
		sp->nsync_code = 0;
		for (int j = 0; j < n && sp->nsync_code < ARRAY_SIZE(sp->sync_code); j++) {
			sp->sync_code[sp->nsync_code][0] = maps[j].start;
			sp->sync_code[sp->nsync_code++][1] = maps[j].end;
		}
	}
	for (size_t j = 0; j < sp->nsync_code; j++)
		if (rip >= sp->sync_code[j][0] && rip < sp->sync_code[j][1])
			return true;
	return false;
}

/* (another value pointing into its code than a return address only leaves
 * an epoch unchecked, or an end put elsewhere) */
bool
rec_interposer_frames(pid_t tid, uint64_t rsp)
{
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	uint64_t slots[EP_INTERPOSER_SCAN / 8];
	int ncode = interposer_code(tid, &maps);

	if (ncode < 0)
		return true; /* not known: not compared */
	for (size_t i = 0; i < ARRAY_SIZE(slots) && ncode; i++) {
		/* 512 bytes at a time: the stack's mapping may end sooner */
		if (i % 64 == 0 && tracee_read(tid, rsp + 8 * i, slots + i, 512) < 0)
			break;
		for (int j = 0; j < ncode; j++)
			if (slots[i] >= maps[j].start && slots[i] < maps[j].end)
				return true;
	}
	return false;
}
