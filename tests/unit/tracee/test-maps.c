/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of tracee_read_maps() against the kernel's /proc/PID/maps
 * (proc(5)): every line parsed as sscanf(3) parses it, a file whose name
 * holds blanks, and a deleted file.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "tracee/tracee.h"

TestSuite(tracee_maps, .timeout = 20);

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

static void
check_against_sscanf(void)
{
	struct tracee_mapping *maps = NULL, ref;
	char *line = NULL;
	size_t n = 0, cap = 0, i = 0;
	ssize_t len;
	FILE *f;

	/* the same mappings twice: nothing maps or unmaps in between (stdio's
	 * buffer is allocated before the first read), the heap may grow */
	f = fopen("/proc/self/maps", "re");
	cr_assert_not_null(f);
	cr_assert_eq(getline(&line, &cap, f) > 0, true);
	rewind(f);
	cr_assert_eq(tracee_read_maps(getpid(), &maps, &n), 0);
	cr_assert_gt(n, 5);
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		cr_assert(sscanf_line(line, &ref), "not a maps line: %s", line);
		cr_assert_lt(i, n);
		cr_expect_eq(maps[i].start, ref.start, "%s", line);
		/* the heap may grow between the reads (malloc) */
		if (strcmp(ref.path, "[heap]") != 0)
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
}

Test(tracee_maps, same_as_sscanf)
{
	check_against_sscanf();
}

Test(tracee_maps, blanks_and_deleted)
{
	char path[] = "/tmp/uprr maps test XXXXXX";
	struct tracee_mapping *maps = NULL;
	bool found = false;
	size_t n = 0;
	void *a;
	int fd;

	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 8192), 0);
	a = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 4096);
	cr_assert_neq(a, MAP_FAILED);
	unlink(path);
	check_against_sscanf();
	cr_assert_eq(tracee_read_maps(getpid(), &maps, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (maps[i].start == (uint64_t)(uintptr_t)a) {
			char want[300];

			snprintf(want, sizeof(want), "%s (deleted)", path);
			cr_expect_str_eq(maps[i].path, want);
			cr_expect_str_eq(maps[i].perms, "r--p");
			cr_expect_eq(maps[i].offset, 4096);
			cr_expect_neq(maps[i].ino, 0);
			found = true;
		}
	cr_expect(found);
	free(maps);
	munmap(a, 4096);
	close(fd);
}
