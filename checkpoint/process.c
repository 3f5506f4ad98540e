/* SPDX-License-Identifier: MIT */
/*
 * Whole-process copies of a multithreaded tracee (process.h): a fork injected
 * into one thread, the other threads recreated by injected clone(2)s in the
 * copy, then given the original threads' state.
 *
 * A respawn (respawn.c) is the same copy with the fork and the clones done
 * by clone3(2), given the ids.
 *
 * What fork(2) and clone(2) leave out, and so what is set here
 * (copy_process(), kernel/fork.c): a new task's robust list is NULL
 * (futex_init_task()), its clear-tid address is NULL without
 * CLONE_CHILD_CLEARTID, a thread made with CLONE_VM has no alternate signal
 * stack (sas_ss_reset()), and its registers, XSAVE state and signal mask are
 * those of the thread that called clone. A fork keeps the forking thread's
 * alternate signal stack.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint/process-private.h"
#include "checkpoint/process.h"
#include "common/log.h"
#include "tracee/tracee.h"
#include "x86_64/arch.h"

/* include/linux/errno.h: what an interrupted syscall returns when the kernel
 * is to restart it; never seen by user code. */
#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516

/* The syscall instruction (0f 05) and int 0x80 (cd 80) are 2 bytes: the
 * kernel restarts a syscall by moving rip back by 2. */
#define SYSCALL_INSN_LEN 2

/* Bytes of a thread's stack under its red zone (the x86-64 psABI's 128)
 * borrowed as scratch by the injected syscalls, and put back. */
#define RED_ZONE 128
#define SCRATCH_LEN 64
/* and by an injected clone3(2): its arguments and set_tid array */
#define CLONE3_SCRATCH 96

/* pthread_create()'s clone flags (glibc sysdeps/unix/sysv/linux/createthread.c),
 * without the tid-reporting ones: CLONE_CHILD_CLEARTID is added with the
 * original thread's address (clone_args()). */
#define THREAD_FLAGS                                                              \
	(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |       \
	 CLONE_SYSVSEM)

/* Where thread @regs may be given SCRATCH_LEN bytes: under its red zone. */
static uint64_t
scratch_addr(const struct user_regs_struct *regs)
{
	return (regs->rsp - RED_ZONE - SCRATCH_LEN) & ~(uint64_t)15;
}

static int
inject(pid_t tid, int memfd, long nr, uint64_t a0, uint64_t a1, uint64_t a2, int64_t *ret)
{
	uint64_t args[6] = { a0, a1, a2, 0, 0, 0 };

	return tracee_inject_syscall(tid, memfd, nr, args, ret);
}

/* Whether @rax is a result the kernel turns into a syscall restart. */
static bool
is_restart(uint64_t rax)
{
	int64_t v = (int64_t)rax;

	return v == -ERESTARTSYS || v == -ERESTARTNOINTR || v == -ERESTARTNOHAND ||
	       v == -ERESTART_RESTARTBLOCK;
}

/* As the kernel restarts a syscall: execute the syscall instruction again. */
static void
rewind_syscall(struct user_regs_struct *regs)
{
	regs->rip -= SYSCALL_INSN_LEN;
	regs->rax = regs->orig_rax;
	regs->orig_rax = (uint64_t)-1;
}

/* Whether @tid is at a syscall's entry: PTRACE_SYSCALL or seccomp stop. */
static int
at_syscall_entry(pid_t tid, bool *ret)
{
	struct __ptrace_syscall_info info;

	if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, (void *)sizeof(info), &info) < 0)
		return -errno;
	*ret = info.op == PTRACE_SYSCALL_INFO_ENTRY || info.op == PTRACE_SYSCALL_INFO_SECCOMP;
	return 0;
}

/* Read the clear-tid address and the alternate signal stack of @t->tid,
 * stopped where it may take injected syscalls, regs in @t->regs: the two
 * calls in one injection (one save and restore of the thread). */
