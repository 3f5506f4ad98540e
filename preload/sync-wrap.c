/* SPDX-License-Identifier: MIT */
/*
 * The interposed functions of libuprr-sync.so (doc/sync-order.md): glibc's
 * pthread mutex, rwlock, condition variable, barrier, once and spin lock
 * operations, the POSIX semaphores, syscall(3)'s futex calls, and
 * pthread_create (which gives each thread its place in the log). Each one
 * asks sync_begin() what to do, then calls glibc's own function, found
 * with dlsym(RTLD_NEXT) (dlvsym for the condition variables, whose
 * unversioned lookup gives glibc 2.2.5's old ABI).
 *
 * In FOLLOW every call that succeeded in the log is made in its blocking
 * form (pthread_mutex_trylock as pthread_mutex_lock, sem_timedwait as
 * sem_wait): its turn came, so it does not wait; a call that failed in the
 * log (EBUSY, ETIMEDOUT, EAGAIN) is not made at all: its result is the
 * log's. A condition wait in FOLLOW does not wait on the condition
 * variable: it releases the mutex at its turn and takes it back at the
 * turn the log gives, which POSIX allows (a spurious wake-up) and which is
 * the order that decides what the program saw.
 */
#include <dlfcn.h>
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <string.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "preload/sync-private.h"

