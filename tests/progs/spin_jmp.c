/* SPDX-License-Identifier: MIT */
/*
 * Threads that run without an event in code whose loops have no backward
 * conditional branch, each of which a recorder must preempt (or deliver a
 * signal in) for the program to go on:
 *  1. a worker waits for a flag in a loop closed by a jmp, left by a forward
 *     jne (`1: cmp $0, flag; jne 2f; jmp 1b; 2:`, written in asm so that no
 *     compiler turns it around), while main computes and then sets the flag;
 *     then the same with `for (;;) if (flag) break;` compiled at -O0 (gcc
 *     makes it that same shape);
 *  2. a worker recurses through two functions without any loop until main
 *     sets a flag;
 *  3. main waits in the same jmp loop for a flag that a SIGALRM handler sets
 *     (a one-shot interval timer);
 *  4. a worker runs `for (;;);` (jmp to itself) for ever while main computes,
 *     prints and exits the whole process.
 * In 1, 2 and 4 main first waits for the worker to run, so whichever runs
 * first after the clone, one must be preempted. Natively each phase ends at
 * once; under a recorder that cannot preempt such code the program hangs.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include "progs.h"

#define WORK_ROUNDS 3000000
#define DEPTH 48

static volatile int g_started, g_flag, g_stop, g_sig;
static volatile uint64_t g_result;
static uint64_t g_seen;

/* Wait until *@flag is not 0: the only way back is the jmp. */
static void
jmp_wait(volatile int *flag)
{
	__asm__ volatile("1: cmpl $0, %0\n\t"
			 "jne 2f\n\t"
			 "jmp 1b\n"
			 "2:"
			 :
			 : "m"(*flag)
			 : "cc", "memory");
}

/* gcc's names; clang (the sanitized build compiles these programs too) has
 * its own, or none */
#ifdef __clang__
#define AT_O0 __attribute__((optnone, noinline))
#define NOIPA __attribute__((noinline))
#else
#define AT_O0 __attribute__((optimize("O0"), noinline))
#define NOIPA __attribute__((noipa))
#endif

/* The same in C: at -O0, gcc closes the loop with a jmp after the jne. */
AT_O0 static void
o0_wait(volatile int *flag)
{
	for (;;)
		if (*flag)
			break;
}

static void
wait_started(void)
{
	while (!g_started)
		;
	g_started = 0;
}

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
jmp_worker(void *arg)
{
	(void)arg;
	g_started = 1;
	jmp_wait(&g_flag);
	g_seen = g_result;
	return NULL;
}

static volatile int g_flag_o0;

static void *
o0_worker(void *arg)
{
	(void)arg;
	g_started = 1;
	o0_wait(&g_flag_o0);
	return NULL;
}

/* 2^DEPTH calls: for ever, unless g_stop is set; no loop in either. */
NOIPA static long tree_b(int d);

NOIPA static long
tree_a(int d)
{
	if (g_stop || d == 0)
		return 1;
	return tree_b(d - 1) + tree_b(d - 1);
}

NOIPA static long
tree_b(int d)
{
	if (g_stop || d == 0)
		return 1;
	return tree_a(d - 1) + tree_a(d - 1);
}

static void *
tree_worker(void *arg)
{
	(void)arg;
	g_started = 1;
	tree_a(DEPTH);
	return NULL;
}

__attribute__((noreturn)) static void *
forever(void *arg)
{
	(void)arg;
	g_started = 1;
	for (;;)
		;
}

static void
on_alarm(int sig)
{
	(void)sig;
	g_sig = 1;
}

int
main(void)
{
	struct itimerval it = { .it_value = { .tv_usec = 20000 } };
	struct sigaction sa = { .sa_handler = on_alarm };
	uint64_t x;
	pthread_t t;

	say("spin_jmp: threads in loops closed by a jmp, and in a recursion\n");

	if (pthread_create(&t, NULL, jmp_worker, NULL))
		die("spin_jmp: pthread_create failed");
	wait_started();
	x = work(1, WORK_ROUNDS);
	g_result = x;
	g_flag = 1;
	pthread_join(t, NULL);
	say("1. jmp loop: the worker saw %016llx (%s)\n", (unsigned long long)g_seen,
	    g_seen == x ? "right" : "WRONG");
	if (pthread_create(&t, NULL, o0_worker, NULL))
		die("spin_jmp: pthread_create failed");
	wait_started();
	x = work(x, WORK_ROUNDS);
	g_flag_o0 = 1;
	pthread_join(t, NULL);
	say("1. the same at -O0: main computed %016llx\n", (unsigned long long)x);

	if (pthread_create(&t, NULL, tree_worker, NULL))
		die("spin_jmp: pthread_create failed");
	wait_started();
	x = work(x, WORK_ROUNDS);
	g_stop = 1;
	pthread_join(t, NULL);
	say("2. recursion: stopped, main computed %016llx\n", (unsigned long long)x);

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) || setitimer(ITIMER_REAL, &it, NULL))
		die("spin_jmp: cannot set the timer");
	jmp_wait(&g_sig);
	say("3. jmp loop: the SIGALRM handler ended it\n");

	if (pthread_create(&t, NULL, forever, NULL))
		die("spin_jmp: pthread_create failed");
	wait_started();
	x = work(x, WORK_ROUNDS);
	say("4. for (;;): main computed %016llx beside it\n", (unsigned long long)x);
	say("spin_jmp: %s\n", g_seen == g_result ? "ok" : "WRONG");
	exit(0);
}
