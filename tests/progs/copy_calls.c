/* SPDX-License-Identifier: MIT */
/*
 * The syscall buffer's copy, directory and mapping calls (issue 14, cp's
 * traced calls): each made through the library's entry when uprr mapped it
 * (preload-entry.h), else through syscall(2), in DIR (a directory of the
 * case, on one file system) and /dev/shm (tmpfs: another one):
 *   - sendfile from a file at an offset to a regular file, to a socket (read
 *     back by the peer), to stdout (uprr's output: replay shows it), one
 *     larger than the buffer takes at once (looped as callers do), at the
 *     end of the file (0), from a pipe (ESPIPE), to an O_APPEND file
 *     (EINVAL), without an offset (the file position: traced), bad fds; to a
 *     full non-blocking socket (EAGAIN) and to a full blocking one that a
 *     thread drains later (the traced call waits); the offsets written back;
 *   - copy_file_range within DIR (copied; offsets written back, with and
 *     without pointers), from DIR to /dev/shm (EXDEV or copied, as the
 *     kernel says), to a pipe (EINVAL), with bad flags (EINVAL);
 *     with "stdout-file": into stdout, a regular file (replay shows it);
 *   - ioctl FICLONE and FICLONERANGE (EOPNOTSUPP, EXDEV or EINVAL on ext4
 *     and tmpfs), with a bad fd;
 *   - mkdirat: new, existing (EEXIST), missing parent (ENOENT); fchown,
 *     fchmod, utimensat (of a path, of the fd, errors), as tar -x makes;
 *   - a write and a sendfile to a pipe whose reader is gone: SIGPIPE's
 *     handler runs before they return EPIPE;
 *   - mmap of private anonymous memory, used (a file read into it through
 *     the buffer, summed), munmap of part of it, madvise MADV_DONTNEED of a
 *     page (zeros after), a hint, MADV_FREE (traced), 3,000 mmap/munmap
 *     pairs (more than one buffer holds), an mmap that fails (ENOMEM), a
 *     munmap that fails (EINVAL).
 * Prints what it saw: the same natively. Exits 1 if a call returns
 * something else than expected.
 */
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "preload-entry.h"
#include "progs.h"

#define SYS(nr, a0, a1, a2, a3) g_sys((nr), (long)(a0), (long)(a1), (long)(a2), (long)(a3), 0, 0)
#define SYS6(nr, a0, a1, a2, a3, a4, a5) \
	g_sys((nr), (long)(a0), (long)(a1), (long)(a2), (long)(a3), (long)(a4), (long)(a5))

static const char *g_dir;

static void
expect(const char *what, long got, long want)
{
	if (got != want)
		die("copy_calls: %s returned %ld, expected %ld", what, got, want);
}

static void
path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", g_dir, name);
}

/* A file of @len bytes of a pattern that shows where each byte came from. */
static int
make_file(const char *name, size_t len)
{
	char p[4096];
	unsigned char *b = malloc(len);
	int fd;

	path(p, sizeof(p), name);
	for (size_t i = 0; i < len; i++)
		b[i] = (unsigned char)('a' + (i * 7 + i / 251) % 26);
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, b, len) != (ssize_t)len)
		die("copy_calls: cannot make %s", p);
	free(b);
	return fd;
}

