/* SPDX-License-Identifier: MIT */
/*
 * Output commit in a TP run (doc/uniparallel.md, "Output commit"): a
 * write, writev, vmsplice, sendto or sendmsg to a destination outside the
 * recording is not run. Its bytes are read from the tracee and handed to
 * the holder (tp/output.h) with a dup of the program's fd, tagged with the
 * current epoch, and the call returns what the kernel returns for a full
 * write: the count. A sendfile or splice from a regular file reads the
 * file instead (its offset, or the loff_t the call names, advanced as the
 * kernel would), and a splice or tee from a pipe takes (or copies) what the
 * pipe holds. A shutdown(2) of such a socket for writing is held after them
 * (live, it would end the stream before them). The TP log logs that
 * result, and the EP run answers the call from the log as any other.
 *
 * Outside the recording: a terminal, a FIFO or pipe the recording did not
 * make with pipe(2) or pipe2(2) and no recorded process opened for reading
 * (uprr's stdout piped to another process, a named FIFO read by another
 * program; fifo_reader()), a connected socket that is not one of a socketpair(2) the
 * recording made and whose peer is not held by a recorded process
 * (peer_recorded()). Not held: regular files (the program may read them back), other
 * devices, pwrite(2) (a pipe, socket or terminal has no offset: ESPIPE,
 * left to the kernel), copy_file_range(2) (files only), and any call the
 * kernel would fail at once (a bad fd, an fd not open for writing, an
 * unconnected socket, a bad buffer). Shown at once though outside, said
 * once (it may come before output held earlier): a send with an address,
 * control data (SCM_RIGHTS) or flags other than MSG_DONTWAIT, MSG_NOSIGNAL
 * and MSG_MORE, sendmmsg, a splice or tee from a socket or an empty pipe.
 */
#define LOG_PREFIX "record"
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "ep/ep.h"
#include "recorder/record-private.h"
#include "recorder/recorder.h"
#include "tracee/tracee.h"

/* The most a write(2) moves at once (MAX_RW_COUNT, include/linux/fs.h:
 * INT_MAX rounded down to a page): what a full write returns at most. */
#define HOLD_RW_MAX 0x7ffff000ull
/* The send flags a held write may have: none changes what is sent. */
#define HOLD_MSG_FLAGS (MSG_DONTWAIT | MSG_NOSIGNAL | MSG_MORE)
/* x86-64's struct msghdr: msg_name, msg_namelen, msg_iov, msg_iovlen,
 * msg_control, msg_controllen, msg_flags (56 bytes) */
struct k_msghdr {
	uint64_t name;
	uint32_t namelen, pad;
	uint64_t iov, iovlen, control, controllen;
	int32_t flags, pad2;
};

void
rec_hold_init(struct recorder *rec, const struct rec_options *opts)
{
	rec->hold = (struct rec_hold){ .holder = opts->output };
	/* a buffered write or send would be written at once, unheld: they
	 * leave the syscall buffers from the start (UPRR_CTL_NO_WRITES); in
	 * any TP run, too, so that each carries a number in the order of
	 * shared-state calls, which a numbered read of a pipe or socket
	 * (UPRR_CTL_ORDER_READS) comes after in the EP run; but a write to
	 * /dev/null, which neither needs (preload/syscallbuf.c) */
	if (opts->output || opts->tp_log)
		rec->sb.no_writes = true;
}

static bool in_set(const struct file_key *set, size_t n, dev_t dev, ino_t ino);
static int add_to_set(struct file_key **set, size_t *n, size_t *cap, dev_t dev, ino_t ino);

/* Whether the pipe or socket @dev:@ino stays inside the recording. */
static bool
made_here(const struct rec_hold *h, dev_t dev, ino_t ino)
{
	return in_set(h->made, h->nmade, dev, ino);
}

bool
rec_hold_made_inside(const struct recorder *rec, dev_t dev, ino_t ino)
{
	return made_here(&rec->hold, dev, ino);
}

/*
 * At @t's open, openat or openat2 entry: a FIFO opened for reading (or
 * both ways) by a recorded process stays inside the recording, its writers'
 * writes live (fifo_open: a thread reads what another of its process
 * writes; held, that read would wait for ever). Noted at the entry, before
 * the kernel runs it: fifo(7)'s open for writing returns once a reader is
 * in its open, maybe before that open returns and its fd is in
 * /proc/PID/fd. Returns 0, or -ENOMEM.
 */
