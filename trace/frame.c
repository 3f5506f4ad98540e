/* SPDX-License-Identifier: MIT */
/*
 * Frames: a 32-byte little-endian header and one zstd frame. The header
 * checksum (XXH3-64 over the header with the checksum zeroed, then the
 * payload) is checked before zstd sees a byte, so corrupt input reaches the
 * decompressor only if it was forged. Frames written before format 12 also
 * carry zstd's own content checksum, which zstd checks when present.
 */
#define LOG_PREFIX "trace"

#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "common/log.h"
#include "trace/trace-private.h"

/* clang-format off */
enum {
	OFF_MAGIC = 0,
	OFF_STREAM = 4,
	OFF_VERSION = 5,
	OFF_RESERVED1 = 6,	/* u16 */
	OFF_SEQ = 8,
	OFF_COMPRESSED_LEN = 12,
	OFF_RAW_LEN = 16,
	OFF_RESERVED2 = 20,	/* u32 */
	OFF_CHECKSUM = 24,	/* u64 */
};
/* clang-format on */

_Static_assert(OFF_CHECKSUM + 8 == TRACE_FRAME_HEADER_SIZE, "frame header layout");
_Static_assert(TRACE_FRAME_MAX_COMPRESSED < UINT32_MAX, "limits fit the u32 fields");

