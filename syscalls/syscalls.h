/* SPDX-License-Identifier: MIT */
/*
 * The syscall model (syscalls/syscallent.h, subcmdent.h): one row per
 * syscall, and per request of the multiplexers, saying what the kernel
 * writes into and reads out of tracee memory, whether replay executes or
 * emulates it, whether it may block. Used by the recorder, replay, and the
 * later tp and ep runs alike.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/util.h"

/* syscalls newer than Debian 12's headers (Linux 6.1): syscall_64.tbl */
#ifndef __NR_cachestat
#define __NR_cachestat 451	/* Linux 6.5 */
#endif
#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452	/* Linux 6.6 */
#endif
#ifndef __NR_futex_wake
#define __NR_futex_wake 454	/* Linux 6.7 */
#define __NR_futex_wait 455
#define __NR_futex_requeue 456
#endif
#ifndef __NR_mseal
#define __NR_mseal 462		/* Linux 6.10 */
#endif

/** Flags of a syscall in the model. */
enum sc_flags {
	/** may wait for another thread or the outside world: other threads run meanwhile */
	SC_MAY_BLOCK = 1u << 0,
	/** replay executes it (it shapes the address space, the thread set or
	 * signal state); all others are emulated from the trace */
	SC_REPLAY_EXEC = 1u << 1,
	/** outputs are meaningful even when it fails (e.g. nanosleep's remainder) */
	SC_OUT_ON_ERROR = 1u << 2,
	/** a per-command check decides support and outputs (ioctl, fcntl, futex, prctl) */
	SC_SPECIAL = 1u << 3,
	/** the seccomp filter lets it run without a stop: its effect is fully
	 * determined by the tracee's own state and it is executed in replay too */
	SC_UNTRACED = 1u << 4,
	/** adds, refills or unprotects mappings (mmap, mremap, brk, madvise,
	 * mprotect): a checkpoint of the process must look at its address
	 * space again */
	SC_MAPS = 1u << 5,
	/** arms a timer that signals the process later (alarm, setitimer,
	 * timer_settime): from then on a signal may need an execution point */
	SC_TIMER = 1u << 6,
};

/** A range of tracee memory. */
struct sc_range {
	uint64_t addr;
	uint64_t len;
};

/** A growable list of ranges (owned; free with sc_ranges_free). */
struct sc_ranges {
	struct sc_range *v;
	size_t n, cap;
};

/* Results of a syscall a signal interrupted, which user code never sees: the
 * kernel restarts the syscall, or makes it fail with EINTR when a handler
 * runs (include/linux/errno.h, kernel-internal; arch/x86/kernel/signal.c). */
#define SC_ERESTARTSYS 512
#define SC_ERESTARTNOINTR 513
#define SC_ERESTARTNOHAND 514
#define SC_ERESTART_RESTARTBLOCK 516 /* restarts as restart_syscall(2) */

/** True if @result is one of those (negated, as syscalls return them). */
static inline bool
sc_result_restarts(int64_t result)
{
	return result == -SC_ERESTARTSYS || result == -SC_ERESTARTNOINTR ||
	       result == -SC_ERESTARTNOHAND || result == -SC_ERESTART_RESTARTBLOCK;
}

/** Reads @len bytes of tracee memory at @addr into @buf for the model (@ctx
 * is the caller's): 0 or -errno. */
typedef int (*sc_mem_read_fn)(void *ctx, uint64_t addr, void *buf, size_t len);

/** Name of syscall @nr ("read"), or NULL if unknown to this kernel header. */
const char *sc_name(long nr);

/** True if the model has a row for @nr (its requests may still be unknown). */
bool sc_known(long nr);

/** The flags of @nr (0 for unknown), refined for @args (e.g. futex op). */
uint32_t sc_flags(long nr, const uint64_t args[6]);

/** True if syscall @nr with @args wakes waiters of the futex at args[0]
 * (FUTEX_WAKE, _BITSET, _OP, (CMP_)REQUEUE, UNLOCK_PI; futex(2)); its
 * result is how many it woke. */
bool sc_futex_wakes(long nr, const uint64_t args[6]);

/**
 * Decide whether the model can record syscall @nr with @args exactly.
 * Returns 0 if so. Otherwise names the call in @why, one line ("ioctl
 * FIOASYNC (0x5452) on fd 3: SIGIO delivery is not recorded", "ioctl 0xdead
 * (_IO type 0xde nr 0xad) on fd 0", "syscall io_uring_setup (425): ...") and
 * returns:
 * -ENOSYS: the model does not know it (no row, a request no table has, or
 *   one a table names as unsupported). The recorder runs it in the kernel:
 *   a failure is recorded as such with no outputs (the kernel wrote nothing,
 *   and replay returns the result), a success stops the recording.
 * -EPERM: it must not run at all (a clone uprr could not follow).
 */
int sc_check(long nr, const uint64_t args[6], char *why, size_t len) _wur_;

/** What the model needs from a syscall's entry: the caller's buffer length in
 * an in-out length argument (socklen_t of accept(2), getsockopt(2) optlen,
 * msg_namelen of recvmsg(2)), which the kernel overwrites with the full
 * length even when it wrote less. */
