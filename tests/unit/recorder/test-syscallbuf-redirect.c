/* SPDX-License-Identifier: MIT */
/*
 * The redirect of calls from syscall sites that cannot be patched
 * (recorder/syscallbuf-redirect.c): the library's redirect entry, run in a
 * child that maps the real preload image (no filter, no thread key: the
 * library makes the call itself), returns after the "syscall instruction"
 * with the stack pointer, the red zone and the registers as they were; and
 * the predicate that record and replay share decides from the registers
 * and the address space's list alone.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "preload/uprr-preload.h"
#include "recorder/recorder.h"
#include "trace/trace.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define CANARY 0x5a5a5a5a5a5a5a5aull

/* long redirect_probe(long nr, uint64_t out[6]): enters the redirect entry
 * as the recorder leaves a thread there (rax the number, rcx where to come
 * back), with canaries at the red zone's two ends; out: rsp before and
 * after, the two canaries after, rcx after, rbx after (kept) */
__asm__(".text\n"
	".type redirect_probe, @function\n"
	"redirect_probe:\n\t"
	"push %rbx\n\t"
	"mov $0x1234, %ebx\n\t"
	"mov %rsi, %r8\n\t"
	"mov %rdi, %rax\n\t"
	"movabs $0x5a5a5a5a5a5a5a5a, %r11\n\t"
	"mov %r11, -8(%rsp)\n\t"
	"mov %r11, -128(%rsp)\n\t"
	"mov %rsp, (%r8)\n\t"
	"lea 1f(%rip), %rcx\n\t"
	"mov $" "0x6d000010" ", %r11d\n\t"
	"jmp *%r11\n"
	"1:\n\t"
	"mov %rsp, 8(%r8)\n\t"
	"mov -8(%rsp), %r11\n\t"
	"mov %r11, 16(%r8)\n\t"
	"mov -128(%rsp), %r11\n\t"
	"mov %r11, 24(%r8)\n\t"
	"mov %rcx, 32(%r8)\n\t"
	"mov %rbx, 40(%r8)\n\t"
	"pop %rbx\n\t"
	"ret\n"
	".size redirect_probe, .-redirect_probe\n");
long redirect_probe(long nr, uint64_t out[6]);

Test(syscallbuf_redirect, entry)
{
	pid_t pid;
	int status;

	cr_assert_eq(UPRR_PRELOAD_ADDR + UPRR_PRELOAD_ENTRY_REDIRECT, 0x6d000010ull, "redirect_probe's address");
	cr_assert(rec_preload_image[UPRR_PRELOAD_ENTRY_REDIRECT] == 0xe9 ||
		  rec_preload_image[UPRR_PRELOAD_ENTRY_REDIRECT] == 0xeb, "the redirect entry is a jmp");
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		uint64_t out[6] = { 0 };
		void *at = mmap((void *)UPRR_PRELOAD_ADDR, UPRR_PRELOAD_CODE_SIZE + UPRR_PRELOAD_CTL_SIZE,
				PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		long ret;

		if (at != (void *)UPRR_PRELOAD_ADDR)
			_exit(10);
		/* the control page stays 0: no thread key, the library makes
		 * the call on its traced path, here a plain syscall */
		memcpy(at, rec_preload_image, rec_preload_image_len);
		if (mprotect(at, UPRR_PRELOAD_CODE_SIZE, PROT_READ | PROT_EXEC) < 0)
			_exit(11);
		ret = redirect_probe(SYS_getpid, out);
		if (ret != getpid())
			_exit(12);
		if (out[0] != out[1])
			_exit(13); /* the stack pointer moved */
		if (out[2] != CANARY || out[3] != CANARY)
			_exit(14); /* the red zone was written */
		if (out[4] != 0)
			_exit(15); /* rcx as in replay */
		if (out[5] != 0x1234)
			_exit(16); /* a register the syscall keeps */
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "the child died of signal %d", WTERMSIG(status));
	cr_assert_eq(WEXITSTATUS(status), 0, "check %d failed", WEXITSTATUS(status));
}

/* A seccomp stop of syscall @nr made by the syscall instruction at @site */
static struct user_regs_struct
stop_at(uint64_t site, long nr)
{
	struct user_regs_struct regs = { 0 };

	regs.orig_rax = (uint64_t)nr;
	regs.rip = site + 2;
	regs.rcx = site + 2;
	regs.fs_base = 0x7ffff7d8a740;
	return regs;
}

Test(syscallbuf_redirect, predicate)
{
	struct rec_space sp = { .memfd = -1, .syscallbuf = true };
	struct user_regs_struct regs = stop_at(0x401000, SYS_getpid), other;
	bool fsgsbase = rec_syscallbuf_machine_flags() & UPRR_CTL_FSGSBASE;
	struct trace_event ev = { .type = TRACE_EV_SITE_PATCH, .nvalues = 4, .has_regs = true };

	cr_assert_not(rec_syscallbuf_redirected(&sp, &regs), "not before the site's first redirect");
	/* a patch with bytes (a stub) adds nothing */
	memcpy(ev.regs, &regs, sizeof(regs));
	ev.values[0] = SYS_getpid;
	ev.values[3] = 0x401000;
	ev.nblobs = 2;
	cr_assert_eq(rec_syscallbuf_note_patch(&sp, &ev), 0);
	cr_assert_eq(sp.nredirects, 0);
	ev.nblobs = 0;
	ev.values[3] = UPRR_PRELOAD_ADDR + UPRR_PRELOAD_ENTRY_REDIRECT;
	cr_assert_eq(rec_syscallbuf_note_patch(&sp, &ev), 0);
	cr_assert_eq(rec_syscallbuf_note_patch(&sp, &ev), 0);
	cr_assert_eq(sp.nredirects, 1, "a site once");
	cr_assert_eq(sp.redirects[0], 0x401000);
	cr_assert_eq(rec_syscallbuf_redirected(&sp, &regs), fsgsbase, "a call the buffer takes from the site");
	other = stop_at(0x401000, SYS_getppid);
	cr_assert_not(rec_syscallbuf_redirected(&sp, &other), "a call the buffer does not take");
	other = stop_at(0x401010, SYS_getpid);
	cr_assert_not(rec_syscallbuf_redirected(&sp, &other), "another site");
	other = regs;
	other.fs_base = 0;
	cr_assert_not(rec_syscallbuf_redirected(&sp, &other), "no thread key");
	other = regs;
	other.rcx = 0;
	cr_assert_not(rec_syscallbuf_redirected(&sp, &other), "not the syscall instruction's rcx");
	sp.syscallbuf_off = true;
	cr_assert_not(rec_syscallbuf_redirected(&sp, &regs), "the buffer turned off");
	sp.syscallbuf_off = false;
	sp.syscallbuf = false;
	cr_assert_not(rec_syscallbuf_redirected(&sp, &regs), "no buffer");
	free(sp.redirects);
}
