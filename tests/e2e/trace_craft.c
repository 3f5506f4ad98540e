/* SPDX-License-Identifier: MIT */
/*
 * trace-craft: damages a recorded trace on purpose, for the bad-input tests.
 *
 *   trace-craft set-version DIR N
 *	rewrites DIR/header with format version N and a valid checksum, so
 *	that only the version tells a reader to refuse it
 *
 *   trace-craft flip-read DIR
 *	flips a byte in the middle of the first buffered read(2) of 64 bytes
 *	or more that a buffered write of the same thread follows
 *	(TRACE_EV_SYSCALLBUF records), so that the replayed program writes
 *	another byte than it did; says how many buffered writes the trace keeps
 *	as a hash (TRACE_SB_HASHED), a line "hashed N"
 *
 *   trace-craft rewrite DIR [--mode MODE] [--epochs EVERY:PATTERN] [--cut N]
 *	writes DIR's header with mode MODE (tp: a trace of --mode=tp) and its
 *	events stream anew: after every EVERY events a TRACE_EV_EPOCH, as an EP
 *	run writes once it checked an epoch (values[0] = k + 1 for the kth,
 *	from 0; values[1] = the kth digit of PATTERN, repeated: 1 verified, 0
 *	diverged, 2 not checked), its frame ended there; with --cut, only the
 *	first N events of the original stream (no TRACE_EV_END then, as a
 *	killed recorder leaves it). Says "events M" (the events written),
 *	"epochs E", "verified-end V" (the events up to and with the last
 *	verified epoch's, 0 if none) and "last-verified K" (-1 if none)
 *
 * The header is one frame whose payload starts with the u32 format version
 * (doc/trace-format.md: the only field every version keeps). The frame is
 * decoded and encoded again with the trace component's own public frame
 * functions, so the checksum and the zstd framing stay right; the events
 * frame of flip-read too, its records decoded with the trace component's
 * record decoder.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/util.h"
#include "preload/uprr-preload.h"
#include "trace/trace-private.h"
#include "trace/trace.h"

static int
set_version(const char *dir, unsigned long version)
{
	_cleanup_free_ char *path = NULL, *buf = NULL;
	_cleanup_free_ void *raw = NULL, *frame = NULL;
	size_t len, raw_len, frame_len, new_len;
	_cleanup_close_ int fd = -1;
	uint8_t *p;
	int r;

	if (asprintf(&path, "%s/header", dir) < 0)
		return -ENOMEM;
	r = util_read_file(path, &buf, &len);
	if (r < 0) {
		fprintf(stderr, "trace-craft: %s: %s\n", path, strerror(-r));
		return r;
	}
	r = trace_frame_decode(buf, len, TRACE_STREAM_HEADER, 0, &raw, &raw_len, &frame_len);
	if (r < 0 || raw_len < 4) {
		fprintf(stderr, "trace-craft: %s: cannot decode the header frame (%d)\n", path, r);
		return r < 0 ? r : -EBADMSG;
	}
	p = raw;
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(version >> (8 * i));
	r = trace_frame_encode(TRACE_STREAM_HEADER, 0, raw, raw_len, &frame, &new_len);
	if (r < 0) {
		fprintf(stderr, "trace-craft: cannot encode the header frame: %s\n", strerror(-r));
		return r;
	}
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = util_write_all(fd, frame, new_len);
	if (r < 0)
		fprintf(stderr, "trace-craft: %s: %s\n", path, strerror(-r));
	return r;
}

/* In the @nblobs blobs of a TRACE_EV_SYSCALLBUF (@ev), count the hashed
 * records into *@hashed and, unless *@flip is set, point it at the middle
 * byte of the first read of 64 bytes or more that a write follows. */
static void
scan_batch(const struct trace_event *ev, size_t *hashed, uint8_t **flip)
{
	const uint8_t *recs = ev->blobs[0].data;
	uint8_t *read_at = NULL;
	uint32_t off = 0;

	for (uint64_t k = 0; off + sizeof(struct uprr_rec) <= ev->blobs[0].len; k++) {
		struct uprr_rec r;
		uint32_t sink = 0;

		memcpy(&r, recs + off, sizeof(r));
		if (r.size < sizeof(r) || r.size > ev->blobs[0].len - off)
			return;
		if (ev->nblobs >= 2 && (k + 1) * sizeof(sink) <= ev->blobs[1].len)
			memcpy(&sink, (const uint8_t *)ev->blobs[1].data + k * sizeof(sink), sizeof(sink));
		if (sink & TRACE_SB_HASHED)
			(*hashed)++;
		if (r.nr == __NR_read && r.ret >= 64 && !read_at)
			read_at = (uint8_t *)recs + off + sizeof(r) + r.ret / 2;
		if ((r.nr == __NR_write || r.nr == __NR_pwrite64 || r.nr == __NR_writev) && read_at && !*flip)
			*flip = read_at;
		off += r.size;
	}
}

