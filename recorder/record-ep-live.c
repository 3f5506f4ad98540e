/* SPDX-License-Identifier: MIT */
/*
 * The re-run from checkpoint k (doc/uniparallel.md, "Divergence and
 * rollback"; rec_options.ep_live): an EP run that diverged at a syscall in
 * epoch k cannot go on from the log, so epoch k is recorded again, one
 * thread at a time with live syscalls, from where epoch k - 1 ended. The
 * trace up to there must be what replay reaches with the EP run's
 * processes (its stubs, tick page, patched sites, its buffer in replay
 * mode, the interposer following the order), so the processes that go live
 * are a new EP run's: started with the log's process and thread ids
 * (clone3(2)'s set_tid; the TP run is gone), following the log and the
 * order cut at checkpoint k (UPRR_SYNC_HEAD_OPEN_END, tp/rerun.c) to where
 * every thread stands at its end of epoch k - 1, as the EP run that
 * diverged stood there for that epoch's check. There:
 *   - each process gets the kernel state the TP run's had at checkpoint k
 *     (struct rec_live_proc, taken by tp/rerun.c from the checkpoint's copy
 *     and the TP run's processes): its descriptors, each the TP run's open
 *     file description (pidfd_getfd(2) of uprr's, Linux 5.6), its working
 *     directory and umask;
 *   - the syscall buffer's library goes to recording (ctl.replay 0, its
 *     buffers emptied; UPRR_CTL_EP stays, as the trace's exec says, so
 *     replay's library takes the same paths);
 *   - the trace says the epoch's start is final (TRACE_EV_EPOCH, verified:
 *     a recorder killed later leaves a trace that replays to here);
 *   - the log is let go: the recording goes on as an UP recording.
 * The interposer needs nothing at that point: past its thread's last
 * record of the cut order it runs unordered, in the recording and in the
 * replay alike (the trace keeps the cut order).
 */
#define LOG_PREFIX "record"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/sched.h>
#include <assert.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "ep/ep.h"
#include "kernel-merge/kernel-merge.h"
#include "preload/uprr-preload.h"
#include "preload/uprr-sync.h"
#include "recorder/record-private.h"
#include "syscalls/syscalls.h"
#include "tracee/tracee.h"
#include "x86_64/arch.h"

/* clone3(2)'s arguments up to set_tid_size (CLONE_ARGS_SIZE_VER1,
 * include/uapi/linux/sched.h); cgroup (VER2) kept when the program gave it */
struct live_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
	uint64_t set_tid, set_tid_size, cgroup;
};
#define CLONE_ARGS_VER2 88u

/* Below the thread's red zone, where the clone3 arguments go for the call:
 * REC_CLONE3_SIZE bytes (zeros past the struct), then the set_tid array. */
#define LIVE_SCRATCH 256u

struct rec_live_clone {
	uint64_t rdi, rsi;	/* the program's first two arguments */
	uint64_t addr;		/* where the arguments were written */
	uint8_t saved[LIVE_SCRATCH]; /* the bytes they covered */
	bool child_done;	/* its child stood at its first stop */
};

/* ---- the clone with the log's id ---- */

int
rec_ep_live_clone_entry(struct recorder *rec, struct rthread *t, const struct ep_call *c)
{
	struct live_clone_args a = { 0 };
	struct rec_live_clone *lc;
	struct user_regs_struct regs = t->regs;
	uint64_t flags = t->args[0], set_tid = (uint64_t)c->child, size;
	uint8_t buf[LIVE_SCRATCH] = { 0 };

	switch ((long)t->nr) {
	case __NR_clone:
		a.flags = flags & ~(uint64_t)CSIGNAL;
		a.exit_signal = flags & CSIGNAL;
		if (flags & CLONE_PIDFD)
			a.pidfd = t->args[2];
		if (flags & CLONE_PARENT_SETTID)
			a.parent_tid = t->args[2];
		a.child_tid = t->args[3];
		/* clone(2)'s stack is the child's stack pointer; clone3's
		 * the lowest address of stack_size bytes above which it starts */
		if (t->args[1]) {
			a.stack = t->args[1] - 8;
			a.stack_size = 8;
		}
		a.tls = t->args[4];
		break;
	case __NR_clone3:
		/* (uprr's filter fails the program's own with ENOSYS: seccomp.c) */
		size = MIN(t->args[1], (uint64_t)CLONE_ARGS_VER2);
		if (t->args[1] < 64 || tracee_read(t->tid, t->args[0], &a, size) < 0) {
			rec_ep_diverge(rec, t, "a clone3 whose arguments cannot be read");
			return -1;
		}
		if (size > 64 && a.set_tid_size) {
			rec_ep_diverge(rec, t, "a clone3 with set_tid of its own");
			return -1;
		}
		break;
	case __NR_fork:
		a.exit_signal = SIGCHLD;
		break;
	case __NR_vfork:
		a.flags = CLONE_VM | CLONE_VFORK;
		a.exit_signal = SIGCHLD;
		break;
	default:
		return 0;
	}
	lc = calloc(1, sizeof(*lc));
	if (!lc) {
		rec_stop_recording(rec, "%s", "out of memory");
		return -1;
	}
	lc->rdi = regs.rdi;
	lc->rsi = regs.rsi;
	lc->addr = (regs.rsp - 128 - LIVE_SCRATCH) & ~(uint64_t)15;
	static_assert(sizeof(a) <= REC_CLONE3_SIZE && REC_CLONE3_SIZE + sizeof(set_tid) <= LIVE_SCRATCH,
		      "clone3 scratch");
	size = REC_CLONE3_SIZE;
	a.set_tid = lc->addr + REC_CLONE3_SIZE;
	a.set_tid_size = 1;
	memcpy(buf, &a, sizeof(a));
	memcpy(buf + REC_CLONE3_SIZE, &set_tid, sizeof(set_tid));
	if (tracee_read(t->tid, lc->addr, lc->saved, sizeof(lc->saved)) < 0 ||
	    tracee_write(t->space->mem.memfd, lc->addr, buf, REC_CLONE3_SIZE + sizeof(set_tid)) < 0) {
		free(lc);
		rec_ep_diverge(rec, t, "cannot write the clone3 arguments of the log's id");
		return -1;
	}
	regs.orig_rax = __NR_clone3;
	regs.rdi = lc->addr;
	regs.rsi = size;
	if (tracee_set_regs(t->tid, &regs) < 0) {
		free(lc);
		return 0; /* vanished: its end comes through waitpid */
	}
	free(t->live_clone);
	t->live_clone = lc;
	log_debug("thread %d: its %s made as clone3 with id %" PRIu64, t->tid, sc_name((long)t->nr) ?: "?",
		  set_tid);
	return 0;
}

