/* SPDX-License-Identifier: MIT */
/*
 * The recorder: the supervisor that launches a program under ptrace and a
 * seccomp filter, runs its threads one at a time under sched, and writes every
 * determinant to a trace. Replay uses its emulated ptrace, address spaces,
 * syscall buffer and seccomp filters too; the syscall model is syscalls/.
 */
#pragma once

#include <sched.h>

#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/types.h>

#include "common/util.h"

/* ---- emulated ptrace between recorded processes (recorder/ptrace-emu.c) ---- */

/** How a thread traced by a recorded tracer stands, as that tracer sees it.
 * The values are written in the trace (TRACE_EV_PTRACE_STOP): fixed. */
enum rec_ptrace_stop {
	REC_PTRACE_RUNNING = 0,	 /**< not in a ptrace-stop */
	REC_PTRACE_SIGNAL_STOP = 1, /**< signal-delivery-stop: its signal waits for the tracer */
	REC_PTRACE_EXEC_STOP = 2, /**< stopped after a successful execve (ptrace(2):
				   * SIGTRAP, or PTRACE_EVENT_EXEC with PTRACE_O_TRACEEXEC) */
	REC_PTRACE_SYSCALL_ENTRY = 3, /**< syscall-entry-stop (PTRACE_SYSCALL) */
	REC_PTRACE_SYSCALL_EXIT = 4,  /**< syscall-exit-stop */
	REC_PTRACE_EVENT_STOP = 5, /**< PTRACE_EVENT_FORK, VFORK, CLONE, VFORK_DONE or
				    * EXIT stop (@event) */
	REC_PTRACE_GROUP_STOP = 6, /**< PTRACE_EVENT_STOP of a seized tracee: its
				    * first stop, PTRACE_INTERRUPT, a group-stop
				    * (si.si_signo: SIGTRAP or the stop signal) */
	REC_PTRACE_EXITED = 7,	   /**< gone; its wait status (@msg) waits for
				    * the tracer, which is not its parent */
	REC_PTRACE_CONTINUED = 8,  /**< not a stop (never rec_ptracee.stop): SIGCONT
				    * ended its group-stop while it stood in a
				    * ptrace-stop; its PTRACE_LISTEN traps again at
				    * once (JOBCTL_TRAP_NOTIFY) */
};

/** A thread a recorded process traces (ids are the recorded ones). */
struct rec_ptracee {
	pid_t tid;
	pid_t tracer;		    /**< the tracer thread */
	pid_t tracer_tgid;	    /**< and its process, whose wait4 reports the stops */
	uint64_t options;	    /**< PTRACE_O_* */
	bool seized;		    /**< PTRACE_SEIZE rather than ATTACH or TRACEME */
	enum rec_ptrace_stop stop;
	int event;		    /**< PTRACE_EVENT_* of an event stop */
	uint64_t msg;		    /**< PTRACE_GETEVENTMSG (an exited one: its wait status) */
	uint64_t seq;		    /**< stops are reported in the order they happened */
	bool syscall_stops;	    /**< resumed with PTRACE_SYSCALL */
	bool listening;		    /**< PTRACE_LISTEN: held in its group-stop, not waitable */
	bool continued;		    /**< REC_PTRACE_CONTINUED came, not yet listened */
	bool interrupt;		    /**< record: PTRACE_INTERRUPT while it ran: it
				     * traps at its next event */
	siginfo_t si;		    /**< of the stop (PTRACE_GETSIGINFO) */
	bool reported;		    /**< a wait4 returned this stop already */
	int inject;		    /**< a signal the tracer passed on from a stop that
				     * had none to deliver: raised, and delivered
				     * without stopping again */
	bool step;		    /**< resumed by PTRACE_SINGLESTEP: it runs one
				     * instruction, then stops with SIGTRAP */
};

/** The emulated tracees of a recording or a replay (owned; zero-initialised). */
struct rec_ptrace_emu {
	struct rec_ptracee *v;
	size_t n, cap;
	uint64_t seq;		    /**< of the last stop */
	/** replay: the stop a PTRACE_SEIZE makes is in the trace before the
	 * tracer's call returns and its thread becomes a tracee */
	struct rec_ptracee early;
};

/** What the emulation needs of record or replay (@ctx is theirs). */
struct rec_ptrace_ops {
	void *ctx;
	/** The live thread of recorded thread @tid: its id, its process and
	 * its process's /proc/PID/mem (O_RDWR). 0, or -ESRCH if not recorded. */
	int (*locate)(void *ctx, pid_t tid, pid_t *ret_tid, pid_t *ret_tgid, int *ret_memfd);
	/** The recorded parent process of recorded process @tid, 0 if none. */
	pid_t (*parent_of)(void *ctx, pid_t tid);
	/** Let traced thread @pt, in its emulated stop, go on, delivering @sig
	 * (0: none) with @si. 0 or -errno. */
	int (*resume)(void *ctx, const struct rec_ptracee *pt, int sig, const siginfo_t *si);
	/** Record only (NULL in replay, where the trace says): the signal of
	 * the group-stop thread @tid stands in (SIGSTOP & co.), SIGTRAP if it
	 * is held at an event, 0 if it runs (user code, a syscall in the
	 * kernel). */
	int (*stopped_sig)(void *ctx, pid_t tid);
	/** Record only (may be NULL): @pt entered a stop; tell its tracer,
	 * and with @to_trace say it in the trace (replay cannot find it alone:
	 * TRACE_EV_PTRACE_STOP). */
	void (*note)(void *ctx, const struct rec_ptracee *pt, bool to_trace);
	/** Record only (may be NULL): @pt, which runs, was interrupted
	 * (@pt->interrupt): bring it to an event soon (a syscall sleeping in
	 * the kernel is interrupted, to be restarted). */
	void (*kick)(void *ctx, const struct rec_ptracee *pt);
	/** Record only (may be NULL): the tracer resumes @pt, still in its
	 * stop, with PTRACE_SYSCALL: its process must stop at the syscalls
	 * uprr's base filter allows (rec_seccomp_stop_filter()). */
	void (*want_syscall_stops)(void *ctx, const struct rec_ptracee *pt);
};

/** One ptrace(2) call of a recorded tracer, for rec_ptrace_request(). */
struct rec_ptrace_call {
	const struct rec_ptrace_ops *ops;
	pid_t tracer, tracer_tgid; /**< the calling thread and its process */
	pid_t parent_tgid;	   /**< its parent process (PTRACE_TRACEME), 0: none recorded */
	int tracer_memfd;	   /**< its process's memory */
	bool replay;		   /**< outputs in the tracer's memory and signals to
				    * send come from the trace: only the tracee's
				    * state, memory and registers change */
	bool debugregs_taken;	   /**< uprr sets the debug registers itself (replay
				    * with --ticks=pmu): the tracer may not */
	char *why;		   /**< where to name what cannot be emulated */
	size_t why_len;
};

