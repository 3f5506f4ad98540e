/* SPDX-License-Identifier: MIT */
/*
 * A TP epoch's undo (kernel-merge.h, "what one TP epoch did"): the
 * descriptors' offsets and flags saved at the checkpoint, the pre-images of
 * the regular file bytes the epoch overwrote, and what cannot be undone,
 * named. The copies of checkpoint k share the TP run's open file
 * descriptions (fork(2)), so an offset is put back through a copy of the
 * description (pidfd_getfd(2)) and a file through a descriptor of ours
 * opened on the same inode (/proc/TID/fd/N, proc(5): it reaches the file
 * even after an unlink).
 */
#define LOG_PREFIX "kmerge-undo"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "kernel-merge/undo-private.h"
#include "tracee/tracee.h"

/* The most pre-image bytes an epoch keeps: past it the epoch is refused
 * (an epoch that overwrites more than this is rare, and a rollback then
 * costs less as a refusal than as memory). */
#define KMERGE_PRE_MAX (256ull << 20)
/* The most iovecs of a writev(2) (UIO_MAXIOV, include/uapi/linux/uio.h). */
#define KMERGE_IOV_MAX 1024
/* The status flags fcntl(2) F_SETFL changes (fs/fcntl.c SETFL_MASK). */
#define KMERGE_SETFL_MASK (O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME)
/* pwritev2(2)'s RWF_APPEND (include/uapi/linux/fs.h) */
#define KMERGE_RWF_APPEND 0x10

/* Socket option @opt (SOL_SOCKET) of @fd as an int, -1 if it cannot be read. */
static int
sock_int(int fd, int opt)
{
	int v = -1;
	socklen_t len = sizeof(v);

	return getsockopt(fd, SOL_SOCKET, opt, &v, &len) < 0 ? -1 : v;
}

/*
 * Whether @dup, ours, of a socket is a TCP connection (AF_INET or
 * AF_INET6, SOCK_STREAM, not listening: socket(7) SO_DOMAIN, SO_TYPE,
 * SO_ACCEPTCONN) whose description uprr may hold from a checkpoint on, so
 * that a re-run from it has the connection the program closed since: a
 * client's. Holding it delays the close's FIN until uprr lets it go (the
 * epoch verified: tp_epochs_verified(); the re-run went live; the
 * checkpoint no longer kept): the close is output, held as the output
 * written before it is. Not a
 * listening socket or a datagram one (held, its port would stay bound: a
 * bind of it again fails), nor a unix socket, whose peer may be the
 * program's own and wait for its end; nor one in a process with an epoll
 * instance (keep_conns(); one made later: kmerge_epoch_drop_conns()), nor
 * one with O_ASYNC (its SIGIO would go on after the program's close).
 */
static bool
kept_sock(int dup)
{
	int domain = sock_int(dup, SO_DOMAIN);

	return (domain == AF_INET || domain == AF_INET6) && sock_int(dup, SO_TYPE) == SOCK_STREAM &&
	       sock_int(dup, SO_ACCEPTCONN) == 0;
}

/* The TCP connections of process @pid (@pidfd) that @e saved, their
 * descriptions kept (kept_sock()) unless the process has an epoll
 * instance (asked once all its descriptors are read). */
static void
keep_conns(struct kmerge_epoch *e, pid_t pid, int pidfd)
{
	for (size_t i = 0; i < e->nfds; i++)
		if (e->fds[i].pid == pid && e->fds[i].epoll)
			return;
	for (size_t i = 0; i < e->nfds; i++) {
		struct kmerge_fd_saved *s = &e->fds[i];

		if (s->pid != pid || !S_ISSOCK(s->mode) || (s->flags & O_ASYNC))
			continue;
		s->dup = (int)syscall(SYS_pidfd_getfd, pidfd, s->fd, 0);
		if (s->dup >= 0 && !kept_sock(s->dup)) {
			close(s->dup);
			s->dup = -1;
		}
	}
}

void
kmerge_epoch_drop_conns(struct kmerge_epoch *e)
{
	for (size_t i = 0; e && i < e->nfds; i++)
		if (S_ISSOCK(e->fds[i].mode) && e->fds[i].dup >= 0) {
			close(e->fds[i].dup);
			e->fds[i].dup = -1;
		}
}

