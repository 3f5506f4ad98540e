/* SPDX-License-Identifier: MIT */
/*
 * The heap's order (UPRR_SYNC_HEAP=1, doc/sync-order.md): glibc's malloc
 * takes its arena locks with lll_lock, which the library cannot wrap, so
 * the addresses it returns depend on how threads' calls interleave (a
 * shared arena, a block freed by another thread). With the option, every
 * malloc, free, calloc, realloc and memalign-like call is one operation on
 * one pseudo-object, made under a lock of the library's in LOG (the heap is
 * serialised) and in the logged order in FOLLOW, which also checks that it
 * returns the logged address. glibc's own __libc_* entry points are called
 * (exported since glibc 2.0 for this), so no dlsym and no allocator of our
 * own are needed before the library is resolved.
 *
 * pthread_create is a heap operation too (preload/sync-wrap.c): the new
 * thread's stack is an mmap, and so is a new arena, whose address follows
 * from the mappings made before it.
 *
 * Not covered: what glibc frees inside itself without the public free (a
 * thread's tcache at its exit, tcache_thread_shutdown()), and the frees of
 * the dynamic linker's _dl_deallocate_tls(), which glibc makes holding its
 * stack cache lock (below): they take no turn.
 */
#include <stdbool.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <malloc.h>
#include <linux/futex.h>
#include <time.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload/sync-private.h"

void *__libc_malloc(size_t n);
void __libc_free(void *p);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t align, size_t n);
void *__libc_valloc(size_t n);
void *__libc_pvalloc(size_t n);

HIDDEN int sync_heap;

/* The pseudo-object whose clock orders the heap, and the lock LOG holds
 * around each call (0 free, 1 taken, 2 taken with waiters) */
static uint32_t heap_obj, heap_lock_word;

static void
heap_lock(void)
{
	uint32_t c = 0;

	if (__atomic_compare_exchange_n(&heap_lock_word, &c, 1, 0, __ATOMIC_ACQUIRE,
			__ATOMIC_RELAXED))
		return;
	if (c != 2)
		c = __atomic_exchange_n(&heap_lock_word, 2, __ATOMIC_ACQUIRE);
	while (c != 0) {
		sync_raw_syscall(SYS_futex, (long)&heap_lock_word, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 2,
			0, 0, 0);
		c = __atomic_exchange_n(&heap_lock_word, 2, __ATOMIC_ACQUIRE);
	}
}

static void
heap_unlock(void)
{
	if (__atomic_exchange_n(&heap_lock_word, 0, __ATOMIC_RELEASE) == 2)
		sync_raw_syscall(SYS_futex, (long)&heap_lock_word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1,
			0, 0, 0);
}

/*
 * The code of the dynamic linker's _dl_deallocate_tls(), [lo, lo + len):
 * glibc calls it, and through it free(3) on a thread's TLS blocks, holding
 * its stack cache lock (__nptl_free_stacks(), __nptl_deallocate_stack():
 * a thread's exit, a join, the cache trimmed), a lock pthread_create(3)
 * takes too (get_cached_stack(), allocate_stack()), which is a heap
 * operation here: a thread in pthread_create held the heap's turn and
 * waited for the stack cache lock, while an exiting detached thread held
 * that lock and waited for the heap's turn in free (a TP run of a program
 * starting detached threads hung so). Those frees run as they come.
 */
static uintptr_t tls_free_lo, tls_free_len;

static void
find_tls_free(void)
{
	void *fn = dlsym(RTLD_DEFAULT, "_dl_deallocate_tls");
	const ElfW(Sym) *sym = NULL;
	Dl_info info;

	if (fn && dladdr1(fn, &info, (void **)&sym, RTLD_DL_SYMENT) && sym && sym->st_size) {
		tls_free_lo = (uintptr_t)fn;
		tls_free_len = sym->st_size;
	}
}

