/* SPDX-License-Identifier: MIT */
/*
 * A read of a pipe that returns the bytes another thread wrote there is
 * ordered after that write, and so after everything the writer did before
 * it: here a plain store to memory the two threads share, which the pipe
 * alone orders (no lock, no atomic: the kernel's pipe is the barrier).
 *
 * Each round, the writer thread works a while (so that a run one thread at
 * a time may put the reader first), stores the round's number in `value`,
 * then writes one byte to the pipe, and waits for the reader's answer on a
 * second pipe. The reader (the main thread) sleeps longer than
 * the writer works, so that its read finds the byte there and does not
 * wait (in a recording with the syscall buffer: a buffered read), then
 * looks at `value`. A kernel can only show the reader the round's number.
 * An epoch-parallel run that answered the read before it made the write
 * showed the reader the round before (doc/uniparallel.md, "The order of
 * shared-state calls").
 *
 * With "wait", the reader does not sleep: its read waits in the kernel for
 * the byte (a traced read in a recording), and returns while the writer's
 * write may still be in the kernel, whose exit the supervisor may see
 * after the read's (recorder/record-order.c keeps the write's number below
 * the read's).
 *
 * Usage: pipe_order [ROUNDS [wait]]; prints how many rounds the reader saw
 * the write before its read.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int fds[2], acks[2];
static volatile long value;
static volatile unsigned long g_sink; /* keeps work()'s loop */
static long rounds = 8;

/* About @ms milliseconds of work, no syscall. */
static void
work(long ms)
{
	unsigned long x = 0;

	for (long i = 0; i < ms * 200000; i++)
		x += (unsigned long)i * 7;
	g_sink = x;
}

static void *
writer(void *arg)
{
	(void)arg;
	for (long i = 1; i <= rounds; i++) {
		work(20);
		value = i;
		if (write(fds[1], "w", 1) != 1) {
			perror("write");
			exit(1);
		}
		/* the next round starts once the reader looked */
		char c;
		if (read(acks[0], &c, 1) != 1) {
			perror("read");
			exit(1);
		}
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	const struct timespec nap = { 0, 200 * 1000 * 1000 };
	long seen = 0;
	bool wait = false;
	pthread_t t;

	if (argc > 1)
		rounds = atol(argv[1]);
	if (argc > 2)
		wait = strcmp(argv[2], "wait") == 0;
	if (pipe(fds) < 0 || pipe(acks) < 0) {
		perror("pipe");
		return 1;
	}
	if (pthread_create(&t, NULL, writer, NULL) != 0) {
		fprintf(stderr, "pipe_order: cannot create a thread\n");
		return 1;
	}
	for (long i = 1; i <= rounds; i++) {
		char c;

		if (!wait)
			nanosleep(&nap, NULL);
		if (read(fds[0], &c, 1) != 1) {
			perror("read");
			return 1;
		}
		if (value == i)
			seen++;
		else
			printf("pipe_order: round %ld: the reader saw %ld\n", i, value);
		if (write(acks[1], "a", 1) != 1) {
			perror("write");
			return 1;
		}
	}
	pthread_join(t, NULL);
	printf("pipe_order: %ld of %ld reads saw the write before them\n", seen, rounds);
	return 0;
}
