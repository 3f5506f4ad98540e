/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/user.h>

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/ptrace.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint/dirty.h"
#include "checkpoint/process.h"
#include "ep/divergence.h"
#include "common/util.h"
#include "recorder/recorder.h"
#include "sched/sched.h"
#include "syscalls/syscalls.h"
#include "trace/trace.h"
#include "tracee/tracee.h"
#include "x86_64/arch.h"

struct tracee_mapping;

/**
 * At the exec stop of @pid, whose @n mappings are @maps (tracee_read_maps()):
 * return the registers, the end of the stack mapping and the address-space
 * layout (malloc'd). Returns 0 or -errno.
 */
int rec_exec_prepare(pid_t pid, const struct tracee_mapping *maps, size_t n,
		     struct user_regs_struct *ret_regs, uint64_t *ret_stack_end,
		     char **ret_layout) _wur_;

/**
 * Fd N of a stopped thread as the recorder looks at it at one stop (an
 * mmap's exit): /proc/TID/fd/N stat'ed, lstat'ed (the link's owner bits
 * are the fd's access mode, proc(5)) and read once, not once per question
 * (a file mmap asked the kernel 12 times: issue 14).
 */
struct rec_fd_look {
	char path[64];	       /**< /proc/TID/fd/N */
	bool st_ok, link_ok;   /**< stat(2), lstat(2) of path succeeded */
	struct stat st, link;  /**< their results */
	int target_len;	       /**< readlink(2) of path: -1 not read yet, 0 failed */
	char target[PATH_MAX]; /**< the file's path, as readlink(2) gives it */
};

/** Look at fd @fd of stopped thread @tid (stat and lstat; the target when
 * first asked for). Never fails: what cannot be read says so. */
void rec_fd_look(pid_t tid, int fd, struct rec_fd_look *ret);
/** The path @l's fd leads to (readlink(2), once), or NULL. */
const char *rec_fd_look_target(struct rec_fd_look *l);

/** Whether fd @l is /dev/zero (character device 1:5, mem(4)), whose
 * mappings are anonymous memory. */
bool rec_is_dev_zero(const struct rec_fd_look *l);

/**
 * Whether the file that a MAP_PRIVATE mmap (@args, at its exit) of fd @l
 * maps may change while mapped in ways the program then reads through the
 * mapping (mmap(2): pages not yet written show the file's changes): the fd
 * is open for writing, or the mapping reaches past the file's last page (to
 * read what the file grows into) of a file that is not a system file
 * (rec_is_system_file()). Libraries (read-only fds, within the file or
 * system files) are not such files.
 */
bool rec_mmap_may_change(struct rec_fd_look *l, const uint64_t args[6]);

/**
 * Whether the file at @path (@st) is a system file nobody writes in place:
 * root's, not group- or other-writable, under /usr, /lib, /lib64, /bin or
 * /sbin (as the trace writer's may_link(): packages replace such files by
 * renaming). glibc maps gconv-modules.cache MAP_SHARED.
 */
bool rec_is_system_file(const char *path, const struct stat *st);

/** rec_is_system_file() of the file fd @l leads to; false if the link
 * cannot be read or stat'ed. */
bool rec_fd_is_system_file(struct rec_fd_look *l);

/** Open the executable process @pid runs, through /proc/PID/exe (also a memfd
 * or deleted file), read-only and O_CLOEXEC. Returns the fd or -1 (errno). */
int rec_exec_open_exe(pid_t pid);

/**
 * Whether syscall @nr (@args) of thread @tid, which returned @result, wrote
 * the memory of a process through its /proc/PID/mem (write, writev,
 * pwrite64, pwritev, pwritev2 on such an fd, or on /proc/PID/task/TID/mem;
 * proc(5)): stores that PID (TID) and
 * the address written (the file offset: the fd's position, from
 * /proc/TID/fdinfo, minus @result, or the syscall's offset argument).
 */
bool rec_mem_write_target(pid_t tid, long nr, const uint64_t args[6], int64_t result,
			  uint64_t *ret_pid, uint64_t *ret_addr);

/** The vDSO image last kept in the trace (recorder/vdso.c). */
struct rec_vdso {
	uint8_t *image; /**< malloc'd, the patched image; NULL if none yet */
	size_t len;	/**< its bytes */
	uint32_t id;	/**< its file id in the trace */
};

struct trace_writer;

/**
 * Keep uprr's own vDSO, patched as rec_vdso_prepare() patches a program's,
 * in trace @w as @cache's image: the kernel maps the same image in every
 * 64-bit process, so the program's first exec finds it kept (and writes no
 * file then). Nothing is kept where uprr has no vDSO or it cannot be parsed.
 * Returns 0 or -errno.
 */
int rec_vdso_keep_own(struct trace_writer *w, struct rec_vdso *cache) _wur_;

/**
 * At the exec stop of @pid (@memfd: its /proc/PID/mem, @maps: its @n
 * mappings as tracee_read_maps() gives them, @sp: its initial stack
 * pointer): make the vDSO's time functions (clock_gettime, gettimeofday,
 * time, clock_getres, getcpu, found by name in its ELF dynamic symbol table,
 * vdso(7)) enter the kernel, so they become recorded syscalls, and
 * getrandom's (Linux 6.11) fail with ENOSYS, so callers use the syscall. The
 * patched image is kept in trace @w (once while it is @cache's): its file id
 * + 1 goes to *ret_ref. Where the vDSO cannot be parsed it is hidden instead
 * (auxv AT_SYSINFO_EHDR turned into AT_IGNORE) and *ret_ref is 0; also 0 if
 * the process has no vDSO. Returns 0 or -errno.
 */
int rec_vdso_prepare(struct trace_writer *w, struct rec_vdso *cache, pid_t pid, int memfd,
		     const struct tracee_mapping *maps, size_t n, uint64_t sp, uint64_t *ret_ref) _wur_;

/** Free what @cache holds (the recording ends). */
void rec_vdso_free(struct rec_vdso *cache);

/**
 * Whether the program that thread @tid, stopped at the entry of execve(2) or
 * execveat(2) (@nr, @args), is about to start would run with other
 * credentials than @tid: a set-user-ID or set-group-ID program owned by
 * another user or group, or (for a thread not running as root) one with file
 * capabilities (execve(2), capabilities(7)); not on a nosuid mount, not an
 * interpreted script. Returns 1 and its path and what it is in @why ("/bin/x,
 * a set-user-ID program (owner uid 0)"); 0 if not; -errno if
 * it cannot tell (the file is missing or unreadable: the exec will say).
 */
int rec_exec_privileged(pid_t tid, long nr, const uint64_t args[6], char *why, size_t len) _wur_;

/* ---- IPC, other processes' memory, perf (ipc.c) ---- */

/** What the recorder knows of SysV IPC objects: the shared memory segments
 * recorded processes made (shmget(2) by one of them created it). */
struct rec_ipc {
	int *shmids;
	size_t n, cap;
};

/** Stores up to @cap ids of the recorded processes (thread groups) in @buf;
 * returns how many. */
typedef size_t (*rec_tgids_fn)(void *ctx, pid_t *buf, size_t cap);

/**
 * Whether thread @tid may run syscall @nr with @args, at its entry, beyond
 * what the syscall model says: a SysV segment made outside the recording,
 * or attached by a process outside it (shm_nattch against the mappings of
 * the recorded processes, which @tgids lists, shmctl(2), proc(5)); mmap(2)
 * of a perf_event_open(2) ring buffer. Returns 0, or -EPERM with one line
 * naming it in @why.
 */
int rec_ipc_check_entry(const struct rec_ipc *ipc, pid_t tid, long nr, const uint64_t args[6],
			rec_tgids_fn tgids, void *ctx, char *why, size_t len) _wur_;

/**
 * Note syscall @nr's exit (@args, @result): shmget(2) of a segment a
 * recorded process made adds it to @ipc. Returns 1 with a value for the
 * exit event in *ret_value (shmat(2): the segment's size in bytes, which
 * replay's own segment takes; process_vm_writev(2): 1 if its target is a
 * recorded process, which replay writes into again), 0 with none, -ENOMEM.
 */
int rec_ipc_on_exit(struct rec_ipc *ipc, long nr, const uint64_t args[6], int64_t result,
		    uint64_t *ret_value) _wur_;

/** Free what @ipc holds (the struct itself is the caller's). */
void rec_ipc_free(struct rec_ipc *ipc);

struct trace_writer;

/** Where the syscall a thread is in sends its bytes, and what the recorder
 * saw of them at its entry (recorder/output.c). Zero-initialized. */
struct rec_output {
	unsigned sinks;	  /**< enum trace_output bits of its destination fd */
	bool peeked;	  /**< the source is a pipe or socket, looked at at entry */
	size_t npeek;	  /**< bytes queued at the source then, in @peek */
	char *peek;	  /**< owned buffer */
	size_t peek_cap;
};

/**
 * Where fd @fd of thread @tid leads, as enum trace_output bits: uprr's own
 * stdout or stderr (the same open file, by kcmp(2) KCMP_FILE, or the same
 * inode: /dev/stdout opens a new file on the same pipe or terminal), a socket.
 * 0 for anything else, a bad fd, or a vanished thread.
 */
unsigned rec_output_fd_sinks(pid_t tid, int fd);

