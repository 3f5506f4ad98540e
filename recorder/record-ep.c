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
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint/dirty.h"
#include "checkpoint/process.h"
#include "common/log.h"
#include "ep/divergence.h"
#include "ep/ep.h"
#include "recorder/record-private.h"
#include "syscalls/syscalls.h"
#include "trace/trace.h"
#include "tracee/tracee.h"
#include "x86_64/arch.h"

/* A kept file of the log opened in a process of the EP run for its
 * mappings (the fd stays open, as replay's do). */
struct ep_file {
	pid_t tgid;
	uint32_t id;
	int fd;
};

struct rec_ep {
	struct ep_log *log;
	const char *sync_log;	/* rec_options.ep_sync_log */
	struct ep_file *files;
	size_t nfiles, files_cap;
	/* the epochs' checks (rec_ep_park()) */
	const struct rec_ep_checkpoints *ckpts; /* NULL: none */
	struct rec_ep_verdicts *verdicts; /* rec_options.ep_verdicts, or own */
	struct rec_ep_verdicts own;
	uint64_t k;		/* the checkpoint that ends the epoch run now, 0: none */
	bool diverged;		/* an epoch diverged: the later ones are not checked */
	uint64_t progress;	/* syscall entries so far (a stall's measure) */
	uint64_t stall_ns;	/* when nothing could run with threads parked, 0: */
	uint64_t stall_progress; /* and progress then */
	bool started;		/* the first epoch was chosen */
	uint64_t last_k;	/* the checkpoint of the last epoch checked, 0: none */
};

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

