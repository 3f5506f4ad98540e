/* SPDX-License-Identifier: MIT */
/*
 * The syscall buffer's records answered in-process from a trace: see
 * sb-fill.h. The layout is preload/uprr-preload.h's.
 */
#include "syscalls/sb-fill.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/uio.h>

#include "preload/uprr-preload.h"

int
sc_sb_expand(struct trace_reader *r, struct trace_ref_file *cache, bool hashes, const uint8_t *raw,
	     uint32_t avail, uint32_t sink, uint8_t **buf, size_t *cap, uint32_t *out, uint32_t *ret_in,
	     struct sc_sb_hashed *ret_h, bool *ret_hashed, char *why, size_t why_len)
{
	const uint32_t fixed = (uint32_t)(sizeof(struct uprr_rec) + sizeof(struct trace_sb_hashed) +
					  UPRR_WRITE_PROBE_SIZE);
	struct uprr_rec rec;
	struct trace_sb_hashed h;
	uint32_t size;
	uint8_t *o;

	*ret_hashed = false;
	if (avail < sizeof(rec))
		return -EBADMSG;
	memcpy(&rec, raw, sizeof(rec));
	if (rec.size < sizeof(rec) || rec.size > avail)
		return -EBADMSG;
	if (!hashes)
		sink = 0;
	if (sink & TRACE_SB_REF) {
		struct trace_sb_ref ref;

		if (trace_reader_header(r)->format_version < 13 || rec.size != sizeof(rec) + sizeof(ref))
			return -EBADMSG;
		memcpy(&ref, raw + sizeof(rec), sizeof(ref));
		if (ref.len < sizeof(ref.last) || rec.ret != (int64_t)ref.len || ref.len > UPRR_PRELOAD_REC_ROOM)
			return -EBADMSG;
		size = (uint32_t)sizeof(rec) + (ref.len + 7) / 8 * 8;
		if ((size_t)*out + size > UPRR_PRELOAD_REC_ROOM)
			return -EBADMSG;
		if (UTIL_GROW(*buf, *cap, (size_t)*out + size) < 0)
			return -ENOMEM;
		o = *buf + *out;
		rec.size = size;
		memcpy(o, &rec, sizeof(rec));
		/* the padding after the bytes is what the buffer held */
		memcpy(o + size - sizeof(ref.last), ref.last, sizeof(ref.last));
		*ret_in = (uint32_t)(sizeof(rec) + sizeof(ref)); /* its size in the trace */
		*out += size;
		return trace_reader_fill_ref(r, cache, &ref, o + sizeof(rec), why, why_len);
	}
	if (!(sink & TRACE_SB_HASHED)) {
		if ((size_t)*out + rec.size > UPRR_PRELOAD_REC_ROOM)
			return -EBADMSG;
		if (UTIL_GROW(*buf, *cap, (size_t)*out + rec.size) < 0)
			return -ENOMEM;
		memcpy(*buf + *out, raw, rec.size);
		*out += rec.size;
		*ret_in = rec.size;
		return 0;
	}
	memcpy(&h, raw + sizeof(rec), sizeof(h));
	if (rec.size != fixed || h.len < sizeof(h.last) || h.len % 8 || h.zero || h.len > UPRR_PRELOAD_REC_ROOM)
		return -EBADMSG;
	size = (uint32_t)sizeof(rec) + h.len + UPRR_WRITE_PROBE_SIZE;
	if ((size_t)*out + size > UPRR_PRELOAD_REC_ROOM)
		return -EBADMSG;
	if (UTIL_GROW(*buf, *cap, (size_t)*out + size) < 0)
		return -ENOMEM;
	o = *buf + *out;
	rec.size = size;
	memcpy(o, &rec, sizeof(rec));
	memset(o + sizeof(rec), 0, h.len - sizeof(h.last));
	memcpy(o + sizeof(rec) + h.len - sizeof(h.last), h.last, sizeof(h.last));
	memcpy(o + sizeof(rec) + h.len, raw + sizeof(rec) + sizeof(h), UPRR_WRITE_PROBE_SIZE);
	ret_h->off = *out;
	ret_h->len = h.len;
	memcpy(ret_h->hash, h.hash, sizeof(h.hash));
	*ret_hashed = true;
	*out += size;
	*ret_in = fixed;
	return 0;
}

bool
sc_sb_same(const uint8_t *got, const uint8_t *want, const struct sc_sb_hashed *h, int nargs)
{
	struct uprr_rec g, w;
	uint8_t hash[TRACE_HASH_SIZE];

	memcpy(&g, got, sizeof(g));
	memcpy(&w, want, sizeof(w));
	/* the arguments past the call's own are whatever its registers held */
	for (int i = nargs < 0 ? 0 : nargs; i < 6; i++)
		g.args[i] = w.args[i];
	if (memcmp(&g, &w, sizeof(w)) != 0)
		return false;
	if (!h)
		return memcmp(got + sizeof(w), want + sizeof(w), w.size - sizeof(w)) == 0;
	if (memcmp(got + sizeof(w) + h->len, want + sizeof(w) + h->len, UPRR_WRITE_PROBE_SIZE) != 0)
		return false;
	trace_hash128(got + sizeof(w), h->len, hash);
	return memcmp(hash, h->hash, sizeof(hash)) == 0;
}

int
sc_sb_fill(pid_t tid, uint64_t addr, const uint8_t *recs, uint32_t len, bool allow)
{
	static const uint32_t stop = UPRR_REC_STOP;
	static const uint32_t used = 0, allowed[2] = { 1, 1 };
	const struct iovec local[] = {
		{ (void *)recs, len },
		{ (void *)&stop, sizeof(stop) },
		{ (void *)&used, sizeof(used) },
		{ (void *)allowed, sizeof(allowed) },
	};
	const struct iovec remote[] = {
		{ (void *)(uintptr_t)(addr + sizeof(struct uprr_buf)), len + sizeof(stop) },
		{ (void *)(uintptr_t)(addr + offsetof(struct uprr_buf, used)), sizeof(used) },
		{ (void *)(uintptr_t)(addr + offsetof(struct uprr_buf, wakes)), sizeof(allowed) },
	};
	unsigned long n = allow ? 4 : 3;
	size_t want = len + sizeof(stop) + sizeof(used) + (allow ? sizeof(allowed) : 0);
	ssize_t got;

	_Static_assert(offsetof(struct uprr_buf, maps) == offsetof(struct uprr_buf, wakes) + 4,
		       "wakes and maps are written as one");
	/* process_vm_writev(2): one copy, where a pwrite(2) to /proc/PID/mem
	 * each cost a syscall and a page of the kernel's per piece; the
	 * local pieces go over the remote ranges one after the other. The
	 * first local piece may be empty (len 0): skip it */
	got = len ? process_vm_writev(tid, local, n, remote, allow ? 3 : 2, 0)
		  : process_vm_writev(tid, local + 1, n - 1, remote, allow ? 3 : 2, 0);
	if (got < 0)
		return -errno; /* ESRCH: the thread is gone */
	return (size_t)got == want ? 0 : -EFAULT;
}
