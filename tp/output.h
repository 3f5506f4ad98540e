/* SPDX-License-Identifier: MIT */
/*
 * Output commit (doc/uniparallel.md, "Output commit"): the bytes a TP run
 * wrote to a destination outside the recording (a terminal, a pipe or a
 * socket it did not create), held in one queue, each tagged with the epoch
 * that wrote it, until that epoch is verified (released, in the order the
 * program wrote them) or rolled back (dropped, never shown).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "recorder/recorder.h"

struct tp_output;

/** What a queue did (`uprr record -v`, the figures). */
struct tp_output_stats {
	uint64_t writes, bytes;	      /**< writes held, and their bytes */
	uint64_t released;	      /**< bytes released (tp_output_release()),
				       * written or not yet */
	uint64_t released_upto;	      /**< 1 + the latest epoch a write released
				       * belongs to, 0: none */
	uint64_t written;	      /**< bytes released and written */
	uint64_t dropped;	      /**< bytes discarded (rollback) or left unwritten
				       * (a destination that failed) */
	uint64_t replaced;	      /**< writes whose bytes the EP run replaced
				       * (tp_output_replace()) */
	size_t destinations;	      /**< open files written to (one counted again
				       * if it had nothing waiting in between) */
	uint64_t first_held_ns;	      /**< util_now_ns() of the first hold, 0: none */
	uint64_t first_written_ns;    /**< and of its first byte written */
	uint64_t max_delay_ns;	      /**< the longest a write waited, held to written */
};

/**
 * A new, empty queue and its writer thread (every signal blocked in it: a
 * write to a pipe whose reader is gone fails with EPIPE there, and the
 * SIGPIPE the kernel sends to the writing thread, pipe(7), stays pending in
 * it). Returns NULL with errno set.
 */
struct tp_output *tp_output_new(void) _wur_;

/**
 * Hold @len bytes at @data (malloc'd; the queue's from now on, even on
 * failure) that epoch @k wrote to @fd, the supervisor's dup of the
 * program's fd (pidfd_getfd(2), Linux 5.6: the same open file; the queue's
 * from now on, and closed at once if it is an open file the queue already
 * writes to, kcmp(2) KCMP_FILE; closed once no write to it waits, so its
 * reader sees the end when the program's fds are closed too, unless a write
 * to it failed). Its flags are never changed: a
 * non-blocking file is waited for with poll(2). @msg: a socket, whose
 * bytes go in one send(2) with MSG_NOSIGNAL each (a datagram keeps its
 * bounds). Epochs never go back: @k is at least the last hold's.
 * Returns the write's id (1, 2, ... in the order held: tp_output_replace())
 * or -ENOMEM.
 */
long tp_output_hold(struct tp_output *q, uint64_t k, int fd, bool msg, void *data, size_t len) _wur_;

/**
 * Replace the bytes of held write @id (tp_output_hold()'s) by @len bytes
 * at @data (malloc'd; the queue's from now on, even on failure): the EP
 * run, whose execution the trace holds, wrote those where the TP run wrote
 * others (a divergence of output only: a held write never reached the
 * kernel, so nothing else is undone). Same destination, same place in the
 * order. Returns 0, -ENOENT (no such write held) or -EALREADY (released
 * already: shown, it cannot be taken back; or a shutdown).
 */
int tp_output_replace(struct tp_output *q, uint64_t id, void *data, size_t len) _wur_;

/**
 * As tp_output_hold(), to the open file process @pid's fd @fd refers to,
 * where one of @q's destinations is a dup of it (kcmp(2) KCMP_FILE, Linux
 * 3.5): the program's repeated writes to one fd take no dup. Returns the
 * write's id, -ENOENT if none is (then @data is still the caller's), or
 * -ENOMEM.
 */
long tp_output_hold_same(struct tp_output *q, uint64_t k, pid_t pid, int fd, void *data,
			 size_t len) _wur_;

/**
 * Hold a shutdown(2) of @fd's socket for writing (SHUT_WR: the peer sees
 * the end of the stream) that epoch @k made: it comes after the writes
 * held before it. @fd as for tp_output_hold(). Returns 0 or -ENOMEM.
 */
int tp_output_hold_shutdown(struct tp_output *q, uint64_t k, int fd) _wur_;

/**
 * Release every write of epochs <= @k (UINT64_MAX: all) to the writer
 * thread, which writes them in the order they were held, across all
 * destinations, blocking. A destination that fails (EPIPE: its reader is
 * gone) has the rest of its writes dropped, said once in one warning; the
 * program saw them succeed.
 */
void tp_output_release(struct tp_output *q, uint64_t k);

/**
 * Drop every write of epochs > @k not released yet (a rollback to the end
 * of epoch @k): never shown. Returns the bytes dropped.
 */
uint64_t tp_output_discard(struct tp_output *q, uint64_t k);

/**
 * Drop every write of epochs >= @first not released yet (0: every one not
 * released, a re-run of the program from its start): never shown. Returns
 * the bytes dropped.
 */
uint64_t tp_output_discard_from(struct tp_output *q, uint64_t first);

/**
 * When (util_now_ns()) the oldest write of @q not released yet was held,
 * 0 if none waits (an adaptive epoch ends soon after it:
 * rec_output_holder.waiting).
 */
uint64_t tp_output_waiting(struct tp_output *q) _wur_;

/** Wait until every write released so far is written (or dropped). */
void tp_output_flush(struct tp_output *q);

/** What @q did so far, into *ret. */
void tp_output_get_stats(struct tp_output *q, struct tp_output_stats *ret);

/**
 * The recorder's view of @q (rec_options.output): its hold() tags each
 * write with the epoch the recorder says. Valid while @q lives.
 */
const struct rec_output_holder *tp_output_holder(struct tp_output *q);

/**
 * Stop the writer thread once what was released is written, drop what was
 * not (counted in the stats' dropped), close the destinations and free @q.
 * Accepts NULL.
 */
void tp_output_free(struct tp_output *q);

static inline void
tp_output_freep(struct tp_output **q)
{
	tp_output_free(*q);
}
