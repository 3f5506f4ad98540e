/* SPDX-License-Identifier: MIT */
/*
 * A lock-free single-producer single-consumer ring of only 64 slots on C11
 * atomics, between two threads that spin without a syscall whenever it is
 * full or empty: 400,000 items hand the CPU over thousands of times. A
 * recorder that runs one thread at a time must see a spinning thread and
 * switch to the other (record-sched.c), not let it spin out its timeslice:
 * with 5 ms timeslices this would take minutes (the case's timeout).
 *
 * Prints a checksum of the items in the order consumed (seeded, so it
 * differs between runs) and how the consumer saw the ring: batches, their
 * sizes as a power-of-two histogram, empty and full polls. Those depend on
 * the interleaving. A wait gives up after SPIN_LIMIT polls (exit 1), as a
 * wrong checksum does.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "progs.h"

#define NITEMS 400000u
#define RING_BITS 6
#define RING_SIZE (1u << RING_BITS)
#define NBUCKETS (RING_BITS + 1)
#define SPIN_LIMIT 2000000000L

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
	uint64_t sum = 0xcbf29ce484222325ull, want = 0xcbf29ce484222325ull;
	unsigned tail = 0;
	pthread_t t;

	g_seed = random_seed();
	say("ring_small: %u items through a ring of %u\n", NITEMS, RING_SIZE);
	if (pthread_create(&t, NULL, producer, NULL))
		die("ring_small: pthread_create failed");
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
	}
	pthread_join(t, NULL);
	if (atomic_load(&g_gave_up)) {
		say("ring_small: GAVE UP at item %u: the other thread never ran\n", tail);
		return 1;
	}
	for (unsigned i = 0; i < NITEMS; i++)
		want = fold(want, item(i));
	say("checksum %016llx (%s)\n", (unsigned long long)sum, sum == want ? "right" : "WRONG");
	say("%ld batches; the consumer found the ring empty %ld times, the producer found it "
	    "full %ld times\n", nbatches, empty_polls, g_full_polls);
	for (int b = 0; b < NBUCKETS; b++)
		if (batches[b])
			say("batches of %u-%u items: %ld\n", 1u << b, (2u << b) - 1, batches[b]);
	if (sum != want)
		return 1;
	say("ring_small: ok\n");
	return 0;
}
