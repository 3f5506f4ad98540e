/* SPDX-License-Identifier: MIT */
/*
 * Offline replay. The trace is a total order of events; replay runs, for each
 * event, exactly the thread that produced it up to that event, so every
 * thread's user code runs in the same order against the same memory as in
 * the recording. Syscalls are emulated from the trace (results and the
 * memory the kernel wrote), except those the model marks SC_REPLAY_EXEC,
 * which are executed at the recorded addresses.
 */
#define LOG_PREFIX "replay"
#include "replay/replay-private.h"
#include "replay/replay.h"

#include <asm/unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stddef.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "common/log.h"
#include "recorder/recorder.h"
#include "replay/replay-private.h"
#include "sched/ticks-soft.h"
#include "sched/ticks.h"
#include "trace/trace.h"
#include "tracee/tracee.h"
#include "x86_64/arch.h"

int __attribute__((format(printf, 3, 4)))
replay_diverge(struct replayer *rp, const struct trace_event *ev, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("divergence at event %" PRIu64 " (thread %u): %s", rp->event_no, ev->tid, msg);
	rp->error = -EPROTO;
	rp->done = true;
	return -EPROTO;
}

struct pthread_r *
replay_find_rec(struct replayer *rp, pid_t rec_tid)
{
	for (size_t i = 0; i < rp->nthreads; i++)
		if (rp->threads[i].rec_tid == rec_tid)
			return &rp->threads[i];
	return NULL;
}

/* A new address space of replayed process @pid, a copy of @from's counting
 * state (fork) or none (exec). NULL when out of memory or @pid is gone. */
struct rec_space *
replay_space_new(pid_t pid, const struct rec_space *from)
{
	struct rec_space *sp = calloc(1, sizeof(*sp));

	/* counting code comes with TRACE_EV_PATCH, whatever the tick source */
	if (!sp || rec_space_open(sp, pid, from, true) < 0) {
		free(sp);
		return NULL;
	}
	return sp;
}

void
replay_space_leave(struct rec_space *sp)
{
	if (!sp || --sp->users > 0)
		return;
	rec_space_close(sp);
	free(sp);
}

struct pthread_r *
replay_add_thread(struct replayer *rp, pid_t rec_tid, pid_t tid, pid_t tgid, struct rec_space *sp)
{
	if (UTIL_GROW(rp->threads, rp->cap, rp->nthreads + 1) < 0)
		return NULL;
	rp->threads[rp->nthreads] =
		(struct pthread_r){ .rec_tid = rec_tid, .tid = tid, .tgid = tgid, .space = sp };
	return &rp->threads[rp->nthreads++];
}

/* Forget the files process @tgid had open for its mappings (it exec'd:
 * they were O_CLOEXEC; or it ended). */
void
replay_forget_tracee_files(struct replayer *rp, pid_t tgid)
{
	for (size_t i = 0; i < rp->ntfiles;)
		if (rp->tfiles[i].tgid == tgid)
			rp->tfiles[i] = rp->tfiles[--rp->ntfiles];
		else
			i++;
}

/* New process @child has the files its parent @parent had open (fork(2)
 * copies the fd table). Returns 0 or -ENOMEM. */
int
replay_inherit_tracee_files(struct replayer *rp, pid_t parent, pid_t child)
{
	size_t n = rp->ntfiles;

	for (size_t i = 0; i < n; i++) {
		if (rp->tfiles[i].tgid != parent)
			continue;
		if (UTIL_GROW(rp->tfiles, rp->tfiles_cap, rp->ntfiles + 1) < 0)
			return -ENOMEM;
		rp->tfiles[rp->ntfiles] = rp->tfiles[i];
		rp->tfiles[rp->ntfiles++].tgid = child;
	}
	return 0;
}

/* Forget thread @t; the last thread of a process releases its address space. */
void
replay_remove_thread(struct replayer *rp, struct pthread_r *t)
{
	struct rec_space *sp = t->space;
	pid_t tgid = t->tgid, rec_tgid = t->rec_tgid;
	struct rec_ptracee pt;

	pt.stop = REC_PTRACE_RUNNING;
	if (rec_ptrace_find(&rp->ptrace, t->rec_tid))
		pt = *rec_ptrace_find(&rp->ptrace, t->rec_tid);
	if (pt.stop != REC_PTRACE_EXITED) /* else its tracer's wait4 forgets it */
		rec_ptrace_forget(&rp->ptrace, t->rec_tid);
	free(t->sb_expect);
	free(t->sb_hashed);
	*t = rp->threads[--rp->nthreads];
	for (size_t i = 0; i < rp->nthreads; i++)
		if (rp->threads[i].tgid == tgid)
			return;
	replay_space_leave(sp);
	replay_forget_tracee_files(rp, tgid);
	/* its tracees are detached (their next events resume them) */
	while (rec_ptrace_tracer_gone(&rp->ptrace, rec_tgid, &pt))
		;
}

