/* SPDX-License-Identifier: MIT */
/*
 * kernel-merge (DESIGN.md, "Uniparallel execution"; issue 15, deliverable 5):
 * make a live process from one execution's memory and registers and another
 * process's kernel state. First use: rollback after an end-of-epoch
 * divergence, where A is the TP run's checkpoint k+1 (a stopped copy whose
 * descriptors share the TP run's open files) and B the EP run at the end of
 * epoch k (a stopped process with the same threads, whose memory and
 * registers are the valid execution). The merge writes B's memory, mappings,
 * program break and thread state into A; A keeps its file descriptors, their
 * offsets, its signal dispositions, its children and every other kernel
 * object.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "checkpoint/dirty.h"
#include "common/util.h"

/** One of the two processes merged, stopped with every thread in a ptrace
 * stop from which it may take an injected syscall (tracee_inject_syscall()). */
struct kmerge_side {
	pid_t pid;			   /**< the process */
	int memfd;			   /**< /proc/PID/mem, O_RDWR, the caller's */
	const pid_t *tids;		   /**< its threads, in the order they pair up */
	size_t ntids;			   /**< how many */
	const struct dirty_pages *written; /**< pages it wrote since checkpoint k */
};

/** What a merge did and what it cost; on -EOPNOTSUPP, what could not be merged. */
struct kmerge_report {
	uint64_t pages_compared; /**< pages of the union of both dirty logs, hashed in each */
	uint64_t pages_copied;	 /**< of those, the ones that differed, copied from B */
	uint64_t fresh_pages;	 /**< pages of mappings made anew in A (mmap, brk, stack) */
	uint64_t fresh_copied;	 /**< of those, the ones not all zero in B, copied */
	unsigned maps_created;	 /**< anonymous mappings made in A, stacks grown */
	unsigned maps_removed;	 /**< ranges unmapped in A */
	unsigned maps_protected; /**< ranges whose protection was changed in A */
	bool brk_set;		 /**< A's program break was moved */
	uint64_t brk;		 /**< to this (B's) */
	unsigned threads;	 /**< threads whose state was set */

	/** -EOPNOTSUPP: the mapping [fail_start, fail_end) of B that A cannot
	 * be given from memory alone, and why, e.g. "0x7f..-0x7f.. r--p
	 * /usr/lib/x.so in B, none in A: a file mapping cannot be made from
	 * memory". Other errors: the step that failed ("brk", "thread 2"). */
	uint64_t fail_start, fail_end;
	char what[512];

	uint64_t maps_ns;    /**< time of the brk and mapping steps, fresh copies included */
	uint64_t pages_ns;   /**< time comparing the union and copying what differs */
	uint64_t threads_ns; /**< time reading and setting the threads' state */
	uint64_t total_ns;   /**< the whole merge (CLOCK_MONOTONIC) */
};

/**
 * Merge process B's memory and registers into process A, both stopped
 * (they are left so: every thread of A in a signal-delivery-stop for
 * SIGTRAP, to be resumed with signal 0; B's threads may be too, see
 * checkpoint_thread_get(), which reads them). In order:
 *
 * - the mappings are compared (/proc/PID/maps) and everything is checked
 *   before anything is changed: a range B maps that A cannot be given from
 *   memory alone (a file, a shared or named mapping) fails
 *   the merge with -EOPNOTSUPP, A untouched, @report naming it;
 * - the program break: brk(0) injected in each, A's moved to B's by an
 *   injected brk(2) if they differ;
 * - ranges A maps and B does not are unmapped (munmap(2)), private
 *   anonymous ones B maps and A does not are made at the same address
 *   (mmap(2) with MAP_FIXED), with B's protection; a stack B's grew
 *   further down than A's is grown in A (a fault of an injected syscall
 *   that writes at its lowest address); ranges of the same kind
 *   whose protection differs get B's (mprotect(2)); all injected into A's
 *   first thread. A range made anew (mmap, brk, stack) is not in B's dirty log
 *   (the log tracks the mappings it was started with): every page of it
 *   that is not all zeros in B is copied;
 * - the pages of the union of both dirty logs are read from each, 1 MiB
 *   at a time, hashed (XXH3, as ep_hash_pages()), and B's copied over A's
 *   where the hashes differ, on two threads (process_vm_readv(2) and
 *   process_vm_writev(2), /proc/PID/mem for the pages those cannot reach:
 *   read-only or PROT_NONE, proc(5)'s FOLL_FORCE);
 * - thread i of A gets the state of thread i of B (checkpoint_thread_get(),
 *   checkpoint_thread_set()): registers with FS and GS base, XSAVE state,
 *   signal mask, and where B's differs, robust list, clear-tid address,
 *   alternate signal stack, rseq registration and name.
 *
 * Afterwards ep_check_divergence() of A and B finds nothing. Signal
 * dispositions, pending signals, descriptors and their offsets, timers and
 * children stay A's. The thread counts must be equal (-EINVAL). Fills
 * @report as far as the merge went. Returns 0 or -errno: -EOPNOTSUPP (see
 * above), -ESRCH (a thread vanished), -ENOMEM, another -errno of a step
 * (@report->what names it; A is then partly merged: kill it).
 */
