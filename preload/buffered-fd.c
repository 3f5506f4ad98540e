/* SPDX-License-Identifier: MIT */
/*
 * The syscall buffer's fd and file calls (issue 14: what keeps find, cp
 * and python3 start-up on the ptrace path): openat (for reading or
 * writing, not under /proc, /dev, /sys), close, fcntl F_GETFD/F_SETFD/
 * F_GETFL/F_SETFL, access, faccessat, faccessat2, statx, pread64,
 * pwrite64, readv, preadv, getrandom, accept4 (a non-blocking socket),
 * sendfile, copy_file_range, ioctl FICLONE and FICLONERANGE, mkdirat,
 * fchmod, fchown, utimensat,
 * and the write path of write, writev and pwrite64 (uprr_fd_write(): a
 * regular file that refuses RWF_NOWAIT is written plainly). Called from
 * buffered() in syscallbuf.c, with the buffer locked. The same code runs
 * in replay, where the stub returns the recorded results: nothing here may
 * branch on whether it records or replays. See doc/syscall-buffer.md, "The fd calls".
 */
#include <asm/unistd.h>
#include <stddef.h>
#include <stdint.h>

#include "preload/preload-private.h"

/* include/uapi/asm-generic/fcntl.h, without libc's headers */
#define K_O_ACCMODE 03
#define K_O_NOCTTY 0400
#define K_O_NONBLOCK 04000
#define K_O_LARGEFILE 0100000
#define K_O_DIRECTORY 0200000
#define K_O_NOFOLLOW 0400000
#define K_O_CLOEXEC 02000000
#define K_F_GETFD 1
#define K_F_SETFD 2
#define K_F_GETFL 3
#define K_F_SETFL 4
#define K_F_DUPFD 0
#define K_F_DUPFD_CLOEXEC 1030
#define K_AT_SYMLINK_NOFOLLOW 0x100
#define K_STATX_SIZE 256
/* include/uapi/linux/random.h */
#define K_GRND_NONBLOCK 1
#define K_GRND_RANDOM 2
#define K_GRND_INSECURE 4
/* the size of x86-64's struct statfs (include/uapi/asm-generic/statfs.h);
 * f_type is its first field */
#define K_STATFS_SIZE 120
/* the most bytes of a socket address accept4 writes (struct sockaddr_storage) */
#define SOCKADDR_MAX 128

/* lseek(2)'s SEEK_CUR */
#define K_SEEK_CUR 1
/* The most bytes a buffered sendfile moves (it may move fewer than asked,
 * sendfile(2): its callers loop); several fit a buffer */
#define SENDFILE_MAX 65536u
/* utimensat(2)'s two struct timespecs */
#define K_UTIMES_SIZE 32
/* struct file_clone_range (include/uapi/linux/fs.h) */
#define K_CLONE_RANGE_SIZE 32

#define K_O_WRONLY 01
#define K_O_RDWR 02
#define K_O_CREAT 0100
#define K_O_EXCL 0200
#define K_O_TRUNC 01000
#define K_O_APPEND 02000

/* The flags a buffered openat may have: it waits for nothing; anything
 * else (O_PATH, O_TMPFILE, O_DIRECT, O_SYNC, O_ASYNC...) is traced. */
#define OPEN_FLAGS_OK (K_O_NOCTTY | K_O_NONBLOCK | K_O_LARGEFILE | K_O_DIRECTORY | K_O_NOFOLLOW | K_O_CLOEXEC)
/* Those of an open for writing, buffered unless a file is mapped shared
 * (UPRR_CTL_NO_WRITES: an O_TRUNC changes its pages) */
#define OPEN_WRITE_FLAGS (K_O_WRONLY | K_O_RDWR | K_O_CREAT | K_O_EXCL | K_O_TRUNC | K_O_APPEND)

/* Whether @path starts with the directory @dir ("/proc": "/proc" or "/proc/..."). */
static int
under(const char *path, const char *dir)
{
	while (*dir)
		if (*path++ != *dir++)
			return 0;
	return *path == '/' || *path == '\0';
}

