/* SPDX-License-Identifier: MIT */
/*
 * Respawn (checkpoint_respawn(), checkpoint_copy_respawn()) of a copy of a
 * multithreaded program (respawn-helper.c) stopped with a thread spinning in
 * user code, one blocked in FUTEX_WAIT and one in read(2): the original is
 * killed and reaped, the copy respawned, and the program, run to its end,
 * reports in each thread getpid(), gettid() and the tid glibc keeps in its
 * struct pthread equal to the original's, getppid() the original parent
 * (us, who reap it), a pthread_kill(3) that reaches its thread, and a PI
 * futex the original locked unlocked by the kernel's owner check. A copy
 * run without respawn fails those checks (the test can tell). An id held by
 * another process, or by the original alive: -EEXIST, named; a program
 * without CAP_SYS_ADMIN and CAP_CHECKPOINT_RESTORE: -EPERM; one whose
 * children go to another pid namespace: -EOPNOTSUPP. A process group
 * leader is respawned leading its group again, unless the group has other
 * members (-EEXIST); a session leader is refused (-EEXIST), and so is the
 * terminal's foreground group (-EBUSY). A program
 * whose seccomp filter fails clone3(2), as uprr's tracees' does, is
 * respawned, its filter kept. Prints what a respawn costs with 1 and 8
 * threads and 100 MiB resident.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint/process.h"
#include "common/log.h"
#include "common/util.h"
#include "tracee/tracee.h"

#define MAX_THREADS 16
#define MAX_REPORT 8192

static pid_t pid = -1, holder = -1;
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
	if (holder > 0) {
		kill(holder, SIGKILL);
		waitpid(holder, NULL, 0);
	}
	if (pid > 0)
		tracee_kill_all(pid);
	if (out_path[0])
		unlink(out_path);
}

/* the debug log names what holds a taken id */
static void
init(void)
{
	log_set_level(LOG_LEVEL_DEBUG);
}

TestSuite(respawn, .init = init, .fini = fini, .timeout = 120);

/* Resume every stop of any of our tracees until @leader's process ends or,
 * with @trap, until @leader (any process if -1) stops on its int3, stored
 * in *ret_trapped. Returns the wait status. */
static int
run(pid_t leader, bool trap, pid_t *ret_trapped)
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
			if (trap && (leader < 0 || w == leader) && sig == SIGTRAP) {
				*ret_trapped = w;
				return status;
			}
			tracee_resume(w, PTRACE_CONT, sig == SIGTRAP ? 0 : sig);
			continue;
		default:
			tracee_resume(w, PTRACE_CONT, 0);
			continue;
		}
	}
}

/* The thread ids of @p, its leader first. */
static size_t
threads_of(pid_t p, pid_t *tids)
{
	char path[64];
	struct dirent *e;
	size_t n = 1;
	DIR *d;

	tids[0] = p;
	snprintf(path, sizeof(path), "/proc/%d/task", p);
	d = opendir(path);
	cr_assert_not_null(d);
	while ((e = readdir(d))) {
		pid_t t = atoi(e->d_name);

		if (t <= 0 || t == p)
			continue;
		cr_assert_lt(n, MAX_THREADS);
		tids[n++] = t;
	}
	closedir(d);
	return n;
}

/* Start the helper with @nthreads threads, @mib MiB and @mode (NULL, or
 * one of its options), run it to its int3, let main spin, and stop every
 * thread with PTRACE_INTERRUPT. */
