/* SPDX-License-Identifier: MIT */
/* What the recorder needs to know of a file an mmap maps. */
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "recorder/record-private.h"

bool
rec_is_dev_zero(pid_t tid, int fd)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", tid, fd);
	return stat(path, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 5);
}

bool
rec_mmap_may_change(pid_t tid, const uint64_t args[6])
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), end;
	char path[64];
	struct stat link, st;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", tid, (int)args[4]);
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	/* the link's owner bits are the fd's access mode (proc(5)) */
	if (lstat(path, &link) == 0 && (link.st_mode & S_IWUSR))
		return true;
	end = args[5] + ((args[1] + page - 1) & ~(page - 1));
	return end > (((uint64_t)st.st_size + page - 1) & ~(page - 1));
}