static int
note_fifo_reader(struct recorder *rec, const struct rthread *t)
{
	struct rec_hold *h = &rec->hold;
	char name[PATH_MAX], path[PATH_MAX + 64];
	uint64_t flags, at = t->args[1];
	int dirfd = (int)t->args[0];
	struct stat st;

	switch (t->nr) {
	case __NR_open:
		at = t->args[0], dirfd = AT_FDCWD, flags = t->args[1];
		break;
	case __NR_openat:
		flags = t->args[2];
		break;
	case __NR_openat2:
		/* struct open_how's first field (include/uapi/linux/openat2.h) */
		if (tracee_read(t->tid, t->args[2], &flags, sizeof(flags)) < 0)
			return 0;
		break;
	default:
		return 0;
	}
	if ((flags & O_ACCMODE) == O_WRONLY || (flags & O_PATH) ||
	    tracee_read_string(t->tid, at, name, sizeof(name)) < 0 || !name[0])
		return 0; /* the kernel fails a bad path; O_PATH reads nothing */
	/* the path as the tracee sees it: its root, cwd or dirfd (proc(5)) */
	if (name[0] == '/')
		snprintf(path, sizeof(path), "/proc/%d/root%s", t->tid, name);
	else if (dirfd == AT_FDCWD)
		snprintf(path, sizeof(path), "/proc/%d/cwd/%s", t->tid, name);
	else
		snprintf(path, sizeof(path), "/proc/%d/fd/%d/%s", t->tid, dirfd, name);
	if (stat(path, &st) < 0 || !S_ISFIFO(st.st_mode) || made_here(h, st.st_dev, st.st_ino))
		return 0;
	return add_to_set(&h->made, &h->nmade, &h->made_cap, st.st_dev, st.st_ino);
}

/* Whether @match(@arg, tgid, fd name) holds for an fd of a recorded
 * process (/proc/PID/fd, each process once). */
static bool
any_recorded_fd(struct recorder *rec, bool (*match)(void *arg, pid_t tgid, const char *fd),
		void *arg)
{
	char path[64];

	for (size_t i = 0; i < rec->nthreads; i++) {
		const struct rthread *t = &rec->threads[i];
		struct dirent *de;
		bool seen = false, found = false;
		DIR *d;

		/* each process once: its leader's entry, or its first thread's */
		for (size_t j = 0; j < i && !seen; j++)
			seen = rec->threads[j].tgid == t->tgid;
		snprintf(path, sizeof(path), "/proc/%d/fd", t->tgid);
		if (seen || !(d = opendir(path)))
			continue;
		while (!found && (de = readdir(d)))
			found = de->d_name[0] != '.' && match(arg, t->tgid, de->d_name);
		closedir(d);
		if (found)
			return true;
	}
	return false;
}

/* any_recorded_fd()'s match for fifo_reader(): the fd names FIFO *@arg
 * (dev, ino) and its /proc/PID/fdinfo flags are not O_WRONLY. */
static bool
reads_fifo(void *arg, pid_t tgid, const char *fd)
{
	const struct file_key *k = arg;
	struct stat st;
	int fl;

	if (tracee_fd_stat(tgid, atoi(fd), &st) < 0 || st.st_dev != k->dev || st.st_ino != k->ino)
		return false;
	if (tracee_fdinfo(tgid, atoi(fd), NULL, &fl) < 0)
		return false;
	return (fl & O_ACCMODE) != O_WRONLY;
}

/*
 * Whether a recorded process holds FIFO or pipe @dev:@ino open for reading
 * (an fd in /proc/PID/fd naming it whose /proc/PID/fdinfo flags are not
 * O_WRONLY, proc(5)): inherited, or passed to it, not opened in the
 * recording (note_fifo_reader() saw those).
 */
static bool
fifo_reader(struct recorder *rec, dev_t dev, ino_t ino)
{
	struct file_key k = { dev, ino };

	return any_recorded_fd(rec, reads_fifo, &k);
}