/* mmap(2)'s MAP_SHARED_VALIDATE (include/uapi/linux/mman.h): MAP_SHARED
 * with its flags checked, a shared mapping too */
#define KMERGE_MAP_SHARED_VALIDATE 0x03

void
kmerge_epoch_refuse(struct kmerge_epoch *e, const char *fmt, ...)
{
	va_list ap;

	if (e->refused)
		return;
	e->refused = true;
	va_start(ap, fmt);
	vsnprintf(e->refusal, sizeof(e->refusal), fmt, ap);
	va_end(ap);
	log_debug("epoch %" PRIu64 " cannot be undone: %s", e->k, e->refusal);
}

int
kmerge_epoch_new(uint64_t k, struct kmerge_epoch **ret)
{
	struct kmerge_epoch *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->k = k;
	*ret = e;
	return 0;
}

uint64_t
kmerge_epoch_k(const struct kmerge_epoch *e)
{
	return e->k;
}

void
kmerge_epoch_free(struct kmerge_epoch *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->nfiles; i++) {
		for (size_t j = 0; j < e->files[i].npre; j++)
			free(e->files[i].pre[j].bytes);
		free(e->files[i].pre);
		if (e->files[i].fd >= 0)
			close(e->files[i].fd);
	}
	free(e->files);
	for (size_t i = 0; i < e->nfds; i++) {
		if (e->fds[i].dup >= 0)
			close(e->fds[i].dup);
		if (e->fds[i].path >= 0)
			close(e->fds[i].path);
		free(e->fds[i].items);
	}
	free(e->fds);
	kmerge_inputs_free(e);
	for (size_t i = 0; i < e->nqueues; i++)
		free(e->queues[i].data);
	free(e->queues);
	free(e);
}

void
kmerge_epoch_stats(const struct kmerge_epoch *e, struct kmerge_epoch_stats *ret)
{
	*ret = (struct kmerge_epoch_stats){ .fds = e->nfds, .files = e->nfiles, .pre_bytes = e->pre_bytes,
					    .inputs = e->ninputs, .input_bytes = kmerge_epoch_redeliver_left(e) };
}

size_t
kmerge_epoch_nfds(const struct kmerge_epoch *e)
{
	return e->nfds;
}

const struct kmerge_fd_saved *
kmerge_epoch_fd(const struct kmerge_epoch *e, size_t i)
{
	return i < e->nfds ? &e->fds[i] : NULL;
}

const char *
kmerge_epoch_refusal(const struct kmerge_epoch *e)
{
	return e->refused ? e->refusal : NULL;
}

int
kmerge_epoch_save_fds(struct kmerge_epoch *e, pid_t pid)
{
	_cleanup_close_ int pidfd = -1;
	char path[64];
	struct dirent *d;
	DIR *dir;
	int n = 0, r = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	if (!dir)
		return errno == ENOENT ? -ESRCH : -errno;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		r = -errno;
		closedir(dir);
		return r;
	}
	while ((d = readdir(dir))) {
		struct kmerge_fd_saved s = { .pid = pid, .size = -1, .dup = -1, .path = -1 };
		struct stat st;
		char *end;
		long fd = strtol(d->d_name, &end, 10);

		if (d->d_name[0] < '0' || d->d_name[0] > '9' || *end || fd > INT_MAX)
			continue;
		s.fd = (int)fd;
		/* closed meanwhile (another thread of a process not stopped
		 * whole): nothing to put back */
		if (fstatat(dirfd(dir), d->d_name, &st, 0) < 0 || tracee_fdinfo(pid, s.fd, &s.pos, &s.flags) < 0)
			continue;
		s.cloexec = (s.flags & O_CLOEXEC) != 0;
		s.flags &= ~O_CLOEXEC;
		s.dev = st.st_dev, s.ino = st.st_ino, s.mode = st.st_mode;
		if (S_ISREG(st.st_mode))
			s.size = st.st_size;
		/* a checkpoint's copy may close its descriptors (tp/epoch.c
		 * drop_files()): the description is kept here; out of fds
		 * (EMFILE), the respawn's is taken at the undo instead */
		/* not one open for writing: ours would make an exec of that
		 * file fail with ETXTBSY (make -j2's linker output, execve(2)) */
		if (((S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode)) &&
		     (s.flags & O_ACCMODE) == O_RDONLY) ||
		    kmerge_anon_kept(dirfd(dir), d->d_name, st.st_mode, &s))
			s.dup = (int)syscall(SYS_pidfd_getfd, pidfd, s.fd, 0);
		else if (S_ISREG(st.st_mode))
			s.path = openat(dirfd(dir), d->d_name, O_PATH | O_CLOEXEC);
		/* an epoll instance's interest list, an eventfd's counter, a
		 * timerfd's setting, a signalfd's mask as they were: a re-run's
		 * is made anew from them (the TP run's changed since) */
		kmerge_anon_read(pid, &s);
		r = UTIL_GROW(e->fds, e->fds_cap, e->nfds + 1);
		if (r < 0) {
			if (s.dup >= 0)
				close(s.dup);
			if (s.path >= 0)
				close(s.path);
			free(s.items);
			break;
		}
		e->fds[e->nfds++] = s;
		n++;
	}
	closedir(dir);
	keep_conns(e, pid, pidfd);
	return r < 0 ? r : n;
}

