/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the syscall buffer's records in the log an EP run answers
 * its syscalls from (ep/syscall-log-sb.c): a trace written here whose
 * thread made buffered calls between its traced ones is read back as one
 * call per call the program made: futex left out, the buffer's attempt
 * before a traced call left out, a partial write and its traced rest one
 * call, a write kept as a hash compared by its hash; the epoch's count of
 * syscalls checked against the records.
 */
#include <asm/unistd.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ep/ep.h"
#include "preload/uprr-preload.h"
#include "trace/trace.h"

static char tmp_root[PATH_MAX];

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
make_tmp(void)
{
	strcpy(tmp_root, "/tmp/uprr-test-ep-sb-XXXXXX");
	cr_assert_not_null(mkdtemp(tmp_root));
}

static void
remove_tmp(void)
{
	if (tmp_root[0])
		nftw(tmp_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(ep_log_sb, .init = make_tmp, .fini = remove_tmp, .timeout = 20);

/* Records of one TRACE_EV_SYSCALLBUF event, and their u32s of blobs[1]. */
struct batch {
	uint8_t recs[4096];
	uint32_t len, n;
	uint32_t sinks[16];
};

static void
rec_add(struct batch *b, long nr, const uint64_t args[6], int64_t ret, const void *data, uint32_t len,
	uint32_t sink)
{
	struct uprr_rec r = { .size = (uint32_t)(sizeof(r) + (len + 7) / 8 * 8), .nr = (uint32_t)nr, .ret = ret };

	memcpy(r.args, args, sizeof(r.args));
	cr_assert_leq(b->len + r.size, sizeof(b->recs));
	memcpy(b->recs + b->len, &r, sizeof(r));
	memset(b->recs + b->len + sizeof(r), 0x5a, r.size - sizeof(r));
	if (len)
		memcpy(b->recs + b->len + sizeof(r), data, len);
	b->len += r.size;
	b->sinks[b->n++] = sink;
}

static void
add(struct trace_writer *w, enum trace_event_type type, uint32_t tid, int n, const uint64_t *values,
    const struct trace_blob *blobs, uint32_t nblobs)
{
	struct trace_event ev = { .type = type, .tid = tid, .nvalues = (uint32_t)n };

	memcpy(ev.values, values, (size_t)n * sizeof(uint64_t));
	ev.has_regs = type == TRACE_EV_EXEC;
	ev.nblobs = nblobs;
	ev.blobs = blobs;
	cr_assert_eq(trace_writer_add_event(w, &ev), 0);
}

static void
flush(struct trace_writer *w, uint32_t tid, struct batch *b)
{
	struct trace_blob blobs[2] = { { UPRR_PRELOAD_BUF(0) + sizeof(struct uprr_buf), b->len, b->recs },
				       { 0, b->n * 4, (const uint8_t *)b->sinks } };

	add(w, TRACE_EV_SYSCALLBUF, tid, 2, (uint64_t[]){ b->n, UPRR_PRELOAD_BUF(0) }, blobs, 2);
	memset(b, 0, sizeof(*b));
}

static const uint8_t stack_bytes[64] = { 1 };
static const char timespec_bytes[16] = "0123456789abcdef";
static const char read_bytes[] = "hello";
static uint8_t written[100], hashed[64];

/* Thread 100: clock_gettime, futex and a read that would wait (buffered),
 * the read traced; a write the kernel took 40 bytes of (buffered), its
 * rest traced; a write kept as a hash (buffered); then its epoch's end
 * after @epoch_count syscalls (0: none). */
static char *
write_log(uint64_t epoch_count)
{
	static char dir[PATH_MAX + 8];
	static char *argv[] = { "prog", NULL }, *envp[] = { NULL };
	struct trace_header h = { .format_version = TRACE_FORMAT_VERSION, .argv = argv, .envp = envp };
	struct trace_blob stack = { 0x7ffffffff000 - sizeof(stack_bytes), sizeof(stack_bytes), stack_bytes };
	struct trace_blob in = { 0x4000, sizeof(read_bytes), read_bytes };
	struct trace_blob rest = { 0x5000 + 40, 60, written + 40 };
	uint8_t data[200] = { 0 };
	struct trace_sb_hashed hs = { .len = sizeof(hashed) };
	struct batch b = { .len = 0 };
	struct trace_writer *w;

	for (size_t i = 0; i < sizeof(written); i++)
		written[i] = (uint8_t)(i * 7);
	for (size_t i = 0; i < sizeof(hashed); i++)
		hashed[i] = (uint8_t)(i ^ 0x33);
	snprintf(dir, sizeof(dir), "%s/log", tmp_root);
	strcpy(h.mode, "tp-log");
	cr_assert_eq(trace_writer_open(dir, &h, &w), 0);
	add(w, TRACE_EV_EXEC, 100, 3, (uint64_t[]){ 0, 0, 100 }, &stack, 1);
	rec_add(&b, __NR_clock_gettime, (uint64_t[6]){ 1, 0x3000 }, 0, timespec_bytes, 16, 0);
	rec_add(&b, __NR_futex, (uint64_t[6]){ 0x7000, 1, 1 }, 0, NULL, 0, 0);
	rec_add(&b, __NR_read, (uint64_t[6]){ 3, 0x4000, 64 }, -EAGAIN, NULL, 0, 0);
	flush(w, 100, &b);
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, (uint64_t[]){ __NR_read, 3, 0x4000, 64, 0, 0, 0 }, NULL, 0);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, (uint64_t[]){ __NR_read, sizeof(read_bytes) }, &in, 1);
	/* the bytes passed, then the write probe */
	memcpy(data, written, sizeof(written));
	rec_add(&b, __NR_write, (uint64_t[6]){ 4, 0x5000, sizeof(written) }, 40, data,
		(uint32_t)(104 + UPRR_WRITE_PROBE_SIZE), 0);
	flush(w, 100, &b);
	add(w, TRACE_EV_SYSCALL_ENTRY, 100, 7, (uint64_t[]){ __NR_write, 4, 0x5000 + 40, 60, 0, 0, 0 }, &rest, 1);
	add(w, TRACE_EV_SYSCALL_EXIT, 100, 2, (uint64_t[]){ __NR_write, 60 }, NULL, 0);
	trace_hash128(hashed, sizeof(hashed), hs.hash);
	memcpy(hs.last, hashed + sizeof(hashed) - 8, 8);
	memset(data, 0, sizeof(data));
	memcpy(data, &hs, sizeof(hs));
	rec_add(&b, __NR_write, (uint64_t[6]){ 5, 0x6000, sizeof(hashed) }, sizeof(hashed), data,
		(uint32_t)(sizeof(hs) + UPRR_WRITE_PROBE_SIZE), TRACE_SB_HASHED);
	flush(w, 100, &b);
	if (epoch_count)
		add(w, TRACE_EV_EPOCH, 100, 4, (uint64_t[]){ 1, epoch_count, 1, 0 }, NULL, 0);
	cr_assert_eq(trace_writer_flush(w), 0);
	cr_assert_eq(trace_writer_close(w), 0);
	return dir;
}

