/* SPDX-License-Identifier: MIT */
/*
 * Whether the epoch an EP run diverged in at a syscall or in the
 * synchronization order can be re-run (doc/uniparallel.md, "Divergence and
 * rollback"): the EP run cannot go on from the log, so the epoch is recorded
 * again, one thread at a time with live syscalls, from a checkpoint, after
 * the TP run is killed. Built from checkpoint 0, the program's start: the
 * re-run is an UP recording of the program from its exec (tp/tp.c), which
 * needs no copy respawned. It must find the kernel as the TP run found it:
 * so the TP run's calls, as far as its log holds them (all it did: it
 * stands at its next end, or ended), may have changed nothing outside its
 * own processes, which die with it, but the output it held (dropped); and
 * none of that output may have been shown (tp/lockstep.c,
 * tp_rerun_allowed(): the earlier epochs' verdicts release theirs). A call
 * that changed something is named and the re-run refused: the recording
 * ends at the divergence, as before. A re-run from checkpoint k > 0 (its
 * copies respawned with the TP run's ids, an UP recorder taking them over,
 * the trace frames of epoch k dropped, the kernel state put back:
 * kernel-merge/) is not built.
 */
#define LOG_PREFIX "record"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "ep/ep.h"
#include "recorder/record-private.h"
#include "syscalls/syscalls.h"

/* The fds a program started with: 0-2 and uprr's own without FD_CLOEXEC
 * (every fd of uprr's own is O_CLOEXEC), whose open file descriptions
 * outlive the TP run: the bytes read from them are gone, their offsets
 * moved. Bit N for fd N < 64; fds past 63 count as inherited. */
static uint64_t
inherited_fds(void)
{
	uint64_t set = 7;

	for (int fd = 3; fd < 64; fd++) {
		int fl = fcntl(fd, F_GETFD);

		if (fl >= 0 && !(fl & FD_CLOEXEC))
			set |= 1ull << fd;
	}
	return set;
}

static bool
is_inherited(uint64_t set, uint64_t fd)
{
	return fd >= 64 || (set >> fd) & 1;
}

/* Whether @st, a FIFO, is a pipe the program made (pipe(2): both ends in
 * its processes, which die with the TP run, and its bytes with them): on
 * pipefs (the st_dev of a pipe of uprr's own, fs/pipe.c), not one it
 * started with (uprr's stdin piped, an inherited fd). uprr's inherited
 * fds are fixed from its start: looked at once. */
static bool
own_pipe(const struct stat *st)
{
	static struct {
		dev_t dev;
		ino_t ino;
	} pipes[64];
	static int npipes = -1;
	static dev_t pipefs;

	if (npipes < 0) {
		uint64_t set = inherited_fds();
		struct stat in;
		int p[2];

		npipes = 0;
		if (pipe2(p, O_CLOEXEC) == 0) {
			if (fstat(p[0], &in) == 0)
				pipefs = in.st_dev;
			close(p[0]);
			close(p[1]);
		}
		for (int fd = 0; fd < 64; fd++)
			if (is_inherited(set, (uint64_t)fd) && fstat(fd, &in) == 0 && S_ISFIFO(in.st_mode)) {
				pipes[npipes].dev = in.st_dev;
				pipes[npipes++].ino = in.st_ino;
			}
	}
	if (!pipefs || st->st_dev != pipefs)
		return false;
	for (int i = 0; i < npipes; i++)
		if (pipes[i].dev == st->st_dev && pipes[i].ino == st->st_ino)
			return false;
	return true;
}

/* Whether @nr reads what it reads away (not pread: an offset of its own). */
static bool
is_read(long nr)
{
	return nr == __NR_read || nr == __NR_readv || nr == __NR_recvfrom || nr == __NR_recvmsg ||
	       nr == __NR_recvmmsg;
}

/* The fd whose file or pipe, socket or device @nr with @args writes to:
 * sc_written_fd()'s, and the sends', vmsplice's and tee's; -1 none. */
static int
written_fd(long nr, const uint64_t args[6])
{
	switch (nr) {
	case __NR_sendto: case __NR_sendmsg: case __NR_sendmmsg: case __NR_vmsplice:
		return (int)args[0];
	case __NR_tee:
		return (int)args[1];
	default:
		return sc_written_fd(nr, args);
	}
}

