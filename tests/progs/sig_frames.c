/* SPDX-License-Identifier: MIT */
/*
 * Every handler run hashes the frame the kernel built for it: the siginfo,
 * the interrupted registers, the saved mask and where on which stack it
 * runs. Replay lets a caught signal's delivery wait for the thread's next
 * run (PTRACE_CONT with the signal, no single step to the handler) and
 * delivers it with a single step when another event comes first; either
 * way these digests, and so the output, must be the recording's.
 *
 * Phases: raise(3) of a caught signal; sigqueue(3) to itself (si_value);
 * a handler on an alternate stack; a handler that raises another signal;
 * signals it ignores (SIG_IGN, and SIGURG's default) between caught ones;
 * two signals pending when the mask opens (the second delivery is an event
 * of its own, before the first handler runs: replay steps the first);
 * an instruction that faults (ud2, SIGILL, the handler steps over it); two
 * threads whose handlers compute long enough to be preempted; and one
 * thread raising a signal while another switches its handler back and
 * forth (sigaction(2)), whose counts depend on the schedule.
 *
 * The "count" lines are the same in every run (the e2e case compares them
 * with a native run); the "digest" and "schedule" lines hold addresses and
 * the schedule. Exits 1 if a count is wrong.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "progs.h"

#define ROUNDS 300

static _Thread_local uint64_t t_digest = 1469598103934665603ull;
static atomic_ulong g_turns;
static volatile sig_atomic_t g_usr1, g_usr2, g_winch, g_nested, g_h1, g_h2, g_ill;
static atomic_int g_flip_done;

static void
mix(uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		t_digest ^= (v >> (8 * i)) & 0xff;
		t_digest *= 1099511628211ull;
	}
}

/* The frame: siginfo, registers (not ERR, TRAPNO and CR2: the kernel fills
 * those from the thread's last fault, which uprr does not record), mask,
 * and the handler's own stack address. */
static void
hash_frame(int sig, const siginfo_t *si, const void *ctx)
{
	const ucontext_t *uc = ctx;
	int here;

	mix((uint64_t)sig);
	mix((uint64_t)si->si_signo);
	mix((uint64_t)(int64_t)si->si_code);
	mix((uint64_t)si->si_pid);
	mix((uint64_t)si->si_uid);
	if (si->si_code == SI_QUEUE)
		mix((uint64_t)si->si_value.sival_int);
	for (int r = 0; r < NGREG; r++)
		if (r != REG_ERR && r != REG_TRAPNO && r != REG_CR2)
			mix((uint64_t)uc->uc_mcontext.gregs[r]);
	mix(*(const uint64_t *)&uc->uc_sigmask);
	mix((uint64_t)(uintptr_t)&here);
	mix((uint64_t)(uintptr_t)uc->uc_stack.ss_sp);
	mix((uint64_t)uc->uc_stack.ss_flags);
}

static void
on_usr1(int sig, siginfo_t *si, void *ctx)
{
	hash_frame(sig, si, ctx);
	g_usr1++;
}

static void
on_usr2(int sig, siginfo_t *si, void *ctx)
{
	hash_frame(sig, si, ctx);
	g_usr2++;
}

static void
on_winch(int sig, siginfo_t *si, void *ctx)
{
	hash_frame(sig, si, ctx);
	g_winch++;
}

/* raises SIGUSR2 from inside: its frame lies on this one */
static void
on_nested(int sig, siginfo_t *si, void *ctx)
{
	hash_frame(sig, si, ctx);
	g_nested++;
	raise(SIGUSR2);
}

static void
on_h1(int sig, siginfo_t *si, void *ctx)
{
	hash_frame(sig, si, ctx);
	g_h1++;
}

static void
on_h2(int sig, siginfo_t *si, void *ctx)
{
	hash_frame(sig, si, ctx);
	g_h2++;
}

/* ud2 (2 bytes) raised SIGILL: go on after it */
static void
on_ill(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;

	hash_frame(sig, si, ctx);
	mix((uint64_t)(uintptr_t)si->si_addr);
	uc->uc_mcontext.gregs[REG_RIP] += 2;
	g_ill++;
}

static void
handle(int sig, void (*fn)(int, siginfo_t *, void *), int flags)
{
	struct sigaction sa = { .sa_sigaction = fn, .sa_flags = SA_SIGINFO | flags };

	if (sigaction(sig, &sa, NULL) < 0)
		die("sig_frames: sigaction %d failed", sig);
}

static _Thread_local uint64_t t_work;

/* computes for a while (natively 2-6 ms): longer than a timeslice, with the other
 * thread runnable, for uprr to preempt it inside the handler */
