/* SPDX-License-Identifier: MIT */
/*
 * New memory written by runs of user code that are rolled back: each round
 * the main thread grows the heap (sbrk(2), a brk(2)) and maps anonymous
 * memory (mmap(2)), then accumulates into both for a few timeslices in a
 * loop of its own (one function per round, so each round's first
 * preemption finds code with no counting code yet and rolls its run back),
 * while a second thread computes and wants the CPU. A rollback that left
 * the new memory as the run had written it (not as zeros) would make the
 * run add its sums twice: the program checks each round's sums against the
 * same loop on fresh memory and prints "grow_compute: ok" if all agree.
 */
#include <pthread.h>
#include <sys/mman.h>

#include "progs.h"

#define NROUNDS 6
#define WORDS (64 * 1024 / 8) /* 64 KiB of each */
#define ITERS 20000000L

static volatile int g_done;
static uint64_t g_other;

static void *
other(void *arg)
{
	uint64_t x = 1;

	(void)arg;
	while (!g_done) {
		x ^= x >> 11;
		x *= 0x9e3779b97f4a7c15ull;
		x += 7;
	}
	g_other = x;
	return NULL;
}

/* One accumulation loop per round, each its own function (and loop). */
#define FILL(K)                                                                  \
	static __attribute__((noinline)) uint64_t fill##K(uint64_t *p, uint64_t *q) \
	{                                                                        \
		uint64_t s = 0;                                                  \
		for (long i = 0; i < ITERS; i++) {                               \
			p[i % WORDS] += (uint64_t)i * (K + 3);                   \
			q[(i * 7) % WORDS] += p[i % WORDS] >> (K + 1);           \
		}                                                                \
		for (long i = 0; i < WORDS; i++)                                 \
			s = s * 31 + p[i] + 3 * q[i];                            \
		return s;                                                        \
	}
FILL(0)
FILL(1)
FILL(2)
FILL(3)
FILL(4)
FILL(5)

static uint64_t (*const fills[NROUNDS])(uint64_t *, uint64_t *) = {
	fill0, fill1, fill2, fill3, fill4, fill5,
};

int
main(void)
{
	uint64_t got[NROUNDS], want[NROUNDS];
	pthread_t th;
	int bad = 0;

	if (pthread_create(&th, NULL, other, NULL) != 0)
		die("pthread_create");
	for (int k = 0; k < NROUNDS; k++) {
		uint64_t *p = sbrk(WORDS * 8);
		uint64_t *q = mmap(NULL, WORDS * 8, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == (void *)-1 || q == MAP_FAILED)
			die("sbrk or mmap: %s", strerror(errno));
		memset(p, 0, WORDS * 8); /* a heap grown back after a shrink keeps bytes */
		got[k] = fills[k](p, q);
	}
	g_done = 1;
	pthread_join(th, NULL);
	/* the same loops on fresh memory, with no other thread to preempt them */
	for (int k = 0; k < NROUNDS; k++) {
		uint64_t *p = calloc(WORDS, 8), *q = calloc(WORDS, 8);

		if (!p || !q)
			die("calloc");
		want[k] = fills[k](p, q);
		free(p);
		free(q);
		say("round %d: %016llx%s\n", k, (unsigned long long)got[k],
		    got[k] == want[k] ? "" : " (wrong)");
		bad |= got[k] != want[k];
	}
	say("other thread: %s\n", g_other ? "done" : "none");
	if (!bad)
		say("grow_compute: ok\n");
	return bad;
}