/* The bytes under @lc's arguments back, in the memory of @memfd. */
static void
put_back_memory(const struct rec_live_clone *lc, int memfd, pid_t tid)
{
	if (tracee_write(memfd, lc->addr, lc->saved, sizeof(lc->saved)) < 0)
		log_debug("thread %d: cannot put back the bytes under its clone3 arguments", tid);
}

void
rec_ep_live_clone_child(struct recorder *rec, struct rthread *parent, struct rthread *child)
{
	struct rec_live_clone *lc = parent->live_clone;

	(void)rec;
	if (!lc)
		return;
	/* the child starts with the registers of the call: the program's */
	child->regs.rdi = lc->rdi;
	child->regs.rsi = lc->rsi;
	if (tracee_set_regs(child->tid, &child->regs) < 0)
		log_debug("thread %d: cannot put back its first registers", child->tid);
	/* before anything runs: its own copy (fork), or the memory it shares
	 * (a thread, vfork: whose child runs on the parent's stack) */
	put_back_memory(lc, child->space->mem.memfd, child->tid);
	if (child->space != parent->space)
		put_back_memory(lc, parent->space->mem.memfd, parent->tid);
	lc->child_done = true;
}

void
rec_ep_live_clone_exit(struct recorder *rec, struct rthread *t)
{
	struct rec_live_clone *lc = t->live_clone;

	(void)rec;
	if (!lc)
		return;
	t->live_clone = NULL;
	/* a vfork's child ran on this stack since: what it left there stays */
	if (!lc->child_done)
		put_back_memory(lc, t->space->mem.memfd, t->tid);
	t->regs.rdi = lc->rdi;
	t->regs.rsi = lc->rsi;
	/* a restart (-ERESTARTNOINTR) makes the program's call again */
	t->regs.orig_rax = t->nr;
	if (tracee_set_regs(t->tid, &t->regs) < 0)
		log_debug("thread %d: cannot put back its registers after its clone", t->tid);
	free(lc);
}

/* ---- the input the TP run took, given again ---- */

static int give_accepted(struct recorder *rec, struct rthread *t, int64_t *ret_fd);

/* What is left to give again: bytes read, connections accepted. */
static uint64_t
redeliver_left(const struct rec_ep_live *live)
{
	uint64_t left = 0;

	for (size_t i = 0; i < live->ninputs; i++)
		left += kmerge_epoch_redeliver_left(live->inputs[i]);
	for (size_t i = 0; i < live->naccepts; i++)
		left += live->accepts[i].ours >= 0;
	return left;
}

