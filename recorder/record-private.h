/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "common/util.h"

/**
 * At the exec stop of @pid: hide the vDSO from the program by turning its
 * auxv entry AT_SYSINFO_EHDR into AT_IGNORE (glibc then makes real syscalls
 * for the time functions, which uprr records), and return the registers, the
 * end of the stack mapping and the address-space layout (malloc'd).
 * Returns 0 or -errno.
 */
int rec_exec_prepare(pid_t pid, int memfd, struct user_regs_struct *ret_regs,
		     uint64_t *ret_stack_end, char **ret_layout) _wur_;

/**
 * Whether the program that thread @tid, stopped at the entry of execve(2) or
 * execveat(2) (@nr, @args), is about to start would run with other
 * credentials than @tid: a set-user-ID or set-group-ID program owned by
 * another user or group, or (for a thread not running as root) one with file
 * capabilities (execve(2), capabilities(7)); not on a nosuid mount, not an
 * interpreted script. Returns 1 and its path and what it is in @why ("/bin/x,
 * a set-user-ID program (owner uid 0)"); 0 if not; -errno if
 * it cannot tell (the file is missing or unreadable: the exec will say).
 */
int rec_exec_privileged(pid_t tid, long nr, const uint64_t args[6], char *why, size_t len) _wur_;

/* ---- IPC, other processes' memory, perf (ipc.c) ---- */

/** What the recorder knows of SysV IPC objects: the shared memory segments
 * recorded processes made (shmget(2) by one of them created it). */
struct rec_ipc {
	int *shmids;
	size_t n, cap;
};

/** Stores up to @cap ids of the recorded processes (thread groups) in @buf;
 * returns how many. */
typedef size_t (*rec_tgids_fn)(void *ctx, pid_t *buf, size_t cap);

/**
 * Whether thread @tid may run syscall @nr with @args, at its entry, beyond
 * what the syscall model says: a SysV segment made outside the recording,
 * or attached by a process outside it (shm_nattch against the mappings of
 * the recorded processes, which @tgids lists, shmctl(2), proc(5)); mmap(2)
 * of a perf_event_open(2) ring buffer. Returns 0, or -EPERM with one line
 * naming it in @why.
 */
int rec_ipc_check_entry(const struct rec_ipc *ipc, pid_t tid, long nr, const uint64_t args[6],
			rec_tgids_fn tgids, void *ctx, char *why, size_t len) _wur_;

/**
 * Note syscall @nr's exit (@args, @result): shmget(2) of a segment a
 * recorded process made adds it to @ipc. Returns 1 with a value for the
 * exit event in *ret_value (shmat(2): the segment's size in bytes, which
 * replay's own segment takes; process_vm_writev(2): 1 if its target is a
 * recorded process, which replay writes into again), 0 with none, -ENOMEM.
 */
int rec_ipc_on_exit(struct rec_ipc *ipc, long nr, const uint64_t args[6], int64_t result,
		    uint64_t *ret_value) _wur_;

/** Free what @ipc holds (the struct itself is the caller's). */
void rec_ipc_free(struct rec_ipc *ipc);
