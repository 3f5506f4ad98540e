/* SPDX-License-Identifier: MIT */
/*
 * A TP run's epochs (doc/uniparallel.md, "Epoch boundaries and
 * checkpoints"; issue 15, deliverable 2). Every rec_epochs.len_ns the loop
 * stops every thread of every recorded process (PTRACE_INTERRUPT), brings
 * each to a syscall and, for each process, takes a copy of it
 * (checkpoint_copy_new(), process.h): checkpoint k, which begins epoch k
 * (epoch 0 begins at the start). Each thread's epoch end is logged
 * (TRACE_EV_EPOCH): its count of syscalls logged (traced exits and
 * buffered records), where it stands. The dirty log of each process
 * (dirty.h) is read and armed again: the pages written in the epoch go with
 * the checkpoint to its keeper (rec_options.epochs, tp/epoch.h), which
 * keeps what EP runs will need. Then every thread goes on.
 *
 * Every end is at syscalls (TRACE_EPOCH_SYSCALL), so that an EP run can
 * find it by counting each thread's calls, with no PMU: where a thread
 * stands when the end is due decides how it gets there.
 * - in a blocking traced syscall (RT_IN_SYSCALL): the interrupt ends it
 *   with -ERESTART* at its syscall-exit-stop, where it is held and copied
 *   (the copy rewinds it, process.h). The TP thread then goes on as the
 *   kernel has it: its exit is recorded as any exit (result -ERESTART*:
 *   the log says so), and the kernel restarts the syscall, whose entry is
 *   recorded again, as after a signal without a handler. One whose
 *   syscall had just ended is copied at its exit with its real result.
 * - entering a traced syscall (its seccomp stop came before the
 *   interrupt's, rec_tp_hold_one()): the call is skipped and rewound, and
 *   the thread held at its syscall instruction, the call not entered; it
 *   enters it again once let go.
 * - in user code (or in a buffered syscall's untraced call, or at a
 *   traced call the syscall buffer's library makes inside its buffered
 *   path, or at restart_syscall(2)'s entry): let go to the entry of its
 *   next traced syscall (not those two), and held there the same way
 *   (rec_epoch_hold_at_entry()), the others held
 *   meanwhile; one that, on its way, blocks in a traced call it was not
 *   held at is held in it, as in the first case. The end is taken once
 *   all are held (gather()). If one is not within EPOCH_GATHER_NS (a loop
 *   with no syscall; a thread spinning on a flag a held thread would
 *   set), the end is given up and every thread let go until the next one
 *   is due; with rec_epochs.anywhere (--epoch-anywhere) it is taken
 *   instead, those threads stopped where they stand (TRACE_EPOCH_USER,
 *   with their registers: an EP run cannot find that point yet). With
 *   the syscall buffer on, the end asks for it (request_end(),
 *   UPRR_CTL_EPOCH_END in each process's control page): the library
 *   sends every call it would buffer the traced way, from its entry,
 *   outside its buffered path, where the thread may be held.
 * - at an event the loop has not taken yet, at a group stop, a zombie
 *   leader, a process that shares its memory (vfork), still on its way out
 *   of an exec (in user code or at its exit stop), or (an end in user
 *   code) in the syscall buffer's library but not in a syscall (its buffer
 *   may be half written): the end is put off 1 ms, every thread let go
 *   again.
 *
 * A process that forks in an epoch is copied at the next end as any other,
 * with a dirty log of its own from then on; an exec ends its address space
 * (and its dirty log) and the new one gets a new log at the next end: no
 * epoch end is forced by either. A process that is not uprr's child is
 * not copied (its copy, clone(CLONE_PARENT), would be the program's child,
 * which the program's wait(2) would see): its threads' ends are logged
 * with no copy.
 */
#define LOG_PREFIX "record-epoch"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "checkpoint/dirty.h"
#include "checkpoint/process.h"
#include "common/log.h"
#include "common/util.h"
#include "ep/divergence.h"
#include "preload/uprr-preload.h"
#include "preload/uprr-sync.h"
#include "recorder/record-private.h"
#include "tracee/tracee.h"
#include "x86_64/arch.h"

/* How long an end that found a thread at an event waits to try again. */
#define EPOCH_RETRY_NS 1000000ull

/* How long the threads let go to their next syscall may take to reach it,
 * the others held meanwhile, before the end is given up (or, with
 * rec_epochs.anywhere, taken where they stand). Measured with 100 ms
 * epochs, the syscall buffer off, load 5-9 on 2 CPUs (doc/uniparallel.md):
 * 5 ms gave up 14 of 24 ends of pigz -p 2 and 1-2 of 8-10 of sort
 * --parallel=2, 10 ms 11 of 27 and none of 8; 20 ms 9 of 36 of pigz but
 * held the others 9 ms on average. An end given up holds them this long. */
#define EPOCH_GATHER_NS 10000000ull

/* How long ends may be put off, one after another, by a thread blocked in
 * a write the end's interrupt would cut short (cut_short()) before one
 * interrupts it all the same: its reader may wait for output uprr holds
 * until an end. */
#define EPOCH_CUT_WAIT_NS 1000000000ull

/* Adaptive epochs (rec_options.epoch_adaptive, adapt()). An end costs a
 * checkpoint and a stop of every thread, and in lock-step a step of the EP
 * run: epochs grow while no output waits, from EPOCH_AUTO_FIRST_NS (the
 * first epoch, and the first after one in which output waited), twice as
 * long each time, up to rec_options.epoch_ms. Output held waits for its
 * epoch's end and check: the end comes EPOCH_AUTO_OUTPUT_NS after the
 * oldest write waiting was held, never sooner than EPOCH_AUTO_FLOOR_NS
 * after the last end. */
#define EPOCH_AUTO_FIRST_NS 20000000ull
#define EPOCH_AUTO_OUTPUT_NS 5000000ull
#define EPOCH_AUTO_FLOOR_NS 5000000ull

void
rec_epoch_init(struct recorder *rec, const struct rec_options *opts)
{
	memset(&rec->epochs, 0, sizeof(rec->epochs));
	if (!opts->tp_log || !opts->epoch_ms)
		return;
	rec->epochs.len_ns = (uint64_t)opts->epoch_ms * 1000000u;
	if (opts->epoch_adaptive) {
		rec->epochs.adaptive = true;
		rec->epochs.max_len_ns = rec->epochs.len_ns;
		rec->epochs.len_ns = MIN(EPOCH_AUTO_FIRST_NS, rec->epochs.max_len_ns);
		rec->epochs.output = opts->output;
	}
	rec->epochs.last_end_ns = util_now_ns();
	rec->epochs.not_before_ns = rec->epochs.last_end_ns + EPOCH_AUTO_FLOOR_NS;
	rec->epochs.next_ns = rec->epochs.last_end_ns + rec->epochs.len_ns;
	rec->epochs.check = opts->epoch_check;
	rec->epochs.anywhere = opts->epoch_anywhere;
	rec->epochs.keeper = opts->epochs;
	rec->epochs.sync_log = opts->tp_sync_log;
}

void
rec_epoch_count(struct recorder *rec, const struct trace_event *ev)
{
	struct rthread *t;

	if (ev->type != TRACE_EV_SYSCALL_EXIT)
		return;
	t = rec_find_thread(rec, (pid_t)ev->tid);
	if (t)
		t->tp_syscalls++;
}

void
rec_epoch_space_free(struct rspace *sp)
{
	dirty_log_free(sp->tp_dirty);
	sp->tp_dirty = NULL;
}

