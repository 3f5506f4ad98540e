/* SPDX-License-Identifier: MIT */
/*
 * A tracer that follows its tracee's children (ptrace(2) options
 * PTRACE_O_TRACEFORK, TRACEVFORK, TRACECLONE, TRACEVFORKDONE, TRACEEXIT), as
 * gdb's start-up probe and strace -f do; prints what it sees, the same in
 * every run (under uprr, ptrace between recorded processes is emulated):
 *   ptrace_fork fork    a traced child (PTRACE_TRACEME) forks: the fork event
 *                       stop, GETEVENTMSG names the grandchild, which starts
 *                       traced too, in a SIGSTOP stop; the tracer waits for
 *                       it by pid (not its child), sees its exit event stop
 *                       (the exit code in GETEVENTMSG) and its exit
 *   ptrace_fork vfork   the same with vfork: the vfork event, the child's
 *                       exit, then the parent's PTRACE_EVENT_VFORK_DONE
 *   ptrace_fork clone   a seized child (PTRACE_SEIZE with the options)
 *                       starts a thread: the clone event, the thread's first
 *                       stop (PTRACE_EVENT_STOP), its exit seen with __WALL
 *   ptrace_fork seize   strace's start: a child stopped itself, seized,
 *                       interrupted and sent SIGCONT before its tracer waits:
 *                       PTRACE_EVENT_STOP of SIGSTOP, then after LISTEN at
 *                       once PTRACE_EVENT_STOP of SIGTRAP
 *   ptrace_fork interrupt  a seized child sleeping in read(2) is interrupted
 *                       (PTRACE_EVENT_STOP of SIGTRAP), let go, and reads
 *                       what its tracer then writes: its read went on
 * Exits 0 when every observation was as expected, 1 otherwise.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "tracer.h"

#define OPTIONS                                                                                   \
	(PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | PTRACE_O_TRACEVFORKDONE | \
	 PTRACE_O_TRACEEXIT)

static pid_t
wait_for(pid_t pid, int *status, int flags)
{
	pid_t r;

	do
		r = waitpid(pid, status, flags);
	while (r < 0 && errno == EINTR);
	return r;
}

/* The status of a stop or end, without ids. */
static void
describe(const char *who, int status)
{
	if (WIFSTOPPED(status))
		say("%s: stopped by %s, event %d\n", who, strsignal(WSTOPSIG(status) & 0x7f),
		    status >> 16);
	else if (WIFSIGNALED(status))
		say("%s: killed by %s\n", who, strsignal(WTERMSIG(status)));
	else if (WIFEXITED(status))
		say("%s: exited %d\n", who, WEXITSTATUS(status));
}

/* Wait for the next stop of the traced child @pid, passing on (and saying)
 * the SIGCHLD its own child's end sends it. */
static pid_t
wait_stop(pid_t pid, int *status)
{
	for (;;) {
		pid_t r = wait_for(pid, status, 0);

		if (r != pid || !WIFSTOPPED(*status) || (*status >> 8) != SIGCHLD)
			return r;
		say("child: SIGCHLD stop, passed on\n");
		if (ptrace(PTRACE_CONT, pid, 0, (void *)SIGCHLD) < 0)
			return -1;
	}
}

static int
is_event(int status, int event)
{
	return WIFSTOPPED(status) && status >> 8 == (SIGTRAP | (event << 8));
}

/* Follow the new process or thread @pid (of @who's event) through its first
 * stop, its exit event stop and its end. */
static void
follow_child(pid_t pid, int wall, int first_status)
{
	unsigned long msg = 0;
	int status;

	expect(wait_for(pid, &status, wall) == pid, "the tracer waits for the new one by its id");
	describe("new one", status);
	expect(status == first_status, "it starts in its first stop");
	expect(ptrace(PTRACE_CONT, pid, 0, 0) == 0, "CONT the new one");
	expect(wait_for(pid, &status, wall) == pid, "wait for its exit event");
	describe("new one", status);
	expect(is_event(status, PTRACE_EVENT_EXIT), "PTRACE_EVENT_EXIT stop");
	expect(ptrace(PTRACE_GETEVENTMSG, pid, 0, &msg) == 0, "GETEVENTMSG at the exit");
	say("new one: exit event message 0x%lx\n", msg);
	expect(ptrace(PTRACE_CONT, pid, 0, 0) == 0, "CONT from the exit event");
	expect(wait_for(pid, &status, wall) == pid, "wait for its end");
	if (wall)
		/* a thread's code: its own, or its process's if that already
		 * began its group exit (the kernel races them) */
		expect(WIFEXITED(status), "the thread exited");
	else
		describe("new one", status);
}

