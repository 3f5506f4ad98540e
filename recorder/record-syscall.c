/* SPDX-License-Identifier: MIT */
/*
 * The recorder's syscalls: a syscall entry and exit recorded (the model's
 * inputs and outputs, kept files, where output goes), a syscall that may
 * block run in the kernel while other threads run, clone events, and the
 * calls uprr carries out itself (emulated ptrace).
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
#include "preload/uprr-preload.h"
#include "recorder/record-private.h"
#include "recorder/recorder.h"
#include "sched/sched.h"
#include "sched/ticks-soft.h"
#include "sched/ticks.h"
#include "trace/trace.h"
#include "tracee/tracee.h"
#include "x86_64/arch.h"

/* The clone flags of the syscall @t is in: clone's own, or fork's and vfork's. */
static uint64_t
clone_flags(const struct rthread *t)
{
	return sc_clone_flags((long)t->model_nr, t->model_args);
}

/*
 * @parent's clone, fork or vfork created a thread or a process: wait for its
 * first stop and announce it in the trace now, before the exit of the syscall
 * that created it (a vfork child runs first): replay creates it here too.
 * A new process gets an address space of its own, a copy of its parent's,
 * unless it shares it (CLONE_VM: vfork).
 */
bool
rec_on_clone_event(struct recorder *rec, struct rthread *parent)
{
	unsigned long msg = 0;
	uint64_t flags = clone_flags(parent);
	struct rspace *sp = parent->space;
	struct trace_event ev;
	struct rthread *child;
	pid_t ptid = parent->tid, tgid = parent->tgid, tid;
	int status, sig;

	if (ptrace(PTRACE_GETEVENTMSG, parent->tid, 0, &msg) < 0)
		return false;
	tid = (pid_t)msg;
	if (!(flags & CLONE_THREAD)) {
		tgid = tid;
		rec->nprocs++;
		if (flags & CLONE_VM)
			sp->mem.users++;
		else if (!(sp = rec_space_new(rec, tid, parent->space))) {
			rec_stop_recording(rec, "cannot follow the new process %d", tid);
			return false;
		}
		rec_epoch_space_new(rec, sp);
	}
	if (rec_add_thread(rec, tid, tgid, sp, &child) < 0) {
		rec_stop_recording(rec, "%s", "out of memory");
		return false;
	}
	parent = rec_find_thread(rec, ptid); /* add_thread may have moved it */
	if (rec->ep && rec_ep_clone(rec, parent, child) < 0)
		return false;
	child->own_affinity = parent->own_affinity;
	child->parent_tgid = (flags & (CLONE_THREAD | CLONE_PARENT)) ? parent->parent_tgid : parent->tgid;
	child->persona_norandom = parent->persona_norandom; /* inherited (personality(2)) */
	child->stop_filter = parent->stop_filter; /* copied by fork and clone (seccomp(2)) */
	/* the seized child reports PTRACE_EVENT_STOP before running any code */
	if (tracee_wait(child->tid, &status) < 0 || tracee_classify(status, &sig) != TRACEE_STOP_GROUP) {
		rec_stop_recording(rec, "%s", "a new thread did not stop as expected");
		return false;
	}
	if (rec->ep && !(flags & CLONE_VM))
		rec_ep_sb_forked(rec, child); /* its buffers are its own (record-ep-sb.c) */
	/* a vfork child's buffer is its parent's, which holds the parent's
	 * next records (record-ep-sb.c) */
	if (rec->ep && (flags & CLONE_VFORK) && (flags & CLONE_VM) && !(flags & CLONE_THREAD) &&
	    sp->mem.syscallbuf && rec_ep_sb_vforked(rec, parent) < 0) {
		rec_stop_recording(rec, "cannot mark the syscall buffer of thread %d", ptid);
		return false;
	}
	/* where its first run starts */
	if (tracee_get_regs(child->tid, &child->regs) < 0) {
		rec_stop_recording(rec, "%s", "a new thread vanished");
		return false;
	}
	parent = rec_find_thread(rec, ptid);
	if (parent && parent->live_clone)
		rec_ep_live_clone_child(rec, parent, child);
	rec_event_init(&ev, TRACE_EV_THREAD_START, tid);
	ev.nvalues = 2;
	ev.values[0] = (uint64_t)ptid;
	ev.values[1] = flags;
	/* in a PID namespace of its own, the ids it and its creator see */
	if (rec_sandbox_ns_tids(ptid, tid, &ev.values[2], &ev.values[3]) > 0)
		ev.nvalues = 4;
	rec_write_event(rec, &ev);
	/* the emulated tracer of the creator may follow it (replay does the
	 * same at this event): both wait for it in their stops */
	if (!rec_ptrace_on_clone(&rec->ptrace, ptid, tid, flags))
		return false;
	rec_syscallbuf_untraced(rec);
	rec_ptrace_hold(rec, child, RT_HELD, false);
	rec_ptrace_hold(rec, rec_find_thread(rec, ptid), RT_AT_CLONE, false);
	return true;
}