/* Whether thread @t may be stopped for a checkpoint now. */
static bool
may_stop(const struct rthread *t)
{
	if (t->state != RT_RUNNING && t->state != RT_IN_SYSCALL)
		return false;
	return !t->tp_status_due && !t->tp_held && !t->injecting_sig && t->space &&
	       t->space->mem.users == 1 && !t->space->at_exec;
}

/* The bytes @t's write or send asks for (the iovecs' sum for the vectored
 * ones, at most UIO_MAXIOV_READ of them read: more count as many bytes);
 * 0 if it is none or they cannot be read. */
#define UIO_MAXIOV_READ 64
static uint64_t
write_len(const struct rthread *t)
{
	const uint64_t *a = t->model_args;
	struct iovec iov[UIO_MAXIOV_READ];
	uint64_t at = a[1], n = a[2], sum = 0;
	struct msghdr m;

	switch (t->model_nr) {
	case __NR_write:
	case __NR_pwrite64:
	case __NR_sendto:
		return a[2];
	case __NR_writev:
	case __NR_pwritev:
	case __NR_pwritev2:
		break;
	case __NR_sendmsg:
		if (tracee_read(t->tid, a[1], &m, sizeof(m)) < 0)
			return 0; /* vanished or a bad address: nothing written */
		at = (uint64_t)m.msg_iov;
		n = m.msg_iovlen;
		break;
	default:
		return 0;
	}
	if (n > ARRAY_SIZE(iov))
		return UINT64_MAX;
	if (n && tracee_read(t->tid, at, iov, n * sizeof(iov[0])) < 0)
		return 0;
	for (uint64_t i = 0; i < n; i++)
		sum += iov[i].iov_len;
	return sum;
}

/*
 * Whether @t stands in a traced call that the end's interrupt could end
 * having done part of it: a write or a send of more than PIPE_BUF bytes
 * to a pipe, a socket or a terminal, which blocks once it wrote part (the
 * reader slow: pipe_write(), unix_stream_sendmsg(), tcp_sendmsg() and
 * n_tty_write() return what they wrote on a pending signal, which
 * PTRACE_INTERRUPT makes). Natively no signal comes, the call takes all:
 * the program must not see uprr's interrupt as a short write
 * (tp-mode-buffered-epoch20: "write of 262144 bytes to a pipe: 65536").
 * Not one of PIPE_BUF bytes or fewer (pipe(7): all or nothing; an
 * interrupt before it restarts it), nor a write to a file, which no
 * signal but a fatal one ends (tp_race's 1-byte writes to /dev/null, at
 * every end), nor a send with MSG_DONTWAIT.
 */
static bool
cut_short(const struct rthread *t)
{
	struct stat st;

	if (t->state != RT_IN_SYSCALL || (!sc_is_write((long)t->model_nr) &&
					  !sc_is_send((long)t->model_nr)))
		return false;
	if (sc_is_send((long)t->model_nr) &&
	    (t->model_args[t->model_nr == __NR_sendto ? 3 : 2] & MSG_DONTWAIT))
		return false;
	if (write_len(t) <= PIPE_BUF)
		return false;
	if (tracee_fd_stat(t->tid, (int)t->model_args[0], &st) < 0)
		return false; /* vanished, or the fd closed: nothing to cut */
	return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode);
}

/* Whether process @pid is uprr's child (proc(5): /proc/PID/stat's ppid). */
static bool
is_our_child(pid_t pid)
{
	char path[64], buf[512], *p;
	int ppid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	/* after the name: " S ppid ..." */
	return p && sscanf(p + 1, " %*c %d", &ppid) == 1 && ppid == getpid();
}

