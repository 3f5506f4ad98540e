/* SPDX-License-Identifier: MIT */
/*
 * A thread claims its syscall buffer with a call that takes the traced
 * path (ioctl TCGETS, or a futex wake the recorder has not allowed yet:
 * argument "futex"), no record in it, and then spins while its process's
 * only other thread waits in a futex (so its run has no restore point):
 * a SIGUSR1 from outside the recording (the e2e harness, once the pid is
 * in the file argv[1]) then sends its next buffered call, clock_gettime,
 * the traced way in the recording. Replay must too (an end marker in the
 * claimed buffer, replay/syscallbuf.c): it went on buffered before, and
 * diverged at the next traced call. Prints whether the handler ran.
 */
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>

#include "progs.h"

static volatile sig_atomic_t g_got;
static volatile unsigned long g_sink;
static int g_futex;

static void
on_usr1(int sig)
{
	(void)sig;
	g_got = 1;
}

static void *
spinner(void *arg)
{
	struct termios tio;
	struct timespec ts;
	uint32_t word = 0;

	(void)arg;
	if (g_futex)
		syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	else
		(void)ioctl(0, TCGETS, &tio);
	/* about 1 s natively at most; the signal ends it */
	for (unsigned long i = 0; i < 1000000000ul && !g_got; i++)
		g_sink += i;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	say("spinner: signal %s\n", g_got ? "handled" : "not seen");
	return NULL;
}

int
main(int argc, char **argv)
{
	struct timespec ts;
	pthread_t th;
	sigset_t set;
	FILE *f;

	if (argc < 2)
		die("usage: buffer_claim PIDFILE [futex]");
	g_futex = argc > 2;
	signal(SIGUSR1, on_usr1);
	/* the vDSO's clock_gettime site patched: the spinner's call goes
	 * into the library */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (pthread_create(&th, NULL, spinner, NULL))
		die("buffer_claim: pthread_create failed");
	/* only the spinner takes SIGUSR1 */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	f = fopen(argv[1], "w");
	if (!f)
		die("buffer_claim: %s: %s", argv[1], strerror(errno));
	fprintf(f, "%d\n", getpid());
	fclose(f);
	pthread_join(th, NULL);
	say("done\n");
	return 0;
}
