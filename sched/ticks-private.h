/* SPDX-License-Identifier: MIT */
/*
 * Internals of sched/functions.c exposed to its unit tests: a lookup limited
 * to one source of function extents, and the cache's parse counter.
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "common/util.h"

/** Sources of function extents ticks_function_lookup may use. */
enum ticks_function_source {
	TICKS_FUNCTION_SYMBOLS = 1 << 0, /**< STT_FUNC/STT_GNU_IFUNC of .symtab and .dynsym */
	TICKS_FUNCTION_CFI = 1 << 1,	 /**< FDEs of .eh_frame */
	TICKS_FUNCTION_ANY = TICKS_FUNCTION_SYMBOLS | TICKS_FUNCTION_CFI, /**< symbols, then FDEs */
};

/**
 * ticks_function_at restricted to the sources in the mask @sources (enum
 * ticks_function_source); same results and return convention.
 */
int ticks_function_lookup(pid_t pid, uint64_t addr, unsigned sources, uint64_t *ret_start,
			  uint64_t *ret_end) _wur_;

/** How many files ticks_function_at parsed since the process started (cache misses). */
unsigned ticks_functions_parsed(void);

/**
 * Whether the kernel has a hardware PMU at all: perf_event_open(2) of a
 * generic hardware event (PERF_COUNT_HW_BRANCH_INSTRUCTIONS) on the calling
 * thread, which needs no libpfm4. Returns -ENOENT, -EOPNOTSUPP or -ENODEV
 * with a one-line reason in @why when it has none (a VM without a virtual
 * PMU), else 0: ticks_pmu_probe() decides.
 */
int ticks_pmu_kernel_has_counters(char *why, size_t why_len) _wur_;
