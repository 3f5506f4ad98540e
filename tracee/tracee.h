/* SPDX-License-Identifier: MIT */
/*
 * ptrace helpers shared by the recorder and replay: launching a tracee under
 * the same conditions in both, registers, and tracee memory.
 */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/ptrace.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/user.h>

#include "common/util.h"

/** How to start a tracee. */
struct tracee_spawn_options {
	const char *path;	 /**< executable to exec */
	char *const *argv;	 /**< its argv */
	char *const *envp;	 /**< its environment */
	const char *cwd;	 /**< directory to chdir to, or NULL */
	int cpu;		 /**< CPU to pin the tracee to, or -1 */
	bool trap_tsc;		 /**< make rdtsc/rdtscp fault (PR_SET_TSC) */
	const struct sock_fprog *filter; /**< seccomp filter installed before exec */
	bool set_signals;	 /**< start with sigmask and sigign, not the supervisor's */
	uint64_t sigmask;	 /**< signal mask, bit N-1 for signal N */
	uint64_t sigign;	 /**< ignored signals (SIG_IGN); the others SIG_DFL */
	pid_t pid;		 /**< the child's pid (clone3(2)'s set_tid, Linux 5.5:
				  * CAP_SYS_ADMIN, the id free), 0: any (fork(2)) */
};

/**
 * Fork a child that disables ASLR (personality ADDR_NO_RANDOMIZE), pins itself
 * to opts->cpu, traps rdtsc, gets seized by us (PTRACE_SEIZE with @ptrace_opts
 * incl. PTRACE_O_EXITKILL so it dies with the supervisor), installs the
 * seccomp filter and execs; with opts->pid, the child has that id or the
 * spawn fails (-EEXIST: taken; -EPERM). Returns once the child is stopped at
 * PTRACE_EVENT_EXEC, storing its pid in *ret_pid. If exec fails, the child
 * exits with 127 (ENOENT/ENOTDIR) or 126; returns -ENOEXEC and stores the
 * child's errno in *ret_exec_errno. Returns 0 or -errno.
 */
int tracee_spawn(const struct tracee_spawn_options *opts, unsigned long ptrace_opts,
		 pid_t *ret_pid, int *ret_exec_errno) _wur_;

/** The ptrace options of every tracee, record and replay (ptrace(2)). */
#define TRACEE_PTRACE_OPTIONS                                                     \
	(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACESECCOMP | PTRACE_O_TRACECLONE |      \
	 PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC |            \
	 PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL)

/** What a waitpid(2) status of a tracee means. */
enum tracee_stop {
	TRACEE_GONE = 0,	   /**< exited or killed (WIFEXITED/WIFSIGNALED) */
	TRACEE_STOP_SECCOMP,	   /**< PTRACE_EVENT_SECCOMP: at syscall entry */
	TRACEE_STOP_SYSCALL_EXIT,  /**< syscall-exit-stop (SIGTRAP | 0x80) */
	TRACEE_STOP_CLONE,	   /**< PTRACE_EVENT_CLONE */
	TRACEE_STOP_EXEC,	   /**< PTRACE_EVENT_EXEC */
	TRACEE_STOP_EXIT,	   /**< PTRACE_EVENT_EXIT: the thread is exiting */
	TRACEE_STOP_GROUP,	   /**< PTRACE_EVENT_STOP: group stop or a new thread's first stop */
	TRACEE_STOP_SIGNAL,	   /**< signal-delivery-stop; the signal in *ret_sig */
	TRACEE_STOP_OTHER,	   /**< another ptrace event */
};

/** Classify a waitpid(2) status (ptrace(2), "Stopped states"). */
enum tracee_stop tracee_classify(int status, int *ret_sig);

/**
 * True for a signal the thread's own instruction raised (fault or trap:
 * SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP with a kernel si_code > 0; a #GP
 * fault is SIGSEGV with SI_KERNEL; SIGSYS of a seccomp filter's
 * SECCOMP_RET_TRAP, si_code SYS_SECCOMP), which replay reproduces by itself.
 */
bool tracee_signal_is_sync(const siginfo_t *si);

/**
 * Resume stopped thread @tid with @how (PTRACE_CONT, PTRACE_SYSCALL),
 * delivering @sig (0 for none). A thread that vanished meanwhile (ESRCH) is
 * expected: its exit shows up in waitpid(2). Never fails.
 */
