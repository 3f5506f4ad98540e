/* SPDX-License-Identifier: MIT */
/*
 * Offline replay. The trace is a total order of events; replay runs, for each
 * event, exactly the thread that produced it up to that event, so every
 * thread's user code runs in the same order against the same memory as in
 * the recording. Syscalls are emulated from the trace (results and the
 * memory the kernel wrote), except those the model marks REC_SC_REPLAY_EXEC,
 * which are executed at the recorded addresses.
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
#include <sys/wait.h>

#include "common/log.h"
#include "recorder/recorder.h"
#include "replay/replay-private.h"
#include "sched/ticks-soft.h"
#include "sched/ticks.h"
#include "trace/trace.h"
#include "tracee/tracee.h"
#include "x86_64/arch.h"

int __attribute__((format(printf, 3, 4)))
replay_diverge(struct replayer *rp, const struct trace_event *ev, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("divergence at event %" PRIu64 " (thread %u): %s", rp->event_no, ev->tid, msg);
	rp->error = -EPROTO;
	rp->done = true;
	return -EPROTO;
}

struct pthread_r *
replay_find_rec(struct replayer *rp, pid_t rec_tid)
{
	for (size_t i = 0; i < rp->nthreads; i++)
		if (rp->threads[i].rec_tid == rec_tid)
			return &rp->threads[i];
	return NULL;
}

/* A new address space of replayed process @pid, a copy of @from's counting
 * state (fork) or none (exec). NULL when out of memory or @pid is gone. */
static struct rec_space *
space_new(pid_t pid, const struct rec_space *from)
{
	struct rec_space *sp = calloc(1, sizeof(*sp));

	/* counting code comes with TRACE_EV_PATCH, whatever the tick source */
	if (!sp || rec_space_open(sp, pid, from, true) < 0) {
		free(sp);
		return NULL;
	}
	return sp;
}

static void
space_leave(struct rec_space *sp)
{
	if (!sp || --sp->users > 0)
		return;
	rec_space_close(sp);
	free(sp);
}

static struct pthread_r *
add_thread(struct replayer *rp, pid_t rec_tid, pid_t tid, pid_t tgid, struct rec_space *sp)
{
	if (UTIL_GROW(rp->threads, rp->cap, rp->nthreads + 1) < 0)
		return NULL;
	rp->threads[rp->nthreads] =
		(struct pthread_r){ .rec_tid = rec_tid, .tid = tid, .tgid = tgid, .space = sp };
	return &rp->threads[rp->nthreads++];
}

/* Forget the files process @tgid had open for its mappings (it exec'd:
 * they were O_CLOEXEC; or it ended). */
static void
forget_tracee_files(struct replayer *rp, pid_t tgid)
{
	for (size_t i = 0; i < rp->ntfiles;)
		if (rp->tfiles[i].tgid == tgid)
			rp->tfiles[i] = rp->tfiles[--rp->ntfiles];
		else
			i++;
}

/* New process @child has the files its parent @parent had open (fork(2)
 * copies the fd table). Returns 0 or -ENOMEM. */
static int
inherit_tracee_files(struct replayer *rp, pid_t parent, pid_t child)
{
	size_t n = rp->ntfiles;

	for (size_t i = 0; i < n; i++) {
		if (rp->tfiles[i].tgid != parent)
			continue;
		if (UTIL_GROW(rp->tfiles, rp->tfiles_cap, rp->ntfiles + 1) < 0)
			return -ENOMEM;
		rp->tfiles[rp->ntfiles] = rp->tfiles[i];
		rp->tfiles[rp->ntfiles++].tgid = child;
	}
	return 0;
}

/* Forget thread @t; the last thread of a process releases its address space. */
static void
remove_thread(struct replayer *rp, struct pthread_r *t)
{
	struct rec_space *sp = t->space;
	pid_t tgid = t->tgid, rec_tgid = t->rec_tgid;
	struct rec_ptracee pt;

	rec_ptrace_forget(&rp->ptrace, t->rec_tid);
	*t = rp->threads[--rp->nthreads];
	for (size_t i = 0; i < rp->nthreads; i++)
		if (rp->threads[i].tgid == tgid)
			return;
	space_leave(sp);
	forget_tracee_files(rp, tgid);
	/* its tracees are detached (their next events resume them) */
	while (rec_ptrace_tracer_gone(&rp->ptrace, rec_tgid, &pt))
		;
}

const char *
replay_stop_name(enum tracee_stop kind, int sig)
{
	static char buf[64];

	switch (kind) {
	case TRACEE_GONE: return "the thread exited";
	case TRACEE_STOP_SECCOMP: return "a syscall";
	case TRACEE_STOP_SYSCALL_EXIT: return "a syscall exit";
	case TRACEE_STOP_CLONE: return "a clone";
	case TRACEE_STOP_EXEC: return "an execve";
	case TRACEE_STOP_EXIT: return "the thread exiting";
	case TRACEE_STOP_GROUP: return "a group stop";
	case TRACEE_STOP_SIGNAL:
		snprintf(buf, sizeof(buf), "signal %s", tracee_signal_name(sig));
		return buf;
	default: return "another ptrace stop";
	}
}

/*
 * Run thread @t to its next stop: the point of event @ev. Group stops are
 * passed over. Stores the stop's kind and signal.
 */
/* Whether signal @sig that stopped @tid is the kernel's news of a replayed
 * child (SIGCHLD with a CLD_* code): recorded signals are raised by replay
 * itself (SI_TKILL), so this one is dropped. */
bool
replay_noise(const struct replayer *rp, pid_t tid, int sig)
{
	siginfo_t si;

	/* one the kernel sent may stand for the one replay raises: the
	 * standard signal pending absorbs the second (signal(7)) */
	return sig == SIGCHLD && sig != rp->injecting && ptrace(PTRACE_GETSIGINFO, tid, 0, &si) == 0 &&
	       si.si_code > 0;
}

/* If @t, stopped with SIGTRAP, executed a trap site's int3 and its budget
 * has ticks left, count it, make its jump and resume it: true. */
static bool
count_trap(struct pthread_r *t)
{
	struct user_regs_struct regs;

	if (!ticks_soft_active(t->space->soft) || tracee_get_regs(t->tid, &regs) < 0 ||
	    ticks_soft_count_trap(t->space->soft, t->space->memfd, &regs) != PATCH_STOP_COUNTED ||
	    tracee_set_regs(t->tid, &regs) < 0)
		return false;
	tracee_resume(t->tid, PTRACE_CONT, 0);
	return true;
}

/* Resume @t (@how: PTRACE_CONT or PTRACE_SINGLESTEP) unless it runs, and wait
 * for its next stop other than a group stop (counting the ticks of trap
 * sites on the way). */
