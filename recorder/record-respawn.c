/* SPDX-License-Identifier: MIT */
/*
 * The recorder goes on in a respawn of its program (doc/uniparallel.md,
 * "Order of work" 9): the program's process is copied
 * (checkpoint_copy_new()), killed and reaped, and the copy respawned with
 * its ids (checkpoint_copy_respawn()): the same pid and tids, memory,
 * registers and descriptions, a new process. The recorder's view of the
 * program (its threads, their states, the scheduler, the trace) holds for
 * the respawn as it stands: each thread stands at a stop equivalent to the
 * one it left, so what the recorder does next with it is what it would have
 * done with the original. What is the old process's alone is made anew:
 * /proc/PID/mem, the restore point and its dirty log (the userfaultfd
 * registrations belong to the old mm).
 *
 * This is the process side of a recorder that goes on in processes it did
 * not start (TP resuming after a re-run, a TP run rolled back into a
 * respawn of a merged checkpoint). Today it is reached through a test
 * switch only (UPRR_RESPAWN_AT, rec_respawn_maybe()), in UP recording of a
 * program of one process: a program must not see it.
 */
#define LOG_PREFIX "record"
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint/process.h"
#include "common/log.h"
#include "common/util.h"
#include "recorder/record-private.h"
#include "tracee/tracee.h"

/* include/uapi/linux/ptrace.h, Linux 5.3 (glibc 2.36's sys/ptrace.h has
 * the request and struct __ptrace_syscall_info, not the op values) */
#ifndef PTRACE_SYSCALL_INFO_NONE
#define PTRACE_SYSCALL_INFO_NONE 0
#define PTRACE_SYSCALL_INFO_ENTRY 1
#define PTRACE_SYSCALL_INFO_EXIT 2
#define PTRACE_SYSCALL_INFO_SECCOMP 3
#endif
/* include/linux/errno.h (not exported to user space) */
#define ERESTART_RESTARTBLOCK 516

/* One thread as the respawn must give it back. */
struct stand {
	struct rthread *t;
	uint8_t op;			/* PTRACE_SYSCALL_INFO_*: the stop it is in */
	struct user_regs_struct regs;	/* there */
};

/* Whether file @path (in /proc) holds a line. */
static bool
proc_file_nonempty(const char *path)
{
	char line[256];
	FILE *f = fopen(path, "re");
	bool any = f && fgets(line, sizeof(line), f);

	if (f)
		fclose(f);
	return any;
}

/* Whether process @pid has a child (a zombie too): /proc/PID/task/TID/children
 * of each of its threads, those of @s (@n) (proc(5), Linux 3.5). */
static bool
has_children(pid_t pid, const struct stand *s, size_t n)
{
	char path[96];

	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, s[i].t->tid);
		if (proc_file_nonempty(path))
			return true;
	}
	return false;
}

/* Whether process @pid holds a POSIX record lock (fcntl(2) F_SETLK, per
 * process: its death would drop it): /proc/locks names the holder's pid
 * as its fifth field (proc(5)). */
static bool
holds_posix_lock(pid_t pid)
{
	char line[256], kind[32];
	int holder;
	bool any = false;
	FILE *f = fopen("/proc/locks", "re");

	if (!f)
		return false;
	while (!any && fgets(line, sizeof(line), f))
		any = sscanf(line, "%*s %31s %*s %*s %d", kind, &holder) == 2 &&
		      strcmp(kind, "POSIX") == 0 && holder == pid;
	fclose(f);
	return any;
}

/* A signal pending in the original, queued again in the respawn. */
struct carried {
	pid_t tid;		/* the thread whose private queue held it, 0: the
				 * process's shared queue */
	siginfo_t si;
};

#define CARRIED_MAX 64

/*
 * The signals pending in the original's threads @s (@n) and its shared
 * queue, which a copy does not carry (process.h), into @c (*@nc of
 * CARRIED_MAX; -E2BIG past that). From PTRACE_PEEKSIGINFO (Linux 3.10).
 * 0 or -errno.
 */
static int
take_pending(const struct stand *s, size_t n, struct carried *c, size_t *nc)
{
	siginfo_t buf[CARRIED_MAX];

	*nc = 0;
	for (size_t i = 0; i <= n; i++) {
		int got = tracee_peek_pending(s[i < n ? i : 0].t->tid, i == n, buf,
					      (int)(CARRIED_MAX - *nc));

		if (got < 0)
			return got;
		for (int k = 0; k < got; k++)
			c[(*nc)++] = (struct carried){ .tid = i < n ? s[i].t->tid : 0, .si = buf[k] };
		if (*nc == CARRIED_MAX)
			return -E2BIG;
	}
	return 0;
}

