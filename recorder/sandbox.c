/* SPDX-License-Identifier: MIT */
/*
 * Sandboxes and namespaces: the program's own seccomp filters, no_new_privs,
 * landlock, unshare(2)/setns(2), clone's CLONE_NEW* flags and personality(2),
 * so that under uprr they act as they do natively, or are refused by name.
 *
 * seccomp: the kernel runs every filter of a thread, uprr's (installed at
 * spawn, RET_TRACE) and the program's, and the action of highest precedence
 * wins (KILL_PROCESS > KILL_THREAD > TRAP > ERRNO > USER_NOTIF > TRACE >
 * LOG > ALLOW; among equals, the newest filter's; seccomp_run_filters(),
 * kernel/seccomp.c). So a syscall the program's filter fails (ERRNO), traps
 * (SIGSYS) or kills never reaches uprr, in record as in replay, where the
 * same filter is installed at the same event (SECCOMP_SET_MODE_FILTER is
 * replay-executed); what the program allows, uprr still traces.
 */
#define LOG_PREFIX "sandbox"
#include <asm/unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <unistd.h>

#include "common/log.h"
#include "recorder/record-private.h"
#include "recorder/recorder.h"
#include "tracee/tracee.h"

bool
rec_sandbox_initial_norandom(void)
{
	int persona = personality(0xffffffff);

	return persona >= 0 && (persona & ADDR_NO_RANDOMIZE);
}

/* The ids of thread @tid in the PID namespaces from uprr's down to its own
 * (proc(5) NSpid), up to @max; returns how many, 0 if the kernel does not
 * say. */
static int
ns_ids(pid_t tid, long *ids, int max)
{
	char path[64], line[512];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *p = line + 6, *end;

		if (strncmp(line, "NSpid:", 6) != 0)
			continue;
		while (n < max) {
			long v = strtol(p, &end, 10);

			if (end == p)
				break;
			ids[n++] = v;
			p = end;
		}
		break;
	}
	fclose(f);
	return n;
}

int
rec_sandbox_ns_tids(pid_t ptid, pid_t tid, uint64_t *ret_parent_view, uint64_t *ret_own)
{
	long parent[32], child[32];
	int np = ns_ids(ptid, parent, 32), nc = ns_ids(tid, child, 32);

	/* the creator's namespace is the child's or one above it */
	if (np <= 0 || nc < np || child[0] != tid)
		return 0;
	if (child[np - 1] == tid && child[nc - 1] == tid)
		return 0;
	*ret_parent_view = (uint64_t)child[np - 1];
	*ret_own = (uint64_t)child[nc - 1];
	return 1;
}

int
rec_sandbox_entry(pid_t tid, long nr, const uint64_t args[6], const struct user_regs_struct *regs,
		  bool program_filters, char *why, size_t len)
{
	struct user_regs_struct r;
	unsigned long msg;

	/* The program's filter asked for a tracer (SECCOMP_RET_TRACE): with
	 * none, natively, the syscall fails with ENOSYS (seccomp(2)); uprr,
	 * the tracer here, cannot tell that apart from what the program's
	 * own tracer, if it had one, would do. A vanished thread: its exit
	 * follows. */
	if (program_filters && ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg) == 0 &&
	    msg != REC_SECCOMP_TRACE_DATA) {
		snprintf(why, len, "seccomp filter action SECCOMP_RET_TRACE (data 0x%lx) for "
			 "syscall %s", msg, sc_name(nr) ?: "?");
		return -ENOSYS;
	}
	switch (nr) {
	case __NR_personality:
		if (sc_kernel_persona(args[0]) == args[0])
			return 0;
		r = *regs;
		r.rdi = sc_kernel_persona(args[0]);
		return tracee_set_regs(tid, &r);
	default:
		return 0;
	}
}

int
rec_sandbox_filter_count(pid_t tid)
{
	char path[64], line[256];
	int n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Seccomp_filters: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

int
rec_sandbox_exit(pid_t tid, long nr, const uint64_t args[6], struct user_regs_struct *regs,
		 int uprr_filters, bool *persona_norandom)
{
	int64_t result = (int64_t)regs->rax;
	int n;

	switch (nr) {
	case __NR_prctl:
		/* uprr's filters make it 2 (SECCOMP_MODE_FILTER); natively it
		 * is 2 only once the program installed one of its own */
		if (args[0] != PR_GET_SECCOMP || result != SECCOMP_MODE_FILTER)
			return 0;
		n = rec_sandbox_filter_count(tid);
		if (n != uprr_filters)
			return 0;
		regs->rax = SECCOMP_MODE_DISABLED;
		break;
	case __NR_personality:
		/* the old persona as the program set it: without uprr's
		 * ADDR_NO_RANDOMIZE unless the program had it */
		regs->rax = (regs->rax & ~(uint64_t)ADDR_NO_RANDOMIZE) |
			    (*persona_norandom ? ADDR_NO_RANDOMIZE : 0);
		regs->rdi = args[0];
		if ((uint32_t)args[0] != 0xffffffff)
			*persona_norandom = args[0] & ADDR_NO_RANDOMIZE;
		break;
	default:
		return 0;
	}
	return tracee_set_regs(tid, regs);
}
