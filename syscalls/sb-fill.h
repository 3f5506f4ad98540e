/* SPDX-License-Identifier: MIT */
/*
 * The syscall buffer's records answered in-process from a trace, shared by
 * replay (replay/syscallbuf.c) and EP runs (recorder/record-ep-sb.c): one
 * record of a TRACE_EV_SYSCALLBUF made what the library wrote into its
 * buffer (a hashed write's room, a read kept by reference read again), the
 * records put into a thread's buffer with the end marker after them (the
 * library, in replay mode, consumes them: doc/syscall-buffer.md, "Replay"),
 * and a record the library rewrote from what the program passed checked
 * against the trace's. One mechanism for both.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/util.h"
#include "trace/trace.h"

/** A record whose passed bytes the trace holds as a hash (TRACE_SB_HASHED). */
struct sc_sb_hashed {
	uint32_t off;			/**< the record's offset among the expanded ones */
	uint32_t len;			/**< its bytes, after its struct uprr_rec */
	uint8_t hash[TRACE_HASH_SIZE];	/**< trace_hash128() of them */
};

/**
 * Append the record at @raw (@avail bytes of the event's records left),
 * whose u32 of the event's blobs[1] is @sink (0 if none; its
 * TRACE_SB_HASHED and TRACE_SB_REF bits are read only with @hashes: trace
 * format 12 and 13), to *@buf (*@cap bytes, grown) at *@out as the library
 * wrote it: a TRACE_SB_REF one with the bytes read again from @r's kept
 * file (@cache), a TRACE_SB_HASHED one with its bytes' room zeroed but for
 * the recorded last word, its hash into *@ret_h (*@ret_hashed set). *@out
 * advances past it, *@ret_in is its size in the trace. Returns 0, -ENOMEM,
 * -EBADMSG (a record that does not add up or fit the buffer), or what
 * trace_reader_fill_ref() returns with @why.
 */
int sc_sb_expand(struct trace_reader *r, struct trace_ref_file *cache, bool hashes, const uint8_t *raw,
		 uint32_t avail, uint32_t sink, uint8_t **buf, size_t *cap, uint32_t *out,
		 uint32_t *ret_in, struct sc_sb_hashed *ret_h, bool *ret_hashed, char *why,
		 size_t why_len) _wur_;

/**
 * Whether the record at @got, which the library wrote from what the
 * program passed while it consumed the expanded record @want, is @want:
 * byte for byte, or for a hashed one (@h not NULL: its offset ignored)
 * the same head and write probe and bytes of @h's hash. Only the first
 * @nargs arguments count (6: all; an EP run's call left other values in
 * the registers of those it does not take than the log's run did).
 */
bool sc_sb_same(const uint8_t *got, const uint8_t *want, const struct sc_sb_hashed *h, int nargs);

/**
 * Put the @len bytes of expanded records @recs into the buffer at @addr of
 * thread @tid, the end marker (UPRR_REC_STOP) after them, `used` 0, and,
 * with @allow, `wakes` and `maps` 1 (the records and the marker decide):
 * one process_vm_writev(2). Returns 0 or -errno (-EFAULT: written short).
 */
int sc_sb_fill(pid_t tid, uint64_t addr, const uint8_t *recs, uint32_t len, bool allow) _wur_;
