/* SPDX-License-Identifier: MIT */
/*
 * The recorded vDSO in a replayed process (see recorder/vdso.c): the program
 * reads and runs the vDSO it finds through AT_SYSINFO_EHDR, so its bytes must
 * be the recorded ones, not this kernel's.
 */
#define LOG_PREFIX "replay"
#include <asm/unistd.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "replay/replay-private.h"
#include "tracee/tracee.h"

/* The value of auxv entry @type in the recorded initial stack @stack (System
 * V x86-64 ABI 3.4.1: argc, argv[], NULL, envp[], NULL, auxv pairs up to
 * AT_NULL), or 0. */
static uint64_t
auxv_value(const struct trace_blob *stack, uint64_t type)
{
	const uint8_t *p = stack->data;
	size_t n = stack->len / 8, i;
	uint64_t argc, w;

	if (n < 1)
		return 0;
	memcpy(&argc, p, 8);
	i = 1 + argc + 1;
	for (; i < n; i++) { /* envp */
		memcpy(&w, p + 8 * i, 8);
		if (!w)
			break;
	}
	for (i++; i + 1 < n; i += 2) {
		uint64_t pair[2];

		memcpy(pair, p + 8 * i, 16);
		if (pair[0] == AT_NULL)
			break;
		if (pair[0] == type)
			return pair[1];
	}
	return 0;
}

int
replay_vdso_restore(pid_t pid, int memfd, const struct tracee_mapping *maps, size_t n,
		    const char *copy, const struct trace_blob *stack, char *why, size_t len)
{
	_cleanup_free_ uint8_t *image = NULL;
	_cleanup_close_ int fd = -1;
	uint64_t at = auxv_value(stack, AT_SYSINFO_EHDR), start = 0, end = 0, size;
	long page = sysconf(_SC_PAGESIZE);
	struct stat st;
	int r;

	fd = open(copy, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return snprintf(why, len, "cannot read the recorded vDSO %s", copy), -errno;
	size = (uint64_t)st.st_size;
	if (!at || at % (uint64_t)page || !size || size > (1u << 24))
		return snprintf(why, len, "the recorded auxv names no vDSO"), -EINVAL;
	image = calloc(1, size);
	if (!image)
		return -ENOMEM;
	if (pread(fd, image, size, 0) != (ssize_t)size)
		return snprintf(why, len, "cannot read the recorded vDSO %s", copy), -EIO;
	for (size_t i = 0; i < n; i++)
		if (strcmp(maps[i].path, "[vdso]") == 0) {
			start = maps[i].start;
			end = maps[i].end;
		}
	/* The program runs the recorded code, reading it from where the
	 * recorded auxv says; this kernel's vDSO must be there and hold it
	 * (same kernel, or one whose vDSO lies at the same address and is no
	 * smaller). Moving it elsewhere would need syscalls injected at the exec
	 * stop, where the execve's return overwrites rax: not done. */
	if (start != at || end - start < size)
		return snprintf(why, len, "this kernel's vDSO (%" PRIu64 " bytes at 0x%" PRIx64
				") cannot hold the recorded one (%" PRIu64 " bytes at 0x%" PRIx64
				"): replay on a machine with the recording's kernel",
				end - start, start, size, at), -EXDEV;
	/* a ptrace write to the vDSO (VM_MAYWRITE) gives the process its own
	 * copy of the pages; the rest of a larger vDSO is zeroed */
	r = tracee_write(memfd, at, image, size);
	for (uint64_t off = size; r >= 0 && off < end - start; off += (uint64_t)page) {
		static const uint8_t zero[4096];

		r = tracee_write(memfd, at + off, zero, MIN(sizeof(zero), end - start - off));
	}
	if (r < 0)
		return snprintf(why, len, "cannot write the recorded vDSO: %s", strerror(-r)), r;
	return 0;
}