void tracee_resume(pid_t tid, enum __ptrace_request how, int sig);

/**
 * Wait for the next stop or exit of thread @tid only (waitpid(2) with
 * __WALL, retrying EINTR); other threads' stops stay queued in the kernel.
 * Stores the status. Returns 0 or -errno.
 */
int tracee_wait(pid_t tid, int *ret_status) _wur_;

/** PTRACE_GETREGS. Returns 0 or -errno (-ESRCH: the thread vanished). */
int tracee_get_regs(pid_t tid, struct user_regs_struct *ret_regs) _wur_;
/** PTRACE_SETREGS. Returns 0 or -errno (-ESRCH: the thread vanished). */
int tracee_set_regs(pid_t tid, const struct user_regs_struct *regs) _wur_;

/**
 * Make thread @tid stop with SIGTRAP (si_code TRAP_HWBKPT) whenever it is
 * about to execute the instruction at @addr: debug register DR0 with an
 * execute breakpoint enabled in DR7 (PTRACE_POKEUSER of struct user's
 * u_debugreg; Intel SDM vol. 3, 18.2). The kernel sets RF on the way back, so
 * resuming executes the instruction. @addr 0 removes it. Returns 0 or -errno
 * (-EINVAL: an address the kernel refuses, such as one in kernel space).
 */
int tracee_set_hw_breakpoint(pid_t tid, uint64_t addr) _wur_;

/**
 * Read @len bytes at tracee address @addr of process @pid into @buf
 * (process_vm_readv, falling back to /proc/PID/mem for pages it cannot read).
 * Returns 0, or -EFAULT if any byte is unreadable, or -errno.
 */
int tracee_read(pid_t pid, uint64_t addr, void *buf, size_t len) _wur_;

/**
 * Write @len bytes to tracee memory through @memfd, an open /proc/PID/mem;
 * this writes even to read-only private mappings (FOLL_FORCE, see proc(5)).
 * Returns 0 or -errno.
 */
int tracee_write(int memfd, uint64_t addr, const void *buf, size_t len) _wur_;

/**
 * Read @len bytes of tracee memory through @memfd, an open /proc/PID/mem;
 * this reads even PROT_NONE pages (FOLL_FORCE, proc(5)), unlike
 * tracee_read(). Returns 0, -EFAULT for an unmapped page, or -errno.
 */
int tracee_read_mem(int memfd, uint64_t addr, void *buf, size_t len) _wur_;

/**
 * Copy up to @len bytes of file @fd from offset @off into tracee memory at
 * @addr through @memfd; stops early at the end of the file (the rest of the
 * range is left as it is). Returns 0 or -errno.
 */
int tracee_write_from_file(int memfd, uint64_t addr, int fd, uint64_t off, uint64_t len) _wur_;

/** Open /proc/@pid/mem read-write, O_CLOEXEC. Returns the fd or -errno. */
int tracee_open_mem(pid_t pid) _wur_;

/** Read a NUL-terminated string of at most @len - 1 bytes. Returns 0 or -errno. */
int tracee_read_string(pid_t pid, uint64_t addr, char *buf, size_t len) _wur_;

/** Name of signal @sig ("SIGSEGV"), or "signal N" in a static buffer. */
const char *tracee_signal_name(int sig);

/**
 * Print the line record and replay end with when the program died of
 * signal @sig: "uprr: process killed by SIGSEGV at 0xRIP (thread TID)",
 * where the signal was delivered; without " at ..." when @tid is 0 (no
 * delivery was seen: SIGKILL is never reported to a tracer, ptrace(2)).
 */
void tracee_report_killed(int sig, uint64_t rip, pid_t tid);

/**
 * The address-space layout of process @pid: one "start-end perms" line per
 * mapping of /proc/PID/maps, without file names (they differ between record
 * and replay). Stores a malloc'd string in *ret_layout (caller frees) and the
 * end of the [stack] mapping in *ret_stack_end. Returns 0 or -errno.
 */
int tracee_maps_layout(pid_t pid, char **ret_layout, uint64_t *ret_stack_end) _wur_;

struct tracee_mapping;
/** tracee_maps_layout() of @n mappings @maps read already (tracee_read_maps()). */
int tracee_maps_layout_of(const struct tracee_mapping *maps, size_t n, char **ret_layout,
			  uint64_t *ret_stack_end) _wur_;