static void
on_compute(int sig, siginfo_t *si, void *ctx)
{
	uint64_t x = t_work | 1;

	hash_frame(sig, si, ctx);
	mix(atomic_fetch_add(&g_turns, 1));
	for (long i = 0; i < 2000000 + (long)(t_work % 4000000); i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	t_work = x;
}

struct worker {
	uint64_t seed;
	uint64_t digest;
};

static void *
compute_worker(void *arg)
{
	struct worker *w = arg;

	t_work = w->seed;
	for (int i = 0; i < 12; i++)
		raise(SIGPROF);
	w->digest = t_digest;
	return NULL;
}

static void *
flipper(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS && !atomic_load(&g_flip_done); i++) {
		handle(SIGUSR1, i % 2 ? on_h2 : on_h1, 0);
		sched_yield();
	}
	return NULL;
}

int
main(void)
{
	uint64_t seed = random_seed();
	struct worker w[2] = { { seed | 1, 0 }, { (seed >> 7) | 1, 0 } };
	static char altstack[64 * 1024];
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
	pthread_t t[2];
	union sigval v;

	/* raise(3): the recorder's shortcut (no single step), and replay's */
	handle(SIGUSR1, on_usr1, 0);
	for (int i = 0; i < ROUNDS; i++)
		raise(SIGUSR1);
	say("sig_frames: count raise %d\n", (int)g_usr1);

	/* sigqueue(3) to itself: si_code SI_QUEUE and a value */
	handle(SIGUSR2, on_usr2, 0);
	for (int i = 0; i < ROUNDS; i++) {
		v.sival_int = i * 7;
		sigqueue(getpid(), SIGUSR2, v);
	}
	say("sig_frames: count sigqueue %d\n", (int)g_usr2);

	/* on an alternate stack */
	if (sigaltstack(&ss, NULL) < 0)
		die("sig_frames: sigaltstack failed");
	handle(SIGWINCH, on_winch, SA_ONSTACK);
	for (int i = 0; i < ROUNDS; i++)
		raise(SIGWINCH);
	say("sig_frames: count altstack %d\n", (int)g_winch);

	/* a handler that raises another signal */
	g_usr2 = 0;
	handle(SIGUSR1, on_nested, 0);
	for (int i = 0; i < ROUNDS; i++)
		raise(SIGUSR1);
	say("sig_frames: count nested %d %d\n", (int)g_nested, (int)g_usr2);

	/* ignored ones between caught ones: nothing runs for them */
	g_usr1 = 0;
	handle(SIGUSR1, on_usr1, 0);
	signal(SIGUSR2, SIG_IGN);
	signal(SIGURG, SIG_DFL);
	for (int i = 0; i < ROUNDS; i++) {
		raise(SIGUSR2);
		raise(SIGURG);
		raise(SIGUSR1);
	}
	say("sig_frames: count ignored %d\n", (int)g_usr1);

	/* two pending when the mask opens: both frames are built before a
	 * handler runs (the higher number's handler first) */
	{
		sigset_t set, old;

		g_usr1 = g_usr2 = 0;
		handle(SIGUSR2, on_usr2, 0);
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigaddset(&set, SIGUSR2);
		for (int i = 0; i < ROUNDS; i++) {
			sigprocmask(SIG_BLOCK, &set, &old);
			raise(SIGUSR2);
			raise(SIGUSR1);
			sigprocmask(SIG_SETMASK, &old, NULL);
		}
		say("sig_frames: count two pending %d %d\n", (int)g_usr1, (int)g_usr2);
	}

	/* a synchronous signal */
	handle(SIGILL, on_ill, 0);
	for (int i = 0; i < ROUNDS; i++)
		__asm__ volatile("ud2");
	say("sig_frames: count ud2 %d\n", (int)g_ill);
	say("sig_frames: digest main %016llx\n", (unsigned long long)t_digest);

	/* two threads whose handlers compute: preempted inside them */
	handle(SIGPROF, on_compute, 0);
	for (int i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, compute_worker, &w[i]))
			die("sig_frames: pthread_create failed");
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	say("sig_frames: count compute %lu\n", (unsigned long)atomic_load(&g_turns));
	say("sig_frames: digest compute %016llx %016llx\n", (unsigned long long)w[0].digest,
	    (unsigned long long)w[1].digest);

	/* another thread switches the handler while this one raises */
	if (pthread_create(&t[0], NULL, flipper, NULL))
		die("sig_frames: pthread_create failed");
	for (int i = 0; i < ROUNDS; i++)
		raise(SIGUSR1);
	atomic_store(&g_flip_done, 1);
	pthread_join(t[0], NULL);
	say("sig_frames: count flipped %d\n", (int)(g_usr1 - ROUNDS + g_h1 + g_h2));
	say("sig_frames: schedule flipped %d %d %d\n", (int)g_usr1 - ROUNDS, (int)g_h1, (int)g_h2);
	say("sig_frames: digest end %016llx\n", (unsigned long long)t_digest);

	if (g_usr2 != ROUNDS || g_nested != ROUNDS || g_winch != ROUNDS || g_ill != ROUNDS ||
	    atomic_load(&g_turns) != 24 || g_usr1 - ROUNDS + g_h1 + g_h2 != ROUNDS)
		return 1;
	say("sig_frames: ok\n");
	return 0;
}