/* Whether @path names something under /proc, /dev or /sys (by its
 * spelling: a relative path, a dirfd or a symlink is not followed); not
 * /dev/shm, a tmpfs of regular files (POSIX shared memory, and where
 * bench14's cp writes), whose device nodes the stat first would send to
 * the traced path anyway. */
static int
special_tree(const char *path)
{
	return under(path, "/proc") || (under(path, "/dev") && !under(path, "/dev/shm")) || under(path, "/sys");
}

static inline int
fd_marked(const struct uprr_buf *buf, long fd)
{
	return fd >= 0 && buf->used != 0 && (buf->fds_written[(fd >> 6) & 1] >> (fd & 63)) & 1;
}

void
uprr_fd_commit(struct uprr_buf *buf, long nr, long fd, long ret)
{
	if (buf->used == 0) {
		buf->fds_written[0] = 0;
		buf->fds_written[1] = 0;
	}
	if (ret > 0 && fd >= 0 &&
	    (nr == __NR_write || nr == __NR_writev || nr == __NR_sendto || nr == __NR_sendmsg ||
	     nr == __NR_pwrite64 || nr == __NR_sendfile || nr == __NR_copy_file_range ||
	     ((nr == __NR_read || nr == __NR_readv || nr == __NR_pread64) && ret >= UPRR_READ_REF_MIN)))
		buf->fds_written[(fd >> 6) & 1] |= 1ull << (fd & 63);
}

/* The total length of @n iovecs at @iov, or UINT64_MAX if it does not fit
 * a record. */
static uint64_t
iov_total(const struct kiovec *iov, long n)
{
	uint64_t total = 0;

	if (n <= 0 || n > UPRR_IOV_MAX)
		return UINT64_MAX;
	for (long i = 0; i < n; i++) {
		if (iov[i].len > UPRR_PRELOAD_REC_ROOM)
			return UINT64_MAX;
		total += iov[i].len;
	}
	return total;
}

