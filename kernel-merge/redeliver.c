/* SPDX-License-Identifier: MIT */
/*
 * Re-delivery (kernel-merge.h, kmerge_epoch_on_exit() and
 * kmerge_epoch_redeliver()): the bytes a TP epoch read from pipes, FIFOs
 * and sockets are gone from the kernel; a re-run of the epoch from its
 * checkpoint gets them from here first, per object (st_dev, st_ino of the
 * pipe or socket inode: whichever process or descriptor reads it next gets
 * the next bytes, as from the kernel's queue), then reads live.
 */
#define LOG_PREFIX "kmerge-redeliver"
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "kernel-merge/undo-private.h"
#include "tracee/tracee.h"

/* The most iovecs of a readv(2) or recvmsg(2) (UIO_MAXIOV). */
#define REDELIVER_IOV_MAX 1024

/* x86-64's struct msghdr (include/linux/socket.h, user_msghdr). */
struct k_msghdr {
	uint64_t name;
	uint32_t namelen, pad;
	uint64_t iov, iovlen, control, controllen;
	int32_t flags, pad2;
};

/* The buffers a read-like call gives, at most REDELIVER_IOV_MAX. */
struct bufs {
	struct iovec v[REDELIVER_IOV_MAX];
	size_t n;
	uint64_t total;
	int flags;		/* recv flags (MSG_PEEK...) */
	uint64_t msghdr;	/* recvmsg: where its struct is, 0 otherwise */
	struct k_msghdr msg;
};

void
kmerge_inputs_free(struct kmerge_epoch *e)
{
	for (size_t i = 0; i < e->ninputs; i++) {
		for (size_t j = 0; j < e->inputs[i].n; j++)
			free(e->inputs[i].v[j].data);
		free(e->inputs[i].v);
	}
	free(e->inputs);
}

/* The buffers of read-like call @nr of thread @tid (@args), into *@b.
 * Returns 1, 0 if @nr is no such call, or -errno. */
static int
get_bufs(pid_t tid, long nr, const uint64_t args[6], struct bufs *b)
{
	uint64_t iov = 0, cnt = 0;

	b->n = 0, b->total = 0, b->flags = 0, b->msghdr = 0;
	switch (nr) {
	case SYS_read:
		b->v[0] = (struct iovec){ (void *)args[1], args[2] };
		b->n = 1;
		break;
	case SYS_recvfrom:
		b->v[0] = (struct iovec){ (void *)args[1], args[2] };
		b->n = 1;
		b->flags = (int)args[3];
		break;
	case SYS_readv:
		iov = args[1], cnt = args[2];
		break;
	case SYS_recvmsg:
		if (tracee_read(tid, args[1], &b->msg, sizeof(b->msg)) < 0)
			return -EFAULT;
		b->msghdr = args[1];
		b->flags = (int)args[2];
		iov = b->msg.iov, cnt = b->msg.iovlen;
		break;
	default:
		return 0;
	}
	if (iov) {
		if (cnt > REDELIVER_IOV_MAX)
			return -EINVAL;
		if (cnt && tracee_read(tid, iov, b->v, cnt * sizeof(b->v[0])) < 0)
			return -EFAULT;
		b->n = cnt;
	}
	for (size_t i = 0; i < b->n; i++)
		b->total += b->v[i].iov_len;
	return 1;
}

static struct kmerge_input *
find_input(struct kmerge_epoch *e, dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < e->ninputs; i++)
		if (e->inputs[i].dev == dev && e->inputs[i].ino == ino)
			return &e->inputs[i];
	return NULL;
}