/* After a clone event: @t continues its syscall, which for a vfork returns
 * only once the child execs or exits; the child runs meanwhile. */
void
rec_continue_clone(struct recorder *rec, struct rthread *t)
{
	if (clone_flags(t) & CLONE_VFORK) {
		t->state = RT_IN_SYSCALL;
		sched_set_state(rec->sched, t->tid, SCHED_BLOCKED);
	}
	rec_resume(t, PTRACE_SYSCALL, 0);
}

void
rec_finish_clone(struct recorder *rec, struct rthread *t)
{
	if (clone_flags(t) & CLONE_VFORK)
		rec_continue_clone(rec, t);
	else
		rec_run_syscall(rec, t); /* from its clone event to its exit */
}

/* Execute the syscall @t is stopped at and wait for its exit, synchronously. */

/*
 * Wait for the next stop of @t, which runs a syscall that does not block,
 * or user code it was told to stop (PTRACE_INTERRUPT). A leader killed meanwhile in a group exit turns zombie, and the kernel
 * reports it only after its other threads, which the main loop lets go
 * (ptrace(2)): so a leader with other threads is waited for with the loop's
 * timer, and false returned once it is a zombie (its end then comes through
 * the main loop). Waiting for it without end hung a Go program's recording
 * 1 time in 10.
 */
bool
rec_wait_thread_stop(struct recorder *rec, struct rthread *t, int *ret_status)
{
	bool guard = t->tid == t->tgid && rec_has_other_threads(rec, t->tgid, t->tid);
	pid_t r;

	if (!guard)
		return tracee_wait(t->tid, ret_status) == 0;
	rec_set_timer(10000000); /* 10 ms, repeating: waitpid returns EINTR */
	for (;;) {
		r = waitpid(t->tid, ret_status, __WALL);
		if (r == t->tid)
			break;
		if (r < 0 && errno != EINTR)
			break;
		if (r < 0) {
			char state = tracee_thread_state(t->tid);

			if (state == 'Z' || state == 0)
				break; /* a zombie, or gone */
		}
	}
	rec_set_timer(0);
	return r == t->tid;
}

void
rec_run_syscall(struct recorder *rec, struct rthread *t)
{
	bool at_signal = rec_exit_at_signal(rec, t);
	int status, sig;

	rec_resume(t, at_signal ? PTRACE_CONT : PTRACE_SYSCALL, 0);
	for (;;) {
		if (!rec_wait_thread_stop(rec, t, &status)) {
			t->state = RT_RUNNING; /* see rec_wait_thread_stop() */
			return;
		}
		switch (tracee_classify(status, &sig)) {
		case TRACEE_STOP_SYSCALL_EXIT:
			rec_on_syscall_exit(rec, t);
			return;
		case TRACEE_STOP_SIGNAL:
			if (!at_signal) {
				rec_resume(t, PTRACE_SYSCALL, 0);
				break;
			}
			/* it returned from the syscall (rax holds the result)
			 * and stopped to take a signal, this one or another
			 * it does not block: its exit, then the signal, as
			 * pending at that event (rec_resume_user()) */
			t->exit_sig = sig;
			rec->stats.exits_at_signal++;
			rec_on_syscall_exit(rec, t);
			return;
		case TRACEE_STOP_CLONE:
			/* on_clone_event may move rec->threads: refind t */
			{
				pid_t tid = t->tid;

				if (rec_on_clone_event(rec, t))
					return; /* held for its tracer */
				t = rec_find_thread(rec, tid);
			}
			rec_continue_clone(rec, t);
			if (t->state == RT_IN_SYSCALL)
				return;
			break;
		case TRACEE_GONE:
			rec_on_thread_gone(rec, t->tid, status);
			return;
		case TRACEE_STOP_EXIT:
			/* Killed in the syscall (SIGKILL, from outside or from the
			 * program itself): no exit stop follows. A leader is reported
			 * gone only after its other threads, which the main loop
			 * lets go through their own exit stops: waiting for it here
			 * would wait for ever. */
			t->state = RT_RUNNING;
			rec_on_exit_event(rec, t);
			return;
		default:
			/* group stops and the like: keep going to the exit stop */
			rec_resume(t, PTRACE_SYSCALL, 0);
			break;
		}
	}
}

/* Keep the file that @t has open as fd @l (TRACE_KEEP_* @flags); its id + 1
 * goes to *ret_ref, 0 if recording had to stop. */
