/* SPDX-License-Identifier: MIT */
/*
 * Between ep/syscall-log.c, which reads a log's events, and
 * ep/syscall-log-sb.c, which turns its TRACE_EV_SYSCALLBUF records into
 * each thread's calls. Private to ep/.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ep/ep.h"
#include "trace/trace.h"

/* What a thread's buffered calls leave for its next traced one. */
struct ep_sb_thread {
	long cont_nr;	    /* the traced call that carries on its last call (the
			     * rest of a partial write, preload/syscallbuf.c), 0:
			     * none */
	uint64_t cont_fd;   /* its fd */
	uint64_t cont_left; /* bytes still to pass (a writev's: at most) */
	bool cont_multi;    /* several may follow (writev, sendmsg: one per iovec) */
	bool cont_in;	    /* inside one (its entry came) */
	bool cont_restart;  /* one was interrupted: the kernel restarts it */
	bool maybe_attempt; /* its last call may be the attempt of the traced
			     * one that follows with the same arguments (a poll
			     * whose timeout the record does not hold) */
};

/* How a batch of records left the thread. */
enum ep_sb_end {
	EP_SB_END_CALL = 0,	/* on a call it added: a signal may follow its exit */
	EP_SB_END_SKIPPED,	/* on a call left out (futex, sched_yield) */
	EP_SB_END_SAME,		/* on an attempt whose traced call follows, or no record */
};

/* The log's reader and the kept file its reads by reference come from. */
struct ep_sb_reader {
	struct trace_reader *r;
	struct trace_ref_file ref;
};

/*
 * Append the calls of TRACE_EV_SYSCALLBUF @ev to its thread's @calls
 * (*@ncalls of *@cap), adding its records to *@logged; @st carries what
 * the last record leaves to the next traced call. Returns an enum
 * ep_sb_end, or -errno: -ENOTSUP with @err for a call an EP run does not
 * answer yet, -ESTALE with @err for a read by reference whose file
 * changed, -EBADMSG for records that do not add up, -ENOMEM.
 */
int ep_sb_read(struct ep_sb_reader *rd, const struct trace_event *ev, struct ep_sb_thread *st,
	       struct ep_call **calls, size_t *ncalls, size_t *cap, uint64_t *logged, char *err,
	       size_t errlen);

/* What a traced entry or exit is to the thread's buffered calls. */
enum ep_sb_traced {
	EP_SB_TRACED_OWN = 0,	/* a call of its own */
	EP_SB_TRACED_REST,	/* the rest of @last: taken into it */
	EP_SB_TRACED_REPLACES,	/* the traced call @last was the attempt of: drop
				 * @last, then take this as a call of its own */
};

/*
 * What traced entry or exit @ev of a thread is to its last call @last
 * (NULL: none): the rest of it, which then takes the rest's result; the
 * call it was the attempt of; or a call of its own. An enum ep_sb_traced.
 */
int ep_sb_traced(struct ep_sb_thread *st, struct ep_call *last, const struct trace_event *ev);

/* ep_call_check() of a buffered call: the bytes @c passed, against those
 * of the @nin ranges @in one after the other. */
int ep_sb_check(const struct ep_call *c, const struct trace_blob *in, uint32_t nin, char *why,
		size_t len);
