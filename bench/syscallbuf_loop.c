/* SPDX-License-Identifier: MIT */
/*
 * N getpid calls: through the syscall buffer's entry when uprr mapped it
 * (doc/syscall-buffer.md), else through syscall(2). bench/syscallbuf.sh
 * times it natively, recorded with and without the buffer, and replayed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload/uprr-preload.h"

typedef long (*sys_fn)(long, long, long, long, long, long, long);

int
main(int argc, char **argv)
{
	const volatile struct uprr_ctl *ctl = (const void *)UPRR_PRELOAD_CTL_ADDR;
	long n = argc > 1 ? atol(argv[1]) : 100000, sum = 0;
	sys_fn sys = NULL;

	if (msync((void *)UPRR_PRELOAD_CTL_ADDR, 4096, MS_ASYNC) == 0 && ctl->magic == UPRR_PRELOAD_MAGIC)
		sys = (sys_fn)(UPRR_PRELOAD_ADDR + UPRR_PRELOAD_ENTRY_SYSCALL);
	for (long i = 0; i < n; i++)
		sum += sys ? sys(__NR_getpid, 0, 0, 0, 0, 0, 0) : syscall(__NR_getpid);
	printf("%ld calls, %s\n", n, sys ? "buffered" : "syscall(2)");
	return sum == n * (long)getpid() ? 0 : 1;
}