static void
keep_fd_file(struct recorder *rec, struct rec_fd_look *l, unsigned flags, uint64_t *ret_ref)
{
	const char *target = rec_fd_look_target(l) ?: "";
	_cleanup_close_ int file = -1;
	uint32_t id;
	int r;

	*ret_ref = 0;
	file = open(l->path, O_RDONLY | O_CLOEXEC);
	if (file < 0) {
		rec_stop_recording(rec, "cannot open a file the program mapped: %.300s", target);
		return;
	}
	r = trace_writer_keep_file(rec->w, file, target, flags, &id);
	if (r < 0) {
		rec_stop_recording(rec, "cannot keep %.300s in the trace: %s", target, strerror(-r));
		return;
	}
	*ret_ref = (uint64_t)id + 1;
}

/* Whether fd @l is a file some process mapped MAP_SHARED; with @add, make it
 * one. */
static bool
shared_file(struct recorder *rec, const struct rec_fd_look *l, bool add)
{
	if (!l->st_ok || !S_ISREG(l->st.st_mode))
		return false;
	for (size_t i = 0; i < rec->nshared; i++)
		if (rec->shared_files[i].dev == l->st.st_dev && rec->shared_files[i].ino == l->st.st_ino)
			return true;
	if (!add || UTIL_GROW(rec->shared_files, rec->shared_cap, rec->nshared + 1) < 0)
		return false;
	rec->shared_files[rec->nshared++] = (struct file_key){ l->st.st_dev, l->st.st_ino };
	return true;
}

/*
 * The file of @t's mmap, or of its syscall that wrote a file some process
 * maps MAP_SHARED (replay keeps one copy of such a file for all processes
 * and must see what the syscall changed), kept in the trace: its id + 1 goes
 * to *ret_ref, else 0. A MAP_PRIVATE mmap of a file that may change while
 * mapped (rec_mmap_may_change()) makes it such a file too: *ret_follows
 * says replay maps that one copy.
 */
static void
keep_syscall_file(struct recorder *rec, struct rthread *t, int64_t result, uint64_t *ret_ref,
		  bool *ret_follows, struct rec_fd_look *l)
{
	int fd;

	*ret_ref = 0;
	if (result < 0)
		return;
	if (t->nr == __NR_mmap) {
		uint64_t args[6];

		/* an EP run maps the log's copy of the file (record-ep.c) */
		memcpy(args, t->args, sizeof(args));
		if (t->ep_map_fd)
			args[4] = (uint64_t)(t->ep_map_fd - 1);
		if ((args[3] & MAP_ANONYMOUS) || (int)args[4] < 0)
			return;
		rec_fd_look(t->tid, (int)args[4], l);
		/* a mapping of /dev/zero is anonymous memory (shared: shmem,
		 * as MAP_SHARED|MAP_ANONYMOUS; mem(4)): replay maps it so */
		if (rec_is_dev_zero(l))
			return;
		if ((args[3] & MAP_TYPE) != MAP_PRIVATE)
			(void)shared_file(rec, l, true);
		else
			/* a private mapping's pages not yet written show the
			 * file's changes: replay maps its changing copy */
			*ret_follows = shared_file(rec, l, false) ||
				       (rec_mmap_may_change(l, args) && shared_file(rec, l, true));
		keep_fd_file(rec, l, 0, ret_ref);
		return;
	}
	fd = sc_written_fd((long)t->nr, t->args);
	if (fd < 0 || rec->nshared == 0)
		return;
	rec_fd_look(t->tid, fd, l);
	if (shared_file(rec, l, false))
		keep_fd_file(rec, l, TRACE_KEEP_CHANGED, ret_ref);
}

/*
 * @t's futex syscall woke @result waiters: wait a little for one of them to
 * come out of its wait (their syscalls run in the kernel: RT_IN_SYSCALL) and
 * return its id, or 0. A waker that kept the CPU would take the lock again
 * before any waiter ran (a convoy: CPython's GIL, whose waiters then never
 * get it); with the waiter next, the serialized run behaves as on Linux.
 */
static pid_t
woken_waiter(struct recorder *rec, const struct rthread *t, int64_t result)
{
	pid_t cand[8];
	size_t n = 0;

	if (result <= 0 || !sc_futex_wakes((long)t->model_nr, t->model_args))
		return 0;
	for (size_t i = 0; i < rec->nthreads && n < ARRAY_SIZE(cand); i++) {
		const struct rthread *w = &rec->threads[i];

		if (w->state == RT_IN_SYSCALL && w->model_nr == __NR_futex &&
		    w->model_args[0] == t->model_args[0])
			cand[n++] = w->tid;
	}
	/* the supervisor shares the tracees' CPU: yielding it lets them run */
	for (int round = 0; round < 3 && n > 0; round++) {
		sched_yield();
		for (size_t i = 0; i < n; i++) {
			int status;

			if (waitpid(cand[i], &status, __WALL | WNOHANG) != cand[i])
				continue;
			rec_dispatch(rec, cand[i], status);
			if (sched_state_of(rec->sched, cand[i]) == SCHED_RUNNABLE)
				return cand[i];
		}
	}
	return 0;
}