static int
query_injected(struct checkpoint_thread *t, int memfd)
{
	uint8_t saved[SCRATCH_LEN];
	uint64_t at = scratch_addr(&t->regs);
	struct tracee_call calls[2] = {
		{ .nr = __NR_prctl, .args = { PR_GET_TID_ADDRESS, at } },
		{ .nr = __NR_sigaltstack, .args = { 0, at + 16 } },
	};
	int64_t res[2] = { 0, 0 };
	size_t done = 0;
	int r, r2;

	static_assert(16 + sizeof(stack_t) <= SCRATCH_LEN, "query scratch");
	r = tracee_read_mem(memfd, at, saved, sizeof(saved));
	if (r < 0)
		return r;
	/* the batch stops after a call that failed, its result stored */
	r = tracee_inject_syscalls(t->tid, memfd, calls, ARRAY_SIZE(calls), res, &done);
	if (r == 0 && done < ARRAY_SIZE(calls))
		r = log_debug_errno(done ? (int)res[done - 1] : -EPROTO, "%s in %d",
				    done == 1 ? "prctl(PR_GET_TID_ADDRESS)" : "sigaltstack", t->tid);
	if (r == 0 && res[1] < 0)
		r = log_debug_errno((int)res[1], "sigaltstack in %d", t->tid);
	if (r == 0)
		r = tracee_read_mem(memfd, at, &t->clear_tid, sizeof(t->clear_tid));
	if (r == 0)
		r = tracee_read_mem(memfd, at + 16, &t->altstack, sizeof(t->altstack));
	r2 = tracee_write(memfd, at, saved, sizeof(saved));
	return r < 0 ? r : r2;
}

/* The name of @t->tid (/proc/TID/comm, proc(5)), without its newline. */
static int
get_comm(struct checkpoint_thread *t)
{
	char path[64];
	_cleanup_close_ int fd = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/comm", t->tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, t->comm, sizeof(t->comm) - 1);
	if (n < 0)
		return -errno;
	t->comm[n] = 0;
	t->comm[strcspn(t->comm, "\n")] = 0;
	return 0;
}

/* The rseq(2) registration of @t->tid, none on a kernel without
 * PTRACE_GET_RSEQ_CONFIGURATION (EIO, before 5.13). */
static int
get_rseq(struct checkpoint_thread *t)
{
	struct __ptrace_rseq_configuration conf = { 0 };

	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, t->tid, (void *)sizeof(conf), &conf) < 0)
		return errno == EIO ? 0 : -errno;
	t->rseq_addr = conf.rseq_abi_pointer;
	t->rseq_len = conf.rseq_abi_size;
	t->rseq_sig = conf.signature;
	return 0;
}

/*
 * The CPU the copy's ptrace round trips run on. Each injected syscall,
 * fork and clone wakes a stopped thread and waits for its next stop; woken
 * on another CPU than ours, a thread waits for that CPU (an IPI, that CPU's
 * queue) and wakes us from there. Every thread involved (the originals,
 * then the copy's, which inherit the forking thread's affinity: clone(2))
 * and uprr itself are pinned to the CPU uprr runs on while the copy is
 * made, so that each round trip is a switch on one CPU; the originals get
 * their own affinity back after (the copy's threads get it in
 * apply_state()). Best effort: a CPU the tracee may not use (cpuset(7):
 * EINVAL) leaves it where it was.
 */
struct pin {
	bool on;	 /* we are pinned, ours to put back */
	cpu_set_t ours;	 /* our affinity before */
	cpu_set_t one;	 /* the CPU we run on */
};

static void
pin_self(struct pin *p)
{
	int cpu = sched_getcpu();

	p->on = false;
	if (cpu < 0 || sched_getaffinity(0, sizeof(p->ours), &p->ours) < 0)
		return;
	CPU_ZERO(&p->one);
	CPU_SET(cpu, &p->one);
	p->on = sched_setaffinity(0, sizeof(p->one), &p->one) == 0;
}

/* Pin original thread @tid where we are (its affinity already read). */
static void
pin_thread(const struct pin *p, pid_t tid)
{
	if (p->on)
		(void)sched_setaffinity(tid, sizeof(p->one), &p->one);
}

/* Give original thread @t its affinity back. */
static void
unpin_thread(const struct pin *p, const struct checkpoint_thread *t)
{
	/* ESRCH: the thread is gone, nothing to put back */
	if (p->on)
		(void)sched_setaffinity(t->tid, sizeof(t->affinity), &t->affinity);
}

