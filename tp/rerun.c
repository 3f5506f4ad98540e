/* SPDX-License-Identifier: MIT */
/*
 * The TP run's side of a re-run from checkpoint k (tp/rerun.h;
 * doc/uniparallel.md, "Divergence and rollback"): what the re-run's EP run
 * needs of the TP run, taken while the TP run stands held before it is
 * killed: each process's descriptors at checkpoint k as open file
 * descriptions of uprr's own (rec_live_proc, given to the re-run's
 * processes where they go live, recorder/record-ep-live.c), and the
 * synchronization order cut where checkpoint k stood
 * (UPRR_SYNC_HEAD_OPEN_END).
 */
#define LOG_PREFIX "tp"
#include "tp/rerun.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kcmp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "kernel-merge/kernel-merge.h"
#include "preload/uprr-sync.h"
#include "tp/epoch.h"

/* Where each slot's thread stood in the order at one checkpoint. */
struct order_at {
	uint64_t k;
	uint64_t done[UPRR_SYNC_NSLOTS]; /* records complete */
	bool marked[UPRR_SYNC_NSLOTS];	 /* the record after them is marked
					  * UPRR_SYNC_F_END: its thread waits
					  * in glibc for it at this end */
	int midway;			 /* a slot whose thread stood in an
					  * operation (reserved, not complete),
					  * or whose slot was full; -1 none */
};

struct tp_rerun {
	const char *sync_log;	/* the TP run's order, or NULL: none */
	struct rec_ep_order order; /* tp_rerun_order() */
	int fd;			/* it, read-only, -1 until first read */
	struct order_at *at;	/* the last few checkpoints' */
	size_t nat, at_cap;
	uint64_t done[UPRR_SYNC_NSLOTS]; /* the last scan's */
	struct rec_live_proc *procs;
	size_t nprocs;
	struct rec_ep_live live;
	/* what is put back once the TP run is gone (tp_rerun_restore()):
	 * each process's record at the checkpoint (the keeper's), the pipes
	 * and sockets of the program's own used since */
	struct kmerge_epoch **recs;
	size_t nrecs;
	/* what the TP run did in each epoch from k on (the keeper's
	 * on_call, on_read: files written, input read from outside) */
	struct kmerge_epoch *chain[TP_EPOCHS_CAP];
	size_t nchain;
	struct kmerge_used *used;
	size_t nused;
	bool restored;
	/* objects made anew for the re-run: uprr's ends of a pipe of the
	 * program's own that the TP run closed since k (both ends of the new
	 * one), a new epoll instance, eventfd, timerfd and signalfd for each the
	 * checkpoint saw */
	struct remade *remade;
	size_t nremade, remade_cap;
	/* the connections the TP run accepted since k (take_accepted()) */
	struct rec_live_accept *accepts;
	size_t naccepts;
};

/* An object made anew for the one (dev, ino) the checkpoint saw. */
struct remade {
	dev_t dev;
	ino_t ino;
	int ends[2];		/* a pipe's read and write ends; an epoll
				 * instance's or an eventfd's in ends[0],
				 * ends[1] -1 */
	int key;		/* an anonymous inode's (epoll, eventfd): the
				 * record's descriptor of the old description
				 * (kmerge_fd_saved.dup), -1: none (a pipe's:
				 * dev and ino say which) */
	bool *placed;		/* an epoll instance's: which of its items
				 * a process was given to add (malloc'd) */
};

/* How many checkpoints back the order's places are kept: lock-step checks
 * an epoch while its TP run stands at its end or a little later (a re-run
 * from there, as tp/epoch.c's TP_STATE_KEPT), overlap's EP run up to the
 * keeper's TP_EPOCHS_CAP checkpoints behind (its view of the order,
 * tp_rerun_order(); a re-run's, to its checkpoint). */
#define ORDER_KEPT TP_EPOCHS_CAP

struct tp_rerun *
tp_rerun_new(const char *sync_log)
{
	struct tp_rerun *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->sync_log = sync_log;
	r->fd = -1;
	return r;
}

/* rec_ep_live.let_go: the re-run went live, its processes have their
 * descriptors; uprr's (each given, the objects made anew, the
 * checkpoint's records of them) are closed, so that a peer sees the
 * program's close of a pipe's write end or of a connection as it makes
 * it (the records held a TCP connection's description for the re-run:
 * kmerge_epoch_save_fds()). */
static void
let_go(void *arg)
{
	struct tp_rerun *r = arg;

	for (size_t i = 0; i < r->nprocs; i++)
		for (size_t j = 0; j < r->procs[i].nfds; j++) {
			if (r->procs[i].fds[j].ours >= 0)
				close(r->procs[i].fds[j].ours);
			r->procs[i].fds[j].ours = -1;
		}
	for (size_t i = 0; i < r->nremade; i++)
		for (size_t j = 0; j < 2; j++) {
			if (r->remade[i].ends[j] >= 0)
				close(r->remade[i].ends[j]);
			r->remade[i].ends[j] = -1;
		}
	for (size_t i = 0; i < r->nrecs; i++) {
		kmerge_epoch_free(r->recs[i]);
		r->recs[i] = NULL;
	}
}

