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
