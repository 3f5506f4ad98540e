/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "common/util.h"

/* ---- SysV shared memory (sysv.c) ---- */

/** A SysV segment of the recording and this replay's own in its place. */
struct replay_shm {
	int rec_id; /**< the recording's shmid */
	int id;	    /**< this replay's */
};

/** The segments made so far (owned; free with replay_shm_free). */
struct replay_shm_table {
	struct replay_shm *v;
	size_t n, cap;
};

/**
 * The id of this replay's segment for recorded segment @rec_id of @size
 * bytes, made on first use. Replay's segment is attached (read-only) by
 * uprr itself and marked for removal at once, so it lives as long as a
 * replayed process or uprr holds it and no id outlives the replay (Linux
 * lets a segment marked for removal be attached again while attached:
 * shmctl(2) IPC_RMID, shmat(2) EIDRM). Returns the id or -errno.
 */
int replay_shm_id(struct replay_shm_table *tab, int rec_id, uint64_t size) _wur_;

/** Free @tab; uprr's own attachments go when it exits. */
void replay_shm_free(struct replay_shm_table *tab);