static void
free_procs(struct tp_rerun *r)
{
	for (size_t i = 0; i < r->nprocs; i++) {
		for (size_t j = 0; j < r->procs[i].nfds; j++) {
			if (r->procs[i].fds[j].ours >= 0)
				close(r->procs[i].fds[j].ours);
			free(r->procs[i].fds[j].epoll_items);
			free(r->procs[i].fds[j].reopen);
		}
		free(r->procs[i].fds);
	}
	free(r->procs);
	r->procs = NULL;
	r->nprocs = 0;
	for (size_t i = 0; i < r->nrecs; i++)
		kmerge_epoch_free(r->recs[i]);
	for (size_t i = 0; i < r->nchain; i++)
		kmerge_epoch_free(r->chain[i]);
	r->nchain = 0;
	free(r->recs);
	r->recs = NULL;
	r->nrecs = 0;
	free(r->used);
	r->used = NULL;
	r->nused = 0;
	for (size_t i = 0; i < r->nremade; i++) {
		for (size_t j = 0; j < 2; j++)
			if (r->remade[i].ends[j] >= 0)
				close(r->remade[i].ends[j]);
		free(r->remade[i].placed);
	}
	free(r->remade);
	r->remade = NULL;
	r->nremade = r->remade_cap = 0;
	for (size_t i = 0; i < r->naccepts; i++)
		if (r->accepts[i].ours >= 0)
			close(r->accepts[i].ours);
	free(r->accepts);
	r->accepts = NULL;
	r->naccepts = 0;
}

void
tp_rerun_free(struct tp_rerun *r)
{
	if (!r)
		return;
	free_procs(r);
	if (r->fd >= 0)
		close(r->fd);
	free(r->at);
	free(r);
}

void
tp_rerun_freep(struct tp_rerun **r)
{
	tp_rerun_free(*r);
}

/* Slot @i's head (its count) and record @j's kind and flags, read from the
 * order. */
static int
read_slot(int fd, uint32_t nrecs, uint32_t i, uint64_t j, uint64_t *ret_count, uint16_t *ret_kind,
	  uint16_t *ret_flags)
{
	off_t slot = (off_t)(UPRR_SYNC_HEAD_SIZE + i * uprr_sync_slot_size(nrecs));
	struct uprr_sync_rec rec;

	if (ret_count && pread(fd, ret_count, sizeof(*ret_count),
			       slot + (off_t)offsetof(struct uprr_sync_slot, count)) != sizeof(*ret_count))
		return -EIO;
	if (ret_kind) {
		if (pread(fd, &rec, sizeof(rec), slot + (off_t)(sizeof(struct uprr_sync_slot) + j * sizeof(rec))) !=
		    sizeof(rec))
			return -EIO;
		*ret_kind = rec.kind;
		if (ret_flags)
			*ret_flags = rec.flags;
	}
	return 0;
}

void
tp_rerun_at_checkpoint(struct tp_rerun *r, uint64_t k)
{
	struct uprr_sync_head h;
	struct order_at a = { .k = k, .midway = -1 };
	size_t j = 0;

	if (!r || !r->sync_log)
		return;
	if (r->fd < 0)
		r->fd = open(r->sync_log, O_RDONLY | O_CLOEXEC);
	/* no order (a static program, no interposer): nothing to cut */
	if (r->fd < 0 || pread(r->fd, &h, sizeof(h), 0) != sizeof(h) || h.magic != UPRR_SYNC_MAGIC)
		goto keep;
	for (uint32_t i = 0; i < MIN(h.nthreads, (uint32_t)UPRR_SYNC_NSLOTS); i++) {
		uint64_t count = 0, n = r->done[i], end;
		uint16_t kind = 0, flags = 0;

		if (read_slot(r->fd, h.nrecs, i, 0, &count, NULL, NULL) < 0)
			return;
		/* each thread's records are complete in order (a handler's
		 * after the one it interrupted): the first not complete ends
		 * them; the new ones read a batch at a time */
		end = MIN(count, (uint64_t)h.nrecs);
		while (n < end) {
			struct uprr_sync_rec batch[512];
			off_t at = (off_t)(UPRR_SYNC_HEAD_SIZE + i * uprr_sync_slot_size(h.nrecs) +
					   sizeof(struct uprr_sync_slot) + n * sizeof(batch[0]));
			size_t want = (size_t)MIN(end - n, (uint64_t)ARRAY_SIZE(batch)), j2 = 0;
			ssize_t got = pread(r->fd, batch, want * sizeof(batch[0]), at);

			if (got < (ssize_t)sizeof(batch[0]))
				break;
			while (j2 < (size_t)got / sizeof(batch[0]) && batch[j2].kind != UPRR_SYNC_NONE)
				j2++;
			n += j2;
			if (j2 < want)
				break;
		}
		r->done[i] = n;
		a.done[i] = n;
		/* inside an operation: one reserved, not complete, that is not
		 * a wait in glibc marked as its end (UPRR_SYNC_F_END,
		 * record-epoch.c: a condition wait's acquisition, not reserved
		 * yet, or a lock's, reserved): the cut order would let it go on
		 * past its end before the re-run goes live */
		if (n < h.nrecs)
			(void)read_slot(r->fd, h.nrecs, i, n, NULL, &kind, &flags);
		/* marked: its wait for the acquisition is its end, where the
		 * re-run parks it too (the cut keeps the mark) */
		a.marked[i] = (flags & UPRR_SYNC_F_END) != 0;
		if (n != count && !a.marked[i] && a.midway < 0)
			a.midway = (int)i;
	}
keep:
	for (size_t i = 0; i < r->nat; i++)
		if (r->at[i].k + ORDER_KEPT > k)
			r->at[j++] = r->at[i];
	r->nat = j;
	if (UTIL_GROW(r->at, r->at_cap, r->nat + 1) == 0)
		r->at[r->nat++] = a;
}

