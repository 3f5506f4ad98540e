/* SPDX-License-Identifier: MIT */
/*
 * The trace writer. Event records are buffered and cut into frames of about
 * TRACE_FRAME_TARGET bytes; each frame goes to disk with one write at the
 * end of the last whole frame. When a write fails or falls short (disk
 * full, RLIMIT_FSIZE) the file is truncated back to that boundary, so the
 * trace on disk always ends at a whole frame, and the error sticks: every
 * later call returns it.
 *
 * A frame that fills while events are added is compressed and written by a
 * thread of the writer's own, on any CPU, while the caller goes on (the
 * recorder and its tracees share one CPU: zstd took half of it in `cp -r`'s
 * recording). Frames are written in order; up to FRAME_QUEUE of them wait
 * for the thread before the caller does (one in flight made the recorder
 * wait whenever one frame took the thread longer than the next took to
 * fill, though both keep pace overall). Each result (or error, which then
 * sticks, and after which the thread writes nothing more) is taken when the
 * caller next gives a frame, so a failed write is reported a few frames
 * late by trace_writer_add_event(), and at once by trace_writer_flush(),
 * trace_writer_stats() and trace_writer_close(), which wait for them all.
 * The thread starts at the first full frame (not before: the recorder forks
 * the program after opening the trace).
 *
 * Records also go out as a frame once the oldest of them waited
 * TRACE_FRAME_MAX_AGE_MS, checked as each record is added: a recorder
 * killed in the middle (SIGKILL, no chance to flush) leaves on disk all
 * but its last moment's events, even for a program whose events come
 * slowly (a line every few ms fills a frame in minutes).
 */
#define LOG_PREFIX "trace"

#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "trace/trace-private.h"
#include "trace/worker.h"

/* An output stream: a file that grows by whole frames. */
struct stream_out {
	int fd;
	enum trace_stream kind;
	uint64_t end; /**< offset after the last whole frame */
	uint32_t seq; /**< sequence number of the next frame */
};

/* Identity of a kept file, for deduplication. */
struct kept_file {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim;
	uint32_t id;
};

/* Frames given to the writer's thread and not taken back yet, at most. */
#define FRAME_QUEUE 4

/* A frame of events for the writer's thread. */
struct frame_slot {
	struct trace_wbuf raw;	 /**< the frame's records */
	uint64_t nrec;		 /**< how many */
	size_t len;		 /**< result: its length on disk */
	int r;			 /**< result: 0 or -errno (the file truncated back) */
};

/* The writer's thread and its frames: slot N % FRAME_QUEUE holds the Nth
 * frame given. The caller owns a slot until it gives it and again once the
 * thread is done with it (trace_worker_wait_below()); fd, seq and end are
 * the thread's while any frame is pending, and set by the caller when none
 * is. */
struct frame_job {
	struct trace_worker wk;
	ZSTD_CCtx *cctx;	 /**< the thread's own */
	struct frame_slot slots[FRAME_QUEUE];
	uint64_t given;		 /**< caller: frames given */
	uint64_t taken;		 /**< caller: results taken */
	uint64_t ran;		 /**< thread: frames run */
	int fd;			 /**< the events stream's */
	uint32_t seq;		 /**< sequence number of the thread's next frame */
	uint64_t end;		 /**< where it goes */
	int error;		 /**< thread: the first failure; it writes no more
				  * (read atomically by the caller too) */
};

struct trace_writer {
	int dir_fd;
	int files_fd;
	struct stream_out events;
	struct stream_out catalogue;
	ZSTD_CCtx *cctx;
	struct trace_wbuf records; /**< event records not yet in a frame */
	uint64_t nrecords;	   /**< how many */
	uint64_t oldest_ms;	   /**< when the oldest of them was added (now_ms()) */
	int error;		   /**< first failed write; sticky */
	struct kept_file *kept;
	size_t nkept;
	bool no_links;		   /**< a hard link into the trace failed with EXDEV */
	size_t kept_cap;
	struct trace_stats stats;
	struct frame_job job;
};

static int
pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		/* A short write means the next one reports why (ENOSPC,
		 * EFBIG); on a signal it simply goes on. */
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write one frame of @raw to @s. Failures to encode leave the file alone;
 * a failed write truncates it back and makes the writer's error sticky. */
