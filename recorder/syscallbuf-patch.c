/* SPDX-License-Identifier: MIT */
/*
 * Syscall sites redirected into the syscall buffer: at a site's first
 * seccomp stop for a call the buffer takes, its `syscall` instruction and a
 * neighbour are rewritten into a jmp to a stub near it, which calls the
 * library's syscall-ABI entry and jumps back. The syscall that trapped does
 * not run: the thread restarts at the jmp and makes it through the library.
 * Recorded as TRACE_EV_SITE_PATCH, which replay applies at the same stop
 * with the same function. See doc/syscall-buffer.md.
 */
#define LOG_PREFIX "syscallbuf"
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "common/log.h"
#include "preload/uprr-preload.h"
#include "recorder/record-private.h"
#include "recorder/recorder.h"
#include "trace/trace.h"
#include "tracee/tracee.h"
#include "x86_64/patch.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* A stub area: 64 KiB of read + execute memory near the code it serves,
 * with a guard below the next mapping; a rel32 jmp reaches +-2 GiB. */
#define AREA_LEN 0x10000ull
#define AREA_GUARD 0x10000ull
#define AREA_REACH 0x7ff00000ull
#define STUB_MAX 64
/* Bytes read before a site: the longest mov that may move */
#define CODE_BEFORE 7

/* The bytes of a stub and of the site's new code, for one site. */
struct site_plan {
	uint64_t start;		/* the first byte rewritten: where the thread restarts */
	uint8_t site[8];	/* its new bytes */
	size_t site_len;
	uint8_t stub[STUB_MAX];
	size_t stub_len;
};

/* Whether the buffer takes syscall @nr. */
static bool
buffered_nr(uint64_t nr)
{
	return sc_buffered((long)nr);
}

static void
put32(uint8_t *p, int64_t v)
{
	uint32_t u = (uint32_t)(int32_t)v;

	memcpy(p, &u, 4);
}

/*
 * Plan the stub at @stub for the site whose syscall instruction is at
 * @site, from the code around it (@code: the CODE_BEFORE bytes before the
 * site and the 13 from it), for syscall @nr. The shapes of glibc's wrappers
 * and Go's runtime:
 *   syscall; cmp $imm32,%rax (48 3d, or 3d with eax): both move into the
 *     stub, the jmp covers them; the thread restarts at the site;
 *   mov $nr,%eax (b8) or mov $nr,%rax (48 c7 c0); syscall: the mov moves
 *     into the stub, the jmp covers it and the syscall instruction stays (a
 *     jump to it still traps); the thread restarts at the mov.
 * Returns 0 or -ENOTSUP for any other shape.
 */
