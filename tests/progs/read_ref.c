/* SPDX-License-Identifier: MIT */
/*
 * Reads that the syscall buffer may keep by reference to a package-managed
 * file (trace format 13, recorder/syscallbuf-ref.c): read, lseek then read,
 * pread64, readv, and a read through a dup of the fd, which moves the
 * position the first fd's records do not show. Then a read of a file that
 * is not a system file (argv[2]), which keeps its bytes. Prints the length
 * and an FNV-1a hash of each read's bytes: deterministic, equal to a native
 * run's.
 *
 * Usage: read_ref SYSTEM-FILE (128 KiB or more) OTHER-FILE (32 KiB or more)
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>

static unsigned char buf[65536], buf2[20000];

static uint64_t
fnv(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static void
show(const char *what, ssize_t n, const unsigned char *p)
{
	printf("%s: %zd %016llx\n", what, n, n > 0 ? (unsigned long long)fnv(p, (size_t)n) : 0ull);
}

int
main(int argc, char **argv)
{
	struct iovec iov[2] = { { buf, 20000 }, { buf2, 20000 } };
	ssize_t n;
	int fd, dup_fd;

	if (argc != 3) {
		fprintf(stderr, "usage: read_ref SYSTEM-FILE OTHER-FILE\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	n = read(fd, buf, 20000);
	show("read", n, buf);
	n = lseek(fd, 1000, SEEK_SET);
	printf("lseek: %zd\n", n);
	n = read(fd, buf, 20000);
	show("read after lseek", n, buf);
	n = pread(fd, buf, 30000, 5000);
	show("pread64", n, buf);
	n = readv(fd, iov, 2);
	printf("readv: %zd %016llx %016llx\n", n, (unsigned long long)fnv(buf, 20000),
	       (unsigned long long)fnv(buf2, 20000));
	/* the same open file: its reads move the first fd's position too */
	dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 10);
	n = read(dup_fd, buf, 20000);
	show("read of the dup", n, buf);
	n = read(fd, buf, 20000);
	show("read after the dup's", n, buf);
	close(dup_fd);
	close(fd);

	fd = open(argv[2], O_RDONLY);
	if (fd < 0) {
		perror(argv[2]);
		return 1;
	}
	n = read(fd, buf, sizeof(buf));
	show("read of the other file", n, buf);
	close(fd);
	return 0;
}
