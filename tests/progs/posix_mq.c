/* SPDX-License-Identifier: MIT */
/*
 * POSIX message queues between two processes: a child sends messages of
 * seeded priorities into a small queue (mq_timedsend waits when it is full),
 * the parent receives them (mq_timedreceive waits when it is empty) and
 * prints them with their priorities. The parent asks to be notified of the
 * first message by a signal (mq_notify SIGEV_SIGNAL, an asynchronous signal
 * from the kernel) and, in a second round, by a thread (SIGEV_THREAD: glibc's
 * helper thread on a netlink socket). Seed from argv[1], else random.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <mqueue.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "progs.h"

#define MESSAGES 30

static volatile sig_atomic_t notified_sig;
static volatile int notified_thread;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;

static void
on_usr1(int sig, siginfo_t *si, void *ctx)
{
	(void)sig, (void)ctx;
	notified_sig = si->si_code == SI_MESGQ ? 1 : -1;
}

static void
on_message(union sigval v)
{
	pthread_mutex_lock(&lock);
	notified_thread = v.sival_int;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
}

static void
sender(const char *name, uint64_t seed, int round)
{
	mqd_t q = mq_open(name, O_WRONLY);
	char msg[64];

	if (q == (mqd_t)-1)
		die("child mq_open: %s", strerror(errno));
	for (int i = 0; i < MESSAGES; i++) {
		struct timespec ts;
		unsigned prio = (unsigned)(rng_next(&seed) % 8);

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 20;
		snprintf(msg, sizeof(msg), "round %d message %d %08" PRIx64, round, i,
			 rng_next(&seed) & 0xffffffff);
		if (mq_timedsend(q, msg, strlen(msg) + 1, prio, &ts) < 0)
			die("mq_timedsend: %s", strerror(errno));
	}
	_exit(0);
}

static uint64_t
receive_all(mqd_t q, int round)
{
	uint64_t sum = FNV1A_INIT;
	char msg[64];

	for (int i = 0; i < MESSAGES; i++) {
		struct timespec ts;
		unsigned prio;
		ssize_t n;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 20;
		n = mq_timedreceive(q, msg, sizeof(msg), &prio, &ts);
		if (n < 0)
			die("mq_timedreceive: %s", strerror(errno));
		sum = fnv1a(sum, msg, (size_t)n);
		sum = fnv1a(sum, &prio, sizeof(prio));
		if (i % 7 == 0)
			say("round %d: got '%s' priority %u\n", round, msg, prio);
	}
	return sum;
}

int
main(int argc, char **argv)
{
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : random_seed();
	struct mq_attr attr = { .mq_maxmsg = 4, .mq_msgsize = 64 }, now;
	struct sigaction sa = { .sa_sigaction = on_usr1, .sa_flags = SA_SIGINFO };
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1 };
	char name[64];
	sigset_t block, old;
	int status;
	mqd_t q;
	pid_t pid;

	snprintf(name, sizeof(name), "/uprr-posix-mq-%d", (int)getpid());
	q = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
	if (q == (mqd_t)-1)
		die("mq_open: %s", strerror(errno));
	sigaction(SIGUSR1, &sa, NULL);

	/* round 1: a signal says the empty queue got a message */
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &old);
	if (mq_notify(q, &sev) < 0)
		die("mq_notify: %s", strerror(errno));
	pid = fork();
	if (pid == 0)
		sender(name, seed, 1);
	while (!notified_sig)
		sigsuspend(&old);
	sigprocmask(SIG_SETMASK, &old, NULL);
	say("round 1: notified by signal (%s)\n", notified_sig > 0 ? "SI_MESGQ" : "WRONG");
	say("round 1: checksum %016" PRIx64 "\n", receive_all(q, 1));
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		die("the first child failed");

	/* round 2: a thread is started for it */
	sev = (struct sigevent){ .sigev_notify = SIGEV_THREAD,
				 .sigev_notify_function = on_message,
				 .sigev_value.sival_int = 42 };
	if (mq_notify(q, &sev) < 0)
		die("mq_notify SIGEV_THREAD: %s", strerror(errno));
	pid = fork();
	if (pid == 0)
		sender(name, seed ^ 0x5555, 2);
	pthread_mutex_lock(&lock);
	while (!notified_thread)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	say("round 2: notified by a thread (value %d)\n", notified_thread);
	say("round 2: checksum %016" PRIx64 "\n", receive_all(q, 2));
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		die("the second child failed");

	if (mq_getattr(q, &now) < 0)
		die("mq_getattr: %s", strerror(errno));
	say("queue: %ld of %ld messages of %ld bytes\n", now.mq_curmsgs, now.mq_maxmsg,
	    now.mq_msgsize);
	if (mq_close(q) < 0 || mq_unlink(name) < 0)
		die("mq_unlink: %s", strerror(errno));
	say("posix_mq: ok\n");
	return 0;
}