void
rec_hold_exit(struct recorder *rec, struct rthread *t, int64_t result)
{
	struct rec_hold *h = &rec->hold;
	uint64_t fds_at;
	int fds[2];

	if (!h->holder || result != 0)
		return;
	switch (t->nr) {
	case __NR_pipe:
	case __NR_pipe2:
		fds_at = t->args[0];
		break;
	case __NR_socketpair:
		fds_at = t->args[3];
		break;
	default:
		return;
	}
	if (tracee_read(t->tid, fds_at, fds, sizeof(fds)) < 0)
		return;
	for (int i = 0; i < 2; i++) {
		mode_t type;
		dev_t dev;
		ino_t ino;

		/* a socket pair's two ends are two inodes; a pipe's, one */
		if (!rec_output_fd_file(t->tid, fds[i], &type, &dev, &ino) || made_here(h, dev, ino))
			continue;
		if (add_to_set(&h->made, &h->nmade, &h->made_cap, dev, ino) < 0) {
			rec_stop_recording(rec, "%s", "out of memory");
			return;
		}
	}
}

/* any_recorded_fd()'s match for socket_recorded(): the fd's link reads
 * @arg ("socket:[INODE]"). */
static bool
names_socket(void *arg, pid_t tgid, const char *fd)
{
	char path[64], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%.16s", tgid, fd);
	n = readlink(path, link, sizeof(link) - 1);
	return n > 0 && (link[n] = '\0', strcmp(link, arg) == 0);
}

/* Whether a recorded process has socket inode @ino open (its fds' links
 * in /proc/PID/fd read "socket:[INODE]", proc(5)). */
static bool
socket_recorded(struct recorder *rec, unsigned long ino)
{
	char want[40];

	snprintf(want, sizeof(want), "socket:[%lu]", ino);
	return any_recorded_fd(rec, names_socket, want);
}

/* @a as /proc/net/tcp{,6} print an address (proc(5): the address's bytes
 * as 32-bit words in hex, in host order, then the port), into @buf; with
 * @v4, an IPv4-mapped IPv6 address as its IPv4 one. */
static void
net_address(const struct sockaddr_storage *a, bool v4, char *buf, size_t len)
{
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)a;

		snprintf(buf, len, "%08X:%04X", in->sin_addr.s_addr, ntohs(in->sin_port));
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)a;
		const uint32_t *w = in6->sin6_addr.s6_addr32;

		if (v4)
			snprintf(buf, len, "%08X:%04X", w[3], ntohs(in6->sin6_port));
		else
			snprintf(buf, len, "%08X%08X%08X%08X:%04X", w[0], w[1], w[2], w[3],
				 ntohs(in6->sin6_port));
	}
}

/*
 * Whether the TCP connection from @mine to @peer ends in a socket a
 * recorded process holds: the entry of /proc/net/tcp (@v6: tcp6) whose
 * local address is @peer and remote one @mine (accepted, or the client's),
 * or, not accepted yet (no inode), the socket listening on @peer's port.
 */
static bool
tcp_peer_recorded(struct recorder *rec, const struct sockaddr_storage *mine,
		  const struct sockaddr_storage *peer, bool v6)
{
	char want_local[64], want_remote[64], line[512];
	unsigned long ino = 0, listener = 0;
	bool v4 = !v6 && peer->ss_family == AF_INET6;
	FILE *f = fopen(v6 ? "/proc/net/tcp6" : "/proc/net/tcp", "re");

	if (!f)
		return false;
	net_address(peer, v4, want_local, sizeof(want_local));
	net_address(mine, v4, want_remote, sizeof(want_remote));
	while (fgets(line, sizeof(line), f)) {
		char local[64], remote[64];
		unsigned st;
		unsigned long i;
		const char *lport, *wport;

		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line, " %*u: %63[0-9A-F:] %63[0-9A-F:] %x %*s %*s %*s %*u %*u %lu", local,
			   remote, &st, &i) != 4)
			continue;
		if (!strcmp(local, want_local) && !strcmp(remote, want_remote) && i)
			ino = i;
		lport = strrchr(local, ':');
		wport = strrchr(want_local, ':');
		/* TCP_LISTEN (include/net/tcp_states.h), on @peer's address or
		 * on every address (zeros) */
		if (st == 0x0A && lport && wport && !strcmp(lport, wport) &&
		    (!strncmp(local, want_local, (size_t)(wport - want_local)) ||
		     strspn(local, "0") == (size_t)(lport - local)))
			listener = i;
	}
	fclose(f);
	return socket_recorded(rec, ino ? ino : listener);
}

