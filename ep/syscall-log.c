/* SPDX-License-Identifier: MIT */
/*
 * The log an EP run answers its syscalls from, read from a trace: each
 * thread's syscalls in its own program order (not the trace's global one:
 * the EP run has a schedule of its own), with the bytes each passed out and
 * the memory each wrote; and the mapping between the EP run's thread ids
 * and the log's.
 */
#define LOG_PREFIX "ep"
#include "ep/ep.h"

#include <asm/unistd.h>
#include <errno.h>
#include <linux/futex.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/user.h>

#include "common/log.h"
#include "ep/syscall-log-sb.h"
#include "preload/uprr-preload.h"
#include "syscalls/syscalls.h"

/* One thread of the log. */
struct log_thread {
	pid_t tid;
	struct ep_call *calls;
	size_t ncalls, cap;
	size_t next;	   /* the next call ep_log_take() gives */
	bool skipping;	   /* its last entry was left out: so is its exit */
	bool after_exit;   /* its last event was a matched call's exit */
	size_t exit_nends; /* its ends logged before that exit */
	long cur_nr;	   /* its last entry's call (matched or left out) */
	int64_t restart;   /* its last call's exit was -ERESTART* (0: not):
			    * unless a signal's delivery follows, the next
			    * entry of the same call (or restart_syscall)
			    * goes on with it */
	bool restarting;   /* its current call is such a restart, folded into
			    * its last one (a left-out call's: left out too) */
	struct ep_end *ends; /* its epoch ends (ep_log_ends()) */
	size_t nends, ends_cap;
	bool end_pending;  /* its last end is at a syscall: its next exit says
			    * whether it was interrupted (ENTRY) or had ended (EXIT) */
	bool end_before;   /* that end was held at the entry of its next call,
			    * not entered: its next entry says which */
	bool in_call;	   /* between a traced entry and its exit */
	bool end_hinted;   /* its pending end's exit is known to be
			    * -ERESTART* (TRACE_EV_EPOCH's values[4] 1) */
	uint64_t *tsc;	   /* its rdtsc values (rax, rdx, rcx each: ep_log_take_tsc()) */
	size_t ntsc, tsc_cap, tsc_next;
	long last_nr;	   /* its last entry: the call, */
	uint64_t last_args[6]; /* its arguments, */
	uint64_t last_rip; /* and where it was made */
	uint64_t logged;   /* its syscalls the log counted (ep_call.logged) */
	struct ep_sb_thread sb; /* what its buffered calls leave to traced ones */
};

struct tid_pair {
	pid_t tid, log_tid;
};

/* An exec of the log: the image its thread started after it. */
struct log_exec {
	pid_t tid;		  /* the log's id of the process after it */
	uint32_t exe;		  /* its executable: a file id */
	struct trace_blob *stack; /* its initial stack */
	uint64_t regs[TRACE_NREGS];
	bool taken;		  /* the EP run's exec of it came */
};

struct ep_log {
	struct trace_reader *r; /* kept open: the kept files */
	pid_t root;
	uint32_t exe;		  /* the first exec's executable: a file id */
	struct trace_blob *stack; /* the first exec's */
	uint64_t regs[TRACE_NREGS];
	struct log_thread *threads;
	size_t nthreads, threads_cap;
	struct tid_pair *tids;
	size_t ntids, tids_cap;
	struct log_exec *execs;	  /* the execs after the first one */
	size_t nexecs, execs_cap;
	uint64_t *mapped;	  /* ep_log_mapped()'s pairs */
	size_t nmapped;
	struct ep_stub_area *stubs; /* ep_log_stubs() */
	size_t nstubs, stubs_cap;
	uint64_t *sites;	  /* ep_log_site_stub()'s pairs: start, stub */
	size_t nsites, sites_cap;
	uint64_t nends;		  /* epoch ends read (their seq) */
	uint64_t last_k;	  /* the last checkpoint's number */
	struct ep_sb_reader sb;	  /* its buffered records' reads by reference */
	bool syscallbuf;	  /* its first exec mapped the syscall buffer */
	bool follow;		  /* ep_log_open_follow(): the log still grows */
	bool whole;		  /* read to its end, the writer done */
};

/* Address space reserved for a thread's calls in a log that grows
 * (ep_log_open_follow()): they never move, as an EP run holds pointers to
 * them (rthread.ep_call...) across ep_log_more(). Pages are used only as
 * calls are added. */
#define EP_FOLLOW_CALLS_BYTES (16ull << 30)