/* Resident bytes of process @pid (proc(5): statm), 0 if unknown. */
static uint64_t
resident_bytes(pid_t pid)
{
	char path[64];
	unsigned long size = 0, resident = 0;
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/statm", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fscanf(f, "%lu %lu", &size, &resident);
	fclose(f);
	return n == 2 ? (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

/* Whether thread @t may be held at the entry of syscall @nr at @rip: not
 * restart_syscall(2) (the kernel's restart of a call an end interrupted:
 * its restart block is the thread's, which a copy's recreated threads have
 * not), and in the syscall buffer's library only outside its buffered path
 * (rec_syscallbuf_unlocked(): the calls an end sends the traced way,
 * UPRR_CTL_EPOCH_END, and those the library does not buffer); inside it,
 * the library's own traced calls may come between a record's bytes and its
 * count. Nor a call that waits for a signal (pause(2), sigsuspend(2)): held
 * at its entry, rewound, a signal that came meanwhile is delivered before
 * it, which then waits for the next one, for good if none comes
 * (signal_async's pause() for a one-shot SIGALRM that went off while its
 * thread stood at a checkpoint: its re-run from there hung, 1 in 12-24);
 * entered, it is held in it like any blocking call (gather()), and such a
 * signal ends it with EINTR as natively. */
static bool
may_hold_at(struct recorder *rec, struct rthread *t, uint64_t nr, uint64_t rip)
{
	return nr != __NR_restart_syscall && nr != __NR_pause && nr != __NR_rt_sigsuspend &&
	       (!rec_syscallbuf_in_library(rip) || rec_syscallbuf_unlocked(rec, t));
}

/* Set (@on) or clear UPRR_CTL_EPOCH_END in every recorded process with the
 * syscall buffer: while it is set, a thread's next call the buffer would
 * take goes the traced way, where rec_epoch_hold_at_entry() holds it. */
static void
request_end(struct recorder *rec, bool on)
{
	if (!on && !rec->epochs.requested)
		return;
	rec->epochs.requested = on;
	for (size_t i = 0; i < rec->nthreads; i++) {
		struct rspace *sp = rec->threads[i].space;
		bool seen = false;
		int r;

		for (size_t j = 0; j < i && !seen; j++)
			seen = rec->threads[j].space == sp;
		if (seen || !sp || !sp->mem.syscallbuf)
			continue;
		r = rec_syscallbuf_set_flags(sp->mem.memfd, UPRR_CTL_EPOCH_END, on);
		if (r < 0) /* gone: its end comes through the loop */
			log_debug("process %d: cannot %s the epoch end's request: %s", rec->threads[i].tgid,
				  on ? "set" : "clear", strerror(-r));
	}
}

void
rec_epoch_space_new(struct recorder *rec, struct rspace *sp)
{
	/* a fork copies the control page: a request of an end since taken
	 * or given up is not the child's */
	if (rec->epochs.len_ns && !rec->epochs.requested && sp->mem.syscallbuf &&
	    rec_syscallbuf_set_flags(sp->mem.memfd, UPRR_CTL_EPOCH_END, false) < 0)
		log_debug("%s", "a new process's epoch end request could not be cleared");
}

/* Whether @t, just held by rec_tp_hold_one(), stands at the entry of a
 * traced syscall it had entered, rewound (not entered), where it may be
 * held (may_hold_at()). */
static bool
at_entry(struct recorder *rec, struct rthread *t)
{
	struct user_regs_struct regs;

	return t->epoch_held && t->tp_rewound && tracee_get_regs(t->tid, &regs) == 0 &&
	       may_hold_at(rec, t, regs.rax, regs.rip);
}

/* Whether syscall @nr fails with EINTR when its thread stops, even with no
 * handler to run (signal(7), "Interruption of system calls and library
 * functions by stop signals"): epoll waits (ep_poll(), fs/eventpoll.c),
 * System V semaphore waits, sigtimedwait(2) and sigwaitinfo(2), and the
 * socket calls that wait with a timeout (SO_RCVTIMEO, SO_SNDTIMEO:
 * sock_intr_errno()); the sends never get here (cut_short()). */
static bool
eintr_at_stop(uint64_t nr)
{
	switch (nr) {
	case __NR_epoll_wait:
	case __NR_epoll_pwait:
	case __NR_epoll_pwait2:
	case __NR_semop:
	case __NR_semtimedop:
	case __NR_rt_sigtimedwait:
	case __NR_accept:
	case __NR_accept4:
	case __NR_recvfrom:
	case __NR_recvmsg:
	case __NR_recvmmsg:
	case __NR_connect:
		return true;
	default:
		return false;
	}
}

/*
 * @t, at the exit stop of a traced call the end's interrupt ended: one that
 * fails with EINTR when its thread stops (eintr_at_stop()) is restarted
 * instead, as a call the kernel restarts (-ERESTARTNOHAND: the signal code
 * rewinds it on the way out when no handler runs, and makes it EINTR when
 * one does): the program never sees uprr's interrupt
 * (tp-mode-buffered-epoch20: ep_buffered's epoll_wait returned -1). Its
 * timeout starts again, as poll(2)'s would not.
 */
static void
restart_interrupted(struct rthread *t)
{
	struct user_regs_struct regs;

	if (tracee_get_regs(t->tid, &regs) < 0 || (int64_t)regs.rax != -EINTR ||
	    !eintr_at_stop(regs.orig_rax))
		return;
	regs.rax = (uint64_t)-SC_ERESTARTNOHAND;
	if (tracee_set_regs(t->tid, &regs) < 0)
		log_debug("thread %d: its %s cannot be restarted", t->tid,
			  sc_name((long)regs.orig_rax) ?: "call");
}

/* Wait for @t, interrupted in a traced syscall (RT_IN_SYSCALL), to stand
 * still: at its syscall-exit-stop (-ERESTART*, or the call's own end), or
 * at the interrupt's stop still in its syscall. False (t->epoch_held
 * cleared) if it did not: an event came first, left for the loop
 * (t->tp_status_due), or it is gone. */
static bool
hold_in_syscall(struct recorder *rec, struct rthread *t)
{
	int status, sig;

	if (!rec_wait_thread_stop(rec, t, &status)) {
		t->epoch_held = false;
		return false;
	}
	switch (tracee_classify(status, &sig)) {
	case TRACEE_STOP_SYSCALL_EXIT:
		/* copied here; the loop takes its exit after */
		restart_interrupted(t);
		t->tp_status_due = true;
		t->tp_status = status;
		return true;
	case TRACEE_STOP_GROUP:
		if (!tracee_group_stop_sig(status))
			return true; /* the interrupt's stop, still in its syscall */
		_fallthrough_;
	default:
		t->tp_status_due = true;
		t->tp_status = status;
		t->epoch_held = false;
		return false;
	}
}

/* Interrupt every thread and wait until each stands still (t->epoch_held).
 * False if one did not (an event came first, left for the loop, or it is
 * gone). */
static bool
stop_all(struct recorder *rec)
{
	bool still = true;

	for (size_t i = 0; i < rec->nthreads; i++) {
		struct rthread *t = &rec->threads[i];

		/* held at its entry before the end began
		 * (rec_epoch_end_at_exit()) */
		if (t->epoch_held && t->epoch_at_entry)
			continue;
		if (ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) < 0) {
			still = false; /* vanished: its end comes through the loop */
			continue;
		}
		t->epoch_held = true;
		t->epoch_in_syscall = t->state == RT_IN_SYSCALL;
	}
	for (size_t i = 0; i < rec->nthreads; i++) {
		struct rthread *t = &rec->threads[i];

		if (!t->epoch_held || t->epoch_at_entry)
			continue;
		if (t->epoch_in_syscall)
			still &= hold_in_syscall(rec, t);
		else if (!rec_tp_hold_one(rec, t))
			t->epoch_held = still = false;
		else
			t->epoch_at_entry = at_entry(rec, t);
	}
	return still;
}

/*
 * Whether every thread held may be copied where it stands. One held in
 * user code (an end anywhere: not at a syscall) inside the syscall
 * buffer's library, not in a syscall, may be between a record's bytes and
 * its count: its buffer cannot be read now (the UP recorder waits for it
 * too, record-signals.c). It leaves soon. So does one still leaving its
 * exec, in user code or at the exec's exit stop.
 */
static bool
settled(const struct recorder *rec)
{
	for (size_t i = 0; i < rec->nthreads; i++) {
		const struct rthread *t = &rec->threads[i];
		struct user_regs_struct regs;

		if (!t->epoch_held || t->epoch_at_entry || tracee_get_regs(t->tid, &regs) < 0)
			continue;
		if (!t->epoch_in_syscall && rec_syscallbuf_in_library(regs.rip) &&
		    (int64_t)regs.orig_rax < 0)
			return false;
		/* Still on its way out of an exec, no instruction run: a
		 * copy made there had PKRU 0 where the process has its
		 * default (0x55555554; seen with --epoch-check under load,
		 * the new image's FPU state being loaded on the way to user
		 * mode; and at the exit stop of an exec: python3's
		 * subprocess.run() of true with --epoch=2). */
		if ((regs.orig_rax == __NR_execve || regs.orig_rax == __NR_execveat) && !regs.rax)
			return false;
	}
	/* A thread held at the entry of its first call, its creator right
	 * after the clone: both false divergences seen at such ends (xz -T2,
	 * pigz -p 2: a byte of pthread_create(3)'s frame, "0x9e in A, 0x00 in
	 * B", 1 recording in 6 each) had this shape; not analysed further.
	 * Put off once: let go, it is in or past that call 1 ms later. */
	for (size_t i = 0; i < rec->nthreads; i++)
		if (rec->threads[i].epoch_held && rec->threads[i].epoch_at_entry &&
		    !rec->threads[i].tp_syscalls && rec->threads[i].tid != rec->threads[i].tgid)
			return false;
	return true;
}

/* Let every thread stopped for the checkpoint go on (one held at a
 * syscall's entry enters it); those at their syscall's exit go on through
 * the loop (t->tp_status_due). The others seek no more. */
static void
resume_all(struct recorder *rec)
{
	for (size_t i = 0; i < rec->nthreads; i++) {
		struct rthread *t = &rec->threads[i];
		bool held = t->epoch_held;

		t->epoch_held = false;
		t->epoch_at_entry = false;
		t->epoch_seek = false;
		if (t->epoch_exit_logged) {
			/* its exit taken (log_ended_exits()): RT_HELD, the
			 * loop lets it go */
			t->epoch_exit_logged = false;
			continue;
		}
		if (!held || t->tp_status_due)
			continue;
		rec_resume(t, t->epoch_in_syscall ? PTRACE_SYSCALL : PTRACE_CONT, 0);
	}
}

/* The pages @sp's process wrote since its last checkpoint, into a new
 * *@ret, and track its writes from here on (NULL in *@ret: its first). */
static int
take_written(struct rspace *sp, pid_t pid, pid_t tid, struct dirty_pages **ret)
{
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	struct dirty_pages *p;
	size_t n = 0;
	int64_t got;
	int r;

	*ret = NULL;
	if (sp->tp_dirty_failed)
		return 0;
	if (!sp->tp_dirty) {
		r = dirty_log_new(pid, tid, sp->mem.memfd, &sp->tp_dirty);
		if (r < 0) {
			sp->tp_dirty_failed = true;
			return r;
		}
		return 0;
	}
	/* mappings made in the epoch: registered now, unprotected, they count
	 * as written in it */
	r = tracee_read_maps(pid, &maps, &n);
	if (r >= 0)
		r = dirty_log_track(sp->tp_dirty, maps, n, NULL, 0, NULL, NULL);
	if (r < 0)
		return r;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	got = dirty_log_written(sp->tp_dirty, true, p);
	if (got < 0) {
		dirty_pages_fini(p);
		free(p);
		return (int)got;
	}
	*ret = p;
	return 0;
}

/* What an end in a traced call will show (TRACE_EV_EPOCH's values[4],
 * doc/trace-format.md): the exit stop @t is held at says it now, before
 * the exit is logged, for an EP run that reads the log as it grows
 * (lock-step): 1 interrupted (-ERESTART*), 2 ended; 0 not known (not held
 * at its exit stop). 3 (log_ends()): held at the entry of its next call,
 * not entered, the event's registers its (rewound). */
static uint64_t
in_call_hint(const struct rthread *t)
{
	struct user_regs_struct regs;
	int sig;

	if (!t->epoch_in_syscall || !t->tp_status_due ||
	    tracee_classify(t->tp_status, &sig) != TRACEE_STOP_SYSCALL_EXIT ||
	    tracee_get_regs(t->tid, &regs) < 0)
		return 0;
	return sc_result_restarts((int64_t)regs.rax) ? 1 : 2;
}

/* UPRR_SYNC_F_END into the flags of the record at @off of the sync-order
 * log open at @fd (its thread stands still: nothing else writes them) */
static bool
mark_end(int fd, off_t off)
{
	uint16_t flags;

	off += (off_t)offsetof(struct uprr_sync_rec, flags);
	if (pread(fd, &flags, sizeof(flags), off) != (ssize_t)sizeof(flags))
		return false;
	flags |= UPRR_SYNC_F_END;
	return pwrite(fd, &flags, sizeof(flags), off) == (ssize_t)sizeof(flags);
}

/*
 * Whether thread @tid of the TP run stands in glibc's wait inside an
 * operation of the interposer's (preload/sync-wrap.c, sync_wait_begin()),
 * by the sync-order log open at @fd: a condition wait (the slot's last
 * record a complete UPRR_SYNC_COND_RELEASE: the acquisition comes next)
 * or a mutex lock (its last record reserved, not complete, on that mutex).
 * Then into @ret (TRACE_EV_EPOCH's values[5] to [8]): the record the
 * acquisition is, + 1; where the return address of the program's call
 * into the interposer is; the condition variable (0 for a lock); the
 * mutex; that record marked UPRR_SYNC_F_END. An EP run finds that point
 * in libuprr-sync's wait for that record (doc/uniparallel.md, "Ends in a
 * condition wait or a lock"). The threads stand still: what the slot says
 * is where they are.
 */
static bool
sync_wait_at(int fd, pid_t tid, uint64_t ret[4])
{
	struct uprr_sync_head h;
	struct uprr_sync_slot slot;
	struct uprr_sync_rec last;
	uint64_t size;

	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || h.magic != UPRR_SYNC_MAGIC ||
	    h.version != UPRR_SYNC_VERSION || h.nslots != UPRR_SYNC_NSLOTS)
		return false;
	size = uprr_sync_slot_size(h.nrecs);
	/* the last slot of that tid (a tid the kernel gave again: the live
	 * thread's is the later one) */
	for (uint32_t i = MIN(h.nthreads, UPRR_SYNC_NSLOTS); i-- > 0;) {
		off_t base = UPRR_SYNC_HEAD_SIZE + (off_t)(i * size);
		bool cond;

		if (pread(fd, &slot, sizeof(slot), base) != (ssize_t)sizeof(slot) || !slot.used ||
		    slot.tid != (uint32_t)tid)
			continue;
		if (!slot.count || slot.count > h.nrecs || !slot.wait_obj ||
		    pread(fd, &last, sizeof(last),
			  base + (off_t)sizeof(slot) + (off_t)((slot.count - 1) * sizeof(last))) !=
			    (ssize_t)sizeof(last))
			return false;
		cond = slot.wait_kind == UPRR_SYNC_COND_ACQUIRE;
		if (cond ? last.kind != UPRR_SYNC_COND_RELEASE
			 : slot.wait_kind != UPRR_SYNC_MUTEX_LOCK || last.kind != UPRR_SYNC_NONE ||
				   last.obj != slot.wait_obj)
			return false;
		ret[0] = cond ? slot.count + 1 : slot.count;
		ret[1] = slot.wait_frame;
		ret[2] = cond ? slot.wait_obj : 0;
		ret[3] = cond ? last.obj : slot.wait_obj;
		/* the record marked (UPRR_SYNC_F_END): FOLLOW makes its marker
		 * call before it waits for it (an event of the EP trace where
		 * the EP run parks the thread); not marked, the end is not said */
		return ret[0] - 1 < h.nrecs &&
		       mark_end(fd, base + (off_t)sizeof(slot) +
					    (off_t)((ret[0] - 1) * sizeof(struct uprr_sync_rec)));
	}
	return false;
}

