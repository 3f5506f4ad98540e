/* SPDX-License-Identifier: MIT */
/*
 * Epoch-parallel runs: the log an EP run answers its syscalls from
 * (doc/uniparallel.md, "the one idea"). An EP run is the uniprocessor
 * recorder with one knob changed: a syscall is not executed by the kernel;
 * its result and the bytes it wrote come from what another run of the same
 * program did, matched per thread in program order: the TP run's log, or
 * an existing uniprocessor trace (`uprr record --syscalls-from=DIR`); the
 * calls the syscall buffer made in that run are read from its records.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/util.h"
#include "trace/trace.h"

/**
 * An asynchronous signal the log delivered to a thread right after one of
 * its syscalls returned (TRACE_SIGNAL_AT_EVENT after its exit, an
 * interrupted call's -ERESTART* or -EINTR included), pending and blocked
 * since that exit until an rt_sigreturn(2) let it in
 * (TRACE_SIGNAL_AT_UNBLOCK), or instead of entering the thread's next one
 * (TRACE_SIGNAL_AT_SYSCALL).
 */
struct ep_signal {
	int sig;			   /**< the signal */
	uint32_t kind;			   /**< TRACE_SIGNAL_AT_EVENT, _AT_UNBLOCK or
					    * _AT_SYSCALL */
	uint8_t info[128];		   /**< its siginfo_t as the log delivered it */
	uint64_t rip, nr, rsp;		   /**< TRACE_SIGNAL_AT_SYSCALL: the entry it
					    * came instead of (its rip after the
					    * syscall instruction, the call, the stack
					    * pointer), 0: not known */
};

/** One syscall of one thread of the log: its entry and its exit. */
struct ep_call {
	long nr;			   /**< the syscall */
	uint64_t args[6];		   /**< its arguments */
	uint64_t rip;			   /**< a traced call's rip at its entry (past
					    * its syscall instruction: where the log's
					    * run made it, a program's site or the
					    * buffer's library); 0 for a buffered one */
	uint32_t nin;			   /**< ranges of bytes it passed out */
	struct trace_blob *in;		   /**< (the entry's blobs), owned by the log */
	bool exited;			   /**< an exit came (exit(2) and a successful
					    * execve(2) have none) */
	int64_t result;			   /**< its result, if exited */
	uint32_t nvalues;		   /**< the exit event's values */
	uint64_t values[TRACE_MAX_VALUES];
	uint32_t nout;			   /**< ranges of memory the kernel wrote */
	struct trace_blob *out;		   /**< (the exit's blobs), owned by the log */
	pid_t child;			   /**< the log's id of the thread or process it
					    * created (clone, fork), else 0 */
	uint32_t nsent;			   /**< its TRACE_EV_OUTPUT events (bytes it sent
					    * to uprr's output or a socket that were not
					    * in memory: sendfile...), before its exit */
	struct trace_event *sent;	   /**< (their blobs owned by the log) */
	uint32_t nsigs;			   /**< signals delivered after its exit (in
					    * the kernel's order: the first where the
					    * thread's mask let it in, the others at
					    * the first's handler), or the one
					    * delivered before the thread's next call */
	struct ep_signal *sigs;		   /**< (owned by the log) */
	uint32_t nexit;			   /**< of them, the first @nexit delivered at
					    * its exit (TRACE_SIGNAL_AT_EVENT,
					    * _AT_UNBLOCK); the rest, at most one,
					    * instead of entering the next call
					    * (TRACE_SIGNAL_AT_SYSCALL): a periodic
					    * timer's that came again while the first's
					    * handler ran */
	uint64_t logged;		   /**< the thread's syscalls the log counted up
					    * to its end (traced exits and buffered
					    * records, left-out ones included: the
					    * count of TRACE_EV_EPOCH's values[1]) */
	/* a call the syscall buffer made (TRACE_EV_SYSCALLBUF, ep/syscall-log-sb.c) */
	bool buffered;			   /**< from a buffered record: @in is one blob at
					    * address 0, the bytes it passed one after
					    * the other (the record does not say where
					    * each was), compared as bytes */
	bool hashed;			   /**< those bytes are kept as @hash only
					    * (TRACE_SB_HASHED) */
	uint32_t passed;		   /**< how many bytes it passed out */
	struct trace_sb_hashed hash;	   /**< if @hashed */
	uint8_t scatter;		   /**< enum ep_scatter: outputs that depend on
					    * the program's memory */
	/* an EP run's syscall buffer answers it in-process
	 * (recorder/record-ep-sb.c) */
	uint8_t *sb_rec;		   /**< its record as the library wrote it
					    * (sc_sb_expand()), owned by the log; NULL:
					    * it is never put in a buffer (an attempt's
					    * call, the rest of a write traced, a
					    * mapping change, bytes sent not in memory) */
	uint32_t sb_size;		   /**< its bytes */
	uint32_t sb_sink;		   /**< its u32 of the EP trace's blobs[1]: where
					    * its bytes went, TRACE_SB_HASHED (a read by
					    * reference is kept whole) */
	uint64_t sb_seq;		   /**< the thread's syscalls the log counted
					    * before it: a record that follows it at
					    * once has sb_seq + 1 */
};

