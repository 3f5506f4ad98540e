/* SPDX-License-Identifier: MIT */
/*
 * Internals of the trace component: limits, file names, the byte codec and
 * the record, header and catalogue encodings. Used by the trace sources and the
 * unit tests; no other component includes it.
 */
#pragma once

#include <errno.h>
#include <zstd.h>

#include "trace/trace.h"

/* clang-format off */
#define TRACE_FRAME_MAGIC	   "UPRF"
/* The frame layout's own version; see "Versioning" in doc/trace-format.md. */
#define TRACE_FRAME_VERSION	   1
/* Sanity limits: a hostile frame never makes a reader allocate more. */
#define TRACE_FRAME_MAX_RAW	   (64u << 20)
#define TRACE_FRAME_MAX_COMPRESSED ZSTD_COMPRESSBOUND(TRACE_FRAME_MAX_RAW)
/* The writer cuts an events frame once this many record bytes are buffered. */
#define TRACE_FRAME_TARGET	   (1u << 20)
/* Buffered records go out as a frame once the oldest waited this long
 * (trace/writer.c), so a killed recorder loses at most that much. */
#define TRACE_FRAME_MAX_AGE_MS	   250u
/* zstd's fastest levels are negative: -1 compresses the records of `cp -r
 * /usr/include` (257 MB) 14 % faster than level 1 (647 against 569 MB/s on
 * the CI machine, zstd -b; 5-7 % in the recorder's writer thread) into 14 %
 * more (32 against 28 MB); that thread is what recording such a program
 * waits for. */
#define TRACE_ZSTD_LEVEL	   (-1)

#define TRACE_HEADER_FILE	   "header"
#define TRACE_EVENTS_FILE	   "events"
#define TRACE_CATALOGUE_FILE	   "catalogue"
#define TRACE_LATEST_LINK	   "latest-trace"

/* Longest copy name under files/ ("ID-basename"), below NAME_MAX. */
#define TRACE_COPY_NAME_MAX	   240

/* Bits of the second byte of an event record. */
#define TRACE_RECORD_HAS_REGS	   0x01u
/* clang-format on */

/** The fixed header of a frame, as parsed by trace_frame_parse_header(). */
struct trace_frame_info {
	enum trace_stream stream;
	uint32_t seq;
	uint32_t compressed_len; /**< zstd bytes after the header */
	uint32_t raw_len;	 /**< bytes after decompression */
	uint64_t checksum;	 /**< XXH3-64 of header (checksum zeroed) + payload */
};

/**
 * Check the frame header at @hdr (TRACE_FRAME_HEADER_SIZE bytes): magic,
 * version, reserved fields, @stream, @seq and the size limits.
 * Returns 0 and fills *ret_info, or -EBADMSG with a static reason in *ret_why.
 */
int trace_frame_parse_header(const void *hdr, enum trace_stream stream, uint32_t seq,
			     struct trace_frame_info *ret_info, const char **ret_why) _wur_;

/**
 * Verify the checksum of the frame whose header is @hdr and whose payload is
 * @payload (info->compressed_len bytes), then decompress it into @dst
 * (info->raw_len bytes). @dctx may be NULL (one is made for the call).
 * Returns 0, -EBADMSG with a static reason in *ret_why, or -ENOMEM.
 */
int trace_frame_decode_payload(ZSTD_DCtx *dctx, const void *hdr, const void *payload,
			       const struct trace_frame_info *info, void *dst,
			       const char **ret_why) _wur_;

/**
 * Fill the frame header at @hdr (TRACE_FRAME_HEADER_SIZE bytes) for stream
 * @stream, sequence number @seq and the @compressed_len bytes of zstd
 * payload at @payload that decompress to @raw_len bytes, checksum included.
 * The payload is not checked (the fuzz target seals forged ones).
 */
void trace_frame_seal(void *hdr, enum trace_stream stream, uint32_t seq, const void *payload,
		      uint32_t compressed_len, uint32_t raw_len);

/**
 * trace_frame_encode() with a caller-owned compression context (NULL: one
 * is made for the call). Returns 0, -EMSGSIZE or -ENOMEM.
 */
int trace_frame_encode_cctx(ZSTD_CCtx *cctx, enum trace_stream stream, uint32_t seq,
			    const void *raw, size_t raw_len, void **ret_frame,
			    size_t *ret_len) _wur_;

/* Growing output buffer. Callers reserve, then put without checks. */
struct trace_wbuf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

/** Make room for @extra more bytes. Returns 0 or -ENOMEM. */
int trace_wbuf_reserve(struct trace_wbuf *b, size_t extra) _wur_;

/** Free the buffer's memory (the struct itself is the caller's). */
void trace_wbuf_free(struct trace_wbuf *b);

/* Bytes a LEB128 varint of 64 bits may take. */
#define TRACE_VARINT_MAX 10

static inline void
wbuf_put_u8(struct trace_wbuf *b, uint8_t v)
{
	b->data[b->len++] = v;
}

