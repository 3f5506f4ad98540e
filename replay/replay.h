/* SPDX-License-Identifier: MIT */
/*
 * Offline replay of a trace directory: re-execute the recorded program from
 * the trace alone, following the recorded order of events, emulating every
 * syscall the model does not execute, and checking each event.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "common/util.h"

/** What `uprr replay` was asked to do. */
struct replay_options {
	const char *trace_dir; /**< the trace to replay */
	bool quiet;	       /**< do not re-emit stdout/stderr */
	const char *dump_sent; /**< file to receive every byte sent on sockets, or NULL */
	pid_t stop_pid;	       /**< recorded pid: stop where it first execs, or where
				* it is forked if it never does (0: to the end) */
};

struct trace_event;

/**
 * The command line of the program @ev (a TRACE_EV_EXEC) starts: argv joined
 * with spaces, from the initial stack in blobs[0] (argc, then argv[]; System V
 * x86-64 ABI, 3.4.1). Returns a malloc'd string the caller frees, "?" if the
 * stack cannot be read, or NULL when out of memory.
 */
char *replay_exec_command(const struct trace_event *ev);

/**
 * Replay @opts->trace_dir to its end. On success stores the replayed
 * process's wait status in *ret_status (equal to the recorded one) and
 * returns 0. On a divergence, a bad trace or a trace that ends early, logs one
 * line at error level and returns a negative errno: -EPROTO for a
 * divergence, -EBADMSG for a bad trace, -ECANCELED where the recording
 * stopped (TRACE_END_STOPPED), and -ENODATA, and only then, for a trace the
 * recorder did not finish (killed, disk full: no TRACE_EV_END): replayed
 * through every event it holds (a tp trace: to its last verified epoch),
 * then the replayed processes killed, "the recording was cut short at event
 * N (the recorder did not finish it)". With @opts->stop_pid, stops
 * where that process execs or is forked, says so in one line on stderr, ends
 * the replayed processes, stores status 0 and returns 0; -ESRCH if the trace
 * has no such process.
 */
int replay_run(const struct replay_options *opts, int *ret_status) _wur_;

/**
 * Ask replay_run() to stop before its next event (uprr got SIGTERM): it then
 * ends the replayed processes, logs one line and returns -EINTR.
 * Async-signal-safe. Never fails.
 */
void replay_request_stop(void);

/**
 * Print the summary of a trace (`uprr info`) to stdout: command, threads,
 * events, duration, trace bytes and compression ratio. Returns 0, or a
 * negative errno after logging one line.
 */
int replay_info(const char *trace_dir) _wur_;

/**
 * Print the recorded process tree (`uprr ps`) to stdout: a header, then one
 * tab-separated line per process in creation order: its recorded pid, its
 * parent's ("--" for the first), its exit code ("-N" if signal N killed it,
 * "none" if the trace holds no end for it) and its command line (its last
 * exec's argv, or what it inherited by fork). Returns 0, or a negative errno
 * after logging one line; a trace cut short prints what it holds, with a
 * warning.
 */
int replay_ps(const char *trace_dir) _wur_;

/**
 * Print every event of a trace (`uprr dump`) to stdout, one line each: its
 * number, thread, type, values in hex, rip and blobs (address+length).
 * Returns 0, or a negative errno after logging one line.
 */
int replay_dump(const char *trace_dir) _wur_;
