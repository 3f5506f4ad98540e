/* SPDX-License-Identifier: MIT */
/*
 * The in-process syscall buffer (doc/syscall-buffer.md): every buffered
 * syscall (getpid, gettid, clock_gettime, read, write, lseek, fstat,
 * newfstatat, getdents64, recvfrom, sendto) called through the
 * library's entry at UPRR_PRELOAD_ADDR when uprr mapped it there, else
 * through syscall(2) (natively), with the interleavings that matter:
 *   - a buffer that fills (more calls than one buffer holds);
 *   - a blocking read in one thread (the buffered attempt finds the pipe
 *     empty and waits on the traced path) while another thread runs and
 *     then writes to it;
 *   - SIGALRM arriving while the main thread loops in buffered calls, its
 *     handler making buffered calls too;
 *   - a thread that exits, a fork and an exec with records still buffered;
 *   - reads of a regular file and writes to stdout through the buffer;
 *   - lseek, fstat, getdents64 and newfstatat of a directory's files;
 *   - send(2), sendmsg(2) and recv(2) (sendto, recvfrom without an address) on a
 *     socket pair: a receiver that waits (its attempt finds nothing), then
 *     messages sent and received through the buffer (MSG_PEEK, MSG_DONTWAIT
 *     on an empty socket); with the library, most of these calls must add
 *     records to the thread's buffer (else it dies: they were traced);
 *   - gettimeofday with a timezone, without, and with neither pointer
 *     (buffered too, checked the same way);
 *   - epoll_wait and epoll_pwait: a thread that waits (the attempt with
 *     timeout 0 finds nothing), then events ready at once (buffered), a
 *     timeout 0 with nothing ready (buffered), more events asked for than
 *     the library asks the kernel;
 *   - writev of several iovecs to a socket and to stdout (which replay
 *     shows again), and one larger than the socket takes at once (the
 *     rest goes on the traced path while another thread reads);
 *   - ioctl FIONREAD on a socket (buffered), another ioctl (traced).
 * It prints clock values and counts that differ from run to run natively.
 * Exits 1 if a call returns something else than the kernel says.
 * Built twice: dynamically and static (syscallbuf_static).
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <dirent.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "preload-entry.h"
#include "progs.h"

#define SYS(nr, ...) g_sys((nr), __VA_ARGS__)

static void
check_ids(const char *who)
{
	long pid = SYS(__NR_getpid, 0, 0, 0, 0, 0, 0);
	long tid = SYS(__NR_gettid, 0, 0, 0, 0, 0, 0);

	if (pid != getpid() || tid != gettid())
		die("syscallbuf: %s: getpid %ld gettid %ld, the kernel says %d %d", who, pid, tid, getpid(),
		    gettid());
}

/* a buffer that fills: more records than one buffer holds */
static void
many_calls(void)
{
	struct timespec prev = { 0 }, ts;
	long backwards = 0, odd = 0, tid = gettid();

	for (int i = 0; i < 3000; i++) {
		if (SYS(__NR_clock_gettime, CLOCK_MONOTONIC, (long)&ts, 0, 0, 0, 0) != 0)
			die("syscallbuf: clock_gettime failed");
		if (ts.tv_sec < prev.tv_sec || (ts.tv_sec == prev.tv_sec && ts.tv_nsec < prev.tv_nsec))
			backwards++;
		odd += ts.tv_nsec & 1;
		prev = ts;
		if (SYS(__NR_gettid, 0, 0, 0, 0, 0, 0) != tid)
			die("syscallbuf: gettid differs");
	}
	if (backwards)
		die("syscallbuf: CLOCK_MONOTONIC went back %ld times", backwards);
	lib_say("many calls: last ns %ld, odd %ld\n", prev.tv_nsec, odd);
}

/* a regular file read through the buffer */
static void
file_read(void)
{
	char path[] = "/tmp/uprr-syscallbuf-XXXXXX", buf[100];
	struct stat st;
	uint64_t sum = FNV1A_INIT, seed = random_seed();
	long n, total = 0;
	int fd = mkstemp(path);

	if (fd < 0)
		die("syscallbuf: mkstemp: %s", strerror(errno));
	unlink(path);
	for (int i = 0; i < 40; i++) {
		char line[64];
		int len = snprintf(line, sizeof(line), "line %d %llx\n", i, (unsigned long long)rng_next(&seed));

		if (SYS(__NR_write, fd, (long)line, len, 0, 0, 0) != len)
			die("syscallbuf: write to a file failed");
	}
	if (SYS(__NR_fstat, fd, (long)&st, 0, 0, 0, 0) != 0 || SYS(__NR_lseek, fd, 0, SEEK_CUR, 0, 0, 0) != st.st_size)
		die("syscallbuf: fstat or lseek disagree");
	if (SYS(__NR_lseek, fd, 0, SEEK_SET, 0, 0, 0) != 0)
		die("syscallbuf: lseek failed");
	while ((n = SYS(__NR_read, fd, (long)buf, sizeof(buf), 0, 0, 0)) > 0) {
		sum = fnv1a(sum, buf, (size_t)n);
		total += n;
	}
	if (n < 0)
		die("syscallbuf: read: %s", strerror((int)-n));
	close(fd);
	lib_say("file: %ld bytes, sum %016llx\n", total, (unsigned long long)sum);
}

