/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for everything that reads a trace (doc/hardening.md).
 *
 * One input is a trace directory in the chunk form of fuzz-chunks.h. Each
 * run:
 *  1. feeds every chunk straight to its decoder: raw chunks to the
 *     in-memory frame decoder (trace_frame_decode, the path frames from a
 *     socket will take), payload chunks to trace_header_decode,
 *     trace_file_entry_decode or trace_record_decode;
 *  2. writes the directory (header, catalogue, events) into a private
 *     directory on tmpfs, opens it with trace_reader_open() and reads it the
 *     way replay does: the header, every catalogue entry
 *     (trace_reader_file, trace_reader_file_first), every event, the command
 *     line of every exec;
 *  3. runs `uprr info`, `uprr ps` and `uprr dump` on it (their output goes
 *     wherever stdout goes: scripts/fuzz.sh closes it).
 * Besides crashes and sanitizer reports, it aborts when the reader breaks
 * its documented contract (return values, sticky errors, one-line messages,
 * copy paths that leave files/).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "replay/replay.h"
#include "tests/fuzz/fuzz-chunks.h"
#include "trace/trace-private.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char trace_dir[PATH_MAX];
static int dir_fd = -1;
static ZSTD_CCtx *cctx;

#define CHECK(cond, ...)                                                      \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "fuzz-trace: %s:%d: %s: ", __FILE__, \
				__LINE__, #cond);                             \
			fprintf(stderr, __VA_ARGS__);                         \
			fputc('\n', stderr);                                  \
			abort();                                              \
		}                                                             \
	} while (0)