/* Why the program cannot be respawned now, into @why; false if it can.
 * Fills @s with its threads (@n of them). */
static bool
not_now(struct recorder *rec, struct rthread *cur, struct stand *s, size_t n, char *why, size_t len)
{
	struct carried carried[CARRIED_MAX];
	size_t ncarried;
	pid_t pid = cur->tgid;
	char path[64];

	if (rec->nprocs != 1 || cur->space->mem.users != 1) {
		snprintf(why, len, "%u processes", rec->nprocs);
		return true;
	}
	if (rec->ptrace.n) {
		snprintf(why, len, "%s", "a thread is traced by the program");
		return true;
	}
	for (size_t i = 0; i < n; i++) {
		struct rthread *t = &rec->threads[i];
		struct __ptrace_syscall_info info = { 0 };
		int r;

		s[i] = (struct stand){ .t = t };
		if (t->tgid != pid) {
			snprintf(why, len, "thread %d is another process's", t->tid);
			return true;
		}
		if ((t->state != RT_HELD && t->state != RT_AT_ENTRY && t->state != RT_RUNNING) ||
		    t->injecting_sig || t->stepping || t->stop_filter) {
			snprintf(why, len, "thread %d is in the kernel or has a signal on its way", t->tid);
			return true;
		}
		r = (int)ptrace(PTRACE_GET_SYSCALL_INFO, t->tid, sizeof(info), &info);
		if (r <= 0 || tracee_get_regs(t->tid, &s[i].regs) < 0) {
			snprintf(why, len, "thread %d: PTRACE_GET_SYSCALL_INFO: %s", t->tid,
				 r < 0 ? strerror(errno) : "nothing");
			return true;
		}
		s[i].op = info.op;
		/* the copy runs a call the kernel would go on with as
		 * restart_syscall(2) with its first arguments (process.h) */
		if (info.op == PTRACE_SYSCALL_INFO_EXIT && s[i].regs.rax == (uint64_t)-ERESTART_RESTARTBLOCK) {
			snprintf(why, len, "thread %d stands after an interrupted sleep", t->tid);
			return true;
		}
		/* its entry is reached again from its syscall instruction: the
		 * number must be the one it entered with (not one uprr skips) */
		if ((info.op == PTRACE_SYSCALL_INFO_SECCOMP || info.op == PTRACE_SYSCALL_INFO_ENTRY) &&
		    (int64_t)s[i].regs.orig_rax < 0) {
			snprintf(why, len, "thread %d stands at a call uprr skips", t->tid);
			return true;
		}
	}
	/* pending signals are queued again in the respawn, as many as fit */
	if (take_pending(s, n, carried, &ncarried) < 0) {
		snprintf(why, len, "%s", "too many signals are pending");
		return true;
	}
	/* what a fork does not carry: children (theirs would be init's),
	 * POSIX timers, record locks (interval timers are set again) */
	snprintf(path, sizeof(path), "/proc/%d/timers", pid);
	if (has_children(pid, s, n) || proc_file_nonempty(path) || holds_posix_lock(pid)) {
		snprintf(why, len, "%s", "it has a child, a POSIX timer or a record lock");
		return true;
	}
	/* what checkpoint_respawn() refuses, asked before the program dies */
	if (checkpoint_respawn_check(pid) < 0) {
		snprintf(why, len, "%s", "it leads its session or its terminal's foreground group");
		return true;
	}
	return false;
}

/*
 * The interval timers of the process of stopped thread @tid (memory
 * @memfd), per process, which a fork does not carry (fork(2); alarm(2) is
 * ITIMER_REAL): @take reads ITIMER_REAL, _VIRTUAL and _PROF into @v
 * (getitimer(2)) and disarms them, so that no signal of theirs comes
 * before the process dies; else they are set to @v (setitimer(2)). The
 * thread must stand where syscalls can be injected (tracee_inject_syscall():
 * not at an entry). 0 or -errno.
 */