/**
 * Carry out ptrace(2) request @args (request, pid, addr, data as the raw
 * syscall takes them: PEEK requests store the word at data) for tracer @c:
 * TRACEME, ATTACH (sends SIGSTOP), SEIZE, INTERRUPT, LISTEN,
 * PEEKTEXT/DATA/USER, POKETEXT/DATA, POKEUSER (registers, debug registers),
 * GET/SETREGS, GET/SETFPREGS, GET/SETREGSET (any regset the kernel has),
 * GET/SETSIGINFO, GETEVENTMSG, GET_SYSCALL_INFO, SETOPTIONS (TRACESYSGOOD,
 * EXITKILL, TRACEEXEC, TRACEFORK, TRACEVFORK, TRACECLONE, TRACEVFORKDONE,
 * TRACEEXIT), CONT, SYSCALL, SINGLESTEP (@ops->resume finds pt->step set),
 * DETACH and KILL, with the kernel's error codes (ESRCH for a thread that is
 * not a stopped tracee of the caller: ptrace_check_attach(), kernel/ptrace.c;
 * EIO for INTERRUPT and LISTEN of a tracee not seized). Returns the
 * syscall's result, or -ENOTSUP with @c->why naming what is not emulated
 * (the recording stops there).
 */
int64_t rec_ptrace_request(struct rec_ptrace_emu *e, const struct rec_ptrace_call *c,
			   const uint64_t args[6]);

/** The tracee @tid, or NULL if no recorded process traces it. */
struct rec_ptracee *rec_ptrace_find(struct rec_ptrace_emu *e, pid_t tid);
/** Whether process @tracer_tgid traces some thread. */
bool rec_ptrace_has_tracees(const struct rec_ptrace_emu *e, pid_t tracer_tgid);
/**
 * Whether the delivery of @sig to thread @tid becomes an emulated stop
 * instead (ptrace(2): every signal but SIGKILL stops a tracee first). A
 * signal its tracer passed on is delivered once without (and forgotten).
 */
bool rec_ptrace_intercepts(struct rec_ptrace_emu *e, pid_t tid, int sig);
/** @tid enters a stop of kind @kind with siginfo @si (NULL: an exec's SIGTRAP). */
void rec_ptrace_enter_stop(struct rec_ptrace_emu *e, pid_t tid, enum rec_ptrace_stop kind,
			   const siginfo_t *si);
/** @tid's execve succeeded: returns true if it now stands in an exec stop. */
bool rec_ptrace_exec_stops(struct rec_ptrace_emu *e, pid_t tid);
/**
 * @tid enters stop @kind (an event stop: PTRACE_EVENT_* @event, with
 * GETEVENTMSG @msg; a group-stop: signal @sig; an exited one: wait status
 * @msg), as record saw it and the trace says (TRACE_EV_PTRACE_STOP).
 */
void rec_ptrace_set_stop(struct rec_ptrace_emu *e, pid_t tid, enum rec_ptrace_stop kind, int sig,
			 int event, uint64_t msg);
/** @tid's syscall entry (@entry) or exit was recorded: returns true if it
 * now stands in a syscall-stop (its tracer resumed it with PTRACE_SYSCALL). */
bool rec_ptrace_syscall_stops(struct rec_ptrace_emu *e, pid_t tid, bool entry);
/** @tid's vfork of @child (syscall exit recorded) returns: true if it stands in a
 * PTRACE_EVENT_VFORK_DONE stop (PTRACE_O_TRACEVFORKDONE). */
bool rec_ptrace_vfork_done_stops(struct rec_ptrace_emu *e, pid_t tid, pid_t child);
/**
 * @tid's syscall @nr (@args) returned @result, its exit recorded: returns
 * true if it now stands in a stop, the first of: its exec stop, its
 * PTRACE_EVENT_VFORK_DONE stop, its syscall-exit-stop (ptrace(2) order).
 */
bool rec_ptrace_after_syscall(struct rec_ptrace_emu *e, pid_t tid, long nr, const uint64_t args[6],
			      int64_t result);
/**
 * Thread @parent created @child with clone @flags (fork: SIGCHLD, vfork:
 * CLONE_VM | CLONE_VFORK | SIGCHLD). If @parent's tracer asked for that
 * event (PTRACE_O_TRACEFORK, VFORK, CLONE: kernel_clone(), kernel/fork.c),
 * @child is traced by it too, in its first stop (SIGSTOP, or
 * PTRACE_EVENT_STOP if seized: ptrace_init_task()), and @parent stands in
 * the event stop: returns true.
 */
bool rec_ptrace_on_clone(struct rec_ptrace_emu *e, pid_t parent, pid_t child, uint64_t flags);
/** Record: @tid, at an event, was interrupted while it ran: returns true if
 * it now stands in that PTRACE_EVENT_STOP (SIGTRAP). */
bool rec_ptrace_interrupt_due(struct rec_ptrace_emu *e, pid_t tid);
/** Whether @tid's tracer asked for its PTRACE_EVENT_EXIT stop. */
bool rec_ptrace_wants_exit_stop(struct rec_ptrace_emu *e, pid_t tid);
/** Whether @tid, gone with wait status @status, is reported to its tracer by
 * the emulation (a thread, or a process that is not the tracer's child:
 * the kernel's wait4 of the tracer cannot): it then stands EXITED. Else it
 * is forgotten. */
bool rec_ptrace_gone(struct rec_ptrace_emu *e, pid_t tid, pid_t tgid, pid_t parent_tgid, int status);
/** Tracer process @tracer_tgid's wait4 returned @pid: that stop was reported
 * (an exited tracee is forgotten). */
void rec_ptrace_reported(struct rec_ptrace_emu *e, pid_t tracer_tgid, pid_t pid);
/** A stop that a wait4(@pid, ...) of process @tracer_tgid reports now, or NULL. */
struct rec_ptracee *rec_ptrace_waitable(struct rec_ptrace_emu *e, pid_t tracer_tgid, pid_t pid);
/** The wait status of @pt's stop (W_STOPCODE, with PTRACE_EVENT_* in bits
 * 16-23, 0x80 for a syscall-stop with PTRACE_O_TRACESYSGOOD), or of its end. */
int rec_ptrace_wait_status(const struct rec_ptracee *pt);
/** Forget tracee @tid (it exited or was detached). */
void rec_ptrace_forget(struct rec_ptrace_emu *e, pid_t tid);
/** Process @tracer_tgid ended: take out one of its tracees into *ret_pt
 * (ptrace(2): they are detached; killed with PTRACE_O_EXITKILL). Returns
 * false when none is left. */