/*
 * Whether @t's syscall, one the model does not know, succeeded with @result:
 * then the recording stops, naming it, before the program sees the result
 * (the kernel may have written memory the trace does not have). A failure,
 * -ENOSYS for a number the kernel does not implement, -EINVAL or -ENOTTY for
 * a request it does not know, or a restart the kernel makes after a signal
 * (the call had no effect: it runs again, or fails with EINTR), is recorded
 * as that result with no outputs, and replay returns it.
 */
static bool
unknown_succeeded(struct recorder *rec, struct rthread *t, int64_t result)
{
	char why[160];

	if (!t->unknown || result < 0)
		return false;
	if (sc_check((long)t->model_nr, t->model_args, why, sizeof(why)) == 0)
		return false; /* cannot happen: the model did not change */
	rec_stop_recording(rec, "the program used an unsupported %s, and it succeeded; recording "
		       "stopped", why);
	return true;
}

/*
 * uprr pins the program to its own CPU (ptrace round trips stay cheap), but
 * the program must see the CPUs it would have had natively: nproc, sort
 * --parallel and thread pools size themselves by sched_getaffinity(2). Its
 * result, the size of the kernel's mask in bytes, stays; the mask becomes
 * uprr's own affinity from before it pinned itself, unless the program set
 * the thread's affinity itself.
 */
static void
show_native_affinity(struct recorder *rec, struct rthread *t, int64_t result)
{
	struct rthread *target;

	if (t->model_nr == __NR_sched_setaffinity && result == 0) {
		target = t->model_args[0] ? rec_find_thread(rec, (pid_t)t->model_args[0]) : t;
		if (target)
			target->own_affinity = true;
		return;
	}
	if (t->model_nr != __NR_sched_getaffinity || result <= 0 || !rec->have_affinity)
		return;
	target = t->model_args[0] ? rec_find_thread(rec, (pid_t)t->model_args[0]) : t;
	if (!target || target->own_affinity)
		return;
	if (tracee_write(t->space->mem.memfd, t->model_args[2], &rec->affinity,
			 MIN((size_t)result, sizeof(rec->affinity))) < 0)
		log_debug("thread %d: cannot show its native CPU affinity", t->tid);
}

/* Every recorded process's writes go the traced way from now on: the
 * recorder keeps the version of a MAP_SHARED file each write leaves. */
static void
no_buffered_writes(struct recorder *rec)
{
	for (size_t i = 0; i < rec->nthreads; i++) {
		struct rspace *sp = rec->threads[i].space;

		if (sp->mem.syscallbuf && rec_syscallbuf_set_flags(sp->mem.memfd, UPRR_CTL_NO_WRITES, true) < 0)
			log_debug("thread %d: cannot take writes out of its syscall buffer",
				  rec->threads[i].tid);
	}
}