const char *
replay_stop_name(enum tracee_stop kind, int sig)
{
	static char buf[64];

	switch (kind) {
	case TRACEE_GONE: return "the thread exited";
	case TRACEE_STOP_SECCOMP: return "a syscall";
	case TRACEE_STOP_SYSCALL_EXIT: return "a syscall exit";
	case TRACEE_STOP_CLONE: return "a clone";
	case TRACEE_STOP_EXEC: return "an execve";
	case TRACEE_STOP_EXIT: return "the thread exiting";
	case TRACEE_STOP_GROUP: return "a group stop";
	case TRACEE_STOP_SIGNAL:
		snprintf(buf, sizeof(buf), "signal %s", tracee_signal_name(sig));
		return buf;
	default: return "another ptrace stop";
	}
}

/*
 * Run thread @t to its next stop: the point of event @ev. Group stops are
 * passed over. Stores the stop's kind and signal.
 */
/* Whether signal @sig that stopped @tid is the kernel's news of a replayed
 * child (SIGCHLD with a CLD_* code): recorded signals are raised by replay
 * itself (SI_TKILL), so this one is dropped. */
bool
replay_noise(const struct replayer *rp, pid_t tid, int sig)
{
	siginfo_t si;

	/* one the kernel sent may stand for the one replay raises: the
	 * standard signal pending absorbs the second (signal(7)) */
	return sig == SIGCHLD && sig != rp->injecting && ptrace(PTRACE_GETSIGINFO, tid, 0, &si) == 0 &&
	       si.si_code > 0;
}

/* If @t, stopped with SIGTRAP, executed a trap site's int3 and its budget
 * has ticks left, count it, make its jump and resume it: true. */
static bool
count_trap(struct pthread_r *t)
{
	struct user_regs_struct regs;

	if (!ticks_soft_active(t->space->soft) || tracee_get_regs(t->tid, &regs) < 0 ||
	    ticks_soft_count_trap(t->space->soft, t->space->memfd, &regs) != PATCH_STOP_COUNTED ||
	    tracee_set_regs(t->tid, &regs) < 0)
		return false;
	tracee_resume(t->tid, PTRACE_CONT, 0);
	return true;
}

/* Whether @t stands at the seccomp stop of a syscall the recording let go
 * unrecorded (SC_UNTRACED, no recorded tracer wanted its stops: see
 * rec_on_syscall_entry()): event @ev is not its entry. Such stops come where
 * the stop filter was stacked (TRACE_EV_STOP_FILTER), or everywhere in a
 * trace of format 8 or older. */
static bool
unrecorded_syscall(struct pthread_r *t, const struct trace_event *ev)
{
	uint64_t none[6] = { 0 };

	if (!(sc_flags((long)t->regs.orig_rax, none) & SC_UNTRACED))
		return false;
	return ev->type != TRACE_EV_SYSCALL_ENTRY || ev->values[0] != t->regs.orig_rax;
}

/* Whether @t stands at the seccomp stop of a call from a syscall site that
 * could not be patched, whose calls the recording sent into the library
 * from there with no event (rec_syscallbuf_redirected()); if so it is sent
 * there too. */
static bool
redirected_syscall(const struct pthread_r *t)
{
	struct user_regs_struct regs = t->regs; /* read at this stop */

	if (!t->space->nredirects || !rec_syscallbuf_redirected(t->space, &regs))
		return false;
	return rec_syscallbuf_redirect_regs(t->tid, &regs) == 0;
}

/* Resume @t (@how: PTRACE_CONT or PTRACE_SINGLESTEP) unless it runs, and wait
 * for its next stop other than a group stop (counting the ticks of trap
 * sites on the way). */
int
replay_resume_to_stop(struct replayer *rp, struct pthread_r *t, const struct trace_event *ev,
	       enum __ptrace_request how, enum tracee_stop *ret_kind, int *ret_sig)
{
	/* a thread its emulated tracer single-steps steps */
	enum __ptrace_request cont = t->stepping ? PTRACE_SINGLESTEP : PTRACE_CONT;
	enum __ptrace_request run = how == PTRACE_CONT ? cont : how;
	int status, sig = 0;
	enum tracee_stop kind;
	bool have_regs;

