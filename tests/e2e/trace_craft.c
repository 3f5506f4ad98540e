/* SPDX-License-Identifier: MIT */
/*
 * trace-craft: damages a recorded trace on purpose, for the bad-input tests.
 *
 *   trace-craft set-version DIR N
 *	rewrites DIR/header with format version N and a valid checksum, so
 *	that only the version tells a reader to refuse it
 *
 * The header is one frame whose payload starts with the u32 format version
 * (doc/trace-format.md: the only field every version keeps). The frame is
 * decoded and encoded again with the trace component's own public frame
 * functions, so the checksum and the zstd framing stay right.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
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

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "set-version") == 0)
		return set_version(argv[2], strtoul(argv[3], NULL, 0)) < 0 ? 1 : 0;
	fprintf(stderr, "usage: trace-craft set-version DIR N\n");
	return 2;
}