/* Log the epoch's end in each thread of process @tgid (@copy_pid: its copy,
 * 0: none). */
static void
log_ends(struct recorder *rec, pid_t tgid, pid_t copy_pid)
{
	_cleanup_close_ int sync_fd = rec->epochs.sync_log ? open(rec->epochs.sync_log,
								    O_RDWR | O_CLOEXEC)
							   : -1;

	for (size_t i = 0; i < rec->nthreads && !rec->done; i++) {
		struct rthread *t = &rec->threads[i];
		struct user_regs_struct regs;
		struct trace_event ev;
		bool in_library, at_syscall = t->epoch_in_syscall || t->epoch_at_entry;
		int r;

		if (t->tgid != tgid)
			continue;
		/* its buffered calls up to here first: they are in its count
		 * (syscallbuf.c counts them). One in a buffered syscall, in
		 * the library, may yet write its record where the buffer ended
		 * before a flush: those records are counted, not taken out
		 * (its next TRACE_EV_SYSCALLBUF logs them). */
		in_library = !t->epoch_at_entry && tracee_get_regs(t->tid, &regs) == 0 &&
			     rec_syscallbuf_in_library(regs.rip);
		r = in_library ? rec_syscallbuf_count_held(rec, t) : rec_syscallbuf_flush(rec, t);
		if (r < 0) {
			rec_stop_recording(rec, "cannot record the syscall buffer of thread %d: %s",
					   t->tid, strerror(-r));
			return;
		}
		rec_event_init(&ev, TRACE_EV_EPOCH, t->tid);
		ev.nvalues = 5;
		ev.values[0] = rec->epochs.k;
		ev.values[4] = in_call_hint(t);
		ev.values[1] = t->tp_syscalls + (in_library ? (uint64_t)r : 0);
		ev.values[2] = at_syscall ? TRACE_EPOCH_SYSCALL : TRACE_EPOCH_USER;
		ev.values[3] = (uint64_t)copy_pid;
		if (!at_syscall && tracee_get_regs(t->tid, &regs) == 0)
			rec_event_set_regs(&ev, &regs);
		/* held at a call's entry, not entered: the call (rewound:
		 * rax its number, rip its instruction); not one its entry
		 * may send into the syscall buffer's library (made from there
		 * then: the entry that follows says it) */
		if (t->epoch_at_entry && tracee_get_regs(t->tid, &regs) == 0 &&
		    !rec_syscallbuf_may_redirect(t, regs.rax, regs.rip + 2)) {
			ev.values[4] = 3;
			rec_event_set_regs(&ev, &regs);
		}
		/* in glibc's wait in a condition wait or a lock: which
		 * acquisition comes next */
		if (at_syscall && sync_fd >= 0 && sync_wait_at(sync_fd, t->tid, &ev.values[5])) {
			ev.nvalues = 9;
			rec->epochs.sync_ends++;
		}
		rec->epochs.user_ends += !at_syscall;
		if (rec_write_event(rec, &ev) < 0)
			return;
	}
}