/* Give the @n original threads of @states their affinity back, and us
 * ours. */
static void
unpin(struct pin *p, const struct checkpoint_thread *states, size_t n)
{
	if (!p->on)
		return;
	for (size_t i = 0; i < n; i++)
		unpin_thread(p, &states[i]);
	(void)sched_setaffinity(0, sizeof(p->ours), &p->ours);
	p->on = false;
}

/* checkpoint_thread_get(), adding the time its injected syscalls took to
 * *@query_ns; the thread pinned by @pin (NULL: not) from when its affinity
 * is read (put back on failure). */
static int
thread_get(pid_t tid, int memfd, const struct pin *pin, struct checkpoint_thread *ret, uint64_t *query_ns)
{
	struct checkpoint_thread t = { .tid = tid };
	const struct pin *pinned = NULL;
	size_t cap = arch_xstate_size();
	bool entry = false;
	long head = 0;
	size_t len = 0;
	uint64_t t0;
	int r;

	r = tracee_get_regs(tid, &t.regs);
	if (r < 0)
		return r;
	r = tracee_get_sigmask(tid, &t.sigmask);
	if (r < 0)
		return r;
	if (syscall(SYS_get_robust_list, tid, &head, &len) < 0)
		return -errno;
	t.robust_head = (uint64_t)head;
	t.robust_len = len;
	t.xstate = malloc(cap);
	if (!t.xstate)
		return -ENOMEM;
	r = tracee_get_xstate(tid, t.xstate, cap, &t.xstate_len);
	if (r < 0)
		goto fail;
	r = get_comm(&t);
	if (r < 0)
		goto fail;
	if (sched_getaffinity(tid, sizeof(t.affinity), &t.affinity) < 0) {
		r = -errno;
		goto fail;
	}
	if (pin)
		pin_thread(pin, tid);
	pinned = pin;
	r = get_rseq(&t);
	if (r < 0)
		goto fail;
	r = at_syscall_entry(tid, &entry);
	if (r < 0)
		goto fail;
	if (entry) {
		rewind_syscall(&t.regs);
		t.rewound = true;
		r = tracee_set_regs(tid, &t.regs);
		if (r < 0)
			goto fail;
	}
	t0 = util_now_ns();
	r = query_injected(&t, memfd);
	*query_ns += util_now_ns() - t0;
	if (r < 0)
		goto fail;
	*ret = t;
	return 0;
fail:
	if (pinned)
		unpin_thread(pinned, &t);
	free(t.xstate);
	return r;
}

int
checkpoint_thread_get(pid_t tid, int memfd, struct checkpoint_thread *ret)
{
	uint64_t query_ns = 0;

	return thread_get(tid, memfd, NULL, ret, &query_ns);
}

void
checkpoint_thread_done(struct checkpoint_thread *t)
{
	free(t->xstate);
	t->xstate = NULL;
}

/* Wait for the first stop of new traced task @tid: PTRACE_EVENT_STOP when
 * its tracer seized, SIGSTOP when it attached (ptrace(2), "Attaching and
 * detaching"). */
static int
wait_first_stop(pid_t tid)
{
	int status, r;

	r = tracee_wait(tid, &status);
	if (r < 0)
		return r;
	if (!WIFSTOPPED(status) ||
	    (status >> 16 != PTRACE_EVENT_STOP && WSTOPSIG(status) != SIGSTOP))
		return log_debug_errno(-EPROTO, "copy thread %d: status 0x%x", tid, status);
	/* its creator ran our injected clone with PTRACE_O_SUSPEND_SECCOMP
	 * (tracee_inject_syscalls()), which it inherited with the other
	 * options (ptrace_init_task(), include/linux/ptrace.h): a copy that
	 * runs would run unfiltered, its traced calls unseen */
	if (ptrace(PTRACE_SETOPTIONS, tid, 0, TRACEE_PTRACE_OPTIONS) < 0)
		return log_debug_errno(-errno, "copy thread %d: PTRACE_SETOPTIONS", tid);
	return 0;
}

/* Run syscall @nr(@args) in stopped thread @tid with args[@argi] pointing to
 * a copy of @len bytes of @data (at most SCRATCH_LEN) under its red zone. */
