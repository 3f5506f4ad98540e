/* SPDX-License-Identifier: MIT */
/*
 * For `uprr record --syscalls-from` (an EP run answered from a log): reads
 * the file named by argv[1] and a pipe, gets the time and random bytes,
 * and has 3 threads take turns under a mutex and a condition variable,
 * each printing what it read in its turn; it shows the file's first bytes
 * with sendfile(2), and says a last line into a file made its stdout. The
 * output depends on the input, the clock and getrandom, not on the
 * schedule: a run whose syscalls come from a log must print the log's. With argv[2] = "race", a race decides
 * which thread makes which syscall instead: the first thread to claim a
 * flag prints a line the others do not (its syscalls differ between
 * schedules). With argv[2] = "stuck", a thread is still blocked in a read
 * when the process exits.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>

#include "progs.h"

#define NTHREADS 3
#define ROUNDS 4

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_changed = PTHREAD_COND_INITIALIZER;
static int turn;		/* whose turn: thread turn % NTHREADS */
/* threads the main thread joined: worker i returns once i - 1 is joined,
 * so the threads end one at a time (glibc gives a thread's malloc arena
 * back at its end, under its own locks, which no log orders: ends at once
 * leave the arenas' list in another order in each run) */
static int joined;
static int pipe_fds[2];
static unsigned char file_data[4096];
static ssize_t file_len;
static atomic_int claimed;

static uint32_t
fnv(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static void *
worker(void *arg)
{
	int id = (int)(intptr_t)arg;

	for (int round = 0; round < ROUNDS; round++) {
		unsigned char rnd[4];
		struct timespec ts;
		char msg[32];
		ssize_t n;

		pthread_mutex_lock(&lock);
		while (turn % NTHREADS != id)
			pthread_cond_wait(&turn_changed, &lock);
		if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
			die("ep_threads: getrandom: %s", strerror(errno));
		clock_gettime(CLOCK_MONOTONIC, &ts);
		/* the main thread wrote one message per turn into the pipe */
		n = read(pipe_fds[0], msg, 8);
		if (n != 8)
			die("ep_threads: read of the pipe: %zd", n);
		say("turn %d thread %d: pipe '%.8s' file %08x random %02x%02x%02x%02x time %lld.%09ld\n",
		    turn, id, msg, fnv(file_data + turn * 100 % (file_len ? file_len : 1),
				       (size_t)(file_len > 100 ? 100 : file_len)),
		    rnd[0], rnd[1], rnd[2], rnd[3], (long long)ts.tv_sec, ts.tv_nsec);
		turn++;
		pthread_cond_broadcast(&turn_changed);
		pthread_mutex_unlock(&lock);
	}
	pthread_mutex_lock(&lock);
	while (joined < id)
		pthread_cond_wait(&turn_changed, &lock);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void *
stuck(void *arg)
{
	char c;

	pthread_mutex_lock(&lock);
	turn = 1;
	pthread_cond_broadcast(&turn_changed);
	pthread_mutex_unlock(&lock);
	/* nobody writes: the process ends with this thread in its read */
	if (read(pipe_fds[0], &c, 1) >= 0)
		die("ep_threads: read an empty pipe");
	return arg;
}

static void *
racer(void *arg)
{
	int id = (int)(intptr_t)arg;

	/* whoever comes first makes a syscall the others do not */
	if (atomic_exchange(&claimed, 1) == 0)
		say("race: thread %d was first\n", id);
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t threads[NTHREADS];
	bool race = argc > 2 && strcmp(argv[2], "race") == 0;
	int fd;

	if (argc < 2)
		die("usage: ep_threads FILE [race|stuck]");
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("ep_threads: %s: %s", argv[1], strerror(errno));
	file_len = read(fd, file_data, sizeof(file_data));
	if (file_len < 0)
		die("ep_threads: read %s: %s", argv[1], strerror(errno));
	say("file: %zd bytes, fnv %08x, begins '", file_len, fnv(file_data, (size_t)file_len));
	{
		/* bytes shown that were never in the program's memory */
		off_t off = 0;

		if (sendfile(STDOUT_FILENO, fd, &off, 16) != 16)
			die("ep_threads: sendfile: %s", strerror(errno));
		say("'\n");
	}
	close(fd);
	if (race) {
		for (int i = 0; i < NTHREADS; i++)
			if (pthread_create(&threads[i], NULL, racer, (void *)(intptr_t)i) != 0)
				die("ep_threads: pthread_create failed");
		/* the main thread races too */
		racer((void *)(intptr_t)NTHREADS);
		for (int i = 0; i < NTHREADS; i++)
			pthread_join(threads[i], NULL);
		say("ep_threads: race done\n");
		return 0;
	}
	if (pipe2(pipe_fds, O_CLOEXEC) < 0)
		die("ep_threads: pipe2: %s", strerror(errno));
	if (argc > 2 && strcmp(argv[2], "stuck") == 0) {
		if (pthread_create(&threads[0], NULL, stuck, NULL) != 0)
			die("ep_threads: pthread_create failed");
		pthread_mutex_lock(&lock);
		while (!turn)
			pthread_cond_wait(&turn_changed, &lock);
		pthread_mutex_unlock(&lock);
		/* ends the process with the reader in its read (exit_group) */
		for (int i = 0; i < 3; i++) {
			struct timespec ts = { 0, 1000000 };

			nanosleep(&ts, NULL);
			say("main: %d\n", i);
		}
		exit(0);
	}
	for (int i = 0; i < NTHREADS * ROUNDS; i++) {
		char msg[9];

		snprintf(msg, sizeof(msg), "msg-%04d", i);
		if (write(pipe_fds[1], msg, 8) != 8)
			die("ep_threads: write of the pipe: %s", strerror(errno));
	}
	for (int i = 0; i < NTHREADS; i++)
		if (pthread_create(&threads[i], NULL, worker, (void *)(intptr_t)i) != 0)
			die("ep_threads: pthread_create failed");
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(threads[i], NULL);
		pthread_mutex_lock(&lock);
		joined = i + 1;
		pthread_cond_broadcast(&turn_changed);
		pthread_mutex_unlock(&lock);
	}
	say("ep_threads: %d turns\n", turn);
	{
		/* stdout becomes a file: what follows is not uprr's output */
		char path[4096];

		snprintf(path, sizeof(path), "%s.out", argv[1]);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
			die("ep_threads: %s: %s", path, strerror(errno));
		say("into %s\n", path);
	}
	return 0;
}
