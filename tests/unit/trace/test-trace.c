/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the trace: frames, record and header encodings, the writer
 * (including a write that fails mid-stream), the reader's errors, kept
 * files and trace directories.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "trace/trace-private.h"
#include "trace/trace.h"

/* ---- helpers ---- */

static uint64_t
splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static char tmp_root[64];

static void
make_tmp(void)
{
	strcpy(tmp_root, "/tmp/uprr-test-trace-XXXXXX");
	cr_assert_not_null(mkdtemp(tmp_root));
}

static void
remove_tmp(void)
{
	if (tmp_root[0])
		nftw(tmp_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *
tmp_path(const char *name)
{
	static char buf[4][PATH_MAX];
	static int next;
	char *p = buf[next++ % 4];

	snprintf(p, PATH_MAX, "%s/%s", tmp_root, name);
	return p;
}

static void
sample_header(struct trace_header *h)
{
	static char *argv[] = { "prog", "arg one", "", NULL };
	static char *envp[] = { "HOME=/root", "LANG=C.UTF-8", NULL };

	memset(h, 0, sizeof(*h));
	h->format_version = TRACE_FORMAT_VERSION;
	strcpy(h->uprr_version, "0.1.0-test");
	h->argv = argv;
	h->envp = envp;
	strcpy(h->cwd, "/home/someone/work");
	strcpy(h->cpu_vendor, "AuthenticAMD");
	for (int i = 0; i < 8; i++)
		h->cpu_features[i] = 0x11111111u * (uint32_t)i;
	strcpy(h->tick_source, "soft");
	strcpy(h->mode, "up");
	h->start_time_ns = 1700000000123456789ull;
}

/* Bytes blobs point into. */
static uint8_t pool[256 << 10];

static void
fill_pool(void)
{
	uint64_t s = 42;

	for (size_t i = 0; i < sizeof(pool); i += 8) {
		uint64_t v = splitmix(&s);

		memcpy(pool + i, &v, 8);
	}
}

#define MAX_TEST_BLOBS 70000

/* Event @i of a deterministic sequence, with varied magnitudes, optional
 * registers, and a few events with many blobs. */
static void
gen_event(uint64_t i, struct trace_event *ev, struct trace_blob *blobs, uint32_t max_blob)
{
	uint64_t s = i * 2654435761u + 1;

	memset(ev, 0, sizeof(*ev));
	ev->type = (enum trace_event_type)(1 + splitmix(&s) % 8);
	ev->tid = (uint32_t)splitmix(&s);
	ev->flags = splitmix(&s) % 3 == 0 ? (uint32_t)splitmix(&s) : 0;
	ev->nvalues = (uint32_t)(splitmix(&s) % (TRACE_MAX_VALUES + 1));
	for (uint32_t k = 0; k < ev->nvalues; k++)
		ev->values[k] = splitmix(&s) >> (splitmix(&s) % 64);
	ev->has_regs = splitmix(&s) & 1;
	if (ev->has_regs)
		for (int k = 0; k < TRACE_NREGS; k++)
			ev->regs[k] = splitmix(&s) >> (splitmix(&s) % 64);
	ev->nblobs = (uint32_t)(splitmix(&s) % 4);
	if (i % 500 == 100)
		ev->nblobs = 1024;
	if (i == 1234)
		ev->nblobs = MAX_TEST_BLOBS;
	for (uint32_t k = 0; k < ev->nblobs; k++) {
		uint32_t len = (uint32_t)(splitmix(&s) % (ev->nblobs > 4 ? 8 : max_blob + 1));

		blobs[k].addr = splitmix(&s);
		blobs[k].len = len;
		blobs[k].data = pool + splitmix(&s) % (sizeof(pool) - len);
	}
	ev->blobs = blobs;
}

static void
assert_event_eq(const struct trace_event *a, const struct trace_event *b, uint64_t i)
{
	cr_assert_eq(a->type, b->type, "event %lu: type", (unsigned long)i);
	cr_assert_eq(a->tid, b->tid, "event %lu: tid", (unsigned long)i);
	cr_assert_eq(a->flags, b->flags, "event %lu: flags", (unsigned long)i);
	cr_assert_eq(a->nvalues, b->nvalues, "event %lu: nvalues", (unsigned long)i);
	cr_assert(memcmp(a->values, b->values, a->nvalues * sizeof(uint64_t)) == 0,
		  "event %lu: values", (unsigned long)i);
	cr_assert_eq(a->has_regs, b->has_regs, "event %lu: has_regs", (unsigned long)i);
	if (a->has_regs)
		cr_assert(memcmp(a->regs, b->regs, sizeof(a->regs)) == 0, "event %lu: regs",
			  (unsigned long)i);
	cr_assert_eq(a->nblobs, b->nblobs, "event %lu: nblobs", (unsigned long)i);
	for (uint32_t k = 0; k < a->nblobs; k++) {
		cr_assert_eq(a->blobs[k].addr, b->blobs[k].addr);
		cr_assert_eq(a->blobs[k].len, b->blobs[k].len);
		cr_assert(memcmp(a->blobs[k].data, b->blobs[k].data, a->blobs[k].len) == 0,
			  "event %lu: blob %u bytes", (unsigned long)i, k);
	}
}

static struct trace_blob gen_blobs[MAX_TEST_BLOBS];

/* Write events [0, n) to a new trace at @dir, a frame every @per_frame
 * events (0: let the writer cut frames). */
static void
write_trace(const char *dir, uint64_t n, uint64_t per_frame, uint32_t max_blob,
	    struct trace_stats *ret_stats)
{
	struct trace_header h;
	struct trace_writer *w;
	struct trace_event ev;

	sample_header(&h);
	cr_assert_eq(trace_writer_open(dir, &h, &w), 0);
	for (uint64_t i = 0; i < n; i++) {
		gen_event(i, &ev, gen_blobs, max_blob);
		cr_assert_eq(trace_writer_add_event(w, &ev), 0);
		if (per_frame && (i + 1) % per_frame == 0)
			cr_assert_eq(trace_writer_flush(w), 0);
	}
	cr_assert_eq(trace_writer_flush(w), 0);
	if (ret_stats)
		trace_writer_stats(w, ret_stats);
	cr_assert_eq(trace_writer_close(w), 0);
}

/* Read a trace, checking events against gen_event(); returns the last
 * trace_reader_next() result and the number of events in *ret_n. */
static int
read_trace(const char *dir, uint32_t max_blob, uint64_t *ret_n, char *msg, size_t msglen,
	   struct trace_stats *ret_stats)
{
	struct trace_reader *r;
	struct trace_event ev, want;
	char err[512];
	uint64_t n = 0;
	int ret;

	ret = trace_reader_open(dir, &r, err, sizeof(err));
	cr_assert_eq(ret, 0, "open: %s", err);
	while ((ret = trace_reader_next(r, &ev)) == 1) {
		gen_event(n, &want, gen_blobs, max_blob);
		assert_event_eq(&ev, &want, n);
		n++;
	}
	if (msg)
		snprintf(msg, msglen, "%s", trace_reader_error(r));
	if (ret_stats)
		trace_reader_stats(r, ret_stats);
	/* errors and the end are sticky */
	cr_assert_eq(trace_reader_next(r, &ev), ret);
	trace_reader_close(r);
	*ret_n = n;
	return ret;
}

static uint64_t
file_size(const char *path)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0, "stat %s", path);
	return (uint64_t)st.st_size;
}

TestSuite(trace, .init = make_tmp, .fini = remove_tmp, .timeout = 60);

