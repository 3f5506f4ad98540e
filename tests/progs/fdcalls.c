/* SPDX-License-Identifier: MIT */
/*
 * The syscall buffer's fd and file calls (preload/buffered-fd.c): each
 * made through the library's entry at UPRR_PRELOAD_ADDR when uprr mapped
 * it there, else through syscall(2) (natively), with the arguments that
 * matter:
 *   - openat of a file, of a directory (O_DIRECTORY), of a missing file,
 *     of /proc/self/status and for writing (both traced), of a symlink with
 *     O_NOFOLLOW (ELOOP), of a FIFO (traced: the stat before it shows a
 *     FIFO), of a FIFO with O_NONBLOCK;
 *   - close of a good fd, of a bad one, of -1;
 *   - fcntl F_GETFD, F_SETFD, F_GETFL, F_SETFL, on a bad fd, F_DUPFD_CLOEXEC;
 *     F_DUPFD of stdout, written in the same batch (uprr's output in replay);
 *   - access, faccessat, faccessat2; statx of a file and of a missing one;
 *   - fadvise64 (advice, a bad one, a bad fd);
 *   - pread64 at offsets (past the end; a negative one: EINVAL), pwrite64,
 *     readv of a file into three iovecs, of a pipe (data there, then a pipe
 *     that a thread writes later: the attempt finds nothing, the traced
 *     call waits), preadv;
 *   - openat for writing (O_CREAT | O_TRUNC, O_EXCL of an existing file:
 *     EEXIST, O_APPEND, O_TRUNC of an existing file) and write, writev,
 *     pwrite64 to the regular file (ext4, tmpfs refuse RWF_NOWAIT: plain
 *     writes in the buffer), one larger than a page; the file read back;
 *   - getrandom (its bytes summed: the one line that differs natively);
 *   - accept4 on a non-blocking listener with nothing pending (EAGAIN) and
 *     with connections pending, on a blocking one (traced);
 *   - the fd problem: an fd that is uprr's stdout written (buffered), closed,
 *     the number reused by accept4 and written again: replay must show the
 *     first line and not the second; and the same with a traced write before
 *     the close (the output code's fd cache must not keep the old answer).
 * Exits 1 if a call returns something else than the kernel says.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "preload-entry.h"
#include "progs.h"

#define SYS0(nr) g_sys((nr), 0, 0, 0, 0, 0, 0)
#define SYS(nr, a0, a1, a2, a3) g_sys((nr), (long)(a0), (long)(a1), (long)(a2), (long)(a3), 0, 0)

/* A write that uprr traces whatever it does with the site: writev(2) of
 * 65 iovecs (one more than the buffer takes, UPRR_IOV_MAX), the bytes in
 * the first, from a syscall instruction of its own that uprr cannot patch
 * (neither shape of syscallbuf-patch.c: nops around it; such a call is
 * sent into the library, which traces it). */
static long
traced_write(int fd, const void *buf, size_t len)
{
	struct iovec iov[65] = { { (void *)buf, len } };
	long ret;

	__asm__ __volatile__("nop\n\tnop\n\tsyscall\n\tnop"
			     : "=a"(ret)
			     : "a"((long)__NR_writev), "D"((long)fd), "S"(iov), "d"(65l)
			     : "rcx", "r11", "memory");
	return ret;
}

static void
expect(const char *what, long got, long want)
{
	if (got != want)
		die("fdcalls: %s returned %ld, expected %ld", what, got, want);
}

static const char *g_dir;

static void
path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", g_dir, name);
}

