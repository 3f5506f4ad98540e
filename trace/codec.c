/* SPDX-License-Identifier: MIT */
/*
 * Encodings inside frame payloads: event records, the trace header and
 * catalogue entries (doc/trace-format.md). Integers are LEB128 varints or
 * fixed little-endian; strings are a varint length and bytes without NUL.
 * Decoders take hostile input: every length is checked against what is
 * left of the payload before it is used, and nothing is allocated beyond
 * what the payload's own size can justify.
 */
#define LOG_PREFIX "trace"

#include <limits.h>

#include "common/log.h"
#include "trace/trace-private.h"

int
trace_wbuf_reserve(struct trace_wbuf *b, size_t extra)
{
	size_t cap;
	uint8_t *p;

	if (extra <= b->cap - b->len)
		return 0;
	if (extra > SIZE_MAX / 2 - b->len)
		return -ENOMEM;
	cap = MAX(b->cap * 2, b->len + extra);
	cap = MAX(cap, (size_t)4096);
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

void
trace_wbuf_free(struct trace_wbuf *b)
{
	free(b->data);
	*b = (struct trace_wbuf){ 0 };
}

static size_t
varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Record layout (format version 1):
 *   u8 type, u8 bits (TRACE_RECORD_HAS_REGS), varint tid, varint flags,
 *   u8 nvalues, varint values[nvalues], [varint regs[27]],
 *   varint nblobs, nblobs x { varint addr, varint len, len bytes } */
int
trace_record_encode(struct trace_wbuf *b, const struct trace_event *ev)
{
	size_t size;
	int r;

	if ((unsigned int)ev->type == 0 || (unsigned int)ev->type > 255 ||
	    ev->nvalues > TRACE_MAX_VALUES || (ev->nblobs && !ev->blobs))
		return -EINVAL;

	size = 2 + varint_len(ev->tid) + varint_len(ev->flags) + 1 + varint_len(ev->nblobs);
	for (uint32_t i = 0; i < ev->nvalues; i++)
		size += varint_len(ev->values[i]);
	if (ev->has_regs)
		for (unsigned int i = 0; i < TRACE_NREGS; i++)
			size += varint_len(ev->regs[i]);
	for (uint32_t i = 0; i < ev->nblobs; i++) {
		const struct trace_blob *bl = &ev->blobs[i];

		if (bl->len && !bl->data)
			return -EINVAL;
		size += varint_len(bl->addr) + varint_len(bl->len) + bl->len;
		/* checked per blob so the sum cannot overflow */
		if (size > TRACE_FRAME_MAX_RAW)
			return -EMSGSIZE;
	}
	if (size > TRACE_FRAME_MAX_RAW)
		return -EMSGSIZE;

	r = trace_wbuf_reserve(b, size);
	if (r < 0)
		return r;
	wbuf_put_u8(b, (uint8_t)ev->type);
	wbuf_put_u8(b, ev->has_regs ? TRACE_RECORD_HAS_REGS : 0);
	wbuf_put_varint(b, ev->tid);
	wbuf_put_varint(b, ev->flags);
	wbuf_put_u8(b, (uint8_t)ev->nvalues);
	for (uint32_t i = 0; i < ev->nvalues; i++)
		wbuf_put_varint(b, ev->values[i]);
	if (ev->has_regs)
		for (unsigned int i = 0; i < TRACE_NREGS; i++)
			wbuf_put_varint(b, ev->regs[i]);
	wbuf_put_varint(b, ev->nblobs);
	for (uint32_t i = 0; i < ev->nblobs; i++) {
		wbuf_put_varint(b, ev->blobs[i].addr);
		wbuf_put_varint(b, ev->blobs[i].len);
		wbuf_put_bytes(b, ev->blobs[i].data, ev->blobs[i].len);
	}
	return (int)size;
}

static int
rcur_varint32(struct trace_rcur *c, uint32_t *ret)
{
	uint64_t v;

	if (rcur_varint(c, &v) < 0 || v > UINT32_MAX)
		return -EBADMSG;
	*ret = (uint32_t)v;
	return 0;
}

static int
grow_blobs(struct trace_blob **blobs, size_t *cap, size_t need, size_t most)
{
	struct trace_blob *p;
	size_t n;

	if (need <= *cap)
		return 0;
	/* grow by doubling, never past the count the record declared */
	n = MIN(MAX(*cap * 2, (size_t)16), most);
	n = MAX(n, need);
	p = realloc(*blobs, n * sizeof(*p));
	if (!p)
		return -ENOMEM;
	*blobs = p;
	*cap = n;
	return 0;
}

int
trace_record_decode(struct trace_rcur *c, struct trace_event *ret_ev, struct trace_blob **blobs,
		    size_t *blobs_cap)
{
	struct trace_rcur cur = *c;
	struct trace_event ev = { 0 };
	uint8_t type, bits, nvalues;
	uint64_t nblobs;
	int r;

	if (rcur_u8(&cur, &type) < 0 || type == 0)
		return -EBADMSG;
	if (rcur_u8(&cur, &bits) < 0 || (bits & ~TRACE_RECORD_HAS_REGS))
		return -EBADMSG;
	ev.type = (enum trace_event_type)type;
	ev.has_regs = bits & TRACE_RECORD_HAS_REGS;
	if (rcur_varint32(&cur, &ev.tid) < 0 || rcur_varint32(&cur, &ev.flags) < 0)
		return -EBADMSG;
	if (rcur_u8(&cur, &nvalues) < 0 || nvalues > TRACE_MAX_VALUES)
		return -EBADMSG;
	ev.nvalues = nvalues;
	for (unsigned int i = 0; i < nvalues; i++)
		if (rcur_varint(&cur, &ev.values[i]) < 0)
			return -EBADMSG;
	if (ev.has_regs)
		for (unsigned int i = 0; i < TRACE_NREGS; i++)
			if (rcur_varint(&cur, &ev.regs[i]) < 0)
				return -EBADMSG;

	/* A blob takes at least two bytes, which bounds the count by the
	 * payload before anything is allocated for it. */
	if (rcur_varint(&cur, &nblobs) < 0 || nblobs > cur.left / 2)
		return -EBADMSG;
	for (size_t i = 0; i < nblobs; i++) {
		struct trace_blob *bl;
		uint64_t addr;
		uint32_t len;
		const uint8_t *data;

		if (rcur_varint(&cur, &addr) < 0 || rcur_varint32(&cur, &len) < 0 ||
		    rcur_bytes(&cur, len, &data) < 0)
			return -EBADMSG;
		r = grow_blobs(blobs, blobs_cap, i + 1, nblobs);
		if (r < 0)
			return r;
		bl = &(*blobs)[i];
		bl->addr = addr;
		bl->len = len;
		bl->data = data;
	}
	ev.nblobs = (uint32_t)nblobs;
	ev.blobs = nblobs ? *blobs : NULL;

	*c = cur;
	*ret_ev = ev;
	return 0;
}

static int
put_str(struct trace_wbuf *b, const char *s, size_t maxlen)
{
	size_t n = s ? strnlen(s, maxlen) : 0;
	int r;

	r = trace_wbuf_reserve(b, TRACE_VARINT_MAX + n);
	if (r < 0)
		return r;
	wbuf_put_varint(b, n);
	wbuf_put_bytes(b, s, n);
	return 0;
}

static int
put_list(struct trace_wbuf *b, char *const *list)
{
	size_t n = 0;
	int r;

	while (list && list[n])
		n++;
	r = trace_wbuf_reserve(b, TRACE_VARINT_MAX);
	if (r < 0)
		return r;
	wbuf_put_varint(b, n);
	for (size_t i = 0; i < n; i++) {
		r = put_str(b, list[i], SIZE_MAX);
		if (r < 0)
			return r;
	}
	return 0;
}

/* A string into a fixed buffer of @size bytes, NUL-terminated. */
static int
get_str_fixed(struct trace_rcur *c, char *dst, size_t size)
{
	const uint8_t *p;
	uint64_t n;

	if (rcur_varint(c, &n) < 0 || n >= size || rcur_bytes(c, n, &p) < 0 || memchr(p, 0, n))
		return -EBADMSG;
	memcpy(dst, p, n);
	dst[n] = '\0';
	return 0;
}

static int
get_str(struct trace_rcur *c, size_t maxlen, char **ret)
{
	const uint8_t *p;
	uint64_t n;
	char *s;

	if (rcur_varint(c, &n) < 0 || n > maxlen || rcur_bytes(c, n, &p) < 0 || memchr(p, 0, n))
		return -EBADMSG;
	s = malloc(n + 1);
	if (!s)
		return -ENOMEM;
	memcpy(s, p, n);
	s[n] = '\0';
	*ret = s;
	return 0;
}

static int
get_list(struct trace_rcur *c, char ***ret)
{
	uint64_t n;
	char **list;
	int r;

	/* each string takes at least its length byte */
	if (rcur_varint(c, &n) < 0 || n > c->left)
		return -EBADMSG;
	list = calloc(n + 1, sizeof(*list));
	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		r = get_str(c, SIZE_MAX, &list[i]);
		if (r < 0) {
			for (size_t j = 0; j < i; j++)
				free(list[j]);
			free(list);
			return r;
		}
	}
	*ret = list;
	return 0;
}

