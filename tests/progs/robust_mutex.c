/* SPDX-License-Identifier: MIT */
/*
 * Robust mutexes (pthread_mutexattr_setrobust(3)): an owner that dies holding
 * one makes the next locker get EOWNERDEAD; the kernel marks the lock word
 * FUTEX_OWNER_DIED as it walks the dead thread's robust list
 * (set_robust_list(2)) and wakes a waiter. `robust_mutex thread`: a thread
 * locks and exits, main, already waiting, gets EOWNERDEAD. `robust_mutex
 * process`: the same with a forked child and a process-shared mutex in a
 * MAP_SHARED mapping. The locker makes it consistent and locks again. The
 * output is the same natively.
 *
 * Exits 1 if the locker does not see EOWNERDEAD.
 */
#include <pthread.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "progs.h"

static pthread_mutex_t *g_m;

static void
hold_and_die(void)
{
	if (pthread_mutex_lock(g_m))
		die("robust_mutex: the owner cannot lock");
	say("owner: locked, dies holding it\n");
	sleep_us(50000); /* the locker waits meanwhile */
}

static void *
owner_thread(void *arg)
{
	(void)arg;
	hold_and_die();
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_mutexattr_t a;
	pthread_t t;
	pid_t child = 0;
	int r, status, bad = 0;
	bool proc = argc == 2 && strcmp(argv[1], "process") == 0;

	if (argc != 2 || (!proc && strcmp(argv[1], "thread")))
		die("usage: robust_mutex thread|process");
	g_m = mmap(NULL, sizeof(*g_m), PROT_READ | PROT_WRITE,
		   (proc ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
	if (g_m == MAP_FAILED)
		die("robust_mutex: mmap: %s", strerror(errno));
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (proc)
		pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(g_m, &a);
	if (proc) {
		child = fork();
		if (child < 0)
			die("robust_mutex: fork: %s", strerror(errno));
		if (child == 0) {
			hold_and_die();
			_exit(0);
		}
	} else if (pthread_create(&t, NULL, owner_thread, NULL)) {
		die("robust_mutex: pthread_create failed");
	}
	/* let the owner take it, then wait for it */
	for (int i = 0; i < 10 && pthread_mutex_trylock(g_m) == 0; i++) {
		pthread_mutex_unlock(g_m);
		sleep_us(5000);
	}
	r = pthread_mutex_lock(g_m);
	say("locker: lock returned %s\n", r == EOWNERDEAD ? "EOWNERDEAD" : r ? strerror(r) : "0");
	bad |= r != EOWNERDEAD;
	if (r == EOWNERDEAD) {
		r = pthread_mutex_consistent(g_m);
		say("locker: consistent returned %d\n", r);
		bad |= r != 0;
	}
	pthread_mutex_unlock(g_m);
	r = pthread_mutex_lock(g_m);
	say("locker: lock again returned %d\n", r);
	bad |= r != 0;
	pthread_mutex_unlock(g_m);
	if (proc) {
		if (waitpid(child, &status, 0) != child)
			die("robust_mutex: waitpid: %s", strerror(errno));
		say("child exited with %d\n", WEXITSTATUS(status));
	} else {
		pthread_join(t, NULL);
	}
	return bad;
}
