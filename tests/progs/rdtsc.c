/* SPDX-License-Identifier: MIT */
/*
 * Prints raw time-stamp counter values read with rdtsc and rdtscp (with the
 * processor id rdtscp returns in ecx), from the main thread and from a
 * second thread. Natively the values differ in every run; in replay they
 * must be the recorded ones (uprr traps rdtsc with PR_SET_TSC).
 *
 * Exits 1 if the counter goes backwards within a thread.
 */
#include <pthread.h>
#include <x86intrin.h>

#include "progs.h"

#define NREADS 5

static int
read_counters(const char *who)
{
	uint64_t prev = 0;
	int bad = 0;

	for (int i = 0; i < NREADS; i++) {
		unsigned int aux = 0;
		uint64_t a = __rdtsc();
		uint64_t b = __rdtscp(&aux);

		say("%s: rdtsc %llu rdtscp %llu aux %u\n", who, (unsigned long long)a,
		    (unsigned long long)b, aux);
		if (a < prev || b < a)
			bad = 1;
		prev = b;
	}
	return bad;
}

static void *
thread_main(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)read_counters("thread");
}

int
main(void)
{
	pthread_t t;
	void *ret;
	int bad;

	bad = read_counters("main");
	if (pthread_create(&t, NULL, thread_main, NULL))
		die("rdtsc: pthread_create failed");
	pthread_join(t, &ret);
	bad |= (int)(intptr_t)ret;
	if (bad) {
		say("rdtsc: COUNTER WENT BACKWARDS\n");
		return 1;
	}
	say("rdtsc: ok\n");
	return 0;
}
