/* SPDX-License-Identifier: MIT */
/*
 * Whole-process copies of a multithreaded tracee (DESIGN.md, "Uniparallel
 * execution"; issue 15, deliverable 2): a fork of the process injected into
 * one of its threads, in which every other thread is recreated with its
 * registers, FS and GS base, XSAVE state, signal mask, robust list, clear-tid
 * address, alternate signal stack, rseq(2) registration, name and CPU
 * affinity. The copy stays stopped, traced by us,
 * until resumed; a copy may be copied again. What the copy shares with the
 * original in the kernel is in doc/checkpoints.md. A respawn is a copy whose
 * threads get chosen ids: those of the process a copy was taken from.
 */
#pragma once

#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "common/util.h"

/** The per-thread state a copy recreates, as read from a stopped thread
 * (the rseq registration: PTRACE_GET_RSEQ_CONFIGURATION, Linux 5.13). */
struct checkpoint_thread {
	pid_t tid;			  /**< the thread */
	struct user_regs_struct regs;	  /**< general registers, FS and GS base included */
	uint8_t *xstate;		  /**< XSAVE area (malloc'd), arch_xstate_size() at most */
	size_t xstate_len;		  /**< its length in bytes */
	uint64_t sigmask;		  /**< blocked signals, bit N-1 for signal N */
	uint64_t robust_head;		  /**< get_robust_list(2) head (0: none) */
	uint64_t robust_len;		  /**< and its length */
	uint64_t clear_tid;		  /**< set_tid_address(2) / CLONE_CHILD_CLEARTID address */
	stack_t altstack;		  /**< sigaltstack(2) as the thread reports it */
	char comm[16];			  /**< its name (/proc/TID/comm; PR_SET_NAME) */
	cpu_set_t affinity;		  /**< sched_getaffinity(2) */
	uint64_t rseq_addr;		  /**< registered rseq(2) area (0: none) */
	uint32_t rseq_len;		  /**< its length */
	uint32_t rseq_sig;		  /**< and its abort signature */
	bool rewound;			  /**< stopped at a syscall's entry: see checkpoint_thread_get() */
};

/**
 * Read the state of thread @tid of a process whose threads are all stopped;
 * @memfd is /proc/PID/mem of its process, O_RDWR. The clear-tid address and
 * the alternate signal stack have no ptrace interface: they are read by
 * prctl(PR_GET_TID_ADDRESS) (CONFIG_CHECKPOINT_RESTORE) and sigaltstack(2)
 * injected into the thread (tracee_inject_syscall()), with 64 bytes below its
 * red zone as scratch, put back after. The thread is left in a
 * signal-delivery-stop for SIGTRAP, to be resumed with signal 0.
 *
 * A thread at a syscall-entry stop (PTRACE_SYSCALL, or a seccomp stop; told
 * by PTRACE_GET_SYSCALL_INFO, Linux 5.3) cannot take an injected syscall
 * without losing its own: it is rewound first, as the kernel rewinds a
 * syscall it restarts (arch_do_signal_or_restart(), arch/x86/kernel/signal.c):
 * rip back over the 2-byte syscall instruction, rax = orig_rax, orig_rax =
 * -1. Resumed, it executes that syscall again from user mode (and stops at
 * its entry again); *ret's regs and rewound say so.
 * Fills *ret (release with checkpoint_thread_done()). Returns 0 or -errno
 * (-ESRCH: the thread vanished).
 */
int checkpoint_thread_get(pid_t tid, int memfd, struct checkpoint_thread *ret) _wur_;

/** Free what checkpoint_thread_get() allocated in @t. */
void checkpoint_thread_done(struct checkpoint_thread *t);

/**
 * Give stopped thread @tid (of the process whose /proc/PID/mem is @memfd,
 * O_RDWR) the state @want read from another thread (checkpoint_thread_get()),
 * @now being its own, read the same way: only what differs of the robust
 * list (set_robust_list(2)), the clear-tid address (set_tid_address(2)), the
 * alternate signal stack (sigaltstack(2), refused with -EPERM while the
 * thread runs on its own: sigaltstack(2)), the rseq(2) registration (the old
 * one unregistered first: a thread has one at most, -EBUSY otherwise,
 * kernel/rseq.c) and the name is set, by syscalls injected into @tid
 * (tracee_inject_syscall()); then, always, the general registers (a
 * syscall interrupted with a restart code rewound to run again, orig_rax
 * -1, as checkpoint_copy_new() does), the XSAVE state and the signal mask.
 * The CPU affinity is left as it is: it is where the supervisor runs the
 * thread, not the program's state. The thread is left in a
 * signal-delivery-stop for SIGTRAP. Returns 0 or -errno (-ESRCH: the thread
 * vanished).
 */