static void
open_calls(void)
{
	char file[512], link[512], fifo[512], buf[64];
	struct stat st;
	long fd, rw, n;

	path(file, sizeof(file), "data");
	path(link, sizeof(link), "link");
	path(fifo, sizeof(fifo), "fifo");
	fd = SYS(__NR_openat, AT_FDCWD, file, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		die("fdcalls: openat of a file: %ld", fd);
	n = SYS(__NR_read, fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	lib_say("openat: file read %ld bytes: %s", n, buf);
	if (fstat((int)fd, &st) < 0 || !S_ISREG(st.st_mode))
		die("fdcalls: openat gave no regular file");
	expect("close", SYS(__NR_close, fd, 0, 0, 0), 0);
	fd = SYS(__NR_openat, AT_FDCWD, g_dir, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC, 0);
	lib_say("openat: directory %s\n", fd >= 0 ? "open" : "failed");
	expect("close of the directory", SYS(__NR_close, fd, 0, 0, 0), 0);
	lib_say("openat: missing file %ld\n", SYS(__NR_openat, AT_FDCWD, "/nonexistent/x", O_RDONLY, 0));
	lib_say("openat: file as a directory %ld\n",
		SYS(__NR_openat, AT_FDCWD, file, O_RDONLY | O_DIRECTORY, 0));
	lib_say("openat: symlink with O_NOFOLLOW %ld\n",
		SYS(__NR_openat, AT_FDCWD, link, O_RDONLY | O_NOFOLLOW, 0));
	fd = SYS(__NR_openat, AT_FDCWD, "/proc/self/status", O_RDONLY | O_CLOEXEC, 0);
	n = SYS(__NR_read, fd, buf, 5, 0);
	lib_say("openat: /proc/self/status starts %.*s\n", (int)(n > 0 ? n : 0), buf);
	expect("close of /proc/self/status", SYS(__NR_close, fd, 0, 0, 0), 0);
	fd = SYS(__NR_openat, AT_FDCWD, file, O_WRONLY | O_APPEND, 0);
	expect("write to the file", SYS(__NR_write, fd, " and more\n", 10, 0), 10);
	expect("close of the written file", SYS(__NR_close, fd, 0, 0, 0), 0);
	/* a FIFO: the open waits for the writer, another thread */
	if (mkfifo(fifo, 0600) < 0)
		die("fdcalls: mkfifo: %s", strerror(errno));
	fd = SYS(__NR_openat, AT_FDCWD, fifo, O_RDONLY | O_NONBLOCK, 0);
	lib_say("openat: fifo with O_NONBLOCK %s\n", fd >= 0 ? "open" : "failed");
	expect("close of the fifo", SYS(__NR_close, fd, 0, 0, 0), 0);
	/* a writer first (O_RDWR does not wait, fifo(7)): the reader's open
	 * does not wait either, but only the stat shows it is a FIFO (a
	 * FIFO open that waits for another recorded thread hangs the
	 * recording on the ptrace path too: openat is not "may block") */
	rw = SYS(__NR_openat, AT_FDCWD, fifo, O_RDWR | O_CLOEXEC, 0);
	expect("write to the fifo", SYS(__NR_write, rw, "through the fifo", 16, 0), 16);
	fd = SYS(__NR_openat, AT_FDCWD, fifo, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		die("fdcalls: openat of the fifo: %ld", fd);
	for (size_t got = 0; got < 16; got += (size_t)n) {
		n = SYS(__NR_read, fd, buf + got, 16 - got, 0);
		if (n <= 0)
			die("fdcalls: read of the fifo: %ld", n);
	}
	lib_say("openat: fifo gave %.16s\n", buf);
	expect("close of the fifo", SYS(__NR_close, fd, 0, 0, 0), 0);
	expect("close of the fifo's writer", SYS(__NR_close, rw, 0, 0, 0), 0);
	lib_say("close: bad fd %ld, fd -1 %ld\n", SYS(__NR_close, 999, 0, 0, 0), SYS(__NR_close, -1, 0, 0, 0));
}

static void
fcntl_access_stat(void)
{
	char file[512];
	struct statx stx;
	long fd, fl, d;

	path(file, sizeof(file), "data");
	fd = SYS(__NR_openat, AT_FDCWD, file, O_RDONLY, 0);
	lib_say("fcntl: F_GETFD %ld\n", SYS(__NR_fcntl, fd, F_GETFD, 0, 0));
	fl = SYS(__NR_fcntl, fd, F_SETFD, FD_CLOEXEC, 0);
	lib_say("fcntl: F_SETFD %ld, then %ld\n", fl, SYS(__NR_fcntl, fd, F_GETFD, 0, 0));
	fl = SYS(__NR_fcntl, fd, F_GETFL, 0, 0);
	lib_say("fcntl: F_SETFL %ld\n", SYS(__NR_fcntl, fd, F_SETFL, fl | O_NONBLOCK, 0));
	lib_say("fcntl: O_NONBLOCK %s\n", (SYS(__NR_fcntl, fd, F_GETFL, 0, 0) & O_NONBLOCK) ? "set" : "not set");
	lib_say("fcntl: bad fd %ld\n", SYS(__NR_fcntl, 999, F_GETFL, 0, 0));
	d = SYS(__NR_fcntl, fd, F_DUPFD_CLOEXEC, 0, 0);
	lib_say("fcntl: F_DUPFD_CLOEXEC %s\n", d > fd ? "a new fd" : "failed");
	expect("close of the dup", SYS(__NR_close, d, 0, 0, 0), 0);
	lib_say("access: file %ld, missing %ld, executable %ld\n", SYS(__NR_access, file, R_OK, 0, 0),
		SYS(__NR_access, "/nonexistent", F_OK, 0, 0), SYS(__NR_access, file, X_OK, 0, 0));
	lib_say("faccessat: %ld, faccessat2 %ld, faccessat2 bad flags %ld\n",
		SYS(__NR_faccessat, AT_FDCWD, file, R_OK, 0),
		SYS(__NR_faccessat2, AT_FDCWD, file, R_OK, AT_EACCESS),
		SYS(__NR_faccessat2, AT_FDCWD, file, R_OK, 0x4000000));
	memset(&stx, 0, sizeof(stx));
	/* a NULL buffer: traced, EFAULT */
	lib_say("statx: NULL buffer %ld\n", g_sys(__NR_statx, AT_FDCWD, (long)file, 0, STATX_BASIC_STATS, 0, 0));
	expect("statx", g_sys(__NR_statx, AT_FDCWD, (long)file, 0, STATX_BASIC_STATS, (long)&stx, 0), 0);
	lib_say("statx: size %llu, regular %d, missing %ld\n", (unsigned long long)stx.stx_size,
		S_ISREG(stx.stx_mode),
		g_sys(__NR_statx, AT_FDCWD, (long)"/nonexistent", 0, STATX_BASIC_STATS, (long)&stx, 0));
	expect("close", SYS(__NR_close, fd, 0, 0, 0), 0);
}

static void *
pipe_writer(void *arg)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	if (write(*(int *)arg, "late bytes", 10) != 10)
		die("fdcalls: pipe writer failed");
	return NULL;
}

static void
read_write_calls(void)
{
	char file[512], a[8], b[8], c[32];
	struct iovec v[3] = { { a, 4 }, { b, 6 }, { c, sizeof(c) } };
	int p[2];
	pthread_t th;
	long fd, n;

	path(file, sizeof(file), "data");
	fd = SYS(__NR_openat, AT_FDCWD, file, O_RDWR, 0);
	n = SYS(__NR_pread64, fd, c, 8, 6);
	lib_say("pread64: %ld bytes at 6: %.*s\n", n, (int)(n > 0 ? n : 0), c);
	lib_say("pread64: past the end %ld, offset -1 %ld\n", SYS(__NR_pread64, fd, c, 8, 4096),
		SYS(__NR_pread64, fd, c, 8, -1));
	lib_say("pwrite64: %ld\n", SYS(__NR_pwrite64, fd, "DATA", 4, 0));
	lib_say("fadvise64: sequential %ld, dontneed %ld, bad advice %ld, bad fd %ld\n",
		SYS(__NR_fadvise64, fd, 0, 0, POSIX_FADV_SEQUENTIAL), SYS(__NR_fadvise64, fd, 0, 4096, POSIX_FADV_DONTNEED),
		SYS(__NR_fadvise64, fd, 0, 0, 99), SYS(__NR_fadvise64, 999, 0, 0, POSIX_FADV_NORMAL));
	n = SYS(__NR_readv, fd, v, 3, 0);
	lib_say("readv: %ld bytes: %.4s|%.6s|%.*s", n, a, b, (int)(n > 10 ? n - 10 : 0), c);
	n = SYS(__NR_preadv, fd, v, 2, 1);
	lib_say("preadv: %ld bytes at 1: %.4s|%.6s\n", n, a, b);
	lib_say("readv: bad fd %ld\n", SYS(__NR_readv, 999, v, 3, 0));
	expect("close", SYS(__NR_close, fd, 0, 0, 0), 0);
	if (pipe(p) < 0 || write(p[1], "pipe bytes", 10) != 10)
		die("fdcalls: pipe: %s", strerror(errno));
	memset(c, 0, sizeof(c));
	n = SYS(__NR_readv, p[0], v, 3, 0);
	lib_say("readv of a pipe: %ld bytes: %.4s|%.6s\n", n, a, b);
	if (pthread_create(&th, NULL, pipe_writer, &p[1]))
		die("fdcalls: pthread_create failed");
	n = SYS(__NR_readv, p[0], v, 3, 0); /* waits for the thread: traced */
	lib_say("readv of a pipe that waits: %ld bytes: %.4s|%.6s\n", n, a, b);
	pthread_join(th, NULL);
	close(p[0]);
	close(p[1]);
}

static void
random_calls(void)
{
	unsigned char r[64];
	uint64_t sum = FNV1A_INIT;
	long n, m;

	n = SYS(__NR_getrandom, r, 32, 0, 0);
	m = SYS(__NR_getrandom, r + 32, 32, GRND_NONBLOCK, 0);
	for (int i = 0; i < 64; i++)
		sum = fnv1a(sum, &r[i], 1);
	lib_say("getrandom: %ld and %ld bytes, bad flags %ld\n", n, m, SYS(__NR_getrandom, r, 8, 0x100, 0));
	lib_say("random: sum %016llx\n", (unsigned long long)sum);
}

/* A connection to @port of 127.0.0.1, the client's fd. */
static int
connect_to(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("fdcalls: connect: %s", strerror(errno));
	return c;
}

/* The message a client got, as a line. */
static void
client_got(int c, const char *who)
{
	char buf[128];
	long n = read(c, buf, sizeof(buf));

	lib_say("%s got: %.*s", who, (int)(n > 0 ? n : 0), buf);
}

static void
fd_reuse(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_storage peer;
	socklen_t len = sizeof(sa);
	int l, c1, c2, c3, n, port;
	long s, m;

	l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 8) < 0 ||
	    getsockname(l, (struct sockaddr *)&sa, &len) < 0)
		die("fdcalls: listen: %s", strerror(errno));
	port = ntohs(sa.sin_port);
	len = sizeof(peer);
	lib_say("accept4: nothing pending %ld\n", SYS(__NR_accept4, l, &peer, &len, SOCK_CLOEXEC));
	c1 = connect_to(port);
	c2 = connect_to(port);
	c3 = connect_to(port);

	/* stdout as fd n, written through the buffer, closed: the close must
	 * be traced (the write's bytes are uprr's output); n again from
	 * accept4, written: the socket's bytes, not uprr's output */
	n = dup(1);
	expect("write to the dup of stdout", SYS(__NR_write, n, "line 1: through a dup of stdout\n", 32, 0),
	       32);
	expect("close of the dup", SYS(__NR_close, n, 0, 0, 0), 0);
	len = sizeof(peer);
	s = SYS(__NR_accept4, l, &peer, &len, SOCK_CLOEXEC);
	lib_say("accept4: %s, address length %u, family %s\n", s == n ? "the same fd" : "another fd",
		len, peer.ss_family == AF_INET ? "inet" : "?");
	expect("write to the socket", SYS(__NR_write, s, "line 2: to the socket\n", 22, 0), 22);
	client_got(c1, "client 1");
	expect("close of the socket", SYS(__NR_close, s, 0, 0, 0), 0);

	/* the same with a traced write before the close: the output code
	 * learnt that n is stdout; the buffered close and accept4 change it */
	n = dup(1);
	expect("traced write to the dup", traced_write(n, "line 3: traced, through a dup\n", 30), 30);
	expect("close of the dup", SYS(__NR_close, n, 0, 0, 0), 0);
	s = SYS(__NR_accept4, l, NULL, NULL, 0);
	lib_say("accept4 without an address: %s\n", s == n ? "the same fd" : "another fd");
	expect("traced write to the socket", traced_write((int)s, "line 4: to the socket\n", 22), 22);
	client_got(c2, "client 2");
	expect("close of the socket", SYS(__NR_close, s, 0, 0, 0), 0);

	/* stdout duplicated by a buffered F_DUPFD and written in the same
	 * batch: where the bytes went is known only from what the new fd
	 * leads to, found at the flush */
	n = SYS(__NR_fcntl, 1, F_DUPFD, 3, 0);
	expect("write to the F_DUPFD of stdout", SYS(__NR_write, n, "line 5: through F_DUPFD of stdout\n", 34, 0),
	       34);
	expect("close of the F_DUPFD", SYS(__NR_close, n, 0, 0, 0), 0);

	/* a blocking listener: accept4 is traced */
	m = fcntl(l, F_GETFL);
	fcntl(l, F_SETFL, m & ~O_NONBLOCK);
	len = 4; /* shorter than the address: cut, the full length back */
	s = SYS(__NR_accept4, l, &peer, &len, 0);
	lib_say("accept4 blocking: %s, address length %u\n", s >= 0 ? "a connection" : "failed", len);
	close(s);
	close(c1);
	close(c2);
	close(c3);
	close(l);
}

