/* SPDX-License-Identifier: MIT */
/*
 * Rollbacks over thread stacks: each round a new thread fills an array on
 * its stack in short runs (getppid(2) ends each: the next run's restore
 * point copies what it wrote), then accumulates over it in a loop of its
 * own while another thread wants the CPU: its first preemption finds no
 * counting code there and rolls the run back, and the stack pages must come
 * back as the earlier runs wrote them. The first thread's stack is new
 * memory, mapped PROT_NONE and made writable by glibc (a restore point takes
 * it as new zeros, checkpoint_track_unpopulated()); glibc drops it at the
 * thread's exit (MADV_DONTNEED: checkpoint_discard() protects its pages
 * again) and gives it to the next round's thread. A wrong page makes a
 * round's sum differ from the same loops run again, alone, on fresh memory:
 * the program prints "stack_reuse: ok" when all agree.
 */
#include <pthread.h>
#include <sys/syscall.h>

#include "progs.h"

#define NROUNDS 4
#define PAGES 64 /* 256 KiB on the stack */
#define WORDS (PAGES * 512)
#define ITERS 40000000L

static volatile int g_done;
static uint64_t g_other_passes;
static uint64_t g_other_buf[WORDS];

/* Another thread that writes its pages between syscalls, and computes. */
static void *
other(void *arg)
{
	uint64_t *b = g_other_buf, x = random_seed() | 1;

	(void)arg;
	while (!g_done) {
		for (long i = 0; i < WORDS; i += 512) {
			x ^= x >> 13;
			x *= 0x9e3779b97f4a7c15ull;
			b[i + (x & 511)] += x;
		}
		g_other_passes++;
		syscall(SYS_getppid);
	}
	return NULL;
}

/* Write every word of @p, 8 pages a run, seeded by round @k. */
static __attribute__((noinline)) void
prepare(uint64_t *p, int k)
{
	for (long i = 0; i < WORDS; i++) {
		p[i] = (uint64_t)i * 2654435761u + (uint64_t)k;
		if (i % (8 * 512) == 0)
			syscall(SYS_getppid);
	}
}

/* One accumulation loop per round, each its own function (and loop). */
#define ACCUMULATE(K)                                                              \
	static __attribute__((noinline)) uint64_t accumulate##K(uint64_t *p)          \
	{                                                                          \
		uint64_t s = 0;                                                    \
		for (long i = 0; i < ITERS; i++) {                                 \
			long w = (i * 4099) % WORDS;                               \
			p[w] = p[w] * 5 + (uint64_t)(K + 1);                       \
			s += p[(w * 7) % WORDS] >> (K + 1);                        \
		}                                                                  \
		return s;                                                          \
	}
ACCUMULATE(0)
ACCUMULATE(1)
ACCUMULATE(2)
ACCUMULATE(3)

static uint64_t (*const accumulate[NROUNDS])(uint64_t *) = {
	accumulate0, accumulate1, accumulate2, accumulate3,
};

struct round {
	int k;
	uint64_t sum;
};

/* A round's thread: its array lives on its stack. */
static void *
round_main(void *arg)
{
	struct round *r = arg;
	uint64_t words[WORDS];

	prepare(words, r->k);
	r->sum = accumulate[r->k](words);
	return NULL;
}

int
main(void)
{
	struct round rounds[NROUNDS];
	uint64_t *fresh = calloc(WORDS, sizeof(*fresh));
	pthread_t th, t;
	int bad = 0;

	if (!fresh)
		die("calloc");
	if (pthread_create(&th, NULL, other, NULL) != 0)
		die("pthread_create");
	for (int k = 0; k < NROUNDS; k++) {
		rounds[k].k = k;
		if (pthread_create(&t, NULL, round_main, &rounds[k]) != 0)
			die("pthread_create");
		pthread_join(t, NULL);
	}
	g_done = 1;
	pthread_join(th, NULL);
	/* the same on fresh memory, with no other thread to preempt it */
	for (int k = 0; k < NROUNDS; k++) {
		uint64_t want;

		prepare(fresh, k);
		want = accumulate[k](fresh);
		say("round %d: %016llx%s\n", k, (unsigned long long)rounds[k].sum,
		    rounds[k].sum == want ? "" : " (wrong)");
		bad |= rounds[k].sum != want;
	}
	/* how far the other thread got: differs from run to run */
	say("other thread: %llu passes\n", (unsigned long long)g_other_passes);
	if (!bad)
		say("stack_reuse: ok\n");
	free(fresh);
	return bad;
}
