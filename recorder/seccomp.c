/* SPDX-License-Identifier: MIT */
/*
 * The seccomp-bpf filter every tracee runs under, in record and in replay
 * alike, so both see the same syscall outcomes (seccomp(2)); and the stop
 * filter stacked on a process whose recorded tracer asks for syscall stops.
 */
#define LOG_PREFIX "seccomp"
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/user.h>

#include "common/log.h"
#include "preload/uprr-preload.h"
#include "recorder/recorder.h"
#include "syscalls/syscalls.h"
#include "tracee/tracee.h"

#define MAX_FILTER 160

#ifndef SECCOMP_FILTER_FLAG_TSYNC
#define SECCOMP_FILTER_FLAG_TSYNC (1UL << 0)
#endif

#define EMIT(code, k, jt, jf) (insns[n++] = (struct sock_filter)BPF_JUMP(code, k, jt, jf))

/* Build the base filter into @insns; @allow_untraced: the syscalls the model
 * marks SC_UNTRACED pass without a stop (format 9). Returns its length. */
static unsigned short
build_base(struct sock_filter *insns, bool allow_untraced)
{
	unsigned n = 0;

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
	/* but the clone3 the recorder makes of a clone for the log's id (a
	 * re-run's EP run, record-ep-live.c): its size REC_CLONE3_SIZE, which
	 * the recheck after its seccomp stop lets through (Linux 4.8) */
	EMIT(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 6);
	EMIT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1]), 0, 0);
	EMIT(BPF_JMP | BPF_JEQ | BPF_K, REC_CLONE3_SIZE, 0, 2);
	EMIT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1]) + 4, 0, 0);
	EMIT(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0);
	EMIT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS, 0, 0);
	EMIT(BPF_RET | BPF_K, SECCOMP_RET_TRACE | REC_SECCOMP_TRACE_DATA, 0, 0);
	/* rt_sigreturn, arch_prctl and set_robust_list go unrecorded: a stop
	 * would cost ~12 us per handled signal. A recorded tracer that wants
	 * their syscall stops gets them from the stop filter. */
	for (long nr = 0; allow_untraced && nr < 512 && n + 3 < MAX_FILTER; nr++) {
		uint64_t none[6] = { 0 };

		if (!(sc_flags(nr, none) & SC_UNTRACED))
			continue;
		EMIT(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 1);
		EMIT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
	}
	EMIT(BPF_RET | BPF_K, SECCOMP_RET_TRACE | REC_SECCOMP_TRACE_DATA, 0, 0);
	return (unsigned short)n;
}

const struct sock_fprog *
rec_seccomp_filter(void)
{
	static struct sock_filter insns[MAX_FILTER];
	static struct sock_fprog prog;

	if (!prog.len) {
		prog.len = build_base(insns, true);
		prog.filter = insns;
	}
	return &prog;
}

const struct sock_fprog *
rec_seccomp_filter_for(uint32_t format)
{
	static struct sock_filter insns[MAX_FILTER];
	static struct sock_fprog prog;

	if (format >= 9)
		return rec_seccomp_filter();
	if (!prog.len) {
		prog.len = build_base(insns, false);
		prog.filter = insns;
	}
	return &prog;
}

const struct sock_fprog *
rec_seccomp_stop_filter(void)
{
	static struct sock_filter insns[MAX_FILTER];
	static struct sock_fprog prog;
	unsigned n = 0;

	if (prog.len)
		return &prog;
	/* another ABI: the base filter's trap decides */
	EMIT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch), 0, 0);
	EMIT(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	EMIT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
	EMIT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr), 0, 0);
	for (long nr = 0; nr < 512 && n + 3 < MAX_FILTER; nr++) {
		uint64_t none[6] = { 0 };

		if (!(sc_flags(nr, none) & SC_UNTRACED))
			continue;
		EMIT(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 1);
		EMIT(BPF_RET | BPF_K, SECCOMP_RET_TRACE | REC_SECCOMP_TRACE_DATA, 0, 0);
	}
	/* ALLOW: the base filter's action stands (the strictest wins) */
	EMIT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
	prog.len = (unsigned short)n;
	prog.filter = insns;
	return &prog;
}

