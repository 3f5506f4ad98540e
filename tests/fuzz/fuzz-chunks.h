/* SPDX-License-Identifier: MIT */
/*
 * The fuzz input format of tests/fuzz (doc/hardening.md, "Fuzzing the trace
 * reader"): one input describes a whole trace directory as a sequence of
 * chunks. A chunk starts with the 4-byte marker "@UZ" + KIND and runs to the
 * next marker or the end; bytes before the first marker, and chunks of
 * other kinds, are ignored.
 *
 *   KIND h, c, e   bytes appended as they are to the header, catalogue or
 *                  events file (frame-level damage: magic, lengths,
 *                  sequence numbers, checksums, cuts)
 *   KIND 1, 3, 2   (the stream numbers) a frame's zstd payload: u32 raw
 *                  length, then the compressed bytes, given a frame header
 *                  with the file's next sequence number and a valid
 *                  checksum (what only a forger can make: zstd-level damage)
 *   KIND H, C, E   one frame's raw payload, compressed and framed as the
 *                  writer does (the header, catalogue-entry and
 *                  event-record decoders behind the checksum)
 *
 * A file no chunk names is absent from the directory. Shared by the fuzz
 * target and fuzz-seed, which writes real traces in this form and turns an
 * input back into a directory the uprr command can read.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zstd.h>

#include "trace/trace.h"

#define FUZZ_MARKER "@UZ"
#define FUZZ_MARKER_LEN 3

/** The files of a trace directory. */
enum fuzz_file {
	FUZZ_FILE_HEADER,
	FUZZ_FILE_CATALOGUE,
	FUZZ_FILE_EVENTS,
	FUZZ_NFILES,
};

/** How a chunk's bytes become file bytes. */
enum fuzz_form {
	FUZZ_FORM_RAW,	   /**< h, c, e: as they are */
	FUZZ_FORM_ZSTD,	   /**< 1, 3, 2: u32 raw length + zstd bytes, framed */
	FUZZ_FORM_PAYLOAD, /**< H, C, E: compressed and framed */
};

/** One chunk of an input. */
struct fuzz_chunk {
	enum fuzz_file file;
	enum fuzz_form form;
	uint32_t seq; /**< for framed forms: the sequence number given */
	const uint8_t *data;
	size_t len;
};

/** Called for each chunk before it is written (may be NULL). */
typedef void (*fuzz_chunk_fn)(const struct fuzz_chunk *ch);

/**
 * Write the trace directory that input @data (@size bytes) describes into
 * the directory open as @dir_fd: its header, catalogue and events files,
 * each created (mode 0600) or removed. @cctx is a zstd context to reuse.
 * Returns 0 or -errno.
 */
int fuzz_write_trace(int dir_fd, const uint8_t *data, size_t size, ZSTD_CCtx *cctx,
		     fuzz_chunk_fn on_chunk);

/** The stream whose frames file @file holds. */
enum trace_stream fuzz_stream(enum fuzz_file file);

/** The chunk kind character of @file in @form. */
char fuzz_kind(enum fuzz_file file, enum fuzz_form form);
