/* SPDX-License-Identifier: MIT */
/*
 * A thread signals itself in every way the recorder takes a shortcut for,
 * and in those it must not: raise(3) (tgkill(2) of its own ids) of a caught
 * signal, tkill(2) of its own id, kill(2) of its process while it is its
 * only thread, a signal it ignores, one it blocks
 * (delivered when it unblocks it), a real-time signal, two pending at once
 * (the lower number first), and tgkill of another thread. Each handler run
 * is counted; the counts and their order are the same in every run.
 *
 * uprr takes the tgkill's syscall exit at the signal-delivery stop that
 * follows it (rec_exit_at_signal()), and delivers a caught signal without a
 * single step when the run needs no restore point.
 *
 * Exits 1 if a count is wrong.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "progs.h"

#define ROUNDS 500

static volatile sig_atomic_t g_usr1, g_usr2, g_rt, g_order[4], g_norder;

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		g_usr1++;
	else if (sig == SIGUSR2)
		g_usr2++;
	else
		g_rt++;
	if (g_norder < 4)
		g_order[g_norder++] = sig;
}

static void *
peer(void *arg)
{
	sigset_t set;
	int sig;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigwait(&set, &sig);
	return (void *)(intptr_t)sig;
}

int
main(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t set, old;
	pthread_t t;
	void *got;
	long tid = syscall(SYS_gettid);

	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGRTMIN + 1, &sa, NULL);
	for (int i = 0; i < ROUNDS; i++)
		raise(SIGUSR1);
	for (int i = 0; i < ROUNDS; i++)
		syscall(SYS_tkill, tid, SIGUSR2);
	say("signal_self: raise %d, tkill %d\n", (int)g_usr1, (int)g_usr2);
	/* kill(2) of its own process, the only thread */
	for (int i = 0; i < ROUNDS; i++)
		kill(getpid(), SIGUSR2);
	g_usr2 -= ROUNDS;
	say("signal_self: kill, the only thread\n");

	/* ignored: no handler runs */
	signal(SIGURG, SIG_IGN);
	for (int i = 0; i < ROUNDS; i++)
		raise(SIGURG);
	/* blocked: pending until the mask lets it in */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	raise(SIGUSR1);
	say("signal_self: blocked, %d before the unblock\n", (int)g_usr1 - ROUNDS);
	sigprocmask(SIG_SETMASK, &old, NULL);
	say("signal_self: blocked, %d after it\n", (int)g_usr1 - ROUNDS);
	/* real-time */
	for (int i = 0; i < ROUNDS; i++)
		raise(SIGRTMIN + 1);
	say("signal_self: real-time %d\n", (int)g_rt);

	/* two pending when the mask opens: the lower number first */
	g_norder = 0;
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	raise(SIGUSR2);
	raise(SIGUSR1);
	sigprocmask(SIG_SETMASK, &old, NULL);
	say("signal_self: order %d %d\n", (int)g_order[0], (int)g_order[1]);

	/* another thread's signal: it takes it in sigwait */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	if (pthread_create(&t, NULL, peer, NULL))
		die("signal_self: pthread_create failed");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_kill(t, SIGUSR2);
	pthread_join(t, &got);
	say("signal_self: the other thread took %d\n", (int)(intptr_t)got);
	if (g_usr1 != ROUNDS + 2 || g_usr2 != ROUNDS + 1 || g_rt != ROUNDS || (intptr_t)got != SIGUSR2)
		return 1;
	say("signal_self: ok\n");
	return 0;
}
