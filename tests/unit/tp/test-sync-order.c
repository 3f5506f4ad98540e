/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the synchronization-order log's reader (tp/sync-order.h):
 * logs written here byte by byte in preload/uprr-sync.h's layout, the check
 * that a log can be followed (each object's clocks 0, 1, 2, ... once; an
 * observation at most their count; nothing lost), and the refusal of a
 * file that is not a log.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tp/sync-order.h"

#define NRECS 16

static char path[] = "/tmp/uprr-test-sync-XXXXXX";
static void *image;
static struct tp_sync_log *slog;

static void
fini(void)
{
	tp_sync_log_close(slog);
	slog = NULL;
	free(image);
	image = NULL;
	unlink(path);
	strcpy(path, "/tmp/uprr-test-sync-XXXXXX");
}

TestSuite(sync_order, .fini = fini, .timeout = 10);

static struct uprr_sync_head *
head(void)
{
	return image;
}

static struct uprr_sync_slot *
slot(uint32_t i)
{
	return (void *)((char *)image + UPRR_SYNC_HEAD_SIZE + i * uprr_sync_slot_size(NRECS));
}

/* An empty slog of @nthreads threads, thread 0 the first */
static void
new_log(uint32_t nthreads)
{
	image = calloc(1, uprr_sync_log_size(NRECS));
	cr_assert_not_null(image);
	*head() = (struct uprr_sync_head){ .magic = UPRR_SYNC_MAGIC, .version = UPRR_SYNC_VERSION,
		.nslots = UPRR_SYNC_NSLOTS, .nrecs = NRECS, .nthreads = nthreads, .pid = 1 };
	for (uint32_t t = 0; t < nthreads; t++)
		*slot(t) = (struct uprr_sync_slot){ .used = 1,
			.parent = t ? 0 : UPRR_SYNC_NO_PARENT, .ordinal = t ? t - 1 : 0, .tid = 100 + t };
}

static void
add(uint32_t t, unsigned kind, uint64_t obj, uint32_t clock, int result, unsigned flags)
{
	struct uprr_sync_slot *s = slot(t);

	s->recs[s->count++] = (struct uprr_sync_rec){ .obj = obj, .clock = clock, .result = result,
		.kind = (uint16_t)kind, .flags = (uint16_t)flags };
}

/* Writes the slog and opens it */
static void
open_log(void)
{
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, image, uprr_sync_log_size(NRECS)), (ssize_t)uprr_sync_log_size(NRECS));
	close(fd);
	cr_assert_eq(tp_sync_log_open(path, &slog), 0);
}

/* Two threads taking one mutex in turn, one failed trylock */
static void
two_threads(void)
{
	new_log(2);
	add(0, UPRR_SYNC_MUTEX_LOCK, 0x1000, 0, 0, 0);
	add(1, UPRR_SYNC_MUTEX_TRYLOCK, 0x1000, 1, 16 /* EBUSY */, UPRR_SYNC_F_OBSERVE);
	add(0, UPRR_SYNC_MUTEX_UNLOCK, 0x1000, 1, 0, 0);
	add(1, UPRR_SYNC_MUTEX_LOCK, 0x1000, 2, 0, 0);
	add(1, UPRR_SYNC_MUTEX_UNLOCK, 0x1000, 3, 0, 0);
	add(1, UPRR_SYNC_SEM_POST, 0x2000, 0, 0, 0);
}

Test(sync_order, good_log_checks)
{
	char why[128] = "";

	two_threads();
	open_log();
	cr_assert_eq(tp_sync_log_check(slog, why, sizeof(why)), 6, "%s", why);
	cr_assert_eq(tp_sync_log_head(slog)->nthreads, 2);
}

/* Thread 1 is a forked child's (process 1): the same address in both
 * processes is two objects, each with clocks from 0; a shared semaphore
 * is one object across them */
