/* SPDX-License-Identifier: MIT */
/* Declarations shared by the files of replay/ (not for other components). */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/user.h>

#include "common/util.h"
#include "recorder/recorder.h"
#include "replay/replay.h"
#include "syscalls/syscalls.h"
#include "trace/trace.h"
#include "tracee/tracee.h"

/**
 * Give replayed process @pid, stopped at its exec stop (@memfd: its
 * /proc/PID/mem), the recorded vDSO: the image kept in the trace at @copy
 * (the recorder's patched vDSO), at the address the recorded auxv's
 * AT_SYSINFO_EHDR names (@stack: the recorded initial stack), written over
 * this kernel's vDSO, which must lie there and be no smaller (the same
 * kernel, or one with the same vDSO layout); -EXDEV otherwise. @maps: the
 * @n mappings of @pid (tracee_read_maps()). Returns 0, or -errno with what
 * failed in @why.
 */
int replay_vdso_restore(pid_t pid, int memfd, const struct tracee_mapping *maps, size_t n,
			const char *copy, const struct trace_blob *stack, char *why, size_t len) _wur_;

/**
 * The write-family syscall @nr (@args) of thread @tid returned @result
 * bytes written to /proc/PID/mem in the recording: write those bytes, read
 * from @tid's buffers (write, pwrite64: args[1]; writev, pwritev,
 * pwritev2: the iovec array at args[1], args[2] entries), to @addr through
 * @memfd, the target process's /proc/PID/mem. Returns 0 or -errno.
 */
int replay_mem_write(pid_t tid, long nr, const uint64_t args[6], int64_t result, int memfd,
		     uint64_t addr) _wur_;

/**
 * Thread @tid, recorded as @rec_tid, is about to exit (or die in a group
 * exit or an execve): mark the lock words of the robust mutexes it holds
 * FUTEX_OWNER_DIED through @memfd (/proc/PID/mem), as the kernel did in the
 * recording (set_robust_list(2); handle_futex_death(), kernel/futex/core.c),
 * since here the words hold @rec_tid, not @tid. The list comes from
 * get_robust_list(2). Returns 0 (also when @tid is gone or has no list) or
 * -errno.
 */
int replay_robust_exit(pid_t tid, int memfd, pid_t rec_tid) _wur_;

/* ---- SysV shared memory (sysv.c) ---- */

/** A SysV segment of the recording and this replay's own in its place. */
struct replay_shm {
	int rec_id; /**< the recording's shmid */
	int id;	    /**< this replay's */
};

/** The segments made so far (owned; free with replay_shm_free). */
struct replay_shm_table {
	struct replay_shm *v;
	size_t n, cap;
};

/**
 * The id of this replay's segment for recorded segment @rec_id of @size
 * bytes, made on first use. Replay's segment is attached (read-only) by
 * uprr itself and marked for removal at once, so it lives as long as a
 * replayed process or uprr holds it and no id outlives the replay (Linux
 * lets a segment marked for removal be attached again while attached:
 * shmctl(2) IPC_RMID, shmat(2) EIDRM). Returns the id or -errno.
 */
int replay_shm_id(struct replay_shm_table *tab, int rec_id, uint64_t size) _wur_;

/** Free @tab; uprr's own attachments go when it exits. */
void replay_shm_free(struct replay_shm_table *tab);

struct trace_event;

/** What replay shows again of the recording's output (replay/output.c). */
struct replay_output {
	uint32_t format; /**< the trace's format version: what values[2] means */
	bool quiet;	 /**< do not show stdout and stderr */
	int dump_fd;	 /**< `--dump-sent` file, -1: none */
	struct sc_ranges ranges;
	uint8_t *buf;
	size_t buf_cap;
};

/**
 * Set up @o for a trace of format @format: quiet or not; with @dump_path,
 * create it (0600, truncated) for the bytes sent on sockets. Returns 0 or
 * -errno (logged).
 */
int replay_output_open(struct replay_output *o, uint32_t format, bool quiet,
		       const char *dump_path) _wur_;

/**
 * At the recorded exit @ev of syscall @nr (@args, recorded @result) of
 * replayed thread @tid, held at its entry: show the bytes it passed from its
 * memory to uprr's stdout or stderr again, and add those it sent on a socket
 * to the dump, as the exit's values[2] says (formats 1-5: writes to fd 1 or
 * 2, and send, sendto, sendmsg).
 */
void replay_output_syscall(struct replay_output *o, const struct trace_event *ev, pid_t tid,
			   long nr, const uint64_t args[6], int64_t result);

