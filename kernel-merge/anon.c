/* SPDX-License-Identifier: MIT */
/*
 * The anonymous-inode objects of a checkpoint (undo-private.h): which
 * descriptors uprr keeps the description of (an epoll instance, an
 * eventfd, a timerfd, a signalfd), and the state of each as
 * /proc/PID/fdinfo/N shows it there, from which a re-run from that
 * checkpoint gets one made anew (tp/rerun.c): the TP run's changed since.
 */
#define LOG_PREFIX "kmerge-anon"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "kernel-merge/undo-private.h"

enum anon_kind { ANON_EPOLL, ANON_EVENTFD, ANON_TIMERFD, ANON_SIGNALFD, ANON_NONE };

/* The link's name of each (proc(5): "anon_inode:[eventpoll]"). */
static const char *const kinds[] = { "anon_inode:[eventpoll]", "anon_inode:[eventfd]", "anon_inode:[timerfd]",
				     "anon_inode:[signalfd]" };

bool
kmerge_anon_kept(int dirfd, const char *name, mode_t mode, struct kmerge_fd_saved *s)
{
	enum anon_kind kind = ANON_NONE;
	char link[64];
	ssize_t n;

	s->epoll = s->eventfd = s->timerfd = s->signalfd = false;
	if (mode & S_IFMT)
		return false;
	n = readlinkat(dirfd, name, link, sizeof(link) - 1);
	if (n <= 0)
		return false;
	link[n] = 0;
	for (size_t i = 0; i < ARRAY_SIZE(kinds) && kind == ANON_NONE; i++)
		if (!strcmp(link, kinds[i]))
			kind = (enum anon_kind)i;
	s->epoll = kind == ANON_EPOLL;
	s->eventfd = kind == ANON_EVENTFD;
	s->timerfd = kind == ANON_TIMERFD;
	s->signalfd = kind == ANON_SIGNALFD;
	return kind != ANON_NONE;
}

/* /proc/@pid/fdinfo/@fd into a malloc'd string (*@ret). 0 or -errno. */
static int
fdinfo(pid_t pid, int fd, char **ret)
{
	char path[64];
	size_t len;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	return util_read_file(path, ret, &len);
}

/* An eventfd's counter and EFD_SEMAPHORE (fs/eventfd.c
 * eventfd_show_fdinfo(); "eventfd-semaphore" since Linux 6.6, a counter
 * alone before: not a semaphore). 0 or -errno. */
static int
eventfd_state(const char *text, struct kmerge_fd_saved *s)
{
	unsigned long long count;
	const char *at = strstr(text, "eventfd-count:");
	int sem = 0;

	if (!at || sscanf(at, "eventfd-count: %llx", &count) != 1)
		return -EPROTO;
	at = strstr(text, "eventfd-semaphore:");
	if (at && sscanf(at, "eventfd-semaphore: %d", &sem) != 1)
		return -EPROTO;
	s->efd_count = count;
	s->efd_semaphore = sem != 0;
	return 0;
}

/* A timerfd's clock, settime flags, expirations not read, and the time
 * left to its next expiration with its interval (fs/timerfd.c
 * timerfd_show(), Linux 3.17). 0 or -errno. */
static int
timerfd_state(const char *text, struct kmerge_fd_saved *s)
{
	unsigned long long ticks, vs, vns, is, ins;
	const char *at = strstr(text, "clockid:");
	unsigned flags;
	int clock;

	if (!at || sscanf(at,
			  "clockid: %d ticks: %llu settime flags: %o it_value: (%llu, %llu) it_interval: (%llu, %llu)",
			  &clock, &ticks, &flags, &vs, &vns, &is, &ins) != 7)
		return -EPROTO;
	s->tfd_clock = clock;
	s->tfd_flags = (int)flags;
	s->tfd_ticks = ticks;
	s->tfd_spec = (struct itimerspec){ .it_value = { (time_t)vs, (long)vns },
					   .it_interval = { (time_t)is, (long)ins } };
	return 0;
}

/* A signalfd's mask (fs/signalfd.c signalfd_show_fdinfo(), Linux 3.8:
 * "sigmask:", bit N-1 for signal N). 0 or -errno. */
static int
signalfd_state(const char *text, struct kmerge_fd_saved *s)
{
	unsigned long long mask;
	const char *at = strstr(text, "sigmask:");

	if (!at || sscanf(at, "sigmask: %llx", &mask) != 1)
		return -EPROTO;
	s->sfd_mask = mask;
	return 0;
}

void
kmerge_anon_read(pid_t pid, struct kmerge_fd_saved *s)
{
	_cleanup_free_ char *text = NULL;

	if (s->epoll && kmerge_epoll_items_read(pid, s->fd, &s->items, &s->nitems) < 0)
		s->epoll = false;
	if (!s->eventfd && !s->timerfd && !s->signalfd)
		return;
	/* unread: not made anew (the re-run refuses it, named) */
	if (fdinfo(pid, s->fd, &text) < 0) {
		s->eventfd = s->timerfd = s->signalfd = false;
		return;
	}
	if (s->eventfd && eventfd_state(text, s) < 0)
		s->eventfd = false;
	if (s->timerfd && timerfd_state(text, s) < 0)
		s->timerfd = false;
	if (s->signalfd && signalfd_state(text, s) < 0)
		s->signalfd = false;
}
