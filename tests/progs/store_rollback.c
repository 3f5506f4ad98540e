/* SPDX-License-Identifier: MIT */
/*
 * Rollbacks over pages that restore points copied into uprr's store
 * (checkpoint/store.c): two threads write thousands of pages between their
 * syscalls (getppid(2), which the syscall buffer leaves to ptrace: each ends
 * a run, and the next run's restore point copies what this one wrote). Each
 * round the main thread first writes its whole buffer in short runs (so the
 * restore points copy it, page after page), then accumulates over the same
 * pages in a loop of its own for a few timeslices while the other thread
 * wants the CPU: its first preemption finds no counting code there and rolls
 * the run back to its restore point, whose pages must be those the earlier
 * runs wrote (from the store), not those of the mirror's fork or of the
 * rolled-back run. A wrong page makes a round's sum differ from the same
 * loops run again on fresh memory, alone: the program prints
 * "store_rollback: ok" when all agree.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "progs.h"

#define NROUNDS 4
#define PAGES 256 /* 1 MiB a buffer */
#define WORDS (PAGES * 512)
#define ITERS 15000000L

static volatile int g_done;
static uint64_t g_other_passes;

/* Another thread that writes all its pages between syscalls, and computes. */
static void *
other(void *arg)
{
	uint64_t *b = arg, x = random_seed() | 1;

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

/* Write every page of @p, 16 pages a run, seeded by round @k. */
static void
prepare(uint64_t *p, int k)
{
	for (long i = 0; i < WORDS; i++) {
		p[i] = (uint64_t)i * 2654435761u + (uint64_t)k;
		if (i % (16 * 512) == 0)
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
			p[w] = p[w] * 3 + (uint64_t)(K + 1);                       \
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

static uint64_t *
map_buffer(void)
{
	uint64_t *p = mmap(NULL, WORDS * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			   -1, 0);

	if (p == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	return p;
}

int
main(void)
{
	uint64_t got[NROUNDS], want[NROUNDS];
	uint64_t *mine = map_buffer(), *theirs = map_buffer();
	pthread_t th;
	int bad = 0;

	if (pthread_create(&th, NULL, other, theirs) != 0)
		die("pthread_create");
	for (int k = 0; k < NROUNDS; k++) {
		prepare(mine, k);
		got[k] = accumulate[k](mine);
	}
	g_done = 1;
	pthread_join(th, NULL);
	/* the same on fresh memory, with no other thread to preempt it */
	for (int k = 0; k < NROUNDS; k++) {
		uint64_t *p = map_buffer();

		prepare(p, k);
		want[k] = accumulate[k](p);
		munmap(p, WORDS * 8);
		say("round %d: %016llx%s\n", k, (unsigned long long)got[k],
		    got[k] == want[k] ? "" : " (wrong)");
		bad |= got[k] != want[k];
	}
	/* how far the other thread got: differs from run to run */
	say("other thread: %llu passes\n", (unsigned long long)g_other_passes);
	if (!bad)
		say("store_rollback: ok\n");
	return bad;
}