int
rec_ep_open(struct recorder *rec, const char *dir, const char *exe, const char *sync_log)
{
	const char *copy;
	char err[512] = "";
	int r;

	rec->ep = calloc(1, sizeof(*rec->ep));
	if (!rec->ep)
		return -ENOMEM;
	rec->ep->sync_log = sync_log;
	r = ep_log_open(dir, &rec->ep->log, err, sizeof(err));
	if (r < 0) {
		log_error("--syscalls-from=%s: %s", dir, err[0] ? err : strerror(-r));
		return r;
	}
	/* the log's addresses, stack and results are those of its program:
	 * another build of it would run the log's answers into a crash */
	r = ep_log_exe(rec->ep->log, &copy);
	if (r >= 0)
		r = same_bytes(exe, copy);
	if (r <= 0) {
		log_error("--syscalls-from=%s: %s is not the program the log ran%s%s", dir, exe,
			  r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
		return -EINVAL;
	}
	return 0;
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
	ep_log_free(rec->ep->log);
	free(rec->ep->files);
	free(rec->ep);
	rec->ep = NULL;
}

/* Stop at a divergence of @t's syscall from the log, saying what differs. */
static void
diverge(struct recorder *rec, const struct rthread *t, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
diverge(struct recorder *rec, const struct rthread *t, const char *fmt, ...)
{
	char why[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	rec->ep_diverged = true;
	rec_stop_recording(rec, "divergence from the log: thread %d (the log's %d), syscall %s: %s",
			   t->tid, ep_log_tid(rec->ep->log, t->tid), sc_name((long)t->nr) ?: "?", why);
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
	int r;

	r = log_tid ? ep_log_take_exec(rec->ep->log, log_tid, &stack, &log_regs, &copy) : -ENOENT;
	if (r < 0) {
		diverge(rec, t, "an exec the log's process did not make (%s)", strerror(-r));
		return 0;
	}
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
	if (sc_ep_unmatched((long)t->nr))
		return 0;
	c = log_tid ? ep_log_take(rec->ep->log, log_tid) : NULL;
	if (!c) {
		diverge(rec, t, "the log has no more syscalls of this thread");
		return -1;
	}
	if (ep_call_check(c, (long)t->nr, t->args, rec->blobs, nblobs, why, sizeof(why)) < 0) {
		diverge(rec, t, "%s", why);
		return -1;
	}
	t->ep_call = c;
	return 0;
}

/* The fd in @t's process of kept file @id of the log (or of file @path
 * instead, if not NULL), opened there on first use with an injected openat
 * (@t is at the seccomp stop of a syscall that is skipped meanwhile);
 * -errno on failure. */
static int
file_fd(struct recorder *rec, struct rthread *t, uint32_t id, const char *path)
{
	struct rec_ep *ep = rec->ep;
	struct user_regs_struct skip = t->regs;
	const char *copy;
	int fd, r;

	for (size_t i = 0; i < ep->nfiles; i++)
		if (ep->files[i].tgid == t->tgid && ep->files[i].id == id)
			return ep->files[i].fd;
	r = path ? 0 : ep_log_file(ep->log, id, &copy, NULL);
	if (r < 0)
		return r;
	if (path)
		copy = path;
	if (UTIL_GROW(ep->files, ep->files_cap, ep->nfiles + 1) < 0)
		return -ENOMEM;
	skip.orig_rax = (uint64_t)-1;
	r = tracee_set_regs(t->tid, &skip);
	if (r < 0)
		return r;
	fd = tracee_open_in(t->tid, t->tgid, t->space->mem.memfd, t->regs.rsp, copy, O_RDONLY, NULL, NULL);
	if (fd < 0)
		return fd;
	ep->files[ep->nfiles++] = (struct ep_file){ t->tgid, id, fd };
	return fd;
}

/* Whether @c maps the synchronization-order log the log's run mapped at
 * rec_options.ep_sync_log (tp/tp.c). */
static bool
sync_log_mapping(struct recorder *rec, const struct ep_call *c)
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
	bool sync;
	int fd, status, sig;

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
	sync = sync_log_mapping(rec, c);
	if (sync) {
		/* the interposer's log (UPRR_SYNC_MODE=tp): the TP run's,
		 * finished, privately: it follows it, and FOLLOW never
		 * writes it. Read-only: a writable mapping's pages would be
		 * tracked by every restore point (the EP run of tp_fsum took
		 * 4x the CPU time with a log 4x the size) */
		regs.r10 = (regs.r10 & ~(uint64_t)MAP_TYPE) | MAP_PRIVATE;
		regs.rdx = PROT_READ;
	} else if (((flags & MAP_TYPE) != MAP_PRIVATE && (t->args[2] & PROT_WRITE)) ||
	    (c->nvalues >= 5 && c->values[4])) {
		diverge(rec, t, "a writable shared mapping of a file (or a private one that follows "
			"its changes), which an EP run does not take from a log yet");
		return -1;
	}
	fd = file_fd(rec, t, (uint32_t)(c->values[2] - 1), sync ? rec->ep->sync_log : NULL);
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
		tracee_resume(t->tid, PTRACE_CONT, 0);
		if (tracee_wait(t->tid, &status) < 0 ||
		    tracee_classify(status, &sig) != TRACEE_STOP_SECCOMP ||
		    tracee_get_regs(t->tid, &regs) < 0) {
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

bool
rec_ep_issue(struct recorder *rec, struct rthread *t)
{
	const struct ep_call *c = t->ep_call;
	struct user_regs_struct regs = t->regs;
	uint64_t addr;

	if (!c)
		return false; /* not matched: it runs */
	/* one the kernel runs, unless it failed there, having changed
	 * nothing: it fails here the same way */
	if (!answered(t)) {
		if (t->nr == __NR_mmap && prepare_mmap(rec, t, c) < 0)
			return true;
		if (waits_live(t) && prepare_wait(rec, t, c) < 0)
			return true;
		return false;
	}
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
	if (sc_emulate_outputs(t->space->mem.memfd, c->out, c->nout, &addr) < 0) {
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
	uint64_t mask;

	if (!c->nsigs || c->sigs[0].kind == TRACE_SIGNAL_AT_SYSCALL || t->ep_signalled == c)
		return;
	t->ep_signalled = c;
	if (tracee_get_sigmask(t->tid, &mask) < 0)
		return; /* vanished: its end comes through waitpid */
	for (uint32_t i = 0; i < c->nsigs; i++) {
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
	for (uint32_t i = 0; i < c->nsigs; i++)
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

bool
rec_ep_signal_at_entry(struct recorder *rec, struct rthread *t)
{
	const struct ep_call *c = t->ep_call;

	if (!c || !c->nsigs || c->sigs[0].kind != TRACE_SIGNAL_AT_SYSCALL || t->ep_signalled == c)
		return false;
	t->ep_signalled = c;
	if (t->deferred_sig) {
		diverge(rec, t, "a signal of this run is due at the syscall the log's %d comes at",
			c->sigs[0].sig);
		return true;
	}
	t->deferred_sig = c->sigs[0].sig;
	memcpy(&t->deferred_info, c->sigs[0].info, sizeof(t->deferred_info));
	rec_inject_at_syscall(rec, t);
	return true;
}

bool
rec_ep_drop_signal(struct recorder *rec, struct rthread *t, int sig, siginfo_t *si)
{
	const struct ep_call *c = t->ep_signalled;

	(void)rec;
	/* one of the log's raised with the first at a call's exit
	 * (raise_at_exit()): its siginfo is the log's */
	for (uint32_t i = c ? t->ep_sig_next : 0; c && i < c->nsigs; i++)
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
	rec_resume(t, t->state == RT_IN_SYSCALL ? PTRACE_SYSCALL : PTRACE_CONT, 0);
	return true;
}

int
rec_ep_exit(struct recorder *rec, struct rthread *t)
{
	const struct ep_call *c = t->ep_call;
	int64_t got = (int64_t)t->regs.rax;
	uint64_t addr;

	if (!c)
		return 0; /* not matched */
	if (answered(t)) {
		answer_exit(t, c);
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
rec_ep_exit_signals(struct recorder *rec, struct rthread *t)
{
	if (t->ep_call)
		raise_at_exit(rec, t, t->ep_call);
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

	if (!log_tid || ep_log_take_tsc(rec->ep->log, log_tid, v) < 0) {
		log_debug("thread %d: an rdtsc the log's thread did not make: this run's value", t->tid);
		return;
	}
	t->regs.rax = v[0];
	t->regs.rdx = v[1];
	/* rdtscp's processor id (rdtsc leaves rcx as it was) */
	if (t->regs.rcx != before->rcx)
		t->regs.rcx = v[2];
}

/* ---- the epochs' checks (doc/uniparallel.md, "uprr record --mode=tp") ----
 *
 * With the TP run's checkpoints at hand (rec_options.ep_checkpoints), the
 * epoch that checkpoint k of the log ends (epoch k - 1) is checked when
 * every thread ended it at a syscall: each thread of the EP run stops at
 * its end (rec_ep_park()), the same call after the same matched calls,
 * where sched/ passes it over; when all have, each process is compared
 * with its checkpoint k (ep_check_divergence()) and the verdict goes into
 * the trace (TRACE_EV_EPOCH). The EP run goes on either way: its execution
 * is valid, the trace holds it.
 */

/* How long threads may stand parked while the others cannot run (blocked
 * for good, or gone past their ends unseen) before the epoch is left
 * unchecked. */
#define EP_STALL_NS 200000000ull

void
rec_ep_checks(struct recorder *rec, const struct rec_ep_checkpoints *ckpts,
	      struct rec_ep_verdicts *verdicts)
{
	struct rec_ep *ep = rec->ep;

	ep->ckpts = ckpts && ckpts->find ? ckpts : NULL;
	ep->verdicts = verdicts ? verdicts : &ep->own;
	memset(ep->verdicts, 0, sizeof(*ep->verdicts));
	ep->verdicts->epochs = ep_log_checkpoints(ep->log) + 1;
}

/* The end of thread @log_tid of the log at checkpoint @k, NULL if none. */
static const struct ep_end *
end_at(const struct ep_log *log, pid_t log_tid, uint64_t k)
{
	size_t n, lo = 0, hi;
	const struct ep_end *e = ep_log_ends(log, log_tid, &n);

	for (hi = n; lo < hi;) {
		size_t mid = (lo + hi) / 2;

		if (e[mid].k < k)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && e[lo].k == k ? &e[lo] : NULL;
}

/* Write the verdict @v (1 verified, 0 diverged, 2 not checked) on the epoch
 * that checkpoint @k ends, and flush the frame: a trace cut after it
 * replays to there. */
static void
write_verdict(struct recorder *rec, uint64_t k, uint64_t v)
{
	struct trace_event ev;

	/* named by the log's id of the first process (rec_ep_name_threads()) */
	rec_event_init(&ev, TRACE_EV_EPOCH, rec->root);
	ev.nvalues = 4;
	ev.values[0] = k;
	ev.values[1] = v;
	if (rec_write_event(rec, &ev) < 0)
		return;
	if (trace_writer_flush(rec->w) < 0)
		rec_stop_recording(rec, "%s", "cannot write the trace");
}

/* The checkpoint @k of the process whose copy is @copy_pid, found by the
 * log's id of one of its threads (the keeper's is its process's id), NULL
 * if not kept; its pages written into *@ret_written. */
static struct checkpoint_copy *
find_copy(const struct rec_ep *ep, uint64_t k, pid_t copy_pid, const struct dirty_pages **ret_written)
{
	for (size_t i = 0; i < ep_log_nthreads(ep->log); i++) {
		pid_t log_tid = ep_log_thread(ep->log, i);
		const struct ep_end *e = end_at(ep->log, log_tid, k);
		struct checkpoint_copy *c;

		if (!e || e->copy != copy_pid)
			continue;
		c = ep->ckpts->find(ep->ckpts->arg, k, log_tid, ret_written);
		if (c && checkpoint_copy_pid(c) == copy_pid)
			return c;
	}
	return NULL;
}

/* Whether the epoch that checkpoint @k ends can be checked: NULL, or why
 * not; *@ret_thinned: its checkpoint was not kept (the keeper's cap), it
 * runs on into the next. */
static const char *
unchecked_why(const struct rec_ep *ep, uint64_t k, bool *ret_thinned)
{
	bool any = false;

	*ret_thinned = false;
	if (ep->diverged)
		return "after a divergence, its checkpoints are the diverged TP run's";
	/* The loader's start keeps what cpuid(1) says, the initial APIC id of
	 * the CPU it ran on included (glibc's cpu_features, in ld.so's data
	 * until made read-only): uprr does not record cpuid, and the EP run's
	 * CPU is not the TP run's. Seen: 0x01020800 in the TP run, 0x00020800
	 * in the EP run. */
	if (k == 1)
		return "it runs the loader's start, which keeps cpuid(1)'s APIC id (cpuid is not recorded)";
	for (size_t i = 0; i < ep_log_nthreads(ep->log); i++) {
		const struct ep_end *e = end_at(ep->log, ep_log_thread(ep->log, i), k);

		if (!e)
			continue;
		any = true;
		if (e->at == EP_END_USER)
			return "a thread ended it in user code, which an EP run does not find yet";
		if (e->at == EP_END_UNKNOWN)
			return "a thread ended it right after a futex call";
		if (!e->copy)
			return "a process was not copied";
		if (!find_copy(ep, k, e->copy, NULL)) {
			*ret_thinned = true;
			return "its checkpoint was not kept";
		}
	}
	return any ? NULL : "no thread ended it";
}

/* Move on to the next epoch that can be checked (ep->k: the checkpoint
 * that ends it; 0: none left); those passed over get their verdict now. */
static void
next_epoch(struct recorder *rec)
{
	struct rec_ep *ep = rec->ep;

	while (!rec->done) {
		const char *why;
		bool thinned;

		if (++ep->k > ep_log_checkpoints(ep->log)) {
			ep->k = 0;
			return;
		}
		why = unchecked_why(ep, ep->k, &thinned);
		if (!why)
			return;
		if (thinned) {
			ep->verdicts->merged++;
			log_debug("epoch %" PRIu64 ": %s, it is checked with the next", ep->k - 1, why);
			continue;
		}
		ep->verdicts->unchecked++;
		log_debug("epoch %" PRIu64 " not checked: %s", ep->k - 1, why);
		write_verdict(rec, ep->k, 2);
	}
}

/* Whether @t (the log's @log_tid), at a syscall's entry (@entry) or after
 * its exit, stands at its end @e. */
static bool
at_end(const struct rec_ep *ep, const struct rthread *t, pid_t log_tid, const struct ep_end *e,
       bool entry)
{
	size_t taken = ep_log_taken(ep->log, log_tid);

	switch (e->at) {
	case EP_END_ENTRY:
	case EP_END_EXIT:
		return entry == (e->at == EP_END_ENTRY) && t->ep_call && taken == e->idx + 1 &&
		       t->ep_call == ep_log_call(ep->log, log_tid, e->idx);
	case EP_END_FUTEX:
		if (!entry || t->ep_call || taken != e->idx || (long)t->nr != e->nr ||
		    t->regs.rip != e->rip)
			return false;
		for (int i = 0; i < sc_nargs(e->nr); i++)
			if (t->args[i] != e->args[i])
				return false;
		return true;
	default:
		return false;
	}
}

/* Whether thread @log_tid went past its end @e (a matched call after it). */
static bool
passed(const struct rec_ep *ep, pid_t log_tid, const struct ep_end *e)
{
	size_t taken = ep_log_taken(ep->log, log_tid);

	return e->at == EP_END_FUTEX ? taken > e->idx : taken > e->idx + 1;
}

/* Every thread with an end at ep->k stands parked at it, and no other runs. */
static bool
all_parked(const struct recorder *rec)
{
	const struct rec_ep *ep = rec->ep;

	for (size_t i = 0; i < ep_log_nthreads(ep->log); i++) {
		pid_t log_tid = ep_log_thread(ep->log, i);
		const struct rthread *t;

		if (!end_at(ep->log, log_tid, ep->k))
			continue;
		t = rec_find_thread((struct recorder *)rec, ep_log_tid_of(ep->log, log_tid));
		if (!t || !t->ep_parked)
			return false;
	}
	for (size_t i = 0; i < rec->nthreads; i++)
		if (!rec->threads[i].ep_parked && rec->threads[i].state != RT_ZOMBIE)
			return false;
	return true;
}

/* Let the parked threads go on, but those that stand at their end of the
 * epoch now run (a call interrupted at two ends in a row). */
static void
let_go(struct recorder *rec)
{
	struct rec_ep *ep = rec->ep;

	for (size_t i = 0; i < rec->nthreads; i++) {
		struct rthread *t = &rec->threads[i];
		pid_t log_tid = ep_log_tid(ep->log, t->tid);
		const struct ep_end *e = ep->k ? end_at(ep->log, log_tid, ep->k) : NULL;

		if (!t->ep_parked || (e && at_end(ep, t, log_tid, e, t->ep_parked_entry)))
			continue;
		t->ep_parked = false;
		sched_set_state(rec->sched, t->tid, SCHED_RUNNABLE);
	}
}

void
rec_ep_space_free(struct rspace *sp)
{
	if (sp->ckpt && checkpoint_dirty_log(sp->ckpt)->acc == sp->ep_written)
		checkpoint_dirty_log(sp->ckpt)->acc = NULL;
	if (sp->ep_written)
		dirty_pages_fini(sp->ep_written);
	free(sp->ep_written);
	sp->ep_written = NULL;
}

/* From the check of the epoch ep->k ends on (or the start), each address
 * space's restore points' dirty log keeps the pages written (dirty.h's
 * acc) for the next check; one with no restore point yet has none (its
 * next check compares every writable page). */
static void
start_written(struct recorder *rec)
{
	for (size_t i = 0; i < rec->nthreads; i++) {
		struct rspace *sp = rec->threads[i].space;

		if (!sp)
			continue;
		sp->ep_since = rec->ep->k;
		if (!sp->ckpt) {
			sp->ep_since = UINT64_MAX;
			continue;
		}
		if (!sp->ep_written && !(sp->ep_written = calloc(1, sizeof(*sp->ep_written)))) {
			sp->ep_since = UINT64_MAX;
			continue;
		}
		sp->ep_written->n = 0;
		checkpoint_dirty_log(sp->ckpt)->acc = sp->ep_written;
	}
}

static int
cmp_run(const void *a, const void *b)
{
	const struct checkpoint_range *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* The pages process @sp wrote since the last check into @ret (sorted,
 * disjoint): those its restore points protected again meanwhile
 * (ep_written) and those written since. False if they are not known: no
 * restore point kept them all (none yet, a new one, a remap due). */
static bool
b_written(const struct rec_ep *ep, struct rspace *sp, struct dirty_pages *ret)
{
	struct dirty_log *dl = sp->ckpt ? checkpoint_dirty_log(sp->ckpt) : NULL;
	struct dirty_pages cur = { 0 }, acc = { 0 };
	bool ok;

	if (!dl || !sp->ep_written || dl->acc != sp->ep_written || sp->ep_since != ep->last_k ||
	    sp->need_remap)
		return false;
	/* sorted and merged: the walks appended them in their order */
	qsort(sp->ep_written->v, sp->ep_written->n, sizeof(*sp->ep_written->v), cmp_run);
	for (size_t i = 0; i < sp->ep_written->n; i++) {
		const struct checkpoint_range *r = &sp->ep_written->v[i];

		if (acc.n && acc.v[acc.n - 1].addr + acc.v[acc.n - 1].len >= r->addr) {
			uint64_t end = MAX(acc.v[acc.n - 1].addr + acc.v[acc.n - 1].len, r->addr + r->len);

			acc.v[acc.n - 1].len = end - acc.v[acc.n - 1].addr;
			continue;
		}
		if (UTIL_GROW(acc.v, acc.cap, acc.n + 1) < 0) {
			dirty_pages_fini(&acc);
			return false;
		}
		acc.v[acc.n++] = *r;
	}
	/* written since the last sync: not protected, listed without */
	dl->acc = NULL;
	ok = dirty_log_written(dl, false, &cur) >= 0 && dirty_pages_union(&acc, &cur, ret) >= 0;
	dl->acc = sp->ep_written;
	dirty_pages_fini(&acc);
	dirty_pages_fini(&cur);
	return ok;
}

/* The pages the TP run's process wrote from the last check's checkpoint to
 * checkpoint ep->k (the log's process @log_pid), into @ret: the union of
 * each checkpoint's pages written in the epoch before it (a checkpoint the
 * keeper freed gave its own to the next one kept). False if not known
 * (a process's first checkpoint). */
static bool
a_written(const struct rec_ep *ep, pid_t log_pid, struct dirty_pages *ret)
{
	struct dirty_pages u = { 0 };

	if (!ep->last_k)
		return false;
	for (uint64_t j = ep->last_k + 1; j <= ep->k; j++) {
		const struct ep_end *e = end_at(ep->log, log_pid, j);
		const struct dirty_pages *w = NULL;
		struct dirty_pages next = { 0 };

		if (!e || !e->copy) {
			dirty_pages_fini(&u);
			return false;
		}
		if (!find_copy(ep, j, e->copy, &w))
			continue; /* freed: its pages are the next one's */
		if (!w || dirty_pages_union(&u, w, &next) < 0) {
			dirty_pages_fini(&u);
			dirty_pages_fini(&next);
			return false;
		}
		dirty_pages_fini(&u);
		u = next;
	}
	*ret = u;
	return true;
}

/* Every writable page of process @pid but the kernel's special mappings,
 * appended to @ret. */
static int
writable_pages(pid_t pid, struct dirty_pages *ret)
{
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	size_t n = 0;
	int r = tracee_read_maps(pid, &maps, &n);

	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const struct tracee_mapping *m = &maps[i];

		if (m->perms[1] != 'w' || (m->path[0] == '[' && strcmp(m->path, "[heap]") != 0 &&
					    strcmp(m->path, "[stack]") != 0))
			continue;
		if (UTIL_GROW(ret->v, ret->cap, ret->n + 1) < 0)
			return -ENOMEM;
		ret->v[ret->n++] = (struct checkpoint_range){ .addr = m->start, .len = m->end - m->start };
	}
	return 0;
}

/* The writable segments (PT_LOAD with PF_W: its data and bss) of the ELF
 * file at @path loaded at @base, appended to @v. */
static int
elf_data(const char *path, uint64_t base, struct checkpoint_range **v, size_t *n, size_t *cap)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf64_Ehdr eh;
	Elf64_Phdr ph;

	if (fd < 0)
		return -errno;
	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) || eh.e_phentsize != sizeof(ph))
		return -ENOEXEC;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))) != (ssize_t)sizeof(ph))
			return -ENOEXEC;
		if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_W))
			continue;
		if (UTIL_GROW(*v, *cap, *n + 1) < 0)
			return -ENOMEM;
		(*v)[(*n)++] = (struct checkpoint_range){ base + ph.p_vaddr, ph.p_memsz };
	}
	return 0;
}

