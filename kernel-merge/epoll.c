/* SPDX-License-Identifier: MIT */
/*
 * An epoll instance's interest list as /proc/PID/fdinfo/N shows it
 * (kernel-merge.h, kmerge_epoll_items_read()): what a re-run from a
 * checkpoint gives a new instance in place of the TP run's, whose list
 * changed since (entries added, modified, removed, and those of every
 * object it closed, gone with them).
 */
#define LOG_PREFIX "kmerge-epoll"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "common/util.h"
#include "kernel-merge/kernel-merge.h"

int
kmerge_epoll_items_read(pid_t pid, int fd, struct kmerge_epoll_item **ret, size_t *ret_n)
{
	_cleanup_free_ char *text = NULL;
	struct kmerge_epoll_item *v = NULL;
	size_t n = 0, cap = 0, len;
	char path[64];
	int r;

	*ret = NULL;
	*ret_n = 0;
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	r = util_read_file(path, &text, &len);
	if (r < 0)
		return r;
	/* "tfd: %8d events: %8x data: %16llx  pos:%lli ino:%lx sdev:%x"
	 * (fs/eventpoll.c ep_show_fdinfo()); sdev is the kernel's encoding
	 * of the device: major << 20 | minor */
	for (char *line = strstr(text, "tfd:"); line; line = strstr(line + 1, "\ntfd:")) {
		unsigned events, sdev;
		unsigned long long data;
		long long pos;
		unsigned long ino;
		int tfd;

		if (*line == '\n')
			line++;
		if (sscanf(line, "tfd: %d events: %x data: %llx pos:%lli ino:%lx sdev:%x", &tfd, &events, &data,
			   &pos, &ino, &sdev) != 6) {
			free(v);
			return -EPROTO;
		}
		r = UTIL_GROW(v, cap, n + 1);
		if (r < 0) {
			free(v);
			return r;
		}
		v[n++] = (struct kmerge_epoll_item){ .tfd = tfd, .events = events, .data = data,
						     .dev = makedev(sdev >> 20, sdev & 0xfffff), .ino = ino };
	}
	*ret = v;
	*ret_n = n;
	return 0;
}