static struct kmerge_file *
find_file(struct kmerge_epoch *e, dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < e->nfiles; i++)
		if (e->files[i].dev == dev && e->files[i].ino == ino)
			return &e->files[i];
	return NULL;
}

/* The regular file @st, which thread @tid writes through @fd: the first
 * time, opened by us (O_RDWR, the same inode) and its size kept. NULL (the
 * epoch refused) if that fails. */
static struct kmerge_file *
touch_file(struct kmerge_epoch *e, pid_t tid, int fd, const struct stat *st)
{
	struct kmerge_file *f = find_file(e, st->st_dev, st->st_ino);
	char path[64];
	int ours;

	if (f)
		return f;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", tid, fd);
	/* read-only (a descriptor of ours open for writing would make an
	 * exec of the file fail with ETXTBSY: a program that writes an
	 * executable and runs it); the undo opens it for writing then */
	ours = open(path, O_RDONLY | O_CLOEXEC);
	if (ours < 0) {
		kmerge_epoch_refuse(e, "thread %d writes fd %d, a file uprr cannot open to put back (%s)", tid, fd,
			      strerror(errno));
		return NULL;
	}
	if (UTIL_GROW(e->files, e->files_cap, e->nfiles + 1) < 0) {
		close(ours);
		kmerge_epoch_refuse(e, "%s", "out of memory for a file's pre-images");
		return NULL;
	}
	f = &e->files[e->nfiles++];
	*f = (struct kmerge_file){ .dev = st->st_dev, .ino = st->st_ino, .fd = ours, .size0 = st->st_size };
	return f;
}

/* Keep the bytes of [@off, +@len) of @f that lie below its size at the
 * epoch's start, as they are now (the write has not run). */
static void
save_preimage(struct kmerge_epoch *e, pid_t tid, struct kmerge_file *f, uint64_t off, uint64_t len)
{
	struct kmerge_preimage p;
	ssize_t got;

	if (f->size0 <= 0 || off >= (uint64_t)f->size0 || !len)
		return;
	len = MIN(len, (uint64_t)f->size0 - off);
	if (e->pre_bytes + len > KMERGE_PRE_MAX) {
		kmerge_epoch_refuse(e, "thread %d overwrote more than %llu MiB of files in the epoch", tid,
			      KMERGE_PRE_MAX >> 20);
		return;
	}
	p = (struct kmerge_preimage){ .off = off, .len = len, .bytes = malloc(len) };
	if (!p.bytes || UTIL_GROW(f->pre, f->pre_cap, f->npre + 1) < 0) {
		free(p.bytes);
		kmerge_epoch_refuse(e, "%s", "out of memory for a file's pre-images");
		return;
	}
	got = pread(f->fd, p.bytes, len, (off_t)off);
	if (got < 0) {
		free(p.bytes);
		kmerge_epoch_refuse(e, "thread %d: cannot read the bytes its write overwrites: %s", tid, strerror(errno));
		return;
	}
	/* the file may be shorter now than at the epoch's start only
	 * through a truncate, which refuses the epoch */
	p.len = (size_t)got;
	e->pre_bytes += p.len;
	f->pre[f->npre++] = p;
}