static size_t
spawn_and_stop(int nthreads, int mib, const char *mode, pid_t *tids)
{
	char nt[16], mb[16];
	char *argv[] = { (char *)RESPAWN_HELPER, out_path, nt, mb, (char *)mode, NULL };
	char *envp[] = { NULL };
	struct tracee_spawn_options o = {
		.path = RESPAWN_HELPER, .argv = argv, .envp = envp, .cpu = -1,
	};
	int exec_errno = 0, fd, status;
	pid_t trapped = -1;
	size_t n;

	snprintf(nt, sizeof(nt), "%d", nthreads);
	snprintf(mb, sizeof(mb), "%d", mib);
	snprintf(out_path, sizeof(out_path), "/tmp/uprr-respawn-XXXXXX");
	fd = mkstemp(out_path);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(tracee_spawn(&o, TRACEE_PTRACE_OPTIONS, &pid, &exec_errno), 0);
	memfd = tracee_open_mem(pid);
	cr_assert_geq(memfd, 0);
	tracee_resume(pid, PTRACE_CONT, 0);
	/* ttyfg: the program is the helper's child */
	status = run(-1, true, &trapped);
	cr_assert(WIFSTOPPED(status), "helper: status 0x%x", status);
	if (trapped != pid) {
		close(memfd);
		pid = trapped;
		memfd = tracee_open_mem(pid);
		cr_assert_geq(memfd, 0);
	}
	/* from its int3 into the spin loop */
	tracee_resume(pid, PTRACE_CONT, 0);
	usleep(20000);
	n = threads_of(pid, tids);
	cr_assert_eq(n, (size_t)nthreads);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(ptrace(PTRACE_INTERRUPT, tids[i], 0, 0), 0);
		cr_assert_eq(tracee_wait(tids[i], &status), 0);
		cr_assert(WIFSTOPPED(status) && status >> 16 == PTRACE_EVENT_STOP,
			  "thread %d: status 0x%x", tids[i], status);
	}
	return n;
}

/* Kill the original and reap each of its threads (its leader last: the
 * kernel reports it once the others are gone), so that its ids are free. */