static int
plan_site(const uint8_t *code, uint64_t site, uint64_t nr, uint64_t stub, struct site_plan *p)
{
	static const uint8_t lea_down[] = { 0x48, 0x8d, 0x64, 0x24, 0x80 };	      /* lea -128(%rsp),%rsp */
	static const uint8_t lea_up[] = { 0x48, 0x8d, 0xa4, 0x24, 0x80, 0, 0, 0 }; /* lea 128(%rsp),%rsp */
	/* movq $0,-8(%rsp): the call's return address, this stub's, off
	 * the stack the program's later frames use (a run that patched its
	 * sites in another order has another stub here: ep_threads' main
	 * stack held 0x...542b in the TP run, 0x...533b in the EP run, in a
	 * slot say() never writes; entry.S zeroes the library's frames) */
	static const uint8_t zero_ret[] = { 0x48, 0xc7, 0x44, 0x24, 0xf8, 0, 0, 0, 0 };
	const uint8_t *at = code + CODE_BEFORE;
	size_t n = 0, moved = 0, call_at, mov_len = 0;
	uint64_t back, quad;
	uint32_t imm;

	memset(p, 0, sizeof(*p));
	if (at[0] != 0x0f || at[1] != 0x05)
		return -ENOTSUP;
	if (at[2] == 0x48 && at[3] == 0x3d)
		moved = 6;
	else if (at[2] == 0x3d)
		moved = 5;
	memcpy(&imm, at - 4, 4);
	if (at[-5] == 0xb8)
		mov_len = 5;
	else if (at[-7] == 0x48 && at[-6] == 0xc7 && at[-5] == 0xc0)
		mov_len = 7;
	if (moved) {
		p->start = site;
		back = site + 2 + moved;
	} else if (mov_len && imm == nr) {
		p->start = site - mov_len;
		memcpy(p->stub + n, at - mov_len, mov_len); /* the mov, unchanged */
		n += mov_len;
		back = site + 2;
	} else {
		return -ENOTSUP;
	}
	memcpy(p->stub + n, lea_down, sizeof(lea_down));
	n += sizeof(lea_down);
	call_at = n;
	p->stub[n++] = 0xff; /* call *quad(%rip) */
	p->stub[n++] = 0x15;
	n += 4;
	memcpy(p->stub + n, zero_ret, sizeof(zero_ret));
	n += sizeof(zero_ret);
	memcpy(p->stub + n, lea_up, sizeof(lea_up));
	n += sizeof(lea_up);
	memcpy(p->stub + n, at + 2, moved); /* the cmp, unchanged: no rip-relative operand */
	n += moved;
	p->stub[n++] = 0xe9; /* jmp back */
	put32(p->stub + n, (int64_t)(back - (stub + n + 4)));
	n += 4;
	n = (n + 7) & ~(size_t)7;
	quad = UPRR_PRELOAD_ADDR + UPRR_PRELOAD_ENTRY_SYSCALL_ABI;
	put32(p->stub + call_at + 2, (int64_t)(stub + n - (stub + call_at + 6)));
	memcpy(p->stub + n, &quad, 8);
	p->stub_len = n + 8;
	/* the site: a jmp to the stub, the rest of what moved int3 */
	p->site[0] = 0xe9;
	put32(p->site + 1, (int64_t)(stub - (p->start + 5)));
	p->site_len = moved ? 2 + moved : mov_len;
	memset(p->site + 5, 0xcc, p->site_len - 5);
	return 0;
}

int
rec_syscallbuf_apply_patch(pid_t tid, int memfd, const struct trace_event *ev,
			   struct user_regs_struct *regs)
{
	int64_t got;
	int r;

	if (ev->nvalues < 4)
		return -EINVAL;
	/* the syscall does not run (seccomp stop, orig_rax -1): which also
	 * lets a syscall be injected here */
	regs->orig_rax = (uint64_t)-1;
	if (ev->values[1]) {
		r = tracee_set_regs(tid, regs);
		if (r < 0)
			return r;
		uint64_t args[6] = { ev->values[1], ev->values[2], PROT_READ | PROT_EXEC,
				     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, (uint64_t)-1, 0 };

		r = tracee_inject_syscall(tid, memfd, __NR_mmap, args, &got);
		if (r < 0)
			return r;
		if ((uint64_t)got != ev->values[1])
			return got < 0 ? (int)got : -EADDRINUSE;
	}
	for (uint32_t i = 0; i < ev->nblobs; i++) {
		r = tracee_write(memfd, ev->blobs[i].addr, ev->blobs[i].data, ev->blobs[i].len);
		if (r < 0)
			return r;
	}
	/* it restarts at the jmp, the syscall's number in rax */
	regs->rip = ev->values[3];
	regs->rax = ev->values[0];
	return tracee_set_regs(tid, regs);
}

/* Whether a thread of @t's address space other than @t stands inside
 * [@start, @end) (not at @start): its next instruction would be rewritten.
 * In a TP run a thread in user code may be anywhere, its stop at that very
 * site not seen yet: one counts as inside. */
static bool
thread_inside(struct recorder *rec, const struct rthread *t, uint64_t start, uint64_t end)
{
	for (size_t i = 0; i < rec->nthreads; i++) {
		const struct rthread *u = &rec->threads[i];
		uint64_t rip = u->regs.rip;

		if (u == t || u->space != t->space)
			continue;
		if (!rec_tp_position(rec, u, &rip))
			return true;
		if (rip > start && rip < end)
			return true;
	}
	return false;
}

