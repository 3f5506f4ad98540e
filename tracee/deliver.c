/* SPDX-License-Identifier: MIT */
/*
 * Signal delivery that ends at a point replay finds again: a caught signal is
 * delivered with PTRACE_SINGLESTEP, so the thread stops at the first
 * instruction of its handler with the signal frame built (the kernel reports
 * the step right after setting up the frame: signal_delivered(), kernel/signal.c).
 */
#define LOG_PREFIX "tracee"
#include <errno.h>
#include <signal.h>
#include <sys/ptrace.h>

#include "common/log.h"
#include "tracee/tracee.h"

/* Signals whose default action is to do nothing (signal(7)). */
static bool
ignored_by_default(int sig)
{
	return sig == SIGCHLD || sig == SIGCONT || sig == SIGURG || sig == SIGWINCH;
}

int
tracee_signal_discarded(pid_t tid, int sig, bool *ret)
{
	enum tracee_sig_disposition d;
	int r;

	r = tracee_signal_disposition(tid, sig, &d);
	if (r < 0)
		return r;
	*ret = d == TRACEE_SIG_IGNORED || (d == TRACEE_SIG_DEFAULT && ignored_by_default(sig));
	return 0;
}

int
tracee_deliver_signal(pid_t tid, int sig, const siginfo_t *info, enum tracee_delivery *ret_outcome,
		      int *ret_status)
{
	enum tracee_sig_disposition d;
	int r, status, got;

	r = tracee_signal_disposition(tid, sig, &d);
	if (r < 0)
		return r;
	if (d == TRACEE_SIG_IGNORED || (d == TRACEE_SIG_DEFAULT && ignored_by_default(sig))) {
		*ret_outcome = TRACEE_DELIVERY_NONE;
		return 0;
	}
	if (info && ptrace(PTRACE_SETSIGINFO, tid, 0, info) < 0)
		return -errno;
	if (d == TRACEE_SIG_DEFAULT) {
		/* terminates (or stops) the process: nothing runs after it */
		tracee_resume(tid, PTRACE_CONT, sig);
		*ret_outcome = TRACEE_DELIVERY_RUNNING;
		return 0;
	}
	tracee_resume(tid, PTRACE_SINGLESTEP, sig);
	r = tracee_wait(tid, &status);
	if (r < 0)
		return r;
	if (tracee_classify(status, &got) == TRACEE_STOP_SIGNAL && got == SIGTRAP) {
		*ret_outcome = TRACEE_DELIVERY_HANDLER;
		return 0;
	}
	/* killed meanwhile, or another stop came first: the caller handles it */
	*ret_status = status;
	return -EINPROGRESS;
}
