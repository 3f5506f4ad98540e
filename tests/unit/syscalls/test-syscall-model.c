/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the syscall model (syscalls/syscallent.h): each output test
 * performs the real syscall in this process on buffers inside a canary-filled
 * arena, then checks that the ranges sc_outputs() returns cover every
 * byte the kernel changed, stay inside the buffers, and have the sizes the man
 * pages give. Input tests check that sc_inputs() ranges hold exactly
 * the bytes the kernel transmitted. Then the support checks, the flags and
 * the names (the seccomp filter built from the flags:
 * tests/unit/recorder/test-seccomp.c).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>

#include "syscalls/syscalls.h"

#include "model-arena.h"

TestSuite(model, .init = arena_init, .fini = arena_fini, .timeout = 30);

/* ---- outputs: file I/O ---- */

Test(model, read_covers_result_bytes)
{
	int p[2];
	long r;

	make_pipe(p);
	cr_assert_eq(write(p[1], "hello, world", 12), 12);
	snapshot();
	r = syscall(SYS_read, p[0], arena + 100, 64);
	cr_assert_eq(r, 12);
	outputs(SYS_read, (uint64_t[6]){ p[0], at(100), 64 }, r);
	assert_covers_writes(&ranges);
	cr_assert_eq(covered(&ranges), 12, "read(2) writes the count it returns");
	cr_assert_eq(memcmp(arena + 100, "hello, world", 12), 0);
}

Test(model, read_eof_and_error_have_no_outputs)
{
	int p[2];
	long r;

	make_pipe(p);
	close(p[1]);
	r = syscall(SYS_read, p[0], arena, 64);
	cr_assert_eq(r, 0);
	outputs(SYS_read, (uint64_t[6]){ p[0], at(0), 64 }, r);
	cr_assert_eq(ranges.n, 0, "read at EOF writes nothing");

	r = syscall(SYS_read, -1, arena, 64);
	cr_assert_eq(raw(r), -EBADF);
	outputs(SYS_read, (uint64_t[6]){ (uint64_t)-1, at(0), 64 }, raw(r));
	cr_assert_eq(ranges.n, 0, "a failed read writes nothing");
}

/* A rollback keeps what syscalls still running may write: their outputs with
 * no result yet (INT64_MAX) must stay within their buffers, or the rollback
 * of another thread keeps (does not restore) memory far beyond them. */
