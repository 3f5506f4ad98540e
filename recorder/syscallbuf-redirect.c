/* SPDX-License-Identifier: MIT */
/*
 * The fallback for syscall sites that syscallbuf-patch.c cannot rewrite (a
 * shape it does not know, no room for a stub within reach): at the seccomp
 * stop of a call the buffer takes from such a site, the thread is sent
 * into the library's redirect entry, which makes the call there (buffered,
 * or traced if the library does not take it with these arguments) and
 * returns right after the syscall instruction. The site's first such call
 * is a TRACE_EV_SITE_PATCH without bytes, which replay applies at the same
 * stop with the same function (rec_syscallbuf_apply_patch) and which puts
 * the site in the address space's list (rec_syscallbuf_note_patch); its
 * later calls are sent there from their seccomp stop with no event, in
 * record (rec_on_syscall_entry) and replay (replay_resume_to_stop) alike,
 * their records flushed with the thread's next event as any buffered
 * call's: one ptrace stop a call, where the traced path costs two stops
 * and two events. Why not syscall user dispatch: doc/syscall-buffer.md,
 * "Sites that cannot be patched".
 */
#define LOG_PREFIX "syscallbuf"
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <asm/unistd.h>

#include "common/log.h"
#include "preload/uprr-preload.h"
#include "recorder/record-private.h"
#include "recorder/recorder.h"
#include "trace/trace.h"
#include "tracee/tracee.h"

#define REDIRECT_ENTRY (UPRR_PRELOAD_ADDR + UPRR_PRELOAD_ENTRY_REDIRECT)

static bool
in_library(uint64_t rip)
{
	return rip >= UPRR_PRELOAD_ADDR && rip < UPRR_PRELOAD_ADDR + UPRR_PRELOAD_CODE_SIZE;
}

/* Whether a call with @regs at a seccomp stop may be sent into the
 * library's redirect entry: one the buffer takes, from a thread with a
 * thread key (rdfsbase, an FS base: else the library traces it), made by
 * the syscall instruction, which put the address after it in rcx (the
 * filter sends any other ABI's SIGSYS instead, recorder/seccomp.c; and
 * not the vsyscall page's emulated calls, no instruction there). */
static bool
may_redirect(const struct user_regs_struct *regs)
{
	return sc_buffered((long)regs->orig_rax) && (rec_syscallbuf_machine_flags() & UPRR_CTL_FSGSBASE) &&
	       regs->fs_base && regs->rcx == regs->rip && regs->rip < 0x800000000000ull &&
	       !in_library(regs->rip);
}

int
rec_syscallbuf_note_patch(struct rec_space *sp, const struct trace_event *ev)
{
	struct user_regs_struct regs;
	uint64_t site;

	if (ev->nblobs || ev->nvalues < 4 || ev->values[3] != REDIRECT_ENTRY || !ev->has_regs)
		return 0;
	memcpy(&regs, ev->regs, sizeof(regs));
	site = regs.rip - 2;
	for (size_t i = 0; i < sp->nredirects; i++)
		if (sp->redirects[i] == site)
			return 0;
	if (UTIL_GROW(sp->redirects, sp->redirects_cap, sp->nredirects + 1) < 0)
		return -ENOMEM;
	sp->redirects[sp->nredirects++] = site;
	return 0;
}

bool
rec_syscallbuf_redirected(const struct rec_space *sp, const struct user_regs_struct *regs)
{
	if (!sp->nredirects || !sp->syscallbuf || sp->syscallbuf_off || !may_redirect(regs))
		return false;
	for (size_t i = 0; i < sp->nredirects; i++)
		if (sp->redirects[i] == regs->rip - 2)
			return true;
	return false;
}

int
rec_syscallbuf_redirect_regs(pid_t tid, struct user_regs_struct *regs)
{
	regs->rax = regs->orig_rax;
	regs->orig_rax = (uint64_t)-1; /* skipped: rax stays */
	regs->rip = REDIRECT_ENTRY;
	return tracee_set_regs(tid, regs);
}

