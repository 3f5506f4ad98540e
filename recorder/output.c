/* SPDX-License-Identifier: MIT */
/*
 * Where a syscall's bytes go: uprr's own stdout or stderr (through any fd that
 * refers to them: dup, dup2, F_DUPFD, an inherited fd, /dev/stdout), or a
 * socket. Replay shows the first two again and `--dump-sent` collects the
 * third. Bytes that are not in the program's memory (sendfile, splice, tee,
 * copy_file_range, vmsplice, sendmmsg) are captured here into
 * TRACE_EV_OUTPUT events, since replay runs with the input files gone.
 */
#define LOG_PREFIX "record"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "recorder/record-private.h"
#include "recorder/recorder.h"
#include "trace/trace.h"
#include "tracee/tracee.h"

/* one TRACE_EV_OUTPUT record holds at most this many bytes */
#define OUTPUT_CHUNK (1u << 20)
/* offset of msg_len in struct mmsghdr (x86-64: a 56-byte msghdr first) */
#define MMSGHDR_LEN_OFF 56
#define MMSGHDR_SIZE 64

/* The fd syscall @nr sends its bytes to, or -1 for a syscall that sends none. */
static int
dest_fd(long nr, const uint64_t args[6])
{
	switch (nr) {
	case __NR_write: case __NR_writev: case __NR_pwrite64: case __NR_pwritev:
	case __NR_pwritev2: case __NR_sendto: case __NR_sendmsg: case __NR_sendmmsg:
	case __NR_sendfile: case __NR_vmsplice:
		return (int)args[0];
	case __NR_splice: case __NR_copy_file_range:
		return (int)args[2];
	case __NR_tee:
		return (int)args[1];
	default:
		return -1;
	}
}

/* Whether the bytes syscall @nr sends are in the program's memory, where
 * replay finds them (write, writev, pwrite*, sendto, sendmsg). */
static bool
in_memory(long nr)
{
	return sc_is_write(nr) || sc_is_send(nr);
}

/* uprr's own stdout and stderr, looked at once */
static struct stat own[2];
static bool own_ok[2], own_known;

/* Whether fd @fd of process @tid is the very open file uprr has as @own_fd
 * (kcmp(2) KCMP_FILE: 0 when equal): what dup and inheritance share. */
static bool
same_open_file(pid_t tid, int fd, int own_fd)
{
	return syscall(SYS_kcmp, getpid(), tid, KCMP_FILE, own_fd, fd) == 0;
}

/* What an fd refers to, as far as output goes: where its bytes show
 * (enum trace_output bits), and its file's type and identity (output
 * commit, record-hold.c). */
struct fd_kind {
	unsigned sinks;
	mode_t type; /* st_mode & S_IFMT */
	dev_t dev;
	ino_t ino;
};

static struct fd_kind fd_sinks(pid_t tid, int fd, bool *ret_open);

/*
 * Where recent fds led, so that a loop of writes pays the /proc lookup once:
 * what an fd refers to changes only through a syscall (close, dup2, exec...),
 * and every syscall that may close or replace an open fd empties the cache
 * at its entry (rec_output_entry, keeps_fds()), whichever thread makes it.
 * Untraced syscalls change no fd; one that runs in the kernel meanwhile
 * (accept) fills only free slots, which the cache never holds. A close the
 * syscall buffer made forgets its fd when its record is flushed
 * (rec_output_forget_fd), which a traced syscall's entry does before it
 * looks here.
 */
static struct {
	pid_t tid;
	int fd;
	struct fd_kind kind;
} sink_cache[16];
static size_t sink_cache_n, sink_cache_next;

/* What fd @fd of @tid refers to, from the cache or /proc; false (and
 * *ret zeroed) if it is not open. */
static bool
fd_kind(pid_t tid, int fd, struct fd_kind *ret)
{
	bool open;

	for (size_t i = 0; i < sink_cache_n; i++)
		if (sink_cache[i].tid == tid && sink_cache[i].fd == fd) {
			*ret = sink_cache[i].kind;
			return true;
		}
	*ret = fd_sinks(tid, fd, &open);
	if (!open)
		return false; /* a closed fd: a blocked accept may fill it */
	sink_cache[sink_cache_next].tid = tid;
	sink_cache[sink_cache_next].fd = fd;
	sink_cache[sink_cache_next].kind = *ret;
	sink_cache_next = (sink_cache_next + 1) % ARRAY_SIZE(sink_cache);
	sink_cache_n = MIN(sink_cache_n + 1, ARRAY_SIZE(sink_cache));
	return true;
}