/* The bytes a writev(2)-like call at @iov (@cnt iovecs) of thread @tid asks
 * to write, or -1 if its array cannot be read. */
static int64_t
iov_total(pid_t tid, uint64_t iov, uint64_t cnt)
{
	struct iovec v[64];
	int64_t total = 0;

	if (cnt > KMERGE_IOV_MAX)
		return -1;
	for (uint64_t i = 0; i < cnt; i += ARRAY_SIZE(v)) {
		size_t m = MIN(ARRAY_SIZE(v), cnt - i);

		if (tracee_read(tid, iov + i * sizeof(*v), v, m * sizeof(*v)) < 0)
			return -1;
		for (size_t j = 0; j < m; j++)
			total += (int64_t)v[j].iov_len;
	}
	return total;
}

/* At the entry of a write to descriptor @fd: if it leads to a regular file,
 * keep what it may overwrite. @at is the offset (-1: the description's). */
static void
on_write(struct kmerge_epoch *e, pid_t tid, int fd, int64_t at, int64_t len, bool append)
{
	struct kmerge_file *f;
	struct stat st;
	int64_t pos;
	int flags;

	if (tracee_fd_stat(tid, fd, &st) < 0 || !S_ISREG(st.st_mode))
		return; /* not a file (or no such fd: the call fails) */
	f = touch_file(e, tid, fd, &st);
	if (!f)
		return;
	if (len < 0) {
		kmerge_epoch_refuse(e, "thread %d writes fd %d from an iovec array uprr cannot read", tid, fd);
		return;
	}
	if (tracee_fdinfo(tid, fd, &pos, &flags) < 0) {
		kmerge_epoch_refuse(e, "thread %d writes fd %d, whose offset uprr cannot read", tid, fd);
		return;
	}
	/* O_APPEND writes at the end, pwrite(2) too (its BUGS): nothing
	 * below the size is overwritten, the truncate takes it back */
	if (append || (flags & O_APPEND))
		return;
	save_preimage(e, tid, f, at >= 0 ? (uint64_t)at : (uint64_t)pos, (uint64_t)len);
}

/* lstat(2) of the path at @path_at of thread @tid, relative to @dirfd, as
 * the thread sees it (its root, cwd and descriptors through /proc/TID). */
static int
stat_path(pid_t tid, int dirfd, uint64_t path_at, char *name, size_t name_len, struct stat *ret)
{
	char path[PATH_MAX + 64];

	if (tracee_read_string(tid, path_at, name, name_len) < 0)
		return -EFAULT;
	if (name[0] == '/')
		snprintf(path, sizeof(path), "/proc/%d/root%s", tid, name);
	else if (dirfd == AT_FDCWD)
		snprintf(path, sizeof(path), "/proc/%d/cwd/%s", tid, name);
	else
		snprintf(path, sizeof(path), "/proc/%d/fd/%d/%s", tid, dirfd, name);
	return lstat(path, ret) < 0 ? -errno : 0;
}

/* An open(2)-like call with @flags: one that may make a file (O_CREAT of a
 * name that is not there) or cut one (O_TRUNC of a file not empty; Linux
 * cuts it even opened O_RDONLY) is refused. */
static void
on_open(struct kmerge_epoch *e, pid_t tid, const char *call, int dirfd, uint64_t path_at, uint64_t flags)
{
	char name[PATH_MAX];
	struct stat st;
	int r;

	if (!(flags & (O_CREAT | O_TRUNC)))
		return;
	r = stat_path(tid, dirfd, path_at, name, sizeof(name), &st);
	if (r == -ENOENT && (flags & O_CREAT))
		kmerge_epoch_refuse(e, "thread %d %s(2) of %s with O_CREAT: a file made in the epoch is not removed", tid,
			      call, name);
	else if (r == 0 && (flags & O_TRUNC) && S_ISREG(st.st_mode) && st.st_size > 0)
		kmerge_epoch_refuse(e, "thread %d %s(2) of %s with O_TRUNC: a file cut in the epoch is not put back", tid,
			      call, name);
	else if (r < 0 && r != -ENOENT)
		kmerge_epoch_refuse(e, "thread %d %s(2) with O_CREAT or O_TRUNC of a path uprr cannot look at (%s)", tid,
			      call, strerror(-r));
}

