/* SPDX-License-Identifier: MIT */
/*
 * Asynchronous signals that interrupt code making no syscall:
 *  1. `while (!flag)` loops, each ended by a SIGALRM handler that sets the
 *     flag (one-shot setitimer(ITIMER_REAL) timers of ALARM_MS);
 *  2. a profiling loop: setitimer(ITIMER_PROF) every PROF_US of CPU time over a
 *     CPU-bound computation; the SIGPROF handler counts its runs and samples
 *     how far the computation had got.
 * The loop counts, the handler runs and the samples depend on where the
 * signals landed, so natively they differ from run to run. A recorder must
 * record the exact point (ticks, registers) at which each signal arrived and
 * replay must deliver it there, or the counts differ.
 *
 * A flag loop gives up after SPIN_LIMIT spins (about a second natively) and
 * the program then exits 1.
 */
#include <signal.h>
#include <sys/time.h>

#include "progs.h"

#define NALARMS 3
#define PROF_US 1000
#define PROF_ROUNDS 400
#define PROF_WORK 250000
#define NSAMPLES 8
#define SPIN_LIMIT 1000000000L

static const int alarm_ms[NALARMS] = { 50, 20, 5 };

static volatile sig_atomic_t g_flag;
static volatile sig_atomic_t g_alarms;
static volatile sig_atomic_t g_profs;
static volatile long g_progress;
static volatile long g_samples[NSAMPLES];

static void
on_alarm(int sig)
{
	(void)sig;
	g_alarms++;
	g_flag = 1;
}

static void
on_prof(int sig)
{
	(void)sig;
	if (g_profs < NSAMPLES)
		g_samples[g_profs] = g_progress;
	g_profs++;
}

static void
set_timer(int which, long first_us, long interval_us)
{
	struct itimerval it = {
		.it_value = { .tv_sec = first_us / 1000000, .tv_usec = first_us % 1000000 },
		.it_interval = { .tv_sec = interval_us / 1000000, .tv_usec = interval_us % 1000000 },
	};

	if (setitimer(which, &it, NULL) < 0)
		die("alarm_flag: setitimer: %s", strerror(errno));
}

static void
handle(int sig, void (*fn)(int))
{
	struct sigaction sa = { .sa_handler = fn, .sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) < 0)
		die("alarm_flag: sigaction: %s", strerror(errno));
}

int
main(void)
{
	uint64_t x = random_seed();
	int gave_up = 0;

	handle(SIGALRM, on_alarm);
	handle(SIGPROF, on_prof);

	/* 1. busy loops ended by SIGALRM */
	for (int i = 0; i < NALARMS; i++) {
		long n = 0;

		g_flag = 0;
		set_timer(ITIMER_REAL, alarm_ms[i] * 1000L, 0);
		while (!g_flag) {
			if (++n == SPIN_LIMIT) {
				gave_up = 1;
				set_timer(ITIMER_REAL, 0, 0);
				break;
			}
		}
		say("phase 1: %d ms alarm: the loop ran %ld times before the handler set the flag\n",
		    alarm_ms[i], n);
	}

	/* 2. a CPU-bound computation under a profiling timer */
	set_timer(ITIMER_PROF, PROF_US, PROF_US);
	for (long r = 0; r < PROF_ROUNDS; r++) {
		g_progress = r;
		for (long i = 0; i < PROF_WORK; i++) {
			x ^= x << 7;
			x ^= x >> 9;
		}
	}
	set_timer(ITIMER_PROF, 0, 0);
	say("phase 2: %d SIGPROF handler runs; result %016llx\n", (int)g_profs,
	    (unsigned long long)x);
	say("phase 2: first samples (round of %d):", PROF_ROUNDS);
	for (int i = 0; i < NSAMPLES && i < g_profs; i++)
		say(" %ld", g_samples[i]);
	say("\n");
	say("%d alarms\n", (int)g_alarms);
	if (gave_up) {
		say("alarm_flag: GAVE UP after %ld spins: no SIGALRM arrived\n", SPIN_LIMIT);
		return 1;
	}
	if (g_alarms != NALARMS || g_profs == 0) {
		say("alarm_flag: WRONG SIGNAL COUNT\n");
		return 1;
	}
	say("alarm_flag: ok\n");
	return 0;
}
