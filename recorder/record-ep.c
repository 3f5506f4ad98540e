/* SPDX-License-Identifier: MIT */
/*
 * The recorder's EP knob (`uprr record --syscalls-from=DIR`,
 * doc/uniparallel.md): every syscall of thread T is answered from T's
 * syscalls in a log (ep/ep.h), in program order, as replay answers it from a
 * trace (syscalls/emulate.c: one mechanism for both), except the calls an
 * EP run executes (sc_ep_live()): mappings, at the log's addresses and of the
 * log's kept files, as replay maps them; futex and sched_yield, whose waits
 * this run's own schedule decides; clone, exit and the process's own kernel
 * state. Everything else (sched/, ticks, restore points, the trace) is the
 * recorder's as in any recording. The new trace names threads by the log's
 * ids, which the program sees, so it replays with `uprr replay` as it is.
 * A call that differs from the log's next one for its thread is a
 * divergence: the recording stops there, saying what differs.
 */
#define LOG_PREFIX "record"
#include <asm/unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint/dirty.h"
#include "checkpoint/process.h"
#include "common/log.h"
#include "ep/divergence.h"
#include "ep/ep.h"
#include "preload/uprr-sync.h"
#include "recorder/record-private.h"
#include "syscalls/syscalls.h"
#include "trace/trace.h"
#include "tracee/tracee.h"
#include "x86_64/arch.h"

/* Whether files @a and @b hold the same bytes: 1, 0, or -errno. */
static int
same_bytes(const char *a, const char *b)
{
	_cleanup_close_ int fa = open(a, O_RDONLY | O_CLOEXEC), fb = open(b, O_RDONLY | O_CLOEXEC);
	char ba[65536], bb[sizeof(ba)];
	ssize_t na, nb;

	if (fa < 0 || fb < 0)
		return -errno;
	do {
		na = read(fa, ba, sizeof(ba));
		nb = read(fb, bb, sizeof(bb));
		if (na < 0 || nb < 0)
			return -errno;
		if (na != nb || memcmp(ba, bb, (size_t)na) != 0)
			return 0;
	} while (na > 0);
	return 1;
}

/*
 * The program the kernel runs for @exe into @buf (@len bytes): @exe, or
 * for a script the interpreter its "#!" line names, itself resolved so,
 * as binfmt_script does (fs/binfmt_script.c: the line within the first
 * 256 bytes, BINPRM_BUF_SIZE; blanks before the path; at most 5
 * interpreters, fs/exec.c exec_binprm()). A relative interpreter is the
 * kernel's too: relative to the working directory. 0, or -ELOOP.
 */
static int
interpreter_of(const char *exe, char *buf, size_t len)
{
	snprintf(buf, len, "%s", exe);
	for (int depth = 0; depth <= 5; depth++) {
		_cleanup_close_ int fd = open(buf, O_RDONLY | O_CLOEXEC);
		char line[256];
		ssize_t n = fd >= 0 ? read(fd, line, sizeof(line) - 1) : -1;
		size_t i = 2, j;

		if (n < 2 || line[0] != '#' || line[1] != '!')
			return 0; /* not a script (or unreadable: compared as is) */
		line[n] = '\0';
		while (line[i] == ' ' || line[i] == '\t')
			i++;
		for (j = i; line[j] && !strchr(" \t\n", line[j]); j++)
			;
		if (j == i || j - i >= len)
			return 0;
		memcpy(buf, line + i, j - i);
		buf[j - i] = '\0';
	}
	return -ELOOP;
}