static int
itimers(pid_t tid, int memfd, bool take, struct itimerval v[3])
{
	struct user_regs_struct regs;
	struct tracee_call calls[6] = { 0 };
	int64_t res[6];
	size_t n = 0, len = 4 * sizeof(*v);
	uint64_t at;
	int r = tracee_get_regs(tid, &regs);

	if (r < 0)
		return r;
	/* v[0..2] there, then a disarmed one */
	at = tracee_stack_scratch(tid, regs.rsp, len);
	if (!at)
		return -ENOSPC;
	r = take ? tracee_write(memfd, at + 3 * sizeof(*v), &(struct itimerval){ 0 }, sizeof(*v))
		 : tracee_write(memfd, at, v, 3 * sizeof(*v));
	if (r < 0)
		return r;
	for (uint64_t which = 0; which < 3; which++) {
		uint64_t one = at + which * sizeof(*v);

		if (take) {
			calls[n++] = (struct tracee_call){ .nr = __NR_getitimer, .args = { which, one } };
			calls[n++] = (struct tracee_call){ .nr = __NR_setitimer,
							   .args = { which, at + 3 * sizeof(*v), 0 } };
		} else if (timerisset(&v[which].it_value) || timerisset(&v[which].it_interval)) {
			calls[n++] = (struct tracee_call){ .nr = __NR_setitimer, .args = { which, one, 0 } };
		}
	}
	r = n ? tracee_inject_syscalls(tid, memfd, calls, n, res, NULL) : 0;
	if (r < 0 || !take)
		return r;
	r = tracee_read_mem(memfd, at, v, 3 * sizeof(*v));
	if (r < 0)
		return r;
	/* a periodic timer whose signal is pending is re-armed only when the
	 * signal is taken (dequeue_signal(), kernel/signal.c): due at once */
	for (int which = 0; which < 3; which++)
		if (!timerisset(&v[which].it_value) && timerisset(&v[which].it_interval))
			v[which].it_value = (struct timeval){ .tv_usec = 1 };
	return 0;
}

/* Queue signal @c again in the respawn (thread @tid of process @pid, memory
 * @memfd): the process sends it to itself (rt_tgsigqueueinfo(2),
 * rt_sigqueueinfo(2)), which keeps its siginfo whatever its si_code. */
static int
queue_again(pid_t pid, pid_t tid, int memfd, const struct carried *c)
{
	struct user_regs_struct regs;
	uint64_t at;
	int64_t res;
	int r = tracee_get_regs(tid, &regs);

	if (r < 0)
		return r;
	at = tracee_stack_scratch(tid, regs.rsp, sizeof(c->si));
	if (!at)
		return -ENOSPC;
	r = tracee_write(memfd, at, &c->si, sizeof(c->si));
	if (r >= 0)
		r = c->tid ? tracee_inject_syscall(tid, memfd, __NR_rt_tgsigqueueinfo,
						   (uint64_t[6]){ (uint64_t)pid, (uint64_t)c->tid,
								  (uint64_t)c->si.si_signo, at },
						   &res)
			   : tracee_inject_syscall(tid, memfd, __NR_rt_sigqueueinfo,
						   (uint64_t[6]){ (uint64_t)pid, (uint64_t)c->si.si_signo, at },
						   &res);
	return r < 0 ? r : res < 0 ? (int)res : 0;
}

/* Bring respawned thread @s back to the syscall entry its original stood
 * at: the copy stands before its syscall instruction (process.h), which it
 * executes again. 0, or -errno. */
static int
enter_again(const struct stand *s)
{
	struct user_regs_struct regs;
	pid_t tid = s->t->tid;
	int status, sig = 0;
	/* a syscall-entry-stop is told apart from an exit only by its state */
	enum tracee_stop want = s->op == PTRACE_SYSCALL_INFO_SECCOMP ? TRACEE_STOP_SECCOMP
								     : TRACEE_STOP_SYSCALL_EXIT;
	uint64_t mask;
	int r;

	/* a signal that comes meanwhile (a timer set again, one queued
	 * again) waits, as it would have waited at the original's stop */
	r = tracee_get_sigmask(tid, &mask);
	if (r < 0 || (r = tracee_set_sigmask(tid, ~0ull)) < 0)
		return r;
	tracee_resume(tid, s->op == PTRACE_SYSCALL_INFO_SECCOMP ? PTRACE_CONT : PTRACE_SYSCALL, 0);
	r = tracee_wait(tid, &status);
	if (r >= 0 && tracee_classify(status, &sig) != TRACEE_GONE)
		r = tracee_set_sigmask(tid, mask);
	if (r < 0)
		return r;
	if (tracee_classify(status, &sig) != want)
		return log_debug_errno(-EPROTO, "respawned thread %d: status %#x (signal %d), not at its "
				       "entry %lld at %#llx", tid, status, sig, (long long)s->regs.orig_rax,
				       s->regs.rip);
	r = tracee_get_regs(tid, &regs);
	if (r < 0)
		return r;
	if (regs.rip != s->regs.rip || regs.orig_rax != s->regs.orig_rax)
		return log_debug_errno(-EPROTO, "respawned thread %d entered %lld at %#llx, not %lld at %#llx",
				       tid, (long long)regs.orig_rax, regs.rip,
				       (long long)s->regs.orig_rax, s->regs.rip);
	return 0;
}

