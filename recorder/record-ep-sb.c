/* SPDX-License-Identifier: MIT */
/*
 * An EP run's syscall buffer (doc/uniparallel.md, "The EP run's buffer"):
 * the EP run maps the same library as the log's run did, in replay mode
 * (ctl.replay 1, UPRR_CTL_EP), and its buffered calls are answered
 * in-process from the log, as replay answers a recorded batch. At each
 * stop of a thread that ran (a traced call, a signal, a preemption: the
 * recorder's flush, rec_syscallbuf_flush()) the records its library
 * consumed are checked against the log's (number, arguments, bytes
 * passed: sc_sb_same(), replay's check), taken from the log as that
 * thread's calls, and written to the EP trace as a TRACE_EV_SYSCALLBUF in
 * the log's form; then the buffer gets the log's next records of that
 * thread, up to the next call the buffer cannot answer (a traced one, an
 * attempt, a call with the log's signals, a mapping change), with the end
 * marker after them (sc_sb_fill(): replay's pre-fill). A call the library
 * sends the traced way anyway (the marker, an interrupt, a handler inside
 * the library) is answered at its ptrace stop from the same call of the
 * log (ep/syscall-log-sb.c), as without the buffer: the two ways answer
 * the same calls, in order.
 */
#define LOG_PREFIX "record"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "common/log.h"
#include "ep/ep.h"
#include "preload/uprr-preload.h"
#include "recorder/record-private.h"
#include "syscalls/sb-fill.h"
#include "syscalls/syscalls.h"
#include "trace/trace.h"
#include "tracee/tracee.h"

bool
rec_ep_sb_wanted(struct recorder *rec)
{
	const char *env = getenv("UPRR_EP_SYSCALLBUF");

	/* UPRR_EP_SYSCALLBUF=0: every call a ptrace stop, as before (to
	 * measure what the buffer saves) */
	if (env && strcmp(env, "0") == 0)
		return false;
	return ep_log_syscallbuf(rec_ep_log(rec));
}

int
rec_ep_sb_mapped(struct recorder *rec, pid_t pid)
{
	static const uint32_t stop = UPRR_REC_STOP;
	struct iovec local[UPRR_PRELOAD_NSLOTS], remote[UPRR_PRELOAD_NSLOTS];
	ssize_t n;

	(void)rec;
	/* the end marker at the head of every buffer, as replay has it
	 * (replay_syscallbuf_map()): a thread's calls go the traced way,
	 * answered from the log, until its first stop puts records there */
	for (unsigned i = 0; i < UPRR_PRELOAD_NSLOTS; i++) {
		local[i] = (struct iovec){ (void *)&stop, sizeof(stop) };
		remote[i] = (struct iovec){ (void *)(uintptr_t)(UPRR_PRELOAD_BUF(i) + sizeof(struct uprr_buf)),
					    sizeof(stop) };
	}
	n = process_vm_writev(pid, local, UPRR_PRELOAD_NSLOTS, remote, UPRR_PRELOAD_NSLOTS, 0);
	if (n < 0)
		return -errno;
	return n == (ssize_t)(UPRR_PRELOAD_NSLOTS * sizeof(stop)) ? 0 : -EFAULT;
}

void
rec_ep_sb_forked(struct recorder *rec, struct rthread *child)
{
	/* a new process has its parent's buffers, and the parent's records
	 * in the forking thread's (which its thread's key finds): none of
	 * them are its own */
	if (child->space->mem.syscallbuf && rec_ep_sb_mapped(rec, child->tid) < 0)
		log_debug("process %d: cannot mark its syscall buffers", child->tid);
	child->ep_sb_n = 0;
	child->ep_sb_addr = 0;
}

/* The log's next records of @t, from its next call to take, as many as
 * the buffer answers in a row, into its buffer at @addr. */