void
rec_on_syscall_exit(struct recorder *rec, struct rthread *t)
{
	struct trace_event ev;
	int64_t result;
	uint32_t flags, nblobs = 0;
	uint64_t value;

	if (tracee_get_regs(t->tid, &t->regs) < 0 ||
	    rec_sandbox_exit(t->tid, (long)t->model_nr, t->model_args, &t->regs, 1 + t->stop_filter,
			     &t->persona_norandom) < 0)
		return; /* vanished: its exit comes through waitpid */
	if (rec->ep && rec_ep_exit(rec, t) < 0)
		return;
	/* its child execed or ended: its own records back in its buffer */
	if (rec->ep && (clone_flags(t) & CLONE_VFORK) && t->space->mem.syscallbuf &&
	    rec_ep_sb_vfork_done(rec, t) < 0) {
		rec_stop_recording(rec, "cannot fill the syscall buffer of thread %d", t->tid);
		return;
	}
	rec_emulated_wait_exit(rec, t);
	result = (int64_t)t->regs.rax;
	if (unknown_succeeded(rec, t, result))
		return;
	rec->ranges.n = 0;
	/* the kernel will continue this syscall through restart_syscall(2) */
	if (result == -SC_ERESTART_RESTARTBLOCK) {
		t->restart_nr = t->model_nr;
		memcpy(t->restart_args, t->model_args, sizeof(t->args));
	}
	show_native_affinity(rec, t, result);
	rec_hold_exit(rec, t, result);
	if (sc_outputs((long)t->model_nr, t->model_args, result, &t->entry, rec_tracee_mem_read,
		       &t->tid, &rec->ranges) < 0 ||
	    rec_collect_blobs(rec, t->tid, &nblobs) < 0) {
		rec_stop_recording(rec, "%s", "out of memory");
		return;
	}
	rec_event_init(&ev, TRACE_EV_SYSCALL_EXIT, t->tid);
	ev.nvalues = 2;
	ev.values[0] = t->nr;
	ev.values[1] = (uint64_t)result;
	if (t->nr == __NR_mmap) {
		struct rec_fd_look look;
		bool follows = false;

		keep_syscall_file(rec, t, result, &ev.values[2], &follows, &look);
		ev.values[3] = t->args[5];
		ev.nvalues = 4;
		if (follows && ev.values[2]) {
			ev.values[4] = 1; /* format 5 */
			ev.nvalues = 5;
		}
		if (rec->syscallbuf && !rec->ep && !rec->sb.no_writes && ev.values[2] &&
		    rec_syscallbuf_mapping_follows_writes(&look, t->args, follows)) {
			/* the first file whose writes the trace must follow:
			 * writes leave the syscall buffer (format 8), in every
			 * process. Not in an EP run: its writes are answered
			 * from the log, no file changes (record-ep-sb.c) */
			rec->sb.no_writes = true;
			no_buffered_writes(rec);
			ev.values[5] = 1;
			ev.nvalues = 6;
		}
	} else if (rec->ep && rec_ep_exit_event(rec, t, &ev)) {
		/* answered from the log: the log's fds, not this process's */
	} else {
		struct rec_fd_look look;

		/* replay shows what reached uprr's own stdout and stderr (not
		 * what a pipeline's stage wrote to the next one) and collects
		 * what went to sockets; bytes not in memory come first */
		if (rec_output_exit(&t->out, rec->w, t->tid, t->tgid, (long)t->nr, t->args, result) < 0) {
			rec_stop_recording(rec, "%s", "cannot write the trace");
			return;
		}
		ev.values[2] = t->out.sinks;
		ev.nvalues = t->out.sinks ? 3 : 2;
		keep_syscall_file(rec, t, result, &ev.values[3], NULL, &look);
		if (ev.values[3])
			ev.nvalues = 4;
		/* code or data written through /proc/PID/mem of a recorded
		 * process: replay writes it there (trace format 5) */
		if (rec_mem_write_target(t->tid, (long)t->nr, t->args, result, &ev.values[4],
					 &ev.values[5]) &&
		    rec_find_thread(rec, (pid_t)ev.values[4]))
			ev.nvalues = 6;
		switch (rec_ipc_on_exit(&rec->ipc, (long)t->nr, t->args, result, &value)) {
		case 1:
			ev.values[2] = value; /* shmat: the segment's size */
			ev.nvalues = MAX(ev.nvalues, 3u);
			break;
		case -ENOMEM:
			rec_stop_recording(rec, "%s", "out of memory");
			return;
		}
	}
	rec_order_exit(rec, t, result, &ev);
	rec_rerun_tp_exit(rec, t, result, &ev);
	if (t->held_id) {
		/* output commit held it: which write (an EP run that writes
		 * other bytes there replaces them, rec_hold_replace()) */
		for (uint32_t i = ev.nvalues; i < REC_HELD_VALUE; i++)
			ev.values[i] = 0; /* 0 in every other value means none */
		ev.values[REC_HELD_VALUE] = t->held_id;
		ev.nvalues = REC_HELD_VALUE + 1;
		t->held_id = 0;
	}
	ev.nblobs = nblobs;
	ev.blobs = rec->blobs;
	rec_write_event(rec, &ev);
	rec_note_sent_blocked(rec, t, result);
	if (rec->ep)
		rec_ep_exit_signals(rec, t, false);
	/* A poll of the children's states that found no change (wait4(2),
	 * waitid(2) with WNOHANG: 0) gives the CPU up, as sched_yield does: a
	 * loop that waits for a child uprr holds would otherwise spin for its
	 * whole timeslice (Python's Pool handler between a worker's closed
	 * pipe and its exit: 2,400 rounds, 5,000 restore points, 1.5 s for a
	 * 0.07 s program). */
	if (result == 0 && (t->nr == __NR_wait4 || t->nr == __NR_waitid) &&
	    (t->args[t->nr == __NR_wait4 ? 2 : 3] & WNOHANG))
		sched_yield_current(rec->sched);
	if (t->nr == __NR_ptrace)
		rec_syscallbuf_untraced(rec); /* a tracee's calls stop at its tracer */
	if (sc_installs_filter(t->model_nr, t->model_args, result)) {
		rec->program_filters = true;
		/* its filter would judge the buffer's calls: no more of them
		 * (replay does the same at this exit) */
		if (t->space->mem.syscallbuf && rec_syscallbuf_disable(t->space->mem.memfd) < 0)
			log_debug("thread %d: cannot turn its syscall buffer off", t->tid);
		t->space->mem.syscallbuf_off = true; /* and no more sites patched */
	}
	if (sc_moves_children(t->model_nr, t->model_args, result)) {
		/* a mirror forked through it would take an id in the program's
		 * PID namespace, and keep that namespace from ending */
		rec_space_drop_checkpoint(rec, t->space);
		t->space->unrestorable = true;
	}
	flags = sc_flags((long)t->model_nr, t->model_args);
	if (flags & SC_MAPS)
		rec_restore_maps_changed(rec, t, result);
	if ((flags & SC_TIMER) || sched_nthreads(rec->sched) > 1)
		t->space->may_preempt = true;
	/* a timer's signals will come: runs need restore points to take them
	 * at execution points (redis disarms one it never armed) */
	if ((flags & SC_TIMER) && result >= 0 && rec_timer_armed(t))
		t->space->signals = true;
	if (rec_ptrace_after_syscall(&rec->ptrace, t->tid, (long)t->nr, t->args, result)) {
		rec_ptrace_stopped(rec, t);
		return;
	}
	/* an EP run's epoch end: it waits there for the others' */
	if (rec->ep && rec_ep_park(rec, t, false))
		return;
	/* not parked: the log's signals of this exit, if not read before */
	if (rec->ep)
		rec_ep_exit_signals(rec, t, true);
	if (rec_serial(rec) && sched_current(rec->sched) == t->tid) {
		pid_t tid = t->tid, woken = woken_waiter(rec, t, result);

		t = rec_find_thread(rec, tid); /* dispatch may have moved it */
		if (!t)
			return;
		if (woken) {
			t->state = RT_HELD;
			sched_hand_over(rec->sched, woken);
			return;
		}
		if (sched_wakeup_pending(rec->sched) || sched_chaos_event(rec->sched)) {
			/* a thread whose syscall completed meanwhile runs
			 * first, at this event rather than by preempting
			 * this one in user code; in chaos mode another
			 * thread may run before this one leaves the syscall */
			t->state = RT_HELD;
			sched_pick(rec->sched);
			return;
		}
	}
	if (t->epoch_exit_logged) {
		/* logged at an epoch's end (record-epoch.c): it stands
		 * there until the end is over, then the loop lets it go */
		t->state = RT_HELD;
		return;
	}
	rec_resume_user(rec, t, 0, NULL);
}