/* uprr's own memory in EP process @pid (not the program's state; it
 * differs from the TP run's by design), appended to @v: the
 * interposer's log, mapped privately and read-only here, shared and
 * written there; the interposer's data and bss (libuprr-sync.so runs in
 * mode tp in the TP run and FOLLOW here: sync_mode and tp_mode differ). */
static int
own_ranges(const struct rec_ep *ep, pid_t pid, struct checkpoint_range **v, size_t *n, size_t *cap)
{
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	size_t nmaps = 0;
	int r = tracee_read_maps(pid, &maps, &nmaps);

	if (r < 0)
		return r;
	for (size_t i = 0; i < nmaps; i++) {
		const struct tracee_mapping *m = &maps[i];

		const char *base = strrchr(m->path, '/');

		if (base && strstr(base, "libuprr-sync.so") && m->offset == 0) {
			r = elf_data(m->path, m->start, v, n, cap);
			if (r < 0)
				return r;
			continue;
		}
		if (!ep->sync_log || strcmp(m->path, ep->sync_log) != 0)
			continue;
		if (UTIL_GROW(*v, *cap, *n + 1) < 0)
			return -ENOMEM;
		(*v)[(*n)++] = (struct checkpoint_range){ m->start, m->end - m->start };
	}
	return 0;
}

