/* SPDX-License-Identifier: MIT */
/*
 * Replay's syscalls: at a recorded entry the thread must make the same call
 * with the same arguments and bytes; at its exit the result and the memory
 * the kernel wrote are put in place, or the call is executed (mmap at the
 * recorded address, with the trace's copy of a file; clone, exec...), and
 * the output it showed is shown again.
 */
#define LOG_PREFIX "replay"
#include "replay/replay-private.h"
#include "replay/replay.h"
#include <asm/unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stddef.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include "common/log.h"
#include "preload/uprr-preload.h"
#include "recorder/recorder.h"
#include "replay/replay-private.h"
#include "sched/ticks-soft.h"
#include "sched/ticks.h"
#include "trace/trace.h"
#include "tracee/tracee.h"
#include "x86_64/arch.h"

int
replay_on_entry(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t)
{
	enum tracee_stop kind;
	int sig, r;

	r = replay_run_to_stop(rp, t, ev, &kind, &sig);
	if (r < 0)
		return r;
	if (kind != TRACEE_STOP_SECCOMP)
		return replay_diverge(rp, ev, "expected syscall %s, got %s at rip 0x%llx",
			       sc_name((long)ev->values[0]) ?: "?", replay_stop_name(kind, sig),
			       t->regs.rip);
	t->state = PT_AT_ENTRY;
	t->nr = t->regs.orig_rax;
	r = replay_syscallbuf_check(rp, ev, t);
	if (r < 0)
		return r;
	if (t->nr != ev->values[0])
		return replay_diverge(rp, ev, "expected syscall %s, got %s",
			       sc_name((long)ev->values[0]) ?: "?",
			       sc_name((long)t->nr) ?: "?");
	for (int i = 0; i < 6; i++) {
		t->args[i] = arch_syscall_arg(&t->regs, i);
		if (t->args[i] != ev->values[1 + i])
			return replay_diverge(rp, ev, "syscall %s argument %d is 0x%" PRIx64
				       ", recorded 0x%" PRIx64,
				       sc_name((long)t->nr), i, t->args[i], ev->values[1 + i]);
	}
	r = replay_check_regs(rp, ev, t);
	if (r < 0)
		return r;
	/* the bytes the program passes out must be the recorded ones */
	for (uint32_t i = 0; i < ev->nblobs; i++) {
		const struct trace_blob *b = &ev->blobs[i];

		if (replay_ensure_buf(rp, b->len) < 0)
			return -ENOMEM;
		if (tracee_read(t->tid, b->addr, rp->buf, b->len) < 0 ||
		    memcmp(rp->buf, b->data, b->len) != 0)
			return replay_diverge(rp, ev, "syscall %s writes out different bytes at 0x%" PRIx64,
				       sc_name((long)t->nr), b->addr);
	}
	/* its emulated tracer stops it here, as recorded */
	(void)rec_ptrace_syscall_stops(&rp->ptrace, t->rec_tid, true);
	return 0;
}

/* Load version @id of a file into its shared memfd @f: its size and its
 * bytes, as the recording's syscall or mmap found them. */
static int
load_shared_file(struct replayer *rp, const struct trace_event *ev, struct mapped_file *f,
		 uint32_t id)
{
	const char *copy;
	int r;

	if (trace_reader_file(rp->r, id, &copy, NULL) < 0)
		return replay_diverge(rp, ev, "file %u is missing from the trace", id);
	r = util_load_file(f->fd, copy);
	if (r < 0)
		return replay_diverge(rp, ev, "cannot load %s for a shared mapping: %s", copy,
				      strerror(-r));
	f->loaded = id;
	return 0;
}

/* The shared memfd of the file whose version @id is, NULL if none is made
 * yet; with @make, made (empty) when missing, or NULL with a divergence. */
static struct mapped_file *
shared_file(struct replayer *rp, const struct trace_event *ev, uint32_t id, bool make)
{
	uint32_t first;
	int fd;

	if (trace_reader_file_first(rp->r, id, &first) < 0)
		return make ? (replay_diverge(rp, ev, "file %u is missing from the trace", id), NULL) : NULL;
	for (size_t i = 0; i < rp->nfiles; i++)
		if (rp->files[i].id == first && rp->files[i].shared)
			return &rp->files[i];
	if (!make)
		return NULL;
	if (UTIL_GROW(rp->files, rp->files_cap, rp->nfiles + 1) < 0)
		return replay_diverge(rp, ev, "out of memory"), NULL;
	fd = memfd_create("uprr-shared-file", MFD_CLOEXEC);
	if (fd < 0)
		return replay_diverge(rp, ev, "cannot make a shared file: %s", strerror(errno)), NULL;
	rp->files[rp->nfiles] = (struct mapped_file){ first, true, fd, UINT32_MAX };
	return &rp->files[rp->nfiles++];
}

