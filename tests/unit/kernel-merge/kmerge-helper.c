/* SPDX-License-Identifier: MIT */
/*
 * The tracee of the kernel-merge tests (test-kmerge.c): NTHREADS threads
 * that each stop on an int3 (the checkpoint: the test makes two copies A
 * and B of the process there), run an epoch, and stop on a second int3 (the
 * epoch's end: the test merges B into A there). The test writes `variant`
 * into B only; B then differs from A in every way the merge handles:
 *   - every page of the area (AREA_ADDR, argv[2] pages a thread) and a page
 *     only B writes (only_b); A writes a page B does not (only_a);
 *   - thread 1's rax and xmm7 at the epoch's end, its signal mask
 *     (SIGUSR2 blocked) and its GS base;
 *   - thread 0 maps anonymous memory at MAP_ADDR, unmaps the page at
 *     GONE_ADDR, grows the program break by 64 KiB and fills it, and closes
 *     the data file's descriptor, reopening /dev/null in its place, and
 *     grows the main thread's stack by 256 KiB (thread 0 is the main thread),
 *     and makes the first page of the area read-only;
 *   - thread 2 sets an alternate signal stack, another clear-tid address
 *     and robust list (an empty one), and unregisters its rseq area;
 *   - variant 2 also maps a file at FILE_ADDR (a merge refuses it).
 * Going on from the epoch's end, the threads take down what they see (rax,
 * xmm7, mask, GS base, and thread 2 its per-thread kernel state), thread 0 prints "PID: STATE" to the output file
 * (argv[3], O_APPEND), STATE a digest of the memory and of what the kernel
 * says of the mappings and the break, and writes "STATE\n" through the data
 * file's descriptor (argv[1], opened before the checkpoint, 4 bytes
 * written): in A those bytes land in the data file at offset 4.
 */
#include <asm/prctl.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NTHREADS 3
#define AREA_ADDR 0x6e0000000000UL
#define MAP_ADDR 0x6f0000000000UL
#define CTL_ADDR 0x6f0000100000UL
#define GONE_ADDR 0x6f0000200000UL
#define FILE_ADDR 0x6f0000400000UL
#define HEAP_GROWTH 65536

static volatile int *variant;
static uint8_t *area;
static long pages;
static int datafd, outfd;
static uint64_t heap0;
static pthread_barrier_t barrier;

/* what each thread saw after the epoch's end */
static struct {
	uint64_t rax, xmm7, sigmask, gs;
	uint64_t altstack, clear_tid, robust, rseq_off; /* rseq_off: 1 if unregistered */
} seen[NTHREADS];

/* thread 2's alternate signal stack, clear-tid word and robust list in B */
static uint8_t altstack[16384] __attribute__((aligned(16)));
static volatile uint32_t other_tid;
static struct robust_list_head_ {
	void *next;
	long futex_offset;
	void *pending;
} robust = { &robust, 0, NULL };

/* The cpu_id field of the thread's rseq area: -1 once unregistered
 * (rseq_reset_rseq_cpu_node_id(), kernel/rseq.c), or if glibc has none. */
static uint64_t
rseq_cpu(void)
{
	if (__rseq_size == 0)
		return (uint64_t)-1;
	sched_yield();
	return *(volatile uint32_t *)((char *)__builtin_thread_pointer() + __rseq_offset + 4);
}

static volatile struct {
	uint8_t b[4096];
} only_a __attribute__((aligned(4096))), only_b __attribute__((aligned(4096)));