/*
 * A thread's end. glibc runs a thread's exit path after its function
 * returned (start_thread(): TSD and thread_local destructors, then
 * __libc_thread_freeres(): the tcache's frees and the arena put on the free
 * list under glibc's own locks; a detached thread's stack queued in the
 * cache), with internal calls nothing can interpose; which arena and which
 * cached stack a later thread gets depends on whether that path is over.
 * So a thread's end is a heap operation (UPRR_SYNC_THREAD_END), and the
 * heap's next operation first waits until the kernel cleared the ended
 * thread's tid word (what pthread_join(3) waits for: CLONE_CHILD_CLEARTID,
 * set_tid_address(2); the kernel does it after the robust list and every
 * user-space step), in LOG and FOLLOW alike. The word is struct pthread's
 * tid, at tid_off from pthread_self(), found at start by looking for the
 * main thread's tid (-1: not found, no end is ordered).
 */
static long tid_off = -1;
/* The tid word of the thread whose end was the heap's last operation, if
 * no heap operation has waited for it yet (read and set at a heap turn) */
static uint32_t *pending_end;

static void
find_tid_off(void)
{
	/* the tid the EP run answers is the TP run's, as its memory holds */
	uint32_t tid = (uint32_t)sync_raw_syscall(SYS_gettid, 0, 0, 0, 0, 0, 0);
	const uint32_t *p = (const uint32_t *)pthread_self();

	for (long i = 0; i < 1024; i++)
		if (p[i] == tid) {
			tid_off = i * 4;
			return;
		}
}

/* Waits until the kernel cleared tid word @w (0: done; -ETIMEDOUT after
 * about 2 s if @bounded). A join that saw it cleared sets it to -1
 * (glibc's __pthread_clockjoin_ex(): joined): over too (a FOLLOW run
 * waited for ever where the child of sync_order fork joined the thread
 * first). A wake the kernel makes wakes one waiter: a pthread_join(3) of
 * the same thread may have slept through it while this one took it, so
 * the word's waiters are woken again once it is over. */
static int
wait_tid(uint32_t *w, bool bounded)
{
	for (int n = 0;; n++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		uint32_t v = __atomic_load_n(w, __ATOMIC_ACQUIRE);

		if (v == 0 || v == UINT32_MAX) {
			sync_raw_syscall(SYS_futex, (long)w, FUTEX_WAKE, INT_MAX, 0, 0, 0);
			return 0;
		}
		if (bounded && n >= 200)
			return -ETIMEDOUT;
		/* not private: the kernel's wake at exit is not */
		sync_raw_syscall(SYS_futex, (long)w, FUTEX_WAIT, v, (long)&ts, 0, 0);
	}
}

/* At a heap turn: waits for the end of the thread whose end came before
 * (LOG: at most 2 s, and says so in the record; FOLLOW: as the log says) */
static void
heap_wait_end(struct sync_op *op)
{
	uint32_t *w = pending_end;

	if (!w)
		return;
	pending_end = NULL;
	if (sync_mode == SYNC_LOG) {
		if (wait_tid(w, true) == 0)
			op->flags |= UPRR_SYNC_F_ENDED;
	} else if (op->rec->flags & UPRR_SYNC_F_ENDED) {
		/* the op as LOG's: it lies in the caller's frame, which the
		 * EP run's check compares (ep_buffered at pthread_create's
		 * rt_sigprocmask, in sync_heap_run()'s frame: flags 4 in the
		 * TP run, 0 here; tp-mode-buffered-epoch20, 1 in 20) */
		op->flags |= UPRR_SYNC_F_ENDED;
		(void)wait_tid(w, false);
	}
}

HIDDEN void
sync_heap_start(void)
{
	find_tls_free();
	find_tid_off();
	sync_heap = 1;
}

enum heap_call { H_MALLOC, H_FREE, H_CALLOC, H_REALLOC, H_MEMALIGN, H_VALLOC, H_PVALLOC };

static void *
heap_real(enum heap_call call, void *p, size_t a, size_t b)
{
	switch (call) {
	case H_MALLOC:
		return __libc_malloc(a);
	case H_FREE:
		__libc_free(p);
		return NULL;
	case H_CALLOC:
		return __libc_calloc(a, b);
	case H_REALLOC:
		return __libc_realloc(p, a);
	case H_MEMALIGN:
		return __libc_memalign(a, b);
	case H_VALLOC:
		return __libc_valloc(a);
	case H_PVALLOC:
		return __libc_pvalloc(a);
	}
	return NULL;
}

