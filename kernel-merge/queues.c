/* SPDX-License-Identifier: MIT */
/*
 * The bytes waiting in a process's pipes and stream sockets at a checkpoint,
 * and putting them back (kernel-merge.h, kmerge_epoch_save_queues()): a
 * re-run from checkpoint k must find in a pipe the program owns both ends
 * of what was there at k, neither what the TP run read from it since (gone)
 * nor what it wrote into it since (the re-run writes it again). Read
 * without taking (tee(2) of a pipe, recv(2) with MSG_PEEK of a socket), put
 * back by draining the object and writing the bytes again (a socket's
 * through its peer, found with sock_diag(7)'s UNIX_DIAG_PEER).
 */
#define LOG_PREFIX "kmerge-queues"
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "kernel-merge/undo-private.h"

/* The most bytes kept of one object (a pipe holds 64 KiB by default,
 * pipe(7); a socket's buffer a few hundred). */
#define QUEUE_MAX (4u << 20)

static struct kmerge_queue *
find_queue(struct kmerge_epoch *e, dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < e->nqueues; i++)
		if (e->queues[i].dev == dev && e->queues[i].ino == ino)
			return &e->queues[i];
	return NULL;
}

/* A new descriptor of the pipe @fd leads to, for reading or writing
 * (@flags), non-blocking: open(2) of /proc/self/fd/N reaches a pipe's
 * other end (fifo(7)). */
static int
pipe_end(int fd, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, flags | O_NONBLOCK | O_CLOEXEC);
}

/* The bytes in the pipe @fd leads to, not taken (tee(2)), into @q. */
static int
peek_pipe(int fd, struct kmerge_queue *q)
{
	_cleanup_close_ int rd = pipe_end(fd, O_RDONLY);
	int tmp[2], n = 0;
	ssize_t got;

	if (rd < 0 || ioctl(rd, FIONREAD, &n) < 0)
		return -errno;
	if (!n)
		return 0;
	if ((unsigned)n > QUEUE_MAX)
		return -E2BIG;
	if (pipe2(tmp, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	q->data = malloc((size_t)n);
	/* as many buffers as the source (tee(2) takes whole ones: a pipe of
	 * 256-byte writes holds 256 bytes a page) */
	if (!q->data || fcntl(tmp[1], F_SETPIPE_SZ, fcntl(rd, F_GETPIPE_SZ)) < 0 ||
	    tee(rd, tmp[1], (size_t)n, SPLICE_F_NONBLOCK) != n || (got = read(tmp[0], q->data, (size_t)n)) != n) {
		close(tmp[0]);
		close(tmp[1]);
		return -EIO;
	}
	q->len = (size_t)n;
	close(tmp[0]);
	close(tmp[1]);
	return 0;
}

/* The bytes queued to be read from the socket @fd, not taken, into @q;
 * a unix stream socket's alone (-EOPNOTSUPP otherwise). */
static int
peek_socket(int fd, struct kmerge_queue *q)
{
	int type = 0, domain = 0, n = 0;
	socklen_t len = sizeof(type);
	ssize_t got;

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &(socklen_t){ sizeof(domain) }) < 0)
		return -errno;
	if (type != SOCK_STREAM || domain != AF_UNIX)
		return -EOPNOTSUPP;
	if (ioctl(fd, FIONREAD, &n) < 0)
		return -errno;
	if (!n)
		return 0;
	if ((unsigned)n > QUEUE_MAX)
		return -E2BIG;
	q->data = malloc((size_t)n);
	if (!q->data)
		return -ENOMEM;
	got = recv(fd, q->data, (size_t)n, MSG_PEEK | MSG_DONTWAIT);
	if (got != n)
		return got < 0 ? -errno : -EIO;
	q->len = (size_t)n;
	return 0;
}