static struct {
	int (*create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
	int (*mutex_lock)(pthread_mutex_t *);
	int (*mutex_trylock)(pthread_mutex_t *);
	int (*mutex_timedlock)(pthread_mutex_t *, const struct timespec *);
	void (*exit)(void *);
	int (*mutex_clocklock)(pthread_mutex_t *, clockid_t, const struct timespec *);
	int (*mutex_unlock)(pthread_mutex_t *);
	int (*rw_rdlock)(pthread_rwlock_t *);
	int (*rw_tryrdlock)(pthread_rwlock_t *);
	int (*rw_timedrdlock)(pthread_rwlock_t *, const struct timespec *);
	int (*rw_wrlock)(pthread_rwlock_t *);
	int (*rw_trywrlock)(pthread_rwlock_t *);
	int (*rw_timedwrlock)(pthread_rwlock_t *, const struct timespec *);
	int (*rw_clockrdlock)(pthread_rwlock_t *, clockid_t, const struct timespec *);
	int (*rw_clockwrlock)(pthread_rwlock_t *, clockid_t, const struct timespec *);
	int (*rw_unlock)(pthread_rwlock_t *);
	int (*cond_wait)(pthread_cond_t *, pthread_mutex_t *);
	int (*cond_timedwait)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
	int (*cond_clockwait)(pthread_cond_t *, pthread_mutex_t *, clockid_t, const struct timespec *);
	int (*cond_signal)(pthread_cond_t *);
	int (*cond_broadcast)(pthread_cond_t *);
	int (*sem_wait)(sem_t *);
	int (*sem_trywait)(sem_t *);
	int (*sem_timedwait)(sem_t *, const struct timespec *);
	int (*sem_clockwait)(sem_t *, clockid_t, const struct timespec *);
	int (*sem_post)(sem_t *);
	int (*barrier_wait)(pthread_barrier_t *);
	int (*once)(pthread_once_t *, void (*)(void));
	int (*spin_lock)(pthread_spinlock_t *);
	int (*spin_trylock)(pthread_spinlock_t *);
	int (*spin_unlock)(pthread_spinlock_t *);
	long (*syscall)(long, ...);
} real;

HIDDEN void
sync_resolve(void)
{
	if (real.syscall)
		return;
#define R(field, name) real.field = dlsym(RTLD_NEXT, name)
	R(create, "pthread_create");
	R(mutex_lock, "pthread_mutex_lock");
	R(exit, "pthread_exit");
	R(mutex_trylock, "pthread_mutex_trylock");
	R(mutex_timedlock, "pthread_mutex_timedlock");
	R(mutex_unlock, "pthread_mutex_unlock");
	R(rw_rdlock, "pthread_rwlock_rdlock");
	R(rw_tryrdlock, "pthread_rwlock_tryrdlock");
	R(rw_timedrdlock, "pthread_rwlock_timedrdlock");
	R(rw_wrlock, "pthread_rwlock_wrlock");
	R(rw_trywrlock, "pthread_rwlock_trywrlock");
	R(rw_timedwrlock, "pthread_rwlock_timedwrlock");
	R(rw_unlock, "pthread_rwlock_unlock");
	R(sem_wait, "sem_wait");
	R(sem_trywait, "sem_trywait");
	R(sem_timedwait, "sem_timedwait");
	R(sem_post, "sem_post");
	R(barrier_wait, "pthread_barrier_wait");
	R(once, "pthread_once");
	/* the clock variants (glibc 2.30; libstdc++'s timed waits use them) */
	R(mutex_clocklock, "pthread_mutex_clocklock");
	R(rw_clockrdlock, "pthread_rwlock_clockrdlock");
	R(rw_clockwrlock, "pthread_rwlock_clockwrlock");
	R(cond_clockwait, "pthread_cond_clockwait");
	R(sem_clockwait, "sem_clockwait");
	R(spin_lock, "pthread_spin_lock");
	R(spin_trylock, "pthread_spin_trylock");
	R(spin_unlock, "pthread_spin_unlock");
#undef R
	/* the condition variables of NPTL (GLIBC_2.3.2); RTLD_NEXT without a
	 * version finds the GLIBC_2.2.5 compatibility ones */
	real.cond_wait = dlvsym(RTLD_NEXT, "pthread_cond_wait", "GLIBC_2.3.2");
	real.cond_timedwait = dlvsym(RTLD_NEXT, "pthread_cond_timedwait", "GLIBC_2.3.2");
	real.cond_signal = dlvsym(RTLD_NEXT, "pthread_cond_signal", "GLIBC_2.3.2");
	real.cond_broadcast = dlvsym(RTLD_NEXT, "pthread_cond_broadcast", "GLIBC_2.3.2");
	__atomic_store_n(&real.syscall, (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall"),
		__ATOMIC_RELEASE);
}

/* A wrapper may run before the library's constructor (another library's
 * constructor locking a mutex): glibc's functions are looked up then. */
#define REAL(field) (__builtin_expect(real.syscall != NULL, 1) ? (void)0 : sync_resolve(), real.field)

/* ---- threads ---- */

struct start {
	void *(*fn)(void *);
	void *arg;
	uint32_t parent;
	uint32_t ordinal;
	uint32_t proc;
};

static void *
thread_start(void *p)
{
	struct start s = *(struct start *)p;
	void *r;

	/* attached first: the free is the thread's first heap operation */
	sync_thread_attach(s.parent, s.ordinal, s.proc);
	free(p);
	sync_scrub();
	/* not a tail call: the function's frame goes where sync_scrub()
	 * zeroed, not over this one's (whose slots hold what the attach
	 * left) */
	r = s.fn(s.arg);
	__asm__ volatile("" : : : "memory");
	sync_heap_thread_end();
	sync_scrub();
	return r;
}

/* A thread's end by pthread_exit(3) (CPython's threads end so) */
EXPORT _Noreturn void
pthread_exit(void *ret)
{
	sync_heap_thread_end();
	sync_scrub();
	REAL(exit)(ret);
	__builtin_unreachable();
}

struct create_args {
	pthread_t *thread;
	const pthread_attr_t *attr;
	struct start *start;
};

static void *
create_run(void *arg)
{
	struct create_args *c = arg;

	return (void *)(long)REAL(create)(c->thread, c->attr, thread_start, c->start);
}

EXPORT int
pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	struct create_args c;
	struct start *s;
	uint32_t parent, proc;
	int ordinal, r;

	ordinal = sync_thread_child_ordinal(&parent, &proc);
	if (ordinal < 0)
		return REAL(create)(thread, attr, fn, arg);
	s = malloc(sizeof(*s));
	if (!s)
		return EAGAIN;
	*s = (struct start){ fn, arg, parent, (uint32_t)ordinal, proc };
	/* in the heap's order when it is ordered: the stack is a mapping */
	c = (struct create_args){ thread, attr, s };
	r = (int)(long)sync_heap_run(create_run, &c);
	if (r)
		free(s);
	/* what the order's paths left below (sync_scrub(), as after a heap
	 * call): tp_fsum's main thread, in pthread_join at an epoch's end,
	 * had in unwritten slots a return address into this library and
	 * heap pointers in the EP run, zeros in the TP run */
	sync_scrub();
	return r;
}

/* ---- the common shapes ---- */

/* An acquisition: @call is the program's call, @block the call FOLLOW
 * makes for it (the blocking form), @ok whether a result took the object.
 * Both paths end with sync_scrub(): the TP run (LOG) and the EP run
 * (FOLLOW) run other code under the wrapper (this library's, and glibc's
 * own contended or uncontended path), whose bytes left on the stack a
 * later frame's unwritten slots would show (tp_fsum: pthread_join's
 * frame at an epoch's end held the loop's count in the EP run, 0 in the
 * TP run). */
#define ACQUIRE(obj, kind, call, block, ok)                                      \
	do {                                                                     \
		struct sync_op op_;                                              \
		int r_;                                                          \
		switch (sync_begin(&op_, (obj), (kind))) {                       \
		case SYNC_PASS:                                                  \
			return (call);                                           \
		case SYNC_PATH_LOG:                                              \
			r_ = (call);                                             \
			sync_log_acquired(&op_, r_, !(ok));                      \
			sync_scrub();                                            \
			return r_;                                               \
		case SYNC_PATH_OBSERVE:                                          \
			r_ = sync_follow_observe(&op_);                          \
			sync_scrub();                                            \
			return r_;                                               \
		case SYNC_PATH_FOLLOW:                                           \
			sync_follow_turn(&op_);                                  \
			r_ = (block);                                            \
			sync_follow_done(&op_, r_);                              \
			sync_scrub();                                            \
			return r_;                                               \
		}                                                                \
		return (call);                                                   \
	} while (0)

/* A release */
#define RELEASE(obj, kind, call)                                                 \
	do {                                                                     \
		struct sync_op op_;                                              \
		int r_;                                                          \
		switch (sync_begin(&op_, (obj), (kind))) {                       \
		case SYNC_PASS:                                                  \
			return (call);                                           \
		case SYNC_PATH_LOG:                                              \
			sync_log_release(&op_);                                  \
			r_ = (call);                                             \
			sync_log_done(&op_, r_);                                 \
			sync_scrub();                                            \
			return r_;                                               \
		case SYNC_PATH_OBSERVE:                                          \
		case SYNC_PATH_FOLLOW:                                           \
			sync_follow_turn(&op_);                                  \
			r_ = (call);                                             \
			sync_follow_done(&op_, r_);                              \
			sync_scrub();                                            \
			return r_;                                               \
		}                                                                \
		return (call);                                                   \
	} while (0)

/* ---- mutexes ---- */

#define MUTEX_OK(r) ((r) == 0 || (r) == EOWNERDEAD)

/* The slot of the program's call's return address: this function's frame
 * pointer (which __builtin_frame_address(0) makes it set up) + 8 */
#define CALLER_FRAME() ((uint64_t)__builtin_frame_address(0) + 8)

static int
mutex_lock(pthread_mutex_t *m)
{
	ACQUIRE(m, UPRR_SYNC_MUTEX_LOCK, REAL(mutex_lock)(m), REAL(mutex_lock)(m), MUTEX_OK(r_));
}

/* An epoch's end may find the thread in glibc's wait for the lock
 * (sync_wait_begin()) */
EXPORT int
pthread_mutex_lock(pthread_mutex_t *m)
{
	int r;

	sync_wait_begin(UPRR_SYNC_MUTEX_LOCK, m, CALLER_FRAME());
	r = mutex_lock(m);
	sync_wait_end();
	return r;
}

EXPORT int
pthread_mutex_trylock(pthread_mutex_t *m)
{
	ACQUIRE(m, UPRR_SYNC_MUTEX_TRYLOCK, REAL(mutex_trylock)(m), REAL(mutex_lock)(m), MUTEX_OK(r_));
}

EXPORT int
pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *abstime)
{
	ACQUIRE(m, UPRR_SYNC_MUTEX_TIMEDLOCK, REAL(mutex_timedlock)(m, abstime), REAL(mutex_lock)(m),
		MUTEX_OK(r_));
}

