/* SPDX-License-Identifier: MIT */
/*
 * The uniprocessor recorder: runs the program's threads one at a time under
 * sched, pinned with the supervisor to one CPU, and writes every event and
 * determinant to the trace (DESIGN.md, "Nondeterminism and how it is captured").
 *
 * Each thread is always in one of the states of enum rthread_state; only the
 * current thread runs user code. A thread in a syscall that may block runs in
 * the kernel while others run; the order in which such syscalls complete is
 * the order of their exit events in the trace. Signals and execution points
 * are in record-signals.c, emulated ptrace in record-ptrace.c, going on
 * after the trace failed in unrecorded.c; their shared state is in
 * record-private.h.
 */
#define LOG_PREFIX "record"
#include <asm/unistd.h>
#include <elf.h>
#include <linux/audit.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#include "checkpoint/checkpoint.h"
#include "common/log.h"
#include "ep/ep.h"
#include "preload/uprr-preload.h"
#include "recorder/record-private.h"
#include "recorder/recorder.h"
#include "sched/sched.h"
#include "sched/ticks-soft.h"
#include "sched/ticks.h"
#include "trace/trace.h"
#include "tracee/tracee.h"
#include "x86_64/arch.h"


struct rthread *
rec_find_thread(struct recorder *rec, pid_t tid)
{
	for (size_t i = 0; i < rec->nthreads; i++)
		if (rec->threads[i].tid == tid)
			return &rec->threads[i];
	return NULL;
}

/* A new address space of process @pid (after its exec, or a fork of @from,
 * whose counting code it inherits). NULL when out of memory or @pid is gone. */
struct rspace *
rec_space_new(struct recorder *rec, pid_t pid, const struct rspace *from)
{
	struct rspace *sp = calloc(1, sizeof(*sp));

	if (!sp || rec_space_open(&sp->mem, pid, from ? &from->mem : NULL, rec->soft) < 0) {
		free(sp);
		return NULL;
	}
	if (from) {
		sp->may_preempt = from->may_preempt;
		sp->brk_end = from->brk_end; /* a fork keeps the heap */
	}
	return sp;
}

/* A process stops using @sp (it exited or exec'd). */
static void
space_leave(struct recorder *rec, struct rspace *sp)
{
	if (!sp || --sp->mem.users > 0)
		return;
	rec_space_drop_checkpoint(rec, sp);
	rec_epoch_space_free(sp);
	rec_ep_space_free(sp);
	rec->nsites += ticks_soft_nsites(sp->mem.soft);
	rec_syscallbuf_space_free(&sp->sb);
	rec_space_close(&sp->mem);
	free(sp);
}

int
rec_add_thread(struct recorder *rec, pid_t tid, pid_t tgid, struct rspace *sp, struct rthread **ret)
{
	int r;

	if (UTIL_GROW(rec->threads, rec->cap, rec->nthreads + 1) < 0)
		return -ENOMEM;
	r = sched_add(rec->sched, tid);
	if (r < 0)
		return r;
	rec->threads[rec->nthreads] = (struct rthread){
		.tid = tid, .tgid = tgid, .space = sp, .state = RT_HELD, .pmu_fd = -1,
		.spin.counter = -1,
	};
	*ret = &rec->threads[rec->nthreads++];
	return 0;
}

/* Forget thread @tid (gone, or its tid taken over by an exec). */
static void
drop_thread(struct recorder *rec, struct rthread *t)
{
	sched_remove(rec->sched, t->tid);
	free(t->xstate);
	free(t->later);
	free(t->ep_replaced);
	rec_output_free(&t->out);
	if (t->pmu_fd >= 0)
		close(t->pmu_fd);
	*t = rec->threads[--rec->nthreads];
}

/* Forget the threads of process @tgid other than @keep: the kernel killed
 * them (their deaths may still be reported: unknown threads are ignored). */
static void
drop_group_but(struct recorder *rec, pid_t tgid, pid_t keep)
{
	for (size_t i = 0; i < rec->nthreads;)
		if (rec->threads[i].tgid == tgid && rec->threads[i].tid != keep)
			drop_thread(rec, &rec->threads[i]);
		else
			i++;
}

/* Forget thread @tid; the last thread of a process takes it out of its
 * address space. */
void
rec_remove_thread(struct recorder *rec, pid_t tid)
{
	struct rthread *t = rec_find_thread(rec, tid);
	struct rspace *sp;
	pid_t tgid;

	if (!t) {
		sched_remove(rec->sched, tid);
		return;
	}
	sp = t->space;
	tgid = t->tgid;
	drop_thread(rec, t);
	for (size_t i = 0; i < rec->nthreads; i++)
		if (rec->threads[i].tgid == tgid)
			return;
	space_leave(rec, sp);
}

int
rec_tracee_mem_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	return tracee_read(*(pid_t *)ctx, addr, buf, len);
}

/*
 * Copy the ranges in rec->ranges out of thread @tid's memory into blobs.
 * Unreadable ranges (a bad pointer the kernel rejected) are dropped.
 */
int
rec_collect_blobs(struct recorder *rec, pid_t tid, uint32_t *ret_n)
{
	size_t total = 0, off = 0;
	uint32_t n = 0;

	for (size_t i = 0; i < rec->ranges.n; i++)
		total += rec->ranges.v[i].len;
	if (UTIL_GROW(rec->buf, rec->buf_cap, total) < 0 ||
	    UTIL_GROW(rec->blobs, rec->blobs_cap, rec->ranges.n) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < rec->ranges.n; i++) {
		const struct sc_range *rg = &rec->ranges.v[i];

		if (rg->len > UINT32_MAX || tracee_read(tid, rg->addr, rec->buf + off, rg->len) < 0)
			continue;
		rec->blobs[n++] = (struct trace_blob){ rg->addr, (uint32_t)rg->len, rec->buf + off };
		off += rg->len;
	}
	*ret_n = n;
	return 0;
}

void __attribute__((format(printf, 2, 3)))
rec_stop_recording(struct recorder *rec, const char *fmt, ...)
{
	va_list ap;

	rec->done = true;
	if (rec->error[0])
		return; /* the first reason is the one to tell */
	va_start(ap, fmt);
	vsnprintf(rec->error, sizeof(rec->error), fmt, ap);
	va_end(ap);
}

int
rec_write_event(struct recorder *rec, struct trace_event *ev)
{
	struct rthread *t;
	int r;

	/* the calls the thread buffered since its last event come first
	 * (syscallbuf.c): replay puts them in place before it runs there */
	switch (ev->type) {
	case TRACE_EV_SYSCALL_ENTRY:
	case TRACE_EV_SIGNAL:
	case TRACE_EV_PREEMPT:
	case TRACE_EV_RDTSC:
	case TRACE_EV_PATCH:
	case TRACE_EV_SITE_PATCH:
		t = rec_find_thread(rec, (pid_t)ev->tid);
		if (t && (r = rec_syscallbuf_flush(rec, t)) < 0) {
			rec_stop_recording(rec, "cannot record the syscall buffer of thread %d: %s",
					   t->tid, strerror(-r));
			return r;
		}
		break;
	default:
		break;
	}
	if (rec->epochs.len_ns)
		rec_epoch_count(rec, ev);
	if (rec->ep) {
		/* the new trace names threads as the log does */
		struct trace_event named = *ev;

		rec_ep_name_threads(rec, &named);
		if (ev->type == TRACE_EV_PATCH)
			rec_ep_note_patch(rec, ev);
		r = trace_writer_add_event(rec->w, &named);
	} else {
		r = trace_writer_add_event(rec->w, ev);
	}

	if (r < 0)
		rec_stop_recording(rec, "cannot write the trace: %s", strerror(-r));
	return r;
}