static int
write_frame(struct trace_writer *w, struct stream_out *s, const void *raw, size_t raw_len,
	    size_t *ret_frame_len)
{
	_cleanup_free_ void *frame = NULL;
	size_t len;
	int r;

	if (w->error)
		return w->error;
	r = trace_frame_encode_cctx(w->cctx, s->kind, s->seq, raw, raw_len, &frame, &len);
	if (r < 0)
		return r;
	r = pwrite_all(s->fd, frame, len, s->end);
	if (r < 0) {
		if (ftruncate(s->fd, (off_t)s->end) < 0)
			log_debug("cannot truncate stream %d back to %" PRIu64 ": %m", s->kind,
				  s->end);
		w->error = r;
		return log_debug_errno(r, "writing frame %u of stream %d", s->seq, s->kind);
	}
	s->end += len;
	s->seq++;
	if (ret_frame_len)
		*ret_frame_len = len;
	return 0;
}

/* The writer's thread's job: its next frame, compressed and written after
 * the last one; none after a failure, whose error each later frame gets. */
static void
job_run(void *arg)
{
	struct frame_job *j = arg;
	struct frame_slot *sl = &j->slots[j->ran++ % FRAME_QUEUE];
	_cleanup_free_ void *frame = NULL;
	size_t len = 0;
	int r = __atomic_load_n(&j->error, __ATOMIC_RELAXED);

	if (r >= 0)
		r = trace_frame_encode_cctx(j->cctx, TRACE_STREAM_EVENTS, j->seq, sl->raw.data,
					    sl->raw.len, &frame, &len);
	if (r >= 0)
		r = pwrite_all(j->fd, frame, len, j->end);
	if (r < 0 && !j->error && r != -ENOMEM && r != -EINVAL)
		(void)ftruncate(j->fd, (off_t)j->end);
	if (r < 0)
		__atomic_store_n(&j->error, r, __ATOMIC_RELAXED);
	else {
		j->end += len;
		j->seq++;
	}
	sl->len = r < 0 ? 0 : len;
	sl->r = r;
}

/* Take the results of the frames the thread is done with, waiting first
 * until fewer than @below are pending (1: all done): the stream and the
 * figures grow, or the first error sticks. Returns the number still
 * pending, or the writer's error. */
static int
job_take(struct trace_writer *w, unsigned int below)
{
	struct frame_job *j = &w->job;
	unsigned int pending;

	if (!j->wk.started)
		return w->error;
	pending = trace_worker_wait_below(&j->wk, below);
	for (; j->taken < j->given - pending; j->taken++) {
		struct frame_slot *sl = &j->slots[j->taken % FRAME_QUEUE];
		int r = sl->r;

		sl->r = 0;
		/* do not hold on to the memory of an outsized record */
		if (sl->raw.cap > 4 * TRACE_FRAME_TARGET)
			trace_wbuf_free(&sl->raw);
		if (r < 0) {
			/* as write_frame(): a frame that cannot be encoded
			 * leaves the file alone; every failure ends the trace
			 * here, as the writer cannot give the frame's events
			 * back; nothing of it or after it counts */
			if (!w->error)
				log_debug_errno(r, "writing frame %u of the events stream",
						w->events.seq);
			w->error = w->error ?: r;
			sl->len = 0;
			continue;
		}
		w->events.end += sl->len;
		w->events.seq++;
		w->stats.frames++;
		w->stats.compressed_bytes += sl->len;
		w->stats.events_written += sl->nrec;
		sl->len = 0;
	}
	return w->error ?: (int)pending;
}

/* Wait for every frame the thread has and take their results. Returns 0 or
 * the writer's error. */
static int
job_wait(struct trace_writer *w)
{
	int r = job_take(w, 1);

	return r < 0 ? r : 0;
}

/* Start the writer's thread. Returns 0 or -errno. */
static int
job_start(struct trace_writer *w)
{
	struct frame_job *j = &w->job;

	if (!j->cctx)
		j->cctx = ZSTD_createCCtx();
	if (!j->cctx)
		return -ENOMEM;
	return trace_worker_start(&j->wk, job_run, j);
}

