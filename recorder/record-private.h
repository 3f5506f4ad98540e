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