/* the log's kind is the timed lock's: the same operation */
EXPORT int
pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clock, const struct timespec *abstime)
{
	ACQUIRE(m, UPRR_SYNC_MUTEX_TIMEDLOCK, REAL(mutex_clocklock)(m, clock, abstime),
		REAL(mutex_lock)(m), MUTEX_OK(r_));
}

EXPORT int
pthread_mutex_unlock(pthread_mutex_t *m)
{
	RELEASE(m, UPRR_SYNC_MUTEX_UNLOCK, REAL(mutex_unlock)(m));
}

/* ---- rwlocks ---- */

EXPORT int
pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
	ACQUIRE(l, UPRR_SYNC_RW_RDLOCK, REAL(rw_rdlock)(l), REAL(rw_rdlock)(l), r_ == 0);
}

EXPORT int
pthread_rwlock_tryrdlock(pthread_rwlock_t *l)
{
	ACQUIRE(l, UPRR_SYNC_RW_TRYRDLOCK, REAL(rw_tryrdlock)(l), REAL(rw_rdlock)(l), r_ == 0);
}

EXPORT int
pthread_rwlock_timedrdlock(pthread_rwlock_t *l, const struct timespec *abstime)
{
	ACQUIRE(l, UPRR_SYNC_RW_TIMEDRDLOCK, REAL(rw_timedrdlock)(l, abstime), REAL(rw_rdlock)(l),
		r_ == 0);
}

