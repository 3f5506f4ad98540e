/* SPDX-License-Identifier: MIT */
/*
 * The synchronization-order log inside the tracee (doc/sync-order.md):
 * the per-thread slots of the log file, the process's table of object
 * clocks, and the two modes. LOG: an operation on object O takes O's clock
 * with a fetch-add made while the operation is ordered (after an
 * acquisition, before a release) and writes (O, clock, kind, result) to the
 * thread's slot. FOLLOW: the thread's next record says which clock its
 * operation must wait for; it sleeps on the clock word (futex) until then,
 * makes the call, and advances the clock.
 *
 * Only what is async-signal-safe in glibc must stay so here (sem_post):
 * the paths below use atomics, thread-local data of the initial-exec model
 * and raw futex calls, never malloc or a lock.
 */
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload/sync-private.h"

HIDDEN enum sync_mode sync_mode = SYNC_OFF;

static struct uprr_sync_head *head;
static uint64_t slot_size;
/* UPRR_SYNC_MODE=tp (`uprr record --mode=tp`): the mode comes from the file,
 * and LOG and FOLLOW make the same syscalls (see map_tp_log()) */
static bool tp_mode;

/* The clock table: open addressing on the address, entries never removed
 * (an address reused by another object continues its clock, in LOG as in
 * FOLLOW alike). 2^16 objects. */
#define OBJ_BITS 16
#define OBJ_COUNT (1u << OBJ_BITS)
static struct sync_obj *objs;
/* The clocks of the objects shared between processes (UPRR_SYNC_F_SHARED):
 * a MAP_SHARED anonymous mapping made before the process's first fork (in
 * the forking thread, at the same point of its program in every run), so
 * every process forked from it has the same table at the same address;
 * 2^12 objects. Not before: a program that never forks keeps the mappings
 * it had (an EP run's check and a rollback take two shared anonymous
 * mappings as different files). Until then every object is private. */
#define SOBJ_BITS 12
#define SOBJ_COUNT (1u << SOBJ_BITS)
static struct sync_obj *sobjs;

struct sync_thread {
	struct uprr_sync_slot *slot;
	uint32_t index;		/* the slot's index in the log */
	uint32_t children;	/* pthread_create calls made so far */
	uint64_t next;		/* FOLLOW: the next record to follow */
	uint32_t proc;		/* the slot of its process's first thread */
	uint64_t wait_frame;	/* the frame of a wait in progress (sync_wait_begin()) */
};
static __thread struct sync_thread self __attribute__((tls_model("initial-exec")));

static long
raw_futex(uint32_t *uaddr, int op, uint32_t val)
{
	/* the clock words are private to the process */
	return sync_raw_syscall(SYS_futex, (long)uaddr, op | FUTEX_PRIVATE_FLAG, val, 0, 0, 0);
}

static struct uprr_sync_slot *
slot_at(uint32_t i)
{
	return (struct uprr_sync_slot *)((char *)head + UPRR_SYNC_HEAD_SIZE + i * slot_size);
}

static struct sync_obj *
obj_lookup(struct sync_obj *table, unsigned bits, uint64_t addr)
{
	/* Fibonacci hashing of the address, linear probing */
	uint32_t h = (uint32_t)((addr * 0x9e3779b97f4a7c15ull) >> (64 - bits));
	uint32_t count = 1u << bits;

	for (uint32_t n = 0; n < count; n++) {
		struct sync_obj *o = &table[(h + n) & (count - 1)];
		uint64_t key = __atomic_load_n(&o->addr, __ATOMIC_ACQUIRE);

		if (key == 0) {
			uint64_t zero = 0;

			if (__atomic_compare_exchange_n(&o->addr, &zero, addr, 0, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE))
				return o;
			key = zero;
		}
		if (key == addr)
			return o;
	}
	return NULL;
}

/* Blocks the thread until the process ends. Not pause(2): an EP run
 * (`uprr record --mode=tp`) answers every syscall but a futex call from
 * the TP run's log, where this thread, blocked in a wait the interposer
 * replaced (a condition wait's futex), made none; a futex wait on a word
 * no one wakes is left out of matching (sc_ep_unmatched()). */
static _Noreturn void
block_forever(void)
{
	static uint32_t never;

	for (;;)
		raw_futex(&never, FUTEX_WAIT, 0);
}

/* FOLLOW in mode tp (an EP run, its replay), before it waits for record
 * @i of @slot: if uprr marked it (UPRR_SYNC_F_END: the TP run's thread
 * stood at an epoch's end waiting for it in glibc), a traced call that
 * changes nothing (futex FUTEX_REQUEUE of none to none: not an operation
 * the syscall buffer takes, whose futex calls are waits and wakes; futex
 * calls are not matched with the TP run's, sc_ep_unmatched()), an event
 * of the EP trace and of its replay alike. The EP run parks the thread
 * at its end just after, with no event of its own: what the thread did
 * since its last event (a mutex released, a clock advanced) comes before
 * the events of the threads that run while it stands there, in the
 * replay too, which never waits for a record. Returns whether it was
 * marked. */
static bool
end_marker(const struct uprr_sync_slot *slot, uint64_t i)
{
	static uint32_t word;

	if (!(__atomic_load_n(&slot->recs[i].flags, __ATOMIC_ACQUIRE) & UPRR_SYNC_F_END))
		return false;
	(void)sync_raw_syscall(SYS_futex, (long)&word, FUTEX_REQUEUE | FUTEX_PRIVATE_FLAG, 0, 0,
		(long)&word, 0);
	return true;
}

