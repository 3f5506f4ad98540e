/* SPDX-License-Identifier: MIT */
/*
 * Maps the file named by argv[1] and prints its size, its first line and a
 * checksum of its bytes, read through the mapping only. The end-to-end test
 * deletes the file before replay: the replay must get the bytes from the
 * trace.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "progs.h"

int
main(int argc, char **argv)
{
	struct stat st;
	const char *p;
	size_t first;
	long lines = 0;
	int fd;

	if (argc != 2)
		die("usage: mmap_file FILE");
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		die("mmap_file: %s: %s", argv[1], strerror(errno));
	if (st.st_size == 0)
		die("mmap_file: %s is empty", argv[1]);
	p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		die("mmap_file: mmap: %s", strerror(errno));
	close(fd);

	for (off_t i = 0; i < st.st_size; i++)
		lines += p[i] == '\n';
	for (first = 0; first < (size_t)st.st_size && first < 80 && p[first] != '\n'; first++)
		;
	say("size %lld, %ld lines\n", (long long)st.st_size, lines);
	say("first line: %.*s\n", (int)first, p);
	say("checksum %016llx\n", (unsigned long long)fnv1a(FNV1A_INIT, p, st.st_size));
	munmap((void *)p, st.st_size);
	return 0;
}
