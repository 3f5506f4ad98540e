/* SPDX-License-Identifier: MIT */
/*
 * Threads whose output depends only on the order in which they take
 * synchronization objects (tests/e2e/sync_order.py: run under
 * libuprr-sync.so in LOG mode, then in FOLLOW mode, the output must be the
 * LOG run's every time; natively it differs from run to run). Each case
 * works a pseudo-random while between operations so that the threads race.
 *
 *   sync_order mutex|trylock|cond|sem|barrier|once|rwlock|spin|futex|timed|fork
 */
#include <linux/futex.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "tests/progs/progs.h"

#define MAXSEQ 4096

static int seq[MAXSEQ];
static int nseq;
static double fsum = 1.0;

/* Work a pseudo-random while: a per-thread generator, not the clock */
static volatile unsigned sink;

static void
work(unsigned *state)
{
	unsigned n;

	*state = *state * 1103515245u + 12345u;
	n = (*state >> 16) % 4000;
	for (unsigned i = 0; i < n; i++)
		sink += i;
}

static void
append(int id)
{
	if (nseq < MAXSEQ)
		seq[nseq++] = id;
	/* floating point: the sum depends on the order of the additions */
	fsum = fsum * 1.0001 + id * 0.1;
}

/* The sequence in lines of 100 characters, and its length */
static void
print_seq(const char *name, const int *s, int n)
{
	char line[128];

	say("%s: %d entries\n", name, n);
	for (int i = 0; i < n; i += 100) {
		int k = 0;

		for (int j = i; j < n && j < i + 100; j++)
			line[k++] = (char)(s[j] < 0 ? '-' : s[j] < 10 ? '0' + s[j] : 'a' + s[j] - 10);
		line[k] = 0;
		say("  %s\n", line);
	}
}

/* Numbers, 20 a line */
static void
print_nums(const char *name, const int *s, int n)
{
	say("%s:\n", name);
	for (int i = 0; i < n; i += 20) {
		char line[256];
		int k = 0;

		for (int j = i; j < n && j < i + 20; j++)
			k += snprintf(line + k, sizeof(line) - (size_t)k, " %d", s[j]);
		say("%s\n", line);
	}
}

/* The threads start together: each waits at a gate the main thread opens
 * once all exist (a plain atomic, not an operation the interposer sees) */
static atomic_int gate, waiting;
static void *(*thread_fn)(void *);

static void *
gated(void *arg)
{
	atomic_fetch_add(&waiting, 1);
	while (!atomic_load(&gate))
		;
	return thread_fn(arg);
}

static void
run_threads(int n, void *(*fn)(void *))
{
	pthread_t t[16];

	thread_fn = fn;
	for (long i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, gated, (void *)i)) {
			say("pthread_create failed\n");
			exit(1);
		}
	while (atomic_load(&waiting) < n)
		;
	atomic_store(&gate, 1);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

/* ---- mutex ---- */

static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;

static void *
mutex_thread(void *arg)
{
	int id = (int)(long)arg;
	unsigned st = (unsigned)id * 7919u + 1;

	for (int i = 0; i < 200; i++) {
		pthread_mutex_lock(&mtx);
		append(id);
		pthread_mutex_unlock(&mtx);
		work(&st);
	}
	return NULL;
}

/* ---- trylock ---- */

static int try_fails[8];

static void *
trylock_thread(void *arg)
{
	int id = (int)(long)arg;
	unsigned st = (unsigned)id * 31u + 5;

	for (int done = 0; done < 100;) {
		if (pthread_mutex_trylock(&mtx) == 0) {
			append(id);
			done++;
			pthread_mutex_unlock(&mtx);
		} else {
			try_fails[id]++;
		}
		work(&st);
	}
	return NULL;
}

/* ---- condition variables: a bounded queue ---- */

#define QCAP 3
#define NITEMS 100
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static int queue[QCAP], qhead, qlen, produced_all;
static int got[2][2 * NITEMS], ngot[2];

