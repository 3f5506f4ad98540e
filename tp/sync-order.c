/* SPDX-License-Identifier: MIT */
/*
 * The supervisor's side of the synchronization-order log: start a program
 * with the interposer, read and check its log (tp/sync-order.h).
 */
#include "tp/sync-order.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct tp_sync_log {
	const struct uprr_sync_head *head;
	size_t size;
	uint64_t slot_size;
};

/* clang-format off */
static const char *const kind_names[UPRR_SYNC_NKINDS] = {
	[UPRR_SYNC_NONE] = "none",
	[UPRR_SYNC_MUTEX_LOCK] = "mutex_lock",
	[UPRR_SYNC_MUTEX_TRYLOCK] = "mutex_trylock",
	[UPRR_SYNC_MUTEX_TIMEDLOCK] = "mutex_timedlock",
	[UPRR_SYNC_MUTEX_UNLOCK] = "mutex_unlock",
	[UPRR_SYNC_RW_RDLOCK] = "rwlock_rdlock",
	[UPRR_SYNC_RW_TRYRDLOCK] = "rwlock_tryrdlock",
	[UPRR_SYNC_RW_TIMEDRDLOCK] = "rwlock_timedrdlock",
	[UPRR_SYNC_RW_WRLOCK] = "rwlock_wrlock",
	[UPRR_SYNC_RW_TRYWRLOCK] = "rwlock_trywrlock",
	[UPRR_SYNC_RW_TIMEDWRLOCK] = "rwlock_timedwrlock",
	[UPRR_SYNC_RW_UNLOCK] = "rwlock_unlock",
	[UPRR_SYNC_COND_RELEASE] = "cond_wait_release",
	[UPRR_SYNC_COND_ACQUIRE] = "cond_wait_acquire",
	[UPRR_SYNC_COND_SIGNAL] = "cond_signal",
	[UPRR_SYNC_COND_BROADCAST] = "cond_broadcast",
	[UPRR_SYNC_SEM_WAIT] = "sem_wait",
	[UPRR_SYNC_SEM_TRYWAIT] = "sem_trywait",
	[UPRR_SYNC_SEM_TIMEDWAIT] = "sem_timedwait",
	[UPRR_SYNC_SEM_POST] = "sem_post",
	[UPRR_SYNC_BARRIER_ARRIVE] = "barrier_arrive",
	[UPRR_SYNC_BARRIER_LEAVE] = "barrier_leave",
	[UPRR_SYNC_ONCE] = "once",
	[UPRR_SYNC_SPIN_LOCK] = "spin_lock",
	[UPRR_SYNC_SPIN_TRYLOCK] = "spin_trylock",
	[UPRR_SYNC_SPIN_UNLOCK] = "spin_unlock",
	[UPRR_SYNC_FUTEX_WAKE] = "futex_wake",
	[UPRR_SYNC_FUTEX_WAIT] = "futex_wait",
	[UPRR_SYNC_HEAP] = "heap",
	[UPRR_SYNC_FORK] = "fork",
	[UPRR_SYNC_THREAD_END] = "thread_end",
};
/* clang-format on */

const char *
tp_sync_kind_name(unsigned kind)
{
	return kind < UPRR_SYNC_NKINDS && kind_names[kind] ? kind_names[kind] : "?";
}

char *
tp_sync_default_lib(void)
{
	char exe[PATH_MAX], *slash, *path;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return NULL;
	exe[n] = 0;
	slash = strrchr(exe, '/');
	if (!slash)
		return NULL;
	*slash = 0;
	if (asprintf(&path, "%s/../preload/libuprr-sync.so", exe) < 0)
		return NULL;
	return path;
}

int
tp_sync_spawn(const char *lib, enum tp_sync_mode mode, const char *log_path, uint32_t nrecs,
		unsigned flags, char *const argv[])
{
	_cleanup_free_ char *preload = NULL;
	const char *old = getenv("LD_PRELOAD");
	char recs[16];
	int status;
	pid_t pid;

	if (mode == TP_SYNC_LOG) {
		/* the interposer sizes an empty file itself */
		int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (fd < 0)
			return -errno;
		close(fd);
	}
	if (asprintf(&preload, "%s%s%s", lib, old && *old ? ":" : "", old && *old ? old : "") < 0)
		return -ENOMEM;
	snprintf(recs, sizeof(recs), "%u", nrecs ? nrecs : UPRR_SYNC_RECS_DEFAULT);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* the log names objects by address: the same addresses in
		 * every run, as in a recording */
		if (personality(ADDR_NO_RANDOMIZE) < 0 ||
				setenv("LD_PRELOAD", preload, 1) < 0 ||
				setenv(UPRR_SYNC_ENV_MODE, mode == TP_SYNC_LOG ? "log" : "follow", 1) < 0 ||
				setenv(UPRR_SYNC_ENV_LOG, log_path, 1) < 0 ||
				setenv(UPRR_SYNC_ENV_RECS, recs, 1) < 0 ||
				((flags & TP_SYNC_HEAP) && setenv(UPRR_SYNC_ENV_HEAP, "1", 1) < 0))
			_exit(127);
		execvp(argv[0], argv);
		fprintf(stderr, "uprr-sync: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return status;
}

int
tp_sync_log_open(const char *path, struct tp_sync_log **ret_log)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	const struct uprr_sync_head *h;
	struct tp_sync_log *log;
	struct stat st;
	void *p;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size < UPRR_SYNC_HEAD_SIZE)
		return -EINVAL;
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	h = p;
	if (h->magic != UPRR_SYNC_MAGIC || h->version != UPRR_SYNC_VERSION ||
			h->nslots != UPRR_SYNC_NSLOTS || h->nrecs == 0 || h->nrecs > UPRR_SYNC_RECS_MAX ||
			(uint64_t)st.st_size < uprr_sync_log_size(h->nrecs)) {
		munmap(p, (size_t)st.st_size);
		return -EINVAL;
	}
	log = calloc(1, sizeof(*log));
	if (!log) {
		munmap(p, (size_t)st.st_size);
		return -ENOMEM;
	}
	log->head = h;
	log->size = (size_t)st.st_size;
	log->slot_size = uprr_sync_slot_size(h->nrecs);
	*ret_log = log;
	return 0;
}