void
rec_event_init(struct trace_event *ev, enum trace_event_type type, pid_t tid)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->tid = (uint32_t)tid;
}

void
rec_event_set_regs(struct trace_event *ev, const struct user_regs_struct *regs)
{
	ev->has_regs = true;
	memcpy(ev->regs, regs, sizeof(ev->regs));
}

void
rec_resume(struct rthread *t, enum __ptrace_request how, int sig)
{
	if (how == PTRACE_CONT && t->stepping)
		how = PTRACE_SINGLESTEP;
	rec_syscallbuf_note_frame(t, sig);
	tracee_resume(t->tid, how, sig);
}

/*
 * Keep signal @si that arrived while @t ran user code for its next execution
 * point. The kernel dequeued it already: one dropped here would be lost, so
 * those arriving while one waits queue behind it (several real-time signals,
 * or ones unblocked together, arrive back to back). A standard signal that
 * already waits is pending once, as in the kernel, which keeps one instance
 * of each (signal(7)): a timer faster than the deliveries cannot pile up.
 */
/* @t's deferred signal begins to wait now (the CPU time @t had run then is
 * a TP run's to read, at its next look: rec_tp_signal_due()). */
static void
deferred_now(struct rthread *t)
{
	t->deferred_ns = util_now_ns();
	t->deferred_cpu_ns = 0;
}

int
rec_defer_signal(struct rthread *t, const siginfo_t *si)
{
	if (!t->deferred_sig) {
		t->deferred_sig = si->si_signo;
		t->deferred_info = *si;
		deferred_now(t);
		return 0;
	}
	if (si->si_signo < SIGRTMIN) {
		if (t->deferred_sig == si->si_signo)
			return 0;
		for (size_t i = 0; i < t->nlater; i++)
			if (t->later[i].si_signo == si->si_signo)
				return 0;
	}
	if (UTIL_GROW(t->later, t->later_cap, t->nlater + 1) < 0)
		return -ENOMEM;
	t->later[t->nlater++] = *si;
	return 0;
}

/* The deferred signal of @t is being delivered: take it out (into *ret_si)
 * and let the next one wait. Returns its number. */
int
rec_take_deferred(struct rthread *t, siginfo_t *ret_si)
{
	int sig = t->deferred_sig;

	*ret_si = t->deferred_info;
	t->deferred_sig = 0;
	if (t->nlater) {
		t->deferred_info = t->later[0];
		t->deferred_sig = t->deferred_info.si_signo;
		deferred_now(t);
		memmove(t->later, t->later + 1, --t->nlater * sizeof(*t->later));
	}
	return sig;
}

/* ---- runs of user code ---- */

/* The running thread is due @len ns (wall, then CPU time) from now. */
void
rec_set_deadline(struct recorder *rec, uint64_t len)
{
	rec->due = (struct deadline){ util_now_ns(), len, 0 };
}

/* Whether rec->due has passed for thread @tid; if not, stores in *ret_wait_ns
 * when to look again. */
bool
rec_deadline_passed(struct recorder *rec, pid_t tid, uint64_t *ret_wait_ns)
{
	struct deadline *d = &rec->due;
	uint64_t now = util_now_ns(), cpu;

	if (now < d->start_ns + d->len) {
		*ret_wait_ns = d->start_ns + d->len - now;
		return false;
	}
	if (tracee_cpu_time(tid, &cpu) < 0)
		return true; /* only wall time to go by */
	if (!d->cpu_ns)
		d->cpu_ns = cpu;
	if (cpu - d->cpu_ns >= d->len)
		return true;
	*ret_wait_ns = d->len - (cpu - d->cpu_ns);
	return false;
}


/* The PMU counts @t's ticks from 0 as its run of user code starts. */
static void
restart_pmu(struct recorder *rec, struct rthread *t)
{
	int r = t->pmu_fd < 0 ? ticks_pmu_open(t->tid, 0, 0, &t->pmu_fd)
			      : ticks_pmu_reset(t->pmu_fd);

	if (r < 0 && r != -ESRCH)
		rec_stop_recording(rec, "cannot count the ticks of thread %d: %s", t->tid, strerror(-r));
}

/* @t is about to run user code: its deadline, its tick budget, its
 * restore point (record-restore.c). */
void
rec_start_run(struct recorder *rec, struct rthread *t)
{
	struct rspace *sp = t->space;

	t->trap_armed = false;
	t->rollbacks = 0;
	t->uncountable = false;
	t->probing = false;
	t->sb_rerun = false;
	t->point_later = false;
	rec_set_deadline(rec, rec_timeslice_ns(rec, t));
	/* ticks count from here: a budget armed in the last run may be left */
	if (sp->mem.soft && ticks_soft_active(sp->mem.soft)) {
		if (rec_arm_budget(t, 0, 0) < 0)
			log_debug("cannot reset the tick budget");
		else
			rec_spin_start_run(rec, t);
	}
	if (rec->pmu || !rec_serial(rec)) {
		/* the counter finds execution points without restore points;
		 * a TP run needs neither: nothing preempts or rolls it back */
		rec_syscallbuf_wakes(rec, t, true);
		rec_syscallbuf_maps(rec, t, true);
		if (rec->pmu)
			restart_pmu(rec, t);
		sp->at_exec = false;
		return;
	}
	rec_restore_point(rec, t);
}

/*
 * Let @t run user code, delivering @sig first (0: none). A caught signal is
 * delivered with a single step, so the run starts at its handler's first
 * instruction, with the frame built, where replay starts it too.
 */
