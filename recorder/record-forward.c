/* SPDX-License-Identifier: MIT */
/*
 * The signals sent to `uprr record` that are meant for the program
 * (SIGTERM, SIGHUP, SIGQUIT): forwarded to the process rec_record()
 * started, its main thread first (rec_forward_signal()).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "recorder/record-private.h"
#include "recorder/recorder.h"

static volatile pid_t forward_to;
static void (*resent_fn)(void);
/* A signal that came while no program ran to take it (between a TP run
 * killed for a re-run and the re-run's spawn): sent to the next one. */
static volatile sig_atomic_t forward_pending;

/* Whether the main thread of @pid blocks @sig (its SigBlk in
 * /proc/PID/status, proc(5)); false when it cannot be read. Only
 * async-signal-safe calls: rec_forward_signal() runs in a handler. */
static bool
main_blocks(pid_t pid, int sig)
{
	char path[32] = "/proc/", buf[4096], digits[12];
	size_t n = 0, at = 6;
	const char *blk;
	uint64_t mask = 0;
	ssize_t got;
	int fd;

	for (pid_t v = pid; v > 0 && n < sizeof(digits); v /= 10)
		digits[n++] = (char)('0' + v % 10);
	while (n)
		path[at++] = digits[--n];
	memcpy(path + at, "/status", 8);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (got <= 0)
		return false;
	buf[got] = 0;
	blk = strstr(buf, "SigBlk:");
	if (!blk)
		return false;
	for (blk += 7; *blk == ' ' || *blk == '\t'; blk++)
		;
	for (; (*blk >= '0' && *blk <= '9') || (*blk >= 'a' && *blk <= 'f'); blk++)
		mask = mask << 4 | (uint64_t)(*blk <= '9' ? *blk - '0' : *blk - 'a' + 10);
	return (mask >> (sig - 1)) & 1;
}

/* To the program's main thread (tgkill(2)) unless it blocks the signal:
 * a process-directed one goes to whichever thread the kernel finds
 * wanting it, and under ptrace that is not the main thread while it
 * stands in a stop (kernel/signal.c complete_signal(): wants_signal()
 * passes over a traced thread), where a program run without uprr has it
 * (a TP run standing at a checkpoint would hand it to any thread that
 * runs first: memcached's SIGTERM to a thread in a condition wait,
 * where its EP run cannot place it). It arrives as SI_TKILL from uprr
 * instead of SI_USER from uprr. */
void
rec_forward_signal(int sig)
{
	pid_t pid = forward_to;

	if (pid <= 0) {
		forward_pending = sig;
		return;
	}
	if (main_blocks(pid, sig) || syscall(SYS_tgkill, pid, pid, sig) < 0)
		kill(pid, sig);
}

static void
forward_signal(int sig)
{
	int saved = errno;

	rec_forward_signal(sig);
	errno = saved;
}

/* SIGTERM, SIGHUP and SIGQUIT sent to uprr are meant for the program (the
 * CLI handles SIGTERM: it forwards it with rec_forward_signal() and ends uprr
 * if the program does not end). SIGINT from a terminal reaches the program by
 * itself (same process group), so uprr ignores it and records how the
 * program reacts. */
void
rec_forward_start(pid_t pid, bool pending)
{
	struct sigaction sa = { .sa_handler = forward_signal };
	int sig;

	forward_to = pid;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	signal(SIGINT, SIG_IGN);
	/* one that came while none ran: a re-run's program takes it (kept
	 * while it follows the log, sent again once it is live) */
	sig = forward_pending;
	forward_pending = 0;
	if (sig && pending) {
		rec_forward_signal(sig);
		rec_forward_resent(sig);
	}
}

void
rec_forward_on_resent(void (*fn)(void))
{
	resent_fn = fn;
}

void
rec_forward_resent(int sig)
{
	if (sig == SIGTERM && resent_fn)
		resent_fn();
}

void
rec_forward_stop(void)
{
	forward_to = 0;
}
