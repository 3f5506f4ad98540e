/* SPDX-License-Identifier: MIT */
/*
 * Respawn (process.h): a copy of a stopped process whose threads get chosen
 * ids, the ids of the process the copy was taken from, so that the tids its
 * memory holds (glibc's struct pthread, clear-tid words, mutex owners, robust
 * lists) name its own threads again. The copy is made by the one copying
 * mechanism of process.c, its fork and thread clones done with clone3(2)'s
 * set_tid (Linux 5.5) instead of clone(2). Around it, the process group a
 * copy inherited from a source that led it is handed back to the respawn.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "checkpoint/process-private.h"
#include "checkpoint/process.h"
#include "common/log.h"
#include "tracee/tracee.h"

/* Whether @path names the pid namespace @ns (st_dev, st_ino of its
 * /proc/.../ns/ link, namespaces(7)). */
static bool
same_ns(const char *path, const struct stat *ns)
{
	struct stat st;

	return stat(path, &st) == 0 && st.st_dev == ns->st_dev && st.st_ino == ns->st_ino;
}

/* The pid namespace a fork by thread @tid of @pid makes its child in, and
 * the one its threads live in, must be ours: set_tid gives an id in the
 * child's namespace only (set_tid_size 1), and the ids we were given are
 * ours. After unshare(CLONE_NEWPID) the first differs (pid_namespaces(7)). */
static int
check_pid_ns(pid_t pid, pid_t tid)
{
	char path[96];
	struct stat self;

	if (stat("/proc/self/ns/pid", &self) < 0)
		return -errno;
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", pid);
	if (!same_ns(path, &self))
		return log_debug_errno(-EOPNOTSUPP, "respawn of %d: its pid namespace is not ours", pid);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/ns/pid_for_children", pid, tid);
	if (!same_ns(path, &self))
		return log_debug_errno(-EOPNOTSUPP,
				       "respawn of %d: thread %d's children go to another pid namespace",
				       pid, tid);
	return 0;
}

/* Fields 5, 6 and 8 of /proc/PID/stat (proc(5)): process group, session
 * and the foreground process group of its terminal (-1: none). */
static int
group_and_session(pid_t pid, pid_t *ret_pgrp, pid_t *ret_sid, pid_t *ret_tpgid)
{
	char path[64], buf[1024];
	const char *p;
	int fd, pgrp, sid, tpgid;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p || sscanf(p, ") %*c %*d %d %d %*d %d", &pgrp, &sid, &tpgid) != 3)
		return -EIO;
	*ret_pgrp = pgrp;
	*ret_sid = sid;
	*ret_tpgid = tpgid;
	return 0;
}

/* Say at debug level what holds id @id that a respawn of @pid wanted: a
 * task, or a process group or session, which keep an id allocated as long
 * as they have members (free_pid(), kernel/pid.c), the copy included: it
 * inherited the source's. */
static void
name_holder(pid_t pid, pid_t id)
{
	char path[64];
	pid_t pgrp = 0, sid = 0, tpgid = 0;

	snprintf(path, sizeof(path), "/proc/%d", id);
	if (access(path, F_OK) == 0) {
		log_debug("respawn of %d: id %d is taken by a live task", pid, id);
		return;
	}
	if (group_and_session(pid, &pgrp, &sid, &tpgid) == 0 && id == sid) {
		log_debug("respawn of %d: id %d is taken as the session of the copy itself "
			  "(the source led it)", pid, id);
		return;
	}
	log_debug("respawn of %d: id %d is taken (a process group or session with other "
		  "members, or a task that just appeared)", pid, id);
}

/* setpgid(0, @pgid) injected into thread @tid of a stopped process. */
static int
set_group(pid_t tid, int memfd, pid_t pgid)
{
	uint64_t args[6] = { 0, (uint64_t)pgid, 0, 0, 0, 0 };
	int64_t res;
	int r;

	r = tracee_inject_syscall(tid, memfd, __NR_setpgid, args, &res);
	if (r < 0)
		return r;
	return res < 0 ? log_debug_errno((int)res, "setpgid(0, %d) in %d", pgid, tid) : 0;
}

int
checkpoint_respawn_check(pid_t pid)
{
	pid_t pgrp, sid, tpgid;
	int r = group_and_session(pid, &pgrp, &sid, &tpgid);

	if (r < 0)
		return r;
	if (sid == pid)
		return -EEXIST;
	return pgrp == pid && tpgid == pid ? -EBUSY : 0;
}