/*
 * Let @t's syscall run in the kernel while other threads run. Most calls
 * that may block do not: the supervisor shares the tracee's CPU, so yielding
 * it a few times lets such a call finish, and it is then handled like any
 * other, without a thread switch.
 */
static void
block_in_kernel(struct recorder *rec, struct rthread *t)
{
	int status;

	t->state = RT_IN_SYSCALL;
	rec_resume(t, PTRACE_SYSCALL, 0);
	/* (in a TP run it has CPUs of its own: it blocks, or it does not) */
	for (int i = 0; rec_serial(rec) && i < 3; i++) {
		pid_t got;
		int sig;

		sched_yield();
		got = waitpid(t->tid, &status, __WALL | WNOHANG);
		if (got != t->tid)
			continue;
		if (tracee_classify(status, &sig) == TRACEE_STOP_SYSCALL_EXIT) {
			rec_on_syscall_exit(rec, t);
			return;
		}
		sched_set_state(rec->sched, t->tid, SCHED_BLOCKED);
		rec_dispatch(rec, t->tid, status);
		return;
	}
	sched_set_state(rec->sched, t->tid, SCHED_BLOCKED);
}

/* Let @t, stopped at a recorded syscall entry, execute it: in the kernel
 * while the others run if it may block, else to its exit. */
void
rec_issue_syscall(struct recorder *rec, struct rthread *t)
{
	/* the total order of shared-state calls (record-order.c) */
	if (rec_order_issue(rec, t))
		return;
	/* what a re-run from a checkpoint must undo (record-rerun.c) */
	if (rec->tp)
		rec_rerun_tp_entry(rec, t);
	/* a re-run gone live: the input the TP run took, given again */
	if (rec->redeliver && rec_ep_live_redeliver(rec, t))
		return;
	if (rec->ep && rec_ep_issue(rec, t))
		return;
	if (rec_emulate_syscall(rec, t))
		return;
	/* a TP run's external output: held until its epoch is verified */
	if (rec_hold_write(rec, t))
		return;
	if (t->may_block)
		block_in_kernel(rec, t);
	else
		rec_run_syscall(rec, t);
}

/* The recorded processes, for ipc.c (rec_tgids_fn). */
static size_t
recorded_tgids(void *ctx, pid_t *buf, size_t cap)
{
	const struct recorder *rec = ctx;
	size_t n = 0;

	for (size_t i = 0; i < rec->nthreads && n < cap; i++) {
		size_t j = 0;

		while (j < n && buf[j] != rec->threads[i].tgid)
			j++;
		if (j == n)
			buf[n++] = rec->threads[i].tgid;
	}
	return n;
}

