/* SPDX-License-Identifier: MIT */
/* What the recorder needs to know of a file an mmap maps. */
#include <stdio.h>
#include <string.h>
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
rec_is_system_file(const char *path, const struct stat *st)
{
	static const char *const trees[] = { "/usr/", "/lib/", "/lib64/", "/bin/", "/sbin/" };

	if (!S_ISREG(st->st_mode) || st->st_uid != 0 || (st->st_mode & (S_IWGRP | S_IWOTH)) ||
	    strstr(path, "/../"))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(trees); i++)
		if (strncmp(path, trees[i], strlen(trees[i])) == 0)
			return true;
	return false;
}

bool
rec_fd_is_system_file(const char *fd_path, const struct stat *st)
{
	char target[4096];
	ssize_t n = readlink(fd_path, target, sizeof(target) - 1);

	if (n <= 0)
		return false;
	target[n] = '\0';
	return rec_is_system_file(target, st);
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
	if (end <= (((uint64_t)st.st_size + page - 1) & ~(page - 1)))
		return false;
	/* ld.so's first mapping of a library reaches past its end (it
	 * reserves the whole span, bss too, then maps the segments over it):
	 * a system file never grows in place, so that is no reason to follow
	 * it (following it made replay copy libc.so.6 into a memfd, 1.9 MB,
	 * for every dynamically linked program) */
	return !rec_fd_is_system_file(path, &st);
}