/* The dead part of each thread's stack in process @pid (threads @tids,
 * @n of them, stopped): below its stack pointer's red zone, down to the
 * start of the mapping it is in. The ABI leaves it to whatever runs next
 * (a signal handler's frame, a callee's): it holds what code that ran and
 * returned left there, which differs between the two runs by design
 * (libuprr-sync.so takes other paths in the TP run and in FOLLOW mode).
 * Appended to @v. */
static int
dead_stacks(pid_t pid, const pid_t *tids, size_t n, struct checkpoint_range **v, size_t *nv,
	    size_t *cap)
{
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	size_t nmaps = 0;
	int r = tracee_read_maps(pid, &maps, &nmaps);

	for (size_t i = 0; i < n && r >= 0; i++) {
		struct user_regs_struct regs;
		uint64_t low;

		if (tracee_get_regs(tids[i], &regs) < 0)
			continue;
		low = regs.rsp - 128;
		for (size_t j = 0; j < nmaps; j++) {
			if (regs.rsp < maps[j].start || regs.rsp >= maps[j].end || maps[j].start >= low)
				continue;
			if (UTIL_GROW(*v, *cap, *nv + 1) < 0)
				return -ENOMEM;
			(*v)[(*nv)++] = (struct checkpoint_range){ maps[j].start, low - maps[j].start };
		}
	}
	return r;
}

