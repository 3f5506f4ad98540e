/* SPDX-License-Identifier: MIT */
/*
 * The recorder's EP knob (doc/uniparallel.md, "EP runs"): an EP run's state
 * and the functions of record-ep.c, record-ep-check.c,
 * record-ep-leave-out.c, record-ep-merge.c and record-ep-sb.c. Part of record-private.h, which includes it at its
 * end (it uses struct recorder and struct rthread): include that one.
 */
#pragma once

struct ep_end;

/* ---- the EP knob: syscalls answered from a log (record-ep.c) ---- */

/* A kept file of the log opened in a process of the EP run for its
 * mappings (the fd stays open, as replay's do). */
struct ep_file {
	pid_t tgid;
	uint32_t id;	/* a shared one: the file's first version */
	int fd;		/* in process @tgid; -1: the executable it runs (a
			 * later exec's copy: rec_ep_exec_image()) */
	bool shared;	/* the fd of an ep_shared's memfd */
};

/* A file an EP run maps shared (MAP_SHARED): one memfd of uprr's that
 * every process's mapping of it maps, as replay has (replay/syscalls.c,
 * shared_file()). */
struct ep_shared {
	uint32_t first;	 /* the file's first version in the log */
	uint32_t loaded; /* the version it holds */
	int fd;		 /* uprr's */
};

/* The test switch UPRR_EP_DIVERGE=K[:WHERE] or K:live[:0xADDR] (record-ep-merge.c). */
struct rec_ep_force {
	bool parsed, on;
	uint64_t epoch;	 /* K */
	char where[32];	 /* WHERE */
	bool done;	 /* made once */
	bool applied;	 /* made in the check under way, to be taken back */
	pid_t pid;	 /* the EP process changed */
	uint64_t addr;	 /* the byte changed */
	pid_t tid;	 /* or the thread whose register */
	uint64_t old;	 /* the byte's or register's value */
	uint64_t map;	 /* or the page mapped in the copy */
	bool live;	 /* K:live[:0xADDR]: the byte changed in the TP run's
			  * process and checkpoint k's copy (lock-step: the
			  * TP run rolled back to the EP run's state) */
	bool late;	 /* K:late[:0xADDR]: as live, but the rollback taken as
			  * one whose verdict came after the TP run went on:
			  * refused, the epochs re-run (record-ep-merge.c) */
	bool syscall;	 /* K:syscall: the EP run diverges at its first call
			  * in epoch K or later (on stays false: no check is
			  * changed) */
	long nr;	 /* NAME:syscall: at its first call NAME (K is 1);
			  * -1: any */
};

struct rec_ep {
	struct ep_log *log;
	const char *sync_log;	/* rec_options.ep_sync_log */
	const struct rec_output_holder *output; /* rec_options.ep_output */
	uint64_t replaced;	/* held writes whose bytes this run replaced */
	struct ep_file *files;
	size_t nfiles, files_cap;
	struct ep_shared *shared;
	size_t nshared, shared_cap;
	/* the epochs' checks (rec_ep_park()) */
	const struct rec_ep_checkpoints *ckpts; /* NULL: none */
	struct rec_ep_verdicts *verdicts; /* rec_options.ep_verdicts, or own */
	struct rec_ep_verdicts own;
	uint64_t k;		/* the checkpoint that ends the epoch run now, 0: none */
	bool diverged;		/* an epoch diverged: the later ones are not checked */
	bool sb;			/* the EP run runs the syscall buffer's library (rec_ep_sb_wanted()) */
	uint64_t progress;	/* syscall entries so far (a stall's measure) */
	uint64_t stall_ns;	/* when nothing could run with threads parked, 0: */
	uint64_t stall_progress; /* and progress then */
	uint64_t stuck_ns;	/* when every thread was found waiting for another, 0: */
	uint64_t stuck_events;	/* and the events written then (rec_ep_stuck()) */
	unsigned stall_rounds;	/* lock-step: times the TP run went on since */
	bool started;		/* the first epoch was chosen */
	const struct rec_ep_follow *follow; /* rec_options.ep_follow, or NULL */
	uint64_t last_k;	/* the checkpoint of the last epoch checked, 0: none */
	/* what soft ticks' patches of this run wrote (rec_ep_note_patch()) */
	struct ep_patched *patched;
	size_t npatched, patched_cap;
	/* the stacks of threads gone, below their frames (rec_ep_note_exit()) */
	struct ep_patched *dead;
	size_t ndead, dead_cap;
	struct rec_ep_force force; /* UPRR_EP_DIVERGE */
	bool go_on;		   /* the divergence was rolled back whole (rec_ep_rollback()) */
	bool rolled;		   /* this epoch's divergence was merged into the TP
				    * run's processes (lock-step: verdict 3) */
	/* condition variables and mutexes the sync-order log names
	 * (sync_objects()) */
	uint64_t *conds;
	size_t nconds, conds_cap;
	uint64_t *mutexes;
	size_t nmutexes, mutexes_cap;
	uint64_t sync_seen[64];	   /* records read of each slot (UPRR_SYNC_NSLOTS) */
	const struct rec_ep_order *order; /* rec_options.ep_order, or NULL */
	uint64_t view_k;	   /* the last checkpoint whose places in the order
				    * FOLLOW was shown (rec_ep_view()), 0: none */
	bool view_on;		   /* and the view holds it (else the whole order) */
	bool end_rerun;		   /* stopped at an end-of-epoch divergence not
				    * rolled back, for a re-run (record-ep-merge.c) */
	struct rec_ep_live *live;  /* rec_options.ep_live: a re-run from
				    * checkpoint live->k (record-ep-live.c), or NULL */
};

