/* SPDX-License-Identifier: MIT */
/*
 * Whole-process copies (checkpoint/process.h) of a multithreaded program
 * (mtfork-helper.c) stopped with its threads computing, blocked in a futex
 * wait (interrupted: -ERESTARTSYS), at the entry of a read(2) (restarted with
 * PTRACE_SYSCALL after an interrupt), spinning with an alternate signal stack
 * and a signal mask of its own, and main holding a robust mutex. A copy and a
 * copy of the copy are taken; each copied thread's registers, FS and GS
 * base, XSAVE state, signal mask, robust list, clear-tid address,
 * sigaltstack, rseq registration, name and CPU affinity are checked against
 * the original's; then the original runs to its end, then the copy, then the
 * copy's copy: all three write the same report; forked through the leader,
 * and through other threads (the leader's state then lives in an ordinary
 * thread of the copy). The originals' state is the same after the copy (the
 * injections put back, the affinity the copy pins them to given back). A
 * copy discarded unresumed leaves no process behind. Prints what a copy
 * costs, by part.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <sched.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint/process.h"
#include "common/util.h"
#include "tracee/tracee.h"
#include "x86_64/arch.h"

#define NTHREADS 5
#define MAX_REPORT 8192

static pid_t pid = -1;
static int memfd = -1;
static char out_path[64];
static struct checkpoint_copy *copies[2];

static void
fini(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(copies); i++) {
		checkpoint_copy_free(copies[i]);
		copies[i] = NULL;
	}
	if (memfd >= 0)
		close(memfd);
	if (pid > 0)
		tracee_kill_all(pid);
	if (out_path[0])
		unlink(out_path);
}

TestSuite(process, .fini = fini, .timeout = 120);

/* Resume every stop of any of our tracees until @leader's process ends or,
 * with @trap, until @leader stops on its int3. Returns the wait status. */
static int
run(pid_t leader, bool trap)
{
	for (;;) {
		int status, sig = 0;
		pid_t w = waitpid(-1, &status, __WALL);

		cr_assert_gt(w, 0, "waitpid: %s", strerror(errno));
		switch (tracee_classify(status, &sig)) {
		case TRACEE_GONE:
			if (w == leader)
				return status;
			continue;
		case TRACEE_STOP_SIGNAL:
			if (trap && w == leader && sig == SIGTRAP)
				return status;
			/* a signal of the program's own (SIGUSR1): deliver it */
			tracee_resume(w, PTRACE_CONT, sig == SIGTRAP ? 0 : sig);
			continue;
		default:
			tracee_resume(w, PTRACE_CONT, 0);
			continue;
		}
	}
}

/* The thread ids of @p, its leader first; the kernel's syscall in each of
 * the others (-1: running) in @nr. */
static size_t
threads_of(pid_t p, pid_t *tids, int *nr)
{
	char path[96], buf[64];
	struct dirent *e;
	size_t n = 1;
	DIR *d;
	FILE *f;

	tids[0] = p;
	nr[0] = -1;
	snprintf(path, sizeof(path), "/proc/%d/task", p);
	d = opendir(path);
	cr_assert_not_null(d);
	while ((e = readdir(d))) {
		pid_t t = atoi(e->d_name);

		if (t <= 0 || t == p)
			continue;
		cr_assert_lt(n, NTHREADS, "too many threads");
		snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", p, t);
		f = fopen(path, "r");
		cr_assert_not_null(f);
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
		tids[n] = t;
		nr[n] = strncmp(buf, "running", 7) == 0 ? -1 : atoi(buf);
		n++;
	}
	closedir(d);
	return n;
}