/* The fd of trace file @id for mappings of kind @shared, opened or made on
 * first use; a shared one holds version @id. -1 with a divergence reported
 * if it cannot be. */
static int
mapped_file_fd(struct replayer *rp, const struct trace_event *ev, uint32_t id, bool shared)
{
	struct mapped_file *f;
	const char *copy;
	int fd;

	if (shared) {
		f = shared_file(rp, ev, id, true);
		if (!f || (f->loaded != id && load_shared_file(rp, ev, f, id) < 0))
			return -1;
		return f->fd;
	}
	for (size_t i = 0; i < rp->nfiles; i++)
		if (rp->files[i].id == id && !rp->files[i].shared)
			return rp->files[i].fd;
	if (trace_reader_file(rp->r, id, &copy, NULL) < 0)
		return replay_diverge(rp, ev, "mmap refers to file %u, missing from the trace", id), -1;
	if (UTIL_GROW(rp->files, rp->files_cap, rp->nfiles + 1) < 0)
		return replay_diverge(rp, ev, "out of memory"), -1;
	fd = open(copy, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return replay_diverge(rp, ev, "cannot open %s: %s", copy, strerror(errno)), -1;
	rp->files[rp->nfiles++] = (struct mapped_file){ id, false, fd, id };
	return fd;
}

/* Scratch memory for @len bytes in @t's process: well below its stack
 * pointer (dead stack), or 0 if the stack has no room. */
uint64_t
replay_stack_scratch(const struct pthread_r *t, size_t len)
{
	return tracee_stack_scratch(t->tgid, t->regs.rsp, len);
}

/*
 * Open @path in @t, stopped at the entry of a syscall that is now skipped
 * (tracee_open_in(), with @then made next and its result in *@ret_then).
 * Returns the tracee's fd or -1 with a divergence reported.
 */
static int
open_in_tracee(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t,
	       const char *path, int flags, const struct tracee_call *then, int64_t *ret_then)
{
	int fd = tracee_open_in(t->tid, t->tgid, t->space->memfd, t->regs.rsp, path, flags, then, ret_then);

	if (fd == -ENOSPC)
		return replay_diverge(rp, ev, "no room on thread %d's stack to open a mapped file", t->tid), -1;
	if (fd == -ECANCELED)
		return replay_diverge(rp, ev, "cannot map a file in thread %d", t->tid), -1;
	if (fd < 0)
		return replay_diverge(rp, ev, "cannot open a mapped file in thread %d: %s", t->tid,
			       strerror(-fd)), -1;
	return fd;
}

/*
 * The recorded mmap that @t is stopped at the entry of, as it will run here:
 * at the recorded address; a file's mapping maps the trace's copy of the
 * file (private) or one memfd per file that every replayed process shares
 * (shared), which the process opens at its first mapping of the file and
 * keeps open, so replay needs no input file and copies nothing. Sets @regs;
 * the thread is put back on its syscall instruction when a file had to be
 * opened.
 */
static int
prepare_mmap(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t,
	     struct user_regs_struct *regs)
{
	uint64_t flags = t->args[3];
	struct user_regs_struct skip = t->regs;
	char path[64];
	bool shared;
	int file_fd, fd, status, sig;

	if ((int64_t)ev->values[1] < 0)
		return 0;
	regs->rdi = ev->values[1];
	/* same address, refusing to clobber a diverged layout */
	if (!(flags & MAP_FIXED))
		regs->r10 = flags | MAP_FIXED_NOREPLACE;
	if (ev->nvalues < 4 || ev->values[2] == 0) {
		/* anonymous, or /dev/zero, whose mappings are (the recorder
		 * keeps every other mapped file) */
		if (!(flags & MAP_ANONYMOUS)) {
			regs->r10 |= MAP_ANONYMOUS;
			regs->r8 = (uint64_t)-1;
		}
		return 0;
	}
	/* a private mapping of a file that changed while mapped (format 5:
	 * values[4]) maps the file's one changing copy, privately */
	shared = (flags & MAP_TYPE) != MAP_PRIVATE || (ev->nvalues >= 5 && ev->values[4]);
	file_fd = mapped_file_fd(rp, ev, (uint32_t)(ev->values[2] - 1), shared);
	if (file_fd < 0)
		return -1;
	regs->r10 &= ~(uint64_t)(MAP_DENYWRITE | MAP_EXECUTABLE);
	for (size_t i = 0; i < rp->ntfiles; i++)
		if (rp->tfiles[i].tgid == t->tgid && rp->tfiles[i].file_fd == file_fd) {
			regs->r8 = (uint64_t)rp->tfiles[i].fd;
			return 0;
		}
	if (UTIL_GROW(rp->tfiles, rp->tfiles_cap, rp->ntfiles + 1) < 0)
		return replay_diverge(rp, ev, "out of memory");
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", getpid(), file_fd);
	skip.orig_rax = (uint64_t)-1;
	if (tracee_set_regs(t->tid, &skip) < 0)
		return replay_diverge(rp, ev, "lost thread %d", t->tid);
	if (t->space->syscallbuf) {
		/* the mmap too is injected, right after the openat whose fd it
		 * maps: one stop instead of a second seccomp stop and an exit
		 * stop (issue 14: a stop each for every file a program maps).
		 * Only where no filter of the program's would have judged the
		 * call (the syscall buffer is off in a process with one). */
		struct tracee_call map = { .nr = __NR_mmap, .may_fail = true, .arg_from_prev = 5,
					   .args = { regs->rdi, regs->rsi, regs->rdx, regs->r10, 0,
						     regs->r9 } };
		int64_t got = 0;

		fd = open_in_tracee(rp, ev, t, path, shared ? O_RDWR : O_RDONLY, &map, &got);
		if (fd < 0)
			return -1;
		rp->tfiles[rp->ntfiles++] = (struct tracee_file){ t->tgid, file_fd, fd };
		/* as its exit stop leaves it: execute_syscall() takes it there */
		*regs = skip;
		regs->rax = (uint64_t)got;
		t->exec_done = true;
		rp->mmaps_injected++;
		return 0;
	}
	fd = open_in_tracee(rp, ev, t, path, shared ? O_RDWR : O_RDONLY, NULL, NULL);
	if (fd < 0)
		return -1;
	rp->tfiles[rp->ntfiles++] = (struct tracee_file){ t->tgid, file_fd, fd };
	regs->r8 = (uint64_t)fd;
	/* the injection left it after the syscall: issue it again, to its
	 * seccomp stop, where the caller finds it as before */
	arch_rewind_syscall(regs);
	if (tracee_set_regs(t->tid, regs) < 0)
		return replay_diverge(rp, ev, "lost thread %d", t->tid);
	tracee_resume(t->tid, PTRACE_CONT, 0);
	if (tracee_wait(t->tid, &status) < 0 || tracee_classify(status, &sig) != TRACEE_STOP_SECCOMP ||
	    tracee_get_regs(t->tid, regs) < 0)
		return replay_diverge(rp, ev, "the mmap of a file did not start again in thread %d", t->tid);
	return 0;
}

/*
 * The arguments of a syscall that acts on an object of the recording by its
 * id, as it runs here: shmat(2) attaches this replay's segment for the
 * recorded one at the recorded address (replay/sysv.c);
 * process_vm_writev(2) writes into the replayed process that the recorded
 * pid names (one into a process outside the recording, as its exit event
 * says, is emulated instead: its data passed out).
 */
static int
prepare_ids(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t,
	    struct user_regs_struct *regs)
{
	struct pthread_r *target;
	int id;

	if (t->nr == __NR_shmat && (int64_t)ev->values[1] < 0) {
		regs->rdi = (uint64_t)-1; /* failed there: fails here, on no segment */
	} else if (t->nr == __NR_shmat) {
		id = replay_shm_id(&rp->shm, (int)t->args[0], ev->nvalues >= 3 ? ev->values[2] : 0);
		if (id < 0)
			return replay_diverge(rp, ev, "cannot make a SysV segment for segment %d: %s",
				       (int)t->args[0], strerror(-id));
		regs->rdi = (uint64_t)id;
		regs->rsi = ev->values[1];
	} else if (t->nr == __NR_process_vm_writev) {
		target = replay_find_rec(rp, (pid_t)t->args[0]);
		if (!target)
			return replay_diverge(rp, ev, "process_vm_writev into %d, not a replayed process",
				       (int)t->args[0]);
		regs->rdi = (uint64_t)target->tid;
	}
	return 0;
}

/* Execute the syscall @t is stopped at (SC_REPLAY_EXEC). */
static int
execute_syscall(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t)
{
	struct user_regs_struct regs = t->regs;
	int64_t want = (int64_t)ev->values[1], got;
	int status, sig;

	if (t->nr == __NR_mmap) {
		if (prepare_mmap(rp, ev, t, &regs) < 0)
			return rp->error;
		if (tracee_set_regs(t->tid, &regs) < 0)
			return replay_diverge(rp, ev, "lost thread %d", t->tid);
	}
	if (t->nr == __NR_shmat || t->nr == __NR_process_vm_writev) {
		if (prepare_ids(rp, ev, t, &regs) < 0)
			return rp->error;
		if (tracee_set_regs(t->tid, &regs) < 0)
			return replay_diverge(rp, ev, "lost thread %d", t->tid);
	}
	if (t->nr == __NR_personality) {
		/* as the recorder gave it to the kernel */
		regs.rdi = sc_kernel_persona(regs.rdi);
		if (tracee_set_regs(t->tid, &regs) < 0)
			return replay_diverge(rp, ev, "lost thread %d", t->tid);
	}
	if (t->state != PT_IN_KERNEL && !t->exec_done)
		tracee_resume(t->tid, PTRACE_SYSCALL, 0);
	for (; !t->exec_done;) {
		enum tracee_stop kind;

		if (tracee_wait(t->tid, &status) < 0)
			return replay_diverge(rp, ev, "lost thread %d", t->tid);
		kind = tracee_classify(status, &sig);
		if (kind == TRACEE_STOP_SYSCALL_EXIT)
			break;
		if (kind == TRACEE_GONE)
			return replay_diverge(rp, ev, "the thread exited in syscall %s",
				       sc_name((long)t->nr));
		tracee_resume(t->tid, PTRACE_SYSCALL, 0);
	}
	t->exec_done = false;
	if (tracee_get_regs(t->tid, &t->regs) < 0)
		return replay_diverge(rp, ev, "lost thread %d", t->tid);
	got = (int64_t)t->regs.rax;
	switch (t->nr) {
	case __NR_mmap:
	case __NR_mremap:
	case __NR_brk:
		if (got != want)
			return replay_diverge(rp, ev, "%s returned 0x%" PRIx64 ", recorded 0x%" PRIx64,
				       sc_name((long)t->nr), (uint64_t)got, (uint64_t)want);
		break;
	case __NR_shmat:
	case __NR_shmdt:
	case __NR_process_vm_writev:
		/* one that failed there may fail otherwise here, on nothing */
		if (got != want && want >= 0)
			return replay_diverge(rp, ev, "%s returned 0x%" PRIx64 ", recorded 0x%" PRIx64,
				       sc_name((long)t->nr), (uint64_t)got, (uint64_t)want);
		break;
	case __NR_seccomp:
	case __NR_prctl:
		/* the program's filter or no_new_privs must take effect here too */
		if ((got < 0) != (want < 0))
			return replay_diverge(rp, ev, "%s returned %" PRId64 ", recorded %" PRId64,
				       sc_name((long)t->nr), got, want);
		break;
	default:
		break;
	}
	/* results that name this replay's own ids read as recorded; arguments
	 * we rewrote (mmap) read as the program left them */
	if (t->nr != __NR_rt_sigreturn)
		t->regs.rax = (uint64_t)want;
	/* a new image keeps its registers, and rt_sigreturn those of its frame */
	for (int i = 0; i < 6 && !sc_is_exec(t->nr) && t->nr != __NR_rt_sigreturn; i++)
		arch_set_syscall_arg(&t->regs, i, t->args[i]);
	if (tracee_set_regs(t->tid, &t->regs) < 0)
		return replay_diverge(rp, ev, "lost thread %d", t->tid);
	t->state = PT_HELD;
	return 0;
}

static int syscall_exit(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t);

int
replay_on_syscall_exit(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t)
{
	int64_t result = (int64_t)ev->values[1];
	int r = syscall_exit(rp, ev, t);

	if (r < 0)
		return r;
	/* a tracer's wait4 that reported a tracee's stop or end */
	if (t->nr == __NR_wait4 && result > 0)
		rec_ptrace_reported(&rp->ptrace, t->rec_tgid, (pid_t)result);
	/* the stops of its emulated tracer, as recorded */
	(void)rec_ptrace_after_syscall(&rp->ptrace, t->rec_tid, (long)t->nr, t->args, result);
	return 0;
}

static int
syscall_exit(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t)
{
	int64_t result = (int64_t)ev->values[1];
	uint64_t addr;

	if ((t->state != PT_AT_ENTRY && t->state != PT_IN_KERNEL) || t->nr != ev->values[0])
		return replay_diverge(rp, ev, "exit of syscall %s without its entry",
			       sc_name((long)ev->values[0]) ?: "?");
	replay_output_syscall(&rp->out, ev, t->tid, (long)t->nr, t->args, result);
	/* the first file mapped MAP_SHARED: writes left every syscall buffer */
	if (t->nr == __NR_mmap && ev->nvalues >= 6 && ev->values[5])
		for (size_t i = 0; i < rp->nthreads; i++)
			if (rp->threads[i].space->syscallbuf &&
			    rec_syscallbuf_set_flags(rp->threads[i].space->memfd, UPRR_CTL_NO_WRITES, true) < 0)
				return replay_diverge(rp, ev, "cannot take writes out of the syscall buffer");
	/* a filter of the program's: its syscall buffer was turned off here */
	if (t->space->syscallbuf && sc_installs_filter((long)t->nr, t->args, result)) {
		if (rec_syscallbuf_disable(t->space->memfd) < 0)
			return replay_diverge(rp, ev, "cannot turn the syscall buffer off");
		t->space->syscallbuf_off = true;
	}
	/* a clone or execve that failed in the recording (no thread start or
	 * exec event came) fails here without running: it might not fail */
	if ((sc_flags((long)t->nr, t->args) & SC_REPLAY_EXEC) &&
	    !(t->state == PT_AT_ENTRY && (sc_is_clone(t->nr) || sc_is_exec(t->nr))) &&
	    !(t->nr == __NR_process_vm_writev && (ev->nvalues < 3 || !ev->values[2]))) {
		return execute_syscall(rp, ev, t);
	}
	if (sc_emulate_outputs(t->space->memfd, ev->blobs, ev->nblobs, &addr) < 0)
		return replay_diverge(rp, ev, "cannot write syscall %s output at 0x%" PRIx64,
			       sc_name((long)t->nr), addr);
	if (sc_wait_mask((long)t->nr, t->args, result, replay_mem_read, &t->tid, &t->wait_mask) > 0)
		t->has_wait_mask = true;
	if (t->nr == __NR_ptrace && result >= 0 && replay_ptrace_exit(rp, ev, t) < 0)
		return rp->error;
	if (t->nr == __NR_ptrace)
		replay_syscallbuf_untraced(rp);
	if (ev->nvalues >= 4 && ev->values[3] && t->nr != __NR_mmap) {
		/* it wrote a file that processes map MAP_SHARED: they see it */
		struct mapped_file *f = shared_file(rp, ev, (uint32_t)(ev->values[3] - 1), false);

		if (f && load_shared_file(rp, ev, f, (uint32_t)(ev->values[3] - 1)) < 0)
			return rp->error;
	}
	if (ev->nvalues >= 6 && ev->values[4] && t->nr != __NR_mmap) {
		/* it wrote a recorded process's memory through /proc/PID/mem */
		struct pthread_r *target = replay_find_rec(rp, (pid_t)ev->values[4]);

		if (!target || replay_mem_write(t->tid, (long)t->nr, t->args, result,
						target->space->memfd, ev->values[5]) < 0)
			return replay_diverge(rp, ev, "cannot write process %" PRIu64 "'s memory at 0x%" PRIx64
				       " as /proc/%" PRIu64 "/mem was written", ev->values[4],
				       ev->values[5], ev->values[4]);
	}
	sc_emulate_result(&t->regs, result);
	if (tracee_set_regs(t->tid, &t->regs) < 0)
		return replay_diverge(rp, ev, "lost thread %d", t->tid);
	t->state = PT_HELD;
	return 0;
}