struct sc_entry {
	bool has_len;
	uint32_t len; /**< bytes */
};

/**
 * Read what the model needs at the entry of syscall @nr (call it before the
 * kernel runs the syscall). Fills *ret_entry (has_len false if nothing).
 */
void sc_entry_state(long nr, const uint64_t args[6], sc_mem_read_fn read, void *ctx,
		    struct sc_entry *ret_entry);

/**
 * Ranges of tracee memory the kernel wrote for syscall @nr with @args and
 * @result. Pointers the model must follow (iovecs, msghdr, socklen) are read
 * with @read. @entry (may be NULL) bounds in-out lengths by the caller's
 * buffer. Appends to @out. Returns 0 or -errno (-ENOMEM).
 */
int sc_outputs(long nr, const uint64_t args[6], int64_t result,
	       const struct sc_entry *entry, sc_mem_read_fn read, void *ctx,
	       struct sc_ranges *out) _wur_;

/**
 * Ranges of tracee memory the program passes out to the kernel as data (what
 * write(2), send(2) and their kin transmit), read at syscall entry. Appends
 * to @out. Returns 0 or -errno.
 */
int sc_inputs(long nr, const uint64_t args[6], sc_mem_read_fn read, void *ctx,
	      struct sc_ranges *out) _wur_;

/**
 * The temporary signal mask that syscall @nr (rt_sigsuspend, ppoll, pselect6,
 * epoll_pwait, epoll_pwait2) installed while it waited, if it was interrupted
 * with @result (-EINTR or -ERESTARTNOHAND): the kernel keeps that mask until
 * the signal that interrupted it is delivered, runs the handler under it and
 * saves the caller's own mask in the signal frame (set_user_sigmask(),
 * restore_saved_sigmask_unless(); kernel/signal.c, fs/select.c, Linux 5.0).
 * Reads the mask (bit N-1 for signal N) through @read into *ret_mask.
 * Returns 1 if there is one, 0 if not, -EFAULT if it cannot be read.
 */
int sc_wait_mask(long nr, const uint64_t args[6], int64_t result, sc_mem_read_fn read,
		 void *ctx, uint64_t *ret_mask) _wur_;

/** True for send(2)-family syscalls (data leaves through a socket). */
bool sc_is_send(long nr);

/** True for write(2)-family syscalls (write, writev, pwrite64, pwritev, pwritev2). */
bool sc_is_write(long nr);

/**
 * The fd whose file's contents or size syscall @nr with @args changes when
 * it succeeds: the write(2) family, ftruncate, fallocate, the output of
 * sendfile, splice and copy_file_range, and the destination of the FICLONE
 * and FICLONERANGE ioctls (their man pages); -1 for others.
 */
int sc_written_fd(long nr, const uint64_t args[6]);

/** The namespace flags of clone(2) that replay leaves out when it executes
 * a clone: the namespaces act only through results the trace holds (a new
 * PID namespace's ids too: the thread-start event has them), and a replayed
 * process in a new user namespace could not open the trace's files
 * (CLONE_NEWTIME is clone3's and unshare's only: in clone(2) 0x80 is part of
 * the exit signal). */
#define SC_CLONE_NEW_MASK                                                                \
	((uint64_t)(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |          \
		    CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWPID))

/** Append a range. Returns 0 or -ENOMEM. */
int sc_ranges_add(struct sc_ranges *rs, uint64_t addr, uint64_t len) _wur_;
/** Free the array (the struct itself is the caller's). */
void sc_ranges_free(struct sc_ranges *rs);

/* ---- what a syscall does beyond its row (classify.c) ---- */

/** True for the syscalls that create a thread or a process uprr follows:
 * clone, fork and vfork (clone3 is refused with ENOSYS: recorder/seccomp.c). */
bool sc_is_clone(long nr);

/**
 * The clone(2) flags of syscall @nr with @args: clone's first argument,
 * fork's SIGCHLD, vfork's CLONE_VM | CLONE_VFORK | SIGCHLD (fork(2),
 * vfork(2): kernel/fork.c passes the same to kernel_clone()); 0 for a call
 * that is none of them.
 */
uint64_t sc_clone_flags(long nr, const uint64_t args[6]);

/** True for execve(2) and execveat(2). */
bool sc_is_exec(long nr);

/** Whether syscall @nr (@args), which returned @result, installed a
 * seccomp filter of the program's (seccomp(2) SECCOMP_SET_MODE_FILTER,
 * prctl(2) PR_SET_SECCOMP). */
bool sc_installs_filter(long nr, const uint64_t args[6], int64_t result);

/**
 * Whether syscall @nr (@args) that returned @result moved the PID namespace
 * of the caller's next children away from its own (unshare(2) with
 * CLONE_NEWPID, setns(2) of a PID namespace, or of any namespace with
 * nstype 0, which cannot be told apart: pid_namespaces(7)).
 */
bool sc_moves_children(long nr, const uint64_t args[6], int64_t result);

