/* SPDX-License-Identifier: MIT */
/*
 * spsc_queue's ring with only 64 slots, between two threads that spin
 * without a syscall whenever it is full or empty: 400,000 items hand the
 * CPU over thousands of times. A recorder that runs one thread at a time
 * must see a spinning thread and switch to the other (record-sched.c), not
 * let it spin out its timeslice: with 5 ms timeslices this would take
 * minutes (the case's timeout). bench/bench14.sh times it too (issue 14's
 * lock-free ring).
 */
#define PROG "ring_small"
#define NITEMS 400000u
#define RING_BITS 6
#define SPIN_LIMIT 2000000000L

#include "spsc_queue.c"
