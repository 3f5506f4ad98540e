/* SPDX-License-Identifier: MIT */
/*
 * The canary arena of the syscall model's unit tests: a test performs the
 * real syscall on buffers inside it, and checks that the ranges the model
 * gives cover every byte the kernel changed and stay inside the buffers.
 * Static helpers: each test file has its own arena.
 */
#pragma once

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "syscalls/syscalls.h"

/* ---- the arena: every buffer the kernel may write lives here ---- */

#define ARENA_SIZE 16384
#define CANARY 0xa5

static unsigned char arena[ARENA_SIZE] __attribute__((aligned(64)));
static unsigned char before[ARENA_SIZE];
static struct sc_ranges ranges;

static void
arena_init(void)
{
	memset(arena, CANARY, sizeof(arena));
	memset(&ranges, 0, sizeof(ranges));
}

static void
arena_fini(void)
{
	sc_ranges_free(&ranges);
}

/* Address of arena offset @off, as the model sees tracee addresses. */
static uint64_t
at(size_t off)
{
	return (uint64_t)(uintptr_t)(arena + off);
}

/* Remember the arena after the test set up its inputs, before the syscall. */
static void
snapshot(void)
{
	memcpy(before, arena, sizeof(arena));
}

/* The tracee is this process: read its memory directly. */
static int
self_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	unsigned *calls = ctx;

	if (calls)
		(*calls)++;
	memcpy(buf, (const void *)(uintptr_t)addr, len);
	return 0;
}

static int __attribute__((unused))
failing_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	return -EFAULT;
}

static bool
in_ranges(const struct sc_ranges *rs, uint64_t addr)
{
	for (size_t i = 0; i < rs->n; i++)
		if (addr >= rs->v[i].addr && addr - rs->v[i].addr < rs->v[i].len)
			return true;
	return false;
}

/* Bytes of the arena covered by at least one range (the union). */
static uint64_t
covered(const struct sc_ranges *rs)
{
	uint64_t n = 0;

	for (size_t i = 0; i < ARENA_SIZE; i++)
		n += in_ranges(rs, at(i));
	return n;
}

/*
 * Every range lies inside the arena, and every arena byte the kernel changed
 * since snapshot() lies inside a range.
 */
static void
assert_covers_writes(const struct sc_ranges *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		cr_assert(rs->v[i].addr >= at(0) && rs->v[i].addr + rs->v[i].len <= at(ARENA_SIZE),
			  "range %zu (arena%+lld, %llu bytes) lies outside the test's buffers", i,
			  (long long)(rs->v[i].addr - at(0)), (unsigned long long)rs->v[i].len);
	for (size_t i = 0; i < ARENA_SIZE; i++)
		cr_assert(arena[i] == before[i] || in_ranges(rs, at(i)),
			  "the kernel wrote arena byte %zu but no range covers it", i);
}

/* Every range lies inside [@off, @off + @len) of the arena. */
static void __attribute__((unused))
assert_ranges_within(const struct sc_ranges *rs, size_t off, size_t len, const char *what)
{
	for (size_t i = 0; i < rs->n; i++)
		cr_assert(rs->v[i].addr >= at(off) && rs->v[i].addr + rs->v[i].len <= at(off + len),
			  "%s: range (arena%+lld, %llu bytes) leaves the %zu-byte buffer at arena+%zu",
			  what, (long long)(rs->v[i].addr - at(0)), (unsigned long long)rs->v[i].len,
			  len, off);
}

static void
outputs(long nr, const uint64_t args[6], int64_t result)
{
	cr_assert_eq(sc_outputs(nr, args, result, NULL, self_read, NULL, &ranges), 0);
}

/* A raw syscall's result the way the tracer sees it in rax: -errno on failure. */
static int64_t
raw(long r)
{
	return r < 0 ? -errno : r;
}

static __attribute__((unused)) void
make_pipe(int p[2])
{
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0, "pipe2: %s", strerror(errno));
}

static __attribute__((unused)) int
tmp_file_with(const char *data)
{
	char path[] = "/tmp/uprr-test-model-XXXXXX";
	int fd = mkostemp(path, O_CLOEXEC);

	cr_assert_geq(fd, 0, "mkostemp: %s", strerror(errno));
	unlink(path);
	cr_assert_eq(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	return fd;
}

/* A UDP socket bound to an ephemeral loopback port; skips without loopback. */
static __attribute__((unused)) int
udp_socket(struct sockaddr_in *ret_addr)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		cr_skip_test("no IPv4 loopback here: %s", strerror(errno));
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	if (ret_addr)
		*ret_addr = a;
	return fd;
}