void
kmerge_epoch_on_entry(struct kmerge_epoch *e, pid_t tid, pid_t tgid, long nr, const uint64_t args[6])
{
	uint64_t flags;

	(void)tgid;
	switch (nr) {
	case SYS_write:
		on_write(e, tid, (int)args[0], -1, (int64_t)args[2], false);
		break;
	case SYS_writev:
		on_write(e, tid, (int)args[0], -1, iov_total(tid, args[1], args[2]), false);
		break;
	case SYS_pwrite64:
		on_write(e, tid, (int)args[0], (int64_t)args[3], (int64_t)args[2], false);
		break;
	case SYS_pwritev:
		/* pos_l; pos_h adds nothing on 64 bits (pos_from_hilo()) */
		on_write(e, tid, (int)args[0], (int64_t)args[3], iov_total(tid, args[1], args[2]), false);
		break;
	case SYS_pwritev2:
		on_write(e, tid, (int)args[0], (int64_t)args[3], iov_total(tid, args[1], args[2]),
			 (args[5] & KMERGE_RWF_APPEND) != 0);
		break;
	case SYS_open:
		on_open(e, tid, "open", AT_FDCWD, args[0], args[1]);
		break;
	case SYS_creat:
		on_open(e, tid, "creat", AT_FDCWD, args[0], O_CREAT | O_WRONLY | O_TRUNC);
		break;
	case SYS_openat:
		on_open(e, tid, "openat", (int)args[0], args[1], args[2]);
		break;
	case SYS_openat2:
		/* struct open_how's first field (include/uapi/linux/openat2.h) */
		if (tracee_read(tid, args[2], &flags, sizeof(flags)) < 0)
			flags = O_CREAT | O_TRUNC;
		on_open(e, tid, "openat2", (int)args[0], args[1], flags);
		break;
	default:
		break;
	}
}

/* The call's name for a refusal, or NULL if a successful @nr changes
 * nothing the undo cares about here. */
static const char *
changes_names(long nr)
{
	switch (nr) {
	case SYS_unlink: return "unlink";
	case SYS_unlinkat: return "unlinkat";
	case SYS_rename: return "rename";
	case SYS_renameat: return "renameat";
	case SYS_renameat2: return "renameat2";
	case SYS_link: return "link";
	case SYS_linkat: return "linkat";
	case SYS_symlink: return "symlink";
	case SYS_symlinkat: return "symlinkat";
	case SYS_mkdir: return "mkdir";
	case SYS_mkdirat: return "mkdirat";
	case SYS_rmdir: return "rmdir";
	case SYS_mknod: return "mknod";
	case SYS_mknodat: return "mknodat";
	case SYS_truncate: return "truncate";
	default: return NULL;
	}
}

/* What thread @tid's descriptor @fd leads to (/proc/TID/fd/N's link), for
 * a refusal's line; "?" if it cannot be read. */
static const char *
fd_name(pid_t tid, int fd, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", tid, fd);
	n = readlink(path, buf, len - 1);
	if (n < 0)
		return "?";
	buf[n] = 0;
	return buf;
}

/* Whether thread @tid's descriptor @fd leads to a regular file. */
static bool
is_regular(pid_t tid, int fd)
{
	struct stat st;

	return tracee_fd_stat(tid, fd, &st) == 0 && S_ISREG(st.st_mode);
}

