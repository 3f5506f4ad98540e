/* SPDX-License-Identifier: MIT */
/*
 * What the files of the preload library share (not the contract with the
 * supervisor, which is uprr-preload.h): the two ways to make a syscall and
 * the entry points of preload/buffered-fd.c. Freestanding.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "preload/uprr-preload.h"

#define HIDDEN __attribute__((visibility("hidden")))

/* What buffered() returns for a call that takes the traced path untouched
 * (never a syscall result) */
#define NOT_BUFFERED (-4096l - 1)

#define barrier() __asm__ __volatile__("" ::: "memory")

void *memcpy(void *dst, const void *src, size_t n) HIDDEN;

/* A syscall the supervisor traces: an ordinary recorded syscall. */
long uprr_traced(long nr, long a0, long a1, long a2, long a3, long a4, long a5) HIDDEN;
/* The call through the stub for @buf's thread: the kernel's result in
 * recording, *@retp (the recorded one) in replay or in a re-run after a
 * rollback (@buf's own replay flag). */
long uprr_stubcall(struct uprr_buf *buf, long nr, long a0, long a1, long a2, long a3, long a4, long a5,
		   int64_t *retp) HIDDEN;

/* buffered-fd.c, called from buffered() in syscallbuf.c: */
/* The most bytes of data a record of call @nr (@a) needs, or UINT64_MAX
 * if it takes the traced path untouched. */
uint64_t uprr_fd_data_max(struct uprr_buf *buf, long nr, const long a[6]) HIDDEN;
/* Make call @nr in record @rec (its header filled, @size bytes at most),
 * add the record to @buf, and return the call's result (after the traced
 * path if the attempt could not finish it). */
long uprr_fd_call(struct uprr_buf *buf, struct uprr_rec *rec, long nr, const long a[6], uint32_t size)
	HIDDEN;
/* Right before a record of call @nr on fd @fd with result @ret is added to
 * @buf: the batch's first clears buf->fds_written, a write that sent bytes
 * marks its fd (not a plain write to a regular file, UPRR_WRITE_PLAIN():
 * the recorder finds its sinks from the record, whatever the fd is then). */
void uprr_fd_commit(struct uprr_buf *buf, long nr, long fd, long ret) HIDDEN;

/* Write @len bytes at @base to fd @fd at offset @off (-1: the file
 * position) without waiting: a pwritev2 with RWF_NOWAIT; if the file
 * refuses it (EOPNOTSUPP: ext4, tmpfs) and is a regular file of a local
 * file system, a plain pwritev2 there. Fills the record's probe at
 * @probe_at; returns the result (rec->ret's, in replay, for the plain one). */
long uprr_fd_write(struct uprr_buf *buf, struct uprr_rec *rec, long fd, const void *base, uint64_t len, long off,
		   void *probe_at) HIDDEN;
