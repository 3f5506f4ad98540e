/* SPDX-License-Identifier: MIT */
/* Declarations shared by the files of replay/ (not for other components). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/util.h"
#include "trace/trace.h"

/**
 * Give replayed process @pid, stopped at its exec stop (@memfd: its
 * /proc/PID/mem), the recorded vDSO: the image kept in the trace at @copy
 * (the recorder's patched vDSO), at the address the recorded auxv's
 * AT_SYSINFO_EHDR names (@stack: the recorded initial stack), written over
 * this kernel's vDSO, which must lie there and be no smaller (the same
 * kernel, or one with the same vDSO layout); -EXDEV otherwise. Returns 0, or
 * -errno with what failed in @why.
 */
int replay_vdso_restore(pid_t pid, int memfd, const char *copy, const struct trace_blob *stack,
			char *why, size_t len) _wur_;

/**
 * The write-family syscall @nr (@args) of thread @tid returned @result
 * bytes written to /proc/PID/mem in the recording: write those bytes, read
 * from @tid's buffers (write, pwrite64: args[1]; writev, pwritev,
 * pwritev2: the iovec array at args[1], args[2] entries), to @addr through
 * @memfd, the target process's /proc/PID/mem. Returns 0 or -errno.
 */
int replay_mem_write(pid_t tid, long nr, const uint64_t args[6], int64_t result, int memfd,
		     uint64_t addr) _wur_;

/**
 * Thread @tid, recorded as @rec_tid, is about to exit (or die in a group
 * exit or an execve): mark the lock words of the robust mutexes it holds
 * FUTEX_OWNER_DIED through @memfd (/proc/PID/mem), as the kernel did in the
 * recording (set_robust_list(2); handle_futex_death(), kernel/futex/core.c),
 * since here the words hold @rec_tid, not @tid. The list comes from
 * get_robust_list(2). Returns 0 (also when @tid is gone or has no list) or
 * -errno.
 */
int replay_robust_exit(pid_t tid, int memfd, pid_t rec_tid) _wur_;

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