bool
rec_ep_live_redeliver(struct recorder *rec, struct rthread *t)
{
	const struct rec_ep_live *live = rec->redeliver;
	struct user_regs_struct regs = t->regs;
	uint64_t left;
	int64_t res = 0;
	int r = 0;

	if (t->nr == __NR_accept || t->nr == __NR_accept4)
		r = give_accepted(rec, t, &res);
	for (size_t i = 0; i < live->ninputs && !r; i++)
		r = kmerge_epoch_redeliver(live->inputs[i], t->tid, t->space->mem.memfd, (long)t->nr, t->args, &res);
	left = redeliver_left(live);
	if (!left) {
		/* all given back: reads go live (the library's stay traced) */
		log_info("re-run: the input the TP run took since checkpoint %" PRIu64 " given back", live->k);
		rec->redeliver = NULL;
	}
	if (r < 0) {
		rec_stop_recording(rec, "the re-run cannot give thread %d the input the TP run %s: %s", t->tid,
				   t->nr == __NR_accept || t->nr == __NR_accept4 ? "accepted" : "read", strerror(-r));
		return true;
	}
	if (!r)
		return false;
	/* answered: skipped, the bytes in its buffer, recorded as any call
	 * (its exit event holds them; replay gives them from it) */
	regs.orig_rax = (uint64_t)-1;
	regs.rax = (uint64_t)res;
	if (tracee_set_regs(t->tid, &regs) < 0)
		return true; /* vanished: its end comes through waitpid */
	t->may_block = false;
	rec_run_syscall(rec, t);
	return true;
}

/* ---- signals from outside, sent again ---- */

/* Whether @si, a signal the TP run's thread took, came from outside the
 * recording: sent by a process none of the log's threads is (kill(2),
 * sigqueue(3), tgkill(2): si_pid; a SIGPIPE or a signal one of its
 * processes sent comes again by itself), or by the terminal to its
 * foreground (SI_KERNEL: ^C, ^\, ^Z, a hangup, a resize: isig() in
 * drivers/tty/n_tty.c, tty_signal_session_leader(), Linux 6.1). Not the
 * kernel's others (SIGALRM, SIGXCPU are SI_KERNEL too: the program's own). */
static bool
from_outside(const struct ep_log *log, const siginfo_t *si)
{
	switch (si->si_code) {
	case SI_USER:
	case SI_QUEUE:
	case SI_TKILL:
		for (size_t i = 0; i < ep_log_nthreads(log); i++)
			if (ep_log_thread(log, i) == si->si_pid)
				return false;
		return si->si_pid > 0;
	case SI_KERNEL:
		return si->si_signo == SIGINT || si->si_signo == SIGQUIT || si->si_signo == SIGTSTP ||
		       si->si_signo == SIGHUP || si->si_signo == SIGWINCH;
	default:
		return false;
	}
}

/* Append @ls to @v (of *@n, *@cap). */
static int
add_signal(struct rec_live_signal **v, size_t *n, size_t *cap, const struct rec_live_signal *ls)
{
	if (UTIL_GROW(*v, *cap, *n + 1) < 0)
		return -ENOMEM;
	(*v)[(*n)++] = *ls;
	return 0;
}

/* How many of call @c's signals @t was given: those at its exit
 * (rec_ep_exit_signals()), then the one instead of entering the next
 * call (rec_ep_signal_at_entry()). */
static uint32_t
signals_given(const struct rthread *t, const struct ep_call *c)
{
	return t->ep_entry_given == c ? c->nsigs : t->ep_signalled == c ? c->nexit : 0;
}

/* The signals from outside that the log's threads took after the calls
 * the re-run made of it (delivered at the exit of a call not made yet, or
 * of the one a thread is parked after and was not given: after
 * checkpoint k), thread by thread (their order between threads is
 * not known), then those pending in the TP run when it was killed
 * (rec_ep_live.pending), before those that came while the re-run followed
 * the log (rec_ep_live_keep_signal()), in rec->live_sigs. */
static int
take_signals(struct recorder *rec, const struct ep_log *log)
{
	struct rec_live_signal *v = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < rec->nthreads; i++) {
		const struct rthread *t = &rec->threads[i];
		pid_t log_tid = ep_log_tid(log, t->tid);
		const struct ep_call *c;

		size_t idx = ep_log_taken(log, log_tid);

		if (t->state == RT_ZOMBIE || !log_tid)
			continue;
		/* parked after an exit whose signals it was not given, or at
		 * the entry of the call it took from the log and has not made
		 * (its signals came after that call's exit): those came after
		 * the checkpoint (rec_ep_exit_signals()) */
		c = t->ep_parked && t->ep_call && signals_given(t, t->ep_call) < t->ep_call->nsigs &&
			    (!t->ep_parked_entry ||
			     (idx && t->ep_call == ep_log_call(log, log_tid, idx - 1) &&
			      t->ep_call->nr == (long)t->regs.orig_rax))
			    ? t->ep_call
			    : ep_log_call(log, log_tid, idx++);
		for (; c; c = ep_log_call(log, log_tid, idx++))
			for (uint32_t j = signals_given(t, c); j < c->nsigs; j++) {
				struct rec_live_signal ls = { .tgid = t->tgid, .tid = t->tid };

				memcpy(&ls.info, c->sigs[j].info, sizeof(ls.info));
				if (from_outside(log, &ls.info) && add_signal(&v, &n, &cap, &ls) < 0) {
					free(v);
					return -ENOMEM;
				}
			}
	}
	for (size_t i = 0; i < rec->ep->live->npending; i++)
		if (from_outside(log, &rec->ep->live->pending[i].info) &&
		    add_signal(&v, &n, &cap, &rec->ep->live->pending[i]) < 0) {
			free(v);
			return -ENOMEM;
		}
	for (size_t i = 0; i < rec->nlive_sigs; i++)
		if (add_signal(&v, &n, &cap, &rec->live_sigs[i]) < 0) {
			free(v);
			return -ENOMEM;
		}
	free(rec->live_sigs);
	rec->live_sigs = v;
	rec->nlive_sigs = n;
	return 0;
}

