/* SPDX-License-Identifier: MIT */
/* Declarations shared by the files of replay/ (not for other components). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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