static int
flip_read(const char *dir)
{
	_cleanup_free_ char *path = NULL, *buf = NULL;
	_cleanup_free_ struct trace_blob *blobs = NULL;
	size_t len, off = 0, blobs_cap = 0, hashed = 0;
	_cleanup_close_ int fd = -1;
	bool flipped = false;
	int r = 0;

	if (asprintf(&path, "%s/events", dir) < 0)
		return -ENOMEM;
	r = util_read_file(path, &buf, &len);
	if (r < 0) {
		fprintf(stderr, "trace-craft: %s: %s\n", path, strerror(-r));
		return r;
	}
	for (uint32_t seq = 0; off < len; seq++) {
		_cleanup_free_ void *raw = NULL, *frame = NULL;
		size_t raw_len, frame_len, new_len;
		struct trace_rcur c;
		uint8_t *flip = NULL;

		r = trace_frame_decode(buf + off, len - off, TRACE_STREAM_EVENTS, seq, &raw, &raw_len,
				       &frame_len);
		if (r < 0) {
			fprintf(stderr, "trace-craft: %s: cannot decode frame %u (%d)\n", path, seq, r);
			return r;
		}
		c = (struct trace_rcur){ raw, raw_len };
		while (c.left) {
			struct trace_event ev;

			r = trace_record_decode(&c, &ev, &blobs, &blobs_cap);
			if (r < 0) {
				fprintf(stderr, "trace-craft: %s: bad record in frame %u\n", path, seq);
				return r;
			}
			if (ev.type == TRACE_EV_SYSCALLBUF && ev.nblobs >= 1)
				scan_batch(&ev, &hashed, &flip);
		}
		if (flip && !flipped) {
			*flip ^= 0x40;
			flipped = true;
			r = trace_frame_encode(TRACE_STREAM_EVENTS, seq, raw, raw_len, &frame, &new_len);
			if (r < 0)
				return r;
			/* the frame may change its length: the rest moves */
			fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
			if (fd < 0)
				return -errno;
			if ((r = util_write_all(fd, buf, off)) < 0 ||
			    (r = util_write_all(fd, frame, new_len)) < 0 ||
			    (r = util_write_all(fd, buf + off + frame_len, len - off - frame_len)) < 0)
				return r;
			printf("flipped a read's byte in frame %u\n", seq);
		}
		off += frame_len;
	}
	printf("hashed %zu\n", hashed);
	if (!flipped)
		fprintf(stderr, "trace-craft: %s: no buffered read followed by a write\n", path);
	return flipped ? 0 : -ENOENT;
}

/* The events frames being written by rewrite(): records, cut into frames
 * of about 1 MiB and where an epoch ends. */
struct craft_out {
	int fd;
	uint32_t seq;
	struct trace_wbuf raw;
};

static int
out_frame(struct craft_out *o)
{
	_cleanup_free_ void *frame = NULL;
	size_t len;
	int r;

	if (!o->raw.len)
		return 0;
	r = trace_frame_encode(TRACE_STREAM_EVENTS, o->seq++, o->raw.data, o->raw.len, &frame, &len);
	if (r < 0)
		return r;
	o->raw.len = 0;
	return util_write_all(o->fd, frame, len);
}

static int
out_event(struct craft_out *o, const struct trace_event *ev)
{
	int r = trace_record_encode(&o->raw, ev);

	if (r < 0)
		return r;
	return o->raw.len >= (1u << 20) ? out_frame(o) : 0;
}

/* DIR/header with mode @mode. */
static int
set_mode(const char *dir, const char *mode)
{
	_cleanup_free_ char *path = NULL, *buf = NULL;
	_cleanup_free_ void *raw = NULL, *frame = NULL;
	struct trace_wbuf b = { 0 };
	struct trace_header hdr = { 0 };
	size_t len, raw_len, frame_len, new_len;
	_cleanup_close_ int fd = -1;
	int r;

	if (asprintf(&path, "%s/header", dir) < 0)
		return -ENOMEM;
	r = util_read_file(path, &buf, &len);
	if (r >= 0)
		r = trace_frame_decode(buf, len, TRACE_STREAM_HEADER, 0, &raw, &raw_len, &frame_len);
	if (r >= 0)
		r = trace_header_decode(raw, raw_len, &hdr);
	if (r < 0) {
		fprintf(stderr, "trace-craft: %s: cannot read the header (%d)\n", path, r);
		return r;
	}
	snprintf(hdr.mode, sizeof(hdr.mode), "%s", mode);
	r = trace_header_encode(&b, &hdr);
	if (r >= 0)
		r = trace_frame_encode(TRACE_STREAM_HEADER, 0, b.data, b.len, &frame, &new_len);
	trace_header_free(&hdr);
	trace_wbuf_free(&b);
	if (r < 0)
		return r;
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return util_write_all(fd, frame, new_len);
}

