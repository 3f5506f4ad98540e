/* SPDX-License-Identifier: MIT */
/*
 * Lock-step (doc/uniparallel.md, "`uprr record --mode=tp`"): the EP run
 * goes along with the TP run, epoch by epoch, in the same thread of uprr.
 * The TP run stops at each epoch's end (every thread held, checkpoint k
 * just taken and kept, its log flushed: recorder/record-epoch.c's step)
 * and the EP run, a coroutine (ucontext(3)) on a stack of its own, runs
 * until it has nothing more to go on with in the log (rec_ep_follow.more:
 * it checked the epochs the log holds, and waits at the next one's end);
 * then the TP run goes on. Each verdict releases the output held in its
 * epoch (tp/output.h). One thread does every ptrace call: those of both
 * runs, and of a check or a merge that touches both.
 */
#pragma once

#include <sched.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/util.h"
#include "recorder/recorder.h"
#include "tp/output.h"

/** Where both runs stand when the EP run gave a verdict (the hook's
 * argument, tp_lockstep_on_verdict()). */
struct tp_lockstep_stand {
	uint64_t k;		/**< the checkpoint that ends the epoch checked */
	int verdict;		/**< 1 verified, 0 diverged (@why), 2 not checked */
	const char *why;	/**< the divergence, one line; "" otherwise */
	uint64_t tp_k;		/**< the checkpoint the TP run stands at (its
				 * threads held there): @k when the EP run
				 * checked the epoch the TP run just ended;
				 * more when the log had to go on first (an end
				 * whose kind the next epoch's events tell) */
	const pid_t *tp_tids, *tp_tgids; /**< the TP run's threads, held, and
				 * their processes */
	size_t tp_n;
	const pid_t *ep_tids;	/**< the EP run's threads, stopped at their
				 * ends of epoch k - 1 */
	const pid_t *ep_log_tids; /**< their ids in the log: the TP run's */
	size_t ep_n;
};

/**
 * The hook called at each verdict, while both runs stand still (@s): a
 * divergence's merge (the EP run's memory and registers into the TP
 * run's processes) is to be wired here. Not wired: says so (debug) and
 * does nothing.
 */
void tp_lockstep_on_verdict(const struct tp_lockstep_stand *s);

struct tp_lockstep;
struct tp_rerun;
struct tp_epochs;

/** Where @ls notes the TP run's place in the synchronization order at each
 * checkpoint and takes what a re-run from a checkpoint needs (tp/rerun.h),
 * from the keeper @epochs; both borrowed, for @ls's life. */
void tp_lockstep_link_rerun(struct tp_lockstep *ls, struct tp_rerun *rerun, struct tp_epochs *epochs);

/**
 * The EP run's re-run judged possible (rec_rerun_judge()): from the
 * program's start (@rr->verdict > 0) if none of the output @held holds was
 * released (@rr->verdict_k becomes 0), else from the diverged epoch's
 * checkpoint (@rr->verdict_k > 0: the output released came from the
 * epochs before it; @rr->verdict becomes 1). True if either; else @rr
 * becomes a refusal, named.
 */
bool tp_rerun_allowed(struct tp_output *held, struct rec_rerun *rr);

/**
 * A new lock-step of the EP run @ep_opts (copied; its ep_follow is set
 * here) with the TP run whose checkpoints' keeper is @keeper (its step is
 * set here). @held: the TP run's held output, released per verdict.
 * @ep_cpus: the CPUs uprr and the EP run's program are pinned to while it
 * runs (--ep-cpus), or NULL: the one the TP run used least up to its first
 * epoch's end (/proc/stat). NULL when out of memory.
 */
struct tp_lockstep *tp_lockstep_new(const struct rec_options *ep_opts, struct rec_epoch_keeper *keeper,
				    struct tp_output *held, const cpu_set_t *ep_cpus);

/**
 * The TP run ended (its log written whole): the EP run goes on to its end
 * (or starts and runs whole, if no epoch ended). Returns what rec_record()
 * returned for it, its status in *@ret_status, the trace's path in
 * @dir_buf.
 */
int tp_lockstep_finish(struct tp_lockstep *ls, int *ret_status, char *dir_buf, size_t dir_len);

/** The synchronization order the TP run writes is at @sync_log (kept by
 * the caller): the EP trace's copy of it is linked to it at the first
 * verdict (a killed recorder's trace replays its verified epochs). */
void tp_lockstep_link_sync(struct tp_lockstep *ls, const char *sync_log);

/** What lock-step measured. */
struct tp_lockstep_figures {
	uint64_t verdicts;	/**< verdicts given while the TP run went on */
	uint64_t at_once;	/**< of those, on the epoch the TP run stood at
				 * the end of (tp_k == k) */
	uint64_t lag_ns, lag_max_ns; /**< checkpoint k taken -> its verdict:
				 * sum and max */
	uint64_t stood_ns;	/**< the TP run's time standing while the EP run ran */
	uint64_t ep_uprr_ns;	/**< uprr's CPU time meanwhile (getrusage(2)
				 * RUSAGE_SELF: all its threads), the EP run's */
	uint64_t rollbacks;	/**< epochs whose divergence the TP run's processes
				 * were rolled back from (verdict 3) */
	uint64_t steps;		/**< times the EP run ran */
	bool unverified_said;	/**< the EP run ended before the TP run, which
				 * was said (a warning), and the output held is
				 * released unverified from then on */
	uint64_t swaps;		/**< overlap: times this thread went from the
				 * EP run's loop back to the TP run's */
	int cpu;		/**< the first CPU of the EP run's, -1: none */
};

/** Its figures into *@ret. */
void tp_lockstep_get_figures(const struct tp_lockstep *ls, struct tp_lockstep_figures *ret);

/** Free @ls (NULL accepted). */
void tp_lockstep_free(struct tp_lockstep *ls);

/** Busy time of each CPU (/proc/stat: user, nice, system, irq, softirq,
 * steal, in USER_HZ) into @busy[CPU_SETSIZE]. Returns 0 or -errno. */
int tp_cpu_busy(uint64_t *busy);

/** The CPU of @set used least between @before and @after, -1 if none. */
int tp_least_used_cpu(const cpu_set_t *set, const uint64_t *before, const uint64_t *after);
