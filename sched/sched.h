/* SPDX-License-Identifier: MIT */
/*
 * The deterministic uniprocessor scheduler, shared by UP recording, EP runs
 * and replay: it knows which threads exist, which are runnable, and which one
 * runs; it chooses the next thread only at events. It never touches ptrace:
 * callers tell it what happened and ask it what to run.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/util.h"

/** Events a thread may run before it yields to another runnable thread. */
#define SCHED_DEFAULT_TIMESLICE 50
/** Picks a runnable thread may wait while woken threads run before it (not
 * woken itself) goes first, with a timeslice wakeups do not end. */
#define SCHED_STARVED_PICKS 32
/** User-code time (ns) a thread may run without an event before it is
 * preempted, when another thread is runnable. */
#define SCHED_DEFAULT_TIMESLICE_NS 5000000ull

/** State of a thread as the scheduler sees it. */
enum sched_state {
	SCHED_RUNNABLE = 0, /**< stopped at an event; may be chosen */
	SCHED_BLOCKED,	    /**< inside a blocking syscall in the kernel */
	SCHED_DEAD,	    /**< gone; kept until removed */
};

struct sched;

/**
 * Create a scheduler with a timeslice of @timeslice events (0: default).
 * Returns NULL on allocation failure.
 */
struct sched *sched_new(uint32_t timeslice);
/** Free @s (NULL accepted). */
void sched_free(struct sched *s);

/** Add thread @tid as runnable, after every existing thread. Returns 0 or -ENOMEM. */
int sched_add(struct sched *s, pid_t tid) _wur_;
/** Forget @tid; if it was current there is no current thread afterwards. */
void sched_remove(struct sched *s, pid_t tid);
/** Thread @old_tid is now called @new_tid (it exec'd and took over its thread
 * group leader's id, execve(2)); its state and place are kept. No-op if unknown. */
void sched_rename(struct sched *s, pid_t old_tid, pid_t new_tid);
/** Set the state of @tid; a thread leaving RUNNABLE stops being current. */
void sched_set_state(struct sched *s, pid_t tid, enum sched_state state);
/** The state of @tid, or SCHED_DEAD if unknown. */
enum sched_state sched_state_of(const struct sched *s, pid_t tid);

/** The running thread, or 0 if none. */
pid_t sched_current(const struct sched *s);

/**
 * Count one event of the current thread. Returns true when its timeslice is
 * used up and another thread is runnable, or a woken thread waits
 * (sched_wake()), i.e. the caller should switch.
 */
bool sched_event(struct sched *s);

/**
 * Chaos mode only: count an event that is not a syscall entry (a syscall's
 * exit, a new thread's start) as sched_event() does. Returns false outside
 * chaos mode, so normal scheduling switches only where it always did.
 */
bool sched_chaos_event(struct sched *s);

/** Make the current thread give up the CPU at its next switch check. */
void sched_yield_current(struct sched *s);

/**
 * Choose the next thread to run: the thread that woke first among those
 * still waiting (sched_wake()), else the first runnable thread after the
 * current one in round-robin order (the current one last). Makes it current
 * with a fresh timeslice and returns it, or 0 if no thread is runnable.
 */
pid_t sched_pick(struct sched *s);

/**
 * sched_pick(), but the round robin passes over the threads that
 * @avoid(@ctx, tid) says are no use now (one that would only spin again),
 * as long as another runnable thread is not; woken and starved threads go
 * first as in sched_pick() (a thread passed over SCHED_STARVED_PICKS picks
 * runs), and chaos mode ignores @avoid. Returns the thread made current,
 * or 0 if none is runnable.
 */
pid_t sched_pick_avoiding(struct sched *s, bool (*avoid)(void *ctx, pid_t tid), void *ctx);

/**
 * Wakeup preemption: make @tid, which the current thread just woke, current
 * with a fresh timeslice, as Linux lets a woken task preempt its waker
 * (check_preempt_wakeup, kernel/sched/fair.c). Falls back to sched_pick() if
 * @tid is not runnable or in chaos mode, where priorities decide. Returns
 * the thread made current, or 0 if none is runnable.
 */
pid_t sched_hand_over(struct sched *s, pid_t tid);

/**
 * Thread @tid, blocked in a syscall, can go on: its syscall completed (the
 * exit stop arrived) while another thread ran. It becomes RUNNABLE and is
 * "woken": the current thread should give it the CPU at its next switch
 * check (sched_event() says so, sched_wakeup_pending() too), and the next
 * sched_pick() chooses the woken threads first, in the order they woke, as
 * Linux lets a woken task preempt the running one (check_preempt_wakeup,
 * kernel/sched/fair.c); but a runnable thread that waited
 * SCHED_STARVED_PICKS picks goes before them, and wakeups do not end its
 * timeslice. In chaos mode the thread only becomes RUNNABLE: priorities
 * decide. No-op for an unknown thread.
 */
void sched_wake(struct sched *s, pid_t tid);

/** True if a woken thread other than the current one waits to run, and
 * the current one was not picked for having starved. */
bool sched_wakeup_pending(const struct sched *s);

/** Number of threads not DEAD. */
unsigned sched_nthreads(const struct sched *s);

/** True if a thread other than the current one is runnable. */
bool sched_others_runnable(const struct sched *s);

/**
 * How long (ns) the current thread may run user code without an event before
 * it should be preempted: SCHED_DEFAULT_TIMESLICE_NS, or in chaos mode a
 * random length chosen at the pick.
 */
uint64_t sched_timeslice_ns(const struct sched *s);

/**
 * Chaos mode (what rr users know as `rr record --chaos`): from now on every
 * thread has a random priority, re-drawn now and then; a pick chooses the
 * runnable thread of highest priority, and timeslices get random lengths in
 * events and in time, so that rare interleavings become frequent. @seed makes
 * the choices reproducible.
 */
void sched_set_chaos(struct sched *s, uint64_t seed);