Test(model, running_syscalls_stay_in_their_buffers)
{
	static const struct {
		long nr;
		uint64_t args[6];
		uint64_t len;
	} rows[] = {
		{ SYS_read, { 3, 4096, 1 }, 1 },
		{ SYS_pread64, { 3, 4096, 64, 0 }, 64 },
		{ SYS_recvfrom, { 3, 4096, 16, 0, 0, 0 }, 16 },
		{ SYS_epoll_wait, { 3, 4096, 4, 0 }, 4 * 12 },
		{ SYS_getrandom, { 4096, 32, 0 }, 32 },
		{ SYS_getgroups, { 8, 4096 }, 8 * 4 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		ranges.n = 0;
		outputs(rows[i].nr, rows[i].args, INT64_MAX);
		cr_assert_eq(ranges.n, 1, "syscall %ld: one range", rows[i].nr);
		cr_assert_eq(ranges.v[0].addr, 4096);
		cr_assert_eq(ranges.v[0].len, rows[i].len, "syscall %ld: %" PRIu64 " bytes, not %" PRIu64,
			     rows[i].nr, rows[i].len, (uint64_t)ranges.v[0].len);
	}
}

Test(model, pread64_covers_result_bytes)
{
	int fd = tmp_file_with("0123456789abcdef");
	long r;

	snapshot();
	r = syscall(SYS_pread64, fd, arena + 200, 100, 3);
	cr_assert_eq(r, 13);
	outputs(SYS_pread64, (uint64_t[6]){ fd, at(200), 100, 3 }, r);
	assert_covers_writes(&ranges);
	cr_assert_eq(covered(&ranges), 13);
	cr_assert_eq(arena[200], '3');
}

Test(model, readv_covers_scattered_result_bytes)
{
	struct iovec *iov = (struct iovec *)(arena + 1024);
	const char msg[] = "abcdefghijklmnopqrst"; /* 20 bytes */
	int p[2];
	long r;

	make_pipe(p);
	cr_assert_eq(write(p[1], msg, 20), 20);
	iov[0] = (struct iovec){ arena + 100, 8 };
	iov[1] = (struct iovec){ arena + 200, 0 };
	iov[2] = (struct iovec){ arena + 300, 32 };
	snapshot();
	r = syscall(SYS_readv, p[0], iov, 3);
	cr_assert_eq(r, 20);
	outputs(SYS_readv, (uint64_t[6]){ p[0], at(1024), 3 }, r);
	assert_covers_writes(&ranges);
	cr_assert_eq(covered(&ranges), 20);
	cr_assert(in_ranges(&ranges, at(300 + 11)));
	cr_assert_not(in_ranges(&ranges, at(300 + 12)), "the third iovec got only 12 bytes");
}

Test(model, readv_propagates_read_failure)
{
	uint64_t args[6] = { 0, at(0), 2 };

	cr_assert_eq(sc_outputs(SYS_readv, args, 10, NULL, failing_read, NULL, &ranges), -EFAULT);
}

Test(model, getdents64_covers_result_bytes)
{
	char dir[] = "/tmp/uprr-test-dents-XXXXXX";
	char path[64];
	int fd;
	long r;

	cr_assert_not_null(mkdtemp(dir));
	for (int i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	snapshot();
	r = syscall(SYS_getdents64, fd, arena, 4096);
	close(fd);
	for (int i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		unlink(path);
	}
	rmdir(dir);
	cr_assert_gt(r, 0, "getdents64: %s", strerror(errno));
	outputs(SYS_getdents64, (uint64_t[6]){ fd, at(0), 4096 }, r);
	assert_covers_writes(&ranges);
	cr_assert_eq(covered(&ranges), (uint64_t)r);
}

Test(model, pipe2_covers_two_ints)
{
	long r;

	snapshot();
	r = syscall(SYS_pipe2, arena + 100, O_CLOEXEC);
	cr_assert_eq(r, 0);
	outputs(SYS_pipe2, (uint64_t[6]){ at(100), O_CLOEXEC }, r);
	assert_covers_writes(&ranges);
	cr_assert_eq(covered(&ranges), 2 * sizeof(int), "pipe2(2) fills int pipefd[2]");
}

Test(model, fstat_covers_struct_stat)
{
	int fd = tmp_file_with("x");
	long r;

	snapshot();
	r = syscall(SYS_fstat, fd, arena + 64);
	cr_assert_eq(r, 0);
	outputs(SYS_fstat, (uint64_t[6]){ fd, at(64) }, r);
	assert_covers_writes(&ranges);
	cr_assert_eq(covered(&ranges), sizeof(struct stat));
	/* the kernel copies the whole struct, zeroed padding included */
	cr_assert_neq(arena[64 + sizeof(struct stat) - 1], CANARY);
}

Test(model, clock_gettime_covers_timespec)
{
	long r;

	snapshot();
	r = syscall(SYS_clock_gettime, CLOCK_MONOTONIC, arena + 8);
	cr_assert_eq(r, 0);
	outputs(SYS_clock_gettime, (uint64_t[6]){ CLOCK_MONOTONIC, at(8) }, r);
	assert_covers_writes(&ranges);
	cr_assert_eq(covered(&ranges), sizeof(struct timespec));
}

/* nanosleep(2): the remainder is written when a signal interrupts it */
static void
on_alarm(int sig)
{
}

Test(model, nanosleep_remainder_counts_on_eintr)
{
	struct sigaction sa = { .sa_handler = on_alarm }; /* no SA_RESTART */
	struct itimerval it = { .it_value = { 0, 20000 } };
	struct timespec req = { 5, 0 };
	long r;

	cr_assert_eq(sigaction(SIGALRM, &sa, NULL), 0);
	cr_assert_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
	snapshot();
	r = syscall(SYS_nanosleep, &req, arena + 32);
	cr_assert_eq(raw(r), -EINTR);
	outputs(SYS_nanosleep, (uint64_t[6]){ (uint64_t)(uintptr_t)&req, at(32) }, raw(r));
	assert_covers_writes(&ranges);
	cr_assert_eq(covered(&ranges), sizeof(struct timespec));
	cr_assert_neq(memcmp(arena + 32, before + 32, sizeof(struct timespec)), 0,
		      "the kernel wrote the remainder");
}

/* ---- outputs: ioctl, fcntl, futex ---- */

Test(model, ioctl_tcgets_covers_kernel_termios)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), slave;
	long r;

	if (master < 0)
		cr_skip_test("no pseudo-terminals here: %s", strerror(errno));
	cr_assert_eq(grantpt(master), 0);
	cr_assert_eq(unlockpt(master), 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
	cr_assert_geq(slave, 0);
	snapshot();
	r = syscall(SYS_ioctl, slave, TCGETS, arena + 128);
	cr_assert_eq(r, 0);
	outputs(SYS_ioctl, (uint64_t[6]){ slave, TCGETS, at(128) }, r);
	assert_covers_writes(&ranges);
	/* struct termios of asm-generic/termbits.h: 4 flags, c_line, c_cc[19] */
	cr_assert_eq(covered(&ranges), 4 * 4 + 1 + 19);
}

Test(model, fcntl_getlk_covers_struct_flock)
{
	char path[] = "/tmp/uprr-test-lock-XXXXXX";
	int fd1 = mkostemp(path, O_CLOEXEC), fd2;
	struct flock held = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
	struct flock *q = (struct flock *)(arena + 256);
	long r;

	cr_assert_geq(fd1, 0);
	fd2 = open(path, O_RDWR | O_CLOEXEC);
	unlink(path);
	cr_assert_geq(fd2, 0);
	/* an OFD lock on another open file conflicts with our POSIX query */
	cr_assert_eq(fcntl(fd1, F_OFD_SETLK, &held), 0, "F_OFD_SETLK: %s", strerror(errno));
	memset(q, 0, sizeof(*q));
	q->l_type = F_WRLCK;
	q->l_whence = SEEK_SET;
	snapshot();
	r = syscall(SYS_fcntl, fd2, F_GETLK, q);
	cr_assert_eq(r, 0);
	cr_assert_eq(q->l_len, 10, "the kernel reported the conflicting lock");
	outputs(SYS_fcntl, (uint64_t[6]){ fd2, F_GETLK, at(256) }, r);
	assert_covers_writes(&ranges);
	cr_assert_eq(covered(&ranges), sizeof(struct flock));
}

Test(model, futex_wake_op_covers_uaddr2)
{
	uint32_t *w1 = (uint32_t *)(arena + 64), *w2 = (uint32_t *)(arena + 128);
	uint32_t op = FUTEX_OP(FUTEX_OP_ADD, 3, FUTEX_OP_CMP_EQ, 5);
	long r;

	*w1 = 0;
	*w2 = 5;
	snapshot();
	r = syscall(SYS_futex, w1, FUTEX_WAKE_OP | FUTEX_PRIVATE_FLAG, 1, 1, w2, op);
	cr_assert_eq(r, 0, "nobody waits: %s", strerror(errno));
	cr_assert_eq(*w2, 8);
	outputs(SYS_futex,
		(uint64_t[6]){ at(64), FUTEX_WAKE_OP | FUTEX_PRIVATE_FLAG, 1, 1, at(128), op }, r);
	assert_covers_writes(&ranges);
	cr_assert_eq(covered(&ranges), 4);
	cr_assert(in_ranges(&ranges, at(128)));
}

Test(model, futex_wait_and_wake_have_no_outputs)
{
	uint64_t wake_args[6] = { at(0), FUTEX_WAKE_PRIVATE, 1 };
	uint64_t wait_args[6] = { at(0), FUTEX_WAIT_PRIVATE, 0 };

	outputs(SYS_futex, wake_args, 0);
	outputs(SYS_futex, wait_args, 0);
	cr_assert_eq(ranges.n, 0);
}

/* ---- outputs: waiting ---- */

Test(model, epoll_wait_covers_returned_events_only)
{
	int p1[2], p2[2], ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN };
	long r;

	cr_assert_geq(ep, 0);
	make_pipe(p1);
	make_pipe(p2);
	cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, p1[0], &ev), 0);
	cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, p2[0], &ev), 0);
	cr_assert_eq(write(p1[1], "a", 1), 1);
	cr_assert_eq(write(p2[1], "b", 1), 1);
	snapshot();
	r = syscall(SYS_epoll_wait, ep, arena + 512, 8, 0);
	cr_assert_eq(r, 2);
	outputs(SYS_epoll_wait, (uint64_t[6]){ ep, at(512), 8, 0 }, r);
	assert_covers_writes(&ranges);
	/* struct epoll_event is packed on x86-64 (EPOLL_PACKED) */
	cr_assert_eq(sizeof(struct epoll_event), 12);
	cr_assert_eq(covered(&ranges), 2 * sizeof(struct epoll_event));
}