#undef EMIT

/* Run syscall @nr(@a0, @a1, @a2) in @tid; its raw result in *@ret. */
static int
inject3(pid_t tid, int memfd, long nr, uint64_t a0, uint64_t a1, uint64_t a2, int64_t *ret)
{
	uint64_t args[6] = { a0, a1, a2, 0, 0, 0 };

	return tracee_inject_syscall(tid, memfd, nr, args, ret);
}

/* Install the stop filter, whose program is at @prog in @tid's memory, as
 * @how says, and choose (@decide) what the kernel makes necessary. */
static int
install(pid_t tid, int memfd, uint64_t prog, bool decide, unsigned *how, int64_t *ret_result)
{
	int64_t res = 0;
	int r;

	if (*how & REC_STOP_FILTER_NNP) {
		r = inject3(tid, memfd, __NR_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, &res);
		if (r < 0 || res < 0)
			return r < 0 ? r : (int)res;
	}
	for (;;) {
		uint64_t flags = (*how & REC_STOP_FILTER_TSYNC) ? SECCOMP_FILTER_FLAG_TSYNC : 0;

		r = inject3(tid, memfd, __NR_seccomp, SECCOMP_SET_MODE_FILTER, flags, prog, &res);
		if (r < 0)
			return r;
		if (!decide)
			break;
		if (res == -EACCES && !(*how & REC_STOP_FILTER_NNP)) {
			/* neither CAP_SYS_ADMIN nor no_new_privs: set it, as
			 * tracee_spawn() does for uprr's own filter */
			*how |= REC_STOP_FILTER_NNP;
			r = inject3(tid, memfd, __NR_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, &res);
			if (r < 0 || res < 0)
				return r < 0 ? r : (int)res;
			continue;
		}
		if (res > 0 && (*how & REC_STOP_FILTER_TSYNC)) {
			/* thread res has filters this one lacks (the program
			 * stacked one on a single thread): this thread only */
			*how &= ~REC_STOP_FILTER_TSYNC;
			continue;
		}
		break;
	}
	*ret_result = res;
	return 0;
}

int
rec_seccomp_stack_stop_filter(pid_t tid, int memfd, bool decide, unsigned *how, int64_t *ret_result)
{
	const struct sock_fprog *f = rec_seccomp_stop_filter();
	size_t len = sizeof(struct sock_fprog) + f->len * sizeof(struct sock_filter);
	uint8_t saved[sizeof(struct sock_fprog) + MAX_FILTER * sizeof(struct sock_filter)];
	struct user_regs_struct regs;
	struct sock_fprog remote;
	uint64_t at;
	int r, r2;

	if (decide)
		*how = REC_STOP_FILTER_TSYNC;
	r = tracee_get_regs(tid, &regs);
	if (r < 0)
		return r;
	/* The program goes below the red zone of the thread's stack (x86-64
	 * psABI: 128 bytes below rsp are the function's own), where nothing
	 * of the program's lives; the bytes there are put back after. */
	at = (regs.rsp - 128 - len) & ~(uint64_t)15;
	r = tracee_read_mem(memfd, at, saved, len);
	if (r < 0)
		return r;
	memset(&remote, 0, sizeof(remote)); /* its padding too */
	remote.len = f->len;
	remote.filter = (struct sock_filter *)(uintptr_t)(at + sizeof(remote));
	r = tracee_write(memfd, at, &remote, sizeof(remote));
	if (r >= 0)
		r = tracee_write(memfd, at + sizeof(remote), f->filter, len - sizeof(remote));
	if (r >= 0)
		r = install(tid, memfd, at, decide, how, ret_result);
	r2 = tracee_write(memfd, at, saved, len);
	if (r >= 0 && r2 < 0)
		r = r2;
	if (r < 0)
		log_debug("thread %d: cannot stack the stop filter: %s", tid, strerror(-r));
	return r < 0 ? r : 0;
}