/** One line of /proc/PID/maps (proc(5)). */
struct tracee_mapping {
	uint64_t start, end, offset; /**< addresses and file offset, bytes */
	dev_t dev;		     /**< the file's device (makedev() of maps' major:minor), 0 if none */
	uint64_t ino;		     /**< the file's inode, 0 if none */
	char perms[8];		     /**< "r-xp" */
	char path[256];		     /**< file or pseudo name ("[stack]"), "" if none */
};

/**
 * Parse /proc/@pid/maps into a malloc'd array (caller frees) of *ret_n
 * entries. Returns 0 or -errno.
 */
int tracee_read_maps(pid_t pid, struct tracee_mapping **ret_maps, size_t *ret_n) _wur_;

/** Whether [@base, @base + @len) lies wholly within @reach bytes of @code
 * (a rel32 jmp or call reaches +-2 GiB). */
static inline bool
tracee_area_reaches(uint64_t base, uint64_t len, uint64_t code, uint64_t reach)
{
	uint64_t d0 = base > code ? base - code : code - base;
	uint64_t d1 = base + len > code ? base + len - code : code - (base + len);

	return d0 < reach && d1 < reach;
}

/**
 * Find a free place for @len bytes of new code (stubs) in process @pid, within
 * @reach bytes of @code: right below some mapping of /proc/@pid/maps, with
 * @guard free bytes on both sides, never below the stack (whose growth it
 * would block) and not overlapping any of the @navoid ranges [@avoid[2i],
 * @avoid[2i + 1]) (a fixed page that may not be mapped yet, the places an
 * EP run's program will map); the closest to @code.
 * Stores its start in *ret_base. Returns 0, -ENOSPC if there is none, or
 * -errno from reading the maps. Nothing is mapped.
 */
int tracee_find_area_near(pid_t pid, uint64_t code, uint64_t len, uint64_t guard, uint64_t reach,
			  const uint64_t *avoid, size_t navoid, uint64_t *ret_base) _wur_;

/**
 * As tracee_find_area_near(), but only in the space between mmap_base and
 * the lowest the stack may grow to (its RLIMIT_STACK and guard gap below
 * the [stack] mapping): the top-down mmap(2) allocator never hands out an
 * address there (it searches below mmap_base: Linux 6.1
 * arch/x86/mm/mmap.c mmap_base(), mm/mmap.c vm_unmapped_area()), so a
 * mapping of uprr's own there never takes a place the program's later
 * mmap(2) gets in another run (an EP run's soft-tick stubs, where its TP
 * run maps later). Returns 0, -ENOSPC if there is none (a stack limit
 * past 127 MiB or unlimited, nothing within @reach), or -errno.
 */
int tracee_find_area_high(pid_t pid, uint64_t code, uint64_t len, uint64_t guard, uint64_t reach,
			  const uint64_t *avoid, size_t navoid, uint64_t *ret_base) _wur_;

/**
 * Kill process @pid with SIGKILL and reap every tracee until none is left,
 * resuming any that stop on the way (PTRACE_EVENT_EXIT): tracee_kill_list()
 * of @pid alone. Never fails.
 */
void tracee_kill_all(pid_t pid);

/**
 * Kill processes @pids (@n of them; those <= 0 skipped) with SIGKILL and
 * reap every child and tracee that ends, resuming any that stop on the way
 * (PTRACE_EVENT_EXIT), until none is left or each of @pids is gone
 * (kill(2) says ESRCH) and no other has anything to report: a child that
 * stands still, stopped, stays (an EP run's recorder has the TP run's
 * checkpoints among its tracees, which tp/ frees after it: waitpid(2) until
 * ECHILD waited for them forever). Never fails.
 */
void tracee_kill_list(const pid_t *pids, size_t n);

/**
 * Reap traced thread @tid, killed (SIGKILL sent by the caller), resuming it
 * past the stops it makes on its way out (PTRACE_EVENT_EXIT): waitpid(2) of
 * @tid alone, so that no other tracee's report is taken. A thread group's
 * leader is reported only once its other threads are reaped (wait(2)): reap
 * them first. Never fails (ECHILD: already reaped).
 */
void tracee_reap(pid_t tid);