unsigned
rec_output_fd_sinks(pid_t tid, int fd)
{
	struct fd_kind k;

	(void)fd_kind(tid, fd, &k);
	return k.sinks;
}

bool
rec_output_fd_file(pid_t tid, int fd, mode_t *ret_type, dev_t *ret_dev, ino_t *ret_ino)
{
	struct fd_kind k;

	if (!fd_kind(tid, fd, &k))
		return false;
	*ret_type = k.type;
	*ret_dev = k.dev;
	*ret_ino = k.ino;
	return true;
}

void
rec_output_forget_fd(int fd)
{
	/* any thread's: the threads of a process share their fds */
	for (size_t i = 0; i < sink_cache_n; i++)
		if (sink_cache[i].fd == fd)
			sink_cache[i].tid = 0;
}

/*
 * Whether syscall @nr never closes an open fd nor makes it refer to
 * another file: it waits, reads, asks, or fills only free fd slots (accept4,
 * recvmsg's SCM_RIGHTS, socket), which the sink cache never holds. A
 * server's traced calls between its writes are these (epoll_wait that
 * waits, a read that did not fit its buffer); emptying the cache at each
 * cost a stat of /proc/PID/fd/N per connection at every flush (a tenth of
 * uprr's time recording nginx under load).
 */
static bool
keeps_fds(long nr)
{
	switch (nr) {
	case __NR_read: case __NR_readv: case __NR_pread64: case __NR_preadv: case __NR_preadv2:
	case __NR_recvfrom: case __NR_recvmsg: case __NR_recvmmsg:
	case __NR_epoll_wait: case __NR_epoll_pwait: case __NR_epoll_pwait2: case __NR_epoll_ctl:
	case __NR_poll: case __NR_ppoll: case __NR_select: case __NR_pselect6:
	case __NR_futex: case __NR_nanosleep: case __NR_clock_nanosleep: case __NR_sched_yield:
	case __NR_accept: case __NR_accept4: case __NR_socket: case __NR_setsockopt:
	case __NR_getsockopt: case __NR_getsockname: case __NR_getpeername:
	case __NR_fstat: case __NR_newfstatat: case __NR_statx: case __NR_lseek:
	case __NR_getpid: case __NR_gettid: case __NR_clock_gettime: case __NR_gettimeofday:
	case __NR_getrandom: case __NR_mmap: case __NR_munmap: case __NR_madvise:
	case __NR_brk: case __NR_mprotect:
		return true;
	default:
		return false;
	}
}

static void
own_look(void)
{
	if (!own_known) {
		/* uprr's own stdout and stderr stay what they are */
		own_known = true;
		own_ok[0] = fstat(STDOUT_FILENO, &own[0]) == 0;
		own_ok[1] = fstat(STDERR_FILENO, &own[1]) == 0;
	}
}

unsigned
rec_output_file_sinks(uint64_t dev, uint64_t ino, int fd)
{
	bool out, err;

	own_look();
	out = own_ok[0] && S_ISREG(own[0].st_mode) && own[0].st_dev == dev && own[0].st_ino == ino;
	err = own_ok[1] && S_ISREG(own[1].st_mode) && own[1].st_dev == dev && own[1].st_ino == ino;
	if (out && err)
		out = fd != STDERR_FILENO, err = !out;
	return (out ? TRACE_OUT_STDOUT : 0) | (err ? TRACE_OUT_STDERR : 0);
}

/* Where fd @fd of thread @tid leads, looked up in /proc; whether it is
 * open in *ret_open. */
