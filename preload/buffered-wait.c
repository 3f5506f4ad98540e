/* SPDX-License-Identifier: MIT */
/*
 * The buffered calls that may wait: poll, ppoll and pselect6 without a
 * signal mask, select, recvmsg without control data, futex wait and wake.
 * None waits here: each makes an attempt that cannot wait (timeout 0,
 * MSG_DONTWAIT), recorded; if the program would wait, the traced call
 * with its own arguments follows (syscallbuf.c, *ret_wait), which waits
 * in the kernel while other threads run. See doc/syscall-buffer.md.
 *
 * In replay the stub makes no call, so the record keeps what the kernel
 * wrote: the library writes into a record only what the program passed
 * in (the same bytes in replay), never over what the kernel wrote (poll's
 * revents, recvmsg's msg_namelen and msg_flags).
 */
#include <asm/unistd.h>
#include <stddef.h>
#include <stdint.h>

#include "preload/preload-private.h"

/* errno values */
#define W_EBADF 9
#define W_ETIMEDOUT 110
/* poll(2) events (include/uapi/asm-generic/poll.h) */
#define W_POLLIN 0x001
#define W_POLLPRI 0x002
#define W_POLLOUT 0x004
#define W_POLLERR 0x008
#define W_POLLHUP 0x010
#define W_POLLNVAL 0x020
#define W_POLLRDNORM 0x040
#define W_POLLRDBAND 0x080
#define W_POLLWRNORM 0x100
#define W_POLLWRBAND 0x200
/* What select(2) counts as readable, writable, exceptional: fs/select.c's
 * POLLIN_SET, POLLOUT_SET, POLLEX_SET, tested on what the file's poll
 * method returns, which poll(2) returns too (masked with the events asked
 * for, POLLERR and POLLHUP) */
#define SEL_IN (W_POLLIN | W_POLLRDNORM | W_POLLRDBAND | W_POLLHUP | W_POLLERR)
#define SEL_OUT (W_POLLOUT | W_POLLWRNORM | W_POLLWRBAND | W_POLLERR)
#define SEL_EX W_POLLPRI
/* The most struct pollfds of a buffered poll; the highest nfds of a
 * buffered select (FD_SETSIZE) */
#define POLL_MAX 1024
#define SELECT_MAX 1024
/* futex(2) commands and flags (include/uapi/linux/futex.h) */
#define W_FUTEX_WAIT 0
#define W_FUTEX_WAKE 1
#define W_FUTEX_WAIT_BITSET 9
#define W_FUTEX_WAKE_BITSET 10
#define W_FUTEX_PRIVATE 128
#define W_FUTEX_CLOCK_REALTIME 256
/* recvmsg(2) flags (include/linux/socket.h) */
#define W_MSG_CMSG_CLOEXEC 0x40000000
/* sizeof(struct sockaddr_storage): the longest name the kernel writes */
#define NAME_ROOM 128
/* recvmsg's record data: the msghdr the kernel reads and writes, its one
 * iovec, the name (NAME_ROOM bytes if the program passed a name buffer),
 * then the bytes */
#define MSG_IOV_OFF 56
#define MSG_NAME_OFF 72

struct kpollfd {
	int32_t fd;
	int16_t events;
	int16_t revents;
};

struct ktimespec {
	int64_t sec;
	int64_t nsec; /* tv_usec for a struct timeval */
};

/* Whether the timeout at @ts (a timespec or timeval, NULL: none) lets the
 * call wait: not if it is zero. */
static int
may_wait(const struct ktimespec *ts)
{
	return !ts || ts->sec != 0 || ts->nsec != 0;
}

/* ---- select ---- */

static inline int
fd_isset(const uint64_t *set, long fd)
{
	return set && ((set[fd / 64] >> (fd % 64)) & 1);
}

/*
 * The struct pollfds that ask poll(2) what select(2) would about the fd
 * sets of @a (select's and pselect6's first four arguments), into @pfd
 * (at most @max; NULL: only counted); returns how many. Each fd in a set
 * asks for that set's events: readable POLLIN, writable POLLOUT,
 * exceptional POLLPRI (with their RDNORM... companions), as do_select()
 * asks the file's poll method.
 */