	if (t->state != PT_RUNNING)
		tracee_resume(t->tid, run, t->defer_sig); /* 0, or the delivery that waited */
	if (t->defer_sig) {
		t->defer_sig = 0;
		rp->deferred_tid = 0;
	}
	t->state = PT_RUNNING;
	t->sb_ran = true;
	for (;;) {
		have_regs = false;
		if (tracee_wait(t->tid, &status) < 0)
			return replay_diverge(rp, ev, "lost thread %d", t->tid);
		kind = tracee_classify(status, &sig);
		if (kind == TRACEE_STOP_SIGNAL && sig == SIGTRAP && t->stepping) {
			/* the step its emulated tracer asked for, as recorded */
			t->stepping = false;
			break;
		}
		if (kind == TRACEE_STOP_SIGNAL && sig == SIGTRAP && count_trap(t))
			continue;
		if (kind == TRACEE_STOP_SECCOMP) {
			/* every event's stop reads the registers once */
			if (tracee_get_regs(t->tid, &t->regs) < 0)
				return replay_diverge(rp, ev, "lost thread %d", t->tid);
			have_regs = true;
		}
		if (kind == TRACEE_STOP_SECCOMP && redirected_syscall(t)) {
			/* into the library, as in the recording: no event */
			tracee_resume(t->tid, run, 0);
			continue;
		}
		if (kind == TRACEE_STOP_SECCOMP && unrecorded_syscall(t, ev)) {
			/* stepped over, it stops at its exit (TRAP_BRKPT), as
			 * in the recording (rec_resume()) */
			tracee_resume(t->tid, run, 0);
			continue;
		}
		if (kind != TRACEE_STOP_GROUP && !(kind == TRACEE_STOP_SIGNAL && replay_noise(rp, t->tid, sig)))
			break;
		tracee_resume(t->tid, cont, 0);
	}
	if (kind == TRACEE_GONE)
		return replay_diverge(rp, ev, "the thread exited early");
	if (kind == TRACEE_STOP_SECCOMP)
		t->stepping = false; /* stepped onto a syscall: its exit is an event */
	if (!have_regs && tracee_get_regs(t->tid, &t->regs) < 0)
		return replay_diverge(rp, ev, "lost thread %d", t->tid);
	*ret_kind = kind;
	*ret_sig = sig;
	return 0;
}

int
replay_run_to_stop(struct replayer *rp, struct pthread_r *t, const struct trace_event *ev,
	    enum tracee_stop *ret_kind, int *ret_sig)
{
	return replay_resume_to_stop(rp, t, ev, PTRACE_CONT, ret_kind, ret_sig);
}

int
replay_check_regs(struct replayer *rp, const struct trace_event *ev, const struct pthread_r *t)
{
	struct user_regs_struct want;
	uint64_t got = 0, recorded = 0;
	const char *reg;

	if (!ev->has_regs)
		return 0;
	memcpy(&want, ev->regs, sizeof(want));
	reg = arch_regs_differ(&want, &t->regs);
	if (!reg)
		return 0;
	/* the values say how far apart: a counter one higher than recorded
	 * is a handler run more (eflags: only some of its bits compare) */
	arch_reg_value(&t->regs, reg, &got);
	arch_reg_value(&want, reg, &recorded);
	return replay_diverge(rp, ev, "register %s differs at rip 0x%llx (recorded rip 0x%llx): 0x%" PRIx64
			      ", recorded 0x%" PRIx64, reg, t->regs.rip, want.rip, got, recorded);
}

int
replay_ensure_buf(struct replayer *rp, size_t len)
{
	return UTIL_GROW(rp->buf, rp->buf_cap, len);
}

int
replay_mem_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	return tracee_read(*(pid_t *)ctx, addr, buf, len);
}

/* ---- start ---- */

/* Make the loader's code the recorded loader's, whatever the system's ld.so
 * is now: its read-only mappings get the trace's copy. Writable ones are left
 * alone: the kernel zeroed their tail past the file data (bss). A mapping of
 * the very inode the trace keeps (a hard link to the system's ld.so, the
 * usual case: trace/writer.c may_link()) holds those bytes already: writing
 * them again cost 0.25 ms of every replayed exec (its 50 pages copied on
 * write). */
static int
restore_interpreter(struct replayer *rp, const struct trace_event *ev,
		    const struct tracee_mapping *maps, size_t n, int memfd)
{
	_cleanup_close_ int fd = -1;
	const char *copy, *original;
	struct stat st;

	if (ev->nvalues < 2 || ev->values[1] == 0)
		return 0;
	if (trace_reader_file(rp->r, (uint32_t)(ev->values[1] - 1), &copy, &original) < 0)
		return replay_diverge(rp, ev, "the ELF interpreter is missing from the trace");
	fd = open(copy, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return replay_diverge(rp, ev, "cannot read the ELF interpreter %s", copy);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(maps[i].path, original) != 0 || strchr(maps[i].perms, 'w'))
			continue;
		if (maps[i].dev == st.st_dev && maps[i].ino == (uint64_t)st.st_ino)
			continue;
		if (tracee_write_from_file(memfd, maps[i].start, fd, maps[i].offset,
					   maps[i].end - maps[i].start) < 0)
			return replay_diverge(rp, ev, "cannot restore the ELF interpreter");
	}
	return 0;
}