uint64_t
uprr_fd_data_max(struct uprr_buf *buf, long nr, const long a[6])
{
	/* int arguments (flags, commands) are compared as the kernel takes
	 * them: their low 32 bits */
	switch (nr) {
	case __NR_openat:
		/* not where opening has effects the recorder may want to
		 * see (/proc, /dev, /sys); for writing only while no file is
		 * mapped shared (O_ACCMODE 3 is not O_WRONLY | O_RDWR: the
		 * kernel's "ioctl only" mode, traced) */
		if (((uint32_t)a[2] & ~(uint32_t)(OPEN_FLAGS_OK | OPEN_WRITE_FLAGS)) ||
		    ((uint32_t)a[2] & K_O_ACCMODE) == K_O_ACCMODE ||
		    (((uint32_t)a[2] & OPEN_WRITE_FLAGS) &&
		     (((const struct uprr_ctl *)UPRR_PRELOAD_CTL_ADDR)->flags & UPRR_CTL_NO_WRITES)) ||
		    !a[1] || special_tree((const char *)a[1]))
			return UINT64_MAX;
		/* a directory only: no wait (a FIFO fails with ENOTDIR);
		 * else a stat first, its result and struct stat in the data */
		return (a[2] & K_O_DIRECTORY) ? 0 : 8 + UPRR_STAT_SIZE;
	case __NR_close:
		/* bytes a record wrote to it go where it leads now: flush first */
		return fd_marked(buf, a[0]) ? UINT64_MAX : 0;
	case __NR_fcntl:
		/* F_DUPFD makes the lowest free fd at or above its argument:
		 * never one a record of this batch wrote to (those are open),
		 * so the fd rules cover it as openat (find's fts dups each
		 * directory fd) */
		return (((int)a[1] >= K_F_GETFD && (int)a[1] <= K_F_SETFL) || (int)a[1] == K_F_DUPFD ||
			(int)a[1] == K_F_DUPFD_CLOEXEC) ? 0 : UINT64_MAX;
	case __NR_access:
	case __NR_faccessat:
	case __NR_faccessat2:
		return 0;
	case __NR_fadvise64:
		/* a hint about the page cache, which nothing the program sees
		 * depends on: replay, whose stub returns the result, need not
		 * give it (cp gives one per file) */
		return 0;
	case __NR_statx:
		return a[4] ? K_STATX_SIZE : UINT64_MAX;
	case __NR_pread64:
		return a[3] >= 0 ? (uint64_t)a[2] : UINT64_MAX;
	case __NR_pwrite64:
		if ((((const struct uprr_ctl *)UPRR_PRELOAD_CTL_ADDR)->flags & UPRR_CTL_NO_WRITES) || a[3] < 0)
			return UINT64_MAX;
		return (uint64_t)a[2];
	case __NR_readv:
		return iov_total((const struct kiovec *)a[1], a[2]);
	case __NR_preadv:
		return a[3] >= 0 ? iov_total((const struct kiovec *)a[1], a[2]) : UINT64_MAX;
	case __NR_getrandom:
		if ((uint32_t)a[2] & ~(uint32_t)(K_GRND_NONBLOCK | K_GRND_RANDOM | K_GRND_INSECURE))
			return UINT64_MAX;
		return (uint64_t)a[1];
	case __NR_sendfile:
		/* from a file at an offset the program gives (without one,
		 * the file position would move by what was read, not sent),
		 * not to a file mapped shared (the recorder keeps its versions
		 * at traced writes); F_GETFL's and the read's results, the
		 * bytes, how they were written */
		if ((((const struct uprr_ctl *)UPRR_PRELOAD_CTL_ADDR)->flags & UPRR_CTL_NO_WRITES) || !a[2] ||
		    a[3] == 0)
			return UINT64_MAX;
		return 16 + align8((uint64_t)a[3] < SENDFILE_MAX ? (uint64_t)a[3] : SENDFILE_MAX) +
		       UPRR_WRITE_PROBE_SIZE;
	case __NR_copy_file_range:
		/* the offsets before (both), in and out (the kernel's) */
		if (((const struct uprr_ctl *)UPRR_PRELOAD_CTL_ADDR)->flags & UPRR_CTL_NO_WRITES)
			return UINT64_MAX;
		return 32;
	case __NR_ioctl:
		/* FICLONE, FICLONERANGE (a copy of its struct): the
		 * destination changes as by a write */
		if ((((const struct uprr_ctl *)UPRR_PRELOAD_CTL_ADDR)->flags & UPRR_CTL_NO_WRITES) ||
		    ((uint32_t)a[1] == UPRR_FICLONERANGE && !a[2]))
			return UINT64_MAX;
		return (uint32_t)a[1] == UPRR_FICLONERANGE ? K_CLONE_RANGE_SIZE : 0;
	case __NR_mkdirat:
		return a[1] && !special_tree((const char *)a[1]) ? 0 : UINT64_MAX;
	case __NR_fchmod:
	case __NR_fchown:
		return 0;
	case __NR_utimensat:
		/* a copy of its two timespecs, if any (a NULL path: the
		 * file of the fd, futimens(3)) */
		if (a[1] && special_tree((const char *)a[1]))
			return UINT64_MAX;
		return a[2] ? K_UTIMES_SIZE : 0;
	case __NR_accept4:
		/* F_GETFL's result, the address length in and out, the address */
		if (a[1] && !a[2])
			return UINT64_MAX;
		return 8 + (a[1] ? 8 + SOCKADDR_MAX : 0);
	default:
		return UINT64_MAX;
	}
}