void
rec_syscallbuf_note_frame(struct rthread *t, int sig)
{
	struct rec_sb_space *sb;
	struct user_regs_struct regs;

	if (!sig || !t->space)
		return;
	sb = &t->space->sb;
	if (sb->frames_lost)
		return;
	if (tracee_get_regs(t->tid, &regs) < 0)
		return; /* vanished */
	for (int i = 0; i < 2; i++) {
		uint64_t rip = regs.rip - (i ? 2 : 0);
		bool known = false;

		for (unsigned j = 0; j < sb->nframes; j++)
			known |= sb->frames[j] == rip;
		if (known)
			continue;
		if (sb->nframes == REC_SB_FRAMES) {
			log_debug("thread %d: more than %d signal-delivery points: no more syscall "
				  "sites are patched in its process", t->tid, REC_SB_FRAMES);
			sb->frames_lost = true;
			return;
		}
		sb->frames[sb->nframes++] = rip;
	}
}

/* Whether a signal frame of @sp may resume inside [@start, @end) (not at
 * @start): a rewritten site would be left in the middle of an instruction. */
static bool
frame_inside(const struct rspace *sp, uint64_t start, uint64_t end)
{
	if (sp->sb.frames_lost)
		return true;
	for (unsigned i = 0; i < sp->sb.nframes; i++)
		if (sp->sb.frames[i] > start && sp->sb.frames[i] < end)
			return true;
	return false;
}

/* Site @addr of @sp, noted as tried (REC_SB_PATCHED until told otherwise)
 * if it was not, which *ret_new says; NULL: no memory. Valid until the
 * next site is noted. */
static struct rec_sb_site *
site_of(struct rspace *sp, uint64_t addr, bool *ret_new)
{
	*ret_new = false;
	for (size_t i = 0; i < sp->sb.ntried; i++)
		if (sp->sb.tried[i].addr == addr)
			return &sp->sb.tried[i];
	if (UTIL_GROW(sp->sb.tried, sp->sb.tried_cap, sp->sb.ntried + 1) < 0)
		return NULL;
	*ret_new = true;
	sp->sb.tried[sp->sb.ntried] = (struct rec_sb_site){ .addr = addr, .why = REC_SB_PATCHED };
	return &sp->sb.tried[sp->sb.ntried++];
}

/*
 * An EP run's stub for the site @p plans at @stub (in the area at @base):
 * where the log's run put it instead, if that lies in the same area and no
 * stub of @sp is there. The two runs patch their sites in other orders
 * (their threads run in other orders), and the stub's return address is
 * on the stack while the library runs a call from the site: a signal
 * handler's frames above such a call at an epoch's end held 0x...518b in
 * the EP run and 0x...51bb in the TP run (tests/progs/sig_unblock thread,
 * --epoch=5), a divergence whose rollback sent the TP run's program to
 * address 0 (the TP run's stub area has another stub there). Returns the
 * stub's address, @p planned for it.
 */
static uint64_t
log_stub(const struct recorder *rec, const struct rspace *sp, uint64_t base, const uint8_t *code,
	 uint64_t site, uint64_t nr, struct site_plan *p, uint64_t stub)
{
	struct site_plan q;
	uint64_t want, len;

	if (!rec_ep_site_stub(rec, p->start, &want) || want == stub || want < base ||
	    want + STUB_MAX > base + AREA_LEN || plan_site(code, site, nr, want, &q) < 0 ||
	    q.start != p->start)
		return stub;
	len = (q.stub_len + 15) & ~15ull;
	for (size_t i = 0; i < sp->sb.ntried; i++) {
		const struct rec_sb_site *s = &sp->sb.tried[i];

		if (s->stub_len && s->stub < want + len && want < s->stub + s->stub_len)
			return stub;
	}
	*p = q;
	return want;
}