/* Memory of process @tgid that the EP run's own code patches wrote: a
 * stub area, the code bytes that jump there. */
struct ep_patched {
	pid_t tgid;
	uint64_t addr, len;
};


/** Read the log in trace @dir (ep/ep.h) that the syscalls will be
 * answered from, whose program must be executable @exe, byte for byte;
 * @sync_log (or NULL): the synchronization-order log the log's run mapped
 * (rec_options.ep_sync_log). Returns 0 or -errno, having said why. */
int rec_ep_open(struct recorder *rec, const char *dir, const char *exe, const char *sync_log,
		const struct rec_ep_follow *follow) _wur_;
/** An EP run whose log still grows (rec_options.ep_follow) and holds
 * nothing more it can go on with: the TP run goes on to its next epoch end
 * (lock-step), and what it logged meanwhile is read. False when nothing
 * more will come (no such log, the log whole, the recording stopped). */
bool rec_ep_more(struct recorder *rec, const char *why);
/** rec_ep_more() for what the synchronization order holds (a thread waits
 * for a record, or none can run): with a view of the order (overlap,
 * rec_ep_view()) the view moves on by one checkpoint, as lock-step's TP
 * run would by one epoch; the whole order once the log holds no later
 * checkpoint and is whole; else rec_ep_more(). True if anything moved. */
bool rec_ep_more_order(struct recorder *rec, const char *why);
/**
 * With rec_options.ep_order (overlap, a re-run from checkpoint k): the EP
 * run goes to the ends of the epoch checkpoint @k ends (0: none left);
 * FOLLOW sees the synchronization order as it was at checkpoint @k
 * (uprr_sync_head.view, pwrite(2) to the order's file, which every process
 * of the EP run maps shared), so that a thread whose end is in an
 * operation the TP run completed later waits there through uprr, as in
 * lock-step, and is parked at its end. Only ever moves on; the whole order
 * when @k's places were not kept, or @k is 0.
 */
void rec_ep_view(struct recorder *rec, uint64_t k);
/** An EP run with nothing to run (every thread parked, blocked or waiting
 * for the order) whose log still grows, or whose view of the order can
 * move on: rec_ep_more_order(). True if it was called. */
bool rec_ep_follow_idle(struct recorder *rec);
/** An EP run's thread at the entry of libuprr-sync's wait for a record
 * the TP run has not written yet (UPRR_SYNC_WAIT_MAGIC, lock-step): the TP
 * run goes on (rec_ep_more()) while the thread stays the one that runs,
 * and the call is skipped, returning 0, with no event (its replay never
 * waits there). True if it was that call. */