static inline void
wbuf_put_bytes(struct trace_wbuf *b, const void *p, size_t n)
{
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

static inline void
wbuf_put_le(struct trace_wbuf *b, uint64_t v, unsigned int bytes)
{
	for (unsigned int i = 0; i < bytes; i++)
		b->data[b->len++] = (uint8_t)(v >> (8 * i));
}

static inline void
wbuf_put_varint(struct trace_wbuf *b, uint64_t v)
{
	while (v >= 0x80) {
		b->data[b->len++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	b->data[b->len++] = (uint8_t)v;
}

/* Bounded input cursor: every read checks what is left, so a length read
 * from hostile data can never take it past the end. */
struct trace_rcur {
	const uint8_t *p;
	size_t left;
};

static inline int _wur_
rcur_u8(struct trace_rcur *c, uint8_t *ret)
{
	if (c->left < 1)
		return -EBADMSG;
	*ret = *c->p++;
	c->left--;
	return 0;
}

static inline int _wur_
rcur_le(struct trace_rcur *c, unsigned int bytes, uint64_t *ret)
{
	uint64_t v = 0;

	if (c->left < bytes)
		return -EBADMSG;
	for (unsigned int i = 0; i < bytes; i++)
		v |= (uint64_t)c->p[i] << (8 * i);
	c->p += bytes;
	c->left -= bytes;
	*ret = v;
	return 0;
}

static inline int _wur_
rcur_varint(struct trace_rcur *c, uint64_t *ret)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < TRACE_VARINT_MAX; i++) {
		uint8_t byte;

		if (c->left < 1)
			return -EBADMSG;
		byte = *c->p++;
		c->left--;
		/* the tenth byte holds bit 63 only */
		if (i == TRACE_VARINT_MAX - 1 && byte > 1)
			return -EBADMSG;
		v |= (uint64_t)(byte & 0x7f) << (7 * i);
		if (!(byte & 0x80)) {
			*ret = v;
			return 0;
		}
	}
	return -EBADMSG;
}

static inline int _wur_
rcur_bytes(struct trace_rcur *c, uint64_t n, const uint8_t **ret)
{
	if (c->left < n)
		return -EBADMSG;
	*ret = c->p;
	c->p += n;
	c->left -= n;
	return 0;
}

/**
 * Append the encoding of @ev to @b. Returns the bytes appended, -EINVAL for
 * an event that cannot be encoded (type 0 or > 255, nvalues > TRACE_MAX_VALUES,
 * blob with data NULL), -EMSGSIZE if it would not fit in one frame, or -ENOMEM.
 * @b is unchanged on failure.
 */
int trace_record_encode(struct trace_wbuf *b, const struct trace_event *ev) _wur_;

/**
 * Decode one record at @c into *ret_ev; its blobs go into the array
 * *blobs (capacity *blobs_cap, grown with realloc, owned by the caller) and
 * their bytes point into the cursor's buffer. Returns 0, -EBADMSG for a
 * malformed record or one that runs past the buffer, or -ENOMEM.
 */
int trace_record_decode(struct trace_rcur *c, struct trace_event *ret_ev,
			struct trace_blob **blobs, size_t *blobs_cap) _wur_;

/** Append the encoding of @hdr (its format_version as is) to @b. Returns 0 or -ENOMEM. */
int trace_header_encode(struct trace_wbuf *b, const struct trace_header *hdr) _wur_;

/**
 * The format version at the start of an encoded header (the one field every
 * format version keeps). Returns 0 or -EBADMSG.
 */
int trace_header_peek_version(const void *raw, size_t len, uint32_t *ret_version) _wur_;

/**
 * Decode a header of format version 1..TRACE_FORMAT_VERSION into *ret_hdr
 * (strings malloc'd; free with trace_header_free()). Returns 0,
 * -EPROTONOSUPPORT for another version, -EBADMSG or -ENOMEM.
 */
int trace_header_decode(const void *raw, size_t len, struct trace_header *ret_hdr) _wur_;

/** A catalogue entry: one kept file. */
struct trace_file_entry {
	uint32_t id;	   /**< the file id events refer to */
	uint64_t size;	   /**< bytes of the copy */
	char *original;	   /**< path the tracee used */
	char *copy_name;   /**< name of the copy inside files/ */
	uint32_t first_id; /**< id of the first kept version of the same file
			    * (device and inode), @id if this is it (format 4;
			    * absent before, read as @id) */
};

/** Append the encoding of @e to @b. Returns 0 or -ENOMEM. */
int trace_file_entry_encode(struct trace_wbuf *b, const struct trace_file_entry *e) _wur_;

/**
 * Decode a catalogue entry (a whole frame payload) into *ret_e (strings
 * malloc'd). Rejects copy names that could leave files/. Returns 0,
 * -EBADMSG or -ENOMEM.
 */
int trace_file_entry_decode(const void *raw, size_t len, struct trace_file_entry *ret_e) _wur_;

/** Free the strings of @e (NULL accepted). */
void trace_file_entry_free(struct trace_file_entry *e);