bool rec_ptrace_tracer_gone(struct rec_ptrace_emu *e, pid_t tracer_tgid, struct rec_ptracee *ret_pt);
/** Free what @e holds. */
void rec_ptrace_free(struct rec_ptrace_emu *e);

/* ---- recording ---- */

struct ticks_soft;

/**
 * An address space of a recorded or replayed process, as record and replay
 * both keep it: a process's memory, which its threads share, and a vfork
 * child (CLONE_VM without CLONE_THREAD) too until it execs or exits; the
 * counting code installed in it belongs to it.
 */
struct rec_space {
	int memfd;		 /**< /proc/PID/mem of a process using it, read-write */
	unsigned users;		 /**< thread groups using it; the caller counts them */
	struct ticks_soft *soft; /**< its counting code (soft ticks), NULL: none */
	bool syscallbuf;	 /**< the syscall buffer's fixed pages are mapped */
	bool syscallbuf_off;	 /**< and turned off (a recorded tracer traces it) */
	/** syscall sites (their syscall instruction) whose calls the buffer
	 * takes go into the library from their seccomp stop, no event
	 * (rec_syscallbuf_redirected()); malloc'd, added by the
	 * TRACE_EV_SITE_PATCH of each one's first; a new process's is empty */
	uint64_t *redirects;
	size_t nredirects, redirects_cap;
};

/**
 * Open the address space of process @pid for @sp, with one user: its memory
 * (tracee_open_mem) and, if @soft, counting state: a copy of @from's when
 * @pid was forked from it (fork(2) copies the counting code), else empty (an
 * exec). Returns 0, or -errno with nothing left open (-ENOMEM; -ESRCH and
 * the like when @pid is gone).
 */
int rec_space_open(struct rec_space *sp, pid_t pid, const struct rec_space *from, bool soft) _wur_;

/** Close what rec_space_open opened (its last user left). */
void rec_space_close(struct rec_space *sp);

struct checkpoint_copy;
struct dirty_pages;

/** A process's timers that a fork does not carry (tracee/timers.c): a
 * re-run from a checkpoint gives the interval timers again, and cannot
 * make a POSIX timer again. */
struct rec_timers {
	struct itimerval itimers[3]; /**< ITIMER_REAL, _VIRTUAL, _PROF; all zero:
				      * none armed, or not read */
	siginfo_t fired[3];	     /**< their signals pending there (a one-shot
				      * timer that went off, not taken yet: it
				      * has no value left, and the process that
				      * goes on from there must get its signal) */
	uint8_t nfired;
	bool posix;		     /**< it has a POSIX timer (timer_create(2)) */
};

/** Read process @pid's rec_timers into @ret through its thread @tid
 * (memory @memfd), stopped where syscalls can be injected
 * (tracee_itimers_get(), not disarmed; the shared queue's itimer signals,
 * PTRACE_PEEKSIGINFO; /proc/PID/timers). 0 or -errno, @ret zeroed then. */
int rec_timers_get(pid_t tid, pid_t pid, int memfd, struct rec_timers *ret);
/** Give @t's process timers @tm (a re-run going live, record-ep-live.c):
 * its interval timers set, their pending signals queued again (nothing
 * injected for none). 0 or -errno. */
int rec_timers_set(pid_t tid, pid_t pid, int memfd, const struct rec_timers *tm);

/** Who keeps a TP run's checkpoints (tp/epoch.h; doc/uniparallel.md,
 * "Epoch boundaries and checkpoints"). */
struct rec_epoch_keeper {
	void *arg; /**< passed to keep() */
	/** Take checkpoint @k of process @pid: @copy, stopped
	 * (process.h), and the pages @pid wrote in epoch k - 1, since its
	 * checkpoint k - 1 (NULL: none known, its first checkpoint); both are
	 * the keeper's from now on, to free. @timers: @pid's there, which a
	 * copy has not (read only where it armed a timer or took a signal,
	 * else none). */
	void (*keep)(void *arg, uint64_t k, pid_t pid, struct checkpoint_copy *copy,
		     struct dirty_pages *written, const struct rec_timers *timers);
	/** Free every checkpoint kept: recording stopped early, and the
	 * copies, uprr's children, must not outlive the program (uprr reaps
	 * every child before it ends). */
	void (*drop_all)(void *arg);
	/** Or NULL. Checkpoint @k taken and kept, the TP run's log flushed:
	 * every thread of the run stands where checkpoint @k has it, held,
	 * @n threads @tids of processes @tgids. Called before they go on
	 * (lock-step, tp/lockstep.h: the EP run runs meanwhile, in the same
	 * thread of uprr). Returns true for the TP run to go on, false to
	 * stop it there: its processes killed and reaped, the recording
	 * ending as at a divergence (rec_record() -EDOM, nothing said), for
	 * the caller to re-run the epoch (struct rec_rerun). */
	bool (*step)(void *step_arg, uint64_t k, const pid_t *tids, const pid_t *tgids, size_t n);
	void *step_arg; /**< passed to step() */
	/** Or NULL. Whether the TP run's epoch is to end now, not when due
	 * (overlap: the EP run ended while the TP run went on, and step()
	 * says what becomes of the TP run); true once per reason. */
	bool (*end_now)(void *step_arg);
	/** Or NULL. The TP run's thread @tid of process @tgid is about to
	 * make traced syscall @nr with @args (its entry, the kernel not run
	 * yet): what a re-run from a kept checkpoint must undo is noted
	 * (tp/epoch.c: the bytes a write overwrites, kmerge_epoch_on_entry()). */
	void (*on_call)(void *arg, pid_t tid, pid_t tgid, long nr, const uint64_t args[6]);
	/** Or NULL. The same thread's read of a pipe or socket that comes
	 * from outside the recording returned @result (its exit; @memfd
	 * its process's memory): the bytes it took are kept for a re-run
	 * from a kept checkpoint to be given them again
	 * (kmerge_epoch_on_exit()). */
	void (*on_read)(void *arg, pid_t tid, pid_t tgid, int memfd, long nr, const uint64_t args[6],
			int64_t result);
};

/** An EP run that goes along with its TP run, whose log grows as it runs
 * (lock-step, tp/lockstep.h; doc/uniparallel.md). */
