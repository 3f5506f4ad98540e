/* SPDX-License-Identifier: MIT */
/*
 * The seccomp-bpf filter every tracee runs under, in record and in replay
 * alike, so both see the same syscall outcomes (seccomp(2)).
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/syscall.h>

#include "preload/uprr-preload.h"
#include "recorder/recorder.h"

#define MAX_FILTER 128

const struct sock_fprog *
rec_seccomp_filter(void)
{
	static struct sock_filter insns[MAX_FILTER];
	static struct sock_fprog prog;
	unsigned n = 0;

	if (prog.len)
		return &prog;
#define EMIT(code, k, jt, jf) (insns[n++] = (struct sock_filter)BPF_JUMP(code, k, jt, jf))
	EMIT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch), 0, 0);
	/* A foreign ABI (int 0x80 from 64-bit code: i386 numbers and
	 * arguments) raises SIGSYS with si_arch, which the tracer sees and
	 * refuses by name: its seccomp stop would look like an x86-64 syscall. */
	EMIT(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	EMIT(BPF_RET | BPF_K, SECCOMP_RET_TRAP | REC_SECCOMP_TRACE_DATA, 0, 0);
	/* The syscall buffer's untraced instruction (doc/syscall-buffer.md):
	 * the kernel reports the rip after it, both halves must match */
	EMIT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer), 0, 0);
	EMIT(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)UPRR_PRELOAD_UNTRACED_IP, 0, 3);
	EMIT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer) + 4, 0, 0);
	EMIT(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(UPRR_PRELOAD_UNTRACED_IP >> 32), 0, 1);
	EMIT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
	EMIT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr), 0, 0);
	/* glibc 2.36 falls back to clone(2) and runs without rseq when these fail */
	EMIT(BPF_JMP | BPF_JEQ | BPF_K, __NR_rseq, 0, 1);
	EMIT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS, 0, 0);
	EMIT(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1);
	EMIT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS, 0, 0);
	/* The syscalls the model marks REC_SC_UNTRACED (rt_sigreturn,
	 * arch_prctl, set_robust_list) stop too: a recorded tracer that asked
	 * for syscall stops sees them, as natively; for the others the
	 * recorder and replay let them go on unrecorded (rec_on_syscall_entry(),
	 * replay_resume_to_stop()). */
	EMIT(BPF_RET | BPF_K, SECCOMP_RET_TRACE | REC_SECCOMP_TRACE_DATA, 0, 0);
#undef EMIT
	prog.len = (unsigned short)n;
	prog.filter = insns;
	return &prog;
}