void
rec_resume_user(struct recorder *rec, struct rthread *t, int sig, const siginfo_t *info)
{
	enum tracee_delivery how = TRACEE_DELIVERY_NONE;
	siginfo_t step_si;
	int status = 0, r;

	if (t->exit_sig) {
		/* it stands in the delivery stop its syscall's exit was taken
		 * at (rec_exit_at_signal()): the signal comes first */
		int pending = t->exit_sig;

		t->exit_sig = 0;
		if (!sig) {
			rec_on_signal(rec, t, pending);
			return;
		}
	}
	if (!sig && t->step_stop) {
		/* a single step that ends before another instruction runs: the
		 * kernel reports a step over a syscall as it returns
		 * (syscall_exit_work(), user_single_step_report(): TRAP_BRKPT
		 * at the new rip), one that delivered a signal to a handler at
		 * its first instruction (signal_delivered(): ptrace_notify()) */
		memset(&step_si, 0, sizeof(step_si));
		step_si.si_signo = sig = SIGTRAP;
		step_si.si_code = t->step_stop;
		if (t->step_stop == TRAP_BRKPT) {
			step_si.si_addr = (void *)(uintptr_t)t->regs.rip;
		} else {
			step_si.si_pid = t->tid;
			step_si.si_uid = getuid();
		}
		t->step_stop = 0;
		info = &step_si;
		rec_record_signal(rec, t, sig, info, TRACE_SIGNAL_AT_EVENT, &t->regs);
	}
	if (!sig && rec_ptrace_interrupt_due(&rec->ptrace, t->tid)) {
		/* its tracer interrupted it while it ran: it traps here */
		rec_ptrace_hold(rec, t, RT_HELD, true);
		return;
	}
	if (sig && rec_ptrace_intercepts(&rec->ptrace, t->tid, sig)) {
		siginfo_t si;

		/* a recorded tracer traces it: the delivery waits for its word */
		if (!info && ptrace(PTRACE_GETSIGINFO, t->tid, 0, &si) == 0)
			info = &si;
		rec_ptrace_enter_stop(&rec->ptrace, t->tid, REC_PTRACE_SIGNAL_STOP, info);
		rec_ptrace_stopped(rec, t);
		return;
	}
	if (sig && rec_deliver_unstepped(rec, t, sig, info))
		return;
	if (sig) {
		r = tracee_deliver_signal(t->tid, sig, info, &how, &status);
		if (r == -EINPROGRESS) {
			t->state = RT_RUNNING;
			rec_dispatch(rec, t->tid, status);
			return;
		}
		if (r < 0)
			return; /* vanished */
		if (t->ep_wait_due)
			rec_ep_wait_delivered(rec, t, how);
		/* at the handler's first instruction, or where it was */
		if (how != TRACEE_DELIVERY_RUNNING && tracee_get_regs(t->tid, &t->regs) < 0)
			return;
	}
	t->state = RT_RUNNING;
	/* signals wait for their own execution points: the next buffered
	 * call is one */
	if (t->deferred_sig || t->nlater)
		rec_syscallbuf_interrupt(rec, t);
	if (how == TRACEE_DELIVERY_RUNNING) {
		/* A stop signal: the thread group-stops (rec_on_group_stop()), or the
		 * kernel discards the stop (an orphaned process group, a SIGCONT
		 * meanwhile: get_signal(), kernel/signal.c) and it runs on with no
		 * restore point of this run: nothing may roll it back. */
		if (tracee_is_stop_signal(sig))
			t->uncountable = true;
		return;
	}
	rec_start_run(rec, t);
	rec_resume(t, PTRACE_CONT, 0);
}


/* ---- thread and process exit ---- */

void
rec_on_thread_gone(struct recorder *rec, pid_t tid, int status)
{
	struct rthread *t = rec_find_thread(rec, tid);
	struct trace_event ev;

	if (t)
		rec_ptrace_on_gone(rec, t, status); /* its tracer may wait for it */
	else
		rec_ptrace_forget(&rec->ptrace, tid);
	if (t && tid == t->tgid)
		rec_tracer_gone(rec, tid);

	if (t && tid == t->tgid) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		rec_event_init(&ev, TRACE_EV_PROCESS_EXIT, tid);
		ev.nvalues = 2;
		ev.values[0] = (uint64_t)status;
		ev.values[1] = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		if (tid == rec->root)
			rec->status = status;
		rec->nprocs--;
		rec_write_event(rec, &ev);
		/* threads of it not reported yet died with it */
		drop_group_but(rec, tid, tid);
	} else if (t) {
		rec_event_init(&ev, TRACE_EV_THREAD_EXIT, tid);
		ev.nvalues = 2;
		ev.values[0] = (uint64_t)status;
		ev.values[1] = t->state == RT_RUNNING; /* replay lets it run to its end */
		rec_write_event(rec, &ev);
	}
	rec_remove_thread(rec, tid);
	if (!rec->nthreads)
		rec->done = true; /* the last recorded process ended */
}

/* Whether process @tgid has a thread other than @tid. */
bool
rec_has_other_threads(const struct recorder *rec, pid_t tgid, pid_t tid)
{
	for (size_t i = 0; i < rec->nthreads; i++)
		if (rec->threads[i].tgid == tgid && rec->threads[i].tid != tid)
			return true;
	return false;
}

/*
 * The leader @t, at its PTRACE_EVENT_EXIT after exit(2) (pthread_exit in
 * main), leaves before the other threads of its process. The kernel reports
 * its death only after theirs (ptrace(2)): let it finish exiting now, so its
 * CLONE_CHILD_CLEARTID write and robust list happen at this point, record
 * that, and let the others run: it is out of sched until its process ends.
 */
static void
leader_exits_first(struct recorder *rec, struct rthread *t)
{
	struct trace_event ev;

	if (tracee_wait_zombie(t->tid, 5000000000ull) < 0)
		log_warn("process %d: its main thread takes long to exit", t->tgid);
	rec_event_init(&ev, TRACE_EV_THREAD_EXIT, t->tid);
	rec_write_event(rec, &ev);
	t->state = RT_ZOMBIE;
	sched_remove(rec->sched, t->tid);
}

/* PTRACE_EVENT_EXIT: its emulated tracer may hold it there (PTRACE_O_TRACEEXIT) */
void
rec_on_exit_event(struct recorder *rec, struct rthread *t)
{
	if (!rec_ptrace_exit_stop(rec, t))
		rec_finish_exit(rec, t);
}

/* At PTRACE_EVENT_EXIT: let it go and, for a thread other than the leader, wait
 * until it is gone so its CLONE_CHILD_CLEARTID write happens at this point. */
void
rec_finish_exit(struct recorder *rec, struct rthread *t)
{
	int status, sig;
	pid_t tid = t->tid;

	/* killed with calls still buffered: their memory is still there */
	if (rec_syscallbuf_flush(rec, t) < 0)
		log_debug("thread %d: cannot flush its syscall buffer at its exit", tid);
	rec_resume(t, PTRACE_CONT, 0);
	if (tid == t->tgid && rec_has_other_threads(rec, t->tgid, tid)) {
		/* exit(2), not a group exit: the others run on */
		if (t->nr == __NR_exit)
			leader_exits_first(rec, t);
		return;
	}
	if (tid == t->tgid) {
		/* The last thread of its process: record the process's end where
		 * its robust mutexes were marked (set_robust_list(2)) and their
		 * waiters woken, before those run. Its death is reported once it
		 * is a zombie, unless a thread uprr has not seen start yet (its
		 * clone event still queued) holds it back: then the loop gets it. */
		if (tracee_wait_zombie(tid, 1000000000ull) == 0 &&
		    waitpid(tid, &status, __WALL | WNOHANG) == tid) {
			if (tracee_classify(status, &sig) == TRACEE_GONE)
				rec_on_thread_gone(rec, tid, status);
			else
				rec_dispatch(rec, tid, status);
		}
		return;
	}
	for (;;) {
		if (tracee_wait(t->tid, &status) < 0)
			return;
		if (tracee_classify(status, &sig) == TRACEE_GONE)
			break;
		rec_resume(t, PTRACE_CONT, 0);
	}
	rec_on_thread_gone(rec, tid, status);
}