/**
 * A TRACE_EV_OUTPUT record @ev: show its bytes or dump them; bytes the
 * recording could not capture are warned about, once per record.
 */
void replay_output_event(struct replay_output *o, const struct trace_event *ev);

/** Close the dump and free @o's buffers. */
void replay_output_close(struct replay_output *o);

/* ---- the replayer's state, shared by replay.c and signals.c ---- */

enum pthread_state {
	PT_HELD,     /* stopped after an event; resume with PTRACE_CONT */
	PT_AT_ENTRY, /* stopped at a syscall entry (seccomp stop) */
	PT_RUNNING,  /* resumed: its next stop is pending */
	PT_IN_KERNEL, /* its clone created the new thread or process; the clone's
		       * exit stop is pending */
	PT_ZOMBIE,   /* a leader that exited before the other threads of its
		      * process; reported gone after them */
};


/* A buffered write whose bytes the trace holds as a hash (syscallbuf.c). */
struct replay_sb_hashed {
	uint32_t off;			/* the record's offset among the expected ones */
	uint32_t len;			/* its bytes, after its struct uprr_rec */
	uint8_t hash[TRACE_HASH_SIZE];	/* trace_hash128() of them */
};

struct pthread_r {
	pid_t rec_tid; /* thread id in the recording */
	pid_t tid;     /* thread id in this replay */
	pid_t tgid;    /* its process in this replay */
	pid_t rec_tgid;	  /* and in the recording */
	pid_t rec_parent; /* its process's parent in the recording, 0: not recorded */
	struct rec_space *space;
	enum pthread_state state;
	uint64_t nr, args[6];
	struct user_regs_struct regs;
	bool has_wait_mask; /* its last syscall was interrupted with a temporary */
	uint64_t wait_mask; /* signal mask, which the delivery must see */
	bool held_wait;	    /* held for its tracer in such a delivery: the wait's
			     * mask still holds, and held_own_mask comes back */
	uint64_t held_own_mask;
	bool stepping;	    /* its emulated tracer single-steps it: its user
			     * code runs one instruction (PTRACE_SINGLESTEP) */
	/* buffered syscalls put in its buffer for its next run (syscallbuf.c) */
	uint64_t sb_addr;   /* its buffer */
	uint8_t *sb_expect; /* the records as recorded, sb_len bytes */
	uint32_t sb_len, sb_nrecs;
	size_t sb_cap;
	/* the records among them whose bytes the trace holds as a hash
	 * (TRACE_SB_HASHED), in order: where they lie in sb_expect, the hash */
	struct replay_sb_hashed *sb_hashed;
	uint32_t sb_nhashed;
	size_t sb_hashed_cap;
	bool sb_ran;	    /* it ran since they were put there */
	bool exec_done;	    /* its execve ran to its end as the syscall buffer was
			     * mapped, or its mmap was injected: no exit stop comes */
	int defer_sig;	    /* it stands in this signal's delivery stop, its
			     * siginfo set: its next resumption delivers it
			     * (signals.c, deliver()); 0: none */
};

/* A file of the trace, open for replayed processes to map: the trace's copy
 * of one version (private mappings), or a memfd that holds the file's
 * contents (shared ones) for every process, as the page cache did. */
struct mapped_file {
	uint32_t id;	 /* the version (private), the first version (shared) */
	bool shared;
	int fd;
	uint32_t loaded; /* shared: the version the memfd was last loaded with */
};

/* A file of rp->files that a replayed process has open (O_CLOEXEC) for its
 * mappings: opened once, at its first mmap, and kept (replay executes no
 * syscall of the program that closes or reuses an fd but an exec). */
struct tracee_file {
	pid_t tgid;
	int file_fd; /* uprr's fd of the file (struct mapped_file) */
	int fd;	     /* the process's */
};