/* A heap call made inside another (glibc's pthread_create allocating the
 * new thread's TLS) is part of it: it takes no turn and no lock. */
static __thread int heap_depth __attribute__((tls_model("initial-exec")));

/* The mode's part of a heap operation before its call: its turn (FOLLOW,
 * OBSERVE) or the heap's lock (LOG); false: no order (PASS). Not inlined,
 * and the call made from one site of sync_heap_run() whatever the mode:
 * the call's return address and the callee-saved registers its callees
 * save are then the same in the TP run (LOG) and the EP run (FOLLOW)
 * (seen with a call site per mode: ep_threads' main thread, stopped in
 * pthread_create at an epoch's end, had in its frames 0x...58e7 in the
 * TP run and 0x...58ad in the EP run, and what each path left in
 * rbx, rbp and r12-r15). */
static __attribute__((noinline)) bool
heap_enter(struct sync_op *op)
{
	switch (sync_begin(op, &heap_obj, UPRR_SYNC_HEAP)) {
	case SYNC_PATH_LOG:
		heap_lock();
		heap_wait_end(op);
		return true;
	case SYNC_PATH_OBSERVE:
	case SYNC_PATH_FOLLOW:
		sync_follow_turn(op);
		heap_wait_end(op);
		return true;
	default:
		return false;
	}
}

/* The mode's part after the call, which returned @r: the mode is not
 * kept across the call (a register or slot that held it would differ
 * between the runs); sync_mode does not change meanwhile (fork() is not
 * run here). */
static __attribute__((noinline)) void
heap_leave(struct sync_op *op, void *r)
{
	if (sync_mode == SYNC_LOG) {
		sync_log_acquired(op, (int32_t)(uintptr_t)r, 0);
		heap_unlock();
		return;
	}
	sync_follow_done(op, (int32_t)(uintptr_t)r);
}

HIDDEN void *
sync_heap_run(void *(*fn)(void *), void *arg)
{
	struct sync_op op;
	void *r;

	if (!sync_heap || heap_depth || !heap_enter(&op))
		return fn(arg);
	heap_depth++;
	/* what heap_enter()'s paths left below: fn's frames (pthread_create's
	 * at an epoch's end in it) would show it in their unwritten slots */
	sync_scrub();
	r = fn(arg);
	heap_depth--;
	heap_leave(&op, r);
	return r;
}

/* The fork in flight (the heap's turn, or its lock in LOG, is held from
 * sync_heap_fork_prepare() to the parent's or child's part: one at a
 * time) */
static struct sync_op fork_op;
static bool fork_ordered;

/*
 * A fork is a heap operation: the child's copy of the heap is the parent's
 * after the heap operations of the clocks before the fork's, in LOG and
 * FOLLOW alike; unordered, another thread's malloc could come before the
 * fork in one run and after it in the other, and the child's own calls
 * then return other addresses. The process's other locks are glibc's
 * (fork(2) takes malloc's arena locks after the atfork handlers ran).
 */
HIDDEN void
sync_heap_fork_prepare(void)
{
	fork_ordered = false;
	if (!sync_heap || heap_depth)
		return;
	switch (sync_begin(&fork_op, &heap_obj, UPRR_SYNC_FORK)) {
	case SYNC_PATH_LOG:
		heap_lock();
		heap_wait_end(&fork_op);
		fork_ordered = true;
		break;
	case SYNC_PATH_OBSERVE:
	case SYNC_PATH_FOLLOW:
		sync_follow_turn(&fork_op);
		heap_wait_end(&fork_op);
		fork_ordered = true;
		break;
	default:
		break;
	}
}

HIDDEN void
sync_heap_fork_parent(void)
{
	if (!fork_ordered)
		return;
	fork_ordered = false;
	if (sync_mode == SYNC_LOG) {
		sync_log_acquired(&fork_op, 0, 0);
		heap_unlock();
		return;
	}
	sync_follow_done(&fork_op, 0);
}

/* The child's clocks start again (sync-log.c): only the lock is given back;
 * the parent's record is the parent's to complete */
HIDDEN void
sync_heap_fork_child(void)
{
	if (!fork_ordered)
		return;
	fork_ordered = false;
	if (sync_mode == SYNC_LOG)
		heap_unlock();
}