/* The log's kept copies of files that process @tgid maps in place of the
 * originals the TP run mapped, into *@ret (@n of them; paths in @paths,
 * PATH_MAX each). */
static int
file_aliases(const struct rec_ep *ep, pid_t tgid, struct ep_file_alias **ret, size_t *n,
	     char (**paths)[PATH_MAX])
{
	size_t cap = 0, pcap = 0;

	for (size_t i = 0; i < ep->nfiles; i++) {
		const char *copy, *original;
		struct stat st;

		if (ep->files[i].tgid != tgid ||
		    ep_log_file(ep->log, ep->files[i].id, &copy, &original) < 0 || !original ||
		    stat(copy, &st) < 0)
			continue;
		if (UTIL_GROW(*ret, cap, *n + 1) < 0 || UTIL_GROW(*paths, pcap, *n + 1) < 0)
			return -ENOMEM;
		if (!realpath(original, (*paths)[*n]))
			snprintf((*paths)[*n], PATH_MAX, "%s", original);
		(*ret)[*n] = (struct ep_file_alias){ st.st_dev, st.st_ino, NULL };
		(*n)++;
	}
	for (size_t i = 0; i < *n; i++)
		(*ret)[i].path = (*paths)[i];
	return 0;
}

/* The threads of EP process @tgid in the order of checkpoint @k's copy
 * @copy_pid of it (the order of the log's ends), then any other, into
 * @tids (room for rec->nthreads); returns how many. */
