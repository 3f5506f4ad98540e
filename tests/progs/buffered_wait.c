/* SPDX-License-Identifier: MIT */
/*
 * The syscall buffer's calls that may wait (preload/buffered-wait.c,
 * doc/syscall-buffer.md), made through glibc (poll, ppoll, select and
 * pselect, which glibc makes as pselect6, recvmsg) and syscall(2) (select
 * itself, futex), with the interleavings that matter:
 *   - poll, ppoll, select, pselect6 on a pipe another thread fills after a
 *     random while (the attempt finds nothing, the traced call waits);
 *     ready at once, with every kind of entry (readable, writable, fd -1,
 *     a closed fd: POLLNVAL, EBADF for select); a timeout that expires; a
 *     zero timeout; the fd sets and revents the kernel wrote, the time
 *     left select writes back;
 *   - recvmsg on socket pairs: a name buffer (the sender's abstract
 *     address, and one too short for it), bytes scattered over three
 *     iovecs, a datagram larger than them (MSG_TRUNC in msg_flags),
 *     MSG_DONTWAIT on an empty socket, a receiver that waits, and
 *     SCM_RIGHTS (control data: traced);
 *   - futex: a word that differs (EAGAIN), a zero timeout, a timeout that
 *     expires (relative, and FUTEX_WAIT_BITSET's absolute one), a wake
 *     with no waiter, two threads handing a word back and forth, a wake
 *     after which the waker spins until the woken thread answers, and a
 *     mutex and condition variable shared by three threads.
 * With uprr's library mapped, most of the calls that do not wait must add
 * a record of their own syscall to the thread's buffer (else it exits 1:
 * they were traced). Prints what the calls returned, and delays chosen at
 * random (different from run to run natively). Exits 1 if a call returns
 * what the kernel would not.
 */
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include "preload-entry.h"
#include "progs.h"

static uint64_t g_seed;
static int g_lib; /* uprr's syscall buffer is mapped, and can find threads' buffers */

static void
find_buffer(void)
{
	const volatile struct uprr_ctl *ctl = (const void *)UPRR_PRELOAD_CTL_ADDR;

	g_lib = library_mapped() && (ctl->flags & UPRR_CTL_FSGSBASE);
}

/* The calling thread's buffer, or NULL. */
static volatile struct uprr_buf *
own_buf(void)
{
	const volatile struct uprr_ctl *ctl = (const void *)UPRR_PRELOAD_CTL_ADDR;
	uint64_t key;

	if (!g_lib)
		return NULL;
	__asm__ __volatile__("rdfsbase %0" : "=r"(key));
	for (unsigned i = 0; i < UPRR_PRELOAD_NSLOTS; i++)
		if (ctl->keys[i] == key)
			return (volatile struct uprr_buf *)UPRR_PRELOAD_BUF(i);
	return NULL;
}

/* Where the calling thread's buffer stands. */
static uint32_t
mark(void)
{
	volatile struct uprr_buf *b = own_buf();

	return b ? b->used : 0;
}

/* Whether the call made since mark() @at added a record of syscall @nr. */
static int
added(uint32_t at, long nr)
{
	volatile struct uprr_buf *b = own_buf();
	const volatile struct uprr_rec *r;

	if (!b || b->used <= at)
		return 0;
	r = (const volatile struct uprr_rec *)((const volatile char *)(b + 1) + at);
	return r->nr == (uint32_t)nr;
}

