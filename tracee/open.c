/* SPDX-License-Identifier: MIT */
/*
 * A file opened inside a stopped tracee by an injected openat(2), its path
 * on dead stack: how replay and the recorder's EP runs map the trace's kept
 * copy of a file the program mapped.
 */
#include "tracee/tracee.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "common/util.h"

uint64_t
tracee_stack_scratch(pid_t pid, uint64_t sp, size_t len)
{
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	size_t n;

	/* The room below the stack pointer readable in one process_vm_readv
	 * (2): mapped, not a guard page; what is written there is put back.
	 * /proc/PID/maps only when not: a read of it cost 40 µs, one per
	 * file a program maps (issue 14: date maps 14). */
	if (sp > 4096 + len + 0x10000 && 4096 + len <= 2 * PATH_MAX) {
		char probe[2 * PATH_MAX];
		struct iovec local = { probe, 4096 + len };
		struct iovec remote = { (void *)(uintptr_t)(sp - 4096 - len), 4096 + len };

		if (process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)(4096 + len))
			return (sp - 2048 - len) & ~(uint64_t)15;
	}
	if (tracee_read_maps(pid, &maps, &n) == 0)
		for (size_t i = 0; i < n; i++)
			if (maps[i].start <= sp && sp < maps[i].end && sp - maps[i].start > 4096 + len)
				return (sp - 2048 - len) & ~(uint64_t)15;
	return 0;
}

int
tracee_open_in(pid_t tid, pid_t pid, int memfd, uint64_t sp, const char *path, int flags,
	       const struct tracee_call *then, int64_t *ret_then)
{
	size_t len = strlen(path) + 1, done = 0;
	uint64_t at = tracee_stack_scratch(pid, sp, len);
	struct tracee_call calls[2] = {
		{ .nr = __NR_openat, .args = { (uint64_t)AT_FDCWD, at, (uint64_t)(flags | O_CLOEXEC) } },
	};
	int64_t results[2] = { -EIO, -EIO };
	char saved[PATH_MAX];
	int r;

	if (!at || len > sizeof(saved))
		return -ENOSPC;
	r = tracee_read(tid, at, saved, len);
	if (r < 0)
		return r;
	r = tracee_write(memfd, at, path, len);
	if (r < 0)
		return r;
	if (then)
		calls[1] = *then;
	/* the openat fails the batch: its next call is not made */
	r = tracee_inject_syscalls(tid, memfd, calls, then ? 2 : 1, results, &done);
	if (r < 0)
		results[0] = r;
	r = tracee_write(memfd, at, saved, len);
	if (results[0] < 0)
		return (int)results[0];
	if (r < 0)
		return r;
	if (then) {
		if (done < 2)
			return -ECANCELED;
		*ret_then = results[1];
	}
	return (int)results[0];
}