static uint64_t
select_fds(const long a[6], struct kpollfd *pfd, uint64_t max)
{
	const uint64_t *r = (const uint64_t *)a[1], *w = (const uint64_t *)a[2];
	const uint64_t *e = (const uint64_t *)a[3];
	uint64_t n = 0;

	for (long fd = 0; fd < a[0] && n < max; fd++) {
		int16_t ev = (int16_t)((fd_isset(r, fd) ? W_POLLIN | W_POLLRDNORM | W_POLLRDBAND : 0) |
				       (fd_isset(w, fd) ? W_POLLOUT | W_POLLWRNORM | W_POLLWRBAND : 0) |
				       (fd_isset(e, fd) ? W_POLLPRI : 0));

		if (!ev)
			continue;
		if (pfd) { /* not revents: the kernel's (or the trace's) */
			pfd[n].fd = (int32_t)fd;
			pfd[n].events = ev;
		}
		n++;
	}
	return n;
}

/* The fd set at @set (nfds @nfds) as select(2) leaves it: the bits of the
 * fds among @pfd (@n of them) that asked for @asked and got @ready. */
static void
select_put(uint64_t *set, long nfds, const struct kpollfd *pfd, uint64_t n, int asked, int ready)
{
	if (!set)
		return;
	for (long i = 0; i < (nfds + 63) / 64; i++)
		set[i] = 0;
	for (uint64_t i = 0; i < n; i++)
		if ((pfd[i].events & asked) && (pfd[i].revents & ready))
			set[pfd[i].fd / 64] |= 1ull << (pfd[i].fd % 64);
}

/*
 * select(2) and pselect6(2) made as poll(2) with timeout 0: the fd sets
 * are input and output, and a record must hold only what the kernel
 * wrote (replay's library writes the inputs again): the struct pollfds'
 * fd and events are the library's, their revents the kernel's. The fd
 * sets the program gets are computed from the revents, as do_select()
 * computes them from the same poll masks; an fd that is not open is
 * EBADF (poll's POLLNVAL). The remaining timeout select writes back
 * (Linux, select(2)) is left as the program passed it: a call that found
 * fds ready at once slept 0 ns.
 */
static long
select_call(struct uprr_buf *buf, const long a[6], struct uprr_rec *rec, unsigned char *data,
	    uint64_t data_max, uint32_t *ret_size, int *ret_wait)
{
	struct kpollfd *pfd = (struct kpollfd *)data;
	uint64_t n = select_fds(a, pfd, data_max / sizeof(*pfd));
	long ret, count = 0;

	ret = stub(__NR_poll, (long)pfd, (long)n, 0, 0, 0, 0, &rec->ret);
	*ret_size = (uint32_t)sizeof(*rec) + align8(n * sizeof(*pfd));
	if (ret < 0)
		return ret;
	for (uint64_t i = 0; i < n; i++) {
		int ev = pfd[i].events, rev = pfd[i].revents;

		if (rev & W_POLLNVAL)
			return -W_EBADF;
		count += ((ev & W_POLLIN) && (rev & SEL_IN)) + ((ev & W_POLLOUT) && (rev & SEL_OUT)) +
			 ((ev & W_POLLPRI) && (rev & SEL_EX));
	}
	if (count == 0 && may_wait((const struct ktimespec *)a[4])) {
		*ret_wait = 1;
		return 0;
	}
	select_put((uint64_t *)a[1], a[0], pfd, n, W_POLLIN, SEL_IN);
	select_put((uint64_t *)a[2], a[0], pfd, n, W_POLLOUT, SEL_OUT);
	select_put((uint64_t *)a[3], a[0], pfd, n, W_POLLPRI, SEL_EX);
	return count;
}

/* ---- poll ---- */

/*
 * poll(2) and ppoll(2) with timeout 0. The array is input and output:
 * the record's copy gets the program's fd and events, never its revents,
 * which the kernel writes in recording and the trace holds in replay.
 * ppoll writes back the time left, but not for a zero timeout
 * (poll_select_finish()); the program's own timeout is left as passed
 * (glibc's ppoll passes a copy anyway).
 */
