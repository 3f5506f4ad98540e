/* SPDX-License-Identifier: MIT */
/*
 * Blocking calls that fail with EINTR when their thread stops, even with
 * no signal handler (signal(7), "Interruption of system calls and library
 * functions by stop signals"), each held 150 ms by a helper thread: a
 * System V semaphore wait (semop), sigtimedwait(2) for a signal the
 * helper sends, a recv(2) on a socket with SO_RCVTIMEO, and an epoll_wait.
 * Natively none sees EINTR (nothing stops the process); under `uprr
 * record --mode=tp --epoch=20` an epoch's end interrupts them, and uprr
 * must restart them, not let the program see EINTR (record-epoch.c,
 * restart_interrupted()). Prints what each returned.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/socket.h>

#include "progs.h"

#define HOLD_NS 150000000L

static int g_sem;
static int g_sock[2];
static int g_pipe[2];
static pthread_t g_main;

static void
hold(void)
{
	struct timespec ts = { 0, HOLD_NS };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* After HOLD_NS each: the semaphore posted, the signal sent, a byte on the
 * socket, a byte on the pipe the epoll set watches. */
static void *
helper(void *arg)
{
	struct sembuf post = { 0, 1, 0 };

	(void)arg;
	hold();
	if (semop(g_sem, &post, 1) < 0)
		die("tp_eintr: semop post: %s", strerror(errno));
	hold();
	if (pthread_kill(g_main, SIGUSR1) != 0)
		die("tp_eintr: pthread_kill");
	hold();
	if (write(g_sock[1], "s", 1) != 1)
		die("tp_eintr: write to the socket: %s", strerror(errno));
	hold();
	if (write(g_pipe[1], "p", 1) != 1)
		die("tp_eintr: write to the pipe: %s", strerror(errno));
	return NULL;
}

static void
report(const char *what, long r)
{
	say("%s: %ld%s%s\n", what, r, r < 0 ? " " : "", r < 0 ? strerror(errno) : "");
}

int
main(void)
{
	struct sembuf take = { 0, -1, 0 };
	struct timeval tv = { 5, 0 };
	struct timespec five = { 5, 0 };
	struct epoll_event ev = { .events = EPOLLIN }, got;
	sigset_t usr1;
	pthread_t t;
	char c;
	int ep;

	g_main = pthread_self();
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	if (pthread_sigmask(SIG_BLOCK, &usr1, NULL) != 0)
		die("tp_eintr: pthread_sigmask");
	g_sem = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
	if (g_sem < 0)
		die("tp_eintr: semget: %s", strerror(errno));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, g_sock) < 0 ||
	    setsockopt(g_sock[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		die("tp_eintr: socket: %s", strerror(errno));
	if (pipe2(g_pipe, O_CLOEXEC) < 0)
		die("tp_eintr: pipe2: %s", strerror(errno));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, g_pipe[0], &ev) < 0)
		die("tp_eintr: epoll: %s", strerror(errno));
	if (pthread_create(&t, NULL, helper, NULL) != 0)
		die("tp_eintr: pthread_create");
	report("semop", semop(g_sem, &take, 1));
	report("sigtimedwait", sigtimedwait(&usr1, NULL, &five));
	report("recv", recv(g_sock[0], &c, 1, 0));
	report("epoll_wait", epoll_wait(ep, &got, 1, 5000));
	pthread_join(t, NULL);
	semctl(g_sem, 0, IPC_RMID);
	say("tp_eintr: done\n");
	return 0;
}