EXPORT int
pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
	ACQUIRE(l, UPRR_SYNC_RW_WRLOCK, REAL(rw_wrlock)(l), REAL(rw_wrlock)(l), r_ == 0);
}

EXPORT int
pthread_rwlock_trywrlock(pthread_rwlock_t *l)
{
	ACQUIRE(l, UPRR_SYNC_RW_TRYWRLOCK, REAL(rw_trywrlock)(l), REAL(rw_wrlock)(l), r_ == 0);
}

EXPORT int
pthread_rwlock_timedwrlock(pthread_rwlock_t *l, const struct timespec *abstime)
{
	ACQUIRE(l, UPRR_SYNC_RW_TIMEDWRLOCK, REAL(rw_timedwrlock)(l, abstime), REAL(rw_wrlock)(l),
		r_ == 0);
}

EXPORT int
pthread_rwlock_clockrdlock(pthread_rwlock_t *l, clockid_t clock, const struct timespec *abstime)
{
	ACQUIRE(l, UPRR_SYNC_RW_TIMEDRDLOCK, REAL(rw_clockrdlock)(l, clock, abstime),
		REAL(rw_rdlock)(l), r_ == 0);
}

EXPORT int
pthread_rwlock_clockwrlock(pthread_rwlock_t *l, clockid_t clock, const struct timespec *abstime)
{
	ACQUIRE(l, UPRR_SYNC_RW_TIMEDWRLOCK, REAL(rw_clockwrlock)(l, clock, abstime),
		REAL(rw_wrlock)(l), r_ == 0);
}

EXPORT int
pthread_rwlock_unlock(pthread_rwlock_t *l)
{
	RELEASE(l, UPRR_SYNC_RW_UNLOCK, REAL(rw_unlock)(l));
}

/* ---- condition variables ---- */

/* Both waits: the mutex's release (taken while the thread holds it, before
 * glibc gives it up inside the wait) and its acquisition (after glibc took
 * it back), two records on the mutex. */
/* glibc's wait: untimed (@abstime NULL), timed on CLOCK_REALTIME
 * (@clock -1), or on @clock */
static int
real_cond_wait(pthread_cond_t *c, pthread_mutex_t *m, int clock, const struct timespec *abstime)
{
	if (!abstime)
		return REAL(cond_wait)(c, m);
	if (clock < 0)
		return REAL(cond_timedwait)(c, m, abstime);
	return REAL(cond_clockwait)(c, m, (clockid_t)clock, abstime);
}

/* @frame: where the return address of the program's call is (an epoch's
 * end in the wait, sync_wait_begin()) */