static void
two_processes(void)
{
	new_log(2);
	slot(1)->proc = 1;
	slot(1)->forked = 1;
	add(0, UPRR_SYNC_MUTEX_LOCK, 0x1000, 0, 0, 0);
	add(0, UPRR_SYNC_MUTEX_UNLOCK, 0x1000, 1, 0, 0);
	add(1, UPRR_SYNC_MUTEX_LOCK, 0x1000, 0, 0, 0);
	add(1, UPRR_SYNC_MUTEX_UNLOCK, 0x1000, 1, 0, 0);
	add(0, UPRR_SYNC_SEM_WAIT, 0x2000, 0, 0, UPRR_SYNC_F_SHARED);
	add(1, UPRR_SYNC_SEM_POST, 0x2000, 1, 0, UPRR_SYNC_F_SHARED);
}

Test(sync_order, processes_have_their_own_clocks)
{
	char why[128] = "";

	two_processes();
	open_log();
	cr_assert_eq(tp_sync_log_check(slog, why, sizeof(why)), 6, "%s", why);
}

Test(sync_order, shared_object_is_one_sequence)
{
	char why[128] = "";

	two_processes();
	slot(1)->recs[2].clock = 0;	/* the post at the wait's clock */
	open_log();
	cr_assert_eq(tp_sync_log_check(slog, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "0x2000"), "%s", why);
}

Test(sync_order, private_objects_of_one_process_are_one_sequence)
{
	char why[128] = "";

	two_processes();
	slot(1)->proc = 0;	/* the same process: two locks at clock 0 */
	open_log();
	cr_assert_eq(tp_sync_log_check(slog, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "0x1000"), "%s", why);
}

Test(sync_order, thread_records_end_at_incomplete_one)
{
	uint64_t n;

	two_threads();
	slot(1)->recs[1].kind = UPRR_SYNC_NONE;	/* still blocked in its lock */
	open_log();
	(void)tp_sync_log_thread(slog, 1, &n);
	cr_assert_eq(n, 1);
	(void)tp_sync_log_thread(slog, 0, &n);
	cr_assert_eq(n, 2);
}

Test(sync_order, duplicate_clock_fails)
{
	char why[128] = "";

	two_threads();
	slot(1)->recs[1].clock = 1;	/* the lock at the unlock's clock */
	open_log();
	cr_assert_eq(tp_sync_log_check(slog, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "0x1000"), "%s", why);
}

Test(sync_order, gap_fails)
{
	char why[128] = "";

	two_threads();
	slot(1)->recs[2].clock = 7;
	open_log();
	cr_assert_eq(tp_sync_log_check(slog, why, sizeof(why)), -EINVAL);
}

Test(sync_order, observation_past_the_end_fails)
{
	char why[128] = "";

	two_threads();
	slot(1)->recs[0].clock = 5;
	open_log();
	cr_assert_eq(tp_sync_log_check(slog, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "observation"), "%s", why);
}

Test(sync_order, lost_records_fail)
{
	char why[128] = "";

	two_threads();
	slot(0)->lost = 3;
	open_log();
	cr_assert_eq(tp_sync_log_check(slog, why, sizeof(why)), -EINVAL);
	cr_assert(strstr(why, "thread 0"), "%s", why);
}

Test(sync_order, lost_threads_fail)
{
	char why[128] = "";

	two_threads();
	head()->lost_threads = 1;
	open_log();
	cr_assert_eq(tp_sync_log_check(slog, why, sizeof(why)), -EINVAL);
}

Test(sync_order, not_a_log_is_refused)
{
	two_threads();
	head()->version = UPRR_SYNC_VERSION + 1;
	{
		int fd = mkstemp(path);

		cr_assert_geq(fd, 0);
		cr_assert_eq(write(fd, image, UPRR_SYNC_HEAD_SIZE), UPRR_SYNC_HEAD_SIZE);
		close(fd);
	}
	cr_assert_eq(tp_sync_log_open(path, &slog), -EINVAL);
	slog = NULL;
}

Test(sync_order, kind_names)
{
	cr_assert_str_eq(tp_sync_kind_name(UPRR_SYNC_MUTEX_LOCK), "mutex_lock");
	cr_assert_str_eq(tp_sync_kind_name(UPRR_SYNC_FUTEX_WAIT), "futex_wait");
	cr_assert_str_eq(tp_sync_kind_name(UPRR_SYNC_NKINDS), "?");
	for (unsigned k = 0; k < UPRR_SYNC_NKINDS; k++)
		cr_assert_str_neq(tp_sync_kind_name(k), "?", "kind %u has no name", k);
}