/* Whether this thread's record @i is one FOLLOW may take: uprr's view of
 * the order (uprr_sync_head.view: overlap, a re-run) holds it, or there is
 * none. */
static bool
in_view(uint64_t i)
{
	return !__atomic_load_n(&head->view, __ATOMIC_ACQUIRE) ||
	       i < __atomic_load_n(&head->view_done[self.index], __ATOMIC_ACQUIRE);
}

/* FOLLOW in an EP run (tp_mode) that goes along with its TP run
 * (lock-step, doc/uniparallel.md; head->growing): record @i of @slot may
 * be one the TP run has not written or completed yet (its thread stood in
 * the operation at an epoch's end, or this thread went on past its end),
 * which it writes once it goes on. The EP run's recorder takes the call
 * below (UPRR_SYNC_WAIT_MAGIC): it lets the TP run go on, and the call
 * returns at once, with no event in the trace (its replay, with the whole
 * log, never waits here). Once the log is whole (growing 0), a record
 * never completed is left to block_forever(), as before. @frame: the
 * acquisition of a condition wait or a mutex lock, whose program's call
 * has its return address there (sync_wait_begin()), else 0: the EP run
 * parks the thread at the call when its end of the epoch is there (the
 * TP run's thread stood in glibc's wait then, the record marked,
 * end_marker()). */
static void
wait_for_record(const struct uprr_sync_slot *slot, uint64_t i, uint64_t frame)
{
	static uint32_t word = UPRR_SYNC_WAIT_MAGIC;
	uint64_t index1 = i + 1, r9 = frame & UPRR_SYNC_WAIT_FRAME_MASK;
	bool marked = false;

	for (;;) {
		/* looked at again after each wait: an EP run that ran ahead of
		 * its TP run (through epochs it does not check) may come here
		 * before the TP run's end marks the record; its replay sees the
		 * mark at once, and makes the marker call at this point too, the
		 * thread's calls here not being events */
		if (!marked)
			marked = end_marker(slot, i);
		/* a record there is not waited for, even marked: the replay of a
		 * killed recording finds `growing` still set, and must make no
		 * call here; but one past uprr's view is (overlap: the EP run
		 * epochs behind its TP run finds its end here, as lock-step's
		 * does, instead of following the record into a wait for a
		 * thread parked at its own end) */
		if (in_view(i) &&
		    (__atomic_load_n(&slot->recs[i].kind, __ATOMIC_ACQUIRE) != UPRR_SYNC_NONE ||
		     !__atomic_load_n(&head->growing, __ATOMIC_ACQUIRE)))
			return;
		/* futex(&word, FUTEX_WAIT_PRIVATE, UPRR_SYNC_WAIT_MAGIC), the
		 * record in r8 and the frame in r9 (uprr-sync.h), every
		 * register and the flags as they were (below the red zone):
		 * the replay, which never makes it, must find the same ones at
		 * the program's next calls */
		__asm__ __volatile__("lea -128(%%rsp), %%rsp\n\t"
				     "pushfq\n\tpush %%rax\n\tpush %%rcx\n\tpush %%rdx\n\t"
				     "push %%rsi\n\tpush %%rdi\n\tpush %%r8\n\tpush %%r9\n\t"
				     "push %%r10\n\tpush %%r11\n\t"
				     "mov %[addr], %%rdi\n\tmov %[r8v], %%r8\n\tmov %[r9v], %%r9\n\t"
				     "mov %[nr], %%eax\n\tmov %[op], %%esi\n\t"
				     "mov %[val], %%edx\n\txor %%r10d, %%r10d\n\t"
				     "syscall\n\t"
				     "pop %%r11\n\tpop %%r10\n\tpop %%r9\n\tpop %%r8\n\t"
				     "pop %%rdi\n\tpop %%rsi\n\tpop %%rdx\n\tpop %%rcx\n\t"
				     "pop %%rax\n\tpopfq\n\t"
				     "lea 128(%%rsp), %%rsp"
				     :
				     : [nr] "i"(SYS_futex), [addr] "r"(&word), [r8v] "r"(index1),
				       [r9v] "r"(r9), [op] "i"(FUTEX_WAIT | FUTEX_PRIVATE_FLAG),
				       [val] "i"(UPRR_SYNC_WAIT_MAGIC)
				     /* (saved and restored: clobbered only so that no
				      * input is put there, written before it is read) */
				     : "rdi", "r8", "r9", "memory");
	}
}

HIDDEN _Noreturn void
sync_diverged(const char *what, const struct sync_op *op, uint64_t addr, unsigned kind)
{
	static int said;
	char msg[256];
	int n;

	/* one line, from the first thread that found it */
	if (__atomic_exchange_n(&said, 1, __ATOMIC_ACQ_REL))
		block_forever();
	n = snprintf(msg, sizeof(msg),
		"uprr-sync: follow: divergence in thread %u at operation %llu: %s "
		"(the log has kind %u on %#llx clock %u; the program made kind %u on %#llx)\n",
		self.index, (unsigned long long)(self.next ? self.next - 1 : 0), what,
		op && op->rec ? op->rec->kind : 0u,
		op && op->rec ? (unsigned long long)op->rec->obj : 0ull,
		op && op->rec ? op->rec->clock : 0u, kind, (unsigned long long)addr);
	if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0)
		n = 0;
	sync_raw_syscall(SYS_exit_group, UPRR_SYNC_DIVERGED_EXIT, 0, 0, 0, 0, 0);
	__builtin_unreachable();
}

/* count++, returning the old value, in one instruction that a signal
 * cannot split; without a lock prefix: only this thread writes its slot */
