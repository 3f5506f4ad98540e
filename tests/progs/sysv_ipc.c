/* SPDX-License-Identifier: MIT */
/*
 * SysV IPC between two processes: a shared memory segment attached before
 * the fork (inherited) and again in each process, two semaphores that hand
 * turns, a message queue that carries each turn's report to the parent.
 * Prints what it saw; from a seed (argv[1], else random) so native runs
 * differ. `sysv_ipc attach KEY` attaches the segment of that key (made by
 * `sysv_ipc make KEY`, removed by `sysv_ipc rm KEY`) and prints its first
 * word: uprr must refuse a segment made outside the recording.
 * `sysv_ipc hold KEY` makes a segment of that key, attaches it, says so, and
 * after a line on stdin asks for its attachments and removes it; `sysv_ipc
 * peek KEY` attaches it and stays attached until stdin ends: uprr must
 * refuse a segment a process outside the recording has attached.
 */
#include <inttypes.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>

#include "progs.h"

#define TURNS 40
#define SEG_SIZE 3 * 4096 + 100

struct shared {
	uint64_t value;
	uint32_t turn;
	char note[64];
};

struct report {
	long mtype;
	char text[80];
};

static void
sem_step(int sem, unsigned short num, short delta)
{
	struct sembuf op = { num, delta, 0 };

	while (semop(sem, &op, 1) < 0)
		if (errno != EINTR)
			die("semop: %s", strerror(errno));
}

/* Wait for our turn with semtimedop(2): the timeout only guards a hang. */
static void
sem_wait_timed(int sem, unsigned short num)
{
	struct sembuf op = { num, -1, 0 };
	struct timespec ts = { 20, 0 };

	while (semtimedop(sem, &op, 1, &ts) < 0)
		if (errno != EINTR)
			die("semtimedop: %s", strerror(errno));
}

static void
child(int shm, int sem, int msq, struct shared *inherited, uint64_t seed)
{
	struct shared *own = shmat(shm, NULL, 0);
	struct report r;

	if (own == (void *)-1)
		die("child shmat: %s", strerror(errno));
	for (int i = 0; i < TURNS; i++) {
		sem_wait_timed(sem, 1);
		/* the parent wrote through its mapping: both of ours see it */
		if (own->value != inherited->value || own->turn != (uint32_t)(2 * i + 1))
			die("child: the segment disagrees with itself");
		own->value = own->value * 6364136223846793005ull + (seed | 1);
		own->turn++;
		snprintf(own->note, sizeof(own->note), "child turn %d", i);
		r.mtype = 1 + i % 3;
		snprintf(r.text, sizeof(r.text), "child %d saw %016" PRIx64, i, own->value);
		if (msgsnd(msq, &r, strlen(r.text) + 1, 0) < 0)
			die("msgsnd: %s", strerror(errno));
		sem_step(sem, 0, 1);
	}
	if (shmdt(own) < 0)
		die("child shmdt: %s", strerror(errno));
	_exit(0);
}