static void
same_state(const char *who, const struct checkpoint_thread *want, const struct checkpoint_thread *got)
{
	const char *reg = arch_regs_differ(&want->regs, &got->regs);

	cr_expect_null(reg, "%s: register %s differs", who, reg);
	cr_expect_eq(want->regs.fs_base, got->regs.fs_base, "%s: fs_base", who);
	cr_expect_eq(want->regs.gs_base, got->regs.gs_base, "%s: gs_base", who);
	cr_expect_eq(want->sigmask, got->sigmask, "%s: sigmask %#lx, want %#lx", who,
		     (unsigned long)got->sigmask, (unsigned long)want->sigmask);
	cr_expect_eq(want->robust_head, got->robust_head, "%s: robust list", who);
	cr_expect_eq(want->robust_len, got->robust_len, "%s: robust list length", who);
	cr_expect_eq(want->clear_tid, got->clear_tid, "%s: clear-tid address", who);
	cr_expect_eq(want->altstack.ss_sp, got->altstack.ss_sp, "%s: sigaltstack", who);
	cr_expect_eq(want->altstack.ss_size, got->altstack.ss_size, "%s: sigaltstack size", who);
	cr_expect_eq(want->altstack.ss_flags, got->altstack.ss_flags, "%s: sigaltstack flags", who);
	cr_expect_str_eq(want->comm, got->comm, "%s: name", who);
	cr_expect(CPU_EQUAL(&want->affinity, &got->affinity), "%s: CPU affinity", who);
	cr_expect_eq(want->rseq_addr, got->rseq_addr, "%s: rseq area", who);
	cr_expect_eq(want->rseq_len, got->rseq_len, "%s: rseq length", who);
	cr_expect_eq(want->rseq_sig, got->rseq_sig, "%s: rseq signature", who);
	cr_expect_eq(want->xstate_len, got->xstate_len, "%s: xstate length", who);
	cr_expect(memcmp(want->xstate, got->xstate, MIN(want->xstate_len, got->xstate_len)) == 0,
		  "%s: xstate differs", who);
}

/* The state a copied thread must have: @orig's, an interrupted syscall
 * rewound to run again. */
static struct checkpoint_thread
expected(const struct checkpoint_thread *orig)
{
	struct checkpoint_thread t = *orig;

	if ((int64_t)t.regs.orig_rax >= 0 && (int64_t)t.regs.rax <= -512 && (int64_t)t.regs.rax >= -516) {
		t.regs.rip -= 2;
		t.regs.rax = t.regs.orig_rax;
	}
	t.regs.orig_rax = (uint64_t)-1;
	return t;
}

/* Check copy @c thread by thread against @want, states of its original. */
static void
check_copy(const char *name, struct checkpoint_copy *c, const struct checkpoint_thread *want, size_t n)
{
	size_t cn;
	const pid_t *ct = checkpoint_copy_tids(c, &cn);

	cr_assert_eq(cn, n);
	for (size_t i = 0; i < n; i++) {
		struct checkpoint_thread got, exp = expected(&want[i]);
		char who[64];

		snprintf(who, sizeof(who), "%s thread %zu", name, i);
		cr_assert_eq(checkpoint_thread_get(ct[i], checkpoint_copy_mem(c), &got), 0);
		cr_expect_not(got.rewound, "%s: at a syscall entry", who);
		same_state(who, &exp, &got);
		checkpoint_thread_done(&got);
	}
}

static void
spawn(void)
{
	char *argv[] = { (char *)MTFORK_HELPER, out_path, NULL };
	char *envp[] = { NULL };
	struct tracee_spawn_options o = {
		.path = MTFORK_HELPER, .argv = argv, .envp = envp, .cpu = -1,
	};
	int exec_errno = 0, fd;

	snprintf(out_path, sizeof(out_path), "/tmp/uprr-mtfork-XXXXXX");
	fd = mkstemp(out_path);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(tracee_spawn(&o, TRACEE_PTRACE_OPTIONS, &pid, &exec_errno), 0);
	memfd = tracee_open_mem(pid);
	cr_assert_geq(memfd, 0);
	tracee_resume(pid, PTRACE_CONT, 0);
	run(pid, true);
}

/* Stop every thread but the leader (stopped on its int3): PTRACE_INTERRUPT;
 * the one blocked in read(2) is then let into a syscall-entry stop. Stores
 * the thread ids. */
static size_t
stop_all(pid_t *tids)
{
	int nr[NTHREADS], status;
	size_t n = threads_of(pid, tids, nr);
	bool seen_futex = false, seen_read = false, seen_running = false;

	cr_assert_eq(n, NTHREADS);
	for (size_t i = 1; i < n; i++) {
		cr_assert_eq(ptrace(PTRACE_INTERRUPT, tids[i], 0, 0), 0);
		cr_assert_eq(tracee_wait(tids[i], &status), 0);
		cr_assert(WIFSTOPPED(status) && status >> 16 == PTRACE_EVENT_STOP,
			  "thread %d: status 0x%x", tids[i], status);
		seen_futex |= nr[i] == SYS_futex;
		seen_running |= nr[i] == -1;
		if (nr[i] == SYS_read) {
			struct __ptrace_syscall_info info;

			seen_read = true;
			/* the interrupted read restarts: stop at its entry */
			tracee_resume(tids[i], PTRACE_SYSCALL, 0);
			cr_assert_eq(tracee_wait(tids[i], &status), 0);
			cr_assert(WIFSTOPPED(status) && WSTOPSIG(status) == (SIGTRAP | 0x80),
				  "read thread: status 0x%x", status);
			cr_assert_gt(ptrace(PTRACE_GET_SYSCALL_INFO, tids[i], (void *)sizeof(info), &info), 0);
			cr_assert_eq(info.op, PTRACE_SYSCALL_INFO_ENTRY);
			cr_assert_eq(info.entry.nr, SYS_read);
		}
	}
	cr_assert(seen_futex && seen_read && seen_running, "threads not in their states");
	return n;
}

