/* SPDX-License-Identifier: MIT */
/*
 * Writes to /dev/null beside writes to stdout, from two threads: a TP run
 * (uprr record --mode=tp) keeps the first in the syscall buffer (nothing
 * holds, orders or undoes a write to /dev/null: preload/syscallbuf.c's
 * null_write()) and traces the second (output held, numbered in the order
 * of shared-state calls).
 *
 * /dev/null is opened as fd 9 (the e2e case looks for that fd in the TP
 * log). Each of 2 threads makes ROUNDS rounds: a write(2) of 64 bytes and a
 * writev(2) of two iovecs to fd 9, and every ROUNDS / 4 rounds a line on
 * stdout with write(2), under a mutex. The main thread then prints how
 * many bytes fd 9 took.
 *
 * Usage: null_writes [ROUNDS] (default 400).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define NULL_FD 9

static long rounds = 400;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static long taken[2];

static void
line(long who, long round)
{
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "thread %ld: round %ld\n", who, round);

	pthread_mutex_lock(&out_lock);
	if (write(1, buf, (size_t)n) != n) {
		perror("write");
		exit(1);
	}
	pthread_mutex_unlock(&out_lock);
}

static void *
worker(void *arg)
{
	long who = (long)arg;
	char bytes[64];
	struct iovec iov[2] = { { bytes, 16 }, { bytes + 16, 48 } };

	memset(bytes, 'a' + (int)who, sizeof(bytes));
	for (long i = 0; i < rounds; i++) {
		ssize_t a = write(NULL_FD, bytes, sizeof(bytes)), b = writev(NULL_FD, iov, 2);

		if (a != (ssize_t)sizeof(bytes) || b != (ssize_t)sizeof(bytes)) {
			perror("write to /dev/null");
			exit(1);
		}
		taken[who] += a + b;
		if (i % (rounds / 4 ? rounds / 4 : 1) == 0)
			line(who, i);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t t[2];
	int fd;

	if (argc > 1)
		rounds = strtol(argv[1], NULL, 10);
	if (rounds < 1) {
		fprintf(stderr, "usage: null_writes [ROUNDS]\n");
		return 2;
	}
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || dup2(fd, NULL_FD) != NULL_FD) {
		perror("/dev/null");
		return 1;
	}
	close(fd);
	for (long i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)i) != 0) {
			fprintf(stderr, "null_writes: pthread_create failed\n");
			return 1;
		}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	printf("null_writes: /dev/null took %ld bytes\n", taken[0] + taken[1]);
	return 0;
}