/* Whether the socket @dup, connected to @peer, ends in a recorded process:
 * a socket pair's other end it holds (SO_PEERCRED of an AF_UNIX socket:
 * the peer's pid), or a TCP connection's (tcp_peer_recorded()). */
static bool
peer_recorded(struct recorder *rec, int dup, const struct sockaddr_storage *peer)
{
	struct sockaddr_storage mine;
	socklen_t len = sizeof(mine);
	struct ucred cred = { 0 };
	socklen_t clen = sizeof(cred);
	int type = 0;
	socklen_t tlen = sizeof(type);

	if (peer->ss_family == AF_UNIX)
		return getsockopt(dup, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0 && cred.pid > 0 &&
		       rec_find_thread(rec, cred.pid);
	if ((peer->ss_family != AF_INET && peer->ss_family != AF_INET6) ||
	    getsockopt(dup, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 || type != SOCK_STREAM ||
	    getsockname(dup, (struct sockaddr *)&mine, &len) < 0)
		return false; /* UDP, and other families: outside */
	return tcp_peer_recorded(rec, &mine, peer, peer->ss_family == AF_INET6) ||
	       (peer->ss_family == AF_INET6 && tcp_peer_recorded(rec, &mine, peer, false));
}

/* Where a destination leads (external()). */
enum {
	DEST_LIVE,    /* run live: the kernel fails the write, or not an output */
	DEST_INSIDE,  /* a socket connected to a recorded process: live */
	DEST_OUTSIDE, /* held */
};

/*
 * Where @dup, a dup of a recorded fd of type @type (file @dev:@ino), leads:
 * outside the recording, taking a write as it stands, are a terminal, a
 * FIFO or pipe no recorded process reads (the recording's own pipes, and
 * the FIFOs it opened for reading, were looked at already), a connected
 * socket whose peer is not recorded. Returns DEST_*.
 */
static int
external(struct recorder *rec, int dup, mode_t type, dev_t dev, ino_t ino)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);

	if (type == S_IFCHR)
		return isatty(dup) ? DEST_OUTSIDE : DEST_LIVE; /* not /dev/null and its kin */
	if (type == S_IFIFO)
		return fifo_reader(rec, dev, ino) ? DEST_INSIDE : DEST_OUTSIDE;
	/* unconnected: the kernel fails it (ENOTCONN, EDESTADDRREQ) */
	if (getpeername(dup, (struct sockaddr *)&peer, &len) < 0)
		return DEST_LIVE;
	return peer_recorded(rec, dup, &peer) ? DEST_INSIDE : DEST_OUTSIDE;
}

/* Whether @key is in @set (@n keys). */
static bool
in_set(const struct file_key *set, size_t n, dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < n; i++)
		if (set[i].dev == dev && set[i].ino == ino)
			return true;
	return false;
}

/* Add @dev:@ino to @set. Returns 0 or -ENOMEM. */
static int
add_to_set(struct file_key **set, size_t *n, size_t *cap, dev_t dev, ino_t ino)
{
	if (UTIL_GROW(*set, *cap, *n + 1) < 0)
		return -ENOMEM;
	(*set)[(*n)++] = (struct file_key){ dev, ino };
	return 0;
}

/* What gather() found: the call is held, or runs live. */
enum {
	HOLD_OK,     /* its bytes are gathered */
	HOLD_FAILS,  /* run live: the kernel fails it or sends nothing */
	HOLD_CANNOT, /* run live, and it shows output at once */
};

/* Read the @n iovecs at @at of @tid into @iov. Returns 0 or -errno. */
static int
read_iovecs(pid_t tid, uint64_t at, uint64_t n, struct iovec *iov)
{
	return tracee_read(tid, at, iov, n * sizeof(*iov));
}

/* The first @count bytes queued in pipe @src, copied into @data without
 * taking them, as tee(2) copies them: through a pipe of the supervisor's
 * as large. Returns the bytes copied, or -1. */