static int
start_tracee(struct replayer *rp, const struct trace_event *ev)
{
	const struct trace_header *hdr = trace_reader_header(rp->r);
	struct tracee_spawn_options sp = { 0 };
	struct rec_space *space;
	struct pthread_r *leader;
	const char *exe;
	pid_t pid;
	int r, exec_errno = 0, cpu;

	if (ev->type != TRACE_EV_EXEC || !ev->has_regs || ev->nblobs < 2)
		return replay_diverge(rp, ev, "the trace does not start with an exec");
	if (trace_reader_file(rp->r, (uint32_t)ev->values[0], &exe, NULL) < 0)
		return replay_diverge(rp, ev, "the executable is missing from the trace");
	cpu = tracee_pick_cpu();
	if (cpu >= 0 && tracee_pin_self(cpu) < 0)
		cpu = -1;
	sp.path = exe;
	sp.argv = hdr->argv;
	sp.envp = hdr->envp;
	sp.cwd = NULL;
	sp.cpu = cpu;
	sp.trap_tsc = true;
	sp.filter = rec_seccomp_filter_for(hdr->format_version); /* the recording's */
	if (ev->nvalues >= 6) {
		/* the recording's, whatever uprr's own are here */
		sp.set_signals = true;
		sp.sigmask = ev->values[4];
		sp.sigign = ev->values[5];
	}
	r = tracee_spawn(&sp, TRACEE_PTRACE_OPTIONS, &pid, &exec_errno);
	if (r < 0) {
		log_error("cannot start the replay of %s: %s", exe,
			  strerror(r == -ENOEXEC ? exec_errno : -r));
		rp->error = r;
		rp->done = true;
		return r;
	}
	rp->leader = pid;
	rp->rec_leader = (pid_t)ev->tid;
	space = replay_space_new(pid, NULL);
	leader = space ? replay_add_thread(rp, (pid_t)ev->tid, pid, pid, space) : NULL;
	if (!leader)
		return replay_diverge(rp, ev, "cannot control the replayed process");
	leader->rec_tgid = (pid_t)ev->tid;
	r = replay_restore_image(rp, ev, pid, space);
	if (r < 0)
		return r;
	rp->threads[0].state = PT_HELD;
	return 0;
}

/* The recorded initial image after an execve: the stack must end where it
 * did; the ELF interpreter's code, the stack contents and the registers
 * become the recorded ones. */
int
replay_restore_image(struct replayer *rp, const struct trace_event *ev, pid_t pid, struct rec_space *sp)
{
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	_cleanup_free_ char *layout = NULL;
	struct user_regs_struct regs;
	uint64_t stack_end;
	size_t n;
	int r;

	/* /proc/PID/maps once: the layout, the interpreter, the vDSO */
	r = tracee_read_maps(pid, &maps, &n);
	if (r >= 0)
		r = tracee_maps_layout_of(maps, n, &layout, &stack_end);
	if (r < 0)
		return replay_diverge(rp, ev, "cannot read the replayed process's layout");
	if (ev->blobs[0].addr + ev->blobs[0].len != stack_end)
		return replay_diverge(rp, ev, "the stack ends at 0x%" PRIx64 ", recorded 0x%" PRIx64,
			       stack_end, ev->blobs[0].addr + ev->blobs[0].len);
	r = restore_interpreter(rp, ev, maps, n, sp->memfd);
	if (r < 0)
		return r;
	r = replay_syscallbuf_map(rp, ev, pid, sp);
	if (r < 0)
		return r;
	if (ev->nvalues >= 4 && ev->values[3]) {
		char why[256];
		const char *copy;

		if (trace_reader_file(rp->r, (uint32_t)(ev->values[3] - 1), &copy, NULL) < 0)
			return replay_diverge(rp, ev, "the vDSO is missing from the trace");
		if (replay_vdso_restore(pid, sp->memfd, maps, n, copy, &ev->blobs[0], why,
					sizeof(why)) < 0)
			return replay_diverge(rp, ev, "%s", why);
	}
	/* the recorded initial stack: argv, environment, auxv, AT_RANDOM bytes */
	if (tracee_write(sp->memfd, ev->blobs[0].addr, ev->blobs[0].data, ev->blobs[0].len) < 0)
		return replay_diverge(rp, ev, "cannot restore the initial stack");
	memcpy(&regs, ev->regs, sizeof(regs));
	if (tracee_set_regs(pid, &regs) < 0)
		return replay_diverge(rp, ev, "cannot set the initial registers");
	return 0;
}