static int
cond_wait(pthread_cond_t *c, pthread_mutex_t *m, int clock, const struct timespec *abstime,
	  uint64_t frame)
{
	struct sync_op op;
	int r;

	switch (sync_begin(&op, m, UPRR_SYNC_COND_RELEASE)) {
	case SYNC_PASS:
		break;
	case SYNC_PATH_LOG:
		sync_wait_begin(UPRR_SYNC_COND_ACQUIRE, c, frame);
		sync_log_release(&op);
		sync_log_done(&op, 0);
		r = real_cond_wait(c, m, clock, abstime);
		sync_wait_end();
		if (sync_begin(&op, m, UPRR_SYNC_COND_ACQUIRE) == SYNC_PATH_LOG)
			sync_log_acquired(&op, r, 0);
		sync_scrub(); /* as ACQUIRE's paths: glibc's wait here, two
			       * mutex calls in FOLLOW */
		return r;
	case SYNC_PATH_OBSERVE:
	case SYNC_PATH_FOLLOW:
		sync_wait_begin(UPRR_SYNC_COND_ACQUIRE, c, frame);
		sync_follow_turn(&op);
		r = REAL(mutex_unlock)(m);
		sync_follow_done(&op, r);
		switch (sync_begin(&op, m, UPRR_SYNC_COND_ACQUIRE)) {
		case SYNC_PATH_FOLLOW:
			break;
		case SYNC_PASS:
			/* past an order cut (UPRR_SYNC_HEAD_OPEN_END): a
			 * spurious wakeup, the mutex taken back unordered */
			sync_wait_end();
			return REAL(mutex_lock)(m);
		default:
			sync_diverged("a condition wait's mutex", &op, (uint64_t)m, UPRR_SYNC_COND_ACQUIRE);
		}
		sync_wait_end();
		sync_follow_turn(&op);
		r = REAL(mutex_lock)(m);
		if (r)
			sync_diverged("a condition wait's mutex could not be taken back", &op,
				(uint64_t)m, UPRR_SYNC_COND_ACQUIRE);
		sync_follow_advance(&op);
		r = sync_logged_result(&op);
		sync_scrub();
		return r;
	}
	return real_cond_wait(c, m, clock, abstime);
}

EXPORT int
pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	return cond_wait(c, m, -1, NULL, CALLER_FRAME());
}

EXPORT int
pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *abstime)
{
	return cond_wait(c, m, -1, abstime, CALLER_FRAME());
}

EXPORT int
pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clock,
		const struct timespec *abstime)
{
	return cond_wait(c, m, (int)clock, abstime, CALLER_FRAME());
}

EXPORT int
pthread_cond_signal(pthread_cond_t *c)
{
	RELEASE(c, UPRR_SYNC_COND_SIGNAL, REAL(cond_signal)(c));
}

EXPORT int
pthread_cond_broadcast(pthread_cond_t *c)
{
	RELEASE(c, UPRR_SYNC_COND_BROADCAST, REAL(cond_broadcast)(c));
}

/* ---- semaphores: -1 and errno; the log keeps 0 or the errno ---- */

static int
sem_result(int r)
{
	return r == 0 ? 0 : errno;
}

static int
sem_return(int logged)
{
	if (logged == 0)
		return 0;
	errno = logged;
	return -1;
}

static int
sem_acquire(sem_t *s, unsigned kind, int clock, const struct timespec *abstime)
{
	struct sync_op op;
	int r;

#define SEM_CALL()                                                               \
	(kind == UPRR_SYNC_SEM_WAIT ? REAL(sem_wait)(s)                          \
	 : kind == UPRR_SYNC_SEM_TRYWAIT ? REAL(sem_trywait)(s)                  \
	 : clock < 0 ? REAL(sem_timedwait)(s, abstime)                           \
		     : REAL(sem_clockwait)(s, (clockid_t)clock, abstime))
	switch (sync_begin(&op, s, kind)) {
	case SYNC_PASS:
		break;
	case SYNC_PATH_LOG:
		r = sem_result(SEM_CALL());
		sync_log_acquired(&op, r, r != 0);
		return sem_return(r);
	case SYNC_PATH_OBSERVE:
		return sem_return(sync_follow_observe(&op));
	case SYNC_PATH_FOLLOW:
		sync_follow_turn(&op);
		do
			r = sem_result(REAL(sem_wait)(s));
		while (r == EINTR);
		sync_follow_done(&op, r);
		return sem_return(r);
	}
	return SEM_CALL();
#undef SEM_CALL
}

EXPORT int
sem_wait(sem_t *s)
{
	return sem_acquire(s, UPRR_SYNC_SEM_WAIT, -1, NULL);
}

EXPORT int
sem_trywait(sem_t *s)
{
	return sem_acquire(s, UPRR_SYNC_SEM_TRYWAIT, -1, NULL);
}

