/* SPDX-License-Identifier: MIT */
/*
 * Code written as JITs do it: through /proc/self/mem into a page mapped
 * PROT_READ|PROT_EXEC (a write through /proc/PID/mem ignores the page's
 * protection, proc(5)). Writes a function returning a constant, calls it,
 * rewrites the constant with pwrite and calls it again; writes data into a
 * read-only page with writev; reads /proc/self/mem back; then writes a
 * variable of a forked child through /proc/CHILD/mem while the child waits
 * on a pipe. Deterministic: the same output natively.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "progs.h"

typedef int (*fn_t)(void);

static volatile long child_value = 7;

/* A child whose child_value its parent rewrites through /proc/CHILD/mem. */
static int
write_child(void)
{
	int go[2], status;
	long v = 123456789;
	char path[64], c;
	pid_t pid;
	int fd;

	if (pipe(go) < 0)
		die("proc_mem_jit: pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("proc_mem_jit: fork: %s", strerror(errno));
	if (pid == 0) {
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		say("proc_mem_jit: the child's variable is %ld\n", child_value);
		_exit(child_value == 123456789 ? 0 : 1);
	}
	close(go[0]);
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || pwrite(fd, &v, sizeof(v), (off_t)(uintptr_t)&child_value) != sizeof(v))
		die("proc_mem_jit: write %s: %s", path, strerror(errno));
	close(fd);
	if (write(go[1], "g", 1) != 1 || waitpid(pid, &status, 0) != pid)
		die("proc_mem_jit: the child: %s", strerror(errno));
	say("proc_mem_jit: the parent's variable is still %ld\n", child_value);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 && child_value == 7 ? 0 : 1;
}

int
main(void)
{
	/* mov $imm32, %eax; ret */
	uint8_t code[] = { 0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3 };
	uint32_t imm = 4242;
	char back[16] = { 0 };
	uint8_t *text, *ro;
	int fd;

	text = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	if (text == MAP_FAILED || ro == MAP_FAILED || fd < 0)
		die("proc_mem_jit: setup: %s", strerror(errno));
	if (lseek(fd, (off_t)(uintptr_t)text, SEEK_SET) < 0 || write(fd, code, sizeof(code)) != sizeof(code))
		die("proc_mem_jit: write code: %s", strerror(errno));
	say("proc_mem_jit: the written function returns %d\n", ((fn_t)text)());
	if (pwrite(fd, &imm, sizeof(imm), (off_t)(uintptr_t)text + 1) != sizeof(imm))
		die("proc_mem_jit: pwrite: %s", strerror(errno));
	say("proc_mem_jit: patched, it returns %d\n", ((fn_t)text)());
	struct iovec iov[2] = { { "read-only ", 10 }, { "page", 5 } };
	if (lseek(fd, (off_t)(uintptr_t)ro + 100, SEEK_SET) < 0 || writev(fd, iov, 2) != 15)
		die("proc_mem_jit: writev: %s", strerror(errno));
	say("proc_mem_jit: the read-only page holds '%s'\n", (const char *)ro + 100);
	if (pread(fd, back, 15, (off_t)(uintptr_t)ro + 100) != 15)
		die("proc_mem_jit: pread: %s", strerror(errno));
	say("proc_mem_jit: read back through /proc/self/mem: '%s'\n", back);
	if (write_child() != 0)
		return 1;
	return ((fn_t)text)() == 4242 && strcmp((const char *)ro + 100, "read-only page") == 0 ? 0 : 1;
}