static ssize_t
copy_pipe(int src, uint8_t *data, size_t count)
{
	_cleanup_close_ int r = -1, w = -1;
	int p[2], size = fcntl(src, F_GETPIPE_SZ);
	ssize_t n;

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	r = p[0], w = p[1];
	if (size > 0 && fcntl(w, F_SETPIPE_SZ, size) < 0)
		return -1;
	n = tee(src, w, count, SPLICE_F_NONBLOCK);
	return n > 0 ? read(r, data, (size_t)n) : -1;
}

/*
 * The bytes a sendfile, splice or tee of @t takes from fd @fd (@off_at: its
 * loff_t, or 0 for the file's offset), at most @count, into a new buffer,
 * taken as the kernel takes them: a regular file is read at the offset,
 * which is then advanced (in the tracee, or the file's, shared with the
 * supervisor's dup); a pipe (@pipe_ok: splice, tee; no offset) gives what
 * it holds (FIONREAD), read from it (copied for tee). Returns HOLD_* or
 * -ENOMEM.
 */
static int
gather_source(struct rthread *t, int fd, uint64_t off_at, uint64_t count, bool pipe_ok,
	      bool dest_pipe, void **ret_data, size_t *ret_len)
{
	_cleanup_close_ int src = rec_output_grab_fd(t->tgid, fd);
	_cleanup_free_ uint8_t *data = NULL;
	struct stat st;
	int64_t pos;
	size_t got = 0;
	int avail = 0;

	if (src < 0 || fstat(src, &st) < 0)
		return HOLD_FAILS; /* a bad fd: the kernel fails it */
	count = MIN(count, HOLD_RW_MAX);
	/* splice(2) needs a pipe at one end, tee(2) at both: else EINVAL */
	if ((t->nr == __NR_splice && !S_ISFIFO(st.st_mode) && !dest_pipe) ||
	    (t->nr == __NR_tee && (!S_ISFIFO(st.st_mode) || !dest_pipe)))
		return HOLD_FAILS;
	if (S_ISFIFO(st.st_mode) && pipe_ok && !off_at) {
		/* what a splice would move without waiting for a writer */
		if (ioctl(src, FIONREAD, &avail) < 0 || avail <= 0)
			return HOLD_CANNOT;
		count = MIN(count, (uint64_t)avail);
	} else if (!S_ISREG(st.st_mode)) {
		return HOLD_CANNOT;
	}
	if (count == 0)
		return HOLD_FAILS;
	data = malloc(count);
	if (!data)
		return -ENOMEM;
	if (S_ISFIFO(st.st_mode)) {
		/* splice takes them, tee copies them */
		ssize_t n = t->nr == __NR_tee ? copy_pipe(src, data, count) : read(src, data, count);

		if (n <= 0)
			return HOLD_CANNOT;
		got = (size_t)n;
	} else {
		if (off_at ? tracee_read(t->tid, off_at, &pos, sizeof(pos)) < 0
			   : (pos = lseek(src, 0, SEEK_CUR)) < 0)
			return HOLD_FAILS; /* a bad loff_t: EFAULT */
		while (got < count) {
			ssize_t n = pread(src, data + got, count - got, (off_t)pos + (off_t)got);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && !got)
				return HOLD_FAILS; /* not open for reading: EBADF */
			if (n <= 0)
				break; /* the end of the file */
			got += (size_t)n;
		}
		if (!got)
			return HOLD_FAILS; /* at the end: 0, nothing sent */
		pos += (int64_t)got;
		if (off_at ? tracee_write(t->space->mem.memfd, off_at, &pos, sizeof(pos)) < 0
			   : lseek(src, (off_t)pos, SEEK_SET) < 0)
			return HOLD_FAILS;
	}
	*ret_data = steal_ptr(&data);
	*ret_len = got;
	return HOLD_OK;
}

/*
 * The bytes @t's call passes out, gathered into a new buffer (*ret_data,
 * *ret_len). Returns HOLD_*, or -errno.
 */
