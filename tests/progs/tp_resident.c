/* SPDX-License-Identifier: MIT */
/*
 * tp_resident MIB NTHREADS ROUNDS: MIB MiB of anonymous memory made
 * resident (every page written), then NTHREADS threads (2) each walk their
 * share of it ROUNDS (20) times, adding a xorshift to one 8-byte word per
 * 4 KiB page, with a pwrite64(2) to /dev/null after each walk. Memory that
 * is resident and keeps changing: what an epoch's checkpoint costs against
 * resident memory (`uprr record -v --mode=tp-log`, record-epoch.c).
 *
 * stdout: one line per thread with the sum of its share, the same in every
 * run (it depends on MIB, NTHREADS and ROUNDS only).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sys/mman.h>

#include "progs.h"

#define MAX_THREADS 16
#define PAGE 4096

static uint64_t *g_mem;
static size_t g_pages;
static long g_rounds = 20;
static int g_threads = 2, g_null = -1;
static uint64_t g_sum[MAX_THREADS];

static void *
thread_main(void *arg)
{
	int id = (int)(intptr_t)arg;
	size_t first = g_pages * (size_t)id / (size_t)g_threads;
	size_t last = g_pages * (size_t)(id + 1) / (size_t)g_threads;
	uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(id + 1), sum = 0;

	for (long r = 0; r < g_rounds; r++) {
		for (size_t p = first; p < last; p++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			g_mem[p * (PAGE / 8) + (size_t)r % (PAGE / 8)] += x;
		}
		if (pwrite(g_null, &x, sizeof(x), 0) != (ssize_t)sizeof(x))
			die("pwrite: %s", strerror(errno));
	}
	for (size_t p = first; p < last; p++)
		for (size_t w = 0; w < PAGE / 8; w++)
			sum += g_mem[p * (PAGE / 8) + w];
	g_sum[id] = sum;
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t th[MAX_THREADS];
	long mib = argc > 1 ? atol(argv[1]) : 10;

	if (argc > 2)
		g_threads = atoi(argv[2]);
	if (argc > 3)
		g_rounds = atol(argv[3]);
	if (mib < 1 || g_threads < 1 || g_threads > MAX_THREADS || g_rounds < 1)
		die("usage: tp_resident MIB NTHREADS ROUNDS");
	g_null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (g_null < 0)
		die("open /dev/null: %s", strerror(errno));
	g_pages = (size_t)mib * 256;
	g_mem = mmap(NULL, g_pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g_mem == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	memset(g_mem, 1, g_pages * PAGE);
	for (int i = 0; i < g_threads; i++)
		if (pthread_create(&th[i], NULL, thread_main, (void *)(intptr_t)i) != 0)
			die("pthread_create failed");
	for (int i = 0; i < g_threads; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < g_threads; i++)
		printf("thread %d: %016" PRIx64 "\n", i, g_sum[i]);
	return 0;
}