/* a directory listed and its files looked at through the buffer */
static void
dir_list(void)
{
	char dir[] = "/tmp/uprr-syscallbuf-dir-XXXXXX", path[128], ents[4096];
	int dfd, files = 0, stats = 0;
	struct stat st;
	long n;

	if (!mkdtemp(dir))
		die("syscallbuf: mkdtemp: %s", strerror(errno));
	for (int i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		close(open(path, O_CREAT | O_WRONLY, 0600));
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (dfd < 0)
		die("syscallbuf: open %s: %s", dir, strerror(errno));
	while ((n = SYS(__NR_getdents64, dfd, (long)ents, sizeof(ents), 0, 0, 0)) > 0) {
		for (long off = 0; off < n;) {
			struct dirent64 *d = (struct dirent64 *)(ents + off);

			files++;
			if (SYS(__NR_newfstatat, dfd, (long)d->d_name, (long)&st, AT_SYMLINK_NOFOLLOW, 0, 0) == 0 &&
			    S_ISREG(st.st_mode) && st.st_size == 0)
				stats++;
			off += d->d_reclen;
		}
	}
	if (n < 0)
		die("syscallbuf: getdents64: %s", strerror((int)-n));
	close(dfd);
	for (int i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		unlink(path);
	}
	rmdir(dir);
	lib_say("dir: %d entries, %d empty files\n", files, stats);
}

/* The calling thread's buffer if the library runs it, else NULL. */
static volatile struct uprr_buf *
own_buf(void)
{
	const volatile struct uprr_ctl *ctl = (const void *)UPRR_PRELOAD_CTL_ADDR;
	uint64_t key;

	if (g_sys == native || !(ctl->flags & UPRR_CTL_FSGSBASE))
		return NULL;
	__asm__ __volatile__("rdfsbase %0" : "=r"(key));
	for (unsigned i = 0; i < UPRR_PRELOAD_NSLOTS; i++)
		if (ctl->keys[i] == key)
			return (volatile struct uprr_buf *)UPRR_PRELOAD_BUF(i);
	return NULL;
}

static int g_sock[2];
static pid_t fionread_pgrp;
static volatile long g_spins;

static void *
socket_receiver(void *arg)
{
	char buf[64];
	long n;

	(void)arg;
	/* nothing sent yet: the buffered attempt fails, the traced recv waits */
	n = SYS(__NR_recvfrom, g_sock[1], (long)buf, sizeof(buf), 0, 0, 0);
	if (n <= 0)
		die("syscallbuf: blocked recvfrom returned %ld", n);
	buf[n] = '\0';
	lib_say("socket receiver got %ld bytes: %s\n", n, buf);
	return NULL;
}

static void
socket_calls(void)
{
	volatile struct uprr_buf *b;
	uint64_t sum = FNV1A_INIT, seed = random_seed();
	int sent_buf = 0, recv_buf = 0, peeked = 0, fionread_buf = 0;
	char msg[64], got[64];
	pthread_t th;
	long n;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, g_sock) < 0)
		die("syscallbuf: socketpair: %s", strerror(errno));
	if (pthread_create(&th, NULL, socket_receiver, NULL))
		die("syscallbuf: pthread_create failed");
	for (long i = 0; i < 2000000; i++)
		g_spins += i & 3;
	if (SYS(__NR_sendto, g_sock[0], (long)"ping", 4, MSG_NOSIGNAL, 0, 0) != 4)
		die("syscallbuf: sendto failed");
	pthread_join(th, NULL);
	for (int i = 0; i < 20; i++) {
		int len = snprintf(msg, sizeof(msg), "message %d %llx", i, (unsigned long long)rng_next(&seed));
		uint32_t before;

		b = own_buf();
		before = b ? b->used : 0;
		if (i & 1) {
			/* sendmsg, the message in two iovecs */
			struct iovec v[2] = { { msg, 4 }, { msg + 4, (size_t)len - 4 } };
			struct msghdr mh = { .msg_iov = v, .msg_iovlen = 2 };

			if (SYS(__NR_sendmsg, g_sock[1], (long)&mh, MSG_NOSIGNAL, 0, 0, 0) != len)
				die("syscallbuf: sendmsg of message %d failed", i);
		} else if (SYS(__NR_sendto, g_sock[1], (long)msg, len, 0, 0, 0) != len) {
			die("syscallbuf: sendto of message %d failed", i);
		}
		sent_buf += b && b->used > before;
		n = SYS(__NR_recvfrom, g_sock[0], (long)got, sizeof(got), MSG_PEEK, 0, 0);
		peeked += n == len && memcmp(got, msg, (size_t)len) == 0;
		before = b ? b->used : 0;
		n = SYS(__NR_recvfrom, g_sock[0], (long)got, sizeof(got), 0, 0, 0);
		recv_buf += b && b->used > before;
		if (n != len || memcmp(got, msg, (size_t)len) != 0)
			die("syscallbuf: recvfrom of message %d returned %ld", i, n);
		sum = fnv1a(sum, got, (size_t)n);
	}
	/* the bytes waiting, asked with ioctl FIONREAD */
	for (int i = 1; i <= 10; i++) {
		uint32_t before;
		int avail = -1;

		if (SYS(__NR_sendto, g_sock[1], (long)"0123456789", i, 0, 0, 0) != i)
			die("syscallbuf: sendto failed");
		b = own_buf();
		before = b ? b->used : 0;
		if (SYS(__NR_ioctl, g_sock[0], FIONREAD, (long)&avail, 0, 0, 0) != 0 || avail != i)
			die("syscallbuf: FIONREAD says %d, %d bytes were sent", avail, i);
		fionread_buf += b && b->used > before;
		if (SYS(__NR_recvfrom, g_sock[0], (long)got, sizeof(got), 0, 0, 0) != i)
			die("syscallbuf: recvfrom after FIONREAD failed");
	}
	if (b && fionread_buf < 5)
		die("syscallbuf: of 10 ioctl FIONREAD, %d were buffered", fionread_buf);
	/* another ioctl goes the traced way: ENOTTY on a socket */
	if (SYS(__NR_ioctl, g_sock[0], TIOCGPGRP, (long)&fionread_pgrp, 0, 0, 0) != -ENOTTY)
		die("syscallbuf: TIOCGPGRP on a socket did not fail with ENOTTY");
	/* nothing there and the program asked not to wait: its EAGAIN */
	n = SYS(__NR_recvfrom, g_sock[0], (long)got, sizeof(got), MSG_DONTWAIT, 0, 0);
	if (n != -EAGAIN)
		die("syscallbuf: recvfrom MSG_DONTWAIT on an empty socket returned %ld", n);
	/* a preemption may send a call or two the traced way, not most */
	b = own_buf();
	if (b && (sent_buf < 10 || recv_buf < 10))
		die("syscallbuf: of 20 sendto or sendmsg and 20 recvfrom, %d and %d were buffered", sent_buf,
		    recv_buf);
	close(g_sock[0]);
	close(g_sock[1]);
	lib_say("sockets: 20 messages, %d peeked\n", peeked);
	lib_say("socket bytes: sum %016llx\n", (unsigned long long)sum);
}