/* The recording ended: the first process's exit ended the replay before,
 * unless the recording stopped (an unsupported call, an error): then this
 * trace ends early, and says why. */
static int
on_end(struct replayer *rp, const struct trace_event *ev)
{
	const struct trace_blob *why = ev->nblobs ? &ev->blobs[0] : NULL;
	char reason[401] = "(unknown)";

	rp->ended = true;
	if (ev->nvalues >= 1 && ev->values[0] == TRACE_END_COMPLETE) {
		rp->done = true;
		return 0;
	}
	if (why) {
		/* one line, whatever the trace holds */
		size_t n = MIN(why->len, sizeof(reason) - 1);

		memcpy(reason, why->data, n);
		reason[n] = '\0';
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)reason[i] < 0x20 || reason[i] == 0x7f)
				reason[i] = '?';
	}
	log_printf(LOG_LEVEL_ERROR, "", "trace ends early at event %" PRIu64 " (the recording "
		   "stopped: %s)", rp->event_no, reason);
	rp->error = -ECANCELED;
	rp->done = true;
	return -ECANCELED;
}

/* The trace ends here, before its end event: the recorder did not finish
 * it (killed, or it could not write). Every event before rp->event_no ran;
 * say so in one line, with @why if not NULL, and stop. */
static void
cut_short(struct replayer *rp, const char *why)
{
	log_error("the recording was cut short at event %" PRIu64 " (the recorder did not finish "
		  "it%s%s)", rp->event_no, why ? "; " : "", why ?: "");
	rp->cut_short = true;
	rp->error = -ENODATA;
	rp->done = true;
}

/*
 * Where replay of the tp trace @rp->r stops (doc/trace-format.md, "How a
 * trace ends"): nowhere (UINT64_MAX) if the recorder finished it; else
 * after its last TRACE_EV_EPOCH whose values[1] says the epoch was verified
 * (TRACE_EPOCH_VERIFIED), or at event 0 if none was: what comes after an
 * epoch's verification was never checked against the TP run. Reads the
 * last frame, and the whole trace only when that has no end. Stores the
 * epoch (values[0] - 1) in *ret_epoch, -1 if none. Returns 0, or -ENOMEM
 * (a bad trace is for the replay itself to report).
 */
static int
find_tp_cut(struct replayer *rp, uint64_t *ret_event, int64_t *ret_epoch)
{
	struct trace_reader *r;
	struct trace_event ev;
	char err[512];
	bool ended;
	int n;

	*ret_event = UINT64_MAX;
	*ret_epoch = -1;
	if (trace_reader_has_end(rp->r, &ended) < 0 || ended)
		return 0;
	if (trace_reader_open(rp->opts->trace_dir, &r, err, sizeof(err)) < 0)
		return 0;
	*ret_event = 0;
	for (uint64_t no = 0; (n = trace_reader_next(r, &ev)) > 0; no++)
		if (ev.type == TRACE_EV_EPOCH && ev.nvalues >= 2 &&
		    ev.values[1] == TRACE_EPOCH_VERIFIED) {
			*ret_event = no + 1;
			*ret_epoch = (int64_t)ev.values[0] - 1;
		}
	/* complete after all (written meanwhile): no cut */
	if (n == 0 && trace_reader_complete(r))
		*ret_event = UINT64_MAX;
	trace_reader_close(r);
	return n == -ENOMEM ? -ENOMEM : 0;
}