static const struct order_at *
order_at(const struct tp_rerun *r, uint64_t k)
{
	for (size_t i = 0; i < r->nat; i++)
		if (r->at[i].k == k)
			return &r->at[i];
	return NULL;
}

/* rec_ep_order.at */
static bool
places_at(void *arg, uint64_t k, uint64_t *done, size_t n)
{
	const struct order_at *at = order_at(arg, k);

	if (!at)
		return false;
	for (size_t i = 0; i < n; i++)
		done[i] = i < UPRR_SYNC_NSLOTS ? at->done[i] : 0;
	return true;
}

const struct rec_ep_order *
tp_rerun_order(struct tp_rerun *r)
{
	if (!r || !r->sync_log)
		return NULL;
	r->order = (struct rec_ep_order){ .arg = r, .at = places_at };
	return &r->order;
}

/* A new entry of r->remade for the object @s saw (its ends @e0, @e1, -1:
 * none; @key its description's, -1 for a pipe), owning them; NULL (the
 * ends closed) when out of memory. */
static struct remade *
add_remade(struct tp_rerun *r, const struct kmerge_fd_saved *s, int e0, int e1, int key)
{
	struct remade *m;

	if (UTIL_GROW(r->remade, r->remade_cap, r->nremade + 1) < 0) {
		close(e0);
		if (e1 >= 0)
			close(e1);
		return NULL;
	}
	m = &r->remade[r->nremade++];
	*m = (struct remade){ .dev = s->dev, .ino = s->ino, .ends = { e0, e1 }, .key = key };
	return m;
}

static struct remade *
find_remade(const struct tp_rerun *r, dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < r->nremade; i++)
		if (r->remade[i].key < 0 && r->remade[i].dev == dev && r->remade[i].ino == ino)
			return &r->remade[i];
	return NULL;
}

/* The object made anew for the epoll instance or eventfd @s: every such
 * object has the one anonymous inode (fs/anon_inodes.c), so the same
 * description is what tells (kcmp(2) KCMP_FILE of the record's
 * descriptors, Linux 3.5); NULL if none. */
static struct remade *
find_remade_anon(const struct tp_rerun *r, const struct kmerge_fd_saved *s)
{
	pid_t self = getpid();

	for (size_t i = 0; s->dup >= 0 && i < r->nremade; i++)
		if (r->remade[i].key >= 0 &&
		    syscall(SYS_kcmp, self, self, KCMP_FILE, r->remade[i].key, s->dup) == 0)
			return &r->remade[i];
	return NULL;
}

/* Whether the saved descriptors of every process at the checkpoint
 * (r->recs) hold the pipe (@dev, @ino) open with access mode @mode. */
static bool
held_at_k(const struct tp_rerun *r, dev_t dev, ino_t ino, int mode)
{
	for (size_t i = 0; i < r->nrecs; i++)
		for (size_t j = 0; j < kmerge_epoch_nfds(r->recs[i]); j++) {
			const struct kmerge_fd_saved *s = kmerge_epoch_fd(r->recs[i], j);

			if (s->dev == dev && s->ino == ino && (s->flags & O_ACCMODE) == mode)
				return true;
		}
	return false;
}

/*
 * A pipe the TP run closed every end of since the checkpoint (the
 * description is gone: the checkpoint's copy holds no files, tp/epoch.c
 * drop_files()): when the program's processes held both its ends at k
 * (its own: a self-pipe), a new one holding what the old held there
 * (kmerge_epoch_pipe_remake()); an end of it (@s's) into uprr's new
 * descriptor, or -1 (@why said when that is a refusal).
 */
static int
remake_pipe(struct tp_rerun *r, const struct kmerge_fd_saved *s, char *why, size_t len)
{
	struct remade *m = find_remade(r, s->dev, s->ino);
	int mode = s->flags & O_ACCMODE;

	if (!S_ISFIFO(s->mode) || (mode != O_RDONLY && mode != O_WRONLY) ||
	    !held_at_k(r, s->dev, s->ino, O_RDONLY) || !held_at_k(r, s->dev, s->ino, O_WRONLY))
		return -1;
	if (!m) {
		int ends[2] = { -1, -1 }, rc = -1;

		/* the bytes are in the record of the process that held it
		 * (kmerge_epoch_save_queues()): the first that has them */
		for (size_t i = 0; i < r->nrecs && rc < 0; i++)
			rc = kmerge_epoch_pipe_remake(r->recs[i], s->dev, s->ino, ends, why, len);
		if (rc < 0 || !(m = add_remade(r, s, ends[0], ends[1], -1)))
			return -2;
		log_info("re-run: pipe %lu, closed by the TP run since the checkpoint, made anew", (unsigned long)s->ino);
	}
	return fcntl(m->ends[mode == O_WRONLY], F_DUPFD_CLOEXEC, 3);
}