struct rec_ep_follow {
	void *arg; /**< passed to each */
	/** The log holds nothing more the EP run can go on with: let the
	 * TP run go on to its next epoch end (or its end), and come back.
	 * Returns 1 when the log grew (its writer flushed; more may come),
	 * 0 when the TP run ended (the log is whole). */
	int (*more)(void *arg);
	/** The epoch checkpoint @k ends got verdict @v (1 verified, 0
	 * diverged: @why, 2 not checked, 3 diverged and rolled back: the
	 * TP run's processes took the EP run's state, stands_at()); the EP
	 * run's @n threads @tids (their ids in the log, the TP run's:
	 * @log_tids) stand at their ends of it, stopped. */
	void (*verdict)(void *arg, uint64_t k, int v, const char *why, const pid_t *tids,
			const pid_t *log_tids, size_t n);
	/** Whether the TP run's threads stand held at checkpoint @k now,
	 * every one at the end of epoch k - 1 (its processes can then take
	 * a rollback's merge: rec_ep_rollback()). */
	bool (*stands_at)(void *arg, uint64_t k);
};

/** Where each thread stood in the TP run's synchronization order at its
 * checkpoints (tp/rerun.h), for an EP run that finds more of the order
 * written than its TP run had at the end of the epoch it runs: overlap's,
 * epochs behind, and a re-run from checkpoint k, which follows the order
 * cut at k. FOLLOW is shown the order as at that end (uprr_sync_head.view,
 * record-ep.c), as lock-step's EP run finds it. */
struct rec_ep_order {
	void *arg; /**< passed to at() */
	/** The records each slot's thread had completed at checkpoint @k,
	 * into @done[0..@n). False when not kept. */
	bool (*at)(void *arg, uint64_t k, uint64_t *done, size_t n);
};

/** An EP run's checkpoints to check its epochs against (tp/epoch.h;
 * doc/uniparallel.md, "uprr record --mode=tp"): the TP run's copies, kept
 * stopped by their keeper. */
struct rec_ep_checkpoints {
	void *arg; /**< passed to find() */
	/** Checkpoint @k of the TP run's process @pid (the log's id of it):
	 * its copy, stopped, and in *@ret_written the pages @pid wrote in
	 * epoch k - 1 (NULL: not known, its first checkpoint); NULL if not
	 * kept. Both stay the keeper's. */
	struct checkpoint_copy *(*find)(void *arg, uint64_t k, pid_t pid,
					const struct dirty_pages **ret_written);
};

/** What an EP run's epoch checks found (rec_options.ep_verdicts). */
struct rec_ep_verdicts {
	uint64_t epochs;     /**< epochs of the log (its checkpoints + 1) */
	uint64_t verified;   /**< checked at their end: equal */
	uint64_t diverged;   /**< checked at their end: different */
	uint64_t unchecked;  /**< not checked (an end in user code, no copy, after a
			      * divergence, a stall) */
	uint64_t stalls;     /**< of those, threads that never all reached their ends */
	uint64_t why[32];    /**< of those, how many for each reason: indexed by
			      * enum ep_why (ep/ep.h, ep_why_name()) */
	uint64_t merged;     /**< epochs whose checkpoint was not kept (past
			      * TP_EPOCHS_CAP), checked with the next */
	uint64_t pages;	     /**< pages compared, all checks */
	uint64_t whole;	     /**< process checks that compared every writable page
			      * (pages written not known: a first check, a new
			      * restore point) */
	uint64_t library_regs; /**< threads whose registers were not compared: in
			      * their copy, in a call the syscall buffer's
			      * library made (ep_end.library) */
	uint64_t check_ns;   /**< time in the checks */
	uint64_t check_max_ns; /**< the longest */
	char first[320];     /**< the first divergence, described */
	/* rollbacks (UPRR_EP_DIVERGE: into the checkpoint's copy) */
	uint64_t rollbacks;	     /**< divergences merged into their target */
	uint64_t rollback_verified;  /**< of those, checked again: equal */
	uint64_t rollback_diverged;  /**< checked again: still different */
	uint64_t rollback_refused;   /**< not merged (a mapping differs...) */
	uint64_t rollback_live;	     /**< of the verified, merged into the TP run's
				      * processes too, which went on (lock-step) */
	uint64_t rollback_rerun;     /**< not merged into the TP run (it went on,
				      * a mapping differs...): the EP run stopped
				      * there for a re-run from that checkpoint
				      * (lock-step, record-ep-merge.c) */
	uint64_t rollback_pages_compared; /**< pages the merges compared */
	uint64_t rollback_pages_copied;	  /**< and copied */
	uint64_t rollback_threads;   /**< threads whose state was set */
	uint64_t rollback_ns;	     /**< time in the merges */
	uint64_t rollback_pages_ns;  /**< of which comparing and copying pages */
	char rollback_why[320];	     /**< the first refusal, described */
};

/** What a TP run's epochs cost and what its syscall buffer took
 * (rec_options.tp_figures; `uprr record -v` says them too). */
struct rec_tp_figures {
	uint64_t checkpoints;	/**< checkpoints taken */
	uint64_t put_off;	/**< ends put off (a thread stood at an event) */
	uint64_t given_up;	/**< ends given up: a thread reached no syscall in
				 * time (it computed): no checkpoint, no epoch */
	uint64_t pause_ns;	/**< all threads stopped to all resumed, summed */
	uint64_t pause_max_ns;	/**< the longest */
	bool buffer;		/**< the syscall buffer was on (rec_options.syscallbuf) */
	uint64_t buffered;	/**< calls it buffered (its records) */
	uint64_t patched;	/**< syscall sites redirected into its library */
};

/** Who holds a TP run's output to destinations outside the recording until
 * its epoch is verified (tp/output.h; doc/uniparallel.md, "Output commit"). */
struct rec_output_holder {
	void *arg; /**< passed to hold() */
	/** Hold @len bytes at @data (malloc'd: the holder's, even on failure)
	 * that a write of epoch @k made to @fd (a dup of the program's fd, the
	 * holder's too); @msg: a socket, one send(2) each. The write's id
	 * (> 0, for replace()) or -errno. */
	long (*hold)(void *arg, uint64_t k, int fd, bool msg, void *data, size_t len);
	/** As hold(), to the open file that process @pid's fd @fd refers to,
	 * if the holder has a dup of it already (kcmp(2) KCMP_FILE): no dup
	 * taken. -ENOENT if it has none (then @data stays the caller's), else
	 * the write's id or -errno as hold(). */
	long (*hold_same)(void *arg, uint64_t k, pid_t pid, int fd, void *data, size_t len);
	/** Hold a shutdown(2) SHUT_WR that epoch @k made of socket @fd (a
	 * dup, the holder's): after the writes held before it. 0 or -errno. */
	int (*shutdown)(void *arg, uint64_t k, int fd);
	/** An EP run: replace held write @id's bytes by @len at @data
	 * (malloc'd: the holder's, even on failure), which the EP run wrote
	 * instead. 0 or -errno (-EALREADY: released already). */
	int (*replace)(void *arg, uint64_t id, void *data, size_t len);
	/** Or NULL. When (util_now_ns()) the oldest write held and not
	 * released yet was held; 0 if none waits. An adaptive epoch's end
	 * comes soon after it (record-epoch.c, rec_options.epoch_adaptive). */
	uint64_t (*waiting)(void *arg);
};

