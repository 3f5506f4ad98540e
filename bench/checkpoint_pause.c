/* SPDX-License-Identifier: MIT */
/*
 * The pause of a process copy (checkpoint/process.h) per 100 MB of resident
 * memory (issue 15's goal: <= 1 ms). Spawns itself as a traced child that
 * fills MB megabytes of anonymous memory (4 KiB pages, or transparent huge
 * pages with "thp"), starts THREADS - 1 threads blocked in a futex wait, and
 * stops on an int3; the other threads are stopped with PTRACE_INTERRUPT.
 * Then takes ROUNDS copies, each discarded after (checkpoint_copy_free(),
 * not part of the pause), and prints the best and the median pause, the time
 * spent reading the threads' state, the resident memory (VmRSS), and the
 * parts of the median copy (checkpoint_copy_times()).
 *
 *   checkpoint_pause MB [THREADS [ROUNDS [thp]]]
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint/process.h"
#include "common/util.h"
#include "tracee/tracee.h"

#define MAX_THREADS 64
#define MAX_ROUNDS 100

static int futex_word;

static void *
blocked(void *arg)
{
	(void)arg;
	for (;;)
		syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	return NULL;
}

/* The tracee: memory, threads, int3. */
static int
child(size_t mb, int threads, bool thp)
{
	size_t len = mb << 20;
	pthread_t th;
	uint8_t *p = NULL;

	if (len) {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return 2;
		if (thp)
			madvise(p, len, MADV_HUGEPAGE);
		for (size_t i = 0; i < len; i += 4096)
			p[i] = (uint8_t)(i >> 12 | 1);
	}
	for (int i = 1; i < threads; i++)
		if (pthread_create(&th, NULL, blocked, NULL) != 0)
			return 3;
	usleep(100000); /* let them block */
	__asm__ volatile("int3" : : : "memory");
	return p ? p[0] : 0;
}

static uint64_t
rss_kb(pid_t pid)
{
	char path[64], line[256];
	uint64_t kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %lu kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	char mbs[32], ths[32];
	char *cargv[] = { (char *)"/proc/self/exe", (char *)"--child", mbs, ths,
			  argc > 4 ? argv[4] : (char *)"4k", NULL };
	char *envp[] = { NULL };
	struct tracee_spawn_options o = { .path = "/proc/self/exe", .argv = cargv, .envp = envp, .cpu = -1 };
	pid_t pid, tids[MAX_THREADS];
	uint64_t pause[MAX_ROUNDS], get[MAX_ROUNDS], kb;
	struct checkpoint_copy_times times[MAX_ROUNDS], part = { 0 };
	int threads, rounds, exec_errno = 0, status, memfd;
	size_t mb;

	if (argc >= 5 && strcmp(argv[1], "--child") == 0)
		return child(strtoul(argv[2], NULL, 10), atoi(argv[3]), strcmp(argv[4], "thp") == 0);
	if (argc < 2) {
		fprintf(stderr, "usage: %s MB [THREADS [ROUNDS [thp]]]\n", argv[0]);
		return 2;
	}
	mb = strtoul(argv[1], NULL, 10);
	threads = argc > 2 ? atoi(argv[2]) : 4;
	rounds = argc > 3 ? atoi(argv[3]) : 10;
	if (threads < 1 || threads > MAX_THREADS || rounds < 1 || rounds > MAX_ROUNDS)
		return 2;
	snprintf(mbs, sizeof(mbs), "%zu", mb);
	snprintf(ths, sizeof(ths), "%d", threads);
	if (tracee_spawn(&o, TRACEE_PTRACE_OPTIONS, &pid, &exec_errno) < 0)
		return 1;
	memfd = tracee_open_mem(pid);
	/* to the int3, resuming the threads' first stops on the way */
	tracee_resume(pid, PTRACE_CONT, 0);
	for (int n = 1;;) {
		int sig = 0;
		pid_t w = waitpid(-1, &status, __WALL);

		if (w < 0 || tracee_classify(status, &sig) == TRACEE_GONE)
			return 1;
		if (w == pid && sig == SIGTRAP && tracee_classify(status, &sig) == TRACEE_STOP_SIGNAL)
			break;
		if (w != pid && tracee_classify(status, &sig) == TRACEE_STOP_GROUP && n < threads)
			tids[n++] = w;
		tracee_resume(w, PTRACE_CONT, 0);
	}
	tids[0] = pid;
	for (int i = 1; i < threads; i++)
		if (ptrace(PTRACE_INTERRUPT, tids[i], 0, 0) < 0 || tracee_wait(tids[i], &status) < 0)
			return 1;
	kb = rss_kb(pid);
	for (int r = 0; r < rounds; r++) {
		struct checkpoint_thread t;
		struct checkpoint_copy *c;
		uint64_t t0 = util_now_ns(), t1;

		for (int i = 0; i < threads; i++) {
			if (checkpoint_thread_get(tids[i], memfd, &t) < 0)
				return 1;
			checkpoint_thread_done(&t);
		}
		t1 = util_now_ns();
		get[r] = t1 - t0;
		if (checkpoint_copy_new(pid, memfd, tids, (size_t)threads, &c) < 0) {
			fprintf(stderr, "checkpoint_copy_new failed\n");
			return 1;
		}
		pause[r] = util_now_ns() - t1;
		checkpoint_copy_times(c, &times[r]);
		checkpoint_copy_free(c);
	}
	/* the parts of the copy of median pause */
	{
		uint64_t sorted[MAX_ROUNDS];

		memcpy(sorted, pause, sizeof(pause[0]) * (size_t)rounds);
		qsort(sorted, (size_t)rounds, sizeof(sorted[0]), cmp_u64);
		for (int r = 0; r < rounds; r++)
			if (pause[r] == sorted[rounds / 2])
				part = times[r];
	}
	qsort(pause, (size_t)rounds, sizeof(pause[0]), cmp_u64);
	qsort(get, (size_t)rounds, sizeof(get[0]), cmp_u64);
	printf("rss %6.1f MB  %s  threads %2d  pause best %7.3f ms  median %7.3f ms  "
	       "(thread state %6.3f ms)  median per 100 MB %6.3f ms\n",
	       (double)kb / 1024, argc > 4 ? argv[4] : "4k", threads, (double)pause[0] / 1e6,
	       (double)pause[rounds / 2] / 1e6, (double)get[rounds / 2] / 1e6,
	       kb ? (double)pause[rounds / 2] / 1e6 / ((double)kb / 1024 / 100) : 0.0);
	printf("    the median's parts: reading %.3f ms (queries %.3f), fork %.3f, clones %.3f, "
	       "setting state %.3f\n",
	       (double)part.read_ns / 1e6, (double)part.query_ns / 1e6, (double)part.fork_ns / 1e6,
	       (double)part.clone_ns / 1e6, (double)part.set_ns / 1e6);
	close(memfd);
	tracee_kill_all(pid);
	return 0;
}