static int
inject_buf(pid_t tid, int memfd, long nr, uint64_t args[6], int argi, const void *data, size_t len)
{
	struct user_regs_struct regs;
	uint8_t saved[SCRATCH_LEN];
	int64_t res;
	uint64_t at;
	int r;

	assert(len <= SCRATCH_LEN);
	r = tracee_get_regs(tid, &regs);
	if (r < 0)
		return r;
	at = scratch_addr(&regs);
	r = tracee_read_mem(memfd, at, saved, sizeof(saved));
	if (r < 0)
		return r;
	args[argi] = at;
	r = tracee_write(memfd, at, data, len);
	if (r == 0)
		r = tracee_inject_syscall(tid, memfd, nr, args, &res);
	if (r == 0 && res < 0)
		r = log_debug_errno((int)res, "syscall %ld in copy thread %d", nr, tid);
	if (tracee_write(memfd, at, saved, sizeof(saved)) < 0 && r == 0)
		r = -EFAULT;
	return r;
}

/* Give stopped thread @tid the registers (an interrupted syscall rewound to
 * run again, as the kernel restarts it), XSAVE state and signal mask of @t. */
static int
set_cpu_state(pid_t tid, const struct checkpoint_thread *t)
{
	struct user_regs_struct regs = t->regs;
	int r;

	if ((int64_t)regs.orig_rax >= 0 && is_restart(regs.rax))
		rewind_syscall(&regs);
	regs.orig_rax = (uint64_t)-1;
	r = tracee_set_regs(tid, &regs);
	if (r < 0)
		return r;
	r = tracee_set_xstate(tid, t->xstate, t->xstate_len);
	if (r < 0)
		return r;
	return tracee_set_sigmask(tid, t->sigmask);
}

/* Give copy thread @tid (of the copy whose mem is @memfd) the state @t of
 * its original; @forked: the fork of the forking thread, which kept the
 * alternate signal stack. The syscalls go in one injection (one save and
 * restore of the thread), their buffers under its red zone. */
static int
apply_state(pid_t tid, int memfd, const struct checkpoint_thread *t, bool forked)
{
	/* where the buffers go in the scratch */
	enum { AT_STACK = 0, AT_COMM = 32 };
	static const char *const names[] = { "set_robust_list", "rseq", "sigaltstack", "prctl(PR_SET_NAME)" };
	struct tracee_call calls[ARRAY_SIZE(names)];
	const char *what[ARRAY_SIZE(names)];
	struct user_regs_struct regs;
	uint8_t saved[SCRATCH_LEN], buf[SCRATCH_LEN] = { 0 };
	int64_t res[ARRAY_SIZE(names)] = { 0 };
	size_t n = 0, done = 0;
	uint64_t at;
	int r, r2;

	static_assert(AT_STACK + sizeof(stack_t) <= AT_COMM && AT_COMM + sizeof(t->comm) <= SCRATCH_LEN,
		      "apply_state scratch");
	r = tracee_get_regs(tid, &regs);
	if (r < 0)
		return r;
	at = scratch_addr(&regs);
	if (t->robust_head) {
		what[n] = names[0];
		calls[n++] = (struct tracee_call){ .nr = __NR_set_robust_list,
						   .args = { t->robust_head, t->robust_len } };
	}
	/* the clear-tid address came with the fork or clone (clone_args()) */
	/* a fork keeps the rseq registration, a CLONE_VM clone has none
	 * (rseq_fork(), include/linux/rseq.h) */
	if (!forked && t->rseq_addr) {
		what[n] = names[1];
		calls[n++] = (struct tracee_call){ .nr = __NR_rseq,
						   .args = { t->rseq_addr, t->rseq_len, 0, t->rseq_sig } };
	}
	if (!forked && !(t->altstack.ss_flags & SS_DISABLE)) {
		stack_t ss = t->altstack;

		/* SS_ONSTACK is reported, not set: the thread's rsp says it */
		ss.ss_flags &= ~SS_ONSTACK;
		memcpy(buf + AT_STACK, &ss, sizeof(ss));
		what[n] = names[2];
		calls[n++] = (struct tracee_call){ .nr = __NR_sigaltstack, .args = { at + AT_STACK } };
	}
	if (!forked) {
		memcpy(buf + AT_COMM, t->comm, sizeof(t->comm));
		what[n] = names[3];
		calls[n++] = (struct tracee_call){ .nr = __NR_prctl, .args = { PR_SET_NAME, at + AT_COMM } };
	}
	if (n) {
		r = tracee_read_mem(memfd, at, saved, sizeof(saved));
		if (r < 0)
			return r;
		r = tracee_write(memfd, at, buf, sizeof(buf));
		/* the batch stops after a call that failed, its result stored */
		if (r == 0)
			r = tracee_inject_syscalls(tid, memfd, calls, n, res, &done);
		if (r == 0 && done && res[done - 1] < 0)
			r = log_debug_errno((int)res[done - 1], "%s in copy thread %d", what[done - 1], tid);
		else if (r == 0 && done < n)
			r = -EPROTO;
		r2 = tracee_write(memfd, at, saved, sizeof(saved));
		if (r < 0)
			return r;
		if (r2 < 0)
			return r2;
	}
	/* by us, no injection needed (sched_setaffinity(2) of another task) */
	if (sched_setaffinity(tid, sizeof(t->affinity), &t->affinity) < 0)
		return -errno;
	return set_cpu_state(tid, t);
}