static void
resume_all(const pid_t *tids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tracee_resume(tids[i], PTRACE_CONT, 0);
}

static size_t
read_report(char *buf)
{
	int fd = open(out_path, O_RDONLY);
	ssize_t n;

	cr_assert_geq(fd, 0);
	n = read(fd, buf, MAX_REPORT - 1);
	close(fd);
	cr_assert_geq(n, 0);
	buf[n] = 0;
	return (size_t)n;
}

/* Put the thread named @name first in @tids and @states. */
static void
first(pid_t *tids, struct checkpoint_thread *states, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(states[i].comm, name) != 0)
			continue;
		pid_t t = tids[0];
		struct checkpoint_thread s = states[0];

		tids[0] = tids[i];
		states[0] = states[i];
		tids[i] = t;
		states[i] = s;
		return;
	}
	cr_assert_fail("no thread %s", name);
}

/* Copy the program through its thread @by, then copy the copy through its
 * thread @by2; run the original to its end, then the copy, then the copy's
 * copy: the same report. */
static void
copy_and_copy_of_copy(const char *by, const char *by2)
{
	struct checkpoint_thread orig[NTHREADS], copy1[NTHREADS];
	struct checkpoint_copy_times times;
	pid_t tids[NTHREADS], ctids[NTHREADS];
	cpu_set_t ours, after;
	const pid_t *got_tids;
	char report[MAX_REPORT];
	size_t n, cn, len;
	uint64_t t0, t1;
	int status;

	spawn();
	n = stop_all(tids);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(checkpoint_thread_get(tids[i], memfd, &orig[i]), 0);
	/* what the states look like: the main thread holds a robust mutex,
	 * one thread has an alternate stack, the read one was rewound */
	cr_assert_neq(orig[0].robust_head, 0);
	cr_assert_neq(orig[0].clear_tid, 0);
	/* glibc registers rseq for each thread (uprr's tracees have none) */
	cr_assert_neq(orig[1].rseq_addr, 0);
	{
		int rewound = 0, altstacks = 0, restarting = 0;

		for (size_t i = 0; i < n; i++) {
			rewound += orig[i].rewound;
			altstacks += !(orig[i].altstack.ss_flags & SS_DISABLE);
			restarting += (int64_t)orig[i].regs.orig_rax == SYS_futex &&
				      (int64_t)orig[i].regs.rax == -512;
		}
		cr_assert_eq(rewound, 1);
		cr_assert_eq(altstacks, 1);
		cr_assert_eq(restarting, 1, "no thread interrupted in FUTEX_WAIT (-ERESTARTSYS)");
	}
	first(tids, orig, n, by);

	cr_assert_eq(sched_getaffinity(0, sizeof(ours), &ours), 0);
	t0 = util_now_ns();
	cr_assert_eq(checkpoint_copy_new(pid, memfd, tids, n, &copies[0]), 0);
	t1 = util_now_ns();
	checkpoint_copy_times(copies[0], &times);
	printf("process copy of %zu threads through %s: %.3f ms (reading %.3f, of which queries %.3f; "
	       "fork %.3f; clones %.3f; setting state %.3f)\n",
	       n, by, (double)(t1 - t0) / 1e6, (double)times.read_ns / 1e6, (double)times.query_ns / 1e6,
	       (double)times.fork_ns / 1e6, (double)times.clone_ns / 1e6, (double)times.set_ns / 1e6);
	cr_expect(times.query_ns > 0 && times.query_ns <= times.read_ns && times.fork_ns > 0 &&
		  times.clone_ns > 0 && times.set_ns > 0, "copy times by part");
	cr_expect_leq(times.read_ns + times.fork_ns + times.clone_ns + times.set_ns, t1 - t0);
	check_copy("copy", copies[0], orig, n);
	/* the originals as they were: the injections put back, and the
	 * affinity they were pinned off to for the copy given back; ours too */
	cr_assert_eq(sched_getaffinity(0, sizeof(after), &after), 0);
	cr_expect(CPU_EQUAL(&ours, &after), "uprr's own affinity not put back");
	for (size_t i = 0; i < n; i++) {
		struct checkpoint_thread again;
		char who[64];

		snprintf(who, sizeof(who), "original thread %zu after the copy", i);
		cr_assert_eq(checkpoint_thread_get(tids[i], memfd, &again), 0);
		cr_expect_not(again.rewound, "%s: at a syscall entry", who);
		same_state(who, &orig[i], &again);
		checkpoint_thread_done(&again);
	}

	got_tids = checkpoint_copy_tids(copies[0], &cn);
	cr_assert_eq(cn, n);
	memcpy(ctids, got_tids, n * sizeof(*ctids));
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(checkpoint_thread_get(ctids[i], checkpoint_copy_mem(copies[0]), &copy1[i]), 0);
	first(ctids, copy1, n, by2);
	cr_assert_eq(checkpoint_copy_new(checkpoint_copy_pid(copies[0]), checkpoint_copy_mem(copies[0]),
					 ctids, n, &copies[1]), 0);
	check_copy("copy of copy", copies[1], copy1, n);

	/* the original first, to its end */
	resume_all(tids, n);
	status = run(pid, false);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "original: status 0x%x", status);
	pid = -1;
	len = read_report(report);
	cr_assert(len > 0 && strstr(report, "end\n") == report + len - 4, "original report:\n%s", report);
	cr_assert(strstr(report, "handler on the alternate stack: yes"), "%s", report);
	cr_assert(strstr(report, "main: unlock 0"), "%s", report);

	for (size_t k = 0; k < 2; k++) {
		char all[MAX_REPORT];
		pid_t cp = checkpoint_copy_pid(copies[k]);

		checkpoint_copy_resume(copies[k]);
		status = run(cp, false);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "copy %zu: status 0x%x", k, status);
		cr_assert_eq(read_report(all), (k + 2) * len, "copy %zu's report:\n%s", k, all);
		cr_assert(memcmp(all + (k + 1) * len, report, len) == 0,
			  "copy %zu's report:\n%.*s\nthe original's:\n%s", k, (int)len, all + (k + 1) * len,
			  report);
	}
	printf("%s", report);
	for (size_t i = 0; i < n; i++) {
		checkpoint_thread_done(&orig[i]);
		checkpoint_thread_done(&copy1[i]);
	}
}