static struct log_thread *
find_thread(struct ep_log *log, pid_t tid, bool add)
{
	for (size_t i = 0; i < log->nthreads; i++)
		if (log->threads[i].tid == tid)
			return &log->threads[i];
	if (!add || UTIL_GROW(log->threads, log->threads_cap, log->nthreads + 1) < 0)
		return NULL;
	log->threads[log->nthreads] = (struct log_thread){ .tid = tid };
	if (log->follow) {
		void *p = mmap(NULL, EP_FOLLOW_CALLS_BYTES, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (p == MAP_FAILED)
			return NULL;
		log->threads[log->nthreads].calls = p;
		log->threads[log->nthreads].cap = EP_FOLLOW_CALLS_BYTES / sizeof(struct ep_call);
	}
	return &log->threads[log->nthreads++];
}

/* A copy of @n blobs and their bytes in one allocation, NULL for none. */
static struct trace_blob *
copy_blobs(const struct trace_blob *blobs, uint32_t n, int *ret_err)
{
	struct trace_blob *c;
	size_t bytes = 0;
	uint8_t *data;

	*ret_err = 0;
	if (!n)
		return NULL;
	for (uint32_t i = 0; i < n; i++)
		bytes += blobs[i].len;
	c = malloc(n * sizeof(*c) + bytes);
	if (!c) {
		*ret_err = -ENOMEM;
		return NULL;
	}
	data = (uint8_t *)(c + n);
	for (uint32_t i = 0; i < n; i++) {
		c[i] = blobs[i];
		memcpy(data, blobs[i].data, blobs[i].len);
		c[i].data = data;
		data += blobs[i].len;
	}
	return c;
}

/*
 * Whether an entry of call @nr by @lt restarts its last call, which an
 * interrupt with no signal delivered ended: the kernel restarts a call
 * that returned -ERESTART* when no handler runs, as the same call with the
 * same registers, or as restart_syscall(2) after -ERESTART_RESTARTBLOCK
 * (arch_do_signal_or_restart()); the program never sees it. In a TP log
 * that is an epoch's end (its TRACE_EV_EPOCH of the thread at
 * TRACE_EPOCH_SYSCALL comes before the exit; an end the recorder put off
 * after interrupting the threads logs none). A signal's interrupt is not
 * folded: every asynchronous signal is delivered and logged after the
 * exit (the call's sigs), and the EP run delivers it there.
 */
static bool
restarts_last(const struct log_thread *lt, long nr)
{
	if (!lt->restart)
		return false;
	if (!lt->skipping && lt->calls[lt->ncalls - 1].nsigs)
		return false;
	if (lt->restart == -SC_ERESTART_RESTARTBLOCK)
		return nr == __NR_restart_syscall;
	return nr == lt->cur_nr;
}

/* @a's @na blobs and then @b's @nb in one allocation (the bytes a call
 * wrote before an epoch's interrupt, then those of its restart, later
 * writes over earlier ones), NULL for none. */
static struct trace_blob *
join_blobs(const struct trace_blob *a, uint32_t na, const struct trace_blob *b, uint32_t nb,
	   int *ret_err)
{
	struct trace_blob *all, *c;

	*ret_err = 0;
	if (!na || !nb)
		return copy_blobs(na ? a : b, na ? na : nb, ret_err);
	all = malloc((na + nb) * sizeof(*all));
	if (!all) {
		*ret_err = -ENOMEM;
		return NULL;
	}
	memcpy(all, a, na * sizeof(*a));
	memcpy(all + na, b, nb * sizeof(*b));
	c = copy_blobs(all, na + nb, ret_err);
	free(all);
	return c;
}

static int
add_entry(struct log_thread *lt, const struct trace_event *ev)
{
	struct ep_call *c;
	int r;

	lt->after_exit = false;
	if (restarts_last(lt, (long)ev->values[0])) {
		/* the same call again, as the kernel restarted it after an
		 * epoch's interrupt: the one the program made goes on (its
		 * entry, arguments and bytes are the first's) */
		lt->restart = 0;
		lt->restarting = true;
		if (!lt->skipping)
			lt->calls[lt->ncalls - 1].exited = false;
		return 0;
	}
	lt->restart = 0;
	lt->restarting = false;
	lt->cur_nr = (long)ev->values[0];
	lt->skipping = sc_ep_unmatched((long)ev->values[0]);
	if (lt->skipping)
		return 0;
	if (UTIL_GROW(lt->calls, lt->cap, lt->ncalls + 1) < 0)
		return -ENOMEM;
	c = &lt->calls[lt->ncalls];
	*c = (struct ep_call){ .nr = (long)ev->values[0] };
	memcpy(c->args, &ev->values[1], sizeof(c->args));
	if (ev->has_regs)
		c->rip = ev->regs[offsetof(struct user_regs_struct, rip) / 8];
	c->in = copy_blobs(ev->blobs, ev->nblobs, &r);
	if (r < 0)
		return r;
	c->nin = ev->nblobs;
	lt->ncalls++;
	return 0;
}

static int
add_exit(struct log_thread *lt, const struct trace_event *ev)
{
	struct trace_blob *out;
	struct ep_call *c;
	int r;

	/* interrupted: an epoch's end, or a signal, whose delivery the log
	 * shows next (restarts_last() tells them apart) */
	if (sc_result_restarts((int64_t)ev->values[1]) && (lt->skipping || lt->ncalls))
		lt->restart = (int64_t)ev->values[1];
	if (lt->skipping || !lt->ncalls)
		return 0;
	c = &lt->calls[lt->ncalls - 1];
	lt->after_exit = true;
	lt->exit_nends = lt->nends;
	if (c->exited ||
	    (lt->restarting ? lt->cur_nr != (long)ev->values[0] &&
				      (long)ev->values[0] != __NR_restart_syscall
			    : c->nr != (long)ev->values[0]))
		return -EBADMSG;
	c->exited = true;
	c->result = (int64_t)ev->values[1];
	c->nvalues = MIN(ev->nvalues, (uint32_t)TRACE_MAX_VALUES);
	memcpy(c->values, ev->values, sizeof(c->values));
	c->values[0] = (uint64_t)c->nr; /* a restart_syscall(2) answers the call */
	out = join_blobs(c->out, c->nout, ev->blobs, ev->nblobs, &r);
	if (r < 0)
		return r;
	free(c->out);
	c->out = out;
	c->nout += ev->nblobs;
	return 0;
}

static int
add_sent(struct ep_call *c, const struct trace_event *ev)
{
	struct trace_event *e;
	int r;

	e = realloc(c->sent, (c->nsent + 1) * sizeof(*c->sent));
	if (!e)
		return -ENOMEM;
	c->sent = e;
	e = &c->sent[c->nsent];
	*e = *ev;
	e->blobs = copy_blobs(ev->blobs, ev->nblobs, &r);
	if (r < 0)
		return r;
	c->nsent++;
	return 0;
}

/*
 * An asynchronous signal of the log: attached to its thread's last call,
 * delivered by the EP run at that call's exit (TRACE_SIGNAL_AT_EVENT), or
 * raised there while the thread's mask blocks it, for the rt_sigreturn
 * that unblocks it to take it (TRACE_SIGNAL_AT_UNBLOCK), or instead of
 * entering the thread's next call (TRACE_SIGNAL_AT_SYSCALL, which the log
 * writes before that call's entry), where the log's run delivered it. One
 * at the exit of a call left out of matching that came after the last
 * matched one (a futex wait it interrupted: Pool.terminate()'s SIGTERM to
 * a worker waiting for its next task) is delivered as the second kind,
 * instead of entering the thread's next call after that matched one: the
 * EP run's futex calls are its own, and its thread stands then where the
 * log's did, past the same calls (its first futex wait after them, if it
 * makes one). -ENOTSUP with @err for the points an EP run cannot find yet.
 */
static int
add_signal(struct ep_log *log, const struct trace_event *ev, char *err, size_t errlen)
{
	struct log_thread *lt = find_thread(log, (pid_t)ev->tid, false);
	uint64_t kind = ev->values[1];
	struct ep_call *c = lt && lt->ncalls ? &lt->calls[lt->ncalls - 1] : NULL;
	/* past a left-out call's exit, itself past the last matched one's */
	bool left_out = c && !lt->after_exit && lt->skipping && !lt->in_call && c->exited;
	struct ep_signal *sigs;
	const char *why = NULL;

	if (kind == TRACE_SIGNAL_AT_EVENT && left_out)
		kind = TRACE_SIGNAL_AT_SYSCALL;
	if (kind != TRACE_SIGNAL_AT_EVENT && kind != TRACE_SIGNAL_AT_SYSCALL &&
	    kind != TRACE_SIGNAL_AT_UNBLOCK)
		why = "in user code, between two syscalls, which an EP run does not find yet";
	else if (!c || (!lt->after_exit && !(left_out && kind == TRACE_SIGNAL_AT_SYSCALL)))
		why = "after an event other than a syscall's exit (a futex wait, the thread's start)";
	else if (c->nsigs && c->sigs[c->nsigs - 1].kind == TRACE_SIGNAL_AT_SYSCALL)
		why = "instead of entering a syscall, beside another at the same point";
	else if (!ev->nblobs || ev->blobs[0].len > sizeof(c->sigs->info))
		return -EBADMSG;
	if (why) {
		snprintf(err, errlen, "thread %u took asynchronous signal %" PRIu64 " %s", ev->tid,
			 ev->values[0], why);
		return -ENOTSUP;
	}
	sigs = realloc(c->sigs, (c->nsigs + 1) * sizeof(*sigs));
	if (!sigs)
		return -ENOMEM;
	c->sigs = sigs;
	sigs[c->nsigs] = (struct ep_signal){ .sig = (int)ev->values[0], .kind = (uint32_t)kind };
	memcpy(sigs[c->nsigs].info, ev->blobs[0].data, ev->blobs[0].len);
	if (kind == TRACE_SIGNAL_AT_SYSCALL && ev->has_regs) {
		struct user_regs_struct regs;

		memcpy(&regs, ev->regs, MIN(sizeof(regs), sizeof(ev->regs)));
		sigs[c->nsigs].rip = regs.rip;
		sigs[c->nsigs].nr = regs.orig_rax;
		sigs[c->nsigs].rsp = regs.rsp;
	}
	c->nsigs++;
	/* those at its exit first, then at most one instead of entering
	 * the next call (refused above past that one) */
	if (kind != TRACE_SIGNAL_AT_SYSCALL)
		c->nexit = c->nsigs;
	/* another may follow at the same point (at this one's handler) */
	lt->after_exit = kind != TRACE_SIGNAL_AT_SYSCALL;
	return 0;
}

/* An exec after the first one (a child's, or a program's exec of another). */
static int
add_exec(struct ep_log *log, const struct trace_event *ev)
{
	struct log_exec *e;
	int r;

	if (UTIL_GROW(log->execs, log->execs_cap, log->nexecs + 1) < 0)
		return -ENOMEM;
	e = &log->execs[log->nexecs];
	*e = (struct log_exec){ .tid = (pid_t)ev->tid, .exe = (uint32_t)ev->values[0] };
	memcpy(e->regs, ev->regs, sizeof(e->regs));
	e->stack = copy_blobs(ev->blobs, 1, &r);
	if (r < 0)
		return r;
	log->nexecs++;
	return 0;
}

/* ---- rdtsc values (ep_log_take_tsc()) ---- */

/* A TRACE_EV_RDTSC of the log's thread ev->tid: its values, in order. */
static int
add_tsc(struct ep_log *log, const struct trace_event *ev)
{
	struct log_thread *lt = find_thread(log, (pid_t)ev->tid, true);

	if (!lt)
		return -ENOMEM;
	lt->after_exit = false;
	if (ev->nvalues < 3)
		return -EBADMSG;
	if (UTIL_GROW(lt->tsc, lt->tsc_cap, lt->ntsc + 3) < 0)
		return -ENOMEM;
	memcpy(&lt->tsc[lt->ntsc], ev->values, 3 * sizeof(uint64_t));
	lt->ntsc += 3;
	return 0;
}

int
ep_log_take_tsc(struct ep_log *log, pid_t log_tid, uint64_t ret[3])
{
	struct log_thread *lt = find_thread(log, log_tid, false);

	if (!lt || lt->tsc_next + 3 > lt->ntsc)
		return -ENOENT;
	memcpy(ret, &lt->tsc[lt->tsc_next], 3 * sizeof(uint64_t));
	lt->tsc_next += 3;
	return 0;
}

/* ---- epoch ends (ep_log_ends()) ---- */

const char *
ep_why_name(enum ep_why why)
{
	/* clang-format off */
	static const char *const names[EP_WHY_N] = {
		[EP_WHY_NONE]		 = "none",
		[EP_WHY_USER]		 = "user-code",
		[EP_WHY_IN_BUFFERED]	 = "in-buffered-call",
		[EP_WHY_LIBRARY]	 = "library-call",
		[EP_WHY_LIBRARY_FRAMES]	 = "library-frames",
		[EP_WHY_INTERPOSER]	 = "interposer-call",
		[EP_WHY_REDIRECTED]	 = "redirected-call",
		[EP_WHY_LIBRARY_FUTEX]	 = "library-futex",
		[EP_WHY_UNMATCHED]	 = "unmatched-call",
		[EP_WHY_AFTER_FUTEX]	 = "after-futex",
		[EP_WHY_EXIT_FIRST]	 = "exit-first",
		[EP_WHY_BEFORE_BUFFERED] = "before-buffered-call",
		[EP_WHY_NO_CALL]	 = "no-call",
		[EP_WHY_LOADER]		 = "loader",
		[EP_WHY_DIVERGED]	 = "after-divergence",
		[EP_WHY_NO_COPY]	 = "no-copy",
		[EP_WHY_NO_END]		 = "no-end",
		[EP_WHY_STALL]		 = "stalled",
		[EP_WHY_PASSED]		 = "went-past",
		[EP_WHY_CHECK_FAILED]	 = "check-failed",
		[EP_WHY_PROGRAM_EXIT]	 = "program-exit",
	};
	/* clang-format on */

	return (unsigned)why < EP_WHY_N && names[why] ? names[why] : "unknown";
}

/* Keep the call an entry @ev of @lt makes, matched or not: an epoch's end
 * inside a call left out of matching (futex) is known by it. */
/* Whether @rip is in the syscall buffer's library (its fixed pages): a
 * traced call it makes after an attempt that could not wait, or one an
 * end's request (UPRR_CTL_EPOCH_END) sent the traced way from its entry.
 * An EP run with the buffer makes the same call there: the log has it
 * traced, so the buffer's pre-fill stops before it and the library makes
 * it through the same uprr_traced_call() (preload/syscallbuf.c); an EP
 * run without the buffer makes it at the program's site, with other
 * registers and without the library's frames on the stack: an end held
 * at its entry is not found there (EP_WHY_LIBRARY). */
static bool
in_library(uint64_t rip)
{
	return rip >= UPRR_PRELOAD_ADDR && rip < UPRR_PRELOAD_ADDR + UPRR_PRELOAD_CODE_SIZE;
}

/*
 * Whether a futex(2) call @nr with @args that the syscall buffer's library
 * made (its wait after an attempt) is one an EP run's thread does not wait
 * in: a private one, a lock's or a condition variable's word (glibc's
 * pthread_mutex_lock(3), pthread_cond_wait(3)), whose order the EP run's
 * FOLLOW imposes without waiting there, the word's value differing too.
 * A shared one, pthread_join(3)'s wait on the joined thread's tid word
 * (LLL_SHARED: the kernel's CLONE_CHILD_CLEARTID wake is shared), is made
 * in the EP run too and found (tp_race's, pipe_threads' main threads).
 * Parked at a private one the EP run did not make, the thread's entry
 * stood in the trace before the other threads' events and the live call
 * ran after them: pigz -p 2's replays diverged at a futex (3 of 3,
 * --epoch=50), the thread that did not get there going past its end.
 */
static bool
library_futex_unfound(long nr, const uint64_t *args)
{
	return nr == __NR_futex && (args[1] & FUTEX_PRIVATE_FLAG);
}

/* Where end @e of @lt, held at the entry of its next call (not entered),
 * stands: that call is @nr with @args, made at @rip (after the syscall
 * instruction, as an entry's registers have it); @told: the TP run said
 * so at the end (values[4] 3), else it is the entry that followed. */
static void
resolve_before(struct log_thread *lt, struct ep_end *e, long nr, const uint64_t *args, uint64_t rip,
	       bool told)
{
	bool same = restarts_last(lt, nr);

	/* found by an EP run with the buffer only (record-ep-check.c) */
	e->library = in_library(rip);
	e->why = e->library ? EP_WHY_LIBRARY : EP_WHY_NONE;
	if (e->library && !told) {
		/* not told at the end (values[4] not 3): held at a program's
		 * site whose call the library then took over
		 * (rec_syscallbuf_may_redirect()); the copy stands at the
		 * site, an EP run at the library's call (tp_race: "rip
		 * 0x7ffff7feace5 in A, 0x6d0000a5 in B", ld.so's call) */
		e->at = EP_END_UNKNOWN;
		e->why = EP_WHY_REDIRECTED;
		return;
	}
	if ((same && lt->skipping) || (!same && sc_ep_unmatched(nr))) {
		e->at = nr == __NR_futex || (same && lt->cur_nr == __NR_futex) ? EP_END_FUTEX
									    : EP_END_UNKNOWN;
		if (e->at == EP_END_UNKNOWN)
			e->why = EP_WHY_UNMATCHED;
		/* a futex wait the library makes: found in a condition wait
		 * or a lock */
		if (e->library && e->at == EP_END_FUTEX && library_futex_unfound(nr, args)) {
			e->at = e->sync_rec ? EP_END_SYNC : EP_END_UNKNOWN;
			e->why = e->sync_rec ? EP_WHY_NONE : EP_WHY_LIBRARY_FUTEX;
		}
		e->idx = lt->ncalls;
		e->nr = nr;
		memcpy(e->args, args, sizeof(e->args));
		e->rip = rip;
	} else {
		e->at = EP_END_ENTRY;
		e->idx = same ? lt->ncalls - 1 : lt->ncalls;
		/* a call not logged yet (lock-step): what it is, to know it
		 * at its entry */
		e->nr = nr;
		memcpy(e->args, args, sizeof(e->args));
		e->rip = rip;
	}
}

static void
note_entry(struct log_thread *lt, const struct trace_event *ev)
{
	long nr = (long)ev->values[0];
	uint64_t rip = ev->has_regs ? ev->regs[offsetof(struct user_regs_struct, rip) / 8] : 0;

	lt->in_call = true;
	if (lt->end_pending && lt->end_before) {
		/* held at this entry: the call it makes (a restart of the
		 * last one folds into it) */
		bool told = lt->end_hinted;

		lt->end_pending = false;
		lt->end_hinted = false;
		resolve_before(lt, &lt->ends[lt->nends - 1], nr, &ev->values[1], rip, told);
	}
	/* a restart keeps the call's first entry */
	if (!restarts_last(lt, nr)) {
		lt->last_nr = nr;
		memcpy(lt->last_args, &ev->values[1], sizeof(lt->last_args));
		lt->last_rip = rip;
	}
}

/* Into @e->wrote, what the kernel writes when it interrupts call @nr
 * (@args) to restart it (-ERESTART*): the time left of a relative sleep
 * (hrtimer_nanosleep()); the time left of select(2), pselect6 and ppoll
 * (poll_select_finish(), fs/select.c), and poll's and ppoll's revents
 * (do_sys_poll() writes them back before it returns -ERESTART*). */
static int
interrupted_writes(long nr, const uint64_t *args, struct ep_end *e)
{
	uint64_t r[4];
	uint32_t n = 0;

	switch (nr) {
	case __NR_nanosleep:
		r[n++] = args[1];
		r[n++] = 16; /* struct timespec */
		break;
	case __NR_clock_nanosleep:
		r[n++] = args[1] & 1 /* TIMER_ABSTIME */ ? 0 : args[3];
		r[n++] = 16;
		break;
	case __NR_select:
	case __NR_pselect6:
		r[n++] = args[4];
		r[n++] = 16; /* struct timeval, struct timespec */
		break;
	case __NR_ppoll:
		r[n++] = args[2];
		r[n++] = 16;
		_fallthrough_;
	case __NR_poll:
		r[n++] = args[1] <= (1u << 20) ? args[0] : 0;
		r[n++] = args[1] * 8; /* struct pollfd */
		break;
	default:
		break;
	}
	free(e->wrote);
	e->wrote = NULL;
	e->nwrote = 0;
	if (!n)
		return 0;
	e->wrote = calloc(n, sizeof(*e->wrote));
	if (!e->wrote)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i += 2) {
		if (!r[i] || !r[i + 1])
			continue;
		e->wrote[2 * e->nwrote] = r[i];
		e->wrote[2 * e->nwrote + 1] = r[i + 1];
		e->nwrote++;
	}
	return 0;
}