/* openat for writing and writes to a regular file, read back */
static void
write_open_calls(void)
{
	static char big[40000];
	char out[512], got[64];
	struct iovec v[2] = { { "two ", 4 }, { "iovecs\n", 7 } };
	unsigned long sum = 0;
	long fd, n;

	path(out, sizeof(out), "out");
	fd = SYS(__NR_openat, AT_FDCWD, out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die("fdcalls: openat for writing: %ld", fd);
	expect("write to the new file", SYS(__NR_write, fd, "first line\n", 11, 0), 11);
	expect("writev to the new file", SYS(__NR_writev, fd, v, 2, 0), 11);
	expect("pwrite64 to the new file", SYS(__NR_pwrite64, fd, "FIRST", 5, 0), 5);
	expect("close of the new file", SYS(__NR_close, fd, 0, 0, 0), 0);
	lib_say("openat: O_EXCL of an existing file %ld\n",
		SYS(__NR_openat, AT_FDCWD, out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
	fd = SYS(__NR_openat, AT_FDCWD, out, O_WRONLY | O_APPEND | O_CLOEXEC, 0);
	expect("write with O_APPEND", SYS(__NR_write, fd, "appended\n", 9, 0), 9);
	expect("close of the appended file", SYS(__NR_close, fd, 0, 0, 0), 0);
	fd = SYS(__NR_openat, AT_FDCWD, out, O_RDONLY | O_CLOEXEC, 0);
	n = SYS(__NR_read, fd, got, sizeof(got) - 1, 0);
	got[n > 0 ? n : 0] = '\0';
	lib_say("written file, %ld bytes:\n%s", n, got);
	expect("close of the file read back", SYS(__NR_close, fd, 0, 0, 0), 0);
	/* O_TRUNC of an existing file, then a write larger than a page */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + i / 251);
	fd = SYS(__NR_openat, AT_FDCWD, out, O_RDWR | O_TRUNC | O_CLOEXEC, 0);
	lib_say("O_TRUNC: size %ld\n", SYS(__NR_lseek, fd, 0, SEEK_END, 0));
	expect("write of 40000 bytes", SYS(__NR_write, fd, big, sizeof(big), 0), (long)sizeof(big));
	memset(big, 0, sizeof(big));
	expect("pread64 of 40000 bytes", SYS(__NR_pread64, fd, big, sizeof(big), 0), (long)sizeof(big));
	for (size_t i = 0; i < sizeof(big); i++)
		sum = sum * 31 + (unsigned char)big[i];
	lib_say("40000 bytes written and read back: sum %lx\n", sum);
	expect("close of the big file", SYS(__NR_close, fd, 0, 0, 0), 0);
}

int
main(int argc, char **argv)
{
	char file[512], link[512];
	int fd;

	if (argc != 2)
		die("usage: fdcalls DIR");
	g_dir = argv[1];
	find_library();
	path(file, sizeof(file), "data");
	path(link, sizeof(link), "link");
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, "hello world, fdcalls\n", 21) != 21 || close(fd) < 0 || symlink(file, link) < 0)
		die("fdcalls: cannot make %s: %s", file, strerror(errno));
	/* the first call of each kind from here claims the slot, patches nothing */
	open_calls();
	fcntl_access_stat();
	read_write_calls();
	write_open_calls();
	random_calls();
	fd_reuse();
	lib_say("fdcalls: ok\n");
	return 0;
}