static void *
producer(void *arg)
{
	int id = (int)(long)arg;
	unsigned st = (unsigned)id * 101u + 3;

	for (int k = 0; k < NITEMS; k++) {
		pthread_mutex_lock(&mtx);
		while (qlen == QCAP)
			pthread_cond_wait(&not_full, &mtx);
		queue[(qhead + qlen++) % QCAP] = id * 1000 + k;
		pthread_cond_signal(&not_empty);
		pthread_mutex_unlock(&mtx);
		work(&st);
	}
	return NULL;
}

static void *
consumer(void *arg)
{
	int id = (int)(long)arg - 2;
	unsigned st = (unsigned)id * 13u + 11;

	for (;;) {
		int v;

		pthread_mutex_lock(&mtx);
		while (qlen == 0 && produced_all < 2 * NITEMS)
			pthread_cond_wait(&not_empty, &mtx);
		if (qlen == 0) {
			pthread_mutex_unlock(&mtx);
			return NULL;
		}
		v = queue[qhead];
		qhead = (qhead + 1) % QCAP;
		qlen--;
		produced_all++;
		got[id][ngot[id]++] = v;
		append(id);
		if (produced_all == 2 * NITEMS)
			pthread_cond_broadcast(&not_empty);
		pthread_cond_signal(&not_full);
		pthread_mutex_unlock(&mtx);
		work(&st);
	}
}

static void *
cond_thread(void *arg)
{
	return (long)arg < 2 ? producer(arg) : consumer(arg);
}

/* ---- semaphores ---- */

static sem_t sem;
static int sem_fails[8];

static void *
sem_thread(void *arg)
{
	int id = (int)(long)arg;
	unsigned st = (unsigned)id * 17u + 2;

	for (int i = 0; i < 150; i++) {
		if (sem_trywait(&sem) < 0) {
			sem_fails[id]++;
			while (sem_wait(&sem) < 0)
				;
		}
		append(id);
		sem_post(&sem);
		work(&st);
	}
	return NULL;
}

/* ---- barrier ---- */

#define ROUNDS 100
static pthread_barrier_t bar;
static int serial[ROUNDS];

static void *
barrier_thread(void *arg)
{
	int id = (int)(long)arg;
	unsigned st = (unsigned)id * 71u + 9;

	for (int r = 0; r < ROUNDS; r++) {
		work(&st);
		if (pthread_barrier_wait(&bar) == PTHREAD_BARRIER_SERIAL_THREAD)
			serial[r] = id;
	}
	return NULL;
}

/* ---- pthread_once ---- */

#define NONCE 64
static pthread_once_t onces[NONCE];
static int once_ran[NONCE];
static __thread int my_id, my_once;

static void
once_init(void)
{
	once_ran[my_once] = my_id;
}

static void *
once_thread(void *arg)
{
	unsigned st = (unsigned)(long)arg * 43u + 1;

	my_id = (int)(long)arg;
	for (int i = 0; i < NONCE; i++) {
		if (i % 8 == 0)
			pthread_barrier_wait(&bar);
		work(&st);
		my_once = i;
		pthread_once(&onces[i], once_init);
	}
	return NULL;
}

/* ---- rwlock ---- */

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static int seen[2][100];

static void *
rwlock_thread(void *arg)
{
	int id = (int)(long)arg;
	unsigned st = (unsigned)id * 57u + 4;

	for (int i = 0; i < 100; i++) {
		if (id < 2) {
			pthread_rwlock_wrlock(&rw);
			append(id);
			pthread_rwlock_unlock(&rw);
		} else {
			pthread_rwlock_rdlock(&rw);
			seen[id - 2][i] = nseq;
			pthread_rwlock_unlock(&rw);
		}
		work(&st);
	}
	return NULL;
}

/* ---- spin locks ---- */

static pthread_spinlock_t spin;

static void *
spin_thread(void *arg)
{
	int id = (int)(long)arg;
	unsigned st = (unsigned)id * 7u + 8;

	for (int i = 0; i < 200; i++) {
		pthread_spin_lock(&spin);
		append(id);
		pthread_spin_unlock(&spin);
		work(&st);
	}
	return NULL;
}