void
tp_sync_log_close(struct tp_sync_log *log)
{
	if (!log)
		return;
	munmap((void *)log->head, log->size);
	free(log);
}

const struct uprr_sync_head *
tp_sync_log_head(const struct tp_sync_log *log)
{
	return log->head;
}

const struct uprr_sync_slot *
tp_sync_log_thread(const struct tp_sync_log *log, uint32_t i, uint64_t *ret_n)
{
	const struct uprr_sync_slot *s = (const void *)((const char *)log->head + UPRR_SYNC_HEAD_SIZE +
		i * log->slot_size);
	uint64_t n = MIN(s->count, (uint64_t)log->head->nrecs);
	uint64_t k = 0;

	while (k < n && s->recs[k].kind != UPRR_SYNC_NONE)
		k++;
	*ret_n = k;
	return s;
}

struct obj_clock {
	uint64_t proc;		/* the thread's process (its first slot); UINT64_MAX: shared */
	uint64_t obj;
	uint32_t clock;
	uint32_t observe;
};

static int
cmp_obj_clock(const void *a, const void *b)
{
	const struct obj_clock *x = a, *y = b;

	if (x->proc != y->proc)
		return x->proc < y->proc ? -1 : 1;
	if (x->obj != y->obj)
		return x->obj < y->obj ? -1 : 1;
	if (x->observe != y->observe)
		return x->observe < y->observe ? -1 : 1;
	return x->clock < y->clock ? -1 : x->clock > y->clock;
}

long
tp_sync_log_check(const struct tp_sync_log *log, char *why, size_t why_len)
{
	const struct uprr_sync_head *h = log->head;
	_cleanup_free_ struct obj_clock *all = NULL;
	uint32_t nthreads = MIN(h->nthreads, (uint32_t)UPRR_SYNC_NSLOTS);
	size_t n = 0, cap = 0;

	if (h->lost_threads) {
		snprintf(why, why_len, "%llu threads found no slot (more than %u)",
			(unsigned long long)h->lost_threads, UPRR_SYNC_NSLOTS);
		return -EINVAL;
	}
	if (h->untracked) {
		snprintf(why, why_len, "%llu operations on objects the clock table had no room for",
			(unsigned long long)h->untracked);
		return -EINVAL;
	}
	for (uint32_t t = 0; t < nthreads; t++) {
		uint64_t nrecs;
		const struct uprr_sync_slot *s = tp_sync_log_thread(log, t, &nrecs);

		if (s->lost) {
			snprintf(why, why_len, "thread %u: %llu operations past its %u records", t,
				(unsigned long long)s->lost, h->nrecs);
			return -EINVAL;
		}
		if (UTIL_GROW(all, cap, n + nrecs) < 0) {
			snprintf(why, why_len, "out of memory");
			return -ENOMEM;
		}
		for (uint64_t i = 0; i < nrecs; i++) {
			const struct uprr_sync_rec *r = &s->recs[i];

			if (r->kind >= UPRR_SYNC_NKINDS) {
				snprintf(why, why_len, "thread %u record %llu: unknown kind %u", t,
					(unsigned long long)i, r->kind);
				return -EINVAL;
			}
			/* a private object's clocks are its process's; a
			 * shared one's are one sequence */
			all[n++] = (struct obj_clock){
				(r->flags & UPRR_SYNC_F_SHARED) ? UINT64_MAX : s->proc, r->obj,
				r->clock, !!(r->flags & UPRR_SYNC_F_OBSERVE) };
		}
	}
	if (n)
		qsort(all, n, sizeof(*all), cmp_obj_clock);
	/* per object: the changing operations first (observe 0), clocks
	 * 0..k-1 in order, then the observations, each at most k */
	for (size_t i = 0; i < n;) {
		uint64_t obj = all[i].obj, proc = all[i].proc;
		uint32_t k = 0;

		for (; i < n && all[i].obj == obj && all[i].proc == proc && !all[i].observe;
				i++, k++)
			if (all[i].clock != k) {
				snprintf(why, why_len, "object %#llx: clock %u where %u was due",
					(unsigned long long)obj, all[i].clock, k);
				return -EINVAL;
			}
		for (; i < n && all[i].obj == obj && all[i].proc == proc; i++)
			if (all[i].clock > k) {
				snprintf(why, why_len,
					"object %#llx: an observation at clock %u, past its %u operations",
					(unsigned long long)obj, all[i].clock, k);
				return -EINVAL;
			}
	}
	return (long)n;
}