/* Whether socket @fd of process @tgid keeps message boundaries. */
static bool
is_dgram(pid_t tgid, int fd)
{
	int pidfd = (int)syscall(SYS_pidfd_open, tgid, 0), dup, type = SOCK_STREAM;
	socklen_t len = sizeof(type);

	if (pidfd < 0)
		return false;
	dup = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	close(pidfd);
	if (dup < 0)
		return false;
	if (getsockopt(dup, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		type = SOCK_STREAM;
	close(dup);
	return type == SOCK_DGRAM || type == SOCK_SEQPACKET;
}

/* The queue of the pipe or socket @st, made the first time. */
static struct kmerge_input *
input_of(struct kmerge_epoch *e, pid_t tgid, int fd, const struct stat *st)
{
	struct kmerge_input *in = find_input(e, st->st_dev, st->st_ino);

	if (in)
		return in;
	if (UTIL_GROW(e->inputs, e->inputs_cap, e->ninputs + 1) < 0)
		return NULL;
	in = &e->inputs[e->ninputs++];
	*in = (struct kmerge_input){ .dev = st->st_dev, .ino = st->st_ino };
	in->dgram = S_ISSOCK(st->st_mode) && is_dgram(tgid, fd);
	return in;
}

void
kmerge_epoch_on_exit(struct kmerge_epoch *e, pid_t tid, pid_t tgid, int memfd, long nr, const uint64_t args[6],
		     int64_t result)
{
	struct bufs b;
	struct kmerge_input *in;
	struct kmerge_chunk c;
	struct stat st;
	uint64_t got = 0;
	int r;

	kmerge_note_exit(e, tid, nr, args, result);
	if (result <= 0 || e->refused)
		return;
	r = get_bufs(tid, nr, args, &b);
	if (r == 0)
		return;
	if (tracee_fd_stat(tid, (int)args[0], &st) < 0) {
		kmerge_epoch_refuse(e, "thread %d read fd %d, which uprr cannot look at", tid, (int)args[0]);
		return;
	}
	if (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode))
		return; /* a file's bytes are still there */
	if (r < 0) {
		kmerge_epoch_refuse(e, "thread %d read fd %d into buffers uprr cannot read", tid, (int)args[0]);
		return;
	}
	if (b.flags & MSG_PEEK)
		return;
	if (b.msghdr) {
		struct k_msghdr after;

		if (tracee_read(tid, b.msghdr, &after, sizeof(after)) < 0 || after.controllen) {
			kmerge_epoch_refuse(e, "thread %d recvmsg(2) of fd %d took control data: it is not given back", tid,
				      (int)args[0]);
			return;
		}
	}
	in = input_of(e, tgid, (int)args[0], &st);
	c = (struct kmerge_chunk){ .len = MIN((uint64_t)result, b.total) };
	c.data = malloc(c.len ? c.len : 1);
	if (!in || !c.data || UTIL_GROW(in->v, in->cap, in->n + 1) < 0) {
		free(c.data);
		kmerge_epoch_refuse(e, "%s", "out of memory for the input consumed");
		return;
	}
	for (size_t i = 0; i < b.n && got < c.len; i++) {
		size_t m = MIN(b.v[i].iov_len, c.len - got);

		if (m && tracee_read_mem(memfd, (uint64_t)b.v[i].iov_base, c.data + got, m) < 0) {
			free(c.data);
			kmerge_epoch_refuse(e, "thread %d: cannot read the bytes it read from fd %d", tid, (int)args[0]);
			return;
		}
		got += m;
	}
	/* a stream's bytes run on: one chunk grows (fewer, larger chunks) */
	if (!in->dgram && in->n) {
		struct kmerge_chunk *last = &in->v[in->n - 1];
		uint8_t *grown = realloc(last->data, last->len + c.len);

		if (grown) {
			memcpy(grown + last->len, c.data, c.len);
			last->data = grown;
			last->len += c.len;
			free(c.data);
			return;
		}
	}
	in->v[in->n++] = c;
}

uint64_t
kmerge_epoch_redeliver_left(const struct kmerge_epoch *e)
{
	uint64_t left = 0;

	for (size_t i = 0; i < e->ninputs; i++) {
		const struct kmerge_input *in = &e->inputs[i];

		for (size_t j = in->head; j < in->n; j++)
			left += in->v[j].len - (j == in->head ? in->head_off : 0);
	}
	return left;
}

/* Write @len bytes at @data into the buffers @b of the tracee (@memfd). */
static int
scatter(int memfd, const struct bufs *b, const uint8_t *data, uint64_t len)
{
	uint64_t done = 0;
	int r;

	for (size_t i = 0; i < b->n && done < len; i++) {
		size_t m = MIN(b->v[i].iov_len, len - done);

		if (m && (r = tracee_write(memfd, (uint64_t)b->v[i].iov_base, data + done, m)) < 0)
			return r;
		done += m;
	}
	return 0;
}

int
kmerge_epoch_redeliver(struct kmerge_epoch *e, pid_t tid, int memfd, long nr, const uint64_t args[6],
		       int64_t *ret_result)
{
	struct bufs b;
	struct kmerge_input *in;
	struct kmerge_chunk *c;
	struct stat st;
	uint64_t n, have;
	bool cut;
	int r;

	if (!e->ninputs)
		return 0;
	r = get_bufs(tid, nr, args, &b);
	if (r <= 0)
		return r;
	if (tracee_fd_stat(tid, (int)args[0], &st) < 0)
		return 0; /* no such fd: the call fails live */
	in = find_input(e, st.st_dev, st.st_ino);
	if (!in || in->head >= in->n || !b.total)
		return 0;
	c = &in->v[in->head];
	have = c->len - in->head_off;
	n = MIN(have, b.total);
	cut = in->dgram && n < have;
	r = scatter(memfd, &b, c->data + in->head_off, n);
	if (r < 0)
		return r;
	if (nr == SYS_recvfrom && args[4] && args[5]) {
		uint32_t zero = 0;

		/* no address: the peer's is the kernel's to give, and a
		 * connected stream's recvfrom gives none (unix(7) may) */
		if ((r = tracee_write(memfd, args[5], &zero, sizeof(zero))) < 0)
			return r;
	}
	if (b.msghdr) {
		b.msg.namelen = 0;
		b.msg.controllen = 0;
		b.msg.flags = cut ? MSG_TRUNC : 0;
		if ((r = tracee_write(memfd, b.msghdr, &b.msg, sizeof(b.msg))) < 0)
			return r;
	}
	if (!(b.flags & MSG_PEEK)) {
		if (in->dgram || n == have) {
			in->head++;
			in->head_off = 0;
		} else {
			in->head_off += n;
		}
	}
	/* recv(2) with MSG_TRUNC on a datagram returns its whole length */
	*ret_result = (int64_t)((in->dgram && (b.flags & MSG_TRUNC)) ? have : n);
	log_debug("thread %d: %s of fd %d answered with %" PRIu64 " bytes the discarded epoch %" PRIu64 " read",
		  tid, nr == SYS_read ? "read" : nr == SYS_readv ? "readv" : nr == SYS_recvfrom ? "recvfrom" : "recvmsg",
		  (int)args[0], n, e->k);
	return 1;
}
