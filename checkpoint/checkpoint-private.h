/* SPDX-License-Identifier: MIT */
/*
 * What checkpoint.c and shadow.c share: kernel interfaces newer than the
 * build machine's headers (Debian 12 ships those of Linux 6.1; values
 * copied from the kernel version that added them; the kernel we run on
 * decides at run time: UFFDIO_API and PAGEMAP_SCAN fail with EINVAL /
 * ENOTTY before 6.7), and the state of a checkpoint.
 */
#pragma once

#include <linux/fs.h>
#include <linux/types.h>
#include <linux/userfaultfd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/types.h>

#include "checkpoint/checkpoint.h"
#include "common/util.h"

/* include/uapi/linux/userfaultfd.h, Linux 6.4: write-protect ptes that are
 * not populated yet (pte markers), so anonymous memory reports them. */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
/* include/uapi/linux/userfaultfd.h, Linux 6.7: a write to a protected page
 * unprotects it in the fault handler, no message is queued. */
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif

/* include/uapi/linux/fs.h, Linux 6.7: the PAGEMAP_SCAN ioctl of
 * /proc/PID/pagemap (Documentation/admin-guide/mm/pagemap.rst). */
#ifndef PAGEMAP_SCAN
#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)
#define PAGE_IS_HUGE (1 << 6)
#define PAGE_IS_SOFT_DIRTY (1 << 7)

/* A run of pages [start, end) with the same categories. */
struct page_region {
	__u64 start;
	__u64 end;
	__u64 categories;
};

#define PM_SCAN_WP_MATCHING (1 << 0)   /* write-protect the pages matched */
#define PM_SCAN_CHECK_WPASYNC (1 << 1) /* fail on a range not in WP_ASYNC mode */

struct pm_scan_arg {
	__u64 size;		   /* sizeof(struct pm_scan_arg) */
	__u64 flags;		   /* PM_SCAN_* */
	__u64 start;		   /* first address, page aligned */
	__u64 end;		   /* end address */
	__u64 walk_end;		   /* set by the kernel: where the walk stopped */
	__u64 vec;		   /* struct page_region array */
	__u64 vec_len;		   /* its length */
	__u64 max_pages;	   /* 0: no limit */
	__u64 category_inverted;   /* categories that match when 0 */
	__u64 category_mask;	   /* all of these must match */
	__u64 category_anyof_mask; /* one of these must match */
	__u64 return_mask;	   /* categories reported in page_region */
};

#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif

/* ---- the state of a checkpoint (checkpoint.c; shadows: shadow.c) ---- */

/* x86-64 base pages; PAGEMAP_SCAN reports at this granularity. */
#define CP_PAGE 4096ULL
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
};

/* Where the restore point's copy of a run of written pages is. */
enum piece_kind {
	PIECE_MIRROR,	/* in the mirror */
	PIECE_SAVED,	/* among our saved pages */
	PIECE_UNMAPPED, /* nowhere: the mapping grew there after the fork */
	PIECE_SHARED,	/* a MAP_SHARED mapping: no copy anywhere */
	PIECE_DIRECT,	/* read straight into a shadow's window (sync_flush()) */
};

/* A run of tracee memory and its place in the bounce buffer. */
struct seg {
	uint64_t addr, len;
	size_t off;
	enum piece_kind src;
	uint8_t *direct; /* PIECE_DIRECT: where in our memory, instead of off */
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

/* Part of a shadow mapped in our memory: file offset (tracee address)
 * @start to @end at @map. */
struct shadow_window {
	uint64_t start, end;
	uint8_t *map;
};

/* How far a shadow memfd reaches: every user address (x86-64, 4-level
 * paging). A sparse file: only pages written take memory. */
#define SHADOW_SIZE (1ULL << 47)

struct checkpoint {
	pid_t pid;
	int memfd;	/* the caller's /proc/PID/mem */
	int uffd;	/* WP_ASYNC userfaultfd of the tracee's mm */
	int pagemap;	/* /proc/PID/pagemap, for PAGEMAP_SCAN */
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
	uint64_t scan_end; /* end of the highest tracked mapping */

	struct saved_page *saved; /* sorted by address */
	size_t nsaved, saved_cap;

	/* a shadow's tracked ranges, mapped in our memory (MAP_SHARED): a
	 * sync copies into them, a rollback out of them, with no syscall */
	struct shadow_window *win;
	size_t nwin;

	struct page_region *vec; /* PAGEMAP_SCAN output */
	size_t vec_cap;
	struct seg_list reads, pieces;
	uint8_t *buf;
	size_t buf_cap;

	struct checkpoint_stats stats;
};

/* checkpoint.c */
int checkpoint_buf_reserve(struct checkpoint *c, size_t len) _wur_;
void checkpoint_buf_trim(struct checkpoint *c);
bool checkpoint_in_private_range(const struct checkpoint *c, uint64_t addr, uint64_t len);
int checkpoint_protect_all(struct checkpoint *c) _wur_;
int checkpoint_track_mappings(struct checkpoint *c) _wur_;

/* shadow.c */
int checkpoint_shadow_read(int fd, uint8_t *buf, uint64_t len, uint64_t off) _wur_;
const struct shadow_window *checkpoint_shadow_window(const struct checkpoint *c, uint64_t addr,
						     uint64_t len);
void checkpoint_windows_drop(struct checkpoint *c);
int checkpoint_shadow_punch(int fd, uint64_t start, uint64_t end) _wur_;
int checkpoint_protect_range(struct checkpoint *c, uint64_t start, uint64_t end) _wur_;
int checkpoint_shadow_remap(struct checkpoint *c) _wur_;