/* ---- exec ---- */

static int record_exec(struct recorder *rec, struct rthread *t, pid_t former, const char *exe_path);

/*
 * The exec stop of process @t->tgid (@t: its leader's entry). The kernel
 * killed its other threads (their deaths may still be reported: unknown
 * threads are ignored) and gave the exec'ing thread the leader's id (ptrace(2),
 * "execve(2) under ptrace"). The process gets a new address space; its
 * execve continues to its exit stop.
 */
/* The executable process @pid runs since its exec, into @buf (@len
 * bytes): /proc/PID/exe, which for a script names its interpreter (the
 * file the kernel loaded, whose copy the trace keeps); 0 or -errno. */
static int
exec_path(pid_t pid, char *buf, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	n = readlink(link, buf, len - 1);
	if (n <= 0)
		return n < 0 ? -errno : -ENOENT;
	buf[n] = '\0';
	return 0;
}

void
rec_on_exec_event(struct recorder *rec, struct rthread *t)
{
	char exe[PATH_MAX];
	unsigned long msg = 0;
	pid_t pid = t->tid, former;
	struct rspace *old;
	int r;

	if (ptrace(PTRACE_GETEVENTMSG, pid, 0, &msg) < 0)
		return;
	former = (pid_t)msg;
	if (!rec_find_thread(rec, former))
		former = pid;
	drop_group_but(rec, pid, former);
	t = rec_find_thread(rec, former);
	if (former != pid) {
		sched_rename(rec->sched, former, pid);
		t->tid = pid;
	}
	old = t->space;
	t->space = rec_space_new(rec, pid, NULL);
	space_leave(rec, old);
	if (!t->space || exec_path(pid, exe, sizeof(exe)) < 0) {
		rec_stop_recording(rec, "cannot follow the execve of process %d", pid);
		return;
	}
	r = record_exec(rec, t, former, exe);
	if (r < 0) {
		rec_stop_recording(rec, "cannot record the execve of %.300s: %s", exe, strerror(-r));
		return;
	}
	t->state = RT_IN_SYSCALL;
	if (t->space->mem.syscallbuf) {
		/* mapping the syscall buffer ran the execve to its end */
		rec_on_syscall_exit(rec, t);
		return;
	}
	rec_resume(t, PTRACE_SYSCALL, 0);
}

/* ---- group stops ---- */

/*
 * @t entered a group stop (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU delivered to its
 * process), or reported it again: it stays stopped, in PTRACE_LISTEN, where
 * the kernel wakes it at SIGCONT (or SIGKILL) and it reports the end with a
 * PTRACE_EVENT_STOP of SIGTRAP (ptrace(2), "Group-stop"). Until then sched
 * does not pick it. The process's parent sees it stopped (WUNTRACED) once
 * all its threads are: the kernel tells the real parent, uprr being only the
 * tracer (ptrace_stop(), kernel/signal.c). Nothing is recorded: the stop
 * follows from the recorded signal, and replay sees the same order.
 */
void
rec_on_group_stop(struct recorder *rec, struct rthread *t, int sig)
{
	t->state = RT_STOPPED;
	t->group_sig = sig;
	sched_set_state(rec->sched, t->tid, SCHED_BLOCKED);
	if (ptrace(PTRACE_LISTEN, t->tid, 0, 0) < 0)
		log_debug("thread %d: PTRACE_LISTEN: %s", t->tid, strerror(errno)); /* killed */
	(void)rec_ptrace_group_stop(rec, t, sig, true);
}

/* The group stop of @t ended (SIGCONT): it is held where it stopped, and
 * runs (taking the SIGCONT) when sched picks it. */
void
rec_on_group_continue(struct recorder *rec, struct rthread *t)
{
	if (tracee_get_regs(t->tid, &t->regs) < 0)
		return; /* vanished: its exit comes through waitpid */
	t->state = RT_HELD;
	t->group_sig = 0;
	/* a seized tracee that listened waits for its tracer */
	if (!rec_ptrace_group_stop(rec, t, SIGCONT, false))
		sched_set_state(rec->sched, t->tid, SCHED_RUNNABLE);
}

/* ---- the loop ---- */

/*
 * Make progress on the current thread, which is stopped at an event. Returns
 * false if it made none: the thread vanished under it (killed in a group
 * exit: ESRCH, and its end comes through waitpid) or waits for the kernel.
 */
bool
rec_run_current(struct recorder *rec, struct rthread *t)
{
	enum rthread_state state = t->state;
	pid_t tid = t->tid;

	switch (state) {
	case RT_AT_ENTRY:
		if (t->ep_reentry) {
			t->ep_reentry = false;
			rec_entry_tail(rec, t);
			break;
		}
		rec_issue_syscall(rec, t);
		break;
	case RT_EXIT_READY:
		rec_on_syscall_exit(rec, t);
		break;
	case RT_HELD:
		rec_resume_user(rec, t, 0, NULL);
		break;
	case RT_PT_ENTRY:
		rec_after_entry(rec, t);
		break;
	case RT_AT_CLONE:
		rec_finish_clone(rec, t);
		break;
	case RT_AT_EXIT:
		rec_finish_exit(rec, t);
		break;
	case RT_IN_SYSCALL:
	case RT_RUNNING:
	case RT_ZOMBIE:
	case RT_STOPPED:
		return false;
	}
	t = rec_find_thread(rec, tid);
	return rec->done || !t || t->state != state || sched_current(rec->sched) != tid;
}

void
rec_dispatch(struct recorder *rec, pid_t tid, int status)
{
	struct rthread *t = rec_find_thread(rec, tid);
	int sig = 0;

	if (!t) {
		/* a thread we never saw start: its clone event is still queued */
		return;
	}
	switch (tracee_classify(status, &sig)) {
	case TRACEE_GONE:
		rec_on_thread_gone(rec, tid, status);
		break;
	case TRACEE_STOP_SECCOMP:
		rec_on_syscall_entry(rec, t);
		break;
	case TRACEE_STOP_SYSCALL_EXIT:
		if (t->state == RT_IN_SYSCALL)
			rec_on_wakeup(rec, t);
		else {
			rec_on_syscall_exit(rec, t);
		}
		break;
	case TRACEE_STOP_CLONE:
		rec_on_clone_event(rec, t);
		rec_continue_clone(rec, rec_find_thread(rec, tid));
		break;
	case TRACEE_STOP_EXIT:
		rec_on_exit_event(rec, t);
		break;
	case TRACEE_STOP_SIGNAL:
		rec_on_signal(rec, t, sig);
		break;
	case TRACEE_STOP_EXEC:
		rec_on_exec_event(rec, t);
		break;
	case TRACEE_STOP_GROUP:
		if (tracee_group_stop_sig(status)) {
			rec_on_group_stop(rec, t, tracee_group_stop_sig(status));
			break;
		}
		if (t->state == RT_STOPPED) {
			rec_on_group_continue(rec, t);
			break;
		}
		_fallthrough_;
	case TRACEE_STOP_OTHER:
		/* late stops of PTRACE_INTERRUPT: carry on */
		rec_resume(t, t->state == RT_IN_SYSCALL ? PTRACE_SYSCALL : PTRACE_CONT, 0);
		break;
	}
}