/* Forked through the main thread, stopped on an int3 (a signal stop). */
Test(process, copy_and_copy_of_copy)
{
	copy_and_copy_of_copy("mtfork-helper", "mtfork-helper");
}

/* Forked through a thread that computes (interrupted: PTRACE_EVENT_STOP),
 * the copy through the one rewound at read(2)'s entry: the process's leader
 * is recreated as an ordinary thread. */
Test(process, copy_through_other_threads)
{
	copy_and_copy_of_copy("compute", "read");
}

/* A copy discarded unresumed is killed and reaped; the original goes on. */
Test(process, discard)
{
	pid_t tids[NTHREADS], cp;
	int status;
	size_t n;

	spawn();
	n = stop_all(tids);
	cr_assert_eq(checkpoint_copy_new(pid, memfd, tids, n, &copies[0]), 0);
	cp = checkpoint_copy_pid(copies[0]);
	checkpoint_copy_free(copies[0]);
	copies[0] = NULL;
	cr_assert_eq(waitpid(cp, &status, __WALL | WNOHANG), -1);
	cr_assert_eq(errno, ECHILD);
	cr_assert_eq(kill(cp, 0), -1, "copy %d still there", cp);
	resume_all(tids, n);
	status = run(pid, false);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "original: status 0x%x", status);
	pid = -1;
}

/* A process with a thread missing from the list is refused. */
Test(process, all_threads_required)
{
	pid_t tids[NTHREADS];
	struct checkpoint_copy *c = NULL;
	size_t n;

	spawn();
	n = stop_all(tids);
	cr_assert_eq(checkpoint_copy_new(pid, memfd, tids, n - 1, &c), -EINVAL);
	cr_assert_null(c);
}