/**
 * Outputs of a buffered call the record holds, but not where they go: that
 * is in the program's memory, read at the call (ep_call_outputs()).
 */
enum ep_scatter {
	EP_SCATTER_NONE = 0,	/**< @out says where */
	EP_SCATTER_IOV,		/**< readv, preadv: out[0]'s bytes over the iovecs
				 * at args[1] (args[2] of them) */
	EP_SCATTER_RECVMSG,	/**< recvmsg: out[0] is the record's data (the
				 * library's msghdr, iovec, name, bytes), given
				 * out as the library gives it (preload/
				 * buffered-wait.c) through the msghdr at args[1] */
	EP_SCATTER_ADD_OFFSET,	/**< sendfile: the result added to the offset at
				 * args[2] */
};

/** Where a thread of the log stood at an epoch's end (TRACE_EV_EPOCH of a
 * TP log), as an EP run finds the same point. */
enum ep_end_at {
	EP_END_USER = 1,   /**< in user code: not found yet (not checked) */
	EP_END_ENTRY,	   /**< at the entry of its matched call @idx, interrupted
			    * there (the copy rewound it to enter it again) */
	EP_END_FUTEX,	   /**< at the entry of a call left out of matching
			    * (futex), after @idx matched calls: @nr, @args and
			    * @rip say which */
	EP_END_EXIT,	   /**< after the exit of its matched call @idx (it had
			    * just ended when its thread was stopped) */
	EP_END_UNKNOWN,	   /**< a point an EP run cannot find (just after a call
			    * left out of matching) */
	EP_END_SYNC,	   /**< in a condition wait or a mutex lock of
			    * libuprr-sync's (in, or at the entry of, glibc's futex
			    * wait in it), after @idx matched calls: an EP run
			    * finds it in libuprr-sync's wait for the
			    * acquisition's record @sync_rec - 1
			    * (UPRR_SYNC_WAIT_MAGIC) */
};

/**
 * Why an epoch is not checked: where a thread of the log stood at its end,
 * when an EP run cannot find that point (ep_end.why), then the EP run's
 * own reasons (recorder/record-ep-check.c). Counted by name in
 * TRACE/tp-info and `uprr info` (ep_why_name()).
 */
enum ep_why {
	EP_WHY_NONE = 0,	/**< found, or not known yet */
	EP_WHY_USER,		/**< a thread stood in user code (`--epoch-anywhere`) */
	EP_WHY_IN_BUFFERED,	/**< a thread stood inside a buffered call (its
				 * records counted in place, no traced entry shows it) */
	EP_WHY_LIBRARY,		/**< held at the entry of a traced call the syscall
				 * buffer's library makes, in an EP run without the
				 * buffer (`UPRR_EP_SYSCALLBUF=0`) */
	EP_WHY_LIBRARY_FRAMES,	/**< held at the entry of a traced call of the
				 * library not called from a patched site: its
				 * frames, which differ between the runs by design,
				 * cannot be told from the program's */
	EP_WHY_INTERPOSER,	/**< held at the entry of a library call made
				 * inside libuprr-sync.so, whose frames take other
				 * paths in the TP run and in FOLLOW */
	EP_WHY_REDIRECTED,	/**< held at a program's site whose call the
				 * library then took over (an unpatched site
				 * redirected): the copy stands at the site, an EP
				 * run at the library's call */
	EP_WHY_LIBRARY_FUTEX,	/**< in, or held at the entry of, a private
				 * futex(2) wait the syscall buffer's library makes
				 * (a lock's or condition variable's word): an EP
				 * run, whose pthread calls follow the TP run's
				 * order, does not wait there */
	EP_WHY_UNMATCHED,	/**< at a call left out of matching that is not
				 * futex(2) (sched_yield(2)) */
	EP_WHY_AFTER_FUTEX,	/**< just after a futex(2) call that had ended */
	EP_WHY_EXIT_FIRST,	/**< held at an entry, the log's next event an exit */
	EP_WHY_BEFORE_BUFFERED, /**< held at an entry, the log's next call buffered */
	EP_WHY_NO_CALL,		/**< at a syscall the log shows no call for */
	EP_WHY_LOADER,		/**< epoch 0: the loader keeps cpuid(1)'s APIC id */
	EP_WHY_DIVERGED,	/**< after a divergence not rolled back */
	EP_WHY_NO_COPY,		/**< a process was not copied (not uprr's child) */
	EP_WHY_NO_END,		/**< no thread ended it */
	EP_WHY_STALL,		/**< its threads did not all reach their ends */
	EP_WHY_PASSED,		/**< a thread went past its end */
	EP_WHY_CHECK_FAILED,	/**< the check itself failed (a copy gone) */
	EP_WHY_PROGRAM_EXIT,	/**< it ends at the program's exit_group: the
				 * memory it leaves goes with the process */
	EP_WHY_N
};