int
replay_resume_to_stop(struct replayer *rp, struct pthread_r *t, const struct trace_event *ev,
	       enum __ptrace_request how, enum tracee_stop *ret_kind, int *ret_sig)
{
	int status, sig = 0;
	enum tracee_stop kind;

	if (t->state != PT_RUNNING)
		tracee_resume(t->tid, how, 0);
	t->state = PT_RUNNING;
	for (;;) {
		if (tracee_wait(t->tid, &status) < 0)
			return replay_diverge(rp, ev, "lost thread %d", t->tid);
		kind = tracee_classify(status, &sig);
		if (kind == TRACEE_STOP_SIGNAL && sig == SIGTRAP && count_trap(t))
			continue;
		if (kind != TRACEE_STOP_GROUP && !(kind == TRACEE_STOP_SIGNAL && replay_noise(rp, t->tid, sig)))
			break;
		tracee_resume(t->tid, PTRACE_CONT, 0);
	}
	if (kind == TRACEE_GONE)
		return replay_diverge(rp, ev, "the thread exited early");
	if (tracee_get_regs(t->tid, &t->regs) < 0)
		return replay_diverge(rp, ev, "lost thread %d", t->tid);
	*ret_kind = kind;
	*ret_sig = sig;
	return 0;
}

int
replay_run_to_stop(struct replayer *rp, struct pthread_r *t, const struct trace_event *ev,
	    enum tracee_stop *ret_kind, int *ret_sig)
{
	return replay_resume_to_stop(rp, t, ev, PTRACE_CONT, ret_kind, ret_sig);
}

int
replay_check_regs(struct replayer *rp, const struct trace_event *ev, const struct pthread_r *t)
{
	struct user_regs_struct want;
	const char *reg;

	if (!ev->has_regs)
		return 0;
	memcpy(&want, ev->regs, sizeof(want));
	reg = arch_regs_differ(&want, &t->regs);
	if (reg)
		return replay_diverge(rp, ev, "register %s differs at rip 0x%llx (recorded rip 0x%llx)", reg,
			       t->regs.rip, want.rip);
	return 0;
}

static int
ensure_buf(struct replayer *rp, size_t len)
{
	return UTIL_GROW(rp->buf, rp->buf_cap, len);
}

static int
mem_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	return tracee_read(*(pid_t *)ctx, addr, buf, len);
}

/* ---- events ---- */

static bool
is_clone(uint64_t nr)
{
	return nr == __NR_clone || nr == __NR_fork || nr == __NR_vfork;
}

static bool
is_exec(uint64_t nr)
{
	return nr == __NR_execve || nr == __NR_execveat;
}

static int
on_entry(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t)
{
	enum tracee_stop kind;
	int sig, r;

	r = replay_run_to_stop(rp, t, ev, &kind, &sig);
	if (r < 0)
		return r;
	if (kind != TRACEE_STOP_SECCOMP)
		return replay_diverge(rp, ev, "expected syscall %s, got %s at rip 0x%llx",
			       rec_syscall_name((long)ev->values[0]) ?: "?", replay_stop_name(kind, sig),
			       t->regs.rip);
	t->state = PT_AT_ENTRY;
	t->nr = t->regs.orig_rax;
	if (t->nr != ev->values[0])
		return replay_diverge(rp, ev, "expected syscall %s, got %s",
			       rec_syscall_name((long)ev->values[0]) ?: "?",
			       rec_syscall_name((long)t->nr) ?: "?");
	for (int i = 0; i < 6; i++) {
		t->args[i] = arch_syscall_arg(&t->regs, i);
		if (t->args[i] != ev->values[1 + i])
			return replay_diverge(rp, ev, "syscall %s argument %d is 0x%" PRIx64
				       ", recorded 0x%" PRIx64,
				       rec_syscall_name((long)t->nr), i, t->args[i], ev->values[1 + i]);
	}
	r = replay_check_regs(rp, ev, t);
	if (r < 0)
		return r;
	/* the bytes the program passes out must be the recorded ones */
	for (uint32_t i = 0; i < ev->nblobs; i++) {
		const struct trace_blob *b = &ev->blobs[i];

		if (ensure_buf(rp, b->len) < 0)
			return -ENOMEM;
		if (tracee_read(t->tid, b->addr, rp->buf, b->len) < 0 ||
		    memcmp(rp->buf, b->data, b->len) != 0)
			return replay_diverge(rp, ev, "syscall %s writes out different bytes at 0x%" PRIx64,
				       rec_syscall_name((long)t->nr), b->addr);
	}
	return 0;
}

/* Load version @id of a file into its shared memfd @f: its size and its
 * bytes, as the recording's syscall or mmap found them. */
static int
load_shared_file(struct replayer *rp, const struct trace_event *ev, struct mapped_file *f,
		 uint32_t id)
{
	_cleanup_close_ int copy_fd = -1;
	const char *copy;
	off_t done = 0;
	struct stat st;
	ssize_t n = 1;

	if (trace_reader_file(rp->r, id, &copy, NULL) < 0)
		return replay_diverge(rp, ev, "file %u is missing from the trace", id);
	copy_fd = open(copy, O_RDONLY | O_CLOEXEC);
	if (copy_fd < 0 || fstat(copy_fd, &st) < 0 || ftruncate(f->fd, st.st_size) < 0)
		return replay_diverge(rp, ev, "cannot load %s for a shared mapping: %s", copy,
			       strerror(errno));
	/* The copy's data, and its holes as holes (a sparse file of gigabytes
	 * costs its data only). Never emptied first: truncating a file takes
	 * the pages private mappings copied past the new end away too
	 * (truncate_pagecache()); punching a hole leaves them. */
	while (done < st.st_size) {
		off_t data = lseek(copy_fd, done, SEEK_DATA), hole;

		if (data < 0 && errno == ENXIO)
			data = st.st_size; /* a hole to the end */
		else if (data < 0)
			data = done; /* no SEEK_DATA: all data */
		if (data > done && fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, done,
					     data - done) < 0)
			return replay_diverge(rp, ev, "cannot load %s for a shared mapping: %s", copy,
				       strerror(errno));
		if (data >= st.st_size)
			break;
		hole = lseek(copy_fd, data, SEEK_HOLE);
		if (hole < 0 || hole > st.st_size)
			hole = st.st_size;
		done = data;
		if (lseek(f->fd, data, SEEK_SET) < 0)
			return replay_diverge(rp, ev, "cannot load %s for a shared mapping", copy);
		while (done < hole && (n = sendfile(f->fd, copy_fd, &done, hole - done)) > 0)
			;
		if (n <= 0)
			return replay_diverge(rp, ev, "cannot load %s for a shared mapping", copy);
	}
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
static uint64_t
stack_scratch(const struct pthread_r *t, size_t len)
{
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	uint64_t sp = t->regs.rsp;
	size_t n;

	if (tracee_read_maps(t->tgid, &maps, &n) == 0)
		for (size_t i = 0; i < n; i++)
			if (maps[i].start <= sp && sp < maps[i].end && sp - maps[i].start > 4096 + len)
				return (sp - 2048 - len) & ~(uint64_t)15;
	return 0;
}