HIDDEN void
sync_heap_thread_end(void)
{
	struct sync_op op;
	uint32_t *w;

	if (!sync_heap || heap_depth || tid_off < 0)
		return;
	w = (uint32_t *)((char *)pthread_self() + tid_off);
	switch (sync_begin(&op, &heap_obj, UPRR_SYNC_THREAD_END)) {
	case SYNC_PATH_LOG:
		heap_lock();
		heap_wait_end(&op);
		pending_end = w;
		sync_log_acquired(&op, 0, 0);
		heap_unlock();
		break;
	case SYNC_PATH_OBSERVE:
	case SYNC_PATH_FOLLOW:
		sync_follow_turn(&op);
		heap_wait_end(&op);
		pending_end = w;
		sync_follow_done(&op, 0);
		break;
	default:
		return;
	}
	/* its heap calls from here on (TSD destructors, glibc's exit path)
	 * take no turn: the heap's next operation waits for them to be over */
	heap_depth = 1;
}

static void *
heap_nothing(void *arg)
{
	return arg;
}

/* exit(3) (the library's destructor, after the program's own): one more
 * heap operation, which waits for the last thread whose end was logged to
 * be over, so its exit path's syscalls come before the process's end in
 * every run (tp_detached: an EP run ended with a detached thread's
 * rt_sigprocmask and madvise not made, which the TP run had made) */
__attribute__((destructor)) static void
heap_fini(void)
{
	if (sync_heap && !heap_depth)
		(void)sync_heap_run(heap_nothing, NULL);
}

struct heap_args {
	enum heap_call call;
	void *p;
	size_t a, b;
};

static void *
heap_run_real(void *arg)
{
	struct heap_args *h = arg;

	return heap_real(h->call, h->p, h->a, h->b);
}

static void *
heap_call(enum heap_call call, void *p, size_t a, size_t b)
{
	struct heap_args h = { call, p, a, b };
	void *r;

	if (!sync_heap || heap_depth)
		return heap_real(call, p, a, b);
	r = sync_heap_run(heap_run_real, &h);
	/* what the order's paths left below (sync_scrub()) */
	sync_scrub();
	return r;
}

EXPORT void *
malloc(size_t n)
{
	return heap_call(H_MALLOC, NULL, n, 0);
}

EXPORT void
free(void *p)
{
	/* free(NULL) does nothing, in every run */
	if (!p)
		return;
	/* under glibc's stack cache lock: no turn (find_tls_free()) */
	if ((uintptr_t)__builtin_return_address(0) - tls_free_lo < tls_free_len) {
		__libc_free(p);
		return;
	}
	heap_call(H_FREE, p, 0, 0);
}

EXPORT void *
calloc(size_t n, size_t size)
{
	return heap_call(H_CALLOC, NULL, n, size);
}

EXPORT void *
realloc(void *p, size_t n)
{
	return heap_call(H_REALLOC, p, n, 0);
}

EXPORT void *
reallocarray(void *p, size_t n, size_t size)
{
	size_t bytes;

	if (__builtin_mul_overflow(n, size, &bytes)) {
		errno = ENOMEM;
		return NULL;
	}
	return heap_call(H_REALLOC, p, bytes, 0);
}

EXPORT void *
memalign(size_t align, size_t n)
{
	return heap_call(H_MEMALIGN, NULL, align, n);
}

EXPORT void *
aligned_alloc(size_t align, size_t n)
{
	return heap_call(H_MEMALIGN, NULL, align, n);
}

EXPORT int
posix_memalign(void **ret, size_t align, size_t n)
{
	void *p;

	/* posix_memalign(3): a power of two multiple of sizeof(void *) */
	if (align % sizeof(void *) || (align & (align - 1)) || !align)
		return EINVAL;
	p = heap_call(H_MEMALIGN, NULL, align, n);
	if (!p && n)
		return ENOMEM;
	*ret = p;
	return 0;
}

EXPORT void *
valloc(size_t n)
{
	return heap_call(H_VALLOC, NULL, n, 0);
}

EXPORT void *
pvalloc(size_t n)
{
	return heap_call(H_PVALLOC, NULL, n, 0);
}
