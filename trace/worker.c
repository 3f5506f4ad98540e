/* SPDX-License-Identifier: MIT */
/* A thread that does one job at a time for the trace's writer or reader. */
#include "trace/worker.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

static void *
worker_main(void *arg)
{
	struct trace_worker *wk = arg;
	cpu_set_t all;
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);

	/* any CPU: the caller is pinned to one with the tracees */
	CPU_ZERO(&all);
	for (long i = 0; i < ncpu && i < CPU_SETSIZE; i++)
		CPU_SET((int)i, &all);
	(void)sched_setaffinity(0, sizeof(all), &all);
	pthread_mutex_lock(&wk->lock);
	for (;;) {
		while (!wk->pending && !wk->stop)
			pthread_cond_wait(&wk->cond, &wk->lock);
		if (!wk->pending)
			break;
		pthread_mutex_unlock(&wk->lock);
		wk->run(wk->arg);
		pthread_mutex_lock(&wk->lock);
		wk->pending--;
		pthread_cond_broadcast(&wk->cond);
	}
	pthread_mutex_unlock(&wk->lock);
	return NULL;
}

int
trace_worker_start(struct trace_worker *wk, void (*run)(void *arg), void *arg)
{
	sigset_t all, old;
	int r;

	wk->run = run;
	wk->arg = arg;
	wk->stop = false;
	wk->pending = 0;
	if (pthread_mutex_init(&wk->lock, NULL) != 0)
		return -ENOMEM;
	if (pthread_cond_init(&wk->cond, NULL) != 0) {
		pthread_mutex_destroy(&wk->lock);
		return -ENOMEM;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&wk->thread, NULL, worker_main, wk);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		pthread_cond_destroy(&wk->cond);
		pthread_mutex_destroy(&wk->lock);
		return r;
	}
	wk->started = true;
	return 0;
}

void
trace_worker_give(struct trace_worker *wk)
{
	pthread_mutex_lock(&wk->lock);
	wk->pending++;
	pthread_cond_broadcast(&wk->cond);
	pthread_mutex_unlock(&wk->lock);
}

void
trace_worker_wait(struct trace_worker *wk)
{
	if (!wk->started)
		return;
	pthread_mutex_lock(&wk->lock);
	while (wk->pending)
		pthread_cond_wait(&wk->cond, &wk->lock);
	pthread_mutex_unlock(&wk->lock);
}

unsigned int
trace_worker_wait_below(struct trace_worker *wk, unsigned int n)
{
	unsigned int pending;

	if (!wk->started)
		return 0;
	pthread_mutex_lock(&wk->lock);
	while (wk->pending >= n)
		pthread_cond_wait(&wk->cond, &wk->lock);
	pending = wk->pending;
	pthread_mutex_unlock(&wk->lock);
	return pending;
}

void
trace_worker_stop(struct trace_worker *wk)
{
	if (!wk->started)
		return;
	pthread_mutex_lock(&wk->lock);
	wk->stop = true;
	pthread_cond_broadcast(&wk->cond);
	pthread_mutex_unlock(&wk->lock);
	pthread_join(wk->thread, NULL);
	pthread_cond_destroy(&wk->cond);
	pthread_mutex_destroy(&wk->lock);
	wk->started = false;
}