/* An exit @ev of @lt after an end at a syscall: interrupted (-ERESTART*),
 * the copy stands at the call's entry; ended, after its exit. */
static void
settle_end(struct log_thread *lt, const struct trace_event *ev)
{
	struct ep_end *e;

	lt->in_call = false;
	if (!lt->end_pending)
		return;
	lt->end_pending = false;
	lt->end_hinted = false;
	e = &lt->ends[lt->nends - 1];
	if (lt->end_before) {
		e->at = EP_END_UNKNOWN; /* an exit before the entry it was held at */
		e->why = EP_WHY_EXIT_FIRST;
		return;
	}
	lt->end_hinted = false;
	if (sc_result_restarts((int64_t)ev->values[1])) {
		/* what the kernel wrote when it was interrupted (told before by
		 * the end's hint: the same); an exit that failed shows no
		 * outputs (the time left of ppoll and pselect6) */
		if (!ev->nblobs) {
			(void)interrupted_writes(lt->last_nr, lt->last_args, e);
			return;
		}
		free(e->wrote);
		e->wrote = NULL;
		e->nwrote = 0;
		if (ev->nblobs && !(e->wrote = calloc(2 * ev->nblobs, sizeof(*e->wrote))))
			return;
		for (uint32_t i = 0; e->wrote && i < ev->nblobs; i++) {
			e->wrote[2 * i] = ev->blobs[i].addr;
			e->wrote[2 * i + 1] = ev->blobs[i].len;
		}
		e->nwrote = e->wrote ? ev->nblobs : 0;
		return;
	}
	if (e->at == EP_END_FUTEX)
		e->why = EP_WHY_AFTER_FUTEX;
	else if (e->at != EP_END_ENTRY && !e->why)
		e->why = EP_WHY_NO_CALL;
	e->at = e->at == EP_END_ENTRY ? EP_END_EXIT : EP_END_UNKNOWN;
}

