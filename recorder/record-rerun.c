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
#include <linux/fs.h>
#include <linux/kcmp.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "ep/ep.h"
#include "tracee/tracee.h"
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

/* @set with fd @fd naming an inherited object or not (fds past 63 are not
 * followed: they count as inherited). */
static uint64_t
fd_becomes(uint64_t set, int64_t fd, bool inherited)
{
	if (fd < 0 || fd >= 64)
		return set;
	return inherited ? set | 1ull << fd : set & ~(1ull << fd);
}

/*
 * The inherited fds (inherited_fds()) as call @c of the log, made with
 * @set, leaves them: a dup onto an fd makes it name what the old one named,
 * a close frees it, and a call that returns new fds (open, pipe, socket,
 * accept...) makes them the program's own. A shell's child reads its pipe
 * as fd 0 (`sort | tail`): judged by the number alone, that read was input
 * uprr's own stdin gave, and the re-run refused.
 */
static uint64_t
fds_after(uint64_t set, const struct ep_call *c)
{
	int32_t two[2];

	if (c->exited && c->result < 0)
		return set;
	switch (c->nr) {
	case __NR_dup2:
	case __NR_dup3:
		if (c->args[0] == c->args[1])
			return set;
		return fd_becomes(set, (int64_t)c->args[1], is_inherited(set, c->args[0]));
	case __NR_fcntl:
		if (c->args[1] != F_DUPFD && c->args[1] != F_DUPFD_CLOEXEC)
			return set;
		_fallthrough_; /* a dup */
	case __NR_dup:
		return c->exited ? fd_becomes(set, c->result, is_inherited(set, c->args[0])) : set;
	case __NR_close:
		return fd_becomes(set, (int64_t)c->args[0], false);
	case __NR_pipe:
	case __NR_pipe2:
	case __NR_socketpair:
		if (!c->exited || !c->nout || c->out[0].len < sizeof(two))
			return set;
		memcpy(two, c->out[0].data, sizeof(two));
		return fd_becomes(fd_becomes(set, two[0], false), two[1], false);
	case __NR_open: case __NR_openat: case __NR_openat2: case __NR_creat: case __NR_socket:
	case __NR_accept: case __NR_accept4: case __NR_eventfd: case __NR_eventfd2:
	case __NR_epoll_create: case __NR_epoll_create1: case __NR_signalfd: case __NR_signalfd4:
	case __NR_timerfd_create: case __NR_memfd_create: case __NR_inotify_init1:
	case __NR_pidfd_open:
		return c->exited ? fd_becomes(set, c->result, false) : set;
	default:
		return set;
	}
}

/* The inherited fds as thread @tid of the log started with: uprr's
 * (@inherited) for the program's first, else its creator's at the call
 * that made it (a forked child's table is a copy of its parent's, a
 * thread's the same table: what other threads did meanwhile is not
 * followed, and an fd they made the program's own stays inherited, which
 * refuses more, never less). @depth bounds the walk up the tree. */
static uint64_t
fds_at_start(const struct ep_log *log, pid_t tid, uint64_t inherited, int depth)
{
	for (size_t i = 0; depth < 64 && i < ep_log_nthreads(log); i++) {
		pid_t u = ep_log_thread(log, i);
		const struct ep_call *c;

		for (size_t j = 0; (c = ep_log_call(log, u, j)); j++) {
			uint64_t set;

			if (c->child != tid)
				continue;
			set = fds_at_start(log, u, inherited, depth + 1);
			for (size_t k = 0; k < j; k++)
				set = fds_after(set, ep_log_call(log, u, k));
			return set;
		}
	}
	return inherited;
}

/* A pipe or anonymous inode (an eventfd...) uprr started with and gave
 * the program (uprr's stdin piped, an inherited fd). */
struct inherited_obj {
	int fd;		/* uprr's */
	dev_t dev;
	ino_t ino;
	mode_t mode;
};

/* uprr's inherited pipes and anonymous inodes (into *@ret_n), and
 * pipefs's st_dev (a pipe of uprr's own, fs/pipe.c) into *@ret_pipefs,
 * 0 if unknown. uprr's inherited fds are fixed from its start: looked at
 * once. */
static const struct inherited_obj *
inherited_objs(size_t *ret_n, dev_t *ret_pipefs)
{
	static struct inherited_obj objs[64];
	static int nobjs = -1;
	static dev_t pipefs;

	if (nobjs < 0) {
		uint64_t set = inherited_fds();
		struct stat in;
		int p[2];

		nobjs = 0;
		if (pipe2(p, O_CLOEXEC) == 0) {
			if (fstat(p[0], &in) == 0)
				pipefs = in.st_dev;
			close(p[0]);
			close(p[1]);
		}
		for (int fd = 0; fd < 64; fd++)
			if (is_inherited(set, (uint64_t)fd) && fstat(fd, &in) == 0 &&
			    (S_ISFIFO(in.st_mode) || !(in.st_mode & S_IFMT)))
				objs[nobjs++] = (struct inherited_obj){ fd, in.st_dev, in.st_ino, in.st_mode };
	}
	*ret_n = (size_t)nobjs;
	*ret_pipefs = pipefs;
	return objs;
}