int kmerge_merge(const struct kmerge_side *a, const struct kmerge_side *b,
		 struct kmerge_report *report) _wur_;

/**
 * The memory part of kmerge_merge() alone, for two stopped processes whose
 * mappings the caller found to be the same (ep_check_divergence(), which
 * leaves out what @ignore covers): the pages of the union of a->written and
 * b->written are read from each and hashed, the bytes of the @nignore
 * ranges at @ignore taken as zeros in both (as ep_hash_pages() takes
 * them), and where the hashes differ B's bytes are written over A's, but
 * those of @ignore (a page partly covered is written run by run through
 * a->memfd; one covered whole is neither compared nor written). A page B
 * cannot read is left. No thread state is touched, nothing is injected:
 * B may be any stopped process, A needs a->memfd (O_RDWR). Fills
 * @report's pages_compared, pages_copied, pages_ns and total_ns (what on
 * failure). Returns 0 or -errno (-ESRCH: a process is gone; A is then
 * partly written).
 */
int kmerge_copy_pages(const struct kmerge_side *a, const struct kmerge_side *b,
		      const struct checkpoint_range *ignore, size_t nignore,
		      struct kmerge_report *report) _wur_;

/* ---- what one TP epoch did to shared kernel objects, and its undo ----
 * (kernel-merge/undo.c, kernel-merge/redeliver.c; doc/uniparallel.md,
 * "Divergence and rollback": a divergence at a syscall.)
 *
 * A checkpoint's copies share the TP run's open file descriptions (they are
 * forks), and regular files and pipes are the same objects for both: what
 * the TP run did in epoch k to them is still there when epoch k is re-run
 * from checkpoint k's copies. A struct kmerge_epoch is the supervisor's
 * record of it, kept beside the trace (the trace holds what replay needs;
 * this holds what only a live rollback needs: pre-images and the kernel
 * state at the checkpoint), to be made at checkpoint k and fed by every
 * traced syscall of the TP run in epoch k by the re-run from checkpoint k
 * that will use it (not built: no recording makes one yet; unit tests
 * drive it on real processes). In a TP run every write(2) and every
 * read of a pipe, FIFO or socket takes the traced path (UPRR_CTL_NO_WRITES,
 * UPRR_CTL_ORDER_READS, preload/uprr-preload.h), so none goes by unseen,
 * but a write to /dev/null, which changes nothing to undo.
 */

/** What one epoch of the TP run did to kernel objects shared with its
 * checkpoint's copies: fd states at the checkpoint, pre-images of regular
 * file bytes overwritten, input consumed, and what cannot be undone. */
struct kmerge_epoch;

/**
 * A new, empty record of epoch @k (checkpoint k begins it). Stores it in
 * *ret (free with kmerge_epoch_free()). Returns 0 or -ENOMEM.
 */
int kmerge_epoch_new(uint64_t k, struct kmerge_epoch **ret) _wur_;

