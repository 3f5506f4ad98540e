/* SPDX-License-Identifier: MIT */
/*
 * A syscall answered from a record instead of the kernel, the one mechanism
 * of replay (replay/syscalls.c) and of EP runs (recorder/record-ep.c): the
 * recorded memory written, the recorded result returned.
 */
#include <asm/unistd.h>
#include <errno.h>
#include <sys/user.h>

#include "syscalls/syscalls.h"
#include "trace/trace.h"
#include "tracee/tracee.h"
#include "x86_64/arch.h"

int
sc_emulate_outputs(int memfd, const struct trace_blob *blobs, uint32_t n, uint64_t *ret_addr)
{
	for (uint32_t i = 0; i < n; i++) {
		int r = tracee_write(memfd, blobs[i].addr, blobs[i].data, blobs[i].len);

		if (r < 0) {
			*ret_addr = blobs[i].addr;
			return r;
		}
	}
	return 0;
}

void
sc_emulate_result(struct user_regs_struct *regs, int64_t result)
{
	if (sc_result_restarts(result)) {
		/* interrupted: with no handler to run (a signal ptrace or the
		 * program ignored) the kernel issued it again; a handler's
		 * delivery puts the recorded registers back */
		arch_rewind_syscall(regs);
		if (result == -SC_ERESTART_RESTARTBLOCK)
			regs->rax = __NR_restart_syscall;
	} else {
		/* skip the syscall; it returns the result (seccomp(2)) */
		regs->orig_rax = (uint64_t)-1;
		regs->rax = (uint64_t)result;
	}
}

int
sc_emulate_own_mask(pid_t tid, int memfd, bool at_handler, uint64_t own_mask)
{
	struct user_regs_struct regs;
	int r;

	if (!at_handler)
		return tracee_set_sigmask(tid, own_mask);
	r = tracee_get_regs(tid, &regs);
	if (r < 0)
		return r;
	return tracee_write(memfd, regs.rsp + ARCH_SIGFRAME_MASK_OFFSET, &own_mask, sizeof(own_mask));
}