Test(model, poll_covers_pollfd_array)
{
	struct pollfd *fds = (struct pollfd *)(arena + 256);
	int p[2];
	long r;

	make_pipe(p);
	cr_assert_eq(write(p[1], "x", 1), 1);
	fds[0] = (struct pollfd){ p[0], POLLIN, 0x5a5a };
	fds[1] = (struct pollfd){ p[1], POLLIN, 0x5a5a };
	fds[2] = (struct pollfd){ -1, POLLIN, 0x5a5a };
	snapshot();
	r = syscall(SYS_poll, fds, 3, 0);
	cr_assert_eq(r, 1);
	outputs(SYS_poll, (uint64_t[6]){ at(256), 3, 0 }, r);
	assert_covers_writes(&ranges);
	cr_assert_eq(covered(&ranges), 3 * sizeof(struct pollfd));
}

Test(model, select_covers_fd_sets)
{
	fd_set *rd = (fd_set *)(arena + 256), *wr = (fd_set *)(arena + 512);
	int p[2], nfds;
	long r;

	make_pipe(p);
	cr_assert_eq(write(p[1], "x", 1), 1);
	nfds = MAX(p[0], p[1]) + 1;
	FD_ZERO(rd);
	FD_ZERO(wr);
	FD_SET(p[0], rd);
	FD_SET(p[1], rd);
	FD_SET(p[1], wr);
	snapshot();
	r = syscall(SYS_select, nfds, rd, wr, NULL, NULL);
	cr_assert_eq(r, 2);
	outputs(SYS_select, (uint64_t[6]){ nfds, at(256), at(512), 0, 0 }, r);
	assert_covers_writes(&ranges);
	/* FDS_BYTES(nfds) of fs/select.c for each set given: whole longs */
	cr_assert_eq(covered(&ranges), 2 * ((uint64_t)(nfds + 63) / 64 * 8));
}

/*
 * select(2): "On Linux, select() modifies timeout to reflect the amount of
 * time not slept" (poll_select_finish() in fs/select.c copies it back).
 */
/* Run select-like syscall @nr with a 10 s timeout of @timeout_size bytes
 * (struct timeval or timespec, both { 10, 0 } here) on a readable pipe. */
