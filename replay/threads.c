/* SPDX-License-Identifier: MIT */
/*
 * Replay's threads and processes: a clone creates the thread or process at
 * its recorded event under its recorded id, an exec runs the trace's copy
 * of the image, and threads and processes end where the recording says
 * (robust mutexes of dead owners marked, zombie leaders waited for).
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

static int wait_gone(pid_t tid, int *ret_status);

/* Threads of process @tgid are about to die: the kernel would mark the robust
 * mutexes they hold, as it did in the recording (replay/robust.c). */
static int
robust_exit_group(struct replayer *rp, const struct trace_event *ev, pid_t tgid)
{
	for (size_t i = 0; i < rp->nthreads; i++) {
		struct pthread_r *u = &rp->threads[i];

		if (u->tgid == tgid && u->state != PT_ZOMBIE &&
		    replay_robust_exit(u->tid, u->space->memfd, u->rec_tid) < 0)
			return replay_diverge(rp, ev, "cannot mark the robust mutexes of thread %d", u->tid);
	}
	return 0;
}

int
replay_on_thread_exit(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t)
{
	enum tracee_stop kind;
	int status, sig;

	if (t->state == PT_HELD && ev->nvalues >= 2 && ev->values[1] &&
	    WIFSIGNALED((int)ev->values[0]) && WTERMSIG((int)ev->values[0]) == SIGSYS) {
		/* a seccomp filter of the program killed it at a syscall in its
		 * run of user code (SECCOMP_RET_KILL_THREAD, no signal stop): the
		 * same filter does it again; its end (CLONE_CHILD_CLEARTID) must
		 * come before the events that follow */
		if (replay_robust_exit(t->tid, t->space->memfd, t->rec_tid) < 0)
			return replay_diverge(rp, ev, "cannot mark the robust mutexes of thread %d", t->tid);
		tracee_resume(t->tid, PTRACE_CONT, 0);
		if (wait_gone(t->tid, &status) < 0)
			return replay_diverge(rp, ev, "lost thread %d", t->tid);
		replay_remove_thread(rp, t);
		return 0;
	}
	if (t->state != PT_AT_ENTRY || t->nr != __NR_exit)
		return 0; /* dies in a group exit: reaped at the process exit */
	if (replay_robust_exit(t->tid, t->space->memfd, t->rec_tid) < 0)
		return replay_diverge(rp, ev, "cannot mark the robust mutexes of thread %d", t->tid);
	tracee_resume(t->tid, PTRACE_CONT, 0);
	for (;;) {
		if (tracee_wait(t->tid, &status) < 0)
			return replay_diverge(rp, ev, "lost thread %d", t->tid);
		kind = tracee_classify(status, &sig);
		if (kind == TRACEE_GONE)
			break;
		tracee_resume(t->tid, PTRACE_CONT, 0);
		if (kind == TRACEE_STOP_EXIT && t->tid == t->tgid) {
			/* a leader before its other threads: reported gone only
			 * after them (ptrace(2)); its exit is done as a zombie */
			if (tracee_wait_zombie(t->tid, 5000000000ull) < 0)
				return replay_diverge(rp, ev, "the main thread of process %d did not exit",
					       t->tgid);
			t->state = PT_ZOMBIE;
			return 0;
		}
	}
	replay_remove_thread(rp, t);
	return 0;
}

/* Wait until thread @tid is gone, letting it die: syscalls it still reaches
 * are skipped, never executed. Stores its wait status. */
static int
wait_gone(pid_t tid, int *ret_status)
{
	struct user_regs_struct regs;
	int status, sig;

	for (;;) {
		if (tracee_wait(tid, &status) < 0)
			return -ESRCH;
		switch (tracee_classify(status, &sig)) {
		case TRACEE_GONE:
			*ret_status = status;
			return 0;
		case TRACEE_STOP_SECCOMP:
			if (tracee_get_regs(tid, &regs) == 0) {
				regs.orig_rax = (uint64_t)-1;
				if (tracee_set_regs(tid, &regs) < 0)
					log_debug("cannot skip a syscall of %d", tid);
			}
			break;
		default:
			break;
		}
		tracee_resume(tid, PTRACE_CONT, 0);
	}
}

/*
 * Reap and forget the threads of process @tgid but the one recorded as
 * @keep; the one that has the leader's id (its death comes last, or never
 * after an exec by another thread, see ptrace(2)) is forgotten unwaited.
 * Returns 0, or -ESRCH if one vanished unreported.
 */
