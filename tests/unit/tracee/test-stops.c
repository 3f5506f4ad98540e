/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of tracee/exit.c against the kernel: a PTRACE_SEIZE'd child's
 * group stop and its end (tracee_group_stop_sig), and a thread-group leader
 * that exits before its other thread (tracee_wait_zombie). Children _exit().
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tracee/tracee.h"

TestSuite(tracee_stops, .timeout = 20);

static pid_t
sleeper(void)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		for (int i = 0; i < 1000; i++)
			usleep(10000);
		_exit(0);
	}
	return pid;
}

static void
kill_and_reap(pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	while (waitpid(pid, &status, __WALL) == pid && !WIFEXITED(status) && !WIFSIGNALED(status))
		ptrace(PTRACE_CONT, pid, 0, 0);
}

Test(tracee_stops, group_stop_and_continue)
{
	pid_t pid = sleeper();
	int status, sig;

	cr_assert_eq(ptrace(PTRACE_SEIZE, pid, 0, 0), 0);
	kill(pid, SIGSTOP);
	/* first the signal-delivery-stop: not a group stop */
	cr_assert_eq(waitpid(pid, &status, __WALL), pid);
	cr_assert_eq(tracee_classify(status, &sig), TRACEE_STOP_SIGNAL);
	cr_assert_eq(sig, SIGSTOP);
	cr_assert_eq(tracee_group_stop_sig(status), 0);
	cr_assert_eq(ptrace(PTRACE_CONT, pid, 0, SIGSTOP), 0);
	/* then the group stop, reported with its signal */
	cr_assert_eq(waitpid(pid, &status, __WALL), pid);
	cr_assert_eq(tracee_classify(status, &sig), TRACEE_STOP_GROUP);
	cr_assert_eq(tracee_group_stop_sig(status), SIGSTOP);
	cr_assert_eq(ptrace(PTRACE_LISTEN, pid, 0, 0), 0);
	/* SIGCONT ends it: PTRACE_EVENT_STOP again, with SIGTRAP */
	kill(pid, SIGCONT);
	cr_assert_eq(waitpid(pid, &status, __WALL), pid);
	cr_assert_eq(tracee_classify(status, &sig), TRACEE_STOP_GROUP);
	cr_assert_eq(tracee_group_stop_sig(status), 0);
	kill_and_reap(pid);
}

Test(tracee_stops, stop_signals)
{
	cr_assert(tracee_is_stop_signal(SIGSTOP) && tracee_is_stop_signal(SIGTSTP));
	cr_assert(tracee_is_stop_signal(SIGTTIN) && tracee_is_stop_signal(SIGTTOU));
	cr_assert(!tracee_is_stop_signal(SIGCONT) && !tracee_is_stop_signal(SIGTRAP));
	cr_assert_eq(tracee_group_stop_sig(0), 0); /* exited with 0 */
}

static void *
late_thread(void *arg)
{
	(void)arg;
	usleep(300000);
	return NULL;
}

Test(tracee_stops, leader_zombie_before_its_thread)
{
	pid_t pid = fork();
	int status;

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		pthread_t t;

		if (pthread_create(&t, NULL, late_thread, NULL))
			_exit(2);
		syscall(SYS_exit, 0); /* the leader only */
		_exit(3);
	}
	cr_assert_eq(tracee_wait_zombie(pid, 5000000000ull), 0);
	/* a zombie while its thread still runs: not reaped yet */
	cr_assert_eq(tracee_thread_state(pid), 'Z');
	cr_assert_eq(waitpid(pid, &status, WNOHANG), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	cr_assert_eq(tracee_thread_state(pid), 0);
}
