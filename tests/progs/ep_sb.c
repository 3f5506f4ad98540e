/* SPDX-License-Identifier: MIT */
/*
 * Calls the syscall buffer takes, many between traced ones, for an EP
 * run's buffer to answer in-process (recorder/record-ep-sb.c).
 *
 *   ep_sb calls DIR   2 threads, each 40 rounds of: getpid, gettid,
 *                     clock_gettime, a write of a line to a pipe the other
 *                     end of which main drains, an fstat and a read of a
 *                     file it made in DIR, then getppid (not buffered: a
 *                     traced call, where the supervisor flushes and puts
 *                     the next records in); prints per thread a sum of
 *                     what it read (the same in every run)
 *   ep_sb race        two threads add 1 to a shared counter 4,000,000
 *                     times each without a lock (updates get lost, in
 *                     another number when the threads run one at a time),
 *                     then a traced call, a buffered clock_gettime and an
 *                     lseek of stdin to the counter's value: an EP run's
 *                     counter is (almost always) another, so that buffered
 *                     lseek has another argument than its log's (writes
 *                     may be traced: a TP run that holds output)
 */
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "progs.h"

#define ROUNDS 40

static const char *dir;
static int pipe_w;

static void *
worker(void *arg)
{
	long id = (long)arg;
	char path[4096], buf[256], line[64];
	uint64_t sum = 0;
	struct timespec ts;
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/ep_sb-%ld", dir, id);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("open %s: %m\n", path);
	for (int i = 0; i < (int)sizeof(buf); i++)
		buf[i] = (char)(i * 7 + id);
	if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		die("write: %m\n");
	for (int r = 0; r < ROUNDS; r++) {
		sum += (uint64_t)(getpid() > 0) + (uint64_t)(syscall(SYS_gettid) > 0);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		int n = snprintf(line, sizeof(line), "thread %ld round %d\n", id, r);
		if (write(pipe_w, line, (size_t)n) != n)
			die("write pipe: %m\n");
		if (fstat(fd, &st) < 0 || st.st_size != (off_t)sizeof(buf))
			die("fstat: %m\n");
		if (pread(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
			die("pread: %m\n");
		for (int i = 0; i < (int)sizeof(buf); i++)
			sum += (unsigned char)buf[i] * (uint64_t)(r + 1);
		(void)getppid();
	}
	close(fd);
	unlink(path);
	say("thread %ld: sum %llu\n", id, (unsigned long long)sum);
	return NULL;
}

static int
calls(void)
{
	pthread_t t[2];
	int p[2];
	char buf[4096];
	ssize_t n;
	long lines = 0;

	/* one arena: whether a thread makes its own (an mmap) or takes an
	 * exited thread's depends on the order the threads end in, which
	 * the interposer does not order (EP runs diverged on it both with
	 * and without their buffer) */
	mallopt(M_ARENA_MAX, 1);
	if (pipe(p) < 0)
		die("pipe: %m\n");
	pipe_w = p[1];
	for (long i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (long i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	close(p[1]);
	while ((n = read(p[0], buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			lines += buf[i] == '\n';
	say("main: %ld lines through the pipe\n", lines);
	return lines == 2 * ROUNDS ? 0 : 1;
}

#define RACE_ADDS 4000000

static volatile unsigned long counter;

static void *
adder(void *arg)
{
	(void)arg;
	for (int i = 0; i < RACE_ADDS; i++)
		counter = counter + 1; /* no lock: a race */
	return NULL;
}

static int
race(void)
{
	pthread_t a, b;
	struct timespec ts;

	if (pthread_create(&a, NULL, adder, NULL) != 0 || pthread_create(&b, NULL, adder, NULL) != 0)
		die("ep_sb: pthread_create failed\n");
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	(void)getppid(); /* traced: the buffer gets the log's next records */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* buffered, its argument the counter's: another in an EP run */
	(void)lseek(STDIN_FILENO, (off_t)counter, SEEK_SET);
	say("ep_sb: a line\n");
	say("ep_sb: counter %lu of %d\n", counter, 2 * RACE_ADDS);
	(void)getppid();
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "calls") == 0) {
		dir = argv[2];
		return calls();
	}
	if (argc == 2 && strcmp(argv[1], "race") == 0)
		return race();
	die("usage: ep_sb calls DIR | ep_sb race\n");
}
