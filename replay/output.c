/* SPDX-License-Identifier: MIT */
/*
 * What replay shows again: the bytes the recording's programs wrote to
 * uprr's stdout and stderr, through whatever fd (the recorder tells where
 * each syscall's bytes went), and for `--dump-sent` every byte sent on a
 * socket. Bytes in the program's memory (write, writev, send…) are read
 * there; the others come from the trace (TRACE_EV_OUTPUT).
 */
#define LOG_PREFIX "replay"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "replay/replay-private.h"
#include "trace/trace.h"
#include "tracee/tracee.h"

int
replay_output_open(struct replay_output *o, uint32_t format, bool quiet, const char *dump_path)
{
	*o = (struct replay_output){ .format = format, .quiet = quiet, .dump_fd = -1 };
	if (!dump_path)
		return 0;
	o->dump_fd = open(dump_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (o->dump_fd < 0)
		return log_error_errno(-errno, "cannot create %s", dump_path);
	return 0;
}

/* A reader gone away (EPIPE) or a full disk must not stop the replay. */
static void
put(int fd, const void *data, size_t len)
{
	if (util_write_all(fd, data, len) < 0)
		log_debug("cannot write %zu bytes to fd %d: %m", len, fd);
}

/* Send @len bytes at @data where @sinks (enum trace_output) says. */
static void
emit(struct replay_output *o, unsigned sinks, const void *data, size_t len)
{
	if ((sinks & TRACE_OUT_STDOUT) && !o->quiet)
		put(STDOUT_FILENO, data, len);
	if ((sinks & TRACE_OUT_STDERR) && !o->quiet)
		put(STDERR_FILENO, data, len);
	if ((sinks & TRACE_OUT_SOCKET) && o->dump_fd >= 0)
		put(o->dump_fd, data, len);
}

static int
mem_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	return tracee_read(*(pid_t *)ctx, addr, buf, len);
}

/* Where the bytes of syscall @nr (@args) went, by a trace of format 1-5:
 * only writes to fd 1 or 2 (values[2]: 1 if that fd was uprr's own, absent
 * from the oldest traces) and the send family were told. */
static unsigned
old_sinks(const struct trace_event *ev, long nr, const uint64_t args[6])
{
	if (sc_is_send(nr))
		return TRACE_OUT_SOCKET;
	if (!sc_is_write(nr) || (args[0] != 1 && args[0] != 2))
		return 0;
	if (ev->nvalues >= 3 && !(ev->values[2] & TRACE_OUT_SAME_FD))
		return 0;
	return args[0] == 1 ? TRACE_OUT_STDOUT : TRACE_OUT_STDERR;
}

void
replay_output_syscall(struct replay_output *o, const struct trace_event *ev, pid_t tid, long nr,
		      const uint64_t args[6], int64_t result)
{
	uint64_t total = (uint64_t)result;
	unsigned sinks;

	if (result <= 0 || !(sc_is_write(nr) || sc_is_send(nr)))
		return;
	if (o->format >= 6)
		sinks = ev->nvalues >= 3 ? (unsigned)ev->values[2] : 0;
	else
		sinks = old_sinks(ev, nr, args);
	if (o->quiet)
		sinks &= ~(unsigned)(TRACE_OUT_STDOUT | TRACE_OUT_STDERR);
	if (o->dump_fd < 0)
		sinks &= ~(unsigned)TRACE_OUT_SOCKET;
	if (!sinks)
		return;
	o->ranges.n = 0;
	if (sc_inputs(nr, args, mem_read, &tid, &o->ranges) < 0)
		return;
	for (size_t i = 0; i < o->ranges.n && total > 0; i++) {
		uint64_t len = MIN(o->ranges.v[i].len, total);

		if (UTIL_GROW(o->buf, o->buf_cap, len) < 0 ||
		    tracee_read(tid, o->ranges.v[i].addr, o->buf, len) < 0)
			return;
		emit(o, sinks, o->buf, len);
		total -= len;
	}
}

void
replay_output_event(struct replay_output *o, const struct trace_event *ev)
{
	unsigned sinks = ev->nvalues >= 1 ? (unsigned)ev->values[0] : 0;

	for (uint32_t i = 0; i < ev->nblobs; i++)
		emit(o, sinks, ev->blobs[i].data, ev->blobs[i].len);
	if (ev->nvalues >= 2 && ev->values[1]) {
		log_warn("%" PRIu64 " bytes thread %u sent to %s are not in the trace: the "
			 "recorder could not capture them", ev->values[1], ev->tid,
			 sinks & TRACE_OUT_SOCKET ? "a socket" : "uprr's output");
	}
}

void
replay_output_close(struct replay_output *o)
{
	if (o->dump_fd >= 0)
		close(o->dump_fd);
	free(o->buf);
	sc_ranges_free(&o->ranges);
	*o = (struct replay_output){ .dump_fd = -1 };
}
