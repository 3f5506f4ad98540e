/* SPDX-License-Identifier: MIT */
/*
 * Offline replay of a trace directory: re-execute the recorded program from
 * the trace alone, following the recorded order of events, emulating every
 * syscall the model does not execute, and checking each event.
 */
#pragma once

#include <stdbool.h>

#include "common/util.h"

/** What `uprr replay` was asked to do. */
struct replay_options {
	const char *trace_dir; /**< the trace to replay */
	bool quiet;	       /**< do not re-emit stdout/stderr */
	const char *dump_sent; /**< file to receive every byte sent on sockets, or NULL */
};

/**
 * Replay @opts->trace_dir to its end. On success stores the replayed
 * process's wait status in *ret_status (equal to the recorded one) and
 * returns 0. On a divergence, a bad trace or a trace that ends early, logs one
 * line at error level and returns a negative errno (-EPROTO for a divergence,
 * -EBADMSG / -ENODATA for a bad or short trace).
 */
int replay_run(const struct replay_options *opts, int *ret_status) _wur_;

/**
 * Print the summary of a trace (`uprr info`) to stdout: command, threads,
 * events, duration, trace bytes and compression ratio. Returns 0, or a
 * negative errno after logging one line.
 */
int replay_info(const char *trace_dir) _wur_;