long
uprr_fd_write(struct uprr_buf *buf, struct uprr_rec *rec, long fd, const void *base, uint64_t len, long off,
	      void *probe_at)
{
	struct uprr_write_probe *p = probe_at;
	struct kiovec iov = { base, len };
	unsigned char st[UPRR_STAT_SIZE];
	uint32_t sfs[K_STATFS_SIZE / 4];
	uint32_t mode;
	long ret;

	p->attempt = stub_in(buf, __NR_pwritev2, fd, (long)&iov, 1, off, off, UPRR_RWF_NOWAIT, &p->attempt);
	ret = p->attempt;
	if (ret != -UPRR_EOPNOTSUPP) {
		/* constants: the record is the same in replay */
		p->stat_ret = p->statfs_ret = 1;
		p->mode = p->fs_type = 0;
		p->dev = p->ino = 0;
		return ret;
	}
	/* refused: a regular file of an UPRR_PLAIN_FS(), by an fstat and an fstatfs
	 * whose results are in the record (in replay the stub makes neither:
	 * the mode and type stay the trace's, with no branch) */
	p->stat_ret = stub_in(buf, __NR_fstat, fd, (long)st, 0, 0, 0, 0, &p->stat_ret);
	p->statfs_ret = stub_in(buf, __NR_fstatfs, fd, (long)sfs, 0, 0, 0, 0, &p->statfs_ret);
	memcpy(&mode, st + K_STAT_MODE_OFF, sizeof(mode));
	recording_only32(buf, &p->mode, mode);
	recording_only32(buf, &p->fs_type, sfs[0]);
	recording_only(buf, &p->dev, *(const uint64_t *)(const void *)st);
	recording_only(buf, &p->ino, *(const uint64_t *)(const void *)(st + 8));
	if (UPRR_WRITE_PLAIN(p))
		ret = stub_in(buf, __NR_pwritev2, fd, (long)&iov, 1, off, off, 0, &rec->ret);
	return ret;
}

/* A write probe for a write not made: constants, the same in replay. */
static void
probe_none(struct uprr_write_probe *p)
{
	p->attempt = 0;
	p->stat_ret = p->statfs_ret = 1;
	p->mode = p->fs_type = 0;
	p->dev = p->ino = 0;
}

/*
 * sendfile(2) from a file at *@a[2], made so that it cannot wait: the
 * bytes read into the record (preadv2 RWF_NOWAIT at the offset: a file
 * whose pages are not cached, or a pipe or socket as the source, takes
 * the traced call), then written as write(2) is (uprr_fd_write(): a
 * socket or pipe with RWF_NOWAIT, a local regular file plainly; EAGAIN or
 * a file that refuses both: the traced call, which sends them itself;
 * nothing was taken). The bytes sent are in the record, where the
 * recorder finds what went to uprr's output or a socket. An out fd open
 * O_APPEND (EINVAL to sendfile) or not for writing takes the traced call.
 */
static long
fd_sendfile(struct uprr_buf *buf, struct uprr_rec *rec, const long a[6], uint32_t size)
{
	int64_t *getfl = (int64_t *)(rec + 1), *got = getfl + 1;
	unsigned char *bytes = (unsigned char *)(got + 1);
	uint64_t cap = (uint64_t)a[3] < SENDFILE_MAX ? (uint64_t)a[3] : SENDFILE_MAX;
	struct uprr_write_probe *p = (struct uprr_write_probe *)((unsigned char *)rec + size - UPRR_WRITE_PROBE_SIZE);
	int64_t off = *(const int64_t *)a[2];
	struct kiovec iov = { bytes, cap };
	long ret;

	/* (a slot the stub returns from is not written before it: in
	 * replay it holds the recorded result) */
	*getfl = stub_in(buf, __NR_fcntl, a[0], K_F_GETFL, 0, 0, 0, 0, getfl);
	if (*getfl >= 0 && !(*getfl & K_O_APPEND) && (*getfl & K_O_ACCMODE) != 0)
		*got = stub_in(buf, __NR_preadv2, a[1], (long)&iov, 1, off, 0, UPRR_RWF_NOWAIT, got);
	else
		*got = -UPRR_EAGAIN;
	ret = *got;
	if (*got > 0)
		ret = uprr_fd_write(buf, rec, a[0], bytes, (uint64_t)*got, -1, p);
	else
		probe_none(p);
	uprr_commit(buf, rec, __NR_sendfile, UPRR_WRITE_PLAIN(p) ? -1 : a[0], ret, size);
	/* EPIPE: its SIGPIPE comes at the traced call (syscallbuf.c) */
	if (*got < 0 || ret == -UPRR_EAGAIN || ret == -UPRR_EOPNOTSUPP || ret == -UPRR_EPIPE)
		return NOT_BUFFERED; /* the program's call, traced (uprr_fd_call()) */
	if (ret > 0)
		*(int64_t *)a[2] = off + ret;
	return ret;
}

