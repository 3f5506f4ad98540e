/* SPDX-License-Identifier: MIT */
/*
 * A program that misbehaves in the way argv asks (issue 5, "hardening"):
 *   misbehave sigkill      prints a line and kills itself with SIGKILL while a
 *                          second thread waits in a blocking read
 *   misbehave forks N      forks N children at once (each prints nothing and
 *                          exits with a status of its own), reaps them all
 *   misbehave closefds     closes every file descriptor, 0-2 and the ones
 *                          uprr might use (close_range(3, ~0U, 0)), then
 *                          opens files, loads a library and maps a file,
 *                          and reports through its status
 *   misbehave handlers     installs a handler for every signal 1..64 (SIGKILL
 *                          and SIGSTOP fail), then raises and receives several
 *   misbehave traceme      calls ptrace(PTRACE_TRACEME), in itself and in a
 *                          child, and goes on
 * Each prints what it observed; the numbers that vary between native runs
 * (pids, a random seed) make a replay distinguishable from a second run.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "progs.h"

static int block_pipe[2];

static void *
blocked_reader(void *arg)
{
	char c;

	(void)arg;
	/* never returns: nobody writes */
	if (read(block_pipe[0], &c, 1) < 0)
		say("misbehave: read failed: %s\n", strerror(errno));
	return NULL;
}

static int
do_sigkill(void)
{
	pthread_t th;

	if (pipe(block_pipe) < 0 || pthread_create(&th, NULL, blocked_reader, NULL) != 0)
		die("misbehave: cannot start the reader thread");
	say("misbehave: seed %llu, killing myself with SIGKILL\n",
	    (unsigned long long)random_seed());
	kill(getpid(), SIGKILL);
	die("misbehave: still alive after SIGKILL");
}

static int
do_forks(int n)
{
	uint64_t sum = 0, pids = FNV1A_INIT;
	int reaped = 0;

	say("misbehave: forking %d children\n", n);
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0)
			die("misbehave: fork %d: %s", i, strerror(errno));
		if (pid == 0)
			_exit(i % 200 + 1);
		pids = fnv1a(pids, &pid, sizeof(pid));
	}
	for (;;) {
		int status;
		pid_t pid = wait(&status);

		if (pid < 0) {
			if (errno == EINTR)
				continue;
			if (errno != ECHILD)
				die("misbehave: wait: %s", strerror(errno));
			break;
		}
		if (!WIFEXITED(status))
			die("misbehave: child %d ended with status 0x%x", pid, status);
		sum += (uint64_t)WEXITSTATUS(status);
		reaped++;
	}
	say("misbehave: reaped %d children, status sum %llu, pids hash %016llx\n", reaped,
	    (unsigned long long)sum, (unsigned long long)pids);
	return reaped == n ? 0 : 1;
}

/*
 * Closes everything, then checks that the kernel hands out the lowest free
 * numbers again and that files still work. Says what it saw in its exit
 * status: 0 if all went as on Linux, else the number of the first failed check.
 */
static int
do_closefds(void)
{
	double (*cosine)(double);
	char buf[64];
	int fd, fds[3];
	void *lib, *map;

	say("misbehave: seed %llu, closing every file descriptor\n",
	    (unsigned long long)random_seed());
	if (syscall(SYS_close_range, 3, ~0U, 0) < 0)
		return 2;
	for (int i = 0; i < 3; i++)
		if (close(i) < 0)
			return 3;
	/* nothing open: writes fail with EBADF */
	if (write(1, "x", 1) != -1 || errno != EBADF)
		return 4;
	for (int i = 0; i < 3; i++) {
		fds[i] = open("/dev/null", O_RDWR);
		if (fds[i] != i)
			return 5;
	}
	fd = open("/proc/self/stat", O_RDONLY);
	if (fd != 3 || read(fd, buf, sizeof(buf)) <= 0 || close(fd) < 0)
		return 6;
	if (close_range(0, ~0U, 0) < 0)
		return 7;
	if (open("/dev/null", O_RDONLY) != 0)
		return 8;
	/* a library loaded now: the loader opens and maps it on fd 1 */
	lib = dlopen("libm.so.6", RTLD_NOW);
	cosine = lib ? (double (*)(double))dlsym(lib, "cos") : NULL;
	if (!cosine || cosine(0.0) != 1.0)
		return 9;
	/* and a file mapped by hand */
	fd = open("/proc/self/exe", O_RDONLY);
	map = fd == 1 ? mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
	if (map == MAP_FAILED || memcmp(map, "\177ELF", 4) != 0)
		return 10;
	return 0;
}