static int
rewrite(const char *dir, const char *mode, unsigned long every, const char *pattern,
	unsigned long cut)
{
	_cleanup_free_ char *path = NULL, *buf = NULL;
	_cleanup_free_ struct trace_blob *blobs = NULL;
	_cleanup_free_ void **raws = NULL;
	struct craft_out o = { .fd = -1 };
	size_t len, off = 0, blobs_cap = 0, nraws = 0;
	unsigned long n = 0, written = 0, epochs = 0, verified_end = 0;
	long last_verified = -1;
	uint32_t tid = 0;
	int r = 0;

	if (mode && (r = set_mode(dir, mode)) < 0)
		return r;
	if (asprintf(&path, "%s/events", dir) < 0)
		return -ENOMEM;
	r = util_read_file(path, &buf, &len);
	if (r < 0) {
		fprintf(stderr, "trace-craft: %s: %s\n", path, strerror(-r));
		return r;
	}
	/* the old stream stays in memory (its records point into it) while
	 * the new one is written in its place */
	o.fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (o.fd < 0)
		return -errno;
	for (uint32_t seq = 0; off < len && n < cut; seq++) {
		void *raw = NULL, **grown;
		size_t raw_len, frame_len;
		struct trace_rcur c;

		r = trace_frame_decode(buf + off, len - off, TRACE_STREAM_EVENTS, seq, &raw, &raw_len,
				       &frame_len);
		if (r < 0) {
			fprintf(stderr, "trace-craft: %s: cannot decode frame %u (%d)\n", path, seq, r);
			break;
		}
		grown = realloc(raws, (nraws + 1) * sizeof(*raws));
		if (!grown) {
			free(raw);
			r = -ENOMEM;
			break;
		}
		raws = grown;
		raws[nraws++] = raw;
		c = (struct trace_rcur){ raw, raw_len };
		while (c.left && n < cut) {
			struct trace_event ev;

			r = trace_record_decode(&c, &ev, &blobs, &blobs_cap);
			if (r < 0)
				break;
			if (!tid)
				tid = ev.tid;
			if (every && n && n % every == 0 && ev.type != TRACE_EV_END) {
				size_t np = strlen(pattern);
				struct trace_event ep = { .type = TRACE_EV_EPOCH, .tid = tid, .nvalues = 2 };

				ep.values[0] = epochs + 1;
				ep.values[1] = (uint64_t)(pattern[epochs % np] - '0');
				if ((r = out_event(&o, &ep)) < 0 || (r = out_frame(&o)) < 0)
					break;
				written++;
				if (ep.values[1] == TRACE_EPOCH_VERIFIED) {
					verified_end = written;
					last_verified = (long)epochs;
				}
				epochs++;
			}
			r = out_event(&o, &ev);
			if (r < 0)
				break;
			n++;
			written++;
		}
		if (r < 0)
			break;
		off += frame_len;
	}
	if (r >= 0)
		r = out_frame(&o);
	for (size_t i = 0; i < nraws; i++)
		free(raws[i]);
	trace_wbuf_free(&o.raw);
	close(o.fd);
	if (r < 0) {
		fprintf(stderr, "trace-craft: %s: %s\n", path, strerror(-r));
		return r;
	}
	printf("events %lu\nepochs %lu\nverified-end %lu\nlast-verified %ld\n", written, epochs,
	       verified_end, last_verified);
	return 0;
}

static int
rewrite_args(int argc, char **argv)
{
	const char *mode = NULL, *pattern = "1";
	unsigned long every = 0, cut = ULONG_MAX;

	for (int i = 3; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--mode") == 0) {
			mode = argv[i + 1];
		} else if (strcmp(argv[i], "--epochs") == 0) {
			char *colon;

			every = strtoul(argv[i + 1], &colon, 10);
			if (*colon != ':' || !colon[1] || strspn(colon + 1, "012") != strlen(colon + 1))
				return -EINVAL;
			pattern = colon + 1;
		} else if (strcmp(argv[i], "--cut") == 0) {
			cut = strtoul(argv[i + 1], NULL, 10);
		} else {
			return -EINVAL;
		}
	}
	if (argc % 2 == 0)
		return -EINVAL;
	return rewrite(argv[2], mode, every, pattern, cut);
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "set-version") == 0)
		return set_version(argv[2], strtoul(argv[3], NULL, 0)) < 0 ? 1 : 0;
	if (argc == 3 && strcmp(argv[1], "flip-read") == 0)
		return flip_read(argv[2]) < 0 ? 1 : 0;
	if (argc >= 3 && strcmp(argv[1], "rewrite") == 0)
		return rewrite_args(argc, argv) < 0 ? 1 : 0;
	fprintf(stderr, "usage: trace-craft set-version DIR N\n"
			"       trace-craft flip-read DIR\n"
			"       trace-craft rewrite DIR [--mode MODE] [--epochs EVERY:PATTERN] "
			"[--cut N]\n");
	return 2;
}