/**
 * Where a write to fd @fd of the regular file @dev, @ino (stat(2)'s st_dev
 * and st_ino) led: uprr's own stdout or stderr if it is that file (the
 * shell's > and 2>); one file as both (> f 2>&1): the fd's number tells,
 * as rec_output_fd_sinks() does for /dev/stdout. For the syscall buffer's
 * plain writes to regular files, whose fd may be closed or reused by the
 * flush (UPRR_WRITE_PLAIN).
 */
unsigned rec_output_file_sinks(uint64_t dev, uint64_t ino, int fd);

/**
 * Read @len bytes at @off of file fd @fd of thread @tid (process @tgid)
 * into @buf (pidfd_getfd(2), or /proc/TID/fd/N opened again for a file
 * open for writing only). Returns the bytes read (short at its end), or
 * -errno.
 */
ssize_t rec_output_read_file(pid_t tid, pid_t tgid, int fd, uint64_t off, void *buf, size_t len);

/** What rec_output_fd_sinks() found fd @fd of @tid to be, from the same
 * cache: its file's type (st_mode & S_IFMT), st_dev and st_ino, by stat(2)
 * of /proc/TID/fd/N (proc(5)). False, nothing stored, if it is not open. */
bool rec_output_fd_file(pid_t tid, int fd, mode_t *ret_type, dev_t *ret_dev, ino_t *ret_ino);

/** A copy, in the supervisor, of fd @fd of process @tgid (pidfd_getfd(2),
 * Linux 5.6: the same open file, its offset and flags shared; O_CLOEXEC),
 * or -errno. */
int rec_output_grab_fd(pid_t tgid, int fd) _wur_;

/** Forget where fd @fd led, for every thread (rec_output_fd_sinks() looks
 * again): a close made through the syscall buffer, seen at its flush. */
void rec_output_forget_fd(int fd);

/**
 * At the entry of syscall @nr (@args) of thread @tid of process @tgid: note
 * where it sends bytes in @o->sinks; for a splice or tee to uprr's output or
 * a socket from a pipe or socket, copy what is queued there without taking it
 * (tee(2), recv(2) MSG_PEEK): the syscall takes it from the source.
 */
void rec_output_entry(struct rec_output *o, pid_t tid, pid_t tgid, long nr, const uint64_t args[6]);

/**
 * At the exit of that syscall with @result: add to @w the TRACE_EV_OUTPUT
 * records of the bytes it sent to @o->sinks that are not in the program's
 * memory (sendfile, splice, tee, copy_file_range, vmsplice, sendmmsg); read
 * back from a file source at the offset the kernel advanced. Bytes it cannot
 * capture are counted in a last record, and warned about. Returns 0 or the
 * writer's -errno.
 */
int rec_output_exit(struct rec_output *o, struct trace_writer *w, pid_t tid, pid_t tgid, long nr,
		    const uint64_t args[6], int64_t result) _wur_;

/** Free @o's buffer and zero it. */
void rec_output_free(struct rec_output *o);

/* ---- sandboxes and namespaces (sandbox.c) ---- */

/** ADDR_NO_RANDOMIZE in uprr's own persona, which the program inherits
 * natively (setarch -R). */
bool rec_sandbox_initial_norandom(void);


/**
 * At the entry of syscall @nr (@args) of thread @tid, in its seccomp stop,
 * with registers @regs: refuse, with @why, a stop that a filter of the
 * program asked for (SECCOMP_RET_TRACE; looked for only once the program
 * installed one: @program_filters, a ptrace call a syscall); keep ADDR_NO_RANDOMIZE in a
 * persona the program sets (the tracee's rdi is rewritten; rec_sandbox_exit
 * puts it back). Returns 0,
 * -ENOSYS, or -errno (-ESRCH: the thread vanished).
 */
int rec_sandbox_entry(pid_t tid, long nr, const uint64_t args[6],
		      const struct user_regs_struct *regs, bool program_filters, char *why,
		      size_t len) _wur_;

/**
 * At the exit of syscall @nr: give the program the result it gets natively,
 * in @regs and in the tracee: PR_GET_SECCOMP is 0 while only uprr's filters
 * are installed (@uprr_filters of them: the base filter, and the stop filter
 * where it was stacked); personality(2) returns the old persona with the
 * program's own ADDR_NO_RANDOMIZE (*@persona_norandom, updated when it sets
 * one). Returns 0 or -errno (-ESRCH: the thread vanished).
 */
int rec_sandbox_exit(pid_t tid, long nr, const uint64_t args[6], struct user_regs_struct *regs,
		     int uprr_filters, bool *persona_norandom) _wur_;

/**
 * The ids of thread @tid, which thread @ptid just created, as the
 * namespaces see them (proc(5) NSpid, Linux 4.1): *ret_parent_view, its id
 * in @ptid's PID namespace (clone's result, CLONE_PARENT_SETTID), and
 * *ret_own, its id in its own (gettid, CLONE_CHILD_SETTID). Returns 1 if
 * either differs from @tid (a PID namespace below uprr's), 0 if not or if
 * the kernel does not say.
 */
int rec_sandbox_ns_tids(pid_t ptid, pid_t tid, uint64_t *ret_parent_view, uint64_t *ret_own);

/**
 * The number of seccomp filters of thread @tid, uprr's own included
 * (proc(5) Seccomp_filters, Linux 5.9), or -1 if the kernel does not say.
 */
int rec_sandbox_filter_count(pid_t tid);

/* ---- the recorder's state, shared by record.c, record-ptrace.c and
 * unrecorded.c ---- */

enum rthread_state {
	RT_HELD,	/* stopped after an event; resume with PTRACE_CONT */
	RT_AT_ENTRY,	/* stopped at a recorded syscall entry, not yet executed */
	RT_IN_SYSCALL,	/* in a may-block syscall in the kernel */
	RT_EXIT_READY,	/* that syscall's exit stop arrived; exit not yet recorded */
	RT_RUNNING,	/* the current thread, running user code */
	RT_ZOMBIE,	/* a leader that exited before the other threads of its
			 * process: out of sched, reported gone after them */
	RT_STOPPED,	/* in a group stop (SIGSTOP & co.), listening
			 * (PTRACE_LISTEN): out of sched until SIGCONT */
	RT_PT_ENTRY,	/* its syscall entry recorded, held in an emulated
			 * syscall-entry-stop: goes on with that syscall */
	RT_AT_CLONE,	/* at its clone event, held in an emulated fork, vfork
			 * or clone event stop: goes on with that syscall */
	RT_AT_EXIT,	/* at its exit event, held in an emulated
			 * PTRACE_EVENT_EXIT stop: goes on exiting */
};

/* Why a syscall site of a call the buffer takes stays on the traced path
 * (syscallbuf-patch.c; counted for `uprr record -v`). */
enum rec_sb_unpatched {
	REC_SB_PATCHED,		/* it was patched (a jump straight to its syscall
				 * instruction still traps: counted as such) */
	REC_SB_SHAPE,		/* the code around it is no shape plan_site() knows */
	REC_SB_NO_AREA,		/* no room for a stub area within +-2 GiB */
	REC_SB_UNREADABLE,	/* its code could not be read */
	REC_SB_FAILED,		/* the patch could not be applied */
	REC_SB_NREASONS,
};

/* The syscall buffer's patched sites of an address space (syscallbuf-patch.c). */
struct rec_sb_site {
	uint64_t addr;		/* its syscall instruction */
	uint8_t why;		/* enum rec_sb_unpatched */
	uint32_t redirects;	/* TRACE_EV_SITE_PATCH redirects of its calls */
	uint32_t misses;	/* redirects followed by a traced call from the
				 * library (uprr record -v) */
	uint64_t stub;		/* patched: its stub's address, */
	uint32_t stub_len;	/* and bytes (16-aligned) */
};

/** Signal-delivery points an address space remembers (struct rec_sb_space). */
#define REC_SB_FRAMES 64

struct rec_sb_space {
	struct rec_sb_site *tried; /* syscall sites looked at (patched or not patchable) */
	size_t ntried, tried_cap;
	uint64_t area;		/* the stub area being filled, 0: none */
	uint64_t area_used;	/* its bytes used */
	/* where signals were delivered (rec_syscallbuf_note_frame()): a
	 * handler's sigreturn (which uprr does not see) resumes there, so no
	 * site is rewritten around one; past REC_SB_FRAMES none is */
	uint64_t frames[REC_SB_FRAMES];
	unsigned nframes;
	bool frames_lost;
};

struct dirty_log;

/* An address space (struct rec_space) and the restore points of its runs. */
struct rspace {
	struct rec_space mem;		/* memfd, users, counting code (NULL: none) */
	struct checkpoint *ckpt;	/* restore point of the current run of user code */
	bool unrestorable;		/* checkpoint_new failed: no restore points */
	bool need_remap;		/* the address space changed since the restore point */
	bool at_exec;			/* its process still stands at its exec stop */
	bool may_preempt;		/* a run may need an execution point: a second
					 * thread, a timer or a signal was seen */
	bool signals;			/* a timer or an asynchronous signal was seen:
					 * every run takes a restore point */
	uint64_t brk_end;		/* the program break brk(2) last returned, 0:
					 * unknown (record-restore.c) */
	struct rec_sb_space sb;		/* syscall sites redirected into the buffer */
	struct dirty_log *tp_dirty;	/* a TP run: the pages written since its
					 * last checkpoint (record-epoch.c), NULL: none */
	bool tp_dirty_failed;		/* dirty_log_new() failed: none tried again */
	pid_t tp_prev_copy;		/* the copy of its last checkpoint, 0: none */
	struct dirty_pages *ep_written;	/* an EP run: the pages written since its last
					 * epoch check, which its restore points' dirty
					 * log appends here (record-ep.c), NULL: none */
	uint64_t ep_since;		/* the check ep_written began at */
	uint64_t sync_code[4][2];	/* libuprr-sync.so's code mappings [start,
					 * end) (rec_in_interposer()) */
	uint8_t nsync_code;		/* how many */
	bool sync_looked;		/* read since its last mmap, munmap or
					 * mremap (rec_restore_map_change()) */
};

