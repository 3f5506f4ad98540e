/* SPDX-License-Identifier: MIT */
/*
 * Libraries uprr needs only for some recordings, loaded at their first use
 * (dlopen(3)) instead of at every start: capstone (counting code), libpfm4
 * (PMU ticks) and libdw (function extents from .eh_frame). Linked as
 * DT_NEEDED, the dynamic loader relocates them before main(): capstone's
 * and libpfm4's tables are pointers, so each start of uprr wrote ~700 pages
 * of them, 1.4 ms of the 1.9 ms that `uprr record /bin/true` spent before
 * main() (issue 14).
 */
#pragma once

#include <stddef.h>

#include "common/util.h"

/** One function of a lazily loaded library: its name and where to store it. */
struct lazylib_fn {
	const char *name; /**< the symbol, e.g. "cs_open" */
	void **slot;	  /**< the function pointer to fill, as (void **)&api.open */
};

/** A library loaded at its first use. Define one static per library. */
struct lazylib {
	const char *soname;	       /**< what dlopen() is given, e.g. "libcapstone.so.4" */
	const struct lazylib_fn *fns;  /**< the functions uprr calls */
	size_t nfns;
	int state;		       /**< 0: not tried yet, 1: loaded, < 0: -errno of the failure */
};

/**
 * Load @lib if not done yet (dlopen(3) with RTLD_NOW | RTLD_LOCAL, then
 * dlsym(3) of each function into its slot). The first call decides: a
 * library that could not be loaded is not tried again. Not thread-safe:
 * the supervisor's thread only. Returns 0, -ENOENT if the library cannot be
 * opened, -ENOSYS if it lacks a function (the reason is logged at debug
 * level).
 */
int lazylib_load(struct lazylib *lib) _wur_;