Test(ep_log_sb, one_call_per_call_of_the_program)
{
	const struct ep_call *c;
	struct ep_log *log;
	char err[256] = "";

	cr_assert_eq(ep_log_open(write_log(7), &log, err, sizeof(err)), 0, "%s", err);
	c = ep_log_take(log, 100);
	cr_assert_eq(c->nr, __NR_clock_gettime);
	cr_assert(c->buffered && c->exited);
	cr_assert_eq(c->result, 0);
	cr_assert_eq(c->nout, 1);
	cr_assert_eq(c->out[0].addr, 0x3000);
	cr_assert(memcmp(c->out[0].data, timespec_bytes, 16) == 0);
	cr_assert_eq(c->logged, 1);

	c = ep_log_take(log, 100);
	cr_assert_eq(c->nr, __NR_read, "futex is left out, and so is the read's attempt");
	cr_assert_not(c->buffered, "the traced read answers the program's call");
	cr_assert_eq(c->result, sizeof(read_bytes));
	cr_assert_eq(c->logged, 4);

	c = ep_log_take(log, 100);
	cr_assert_eq(c->nr, __NR_write);
	cr_assert(c->buffered);
	cr_assert_eq(c->result, sizeof(written), "the traced rest's 60 bytes added to the 40");
	cr_assert_eq(c->logged, 6);

	c = ep_log_take(log, 100);
	cr_assert_eq(c->nr, __NR_write);
	cr_assert(c->hashed);
	cr_assert_eq(c->result, sizeof(hashed));
	cr_assert_eq(c->logged, 7);
	cr_assert_null(ep_log_take(log, 100));
	ep_log_free(log);
}

