/* SPDX-License-Identifier: MIT */
/*
 * The start of a recording, split over two threads: the trace directory and
 * the files every trace holds (the header, the streams, the preload library,
 * the patched vDSO) are created on a thread of their own, on whichever CPU
 * is free, while the supervisor forks the program and lets it exec on its
 * own CPU. Creating files costs ext4 an inode each (20 to 150 µs, more
 * under load): the tiny programs of issue 14 recorded at 4x native, a
 * third of it before the program ran. The program stays stopped at its exec
 * until the thread is done: the trace holds every file before its first
 * event names one.
 */
#define LOG_PREFIX "record"
#include <errno.h>
#include <string.h>

#include "common/log.h"
#include "common/thread.h"
#include "recorder/record-private.h"
#include "recorder/recorder.h"
#include "trace/trace.h"

static void *
start_thread(void *arg)
{
	struct rec_start *s = arg;
	uint32_t id;
	int r;

	s->r = trace_writer_open(s->dir, s->hdr, &s->w);
	if (s->r < 0)
		return NULL;
	s->latest_r = s->latest ? trace_dir_set_latest(s->dir) : 0;
	/* a failure here is the exec stop's to tell: it keeps them again */
	if (s->syscallbuf && trace_writer_keep_data(s->w, rec_preload_image, rec_preload_image_len,
						    "[uprr-preload]", &id) == 0)
		s->preload_ref = (uint64_t)id + 1;
	r = rec_vdso_keep_own(s->w, &s->vdso);
	if (r < 0)
		log_debug("cannot keep uprr's vDSO at the start: %s", strerror(-r));
	return NULL;
}

void
rec_start_begin(struct rec_start *s, int avoid_cpu)
{
	/* no signal of uprr's (forwarding, its timers) is for this thread, nor
	 * the CPU uprr pins itself and the program to: a thread woken there
	 * took it from the fork (0.1 to 1 ms under load) */
	s->running = util_thread_start(&s->thread, start_thread, s, avoid_cpu) == 0;
	if (!s->running)
		start_thread(s); /* no thread: here, as before */
}

int
rec_start_end(struct rec_start *s, struct recorder *rec)
{
	if (s->running)
		pthread_join(s->thread, NULL);
	s->running = false;
	if (s->latest_r < 0)
		log_warn("cannot update the latest-trace link");
	if (s->r < 0)
		return s->r; /* trace_writer_open() removed what it had created */
	rec->w = s->w;
	rec->sb.image_ref = s->preload_ref;
	rec->vdso = s->vdso;
	s->w = NULL;
	s->vdso = (struct rec_vdso){ 0 };
	return 0;
}
