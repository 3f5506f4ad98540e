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
 *   trace-craft order DIR gap|swap
 *	rewrites the order numbers of shared-state calls in a TP log
 *	(syscall exit values[6]): gap takes number 2 away, swap exchanges
 *	number 1 with the first number of another thread
 *
 * The header is one frame whose payload starts with the u32 format version
 * (doc/trace-format.md: the only field every version keeps). The frame is
 * decoded and encoded again with the trace component's own public frame
 * functions, so the checksum and the zstd framing stay right; the events
 * frame of flip-read too, its records decoded with the trace component's
 * record decoder.
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
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

/* The syscall exit value that holds a TP log's order number (trace-format.md). */
#define ORDER_VALUE 6

/* Whether @ev is a syscall exit numbered in the order of shared-state calls. */
static bool
numbered(const struct trace_event *ev)
{
	return ev->type == TRACE_EV_SYSCALL_EXIT && ev->nvalues > ORDER_VALUE &&
	       ev->values[ORDER_VALUE];
}

/*
 * Rewrite the order numbers of the TP log in @dir: "gap" takes number 2
 * away (the call keeps none), "swap" gives the first numbered call of the
 * first thread the number of the first numbered call of another thread,
 * and that one number 1. Every events frame is decoded and encoded again.
 */
static int
order_edit(const char *dir, const char *how)
{
	_cleanup_free_ char *path = NULL, *buf = NULL;
	_cleanup_free_ struct trace_blob *blobs = NULL;
	struct trace_wbuf out = { 0 };
	size_t len, blobs_cap = 0;
	uint64_t first_tid = 0, other = 0;
	bool gap = strcmp(how, "gap") == 0;
	_cleanup_close_ int fd = -1;
	int r = 0;

	if (!gap && strcmp(how, "swap") != 0)
		return -EINVAL;
	if (asprintf(&path, "%s/events", dir) < 0)
		return -ENOMEM;
	r = util_read_file(path, &buf, &len);
	if (r < 0) {
		fprintf(stderr, "trace-craft: %s: %s\n", path, strerror(-r));
		return r;
	}
	for (int pass = 0; pass < 2; pass++) {
		size_t off = 0;

		for (uint32_t seq = 0; off < len; seq++) {
			_cleanup_free_ void *raw = NULL, *frame = NULL;
			struct trace_wbuf recs = { 0 };
			size_t raw_len, frame_len, new_len;
			struct trace_rcur c;

			r = trace_frame_decode(buf + off, len - off, TRACE_STREAM_EVENTS, seq, &raw,
					       &raw_len, &frame_len);
			if (r < 0) {
				fprintf(stderr, "trace-craft: %s: cannot decode frame %u (%d)\n", path,
					seq, r);
				return r;
			}
			off += frame_len;
			c = (struct trace_rcur){ raw, raw_len };
			while (c.left) {
				struct trace_event ev;

				r = trace_record_decode(&c, &ev, &blobs, &blobs_cap);
				if (r < 0)
					return r;
				if (pass == 0 && numbered(&ev)) {
					/* the first thread, and the first number of another */
					if (!first_tid)
						first_tid = ev.tid;
					else if (ev.tid != first_tid && !other)
						other = ev.values[ORDER_VALUE];
				}
				if (pass == 1 && numbered(&ev)) {
					uint64_t *v = &ev.values[ORDER_VALUE];

					if (gap && *v == 2) {
						*v = 0;
						other = 2;
					}
					else if (!gap && *v == 1)
						*v = other;
					else if (!gap && *v == other)
						*v = 1;
				}
				if (pass == 1 && (r = trace_record_encode(&recs, &ev)) < 0)
					return r;
			}
			if (pass == 0)
				continue;
			r = trace_frame_encode(TRACE_STREAM_EVENTS, seq, recs.data, recs.len, &frame,
					       &new_len);
			trace_wbuf_free(&recs);
			if (r < 0 || (r = trace_wbuf_reserve(&out, new_len)) < 0)
				return r;
			memcpy(out.data + out.len, frame, new_len);
			out.len += new_len;
		}
		if (pass == 0 && !gap && !other) {
			fprintf(stderr, "trace-craft: %s: no two threads with numbered calls\n", path);
			return -ENOENT;
		}
	}
	if (gap && !other) {
		fprintf(stderr, "trace-craft: %s: no call numbered 2\n", path);
		trace_wbuf_free(&out);
		return -ENOENT;
	}
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		r = -errno;
	else
		r = util_write_all(fd, out.data, out.len);
	trace_wbuf_free(&out);
	if (r == 0 && gap)
		printf("took number 2 away\n");
	else if (r == 0)
		printf("swapped numbers 1 and %" PRIu64 "\n", other);
	return r;
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "order") == 0)
		return order_edit(argv[2], argv[3]) < 0 ? 1 : 0;
	if (argc == 4 && strcmp(argv[1], "set-version") == 0)
		return set_version(argv[2], strtoul(argv[3], NULL, 0)) < 0 ? 1 : 0;
	if (argc == 3 && strcmp(argv[1], "flip-read") == 0)
		return flip_read(argv[2]) < 0 ? 1 : 0;
	fprintf(stderr, "usage: trace-craft set-version DIR N\n"
			"       trace-craft flip-read DIR\n"
			"       trace-craft order DIR gap|swap\n");
	return 2;
}
