/* SPDX-License-Identifier: MIT */
/*
 * A dispatcher hands work to NWORKERS threads in turn, each through a
 * mailbox of its own, and everybody waits by spinning, without a syscall:
 * the dispatcher on the worker's reply, each worker on its own mailbox. At
 * any moment one thread has something to do and the others spin. Natively
 * each waits on its own CPU; a recorder that runs one thread at a time must
 * give the CPU to the one with work (record-sched.c, rec_spin_pick(): a
 * thread preempted spinning whose loop would read what it read then would
 * only spin again), not to each spinner in round robin.
 *
 * The output is the same in every run; exits 1 if a sum is wrong or a wait
 * gave up (about a second of spinning natively).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "progs.h"

#define NWORKERS 3
#define NROUNDS 150
#define SPIN_LIMIT 1000000000L

struct mailbox {
	_Alignas(64) atomic_int go;   /* the round the dispatcher gave, + 1 */
	_Alignas(64) atomic_int done; /* the round the worker finished, + 1 */
};

static struct mailbox g_box[NWORKERS];
static atomic_int g_gave_up;
static uint64_t g_sums[NWORKERS];

/* Spin until *@word is @want; false if it gave up. */
static bool
wait_for(atomic_int *word, int want)
{
	for (long polls = 0; atomic_load_explicit(word, memory_order_acquire) != want; polls++)
		if (polls == SPIN_LIMIT || atomic_load_explicit(&g_gave_up, memory_order_relaxed)) {
			atomic_store(&g_gave_up, 1);
			return false;
		}
	return true;
}

static uint64_t
work(uint64_t sum, int round)
{
	for (int k = 0; k < 200; k++)
		sum = (sum ^ (uint64_t)(round * 1000 + k)) * 0x100000001b3ull;
	return sum;
}

static void *
worker(void *arg)
{
	int me = (int)(intptr_t)arg;

	for (int r = me; r < NROUNDS; r += NWORKERS) {
		if (!wait_for(&g_box[me].go, r + 1))
			return NULL;
		g_sums[me] = work(g_sums[me], r);
		atomic_store_explicit(&g_box[me].done, r + 1, memory_order_release);
	}
	return NULL;
}

int
main(void)
{
	pthread_t t[NWORKERS];
	bool ok = true;

	for (int i = 0; i < NWORKERS; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i))
			die("spin_handoff: pthread_create failed");
	for (int r = 0; r < NROUNDS && ok; r++) {
		struct mailbox *b = &g_box[r % NWORKERS];

		atomic_store_explicit(&b->go, r + 1, memory_order_release);
		ok = wait_for(&b->done, r + 1);
	}
	for (int i = 0; i < NWORKERS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < NWORKERS; i++) {
		uint64_t want = 0;

		for (int r = i; r < NROUNDS; r += NWORKERS)
			want = work(want, r);
		say("spin_handoff: worker %d sum %016llx\n", i, (unsigned long long)g_sums[i]);
		ok = ok && g_sums[i] == want;
	}
	if (!ok || atomic_load(&g_gave_up))
		return 1;
	say("spin_handoff: ok\n");
	return 0;
}
