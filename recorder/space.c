/* SPDX-License-Identifier: MIT */
/* An address space of a recorded or replayed process (recorder.h). */
#define LOG_PREFIX "space"
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "recorder/recorder.h"
#include "sched/ticks-soft.h"
#include "tracee/tracee.h"

int
rec_space_open(struct rec_space *sp, pid_t pid, const struct rec_space *from, bool soft)
{
	*sp = (struct rec_space){ .users = 1, .memfd = tracee_open_mem(pid) };
	if (sp->memfd < 0)
		return sp->memfd;
	/* fork(2) copies the fixed pages, their flags too */
	sp->syscallbuf = from && from->syscallbuf;
	sp->syscallbuf_off = from && from->syscallbuf_off;
	if (soft) {
		sp->soft = from ? ticks_soft_clone(from->soft) : ticks_soft_new();
		if (!sp->soft) {
			close(sp->memfd);
			return -ENOMEM;
		}
	}
	return 0;
}

void
rec_space_close(struct rec_space *sp)
{
	close(sp->memfd);
	ticks_soft_free(sp->soft);
	free(sp->redirects);
	sp->redirects = NULL;
	sp->nredirects = sp->redirects_cap = 0;
	sp->memfd = -1;
	sp->soft = NULL;
}