bool rec_ep_sync_wait(struct recorder *rec, struct rthread *t);
/** What the check leaves out of a thread parked at its end in a condition
 * wait or a lock (@e, EP_END_SYNC; B's thread @tid, A's @atid), appended
 * to @v: its frames from below both stack pointers (and their red zone)
 * up to the return address of the program's call into the interposer
 * (the interposer's and glibc's, which differ by design: A stands in
 * glibc's futex wait, B in libuprr-sync's wait for the record), the
 * condition variable, the words of the mutex glibc's wait keeps otherwise
 * than FOLLOW, and those of the thread's descriptor its condition wait
 * sets (record-ep-leave-out.c). Its registers are A's
 * (rec_ep_pair_check()). 0 or -ENOMEM. */
int rec_ep_sync_wait_out(const struct ep_end *e, pid_t tid, pid_t atid, struct checkpoint_range **v,
			 size_t *n, size_t *cap) _wur_;
/** Lock-step: @t at libuprr-sync's wait for record @rec1 - 1 of its slot
 * (UPRR_SYNC_WAIT_MAGIC's r8; @frame, r9's frame bits: the condition
 * wait's or lock's), its call skipped: parked there when that is its end of the
 * epoch under check (EP_END_SYNC; with the order's view, EP_END_FUTEX at
 * glibc's futex call in that wait), held (RT_HELD) until let go, when it
 * looks at the record again. True if parked (record-ep-check.c). */
bool rec_ep_park_sync(struct recorder *rec, struct rthread *t, uint64_t rec1, uint64_t frame);
/** The ranges (pairs: start, end) where an EP run's program will map what the
 * log's did, which uprr's own mappings (stub areas) must leave free, into
 * *@ret_n; NULL and 0 when the recording is not an EP run. */
const uint64_t *rec_ep_reserved(const struct recorder *rec, size_t *ret_n);
/** The program started as @root is the log's first process. Returns 0 or
 * -ENOMEM. */
int rec_ep_start(struct recorder *rec, pid_t root) _wur_;
/** At the first exec of an EP run (@t stopped there, its stack ending at
 * @stack_end): the program starts with the log's initial stack (argv,
 * environment, auxv, AT_RANDOM bytes) and registers, into @regs, as replay
 * starts it. Returns 0 or -errno. */
int rec_ep_initial_image(struct recorder *rec, struct rthread *t, struct user_regs_struct *regs,
			 uint64_t stack_end) _wur_;
/* EP run: a later exec of @t (its new image at @stack_end): the log's
 * process must exec the same executable (else a divergence); its stack and
 * registers become the log's image of that exec. Returns 0 or -errno. */
int rec_ep_exec_image(struct recorder *rec, struct rthread *t, struct user_regs_struct *regs,
		      uint64_t stack_end) _wur_;
/** Free the EP state (none accepted). */
void rec_ep_free(struct recorder *rec);
/** At @t's syscall entry, its @nblobs passed-out ranges in rec->blobs:
 * take its thread's next call of the log and compare; -1 at a divergence
 * (the recording stops). */
int rec_ep_entry(struct recorder *rec, struct rthread *t, uint32_t nblobs) _wur_;
/** Issue @t's syscall as an EP run does: answered from the log (true), or
 * prepared to run in the kernel (false: the caller runs it). */
bool rec_ep_issue(struct recorder *rec, struct rthread *t);
/** @t at its exit_group's or exit's entry: if another thread of its
 * process still has calls of the log to make and can run (in the log's
 * run they came before the exit_group that ended them), @t is held there,
 * runnable, and another picked; if an epoch ends there, it is parked there
 * (rec_ep_park()); rec_ep_issue() looks again when @t is picked. True if
 * held. */
bool rec_ep_exit_group_wait(struct recorder *rec, struct rthread *t);
/** At the exit stop of @t's syscall (t->regs read): one the kernel ran
 * returns the log's result and outputs; -1 at a divergence. */
int rec_ep_exit(struct recorder *rec, struct rthread *t) _wur_;
/** At the exit of @t's syscall, before its event @ev (values[0], [1] set)
 * is written: for a call answered from the log, what the log's exit event
 * said of where its bytes went (values[2]) and the bytes not in memory
 * (TRACE_EV_OUTPUT events, written now). Returns false for a call that
 * ran here: the recorder sees for itself. */
bool rec_ep_exit_event(struct recorder *rec, struct rthread *t, struct trace_event *ev);
/** @parent's clone created thread @child: it is the log's thread that call
 * created, whose id the kernel's tid words hold. -1 at a divergence. */
