/* SPDX-License-Identifier: MIT */
/* Declarations shared by the files of replay/ (not for other components). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/util.h"
#include "recorder/recorder.h"
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

struct trace_event;

/** What replay shows again of the recording's output (replay/output.c). */
struct replay_output {
	uint32_t format; /**< the trace's format version: what values[2] means */
	bool quiet;	 /**< do not show stdout and stderr */
	int dump_fd;	 /**< `--dump-sent` file, -1: none */
	struct rec_ranges ranges;
	uint8_t *buf;
	size_t buf_cap;
};

/**
 * Set up @o for a trace of format @format: quiet or not; with @dump_path,
 * create it (0600, truncated) for the bytes sent on sockets. Returns 0 or
 * -errno (logged).
 */
int replay_output_open(struct replay_output *o, uint32_t format, bool quiet,
		       const char *dump_path) _wur_;

/**
 * At the recorded exit @ev of syscall @nr (@args, recorded @result) of
 * replayed thread @tid, held at its entry: show the bytes it passed from its
 * memory to uprr's stdout or stderr again, and add those it sent on a socket
 * to the dump, as the exit's values[2] says (formats 1-5: writes to fd 1 or
 * 2, and send, sendto, sendmsg).
 */
void replay_output_syscall(struct replay_output *o, const struct trace_event *ev, pid_t tid,
			   long nr, const uint64_t args[6], int64_t result);

/**
 * A TRACE_EV_OUTPUT record @ev: show its bytes or dump them; bytes the
 * recording could not capture are warned about, once per record.
 */
void replay_output_event(struct replay_output *o, const struct trace_event *ev);

/** Close the dump and free @o's buffers. */
void replay_output_close(struct replay_output *o);
