/* SPDX-License-Identifier: MIT */
/*
 * Two recorders' loops in one thread of uprr (record-stash.c): lock-step,
 * where one stands while the other runs and an event of the other's
 * tracee is kept for it, and overlap (rec_overlap_set(), recorder.h),
 * where each loop swaps to the other when the other has something to do.
 * Private to recorder/: included by record-private.h after the recorder's
 * state, which it uses.
 */
#pragma once

/** @rec's loop runs (till rec_stash_leave()). */
void rec_stash_enter(struct recorder *rec);
/** @rec's loop is over: the events kept for it are dropped. */
void rec_stash_leave(struct recorder *rec);
/**
 * Overlap (rec_overlap_set()): whether an event of @rec's tracees waits to
 * be taken (waitid(2) WNOHANG | WNOWAIT); false without overlap. A TP
 * run's end waits for them (the loop looks at epoch ends before it waits
 * for events): an end taken as soon as the EP run gave this thread back
 * holds a thread whose stop waited meanwhile at the entry of that call,
 * rewound; at every end, it never made that call (with rec_wait_any()
 * not yet taking its own events first: sig_unblock, --epoch=5, 990
 * epochs at its close()).
 */
bool rec_stash_own_pending(struct recorder *rec);
/** waitpid(-1, ret_status, __WALL) for @rec's loop, woken by the timer
 * after @wait_ns (0: no bound; SIGALRM, -1 with errno EINTR): an event
 * kept for it first; one of the other recorder's tracees is kept for that
 * one, and -1 returned with errno EINTR. With overlap (rec_overlap_set()),
 * the other's loop is swapped to first when it has something to do, and
 * -1 with EINTR returned once it swaps back. */
pid_t rec_wait_any(struct recorder *rec, uint64_t wait_ns, int *ret_status);
/** Whether another recorder's loop runs in this thread (lock-step). */
bool rec_stash_others(const struct recorder *rec);