int rec_ep_clone(struct recorder *rec, const struct rthread *parent, const struct rthread *child) _wur_;
/** Name the threads of event @ev by the log's ids. */
void rec_ep_name_threads(const struct recorder *rec, struct trace_event *ev);

/* EP run: at @t's syscall exit, once the recorder has noted what it sent
 * (rec_note_sent_blocked(): the fds of a call answered from the log are
 * the log's), raise the signals the log delivered after that call, once
 * the log read holds them all (ep_log_exit_settled()). Not yet read: with
 * @wait, the TP run goes on (lock-step) until they are; without, they are
 * left for a later call with @wait (after the epoch end's park, or when
 * the thread is let go from it), at the same exit stop. */
void rec_ep_exit_signals(struct recorder *rec, struct rthread *t, bool wait);
/* EP run: where the log's run put the stub of the syscall site whose
 * rewritten bytes start at @start (ep_log_site_stub()), into *@ret_stub;
 * false if it patched none there (or this is no EP run). */
bool rec_ep_site_stub(const struct recorder *rec, uint64_t start, uint64_t *ret_stub);
/* EP run: whether the log's run made @t's call at this stop (the thread's
 * first call in the log past buffered ones, the same syscall) traced from
 * the same place, t->regs.rip: a
 * site it did not patch then (another thread maybe inside its bytes, a
 * signal frame's return point beside it), whose call the EP run makes there
 * too. A call through the library instead puts the signal frames of a
 * handler it draws deeper on the stack, and the handler's stack addresses
 * differ (tests/progs/sig_unblock thread, --epoch=5: "argument 1 is
 * 0x7fffffffda6f, the log has 0x7fffffffdd2f"). False for no EP run. */
bool rec_ep_traced_here(const struct recorder *rec, const struct rthread *t);
/* EP run: @t, at the entry of an exec its log's process made, execs the
 * log's kept copy of the executable by its absolute path, as replay does.
 * -1 at a divergence. */
int rec_ep_exec(struct recorder *rec, struct rthread *t) _wur_;
/* EP run: the log's first signal after @t's call, which was interrupted
 * waiting with a temporary mask (sc_wait_mask()), was delivered (@how)
 * under that mask, as the kernel delivers it: the thread's own mask comes
 * back (sc_emulate_own_mask(), as replay does). Diverges if it cannot. */
void rec_ep_wait_delivered(struct recorder *rec, struct rthread *t, enum tracee_delivery how);

/* EP run: deliver the log's signal that came instead of @t's entering its
 * syscall (TRACE_SIGNAL_AT_SYSCALL), as the recorder does a deferred one;
 * true if it did (@t is at the syscall's seccomp stop). */
bool rec_ep_signal_at_entry(struct recorder *rec, struct rthread *t);

/* EP run: whether log call @c has a signal instead of entering the next
 * call (after those at its exit, ep_call.nexit) that @t was not given
 * yet: its next calls go traced, to be stopped at (record-ep-sb.c). */
bool rec_ep_entry_signal_due(const struct rthread *t, const struct ep_call *c);

/** EP run: @t ran an rdtsc or rdtscp (t->regs has this run's counter,
 * @before its registers before): give it the log's values instead, as the
 * log's thread read them in the same order. */
void rec_ep_tsc(struct recorder *rec, struct rthread *t, const struct user_regs_struct *before);
/** EP run: the TRACE_EV_PATCH @ev (soft ticks' counting code) is written:
 * its stub area and the code it rewrote are the EP run's, left out of its
 * checks. */
void rec_ep_note_patch(struct recorder *rec, const struct trace_event *ev);
/** Free what address space @sp holds for an EP run's checks. */
void rec_ep_space_free(struct rspace *sp);
/** EP run: check its epochs against @ckpts (NULL: none), the findings into
 * @verdicts (NULL: kept to itself). */
void rec_ep_checks(struct recorder *rec, const struct rec_ep_checkpoints *ckpts,
		   struct rec_ep_verdicts *verdicts);
/** EP run with checkpoints (rec_options.ep_checkpoints): @t stands at the
 * entry of its syscall, matched and recorded (@entry), or after its exit:
 * if that is its end of the epoch being run, it is parked there (not
 * runnable) until every thread reached its own, and the last one to
 * arrive checks the epoch against its checkpoint. True if parked. */