/* Memory reads of a spin loop that a spinning thread's watch keeps. */
#define REC_SPIN_WATCH 4

/* What the looks at a thread that may spin saw (record-sched.c). */
struct rec_spin {
	uint64_t probe;			/* ticks to its first look in a run, 0: none */
	unsigned looks;			/* looks in this run */
	struct user_regs_struct regs;	/* at the last one */
	int reg;			/* the one register that changed since the
					 * look before, -1: none or several */
	uint64_t delta, interval;	/* by how much, in how many ticks */
	int counter;			/* the counter of the last loop seen spinning
					 * (-1: none), where it stood, and the rip */
	uint64_t counter_val, counter_rip;
	bool spinning;			/* the last look saw it spin: its preemption
					 * is for that (rec_spin_preempted()) */
	unsigned nwatch;		/* what its loop reads, and what was there when
					 * it was preempted spinning (0: nothing known) */
	struct arch_load watch[REC_SPIN_WATCH];
	uint64_t watch_val[REC_SPIN_WATCH];
	uint64_t spin_interval;		/* ticks between the two looks that saw it
					 * spin there, 0: not seen spinning yet */
	uint64_t spin_delta;		/* its counter's change over them */
};

struct rthread {
	pid_t tid;
	pid_t tgid;		      /* its process (thread group) */
	pid_t parent_tgid;	      /* its process's parent, 0: not recorded */
	struct rspace *space;
	enum rthread_state state;
	struct user_regs_struct regs; /* at the thread's last event */
	uint64_t nr, args[6];	      /* the syscall in progress */
	uint64_t model_nr, model_args[6]; /* what it does: restart_syscall continues
					   * the syscall a signal interrupted */
	uint64_t restart_nr, restart_args[6];
	struct sc_entry entry;	      /* the model's view of the entry */
	bool may_block;		      /* it runs in the kernel while others run */
	bool unknown;		      /* its syscall is one the model does not know */
	const struct ep_call *ep_call; /* EP run: the log's call it makes, NULL if
					* none (not matched: futex, sched_yield) */
	struct ep_call *ep_replaced;  /* EP run: the log's held write with this
				       * run's arguments and count, where its
				       * bytes replaced the held ones
				       * (rec_hold_replace()); malloc'd */
	uint64_t held_id;	      /* TP run: the id of the write held at this
				       * call's entry (tp/output.h), for its exit
				       * event (REC_HELD_VALUE); 0: none */
	int ep_map_fd;		      /* EP run: fd + 1 of the log's copy its mmap maps */
	bool ep_parked;		      /* EP run: stands at its epoch end (record-ep.c),
				       * SCHED_BLOCKED until every thread reached its own, */
	bool ep_reentry;	      /* EP run, lock-step: parked at its end at
				       * the entry of a call not logged yet; its
				       * entry goes on (rec_entry_tail()) when let go */
	size_t ep_taken_seen;	      /* the log's calls it had taken at its last
				       * entry, and that entry's call: the same
				       * call again with none taken is no progress
				       * (record-ep-check.c rec_ep_park()) */
	uint64_t ep_last_nr;
	uint64_t ep_last_arg0;
	bool ep_parked_entry;	      /* at a syscall's entry (RT_AT_ENTRY), else after its
				       * exit (RT_HELD) */
	bool ep_entry_written;	      /* EP run, ep_reentry: its entry's event
				       * written when it parked */
	struct rec_live_clone *live_clone; /* EP run of a re-run from checkpoint k:
				       * its clone made with the log's id
				       * (record-ep-live.c), malloc'd, NULL: none */
	uint64_t ep_sync_rec;	      /* EP run: parked at its end in libuprr-sync's
				       * wait for this record + 1 of its slot
				       * (EP_END_SYNC), its call skipped; 0: not */
	uint64_t ep_sync_frame;	      /* and the condition wait's frame it said */
	bool ep_exit_held;	      /* EP run: its exit_group held at its entry for
				       * the others' last calls (rec_ep_exit_group_wait()) */
	uint8_t order_kind;	      /* enum sc_order of its syscall (record-order.c) */
	bool order_wait;	      /* held at its entry for the order (SCHED_BLOCKED) */
	uint64_t order_seq;	      /* EP run: the log's number of the call it waits with */
	uint64_t order_flight;	      /* EP run: that of its vfork in the kernel, 0: none */
	uint64_t order_went;	      /* EP run: the number its last call in the order
				       * took, which a restart of that call takes again */
	uint64_t order_rsv;	      /* TP run: the number kept for its call in the
				       * kernel, which a read numbered meanwhile may
				       * have taken bytes of, 0: none */
	const struct ep_call *ep_signalled; /* EP run: the call whose log signals it was given
				       * (those at its exit, ep_call.nexit) */
	const struct ep_call *ep_entry_given; /* EP run: the call whose signal instead of
				       * entering the next one it was given */
	const struct ep_call *ep_restart; /* EP run: the log's call its live wait made,
				       * interrupted by a signal of this run's own and
				       * restarted by the kernel: its restart takes it
				       * again (rec_ep_entry()) */
	uint32_t ep_sig_next;	      /* EP run: the next of them that may arrive */
	uint32_t ep_sb_n;	      /* EP run: the log's records in its buffer
				       * (record-ep-sb.c), from its next call, */
	const struct ep_call *ep_sb_first; /* that call, */
	uint64_t ep_sb_addr;	      /* and that buffer (0: none put there yet) */
	bool ep_wait_due;	      /* EP run: the log's signal after its call is raised
				       * under the call's wait mask, its own mask */
	uint64_t ep_own_mask;	      /* to come back at the delivery (raise_at_exit()) */
	int deferred_sig;	      /* async signal to deliver at the next syscall */
	siginfo_t deferred_info;
	uint64_t deferred_ns;	      /* when it began to wait (util_now_ns()) */
	uint64_t deferred_cpu_ns;     /* a TP run: the CPU time it had run then
				       * (tracee_cpu_time(); 0: not read yet,
				       * UINT64_MAX: cannot be) */
	siginfo_t *later;	      /* more that arrived meanwhile, oldest first: each
				       * waits for an execution point of its own */
	size_t nlater, later_cap;
	int injecting_sig;	      /* signal we raised, awaiting its delivery stop */
	siginfo_t injecting_info;
	bool injecting_late;	      /* raised during its syscall, recorded at delivery */
	uint64_t sent_blocked;	      /* signals (bit sig - 1) a recorded kill, tkill or
				       * tgkill left pending while its mask blocked them */
	bool injected;		      /* a signal was injected at a syscall entry: */
	struct user_regs_struct injected_regs; /* the registers there */
	/* the start of its current run of user code: rollbacks return here */
	struct user_regs_struct start_regs;
	uint64_t start_mask;		/* its signal mask there: rt_sigreturn,
					 * untraced, may change it in the run */
	uint8_t *xstate;	      /* arch_xstate_size() bytes, allocated at its first run */
	size_t xstate_len;
	bool trap_armed;	      /* the budget traps at its next counted branch */
	uint64_t ticks_base;	      /* ticks counted before the budget was armed */
	uint64_t budget;	      /* the budget armed then: it traps at
				       * ticks_base + budget (0: never) */
	bool probing;		      /* that trap looks whether it spins (record-sched.c) */
	struct rec_spin spin;
	unsigned rollbacks;	      /* in this run of user code */
	bool uncountable;	      /* gave up reaching an execution point in this run */
	bool own_affinity;	      /* its CPU affinity is the program's choice, not uprr's pin */
	int pmu_fd;		      /* its tick counter (--ticks=pmu), -1: none yet */
	struct rec_output out;	      /* where the syscall in progress sends bytes */
	bool persona_norandom;	      /* the program's own ADDR_NO_RANDOMIZE (sandbox.c) */
	bool stop_filter;	      /* uprr's stop filter is stacked on it (seccomp.c):
				       * inherited by its children, kept by exec */
	bool stop_filter_due;	      /* to stack once its tracer's signal is delivered */
	bool stepping;		      /* its emulated tracer single-steps it: its user
				       * code runs one instruction (PTRACE_SINGLESTEP) */
	int step_stop;		      /* the step ends with no instruction to run: at
				       * the exit of the syscall stepped (TRAP_BRKPT),
				       * or at a handler's entry (SIGTRAP); 0: none */
	int group_sig;		      /* the signal of its group stop (RT_STOPPED) */
	bool pt_waiting;	      /* its wait4 for an emulated tracee's stop is
				       * held at its entry until one comes */
	uint64_t sb_key;	      /* the FS base its syscall buffer was found by */
	uint64_t sb_addr;	      /* that buffer, 0: not found yet (syscallbuf.c) */
	bool sb_interrupted;	      /* its buffer's interrupt is set */
	bool point_later;	      /* stopped inside the syscall buffer's library:
				       * its execution point is sought again once it
				       * ran a little */
	bool sb_rerun;		      /* it re-runs its buffered calls after a rollback
				       * that kept them, until its notify call */
	uint64_t sb_redirected;	      /* the site its last call was redirected from
				       * into the library, until its next seccomp
				       * stop (syscallbuf-redirect.c); 0: none */
	uint64_t sb_wakes_on;	      /* the buffer whose wakes it set to 1, */
	uint64_t sb_wakes_off;	      /* and to 0 (0: none; rec_syscallbuf_wakes) */
	uint64_t sb_maps_on;	      /* the buffer whose maps it set to 1, */
	uint64_t sb_maps_off;	      /* and to 0 (0: none; rec_syscallbuf_maps) */
	uint64_t sb_head_addr;	      /* its buffer at its restore point, 0: none, */
	uint64_t sb_head[5];	      /* and that buffer's head there (struct uprr_buf),
				       * which a rollback puts back: restore points
				       * leave the buffers out (rec_syscallbuf_untracked) */
	int exit_sig;		      /* its syscall's exit was taken at the
				       * delivery stop of this signal, which it
				       * still stands in (rec_exit_at_signal()) */
	/* a TP run stopped it in user code while another thread's syscall
	 * site is patched (rec_tp_hold_space()): */
	bool tp_held;		      /* at the interrupt's stop, at tp_rip */
	bool tp_status_due;	      /* at an event that came first, whose wait
				       * status tp_status the loop handles next */
	int tp_status;
	uint64_t tp_rip;	      /* where it stands, while either holds */
	uint64_t tp_syscalls;	      /* a TP run: its syscalls logged, traced (exits)
				       * and buffered (records; record-epoch.c) */
	bool tp_rewound;	      /* rec_tp_hold_one() stopped it at the entry of a
				       * syscall it had entered, rewound */
	bool epoch_held;	      /* stands still for a checkpoint (record-epoch.c): */
	bool epoch_in_syscall;	      /* in its syscall, not in user code */
	bool epoch_at_entry;	      /* at a traced syscall's entry, not entered */
	bool epoch_seek;	      /* let go to its next traced syscall's entry */
	bool epoch_exit_end;	      /* its exit_group ended an epoch, or tried to
				       * (rec_epoch_end_at_exit()) */
	bool epoch_exit_logged;	      /* held at the exit of a call that had ended,
				       * that exit logged at the end (lock-step): the
				       * loop lets it go (RT_HELD) */
};