/*
 * copy_file_range(2), whose result (EXDEV, EOPNOTSUPP, EINVAL across file
 * systems: cp's first try) and offsets are the record's. Data: the
 * offsets before the call (*off_in, -1 without it; *off_out, or the out
 * file's position from an lseek: where the recorder reads back bytes that
 * went to uprr's output), then the two the kernel reads and writes
 * (recording_only(): the recorded ones stay in replay).
 */
static long
fd_copy_file_range(struct uprr_buf *buf, struct uprr_rec *rec, const long a[6], uint32_t size)
{
	int64_t *s = (int64_t *)(rec + 1);
	long ret;

	s[0] = a[1] ? *(const int64_t *)a[1] : -1;
	if (a[3])
		s[1] = *(const int64_t *)a[3];
	else
		s[1] = stub_in(buf, __NR_lseek, a[2], 0, K_SEEK_CUR, 0, 0, 0, &s[1]);
	if (a[1])
		recording_only(buf, (uint64_t *)&s[2], (uint64_t)s[0]);
	else
		s[2] = 0;
	if (a[3])
		recording_only(buf, (uint64_t *)&s[3], (uint64_t)s[1]);
	else
		s[3] = 0;
	ret = stub_in(buf, __NR_copy_file_range, a[0], a[1] ? (long)&s[2] : 0, a[2], a[3] ? (long)&s[3] : 0,
		      a[4], a[5], &rec->ret);
	if (ret > 0 && a[1])
		*(int64_t *)a[1] = s[2];
	if (ret > 0 && a[3])
		*(int64_t *)a[3] = s[3];
	return uprr_commit(buf, rec, __NR_copy_file_range, a[2], ret, size);
}

/* Scatter @n bytes at @src over the @niov iovecs at @iov. */
static void
scatter(const struct kiovec *iov, long niov, const unsigned char *src, uint64_t n)
{
	for (long i = 0; i < niov && n; i++) {
		uint64_t len = iov[i].len < n ? iov[i].len : n;

		memcpy((void *)iov[i].base, src, (size_t)len);
		src += len;
		n -= len;
	}
}

/*
 * Record layouts (the data after struct uprr_rec):
 *   openat without O_DIRECTORY: newfstatat's result (int64), its struct stat;
 *   statx: the struct statx; pread64, readv, preadv, getrandom: ret bytes;
 *   pwrite64: the bytes passed (the kernel took ret), padded to 8, then
 *   a struct uprr_write_probe (uprr_fd_write());
 *   sendfile: F_GETFL's result of the out fd and the read's (int64 each),
 *   the bytes read (the first ret of them sent), padded to 8, then a
 *   struct uprr_write_probe (fd_sendfile());
 *   copy_file_range: four int64 (fd_copy_file_range());
 *   ioctl FICLONERANGE: its struct file_clone_range;
 *   utimensat with times: its two struct timespecs;
 *   accept4: F_GETFL's result (int64), then with an address the length
 *   passed in and the one the kernel wrote (uint32 each), the address;
 *   the others: none.
 */