static void
check_select_timeout(long nr, size_t timeout_size)
{
	fd_set *rd = (fd_set *)(arena + 256);
	long *timeout = (long *)(arena + 1024);
	int p[2];
	long r;

	make_pipe(p);
	cr_assert_eq(write(p[1], "x", 1), 1);
	FD_ZERO(rd);
	FD_SET(p[0], rd);
	timeout[0] = 10;
	timeout[1] = 0;
	snapshot();
	r = syscall(nr, p[0] + 1, rd, NULL, NULL, timeout, NULL);
	cr_assert_eq(r, 1);
	cr_assert_neq(memcmp(timeout, before + 1024, timeout_size), 0,
		      "the kernel updated the timeout");
	outputs(nr, (uint64_t[6]){ p[0] + 1, at(256), 0, 0, at(1024), 0 }, r);
	assert_covers_writes(&ranges);
}

Test(model, select_remaining_timeout_is_an_output)
{
	check_select_timeout(SYS_select, sizeof(struct timeval));
}

Test(model, pselect6_remaining_timeout_is_an_output)
{
	check_select_timeout(SYS_pselect6, sizeof(struct timespec));
}

/* ---- outputs: sockets ---- */

Test(model, getsockname_covers_address_and_length)
{
	socklen_t *len = (socklen_t *)(arena + 512);
	int fd = udp_socket(NULL);
	long r;

	*len = sizeof(struct sockaddr_storage);
	snapshot();
	r = syscall(SYS_getsockname, fd, arena + 256, len);
	cr_assert_eq(r, 0);
	cr_assert_eq(*len, sizeof(struct sockaddr_in));
	outputs(SYS_getsockname, (uint64_t[6]){ fd, at(256), at(512) }, r);
	assert_covers_writes(&ranges);
	cr_assert_eq(covered(&ranges), sizeof(socklen_t) + sizeof(struct sockaddr_in));
}

/*
 * getsockname(2): "The returned address is truncated if the buffer provided
 * is too small; in this case, addrlen will return a value greater than was
 * supplied." The kernel writes only the caller's buffer (move_addr_to_user).
 */
Test(model, getsockname_truncated_address_stays_in_buffer)
{
	socklen_t *len = (socklen_t *)(arena + 512);
	int fd = udp_socket(NULL);
	long r;

	struct sc_entry entry;
	uint64_t args[6] = { fd, at(256), at(512) };

	*len = 4;
	sc_entry_state(SYS_getsockname, args, self_read, NULL, &entry);
	cr_assert(entry.has_len && entry.len == 4, "the entry state holds the caller's length");
	snapshot();
	r = syscall(SYS_getsockname, fd, arena + 256, len);
	cr_assert_eq(r, 0);
	cr_assert_eq(*len, sizeof(struct sockaddr_in), "the kernel reports the full length");
	cr_assert_eq(sc_outputs(SYS_getsockname, args, r, &entry, self_read, NULL, &ranges), 0);
	assert_covers_writes(&ranges);
	for (size_t i = 0; i < ranges.n; i++)
		if (ranges.v[i].addr != at(512))
			assert_ranges_within(&(struct sc_ranges){ &ranges.v[i], 1, 1 }, 256, 4,
					     "4-byte address buffer");
}

Test(model, accept_covers_peer_address)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a), *len = (socklen_t *)(arena + 512);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), cfd;
	long r;

	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0)
		cr_skip_test("no IPv4 loopback here: %s", strerror(errno));
	cr_assert_eq(listen(lfd, 1), 0);
	cr_assert_eq(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(connect(cfd, (struct sockaddr *)&a, sizeof(a)), 0, "%s", strerror(errno));
	*len = sizeof(struct sockaddr_storage);
	snapshot();
	r = syscall(SYS_accept, lfd, arena + 256, len);
	cr_assert_geq(r, 0, "accept: %s", strerror(errno));
	outputs(SYS_accept, (uint64_t[6]){ lfd, at(256), at(512) }, r);
	assert_covers_writes(&ranges);
	cr_assert_eq(covered(&ranges), sizeof(socklen_t) + sizeof(struct sockaddr_in));
}

Test(model, accept_without_address_has_no_outputs)
{
	outputs(SYS_accept, (uint64_t[6]){ 3, 0, 0 }, 4);
	cr_assert_eq(ranges.n, 0);
}

Test(model, recvfrom_covers_data_address_and_length)
{
	struct sockaddr_in dst;
	socklen_t *len = (socklen_t *)(arena + 1024);
	int rx = udp_socket(&dst), tx = udp_socket(NULL);
	long r;

	cr_assert_eq(sendto(tx, "datagram!", 9, 0, (struct sockaddr *)&dst, sizeof(dst)), 9);
	*len = sizeof(struct sockaddr_storage);
	snapshot();
	r = syscall(SYS_recvfrom, rx, arena + 100, 64, 0, arena + 512, len);
	cr_assert_eq(r, 9);
	outputs(SYS_recvfrom, (uint64_t[6]){ rx, at(100), 64, 0, at(512), at(1024) }, r);
	assert_covers_writes(&ranges);
	cr_assert_eq(covered(&ranges), 9 + sizeof(socklen_t) + sizeof(struct sockaddr_in));
}

/*
 * recv(2), MSG_TRUNC: "return the real length of the packet or datagram,
 * even when it was longer than the passed buffer" (UDP, unix datagram since
 * Linux 3.4). The kernel still writes at most len bytes.
 */
