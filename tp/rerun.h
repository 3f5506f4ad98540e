/* SPDX-License-Identifier: MIT */
/*
 * The TP run's side of a re-run from checkpoint k (doc/uniparallel.md,
 * "Divergence and rollback"; the recorder's side is
 * recorder/record-ep-live.c): where each thread stood in the
 * synchronization order at the last few checkpoints, and, once a re-run
 * from checkpoint k is decided and before the TP run is killed, the kernel
 * state its processes had there (struct rec_ep_live).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "recorder/recorder.h"

struct tp_epochs;
struct tp_rerun;

/** A new record for a TP run whose synchronization order is the file
 * @sync_log (NULL: none; borrowed, it must outlive the record). NULL when
 * out of memory. */
struct tp_rerun *tp_rerun_new(const char *sync_log);

/** Free @r and the descriptors it took. NULL accepted. */
void tp_rerun_free(struct tp_rerun *r);
/** tp_rerun_free() of *@r, for _cleanup_(). */
void tp_rerun_freep(struct tp_rerun **r);

/** Checkpoint @k taken, every thread of the TP run held: note where each
 * thread stands in the synchronization order (the records it completed, a
 * pread(2) of each new one's kind), for the last few checkpoints. */
void tp_rerun_at_checkpoint(struct tp_rerun *r, uint64_t k);

/**
 * A re-run from checkpoint @rr->from is decided; the TP run stands held,
 * not killed yet. Take each process's kernel state at that checkpoint k
 * (the keeper @e kept it: tp_epochs_take_state()): its descriptors as open file
 * descriptions of uprr's (a file's kept at the checkpoint, its offset and
 * status flags put back; a pipe's or socket's taken from the TP run's
 * process with pidfd_getfd(2), Linux 5.6, which must still hold the same
 * object at that number), its working directory and umask; the re-run's
 * first process is @rr->root. What the TP run did since must be put back
 * by tp_rerun_restore(): the record of what it wrote must refuse nothing,
 * and each pipe and socket of its own it used since (@rr->objs) must have
 * had its bytes at k kept and a way to write them in again. Returns 0
 * (tp_rerun_live() has it), -1 with a refusal in @why (one phrase: a
 * descriptor closed since, a file cut, a thread that stood in a
 * synchronization operation, a checkpoint not kept), or -ENOMEM.
 */
int tp_rerun_take(struct tp_rerun *r, struct tp_epochs *e, const struct rec_rerun *rr, char *why,
		  size_t len);

/**
 * The TP run is gone (killed and reaped); before the re-run starts, put
 * back what it changed since the checkpoint tp_rerun_take() took: each
 * regular file it wrote, cut back and its overwritten bytes written again
 * (kmerge_epoch_undo()), the offsets of the files' descriptions, and the
 * bytes each pipe and socket of the program's own it used held there
 * (kmerge_epoch_queues_restore()). Call before the keeper is freed (the
 * records are its). Returns 0, or -errno with @why (partly put back: the
 * recording stops).
 */
int tp_rerun_restore(struct tp_rerun *r, char *why, size_t len);

/** Where each slot's thread stood in the synchronization order at the
 * checkpoints (tp_rerun_at_checkpoint(); the last 64 are kept), for
 * rec_options.ep_order; owned by @r. NULL when @r is NULL or has no
 * order. */
const struct rec_ep_order *tp_rerun_order(struct tp_rerun *r);

/** What tp_rerun_take() took, for rec_options.ep_live; owned by @r. */
struct rec_ep_live *tp_rerun_live(struct tp_rerun *r);

/**
 * Write to @dst the TP run's synchronization order cut at checkpoint @k:
 * each slot's records its thread completed before it (and the mark alone,
 * UPRR_SYNC_F_END, of the record a thread waited for in glibc there),
 * UPRR_SYNC_HEAD_OPEN_END set, so that a FOLLOW run goes unordered past
 * them (a sparse file, as the TP run's); the head says growing, so that
 * a marked wait waits with libuprr-sync's call, where the re-run's EP run
 * parks its thread, until the re-run goes live (record-ep-live.c clears
 * it). Returns 0 or -errno (-ENOENT: the place at @k not kept).
 */
int tp_rerun_cut_order(const struct tp_rerun *r, uint64_t k, const char *dst);
