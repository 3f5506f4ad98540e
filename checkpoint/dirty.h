/* SPDX-License-Identifier: MIT */
/*
 * The dirty log of a traced process: which pages it wrote since a point.
 * One mechanism for every user: the restore points of checkpoint.c and the
 * divergence check of an epoch-parallel run (ep/divergence.h).
 *
 * The kernel tracks the writes: a userfaultfd created inside the process in
 * asynchronous write-protect mode (UFFD_FEATURE_WP_ASYNC, Linux 6.7) with
 * every writable mapping registered (UFFDIO_REGISTER_MODE_WP): a write to a
 * protected page just unprotects it, so "not protected" means "written since
 * the last protection" (Documentation/admin-guide/mm/userfaultfd.rst). The
 * PAGEMAP_SCAN ioctl of /proc/PID/pagemap (Linux 6.7) lists those pages and,
 * with PM_SCAN_WP_MATCHING, protects them again in the same walk
 * (Documentation/admin-guide/mm/pagemap.rst).
 *
 * The registrations belong to the process's mm: a fork does not carry them
 * over (dup_userfaultfd() without UFFD_FEATURE_EVENT_FORK), so a process
 * copy (process.h) or a process forked from one needs its own dirty log.
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
#include <sys/uio.h>

#include "checkpoint/checkpoint.h"
#include "common/util.h"

struct tracee_mapping;

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
 * /proc/PID/pagemap (Debian 12's headers are those of Linux 6.1). */
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

/** x86-64 base pages: PAGEMAP_SCAN reports at this granularity. */
#define DIRTY_PAGE 4096ULL

/** The dirty log of one process. Fields are read-only for callers. */
struct dirty_log {
	pid_t pid;		/**< the process */
	int uffd;		/**< our copy of its WP_ASYNC userfaultfd; -1: none */
	int pagemap;		/**< /proc/PID/pagemap, O_RDONLY */
	uint64_t scan_end;	/**< end of the highest registered range: walks stop there */
	uint64_t tracked_pages; /**< pages registered (for statistics) */
	/** If not NULL: each written page is appended here (runs, unsorted)
	 * before any walk protects it again, so that the pages written since
	 * it was set are known although the log's owner (restore points)
	 * protects them at every sync: an EP run's epoch (record-ep.c). Set
	 * and emptied by that user; dirty_log_protect() and dirty_log_scan()
	 * fill it. */
	struct dirty_pages *acc;
};

/** Runs of written pages, sorted by address, disjoint (DIRTY_PAGE aligned). */
struct dirty_pages {
	struct checkpoint_range *v; /**< the runs (malloc'd) */
	size_t n;		    /**< how many */
	size_t cap;		    /**< allocated */
};

/**
 * Open the dirty log of process @pid, tracking nothing yet: a userfaultfd is
 * created inside the process (it belongs to the mm of its creator,
 * userfaultfd(2)) by a syscall injected into thread @tid, stopped as
 * tracee_inject_syscall() requires (left in a signal-delivery-stop for
 * SIGTRAP); we take a copy (pidfd_getfd(2), Linux 5.6), close the process's
 * and switch on asynchronous write protection (UFFDIO_API with
 * UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED, Linux 6.7). @memfd is
 * /proc/PID/mem, O_RDWR, the caller's. Fills *d; release with
 * dirty_log_fini(). Returns 0 or -errno (-EINVAL: the kernel lacks
 * WP_ASYNC; *d is then empty and dirty_log_fini() safe).
 */
int dirty_log_init(struct dirty_log *d, pid_t pid, pid_t tid, int memfd) _wur_;

/** Close the dirty log (closing the userfaultfd unregisters every range,
 * userfaultfd_release()). Safe on an empty or finished one. */
void dirty_log_fini(struct dirty_log *d);

/**
 * Track the writes to [@start, @end) (page aligned) from now on
 * (UFFDIO_REGISTER_MODE_WP; a range registered already is fine). The pages
 * stay unprotected, "written", until protected (dirty_log_protect()).
 * Registering part of a mapping splits it in two (userfaultfd_register(),
 * mm/userfaultfd.c). Returns 0 or -errno (-EBUSY: the program's own
 * userfaultfd has the range).
 */
int dirty_log_register(struct dirty_log *d, uint64_t start, uint64_t end) _wur_;

/**
 * Register every writable mapping of @maps (@n of them, tracee_read_maps()
 * of the process), but the kernel's special mappings ([vdso], [vvar],
 * [vsyscall], which userfaultfd refuses) and the @nuntracked ranges at
 * @untracked (page aligned). For each piece registered, @added (if not NULL)
 * is called with its mapping and bounds, in address order; it returns 0 or
 * -errno, which stops the walk. A piece the kernel refuses (EBUSY: the
 * program's own userfaultfd) is left out and logged at debug level: its
 * writes go unseen. Resets scan_end and tracked_pages to what was
 * registered. Protects nothing. Returns 0 or -errno.
 */
int dirty_log_track(struct dirty_log *d, const struct tracee_mapping *maps, size_t n,
		    const struct checkpoint_range *untracked, size_t nuntracked,
		    int (*added)(void *arg, const struct tracee_mapping *m, uint64_t start, uint64_t end),
		    void *arg) _wur_;