/* Give the first @n buffered record bytes, @nrec records, to the writer's
 * thread as a frame (after those it has); keep the rest. Without the
 * thread (it cannot start), write it here. */
static int
give_records(struct trace_writer *w, size_t n, uint64_t nrec)
{
	struct frame_job *j = &w->job;
	struct frame_slot *sl;
	struct trace_wbuf swap;
	int r;

	/* a slot free: fewer than FRAME_QUEUE pending */
	r = job_take(w, FRAME_QUEUE);
	if (r < 0)
		return r;
	if (!j->wk.started && job_start(w) < 0)
		return -ENOSYS; /* flush_records() writes it */
	sl = &j->slots[j->given % FRAME_QUEUE];
	/* the thread takes the buffer: the rest goes into the slot's last one */
	swap = sl->raw;
	sl->raw = w->records;
	w->records = swap;
	w->records.len = 0;
	if (sl->raw.len > n) {
		if (trace_wbuf_reserve(&w->records, sl->raw.len - n) < 0) {
			/* give it back as it was */
			swap = w->records;
			w->records = sl->raw;
			sl->raw = swap;
			return -ENOMEM;
		}
		memcpy(w->records.data, sl->raw.data + n, sl->raw.len - n);
		w->records.len = sl->raw.len - n;
	}
	sl->raw.len = n;
	w->nrecords -= nrec;
	sl->nrec = nrec;
	sl->len = 0;
	sl->r = 0;
	if (r == 0) {
		/* none pending: the thread's next frame goes where the stream ends */
		j->fd = w->events.fd;
		j->seq = w->events.seq;
		j->end = w->events.end;
	}
	j->given++;
	trace_worker_give(&j->wk);
	/* do not hold on to the memory of an outsized record */
	if (w->records.len == 0 && w->records.cap > 4 * TRACE_FRAME_TARGET)
		trace_wbuf_free(&w->records);
	return 0;
}

/* Write the first @n buffered record bytes, @nrec records, as a frame;
 * keep the rest. */
static int
flush_records(struct trace_writer *w, size_t n, uint64_t nrec)
{
	size_t len;
	int r;

	r = job_wait(w);
	if (r < 0)
		return r;
	r = write_frame(w, &w->events, w->records.data, n, &len);
	if (r < 0)
		return r;
	w->stats.frames++;
	w->stats.compressed_bytes += len;
	w->stats.events_written += nrec;
	w->nrecords -= nrec;
	memmove(w->records.data, w->records.data + n, w->records.len - n);
	w->records.len -= n;
	/* do not hold on to the memory of an outsized record */
	if (w->records.len == 0 && w->records.cap > 4 * TRACE_FRAME_TARGET)
		trace_wbuf_free(&w->records);
	return 0;
}

int
trace_writer_flush(struct trace_writer *w)
{
	int r = job_wait(w);

	if (r < 0)
		return r;
	if (w->records.len == 0)
		return 0;
	return flush_records(w, w->records.len, w->nrecords);
}

/* A frame's worth of records added: to the writer's thread, or written here
 * if it cannot start. */
static int
frame_full(struct trace_writer *w, size_t n, uint64_t nrec)
{
	int r = give_records(w, n, nrec);

	return r == -ENOSYS ? flush_records(w, n, nrec) : r;
}

/* Now, in ms of CLOCK_MONOTONIC_COARSE (a vDSO read, a few ns: it is read
 * at every record; its ticks, 1-4 ms, are fine enough for a frame's age). */