/** Pin the calling thread to @cpu. Returns 0 or -errno. */
int tracee_pin_self(int cpu) _wur_;
/** A CPU the calling thread may run on: the one it runs on (sched_getcpu(3)),
 * else one chosen by pid, to spread concurrent runs; or -errno. */
int tracee_pick_cpu(void) _wur_;

/**
 * Run syscall @nr(@args) in thread @tid and store its raw result (-errno on
 * failure, as the kernel returns it in rax) in *ret_result.
 *
 * @tid must be in a ptrace stop from which it would next return to user mode:
 * a signal-delivery-stop, PTRACE_EVENT_STOP, a syscall-exit-stop, the exec
 * stop, or a seccomp stop whose syscall the caller already turned into a skip
 * (orig_rax = -1). Writes `syscall; int3` over the 3 bytes at the thread's rip
 * through @memfd (/proc/PID/mem, O_RDWR), sets rax/args/rip with orig_rax = -1
 * (no syscall restart, see arch/x86/kernel/signal.c), blocks the signals
 * that could stop it on the way (PTRACE_SETSIGMASK, Linux 3.11; not those an
 * instruction raises: force_sig() would reset a blocked one's handler) and
 * resumes with PTRACE_CONT, passing over the seccomp stop of the injected
 * syscall and other ptrace events, until the SIGTRAP of the int3. Then
 * restores the code bytes, ALL general registers and the signal mask (unless
 * the kernel itself restored a mask saved by sigsuspend/ppoll/pselect6
 * meanwhile: that one is kept). A signal that stopped the thread on the way
 * anyway (SIGSTOP) is sent again with tkill(2), losing its siginfo.
 *
 * The thread is left in a signal-delivery-stop for SIGTRAP: the caller resumes
 * it with signal 0 (and calls PTRACE_SETSIGINFO again if it wanted to deliver
 * a signal). Other threads of the process must be stopped or inside syscalls;
 * the injected code page of a private file mapping becomes an anonymous copy.
 * Returns 0 or -errno: -ESRCH if the thread vanished (if it stopped at its
 * PTRACE_EVENT_EXIT on the way, it was resumed from there), -EFAULT if the code could not be written or faulted
 * (the thread then rests in that fault's signal-delivery-stop, restored).
 */
int tracee_inject_syscall(pid_t tid, int memfd, long nr, const uint64_t args[6],
			  int64_t *ret_result) _wur_;

/** One syscall of a batch tracee_inject_syscalls() runs. */
struct tracee_call {
	long nr;	  /**< the syscall */
	uint64_t args[6]; /**< its arguments */
	bool may_fail;	  /**< the batch goes on after it failed (-4095..-1) */
	int64_t expect;	  /**< if not 0, the batch stops unless it returns this */
	uint8_t arg_from_prev; /**< if not 0, argument arg_from_prev - 1 is the result of
				    the call before it (an fd it opened) */
	uint8_t prev_call;     /**< with arg_from_prev: not the call before, but call
				    prev_call - 1 of the batch (0: the one before) */
};

/**
 * tracee_inject_syscall() for @n calls in a row, in one save and restore of
 * the code bytes, registers and signal mask: each call starts from the saved
 * registers. Their results go to @ret_results. The batch stops after a call
 * that failed, unless its may_fail says to go on, or that did not return its
 * expect (when that is not 0); *ret_done (if not NULL)
 * says how many ran. Returns 0 or -errno as tracee_inject_syscall() (the
 * results of the calls that ran before an error are stored).
 */
int tracee_inject_syscalls(pid_t tid, int memfd, const struct tracee_call *calls, size_t n,
			   int64_t *ret_results, size_t *ret_done) _wur_;

/**
 * Read the FPU/SSE/AVX state of stopped thread @tid (PTRACE_GETREGSET with
 * NT_X86_XSTATE, the XSAVE layout; ptrace(2), Linux 2.6.38) into @buf of @cap
 * bytes; stores the number of bytes the kernel wrote in *ret_len.
 * Returns 0 or -errno (-ESRCH: the thread vanished).
 */
int tracee_get_xstate(pid_t tid, void *buf, size_t cap, size_t *ret_len) _wur_;

/**
 * Write the FPU/SSE/AVX state (@len bytes from tracee_get_xstate()) of stopped
 * thread @tid (PTRACE_SETREGSET NT_X86_XSTATE). Returns 0 or -errno.
 */
int tracee_set_xstate(pid_t tid, const void *buf, size_t len) _wur_;