/*
 * The copy of a process group leader is in the group its source led, whose
 * id is the source's pid: the group keeps that id taken (free_pid(),
 * kernel/pid.c). Move the copy @pid (thread @tid, mem @memfd) to a group of
 * its own for the respawn, whose pid is @id; afterwards (finish_group()) the
 * respawn leads a new group of that id, and the copy joins it again. Not
 * for a session leader's copy (the session keeps the id; setsid(2) would
 * lose the terminal) nor for the terminal's foreground group (the terminal
 * would keep naming the dead group: ^C would reach no one): -EEXIST and
 * -EBUSY, named.
 */
static int
leave_group(pid_t pid, pid_t tid, int memfd, pid_t id, bool *ret_moved, pid_t *ret_taken)
{
	pid_t pgrp, sid, tpgid;
	int r;

	r = group_and_session(pid, &pgrp, &sid, &tpgid);
	if (r < 0)
		return r;
	if (sid == id) {
		name_holder(pid, id);
		if (ret_taken)
			*ret_taken = id;
		return -EEXIST;
	}
	if (pgrp != id) {
		*ret_moved = false;
		return 0;
	}
	if (tpgid == id)
		return log_debug_errno(-EBUSY, "respawn of %d: process group %d is its terminal's "
				       "foreground group", pid, id);
	r = set_group(tid, memfd, 0);
	if (r < 0)
		return r;
	*ret_moved = true;
	return 0;
}

/* After leave_group(): the respawn @c (if made) leads group @id again, and
 * the copy (thread @tid, mem @memfd) rejoins it. Without a respawn, the copy
 * rejoins the old group if other members kept it (an -EEXIST), or else
 * stays in a group of its own: the old one is gone. */
static int
finish_group(struct checkpoint_copy *c, pid_t tid, int memfd, pid_t id)
{
	int r;

	if (!c) {
		(void)!set_group(tid, memfd, id);
		return 0;
	}
	r = set_group(c->tids[0], c->memfd, 0);
	if (r < 0)
		return r;
	return set_group(tid, memfd, id);
}

int
checkpoint_respawn(pid_t pid, int memfd, const pid_t *tids, const pid_t *ids, size_t n,
		   pid_t *ret_taken, struct checkpoint_copy **ret)
{
	struct checkpoint_copy *c = NULL;
	bool moved = false;
	pid_t taken = 0;
	int r;

	if (n == 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (ids[i] <= 0)
			return -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (ids[j] == ids[i])
				return -EINVAL;
	}
	r = check_pid_ns(pid, tids[0]);
	if (r < 0)
		return r;
	r = leave_group(pid, tids[0], memfd, ids[0], &moved, ret_taken);
	if (r < 0)
		return r;
	r = cp_process_copy(pid, memfd, tids, n, ids, &taken, &c);
	if (moved) {
		int r2 = finish_group(r == 0 ? c : NULL, tids[0], memfd, ids[0]);

		if (r == 0 && r2 < 0) {
			checkpoint_copy_free(c);
			return r2;
		}
	}
	if (r == 0) {
		*ret = c;
	} else if (r == -EEXIST && taken > 0) {
		name_holder(pid, taken);
		if (ret_taken)
			*ret_taken = taken;
	} else if (r == -EPERM) {
		log_debug("respawn of %d: the process lacks CAP_SYS_ADMIN and "
			  "CAP_CHECKPOINT_RESTORE over its pid namespace", pid);
	}
	return r;
}

int
checkpoint_copy_respawn(const struct checkpoint_copy *c, pid_t *ret_taken, struct checkpoint_copy **ret)
{
	pid_t *tids, *ids;
	size_t lead = c->n;
	int r;

	for (size_t i = 0; i < c->n; i++)
		if (c->src_tids[i] == c->src_pid)
			lead = i;
	/* the source's leader, exited before the copy, cannot be respawned */
	if (lead == c->n)
		return -EINVAL;
	tids = calloc(c->n, sizeof(*tids));
	ids = calloc(c->n, sizeof(*ids));
	if (!tids || !ids) {
		free(tids);
		free(ids);
		return -ENOMEM;
	}
	memcpy(tids, c->tids, c->n * sizeof(*tids));
	memcpy(ids, c->src_tids, c->n * sizeof(*ids));
	/* the fork goes through the copy of the source's leader: the new
	 * process's first thread, whose id is its pid */
	tids[lead] = tids[0];
	ids[lead] = ids[0];
	tids[0] = c->tids[lead];
	ids[0] = c->src_tids[lead];
	r = checkpoint_respawn(c->pid, c->memfd, tids, ids, c->n, ret_taken, ret);
	free(tids);
	free(ids);
	return r;
}