static int
reap_group_but(struct replayer *rp, pid_t tgid, pid_t keep)
{
	int status;

	for (size_t i = 0; i < rp->nthreads;) {
		struct pthread_r *u = &rp->threads[i];

		if (u->tgid != tgid || u->rec_tid == keep) {
			i++;
			continue;
		}
		if (u->tid != tgid && wait_gone(u->tid, &status) < 0)
			return -ESRCH;
		replay_remove_thread(rp, u);
	}
	return 0;
}

/*
 * A process ends: let the thread that exits (exit_group, or the last exit)
 * run; a fatal signal is already on its way. Threads held at a syscall stay
 * held: the group exit's SIGKILL wakes them and the kernel skips their
 * syscall (seccomp, kernel 5.x: fatal_signal_pending). Its threads are
 * reaped one by one, the leader last (its status comes once all are gone);
 * other processes, which may be stopped or in a syscall, are not touched.
 */
int
replay_on_process_exit(struct replayer *rp, const struct trace_event *ev)
{
	int want = (int)ev->values[0], status = 0;
	struct pthread_r *leader = replay_find_rec(rp, (pid_t)ev->tid);
	unsigned moving = 0;
	pid_t tgid;
	bool same;

	if (!leader)
		return replay_diverge(rp, ev, "the end of unknown process %u", ev->tid);
	tgid = leader->tgid;
	if (robust_exit_group(rp, ev, tgid) < 0)
		return rp->error;
	for (size_t i = 0; i < rp->nthreads; i++) {
		struct pthread_r *t = &rp->threads[i];

		if (t->tgid != tgid)
			continue;
		if (t->state == PT_AT_ENTRY && (t->nr == __NR_exit_group || t->nr == __NR_exit)) {
			tracee_resume(t->tid, PTRACE_CONT, 0);
			t->state = PT_RUNNING;
		}
		moving += t->state == PT_RUNNING || t->state == PT_ZOMBIE;
	}
	if (!moving && WIFSIGNALED(want) && WTERMSIG(want) == SIGSYS) {
		/* a seccomp filter of the program killed it at a syscall
		 * (SECCOMP_RET_KILL_*: SIGSYS with no delivery stop, SA_IMMUTABLE,
		 * force_sig_seccomp(), kernel/signal.c): the same filter does it
		 * again when its threads run on to that syscall */
		for (size_t i = 0; i < rp->nthreads; i++) {
			struct pthread_r *t = &rp->threads[i];

			if (t->tgid == tgid && t->state == PT_HELD) {
				tracee_resume(t->tid, PTRACE_CONT, 0);
				t->state = PT_RUNNING;
				moving++;
			}
		}
	}
	if (!moving) {
		/* killed from outside (SIGKILL is never a delivery stop) */
		if (!WIFSIGNALED(want))
			return replay_diverge(rp, ev, "the process ended without an exit");
		kill(tgid, WTERMSIG(want));
	}
	if (reap_group_but(rp, tgid, (pid_t)ev->tid) < 0)
		return replay_diverge(rp, ev, "lost a thread of process %d", tgid);
	leader = replay_find_rec(rp, (pid_t)ev->tid);
	if (wait_gone(tgid, &status) < 0)
		return replay_diverge(rp, ev, "lost process %d", tgid);
	replay_remove_thread(rp, leader);
	if (!rp->nthreads)
		rp->done = true;
	same = WIFEXITED(want) ? WIFEXITED(status) && WEXITSTATUS(status) == WEXITSTATUS(want)
			       : WIFSIGNALED(status) && WTERMSIG(status) == WTERMSIG(want);
	if (!same)
		return replay_diverge(rp, ev, "process %u ended with status 0x%x, recorded 0x%x", ev->tid,
			       status, want);
	if ((pid_t)ev->tid == rp->rec_leader)
		rp->status = want;
	return 0;
}

/*
 * A clone, fork or vfork created thread or process ev->tid: run the creator's
 * syscall, held at its entry, to its clone event and take the new one over
 * under its recorded id (ids the kernel wrote into memory read as recorded).
 * The creator's syscall exit has an event of its own: a vfork returns only
 * once its child execs or exits.
 */