/* Whether alternate signal stacks @x and @y are the same setting
 * (SS_ONSTACK is reported, not set). */
static bool
same_altstack(const stack_t *x, const stack_t *y)
{
	if ((x->ss_flags & SS_DISABLE) || (y->ss_flags & SS_DISABLE))
		return (x->ss_flags & SS_DISABLE) == (y->ss_flags & SS_DISABLE);
	return x->ss_sp == y->ss_sp && x->ss_size == y->ss_size &&
	       (x->ss_flags & ~SS_ONSTACK) == (y->ss_flags & ~SS_ONSTACK);
}

/* Set the rseq(2) registration of @tid from @now's to @want's. */
static int
set_rseq(pid_t tid, int memfd, const struct checkpoint_thread *now, const struct checkpoint_thread *want)
{
	int64_t res;
	int r;

	if (now->rseq_addr == want->rseq_addr && now->rseq_len == want->rseq_len &&
	    now->rseq_sig == want->rseq_sig)
		return 0;
	if (now->rseq_addr) {
		/* RSEQ_FLAG_UNREGISTER (include/uapi/linux/rseq.h): with the
		 * same area, length and signature as registered */
		uint64_t args[6] = { now->rseq_addr, now->rseq_len, 1, now->rseq_sig, 0, 0 };

		r = tracee_inject_syscall(tid, memfd, __NR_rseq, args, &res);
		if (r < 0)
			return r;
		if (res < 0)
			return log_debug_errno((int)res, "rseq unregister in %d", tid);
	}
	if (want->rseq_addr) {
		uint64_t args[6] = { want->rseq_addr, want->rseq_len, 0, want->rseq_sig, 0, 0 };

		r = tracee_inject_syscall(tid, memfd, __NR_rseq, args, &res);
		if (r < 0)
			return r;
		if (res < 0)
			return log_debug_errno((int)res, "rseq in %d", tid);
	}
	return 0;
}

int
checkpoint_thread_set(pid_t tid, int memfd, const struct checkpoint_thread *now,
		      const struct checkpoint_thread *want)
{
	int64_t res;
	int r;

	if (now->robust_head != want->robust_head || now->robust_len != want->robust_len) {
		r = inject(tid, memfd, __NR_set_robust_list, want->robust_head, want->robust_len, 0, &res);
		if (r < 0)
			return r;
		if (res < 0)
			return log_debug_errno((int)res, "set_robust_list in %d", tid);
	}
	if (now->clear_tid != want->clear_tid) {
		r = inject(tid, memfd, __NR_set_tid_address, want->clear_tid, 0, 0, &res);
		if (r < 0)
			return r;
	}
	r = set_rseq(tid, memfd, now, want);
	if (r < 0)
		return r;
	if (!same_altstack(&now->altstack, &want->altstack)) {
		stack_t ss = want->altstack;
		uint64_t args[6] = { 0 };

		ss.ss_flags &= ~SS_ONSTACK;
		if (ss.ss_flags & SS_DISABLE)
			ss = (stack_t){ .ss_flags = SS_DISABLE };
		r = inject_buf(tid, memfd, __NR_sigaltstack, args, 0, &ss, sizeof(ss));
		if (r < 0)
			return r;
	}
	if (strcmp(now->comm, want->comm) != 0) {
		uint64_t args[6] = { PR_SET_NAME, 0 };

		r = inject_buf(tid, memfd, __NR_prctl, args, 1, want->comm, sizeof(want->comm));
		if (r < 0)
			return r;
	}
	return set_cpu_state(tid, want);
}