/* ---- frames ---- */

static void
encode_sample_frame(size_t raw_len, void **ret_frame, size_t *ret_len)
{
	uint8_t *raw = malloc(raw_len + 1);

	for (size_t i = 0; i < raw_len; i++)
		raw[i] = (uint8_t)(i % 7 == 0 ? i * 31 : i / 5);
	cr_assert_eq(trace_frame_encode(TRACE_STREAM_EVENTS, 5, raw, raw_len, ret_frame, ret_len),
		     0);
	free(raw);
}

/* trace_hash128() is XXH3-128 (seed 0) in canonical form: the digest a
 * TRACE_SB_HASHED record keeps, which another uprr must compute alike. The
 * empty input's is xxhash's own test vector. */
Test(trace, hash128_is_xxh3_128)
{
	static const uint8_t empty[TRACE_HASH_SIZE] = { 0x99, 0xaa, 0x06, 0xd3, 0x01, 0x47, 0x98, 0xd8,
							0x60, 0x01, 0xc3, 0x24, 0x46, 0x8d, 0x49, 0x7f };
	uint8_t a[TRACE_HASH_SIZE], b[TRACE_HASH_SIZE];
	char buf[4096];

	trace_hash128("", 0, a);
	cr_assert_arr_eq(a, empty, sizeof(a));
	memset(buf, 'x', sizeof(buf));
	trace_hash128(buf, sizeof(buf), a);
	buf[sizeof(buf) / 2] ^= 1; /* one bit anywhere changes it */
	trace_hash128(buf, sizeof(buf), b);
	cr_assert(memcmp(a, b, sizeof(a)) != 0);
}

Test(trace, frame_round_trip)
{
	size_t sizes[] = { 0, 1, 100, 70000, 3 << 20 };

	for (size_t k = 0; k < ARRAY_SIZE(sizes); k++) {
		void *frame, *raw;
		size_t len, raw_len, frame_len;
		uint8_t *padded;

		encode_sample_frame(sizes[k], &frame, &len);
		/* trailing bytes (the next frame) are not part of this one */
		padded = malloc(len + 10);
		memcpy(padded, frame, len);
		memset(padded + len, 0xee, 10);
		cr_assert_eq(trace_frame_decode(padded, len + 10, TRACE_STREAM_EVENTS, 5, &raw,
						&raw_len, &frame_len),
			     0);
		cr_assert_eq(raw_len, sizes[k]);
		cr_assert_eq(frame_len, len);
		for (size_t i = 0; i < raw_len; i++)
			cr_assert_eq(((uint8_t *)raw)[i], (uint8_t)(i % 7 == 0 ? i * 31 : i / 5));
		free(raw);
		free(padded);
		free(frame);
	}
}

Test(trace, frame_truncated_is_enodata)
{
	void *frame, *raw = NULL;
	size_t len, raw_len, frame_len;

	encode_sample_frame(3000, &frame, &len);
	for (size_t cut = 0; cut < len; cut++) {
		/* an exact-size copy, so a read past @cut is caught by ASan */
		uint8_t *p = malloc(cut ? cut : 1);

		memcpy(p, frame, cut);
		cr_assert_eq(trace_frame_decode(p, cut, TRACE_STREAM_EVENTS, 5, &raw, &raw_len,
						&frame_len),
			     -ENODATA, "cut at %zu", cut);
		free(p);
	}
	cr_assert_null(raw);
	free(frame);
}

Test(trace, frame_flipped_bits_are_ebadmsg)
{
	void *frame, *raw = NULL;
	size_t len, raw_len, frame_len;

	encode_sample_frame(400, &frame, &len);
	for (size_t bit = 0; bit < len * 8; bit++) {
		uint8_t *p = malloc(len);
		uint32_t clen_before, clen_after;
		int r;

		memcpy(p, frame, len);
		memcpy(&clen_before, p + 12, 4);
		p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		memcpy(&clen_after, p + 12, 4);
		r = trace_frame_decode(p, len, TRACE_STREAM_EVENTS, 5, &raw, &raw_len, &frame_len);
		if (clen_after > clen_before)
			/* a longer stated payload than the buffer holds: it may
			 * be a frame cut short; nothing tells them apart */
			cr_assert(r == -ENODATA || r == -EBADMSG, "bit %zu: %d", bit, r);
		else
			cr_assert_eq(r, -EBADMSG, "bit %zu", bit);
		free(p);
	}
	cr_assert_null(raw);
	free(frame);
}

Test(trace, frame_wrong_stream_or_seq)
{
	void *frame, *raw;
	size_t len, raw_len, frame_len;

	encode_sample_frame(100, &frame, &len);
	cr_assert_eq(trace_frame_decode(frame, len, TRACE_STREAM_FILES, 5, &raw, &raw_len,
					&frame_len),
		     -EBADMSG);
	cr_assert_eq(trace_frame_decode(frame, len, TRACE_STREAM_EVENTS, 6, &raw, &raw_len,
					&frame_len),
		     -EBADMSG);
	free(frame);
}

Test(trace, frame_garbage_never_crashes)
{
	uint64_t s = 7;
	void *good;
	size_t good_len;

	encode_sample_frame(500, &good, &good_len);
	for (int iter = 0; iter < 20000; iter++) {
		size_t len = splitmix(&s) % (good_len + 64);
		uint8_t *p = malloc(len ? len : 1);
		void *raw;
		size_t raw_len, frame_len;
		int r;

		/* start from a real frame and damage a few bytes, or start from
		 * noise behind a real header */
		for (size_t i = 0; i < len; i++)
			p[i] = i < good_len && (iter & 1) ? ((uint8_t *)good)[i]
							  : (uint8_t)splitmix(&s);
		for (int k = 0; len && k < 4; k++)
			p[splitmix(&s) % len] = (uint8_t)splitmix(&s);
		if (len >= 4)
			memcpy(p, "UPRF", 4);
		r = trace_frame_decode(p, len, TRACE_STREAM_EVENTS, 5, &raw, &raw_len,
				       &frame_len);
		if (r == 0)
			free(raw);
		else
			cr_assert(r == -ENODATA || r == -EBADMSG, "iteration %d: %d", iter, r);
		free(p);
	}
	free(good);
}

/* ---- records ---- */

Test(trace, record_truncated_is_ebadmsg)
{
	struct trace_wbuf b = { 0 };
	struct trace_event ev, out;
	struct trace_blob *blobs = NULL;
	size_t cap = 0;

	fill_pool();
	gen_event(100, &ev, gen_blobs, 64); /* regs or not, 1024 blobs */
	ev.has_regs = true;
	cr_assert_gt(trace_record_encode(&b, &ev), 0);
	for (size_t cut = 0; cut < b.len; cut++) {
		struct trace_rcur c = { b.data, cut };

		cr_assert_eq(trace_record_decode(&c, &out, &blobs, &cap), -EBADMSG, "cut %zu", cut);
	}
	{
		struct trace_rcur c = { b.data, b.len };

		cr_assert_eq(trace_record_decode(&c, &out, &blobs, &cap), 0);
		cr_assert_eq(c.left, 0);
		assert_event_eq(&out, &ev, 100);
	}
	free(blobs);
	trace_wbuf_free(&b);
}

