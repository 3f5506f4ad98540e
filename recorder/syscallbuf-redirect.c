/* SPDX-License-Identifier: MIT */
/*
 * The fallback for syscall sites that syscallbuf-patch.c cannot rewrite (a
 * shape it does not know, no room for a stub within reach): at the seccomp
 * stop of a call the buffer takes from such a site, the thread is sent
 * into the library's redirect entry, which makes the call there (buffered,
 * or traced if the library does not take it with these arguments) and
 * returns right after the syscall instruction. One ptrace stop where the
 * traced path costs two (the entry and the exit stop). Recorded as a
 * TRACE_EV_SITE_PATCH without bytes, which replay applies at the same stop
 * with the same function (rec_syscallbuf_apply_patch). Why not syscall
 * user dispatch: doc/syscall-buffer.md, "Sites that cannot be patched".
 */
#define LOG_PREFIX "syscallbuf"
#include <inttypes.h>

#include "common/log.h"
#include "preload/uprr-preload.h"
#include "recorder/record-private.h"
#include "recorder/recorder.h"
#include "trace/trace.h"

/* Calls redirected from a site before its misses count: a site whose
 * calls the library mostly traces anyway (arguments it does not take)
 * costs three stops a call redirected, two left on the traced path. */
#define REDIRECT_TRIAL 16

static bool
in_library(uint64_t rip)
{
	return rip >= UPRR_PRELOAD_ADDR && rip < UPRR_PRELOAD_ADDR + UPRR_PRELOAD_CODE_SIZE;
}

bool
rec_syscallbuf_redirect(struct recorder *rec, struct rthread *t, struct rec_sb_site *s)
{
	struct user_regs_struct regs = t->regs;
	struct trace_event ev;

	/* the library would trace it: no thread key (rdfsbase, an FS base) */
	if (!(rec_syscallbuf_machine_flags() & UPRR_CTL_FSGSBASE) || !t->regs.fs_base)
		return false;
	if (s->redirects >= REDIRECT_TRIAL && s->misses * 2 > s->redirects)
		return false;
	/* The redirect entry returns to rcx: at a seccomp stop the syscall
	 * instruction (0f 05: the filter sends any other ABI's SIGSYS
	 * instead, recorder/seccomp.c) put the address after it there. Not
	 * the vsyscall page's emulated calls (no instruction there). */
	if (t->regs.rcx != t->regs.rip || t->regs.rip >= 0x800000000000ull)
		return false;
	rec_event_init(&ev, TRACE_EV_SITE_PATCH, t->tid);
	rec_event_set_regs(&ev, &t->regs);
	ev.nvalues = 4;
	ev.values[0] = t->regs.orig_rax;
	ev.values[3] = UPRR_PRELOAD_ADDR + UPRR_PRELOAD_ENTRY_REDIRECT;
	if (rec_syscallbuf_apply_patch(t->tid, t->space->mem.memfd, &ev, &regs) < 0)
		return true; /* vanished (ESRCH): its exit is seen next */
	if (rec_write_event(rec, &ev) < 0)
		return true;
	s->redirects++;
	rec->sb.redirects++;
	t->sb_redirected = s->addr;
	t->regs = regs;
	rec_resume_user(rec, t, 0, NULL);
	return true;
}

void
rec_syscallbuf_redirect_seen(struct recorder *rec, struct rthread *t)
{
	struct rec_sb_space *sb = &t->space->sb;
	uint64_t site = t->sb_redirected;

	t->sb_redirected = 0;
	/* the next stop after a redirect is the library's traced call: the
	 * library did not buffer it */
	if (!site || !in_library(t->regs.rip))
		return;
	for (size_t i = 0; i < sb->ntried; i++)
		if (sb->tried[i].addr == site) {
			sb->tried[i].misses++;
			rec->sb.redirect_misses++;
			log_debug("thread %d: a call redirected from site 0x%" PRIx64 " was traced by the library",
				  t->tid, site);
			return;
		}
}