/** How a process disposes of a signal (sigaction(2)). */
enum tracee_sig_disposition {
	TRACEE_SIG_DEFAULT, /**< SIG_DFL: the default action of signal(7) */
	TRACEE_SIG_IGNORED, /**< SIG_IGN */
	TRACEE_SIG_CAUGHT,  /**< a handler runs */
};

/**
 * How thread @tid's process disposes of signal @sig (1..64) now, from the
 * SigIgn and SigCgt masks of /proc/TID/status (proc(5)); dispositions are
 * shared by all threads. Stores it in *ret. Returns 0 or -errno (-EINVAL for a
 * bad @sig, -ENOENT if the thread is gone).
 */
int tracee_signal_disposition(pid_t tid, int sig, enum tracee_sig_disposition *ret) _wur_;

/**
 * Whether thread @tid's process discards signal @sig (1..64) at its delivery
 * now: SIG_IGN, or SIG_DFL of a signal whose default action is to do nothing
 * (SIGCHLD, SIGCONT, SIGURG, SIGWINCH: signal(7); the kernel drops it in
 * get_signal(), kernel/signal.c, and a syscall it interrupted restarts as if
 * no signal came). Stores it in *ret. Returns 0 or -errno, as
 * tracee_signal_disposition().
 */
int tracee_signal_discarded(pid_t tid, int sig, bool *ret) _wur_;

/**
 * Whether stopped thread @tid has a signal pending, for it or its process,
 * that its mask lets in: the kernel delivers it on the way back to user
 * mode. From PTRACE_GETSIGMASK and PTRACE_PEEKSIGINFO (Linux 3.10), private
 * and shared queues; at a signal-delivery-stop the signal being delivered is
 * no longer queued. A standard signal the kernel could not queue a siginfo
 * for (past RLIMIT_SIGPENDING) is pending without showing here. Stores the
 * answer in *ret; returns 0 or -errno.
 */
int tracee_pending_unblocked(pid_t tid, bool *ret) _wur_;

/**
 * The signals process @tid ignores (SIG_IGN), bit N-1 for signal N: the
 * SigIgn mask of /proc/TID/status (proc(5)). Returns 0 or -errno.
 */
int tracee_ignored_signals(pid_t tid, uint64_t *ret_mask) _wur_;

/**
 * The file position and status flags of descriptor @fd of thread @tid: the
 * "pos:" (decimal) and "flags:" (octal) lines of /proc/TID/fdinfo/FD, which
 * come first (proc(5)); the flags as open(2) gave them and F_SETFL set them,
 * O_CLOEXEC included where set (the kernel shows it there). Either output
 * may be NULL. Returns 0 or -errno (-ENOENT: no such fd or thread).
 */
int tracee_fdinfo(pid_t tid, int fd, int64_t *ret_pos, int *ret_flags) _wur_;

struct stat;
/**
 * stat(2) of what descriptor @fd of thread @tid leads to, through
 * /proc/TID/fd/FD (proc(5): the link follows to the file, pipe, socket or
 * device, even an unlinked file), into *@ret. Returns 0 or -errno
 * (-ENOENT: no such fd or thread).
 */
int tracee_fd_stat(pid_t tid, int fd, struct stat *ret) _wur_;

/**
 * What descriptor @fd of thread @tid names, as readlink(2) of
 * /proc/TID/fd/FD gives it (proc(5): a path, or "pipe:[INO]",
 * "socket:[INO]", "anon_inode:[perf_event]"...), into @buf (@len bytes,
 * NUL-terminated, cut short if longer). Returns its length, or -errno
 * (-ENOENT: no such fd or thread).
 */
ssize_t tracee_fd_path(pid_t tid, int fd, char *buf, size_t len) _wur_;

/**
 * Whether descriptor @fd of thread @tid is a file of a process's or
 * thread's own directory in /proc (proc(5)): /proc/PID/NAME, or
 * /proc/PID/task/TID/NAME, NAME one component of at most 15 bytes (its
 * "mem", "comm"...; /proc/self/... reads so, the link resolved). Then
 * *@ret_id is PID, or TID for a task's, and NAME goes into @name (16
 * bytes). Returns 1, 0 if not such a file, or -errno (-ENOENT: no such
 * fd or thread).
 */
int tracee_fd_proc_file(pid_t tid, int fd, pid_t *ret_id, char name[16]) _wur_;