long
uprr_fd_call(struct uprr_buf *buf, struct uprr_rec *rec, long nr, const long a[6], uint32_t size)
{
	unsigned char *data = (unsigned char *)(rec + 1);
	int64_t *probe = (int64_t *)data;
	struct kiovec iov;
	long ret, rest;

	switch (nr) {
	case __NR_openat:
		if (!(a[2] & K_O_DIRECTORY)) {
			/* An open that may wait (a FIFO without a writer, a
			 * device) is traced: only a regular file or a directory
			 * (or a path stat cannot follow, where openat fails
			 * too) is opened here. */
			uint32_t mode;

			*probe = stub_in(buf, __NR_newfstatat, a[0], a[1], (long)(data + 8),
					       (a[2] & K_O_NOFOLLOW) ? K_AT_SYMLINK_NOFOLLOW : 0, 0, 0, probe);
			memcpy(&mode, data + 8 + K_STAT_MODE_OFF, sizeof(mode));
			if (*probe == 0 && (mode & K_S_IFMT) != K_S_IFREG && (mode & K_S_IFMT) != K_S_IFDIR) {
				uprr_commit(buf, rec, nr, -1, -UPRR_EAGAIN, size);
				return NOT_BUFFERED;
			}
		}
		ret = stub_in(buf, nr, a[0], a[1], a[2], a[3], 0, 0, &rec->ret);
		return uprr_commit(buf, rec, nr, -1, ret, size);
	case __NR_close:
		ret = stub_in(buf, nr, a[0], 0, 0, 0, 0, 0, &rec->ret);
		return uprr_commit(buf, rec, nr, -1, ret, size);
	case __NR_sendfile:
		return fd_sendfile(buf, rec, a, size);
	case __NR_copy_file_range:
		return fd_copy_file_range(buf, rec, a, size);
	case __NR_ioctl:
		/* FICLONE, FICLONERANGE: the kernel reads the range from the
		 * record's copy (checked in replay) */
		if ((uint32_t)a[1] == UPRR_FICLONERANGE)
			memcpy(data, (const void *)a[2], K_CLONE_RANGE_SIZE);
		ret = stub_in(buf, nr, a[0], a[1], (uint32_t)a[1] == UPRR_FICLONERANGE ? (long)data : a[2], 0, 0, 0,
			      &rec->ret);
		return uprr_commit(buf, rec, nr, -1, ret, size);
	case __NR_mkdirat:
	case __NR_fchmod:
	case __NR_fchown:
		ret = stub_in(buf, nr, a[0], a[1], a[2], 0, 0, 0, &rec->ret);
		return uprr_commit(buf, rec, nr, -1, ret, size);
	case __NR_utimensat:
		/* the kernel reads the times from the record's copy (checked
		 * in replay) */
		if (a[2])
			memcpy(data, (const void *)a[2], K_UTIMES_SIZE);
		ret = stub_in(buf, nr, a[0], a[1], a[2] ? (long)data : 0, a[3], 0, 0, &rec->ret);
		return uprr_commit(buf, rec, nr, -1, ret, size);
	case __NR_fcntl:
	case __NR_access:
	case __NR_faccessat:
	case __NR_faccessat2:
	case __NR_fadvise64:
		ret = stub_in(buf, nr, a[0], a[1], a[2], a[3], 0, 0, &rec->ret);
		return uprr_commit(buf, rec, nr, -1, ret, size);
	case __NR_statx:
		ret = stub_in(buf, nr, a[0], a[1], a[2], a[3], (long)data, 0, &rec->ret);
		if (ret == 0)
			memcpy((void *)a[4], data, K_STATX_SIZE);
		return uprr_commit(buf, rec, nr, -1, ret, size);
	case __NR_getrandom:
		/* never wait for the pool here: the traced call waits */
		ret = stub_in(buf, nr, (long)data, a[1], a[2] | K_GRND_NONBLOCK, 0, 0, 0, &rec->ret);
		if (ret > 0)
			memcpy((void *)a[0], data, (size_t)ret);
		uprr_commit(buf, rec, nr, -1, ret, (uint32_t)sizeof(*rec) + align8(ret > 0 ? (uint64_t)ret : 0));
		if (ret == -UPRR_EAGAIN && !(a[2] & K_GRND_NONBLOCK))
			return NOT_BUFFERED;
		return ret;
	case __NR_pread64:
	case __NR_readv:
	case __NR_preadv: {
		/* as read: one attempt that does not wait (RWF_NOWAIT), into
		 * the record; the traced call if it would */
		uint64_t len = nr == __NR_pread64 ? (uint64_t)a[2] : iov_total((const struct kiovec *)a[1], a[2]);
		long off = nr == __NR_readv ? -1 : a[3];

		iov = (struct kiovec){ data, len };
		ret = stub_in(buf, __NR_preadv2, a[0], (long)&iov, 1, off, 0, UPRR_RWF_NOWAIT, &rec->ret);
		if (ret > 0 && nr == __NR_pread64)
			memcpy((void *)a[1], data, (size_t)ret);
		else if (ret > 0)
			scatter((const struct kiovec *)a[1], a[2], data, (uint64_t)ret);
		/* a read of a file may be kept by reference: marks the fd */
		uprr_commit(buf, rec, nr, nr == __NR_preadv ? -1 : a[0], ret,
			    (uint32_t)sizeof(*rec) + align8(ret > 0 ? (uint64_t)ret : 0));
		if (ret == -UPRR_EAGAIN || ret == -UPRR_EOPNOTSUPP)
			return NOT_BUFFERED;
		return ret;
	}
	case __NR_pwrite64:
		memcpy(data, (const void *)a[1], (size_t)a[2]);
		ret = uprr_fd_write(buf, rec, a[0], data, (uint64_t)a[2], a[3], data + align8((uint64_t)a[2]));
		uprr_commit(buf, rec, nr, UPRR_WRITE_PLAIN((struct uprr_write_probe *)(data + align8((uint64_t)a[2]))) ? -1 : a[0],
		       ret, size);
		if (ret == -UPRR_EAGAIN || ret == -UPRR_EOPNOTSUPP)
			return NOT_BUFFERED;
		if (ret > 0 && ret < a[2]) {
			/* a blocking pwrite takes all: the rest waits traced */
			rest = uprr_traced(nr, a[0], a[1] + ret, a[2] - ret, a[3] + ret, 0, 0);
			if (rest > 0)
				ret += rest;
		}
		return ret;
	case __NR_accept4: {
		/* Only on a socket that does not wait (O_NONBLOCK, by an
		 * F_GETFL made here): accept4 has no per-call flag not to
		 * wait, and a poll first could race another process's accept
		 * and then wait here. A blocking socket's accept is traced. */
		uint32_t *len_in = (uint32_t *)(data + 8), *len_out = len_in + 1;
		unsigned char *addr = data + 16;

		*probe = stub_in(buf, __NR_fcntl, a[0], K_F_GETFL, 0, 0, 0, 0, probe);
		if (*probe < 0 || !(*probe & K_O_NONBLOCK)) {
			uprr_commit(buf, rec, nr, -1, -UPRR_EAGAIN, size);
			return NOT_BUFFERED;
		}
		if (a[1]) {
			*len_in = *(const uint32_t *)a[2];
			/* the kernel's length in and out in one place: the
			 * input is put there in recording only, so the
			 * recorded output stays in replay */
			recording_only32(buf, len_out,
					 (int32_t)*len_in >= 0 && *len_in > SOCKADDR_MAX ? SOCKADDR_MAX : *len_in);
		}
		ret = stub_in(buf, nr, a[0], a[1] ? (long)addr : 0, a[1] ? (long)len_out : 0, a[3], 0, 0,
			      &rec->ret);
		if (ret >= 0 && a[1]) {
			uint32_t n = *len_out < *len_in ? *len_out : *len_in;

			memcpy((void *)a[1], addr, n < SOCKADDR_MAX ? n : SOCKADDR_MAX);
			*(uint32_t *)a[2] = *len_out;
		}
		return uprr_commit(buf, rec, nr, -1, ret, size);
	}
	default:
		return NOT_BUFFERED;
	}
}