/* Whether uprr's own descriptor @s->fd is the object @s (one the program
 * started with: uprr's stdio, an inherited one): an anonymous inode's
 * (epoll, eventfd, timerfd, signalfd: one inode for all of them) by its
 * description (kcmp(2) with the record's), another by its inode. */
static bool
uprr_holds(const struct kmerge_fd_saved *s)
{
	pid_t self = getpid();
	struct stat st;

	if (fstat(s->fd, &st) < 0 || st.st_dev != s->dev || st.st_ino != s->ino)
		return false;
	if (s->mode & S_IFMT)
		return true;
	return s->dup >= 0 && syscall(SYS_kcmp, self, self, KCMP_FILE, s->fd, s->dup) == 0;
}

/* A new eventfd with @s's counter and EFD_SEMAPHORE at the checkpoint
 * (the TP run's has moved on since); its descriptor or -errno. */
static int
new_eventfd(const struct kmerge_fd_saved *s)
{
	int efd = eventfd(0, EFD_CLOEXEC | (s->efd_semaphore ? EFD_SEMAPHORE : 0));

	/* (a write adds: the counter may exceed what eventfd(2)'s unsigned
	 * int takes) */
	if (efd < 0)
		return -errno;
	if (s->efd_count && write(efd, &s->efd_count, sizeof(s->efd_count)) != sizeof(s->efd_count)) {
		close(efd);
		return -EIO;
	}
	return efd;
}

/* A new timerfd with @s's setting at the checkpoint (the TP run's may have
 * been set again, or have expired, since): the time left there to its next
 * expiration counts from now, and one expiration not read there comes at
 * once. Its descriptor or -errno (-ENOTRECOVERABLE: several expirations
 * not read, which cannot be made again). */
static int
new_timerfd(const struct kmerge_fd_saved *s)
{
	struct itimerspec spec = s->tfd_spec;
	int flags = 0, tfd, rc;

	if (s->tfd_ticks > 1)
		return -ENOTRECOVERABLE;
	if (s->tfd_ticks)
		spec.it_value = (struct timespec){ 0, 1 };
	tfd = timerfd_create(s->tfd_clock, TFD_CLOEXEC);
	if (tfd < 0)
		return -errno;
	if ((spec.it_value.tv_sec || spec.it_value.tv_nsec) && (s->tfd_flags & TFD_TIMER_ABSTIME)) {
		/* an absolute one (and its cancel on a clock set) stays so */
		struct timespec now;

		if (clock_gettime(s->tfd_clock, &now) < 0) {
			rc = -errno;
			close(tfd);
			return rc;
		}
		spec.it_value.tv_sec += now.tv_sec + (spec.it_value.tv_nsec + now.tv_nsec) / 1000000000L;
		spec.it_value.tv_nsec = (spec.it_value.tv_nsec + now.tv_nsec) % 1000000000L;
		flags = s->tfd_flags;
	}
	if (timerfd_settime(tfd, flags, &spec, NULL) < 0) {
		rc = -errno;
		close(tfd);
		return rc;
	}
	return tfd;
}

/* A new object of @s's kind (an epoll instance, empty; an eventfd, a
 * timerfd, a signalfd with its state at the checkpoint); its descriptor
 * or -errno. */