static uint64_t
now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int
trace_writer_add_event(struct trace_writer *w, const struct trace_event *ev)
{
	uint64_t now;
	size_t before = w->records.len;
	int r;

	if (w->error)
		return w->error;
	/* a frame the thread failed to write ends the trace now, not once
	 * the frames after it are given */
	if (__atomic_load_n(&w->job.error, __ATOMIC_RELAXED) && job_take(w, FRAME_QUEUE + 1) < 0)
		return w->error;
	r = trace_record_encode(&w->records, ev);
	if (r < 0)
		return r;
	w->stats.events++;
	w->stats.raw_bytes += (uint64_t)r;
	w->nrecords++;
	/* A record too big to share a frame with the buffered ones: those go
	 * first, in a frame of their own. */
	if (w->records.len > TRACE_FRAME_MAX_RAW) {
		r = frame_full(w, before, w->nrecords - 1);
		if (r < 0)
			return r;
	}
	if (w->records.len >= TRACE_FRAME_TARGET)
		return frame_full(w, w->records.len, w->nrecords);
	now = now_ms();
	if (before == 0)
		w->oldest_ms = now;
	else if (now - w->oldest_ms >= TRACE_FRAME_MAX_AGE_MS)
		return frame_full(w, w->records.len, w->nrecords);
	return 0;
}

static int
open_stream(int dir_fd, const char *name, enum trace_stream kind, struct stream_out *ret)
{
	int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	*ret = (struct stream_out){ .fd = fd, .kind = kind };
	return 0;
}

/* Undo trace_writer_open() after a failure: everything in @dir is ours. */
static void
remove_new_trace(const char *dir, int dir_fd)
{
	static const char *const names[] = { TRACE_HEADER_FILE, TRACE_EVENTS_FILE,
					     TRACE_CATALOGUE_FILE };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		(void)unlinkat(dir_fd, names[i], 0);
	(void)unlinkat(dir_fd, TRACE_FILES_DIR, AT_REMOVEDIR);
	(void)rmdir(dir);
}

static void
writer_free(struct trace_writer *w)
{
	int fds[] = { w->dir_fd, w->files_fd, w->events.fd, w->catalogue.fd };

	trace_worker_stop(&w->job.wk);
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	ZSTD_freeCCtx(w->cctx);
	ZSTD_freeCCtx(w->job.cctx);
	for (size_t i = 0; i < FRAME_QUEUE; i++)
		trace_wbuf_free(&w->job.slots[i].raw);
	trace_wbuf_free(&w->records);
	free(w->kept);
	free(w);
}

static int
write_header(struct trace_writer *w, const struct trace_header *hdr)
{
	struct trace_header h = *hdr;
	struct stream_out s = { .fd = -1, .kind = TRACE_STREAM_HEADER };
	struct trace_wbuf b = { 0 };
	int r;

	h.format_version = TRACE_FORMAT_VERSION;
	r = trace_header_encode(&b, &h);
	if (r >= 0)
		r = open_stream(w->dir_fd, TRACE_HEADER_FILE, TRACE_STREAM_HEADER, &s);
	if (r >= 0)
		r = write_frame(w, &s, b.data, b.len, NULL);
	if (s.fd >= 0)
		close(s.fd);
	trace_wbuf_free(&b);
	return r;
}

int
trace_writer_open(const char *dir, const struct trace_header *hdr, struct trace_writer **ret_w)
{
	struct trace_writer *w;
	int r;

	if (mkdir(dir, 0700) < 0)
		return log_debug_errno(-errno, "cannot create trace directory '%s'", dir);
	w = calloc(1, sizeof(*w));
	if (!w) {
		(void)rmdir(dir);
		return -ENOMEM;
	}
	w->files_fd = w->events.fd = w->catalogue.fd = -1;
	w->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dir_fd < 0) {
		r = -errno;
		goto err;
	}
	w->cctx = ZSTD_createCCtx();
	if (!w->cctx) {
		r = -ENOMEM;
		goto err;
	}
	if (mkdirat(w->dir_fd, TRACE_FILES_DIR, 0700) < 0) {
		r = -errno;
		goto err;
	}
	w->files_fd = openat(w->dir_fd, TRACE_FILES_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->files_fd < 0) {
		r = -errno;
		goto err;
	}
	r = write_header(w, hdr);
	if (r < 0)
		goto err;
	r = open_stream(w->dir_fd, TRACE_EVENTS_FILE, TRACE_STREAM_EVENTS, &w->events);
	if (r < 0)
		goto err;
	r = open_stream(w->dir_fd, TRACE_CATALOGUE_FILE, TRACE_STREAM_FILES, &w->catalogue);
	if (r < 0)
		goto err;
	*ret_w = w;
	return 0;