/* Header layout (format version 1): u32 format_version (the only field
 * every version keeps, so any reader can reject a newer trace), then
 * str uprr_version, list argv, list envp, str cwd, str cpu_vendor,
 * u32 cpu_features[8], str tick_source, str mode, u64 start_time_ns,
 * and nothing after. */
int
trace_header_encode(struct trace_wbuf *b, const struct trace_header *hdr)
{
	int r;

	r = trace_wbuf_reserve(b, 4);
	if (r < 0)
		return r;
	wbuf_put_le(b, hdr->format_version, 4);
	if ((r = put_str(b, hdr->uprr_version, sizeof(hdr->uprr_version) - 1)) < 0 ||
	    (r = put_list(b, hdr->argv)) < 0 || (r = put_list(b, hdr->envp)) < 0 ||
	    (r = put_str(b, hdr->cwd, sizeof(hdr->cwd) - 1)) < 0 ||
	    (r = put_str(b, hdr->cpu_vendor, sizeof(hdr->cpu_vendor) - 1)) < 0)
		return r;
	r = trace_wbuf_reserve(b, 4 * ARRAY_SIZE(hdr->cpu_features));
	if (r < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(hdr->cpu_features); i++)
		wbuf_put_le(b, hdr->cpu_features[i], 4);
	if ((r = put_str(b, hdr->tick_source, sizeof(hdr->tick_source) - 1)) < 0 ||
	    (r = put_str(b, hdr->mode, sizeof(hdr->mode) - 1)) < 0)
		return r;
	r = trace_wbuf_reserve(b, 8);
	if (r < 0)
		return r;
	wbuf_put_le(b, hdr->start_time_ns, 8);
	return 0;
}