void
kmerge_note_exit(struct kmerge_epoch *e, pid_t tid, long nr, const uint64_t args[6], int64_t result)
{
	const char *name = changes_names(nr);
	char file[PATH_MAX];

	if (result < 0)
		return;
	if (name) {
		kmerge_epoch_refuse(e, "thread %d %s(2): a name made, removed or a file cut in the epoch is not put back",
			      tid, name);
		return;
	}
	switch (nr) {
	case SYS_ftruncate:
		if (is_regular(tid, (int)args[0]))
			kmerge_epoch_refuse(e, "thread %d ftruncate(2) of fd %d (%s): a file cut in the epoch is not "
					    "put back", tid, (int)args[0], fd_name(tid, (int)args[0], file, sizeof(file)));
		break;
	case SYS_fallocate:
		kmerge_epoch_refuse(e, "thread %d fallocate(2) of fd %d: not put back", tid, (int)args[0]);
		break;
	case SYS_mmap:
		if (((args[3] & MAP_TYPE) == MAP_SHARED || (args[3] & MAP_TYPE) == KMERGE_MAP_SHARED_VALIDATE) &&
		    (args[2] & PROT_WRITE) && !(args[3] & MAP_ANONYMOUS) &&
		    is_regular(tid, (int)args[4]))
			kmerge_epoch_refuse(e, "thread %d mapped fd %d (%s) shared and writable: its writes are not undone",
					    tid, (int)args[4], fd_name(tid, (int)args[4], file, sizeof(file)));
		break;
	case SYS_sendfile:
	case SYS_copy_file_range:
		if (result > 0 && is_regular(tid, (int)args[nr == SYS_sendfile ? 0 : 2]))
			kmerge_epoch_refuse(e, "thread %d %s(2) into a regular file: not undone", tid,
				      nr == SYS_sendfile ? "sendfile" : "copy_file_range");
		break;
	case SYS_splice:
		if (result > 0)
			kmerge_epoch_refuse(e, "thread %d splice(2) moved %" PRId64 " bytes: not undone nor re-delivered",
				      tid, result);
		break;
	case SYS_accept:
	case SYS_accept4:
		kmerge_epoch_refuse(e, "thread %d accept(2) took a connection: it is not given back", tid);
		break;
	default:
		break;
	}
}

/* The saved descriptor @s: its offset and flags put back, through our
 * copy of its description or, without one, the process respawned with its
 * pid (pidfd @pidfd), if it has that descriptor (a copy that closed its
 * own does not use the description). */
static int
undo_fd(const struct kmerge_fd_saved *s, int pidfd, struct kmerge_undo_report *report)
{
	struct stat st;
	int64_t pos;
	int dup, flags, r = 0;

	dup = s->dup >= 0 ? fcntl(s->dup, F_DUPFD_CLOEXEC, 0) : (int)syscall(SYS_pidfd_getfd, pidfd, s->fd, 0);
	if (dup < 0 && s->dup < 0 && errno == EBADF)
		return 0;
	if (dup < 0) {
		r = -errno;
		snprintf(report->what, sizeof(report->what), "process %d fd %d: cannot take it: %s", s->pid, s->fd,
			 strerror(-r));
		return r;
	}
	report->fds_checked++;
	if (fstat(dup, &st) < 0 || st.st_dev != s->dev || st.st_ino != s->ino) {
		snprintf(report->what, sizeof(report->what),
			 "process %d fd %d leads to another object than at the checkpoint", s->pid, s->fd);
		r = -ESTALE;
		goto out;
	}
	if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode)) {
		pos = lseek(dup, 0, SEEK_CUR);
		if (pos >= 0 && pos != s->pos) {
			if (lseek(dup, s->pos, SEEK_SET) < 0) {
				r = -errno;
				snprintf(report->what, sizeof(report->what),
					 "process %d fd %d: cannot put its offset back to %" PRId64 ": %s", s->pid,
					 s->fd, s->pos, strerror(-r));
				goto out;
			}
			report->offsets_set++;
		}
	}
	flags = fcntl(dup, F_GETFL);
	if (flags >= 0 && (flags & KMERGE_SETFL_MASK) != (s->flags & KMERGE_SETFL_MASK)) {
		if (fcntl(dup, F_SETFL, (flags & ~KMERGE_SETFL_MASK) | (s->flags & KMERGE_SETFL_MASK)) < 0) {
			r = -errno;
			snprintf(report->what, sizeof(report->what), "process %d fd %d: cannot put its flags back: %s",
				 s->pid, s->fd, strerror(-r));
			goto out;
		}
		report->flags_set++;
	}
out:
	close(dup);
	return r;
}

