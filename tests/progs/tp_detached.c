/* SPDX-License-Identifier: MIT */
/*
 * Detached threads started one after another while earlier ones end
 * (`uprr record --mode=tp`): an ending detached thread frees its TLS and
 * trims glibc's stack cache holding the cache's lock, which the main
 * thread's next pthread_create(3) takes too. Each thread adds its result to
 * a total under a mutex and signals the main thread, which keeps 2 running.
 * Prints the total: the same in every run.
 */
#include <pthread.h>

#include "progs.h"

#define NTHREADS 60

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static uint64_t total;
static int done;

static void *
task(void *arg)
{
	volatile uint64_t x = (uint64_t)(uintptr_t)arg;

	for (int i = 0; i < 20000; i++)
		x = x * 6364136223846793005ull + 1;
	pthread_mutex_lock(&lock);
	total += x;
	done++;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* Wait until @n threads are done. */
static void
wait_done(int n)
{
	pthread_mutex_lock(&lock);
	while (done < n)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
}

int
main(void)
{
	pthread_attr_t attr;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (int i = 0; i < NTHREADS; i++) {
		pthread_t t;

		if (pthread_create(&t, &attr, task, (void *)(uintptr_t)(i + 1)) != 0)
			die("pthread_create failed");
		if (i >= 1)
			wait_done(i - 1);
	}
	wait_done(NTHREADS);
	say("tp_detached: %d threads, total %llx\n", NTHREADS, (unsigned long long)total);
	return 0;
}
