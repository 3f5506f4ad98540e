/* SPDX-License-Identifier: MIT */
/*
 * The store of a checkpoint (checkpoint-private.h): our own copy of the
 * restore point's pages that syncs copied since the mirror was forked. A
 * sync then reads each written page once, from the tracee straight into the
 * store (process_vm_readv(2)), instead of twice (into a buffer, then into
 * the mirror with process_vm_writev(2)): the two halves cost about the same
 * (pinning the remote pages, then copying 4 KiB), so the store halves the
 * copying of a sync. The mirror keeps what no sync copied since its fork.
 */
#define LOG_PREFIX "checkpoint"
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "checkpoint/checkpoint-private.h"
#include "common/log.h"

/* x86-64 base pages */
#define STORE_PAGE 4096ULL

int
cp_store_init(struct cp_store *s, uint64_t len)
{
	void *p;

	memset(s, 0, sizeof(*s));
	if (len == 0 || len > CP_STORE_MAX || len % STORE_PAGE)
		return -E2BIG;
	s->bits = calloc((len / STORE_PAGE + 63) / 64, sizeof(*s->bits));
	if (!s->bits)
		return -ENOMEM;
	/* address space only: a page takes memory when a sync first copies it */
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		int r = -errno;

		free(s->bits);
		s->bits = NULL;
		return log_debug_errno(r, "no store of %" PRIu64 " bytes", len);
	}
	s->mem = p;
	s->len = len;
	return 0;
}

void
cp_store_fini(struct cp_store *s)
{
	if (s->mem)
		munmap(s->mem, s->len);
	free(s->bits);
	memset(s, 0, sizeof(*s));
}

void
cp_store_mark(struct cp_store *s, uint64_t off, uint64_t len)
{
	for (uint64_t i = off / STORE_PAGE; i < (off + len) / STORE_PAGE; i++) {
		s->pages += !(s->bits[i / 64] & (1ULL << (i % 64)));
		s->bits[i / 64] |= 1ULL << (i % 64);
	}
}

void
cp_store_drop(struct cp_store *s, uint64_t off, uint64_t len)
{
	for (uint64_t i = off / STORE_PAGE; i < (off + len) / STORE_PAGE; i++) {
		s->pages -= !!(s->bits[i / 64] & (1ULL << (i % 64)));
		s->bits[i / 64] &= ~(1ULL << (i % 64));
	}
	/* the memory back too (anonymous private: reads as zeros after) */
	madvise(s->mem + off, len, MADV_DONTNEED);
}