int
rec_ep_open(struct recorder *rec, const char *dir, const char *exe, const char *sync_log,
	    const struct rec_ep_follow *follow)
{
	const char *copy;
	char err[512] = "", run[PATH_MAX];
	int r;

	rec->ep = calloc(1, sizeof(*rec->ep));
	if (!rec->ep)
		return -ENOMEM;
	rec->ep->sync_log = sync_log;
	rec->ep->follow = follow;
	r = follow ? ep_log_open_follow(dir, &rec->ep->log, err, sizeof(err))
		   : ep_log_open(dir, &rec->ep->log, err, sizeof(err));
	if (r < 0) {
		log_error("--syscalls-from=%s: %s", dir, err[0] ? err : strerror(-r));
		return r;
	}
	/* the log's addresses, stack and results are those of its program
	 * (a script's interpreter: the log's first exec is the kernel's):
	 * another build of it would run the log's answers into a crash */
	r = ep_log_exe(rec->ep->log, &copy);
	if (r >= 0)
		r = interpreter_of(exe, run, sizeof(run));
	if (r >= 0)
		r = same_bytes(run, copy);
	if (r <= 0) {
		log_error("--syscalls-from=%s: %s is not the program the log ran%s%s", dir, exe,
			  r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
		return -EINVAL;
	}
	return 0;
}

bool
rec_ep_more(struct recorder *rec, const char *why)
{
	struct rec_ep *ep = rec->ep;
	char err[512] = "";
	int r;

	if (!ep || !ep->follow || ep_log_whole(ep->log) || rec->done)
		return false;
	/* the TP run runs to its next epoch end, in this thread of uprr
	 * (tp/lockstep.c): this run's threads stand still meanwhile, at
	 * ptrace stops or in the kernel (their events wait for it) */
	log_debug("EP run: the TP run goes on (%s)", why);
	r = ep->follow->more(ep->follow->arg);
	r = ep_log_more(ep->log, r == 0, err, sizeof(err));
	if (r < 0) {
		rec_stop_recording(rec, "the TP run's log: %s", err[0] ? err : strerror(-r));
		return false;
	}
	return true;
}

/* The order's file the EP run's processes map: the cut one of a re-run
 * (rec_ep_live.sync_cut), else the TP run's; NULL: none. */
static const char *
order_file(const struct rec_ep *ep)
{
	return ep->live && ep->live->sync_cut ? ep->live->sync_cut : ep->sync_log;
}

/* Show FOLLOW the order at checkpoint @k (0: the whole order). */
static void
write_view(struct recorder *rec, uint64_t k)
{
	struct rec_ep *ep = rec->ep;
	uint64_t done[UPRR_SYNC_NSLOTS];
	uint32_t view;
	_cleanup_close_ int fd = open(order_file(ep), O_WRONLY | O_CLOEXEC);

	if (k && !ep->order->at(ep->order->arg, k, done, ARRAY_SIZE(done)))
		k = 0;
	view = (uint32_t)k;
	if (fd < 0 ||
	    (k && pwrite(fd, done, sizeof(done), offsetof(struct uprr_sync_head, view_done)) !=
			  (ssize_t)sizeof(done))) {
		log_debug("EP run: cannot show the order at checkpoint %" PRIu64 ": %m", k);
		view = 0;
	}
	if (fd >= 0 &&
	    pwrite(fd, &view, sizeof(view), offsetof(struct uprr_sync_head, view)) != sizeof(view))
		log_debug("EP run: cannot write the order's view: %m");
	ep->view_on = view != 0;
	log_debug("EP run: the order as at checkpoint %" PRIu64 "%s", k, view ? "" : " (the whole order)");
}

void
rec_ep_view(struct recorder *rec, uint64_t k)
{
	struct rec_ep *ep = rec->ep;

	if (!ep || !ep->order || !order_file(ep))
		return;
	if (k && k <= ep->view_k)
		return;
	if (!k && !ep->view_on)
		return;
	ep->view_k = MAX(ep->view_k, k);
	write_view(rec, k);
}

bool
rec_ep_more_order(struct recorder *rec, const char *why)
{
	struct rec_ep *ep = rec->ep;

	if (!ep || !ep->view_on || rec->done)
		return rec_ep_more(rec, why);
	if (ep->view_k < ep_log_checkpoints(ep->log)) {
		log_debug("EP run: the order's view moves on (%s)", why);
		ep->view_k++;
		write_view(rec, ep->view_k);
		return true;
	}
	if (ep_log_whole(ep->log)) {
		write_view(rec, 0);
		return true;
	}
	return rec_ep_more(rec, why);
}

bool
rec_ep_sync_wait(struct recorder *rec, struct rthread *t)
{
	struct user_regs_struct regs = t->regs;
	uint32_t word = 0;

	if (regs.orig_rax != __NR_futex || regs.rsi != (FUTEX_WAIT | FUTEX_PRIVATE_FLAG) ||
	    regs.rdx != UPRR_SYNC_WAIT_MAGIC || tracee_read(t->tid, regs.rdi, &word, sizeof(word)) < 0 ||
	    word != UPRR_SYNC_WAIT_MAGIC)
		return false;
	/* skipped, 0: it looks at the log again */
	regs.orig_rax = (uint64_t)-1;
	regs.rax = 0;
	if (tracee_set_regs(t->tid, &regs) < 0)
		return true; /* gone: its end comes through waitpid */
	/* its end of the epoch in a condition wait or a lock: parked here
	 * (no event: libuprr-sync's marker call before the wait, end_marker(),
	 * is the trace's last of this thread before it) */
	if (rec_ep_park_sync(rec, t, t->regs.r8, t->regs.r9 & UPRR_SYNC_WAIT_FRAME_MASK))
		return true;
	/* The TP run goes on here, this thread still the one that runs. A
	 * switch to another here would be one the trace does not show (the
	 * replay, its log whole, never waits here): what this thread did
	 * since its last event (a clock advanced, a lock let go) would come
	 * before the other's calls in this run and after them in the replay,
	 * which then waited where this run did not ("thread made 0 buffered
	 * syscalls, recorded 2", "expected syscall getrandom (its site
	 * patched)": tp-epochs-verify-ep_threads, 11 replays in 20 under load
	 * when the others ran meanwhile). */
	(void)rec_ep_more_order(rec, "libuprr-sync waits for a record");
	rec_resume(t, PTRACE_CONT, 0);
	return true;
}

bool
rec_ep_follow_idle(struct recorder *rec)
{
	if (!rec->ep || !rec->ep->follow || (ep_log_whole(rec->ep->log) && !rec->ep->view_on) ||
	    rec->done)
		return false;
	for (size_t i = 0; i < rec->nthreads; i++) {
		const struct rthread *t = &rec->threads[i];

		log_debug("EP run idle at checkpoint %" PRIu64 ": thread %d (the log's %d) state %d, "
			  "call %ld, %s", rec->ep->k, t->tid, ep_log_tid(rec->ep->log, t->tid),
			  (int)t->state, (long)t->nr, t->ep_parked ? "parked" : "not parked");
	}
	return rec_ep_more_order(rec, "nothing can run");
}

const uint64_t *
rec_ep_reserved(const struct recorder *rec, size_t *ret_n)
{
	if (!rec->ep) {
		*ret_n = 0;
		return NULL;
	}
	return ep_log_mapped(rec->ep->log, ret_n);
}

int
rec_ep_start(struct recorder *rec, pid_t root)
{
	return ep_log_map_tid(rec->ep->log, root, ep_log_root(rec->ep->log));
}

int
rec_ep_initial_image(struct recorder *rec, struct rthread *t, struct user_regs_struct *regs,
		     uint64_t stack_end)
{
	const struct trace_blob *stack;
	const uint64_t *log_regs;
	int r;

	ep_log_image(rec->ep->log, &stack, &log_regs);
	if (stack->addr + stack->len != stack_end) {
		log_error("--syscalls-from: the log's stack ends at 0x%" PRIx64 ", this run's at 0x%"
			  PRIx64 " (another kernel, or another stack limit)", stack->addr + stack->len,
			  stack_end);
		return -EINVAL;
	}
	/* as replay restores it (replay_restore_image()) */
	r = tracee_write(t->space->mem.memfd, stack->addr, stack->data, stack->len);
	if (r < 0)
		return r;
	memcpy(regs, log_regs, sizeof(*regs));
	return tracee_set_regs(t->tid, regs);
}

void
rec_ep_free(struct recorder *rec)
{
	if (!rec->ep)
		return;
	/* the trace's copy of the order (lock-step links it) replays whole */
	if (rec->ep->view_on)
		write_view(rec, 0);
	rec_ep_sb_free(rec);
	ep_log_free(rec->ep->log);
	free(rec->ep->files);
	for (size_t i = 0; i < rec->ep->nshared; i++)
		close(rec->ep->shared[i].fd);
	free(rec->ep->shared);
	free(rec->ep->patched);
	free(rec->ep->dead);
	free(rec->ep->conds);
	free(rec->ep->mutexes);
	free(rec->ep);
	rec->ep = NULL;
}

void
rec_ep_check_used(struct recorder *rec)
{
	const struct ep_log *log;

	if (!rec->ep || rec->error[0])
		return;
	log = rec->ep->log;
	for (size_t i = 0; i < ep_log_nthreads(log); i++) {
		pid_t tid = ep_log_thread(log, i);
		size_t taken = ep_log_taken(log, tid), left = 0;

		while (ep_log_call(log, tid, taken + left))
			left++;
		if (!left)
			continue;
		rec->ep_diverged = true;
		rec_stop_recording(rec, "divergence from the log: the program ended with %zu syscall%s "
				   "of the log's thread %d not made (the first: %s)", left,
				   left == 1 ? "" : "s", tid,
				   sc_name(ep_log_call(log, tid, taken)->nr) ?: "?");
		return;
	}
}

/* The line the synchronization-order library writes to fd 2 when the
 * program does not make the operation its log has next
 * (preload/sync-log.c, sync_diverged()), if @t is about to write it, in
 * @line: the EP run's first difference, which the mismatched write that
 * follows it hides. */
static bool
sync_line(const struct rthread *t, char *line, size_t len)
{
	static const char prefix[] = "uprr-sync: follow: ";
	size_t n = t->args[2] < len - 1 ? (size_t)t->args[2] : len - 1;

	if (t->nr != __NR_write || t->args[0] != STDERR_FILENO || n < sizeof(prefix) - 1 ||
	    tracee_read(t->tid, t->args[1], line, n) < 0 || memcmp(line, prefix, sizeof(prefix) - 1))
		return false;
	while (n && line[n - 1] == '\n')
		n--;
	line[n] = 0;
	return true;
}

/* Stop at a divergence of @t's syscall from the log, saying what differs. */
static void
diverge(struct recorder *rec, const struct rthread *t, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
diverge(struct recorder *rec, const struct rthread *t, const char *fmt, ...)
{
	char why[320], line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (sync_line(t, line, sizeof(line))) {
		rec_ep_diverge_at(rec, t, "its synchronization order: %s", line + strlen("uprr-sync: "));
		return;
	}
	rec_ep_diverge_at(rec, t, "syscall %s: %s", sc_name((long)t->nr) ?: "?", why);
}

void
rec_ep_diverge(struct recorder *rec, const struct rthread *t, const char *why)
{
	diverge(rec, t, "%s", why);
}

void
rec_ep_diverge_at(struct recorder *rec, const struct rthread *t, const char *fmt, ...)
{
	char what[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	rec->ep_diverged = true;
	rec_stop_recording(rec, "divergence from the log: thread %d (the log's %d), %s", t->tid,
			   ep_log_tid(rec->ep->log, t->tid), what);
}

/* Forget the kept copies process @tgid had open (file_fd()). */
static void
forget_files(struct rec_ep *ep, pid_t tgid)
{
	size_t n = 0;

	for (size_t i = 0; i < ep->nfiles; i++)
		if (ep->files[i].tgid != tgid)
			ep->files[n++] = ep->files[i];
	ep->nfiles = n;
}

int
rec_ep_exec_image(struct recorder *rec, struct rthread *t, struct user_regs_struct *regs,
		  uint64_t stack_end)
{
	pid_t log_tid = ep_log_tid(rec->ep->log, t->tid);
	const struct trace_blob *stack;
	const uint64_t *log_regs;
	const char *copy;
	char exe[64];
	uint32_t id;
	int r;

	/* the kept copies its old image mapped were opened close-on-exec
	 * (file_fd()): gone with it, opened again at their next mapping
	 * (`#!/usr/bin/env bash`: bash's ld.so.cache mapped fd 3, EBADF) */
	forget_files(rec->ep, t->tgid);
	r = log_tid ? ep_log_take_exec(rec->ep->log, log_tid, &stack, &log_regs, &copy, &id) : -ENOENT;
	if (r < 0) {
		diverge(rec, t, "an exec the log's process did not make (%s)", strerror(-r));
		return 0;
	}
	/* it runs the log's copy (prepare_exec()): the original's alias in
	 * the epochs' checks, as a mapped copy's (rec_ep_file_aliases()) */
	if (UTIL_GROW(rec->ep->files, rec->ep->files_cap, rec->ep->nfiles + 1) < 0)
		return -ENOMEM;
	rec->ep->files[rec->ep->nfiles++] = (struct ep_file){ t->tgid, id, -1, false };
	/* the program it runs must be the log's, for its answers to fit */
	snprintf(exe, sizeof(exe), "/proc/%d/exe", t->tid);
	r = same_bytes(exe, copy);
	if (r <= 0) {
		diverge(rec, t, "it runs another executable than the log's exec%s%s", r < 0 ? ": " : "",
			r < 0 ? strerror(-r) : "");
		return 0;
	}
	if (stack->addr + stack->len != stack_end) {
		diverge(rec, t, "the stack of its exec ends at 0x%" PRIx64 ", the log's at 0x%" PRIx64,
			stack_end, stack->addr + stack->len);
		return 0;
	}
	/* its AT_RANDOM bytes and the rest of its first stack, as the log's
	 * run had them (as for the first exec, rec_ep_initial_image()) */
	r = tracee_write(t->space->mem.memfd, stack->addr, stack->data, stack->len);
	if (r < 0)
		return r;
	memcpy(regs, log_regs, sizeof(*regs));
	return tracee_set_regs(t->tid, regs);
}

int
rec_ep_entry(struct recorder *rec, struct rthread *t, uint32_t nblobs)
{
	pid_t log_tid = ep_log_tid(rec->ep->log, t->tid);
	const struct ep_call *c;
	char why[256];

	t->ep_call = NULL;
	t->ep_map_fd = 0;
	/* so is the kernel's restart_syscall(2) of one (a timed futex wait
	 * a signal of this run's own interrupted: t->model_nr is the call it
	 * continues) */
	if (sc_ep_unmatched((long)t->nr) ||
	    (t->nr == __NR_restart_syscall && sc_ep_unmatched((long)t->model_nr)))
		return 0;
	if (t->ep_restart) {
		/* the kernel's restart of its interrupted live wait: the same
		 * call of the log (rec_ep_exit()) */
		c = t->ep_restart;
		t->ep_restart = NULL;
		if (c->nr != (long)t->nr) {
			diverge(rec, t, "its wait for a child was interrupted here and not restarted, "
				"not in the log");
			return -1;
		}
		t->ep_call = c;
		return 0;
	}
	c = log_tid ? ep_log_take(rec->ep->log, log_tid) : NULL;
	/* lock-step: the TP run has not logged it yet; it may be where the
	 * thread's end is (held at its entry in the TP run) */
	if (!c && log_tid && rec_ep_park_unlogged(rec, t))
		return 1;
	while (!c && log_tid && rec_ep_more(rec, "a call not logged yet"))
		c = ep_log_take(rec->ep->log, log_tid);
	if (!c) {
		diverge(rec, t, "the log has no more syscalls of this thread");
		return -1;
	}
	if (rec_ep_force_syscall(rec, (long)t->nr)) {
		diverge(rec, t, "made to diverge (UPRR_EP_DIVERGE=%s)", getenv("UPRR_EP_DIVERGE"));
		return -1;
	}
	if (ep_call_check(c, (long)t->nr, t->args, rec->blobs, nblobs, why, sizeof(why)) < 0) {
		const struct ep_call *instead = rec_hold_replace(rec, t, c);

		if (!instead) {
			diverge(rec, t, "%s", why);
			return -1;
		}
		c = instead;
	} else if (rec->ep->live && !rec_hold_shown_same(rec, t, c)) {
		diverge(rec, t, "%s", "its write has the log's bytes, not those that went out (the EP run "
			"that diverged replaced them)");
		return -1;
	}
	t->ep_call = c;
	/* its buffer answers the calls after it (record-ep-sb.c) */
	if (t->space->mem.syscallbuf && rec_ep_sb_taken(rec, t) < 0) {
		diverge(rec, t, "cannot fill its syscall buffer");
		return -1;
	}
	return 0;
}

/*
 * uprr's memfd for a shared mapping of the file whose version @id is,
 * holding that version: made and loaded from the log's kept copy at its
 * first mapping, loaded again when a mapping shows a later version (as
 * replay does: replay/syscalls.c, mapped_file_fd()). Its first version in
 * *@ret_first. -errno on failure.
 */
static int
shared_fd(struct rec_ep *ep, uint32_t id, uint32_t *ret_first)
{
	struct ep_shared *f = NULL;
	const char *copy;
	uint32_t first;
	int r;

	r = ep_log_file_first(ep->log, id, &first);
	if (r < 0)
		return r;
	*ret_first = first;
	for (size_t i = 0; i < ep->nshared && !f; i++)
		if (ep->shared[i].first == first)
			f = &ep->shared[i];
	if (!f) {
		if (UTIL_GROW(ep->shared, ep->shared_cap, ep->nshared + 1) < 0)
			return -ENOMEM;
		r = memfd_create("uprr-shared-file", MFD_CLOEXEC);
		if (r < 0)
			return -errno;
		f = &ep->shared[ep->nshared++];
		*f = (struct ep_shared){ first, UINT32_MAX, r };
	}
	if (f->loaded != id) {
		r = ep_log_file(ep->log, id, &copy, NULL);
		if (r < 0)
			return r;
		r = util_load_file(f->fd, copy);
		if (r < 0)
			return r;
		f->loaded = id;
	}
	return f->fd;
}

/* The log's call wrote version @id of a file (a syscall exit's values[3]):
 * if a shared mapping maps uprr's memfd of it, that memfd holds it now, as
 * replay loads it (replay/syscalls.c). 0 or -errno. */
static int
shared_written(struct recorder *rec, uint32_t id)
{
	struct rec_ep *ep = rec->ep;
	uint32_t first;

	if (ep_log_file_first(ep->log, id, &first) < 0)
		return 0;
	for (size_t i = 0; i < ep->nshared; i++)
		if (ep->shared[i].first == first)
			return shared_fd(ep, id, &first) < 0 ? -EIO : 0;
	return 0;
}

/* The fd in @t's process of kept file @id of the log (or of file @path
 * instead, if not NULL), opened there on first use with an injected openat
 * (@t is at the seccomp stop of a syscall that is skipped meanwhile); with
 * @shared, of uprr's memfd that holds it (shared_fd()), read-write. -errno
 * on failure. */
static int
file_fd(struct recorder *rec, struct rthread *t, uint32_t id, const char *path, bool shared)
{
	struct rec_ep *ep = rec->ep;
	struct user_regs_struct skip = t->regs;
	char proc[64];
	const char *copy;
	int fd, r;

	if (shared) {
		r = shared_fd(ep, id, &id);
		if (r < 0)
			return r;
		snprintf(proc, sizeof(proc), "/proc/%d/fd/%d", getpid(), r);
	}
	for (size_t i = 0; i < ep->nfiles; i++)
		if (ep->files[i].tgid == t->tgid && ep->files[i].id == id && ep->files[i].shared == shared &&
		    ep->files[i].fd >= 0)
			return ep->files[i].fd;
	r = path || shared ? 0 : ep_log_file(ep->log, id, &copy, NULL);
	if (r < 0)
		return r;
	if (path)
		copy = path;
	if (shared)
		copy = proc;
	if (UTIL_GROW(ep->files, ep->files_cap, ep->nfiles + 1) < 0)
		return -ENOMEM;
	skip.orig_rax = (uint64_t)-1;
	r = tracee_set_regs(t->tid, &skip);
	if (r < 0)
		return r;
	fd = tracee_open_in(t->tid, t->tgid, t->space->mem.memfd, t->regs.rsp, copy,
			    shared ? O_RDWR : O_RDONLY, NULL, NULL);
	if (fd < 0)
		return fd;
	ep->files[ep->nfiles++] = (struct ep_file){ t->tgid, id, fd, shared };
	return fd;
}

bool
rec_ep_sync_log_mapping(struct recorder *rec, const struct ep_call *c)
{
	const char *original;

	return rec->ep->sync_log && c->nvalues >= 3 && c->values[2] &&
	       ep_log_file(rec->ep->log, (uint32_t)(c->values[2] - 1), NULL, &original) >= 0 &&
	       original && strcmp(original, rec->ep->sync_log) == 0;
}

/*
 * @t's mmap as it runs in an EP run, the arguments of replay's
 * (replay/syscalls.c, prepare_mmap()): at the log's address, refusing to
 * clobber a diverged layout; of the log's kept copy of a file, privately.
 * The thread is put back on its syscall instruction and run to its seccomp
 * stop again when a file had to be opened. Returns 0 or -1 at a divergence.
 */
static int
prepare_mmap(struct recorder *rec, struct rthread *t, const struct ep_call *c)
{
	struct user_regs_struct regs = t->regs;
	uint64_t flags = t->args[3];
	size_t before = rec->ep->nfiles;
	bool sync, shared = false;
	int fd;

	if (c->result < 0)
		return 0; /* failed there: must fail here, which the exit checks */
	regs.rdi = (uint64_t)c->result;
	if (!(flags & MAP_FIXED))
		regs.r10 = flags | MAP_FIXED_NOREPLACE;
	if (c->nvalues < 4 || c->values[2] == 0) {
		/* anonymous, or /dev/zero's (the recorder keeps every other
		 * mapped file) */
		if (!(flags & MAP_ANONYMOUS)) {
			regs.r10 |= MAP_ANONYMOUS;
			regs.r8 = (uint64_t)-1;
		}
		return tracee_set_regs(t->tid, &regs) < 0 ? -1 : 0;
	}
	sync = rec_ep_sync_log_mapping(rec, c);
	if (sync) {
		/* the interposer's log (UPRR_SYNC_MODE=tp): the TP run's,
		 * finished, privately: it follows it, and FOLLOW never
		 * writes it. Read-only: a writable mapping's pages would be
		 * tracked by every restore point (the EP run of tp_fsum took
		 * 4x the CPU time with a log 4x the size) */
		regs.r10 = (regs.r10 & ~(uint64_t)MAP_TYPE) | MAP_PRIVATE;
		regs.rdx = PROT_READ;
	} else {
		/* a shared mapping maps one memfd of uprr's, whichever
		 * process maps it (python3's sem_open(3) in /dev/shm), and a
		 * private one that follows its file's changes its one
		 * changing copy, privately: as replay does */
		shared = (flags & MAP_TYPE) != MAP_PRIVATE || (c->nvalues >= 5 && c->values[4]);
	}
	/* a re-run's: the order cut where it goes live (record-ep-live.c) */
	fd = file_fd(rec, t, (uint32_t)(c->values[2] - 1),
		     !sync ? NULL : rec->ep->live && rec->ep->live->sync_cut ? rec->ep->live->sync_cut
									 : rec->ep->sync_log, shared);
	if (fd < 0) {
		diverge(rec, t, "cannot map the log's copy of file %" PRIu64 ": %s", c->values[2] - 1,
			strerror(-fd));
		return -1;
	}
	regs.r10 &= ~(uint64_t)(MAP_DENYWRITE | MAP_EXECUTABLE);
	regs.r8 = (uint64_t)fd;
	t->ep_map_fd = fd + 1;
	if (rec->ep->nfiles != before) {
		/* the injection left it after the syscall: issue it again, to
		 * its seccomp stop */
		arch_rewind_syscall(&regs);
		if (tracee_set_regs(t->tid, &regs) < 0)
			return -1;
		if (rec_ep_restart_call(rec, t) < 0 || tracee_get_regs(t->tid, &regs) < 0) {
			diverge(rec, t, "the mmap of a file did not start again");
			return -1;
		}
	}
	return tracee_set_regs(t->tid, &regs) < 0 ? -1 : 0;
}

/*
 * The log's id of the child that @c, a wait4(2) or waitid(2), reaped: 0
 * if it reaped none (WNOHANG with none ready, a failure) or is no wait.
 * waitid's is in the siginfo_t it filled (si_pid, at byte 16).
 */
static pid_t
reaped(const struct ep_call *c)
{
	int32_t pid = 0;

	if (!c->exited || c->result < 0)
		return 0;
	if (c->nr == __NR_wait4)
		return (pid_t)c->result;
	if (c->nr != __NR_waitid)
		return 0;
	for (uint32_t i = 0; i < c->nout; i++)
		if (c->out[i].addr == c->args[2] && c->out[i].len >= 20)
			memcpy(&pid, (const uint8_t *)c->out[i].data + 16, sizeof(pid));
	return pid;
}

/*
 * Whether @t's call is a wait for a child that runs live. A wait that
 * reaped a child in the log waits here for that very child (its id in this
 * run, WNOHANG dropped) to end for real: answered from the log at once, the
 * parent would run on while the child still runs, in another order than
 * the log's (their output interleaved otherwise). One that reaped none
 * changed nothing and is answered from the log.
 */
static bool
waits_live(const struct rthread *t)
{
	return t->ep_call && reaped(t->ep_call) > 0;
}

/* Whether @t's call is answered from the log, not run. */
static bool
answered(const struct rthread *t)
{
	const struct ep_call *c = t->ep_call;

	return c && !waits_live(t) && (!sc_ep_live((long)t->nr, t->args) || (c->exited && c->result < 0));
}

/* @t's wait for the log's child, made the wait for its id in this run;
 * -1 at a divergence. */
static int
prepare_wait(struct recorder *rec, struct rthread *t, const struct ep_call *c)
{
	struct user_regs_struct regs = t->regs;
	pid_t pid = ep_log_tid_of(rec->ep->log, reaped(c));

	if (!pid) {
		diverge(rec, t, "the log's call reaped child %d, which this run did not start",
			reaped(c));
		return -1;
	}
	if (t->nr == __NR_wait4) {
		regs.rdi = (uint64_t)pid;
		regs.rdx &= ~(uint64_t)WNOHANG;
	} else {
		regs.rdi = P_PID;
		regs.rsi = (uint64_t)pid;
		regs.r10 &= ~(uint64_t)WNOHANG;
	}
	t->may_block = true;
	return tracee_set_regs(t->tid, &regs) < 0 ? -1 : 0;
}

/*
 * @t's exec, which the log's process made, made of the log's kept copy of
 * the executable, by its absolute path, as replay execs the trace's
 * (replay_on_exec()): the path the program names may lead nowhere here
 * (a relative one after a chdir(2) answered from the log: the EP process
 * stands where uprr started; a file the log's run removed or rewrote
 * since), and the image is the log's anyway, its stack and registers from
 * the log (rec_ep_exec_image()). An exec the log does not have runs as the
 * program asks, and diverges there. -1 at a divergence.
 */
static int
prepare_exec(struct recorder *rec, struct rthread *t)
{
	pid_t log_tid = ep_log_tid(rec->ep->log, t->tid);
	struct user_regs_struct regs = t->regs;
	char path[PATH_MAX];
	const char *copy;
	uint64_t at;
	size_t len;

	if (!log_tid || ep_log_exec_copy(rec->ep->log, log_tid, &copy) < 0) {
		log_debug("thread %d: an exec the log's %d did not make: as the program asks", t->tid,
			  log_tid);
		return 0;
	}
	log_debug("thread %d: exec of the log's copy %s", t->tid, copy);
	if (!realpath(copy, path)) {
		diverge(rec, t, "cannot find the log's copy of its executable %s: %s", copy,
			strerror(errno));
		return -1;
	}
	len = strlen(path) + 1;
	at = tracee_stack_scratch(t->tgid, regs.rsp, len);
	if (!at) {
		diverge(rec, t, "no room on its stack for the path of the log's executable");
		return -1;
	}
	if (t->nr == __NR_execveat) {
		/* the copy's path in place of a directory fd and a path */
		regs.orig_rax = __NR_execve;
		regs.rsi = t->args[2];
		regs.rdx = t->args[3];
	}
	regs.rdi = at;
	if (tracee_write(t->space->mem.memfd, at, path, len) < 0 || tracee_set_regs(t->tid, &regs) < 0) {
		diverge(rec, t, "cannot make it exec the log's executable %s", path);
		return -1;
	}
	return 0;
}

int
rec_ep_exec(struct recorder *rec, struct rthread *t)
{
	/* one that failed in the log fails here the same way */
	return t->ep_call && !answered(t) ? prepare_exec(rec, t) : 0;
}

/* Whether another thread of @t's process still has calls of the log to
 * make and can run: in the log's run they came before @t's exit_group,
 * which ended them (a server's worker reading its client's "quit" while
 * main exits: memcached). */
static bool
others_pending(struct recorder *rec, const struct rthread *t)
{
	const struct ep_log *log = rec->ep->log;

	for (size_t i = 0; i < rec->nthreads; i++) {
		const struct rthread *u = &rec->threads[i];
		pid_t log_tid = ep_log_tid(log, u->tid);

		/* (one blocked in the kernel may never wake: not waited for) */
		if (u != t && u->tgid == t->tgid && u->state != RT_ZOMBIE && log_tid &&
		    ep_log_call(log, log_tid, ep_log_taken(log, log_tid)) &&
		    sched_state_of(rec->sched, u->tid) == SCHED_RUNNABLE)
			return true;
	}
	return false;
}

bool
rec_ep_exit_group_wait(struct recorder *rec, struct rthread *t)
{
	if (t->nr == __NR_exit_group && others_pending(rec, t)) {
		/* held at its entry: the others go first (sched_pick()
		 * gives this thread back only when none of them can run) */
		t->state = RT_AT_ENTRY;
		t->ep_exit_held = true;
		sched_set_state(rec->sched, t->tid, SCHED_RUNNABLE);
		sched_yield_current(rec->sched);
		sched_pick(rec->sched);
		return true;
	}
	/* an epoch's end at it (the TP run's at the program's exit_group,
	 * rec_epoch_end_at_exit(), or at a thread's exit(2)): parked at its
	 * entry as at any call's; looked at again when let go */
	if (rec_ep_park(rec, t, true)) {
		t->ep_exit_held = true;
		return true;
	}
	return false;
}

bool
rec_ep_issue(struct recorder *rec, struct rthread *t)
{
	const struct ep_call *c = t->ep_call;
	struct user_regs_struct regs = t->regs;
	uint64_t addr;

	/* an exit_group held for the others' last calls: again, or it goes
	 * as rec_after_entry() lets it */
	if (t->ep_exit_held) {
		if (rec_ep_exit_group_wait(rec, t))
			return true;
		t->ep_exit_held = false;
		if (t->nr == __NR_exit)
			rec_ep_note_exit(rec, t);
		t->state = RT_RUNNING;
		rec_resume(t, PTRACE_CONT, 0);
		return true;
	}
	if (!c)
		return false; /* not matched: it runs */
	/* one the kernel runs, unless it failed there, having changed
	 * nothing: it fails here the same way */
	if (!answered(t)) {
		if (t->nr == __NR_mmap && prepare_mmap(rec, t, c) < 0)
			return true;
		if (waits_live(t) && prepare_wait(rec, t, c) < 0)
			return true;
		/* a re-run's processes have the log's ids (record-ep-live.c) */
		if (rec->ep->live && sc_is_clone((long)t->nr) && rec_ep_live_clone_entry(rec, t, c) < 0)
			return true;
		return false;
	}
	/* lock-step: its exit is still to come (the TP thread stood in it
	 * at the epoch's end) */
	while (!c->exited && rec_ep_more(rec, "a call's exit not logged yet"))
		;
	if (!c->exited) {
		/* it never returned there: the thread was killed in it (another
		 * thread's exit_group). It waits here too, in pause(2), which
		 * the same end interrupts; seccomp(2) runs no second stop for
		 * the number changed at this one (Linux 4.8) */
		regs.orig_rax = __NR_pause;
		if (tracee_set_regs(t->tid, &regs) < 0)
			return true; /* vanished: its end comes through waitpid */
		t->may_block = true;
		return false;
	}
	if (ep_call_outputs(c, t->space->mem.memfd, &addr) < 0) {
		diverge(rec, t, "cannot write the log's output at 0x%" PRIx64, addr);
		return true;
	}
	/* skipped, returning the log's result: an interrupted call's
	 * -ERESTART* too, which its exit hands to the kernel's restart
	 * (answer_exit()) */
	regs.orig_rax = (uint64_t)-1;
	regs.rax = (uint64_t)c->result;
	if (tracee_set_regs(t->tid, &regs) < 0)
		return true; /* vanished: its end comes through waitpid */
	/* answered at once: it does not wait for anything here */
	t->may_block = false;
	rec_run_syscall(rec, t);
	return true;
}

/*
 * Raise the log's signals of @t's call @c that come after its exit, with
 * the log's siginfo: @t stands at the exit stop. One its mask lets in the
 * kernel delivers on the way out (rec_on_signal() takes it as one raised
 * during the syscall, pending at its exit, as the recorder raises a
 * deferred one: rec_raise_during_syscall()); one the log shows blocked
 * until an untraced rt_sigreturn (TRACE_SIGNAL_AT_UNBLOCK) stays pending
 * until then, noted in sent_blocked. The kernel delivers them in its order
 * (signal(7): lowest number first), which is the log's: the same set is
 * pending. The first is the thread's injecting signal, the others are
 * known by rec_ep_drop_signal().
 */
static void
raise_at_exit(struct recorder *rec, struct rthread *t, const struct ep_call *c)
{
	uint64_t own_mask, mask;
	int r;

	if (!c->nexit || t->ep_signalled == c)
		return;
	t->ep_signalled = c;
	if (tracee_get_sigmask(t->tid, &own_mask) < 0)
		return; /* vanished: its end comes through waitpid */
	/* A wait with a temporary mask (sigsuspend, ppoll, pselect6 & co.)
	 * that a signal interrupted: the kernel keeps that mask until the
	 * signal's delivery, which the call answered from the log did not
	 * install. Installed here; the delivery puts the thread's own back
	 * (rec_ep_wait_delivered()), as replay's deliver_injected() does. */
	r = sc_wait_mask((long)t->model_nr, t->model_args, c->result, rec_tracee_mem_read, &t->tid,
			 &mask);
	if (r < 0) {
		diverge(rec, t, "cannot read the mask it waited with");
		return;
	}
	if (r == 0)
		mask = own_mask;
	else if (tracee_set_sigmask(t->tid, mask) < 0)
		return; /* vanished */
	t->ep_wait_due = r > 0;
	t->ep_own_mask = own_mask;
	for (uint32_t i = 0; i < c->nexit; i++) {
		const struct ep_signal *s = &c->sigs[i];
		uint64_t bit = 1ull << (s->sig - 1);

		if (s->kind == TRACE_SIGNAL_AT_UNBLOCK) {
			if (!(mask & bit)) {
				diverge(rec, t, "the log's signal %d waited blocked after it, this "
					"run's mask lets it in", s->sig);
				return;
			}
			t->sent_blocked |= bit;
		}
	}
	t->ep_sig_next = 1;
	t->injecting_late = true;
	t->injecting_sig = c->sigs[0].sig;
	memcpy(&t->injecting_info, c->sigs[0].info, sizeof(t->injecting_info));
	for (uint32_t i = 0; i < c->nexit; i++)
		if (syscall(SYS_tgkill, t->tgid, t->tid, c->sigs[i].sig) < 0)
			log_debug("thread %d vanished before its signal", t->tid);
}

/*
 * The exit of @t's call answered from the log. An interrupted one
 * (-ERESTARTSYS and the like) gets its number back in orig_rax, which the
 * skip cleared: the kernel's signal delivery then restarts it, turns it
 * into -EINTR or into restart_syscall(2) as it did in the log's run
 * (arch_do_signal_or_restart(), handle_signal(): they read orig_ax and
 * ax after the syscall-exit stop), by the disposition of the signal the
 * log delivered there (rec_ep_exit_signals()).
 */
static void
answer_exit(struct rthread *t, const struct ep_call *c)
{
	if (c->exited && sc_result_restarts(c->result)) {
		t->regs.orig_rax = t->nr;
		t->regs.rax = (uint64_t)c->result;
		if (tracee_set_regs(t->tid, &t->regs) < 0)
			return; /* vanished: its end comes through waitpid */
	}
}

void
rec_ep_wait_delivered(struct recorder *rec, struct rthread *t, enum tracee_delivery how)
{
	t->ep_wait_due = false;
	if (how == TRACEE_DELIVERY_RUNNING)
		return; /* the process ends or stops */
	if (sc_emulate_own_mask(t->tid, t->space->mem.memfd, how == TRACEE_DELIVERY_HANDLER,
				t->ep_own_mask) < 0)
		diverge(rec, t, "cannot give it its own signal mask back after the log's signal");
}

bool
rec_ep_entry_signal_due(const struct rthread *t, const struct ep_call *c)
{
	return c && c->nexit < c->nsigs && t->ep_entry_given != c;
}

/* Whether @t stands at the entry signal @s came instead of: the same
 * call at the same instruction, the stack as deep. */
static bool
at_signal_entry(const struct rthread *t, const struct ep_signal *s)
{
	return s->rip == t->regs.rip && s->nr == t->regs.orig_rax && s->rsp == t->regs.rsp;
}

bool
rec_ep_signal_at_entry(struct recorder *rec, struct rthread *t)
{
	const struct ep_call *c = t->ep_call;

	/* after those at the call's exit, raised there first, and at the
	 * entry the log's came at: not one the handlers of those make (they
	 * made buffered calls in the log's run, which the log holds after
	 * the signal; here they go traced while the signal is due) */
	if (!rec_ep_entry_signal_due(t, c) ||
	    (c->nexit && (t->ep_signalled != c || !at_signal_entry(t, &c->sigs[c->nexit]))))
		return false;
	t->ep_signalled = c;
	t->ep_entry_given = c;
	if (t->deferred_sig) {
		diverge(rec, t, "a signal of this run is due at the syscall the log's %d comes at",
			c->sigs[c->nexit].sig);
		return true;
	}
	t->deferred_sig = c->sigs[c->nexit].sig;
	memcpy(&t->deferred_info, c->sigs[c->nexit].info, sizeof(t->deferred_info));
	rec_inject_at_syscall(rec, t);
	return true;
}

int
rec_ep_restart_call(struct recorder *rec, struct rthread *t)
{
	int status, sig;

	/* a signal that comes first stops it before its syscall instruction
	 * (on its way back to user code): as any this run did not send, the
	 * log's are (rec_ep_drop_signal()); resumed without it, it makes the
	 * call. A re-run's is kept for its delivery: while it follows the log
	 * (rec_ep_live_keep_signal()), or once live, as any signal of an UP
	 * recording (rec_defer_signal()). Bounded: a flood of them ends it as
	 * a failure. */
	for (int tries = 0; tries < 256; tries++) {
		tracee_resume(t->tid, PTRACE_CONT, 0);
		if (tracee_wait(t->tid, &status) < 0)
			return -ESRCH;
		switch (tracee_classify(status, &sig)) {
		case TRACEE_STOP_SECCOMP:
			return 0;
		case TRACEE_STOP_SIGNAL: {
			siginfo_t si;

			/* a plain EP run's: dropped */
			if ((rec->ep && !rec->ep->live) || ptrace(PTRACE_GETSIGINFO, t->tid, 0, &si) < 0)
				continue;
			if (rec->ep)
				rec_ep_live_keep_signal(rec, t, &si);
			else if (rec_defer_signal(t, &si) < 0)
				/* gone live (a connection given, record-ep-live.c):
				 * the program's own, kept for its next point */
				log_warn("thread %d: signal %d lost (out of memory)", t->tid, si.si_signo);
			continue;
		}
		default:
			return -EIO;
		}
	}
	return -EIO;
}

bool
rec_ep_drop_signal(struct recorder *rec, struct rthread *t, int sig, siginfo_t *si)
{
	const struct ep_call *c = t->ep_signalled;

	/* one of the log's raised with the first at a call's exit
	 * (raise_at_exit()): its siginfo is the log's */
	for (uint32_t i = c ? t->ep_sig_next : 0; c && i < c->nexit; i++)
		if (c->sigs[i].sig == sig) {
			memcpy(si, c->sigs[i].info, sizeof(*si));
			t->ep_sig_next = i + 1;
			return false;
		}
	/* A timer's, a child's exit (SIGCHLD), one another thread or process
	 * sent: the log's run had its own, delivered where the log says (the
	 * calls that arm timers, send signals or wait for children are
	 * answered from the log or wait for the log's child). */
	log_debug("thread %d: %s of this run left out, the log's are delivered", t->tid,
		  strsignal(sig));
	/* a re-run: one from outside comes again once it went live */
	if (rec->ep->live)
		rec_ep_live_keep_signal(rec, t, si);
	rec_resume(t, t->state == RT_IN_SYSCALL ? PTRACE_SYSCALL : PTRACE_CONT, 0);
	return true;
}

int
rec_ep_exit(struct recorder *rec, struct rthread *t)
{
	const struct ep_call *c = t->ep_call;
	int64_t got = (int64_t)t->regs.rax;
	uint64_t addr;

	if (t->live_clone)
		rec_ep_live_clone_exit(rec, t);
	if (!c)
		return 0; /* not matched */
	if (c->exited && c->nvalues >= 4 && c->values[3] && c->nr != __NR_mmap &&
	    shared_written(rec, (uint32_t)(c->values[3] - 1)) < 0) {
		diverge(rec, t, "cannot load the log's file %" PRIu64 " for its shared mappings",
			c->values[3] - 1);
		return -1;
	}
	if (answered(t)) {
		answer_exit(t, c);
		return 0;
	}
	/* a live wait a signal of this run's own interrupted (a child's
	 * SIGCHLD, which the EP run drops: the log's signals come at their
	 * calls), or a fork or clone (-ERESTARTNOINTR: `xargs -P2` forking
	 * while a child ended, "it failed here (Unknown error 513)"): the
	 * kernel restarts it, and the restart is this call of the
	 * log's again. It restarts with the registers as they stand: the
	 * program's arguments go back (prepare_wait() rewrites them again
	 * at the restart's entry), or that entry would show this run's id of
	 * the child, which the replay does not have ("syscall wait4 argument
	 * 0 is 0x5b23, recorded 0x5b2d": tp-reach-python-mp, 1 in 30) */
	if ((waits_live(t) || sc_is_clone((long)t->nr)) && sc_result_restarts(got)) {
		t->ep_restart = c;
		for (int i = 0; i < 6; i++)
			arch_set_syscall_arg(&t->regs, i, t->args[i]);
		if (tracee_set_regs(t->tid, &t->regs) < 0)
			log_debug("thread %d vanished at its syscall exit", t->tid);
		return 0;
	}
	switch (t->nr) {
	case __NR_mmap:
	case __NR_mremap:
	case __NR_brk:
		if (got != c->result) {
			diverge(rec, t, "it returned 0x%" PRIx64 ", the log's 0x%" PRIx64, (uint64_t)got,
				(uint64_t)c->result);
			return -1;
		}
		break;
	case __NR_wait4:
	case __NR_waitid:
		if (got < 0 || (t->nr == __NR_wait4 && got != ep_log_tid_of(rec->ep->log, reaped(c)))) {
			diverge(rec, t, "it returned %" PRId64 " waiting for the log's child %d", got,
				reaped(c));
			return -1;
		}
		break;
	default:
		/* a call that failed here did not do what the log's did */
		if (got < 0 && got >= -4095) {
			diverge(rec, t, "it failed here (%s), not in the log", strerror((int)-got));
			return -1;
		}
		break;
	}
	/* ids it returns or the kernel wrote (clone's tid words) read as
	 * the log's, which the program sees; arguments rewritten (mmap) as
	 * the program left them */
	if (t->nr != __NR_mmap && sc_emulate_outputs(t->space->mem.memfd, c->out, c->nout, &addr) < 0) {
		diverge(rec, t, "cannot write the log's output at 0x%" PRIx64, addr);
		return -1;
	}
	if (t->nr != __NR_rt_sigreturn)
		t->regs.rax = (uint64_t)c->result;
	for (int i = 0; i < 6 && !sc_is_exec((long)t->nr) && t->nr != __NR_rt_sigreturn; i++)
		arch_set_syscall_arg(&t->regs, i, t->args[i]);
	if (tracee_set_regs(t->tid, &t->regs) < 0)
		log_debug("thread %d vanished at its syscall exit", t->tid);
	return 0;
}

void
rec_ep_exit_signals(struct recorder *rec, struct rthread *t, bool wait)
{
	const struct ep_call *c = t->ep_call;
	pid_t log_tid;

	if (!c || t->ep_signalled == c)
		return;
	/* Lock-step: a TP run's epoch end at this exit (the call had ended)
	 * is logged before the signals the kernel delivered there once the
	 * TP thread went on from its checkpoint (the SIGPIPE of a write to a
	 * pipe with no reader). Read on for them; a thread that parks here
	 * at its end raises them when it is let go (record-ep-check.c),
	 * so that the epoch's check does not wait for the TP run's next one.
	 * Going on without them, the EP run took another path than the log's
	 * (sig_unblock thread, --epoch=5: 10 recordings of 40 diverged, at
	 * the handler's first call or at the line its handler's stage shows). */
	log_tid = ep_log_tid(rec->ep->log, t->tid);
	while (!ep_log_exit_settled(rec->ep->log, log_tid, c))
		if (!wait || !rec_ep_more(rec, "the signals after a call's exit not logged yet"))
			break;
	if (wait || ep_log_exit_settled(rec->ep->log, log_tid, c))
		raise_at_exit(rec, t, c);
}

bool
rec_ep_site_stub(const struct recorder *rec, uint64_t start, uint64_t *ret_stub)
{
	return rec->ep && ep_log_site_stub(rec->ep->log, start, ret_stub);
}

bool
rec_ep_traced_here(const struct recorder *rec, const struct rthread *t)
{
	const struct ep_call *c = t->ep_restart;
	pid_t log_tid;

	if (!rec->ep || !(log_tid = ep_log_tid(rec->ep->log, t->tid)))
		return false;
	/* past the buffered calls made before it whose records the EP run
	 * has not taken yet (they are taken as its buffer is flushed) */
	for (size_t i = 0; !c && (c = ep_log_peek(rec->ep->log, log_tid, i)); i++)
		if (c->buffered)
			c = NULL;
	return c && c->nr == (long)t->regs.orig_rax && c->rip == t->regs.rip;
}

bool
rec_ep_exit_event(struct recorder *rec, struct rthread *t, struct trace_event *ev)
{
	const struct ep_call *c = t->ep_call;

	if (!answered(t))
		return false;
	/* Where its bytes went, and the bytes not in memory, as the log's run
	 * saw them: its fds are the log's, which this process does not have
	 * (an fd number here may be a kept copy that replay's way of mapping
	 * opened). No file is kept, as the call wrote none here. */
	for (uint32_t i = 0; i < c->nsent; i++) {
		struct trace_event sent = c->sent[i];

		sent.tid = (uint32_t)t->tid;
		if (rec_write_event(rec, &sent) < 0)
			return true;
	}
	if (c->nvalues >= 3 && c->values[2]) {
		ev->values[2] = c->values[2];
		ev->nvalues = 3;
	}
	if (c->nvalues >= 4 && c->values[3]) {
		/* the version of a file it wrote that processes map shared:
		 * replay loads it into their mapping (shared_written()) */
		if (ev->nvalues < 3)
			ev->values[2] = 0;
		ev->values[3] = c->values[3];
		ev->nvalues = 4;
	}
	return true;
}

int
rec_ep_clone(struct recorder *rec, const struct rthread *parent, const struct rthread *child)
{
	const struct ep_call *c = parent->ep_call;
	uint64_t flags = sc_clone_flags((long)parent->model_nr, parent->model_args);
	uint32_t log_tid;

	if (!c || !c->child) {
		diverge(rec, parent, "it created a thread or process, the log's call did not");
		return -1;
	}
	log_tid = (uint32_t)c->child;
	/* the id words the kernel wrote hold the log's id, as replay writes
	 * the recorded one (replay/threads.c): glibc waits on them (join) */
	if (((flags & CLONE_PARENT_SETTID) &&
	     tracee_write(parent->space->mem.memfd, parent->model_args[2], &log_tid, sizeof(log_tid)) < 0) ||
	    ((flags & CLONE_CHILD_SETTID) &&
	     tracee_write(child->space->mem.memfd, parent->model_args[3], &log_tid, sizeof(log_tid)) < 0)) {
		diverge(rec, parent, "cannot write the new thread's id");
		return -1;
	}
	return ep_log_map_tid(rec->ep->log, child->tid, c->child);
}

void
rec_ep_name_threads(const struct recorder *rec, struct trace_event *ev)
{
	pid_t log_tid = ep_log_tid(rec->ep->log, (pid_t)ev->tid);

	if (log_tid)
		ev->tid = (uint32_t)log_tid;
	if (ev->type == TRACE_EV_THREAD_START && ev->nvalues >= 1 &&
	    (log_tid = ep_log_tid(rec->ep->log, (pid_t)ev->values[0])))
		ev->values[0] = (uint64_t)log_tid;
	if (ev->type == TRACE_EV_EXEC && ev->nvalues >= 3 &&
	    (log_tid = ep_log_tid(rec->ep->log, (pid_t)ev->values[2])))
		ev->values[2] = (uint64_t)log_tid;
}


void
rec_ep_tsc(struct recorder *rec, struct rthread *t, const struct user_regs_struct *before)
{
	pid_t log_tid = ep_log_tid(rec->ep->log, t->tid);
	uint64_t v[3];

	if (!log_tid)
		return;
	while (ep_log_take_tsc(rec->ep->log, log_tid, v) < 0) {
		if (rec_ep_more(rec, "an rdtsc not logged yet"))
			continue;
		log_debug("thread %d: an rdtsc the log's thread did not make: this run's value", t->tid);
		return;
	}
	t->regs.rax = v[0];
	t->regs.rdx = v[1];
	/* rdtscp's processor id (rdtsc leaves rcx as it was) */
	if (t->regs.rcx != before->rcx)
		t->regs.rcx = v[2];
}


struct ep_log *
rec_ep_log(struct recorder *rec)
{
	return rec->ep->log;
}