/* With the library, at least @min of @n calls of @what were buffered. */
static void
expect_buffered(const char *what, int got, int n, int min)
{
	if (g_lib && got < min)
		die("buffered_wait: %d of %d %s calls were buffered", got, n, what);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void
must(int ok, const char *what)
{
	if (!ok)
		die("buffered_wait: %s (errno %s)", what, strerror(errno));
}

/* ---- a thread that writes to an fd after a while ---- */

struct later {
	int fd;
	long ms;
	const void *bytes;
	size_t len;
};

static void *
write_later(void *arg)
{
	struct later *l = arg;

	sleep_ms(l->ms);
	if (write(l->fd, l->bytes, l->len) != (ssize_t)l->len)
		die("buffered_wait: write_later failed");
	return NULL;
}

static pthread_t
start_later(struct later *l, int fd, const void *bytes, size_t len)
{
	pthread_t th;

	l->fd = fd;
	l->ms = 2 + (long)(rng_next(&g_seed) % 15);
	l->bytes = bytes;
	l->len = len;
	if (pthread_create(&th, NULL, write_later, l))
		die("buffered_wait: pthread_create failed");
	return th;
}

/* ---- poll, ppoll ---- */

static void
poll_phase(void)
{
	int p[2], q[2], closed, got = 0, zero = 0, n;
	struct timespec ts;
	struct later l;
	char c;
	pthread_t th;
	sigset_t mask;

	must(pipe(p) == 0 && pipe(q) == 0, "pipe");
	closed = dup(0);
	close(closed);
	/* nothing to read: the attempt finds nothing, the traced poll waits */
	th = start_later(&l, p[1], "x", 1);
	{
		struct pollfd f = { p[0], POLLIN, 0x7777 };

		n = poll(&f, 1, 5000);
		say("poll waits %ld ms: %d, revents %#x\n", l.ms, n, f.revents);
	}
	pthread_join(th, NULL);
	/* ready at once: readable, writable, an fd -1 (revents 0), a closed
	 * fd (POLLNVAL); revents set beforehand must be overwritten */
	for (int i = 0; i < 40; i++) {
		struct pollfd f[4] = { { p[0], POLLIN, 0x7777 }, { q[1], POLLOUT | POLLIN, 0x7777 },
				       { -1, POLLIN, 0x7777 }, { closed, POLLIN, 0x7777 } };
		uint32_t at = mark();

		n = (i & 1) ? poll(f, 4, 1000) : ppoll(f, 4, &(struct timespec){ 1, 0 }, NULL);
		got += added(at, (i & 1) ? __NR_poll : __NR_ppoll);
		if (n != 3 || f[0].revents != POLLIN || f[1].revents != POLLOUT || f[2].revents != 0 ||
		    f[3].revents != POLLNVAL)
			die("buffered_wait: poll ready at once: %d, revents %#x %#x %#x %#x", n, f[0].revents,
			    f[1].revents, f[2].revents, f[3].revents);
	}
	expect_buffered("poll ready at once", got, 40, 30);
	say("poll ready at once: 3, revents %#x %#x 0 %#x\n", POLLIN, POLLOUT, POLLNVAL);
	must(read(p[0], &c, 1) == 1, "read");
	/* nothing ready, timeout 0: the attempt is the call */
	for (int i = 0; i < 20; i++) {
		struct pollfd f = { p[0], POLLIN, 0x7777 };
		uint32_t at = mark();

		n = (i & 1) ? poll(&f, 1, 0) : ppoll(&f, 1, &(struct timespec){ 0, 0 }, NULL);
		zero += added(at, (i & 1) ? __NR_poll : __NR_ppoll);
		if (n != 0 || f.revents != 0)
			die("buffered_wait: poll with timeout 0: %d, revents %#x", n, f.revents);
	}
	expect_buffered("poll with timeout 0", zero, 20, 15);
	/* a timeout that expires: the traced call waits it out */
	{
		struct pollfd f = { p[0], POLLIN, 0x7777 };

		n = poll(&f, 1, 20);
		say("poll timeout: %d, revents %#x\n", n, f.revents);
		ts = (struct timespec){ 0, 20000000 };
		n = ppoll(&f, 1, &ts, NULL);
		say("ppoll timeout: %d, revents %#x\n", n, f.revents);
	}
	/* ppoll with a signal mask: traced, whether it waits for the thread
	 * or finds the pipe ready at once (where a record would show) */
	sigemptyset(&mask);
	th = start_later(&l, p[1], "y", 1);
	for (int i = 0; i < 2; i++) {
		struct pollfd f = { p[0], POLLIN, 0x7777 };
		uint32_t at = mark();

		n = ppoll(&f, 1, NULL, &mask);
		if (added(at, __NR_ppoll))
			die("buffered_wait: a ppoll with a signal mask was buffered");
		say("ppoll with a mask%s: %d, revents %#x\n", i ? ", ready" : " waits", n, f.revents);
	}
	pthread_join(th, NULL);
	must(read(p[0], &c, 1) == 1, "read");
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

/* ---- select, pselect6 ---- */

static long
raw_select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	return syscall(SYS_select, nfds, r, w, e, tv);
}

static void
select_phase(void)
{
	int p[2], q[2], closed, nfds, n, got = 0;
	fd_set r, w, e;
	struct timeval tv;
	struct later l;
	pthread_t th;
	char c;

	must(pipe(p) == 0 && pipe(q) == 0, "pipe");
	closed = dup(0);
	close(closed);
	nfds = (p[0] > q[1] ? p[0] : q[1]) + 1;
	/* glibc's select is pselect6; nothing there yet: it waits (no timeout) */
	th = start_later(&l, p[1], "x", 1);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	n = select(nfds, &r, NULL, NULL, NULL);
	say("select waits %ld ms: %d, readable %d\n", l.ms, n, FD_ISSET(p[0], &r));
	pthread_join(th, NULL);
	/* ready at once: one readable, one writable, nothing exceptional;
	 * the read end is in all three sets, an fd that is in none stays out */
	for (int i = 0; i < 40; i++) {
		uint32_t at = mark();

		FD_ZERO(&r);
		FD_ZERO(&w);
		FD_ZERO(&e);
		FD_SET(p[0], &r);
		FD_SET(p[0], &w);
		FD_SET(p[0], &e);
		FD_SET(q[1], &w);
		FD_SET(q[1], &e);
		tv = (struct timeval){ 2, 0 };
		n = (i & 1) ? (int)raw_select(nfds, &r, &w, &e, &tv) : select(nfds, &r, &w, &e, &tv);
		got += added(at, (i & 1) ? __NR_select : __NR_pselect6);
		if (n != 2 || !FD_ISSET(p[0], &r) || FD_ISSET(p[0], &w) || FD_ISSET(p[0], &e) ||
		    !FD_ISSET(q[1], &w) || FD_ISSET(q[1], &e) || tv.tv_sec > 2 || (tv.tv_sec == 2 && tv.tv_usec))
			die("buffered_wait: select ready at once: %d (%d%d%d %d%d), %ld.%06ld left", n,
			    FD_ISSET(p[0], &r), FD_ISSET(p[0], &w), FD_ISSET(p[0], &e), FD_ISSET(q[1], &w),
			    FD_ISSET(q[1], &e), (long)tv.tv_sec, (long)tv.tv_usec);
	}
	expect_buffered("select ready at once", got, 40, 30);
	say("select ready at once: 2\n");
	/* an fd that is not open: EBADF, the sets left alone */
	FD_ZERO(&r);
	FD_SET(closed, &r);
	FD_SET(p[0], &r);
	tv = (struct timeval){ 0, 0 };
	n = (int)raw_select((closed > p[0] ? closed : p[0]) + 1, &r, NULL, NULL, &tv);
	say("select of a closed fd: %d %s, sets kept %d\n", n, n < 0 ? strerror(errno) : "",
	    FD_ISSET(closed, &r) && FD_ISSET(p[0], &r));
	must(read(p[0], &c, 1) == 1, "read");
	/* nothing ready: timeout 0 (the sets come back empty), then one that
	 * expires (the time left is 0) */
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	tv = (struct timeval){ 0, 0 };
	n = (int)raw_select(nfds, &r, NULL, NULL, &tv);
	say("select with timeout 0: %d, readable %d\n", n, FD_ISSET(p[0], &r));
	FD_SET(p[0], &r);
	tv = (struct timeval){ 0, 20000 };
	n = (int)raw_select(nfds, &r, NULL, NULL, &tv);
	say("select timeout: %d, readable %d, left %ld.%06ld\n", n, FD_ISSET(p[0], &r), (long)tv.tv_sec,
	    (long)tv.tv_usec);
	FD_SET(p[0], &r);
	n = pselect(nfds, &r, NULL, NULL, &(struct timespec){ 0, 20000000 }, NULL);
	say("pselect timeout: %d, readable %d\n", n, FD_ISSET(p[0], &r));
	/* pselect with a signal mask, ready at once: traced (a record would
	 * show) */
	{
		sigset_t mask;
		uint32_t at;

		sigemptyset(&mask);
		must(write(p[1], "y", 1) == 1, "write");
		FD_SET(p[0], &r);
		at = mark();
		n = pselect(nfds, &r, NULL, NULL, NULL, &mask);
		if (added(at, __NR_pselect6))
			die("buffered_wait: a pselect with a signal mask was buffered");
		say("pselect with a mask: %d, readable %d\n", n, FD_ISSET(p[0], &r));
		must(read(p[0], &c, 1) == 1, "read");
	}
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

/* ---- recvmsg ---- */

struct receiver {
	int fd;
	ssize_t n;
	char buf[64];
};

static void *
recv_waiting(void *arg)
{
	struct receiver *rc = arg;
	struct iovec v = { rc->buf, sizeof(rc->buf) };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };

	rc->n = recvmsg(rc->fd, &m, 0);
	return NULL;
}

/* An abstract AF_UNIX address unique to this process: @tag. */
static socklen_t
abstract_addr(struct sockaddr_un *a, const char *tag)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "uprr-bw-%d-%s", getpid(), tag);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a->sun_path + 1));
}