EXPORT int
sem_timedwait(sem_t *s, const struct timespec *abstime)
{
	return sem_acquire(s, UPRR_SYNC_SEM_TIMEDWAIT, -1, abstime);
}

EXPORT int
sem_clockwait(sem_t *s, clockid_t clock, const struct timespec *abstime)
{
	return sem_acquire(s, UPRR_SYNC_SEM_TIMEDWAIT, (int)clock, abstime);
}

/* async-signal-safe (sem_post(3)): so is this path */
EXPORT int
sem_post(sem_t *s)
{
	struct sync_op op;
	int r, saved = errno;

	switch (sync_begin(&op, s, UPRR_SYNC_SEM_POST)) {
	case SYNC_PASS:
		break;
	case SYNC_PATH_LOG:
		sync_log_release(&op);
		r = sem_result(REAL(sem_post)(s));
		sync_log_done(&op, r);
		sync_scrub(); /* as RELEASE's paths */
		errno = saved;
		return sem_return(r);
	case SYNC_PATH_OBSERVE:
	case SYNC_PATH_FOLLOW:
		sync_follow_turn(&op);
		r = sem_result(REAL(sem_post)(s));
		sync_follow_done(&op, r);
		sync_scrub();
		errno = saved;
		return sem_return(r);
	}
	return REAL(sem_post)(s);
}

/* ---- barriers ---- */

/* Two records: the arrival (a release, its clock before the wait) and the
 * departure (an acquisition, its result which thread glibc made the serial
 * one, which FOLLOW gives back from the log). In FOLLOW the arrival
 * advances the clock before the wait, or the others could not arrive. */
EXPORT int
pthread_barrier_wait(pthread_barrier_t *b)
{
	struct sync_op op;
	int r;

	switch (sync_begin(&op, b, UPRR_SYNC_BARRIER_ARRIVE)) {
	case SYNC_PASS:
		break;
	case SYNC_PATH_LOG:
		sync_log_release(&op);
		sync_log_done(&op, 0);
		r = REAL(barrier_wait)(b);
		if (sync_begin(&op, b, UPRR_SYNC_BARRIER_LEAVE) == SYNC_PATH_LOG)
			sync_log_acquired(&op, r, 0);
		sync_scrub(); /* as ACQUIRE's paths */
		return r;
	case SYNC_PATH_OBSERVE:
	case SYNC_PATH_FOLLOW:
		sync_follow_turn(&op);
		sync_follow_advance(&op);
		r = REAL(barrier_wait)(b);
		if (r != 0 && r != PTHREAD_BARRIER_SERIAL_THREAD)
			sync_diverged("a barrier wait failed", &op, (uint64_t)b, UPRR_SYNC_BARRIER_ARRIVE);
		if (sync_begin(&op, b, UPRR_SYNC_BARRIER_LEAVE) != SYNC_PATH_FOLLOW)
			sync_diverged("a barrier's departure", &op, (uint64_t)b, UPRR_SYNC_BARRIER_LEAVE);
		sync_follow_turn(&op);
		sync_follow_advance(&op);
		r = sync_logged_result(&op);
		sync_scrub();
		return r;
	}
	return REAL(barrier_wait)(b);
}

/* ---- pthread_once ---- */

/* The init function glibc runs, through once_run(), which notes that this
 * thread ran it and (LOG) takes the clock while the others still wait. */
static __thread struct {
	void (*init)(void);
	struct sync_op *op;
	int ran;
} once_self __attribute__((tls_model("initial-exec")));

static void
once_run(void)
{
	struct sync_op *op = once_self.op;

	once_self.init();
	once_self.ran = 1;
	if (op)
		sync_log_acquired(op, 1, 0);
}