static void
on_alarm(int sig)
{
	(void)sig; /* only interrupts waitpid() */
}

/*
 * Arm the timer that wakes the loop after @ns (0: disarm). It repeats every
 * @ns: if it fires between setitimer() and waitpid(), its signal interrupts
 * nothing, and the next one wakes the loop instead of none.
 */
void
rec_set_timer(uint64_t ns)
{
	static bool armed = true; /* not known at first */
	struct itimerval it = { 0 };

	/* disarming a disarmed timer is a syscall at every stop for nothing */
	if (!ns && !armed)
		return;
	armed = ns != 0;
	if (ns) {
		ns = MAX(ns, 20000u);
		it.it_value.tv_sec = (time_t)(ns / 1000000000u);
		it.it_value.tv_usec = (suseconds_t)((ns % 1000000000u) / 1000u);
		it.it_interval = it.it_value;
	}
	setitimer(ITIMER_REAL, &it, NULL);
}

static volatile sig_atomic_t stop_requested;

void
rec_request_stop(void)
{
	stop_requested = 1;
}

static void
record_loop(struct recorder *rec)
{
	struct sigaction sa = { .sa_handler = on_alarm };

	/* no SA_RESTART: the timer interrupts waitpid() */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	rec_stash_enter(rec);
	while (!rec->done) {
		uint64_t wait_ns = 0;
		pid_t tid;
		int status;

		if (stop_requested) {
			rec_stop_recording(rec, "%s", "the program did not end after SIGTERM; uprr killed it");
			break;
		}
		if (!rec_serial(rec)) {
			/* a TP run: every thread stopped at an event goes on */
			if (rec_tp_run_ready(rec) || rec_tp_signal_due(rec, &wait_ns) ||
			    rec_epoch_due(rec, &wait_ns) || rec_order_due(rec, &wait_ns))
				continue;
		} else if (!sched_current(rec->sched)) {
			pid_t next = sched_pick(rec->sched);

			if (next && rec_run_current(rec, rec_find_thread(rec, next)))
				continue;
			/* an EP run whose threads all wait for the order
			 * (record-order.c), or are parked at their epoch ends */
			if (!next && rec->ep &&
			    (rec_order_due(rec, &wait_ns) || rec_ep_stalled(rec, &wait_ns) ||
			     rec_ep_stuck(rec, &wait_ns) || rec_ep_follow_idle(rec)))
				continue;
		} else {
			struct rthread *cur = rec_find_thread(rec, sched_current(rec->sched));

			if (cur && cur->state != RT_RUNNING && cur->state != RT_IN_SYSCALL &&
			    rec_run_current(rec, cur))
				continue;
			if (cur && cur->state == RT_RUNNING) {
				if (rec_point_due(rec, cur, &wait_ns)) {
					rec_interrupt_running(rec, cur);
					continue;
				}
			}
		}
		/* a re-run gone live: the next signal from outside */
		if (rec->live_sigs_sent < rec->nlive_sigs)
			rec_ep_live_signals(rec);
		tid = rec_wait_any(rec, wait_ns, &status);
		if (tid < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECHILD) {
				rec_stop_recording(rec, "%s", "lost the program (no more tracees)");
				break;
			}
			continue;
		}
		if (!rec_serial(rec))
			rec_epoch_on_status(rec, tid);
		rec_dispatch(rec, tid, status);
	}
	rec_stash_leave(rec);
}

/* ---- start ---- */

static void
fill_header(struct trace_header *hdr, char *const *argv, enum ticks_source ticks, const char *mode)
{
	extern char **environ;

	memset(hdr, 0, sizeof(*hdr));
	hdr->format_version = TRACE_FORMAT_VERSION;
	snprintf(hdr->uprr_version, sizeof(hdr->uprr_version), "%s", UPRR_VERSION);
	hdr->argv = (char **)argv;
	hdr->envp = environ;
	if (!getcwd(hdr->cwd, sizeof(hdr->cwd)))
		hdr->cwd[0] = '\0';
	arch_cpu_identity(hdr->cpu_vendor, hdr->cpu_features);
	snprintf(hdr->tick_source, sizeof(hdr->tick_source), "%s", ticks_source_name(ticks));
	snprintf(hdr->mode, sizeof(hdr->mode), "%s", mode);
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		hdr->start_time_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	}
}

/*
 * The kernel maps the ELF interpreter (ld.so) itself at exec, so no mmap
 * event keeps it: keep the one file mapped besides the executable. Stores
 * its file id + 1 in *ret_ref, or 0 for a static executable.
 */
