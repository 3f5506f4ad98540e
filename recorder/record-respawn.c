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
 * switch only (UPRR_RESPAWN_AT: rec_respawn_maybe() at a syscall entry of
 * UP recording, rec_respawn_at_checkpoint() at a TP run's checkpoint), for
 * a program of one process: a program must not see it.
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

#include "checkpoint/dirty.h"
#include "checkpoint/process.h"
#include "common/log.h"
#include "common/util.h"
#include "recorder/record-private.h"
#include "syscalls/syscalls.h"
#include "tracee/tracee.h"

/* include/uapi/linux/ptrace.h, Linux 5.3 (glibc 2.36's sys/ptrace.h has
 * the request and struct __ptrace_syscall_info, not the op values) */
#ifndef PTRACE_SYSCALL_INFO_NONE
#define PTRACE_SYSCALL_INFO_NONE 0
#define PTRACE_SYSCALL_INFO_ENTRY 1
#define PTRACE_SYSCALL_INFO_EXIT 2
#define PTRACE_SYSCALL_INFO_SECCOMP 3
#endif

/* One thread as the respawn must give it back. */
struct stand {
	struct rthread *t;
	uint8_t op;			/* PTRACE_SYSCALL_INFO_*: the stop it is in */
	bool interrupted;		/* in a blocking call (RT_IN_SYSCALL), which our
					 * PTRACE_INTERRUPT made return -ERESTART*: it
					 * goes back into it (into_kernel_again()) */
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
 * of each of its threads @t (@n) (proc(5), Linux 3.5). */
static bool
has_children(pid_t pid, const struct rthread *t, size_t n)
{
	char path[96];

	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, t[i].tid);
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

/* Why the program of @cur cannot be respawned now, into @why; false if it
 * can, as far as its process and its threads' states say. */
static bool
not_now(struct recorder *rec, struct rthread *cur, size_t n, char *why, size_t len)
{
	pid_t pid = cur->tgid;

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
		int sig = 0;

		/* a TP run's thread whose stop is still to be taken: only a
		 * syscall's exit, which the respawn's registers give as it
		 * was (a signal's stop is the kernel's, which no copy has) */
		if ((t->state != RT_HELD && t->state != RT_AT_ENTRY && t->state != RT_RUNNING &&
		     t->state != RT_IN_SYSCALL && t->state != RT_EXIT_READY) ||
		    t->injecting_sig || t->stepping || t->stop_filter ||
		    (t->tp_status_due && tracee_classify(t->tp_status, &sig) != TRACEE_STOP_SYSCALL_EXIT)) {
			snprintf(why, len, "thread %d stands in a stop uprr emulates or has a signal on its way",
				 t->tid);
			return true;
		}
	}
	/* what a fork does not carry: children (theirs would be init's),
	 * POSIX timers, record locks (interval timers are set again) */
	if (has_children(pid, rec->threads, n) || tracee_has_posix_timer(pid) || holds_posix_lock(pid)) {
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
 * Whether the threads @s (@n, all held now) cannot be respawned where they
 * stand (why in @why); fills in each one's stop (PTRACE_GET_SYSCALL_INFO,
 * Linux 5.3) and registers.
 */
static bool
not_here(struct stand *s, size_t n, char *why, size_t len)
{
	struct carried carried[CARRIED_MAX];
	size_t ncarried;

	for (size_t i = 0; i < n; i++) {
		struct rthread *t = s[i].t;
		struct __ptrace_syscall_info info = { 0 };
		int r;

		r = (int)ptrace(PTRACE_GET_SYSCALL_INFO, t->tid, sizeof(info), &info);
		if (r <= 0 || tracee_get_regs(t->tid, &s[i].regs) < 0) {
			snprintf(why, len, "thread %d: PTRACE_GET_SYSCALL_INFO: %s", t->tid,
				 r < 0 ? strerror(errno) : "nothing");
			return true;
		}
		s[i].op = info.op;
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
	return false;
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
	/* an interrupt's stop still due (hold_in_syscall()) comes first */
	for (int k = 0; k < 3; k++) {
		tracee_resume(tid, s->op == PTRACE_SYSCALL_INFO_SECCOMP ? PTRACE_CONT : PTRACE_SYSCALL, 0);
		r = tracee_wait(tid, &status);
		if (r < 0 || tracee_classify(status, &sig) != TRACEE_STOP_GROUP ||
		    tracee_group_stop_sig(status))
			break;
	}
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

/*
 * Stop @s's thread, in a blocking call (RT_IN_SYSCALL, resumed with
 * PTRACE_SYSCALL): PTRACE_INTERRUPT makes the call return -ERESTART* at its
 * syscall-exit-stop (s->interrupted: it goes back in after, as the kernel
 * would restart it), unless it had just ended, whose exit then waits for
 * the recorder as any (rec_on_wakeup(): RT_EXIT_READY). 1 held, 0 not (it
 * stood at another stop: put back), -errno.
 */
static int
hold_in_syscall(struct recorder *rec, struct stand *s)
{
	struct rthread *t = s->t;
	struct user_regs_struct regs;
	int status, sig;

	if (ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) < 0 || !rec_wait_thread_stop(rec, t, &status))
		return -ESRCH;
	switch (tracee_classify(status, &sig)) {
	case TRACEE_STOP_SYSCALL_EXIT:
		if (tracee_get_regs(t->tid, &regs) < 0)
			return -ESRCH;
		if (sc_result_restarts((int64_t)regs.rax))
			s->interrupted = true;
		else
			rec_on_wakeup(rec, t);
		return 1;
	case TRACEE_STOP_GROUP:
		if (!tracee_group_stop_sig(status)) {
			/* the interrupt's stop, still in its call */
			tracee_resume(t->tid, PTRACE_SYSCALL, 0);
			return 0;
		}
		_fallthrough_;
	default:
		return log_debug_errno(-EPROTO, "thread %d, interrupted in its call: status %#x", t->tid,
				       status);
	}
}

/*
 * Put interrupted thread @s (s->interrupted; the original at its -ERESTART*
 * exit, or the respawn rewound before its syscall instruction) back into
 * its call: its syscall instruction executed again (the kernel's restart,
 * with its first arguments: a timeout starts over) to its seccomp stop,
 * its signals blocked meanwhile, then into the kernel (PTRACE_SYSCALL), as
 * the recorder had it. 0 or -errno.
 */
static int
into_kernel_again(const struct stand *s)
{
	struct stand entry = *s;
	int r;

	entry.op = PTRACE_SYSCALL_INFO_SECCOMP;
	r = enter_again(&entry);
	if (r < 0)
		return r;
	tracee_resume(s->t->tid, PTRACE_SYSCALL, 0);
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
	size_t ncarried = 0, nin = 0;
	int r = 1;

	if (!s || !tids) {
		free(s);
		free(tids);
		snprintf(why, len, "%s", strerror(ENOMEM));
		return 0;
	}
	if (not_now(rec, cur, n, why, len)) {
		free(s);
		free(tids);
		return 0;
	}
	for (size_t i = 0; i < n && r > 0; i++) {
		s[i] = (struct stand){ .t = &rec->threads[i] };
		/* a TP run's at a checkpoint are held out of their calls */
		if (s[i].t->state == RT_IN_SYSCALL && !s[i].t->epoch_held)
			r = hold_in_syscall(rec, &s[i]);
		if (r == 0)
			snprintf(why, len, "thread %d did not leave its call", s[i].t->tid);
	}
	if (r > 0 && not_here(s, n, why, len))
		r = 0;
	if (r <= 0) {
		/* back as they were: those interrupted into their calls */
		for (size_t i = 0; i < n; i++)
			if (s[i].interrupted && into_kernel_again(&s[i]) < 0 && r >= 0)
				r = -EPROTO;
		free(s);
		free(tids);
		if (r < 0)
			rec_stop_recording(rec, "a thread interrupted for a respawn could not go on: %s",
					   strerror(-r));
		return r < 0 ? -ECANCELED : 0;
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
	r = tracee_itimers_get(cur->tid, pid, sp->mem.memfd, true, timers);
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
	r = sp->mem.memfd < 0 ? sp->mem.memfd : tracee_itimers_set(cur->tid, pid, sp->mem.memfd, timers);
	for (size_t i = 0; i < ncarried && r >= 0; i++)
		r = tracee_queue_signal(carried[i].tid ?: cur->tid, pid, sp->mem.memfd, carried[i].tid,
					&carried[i].si);
	for (size_t i = 0; i < n && r >= 0; i++)
		if (s[i].interrupted && ++nin)
			r = into_kernel_again(&s[i]);
		else if (s[i].op == PTRACE_SYSCALL_INFO_SECCOMP || s[i].op == PTRACE_SYSCALL_INFO_ENTRY)
			r = enter_again(&s[i]);
		else
			/* its registers exactly: the copy rewound one the kernel
			 * restarts (-ERESTART*, process.h) and gave every thread
			 * orig_rax -1; the respawn stands in get_signal(), which
			 * restarts the call as the original's would have been
			 * (as restart_syscall(2) for -ERESTART_RESTARTBLOCK:
			 * arch_do_signal_or_restart(), arch/x86/kernel/signal.c) */
			r = tracee_set_regs(s[i].t->tid, &s[i].regs);
	/* a TP run's dirty log (the pages its epoch writes) is the old mm's */
	if (r >= 0 && sp->tp_dirty) {
		rec_epoch_space_free(sp);
		r = dirty_log_new(pid, cur->tid, sp->mem.memfd, &sp->tp_dirty);
		sp->tp_dirty_failed = r < 0;
	}
	free(s);
	free(tids);
	if (r < 0) {
		rec_stop_recording(rec, "the respawned program did not stand where it was: %s", strerror(-r));
		return -ECANCELED;
	}
	log_info("the program was respawned (%zu threads, %zu taken out of a blocking call and put back, "
		 "%.2f ms)", n, nin, (util_now_ns() - t0) / 1e6);
	return 1;
}

void
rec_respawn_init(struct recorder *rec)
{
	const char *v = getenv("UPRR_RESPAWN_AT");

	/* not an EP run's (its processes answer from a log), nor under the
	 * PMU (its counters are the old threads') */
	rec->respawn_at = v && !rec->ep && !rec->pmu ? strtoull(v, NULL, 10) : 0;
}

bool
rec_respawn_maybe(struct recorder *rec, struct rthread *t)
{
	uint64_t at = rec->respawn_at;
	char why[256];
	int r;

	/* a re-run gone live: not one it starts with */
	if (rec->tp || rec->ep_gone || ++rec->respawn_seen < at)
		return true;
	r = rec_respawn(rec, t, why, sizeof(why));
	if (r == 0 && rec->respawn_seen == at)
		log_info("no respawn at syscall %" PRIu64 " yet: %s", at, why);
	if (r > 0) {
		rec->respawn_at = 0; /* once */
		if (tracee_get_regs(t->tid, &t->regs) < 0)
			rec_stop_recording(rec, "the respawned thread %d is gone", t->tid);
	}
	return !rec->done;
}

void
rec_respawn_at_checkpoint(struct recorder *rec)
{
	uint64_t at = rec->respawn_at;
	char why[256];
	int r;

	if (!at || !rec->tp || rec->epochs.k < at || !rec->nthreads)
		return;
	r = rec_respawn(rec, &rec->threads[0], why, sizeof(why));
	if (r == 0 && rec->epochs.k == at)
		log_info("no respawn at checkpoint %" PRIu64 " yet: %s", at, why);
	if (r > 0) {
		rec->respawn_at = 0; /* once */
		log_info("the TP run goes on in its respawn from checkpoint %" PRIu64, rec->epochs.k);
	}
}

int
rec_timers_get(pid_t tid, pid_t pid, int memfd, struct rec_timers *ret)
{
	siginfo_t buf[8];
	int r, n;

	*ret = (struct rec_timers){ 0 };
	r = tracee_itimers_get(tid, pid, memfd, false, ret->itimers);
	n = r < 0 ? r : tracee_peek_pending(tid, true, buf, (int)ARRAY_SIZE(buf));
	if (n < 0) {
		*ret = (struct rec_timers){ 0 };
		return n;
	}
	/* an interval timer's signal, sent by the kernel to the process */
	for (int i = 0; i < n && ret->nfired < ARRAY_SIZE(ret->fired); i++)
		if (buf[i].si_code == SI_KERNEL &&
		    (buf[i].si_signo == SIGALRM || buf[i].si_signo == SIGVTALRM || buf[i].si_signo == SIGPROF))
			ret->fired[ret->nfired++] = buf[i];
	ret->posix = tracee_has_posix_timer(pid);
	return 0;
}

int
rec_timers_set(pid_t tid, pid_t pid, int memfd, const struct rec_timers *tm)
{
	int r = tracee_itimers_set(tid, pid, memfd, tm->itimers);

	for (uint8_t i = 0; i < tm->nfired && r >= 0; i++)
		r = tracee_queue_signal(tid, pid, memfd, 0, &tm->fired[i]);
	return r;
}