/* Whether @st, a FIFO, is a pipe the program made (pipe(2): both ends in
 * its processes, which die with the TP run, and its bytes with them): on
 * pipefs, not one it started with. */
static bool
own_pipe(const struct stat *st)
{
	dev_t pipefs;
	size_t n;
	const struct inherited_obj *objs = inherited_objs(&n, &pipefs);

	if (!pipefs || st->st_dev != pipefs)
		return false;
	for (size_t i = 0; i < n; i++)
		if (S_ISFIFO(objs[i].mode) && objs[i].dev == st->st_dev && objs[i].ino == st->st_ino)
			return false;
	return true;
}

/* Note that the TP run read or wrote the pipe or socket @st of its own in
 * epoch @k (rec_rerun.objs). */
static void
note_object(struct rec_rerun *rr, const struct stat *st, uint64_t k)
{
	for (size_t i = 0; i < rr->nobjs; i++)
		if (rr->objs[i].dev == st->st_dev && rr->objs[i].ino == st->st_ino) {
			rr->objs[i].epoch = k;
			return;
		}
	if (UTIL_GROW(rr->objs, rr->objs_cap, rr->nobjs + 1) < 0) {
		/* not put back: no re-run from before it */
		snprintf(rr->last_effect, sizeof(rr->last_effect), "%s", "a pipe's use not noted (out of memory)");
		rr->effect_epoch = k + 1;
		return;
	}
	rr->objs[rr->nobjs++] = (struct rec_rerun_obj){ st->st_dev, st->st_ino, k };
}

/* Note the connection @t's accept(2) or accept4(2) gave it, fd @fd
 * (rec_rerun.accepts): a re-run from a checkpoint before it gives it to
 * the re-run's accept of that listening socket (record-ep-live.c). */