/*
 * Lock-step: a thread held at the exit of a call that had ended when the
 * end came (in_call_hint() 2) stands after that exit in the copy, which its
 * exit's result and bytes tell: logged here, after its end, before the step
 * (the loop would take it only once every thread goes on), so that the EP
 * run knows where the thread stands and has the exit's result at once
 * (ep/syscall-log.c settle_end(): EP_END_EXIT). The copies are taken: what
 * the exit's handling does to the thread comes after them, as it did when
 * the loop took the exit later. The thread stays at its exit stop (RT_HELD)
 * until the end is over.
 */
static void
log_ended_exits(struct recorder *rec)
{
	_cleanup_free_ pid_t *tids = malloc(MAX(rec->nthreads, 1u) * sizeof(*tids));
	size_t n = 0;

	if (!tids)
		return; /* told later, by the loop */
	for (size_t i = 0; i < rec->nthreads; i++)
		if (rec->threads[i].epoch_held && in_call_hint(&rec->threads[i]) == 2)
			tids[n++] = rec->threads[i].tid;
	for (size_t i = 0; i < n && !rec->done; i++) {
		struct rthread *t = rec_find_thread(rec, tids[i]);

		if (!t || !t->tp_status_due || t->state != RT_IN_SYSCALL)
			continue;
		t->tp_status_due = false;
		t->epoch_exit_logged = true;
		rec_on_wakeup(rec, t);
		rec_on_syscall_exit(rec, t);
		rec->epochs.exits_logged++;
	}
}

/* A checkpoint taken, until handed over. */
struct kept {
	pid_t pid;
	struct checkpoint_copy *copy;
	struct dirty_pages *written;
	struct rec_timers timers;
};

/* Add what making @c, the copy of process @pid, took to @sum, part by
 * part. */
static void
add_copy_times(struct checkpoint_copy_times *sum, const struct checkpoint_copy *c, pid_t pid)
{
	struct checkpoint_copy_times t;

	checkpoint_copy_times(c, &t);
	log_debug("process %d copied: reading its threads %" PRIu64 " us (queries %" PRIu64 " us), the fork %"
		  PRIu64 " us, the clones %" PRIu64 " us, setting their state %" PRIu64 " us",
		  pid, t.read_ns / 1000, t.query_ns / 1000, t.fork_ns / 1000, t.clone_ns / 1000,
		  t.set_ns / 1000);
	sum->read_ns += t.read_ns;
	sum->query_ns += t.query_ns;
	sum->fork_ns += t.fork_ns;
	sum->clone_ns += t.clone_ns;
	sum->set_ns += t.set_ns;
}

/* Checkpoint every process, its threads all stopped, into @kept (room for
 * one per thread), *@nkept of them. */
static void
copy_all(struct recorder *rec, struct kept *kept, size_t *nkept)
{
	_cleanup_free_ pid_t *tids = malloc(rec->nthreads * sizeof(*tids));

	if (!tids) {
		rec_stop_recording(rec, "%s", "out of memory");
		return;
	}
	rec->epochs.k++;
	for (size_t i = 0; i < rec->nthreads && !rec->done; i++) {
		struct rthread *t = &rec->threads[i];
		struct checkpoint_copy *copy = NULL;
		struct dirty_pages *written = NULL;
		uint64_t t0, t1;
		bool seen = false;
		size_t n = 0;
		int r;

		for (size_t j = 0; j < i; j++)
			seen |= rec->threads[j].tgid == t->tgid;
		if (seen)
			continue;
		/* its threads, one in user code first if it has one */
		for (size_t j = i; j < rec->nthreads; j++)
			if (rec->threads[j].tgid == t->tgid)
				tids[n++] = rec->threads[j].tid;
		for (size_t j = 1; j < n; j++) {
			struct rthread *u = rec_find_thread(rec, tids[j]);

			if (u && !u->epoch_in_syscall && rec_find_thread(rec, tids[0])->epoch_in_syscall) {
				pid_t x = tids[0];

				tids[0] = tids[j];
				tids[j] = x;
			}
		}
		if (!is_our_child(t->tgid)) {
			rec->epochs.uncopied++;
			log_ends(rec, t->tgid, 0);
			continue;
		}
		t0 = util_now_ns();
		r = checkpoint_copy_new(t->tgid, t->space->mem.memfd, tids, n, &copy);
		t1 = util_now_ns();
		rec->epochs.copy_ns += t1 - t0;
		if (r >= 0)
			add_copy_times(&rec->epochs.copy_parts, copy, t->tgid);
		if (r < 0) {
			rec->epochs.copy_failures++;
			log_warn("cannot copy process %d for checkpoint %" PRIu64 ": %s", t->tgid,
				 rec->epochs.k, strerror(-r));
			log_ends(rec, t->tgid, 0);
			continue;
		}
		rec->epochs.copies++;
		r = take_written(t->space, t->tgid, tids[0], &written);
		t0 = util_now_ns();
		rec->epochs.dirty_ns += t0 - t1;
		if (r < 0)
			log_warn("process %d: no dirty log: %s", t->tgid, strerror(-r));
		for (size_t j = 0; written && j < written->n; j++)
			rec->epochs.written_pages += written->v[j].len / DIRTY_PAGE;
		if (rec->epochs.check) {
			rec_epoch_check_copy(rec, t->tgid, tids, n, copy,
				   rec->epochs.keeper ? t->space->tp_prev_copy : 0, written);
			rec->epochs.check_ns += util_now_ns() - t0;
		}
		t->space->tp_prev_copy = checkpoint_copy_pid(copy);
		t0 = util_now_ns();
		log_ends(rec, t->tgid, checkpoint_copy_pid(copy));
		rec->epochs.ends_ns += util_now_ns() - t0;
		kept[*nkept] = (struct kept){ .pid = t->tgid, .copy = copy, .written = written };
		/* what a copy does not carry, for a re-run from here (its EP
		 * run answered the program's setitimer(2) from the log): read
		 * where the program armed a timer, its threads in the copy's
		 * SIGTRAP stops (process.h) */
		if (t->space->signals &&
		    rec_timers_get(tids[0], t->tgid, t->space->mem.memfd, &kept[*nkept].timers) < 0)
			log_debug("process %d: its timers at checkpoint %" PRIu64 " not read", t->tgid,
				  rec->epochs.k);
		(*nkept)++;
	}
}

/* Hand the checkpoints taken to their keeper (which may free older ones:
 * after the threads go on, out of the pause). */
static void
hand_over(struct recorder *rec, struct kept *kept, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (rec->epochs.keeper) {
			rec->epochs.keeper->keep(rec->epochs.keeper->arg, rec->epochs.k, kept[i].pid,
						 kept[i].copy, kept[i].written, &kept[i].timers);
			continue;
		}
		checkpoint_copy_free(kept[i].copy);
		if (kept[i].written)
			dirty_pages_fini(kept[i].written);
		free(kept[i].written);
	}
}

/* Lock-step (rec_epoch_keeper.step): every thread held where checkpoint
 * rec->epochs.k has it, the log flushed, the keeper's step runs (the EP
 * run, tp/lockstep.c). */