/* An epoch's end in thread ev->tid (TRACE_EV_EPOCH). */
static int
add_end(struct ep_log *log, const struct trace_event *ev)
{
	struct log_thread *lt = find_thread(log, (pid_t)ev->tid, true);
	struct ep_end *e;

	if (!lt)
		return -ENOMEM;
	if (ev->nvalues < 4)
		return -EBADMSG;
	if (UTIL_GROW(lt->ends, lt->ends_cap, lt->nends + 1) < 0)
		return -ENOMEM;
	e = &lt->ends[lt->nends++];
	*e = (struct ep_end){ .k = ev->values[0], .at = EP_END_USER, .why = EP_WHY_USER,
			      .copy = (pid_t)ev->values[3],
			      .seq = log->nends++ };
	log->last_k = MAX(log->last_k, e->k);
	lt->end_pending = false;
	lt->end_hinted = false;
	if (ev->values[2] != TRACE_EPOCH_SYSCALL)
		return 0;
	/* in a condition wait or a lock (record-epoch.c sync_wait_at()) */
	if (ev->nvalues >= 9 && ev->values[5]) {
		e->sync_rec = ev->values[5];
		e->sync_frame = ev->values[6];
		e->sync_cond = ev->values[7];
		e->sync_mutex = ev->values[8];
	}
	e->at = EP_END_UNKNOWN;
	/* its count is what this reading counted: else it stands in a
	 * buffered call (its records counted in place), which no traced
	 * entry shows */
	e->why = EP_WHY_IN_BUFFERED;
	if (ev->values[1] != lt->logged)
		return 0;
	e->why = EP_WHY_NO_CALL; /* until found below, or by what follows */
	lt->end_before = !lt->in_call;
	/* in a call the library made (in_library()): the same call of the
	 * program's, its registers not comparable (ep_end.library) */
	e->library = !lt->end_before && in_library(lt->last_rip);
	if (lt->end_before) {
		/* held at the entry of its next call (note_entry()); the TP
		 * run told which (values[4] 3, its registers rewound onto the
		 * call): known now, before that entry is logged (lock-step) */
		lt->end_pending = true;
		if (ev->nvalues >= 5 && ev->values[4] == 3 && ev->has_regs) {
			const uint64_t *r = ev->regs;
			uint64_t args[6] = {
				r[offsetof(struct user_regs_struct, rdi) / 8],
				r[offsetof(struct user_regs_struct, rsi) / 8],
				r[offsetof(struct user_regs_struct, rdx) / 8],
				r[offsetof(struct user_regs_struct, r10) / 8],
				r[offsetof(struct user_regs_struct, r8) / 8],
				r[offsetof(struct user_regs_struct, r9) / 8],
			};

			resolve_before(lt, e, (long)r[offsetof(struct user_regs_struct, rax) / 8], args,
				       r[offsetof(struct user_regs_struct, rip) / 8] + 2, true);
			lt->end_hinted = true;
			e->exit_group = r[offsetof(struct user_regs_struct, rax) / 8] == __NR_exit_group;
		}
		return 0;
	}
	if (lt->skipping && e->library && library_futex_unfound(lt->last_nr, lt->last_args)) {
		/* in the library's wait on a lock's word; found in a
		 * condition wait or a lock (known now: how its call ends does
		 * not change where the thread stands in the wait) */
		e->why = e->sync_rec ? EP_WHY_NONE : EP_WHY_LIBRARY_FUTEX;
		if (e->sync_rec) {
			e->at = EP_END_SYNC;
			e->idx = lt->ncalls;
			return 0;
		}
	} else if (lt->skipping && lt->last_nr == __NR_futex) {
		/* in a futex call: the EP run's thread stops at the same one
		 * after the same matched calls (its own futex calls differ in
		 * number: not matched) */
		e->at = EP_END_FUTEX;
		e->idx = lt->ncalls;
		e->nr = lt->last_nr;
		memcpy(e->args, lt->last_args, sizeof(e->args));
		e->rip = lt->last_rip;
	} else if (!lt->skipping && lt->ncalls && !lt->calls[lt->ncalls - 1].exited) {
		e->at = EP_END_ENTRY;
		e->idx = lt->ncalls - 1;
	} else if (lt->skipping) {
		e->why = EP_WHY_UNMATCHED;
	}
	lt->end_pending = e->at != EP_END_UNKNOWN;
	/* the exit is still to come, but the TP run told what it is (values[4]):
	 * interrupted, the end stands at the entry (what settle_end() will
	 * say); the bytes such an exit writes (the time left of a sleep) */
	lt->end_hinted = lt->end_pending && ev->nvalues >= 5 && ev->values[4] == 1;
	if (lt->end_hinted)
		return interrupted_writes(lt->last_nr, lt->last_args, e);
	return 0;
}

