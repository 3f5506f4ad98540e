/* SPDX-License-Identifier: MIT */
/*
 * Two recorders in one thread of uprr (lock-step, tp/lockstep.h): a TP run
 * and the EP run that goes along with it, each with its own event loop,
 * one suspended while the other runs. Both wait with waitpid(-1): one may
 * be told of the other's tracee (a thread killed from outside, one whose
 * live wait ended while its run stood still). Such an event is kept here
 * and handed to its recorder when its loop waits next, in the order it
 * came. With one recorder, waitpid(-1) as ever.
 */
#define LOG_PREFIX "record"
#include <errno.h>
#include <stdio.h>
#include <sys/wait.h>

#include "common/log.h"
#include "recorder/record-private.h"

/* The recorders whose loops run in this thread. */
static struct recorder *active[2];

/* Events kept for the recorder whose tracee they are. */
#define STASH_MAX 1024
static struct {
	struct recorder *rec;
	pid_t tid;
	int status;
} stash[STASH_MAX];
static size_t nstash;

void
rec_stash_enter(struct recorder *rec)
{
	for (size_t i = 0; i < ARRAY_SIZE(active); i++)
		if (!active[i]) {
			active[i] = rec;
			return;
		}
	log_warn("%s", "more than two recorders in one thread: events may go astray");
}

void
rec_stash_leave(struct recorder *rec)
{
	size_t j = 0;

	for (size_t i = 0; i < ARRAY_SIZE(active); i++)
		if (active[i] == rec)
			active[i] = NULL;
	for (size_t i = 0; i < nstash; i++)
		if (stash[i].rec != rec)
			stash[j++] = stash[i];
	nstash = j;
}

/* Line @key ("Tgid", "PPid") of /proc/@tid/status, 0 if unknown. */
static pid_t
status_id(pid_t tid, const char *key)
{
	pid_t v;

	return tracee_status_id(tid, key, &v) == 0 ? v : 0;
}

/* Whether @tid is @rec's tracee: a thread it knows, or one of a process it
 * knows, or a process a process of it forked (its event before the fork's). */
static bool
owns(struct recorder *rec, pid_t tid)
{
	pid_t tgid;

	if (rec_find_thread(rec, tid))
		return true;
	tgid = status_id(tid, "Tgid");
	if (tgid && rec_find_thread(rec, tgid))
		return true;
	tgid = tgid ? status_id(tgid, "PPid") : 0;
	return tgid && rec_find_thread(rec, tgid);
}

bool
rec_stash_others(const struct recorder *rec)
{
	for (size_t i = 0; i < ARRAY_SIZE(active); i++)
		if (active[i] && active[i] != rec)
			return true;
	return false;
}

pid_t
rec_wait_any(struct recorder *rec, int *ret_status)
{
	struct recorder *other = NULL;
	pid_t tid;

	for (size_t i = 0; i < nstash; i++) {
		if (stash[i].rec != rec)
			continue;
		tid = stash[i].tid;
		*ret_status = stash[i].status;
		for (size_t j = i + 1; j < nstash; j++)
			stash[j - 1] = stash[j];
		nstash--;
		return tid;
	}
	tid = waitpid(-1, ret_status, __WALL);
	if (tid <= 0)
		return tid;
	for (size_t i = 0; i < ARRAY_SIZE(active); i++)
		if (active[i] && active[i] != rec)
			other = active[i];
	if (!other || rec_find_thread(rec, tid) || !owns(other, tid))
		return tid;
	if (nstash == STASH_MAX) {
		log_warn("thread %d: an event of the other run lost (%zu kept)", tid, nstash);
	} else {
		stash[nstash].rec = other;
		stash[nstash].tid = tid;
		stash[nstash++].status = *ret_status;
	}
	errno = EINTR;
	return -1;
}