static void
step(struct recorder *rec)
{
	_cleanup_free_ pid_t *tids = calloc(rec->nthreads + 1, sizeof(*tids));
	_cleanup_free_ pid_t *tgids = calloc(rec->nthreads + 1, sizeof(*tgids));
	uint64_t t0 = util_now_ns();
	size_t n = 0;

	if (!tids || !tgids) {
		rec_stop_recording(rec, "%s", "out of memory");
		return;
	}
	if (trace_writer_flush(rec->w) < 0) {
		rec_stop_recording(rec, "%s", "cannot write the TP run's log");
		return;
	}
	for (size_t i = 0; i < rec->nthreads; i++) {
		tids[n] = rec->threads[i].tid;
		tgids[n++] = rec->threads[i].tgid;
	}
	if (!rec->epochs.keeper->step(rec->epochs.keeper->step_arg, rec->epochs.k, tids, tgids, n)) {
		/* the EP run diverged at a syscall and its epoch is re-run
		 * (struct rec_rerun): the TP run ends here, killed, as an EP
		 * run that diverged ends (-EDOM, the caller says it) */
		rec->ep_diverged = true;
		rec_stop_recording(rec, "the TP run stopped at checkpoint %" PRIu64 " for a re-run",
				   rec->epochs.k);
	}
	rec->epochs.stood_ns += util_now_ns() - t0;
}

/* The end in progress given up: every thread let go; the next is due a
 * whole epoch later. */
static void
give_up(struct recorder *rec, const char *why)
{
	uint64_t now = util_now_ns();

	request_end(rec, false);
	rec->epochs.given_up++;
	rec->epochs.given_up_ns += now - rec->epochs.tick_ns;
	rec->epochs.gather_start_ns = 0;
	resume_all(rec);
	rec->epochs.next_ns = now + rec->epochs.len_ns;
	log_debug("checkpoint %" PRIu64 " given up after %" PRIu64 " us: %s", rec->epochs.k + 1,
		  (now - rec->epochs.tick_ns) / 1000, why);
}

/* Take the end in progress, every thread held: every process copied,
 * every thread let go. */
static void
take_end(struct recorder *rec)
{
	uint64_t t1 = util_now_ns(), t2, t3, rss = 0, check_ns = rec->epochs.check_ns;
	uint64_t tick = rec->epochs.tick_ns, stopped = rec->epochs.gather_start_ns;
	struct kept *kept;
	size_t nkept = 0;

	rec->epochs.gather_start_ns = 0;
	/* before the copies: an EP run's calls go as the TP run's after the end */
	request_end(rec, false);
	if (!settled(rec)) {
		resume_all(rec);
		rec->epochs.put_off++;
		rec->epochs.next_ns = util_now_ns() + EPOCH_RETRY_NS;
		return;
	}
	rec->epochs.settle_ns += util_now_ns() - t1;
	kept = calloc(rec->nthreads, sizeof(*kept));
	if (kept)
		copy_all(rec, kept, &nkept);
	else
		rec_stop_recording(rec, "%s", "out of memory");
	/* the check is a test's, not the run's */
	t2 = util_now_ns() - (rec->epochs.check_ns - check_ns);
	if (kept && rec->epochs.keeper && rec->epochs.keeper->step && !rec->done) {
		/* lock-step: the EP run goes on while every thread stands
		 * here, checkpoint k kept and the log flushed. The exits of
		 * calls that had ended are the epoch before's (an EP run's
		 * end is after them): logged before the keeper's record of
		 * epoch k begins (a read's bytes are given again by a re-run
		 * from checkpoint k only if epoch k read them) */
		log_ended_exits(rec);
		hand_over(rec, kept, nkept);
		nkept = 0;
		step(rec);
	}
	/* stopped for a re-run: killed where it stands, nothing more done */
	t3 = util_now_ns();
	if (!rec->ep_diverged && !rec->done)
		rec_respawn_at_checkpoint(rec);
	if (!rec->ep_diverged)
		resume_all(rec);
	rec->epochs.resume_ns += util_now_ns() - t3;
	for (size_t i = 0; i < rec->nthreads; i++)
		if (rec->threads[i].tid == rec->threads[i].tgid)
			rss += resident_bytes(rec->threads[i].tgid);
	rec->epochs.stop_ns += stopped - tick;
	rec->epochs.reach_ns += t1 - tick;
	if (t1 - tick > rec->epochs.reach_max_ns)
		rec->epochs.reach_max_ns = t1 - tick;
	rec->epochs.pause_ns += t2 - t1;
	if (t2 - t1 > rec->epochs.pause_max_ns)
		rec->epochs.pause_max_ns = t2 - t1;
	if (!rec->epochs.pause_min_ns || t2 - t1 < rec->epochs.pause_min_ns)
		rec->epochs.pause_min_ns = t2 - t1;
	rec->epochs.rss_sum += rss;
	hand_over(rec, kept, nkept);
	free(kept);
	log_debug("checkpoint %" PRIu64 ": threads stopped in %" PRIu64 " us, all at a syscall in %" PRIu64
		  " us, paused %" PRIu64 " us, %" PRIu64 " MiB resident",
		  rec->epochs.k, (stopped - tick) / 1000, (t1 - tick) / 1000, (t2 - t1) / 1000, rss >> 20);
	rec->epochs.next_ns = util_now_ns() + rec->epochs.len_ns;
}

/*
 * The epoch's end is due: stop every thread (stop_all()). One blocked in a
 * traced syscall stands at its exit (-ERESTART*), one that had entered a
 * traced syscall at its entry, rewound: both at a syscall. One in user code
 * (or blocked in a buffered call, or at a traced call of the buffer's
 * library) is let go to the entry of its next traced syscall, where
 * rec_epoch_hold_at_entry() holds it; the others stay held. The end is
 * taken once every thread is held (gather()).
 */
static void
end_epoch(struct recorder *rec)
{
	uint64_t t0 = util_now_ns();
	size_t seek = 0;

	for (size_t i = 0; i < rec->nthreads; i++)
		if (!may_stop(&rec->threads[i]))
			goto put_off;
	/* a thread blocked in a write the interrupt would cut short: put
	 * off until it wrote all, unless it has stood there for
	 * EPOCH_CUT_WAIT_NS of ends put off */
	for (size_t i = 0; i < rec->nthreads; i++) {
		if (!cut_short(&rec->threads[i]))
			continue;
		if (!rec->epochs.cut_since_ns)
			rec->epochs.cut_since_ns = t0;
		if (t0 - rec->epochs.cut_since_ns < EPOCH_CUT_WAIT_NS) {
			rec->epochs.cut_put_off++;
			goto put_off;
		}
		log_info("thread %d: blocked in %s for %" PRIu64 " ms of ends put off: the end's "
			 "interrupt may cut it short", rec->threads[i].tid,
			 sc_name((long)rec->threads[i].model_nr) ?: "a write",
			 (t0 - rec->epochs.cut_since_ns) / 1000000);
		break;
	}
	rec->epochs.cut_since_ns = 0;
	if (!stop_all(rec)) {
		resume_all(rec);
		goto put_off;
	}
	rec->epochs.tick_ns = t0;
	rec->epochs.gather_start_ns = util_now_ns();
	for (size_t i = 0; i < rec->nthreads; i++) {
		struct rthread *t = &rec->threads[i];

		if (!t->epoch_held || t->epoch_in_syscall || t->epoch_at_entry)
			continue;
		t->epoch_held = false;
		t->epoch_seek = true;
		seek++;
	}
	rec->epochs.sought += seek;
	if (!seek) {
		take_end(rec);
		return;
	}
	/* their buffered calls go the traced way until the end is over */
	request_end(rec, true);
	for (size_t i = 0; i < rec->nthreads; i++)
		if (rec->threads[i].epoch_seek)
			rec_resume(&rec->threads[i], PTRACE_CONT, 0);
	return;
put_off:
	rec->epochs.put_off++;
	rec->epochs.next_ns = util_now_ns() + EPOCH_RETRY_NS;
}

