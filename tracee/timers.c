/* SPDX-License-Identifier: MIT */
/*
 * Per-process kernel state a fork does not carry (fork(2)), read from and
 * given to a stopped tracee by injected syscalls whose buffers lie on its
 * dead stack: its interval timers, its pending signals. For the process
 * copies that go on as the program (checkpoint/respawn.c's respawns, a
 * re-run gone live).
 */
#include "tracee/tracee.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>

#include "common/util.h"

/* The most bytes a call here puts on the dead stack. */
#define SCRATCH_MAX 256

/* Syscalls whose buffers lie on the dead stack (with_scratch()). */
struct batch {
	struct tracee_call calls[6];
	uint8_t argi[6];	/* the argument (1-based; 0: none) given the
				 * buffer's address plus off[i] */
	uint64_t off[6];
	int64_t res[6];
	size_t n;
};

/* Add @nr(@a0, buffer + @off as argument @argi, @a2) to @b. */
static void
add(struct batch *b, long nr, uint64_t a0, uint8_t argi, uint64_t off, uint64_t a2)
{
	b->calls[b->n] = (struct tracee_call){ .nr = nr, .args = { a0, 0, a2 } };
	b->argi[b->n] = argi;
	b->off[b->n++] = off;
}

/*
 * Run batch @b in stopped thread @tid (process @pid, memory @memfd) with
 * @len bytes of @buf on its dead stack; the bytes there afterwards back
 * into @buf, those that were there before put back (the memory is the
 * program's: an epoch's check compares it). A call's failure is its
 * result's (b->res). 0 or -errno.
 */
static int
with_scratch(pid_t tid, pid_t pid, int memfd, void *buf, size_t len, struct batch *b)
{
	struct user_regs_struct regs;
	uint8_t saved[SCRATCH_MAX];
	uint64_t at;
	int r, r2;

	if (len > SCRATCH_MAX)
		return -E2BIG;
	r = tracee_get_regs(tid, &regs);
	if (r < 0)
		return r;
	at = tracee_stack_scratch(pid, regs.rsp, len);
	if (!at)
		return -ENOSPC;
	r = tracee_read(tid, at, saved, len);
	if (r < 0)
		return r;
	r = tracee_write(memfd, at, buf, len);
	for (size_t i = 0; i < b->n && r >= 0; i++)
		if (b->argi[i])
			b->calls[i].args[b->argi[i] - 1] = at + b->off[i];
	if (r >= 0)
		r = tracee_inject_syscalls(tid, memfd, b->calls, b->n, b->res, NULL);
	if (r >= 0)
		r = tracee_read_mem(memfd, at, buf, len);
	r2 = tracee_write(memfd, at, saved, len);
	for (size_t i = 0; i < b->n && r >= 0; i++)
		if (b->res[i] < 0)
			r = (int)b->res[i];
	return r < 0 ? r : r2;
}

int
tracee_itimers_get(pid_t tid, pid_t pid, int memfd, bool disarm, struct itimerval ret[3])
{
	/* ret[0..2] there, then a disarmed one */
	struct itimerval v[4] = { 0 };
	struct batch b = { 0 };
	int r;

	for (uint64_t which = 0; which < 3; which++) {
		add(&b, __NR_getitimer, which, 2, which * sizeof(*v), 0);
		if (disarm)
			add(&b, __NR_setitimer, which, 2, 3 * sizeof(*v), 0);
	}
	r = with_scratch(tid, pid, memfd, v, sizeof(v), &b);
	if (r < 0)
		return r;
	memcpy(ret, v, 3 * sizeof(*v));
	return 0;
}

int
tracee_itimers_set(pid_t tid, pid_t pid, int memfd, const struct itimerval v[3])
{
	struct itimerval w[3];
	struct batch b = { 0 };

	memcpy(w, v, sizeof(w));
	/* a periodic ITIMER_REAL whose SIGALRM is pending has no value left:
	 * the kernel re-arms it an interval after the signal is taken
	 * (dequeue_signal(), kernel/signal.c), so an interval from now;
	 * due at once, a second SIGALRM would come right after the first
	 * (a TP run's log refused two at one point: signal_async, 1
	 * respawned recording in 8) */
	for (uint64_t which = 0; which < 3; which++) {
		if (!timerisset(&w[which].it_value) && timerisset(&w[which].it_interval))
			w[which].it_value = w[which].it_interval;
		if (timerisset(&w[which].it_value))
			add(&b, __NR_setitimer, which, 2, which * sizeof(*w), 0);
	}
	return b.n ? with_scratch(tid, pid, memfd, w, sizeof(w), &b) : 0;
}

bool
tracee_has_posix_timer(pid_t pid)
{
	char path[64], line[64];
	FILE *f;
	bool any;

	snprintf(path, sizeof(path), "/proc/%d/timers", pid);
	f = fopen(path, "re");
	any = f && fgets(line, sizeof(line), f);
	if (f)
		fclose(f);
	return any;
}

int
tracee_queue_signal(pid_t tid, pid_t pid, int memfd, pid_t to, const siginfo_t *si)
{
	siginfo_t w = *si;
	struct batch b = { 0 };

	/* rt_tgsigqueueinfo(tgid, tid, sig, info), rt_sigqueueinfo(tgid, sig, info) */
	if (to)
		add(&b, __NR_rt_tgsigqueueinfo, (uint64_t)pid, 4, 0, (uint64_t)si->si_signo);
	else
		add(&b, __NR_rt_sigqueueinfo, (uint64_t)pid, 3, 0, 0);
	b.calls[0].args[1] = to ? (uint64_t)to : (uint64_t)si->si_signo;
	return with_scratch(tid, pid, memfd, &w, sizeof(w), &b);
}