static int
run(uint64_t seed)
{
	int shm = shmget(IPC_PRIVATE, SEG_SIZE, IPC_CREAT | 0600);
	int sem = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
	int msq = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	unsigned short vals[2] = { 1, 0 }, got[2];
	struct shmid_ds sds;
	struct semid_ds semds;
	struct msqid_ds mds;
	struct shared *s, *again;
	struct report r;
	uint64_t sum = FNV1A_INIT;
	int status, nmsg = 0;
	pid_t pid;

	if (shm < 0 || sem < 0 || msq < 0)
		die("get: %s", strerror(errno));
	if (semctl(sem, 0, SETALL, vals) < 0)
		die("SETALL: %s", strerror(errno));
	s = shmat(shm, NULL, 0);
	if (s == (void *)-1)
		die("shmat: %s", strerror(errno));
	s->value = seed;
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0)
		child(shm, sem, msq, s, seed);
	again = shmat(shm, NULL, SHM_RDONLY);
	if (again == (void *)-1)
		die("second shmat: %s", strerror(errno));
	for (int i = 0; i < TURNS; i++) {
		sem_step(sem, 0, -1);
		if (i > 0) {
			/* the child's report of its last turn: the queue is its only
			 * sender, and msgrcv may wait for it */
			ssize_t n = msgrcv(msq, &r, sizeof(r.text), 0, 0);

			if (n < 0)
				die("msgrcv: %s", strerror(errno));
			sum = fnv1a(sum, r.text, (size_t)n);
			nmsg++;
			if (i % 10 == 1)
				say("type %ld: %s (%s)\n", r.mtype, r.text, again->note);
		}
		s->value ^= s->value >> 29;
		s->turn++;
		sem_step(sem, 1, 1);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		die("the child failed");
	while (msgrcv(msq, &r, sizeof(r.text), 0, IPC_NOWAIT) >= 0) {
		sum = fnv1a(sum, r.text, strlen(r.text) + 1);
		nmsg++;
	}
	if (errno != ENOMSG)
		die("msgrcv: %s", strerror(errno));
	if (semctl(sem, 0, GETALL, got) < 0 || semctl(sem, 0, IPC_STAT, &semds) < 0 ||
	    shmctl(shm, IPC_STAT, &sds) < 0 || msgctl(msq, IPC_STAT, &mds) < 0)
		die("ctl: %s", strerror(errno));
	say("value %016" PRIx64 " turn %u note '%s'\n", again->value, again->turn, again->note);
	say("messages %d, checksum %016" PRIx64 "\n", nmsg, sum);
	say("semaphores %u %u of %lu; segment of %zu bytes, %lu attached; queue holds %lu\n",
	    got[0], got[1], (unsigned long)semds.sem_nsems, sds.shm_segsz,
	    (unsigned long)sds.shm_nattch, (unsigned long)mds.msg_qnum);
	if (shmdt(again) < 0 || shmdt(s) < 0)
		die("shmdt: %s", strerror(errno));
	if (shmctl(shm, IPC_RMID, NULL) < 0 || semctl(sem, 0, IPC_RMID) < 0 ||
	    msgctl(msq, IPC_RMID, NULL) < 0)
		die("IPC_RMID: %s", strerror(errno));
	say("sysv_ipc: %s\n", nmsg == TURNS && sds.shm_nattch == 2 ? "ok" : "WRONG");
	return 0;
}

int
main(int argc, char **argv)
{
	key_t key;
	int id;
	uint64_t *p;

	if (argc == 3) {
		key = (key_t)strtol(argv[2], NULL, 0);
		if (!strcmp(argv[1], "hold")) {
			struct shmid_ds ds;
			char line[8];

			id = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600);
			if (id < 0 || shmat(id, NULL, 0) == (void *)-1)
				die("hold: %s", strerror(errno));
			say("holding the segment\n");
			if (read(0, line, sizeof(line)) < 0 || shmctl(id, IPC_STAT, &ds) < 0)
				die("hold: %s", strerror(errno));
			say("attached %lu times\n", (unsigned long)ds.shm_nattch);
			return shmctl(id, IPC_RMID, NULL) < 0;
		}
		if (!strcmp(argv[1], "make")) {
			id = shmget(key, 4096, IPC_CREAT | 0600);
			if (id < 0 || (p = shmat(id, NULL, 0)) == (void *)-1)
				die("make: %s", strerror(errno));
			*p = 0x1234567;
			return 0;
		}
		id = shmget(key, 0, 0);
		if (id < 0)
			die("shmget: %s", strerror(errno));
		if (!strcmp(argv[1], "rm"))
			return shmctl(id, IPC_RMID, NULL) < 0;
		p = shmat(id, NULL, 0);
		if (p == (void *)-1)
			die("attach: %s", strerror(errno));
		say("first word %" PRIx64 "\n", *p);
		if (!strcmp(argv[1], "peek"))
			while (read(0, &id, 1) > 0)
				;
		return 0;
	}
	return run(argc > 1 ? strtoull(argv[1], NULL, 0) : random_seed());
}