static void
note_accept(struct recorder *rec, struct rec_rerun *rr, const struct rthread *t, int fd)
{
	struct stat st, lst;

	if (tracee_fd_stat(t->tid, fd, &st) < 0 || tracee_fd_stat(t->tid, (int)t->args[0], &lst) < 0 ||
	    UTIL_GROW(rr->accepts, rr->accepts_cap, rr->naccepts + 1) < 0) {
		/* not found for the re-run: none from before it */
		snprintf(rr->last_effect, sizeof(rr->last_effect), "thread %d's accept of fd %d (the "
			 "connection not noted)", t->tid, (int)t->args[0]);
		rr->effect_epoch = rec->epochs.k + 1;
		return;
	}
	rr->accepts[rr->naccepts++] = (struct rec_rerun_accept){
		.pid = t->tgid, .dev = st.st_dev, .ino = st.st_ino, .ldev = lst.st_dev, .lino = lst.st_ino,
		.epoch = rec->epochs.k };
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

/* ---- files the run made and took every name of (sem_open(3)'s) ----
 *
 * glibc's sem_open(3) creates /dev/shm/sem.XXXXXX with O_CREAT | O_EXCL,
 * writes the semaphore into it, maps it shared, link(2)s it to its name and
 * unlinks the temporary one; python3's multiprocessing then sem_unlink(3)s
 * the name. Such a file is nothing a re-run would find: O_EXCL says no
 * name was there before, and the run took every name it gave. The TP run
 * notes, as it makes them, each such creation (the file's inode, held by an
 * O_PATH reference so its number cannot be reused), each name call
 * (its paths read from the thread's memory at its exit: the log holds no
 * path strings) and each call that changed a file through an fd; the judge
 * follows the name calls in the order of shared-state calls (their number,
 * the exit's values[6]) and lets the file's calls pass only if every file
 * so made has no name left, by those calls and by its link count. */

#define MADE_MAX 32	/* files made with O_CREAT | O_EXCL, followed */
#define NAMES_MAX 128	/* name calls followed */
#define KEYS_MAX 256	/* calls that changed a file through an fd, noted */
#define PATH_LEN 256	/* a followed path's bytes, its NUL included */
/* the syscall exit event's value that numbers a shared-state call
 * (record-order.c, trace-format.md) */
#define ORDER_VALUE 6

enum name_op { OP_CREATE, OP_LINK, OP_RENAME, OP_UNLINK };

/* A regular file the run made with O_CREAT | O_EXCL. */
struct made_file {
	int ref;		/* O_PATH reference to it (its inode stays, and
				 * its number with it), -1 none */
	dev_t dev;
	ino_t ino;
	char touched[128];	/* its first change through an fd, "" none */
	uint32_t names;		/* the judge's: names it has after the calls */
};

/* A call that gave or took a name, as it returned. */
struct name_call {
	uint64_t seq;		/* its number in the order of shared-state calls */
	pid_t tid;
	long nr;
	enum name_op op;
	bool noreplace;		/* a rename that fails if @to exists */
	int file;		/* OP_CREATE: its made file, -1: none */
	const char *bad;	/* why it cannot be followed, NULL */
	char from[PATH_LEN], to[PATH_LEN]; /* absolute; OP_CREATE, OP_UNLINK: @from */
};

/* A call that changed a file through an fd (a write's kin, a mapping). */
struct fd_call {
	pid_t tid;
	long nr;
	uint64_t args[6];
	int64_t result;
	int file;		/* the made file it changed, -1: another one */
};

struct rec_rerun_files {
	struct made_file made[MADE_MAX];
	size_t nmade;
	struct name_call calls[NAMES_MAX];
	size_t ncalls;
	bool calls_full;	/* a name call was not noted */
	struct fd_call keys[KEYS_MAX];
	size_t nkeys;
	bool keys_full;		/* an fd call was not noted: none passes */
	bool clean;		/* the judge's: every made file lost its names */
};

void
rec_rerun_release(struct rec_rerun *rr)
{
	if (!rr)
		return;
	free(rr->objs);
	rr->objs = NULL;
	rr->nobjs = rr->objs_cap = 0;
	free(rr->pending);
	rr->pending = NULL;
	rr->npending = rr->pending_cap = 0;
	free(rr->accepts);
	rr->accepts = NULL;
	rr->naccepts = rr->accepts_cap = 0;
	if (!rr->files)
		return;
	for (size_t i = 0; i < rr->files->nmade; i++)
		if (rr->files->made[i].ref >= 0)
			close(rr->files->made[i].ref);
	free(rr->files);
	rr->files = NULL;
}

void
rec_rerun_releasep(struct rec_rerun **rr)
{
	rec_rerun_release(*rr);
}

/* The made file @st is, or -1. */
static int
made_index(const struct rec_rerun_files *f, const struct stat *st)
{
	for (size_t i = 0; f && S_ISREG(st->st_mode) && i < f->nmade; i++)
		if (f->made[i].dev == st->st_dev && f->made[i].ino == st->st_ino)
			return (int)i;
	return -1;
}

/* rr->files, allocated on first use; NULL (and the re-run refused): no memory. */
static struct rec_rerun_files *
files_of(struct rec_rerun *rr)
{
	if (!rr->files)
		rr->files = calloc(1, sizeof(*rr->files));
	if (!rr->files)
		snprintf(rr->tp_effect, sizeof(rr->tp_effect), "%s",
			 "a call uprr had no memory left to follow");
	return rr->files;
}

/* Read the absolute path at @addr of thread @tid into @buf (PATH_LEN):
 * NULL, or why it cannot be followed. */
static const char *
read_path(pid_t tid, uint64_t addr, char *buf)
{
	/* tracee_read_string() cuts a longer one short: 255 bytes count as
	 * too long */
	if (tracee_read_string(tid, addr, buf, PATH_LEN) < 0 || strlen(buf) >= PATH_LEN - 1)
		return "its path cannot be read or is 255 bytes or longer";
	/* relative to a directory the judge does not follow (chdir,
	 * a dirfd): not followed, the call refused as before */
	if (buf[0] != '/')
		return "a relative path, not followed";
	return NULL;
}

/* TP run: note @t's call that made a file with O_CREAT | O_EXCL, or gave
 * or took a name, which returned @result (its order number in @ev).
 * Returns whether it was such a call. */
static bool
note_name(struct rec_rerun *rr, const struct rthread *t, int64_t result,
	  const struct trace_event *ev)
{
	const uint64_t *a = t->args;
	long nr = (long)t->nr;
	uint64_t from, to = 0, flags = 0;
	struct rec_rerun_files *f;
	struct name_call *n;
	enum name_op op;
	struct stat st;
	char proc[64];

	switch (nr) {
	case __NR_open:
	case __NR_openat:
		flags = a[nr == __NR_open ? 1 : 2];
		if ((flags & (O_CREAT | O_EXCL)) != (O_CREAT | O_EXCL))
			return false;
		op = OP_CREATE;
		from = a[nr == __NR_open ? 0 : 1];
		flags = 0;
		break;
	case __NR_link: op = OP_LINK; from = a[0]; to = a[1]; break;
	case __NR_linkat:
		op = OP_LINK;
		from = a[1];
		to = a[3];
		flags = a[4] & ~(uint64_t)AT_SYMLINK_FOLLOW;
		break;
	case __NR_rename: op = OP_RENAME; from = a[0]; to = a[1]; break;
	case __NR_renameat: op = OP_RENAME; from = a[1]; to = a[3]; break;
	case __NR_renameat2: op = OP_RENAME; from = a[1]; to = a[3]; flags = a[4]; break;
	case __NR_unlink: op = OP_UNLINK; from = a[0]; break;
	case __NR_unlinkat: op = OP_UNLINK; from = a[1]; flags = a[2]; break;
	default:
		return false;
	}
	f = files_of(rr);
	if (!f)
		return true;
	if (f->ncalls == NAMES_MAX) {
		f->calls_full = true;
		return true;
	}
	n = &f->calls[f->ncalls++];
	n->seq = ev && ev->nvalues > ORDER_VALUE ? ev->values[ORDER_VALUE] : 0;
	n->tid = t->tid;
	n->nr = nr;
	n->op = op;
	n->file = -1;
	n->noreplace = op == OP_RENAME && (flags & RENAME_NOREPLACE);
	if (op == OP_RENAME)
		flags &= ~(uint64_t)RENAME_NOREPLACE;
	if (!n->seq)
		n->bad = "it has no number in the order of shared-state calls";
	else if (flags)
		n->bad = op == OP_LINK ? "a link of an fd (AT_EMPTY_PATH), not followed"
			 : op == OP_RENAME ? "a rename that exchanges or whites out, not followed"
					   : "a directory removed, not followed";
	else if (!(n->bad = read_path(t->tid, from, n->from)) && to)
		n->bad = read_path(t->tid, to, n->to);
	if (n->bad || op != OP_CREATE)
		return true;
	/* the file it made: its inode, held (proc(5): /proc/TID/fd/N opens
	 * what the fd leads to, an unlinked file too) */
	snprintf(proc, sizeof(proc), "/proc/%d/fd/%d", t->tid, (int)result);
	if (f->nmade == MADE_MAX)
		n->bad = "more files made with O_EXCL than uprr follows (32)";
	else if (tracee_fd_stat(t->tid, (int)result, &st) < 0 || !S_ISREG(st.st_mode))
		n->bad = "not a regular file";
	else if ((f->made[f->nmade].ref = open(proc, O_PATH | O_CLOEXEC)) < 0)
		n->bad = "the file could not be held";
	if (n->bad)
		return true;
	f->made[f->nmade].dev = st.st_dev;
	f->made[f->nmade].ino = st.st_ino;
	n->file = (int)f->nmade++;
	return true;
}

/* TP run: note @t's call that changed a file through an fd, which returned
 * @result: a made file's change passes if the file loses its names, any
 * other (noted too: the same call to another file) is the judge's, as before. */
static void
note_fd_call(struct rec_rerun *rr, const struct rthread *t, int64_t result)
{
	const uint64_t *a = t->args;
	struct rec_rerun_files *f = rr->files;
	struct fd_call *k;
	struct stat st;
	int fd, i;

	switch ((long)t->nr) {
	case __NR_ftruncate: case __NR_fallocate: case __NR_fchmod: case __NR_fchown:
	case __NR_fsetxattr: case __NR_fremovexattr:
		fd = (int)a[0];
		break;
	case __NR_mmap:
		if ((a[3] & MAP_TYPE) == MAP_PRIVATE || (a[3] & MAP_ANONYMOUS) || !(a[2] & PROT_WRITE))
			return;
		fd = (int)a[4];
		break;
	default:
		return;
	}
	/* noted before any file is made too: the same call (thread,
	 * arguments, result) to a made file later must not pass it */
	if (!f && !(f = files_of(rr)))
		return;
	if (f->nkeys == KEYS_MAX) {
		f->keys_full = true;
		return;
	}
	i = tracee_fd_stat(t->tid, fd, &st) == 0 ? made_index(f, &st) : -1;
	k = &f->keys[f->nkeys++];
	k->tid = t->tid;
	k->nr = (long)t->nr;
	memcpy(k->args, a, sizeof(k->args));
	k->result = result;
	k->file = i;
	if (i >= 0 && !f->made[i].touched[0])
		snprintf(f->made[i].touched, sizeof(f->made[i].touched), "thread %d's %s of fd %d",
			 t->tid, sc_name((long)t->nr) ?: "?", fd);
}

/* Whether @t's fd @fd (@st) is the comm file (proc(5)) of its own process
 * or of one of its threads: /proc/PID/comm or /proc/PID/task/TID/comm. */
static bool
own_comm(const struct rthread *t, int fd, const struct stat *st)
{
	char name[16], task[64];
	pid_t id;

	if (!S_ISREG(st->st_mode) || tracee_fd_proc_file(t->tid, fd, &id, name) != 1 ||
	    strcmp(name, "comm") != 0)
		return false;
	snprintf(task, sizeof(task), "/proc/%d/task/%d", t->tgid, id);
	return id == t->tgid || access(task, F_OK) == 0;
}

/* Whether @t's fd @fd (@st) is an eventfd(2) or a timerfd(2) the program
 * made: its counter or its expirations are its processes' alone (a
 * re-run from a checkpoint gets one made anew with the counter or setting
 * it had there, tp/rerun.c), not one uprr started it with. */
static bool
own_counter(const struct rthread *t, int fd, const struct stat *st)
{
	pid_t self = getpid();
	char link[64];
	dev_t pipefs;
	size_t n;
	const struct inherited_obj *objs;

	if (st->st_mode & S_IFMT)
		return false;
	if (tracee_fd_path(t->tid, fd, link, sizeof(link)) <= 0 ||
	    (strcmp(link, "anon_inode:[eventfd]") != 0 && strcmp(link, "anon_inode:[timerfd]") != 0))
		return false;
	/* every anonymous inode is the one inode: the description tells
	 * (kcmp(2) KCMP_FILE, Linux 3.5) */
	objs = inherited_objs(&n, &pipefs);
	for (size_t i = 0; i < n; i++)
		if (!(objs[i].mode & S_IFMT) &&
		    syscall(SYS_kcmp, self, t->tid, KCMP_FILE, objs[i].fd, fd) == 0)
			return false;
	return true;
}

void
rec_rerun_tp_exit(struct recorder *rec, const struct rthread *t, int64_t result,
		  const struct trace_event *ev)
{
	struct rec_rerun *rr = rec->rerun;
	long nr = (long)t->nr;
	bool rd = is_read(nr);
	int fd = rd ? (int)t->args[0] : written_fd(nr, t->args), i;
	char what[sizeof(rr->last_effect)];
	struct stat st;
	bool ok;

	/* a failed call changed nothing */
	if (!rec->tp || !rr || result < 0 || note_name(rr, t, result, ev))
		return;
	note_fd_call(rr, t, result);
	if (nr == __NR_accept || nr == __NR_accept4) {
		note_accept(rec, rr, t, (int)result);
		return;
	}
	/* held writes were never made (output commit) */
	if ((rd && !result) || t->held_id || fd < 0)
		return;
	ok = tracee_fd_stat(t->tid, fd, &st) == 0;
	/* a change of a file the run made with O_EXCL passes if the run
	 * takes all of its names (the judge's, rec_rerun_files) */
	if (ok && !rd && (i = made_index(rr->files, &st)) >= 0) {
		if (!rr->files->made[i].touched[0])
			snprintf(rr->files->made[i].touched, sizeof(rr->files->made[i].touched),
				 "thread %d's %s of fd %d", t->tid, sc_name(nr) ?: "?", fd);
		/* not put back for a re-run from a later checkpoint */
		snprintf(rr->last_effect, sizeof(rr->last_effect), "thread %d's %s of fd %d (a file it "
			 "made with O_EXCL)", t->tid, sc_name(nr) ?: "?", fd);
		rr->effect_epoch = rec->epochs.k + 1;
		return;
	}
	/* /dev/null takes and gives nothing, a pipe of the program's own
	 * dies with it; a file read gives its bytes again (its offset is the
	 * process's own description's, unless inherited: the judge's), and
	 * /dev/zero its zeros (mem(4)); a thread's name, written in /proc,
	 * dies with its process (pthread_setname_np(3): memcached's threads
	 * name themselves) */
	if (ok && ((S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3)) || own_comm(t, fd, &st) ||
		   own_counter(t, fd, &st) ||
		   (rd && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) ||
			   (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 5))))))
		return;
	/* a pipe or socket pair of its own dies with its processes (a re-run
	 * from the start); a re-run from a later checkpoint puts back the
	 * bytes it held there (tp/rerun.c) */
	if (ok && ((S_ISFIFO(st.st_mode) && own_pipe(&st)) ||
		   ((S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) && rec_hold_made_inside(rec, st.st_dev, st.st_ino)))) {
		note_object(rr, &st, rec->epochs.k);
		return;
	}
	/* a file's bytes written are put back from their pre-images
	 * (kmerge_epoch_on_entry(), rec_rerun_tp_entry()): no re-run from the
	 * start, one from a checkpoint kept */
	if (ok && S_ISREG(st.st_mode) && !rd) {
		if (!rr->tp_effect[0])
			snprintf(rr->tp_effect, sizeof(rr->tp_effect), "thread %d's %s of fd %d (a file), not "
				 "held: it is not undone yet", t->tid, sc_name(nr) ?: "?", fd);
		return;
	}
	snprintf(what, sizeof(what),
		 "thread %d's %s of fd %d (%s)%s", t->tid, sc_name(nr) ?: "?", fd,
		 !ok ? "gone" : S_ISREG(st.st_mode) ? "a file" : S_ISFIFO(st.st_mode) ? "a pipe or FIFO"
		 : S_ISSOCK(st.st_mode) ? "a socket" : "a device",
		 rd ? ": its bytes are not re-delivered yet" : ", not held: it is not undone yet");
	/* the bytes read from a pipe or socket from outside are kept, for a
	 * re-run from a kept checkpoint to be given them again (tp/epoch.c,
	 * kmerge_epoch_on_exit()): it refuses the re-run from the start alone */
	if (ok && rd && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) && rec->epochs.keeper &&
	    rec->epochs.keeper->on_read) {
		rec->epochs.keeper->on_read(rec->epochs.keeper->arg, t->tid, t->tgid, t->space->mem.memfd, nr,
					    t->args, result);
		if (!rr->tp_effect[0])
			snprintf(rr->tp_effect, sizeof(rr->tp_effect), "%s", what);
		return;
	}
	/* (the call that makes a re-run from before it impossible names it) */
	snprintf(rr->last_effect, sizeof(rr->last_effect), "%s", what);
	rr->effect_epoch = rec->epochs.k + 1;
	if (!rr->tp_effect[0])
		snprintf(rr->tp_effect, sizeof(rr->tp_effect), "%s", what);
}