static struct fd_kind
fd_sinks(pid_t tid, int fd, bool *ret_open)
{
	struct fd_kind kind = { 0 };
	struct stat st;
	unsigned sinks = 0;
	bool out, err;

	*ret_open = false;
	if (fd < 0)
		return kind;
	own_look();
	/* the fd's file: /proc/PID/fd/N follows to the pipe, socket or file */
	if (tracee_fd_stat(tid, fd, &st) < 0)
		return kind; /* a bad fd (the syscall fails), or the thread vanished */
	*ret_open = true;
	kind.type = st.st_mode & S_IFMT;
	kind.dev = st.st_dev;
	kind.ino = st.st_ino;
	if (S_ISSOCK(st.st_mode))
		sinks |= TRACE_OUT_SOCKET;
	out = own_ok[0] && own[0].st_dev == st.st_dev && own[0].st_ino == st.st_ino;
	err = own_ok[1] && own[1].st_dev == st.st_dev && own[1].st_ino == st.st_ino;
	if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 1) {
		/* /dev/null and its kin (devices.txt: major 1, memory devices):
		 * a program's own 2>/dev/null is not uprr's output, even when
		 * uprr's is /dev/null too; only uprr's very open file is */
		out = out && same_open_file(tid, fd, STDOUT_FILENO);
		err = err && same_open_file(tid, fd, STDERR_FILENO);
	}
	if (out && err) {
		/* one file as both (2>&1, a terminal): the open file tells
		 * which, else the fd's number (/dev/stdout opens a new one) */
		bool o = same_open_file(tid, fd, STDOUT_FILENO);
		bool e = same_open_file(tid, fd, STDERR_FILENO);

		if (o != e)
			out = o, err = e;
		else
			out = fd != STDERR_FILENO, err = !out;
	}
	if (out)
		sinks |= TRACE_OUT_STDOUT;
	if (err)
		sinks |= TRACE_OUT_STDERR;
	kind.sinks = sinks;
	return kind;
}

int
rec_output_grab_fd(pid_t tgid, int fd)
{
	int pidfd, r;

	pidfd = (int)syscall(SYS_pidfd_open, tgid, 0);
	if (pidfd < 0)
		return -errno;
	r = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	r = r < 0 ? -errno : r;
	close(pidfd);
	return r;
}

/* @src, a copy of thread @tid's fd @fd, if it can be read; else (a sink open
 * for writing only: a shell's >) closed, and the file opened again for
 * reading through /proc/TID/fd/FD (proc(5)). Returns the fd or -errno. */
static int
readable(int src, pid_t tid, int fd)
{
	char path[64];

	if ((fcntl(src, F_GETFL) & O_ACCMODE) != O_WRONLY)
		return src;
	close(src);
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", tid, fd);
	src = open(path, O_RDONLY | O_CLOEXEC);
	return src < 0 ? -errno : src;
}

/*
 * Copy up to @len bytes queued in pipe @src without taking them, with tee(2)
 * into a pipe of our own as large as @src: what a splice or tee about to run
 * will move first. Returns the bytes copied into @o, or -errno.
 */
static int
peek_pipe(struct rec_output *o, int src, uint64_t len)
{
	int p[2], size;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	size = fcntl(src, F_GETPIPE_SZ);
	if (size > 0)
		(void)fcntl(p[1], F_SETPIPE_SZ, size);
	size = fcntl(p[1], F_GETPIPE_SZ);
	len = size > 0 ? MIN(len, (uint64_t)size) : MIN(len, 65536);
	n = tee(src, p[1], len, SPLICE_F_NONBLOCK);
	if (n > 0 && UTIL_GROW(o->peek, o->peek_cap, (size_t)n) == 0)
		n = read(p[0], o->peek, (size_t)n);
	else if (n > 0)
		n = -1, errno = ENOMEM;
	if (n < 0 && errno == EAGAIN)
		n = 0; /* an empty pipe: the syscall waits for bytes we do not see */
	n = n < 0 ? -errno : n;
	close(p[0]);
	close(p[1]);
	return (int)n;
}

