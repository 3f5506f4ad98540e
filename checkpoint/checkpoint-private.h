/* SPDX-License-Identifier: MIT */
/*
 * What checkpoint.c, shadow.c and store.c share: the store and the state of
 * a checkpoint. The dirty log and the kernel interfaces newer than the build
 * machine's headers are in dirty.h.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/types.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint/dirty.h"
#include "tracee/tracee.h"

/*
 * A checkpoint's store (store.c): pages of the restore point kept in our
 * memory, at byte offsets the caller assigns (the mirror's private ranges
 * back to back), a bit a page telling whether the page is there.
 */
struct cp_store {
	uint8_t *mem;	/* MAP_NORESERVE; NULL: no store */
	size_t len;	/* bytes, whole pages */
	uint64_t *bits; /* a page's copy is in mem */
	uint64_t pages; /* how many are */
};

/* Stores beyond this (address space, not memory) are not made. */
#define CP_STORE_MAX (1ULL << 40)
/* Pages a store takes at most (512 MiB of our memory): the pages of a
 * sync that would take more go into the mirror, as without a store. */
#define CP_STORE_PAGES_MAX (128ULL * 1024)

/* An empty store of @len bytes into *s (zeroed on failure). 0 or -errno. */
int cp_store_init(struct cp_store *s, uint64_t len) __attribute__((warn_unused_result));
/* Give the store back; *s is left empty. */
void cp_store_fini(struct cp_store *s);
/* The pages of [@off, +@len) are in the store from now on. */
void cp_store_mark(struct cp_store *s, uint64_t off, uint64_t len);
/* The pages of [@off, +@len) are not (their memory is given back). */
void cp_store_drop(struct cp_store *s, uint64_t off, uint64_t len);

/* Whether the page at offset @off is in the store. */
static inline bool
cp_store_has(const struct cp_store *s, uint64_t off)
{
	uint64_t i = off / 4096;

	return s->bits[i / 64] & (1ULL << (i % 64));
}

/* ---- the state of a checkpoint, shared by checkpoint.c and shadow.c ---- */

/* x86-64 base pages; PAGEMAP_SCAN reports at this granularity. */
#define CP_PAGE DIRTY_PAGE
/* Bytes copied per round of a sync, and iovecs per process_vm_*v(2) call
 * (UIO_MAXIOV, <linux/uio.h>). */
#define SYNC_CHUNK (4ULL << 20)
#define IOV_BATCH 1024
/* Page regions per PAGEMAP_SCAN call of a sync. */
#define SCAN_VEC 512
/* A buffer grown past this is given back after use. */
#define BUF_KEEP (16ULL << 20)

/* What the mirror holds of a tracked mapping. */
enum range_kind {
	RANGE_PRIVATE, /* its own copy-on-write copy: the restore point */
	RANGE_SHARED,  /* the very same pages (MAP_SHARED): not restorable */
};

/* A tracked mapping (or adjacent ones of a kind) as it was at the fork. */
struct range {
	uint64_t start, end;
	enum range_kind kind;
	uint64_t store_off; /* RANGE_PRIVATE: where its pages are in c->store */
};

/* Where the restore point's copy of a run of written pages is. */
enum piece_kind {
	PIECE_MIRROR,	/* in the mirror */
	PIECE_STORE,	/* in our store (synced since the mirror's fork) */
	PIECE_SAVED,	/* among our saved pages */
	PIECE_UNMAPPED, /* nowhere: the mapping grew there after the fork */
	PIECE_SHARED,	/* a MAP_SHARED mapping: no copy anywhere */
};

/* A run of tracee memory and its place in the bounce buffer. */
struct seg {
	uint64_t addr, len;
	size_t off;
	enum piece_kind src;
};

struct seg_list {
	struct seg *v;
	size_t n, cap;
};

/* A page of restore point the mirror lacks. */
struct saved_page {
	uint64_t addr;
	uint8_t *data; /* CP_PAGE bytes */
};

struct checkpoint {
	pid_t pid;
	int memfd;	/* the caller's /proc/PID/mem */
	struct dirty_log dl; /* the pages written since the restore point */
	pid_t mirror;	/* holds the restore point; -1 before the first fork */
	int mirror_mem; /* /proc/MIRROR/mem, or the shadow memfd */
	bool shadow;	/* no mirror process: mirror_mem is our memfd */
	bool shadow_ok; /* the shadow is whole: a remap may refresh it */
	bool stale;	/* a sync or remap failed half-way: remap first */
	bool sysv;	/* SysV shared memory is attached (drop_sysv_segments) */

	struct range *ranges; /* sorted, disjoint */
	size_t nranges;
	/* never tracked: writes there need no undoing (checkpoint_new_except()) */
	struct checkpoint_range *untracked;
	size_t nuntracked;

	struct saved_page *saved; /* sorted by address */
	size_t nsaved, saved_cap;

	/* The store: our copy of the pages of the mirror's private ranges
	 * that a sync copied since the mirror's fork, the ranges back to back
	 * (range.store_off), a bit a page set where the copy is there rather
	 * than in the mirror. NULL: syncs write into the mirror. */
	struct cp_store store;
	struct seg_list direct; /* a sync's reads straight into the store */
	uint64_t direct_pages;	/* of which pages not in the store yet */

	struct page_region *vec; /* PAGEMAP_SCAN output */
	size_t vec_cap;
	struct seg_list reads, pieces;
	uint8_t *buf;
	size_t buf_cap;

	struct checkpoint_stats stats;
};

/* Room for @len bytes in c->buf. 0 or -ENOMEM. */
int cp_buf_reserve(struct checkpoint *c, size_t len) __attribute__((warn_unused_result));
/* Give c->buf back if it grew large. */
void cp_buf_trim(struct checkpoint *c);
/* Whether [@addr, +@len) meets a private range of c->ranges. */
bool cp_in_private_range(const struct checkpoint *c, uint64_t addr, uint64_t len);
/* Register every writable mapping with the userfaultfd, into c->ranges. */
int cp_track_mappings(struct checkpoint *c) __attribute__((warn_unused_result));
/* Protect every page of the tracked mappings. */
int cp_protect_all(struct checkpoint *c) __attribute__((warn_unused_result));
/* One PAGEMAP_SCAN of [*start, @end) into c->vec (see checkpoint.c). */
int cp_scan_range(struct checkpoint *c, uint64_t *start, uint64_t end, uint64_t mask,
		  uint64_t inverted, bool protect) __attribute__((warn_unused_result));
/* Protect the registered pages of [@start, @end). */
int cp_protect_range(struct checkpoint *c, uint64_t start, uint64_t end)
	__attribute__((warn_unused_result));

/* shadow.c: make [@start, @end) of the shadow @fd a hole (reads as zeros). */
int cp_shadow_punch(int fd, uint64_t start, uint64_t end) __attribute__((warn_unused_result));
/* shadow.c: the remap of a shadow (checkpoint_remap()). */
int cp_shadow_remap(struct checkpoint *c) __attribute__((warn_unused_result));
