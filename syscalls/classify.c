/* SPDX-License-Identifier: MIT */
/*
 * What record and replay must know of a syscall beyond its row's outputs:
 * which calls create a thread or process or replace the program, which
 * install a seccomp filter or move children to another PID namespace, the
 * persona uprr gives personality(2), and which calls the in-process syscall
 * buffer takes. Each is a fact of the call alone (number, arguments,
 * result), the same in record and replay.
 */
#include <asm/unistd.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/personality.h>
#include <sys/prctl.h>

#include "preload/uprr-preload.h"
#include "syscalls/syscalls.h"

bool
sc_is_clone(long nr)
{
	return nr == __NR_clone || nr == __NR_fork || nr == __NR_vfork;
}

uint64_t
sc_clone_flags(long nr, const uint64_t args[6])
{
	switch (nr) {
	case __NR_clone:
		return args[0];
	case __NR_fork:
		return SIGCHLD;
	case __NR_vfork:
		return CLONE_VM | CLONE_VFORK | SIGCHLD;
	default:
		return 0;
	}
}

bool
sc_is_exec(long nr)
{
	return nr == __NR_execve || nr == __NR_execveat;
}

bool
sc_installs_filter(long nr, const uint64_t args[6], int64_t result)
{
	return result >= 0 && ((nr == __NR_seccomp && args[0] == SECCOMP_SET_MODE_FILTER) ||
			       (nr == __NR_prctl && args[0] == PR_SET_SECCOMP));
}

bool
sc_moves_children(long nr, const uint64_t args[6], int64_t result)
{
	if (result != 0)
		return false;
	if (nr == __NR_unshare)
		return args[0] & CLONE_NEWPID;
	if (nr == __NR_setns)
		return args[1] == 0 || (args[1] & CLONE_NEWPID);
	return false;
}

uint64_t
sc_kernel_persona(uint64_t persona)
{
	/* uprr keeps ASLR off for every tracee: the next exec's layout is
	 * then the same in replay (personality(2): the persona is inherited
	 * by children and kept across execve) */
	if ((uint32_t)persona == 0xffffffff)
		return persona;
	return (uint32_t)persona | ADDR_NO_RANDOMIZE;
}

bool
sc_buffered(long nr)
{
	return UPRR_BUFFERED(nr);
}