void
rec_ep_live_keep_signal(struct recorder *rec, const struct rthread *t, const siginfo_t *si)
{
	struct rec_live_signal ls = { .tgid = t->tgid, .tid = t->tid, .info = *si };
	size_t cap = rec->nlive_sigs;

	if (from_outside(rec->ep->log, si) && add_signal(&rec->live_sigs, &rec->nlive_sigs, &cap, &ls) < 0)
		log_warn("the re-run: out of memory: signal %d from outside is lost", si->si_signo);
}

/* Whether signal @sig waits for process @tgid's threads: pending in the
 * kernel, or taken by uprr for a thread's execution point. */
static bool
signal_waits(const struct recorder *rec, pid_t tgid, int sig)
{
	uint64_t bit = 1ull << (sig - 1), mask = 0;

	if (tracee_read_status_sigset(tgid, "ShdPnd", &mask) == 0 && (mask & bit))
		return true;
	for (size_t i = 0; i < rec->nthreads; i++) {
		const struct rthread *t = &rec->threads[i];

		if (t->tgid != tgid || t->state == RT_ZOMBIE)
			continue;
		if (t->deferred_sig == sig ||
		    (tracee_read_status_sigset(t->tid, "SigPnd", &mask) == 0 && (mask & bit)))
			return true;
		for (size_t j = 0; j < t->nlater; j++)
			if (t->later[j].si_signo == sig)
				return true;
	}
	return false;
}

void
rec_ep_live_signals(struct recorder *rec)
{
	const struct rec_live_signal *ls;
	int r;

	if (rec->ep || rec->live_sigs_sent >= rec->nlive_sigs)
		return; /* following the log still, or none */
	ls = &rec->live_sigs[rec->live_sigs_sent];
	if (rec->live_sigs_sent && signal_waits(rec, ls[-1].tgid, ls[-1].info.si_signo))
		return;
	/* as a kill(2) of uprr's (as it forwards SIGTERM), but one queued
	 * with its value; sigqueue(3) keeps its sender's si_pid (a negative
	 * si_code may be given: rt_sigqueueinfo(2)) */
	if (ls->info.si_code == SI_TKILL)
		r = (int)syscall(SYS_tgkill, ls->tgid, ls->tid, ls->info.si_signo);
	else if (ls->info.si_code == SI_QUEUE)
		r = (int)syscall(SYS_rt_sigqueueinfo, ls->tgid, ls->info.si_signo, &ls->info);
	else
		r = kill(ls->tgid, ls->info.si_signo);
	if (r < 0)
		log_warn("the re-run: cannot send signal %d (from outside, to process %d) again: %m",
			 ls->info.si_signo, ls->tgid);
	else
		log_info("the re-run: signal %d from outside (process %d) sent again to process %d",
			 ls->info.si_signo, ls->info.si_pid, ls->tgid);
	/* one uprr forwarded: the bound on the program's end counts from now */
	if (r == 0 && ls->info.si_pid == getpid())
		rec_forward_resent(ls->info.si_signo);
	rec->live_sigs_sent++;
}

/* ---- going live ---- */

/* The state tp/rerun.c took of process @pid, NULL if none. */
static const struct rec_live_proc *
live_proc(const struct rec_ep_live *live, pid_t pid)
{
	for (size_t i = 0; i < live->nprocs; i++)
		if (live->procs[i].pid == pid)
			return &live->procs[i];
	return NULL;
}

/* Run @nr(@args) in @t, which stands parked at its end: after a call's
 * exit (a stop it returns to user code from), or at a call's entry, which
 * is skipped for it and then made again to its seccomp stop, as
 * prepare_mmap() does. *@ret the result. Returns 0 or -errno. */
struct live_injector {
	struct rthread *t;
	bool at_entry;		/* it stands at a call's entry (not parked) */
	bool skipped;		/* at an entry, the call skipped */
	struct user_regs_struct parked;
};

static int
inject_args(struct live_injector *in, long nr, const uint64_t args[6], int64_t *ret)
{
	struct rthread *t = in->t;
	int r;

	if ((t->ep_parked_entry || in->at_entry) && !in->skipped) {
		struct user_regs_struct skip;

		r = tracee_get_regs(t->tid, &in->parked);
		if (r < 0)
			return r;
		skip = in->parked;
		skip.orig_rax = (uint64_t)-1;
		r = tracee_set_regs(t->tid, &skip);
		if (r < 0)
			return r;
		in->skipped = true;
	}
	return tracee_inject_syscall(t->tid, t->space->mem.memfd, nr, args, ret);
}