/** The short name of @why ("user-code", "after-futex", ...), static. */
const char *ep_why_name(enum ep_why why);

/** One thread's end of one epoch. */
struct ep_end {
	uint64_t k;	   /**< the checkpoint that ends the epoch (1, 2, ...) */
	uint32_t at;	   /**< enum ep_end_at */
	uint32_t why;	   /**< EP_END_USER, EP_END_UNKNOWN: enum ep_why */
	size_t idx;	   /**< see enum ep_end_at */
	long nr;	   /**< EP_END_FUTEX: the call's number, */
	uint64_t args[6];  /**< its arguments */
	uint64_t rip;	   /**< and where it was made (at its entry) */
	pid_t copy;	   /**< the copy that is checkpoint k of its process, 0: none */
	uint64_t seq;	   /**< the end's place among all ends of the log (the order
			    * of the copy's threads) */
	uint32_t nwrote;   /**< EP_END_ENTRY: ranges the interrupt's exit wrote
			    * (clock_nanosleep(2)'s time left), which the copy
			    * holds and an EP run at the entry does not yet */
	uint64_t *wrote;   /**< as pairs (address, length), owned by the log */
	uint64_t sync_rec; /**< in a condition wait or a lock (TRACE_EV_EPOCH
			    * values[5]): the record its acquisition is in its
			    * slot of the sync-order log, + 1; 0: not in one */
	uint64_t sync_frame; /**< then: where the return address of the program's
			      * call into the interposer is (pthread_cond_*wait(3),
			      * pthread_mutex_lock(3): the frames below it are the
			      * interposer's and glibc's) */
	uint64_t sync_cond;  /**< the condition variable, 0 for a lock */
	uint64_t sync_mutex; /**< the mutex given up, or waited for */
	bool exit_group;   /**< held at the entry of exit_group(2): an end the
			    * TP run took there (rec_epoch_end_at_exit()) */
	bool library;	   /**< EP_END_ENTRY, EP_END_EXIT, EP_END_FUTEX: a traced
			    * call the syscall buffer's library made for the
			    * program's (the blocking call after an attempt that
			    * could not wait): the EP run, without the buffer,
			    * makes it at the program's site, the copy's thread
			    * stands in the library's frame (its registers the
			    * library's, @rip not the site's) */
};

struct ep_log;

/**
 * Read the trace in @dir whole into a log of each thread's syscalls, in
 * program order, leaving out futex(2) and sched_yield(2), which an EP run
 * executes and does not match (sc_ep_unmatched()). On failure writes one
 * line into @err: a trace that cannot be read, one recorded with the
 * syscall buffer that made a call an EP run cannot answer yet
 * (ep/syscall-log-sb.c) or with an asynchronous signal an EP run cannot deliver at the same point
 * yet: one delivered in user code (at ticks or registers), after a futex(2) or
 * sched_yield(2), or a second one at the same point. Returns 0 or -errno
 * (-ENOTSUP for those). A call's exit with -ERESTART* that no signal's
 * delivery follows (a TP run's epoch interrupted it; the kernel's restart
 * of it, the same call or restart_syscall(2), is its next entry: see
 * arch_do_signal_or_restart() in the kernel) is folded with that restart
 * into one call: the first entry's arguments, the last exit's result.
 */
int ep_log_open(const char *dir, struct ep_log **ret_log, char *err, size_t errlen) _wur_;

/**
 * ep_log_open() of a log that still grows: the TP run's, read by the EP
 * run that goes along with it (`uprr record --mode=tp`, lock-step,
 * doc/uniparallel.md): what it holds so far (its writer flushes at each
 * epoch end), read on with ep_log_more(). A thread's calls never move in
 * memory (an EP run keeps pointers to them).
 */
