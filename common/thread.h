/* SPDX-License-Identifier: MIT */
/* Helper threads of the supervisor (record's trace creation, replay's
 * markers): kept out of util.h, whose includers' include paths may shadow
 * <sched.h>, which <pthread.h> includes. */
#pragma once

#include <pthread.h>

#include "common/util.h"

/**
 * Start @fn(@arg) on a new thread that blocks every signal and may run on
 * any CPU the caller may, but @avoid_cpu (-1: none; kept where it is the
 * only one): so the thread does not take that CPU from the caller, who
 * pins itself there (pthread_attr_setaffinity_np(3)). Its id goes to
 * *ret_thread. Returns 0 or -errno (pthread_create(3)'s).
 */
int util_thread_start(pthread_t *ret_thread, void *(*fn)(void *), void *arg, int avoid_cpu) _wur_;