Test(model, recvfrom_msg_trunc_stays_in_buffer)
{
	char big[100];
	int sv[2];
	long r;

	memset(big, 'z', sizeof(big));
	cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(send(sv[1], big, sizeof(big), 0), (ssize_t)sizeof(big));
	snapshot();
	r = syscall(SYS_recvfrom, sv[0], arena + 100, 8, MSG_TRUNC, NULL, NULL);
	cr_assert_eq(r, 100, "MSG_TRUNC returns the datagram's length");
	outputs(SYS_recvfrom, (uint64_t[6]){ sv[0], at(100), 8, MSG_TRUNC, 0, 0 }, r);
	assert_covers_writes(&ranges);
	assert_ranges_within(&ranges, 100, 8, "recvfrom buffer");
}

Test(model, recvmsg_covers_iovecs_name_control_and_header)
{
	struct sockaddr_in dst;
	struct msghdr *msg = (struct msghdr *)(arena + 2048);
	struct iovec *iov = (struct iovec *)(arena + 2304);
	int rx = udp_socket(&dst), tx = udp_socket(NULL), one = 1;
	long r;

	cr_assert_eq(setsockopt(rx, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)), 0);
	cr_assert_eq(sendto(tx, "0123456789ABCDEF", 16, 0, (struct sockaddr *)&dst, sizeof(dst)), 16);
	iov[0] = (struct iovec){ arena + 100, 10 };
	iov[1] = (struct iovec){ arena + 200, 64 };
	memset(msg, 0, sizeof(*msg));
	msg->msg_name = arena + 512;
	msg->msg_namelen = sizeof(struct sockaddr_storage);
	msg->msg_iov = iov;
	msg->msg_iovlen = 2;
	msg->msg_control = arena + 1024;
	msg->msg_controllen = 256;
	snapshot();
	r = syscall(SYS_recvmsg, rx, msg, 0);
	cr_assert_eq(r, 16);
	cr_assert_eq(msg->msg_namelen, sizeof(struct sockaddr_in));
	cr_assert_eq(msg->msg_controllen, CMSG_SPACE(sizeof(struct in_pktinfo)), "got IP_PKTINFO");
	outputs(SYS_recvmsg, (uint64_t[6]){ rx, at(2048), 0 }, r);
	assert_covers_writes(&ranges);
	cr_assert_eq(covered(&ranges), 16 + sizeof(struct sockaddr_in) +
		     CMSG_SPACE(sizeof(struct in_pktinfo)) + sizeof(struct msghdr));
}

/*
 * getsockopt(2) writes up to *optlen bytes of option value, which need not be
 * a socket address: struct tcp_info (TCP_INFO) is larger than a
 * sockaddr_storage on current kernels.
 */
Test(model, getsockopt_covers_whole_option_value)
{
	socklen_t *len = (socklen_t *)(arena + 4096);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	long r;

	cr_assert_geq(fd, 0);
	*len = 1024;
	snapshot();
	r = syscall(SYS_getsockopt, fd, IPPROTO_TCP, TCP_INFO, arena + 256, len);
	cr_assert_eq(r, 0, "getsockopt: %s", strerror(errno));
	if (*len <= sizeof(struct sockaddr_storage))
		cr_skip_test("struct tcp_info is only %u bytes on this kernel", *len);
	outputs(SYS_getsockopt, (uint64_t[6]){ fd, IPPROTO_TCP, TCP_INFO, at(256), at(4096) }, r);
	assert_covers_writes(&ranges);
	cr_assert_eq(covered(&ranges), sizeof(socklen_t) + *len);
}

/* ---- outputs: ptrace (emulated between recorded processes) ---- */

/* A child stopped in its signal-delivery-stop, traced by this process. */
static pid_t
stopped_tracee(void)
{
	int status;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (ptrace(PTRACE_TRACEME, 0, 0, 0) == 0)
			raise(SIGSTOP);
		_exit(1);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSTOPPED(status), "status 0x%x", status);
	return pid;
}

static void
end_tracee(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

Test(model, ptrace_getregset_covers_iovec_and_regset)
{
	static const struct { int type; size_t len; } sets[] = {
		{ 1 /* NT_PRSTATUS */, 216 /* struct user_regs_struct */ },
		{ 2 /* NT_PRFPREG */, 512 /* struct user_fpregs_struct */ },
	};
	pid_t pid = stopped_tracee();

	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		struct iovec iov = { arena + 256, 2048 };
		long r;

		memcpy(arena + 100, &iov, sizeof(iov));
		snapshot();
		r = syscall(SYS_ptrace, PTRACE_GETREGSET, pid, sets[i].type, arena + 100);
		cr_assert_eq(r, 0, "GETREGSET %d: %s", sets[i].type, strerror(errno));
		outputs(SYS_ptrace, (uint64_t[6]){ PTRACE_GETREGSET, pid, sets[i].type, at(100) }, r);
		assert_covers_writes(&ranges);
		cr_assert_eq(covered(&ranges), sizeof(iov) + sets[i].len,
			     "GETREGSET %d writes iov_len and the regset", sets[i].type);
	}
	end_tracee(pid);
}

