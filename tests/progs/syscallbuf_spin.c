/* SPDX-License-Identifier: MIT */
/*
 * A thread that makes buffered syscalls and then spins, with no syscall in
 * the loop, on a flag that another thread sets after a computation: under
 * the syscall buffer, the spinning thread's run of user code holds records,
 * and uprr must still preempt it at a counted point (a rollback that keeps
 * the run's records: doc/syscall-buffer.md, "Rolling back a run that made
 * buffered calls"). A recorder that lets such a run go on to its next event
 * never gets out of the spin: the wait gives up after SPIN_LIMIT spins
 * (about a second natively) and the program exits 1.
 *
 * Each of NROUNDS rounds: the worker writes the round's number into a pipe,
 * reads the clock and its ids (buffered calls: the write wakes main, which
 * reads the pipe; in even rounds more records than the buffer's first page
 * holds), then spins until main, after a stretch of work, publishes
 * its result and sets the flag. Main checks that it read what the worker
 * wrote before the flag (the worker's write precedes the spin: a preemption
 * placed before the write would let main see the pipe empty and block).
 *
 * Then a signal phase: SIGALRM every 50 us while the main thread makes
 * buffered calls in a loop (signals arriving inside buffered syscalls).
 *
 * With the argument "child", all this runs in a forked child (a process
 * uprr did not start: its restore points are kept in a copy of uprr's, a
 * "shadow", not in a mirror process).
 *
 * The output is the same in every run (no spin counts, a fixed seed), so it
 * is compared with a native run.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "progs.h"

#define NROUNDS 12
#define WORK_ROUNDS 3000000
#define SPIN_LIMIT 1000000000L
#define ALARMS 200

static volatile int g_flag;
static volatile uint64_t g_result;
static volatile int g_gave_up;
static int g_pipe[2];
static long g_pid;

static uint64_t
work(uint64_t x, long rounds)
{
	for (long i = 0; i < rounds; i++) {
		x ^= x >> 13;
		x *= 0xff51afd7ed558ccdull;
		x += (uint64_t)i;
	}
	return x;
}

static void *
worker(void *arg)
{
	uint64_t *seen = arg;

	for (int r = 0; r < NROUNDS; r++) {
		struct timespec ts;
		long n = 0;

		/* buffered calls (once their sites are patched) */
		if (write(g_pipe[1], &r, sizeof(r)) != sizeof(r))
			die("syscallbuf_spin: write to the pipe: %s", strerror(errno));
		/* even rounds (the first, whose spin is rolled back): 72
		 * pairs, 10 KiB of records, past the buffer's first page (the
		 * only one a restore point tracks: uprr writes the rest back) */
		for (int i = 0; i < (r & 1 ? 8 : 72); i++) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			if (syscall(SYS_getpid) != g_pid)
				die("syscallbuf_spin: getpid in the worker is wrong");
		}
		/* then a spin with no syscall */
		while (g_flag != r + 1) {
			if (++n == SPIN_LIMIT) {
				g_gave_up = 1;
				return NULL;
			}
		}
		seen[r] = g_result;
	}
	return NULL;
}

static volatile sig_atomic_t g_alarms;

static void
on_alarm(int sig)
{
	(void)sig;
	g_alarms++;
}

/* SIGALRM every 50 us while this thread makes buffered calls in a loop */
static void
signals_inside(void)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { .it_interval = { 0, 50 }, .it_value = { 0, 50 } };
	struct timespec ts;
	long calls = 0;

	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	while (g_alarms < ALARMS && calls < 100000000) {
		clock_gettime(CLOCK_REALTIME, &ts);
		if (syscall(SYS_getpid) != g_pid)
			die("syscallbuf_spin: getpid under signals is wrong");
		calls++;
	}
	it = (struct itimerval){ 0 };
	setitimer(ITIMER_REAL, &it, NULL);
	say("signals: %s\n", g_alarms >= ALARMS ? "every alarm came" : "TOO FEW ALARMS");
}

static int spin_rounds(void);

int
main(int argc, char **argv)
{
	int status;
	pid_t pid;

	if (argc < 2 || strcmp(argv[1], "child") != 0)
		return spin_rounds();
	/* in a forked child: a process uprr did not start, whose restore
	 * points are a copy of uprr's (a shadow), not a mirror process */
	pid = fork();
	if (pid < 0)
		die("syscallbuf_spin: fork: %s", strerror(errno));
	if (pid == 0)
		_exit(spin_rounds());
	if (waitpid(pid, &status, 0) != pid)
		die("syscallbuf_spin: waitpid: %s", strerror(errno));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static int
spin_rounds(void)
{
	uint64_t seen[NROUNDS] = { 0 }, want[NROUNDS], x = 0x9e3779b97f4a7c15ull;
	pthread_t t;
	int bad = 0;

	g_pid = getpid();
	if (pipe(g_pipe) < 0)
		die("syscallbuf_spin: pipe: %s", strerror(errno));
	say("syscallbuf_spin: %d rounds of buffered calls then a spin\n", NROUNDS);
	if (pthread_create(&t, NULL, worker, seen))
		die("syscallbuf_spin: pthread_create failed");
	for (int r = 0; r < NROUNDS && !g_gave_up; r++) {
		int got = -1;

		if (read(g_pipe[0], &got, sizeof(got)) != sizeof(got))
			die("syscallbuf_spin: read from the pipe: %s", strerror(errno));
		x = work(x, WORK_ROUNDS);
		want[r] = x;
		g_result = x;
		g_flag = r + 1;
		say("round %d: main read %d\n", r, got);
		bad |= got != r;
	}
	pthread_join(t, NULL);
	if (g_gave_up) {
		say("syscallbuf_spin: GAVE UP after %ld spins: the worker was never preempted\n",
		    SPIN_LIMIT);
		return 1;
	}
	for (int r = 0; r < NROUNDS; r++) {
		say("round %d: the worker saw %016llx (%s)\n", r, (unsigned long long)seen[r],
		    seen[r] == want[r] ? "right" : "WRONG");
		bad |= seen[r] != want[r];
	}
	signals_inside();
	if (bad || g_alarms < ALARMS) {
		say("syscallbuf_spin: WRONG\n");
		return 1;
	}
	say("syscallbuf_spin: ok\n");
	return 0;
}