/* Site @s (@code: the bytes around it, if read) stays unpatched, for @why:
 * its call goes into the library from here if it can
 * (rec_syscallbuf_redirect()); whether @t was resumed. */
static bool
unpatched(struct recorder *rec, struct rthread *t, struct rec_sb_site *s, const uint8_t *code,
	  enum rec_sb_unpatched why)
{
	s->why = (uint8_t)why;
	rec->sb.unpatched_calls[why]++;
	rec->sb.unpatched_sites[why]++;
	if (code)
		log_debug("syscall site 0x%" PRIx64 " not patched (%d): %02x %02x %02x %02x %02x %02x %02x "
			  "[%02x %02x] %02x %02x %02x %02x %02x %02x %02x %02x %02x",
			  s->addr, why, code[0], code[1], code[2], code[3], code[4], code[5], code[6], code[7],
			  code[8], code[9], code[10], code[11], code[12], code[13], code[14], code[15],
			  code[16], code[17]);
	return rec_syscallbuf_redirect(rec, t, s);
}

bool
rec_syscallbuf_may_redirect(const struct rthread *t, uint64_t nr, uint64_t rip)
{
	const struct rspace *sp = t->space;

	return sp && sp->mem.syscallbuf && !sp->mem.syscallbuf_off && buffered_nr(nr) &&
	       !(rip >= UPRR_PRELOAD_ADDR && rip < UPRR_PRELOAD_ADDR + UPRR_PRELOAD_MAP_SIZE);
}

