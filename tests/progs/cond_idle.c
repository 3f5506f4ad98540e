/* SPDX-License-Identifier: MIT */
/*
 * Threads idle in condition waits while others work (issue 15: memcached's
 * maintenance threads stand in pthread_cond_wait(3) and
 * pthread_cond_timedwait(3) at every epoch's end of a TP run). "sleeper"
 * waits on `wake` with no timeout and is woken now and then (a new
 * generation); "timer" waits on `quiet` with a deadline 60 s away and is
 * woken only at the end. Two workers hash a buffer, add to a total under
 * the sleeper's mutex, print a line every 10 rounds and sleep 0.5 ms each
 * round; worker 0 starts a new generation every 30 rounds. argv[1]: the
 * rounds (300). The last line depends on nothing but the rounds.
 */
#include <pthread.h>
#include <stdbool.h>

#include "progs.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t quiet_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t quiet = PTHREAD_COND_INITIALIZER;
static bool stop, stop_quiet;
static unsigned gen;		/* under lock */
static uint64_t total;		/* under lock */
static int rounds = 300;

static void *
sleeper(void *arg)
{
	unsigned seen = 0, woken = 0;

	(void)arg;
	pthread_mutex_lock(&lock);
	while (!stop) {
		while (!stop && gen == seen)
			pthread_cond_wait(&wake, &lock);
		if (!stop && gen != seen) {
			seen = gen;
			woken++;
		}
	}
	pthread_mutex_unlock(&lock);
	return (void *)(uintptr_t)(woken > 0);
}

static void *
timer(void *arg)
{
	struct timespec deadline;

	(void)arg;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 60;
	pthread_mutex_lock(&quiet_lock);
	while (!stop_quiet)
		if (pthread_cond_timedwait(&quiet, &quiet_lock, &deadline) != 0)
			break;
	pthread_mutex_unlock(&quiet_lock);
	return (void *)(uintptr_t)stop_quiet;
}

static void *
worker(void *arg)
{
	int id = (int)(uintptr_t)arg;
	static unsigned char buf[2][16384];
	uint64_t h = FNV1A_INIT + (uint64_t)id;

	for (size_t i = 0; i < sizeof(buf[id]); i++)
		buf[id][i] = (unsigned char)(i * 7 + (size_t)id);
	for (int r = 0; r < rounds; r++) {
		for (int k = 0; k < 4; k++)
			h = fnv1a(h, buf[id], sizeof(buf[id]));
		buf[id][r % sizeof(buf[id])] ^= (unsigned char)h;
		pthread_mutex_lock(&lock);
		total += h & 0xffff;
		if (id == 0 && r % 30 == 29) {
			gen++;
			pthread_cond_signal(&wake);
		}
		pthread_mutex_unlock(&lock);
		if (r % 10 == 9)
			say("worker %d: round %d, hash %016llx\n", id, r + 1, (unsigned long long)h);
		sleep_us(500);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t s, t, w[2];
	void *sr, *tr;

	if (argc > 1)
		rounds = atoi(argv[1]);
	if (rounds <= 0)
		die("usage: cond_idle [ROUNDS]");
	if (pthread_create(&s, NULL, sleeper, NULL) || pthread_create(&t, NULL, timer, NULL))
		die("pthread_create failed");
	for (int i = 0; i < 2; i++)
		if (pthread_create(&w[i], NULL, worker, (void *)(uintptr_t)i))
			die("pthread_create failed");
	for (int i = 0; i < 2; i++)
		pthread_join(w[i], NULL);
	pthread_mutex_lock(&lock);
	stop = true;
	pthread_cond_broadcast(&wake);
	pthread_mutex_unlock(&lock);
	pthread_mutex_lock(&quiet_lock);
	stop_quiet = true;
	pthread_cond_signal(&quiet);
	pthread_mutex_unlock(&quiet_lock);
	pthread_join(s, &sr);
	pthread_join(t, &tr);
	say("cond_idle: %d rounds, %u generations, total %llu, sleeper %s, timer %s\n", rounds, gen,
	    (unsigned long long)total, sr ? "woken" : "never woken", tr ? "stopped" : "timed out");
	return 0;
}