void
rec_rerun_tp_entry(struct recorder *rec, const struct rthread *t)
{
	const struct rec_epoch_keeper *k = rec->epochs.keeper;

	if (rec->tp && k && k->on_call)
		k->on_call(k->arg, t->tid, t->tgid, (long)t->nr, t->args);
}

/* ---- the judge's side of the files the run made ---- */

/* A name the judge follows: the made file it leads to, -1: none (the run
 * took it, or never gave it). */
struct name_state {
	const char *path;
	int file;
};

static int
by_seq(const void *x, const void *y)
{
	const struct name_call *a = *(const struct name_call *const *)x;
	const struct name_call *b = *(const struct name_call *const *)y;

	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* The name @path among @names (@n of them), or NULL; with @add, a new one
 * leading nowhere. */
static struct name_state *
name_of(struct name_state *names, size_t *n, const char *path, bool add)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(names[i].path, path) == 0)
			return &names[i];
	if (!add)
		return NULL;
	names[*n].path = path;
	names[*n].file = -1;
	return &names[(*n)++];
}

/* Give made file @file name @s. */
static void
give(struct rec_rerun_files *f, struct name_state *s, int file)
{
	s->file = file;
	f->made[file].names++;
}

/* Take name @s of its made file. */
static void
take(struct rec_rerun_files *f, struct name_state *s)
{
	f->made[s->file].names--;
	s->file = -1;
}

