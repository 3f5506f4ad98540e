/* SPDX-License-Identifier: MIT */
/*
 * Makes calls the kernel rejects, which uprr does not model, and prints what
 * each returned: a syscall number the kernel does not implement, ioctl,
 * fcntl, prctl, futex, keyctl and ptrace requests that fail, io_uring_setup
 * with bad parameters, and an unknown futex request that blocks until
 * another thread ends it. uprr records each failure and replay returns it;
 * the output matches a native run's.
 */
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#include "progs.h"

static void
show(const char *what, long r)
{
	if (r < 0)
		say("%s: -1 %s\n", what, strerrorname_np(errno));
	else
		say("%s: %ld\n", what, r);
}

static _Atomic uint32_t word, word2, started, main_ran;

/* FUTEX_WAIT_REQUEUE_PI waits on word like FUTEX_WAIT, here until its
 * absolute CLOCK_MONOTONIC timeout: ETIMEDOUT (futex(2)). Meanwhile the main
 * thread must run, as it does natively. */
static void *
waiter(void *arg)
{
	struct timespec ts;
	long r;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += 1;
	started = 1;
	r = syscall(SYS_futex, &word, FUTEX_WAIT_REQUEUE_PI | FUTEX_PRIVATE_FLAG, 0, &ts, &word2, 0);
	*(int *)arg = r < 0 ? errno : 0;
	say("futex FUTEX_WAIT_REQUEUE_PI: %s; the main thread ran meanwhile: %s\n",
	    r < 0 ? strerrorname_np(errno) : "0", main_ran ? "yes" : "no");
	return NULL;
}

int
main(void)
{
	unsigned char params[120] = { 0 }; /* struct io_uring_params */
	int p[2], err = -1;
	pthread_t th;
	long peek = 0;

	if (pipe(p) < 0)
		die("pipe: %s", strerror(errno));
	show("syscall 500", syscall(500, 1, 2, 3));
	show("syscall 511", syscall(511));
	show("ioctl 0xdead on a pipe", ioctl(p[0], 0xdead, NULL));
	show("ioctl _IOR('x', 7, 64) on a pipe", ioctl(p[0], _IOR('x', 7, char[64]), params));
	show("ioctl TIOCSTI on a pipe", ioctl(p[1], TIOCSTI, "x"));
	show("ioctl FIOASYNC on a closed fd", ioctl(77, FIOASYNC, &(int){ 1 }));
	show("fcntl 9999", fcntl(p[0], 9999, 0));
	show("fcntl F_SETSIG bad signal", fcntl(p[0], F_SETSIG, 1000));
	show("prctl 9999", prctl(9999, 0, 0, 0, 0));
	show("prctl PR_SET_MM bad request", prctl(PR_SET_MM, 9999, 0, 0, 0));
	show("futex op 14", syscall(SYS_futex, &word, 14, 0, NULL, NULL, 0));
	show("futex FUTEX_UNLOCK_PI not owner", syscall(SYS_futex, &word, FUTEX_UNLOCK_PI, 0, NULL,
							 NULL, 0));
	show("keyctl 9999", syscall(SYS_keyctl, 9999, 0, 0, 0, 0));
	show("ptrace PTRACE_PEEKDATA of pid 1", syscall(SYS_ptrace, PTRACE_PEEKDATA, 1, 0, &peek));
	show("io_uring_setup 0 entries", syscall(SYS_io_uring_setup, 0, params));

	/* an unknown call that blocks: the other thread runs meanwhile */
	if (pthread_create(&th, NULL, waiter, &err) != 0)
		die("pthread_create");
	while (!started)
		sleep_us(1000);
	sleep_us(50000);
	main_ran = 1;
	pthread_join(th, NULL);
	say("unknown_calls: ok\n");
	return 0;
}