static long
poll_call(struct uprr_buf *buf, long nr, const long a[6], struct uprr_rec *rec, unsigned char *data,
	  int *ret_wait)
{
	struct kpollfd *pfd = (struct kpollfd *)data, *user = (struct kpollfd *)a[0];
	uint64_t n = (uint64_t)a[1];
	long ret;

	for (uint64_t i = 0; i < n; i++) {
		pfd[i].fd = user[i].fd;
		pfd[i].events = user[i].events;
	}
	ret = stub(__NR_poll, (long)pfd, (long)n, 0, 0, 0, 0, &rec->ret);
	if (ret == 0 && (nr == __NR_poll ? (int)a[2] != 0 : may_wait((const struct ktimespec *)a[2]))) {
		*ret_wait = 1;
		return ret;
	}
	if (ret >= 0)
		for (uint64_t i = 0; i < n; i++)
			user[i].revents = pfd[i].revents;
	return ret;
}

/* ---- recvmsg ---- */

/*
 * recvmsg(2) without control data, as recvfrom with MSG_DONTWAIT: the
 * kernel reads a msghdr of the library's in the record, with one iovec to
 * the record's bytes; it writes msg_flags and, with a name buffer,
 * msg_namelen there. msg_namelen is also an input (the buffer's size),
 * which is stored in recording only (recording_only32()). Then the bytes
 * are scattered over the program's iovecs, the name and both fields
 * copied out as the kernel would have (the name's first min(its length,
 * the program's buffer) bytes, the full length in msg_namelen).
 */
static long
recvmsg_call(struct uprr_buf *buf, const long a[6], struct uprr_rec *rec, unsigned char *data,
	     uint64_t data_max, uint32_t *ret_size, int *ret_wait)
{
	struct kmsghdr *m = (struct kmsghdr *)a[1], *k = (struct kmsghdr *)data;
	struct kiovec *kiov = (struct kiovec *)(data + MSG_IOV_OFF);
	uint64_t name_room = m->name ? NAME_ROOM : 0, left;
	unsigned char *bytes = data + MSG_NAME_OFF + name_room;
	int32_t namelen = m->namelen;
	long ret;

	kiov->base = bytes;
	kiov->len = data_max - MSG_NAME_OFF - name_room;
	k->name = m->name ? data + MSG_NAME_OFF : NULL;
	k->iov = kiov;
	k->iovlen = 1;
	k->control = NULL;
	k->controllen = 0;
	/* msg_namelen is an input too: put there in recording only, so the
	 * recorded output stays in replay */
	recording_only32(buf, (uint32_t *)&k->namelen, (uint32_t)namelen);
	ret = stub(__NR_recvmsg, a[0], (long)k, a[2] | UPRR_MSG_DONTWAIT, 0, 0, 0, &rec->ret);
	*ret_size = (uint32_t)sizeof(*rec) +
		    align8(MSG_NAME_OFF + name_room + (ret > 0 ? (uint64_t)ret : 0));
	if (ret == -UPRR_EAGAIN && !(a[2] & UPRR_MSG_DONTWAIT)) {
		*ret_wait = 1;
		return ret;
	}
	if (ret < 0)
		return ret;
	left = (uint64_t)ret;
	for (uint64_t i = 0; i < m->iovlen && left; i++) {
		uint64_t len = m->iov[i].len < left ? m->iov[i].len : left;

		memcpy((void *)m->iov[i].base, bytes, (size_t)len);
		bytes += len;
		left -= len;
	}
	if (m->name) {
		int32_t got = k->namelen, len = got < namelen ? got : namelen;

		if (len > 0)
			memcpy(m->name, data + MSG_NAME_OFF, (size_t)(len < NAME_ROOM ? len : NAME_ROOM));
		m->namelen = got;
	}
	m->flags = k->flags;
	return ret;
}

/* ---- futex ---- */

/*
 * FUTEX_WAIT(_BITSET) with a timeout that has passed: zero, relative for
 * FUTEX_WAIT, absolute (long ago) for FUTEX_WAIT_BITSET. EAGAIN (the word
 * is not @val) or ETIMEDOUT (it is: the program would sleep) at once,
 * after the kernel's check of the word (futex_wait_setup()), or 0 if a
 * wake came in that instant. On ETIMEDOUT the traced wait follows with
 * the program's own timeout, unless that timeout was zero too.
 */