/** The epoch's number, as given to kmerge_epoch_new(). */
uint64_t kmerge_epoch_k(const struct kmerge_epoch *e);

/** Free @e, closing the files it holds open. NULL accepted. */
void kmerge_epoch_free(struct kmerge_epoch *e);

/**
 * At checkpoint k, every thread of process @pid stopped: save, for each of
 * its descriptors (/proc/PID/fd, /proc/PID/fdinfo: proc(5)), the open file
 * description's offset and status flags (F_GETFL's O_APPEND, O_NONBLOCK...)
 * and the object's identity (st_dev, st_ino, st_mode), and for a regular
 * file its size; for an object with an offset (a file, a directory, a block
 * device) opened read-only a copy of the description is kept
 * (pidfd_getfd(2), Linux 5.6: the caller traces @pid), through which the
 * undo puts the offset back even if the checkpoint's copy closed its
 * descriptors; not for a pipe or socket (a descriptor of ours would keep
 * its reader from seeing EOF), nor for a file open for writing (an exec of
 * it would fail with ETXTBSY, execve(2): make's linker output). A
 * descriptor that closes while it is read is skipped. Cost: one readdir,
 * one stat(2), one fdinfo read and one pidfd_getfd(2) per descriptor
 * (doc/uniparallel.md gives the figures). Returns the number of descriptors saved (>= 0) or
 * -errno (-ESRCH: the process is gone; -ENOMEM).
 */
int kmerge_epoch_save_fds(struct kmerge_epoch *e, pid_t pid) _wur_;

/**
 * The TP run's thread @tid of process @tgid is about to execute syscall
 * @nr with @args (its entry, the kernel not yet run; every other thread
 * may run). Records what the undo will need from before the call: for a
 * write(2), writev(2), pwrite64(2), pwritev(2) or pwritev2(2) to a regular
 * file, the bytes of the range it may overwrite below the file's size
 * (pread(2) through a descriptor of ours opened read-only from
 * /proc/TID/fd/N, which also keeps the file for the undo, even unlinked;
 * one open for writing would make an exec of the file fail with ETXTBSY),
 * and the file's size the
 * first time the epoch touches it. Calls whose effects are not undone are
 * noted as the epoch's refusal (kmerge_epoch_refusal()): a file created,
 * truncated, removed, renamed or linked (open with O_CREAT of a path that
 * did not exist or O_TRUNC, creat, unlink, rename, link, symlink, mkdir,
 * rmdir, mknod, truncate, ftruncate, fallocate), a file mapped shared and
 * writable (mmap MAP_SHARED with PROT_WRITE of a regular file), bytes moved
 * into a regular file by sendfile, splice, copy_file_range, an accept(2)
 * of a connection, a read that takes descriptors (recvmsg, SCM_RIGHTS: see
 * kmerge_epoch_on_exit()). A failure to save (out of memory, the file
 * unreadable) is a refusal too: never silently wrong.
 */
void kmerge_epoch_on_entry(struct kmerge_epoch *e, pid_t tid, pid_t tgid, long nr, const uint64_t args[6]);

/**
 * The same thread's call returned @result (its exit stop; the tracee's
 * memory holds what the kernel wrote). A read(2), readv(2), recvfrom(2)
 * or recvmsg(2) (not MSG_PEEK) of a pipe, FIFO or socket that returned
 * bytes consumed them from the kernel object: they are copied (from the
 * tracee's memory, @memfd: /proc/TGID/mem) into the object's queue, in the
 * order of the calls' exits, for kmerge_epoch_redeliver(). A stream's bytes
 * are one run; a datagram socket's messages (SOCK_DGRAM, SOCK_SEQPACKET)
 * stay whole, one read answered per message. A recvmsg(2) that took
 * control data, and an accept(2) or accept4(2) that returned a connection,
 * are the epoch's refusal.
 */
void kmerge_epoch_on_exit(struct kmerge_epoch *e, pid_t tid, pid_t tgid, int memfd, long nr,
			  const uint64_t args[6], int64_t result);