/* Refusal of name call @n: @what, into @ret->why. */
static void
refuse_call(struct rec_rerun *ret, const struct name_call *n, const char *path, const char *what)
{
	snprintf(ret->why, sizeof(ret->why), "the TP run's thread %d made %s of %.200s (%.100s), which "
		 "a re-run would find done", n->tid, sc_name(n->nr) ?: "?", path, what);
}

/*
 * Follow the name calls the TP run noted (@f), in the order of shared-state
 * calls: which name leads to which file it made with O_CREAT | O_EXCL. A
 * name it had not given when it takes one (or renames onto one without
 * RENAME_NOREPLACE) may have been there before the run: refused. O_EXCL,
 * link(2) and RENAME_NOREPLACE fail where a name exists, so a name the run
 * gave first was not there before. Every made file must end with no name
 * (by the calls and by its link count, fstat(2) of the reference held):
 * then f->clean, and its calls pass. Returns 0, or -1 with @ret->why.
 */
static int
follow_names(struct rec_rerun_files *f, struct rec_rerun *ret)
{
	struct name_call **order = calloc(f->ncalls + 1, sizeof(*order));
	struct name_state *names = calloc(2 * f->ncalls + 1, sizeof(*names));
	size_t nnames = 0;
	int r = -1;

	if (!order || !names) {
		snprintf(ret->why, sizeof(ret->why), "%s", "out of memory judging the TP run's files");
		goto out;
	}
	if (f->calls_full) {
		snprintf(ret->why, sizeof(ret->why), "the TP run made more than %d calls that give or "
			 "take names (uprr follows no more)", NAMES_MAX);
		goto out;
	}
	for (size_t i = 0; i < f->nmade; i++)
		f->made[i].names = 0;
	for (size_t i = 0; i < f->ncalls; i++)
		order[i] = &f->calls[i];
	qsort(order, f->ncalls, sizeof(*order), by_seq);
	for (size_t i = 0; i < f->ncalls; i++) {
		struct name_call *n = order[i];
		struct name_state *src, *dst;

		if (n->bad) {
			refuse_call(ret, n, n->from[0] ? n->from : "a path", n->bad);
			goto out;
		}
		src = name_of(names, &nnames, n->from, n->op == OP_CREATE);
		if (n->op == OP_CREATE) {
			give(f, src, n->file);
			continue;
		}
		if (!src || src->file < 0) {
			refuse_call(ret, n, n->from, "a name the run gave no file it made with O_EXCL");
			goto out;
		}
		if (n->op == OP_UNLINK) {
			take(f, src);
			continue;
		}
		dst = name_of(names, &nnames, n->to, false);
		if (n->op == OP_RENAME && !n->noreplace && !dst) {
			refuse_call(ret, n, n->to, "a rename onto a name the run had not given: it may "
				    "have replaced a file");
			goto out;
		}
		dst = name_of(names, &nnames, n->to, true);
		if (dst->file == src->file)
			continue; /* rename(2): two names of one file: nothing done */
		if (dst->file >= 0)
			take(f, dst); /* link's EEXIST: it failed (not noted); a rename replaces */
		give(f, dst, src->file);
		if (n->op == OP_RENAME)
			take(f, src);
	}
	for (size_t i = 0; i < f->nmade; i++) {
		struct made_file *m = &f->made[i];
		const struct name_call *n = NULL;
		struct stat st;

		for (size_t j = 0; j < f->ncalls && !n; j++)
			if (f->calls[j].op == OP_CREATE && f->calls[j].file == (int)i)
				n = &f->calls[j];
		if (n && (m->names || fstat(m->ref, &st) < 0 || st.st_nlink)) {
			const char *still = n->from;

			for (size_t j = 0; j < nnames; j++)
				if (names[j].file == (int)i)
					still = names[j].path;
			snprintf(ret->why, sizeof(ret->why), "the TP run's thread %d made %s of %.200s (a "
				 "file created with O_EXCL that keeps the name %.200s%s%.60s), which a "
				 "re-run would find done", n->tid, sc_name(n->nr) ?: "?", n->from, still,
				 m->touched[0] ? "; it made " : "", m->touched);
			goto out;
		}
	}
	f->clean = true;
	r = 0;
out:
	free(order);
	free(names);
	return r;
}