bool rec_ep_park(struct recorder *rec, struct rthread *t, bool entry);
/** Write the verdict @v (enum trace_epoch_check) on the epoch checkpoint
 * @k ends as a TRACE_EV_EPOCH, and flush the frame (write(2): a kill -9 of
 * uprr does not lose it), so that a trace cut after it replays to there;
 * then tell lock-step (rec_ep_follow.verdict), which releases a verified
 * epoch's output. A verdict that could not be written stops the recording
 * and is not told. */
void rec_ep_write_verdict(struct recorder *rec, uint64_t k, uint64_t v);
/** Lock-step: @t, at the entry of a call its log thread has not logged
 * yet, stands at its end of the epoch checked now (the TP run said which
 * call it would make there): parked (rec_ep_park()). */
bool rec_ep_park_unlogged(struct recorder *rec, struct rthread *t);
/** The rest of @t's syscall entry once it is known to be one (its
 * outputs, the EP run's call, the event): rec_on_syscall_entry()'s, or
 * again for a thread that rec_ep_park_unlogged() parked first. */
void rec_entry_tail(struct recorder *rec, struct rthread *t);
/** EP run: no thread is runnable. True if parked threads were let go
 * (their epoch is not checked: the others never reached their ends);
 * may set *@wait_ns to look again. */
bool rec_ep_stalled(struct recorder *rec, uint64_t *wait_ns);
/* An EP run none of whose threads can run: whether every one has waited
 * for EP_STUCK_NS in a futex wait (or a wait for a child) that only another
 * of its threads could end (record-sched.c): then a divergence (the run
 * did not make an operation the log's did, and cannot follow it), true.
 * Else false, with *@wait_ns when to look again. */
bool rec_ep_stuck(struct recorder *rec, uint64_t *wait_ns);
/** EP run: its log. */
struct ep_log *rec_ep_log(struct recorder *rec);

/* What the check of one EP process against its checkpoint compares
 * (record-ep-check.c), and what a rollback's merge writes (record-ep-merge.c):
 * one list of pages, one of exclusions, one pairing of threads, for both. */
struct rec_ep_pair {
	struct ep_side a;	     /* A: the checkpoint copy */
	struct ep_side b;	     /* B: the EP process; b.tids = tids */
	pid_t log_pid;		     /* the log's id of the process */
	struct checkpoint_copy *copy; /* A's copy */
	pid_t *tids;		     /* B's threads, index for index with a.tids */
	/* rec_ep_pair_check(): each of B's threads' registers as its copy's
	 * stands (one at a syscall's entry rewound onto the instruction,
	 * orig_rax -1; the arguments its call does not take as A's): what is
	 * compared, and what a merge writes */
	struct user_regs_struct *regs;
	/* thread i: A's stands in a call the syscall buffer's library made
	 * for it: its registers are A's (not compared, not merged) */
	bool *library;
	/* the ranges left out (uprr's own pages, stubs and patched code, the
	 * buffer's pages, dead stacks and red zones, interrupted calls'
	 * bytes): b.ignore */
	struct checkpoint_range *ignore;
	size_t nignore, ignore_cap;
	struct ep_file_alias *aliases;
	char (*paths)[PATH_MAX];
	struct dirty_pages all;	       /* B's pages written (b.written) */
	struct dirty_pages tp_written; /* A's (a.written, but when whole) */
	bool whole;		       /* every writable page of B compared */
};

/* Build @p for EP process @tgid and its checkpoint ep->k (every thread
 * parked). 0, -ENOENT (no copy), or -errno; rec_ep_pair_fini() either way. */
int rec_ep_pair_build(struct recorder *rec, pid_t tgid, struct rec_ep_pair *p) _wur_;
/* Compare @p's sides (ep_check_divergence()) into @d, B's registers as its
 * copy's stand (p->regs). 0 or -errno. */
int rec_ep_pair_check(struct recorder *rec, struct rec_ep_pair *p, struct ep_divergence *d) _wur_;
void rec_ep_pair_fini(struct rec_ep_pair *p);

/* ---- rollback of an end-of-epoch divergence (record-ep-merge.c) ---- */

/* A stopped process that gets an EP process's state: its threads index
 * for index with the pair's B (rec_ep_pair.tids). The TP run's own: the
 * log's tid of a thread is its TP tid (rec_ep_tp_target()). A thread at
 * a syscall-entry stop given registers with orig_rax -1 skips that call
 * there and, rewound onto the instruction, makes it again once resumed. */