void
rec_rerun_tp_exit(struct recorder *rec, const struct rthread *t, int64_t result)
{
	long nr = (long)t->nr;
	bool rd = is_read(nr);
	int fd = rd ? (int)t->args[0] : written_fd(nr, t->args);
	struct stat st;
	bool ok;

	/* held writes were never made (output commit); once output was
	 * shown no re-run comes (tp_rerun_allowed()): nothing to look at */
	if (!rec->tp || !rec->rerun || rec->rerun->tp_effect[0] || rec->rerun->shown || result < 0 ||
	    (rd && !result) || t->held_id || fd < 0)
		return;
	ok = tracee_fd_stat(t->tid, fd, &st) == 0;
	/* /dev/null takes and gives nothing, a pipe of the program's own
	 * dies with it; a file read gives its bytes again (its offset is the
	 * process's own description's, unless inherited: the judge's), and
	 * /dev/zero its zeros (mem(4)) */
	if (ok && ((S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3)) ||
		   (S_ISFIFO(st.st_mode) && own_pipe(&st)) ||
		   (rd && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) ||
			   (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 5))))))
		return;
	snprintf(rec->rerun->tp_effect, sizeof(rec->rerun->tp_effect),
		 "thread %d's %s of fd %d (%s)%s", t->tid, sc_name(nr) ?: "?", fd,
		 !ok ? "gone" : S_ISREG(st.st_mode) ? "a file" : S_ISFIFO(st.st_mode) ? "a pipe or FIFO"
		 : S_ISSOCK(st.st_mode) ? "a socket" : "a device",
		 rd ? ": its bytes are not re-delivered yet" : ", not held: it is not undone yet");
}

/* Whether the log names thread or process @pid. */
static bool
of_the_run(const struct ep_log *log, int64_t pid)
{
	for (size_t i = 0; pid > 0 && i < ep_log_nthreads(log); i++)
		if (ep_log_thread(log, i) == (pid_t)pid)
			return true;
	return false;
}

/*
 * What the TP run's call @j of thread @tid changed outside its own
 * processes, into @buf (one phrase), or NULL: nothing a re-run would find
 * changed. A call that
 * failed changed nothing; one that did not return (killed in it) counts as
 * made. The output the TP run held (values[7], doc/trace-format.md) was
 * never written: it is dropped.
 */