static size_t
copy_order(const struct recorder *rec, pid_t tgid, uint64_t k, pid_t copy_pid, pid_t *tids)
{
	const struct rec_ep *ep = rec->ep;
	size_t n = 0;
	uint64_t last = 0;

	for (;;) {
		const struct ep_end *best = NULL;
		pid_t best_tid = 0;

		for (size_t i = 0; i < ep_log_nthreads(ep->log); i++) {
			pid_t log_tid = ep_log_thread(ep->log, i);
			const struct ep_end *e = end_at(ep->log, log_tid, k);

			if (e && e->copy == copy_pid && (!n || e->seq > last) &&
			    (!best || e->seq < best->seq)) {
				best = e;
				best_tid = ep_log_tid_of(ep->log, log_tid);
			}
		}
		if (!best || n == rec->nthreads)
			break;
		last = best->seq;
		tids[n++] = best_tid;
	}
	for (size_t i = 0; i < rec->nthreads && n < rec->nthreads; i++) {
		bool in = false;

		if (rec->threads[i].tgid != tgid)
			continue;
		for (size_t j = 0; j < n; j++)
			in |= tids[j] == rec->threads[i].tid;
		if (!in)
			tids[n++] = rec->threads[i].tid;
	}
	return n;
}

/* Compare EP process @tgid with its checkpoint ep->k: 1 equal, 0 diverged
 * (said in @what), or -errno (not checked). */