Test(trace, record_rejects_bad_events)
{
	struct trace_wbuf b = { 0 };
	struct trace_event ev = { .type = TRACE_EV_THREAD_EXIT, .tid = 1 };

	ev.nvalues = TRACE_MAX_VALUES + 1;
	cr_assert_eq(trace_record_encode(&b, &ev), -EINVAL);
	ev.nvalues = 0;
	ev.type = 0;
	cr_assert_eq(trace_record_encode(&b, &ev), -EINVAL);
	ev.type = TRACE_EV_THREAD_EXIT;
	ev.nblobs = 1;
	cr_assert_eq(trace_record_encode(&b, &ev), -EINVAL);
	cr_assert_eq(b.len, 0);
	trace_wbuf_free(&b);
}

/* ---- writer and reader ---- */

Test(trace, events_round_trip)
{
	const char *dir = tmp_path("t");
	struct trace_stats ws, rs;
	uint64_t n;

	fill_pool();
	/* ~1.3 KiB of blob bytes per event: several frames */
	write_trace(dir, 5000, 0, 2048, &ws);
	cr_assert_eq(read_trace(dir, 2048, &n, NULL, 0, &rs), 0);
	cr_assert_eq(n, 5000);
	cr_assert_eq(ws.events, 5000);
	cr_assert_gt(ws.frames, 3);
	cr_assert_eq(rs.events, ws.events);
	cr_assert_eq(rs.frames, ws.frames);
	cr_assert_eq(rs.raw_bytes, ws.raw_bytes);
	cr_assert_eq(rs.compressed_bytes, ws.compressed_bytes);
	cr_assert_eq(rs.compressed_bytes, file_size(tmp_path("t/events")));
}

Test(trace, header_round_trip)
{
	const char *dir = tmp_path("t");
	struct trace_header h, empty;
	const struct trace_header *got;
	struct trace_reader *r;
	struct trace_writer *w;
	struct trace_event ev;
	char err[256];

	sample_header(&h);
	cr_assert_eq(trace_writer_open(dir, &h, &w), 0);
	cr_assert_eq(trace_writer_close(w), 0);
	cr_assert_eq(trace_reader_open(dir, &r, err, sizeof(err)), 0, "%s", err);
	got = trace_reader_header(r);
	cr_assert_eq(got->format_version, TRACE_FORMAT_VERSION);
	cr_assert_str_eq(got->uprr_version, h.uprr_version);
	for (int i = 0; i < 4; i++) {
		if (!h.argv[i]) {
			cr_assert_null(got->argv[i]);
			break;
		}
		cr_assert_str_eq(got->argv[i], h.argv[i]);
	}
	cr_assert_str_eq(got->envp[0], h.envp[0]);
	cr_assert_str_eq(got->envp[1], h.envp[1]);
	cr_assert_null(got->envp[2]);
	cr_assert_str_eq(got->cwd, h.cwd);
	cr_assert_str_eq(got->cpu_vendor, h.cpu_vendor);
	cr_assert(memcmp(got->cpu_features, h.cpu_features, sizeof(h.cpu_features)) == 0);
	cr_assert_str_eq(got->tick_source, h.tick_source);
	cr_assert_str_eq(got->mode, h.mode);
	cr_assert_eq(got->start_time_ns, h.start_time_ns);
	/* a trace with no events ends cleanly */
	cr_assert_eq(trace_reader_next(r, &ev), 0);
	trace_reader_close(r);

	/* NULL lists read back as empty lists */
	memset(&empty, 0, sizeof(empty));
	cr_assert_eq(trace_writer_open(tmp_path("u"), &empty, &w), 0);
	cr_assert_eq(trace_writer_close(w), 0);
	cr_assert_eq(trace_reader_open(tmp_path("u"), &r, err, sizeof(err)), 0, "%s", err);
	got = trace_reader_header(r);
	cr_assert_not_null(got->argv);
	cr_assert_null(got->argv[0]);
	cr_assert_null(got->envp[0]);
	trace_reader_close(r);
}