int
rec_respawn(struct recorder *rec, struct rthread *cur, char *why, size_t len)
{
	struct checkpoint_copy *copy = NULL, *re = NULL;
	struct rspace *sp = cur->space;
	size_t n = rec->nthreads;
	pid_t pid = cur->tgid, taken = 0;
	struct stand *s = calloc(n, sizeof(*s));
	pid_t *tids = calloc(n, sizeof(*tids));
	uint64_t t0 = util_now_ns();
	struct itimerval timers[3];
	struct carried carried[CARRIED_MAX];
	size_t ncarried = 0;
	int r;

	if (!s || !tids) {
		free(s);
		free(tids);
		snprintf(why, len, "%s", strerror(ENOMEM));
		return 0;
	}
	if (not_now(rec, cur, s, n, why, len)) {
		free(s);
		free(tids);
		return 0;
	}
	/* the restore point is the old process's (its mirror, its dirty log):
	 * between runs of user code nothing needs it; the next run makes one */
	rec_space_drop_checkpoint(rec, sp);
	tids[0] = cur->tid;
	for (size_t i = 0, k = 1; i < n; i++)
		if (s[i].t != cur)
			tids[k++] = s[i].t->tid;
	r = checkpoint_copy_new(pid, sp->mem.memfd, tids, n, &copy);
	if (r < 0) {
		/* its threads were given injected calls: not left to go on */
		rec_stop_recording(rec, "the copy for a respawn failed: %s", strerror(-r));
		free(s);
		free(tids);
		return -ECANCELED;
	}
	/* the original's threads stand where a call can be injected now:
	 * its timers stopped, then the signals pending (not_now() saw them
	 * fit), those that came since included */
	r = itimers(cur->tid, sp->mem.memfd, true, timers);
	if (r >= 0)
		r = take_pending(s, n, carried, &ncarried);
	if (r < 0) {
		checkpoint_copy_free(copy);
		rec_stop_recording(rec, "cannot read the program's timers or pending signals for a "
				   "respawn: %s", strerror(-r));
		free(s);
		free(tids);
		return -ECANCELED;
	}
	/* the ids must be free: the original killed and every thread reaped,
	 * the leader last (wait(2)) */
	kill(pid, SIGKILL);
	for (size_t i = 0; i < n; i++)
		if (tids[i] != pid)
			tracee_reap(tids[i]);
	tracee_reap(pid);
	r = checkpoint_copy_respawn(copy, &taken, &re);
	checkpoint_copy_free(copy);
	if (r < 0) {
		rec_stop_recording(rec, "the program was killed for a respawn that failed: %s%s",
				   strerror(-r), r == -EEXIST ? " (an id was taken)" : "");
		free(s);
		free(tids);
		return -ECANCELED;
	}
	checkpoint_copy_release(re);
	close(sp->mem.memfd);
	sp->mem.memfd = tracee_open_mem(pid);
	r = sp->mem.memfd < 0 ? sp->mem.memfd : itimers(cur->tid, sp->mem.memfd, false, timers);
	for (size_t i = 0; i < ncarried && r >= 0; i++)
		r = queue_again(pid, carried[i].tid ?: cur->tid, sp->mem.memfd, &carried[i]);
	for (size_t i = 0; i < n && r >= 0; i++)
		if (s[i].op == PTRACE_SYSCALL_INFO_SECCOMP || s[i].op == PTRACE_SYSCALL_INFO_ENTRY)
			r = enter_again(&s[i]);
	free(s);
	free(tids);
	if (r < 0) {
		rec_stop_recording(rec, "the respawned program did not stand where it was: %s", strerror(-r));
		return -ECANCELED;
	}
	rec->stats.respawns++;
	log_info("the program was respawned (%zu threads, %.2f ms)", n, (util_now_ns() - t0) / 1e6);
	return 1;
}

void
rec_respawn_maybe(struct recorder *rec, struct rthread *t)
{
	static bool read;
	static uint64_t at;
	char why[256];
	int r;

	if (!read) {
		const char *v = getenv("UPRR_RESPAWN_AT");

		read = true;
		at = v ? strtoull(v, NULL, 10) : 0;
	}
	if (!at || rec->stats.respawns || rec->tp || rec->ep || rec->pmu || ++rec->respawn_seen < at)
		return;
	r = rec_respawn(rec, t, why, sizeof(why));
	if (r == 0 && rec->respawn_seen == at)
		log_info("no respawn at syscall %" PRIu64 " yet: %s", at, why);
	if (r > 0 && tracee_get_regs(t->tid, &t->regs) < 0)
		rec_stop_recording(rec, "the respawned thread %d is gone", t->tid);
}