/* The syscall buffer's recorder state (syscallbuf.c). */
struct rec_sb {
	uint64_t image_ref;	/* file id + 1 of the preload image in the trace, 0: not kept yet */
	uint8_t *data;		/* scratch: a buffer's records */
	size_t data_cap;
	uint32_t *sinks;	/* scratch: where each record's bytes went */
	size_t sinks_cap;
	uint8_t *extra;		/* scratch: bytes of records that hold none (copy_file_range) */
	size_t extra_cap;
	uint64_t records, flushes; /* buffered calls recorded, events they took */
	uint64_t *ref_offs;	/* scratch: syscallbuf-ref.c */
	size_t ref_offs_cap;
	uint8_t *ref_check;	/* scratch: a kept file's bytes, compared */
	size_t ref_check_cap;
	uint64_t ref_reads, ref_bytes; /* reads kept by reference, their bytes */
	uint64_t patched;	/* syscall sites redirected into the library */
	/* calls the buffer takes made from a site that stays traced, and
	 * those sites, by enum rec_sb_unpatched */
	uint64_t unpatched_calls[REC_SB_NREASONS], unpatched_sites[REC_SB_NREASONS];
	/* of those, the calls sent into the library from their seccomp stop,
	 * and those followed by a traced call from the library
	 * (syscallbuf-redirect.c) */
	uint64_t redirects, redirect_misses;
	bool no_writes;		/* write(2) left the buffers (UPRR_CTL_NO_WRITES) */
	/* the records a rollback keeps for the running thread's re-run */
	uint8_t *keep;
	size_t keep_cap;
	uint32_t keep_len;	/* their bytes */
	uint32_t keep_at;	/* where in the buffer they go back */
	uint64_t reruns;	/* rollbacks that kept records */
	uint64_t keys[64];	/* the slots' owners before a rollback
				 * (uprr_ctl.keys, UPRR_PRELOAD_NSLOTS) */
};

/*
 * When the running thread is due to be stopped: once @len ns of wall time
 * have passed since @start_ns and then @len ns of its own CPU time, counted
 * from when the wall time ran out (@cpu_ns, 0 until then): on a busy machine
 * wall time passes while it waits for the CPU. Reading the CPU time costs a
 * file read, so only a thread that outlived its wall time pays it.
 */
struct deadline {
	uint64_t start_ns, len, cpu_ns;
};

/* What a TP run did (record-tp.c), for `uprr record -v`. */
struct rec_tp_stats {
	uint64_t passes;	/* passes over the threads stopped at an event */
	uint64_t resumed;	/* threads those passes let go on */
	uint32_t max_running;	/* most threads seen in user code at once */
	uint64_t interrupted;	/* signals delivered where their thread was
				 * interrupted in user code */
	uint64_t holds, holds_failed; /* threads stopped for a site's patch, and
				 * patches put off as one came to an event */
};

/* The total order of shared-state calls (record-order.c): a TP run numbers
 * them, an EP run follows the numbers. */
struct rec_order {
	uint64_t seq;		/* TP: the last number given; EP: the last one let go */
	pid_t holder;		/* TP: the thread whose SC_ORDER_ONE call is in the
				 * kernel, 0: none */
	uint64_t holder_ns;	/* since when (util_now_ns()) */
	uint64_t stuck_ns;	/* EP: since when only order waiters were left, 0 */
	/* figures for `uprr record -v` */
	uint64_t waits;		/* calls held at their entry */
	uint64_t expired;	/* TP: holders let go of after ORDER_HOLD_NS */
	uint64_t reserved;	/* TP: holders' numbers kept below a read's */
	uint64_t skipped;	/* EP: numbers no thread came with (jumped over) */
	uint64_t done[8];	/* EP: numbers of vfork parents' calls that returned */
	uint32_t ndone;		/* before their turn (record-order.c, ep_issue()) */
};

/* A TP run's epochs and their checkpoints (record-epoch.c). */
struct rec_epochs {
	uint64_t len_ns;	/* epoch length, 0: no epochs (adaptive: the
				 * present one, adapt()) */
	uint64_t next_ns;	/* when the next one ends (util_now_ns()) */
	/* adaptive epochs (rec_options.epoch_adaptive, record-epoch.c adapt()) */
	bool adaptive;
	uint64_t max_len_ns;	/* the longest epoch (rec_options.epoch_ms) */
	const struct rec_output_holder *output; /* asked whether output waits */
	uint64_t seen_k, seen_given_up, seen_put_off; /* the ends adapt() has seen */
	uint64_t not_before_ns;	/* held output brings no end before this: an end
				 * put off is retried no sooner than it said */
	uint64_t last_end_ns;	/* when the last end was taken or given up */
	bool output_waited;	/* output waited in the epoch in progress */
	uint64_t output_ends;	/* ends brought forward by held output */
	uint64_t k;		/* checkpoints taken (the last one's number) */
	uint64_t stood_ns;	/* lock-step: time the threads stood at ends while the EP run ran */
	bool check;		/* check each copy (rec_options.epoch_check) */
	const struct rec_epoch_keeper *keeper;
	/* figures for `uprr record -v` */
	bool anywhere;		/* a thread that reaches no syscall in time may
				 * end in user code (rec_options.epoch_anywhere) */
	const char *sync_log;	/* rec_options.tp_sync_log */
	uint64_t sync_ends;	/* ends in glibc's wait in a condition wait or a lock
				 * said (sync_wait_at()) */
	uint64_t gather_start_ns; /* an end in progress: when its threads were
				 * stopped, those in user code let go to their
				 * next syscall (0: none in progress) */
	uint64_t tick_ns;	/* when that end was due */
	bool requested;		/* UPRR_CTL_EPOCH_END set in the recorded
				 * processes for that end (record-epoch.c) */
	uint64_t put_off;	/* ends put off: a thread stood at an event */
	uint64_t cut_since_ns;	/* the first of the ends put off one after
				 * another by a write the interrupt would cut
				 * short (record-epoch.c cut_short()), 0: none */
	uint64_t cut_put_off, cut_given_up; /* ends put off, and given up, for
				 * such a write */
	uint64_t given_up;	/* ends given up: a thread reached no syscall in
				 * time (EPOCH_GATHER_NS) */
	uint64_t sought;	/* threads let go to their next syscall (sum) */
	uint64_t exit_ends;	/* ends at the program's exit_group (rec_epoch_end_at_exit()) */
	uint64_t interposer_passed; /* calls inside libuprr-sync.so not held at
				 * (rec_epoch_hold_at_entry()) */
	uint64_t held_blocked;	/* of those, held blocked in a call on the way */
	uint64_t exits_logged;	/* exits of calls that had ended, logged at
				 * their end (lock-step: log_ended_exits()) */
	uint64_t user_ends;	/* threads' ends in user code (anywhere only) */
	uint64_t reach_ns, reach_max_ns; /* ends taken: tick to every thread at
				 * a syscall (sum, max) */
	uint64_t given_up_ns;	/* ends given up: the time lost (sum) */
	uint64_t copies, copy_failures, uncopied; /* processes copied, copies
				 * that failed, processes not copied (not uprr's
				 * children: their copy would be the program's) */
	uint64_t stop_ns, pause_ns, pause_max_ns; /* interrupts sent -> all stopped,
				 * all stopped -> all resumed (sum, max) */
	uint64_t pause_min_ns;	/* the shortest pause */
	uint64_t rss_sum;	/* resident bytes of the processes at each (sum) */
	uint64_t copy_ns, dirty_ns, check_ns; /* of the pauses: copying, reading
				 * and arming the dirty logs, checking (left out
				 * of pause_ns) */
	struct checkpoint_copy_times copy_parts; /* of copy_ns, by part (sums) */
	uint64_t settle_ns;	/* of the pauses: settled() and the end's request cleared */
	uint64_t ends_ns;	/* of the pauses: buffers flushed, ends logged */
	uint64_t resume_ns;	/* after the pauses (and the lock-step's steps):
				 * every thread let go */
	uint64_t written_pages;	/* pages the dirty logs listed */
	uint64_t checked, differed; /* copies checked, and found different */
	uint64_t unwritten_checked; /* pages the dirty logs said unwritten, checked */
};