static uint64_t
sum(const unsigned char *b, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

/* The sum of @fd's first @n bytes (read natively, not through the buffer). */
static uint64_t
file_sum(int fd, size_t n)
{
	unsigned char *b = malloc(n ? n : 1);
	ssize_t got = pread(fd, b, n, 0);
	uint64_t h = sum(b, got > 0 ? (size_t)got : 0);

	free(b);
	return h ^ (uint64_t)got;
}

static int g_drain_fd;

static void *
drainer(void *arg)
{
	char b[65536];
	long total = 0, n;

	(void)arg;
	usleep(20000);
	while ((n = read(g_drain_fd, b, sizeof(b))) > 0)
		total += n;
	return (void *)total;
}

static void
sendfile_calls(void)
{
	int src = make_file("src", 200000), dst, sv[2], p[2], app, ro;
	char p2[4096], got[8192];
	off_t off = 1000;
	long r, total;

	path(p2, sizeof(p2), "dst");
	dst = open(p2, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	r = SYS(__NR_sendfile, dst, src, &off, 5000);
	expect("sendfile to a file", r, 5000);
	expect("sendfile's offset", off, 6000);
	say("sendfile to a file: %ld bytes, offset %ld, sum %016llx\n", r, (long)off,
	    (unsigned long long)file_sum(dst, 5000));
	/* a larger one than the buffer takes at once: looped */
	off = 0;
	for (total = 0; total < 200000; total += r) {
		r = SYS(__NR_sendfile, dst, src, &off, 200000 - total);
		if (r <= 0)
			die("copy_calls: sendfile of the rest returned %ld", r);
	}
	say("sendfile of 200000 bytes: offset %ld, sum %016llx\n", (long)off,
	    (unsigned long long)file_sum(dst, 200000));
	expect("sendfile at the end", SYS(__NR_sendfile, dst, src, &off, 100), 0);
	/* without an offset: the file position */
	lseek(src, 10, SEEK_SET);
	expect("sendfile without an offset", SYS(__NR_sendfile, dst, src, NULL, 300), 300);
	expect("the file position after it", lseek(src, 0, SEEK_CUR), 310);
	/* to a socket, read back by its peer */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("copy_calls: socketpair");
	off = 77;
	expect("sendfile to a socket", SYS(__NR_sendfile, sv[0], src, &off, 3000), 3000);
	expect("the peer's read", read(sv[1], got, sizeof(got)), 3000);
	say("sendfile to a socket: offset %ld, sum %016llx\n", (long)off,
	    (unsigned long long)sum((unsigned char *)got, 3000));
	/* to stdout: uprr's output */
	off = 0;
	expect("sendfile to stdout", SYS(__NR_sendfile, 1, src, &off, 52), 52);
	expect("a newline", write(1, "\n", 1), 1);
	/* errors */
	if (pipe2(p, O_CLOEXEC) < 0)
		die("copy_calls: pipe");
	expect("a pipe's write", write(p[1], "abc", 3), 3);
	off = 0;
	expect("sendfile from a pipe", SYS(__NR_sendfile, dst, p[0], &off, 3), -ESPIPE);
	path(p2, sizeof(p2), "append");
	app = open(p2, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	expect("sendfile to an O_APPEND file", SYS(__NR_sendfile, app, src, &off, 10), -EINVAL);
	expect("sendfile to a bad fd", SYS(__NR_sendfile, 999, src, &off, 10), -EBADF);
	expect("sendfile from a bad fd", SYS(__NR_sendfile, dst, 999, &off, 10), -EBADF);
	path(p2, sizeof(p2), "src");
	ro = open(p2, O_RDONLY | O_CLOEXEC);
	expect("sendfile to a read-only fd", SYS(__NR_sendfile, ro, src, &off, 10), -EBADF);
	close(ro);
	/* a full non-blocking socket: EAGAIN; a full blocking one waits for
	 * the thread that drains it (the traced call) */
	{
		int one = 4096;
		pthread_t th;
		void *drained;

		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &one, sizeof(one));
		fcntl(sv[0], F_SETFL, O_NONBLOCK);
		off = 0;
		for (total = 0; (r = SYS(__NR_sendfile, sv[0], src, &off, 4096)) > 0;)
			total += r;
		expect("sendfile to a full non-blocking socket", r, -EAGAIN);
		g_drain_fd = sv[1];
		pthread_create(&th, NULL, drainer, NULL);
		fcntl(sv[0], F_SETFL, 0);
		r = SYS(__NR_sendfile, sv[0], src, &off, 100000);
		if (r <= 0)
			die("copy_calls: sendfile to a blocking socket returned %ld", r);
		total += r;
		shutdown(sv[0], SHUT_WR);
		pthread_join(th, &drained);
		expect("the bytes the thread drained", (long)drained, total);
		say("sendfile to a full socket: %s\n", total == off ? "all drained" : "lost bytes");
	}
	close(sv[0]);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
	close(app);
	close(dst);
	close(src);
}

static void
copy_file_range_calls(int to_stdout)
{
	int src = make_file("csrc", 70000), dst, shm, p[2];
	char p2[4096];
	loff_t in = 100, out = 5;
	long r;

	path(p2, sizeof(p2), "cdst");
	dst = open(p2, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	lseek(src, 0, SEEK_SET);
	r = SYS6(__NR_copy_file_range, src, NULL, dst, NULL, 70000, 0);
	say("copy_file_range within a file system: %ld, positions %ld %ld, sum %016llx\n", r,
	    (long)lseek(src, 0, SEEK_CUR), (long)lseek(dst, 0, SEEK_CUR),
	    (unsigned long long)file_sum(dst, 70000));
	r = SYS6(__NR_copy_file_range, src, &in, dst, &out, 1000, 0);
	say("copy_file_range at offsets: %ld, offsets %ld %ld\n", r, (long)in, (long)out);
	snprintf(p2, sizeof(p2), "/dev/shm/copy_calls-%d", getpid());
	shm = open(p2, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	unlink(p2);
	lseek(src, 0, SEEK_SET);
	r = SYS6(__NR_copy_file_range, src, NULL, shm, NULL, 4096, 0);
	say("copy_file_range across file systems: %s\n", r == -EXDEV ? "EXDEV" : r == 4096 ? "copied" : "?");
	if (pipe2(p, O_CLOEXEC) < 0)
		die("copy_calls: pipe");
	expect("copy_file_range to a pipe", SYS6(__NR_copy_file_range, src, NULL, p[1], NULL, 10, 0),
	       -EINVAL);
	expect("copy_file_range with flags", SYS6(__NR_copy_file_range, src, NULL, dst, NULL, 10, 1),
	       -EINVAL);
	expect("copy_file_range from a bad fd", SYS6(__NR_copy_file_range, 999, NULL, dst, NULL, 10, 0),
	       -EBADF);
	/* FICLONE, FICLONERANGE: ext4 and tmpfs cannot */
	r = SYS(__NR_ioctl, dst, FICLONE, src, 0);
	say("FICLONE: %s\n", r == 0 ? "cloned" : strerror((int)-r));
	{
		struct file_clone_range fcr = { .src_fd = src, .src_offset = 0, .src_length = 4096,
						.dest_offset = 0 };

		r = SYS(__NR_ioctl, dst, FICLONERANGE, &fcr, 0);
		say("FICLONERANGE: %s\n", r == 0 ? "cloned" : strerror((int)-r));
	}
	r = SYS(__NR_ioctl, dst, FICLONE, 999, 0);
	say("FICLONE from a bad fd: %s\n", strerror((int)-r));
	if (to_stdout) {
		/* stdout a regular file: the bytes copied are uprr's output */
		in = 0;
		r = SYS6(__NR_copy_file_range, src, &in, 1, NULL, 40, 0);
		expect("copy_file_range to stdout", r, 40);
		expect("a newline", write(1, "\n", 1), 1);
		r = SYS6(__NR_copy_file_range, src, &in, 1, NULL, 26, 0);
		expect("copy_file_range to stdout again", r, 26);
		expect("a newline", write(1, "\n", 1), 1);
	}
	close(p[0]);
	close(p[1]);
	close(shm);
	close(dst);
	close(src);
}

static void
mkdirat_calls(void)
{
	char p2[4096];
	int dfd = open(g_dir, O_DIRECTORY | O_CLOEXEC);

	path(p2, sizeof(p2), "newdir");
	expect("mkdirat", SYS(__NR_mkdirat, AT_FDCWD, p2, 0700, 0), 0);
	expect("mkdirat of an existing one", SYS(__NR_mkdirat, AT_FDCWD, p2, 0700, 0), -EEXIST);
	expect("mkdirat under a dirfd", SYS(__NR_mkdirat, dfd, "newdir/sub", 0755, 0), 0);
	expect("mkdirat in a missing parent", SYS(__NR_mkdirat, dfd, "missing/sub", 0755, 0), -ENOENT);
	path(p2, sizeof(p2), "newdir/sub");
	{
		struct stat st;

		if (stat(p2, &st) < 0 || !S_ISDIR(st.st_mode))
			die("copy_calls: mkdirat made no directory");
		say("mkdirat: mode %o\n", st.st_mode & 0777 & ~0022);
	}
	/* what tar -x makes for every file: fchown, fchmod, utimensat */
	{
		struct timespec ts[2] = { { 1000000000, 5 }, { 1234567890, 123456789 } };
		struct stat st;
		int fd;

		path(p2, sizeof(p2), "newdir/file");
		fd = open(p2, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		expect("fchown", SYS(__NR_fchown, fd, getuid(), getgid(), 0), 0);
		expect("fchown of a bad fd", SYS(__NR_fchown, 999, 0, 0, 0), -EBADF);
		expect("fchmod", SYS(__NR_fchmod, fd, 0640, 0, 0), 0);
		expect("fchmod of a bad fd", SYS(__NR_fchmod, 999, 0640, 0, 0), -EBADF);
		expect("utimensat", SYS(__NR_utimensat, dfd, "newdir/file", ts, 0), 0);
		if (fstat(fd, &st) < 0)
			die("copy_calls: fstat");
		say("fchmod, utimensat: mode %o, mtime %ld.%09ld\n", st.st_mode & 0777, (long)st.st_mtim.tv_sec,
		    st.st_mtim.tv_nsec);
		ts[1].tv_sec = 1500000000;
		expect("utimensat of the fd (futimens)", SYS(__NR_utimensat, fd, NULL, ts, 0), 0);
		expect("utimensat of a missing file", SYS(__NR_utimensat, dfd, "missing", ts, 0), -ENOENT);
		expect("utimensat with bad flags", SYS(__NR_utimensat, dfd, "newdir/file", ts, 0x7777), -EINVAL);
		if (fstat(fd, &st) < 0)
			die("copy_calls: fstat");
		say("futimens: mtime %ld.%09ld\n", (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
		close(fd);
	}
	close(dfd);
}

static void
mapping_calls(void)
{
	const size_t len = 256 * 1024;
	int src = make_file("msrc", len);
	unsigned char *m;
	long r;
	uint64_t h = 0;

	m = (unsigned char *)SYS6(__NR_mmap, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
				  0);
	if ((long)m < 0 && (long)m > -4096)
		die("copy_calls: mmap returned %ld", (long)m);
	/* used: a file read into it (through the buffer), summed */
	for (size_t at = 0; at < len; at += (size_t)r) {
		r = SYS(__NR_pread64, src, m + at, 65536, at);
		if (r <= 0)
			die("copy_calls: pread64 into the mapping returned %ld", r);
	}
	say("mapped and read: sum %016llx\n", (unsigned long long)sum(m, len));
	expect("madvise MADV_DONTNEED", SYS(__NR_madvise, m + 4096, 4096, MADV_DONTNEED, 0), 0);
	expect("madvise MADV_WILLNEED", SYS(__NR_madvise, m, len, MADV_WILLNEED, 0), 0);
	expect("madvise MADV_FREE", SYS(__NR_madvise, m + 8192, 4096, MADV_FREE, 0), 0);
	say("after MADV_DONTNEED: page 1 %s, sum %016llx\n", m[4096] == 0 && m[8191] == 0 ? "zeros" : "kept",
	    (unsigned long long)(sum(m, 4096) ^ sum(m + 12288, len - 12288)));
	expect("munmap of part", SYS(__NR_munmap, m + len - 65536, 65536, 0, 0), 0);
	expect("munmap of the rest", SYS(__NR_munmap, m, len - 65536, 0, 0), 0);
	expect("munmap unaligned", SYS(__NR_munmap, m + 1, 4096, 0, 0), -EINVAL);
	r = SYS6(__NR_mmap, 0, 1ull << 45, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	expect("mmap of 32 TiB", r, -ENOMEM);
	/* more than one buffer holds: each pair written and summed */
	for (int i = 0; i < 3000; i++) {
		size_t n = 4096 * (size_t)(1 + i % 40);

		m = (unsigned char *)SYS6(__NR_mmap, 0, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
					  -1, 0);
		if ((long)m < 0 && (long)m > -4096)
			die("copy_calls: mmap %d returned %ld", i, (long)m);
		if (m[n - 1] != 0)
			die("copy_calls: a new mapping is not zeros");
		memset(m, i & 0xff, n);
		h = h * 31 + sum(m, n);
		expect("munmap", SYS(__NR_munmap, m, n, 0, 0), 0);
	}
	say("3000 mappings: sum %016llx\n", (unsigned long long)h);
	close(src);
}

static volatile sig_atomic_t g_sigpipes;

static void
on_sigpipe(int sig)
{
	(void)sig;
	g_sigpipes++;
}

/* A write and a sendfile to a pipe whose reader is gone: natively SIGPIPE's
 * handler runs before the call returns EPIPE. */
static void
sigpipe_calls(void)
{
	int p[2], src = make_file("psrc", 100);
	off_t off = 0;
	long r;
	int seen;

	signal(SIGPIPE, on_sigpipe);
	if (pipe2(p, O_CLOEXEC) < 0)
		die("copy_calls: pipe");
	close(p[0]);
	r = SYS(__NR_write, p[1], "x", 1, 0);
	seen = g_sigpipes;
	say("write to a closed pipe: %s, handler %s\n", r == -EPIPE ? "EPIPE" : "?",
	    seen == 1 ? "ran before it returned" : "not yet");
	r = SYS(__NR_sendfile, p[1], src, &off, 10);
	seen = g_sigpipes;
	say("sendfile to a closed pipe: %s, handler %s\n", r == -EPIPE ? "EPIPE" : "?",
	    seen == 2 ? "ran before it returned" : "not yet");
	signal(SIGPIPE, SIG_DFL);
	close(p[1]);
	close(src);
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		die("usage: copy_calls DIR [stdout-file]");
	g_dir = argv[1];
	find_library();
	sendfile_calls();
	copy_file_range_calls(argc > 2 && strcmp(argv[2], "stdout-file") == 0);
	mkdirat_calls();
	mapping_calls();
	/* last: a signal that came in user code has uprr take restore points
	 * from then on, and mappings go the traced way in those runs */
	sigpipe_calls();
	say("copy_calls: ok\n");
	return 0;
}