static uint64_t
fnv(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

static int
mapped(uint64_t addr)
{
	return msync((void *)addr, 4096, MS_ASYNC) == 0;
}

/* The state thread 0 prints once every thread went on. */
static void
report(void)
{
	uint64_t h = 0xcbf29ce484222325ULL, brk_now = (uint64_t)syscall(SYS_brk, 0);
	char line[256];
	int n;

	h = fnv(h, area, NTHREADS * pages * 4096);
	h = fnv(h, (const void *)&only_a, 4096);
	h = fnv(h, (const void *)&only_b, 4096);
	if (mapped(MAP_ADDR))
		h = fnv(h, (const void *)MAP_ADDR, 2 * 4096);
	if (brk_now > heap0)
		h = fnv(h, (const void *)heap0, brk_now - heap0);
	h = fnv(h, seen, sizeof(seen));
	n = snprintf(line, sizeof(line),
		     "variant %d map %d gone %d brk +%lu rax %lu xmm7 %lu mask %lx gs %lx"
		     " alt %d tid %d robust %d rseq %d digest %016lx\n",
		     *variant, mapped(MAP_ADDR), !mapped(GONE_ADDR), (unsigned long)(brk_now - heap0),
		     (unsigned long)seen[1].rax, (unsigned long)seen[1].xmm7, (unsigned long)seen[1].sigmask,
		     (unsigned long)seen[1].gs, seen[2].altstack == (uint64_t)altstack,
		     seen[2].clear_tid == (uint64_t)&other_tid, seen[2].robust == (uint64_t)&robust,
		     (int)seen[2].rseq_off, (unsigned long)h);
	dprintf(outfd, "%d: %s", getpid(), line);
	if (write(datafd, line, (size_t)n) != n)
		dprintf(outfd, "%d: data write failed\n", getpid());
}

/* Use 256 KiB more of the stack than anything else does: the [stack]
 * mapping grows down to there. Returns a sum of what it wrote. */
static __attribute__((noinline)) long
deep(void)
{
	volatile char big[256 << 10];
	long sum = 0;

	for (size_t i = 0; i < sizeof(big); i += 4096)
		big[i] = (char)(i >> 12);
	for (size_t i = 0; i < sizeof(big); i += 4096)
		sum += big[i];
	return sum;
}

static void *
thread_main(void *arg)
{
	long this = (long)arg;
	uint8_t *mine;
	double sum = 0;
	uint64_t rax, x;
	int v;

	pthread_barrier_wait(&barrier);
	__asm__ volatile("int3" ::: "memory"); /* the checkpoint */
	v = *variant;
	if (v && this == 1) {
		uint64_t m = 1ULL << (SIGUSR2 - 1);

		syscall(SYS_rt_sigprocmask, SIG_BLOCK, &m, NULL, 8);
		syscall(SYS_arch_prctl, ARCH_SET_GS, 0x12340000UL);
	}
	if (v && this == 2) {
		stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };

		sigaltstack(&ss, NULL);
		syscall(SYS_set_tid_address, &other_tid);
		syscall(SYS_set_robust_list, &robust, sizeof(robust));
		if (__rseq_size)
			syscall(SYS_rseq, (char *)__builtin_thread_pointer() + __rseq_offset, 32, 1, RSEQ_SIG);
	}
	if (v && this == 0) {
		uint64_t cur = (uint64_t)syscall(SYS_brk, 0);
		void *m = mmap((void *)MAP_ADDR, 2 * 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

		if (m != MAP_FAILED)
			memset(m, 0x3c, 4096 + 17);
		munmap((void *)GONE_ADDR, 4096);
		if ((uint64_t)syscall(SYS_brk, cur + HEAP_GROWTH) == cur + HEAP_GROWTH)
			memset((void *)cur, 0x77, HEAP_GROWTH / 2);
		close(datafd);
		if (open("/dev/null", O_WRONLY) != datafd)
			abort();
		if (deep() != 2016)
			abort();
		if (v == 2) {
			int fd = open("/proc/self/exe", O_RDONLY);

			mmap((void *)FILE_ADDR, 4096, PROT_READ, MAP_PRIVATE | MAP_FIXED_NOREPLACE, fd, 0);
			close(fd);
		}
	}
	mine = area + this * pages * 4096;
	for (long p = 0; p < pages; p++) {
		memset(mine + p * 4096, (int)(this * 31 + p + v), 4096);
		sum += (double)p * 0.5;
	}
	/* B's first page of the area read-only: A's must become so, and be
	 * written all the same */
	if (v && this == 0)
		mprotect(mine, 4096, PROT_READ);
	if (this == 1) {
		if (v)
			only_b.b[100] = 1;
		else
			only_a.b[100] = 2;
	}
	x = (uint64_t)sum + 7 + (this == 1 ? (uint64_t)v : 0);
	rax = 42 + (this == 1 ? (uint64_t)v : 0);
	__asm__ volatile("movq %0, %%xmm7" : : "r"(x) : "xmm7");
	__asm__ volatile("int3" : "+a"(rax) : : "memory"); /* the epoch's end */
	__asm__ volatile("movq %%xmm7, %0" : "=r"(x));
	seen[this].rax = rax;
	seen[this].xmm7 = x;
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &seen[this].sigmask, 8);
	syscall(SYS_arch_prctl, ARCH_GET_GS, &seen[this].gs);
	if (this == 2) {
		stack_t ss;
		size_t len;

		sigaltstack(NULL, &ss);
		seen[this].altstack = ss.ss_flags & SS_DISABLE ? 0 : (uint64_t)ss.ss_sp;
		prctl(PR_GET_TID_ADDRESS, &seen[this].clear_tid);
		syscall(SYS_get_robust_list, 0, &seen[this].robust, &len);
		/* whether registered, not the CPU, which varies */
		seen[this].rseq_off = rseq_cpu() == (uint32_t)-1;
	}
	pthread_barrier_wait(&barrier);
	if (this == 0) {
		report();
		_exit(0);
	}
	for (;;)
		pause();
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t t[NTHREADS];

	if (argc < 4)
		return 2;
	pages = atol(argv[2]);
	datafd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	outfd = open(argv[3], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (datafd < 0 || outfd < 0 || write(datafd, "AAAA", 4) != 4)
		return 1;
	area = mmap((void *)AREA_ADDR, NTHREADS * pages * 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	variant = mmap((void *)CTL_ADDR, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (area == MAP_FAILED || variant == MAP_FAILED ||
	    mmap((void *)GONE_ADDR, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1,
		 0) == MAP_FAILED)
		return 1;
	heap0 = (uint64_t)syscall(SYS_brk, 0);
	pthread_barrier_init(&barrier, NULL, NTHREADS);
	for (long i = 1; i < NTHREADS; i++)
		if (pthread_create(&t[i], NULL, thread_main, (void *)i))
			return 1;
	thread_main((void *)0);
	return 0;
}