/* With rec_epochs.anywhere: stop every thread still on its way to a
 * syscall where it stands. False if one came to an event first. */
static bool
stop_seekers(struct recorder *rec)
{
	bool still = true;

	for (size_t i = 0; i < rec->nthreads; i++) {
		struct rthread *t = &rec->threads[i];

		if (!t->epoch_seek)
			continue;
		if (t->state != RT_RUNNING || t->tp_status_due ||
		    ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) < 0) {
			still = false;
			continue;
		}
		t->epoch_held = true;
	}
	for (size_t i = 0; i < rec->nthreads; i++) {
		struct rthread *t = &rec->threads[i];

		if (!t->epoch_seek || !t->epoch_held)
			continue;
		t->epoch_seek = false;
		t->epoch_in_syscall = false;
		if (!rec_tp_hold_one(rec, t)) {
			t->epoch_held = false;
			still = false;
			continue;
		}
		t->epoch_at_entry = at_entry(rec, t);
	}
	return still;
}

/* An end in progress: taken once every thread is held, given up (or, with
 * rec_epochs.anywhere, taken where they stand) after EPOCH_GATHER_NS. True
 * if it was taken or given up. */
static bool
gather(struct recorder *rec, uint64_t now, uint64_t *wait_ns)
{
	uint64_t end = rec->epochs.gather_start_ns + EPOCH_GATHER_NS;
	bool all = true;

	for (size_t i = 0; i < rec->nthreads; i++) {
		struct rthread *t = &rec->threads[i];

		if (t->epoch_held)
			continue;
		/* on its way, it entered a traced call it was not held at
		 * (rec_epoch_hold_at_entry()) and blocks there: held in it,
		 * as at the end's start; not in one the interrupt would cut
		 * short (its reader may be held): the end is given up, every
		 * thread let go */
		if (t->epoch_seek && cut_short(t)) {
			rec->epochs.cut_given_up++;
			give_up(rec, "a thread blocks in a write the interrupt would cut short");
			return true;
		}
		if (t->epoch_seek && t->state == RT_IN_SYSCALL && !t->tp_status_due &&
		    ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) == 0) {
			t->epoch_held = t->epoch_in_syscall = true;
			if (hold_in_syscall(rec, t)) {
				t->epoch_seek = false;
				rec->epochs.held_blocked++;
				continue;
			}
		}
		all = false;
		/* a thread started since (its clone event was queued) goes
		 * to its next syscall too */
		if (!t->epoch_seek && t->state == RT_RUNNING) {
			t->epoch_seek = true;
			rec->epochs.sought++;
		}
	}
	if (all) {
		take_end(rec);
		return true;
	}
	if (now >= end) {
		if (rec->epochs.anywhere && stop_seekers(rec))
			take_end(rec);
		else
			give_up(rec, "a thread reached no syscall in time");
		return true;
	}
	if (!*wait_ns || end - now < *wait_ns)
		*wait_ns = end - now;
	return false;
}

bool
rec_epoch_hold_at_entry(struct recorder *rec, struct rthread *t)
{
	struct user_regs_struct regs = t->regs;
	int status, sig;

	/* A signal that waits for this event is delivered here instead of
	 * the call (rec_inject_at_syscall()): its thread is held at its next
	 * call. */
	if (!t->epoch_seek || t->deferred_sig || t->injecting_sig || t->tp_status_due ||
	    !may_hold_at(rec, t, regs.orig_rax, regs.rip) || !t->space || t->space->mem.users != 1 ||
	    t->space->at_exec)
		return false;
	/* Not at a call the syscall buffer's library makes inside
	 * libuprr-sync.so (its gettid(2)): an EP run cannot compare an end
	 * there (its frames differ by mode: EP_WHY_INTERPOSER; sort
	 * --parallel=2 had 3-4 epochs in 11-18 so); it goes on to its next. */
	if (rec_syscallbuf_in_library(regs.rip) &&
	    rec_interposer_frames(t->tid, regs.rsp)) {
		rec->epochs.interposer_passed++;
		return false;
	}
	if (ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) < 0)
		return false;
	/* skipped and rewound: it stops at its syscall instruction (the
	 * interrupt's stop) and enters the call again once let go */
	arch_rewind_syscall(&regs);
	if (tracee_set_regs(t->tid, &regs) < 0)
		return true; /* gone: its end comes through the loop */
	rec_resume(t, PTRACE_CONT, 0);
	if (!rec_wait_thread_stop(rec, t, &status))
		return true; /* a zombie leader, or gone: the loop sees to it */
	if (tracee_classify(status, &sig) != TRACEE_STOP_GROUP || tracee_group_stop_sig(status)) {
		/* another stop came first: the loop takes it, and the
		 * interrupt's stop after (a late one); it seeks on */
		t->tp_status_due = true;
		t->tp_status = status;
		return true;
	}
	t->tp_rip = regs.rip;
	t->epoch_seek = false;
	t->epoch_held = true;
	t->epoch_in_syscall = false;
	t->epoch_at_entry = true;
	return true;
}

bool
rec_epoch_end_at_exit(struct recorder *rec, struct rthread *t)
{
	struct rec_epochs *e = &rec->epochs;
	uint64_t k = e->k;

	/* no end under way (one that is holds it here anyway), and one
	 * checkpoint taken (before it, a divergence re-runs from the start) */
	if (!e->len_ns || rec->done || e->gather_start_ns || !e->k || t->epoch_exit_end ||
	    t->regs.orig_rax != __NR_exit_group)
		return false;
	for (size_t i = 0; i < rec->nthreads; i++)
		if (rec->threads[i].tgid != t->tgid && rec->threads[i].state != RT_ZOMBIE)
			return false;
	t->epoch_exit_end = true;
	t->epoch_seek = true;
	if (!rec_epoch_hold_at_entry(rec, t)) {
		t->epoch_seek = false;
		return false;
	}
	if (!t->epoch_held) {
		t->epoch_seek = false; /* another stop came first: the loop's */
		return true;
	}
	end_epoch(rec);
	if (e->gather_start_ns || e->k != k) {
		e->exit_ends++;
		return true;
	}
	/* put off: it goes on into its exit_group */
	t->epoch_held = t->epoch_at_entry = false;
	rec_resume(t, PTRACE_CONT, 0);
	return true;
}

void
rec_epoch_on_status(struct recorder *rec, pid_t tid)
{
	struct rthread *t;

	if (!rec->epochs.gather_start_ns)
		return;
	t = rec_find_thread(rec, tid);
	if (!t || !t->epoch_held)
		return;
	/* held, it stops again: killed (SIGKILL); what it stood at is past */
	t->epoch_held = false;
	t->tp_status_due = false;
	give_up(rec, "a held thread was killed");
}

/*
 * Adaptive epochs (rec_epochs.adaptive): when the next end is due, decided
 * here only, each time the loop asks (rec_epoch_due()). An end taken since
 * the last look (take_end() set next_ns to its time + len_ns) sets the
 * next epoch's length: EPOCH_AUTO_FIRST_NS after an epoch in which output
 * waited, else twice the last, up to max_len_ns. An end given up keeps it.
 * Then, while the output holder has a write waiting for its epoch's check
 * (rec_output_holder.waiting), the end is brought forward to
 * EPOCH_AUTO_OUTPUT_NS after that write, but not sooner than
 * EPOCH_AUTO_FLOOR_NS after the last end. An end put off (a thread at an
 * event: EPOCH_RETRY_NS) is not brought forward: the loop takes that event
 * first (an end due at once every turn would keep it from ever waiting).
 */
