/* SPDX-License-Identifier: MIT */
/*
 * The thread-parallel (TP) run of uniparallel recording (doc/uniparallel.md):
 * the program's threads run at once, on its native CPUs, under the recorder
 * with its TP knob set. So far its public entry records a TP log.
 */
#pragma once
#include <stddef.h>

#include "common/util.h"
#include "recorder/recorder.h"

/**
 * Run @opts->argv as a TP run and write its log into a new trace directory
 * (@opts->trace_dir, or a new one named after the program; its path goes to
 * @dir_buf): the recorder's events in the order it saw them, every thread's
 * syscalls with their results and the bytes the kernel wrote (the syscall
 * buffer's records flushed at each stop of their thread), signals,
 * clones, execs and exits, under a header of mode TRACE_MODE_TP_LOG. No
 * thread waits for another: there is no schedule, no tick, no restore point,
 * and the log does not replay; EP runs read its syscalls. @opts->ticks and
 * @opts->chaos are ignored. Returns as rec_record() does: 0 with the
 * program's wait status in *ret_status, or -errno.
 */
int tp_record_log(const struct rec_options *opts, int *ret_status, char *dir_buf,
		  size_t dir_len) _wur_;