int
trace_header_peek_version(const void *raw, size_t len, uint32_t *ret_version)
{
	struct trace_rcur c = { raw, len };
	uint64_t v;

	if (rcur_le(&c, 4, &v) < 0)
		return -EBADMSG;
	*ret_version = (uint32_t)v;
	return 0;
}

int
trace_header_decode(const void *raw, size_t len, struct trace_header *ret_hdr)
{
	struct trace_rcur c = { raw, len };
	struct trace_header hdr = { 0 };
	uint64_t v;
	int r;

	if (rcur_le(&c, 4, &v) < 0 || v == 0)
		return -EBADMSG;
	if (v > TRACE_FORMAT_VERSION)
		return -EPROTONOSUPPORT;
	hdr.format_version = (uint32_t)v;
	r = get_str_fixed(&c, hdr.uprr_version, sizeof(hdr.uprr_version));
	if (r >= 0)
		r = get_list(&c, &hdr.argv);
	if (r >= 0)
		r = get_list(&c, &hdr.envp);
	if (r >= 0)
		r = get_str_fixed(&c, hdr.cwd, sizeof(hdr.cwd));
	if (r >= 0)
		r = get_str_fixed(&c, hdr.cpu_vendor, sizeof(hdr.cpu_vendor));
	for (size_t i = 0; r >= 0 && i < ARRAY_SIZE(hdr.cpu_features); i++) {
		r = rcur_le(&c, 4, &v);
		hdr.cpu_features[i] = (uint32_t)v;
	}
	if (r >= 0)
		r = get_str_fixed(&c, hdr.tick_source, sizeof(hdr.tick_source));
	if (r >= 0)
		r = get_str_fixed(&c, hdr.mode, sizeof(hdr.mode));
	if (r >= 0)
		r = rcur_le(&c, 8, &hdr.start_time_ns);
	if (r >= 0 && c.left != 0)
		r = -EBADMSG;
	if (r < 0) {
		trace_header_free(&hdr);
		return r;
	}
	*ret_hdr = hdr;
	return 0;
}