/**
 * Why epoch @e cannot be undone, one line naming the call, the process and
 * the object (e.g. "thread 1234 unlink(2) of /tmp/x: a file removed in the
 * epoch is not put back"), or NULL if it can be. Ask before killing
 * anything: a refused epoch falls back as the caller does today.
 */
const char *kmerge_epoch_refusal(const struct kmerge_epoch *e);

/** Note that epoch @e cannot be undone, and why (printf-like, one line);
 * the first reason given stays. For what the caller knows and @e cannot
 * see (a process not checkpointed, a call not traced). */
void kmerge_epoch_refuse(struct kmerge_epoch *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** One entry of an epoll instance's interest list (epoll_ctl(2)), as
 * /proc/PID/fdinfo/N lists it (fs/eventpoll.c ep_show_fdinfo(), Linux
 * 3.8): the descriptor number it was added with in the process that added
 * it, the object it leads to, and the events and data it was given. */
struct kmerge_epoll_item {
	int tfd;		/**< the number it was added with */
	uint32_t events;	/**< EPOLLIN ... with EPOLLET, EPOLLONESHOT (a
				 * one-shot entry that fired keeps its flags alone) */
	uint64_t data;		/**< epoll_event.data */
	dev_t dev;		/**< its object's identity (as stat(2) gives it) */
	ino_t ino;
};

/**
 * Read the interest list of the epoll instance that descriptor @fd of
 * process @pid leads to (/proc/PID/fdinfo/FD) into *@ret (malloc'd, *@ret_n
 * entries; NULL and 0 for an empty list). Returns 0, -EPROTO if the file
 * is not an epoll instance's (no "tfd:" lines where it has entries: not
 * told apart from an empty one by its text; the caller knows the kind), or
 * -errno.
 */
int kmerge_epoll_items_read(pid_t pid, int fd, struct kmerge_epoll_item **ret, size_t *ret_n) _wur_;

/** One descriptor of a process at the checkpoint (kmerge_epoch_save_fds()). */
struct kmerge_fd_saved {
	pid_t pid;	/**< the process it was read from */
	int fd;		/**< its number there */
	dev_t dev;	/**< the object's identity (stat(2) of /proc/PID/fd/N) */
	ino_t ino;
	mode_t mode;
	int64_t pos;	/**< its description's offset (fdinfo) */
	int flags;	/**< its status flags (fdinfo's, O_CLOEXEC left out) */
	bool cloexec;	/**< the descriptor's FD_CLOEXEC (fdinfo's O_CLOEXEC) */
	int64_t size;	/**< a regular file's size, else -1 */
	int dup;	/**< ours: the same description (pidfd_getfd(2)), for an
			 * object with an offset (a file, a directory, a block
			 * device) opened read-only, an epoll instance, eventfd,
			 * timerfd or signalfd, and a TCP connection (its close's
			 * FIN waits for the record's end); -1: none (a pipe, a
			 * unix socket: ours would keep its readers from seeing
			 * EOF; a file open for writing: see @path). The
			 * record's: do not close */
	int path;	/**< ours, O_PATH, of a regular file open for writing
			 * (an exec of the file is not refused for it), from
			 * which it can be opened again; -1: none. The record's */
	bool eventfd;	/**< an eventfd(2): @efd_count and @efd_semaphore */
	bool efd_semaphore; /**< EFD_SEMAPHORE (fdinfo's eventfd-semaphore, Linux 6.6) */
	uint64_t efd_count; /**< its counter at the checkpoint (fdinfo's eventfd-count) */
	bool epoll;	/**< an epoll instance: @items is its interest list */
	struct kmerge_epoll_item *items; /**< at the checkpoint; the record's */
	size_t nitems;
	bool timerfd;	/**< a timerfd(2): @tfd_clock ... @tfd_spec */
	int tfd_clock;	/**< its clock (fdinfo's clockid) */
	int tfd_flags;	/**< its settime flags (TFD_TIMER_ABSTIME, _CANCEL_ON_SET) */
	uint64_t tfd_ticks; /**< its expirations not read at the checkpoint */
	struct itimerspec tfd_spec; /**< the time to its next expiration
			 * (relative) and its interval at the checkpoint */
	bool signalfd;	/**< a signalfd(2): @sfd_mask */
	uint64_t sfd_mask; /**< its signals, bit N-1 for signal N */
};
/**
 * Close the descriptions of TCP connections @e holds (kmerge_fd_saved.dup,
 * kmerge_epoch_save_fds()): their process has an epoll instance, or made
 * one. A connection held by uprr would stay in its interest list after
 * the program closed it, reported to it with a stale entry (epoll(7),
 * "Questions and answers", 6). NULL accepted.
 */
void kmerge_epoch_drop_conns(struct kmerge_epoch *e);

/** How many descriptors kmerge_epoch_save_fds() saved into @e. */
size_t kmerge_epoch_nfds(const struct kmerge_epoch *e);
/** Descriptor @i (< kmerge_epoch_nfds()) saved into @e, owned by @e. */
const struct kmerge_fd_saved *kmerge_epoch_fd(const struct kmerge_epoch *e, size_t i);
/** What kmerge_epoch_undo() did, and on failure what it could not do. */
struct kmerge_undo_report {
	unsigned fds_checked;	/**< descriptors saved at the checkpoint, looked at */
	unsigned offsets_set;	/**< whose offset was put back (it had moved) */
	unsigned flags_set;	/**< whose status flags were put back */
	unsigned files;		/**< regular files the epoch wrote */
	unsigned files_truncated; /**< of those, cut back to their size at the checkpoint */
	uint64_t bytes_restored;  /**< pre-image bytes written back */
	uint64_t total_ns;	  /**< the whole undo (CLOCK_MONOTONIC) */
	char what[512];		  /**< on failure: what could not be put back */
};

/**
 * Put back, for the processes @pids (@n of them: the respawned copies of
 * checkpoint k, each with the pid its source had, every thread stopped),
 * the kernel state the TP run changed in epoch k: each regular file the
 * epoch wrote is cut back to its size at the epoch's start (ftruncate(2))
 * and the bytes it overwrote below that size are written back from their
 * pre-images (the first pre-image of a byte wins: they are written newest
 * first); then for each descriptor saved at checkpoint k
 * (kmerge_epoch_save_fds() of that pid) the shared open file description,
 * kept at the save or else taken from the respawned process (pidfd_getfd(2):
 * the caller must be its tracer or have PTRACE_MODE_ATTACH_REALCREDS over
 * it; a descriptor it does not have is skipped), gets its offset (lseek(2))
 * and status flags (fcntl(2) F_SETFL) put back where they moved. A
 * descriptor whose object is not the one saved (another file at that
 * number) fails the undo. A regular file open for writing at the checkpoint
 * whose size changed in a way the epoch's record does not explain (a
 * writer outside the recording, a shared mapping) fails it too, named.
 * Descriptors the epoch opened are not in the copies (a fork's table is
 * its own), so nothing needs closing. With @n 0 (a re-run from the
 * program's start, whose processes are new), the descriptions kept at the
 * save are put back, whichever processes hold them now (a pipe's or
 * socket's flags are then left). Input the epoch consumed is not put
 * back into the kernel: see kmerge_epoch_redeliver(). Refuses (-EOPNOTSUPP,
 * @report->what the refusal's line) an epoch kmerge_epoch_refusal() names,
 * before anything changes. Returns 0 or -errno (@report->what names the
 * step; the files may then be partly restored: stop recording).
 */
int kmerge_epoch_undo(struct kmerge_epoch *e, const pid_t *pids, size_t n,
		      struct kmerge_undo_report *report) _wur_;

/**
 * The re-run's thread @tid (process /proc/PID/mem @memfd, O_RDWR) is at
 * the entry of syscall @nr with @args. If it is a read(2), readv(2),
 * recvfrom(2) or recvmsg(2) (not MSG_PEEK) of a pipe, FIFO or socket from
 * which the TP run consumed bytes in epoch @e that have not been given back
 * yet, answer it from them: up to the call's length of the queue's next
 * bytes (a datagram socket: its next message, cut to the length as the
 * kernel cuts it, MSG_TRUNC in recvmsg's msg_flags) are written into the
 * tracee's buffers; recvfrom's *addrlen and recvmsg's msg_namelen,
 * msg_controllen are set to 0 (no address, no control data), msg_flags set.
 * Returns 1 with *ret_result the call's result (the caller skips the call,
 * rax = *ret_result, and records it as any emulated call), 0 if the call
 * is not answered (go live: not a read, another object, the bytes all given
 * back), or -errno (-EFAULT: the tracee's buffer; nothing consumed).
 */
int kmerge_epoch_redeliver(struct kmerge_epoch *e, pid_t tid, int memfd, long nr, const uint64_t args[6],
			   int64_t *ret_result) _wur_;

/**
 * At checkpoint k, after kmerge_epoch_save_fds() of process @pid (traced by
 * the caller, stopped): keep the bytes waiting to be read in each pipe and
 * socket it holds, not taking them (tee(2) of a pipe through an end opened
 * anew from /proc/self/fd, recv(2) with MSG_PEEK of a socket: a unix
 * stream socket's only; another kind is noted, and refused if a re-run
 * needs it). Returns how many objects were looked at, or -errno.
 */
int kmerge_epoch_save_queues(struct kmerge_epoch *e, pid_t pid) _wur_;

/** A pipe or socket (its inode) whose bytes a re-run needs as they were. */
struct kmerge_used {
	dev_t dev;
	ino_t ino;
};

/**
 * Whether the bytes kmerge_epoch_save_queues() kept of each object of
 * @used (@nused; those it did not see were made after the checkpoint:
 * skipped) can be put back through uprr's descriptors @fds (@n of them,
 * the objects the re-run's processes get): a pipe through a write end
 * opened anew, a socket through its peer (sock_diag(7), Linux 3.3), which
 * must be among @fds. 0, or -1 with the reason in @why. Changes nothing.
 */
int kmerge_epoch_queues_check(const struct kmerge_epoch *e, const struct kmerge_used *used, size_t nused,
			      const int *fds, size_t n, char *why, size_t len) _wur_;

/**
 * Put back into each object of @used the bytes it held at the checkpoint:
 * what it holds now is read away (what the TP run wrote into it since,
 * which the re-run writes again), then the kept bytes are written in. Run
 * once nothing else holds the objects (the TP run killed). 0, or -EIO with
 * @why (an object partly refilled: the recording stops).
 */
int kmerge_epoch_queues_restore(const struct kmerge_epoch *e, const struct kmerge_used *used, size_t nused,
				const int *fds, size_t n, char *why, size_t len) _wur_;

/**
 * A pipe made anew for the one (@dev, @ino) that record @e saw at its
 * checkpoint, when that pipe itself is gone (every end of it closed since:
 * the program's own, a self-pipe a signal handler writes into): both ends
 * into @ret_ends (pipe2(2), O_CLOEXEC, uprr's), holding the bytes the old
 * one held at the checkpoint (kmerge_epoch_save_queues()). Its inode is
 * another: the caller gives the program these ends where it had the old
 * ones, and asks no queue of the old inode back. 0, or -1 with @why
 * (its bytes were not kept, or do not fit), or -errno.
 */
int kmerge_epoch_pipe_remake(const struct kmerge_epoch *e, dev_t dev, ino_t ino, int ret_ends[2], char *why,
			     size_t len) _wur_;

/** What a record holds (kmerge_epoch_stats()). */
struct kmerge_epoch_stats {
	size_t fds;		/**< descriptors saved at the checkpoint */
	size_t files;		/**< regular files the epoch wrote */
	uint64_t pre_bytes;	/**< pre-image bytes kept */
	size_t inputs;		/**< pipes, FIFOs and sockets the epoch read */
	uint64_t input_bytes;	/**< bytes it read from them, not given back yet */
};

/** What epoch @e's record holds, into *ret. */
void kmerge_epoch_stats(const struct kmerge_epoch *e, struct kmerge_epoch_stats *ret);

/** Bytes consumed in epoch @e not yet given back by kmerge_epoch_redeliver(). */
uint64_t kmerge_epoch_redeliver_left(const struct kmerge_epoch *e);
