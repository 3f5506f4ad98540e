/* SPDX-License-Identifier: MIT */
/*
 * `file_grow PATH`: a file of one page mapped MAP_PRIVATE over three pages,
 * then grown by the program itself (write at its end, ftruncate, pwrite),
 * and rewritten in place on a page the mapping never wrote; reads all of
 * it back through the mapping (mmap(2): pages not yet written show the
 * file's changes; the mapping's own store to page 0 stays private). A
 * second, read-only fd maps it too. Deterministic: the same output natively.
 */
#include <fcntl.h>
#include <sys/mman.h>

#include "progs.h"

#define PAGE 4096

static uint64_t
fnv(const volatile uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static void
fill(uint8_t *buf, size_t n, int seed)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(i * (seed + 7) + seed);
}

int
main(int argc, char **argv)
{
	uint8_t buf[PAGE];
	volatile uint8_t *map, *ro;
	int fd, rofd;

	if (argc < 2)
		die("usage: file_grow PATH");
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	fill(buf, PAGE, 1);
	if (fd < 0 || write(fd, buf, PAGE) != PAGE)
		die("file_grow: %s: %s", argv[1], strerror(errno));
	map = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	rofd = open(argv[1], O_RDONLY | O_CLOEXEC);
	ro = rofd < 0 ? MAP_FAILED : mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, rofd, 0);
	if (map == MAP_FAILED || ro == MAP_FAILED)
		die("file_grow: mmap: %s", strerror(errno));
	say("file_grow: page 0 %016llx\n", (unsigned long long)fnv(map, PAGE));
	map[0] = 0xee; /* page 0 is the mapping's own from now on */
	fill(buf, PAGE, 2);
	if (write(fd, buf, PAGE) != PAGE) /* grows to 2 pages */
		die("file_grow: write: %s", strerror(errno));
	if (ftruncate(fd, 3 * PAGE + 100) < 0) /* 3 pages and a bit */
		die("file_grow: ftruncate: %s", strerror(errno));
	fill(buf, PAGE, 3);
	if (pwrite(fd, buf, 1000, 2 * PAGE + 50) != 1000)
		die("file_grow: pwrite: %s", strerror(errno));
	fill(buf, PAGE, 4);
	if (pwrite(fd, buf, PAGE, 0) != PAGE) /* rewrites page 0 in place */
		die("file_grow: pwrite page 0: %s", strerror(errno));
	for (int i = 0; i < 4; i++)
		say("file_grow: page %d %016llx\n", i, (unsigned long long)fnv(map + i * PAGE, PAGE));
	say("file_grow: page 0 through the read-only fd's mapping %016llx, first byte of the "
	    "private copy %#x\n", (unsigned long long)fnv(ro, PAGE), map[0]);
	return 0;
}