static long
futex_call(struct uprr_buf *buf, const long a[6], struct uprr_rec *rec, int *ret_wait)
{
	long cmd = a[1] & ~(long)(W_FUTEX_PRIVATE | W_FUTEX_CLOCK_REALTIME);
	struct ktimespec zero = { 0, 0 };
	long ret;

	if (cmd == W_FUTEX_WAKE || cmd == W_FUTEX_WAKE_BITSET)
		return stub(__NR_futex, a[0], a[1], a[2], a[3], a[4], a[5], &rec->ret);
	ret = stub(__NR_futex, a[0], a[1], a[2], (long)&zero, a[4], a[5], &rec->ret);
	if (ret == -W_ETIMEDOUT && may_wait((const struct ktimespec *)a[3]))
		*ret_wait = 1;
	return ret;
}

/* ---- the two entries (preload-private.h) ---- */

int
uprr_wait_size(long nr, const long a[6], uint64_t *ret_data_max, uint32_t *ret_wake)
{
	const struct kmsghdr *m;
	uint64_t total = 0;
	long cmd;

	switch (nr) {
	case __NR_ppoll:
		/* a signal mask: what it unblocks may be delivered inside the
		 * call, which only the traced path handles */
		if (a[3])
			return -1;
		__attribute__((fallthrough));
	case __NR_poll:
		if ((uint64_t)a[1] > POLL_MAX)
			return -1;
		*ret_data_max = (uint64_t)a[1] * sizeof(struct kpollfd);
		*ret_wake = 0;
		return 0;
	case __NR_pselect6:
		/* its sixth argument: { const sigset_t *ss; size_t ss_len; } */
		if (a[5] && *(const uint64_t *)a[5])
			return -1;
		__attribute__((fallthrough));
	case __NR_select:
		if (a[0] < 0 || a[0] > SELECT_MAX)
			return -1;
		*ret_data_max = select_fds(a, NULL, SELECT_MAX) * sizeof(struct kpollfd);
		*ret_wake = 0;
		return 0;
	case __NR_recvmsg:
		/* no control data (SCM_RIGHTS would install fds), no error
		 * queue, nothing that waits for more (MSG_WAITALL) or returns
		 * more than the buffer holds (MSG_TRUNC) */
		m = (const struct kmsghdr *)a[1];
		if (((uint64_t)a[2] & ~(uint64_t)(UPRR_MSG_PEEK | UPRR_MSG_DONTWAIT | W_MSG_CMSG_CLOEXEC)) ||
		    m->controllen || m->iovlen > UPRR_IOV_MAX)
			return -1;
		for (uint64_t i = 0; i < m->iovlen; i++) {
			if (m->iov[i].len > UPRR_PRELOAD_REC_ROOM)
				return -1;
			total += m->iov[i].len;
		}
		*ret_data_max = MSG_NAME_OFF + (m->name ? NAME_ROOM : 0) + total;
		*ret_wake = 0;
		return 0;
	case __NR_futex:
		cmd = a[1] & ~(long)(W_FUTEX_PRIVATE | W_FUTEX_CLOCK_REALTIME);
		if (cmd != W_FUTEX_WAIT && cmd != W_FUTEX_WAIT_BITSET && cmd != W_FUTEX_WAKE &&
		    cmd != W_FUTEX_WAKE_BITSET)
			return -1;
		*ret_data_max = 0;
		*ret_wake = cmd == W_FUTEX_WAKE || cmd == W_FUTEX_WAKE_BITSET;
		return 0;
	}
	return -1;
}

long
uprr_wait_call(struct uprr_buf *buf, long nr, const long a[6], struct uprr_rec *rec,
	       unsigned char *data, uint64_t data_max, uint32_t *ret_size, int *ret_wait)
{
	switch (nr) {
	case __NR_poll:
	case __NR_ppoll:
		return poll_call(buf, nr, a, rec, data, ret_wait);
	case __NR_select:
	case __NR_pselect6:
		return select_call(buf, a, rec, data, data_max, ret_size, ret_wait);
	case __NR_recvmsg:
		return recvmsg_call(buf, a, rec, data, data_max, ret_size, ret_wait);
	case __NR_futex:
		*ret_size = sizeof(*rec);
		return futex_call(buf, a, rec, ret_wait);
	}
	return -1;
}
