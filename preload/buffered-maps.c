/* SPDX-License-Identifier: MIT */
/*
 * The syscall buffer's calls that change mappings (issue 14: malloc's
 * mmap and munmap of each large block, cp's per-file buffer): mmap of
 * private anonymous memory with no address asked, munmap, and madvise with
 * advice that keeps memory or MADV_DONTNEED. Unlike every other buffered
 * call they are made in replay too: the stub would return the result
 * without the mapping. In replay an mmap is made at the recorded address
 * with MAP_FIXED_NOREPLACE (as replay/syscalls.c makes a traced one); a
 * result that differs from the recorded one is put in the record, where the
 * replayer's check finds it. Only in a run without a restore point
 * (buf->maps, set by the supervisor): a rollback would not undo a mapping
 * change, which the recorder learns of only at the flush
 * (rec_syscallbuf_maps_seen()). See doc/syscall-buffer.md, "Mappings".
 */
#include <asm/unistd.h>
#include <stddef.h>
#include <stdint.h>

#include "preload/preload-private.h"

/* include/uapi/asm-generic/mman-common.h, mman.h (x86-64) */
#define K_PROT_READ 0x1
#define K_PROT_WRITE 0x2
#define K_MAP_PRIVATE 0x02
#define K_MAP_TYPE 0x0f
#define K_MAP_ANONYMOUS 0x20
#define K_MAP_NORESERVE 0x4000
#define K_MAP_STACK 0x20000
#define K_MAP_FIXED_NOREPLACE 0x100000
#define K_MADV_DONTNEED 4
#define K_MADV_HUGEPAGE 14
#define K_MADV_DODUMP 17
/* soft ticks' page (x86_64/patch.h: PATCH_TICK_PAGE), above the library */
#define TICK_PAGE_END 0x70001000ull

/* The syscall instruction the filter lets through, called whatever the
 * mode (entry.S): these calls run in replay too. */
static inline long
untraced(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	register long r10 __asm__("r10") = a3;
	register long r8 __asm__("r8") = a4;
	register long r9 __asm__("r9") = a5;
	long ret;

	__asm__ __volatile__("call uprr_untraced"
			     : "=a"(ret)
			     : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9)
			     : "rcx", "r11", "memory");
	return ret;
}

/* @in_rec in recording, @in_replay in replay and in a re-run after a
 * rollback; no branch (recording_only()). */
static inline uint64_t
pick(const struct uprr_buf *buf, uint64_t in_rec, uint64_t in_replay)
{
	uint64_t v = in_replay;

	recording_only(buf, &v, in_rec);
	return v;
}

/* Whether [@addr, @addr + @len) leaves the library's pages and soft
 * ticks' page alone (a program that unmaps them is left to the traced
 * call, which breaks as it would). */
static int
outside_uprr(uint64_t addr, uint64_t len)
{
	return addr + len <= UPRR_PRELOAD_ADDR || addr >= TICK_PAGE_END;
}

int
uprr_maps_ok(long nr, const long a[6])
{
	uint64_t len = (uint64_t)a[1];

	if (len == 0 || len > (1ull << 46) || (uint64_t)a[0] > (1ull << 47))
		return 0;
	switch (nr) {
	case __NR_mmap:
		/* what malloc and thread stacks ask for: private zeros
		 * anywhere, readable and writable or not at all (no code:
		 * the recorder looks at code when it patches) */
		return a[0] == 0 && !((uint64_t)a[2] & ~(uint64_t)(K_PROT_READ | K_PROT_WRITE)) &&
		       ((uint64_t)a[3] & K_MAP_TYPE) == K_MAP_PRIVATE && ((uint64_t)a[3] & K_MAP_ANONYMOUS) &&
		       !((uint64_t)a[3] & ~(uint64_t)(K_MAP_PRIVATE | K_MAP_ANONYMOUS | K_MAP_NORESERVE |
						      K_MAP_STACK)) &&
		       (int)a[4] == -1 && a[5] == 0;
	case __NR_munmap:
		return outside_uprr((uint64_t)a[0], len);
	case __NR_madvise:
		/* advice about paging (the restore point needs nothing) and
		 * MADV_DONTNEED (zeros, made again in replay); not MADV_FREE,
		 * whose pages may or may not read as zeros later */
		return outside_uprr((uint64_t)a[0], len) &&
		       ((uint64_t)a[2] <= K_MADV_DONTNEED ||
			((uint64_t)a[2] >= K_MADV_HUGEPAGE && (uint64_t)a[2] <= K_MADV_DODUMP));
	default:
		return 0;
	}
}

long
uprr_maps_call(struct uprr_buf *buf, struct uprr_rec *rec, long nr, const long a[6], uint32_t size)
{
	uint64_t want = (uint64_t)rec->ret; /* replay: the recorded result */
	uint64_t failed = want >= (uint64_t)-4095;
	uint64_t mask = (uint64_t)0 - failed; /* all ones if the recording's call failed */
	long got;

	if (nr == __NR_mmap) {
		/* replay: at the recorded address, refusing to clobber a
		 * layout that diverged; a call that failed in the recording
		 * is made with length 0 (EINVAL: no mapping) and gives the
		 * recorded error */
		got = untraced(nr, (long)pick(buf, (uint64_t)a[0], want), (long)pick(buf, (uint64_t)a[1], (uint64_t)a[1] & ~mask),
			       a[2], (long)pick(buf, (uint64_t)a[3], (uint64_t)a[3] | K_MAP_FIXED_NOREPLACE), a[4],
			       a[5]);
		got = (long)pick(buf, (uint64_t)got, (want & mask) | ((uint64_t)got & ~mask));
	} else {
		/* munmap and madvise give the same result for the same
		 * arguments on the same layout */
		got = untraced(nr, a[0], a[1], a[2], 0, 0, 0);
	}
	return uprr_commit(buf, rec, nr, -1, got, size);
}
