/* SPDX-License-Identifier: MIT */
/*
 * Replay of a write to /proc/PID/mem (see recorder/memwrite.c): the bytes the
 * thread passed to write/pwrite64/writev/pwritev go to the target process's
 * memory at the recorded address, as the kernel put them there.
 */
#include <asm/unistd.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/uio.h>

#include "common/util.h"
#include "replay/replay-private.h"
#include "tracee/tracee.h"

/* Copy @len bytes at @from in @tid to @addr through @memfd. */
static int
copy_bytes(pid_t tid, uint64_t from, size_t len, int memfd, uint64_t addr)
{
	uint8_t buf[4096];

	while (len > 0) {
		size_t n = MIN(len, sizeof(buf));
		int r = tracee_read(tid, from, buf, n);

		if (r >= 0)
			r = tracee_write(memfd, addr, buf, n);
		if (r < 0)
			return r;
		from += n;
		addr += n;
		len -= n;
	}
	return 0;
}

int
replay_mem_write(pid_t tid, long nr, const uint64_t args[6], int64_t result, int memfd,
		 uint64_t addr)
{
	uint64_t left = (uint64_t)result;
	int r;

	if (result <= 0)
		return 0;
	if (nr == __NR_write || nr == __NR_pwrite64)
		return copy_bytes(tid, args[1], (size_t)left, memfd, addr);
	for (uint64_t i = 0; i < args[2] && left > 0; i++) {
		struct iovec iov;
		size_t n;

		r = tracee_read(tid, args[1] + i * sizeof(iov), &iov, sizeof(iov));
		if (r < 0)
			return r;
		n = (size_t)MIN((uint64_t)iov.iov_len, left);
		r = copy_bytes(tid, (uint64_t)(uintptr_t)iov.iov_base, n, memfd, addr);
		if (r < 0)
			return r;
		addr += n;
		left -= n;
	}
	return 0;
}
