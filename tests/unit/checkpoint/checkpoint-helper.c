/* SPDX-License-Identifier: MIT */
/*
 * The tracee of the checkpoint tests. Sets up four kinds of memory (a global
 * array, a malloc'd block, an anonymous mapping, a private mapping of the
 * file argv[1]), then runs rounds: each writes a pattern of its round number
 * into all four (and has the kernel write into the heap with pread(2)) and
 * stops on an int3 with rax = round and rbx = &info, so the test finds the
 * memory. The test may set info.extra to one more region to fill, and
 * info.grow to a depth at which to write below the stack pointer (the main
 * stack's mapping grows there; the address lands in info.deep).
 */
#include <alloca.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096

/* Read by the test; layout shared with test-checkpoint.c. */
struct helper_info {
	uint64_t magic;
	uint64_t global, heap, anon, file; /* addresses */
	uint64_t extra, extralen;	   /* set by the test */
	uint64_t grow, deep;
};

static struct helper_info info = { .magic = 0xc0ffee };
static uint8_t global_buf[4 * PAGE] __attribute__((aligned(PAGE)));
static int fd = -1;

static void
trap(uint64_t round)
{
	__asm__ volatile("int3" : : "a"(round), "b"(&info) : "memory");
}

static void
on_usr1(int sig)
{
	(void)sig;
}

/* The writes of one round: full pages, single bytes, and a kernel write. */
static void
fill(uint64_t round)
{
	uint8_t v = (uint8_t)(round * 0x11);
	uint8_t *heap = (uint8_t *)(uintptr_t)info.heap;
	uint8_t *anon = (uint8_t *)(uintptr_t)info.anon;
	uint8_t *file = (uint8_t *)(uintptr_t)info.file;

	memset(global_buf + PAGE, v, PAGE);
	global_buf[3 * PAGE + 5] = v;
	memset(heap, v, 100);
	heap[2 * PAGE + 7] = v;
	anon[2 * PAGE] = v;
	memset(anon + 5 * PAGE, v, 2 * PAGE);
	file[10] = v;
	file[PAGE + 20] = v;
	if (pread(fd, heap + 3 * PAGE + 16, 64, (off_t)round) != 64)
		_exit(3);
	if (info.extra)
		memset((void *)(uintptr_t)info.extra, v, info.extralen);
	if (info.grow) {
		volatile uint8_t *deep = alloca(info.grow);

		deep[0] = v;
		info.deep = (uintptr_t)deep;
	}
}

int
main(int argc, char **argv)
{
	uint8_t content[2 * PAGE];
	uint8_t *heap, *anon, *file;

	if (argc < 2)
		return 2;
	for (size_t i = 0; i < sizeof(content); i++)
		content[i] = (uint8_t)i;
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, content, sizeof(content)) != (ssize_t)sizeof(content))
		return 2;
	heap = malloc(5 * PAGE);
	anon = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	file = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (!heap || anon == MAP_FAILED || file == MAP_FAILED)
		return 2;
	/* the heap block's first full page */
	heap = (uint8_t *)(((uintptr_t)heap + PAGE - 1) & ~(uintptr_t)(PAGE - 1));
	memset(heap, 0xee, 4 * PAGE);
	memset(global_buf, 0xdd, sizeof(global_buf));
	anon[0] = 0xaa;
	file[PAGE] = 0xff;
	info.global = (uintptr_t)global_buf;
	info.heap = (uintptr_t)heap;
	info.anon = (uintptr_t)anon;
	info.file = (uintptr_t)file;
	signal(SIGUSR1, on_usr1);
	signal(SIGUSR2, SIG_IGN);
	trap(0);
	for (uint64_t round = 1; round < 1000000; round++) {
		fill(round);
		trap(round);
	}
	return 0;
}