/**
 * The persona uprr gives the kernel when the program calls personality(2)
 * with @persona, in record and replay alike: with ADDR_NO_RANDOMIZE, which
 * uprr keeps for every tracee so an exec's layout is the same in replay;
 * 0xffffffff (a query) unchanged.
 */
uint64_t sc_kernel_persona(uint64_t persona);

/**
 * Whether the in-process syscall buffer may take syscall @nr
 * (UPRR_BUFFERED of preload/uprr-preload.h, the contract with the library,
 * which is built apart and keeps the list); some only with certain
 * arguments, which the library checks (preload/syscallbuf.c). The recorder
 * patches or redirects the sites that make them.
 */
bool sc_buffered(long nr);

/**
 * The number of arguments syscall @nr takes on x86-64 (0-6; 6 for a
 * number the table does not know): an EP run compares those with its log's,
 * not the registers past them, which hold what the caller left there.
 */
int sc_nargs(long nr);

/**
 * Whether an EP run (a recording whose syscalls are answered from another
 * run's log: ep/ep.h) executes syscall @nr (@args) in the kernel rather than
 * answering it from the log: what replay executes (SC_REPLAY_EXEC: the
 * mappings, signal dispositions and masks, clone, exit...: kernel state of
 * the process itself, which the log cannot give it), and futex(2) and
 * sched_yield(2), whose waits the EP run's own schedule decides
 * (doc/uniparallel.md).
 */
bool sc_ep_live(long nr, const uint64_t args[6]);

/** How a TP run orders a syscall that touches kernel state other threads
 * and processes share (doc/uniparallel.md, "The order of shared-state
 * calls"). */
enum sc_order {
	SC_ORDER_NONE = 0, /**< not ordered: the thread's own state, or memory */
	SC_ORDER_ONE,	   /**< one at a time: it waits at its entry while another
			    * such call is in the kernel, and is numbered at its exit */
	SC_ORDER_EXIT,	   /**< numbered at its exit only: it may wait for another
			    * thread's call (a read of a pipe until a write), so
			    * it neither waits for nor holds up the others */
};

/**
 * How a TP run orders syscall @nr with @args (enum sc_order): data through
 * open file descriptions (read, write, send, receive, lseek, sendfile,
 * splice...), the fd table (open, close, dup, fcntl F_DUPFD, pipe, socket,
 * accept), the file system's names (rename, unlink, mkdir, link...), and
 * the process tree (fork, clone, vfork: the child inherits the fd table
 * as it stands). Reads, receives, accept and connect are SC_ORDER_EXIT
 * (read(2), recv(2), accept(2): they wait for a peer), the others
 * SC_ORDER_ONE. A fact of the call alone: whether the file is shared is
 * not looked at (a thread shares every fd with its process's threads).
 */
enum sc_order sc_order(long nr, const uint64_t args[6]);

/**
 * Whether syscall @nr is left out of the per-thread match of an EP run
 * against its log: how many futex(2) and sched_yield(2) calls a thread
 * makes depends on the schedule (a mutex taken without contention makes
 * none), not on the program's input.
 */
bool sc_ep_unmatched(long nr);

/* ---- emulation: a syscall answered from a record (syscalls/emulate.c,
 * lib_sc_emulate: it needs tracee/ and trace/, the model does not) ---- */

struct trace_blob;
struct user_regs_struct;

/**
 * Write the @n ranges @blobs (the memory a recorded syscall's kernel wrote)
 * into a tracee's memory through @memfd, its /proc/PID/mem. Returns 0, or
 * -errno with the address that failed in *ret_addr.
 */
int sc_emulate_outputs(int memfd, const struct trace_blob *blobs, uint32_t n,
		       uint64_t *ret_addr) _wur_;

/**
 * Set @regs, a thread's at the seccomp stop of a syscall (or the exit of
 * one that must not have run), so that the syscall returns @result without
 * running: orig_rax -1 skips it (seccomp(2)), rax holds @result. A
 * restart result (-ERESTARTSYS and the like, which the kernel turns into a
 * re-issue when no handler runs) puts the thread back on its syscall
 * instruction instead, through restart_syscall(2) for
 * -ERESTART_RESTARTBLOCK. The caller sets the registers.
 */
void sc_emulate_result(struct user_regs_struct *regs, int64_t result);

/**
 * Give thread @tid (memory @memfd) its own signal mask @own_mask back after
 * the delivery of the signal that interrupted a wait with a temporary mask
 * (sc_wait_mask()) whose call was answered from a record: the caller set
 * that mask for the delivery, as the kernel kept it, and the kernel puts the
 * caller's own back at the delivery (restore_saved_sigmask_unless(),
 * kernel/signal.c): @at_handler, the thread stands at its handler's first
 * instruction, in the frame the kernel built, which saved the wait's mask
 * and rt_sigreturn(2) restores (setup_rt_frame(), arch/x86/kernel/signal.c;
 * ARCH_SIGFRAME_MASK_OFFSET from its stack pointer); otherwise (nothing
 * delivered) at once. Returns 0 or -errno.
 */
int sc_emulate_own_mask(pid_t tid, int memfd, bool at_handler, uint64_t own_mask) _wur_;