static int
replay_event(struct replayer *rp, const struct trace_event *ev)
{
	struct pthread_r *t;
	int r;

	/* an EP run's epoch and whether it was verified (tp traces): no
	 * thread runs for it, nothing changes */
	if (ev->type == TRACE_EV_EPOCH)
		return 0;
	/* a delivery left for its thread's next run goes first, unless this
	 * event runs that thread */
	r = replay_settle_deferred(rp, ev);
	if (r < 0)
		return r;
	if (ev->type == TRACE_EV_EXEC)
		return rp->leader ? replay_on_exec(rp, ev) : start_tracee(rp, ev);
	if (!rp->leader)
		return replay_diverge(rp, ev, "the trace does not start with an exec");
	if (ev->type == TRACE_EV_PROCESS_EXIT)
		return replay_on_process_exit(rp, ev);
	if (ev->type == TRACE_EV_THREAD_START)
		return replay_on_thread_start(rp, ev);
	if (ev->type == TRACE_EV_OUTPUT) {
		/* its syscall's exit comes next: the same place in the output */
		replay_output_event(&rp->out, ev);
		return 0;
	}
	if (ev->type == TRACE_EV_END)
		return on_end(rp, ev);
	if (ev->type == TRACE_EV_PTRACE_STOP) {
		/* a stop of an emulated tracee the recording saw happen */
		if (ev->nvalues < 4)
			return replay_diverge(rp, ev, "a ptrace stop event without its values");
		rec_ptrace_set_stop(&rp->ptrace, (pid_t)ev->tid, (enum rec_ptrace_stop)ev->values[0],
				    (int)ev->values[1], (int)ev->values[2], ev->values[3]);
		return 0;
	}
	t = replay_find_rec(rp, (pid_t)ev->tid);
	if (!t)
		return replay_diverge(rp, ev, "event for unknown thread %u", ev->tid);
	if (ev->type == TRACE_EV_STOP_FILTER) /* it stays in its stop: its mask too */
		return replay_on_stop_filter(rp, ev, t);
	if (ev->type != TRACE_EV_SIGNAL) /* only the next event may be its delivery */
		t->has_wait_mask = false;
	if (t->held_wait && !(ev->type == TRACE_EV_SIGNAL && ev->values[1] == TRACE_SIGNAL_AT_EVENT)) {
		/* its tracer let it go without a signal and no other came: the
		 * kernel put its own mask back on the way to user mode */
		t->held_wait = false;
		if (tracee_set_sigmask(t->tid, t->held_own_mask) < 0)
			return replay_diverge(rp, ev, "lost thread %d", t->tid);
	}
	switch (ev->type) {
	case TRACE_EV_SIGNAL:
	case TRACE_EV_PREEMPT:
	case TRACE_EV_RDTSC:
	case TRACE_EV_PATCH:
		/* the recorder emptied the thread's syscall buffer right before
		 * these, as before a syscall entry (replay_on_entry) */
		r = ev->type == TRACE_EV_SIGNAL	? replay_on_signal(rp, ev, t)
			: ev->type == TRACE_EV_PREEMPT	? replay_on_preempt(rp, ev, t)
			: ev->type == TRACE_EV_RDTSC	? replay_on_rdtsc(rp, ev, t)
						: replay_on_patch(rp, ev, t);
		return r < 0 ? r : replay_syscallbuf_check(rp, ev, t);
	case TRACE_EV_SYSCALL_ENTRY:
		return replay_on_entry(rp, ev, t);
	case TRACE_EV_SYSCALL_EXIT:
		return replay_on_syscall_exit(rp, ev, t);
	case TRACE_EV_THREAD_EXIT:
		return replay_on_thread_exit(rp, ev, t);
	case TRACE_EV_SYSCALLBUF:
		return replay_on_syscallbuf(rp, ev, t);
	case TRACE_EV_SITE_PATCH:
		return replay_on_site_patch(rp, ev, t);
	default:
		return replay_diverge(rp, ev, "unknown event type %d", ev->type);
	}
}

static int
open_trace(const char *dir, struct trace_reader **ret_r)
{
	char err[512];
	int r = trace_reader_open(dir, ret_r, err, sizeof(err));

	if (r < 0)
		log_error("%s", err);
	return r;
}

/* The id of the process that @ev, a TRACE_EV_EXEC, starts a program in. */
static pid_t
exec_pid(const struct trace_event *ev)
{
	return ev->nvalues >= 3 ? (pid_t)ev->values[2] : (pid_t)ev->tid;
}

/*
 * Find where `uprr replay -p PID` stops: the event of @pid's first exec, else
 * of its fork (a thread start without CLONE_THREAD); whether it is an exec.
 * Reads the whole trace once. Returns 0, -ESRCH if @pid is not in it, or the
 * reader's error.
 */
static int
find_stop(const char *dir, pid_t pid, uint64_t *ret_event, bool *ret_exec)
{
	struct trace_reader *r;
	struct trace_event ev;
	bool found = false;
	int n;

	n = open_trace(dir, &r);
	if (n < 0)
		return n;
	for (uint64_t no = 0; (n = trace_reader_next(r, &ev)) > 0; no++) {
		if (ev.type == TRACE_EV_EXEC && exec_pid(&ev) == pid) {
			*ret_event = no;
			*ret_exec = found = true;
			break;
		}
		if (ev.type == TRACE_EV_THREAD_START && (pid_t)ev.tid == pid && !found &&
		    ev.nvalues >= 2 && !(ev.values[1] & CLONE_THREAD)) {
			*ret_event = no;
			*ret_exec = false;
			found = true;
		}
	}
	trace_reader_close(r);
	if (found)
		return 0; /* a bad tail is for the replay to report */
	if (n < 0)
		return n;
	log_error("process %d is not in the trace (uprr ps lists them)", pid);
	return -ESRCH;
}