bool
ep_log_site_stub(const struct ep_log *log, uint64_t start, uint64_t *ret_stub)
{
	for (size_t i = 0; i < log->nsites; i++)
		if (log->sites[2 * i] == start) {
			*ret_stub = log->sites[2 * i + 1];
			return true;
		}
	return false;
}

const struct ep_stub_area *
ep_log_stubs(const struct ep_log *log, size_t *ret_n)
{
	*ret_n = log->nstubs;
	return log->stubs;
}

const struct ep_end *
ep_log_ends(const struct ep_log *log, pid_t log_tid, size_t *ret_n)
{
	for (size_t i = 0; i < log->nthreads; i++)
		if (log->threads[i].tid == log_tid) {
			*ret_n = log->threads[i].nends;
			return log->threads[i].ends;
		}
	*ret_n = 0;
	return NULL;
}

uint64_t
ep_log_checkpoints(const struct ep_log *log)
{
	return log->last_k;
}

size_t
ep_log_nthreads(const struct ep_log *log)
{
	return log->nthreads;
}

pid_t
ep_log_thread(const struct ep_log *log, size_t i)
{
	return i < log->nthreads ? log->threads[i].tid : 0;
}

size_t
ep_log_taken(const struct ep_log *log, pid_t log_tid)
{
	for (size_t i = 0; i < log->nthreads; i++)
		if (log->threads[i].tid == log_tid)
			return log->threads[i].next;
	return 0;
}