static int
gather(struct rthread *t, bool dest_pipe, void **ret_data, size_t *ret_len)
{
	struct iovec one, *iov = &one;
	_cleanup_free_ struct iovec *many = NULL;
	_cleanup_free_ uint8_t *data = NULL;
	uint64_t n = 1, total = 0;
	struct k_msghdr m;
	size_t off = 0;

	switch (t->nr) {
	case __NR_write:
		one = (struct iovec){ (void *)t->args[1], t->args[2] };
		break;
	case __NR_sendto:
		if (t->args[4] || (t->args[3] & ~(uint64_t)HOLD_MSG_FLAGS))
			return HOLD_CANNOT;
		one = (struct iovec){ (void *)t->args[1], t->args[2] };
		break;
	case __NR_sendfile:
		return gather_source(t, (int)t->args[1], t->args[2], t->args[3], false, dest_pipe,
				     ret_data, ret_len);
	case __NR_splice:
		return gather_source(t, (int)t->args[0], t->args[1], t->args[4], true, dest_pipe,
				     ret_data, ret_len);
	case __NR_tee:
		return gather_source(t, (int)t->args[0], 0, t->args[2], true, dest_pipe, ret_data,
				     ret_len);
	case __NR_writev:
	case __NR_vmsplice:
	case __NR_sendmsg:
		if (t->nr == __NR_vmsplice && !dest_pipe)
			return HOLD_FAILS; /* vmsplice(2) writes to a pipe only: EBADF */
		if (t->nr != __NR_sendmsg) {
			n = t->args[2];
		} else {
			if (tracee_read(t->tid, t->args[1], &m, sizeof(m)) < 0)
				return HOLD_FAILS;
			if ((t->args[2] & ~(uint64_t)HOLD_MSG_FLAGS) || m.name || m.controllen)
				return HOLD_CANNOT;
			n = m.iovlen;
		}
		/* more than IOV_MAX: the kernel fails it (EINVAL) */
		if (n == 0 || n > IOV_MAX)
			return HOLD_FAILS;
		many = malloc(n * sizeof(*many));
		if (!many)
			return -ENOMEM;
		if (read_iovecs(t->tid, t->nr == __NR_sendmsg ? m.iov : t->args[1], n, many) < 0)
			return HOLD_FAILS;
		iov = many;
		break;
	default:
		return HOLD_CANNOT; /* sendmmsg */
	}
	for (uint64_t i = 0; i < n; i++) {
		if (iov[i].iov_len > HOLD_RW_MAX)
			return HOLD_FAILS; /* a negative length (EINVAL): the kernel's */
		total += iov[i].iov_len;
	}
	/* nothing to send: the kernel answers it (a datagram of 0 bytes too) */
	total = MIN(total, HOLD_RW_MAX);
	if (total == 0)
		return HOLD_FAILS;
	data = malloc(total);
	if (!data)
		return -ENOMEM;
	for (uint64_t i = 0; i < n && off < total; i++) {
		size_t len = MIN(iov[i].iov_len, total - off);

		/* a bad buffer: the kernel fails it (EFAULT) */
		if (len && tracee_read(t->tid, (uint64_t)iov[i].iov_base, data + off, len) < 0)
			return HOLD_FAILS;
		off += len;
	}
	*ret_data = steal_ptr(&data);
	*ret_len = total;
	return HOLD_OK;
}

/* The fd syscall @nr of @t sends bytes to, or -1. */
static int
dest_fd(const struct rthread *t)
{
	switch (t->nr) {
	case __NR_write: case __NR_writev: case __NR_sendto: case __NR_sendmsg:
	case __NR_sendmmsg: case __NR_sendfile: case __NR_vmsplice: case __NR_shutdown:
		return (int)t->args[0];
	case __NR_splice:
		return (int)t->args[2];
	case __NR_tee:
		return (int)t->args[1];
	default:
		return -1;
	}
}

/*
 * @t's shutdown(2) of @dup's socket, connected outside: its SHUT_WR part
 * is held after the writes held before it (live, the peer would see the
 * end before them, and they would fail with EPIPE); SHUT_RD is done now
 * through the dup (the same socket). Returns true if it was held so.
 */
static bool
hold_shutdown(struct recorder *rec, struct rthread *t, int dup)
{
	struct rec_hold *h = &rec->hold;
	int how = (int)t->args[1], r;

	if (how != SHUT_WR && how != SHUT_RDWR) {
		close(dup);
		return false; /* SHUT_RD, or EINVAL: the kernel's */
	}
	if (how == SHUT_RDWR && shutdown(dup, SHUT_RD) < 0) {
		close(dup);
		return false;
	}
	r = h->holder->shutdown(h->holder->arg, rec->epochs.k, dup);
	if (r < 0) {
		rec_stop_recording(rec, "cannot hold the program's output: %s", strerror(-r));
		return false;
	}
	h->writes++;
	rec_skip_syscall(rec, t, 0);
	return true;
}