static void
recvmsg_phase(void)
{
	struct sockaddr_un ra, sa, got_a;
	socklen_t ralen, salen;
	int rs, ss, sp[2], got = 0;
	char a[3], b[5], c[100], big[200];
	struct receiver rc;
	pthread_t th;
	ssize_t n;

	/* a receiver that waits on a stream pair */
	must(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0, "socketpair");
	rc.fd = sp[0];
	must(pthread_create(&th, NULL, recv_waiting, &rc) == 0, "pthread_create");
	sleep_ms(2 + (long)(rng_next(&g_seed) % 10));
	must(send(sp[1], "hello", 5, 0) == 5, "send");
	pthread_join(th, NULL);
	say("recvmsg waits: %zd bytes\n", rc.n);
	/* datagrams with a name: the sender's address */
	rs = socket(AF_UNIX, SOCK_DGRAM, 0);
	ss = socket(AF_UNIX, SOCK_DGRAM, 0);
	ralen = abstract_addr(&ra, "r");
	salen = abstract_addr(&sa, "s");
	must(rs >= 0 && ss >= 0 && bind(rs, (struct sockaddr *)&ra, ralen) == 0 &&
		     bind(ss, (struct sockaddr *)&sa, salen) == 0,
	     "bind");
	for (int i = 0; i < 30; i++) {
		struct iovec v[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
		struct msghdr m = { .msg_name = &got_a, .msg_namelen = sizeof(got_a), .msg_iov = v,
				    .msg_iovlen = 3, .msg_flags = 0x5555 };
		char msg[50];
		uint32_t at;

		for (size_t k = 0; k < sizeof(msg); k++)
			msg[k] = (char)('a' + (i + k) % 26);
		must(sendto(ss, msg, sizeof(msg), 0, (struct sockaddr *)&ra, ralen) == sizeof(msg), "sendto");
		memset(&got_a, 0x55, sizeof(got_a));
		at = mark();
		n = recvmsg(rs, &m, 0);
		got += added(at, __NR_recvmsg);
		if (n != sizeof(msg) || memcmp(a, msg, 3) || memcmp(b, msg + 3, 5) || memcmp(c, msg + 8, 42) ||
		    m.msg_namelen != salen || memcmp(&got_a, &sa, salen) || m.msg_flags != 0)
			die("buffered_wait: recvmsg of a datagram: %zd, namelen %u (%u), flags %#x", n,
			    m.msg_namelen, salen, m.msg_flags);
	}
	expect_buffered("recvmsg", got, 30, 20);
	say("recvmsg: 50 bytes over 3 iovecs, the sender's name\n");
	/* a name buffer too short, a datagram larger than the iovecs */
	{
		struct iovec v[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
		struct msghdr m = { .msg_name = &got_a, .msg_namelen = 4, .msg_iov = v, .msg_iovlen = 3 };
		uint32_t at;

		memset(big, 'z', sizeof(big));
		must(sendto(ss, big, sizeof(big), 0, (struct sockaddr *)&ra, ralen) == sizeof(big), "sendto");
		memset(&got_a, 0x55, sizeof(got_a));
		at = mark();
		n = recvmsg(rs, &m, 0);
		if (g_lib && !added(at, __NR_recvmsg))
			die("buffered_wait: a truncated recvmsg was not buffered");
		say("recvmsg truncated: %zd, flags %s, namelen %s, name bytes %s\n", n,
		    m.msg_flags == MSG_TRUNC ? "MSG_TRUNC" : "other", m.msg_namelen == salen ? "full" : "other",
		    memcmp(&got_a, &sa, 4) == 0 && ((unsigned char *)&got_a)[4] == 0x55 ? "4" : "other");
	}
	/* nothing there, MSG_DONTWAIT: EAGAIN through the buffer */
	{
		struct iovec v = { c, sizeof(c) };
		struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };
		uint32_t at = mark();

		n = recvmsg(rs, &m, MSG_DONTWAIT);
		if (g_lib && !added(at, __NR_recvmsg))
			die("buffered_wait: recvmsg MSG_DONTWAIT was not buffered");
		say("recvmsg on nothing, MSG_DONTWAIT: %zd %s\n", n, n < 0 ? strerror(errno) : "");
	}
	/* control data: an fd passed (traced: it installs one) */
	{
		union {
			struct cmsghdr h;
			char space[CMSG_SPACE(sizeof(int))];
		} ctl;
		struct iovec v = { c, 1 };
		struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1, .msg_control = &ctl,
				    .msg_controllen = sizeof(ctl) };
		struct cmsghdr *h = CMSG_FIRSTHDR(&m);
		int fd = 0, pfd[2];

		must(pipe(pfd) == 0, "pipe");
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(h), &pfd[1], sizeof(int));
		must(sendmsg(sp[1], &m, 0) == 1, "sendmsg SCM_RIGHTS");
		memset(&ctl, 0, sizeof(ctl));
		m.msg_controllen = sizeof(ctl);
		n = recvmsg(sp[0], &m, 0);
		h = CMSG_FIRSTHDR(&m);
		if (h && h->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(h), sizeof(int));
		say("recvmsg with an fd: %zd, fd passed %s\n", n,
		    fd > 2 && write(fd, "k", 1) == 1 ? "works" : "no");
		close(fd);
		close(pfd[0]);
		close(pfd[1]);
	}
	close(rs);
	close(ss);
	close(sp[0]);
	close(sp[1]);
}