EXPORT int
pthread_once(pthread_once_t *once, void (*init)(void))
{
	__typeof__(once_self) saved = once_self;
	struct sync_op op;
	int r;

	switch (sync_begin(&op, once, UPRR_SYNC_ONCE)) {
	case SYNC_PASS:
		break;
	case SYNC_PATH_LOG:
		once_self.init = init;
		once_self.op = &op;
		once_self.ran = 0;
		r = REAL(once)(once, once_run);
		if (!once_self.ran)
			sync_log_acquired(&op, 0, 0);
		once_self = saved;
		/* as ACQUIRE's paths: FOLLOW's wait for its turn, a futex call
		 * through the syscall buffer's library, left that library's
		 * frames here, and a register of the program's they saved
		 * (pigz's main: rcx, &__pthread_keys from its
		 * pthread_getspecific(3) before its try's pthread_once(3), a
		 * false divergence at the first check of every recording) */
		sync_scrub();
		return r;
	case SYNC_PATH_OBSERVE:
	case SYNC_PATH_FOLLOW:
		sync_follow_turn(&op);
		once_self.init = init;
		once_self.op = NULL;
		once_self.ran = 0;
		r = REAL(once)(once, once_run);
		if (once_self.ran != sync_logged_result(&op))
			sync_diverged("another thread ran the once function", &op, (uint64_t)once,
				UPRR_SYNC_ONCE);
		once_self = saved;
		sync_follow_advance(&op);
		sync_scrub();
		return r;
	}
	return REAL(once)(once, init);
}

/* ---- spin locks ---- */

EXPORT int
pthread_spin_lock(pthread_spinlock_t *l)
{
	ACQUIRE((const void *)l, UPRR_SYNC_SPIN_LOCK, REAL(spin_lock)(l), REAL(spin_lock)(l), r_ == 0);
}

EXPORT int
pthread_spin_trylock(pthread_spinlock_t *l)
{
	ACQUIRE((const void *)l, UPRR_SYNC_SPIN_TRYLOCK, REAL(spin_trylock)(l), REAL(spin_lock)(l),
		r_ == 0);
}

EXPORT int
pthread_spin_unlock(pthread_spinlock_t *l)
{
	RELEASE((const void *)l, UPRR_SYNC_SPIN_UNLOCK, REAL(spin_unlock)(l));
}

/* ---- futex calls made with syscall(3) ---- */

/* FUTEX_WAIT and FUTEX_WAIT_BITSET, FUTEX_WAKE and FUTEX_WAKE_BITSET on
 * the word at a[0] (futex(2)); the other futex operations (requeue, PI,
 * wake-op) go through unordered. A wait woken by a wake is an acquisition
 * after it; one that saw another value, timed out or was interrupted is an
 * observation. In FOLLOW a wait is not made: at its turn it returns the
 * logged result (a futex wait may wake spuriously; every caller checks the
 * word again), and a wake returns the logged count. */
static long
futex_call(long a[6])
{
	int cmd = (int)a[1] & FUTEX_CMD_MASK;
	unsigned kind;
	struct sync_op op;
	long r;

	if (cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET)
		kind = UPRR_SYNC_FUTEX_WAIT;
	else if (cmd == FUTEX_WAKE || cmd == FUTEX_WAKE_BITSET)
		kind = UPRR_SYNC_FUTEX_WAKE;
	else
		return sync_raw_syscall(SYS_futex, a[0], a[1], a[2], a[3], a[4], a[5]);

	switch (sync_begin(&op, (const void *)a[0], kind)) {
	case SYNC_PASS:
		break;
	case SYNC_PATH_LOG:
		if (kind == UPRR_SYNC_FUTEX_WAKE) {
			sync_log_release(&op);
			r = sync_raw_syscall(SYS_futex, a[0], a[1], a[2], a[3], a[4], a[5]);
			sync_log_done(&op, (int)r);
		} else {
			r = sync_raw_syscall(SYS_futex, a[0], a[1], a[2], a[3], a[4], a[5]);
			sync_log_acquired(&op, (int)r, r != 0);
		}
		return r;
	case SYNC_PATH_OBSERVE:
		return sync_follow_observe(&op);
	case SYNC_PATH_FOLLOW:
		sync_follow_turn(&op);
		if (kind == UPRR_SYNC_FUTEX_WAKE)
			(void)sync_raw_syscall(SYS_futex, a[0], a[1], a[2], a[3], a[4], a[5]);
		sync_follow_advance(&op);
		return sync_logged_result(&op);
	}
	return sync_raw_syscall(SYS_futex, a[0], a[1], a[2], a[3], a[4], a[5]);
}

EXPORT long
syscall(long nr, ...)
{
	long a[6], r;
	va_list ap;

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (nr != SYS_futex)
		return REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	r = futex_call(a);
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return -1;
	}
	return r;
}
