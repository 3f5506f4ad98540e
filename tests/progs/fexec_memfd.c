/* SPDX-License-Identifier: MIT */
/*
 * fexecve(3) of a memfd: copies its own executable into a memfd and execs it
 * from there (execveat(fd, "", argv, envp, AT_EMPTY_PATH)); the new image
 * says where it runs from. Deterministic: the same output natively.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>

#include "progs.h"

extern char **environ;

int
main(int argc, char **argv)
{
	char exe[256];
	struct stat st;
	ssize_t n;
	int src, fd;

	if (argc > 2 && strcmp(argv[1], "child") == 0) {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		exe[n > 0 ? n : 0] = '\0';
		say("fexec_memfd: the new image runs (%s), from a memfd: %s\n", argv[2],
		    strncmp(exe, "/memfd:fexec-test", 17) == 0 ? "yes" : "no");
		return 0;
	}
	src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	fd = memfd_create("fexec-test", MFD_CLOEXEC);
	if (src < 0 || fd < 0 || fstat(src, &st) < 0)
		die("fexec_memfd: setup: %s", strerror(errno));
	for (off_t off = 0; off < st.st_size;)
		if (sendfile(fd, src, &off, st.st_size - off) <= 0)
			die("fexec_memfd: copy: %s", strerror(errno));
	close(src);
	say("fexec_memfd: copied %lld bytes into a memfd\n", (long long)st.st_size);
	char *args[] = { argv[0], "child", "hello", NULL };
	fexecve(fd, args, environ);
	die("fexec_memfd: fexecve: %s", strerror(errno));
}
