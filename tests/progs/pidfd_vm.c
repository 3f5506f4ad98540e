/* SPDX-License-Identifier: MIT */
/*
 * A parent that reaches into its child: pidfd_open(2), pidfd_getfd(2) of a
 * pipe the child made after the fork, process_vm_readv(2) of the child's
 * memory, process_vm_writev(2) into it, pidfd_send_signal(2) to wake it, a
 * poll(2) of the pidfd for its end. Both print what they saw. Seed from
 * argv[1], else random. `pidfd_vm target` prints where its buffer is and,
 * for each line on stdin, what the buffer holds (then puts it back);
 * `pidfd_vm poke PID ADDR` writes into that buffer of process PID: replay
 * must not write into a process outside the recording again.
 */
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "progs.h"

static char secret[64];
static volatile sig_atomic_t woken;

static void
on_usr1(int sig)
{
	(void)sig;
	woken = 1;
}

static void
child(int ready, int go)
{
	sigset_t block, old;
	char got[64] = "";
	int p[2];
	ssize_t n;

	prctl(PR_SET_PDEATHSIG, SIGKILL); /* a parent that fails ends it */
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &old);
	if (pipe(p) < 0)
		die("pipe: %s", strerror(errno));
	/* tell the parent which fd to take */
	if (write(ready, &p[1], sizeof(p[1])) != sizeof(p[1]))
		die("child write");
	while (!woken)
		sigsuspend(&old);
	close(p[1]); /* the parent's copy is closed already */
	n = read(p[0], got, sizeof(got) - 1);
	say("child: woken by SIGUSR1; through the taken fd: '%.*s'\n", (int)(n > 0 ? n : 0), got);
	say("child: its memory now says '%s'\n", secret);
	(void)go;
	_exit(0);
}

int
main(int argc, char **argv)
{
	uint64_t seed;
	char seen[64] = "", msg[64], repl[64];
	struct iovec local, remote;
	int ready[2], go[2], fd, pidfd, taken, status;
	struct pollfd pfd;
	pid_t pid;
	ssize_t n;

	if (argc == 2 && !strcmp(argv[1], "target")) {
		char line[16];

		strcpy(secret, "untouched");
		say("buffer at %p\n", (void *)secret);
		while (read(0, line, sizeof(line)) > 0) {
			say("buffer holds '%s'\n", secret);
			strcpy(secret, "untouched");
		}
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "poke")) {
		snprintf(msg, sizeof(msg), "poked with %016" PRIx64, random_seed());
		local = (struct iovec){ msg, strlen(msg) + 1 };
		remote = (struct iovec){ (void *)(uintptr_t)strtoull(argv[3], NULL, 0), local.iov_len };
		n = process_vm_writev((pid_t)atoi(argv[2]), &local, 1, &remote, 1, 0);
		say("poke: %zd (%s)\n", n, n < 0 ? strerror(errno) : msg);
		return 0;
	}
	seed = argc > 1 ? strtoull(argv[1], NULL, 0) : random_seed();
	snprintf(secret, sizeof(secret), "secret %016" PRIx64, rng_next(&seed));
	signal(SIGUSR1, on_usr1);
	if (pipe(ready) < 0 || pipe(go) < 0)
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		snprintf(secret, sizeof(secret), "child's %016" PRIx64, rng_next(&seed));
		child(ready[1], go[0]);
	}
	if (read(ready[0], &fd, sizeof(fd)) != sizeof(fd))
		die("read fd");
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		die("pidfd_open: %s", strerror(errno));
	taken = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (taken < 0)
		die("pidfd_getfd: %s", strerror(errno));
	snprintf(msg, sizeof(msg), "hello %04x", (unsigned)(rng_next(&seed) & 0xffff));
	if (write(taken, msg, strlen(msg)) != (ssize_t)strlen(msg))
		die("write to the taken fd: %s", strerror(errno));
	close(taken);

	/* the child's copy of `secret`: same address, its own contents */
	local = (struct iovec){ seen, sizeof(secret) };
	remote = (struct iovec){ secret, sizeof(secret) };
	n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (n != sizeof(secret))
		die("process_vm_readv: %s", strerror(errno));
	say("parent: mine '%s', the child's '%s'\n", secret, seen);
	snprintf(repl, sizeof(repl), "written by the parent %016" PRIx64, rng_next(&seed));
	local = (struct iovec){ repl, sizeof(repl) };
	n = process_vm_writev(pid, &local, 1, &remote, 1, 0);
	if (n != sizeof(secret))
		die("process_vm_writev: %s", strerror(errno));
	if (syscall(SYS_pidfd_send_signal, pidfd, SIGUSR1, NULL, 0) < 0)
		die("pidfd_send_signal: %s", strerror(errno));
	pfd = (struct pollfd){ pidfd, POLLIN, 0 };
	if (poll(&pfd, 1, 20000) != 1)
		die("poll of the pidfd: %s", strerror(errno));
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		die("the child failed");
	say("parent: the child ended (pidfd readable: %s)\n", pfd.revents & POLLIN ? "yes" : "no");
	say("pidfd_vm: ok\n");
	return 0;
}