/*
 * Whether @t's syscall is one the model leaves unrecorded (SC_UNTRACED:
 * replay executes it where the thread reaches it) and no recorded tracer
 * wants its syscall stops. It stopped at uprr's stop filter, stacked on its
 * process (or an ancestor) when a recorded tracer asked for syscall stops
 * (seccomp.c), which still holds after the tracer stopped asking, in its
 * untraced threads and in its children. A program's own filters make it an
 * event as any other (their RET_TRACE must be seen: rec_sandbox_entry()).
 */
static bool
untraced(struct recorder *rec, const struct rthread *t)
{
	uint64_t none[6] = { 0 };
	const struct rec_ptracee *pt;

	if (!(sc_flags((long)t->regs.orig_rax, none) & SC_UNTRACED) || rec->program_filters)
		return false;
	pt = rec_ptrace_find(&rec->ptrace, t->tid);
	return !pt || !pt->syscall_stops;
}

void
rec_on_syscall_entry(struct recorder *rec, struct rthread *t)
{
	char why[256];
	struct user_regs_struct last = t->regs;
	int r;

	if (tracee_get_regs(t->tid, &t->regs) < 0)
		return;
	if (rec->respawn_at && !rec_respawn_maybe(rec, t))
		return;
	/* lock-step: libuprr-sync waits for the TP run's next records */
	if (rec->ep && rec_ep_sync_wait(rec, t))
		return;
	rec_syscallbuf_redirect_seen(rec, t);
	/* a call from a site that could not be patched: into the library, as
	 * replay does at the same stop (no event; a re-run after a rollback
	 * makes it too) */
	if (rec_syscallbuf_redirect_silent(rec, t))
		return;
	if (untraced(rec, t)) {
		rec_resume(t, PTRACE_CONT, 0); /* not an event: its run goes on */
		return;
	}
	if (t->sb_rerun) {
		/* a re-run after a rollback (rt_sigreturn above may be part of
		 * it): its notify call, not an event */
		t->regs = last;
		rec_rerun_notify(rec, t);
		return;
	}
	/* a TP run's epoch end waits for this thread at a syscall */
	if (!rec_serial(rec) && rec_epoch_hold_at_entry(rec, t))
		return;
	/* the program's exit_group: an end there, so that the epoch before
	 * is checked while the TP run stands with its kernel state */
	if (!rec_serial(rec) && rec_epoch_end_at_exit(rec, t))
		return;
	while (rec_requeue_if_blocked(t))
		;
	/* the site's first call the buffer takes: redirect it into the library
	 * (patched, or from this stop if it cannot be) */
	if (!t->deferred_sig && rec_syscallbuf_try_patch(rec, t))
		return;
	if (rec->ep && rec_ep_signal_at_entry(rec, t))
		return;
	if (t->deferred_sig && !rec_signal_during_syscall(t)) {
		rec_inject_at_syscall(rec, t);
		return;
	}
	if (t->deferred_sig)
		rec_raise_during_syscall(t);
	t->injected = false;
	if (t->stepping) {
		/* a single step onto a syscall instruction ends at its exit
		 * (rec_resume_user()); PTRACE_SYSCALL clears the step flag */
		t->stepping = false;
		t->step_stop = TRAP_BRKPT;
	}
	t->nr = t->regs.orig_rax;
	for (int i = 0; i < 6; i++)
		t->args[i] = arch_syscall_arg(&t->regs, i);
	t->model_nr = t->nr;
	memcpy(t->model_args, t->args, sizeof(t->args));
	if (t->nr == __NR_restart_syscall && t->restart_nr) {
		t->model_nr = t->restart_nr;
		memcpy(t->model_args, t->restart_args, sizeof(t->args));
	}
	/* A call the model does not know runs in the kernel, and its exit
	 * decides (unknown_succeeded); one that must not run at all stops here. */
	r = sc_check((long)t->model_nr, t->model_args, why, sizeof(why));
	if (r == -EPERM ||
	    rec_sandbox_entry(t->tid, (long)t->model_nr, t->model_args, &t->regs, rec->program_filters,
			      why, sizeof(why)) == -ENOSYS) {
		rec_stop_recording(rec, "the program used an unsupported %s; recording stopped", why);
		return;
	}
	t->unknown = r < 0;
	if (rec_ipc_check_entry(&rec->ipc, t->tid, (long)t->model_nr, t->model_args,
				recorded_tgids, rec, why, sizeof(why)) < 0) {
		rec_stop_recording(rec, "the program used %s; recording stopped", why);
		return;
	}
	sc_entry_state((long)t->model_nr, t->model_args, rec_tracee_mem_read, &t->tid, &t->entry);
	/* the calls buffered since the thread's last event first (as
	 * rec_write_event would): a buffered close may have changed what
	 * the fd this call writes to refers to (rec_output_forget_fd) */
	r = rec_syscallbuf_flush(rec, t);
	if (r < 0) {
		rec_stop_recording(rec, "cannot record the syscall buffer of thread %d: %s", t->tid,
				   strerror(-r));
		return;
	}
	rec_entry_tail(rec, t);
}

