/* SPDX-License-Identifier: MIT */
/* The chunk form of fuzz inputs: fuzz-chunks.h. */
#include "tests/fuzz/fuzz-chunks.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace/trace-private.h"

static const char *const file_names[FUZZ_NFILES] = {
	[FUZZ_FILE_HEADER] = TRACE_HEADER_FILE,
	[FUZZ_FILE_CATALOGUE] = TRACE_CATALOGUE_FILE,
	[FUZZ_FILE_EVENTS] = TRACE_EVENTS_FILE,
};
static const enum trace_stream file_streams[FUZZ_NFILES] = {
	[FUZZ_FILE_HEADER] = TRACE_STREAM_HEADER,
	[FUZZ_FILE_CATALOGUE] = TRACE_STREAM_FILES,
	[FUZZ_FILE_EVENTS] = TRACE_STREAM_EVENTS,
};
/* clang-format off */
static const char kinds[FUZZ_NFILES][3] = {
	/*                      RAW  ZSTD PAYLOAD */
	[FUZZ_FILE_HEADER] =    { 'h', '1', 'H' },
	[FUZZ_FILE_CATALOGUE] = { 'c', '3', 'C' },
	[FUZZ_FILE_EVENTS] =    { 'e', '2', 'E' },
};
/* clang-format on */

enum trace_stream
fuzz_stream(enum fuzz_file file)
{
	return file_streams[file];
}

char
fuzz_kind(enum fuzz_file file, enum fuzz_form form)
{
	return kinds[file][form];
}

static bool
parse_kind(uint8_t kind, struct fuzz_chunk *ch)
{
	for (int f = 0; f < FUZZ_NFILES; f++)
		for (int form = 0; form < 3; form++)
			if (kinds[f][form] == kind) {
				ch->file = (enum fuzz_file)f;
				ch->form = (enum fuzz_form)form;
				return true;
			}
	return false;
}

/* The next chunk at or after *@pos into *@ret; advances *@pos. Returns 1, or 0 at the end. */
static int
next_chunk(const uint8_t *data, size_t len, size_t *pos, struct fuzz_chunk *ret)
{
	while (*pos < len) {
		const uint8_t *m = memmem(data + *pos, len - *pos, FUZZ_MARKER, FUZZ_MARKER_LEN);
		const uint8_t *start, *next;

		if (!m || (size_t)(m - data) + FUZZ_MARKER_LEN >= len)
			break;
		start = m + FUZZ_MARKER_LEN + 1;
		next = memmem(start, len - (size_t)(start - data), FUZZ_MARKER, FUZZ_MARKER_LEN);
		if (!next)
			next = data + len;
		*pos = (size_t)(next - data);
		if (!parse_kind(m[FUZZ_MARKER_LEN], ret))
			continue;
		ret->data = start;
		ret->len = (size_t)(next - start);
		return 1;
	}
	*pos = len;
	return 0;
}

/* Append chunk @ch to @b in its form. Returns 0, or -errno (nothing appended). */
static int
append_chunk(struct trace_wbuf *b, const struct fuzz_chunk *ch, ZSTD_CCtx *cctx)
{
	enum trace_stream stream = file_streams[ch->file];
	void *frame = NULL;
	size_t len;
	uint32_t raw_len;
	int r;

	switch (ch->form) {
	case FUZZ_FORM_RAW:
		r = trace_wbuf_reserve(b, ch->len);
		if (r < 0)
			return r;
		wbuf_put_bytes(b, ch->data, ch->len);
		return 0;
	case FUZZ_FORM_ZSTD:
		if (ch->len < 4 || ch->len - 4 > UINT32_MAX)
			return -EINVAL;
		memcpy(&raw_len, ch->data, 4);
		r = trace_wbuf_reserve(b, TRACE_FRAME_HEADER_SIZE + ch->len - 4);
		if (r < 0)
			return r;
		trace_frame_seal(b->data + b->len, stream, ch->seq, ch->data + 4,
				 (uint32_t)(ch->len - 4), raw_len);
		b->len += TRACE_FRAME_HEADER_SIZE;
		wbuf_put_bytes(b, ch->data + 4, ch->len - 4);
		return 0;
	case FUZZ_FORM_PAYLOAD:
		r = trace_frame_encode_cctx(cctx, stream, ch->seq, ch->data, ch->len, &frame, &len);
		if (r >= 0)
			r = trace_wbuf_reserve(b, len);
		if (r >= 0)
			wbuf_put_bytes(b, frame, len);
		free(frame);
		return r;
	}
	return -EINVAL;
}

int
fuzz_write_trace(int dir_fd, const uint8_t *data, size_t size, ZSTD_CCtx *cctx,
		 fuzz_chunk_fn on_chunk)
{
	struct trace_wbuf files[FUZZ_NFILES] = { 0 };
	bool present[FUZZ_NFILES] = { 0 };
	uint32_t seq[FUZZ_NFILES] = { 0 };
	struct fuzz_chunk ch;
	size_t pos = 0;
	int ret = 0;

	while (next_chunk(data, size, &pos, &ch)) {
		ch.seq = seq[ch.file];
		if (on_chunk)
			on_chunk(&ch);
		present[ch.file] = true;
		/* a framed chunk that cannot be framed (over 64 MiB) adds nothing */
		if (append_chunk(&files[ch.file], &ch, cctx) == 0 && ch.form != FUZZ_FORM_RAW)
			seq[ch.file]++;
	}
	for (size_t i = 0; i < FUZZ_NFILES; i++) {
		int fd, r = 0;

		if (!present[i]) {
			if (unlinkat(dir_fd, file_names[i], 0) < 0 && errno != ENOENT)
				ret = -errno;
			continue;
		}
		fd = openat(dir_fd, file_names[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			r = -errno;
		else
			r = util_write_all(fd, files[i].data, files[i].len);
		if (fd >= 0)
			close(fd);
		if (r < 0)
			ret = r;
		trace_wbuf_free(&files[i]);
	}
	return ret;
}