/*
 * Open @path in @t, stopped at the entry of a syscall that is now skipped,
 * with an injected openat(2) (flags O_CLOEXEC | @flags); the path goes to
 * dead stack, whose bytes are put back. Returns the tracee's fd or -1 with a
 * divergence reported.
 */
static int
open_in_tracee(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t,
	       const char *path, int flags)
{
	size_t len = strlen(path) + 1;
	uint64_t at = stack_scratch(t, len), args[6] = { (uint64_t)AT_FDCWD, at,
							 (uint64_t)(flags | O_CLOEXEC) };
	char saved[PATH_MAX];
	int64_t fd = -1;

	if (!at || len > sizeof(saved) || tracee_read(t->tid, at, saved, len) < 0 ||
	    tracee_write(t->space->memfd, at, path, len) < 0)
		return replay_diverge(rp, ev, "no room on thread %d's stack to open a mapped file", t->tid), -1;
	if (tracee_inject_syscall(t->tid, t->space->memfd, __NR_openat, args, &fd) < 0)
		fd = -EIO;
	if (tracee_write(t->space->memfd, at, saved, len) < 0 || fd < 0)
		return replay_diverge(rp, ev, "cannot open a mapped file in thread %d: %s", t->tid,
			       strerror((int)-fd)), -1;
	return (int)fd;
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
	fd = open_in_tracee(rp, ev, t, path, shared ? O_RDWR : O_RDONLY);
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

/* Execute the syscall @t is stopped at (REC_SC_REPLAY_EXEC). */
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
		regs.rdi = rec_sandbox_kernel_persona(regs.rdi);
		if (tracee_set_regs(t->tid, &regs) < 0)
			return replay_diverge(rp, ev, "lost thread %d", t->tid);
	}
	if (t->state != PT_IN_KERNEL)
		tracee_resume(t->tid, PTRACE_SYSCALL, 0);
	for (;;) {
		enum tracee_stop kind;

		if (tracee_wait(t->tid, &status) < 0)
			return replay_diverge(rp, ev, "lost thread %d", t->tid);
		kind = tracee_classify(status, &sig);
		if (kind == TRACEE_STOP_SYSCALL_EXIT)
			break;
		if (kind == TRACEE_GONE)
			return replay_diverge(rp, ev, "the thread exited in syscall %s",
				       rec_syscall_name((long)t->nr));
		tracee_resume(t->tid, PTRACE_SYSCALL, 0);
	}
	if (tracee_get_regs(t->tid, &t->regs) < 0)
		return replay_diverge(rp, ev, "lost thread %d", t->tid);
	got = (int64_t)t->regs.rax;
	switch (t->nr) {
	case __NR_mmap:
	case __NR_mremap:
	case __NR_brk:
		if (got != want)
			return replay_diverge(rp, ev, "%s returned 0x%" PRIx64 ", recorded 0x%" PRIx64,
				       rec_syscall_name((long)t->nr), (uint64_t)got, (uint64_t)want);
		break;
	case __NR_shmat:
	case __NR_shmdt:
	case __NR_process_vm_writev:
		/* one that failed there may fail otherwise here, on nothing */
		if (got != want && want >= 0)
			return replay_diverge(rp, ev, "%s returned 0x%" PRIx64 ", recorded 0x%" PRIx64,
				       rec_syscall_name((long)t->nr), (uint64_t)got, (uint64_t)want);
		break;
	case __NR_seccomp:
	case __NR_prctl:
		/* the program's filter or no_new_privs must take effect here too */
		if ((got < 0) != (want < 0))
			return replay_diverge(rp, ev, "%s returned %" PRId64 ", recorded %" PRId64,
				       rec_syscall_name((long)t->nr), got, want);
		break;
	default:
		break;
	}
	/* results that name this replay's own ids read as recorded; arguments
	 * we rewrote (mmap) read as the program left them */
	t->regs.rax = (uint64_t)want;
	for (int i = 0; i < 6 && !is_exec(t->nr); i++) /* a new image keeps its registers */
		arch_set_syscall_arg(&t->regs, i, t->args[i]);
	if (tracee_set_regs(t->tid, &t->regs) < 0)
		return replay_diverge(rp, ev, "lost thread %d", t->tid);
	t->state = PT_HELD;
	return 0;
}

static int
on_syscall_exit(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t)
{
	int64_t result = (int64_t)ev->values[1];

	if ((t->state != PT_AT_ENTRY && t->state != PT_IN_KERNEL) || t->nr != ev->values[0])
		return replay_diverge(rp, ev, "exit of syscall %s without its entry",
			       rec_syscall_name((long)ev->values[0]) ?: "?");
	replay_output_syscall(&rp->out, ev, t->tid, (long)t->nr, t->args, result);
	/* a clone or execve that failed in the recording (no thread start or
	 * exec event came) fails here without running: it might not fail */
	if ((rec_syscall_flags((long)t->nr, t->args) & REC_SC_REPLAY_EXEC) &&
	    !(t->state == PT_AT_ENTRY && (is_clone(t->nr) || is_exec(t->nr))) &&
	    !(t->nr == __NR_process_vm_writev && (ev->nvalues < 3 || !ev->values[2]))) {
		int r = execute_syscall(rp, ev, t);

		/* a traced execve stops after it, as recorded */
		if (r == 0 && is_exec(t->nr) && result == 0)
			(void)rec_ptrace_exec_stops(&rp->ptrace, t->rec_tid);
		return r;
	}
	for (uint32_t i = 0; i < ev->nblobs; i++) {
		const struct trace_blob *b = &ev->blobs[i];

		if (tracee_write(t->space->memfd, b->addr, b->data, b->len) < 0)
			return replay_diverge(rp, ev, "cannot write syscall %s output at 0x%" PRIx64,
				       rec_syscall_name((long)t->nr), b->addr);
	}
	if (rec_syscall_wait_mask((long)t->nr, t->args, result, mem_read, &t->tid, &t->wait_mask) > 0)
		t->has_wait_mask = true;
	if (t->nr == __NR_ptrace && result >= 0 && replay_ptrace_exit(rp, ev, t) < 0)
		return rp->error;
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
	if (rec_syscall_result_restarts(result)) {
		/* interrupted: with no handler to run (a signal ptrace or the
		 * program ignored) the kernel issued it again; a handler's
		 * delivery puts the recorded registers back */
		arch_rewind_syscall(&t->regs);
		if (result == -REC_ERESTART_RESTARTBLOCK)
			t->regs.rax = __NR_restart_syscall;
	} else {
		/* skip the syscall; it returns the recorded result (seccomp(2)) */
		t->regs.orig_rax = (uint64_t)-1;
		t->regs.rax = (uint64_t)result;
	}
	if (tracee_set_regs(t->tid, &t->regs) < 0)
		return replay_diverge(rp, ev, "lost thread %d", t->tid);
	t->state = PT_HELD;
	return 0;
}

