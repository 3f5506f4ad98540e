/* SPDX-License-Identifier: MIT */
/*
 * Opens that wait for another thread of the program: a FIFO opened for
 * reading waits in the kernel (fifo(7)) until a writer opens it, here a
 * second thread that opens it a little later; then the other way round
 * (the writer first). Under a recorder that runs every open to its end
 * while the other threads are held, the first open never returns.
 * Prints what went through and "fifo_open: ok".
 */
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>

#include "progs.h"

static char g_path[256];

static void
pause_ms(long ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	nanosleep(&ts, NULL);
}

/* Opens the FIFO with @flags after a short wait and writes or reads one line. */
static void *
other_end(void *arg)
{
	int flags = (int)(long)arg, fd;
	char got[32] = { 0 };

	pause_ms(20);
	fd = open(g_path, flags);
	if (fd < 0)
		die("fifo_open: open of the other end: %s", strerror(errno));
	if (flags == O_WRONLY) {
		if (write(fd, "from the writer\n", 16) != 16)
			die("fifo_open: write: %s", strerror(errno));
	} else {
		if (read(fd, got, sizeof(got) - 1) <= 0)
			die("fifo_open: read: %s", strerror(errno));
		say("reader thread got: %s", got);
	}
	close(fd);
	return NULL;
}

int
main(int argc, char **argv)
{
	char got[32] = { 0 };
	pthread_t th;
	int fd;

	snprintf(g_path, sizeof(g_path), "%s/fifo-%d", argc > 1 ? argv[1] : "/tmp", (int)getpid());
	if (mkfifo(g_path, 0600) < 0)
		die("fifo_open: mkfifo: %s", strerror(errno));
	/* the reader opens first: it waits for the writer thread */
	pthread_create(&th, NULL, other_end, (void *)(long)O_WRONLY);
	fd = open(g_path, O_RDONLY);
	if (fd < 0)
		die("fifo_open: open for reading: %s", strerror(errno));
	if (read(fd, got, sizeof(got) - 1) <= 0)
		die("fifo_open: read: %s", strerror(errno));
	say("main thread got: %s", got);
	close(fd);
	pthread_join(th, NULL);
	/* the writer opens first: it waits for the reader thread */
	pthread_create(&th, NULL, other_end, (void *)(long)O_RDONLY);
	fd = open(g_path, O_WRONLY);
	if (fd < 0)
		die("fifo_open: open for writing: %s", strerror(errno));
	if (write(fd, "from the main thread\n", 21) != 21)
		die("fifo_open: write: %s", strerror(errno));
	close(fd);
	pthread_join(th, NULL);
	unlink(g_path);
	say("fifo_open: ok\n");
	return 0;
}
