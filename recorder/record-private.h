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
