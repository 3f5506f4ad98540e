/* SPDX-License-Identifier: MIT */
/*
 * The calls a log's syscall buffer made (TRACE_EV_SYSCALLBUF records,
 * preload/uprr-preload.h's layout), as calls of their threads, in order
 * with the traced ones: an EP run runs without the buffer, each call a
 * ptrace stop, and answers a buffered one as a traced one (its result,
 * the memory the kernel wrote), checking the bytes it passes against the
 * record's (or their hash, TRACE_SB_HASHED). A read kept by reference
 * (TRACE_SB_REF) is read from the kept file as replay reads it
 * (trace_reader_fill_ref()).
 *
 * The library never waits in the kernel: a call that would makes an
 * attempt that cannot wait (RWF_NOWAIT, MSG_DONTWAIT, timeout 0), recorded,
 * and then the traced call with the program's arguments
 * (preload/syscallbuf.c, buffered-wait.c, buffered-fd.c). The program made
 * one call: the attempt is left out and the traced call answers it. A
 * blocking write the kernel took part of goes on with the rest traced:
 * that traced call is taken into the buffered one (its result added).
 */
#define LOG_PREFIX "ep"
#include "ep/syscall-log-sb.h"

#include <asm/unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "common/log.h"
#include "preload/uprr-preload.h"
#include "syscalls/syscalls.h"
#include "tracee/tracee.h"

/* Bytes of the program's memory a record's call wrote: where, how many,
 * from where in the record (or the bytes a read by reference gives). */
struct piece {
	uint64_t addr;
	uint32_t len;
	const uint8_t *src;
};

struct pieces {
	struct piece *p;
	size_t n, cap;
};

static int
piece_add(struct pieces *ps, uint64_t addr, uint64_t len, const uint8_t *src)
{
	if (!len)
		return 0;
	if (UTIL_GROW(ps->p, ps->cap, ps->n + 1) < 0)
		return -ENOMEM;
	ps->p[ps->n++] = (struct piece){ addr, (uint32_t)len, src };
	return 0;
}

/* @ps as blobs and their bytes in one allocation, into @c's out. */
static int
set_out(struct ep_call *c, const struct pieces *ps)
{
	size_t bytes = 0;
	uint8_t *data;

	if (!ps->n)
		return 0;
	for (size_t i = 0; i < ps->n; i++)
		bytes += ps->p[i].len;
	c->out = malloc(ps->n * sizeof(*c->out) + bytes);
	if (!c->out)
		return -ENOMEM;
	data = (uint8_t *)(c->out + ps->n);
	for (size_t i = 0; i < ps->n; i++) {
		memcpy(data, ps->p[i].src, ps->p[i].len);
		c->out[i] = (struct trace_blob){ .addr = ps->p[i].addr, .len = ps->p[i].len, .data = data };
		data += ps->p[i].len;
	}
	c->nout = (uint32_t)ps->n;
	return 0;
}

/* The @len bytes a call passed out (kept whole), as @c's one input blob. */
static int
set_passed(struct ep_call *c, const uint8_t *bytes, uint32_t len)
{
	c->in = malloc(sizeof(*c->in) + len);
	if (!c->in)
		return -ENOMEM;
	memcpy(c->in + 1, bytes, len);
	c->in[0] = (struct trace_blob){ .addr = 0, .len = len, .data = (const uint8_t *)(c->in + 1) };
	c->nin = 1;
	return 0;
}

/* The @len bytes at @bytes a call sent to uprr's output or a socket that
 * were not in memory, as the TRACE_EV_OUTPUT event a traced call would
 * have before its exit (recorder/output.c), with @sinks. */