Test(ep_log_sb, bytes_compared_whole_or_by_hash)
{
	uint64_t args[6] = { 4, 0x5000, sizeof(written) }, hargs[6] = { 5, 0x6000, sizeof(hashed) };
	uint8_t other[sizeof(hashed)];
	const struct ep_call *c;
	struct ep_log *log;
	char err[256] = "", why[256] = "";

	cr_assert_eq(ep_log_open(write_log(0), &log, err, sizeof(err)), 0, "%s", err);
	(void)ep_log_take(log, 100);
	(void)ep_log_take(log, 100);
	c = ep_log_take(log, 100);
	/* where the bytes were is not in the record: only what they are */
	struct trace_blob whole = { 0x5000, sizeof(written), written };
	struct trace_blob split[2] = { { 0x9000, 30, written }, { 0xa000, 70, written + 30 } };
	cr_assert_eq(ep_call_check(c, __NR_write, args, &whole, 1, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(ep_call_check(c, __NR_write, args, split, 2, why, sizeof(why)), 0, "%s", why);
	split[1].len = 69;
	cr_assert_eq(ep_call_check(c, __NR_write, args, split, 2, why, sizeof(why)), -1);
	cr_assert(strstr(why, "passes out 99 bytes"), "%s", why);
	memcpy(other, written, sizeof(other));
	other[10] ^= 1;
	whole.data = other;
	whole.len = sizeof(other);
	cr_assert_eq(ep_call_check(c, __NR_write, args, &whole, 1, why, sizeof(why)), -1);

	c = ep_log_take(log, 100);
	whole = (struct trace_blob){ 0x6000, sizeof(hashed), hashed };
	cr_assert_eq(ep_call_check(c, __NR_write, hargs, &whole, 1, why, sizeof(why)), 0, "%s", why);
	memcpy(other, hashed, sizeof(other));
	other[3] ^= 1;
	whole.data = other;
	cr_assert_eq(ep_call_check(c, __NR_write, hargs, &whole, 1, why, sizeof(why)), -1);
	cr_assert(strstr(why, "by their hash"), "%s", why);
	ep_log_free(log);
}

Test(ep_log_sb, the_epoch_count_agrees)
{
	struct trace_event ev;
	struct trace_reader *r;
	const struct ep_call *c, *last = NULL;
	struct ep_log *log;
	uint64_t count = 0;
	char err[256] = "";
	const char *dir = write_log(7);

	/* the TP run's count at the epoch's end (its traced exits and
	 * buffered records, the futex's and the attempt's too) is the last
	 * call's ep_call.logged: the calls of an epoch are found by it */
	cr_assert_eq(trace_reader_open(dir, &r, err, sizeof(err)), 0, "%s", err);
	while (trace_reader_next(r, &ev) > 0)
		if (ev.type == TRACE_EV_EPOCH)
			count = ev.values[1];
	trace_reader_close(r);
	cr_assert_eq(ep_log_open(dir, &log, err, sizeof(err)), 0, "%s", err);
	while ((c = ep_log_take(log, 100)))
		last = c;
	cr_assert_not_null(last);
	cr_assert_eq(last->logged, count);
	ep_log_free(log);
}