static inline uint64_t
take_index(uint64_t *count)
{
	uint64_t i = 1;

	__asm__ __volatile__("xaddq %0, %1" : "+r"(i), "+m"(*count));
	return i;
}

/* The operations the object itself makes one at a time (a mutex's or a
 * spin lock's, a writer's lock: only the holder acts on it): their clock
 * needs no locked instruction. A rwlock's unlock may be a reader's. */
static inline int
exclusive_kind(unsigned kind)
{
	return (kind >= UPRR_SYNC_MUTEX_LOCK && kind <= UPRR_SYNC_MUTEX_UNLOCK) ||
		(kind >= UPRR_SYNC_RW_WRLOCK && kind <= UPRR_SYNC_RW_TIMEDWRLOCK) ||
		(kind >= UPRR_SYNC_SPIN_LOCK && kind <= UPRR_SYNC_SPIN_UNLOCK) ||
		kind == UPRR_SYNC_COND_RELEASE || kind == UPRR_SYNC_COND_ACQUIRE ||
		kind == UPRR_SYNC_HEAP || kind == UPRR_SYNC_FORK || kind == UPRR_SYNC_THREAD_END;
}

/* The next clock of @o (LOG) */
static inline uint32_t
take_clock(struct sync_obj *o, unsigned kind)
{
	uint32_t c;

	if (!exclusive_kind(kind))
		return __atomic_fetch_add(&o->clock, 1, __ATOMIC_ACQ_REL);
	/* the holder's store is seen by the next holder through the
	 * object's own release and acquire */
	c = __atomic_load_n(&o->clock, __ATOMIC_RELAXED);
	__atomic_store_n(&o->clock, c + 1, __ATOMIC_RELAXED);
	return c;
}

/* Which vector registers sync_scrub() clears: 1 ymm0-15 (AVX), 2 and
 * zmm16-31 and k0-7 (AVX-512F); set at start (sync_start()) */
static int scrub_vec;

/* XCR0 (the state components the kernel enabled), 0 if XGETBV is not
 * there (cpuid(1) ECX bit 27, OSXSAVE: Intel SDM vol. 2, XGETBV) */
static uint64_t
xcr0(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27)))
		return 0;
	__asm__ volatile("xgetbv" : "=a"(a), "=d"(d) : "c"(0));
	return ((uint64_t)d << 32) | a;
}

static void
scrub_vec_init(void)
{
	unsigned a, b, c, d;
	uint64_t x = xcr0();

	/* AVX: cpuid(1) ECX bit 28, XCR0 SSE and AVX state (bits 1, 2) */
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 28)) || (x & 6) != 6)
		return;
	scrub_vec = 1;
	/* AVX-512F: cpuid(7, 0) EBX bit 16, XCR0 opmask, ZMM_Hi256 and
	 * Hi16_ZMM state (bits 5-7) */
	if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 16)) && (x & 0xe0) == 0xe0)
		scrub_vec = 2;
}

/* sync_scrub()'s work, called from its entry below: the registers and
 * the 4 KiB under the caller's frame. */