/** What one dirty_log_scan() walk matches (PAGEMAP_SCAN's fields). */
struct dirty_scan {
	uint64_t mask;	   /**< categories that must all be set (after @inverted) */
	uint64_t inverted; /**< categories that count when clear */
	uint64_t anyof;	   /**< one of these must be set (0: none asked) */
	uint64_t returned; /**< categories told in the regions (and that split them) */
	bool protect;	   /**< protect the pages matched (PM_SCAN_WP_MATCHING) */
};

/**
 * One PAGEMAP_SCAN walk of [*@start, @end) matching @how into @vec (@vec_len
 * regions; NULL and 0: just protect, the kernel's fast path). Returns the
 * number of regions stored and moves *@start to where the walk stopped (the
 * vector filled up, or @end), or -errno (-EPROTO: no progress).
 */
int dirty_log_scan(const struct dirty_log *d, uint64_t *start, uint64_t end,
		   const struct dirty_scan *how, struct page_region *vec, size_t vec_len) _wur_;

/** Protect the registered pages of [@start, @end): what is written after is
 * "written" again. Returns 0 or -errno. */
int dirty_log_protect(const struct dirty_log *d, uint64_t start, uint64_t end) _wur_;

/**
 * Append the pages of registered ranges written since their last protection
 * to *@ret (regions that touch are merged), and with @rearm protect them
 * again in the same walk (what is written after is in the next list).
 * The process should be stopped, or the list is a moment's. On failure *ret
 * may hold part of the list. Returns the number of pages added or -errno.
 */
int64_t dirty_log_written(struct dirty_log *d, bool rearm, struct dirty_pages *ret) _wur_;

/**
 * Start a dirty log of process @pid at this point (dirty_log_init(), then
 * every writable mapping registered and protected): the pages written from
 * here on are dirty_log_written()'s. Works on any traced process stopped as
 * dirty_log_init() says, a process copy (process.h) and a process forked
 * from one included. Mappings made afterwards are not tracked (register
 * them with dirty_log_register() and protect them). Stores a new log in
 * *ret (free with dirty_log_free()). Returns 0 or -errno.
 */
int dirty_log_new(pid_t pid, pid_t tid, int memfd, struct dirty_log **ret) _wur_;

/** dirty_log_fini() and free @d. NULL accepted. */
void dirty_log_free(struct dirty_log *d);

/** Free the runs of @p; it is left empty, reusable. */
void dirty_pages_fini(struct dirty_pages *p);

/** Pages dirty_pages_read() takes at once: 1 MiB, as many iovecs at most
 * (UIO_MAXIOV is 1024). */
#define DIRTY_READ_BATCH 256

/**
 * The iovec pairs of @n pages at @addrs (ascending) and their copies in
 * @buf (page i at i * DIRTY_PAGE), runs of consecutive pages joined into
 * one iovec each: into @local and @remote, as process_vm_readv(2) and
 * process_vm_writev(2) take them. Returns how many pairs (at most @n).
 */
size_t dirty_pages_iov(const uint64_t *addrs, size_t n, uint8_t *buf, struct iovec *local,
		       struct iovec *remote);

/**
 * Read the @n pages (at most DIRTY_READ_BATCH) at @addrs of process @pid into
 * @buf, page i at i * DIRTY_PAGE: one process_vm_readv(2) of them all (runs
 * of consecutive pages as one iovec), then what it could not read (it stops
 * at the first page it cannot) page by page through /proc/PID/mem: *@memfd,
 * opened here at first need if it is negative (the caller closes it). A page
 * unreadable both ways (not mapped) is marked in @bad. Unlike /proc/PID/mem,
 * process_vm_readv(2) never grows a stack. Returns 0 or -errno (-ESRCH: the
 * process is gone).
 */
int dirty_pages_read(pid_t pid, int *memfd, const uint64_t *addrs, size_t n, uint8_t *buf,
		     bool *bad) _wur_;

/**
 * Zero the bytes of the @nignore ranges at @ignore (sorted or not) that lie
 * in the page at @addr, whose DIRTY_PAGE bytes are at @page: what a
 * comparison of two processes' pages leaves out (ep_hash_pages(),
 * kmerge_copy_pages()). Returns how many bytes of the page the ranges
 * cover (0: none; ranges that overlap count twice).
 */
size_t dirty_page_mask(uint8_t *page, uint64_t addr, const struct checkpoint_range *ignore,
		       size_t nignore);

/** Whether the page at @addr lies whole within one of the @nignore ranges at @ignore. */
bool dirty_page_ignored(uint64_t addr, const struct checkpoint_range *ignore, size_t nignore);

/**
 * Append the runs of @a and @b (each sorted and disjoint) to @ret as one
 * sorted, disjoint list, runs that touch merged (the pages either wrote).
 * Returns the number of pages in it or -ENOMEM.
 */
int64_t dirty_pages_union(const struct dirty_pages *a, const struct dirty_pages *b,
			  struct dirty_pages *ret) _wur_;