/** What `uprr record` was asked to do. */
struct rec_options {
	char *const *argv;	/**< program and arguments */
	const char *trace_dir;	/**< trace directory to create, or NULL for the default */
	bool quiet;		/**< no progress messages */
	const char *ticks;	/**< tick source: "auto" (NULL), "soft" or "pmu" */
	bool chaos;		/**< chaos mode: random priorities and timeslices */
	uint64_t chaos_seed;	/**< seed of chaos mode's choices */
	bool kill_on_trace_error; /**< when the trace cannot be written (disk full):
				   * kill the program and fail, instead of letting
				   * it go on unrecorded */
	bool set_signals;	/**< start the program with sigmask and sigign (what
				 * uprr was started with, before it set up its own
				 * handlers), as it would start natively */
	uint64_t sigmask;	/**< signal mask, bit N-1 for signal N */
	uint64_t sigign;	/**< ignored signals; the others at their default */
	bool syscallbuf;	/**< map the in-process syscall buffer into every
				 * process (doc/syscall-buffer.md) */
	bool tp_log;		/**< a TP run (tp/tp.h): threads run at once, the
				 * trace is a log of their syscalls (mode tp-log) */
	uint32_t epoch_ms;	/**< a TP run: the epochs' length in ms (0: none);
				 * with epoch_adaptive, the longest */
	bool epoch_adaptive;	/**< a TP run: the length adapts (--epoch=auto):
				 * an end soon after a write the output holder
				 * holds, epochs twice as long after each quiet
				 * one, up to epoch_ms (record-epoch.c) */
	bool epoch_check;	/**< a TP run: check each copy against its process
				 * (ep_check_divergence()) before it goes on */
	bool epoch_anywhere;	/**< a TP run: an epoch's end may stop a thread in
				 * user code (TRACE_EPOCH_USER) when it reaches no
				 * syscall in time; without it every end is at
				 * syscalls (record-epoch.c) */
	const struct rec_epoch_keeper *epochs; /**< a TP run: who keeps the
				 * checkpoints (NULL: each is freed at once) */
	const char *tp_sync_log; /**< a TP run with epochs: the synchronization-
				 * order log its interposer writes (doc/sync-order.md),
				 * read at each end for the threads in a condition
				 * wait (record-epoch.c), or NULL */
	const struct rec_output_holder *output; /**< a TP run: who holds its
				 * external output (NULL: written at once) */
	const char *syscalls_from; /**< an EP run: the trace whose syscalls answer
				    * the program's, per thread (ep/ep.h), or NULL;
				    * implies no syscall buffer */
	const char *ep_sync_log; /**< with syscalls_from: the synchronization-order
				  * log (doc/sync-order.md) the log's run mapped
				  * MAP_SHARED at this path; mapped here privately,
				  * finished, for the interposer to follow, or NULL */
	char *divergence;	/**< with syscalls_from: where a divergence goes
				 * (one line, for the caller to say), instead of
				 * the log; NULL: logged. A TP run's: why it
				 * stopped for a re-run (rec_epoch_keeper.step) */
	size_t divergence_len;	/**< its size */
	const struct rec_ep_checkpoints *ep_checkpoints; /**< with syscalls_from:
				 * the log's checkpoints; each epoch of the log whose
				 * every thread ends at a syscall is checked against
				 * them (record-ep.c), NULL: none is */
	struct rec_ep_verdicts *ep_verdicts; /**< with ep_checkpoints: what the
				 * checks found, or NULL */
	const cpu_set_t *ep_cpus; /**< `--mode=tp`: the CPUs of its EP run
				 * (--ep-cpus), NULL: the one the TP run used least */
	const cpu_set_t *native_cpus; /**< the CPUs the program would have
				 * natively, which its sched_getaffinity(2) shows
				 * (uprr pins it to one); NULL: uprr's own affinity
				 * when the recording starts. `--mode=tp` gives its
				 * own from before it pinned itself to the EP run's
				 * CPU: the EP run's `nproc` said 1, the log's 2 */
	bool ep_overlap;	/**< `--mode=tp`: the TP run goes on while its EP
				 * run checks (--ep-overlap, rec_overlap), instead
				 * of standing at each epoch's end (lock-step) */
	const struct rec_ep_follow *ep_follow; /**< with syscalls_from: the log
				 * still grows (lock-step), or NULL: it is whole */
	const struct rec_ep_order *ep_order; /**< with syscalls_from: the order's
				 * places at the TP run's checkpoints (overlap, a
				 * re-run from checkpoint k), or NULL: FOLLOW sees
				 * the whole order */
	const struct rec_output_holder *ep_output; /**< with syscalls_from: who
				 * holds the log's run's output: a held write the
				 * EP run makes with other bytes replaces the
				 * held ones (rec_hold_replace()), or NULL: a
				 * divergence */
	struct rec_tp_figures *tp_figures; /**< a TP run: what its epochs cost
				 * and its buffer took, or NULL */
	const char *trace_mode;	/**< the header's mode (TRACE_MODE_TP for the
				 * trace of `--mode=tp`), or NULL for the default */
	struct rec_rerun *rerun; /**< with syscalls_from: where an EP run that
				 * diverges at a syscall or in the synchronization
				 * order says whether its epoch can be re-run
				 * (record-rerun.c), or NULL: not judged; a TP
				 * run's (the same): where it notes what it
				 * changed outside (tp_effect) */
	struct rec_ep_live *ep_live; /**< with syscalls_from: the re-run from
				 * checkpoint k (record-ep-live.c): the EP run
				 * follows the log to checkpoint k and goes live
				 * there, or NULL */
};

/** A descriptor the re-run from checkpoint k gives its process where it
 * goes live: one the TP run's process had at checkpoint k. */
/** An entry a re-run's process adds to an epoll instance made anew
 * (epoll_ctl(2) EPOLL_CTL_ADD of its descriptor @tfd), as the instance
 * had it at the checkpoint. */
struct rec_live_epoll_item {
	int tfd;
	uint32_t events;
	uint64_t data;
};

struct rec_live_fd {
	int fd;		/**< its number in the program */
	int ours;	/**< uprr's descriptor of the same open file description */
	bool cloexec;	/**< FD_CLOEXEC */
	char *reopen;	/**< a file of /proc: its path, opened anew by the
			 * process where it goes live, at @pos with @flags
			 * (the TP run's description shows a process gone:
			 * a read gives nothing); malloc'd, NULL: none */
	int64_t pos;
	int flags;
	struct rec_live_epoll_item *epoll_items; /**< an epoll instance made
				 * anew: the entries this process adds to it,
				 * once every descriptor is given (malloc'd) */
	size_t nepoll_items;
};

