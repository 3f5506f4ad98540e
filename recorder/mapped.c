/* SPDX-License-Identifier: MIT */
/* What the recorder needs to know of a file an mmap maps. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "recorder/record-private.h"

void
rec_fd_look(pid_t tid, int fd, struct rec_fd_look *ret)
{
	snprintf(ret->path, sizeof(ret->path), "/proc/%d/fd/%d", tid, fd);
	ret->st_ok = stat(ret->path, &ret->st) == 0;
	ret->link_ok = lstat(ret->path, &ret->link) == 0;
	ret->target_len = -1;
	ret->target[0] = '\0';
}

const char *
rec_fd_look_target(struct rec_fd_look *l)
{
	ssize_t n;

	if (l->target_len < 0) {
		n = readlink(l->path, l->target, sizeof(l->target) - 1);
		l->target_len = n > 0 ? (int)n : 0;
		l->target[l->target_len] = '\0';
	}
	return l->target_len > 0 ? l->target : NULL;
}

bool
rec_is_dev_zero(const struct rec_fd_look *l)
{
	return l->st_ok && S_ISCHR(l->st.st_mode) && l->st.st_rdev == makedev(1, 5);
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
rec_fd_is_system_file(struct rec_fd_look *l)
{
	const char *target = rec_fd_look_target(l);

	return target && l->st_ok && rec_is_system_file(target, &l->st);
}

bool
rec_mmap_may_change(struct rec_fd_look *l, const uint64_t args[6])
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), end;

	if (!l->st_ok || !S_ISREG(l->st.st_mode))
		return false;
	/* the link's owner bits are the fd's access mode (proc(5)) */
	if (l->link_ok && (l->link.st_mode & S_IWUSR))
		return true;
	end = args[5] + ((args[1] + page - 1) & ~(page - 1));
	if (end <= (((uint64_t)l->st.st_size + page - 1) & ~(page - 1)))
		return false;
	/* ld.so's first mapping of a library reaches past its end (it
	 * reserves the whole span, bss too, then maps the segments over it):
	 * a system file never grows in place, so that is no reason to follow
	 * it (following it made replay copy libc.so.6 into a memfd, 1.9 MB,
	 * for every dynamically linked program) */
	return !rec_fd_is_system_file(l);
}