Test(model, ptrace_setregset_covers_iov_len)
{
	pid_t pid = stopped_tracee();
	struct iovec iov = { arena + 256, 2048 };
	long r;

	memcpy(arena + 100, &iov, sizeof(iov));
	cr_assert_eq(syscall(SYS_ptrace, PTRACE_GETREGSET, pid, 1, arena + 100), 0);
	memcpy(&iov, arena + 100, sizeof(iov));
	iov.iov_len = 2048; /* more than the regset: the kernel takes its size */
	memcpy(arena + 100, &iov, sizeof(iov));
	snapshot();
	r = syscall(SYS_ptrace, PTRACE_SETREGSET, pid, 1, arena + 100);
	cr_assert_eq(r, 0, "SETREGSET: %s", strerror(errno));
	outputs(SYS_ptrace, (uint64_t[6]){ PTRACE_SETREGSET, pid, 1, at(100) }, r);
	assert_covers_writes(&ranges);
	cr_assert_eq(covered(&ranges), sizeof(iov), "SETREGSET stores iov_len back");
	end_tracee(pid);
}

/* ---- inputs: the data the kernel transmits ---- */

/* Concatenate the bytes of @rs, in order, into @buf; return their count. */
static size_t
gather(const struct sc_ranges *rs, char *buf, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < rs->n; i++) {
		cr_assert_leq(n + rs->v[i].len, cap);
		memcpy(buf + n, (const void *)(uintptr_t)rs->v[i].addr, rs->v[i].len);
		n += rs->v[i].len;
	}
	return n;
}

/* Read what arrived at @fd and compare it with the gathered input ranges. */
static void
assert_inputs_are_sent_data(int fd)
{
	char sent[512], got[512];
	size_t n = gather(&ranges, sent, sizeof(sent));
	ssize_t m = read(fd, got, sizeof(got));

	cr_assert_eq(m, (ssize_t)n, "kernel transmitted %zd bytes, the ranges hold %zu", m, n);
	cr_assert_eq(memcmp(sent, got, n), 0, "the ranges hold other bytes than were sent");
}

Test(model, write_input_is_the_buffer)
{
	uint64_t args[6];
	int p[2];

	make_pipe(p);
	memcpy(arena + 10, "seventeen bytes!!", 17);
	args[0] = p[1];
	args[1] = at(10);
	args[2] = 17;
	cr_assert_eq(sc_inputs(SYS_write, args, self_read, NULL, &ranges), 0);
	cr_assert_eq(syscall(SYS_write, p[1], arena + 10, 17), 17);
	assert_inputs_are_sent_data(p[0]);
	cr_assert_eq(ranges.n, 1);
}

Test(model, writev_input_is_the_iovec_data)
{
	struct iovec *iov = (struct iovec *)(arena + 2048);
	uint64_t args[6] = { 0, at(2048), 4 };
	unsigned calls = 0;
	int p[2];

	make_pipe(p);
	memcpy(arena + 100, "alpha ", 6);
	memcpy(arena + 300, "beta ", 5);
	memcpy(arena + 500, "gamma", 5);
	iov[0] = (struct iovec){ arena + 100, 6 };
	iov[1] = (struct iovec){ arena + 900, 0 };
	iov[2] = (struct iovec){ arena + 300, 5 };
	iov[3] = (struct iovec){ arena + 500, 5 };
	args[0] = p[1];
	cr_assert_eq(sc_inputs(SYS_writev, args, self_read, &calls, &ranges), 0);
	cr_assert_gt(calls, 0, "the model reads the iovec array through the callback");
	cr_assert_eq(syscall(SYS_writev, p[1], iov, 4), 16);
	assert_inputs_are_sent_data(p[0]);
}

Test(model, sendto_input_is_the_buffer)
{
	uint64_t args[6];
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
	memcpy(arena + 40, "a datagram", 10);
	args[0] = sv[1];
	args[1] = at(40);
	args[2] = 10;
	args[3] = 0;
	args[4] = 0;
	args[5] = 0;
	cr_assert_eq(sc_inputs(SYS_sendto, args, self_read, NULL, &ranges), 0);
	cr_assert_eq(syscall(SYS_sendto, sv[1], arena + 40, 10, 0, NULL, 0), 10);
	assert_inputs_are_sent_data(sv[0]);
	cr_assert(sc_is_send(SYS_sendto));
}

Test(model, sendmsg_input_is_the_iovec_data)
{
	struct msghdr *msg = (struct msghdr *)(arena + 2048);
	struct iovec *iov = (struct iovec *)(arena + 2304);
	uint64_t args[6] = { 0, at(2048), 0 };
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
	memcpy(arena + 100, "head:", 5);
	memcpy(arena + 700, "tail", 4);
	iov[0] = (struct iovec){ arena + 100, 5 };
	iov[1] = (struct iovec){ arena + 700, 4 };
	memset(msg, 0, sizeof(*msg));
	msg->msg_iov = iov;
	msg->msg_iovlen = 2;
	args[0] = sv[1];
	cr_assert_eq(sc_inputs(SYS_sendmsg, args, self_read, NULL, &ranges), 0);
	cr_assert_eq(syscall(SYS_sendmsg, sv[1], msg, 0), 9);
	assert_inputs_are_sent_data(sv[0]);
	cr_assert(sc_is_send(SYS_sendmsg));
	cr_assert_not(sc_is_send(SYS_write));
}

Test(model, read_has_no_inputs)
{
	cr_assert_eq(sc_inputs(SYS_read, (uint64_t[6]){ 0, at(0), 64 }, self_read, NULL,
			       &ranges),
		     0);
	cr_assert_eq(ranges.n, 0);
}

/* ---- ranges ---- */