static void
adapt(struct recorder *rec, uint64_t now)
{
	struct rec_epochs *e = &rec->epochs;
	uint64_t held, due;

	if (!e->adaptive)
		return;
	if (e->k != e->seen_k || e->given_up != e->seen_given_up) {
		/* next_ns is that end's time + len_ns */
		e->last_end_ns = e->next_ns >= e->len_ns && e->next_ns - e->len_ns <= now
					 ? e->next_ns - e->len_ns
					 : now;
		if (e->k != e->seen_k) {
			if (e->output_waited)
				e->output_ends++;
			e->len_ns = e->output_waited ? EPOCH_AUTO_FIRST_NS : e->len_ns * 2;
			e->len_ns = MIN(e->len_ns, e->max_len_ns);
			e->output_waited = false;
		}
		e->seen_k = e->k;
		e->seen_given_up = e->given_up;
		e->next_ns = e->last_end_ns + e->len_ns;
		e->not_before_ns = e->last_end_ns + EPOCH_AUTO_FLOOR_NS;
	}
	if (e->put_off != e->seen_put_off) {
		/* put off (next_ns = then + EPOCH_RETRY_NS): the loop must
		 * take the event that stood in the way first */
		e->seen_put_off = e->put_off;
		e->not_before_ns = MAX(e->not_before_ns, e->next_ns);
	}
	held = e->output && e->output->waiting ? e->output->waiting(e->output->arg) : 0;
	if (!held)
		return;
	e->output_waited = true;
	due = MAX(e->not_before_ns, held + EPOCH_AUTO_OUTPUT_NS);
	if (due < e->next_ns)
		e->next_ns = due;
}

bool
rec_epoch_due(struct recorder *rec, uint64_t *wait_ns)
{
	uint64_t now;

	if (!rec->epochs.len_ns || rec->done)
		return false;
	now = util_now_ns();
	if (rec->epochs.gather_start_ns)
		return gather(rec, now, wait_ns);
	adapt(rec, now);
	if (rec->epochs.keeper && rec->epochs.keeper->end_now &&
	    rec->epochs.keeper->end_now(rec->epochs.keeper->step_arg))
		rec->epochs.next_ns = now;
	/* overlap: the events that waited while the EP run had this thread
	 * first (rec_stash_own_pending()) */
	if (now >= rec->epochs.next_ns && !rec_stash_own_pending(rec)) {
		end_epoch(rec);
		return true;
	}
	if (!*wait_ns || rec->epochs.next_ns - now < *wait_ns)
		*wait_ns = rec->epochs.next_ns - now;
	return false;
}

void
rec_epoch_drop_all(struct recorder *rec)
{
	if (rec->epochs.keeper && rec->epochs.keeper->drop_all)
		rec->epochs.keeper->drop_all(rec->epochs.keeper->arg);
}

void
rec_epoch_log_stats(const struct recorder *rec)
{
	const struct rec_epochs *e = &rec->epochs;
	uint64_t ends = e->k ? e->k : 1, mib = (e->rss_sum / ends) >> 20;

	if (!e->len_ns)
		return;
	if (e->adaptive)
		log_info("adaptive epochs (%" PRIu64 " ms first, up to %" PRIu64 " ms, an end %" PRIu64
			 " ms after held output): %" PRIu64 " ends brought forward by held output, the "
			 "last epoch %" PRIu64 " ms",
			 (uint64_t)(MIN(EPOCH_AUTO_FIRST_NS, e->max_len_ns) / 1000000), e->max_len_ns / 1000000,
			 (uint64_t)(EPOCH_AUTO_OUTPUT_NS / 1000000), e->output_ends, e->len_ns / 1000000);
	log_info("epochs of %" PRIu64 " ms: %" PRIu64 " checkpoints (%" PRIu64 " ends put off, %" PRIu64
		 " of them and %" PRIu64 " given up by a write the interrupt would cut short), %" PRIu64
		 " process copies (%" PRIu64 " failed, %" PRIu64 " processes not uprr's children left "
		 "uncopied), %" PRIu64 " pages written per epoch",
		 e->len_ns / 1000000, e->k, e->put_off, e->cut_put_off, e->cut_given_up, e->copies,
		 e->copy_failures, e->uncopied, e->written_pages / ends);
	log_info("checkpoint pause (all threads stopped to all resumed): mean %" PRIu64 " us, min %" PRIu64
		 " us, max %" PRIu64 " us, at %" PRIu64 " MiB resident on average: %" PRIu64
		 " us per 100 MiB (goal: 1000); stopping the threads took %" PRIu64 " us on average",
		 e->pause_ns / ends / 1000, e->pause_min_ns / 1000, e->pause_max_ns / 1000, mib,
		 e->pause_ns / ends / 10 / (mib ? mib : 1),
		 e->stop_ns / ends / 1000);
	log_info("ends at syscalls: %" PRIu64 " taken (%" PRIu64 " at the program's exit_group), %" PRIu64
		 " given up (a thread reached no "
		 "syscall in %" PRIu64 " ms: %" PRIu64 " us lost on average)%s; %" PRIu64 " threads let go "
		 "to their next syscall (%" PRIu64 " of them held blocked in a call on the way; %" PRIu64
		 " calls inside libuprr-sync.so passed), %" PRIu64
		 " exits of calls that had ended logged at their end, %" PRIu64
		 " threads' ends in user code, %" PRIu64 " in glibc's wait in a condition wait or "
		 "a lock of libuprr-sync's (its acquisition's record said); the end due to every "
		 "thread at a syscall: mean %" PRIu64 " us, max %" PRIu64 " us",
		 e->k, e->exit_ends, e->given_up, (uint64_t)(EPOCH_GATHER_NS / 1000000),
		 e->given_up ? e->given_up_ns / e->given_up / 1000 : 0,
		 e->anywhere ? " (then taken in user code)" : "", e->sought, e->held_blocked,
		 e->interposer_passed, e->exits_logged,
		 e->user_ends, e->sync_ends,
		 e->reach_ns / ends / 1000, e->reach_max_ns / 1000);
	log_info("of the pauses, on average: settling %" PRIu64 " us; copying %" PRIu64 " us (reading "
		 "the threads %" PRIu64 " us, of which injected queries %" PRIu64 " us; the fork %" PRIu64
		 " us; the threads' clones %" PRIu64 " us; setting their state %" PRIu64 " us); dirty "
		 "logs %" PRIu64 " us; buffers flushed and ends logged %" PRIu64 " us; checks (not "
		 "counted) %" PRIu64 " us; after them, resuming %" PRIu64 " us",
		 e->settle_ns / ends / 1000, e->copy_ns / ends / 1000, e->copy_parts.read_ns / ends / 1000,
		 e->copy_parts.query_ns / ends / 1000, e->copy_parts.fork_ns / ends / 1000,
		 e->copy_parts.clone_ns / ends / 1000, e->copy_parts.set_ns / ends / 1000,
		 e->dirty_ns / ends / 1000, e->ends_ns / ends / 1000, e->check_ns / ends / 1000,
		 e->resume_ns / ends / 1000);
	if (e->check)
		log_info("copies checked against their process: %" PRIu64 ", %" PRIu64 " differed; "
			 "%" PRIu64 " pages not written by the dirty logs' account found unchanged",
			 e->checked, e->differed, e->unwritten_checked);
}