int ep_log_open_follow(const char *dir, struct ep_log **ret_log, char *err, size_t errlen) _wur_;

/**
 * Read what was appended to a log opened with ep_log_open_follow() since
 * the last read; @whole: its writer is done, it is read to its end (what
 * ep_log_open() would do then). A no-op for another log, or one read
 * whole. Returns 0 or -errno with one line in @err.
 */
int ep_log_more(struct ep_log *log, bool whole, char *err, size_t errlen) _wur_;

/** Whether @log is read whole (not a growing one, or its writer done). */
bool ep_log_whole(const struct ep_log *log);

/**
 * Whether every thread's end at checkpoint @k is known: the log holds
 * checkpoint @k and what follows each end that says where it stands (the
 * exit after an end in a call: interrupted or ended; the entry after one
 * held at a call's entry). In a log read whole, every end it holds is.
 */
bool ep_log_ends_known(const struct ep_log *log, uint64_t k);

/**
 * The address ranges the log's successful mmap(2) and mremap(2) calls
 * returned, as pairs (start, end), sorted and merged, into *@ret_n pairs; owned
 * by @log (computed when it was read). An EP run maps there when its
 * program does: nothing of uprr's may stand there first.
 */
const uint64_t *ep_log_mapped(const struct ep_log *log, size_t *ret_n);

/** A mapping of syscall stubs the log's run made for the syscall buffer
 * (TRACE_EV_SITE_PATCH's values[1], values[2]): uprr's, not the program's. */
struct ep_stub_area {
	pid_t log_tid;	/**< the thread whose patch mapped it (the log's id) */
	uint64_t addr, len;
};

/**
 * The stub mappings of the log's run, in the log's order, into *@ret_n;
 * owned by @log. An EP run, without the buffer, patches no site and maps
 * none: its checks leave them out of the TP run's copies.
 */
const struct ep_stub_area *ep_log_stubs(const struct ep_log *log, size_t *ret_n);

/**
 * Where the log's run put the stub of the syscall site whose rewritten
 * bytes start at @start (TRACE_EV_SITE_PATCH's values[3] and blobs[0]):
 * its address into *@ret_stub, true; false if the log read so far patched
 * no such site. The first such patch (a site patched again in another
 * process, after an exec, has its own). An EP run that puts its stub there
 * too has the same return address on the stack while the library runs a
 * call from the site: a signal handler's frames above it at an epoch's end
 * hold it.
 */
bool ep_log_site_stub(const struct ep_log *log, uint64_t start, uint64_t *ret_stub);

/** Free @log (NULL accepted). */
void ep_log_free(struct ep_log *log);

/** The log's id of the process it starts with (its first exec). */
pid_t ep_log_root(const struct ep_log *log);

/**
 * The log's initial image (its first exec): the stack from its stack
 * pointer to its end (argv, environment, auxv, AT_RANDOM bytes) into
 * *ret_stack and the registers (TRACE_NREGS words, in the order of struct
 * user_regs_struct) into *ret_regs; both owned by @log.
 */
void ep_log_image(const struct ep_log *log, const struct trace_blob **ret_stack,
		  const uint64_t **ret_regs);

/**
 * The kept copy of the executable the log's first process ran (openable as
 * is) into *ret_copy, owned by @log. Returns 0 or -ENOENT.
 */
int ep_log_exe(struct ep_log *log, const char **ret_copy) _wur_;

/**
 * The image of the next exec of process @log_tid of the log after its
 * first one (a child's exec, or the program's of another): its initial
 * stack into *ret_stack, its registers (TRACE_NREGS words, in the order of
 * struct user_regs_struct) into *ret_regs and the kept copy of its
 * executable into *ret_exe, all owned by @log, and that copy's file id
 * (ep_log_file()) into *ret_id. Returns 0, or -ENOENT when the log has no
 * more.
 */
int ep_log_take_exec(struct ep_log *log, pid_t log_tid, const struct trace_blob **ret_stack,
		     const uint64_t **ret_regs, const char **ret_exe, uint32_t *ret_id) _wur_;

/**
 * The kept copy of the executable of the next exec of process @log_tid
 * that ep_log_take_exec() would give, into *ret_exe (owned by @log),
 * without taking it. Returns 0, or -ENOENT when the log has no more.
 */
int ep_log_exec_copy(struct ep_log *log, pid_t log_tid, const char **ret_exe) _wur_;

/**
 * The next call of thread @log_tid of the log, which becomes its current
 * one; NULL when the thread made no more. The call is owned by @log.
 */