Test(model, ranges_skip_empty_and_null)
{
	cr_assert_eq(sc_ranges_add(&ranges, at(0), 0), 0);
	cr_assert_eq(sc_ranges_add(&ranges, 0, 16), 0);
	cr_assert_eq(ranges.n, 0, "nothing to record for len 0 or a NULL pointer");
	for (int i = 0; i < 100; i++)
		cr_assert_eq(sc_ranges_add(&ranges, at((size_t)i), 1), 0);
	cr_assert_eq(ranges.n, 100);
	cr_assert_eq(ranges.v[99].addr, at(99));
	sc_ranges_free(&ranges);
	cr_assert_eq(ranges.n, 0);
	cr_assert_null(ranges.v);
}

/* ---- support checks ---- */

static int
check(long nr, uint64_t a0, uint64_t a1, char *why, size_t len)
{
	uint64_t args[6] = { a0, a1 };

	why[0] = '\0';
	return sc_check(nr, args, why, len);
}

Test(model, check_accepts_supported)
{
	char why[128];

	cr_assert_eq(check(SYS_read, 0, 0, why, sizeof(why)), 0);
	cr_assert_eq(check(SYS_ioctl, 0, TCGETS, why, sizeof(why)), 0);
	cr_assert_eq(check(SYS_fcntl, 0, F_GETLK, why, sizeof(why)), 0);
	cr_assert_eq(check(SYS_futex, 0, FUTEX_WAKE_OP | FUTEX_PRIVATE_FLAG, why, sizeof(why)), 0);
	/* glibc's pthread_create flags (sysdeps/unix/sysv/linux/createthread.c) */
	cr_assert_eq(check(SYS_clone,
			   CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SYSVSEM | CLONE_SIGHAND |
				   CLONE_THREAD | CLONE_SETTLS | CLONE_PARENT_SETTID |
				   CLONE_CHILD_CLEARTID,
			   0, why, sizeof(why)),
		     0);
}

Test(model, check_names_unknown_ioctl)
{
	char why[128];

	cr_assert_eq(check(SYS_ioctl, 0, TIOCSTI, why, sizeof(why)), -ENOSYS);
	cr_assert(strstr(why, "ioctl") && strstr(why, "0x5412"), "message: '%s'", why);
}

Test(model, check_follows_new_processes)
{
	char why[128] = "";

	cr_assert_eq(check(SYS_fork, 0, 0, why, sizeof(why)), 0);
	cr_assert_eq(check(SYS_vfork, 0, 0, why, sizeof(why)), 0);
	cr_assert(sc_flags(SYS_fork, (uint64_t[6]){ 0 }) & SC_REPLAY_EXEC,
		  "replay creates the process too");
	cr_assert(sc_flags(SYS_execve, (uint64_t[6]){ 0 }) & SC_REPLAY_EXEC,
		  "replay executes the image too");
	/* fork(3) in glibc: clone(CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD) */
	cr_assert_eq(check(SYS_clone, CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD, 0, why,
			   sizeof(why)), 0);
	/* posix_spawn(3): clone(CLONE_VM | CLONE_VFORK | SIGCHLD) */
	cr_assert_eq(check(SYS_clone, CLONE_VM | CLONE_VFORK | SIGCHLD, 0, why, sizeof(why)), 0);
	/* a child uprr could not follow */
	cr_assert_eq(check(SYS_clone, CLONE_UNTRACED | SIGCHLD, 0, why, sizeof(why)), -EPERM,
		     "never run, even to see it fail");
	cr_assert(strstr(why, "CLONE_UNTRACED"), "message: '%s'", why);
	/* a thread of another address space does not exist in Linux */
	cr_assert_eq(check(SYS_clone, CLONE_THREAD | CLONE_SIGHAND, 0, why, sizeof(why)), -EPERM);
	cr_assert(strstr(why, "clone"), "message: '%s'", why);
}

Test(model, check_names_unknown_syscall)
{
	char why[128];

	cr_assert_eq(check(1000, 0, 0, why, sizeof(why)), -ENOSYS);
	cr_assert(strstr(why, "1000"), "message: '%s'", why);
	cr_assert_eq(check(-1, 0, 0, why, sizeof(why)), -ENOSYS);
	cr_assert(strstr(why, "-1"), "message: '%s'", why);
}

Test(model, check_refuses_unknown_commands)
{
	char why[128];

	cr_assert_eq(check(SYS_futex, 0, FUTEX_LOCK_PI, why, sizeof(why)), -ENOSYS);
	cr_assert(strstr(why, "futex"), "message: '%s'", why);
	cr_assert_eq(check(SYS_fcntl, 0, 1234 /* no such command */, why, sizeof(why)), -ENOSYS);
	cr_assert(strstr(why, "fcntl"), "message: '%s'", why);
	cr_assert_eq(check(SYS_prctl, PR_SET_MM, 0, why, sizeof(why)), -ENOSYS);
	cr_assert(strstr(why, "prctl"), "message: '%s'", why);
	/* the requests uprr emulates between recorded processes */
	cr_assert_eq(check(SYS_ptrace, PTRACE_TRACEME, 0, why, sizeof(why)), 0);
	cr_assert_eq(check(SYS_ptrace, PTRACE_ATTACH, 1, why, sizeof(why)), 0);
	cr_assert_eq(check(SYS_ptrace, PTRACE_SINGLESTEP, 1, why, sizeof(why)), 0);
	cr_assert_eq(check(SYS_ptrace, PTRACE_SYSEMU, 1, why, sizeof(why)), -ENOSYS);
	cr_assert(strstr(why, "ptrace PTRACE_SYSEMU (0x1f)"), "message: '%s'", why);
}