static int
check_process(struct recorder *rec, pid_t tgid, char *what, size_t len)
{
	struct rec_ep *ep = rec->ep;
	pid_t log_pid = ep_log_tid(ep->log, tgid);
	const struct ep_end *e = log_pid ? end_at(ep->log, log_pid, ep->k) : NULL;
	_cleanup_free_ pid_t *tids = calloc(rec->nthreads, sizeof(*tids));
	_cleanup_free_ struct user_regs_struct *saved = calloc(rec->nthreads, sizeof(*saved));
	_cleanup_free_ bool *set = calloc(rec->nthreads, sizeof(*set));
	_cleanup_free_ struct checkpoint_range *ignore = NULL;
	size_t nignore = 0, ignore_cap = 0;
	_cleanup_free_ struct ep_file_alias *aliases = NULL;
	_cleanup_free_ char(*paths)[PATH_MAX] = NULL;
	const struct dirty_pages *written = NULL;
	struct dirty_pages all = { 0 }, tp_written = { 0 };
	bool whole;
	struct checkpoint_copy *copy;
	struct ep_divergence d;
	struct ep_side a = { 0 }, b = { .pid = tgid };
	int r;

	if (!tids || !saved || !set)
		return -ENOMEM;
	if (!e)
		return -ENOENT;
	copy = find_copy(ep, ep->k, e->copy, &written);
	if (!copy)
		return -ENOENT;
	a.pid = checkpoint_copy_pid(copy);
	a.tids = checkpoint_copy_tids(copy, &a.ntids);
	b.ntids = copy_order(rec, tgid, ep->k, e->copy, tids);
	b.tids = tids;
	/* the pages either wrote since the last check, or every writable
	 * page of B where that is not known */
	whole = !a_written(ep, log_pid, &tp_written) ||
		!b_written(ep, rec_find_thread(rec, tgid) ? rec_find_thread(rec, tgid)->space
							  : rec->threads[0].space, &all);
	if (whole) {
		dirty_pages_fini(&all);
		ep->verdicts->whole++;
		r = writable_pages(tgid, &all);
	}
	if (r >= 0)
		r = own_ranges(ep, tgid, &ignore, &nignore, &ignore_cap);
	if (r >= 0)
		r = dead_stacks(tgid, tids, b.ntids, &ignore, &nignore, &ignore_cap);
	for (size_t i = 0; i < b.ntids && r >= 0; i++) {
		pid_t log_tid = ep_log_tid(ep->log, tids[i]);
		const struct ep_end *te = log_tid ? end_at(ep->log, log_tid, ep->k) : NULL;

		/* what an interrupted call's exit wrote (the time left of a
		 * sleep), in the copy and not here yet: the EP run writes the
		 * log's bytes when it answers the call */
		for (uint32_t j = 0; te && j < te->nwrote && r >= 0; j++) {
			if (UTIL_GROW(ignore, ignore_cap, nignore + 1) < 0)
				r = -ENOMEM;
			else
				ignore[nignore++] = (struct checkpoint_range){ te->wrote[2 * j],
									       te->wrote[2 * j + 1] };
		}
	}
	if (r >= 0)
		r = file_aliases(ep, tgid, &aliases, &b.naliases, &paths);
	b.written = &all;
	a.written = whole ? &all : &tp_written;
	(void)written;
	b.ignore = ignore;
	b.nignore = nignore;
	b.aliases = aliases;
	b.scratch_free = true;
	/* each thread as its copy has it: one at a syscall's entry rewound
	 * onto the syscall instruction (the copy's was interrupted and will
	 * enter it again), orig_rax -1 (checkpoint_copy_new()) */
	for (size_t i = 0; i < b.ntids && r >= 0; i++) {
		const struct rthread *t = rec_find_thread(rec, tids[i]);
		struct user_regs_struct regs, ra;

		if (tracee_get_regs(tids[i], &saved[i]) < 0)
			continue;
		regs = saved[i];
		if (t && t->ep_parked_entry)
			arch_rewind_syscall(&regs);
		regs.orig_rax = (uint64_t)-1;
		/* the argument registers its call does not take hold what the
		 * code before it left (the interposer's differs by design; EP
		 * runs match only the arguments a call takes, sc_nargs()): as
		 * A's for the check */
		if (t && i < a.ntids && tracee_get_regs(a.tids[i], &ra) == 0)
			for (int j = sc_nargs((long)t->nr); j < 6; j++)
				arch_set_syscall_arg(&regs, j, arch_syscall_arg(&ra, j));
		set[i] = tracee_set_regs(tids[i], &regs) == 0;
	}
	if (r >= 0)
		r = ep_check_divergence(&a, &b, &d);
	for (size_t i = 0; i < b.ntids; i++)
		if (set[i] && tracee_set_regs(tids[i], &saved[i]) < 0)
			log_debug("thread %d: cannot put its registers back", tids[i]);
	dirty_pages_fini(&tp_written);
	if (r < 0) {
		dirty_pages_fini(&all);
		return r;
	}
	ep->verdicts->pages += d.pages_compared;
	if (!d.diverged) {
		dirty_pages_fini(&all);
		return 1;
	}
	for (size_t i = 0; i < b.ntids; i++) {
		const struct rthread *t = rec_find_thread(rec, tids[i]);

		log_debug("  thread %d (the log's %d): rip %#llx, orig_rax %#llx, rsp %#llx, %s", tids[i],
			  ep_log_tid(ep->log, tids[i]), saved[i].rip, saved[i].orig_rax, saved[i].rsp,
			  t && t->ep_parked_entry ? "at a syscall's entry" : "after a syscall's exit");
	}
	dirty_pages_fini(&all);
	snprintf(what, len, "process %d (%s): ", log_pid,
		 whole ? "every writable page" : "the pages written since the last check");
	ep_divergence_describe(&d, what + strlen(what), len - strlen(what));
	return 0;
}

