/* SPDX-License-Identifier: MIT */
/*
 * The checkpoints of a TP run (doc/uniparallel.md, "Epoch boundaries and
 * checkpoints"): their owner. The recorder takes checkpoint k of each
 * process at each epoch's end (recorder/record-epoch.c) and hands it here,
 * with the pages the process wrote in the epoch before it. Checkpoint k is
 * needed until epoch k is verified (an EP run from it, compared with
 * checkpoint k + 1); until EP runs follow the TP run, the last two are
 * kept and older ones freed.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/util.h"
#include "recorder/recorder.h"

/** The epochs' length when --epoch does not say (ms). An EP run follows a
 * log with epochs: its log reader folds an epoch's interrupt of a blocking
 * call and the kernel's restart of it into the one call the program made
 * (ep/syscall-log.c). They will adapt (issue 15: short while output waits
 * to be released, longer when none does) once output is held. */
#define TP_EPOCH_DEFAULT_MS 100

/** How many checkpoints back are kept (k and k - 1). */
#define TP_EPOCHS_KEPT 2

/** The checkpoints kept. */
struct tp_epochs;

/** A new, empty keeper; its rec_epoch_keeper in *ret_keeper (for
 * rec_options.epochs). NULL when out of memory. */
struct tp_epochs *tp_epochs_new(struct rec_epoch_keeper *ret_keeper);

/** Checkpoint @k of process @pid and the pages it wrote in epoch k - 1, or
 * NULL (what tp_epochs_keep() kept), NULL if not kept (freed, or never). */
struct checkpoint_copy *tp_epochs_find(const struct tp_epochs *e, uint64_t k, pid_t pid,
				       const struct dirty_pages **ret_written);

/** Checkpoints kept now. */
size_t tp_epochs_count(const struct tp_epochs *e);

/** Log which checkpoints are kept (`uprr record -v`). */
void tp_epochs_log(const struct tp_epochs *e);

/** Free every checkpoint kept (the copies killed), then @e. NULL accepted. */
void tp_epochs_free(struct tp_epochs *e);