const struct ep_call *
ep_log_call(const struct ep_log *log, pid_t log_tid, size_t idx)
{
	for (size_t i = 0; i < log->nthreads; i++)
		if (log->threads[i].tid == log_tid)
			return idx < log->threads[i].ncalls ? &log->threads[i].calls[idx] : NULL;
	return NULL;
}

bool
ep_log_exit_settled(const struct ep_log *log, pid_t log_tid, const struct ep_call *c)
{
	const struct log_thread *lt = NULL;

	for (size_t i = 0; !lt && i < log->nthreads; i++)
		if (log->threads[i].tid == log_tid)
			lt = &log->threads[i];
	/* after_exit: its last event is that exit or a signal after it; an
	 * epoch's end after it leaves it so, but the thread stood at a
	 * traced syscall then, past where that exit's signals come (at the
	 * exit, or where the handler they ran unblocked the next): a signal
	 * delivered instead of entering that syscall is its entry's
	 * (rec_ep_signal_at_entry()). Waiting for more would take the TP
	 * run past the next checkpoint before its epoch is checked, which a
	 * rollback needs it to stand at. */
	return ep_log_whole(log) || !lt || !lt->ncalls || c != &lt->calls[lt->ncalls - 1] ||
	       !lt->after_exit || lt->nends > lt->exit_nends;
}

/* The buffered calls of @lt in TRACE_EV_SYSCALLBUF @ev (ep/syscall-log-sb.c). */
static int
add_buffered(struct ep_log *log, struct log_thread *lt, const struct trace_event *ev, char *err,
	     size_t errlen)
{
	int r = ep_sb_read(&log->sb, ev, &lt->sb, &lt->calls, &lt->ncalls, &lt->cap, &lt->logged, err,
			   errlen);

	if (r < 0 || r == EP_SB_END_SAME)
		return r < 0 ? r : 0;
	/* a call of its own came since its last traced one */
	lt->after_exit = r == EP_SB_END_CALL;
	lt->exit_nends = lt->nends;
	lt->skipping = false;
	lt->restart = 0;
	lt->restarting = false;
	return 0;
}

/* A traced entry or exit of @lt: the rest of its last buffered call, or
 * after the attempt of a buffered one (ep_sb_traced()), else its own. */
static int
add_traced(struct log_thread *lt, const struct trace_event *ev, char *err, size_t errlen)
{
	struct ep_call *last = lt->ncalls ? &lt->calls[lt->ncalls - 1] : NULL;
	bool exit = ev->type == TRACE_EV_SYSCALL_EXIT;
	int r = ep_sb_traced(&lt->sb, last, ev);

	lt->logged += exit;
	if (r == EP_SB_TRACED_REPLACES) {
		/* the attempt's signals (one delivered before the traced
		 * call's entry) go to the call before it */
		if (last->nsigs && (lt->ncalls < 2 || last[-1].nsigs)) {
			snprintf(err, errlen, "thread %u took a signal between a buffered attempt and "
				 "its traced call, which an EP run does not place yet", ev->tid);
			return -ENOTSUP;
		}
		if (last->nsigs) {
			last[-1].sigs = last->sigs;
			last[-1].nsigs = last->nsigs;
			last[-1].nexit = last->nexit;
		}
		free(last->in);
		free(last->out);
		free(last->sb_rec);
		for (uint32_t i = 0; i < last->nsent; i++)
			free((void *)last->sent[i].blobs);
		free(last->sent);
		lt->ncalls--;
	} else if (r == EP_SB_TRACED_REST) {
		lt->after_exit = exit;
		lt->exit_nends = lt->nends;
		last->logged = lt->logged;
		return 0;
	}
	r = exit ? add_exit(lt, ev) : add_entry(lt, ev);
	if (r >= 0 && exit && !lt->skipping && lt->ncalls)
		lt->calls[lt->ncalls - 1].logged = lt->logged;
	return r;
}

/* Add event @ev of the trace to @log; -ENOTSUP with @err for what an EP run
 * cannot take from a log yet. */
static int
add_event(struct ep_log *log, const struct trace_event *ev, char *err, size_t errlen)
{
	struct log_thread *lt;
	int r;

	switch (ev->type) {
	case TRACE_EV_EXEC:
		if (!ev->nblobs || !ev->has_regs)
			return -EBADMSG;
		if (log->root)
			return add_exec(log, ev);
		log->root = ev->nvalues >= 3 ? (pid_t)ev->values[2] : (pid_t)ev->tid;
		log->syscallbuf = ev->nvalues >= 8 && ev->values[6];
		log->exe = (uint32_t)ev->values[0];
		log->stack = copy_blobs(ev->blobs, 1, &r);
		memcpy(log->regs, ev->regs, sizeof(log->regs));
		return r;
	case TRACE_EV_SYSCALL_ENTRY:
	case TRACE_EV_SYSCALL_EXIT:
		lt = find_thread(log, (pid_t)ev->tid, true);
		if (!lt)
			return -ENOMEM;
		if (ev->type == TRACE_EV_SYSCALL_ENTRY)
			note_entry(lt, ev);
		else
			settle_end(lt, ev);
		return add_traced(lt, ev, err, errlen);
	case TRACE_EV_OUTPUT:
		/* the bytes of its current call, shown before its exit */
		lt = find_thread(log, (pid_t)ev->tid, false);
		if (!lt || !lt->ncalls || lt->skipping || lt->calls[lt->ncalls - 1].exited)
			return -EBADMSG;
		return add_sent(&lt->calls[lt->ncalls - 1], ev);
	case TRACE_EV_THREAD_START:
		/* the creator's current call made it */
		lt = find_thread(log, (pid_t)ev->values[0], false);
		if (lt && lt->ncalls && !lt->skipping)
			lt->calls[lt->ncalls - 1].child = (pid_t)ev->tid;
		return 0;
	case TRACE_EV_SYSCALLBUF:
		lt = find_thread(log, (pid_t)ev->tid, true);
		if (!lt)
			return -ENOMEM;
		if (lt->end_pending) {
			/* an end before a buffered call: not found */
			lt->ends[lt->nends - 1].at = EP_END_UNKNOWN;
			lt->ends[lt->nends - 1].why = EP_WHY_BEFORE_BUFFERED;
			lt->end_pending = false;
			lt->end_hinted = false;
		}
		return add_buffered(log, lt, ev, err, errlen);
	case TRACE_EV_SITE_PATCH:
		/* the call the site makes comes through the buffer (its
		 * record) or traced: an EP run, without the buffer, makes it
		 * at the site; a new mapping for stubs is uprr's */
		if (ev->nvalues >= 4 && ev->nblobs >= 1 && ev->blobs[0].len) {
			if (UTIL_GROW(log->sites, log->sites_cap, 2 * (log->nsites + 1)) < 0)
				return -ENOMEM;
			log->sites[2 * log->nsites] = ev->values[3];
			log->sites[2 * log->nsites + 1] = ev->blobs[0].addr;
			log->nsites++;
		}
		if (ev->nvalues < 3 || !ev->values[2])
			return 0;
		if (UTIL_GROW(log->stubs, log->stubs_cap, log->nstubs + 1) < 0)
			return -ENOMEM;
		log->stubs[log->nstubs++] = (struct ep_stub_area){ (pid_t)ev->tid, ev->values[1],
								   ev->values[2] };
		return 0;
	case TRACE_EV_EPOCH:
		/* the TP run's, not the program's: a signal may follow a
		 * call's exit across it; its interrupt of a call shows in the
		 * exit that follows (restarts_last()). Its count of the
		 * thread's syscalls is that of ep_call.logged. Where the
		 * thread stood is kept for the EP run's check of the epoch
		 * (add_end()). */
		return add_end(log, ev);
	case TRACE_EV_RDTSC:
		return add_tsc(log, ev);
	case TRACE_EV_SIGNAL:
		if (ev->nvalues < 2 || ev->values[1] == TRACE_SIGNAL_SYNC)
			return 0; /* a fault or trap: it comes again by itself */
		return add_signal(log, ev, err, errlen);
	default:
		lt = find_thread(log, (pid_t)ev->tid, false);
		if (lt)
			lt->after_exit = false;
		return 0;
	}
}

