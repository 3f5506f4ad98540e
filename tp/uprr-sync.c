/* SPDX-License-Identifier: MIT */
/*
 * uprr-sync: the synchronization-order log on its own, before the TP and EP
 * runs use it (doc/sync-order.md). Runs a dynamically linked program with
 * libuprr-sync.so in LOG or FOLLOW mode, checks a log, or prints it.
 *
 *   uprr-sync [--lib PATH] [--recs N] [--heap] log LOG -- PROG [ARGS...]
 *   uprr-sync [--lib PATH] follow LOG -- PROG [ARGS...]
 *   uprr-sync check LOG
 *   uprr-sync dump LOG
 *
 * --heap: LOG orders malloc and free too (preload/sync-heap.c).
 * log and follow exit with the program's status (128+N for signal N); a
 * FOLLOW run that cannot follow its log exits 125.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tp/sync-order.h"

static int
usage(void)
{
	fprintf(stderr, "usage: uprr-sync [--lib PATH] [--recs N] [--heap] log|follow LOG -- PROG [ARGS...]\n"
			"       uprr-sync check|dump LOG\n");
	return 2;
}

static int
open_log(const char *path, struct tp_sync_log **ret_log)
{
	int r = tp_sync_log_open(path, ret_log);

	if (r < 0)
		fprintf(stderr, "uprr-sync: cannot read log '%s': %s\n", path,
			r == -EINVAL ? "not a synchronization-order log of this version" : strerror(-r));
	return r;
}

static int
cmd_check(const char *path)
{
	struct tp_sync_log *log;
	char why[256];
	long n;

	if (open_log(path, &log) < 0)
		return 1;
	n = tp_sync_log_check(log, why, sizeof(why));
	if (n < 0)
		fprintf(stderr, "uprr-sync: log '%s' cannot be followed: %s\n", path, why);
	else
		printf("%u threads, %ld records: ok\n", tp_sync_log_head(log)->nthreads, n);
	tp_sync_log_close(log);
	return n < 0 ? 1 : 0;
}

static int
cmd_dump(const char *path)
{
	const struct uprr_sync_head *h;
	struct tp_sync_log *log;

	if (open_log(path, &log) < 0)
		return 1;
	h = tp_sync_log_head(log);
	printf("pid %u, %u threads, %u records a thread, %llu threads lost, %llu untracked\n", h->pid,
		h->nthreads, h->nrecs, (unsigned long long)h->lost_threads,
		(unsigned long long)h->untracked);
	for (uint32_t t = 0; t < h->nthreads && t < UPRR_SYNC_NSLOTS; t++) {
		uint64_t n;
		const struct uprr_sync_slot *s = tp_sync_log_thread(log, t, &n);

		printf("thread %u (tid %u, parent %d, rank %u, process %u%s): %llu records%s\n", t,
			s->tid, s->parent == UPRR_SYNC_NO_PARENT ? -1 : (int)s->parent, s->ordinal,
			s->proc, s->forked ? ", forked" : "", (unsigned long long)n,
			s->lost ? " (log full)" : "");
		for (uint64_t i = 0; i < n; i++) {
			const struct uprr_sync_rec *r = &s->recs[i];

			printf("  %llu %s %#llx clock %u result %d%s%s%s\n", (unsigned long long)i,
				tp_sync_kind_name(r->kind), (unsigned long long)r->obj, r->clock,
				r->result, (r->flags & UPRR_SYNC_F_OBSERVE) ? " observe" : "",
				(r->flags & UPRR_SYNC_F_SHARED) ? " shared" : "",
				(r->flags & UPRR_SYNC_F_ENDED) ? " after an end" : "");
		}
	}
	tp_sync_log_close(log);
	return 0;
}

int
main(int argc, char **argv)
{
	_cleanup_free_ char *default_lib = NULL;
	const char *lib = NULL;
	uint32_t nrecs = 0;
	unsigned flags = 0;
	enum tp_sync_mode mode;
	int i = 1, status;

	for (; i < argc && !strncmp(argv[i], "--", 2) && argv[i][2]; i++) {
		if (!strcmp(argv[i], "--lib") && i + 1 < argc)
			lib = argv[++i];
		else if (!strcmp(argv[i], "--heap"))
			flags |= TP_SYNC_HEAP;
		else if (!strcmp(argv[i], "--recs") && i + 1 < argc)
			nrecs = (uint32_t)strtoul(argv[++i], NULL, 10);
		else
			return usage();
	}
	if (argc - i == 2 && !strcmp(argv[i], "check"))
		return cmd_check(argv[i + 1]);
	if (argc - i == 2 && !strcmp(argv[i], "dump"))
		return cmd_dump(argv[i + 1]);
	if (argc - i < 4 || strcmp(argv[i + 2], "--"))
		return usage();
	if (!strcmp(argv[i], "log"))
		mode = TP_SYNC_LOG;
	else if (!strcmp(argv[i], "follow"))
		mode = TP_SYNC_FOLLOW;
	else
		return usage();
	if (nrecs > UPRR_SYNC_RECS_MAX) {
		fprintf(stderr, "uprr-sync: --recs: at most %u\n", UPRR_SYNC_RECS_MAX);
		return 2;
	}
	if (!lib) {
		default_lib = tp_sync_default_lib();
		if (!default_lib) {
			fprintf(stderr, "uprr-sync: cannot find libuprr-sync.so: give --lib\n");
			return 2;
		}
		lib = default_lib;
	}
	status = tp_sync_spawn(lib, mode, argv[i + 1], nrecs, flags, argv + i + 3);
	if (status < 0) {
		fprintf(stderr, "uprr-sync: cannot run %s: %s\n", argv[i + 3], strerror(-status));
		return 127;
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
