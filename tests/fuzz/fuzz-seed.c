/* SPDX-License-Identifier: MIT */
/*
 * fuzz-seed: between recorded traces and fuzz-trace inputs (the chunk form
 * of fuzz-chunks.h).
 *
 *   fuzz-seed [--max-events N] [--max-raw BYTES] TRACE_DIR OUT
 *	writes three seeds: OUT.frames (every frame's payload as an H, C or E
 *	chunk; the events stream keeps its first N records, default 200, cut
 *	at a record boundary), OUT.zstd (every frame's compressed payload, 1,
 *	3 and 2 chunks, while the events frames fit in BYTES) and OUT.raw (the
 *	files as they are, h, c and e chunks; the events file cut after BYTES,
 *	default 16384, which may cut a frame)
 *   fuzz-seed --materialize INPUT DIR
 *	writes the trace directory that fuzz input INPUT describes into DIR
 *	(created if needed), for the uprr command to read: how a finding is
 *	replayed through the real CLI, and how tests/fuzz/bad-inputs.py makes
 *	its traces
 *
 * Frames are decoded with the trace component's own functions. Exit 0, or 1
 * with one line on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/util.h"
#include "tests/fuzz/fuzz-chunks.h"
#include "trace/trace-private.h"

/* The three seed files of one trace. */
struct seeds {
	FILE *out[3]; /* indexed by enum fuzz_form */
};

static int
put_chunk(struct seeds *s, enum fuzz_file file, enum fuzz_form form, const void *data,
	  size_t len)
{
	char kind = fuzz_kind(file, form);
	FILE *out = s->out[form];

	if (memmem(data, len, FUZZ_MARKER, FUZZ_MARKER_LEN))
		fprintf(stderr, "fuzz-seed: warning: a %c chunk holds the marker\n", kind);
	if (fwrite(FUZZ_MARKER, 1, FUZZ_MARKER_LEN, out) != FUZZ_MARKER_LEN ||
	    fputc(kind, out) == EOF || (len && fwrite(data, 1, len, out) != len))
		return -EIO;
	return 0;
}

/* Bytes of @raw (@len) that hold its first *@left records; counts them off *@left. */
static size_t
first_records(const uint8_t *raw, size_t len, unsigned long *left)
{
	struct trace_rcur c = { raw, len };
	struct trace_blob *blobs = NULL;
	size_t cap = 0;
	struct trace_event ev;

	while (*left && c.left && trace_record_decode(&c, &ev, &blobs, &cap) == 0)
		(*left)--;
	free(blobs);
	return len - c.left;
}

/* One file of the trace into the three seeds. */
static int
convert_file(const char *dir, const char *name, enum fuzz_file file, unsigned long *events,
	     size_t max_raw, struct seeds *s)
{
	_cleanup_free_ char *path = NULL, *buf = NULL;
	size_t len, off = 0;
	uint32_t seq = 0;
	int r;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	r = util_read_file(path, &buf, &len);
	if (r < 0) {
		fprintf(stderr, "fuzz-seed: %s: %s\n", path, strerror(-r));
		return r;
	}
	r = put_chunk(s, file, FUZZ_FORM_RAW, buf, MIN(len, max_raw));
	while (r >= 0 && off < len && (file != FUZZ_FILE_EVENTS || *events)) {
		void *payload;
		size_t payload_len, frame_len, keep;

		r = trace_frame_decode(buf + off, len - off, fuzz_stream(file), seq++, &payload,
				       &payload_len, &frame_len);
		if (r < 0) {
			fprintf(stderr, "fuzz-seed: %s: frame %u: %s\n", path, seq - 1,
				strerror(-r));
			return r;
		}
		keep = file == FUZZ_FILE_EVENTS ? first_records(payload, payload_len, events)
						: payload_len;
		r = put_chunk(s, file, FUZZ_FORM_PAYLOAD, payload, keep);
		free(payload);
		/* the zstd form: the frame header's raw length field (offset
		 * 16), then the compressed payload as it is */
		if (r >= 0 && off + frame_len <= max_raw) {
			_cleanup_free_ uint8_t *z = malloc(frame_len);

			if (!z)
				return -ENOMEM;
			memcpy(z, buf + off + 16, 4);
			memcpy(z + 4, buf + off + TRACE_FRAME_HEADER_SIZE,
			       frame_len - TRACE_FRAME_HEADER_SIZE);
			r = put_chunk(s, file, FUZZ_FORM_ZSTD, z,
				      4 + frame_len - TRACE_FRAME_HEADER_SIZE);
		}
		off += frame_len;
	}
	return r;
}

static int
materialize(const char *input, const char *dir)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_close_ int dir_fd = -1;
	size_t len;
	int r;

	r = util_read_file(input, &buf, &len);
	if (r >= 0 && mkdir(dir, 0700) < 0 && errno != EEXIST)
		r = -errno;
	if (r >= 0 && (dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		r = -errno;
	if (r >= 0)
		r = fuzz_write_trace(dir_fd, (const uint8_t *)buf, len, NULL, NULL);
	if (r < 0)
		fprintf(stderr, "fuzz-seed: %s -> %s: %s\n", input, dir, strerror(-r));
	return r;
}

int
main(int argc, char **argv)
{
	static const char *const suffixes[3] = { "raw", "zstd", "frames" };
	unsigned long events = 200, max_raw = 16384;
	struct seeds s = { 0 };
	int i = 1, r;

	if (argc == 4 && strcmp(argv[1], "--materialize") == 0)
		return materialize(argv[2], argv[3]) < 0;
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--max-events") == 0)
			events = strtoul(argv[i + 1], NULL, 0);
		else if (strcmp(argv[i], "--max-raw") == 0)
			max_raw = strtoul(argv[i + 1], NULL, 0);
		else
			break;
	}
	if (argc - i != 2) {
		fprintf(stderr, "usage: fuzz-seed [--max-events N] [--max-raw BYTES] TRACE_DIR OUT\n"
				"       fuzz-seed --materialize INPUT DIR\n");
		return 1;
	}
	for (int f = 0; f < 3; f++) {
		_cleanup_free_ char *path = NULL;

		if (asprintf(&path, "%s.%s", argv[i + 1], suffixes[f]) < 0)
			return 1;
		s.out[f] = fopen(path, "we");
		if (!s.out[f]) {
			fprintf(stderr, "fuzz-seed: %s: %s\n", path, strerror(errno));
			return 1;
		}
	}
	r = convert_file(argv[i], TRACE_HEADER_FILE, FUZZ_FILE_HEADER, &events, SIZE_MAX, &s);
	if (r >= 0)
		r = convert_file(argv[i], TRACE_CATALOGUE_FILE, FUZZ_FILE_CATALOGUE, &events,
				 SIZE_MAX, &s);
	if (r >= 0)
		r = convert_file(argv[i], TRACE_EVENTS_FILE, FUZZ_FILE_EVENTS, &events, max_raw,
				 &s);
	for (int f = 0; f < 3; f++)
		if (fclose(s.out[f]) != 0 && r >= 0)
			r = -EIO;
	return r < 0 ? 1 : 0;
}