int checkpoint_thread_set(pid_t tid, int memfd, const struct checkpoint_thread *now,
			  const struct checkpoint_thread *want) _wur_;

/** A stopped copy of a traced process. */
struct checkpoint_copy;

/**
 * Copy process @pid: every thread of it must be in @tids (@n of them, the
 * forking thread first) and stopped by the caller in a ptrace stop (a
 * signal-delivery-stop, PTRACE_EVENT_STOP, a syscall-exit-stop, or a
 * syscall-entry or seccomp stop, which checkpoint_thread_get() rewinds);
 * @memfd is /proc/PID/mem, O_RDWR, the caller's.
 *
 * The copy is clone(CLONE_PARENT | CLONE_PTRACE | SIGCHLD) injected into
 * tids[0]: our child if @pid is (the program's wait(2) never sees it), traced
 * with TRACEE_PTRACE_OPTIONS (those of every tracee), seccomp filters and
 * all. The kernel copies the forking thread; each other thread is an
 * injected clone(2) with pthread_create()'s flags, then gets its state set.
 * In the copy, a thread whose syscall was interrupted with -ERESTARTSYS,
 * -ERESTARTNOINTR, -ERESTARTNOHAND or -ERESTART_RESTARTBLOCK
 * (PTRACE_INTERRUPT of a blocking syscall) is rewound to execute it again, with its original arguments (for
 * -ERESTART_RESTARTBLOCK too: a relative timeout starts over, where the kernel
 * would have gone on with restart_syscall(2)); orig_rax is -1 in every copied
 * thread. Signals pending in the original are not copied.
 *
 * A thread at its PTRACE_EVENT_EXIT stop cannot be copied (it takes no
 * injected syscall: -ESRCH); the caller lets it exit first.
 *
 * The threads of @pid are left in signal-delivery-stops for SIGTRAP (resume
 * them with signal 0), the copy's in PTRACE_EVENT_STOP or SIGTRAP stops,
 * until checkpoint_copy_resume(). Stores the copy in *ret. Returns 0 or
 * -errno.
 */
int checkpoint_copy_new(pid_t pid, int memfd, const pid_t *tids, size_t n,
			struct checkpoint_copy **ret) _wur_;

/** The copy's pid (its first thread, the fork of tids[0]). */
pid_t checkpoint_copy_pid(const struct checkpoint_copy *c);

/** The copy's thread ids, index for index those given to checkpoint_copy_new(). */
const pid_t *checkpoint_copy_tids(const struct checkpoint_copy *c, size_t *ret_n);

/** Where the time of one checkpoint_copy_new() went, in nanoseconds
 * (CLOCK_MONOTONIC); the parts add up to the whole call. */
struct checkpoint_copy_times {
	uint64_t read_ns;   /**< reading every thread's state, query_ns included */
	uint64_t query_ns;  /**< of which the injected syscalls that read the clear-tid
			     *   addresses and alternate signal stacks */
	uint64_t fork_ns;   /**< the injected fork, to the copy's first stop */
	uint64_t clone_ns;  /**< the other threads' injected clones, to their first stops */
	uint64_t set_ns;    /**< giving the copy's threads their originals' state */
};

/** What making copy @c took, into *@ret. */
void checkpoint_copy_times(const struct checkpoint_copy *c, struct checkpoint_copy_times *ret);

/** /proc/COPY/mem, O_RDWR, owned by @c. */
int checkpoint_copy_mem(const struct checkpoint_copy *c);

/**
 * Let the copy run: PTRACE_CONT of each of its threads, with signal 0. Once
 * resumed, its stops and exits are the caller's to wait for. Call it once.
 */
void checkpoint_copy_resume(struct checkpoint_copy *c);

/**
 * Kill the copy (SIGKILL) and reap every thread of it still there, then free
 * @c. Threads already reaped by the caller are fine (ECHILD). NULL accepted.
 */
void checkpoint_copy_free(struct checkpoint_copy *c);