err:
	log_debug_errno(r, "cannot create trace '%s'", dir);
	if (w->dir_fd >= 0)
		remove_new_trace(dir, w->dir_fd);
	else
		(void)rmdir(dir);
	writer_free(w);
	return r;
}

/* Copy bytes [@in, @end) of @src to the same offsets of @dst. */
static int
copy_range(int src, int dst, loff_t in, uint64_t end, uint64_t *ret_end)
{
	_cleanup_free_ uint8_t *buf = NULL;
	loff_t out = in;
	const size_t chunk = 1 << 20;

	while ((uint64_t)in < end) {
		ssize_t n = copy_file_range(src, &in, dst, &out, end - (uint64_t)in, 0);

		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		/* EXDEV before 5.3 and across some filesystems, EINVAL or
		 * EOPNOTSUPP where the filesystem has no support, ENOSYS on
		 * old kernels; 0 at the end, or on filesystems (procfs) that
		 * report nothing: the loop below finds out which. */
		if (n < 0 && errno != EXDEV && errno != EINVAL && errno != EOPNOTSUPP &&
		    errno != ENOSYS)
			return -errno;
		break;
	}

	while ((uint64_t)in < end) {
		size_t want = (size_t)MIN((uint64_t)chunk, end - (uint64_t)in);
		ssize_t n;
		int r;

		if (!buf) {
			buf = malloc(chunk);
			if (!buf)
				return -ENOMEM;
		}
		n = pread(src, buf, want, in);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		r = pwrite_all(dst, buf, (size_t)n, (uint64_t)out);
		if (r < 0)
			return r;
		in += n;
		out += n;
	}
	*ret_end = (uint64_t)in;
	return 0;
}

/* Copy the data of @src's first @size bytes into the empty file @dst and
 * leave its holes holes (lseek(2) SEEK_DATA/SEEK_HOLE, Linux 3.1; a
 * filesystem without them reports the whole file as data): a sparse file of
 * 4 GiB with three pages written costs three pages. Stores the size copied. */
