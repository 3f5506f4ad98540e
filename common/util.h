/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by every component: cleanup attributes and ownership
 * transfer (libinput util-mem.h), checked arithmetic, retrying I/O.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _wur_ __attribute__((warn_unused_result))
/* a switch arm that goes on into the next (clang does not read comments) */
#define _fallthrough_ __attribute__((fallthrough))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a) (((x) + (a)-1) & ~((__typeof__(x))(a)-1))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

static inline void
freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void
closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

/** Take ownership of the pointer in *p, leaving NULL behind. */
#define steal_ptr(p)                          \
	({                                    \
		__typeof__(*(p)) _tmp = *(p); \
		*(p) = NULL;                  \
		_tmp;                         \
	})

/** Take ownership of the fd in *fd, leaving -1 behind. */
static inline int
steal_fd(int *fd)
{
	int r = *fd;

	*fd = -1;
	return r;
}

/**
 * Write all @len bytes of @buf to @fd, retrying on EINTR and short writes.
 * Returns 0, or -errno (e.g. -ENOSPC) after a partial write.
 */
int util_write_all(int fd, const void *buf, size_t len) _wur_;

/**
 * Read exactly @len bytes from @fd at the current offset.
 * Returns the number of bytes read (< @len only at end of file) or -errno.
 */
ssize_t util_read_all(int fd, void *buf, size_t len) _wur_;

/**
 * Make the file @dst_fd hold what the file at @path holds: its size, its
 * data, and its holes as holes (a sparse file of gigabytes costs its data
 * only). @dst_fd is never emptied first: truncating a file takes the pages
 * private mappings copied past the new end away too (truncate_pagecache(),
 * mm/truncate.c); punching a hole (fallocate(2)) leaves them. Returns 0 or
 * -errno.
 */
int util_load_file(int dst_fd, const char *path) _wur_;

/**
 * Read the whole file at @path into a NUL-terminated malloc'd buffer.
 * On success stores it in *ret_buf (caller frees) and its length in *ret_len.
 * Returns 0 or -errno.
 */
int util_read_file(const char *path, char **ret_buf, size_t *ret_len) _wur_;

/**
 * Make room for at least @need elements of @size bytes in the malloc'd array
 * *@arr of capacity *@cap elements: grows it to the larger of @need and twice
 * *@cap (16 at least), the new elements zeroed. Returns 0, or -ENOMEM with
 * *@arr and *@cap unchanged.
 * Use it through UTIL_GROW().
 */
int util_grow(void **arr, size_t *cap, size_t need, size_t size) _wur_;
/** util_grow() for array @arr (any element type) of capacity @cap. */
#define UTIL_GROW(arr, cap, need) util_grow((void **)&(arr), &(cap), (need), sizeof(*(arr)))

/** Monotonic time in nanoseconds (CLOCK_MONOTONIC). */
uint64_t util_now_ns(void);