static int wait_gone(pid_t tid, int *ret_status);

/* Threads of process @tgid are about to die: the kernel would mark the robust
 * mutexes they hold, as it did in the recording (replay/robust.c). */
static int
robust_exit_group(struct replayer *rp, const struct trace_event *ev, pid_t tgid)
{
	for (size_t i = 0; i < rp->nthreads; i++) {
		struct pthread_r *u = &rp->threads[i];

		if (u->tgid == tgid && u->state != PT_ZOMBIE &&
		    replay_robust_exit(u->tid, u->space->memfd, u->rec_tid) < 0)
			return replay_diverge(rp, ev, "cannot mark the robust mutexes of thread %d", u->tid);
	}
	return 0;
}

static int
on_thread_exit(struct replayer *rp, const struct trace_event *ev, struct pthread_r *t)
{
	enum tracee_stop kind;
	int status, sig;

	if (t->state == PT_HELD && ev->nvalues >= 2 && ev->values[1] &&
	    WIFSIGNALED((int)ev->values[0]) && WTERMSIG((int)ev->values[0]) == SIGSYS) {
		/* a seccomp filter of the program killed it at a syscall in its
		 * run of user code (SECCOMP_RET_KILL_THREAD, no signal stop): the
		 * same filter does it again; its end (CLONE_CHILD_CLEARTID) must
		 * come before the events that follow */
		if (replay_robust_exit(t->tid, t->space->memfd, t->rec_tid) < 0)
			return replay_diverge(rp, ev, "cannot mark the robust mutexes of thread %d", t->tid);
		tracee_resume(t->tid, PTRACE_CONT, 0);
		if (wait_gone(t->tid, &status) < 0)
			return replay_diverge(rp, ev, "lost thread %d", t->tid);
		remove_thread(rp, t);
		return 0;
	}
	if (t->state != PT_AT_ENTRY || t->nr != __NR_exit)
		return 0; /* dies in a group exit: reaped at the process exit */
	if (replay_robust_exit(t->tid, t->space->memfd, t->rec_tid) < 0)
		return replay_diverge(rp, ev, "cannot mark the robust mutexes of thread %d", t->tid);
	tracee_resume(t->tid, PTRACE_CONT, 0);
	for (;;) {
		if (tracee_wait(t->tid, &status) < 0)
			return replay_diverge(rp, ev, "lost thread %d", t->tid);
		kind = tracee_classify(status, &sig);
		if (kind == TRACEE_GONE)
			break;
		tracee_resume(t->tid, PTRACE_CONT, 0);
		if (kind == TRACEE_STOP_EXIT && t->tid == t->tgid) {
			/* a leader before its other threads: reported gone only
			 * after them (ptrace(2)); its exit is done as a zombie */
			if (tracee_wait_zombie(t->tid, 5000000000ull) < 0)
				return replay_diverge(rp, ev, "the main thread of process %d did not exit",
					       t->tgid);
			t->state = PT_ZOMBIE;
			return 0;
		}
	}
	remove_thread(rp, t);
	return 0;
}

/* Wait until thread @tid is gone, letting it die: syscalls it still reaches
 * are skipped, never executed. Stores its wait status. */
static int
wait_gone(pid_t tid, int *ret_status)
{
	struct user_regs_struct regs;
	int status, sig;

	for (;;) {
		if (tracee_wait(tid, &status) < 0)
			return -ESRCH;
		switch (tracee_classify(status, &sig)) {
		case TRACEE_GONE:
			*ret_status = status;
			return 0;
		case TRACEE_STOP_SECCOMP:
			if (tracee_get_regs(tid, &regs) == 0) {
				regs.orig_rax = (uint64_t)-1;
				if (tracee_set_regs(tid, &regs) < 0)
					log_debug("cannot skip a syscall of %d", tid);
			}
			break;
		default:
			break;
		}
		tracee_resume(tid, PTRACE_CONT, 0);
	}
}

/*
 * Reap and forget the threads of process @tgid but the one recorded as
 * @keep; the one that has the leader's id (its death comes last, or never
 * after an exec by another thread, see ptrace(2)) is forgotten unwaited.
 * Returns 0, or -ESRCH if one vanished unreported.
 */
static int
reap_group_but(struct replayer *rp, pid_t tgid, pid_t keep)
{
	int status;

	for (size_t i = 0; i < rp->nthreads;) {
		struct pthread_r *u = &rp->threads[i];

		if (u->tgid != tgid || u->rec_tid == keep) {
			i++;
			continue;
		}
		if (u->tid != tgid && wait_gone(u->tid, &status) < 0)
			return -ESRCH;
		remove_thread(rp, u);
	}
	return 0;
}

/*
 * A process ends: let the thread that exits (exit_group, or the last exit)
 * run; a fatal signal is already on its way. Threads held at a syscall stay
 * held: the group exit's SIGKILL wakes them and the kernel skips their
 * syscall (seccomp, kernel 5.x: fatal_signal_pending). Its threads are
 * reaped one by one, the leader last (its status comes once all are gone);
 * other processes, which may be stopped or in a syscall, are not touched.
 */
static int
on_process_exit(struct replayer *rp, const struct trace_event *ev)
{
	int want = (int)ev->values[0], status = 0;
	struct pthread_r *leader = replay_find_rec(rp, (pid_t)ev->tid);
	unsigned moving = 0;
	pid_t tgid;
	bool same;

	if (!leader)
		return replay_diverge(rp, ev, "the end of unknown process %u", ev->tid);
	tgid = leader->tgid;
	if (robust_exit_group(rp, ev, tgid) < 0)
		return rp->error;
	for (size_t i = 0; i < rp->nthreads; i++) {
		struct pthread_r *t = &rp->threads[i];

		if (t->tgid != tgid)
			continue;
		if (t->state == PT_AT_ENTRY && (t->nr == __NR_exit_group || t->nr == __NR_exit)) {
			tracee_resume(t->tid, PTRACE_CONT, 0);
			t->state = PT_RUNNING;
		}
		moving += t->state == PT_RUNNING || t->state == PT_ZOMBIE;
	}
	if (!moving && WIFSIGNALED(want) && WTERMSIG(want) == SIGSYS) {
		/* a seccomp filter of the program killed it at a syscall
		 * (SECCOMP_RET_KILL_*: SIGSYS with no delivery stop, SA_IMMUTABLE,
		 * force_sig_seccomp(), kernel/signal.c): the same filter does it
		 * again when its threads run on to that syscall */
		for (size_t i = 0; i < rp->nthreads; i++) {
			struct pthread_r *t = &rp->threads[i];

			if (t->tgid == tgid && t->state == PT_HELD) {
				tracee_resume(t->tid, PTRACE_CONT, 0);
				t->state = PT_RUNNING;
				moving++;
			}
		}
	}
	if (!moving) {
		/* killed from outside (SIGKILL is never a delivery stop) */
		if (!WIFSIGNALED(want))
			return replay_diverge(rp, ev, "the process ended without an exit");
		kill(tgid, WTERMSIG(want));
	}
	if (reap_group_but(rp, tgid, (pid_t)ev->tid) < 0)
		return replay_diverge(rp, ev, "lost a thread of process %d", tgid);
	leader = replay_find_rec(rp, (pid_t)ev->tid);
	if (wait_gone(tgid, &status) < 0)
		return replay_diverge(rp, ev, "lost process %d", tgid);
	remove_thread(rp, leader);
	if (!rp->nthreads)
		rp->done = true;
	same = WIFEXITED(want) ? WIFEXITED(status) && WEXITSTATUS(status) == WEXITSTATUS(want)
			       : WIFSIGNALED(status) && WTERMSIG(status) == WTERMSIG(want);
	if (!same)
		return replay_diverge(rp, ev, "process %u ended with status 0x%x, recorded 0x%x", ev->tid,
			       status, want);
	if ((pid_t)ev->tid == rp->rec_leader)
		rp->status = want;
	return 0;
}

