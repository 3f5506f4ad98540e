/* SPDX-License-Identifier: MIT */
/*
 * Two processes that map one file MAP_SHARED on their own, as sqlite's WAL
 * index (the -shm file) is mapped by every connection. The file changes
 * between and after the two mmaps through write(2) and ftruncate(2), not
 * only through the mappings:
 *
 *   parent: creates FILE (one page of zeros), maps it, pwrite()s "hello" at
 *           HELLO_AT and forks;
 *   child:  opens FILE by its name and maps it (its mmap sees "hello"),
 *           adds 1 to a counter at offset 0 INCREMENTS times through its own
 *           mapping, and tells the parent;
 *   parent: reads the counter through its mapping (the child's stores),
 *           pwrite()s "world" at WORLD_AT, which the child's mapping shows,
 *           grows the file to two pages, writes the second page and tells
 *           the child;
 *   child:  prints what its mapping shows at WORLD_AT, maps the second page
 *           and prints it, exits;
 *   parent: reaps the child, checks what both saw, removes FILE.
 *
 * Prints each observation and "shared_file: ok" at the end; exits 1 if the
 * mappings did not behave as one file.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "progs.h"

#define PAGE 4096
#define HELLO_AT 100
#define WORLD_AT 200
#define INCREMENTS 1000

static void
pwrite_str(int fd, const char *s, off_t at)
{
	if (pwrite(fd, s, strlen(s), at) != (ssize_t)strlen(s))
		die("shared_file: pwrite: %s", strerror(errno));
}

static char *
map_shared(int fd, size_t len, off_t off)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);

	if (p == MAP_FAILED)
		die("shared_file: mmap: %s", strerror(errno));
	return p;
}

static void
signal_pipe(int fd)
{
	if (write(fd, "x", 1) != 1)
		die("shared_file: write to pipe: %s", strerror(errno));
}

static void
wait_pipe(int fd)
{
	char c;

	if (read(fd, &c, 1) != 1)
		die("shared_file: read from pipe: %s", strerror(errno));
}

static int
child_main(const char *path, int to_parent, int from_parent)
{
	volatile uint32_t *counter;
	char *m, *second;
	int fd;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("shared_file: child: %s: %s", path, strerror(errno));
	m = map_shared(fd, PAGE, 0);
	say("child maps it and sees \"%.5s\" at %d\n", m + HELLO_AT, HELLO_AT);
	counter = (volatile uint32_t *)m;
	for (int i = 0; i < INCREMENTS; i++)
		(*counter)++;
	signal_pipe(to_parent);
	wait_pipe(from_parent);
	say("child sees \"%.5s\" at %d after the parent's pwrite\n", m + WORLD_AT, WORLD_AT);
	second = map_shared(fd, PAGE, PAGE);
	say("child maps the second page: \"%.6s\"\n", second);
	return memcmp(m + HELLO_AT, "hello", 5) == 0 && memcmp(m + WORLD_AT, "world", 5) == 0 &&
			       memcmp(second, "second", 6) == 0
		       ? 0
		       : 1;
}

int
main(int argc, char **argv)
{
	int up[2], down[2], fd, status;
	const char *path;
	uint32_t counter;
	pid_t pid;
	char *m;

	if (argc != 2)
		die("usage: shared_file FILE");
	path = argv[1];
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, PAGE) < 0)
		die("shared_file: %s: %s", path, strerror(errno));
	m = map_shared(fd, PAGE, 0);
	pwrite_str(fd, "hello", HELLO_AT);
	say("parent sees \"%.5s\" at %d after its pwrite\n", m + HELLO_AT, HELLO_AT);
	if (pipe(up) < 0 || pipe(down) < 0)
		die("shared_file: pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("shared_file: fork: %s", strerror(errno));
	if (pid == 0)
		_exit(child_main(path, up[1], down[0]));

	wait_pipe(up[0]);
	counter = *(volatile uint32_t *)m;
	say("parent reads the child's counter: %u\n", counter);
	pwrite_str(fd, "world", WORLD_AT);
	if (ftruncate(fd, 2 * PAGE) < 0)
		die("shared_file: ftruncate: %s", strerror(errno));
	pwrite_str(fd, "second", PAGE);
	signal_pipe(down[1]);
	if (waitpid(pid, &status, 0) != pid)
		die("shared_file: waitpid: %s", strerror(errno));
	say("child exited with %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	unlink(path);
	if (counter != INCREMENTS || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("shared_file: the two mappings were not one file");
	say("shared_file: ok\n");
	return 0;
}
