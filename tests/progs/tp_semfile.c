/* SPDX-License-Identifier: MIT */
/*
 * Files a program makes and takes every name of, as glibc's sem_open(3)
 * and python3's multiprocessing do (issue 15: the re-run of a diverged
 * epoch must not be refused for them, doc/uniparallel.md "Divergence and
 * rollback"). The main thread makes a POSIX semaphore with sem_open(3)
 * (O_CREAT | O_EXCL: glibc makes /dev/shm/sem.XXXXXX with O_EXCL, writes
 * it, maps it shared, links it to its name, unlinks the temporary name) and
 * sem_unlink(3)s it. Then two threads race to make one file each in DIR
 * the same way by hand: DIR/semfile.tmp.N made with O_CREAT | O_EXCL,
 * written, ftruncate(2)d, mapped shared, linked to DIR/semfile.N, the
 * temporary name unlinked, renamed (renameat2 RENAME_NOREPLACE) to
 * DIR/semfile.N.sem, and that name unlinked. Each thread then makes ROUNDS
 * rounds: a post and a wait on the semaphore (cross-thread, in the shared
 * file's page), an atomic add to its file's counter, a write of a byte to
 * /dev/null (a syscall each round: a TP run's epochs find the threads in
 * them). The main thread names both first (pthread_setname_np(3): a write
 * of each one's /proc comm file, no outside effect either). Prints one
 * line at its end: the same in every run.
 *
 * Usage: tp_semfile DIR [ROUNDS [sem|keep|noexcl]]. "keep": thread 0's
 * file keeps its last name (DIR/semfile.0.sem, left behind); "noexcl":
 * the threads make their temporary files with O_CREAT but no O_EXCL.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "progs.h"

#define NTHREADS 2

static const char *g_dir, *g_mode = "sem";
static long g_rounds = 20000;
static sem_t *g_sem;
static int g_null;
static uint64_t g_totals[NTHREADS];
static pthread_barrier_t g_named;

/* Make thread @id's file as sem_open(3) does, by hand; returns its shared
 * page (a counter at its start). */
static volatile uint64_t *
make_file(long id)
{
	char tmp[4096], name[4096], sem[4096];
	uint64_t zero[4] = { 0 };
	int flags = O_RDWR | O_CREAT | O_CLOEXEC, fd;
	void *page;

	if (strcmp(g_mode, "noexcl") != 0)
		flags |= O_EXCL;
	snprintf(tmp, sizeof(tmp), "%s/semfile.tmp.%ld", g_dir, id);
	snprintf(name, sizeof(name), "%s/semfile.%ld", g_dir, id);
	snprintf(sem, sizeof(sem), "%s/semfile.%ld.sem", g_dir, id);
	fd = open(tmp, flags, 0600);
	if (fd < 0)
		die("open %s: %s", tmp, strerror(errno));
	if (write(fd, zero, sizeof(zero)) != (ssize_t)sizeof(zero))
		die("write %s: %s", tmp, strerror(errno));
	if (ftruncate(fd, 4096) != 0)
		die("ftruncate %s: %s", tmp, strerror(errno));
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (page == MAP_FAILED)
		die("mmap %s: %s", tmp, strerror(errno));
	if (link(tmp, name) != 0)
		die("link %s %s: %s", tmp, name, strerror(errno));
	if (unlink(tmp) != 0)
		die("unlink %s: %s", tmp, strerror(errno));
	if (syscall(SYS_renameat2, AT_FDCWD, name, AT_FDCWD, sem, RENAME_NOREPLACE) != 0)
		die("renameat2 %s %s: %s", name, sem, strerror(errno));
	close(fd);
	if (!(id == 0 && strcmp(g_mode, "keep") == 0) && unlink(sem) != 0)
		die("unlink %s: %s", sem, strerror(errno));
	return page;
}

static void *
thread_main(void *arg)
{
	long id = (long)(intptr_t)arg;
	volatile uint64_t *counter;
	char byte = (char)('0' + id);

	/* named by the main thread first (while it lives) */
	pthread_barrier_wait(&g_named);
	counter = make_file(id);

	for (long r = 0; r < g_rounds; r++) {
		if (sem_post(g_sem) != 0 || sem_wait(g_sem) != 0)
			die("sem_post/sem_wait: %s", strerror(errno));
		__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
		if (write(g_null, &byte, 1) != 1)
			die("write /dev/null: %s", strerror(errno));
	}
	g_totals[id] = *counter;
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t th[NTHREADS];
	char semname[64];

	if (argc < 2 || argv[1][0] != '/')
		die("usage: tp_semfile DIR (absolute) [ROUNDS [sem|keep|noexcl]]");
	g_dir = argv[1];
	if (argc > 2)
		g_rounds = atol(argv[2]);
	if (argc > 3)
		g_mode = argv[3];
	g_null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (g_null < 0)
		die("open /dev/null: %s", strerror(errno));
	snprintf(semname, sizeof(semname), "/tp_semfile-%d", (int)getpid());
	g_sem = sem_open(semname, O_CREAT | O_EXCL, 0600, 0);
	if (g_sem == SEM_FAILED)
		die("sem_open %s: %s", semname, strerror(errno));
	if (sem_unlink(semname) != 0)
		die("sem_unlink %s: %s", semname, strerror(errno));
	if (pthread_barrier_init(&g_named, NULL, NTHREADS + 1) != 0)
		die("pthread_barrier_init failed");
	for (long i = 0; i < NTHREADS; i++)
		if (pthread_create(&th[i], NULL, thread_main, (void *)(intptr_t)i) != 0)
			die("pthread_create failed");
	/* another thread's name: glibc writes /proc/self/task/TID/comm (its
	 * own, prctl(2)), a file that dies with the process; memcached names
	 * its threads so */
	for (long i = 0; i < NTHREADS; i++) {
		char name[16];
		int e;

		snprintf(name, sizeof(name), "semfile-%ld", i);
		if ((e = pthread_setname_np(th[i], name)) != 0)
			die("pthread_setname_np: %s", strerror(e));
	}
	pthread_barrier_wait(&g_named);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	say("tp_semfile: %d threads, %ld rounds each, counters %" PRIu64 " %" PRIu64 " (%s)\n",
	    NTHREADS, g_rounds, g_totals[0], g_totals[1], g_mode);
	return 0;
}