int
kmerge_epoch_save_queues(struct kmerge_epoch *e, pid_t pid)
{
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int n = 0;

	if (pidfd < 0)
		return -errno;
	for (size_t i = 0; i < e->nfds; i++) {
		const struct kmerge_fd_saved *s = &e->fds[i];
		struct kmerge_queue q = { .dev = s->dev, .ino = s->ino, .sock = S_ISSOCK(s->mode) };
		_cleanup_close_ int fd = -1;
		int r;

		if (s->pid != pid || !(S_ISFIFO(s->mode) || S_ISSOCK(s->mode)) || find_queue(e, s->dev, s->ino))
			continue;
		fd = (int)syscall(SYS_pidfd_getfd, pidfd, s->fd, 0);
		if (fd < 0)
			return -errno;
		r = q.sock ? peek_socket(fd, &q) : peek_pipe(fd, &q);
		if (r < 0) {
			free(q.data);
			q.data = NULL;
			q.len = 0;
			q.error = -r;
		}
		if (UTIL_GROW(e->queues, e->queues_cap, e->nqueues + 1) < 0) {
			free(q.data);
			return -ENOMEM;
		}
		e->queues[e->nqueues++] = q;
		n++;
	}
	return n;
}

/* The inode of the peer of the unix socket whose inode is @ino
 * (sock_diag(7), UNIX_DIAG_PEER), 0 if none is found. */
static ino_t
unix_peer(ino_t ino)
{
	_cleanup_close_ int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req req;
	} msg = {
		.nlh = { .nlmsg_len = sizeof(msg), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST },
		.req = { .sdiag_family = AF_UNIX, .udiag_states = ~0u, .udiag_ino = (uint32_t)ino,
			 .udiag_show = UDIAG_SHOW_PEER, .udiag_cookie = { ~0u, ~0u } },
	};
	char buf[8192];
	ssize_t n;

	if (nl < 0 || send(nl, &msg, sizeof(msg), 0) != sizeof(msg))
		return 0;
	n = recv(nl, buf, sizeof(buf), 0);
	for (struct nlmsghdr *h = (struct nlmsghdr *)buf; n > 0 && NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
		struct unix_diag_msg *m = NLMSG_DATA(h);
		int left;

		if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || m->udiag_ino != (uint32_t)ino)
			continue;
		left = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
		for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, left); a = RTA_NEXT(a, left))
			if (a->rta_type == UNIX_DIAG_PEER)
				return *(uint32_t *)RTA_DATA(a);
	}
	return 0;
}

/* Of @fds (@n, uprr's), one that leads to (@dev, @ino), else -1. */
static int
fd_of(const int *fds, size_t n, dev_t dev, ino_t ino)
{
	struct stat st;

	for (size_t i = 0; i < n; i++)
		if (fstat(fds[i], &st) == 0 && st.st_dev == dev && st.st_ino == ino)
			return fds[i];
	return -1;
}

/* Where queue @q's bytes go back in: a pipe's write end (opened anew) or
 * its socket's peer (of @fds), into *@ret_wr (to close if @ret_own). */
static int
writer_of(const struct kmerge_queue *q, int fd, const int *fds, size_t n, int *ret_wr, bool *ret_own)
{
	struct stat st;
	ino_t peer;

	*ret_own = !q->sock;
	if (!q->sock) {
		*ret_wr = pipe_end(fd, O_WRONLY);
		return *ret_wr < 0 ? -errno : 0;
	}
	peer = unix_peer(q->ino);
	*ret_wr = peer && fstat(fd, &st) == 0 ? fd_of(fds, n, st.st_dev, peer) : -1;
	return *ret_wr < 0 ? -ENOENT : 0;
}

int
kmerge_epoch_queues_check(const struct kmerge_epoch *e, const struct kmerge_used *used, size_t nused,
			  const int *fds, size_t n, char *why, size_t len)
{
	for (size_t i = 0; i < nused; i++) {
		const struct kmerge_queue *q = find_queue((struct kmerge_epoch *)e, used[i].dev, used[i].ino);
		int fd, wr = -1, r;
		bool own;

		/* made since the checkpoint: nothing was in it */
		if (!q)
			continue;
		if (q->error) {
			snprintf(why, len, "the bytes waiting in %s %lu at the checkpoint were not read (%s)",
				 q->sock ? "socket" : "pipe", (unsigned long)q->ino, strerror(q->error));
			return -1;
		}
		fd = fd_of(fds, n, q->dev, q->ino);
		r = fd < 0 ? -ENOENT : writer_of(q, fd, fds, n, &wr, &own);
		if (r < 0) {
			snprintf(why, len, "%s %lu cannot be given its bytes of the checkpoint back (%s)",
				 q->sock ? "socket" : "pipe", (unsigned long)q->ino,
				 q->sock ? "its peer is not held" : strerror(-r));
			return -1;
		}
		if (own)
			close(wr);
	}
	return 0;
}