/*
 * Warn, before anything runs, when someone else could have written the
 * trace at @dir: replay executes the programs and libraries it holds, so a
 * trace chooses what code runs. Checks the directory and its files/ (the
 * kept copies): owned by another user, or writable by group or others.
 */
static void
check_owner(const char *dir)
{
	const char *parts[] = { "", "/" TRACE_FILES_DIR };

	for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
		char path[PATH_MAX];
		const struct passwd *pw;
		struct stat st;

		snprintf(path, sizeof(path), "%s%s", dir, parts[i]);
		if (stat(path, &st) < 0)
			continue;
		if (st.st_uid != geteuid()) {
			pw = getpwuid(st.st_uid);
			log_warn("'%s' belongs to %s (uid %u), not to you: replay runs the programs "
				 "the trace holds, so replay only traces you trust", path,
				 pw ? pw->pw_name : "another user", (unsigned)st.st_uid);
			return;
		}
		if (st.st_mode & (S_IWGRP | S_IWOTH)) {
			log_warn("'%s' is writable by others (mode %03o): replay runs the programs "
				 "the trace holds, which they could have changed", path,
				 (unsigned)(st.st_mode & 0777));
			return;
		}
	}
}

static int
check_cpu(const struct trace_header *hdr)
{
	char vendor[16];
	uint32_t features[8];

	arch_cpu_identity(vendor, features);
	if (strcmp(vendor, hdr->cpu_vendor) != 0 || memcmp(features, hdr->cpu_features, sizeof(features)))
		log_warn("this CPU (%s) differs from the recording's (%s): replay may diverge", vendor,
			 hdr->cpu_vendor);
	return 0;
}

/* A trace replays if it holds a schedule: a TP log holds none. */
static int
check_mode(const char *dir, const struct trace_header *hdr)
{
	if (strcmp(hdr->mode, TRACE_MODE_TP_LOG) != 0)
		return 0;
	log_error("trace '%s' is a TP log (mode %s): each thread's syscalls, with no schedule, "
		  "so it does not replay; `uprr dump` shows it", dir, hdr->mode);
	return -EPROTO;
}

/* Replay reads this trace's format and counts ticks as the recording did:
 * the PMU's must work here. */
static int
check_ticks(const struct trace_header *hdr, bool *ret_pmu)
{
	char why[256];

	if (hdr->format_version < 3) {
		/* format 3: a thread's start precedes its clone's exit */
		log_error("the trace is format %u, from a uprr before process trees; record it again",
			  hdr->format_version);
		return -EPROTO;
	}
	*ret_pmu = strcmp(hdr->tick_source, ticks_source_name(TICKS_SOURCE_PMU)) == 0;
	if (*ret_pmu && ticks_pmu_probe(why, sizeof(why)) < 0) {
		log_error("the trace counts ticks with hardware performance counters, which are not "
			  "available here: %s", why);
		return -ENOTSUP;
	}
	return 0;
}

static volatile sig_atomic_t stop_requested;

void
replay_request_stop(void)
{
	stop_requested = 1;
}

