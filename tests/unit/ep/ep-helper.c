/* SPDX-License-Identifier: MIT */
/*
 * The tracee of the divergence tests (test-divergence.c): NTHREADS threads
 * that each stop on an int3 (the checkpoint: the test copies the process
 * there), then write their own pages of a shared area in a deterministic
 * way and stop on a second int3 (the epoch's end). A copy run the same way
 * is in the same state there. The test makes one copy differ by writing
 * `variant` into it before it runs; thread 1 (thread 0 for a mapping) then
 * does one thing differently:
 *   1: writes one byte of its page 5 differently (offset 123),
 *   2: has rax one higher at the last int3,
 *   3: has xmm7 one higher there,
 *   4: blocks SIGUSR2,
 *   5: sets its GS base,
 *   6: (thread 0) keeps a page mapped at MAP_ADDR that it otherwise unmaps,
 *   7: writes a byte of a page (`extra`) that nothing writes otherwise.
 * Everything else runs the same code with the same values, so that each
 * difference comes alone. argv[1]: pages each thread writes (default 16), at
 * AREA_ADDR, thread i's from page i * argv[1] on.
 */
#include <asm/prctl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NTHREADS 3
#define MAP_ADDR 0x6f0000000000UL
#define AREA_ADDR 0x6e0000000000UL
#define CTL_ADDR 0x6f0000100000UL

/* An int on a page of its own at CTL_ADDR, never written after the
 * checkpoint: the test writes the variant there in the copy. */
static volatile int *variant;

static volatile struct {
	uint8_t b[4096];
} extra __attribute__((aligned(4096)));

static const uint64_t masks[2] = { 0, 1ULL << (SIGUSR2 - 1) };
static const unsigned long gs_bases[2] = { 0, 0x12340000UL };
static pthread_barrier_t barrier;
static uint8_t *area;
static long pages;

/* 1 if this run is variant @v in thread @idx, else 0. The value goes
 * through an empty asm so that the compiler cannot make a copy of the code
 * for each value (a call from another site leaves another return address
 * on the dead part of the stack, and B's memory would differ for that). */
static inline long
opaque(long x)
{
	__asm__ volatile("" : "+r"(x));
	return x;
}
#define VARIANT(v, idx) opaque((*variant == (v)) & (this == (idx)))

static void *
thread_main(void *arg)
{
	long this = (long)arg;
	uint8_t *mine;
	void *m;
	double sum = 0;

	pthread_barrier_wait(&barrier);
	__asm__ volatile("int3" ::: "memory"); /* the checkpoint */
	/* the same calls in every variant, with other values */
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, &masks[VARIANT(4, 1)], NULL, 8);
	syscall(SYS_arch_prctl, ARCH_SET_GS, gs_bases[VARIANT(5, 1)]);
	if (this == 0) {
		m = mmap((void *)MAP_ADDR, 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		/* variant 6 unmaps a page nothing maps instead: the same call
		 * (a call not made would leave another return address on the
		 * dead part of the stack) */
		munmap((char *)m + VARIANT(6, 0) * (16 << 20), 4096);
	}
	mine = area + this * pages * 4096;
	for (long p = 0; p < pages; p++) {
		memset(mine + p * 4096, (int)(this * 31 + p), 4096);
		sum += (double)p * 0.5;
	}
	mine[5 * 4096 + 123] ^= (uint8_t)(VARIANT(1, 1) ? 0x5a : 0);
	if (VARIANT(7, 1))
		extra.b[100] = 1;
	__asm__ volatile("movq %0, %%xmm7" : : "r"((long)sum + 7 + VARIANT(3, 1)) : "xmm7");
	/* The epoch's end: rax as the variant says, the other registers
	 * zeroed (whatever the compiler left in them may depend on the
	 * variant); this thread never returns from here. */
	__asm__ volatile("xor %%ebx, %%ebx\n\txor %%ecx, %%ecx\n\txor %%edx, %%edx\n\t"
			 "xor %%esi, %%esi\n\txor %%edi, %%edi\n\txor %%r8d, %%r8d\n\t"
			 "xor %%r9d, %%r9d\n\txor %%r10d, %%r10d\n\txor %%r11d, %%r11d\n\t"
			 "xor %%r12d, %%r12d\n\txor %%r13d, %%r13d\n\txor %%r14d, %%r14d\n\t"
			 "xor %%r15d, %%r15d\n\tint3"
			 :
			 : "a"(42L + VARIANT(2, 1))
			 : "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
			   "r14", "r15", "memory");
	for (;;)
		pause();
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t t[NTHREADS];

	pages = argc > 1 ? atol(argv[1]) : 16;
	if (pages < 6)
		pages = 6;
	area = mmap((void *)AREA_ADDR, NTHREADS * pages * 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (area == MAP_FAILED)
		return 1;
	variant = mmap((void *)CTL_ADDR, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (variant == MAP_FAILED)
		return 1;
	pthread_barrier_init(&barrier, NULL, NTHREADS);
	for (long i = 1; i < NTHREADS; i++)
		if (pthread_create(&t[i], NULL, thread_main, (void *)i))
			return 1;
	thread_main((void *)0);
	return 0;
}