bool
rec_syscallbuf_redirect(struct recorder *rec, struct rthread *t, struct rec_sb_site *s)
{
	struct user_regs_struct regs = t->regs;
	struct trace_event ev;

	if (!may_redirect(&t->regs))
		return false;
	rec_event_init(&ev, TRACE_EV_SITE_PATCH, t->tid);
	rec_event_set_regs(&ev, &t->regs);
	ev.nvalues = 4;
	ev.values[0] = t->regs.orig_rax;
	ev.values[3] = REDIRECT_ENTRY;
	if (rec_syscallbuf_apply_patch(t->tid, t->space->mem.memfd, &ev, &regs) < 0)
		return true; /* vanished (ESRCH): its exit is seen next */
	if (rec_write_event(rec, &ev) < 0)
		return true;
	if (rec_syscallbuf_note_patch(&t->space->mem, &ev) < 0) {
		rec_stop_recording(rec, "cannot note a redirected syscall site: out of memory");
		return true;
	}
	s->redirects++;
	rec->sb.redirects++;
	t->sb_redirected = s->addr;
	t->regs = regs;
	rec_resume_user(rec, t, 0, NULL);
	return true;
}

bool
rec_syscallbuf_redirect_silent(struct recorder *rec, struct rthread *t)
{
	uint64_t site = t->regs.rip - 2;

	if (!rec_syscallbuf_redirected(&t->space->mem, &t->regs))
		return false;
	if (rec_syscallbuf_redirect_regs(t->tid, &t->regs) < 0)
		return true; /* vanished (ESRCH): its exit is seen next */
	rec->sb.redirects++;
	t->sb_redirected = site;
	/* not an event: its run goes on (a signal waiting for the thread
	 * waits for its next event: the buffer's interrupt sends that call
	 * the traced way, as for any buffered call) */
	rec_resume(t, PTRACE_CONT, 0);
	return true;
}

void
rec_syscallbuf_redirect_seen(struct recorder *rec, struct rthread *t)
{
	struct rec_sb_space *sb = &t->space->sb;
	uint64_t site = t->sb_redirected;

	t->sb_redirected = 0;
	/* the thread's next stop after a redirect is a traced call from the
	 * library: most often the redirected call, which the library did not
	 * buffer (for uprr record -v only) */
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

void
rec_syscallbuf_log_sites(const struct rec_sb *sb)
{
	const uint64_t *calls = sb->unpatched_calls, *sites = sb->unpatched_sites;

	if (!sb->patched && !sb->redirects)
		return;
	log_info("syscall buffer: %" PRIu64 " records, %" PRIu64 " sites patched; traced calls it takes from "
		 "sites not patched: %" PRIu64 " (%" PRIu64 " sites) of unknown shape, %" PRIu64 " (%" PRIu64
		 ") with no room for a stub, %" PRIu64 " (%" PRIu64 ") unreadable, %" PRIu64 " (%" PRIu64
		 ") failed; %" PRIu64 " at a patched site",
		 sb->records, sb->patched, calls[REC_SB_SHAPE], sites[REC_SB_SHAPE], calls[REC_SB_NO_AREA],
		 sites[REC_SB_NO_AREA], calls[REC_SB_UNREADABLE], sites[REC_SB_UNREADABLE], calls[REC_SB_FAILED],
		 sites[REC_SB_FAILED], calls[REC_SB_PATCHED]);
	if (sb->ref_reads)
		log_info("syscall buffer: %" PRIu64 " reads (%" PRIu64 " bytes) kept by reference to "
			 "package-managed files", sb->ref_reads, sb->ref_bytes);
	if (sb->redirects)
		log_info("syscall buffer: %" PRIu64 " calls sent into the library from their seccomp stop, %" PRIu64
			 " of them followed by a traced call from the library",
			 sb->redirects, sb->redirect_misses);
}