int
replay_run(const struct replay_options *opts, int *ret_status)
{
	struct replayer rp = { .opts = opts, .out = { .dump_fd = -1 } };
	uint64_t stop_event = UINT64_MAX, cut_event = UINT64_MAX;
	const struct trace_header *hdr;
	struct trace_event ev;
	bool stop_exec = false, need_end;
	int64_t cut_epoch = -1;
	char cut_why[128];
	int r;

	r = open_trace(opts->trace_dir, &rp.r);
	if (r < 0)
		return r == -ENODATA ? -EBADMSG : r; /* its header cut: not a trace */
	hdr = trace_reader_header(rp.r);
	r = check_mode(opts->trace_dir, hdr);
	if (r < 0)
		goto out;
	/* format 6 on, a trace ends with its end event, which replay demands
	 * after the last process's exit too */
	need_end = hdr->format_version >= 6;
	if (strcmp(hdr->mode, TRACE_MODE_TP) == 0) {
		r = find_tp_cut(&rp, &cut_event, &cut_epoch);
		if (r < 0) {
			log_error_errno(r, "cannot read the trace");
			goto out;
		}
		if (cut_epoch >= 0)
			snprintf(cut_why, sizeof(cut_why), "a tp trace replays to its last verified "
				 "epoch, %" PRId64, cut_epoch);
		else
			snprintf(cut_why, sizeof(cut_why), "a tp trace replays to its last verified "
				 "epoch, and none was");
	}
	if (opts->stop_pid) {
		r = find_stop(opts->trace_dir, opts->stop_pid, &stop_event, &stop_exec);
		if (r < 0)
			goto out;
	}
	replay_syscallbuf_marks_begin(&rp);
	check_owner(opts->trace_dir);
	check_cpu(trace_reader_header(rp.r));
	r = check_ticks(trace_reader_header(rp.r), &rp.pmu);
	if (r < 0)
		goto out;
	r = replay_output_open(&rp.out, trace_reader_header(rp.r)->format_version, opts->quiet,
			       opts->dump_sent);
	if (r < 0)
		goto out;
	/* to the end event; a trace of format 5 or older ends with its last
	 * process's exit */
	while (!rp.error && !(rp.done && (rp.ended || !need_end))) {
		if (stop_requested) {
			log_error("stopped by SIGTERM at event %" PRIu64, rp.event_no);
			rp.error = -EINTR;
			break;
		}
		if (rp.event_no == cut_event) {
			cut_short(&rp, cut_why);
			break;
		}
		r = trace_reader_next(rp.r, &ev);
		/* the recorder did not finish it (killed, disk full): every
		 * whole frame ran; a last frame written in part is left */
		if (r == 0 || r == -ENODATA) {
			cut_short(&rp, r < 0 ? trace_reader_error(rp.r) : NULL);
			break;
		}
		if (r < 0) {
			log_error("%s", trace_reader_error(rp.r));
			rp.error = r;
			break;
		}
		/* after the last process's exit, only the end (and an EP
		 * run's last epochs) */
		if (rp.done && ev.type != TRACE_EV_END && ev.type != TRACE_EV_EPOCH) {
			replay_diverge(&rp, &ev, "an event of type %d after the last process "
				       "ended, where the trace's end should be", ev.type);
			break;
		}
		r = replay_event(&rp, &ev);
		if (r < 0 && !rp.error)
			rp.error = r;
		if (!rp.error && rp.event_no == stop_event) {
			const struct pthread_r *t = replay_find_rec(&rp, opts->stop_pid);
			_cleanup_free_ char *cmd = stop_exec ? replay_exec_command(&ev) : NULL;

			if (stop_exec)
				log_printf(LOG_LEVEL_ERROR, "replay",
					   "stopped at event %" PRIu64 ", where process %d execs %s "
					   "(replayed as pid %d)", rp.event_no, opts->stop_pid,
					   cmd ?: "?", t ? t->tgid : 0);
			else
				log_printf(LOG_LEVEL_ERROR, "replay",
					   "stopped at event %" PRIu64 ", where thread %" PRIu64
					   " forks process %d (replayed as pid %d)", rp.event_no,
					   ev.values[0], opts->stop_pid, t ? t->tgid : 0);
			rp.status = 0;
			break;
		}
		rp.event_no++;
	}
	log_debug("signals delivered: %" PRIu64 " with a single step, %" PRIu64 " with the thread's "
		  "next run (%" PRIu64 " of them stepped before another event)",
		  rp.deliveries.stepped, rp.deliveries.deferred, rp.deliveries.settled);
	log_debug("%" PRIu64 " first mmaps of a file injected with their openat", rp.mmaps_injected);
	r = rp.error;
	if (r == 0) {
		*ret_status = rp.status;
		if (WIFSIGNALED(rp.status))
			tracee_report_killed(WTERMSIG(rp.status), rp.last_sig_rip, rp.last_sig_tid);
	}
out:
	if (rp.leader > 0 && (r < 0 || !rp.done)) {
		for (size_t i = 0; i < rp.nthreads; i++)
			kill(rp.threads[i].tgid, SIGKILL);
		tracee_kill_all(rp.leader);
	}
	while (rp.nthreads)
		replay_remove_thread(&rp, &rp.threads[0]);
	for (size_t i = 0; i < rp.nfiles; i++)
		close(rp.files[i].fd);
	free(rp.files);
	free(rp.tfiles);
	replay_shm_free(&rp.shm);
	replay_syscallbuf_marks_end(&rp);
	trace_ref_file_close(&rp.sb_ref);
	replay_output_close(&rp.out);
	trace_reader_close(rp.r);
	free(rp.threads);
	free(rp.buf);
	sc_ranges_free(&rp.ranges);
	rec_ptrace_free(&rp.ptrace);
	/* -ENODATA says cut short, and nothing else does */
	return rp.cut_short ? -ENODATA : r == -ENODATA ? -EIO : r;
}
