/* SPDX-License-Identifier: MIT */
#pragma once

#include <sys/types.h>

#include "common/util.h"

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