struct rec_ep_target {
	pid_t pid;
	int memfd;	   /* its /proc/PID/mem, O_RDWR */
	const pid_t *tids; /* each in a ptrace stop that takes PTRACE_SETREGS */
	size_t ntids;
	bool live;	   /* the TP run's own, held by its recorder at the
			    * epoch's end: each thread keeps the stop it stands
			    * in (rip, rax, orig_rax: what its recorder resumes
			    * it from) and takes B's other registers, XSAVE
			    * state and mask; one whose rip differs from B's is
			    * refused */
};

/* The TP run's process of @p as a target (its pid and tids are the log's,
 * ep_log_tid() of B's), its /proc/PID/mem @memfd; @tids: room for
 * p->b.ntids; a live one (rec_ep_target.live): lock-step's rollback. */
void rec_ep_tp_target(struct recorder *rec, const struct rec_ep_pair *p, int memfd, pid_t *tids,
		      struct rec_ep_target *ret);

/* What rec_ep_merge() did and cost, or why it did not. */
struct rec_ep_merged {
	uint64_t pages_compared, pages_copied;
	unsigned threads;      /* whose registers, XSAVE state and mask were set */
	unsigned threads_kept; /* in the buffer's library's frame in the copy: kept */
	uint64_t pages_ns, threads_ns, total_ns;
	char what[256]; /* on failure: one line */
	bool written;	/* something was written into the target */
};

/* Write into @t what the check of @p found different (@d): the pages of
 * the union of both runs' written pages that differ, B's bytes but for the
 * check's exclusions (kmerge_copy_pages()), then each thread's registers
 * as p->regs has them, XSAVE state and signal mask
 * (checkpoint_thread_set()). A mapping or thread-count difference, or a
 * live thread not where its EP run's stands (rip, the call it is in), is
 * refused (-EOPNOTSUPP, @ret->what naming it) before anything changes
 * (@ret->written false).
 * 0 or -errno (@t then partly written). */
int rec_ep_merge(struct recorder *rec, const struct rec_ep_pair *p, const struct ep_divergence *d,
		 const struct rec_ep_target *t, struct rec_ep_merged *ret) _wur_;
/* The check of @p diverged (@d): under UPRR_EP_DIVERGE, merge the EP
 * process into its checkpoint's copy and check again (counted in the
 * verdicts); sets ep->go_on when the checks may go on. */
void rec_ep_rollback(struct recorder *rec, struct rec_ep_pair *p, const struct ep_divergence *d);
/* UPRR_EP_DIVERGE: change the EP process of @p (or its copy) before its
 * check, once, at epoch K or the first checked after. 0 or -errno. */
int rec_ep_force_apply(struct recorder *rec, struct rec_ep_pair *p) _wur_;
/* Take back what rec_ep_force_apply() changed. */
void rec_ep_force_undo(struct recorder *rec, struct rec_ep_pair *p);

/* ---- an EP run's syscall buffer (record-ep-sb.c) ---- */

/** Whether an EP run maps the syscall buffer: its log's run did (and
 * UPRR_EP_SYSCALLBUF is not 0). */
bool rec_ep_sb_wanted(struct recorder *rec);
/* Thread @t enters exit(2): its stack below its frames is dead (the EP
 * run's checks leave it out) */
void rec_ep_note_exit(struct recorder *rec, const struct rthread *t);

/* ---- what a check leaves out (record-ep-leave-out.c) ---- */

/** The ranges of EP process @tgid (its threads @tids, @ntids of them; the
 * TP run's copy's threads @atids, @natids, in the same order) that its
 * check against the copy leaves out, appended to *@v (@n, @cap: grown):
 * uprr's own memory, the syscall buffer's pages, the EP run's patches,
 * dead stacks and the frames of uprr's libraries, the stacks of threads
 * gone. 0 or -errno (-ENOMEM). */
int rec_ep_left_out(struct rec_ep *ep, pid_t tgid, const pid_t *tids, size_t ntids, const pid_t *atids,
		    size_t natids, struct checkpoint_range **v, size_t *n, size_t *cap) _wur_;
/** How far up the stack of thread @tid (its registers @regs, NULL: read
 * them) the syscall buffer's library's frames reach, the red zone its stub
 * skipped included; 0 if it is not in the library or its way in is not
 * found. */