/*
 * A clone, fork or vfork created thread or process ev->tid: run the creator's
 * syscall, held at its entry, to its clone event and take the new one over
 * under its recorded id (ids the kernel wrote into memory read as recorded).
 * The creator's syscall exit has an event of its own: a vfork returns only
 * once its child execs or exits.
 */
static int
on_thread_start(struct replayer *rp, const struct trace_event *ev)
{
	uint64_t flags = ev->nvalues >= 2 ? ev->values[1] : CLONE_VM | CLONE_THREAD;
	struct pthread_r *t = replay_find_rec(rp, (pid_t)ev->values[0]), *child;
	uint32_t rec_tid = ev->tid, parent_view = rec_tid, own = rec_tid;
	struct user_regs_struct regs;
	unsigned long msg = 0;
	struct rec_space *sp;
	int status, sig;
	pid_t tid, tgid, ptid;

	if (!t || t->state != PT_AT_ENTRY || !is_clone(t->nr))
		return replay_diverge(rp, ev, "thread %u starts without a clone", ev->tid);
	ptid = t->tid;
	if (!(flags & CLONE_THREAD) && t->nr == __NR_clone) {
		/* no SIGCHLD when it ends: its parent's wait is replayed from the
		 * trace, and a signal the kernel sends would not be recorded
		 * (fork and vfork keep theirs: replay_noise drops it) */
		regs = t->regs;
		regs.rdi = flags & ~(uint64_t)CSIGNAL & ~REC_CLONE_NEW_MASK;
		if (tracee_set_regs(ptid, &regs) < 0)
			return replay_diverge(rp, ev, "lost thread %d", ptid);
	}
	tracee_resume(ptid, PTRACE_SYSCALL, 0);
	for (;;) {
		if (tracee_wait(ptid, &status) < 0)
			return replay_diverge(rp, ev, "lost thread %d", ptid);
		switch (tracee_classify(status, &sig)) {
		case TRACEE_STOP_CLONE:
			break;
		case TRACEE_STOP_GROUP:
			tracee_resume(ptid, PTRACE_SYSCALL, 0);
			continue;
		default:
			return replay_diverge(rp, ev, "the clone of thread %u did not create it", ev->tid);
		}
		break;
	}
	if (ptrace(PTRACE_GETEVENTMSG, ptid, 0, &msg) < 0)
		return replay_diverge(rp, ev, "lost thread %d", ptid);
	tid = (pid_t)msg;
	/* the new one reports PTRACE_EVENT_STOP before it runs any code */
	if (tracee_wait(tid, &status) < 0 || tracee_classify(status, &sig) != TRACEE_STOP_GROUP)
		return replay_diverge(rp, ev, "the new thread %u did not start", ev->tid);
	/* the child's registers are the creator's: give it back the flags */
	if (tracee_get_regs(tid, &regs) == 0) {
		regs.rdi = t->args[0];
		if (tracee_set_regs(tid, &regs) < 0)
			return replay_diverge(rp, ev, "lost thread %u", ev->tid);
	}
	t->state = PT_IN_KERNEL;
	tracee_resume(ptid, PTRACE_SYSCALL, 0);
	sp = t->space;
	tgid = t->tgid;
	if (!(flags & CLONE_THREAD)) {
		tgid = tid;
		if (flags & CLONE_VM)
			sp->users++;
		else if (!(sp = space_new(tid, t->space)))
			return replay_diverge(rp, ev, "cannot control the new process %u", ev->tid);
		if (inherit_tracee_files(rp, t->tgid, tid) < 0)
			return replay_diverge(rp, ev, "out of memory");
	}
	/* in a PID namespace below uprr's, the ids the namespaces gave it */
	if (ev->nvalues >= 4) {
		parent_view = (uint32_t)ev->values[2];
		own = (uint32_t)ev->values[3];
	}
	if (((flags & CLONE_PARENT_SETTID) &&
	     tracee_write(t->space->memfd, t->args[2], &parent_view, sizeof(parent_view)) < 0) ||
	    ((flags & CLONE_CHILD_SETTID) && tracee_write(sp->memfd, t->args[3], &own, sizeof(own)) < 0))
		return replay_diverge(rp, ev, "cannot write the new thread's id");
	{
		pid_t rec_tgid = t->rec_tgid, rec_parent = t->rec_parent;

		if (!(flags & CLONE_THREAD)) {
			rec_tgid = (pid_t)rec_tid;
			rec_parent = (flags & CLONE_PARENT) ? t->rec_parent : t->rec_tgid;
		}
		child = add_thread(rp, (pid_t)rec_tid, tid, tgid, sp);
		if (!child)
			return -ENOMEM;
		child->rec_tgid = rec_tgid;
		child->rec_parent = rec_parent;
	}
	child->state = PT_HELD;
	return 0;
}

/* Where the execve of @t may put a path of @len bytes: well below its stack
 * pointer (dead stack) when mapped, else over its own path argument; the
 * address space is replaced anyway. */
static uint64_t
exec_scratch(const struct pthread_r *t, size_t len)
{
	uint64_t at = stack_scratch(t, len);

	return at ? at : t->nr == __NR_execveat ? t->args[1] : t->args[0];
}

static int restore_image(struct replayer *rp, const struct trace_event *ev, pid_t pid,
			 struct rec_space *sp);

/*
 * Thread ev->tid's execve succeeded in the recording: execute it here, of the
 * trace's copy of the executable (argv and environment as the program passes
 * them), and give the new image the recorded stack and registers. As in the
 * kernel, the process's other threads die and the exec'ing thread takes over
 * the leader's id, in the recording (values[2]) and here.
 */