static uint64_t
get_le(const uint8_t *p, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void
put_le(uint8_t *p, uint64_t v, unsigned int bytes)
{
	for (unsigned int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
frame_checksum(const uint8_t *hdr, const void *payload, size_t len)
{
	uint8_t h[TRACE_FRAME_HEADER_SIZE];
	XXH3_state_t st;

	memcpy(h, hdr, sizeof(h));
	memset(h + OFF_CHECKSUM, 0, 8);
	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, h, sizeof(h));
	XXH3_64bits_update(&st, payload, len);
	return XXH3_64bits_digest(&st);
}

void
trace_hash128(const void *data, size_t len, uint8_t ret_hash[TRACE_HASH_SIZE])
{
	XXH128_canonical_t c;

	_Static_assert(sizeof(c) == TRACE_HASH_SIZE, "an XXH3-128 digest");
	XXH128_canonicalFromHash(&c, XXH3_128bits(data, len));
	memcpy(ret_hash, &c, sizeof(c));
}

void
trace_frame_seal(void *hdr, enum trace_stream stream, uint32_t seq, const void *payload,
		 uint32_t compressed_len, uint32_t raw_len)
{
	uint8_t *h = hdr;

	memcpy(h + OFF_MAGIC, TRACE_FRAME_MAGIC, 4);
	h[OFF_STREAM] = (uint8_t)stream;
	h[OFF_VERSION] = TRACE_FRAME_VERSION;
	put_le(h + OFF_RESERVED1, 0, 2);
	put_le(h + OFF_SEQ, seq, 4);
	put_le(h + OFF_COMPRESSED_LEN, compressed_len, 4);
	put_le(h + OFF_RAW_LEN, raw_len, 4);
	put_le(h + OFF_RESERVED2, 0, 4);
	put_le(h + OFF_CHECKSUM, 0, 8);
	put_le(h + OFF_CHECKSUM, frame_checksum(h, payload, compressed_len), 8);
}

int
trace_frame_encode_cctx(ZSTD_CCtx *cctx, enum trace_stream stream, uint32_t seq,
			const void *raw, size_t raw_len, void **ret_frame, size_t *ret_len)
{
	ZSTD_CCtx *own = NULL;
	uint8_t *frame;
	size_t cap, n;

	if (raw_len > TRACE_FRAME_MAX_RAW)
		return -EMSGSIZE;
	if (!cctx) {
		own = cctx = ZSTD_createCCtx();
		if (!cctx)
			return -ENOMEM;
	}
	cap = TRACE_FRAME_HEADER_SIZE + ZSTD_compressBound(raw_len);
	frame = malloc(cap);
	if (!frame) {
		ZSTD_freeCCtx(own);
		return -ENOMEM;
	}
	/* Parameters are sticky per context; setting them each time keeps a
	 * caller's context from changing what we write. */
	ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, TRACE_ZSTD_LEVEL);
	/* no content checksum (XXH64 of the raw bytes: 4-8 % of the
	 * writer's time on cp -r, a fifth of replay's decoding): the frame's
	 * XXH3 covers every payload byte before zstd sees one */
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
	n = ZSTD_compress2(cctx, frame + TRACE_FRAME_HEADER_SIZE, cap - TRACE_FRAME_HEADER_SIZE,
			   raw, raw_len);
	ZSTD_freeCCtx(own);
	if (ZSTD_isError(n)) {
		/* the bound makes this unreachable short of memory */
		log_debug("zstd compression failed: %s", ZSTD_getErrorName(n));
		free(frame);
		return -ENOMEM;
	}

	trace_frame_seal(frame, stream, seq, frame + TRACE_FRAME_HEADER_SIZE, n, raw_len);
	*ret_frame = frame;
	*ret_len = TRACE_FRAME_HEADER_SIZE + n;
	return 0;
}

int
trace_frame_encode(enum trace_stream stream, uint32_t seq, const void *raw, size_t raw_len,
		   void **ret_frame, size_t *ret_len)
{
	return trace_frame_encode_cctx(NULL, stream, seq, raw, raw_len, ret_frame, ret_len);
}

int
trace_frame_parse_header(const void *hdr, enum trace_stream stream, uint32_t seq,
			 struct trace_frame_info *ret_info, const char **ret_why)
{
	const uint8_t *h = hdr;
	struct trace_frame_info info;

	if (memcmp(h + OFF_MAGIC, TRACE_FRAME_MAGIC, 4) != 0) {
		*ret_why = "bad magic";
		return -EBADMSG;
	}
	if (h[OFF_VERSION] != TRACE_FRAME_VERSION || get_le(h + OFF_RESERVED1, 2) != 0 ||
	    get_le(h + OFF_RESERVED2, 4) != 0) {
		*ret_why = "unknown frame version";
		return -EBADMSG;
	}
	if (h[OFF_STREAM] != (uint8_t)stream) {
		*ret_why = "frame of another stream";
		return -EBADMSG;
	}
	info.stream = stream;
	info.seq = (uint32_t)get_le(h + OFF_SEQ, 4);
	if (info.seq != seq) {
		*ret_why = "bad sequence number";
		return -EBADMSG;
	}
	info.compressed_len = (uint32_t)get_le(h + OFF_COMPRESSED_LEN, 4);
	info.raw_len = (uint32_t)get_le(h + OFF_RAW_LEN, 4);
	if (info.raw_len > TRACE_FRAME_MAX_RAW ||
	    info.compressed_len > TRACE_FRAME_MAX_COMPRESSED) {
		*ret_why = "size out of range";
		return -EBADMSG;
	}
	info.checksum = get_le(h + OFF_CHECKSUM, 8);
	*ret_info = info;
	return 0;
}

int
trace_frame_decode_payload(ZSTD_DCtx *dctx, const void *hdr, const void *payload,
			   const struct trace_frame_info *info, void *dst, const char **ret_why)
{
	ZSTD_DCtx *own = NULL;
	unsigned long long content;
	size_t n;

	if (frame_checksum(hdr, payload, info->compressed_len) != info->checksum) {
		*ret_why = "bad checksum";
		return -EBADMSG;
	}
	/* Exactly one zstd frame that states its size, and that size is ours. */
	content = ZSTD_getFrameContentSize(payload, info->compressed_len);
	n = ZSTD_findFrameCompressedSize(payload, info->compressed_len);
	if (content != info->raw_len || ZSTD_isError(n) || n != info->compressed_len) {
		*ret_why = "payload is not one zstd frame of the stated size";
		return -EBADMSG;
	}
	if (!dctx) {
		own = dctx = ZSTD_createDCtx();
		if (!dctx)
			return -ENOMEM;
	}
	/* One-shot decompression into a buffer of the known size allocates no
	 * window, whatever window size the frame claims. */
	n = ZSTD_decompressDCtx(dctx, dst, info->raw_len, payload, info->compressed_len);
	ZSTD_freeDCtx(own);
	if (ZSTD_isError(n) || n != info->raw_len) {
		*ret_why = "payload does not decompress";
		return -EBADMSG;
	}
	return 0;
}

int
trace_frame_decode(const void *buf, size_t len, enum trace_stream stream, uint32_t seq,
		   void **ret_raw, size_t *ret_raw_len, size_t *ret_frame_len)
{
	struct trace_frame_info info;
	const char *why = NULL;
	void *raw;
	int r;

	/* A prefix that cannot start a frame is corrupt, not short. */
	if (len > 0 && memcmp(buf, TRACE_FRAME_MAGIC, MIN(len, (size_t)4)) != 0)
		return -EBADMSG;
	if (len < TRACE_FRAME_HEADER_SIZE)
		return -ENODATA;
	r = trace_frame_parse_header(buf, stream, seq, &info, &why);
	if (r < 0)
		return log_debug_errno(r, "frame %u: %s", seq, why);
	if (len - TRACE_FRAME_HEADER_SIZE < info.compressed_len)
		return -ENODATA;

	raw = malloc(info.raw_len ? info.raw_len : 1);
	if (!raw)
		return -ENOMEM;
	r = trace_frame_decode_payload(NULL, buf, (const uint8_t *)buf + TRACE_FRAME_HEADER_SIZE,
				       &info, raw, &why);
	if (r < 0) {
		free(raw);
		if (r == -EBADMSG)
			log_debug("frame %u: %s", seq, why);
		return r;
	}
	*ret_raw = raw;
	*ret_raw_len = info.raw_len;
	*ret_frame_len = TRACE_FRAME_HEADER_SIZE + info.compressed_len;
	return 0;
}