static int
copy_sparse(int src, int dst, uint64_t size, uint64_t *ret_copied)
{
	uint64_t pos = 0, got;
	int r;

	while (pos < size) {
		off_t data = lseek(src, (off_t)pos, SEEK_DATA), hole;

		if (data < 0) {
			if (errno == ENXIO)
				break; /* only a hole is left */
			return -errno;
		}
		if ((uint64_t)data >= size)
			break;
		hole = lseek(src, data, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		r = copy_range(src, dst, data, MIN((uint64_t)hole, size), &got);
		if (r < 0)
			return r;
		if (got < MIN((uint64_t)hole, size)) { /* the file shrank meanwhile */
			size = got;
			break;
		}
		pos = (uint64_t)hole;
	}
	/* the size, with the trailing hole */
	if (ftruncate(dst, (off_t)size) < 0)
		return -errno;
	*ret_copied = size;
	return 0;
}

/* Copy @size bytes of @src into the empty file @dst: a reflink (FICLONE,
 * btrfs/xfs), else its data segments with copy_file_range(2) (in-kernel,
 * and server-side on NFS), else read/write, holes left holes. @src's file
 * offset belongs to whoever opened it: it is restored. Stores the bytes
 * copied, which are fewer than @size if the file shrank meanwhile. */
static int
copy_content(int src, int dst, uint64_t size, uint64_t *ret_copied)
{
	loff_t in = 0;
	uint64_t got;
	struct stat st;
	off_t saved;
	int r;

	if (ioctl(dst, FICLONE, src) == 0) {
		/* the clone is the whole file, as it is now */
		if (fstat(dst, &st) < 0)
			return -errno;
		if ((uint64_t)st.st_size > size && ftruncate(dst, (off_t)size) < 0)
			return -errno;
		*ret_copied = MIN((uint64_t)st.st_size, size);
		return 0;
	}
	/* SEEK_DATA moves the offset the fd shares with its other users */
	saved = lseek(src, 0, SEEK_CUR);
	if (saved >= 0) {
		r = copy_sparse(src, dst, size, ret_copied);
		if (lseek(src, saved, SEEK_SET) < 0 && r >= 0)
			r = -errno;
		if (r != -EINVAL && r != -ESPIPE)
			return r;
		if (ftruncate(dst, 0) < 0)
			return -errno;
	}
	r = copy_range(src, dst, in, size, &got);
	if (r < 0)
		return r;
	*ret_copied = got;
	return 0;
}

/* A kept file's copy that the filesystem refused to store (full, over
 * quota, over RLIMIT_FSIZE, failing) ends the trace as a failed frame does:
 * the error sticks. Returns @r. */
static int
storage_error(struct trace_writer *w, int r)
{
	if (r == -ENOSPC || r == -EDQUOT || r == -EFBIG || r == -EIO)
		w->error = r;
	return r;
}

/* "ID-basename", cut to TRACE_COPY_NAME_MAX bytes. */
static void
copy_name(char *buf, size_t len, uint32_t id, const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		base = "file";
	snprintf(buf, len, "%u-%s", id, base);
}

/*
 * Whether the file @path (@st) may be kept by a hard link instead of a copy:
 * a regular file of the system's package-managed trees, owned by root and
 * writable by no one else. Package managers (dpkg, rpm) never write such a
 * file in place: they rename a new file over its path, so the inode the link
 * holds keeps the content the program mapped for as long as the trace lives.
 * (Root writing a mapped library in place would crash its users natively.)
 * Anything else (the user's programs and data, files others may write, a
 * file seen to change while recorded) is copied. A link across filesystems fails (EXDEV), and so does one that
 * fs.protected_hardlinks forbids (EPERM): then it is copied too.
 */
static bool
may_link(const char *path, const struct stat *st)
{
	static const char *const trees[] = { "/usr/", "/lib/", "/lib64/", "/bin/", "/sbin/" };
	struct stat at;

	if (!S_ISREG(st->st_mode) || st->st_uid != 0 || (st->st_mode & (S_IWGRP | S_IWOTH)))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(trees); i++)
		if (strncmp(path, trees[i], strlen(trees[i])) == 0)
			/* @path must name the file itself, not only say so */
			return !strstr(path, "/../") && stat(path, &at) == 0 &&
			       at.st_dev == st->st_dev && at.st_ino == st->st_ino;
	return false;
}

/* Keep @fd (@st, at @path) as @name in the trace's files: a hard link where
 * may_link() allows it, else a copy (with @link_only: -EXDEV, no copy).
 * Stores the size kept. */
static int
keep_content(struct trace_writer *w, int fd, const char *path, const struct stat *st,
	     bool link_ok, bool link_only, const char *name, uint64_t *ret_copied)
{
	char self[64];
	int dst, r;

	if (link_ok && !w->no_links && may_link(path, st)) {
		snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
		if (linkat(AT_FDCWD, self, w->files_fd, name, AT_SYMLINK_FOLLOW) == 0) {
			*ret_copied = (uint64_t)st->st_size;
			return 0;
		}
		/* the trace on another filesystem: no file will link */
		if (errno == EXDEV)
			w->no_links = true;
		log_debug("cannot link '%s' into the trace (%s)%s", path, strerror(errno),
			  link_only ? "" : ": copied");
	}
	if (link_only)
		return -EXDEV;
	/* executables stay executable (by the owner only): replay execs the copy */
	dst = openat(w->files_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		     (st->st_mode & 0111) ? 0700 : 0600);
	if (dst < 0)
		return log_debug_errno(storage_error(w, -errno), "cannot create copy of '%s'", path);
	r = copy_content(fd, dst, (uint64_t)st->st_size, ret_copied);
	close(dst);
	if (r < 0) {
		storage_error(w, r);
		(void)unlinkat(w->files_fd, name, 0);
		return log_debug_errno(r, "cannot keep '%s'", path);
	}
	return 0;
}

/* The catalogue entry of file @id (@size bytes kept as @name, from @path,
 * first version @first_id), on disk before the caller can write an event
 * naming @id, so a reader never meets an unknown id in a whole frame. */