Test(model, check_truncates_message)
{
	char why[8];

	memset(why, 'x', sizeof(why));
	cr_assert_eq(sc_check(SYS_ioctl, (uint64_t[6]){ 0, TIOCSTI }, why, 6), -ENOSYS);
	cr_assert_eq(strlen(why), 5, "message cut to the buffer, NUL-terminated");
	cr_assert_eq(why[6], 'x', "nothing written past the given length");
}

/* ---- flags and names ---- */

static uint32_t
flags_of(long nr, uint64_t a1)
{
	uint64_t args[6] = { 0, a1 };

	return sc_flags(nr, args);
}

Test(model, flags_blocking)
{
	cr_assert(flags_of(SYS_futex, FUTEX_WAIT_PRIVATE) & SC_MAY_BLOCK);
	cr_assert(flags_of(SYS_futex, FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME) & SC_MAY_BLOCK);
	cr_assert_not(flags_of(SYS_futex, FUTEX_WAKE_PRIVATE) & SC_MAY_BLOCK);
	cr_assert_not(flags_of(SYS_futex, FUTEX_WAKE_OP) & SC_MAY_BLOCK);
	cr_assert(flags_of(SYS_read, 0) & SC_MAY_BLOCK);
	cr_assert(flags_of(SYS_fcntl, F_SETLKW) & SC_MAY_BLOCK);
	cr_assert_not(flags_of(SYS_fcntl, F_SETLK) & SC_MAY_BLOCK);
	cr_assert_not(flags_of(SYS_getpid, 0) & SC_MAY_BLOCK);
}

Test(model, flags_replay_exec_and_untraced)
{
	cr_assert(flags_of(SYS_mmap, 0) & SC_REPLAY_EXEC);
	cr_assert_not(flags_of(SYS_mmap, 0) & SC_UNTRACED, "mmap results are recorded");
	cr_assert(flags_of(SYS_arch_prctl, 0) & SC_UNTRACED);
	/* running untraced, it must run in replay too */
	cr_assert(flags_of(SYS_arch_prctl, 0) & SC_REPLAY_EXEC);
	/* run again after a rollback, these would return the value they set */
	cr_assert_not(flags_of(SYS_rt_sigprocmask, 0) & SC_UNTRACED);
	cr_assert_not(flags_of(SYS_rt_sigaction, 0) & SC_UNTRACED);
	cr_assert_not(flags_of(SYS_sigaltstack, 0) & SC_UNTRACED);
	cr_assert_not(flags_of(SYS_munmap, 0) & SC_UNTRACED);
	/* what makes a checkpoint look at the address space again */
	cr_assert(flags_of(SYS_mmap, 0) & SC_MAPS);
	cr_assert(flags_of(SYS_brk, 0) & SC_MAPS);
	cr_assert(flags_of(SYS_madvise, 0) & SC_MAPS);
	cr_assert(flags_of(SYS_mprotect, 0) & SC_MAPS);
	/* what makes an asynchronous signal likely */
	cr_assert(flags_of(SYS_alarm, 0) & SC_TIMER);
	cr_assert(flags_of(SYS_setitimer, 0) & SC_TIMER);
	cr_assert(flags_of(SYS_timer_settime, 0) & SC_TIMER);
	cr_assert_not(flags_of(SYS_nanosleep, 0) & SC_TIMER);
	cr_assert_not(flags_of(SYS_clone, 0) & SC_MAPS);
	cr_assert_not(flags_of(SYS_munmap, 0) & SC_MAPS);
	cr_assert_not(flags_of(SYS_getpid, 0) & SC_UNTRACED);
	cr_assert_not(flags_of(SYS_read, 0) & SC_REPLAY_EXEC, "read is emulated");
	cr_assert(flags_of(SYS_nanosleep, 0) & SC_OUT_ON_ERROR);
	cr_assert_eq(flags_of(1000, 0), 0);
	cr_assert_eq(flags_of(-1, 0), 0);
}

Test(model, every_untraced_syscall_is_replay_executed)
{
	for (long nr = 0; nr < 1024; nr++) {
		uint32_t f = flags_of(nr, 0);

		if (f & SC_UNTRACED)
			cr_assert(f & SC_REPLAY_EXEC, "%s untraced but emulated",
				  sc_name(nr));
	}
}

Test(model, names)
{
	cr_assert_str_eq(sc_name(SYS_read), "read");
	cr_assert_str_eq(sc_name(SYS_exit_group), "exit_group");
	cr_assert_str_eq(sc_name(SYS_clone3), "clone3");
	cr_assert_null(sc_name(-1));
	cr_assert_null(sc_name(100000));
	cr_assert(sc_known(SYS_read));
	cr_assert(sc_known(SYS_ptrace), "emulated requests");
	cr_assert_not(sc_known(SYS_io_uring_setup));
	cr_assert_not(sc_known(-1));
	cr_assert_not(sc_known(100000));
}