/* @t's write of @len bytes is held: it returns what the kernel returns
 * for a full write, the count. Returns true. */
static bool
held(struct recorder *rec, struct rthread *t, size_t len, long id)
{
	t->held_id = (uint64_t)id;
	rec->hold.writes++;
	rec->hold.bytes += len;
	rec_skip_syscall(rec, t, (int64_t)len);
	return true;
}

bool
rec_hold_write(struct recorder *rec, struct rthread *t)
{
	struct rec_hold *h = &rec->hold;
	_cleanup_close_ int dup = -1;
	void *data = NULL;
	size_t len = 0;
	mode_t type;
	dev_t dev;
	ino_t ino;
	bool judged;
	long id;
	int r, fl;

	if (!h->holder)
		return false;
	if (note_fifo_reader(rec, t) < 0) {
		rec_stop_recording(rec, "%s", "out of memory");
		return false;
	}
	if (dest_fd(t) < 0)
		return false;
	if (!rec_output_fd_file(t->tid, dest_fd(t), &type, &dev, &ino))
		return false; /* a bad fd: the kernel fails it */
	if (type != S_IFCHR && type != S_IFIFO && type != S_IFSOCK)
		return false; /* a regular file, a directory: not held */
	if (type != S_IFCHR && made_here(h, dev, ino))
		return false; /* the program reads it back */
	/* a send or shutdown of what is not a socket: ENOTSOCK */
	if (type != S_IFSOCK && (t->nr == __NR_sendto || t->nr == __NR_sendmsg ||
				 t->nr == __NR_sendmmsg || t->nr == __NR_shutdown))
		return false;
	/* a connected socket's peer does not change: judged once; so is a
	 * FIFO (a recorded reader that opens it later is note_fifo_reader()'s)
	 * and a terminal (a device is one or not) */
	judged = in_set(h->outside, h->noutside, dev, ino);
	/* the next write to an open file the holder writes to already (a
	 * program's next line): no dup of the fd (pidfd_getfd(2), a few µs),
	 * a kcmp(2) per destination; its bytes are those the call passes */
	if (judged && h->holder->hold_same &&
	    (t->nr == __NR_write || t->nr == __NR_writev || t->nr == __NR_sendto ||
	     t->nr == __NR_sendmsg || t->nr == __NR_vmsplice)) {
		r = gather(t, type == S_IFIFO, &data, &len);
		if (r < 0) {
			rec_stop_recording(rec, "%s", "out of memory");
			return false;
		}
		if (r == HOLD_OK) {
			id = h->holder->hold_same(h->holder->arg, rec->epochs.k, t->tgid,
						  dest_fd(t), data, len);
			if (id > 0)
				return held(rec, t, len, id);
			free(data);
			data = NULL;
			if (id != -ENOENT) {
				rec_stop_recording(rec, "cannot hold the program's output: %s",
						   strerror((int)-id));
				return false;
			}
		}
	}
	dup = rec_output_grab_fd(t->tgid, dest_fd(t));
	if (dup < 0)
		return false;
	/* not open for writing: the kernel fails it (EBADF) */
	fl = fcntl(dup, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY)
		return false;
	if (!judged) {
		r = external(rec, dup, type, dev, ino);
		if (r != DEST_LIVE &&
		    (r == DEST_INSIDE ? add_to_set(&h->made, &h->nmade, &h->made_cap, dev, ino)
				      : add_to_set(&h->outside, &h->noutside, &h->outside_cap, dev,
						   ino)) < 0) {
			rec_stop_recording(rec, "%s", "out of memory");
			return false;
		}
		if (r != DEST_OUTSIDE)
			return false;
	}
	if (t->nr == __NR_shutdown)
		return hold_shutdown(rec, t, steal_fd(&dup));
	r = gather(t, type == S_IFIFO, &data, &len);
	if (r < 0) {
		rec_stop_recording(rec, "%s", "out of memory");
		return false;
	}
	if (r == HOLD_CANNOT) {
		h->live++;
		if (h->live == 1)
			log_warn("thread %d's %s to a destination outside the recording cannot be held: "
				 "it is shown at once, maybe before output held earlier", t->tid,
				 sc_name((long)t->nr) ?: "?");
	}
	if (r != HOLD_OK)
		return false;
	id = h->holder->hold(h->holder->arg, rec->epochs.k, steal_fd(&dup), type == S_IFSOCK, data,
			     len);
	if (id < 0) {
		rec_stop_recording(rec, "cannot hold the program's output: %s", strerror((int)-id));
		return false;
	}
	return held(rec, t, len, id);
}

