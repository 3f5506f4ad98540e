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
	char path[64], target[64], tail[8];
	uint64_t addr, pos;
	ssize_t n;
	int pid, tid_in;

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
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", tid, (int)args[0]);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return false;
	target[n] = '\0';
	/* an fd opened on /proc/self/mem reads as /proc/PID/mem; a debugger
	 * opens /proc/PID/task/TID/mem (gdb: linux_proc_mem_open()) */
	if (sscanf(target, "/proc/%d/task/%d/%7s", &pid, &tid_in, tail) == 3)
		pid = tid_in;
	else if (sscanf(target, "/proc/%d/%7s", &pid, tail) != 2)
		return false;
	if (strcmp(tail, "mem") != 0)
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