uint64_t rec_ep_library_top(const struct rec_ep *ep, pid_t tid, const struct user_regs_struct *regs);
/** The log's kept copies of files (and uprr's memfds of files mapped
 * shared) that EP process @tgid maps in place of the TP run's originals,
 * into *@ret (@n of them; their paths in *@paths, PATH_MAX each, owned by
 * the caller). 0 or -errno. */
int rec_ep_file_aliases(struct rec_ep *ep, pid_t tgid, struct ep_file_alias **ret, size_t *n,
			char (**paths)[PATH_MAX]) _wur_;
/** EP run: process @pid just got the library (replay mode, UPRR_CTL_EP):
 * the end marker at the head of every buffer. 0 or -errno. */
int rec_ep_sb_mapped(struct recorder *rec, pid_t pid) _wur_;
/** EP run: @child is a new process (fork): its buffers are marked again,
 * the records its parent's held are not its. */
void rec_ep_sb_forked(struct recorder *rec, struct rthread *child);
/** EP run: the flush of @t's buffer at @addr (rec_syscallbuf_flush()): the
 * records its library consumed checked against the log's and taken from
 * the log, a TRACE_EV_SYSCALLBUF in the log's form, the log's next records
 * put in. 0, -EDOM at a divergence (said), or -errno. */
int rec_ep_sb_flush(struct recorder *rec, struct rthread *t, uint64_t addr) _wur_;
/** EP run: @t's traced call took the log's next call: the records after
 * it go into its buffer. 0 or -errno. */
int rec_ep_sb_taken(struct recorder *rec, struct rthread *t) _wur_;
/** EP run: @parent's vfork created a child that runs on @parent's memory,
 * its FS base the same: its buffer is @parent's (the same key). The records
 * of @parent's put there are not the child's: the buffer gets the end
 * marker, and @parent's records come back when its vfork returns
 * (rec_ep_sb_vfork_done()). 0 or -errno. */
int rec_ep_sb_vforked(struct recorder *rec, struct rthread *parent) _wur_;
/** EP run: @t's vfork returned (its child execed or ended): its buffer gets
 * the log's next records of @t's again. 0 or -errno. */
int rec_ep_sb_vfork_done(struct recorder *rec, struct rthread *t) _wur_;
/** Free the EP run's buffer state. */
void rec_ep_sb_free(struct recorder *rec);

/* EP run: whether asynchronous signal @sig of @t, which uprr did not raise,
 * is left out (the log's signals are what the EP run delivers); @t has been
 * resumed without it then. One of the log's raised with another gets the
 * log's siginfo in @si and is kept. */
bool rec_ep_drop_signal(struct recorder *rec, struct rthread *t, int sig, siginfo_t *si);

/** EP run: UPRR_EP_DIVERGE=K:syscall, a test switch: true once, at the
 * first call the run takes from the log in epoch K or later (the epochs
 * given a verdict), for it to diverge there (record-ep-merge.c); with
 * UPRR_EP_DIVERGE=NAME:syscall, at its first call NAME (@nr) after the
 * loader's epoch. */
bool rec_ep_force_syscall(struct recorder *rec, long nr);

/** EP run: whether the log's call @c (an mmap) maps the synchronization-order
 * log its run mapped at rec_options.ep_sync_log (tp/tp.c). */
bool rec_ep_sync_log_mapping(struct recorder *rec, const struct ep_call *c);

/* ---- the re-run of an epoch diverged at a syscall (record-rerun.c) ---- */

/** EP run diverged at a syscall or in the synchronization order
 * (rec->ep_diverged): judge into *@ret whether its epoch can be re-run as
 * an UP recording (struct rec_rerun), from what the log holds of the TP
 * run so far (read on first: the TP run stands at its next end, or ended). */
void rec_rerun_judge(struct recorder *rec, struct rec_rerun *ret);
/** UPRR_EP_RERUN=0 (a testing aid): no re-run, a divergence ends the
 * recording as before. */