/**
 * The parent of process @pid: the PPid: line of /proc/PID/status (proc(5)).
 * Returns 0 or -errno.
 */
int tracee_parent(pid_t pid, pid_t *ret_ppid) _wur_;

/**
 * The id that line @key ("Tgid", "PPid", "TracerPid") of /proc/TID/status
 * gives (proc(5)), into *@ret. Returns 0 or -errno (-ENOENT: gone).
 */
int tracee_status_id(pid_t tid, const char *key, pid_t *ret) _wur_;

/**
 * The effective user and group ids of thread @tid: the second fields of the
 * Uid: and Gid: lines of /proc/TID/status (proc(5)). Returns 0 or -errno.
 */
int tracee_ids(pid_t tid, uid_t *ret_euid, gid_t *ret_egid) _wur_;

/**
 * CPU time thread @tid has run, in ns: the first field of /proc/TID/schedstat
 * (proc(5); Linux 2.6.x, CONFIG_SCHED_INFO). Stores it in *ret_ns.
 * Returns 0 or -errno (-ENOENT: the thread is gone or the kernel lacks it).
 */
int tracee_cpu_time(pid_t tid, uint64_t *ret_ns) _wur_;

/**
 * The signal mask of stopped thread @tid, bit N-1 for signal N
 * (PTRACE_GETSIGMASK, Linux 3.11): stores it in *ret_mask. Returns 0 or -errno.
 */
int tracee_get_sigmask(pid_t tid, uint64_t *ret_mask) _wur_;

/**
 * The signal mask of thread @tid, stopped or not (in a syscall, the mask it
 * runs that syscall with: ppoll(2)'s, sigsuspend(2)'s), from the SigBlk line
 * of /proc/@tid/status (proc(5)): stores it in *ret_mask. Returns 0 or -errno.
 */
int tracee_read_sigblk(pid_t tid, uint64_t *ret_mask) _wur_;

/**
 * One signal set line @field of /proc/@tid/status (proc(5): "SigBlk",
 * "SigPnd" (pending for the thread), "ShdPnd" (for its process), ...)
 * into *ret_mask, bit N-1 for signal N. Returns 0, -ENOENT if there is no
 * such line, or -errno.
 */
int tracee_read_status_sigset(pid_t tid, const char *field, uint64_t *ret_mask) _wur_;

/**
 * The signals pending for thread @tid, stopped under our ptrace, in queue
 * order: its own, or (@shared) its process's (PTRACE_PEEKSIGINFO, Linux
 * 3.10, ptrace(2)); at most @max into @buf. Returns how many, or -errno.
 */
int tracee_peek_pending(pid_t tid, bool shared, siginfo_t *buf, int max) _wur_;

/**
 * Set the signal mask of stopped thread @tid (PTRACE_SETSIGMASK, Linux 3.11;
 * the kernel leaves SIGKILL and SIGSTOP unblocked). Returns 0 or -errno.
 */
int tracee_set_sigmask(pid_t tid, uint64_t mask) _wur_;

/** What tracee_deliver_signal() did. */
enum tracee_delivery {
	TRACEE_DELIVERY_NONE,	 /**< ignored: nothing happened; the thread is still stopped */
	TRACEE_DELIVERY_HANDLER, /**< stopped at the first instruction of the handler */
	TRACEE_DELIVERY_RUNNING, /**< default action (terminate, stop): the thread runs */
};

/**
 * Deliver @sig to thread @tid, stopped where a signal may be delivered (a
 * signal-delivery-stop, or any stop from which it returns to user mode), with
 * siginfo @info (NULL: keep the current one). A caught signal is delivered
 * with PTRACE_SINGLESTEP: the kernel builds the frame and reports a SIGTRAP
 * stop before the handler's first instruction (signal_delivered(),
 * kernel/signal.c). Stores the outcome. Returns 0; -EINPROGRESS if another
 * stop came first (its status in *ret_status, for the caller to handle);
 * or -errno (-ESRCH: the thread vanished).
 */
int tracee_deliver_signal(pid_t tid, int sig, const siginfo_t *info, enum tracee_delivery *ret_outcome,
			  int *ret_status) _wur_;

/**
 * The state letter of thread @tid in /proc/TID/stat (proc(5): 'R', 'S', 't'
 * in a ptrace stop, 'T' stopped, 'Z' zombie...), or 0 if it is gone.
 */