/* All threads stand at their ends of the epoch ep->k ends: check every
 * process, write the verdict. */
static void
check_epoch(struct recorder *rec)
{
	struct rec_ep *ep = rec->ep;
	struct rec_ep_verdicts *v = ep->verdicts;
	uint64_t t0 = util_now_ns(), ns;
	char what[sizeof(v->first)] = "";
	int verdict = 1;

	for (size_t i = 0; i < rec->nthreads && verdict > 0; i++) {
		bool seen = false;

		for (size_t j = 0; j < i; j++)
			seen |= rec->threads[j].tgid == rec->threads[i].tgid;
		if (seen || rec->threads[i].state == RT_ZOMBIE)
			continue;
		verdict = check_process(rec, rec->threads[i].tgid, what, sizeof(what));
	}
	ns = util_now_ns() - t0;
	v->check_ns += ns;
	v->check_max_ns = MAX(v->check_max_ns, ns);
	if (verdict < 0) {
		v->unchecked++;
		log_info("epoch %" PRIu64 " not checked: %s", ep->k - 1, strerror(-verdict));
		write_verdict(rec, ep->k, 2);
		return;
	}
	if (verdict) {
		v->verified++;
		log_debug("epoch %" PRIu64 " verified (%" PRIu64 " us)", ep->k - 1, ns / 1000);
		write_verdict(rec, ep->k, 1);
		return;
	}
	v->diverged++;
	if (!v->first[0])
		snprintf(v->first, sizeof(v->first), "epoch %" PRIu64 ": %s", ep->k - 1, what);
	log_info("epoch %" PRIu64 " diverged from checkpoint %" PRIu64 ": %s", ep->k - 1, ep->k, what);
	ep->diverged = true;
	write_verdict(rec, ep->k, 0);
}

/* Check the epoch while every thread stands at its end, and go on. */
static void
settle(struct recorder *rec)
{
	struct rec_ep *ep = rec->ep;

	while (ep->k && !rec->done && all_parked(rec)) {
		check_epoch(rec);
		ep->last_k = ep->k;
		start_written(rec);
		next_epoch(rec);
		let_go(rec);
	}
}

/* Leave the epoch ep->k ends unchecked (@why) and go on. */
static void
give_up(struct recorder *rec, const char *why, bool stall)
{
	struct rec_ep *ep = rec->ep;

	ep->verdicts->unchecked++;
	ep->verdicts->stalls += stall;
	log_info("epoch %" PRIu64 " not checked: %s", ep->k - 1, why);
	write_verdict(rec, ep->k, 2);
	ep->stall_ns = 0;
	next_epoch(rec);
	let_go(rec);
	settle(rec);
}

bool
rec_ep_park(struct recorder *rec, struct rthread *t, bool entry)
{
	struct rec_ep *ep = rec->ep;
	const struct ep_end *e;
	pid_t log_tid;

	ep->progress += entry;
	if (!ep->ckpts || rec->done)
		return false;
	if (!ep->started) {
		/* after the first exec, which the trace starts with */
		ep->started = true;
		if (ep_log_checkpoints(ep->log))
			next_epoch(rec);
		/* the first check compares every writable page anyway (the TP
		 * run's pages written before its first checkpoint are not
		 * known) */
	}
	if (!ep->k)
		return false;
	log_tid = ep_log_tid(ep->log, t->tid);
	e = log_tid ? end_at(ep->log, log_tid, ep->k) : NULL;
	if (!e)
		return false;
	if (!at_end(ep, t, log_tid, e, entry)) {
		if (passed(ep, log_tid, e)) {
			char why[128];

			snprintf(why, sizeof(why), "thread %d went past its end", log_tid);
			give_up(rec, why, false);
		}
		return false;
	}
	t->ep_parked = true;
	t->ep_parked_entry = entry;
	t->state = entry ? RT_AT_ENTRY : RT_HELD;
	sched_set_state(rec->sched, t->tid, SCHED_BLOCKED);
	ep->stall_ns = 0;
	settle(rec);
	return true;
}

bool
rec_ep_stalled(struct recorder *rec, uint64_t *wait_ns)
{
	struct rec_ep *ep = rec->ep;
	uint64_t now = util_now_ns();
	bool any = false;

	for (size_t i = 0; i < rec->nthreads; i++)
		any |= rec->threads[i].ep_parked;
	if (!any || !ep->k) {
		ep->stall_ns = 0;
		return false;
	}
	if (!ep->stall_ns || ep->progress != ep->stall_progress) {
		ep->stall_ns = now;
		ep->stall_progress = ep->progress;
	}
	if (now - ep->stall_ns < EP_STALL_NS) {
		*wait_ns = EP_STALL_NS / 5;
		return false;
	}
	give_up(rec, "its threads did not all reach their ends", true);
	return true;
}