bool rec_rerun_off(void);
/** TP run: @t's traced call returned @result (its exit event @ev, whose
 * values[6] numbers a shared-state call): a read of anything but a file,
 * /dev/zero or a pipe of the program's own, or a write not held but to
 * /dev/null, such a pipe or a file the run made with O_CREAT | O_EXCL
 * (/proc/TID/fd, looked at now), is noted in rec->rerun->tp_effect (the
 * first), which refuses a re-run from the start, and in last_effect and
 * effect_epoch, which refuse one from a checkpoint before it (a write of a
 * file is undone there, a pipe or socket of the program's own refilled:
 * noted in rec->rerun->objs); such a file's creation, the names given
 * and taken (link, rename, unlink: their paths read now) and the calls
 * that changed it are noted in rec->rerun->files for the judge. */
void rec_rerun_tp_exit(struct recorder *rec, const struct rthread *t, int64_t result,
		       const struct trace_event *ev);
/** TP run: @t is about to make its traced call (issued, the kernel not
 * run yet): the keeper notes what a re-run from a checkpoint must undo
 * (rec_epoch_keeper.on_call). */
void rec_rerun_tp_entry(struct recorder *rec, const struct rthread *t);
/** TP run, stopped at a checkpoint for a re-run, about to be killed: the
 * signals its threads have not taken (pending in the kernel, read with
 * PTRACE_PEEKSIGINFO, and those uprr keeps for their next event) into
 * rec->rerun->pending, for the re-run to send again those from outside. */
void rec_rerun_take_pending(struct recorder *rec);

/* ---- record-ep-live.c: the re-run from checkpoint k (rec_options.ep_live) ---- */
/** Every thread of a re-run's EP run stands at its end of epoch k - 1:
 * each process gets its kernel state at checkpoint k, its syscall buffer's
 * library goes to recording, the log is let go (rec->ep NULL, kept in
 * rec->ep_gone) and the parked threads run on as in UP recording. On
 * failure the recording stops, named. */
void rec_ep_go_live(struct recorder *rec);
/** At a live clone, clone3, fork or vfork entry of a re-run's EP run
 * (@t, whose log call @c made child @c->child): the call becomes a
 * clone3(2) with set_tid, so that the child has the log's id. Returns 0
 * or -1 (diverged, said). */
int rec_ep_live_clone_entry(struct recorder *rec, struct rthread *t, const struct ep_call *c) _wur_;
/** The new thread @child of @parent's clone made by rec_ep_live_clone_entry()
 * stands at its first stop: its registers and the memory the clone3(2)
 * arguments took are put back. */
void rec_ep_live_clone_child(struct recorder *rec, struct rthread *parent, struct rthread *child);
/** @t's call made by rec_ep_live_clone_entry() stands at its exit: the
 * program's registers and memory back. */
void rec_ep_live_clone_exit(struct recorder *rec, struct rthread *t);
/** After a re-run went live, while what the TP run read from pipes and
 * sockets from outside since the checkpoint is not all given back
 * (rec->redeliver): if @t's call at its entry is a read of one of them,
 * it is answered from those bytes (kmerge_epoch_redeliver()), skipped and
 * run to its exit, where it is recorded as any call. True if so (or the
 * recording stopped). */
bool rec_ep_live_redeliver(struct recorder *rec, struct rthread *t);
/** After a re-run went live, while signals from outside the recording that
 * the TP run took after the checkpoint are still to be sent again
 * (rec->live_sigs): the next one is sent once the one before is neither
 * pending in the kernel nor waiting in uprr for its thread's execution
 * point (a standard signal pends once: two sent at once would be one). */
void rec_ep_live_signals(struct recorder *rec);
/** A re-run following the log to its checkpoint (rec->ep->live): signal
 * @si that reached @t from outside the recording (its sender none of the
 * log's processes, or the terminal) is kept, sent again once it went live
 * after those the TP run took; the caller drops it (the log's are
 * delivered as the log has them). Others are not kept. */
void rec_ep_live_keep_signal(struct recorder *rec, const struct rthread *t, const siginfo_t *si);
/** @t, stopped with its registers rewound onto a syscall instruction, is
 * resumed until that call's seccomp stop; a signal's delivery stop on the
 * way is taken as rec_ep_drop_signal() takes it (a re-run keeps one from
 * outside), the signal suppressed. Returns 0, -ESRCH (gone) or -EIO
 * (another stop). */
int rec_ep_restart_call(struct recorder *rec, struct rthread *t);

/** A re-run gave its program again signal @sig, which uprr had forwarded
 * (record-forward.c): rec_forward_on_resent()'s function is called for a
 * SIGTERM. */
void rec_forward_resent(int sig);