char tracee_thread_state(pid_t tid);

/**
 * Wait until thread @tid, resumed from its PTRACE_EVENT_EXIT stop, is done
 * exiting: a zombie ('Z' in /proc/TID/stat) or gone. For a thread-group
 * leader whose process has other threads: the kernel reports its death only
 * after theirs (ptrace(2)), but its exit (robust list, CLONE_CHILD_CLEARTID
 * write, set_tid_address(2)) is done when it turns zombie. Polls for at
 * most @timeout_ns. Returns 0, or -ETIMEDOUT.
 */
int tracee_wait_zombie(pid_t tid, uint64_t timeout_ns) _wur_;

/**
 * If waitpid(2) status @status of a PTRACE_SEIZE'd thread is a group-stop
 * (PTRACE_EVENT_STOP whose WSTOPSIG is SIGSTOP, SIGTSTP, SIGTTIN or SIGTTOU:
 * its process is stopped), that signal; else 0 (ptrace(2), "Group-stop"; the
 * kernel reports SIGTRAP once the process is no longer stopped,
 * do_jobctl_trap() in kernel/signal.c).
 */
int tracee_group_stop_sig(int status);

/**
 * The interval timers of process @pid (ITIMER_REAL, _VIRTUAL, _PROF:
 * getitimer(2) injected into its stopped thread @tid, memory @memfd) into
 * @ret; with @disarm they are disarmed too (setitimer(2) of zero), so that
 * none of their signals comes after. A fork does not carry them (fork(2);
 * alarm(2) is ITIMER_REAL). The thread must stand where syscalls can be
 * injected (tracee_inject_syscall()); the dead stack bytes used are put
 * back (tracee/timers.c). 0 or -errno.
 */
int tracee_itimers_get(pid_t tid, pid_t pid, int memfd, bool disarm, struct itimerval ret[3]) _wur_;
/** Set process @pid's interval timers to @v (those not all zero), as
 * tracee_itimers_get() read them in another process: a periodic one with
 * no value left (its signal pending there) goes off an interval from now.
 * 0 or -errno. */
int tracee_itimers_set(pid_t tid, pid_t pid, int memfd, const struct itimerval v[3]) _wur_;
/** Whether process @pid has a POSIX timer (timer_create(2)): a line of
 * /proc/PID/timers (proc(5), Linux 3.10), which a fork does not carry. */
bool tracee_has_posix_timer(pid_t pid);
/**
 * Queue signal @si in process @pid, sent by the process itself through its
 * stopped thread @tid (memory @memfd): to thread @to (rt_tgsigqueueinfo(2)),
 * or to the process if @to is 0 (rt_sigqueueinfo(2)). Sent to itself, it
 * keeps its siginfo whatever its si_code (the kernel refuses an si_code >= 0
 * from another process). 0 or -errno.
 */
int tracee_queue_signal(pid_t tid, pid_t pid, int memfd, pid_t to, const siginfo_t *si) _wur_;

/** Whether @sig is one whose default action stops the process (signal(7)). */
bool tracee_is_stop_signal(int sig);

/**
 * Scratch memory for @len bytes in process @pid whose thread's stack pointer
 * is @sp: well below it (dead stack, below the x86-64 ABI's 128-byte red
 * zone), 16-byte aligned; 0 if the stack mapping has no room (tracee/open.c).
 */
uint64_t tracee_stack_scratch(pid_t pid, uint64_t sp, size_t len);

/**
 * Open @path in thread @tid of process @pid (memory @memfd, stack pointer
 * @sp), stopped where tracee_inject_syscall() can run an openat(2) with
 * O_CLOEXEC | @flags; the path goes to dead stack, whose bytes are put back.
 * With @then (NULL: none), that call is injected next in the same batch
 * (tracee_inject_syscalls(): its then->arg_from_prev - 1 argument the new
 * fd) and its result goes to *@ret_then. The thread is left as
 * tracee_inject_syscall() leaves it. Returns the tracee's new fd, -ENOSPC if
 * its stack has no room, -ECANCELED if @then was not made, or -errno.
 */
int tracee_open_in(pid_t tid, pid_t pid, int memfd, uint64_t sp, const char *path, int flags,
		   const struct tracee_call *then, int64_t *ret_then) _wur_;