void
trace_header_free(struct trace_header *hdr)
{
	if (!hdr)
		return;
	for (size_t i = 0; hdr->argv && hdr->argv[i]; i++)
		free(hdr->argv[i]);
	for (size_t i = 0; hdr->envp && hdr->envp[i]; i++)
		free(hdr->envp[i]);
	free(hdr->argv);
	free(hdr->envp);
	hdr->argv = NULL;
	hdr->envp = NULL;
}

/* Catalogue entry layout: varint id, varint size, str original path,
 * str copy name (a plain name inside files/). */
int
trace_file_entry_encode(struct trace_wbuf *b, const struct trace_file_entry *e)
{
	int r;

	r = trace_wbuf_reserve(b, 2 * TRACE_VARINT_MAX);
	if (r < 0)
		return r;
	wbuf_put_varint(b, e->id);
	wbuf_put_varint(b, e->size);
	if ((r = put_str(b, e->original, PATH_MAX - 1)) < 0 ||
	    (r = put_str(b, e->copy_name, TRACE_COPY_NAME_MAX)) < 0 ||
	    (r = trace_wbuf_reserve(b, TRACE_VARINT_MAX)) < 0)
		return r;
	wbuf_put_varint(b, e->first_id);
	return 0;
}

static bool
copy_name_ok(const char *s)
{
	/* a hostile catalogue must not point outside files/ */
	return *s && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

int
trace_file_entry_decode(const void *raw, size_t len, struct trace_file_entry *ret_e)
{
	struct trace_rcur c = { raw, len };
	struct trace_file_entry e = { 0 };
	int r;

	if (rcur_varint32(&c, &e.id) < 0 || rcur_varint(&c, &e.size) < 0)
		return -EBADMSG;
	r = get_str(&c, PATH_MAX - 1, &e.original);
	if (r >= 0)
		r = get_str(&c, TRACE_COPY_NAME_MAX, &e.copy_name);
	e.first_id = e.id;
	if (r >= 0 && c.left != 0 && rcur_varint32(&c, &e.first_id) < 0)
		r = -EBADMSG;
	if (r >= 0 && (c.left != 0 || e.first_id > e.id || !copy_name_ok(e.copy_name)))
		r = -EBADMSG;
	if (r < 0) {
		trace_file_entry_free(&e);
		return r;
	}
	*ret_e = e;
	return 0;
}

void
trace_file_entry_free(struct trace_file_entry *e)
{
	if (!e)
		return;
	free(e->original);
	free(e->copy_name);
	e->original = NULL;
	e->copy_name = NULL;
}