/** A signal from outside the recording that a re-run from checkpoint k
 * sends again (record-ep-live.c). */
struct rec_live_signal {
	pid_t tgid, tid;	/**< its process, and its thread (SI_TKILL) */
	siginfo_t info;		/**< as the TP run took it, or had it pending */
};

/** What one process of the TP run had at checkpoint k that its re-run
 * gets where it goes live (record-ep-live.c), taken by tp/rerun.c. */
struct rec_live_proc {
	pid_t pid;		/**< the TP run's id, the log's: the re-run's too */
	char cwd[4096];		/**< its working directory */
	unsigned umask;		/**< its umask(2) */
	struct rec_timers timers; /**< its timers, which the EP run answered
				 * from the log and so never armed */
	struct rec_live_fd *fds; /**< its descriptors, malloc'd */
	size_t nfds;
};

/**
 * rec_options.ep_live: an EP run made to re-run an epoch from its
 * checkpoint (doc/uniparallel.md, "Divergence and rollback"). Its program
 * starts with the log's process and thread ids (clone3(2)'s set_tid, Linux
 * 5.5: the TP run is gone), follows the log (its syscalls answered, its
 * synchronization in the order cut at checkpoint @k: UPRR_SYNC_HEAD_OPEN_END)
 * to where every thread stands at its end of epoch @k - 1, as the EP run
 * that diverged stood there for its check; there it gets each process's
 * kernel state (@procs: descriptors, working directory, umask), the
 * syscall buffer's library goes to recording, the log is let go, and the
 * recording goes on as an UP recording to the program's end.
 */
struct kmerge_epoch;
struct rec_ep_live {
	uint64_t k;			/**< in: the checkpoint it goes live at (>= 1) */
	pid_t root_pid;			/**< in: the log's first process */
	const struct rec_live_proc *procs; /**< in: each process's state at k */
	struct kmerge_epoch *const *inputs; /**< in: what the TP run read from
					 * pipes and sockets from outside since k
					 * (kmerge_epoch_on_exit()), given again to
					 * the re-run's first reads of them
					 * (kmerge_epoch_redeliver()) */
	size_t ninputs;
	const char *sync_cut;		/**< in: the synchronization order cut at k
					 * (tp_rerun_cut_order()), mapped where the
					 * program maps rec_options.ep_sync_log; NULL: none */
	size_t nprocs;
	const struct rec_live_signal *pending; /**< in: signals pending in the
					 * TP run's threads when it was killed (any
					 * sender: the re-run keeps those from
					 * outside), after all it took */
	size_t npending;
	bool went_live;			/**< out: it stood at checkpoint k and went live */
	unsigned fds;			/**< out: descriptors given */
	unsigned remade;		/**< in: of their objects, those made anew
					 * (a pipe the TP run closed, an epoll
					 * instance given its interest list at k) */
	unsigned signals;		/**< out: signals from outside the recording
					 * the TP run took since k, sent again */
	uint64_t switch_ns;		/**< out: what going live cost */
	char why[256];			/**< out: why it did not, "" */
	struct rec_live_accept *accepts; /**< in: the connections the TP run
					 * accepted since k, in order, given to the
					 * re-run's first accepts of their listening
					 * socket (each ours closed and -1 once given) */
	size_t naccepts;
	void (*let_go)(void *arg);	/**< in: called once it went live, every
					 * descriptor given: the caller closes its
					 * own of them (held by uprr, a pipe's write
					 * end or a connection the program closes
					 * would keep EOF or FIN from its peer);
					 * NULL: none */
	void *let_go_arg;
};

/** Whether the epoch an EP run diverged in at a syscall or in the
 * synchronization order can be re-run as an UP recording
 * (doc/uniparallel.md, "Divergence and rollback": rec_rerun_judge()). */
struct rec_rerun {
	int verdict;		/**< 0: not judged (no such divergence), 1: it
				 * can (the caller kills the TP run and records
				 * the epoch again), -1: refused (@why) */
	uint64_t epoch;		/**< the epoch it diverged in */
	bool at_end;		/**< at the epoch's end (its rollback refused:
				 * record-ep-merge.c), not at a syscall */
	char why[640];		/**< refused: why, one phrase */
	char divergence[512];	/**< the divergence, one line */
	char tp_effect[160];	/**< the TP run's first read or write that
				 * reached outside its processes (not a file's
				 * read, not to /dev/null or a pipe of its own or
				 * a file it made with O_EXCL (@files), not held),
				 * seen as it made it (its log does not tell what
				 * an fd was): "" none */
	bool shown;		/**< some of the TP run's output was shown: no
				 * re-run from the program's start can come
				 * (tp_rerun_allowed()); set by lock-step */
	uint64_t effect_epoch;	/**< 1 + the epoch of the TP run's last call
				 * like @tp_effect, or of a read or write of a
				 * pipe of its own (whose bytes a re-run from a
				 * later checkpoint would find gone or twice:
				 * not put back yet); 0: none */
	char last_effect[160];	/**< that call */
	uint64_t from;		/**< the checkpoint a re-run from a checkpoint
				 * starts at (>= 1): the last one the EP run
				 * stood at for a check, @epoch's start or
				 * before it */
	int verdict_k;		/**< the re-run from checkpoint @from: 1 it can
				 * if the output shown came from the epochs
				 * before it (record-ep-live.c, tp/rerun.c), -1
				 * refused (@why_k), 0 not judged */
	char why_k[640];	/**< refused from checkpoint @from: why */
	int chosen;		/**< tp_rerun_allowed()'s answer, once given: 1
				 * from the start, 2 from @from, -1 none; 0 not yet */
	pid_t root;		/**< the log's first process (its id in the TP run) */
	struct rec_live_signal *pending; /**< the signals the TP run's threads had
				 * pending (in the kernel, or kept by uprr for
				 * their next event) when it was killed for a
				 * re-run; malloc'd, rec_rerun_release() */
	size_t npending, pending_cap;
	struct rec_rerun_obj *objs; /**< the pipes and sockets of its own (made
				 * inside the recording) the TP run read or wrote,
				 * with the last epoch it did: a re-run from a
				 * checkpoint before that puts back the bytes
				 * they held there; malloc'd, rec_rerun_release() */
	size_t nobjs, objs_cap;
	struct rec_rerun_files *files; /**< the files the TP run made with
				 * O_CREAT | O_EXCL, the names it gave and took
				 * and its calls that changed such a file, seen
				 * as it made them (record-rerun.c), or NULL;
				 * owned: rec_rerun_release() */
	struct rec_rerun_accept *accepts; /**< the connections the TP run
				 * accepted, in the order it did: a re-run from
				 * a checkpoint before one gives it to the
				 * re-run's accept (tp/rerun.c); malloc'd,
				 * rec_rerun_release() */
	size_t naccepts, accepts_cap;
};