const struct ep_call *ep_log_take(struct ep_log *log, pid_t log_tid);

/**
 * Compare a call a thread makes (@nr, @args, the @nin ranges of bytes @in
 * it passes out) with the log's @c. Returns 0 if they match, else -1 with
 * what differs, one phrase, in @why ("argument 2 is 0x10, the log has
 * 0x20").
 */
int ep_call_check(const struct ep_call *c, long nr, const uint64_t args[6],
		  const struct trace_blob *in, uint32_t nin, char *why, size_t len);

/**
 * Write the memory the kernel wrote in @c's run into the process whose
 * /proc/PID/mem is @memfd, as a call answered from the log: @c->out, and
 * for a buffered call what goes where the program's memory says
 * (enum ep_scatter). Returns 0, or -errno with the address that failed in
 * *@ret_addr.
 */
int ep_call_outputs(const struct ep_call *c, int memfd, uint64_t *ret_addr) _wur_;

/**
 * The kept copy of file @id of the log's trace (openable as is) and the
 * path it had when recorded, owned by @log. Returns 0 or -ENOENT.
 */
int ep_log_file(struct ep_log *log, uint32_t id, const char **ret_copy,
		const char **ret_original) _wur_;
/** The first version of the file whose version @id is, in the log's trace
 * (trace_reader_file_first()). Returns 0 or -ENOENT. */
int ep_log_file_first(struct ep_log *log, uint32_t id, uint32_t *ret_first) _wur_;

/**
 * Say that thread @tid of the EP run is thread @log_tid of the log: its
 * syscalls are answered from that thread's, and the new trace names it
 * @log_tid (as replay keeps rec_tid <-> tid). Returns 0 or -ENOMEM.
 */
int ep_log_map_tid(struct ep_log *log, pid_t tid, pid_t log_tid) _wur_;

/**
 * Call @i after the next one ep_log_take() gives of thread @log_tid (0:
 * that one), not taken; NULL past its last. Owned by @log.
 */
const struct ep_call *ep_log_peek(const struct ep_log *log, pid_t log_tid, size_t i);
/** Whether the log's run had the syscall buffer (its first exec mapped it). */
bool ep_log_syscallbuf(const struct ep_log *log);
/** The EP run's id of thread @log_tid of the log, 0 if it has none yet. */
pid_t ep_log_tid_of(const struct ep_log *log, pid_t log_tid);

/** The log's id of thread @tid of the EP run, 0 if it has none. */
pid_t ep_log_tid(const struct ep_log *log, pid_t tid);

/**
 * The epoch ends of thread @log_tid of the log, in order of k, into
 * *@ret_n; owned by @log. A TP log with epochs has one per thread alive
 * at each checkpoint.
 */
const struct ep_end *ep_log_ends(const struct ep_log *log, pid_t log_tid, size_t *ret_n);

/** The number of the log's last checkpoint (0: no epochs). */
uint64_t ep_log_checkpoints(const struct ep_log *log);

/** The log's threads: how many, and the id of the @i-th. */
size_t ep_log_nthreads(const struct ep_log *log);
pid_t ep_log_thread(const struct ep_log *log, size_t i);

/** How many matched calls of thread @log_tid the EP run took so far
 * (ep_log_take()). */
size_t ep_log_taken(const struct ep_log *log, pid_t log_tid);

/**
 * The next rdtsc or rdtscp values of thread @log_tid of the log (its
 * TRACE_EV_RDTSC events in order: rax, rdx, rcx) into @ret: an EP run's
 * counter reads are the log's run's, as replay's are the recording's.
 * Returns 0, or -ENOENT when the thread read it no more times.
 */
int ep_log_take_tsc(struct ep_log *log, pid_t log_tid, uint64_t ret[3]) _wur_;

/** The @idx-th matched call of thread @log_tid, NULL if none. */
const struct ep_call *ep_log_call(const struct ep_log *log, pid_t log_tid, size_t idx);

/**
 * Whether the log read so far holds every signal delivered after the exit
 * of call @c of thread @log_tid (ep_call.sigs): they come between that exit
 * and the thread's next call, rdtsc or buffered record, so they are all
 * read once one of those is, or an epoch's end of the thread after that
 * exit, once @c is not the thread's last call, or once the log is whole. A TP run's epoch end at that exit (its thread stopped
 * there, the call had ended) is logged before them: an EP run that follows
 * the log as it grows (ep_log_open_follow()) reads on before it lets the
 * thread past the exit. True for a call that is not @log_tid's last.
 */
bool ep_log_exit_settled(const struct ep_log *log, pid_t log_tid, const struct ep_call *c);
