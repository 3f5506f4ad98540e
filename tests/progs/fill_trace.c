/* SPDX-License-Identifier: MIT */
/*
 * Makes a big trace whose every part matters, and prints the same thing in
 * every run (for comparing a run that outlived its trace with a native run):
 *   fill_trace MIB
 * sends MIB MiB of pseudo-random bytes (a fixed seed: the trace cannot
 * compress them) through a pipe to a child process, which hashes them; a
 * second thread spins meanwhile at first (so the recorder installs counting
 * code and takes restore points), the program reads the time stamp counter
 * (rdtsc, trapped under uprr) all along, and the child signals its parent
 * at the end. Prints a line per MiB, and exits with status 3.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <x86intrin.h>

#include "progs.h"

#define CHUNK (64 * 1024)

static atomic_int spinning_done;
static volatile sig_atomic_t got_usr1;

static void *
spinner(void *arg)
{
	uint64_t spins = 0;

	(void)arg;
	/* a loop with no syscall: the recorder must preempt it */
	while (!atomic_load_explicit(&spinning_done, memory_order_relaxed))
		spins++;
	return (void *)(uintptr_t)spins;
}

static void
on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

static void
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("fill_trace: write: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

/* The child: hash everything from @fd, report the hash on @out, signal the
 * parent. */
static void __attribute__((noreturn))
child(int fd, int out)
{
	static uint64_t buf[CHUNK / 8];
	uint64_t h = FNV1A_INIT;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			_exit(2);
		h = fnv1a(h, buf, (size_t)n);
	}
	write_all(out, &h, sizeof(h));
	kill(getppid(), SIGUSR1);
	_exit(0);
}

int
main(int argc, char **argv)
{
	static uint64_t buf[CHUNK / 8];
	uint64_t state = 42, h = FNV1A_INIT, child_h = 0, tsc_steps = 0, last_tsc = 0;
	int data[2], back[2], status;
	long mib = argc == 2 ? atol(argv[1]) : 0;
	struct sigaction sa = { .sa_handler = on_usr1 };
	pthread_t th;
	pid_t pid;

	if (mib <= 0)
		die("usage: fill_trace MIB");
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	if (pipe(data) < 0 || pipe(back) < 0)
		die("fill_trace: pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fill_trace: fork: %s", strerror(errno));
	if (pid == 0) {
		close(data[1]);
		close(back[0]);
		child(data[0], back[1]);
	}
	close(data[0]);
	close(back[1]);
	if (pthread_create(&th, NULL, spinner, NULL) != 0)
		die("fill_trace: cannot start a thread");
	for (long i = 0; i < mib * (1024 * 1024 / CHUNK); i++) {
		uint64_t tsc = __rdtsc();

		tsc_steps += tsc != last_tsc;
		last_tsc = tsc;
		for (size_t k = 0; k < CHUNK / 8; k++)
			buf[k] = rng_next(&state);
		h = fnv1a(h, buf, sizeof(buf));
		write_all(data[1], buf, sizeof(buf));
		if (i == 16 && !atomic_exchange(&spinning_done, 1))
			pthread_join(th, NULL);
		if ((i + 1) % (1024 * 1024 / CHUNK) == 0)
			say("fill_trace: %ld MiB sent, hash %016llx\n", (i + 1) * CHUNK / (1024 * 1024),
			    (unsigned long long)h);
	}
	if (!atomic_exchange(&spinning_done, 1))
		pthread_join(th, NULL);
	close(data[1]);
	while (read(back[0], &child_h, sizeof(child_h)) < 0 && errno == EINTR)
		;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	say("fill_trace: the child hashed %s, exited with %d, signalled: %s; the counter moved: %s\n",
	    child_h == h ? "the same bytes" : "OTHER BYTES", WEXITSTATUS(status),
	    got_usr1 ? "yes" : "no", tsc_steps > 1 ? "yes" : "no");
	return 3;
}