static int
cmp_range(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* ep_log_mapped()'s ranges, from every thread's calls. */
static int
collect_mapped(struct ep_log *log)
{
	size_t n = 0, cap = 0, out = 0;
	uint64_t *m = NULL;

	for (size_t i = 0; i < log->nthreads; i++)
		for (size_t j = 0; j < log->threads[i].ncalls; j++) {
			const struct ep_call *c = &log->threads[i].calls[j];
			uint64_t len;

			if (!c->exited || c->result < 0 ||
			    (c->nr != __NR_mmap && c->nr != __NR_mremap))
				continue;
			len = c->nr == __NR_mmap ? c->args[1] : c->args[2];
			if (UTIL_GROW(m, cap, 2 * (n + 1)) < 0) {
				free(m);
				return -ENOMEM;
			}
			m[2 * n] = (uint64_t)c->result;
			m[2 * n + 1] = (uint64_t)c->result + ((len + 4095) & ~4095ull);
			n++;
		}
	if (n)
		qsort(m, n, 2 * sizeof(*m), cmp_range);
	for (size_t i = 0; i < n; i++) {
		if (out && m[2 * i] <= m[2 * out - 1]) {
			m[2 * out - 1] = MAX(m[2 * out - 1], m[2 * i + 1]);
			continue;
		}
		m[2 * out] = m[2 * i];
		m[2 * out + 1] = m[2 * i + 1];
		out++;
	}
	log->mapped = m;
	log->nmapped = out;
	return 0;
}

const uint64_t *
ep_log_mapped(const struct ep_log *log, size_t *ret_n)
{
	*ret_n = log->nmapped;
	return log->mapped;
}

/* Read the events of @log's trace from where the last read stopped. */
static int
read_events(struct ep_log *log, char *err, size_t errlen)
{
	struct trace_event ev;
	int r;

	while ((r = trace_reader_next(log->r, &ev)) > 0) {
		r = add_event(log, &ev, err, errlen);
		if (r == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		else if (r == -EBADMSG)
			snprintf(err, errlen, "event of thread %u out of place (an exit without its entry, "
				 "an exec without its image)", ev.tid);
		if (r < 0)
			return r;
	}
	if (r < 0)
		snprintf(err, errlen, "%s", trace_reader_error(log->r));
	return r;
}

/* What the log holds once read (to its end, @whole: the writer done). */
static int
finish(struct ep_log *log, bool whole, char *err, size_t errlen)
{
	int r;

	/* a call an interrupt ended and the log's end caught before its
	 * restart: the thread was still in it */
	for (size_t i = 0; whole && i < log->nthreads; i++) {
		struct log_thread *lt = &log->threads[i];

		if (lt->restart && !lt->skipping && lt->ncalls &&
		    !lt->calls[lt->ncalls - 1].nsigs)
			lt->calls[lt->ncalls - 1].exited = false;
	}
	log->whole = whole;
	if (!log->root) {
		snprintf(err, errlen, "the trace starts no program");
		return -EBADMSG;
	}
	free(log->mapped);
	log->mapped = NULL;
	log->nmapped = 0;
	r = collect_mapped(log);
	if (r < 0)
		snprintf(err, errlen, "out of memory");
	return r;
}

/* ep_log_open() and ep_log_open_follow(). */
static int
open_log(const char *dir, bool follow, struct ep_log **ret_log, char *err, size_t errlen)
{
	struct ep_log *log = calloc(1, sizeof(*log));
	int r;

	if (!log)
		return -ENOMEM;
	log->follow = follow;
	r = trace_reader_open(dir, &log->r, err, errlen);
	if (r < 0)
		goto fail;
	if (follow)
		trace_reader_set_follow(log->r);
	log->sb.r = log->r;
	r = read_events(log, err, errlen);
	if (r >= 0)
		r = finish(log, !follow, err, errlen);
	if (r < 0)
		goto fail;
	*ret_log = log;
	return 0;
fail:
	ep_log_free(log);
	return r;
}

int
ep_log_open(const char *dir, struct ep_log **ret_log, char *err, size_t errlen)
{
	return open_log(dir, false, ret_log, err, errlen);
}

int
ep_log_open_follow(const char *dir, struct ep_log **ret_log, char *err, size_t errlen)
{
	return open_log(dir, true, ret_log, err, errlen);
}

int
ep_log_more(struct ep_log *log, bool whole, char *err, size_t errlen)
{
	int r;

	if (!log->follow || log->whole)
		return 0;
	r = trace_reader_follow(log->r);
	if (r < 0) {
		snprintf(err, errlen, "%s", trace_reader_error(log->r));
		return r;
	}
	r = read_events(log, err, errlen);
	return r < 0 ? r : finish(log, whole, err, errlen);
}

bool
ep_log_whole(const struct ep_log *log)
{
	return !log->follow || log->whole;
}

bool
ep_log_ends_known(const struct ep_log *log, uint64_t k)
{
	if (k > log->last_k)
		return false;
	for (size_t i = 0; i < log->nthreads; i++) {
		const struct log_thread *lt = &log->threads[i];

		/* only a thread's last end waits for what follows it, unless
		 * the TP run told it */
		if (lt->end_pending && !lt->end_hinted && lt->nends && lt->ends[lt->nends - 1].k == k) {
			log_debug("end of epoch %" PRIu64 " in thread %d not known yet: %s (its call %ld)",
				  k - 1, lt->tid, lt->end_before ? "held at a call's entry, which one not told"
								 : "in a call, its exit not logged",
				  lt->last_nr);
			return ep_log_whole(log);
		}
	}
	return true;
}

void
ep_log_free(struct ep_log *log)
{
	if (!log)
		return;
	for (size_t i = 0; i < log->nthreads; i++) {
		for (size_t j = 0; j < log->threads[i].ncalls; j++) {
			struct ep_call *c = &log->threads[i].calls[j];

			free(c->in);
			free(c->out);
			free(c->sigs);
			free(c->sb_rec);
			for (uint32_t k = 0; k < c->nsent; k++)
				free((void *)c->sent[k].blobs);
			free(c->sent);
		}
		if (log->follow)
			(void)munmap(log->threads[i].calls, EP_FOLLOW_CALLS_BYTES);
		else
			free(log->threads[i].calls);
		for (size_t j = 0; j < log->threads[i].nends; j++)
			free(log->threads[i].ends[j].wrote);
		free(log->threads[i].ends);
		free(log->threads[i].tsc);
	}
	free(log->threads);
	free(log->tids);
	for (size_t i = 0; i < log->nexecs; i++)
		free(log->execs[i].stack);
	free(log->execs);
	free(log->mapped);
	free(log->stubs);
	free(log->sites);
	free(log->stack);
	trace_ref_file_close(&log->sb.ref);
	free(log->sb.exp);
	trace_reader_close(log->r);
	free(log);
}

pid_t
ep_log_root(const struct ep_log *log)
{
	return log->root;
}

void
ep_log_image(const struct ep_log *log, const struct trace_blob **ret_stack, const uint64_t **ret_regs)
{
	*ret_stack = log->stack;
	*ret_regs = log->regs;
}

int
ep_log_exe(struct ep_log *log, const char **ret_copy)
{
	return trace_reader_file(log->r, log->exe, ret_copy, NULL);
}

int
ep_log_take_exec(struct ep_log *log, pid_t log_tid, const struct trace_blob **ret_stack,
		 const uint64_t **ret_regs, const char **ret_exe, uint32_t *ret_id)
{
	for (size_t i = 0; i < log->nexecs; i++) {
		struct log_exec *e = &log->execs[i];

		if (e->tid != log_tid || e->taken)
			continue;
		e->taken = true;
		*ret_stack = e->stack;
		*ret_regs = e->regs;
		*ret_id = e->exe;
		return trace_reader_file(log->r, e->exe, ret_exe, NULL);
	}
	return -ENOENT;
}

int
ep_log_exec_copy(struct ep_log *log, pid_t log_tid, const char **ret_exe)
{
	for (size_t i = 0; i < log->nexecs; i++) {
		const struct log_exec *e = &log->execs[i];

		if (e->tid == log_tid && !e->taken)
			return trace_reader_file(log->r, e->exe, ret_exe, NULL);
	}
	return -ENOENT;
}

const struct ep_call *
ep_log_peek(const struct ep_log *log, pid_t log_tid, size_t i)
{
	for (size_t k = 0; k < log->nthreads; k++) {
		const struct log_thread *lt = &log->threads[k];

		if (lt->tid == log_tid)
			return lt->next + i < lt->ncalls ? &lt->calls[lt->next + i] : NULL;
	}
	return NULL;
}

bool
ep_log_syscallbuf(const struct ep_log *log)
{
	return log->syscallbuf;
}

const struct ep_call *
ep_log_take(struct ep_log *log, pid_t log_tid)
{
	struct log_thread *lt = find_thread(log, log_tid, false);

	if (!lt || lt->next >= lt->ncalls)
		return NULL;
	return &lt->calls[lt->next++];
}

int
ep_call_check(const struct ep_call *c, long nr, const uint64_t args[6],
	      const struct trace_blob *in, uint32_t nin, char *why, size_t len)
{
	if (nr != c->nr) {
		snprintf(why, len, "the log has %s there", sc_name(c->nr) ?: "an unknown call");
		return -1;
	}
	/* the registers past its arguments hold what the caller left */
	for (int i = 0; i < sc_nargs(nr); i++)
		if (args[i] != c->args[i]) {
			snprintf(why, len, "argument %d is 0x%" PRIx64 ", the log has 0x%" PRIx64, i,
				 args[i], c->args[i]);
			return -1;
		}
	if (c->buffered)
		return ep_sb_check(c, in, nin, why, len);
	if (nin != c->nin) {
		snprintf(why, len, "it passes out %u ranges of bytes, the log's %u", nin, c->nin);
		return -1;
	}
	for (uint32_t i = 0; i < nin; i++)
		if (in[i].addr != c->in[i].addr || in[i].len != c->in[i].len ||
		    memcmp(in[i].data, c->in[i].data, in[i].len) != 0) {
			snprintf(why, len, "it passes out other bytes at 0x%" PRIx64 " (%u bytes, the "
				 "log's %u at 0x%" PRIx64 ")", in[i].addr, in[i].len, c->in[i].len,
				 c->in[i].addr);
			return -1;
		}
	return 0;
}

int
ep_log_file(struct ep_log *log, uint32_t id, const char **ret_copy, const char **ret_original)
{
	return trace_reader_file(log->r, id, ret_copy, ret_original);
}

int
ep_log_file_first(struct ep_log *log, uint32_t id, uint32_t *ret_first)
{
	return trace_reader_file_first(log->r, id, ret_first) < 0 ? -ENOENT : 0;
}

int
ep_log_map_tid(struct ep_log *log, pid_t tid, pid_t log_tid)
{
	for (size_t i = 0; i < log->ntids; i++)
		if (log->tids[i].tid == tid) {
			log->tids[i].log_tid = log_tid;
			return 0;
		}
	if (UTIL_GROW(log->tids, log->tids_cap, log->ntids + 1) < 0)
		return -ENOMEM;
	log->tids[log->ntids++] = (struct tid_pair){ tid, log_tid };
	return 0;
}

pid_t
ep_log_tid_of(const struct ep_log *log, pid_t log_tid)
{
	for (size_t i = 0; i < log->ntids; i++)
		if (log->tids[i].log_tid == log_tid)
			return log->tids[i].tid;
	return 0;
}

pid_t
ep_log_tid(const struct ep_log *log, pid_t tid)
{
	for (size_t i = 0; i < log->ntids; i++)
		if (log->tids[i].tid == tid)
			return log->tids[i].log_tid;
	return 0;
}
