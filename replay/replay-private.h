/* SPDX-License-Identifier: MIT */
/* Declarations shared by the files of replay/ (not for other components). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "recorder/recorder.h"

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
 * to the dump, as the exit's values[2] says (formats 1-4: writes to fd 1 or
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
