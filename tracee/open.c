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

#include "common/util.h"

uint64_t
tracee_stack_scratch(pid_t pid, uint64_t sp, size_t len)
{
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	size_t n;

	if (tracee_read_maps(pid, &maps, &n) == 0)
		for (size_t i = 0; i < n; i++)
			if (maps[i].start <= sp && sp < maps[i].end && sp - maps[i].start > 4096 + len)
				return (sp - 2048 - len) & ~(uint64_t)15;
	return 0;
}

int
tracee_open_in(pid_t tid, pid_t pid, int memfd, uint64_t sp, const char *path, int flags)
{
	size_t len = strlen(path) + 1;
	uint64_t at = tracee_stack_scratch(pid, sp, len),
		 args[6] = { (uint64_t)AT_FDCWD, at, (uint64_t)(flags | O_CLOEXEC) };
	char saved[PATH_MAX];
	int64_t fd = -1;
	int r;

	if (!at || len > sizeof(saved))
		return -ENOSPC;
	r = tracee_read(tid, at, saved, len);
	if (r < 0)
		return r;
	r = tracee_write(memfd, at, path, len);
	if (r < 0)
		return r;
	r = tracee_inject_syscall(tid, memfd, __NR_openat, args, &fd);
	if (r < 0)
		fd = r;
	r = tracee_write(memfd, at, saved, len);
	if (fd < 0)
		return (int)fd;
	return r < 0 ? r : (int)fd;
}
