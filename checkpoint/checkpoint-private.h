/* SPDX-License-Identifier: MIT */
/*
 * Kernel interfaces newer than the build machine's headers (Debian 12 ships
 * those of Linux 6.1). Values copied from the kernel version that added them;
 * the kernel we run on decides at run time (UFFDIO_API and PAGEMAP_SCAN fail
 * with EINVAL / ENOTTY before 6.7).
 */
#pragma once

#include <linux/fs.h>
#include <linux/types.h>
#include <linux/userfaultfd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>

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

/*
 * A checkpoint's store (store.c): pages of the restore point kept in our
 * memory, at byte offsets the caller assigns (the mirror's private ranges
 * back to back), a bit a page telling whether the page is there.
 */
struct cp_store {
	uint8_t *mem;	/* MAP_NORESERVE; NULL: no store */
	size_t len;	/* bytes, whole pages */
	uint64_t *bits; /* a page's copy is in mem */
};

/* Stores beyond this (address space, not memory) are not made. */
#define CP_STORE_MAX (1ULL << 40)

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