/* A file open for writing at the checkpoint whose size moved by means the
 * epoch's record does not hold: -ESTALE, named. */
static int
check_sizes(struct kmerge_epoch *e, const pid_t *pids, size_t n, struct kmerge_undo_report *report)
{
	for (size_t i = 0; i < e->nfds; i++) {
		const struct kmerge_fd_saved *s = &e->fds[i];
		const struct kmerge_file *f = find_file(e, s->dev, s->ino);
		bool ours = false;
		struct stat st;

		for (size_t j = 0; j < n; j++)
			ours |= pids[j] == s->pid;
		if ((!ours && n) || s->size < 0 || (s->flags & O_ACCMODE) == O_RDONLY)
			continue;
		if (f) {
			if (f->size0 == s->size)
				continue;
		} else if ((s->dup >= 0 ? fstat(s->dup, &st) : tracee_fd_stat(s->pid, s->fd, &st)) < 0 ||
			   st.st_size == s->size) {
			continue;
		}
		snprintf(report->what, sizeof(report->what),
			 "process %d fd %d: the file's size moved from %" PRId64 " in the epoch by a write uprr did "
			 "not see (a shared mapping, a writer outside the recording)",
			 s->pid, s->fd, s->size);
		return -ESTALE;
	}
	return 0;
}

int
kmerge_epoch_undo(struct kmerge_epoch *e, const pid_t *pids, size_t n, struct kmerge_undo_report *report)
{
	uint64_t t0 = util_now_ns();
	int r;

	*report = (struct kmerge_undo_report){ 0 };
	if (e->refused) {
		snprintf(report->what, sizeof(report->what), "%s", e->refusal);
		return -EOPNOTSUPP;
	}
	r = check_sizes(e, pids, n, report);
	if (r < 0)
		return r;
	for (size_t i = 0; i < e->nfiles; i++) {
		struct kmerge_file *f = &e->files[i];
		_cleanup_close_ int w = -1;
		char path[64];
		struct stat st;

		report->files++;
		/* for writing, through our read-only one (proc(5): the link
		 * reaches the file even unlinked) */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", f->fd);
		w = open(path, O_WRONLY | O_CLOEXEC);
		if (w < 0 || fstat(w, &st) < 0 || (st.st_size != f->size0 && ftruncate(w, f->size0) < 0)) {
			r = -errno;
			snprintf(report->what, sizeof(report->what), "file %lu:%lu: cannot cut it back to %" PRId64 ": %s",
				 (unsigned long)f->dev, (unsigned long)f->ino, f->size0, strerror(-r));
			return r;
		}
		report->files_truncated += st.st_size != f->size0;
		/* newest first: a byte's oldest pre-image, the checkpoint's, wins */
		for (size_t j = f->npre; j-- > 0;) {
			const struct kmerge_preimage *p = &f->pre[j];

			if (pwrite(w, p->bytes, p->len, (off_t)p->off) != (ssize_t)p->len) {
				r = errno ? -errno : -EIO;
				snprintf(report->what, sizeof(report->what),
					 "file %lu:%lu: cannot write %zu bytes back at %" PRIu64 ": %s",
					 (unsigned long)f->dev, (unsigned long)f->ino, p->len, p->off, strerror(-r));
				return r;
			}
			report->bytes_restored += p->len;
		}
	}
	/* no process: the descriptions kept, whoever holds them now */
	for (size_t i = 0; i < e->nfds && !n && r >= 0; i++)
		if (e->fds[i].dup >= 0)
			r = undo_fd(&e->fds[i], -1, report);
	if (r < 0)
		return r;
	for (size_t j = 0; j < n; j++) {
		int pidfd = (int)syscall(SYS_pidfd_open, pids[j], 0);

		if (pidfd < 0) {
			r = -errno;
			snprintf(report->what, sizeof(report->what), "process %d: %s", pids[j], strerror(-r));
			return r;
		}
		for (size_t i = 0; i < e->nfds && r >= 0; i++)
			if (e->fds[i].pid == pids[j])
				r = undo_fd(&e->fds[i], pidfd, report);
		close(pidfd);
		if (r < 0)
			return r;
	}
	report->total_ns = util_now_ns() - t0;
	return 0;
}