static int
inject(struct live_injector *in, long nr, uint64_t a0, uint64_t a1, uint64_t a2, int64_t *ret)
{
	uint64_t args[6] = { a0, a1, a2, 0, 0, 0 };

	return inject_args(in, nr, args, ret);
}

/* The call skipped at the thread's entry is made again, to its seccomp
 * stop, with the registers it stood there with. */
static int
inject_done(struct recorder *rec, struct live_injector *in)
{
	struct user_regs_struct regs = in->parked;

	if (!in->skipped)
		return 0;
	arch_rewind_syscall(&regs);
	regs.rax = in->parked.orig_rax;
	if (tracee_set_regs(in->t->tid, &regs) < 0)
		return -ESRCH;
	if (rec_ep_restart_call(rec, in->t) < 0)
		return -EIO;
	return tracee_set_regs(in->t->tid, &in->parked);
}

/*
 * @t stands at the entry of an accept(2) or accept4(2) of a listening
 * socket the TP run accepted a connection of since the checkpoint (the
 * re-run's first accepts of it): the connection, uprr's
 * (rec_ep_live.accepts, in the order the TP run accepted them), is put in
 * its process (pidfd_getfd(2), injected) with the call's flags
 * (SOCK_CLOEXEC, SOCK_NONBLOCK), and the peer's address where the call
 * asks for it (getpeername(2)). 1 with the new fd in *@ret_fd; 0 none is
 * due (the call runs live); -errno.
 */
static int
give_accepted(struct recorder *rec, struct rthread *t, int64_t *ret_fd)
{
	const struct rec_ep_live *live = rec->redeliver;
	struct live_injector in = { .t = t, .at_entry = true };
	uint64_t flags = t->nr == __NR_accept4 ? t->args[3] : 0;
	struct rec_live_accept *a = NULL;
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	int64_t pidfd = -1, got = -1, res = 0;
	uint32_t alen;
	struct stat st;
	int r;

	if (tracee_fd_stat(t->tid, (int)t->args[0], &st) < 0)
		return 0;
	for (size_t i = 0; i < live->naccepts && !a; i++)
		if (live->accepts[i].ours >= 0 && live->accepts[i].ldev == st.st_dev &&
		    live->accepts[i].lino == st.st_ino)
			a = &live->accepts[i];
	if (!a)
		return 0;
	if (getpeername(a->ours, (struct sockaddr *)&peer, &plen) < 0)
		plen = 0;
	r = inject(&in, __NR_pidfd_open, (uint64_t)getpid(), 0, 0, &pidfd);
	if (r >= 0 && pidfd >= 0)
		r = inject(&in, __NR_pidfd_getfd, (uint64_t)pidfd, (uint64_t)a->ours, 0, &got);
	if (r >= 0 && pidfd >= 0)
		r = inject(&in, __NR_close, (uint64_t)pidfd, 0, 0, &res);
	/* pidfd_getfd(2) sets FD_CLOEXEC; the status flags are accept's */
	if (r >= 0 && got >= 0 && !(flags & SOCK_CLOEXEC))
		r = inject(&in, __NR_fcntl, (uint64_t)got, F_SETFD, 0, &res);
	if (r >= 0 && got >= 0)
		r = inject(&in, __NR_fcntl, (uint64_t)got, F_SETFL, flags & SOCK_NONBLOCK ? O_NONBLOCK : 0, &res);
	if (inject_done(rec, &in) < 0 && r >= 0)
		r = -EIO;
	if (r >= 0 && (pidfd < 0 || got < 0))
		r = (int)(pidfd < 0 ? pidfd : got);
	if (r < 0)
		return r;
	close(a->ours);
	a->ours = -1;
	/* its address, cut to the room given, and its whole length (accept(2)) */
	if (t->args[1] && t->args[2] && tracee_read(t->tid, t->args[2], &alen, sizeof(alen)) == 0) {
		if ((r = tracee_write(t->space->mem.memfd, t->args[1], &peer, MIN(alen, plen))) < 0 ||
		    (r = tracee_write(t->space->mem.memfd, t->args[2], &plen, sizeof(plen))) < 0)
			return r;
	}
	log_debug("thread %d: accept of fd %d given fd %" PRId64 ", the connection the TP run accepted",
		  t->tid, (int)t->args[0], got);
	*ret_fd = got;
	return 1;
}

/* Run @nr(@a) whose argument @argi points to @len bytes @buf: written
 * below the red zone, the bytes there put back after. */