static int
write_entry(struct trace_writer *w, uint32_t id, uint64_t size, const char *path,
	    const char *name, uint32_t first_id)
{
	struct trace_file_entry e = { .id = id, .size = size, .original = (char *)path,
				      .copy_name = (char *)name, .first_id = first_id };
	struct trace_wbuf b = { 0 };
	int r;

	r = trace_file_entry_encode(&b, &e);
	if (r >= 0)
		r = write_frame(w, &w->catalogue, b.data, b.len, NULL);
	trace_wbuf_free(&b);
	return r;
}

int
trace_writer_keep_data(struct trace_writer *w, const void *data, size_t len, const char *path,
		       uint32_t *ret_id)
{
	char name[TRACE_COPY_NAME_MAX + 1];
	uint32_t id;
	int fd, r;

	if (w->error)
		return w->error;
	if (!path)
		return -EINVAL;
	id = w->catalogue.seq;
	copy_name(name, sizeof(name), id, path);
	/* an image uprr made (a patched vDSO, the preload library) is kept
	 * executable by its owner, as a copy of its memfd was */
	fd = openat(w->files_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
	if (fd < 0)
		return log_debug_errno(storage_error(w, -errno), "cannot create '%s'", name);
	r = pwrite_all(fd, data, len, 0);
	close(fd);
	if (r >= 0)
		r = write_entry(w, id, len, path, name, id);
	if (r < 0) {
		storage_error(w, r);
		(void)unlinkat(w->files_fd, name, 0);
		return log_debug_errno(r, "cannot keep '%s'", path);
	}
	w->stats.file_bytes += len;
	*ret_id = id;
	return 0;
}

int
trace_writer_keep_file(struct trace_writer *w, int fd, const char *path, unsigned flags,
		       uint32_t *ret_id)
{
	char name[TRACE_COPY_NAME_MAX + 1];
	struct stat st;
	uint64_t copied = 0;
	int r;
	const struct kept_file *first = NULL, *latest = NULL;
	uint32_t id, first_id;

	if (w->error)
		return w->error;
	if (!path)
		return -EINVAL;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	/* the file's first and latest versions; only the latest can be it */
	for (size_t i = 0; i < w->nkept; i++)
		if (w->kept[i].dev == st.st_dev && w->kept[i].ino == st.st_ino) {
			first = first ? first : &w->kept[i];
			latest = &w->kept[i];
		}
	if (latest && !(flags & TRACE_KEEP_CHANGED) && latest->size == st.st_size &&
	    latest->mtim.tv_sec == st.st_mtim.tv_sec && latest->mtim.tv_nsec == st.st_mtim.tv_nsec) {
		*ret_id = latest->id;
		return 0;
	}
	/* a file seen to change is never linked */
	if ((flags & TRACE_KEEP_LINK_ONLY) && (first || (flags & TRACE_KEEP_CHANGED) || w->no_links))
		return -EXDEV;
	id = w->catalogue.seq;
	first_id = first ? first->id : id;
	if (UTIL_GROW(w->kept, w->kept_cap, w->nkept + 1) < 0)
		return -ENOMEM;

	copy_name(name, sizeof(name), id, path);
	/* a file that changes while recorded is copied, version by version */
	r = keep_content(w, fd, path, &st, !first && !(flags & TRACE_KEEP_CHANGED),
			 flags & TRACE_KEEP_LINK_ONLY, name, &copied);
	if (r < 0)
		return r;

	r = write_entry(w, id, copied, path, name, first_id);
	if (r < 0)
		goto err;

	w->kept[w->nkept++] = (struct kept_file){ .dev = st.st_dev, .ino = st.st_ino,
						  .size = st.st_size, .mtim = st.st_mtim,
						  .id = id };
	w->stats.file_bytes += copied;
	*ret_id = id;
	return 0;

err:
	(void)unlinkat(w->files_fd, name, 0);
	return log_debug_errno(r, "cannot keep '%s'", path);
}

void
trace_writer_stats(struct trace_writer *w, struct trace_stats *ret_stats)
{
	(void)job_wait(w); /* the frames the thread has, counted */
	*ret_stats = w->stats;
}

int
trace_writer_close(struct trace_writer *w)
{
	int r;

	if (!w)
		return 0;
	r = trace_writer_flush(w);
	writer_free(w);
	return r;
}
