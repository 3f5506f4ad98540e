/* SPDX-License-Identifier: MIT */
/*
 * Soft ticks: uprr's own counting code for machines without a PMU
 * (DESIGN.md, "Scheduling and ticks"). Loop back-edges of the code a thread
 * overran in are rewritten (x86_64/patch.h) so that each one decrements a
 * budget in the tick page and traps when it reaches zero; a trapped thread
 * stands at an execution point replay finds again by setting the same budget.
 *
 * Record and replay share this state and install code through the same
 * TRACE_EV_PATCH events: the recorder plans one and applies it, replay applies
 * what it reads, so both processes carry the same bytes at the same event.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "common/util.h"
#include "trace/trace.h"
#include "x86_64/patch.h"

struct ticks_soft;

/** Create the state of a process with no counting code yet. NULL on ENOMEM. */
struct ticks_soft *ticks_soft_new(void);
/** Free @st (NULL accepted). */
void ticks_soft_free(struct ticks_soft *st);

/**
 * The counting state of a process forked from one with state @st (NULL:
 * none): fork(2) copies the tick page, the stub areas and the rewritten code,
 * so the child's state is a copy of the parent's. Returns a new state the
 * caller frees with ticks_soft_free, or NULL when out of memory.
 */
struct ticks_soft *ticks_soft_clone(const struct ticks_soft *st);

/** True once the tick page is mapped in the tracee (some code counts). */
bool ticks_soft_active(const struct ticks_soft *st);

/**
 * Plan counting code for the loops around @rip of process @pid, for
 * recording. Fills *ret_ev with a TRACE_EV_PATCH event of thread @tid whose
 * buffers @st owns until the next call; it still has to be written and
 * applied with ticks_soft_apply(). @avoid lists addresses where stopped
 * threads stand: no rewritten region contains one. A new stub area
 * overlaps none of the @nreserved ranges [@reserved[2i], @reserved[2i + 1])
 * (an EP run: where its program will map, rec_ep_reserved()).
 * Returns the number of counted branches (0: nothing countable there) or
 * -errno.
 */
int ticks_soft_plan(struct ticks_soft *st, pid_t pid, pid_t tid, uint64_t rip,
		    const uint64_t *avoid, size_t navoid, const uint64_t *reserved, size_t nreserved,
		    struct trace_event *ret_ev) _wur_;

/**
 * Apply a TRACE_EV_PATCH event to the process of thread @tid, which is
 * stopped where tracee_inject_syscall() may run syscalls (it maps the tick
 * page and stub areas through it), writing the code through @memfd
 * (/proc/PID/mem). Leaves @tid in a signal-delivery-stop for SIGTRAP; the
 * caller restores nothing else. Returns 0 or -errno (-EPROTO: the mappings
 * did not land at the recorded addresses).
 */
int ticks_soft_apply(struct ticks_soft *st, pid_t tid, int memfd, const struct trace_event *ev) _wur_;

/**
 * @regs stand where thread @tid stopped: a SIGTRAP of a stub's int3, or an
 * interrupt anywhere. If inside a stub's prologue (between saving rcx and
 * restoring it) or at its trap, make them clean with patch_site_clean(): the
 * thread's own rcx, rip at the stub's start or at its copy of the region's
 * first instruction. Returns PATCH_STOP_TRAPPED when the budget ran out
 * there (an execution point), PATCH_STOP_OUTSIDE when @regs are in no stub
 * (unchanged), else where the thread was in the prologue.
 */
enum patch_stop ticks_soft_settle(const struct ticks_soft *st, pid_t tid,
				  struct user_regs_struct *regs);

/**
 * @regs are those of a thread stopped with SIGTRAP. If it executed the int3
 * of a trap site (x86_64/patch.h), count that tick as the site's stub would:
 * decrement the budget through @memfd (/proc/PID/mem). If the budget is not
 * 0 yet, move regs->rip to the jmp's target and return PATCH_STOP_COUNTED:
 * the caller sets the registers and resumes the thread without the signal.
 * If it became 0, leave @regs and return PATCH_STOP_TRAPPED: the thread is
 * at its execution point once ticks_soft_settle() has moved it, as after any
 * trap. PATCH_STOP_OUTSIDE: no trap site there (a SIGTRAP of its own), or
 * the budget cannot be read or written.
 */
enum patch_stop ticks_soft_count_trap(const struct ticks_soft *st, int memfd,
				      struct user_regs_struct *regs);

/**
 * Whether a thread stopped at @rip has executed the int3 of a trap site or
 * of a stub (its budget ran out) whose SIGTRAP is still pending: a
 * PTRACE_INTERRUPT stop can come between the int3 and the delivery of its
 * SIGTRAP (get_signal() takes job control traps first). Such a thread must
 * be resumed to take that SIGTRAP first: else it arrives later, where it
 * looks like the program's own.
 */
bool ticks_soft_trap_pending(const struct ticks_soft *st, uint64_t rip);

/**
 * Set the budget: the thread that runs next traps at its @budget-th counted
 * branch (0: after 2^64, i.e. never). Returns 0 or -errno.
 */
int ticks_soft_set_budget(int memfd, uint64_t budget) _wur_;
/** Read the budget left. Returns 0 or -errno. */
int ticks_soft_get_budget(pid_t tid, uint64_t *ret_budget) _wur_;

/** The counted branch a thread stopped at and settled at @rip (the site's
 * clean address: ticks_soft_settle() returned PATCH_STOP_TRAPPED), or
 * NULL. Valid until the next plan is applied. */
const struct patch_site *ticks_soft_site_at(const struct ticks_soft *st, uint64_t rip);
/** Counted branches installed so far. */
size_t ticks_soft_nsites(const struct ticks_soft *st);
