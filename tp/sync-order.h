/* SPDX-License-Identifier: MIT */
/*
 * tp/'s synchronization-order log, the supervisor's side (doc/sync-order.md):
 * start a program under libuprr-sync.so in LOG or FOLLOW mode, and read and
 * check the log it wrote. The layout is preload/uprr-sync.h's.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"
#include "preload/uprr-sync.h"

/** What the interposer does in the program started by tp_sync_spawn(). */
enum tp_sync_mode {
	TP_SYNC_LOG,	/* writes the order of the program's operations to the log */
	TP_SYNC_FOLLOW,	/* makes the program's operations in the log's order */
};

/** tp_sync_spawn() flags: LOG orders the heap's calls too (FOLLOW does
 * what the log says) */
#define TP_SYNC_HEAP 0x1u

struct tp_sync_log;

/**
 * Runs @argv (a PATH search) with the interposer at @lib LD_PRELOAD'ed
 * (put before any LD_PRELOAD the environment has), @mode, @flags, and the log file
 * @log_path (LOG: created or emptied, 0600; @nrecs records per thread, 0
 * for the default; FOLLOW: read), with address-space randomisation off
 * (personality(2) ADDR_NO_RANDOMIZE, as uprr records), and waits for it.
 * Returns its wait status, or -errno if it could not be started.
 */
int tp_sync_spawn(const char *lib, enum tp_sync_mode mode, const char *log_path, uint32_t nrecs,
		unsigned flags, char *const argv[]) _wur_;

/**
 * The interposer's path next to the running program in a build tree
 * (BUILD/tp/uprr-sync → BUILD/preload/libuprr-sync.so): a new string the
 * caller frees, or NULL.
 */
char *tp_sync_default_lib(void);

/**
 * Opens the log @path (read-only). Returns 0 and the log in @ret_log,
 * -EINVAL for a file that is not a log of this version, or -errno.
 */
int tp_sync_log_open(const char *path, struct tp_sync_log **ret_log) _wur_;
/** Closes @log; NULL is fine. */
void tp_sync_log_close(struct tp_sync_log *log);
/** The log's head. */
const struct uprr_sync_head *tp_sync_log_head(const struct tp_sync_log *log);
/**
 * Thread @i's slot (i < the head's nthreads and UPRR_SYNC_NSLOTS), its
 * complete records' count in @ret_n (a record whose kind is 0 ends them: a
 * thread still blocked in it when the process ended).
 */
const struct uprr_sync_slot *tp_sync_log_thread(const struct tp_sync_log *log, uint32_t i,
		uint64_t *ret_n);

/**
 * Checks that the log can be followed: no thread or record lost, and for
 * every object, the clocks its changing operations took are 0, 1, 2, ...
 * each once, and every observation's clock is at most their count. On a
 * failure, returns -EINVAL with a one-line reason in @why. Returns the
 * number of records checked.
 */
long tp_sync_log_check(const struct tp_sync_log *log, char *why, size_t why_len) _wur_;

/** The name of an operation kind ("mutex_lock"), or "?". */
const char *tp_sync_kind_name(unsigned kind);