static int
add_sent(struct ep_call *c, uint64_t sinks, const uint8_t *bytes, uint64_t len)
{
	struct trace_blob *b;
	struct trace_event *e;

	if (!len)
		return 0;
	e = realloc(c->sent, (c->nsent + 1) * sizeof(*c->sent));
	if (!e)
		return -ENOMEM;
	c->sent = e;
	b = malloc(sizeof(*b) + len);
	if (!b)
		return -ENOMEM;
	memcpy(b + 1, bytes, len);
	*b = (struct trace_blob){ .addr = 0, .len = (uint32_t)len, .data = (const uint8_t *)(b + 1) };
	c->sent[c->nsent++] = (struct trace_event){ .type = TRACE_EV_OUTPUT, .nvalues = 2,
						     .values = { sinks, 0 }, .nblobs = 1, .blobs = b };
	return 0;
}

/* What one record is to the program. */
enum fate {
	FATE_CALL,	/* one call of its own */
	FATE_ATTEMPT,	/* the attempt of the traced call that follows */
	FATE_SKIPPED,	/* left out, as the traced one would be (futex) */
};

/* One record being read: its head, its data and how it was kept. */
struct rec {
	struct uprr_rec h;
	const uint8_t *data;	/* after the head */
	uint32_t len;		/* its bytes */
	uint32_t sink;		/* its u32 of blobs[1]: enum trace_output, TRACE_SB_* */
	uint8_t *ref;		/* a read by reference's bytes (owned) */
	const uint8_t *copied;	/* copy_file_range's bytes to uprr's output
				 * (the event's blobs[2], in record order) */
	uint64_t ncopied;
};

static bool
res_is(int64_t ret, int err)
{
	return ret == -(int64_t)err;
}

/* The bytes a read-like record's call read (ret of them): its data, or
 * those a read by reference gives; NULL for too few. */
static const uint8_t *
read_bytes(struct ep_sb_reader *rd, struct rec *r, char *err, size_t errlen, int *ret_err)
{
	struct trace_sb_ref ref;

	*ret_err = 0;
	if (r->h.ret <= 0)
		return r->data;
	if (!(r->sink & TRACE_SB_REF)) {
		if ((uint64_t)r->h.ret > r->len) {
			*ret_err = -EBADMSG;
			return NULL;
		}
		return r->data;
	}
	if (r->len != sizeof(ref)) {
		*ret_err = -EBADMSG;
		return NULL;
	}
	memcpy(&ref, r->data, sizeof(ref));
	if (r->h.ret != (int64_t)ref.len || ref.len > UPRR_PRELOAD_REC_ROOM) {
		*ret_err = -EBADMSG;
		return NULL;
	}
	r->ref = malloc(ref.len);
	if (!r->ref) {
		*ret_err = -ENOMEM;
		return NULL;
	}
	*ret_err = trace_reader_fill_ref(rd->r, &rd->ref, &ref, r->ref, err, errlen);
	return *ret_err < 0 ? NULL : r->ref;
}

/*
 * The bytes a write-like record's call passed: whole into @c's input, or
 * their hash; @exact: their count is known (else the room they took,
 * padded to 8: writev, sendmsg); @probe: a struct uprr_write_probe follows.
 */
static int
passed(struct ep_call *c, const struct rec *r, uint64_t exact, bool probe)
{
	uint32_t room;

	if (r->sink & TRACE_SB_HASHED) {
		if (r->len < sizeof(c->hash))
			return -EBADMSG;
		memcpy(&c->hash, r->data, sizeof(c->hash));
		if (c->hash.len < sizeof(c->hash.last) || (exact && (exact > c->hash.len || c->hash.len - exact >= 8)))
			return -EBADMSG;
		c->hashed = true;
		c->passed = (uint32_t)exact;
		return 0;
	}
	if (probe && r->len < UPRR_WRITE_PROBE_SIZE)
		return -EBADMSG;
	room = r->len - (probe ? UPRR_WRITE_PROBE_SIZE : 0);
	if (exact > room)
		return -EBADMSG;
	c->passed = (uint32_t)exact;
	return set_passed(c, r->data, exact ? (uint32_t)exact : room);
}

/* select(2)'s fd sets as the library leaves them from the record's struct
 * pollfds (preload/buffered-wait.c, select_put()), and its result. */