/* clone3(2)'s arguments up to set_tid_size (include/uapi/linux/sched.h,
 * CLONE_ARGS_SIZE_VER1), followed here by the one-entry set_tid array. */
struct clone3_buf {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
	uint64_t set_tid, set_tid_size;
	pid_t id;
};

#define CLONE_ARGS_SIZE_VER1 80

/*
 * clone3(2) injected into stopped thread @tid: a child made with @flags
 * (exit signal 0: see fork_copy()) whose id in the caller's pid namespace
 * is @id (set_tid with set_tid_size 1: the innermost namespace only;
 * alloc_pid(), kernel/pid.c: -EEXIST if the id is in use, -EPERM unless the
 * caller, the tracee, has CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE over that
 * namespace). Its arguments go under the thread's red zone, put back after;
 * a fork's child has them too: the caller puts them back there (@ret_at,
 * @ret_saved).
 */
static int
inject_clone3(pid_t tid, int memfd, uint64_t flags, uint64_t clear_tid, pid_t id, int64_t *ret_child,
	      uint64_t *ret_at, uint8_t ret_saved[CLONE3_SCRATCH])
{
	struct user_regs_struct regs;
	struct clone3_buf b = {
		.flags = flags | (clear_tid ? CLONE_CHILD_CLEARTID : 0), .child_tid = clear_tid,
		.set_tid_size = 1, .id = id,
	};
	uint64_t args[6] = { 0, CLONE_ARGS_SIZE_VER1, 0, 0, 0, 0 };
	uint64_t at;
	int r;

	static_assert(offsetof(struct clone3_buf, id) == CLONE_ARGS_SIZE_VER1, "clone_args layout");
	static_assert(sizeof(b) <= CLONE3_SCRATCH, "clone3 scratch");
	r = tracee_get_regs(tid, &regs);
	if (r < 0)
		return r;
	at = (regs.rsp - RED_ZONE - CLONE3_SCRATCH) & ~(uint64_t)15;
	r = tracee_read_mem(memfd, at, ret_saved, CLONE3_SCRATCH);
	if (r < 0)
		return r;
	b.set_tid = at + offsetof(struct clone3_buf, id);
	args[0] = at;
	r = tracee_write(memfd, at, &b, sizeof(b));
	if (r == 0)
		r = tracee_inject_syscall(tid, memfd, __NR_clone3, args, ret_child);
	if (tracee_write(memfd, at, ret_saved, CLONE3_SCRATCH) < 0 && r == 0)
		r = -EFAULT;
	*ret_at = at;
	return r;
}

/* The clone(2) flags and arguments that also give the new task clear-tid
 * address @clear_tid (0: none), as CLONE_CHILD_CLEARTID with child_tid
 * does (copy_process(), kernel/fork.c: nothing is written there now, only
 * at its exit), so that apply_state() need not inject set_tid_address(2):
 * clone(flags, stack 0, parent_tid 0, child_tid, tls 0) on x86-64. */
static void
clone_args(uint64_t flags, uint64_t clear_tid, uint64_t args[6])
{
	args[0] = flags | (clear_tid ? CLONE_CHILD_CLEARTID : 0);
	args[1] = args[2] = args[4] = args[5] = 0;
	args[3] = clear_tid;
}

/* Fork the copy through the source's thread @tid, with clear-tid address
 * @clear_tid: clone(2), or with @id clone3(2) giving it that pid; stores
 * it in @c. With CLONE_PARENT, the
 * exit signal is not ours to choose: the child gets that of the caller's
 * group leader (copy_process(), kernel/fork.c; clone3(2) refuses one,
 * clone3_args_valid(), and clone(2)'s SIGCHLD is ignored): a copy exits as
 * its source does, a respawn as the source of its copy. */
