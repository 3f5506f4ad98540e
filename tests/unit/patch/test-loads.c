/* SPDX-License-Identifier: MIT */
/*
 * arch_first_branch() and arch_code_loads() (x86_64/loads.c) on hand-encoded
 * spin loops: what a loop reads, at the addresses its registers give.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "x86_64/arch.h"

TestSuite(loads, .timeout = 10);

/* gcc -O2's `while (atomic_load(word) != want && ...)` (tests/progs/spin_handoff):
 *	0x1000: sub rax, 1
 *	0x1004: je 0x1020
 *	0x1006: mov edx, [rip + 0x2c6c]
 *	0x100c: test edx, edx
 *	0x100e: jne 0x1020
 *	0x1010: mov edx, [rdi]
 *	0x1012: cmp edx, esi
 *	0x1014: jne 0x1000 */
static const uint8_t g_loop[] = {
	0x48, 0x83, 0xe8, 0x01, 0x74, 0x1a, 0x8b, 0x15, 0x6c, 0x2c, 0x00, 0x00, 0x85, 0xd2,
	0x75, 0x10, 0x8b, 0x17, 0x39, 0xf2, 0x75, 0xea,
};

Test(loads, spin_loop_reads_its_flag_and_its_word)
{
	struct user_regs_struct regs = { .rdi = 0x5000, .rsi = 7 };
	struct arch_load l[4];
	size_t n;

	n = arch_code_loads(g_loop, sizeof(g_loop), 0x1000, 0, &regs, l, 4);
	cr_assert_eq(n, 2, "two reads, got %zu", n);
	cr_assert_eq(l[0].addr, 0x100c + 0x2c6c, "rip-relative: after the instruction");
	cr_assert_eq(l[0].size, 4);
	cr_assert_eq(l[1].addr, 0x5000, "[rdi]");
	cr_assert_eq(l[1].size, 4);
	cr_assert_eq(arch_code_loads(g_loop, sizeof(g_loop), 0x1000, 0, &regs, l, 1), 1, "@max");
}

Test(loads, stops_at_the_jmp_to_a_stub_and_at_int3)
{
	/* mov rax, [rbx + rcx*8 + 16]; jmp 0x2000 (the stub); mov rdx, [rsi]; int3 */
	static const uint8_t code[] = { 0x48, 0x8b, 0x44, 0xcb, 0x10, 0xe9, 0xf6, 0x0f, 0x00, 0x00,
					0x48, 0x8b, 0x16, 0xcc, 0x48, 0x8b, 0x16 };
	struct user_regs_struct regs = { .rbx = 0x100, .rcx = 2, .rsi = 0x9000 };
	struct arch_load l[4];

	cr_assert_eq(arch_code_loads(code, sizeof(code), 0x1000, 0x2000, &regs, l, 4), 1);
	cr_assert_eq(l[0].addr, 0x100 + 2 * 8 + 16);
	cr_assert_eq(l[0].size, 8);
	cr_assert_eq(arch_code_loads(code, sizeof(code), 0x1000, 0, &regs, l, 4), 2,
		     "no stub: on to the int3");
	cr_assert_eq(l[1].addr, 0x9000);
}

Test(loads, lea_and_writes_are_no_reads)
{
	/* lea rax, [rdi + 8]; mov [rdi], eax; pause */
	static const uint8_t code[] = { 0x48, 0x8d, 0x47, 0x08, 0x89, 0x07, 0xf3, 0x90 };
	struct user_regs_struct regs = { .rdi = 0x5000 };
	struct arch_load l[4];

	cr_assert_eq(arch_code_loads(code, sizeof(code), 0x1000, 0, &regs, l, 4), 0);
}

Test(loads, first_branch_skips_calls)
{
	/* call 0x3000; mov edx, [rdi]; jne 0x1000 */
	static const uint8_t code[] = { 0xe8, 0xfb, 0x1f, 0x00, 0x00, 0x8b, 0x17, 0x75, 0xf7 };
	uint64_t at = 0, target = 0;

	cr_assert_eq(arch_first_branch(code, sizeof(code), 0x1000, &at, &target), 0);
	cr_assert_eq(at, 0x1007);
	cr_assert_eq(target, 0x1000);
	cr_assert_eq(arch_first_branch(code, 5, 0x1000, &at, &target), -ENOENT, "only a call");
}