/* The same from socket @src: recv(2) MSG_PEEK leaves them queued. */
static int
peek_socket(struct rec_output *o, int src, uint64_t len)
{
	ssize_t n;

	len = MIN(len, (uint64_t)OUTPUT_CHUNK * 16);
	if (UTIL_GROW(o->peek, o->peek_cap, len) < 0)
		return -ENOMEM;
	n = recv(src, o->peek, len, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	return n < 0 ? -errno : (int)n;
}

void
rec_output_entry(struct rec_output *o, pid_t tid, pid_t tgid, long nr, const uint64_t args[6])
{
	struct stat st;
	int src;

	o->npeek = 0;
	o->peeked = false;
	if (dest_fd(nr, args) < 0 && !keeps_fds(nr))
		sink_cache_n = sink_cache_next = 0; /* it may change what fds refer to */
	o->sinks = rec_output_fd_sinks(tid, dest_fd(nr, args));
	if (!o->sinks || (nr != __NR_splice && nr != __NR_tee))
		return;
	/* a pipe or socket source loses what splice takes: look first (a
	 * file's bytes are read back at the exit, where the count is known) */
	src = rec_output_grab_fd(tgid, (int)args[0]);
	if (src < 0)
		return;
	if (fstat(src, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) {
		int n = S_ISFIFO(st.st_mode) ? peek_pipe(o, src, args[4]) : peek_socket(o, src, args[4]);

		o->peeked = true;
		o->npeek = n > 0 ? (size_t)n : 0;
	}
	close(src);
}

/* Gather @count bytes from the ranges @rg of @tid's memory into @o->peek
 * at @off. Returns the bytes gathered. */
static size_t
gather(struct rec_output *o, pid_t tid, const struct sc_ranges *rg, size_t off, uint64_t count)
{
	size_t got = 0;

	for (size_t i = 0; i < rg->n && got < count; i++) {
		uint64_t len = MIN(rg->v[i].len, count - got);

		if (UTIL_GROW(o->peek, o->peek_cap, off + got + len) < 0 ||
		    tracee_read(tid, rg->v[i].addr, o->peek + off + got, len) < 0)
			break;
		got += len;
	}
	return got;
}

static int
mem_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	return tracee_read(*(pid_t *)ctx, addr, buf, len);
}

/* The bytes of the @nmsg messages sendmmsg(2) sent from the mmsghdr array
 * at @vec: each message's msg_len bytes from its iovecs. */
static size_t
gather_mmsg(struct rec_output *o, pid_t tid, uint64_t vec, uint64_t nmsg)
{
	struct sc_ranges rg = { 0 };
	size_t got = 0;

	for (uint64_t i = 0; i < nmsg; i++) {
		uint64_t hdr = vec + i * MMSGHDR_SIZE, args[6] = { 0, hdr };
		uint32_t len;

		rg.n = 0;
		if (tracee_read(tid, hdr + MMSGHDR_LEN_OFF, &len, sizeof(len)) < 0 ||
		    sc_inputs(__NR_sendmsg, args, mem_read, &tid, &rg) < 0)
			break;
		got += gather(o, tid, &rg, got, len);
	}
	sc_ranges_free(&rg);
	return got;
}

static int
add_output(struct trace_writer *w, pid_t tid, unsigned sinks, const void *data, size_t len,
	   uint64_t missing)
{
	struct trace_blob blob = { 0, (uint32_t)len, data };
	struct trace_event ev = { .type = TRACE_EV_OUTPUT, .tid = (uint32_t)tid, .nvalues = 2 };

	ev.values[0] = sinks;
	ev.values[1] = missing;
	ev.nblobs = len ? 1 : 0;
	ev.blobs = &blob;
	return trace_writer_add_event(w, &ev);
}

/*
 * Read back the @count bytes a syscall took from file fd @fd of @tgid, in
 * TRACE_EV_OUTPUT records: they start at the loff_t at @off_ptr (the kernel
 * advanced it past them) or, without it, at the file's offset (advanced
 * too). Returns the bytes kept in *ret_got; 0 or the writer's -errno.
 */
static int
read_back(struct rec_output *o, struct trace_writer *w, pid_t tid, pid_t tgid, int fd,
	  uint64_t off_ptr, uint64_t count, uint64_t *ret_got)
{
	int64_t end = -1;
	uint64_t got = 0;
	int src, r = 0;

	*ret_got = 0;
	if (UTIL_GROW(o->peek, o->peek_cap, MIN(count, OUTPUT_CHUNK)) < 0)
		return 0;
	src = rec_output_grab_fd(tgid, fd);
	if (src < 0)
		return 0;
	if (off_ptr && tracee_read(tid, off_ptr, &end, sizeof(end)) < 0)
		end = -1;
	else if (!off_ptr)
		end = lseek(src, 0, SEEK_CUR);
	src = readable(src, tid, fd);
	if (src < 0)
		return 0;
	while (r >= 0 && end >= (int64_t)count && got < count) {
		ssize_t n = pread(src, o->peek, MIN(count - got, OUTPUT_CHUNK),
				  end - (int64_t)count + (int64_t)got);

		if (n <= 0)
			break;
		r = add_output(w, tid, o->sinks, o->peek, (size_t)n, 0);
		got += (uint64_t)n;
	}
	close(src);
	*ret_got = got;
	return r;
}

ssize_t
rec_output_read_file(pid_t tid, pid_t tgid, int fd, uint64_t off, void *buf, size_t len)
{
	size_t got = 0;
	ssize_t n = 0;
	int src = rec_output_grab_fd(tgid, fd);

	if (src < 0)
		return src;
	src = readable(src, tid, fd);
	if (src < 0)
		return src;
	while (got < len && (n = pread(src, (uint8_t *)buf + got, len - got, (off_t)(off + got))) > 0)
		got += (size_t)n;
	n = n < 0 && !got ? -errno : (ssize_t)got;
	close(src);
	return n;
}

/* Whether fd @fd of @tgid is a regular file. */
static bool
is_file(pid_t tgid, int fd)
{
	struct stat st;
	int f = rec_output_grab_fd(tgid, fd);
	bool r;

	if (f < 0)
		return false;
	r = fstat(f, &st) == 0 && S_ISREG(st.st_mode);
	close(f);
	return r;
}

/* The bytes in @o->peek (@n of them) in TRACE_EV_OUTPUT records. */
static int
add_peeked(struct rec_output *o, struct trace_writer *w, pid_t tid, size_t n)
{
	int r = 0;

	for (size_t off = 0; r >= 0 && off < n; off += OUTPUT_CHUNK)
		r = add_output(w, tid, o->sinks, o->peek + off, MIN(n - off, OUTPUT_CHUNK), 0);
	return r;
}

int
rec_output_exit(struct rec_output *o, struct trace_writer *w, pid_t tid, pid_t tgid, long nr,
		const uint64_t args[6], int64_t result)
{
	uint64_t total = (uint64_t)result, got = 0;
	int r = 0;

	if (!o->sinks || result <= 0 || in_memory(nr))
		return 0;
	switch (nr) {
	case __NR_sendmmsg: /* the result counts messages */
		total = got = gather_mmsg(o, tid, args[1], (uint64_t)result);
		r = add_peeked(o, w, tid, got);
		break;
	case __NR_vmsplice: {
		struct sc_ranges rg = { 0 };
		uint64_t iov_args[6] = { args[0], args[1], args[2] };

		if (sc_inputs(__NR_writev, iov_args, mem_read, &tid, &rg) == 0)
			got = gather(o, tid, &rg, 0, total);
		sc_ranges_free(&rg);
		r = add_peeked(o, w, tid, got);
		break;
	}
	case __NR_sendfile:
		r = read_back(o, w, tid, tgid, (int)args[1], args[2], total, &got);
		break;
	case __NR_splice:
	case __NR_tee:
		if (o->peeked && o->npeek < total && nr == __NR_splice && is_file(tgid, (int)args[2])) {
			/* the pipe was short of them at entry (the splice waited
			 * for a writer): a file as stdout holds them */
			r = read_back(o, w, tid, tgid, (int)args[2], args[3], total, &got);
			break;
		}
		if (o->peeked) {
			got = MIN(o->npeek, total);
			r = add_peeked(o, w, tid, got);
			break;
		}
		r = read_back(o, w, tid, tgid, (int)args[0], args[1], total, &got);
		break;
	case __NR_copy_file_range:
		r = read_back(o, w, tid, tgid, (int)args[0], args[1], total, &got);
		break;
	default:
		return 0;
	}
	if (r >= 0 && got < total) {
		/* not silent: replay says how much it cannot show */
		log_warn("%" PRIu64 " of the %" PRIu64 " bytes thread %d sent to %s with %s could "
			 "not be captured; its replay will say so", total - got, total, tid,
			 o->sinks & TRACE_OUT_SOCKET ? "a socket" : "uprr's output",
			 sc_name(nr) ?: "?");
		r = add_output(w, tid, o->sinks, NULL, 0, total - got);
	}
	return r;
}

void
rec_output_free(struct rec_output *o)
{
	free(o->peek);
	*o = (struct rec_output){ 0 };
}