static int
keep_interpreter(struct recorder *rec, pid_t pid, const struct tracee_mapping *maps, size_t n,
		 uint64_t *ret_ref)
{
	char exe_link[64], exe[PATH_MAX];
	ssize_t len;
	int r;

	*ret_ref = 0;
	snprintf(exe_link, sizeof(exe_link), "/proc/%d/exe", pid);
	len = readlink(exe_link, exe, sizeof(exe) - 1);
	if (len < 0)
		return -errno;
	exe[len] = '\0';
	for (size_t i = 0; i < n; i++) {
		_cleanup_close_ int fd = -1;
		uint32_t id;

		if (maps[i].path[0] != '/' || strcmp(maps[i].path, exe) == 0)
			continue;
		fd = open(maps[i].path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		r = trace_writer_keep_file(rec->w, fd, maps[i].path, 0, &id);
		if (r < 0)
			return r;
		*ret_ref = (uint64_t)id + 1;
		return 0;
	}
	return 0;
}

/*
 * Record the image thread @t of process @pid starts after an execve, at its
 * exec stop: the initial stack, registers, layout, and the executable and ELF
 * interpreter, kept in the trace. @former is the thread's id before the exec
 * (ptrace(2): a non-leader that execs takes over the leader's id).
 */
static int
record_exec(struct recorder *rec, struct rthread *t, pid_t former, const char *exe_path)
{
	pid_t pid = t->tid;
	struct user_regs_struct regs;
	struct trace_event ev;
	struct trace_blob blobs[2];
	uint64_t stack_end = 0;
	_cleanup_free_ char *maps = NULL;
	_cleanup_free_ struct tracee_mapping *mappings = NULL;
	_cleanup_free_ uint8_t *stack = NULL;
	_cleanup_close_ int exe_fd = -1;
	uint32_t exe_id;
	uint64_t interp_ref, vdso_ref;
	size_t nmappings;
	int r;

	/* /proc/PID/maps once: the layout, the vDSO, the interpreter */
	r = tracee_read_maps(pid, &mappings, &nmappings);
	if (r < 0)
		return r;
	r = rec_exec_prepare(pid, mappings, nmappings, &regs, &stack_end, &maps);
	if (r < 0)
		return r;
	/* an EP run starts from the log's image (the first exec only: a
	 * later one is the program's) */
	if (rec->ep && former == rec->root && !rec->ep_started) {
		rec->ep_started = true;
		r = rec_ep_initial_image(rec, t, &regs, stack_end);
		if (r < 0)
			return r;
	} else if (rec->ep && (r = rec_ep_exec_image(rec, t, &regs, stack_end)) < 0) {
		return r;
	}
	r = rec_vdso_prepare(rec->w, &rec->vdso, pid, t->space->mem.memfd, mappings, nmappings,
			     regs.rsp, &vdso_ref);
	if (r < 0)
		return r;
	stack = malloc(stack_end - regs.rsp);
	if (!stack)
		return -ENOMEM;
	r = tracee_read(pid, regs.rsp, stack, stack_end - regs.rsp);
	if (r < 0)
		return r;
	/* the exe link opens what runs even when no path names it (a memfd
	 * given to fexecve, a deleted file) */
	exe_fd = rec_exec_open_exe(pid);
	if (exe_fd < 0)
		return -errno;
	r = trace_writer_keep_file(rec->w, exe_fd, exe_path, 0, &exe_id);
	if (r < 0)
		return r;
	r = keep_interpreter(rec, pid, mappings, nmappings, &interp_ref);
	if (r < 0)
		return r;
	rec_event_init(&ev, TRACE_EV_EXEC, former);
	rec_event_set_regs(&ev, &regs);
	ev.nvalues = 4;
	ev.values[0] = exe_id;
	ev.values[1] = interp_ref;
	ev.values[2] = (uint64_t)pid;
	ev.values[3] = vdso_ref;
	/* the signal state the program starts with (replay starts the first
	 * one alike: its own may differ, as a shell's `trap '' HUP` or nohup) */
	if (tracee_get_sigmask(pid, &ev.values[4]) == 0 &&
	    tracee_ignored_signals(pid, &ev.values[5]) == 0)
		ev.nvalues = 6;
	if (rec->syscallbuf && ev.nvalues == 6 && !(rec->program_filters && rec_syscallbuf_own_filters(pid)) &&
	    !rec_ptrace_find(&rec->ptrace, pid) && !rec_ptrace_find(&rec->ptrace, former)) {
		/* the syscall buffer (format 8): values[6] = file id + 1 of the
		 * preload image, values[7] = the control page's flags */
		uint32_t flags = rec_syscallbuf_machine_flags() | (rec->sb.no_writes ? UPRR_CTL_NO_WRITES : 0) |
				 (rec->ep ? UPRR_CTL_EP : 0) | (rec->tp ? UPRR_CTL_ORDER_READS : 0) |
				 (rec->ep || rec->tp ? UPRR_CTL_SCRUB : 0);
		uint64_t ref;

		r = rec_syscallbuf_keep(rec, &ref);
		if (r < 0)
			return r;
		r = rec_syscallbuf_map(pid, t->space->mem.memfd, rec_preload_image, rec_preload_image_len,
				       rec->ep != NULL, flags);
		if (r > 0 && rec->ep)
			r = rec_ep_sb_mapped(rec, pid) < 0 ? -EIO : r;
		if (r < 0)
			return r;
		if (r > 0) {
			/* its execve returned 0 meanwhile (rec_syscallbuf_map) */
			regs.rax = 0;
			rec_event_set_regs(&ev, &regs);
			t->space->mem.syscallbuf = true;
			t->space->need_remap = true;
			/* new buffers: what was written in the old ones is gone */
			t->sb_wakes_on = t->sb_wakes_off = 0;
			t->ep_sb_n = 0; /* an EP run's records are not in the new ones */
			t->ep_sb_addr = 0;
			t->sb_maps_on = t->sb_maps_off = 0;
			ev.values[6] = ref;
			ev.values[7] = flags;
			ev.nvalues = 8;
		}
	}
	t->regs = regs;
	blobs[0] = (struct trace_blob){ regs.rsp, (uint32_t)(stack_end - regs.rsp), stack };
	blobs[1] = (struct trace_blob){ 0, (uint32_t)strlen(maps), maps };
	ev.nblobs = 2;
	ev.blobs = blobs;
	if (rec->ep)
		rec_ep_name_threads(rec, &ev);
	r = trace_writer_add_event(rec->w, &ev);
	if (r < 0)
		return r;
	/* frame the program's first exec on its own so even a recorder killed
	 * at once leaves it; a later exec waits for its frame as any event
	 * (a frame each cost fork_execs a zstd frame and a write per exec) */
	if (pid != rec->root || former != pid)
		return 0;
	return trace_writer_flush(rec->w);
}

/* Find @name in $PATH like execvp(3); stores the path in @buf. */
static int
find_program(const char *name, char *buf, size_t len)
{
	const char *path = getenv("PATH");

	if (strchr(name, '/')) {
		snprintf(buf, len, "%s", name);
		return access(buf, F_OK) == 0 ? 0 : -errno;
	}
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		const char *end = strchrnul(path, ':');

		snprintf(buf, len, "%.*s/%s", (int)(end - path), path, name);
		if (access(buf, X_OK) == 0)
			return 0;
		path = *end ? end + 1 : end;
	}
	return -ENOENT;
}

/*
 * The tick source asked for (NULL: auto, which is pmu where the counter works
 * and soft elsewhere); pmu where it does not work is refused with the reason.
 */
static int
choose_ticks(const char *name, enum ticks_source *ret)
{
	enum ticks_source s;
	bool is_auto = true;
	char why[256];

	if (name && ticks_source_parse(name, &s, &is_auto) < 0) {
		log_error("unknown tick source '%s': use auto, soft or pmu", name);
		return -EINVAL;
	}
	if (is_auto) {
		*ret = ticks_source_auto();
		return 0;
	}
	if (s != TICKS_SOURCE_PMU) {
		*ret = s;
		return 0;
	}
	if (ticks_pmu_probe(why, sizeof(why)) < 0) {
		log_error("--ticks=pmu: hardware performance counters are not available here (%s); "
			  "use --ticks=soft", why);
		return -ENOTSUP;
	}
	*ret = s;
	return 0;
}

/*
 * The trace's last event: the recording ended, or stopped and why, for
 * `uprr info` and replay. A trace that lacks it was cut short. Its failure
 * is for the final flush to report.
 */
static void
record_end(struct recorder *rec)
{
	struct trace_blob why = { 0, (uint32_t)strlen(rec->error), rec->error };
	struct trace_event ev;

	rec_event_init(&ev, TRACE_EV_END, rec->root);
	ev.nvalues = 1;
	ev.values[0] = rec->error[0] ? TRACE_END_STOPPED : TRACE_END_COMPLETE;
	ev.nblobs = rec->error[0] ? 1 : 0;
	ev.blobs = &why;
	if (trace_writer_add_event(rec->w, &ev) < 0)
		log_debug("cannot add the trace's end event");
}