int
kmerge_epoch_queues_restore(const struct kmerge_epoch *e, const struct kmerge_used *used, size_t nused,
			    const int *fds, size_t n, char *why, size_t len)
{
	char buf[65536];

	for (size_t i = 0; i < nused; i++) {
		const struct kmerge_queue *q = find_queue((struct kmerge_epoch *)e, used[i].dev, used[i].ino);
		int fd, rd, wr = -1, r;
		size_t off = 0;
		ssize_t got;
		bool own;

		if (!q)
			continue;
		fd = fd_of(fds, n, q->dev, q->ino);
		r = fd < 0 ? -ENOENT : writer_of(q, fd, fds, n, &wr, &own);
		if (r < 0) {
			snprintf(why, len, "%s %lu: no way to put its bytes back", q->sock ? "socket" : "pipe",
				 (unsigned long)q->ino);
			return -EIO;
		}
		/* what is in it now goes: what the TP run wrote since */
		rd = q->sock ? fd : pipe_end(fd, O_RDONLY);
		while (rd >= 0 && (got = q->sock ? recv(rd, buf, sizeof(buf), MSG_DONTWAIT) : read(rd, buf, sizeof(buf))) > 0)
			;
		if (rd >= 0 && rd != fd)
			close(rd);
		while (off < q->len) {
			got = q->sock ? send(wr, q->data + off, q->len - off, MSG_DONTWAIT | MSG_NOSIGNAL)
				      : write(wr, q->data + off, q->len - off);
			if (got <= 0)
				break;
			off += (size_t)got;
		}
		if (own)
			close(wr);
		if (off < q->len) {
			snprintf(why, len, "%s %lu: %zu of its %zu bytes put back", q->sock ? "socket" : "pipe",
				 (unsigned long)q->ino, off, q->len);
			return -EIO;
		}
	}
	return 0;
}

int
kmerge_epoch_pipe_remake(const struct kmerge_epoch *e, dev_t dev, ino_t ino, int ret_ends[2], char *why, size_t len)
{
	const struct kmerge_queue *q = find_queue((struct kmerge_epoch *)e, dev, ino);
	int ends[2];
	size_t off = 0;

	if (!q || q->sock || q->error) {
		snprintf(why, len, "pipe %lu: the bytes it held at the checkpoint were not kept%s%s", (unsigned long)ino,
			 q && q->error ? ": " : "", q && q->error ? strerror(q->error) : "");
		return -1;
	}
	if (pipe2(ends, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	if (q->len > 65536 && fcntl(ends[1], F_SETPIPE_SZ, (int)q->len) < 0) {
		snprintf(why, len, "pipe %lu: its %zu bytes do not fit a new one", (unsigned long)ino, q->len);
		goto fail;
	}
	while (off < q->len) {
		ssize_t got = write(ends[1], q->data + off, q->len - off);

		if (got <= 0) {
			snprintf(why, len, "pipe %lu: %zu of its %zu bytes written into a new one", (unsigned long)ino,
				 off, q->len);
			goto fail;
		}
		off += (size_t)got;
	}
	/* blocking, as pipe(2) makes them: the status flags the program's
	 * descriptions had are the caller's to set */
	if (fcntl(ends[0], F_SETFL, 0) < 0 || fcntl(ends[1], F_SETFL, 0) < 0) {
		snprintf(why, len, "pipe %lu: a new one's flags: %s", (unsigned long)ino, strerror(errno));
		goto fail;
	}
	ret_ends[0] = ends[0];
	ret_ends[1] = ends[1];
	return 0;
fail:
	close(ends[0]);
	close(ends[1]);
	return -1;
}
