/* SPDX-License-Identifier: MIT */
/*
 * A thread of the trace's own that does jobs in order for its caller, off
 * the caller's CPU: the writer compresses and writes the next events frames
 * on one (writer.c: a few may wait their turn), the reader reads and
 * decodes the next one (reader.c: one at a time). The caller fills a job's
 * fields, gives it, and later waits for it; the thread runs @run once per
 * job given, in order. Private to trace/.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>

#include "common/util.h"

/** The thread and its hand-over state (all zero: not started). */
struct trace_worker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool started;		/**< the thread runs */
	bool stop;		/**< it should end */
	unsigned int pending;	/**< jobs given and not done */
	void (*run)(void *arg); /**< the job, run on the thread */
	void *arg;
};

/**
 * Start @wk's thread, which runs @run(@arg) for each job given, on any CPU
 * (the caller may be pinned with its tracees) and with every signal blocked
 * (they are the caller's to take). Returns 0 or -errno (pthread_create(3)).
 */
int trace_worker_start(struct trace_worker *wk, void (*run)(void *arg), void *arg) _wur_;

/** Give @wk's thread a job (the fields its run reads for it are set); it
 * runs after the jobs given before. */
void trace_worker_give(struct trace_worker *wk);

/** Wait until @wk's thread is done with every job it was given: their
 * results can be read until the next trace_worker_give(). */
void trace_worker_wait(struct trace_worker *wk);

/** Wait until fewer than @n jobs given to @wk's thread are not done, and
 * return how many are not (0 if it never started): those done before them
 * can be read. */
unsigned int trace_worker_wait_below(struct trace_worker *wk, unsigned int n);

/** Stop @wk's thread, after its job if it has one, and join it; nothing if
 * it never started. */
void trace_worker_stop(struct trace_worker *wk);
