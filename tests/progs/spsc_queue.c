/* SPDX-License-Identifier: MIT */
/*
 * A lock-free single-producer single-consumer ring buffer on C11 atomics:
 * the producer publishes each item with a release store of its write index,
 * the consumer takes everything it finds behind an acquire load of that
 * index in one batch, then gives the slots back with a release store of its
 * read index. Neither makes a syscall while the other is slow: each spins.
 *
 * Prints a checksum of the items in the order consumed (seeded, so it
 * differs between runs) and what the consumer saw: how many batches, their
 * sizes as a power-of-two histogram, and how often each side found the ring
 * empty or full. Those depend on the interleaving.
 *
 * A wait gives up after SPIN_LIMIT polls (seconds natively, far more than
 * any timeslice) and the program then exits 1; so does a wrong checksum.
 *
 * PROG, NITEMS, RING_BITS and SPIN_LIMIT may be defined before including this file:
 * ring_small.c is the same ring with 64 slots.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "progs.h"

#ifndef PROG
#define PROG "spsc_queue"
#define NITEMS 1000000u
#define RING_BITS 14
#endif
#define RING_SIZE (1u << RING_BITS)
#define NBUCKETS (RING_BITS + 1)
#ifndef SPIN_LIMIT
#define SPIN_LIMIT 1000000000L
#endif

struct ring {
	_Alignas(64) atomic_uint head; /* next slot the producer writes */
	_Alignas(64) atomic_uint tail; /* next slot the consumer reads */
	_Alignas(64) uint64_t slots[RING_SIZE];
};

static struct ring g_ring;
static uint64_t g_seed;
static atomic_int g_gave_up;
static long g_full_polls;

static uint64_t
item(unsigned i)
{
	uint64_t x = g_seed + i * 0x9e3779b97f4a7c15ull;

	x ^= x >> 31;
	return x * 0xd6e8feb86659fd93ull;
}

static uint64_t
fold(uint64_t sum, uint64_t v)
{
	return (sum ^ v) * 0x100000001b3ull;
}

static void *
producer(void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < NITEMS; i++) {
		long polls = 0;

		while (i - atomic_load_explicit(&g_ring.tail, memory_order_acquire) == RING_SIZE) {
			if (++polls == SPIN_LIMIT || atomic_load_explicit(&g_gave_up, memory_order_relaxed)) {
				atomic_store(&g_gave_up, 1);
				return NULL;
			}
		}
		g_full_polls += polls;
		g_ring.slots[i & (RING_SIZE - 1)] = item(i);
		atomic_store_explicit(&g_ring.head, i + 1, memory_order_release);
	}
	return NULL;
}

static int
bucket(unsigned n)
{
	int b = 0;

	while (n >>= 1)
		b++;
	return b;
}

int
main(void)
{
	long batches[NBUCKETS] = { 0 }, nbatches = 0, empty_polls = 0, polls = 0;
	uint64_t sum = FNV1A_INIT, want = FNV1A_INIT;
	unsigned tail = 0, largest = 0;
	pthread_t t;

	g_seed = random_seed();
	say(PROG ": %u items through a ring of %u\n", NITEMS, RING_SIZE);
	if (pthread_create(&t, NULL, producer, NULL))
		die(PROG ": pthread_create failed");
	while (tail < NITEMS) {
		unsigned head = atomic_load_explicit(&g_ring.head, memory_order_acquire);
		unsigned n = head - tail;

		if (n == 0) {
			if (++polls == SPIN_LIMIT || atomic_load_explicit(&g_gave_up, memory_order_relaxed)) {
				atomic_store(&g_gave_up, 1);
				break;
			}
			continue;
		}
		empty_polls += polls;
		polls = 0;
		for (unsigned i = 0; i < n; i++)
			sum = fold(sum, g_ring.slots[(tail + i) & (RING_SIZE - 1)]);
		tail = head;
		atomic_store_explicit(&g_ring.tail, tail, memory_order_release);
		batches[bucket(n)]++;
		nbatches++;
		if (n > largest)
			largest = n;
	}
	pthread_join(t, NULL);
	if (atomic_load(&g_gave_up)) {
		say(PROG ": GAVE UP after %ld polls at item %u: the other thread never ran\n",
		    SPIN_LIMIT, tail);
		return 1;
	}

	for (unsigned i = 0; i < NITEMS; i++)
		want = fold(want, item(i));
	say("checksum %016llx (%s)\n", (unsigned long long)sum, sum == want ? "right" : "WRONG");
	say("%ld batches, largest %u; polls: consumer found the ring empty %ld times, "
	    "producer found it full %ld times\n",
	    nbatches, largest, empty_polls, g_full_polls);
	for (int b = 0; b < NBUCKETS; b++)
		if (batches[b])
			say("batches of %u-%u items: %ld\n", 1u << b, (2u << b) - 1, batches[b]);
	if (sum != want) {
		say(PROG ": WRONG CHECKSUM\n");
		return 1;
	}
	say(PROG ": ok\n");
	return 0;
}