/** A pipe or socket the TP run read or wrote (struct rec_rerun.objs). */
struct rec_rerun_obj {
	dev_t dev;
	ino_t ino;
	uint64_t epoch;		/**< the last epoch that read or wrote it */
};

/** A connection the TP run accepted since checkpoint k, for the re-run
 * (struct rec_ep_live.accepts). */
struct rec_live_accept {
	dev_t ldev, lino;	/**< the listening socket it came from */
	int ours;		/**< uprr's descriptor of it; -1: given */
};

/** A connection the TP run accepted (struct rec_rerun.accepts). */
struct rec_rerun_accept {
	pid_t pid;		/**< the process that accepted it */
	dev_t dev, ino;		/**< the connection (stat(2) of its fd) */
	dev_t ldev, lino;	/**< the listening socket it came from */
	uint64_t epoch;		/**< the epoch it was accepted in */
};

/** Free what a TP run noted in @rr for the judge (rr->files: the
 * references it holds to the files the run made); @rr may be NULL. */
void rec_rerun_release(struct rec_rerun *rr);
/** rec_rerun_release() of *@rr, for _cleanup_(). */
void rec_rerun_releasep(struct rec_rerun **rr);

/** What preempting threads in user code cost a recording (`uprr record -v`). */
struct rec_stats {
	uint64_t preemptions;	/**< threads stopped at an execution point to switch */
	uint64_t signals_at_ticks; /**< asynchronous signals delivered at one */
	uint64_t signals_raised; /**< of those, at a point an interrupt stopped the
				  * thread at: raised again for their delivery */
	uint64_t rollbacks;	/**< runs of user code rolled back to count them */
	uint64_t patches;	/**< TRACE_EV_PATCH events (counting code installed) */
	uint64_t gave_up;	/**< runs left to reach their next event uncounted */
	uint64_t trap_ticks;	/**< ticks counted at a trap site's int3: a ptrace stop each */
	uint64_t spins;		/**< preemptions of a thread seen spinning */
	uint64_t probes;	/**< counted branches a thread stopped at to see if it spins */
	uint64_t passed_over;	/**< picks that passed over a thread that would spin again */
	uint64_t exits_at_signal; /**< syscall exits taken at a signal-delivery-stop */
	uint64_t signals_at_unblock; /**< sent while blocked, delivered after the
				      * rt_sigreturn that unblocked them */
	uint64_t unstepped;	/**< caught signals delivered without a single step */
	uint64_t runs;		/**< runs of user code started (soft ticks) */
	uint64_t points;	/**< runs that took a restore point */
	uint64_t points_alone;	/**< runs that took none: no other thread could want the CPU */
};

/**
 * Record @opts->argv into a new trace. On success stores the program's wait
 * status in *ret_status and the trace path in @dir_buf, and returns 0. When
 * the trace cannot be written any more (disk full, quota, file size limit),
 * logs one line, lets the program go on unrecorded to its end (the trace
 * keeps its whole frames) and returns 0 too, unless
 * @opts->kill_on_trace_error.
 * Returns -ENOEXEC if the program could not be executed (its errno in
 * *ret_status), -EDOM when an EP run (@opts->syscalls_from) diverged from
 * its log (the program killed; the trace holds the run up to the divergent
 * syscall's entry), or another -errno for uprr's own failures (after
 * logging one line at error level).
 */
int rec_record(const struct rec_options *opts, int *ret_status, char *dir_buf,
	       size_t dir_len) _wur_;

/**
 * Send @sig to the process rec_record() started, if it runs: to its main
 * thread (tgkill(2)) unless that thread blocks @sig (its SigBlk, proc(5)),
 * else to the process (kill(2)); kept for the next when none runs (a TP
 * run killed for a re-run: rec_forward_start()); async-signal-safe, for
 * the CLI's SIGTERM handler. Never fails.
 */
void rec_forward_signal(int sig);

/**
 * Have @fn called (outside any signal handler) when a re-run gives its
 * program again a SIGTERM that uprr forwarded to the run it replaced (at
 * its spawn, or once it went live): the CLI's bound on the program's end
 * after SIGTERM counts from then, as the re-run first had to record the
 * program to that point. NULL: none.
 */
void rec_forward_on_resent(void (*fn)(void));

/**
 * Overlap (tp/lockstep.h): the TP run and the EP run are two recorders'
 * loops in this thread of uprr, each going on while the other's events
 * are handled. A loop that would wait for the next event (waitpid(2))
 * swaps to the other instead when the other has something to do: an event
 * of its tracees came (kept for it), its timer passed, or wants() says so.
 */
struct rec_overlap {
	void *arg; /**< passed to both */
	/** Whether the run not in this thread's hands wants it though none
	 * of its events came and it waits for no timer (the EP run waiting
	 * for more of the log, which grew). */
	bool (*wants)(void *arg);
	/** Swap to the other run's loop; returns when it swaps back. */
	void (*to_other)(void *arg);
};

/**
 * Set (@ov, borrowed till it is set again) or clear (NULL: lock-step, one
 * loop runs while the other stands) the overlap of this thread's two
 * recorders. Never fails.
 */
void rec_overlap_set(const struct rec_overlap *ov);

/**
 * Ask rec_record() to end the recording (the program did not end after
 * SIGTERM): its loop kills the program, closes the trace and logs one line;
 * rec_record() then returns -ECANCELED. Async-signal-safe. Never fails.
 */
void rec_request_stop(void);

/* ---- the in-process syscall buffer (syscallbuf.c, doc/syscall-buffer.md) ---- */

/** The preload image (preload/, built apart and embedded), to be mapped at
 * UPRR_PRELOAD_ADDR. */
extern const uint8_t rec_preload_image[];
extern const size_t rec_preload_image_len;

/** The control page's flags for this machine: UPRR_CTL_FSGSBASE where the
 * kernel lets user code read the FS base (getauxval(3) AT_HWCAP2 bit 1,
 * HWCAP2_FSGSBASE, Linux 5.9). */
uint32_t rec_syscallbuf_machine_flags(void);

/**
 * At the exec stop of process @pid (@memfd: its /proc/PID/mem): map the
 * syscall buffer's fixed pages (an injected mmap(2) with
 * MAP_FIXED_NOREPLACE, Linux 4.17), write the @len bytes of @image there,
 * make them read + execute, and fill the control page for recording or
 * @replay with @flags. Returns 1 if mapped, 0 if something already lies
 * there (the process runs without the buffer), -errno.
 */