int
rec_record(const struct rec_options *opts, int *ret_status, char *dir_buf, size_t dir_len)
{
	struct recorder rec = { 0 };
	struct rec_start start;
	struct trace_header hdr;
	struct tracee_spawn_options sp = { 0 };
	char exe[PATH_MAX], run[PATH_MAX];
	const char *base;
	enum ticks_source ticks;
	bool trace_failed;
	pid_t pid;
	int r, r_start, cpu, exec_errno = 0;

	r = choose_ticks(opts->ticks, &ticks);
	if (r < 0)
		return r;
	if (opts->tp_log)
		ticks = TICKS_SOURCE_NONE; /* nothing is preempted: no ticks */
	r = find_program(opts->argv[0], exe, sizeof(exe));
	if (r < 0) {
		*ret_status = -r;
		return -ENOEXEC;
	}
	/* an EP run: its log first, before any trace is made */
	if (opts->syscalls_from) {
		r = rec_ep_open(&rec, opts->syscalls_from, exe, opts->ep_sync_log, opts->ep_follow);
		if (r < 0) {
			rec_ep_free(&rec);
			return r;
		}
		rec_ep_checks(&rec, opts->ep_checkpoints, opts->ep_verdicts);
		rec.ep->output = opts->ep_output;
		rec.ep->live = opts->ep_live;
		rec.ep->order = opts->ep_order;
	}
	if (opts->trace_dir) {
		snprintf(dir_buf, dir_len, "%s", opts->trace_dir);
	} else {
		base = strrchr(opts->argv[0], '/');
		r = trace_dir_new(base ? base + 1 : opts->argv[0], dir_buf, dir_len);
		if (r < 0) {
			rec_ep_free(&rec);
			return log_error_errno(r, "cannot create a trace directory");
		}
	}
	fill_header(&hdr, opts->argv, ticks,
		    opts->trace_mode ?: opts->tp_log ? TRACE_MODE_TP_LOG : TRACE_MODE_UP);
	/* the trace is created on another CPU while the program starts here
	 * (record-start.c) */
	start = (struct rec_start){ .dir = dir_buf, .hdr = &hdr, .latest = !opts->trace_dir,
				    .syscallbuf = opts->syscalls_from ? rec_ep_sb_wanted(&rec) : opts->syscallbuf };
	/* supervisor and tracees share one CPU: ptrace round trips stay cheap */
	if (opts->native_cpus) {
		rec.affinity = *opts->native_cpus;
		rec.have_affinity = true;
	} else {
		rec.have_affinity = sched_getaffinity(0, sizeof(rec.affinity), &rec.affinity) == 0;
	}
	/* a TP run's threads run on the CPUs they have natively */
	cpu = opts->tp_log ? -1 : tracee_pick_cpu();
	rec_start_begin(&start, cpu);
	if (cpu >= 0 && tracee_pin_self(cpu) < 0)
		cpu = -1;
	rec.tp = opts->tp_log;
	rec.rerun = opts->rerun;
	rec_epoch_init(&rec, opts);
	rec_hold_init(&rec, opts);
	rec.sched = sched_new(0);
	rec.pmu = ticks == TICKS_SOURCE_PMU;
	rec.soft = ticks == TICKS_SOURCE_SOFT;
	rec_respawn_init(&rec);
	if (!rec.sched) {
		r = -ENOMEM;
		goto out;
	}
	/* an EP run maps the buffer if its log's run did, whose library
	 * answers calls from the log's records (record-ep-sb.c) */
	rec.syscallbuf = opts->syscalls_from ? rec_ep_sb_wanted(&rec) : opts->syscallbuf;
	if (opts->chaos) {
		sched_set_chaos(rec.sched, opts->chaos_seed);
		log_info("chaos mode, seed %" PRIu64, opts->chaos_seed);
	}
	sp.path = exe;
	sp.argv = opts->argv;
	sp.envp = hdr.envp;
	sp.cwd = NULL;
	sp.cpu = cpu;
	sp.trap_tsc = true;
	sp.filter = rec_seccomp_filter();
	sp.set_signals = opts->set_signals;
	sp.sigmask = opts->sigmask;
	sp.sigign = opts->sigign;
	/* a re-run from checkpoint k: the log's ids (record-ep-live.c) */
	sp.pid = opts->syscalls_from && opts->ep_live ? opts->ep_live->root_pid : 0;
	r = tracee_spawn(&sp, TRACEE_PTRACE_OPTIONS, &pid, &exec_errno);
	r_start = rec_start_end(&start, &rec);
	if (r_start < 0) {
		if (r >= 0)
			tracee_kill_all(pid); /* stopped at its exec: it ran nothing */
		r = log_error_errno(r_start, "cannot create trace '%s'", dir_buf);
		goto out;
	}
	if (r == -ENOEXEC) {
		*ret_status = exec_errno;
		goto out;
	}
	if (r < 0) {
		log_error_errno(r, "cannot start %s", opts->argv[0]);
		goto out;
	}
	rec.root = pid;
	rec.nprocs = 1;
	if (rec.ep) {
		r = rec_ep_start(&rec, pid);
		if (r < 0) {
			kill(pid, SIGKILL);
			goto out;
		}
	}
	{
		struct rspace *space = rec_space_new(&rec, pid, NULL);
		struct rthread *t;

		r = !space ? -ENOMEM : rec_add_thread(&rec, pid, pid, space, &t);
		if (r >= 0) {
			t->persona_norandom = rec_sandbox_initial_norandom();
			space->at_exec = true;
			/* a script's is its interpreter's, as at a later exec */
			if (exec_path(pid, run, sizeof(run)) < 0)
				snprintf(run, sizeof(run), "%s", exe);
			r = record_exec(&rec, t, pid, run);
		}
	}
	/* lock-step: signals for the program go to the TP run's */
	if (!opts->ep_follow)
		rec_forward_start(pid, !opts->syscalls_from || opts->ep_live);
	if (r < 0 && trace_writer_flush(rec.w) < 0) {
		/* the trace failed before the program ran: it runs unrecorded */
		snprintf(rec.error, sizeof(rec.error), "cannot record the start of %.300s: %s", exe,
			 strerror(-r));
	} else if (r < 0) {
		log_error_errno(r, "cannot record the start of %s", opts->argv[0]);
		kill(pid, SIGKILL);
		goto out;
	} else {
		if (rec_serial(&rec))
			sched_pick(rec.sched);
		record_loop(&rec);
		record_end(&rec);
		if (opts->tp_figures)
			*opts->tp_figures = (struct rec_tp_figures){
				.checkpoints = rec.epochs.k,
				.put_off = rec.epochs.put_off,
				.given_up = rec.epochs.given_up,
				.pause_ns = rec.epochs.pause_ns,
				.pause_max_ns = rec.epochs.pause_max_ns,
				.buffer = opts->syscallbuf,
				.buffered = rec.sb.records,
				.patched = rec.sb.patched,
			};
		if (rec.error[0])
			rec_epoch_drop_all(&rec);
	}
	rec_ep_check_used(&rec);
	if (rec.ep_diverged && rec.ep && opts->rerun)
		rec_rerun_judge(&rec, opts->rerun);
	/* the trace failed: the program goes on unrecorded, or dies with it */
	trace_failed = rec.error[0] && trace_writer_flush(rec.w) < 0;
	if (rec.error[0] && (!trace_failed || opts->kill_on_trace_error)) {
		if (!opts->ep_follow)
			rec_forward_stop();
		if (rec.ep_diverged && opts->divergence)
			snprintf(opts->divergence, opts->divergence_len, "%s", rec.error);
		else
			log_error("%s", rec.error);
		/* a TP run stopped for a re-run: the signals it has not taken
		 * yet go to the re-run, read just before it dies */
		if (rec.ep_diverged && !rec.ep)
			rec_rerun_take_pending(&rec);
		rec_kill_tracees(&rec);
		r = rec.ep_diverged ? -EDOM : -ECANCELED;
		goto out;
	}
	if (trace_failed) {
		log_error("%s; the program goes on unrecorded (the trace keeps its first %" PRIu64
			  " events)", rec.error, rec_events_written(rec.w));
		rec_go_on_unrecorded(&rec);
	}
	if (!opts->ep_follow)
		rec_forward_stop();
	*ret_status = rec.status;
	log_info("%" PRIu64 " preemptions, %" PRIu64 " signals at execution points, %" PRIu64
		 " rollbacks, %" PRIu64 " code patches (%zu counted branches), %" PRIu64
		 " runs left uncounted, %" PRIu64 " ticks at trap sites",
		 rec.stats.preemptions, rec.stats.signals_at_ticks, rec.stats.rollbacks,
		 rec.stats.patches, rec.nsites, rec.stats.gave_up, rec.stats.trap_ticks);
	rec_syscallbuf_log_sites(&rec.sb);
	if (rec.tp) {
		rec_tp_log_stats(&rec);
		rec_order_log_stats(&rec);
		rec_epoch_log_stats(&rec);
	}
	if (rec.ep)
		rec_order_log_stats(&rec);
	if (rec.sb.reruns)
		log_info("%" PRIu64 " rollbacks kept their buffered syscalls", rec.sb.reruns);
	if (rec.ep_sb.filled)
		log_info("EP run: %" PRIu64 " of the log's buffered syscalls answered in the buffer "
			 "(%" PRIu64 " records written into buffers)", rec.ep_sb.consumed, rec.ep_sb.filled);
	if (rec.stats.exits_at_signal || rec.stats.unstepped)
		log_info("signals a thread sent itself: %" PRIu64 " syscall exits taken at their "
			 "delivery; %" PRIu64 " caught signals delivered without a single step",
			 rec.stats.exits_at_signal, rec.stats.unstepped);
	if (rec.stats.signals_raised)
		log_info("%" PRIu64 " signals at execution points where an interrupt stopped their "
			 "thread, raised again for their delivery", rec.stats.signals_raised);
	if (rec.stats.signals_at_unblock)
		log_info("%" PRIu64 " signals sent while blocked delivered where rt_sigreturn unblocked them",
			 rec.stats.signals_at_unblock);
	if (rec.stats.probes)
		log_info("%" PRIu64 " looks at spinning threads, %" PRIu64 " found spinning; %" PRIu64
			 " picks passed over a thread whose loop would read what it read",
			 rec.stats.probes, rec.stats.spins, rec.stats.passed_over);
	if (rec.stats.runs)
		log_info("%" PRIu64 " runs of user code: %" PRIu64 " took a restore point, %" PRIu64
			 " none as no other thread could want the CPU",
			 rec.stats.runs, rec.stats.points, rec.stats.points_alone);
	if (rec.ckpt_stats.syncs)
		log_info("checkpoint: %" PRIu64 " syncs (%" PRIu64 " pages, %.3f s; walks over %" PRIu64
			 " pages, %.3f s), %" PRIu64
			 " mirror forks (%.3f s), %" PRIu64 " rollbacks (%" PRIu64 " pages, %.3f s)",
			 rec.ckpt_stats.syncs, rec.ckpt_stats.pages_synced, rec.ckpt_stats.sync_ns / 1e9,
			 rec.ckpt_stats.pages_walked, rec.ckpt_stats.scan_ns / 1e9,
			 rec.ckpt_stats.forks, rec.ckpt_stats.remap_ns / 1e9, rec.ckpt_stats.rollbacks,
			 rec.ckpt_stats.pages_restored, rec.ckpt_stats.rollback_ns / 1e9);
	/* the last frame fails only now: the program ended as it would have */
	r = trace_writer_flush(rec.w);
	if (r < 0 && !trace_failed)
		log_error("cannot write the trace: %s (the trace keeps its first %" PRIu64 " events)",
			  strerror(-r), rec_events_written(rec.w));
	/* said once in --mode=tp, for the trace's end: by the EP run, naming
	 * the thread as the trace does (the log's id, the TP run's); the TP
	 * run's own end is not the trace's (tp/ says it beside a divergence).
	 * The TP run of --mode=tp is the one with tp_figures (--mode=tp-log's
	 * recording is its own trace's end) */
	if (WIFSIGNALED(rec.status) && opts->tp_log && opts->tp_figures)
		log_info("the TP run's process was killed by %s at %#" PRIx64 " (thread %d)",
			 tracee_signal_name(WTERMSIG(rec.status)), rec.last_sig_rip, rec.last_sig_tid);
	else if (WIFSIGNALED(rec.status))
		tracee_report_killed(WTERMSIG(rec.status), rec.last_sig_rip,
				     rec.ep && ep_log_tid(rec.ep->log, rec.last_sig_tid)
					     ? ep_log_tid(rec.ep->log, rec.last_sig_tid)
					     : rec.last_sig_tid);
	trace_writer_close(rec.w);
	rec.w = NULL;
	r = 0;
out:
	/* a failure before the program started: the trace as it was made */
	if (start.running && rec_start_end(&start, &rec) < 0)
		log_debug("the trace could not be created either");
	/* NULL when closed already; after uprr's own failure its error is told */
	trace_writer_close(rec.w);
	while (rec.nthreads)
		rec_remove_thread(&rec, rec.threads[0].tid);
	sched_free(rec.sched);
	free(rec.threads);
	sc_ranges_free(&rec.ranges);
	free(rec.buf);
	free(rec.blobs);
	free(rec.shared_files);
	rec_vdso_free(&rec.vdso);
	rec_syscallbuf_free(&rec);
	rec_ptrace_free(&rec.ptrace);
	rec_ipc_free(&rec.ipc);
	free(rec.live_sigs);
	if (rec.ep_gone) /* gone live: the log's to free all the same */
		rec.ep = rec.ep_gone;
	rec_ep_free(&rec);
	rec_hold_free(&rec);
	return r;
}