static int
on_exec(struct replayer *rp, const struct trace_event *ev)
{
	struct pthread_r *t = replay_find_rec(rp, (pid_t)ev->tid);
	pid_t rec_pid = ev->nvalues >= 3 ? (pid_t)ev->values[2] : (pid_t)ev->tid, tgid;
	struct user_regs_struct regs;
	struct rec_space *old;
	const char *exe;
	uint64_t path;
	int status, sig, r;

	if (!t || t->state != PT_AT_ENTRY || !is_exec(t->nr) || !ev->has_regs || ev->nblobs < 2)
		return replay_diverge(rp, ev, "an exec without an execve");
	if (trace_reader_file(rp->r, (uint32_t)ev->values[0], &exe, NULL) < 0)
		return replay_diverge(rp, ev, "the executable is missing from the trace");
	path = exec_scratch(t, strlen(exe) + 1);
	regs = t->regs;
	if (t->nr == __NR_execveat) {
		regs.orig_rax = __NR_execve;
		regs.rsi = t->args[2];
		regs.rdx = t->args[3];
	}
	regs.rdi = path;
	if (tracee_write(t->space->memfd, path, exe, strlen(exe) + 1) < 0 ||
	    tracee_set_regs(t->tid, &regs) < 0)
		return replay_diverge(rp, ev, "cannot prepare the execve of %s", exe);
	tgid = t->tgid;
	if (robust_exit_group(rp, ev, tgid) < 0)
		return rp->error;
	tracee_resume(t->tid, PTRACE_SYSCALL, 0);
	/* The kernel kills the other threads (de_thread(), fs/exec.c), and the
	 * execve waits until each has passed its PTRACE_EVENT_EXIT stop: let
	 * them go first (a thread held at a syscall it sleeps in, in the
	 * recording, is one). The old leader's id is the one the exec'ing
	 * thread takes: it reports nothing more. */
	if (reap_group_but(rp, tgid, (pid_t)ev->tid) < 0)
		return replay_diverge(rp, ev, "lost a thread of process %d", tgid);
	t = replay_find_rec(rp, (pid_t)ev->tid);
	for (;;) {
		/* the exec stop comes under the leader's id; the old leader may
		 * stop at its exit on the way (ptrace(2)) */
		if (waitpid(tgid, &status, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			return replay_diverge(rp, ev, "lost process %d", tgid);
		}
		r = tracee_classify(status, &sig);
		if (r == TRACEE_STOP_EXEC)
			break;
		if (r == TRACEE_STOP_SYSCALL_EXIT && tgid == t->tid)
			return replay_diverge(rp, ev, "the execve of %s failed here", exe);
		if (r == TRACEE_GONE)
			return replay_diverge(rp, ev, "process %d died in its execve", tgid);
		tracee_resume(tgid, PTRACE_CONT, 0);
	}
	t->tid = tgid;
	t->rec_tid = rec_pid;
	old = t->space;
	t->space = space_new(tgid, NULL);
	space_leave(old);
	forget_tracee_files(rp, tgid);
	if (!t->space)
		return replay_diverge(rp, ev, "cannot control process %d after its execve", tgid);
	r = restore_image(rp, ev, tgid, t->space);
	if (r < 0)
		return r;
	t->state = PT_IN_KERNEL;
	tracee_resume(tgid, PTRACE_SYSCALL, 0);
	return 0;
}

/* ---- start ---- */

/* Make the loader's code the recorded loader's, whatever the system's ld.so
 * is now: its read-only mappings get the trace's copy. Writable ones are left
 * alone: the kernel zeroed their tail past the file data (bss). */
static int
restore_interpreter(struct replayer *rp, const struct trace_event *ev, pid_t pid, int memfd)
{
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	_cleanup_close_ int fd = -1;
	const char *copy, *original;
	size_t n;

	if (ev->nvalues < 2 || ev->values[1] == 0)
		return 0;
	if (trace_reader_file(rp->r, (uint32_t)(ev->values[1] - 1), &copy, &original) < 0)
		return replay_diverge(rp, ev, "the ELF interpreter is missing from the trace");
	fd = open(copy, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || tracee_read_maps(pid, &maps, &n) < 0)
		return replay_diverge(rp, ev, "cannot read the ELF interpreter %s", copy);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(maps[i].path, original) != 0 || strchr(maps[i].perms, 'w'))
			continue;
		if (tracee_write_from_file(memfd, maps[i].start, fd, maps[i].offset,
					   maps[i].end - maps[i].start) < 0)
			return replay_diverge(rp, ev, "cannot restore the ELF interpreter");
	}
	return 0;
}

static int
start_tracee(struct replayer *rp, const struct trace_event *ev)
{
	const struct trace_header *hdr = trace_reader_header(rp->r);
	struct tracee_spawn_options sp = { 0 };
	struct rec_space *space;
	struct pthread_r *leader;
	const char *exe;
	pid_t pid;
	int r, exec_errno = 0, cpu;

	if (ev->type != TRACE_EV_EXEC || !ev->has_regs || ev->nblobs < 2)
		return replay_diverge(rp, ev, "the trace does not start with an exec");
	if (trace_reader_file(rp->r, (uint32_t)ev->values[0], &exe, NULL) < 0)
		return replay_diverge(rp, ev, "the executable is missing from the trace");
	cpu = tracee_pick_cpu();
	if (cpu >= 0 && tracee_pin_self(cpu) < 0)
		cpu = -1;
	sp.path = exe;
	sp.argv = hdr->argv;
	sp.envp = hdr->envp;
	sp.cwd = NULL;
	sp.cpu = cpu;
	sp.trap_tsc = true;
	sp.filter = rec_seccomp_filter();
	if (ev->nvalues >= 6) {
		/* the recording's, whatever uprr's own are here */
		sp.set_signals = true;
		sp.sigmask = ev->values[4];
		sp.sigign = ev->values[5];
	}
	r = tracee_spawn(&sp, TRACEE_PTRACE_OPTIONS, &pid, &exec_errno);
	if (r < 0) {
		log_error("cannot start the replay of %s: %s", exe,
			  strerror(r == -ENOEXEC ? exec_errno : -r));
		rp->error = r;
		rp->done = true;
		return r;
	}
	rp->leader = pid;
	rp->rec_leader = (pid_t)ev->tid;
	space = space_new(pid, NULL);
	leader = space ? add_thread(rp, (pid_t)ev->tid, pid, pid, space) : NULL;
	if (!leader)
		return replay_diverge(rp, ev, "cannot control the replayed process");
	leader->rec_tgid = (pid_t)ev->tid;
	r = restore_image(rp, ev, pid, space);
	if (r < 0)
		return r;
	rp->threads[0].state = PT_HELD;
	return 0;
}