static int
fork_copy(pid_t tid, int memfd, struct checkpoint_copy *c, uint64_t clear_tid, pid_t id, pid_t *ret_taken)
{
	uint8_t saved[CLONE3_SCRATCH];
	uint64_t at = 0, args[6];
	int64_t child;
	int r;

	clone_args(CLONE_PARENT | CLONE_PTRACE | SIGCHLD, clear_tid, args);
	if (id > 0)
		r = inject_clone3(tid, memfd, CLONE_PARENT | CLONE_PTRACE, clear_tid, id, &child, &at, saved);
	else
		r = tracee_inject_syscall(tid, memfd, __NR_clone, args, &child);
	if (r < 0)
		return r;
	if (child < 0) {
		if (child == -EEXIST && ret_taken)
			*ret_taken = id;
		return log_debug_errno((int)child, "clone in %d (id %d)", tid, id);
	}
	c->pid = (pid_t)child;
	c->tids[0] = c->pid;
	c->n = 1;
	c->pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
	r = wait_first_stop(c->pid);
	if (r < 0)
		return r;
	if (c->pidfd < 0)
		return -errno;
	c->memfd = tracee_open_mem(c->pid);
	if (c->memfd < 0)
		return c->memfd;
	/* the child has the clone3 arguments where its parent had them */
	return id > 0 ? tracee_write(c->memfd, at, saved, CLONE3_SCRATCH) : 0;
}

/* The next thread of copy @c, with clear-tid address @clear_tid: clone(2),
 * or with @id clone3(2) giving it that tid. */
static int
clone_thread(struct checkpoint_copy *c, uint64_t clear_tid, pid_t id, pid_t *ret_taken)
{
	uint8_t saved[CLONE3_SCRATCH];
	uint64_t at, args[6];
	int64_t tid;
	int r;

	clone_args(THREAD_FLAGS | CLONE_PTRACE, clear_tid, args);
	if (id > 0)
		r = inject_clone3(c->pid, c->memfd, THREAD_FLAGS | CLONE_PTRACE, clear_tid, id, &tid, &at, saved);
	else
		r = tracee_inject_syscall(c->pid, c->memfd, __NR_clone, args, &tid);
	if (r < 0)
		return r;
	if (tid < 0) {
		if (tid == -EEXIST && ret_taken)
			*ret_taken = id;
		return log_debug_errno((int)tid, "thread clone in copy %d (id %d)", c->pid, id);
	}
	c->tids[c->n++] = (pid_t)tid;
	return 0;
}