bool
rec_syscallbuf_try_patch(struct recorder *rec, struct rthread *t)
{
	struct rspace *sp = t->space;
	uint64_t rip = t->regs.rip, site = rip - 2, nr = t->regs.orig_rax, stub, area = 0;
	struct user_regs_struct regs = t->regs;
	struct trace_blob blobs[2];
	struct trace_event ev;
	struct site_plan p;
	uint8_t code[CODE_BEFORE + 13];
	struct rec_sb_site *s;
	bool new;
	int r;

	if (!sp->mem.syscallbuf || sp->mem.syscallbuf_off || !buffered_nr(nr) ||
	    (rip >= UPRR_PRELOAD_ADDR && rip < UPRR_PRELOAD_ADDR + UPRR_PRELOAD_MAP_SIZE))
		return false;
	/* A thread without a thread key (FS base 0: ld.so before it sets up
	 * the TLS; or no rdfsbase) would only come back traced from the
	 * library, one more stop: its call is traced here, and the site is
	 * left untried for a call with a key. ld.so's start patched 7 sites
	 * an exec that way (issue 14). */
	if (!t->regs.fs_base || !(rec_syscallbuf_machine_flags() & UPRR_CTL_FSGSBASE))
		return false;
	s = site_of(sp, site, &new);
	if (!s)
		return false;
	if (!new) {
		/* a site that stays traced, or a jump straight to the syscall
		 * instruction of a patched `mov $nr,%eax; syscall` */
		rec->sb.unpatched_calls[s->why]++;
		return rec_syscallbuf_redirect(rec, t, s);
	}
	/* an EP run makes a site's call where the log's run made it: traced
	 * here too, the site left untried (record-ep.c) */
	if (rec->ep && rec_ep_traced_here(rec, t)) {
		sp->sb.ntried--;
		return false;
	}
	if (tracee_read_mem(sp->mem.memfd, site - CODE_BEFORE, code, sizeof(code)) < 0)
		return unpatched(rec, t, s, NULL, REC_SB_UNREADABLE);
	/* a stub within reach: the current area if it has room, else a new one */
	if (sp->sb.area && tracee_area_reaches(sp->sb.area, AREA_LEN, site, AREA_REACH) &&
	    sp->sb.area_used + STUB_MAX <= AREA_LEN) {
		stub = sp->sb.area + sp->sb.area_used;
	} else {
		/* never over soft ticks' page, which may not be mapped yet */
		const uint64_t tick_page[2] = { PATCH_TICK_PAGE, PATCH_TICK_PAGE + 4096 };

		if (tracee_find_area_near(t->tid, site, AREA_LEN, AREA_GUARD, AREA_REACH, tick_page,
					  1, &area) < 0)
			return unpatched(rec, t, s, code, REC_SB_NO_AREA);
		stub = area;
	}
	if (plan_site(code, site, nr, stub, &p) < 0)
		return unpatched(rec, t, s, code, REC_SB_SHAPE);
	if (rec->ep)
		stub = log_stub(rec, sp, area ? area : sp->sb.area, code, site, nr, &p, stub);
	/* a handler's return into the rewritten bytes would crash (tests/progs/
	 * sig_unblock: a handler's write at the write it interrupted): the
	 * site stays traced while such a frame may exist */
	if (frame_inside(sp, p.start, p.start + p.site_len)) {
		sp->sb.ntried--;
		return false;
	}
	/* a TP run's other threads stand still while the code changes */
	if ((!rec_serial(rec) && !rec_tp_hold_space(rec, t)) ||
	    thread_inside(rec, t, p.start, p.start + p.site_len)) {
		if (!rec_serial(rec))
			rec_tp_release_space(rec);
		sp->sb.ntried--; /* another thread is in its syscall there: later */
		return false;
	}
	rec_event_init(&ev, TRACE_EV_SITE_PATCH, t->tid);
	rec_event_set_regs(&ev, &t->regs);
	ev.nvalues = 4;
	ev.values[0] = nr;
	ev.values[1] = area;
	ev.values[2] = area ? AREA_LEN : 0;
	ev.values[3] = p.start;
	blobs[0] = (struct trace_blob){ stub, (uint32_t)p.stub_len, p.stub };
	blobs[1] = (struct trace_blob){ p.start, (uint32_t)p.site_len, p.site };
	ev.nblobs = 2;
	ev.blobs = blobs;
	r = rec_syscallbuf_apply_patch(t->tid, sp->mem.memfd, &ev, &regs);
	if (!rec_serial(rec))
		rec_tp_release_space(rec);
	if (r < 0) {
		/* the syscall was skipped: issue it again, unpatched */
		log_debug("thread %d: cannot patch the syscall site at 0x%" PRIx64 ": %s", t->tid, site,
			  strerror(-r));
		s->why = REC_SB_FAILED; /* its next calls go into the library from their stop */
		rec->sb.unpatched_calls[REC_SB_FAILED]++;
		rec->sb.unpatched_sites[REC_SB_FAILED]++;
		if (area && r != -EADDRINUSE && r != -EEXIST) {
			rec_stop_recording(rec, "cannot patch a syscall site: %s", strerror(-r));
			return true;
		}
		regs = t->regs;
		regs.orig_rax = (uint64_t)-1;
		regs.rip = site;
		regs.rax = nr;
		if (tracee_set_regs(t->tid, &regs) < 0)
			return true; /* vanished */
		t->regs = regs;
		rec_resume_user(rec, t, 0, NULL);
		return true;
	}
	if (rec_write_event(rec, &ev) < 0)
		return true;
	if (area) {
		sp->sb.area = area;
		sp->sb.area_used = 0;
	}
	/* past every stub so far (an EP run's may lie where the log's run
	 * put them: log_stub()); the site found again, as other threads'
	 * sites may have been noted meanwhile */
	s = site_of(sp, site, &new);
	if (s) {
		s->stub = stub;
		s->stub_len = (uint32_t)((p.stub_len + 15) & ~15ull);
	}
	sp->sb.area_used = MAX(sp->sb.area_used, stub - sp->sb.area + ((p.stub_len + 15) & ~15ull));
	/* restore points need nothing: the stub area is read + execute and the
	 * patched code not writable either (record-restore.c: mmap without
	 * PROT_WRITE), and no rollback undoes an event */
	rec->sb.patched++;
	t->regs = regs;
	rec_resume_user(rec, t, 0, NULL);
	return true;
}

void
rec_syscallbuf_space_free(struct rec_sb_space *s)
{
	free(s->tried);
	*s = (struct rec_sb_space){ 0 };
}