static int
new_anon(const struct kmerge_fd_saved *s)
{
	int fd;

	if (s->eventfd)
		return new_eventfd(s);
	if (s->timerfd)
		return new_timerfd(s);
	/* a signalfd takes the signals it took there (the TP run's mask may
	 * have been set again since): the raw call, glibc's sigset_t refuses
	 * its own signals 32, 33 */
	fd = s->epoll ? epoll_create1(EPOLL_CLOEXEC)
		      : (int)syscall(SYS_signalfd4, -1, &s->sfd_mask, sizeof(s->sfd_mask), SFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* The anonymous-inode object @s saw at the checkpoint, made anew
 * (new_anon()) once for all the descriptors of its description
 * (find_remade_anon()); an epoll instance's entries are added by the
 * processes once every descriptor is given (give_epoll_items()). uprr's
 * new descriptor of it, or -errno. */
static int
remake_anon(struct tp_rerun *r, const struct kmerge_fd_saved *s)
{
	struct remade *m = find_remade_anon(r, s);

	if (!m) {
		int fd = new_anon(s);

		if (fd < 0)
			return fd;
		m = add_remade(r, s, fd, -1, s->dup);
		if (!m)
			return -ENOMEM;
		if (s->epoll && !(m->placed = calloc(MAX(s->nitems, (size_t)1), sizeof(bool))))
			return -ENOMEM;
	}
	return fcntl(m->ends[0], F_DUPFD_CLOEXEC, 3);
}

/*
 * A copy of the TP run's description of descriptor @s->fd of its process
 * @pid, whose object is the one the checkpoint saw, its offset and status
 * flags the checkpoint's: uprr's own, or -1 with @why said. From the TP
 * run's process (@pidfd) while it holds it there, else a pipe of the
 * program's own made anew (remake_pipe()). An epoll instance, eventfd,
 * timerfd or signalfd is made anew (ours) with its state at the checkpoint
 * (remake_anon()).
 */
static int
take_fd(struct tp_rerun *r, pid_t pid, int pidfd, const struct kmerge_fd_saved *s, char *why, size_t len)
{
	struct stat st;
	int fd;

	if (s->epoll || s->eventfd || s->timerfd || s->signalfd) {
		/* one it started with is uprr's own (its stdio, an inherited
		 * one): the same object */
		if (uprr_holds(s))
			return fcntl(s->fd, F_DUPFD_CLOEXEC, 3);
		/* which descriptors share it is told by the record's
		 * description */
		fd = s->dup < 0 ? -ENOENT : remake_anon(r, s);
		if (fd < 0) {
			snprintf(why, len, "process %d's fd %d: its %s cannot be made anew: %s", pid, s->fd,
				 s->epoll ? "epoll instance" : s->eventfd ? "eventfd" : s->timerfd ? "timerfd" : "signalfd",
				 fd == -ENOENT ? "its description was not kept at the checkpoint"
				 : fd == -ENOTRECOVERABLE ? "several expirations were not read there"
							  : strerror(-fd));
			return fd == -ENOMEM ? fd : -1;
		}
		if (fcntl(fd, F_SETFL, s->flags) < 0)
			log_debug("process %d's fd %d: its status flags not put back: %m", pid, s->fd);
		return fd;
	}
	if (s->dup >= 0) {
		fd = fcntl(s->dup, F_DUPFD_CLOEXEC, 3);
	} else {
		/* one it started with is uprr's own (its stdio); else the TP
		 * run's process holds it still */
		fd = uprr_holds(s) ? fcntl(s->fd, F_DUPFD_CLOEXEC, 3)
			     : pidfd >= 0 ? (int)syscall(SYS_pidfd_getfd, pidfd, s->fd, 0) : -1;
		/* a file open for writing that the TP run's process no longer
		 * holds there (it ended, or closed it): opened again, a
		 * description of its own */
		if (s->path >= 0 && (fd < 0 || fstat(fd, &st) < 0 || st.st_ino != s->ino || st.st_dev != s->dev)) {
			char path[64];

			if (fd >= 0)
				close(fd);
			snprintf(path, sizeof(path), "/proc/self/fd/%d", s->path);
			fd = open(path, (s->flags & ~(O_CREAT | O_TRUNC | O_EXCL)) | O_CLOEXEC);
		}
	}
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_dev != s->dev || st.st_ino != s->ino) {
		if (fd >= 0)
			close(fd);
		why[0] = 0;
		fd = remake_pipe(r, s, why, len);
		if (fd >= 0) {
			if (fcntl(fd, F_SETFL, s->flags) < 0)
				log_debug("process %d's fd %d: its status flags not put back: %m", pid, s->fd);
			return fd;
		}
		if (fd == -1 || !why[0])
			snprintf(why, len, "process %d's fd %d (%s) was closed or replaced after the checkpoint%s",
				 pid, s->fd,
				 S_ISFIFO(s->mode) ? "a pipe" : S_ISSOCK(s->mode) ? "a socket" : "a file",
				 pidfd < 0 ? " (the TP run ended)" : "");
		return -1;
	}
	/* the epoch's reads and seeks moved it: back (a file's; a pipe's
	 * and a socket's bytes read are the judge's) */
	if ((S_ISREG(s->mode) || S_ISBLK(s->mode) || S_ISDIR(s->mode)) && lseek(fd, s->pos, SEEK_SET) < 0) {
		snprintf(why, len, "process %d's fd %d: its offset cannot be put back: %s", pid, s->fd,
			 strerror(errno));
		close(fd);
		return -1;
	}
	if (fcntl(fd, F_SETFL, s->flags) < 0)
		log_debug("process %d's fd %d: its status flags not put back: %m", pid, s->fd);
	return fd;
}

/* Process @pid's state at checkpoint @k into @p, its record into r->recs
 * (its descriptors are taken once every process's record is: take_fds()). */
static int
take_state(struct tp_rerun *r, struct tp_epochs *e, uint64_t k, pid_t pid, struct rec_live_proc *p, char *why,
	   size_t len)
{
	_cleanup_free_ char *cwd = NULL;
	struct kmerge_epoch *fds;
	struct rec_timers timers;
	unsigned mask;

	if (!tp_epochs_take_state(e, k, pid, &fds, &cwd, &mask, &timers)) {
		snprintf(why, len, "the kernel state of process %d at checkpoint %" PRIu64 " was not kept", pid, k);
		return -1;
	}
	r->recs[r->nrecs++] = fds;
	/* its EP run answers timer_create(2) from the log: live from k, the
	 * process would have no such timer, and wait for its signals for good
	 * (tests/progs/posix_timer: uprr hung so) */
	if (timers.posix) {
		snprintf(why, len, "process %d had a POSIX timer (timer_create(2)) at checkpoint %" PRIu64
			 ", which a re-run cannot make again", pid, k);
		return -1;
	}
	p->pid = pid;
	p->umask = mask;
	p->timers = timers;
	snprintf(p->cwd, sizeof(p->cwd), "%s", cwd);
	p->fds = calloc(MAX(kmerge_epoch_nfds(fds), (size_t)1), sizeof(*p->fds));
	return p->fds ? 0 : -ENOMEM;
}

/* The entries of the epoll instance @s (of process @i's record) whose
 * descriptor number leads, in that process's table at the checkpoint, to
 * the object the entry was added for: @f->epoll_items, for the process
 * to add (record-ep-live.c). Each entry goes to one process. */
static int
give_epoll_items(struct tp_rerun *r, size_t i, const struct kmerge_fd_saved *s, struct rec_live_fd *f)
{
	struct remade *m = find_remade_anon(r, s);

	if (!m || !s->nitems)
		return 0;
	f->epoll_items = calloc(s->nitems, sizeof(*f->epoll_items));
	if (!f->epoll_items)
		return -ENOMEM;
	for (size_t j = 0; j < s->nitems; j++) {
		const struct kmerge_epoll_item *it = &s->items[j];

		if (m->placed[j])
			continue;
		for (size_t l = 0; l < kmerge_epoch_nfds(r->recs[i]); l++) {
			const struct kmerge_fd_saved *t = kmerge_epoch_fd(r->recs[i], l);

			if (t->fd == it->tfd && t->ino == it->ino && t->dev == it->dev) {
				f->epoll_items[f->nepoll_items++] =
					(struct rec_live_epoll_item){ .tfd = it->tfd, .events = it->events,
								      .data = it->data };
				m->placed[j] = true;
				break;
			}
		}
	}
	return 0;
}

/* Whether uprr's @fd is a file of /proc (statfs(2) PROC_SUPER_MAGIC): its
 * path into *@ret (malloc'd; /proc/PID/... of a process of the program is
 * the re-run's process, which has the TP run's ids), which the re-run's
 * process opens anew (record-ep-live.c). 0 (*@ret NULL: not one) or
 * -ENOMEM. */
static int
reopened(int fd, char **ret)
{
	char link[64], path[PATH_MAX];
	struct statfs sfs;
	ssize_t n;

	*ret = NULL;
	if (fstatfs(fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0 || path[0] != '/')
		return 0;
	path[n] = 0;
	*ret = strdup(path);
	return *ret ? 0 : -ENOMEM;
}

/* Every process's descriptors at the checkpoint (take_state() read their
 * records), as uprr's, into r->procs[].fds; the epoll instances' entries
 * each to a process that holds the object at that number. */
static int
take_fds(struct tp_rerun *r, char *why, size_t len)
{
	for (size_t i = 0; i < r->nprocs; i++) {
		struct rec_live_proc *p = &r->procs[i];
		/* -1: the TP run ended (its descriptors uprr's own alone are had) */
		_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);

		for (size_t j = 0; j < kmerge_epoch_nfds(r->recs[i]); j++) {
			const struct kmerge_fd_saved *s = kmerge_epoch_fd(r->recs[i], j);
			int fd = take_fd(r, p->pid, pidfd, s, why, len);
			struct rec_live_fd *f;

			if (fd < 0)
				return fd == -ENOMEM ? fd : -1;
			f = &p->fds[p->nfds++];
			*f = (struct rec_live_fd){ .fd = s->fd, .ours = fd, .cloexec = s->cloexec,
						   .pos = s->pos, .flags = s->flags };
			if (reopened(fd, &f->reopen) < 0)
				return -ENOMEM;
		}
	}
	for (size_t i = 0; i < r->nprocs; i++)
		for (size_t j = 0; j < kmerge_epoch_nfds(r->recs[i]); j++) {
			const struct kmerge_fd_saved *s = kmerge_epoch_fd(r->recs[i], j);

			if (s->epoll && give_epoll_items(r, i, s, &r->procs[i].fds[j]) < 0)
				return -ENOMEM;
		}
	/* an entry no process could add: its object held at the checkpoint
	 * by no descriptor of that number (closed, the object kept open by
	 * another descriptor) */
	for (size_t i = 0; i < r->nrecs; i++)
		for (size_t j = 0; j < kmerge_epoch_nfds(r->recs[i]); j++) {
			const struct kmerge_fd_saved *s = kmerge_epoch_fd(r->recs[i], j);
			const struct remade *m = s->epoll ? find_remade_anon(r, s) : NULL;

			for (size_t l = 0; m && l < s->nitems; l++)
				if (!m->placed[l]) {
					snprintf(why, len, "process %d's epoll instance (fd %d) had an entry of fd %d, "
						 "which no process held at the checkpoint",
						 s->pid, s->fd, s->items[l].tfd);
					return -1;
				}
		}
	return 0;
}

/* The descriptor of process @pid that leads to (@dev, @ino), as uprr's
 * (pidfd_getfd(2)); -1 if it holds none. */
static int
getfd_of(pid_t pid, dev_t dev, ino_t ino)
{
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	char path[64];
	struct dirent *d;
	struct stat st;
	DIR *dir;
	int fd = -1;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = pidfd >= 0 ? opendir(path) : NULL;
	while (dir && fd < 0 && (d = readdir(dir)))
		if (d->d_name[0] >= '0' && d->d_name[0] <= '9' && fstatat(dirfd(dir), d->d_name, &st, 0) == 0 &&
		    st.st_dev == dev && st.st_ino == ino)
			fd = (int)syscall(SYS_pidfd_getfd, pidfd, atoi(d->d_name), 0);
	if (dir)
		closedir(dir);
	return fd;
}

/* The connections the TP run accepted in epoch @k or later (@rr->accepts),
 * each taken from the process that holds it (the TP run stands), for the
 * re-run's accepts (record-ep-live.c). One it closed since cannot be
 * given: refused, named; nor one of a non-blocking listening socket, whose
 * program waits to be told a connection is there (epoll(7), poll(2)):
 * the TP run took it from the queue, the re-run would not be told. */
static int
take_accepted(struct tp_rerun *r, const struct rec_rerun *rr, uint64_t k, char *why, size_t len)
{
	r->accepts = calloc(MAX(rr->naccepts, (size_t)1), sizeof(*r->accepts));
	if (!r->accepts)
		return -ENOMEM;
	for (size_t i = 0; i < rr->naccepts; i++) {
		const struct rec_rerun_accept *a = &rr->accepts[i];
		_cleanup_close_ int l = -1;
		int fd;

		if (a->epoch < k)
			continue;
		l = getfd_of(a->pid, a->ldev, a->lino);
		if (l < 0 || (fcntl(l, F_GETFL) & O_NONBLOCK)) {
			snprintf(why, len, "process %d accepted a connection in epoch %" PRIu64 " from a %s: it "
				 "cannot be given to the re-run", a->pid, a->epoch,
				 l < 0 ? "listening socket it closed since"
				       : "non-blocking listening socket (the re-run would not be told it is there)");
			return -1;
		}
		fd = getfd_of(a->pid, a->dev, a->ino);
		if (fd < 0) {
			snprintf(why, len, "the connection process %d accepted in epoch %" PRIu64 " was closed "
				 "since: it cannot be given to the re-run", a->pid, a->epoch);
			return -1;
		}
		r->accepts[r->naccepts++] = (struct rec_live_accept){ .ldev = a->ldev, .lino = a->lino,
								      .ours = fd };
	}
	return 0;
}

/* uprr's descriptors of every object the re-run's processes get, into a
 * new array (*@ret_n); NULL when out of memory. */
static int *
all_ours(const struct tp_rerun *r, size_t *ret_n)
{
	size_t n = 0;
	int *fds;

	for (size_t i = 0; i < r->nprocs; i++)
		n += r->procs[i].nfds;
	fds = calloc(MAX(n, (size_t)1), sizeof(*fds));
	*ret_n = 0;
	for (size_t i = 0; fds && i < r->nprocs; i++)
		for (size_t j = 0; j < r->procs[i].nfds; j++)
			fds[(*ret_n)++] = r->procs[i].fds[j].ours;
	return fds;
}

/* The pipes and sockets of its own the TP run used in epoch @k or later
 * (@rr->objs), into r->used; then whether each record can give back what
 * they held at the checkpoint. */
static int
check_used(struct tp_rerun *r, const struct rec_rerun *rr, uint64_t k, char *why, size_t len)
{
	_cleanup_free_ int *fds = NULL;
	size_t n;

	r->used = calloc(MAX(rr->nobjs, (size_t)1), sizeof(*r->used));
	if (!r->used)
		return -ENOMEM;
	/* one made anew holds its bytes at k already */
	for (size_t i = 0; i < rr->nobjs; i++)
		if (rr->objs[i].epoch >= k && !find_remade(r, rr->objs[i].dev, rr->objs[i].ino))
			r->used[r->nused++] = (struct kmerge_used){ rr->objs[i].dev, rr->objs[i].ino };
	fds = all_ours(r, &n);
	if (!fds)
		return -ENOMEM;
	for (size_t i = 0; i < r->nrecs; i++)
		if (kmerge_epoch_queues_check(r->recs[i], r->used, r->nused, fds, n, why, len) < 0)
			return -1;
	return 0;
}

int
tp_rerun_take(struct tp_rerun *r, struct tp_epochs *e, const struct rec_rerun *rr, char *why,
	      size_t len)
{
	uint64_t k = rr->from;
	pid_t root = rr->root;
	const struct order_at *at = order_at(r, k);
	pid_t pids[256];
	size_t n;

	free_procs(r);
	if (!at) {
		snprintf(why, len, "the synchronization order's place at checkpoint %" PRIu64 " was not kept", k);
		return -1;
	}
	if (at->midway >= 0) {
		snprintf(why, len, "the thread of synchronization slot %d stood in an operation at checkpoint "
			 "%" PRIu64, at->midway, k);
		return -1;
	}
	n = tp_epochs_pids(e, k, pids, ARRAY_SIZE(pids));
	if (!n || n == ARRAY_SIZE(pids)) {
		snprintf(why, len, "checkpoint %" PRIu64 " was not kept (%zu processes)", k, n);
		return -1;
	}
	r->procs = calloc(n, sizeof(*r->procs));
	r->recs = calloc(n, sizeof(*r->recs));
	if (!r->procs || !r->recs) {
		free_procs(r);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		int rc;

		r->nprocs++;
		rc = take_state(r, e, k, pids[i], &r->procs[i], why, len);
		if (rc < 0) {
			free_procs(r);
			return rc;
		}
	}
	{
		int rc = take_fds(r, why, len);

		if (rc < 0) {
			free_procs(r);
			return rc;
		}
	}
	/* what the TP run did since that cannot be undone (a file cut, a
	 * name made, control data read: kmerge_epoch_on_entry(), _on_exit()) */
	r->nchain = tp_epochs_take_records(e, k, r->chain, ARRAY_SIZE(r->chain));
	if (!r->nchain) {
		snprintf(why, len, "the records of what the TP run did in epoch %" PRIu64 " and after were "
			 "not all kept", k);
		free_procs(r);
		return -1;
	}
	for (size_t i = 0; i < r->nchain; i++) {
		const char *no = kmerge_epoch_refusal(r->chain[i]);

		if (no) {
			snprintf(why, len, "%s", no);
			free_procs(r);
			return -1;
		}
	}
	if (check_used(r, rr, k, why, len) < 0) {
		free_procs(r);
		return -1;
	}
	{
		int rc = take_accepted(r, rr, k, why, len);

		if (rc < 0) {
			free_procs(r);
			return rc;
		}
	}
	/* the input of each epoch from k on, in order */
	r->live = (struct rec_ep_live){ .k = k, .root_pid = root, .procs = r->procs, .nprocs = r->nprocs,
					.inputs = r->chain, .ninputs = r->nchain, .remade = (unsigned)r->nremade,
					.accepts = r->accepts, .naccepts = r->naccepts,
					.let_go = let_go, .let_go_arg = r };
	return 0;
}

int
tp_rerun_restore(struct tp_rerun *r, char *why, size_t len)
{
	_cleanup_free_ int *fds = NULL;
	size_t n;

	fds = all_ours(r, &n);
	if (!fds)
		return -ENOMEM;
	if (r->restored)
		return 0;
	/* the files, epoch by epoch, the latest first (each back to its
	 * epoch's start), then the bytes in each process's pipes and sockets
	 * (the descriptors' offsets and flags went back when taken) */
	for (size_t i = r->nchain; i-- > 0;) {
		struct kmerge_undo_report rep = { 0 };
		int rc = kmerge_epoch_undo(r->chain[i], NULL, 0, &rep);

		if (rc < 0) {
			snprintf(why, len, "the files the TP run wrote cannot be put back: %s", rep.what);
			return rc;
		}
		if (rep.files)
			log_info("re-run: %u files the TP run wrote in epoch %" PRIu64 " put back (%u cut back, "
				 "%" PRIu64 " bytes of pre-images)", rep.files, kmerge_epoch_k(r->chain[i]),
				 rep.files_truncated, rep.bytes_restored);
	}
	for (size_t i = 0; i < r->nrecs; i++) {
		int rc = kmerge_epoch_queues_restore(r->recs[i], r->used, r->nused, fds, n, why, len);

		if (rc < 0)
			return rc;
	}
	/* what each object held is put back once (the records share them) */
	r->nused = 0;
	r->restored = true;
	return 0;
}

struct rec_ep_live *
tp_rerun_live(struct tp_rerun *r)
{
	return &r->live;
}

int
tp_rerun_cut_order(const struct tp_rerun *r, uint64_t k, const char *dst)
{
	const struct order_at *at = order_at(r, k);
	_cleanup_close_ int out = -1;
	struct uprr_sync_head h;
	uint8_t *buf = NULL;
	struct stat st;
	int rc = -EIO;

	if (!at || r->fd < 0)
		return -ENOENT;
	if (pread(r->fd, &h, sizeof(h), 0) != sizeof(h) || fstat(r->fd, &st) < 0)
		return -EIO;
	out = open(dst, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0)
		return -errno;
	/* sparse, as the TP run's: only what each thread completed */
	if (ftruncate(out, st.st_size) < 0)
		return -errno;
	/* growing until the re-run goes live (tp_rerun_cut_order_done()): a
	 * thread marked as waiting at its end waits for its record with
	 * libuprr-sync's call, where the EP run parks it */
	h.growing = 1;
	h.flags |= UPRR_SYNC_HEAD_OPEN_END;
	if (pwrite(out, &h, sizeof(h), 0) != sizeof(h))
		return -EIO;
	for (uint32_t i = 0; i < MIN(h.nthreads, (uint32_t)UPRR_SYNC_NSLOTS); i++) {
		off_t slot = (off_t)(UPRR_SYNC_HEAD_SIZE + i * uprr_sync_slot_size(h.nrecs));
		size_t len = sizeof(struct uprr_sync_slot) + at->done[i] * sizeof(struct uprr_sync_rec);
		struct uprr_sync_slot *s;

		free(buf);
		buf = malloc(len);
		if (!buf) {
			rc = -ENOMEM;
			goto out;
		}
		if (pread(r->fd, buf, len, slot) != (ssize_t)len)
			goto out;
		s = (struct uprr_sync_slot *)buf;
		s->count = at->done[i];
		if (pwrite(out, buf, len, slot) != (ssize_t)len)
			goto out;
		if (at->marked[i] && at->done[i] < h.nrecs) {
			/* the mark alone, the record not there */
			struct uprr_sync_rec mark = { .flags = UPRR_SYNC_F_END };

			if (pwrite(out, &mark, sizeof(mark), slot + (off_t)len) != (ssize_t)sizeof(mark))
				goto out;
		}
	}
	rc = 0;
out:
	free(buf);
	return rc;
}