static void
remove_dir(void)
{
	/* an empty input names no file: all three are removed */
	(void)fuzz_write_trace(dir_fd, NULL, 0, cctx, NULL);
	(void)rmdir(trace_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");

	/* a directory per process: libFuzzer's -fork and -jobs run several */
	snprintf(trace_dir, sizeof(trace_dir), "%s/uprr-fuzz-XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(trace_dir) ||
	    (dir_fd = open(trace_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		perror("fuzz-trace: trace directory");
		exit(1);
	}
	atexit(remove_dir);
	cctx = ZSTD_createCCtx();
	CHECK(cctx, "out of memory");
	/* the CLI's one-line messages are not findings */
	log_set_level(LOG_LEVEL_ERROR);
	return 0;
}

/* Step 1: the decoders on their own. */
static void
decode_chunk(const struct fuzz_chunk *ch)
{
	if (ch->form == FUZZ_FORM_RAW) {
		void *raw;
		size_t raw_len, frame_len;

		/* what a socket reader does with the same bytes */
		for (size_t off = 0, n = 0; off < ch->len && n < 64; off += frame_len, n++) {
			int r = trace_frame_decode(ch->data + off, ch->len - off,
						   fuzz_stream(ch->file), ch->seq + (uint32_t)n, &raw,
						   &raw_len, &frame_len);

			CHECK(r == 0 || r == -EBADMSG || r == -ENODATA || r == -ENOMEM, "%d", r);
			if (r < 0)
				break;
			CHECK(frame_len > TRACE_FRAME_HEADER_SIZE && frame_len <= ch->len - off,
			      "%zu", frame_len);
			free(raw);
		}
		return;
	}
	if (ch->form != FUZZ_FORM_PAYLOAD)
		return; /* zstd bytes: only the reader decodes them */
	switch (ch->file) {
	case FUZZ_FILE_HEADER: {
		struct trace_header hdr;

		if (trace_header_decode(ch->data, ch->len, &hdr) == 0)
			trace_header_free(&hdr);
		break;
	}
	case FUZZ_FILE_CATALOGUE: {
		struct trace_file_entry e;

		if (trace_file_entry_decode(ch->data, ch->len, &e) == 0) {
			CHECK(e.first_id <= e.id, "%u > %u", e.first_id, e.id);
			trace_file_entry_free(&e);
		}
		break;
	}
	case FUZZ_FILE_EVENTS: {
		struct trace_rcur c = { ch->data, ch->len };
		struct trace_blob *blobs = NULL;
		size_t cap = 0;
		struct trace_event ev;

		while (c.left && trace_record_decode(&c, &ev, &blobs, &cap) == 0)
			CHECK(ev.nvalues <= TRACE_MAX_VALUES && ev.nblobs <= cap, "%u", ev.nblobs);
		free(blobs);
		break;
	}
	default:
		abort();
	}
}

static void
check_message(const char *msg)
{
	CHECK(msg && *msg && !strchr(msg, '\n'), "one line: '%s'", msg ? msg : "(null)");
}

/* Step 2b: the header and the catalogue, as replay uses them. */
static void
check_open_trace(struct trace_reader *r)
{
	const struct trace_header *hdr = trace_reader_header(r);
	size_t prefix = strlen(trace_dir) + strlen("/" TRACE_FILES_DIR "/");
	uint32_t id, first;
	const char *copy, *original;

	CHECK(hdr->format_version >= 1 && hdr->format_version <= TRACE_FORMAT_VERSION, "%u",
	      hdr->format_version);
	CHECK(hdr->argv && hdr->envp, "lists");
	CHECK(memchr(hdr->cwd, 0, sizeof(hdr->cwd)) && memchr(hdr->mode, 0, sizeof(hdr->mode)) &&
		      memchr(hdr->tick_source, 0, sizeof(hdr->tick_source)) &&
		      memchr(hdr->cpu_vendor, 0, sizeof(hdr->cpu_vendor)) &&
		      memchr(hdr->uprr_version, 0, sizeof(hdr->uprr_version)),
	      "unterminated header string");
	for (id = 0; trace_reader_file(r, id, &copy, &original) == 0; id++) {
		const char *name = copy + prefix;

		/* a hostile catalogue must not name a file outside files/ */
		CHECK(strncmp(copy, trace_dir, strlen(trace_dir)) == 0 && strlen(copy) > prefix &&
			      !strchr(name, '/') && strcmp(name, ".") && strcmp(name, ".."),
		      "copy path '%s'", copy);
		CHECK(original, "no original path");
		CHECK(trace_reader_file_first(r, id, &first) == 0 && first <= id, "first %u of %u",
		      first, id);
	}
	CHECK(trace_reader_file_first(r, id, &first) == -ENOENT, "id %u past the end", id);
	CHECK(trace_reader_file(r, UINT32_MAX, NULL, NULL) == -ENOENT, "id UINT32_MAX");
}

/* Step 2c: every event, as replay reads them. */
static void
read_events(struct trace_reader *r)
{
	struct trace_event ev;
	uint64_t sum = 0;
	bool ended;
	int ret;

	/* the look at the last frame replay of a tp trace takes first */
	ret = trace_reader_has_end(r, &ended);
	CHECK(ret == 0 || ret == -EBADMSG || ret == -ENODATA || ret == -ENOMEM, "has_end: %d",
	      ret);
	CHECK(ret == 0 || !ended, "ended after an error");
	while ((ret = trace_reader_next(r, &ev)) > 0) {
		CHECK(ev.type >= 1 && ev.type <= 255 && ev.nvalues <= TRACE_MAX_VALUES, "event");
		CHECK(!ev.nblobs || ev.blobs, "blobs");
		/* touch every byte: the sanitizer checks each lies in the frame */
		for (uint32_t i = 0; i < ev.nblobs; i++)
			for (uint32_t k = 0; k < ev.blobs[i].len; k++)
				sum += ((const uint8_t *)ev.blobs[i].data)[k];
		for (uint32_t i = 0; i < ev.nvalues; i++)
			(void)trace_reader_file(r, (uint32_t)ev.values[i], NULL, NULL);
		if (ev.type == TRACE_EV_EXEC)
			free(replay_exec_command(&ev));
	}
	CHECK(ret == 0 || ret == -EBADMSG || ret == -ENODATA || ret == -ENOMEM, "next: %d", ret);
	if (ret < 0)
		check_message(trace_reader_error(r));
	/* errors are sticky, and so is the end */
	CHECK(trace_reader_next(r, &ev) == ret, "not sticky");
	/* complete only at a clean end, and then as the last frame showed */
	CHECK(ret == 0 || !trace_reader_complete(r), "complete after %d", ret);
	if (ret == 0 && trace_reader_header(r)->format_version >= 6)
		CHECK(trace_reader_has_end(r, &ended) == 0 && ended == trace_reader_complete(r),
		      "has_end %d, complete %d", ended, trace_reader_complete(r));
	/* keep the sum alive */
	__asm__ volatile("" : : "r"(sum));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace_reader *r;
	char err[512];
	int ret;

	if (fuzz_write_trace(dir_fd, data, size, cctx, decode_chunk) < 0)
		return 0; /* tmpfs full: not the reader's fault */
	ret = trace_reader_open(trace_dir, &r, err, sizeof(err));
	if (ret < 0) {
		CHECK(ret == -ENOENT || ret == -EBADMSG || ret == -ENODATA ||
			      ret == -EPROTONOSUPPORT || ret == -ENOMEM,
		      "open: %d (%s)", ret, err);
		check_message(err);
		return 0;
	}
	check_open_trace(r);
	read_events(r);
	trace_reader_close(r);

	/* step 3: the commands that read a trace without replaying it */
	(void)replay_info(trace_dir);
	(void)replay_ps(trace_dir);
	(void)replay_dump(trace_dir);
	return 0;
}
