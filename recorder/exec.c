/* SPDX-License-Identifier: MIT */
/*
 * What the recorder does at an exec stop, before the program's first
 * instruction (the dynamic loader's entry point).
 */
#define LOG_PREFIX "exec"
#include <elf.h>
#include <errno.h>

#include "common/log.h"
#include "recorder/record-private.h"
#include "tracee/tracee.h"

/*
 * The initial stack (System V x86-64 ABI, 3.4.1): argc, argv[], NULL,
 * envp[], NULL, then auxv pairs up to AT_NULL.
 */
static int
hide_vdso(pid_t pid, int memfd, uint64_t sp)
{
	uint64_t argc, word, addr;
	int r;

	r = tracee_read(pid, sp, &argc, sizeof(argc));
	if (r < 0)
		return r;
	addr = sp + 8 * (argc + 2);
	for (;;) { /* skip envp */
		r = tracee_read(pid, addr, &word, sizeof(word));
		if (r < 0)
			return r;
		addr += 8;
		if (!word)
			break;
	}
	for (int i = 0; i < 64; i++, addr += 16) {
		uint64_t pair[2];

		r = tracee_read(pid, addr, pair, sizeof(pair));
		if (r < 0)
			return r;
		if (pair[0] == AT_NULL)
			return 0;
		if (pair[0] == AT_SYSINFO_EHDR) {
			uint64_t ignore = AT_IGNORE;

			return tracee_write(memfd, addr, &ignore, sizeof(ignore));
		}
	}
	return -EINVAL;
}

int
rec_exec_prepare(pid_t pid, int memfd, struct user_regs_struct *ret_regs,
		 uint64_t *ret_stack_end, char **ret_layout)
{
	struct user_regs_struct regs;
	uint64_t stack_end;
	char *layout;
	int r;

	r = tracee_get_regs(pid, &regs);
	if (r < 0)
		return r;
	r = hide_vdso(pid, memfd, regs.rsp);
	if (r < 0)
		return r;
	r = tracee_maps_layout(pid, &layout, &stack_end);
	if (r < 0)
		return r;
	if (stack_end <= regs.rsp || stack_end - regs.rsp > (1u << 24)) {
		free(layout);
		return -EINVAL;
	}
	*ret_regs = regs;
	*ret_stack_end = stack_end;
	*ret_layout = layout;
	return 0;
}
