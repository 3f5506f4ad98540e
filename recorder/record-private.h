/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "common/util.h"

/**
 * At the exec stop of @pid: hide the vDSO from the program by turning its
 * auxv entry AT_SYSINFO_EHDR into AT_IGNORE (glibc then makes real syscalls
 * for the time functions, which uprr records), and return the registers, the
 * end of the stack mapping and the address-space layout (malloc'd).
 * Returns 0 or -errno.
 */
int rec_exec_prepare(pid_t pid, int memfd, struct user_regs_struct *ret_regs,
		     uint64_t *ret_stack_end, char **ret_layout) _wur_;

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

/* ---- sandboxes and namespaces (sandbox.c) ---- */

struct rec_ranges;

/**
 * The model's check of the sandboxing calls: refuses seccomp strict mode
 * (seccomp(2) SECCOMP_SET_MODE_STRICT, prctl PR_SET_SECCOMP), a filter with
 * SECCOMP_FILTER_FLAG_NEW_LISTENER, naming it in @why. Returns 0 or
 * -ENOSYS.
 */
int rec_sandbox_check(long nr, const uint64_t args[6], char *why, size_t len) _wur_;

/** Flags the sandboxing calls add to their rows: REC_SC_REPLAY_EXEC for
 * installing a filter and for PR_SET_NO_NEW_PRIVS. */
uint32_t rec_sandbox_flags(long nr, const uint64_t args[6]);

/** Outputs of the sandboxing calls (SECCOMP_GET_NOTIF_SIZES writes a struct
 * seccomp_notif_sizes). Returns 0 or -ENOMEM. */
int rec_sandbox_outputs(long nr, const uint64_t args[6], struct rec_ranges *out) _wur_;

/** ADDR_NO_RANDOMIZE in uprr's own persona, which the program inherits
 * natively (setarch -R). */
bool rec_sandbox_initial_norandom(void);

/** Whether syscall @nr (@args), which returned @result, installed a
 * seccomp filter of the program's (seccomp(2), prctl PR_SET_SECCOMP). */
bool rec_sandbox_installs_filter(long nr, const uint64_t args[6], int64_t result);

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
 * in @regs and in the tracee: PR_GET_SECCOMP is 0 while only uprr's filter
 * is installed; personality(2) returns the old persona with the program's
 * own ADDR_NO_RANDOMIZE (*@persona_norandom, updated when it sets one).
 * Returns 0 or -errno (-ESRCH: the thread vanished).
 */
int rec_sandbox_exit(pid_t tid, long nr, const uint64_t args[6], struct user_regs_struct *regs,
		     bool *persona_norandom) _wur_;

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
 * Whether syscall @nr (@args) that returned @result moved the PID namespace
 * of the caller's next children away from uprr's (unshare(CLONE_NEWPID),
 * setns(2) of a PID namespace, or of any namespace with nstype 0: uprr
 * cannot tell which). Restore points fork a mirror through the process:
 * it would take an id there.
 */
bool rec_sandbox_moves_children(long nr, const uint64_t args[6], int64_t result);