static void
kill_original(const pid_t *tids, size_t n)
{
	cr_assert_eq(kill(pid, SIGKILL), 0);
	/* tids[] holds the leader somewhere: reaped at k == n */
	for (size_t k = 0; k <= n; k++) {
		pid_t t = k < n ? tids[k] : pid;
		int status;

		if (t == pid && k < n)
			continue;

		for (;;) {
			pid_t w = waitpid(t, &status, __WALL);

			cr_assert_eq(w, t, "reap %d: %s", t, strerror(errno));
			if (!WIFSTOPPED(status))
				break;
			ptrace(PTRACE_CONT, t, 0, 0);
		}
	}
	/* a program that is not our child is reaped by its parent too */
	for (size_t i = 0; i < n; i++) {
		for (int k = 0; k < 1000 && kill(tids[i], 0) == 0; k++)
			usleep(1000);
		cr_assert(kill(tids[i], 0) < 0 && errno == ESRCH, "id %d still in use", tids[i]);
	}
	close(memfd);
	memfd = -1;
	pid = -1;
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

/* Run process @p (a respawn, or a copy with @same false) to its end after a
 * SIGUSR1, and compare what its threads report with what the original's
 * were: the same ids (@same) or not. */
static void
run_and_check(pid_t p, bool same, int nthreads)
{
	char report[MAX_REPORT], want[128], *at;
	pid_t opid = 0, otids[MAX_THREADS];
	int status;

	cr_assert_eq(kill(p, SIGUSR1), 0);
	status = run(p, false, NULL);
	/* we are its parent: the original's was us */
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x", status);
	read_report(report);
	cr_assert(strstr(report, "end\n"), "report:\n%s", report);
	for (int i = 0; i < nthreads; i++) {
		int k, ppid;

		snprintf(want, sizeof(want), "B%d pid ", i);
		at = strstr(report, want);
		cr_assert_not_null(at, "report:\n%s", report);
		cr_assert_eq(sscanf(at, "B%d pid %d tid %d ppid %d", &k, &opid, &otids[i], &ppid), 4);
		cr_assert_eq(ppid, getpid());
	}
	for (int i = 0; i < nthreads; i++) {
		snprintf(want, sizeof(want), "T%d pid %d tid %d ppid %d self %d word %d\n", i, opid, otids[i],
			 getpid(), otids[i], otids[i]);
		if (same)
			cr_expect(strstr(report, want), "no \"%.*s\" in:\n%s", (int)strlen(want) - 1, want,
				  report);
		else
			cr_expect_null(strstr(report, want), "a copy reports the original's ids:\n%s", report);
	}
	if (nthreads > 1) {
		snprintf(want, sizeof(want), "usr2 handled by %d\n", otids[1]);
		if (same) {
			cr_expect(strstr(report, "pthread_kill 0\n"), "%s", report);
			cr_expect(strstr(report, want), "no \"%s\" in:\n%s", want, report);
		} else {
			/* tgkill(2) of the original's tid in the copy's group */
			cr_expect(strstr(report, "pthread_kill 3\n"), "%s", report);
			cr_expect(strstr(report, "usr2 handled by 0\n"), "%s", report);
		}
	}
	cr_expect(strstr(report, same ? "pi unlock 0\n" : "pi unlock 1\n"), "%s", report);
	if (same && nthreads == 3)
		printf("%s", report);
}

/* The Seccomp field of /proc/TID/status (proc(5)): 2 with a filter. */
static int
seccomp_mode(pid_t tid)
{
	char path[64], line[128];
	int mode = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Seccomp: %d", &mode) == 1)
			break;
	fclose(f);
	return mode;
}

/* Copy the helper (in @mode) through thread @through, kill the original,
 * respawn, run, check. */
static void
respawn_and_run(size_t through, const char *mode)
{
	pid_t tids[MAX_THREADS], opid, taken = 0, set[MAX_THREADS], got_set[MAX_THREADS];
	struct checkpoint_thread cs[MAX_THREADS];
	const pid_t *rt, *ct;
	size_t n, rn;

	n = spawn_and_stop(3, 1, mode, tids);
	opid = pid;
	cr_assert_eq(seccomp_mode(tids[1]), mode ? 2 : 0);
	memcpy(set, tids, n * sizeof(*tids));
	tids[0] = set[through];
	tids[through] = set[0];
	cr_assert_eq(checkpoint_copy_new(pid, memfd, tids, n, &copies[0]), 0);
	/* what the copy's threads have that the respawn must carry over, the
	 * clear-tid address coming with clone3(2)'s child_tid */
	ct = checkpoint_copy_tids(copies[0], &rn);
	cr_assert_eq(rn, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(checkpoint_thread_get(ct[i], checkpoint_copy_mem(copies[0]), &cs[i]), 0);
	kill_original(tids, n);
	cr_assert_eq(checkpoint_copy_respawn(copies[0], &taken, &copies[1]), 0);
	cr_assert_eq(checkpoint_copy_pid(copies[1]), opid);
	rt = checkpoint_copy_tids(copies[1], &rn);
	cr_assert_eq(rn, n);
	cr_assert_eq(rt[0], opid);
	for (size_t k = 0; k < n; k++) {
		struct checkpoint_thread got;

		for (size_t j = 0; j < n; j++) {
			if (tids[j] != rt[k])
				continue;
			cr_assert_eq(checkpoint_thread_get(rt[k], checkpoint_copy_mem(copies[1]), &got), 0);
			cr_expect_eq(got.clear_tid, cs[j].clear_tid, "thread %d: clear-tid address", rt[k]);
			cr_expect_eq(got.robust_head, cs[j].robust_head, "thread %d: robust list", rt[k]);
			cr_expect_eq(got.altstack.ss_flags, cs[j].altstack.ss_flags, "thread %d: sigaltstack",
				     rt[k]);
			checkpoint_thread_done(&got);
		}
	}
	for (size_t i = 0; i < n; i++)
		checkpoint_thread_done(&cs[i]);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(seccomp_mode(rt[i]), mode ? 2 : 0, "thread %d's filter", rt[i]);
	/* the same ids, and the kernel says so too */
	cr_assert_eq(threads_of(opid, got_set), n);
	for (size_t i = 0; i < n; i++) {
		bool ours = false, kernel = false;

		for (size_t j = 0; j < n; j++) {
			ours |= rt[j] == set[i];
			kernel |= got_set[j] == set[i];
		}
		cr_expect(ours && kernel, "id %d not respawned", set[i]);
	}
	checkpoint_copy_free(copies[0]);
	copies[0] = NULL;
	pid = opid; /* fini() kills it on failure */
	checkpoint_copy_resume(copies[1]);
	run_and_check(opid, true, (int)n);
	pid = -1;
	if (mode) {
		char report[MAX_REPORT];

		read_report(report);
		cr_expect(strstr(report, "clone3 38\n"), "the filter is gone:\n%s", report);
	}
}

/* The copy forked through the original's leader. */
Test(respawn, ids)
{
	respawn_and_run(0, NULL);
}

/* The copy forked through the read thread: the leader's state is in an
 * ordinary thread of the copy, which the respawn forks through. */
Test(respawn, ids_copy_through_other_thread)
{
	respawn_and_run(2, NULL);
}

/* A program whose seccomp filter fails clone3(2) with ENOSYS, as uprr's
 * tracees' does: the injected one runs with the filters suspended
 * (tracee_inject_syscall(), PTRACE_O_SUSPEND_SECCOMP). */
Test(respawn, ids_under_seccomp)
{
	respawn_and_run(0, "seccomp");
}

/* A copy, not respawned, runs with other ids: the checks see it. */
Test(respawn, copy_has_other_ids)
{
	pid_t tids[MAX_THREADS], cp;
	size_t n;

	n = spawn_and_stop(3, 1, NULL, tids);
	cr_assert_eq(checkpoint_copy_new(pid, memfd, tids, n, &copies[0]), 0);
	kill_original(tids, n);
	cp = checkpoint_copy_pid(copies[0]);
	checkpoint_copy_resume(copies[0]);
	run_and_check(cp, false, (int)n);
}

/* Make a process whose pid is @id (clone3(2) set_tid, from us), waiting to
 * be killed. */
static pid_t
hold_id(pid_t id)
{
	struct {
		uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
		uint64_t set_tid, set_tid_size;
	} args = { .exit_signal = SIGCHLD, .set_tid = (uint64_t)(uintptr_t)&id, .set_tid_size = 1 };
	long r = syscall(SYS_clone3, &args, sizeof(args));

	if (r == 0) {
		pause();
		_exit(0);
	}
	cr_assert_eq(r, id, "clone3 set_tid %d: %s", id, strerror(errno));
	return (pid_t)r;
}

/* An id taken by another process: -EEXIST, naming it; whatever was made of
 * the respawn is gone; once the id is free, the respawn works. */
Test(respawn, id_taken)
{
	pid_t tids[MAX_THREADS], opid, taken = 0;
	struct checkpoint_copy *c = NULL;
	size_t n;

	n = spawn_and_stop(3, 1, NULL, tids);
	opid = pid;
	/* nothing in its group and session keeps its ids */
	cr_assert_eq(checkpoint_respawn_check(opid), 0);
	cr_assert_eq(checkpoint_copy_new(pid, memfd, tids, n, &copies[0]), 0);
	kill_original(tids, n);
	holder = hold_id(tids[2]);
	cr_assert_eq(checkpoint_copy_respawn(copies[0], &taken, &c), -EEXIST);
	cr_assert_null(c);
	cr_assert_eq(taken, tids[2], "taken: %d, want %d", taken, tids[2]);
	/* the new process was made with the leader's id before the thread
	 * clone failed: killed and reaped */
	cr_assert(kill(opid, 0) < 0 && errno == ESRCH, "%d left behind", opid);
	cr_assert_eq(kill(holder, SIGKILL), 0);
	cr_assert_eq(waitpid(holder, NULL, 0), holder);
	holder = -1;
	cr_assert_eq(checkpoint_copy_respawn(copies[0], &taken, &copies[1]), 0);
	checkpoint_copy_free(copies[0]);
	copies[0] = NULL;
	pid = opid;
	checkpoint_copy_resume(copies[1]);
	run_and_check(opid, true, (int)n);
	pid = -1;
}

/* The original alive: its own pid is the id taken. */
Test(respawn, original_alive)
{
	pid_t tids[MAX_THREADS], taken = 0;
	struct checkpoint_copy *c = NULL;
	size_t n;

	n = spawn_and_stop(3, 1, NULL, tids);
	cr_assert_eq(checkpoint_copy_new(pid, memfd, tids, n, &copies[0]), 0);
	cr_assert_eq(checkpoint_copy_respawn(copies[0], &taken, &c), -EEXIST);
	cr_assert_eq(taken, pid);
	cr_assert_null(c);
}

/* Without CAP_SYS_ADMIN and CAP_CHECKPOINT_RESTORE in the program (the
 * caller of the injected clone3): -EPERM, whatever ours. */
Test(respawn, no_privilege)
{
	pid_t tids[MAX_THREADS], opid, taken = 0;
	struct checkpoint_copy *c = NULL;
	size_t n;

	n = spawn_and_stop(3, 1, "nocap", tids);
	opid = pid;
	cr_assert_eq(checkpoint_copy_new(pid, memfd, tids, n, &copies[0]), 0);
	kill_original(tids, n);
	cr_assert_eq(checkpoint_copy_respawn(copies[0], &taken, &c), -EPERM);
	cr_assert_null(c);
	cr_assert(kill(opid, 0) < 0 && errno == ESRCH, "%d left behind", opid);
}

/* A program whose children go to another pid namespace (unshare(2)
 * CLONE_NEWPID, by its main thread): a fork of it would be there, where our
 * ids mean nothing; refused before anything is made. (checkpoint_copy_new()
 * cannot copy it either: its thread clones in the new namespace return
 * that namespace's ids.) */
Test(respawn, other_pid_namespace)
{
	pid_t tids[MAX_THREADS], taken = 0;
	struct checkpoint_copy *c = NULL;
	size_t n;

	n = spawn_and_stop(3, 1, "newpidns", tids);
	cr_assert_eq(checkpoint_respawn(pid, memfd, tids, tids, n, &taken, &c), -EOPNOTSUPP);
	cr_assert_null(c);
}

/* VmRSS of @p in MiB (proc(5)). */
static long
resident_mib(pid_t p)
{
	char path[64], line[128];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", p);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb / 1024;
}

#define COST_ROUNDS 7

static int
cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

/* What a respawn costs, beside a copy's, with @nthreads threads and 100 MiB
 * resident: COST_ROUNDS respawns of the same copy (each killed and reaped
 * but the last: the copy is left as it was), their minimum and median; the
 * last then runs to its end with its ids. */
static void
cost(int nthreads)
{
	pid_t tids[MAX_THREADS], opid, taken = 0;
	uint64_t t0, t1, ns[COST_ROUNDS];
	long rss;
	size_t n;

	n = spawn_and_stop(nthreads, 100, NULL, tids);
	opid = pid;
	rss = resident_mib(pid);
	cr_assert_geq(rss, 100);
	t0 = util_now_ns();
	cr_assert_eq(checkpoint_copy_new(pid, memfd, tids, n, &copies[0]), 0);
	t1 = util_now_ns();
	kill_original(tids, n);
	for (int i = 0; i < COST_ROUNDS; i++) {
		uint64_t t = util_now_ns();

		cr_assert_eq(checkpoint_copy_respawn(copies[0], &taken, &copies[1]), 0, "round %d", i);
		ns[i] = util_now_ns() - t;
		if (i == COST_ROUNDS - 1)
			break;
		checkpoint_copy_free(copies[1]);
		copies[1] = NULL;
	}
	qsort(ns, COST_ROUNDS, sizeof(*ns), cmp_u64);
	printf("%d threads, %ld MiB resident: copy %.3f ms, respawn min %.3f ms, median %.3f ms "
	       "(%d rounds)\n", nthreads, rss, (double)(t1 - t0) / 1e6, (double)ns[0] / 1e6,
	       (double)ns[COST_ROUNDS / 2] / 1e6, COST_ROUNDS);
	checkpoint_copy_free(copies[0]);
	copies[0] = NULL;
	pid = opid;
	checkpoint_copy_resume(copies[1]);
	run_and_check(opid, true, (int)n);
	pid = -1;
}

Test(respawn, cost_1_thread)
{
	cost(1);
}

Test(respawn, cost_8_threads)
{
	cost(8);
}

/* The copy of a process group leader is in the group its source led, which
 * keeps the pid taken: the respawn moves the copy out, then leads a group of
 * that id again, which the copy rejoins. */
Test(respawn, group_leader)
{
	pid_t tids[MAX_THREADS], opid, taken = 0;
	char report[MAX_REPORT], want[64];
	size_t n;

	n = spawn_and_stop(3, 1, "pgrp", tids);
	opid = pid;
	cr_assert_eq(getpgid(opid), opid);
	cr_assert_eq(checkpoint_copy_new(pid, memfd, tids, n, &copies[0]), 0);
	cr_assert_eq(getpgid(checkpoint_copy_pid(copies[0])), opid);
	kill_original(tids, n);
	cr_assert_eq(checkpoint_copy_respawn(copies[0], &taken, &copies[1]), 0);
	cr_assert_eq(getpgid(opid), opid);
	cr_assert_eq(getpgid(checkpoint_copy_pid(copies[0])), opid, "the copy's group");
	checkpoint_copy_free(copies[0]);
	copies[0] = NULL;
	pid = opid;
	checkpoint_copy_resume(copies[1]);
	run_and_check(opid, true, (int)n);
	pid = -1;
	read_report(report);
	snprintf(want, sizeof(want), "pgrp %d\n", opid);
	cr_expect(strstr(report, want), "no \"%s\" in:\n%s", want, report);
}

/* A group leader's group with another member left: its id stays taken,
 * -EEXIST names it, and the copy is back in that group. */
Test(respawn, group_with_members)
{
	pid_t tids[MAX_THREADS], opid, taken = 0;
	struct checkpoint_copy *c = NULL;
	size_t n;

	n = spawn_and_stop(3, 1, "pgrp", tids);
	opid = pid;
	cr_assert_eq(checkpoint_copy_new(pid, memfd, tids, n, &copies[0]), 0);
	holder = fork();
	cr_assert_geq(holder, 0);
	if (holder == 0) {
		pause();
		_exit(0);
	}
	cr_assert_eq(setpgid(holder, opid), 0, "setpgid: %s", strerror(errno));
	kill_original(tids, n);
	cr_assert_eq(checkpoint_copy_respawn(copies[0], &taken, &c), -EEXIST);
	cr_assert_null(c);
	cr_assert_eq(taken, opid);
	cr_assert_eq(getpgid(checkpoint_copy_pid(copies[0])), opid, "the copy's group");
}

/* A session leader's copy is in its session, which keeps the pid taken
 * (setsid(2) in the copy would lose the terminal): -EEXIST, named. */
Test(respawn, session_leader)
{
	pid_t tids[MAX_THREADS], opid, taken = 0;
	struct checkpoint_copy *c = NULL;
	size_t n;

	n = spawn_and_stop(3, 1, "setsid", tids);
	opid = pid;
	cr_assert_eq(getsid(opid), opid);
	/* what the recorder asks before it kills a program to respawn it */
	cr_assert_eq(checkpoint_respawn_check(opid), -EEXIST);
	cr_assert_eq(checkpoint_copy_new(pid, memfd, tids, n, &copies[0]), 0);
	kill_original(tids, n);
	cr_assert_eq(checkpoint_copy_respawn(copies[0], &taken, &c), -EEXIST);
	cr_assert_null(c);
	cr_assert_eq(taken, opid);
	cr_assert(kill(opid, 0) < 0 && errno == ESRCH, "%d left behind", opid);
}

/* A process group that is its terminal's foreground group: respawned, the
 * terminal would keep naming the dead group; refused (-EBUSY). The helper
 * makes a session with a pseudoterminal, in which its child, the program,
 * leads the foreground group. */
Test(respawn, terminal_foreground_group)
{
	pid_t tids[MAX_THREADS], opid, taken = 0;
	struct checkpoint_copy *c = NULL;
	size_t n;

	n = spawn_and_stop(3, 1, "ttyfg", tids);
	opid = pid;
	cr_assert_eq(getpgid(opid), opid);
	cr_assert_neq(getsid(opid), opid);
	cr_assert_eq(checkpoint_respawn_check(opid), -EBUSY);
	cr_assert_eq(checkpoint_copy_new(pid, memfd, tids, n, &copies[0]), 0);
	kill_original(tids, n);
	cr_assert_eq(checkpoint_copy_respawn(copies[0], &taken, &c), -EBUSY);
	cr_assert_null(c);
	cr_assert_eq(getpgid(checkpoint_copy_pid(copies[0])), opid, "the copy's group");
}