Test(trace, modes_and_existing_dir)
{
	const char *dir = tmp_path("t");
	struct trace_header h;
	struct trace_writer *w = NULL;
	struct stat st;

	sample_header(&h);
	umask(0);
	cr_assert_eq(trace_writer_open(dir, &h, &w), 0);
	cr_assert_eq(stat(dir, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0700);
	cr_assert_eq(stat(tmp_path("t/files"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0700);
	cr_assert_eq(stat(tmp_path("t/header"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600);
	cr_assert_eq(stat(tmp_path("t/events"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600);
	cr_assert_eq(stat(tmp_path("t/catalogue"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600);
	cr_assert_eq(trace_writer_close(w), 0);

	w = NULL;
	cr_assert_eq(trace_writer_open(dir, &h, &w), -EEXIST);
	cr_assert_null(w);
	cr_assert_eq(trace_writer_open(tmp_path("no/such"), &h, &w), -ENOENT);
	cr_assert_null(w);
	cr_assert_eq(trace_writer_close(NULL), 0);
	trace_reader_close(NULL);
}

Test(trace, big_records)
{
	const char *dir = tmp_path("t");
	struct trace_header h;
	struct trace_writer *w;
	struct trace_reader *r;
	struct trace_event ev = { .type = TRACE_EV_SYSCALL_EXIT, .tid = 7, .nvalues = 2 };
	struct trace_blob blob = { .addr = 0x1000 };
	struct trace_stats st;
	size_t huge = TRACE_FRAME_MAX_RAW - (100 << 10);
	uint8_t *data = calloc(1, TRACE_FRAME_MAX_RAW + 1);
	char err[256];
	int n = 0;

	cr_assert_not_null(data);
	data[5] = 5;
	data[huge - 1] = 9;
	sample_header(&h);
	cr_assert_eq(trace_writer_open(dir, &h, &w), 0);
	/* 900 KiB buffered, then a record that fits a frame only alone */
	blob.data = data;
	blob.len = 900 << 10;
	ev.nblobs = 1;
	ev.blobs = &blob;
	cr_assert_eq(trace_writer_add_event(w, &ev), 0);
	blob.len = (uint32_t)huge;
	cr_assert_eq(trace_writer_add_event(w, &ev), 0);
	/* more than a frame holds: refused, and the writer goes on */
	blob.len = TRACE_FRAME_MAX_RAW + 1;
	cr_assert_eq(trace_writer_add_event(w, &ev), -EMSGSIZE);
	blob.len = 10;
	cr_assert_eq(trace_writer_add_event(w, &ev), 0);
	cr_assert_eq(trace_writer_close(w), 0);

	cr_assert_eq(trace_reader_open(dir, &r, err, sizeof(err)), 0, "%s", err);
	while (trace_reader_next(r, &ev) == 1) {
		uint32_t want[] = { 900 << 10, (uint32_t)huge, 10 };

		cr_assert_lt(n, 3);
		cr_assert_eq(ev.nblobs, 1);
		cr_assert_eq(ev.blobs[0].len, want[n]);
		cr_assert(memcmp(ev.blobs[0].data, data, want[n]) == 0);
		n++;
	}
	cr_assert_eq(n, 3);
	trace_reader_stats(r, &st);
	cr_assert_eq(st.frames, 3);
	trace_reader_close(r);
	free(data);
}

/* ---- reader errors ---- */

Test(trace, reader_missing_dir_and_header)
{
	struct trace_reader *r = NULL;
	char err[512], want[512];

	cr_assert_eq(trace_reader_open(tmp_path("nope"), &r, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "'%s': no such trace directory", tmp_path("nope"));
	cr_assert_str_eq(err, want);
	cr_assert_null(r);

	cr_assert_eq(trace_reader_open(tmp_root, &r, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "'%s' is not a uprr trace (no header file)", tmp_root);
	cr_assert_str_eq(err, want);
	cr_assert_null(r);

	/* errbuf is optional */
	cr_assert_eq(trace_reader_open(tmp_root, &r, NULL, 0), -ENOENT);
}

static void
replace_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);

	cr_assert_geq(fd, 0);
	cr_assert_eq(util_write_all(fd, data, len), 0);
	close(fd);
}

Test(trace, reader_rejects_newer_version)
{
	const char *dir = tmp_path("t");
	struct trace_reader *r = NULL;
	struct trace_header h;
	struct trace_wbuf b = { 0 };
	void *frame;
	size_t len;
	char err[512], want[512];

	write_trace(dir, 10, 0, 16, NULL);
	sample_header(&h);
	h.format_version = TRACE_FORMAT_VERSION + 1;
	cr_assert_eq(trace_header_encode(&b, &h), 0);
	/* a future version may add fields: the reader must stop at the version */
	cr_assert_eq(trace_wbuf_reserve(&b, 3), 0);
	wbuf_put_bytes(&b, "new", 3);
	cr_assert_eq(trace_frame_encode(TRACE_STREAM_HEADER, 0, b.data, b.len, &frame, &len), 0);
	replace_file(tmp_path("t/header"), frame, len);

	cr_assert_eq(trace_reader_open(dir, &r, err, sizeof(err)), -EPROTONOSUPPORT);
	snprintf(want, sizeof(want),
		 "'%s' is format version %d; this uprr reads up to %d — upgrade uprr", dir,
		 TRACE_FORMAT_VERSION + 1, TRACE_FORMAT_VERSION);
	cr_assert_str_eq(err, want);
	cr_assert_null(r);
	free(frame);
	trace_wbuf_free(&b);
}

Test(trace, reader_corrupt_header)
{
	const char *dir = tmp_path("t");
	struct trace_reader *r = NULL;
	char err[512];
	uint64_t size;
	int fd;

	write_trace(dir, 1, 0, 16, NULL);
	size = file_size(tmp_path("t/header"));
	fd = open(tmp_path("t/header"), O_RDWR | O_CLOEXEC);
	cr_assert_eq(pwrite(fd, "x", 1, (off_t)size - 1), 1);
	cr_assert_eq(trace_reader_open(dir, &r, err, sizeof(err)), -EBADMSG);
	cr_assert(strstr(err, "header is corrupt (bad checksum)"), "%s", err);
	cr_assert_eq(ftruncate(fd, 10), 0);
	cr_assert_eq(trace_reader_open(dir, &r, err, sizeof(err)), -ENODATA);
	cr_assert_eq(pwrite(fd, "ELF!", 4, 0), 4);
	cr_assert_eq(trace_reader_open(dir, &r, err, sizeof(err)), -EBADMSG);
	cr_assert(strstr(err, "is not a uprr trace"), "%s", err);
	cr_assert_null(r);
	close(fd);
}

/* Offsets of frame ends in the events file of a trace written with
 * @per_frame events per frame, read back by walking the frame headers. */
static size_t
frame_ends(const char *path, uint64_t *ends, size_t max)
{
	char *buf;
	size_t len, off = 0, n = 0;

	cr_assert_eq(util_read_file(path, &buf, &len), 0);
	while (off < len && n < max) {
		uint32_t clen;

		memcpy(&clen, buf + off + 12, 4);
		off += TRACE_FRAME_HEADER_SIZE + clen;
		ends[n++] = off;
	}
	cr_assert_eq(off, len);
	free(buf);
	return n;
}

Test(trace, reader_bad_checksum)
{
	const char *dir = tmp_path("t");
	uint64_t ends[8], n;
	char msg[512], want[512];
	int fd;
	uint8_t byte;

	fill_pool();
	write_trace(dir, 30, 10, 64, NULL);
	cr_assert_eq(frame_ends(tmp_path("t/events"), ends, 8), 3);
	/* damage the middle of frame 1's payload */
	fd = open(tmp_path("t/events"), O_RDWR | O_CLOEXEC);
	cr_assert_eq(pread(fd, &byte, 1, (off_t)(ends[0] + ends[1]) / 2 + 16), 1);
	byte ^= 0x20;
	cr_assert_eq(pwrite(fd, &byte, 1, (off_t)(ends[0] + ends[1]) / 2 + 16), 1);
	close(fd);

	cr_assert_eq(read_trace(dir, 64, &n, msg, sizeof(msg), NULL), -EBADMSG);
	cr_assert_eq(n, 10);
	snprintf(want, sizeof(want),
		 "trace '%s': frame 1 of the events stream is corrupt (bad checksum)", dir);
	cr_assert_str_eq(msg, want);
}

Test(trace, reader_cut_at_every_byte)
{
	const char *dir = tmp_path("t");
	const char *events = tmp_path("t/events");
	uint64_t ends[8], size;
	size_t nframes;

	fill_pool();
	write_trace(dir, 12, 3, 24, NULL);
	nframes = frame_ends(events, ends, 8);
	cr_assert_eq(nframes, 4);
	size = file_size(events);
	/* shrinking the file one byte at a time visits every cut */
	for (uint64_t cut = size + 1; cut-- > 0;) {
		char msg[512], want[512];
		size_t whole = 0;
		uint64_t n;
		int r;

		cr_assert_eq(truncate(events, (off_t)cut), 0);
		while (whole < nframes && ends[whole] <= cut)
			whole++;
		r = read_trace(dir, 24, &n, msg, sizeof(msg), NULL);
		cr_assert_eq(n, whole * 3, "cut %lu", (unsigned long)cut);
		if (cut == 0 || (whole > 0 && ends[whole - 1] == cut)) {
			cr_assert_eq(r, 0, "cut %lu", (unsigned long)cut);
		} else {
			cr_assert_eq(r, -ENODATA, "cut %lu", (unsigned long)cut);
			snprintf(want, sizeof(want), "trace '%s' ends in the middle of frame %zu",
				 dir, whole);
			cr_assert_str_eq(msg, want);
		}
	}
}

/* A trace of @n generated events (types 1-8, a frame every 3) and, with
 * @end, TRACE_EV_END: as a recorder that finished writes it. */
static void
write_trace_end(const char *dir, uint64_t n, bool end)
{
	struct trace_header h;
	struct trace_writer *w;
	struct trace_event ev;

	sample_header(&h);
	cr_assert_eq(trace_writer_open(dir, &h, &w), 0);
	for (uint64_t i = 0; i < n; i++) {
		gen_event(i, &ev, gen_blobs, 24);
		cr_assert_eq(trace_writer_add_event(w, &ev), 0);
		if ((i + 1) % 3 == 0)
			cr_assert_eq(trace_writer_flush(w), 0);
	}
	if (end) {
		ev = (struct trace_event){ .type = TRACE_EV_END, .tid = 7, .nvalues = 1 };
		cr_assert_eq(trace_writer_add_event(w, &ev), 0);
	}
	cr_assert_eq(trace_writer_close(w), 0);
}

/* trace_reader_complete() after reading @dir to its end, and
 * trace_reader_has_end() before reading it: the two must agree. */
static bool
ends_complete(const char *dir, int *ret_next)
{
	struct trace_reader *r;
	struct trace_event ev;
	char err[512];
	bool ended, complete;
	int ret;

	cr_assert_eq(trace_reader_open(dir, &r, err, sizeof(err)), 0, "open: %s", err);
	cr_assert_eq(trace_reader_has_end(r, &ended), 0);
	cr_assert_not(trace_reader_complete(r), "complete before the end was read");
	while ((ret = trace_reader_next(r, &ev)) == 1)
		;
	complete = trace_reader_complete(r);
	/* has_end() moved nothing: a second look says the same */
	cr_assert_eq(trace_reader_has_end(r, &ended), 0);
	cr_assert_eq(ended, complete, "has_end %d, complete %d", ended, complete);
	trace_reader_close(r);
	*ret_next = ret;
	return complete;
}

/* A trace is complete only with its end event, read to a clean end: cut
 * at any byte (a killed recorder), or written without the end, it is not. */
Test(trace, reader_complete_only_with_end)
{
	const char *dir = tmp_path("t");
	const char *events = tmp_path("t/events");
	uint64_t size;
	int ret;

	fill_pool();
	write_trace_end(dir, 10, true);
	cr_assert(ends_complete(dir, &ret));
	cr_assert_eq(ret, 0);
	size = file_size(events);
	for (uint64_t cut = size; cut-- > 0;) {
		cr_assert_eq(truncate(events, (off_t)cut), 0);
		cr_assert_not(ends_complete(dir, &ret), "complete when cut at %lu",
			      (unsigned long)cut);
		cr_assert(ret == 0 || ret == -ENODATA, "cut %lu: %d", (unsigned long)cut, ret);
	}
	dir = tmp_path("t2");
	write_trace_end(dir, 10, false);
	cr_assert_not(ends_complete(dir, &ret));
	cr_assert_eq(ret, 0);
}

/* A corrupt frame header: has_end() says so, and never that the trace
 * ended. */
Test(trace, reader_has_end_corrupt)
{
	const char *dir = tmp_path("t");
	struct trace_reader *r;
	uint64_t ends[8];
	char err[512];
	bool ended = true;
	int fd;

	fill_pool();
	write_trace_end(dir, 10, true);
	cr_assert_eq(frame_ends(tmp_path("t/events"), ends, 8), 4);
	fd = open(tmp_path("t/events"), O_RDWR | O_CLOEXEC);
	/* frame 1's magic */
	cr_assert_eq(pwrite(fd, "X", 1, (off_t)ends[0]), 1);
	close(fd);
	cr_assert_eq(trace_reader_open(dir, &r, err, sizeof(err)), 0, "open: %s", err);
	cr_assert_eq(trace_reader_has_end(r, &ended), -EBADMSG);
	cr_assert_not(ended);
	trace_reader_close(r);
}

/* Records go out as a frame once the oldest waited TRACE_FRAME_MAX_AGE_MS,
 * however few: a recorder killed then leaves them. */
Test(trace, writer_frame_by_age)
{
	const char *dir = tmp_path("t");
	struct trace_header h;
	struct trace_writer *w;
	struct trace_event ev;
	struct trace_stats st;
	struct timespec pause = { 0, (TRACE_FRAME_MAX_AGE_MS + 20) * 1000000L };

	fill_pool();
	sample_header(&h);
	cr_assert_eq(trace_writer_open(dir, &h, &w), 0);
	gen_event(0, &ev, gen_blobs, 24);
	cr_assert_eq(trace_writer_add_event(w, &ev), 0);
	gen_event(1, &ev, gen_blobs, 24);
	cr_assert_eq(trace_writer_add_event(w, &ev), 0);
	trace_writer_stats(w, &st);
	cr_assert_eq(st.frames, 0, "a frame before its records aged");
	nanosleep(&pause, NULL);
	gen_event(2, &ev, gen_blobs, 24);
	cr_assert_eq(trace_writer_add_event(w, &ev), 0);
	/* stats wait for the frame being written */
	trace_writer_stats(w, &st);
	cr_assert_eq(st.frames, 1);
	cr_assert_eq(st.events_written, 3);
	cr_assert_eq(trace_writer_close(w), 0);
}

Test(trace, reader_record_past_frame)
{
	const char *dir = tmp_path("t");
	struct trace_wbuf b = { 0 };
	struct trace_event ev;
	void *frame;
	size_t len;
	uint64_t n;
	char msg[512];

	fill_pool();
	write_trace(dir, 1, 0, 16, NULL);
	/* a whole record, then one cut short inside a valid frame */
	gen_event(0, &ev, gen_blobs, 16);
	cr_assert_gt(trace_record_encode(&b, &ev), 0);
	gen_event(1, &ev, gen_blobs, 16);
	ev.nblobs = 1;
	gen_blobs[0].len = 16;
	cr_assert_gt(trace_record_encode(&b, &ev), 0);
	cr_assert_eq(trace_frame_encode(TRACE_STREAM_EVENTS, 0, b.data, b.len - 1, &frame, &len),
		     0);
	replace_file(tmp_path("t/events"), frame, len);

	cr_assert_eq(read_trace(dir, 16, &n, msg, sizeof(msg), NULL), -EBADMSG);
	cr_assert_eq(n, 1);
	cr_assert(strstr(msg, "frame 0 of the events stream is corrupt (bad record"), "%s", msg);
	free(frame);
	trace_wbuf_free(&b);
}

/* ---- a write that fails mid-stream ---- */

#define FSIZE_LIMIT (3u << 20)

/* In a forked child, after @w failed with @err: every later call fails the
 * same (the error sticks). Ends the child: status 0 if so, else @code. */
static void __attribute__((noreturn))
exit_if_sticky(struct trace_writer *w, const struct trace_event *ev, int err, int code)
{
	if (trace_writer_add_event(w, ev) != err || trace_writer_flush(w) != err ||
	    trace_writer_close(w) != err)
		_exit(code);
	_exit(0);
}

Test(trace, write_failure_truncates_back)
{
	const char *dir = tmp_path("t");
	struct trace_stats st;
	char msg[512];
	uint64_t n;
	int status, written[2];
	pid_t pid;

	fill_pool();
	cr_assert_eq(pipe(written), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* Child: RLIMIT_FSIZE with SIGXFSZ ignored makes the write that
		 * crosses the limit short and the next one fail with EFBIG,
		 * as a full disk would (ENOSPC). */
		struct rlimit rl = { FSIZE_LIMIT, FSIZE_LIMIT };
		struct trace_header h;
		struct trace_writer *w;
		struct trace_event ev;
		int r = 0;

		signal(SIGXFSZ, SIG_IGN);
		sample_header(&h);
		if (trace_writer_open(dir, &h, &w) < 0)
			_exit(10);
		if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
			_exit(11);
		for (uint64_t i = 0; i < 10000 && r == 0; i++) {
			gen_event(i, &ev, gen_blobs, 60000);
			r = trace_writer_add_event(w, &ev);
		}
		if (r != -EFBIG)
			_exit(12);
		/* the events the writer says it kept (a frame its thread
		 * failed to write counts for nothing), for the parent */
		{
			struct trace_stats ws;

			trace_writer_stats(w, &ws);
			if (write(written[1], &ws.events_written, sizeof(ws.events_written)) !=
			    (ssize_t)sizeof(ws.events_written))
				_exit(14);
		}
		gen_event(0, &ev, gen_blobs, 16);
		exit_if_sticky(w, &ev, -EFBIG, 13);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);

	/* the trace ends at its last whole frame: a clean end, no ENODATA;
	 * with as many events as the writer said */
	cr_assert_eq(read_trace(dir, 60000, &n, msg, sizeof(msg), &st), 0, "%s", msg);
	{
		uint64_t said = 0;

		cr_assert_eq(read(written[0], &said, sizeof(said)), (ssize_t)sizeof(said));
		cr_assert_eq(said, n, "the writer said %lu events, the trace has %lu", (unsigned long)said,
			     (unsigned long)n);
		close(written[0]);
		close(written[1]);
	}
	cr_assert_gt(st.frames, 0);
	cr_assert_gt(n, 0);
	cr_assert_eq(st.compressed_bytes, file_size(tmp_path("t/events")));
	cr_assert_leq(file_size(tmp_path("t/events")), FSIZE_LIMIT);
}

/* ---- kept files ---- */

static void
make_file(const char *path, size_t size, uint8_t seed)
{
	uint8_t *buf = malloc(size + 1);
	int fd;

	for (size_t i = 0; i < size; i++)
		buf[i] = (uint8_t)(seed + i * 13 + (i >> 9));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(util_write_all(fd, buf, size), 0);
	close(fd);
	free(buf);
}

static void
assert_same_content(const char *a, const char *b)
{
	char *x, *y;
	size_t xl, yl;

	cr_assert_eq(util_read_file(a, &x, &xl), 0);
	cr_assert_eq(util_read_file(b, &y, &yl), 0);
	cr_assert_eq(xl, yl, "%s and %s differ in size", a, b);
	cr_assert(memcmp(x, y, xl) == 0, "%s and %s differ", a, b);
	free(x);
	free(y);
}

/* A new trace writer in @dir that has kept @path, made with @size bytes;
 * the file stays open (open(2) @oflags) as *ret_fd, its id in *ret_id. */
static struct trace_writer *
writer_keeping(const char *dir, const char *path, size_t size, int oflags, int *ret_fd,
	       uint32_t *ret_id)
{
	struct trace_header h;
	struct trace_writer *w;

	make_file(path, size, 1);
	sample_header(&h);
	cr_assert_eq(trace_writer_open(dir, &h, &w), 0);
	*ret_fd = open(path, oflags | O_CLOEXEC);
	cr_assert_geq(*ret_fd, 0);
	cr_assert_eq(trace_writer_keep_file(w, *ret_fd, path, 0, ret_id), 0);
	return w;
}

/* A kept file the filesystem refuses ends the trace as a failed frame does;
 * the writer counts the events its whole frames hold. */
Test(trace, keep_file_failure_sticks)
{
	const char *dir = tmp_path("t");
	struct trace_stats st;
	char msg[512];
	uint64_t n;
	int status;
	pid_t pid;

	fill_pool();
	make_file(tmp_path("big"), 1 << 20, 3);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct rlimit rl = { 256 << 10, 256 << 10 };
		struct trace_stats ws;
		struct trace_header h;
		struct trace_writer *w;
		struct trace_event ev;
		uint32_t id;
		int fd;

		signal(SIGXFSZ, SIG_IGN);
		sample_header(&h);
		if (trace_writer_open(dir, &h, &w) < 0)
			_exit(10);
		for (uint64_t i = 0; i < 100; i++) {
			gen_event(i, &ev, gen_blobs, 16);
			if (trace_writer_add_event(w, &ev) < 0)
				_exit(11);
		}
		if (trace_writer_flush(w) < 0)
			_exit(12);
		gen_event(100, &ev, gen_blobs, 16);
		if (trace_writer_add_event(w, &ev) < 0)
			_exit(13);
		trace_writer_stats(w, &ws);
		if (ws.events != 101 || ws.events_written != 100)
			_exit(14);
		fd = open(tmp_path("big"), O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setrlimit(RLIMIT_FSIZE, &rl) < 0)
			_exit(15);
		if (trace_writer_keep_file(w, fd, "/lib/big", 0, &id) != -EFBIG)
			_exit(16);
		exit_if_sticky(w, &ev, -EFBIG, 17);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	cr_assert_eq(read_trace(dir, 16, &n, msg, sizeof(msg), &st), 0, "%s", msg);
	cr_assert_eq(n, 100);
	cr_assert_eq(access(tmp_path("t/files/0-big"), F_OK), -1, "the partial copy is removed");
}


Test(trace, keep_file_dedup)
{
	const char *dir = tmp_path("t");
	char lib[PATH_MAX], exe[PATH_MAX], err[512];
	struct trace_header h;
	struct trace_writer *w;
	struct trace_reader *r;
	struct trace_stats st;
	const char *copy, *orig;
	uint32_t id0 = 99, id1 = 99, id2 = 99, id3 = 99;
	int fd, fd2;
	struct stat sb;

	snprintf(lib, sizeof(lib), "%s", tmp_path("libfoo.so.1"));
	snprintf(exe, sizeof(exe), "%s", tmp_path("prog"));
	make_file(lib, 300000, 1);
	make_file(exe, 5000, 2);
	sample_header(&h);
	cr_assert_eq(trace_writer_open(dir, &h, &w), 0);

	fd = open(lib, O_RDONLY | O_CLOEXEC);
	/* the fd's offset is not the copy's starting point, and stays put */
	cr_assert_eq(lseek(fd, 1234, SEEK_SET), 1234);
	cr_assert_eq(trace_writer_keep_file(w, fd, lib, 0, &id0), 0);
	cr_assert_eq(lseek(fd, 0, SEEK_CUR), 1234);
	fd2 = open(lib, O_RDONLY | O_CLOEXEC);
	cr_assert_eq(trace_writer_keep_file(w, fd2, "/other/name/libfoo.so.1", 0, &id1), 0);
	close(fd2);
	cr_assert_eq(id0, 0);
	cr_assert_eq(id1, 0);

	fd2 = open(exe, O_RDONLY | O_CLOEXEC);
	cr_assert_eq(trace_writer_keep_file(w, fd2, exe, 0, &id2), 0);
	close(fd2);
	cr_assert_eq(id2, 1);

	/* the catalogue entry is on disk before keep_file returns */
	cr_assert_eq(trace_reader_open(dir, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(trace_reader_file(r, 1, &copy, &orig), 0);
	cr_assert_str_eq(orig, exe);
	assert_same_content(copy, exe);
	trace_reader_close(r);

	/* a changed file (size, mtime) is kept again */
	make_file(lib, 300001, 3);
	fd2 = open(lib, O_RDONLY | O_CLOEXEC);
	cr_assert_eq(trace_writer_keep_file(w, fd2, lib, 0, &id3), 0);
	close(fd2);
	cr_assert_eq(id3, 2);
	close(fd);
	cr_assert_eq(trace_writer_keep_file(w, -1, lib, 0, &id3), -EBADF);
	cr_assert_eq(trace_writer_close(w), 0);

	cr_assert_eq(trace_reader_open(dir, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(trace_reader_file(r, 0, &copy, &orig), 0);
	cr_assert_str_eq(orig, lib);
	cr_assert_eq(stat(copy, &sb), 0);
	cr_assert_eq(sb.st_size, 300000);
	cr_assert_eq(sb.st_mode & 07777, 0600);
	cr_assert(strstr(copy, "/files/0-libfoo.so.1"), "%s", copy);
	cr_assert_eq(trace_reader_file(r, 2, &copy, NULL), 0);
	assert_same_content(copy, lib);
	cr_assert_eq(trace_reader_file(r, 3, &copy, &orig), -ENOENT);
	trace_reader_stats(r, &st);
	cr_assert_eq(st.file_bytes, 300000 + 5000 + 300001);
	trace_reader_close(r);
}

/* An image from memory is a file of the trace with its catalogue entry,
 * numbered with the kept files, never deduplicated. */
Test(trace, keep_data)
{
	static const char image[] = "\x7f" "ELF an image uprr made";
	const char *dir = tmp_path("t");
	char exe[PATH_MAX], err[512], buf[sizeof(image) + 8];
	struct trace_header h;
	struct trace_writer *w;
	struct trace_reader *r;
	const char *copy, *orig;
	uint32_t id0 = 99, id1 = 99, id2 = 99;
	struct stat sb;
	int fd;

	snprintf(exe, sizeof(exe), "%s", tmp_path("prog"));
	make_file(exe, 5000, 2);
	sample_header(&h);
	cr_assert_eq(trace_writer_open(dir, &h, &w), 0);
	cr_assert_eq(trace_writer_keep_data(w, image, sizeof(image), "[vdso]", &id0), 0);
	fd = open(exe, O_RDONLY | O_CLOEXEC);
	cr_assert_eq(trace_writer_keep_file(w, fd, exe, 0, &id1), 0);
	close(fd);
	cr_assert_eq(trace_writer_keep_data(w, image, sizeof(image), "[vdso]", &id2), 0);
	cr_assert_eq(id0, 0);
	cr_assert_eq(id1, 1);
	cr_assert_eq(id2, 2);
	cr_assert_eq(trace_writer_keep_data(w, image, 1, NULL, &id2), -EINVAL);
	cr_assert_eq(trace_writer_close(w), 0);

	cr_assert_eq(trace_reader_open(dir, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(trace_reader_file(r, 0, &copy, &orig), 0);
	cr_assert_str_eq(orig, "[vdso]");
	cr_assert(strstr(copy, "/files/0-[vdso]"), "%s", copy);
	cr_assert_eq(stat(copy, &sb), 0);
	cr_assert_eq(sb.st_size, sizeof(image));
	cr_assert_eq(sb.st_mode & 07777, 0700);
	fd = open(copy, O_RDONLY | O_CLOEXEC);
	cr_assert_eq(read(fd, buf, sizeof(buf)), (ssize_t)sizeof(image));
	close(fd);
	cr_assert_eq(memcmp(buf, image, sizeof(image)), 0);
	cr_assert_eq(trace_reader_file(r, 1, &copy, &orig), 0);
	cr_assert_str_eq(orig, exe);
	cr_assert_eq(trace_reader_file(r, 2, &copy, &orig), 0);
	cr_assert(strstr(copy, "/files/2-[vdso]"), "%s", copy);
	trace_reader_close(r);
}

/* Catalogue entries: round trip; format 3's, without first_id, read as
 * first versions; a first version after the entry itself is refused. */
Test(trace, file_entry_codec)
{
	struct trace_file_entry e = { .id = 7, .size = 42, .original = "/dev/shm/x",
				      .copy_name = "7-x", .first_id = 3 }, d;
	struct trace_wbuf b = { 0 };
	uint8_t old[64];

	cr_assert_eq(trace_file_entry_encode(&b, &e), 0);
	cr_assert_eq(trace_file_entry_decode(b.data, b.len, &d), 0);
	cr_assert_eq(d.id, 7);
	cr_assert_eq(d.first_id, 3);
	cr_assert_str_eq(d.original, "/dev/shm/x");
	trace_file_entry_free(&d);

	/* the same without its last byte (the varint 3): a format 3 entry */
	cr_assert_lt(b.len - 1, sizeof(old));
	memcpy(old, b.data, b.len - 1);
	cr_assert_eq(trace_file_entry_decode(old, b.len - 1, &d), 0);
	cr_assert_eq(d.first_id, 7);
	trace_file_entry_free(&d);

	b.data[b.len - 1] = 8;
	cr_assert_eq(trace_file_entry_decode(b.data, b.len, &d), -EBADMSG);
	trace_wbuf_free(&b);
}

/* A file written in place, its size and mtime unchanged (a coarse clock):
 * only TRACE_KEEP_CHANGED keeps the new content, as a version of the first;
 * later keeps compare with the latest version. */
Test(trace, keep_file_versions)
{
	const char *dir = tmp_path("t");
	char path[PATH_MAX], err[512];
	struct timespec times[2];
	struct trace_writer *w;
	struct trace_reader *r;
	const char *copy;
	uint32_t id0 = 99, id1 = 99, id2 = 99, id3 = 99, first = 99;
	struct stat sb;
	int fd;

	snprintf(path, sizeof(path), "%s", tmp_path("shm"));
	w = writer_keeping(dir, path, 8192, O_RDWR, &fd, &id0);

	cr_assert_eq(fstat(fd, &sb), 0);
	cr_assert_eq(pwrite(fd, "new", 3, 100), 3);
	times[0] = sb.st_atim;
	times[1] = sb.st_mtim;
	cr_assert_eq(futimens(fd, times), 0);
	cr_assert_eq(trace_writer_keep_file(w, fd, path, 0, &id1), 0);
	cr_assert_eq(id1, id0, "size and mtime alone cannot tell");
	cr_assert_eq(trace_writer_keep_file(w, fd, path, TRACE_KEEP_CHANGED, &id2), 0);
	cr_assert_eq(id2, 1);
	cr_assert_eq(trace_writer_keep_file(w, fd, path, 0, &id3), 0);
	cr_assert_eq(id3, id2, "the latest version, not the first");
	close(fd);
	cr_assert_eq(trace_writer_close(w), 0);

	cr_assert_eq(trace_reader_open(dir, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(trace_reader_file_first(r, id2, &first), 0);
	cr_assert_eq(first, id0);
	cr_assert_eq(trace_reader_file_first(r, id0, &first), 0);
	cr_assert_eq(first, id0);
	cr_assert_eq(trace_reader_file_first(r, 2, &first), -ENOENT);
	cr_assert_eq(trace_reader_file(r, id2, &copy, NULL), 0);
	assert_same_content(copy, path);
	trace_reader_close(r);
}

/* ---- trace directories ---- */

Test(trace, trace_dirs)
{
	char base[128], want[PATH_MAX], a[PATH_MAX], b[PATH_MAX], got[PATH_MAX];
	struct stat st;

	snprintf(base, sizeof(base), "%s/x/traces", tmp_root);
	setenv("UPRR_TRACE_DIR", base, 1);
	cr_assert_eq(trace_dir_latest(got, sizeof(got)), -ENOENT);
	cr_assert_eq(trace_dir_new("/usr/bin/ls", a, sizeof(a)), 0);
	snprintf(want, sizeof(want), "%s/ls-0", base);
	cr_assert_str_eq(a, want);
	cr_assert_eq(stat(base, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700);
	cr_assert_eq(trace_dir_latest(got, sizeof(got)), -ENOENT);
	cr_assert_eq(mkdir(a, 0700), 0);
	cr_assert_eq(trace_dir_new("ls", b, sizeof(b)), 0);
	snprintf(want, sizeof(want), "%s/ls-1", base);
	cr_assert_str_eq(b, want);
	cr_assert_eq(mkdir(b, 0700), 0);

	cr_assert_eq(trace_dir_set_latest(a), 0);
	cr_assert_eq(trace_dir_latest(got, sizeof(got)), 0);
	cr_assert_str_eq(got, a);
	cr_assert_eq(trace_dir_set_latest(b), 0);
	cr_assert_eq(trace_dir_latest(got, sizeof(got)), 0);
	cr_assert_str_eq(got, b);
	cr_assert_eq(trace_dir_latest(got, 5), -ENAMETOOLONG);
	cr_assert_eq(trace_dir_new("ls", got, 5), -ENAMETOOLONG);
	/* a link to a deleted trace is no trace */
	cr_assert_eq(rmdir(b), 0);
	cr_assert_eq(trace_dir_latest(got, sizeof(got)), -ENOENT);

	/* without UPRR_TRACE_DIR: ~/.local/share/uprr */
	unsetenv("UPRR_TRACE_DIR");
	setenv("HOME", tmp_root, 1);
	cr_assert_eq(trace_dir_new("prog", a, sizeof(a)), 0);
	snprintf(want, sizeof(want), "%s/.local/share/uprr/prog-0", tmp_root);
	cr_assert_str_eq(a, want);
}

Test(trace, catalogue_cut_and_corrupt)
{
	const char *dir = tmp_path("t");
	const char *cat = tmp_path("t/catalogue");
	char lib[PATH_MAX], err[512], want[512];
	struct trace_writer *w;
	struct trace_reader *r = NULL;
	uint32_t id;
	uint64_t size;
	int fd;

	snprintf(lib, sizeof(lib), "%s", tmp_path("lib.so"));
	w = writer_keeping(dir, lib, 1000, O_RDONLY, &fd, &id);
	close(fd);
	make_file(lib, 2000, 2);
	fd = open(lib, O_RDONLY | O_CLOEXEC);
	cr_assert_eq(trace_writer_keep_file(w, fd, lib, 0, &id), 0);
	close(fd);
	cr_assert_eq(id, 1);
	cr_assert_eq(trace_writer_close(w), 0);

	/* a catalogue cut inside its last entry, as a killed recorder leaves
	 * it: that entry is dropped */
	size = file_size(cat);
	cr_assert_eq(truncate(cat, (off_t)size - 3), 0);
	cr_assert_eq(trace_reader_open(dir, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(trace_reader_file(r, 0, NULL, NULL), 0);
	cr_assert_eq(trace_reader_file(r, 1, NULL, NULL), -ENOENT);
	trace_reader_close(r);

	/* a corrupt entry fails the open */
	fd = open(cat, O_RDWR | O_CLOEXEC);
	cr_assert_eq(pwrite(fd, "\xff", 1, 40), 1);
	close(fd);
	r = NULL;
	cr_assert_eq(trace_reader_open(dir, &r, err, sizeof(err)), -EBADMSG);
	snprintf(want, sizeof(want),
		 "trace '%s': frame 0 of the files stream is corrupt (bad checksum)", dir);
	cr_assert_str_eq(err, want);
	cr_assert_null(r);
}

Test(trace, keep_file_from_other_filesystem)
{
	const char *dir = tmp_path("t");
	char src[64], err[512];
	struct trace_header h;
	struct trace_writer *w;
	struct trace_reader *r;
	struct stat a, b;
	const char *copy;
	uint32_t id;
	int fd;

	/* tmpfs to /tmp: copy_file_range gives EXDEV on Linux >= 5.19 (and
	 * earlier before 5.3), so the read/write fallback runs */
	if (stat("/dev/shm", &a) < 0 || stat(tmp_root, &b) < 0 || a.st_dev == b.st_dev)
		cr_skip_test("no /dev/shm on another filesystem than %s", tmp_root);
	snprintf(src, sizeof(src), "/dev/shm/uprr-test-trace-%d", (int)getpid());
	make_file(src, 3 << 20, 5);
	sample_header(&h);
	cr_assert_eq(trace_writer_open(dir, &h, &w), 0);
	fd = open(src, O_RDONLY | O_CLOEXEC);
	cr_assert_eq(trace_writer_keep_file(w, fd, src, 0, &id), 0);
	close(fd);
	cr_assert_eq(trace_writer_close(w), 0);
	cr_assert_eq(trace_reader_open(dir, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(trace_reader_file(r, id, &copy, NULL), 0);
	assert_same_content(copy, src);
	trace_reader_close(r);
	unlink(src);
}

/* A sparse file is kept with its holes: its data only takes disk. */
Test(trace, keep_file_sparse)
{
	const char *dir = tmp_path("t"), *src = tmp_path("sparse"), *copy;
	struct trace_header h;
	struct trace_writer *w;
	struct trace_reader *r;
	char err[512], page[4096], back[4096];
	struct stat sb;
	uint32_t id;
	int fd;

	memset(page, 'x', sizeof(page));
	fd = open(src, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 1 << 30), 0);
	cr_assert_eq(pwrite(fd, page, sizeof(page), 512 << 20), (ssize_t)sizeof(page));
	cr_assert_eq(fstat(fd, &sb), 0);
	if (sb.st_blocks * 512 > 1 << 20)
		cr_skip_test("%s keeps no holes", tmp_root);
	sample_header(&h);
	cr_assert_eq(trace_writer_open(dir, &h, &w), 0);
	cr_assert_eq(trace_writer_keep_file(w, fd, src, 0, &id), 0);
	close(fd);
	cr_assert_eq(trace_writer_close(w), 0);
	cr_assert_eq(trace_reader_open(dir, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(trace_reader_file(r, id, &copy, NULL), 0);
	cr_assert_eq(stat(copy, &sb), 0);
	cr_assert_eq(sb.st_size, 1 << 30);
	cr_assert_leq(sb.st_blocks * 512, 1 << 20, "the copy takes %lld bytes of disk",
		      (long long)sb.st_blocks * 512);
	fd = open(copy, O_RDONLY | O_CLOEXEC);
	cr_assert_eq(pread(fd, back, sizeof(back), 512 << 20), (ssize_t)sizeof(back));
	cr_assert_eq(memcmp(back, page, sizeof(page)), 0);
	cr_assert_eq(pread(fd, back, sizeof(back), 0), (ssize_t)sizeof(back));
	cr_assert_eq(back[0] | back[4095], 0);
	close(fd);
	trace_reader_close(r);
}

/* A system file (root's, under /usr, writable by no one else) is kept by hard
 * link where the trace shares its filesystem; a file elsewhere is copied. */
Test(trace, keep_file_link)
{
	const char *dir = tmp_path("t"), *copy, *sys = "/usr/bin/true";
	struct trace_header h;
	struct trace_writer *w;
	struct trace_reader *r;
	struct stat a, b, t;
	char err[512];
	uint32_t id, id2;
	int fd;

	if (stat(sys, &a) < 0 || a.st_uid != 0 || (a.st_mode & 022))
		cr_skip_test("no root-owned %s", sys);
	make_file(tmp_path("own"), 5000, 4);
	sample_header(&h);
	cr_assert_eq(trace_writer_open(dir, &h, &w), 0);
	fd = open(sys, O_RDONLY | O_CLOEXEC);
	cr_assert_eq(trace_writer_keep_file(w, fd, sys, 0, &id), 0);
	close(fd);
	fd = open(tmp_path("own"), O_RDONLY | O_CLOEXEC);
	/* a path that says /usr but names another file is no reason to link */
	cr_assert_eq(trace_writer_keep_file(w, fd, "/usr/lib/own", 0, &id2), 0);
	close(fd);
	cr_assert_eq(trace_writer_close(w), 0);
	cr_assert_eq(trace_reader_open(dir, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(trace_reader_file(r, id, &copy, NULL), 0);
	cr_assert_eq(stat(copy, &b), 0);
	cr_assert_eq(stat(dir, &t), 0);
	if (t.st_dev == a.st_dev && geteuid() == 0)
		cr_assert_eq(b.st_ino, a.st_ino, "not linked");
	else
		cr_assert_neq(b.st_ino, a.st_ino);
	assert_same_content(copy, sys);
	cr_assert_eq(trace_reader_file(r, id2, &copy, NULL), 0);
	cr_assert_eq(stat(copy, &b), 0);
	cr_assert_eq(b.st_nlink, 1);
	cr_assert_eq(b.st_mode & 07777, 0600);
	trace_reader_close(r);
}