static volatile sig_atomic_t caught[65];

static void
on_signal(int sig)
{
	caught[sig]++;
}

static int
do_handlers(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	static const int raised[] = { SIGUSR1, SIGUSR2, SIGHUP, SIGINT, SIGTERM, SIGQUIT,
				      SIGTRAP, SIGSEGV, SIGSYS, SIGTSTP, SIGCONT, SIGWINCH,
				      SIGALRM, SIGCHLD };
	int installed = 0, refused = 0, total = 0, fds[2];
	sigset_t all, old;
	pid_t child;

	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	for (int sig = 1; sig <= 64; sig++) {
		if (sigaction(sig, &sa, NULL) == 0) {
			installed++;
		} else {
			refused++;
			say("misbehave: sigaction(%d) failed: %s\n", sig, strerror(errno));
		}
	}
	say("misbehave: %d handlers installed, %d refused\n", installed, refused);
	/* raised by ourselves: delivered at once, in order */
	for (size_t i = 0; i < sizeof(raised) / sizeof(raised[0]); i++)
		raise(raised[i]);
	raise(SIGRTMIN + 2);
	raise(SIGRTMAX);
	/* a real SIGPIPE: write to a pipe with no reader */
	if (pipe(fds) < 0)
		die("misbehave: pipe: %s", strerror(errno));
	close(fds[0]);
	if (write(fds[1], "x", 1) != -1 || errno != EPIPE)
		die("misbehave: a write with no reader did not fail with EPIPE");
	close(fds[1]);
	/* sent by another process while blocked: real-time ones queue */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	child = fork();
	if (child < 0)
		die("misbehave: fork: %s", strerror(errno));
	if (child == 0) {
		pid_t parent = getppid();

		for (int i = 0; i < 3; i++)
			kill(parent, SIGRTMIN + 5);
		kill(parent, SIGUSR1);
		kill(parent, SIGUSR1);
		_exit(0);
	}
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	sigprocmask(SIG_SETMASK, &old, NULL);
	for (int sig = 1; sig <= 64; sig++) {
		if (!caught[sig])
			continue;
		say("misbehave: signal %d (%s) caught %d time(s)\n", sig,
		    sigabbrev_np(sig) ? sigabbrev_np(sig) : "RT", (int)caught[sig]);
		total += caught[sig];
	}
	say("misbehave: %d signals caught in all, my pid %d\n", total, (int)getpid());
	return 0;
}

/* ptrace(PTRACE_TRACEME); under a debugger (or uprr) it fails with EPERM. */
static void
traceme(const char *who)
{
	long r = ptrace(PTRACE_TRACEME, 0, NULL, NULL);

	say("misbehave: %s: PTRACE_TRACEME returned %ld (%s)\n", who, r,
	    r < 0 ? strerror(errno) : "now traced by the parent");
}

static int
do_traceme(void)
{
	int status;
	pid_t child;

	say("misbehave: seed %llu\n", (unsigned long long)random_seed());
	traceme("parent");
	child = fork();
	if (child < 0)
		die("misbehave: fork: %s", strerror(errno));
	if (child == 0) {
		traceme("child");
		_exit(7);
	}
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	say("misbehave: child status 0x%x; going on\n", status);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "sigkill") == 0)
		return do_sigkill();
	if (argc == 3 && strcmp(argv[1], "forks") == 0)
		return do_forks(atoi(argv[2]));
	if (argc == 2 && strcmp(argv[1], "closefds") == 0)
		return do_closefds();
	if (argc == 2 && strcmp(argv[1], "handlers") == 0)
		return do_handlers();
	if (argc == 2 && strcmp(argv[1], "traceme") == 0)
		return do_traceme();
	die("usage: misbehave sigkill | forks N | closefds | handlers | traceme");
}
