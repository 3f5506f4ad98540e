/* SPDX-License-Identifier: MIT */
/*
 * The checkpoints of a TP run (doc/uniparallel.md, "Epoch boundaries and
 * checkpoints"): their owner. The recorder takes checkpoint k of each
 * process at each epoch's end (recorder/record-epoch.c) and hands it here,
 * with the pages the process wrote in the epoch before it. Checkpoint k is
 * needed until epoch k is verified (an EP run from it, compared with
 * checkpoint k + 1). `--mode=tp-log` keeps the last two (TP_EPOCHS_KEPT);
 * `--mode=tp` keeps them all (tp_epochs_new_all()) for its EP run, which
 * follows the TP run, up to TP_EPOCHS_CAP checkpoint numbers: past that,
 * every other one is freed and its pages written go to the next one kept,
 * so that the epochs checked get longer (twice, each time the cap is met).
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
 * (ep/syscall-log.c). */
#define TP_EPOCH_DEFAULT_MS 100

/** The longest adaptive epoch (--epoch=auto, rec_options.epoch_adaptive:
 * short while held output waits, twice as long after each epoch in which
 * none did, up to this; recorder/record-epoch.c) (ms). */
#define TP_EPOCH_AUTO_MAX_MS 1000

/** How many checkpoints back are kept (k and k - 1). */
#define TP_EPOCHS_KEPT 2

/** How many checkpoint numbers a keeper of all keeps at most. */
#define TP_EPOCHS_CAP 64

/** The checkpoints kept. */
struct tp_epochs;

/** A new, empty keeper; its rec_epoch_keeper in *ret_keeper (for
 * rec_options.epochs). NULL when out of memory. */
struct tp_epochs *tp_epochs_new(struct rec_epoch_keeper *ret_keeper);

/** A new, empty keeper of every checkpoint (up to TP_EPOCHS_CAP numbers,
 * thinned past it), for an EP run that checks them after the TP run: its
 * rec_epoch_keeper in *ret_keeper, its rec_ep_checkpoints (find()) in
 * *ret_checkpoints. The copies are stopped tracees of this process: an
 * EP run's waitpid(-1) hears nothing of them (they never run). NULL when
 * out of memory. */
struct tp_epochs *tp_epochs_new_all(struct rec_epoch_keeper *ret_keeper,
				    struct rec_ep_checkpoints *ret_checkpoints);

/** Checkpoint numbers freed to stay within TP_EPOCHS_CAP (their epochs
 * merged into the next one kept). */
uint64_t tp_epochs_thinned(const struct tp_epochs *e);

/** Checkpoint @k of process @pid and the pages it wrote in epoch k - 1, or
 * NULL (what tp_epochs_keep() kept), NULL if not kept (freed, or never). */
struct checkpoint_copy *tp_epochs_find(const struct tp_epochs *e, uint64_t k, pid_t pid,
				       const struct dirty_pages **ret_written);

/** Checkpoints kept now. */
size_t tp_epochs_count(const struct tp_epochs *e);

/** Log which checkpoints are kept (`uprr record -v`). */
void tp_epochs_log(const struct tp_epochs *e);

struct kmerge_epoch;
/** The kernel state of process @pid at checkpoint @k, kept for a re-run
 * from it (a keeper of all keeps the last 4 checkpoints', and of the last
 * 16 those from the last epoch verified on: tp_epochs_verified()), taken
 * from @e:
 * the record of the copy's descriptors before they were closed and of what
 * the TP run did since (kmerge_epoch_save_fds(), on_call, on_read; free
 * with kmerge_epoch_free()), its working directory (free()), umask and
 * timers (rec_epoch_keeper.keep()'s). False if not kept. */
bool tp_epochs_take_state(struct tp_epochs *e, uint64_t k, pid_t pid, struct kmerge_epoch **ret_fds,
			  char **ret_cwd, unsigned *ret_umask, struct rec_timers *ret_timers);

/** The records of what the TP run did in epochs @k, @k + 1, ... to the
 * latest (rec_epoch_keeper.on_call, on_read: the files it wrote, the input
 * it read from outside), taken from @e into @recs (@cap at most), in that
 * order; how many (0, nothing taken: one of them not kept, or more than
 * @cap). Kept as tp_epochs_take_state()'s state. Free each with
 * kmerge_epoch_free(). */
size_t tp_epochs_take_records(struct tp_epochs *e, uint64_t k, struct kmerge_epoch **recs, size_t cap);

/** Epoch @k - 1 was verified (the EP run stood at checkpoint @k): no
 * re-run starts before checkpoint @k (the kernel state of the checkpoints
 * before it goes at the next one past the last few), and the TCP
 * connections the records
 * of the checkpoints before it keep for one are let go
 * (kmerge_epoch_drop_conns()): a connection the program closed then gets
 * its FIN now, as its epoch's output goes out. */
void tp_epochs_verified(struct tp_epochs *e, uint64_t k);

/** The processes that have checkpoint @k, their ids into @pids (@cap at
 * most); how many. */
size_t tp_epochs_pids(const struct tp_epochs *e, uint64_t k, pid_t *pids, size_t cap);

/** Free every checkpoint kept (the copies killed), then @e. NULL accepted. */
void tp_epochs_free(struct tp_epochs *e);