/* Whether @c, the log's call @t makes, was a write the TP run held whose
 * bytes the holder can be asked about (rec_hold_replace()). */
static bool
replaceable(const struct rec_output_holder *o, const struct rthread *t, const struct ep_call *c)
{
	return o && o->replace && c->nvalues > REC_HELD_VALUE && c->values[REC_HELD_VALUE] && !c->buffered &&
	       c->nr == (long)t->nr && c->exited && dest_fd(t) >= 0 && t->args[0] == c->args[0];
}

bool
rec_hold_shown_same(struct recorder *rec, struct rthread *t, const struct ep_call *c)
{
	const struct rec_output_holder *o = rec->ep->output;
	void *data = NULL;
	size_t len = 0;

	if (!replaceable(o, t, c))
		return true;
	/* bytes taken from another fd: a run that follows the log reads none
	 * (its reads are the log's answers, its fds' offsets not moved), and
	 * gathering them here would read the wrong ones and move the offset
	 * (ep_threads' sendfile of its input file: "not those that went out") */
	if (t->nr == __NR_sendfile || t->nr == __NR_splice || t->nr == __NR_tee)
		return true;
	if (gather(t, true, &data, &len) != HOLD_OK)
		return false;
	/* the holder takes @data; the same bytes as shown or held: 0; one
	 * dropped, never shown (the epoch re-run: a thread held at the
	 * entry of its write at the checkpoint makes it here): -ENOENT */
	return o->replace(o->arg, c->values[REC_HELD_VALUE], data, len) != -EALREADY;
}

const struct ep_call *
rec_hold_replace(struct recorder *rec, struct rthread *t, const struct ep_call *c)
{
	const struct rec_output_holder *o = rec->ep->output;
	void *data = NULL;
	size_t len = 0;
	int r;

	if (!replaceable(o, t, c))
		return NULL;
	/* the bytes it passes out, as the TP run gathered them (a pipe or
	 * not only matters to vmsplice, which the holder took from memory) */
	if (gather(t, true, &data, &len) != HOLD_OK)
		return NULL;
	if (!t->ep_replaced) {
		t->ep_replaced = malloc(sizeof(*t->ep_replaced));
		if (!t->ep_replaced) {
			free(data);
			return NULL;
		}
	}
	r = o->replace(o->arg, c->values[REC_HELD_VALUE], data, len);
	if (r < 0) {
		log_info("thread %d: the held write it makes otherwise cannot be replaced: %s",
			 t->tid, r == -EALREADY ? "shown already" : strerror(-r));
		return NULL;
	}
	/* the log's call, with this run's arguments and count: a held write
	 * returns the count asked for */
	*t->ep_replaced = *c;
	memcpy(t->ep_replaced->args, t->args, sizeof(t->args));
	t->ep_replaced->result = (int64_t)len;
	rec->ep->replaced++;
	log_debug("thread %d: held write %" PRIu64 " replaced by this run's %zu bytes", t->tid,
		  c->values[REC_HELD_VALUE], len);
	return t->ep_replaced;
}

void
rec_hold_free(struct recorder *rec)
{
	struct rec_hold *h = &rec->hold;

	if (h->holder)
		log_info("output commit: %" PRIu64 " writes (%" PRIu64 " bytes) held until their "
			 "epoch is verified, %" PRIu64 " such writes run live; %zu pipes and sockets "
			 "kept inside the recording", h->writes, h->bytes, h->live, h->nmade);
	free(h->made);
	free(h->outside);
	*h = (struct rec_hold){ 0 };
}