static int
prefill(struct recorder *rec, struct rthread *t, uint64_t addr)
{
	struct ep_log *log = rec_ep_log(rec);
	pid_t log_tid = ep_log_tid(log, t->tid);
	const struct ep_call *c, *prev = NULL, *first = log_tid ? ep_log_peek(log, log_tid, 0) : NULL;
	uint32_t len = 0, n = 0;

	if (addr == t->ep_sb_addr && first == t->ep_sb_first)
		return 0; /* in place already (or the marker alone) */
	/* the log's signal that came instead of entering the call after
	 * the one just taken (TRACE_SIGNAL_AT_SYSCALL) is delivered at that
	 * call's entry (rec_ep_signal_at_entry()): it must go traced */
	if (rec_ep_entry_signal_due(t, t->ep_call))
		log_tid = 0;
	for (size_t i = 0; log_tid && (c = ep_log_peek(log, log_tid, i)); i++) {
		/* a call with the log's signals goes the traced way: they are
		 * delivered there (record-ep.c) */
		if (!c->sb_rec || c->nsigs || (prev && c->sb_seq != prev->sb_seq + 1) ||
		    (uint64_t)len + c->sb_size > UPRR_PRELOAD_REC_ROOM)
			break;
		if (UTIL_GROW(rec->ep_sb.buf, rec->ep_sb.cap, (size_t)len + c->sb_size) < 0)
			return -ENOMEM;
		memcpy(rec->ep_sb.buf + len, c->sb_rec, c->sb_size);
		len += c->sb_size;
		n++;
		prev = c;
	}
	log_debug("thread %d: %u records of the log into its buffer (the first %s, %s)", t->tid, n,
		  first ? sc_name(first->nr) ?: "?" : "none", first && !first->sb_rec ? "not answerable" : "");
	if (!n && !t->ep_sb_n && addr == t->ep_sb_addr) {
		/* it holds the marker alone already, `used` 0: nothing was
		 * consumed (threads_mutex's EP run, all futex and sched_yield,
		 * took 10-20 % longer with a write at each of its stops) */
		t->ep_sb_first = first;
		return 0;
	}
	t->ep_sb_first = first;
	t->ep_sb_addr = addr;
	t->ep_sb_n = n;
	if (n)
		rec->ep_sb.filled += n;
	return sc_sb_fill(t->tid, addr, rec->ep_sb.buf, len, true);
}

/* The EP trace's form of record @got (@c's, the library consumed it): a
 * hashed write as the log keeps it (its head, the hash, its probe), else
 * as the buffer holds it. Appended to rec->ep_sb.out at *@at. */
static int
trace_form(struct recorder *rec, const struct ep_call *c, const uint8_t *got, uint32_t *at)
{
	struct uprr_rec h;
	uint32_t size = c->sb_size;

	if (c->hashed)
		size = (uint32_t)(sizeof(h) + sizeof(c->hash) + UPRR_WRITE_PROBE_SIZE);
	if (UTIL_GROW(rec->ep_sb.out, rec->ep_sb.out_cap, (size_t)*at + size) < 0)
		return -ENOMEM;
	if (!c->hashed) {
		memcpy(rec->ep_sb.out + *at, got, size);
	} else {
		memcpy(&h, got, sizeof(h));
		h.size = size;
		memcpy(rec->ep_sb.out + *at, &h, sizeof(h));
		memcpy(rec->ep_sb.out + *at + sizeof(h), &c->hash, sizeof(c->hash));
		memcpy(rec->ep_sb.out + *at + sizeof(h) + sizeof(c->hash), got + c->sb_size - UPRR_WRITE_PROBE_SIZE,
		       UPRR_WRITE_PROBE_SIZE);
	}
	*at += size;
	return 0;
}

