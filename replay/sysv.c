/* SPDX-License-Identifier: MIT */
/*
 * SysV shared memory in replay. The recording's segments are gone, and
 * their ids mean nothing here: shmget(2) and shmctl(2) are emulated, and
 * each shmat(2) attaches, at the recorded address, a segment this replay
 * made for the recorded id. A fork shares it, exec and exit detach it and
 * shmdt(2) runs as recorded, as the kernel did with the recorded segment.
 * Its contents are what the replayed processes write, since the recorder
 * refuses segments made or attached by processes outside the recording.
 */
#define LOG_PREFIX "replay"
#include <errno.h>
#include <sys/ipc.h>
#include <sys/shm.h>

#include "common/log.h"
#include "replay/replay-private.h"

int
replay_shm_id(struct replay_shm_table *tab, int rec_id, uint64_t size)
{
	void *at;
	int id;

	for (size_t i = 0; i < tab->n; i++)
		if (tab->v[i].rec_id == rec_id)
			return tab->v[i].id;
	if (size == 0)
		return -EINVAL;
	if (UTIL_GROW(tab->v, tab->cap, tab->n + 1) < 0)
		return -ENOMEM;
	id = shmget(IPC_PRIVATE, size, IPC_CREAT | 0600);
	if (id < 0)
		return -errno;
	at = shmat(id, NULL, SHM_RDONLY);
	if (at == (void *)-1) {
		int r = -errno;

		(void)shmctl(id, IPC_RMID, NULL);
		return r;
	}
	/* destroyed when the last process detaches: uprr, at the latest */
	(void)shmctl(id, IPC_RMID, NULL);
	tab->v[tab->n++] = (struct replay_shm){ rec_id, id };
	return id;
}

void
replay_shm_free(struct replay_shm_table *tab)
{
	free(tab->v);
	tab->v = NULL;
	tab->n = tab->cap = 0;
}