static int
inject_with(struct live_injector *in, long nr, uint64_t a[6], int argi, const void *buf, size_t len, int64_t *ret)
{
	struct rthread *t = in->t;
	struct user_regs_struct regs;
	uint8_t *saved;
	uint64_t at;
	int r;

	r = tracee_get_regs(t->tid, &regs);
	if (r < 0)
		return r;
	at = (regs.rsp - 128 - len) & ~(uint64_t)15;
	saved = malloc(len);
	if (!saved)
		return -ENOMEM;
	r = tracee_read(t->tid, at, saved, len);
	if (r >= 0)
		r = tracee_write(t->space->mem.memfd, at, buf, len);
	a[argi] = at;
	if (r >= 0)
		r = inject_args(in, nr, a, ret);
	if (tracee_write(t->space->mem.memfd, at, saved, len) < 0 && r >= 0)
		r = -EFAULT;
	free(saved);
	return r;
}

/* Run a call whose argument is a string (inject_with()). */
static int
inject_path(struct live_injector *in, long nr, const char *path, int64_t *ret)
{
	uint64_t a[6] = { 0 };

	return inject_with(in, nr, a, 0, path, strlen(path) + 1, ret);
}

/* The entries of each epoll instance made anew that this process adds
 * (rec_live_fd.epoll_items): epoll_ctl(2) EPOLL_CTL_ADD of each, with its
 * events and data, once every descriptor is in place. */
static int
add_epoll_items(struct live_injector *in, const struct rec_live_proc *p, char *why, size_t len)
{
	for (size_t i = 0; i < p->nfds; i++) {
		const struct rec_live_fd *f = &p->fds[i];

		for (size_t j = 0; j < f->nepoll_items; j++) {
			const struct rec_live_epoll_item *it = &f->epoll_items[j];
			struct epoll_event ev = { .events = it->events, .data.u64 = it->data };
			uint64_t a[6] = { (uint64_t)f->fd, EPOLL_CTL_ADD, (uint64_t)it->tfd, 0, 0, 0 };
			int64_t res = 0;
			int r = inject_with(in, __NR_epoll_ctl, a, 3, &ev, sizeof(ev), &res);

			if (r < 0 || res < 0) {
				snprintf(why, len, "process %d: epoll_ctl(2) ADD of fd %d to its epoll instance fd %d: %s",
					 p->pid, it->tfd, f->fd, strerror(r < 0 ? -r : (int)-res));
				return r < 0 ? r : -EIO;
			}
		}
	}
	return 0;
}

/* Give process @p's kernel state to its thread @t: every descriptor the
 * EP run's process holds closed, each of @p's made the same open file
 * description as the TP run's (uprr's copy of it, pidfd_getfd(2) from the
 * process itself), its working directory and umask. */