struct replayer {
	struct trace_reader *r;
	const struct replay_options *opts;
	struct pthread_r *threads;
	size_t nthreads, cap;
	pid_t leader;		/* the first process, in this replay */
	pid_t rec_leader;	/* and in the recording */
	uint64_t event_no;
	struct replay_output out; /* what replay shows again, --dump-sent */
	int status;
	uint64_t last_sig_rip;	/* where the last signal was delivered */
	pid_t last_sig_tid;	/* recorded id of the thread it hit */
	bool done;
	bool ended;		/* TRACE_EV_END replayed */
	bool cut_short;		/* the recorder did not finish the trace */
	int error;		/* first error, negative errno */
	struct sc_ranges ranges;
	struct mapped_file *files; /* the trace's files opened for tracees to map */
	size_t nfiles, files_cap;
	struct tracee_file *tfiles; /* those files open in replayed processes */
	size_t ntfiles, tfiles_cap;
	uint8_t *buf;
	size_t buf_cap;
	bool pmu;		 /* execution points are counted by the PMU */
	struct rec_ptrace_emu ptrace; /* threads recorded processes trace */
	const struct trace_event *ptrace_ev; /* the tracer's event being replayed */
	int injecting;		 /* the signal deliver_injected raised, 0: none */
	pid_t deferred_tid;	 /* recorded id of the thread whose defer_sig is
				  * set, 0: none (one at most) */
	struct {
		uint64_t stepped;  /* deliveries with a single step at once */
		uint64_t deferred; /* left for the thread's next run */
		uint64_t settled;  /* of those, stepped before another event */
	} deliveries;		   /* shown with UPRR_LOG=debug */
	uint64_t mmaps_injected;   /* first mmaps of a file made with its openat
				    * (shown with UPRR_LOG=debug) */
	struct {
		pthread_t thread; /* makes it (replay_syscallbuf_marks_begin()) */
		bool running;
		int fd;		  /* 1 + the memfd, 0: none, < 0: -errno */
	} sb_marks;		   /* the syscall buffers' end markers */
	struct trace_ref_file sb_ref; /* reads kept by reference (TRACE_SB_REF) */
	struct replay_shm_table shm; /* SysV segments made for the recorded ones */
};

/** Make the memfd of the syscall buffers' end markers on a thread of its
 * own, off uprr's CPU, while the replay starts (replay/syscallbuf.c). */
void replay_syscallbuf_marks_begin(struct replayer *rp);
/** Wait for that thread, if it runs, and close the memfd. */
void replay_syscallbuf_marks_end(struct replayer *rp);

/** Stop the replay at event @ev with a divergence (printf-like): logs one
 * line, returns -EPROTO. */