/* A file by identity. */
struct file_key {
	dev_t dev;
	ino_t ino;
};

/* Output commit in a TP run (record-hold.c, tp/output.h). */
struct rec_hold {
	const struct rec_output_holder *holder; /* NULL: nothing is held */
	struct file_key *made;	/* pipes and sockets that stay inside: made by
				 * the recording, or connected to a recorded
				 * process */
	size_t nmade, made_cap;
	struct file_key *outside; /* sockets, FIFOs, terminals outside,
				   * judged once */
	size_t noutside, outside_cap;
	uint64_t writes, bytes;	/* writes held, and their bytes */
	uint64_t live;		/* writes to such a destination run live
				 * (an address, control data, OOB) */
};

struct recorder {
	struct trace_writer *w;
	struct sched *sched;
	struct rthread *threads;
	size_t nthreads, cap;
	pid_t root;			/* the process uprr started */
	unsigned nprocs;		/* recorded processes alive */
	bool done;
	int status;			/* wait status of the root process */
	uint64_t last_sig_rip;		/* where the last fatal-looking signal hit */
	pid_t last_sig_tid;
	char error[512];		/* why recording stopped early, if it did */
	struct sc_ranges ranges;	/* scratch for the model */
	uint8_t *buf;			/* scratch for tracee memory */
	size_t buf_cap;
	struct trace_blob *blobs;
	size_t blobs_cap;
	/* preemption in user code: the PMU counts ticks, or soft ticks */
	bool pmu;			/* every thread's ticks are counted by the PMU */
	bool soft;			/* new address spaces count soft ticks */
	struct checkpoint_stats ckpt_stats; /* of address spaces already gone */
	size_t nsites;			/* counted branches installed, all spaces */
	struct deadline due;		/* of the running thread: its timeslice, or the
					 * grace for its armed budget */
	struct rec_stats stats;
	struct file_key *shared_files;	/* files some process mapped MAP_SHARED, or
					 * MAP_PRIVATE where they may change */
	size_t nshared, shared_cap;
	struct rec_vdso vdso;		/* the vDSO image last kept */
	struct rec_ptrace_emu ptrace;	/* threads recorded processes trace */
	struct rec_ipc ipc;		/* SysV segments the program made (ipc.c) */
	bool program_filters;		/* the program installed a seccomp filter (sandbox.c) */
	bool syscallbuf;		/* map the syscall buffer at every exec */
	struct rec_ep *ep;		/* an EP run: its log (record-ep.c), else NULL */
	struct rec_ep *ep_gone;		/* an EP run gone live (record-ep-live.c): its
					 * log, freed at the end; rec->ep NULL */
	const struct rec_ep_live *redeliver; /* gone live, and input the TP run read
					 * is still to be given again, else NULL */
	struct rec_live_signal *live_sigs; /* gone live: signals from outside the
					 * TP run took since, sent again in order
					 * (record-ep-live.c) */
	size_t nlive_sigs, live_sigs_sent;
	struct rec_rerun *rerun;	/* rec_options.rerun: a TP run notes in it what
					 * it changed outside (record-rerun.c) */
	bool ep_diverged;		/* it stopped at a divergence from the log */
	bool ep_started;		/* its first image is the log's */
	struct {
		uint8_t *buf, *out;	/* records put in a buffer, written to the trace */
		size_t cap, out_cap;
		uint64_t filled, consumed; /* records put in buffers, answered there */
	} ep_sb;			/* an EP run's syscall buffer (record-ep-sb.c) */
	struct rec_sb sb;		/* its state (syscallbuf.c) */
	cpu_set_t affinity;		/* uprr's CPUs before it pinned itself */
	bool have_affinity;
	bool tp;			/* a TP run (--mode=tp-log): every thread runs
					 * at once, the trace is a log (record-tp.c) */
	struct rec_tp_stats tp_stats;	/* its figures */
	struct rec_epochs epochs;	/* its epochs (record-epoch.c) */
	struct rec_hold hold;		/* its held output (record-hold.c) */
	struct rec_order order;		/* shared-state calls' order (record-order.c) */
	uint64_t respawn_at;		/* UPRR_RESPAWN_AT (record-respawn.c): the entry
					 * or checkpoint a respawn is due from, 0: none
					 * (or done) */
	uint64_t respawn_seen;		/* syscall entries seen by rec_respawn_maybe() */
};



/** Whether the threads run one at a time, as sched/ picks them, with
 * timeslices, execution points and restore points (UP recording); false in
 * a TP run, where every thread runs at once on the CPUs the program would
 * have natively and nothing preempts it (doc/uniparallel.md, record-tp.c).
 * Each decision the TP run skips is guarded by this, once. */
static inline bool
rec_serial(const struct recorder *rec)
{
	return !rec->tp;
}

/** The recorded thread @tid, or NULL. */
struct rthread *rec_find_thread(struct recorder *rec, pid_t tid);

/** Forget thread @tid; the last thread of a process takes it out of its
 * address space. */
void rec_remove_thread(struct recorder *rec, pid_t tid);
/** At an EP run's end, when nothing else stopped it: a thread of the log
 * with calls the run never made (its program ended earlier: a signal the
 * log's run took later, a thread killed by another's exit_group sooner)
 * is a divergence (rec->ep_diverged, rec->error); the run did not follow
 * the log. Nothing if not an EP run. */
void rec_ep_check_used(struct recorder *rec);

/**
 * Go on in a respawn of the program (record-respawn.c): its process copied,
 * killed and reaped, the copy respawned with its ids, each thread brought
 * back to the stop its original stood at (one in a blocking call taken out
 * of it with PTRACE_INTERRUPT and put back into it), interval timers and
 * pending signals given again; /proc/PID/mem and the restore point made
 * anew. For a program of one process whose threads all stand at uprr's
 * stops or in blocking calls (@cur at a fresh syscall entry, before the
 * recorder looked at it), with no child, POSIX timer or record lock (what
 * a fork does not carry), not leading its session or its terminal's
 * foreground group. Returns 1 when done, 0 when not possible now
 * (why in @why, @len bytes; nothing changed), -ECANCELED when the program
 * was lost on the way (the recording stopped, named).
 */
int rec_respawn(struct recorder *rec, struct rthread *cur, char *why, size_t len);
/** The test switch UPRR_RESPAWN_AT=N into rec->respawn_at (0: none; not
 * in an EP run nor under the PMU). */
void rec_respawn_init(struct recorder *rec);
/** With rec->respawn_at: rec_respawn() once, at the first syscall entry
 * from the Nth on where it can be (@t at it, its registers read); UP
 * recording only. False when the recording stopped on the way. */
bool rec_respawn_maybe(struct recorder *rec, struct rthread *t);
/** The same switch in a TP run: rec_respawn() once, at the first
 * checkpoint from the Nth on where it can be, every thread held there
 * (record-epoch.c, before they go on). */
void rec_respawn_at_checkpoint(struct recorder *rec);

