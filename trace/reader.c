/* SPDX-License-Identifier: MIT */
/*
 * The trace reader. The header and the catalogue are read at open; the
 * events stream is read one frame at a time (header, then payload, with
 * pread at tracked offsets), so memory stays at two frames however long the
 * trace is: a thread of the reader's own reads and decodes the next one
 * while the caller consumes the current one. Errors are sticky and described in one line for the CLI.
 */
#define LOG_PREFIX "trace"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "trace/trace-private.h"
#include "trace/worker.h"

/* An input stream: a file of frames. */
struct stream_in {
	int fd;
	enum trace_stream kind;
	const char *name; /**< for messages: "events", "files", "header" */
	uint64_t off;	  /**< offset of the next frame */
	uint32_t seq;	  /**< sequence number of the next frame */
};

/* The events stream's next frame, read and decoded ahead by a thread of
 * the reader's own. The thread owns everything below the lock while busy. */
struct prefetch {
	struct trace_worker wk;
	bool failed;  /**< it could not start: frames are read in the caller */
	bool given;   /**< a frame was given and its result not taken */
	ZSTD_DCtx *dctx; /**< the thread's own */
	int fd;
	uint64_t off;	 /**< the frame's offset */
	uint32_t seq;	 /**< and sequence number */
	uint8_t *cbuf;
	size_t cbuf_cap;
	uint8_t *raw;
	size_t raw_cap;
	size_t raw_len;	  /**< result: the decoded length */
	size_t frame_len; /**< result: the bytes the frame took */
	const char *why;  /**< result: with -EBADMSG */
	int ret;	  /**< result: as read_frame()'s */
};

/* A kept file, indexed by id. */
struct catalogue_entry {
	char *copy_path; /**< DIR/files/NAME */
	char *original;
	uint32_t first_id; /**< first kept version of the same file */
};

struct trace_reader {
	char *dir;
	struct trace_header hdr;
	struct stream_in events;
	ZSTD_DCtx *dctx;
	uint8_t *cbuf; /**< compressed payload of the current frame */
	size_t cbuf_cap;
	uint8_t *raw; /**< decompressed payload of the current frame */
	size_t raw_cap;
	size_t raw_len;
	size_t raw_pos; /**< next record in @raw */
	struct trace_blob *blobs;
	size_t blobs_cap;
	struct catalogue_entry *files;
	size_t nfiles;
	int error; /**< sticky: 0, or the error every later next() returns */
	bool at_end;
	uint8_t last_type; /**< of the last event read (0: none yet) */
	char errmsg[PATH_MAX + 256];
	struct trace_stats stats;
	struct prefetch pf;
	struct stream_in cat; /**< the catalogue, read on by trace_reader_follow() */
};

