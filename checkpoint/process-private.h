/* SPDX-License-Identifier: MIT */
/*
 * What process.c and respawn.c share: a copy's bookkeeping and the one
 * copying mechanism, parametrised by the ids the copy's threads get.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "checkpoint/process.h"

struct checkpoint_copy {
	pid_t pid;	   /* the copy's first thread */
	int pidfd;	   /* of pid: signals it safely after it was reaped */
	int memfd;	   /* /proc/PID/mem */
	pid_t *tids;	   /* index for index the source's */
	size_t n;	   /* threads created so far */
	bool resumed;	   /* checkpoint_copy_resume() was called */
	pid_t src_pid;	   /* the process copied */
	pid_t *src_tids;   /* its threads, as given (n of them) */
	struct checkpoint_copy_times times; /* what making it took */
};

/*
 * checkpoint_copy_new() when @ids is NULL. Otherwise thread i of the copy is
 * made with id ids[i] (clone3(2) set_tid, Linux 5.5), ids[0] being the new
 * process's pid; on -EEXIST,
 * *ret_taken (if not NULL) is the id in use. See checkpoint_respawn().
 */
int cp_process_copy(pid_t pid, int memfd, const pid_t *tids, size_t n, const pid_t *ids,
		    pid_t *ret_taken, struct checkpoint_copy **ret) _wur_;