int
replay_on_thread_start(struct replayer *rp, const struct trace_event *ev)
{
	uint64_t flags = ev->nvalues >= 2 ? ev->values[1] : CLONE_VM | CLONE_THREAD;
	struct pthread_r *t = replay_find_rec(rp, (pid_t)ev->values[0]), *child;
	uint32_t rec_tid = ev->tid, parent_view = rec_tid, own = rec_tid;
	struct user_regs_struct regs;
	unsigned long msg = 0;
	struct rec_space *sp;
	int status, sig;
	pid_t tid, tgid, ptid;

	if (!t || t->state != PT_AT_ENTRY || !sc_is_clone(t->nr))
		return replay_diverge(rp, ev, "thread %u starts without a clone", ev->tid);
	ptid = t->tid;
	if (!(flags & CLONE_THREAD) && t->nr == __NR_clone) {
		/* no SIGCHLD when it ends: its parent's wait is replayed from the
		 * trace, and a signal the kernel sends would not be recorded
		 * (fork and vfork keep theirs: replay_noise drops it) */
		regs = t->regs;
		regs.rdi = flags & ~(uint64_t)CSIGNAL & ~SC_CLONE_NEW_MASK;
		if (tracee_set_regs(ptid, &regs) < 0)
			return replay_diverge(rp, ev, "lost thread %d", ptid);
	}
	tracee_resume(ptid, PTRACE_SYSCALL, 0);
	for (;;) {
		if (tracee_wait(ptid, &status) < 0)
			return replay_diverge(rp, ev, "lost thread %d", ptid);
		switch (tracee_classify(status, &sig)) {
		case TRACEE_STOP_CLONE:
			break;
		case TRACEE_STOP_GROUP:
			tracee_resume(ptid, PTRACE_SYSCALL, 0);
			continue;
		default:
			return replay_diverge(rp, ev, "the clone of thread %u did not create it", ev->tid);
		}
		break;
	}
	if (ptrace(PTRACE_GETEVENTMSG, ptid, 0, &msg) < 0)
		return replay_diverge(rp, ev, "lost thread %d", ptid);
	tid = (pid_t)msg;
	/* the new one reports PTRACE_EVENT_STOP before it runs any code */
	if (tracee_wait(tid, &status) < 0 || tracee_classify(status, &sig) != TRACEE_STOP_GROUP)
		return replay_diverge(rp, ev, "the new thread %u did not start", ev->tid);
	/* the child's registers are the creator's: give it back the flags */
	if (tracee_get_regs(tid, &regs) == 0) {
		regs.rdi = t->args[0];
		if (tracee_set_regs(tid, &regs) < 0)
			return replay_diverge(rp, ev, "lost thread %u", ev->tid);
	}
	t->state = PT_IN_KERNEL;
	tracee_resume(ptid, PTRACE_SYSCALL, 0);
	sp = t->space;
	tgid = t->tgid;
	if (!(flags & CLONE_THREAD)) {
		tgid = tid;
		if (flags & CLONE_VM)
			sp->users++;
		else if (!(sp = replay_space_new(tid, t->space)))
			return replay_diverge(rp, ev, "cannot control the new process %u", ev->tid);
		if (replay_inherit_tracee_files(rp, t->tgid, tid) < 0)
			return replay_diverge(rp, ev, "out of memory");
	}
	/* in a PID namespace below uprr's, the ids the namespaces gave it */
	if (ev->nvalues >= 4) {
		parent_view = (uint32_t)ev->values[2];
		own = (uint32_t)ev->values[3];
	}
	if (((flags & CLONE_PARENT_SETTID) &&
	     tracee_write(t->space->memfd, t->args[2], &parent_view, sizeof(parent_view)) < 0) ||
	    ((flags & CLONE_CHILD_SETTID) && tracee_write(sp->memfd, t->args[3], &own, sizeof(own)) < 0))
		return replay_diverge(rp, ev, "cannot write the new thread's id");
	{
		pid_t rec_tgid = t->rec_tgid, rec_parent = t->rec_parent;

		if (!(flags & CLONE_THREAD)) {
			rec_tgid = (pid_t)rec_tid;
			rec_parent = (flags & CLONE_PARENT) ? t->rec_parent : t->rec_tgid;
		}
		child = replay_add_thread(rp, (pid_t)rec_tid, tid, tgid, sp);
		if (!child)
			return -ENOMEM;
		child->rec_tgid = rec_tgid;
		child->rec_parent = rec_parent;
	}
	child->state = PT_HELD;
	/* the creator's emulated tracer follows the child, as recorded */
	if (rec_ptrace_on_clone(&rp->ptrace, (pid_t)ev->values[0], (pid_t)rec_tid, flags))
		replay_syscallbuf_untraced(rp);
	return 0;
}