/** Stop recording, keeping the first reason given (printf-like). */
void rec_stop_recording(struct recorder *rec, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/** Resume @t with ptrace request @how, delivering @sig (0: none); a
 * PTRACE_CONT of a thread its emulated tracer single-steps steps. */
void rec_resume(struct rthread *t, enum __ptrace_request how, int sig);
/** Take @t's deferred signal out (its siginfo into *ret_si); returns it. */
int rec_take_deferred(struct rthread *t, siginfo_t *ret_si);
/** Handle one wait status @status of thread @tid. */
void rec_dispatch(struct recorder *rec, pid_t tid, int status);
/** Make progress on @t, stopped at an event (record.c's loop): false if it
 * made none (it vanished, or waits for the kernel). */
bool rec_run_current(struct recorder *rec, struct rthread *t);

/* record-tp.c: the TP run, every thread at once */

/** One pass of a TP run's loop: let every thread that stands stopped at an
 * event, and that no emulated tracer holds, go on (rec_run_current()), each
 * once. Returns true if one did. */
bool rec_tp_run_ready(struct recorder *rec);
/** In a TP run's loop: interrupt a thread in user code whose asynchronous
 * signal waited TP_SIGNAL_WAIT_NS for an event of it (a loop that makes no
 * syscall); true if one was. Else stores in *ret_wait_ns when to look again
 * (0: no signal waits). */
bool rec_tp_signal_due(struct recorder *rec, uint64_t *ret_wait_ns);
/** @t, interrupted by rec_tp_signal_due() in user code at @regs: deliver
 * its deferred signal there (TRACE_SIGNAL_AT_REGS), and let it run. */
void rec_tp_signal_here(struct recorder *rec, struct rthread *t, struct user_regs_struct *regs);
/** In a TP run, before a syscall site of @t's address space is rewritten:
 * stop every other thread of it that runs user code (PTRACE_INTERRUPT),
 * where it stands (t->tp_held), or at an event that came first, left for
 * the loop (t->tp_status_due). Returns true if each stands still: their
 * tp_rip say where. rec_tp_release_space() lets the held ones go on. */
bool rec_tp_hold_space(struct recorder *rec, const struct rthread *t);
void rec_tp_release_space(struct recorder *rec);
/** Where thread @u of a TP run stands, if the recorder knows (it is not
 * running user code): true and its rip in *ret_rip. */
bool rec_tp_position(const struct recorder *rec, const struct rthread *u, uint64_t *ret_rip);
/** Log what the TP run did (`uprr record -v`). */
void rec_tp_log_stats(const struct recorder *rec);

/* record-order.c: the total order of shared-state calls (sc_order()) */

/** Before @t, at the entry of its syscall, runs it (rec_issue_syscall()):
 * true if it must wait for the order, held at its entry (RT_AT_ENTRY,
 * SCHED_BLOCKED) until the order lets it go (SCHED_RUNNABLE again, and it
 * comes back here). A TP run holds an SC_ORDER_ONE call while another is
 * in the kernel; an EP run holds a call whose log number is not the next. */
bool rec_order_issue(struct recorder *rec, struct rthread *t);
/** At @t's syscall exit in a TP run, before its event is written: number
 * an ordered call in @ev's values[6] (trace-format.md) and let the
 * calls it held go. */
void rec_order_exit(struct recorder *rec, struct rthread *t, int64_t result,
		    struct trace_event *ev);
/** In the loop, when no thread can go on (an EP run: sched/ picked none;
 * a TP run: after its pass): true if the order let a thread go (a holder
 * that outstayed its bound, or an EP run's waiters that nothing else can
 * release: the lowest number goes). Else lowers *@wait_ns to when to look
 * again, if ever. */
bool rec_order_due(struct recorder *rec, uint64_t *wait_ns);
/** Stop an EP run at a divergence of @t's syscall from the log: @why, one
 * phrase (record-ep.c). */
void rec_ep_diverge(struct recorder *rec, const struct rthread *t, const char *why);
/** EP run: stop at a divergence of @t from the log, saying what, in one
 * line ("divergence from the log: thread N (the log's M), " then @fmt). */
void rec_ep_diverge_at(struct recorder *rec, const struct rthread *t, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/** Every writable page of process @pid, the kernel's special mappings
 * ([vdso], [vvar]...; not [heap] nor [stack]) left out, appended to @ret
 * (/proc/PID/maps, proc(5)). 0 or -errno. record-epoch-check.c. */
int rec_writable_pages(pid_t pid, struct dirty_pages *ret) _wur_;
/** `--epoch-check` (rec_options.epoch_check, a testing aid): compare the
 * fresh checkpoint copy @c of process @pid (threads @tids, @n of them,
 * index for index the copy's) with @pid, still stopped, and check the dirty
 * log's @written pages of the epoch against @prev, checkpoint k - 1's copy;
 * the result counted in rec->epochs (checked, differed, unwritten_checked)
 * and said. Nothing owned. record-epoch-check.c. */
void rec_epoch_check_copy(struct recorder *rec, pid_t pid, const pid_t *tids, size_t n,
			  struct checkpoint_copy *c, pid_t prev, const struct dirty_pages *written);
/** Log the order's figures (`uprr record -v`). */
void rec_order_log_stats(const struct recorder *rec);
/** In a TP run, @u (its PTRACE_INTERRUPT sent) in user code: wait for it to
 * stand at the interrupt's stop (true; u->tp_rip says where), a syscall it
 * entered first skipped and rewound; false, with the event that came first
 * left for the loop (u->tp_status_due), or when it is gone. */
bool rec_tp_hold_one(struct recorder *rec, struct rthread *u);

/* record-hold.c: output commit, a TP run's external output held */

/** Hold a TP run's external output as @opts->output asks (nothing if NULL;
 * with the syscall buffer on, writes and sends leave it from the start,
 * UPRR_CTL_NO_WRITES: a buffered one would go out at once). */
void rec_hold_init(struct recorder *rec, const struct rec_options *opts);
/** TP run: whether the pipe or socket (@dev, @ino) was made by the
 * recording (pipe, pipe2, socketpair) and stays inside it. */
bool rec_hold_made_inside(const struct recorder *rec, dev_t dev, ino_t ino);
/** At @t's syscall entry, before it runs: a write, writev, sendto or
 * sendmsg to a destination outside the recording (a terminal, a pipe or
 * socket the recording did not make) is not run: its bytes go to the
 * holder, tagged with the current epoch, and it returns their count (the
 * log has that result). True if it was held so. */
bool rec_hold_write(struct recorder *rec, struct rthread *t);
/* The value of a TP log's syscall exit event that holds the id of the
 * write output commit held there (trace-format.md); after the order's. */
#define REC_HELD_VALUE 7
/** EP run, at @t's syscall entry, whose call @c of the log does not match
 * (ep_call_check()): if @c is a write the log's run held (its exit's
 * REC_HELD_VALUE) and @t makes the same call to the same fd with other
 * bytes, those replace the held ones (rec_ep.output's replace(): never
 * shown, the held write never reached the kernel) and @t's call is
 * answered with its own count: a divergence of output only, which the
 * epoch's end check sees in memory if it went further. Returns the call
 * @t makes instead of @c (t->ep_replaced), or NULL: a divergence. */
const struct ep_call *rec_hold_replace(struct recorder *rec, struct rthread *t,
				       const struct ep_call *c);
/** A re-run's EP run (rec_options.ep_live), at @t's entry of the log's
 * call @c that matches: if @c was a held write, whether @t's bytes are
 * what went out for it (the EP run that diverged may have replaced the
 * log's; tp/output.c keeps a hash of each write shown). True if so or if
 * @c was no held write, or one whose bytes come from another fd
 * (sendfile, splice, tee: not read by a run that follows the log). */
bool rec_hold_shown_same(struct recorder *rec, struct rthread *t, const struct ep_call *c);
/** At @t's syscall exit with @result: note the pipes and socket pairs the
 * recording makes (pipe, pipe2, socketpair), whose writes stay live. */
void rec_hold_exit(struct recorder *rec, struct rthread *t, int64_t result);
/** Log what was held (`uprr record -v`) and free the state. */
void rec_hold_free(struct recorder *rec);

/* record-epoch.c: a TP run's epochs and checkpoints */

/** Start the epochs of a TP run as @opts asks (none if not a TP run). */
void rec_epoch_init(struct recorder *rec, const struct rec_options *opts);
/** In a TP run's loop: end the epoch if it is due (true: it did, or put it
 * off); else lower *@wait_ns (0: nothing waits) to when it is due. */
bool rec_epoch_due(struct recorder *rec, uint64_t *wait_ns);
/** At @t's syscall entry (a seccomp stop, t->regs read), before it is an
 * event: while an epoch's end waits for @t to reach a syscall, hold it
 * there, the call skipped and rewound (true: the entry is no event now; @t
 * enters the call again once let go). False: go on with the entry. */
bool rec_epoch_hold_at_entry(struct recorder *rec, struct rthread *t);
/** At @t's syscall entry, as rec_epoch_hold_at_entry(): when it is the
 * exit_group(2) of the program's last process, once, an epoch ends there,
 * @t held at it (true: the entry is no event now). The epoch before is
 * then checked while the TP run still stands with its kernel state, which
 * a re-run from its checkpoint takes. False: go on with the entry. */
bool rec_epoch_end_at_exit(struct recorder *rec, struct rthread *t);
/** In a TP run's loop, before @tid's wait status is dispatched: a thread
 * held for an epoch's end that stops again (killed) gives the end up. */
void rec_epoch_on_status(struct recorder *rec, pid_t tid);
/** A thread of a TP run logged an event (rec_write_event()): its syscall
 * exits count. */
void rec_epoch_count(struct recorder *rec, const struct trace_event *ev);
/** Free what address space @sp holds for epochs. */
void rec_epoch_space_free(struct rspace *sp);
/** A process forked (@sp: its new address space): the control page its
 * parent's fork copied asks for no epoch end unless one is in progress. */
void rec_epoch_space_new(struct recorder *rec, struct rspace *sp);
/** Recording stopped early: the keeper frees every checkpoint now. */
void rec_epoch_drop_all(struct recorder *rec);
/** Log the epochs' figures (`uprr record -v`). */
void rec_epoch_log_stats(const struct recorder *rec);
/** Execute the syscall @t stands at the entry of, to its exit, synchronously. */
void rec_run_syscall(struct recorder *rec, struct rthread *t);
/** If thread @tid stands at a trapped rdtsc or rdtscp, run it in @regs
 * (the value in rax/rdx/rcx, rip past it) and store its length. */
bool rec_run_tsc(pid_t tid, struct user_regs_struct *regs, unsigned *ret_len);

/* Shared by the files of the recorder (record.c) */

/** Write @ev to the trace; a failure stops the recording. 0 or -errno. */
int rec_write_event(struct recorder *rec, struct trace_event *ev);
/** Start event @ev of @type for thread @tid (zeroed). */
void rec_event_init(struct trace_event *ev, enum trace_event_type type, pid_t tid);
/** Give @ev the registers @regs. */
void rec_event_set_regs(struct trace_event *ev, const struct user_regs_struct *regs);
/** Read tracee memory for the model (@ctx: a pid_t *). */
int rec_tracee_mem_read(void *ctx, uint64_t addr, void *buf, size_t len);
/** The running thread is due @len ns (wall, then CPU time) from now. */
void rec_set_deadline(struct recorder *rec, uint64_t len);
/** Whether the running thread's deadline passed; if not, when to look
 * again (ns) in *ret_wait_ns. */
bool rec_deadline_passed(struct recorder *rec, pid_t tid, uint64_t *ret_wait_ns);
/** Keep asynchronous signal @si for @t's next execution point. 0 or -ENOMEM. */
int rec_defer_signal(struct rthread *t, const siginfo_t *si);
/** @t is about to run user code: make this its restore point. */
void rec_start_run(struct recorder *rec, struct rthread *t);
/** Let @t run user code, delivering @sig (0: none) with @info first. */
void rec_resume_user(struct recorder *rec, struct rthread *t, int sig, const siginfo_t *info);
/** @t entered a group stop / left it (SIGCONT). */
void rec_on_group_stop(struct recorder *rec, struct rthread *t, int sig);
void rec_on_group_continue(struct recorder *rec, struct rthread *t);

/* record-signals.c: signals and execution points */

/** If @t's mask blocks its deferred signal, give it back to the kernel:
 * true if it did. */
bool rec_requeue_if_blocked(struct rthread *t);
/** Wait for the next stop of @t (record-syscall.c): false, with nothing
 * stored, when @t is a leader that turned zombie in a group exit meanwhile
 * (the kernel reports it only after its other threads, which the main loop
 * lets go) or is gone. */
bool rec_wait_thread_stop(struct recorder *rec, struct rthread *t, int *ret_status);
/** Whether @t, at a syscall entry with a deferred signal, takes it during
 * the syscall rather than before it. */
bool rec_signal_during_syscall(const struct rthread *t);
/** Raise @t's deferred signal while it enters its syscall. */
void rec_raise_during_syscall(struct rthread *t);
/** Deliver @t's deferred signal where it stands in a ptrace stop that
 * injects none (an interrupt's, a seccomp stop): raise it and resume @t,
 * which stops for its delivery at once (rec_on_signal()). */
void rec_raise_deferred(struct rthread *t);
/** Deliver @t's deferred signal instead of entering its syscall. */
void rec_inject_at_syscall(struct recorder *rec, struct rthread *t);
/** Whether the running thread @t should be stopped at an execution point
 * now; if not, in how many ns to look again in *ret_wait_ns (0: no need). */
bool rec_point_due(struct recorder *rec, struct rthread *t, uint64_t *ret_wait_ns);
/** The running thread @t overran its deadline: stop it where it is. */
void rec_interrupt_running(struct recorder *rec, struct rthread *t);
/** A seccomp stop of @t while it re-runs its buffered calls (t->sb_rerun):
 * the library's notify call after the last (UPRR_NOTIFY_NR), which is
 * skipped and arms its tick budget, or a divergence that stops recording. */
void rec_rerun_notify(struct recorder *rec, struct rthread *t);
/** A signal-delivery-stop of @t for @sig. */
void rec_on_signal(struct recorder *rec, struct rthread *t, int sig);
/** Deliver caught signal @sig (@info, NULL: the kernel's) to @t and let it
 * run its handler, without the single step to the handler's first
 * instruction, when its run starts with no restore point (no rollback will
 * need that point, and no user instruction runs before it). True if so
 * (@t runs, its run started); false: deliver it the usual way. */
bool rec_deliver_unstepped(struct recorder *rec, struct rthread *t, int sig, const siginfo_t *info);
/** Whether @t, at the entry of its syscall, signals itself (tgkill(2) or
 * tkill(2) of its own ids, kill(2) of its process when it is its only
 * thread) with a signal it does not block: the kernel
 * delivers it as the call returns, so the signal-delivery-stop there, with
 * the call's result in rax, can stand for the syscall-exit-stop (one stop
 * instead of two; rec_run_syscall() resumes it with PTRACE_CONT). */
bool rec_exit_at_signal(struct recorder *rec, const struct rthread *t);
/** After @t's syscall returned @result: note a signal its kill(2), tkill(2)
 * or tgkill(2) left pending in a recorded thread whose mask blocks it
 * (struct rthread's sent_blocked), which rec_on_signal() delivers where an
 * untraced rt_sigreturn(2) unblocks it; forget those that rt_sigaction(2),
 * rt_sigtimedwait(2) or execve(2) may take or drop. */
void rec_note_sent_blocked(struct recorder *rec, struct rthread *t, int64_t result);
/** Write the event of signal @sig (@si) delivered to @t, of kind @kind, at
 * @regs. */
void rec_record_signal(struct recorder *rec, struct rthread *t, int sig, const siginfo_t *si,
		       enum trace_signal_kind kind, const struct user_regs_struct *regs);

/* record-sched.c: the recorder's scheduling policy */

/** Whether a thread other than @t may want the CPU while @t runs user code:
 * one is runnable, or in a syscall that may complete by itself (anything
 * but a futex wait with no timeout). Without one, a run needs no restore
 * point: nothing will preempt it. */
bool rec_others_may_run(const struct recorder *rec, const struct rthread *t);
/** Whether @t's syscall, one that arms timers (SC_TIMER: alarm(2),
 * setitimer(2), timer_settime(2)), which just returned 0, armed one rather
 * than disarmed it (a zero it_value). */
bool rec_timer_armed(const struct rthread *t);
/** How long @t's run may last (ns, wall then CPU time: struct deadline)
 * before it is preempted, when others wait: the scheduler's timeslice, or
 * a shorter first one (FIRST_SLICE_NS) in a process no counting code runs
 * in yet, which can only be preempted by rolling its run back. */
uint64_t rec_timeslice_ns(const struct recorder *rec, const struct rthread *t);
/** Set the tick budget of @t, @ticks into its run, to trap after @budget
 * more counted branches (0: never). Returns 0 or -errno. */
int rec_arm_budget(struct rthread *t, uint64_t ticks, uint64_t budget) _wur_;
/** At the start of @t's run of user code, with counting code in its
 * process: if it was seen spinning and others wait for the CPU, arm its
 * budget to look at it again after t->probe ticks. */
void rec_spin_start_run(struct recorder *rec, struct rthread *t);
/** @t stopped at the counted branch rec_spin_start_run() (or this) armed,
 * with @regs (clean): if it makes progress, arm the next look and resume it
 * (true); if it spins (the same registers as at the last look) or must stop
 * there anyway, false: the caller makes it an execution point. */
bool rec_spin_probe(struct recorder *rec, struct rthread *t, const struct user_regs_struct *regs);
/** @t was preempted at an execution point (@regs), its run of user code
 * having no event: look at it in its next runs; if a look saw it spin,
 * note what its loop reads (rec_spin_pick()). */
void rec_spin_preempted(struct recorder *rec, struct rthread *t, const struct user_regs_struct *regs);
/** After a preemption: pick the next thread (sched_pick()), passing over
 * the threads preempted spinning whose loop would read what it read then:
 * they would only spin again. "Switch to the thread it waits for." */
pid_t rec_spin_pick(struct recorder *rec);
/** The syscall @t ran in the kernel (RT_IN_SYSCALL) completed: its exit stop
 * came. It runs next, before the running thread's timeslice ends. */
void rec_on_wakeup(struct recorder *rec, struct rthread *t);

/* record-ptrace.c: emulated ptrace between recorded processes */

/** @t entered an emulated ptrace-stop: hold it, tell its tracer. */
void rec_ptrace_stopped(struct recorder *rec, struct rthread *t);
/** @t entered an emulated ptrace-stop: hold it (@state: what it does once
 * let go), tell its tracer; with @to_trace, write the stop in the trace. */
void rec_ptrace_hold(struct recorder *rec, struct rthread *t, enum rthread_state state, bool to_trace);
/** @t's syscall entry is recorded: true if it is held in a syscall-entry-stop
 * (or the PTRACE_EVENT_STOP of an interrupt while it ran). */
bool rec_ptrace_entry_stop(struct recorder *rec, struct rthread *t);
/** @t is at its PTRACE_EVENT_EXIT: true if it is held there for its tracer. */
bool rec_ptrace_exit_stop(struct recorder *rec, struct rthread *t);
/** Thread @t is gone with @status: its tracer is told if the emulation
 * reports it (before the trace says it is gone). */
void rec_ptrace_on_gone(struct recorder *rec, struct rthread *t, int status);
/** Group stop of @t (@sig) began (@begins) or ended (SIGCONT): its tracer
 * may see it. Returns true if @t is held for its tracer (an end). */
bool rec_ptrace_group_stop(struct recorder *rec, struct rthread *t, int sig, bool begins);
/** Give the SIGCHLD uprr sent tracer @t the kernel's CLD_TRAPPED siginfo. */
void rec_ptrace_notice_siginfo(struct recorder *rec, struct rthread *t, siginfo_t *si);
/** Carry out @t's ptrace call, or a wait4 that reports an emulated stop;
 * true if it was handled so. */
bool rec_emulate_syscall(struct recorder *rec, struct rthread *t);
/** Make @t's syscall, at its seccomp stop, return @result without running,
 * and take its exit stop (seccomp(2): orig_rax -1 skips it). */
void rec_skip_syscall(struct recorder *rec, struct rthread *t, int64_t result);
/** At a wait4's exit that a tracee's stop interrupted: return that stop. */
void rec_emulated_wait_exit(struct recorder *rec, struct rthread *t);
/** Process @tgid ended: detach (or kill, PTRACE_O_EXITKILL) its tracees. */
void rec_tracer_gone(struct recorder *rec, pid_t tgid);

/* unrecorded.c: the trace failed, the program goes on */

/** Events in the trace's whole frames: where its replay will end. */
uint64_t rec_events_written(struct trace_writer *w);
/** Let every recorded process go on as without uprr, until all are gone. */
void rec_go_on_unrecorded(struct recorder *rec);
/** Kill every recorded process and reap them all. */
void rec_kill_tracees(struct recorder *rec);

/* ---- record-start.c: the trace created while the program starts ---- */

/** The trace's creation on a thread of its own (rec_start_begin()). */
struct rec_start {
	const char *dir;		 /**< in: the trace directory to create */
	const struct trace_header *hdr;	 /**< in: its header; read until rec_start_end() */
	bool latest;			 /**< in: point the latest-trace link at it */
	bool syscallbuf;		 /**< in: keep the preload library */
	pthread_t thread;
	bool running;
	struct trace_writer *w;	 /**< the writer, NULL until created */
	uint64_t preload_ref;	 /**< the preload image's file id + 1, 0: not kept */
	struct rec_vdso vdso;	 /**< uprr's own vDSO, patched and kept */
	int r, latest_r;	 /**< 0 or -errno: the trace; the latest-trace link */
};

/**
 * Create trace @s->dir (trace_writer_open()), point the latest-trace link
 * at it if asked, keep the preload library and uprr's own patched vDSO
 * (rec_vdso_keep_own()) in it (where either fails, the exec stop keeps it
 * or fails as before): on a thread that runs, off CPU @avoid_cpu (-1:
 * any), while the caller starts the program, or here if no thread can
 * start. Never fails: rec_start_end() tells. @s lives until then.
 */
void rec_start_begin(struct rec_start *s, int avoid_cpu);
/**
 * Wait for rec_start_begin()'s work; give @rec the writer, the preload
 * image's id and the vDSO cache. Returns 0, or -errno if the trace could
 * not be created (trace_writer_open() removed what it had created; @rec
 * gets nothing).
 */
int rec_start_end(struct rec_start *s, struct recorder *rec) _wur_;

/* ---- record-forward.c: signals sent to uprr, forwarded to the program ---- */

/** From now on rec_forward_signal() sends to process @pid, and SIGHUP and
 * SIGQUIT sent to uprr are forwarded to it; SIGINT is ignored (a
 * terminal's reaches the program by itself) (record-forward.c). A signal
 * that came while no program ran (after rec_forward_stop(): a TP run
 * killed for a re-run) is sent to @pid now if @pending (a re-run), else
 * forgotten (an EP run's program: the signal was the TP run's). */
void rec_forward_start(pid_t pid, bool pending);
/** rec_forward_signal() sends nothing from now on. */
void rec_forward_stop(void);

/* ---- record-syscall.c (syscalls), with record.c (threads, exits, the loop) ---- */

/* Let @t, stopped at a recorded syscall entry, execute it: in the kernel
 * while the others run if it may block, else to its exit. */
void rec_issue_syscall(struct recorder *rec, struct rthread *t);

/* After a clone event: @t continues its syscall, which for a vfork returns
 * only once the child execs or exits; the child runs meanwhile. */
void rec_continue_clone(struct recorder *rec, struct rthread *t);
/* @t, held at its clone event for its emulated tracer, goes on: to its
 * syscall's exit, or (vfork) into the kernel while its child runs. */
void rec_finish_clone(struct recorder *rec, struct rthread *t);
/* @t's syscall entry is recorded (and its tracer let it go): execute it,
 * or hold it at the entry when its timeslice is over. */
void rec_after_entry(struct recorder *rec, struct rthread *t);

/*
 * @parent's clone, fork or vfork created a thread or a process: wait for its
 * first stop and announce it in the trace now, before the exit of the syscall
 * that created it (a vfork child runs first): replay creates it here too.
 * A new process gets an address space of its own, a copy of its parent's,
 * unless it shares it (CLONE_VM: vfork). Returns true if @parent is held
 * in an emulated event stop (PTRACE_O_TRACEFORK & co.): rec_finish_clone().
 */
bool rec_on_clone_event(struct recorder *rec, struct rthread *parent);

/* The seccomp stop of @t's syscall: record its entry, then run it or hold it. */
void rec_on_syscall_entry(struct recorder *rec, struct rthread *t);

/* The exit stop of @t's syscall: record its result and the memory it wrote. */
void rec_on_syscall_exit(struct recorder *rec, struct rthread *t);

/*
 * Copy the ranges in rec->ranges out of thread @tid's memory into blobs.
 * Unreadable ranges (a bad pointer the kernel rejected) are dropped.
 */
int rec_collect_blobs(struct recorder *rec, pid_t tid, uint32_t *ret_n);

/* PTRACE_EVENT_EXIT: let it go and, for a thread other than the leader, wait
 * until it is gone so its CLONE_CHILD_CLEARTID write happens at this point. */
void rec_on_exit_event(struct recorder *rec, struct rthread *t);
/* The same, once its emulated tracer let it go from PTRACE_EVENT_EXIT. */
void rec_finish_exit(struct recorder *rec, struct rthread *t);

/* A new address space of process @pid (after its exec, or a fork of @from,
 * whose counting code it inherits). NULL when out of memory or @pid is gone. */
struct rspace *rec_space_new(struct recorder *rec, pid_t pid, const struct rspace *from);

/* record-restore.c: restore points */

/* Free @sp's restore points (its mirror dies), keeping their figures. */
void rec_space_drop_checkpoint(struct recorder *rec, struct rspace *sp);
/* @t is about to run user code: make this its restore point if the run may
 * need one (t->xstate_len is 0 when it cannot be rolled back). */
void rec_restore_point(struct recorder *rec, struct rthread *t);
/* Whether rec_restore_point() would take one for @t now: false when the run
 * cannot be rolled back or will not need to be. */
bool rec_restore_point_wanted(const struct recorder *rec, const struct rthread *t);
/* @t's syscall that changes mappings (SC_MAPS) returned @result: bring
 * its address space's restore point along, or have it remapped before the
 * next run's. */
void rec_restore_maps_changed(struct recorder *rec, struct rthread *t, int64_t result);
/* The same for syscall @nr (@a) of address space @sp that returned
 * @result: a traced one at its exit, or a buffered one at its flush
 * (rec_syscallbuf_flush()). */
void rec_restore_map_change(struct recorder *rec, struct rspace *sp, long nr, const uint64_t a[6],
			    int64_t result);

/* Thread @tid is gone (wait status @status): its exit, or its process's, is recorded. */
void rec_on_thread_gone(struct recorder *rec, pid_t tid, int status);

/* Whether process @tgid has a thread other than @tid. */
bool rec_has_other_threads(const struct recorder *rec, pid_t tgid, pid_t tid);

/*
 * Arm the timer that wakes the loop after @ns (0: disarm). It repeats every
 * @ns: if it fires between setitimer() and waitpid(), its signal interrupts
 * nothing, and the next one wakes the loop instead of none.
 */
void rec_set_timer(uint64_t ns);

/*
 * The exec stop of process @t->tgid (@t: its leader's entry). The kernel
 * killed its other threads (their deaths may still be reported: unknown
 * threads are ignored) and gave the exec'ing thread the leader's id (ptrace(2),
 * "execve(2) under ptrace"). The process gets a new address space; its
 * execve continues to its exit stop.
 */
void rec_on_exec_event(struct recorder *rec, struct rthread *t);

/* Add thread @tid of process @tgid in address space @sp, runnable. 0 or -ENOMEM. */
int rec_add_thread(struct recorder *rec, pid_t tid, pid_t tgid, struct rspace *sp, struct rthread **ret);

/* ---- two recorders in one thread (record-stash.h) ---- */
#include "recorder/record-stash.h"

/* ---- the in-process syscall buffer (syscallbuf.h) ---- */
#include "recorder/syscallbuf.h"

/* ---- the EP knob: its state and functions (record-ep-private.h) ---- */
#include "recorder/record-ep-private.h"