int rec_syscallbuf_map(pid_t pid, int memfd, const void *image, size_t len, bool replay,
		       uint32_t flags) _wur_;

/**
 * Make the library of the process whose /proc/PID/mem is @memfd take the
 * ptrace path for every call from now on (control page flags 0): the
 * program installed a seccomp filter of its own, which would judge the
 * library's calls (preadv2 for read...) as the program's. Returns 0 or
 * -errno.
 */
int rec_syscallbuf_disable(int memfd) _wur_;

/** Set (@on) or clear UPRR_CTL_* @flags in the control page of the process
 * whose /proc/PID/mem is @memfd (UPRR_CTL_NO_WRITES, at the same event in
 * record and replay; UPRR_CTL_EPOCH_END while a TP run's epoch end is
 * due). Writes nothing when they are so already. Returns 0 or -errno. */
int rec_syscallbuf_set_flags(int memfd, uint32_t flags, bool on) _wur_;

struct trace_event;
struct user_regs_struct;

/**
 * Apply TRACE_EV_SITE_PATCH @ev to thread @tid (@memfd: its process's
 * /proc/PID/mem), which stands at the seccomp stop of the syscall the event
 * names with registers @regs: the syscall is skipped (orig_rax -1), the
 * stub area mapped if the event creates one (an injected mmap(2)), the
 * event's bytes written, and @tid set to restart at the rewritten code with
 * the syscall's number in rax; @regs updated. The same in record and
 * replay. Returns 0 or -errno.
 */
int rec_syscallbuf_apply_patch(pid_t tid, int memfd, const struct trace_event *ev,
			       struct user_regs_struct *regs) _wur_;

/**
 * Note TRACE_EV_SITE_PATCH @ev, applied, in address space @sp: one that
 * sends its call into the library's redirect entry (no bytes) adds its site
 * to @sp->redirects, whose later calls go there from their seccomp stop with
 * no event (recorder/syscallbuf-redirect.c). The same in record and replay.
 * Returns 0 or -ENOMEM.
 */
int rec_syscallbuf_note_patch(struct rec_space *sp, const struct trace_event *ev) _wur_;

/**
 * Whether the seccomp stop with registers @regs, in address space @sp, is
 * a call the buffer takes from a site of @sp->redirects, made by the
 * syscall instruction (which loads rcx with the address after it: Intel
 * SDM, SYSCALL; the kernel saves it as pt_regs->cx, entry_64.S) of a
 * thread that has a thread key (an FS base): not an event, in record and
 * replay alike (it depends on nothing else); rec_syscallbuf_redirect_regs()
 * sends it on.
 */
bool rec_syscallbuf_redirected(const struct rec_space *sp, const struct user_regs_struct *regs);

/**
 * Send thread @tid, at such a seccomp stop with registers @regs, into the
 * library's redirect entry (UPRR_PRELOAD_ENTRY_REDIRECT): the syscall is
 * skipped (orig_rax -1 at a seccomp stop: do_syscall_64() runs nothing
 * and leaves rax as the tracer set it), rax keeps its number; @regs
 * updated. Returns 0 or -errno (-ESRCH: it vanished).
 */
int rec_syscallbuf_redirect_regs(pid_t tid, struct user_regs_struct *regs) _wur_;

/**
 * The seccomp-bpf filter of every tracee (record and replay): RET_TRACE for
 * every syscall, except those the model marks SC_UNTRACED (rt_sigreturn,
 * arch_prctl, set_robust_list: allowed) and the syscall buffer's untraced
 * instruction; rseq and clone3 fail with ENOSYS so glibc falls back to what
 * uprr models (seccomp(2), kernel 4.8+ ordering of seccomp stops after
 * syscall-entry stops). Returns a pointer to a static program.
 */
const struct sock_fprog *rec_seccomp_filter(void);

/**
 * The base filter that a trace of format @format was recorded under: up to
 * format 8, the SC_UNTRACED syscalls stopped too (every process had the
 * stop filter's effect from its start). Returns a pointer to a static program.
 */
const struct sock_fprog *rec_seccomp_filter_for(uint32_t format);

/**
 * The stop filter: RET_TRACE (REC_SECCOMP_TRACE_DATA) for the SC_UNTRACED
 * syscalls of x86-64, ALLOW for the rest. Stacked on the base filter of a
 * process whose recorded tracer asks for syscall stops, it makes them stop:
 * the kernel runs every filter and the strictest action wins
 * (seccomp_run_filters(), kernel/seccomp.c). Returns a static program.
 */
const struct sock_fprog *rec_seccomp_stop_filter(void);

/** How the stop filter was stacked (TRACE_EV_STOP_FILTER values[0]). */
enum rec_stop_filter_how {
	REC_STOP_FILTER_TSYNC = 1u << 0, /**< on every thread of the process
					  * (SECCOMP_FILTER_FLAG_TSYNC), not
					  * only the one it ran in */
	REC_STOP_FILTER_NNP = 1u << 1,	 /**< PR_SET_NO_NEW_PRIVS first: the
					  * process lacked CAP_SYS_ADMIN */
};

/**
 * Stack the stop filter on thread @tid (@memfd: its process's /proc/PID/mem,
 * O_RDWR), stopped as tracee_inject_syscall() requires, with injected
 * syscalls; the program is written below the stack's red zone and those
 * bytes are put back. With @decide (record), tries TSYNC first, sets
 * no_new_privs if the kernel asks for it (EACCES: as tracee_spawn() does for
 * the base filter) and falls back to @tid alone if a thread cannot be
 * synchronized (seccomp(2) returns its id), and stores what it did in *@how;
 * else (replay) does what *@how says. Stores seccomp(2)'s raw result in
 * *@ret_result (0: stacked). Returns 0 or -errno (-ESRCH: the thread
 * vanished).
 */
int rec_seccomp_stack_stop_filter(pid_t tid, int memfd, bool decide, unsigned *how,
				  int64_t *ret_result) _wur_;

/** The data of uprr's RET_TRACE (SECCOMP_RET_DATA, the PTRACE_EVENT_SECCOMP
 * message): a stop with other data comes from a filter of the program, which
 * wins a tie of equal actions as the newer one (seccomp_run_filters()). */
#define REC_SECCOMP_TRACE_DATA 0x7570u
/** The size a clone3(2) of the recorder's own has (a re-run's clone with
 * the log's id, recorder/record-ep-live.c): the base filter makes every
 * other clone3 fail with ENOSYS (glibc 2.36 then uses clone(2)), and the
 * kernel takes trailing zero bytes past the struct it knows. */
#define REC_CLONE3_SIZE 168u