/**
 * Free @c and leave its process to the caller as it stands (stopped, traced
 * by us): the caller now owns it, as a process it started, and kills or
 * resumes it itself. For a copy that goes on as the program
 * (checkpoint_copy_respawn(), recorder/record-respawn.c). NULL accepted.
 */
void checkpoint_copy_release(struct checkpoint_copy *c);

/**
 * Respawn a process with chosen ids: the same as checkpoint_copy_new() of
 * stopped process @pid (its threads @tids, @n of them, /proc/PID/mem
 * @memfd: the same conditions, the same states given to the new threads,
 * one mechanism), except that thread i of the new process is created with
 * id ids[i] (clone3(2) with set_tid, Linux 5.5), ids[0] being its pid. Made
 * for rollback (doc/uniparallel.md, "Divergence and rollback"): @pid is a
 * stopped copy, @ids the ids of the process it was copied from, whose
 * threads the copy's memory names.
 *
 * Like any copy, the new process is forked with CLONE_PARENT (its parent is
 * @pid's, which a copy shares with its source, and so is its exit signal:
 * the kernel gives a CLONE_PARENT child its caller's leader's,
 * copy_process(), kernel/fork.c) and CLONE_PTRACE: traced by us, left
 * stopped (PTRACE_EVENT_STOP or SIGTRAP stops) until
 * checkpoint_copy_resume(). It shares @pid's open file descriptions, as a
 * fork does; its process group and session are @pid's. @pid is left as it
 * was, its threads in signal-delivery-stops for SIGTRAP: the caller frees or
 * kills it (a copy left running would move the shared offsets).
 *
 * The ids must be free: the caller kills the process that had them and
 * reaps every thread of it first. An id stays taken while it names a task,
 * a zombie unreaped, or a process group or session with members
 * (free_pid(), kernel/pid.c). A copy is in its source's group and session:
 * when the source led its group, @pid is moved to a group of its own
 * (setpgid(2), injected) for the respawn, which then leads a new group of
 * ids[0] that @pid rejoins; if other processes are left in the group, it
 * stays taken (-EEXIST, @pid back in it). A source that led its session
 * cannot be respawned (setsid(2) would lose the terminal: -EEXIST), nor
 * one whose group is its terminal's foreground group (the terminal would
 * keep naming the dead group: -EBUSY).
 *
 * The ids are those of our pid namespace, and must be those of @pid's:
 * set_tid is given for the innermost namespace only (set_tid_size 1);
 * -EOPNOTSUPP otherwise (also when thread tids[0] unshared CLONE_NEWPID).
 * The privilege is @pid's, the caller of the injected clone3(2):
 * CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE (Linux 5.9) over the namespace's
 * user namespace (alloc_pid(), kernel/pid.c).
 *
 * Stores the new process in *ret (its tids, checkpoint_copy_tids(), are
 * @ids). Returns 0 or -errno: -EEXIST if an id is taken (*ret_taken, if not
 * NULL, is then set to it, by exception to the rule that output parameters
 * are untouched on failure; what holds it is logged at debug level),
 * -EBUSY (above), -EPERM if @pid lacks the privilege, -EOPNOTSUPP (above),
 * -EINVAL for ids not distinct and positive or a thread missing from
 * @tids, -ESRCH if a thread vanished. On failure, whatever part of the new
 * process was made is killed and reaped.
 */
int checkpoint_respawn(pid_t pid, int memfd, const pid_t *tids, const pid_t *ids, size_t n,
		       pid_t *ret_taken, struct checkpoint_copy **ret) _wur_;

/**
 * Whether process @pid's ids could be respawned once it is gone, as far as
 * its group and session say (checkpoint_respawn(), asked before the caller
 * kills it): 0, -EEXIST if it leads its session, -EBUSY if it leads its
 * terminal's foreground group, or -errno reading /proc/PID/stat.
 */
int checkpoint_respawn_check(pid_t pid) _wur_;

/**
 * checkpoint_respawn() of copy @c, stopped with the threads it was made with
 * (unresumed, or stopped again by the caller), as the process it was copied
 * from: each thread gets the id of the thread it copied, the new process the
 * source's pid (and its exit signal, as any copy). The fork goes through the
 * copy of the source's leader, wherever the copy was forked from; the new
 * process's tids are the source's leader first. -EINVAL if the source's
 * leader was not copied. Otherwise as checkpoint_respawn().
 */
int checkpoint_copy_respawn(const struct checkpoint_copy *c, pid_t *ret_taken,
			    struct checkpoint_copy **ret) _wur_;