/* The number of threads of process @pid (/proc/PID/task), or -errno. */
static int
count_threads(pid_t pid)
{
	char path[64];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int
cp_process_copy(pid_t pid, int memfd, const pid_t *tids, size_t n, const pid_t *ids, pid_t *ret_taken,
		struct checkpoint_copy **ret)
{
	struct checkpoint_thread *states;
	struct checkpoint_copy *c;
	struct pin pin = { .on = false };
	uint8_t code[3];
	size_t got = 0;
	uint64_t t0, t1;
	int r;

	r = count_threads(pid);
	if (r < 0)
		return r;
	if (n == 0 || (size_t)r != n)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	states = calloc(n, sizeof(*states));
	if (c) {
		c->tids = calloc(n, sizeof(*c->tids));
		c->src_tids = calloc(n, sizeof(*c->src_tids));
	}
	if (!c || !states || !c->tids || !c->src_tids) {
		free(states);
		if (c) {
			free(c->tids);
			free(c->src_tids);
		}
		free(c);
		return -ENOMEM;
	}
	c->pidfd = c->memfd = -1;
	c->src_pid = pid;
	memcpy(c->src_tids, tids, n * sizeof(*tids));
	t0 = util_now_ns();
	pin_self(&pin);
	for (; got < n; got++) {
		r = thread_get(tids[got], memfd, &pin, &states[got], &c->times.query_ns);
		if (r < 0)
			goto fail;
	}
	t1 = util_now_ns();
	c->times.read_ns = t1 - t0;
	/* the program's bytes where the fork copies the injected code */
	r = tracee_read_mem(memfd, states[0].regs.rip, code, sizeof(code));
	if (r < 0)
		goto fail;
	r = fork_copy(tids[0], memfd, c, states[0].clear_tid, ids ? ids[0] : 0, ret_taken);
	if (r < 0)
		goto fail;
	t0 = util_now_ns();
	c->times.fork_ns = t0 - t1;
	for (size_t i = 1; i < n; i++) {
		r = clone_thread(c, states[i].clear_tid, ids ? ids[i] : 0, ret_taken);
		if (r < 0)
			goto fail;
	}
	/* each new thread has to be scheduled to reach its first stop: wait
	 * for them together (one by one, each could wait for a CPU's tick) */
	for (size_t i = 1; i < n; i++) {
		r = wait_first_stop(c->tids[i]);
		if (r < 0)
			goto fail;
	}
	t1 = util_now_ns();
	c->times.clone_ns = t1 - t0;
	for (size_t i = 0; i < n; i++) {
		r = apply_state(c->tids[i], c->memfd, &states[i], i == 0);
		if (r < 0)
			goto fail;
	}
	r = tracee_write(c->memfd, states[0].regs.rip, code, sizeof(code));
	if (r < 0)
		goto fail;
	unpin(&pin, states, got);
	c->times.set_ns = util_now_ns() - t1;
	for (size_t i = 0; i < got; i++)
		checkpoint_thread_done(&states[i]);
	free(states);
	*ret = c;
	return 0;
fail:
	unpin(&pin, states, got);
	for (size_t i = 0; i < got; i++)
		checkpoint_thread_done(&states[i]);
	free(states);
	checkpoint_copy_free(c);
	return r;
}

int
checkpoint_copy_new(pid_t pid, int memfd, const pid_t *tids, size_t n, struct checkpoint_copy **ret)
{
	return cp_process_copy(pid, memfd, tids, n, NULL, NULL, ret);
}

pid_t
checkpoint_copy_pid(const struct checkpoint_copy *c)
{
	return c->pid;
}

const pid_t *
checkpoint_copy_tids(const struct checkpoint_copy *c, size_t *ret_n)
{
	*ret_n = c->n;
	return c->tids;
}

void
checkpoint_copy_times(const struct checkpoint_copy *c, struct checkpoint_copy_times *ret)
{
	*ret = c->times;
}

int
checkpoint_copy_mem(const struct checkpoint_copy *c)
{
	return c->memfd;
}

void
checkpoint_copy_resume(struct checkpoint_copy *c)
{
	c->resumed = true;
	for (size_t i = 0; i < c->n; i++)
		tracee_resume(c->tids[i], PTRACE_CONT, 0);
}

/* Free @c's handle (its pidfd, its arrays), its process left as it is. */
static void
forget(struct checkpoint_copy *c)
{
	if (c->pidfd >= 0)
		close(c->pidfd);
	free(c->tids);
	free(c->src_tids);
	free(c);
}

void
checkpoint_copy_free(struct checkpoint_copy *c)
{
	char path[64];
	DIR *d;

	if (!c)
		return;
	if (c->memfd >= 0)
		close(c->memfd);
	/* through the pidfd: the pid of a copy the caller reaped may be
	 * another process's by now (ESRCH then: nothing left to reap) */
	if (c->pidfd >= 0 && syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0) == 0) {
		/* every thread there is now, the program's own included: the
		 * leader is reported only after the others are reaped */
		snprintf(path, sizeof(path), "/proc/%d/task", c->pid);
		d = opendir(path);
		if (d) {
			struct dirent *e;

			while ((e = readdir(d)))
				if (atoi(e->d_name) > 0 && atoi(e->d_name) != c->pid)
					tracee_reap(atoi(e->d_name));
			closedir(d);
		}
		tracee_reap(c->pid);
	} else if (c->pidfd < 0 && c->pid > 0) {
		/* pidfd_open failed right after the fork: still ours */
		kill(c->pid, SIGKILL);
		tracee_reap(c->pid);
	}
	forget(c);
}

void
checkpoint_copy_release(struct checkpoint_copy *c)
{
	if (!c)
		return;
	if (c->memfd >= 0)
		close(c->memfd);
	forget(c);
}