static void
format_error(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
format_error(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static ssize_t
pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, p + done, len - done, (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static int
grow(uint8_t **buf, size_t *cap, size_t need)
{
	uint8_t *p;

	need = MAX(need, (size_t)1);
	if (need <= *cap)
		return 0;
	/* free first: the old contents are not needed, and this halves the
	 * peak for large frames */
	free(*buf);
	*buf = NULL;
	*cap = 0;
	p = malloc(need);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = need;
	return 0;
}

/*
 * Read and decode the frame of stream @kind at @off of @fd, sequence number
 * @seq, into *@raw (grown as needed, as *@cbuf for its payload). Returns 1
 * for a frame (its decoded length in *ret_raw_len, the bytes it took in
 * *ret_frame_len), 0 at a clean end, -ENODATA if the file ends inside the
 * frame, -EBADMSG with *ret_why, or another -errno. Touches no reader, so
 * the prefetch thread calls it too.
 */
static int
decode_frame(int fd, enum trace_stream kind, uint64_t off, uint32_t seq, ZSTD_DCtx *dctx,
	     uint8_t **cbuf, size_t *cbuf_cap, uint8_t **raw, size_t *raw_cap, size_t *ret_raw_len,
	     const char **ret_why, size_t *ret_frame_len)
{
	uint8_t hdr[TRACE_FRAME_HEADER_SIZE];
	struct trace_frame_info info;
	ssize_t n;
	int ret;

	n = pread_all(fd, hdr, sizeof(hdr), off);
	if (n < 0)
		return (int)n;
	if (n == 0)
		return 0;
	if (memcmp(hdr, TRACE_FRAME_MAGIC, MIN((size_t)n, (size_t)4)) != 0) {
		*ret_why = "bad magic";
		return -EBADMSG;
	}
	if ((size_t)n < sizeof(hdr))
		return -ENODATA;
	ret = trace_frame_parse_header(hdr, kind, seq, &info, ret_why);
	if (ret < 0)
		return ret;

	ret = grow(cbuf, cbuf_cap, info.compressed_len);
	if (ret < 0)
		return ret;
	n = pread_all(fd, *cbuf, info.compressed_len, off + sizeof(hdr));
	if (n < 0)
		return (int)n;
	if ((size_t)n < info.compressed_len)
		return -ENODATA;
	ret = grow(raw, raw_cap, info.raw_len);
	if (ret < 0)
		return ret;
	ret = trace_frame_decode_payload(dctx, hdr, *cbuf, &info, *raw, ret_why);
	if (ret < 0)
		return ret;
	*ret_raw_len = info.raw_len;
	*ret_frame_len = sizeof(hdr) + info.compressed_len;
	return 1;
}

/*
 * Read the next frame of @s into r->raw. Returns 1 for a frame, 0 at a clean
 * end, -ENODATA if the file ends inside the frame, -EBADMSG with *ret_why,
 * or another -errno. Stores the bytes the frame took in *ret_frame_len.
 */
static int
read_frame(struct trace_reader *r, struct stream_in *s, const char **ret_why,
	   size_t *ret_frame_len)
{
	size_t raw_len = 0;
	int ret;

	r->raw_len = r->raw_pos = 0;
	ret = decode_frame(s->fd, s->kind, s->off, s->seq, r->dctx, &r->cbuf, &r->cbuf_cap, &r->raw,
			   &r->raw_cap, &raw_len, ret_why, ret_frame_len);
	if (ret <= 0)
		return ret;
	r->raw_len = raw_len;
	s->off += *ret_frame_len;
	s->seq++;
	return 1;
}

/* The prefetch thread's job: the frame it is given, read and decoded into
 * its own buffers. */
static void
prefetch_run(void *arg)
{
	struct prefetch *pf = arg;

	pf->why = "";
	pf->ret = decode_frame(pf->fd, TRACE_STREAM_EVENTS, pf->off, pf->seq, pf->dctx, &pf->cbuf,
			       &pf->cbuf_cap, &pf->raw, &pf->raw_cap, &pf->raw_len, &pf->why,
			       &pf->frame_len);
}

/* Start the prefetch thread. Returns 0 or -errno. */
static int
prefetch_start(struct prefetch *pf)
{
	if (!pf->dctx)
		pf->dctx = ZSTD_createDCtx();
	if (!pf->dctx)
		return -ENOMEM;
	return trace_worker_start(&pf->wk, prefetch_run, pf);
}

/* Give the thread the events frame at @s (it must be idle). */
static void
prefetch_give(struct prefetch *pf, const struct stream_in *s)
{
	pf->fd = s->fd;
	pf->off = s->off;
	pf->seq = s->seq;
	pf->given = true;
	trace_worker_give(&pf->wk);
}

/*
 * Read the next frame of the events stream into r->raw, as read_frame()
 * does, from the prefetch thread where it has it: the thread decodes frame
 * K+1 on another CPU while replay consumes frame K (decompression took a
 * third of replay's CPU time in `cp -r`'s replay). The same results, at the
 * same frame. The thread starts after the first full frame (TRACE_FRAME_TARGET
 * raw bytes: a trace with more to come); small traces (`uprr info` of a
 * short run, the fuzzer's inputs) are read without it.
 */
static int
read_events_frame(struct trace_reader *r, const char **ret_why, size_t *ret_frame_len)
{
	struct prefetch *pf = &r->pf;
	uint8_t *swap_buf;
	size_t swap_cap;
	int ret;

	if (!pf->given) {
		ret = read_frame(r, &r->events, ret_why, ret_frame_len);
		if (ret <= 0 || pf->failed || r->raw_len < TRACE_FRAME_TARGET)
			return ret;
		if (!pf->wk.started && prefetch_start(pf) < 0) {
			pf->failed = true; /* read in the caller from now on */
			return ret;
		}
		prefetch_give(pf, &r->events);
		return ret;
	}
	r->raw_len = r->raw_pos = 0;
	trace_worker_wait(&pf->wk);
	pf->given = false;
	ret = pf->ret;
	if (ret <= 0) {
		*ret_why = pf->why;
		return ret;
	}
	/* the thread's buffer becomes the current frame; the current one,
	 * whose records are all consumed, takes the next */
	swap_buf = r->raw;
	swap_cap = r->raw_cap;
	r->raw = pf->raw;
	r->raw_cap = pf->raw_cap;
	pf->raw = swap_buf;
	pf->raw_cap = swap_cap;
	r->raw_len = pf->raw_len;
	*ret_frame_len = pf->frame_len;
	r->events.off += pf->frame_len;
	r->events.seq++;
	prefetch_give(pf, &r->events);
	return 1;
}

/* Stop the prefetch thread and free its buffers. */
static void
prefetch_stop(struct prefetch *pf)
{
	trace_worker_stop(&pf->wk);
	ZSTD_freeDCtx(pf->dctx);
	free(pf->cbuf);
	free(pf->raw);
}

/* The one-line message for a failed read_frame() of stream @s. */
static void
frame_error(const struct trace_reader *r, const struct stream_in *s, int err, const char *why,
	    char *buf, size_t len)
{
	if (err == -ENODATA)
		format_error(buf, len, "trace '%s' ends in the middle of frame %u", r->dir, s->seq);
	else if (err == -EBADMSG)
		format_error(buf, len, "trace '%s': frame %u of the %s stream is corrupt (%s)",
			     r->dir, s->seq, s->name, why);
	else
		format_error(buf, len, "trace '%s': cannot read the %s stream: %s", r->dir,
			     s->name, strerror(-err));
}

static int
read_header(struct trace_reader *r, int dir_fd, char *errbuf, size_t errlen)
{
	struct stream_in s = { .kind = TRACE_STREAM_HEADER, .name = "header" };
	const char *why = "";
	uint32_t version;
	uint8_t extra;
	size_t len;
	int ret;

	s.fd = openat(dir_fd, TRACE_HEADER_FILE, O_RDONLY | O_CLOEXEC);
	if (s.fd < 0) {
		ret = -errno;
		if (ret == -ENOENT)
			format_error(errbuf, errlen, "'%s' is not a uprr trace (no header file)",
				     r->dir);
		else
			format_error(errbuf, errlen, "trace '%s': cannot open the header: %s",
				     r->dir, strerror(-ret));
		return ret;
	}
	ret = read_frame(r, &s, &why, &len);
	/* the header file is one frame and nothing after it */
	if (ret > 0 && pread(s.fd, &extra, 1, s.off) != 0) {
		why = "bytes after the header frame";
		ret = -EBADMSG;
	}
	close(s.fd);
	if (ret == 0 || ret == -ENODATA) {
		format_error(errbuf, errlen, "trace '%s' ends in the middle of its header", r->dir);
		return -ENODATA;
	}
	if (ret == -EBADMSG && strcmp(why, "bad magic") == 0) {
		format_error(errbuf, errlen, "'%s' is not a uprr trace (bad header file)", r->dir);
		return ret;
	}
	if (ret == -EBADMSG) {
		format_error(errbuf, errlen, "trace '%s': the header is corrupt (%s)", r->dir, why);
		return ret;
	}
	if (ret < 0) {
		format_error(errbuf, errlen, "trace '%s': cannot read the header: %s", r->dir,
			     strerror(-ret));
		return ret;
	}

	ret = trace_header_peek_version(r->raw, r->raw_len, &version);
	if (ret >= 0 && version > TRACE_FORMAT_VERSION) {
		format_error(errbuf, errlen,
			     "'%s' is format version %u; this uprr reads up to %u — upgrade uprr",
			     r->dir, version, TRACE_FORMAT_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (ret >= 0)
		ret = trace_header_decode(r->raw, r->raw_len, &r->hdr);
	if (ret == -ENOMEM) {
		format_error(errbuf, errlen, "trace '%s': out of memory", r->dir);
		return ret;
	}
	if (ret < 0) {
		format_error(errbuf, errlen, "trace '%s': the header is corrupt (bad contents)",
			     r->dir);
		return -EBADMSG;
	}
	return 0;
}

static int
add_catalogue_entry(struct trace_reader *r, const struct trace_file_entry *e)
{
	struct catalogue_entry *p;
	char *path;

	if (asprintf(&path, "%s/" TRACE_FILES_DIR "/%s", r->dir, e->copy_name) < 0)
		return -ENOMEM;
	p = realloc(r->files, (r->nfiles + 1) * sizeof(*p));
	if (!p) {
		free(path);
		return -ENOMEM;
	}
	r->files = p;
	p[r->nfiles].copy_path = path;
	p[r->nfiles].first_id = e->first_id;
	p[r->nfiles].original = strdup(e->original);
	if (!p[r->nfiles].original) {
		free(path);
		return -ENOMEM;
	}
	r->nfiles++;
	r->stats.file_bytes += e->size;
	return 0;
}

/* Read the catalogue's frames from where the last read stopped. A
 * catalogue cut inside its last frame is what a killed recorder leaves (or
 * one still writing it: trace_reader_follow()); that entry was never
 * referred to by a whole events frame, so it is left out (for now). A
 * corrupt frame fails. */
static int
read_catalogue_more(struct trace_reader *r, char *errbuf, size_t errlen)
{
	struct stream_in *s = &r->cat;
	int ret = 0;

	for (;;) {
		struct trace_file_entry e = { 0 };
		const char *why = "";
		size_t len;

		ret = read_frame(r, s, &why, &len);
		if (ret == 0)
			break;
		if (ret == -ENODATA) {
			log_debug("trace '%s': files stream cut in frame %u", r->dir, s->seq);
			ret = 0;
			break;
		}
		if (ret > 0) {
			ret = trace_file_entry_decode(r->raw, r->raw_len, &e);
			if (ret >= 0 && e.id != s->seq - 1) {
				trace_file_entry_free(&e);
				ret = -EBADMSG;
			}
			if (ret == -EBADMSG) {
				why = "bad entry";
				s->seq--; /* name the frame just read */
			}
		}
		if (ret >= 0) {
			ret = add_catalogue_entry(r, &e);
			trace_file_entry_free(&e);
		}
		if (ret < 0) {
			frame_error(r, s, ret, why, errbuf, errlen);
			break;
		}
	}
	/* the events' reads start a frame anew */
	r->raw_len = r->raw_pos = 0;
	return ret;
}

/* Load the catalogue of kept files (read_catalogue_more()); its stream
 * stays open for trace_reader_follow(). */
static int
read_catalogue(struct trace_reader *r, int dir_fd, char *errbuf, size_t errlen)
{
	int ret;

	r->cat = (struct stream_in){ .kind = TRACE_STREAM_FILES, .name = "files" };
	r->cat.fd = openat(dir_fd, TRACE_CATALOGUE_FILE, O_RDONLY | O_CLOEXEC);
	if (r->cat.fd < 0) {
		ret = -errno;
		format_error(errbuf, errlen, "trace '%s': cannot open the files stream: %s",
			     r->dir, strerror(-ret));
		return ret;
	}
	return read_catalogue_more(r, errbuf, errlen);
}

int
trace_reader_open(const char *dir, struct trace_reader **ret_r, char *errbuf, size_t errlen)
{
	_cleanup_close_ int dir_fd = -1;
	struct trace_reader *r;
	struct stat st;
	int ret;

	format_error(errbuf, errlen, "%s", "");
	if (stat(dir, &st) < 0) {
		ret = -errno;
		if (ret == -ENOENT)
			format_error(errbuf, errlen, "'%s': no such trace directory", dir);
		else
			format_error(errbuf, errlen, "'%s': %s", dir, strerror(-ret));
		return ret;
	}
	if (!S_ISDIR(st.st_mode)) {
		format_error(errbuf, errlen, "'%s' is not a uprr trace (not a directory)", dir);
		return -ENOTDIR;
	}
	dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0) {
		ret = -errno;
		format_error(errbuf, errlen, "'%s': %s", dir, strerror(-ret));
		return ret;
	}

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->events = (struct stream_in){ .fd = -1, .kind = TRACE_STREAM_EVENTS, .name = "events" };
	r->dir = strdup(dir);
	r->dctx = ZSTD_createDCtx();
	if (!r->dir || !r->dctx) {
		format_error(errbuf, errlen, "trace '%s': out of memory", dir);
		ret = -ENOMEM;
		goto err;
	}
	ret = read_header(r, dir_fd, errbuf, errlen);
	if (ret < 0)
		goto err;
	ret = read_catalogue(r, dir_fd, errbuf, errlen);
	if (ret < 0)
		goto err;
	r->events.fd = openat(dir_fd, TRACE_EVENTS_FILE, O_RDONLY | O_CLOEXEC);
	if (r->events.fd < 0) {
		ret = -errno;
		format_error(errbuf, errlen, "trace '%s': cannot open the events stream: %s", dir,
			     strerror(-ret));
		goto err;
	}
	(void)posix_fadvise(r->events.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	r->raw_len = r->raw_pos = 0;
	*ret_r = r;
	return 0;

err:
	log_debug("%s", errbuf ? errbuf : "cannot open trace");
	trace_reader_close(r);
	return ret;
}

const struct trace_header *
trace_reader_header(const struct trace_reader *r)
{
	return &r->hdr;
}

int
trace_reader_next(struct trace_reader *r, struct trace_event *ret_ev)
{
	if (r->error)
		return r->error;
	while (!r->at_end) {
		const char *why = "";
		size_t len;
		int ret;

		if (r->raw_pos < r->raw_len) {
			struct trace_rcur c = { r->raw + r->raw_pos, r->raw_len - r->raw_pos };
			struct trace_event ev;

			ret = trace_record_decode(&c, &ev, &r->blobs, &r->blobs_cap);
			if (ret < 0) {
				/* the frame was counted when read: name it */
				struct stream_in s = r->events;
				char what[64];

				s.seq--;
				snprintf(what, sizeof(what), "bad record at byte %zu", r->raw_pos);
				frame_error(r, &s, ret, what, r->errmsg, sizeof(r->errmsg));
				r->error = ret;
				return ret;
			}
			r->raw_pos = r->raw_len - c.left;
			r->stats.events++;
			r->last_type = ev.type;
			*ret_ev = ev;
			return 1;
		}

		ret = read_events_frame(r, &why, &len);
		if (ret < 0) {
			frame_error(r, &r->events, ret, why, r->errmsg, sizeof(r->errmsg));
			r->error = ret;
			return ret;
		}
		if (ret == 0) {
			r->at_end = true;
			break;
		}
		r->stats.frames++;
		r->stats.raw_bytes += r->raw_len;
		r->stats.compressed_bytes += len;
	}
	return 0;
}

void
trace_reader_set_follow(struct trace_reader *r)
{
	/* no frame read ahead on another thread: it could find one half
	 * written */
	r->pf.failed = true;
}

int
trace_reader_follow(struct trace_reader *r)
{
	size_t raw_len = r->raw_len, raw_pos = r->raw_pos;
	int ret;

	if (r->error)
		return r->error;
	if (raw_pos < raw_len)
		return 0; /* not at the end yet */
	r->at_end = false;
	ret = read_catalogue_more(r, r->errmsg, sizeof(r->errmsg));
	if (ret < 0)
		r->error = ret;
	return ret;
}

bool
trace_reader_complete(const struct trace_reader *r)
{
	if (!r->at_end)
		return false; /* not at the end yet, or cut inside a frame */
	/* format 6 added the end event; before it, a clean end is all */
	return r->hdr.format_version < 6 || r->last_type == TRACE_EV_END;
}

/* The last record of the @len bytes of records at @raw: its type into
 * *ret_type (0: none). Returns 0 or -EBADMSG. */
static int
last_record_type(const uint8_t *raw, size_t len, uint8_t *ret_type)
{
	struct trace_rcur c = { raw, len };
	struct trace_blob *blobs = NULL;
	size_t blobs_cap = 0;
	int ret = 0;

	*ret_type = 0;
	while (c.left) {
		struct trace_event ev;

		ret = trace_record_decode(&c, &ev, &blobs, &blobs_cap);
		if (ret < 0)
			break;
		*ret_type = ev.type;
	}
	free(blobs);
	return ret < 0 ? ret : 0;
}

int
trace_reader_has_end(struct trace_reader *r, bool *ret_ended)
{
	_cleanup_free_ uint8_t *cbuf = NULL, *raw = NULL;
	_cleanup_free_ uint64_t *offs = NULL;
	size_t cbuf_cap = 0, raw_cap = 0, nframes = 0, offs_cap = 0;
	uint64_t off = 0;
	const char *why = "";
	struct stat st;
	int ret;

	*ret_ended = false;
	if (fstat(r->events.fd, &st) < 0)
		return -errno;
	/* the frame headers one after the other, to the last whole frame */
	for (;;) {
		uint8_t hdr[TRACE_FRAME_HEADER_SIZE];
		struct trace_frame_info info;
		ssize_t n = pread_all(r->events.fd, hdr, sizeof(hdr), off);

		if (n < 0)
			return (int)n;
		if (n == 0)
			break;
		if ((size_t)n < sizeof(hdr))
			return 0; /* cut inside a frame header */
		ret = trace_frame_parse_header(hdr, TRACE_STREAM_EVENTS, (uint32_t)nframes, &info,
					       &why);
		if (ret < 0)
			return ret;
		if ((uint64_t)st.st_size - off - sizeof(hdr) < info.compressed_len)
			return 0; /* cut inside a frame's payload */
		if (UTIL_GROW(offs, offs_cap, nframes + 1) < 0)
			return -ENOMEM;
		offs[nframes++] = off;
		off += sizeof(hdr) + info.compressed_len;
	}
	/* the last event is in the last frame that holds any */
	while (nframes--) {
		size_t raw_len = 0, frame_len = 0;
		uint8_t type;

		ret = decode_frame(r->events.fd, TRACE_STREAM_EVENTS, offs[nframes],
				   (uint32_t)nframes, NULL, &cbuf, &cbuf_cap, &raw, &raw_cap, &raw_len,
				   &why, &frame_len);
		if (ret <= 0)
			return ret == 0 ? -ENODATA : ret; /* shrunk meanwhile */
		ret = last_record_type(raw, raw_len, &type);
		if (ret < 0)
			return ret;
		if (type) {
			*ret_ended = type == TRACE_EV_END;
			return 0;
		}
	}
	return 0;
}

const char *
trace_reader_error(const struct trace_reader *r)
{
	return r->errmsg;
}

int
trace_reader_file(struct trace_reader *r, uint32_t id, const char **ret_copy,
		  const char **ret_original)
{
	if (id >= r->nfiles)
		return -ENOENT;
	if (ret_copy)
		*ret_copy = r->files[id].copy_path;
	if (ret_original)
		*ret_original = r->files[id].original;
	return 0;
}

int
trace_reader_fill_ref(struct trace_reader *r, struct trace_ref_file *cache, const struct trace_sb_ref *ref,
		      uint8_t *dst, char *why, size_t why_len)
{
	const char *copy = NULL, *original = NULL;
	uint8_t hash[TRACE_HASH_SIZE];
	ssize_t got = 0, n;

	if (trace_reader_file(r, ref->file, &copy, &original) < 0)
		return -EBADMSG;
	if (!cache->fd || cache->id != ref->file) {
		int fd = open(copy, O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			snprintf(why, why_len, "cannot open the trace's link to %.300s (%s): %s", original,
				 copy, strerror(errno));
			return -ESTALE;
		}
		trace_ref_file_close(cache);
		cache->fd = fd + 1;
		cache->id = ref->file;
	}
	while ((size_t)got < ref->len) {
		n = pread(cache->fd - 1, dst + got, ref->len - (size_t)got, (off_t)(ref->offset + (uint64_t)got));
		if (n <= 0)
			break;
		got += n;
	}
	trace_hash128(dst, ref->len, hash);
	if ((size_t)got == ref->len && memcmp(hash, ref->hash, sizeof(hash)) == 0)
		return 0;
	snprintf(why, why_len, "%.300s (kept in the trace as %s) changed since it was recorded: "
		 "the %u bytes read at offset %" PRIu64 " differ", original, copy, ref->len, ref->offset);
	return -ESTALE;
}

void
trace_ref_file_close(struct trace_ref_file *cache)
{
	if (cache->fd)
		close(cache->fd - 1);
	cache->fd = 0;
}

int
trace_reader_file_first(const struct trace_reader *r, uint32_t id, uint32_t *ret_first)
{
	if (id >= r->nfiles)
		return -ENOENT;
	*ret_first = r->files[id].first_id;
	return 0;
}

void
trace_reader_stats(const struct trace_reader *r, struct trace_stats *ret_stats)
{
	*ret_stats = r->stats;
}

void
trace_reader_close(struct trace_reader *r)
{
	if (!r)
		return;
	prefetch_stop(&r->pf);
	if (r->events.fd >= 0)
		close(r->events.fd);
	if (r->cat.fd > 0)
		close(r->cat.fd);
	ZSTD_freeDCtx(r->dctx);
	trace_header_free(&r->hdr);
	for (size_t i = 0; i < r->nfiles; i++) {
		free(r->files[i].copy_path);
		free(r->files[i].original);
	}
	free(r->files);
	free(r->blobs);
	free(r->cbuf);
	free(r->raw);
	free(r->dir);
	free(r);
}
