/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of tracee_read_maps() against the kernel's /proc/PID/maps
 * (proc(5)) of a child that sleeps (so the maps do not change between
 * reads, as a sanitizer's allocator changes the test's own): every line
 * parsed as sscanf(3) parses it, a file whose name holds blanks, and a
 * deleted file. The child _exit()s when killed.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tracee/tracee.h"

TestSuite(tracee_maps, .timeout = 20);

#define MAPPED_TEMPLATE "/tmp/uprr maps test XXXXXX"
static char mapped_path[sizeof(MAPPED_TEMPLATE)];

/* A child that maps 4 KiB at offset 4096 of a file named with blanks,
 * deleted, and sleeps; its address goes to *ret_addr. */
static pid_t
sleeper(uint64_t *ret_addr)
{
	int pipefd[2], fd;
	uint64_t addr = 0;
	pid_t pid;

	cr_assert_eq(pipe(pipefd), 0);
	memcpy(mapped_path, MAPPED_TEMPLATE, sizeof(MAPPED_TEMPLATE));
	fd = mkstemp(mapped_path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 8192), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		void *a = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 4096);

		addr = a == MAP_FAILED ? 0 : (uint64_t)(uintptr_t)a;
		if (write(pipefd[1], &addr, sizeof(addr)) != sizeof(addr))
			_exit(1);
		for (;;)
			pause();
	}
	close(fd);
	cr_assert_eq(read(pipefd[0], &addr, sizeof(addr)), (ssize_t)sizeof(addr));
	close(pipefd[0]);
	close(pipefd[1]);
	unlink(mapped_path);
	cr_assert_neq(addr, 0);
	*ret_addr = addr;
	return pid;
}

static void
stop_child(pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

/* the reference: the line as sscanf(3) reads it */
static bool
sscanf_line(const char *line, struct tracee_mapping *m)
{
	unsigned major = 0, minor = 0;
	int consumed = 0;

	memset(m, 0, sizeof(*m));
	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %x:%x %" SCNu64 "%n", &m->start,
		   &m->end, m->perms, &m->offset, &major, &minor, &m->ino, &consumed) < 7)
		return false;
	m->dev = makedev(major, minor);
	line += consumed;
	while (*line == ' ')
		line++;
	snprintf(m->path, sizeof(m->path), "%s", line);
	return true;
}

Test(tracee_maps, same_as_sscanf)
{
	struct tracee_mapping *maps = NULL, ref;
	char path[64], *line = NULL;
	size_t n = 0, cap = 0, i = 0;
	uint64_t addr;
	ssize_t len;
	pid_t pid = sleeper(&addr);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	cr_assert_not_null(f);
	cr_assert_eq(tracee_read_maps(pid, &maps, &n), 0);
	cr_assert_gt(n, 5);
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		cr_assert(sscanf_line(line, &ref), "not a maps line: %s", line);
		cr_assert_lt(i, n);
		cr_expect_eq(maps[i].start, ref.start, "%s", line);
		cr_expect_eq(maps[i].end, ref.end, "%s", line);
		cr_expect_eq(maps[i].offset, ref.offset, "%s", line);
		cr_expect_eq(maps[i].dev, ref.dev, "%s", line);
		cr_expect_eq(maps[i].ino, ref.ino, "%s", line);
		cr_expect_str_eq(maps[i].perms, ref.perms, "%s", line);
		cr_expect_str_eq(maps[i].path, ref.path, "%s", line);
		i++;
	}
	cr_expect_eq(i, n);
	fclose(f);
	free(line);
	free(maps);
	stop_child(pid);
}

Test(tracee_maps, blanks_and_deleted)
{
	struct tracee_mapping *maps = NULL;
	bool found = false;
	uint64_t addr;
	size_t n = 0;
	pid_t pid = sleeper(&addr);

	cr_assert_eq(tracee_read_maps(pid, &maps, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (maps[i].start == addr) {
			char want[300];

			snprintf(want, sizeof(want), "%s (deleted)", mapped_path);
			cr_expect_str_eq(maps[i].path, want);
			cr_expect_str_eq(maps[i].perms, "r--p");
			cr_expect_eq(maps[i].offset, 4096);
			cr_expect_neq(maps[i].ino, 0);
			found = true;
		}
	cr_expect(found);
	free(maps);
	stop_child(pid);
}