/* The recorded initial image after an execve: the stack must end where it
 * did; the ELF interpreter's code, the stack contents and the registers
 * become the recorded ones. */
static int
restore_image(struct replayer *rp, const struct trace_event *ev, pid_t pid, struct rec_space *sp)
{
	_cleanup_free_ char *layout = NULL;
	struct user_regs_struct regs;
	uint64_t stack_end;
	int r;

	r = tracee_maps_layout(pid, &layout, &stack_end);
	if (r < 0)
		return replay_diverge(rp, ev, "cannot read the replayed process's layout");
	if (ev->blobs[0].addr + ev->blobs[0].len != stack_end)
		return replay_diverge(rp, ev, "the stack ends at 0x%" PRIx64 ", recorded 0x%" PRIx64,
			       stack_end, ev->blobs[0].addr + ev->blobs[0].len);
	r = restore_interpreter(rp, ev, pid, sp->memfd);
	if (r < 0)
		return r;
	if (ev->nvalues >= 4 && ev->values[3]) {
		char why[256];
		const char *copy;

		if (trace_reader_file(rp->r, (uint32_t)(ev->values[3] - 1), &copy, NULL) < 0)
			return replay_diverge(rp, ev, "the vDSO is missing from the trace");
		if (replay_vdso_restore(pid, sp->memfd, copy, &ev->blobs[0], why, sizeof(why)) < 0)
			return replay_diverge(rp, ev, "%s", why);
	}
	/* the recorded initial stack: argv, environment, auxv, AT_RANDOM bytes */
	if (tracee_write(sp->memfd, ev->blobs[0].addr, ev->blobs[0].data, ev->blobs[0].len) < 0)
		return replay_diverge(rp, ev, "cannot restore the initial stack");
	memcpy(&regs, ev->regs, sizeof(regs));
	if (tracee_set_regs(pid, &regs) < 0)
		return replay_diverge(rp, ev, "cannot set the initial registers");
	return 0;
}

/* The recording ended: the first process's exit ended the replay before,
 * unless the recording stopped (an unsupported call, an error): then this
 * trace ends early, and says why. */
static int
on_end(struct replayer *rp, const struct trace_event *ev)
{
	const struct trace_blob *why = ev->nblobs ? &ev->blobs[0] : NULL;
	char reason[401] = "(unknown)";

	if (ev->nvalues >= 1 && ev->values[0] == TRACE_END_COMPLETE) {
		rp->done = true;
		return 0;
	}
	if (why) {
		/* one line, whatever the trace holds */
		size_t n = MIN(why->len, sizeof(reason) - 1);

		memcpy(reason, why->data, n);
		reason[n] = '\0';
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)reason[i] < 0x20 || reason[i] == 0x7f)
				reason[i] = '?';
	}
	log_printf(LOG_LEVEL_ERROR, "", "trace ends early at event %" PRIu64 " (the recording "
		   "stopped: %s)", rp->event_no, reason);
	rp->error = -ENODATA;
	rp->done = true;
	return -ENODATA;
}

static int
replay_event(struct replayer *rp, const struct trace_event *ev)
{
	struct pthread_r *t;

	if (ev->type == TRACE_EV_EXEC)
		return rp->leader ? on_exec(rp, ev) : start_tracee(rp, ev);
	if (!rp->leader)
		return replay_diverge(rp, ev, "the trace does not start with an exec");
	if (ev->type == TRACE_EV_PROCESS_EXIT)
		return on_process_exit(rp, ev);
	if (ev->type == TRACE_EV_THREAD_START)
		return on_thread_start(rp, ev);
	if (ev->type == TRACE_EV_OUTPUT) {
		/* its syscall's exit comes next: the same place in the output */
		replay_output_event(&rp->out, ev);
		return 0;
	}
	if (ev->type == TRACE_EV_END)
		return on_end(rp, ev);
	t = replay_find_rec(rp, (pid_t)ev->tid);
	if (!t)
		return replay_diverge(rp, ev, "event for unknown thread %u", ev->tid);
	if (ev->type != TRACE_EV_SIGNAL) /* only the next event may be its delivery */
		t->has_wait_mask = false;
	if (t->held_wait && !(ev->type == TRACE_EV_SIGNAL && ev->values[1] == TRACE_SIGNAL_AT_EVENT)) {
		/* its tracer let it go without a signal and no other came: the
		 * kernel put its own mask back on the way to user mode */
		t->held_wait = false;
		if (tracee_set_sigmask(t->tid, t->held_own_mask) < 0)
			return replay_diverge(rp, ev, "lost thread %d", t->tid);
	}
	switch (ev->type) {
	case TRACE_EV_SYSCALL_ENTRY:
		return on_entry(rp, ev, t);
	case TRACE_EV_SYSCALL_EXIT:
		return on_syscall_exit(rp, ev, t);
	case TRACE_EV_SIGNAL:
		return replay_on_signal(rp, ev, t);
	case TRACE_EV_RDTSC:
		return replay_on_rdtsc(rp, ev, t);
	case TRACE_EV_THREAD_EXIT:
		return on_thread_exit(rp, ev, t);
	case TRACE_EV_PATCH:
		return replay_on_patch(rp, ev, t);
	case TRACE_EV_PREEMPT:
		return replay_on_preempt(rp, ev, t);
	default:
		return replay_diverge(rp, ev, "unknown event type %d", ev->type);
	}
}

static int
open_trace(const char *dir, struct trace_reader **ret_r)
{
	char err[512];
	int r = trace_reader_open(dir, ret_r, err, sizeof(err));

	if (r < 0)
		log_error("%s", err);
	return r;
}

/* The id of the process that @ev, a TRACE_EV_EXEC, starts a program in. */
static pid_t
exec_pid(const struct trace_event *ev)
{
	return ev->nvalues >= 3 ? (pid_t)ev->values[2] : (pid_t)ev->tid;
}

/*
 * Find where `uprr replay -p PID` stops: the event of @pid's first exec, else
 * of its fork (a thread start without CLONE_THREAD); whether it is an exec.
 * Reads the whole trace once. Returns 0, -ESRCH if @pid is not in it, or the
 * reader's error.
 */
static int
find_stop(const char *dir, pid_t pid, uint64_t *ret_event, bool *ret_exec)
{
	struct trace_reader *r;
	struct trace_event ev;
	bool found = false;
	int n;

	n = open_trace(dir, &r);
	if (n < 0)
		return n;
	for (uint64_t no = 0; (n = trace_reader_next(r, &ev)) > 0; no++) {
		if (ev.type == TRACE_EV_EXEC && exec_pid(&ev) == pid) {
			*ret_event = no;
			*ret_exec = found = true;
			break;
		}
		if (ev.type == TRACE_EV_THREAD_START && (pid_t)ev.tid == pid && !found &&
		    ev.nvalues >= 2 && !(ev.values[1] & CLONE_THREAD)) {
			*ret_event = no;
			*ret_exec = false;
			found = true;
		}
	}
	trace_reader_close(r);
	if (found)
		return 0; /* a bad tail is for the replay to report */
	if (n < 0)
		return n;
	log_error("process %d is not in the trace (uprr ps lists them)", pid);
	return -ESRCH;
}