static void
time_of_day(void)
{
	volatile struct uprr_buf *b = own_buf();
	struct timezone tz = { 0 };
	struct timeval tv = { 0 };
	struct timespec ts;
	int buffered = 0, far = 0;

	for (int i = 0; i < 100; i++) {
		uint32_t before = b ? b->used : 0;

		if (SYS(__NR_gettimeofday, (long)&tv, i & 1 ? (long)&tz : 0, 0, 0, 0, 0) != 0 ||
		    SYS(__NR_gettimeofday, 0, 0, 0, 0, 0, 0) != 0)
			die("syscallbuf: gettimeofday failed");
		buffered += b && b->used > before;
		clock_gettime(CLOCK_REALTIME, &ts);
		far += ts.tv_sec - tv.tv_sec > 1 || ts.tv_sec < tv.tv_sec;
	}
	if (far)
		die("syscallbuf: gettimeofday disagreed with CLOCK_REALTIME %d times", far);
	if (b && buffered < 50)
		die("syscallbuf: of 100 gettimeofday pairs, %d were buffered", buffered);
	lib_say("time of day: ok\n");
	lib_say("time of day usec: %ld, minuteswest %d\n", (long)tv.tv_usec, tz.tz_minuteswest);
}

static int g_ep;

static void *
epoll_waiter(void *arg)
{
	struct epoll_event ev[4];
	long n;

	(void)arg;
	/* nothing ready: the attempt returns 0, the traced call waits */
	n = SYS(__NR_epoll_wait, g_ep, (long)ev, 4, -1, 0, 0);
	if (n != 1 || ev[0].data.u32 != 7 || !(ev[0].events & EPOLLIN))
		die("syscallbuf: the waiting epoll_wait returned %ld", n);
	lib_say("epoll waiter: 1 event\n");
	return NULL;
}