/* Where the execve of @t may put a path of @len bytes: well below its stack
 * pointer (dead stack) when mapped, else over its own path argument; the
 * address space is replaced anyway. */
static uint64_t
exec_scratch(const struct pthread_r *t, size_t len)
{
	uint64_t at = replay_stack_scratch(t, len);

	return at ? at : t->nr == __NR_execveat ? t->args[1] : t->args[0];
}


/*
 * Thread ev->tid's execve succeeded in the recording: execute it here, of the
 * trace's copy of the executable (argv and environment as the program passes
 * them), and give the new image the recorded stack and registers. As in the
 * kernel, the process's other threads die and the exec'ing thread takes over
 * the leader's id, in the recording (values[2]) and here.
 */
int
replay_on_exec(struct replayer *rp, const struct trace_event *ev)
{
	struct pthread_r *t = replay_find_rec(rp, (pid_t)ev->tid);
	pid_t rec_pid = ev->nvalues >= 3 ? (pid_t)ev->values[2] : (pid_t)ev->tid, tgid;
	struct user_regs_struct regs;
	struct rec_space *old;
	const char *exe;
	uint64_t path;
	int status, sig, r;

	if (!t || t->state != PT_AT_ENTRY || !sc_is_exec(t->nr) || !ev->has_regs || ev->nblobs < 2)
		return replay_diverge(rp, ev, "an exec without an execve");
	if (trace_reader_file(rp->r, (uint32_t)ev->values[0], &exe, NULL) < 0)
		return replay_diverge(rp, ev, "the executable is missing from the trace");
	path = exec_scratch(t, strlen(exe) + 1);
	regs = t->regs;
	if (t->nr == __NR_execveat) {
		regs.orig_rax = __NR_execve;
		regs.rsi = t->args[2];
		regs.rdx = t->args[3];
	}
	regs.rdi = path;
	if (tracee_write(t->space->memfd, path, exe, strlen(exe) + 1) < 0 ||
	    tracee_set_regs(t->tid, &regs) < 0)
		return replay_diverge(rp, ev, "cannot prepare the execve of %s", exe);
	tgid = t->tgid;
	if (robust_exit_group(rp, ev, tgid) < 0)
		return rp->error;
	tracee_resume(t->tid, PTRACE_SYSCALL, 0);
	/* The kernel kills the other threads (de_thread(), fs/exec.c), and the
	 * execve waits until each has passed its PTRACE_EVENT_EXIT stop: let
	 * them go first (a thread held at a syscall it sleeps in, in the
	 * recording, is one). The old leader's id is the one the exec'ing
	 * thread takes: it reports nothing more. */
	if (reap_group_but(rp, tgid, (pid_t)ev->tid) < 0)
		return replay_diverge(rp, ev, "lost a thread of process %d", tgid);
	t = replay_find_rec(rp, (pid_t)ev->tid);
	for (;;) {
		/* the exec stop comes under the leader's id; the old leader may
		 * stop at its exit on the way (ptrace(2)) */
		if (waitpid(tgid, &status, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			return replay_diverge(rp, ev, "lost process %d", tgid);
		}
		r = tracee_classify(status, &sig);
		if (r == TRACEE_STOP_EXEC)
			break;
		if (r == TRACEE_STOP_SYSCALL_EXIT && tgid == t->tid)
			return replay_diverge(rp, ev, "the execve of %s failed here", exe);
		if (r == TRACEE_GONE)
			return replay_diverge(rp, ev, "process %d died in its execve", tgid);
		tracee_resume(tgid, PTRACE_CONT, 0);
	}
	t->tid = tgid;
	t->rec_tid = rec_pid;
	old = t->space;
	t->space = replay_space_new(tgid, NULL);
	replay_space_leave(old);
	replay_forget_tracee_files(rp, tgid);
	if (!t->space)
		return replay_diverge(rp, ev, "cannot control process %d after its execve", tgid);
	r = replay_restore_image(rp, ev, tgid, t->space);
	if (r < 0)
		return r;
	t->state = PT_IN_KERNEL;
	if (t->space->syscallbuf) {
		/* mapping the syscall buffer ran the execve to its end */
		t->exec_done = true;
		return 0;
	}
	tracee_resume(tgid, PTRACE_SYSCALL, 0);
	return 0;
}