static const char *
effect(struct recorder *rec, pid_t tid, size_t j, uint64_t inherited, char *buf, size_t len)
{
	const struct ep_call *c = ep_log_call(rec->ep->log, tid, j);
	const struct ep_log *log = rec->ep->log;
	uint64_t fd = c->args[0], flags;

	if (c->exited && c->result < 0)
		return NULL;
	/* writes: the TP run looked at their fds as it made them
	 * (rec_rerun_tp_exit(): a TP run's writes are all traced,
	 * UPRR_CTL_NO_WRITES; a held one, values[7], was never made) */
	switch (c->nr) {
	case __NR_read:
	case __NR_readv:
	case __NR_pread64:
	case __NR_preadv:
	case __NR_preadv2:
	case __NR_recvfrom:
	case __NR_recvmsg:
	case __NR_recvmmsg:
		if (is_inherited(inherited, fd)) {
			snprintf(buf, len, "input read from fd %" PRIu64 ", which it started with "
				 "(not re-delivered yet)", fd);
			return buf;
		}
		/* of another fd: the TP run looked at it (tp_effect) */
		return NULL;
	case __NR_lseek:
		if (!is_inherited(inherited, fd))
			return NULL;
		snprintf(buf, len, "an lseek of fd %" PRIu64 ", which it started with (the offset "
			 "is not put back yet)", fd);
		return buf;
	case __NR_open:
	case __NR_openat:
		/* opened for writing changes nothing yet: its writes do */
		flags = c->args[c->nr == __NR_open ? 1 : 2];
		if (!(flags & (O_CREAT | O_TRUNC)))
			return NULL;
		snprintf(buf, len, "an open that creates or truncates (flags %#" PRIx64 ")", flags);
		return buf;
	case __NR_mmap:
		if ((c->args[3] & MAP_TYPE) == MAP_PRIVATE || (c->args[3] & MAP_ANONYMOUS) ||
		    !(c->args[2] & PROT_WRITE) || rec_ep_sync_log_mapping(rec, c))
			return NULL;
		snprintf(buf, len, "%s", "a file mapped shared and writable");
		return buf;
	case __NR_kill:
	case __NR_tkill:
	case __NR_tgkill:
	case __NR_rt_sigqueueinfo:
	case __NR_rt_tgsigqueueinfo:
		if (of_the_run(log, (int64_t)c->args[0]))
			return NULL;
		snprintf(buf, len, "a signal to %" PRId64 ", not a process of the recording",
			 (int64_t)c->args[0]);
		return buf;
	/* what dies with the processes: descriptors, their own objects,
	 * the process tree (its children are the TP run's, killed too) */
	case __NR_close:
	case __NR_close_range:
	case __NR_dup:
	case __NR_dup2:
	case __NR_dup3:
	case __NR_fcntl:
	case __NR_pipe:
	case __NR_pipe2:
	case __NR_socketpair:
	case __NR_eventfd:
	case __NR_eventfd2:
	case __NR_memfd_create:
	case __NR_socket:
	case __NR_clone:
	case __NR_clone3:
	case __NR_fork:
	case __NR_vfork:
	case __NR_execve:
	case __NR_execveat:
		return NULL;
	/* names and metadata in the file system, the network, System V IPC,
	 * other processes' memory, the machine */
	case __NR_creat: case __NR_openat2: case __NR_ftruncate: case __NR_fallocate:
	case __NR_truncate: case __NR_rename: case __NR_renameat: case __NR_renameat2:
	case __NR_unlink: case __NR_unlinkat: case __NR_mkdir: case __NR_mkdirat:
	case __NR_rmdir: case __NR_link: case __NR_linkat: case __NR_symlink:
	case __NR_symlinkat: case __NR_mknod: case __NR_mknodat: case __NR_chmod:
	case __NR_fchmod: case __NR_fchmodat: case __NR_chown: case __NR_fchown:
	case __NR_lchown: case __NR_fchownat: case __NR_utime: case __NR_utimes:
	case __NR_utimensat: case __NR_futimesat: case __NR_setxattr: case __NR_lsetxattr:
	case __NR_fsetxattr: case __NR_removexattr: case __NR_lremovexattr:
	case __NR_fremovexattr: case __NR_bind: case __NR_listen: case __NR_connect:
	case __NR_accept: case __NR_accept4: case __NR_shutdown: case __NR_shmget:
	case __NR_shmat: case __NR_shmctl: case __NR_msgget: case __NR_msgsnd:
	case __NR_msgrcv: case __NR_msgctl: case __NR_semget: case __NR_semop:
	case __NR_semtimedop: case __NR_semctl: case __NR_ptrace:
	case __NR_process_vm_writev: case __NR_pidfd_send_signal: case __NR_mount:
	case __NR_umount2: case __NR_settimeofday: case __NR_clock_settime:
	case __NR_adjtimex: case __NR_sethostname: case __NR_setdomainname:
		snprintf(buf, len, "%s", "a change outside its processes");
		return buf;
	default:
		return NULL;
	}
}

/* UPRR_EP_RERUN=0 (a testing aid): no re-run, a divergence at a syscall
 * ends the recording as before. */
static bool
rerun_off(void)
{
	const char *s = getenv("UPRR_EP_RERUN");

	return s && strcmp(s, "0") == 0;
}

void
rec_rerun_judge(struct recorder *rec, struct rec_rerun *ret)
{
	struct rec_ep *ep = rec->ep;
	const struct rec_ep_verdicts *v = ep->verdicts;
	/* the epochs given a verdict come before it */
	uint64_t given = v->verified + v->diverged + v->unchecked, inherited;
	char err[256] = "", what[200];

	ret->verdict = 0;
	ret->epoch = given;
	ret->why[0] = 0;
	snprintf(ret->divergence, sizeof(ret->divergence), "%s", rec->error);
	if (rerun_off())
		return;
	ret->verdict = -1;
	if (ret->tp_effect[0]) {
		snprintf(ret->why, sizeof(ret->why), "the TP run made %s", ret->tp_effect);
		return;
	}
	/* the TP run's log as far as it was flushed: it stands at its next
	 * end (lock-step), or ended */
	if (!ep_log_whole(ep->log) && ep_log_more(ep->log, false, err, sizeof(err)) < 0) {
		snprintf(ret->why, sizeof(ret->why), "the TP log cannot be read on: %s", err);
		return;
	}
	inherited = inherited_fds();
	for (size_t i = 0; i < ep_log_nthreads(ep->log); i++) {
		pid_t tid = ep_log_thread(ep->log, i);
		const struct ep_call *c;

		for (size_t j = 0; (c = ep_log_call(ep->log, tid, j)); j++) {
			const char *e = effect(rec, tid, j, inherited, what, sizeof(what));

			if (!e)
				continue;
			snprintf(ret->why, sizeof(ret->why), "the TP run's thread %d made %s (%s), which "
				 "a re-run would find done", tid, sc_name(c->nr) ?: "?", e);
			return;
		}
	}
	ret->verdict = 1;
}