static __attribute__((noinline, used)) void
scrub_body(void)
{
	/* the vector registers too, which the ABI leaves to callees: the
	 * paths of each mode leave other values in them (glibc's string
	 * functions, the order's code), and the loader's lazy binding
	 * (_dl_runtime_resolve_xsavec) saves them on the stack, where the
	 * program's later frames find them in slots they do not write
	 * (ep_threads' main stack: k1 0x1 in the TP run and 0x3ff in the EP
	 * run, ymm bytes of the environment's strings at other offsets) */
	if (scrub_vec)
		__asm__ volatile("vzeroall" ::: "memory");
	if (scrub_vec > 1)
		__asm__ volatile("vpxord %%zmm16, %%zmm16, %%zmm16\n\t"
				 "vmovdqa64 %%zmm16, %%zmm17\n\tvmovdqa64 %%zmm16, %%zmm18\n\t"
				 "vmovdqa64 %%zmm16, %%zmm19\n\tvmovdqa64 %%zmm16, %%zmm20\n\t"
				 "vmovdqa64 %%zmm16, %%zmm21\n\tvmovdqa64 %%zmm16, %%zmm22\n\t"
				 "vmovdqa64 %%zmm16, %%zmm23\n\tvmovdqa64 %%zmm16, %%zmm24\n\t"
				 "vmovdqa64 %%zmm16, %%zmm25\n\tvmovdqa64 %%zmm16, %%zmm26\n\t"
				 "vmovdqa64 %%zmm16, %%zmm27\n\tvmovdqa64 %%zmm16, %%zmm28\n\t"
				 "vmovdqa64 %%zmm16, %%zmm29\n\tvmovdqa64 %%zmm16, %%zmm30\n\t"
				 "vmovdqa64 %%zmm16, %%zmm31\n\t"
				 "kxorw %%k0, %%k0, %%k0\n\tkxorw %%k1, %%k1, %%k1\n\t"
				 "kxorw %%k2, %%k2, %%k2\n\tkxorw %%k3, %%k3, %%k3\n\t"
				 "kxorw %%k4, %%k4, %%k4\n\tkxorw %%k5, %%k5, %%k5\n\t"
				 "kxorw %%k6, %%k6, %%k6\n\tkxorw %%k7, %%k7, %%k7"
				 ::: "memory");
	/* the 4 KiB right below this call's return address (sync_scrub()
	 * zeroes the three slots above: its own return address, its pad,
	 * this call's): all of what the caller's callees used (a local
	 * array here left the 8 bytes under its frame as they were, where
	 * tp_race's thread function then kept a slot it never writes) */
	__asm__ volatile("lea -4096(%%rsp), %%rdi\n\t"
			 "mov $512, %%ecx\n\t"
			 "xor %%eax, %%eax\n\t"
			 "cld\n\t"
			 "rep stosq"
			 :
			 :
			 : "rax", "rcx", "rdi", "memory", "cc");
	/* and the other registers the ABI leaves to callees, which a
	 * caller may read unset: a variadic callee's prologue saves rdx,
	 * rcx, r8 and r9 on its stack (fifo_open's open(path, O_WRONLY)
	 * after pthread_create(): open64 kept rdx, 0x1c in the TP run and 0
	 * in the EP run, what each mode's path left, a false divergence at
	 * the first epoch check with --epoch=20) */
	__asm__ volatile("xor %%edx, %%edx\n\t"
			 "xor %%esi, %%esi\n\t"
			 "xor %%edi, %%edi\n\t"
			 "xor %%r8d, %%r8d\n\t"
			 "xor %%r9d, %%r9d\n\t"
			 "xor %%r10d, %%r10d\n\t"
			 "xor %%r11d, %%r11d"
			 :
			 :
			 : "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "cc");
}

/*
 * sync_scrub() itself: scrub_body(), then a return that leaves no return
 * address behind. A wrapper's paths call it from other places (LOG's and
 * FOLLOW's ends of pthread_mutex_unlock are two calls), so the slot its
 * return address was pushed to, under the caller's frame and never
 * zeroed by scrub_body() (it zeroes below itself), held a value of the
 * mode's path, which a later frame's unwritten slot showed (ep_threads:
 * main's stack at its last write held 0x...96bc, the LOG call's return
 * into pthread_mutex_unlock, in the TP run and 0x...965b, FOLLOW's, in
 * the EP run: a false divergence in most recordings with --epoch=2).
 * The return goes through rax, which the void function may clobber and
 * its callers set next with their own result; the slot is zeroed. The
 * body is called with the stack aligned as the ABI wants (16 bytes at
 * a call). Not for a shadow stack (CET), which glibc 2.36 never enables:
 * the jmp would leave its entry for this call unmatched.
 */
__asm__(".text\n"
	".p2align 4\n"
	".globl sync_scrub\n"
	".hidden sync_scrub\n"
	".type sync_scrub, @function\n"
	"sync_scrub:\n"
	"\tsub $8, %rsp\n"
	"\tcall scrub_body\n"
	"\tadd $8, %rsp\n"
	"\tpop %rax\n"
	"\tmovq $0, -8(%rsp)\n"  /* the caller's return address */
	"\tmovq $0, -16(%rsp)\n" /* the pad, never written here */
	"\tmovq $0, -24(%rsp)\n" /* scrub_body's (one address: zeroed all the same) */
	"\tjmp *%rax\n"
	".size sync_scrub, .-sync_scrub\n");

/* Whether the object at @addr, of an operation of @kind, is shared between
 * processes: glibc's own flag in the object (x86-64). A semaphore's
 * `private` word (struct new_sem, after its 64-bit value) is FUTEX_SHARED
 * for a process-shared one (sem_init(3) with pshared 1, and sem_open(3)'s),
 * which glibc defines as FUTEX_PRIVATE_FLAG (128; LLL_SHARED in
 * sysdeps/nptl/lowlevellock-futex.h: the flag is XORed in), 0 for a private
 * one (seen: 0 and 128); a mutex's __kind has PTHREAD_MUTEX_PSHARED_BIT
 * (128; nptl/pthread_mutex_init.c, sysdeps/nptl/internaltypes.h). */
static int
obj_shared(const void *addr, unsigned kind)
{
	if (!__atomic_load_n(&sobjs, __ATOMIC_ACQUIRE))
		return 0;
	if (kind >= UPRR_SYNC_SEM_WAIT && kind <= UPRR_SYNC_SEM_POST)
		return ((const int *)addr)[2] == 128;
	if ((kind >= UPRR_SYNC_MUTEX_LOCK && kind <= UPRR_SYNC_MUTEX_UNLOCK) ||
			kind == UPRR_SYNC_COND_RELEASE || kind == UPRR_SYNC_COND_ACQUIRE)
		return (((const pthread_mutex_t *)addr)->__data.__kind & 128) != 0;
	return 0;
}

HIDDEN enum sync_path
sync_begin(struct sync_op *op, const void *addr, unsigned kind)
{
	struct uprr_sync_slot *slot = self.slot;
	uint64_t i;

	if (sync_mode == SYNC_OFF || !slot)
		return SYNC_PASS;
	op->kind = (uint16_t)kind;
	op->flags = 0;
	op->shared = (uint16_t)obj_shared(addr, kind);
	op->obj = op->shared ? obj_lookup(sobjs, SOBJ_BITS, (uint64_t)addr)
			     : obj_lookup(objs, OBJ_BITS, (uint64_t)addr);
	if (sync_mode == SYNC_LOG) {
		/* reserved first, in one instruction, so a signal handler's
		 * operations come after the one it interrupted, as the thread
		 * made them */
		i = take_index(&slot->count);

		/* what FOLLOW's next holds after the same operation: the
		 * thread's state is the same in both runs (an EP run's check
		 * compares its memory with the TP run's) */
		self.next = i + 1;
		if (!op->obj) {
			__atomic_fetch_add(&head->untracked, 1, __ATOMIC_RELAXED);
			op->rec = NULL;
			if (i < head->nrecs) {
				/* a hole the reader sees as lost */
				slot->recs[i].obj = (uint64_t)addr;
				slot->recs[i].flags = (uint16_t)(UPRR_SYNC_F_OBSERVE |
					(op->shared ? UPRR_SYNC_F_SHARED : 0));
				__atomic_store_n(&slot->recs[i].kind, (uint16_t)kind, __ATOMIC_RELEASE);
			}
			return SYNC_PASS;
		}
		if (i >= head->nrecs) {
			__atomic_fetch_add(&slot->lost, 1, __ATOMIC_RELAXED);
			op->rec = NULL;
		} else {
			op->rec = &slot->recs[i];
			op->rec->obj = (uint64_t)addr;
		}
		return SYNC_PATH_LOG;
	}
	/* FOLLOW. Past the end of its log (the last record reserved, or one
	 * never completed), the thread was blocked when the LOG run ended
	 * (in an operation, or in a wait the log does not see, and then here):
	 * it waits for ever, as it did, until the process exits. */
	i = self.next;
	/* taken where LOG reserves it (above), the condition wait's
	 * acquisition after glibc's wait, the others before their call: a
	 * thread waiting here has the `next` of LOG's waiting in glibc (an
	 * epoch's end there is checked) */
	if (kind != UPRR_SYNC_COND_ACQUIRE)
		self.next = i + 1;
	if (tp_mode && i < head->nrecs)
		wait_for_record(slot, i, self.wait_frame);
	/* (a record complete is one reserved: count is not read, which in
	 * an EP run that goes along with its TP run is smaller than at the
	 * end, and in a register could show at a later call as another
	 * value than in the replay) */
	if (i >= head->nrecs || slot->recs[i].kind == UPRR_SYNC_NONE) {
		/* an order cut where the EP run went live: unordered on */
		if (head->flags & UPRR_SYNC_HEAD_OPEN_END)
			return SYNC_PASS;
		block_forever();
	}
	self.next = i + 1;
	op->rec = &slot->recs[i];
	if (op->rec->obj != (uint64_t)addr || op->rec->kind != kind ||
			!(op->rec->flags & UPRR_SYNC_F_SHARED) != !op->shared)
		sync_diverged("another operation", op, (uint64_t)addr, kind);
	if (!op->obj)
		sync_diverged("no room for the object's clock", op, (uint64_t)addr, kind);
	return (op->rec->flags & UPRR_SYNC_F_OBSERVE) ? SYNC_PATH_OBSERVE : SYNC_PATH_FOLLOW;
}

static void
log_write(struct sync_op *op, uint32_t clock, int result, unsigned flags)
{
	if (!op->rec)
		return;
	op->rec->clock = clock;
	op->rec->result = result;
	/* UPRR_SYNC_F_END: uprr's, written while the thread stood still */
	op->rec->flags = (uint16_t)(flags | op->flags | (op->shared ? UPRR_SYNC_F_SHARED : 0) |
				    (op->rec->flags & UPRR_SYNC_F_END));
	/* the kind last: a reader takes a record whose kind is 0 as not
	 * complete (a thread still blocked in it) */
	__atomic_store_n(&op->rec->kind, op->kind, __ATOMIC_RELEASE);
}

HIDDEN void
sync_log_acquired(struct sync_op *op, int result, int observe)
{
	uint32_t c;

	if (observe)
		c = __atomic_load_n(&op->obj->clock, __ATOMIC_ACQUIRE);
	else
		c = take_clock(op->obj, op->kind);
	log_write(op, c, result, observe ? UPRR_SYNC_F_OBSERVE : 0);
}

/* A release's record is complete once it took its clock (its result is
 * 0 until sync_log_done()): a process that ends between the two (another
 * thread's exit_group) leaves no clock that no record holds, which would
 * stop a FOLLOW run at that clock. */
HIDDEN void
sync_log_release(struct sync_op *op)
{
	uint32_t c = take_clock(op->obj, op->kind);

	log_write(op, c, 0, 0);
}

HIDDEN void
sync_log_done(struct sync_op *op, int result)
{
	if (op->rec && result)
		__atomic_store_n(&op->rec->result, result, __ATOMIC_RELEASE);
}

HIDDEN void
sync_wait_begin(unsigned kind, const void *obj, uint64_t frame)
{
	if (!self.slot)
		return;
	/* in both modes: the thread-local data is the program's memory, which
	 * an epoch's check compares */
	self.wait_frame = frame;
	if (sync_mode != SYNC_LOG)
		return;
	/* before the record that says where the thread is: the supervisor
	 * reads them with it */
	__atomic_store_n(&self.slot->wait_frame, frame, __ATOMIC_RELAXED);
	__atomic_store_n(&self.slot->wait_kind, kind, __ATOMIC_RELAXED);
	__atomic_store_n(&self.slot->wait_obj, (uint64_t)obj, __ATOMIC_RELEASE);
}

HIDDEN void
sync_wait_end(void)
{
	if (!self.slot)
		return;
	self.wait_frame = 0;
	if (sync_mode == SYNC_LOG)
		__atomic_store_n(&self.slot->wait_obj, 0, __ATOMIC_RELEASE);
}

/* The futex flag of @op's clock word: a shared object's sleepers are in
 * other processes too */
static inline int
clock_private(const struct sync_op *op)
{
	return op->shared ? 0 : FUTEX_PRIVATE_FLAG;
}

/* The futex bitset of clock @c's sleepers (FUTEX_WAIT_BITSET) */
static inline long
clock_bit(uint32_t c)
{
	return 1l << (c % 32);
}

/* Says that this thread sleeps until @o's clock is @want: the slot it took
 * (its index), or -1 if it is counted in the crowd. */
static int
sleeper_add(struct sync_obj *o, uint32_t want)
{
	for (int i = 0; i < SYNC_SLEEPERS && want + 1 != 0; i++) {
		uint32_t free_slot = 0;

		if (__atomic_compare_exchange_n(&o->sleepers[i], &free_slot, want + 1, 0,
				__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			return i;
	}
	__atomic_fetch_add(&o->crowd, 1, __ATOMIC_SEQ_CST);
	return -1;
}

static void
sleeper_remove(struct sync_obj *o, int slot)
{
	if (slot >= 0)
		__atomic_store_n(&o->sleepers[slot], 0, __ATOMIC_SEQ_CST);
	else
		__atomic_fetch_sub(&o->crowd, 1, __ATOMIC_SEQ_CST);
}

/* Sleeps until the clock is at least @want (@exact: exactly; past it is a
 * divergence). The clock goes up by 1 at a time, so it passes @want: the
 * advance to it wakes this thread (sync_follow_advance()). Its slot is
 * taken before the futex call and the advancer reads the slots after its
 * increment, both sequentially consistent: either the sleeper's futex call
 * sees the new clock (EAGAIN) or the advancer sees the sleeper and wakes
 * it. A slot per wait: a signal handler's operation may wait inside the
 * wait it interrupted. */
static void
wait_clock(struct sync_op *op, uint32_t want, int exact)
{
	struct sync_obj *o = op->obj;

	for (;;) {
		uint32_t c = __atomic_load_n(&o->clock, __ATOMIC_SEQ_CST);
		int slot;

		if (c == want || (!exact && (int32_t)(c - want) > 0))
			return;
		if (exact && (int32_t)(c - want) > 0)
			sync_diverged("its object's clock went past its turn", op, o->addr, op->kind);
		slot = sleeper_add(o, want);
		sync_raw_syscall(SYS_futex, (long)&o->clock, FUTEX_WAIT_BITSET | clock_private(op), c,
			0, 0, clock_bit(want));
		sleeper_remove(o, slot);
	}
}

HIDDEN void
sync_follow_turn(struct sync_op *op)
{
	wait_clock(op, op->rec->clock, 1);
}

HIDDEN void
sync_follow_advance(struct sync_op *op)
{
	struct sync_obj *o = op->obj;

	uint32_t c = __atomic_fetch_add(&o->clock, 1, __ATOMIC_SEQ_CST) + 1;
	long bits = 0;

	/* only a sleeper whose turn this is (wait_clock()): a wake is a
	 * ptrace stop in an EP run, and the sleeper's wake-up and next wait
	 * two more */
	if (__atomic_load_n(&o->crowd, __ATOMIC_SEQ_CST))
		bits = FUTEX_BITSET_MATCH_ANY;
	for (int i = 0; i < SYNC_SLEEPERS && !bits; i++)
		if (__atomic_load_n(&o->sleepers[i], __ATOMIC_SEQ_CST) == c + 1)
			bits = clock_bit(c);
	if (bits)
		sync_raw_syscall(SYS_futex, (long)&o->clock, FUTEX_WAKE_BITSET | clock_private(op),
			INT_MAX, 0, 0, bits);
}

HIDDEN void
sync_follow_done(struct sync_op *op, int result)
{
	if (result != op->rec->result)
		sync_diverged("another result", op, op->obj->addr, op->kind);
	sync_follow_advance(op);
}

HIDDEN int
sync_follow_observe(struct sync_op *op)
{
	wait_clock(op, op->rec->clock, 0);
	return op->rec->result;
}

/* ---- threads ---- */

/* Gives the calling thread its slot: the creator's @parent and @ordinal;
 * @proc, the slot of its process's first thread (UPRR_SYNC_NSLOTS: this
 * one, the first thread of a process: the program's, or a forked
 * child's, @forked) */
static int
claim_slot(uint32_t parent, uint32_t ordinal, uint32_t proc, uint32_t forked)
{
	uint32_t i;

	if (sync_mode == SYNC_LOG) {
		i = __atomic_fetch_add(&head->nthreads, 1, __ATOMIC_RELAXED);
		if (i >= UPRR_SYNC_NSLOTS) {
			__atomic_fetch_add(&head->lost_threads, 1, __ATOMIC_RELAXED);
			return -ENOSPC;
		}
		slot_at(i)->parent = parent;
		slot_at(i)->ordinal = ordinal;
		slot_at(i)->proc = proc == UPRR_SYNC_NSLOTS ? i : proc;
		slot_at(i)->forked = forked;
		slot_at(i)->tid = (uint32_t)sync_raw_syscall(SYS_gettid, 0, 0, 0, 0, 0, 0);
		__atomic_store_n(&slot_at(i)->used, 1, __ATOMIC_RELEASE);
	} else {
		/* the EP run answers its syscalls from the TP run's, in order:
		 * make LOG's gettid here too */
		if (tp_mode)
			(void)sync_raw_syscall(SYS_gettid, 0, 0, 0, 0, 0, 0);
		/* FOLLOW: the slot of the same creator's same rank */
		for (i = 0; i < head->nthreads && i < UPRR_SYNC_NSLOTS; i++)
			if (slot_at(i)->used && slot_at(i)->parent == parent &&
					slot_at(i)->ordinal == ordinal &&
					slot_at(i)->forked == forked)
				break;
		if (i >= head->nthreads || i >= UPRR_SYNC_NSLOTS)
			return -ENOENT;
	}
	self.slot = slot_at(i);
	self.index = i;
	self.children = 0;
	self.next = 0;
	self.proc = proc == UPRR_SYNC_NSLOTS ? i : proc;
	return 0;
}

HIDDEN int
sync_thread_child_ordinal(uint32_t *ret_parent, uint32_t *ret_proc)
{
	if (sync_mode == SYNC_OFF || !self.slot)
		return -1;
	*ret_parent = self.index;
	*ret_proc = self.proc;
	return (int)self.children++;
}

/* Whether FOLLOW goes unordered where its order ends: past an order cut
 * (UPRR_SYNC_HEAD_OPEN_END), where a re-run went live and the log's run
 * made the threads it makes now after the cut or not at all. */
static int
open_end(void)
{
	return sync_mode == SYNC_FOLLOW && (head->flags & UPRR_SYNC_HEAD_OPEN_END);
}

HIDDEN void
sync_thread_attach(uint32_t parent, uint32_t ordinal, uint32_t proc)
{
	/* a thread with no slot (self.slot NULL) goes unordered */
	if (sync_mode != SYNC_OFF && claim_slot(parent, ordinal, proc, 0) < 0 &&
			sync_mode == SYNC_FOLLOW && !open_end())
		sync_diverged("a thread the log does not have", NULL, 0, 0);
}

/* ---- set-up ---- */

/*
 * fork(2). The child is a process of its own in the log: its thread takes
 * a slot as a thread the forking thread created would (the same count of
 * ranks), marked forked, and its private objects' clocks start from 0 (its
 * copy of the parent's table held whatever the parent's other threads had
 * reached, which differs between runs). The shared table is the parent's
 * (MAP_SHARED). The fork itself is a heap operation (sync-heap.c).
 */
static __thread uint32_t fork_parent __attribute__((tls_model("initial-exec")));
static __thread uint32_t fork_ordinal __attribute__((tls_model("initial-exec")));
static __thread bool fork_logged __attribute__((tls_model("initial-exec")));

static void
sync_fork_prepare(void)
{
	fork_logged = sync_mode != SYNC_OFF && self.slot;
	if (!fork_logged)
		return;
	if (!__atomic_load_n(&sobjs, __ATOMIC_ACQUIRE)) {
		void *p = mmap(NULL, SOBJ_COUNT * sizeof(*sobjs), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);

		/* failed: the objects stay private (each process's clocks) */
		if (p != MAP_FAILED)
			__atomic_store_n(&sobjs, (struct sync_obj *)p, __ATOMIC_RELEASE);
	}
	sync_heap_fork_prepare();
	/* the forking thread's (TLS: the child has its copy) */
	fork_parent = self.index;
	fork_ordinal = self.children++;
}

static void
sync_fork_parent(void)
{
	if (fork_logged)
		sync_heap_fork_parent();
}

static void
sync_fork_child(void)
{
	if (!fork_logged)
		return;
	sync_heap_fork_child();
	self.slot = NULL;
	/* the table's pages replaced by zeros (a private mapping: the
	 * parent's are its own) */
	if (mmap(objs, OBJ_COUNT * sizeof(*objs), PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED ||
			claim_slot(fork_parent, fork_ordinal, UPRR_SYNC_NSLOTS, 1) < 0) {
		if (open_end())
			return; /* unordered, as a thread with no slot */
		if (sync_mode == SYNC_FOLLOW)
			sync_diverged("a forked process the log does not have", NULL, 0, 0);
		/* LOG: counted in lost_threads, which the reader refuses */
		sync_mode = SYNC_OFF;
	}
}

static int
map_log(const char *path, enum sync_mode mode, uint32_t nrecs)
{
	struct stat st;
	void *p;
	int fd;

	fd = open(path, (mode == SYNC_LOG ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		goto err;
	if (mode == SYNC_LOG) {
		if (st.st_size != 0) {
			/* another process owns it (a program this one executed
			 * would have had the variables removed) */
			close(fd);
			return -EEXIST;
		}
		if (ftruncate(fd, (off_t)uprr_sync_log_size(nrecs)) < 0)
			goto err;
		p = mmap(NULL, uprr_sync_log_size(nrecs), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			goto err;
		head = p;
		head->version = UPRR_SYNC_VERSION;
		head->nslots = UPRR_SYNC_NSLOTS;
		head->nrecs = nrecs;
		head->pid = (uint32_t)getpid();
		__atomic_store_n(&head->magic, UPRR_SYNC_MAGIC, __ATOMIC_RELEASE);
	} else {
		const struct uprr_sync_head *h;

		if ((uint64_t)st.st_size < UPRR_SYNC_HEAD_SIZE) {
			errno = EINVAL;
			goto err;
		}
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED)
			goto err;
		h = p;
		if (h->magic != UPRR_SYNC_MAGIC || h->version != UPRR_SYNC_VERSION ||
				h->nslots != UPRR_SYNC_NSLOTS || h->nrecs > UPRR_SYNC_RECS_MAX ||
				(uint64_t)st.st_size < uprr_sync_log_size(h->nrecs)) {
			munmap(p, (size_t)st.st_size);
			close(fd);
			return -EINVAL;
		}
		head = p;
		nrecs = h->nrecs;
	}
	close(fd);
	slot_size = uprr_sync_slot_size(nrecs);
	return 0;
err:
	{
		int r = -errno;

		close(fd);
		return r;
	}
}

/*
 * UPRR_SYNC_MODE=tp: the file was made by uprr, @nrecs records a thread
 * long, and is mapped MAP_SHARED writable. In the TP run it holds zeros:
 * LOG. In the EP run the recorder maps the TP run's finished log there
 * instead (privately, recorder/record-ep.c): its magic says FOLLOW. Both
 * make the same syscalls (open, fstat, mmap, close, getpid), since the EP
 * run answers them from the TP run's in order.
 */
static int
map_tp_log(const char *path, uint32_t nrecs, enum sync_mode *ret_mode)
{
	struct stat st;
	void *p;
	uint32_t pid;
	int fd;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		goto err;
	if ((uint64_t)st.st_size < uprr_sync_log_size(nrecs)) {
		errno = EINVAL;
		goto err;
	}
	p = mmap(NULL, uprr_sync_log_size(nrecs), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto err;
	close(fd);
	pid = (uint32_t)getpid();
	head = p;
	slot_size = uprr_sync_slot_size(nrecs);
	if (__atomic_load_n(&head->magic, __ATOMIC_ACQUIRE) == UPRR_SYNC_MAGIC) {
		if (head->version != UPRR_SYNC_VERSION || head->nslots != UPRR_SYNC_NSLOTS ||
				head->nrecs != nrecs)
			return -EINVAL;
		*ret_mode = SYNC_FOLLOW;
		return 0;
	}
	head->version = UPRR_SYNC_VERSION;
	head->nslots = UPRR_SYNC_NSLOTS;
	head->nrecs = nrecs;
	head->pid = pid;
	__atomic_store_n(&head->magic, UPRR_SYNC_MAGIC, __ATOMIC_RELEASE);
	*ret_mode = SYNC_LOG;
	return 0;
err:
	{
		int r = -errno;

		close(fd);
		return r;
	}
}

/*
 * The environment's variable @name, read from environ(7) itself: a program
 * may define getenv(3), setenv(3) and unsetenv(3) of its own, which then
 * stand for glibc's in this library too (bash keeps its exported variables
 * in its own table, lib/sh/getenv.c: its unsetenv() before its main() ran
 * left UPRR_SYNC_MODE in the environment, and the programs `bash -c`
 * executed took the order's file as another process's and diverged).
 * NULL if unset.
 */
static const char *
env_get(const char *name)
{
	size_t len = strlen(name);

	for (char **e = environ; e && *e; e++)
		if (!strncmp(*e, name, len) && (*e)[len] == '=')
			return *e + len + 1;
	return NULL;
}

/* Remove @name from environ(7) in place, as glibc's unsetenv() does: the
 * programs this process executes do not see it. */
static void
env_drop(const char *name)
{
	size_t len = strlen(name);
	char **to = environ;

	if (!to)
		return;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, name, len) || (*e)[len] != '=')
			*to++ = *e;
	*to = NULL;
}

static void
sync_start(void)
{
	const char *mode_s = env_get(UPRR_SYNC_ENV_MODE);
	const char *path = env_get(UPRR_SYNC_ENV_LOG);
	const char *recs_s = env_get(UPRR_SYNC_ENV_RECS);
	const char *heap_s = env_get(UPRR_SYNC_ENV_HEAP);
	enum sync_mode mode = SYNC_OFF;
	uint32_t nrecs = UPRR_SYNC_RECS_DEFAULT;
	char msg[256];
	int r, n;

	sync_resolve();
	if (!mode_s || !path)
		return;
	scrub_vec_init();
	if (!strcmp(mode_s, "log"))
		mode = SYNC_LOG;
	else if (!strcmp(mode_s, "follow"))
		mode = SYNC_FOLLOW;
	else if (!strcmp(mode_s, "tp"))
		tp_mode = true;
	else
		return;
	if (recs_s) {
		unsigned long v = strtoul(recs_s, NULL, 10);

		if (v > 0 && v <= UPRR_SYNC_RECS_MAX)
			nrecs = (uint32_t)v;
	}
	objs = mmap(NULL, OBJ_COUNT * sizeof(*objs), PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (objs == MAP_FAILED) {
		r = -errno;
		goto fail;
	}

	r = tp_mode ? map_tp_log(path, nrecs, &mode) : map_log(path, mode, nrecs);
	if (r < 0)
		goto fail;
	/* a program this process executes is another process: no log */
	env_drop(UPRR_SYNC_ENV_MODE);
	sync_mode = mode;
	r = claim_slot(UPRR_SYNC_NO_PARENT, 0, UPRR_SYNC_NSLOTS, 0);
	if (r < 0)
		goto fail;
	if (mode == SYNC_LOG && heap_s && !strcmp(heap_s, "1"))
		head->flags |= UPRR_SYNC_HEAD_HEAP;
	if (head->flags & UPRR_SYNC_HEAD_HEAP)
		sync_heap_start();
	pthread_atfork(sync_fork_prepare, sync_fork_parent, sync_fork_child);
	return;
fail:
	sync_mode = SYNC_OFF;
	n = snprintf(msg, sizeof(msg), "uprr-sync: %s mode on '%s' not started: %s\n", mode_s,
		path, strerror(-r));
	if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0)
		n = 0;
	if (mode == SYNC_FOLLOW)
		_exit(UPRR_SYNC_DIVERGED_EXIT);
}

/* The set-up reads the environment (getenv(): glibc's vector string
 * functions over strings of other lengths in each mode, UPRR_SYNC_MODE's
 * value included) and leaves those bytes in the vector registers, which
 * the loader's first lazy binding then saves on the stack: scrubbed
 * (sync_scrub()) after it as after every operation. */
__attribute__((constructor)) static void
sync_init(void)
{
	sync_start();
	sync_scrub();
}