int
rec_ep_sb_flush(struct recorder *rec, struct rthread *t, uint64_t addr)
{
	struct ep_log *log = rec_ep_log(rec);
	pid_t log_tid = ep_log_tid(log, t->tid);
	struct trace_blob blobs[2];
	struct trace_event ev;
	struct uprr_buf head;
	uint32_t off = 0, k = 0, at = 0;
	bool sinks = false;
	int r;

	if (!addr)
		return 0;
	/* the marker alone at its head: the library consumed nothing (in
	 * replay mode it appends no record), no read needed */
	if (!t->ep_sb_n && addr == t->ep_sb_addr)
		return prefill(rec, t, addr);
	r = tracee_read(t->tid, addr, &head, sizeof(head));
	if (r < 0)
		return 0; /* vanished: its end comes through waitpid */
	if (head.used && (addr != t->ep_sb_addr || !t->ep_sb_n)) {
		rec_ep_diverge_at(rec, t, "its buffer holds %u bytes of calls the log did not answer",
				  head.used);
		return -EDOM;
	}
	if (head.used) {
		if (head.used > UPRR_PRELOAD_REC_ROOM)
			return -EBADMSG;
		if (UTIL_GROW(rec->sb.data, rec->sb.data_cap, head.used) < 0 ||
		    UTIL_GROW(rec->sb.sinks, rec->sb.sinks_cap, t->ep_sb_n + 1) < 0)
			return -ENOMEM;
		r = tracee_read(t->tid, addr + sizeof(head), rec->sb.data, head.used);
		if (r < 0)
			return r;
	}
	/* each record it consumed against the log's it was given */
	for (; off < head.used; k++) {
		const struct ep_call *c = k < t->ep_sb_n ? ep_log_peek(log, log_tid, k) : NULL;
		struct sc_sb_hashed h;
		struct uprr_rec got;

		if (!c || head.used - off < c->sb_size) {
			rec_ep_diverge_at(rec, t, "it made more buffered syscalls than the log's %u", t->ep_sb_n);
			return -EDOM;
		}
		memcpy(&got, rec->sb.data + off, sizeof(got));
		if (c->hashed) {
			h = (struct sc_sb_hashed){ .off = 0, .len = c->hash.len };
			memcpy(h.hash, c->hash.hash, sizeof(h.hash));
		}
		if (!sc_sb_same(rec->sb.data + off, c->sb_rec, c->hashed ? &h : NULL, sc_nargs(c->nr))) {
			if (got.nr != (uint32_t)c->nr)
				rec_ep_diverge_at(rec, t, "buffered syscall %u is %s, the log's %s", k,
					sc_name(got.nr) ?: "?", sc_name(c->nr) ?: "?");
			else
				rec_ep_diverge_at(rec, t, "buffered syscall %u (%s) has other arguments or bytes "
					"than the log's", k, sc_name(c->nr) ?: "?");
			return -EDOM;
		}
		r = trace_form(rec, c, rec->sb.data + off, &at);
		if (r < 0)
			return r;
		rec->sb.sinks[k] = c->sb_sink;
		sinks |= c->sb_sink != 0;
		off += c->sb_size;
	}
	if (k) {
		/* taken: the log's calls the buffer answered */
		for (uint32_t i = 0; i < k; i++)
			(void)ep_log_take(log, log_tid);
		rec_event_init(&ev, TRACE_EV_SYSCALLBUF, t->tid);
		ev.nvalues = 2;
		ev.values[0] = k;
		ev.values[1] = addr;
		blobs[0] = (struct trace_blob){ addr + sizeof(head), at, rec->ep_sb.out };
		blobs[1] = (struct trace_blob){ 0, (uint32_t)(k * sizeof(uint32_t)), rec->sb.sinks };
		ev.nblobs = sinks ? 2 : 1;
		ev.blobs = blobs;
		rec_ep_name_threads(rec, &ev);
		r = trace_writer_add_event(rec->w, &ev);
		if (r < 0) {
			rec_stop_recording(rec, "cannot write the trace: %s", strerror(-r));
			return r;
		}
		rec->sb.records += k;
		t->tp_syscalls += k; /* as the recorder's flush counts them */
		rec->sb.flushes++;
		rec->ep_sb.consumed += k;
		t->ep_sb_n = 0; /* its next records are others */
		t->ep_sb_addr = 0;
	}
	return prefill(rec, t, addr);
}

int
rec_ep_sb_taken(struct recorder *rec, struct rthread *t)
{
	uint64_t addr = rec_syscallbuf_addr(rec, t);

	/* the traced call took the log's next call: the buffer's next
	 * records are those after it */
	return addr ? prefill(rec, t, addr) : 0;
}

/*
 * A vfork child runs on its parent's memory with its parent's FS base
 * until it execs or exits: the library's key (the FS base) finds the
 * parent's buffer, and the child's buffered calls go there, as they did in
 * the log's run, where the recorder took them as the child's at its next
 * event. The buffer held the parent's next records, put there when its
 * vfork was taken (rec_ep_sb_taken()): the child consumed those (make -j2:
 * `its buffer holds 64 bytes of calls the log did not answer`). It now
 * starts from the marker, as a new thread's buffer does: its first call
 * goes the traced way, answered from the log, and its stop puts the
 * child's own records there. Replay needs nothing of the kind: it fills a
 * buffer only with the batch of the thread whose event comes next.
 */
int
rec_ep_sb_vforked(struct recorder *rec, struct rthread *parent)
{
	uint64_t addr = rec_syscallbuf_addr(rec, parent);

	if (!addr)
		return 0; /* none yet: the child claims one, marked */
	parent->ep_sb_n = 0;
	parent->ep_sb_addr = 0;
	parent->ep_sb_first = NULL;
	return sc_sb_fill(parent->tid, addr, NULL, 0, false);
}

int
rec_ep_sb_vfork_done(struct recorder *rec, struct rthread *t)
{
	uint64_t addr = rec_syscallbuf_addr(rec, t);

	/* the child's last stop (its exec's entry or its exit) took what it
	 * consumed, and what it put there after is not the parent's */
	if (!addr)
		return 0;
	t->ep_sb_n = 0;
	t->ep_sb_addr = 0;
	t->ep_sb_first = NULL;
	return prefill(rec, t, addr);
}

void
rec_ep_sb_free(struct recorder *rec)
{
	free(rec->ep_sb.buf);
	free(rec->ep_sb.out);
	rec->ep_sb.buf = rec->ep_sb.out = NULL;
	rec->ep_sb.cap = rec->ep_sb.out_cap = 0;
}
