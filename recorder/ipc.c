/* SPDX-License-Identifier: MIT */
/*
 * What the recorder must know of mechanisms that reach beyond one process:
 * SysV shared memory segments (which replay re-creates, so their contents
 * must come from recorded processes only), process_vm_writev(2) (replay
 * writes again into a recorded target, and emulates one outside) and perf
 * ring buffers (which the kernel writes at any time: refused).
 */
#define LOG_PREFIX "ipc"
#include <asm/unistd.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>

#include "common/log.h"
#include "recorder/record-private.h"

/* Whether process or thread @pid is traced by this supervisor: a recorded
 * process, or the mirror of one's restore point (TracerPid of proc(5)). */
static bool
traced_by_us(pid_t pid)
{
	char path[64], line[128];
	FILE *f;
	int tracer = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "TracerPid: %d", &tracer) == 1)
			break;
	fclose(f);
	return tracer == getpid();
}

static bool
known_segment(const struct rec_ipc *ipc, int shmid)
{
	for (size_t i = 0; i < ipc->n; i++)
		if (ipc->shmids[i] == shmid)
			return true;
	return false;
}

/* Attachments of segment @shmid in process @pid: its mappings of the
 * segment's file, whose inode number is the id (newseg(), ipc/shm.c). */
static unsigned
attachments_in(pid_t pid, int shmid)
{
	char path[64], line[512];
	unsigned n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long ino;
		char *p = strstr(line, "/SYSV");

		if (p && sscanf(line, "%*x-%*x %*s %*x %*x:%*x %lu", &ino) == 1 && ino == (unsigned long)shmid)
			n++;
	}
	fclose(f);
	return n;
}

/*
 * Whether a process outside the recording has segment @shmid attached: the
 * kernel's count of attachments (shm_nattch, one per mapping) against the
 * mappings of it that the recorded processes hold (@tgids gives them; the
 * mirrors of restore points hold none: checkpoint.c detaches them). Only
 * when they differ is every process looked at, to name one. Returns the pid
 * of one outsider, 0 if none, -1 if the count differs but none was found.
 */
static pid_t
segment_outsider(int shmid, rec_tgids_fn tgids, void *ctx)
{
	pid_t pids[256];
	size_t n = tgids(ctx, pids, ARRAY_SIZE(pids));
	struct shmid_ds ds;
	unsigned ours = 0;
	pid_t outsider = 0;
	struct dirent *d;
	DIR *dir;

	if (shmctl(shmid, IPC_STAT, &ds) < 0)
		return 0; /* gone: the program's own call will say */
	for (size_t i = 0; i < n; i++)
		ours += attachments_in(pids[i], shmid);
	if (ours == ds.shm_nattch)
		return 0;
	ours = 0;
	dir = opendir("/proc");
	if (!dir)
		return 0;
	while (!outsider && ours < ds.shm_nattch && (d = readdir(dir))) {
		pid_t pid = (pid_t)strtol(d->d_name, NULL, 10);
		unsigned k;

		if (pid <= 0 || !(k = attachments_in(pid, shmid)))
			continue;
		if (traced_by_us(pid))
			ours += k;
		else
			outsider = pid;
	}
	closedir(dir);
	if (outsider)
		return outsider;
	return ours < ds.shm_nattch ? -1 : 0;
}

/* The mmap of @tid at its entry (@args) maps a perf_event_open(2) fd. */
static bool
maps_perf_buffer(pid_t tid, const uint64_t args[6])
{
	char target[64];

	if ((args[3] & MAP_ANONYMOUS) || (int)args[4] < 0)
		return false;
	return tracee_fd_path(tid, (int)args[4], target, sizeof(target)) > 0 &&
	       strcmp(target, "anon_inode:[perf_event]") == 0;
}

/* Whether thread @tid's IPC namespace is not uprr's: the ids it uses then
 * name other objects for uprr (ipc_namespaces(7)), and what uprr learns of
 * them through shmctl(2) and semctl(2) would be another's. */