/* ---- futex ---- */

static long
futex(uint32_t *uaddr, int op, uint32_t val, const struct timespec *ts, uint32_t val3)
{
	long r = syscall(SYS_futex, uaddr, op, val, ts, NULL, val3);

	return r < 0 ? -errno : r;
}

static uint32_t g_word;
static long g_handoffs;

/* the word goes 0 -> 1 (main) -> 0 (this thread), each waiting for its turn */
static void *
handoff_thread(void *arg)
{
	(void)arg;
	for (int i = 0; i < 200; i++) {
		while (__atomic_load_n(&g_word, __ATOMIC_ACQUIRE) != 1)
			futex(&g_word, FUTEX_WAIT_PRIVATE, 0, NULL, 0);
		__atomic_store_n(&g_word, 0, __ATOMIC_RELEASE);
		futex(&g_word, FUTEX_WAKE_PRIVATE, 1, NULL, 0);
		g_handoffs++;
	}
	return NULL;
}

static uint32_t g_bell;
static int g_answered, g_listening;

/* woken by a futex wake after which the waker spins, with no syscall,
 * until this thread answers */
static void *
bell_thread(void *arg)
{
	(void)arg;
	for (int i = 0; i < 10; i++) {
		while (__atomic_load_n(&g_bell, __ATOMIC_ACQUIRE) == 0) {
			__atomic_store_n(&g_listening, 1, __ATOMIC_RELEASE);
			futex(&g_bell, FUTEX_WAIT_PRIVATE, 0, NULL, 0);
		}
		__atomic_store_n(&g_bell, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&g_answered, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static int g_turn;

static void *
cond_thread(void *arg)
{
	int me = (int)(intptr_t)arg;

	for (int i = 0; i < 100; i++) {
		pthread_mutex_lock(&g_lock);
		while (g_turn % 3 != me)
			pthread_cond_wait(&g_cond, &g_lock);
		g_turn++;
		pthread_cond_broadcast(&g_cond);
		pthread_mutex_unlock(&g_lock);
	}
	return NULL;
}

static void
futex_phase(void)
{
	uint32_t word = 1;
	int again = 0, wakes0 = 0;
	struct timespec ts;
	pthread_t th[3];
	long r;

	/* the word is not 0: EAGAIN at once */
	for (int i = 0; i < 20; i++) {
		uint32_t at = mark();

		r = futex(&word, (i & 1) ? FUTEX_WAIT_PRIVATE : FUTEX_WAIT, 0, NULL, 0);
		again += added(at, __NR_futex);
		if (r != -EAGAIN)
			die("buffered_wait: futex wait on a word that differs: %ld", r);
	}
	expect_buffered("futex wait that differs", again, 20, 15);
	/* the word is 1, timeout 0: ETIMEDOUT from the attempt itself */
	ts = (struct timespec){ 0, 0 };
	r = futex(&word, FUTEX_WAIT_PRIVATE, 1, &ts, 0);
	say("futex wait, timeout 0: %s\n", strerror((int)-r));
	/* timeouts that expire on the traced path */
	ts = (struct timespec){ 0, 10000000 };
	r = futex(&word, FUTEX_WAIT_PRIVATE, 1, &ts, 0);
	say("futex wait, 10 ms: %s\n", strerror((int)-r));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += 10000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	r = futex(&word, FUTEX_WAIT_BITSET_PRIVATE, 1, &ts, FUTEX_BITSET_MATCH_ANY);
	say("futex wait bitset, 10 ms: %s\n", strerror((int)-r));
	/* wakes with no waiter */
	for (int i = 0; i < 10; i++)
		wakes0 += futex(&word, (i & 1) ? FUTEX_WAKE_PRIVATE : FUTEX_WAKE, 1, NULL, 0) == 0;
	say("futex wake, no waiter: %d of 10 woke none\n", wakes0);
	/* two threads hand the word back and forth */
	g_word = 0;
	must(pthread_create(&th[0], NULL, handoff_thread, NULL) == 0, "pthread_create");
	for (int i = 0; i < 200; i++) {
		while (__atomic_load_n(&g_word, __ATOMIC_ACQUIRE) != 0)
			futex(&g_word, FUTEX_WAIT_PRIVATE, 1, NULL, 0);
		__atomic_store_n(&g_word, 1, __ATOMIC_RELEASE);
		futex(&g_word, FUTEX_WAKE_PRIVATE, 1, NULL, 0);
	}
	pthread_join(th[0], NULL);
	say("futex handoffs: %ld\n", g_handoffs);
	/* a wake, then a spin until the woken thread answers: uprr must let
	 * it run, though the waker's run began while it waited in the futex
	 * (such a run has no restore point: its wake is an event) */
	must(pthread_create(&th[0], NULL, bell_thread, NULL) == 0, "pthread_create");
	for (int i = 0; i < 10; i++) {
		long spins = 0;

		/* until the other thread waits in the futex (one that is not
		 * there yet could not run while this one spins, under uprr,
		 * with the buffer's calls in this run: doc/syscall-buffer.md) */
		do
			sleep_ms(1);
		while (!__atomic_exchange_n(&g_listening, 0, __ATOMIC_ACQ_REL));
		__atomic_store_n(&g_answered, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&g_bell, 1, __ATOMIC_RELEASE);
		futex(&g_bell, FUTEX_WAKE_PRIVATE, 1, NULL, 0);
		while (!__atomic_load_n(&g_answered, __ATOMIC_ACQUIRE) && spins < 4000000000l)
			spins++;
		if (!__atomic_load_n(&g_answered, __ATOMIC_ACQUIRE))
			die("buffered_wait: the woken thread never answered");
	}
	pthread_join(th[0], NULL);
	say("futex wake, then a spin: 10 answers\n");
	/* a mutex and a condition variable, three threads taking turns */
	for (intptr_t i = 0; i < 3; i++)
		must(pthread_create(&th[i], NULL, cond_thread, (void *)i) == 0, "pthread_create");
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	say("condvar turns: %d\n", g_turn);
}

int
main(void)
{
	find_buffer();
	g_seed = random_seed();
	say("seed: %llx\n", (unsigned long long)g_seed);
	poll_phase();
	select_phase();
	recvmsg_phase();
	futex_phase();
	return 0;
}
