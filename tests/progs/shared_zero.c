/* SPDX-License-Identifier: MIT */
/*
 * Shared anonymous memory made the old way: mmap of /dev/zero with
 * MAP_SHARED, then fork. Parent and child take turns through a flag in the
 * shared pages (waiting with sched_yield, bounded) and each adds to a sum
 * the other reads; a MAP_PRIVATE mapping of /dev/zero beside it stays
 * private. Deterministic: the same output natively.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "progs.h"

#define ROUNDS 20

struct shared {
	volatile int turn; /* 0: parent's, 1: child's */
	volatile long sum;
	volatile long page2[1024];
};

static bool
wait_turn(struct shared *s, int me)
{
	for (long i = 0; i < 10000000; i++) {
		if (s->turn == me)
			return true;
		sched_yield();
	}
	return false;
}

int
main(void)
{
	int fd = open("/dev/zero", O_RDWR | O_CLOEXEC);
	struct shared *s;
	long *priv;
	pid_t pid;
	int status;

	if (fd < 0)
		die("open /dev/zero: %s", strerror(errno));
	s = mmap(NULL, sizeof(*s) + 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	priv = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (s == MAP_FAILED || priv == MAP_FAILED)
		die("mmap /dev/zero: %s", strerror(errno));
	close(fd);
	say("shared_zero: mapped, sum %ld, private %ld\n", s->sum, priv[0]);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		priv[0] = 1000;
		for (int r = 0; r < ROUNDS; r++) {
			if (!wait_turn(s, 1))
				_exit(3);
			s->sum += 2 * r + 1;
			s->page2[r] = r;
			s->turn = 0;
		}
		_exit(0);
	}
	for (int r = 0; r < ROUNDS; r++) {
		if (!wait_turn(s, 0))
			die("shared_zero: the child never took its turn");
		s->sum += 2 * r;
		s->turn = 1;
	}
	if (!wait_turn(s, 0))
		die("shared_zero: the child never took its last turn");
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		die("shared_zero: the child failed");
	long seen = 0;
	for (int r = 0; r < ROUNDS; r++)
		seen += s->page2[r];
	say("shared_zero: sum %ld (expected %d), child's stores seen %ld, private %ld\n", s->sum,
	    ROUNDS * (2 * ROUNDS - 1), seen, priv[0]);
	return s->sum == ROUNDS * (2 * ROUNDS - 1) && priv[0] == 0 ? 0 : 1;
}