static void
epoll_calls(void)
{
	volatile struct uprr_buf *b;
	struct epoll_event ev = { .events = EPOLLIN }, got[1000];
	int sv[2], buffered = 0, events = 0;
	pthread_t th;
	char c;
	long n;

	g_ep = epoll_create1(0);
	if (g_ep < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		die("syscallbuf: epoll_create1 or socketpair: %s", strerror(errno));
	ev.data.u32 = 7;
	if (epoll_ctl(g_ep, EPOLL_CTL_ADD, sv[0], &ev) < 0)
		die("syscallbuf: epoll_ctl: %s", strerror(errno));
	if (pthread_create(&th, NULL, epoll_waiter, NULL))
		die("syscallbuf: pthread_create failed");
	for (long i = 0; i < 2000000; i++)
		g_spins += i & 3;
	if (write(sv[1], "x", 1) != 1)
		die("syscallbuf: write to the socket failed");
	pthread_join(th, NULL);
	b = own_buf();
	for (int i = 0; i < 40; i++) {
		uint32_t before = b ? b->used : 0;

		/* ready at once: 1 event though 1000 were asked for */
		n = i & 1 ? SYS(__NR_epoll_pwait, g_ep, (long)got, 1000, 5000, 0, 8) :
			    SYS(__NR_epoll_wait, g_ep, (long)got, 1000, 5000, 0, 0);
		buffered += b && b->used > before;
		events += n == 1 && got[0].data.u32 == 7;
	}
	if (read(sv[0], &c, 1) != 1)
		die("syscallbuf: read from the socket failed");
	/* nothing ready, timeout 0: the attempt is the answer */
	n = SYS(__NR_epoll_wait, g_ep, (long)got, 8, 0, 0, 0);
	if (n != 0)
		die("syscallbuf: epoll_wait with nothing ready returned %ld", n);
	if (b && buffered < 20)
		die("syscallbuf: of 40 epoll_wait and epoll_pwait, %d were buffered", buffered);
	close(sv[0]);
	close(sv[1]);
	close(g_ep);
	lib_say("epoll: %d of 40 with the event\n", events);
}

static int g_wsock[2];

static void *
big_reader(void *arg)
{
	static char buf[65536];
	uint64_t sum = FNV1A_INIT;
	long n, total = 0;

	(void)arg;
	while (total < 3 * 15000 && (n = read(g_wsock[1], buf, sizeof(buf))) > 0) {
		sum = fnv1a(sum, buf, (size_t)n);
		total += n;
	}
	lib_say("writev reader: %ld bytes, sum %016llx\n", total, (unsigned long long)sum);
	return NULL;
}

static void
writev_calls(void)
{
	volatile struct uprr_buf *b = own_buf();
	static char big[3][15000];
	int small = 4096;
	char got[64];
	struct iovec v[3];
	int buffered = 0;
	pthread_t th;
	long n;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, g_wsock) < 0)
		die("syscallbuf: socketpair: %s", strerror(errno));
	for (int i = 0; i < 20; i++) {
		uint32_t before = b ? b->used : 0;

		v[0] = (struct iovec){ "abc", 3 };
		v[1] = (struct iovec){ "", 0 };
		v[2] = (struct iovec){ "defgh", (size_t)(i % 5) };
		if (SYS(__NR_writev, g_wsock[0], (long)v, 3, 0, 0, 0) != 3 + i % 5)
			die("syscallbuf: writev %d failed", i);
		buffered += b && b->used > before;
		n = read(g_wsock[1], got, sizeof(got));
		if (n != 3 + i % 5 || memcmp(got, "abcdefgh", (size_t)n) != 0)
			die("syscallbuf: writev %d sent other bytes", i);
	}
	if (b && buffered < 10)
		die("syscallbuf: of 20 writev, %d were buffered", buffered);
	v[0] = (struct iovec){ "writev: to ", 11 };
	v[1] = (struct iovec){ "stdout\n", 7 };
	if (SYS(__NR_writev, 1, (long)v, 2, 0, 0, 0) != 18)
		die("syscallbuf: writev to stdout failed");
	/* more than the socket takes at once: the rest goes traced */
	if (setsockopt(g_wsock[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)) < 0)
		die("syscallbuf: SO_SNDBUF: %s", strerror(errno));
	for (int i = 0; i < 3; i++) {
		memset(big[i], 'a' + i, sizeof(big[i]));
		v[i] = (struct iovec){ big[i], sizeof(big[i]) };
	}
	if (pthread_create(&th, NULL, big_reader, NULL))
		die("syscallbuf: pthread_create failed");
	n = SYS(__NR_writev, g_wsock[0], (long)v, 3, 0, 0, 0);
	if (n != 3 * 15000)
		die("syscallbuf: the large writev returned %ld", n);
	pthread_join(th, NULL);
	close(g_wsock[0]);
	close(g_wsock[1]);
}

