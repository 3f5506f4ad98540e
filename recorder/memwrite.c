/* SPDX-License-Identifier: MIT */
/*
 * Writes to /proc/PID/mem (proc(5)): JITs and runtimes write code through
 * /proc/self/mem into pages they keep read-only and executable. Replay
 * emulates write(2) and friends, so the bytes would never land: the
 * recorder names the process and address such a write changed, and replay
 * (replay/memwrite.c) writes the same bytes there.
 */
#include <asm/unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recorder/record-private.h"

/* The file position of fd @fd of @tid after its syscall ("pos:" of
 * /proc/TID/fdinfo/FD, proc(5)). */
static bool
fd_pos(pid_t tid, int fd, uint64_t *ret_pos)
{
	int64_t pos;

	if (tracee_fdinfo(tid, fd, &pos, NULL) < 0)
		return false;
	*ret_pos = (uint64_t)pos;
	return true;
}

bool
rec_mem_write_target(pid_t tid, long nr, const uint64_t args[6], int64_t result,
		     uint64_t *ret_pid, uint64_t *ret_addr)
{
	char name[16];
	uint64_t addr, pos;
	pid_t pid;

	if (result <= 0)
		return false;
	switch (nr) {
	case __NR_write:
	case __NR_writev:
	case __NR_pwrite64:
	case __NR_pwritev:
	case __NR_pwritev2:
		break;
	default:
		return false;
	}
	/* an fd opened on /proc/self/mem reads as /proc/PID/mem; a debugger
	 * opens /proc/PID/task/TID/mem (gdb: linux_proc_mem_open()) */
	if (tracee_fd_proc_file(tid, (int)args[0], &pid, name) <= 0 || strcmp(name, "mem") != 0)
		return false;
	if (nr == __NR_write || nr == __NR_writev || (nr == __NR_pwritev2 && (int64_t)args[3] == -1)) {
		/* at the file position, which the write moved on */
		if (!fd_pos(tid, (int)args[0], &pos))
			return false;
		addr = pos - (uint64_t)result;
	} else {
		addr = args[3]; /* pwritev's pos_l holds all 64 bits on x86-64 */
	}
	*ret_pid = (uint64_t)pid;
	*ret_addr = addr;
	return true;
}