/* ---- futex calls through syscall(3) ---- */

static atomic_uint word;
static int wake_res[200], wait_res[200];

static void *
futex_thread(void *arg)
{
	unsigned st = (unsigned)(long)arg * 3u + 1;

	for (int i = 0; i < 200; i++) {
		if ((long)arg == 0) {
			atomic_fetch_add(&word, 1);
			wake_res[i] = (int)syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
		} else {
			struct timespec ts = { 0, 200000 };
			unsigned v = atomic_load(&word);

			wait_res[i] = syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, v, &ts, NULL, 0) < 0
				? errno : 0;
		}
		work(&st);
	}
	return NULL;
}

/* ---- timed and clock variants: timeouts depend on timing ---- */

static pthread_cond_t tcond = PTHREAD_COND_INITIALIZER;
static int timed_out[3][3];	/* per thread: timedlock, cond clockwait, sem clockwait */

static struct timespec
deadline(clockid_t clock, long ns)
{
	struct timespec t;

	clock_gettime(clock, &t);
	t.tv_nsec += ns;
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	return t;
}

static void *
timed_thread(void *arg)
{
	int id = (int)(long)arg;
	unsigned st = (unsigned)id * 29u + 6;

	for (int i = 0; i < 100; i++) {
		struct timespec dl = deadline(CLOCK_REALTIME, 20000);

		if (pthread_mutex_timedlock(&mtx, &dl) == 0) {
			append(id);
			work(&st);
			pthread_cond_signal(&tcond);
			if (i % 4 == 0) {
				dl = deadline(CLOCK_MONOTONIC, 30000);
				if (pthread_cond_clockwait(&tcond, &mtx, CLOCK_MONOTONIC, &dl) == ETIMEDOUT)
					timed_out[id][1]++;
				append(id + 3);
			}
			pthread_mutex_unlock(&mtx);
		} else {
			timed_out[id][0]++;
		}
		sem_post(&sem);
		dl = deadline(CLOCK_MONOTONIC, 10000);
		if (sem_clockwait(&sem, CLOCK_MONOTONIC, &dl) < 0)
			timed_out[id][2]++;
		work(&st);
	}
	return NULL;
}

/* ---- processes: a semaphore and a mutex shared by forked children ---- */

/* In a MAP_SHARED page made before the forks: the same address in each */
struct shared_area {
	sem_t sem;
	pthread_mutex_t mutex;
	int seq[2][MAXSEQ];
	int nseq[2];
	double fsum[2];		/* each under its own lock */
};
static struct shared_area *sh;
/* each process's own (its copy of the parent's): per-process clocks */
static pthread_mutex_t own_mutex = PTHREAD_MUTEX_INITIALIZER;
static int own_count;

static void
shared_append(int which, int id)
{
	if (sh->nseq[which] < MAXSEQ)
		sh->seq[which][sh->nseq[which]++] = id;
	sh->fsum[which] = sh->fsum[which] * 1.0001 + id * 0.1;
}

static void *
proc_thread(void *arg)
{
	int id = (int)(long)arg;
	unsigned st = (unsigned)id * 31u + 9;

	for (int i = 0; i < 100; i++) {
		/* the child's heap too */
		void *p = malloc(64 + (size_t)i);

		if (i % 2) {
			sem_wait(&sh->sem);
			shared_append(0, id);
			sem_post(&sh->sem);
		} else {
			pthread_mutex_lock(&sh->mutex);
			shared_append(1, id);
			pthread_mutex_unlock(&sh->mutex);
		}
		pthread_mutex_lock(&own_mutex);
		own_count++;
		pthread_mutex_unlock(&own_mutex);
		free(p);
		work(&st);
	}
	return NULL;
}

/* The parent's main thread (0) and two forked children of 2 threads each
 * (1-4) take the shared semaphore and mutex in turns */