void
rec_entry_tail(struct recorder *rec, struct rthread *t)
{
	struct trace_event ev;
	uint32_t nblobs = 0;
	int r;

	rec_output_entry(&t->out, t->tid, t->tgid, (long)t->nr, t->args);
	rec->ranges.n = 0;
	if (sc_inputs((long)t->nr, t->args, rec_tracee_mem_read, &t->tid, &rec->ranges) < 0 ||
	    rec_collect_blobs(rec, t->tid, &nblobs) < 0) {
		rec_stop_recording(rec, "%s", "out of memory");
		return;
	}
	r = rec->ep ? rec_ep_entry(rec, t, nblobs) : 0;
	if (r < 0)
		return;
	rec_event_init(&ev, TRACE_EV_SYSCALL_ENTRY, t->tid);
	ev.nvalues = 7;
	ev.values[0] = t->nr;
	memcpy(&ev.values[1], t->args, sizeof(t->args));
	rec_event_set_regs(&ev, &t->regs);
	ev.nblobs = nblobs;
	ev.blobs = rec->blobs;
	if (r > 0) {
		/* parked at its epoch's end before the log had this call
		 * (lock-step): it comes here again when let go. Its event goes
		 * now, where its user code ran up to it: the replay runs each
		 * thread to its next event in the trace's order, and written
		 * when let go, after the events of a thread whose user code
		 * ran after this one's (a lock it released), that thread's
		 * replay found the lock not released ("expected syscall
		 * clock_nanosleep, got futex": tp_rollback, 1 replay in 4, most
		 * with every verdict at once) */
		t->ep_reentry = true;
		if (!t->ep_entry_written && rec_write_event(rec, &ev) == 0)
			t->ep_entry_written = true;
		return;
	}
	if (t->ep_entry_written)
		t->ep_entry_written = false; /* written when it parked */
	else if (rec_write_event(rec, &ev) < 0)
		return;
	if (!rec_ptrace_entry_stop(rec, t))
		rec_after_entry(rec, t);
}

void
rec_after_entry(struct recorder *rec, struct rthread *t)
{
	uint32_t flags = sc_flags((long)t->model_nr, t->model_args);

	if (sc_is_exec((long)t->nr)) {
		char what[PATH_MAX + 64];

		if (rec_exec_privileged(t->tid, (long)t->nr, t->args, what, sizeof(what)) > 0) {
			rec_stop_recording(rec, "process %d execs %s: uprr does not record programs that "
				       "gain privileges; recording stopped", t->tgid, what);
			return;
		}
		if (rec->ep && rec_ep_exec(rec, t) < 0)
			return;
		/* its next stop may come under another id (the leader's): see
		 * rec_on_exec_event; other threads of the process stop nowhere */
		t->state = RT_IN_SYSCALL;
		rec_resume(t, PTRACE_SYSCALL, 0);
		return;
	}
	if (t->nr == __NR_exit || t->nr == __NR_exit_group) {
		/* an EP run: the others' last calls of the log first */
		if (rec->ep && rec_ep_exit_group_wait(rec, t))
			return;
		/* the thread (or all threads) exit: their exit events follow */
		if (rec->ep && t->nr == __NR_exit)
			rec_ep_note_exit(rec, t);
		t->state = RT_RUNNING;
		rec_resume(t, PTRACE_CONT, 0);
		return;
	}
	/* The order in which output reaches stdout and stderr is the order of
	 * their exit events: run those syscalls to completion, whatever fd
	 * they use. Their reader is outside the recording (a pipeline's next
	 * stage reads a pipe of its own), so waiting cannot deadlock threads;
	 * but a splice or tee may wait for a recorded writer of its source. */
	t->may_block = (flags & SC_MAY_BLOCK) &&
		       (!(t->out.sinks & (TRACE_OUT_STDOUT | TRACE_OUT_STDERR)) ||
			t->nr == __NR_splice || t->nr == __NR_tee);
	/* an unknown call may wait for another recorded thread (a lock, a
	 * message): the others run meanwhile, which is safe since it either
	 * fails having written nothing or stops the recording */
	t->may_block |= t->unknown;
	if (t->nr == __NR_sched_yield)
		sched_yield_current(rec->sched);
	/* a syscall that may block counts too: one that never does (a read of
	 * a file, or one a pending signal interrupts) would keep the others out */
	if (rec->ep && rec_ep_park(rec, t, true))
		return;
	if (rec_serial(rec) && sched_event(rec->sched)) {
		/* timeslice over: hold it at the entry; it runs when picked again */
		t->state = RT_AT_ENTRY;
		sched_set_state(rec->sched, t->tid, SCHED_RUNNABLE);
		sched_pick(rec->sched);
		return;
	}
	rec_issue_syscall(rec, t);
}