static int
give_state(struct recorder *rec, struct rthread *t, const struct rec_live_proc *p, char *why, size_t len)
{
	struct live_injector in = { .t = t };
	int64_t res = 0, pidfd, got;
	int high = 3, r;
	char cwd[PATH_MAX], link[64];
	ssize_t n;

	for (size_t i = 0; i < p->nfds; i++)
		high = MAX(high, p->fds[i].fd + 1);
	/* the EP run's own: the log's copies its mappings opened, what it
	 * inherited from uprr */
	r = inject(&in, __NR_close_range, 0, ~0U, 0, &res);
	if (r < 0 || res < 0)
		goto fail_close;
	r = inject(&in, __NR_pidfd_open, (uint64_t)getpid(), 0, 0, &pidfd);
	if (r < 0 || pidfd < 0) {
		snprintf(why, len, "process %d: pidfd_open(2) of uprr: %s", p->pid,
			 strerror(r < 0 ? -r : (int)-pidfd));
		goto fail;
	}
	/* above every descriptor it gets */
	r = inject(&in, __NR_fcntl, (uint64_t)pidfd, F_DUPFD_CLOEXEC, (uint64_t)high, &got);
	if (r >= 0 && got >= 0)
		r = inject(&in, __NR_close, (uint64_t)pidfd, 0, 0, &res);
	if (r < 0 || got < 0) {
		snprintf(why, len, "process %d: cannot move its pidfd", p->pid);
		goto fail;
	}
	pidfd = got;
	/* two passes, the files of /proc in the second: /proc/PID/fdinfo/N
	 * needs its N */
	for (size_t i = 0; i < 2 * p->nfds; i++) {
		bool second = i >= p->nfds;
		const struct rec_live_fd *f = &p->fds[i % p->nfds];

		if ((f->reopen != NULL) != second)
			continue;
		if (f->reopen) {
			/* a file of /proc: opened anew by the process (the TP
			 * run's description shows a process gone) */
			uint64_t a[6] = { (uint64_t)AT_FDCWD, 0,
					  (uint64_t)((f->flags & ~(O_CREAT | O_TRUNC | O_EXCL)) | O_CLOEXEC), 0, 0, 0 };

			r = inject_with(&in, __NR_openat, a, 1, f->reopen, strlen(f->reopen) + 1, &got);
			if (r >= 0 && got >= 0 && f->pos)
				r = inject(&in, __NR_lseek, (uint64_t)got, (uint64_t)f->pos, SEEK_SET, &res);
		} else {
			r = inject(&in, __NR_pidfd_getfd, (uint64_t)pidfd, (uint64_t)f->ours, 0, &got);
		}
		if (r >= 0 && got < 0) {
			snprintf(why, len, "process %d: %s of its fd %d%s%s: %s", p->pid,
				 f->reopen ? "open(2)" : "pidfd_getfd(2)", f->fd, f->reopen ? ", " : "",
				 f->reopen ? f->reopen : "", strerror((int)-got));
			goto fail;
		}
		if (r >= 0 && got != f->fd) {
			r = inject(&in, __NR_dup3, (uint64_t)got, (uint64_t)f->fd, f->cloexec ? O_CLOEXEC : 0, &res);
			if (r >= 0 && res >= 0)
				r = inject(&in, __NR_close, (uint64_t)got, 0, 0, &res);
		} else if (r >= 0 && !f->cloexec) {
			/* pidfd_getfd(2) sets FD_CLOEXEC */
			r = inject(&in, __NR_fcntl, (uint64_t)got, F_SETFD, 0, &res);
		}
		if (r < 0 || res < 0) {
			snprintf(why, len, "process %d: cannot give it fd %d", p->pid, f->fd);
			goto fail;
		}
	}
	r = inject(&in, __NR_close, (uint64_t)pidfd, 0, 0, &res);
	if (r < 0)
		goto fail_close;
	r = add_epoll_items(&in, p, why, len);
	if (r < 0)
		goto fail;
	snprintf(link, sizeof(link), "/proc/%d/cwd", t->tgid);
	n = readlink(link, cwd, sizeof(cwd) - 1);
	cwd[n > 0 ? n : 0] = 0;
	if (strcmp(cwd, p->cwd) != 0) {
		r = inject_path(&in, __NR_chdir, p->cwd, &res);
		if (r < 0 || res < 0) {
			snprintf(why, len, "process %d: cannot chdir to %s", p->pid, p->cwd);
			goto fail;
		}
	}
	r = inject(&in, __NR_umask, p->umask, 0, 0, &res);
	if (r < 0)
		goto fail_close;
	/* the timers the TP run had armed, which the EP run answered from the
	 * log, and the signal of one that had gone off, still pending (a
	 * program in pause(2) for its SIGALRM waited for good without them) */
	r = rec_timers_set(t->tid, t->tgid, t->space->mem.memfd, &p->timers);
	if (r < 0) {
		snprintf(why, len, "process %d: its interval timers cannot be set: %s", p->pid,
			 strerror(-r));
		goto fail;
	}
	r = inject_done(rec, &in);
	if (r < 0) {
		snprintf(why, len, "thread %d: its call did not start again", t->tid);
		return r;
	}
	return 0;
fail_close:
	snprintf(why, len, "process %d: an injected call failed (%s)", p->pid,
		 strerror(r < 0 ? -r : (int)-res));
fail:
	(void)inject_done(rec, &in);
	return r < 0 ? r : -EIO;
}

/* The syscall buffer's library of @t's process records from now on, and
 * @t's buffer holds nothing (the log's records the EP run put there go). */
static int
buffer_to_recording(struct recorder *rec, struct rthread *t, bool process)
{
	static const uint32_t zero = 0;
	uint64_t addr;
	int r;

	if (!t->space->mem.syscallbuf)
		return 0;
	if (process) {
		r = tracee_write(t->space->mem.memfd, UPRR_PRELOAD_CTL_ADDR + offsetof(struct uprr_ctl, replay),
				 &zero, sizeof(zero));
		if (r < 0)
			return r;
	}
	addr = rec_syscallbuf_addr(rec, t);
	t->ep_sb_n = 0;
	t->ep_sb_addr = 0;
	t->ep_sb_first = NULL;
	if (!addr)
		return 0;
	return tracee_write(t->space->mem.memfd, addr + offsetof(struct uprr_buf, used), &zero, sizeof(zero));
}

/* The cut synchronization order @path (tp/rerun.c) no longer grows:
 * uprr_sync_head.growing 0. Returns 0 or -errno. */
static int
cut_order_done(const char *path)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	uint32_t zero = 0;

	if (fd < 0)
		return -errno;
	if (pwrite(fd, &zero, sizeof(zero), (off_t)offsetof(struct uprr_sync_head, growing)) != sizeof(zero))
		return -EIO;
	return 0;
}

