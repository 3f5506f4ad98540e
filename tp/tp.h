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
#include "tp/sync-order.h"

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

/**
 * `uprr record --mode=tp`, one epoch (the whole program), doc/uniparallel.md:
 * runs @opts->argv as a TP run (tp_record_log(), without the syscall
 * buffer), with libuprr-sync.so (next to uprr, tp_sync_default_lib()) first
 * in LD_PRELOAD and UPRR_SYNC_MODE=tp, which logs the order of the pthread
 * operations of a dynamically linked program (TP_SYNC_HEAP in @flags: the
 * heap's calls too). Then records the trace (@opts->trace_dir or a new one;
 * its path into @dir_buf) as an EP run that answers every thread's syscalls
 * from the TP run's log and follows its synchronization order (the
 * interposer finds the log finished and follows it), pinned to the CPU the
 * TP run used least (/proc/stat). The trace's mode is TRACE_MODE_TP; it
 * replays as an up trace. The TP log and the order are kept in
 * DIR.tp/ while the EP run goes, then moved into DIR/tp/; the runs' costs
 * go to DIR/TRACE_TP_INFO_FILE. The program's output is the TP run's:
 * what it writes to a destination outside the recording (a terminal, a
 * pipe or socket it did not make) is held (tp/output.h) and written
 * once the EP run verified it, before this returns; when the EP run did
 * not, it is written all the same, with one warning.
 * Returns 0 with the TP run's wait status in *ret_status; -EDOM when the
 * EP run diverged (said in one line; DIR.tp kept); -ENOEXEC as
 * rec_record(); or another -errno, said in one line.
 */
int tp_record(const struct rec_options *opts, unsigned flags, int *ret_status, char *dir_buf,
	      size_t dir_len) _wur_;