static int g_pipe[2];

static void *
blocked_reader(void *arg)
{
	char buf[64];
	long n;

	(void)arg;
	check_ids("reader");
	/* the pipe is empty: the buffered attempt fails, the traced read waits */
	n = SYS(__NR_read, g_pipe[0], (long)buf, sizeof(buf), 0, 0, 0);
	if (n <= 0)
		die("syscallbuf: blocked read returned %ld", n);
	buf[n] = '\0';
	lib_say("reader got %ld bytes: %s\n", n, buf);
	check_ids("reader, leaving"); /* records pending at its exit */
	return NULL;
}

static void
blocking_read(void)
{
	pthread_t th;
	char msg[32];
	int len;

	if (pipe(g_pipe) < 0)
		die("syscallbuf: pipe: %s", strerror(errno));
	if (pthread_create(&th, NULL, blocked_reader, NULL))
		die("syscallbuf: pthread_create failed");
	/* run while the reader waits */
	for (long i = 0; i < 2000000; i++)
		g_spins += i & 3;
	len = snprintf(msg, sizeof(msg), "hello %ld", g_spins % 1000);
	if (SYS(__NR_write, g_pipe[1], (long)msg, len, 0, 0, 0) != len)
		die("syscallbuf: write to the pipe failed");
	pthread_join(th, NULL);
	close(g_pipe[0]);
	close(g_pipe[1]);
}

static volatile sig_atomic_t g_alarms;
static volatile long g_handler_pid;

static void
on_alarm(int sig)
{
	(void)sig;
	g_alarms++;
	/* may interrupt the library: then this call takes the traced path */
	g_handler_pid = SYS(__NR_getpid, 0, 0, 0, 0, 0, 0);
}

static void
signals_inside(void)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { .it_interval = { 0, 2000 }, .it_value = { 0, 2000 } };
	struct timespec ts;
	long calls = 0;

	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	while (g_alarms < 5 && calls < 50000000) {
		SYS(__NR_clock_gettime, CLOCK_REALTIME, (long)&ts, 0, 0, 0, 0);
		SYS(__NR_getpid, 0, 0, 0, 0, 0, 0);
		calls++;
	}
	it = (struct itimerval){ 0 };
	setitimer(ITIMER_REAL, &it, NULL);
	if (g_handler_pid != getpid())
		die("syscallbuf: the handler's getpid is %ld", g_handler_pid);
	lib_say("signals: %d alarms after %ld calls\n", (int)g_alarms, calls);
}

static void
fork_pending(void)
{
	pid_t child;
	int status;

	check_ids("before fork"); /* buffered, then the fork is the next event */
	child = fork();
	if (child < 0)
		die("syscallbuf: fork: %s", strerror(errno));
	if (child == 0) {
		check_ids("child");
		lib_say("child: ok\n");
		check_ids("child, leaving");
		_exit(0);
	}
	check_ids("parent");
	waitpid(child, &status, 0);
	lib_say("parent: child status %d\n", status);
}

int
main(int argc, char **argv)
{
	find_library();
	if (argc > 1 && strcmp(argv[1], "exec") == 0) {
		check_ids("exec'd");
		lib_say("exec'd: ok\n");
		return 0;
	}
	check_ids("main");
	many_calls();
	time_of_day();
	file_read();
	dir_list();
	blocking_read();
	socket_calls();
	epoll_calls();
	writev_calls();
	signals_inside();
	fork_pending();
	lib_say("exec next\n");
	check_ids("before exec"); /* records pending at the exec */
	execl("/proc/self/exe", argv[0], "exec", (char *)NULL);
	die("syscallbuf: exec: %s", strerror(errno));
}