int replay_diverge(struct replayer *rp, const struct trace_event *ev, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/** The replayed thread recorded as @rec_tid, or NULL. */
struct pthread_r *replay_find_rec(struct replayer *rp, pid_t rec_tid);
/** A stop's name for messages ("a syscall", "signal SIGSEGV"). */
const char *replay_stop_name(enum tracee_stop kind, int sig);
/** Whether signal @sig that stopped @tid is the kernel's news of a replayed
 * child, which replay drops. */
bool replay_noise(const struct replayer *rp, pid_t tid, int sig);
/** Resume @t with @how unless it runs; wait for its next stop other than a
 * group stop. 0 or a divergence. */
int replay_resume_to_stop(struct replayer *rp, struct pthread_r *t, const struct trace_event *ev,
			  enum __ptrace_request how, enum tracee_stop *ret_kind, int *ret_sig);
/** replay_resume_to_stop() with PTRACE_CONT. */
int replay_run_to_stop(struct replayer *rp, struct pthread_r *t, const struct trace_event *ev,
		       enum tracee_stop *ret_kind, int *ret_sig);
/** Compare @t's registers with @ev's: 0 or a divergence. */
int replay_check_regs(struct replayer *rp, const struct trace_event *ev, const struct pthread_r *t);

/* signals.c */

/** @t's recorded ptrace(2) call succeeded: do to its tracee what it did. */
int replay_ptrace_exit(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t);
/** TRACE_EV_STOP_FILTER: stack uprr's stop filter on @t, held in its emulated
 * stop, as the recording did. 0 or a divergence. */
int replay_on_stop_filter(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t);
/** The events of one thread that signals.c replays: 0 or a divergence. */
int replay_on_preempt(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t);
int replay_on_patch(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t);
int replay_on_signal(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t);
int replay_on_rdtsc(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t);
/** Before event @ev: if a delivery waits for its thread's next run
 * (pthread_r.defer_sig) and @ev is not an event of that thread that runs
 * it first, deliver it now, to the handler's first instruction, as a
 * delivery that does not wait does. 0 or a divergence. */
int replay_settle_deferred(struct replayer *rp, const struct trace_event *ev);

/* ---- syscallbuf.c: the in-process syscall buffer (doc/syscall-buffer.md) ---- */

/** At exec event @ev of process @pid (address space @sp): map the trace's
 * copy of the preload library as the recording did (TRACE_EV_EXEC
 * values[6], values[7]). 0 or a divergence. */
int replay_syscallbuf_map(struct replayer *rp, const struct trace_event *ev, pid_t pid,
			  struct rec_space *sp);
/** A TRACE_EV_SYSCALLBUF of @t: its records into @t's buffer for its next
 * run, their output shown. 0 or a divergence. */
int replay_on_syscallbuf(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t);
/** rec_syscallbuf_untraced() in replay, at the same events. */
void replay_syscallbuf_untraced(struct replayer *rp);
/** A TRACE_EV_SITE_PATCH of @t: run it to that seccomp stop, then rewrite
 * the site as the recording did. 0 or a divergence. */
int replay_on_site_patch(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t);
/** @t stands at an event: if it ran since records were put in its buffer,
 * it must have consumed exactly those, leaving the same bytes. 0 or a
 * divergence. */
int replay_syscallbuf_check(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t);

/* ---- syscalls.c and the files it shares with ---- */

/* A recorded syscall exit of @t: its result and memory put in place, or the call executed. 0 or a divergence. */
int replay_on_syscall_exit(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t);

/* A recorded syscall entry of @t: the same call, arguments and bytes out, or a divergence. */
int replay_on_entry(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t);

/* Scratch memory for @len bytes in @t's process: well below its stack
 * pointer (dead stack), or 0 if the stack has no room. */
uint64_t replay_stack_scratch(const struct pthread_r *t, size_t len);

/* ---- events ---- */

/* Room for @len bytes in rp->buf. 0 or -ENOMEM. */
int replay_ensure_buf(struct replayer *rp, size_t len);

/* Read tracee memory for the model (@ctx: a pid_t *). */
int replay_mem_read(void *ctx, uint64_t addr, void *buf, size_t len);

/* ---- threads.c and the files it shares with ---- */

/* The recorded end of thread @t. 0 or a divergence. */
int replay_on_thread_exit(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t);

/*
 * A clone, fork or vfork created thread or process ev->tid: run the creator's
 * syscall, held at its entry, to its clone event and take the new one over
 * under its recorded id (ids the kernel wrote into memory read as recorded).
 * The creator's syscall exit has an event of its own: a vfork returns only
 * once its child execs or exits.
 */
int replay_on_thread_start(struct replayer *rp, const struct trace_event *ev);

/*
 * A process ends: let the thread that exits (exit_group, or the last exit)
 * run; a fatal signal is already on its way. Threads held at a syscall stay
 * held: the group exit's SIGKILL wakes them and the kernel skips their
 * syscall (seccomp, kernel 5.x: fatal_signal_pending). Its threads are
 * reaped one by one, the leader last (its status comes once all are gone);
 * other processes, which may be stopped or in a syscall, are not touched.
 */
int replay_on_process_exit(struct replayer *rp, const struct trace_event *ev);

/*
 * Thread ev->tid's execve succeeded in the recording: execute it here, of the
 * trace's copy of the executable (argv and environment as the program passes
 * them), and give the new image the recorded stack and registers. As in the
 * kernel, the process's other threads die and the exec'ing thread takes over
 * the leader's id, in the recording (values[2]) and here.
 */
int replay_on_exec(struct replayer *rp, const struct trace_event *ev);

/* New process @child has the files its parent @parent had open (fork(2)
 * copies the fd table). Returns 0 or -ENOMEM. */
int replay_inherit_tracee_files(struct replayer *rp, pid_t parent, pid_t child);

/* Add replayed thread @tid of process @tgid, recorded as @rec_tid; NULL when out of memory. */
struct pthread_r *replay_add_thread(struct replayer *rp, pid_t rec_tid, pid_t tid, pid_t tgid, struct rec_space *sp);

/* A process stops using address space @sp. */
void replay_space_leave(struct rec_space *sp);

/* The recorded initial image after an execve: the stack must end where it
 * did; the ELF interpreter's code, the stack contents and the registers
 * become the recorded ones. */
int replay_restore_image(struct replayer *rp, const struct trace_event *ev, pid_t pid, struct rec_space *sp);

/* Forget thread @t; the last thread of a process releases its address space. */
void replay_remove_thread(struct replayer *rp, struct pthread_r *t);

/* Forget the files process @tgid had open for its mappings (it exec'd:
 * they were O_CLOEXEC; or it ended). */
void replay_forget_tracee_files(struct replayer *rp, pid_t tgid);

/* A new address space of replayed process @pid, a copy of @from's counting
 * state (fork) or none (exec). NULL when out of memory or @pid is gone. */
struct rec_space *replay_space_new(pid_t pid, const struct rec_space *from);
