/* SPDX-License-Identifier: MIT */
/*
 * `sparse_map PATH`: makes PATH a sparse file of 4 GiB (ftruncate) with data
 * in three pages (at 0, 2 GiB and the last page), maps all of it read-only
 * and reads those pages and a page of hole through the mapping. A trace of
 * it should hold kilobytes of the file, not gigabytes. Deterministic: the
 * same output natively.
 */
#include <fcntl.h>
#include <sys/mman.h>

#include "progs.h"

#define SIZE (4ULL << 30)
#define PAGE 4096

static uint64_t
fnv(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

int
main(int argc, char **argv)
{
	static const uint64_t at[] = { 0, SIZE / 2, SIZE - PAGE, SIZE / 4 };
	uint8_t page[PAGE];
	const uint8_t *map;
	int fd;

	if (argc < 2)
		die("usage: sparse_map PATH");
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)SIZE) < 0)
		die("sparse_map: %s: %s", argv[1], strerror(errno));
	for (int i = 0; i < 3; i++) {
		for (int k = 0; k < PAGE; k++)
			page[k] = (uint8_t)(k * (i + 3) + i);
		if (pwrite(fd, page, PAGE, (off_t)at[i]) != PAGE)
			die("sparse_map: pwrite: %s", strerror(errno));
	}
	map = mmap(NULL, SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		die("sparse_map: mmap: %s", strerror(errno));
	for (int i = 0; i < 4; i++)
		say("sparse_map: page at %llu MiB: %016llx%s\n", (unsigned long long)(at[i] >> 20),
		    (unsigned long long)fnv(map + at[i], PAGE), i == 3 ? " (a hole)" : "");
	return 0;
}