void
rec_ep_go_live(struct recorder *rec)
{
	struct rec_ep *ep = rec->ep;
	struct rec_ep_live *live = ep->live;
	uint64_t t0 = util_now_ns();
	char why[256] = "";
	int r;

	/* what each buffer's library took of the log's records is in the
	 * trace before anything changes */
	for (size_t i = 0; i < rec->nthreads; i++) {
		struct rthread *t = &rec->threads[i];

		if (t->state == RT_ZOMBIE)
			continue;
		r = rec_syscallbuf_flush(rec, t);
		if (r < 0) {
			rec_stop_recording(rec, "the re-run from checkpoint %" PRIu64 ": cannot take thread "
					   "%d's buffer: %s", live->k, t->tid, strerror(-r));
			return;
		}
	}
	for (size_t i = 0; i < rec->nthreads && !why[0]; i++) {
		struct rthread *t = &rec->threads[i], *best = NULL;
		const struct rec_live_proc *p;
		bool seen = false;

		for (size_t j = 0; j < i; j++)
			seen |= rec->threads[j].tgid == t->tgid;
		if (seen || t->state == RT_ZOMBIE)
			continue;
		/* a thread of it parked after an exit takes the injections
		 * as it stands; else one parked at an entry */
		for (size_t j = 0; j < rec->nthreads; j++) {
			struct rthread *u = &rec->threads[j];

			if (u->tgid != t->tgid || u->state == RT_ZOMBIE || !u->ep_parked)
				continue;
			if (!best || (best->ep_parked_entry && !u->ep_parked_entry))
				best = u;
		}
		p = live_proc(live, ep_log_tid(ep->log, t->tgid));
		if (!p) {
			snprintf(why, sizeof(why), "process %d has no kernel state of checkpoint %" PRIu64,
				 t->tgid, live->k);
			break;
		}
		if (!best) {
			snprintf(why, sizeof(why), "process %d has no thread parked at its end", t->tgid);
			break;
		}
		if (buffer_to_recording(rec, t, true) < 0) {
			snprintf(why, sizeof(why), "process %d: cannot set its syscall buffer to record",
				 t->tgid);
			break;
		}
		if (give_state(rec, best, p, why, sizeof(why)) < 0 && !why[0])
			snprintf(why, sizeof(why), "process %d: cannot give it its kernel state", t->tgid);
		live->fds += (unsigned)p->nfds;
	}
	for (size_t i = 0; i < rec->nthreads && !why[0]; i++)
		if (rec->threads[i].state != RT_ZOMBIE && buffer_to_recording(rec, &rec->threads[i], false) < 0)
			snprintf(why, sizeof(why), "thread %d: cannot empty its syscall buffer",
				 rec->threads[i].tid);
	if (why[0]) {
		snprintf(live->why, sizeof(live->why), "%s", why);
		rec_stop_recording(rec, "the re-run from checkpoint %" PRIu64 " cannot go live: %s", live->k,
				   why);
		return;
	}
	/* the cut order no longer grows, and is seen whole: a thread that
	 * waited in it for its record at this end goes on, unordered (the EP
	 * run's private mappings see the file's page; the trace keeps it so,
	 * tp/tp.c) */
	rec_ep_view(rec, 0);
	if (live->sync_cut && cut_order_done(live->sync_cut) < 0) {
		rec_stop_recording(rec, "the re-run from checkpoint %" PRIu64 ": cannot end the cut order %s",
				   live->k, live->sync_cut);
		return;
	}
	/* the trace up to here is final: the log's answers, its output what
	 * went out (rec_hold_shown_same()) */
	rec_ep_write_verdict(rec, live->k, TRACE_EPOCH_VERIFIED);
	if (rec->done)
		return;
	/* what the TP run read from outside since: given again to the first
	 * reads, which the libraries send the traced way until then
	 * (UPRR_CTL_ORDER_READS; replay takes each call's way from the trace) */
	if (redeliver_left(live))
		rec->redeliver = live;
	for (size_t i = 0; rec->redeliver && i < rec->nthreads; i++)
		if (rec->threads[i].state != RT_ZOMBIE && rec->threads[i].space->mem.syscallbuf &&
		    rec_syscallbuf_set_flags(rec->threads[i].space->mem.memfd, UPRR_CTL_ORDER_READS, true) < 0)
			log_debug("thread %d: its reads stay in its buffer", rec->threads[i].tid);
	/* the signals from outside that the TP run took since, and those
	 * that came while following the log: sent again (the first once
	 * the log is let go) */
	if (take_signals(rec, ep->log) < 0)
		log_warn("%s", "the re-run: out of memory: signals from outside the TP run took since the "
			 "checkpoint are not sent again");
	live->signals = (unsigned)rec->nlive_sigs;
	/* the log let go: the parked threads run on live */
	rec->ep_gone = ep;
	rec->ep = NULL;
	for (size_t i = 0; i < rec->nthreads; i++) {
		struct rthread *t = &rec->threads[i];

		t->ep_call = NULL;
		t->ep_restart = NULL;
		t->ep_map_fd = 0;
		t->ep_sync_rec = 0;
		t->ep_sync_frame = 0;
		if (!t->ep_parked)
			continue;
		t->ep_parked = false;
		sched_set_state(rec->sched, t->tid, SCHED_RUNNABLE);
	}
	rec_ep_live_signals(rec);
	live->went_live = true;
	if (live->let_go)
		live->let_go(live->let_go_arg);
	live->switch_ns = util_now_ns() - t0;
	log_info("the re-run went live at checkpoint %" PRIu64 ": %u descriptors given, %.3f ms", live->k,
		 live->fds, (double)live->switch_ns / 1e6);
}
