/* SPDX-License-Identifier: MIT */
/*
 * One thread reads /dev/zero in a loop, a syscall that may block but never
 * does here, until the main thread, which computes in user code, sets a flag.
 * A recorder that runs one thread at a time and never takes the CPU from a
 * thread at such a syscall leaves the main thread out forever.
 *
 * Prints the checksum of the computation and whether the reader made at
 * least one read (how many depends on the schedule), then "read_loop: ok".
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>

#include "progs.h"

#define STEPS 20000000

static atomic_int g_stop;
static int g_fd;

static void *
reader(void *arg)
{
	uint64_t n = 0;
	char buf[64];

	(void)arg;
	while (!atomic_load(&g_stop)) {
		if (read(g_fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			die("read_loop: read /dev/zero: %s", strerror(errno));
		n++;
	}
	return (void *)(uintptr_t)n;
}

int
main(void)
{
	uint64_t sum = 0;
	pthread_t th;
	void *reads;

	g_fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	if (g_fd < 0 || pthread_create(&th, NULL, reader, NULL) != 0)
		die("read_loop: cannot start: %s", strerror(errno));
	for (uint64_t i = 0; i < STEPS; i++)
		sum = sum * 6364136223846793005ull + i;
	atomic_store(&g_stop, 1);
	if (pthread_join(th, &reads) != 0)
		die("read_loop: cannot join the reader");
	say("checksum %016llx, reader %s\n", (unsigned long long)sum,
	    reads ? "read" : "never read");
	say("read_loop: ok\n");
	return 0;
}