static void *
thread_main(void *arg)
{
	(void)arg;
	syscall(SYS_exit, 6); /* this thread only */
	return NULL;
}

static int pipe_fds[2];

static int
traced_child(const char *mode)
{
	pthread_t th;
	pid_t pid;
	int status;

	if (strcmp(mode, "interrupt") == 0) {
		char c = 0;

		close(pipe_fds[1]);
		_exit(read(pipe_fds[0], &c, 1) == 1 ? c : 30);
	}
	if (strcmp(mode, "clone") != 0 && strcmp(mode, "seize") != 0 &&
	    ptrace(PTRACE_TRACEME, 0, 0, 0) < 0)
		_exit(20);
	raise(SIGSTOP);
	if (strcmp(mode, "seize") == 0)
		_exit(9);
	if (strcmp(mode, "clone") == 0) {
		if (pthread_create(&th, NULL, thread_main, NULL) != 0)
			_exit(21);
		pthread_join(th, NULL);
		_exit(0);
	}
	pid = strcmp(mode, "vfork") == 0 ? vfork() : fork();
	if (pid == 0)
		_exit(strcmp(mode, "vfork") == 0 ? 4 : 3);
	if (pid < 0 || wait_for(pid, &status, 0) != pid)
		_exit(22);
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 23);
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "fork";
	unsigned long msg = 0;
	int status, event, wall = 0, first;
	pid_t pid, child;

	if (strcmp(mode, "fork") && strcmp(mode, "vfork") && strcmp(mode, "clone") &&
	    strcmp(mode, "seize") && strcmp(mode, "interrupt"))
		die("usage: ptrace_fork fork|vfork|clone|seize|interrupt");
	if (pipe(pipe_fds) < 0)
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0)
		traced_child(mode);
	if (strcmp(mode, "interrupt") == 0) {
		struct timespec pause = { 0, 50000000 };

		expect(ptrace(PTRACE_SEIZE, pid, 0, 0) == 0, "SEIZE");
		nanosleep(&pause, NULL); /* it sleeps in read(2) by now */
		expect(ptrace(PTRACE_INTERRUPT, pid, 0, 0) == 0, "INTERRUPT");
		expect(wait_for(pid, &status, 0) == pid, "wait for the interrupted child");
		describe("child", status);
		expect(status >> 16 == PTRACE_EVENT_STOP && WSTOPSIG(status) == SIGTRAP,
		       "PTRACE_EVENT_STOP of SIGTRAP");
		expect(ptrace(PTRACE_CONT, pid, 0, 0) == 0, "CONT");
		expect(write(pipe_fds[1], "*", 1) == 1, "write what it reads");
		expect(wait_for(pid, &status, 0) == pid, "wait for its end");
		describe("child", status);
		return failures ? 1 : 0;
	}
	if (strcmp(mode, "seize") == 0) {
		expect(wait_for(pid, &status, WUNTRACED) == pid && WIFSTOPPED(status),
		       "the child stopped itself");
		expect(ptrace(PTRACE_SEIZE, pid, 0, (void *)PTRACE_O_TRACESYSGOOD) == 0, "SEIZE");
		expect(ptrace(PTRACE_INTERRUPT, pid, 0, 0) == 0, "INTERRUPT");
		expect(kill(pid, SIGCONT) == 0, "SIGCONT before any wait");
		expect(wait_for(pid, &status, 0) == pid, "wait for the seized child");
		describe("child", status);
		expect(ptrace(PTRACE_LISTEN, pid, 0, 0) == 0, "LISTEN");
		expect(wait_for(pid, &status, 0) == pid, "wait: the SIGCONT came already");
		describe("child", status);
		expect(ptrace(PTRACE_SYSCALL, pid, 0, 0) == 0, "SYSCALL");
		expect(wait_for(pid, &status, 0) == pid, "wait for its SIGCONT");
		describe("child", status);
		expect(ptrace(PTRACE_CONT, pid, 0, (void *)SIGCONT) == 0, "CONT with SIGCONT");
		expect(wait_for(pid, &status, 0) == pid, "wait for its end");
		describe("child", status);
		return failures ? 1 : 0;
	}
	if (strcmp(mode, "clone") == 0) {
		/* seized once it stopped itself: PTRACE_EVENT_STOP at once */
		expect(wait_for(pid, &status, WUNTRACED) == pid && WIFSTOPPED(status),
		       "the child stopped itself");
		expect(ptrace(PTRACE_SEIZE, pid, 0, (void *)OPTIONS) == 0, "SEIZE with the options");
		expect(wait_for(pid, &status, 0) == pid, "wait for the seized child");
		describe("child", status);
		expect(status >> 16 == PTRACE_EVENT_STOP && WSTOPSIG(status) == SIGSTOP,
		       "PTRACE_EVENT_STOP of its group-stop");
		expect(ptrace(PTRACE_LISTEN, pid, 0, 0) == 0, "LISTEN");
		expect(kill(pid, SIGCONT) == 0, "SIGCONT");
		expect(wait_for(pid, &status, 0) == pid, "wait for the end of its group-stop");
		describe("child", status);
		expect(ptrace(PTRACE_CONT, pid, 0, 0) == 0, "CONT");
		expect(wait_for(pid, &status, 0) == pid, "wait for its SIGCONT");
		describe("child", status);
		expect(ptrace(PTRACE_CONT, pid, 0, (void *)SIGCONT) == 0, "CONT with SIGCONT");
		event = PTRACE_EVENT_CLONE;
		wall = __WALL;
		first = 0x7f | ((SIGTRAP | (PTRACE_EVENT_STOP << 8)) << 8);
	} else {
		expect(wait_for(pid, &status, 0) == pid && WIFSTOPPED(status) &&
			       WSTOPSIG(status) == SIGSTOP,
		       "the traced child stopped itself");
		expect(ptrace(PTRACE_SETOPTIONS, pid, 0, (void *)OPTIONS) == 0, "SETOPTIONS");
		expect(ptrace(PTRACE_CONT, pid, 0, 0) == 0, "CONT");
		event = strcmp(mode, "vfork") == 0 ? PTRACE_EVENT_VFORK : PTRACE_EVENT_FORK;
		first = 0x7f | (SIGSTOP << 8);
	}
	expect(wait_for(pid, &status, 0) == pid, "wait for the child's event");
	describe("child", status);
	expect(is_event(status, event), "the fork, vfork or clone event");
	expect(ptrace(PTRACE_GETEVENTMSG, pid, 0, &msg) == 0, "GETEVENTMSG");
	child = (pid_t)msg;
	expect(child > 0 && child != pid, "it names the new one");
	expect(ptrace(PTRACE_CONT, pid, 0, 0) == 0, "CONT from the event");
	follow_child(child, wall, first);
	if (event == PTRACE_EVENT_VFORK) {
		expect(wait_stop(pid, &status) == pid, "wait for the vfork's end");
		describe("child", status);
		expect(is_event(status, PTRACE_EVENT_VFORK_DONE), "PTRACE_EVENT_VFORK_DONE");
		expect(ptrace(PTRACE_GETEVENTMSG, pid, 0, &msg) == 0 && (pid_t)msg == child,
		       "it names the vfork child");
		expect(ptrace(PTRACE_CONT, pid, 0, 0) == 0, "CONT from VFORK_DONE");
	}
	expect(wait_stop(pid, &status) == pid, "wait for the child's exit event");
	describe("child", status);
	expect(is_event(status, PTRACE_EVENT_EXIT), "its PTRACE_EVENT_EXIT");
	expect(ptrace(PTRACE_GETEVENTMSG, pid, 0, &msg) == 0, "GETEVENTMSG at its exit");
	say("child: exit event message 0x%lx\n", msg);
	expect(ptrace(PTRACE_CONT, pid, 0, 0) == 0, "CONT from its exit event");
	expect(wait_for(pid, &status, 0) == pid, "wait for its end");
	describe("child", status);
	return failures ? 1 : 0;
}