/*
 * Warn, before anything runs, when someone else could have written the
 * trace at @dir: replay executes the programs and libraries it holds, so a
 * trace chooses what code runs. Checks the directory and its files/ (the
 * kept copies): owned by another user, or writable by group or others.
 */
static void
check_owner(const char *dir)
{
	const char *parts[] = { "", "/" TRACE_FILES_DIR };

	for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
		char path[PATH_MAX];
		const struct passwd *pw;
		struct stat st;

		snprintf(path, sizeof(path), "%s%s", dir, parts[i]);
		if (stat(path, &st) < 0)
			continue;
		if (st.st_uid != geteuid()) {
			pw = getpwuid(st.st_uid);
			log_warn("'%s' belongs to %s (uid %u), not to you: replay runs the programs "
				 "the trace holds, so replay only traces you trust", path,
				 pw ? pw->pw_name : "another user", (unsigned)st.st_uid);
			return;
		}
		if (st.st_mode & (S_IWGRP | S_IWOTH)) {
			log_warn("'%s' is writable by others (mode %03o): replay runs the programs "
				 "the trace holds, which they could have changed", path,
				 (unsigned)(st.st_mode & 0777));
			return;
		}
	}
}

static int
check_cpu(const struct trace_header *hdr)
{
	char vendor[16];
	uint32_t features[8];

	arch_cpu_identity(vendor, features);
	if (strcmp(vendor, hdr->cpu_vendor) != 0 || memcmp(features, hdr->cpu_features, sizeof(features)))
		log_warn("this CPU (%s) differs from the recording's (%s): replay may diverge", vendor,
			 hdr->cpu_vendor);
	return 0;
}

/* Replay reads this trace's format and counts ticks as the recording did:
 * the PMU's must work here. */
static int
check_ticks(const struct trace_header *hdr, bool *ret_pmu)
{
	char why[256];

	if (hdr->format_version < 3) {
		/* format 3: a thread's start precedes its clone's exit */
		log_error("the trace is format %u, from a uprr before process trees; record it again",
			  hdr->format_version);
		return -EPROTO;
	}
	*ret_pmu = strcmp(hdr->tick_source, ticks_source_name(TICKS_SOURCE_PMU)) == 0;
	if (*ret_pmu && ticks_pmu_probe(why, sizeof(why)) < 0) {
		log_error("the trace counts ticks with hardware performance counters, which are not "
			  "available here: %s", why);
		return -ENOTSUP;
	}
	return 0;
}

static volatile sig_atomic_t stop_requested;

void
replay_request_stop(void)
{
	stop_requested = 1;
}

int
replay_run(const struct replay_options *opts, int *ret_status)
{
	struct replayer rp = { .opts = opts, .out = { .dump_fd = -1 } };
	uint64_t stop_event = UINT64_MAX;
	struct trace_event ev;
	bool stop_exec = false;
	int r;

	if (opts->stop_pid) {
		r = find_stop(opts->trace_dir, opts->stop_pid, &stop_event, &stop_exec);
		if (r < 0)
			return r;
	}
	r = open_trace(opts->trace_dir, &rp.r);
	if (r < 0)
		return r;
	check_owner(opts->trace_dir);
	check_cpu(trace_reader_header(rp.r));
	r = check_ticks(trace_reader_header(rp.r), &rp.pmu);
	if (r < 0)
		goto out;
	r = replay_output_open(&rp.out, trace_reader_header(rp.r)->format_version, opts->quiet,
			       opts->dump_sent);
	if (r < 0)
		goto out;
	while (!rp.done) {
		if (stop_requested) {
			log_error("stopped by SIGTERM at event %" PRIu64, rp.event_no);
			rp.error = -EINTR;
			break;
		}
		r = trace_reader_next(rp.r, &ev);
		/* a trace cut short (recorder killed, disk full): one line
		 * without the "replay:" prefix, as the README shows it */
		if (r == 0) {
			log_printf(LOG_LEVEL_ERROR, "", "trace ends early at event %" PRIu64,
				   rp.event_no);
			rp.error = -ENODATA;
			break;
		}
		if (r < 0) {
			if (r == -ENODATA)
				log_printf(LOG_LEVEL_ERROR, "",
					   "trace ends early at event %" PRIu64 " (%s)", rp.event_no,
					   trace_reader_error(rp.r));
			else
				log_error("%s", trace_reader_error(rp.r));
			rp.error = r;
			break;
		}
		r = replay_event(&rp, &ev);
		if (r < 0 && !rp.error)
			rp.error = r;
		if (!rp.error && rp.event_no == stop_event) {
			const struct pthread_r *t = replay_find_rec(&rp, opts->stop_pid);
			_cleanup_free_ char *cmd = stop_exec ? replay_exec_command(&ev) : NULL;

			if (stop_exec)
				log_printf(LOG_LEVEL_ERROR, "replay",
					   "stopped at event %" PRIu64 ", where process %d execs %s "
					   "(replayed as pid %d)", rp.event_no, opts->stop_pid,
					   cmd ?: "?", t ? t->tgid : 0);
			else
				log_printf(LOG_LEVEL_ERROR, "replay",
					   "stopped at event %" PRIu64 ", where thread %" PRIu64
					   " forks process %d (replayed as pid %d)", rp.event_no,
					   ev.values[0], opts->stop_pid, t ? t->tgid : 0);
			rp.status = 0;
			break;
		}
		rp.event_no++;
	}
	r = rp.error;
	if (r == 0) {
		*ret_status = rp.status;
		if (WIFSIGNALED(rp.status))
			tracee_report_killed(WTERMSIG(rp.status), rp.last_sig_rip, rp.last_sig_tid);
	}
out:
	if (rp.leader > 0 && (r < 0 || !rp.done)) {
		for (size_t i = 0; i < rp.nthreads; i++)
			kill(rp.threads[i].tgid, SIGKILL);
		tracee_kill_all(rp.leader);
	}
	while (rp.nthreads)
		remove_thread(&rp, &rp.threads[0]);
	for (size_t i = 0; i < rp.nfiles; i++)
		close(rp.files[i].fd);
	free(rp.files);
	free(rp.tfiles);
	replay_shm_free(&rp.shm);
	replay_output_close(&rp.out);
	trace_reader_close(rp.r);
	free(rp.threads);
	free(rp.buf);
	rec_ranges_free(&rp.ranges);
	rec_ptrace_free(&rp.ptrace);
	return r;
}