static bool
other_ipc_namespace(pid_t tid)
{
	char path[64];
	struct stat mine, its;

	snprintf(path, sizeof(path), "/proc/%d/ns/ipc", tid);
	return stat("/proc/self/ns/ipc", &mine) == 0 && stat(path, &its) == 0 &&
	       mine.st_ino != its.st_ino;
}

static bool
is_sysv(long nr)
{
	switch (nr) {
	case __NR_shmget: case __NR_shmat: case __NR_shmctl: case __NR_semctl:
		return true;
	default:
		return false;
	}
}

int
rec_ipc_check_entry(const struct rec_ipc *ipc, pid_t tid, long nr, const uint64_t args[6],
		    rec_tgids_fn tgids, void *ctx, char *why, size_t len)
{
	struct shmid_ds ds;
	pid_t who;

	if (is_sysv(nr) && other_ipc_namespace(tid)) {
		snprintf(why, len, "%s in an IPC namespace of its own", nr == __NR_shmget ? "shmget" :
			 nr == __NR_shmat ? "shmat" : nr == __NR_shmctl ? "shmctl" : "semctl");
		return -EPERM;
	}
	switch (nr) {
	case __NR_shmat:
		if (shmctl((int)args[0], IPC_STAT, &ds) < 0)
			return 0; /* it fails in the program too */
		if (!known_segment(ipc, (int)args[0])) {
			snprintf(why, len,
				 "shmat of SysV segment %d (key 0x%x), made outside the recording by "
				 "process %d: replay cannot know its contents",
				 (int)args[0], (unsigned)ds.shm_perm.__key, ds.shm_cpid);
			return -EPERM;
		}
		_fallthrough_;
	case __NR_shmctl:
		if (nr == __NR_shmctl && !known_segment(ipc, (int)args[0]))
			return 0;
		who = segment_outsider((int)args[0], tgids, ctx);
		if (who > 0)
			snprintf(why, len,
				 "%s of SysV segment %d, which process %d outside the recording has "
				 "attached: replay cannot see what it writes",
				 nr == __NR_shmat ? "shmat" : "shmctl", (int)args[0], (int)who);
		else if (who < 0)
			snprintf(why, len,
				 "%s of SysV segment %d, which a process outside the recording has "
				 "attached: replay cannot see what it writes",
				 nr == __NR_shmat ? "shmat" : "shmctl", (int)args[0]);
		return who ? -EPERM : 0;
	case __NR_mmap:
		if (!maps_perf_buffer(tid, args))
			return 0;
		snprintf(why, len, "mmap of a perf_event_open ring buffer (fd %d), which the "
			 "kernel writes at any time", (int)args[4]);
		return -EPERM;
	default:
		return 0;
	}
}

int
rec_ipc_on_exit(struct rec_ipc *ipc, long nr, const uint64_t args[6], int64_t result,
		uint64_t *ret_value)
{
	struct shmid_ds ds;

	*ret_value = 0;
	if (result < 0)
		return 0;
	switch (nr) {
	case __NR_shmget:
		/* a segment the program made, not one that existed before it */
		if (known_segment(ipc, (int)result) || shmctl((int)result, IPC_STAT, &ds) < 0 ||
		    !traced_by_us(ds.shm_cpid))
			return 0;
		if (UTIL_GROW(ipc->shmids, ipc->cap, ipc->n + 1) < 0)
			return -ENOMEM;
		ipc->shmids[ipc->n++] = (int)result;
		return 0;
	case __NR_shmat:
		/* replay makes a segment of this size */
		if (shmctl((int)args[0], IPC_STAT, &ds) == 0)
			*ret_value = ds.shm_segsz;
		return 1;
	case __NR_process_vm_writev:
		/* 1: into a recorded process, which replay writes into again;
		 * 0: out of the recording, as data sent */
		*ret_value = traced_by_us((pid_t)args[0]);
		return 1;
	default:
		return 0;
	}
}

void
rec_ipc_free(struct rec_ipc *ipc)
{
	free(ipc->shmids);
	ipc->shmids = NULL;
	ipc->n = ipc->cap = 0;
}
