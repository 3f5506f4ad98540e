/* SPDX-License-Identifier: MIT */
/*
 * Threads that stop or exit. Group stops: a process stopped by SIGSTOP & co.
 * reports PTRACE_EVENT_STOP with the stop signal for each thread, as long as
 * it stays stopped. Threads on their way out: a thread-group leader that exits before the
 * other threads of its process stays a zombie, reported to the tracer only
 * once they are all gone (ptrace(2), "PTRACE_EVENT_EXIT"; wait_task_zombie()
 * and delay_group_leader() in kernel/exit.c). The supervisor sees its exit
 * done from its state in /proc instead.
 */
#define LOG_PREFIX "tracee"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "tracee/tracee.h"

char
tracee_thread_state(pid_t tid)
{
	char path[64], buf[512];
	_cleanup_close_ int fd = -1;
	ssize_t n;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "pid (comm) S ...": comm may hold spaces and parentheses */
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

int
tracee_wait_zombie(pid_t tid, uint64_t timeout_ns)
{
	uint64_t end = util_now_ns() + timeout_ns;

	for (unsigned i = 0;; i++) {
		char st = tracee_thread_state(tid);

		if (st == 0 || st == 'Z' || st == 'X')
			return 0;
		if (util_now_ns() > end)
			return -ETIMEDOUT;
		/* the supervisor shares the tracee's CPU: yield it, then sleep */
		if (i < 16) {
			sched_yield();
		} else {
			struct timespec ts = { 0, 100000 };

			nanosleep(&ts, NULL);
		}
	}
}

bool
tracee_is_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

int
tracee_group_stop_sig(int status)
{
	if (!WIFSTOPPED(status) || status >> 16 != PTRACE_EVENT_STOP)
		return 0;
	return tracee_is_stop_signal(WSTOPSIG(status)) ? WSTOPSIG(status) : 0;
}