static int
select_out(struct ep_call *c, const struct rec *r, struct pieces *ps, uint64_t **ret_sets)
{
	static const int asked[3] = { POLLIN, POLLOUT, POLLPRI };
	static const int ready[3] = { POLLIN | POLLRDNORM | POLLRDBAND | POLLHUP | POLLERR,
				      POLLOUT | POLLWRNORM | POLLWRBAND | POLLERR, POLLPRI };
	long nfds = (long)c->args[0];
	size_t words = (size_t)(nfds + 63) / 64, n = r->len / 8;
	const uint8_t *pfd = r->data;
	uint64_t *sets;

	/* the record's result is the program's (the count, or -EBADF) */
	if (c->result < 0 || nfds <= 0)
		return 0;
	sets = calloc(3 * words + 1, sizeof(*sets));
	if (!sets)
		return -ENOMEM;
	*ret_sets = sets;
	for (int s = 0; s < 3; s++) {
		uint64_t *set = sets + s * words;

		if (!c->args[1 + s])
			continue;
		for (size_t i = 0; i < n; i++) {
			int32_t fd;
			int16_t ev, rev;

			memcpy(&fd, pfd + 8 * i, 4);
			memcpy(&ev, pfd + 8 * i + 4, 2);
			memcpy(&rev, pfd + 8 * i + 6, 2);
			if (fd < 0 || fd >= nfds)
				return -EBADMSG;
			if ((ev & asked[s]) && (rev & ready[s]))
				set[fd / 64] |= 1ull << (fd % 64);
		}
		if (piece_add(ps, c->args[1 + s], words * 8, (const uint8_t *)set) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Whether a poll-like call with result 0 was only the attempt of a traced
 * one: poll's timeout is an argument; ppoll's, select's and pselect6's are
 * in memory the record does not hold (NULL: it waits). */
static bool
wait_attempt(const struct ep_call *c, struct ep_sb_thread *st)
{
	uint64_t timeout = c->nr == __NR_poll ? c->args[2] : c->nr == __NR_ppoll ? c->args[2] : c->args[4];

	if (c->result != 0)
		return false;
	if (c->nr == __NR_poll)
		return (int)timeout != 0;
	if (!timeout)
		return true;
	st->maybe_attempt = true; /* told by the next traced call */
	return false;
}

/* Say that the traced call @nr on @fd carries on @c, @left bytes (at most
 * with @multi: one call per iovec). */
static void
continues(struct ep_sb_thread *st, long nr, uint64_t fd, uint64_t left, bool multi)
{
	*st = (struct ep_sb_thread){ .cont_nr = nr, .cont_fd = fd, .cont_left = left, .cont_multi = multi };
}

/*
 * Record @r as call @c of a thread (its number, arguments and result
 * set): what the kernel wrote (@ps), what it passed, whether it is a call
 * at all. -ENOTSUP with @err for what an EP run does not answer yet.
 */
static int
convert(struct ep_sb_reader *rd, struct rec *r, struct ep_call *c, struct ep_sb_thread *st,
	struct pieces *ps, uint64_t **sets, enum fate *ret_fate, char *err, size_t errlen)
{
	const uint64_t *a = c->args;
	int64_t ret = c->result;
	const uint8_t *bytes;
	bool probe_w = c->nr == __NR_write || c->nr == __NR_writev || c->nr == __NR_pwrite64;
	int e;

	*ret_fate = FATE_CALL;
	/* the attempts the library follows with the traced call
	 * (preload/syscallbuf.c, buffered()'s end; buffered-fd.c) */
	switch (c->nr) {
	case __NR_read:
	case __NR_pread64:
	case __NR_readv:
	case __NR_preadv:
	case __NR_pwrite64:
		if (res_is(ret, EAGAIN) || res_is(ret, EOPNOTSUPP))
			*ret_fate = FATE_ATTEMPT;
		break;
	case __NR_write:
	case __NR_writev:
		if (res_is(ret, EAGAIN) || res_is(ret, EOPNOTSUPP) || res_is(ret, EPIPE))
			*ret_fate = FATE_ATTEMPT;
		break;
	case __NR_sendmsg:
		if ((res_is(ret, EAGAIN) && !(a[2] & MSG_DONTWAIT)) || (res_is(ret, EPIPE) && !(a[2] & MSG_NOSIGNAL)))
			*ret_fate = FATE_ATTEMPT;
		break;
	case __NR_recvfrom:
		if (res_is(ret, EAGAIN) && !(a[3] & MSG_DONTWAIT))
			*ret_fate = FATE_ATTEMPT;
		break;
	case __NR_sendto:
		if ((res_is(ret, EAGAIN) && !(a[3] & MSG_DONTWAIT)) || (res_is(ret, EPIPE) && !(a[3] & MSG_NOSIGNAL)))
			*ret_fate = FATE_ATTEMPT;
		break;
	case __NR_recvmsg:
		if (res_is(ret, EAGAIN) && !(a[2] & MSG_DONTWAIT))
			*ret_fate = FATE_ATTEMPT;
		break;
	case __NR_epoll_wait:
	case __NR_epoll_pwait:
		if (ret == 0 && (int)a[3] != 0)
			*ret_fate = FATE_ATTEMPT;
		break;
	case __NR_getrandom:
		if (res_is(ret, EAGAIN) && !(a[2] & GRND_NONBLOCK))
			*ret_fate = FATE_ATTEMPT;
		break;
	case __NR_openat:
		/* the stat first found no regular file or directory */
		if (res_is(ret, EAGAIN))
			*ret_fate = FATE_ATTEMPT;
		break;
	case __NR_accept4: {
		int64_t getfl;

		if (r->len < 8)
			return -EBADMSG;
		memcpy(&getfl, r->data, 8);
		if (res_is(ret, EAGAIN) && (getfl < 0 || !(getfl & O_NONBLOCK)))
			*ret_fate = FATE_ATTEMPT;
		break;
	}
	case __NR_sendfile: {
		int64_t got;

		if (r->len < 16)
			return -EBADMSG;
		memcpy(&got, r->data + 8, 8);
		if (got < 0 || res_is(ret, EAGAIN) || res_is(ret, EOPNOTSUPP) || res_is(ret, EPIPE))
			*ret_fate = FATE_ATTEMPT;
		break;
	}
	case __NR_poll:
	case __NR_ppoll:
	case __NR_select:
	case __NR_pselect6:
		if (wait_attempt(c, st))
			*ret_fate = FATE_ATTEMPT;
		break;
	}
	if (*ret_fate == FATE_ATTEMPT)
		return 0;
	switch (c->nr) {
	case __NR_clock_gettime:
		return ret == 0 && r->len >= 16 ? piece_add(ps, a[1], 16, r->data) : 0;
	case __NR_gettimeofday:
		if (ret != 0 || r->len < 24)
			return 0;
		if (a[0] && piece_add(ps, a[0], 16, r->data) < 0)
			return -ENOMEM;
		return a[1] ? piece_add(ps, a[1], 8, r->data + 16) : 0;
	case __NR_epoll_wait:
	case __NR_epoll_pwait:
		if (ret > 0 && (uint64_t)ret * sizeof(struct epoll_event) > r->len)
			return -EBADMSG;
		return ret > 0 ? piece_add(ps, a[1], (uint64_t)ret * sizeof(struct epoll_event), r->data) : 0;
	case __NR_ioctl:
		/* FIONREAD's int; FICLONE(RANGE): a result only */
		if ((uint32_t)a[1] == FIONREAD && ret == 0 && r->len >= 4)
			return piece_add(ps, a[2], 4, r->data);
		return 0;
	case __NR_fstat:
		return ret == 0 && r->len >= UPRR_STAT_SIZE ? piece_add(ps, a[1], UPRR_STAT_SIZE, r->data) : 0;
	case __NR_newfstatat:
		return ret == 0 && r->len >= UPRR_STAT_SIZE ? piece_add(ps, a[2], UPRR_STAT_SIZE, r->data) : 0;
	case __NR_statx:
		/* struct statx, 256 bytes */
		return ret == 0 && r->len >= 256 ? piece_add(ps, a[4], 256, r->data) : 0;
	case __NR_read:
	case __NR_getdents64:
	case __NR_recvfrom:
	case __NR_pread64:
	case __NR_readv:
	case __NR_preadv:
	case __NR_getrandom:
		bytes = read_bytes(rd, r, err, errlen, &e);
		if (!bytes)
			return e;
		if (ret <= 0)
			return 0;
		if (c->nr == __NR_readv || c->nr == __NR_preadv)
			c->scatter = EP_SCATTER_IOV;
		return piece_add(ps, c->scatter ? 0 : c->nr == __NR_getrandom ? a[0] : a[1], (uint64_t)ret,
				 bytes);
	case __NR_write:
	case __NR_pwrite64:
	case __NR_sendto:
		e = passed(c, r, a[2], probe_w);
		if (e < 0)
			return e;
		if (ret > 0 && (uint64_t)ret < a[2] && (c->nr != __NR_sendto || !(a[3] & MSG_DONTWAIT)))
			continues(st, c->nr, a[0], a[2] - (uint64_t)ret, false);
		return 0;
	case __NR_writev:
	case __NR_sendmsg:
		e = passed(c, r, 0, probe_w);
		if (e < 0)
			return e;
		if (ret > 0 && (c->nr == __NR_writev || !(a[2] & MSG_DONTWAIT))) {
			uint64_t room = c->hashed ? c->hash.len : c->in[0].len;

			/* one traced write (send) per iovec left */
			if ((uint64_t)ret + 8 <= room)
				continues(st, c->nr == __NR_writev ? __NR_write : __NR_sendto, a[0],
					  room - (uint64_t)ret, true);
		}
		return 0;
	case __NR_accept4: {
		uint32_t len_in, len_out;

		if (ret < 0 || !a[1])
			return 0;
		if (r->len < 16 + 128)
			return -EBADMSG;
		memcpy(&len_in, r->data + 8, 4);
		memcpy(&len_out, r->data + 12, 4);
		if (piece_add(ps, a[1], MIN(MIN(len_in, len_out), 128u), r->data + 16) < 0)
			return -ENOMEM;
		return piece_add(ps, a[2], 4, r->data + 12);
	}
	case __NR_copy_file_range:
		if (ret <= 0 || r->len < 32)
			return 0;
		if (r->sink & ~(TRACE_SB_HASHED | TRACE_SB_REF)) {
			/* its bytes, read back by the recorder at the flush */
			if ((uint64_t)ret > r->ncopied)
				return -EBADMSG;
			e = add_sent(c, r->sink & ~(TRACE_SB_HASHED | TRACE_SB_REF), r->copied, (uint64_t)ret);
			if (e < 0)
				return e;
			r->copied += ret;
			r->ncopied -= (uint64_t)ret;
		}
		if (a[1] && piece_add(ps, a[1], 8, r->data + 16) < 0)
			return -ENOMEM;
		return a[3] ? piece_add(ps, a[3], 8, r->data + 24) : 0;
	case __NR_sendfile:
		if (ret <= 0)
			return 0;
		c->scatter = EP_SCATTER_ADD_OFFSET;
		/* the bytes it read into the record, the first ret of them sent */
		if (r->sink & ~(TRACE_SB_HASHED | TRACE_SB_REF))
			return 16 + (uint64_t)ret > r->len ? -EBADMSG
				: add_sent(c, r->sink & ~(TRACE_SB_HASHED | TRACE_SB_REF), r->data + 16,
					   (uint64_t)ret);
		return 0;
	case __NR_poll:
	case __NR_ppoll:
		/* each revents the kernel wrote */
		if (ret < 0)
			return 0;
		if (a[1] * 8 > r->len)
			return -EBADMSG;
		for (uint64_t i = 0; i < a[1]; i++)
			if (piece_add(ps, a[0] + 8 * i + 6, 2, r->data + 8 * i + 6) < 0)
				return -ENOMEM;
		return 0;
	case __NR_select:
	case __NR_pselect6:
		return select_out(c, r, ps, sets);
	case __NR_recvmsg:
		if (ret < 0)
			return 0;
		c->scatter = EP_SCATTER_RECVMSG;
		return piece_add(ps, 0, r->len, r->data);
	default:
		/* a result only: getpid, gettid, lseek, openat, close, fcntl,
		 * access..., fadvise64, mkdirat, fchmod, fchown, utimensat,
		 * mmap, munmap, madvise */
		return 0;
	}
}

int
ep_sb_read(struct ep_sb_reader *rd, const struct trace_event *ev, struct ep_sb_thread *st,
	   struct ep_call **calls, size_t *ncalls, size_t *cap, uint64_t *logged, char *err,
	   size_t errlen)
{
	const struct trace_blob *recs;
	bool sinks;
	const uint8_t *copied = NULL;
	uint64_t ncopied = 0;
	uint32_t at = 0;
	int end = EP_SB_END_SAME, e = 0;

	if (!ev->nblobs || ev->nvalues < 1)
		return -EBADMSG;
	recs = &ev->blobs[0];
	sinks = ev->nblobs >= 2 && ev->blobs[1].len >= ev->values[0] * sizeof(uint32_t);
	if (ev->nblobs >= 3) {
		copied = ev->blobs[2].data;
		ncopied = ev->blobs[2].len;
	}
	for (uint64_t k = 0; at < recs->len; k++) {
		struct rec r = { .copied = copied, .ncopied = ncopied };
		struct pieces ps = { NULL, 0, 0 };
		uint64_t *sets = NULL;
		struct ep_call *c;
		enum fate fate;

		if (recs->len - at < sizeof(r.h))
			return -EBADMSG;
		memcpy(&r.h, (const uint8_t *)recs->data + at, sizeof(r.h));
		if (r.h.size < sizeof(r.h) || r.h.size > recs->len - at)
			return -EBADMSG;
		r.data = (const uint8_t *)recs->data + at + sizeof(r.h);
		r.len = r.h.size - (uint32_t)sizeof(r.h);
		at += r.h.size;
		if (sinks && k < ev->values[0])
			memcpy(&r.sink, (const uint8_t *)ev->blobs[1].data + k * sizeof(r.sink), sizeof(r.sink));
		(*logged)++;
		/* a record interrupts any rest or attempt the last one left */
		*st = (struct ep_sb_thread){ 0 };
		if (sc_ep_unmatched((long)r.h.nr)) {
			end = EP_SB_END_SKIPPED;
			continue;
		}
		if (UTIL_GROW(*calls, *cap, *ncalls + 1) < 0)
			return -ENOMEM;
		c = &(*calls)[*ncalls];
		*c = (struct ep_call){ .nr = (long)r.h.nr, .exited = true, .result = r.h.ret,
				       .buffered = true, .logged = *logged };
		memcpy(c->args, r.h.args, sizeof(c->args));
		c->values[0] = (uint64_t)c->nr;
		c->values[1] = (uint64_t)c->result;
		c->nvalues = 2;
		if (r.sink & ~(TRACE_SB_HASHED | TRACE_SB_REF)) {
			/* where a write's bytes went, as a traced exit says */
			c->values[2] = r.sink & ~(TRACE_SB_HASHED | TRACE_SB_REF);
			c->nvalues = 3;
		}
		e = convert(rd, &r, c, st, &ps, &sets, &fate, err, errlen);
		copied = r.copied;
		ncopied = r.ncopied;
		if (e >= 0 && fate == FATE_CALL)
			e = set_out(c, &ps);
		free(ps.p);
		free(sets);
		free(r.ref);
		if (e < 0 || fate != FATE_CALL) {
			free(c->in);
			free(c->out);
			for (uint32_t i = 0; i < c->nsent; i++)
				free((void *)c->sent[i].blobs);
			free(c->sent);
			if (e < 0)
				return e;
			end = EP_SB_END_SAME;
			continue;
		}
		(*ncalls)++;
		end = EP_SB_END_CALL;
	}
	return end;
}

int
ep_sb_traced(struct ep_sb_thread *st, struct ep_call *last, const struct trace_event *ev)
{
	long nr = (long)ev->values[0];
	int64_t res;

	if (ev->type == TRACE_EV_SYSCALL_ENTRY && st->maybe_attempt) {
		bool same = last && last->buffered && last->nr == nr;

		st->maybe_attempt = false;
		for (int i = 0; same && i < sc_nargs(nr); i++)
			same = last->args[i] == ev->values[1 + i];
		return same ? EP_SB_TRACED_REPLACES : EP_SB_TRACED_OWN;
	}
	if (!st->cont_nr || !last)
		return EP_SB_TRACED_OWN;
	if (ev->type == TRACE_EV_SYSCALL_ENTRY) {
		/* the rest's call, or the kernel's restart of it */
		if (!st->cont_in && (nr == st->cont_nr || (st->cont_restart && nr == __NR_restart_syscall)) &&
		    ev->values[1] == st->cont_fd) {
			st->cont_in = true;
			return EP_SB_TRACED_REST;
		}
		*st = (struct ep_sb_thread){ 0 };
		return EP_SB_TRACED_OWN;
	}
	if (!st->cont_in)
		return EP_SB_TRACED_OWN;
	st->cont_in = false;
	res = (int64_t)ev->values[1];
	if (sc_result_restarts(res)) {
		/* an epoch's interrupt: the kernel restarts it (a signal's
		 * delivery there would need the EP run to deliver it inside
		 * the program's one call) */
		st->cont_restart = true;
		return EP_SB_TRACED_REST;
	}
	st->cont_restart = false;
	if (res > 0) {
		last->result += res;
		st->cont_left = (uint64_t)res >= st->cont_left ? 0 : st->cont_left - (uint64_t)res;
	}
	/* writev's left is at most its room, padded to 8 */
	if (res <= 0 || !st->cont_multi || st->cont_left < 8)
		*st = (struct ep_sb_thread){ 0 };
	return EP_SB_TRACED_REST;
}

int
ep_sb_check(const struct ep_call *c, const struct trace_blob *in, uint32_t nin, char *why, size_t len)
{
	uint64_t total = 0, room = c->hashed ? c->hash.len : c->nin ? c->in[0].len : 0;
	uint8_t *all, hash[TRACE_HASH_SIZE];
	bool same;

	for (uint32_t i = 0; i < nin; i++)
		total += in[i].len;
	/* exact where the record says how many; else within its padding */
	if (c->passed ? total != c->passed : (total > room || room - total >= 8 || (!c->nin && !c->hashed && total))) {
		snprintf(why, len, "it passes out %" PRIu64 " bytes, the log's buffered call %" PRIu64 "%s",
			 total, c->passed ? c->passed : room, c->passed ? "" : " (padded to 8)");
		return -1;
	}
	if (!total)
		return 0;
	all = malloc(c->hashed ? room : total);
	if (!all) {
		snprintf(why, len, "out of memory");
		return -1;
	}
	total = 0;
	for (uint32_t i = 0; i < nin; i++) {
		memcpy(all + total, in[i].data, in[i].len);
		total += in[i].len;
	}
	if (c->hashed) {
		/* the room the record's hash covers: the bytes, then the
		 * padding the buffer held, in its last 8 bytes (replay's
		 * expand_records() does the same) */
		memcpy(all + total, c->hash.last + (sizeof(c->hash.last) - (room - total)), room - total);
		trace_hash128(all, room, hash);
		same = memcmp(hash, c->hash.hash, sizeof(hash)) == 0;
	} else {
		same = memcmp(all, c->in[0].data, total) == 0;
	}
	free(all);
	if (!same)
		snprintf(why, len, "it passes out other bytes (%" PRIu64 ") than the log's buffered call%s",
			 total, c->hashed ? " (by their hash)" : "");
	return same ? 0 : -1;
}

/* @n bytes at @src over the iovecs at @iov (@niov of them) in @memfd's
 * process, as the library scatters them. */
static int
scatter_iov(int memfd, uint64_t iov, uint64_t niov, const uint8_t *src, uint64_t n, uint64_t *ret_addr)
{
	for (uint64_t i = 0; i < niov && n; i++) {
		struct iovec v;
		uint64_t l;
		int r;

		*ret_addr = iov + i * sizeof(v);
		r = tracee_read_mem(memfd, *ret_addr, &v, sizeof(v));
		if (r < 0)
			return r;
		l = MIN((uint64_t)v.iov_len, n);
		*ret_addr = (uint64_t)(uintptr_t)v.iov_base;
		r = tracee_write(memfd, *ret_addr, src, l);
		if (r < 0)
			return r;
		src += l;
		n -= l;
	}
	return 0;
}

/* recvmsg's outputs from its record's data @d (@len bytes): the layout of
 * preload/buffered-wait.c (recvmsg_call()): the library's msghdr (its
 * msg_namelen at 8, msg_flags at 48), its iovec, the name (128 bytes if
 * the program passed a name buffer), the bytes. */
static int
recvmsg_out(const struct ep_call *c, int memfd, const uint8_t *d, uint32_t len, uint64_t *ret_addr)
{
	struct msghdr m;
	int32_t got, namelen;
	uint32_t name_room;
	int r;

	*ret_addr = c->args[1];
	r = tracee_read_mem(memfd, c->args[1], &m, sizeof(m));
	if (r < 0)
		return r;
	name_room = m.msg_name ? 128 : 0;
	if (len < 72 + name_room + (uint64_t)c->result)
		return -EBADMSG;
	r = scatter_iov(memfd, (uint64_t)(uintptr_t)m.msg_iov, m.msg_iovlen, d + 72 + name_room,
			(uint64_t)c->result, ret_addr);
	if (r < 0)
		return r;
	memcpy(&got, d + 8, 4);
	if (m.msg_name) {
		namelen = (int32_t)m.msg_namelen;
		namelen = MIN(got, namelen);
		*ret_addr = (uint64_t)(uintptr_t)m.msg_name;
		if (namelen > 0 && (r = tracee_write(memfd, *ret_addr, d + 72, MIN((uint32_t)namelen, 128u))) < 0)
			return r;
		*ret_addr = c->args[1] + offsetof(struct msghdr, msg_namelen);
		if ((r = tracee_write(memfd, *ret_addr, &got, 4)) < 0)
			return r;
	}
	*ret_addr = c->args[1] + offsetof(struct msghdr, msg_flags);
	return tracee_write(memfd, *ret_addr, d + 48, 4);
}

int
ep_call_outputs(const struct ep_call *c, int memfd, uint64_t *ret_addr)
{
	int64_t off;
	int r;

	switch (c->scatter) {
	case EP_SCATTER_IOV:
		return c->nout ? scatter_iov(memfd, c->args[1], c->args[2], c->out[0].data, c->out[0].len, ret_addr)
			       : 0;
	case EP_SCATTER_RECVMSG:
		return c->nout ? recvmsg_out(c, memfd, c->out[0].data, c->out[0].len, ret_addr) : 0;
	case EP_SCATTER_ADD_OFFSET:
		/* the offset it read from, moved by what it sent */
		*ret_addr = c->args[2];
		r = tracee_read_mem(memfd, c->args[2], &off, sizeof(off));
		if (r < 0)
			return r;
		off += c->result;
		return tracee_write(memfd, c->args[2], &off, sizeof(off));
	default:
		return sc_emulate_outputs(memfd, c->out, c->nout, ret_addr);
	}
}