static int
run_forks(void)
{
	pthread_mutexattr_t ma;
	pid_t kids[2];

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return -1;
	sem_init(&sh->sem, 1, 1);
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&sh->mutex, &ma);
	sh->fsum[0] = sh->fsum[1] = 1.0;
	for (int c = 0; c < 2; c++) {
		kids[c] = fork();
		if (kids[c] < 0)
			return -1;
		if (kids[c] == 0) {
			pthread_t t[2];

			for (long i = 0; i < 2; i++)
				pthread_create(&t[i], NULL, proc_thread, (void *)(1 + 2 * c + i));
			for (int i = 0; i < 2; i++)
				pthread_join(t[i], NULL);
			_exit(own_count == 200 ? 0 : 1);
		}
	}
	proc_thread(0);
	for (int c = 0; c < 2; c++) {
		int status;

		if (waitpid(kids[c], &status, 0) < 0 || !WIFEXITED(status) ||
				WEXITSTATUS(status) != 0) {
			say("child %d failed\n", c);
			return -1;
		}
	}
	print_seq("semaphore order", sh->seq[0], sh->nseq[0]);
	print_seq("mutex order", sh->seq[1], sh->nseq[1]);
	say("sums %.6f %.6f\n", sh->fsum[0], sh->fsum[1]);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "mutex";

	if (!strcmp(mode, "mutex")) {
		run_threads(4, mutex_thread);
	} else if (!strcmp(mode, "trylock")) {
		run_threads(3, trylock_thread);
		say("trylock failures: %d %d %d\n", try_fails[0], try_fails[1], try_fails[2]);
	} else if (!strcmp(mode, "cond")) {
		run_threads(4, cond_thread);
		for (int c = 0; c < 2; c++) {
			unsigned h = 2166136261u;

			for (int i = 0; i < ngot[c]; i++)
				h = (h ^ (unsigned)got[c][i]) * 16777619u;
			say("consumer %d: %d items, hash %08x\n", c, ngot[c], h);
		}
	} else if (!strcmp(mode, "sem")) {
		sem_init(&sem, 0, 1);
		run_threads(3, sem_thread);
		say("sem_trywait failures: %d %d %d\n", sem_fails[0], sem_fails[1], sem_fails[2]);
	} else if (!strcmp(mode, "barrier")) {
		pthread_barrier_init(&bar, NULL, 4);
		run_threads(4, barrier_thread);
		print_seq("serial threads", serial, ROUNDS);
	} else if (!strcmp(mode, "once")) {
		pthread_barrier_init(&bar, NULL, 4);
		run_threads(4, once_thread);
		print_seq("once run by", once_ran, NONCE);
	} else if (!strcmp(mode, "rwlock")) {
		run_threads(4, rwlock_thread);
		for (int r = 0; r < 2; r++)
			print_nums(r ? "reader 1 saw" : "reader 0 saw", seen[r], 100);
	} else if (!strcmp(mode, "timed")) {
		sem_init(&sem, 0, 0);
		run_threads(3, timed_thread);
		for (int t = 0; t < 3; t++)
			say("thread %d timed out: lock %d, cond %d, sem %d\n", t, timed_out[t][0],
				timed_out[t][1], timed_out[t][2]);
	} else if (!strcmp(mode, "spin")) {
		pthread_spin_init(&spin, PTHREAD_PROCESS_PRIVATE);
		run_threads(3, spin_thread);
	} else if (!strcmp(mode, "fork")) {
		return run_forks() < 0 ? 1 : 0;
	} else if (!strcmp(mode, "futex")) {
		run_threads(2, futex_thread);
		print_seq("woken", wake_res, 200);
		for (int i = 0; i < 200; i++)
			wait_res[i] = wait_res[i] == EAGAIN ? 1 : wait_res[i] == ETIMEDOUT ? 2 : wait_res[i];
		print_seq("wait results", wait_res, 200);
		return 0;
	} else {
		say("unknown case %s\n", mode);
		return 2;
	}
	print_seq("order", seq, nseq);
	say("sum %.6f\n", fsum);
	return 0;
}