/* Whether log call @c (thread @tid) is one the TP run noted that passes:
 * a name call of the made files (by its number), or a change of one through
 * an fd (by its thread, arguments and result; another call alike that
 * changed another file keeps it from passing). */
static bool
passes(const struct rec_rerun_files *f, pid_t tid, const struct ep_call *c)
{
	bool found = false;

	if (!f || !f->clean || !c->exited)
		return false;
	switch (c->nr) {
	case __NR_open: case __NR_openat: case __NR_link: case __NR_linkat: case __NR_rename:
	case __NR_renameat: case __NR_renameat2: case __NR_unlink: case __NR_unlinkat:
		for (size_t i = 0; c->nvalues > ORDER_VALUE && i < f->ncalls; i++)
			if (f->calls[i].seq == c->values[ORDER_VALUE] && f->calls[i].tid == tid &&
			    f->calls[i].nr == c->nr)
				return true;
		return false;
	case __NR_ftruncate: case __NR_fallocate: case __NR_fchmod: case __NR_fchown:
	case __NR_fsetxattr: case __NR_fremovexattr: case __NR_mmap:
		if (c->buffered || f->keys_full)
			return false;
		for (size_t i = 0; i < f->nkeys; i++) {
			const struct fd_call *k = &f->keys[i];

			if (k->tid != tid || k->nr != c->nr || k->result != c->result ||
			    memcmp(k->args, c->args, sizeof(k->args)) != 0)
				continue;
			if (k->file < 0)
				return false;
			found = true;
		}
		return found;
	default:
		return false;
	}
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
effect(struct recorder *rec, const struct rec_rerun_files *files, pid_t tid, size_t j,
       uint64_t inherited, bool from_k, char *buf, size_t len)
{
	const struct ep_call *c = ep_log_call(rec->ep->log, tid, j);
	const struct ep_log *log = rec->ep->log;
	uint64_t fd = c->args[0], flags;

	if (c->exited && c->result < 0)
		return NULL;
	/* a file the run made with O_EXCL and took every name of, its names
	 * and its changes (follow_names()) */
	if (passes(files, tid, c))
		return NULL;
	/* writes: the TP run looked at their fds as it made them
	 * (rec_rerun_tp_exit(): a TP run's writes are all traced but /dev/null's,
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
		/* from a checkpoint, a file's offset is put back and a pipe's
		 * or socket's bytes given again (tp/rerun.c; the TP run's
		 * look at each read, rec_rerun_tp_exit(), refuses the others) */
		if (is_inherited(inherited, fd) && !from_k) {
			snprintf(buf, len, "input read from fd %" PRIu64 ", which it started with "
				 "(not re-delivered yet)", fd);
			return buf;
		}
		/* of another fd: the TP run looked at it (tp_effect) */
		return NULL;
	case __NR_lseek:
		/* SEEK_CUR by 0 asks where it stands (python3's io asks fd
		 * 0-2's): nothing moved */
		if (!is_inherited(inherited, fd) || (c->args[1] == 0 && c->args[2] == SEEK_CUR) || from_k)
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
	case __NR_accept:
	case __NR_accept4:
		/* from a checkpoint, the connection is given to the re-run's
		 * accept (rec_rerun.accepts, tp/rerun.c) */
		if (from_k)
			return NULL;
		snprintf(buf, len, "%s", "a connection accepted (not given again to a re-run from the start)");
		return buf;
	case __NR_fremovexattr: case __NR_bind: case __NR_listen: case __NR_connect:
	case __NR_shutdown: case __NR_shmget:
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
bool
rec_rerun_off(void)
{
	const char *s = getenv("UPRR_EP_RERUN");

	return s && strcmp(s, "0") == 0;
}

/* Where thread @log_tid's calls of epoch @k and later begin in the log:
 * after its end at checkpoint @k; 0 for a thread with no end there and none
 * before (made in a later epoch, or in one epoch before it: looked at all
 * the same); SIZE_MAX for one whose ends stop before @k (gone). */
static size_t
first_call_from(const struct ep_log *log, pid_t log_tid, uint64_t k)
{
	size_t n;
	const struct ep_end *e = ep_log_ends(log, log_tid, &n);

	for (size_t i = 0; i < n; i++)
		if (e[i].k == k)
			return e[i].at == EP_END_EXIT ? e[i].idx + 1 : e[i].idx;
	return n && e[n - 1].k < k ? SIZE_MAX : 0;
}

/*
 * The re-run from checkpoint @ret->from, the last the EP run stood at for
 * a check (the diverged epoch's start, or one before it: the epochs
 * between were not checked), record-ep-live.c: the TP run's calls from
 * there on may have changed
 * nothing outside its processes that a re-run would find changed, as
 * effect() judges them (names, the network, input it started with); and
 * none since that checkpoint that the TP run saw reach outside as it made
 * it (rec_rerun.effect_epoch: a write not held, a read of a socket or of
 * a pipe not its own, and here also its own pipes' bytes: not put back
 * yet). The re-run's EP run stands there as this one did. Into
 * ret->from, ret->verdict_k and ret->why_k; whether the output shown came
 * from the epochs before it is lock-step's (tp_rerun_allowed()).
 */
static void
judge_from_k(struct recorder *rec, struct rec_rerun *ret, uint64_t inherited)
{
	struct rec_ep *ep = rec->ep;
	uint64_t k = ep->last_k;
	char what[200];

	ret->verdict_k = -1;
	ret->from = k;
	if (!ret->epoch) {
		ret->verdict_k = 0;
		return;
	}
	if (!k || k > ret->epoch + ret->at_end) {
		snprintf(ret->why_k, sizeof(ret->why_k), "the EP run stood at no checkpoint before epoch %"
			 PRIu64 " (no epoch before it was checked%s)", ret->epoch,
			 k ? ", the last it stood at came after" : "");
		return;
	}
	if (ret->effect_epoch > k) {
		snprintf(ret->why_k, sizeof(ret->why_k), "the TP run made %s in epoch %" PRIu64,
			 ret->last_effect, ret->effect_epoch - 1);
		return;
	}
	for (size_t i = 0; i < ep_log_nthreads(ep->log); i++) {
		pid_t tid = ep_log_thread(ep->log, i);
		size_t from = first_call_from(ep->log, tid, k);
		const struct ep_call *c;

		for (size_t j = from; from != SIZE_MAX && (c = ep_log_call(ep->log, tid, j)); j++) {
			const char *e = effect(rec, NULL, tid, j, inherited, true, what, sizeof(what));

			if (!e)
				continue;
			snprintf(ret->why_k, sizeof(ret->why_k), "the TP run's thread %d made %s (%s) in "
				 "epoch %" PRIu64 " or later", tid, sc_name(c->nr) ?: "?", e, k);
			return;
		}
	}
	ret->verdict_k = 1;
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
	/* an end's divergence: the epoch that checkpoint ends */
	ret->at_end = ep->end_rerun;
	if (ret->at_end && ep->k)
		ret->epoch = ep->k - 1;
	ret->why[0] = 0;
	snprintf(ret->divergence, sizeof(ret->divergence), "%s", rec->error);
	if (rec_rerun_off())
		return;
	ret->verdict = -1;
	ret->verdict_k = 0;
	ret->root = ep_log_root(ep->log);
	/* the TP run's log as far as it was flushed: it stands at its next
	 * end (lock-step), or ended */
	if (!ep_log_whole(ep->log) && ep_log_more(ep->log, false, err, sizeof(err)) < 0) {
		snprintf(ret->why, sizeof(ret->why), "the TP log cannot be read on: %s", err);
		return;
	}
	inherited = inherited_fds();
	judge_from_k(rec, ret, inherited);
	if (ret->tp_effect[0]) {
		snprintf(ret->why, sizeof(ret->why), "the TP run made %s", ret->tp_effect);
		return;
	}
	if (ret->files && follow_names(ret->files, ret) < 0)
		return;
	for (size_t i = 0; i < ep_log_nthreads(ep->log); i++) {
		pid_t tid = ep_log_thread(ep->log, i);
		uint64_t fds = fds_at_start(ep->log, tid, inherited, 0);
		const struct ep_call *c;

		for (size_t j = 0; (c = ep_log_call(ep->log, tid, j)); fds = fds_after(fds, c), j++) {
			const char *e = effect(rec, ret->files, tid, j, fds, false, what, sizeof(what));

			if (!e)
				continue;
			snprintf(ret->why, sizeof(ret->why), "the TP run's thread %d made %s (%s), which "
				 "a re-run would find done", tid, sc_name(c->nr) ?: "?", e);
			return;
		}
	}
	if (ret->files && ret->files->nmade)
		log_info("re-run: %zu files the TP run made with O_EXCL and took every name of pass "
			 "(%zu name calls, %zu changes through an fd noted)", ret->files->nmade,
			 ret->files->ncalls, ret->files->nkeys);
	ret->verdict = 1;
}

/* How many pending signals of one queue rec_rerun_take_pending() reads
 * (a standard signal pends once; real-time ones queue) */
#define PENDING_PEEK 64

/* Append @info (for thread @t) to rr->pending. */
static void
add_pending(struct rec_rerun *rr, const struct rthread *t, const siginfo_t *info)
{
	if (UTIL_GROW(rr->pending, rr->pending_cap, rr->npending + 1) < 0)
		return;
	rr->pending[rr->npending++] = (struct rec_live_signal){ .tgid = t->tgid, .tid = t->tid,
								 .info = *info };
}

void
rec_rerun_take_pending(struct recorder *rec)
{
	siginfo_t buf[PENDING_PEEK];

	if (!rec->rerun)
		return;
	for (size_t i = 0; i < rec->nthreads; i++) {
		const struct rthread *t = &rec->threads[i];
		bool first = true;
		siginfo_t si;
		int sig;

		if (t->state == RT_ZOMBIE)
			continue;
		/* dequeued already: one whose delivery stop the loop has not
		 * taken yet (stopped there as the end held it), and those kept
		 * for its next event, in order */
		if (t->tp_status_due && tracee_classify(t->tp_status, &sig) == TRACEE_STOP_SIGNAL &&
		    ptrace(PTRACE_GETSIGINFO, t->tid, 0, &si) == 0)
			add_pending(rec->rerun, t, &si);
		if (t->deferred_sig)
			add_pending(rec->rerun, t, &t->deferred_info);
		for (size_t j = 0; j < t->nlater; j++)
			add_pending(rec->rerun, t, &t->later[j]);
		/* its queue, then its process's through its first thread */
		for (size_t j = 0; j < i && first; j++)
			first = rec->threads[j].tgid != t->tgid || rec->threads[j].state == RT_ZOMBIE;
		for (int shared = 0; shared <= first; shared++) {
			int got = tracee_peek_pending(t->tid, shared, buf, PENDING_PEEK);

			if (got < 0)
				log_debug("thread %d: its pending signals not read: %s", t->tid, strerror(-got));
			for (int k = 0; k < got; k++)
				add_pending(rec->rerun, t, &buf[k]);
		}
	}
}
