/* SPDX-License-Identifier: MIT */
/*
 * The fixed part of the preload image: its entry table and the untraced
 * syscall instruction, at the offsets preload/uprr-preload.h names (the
 * supervisor's seccomp filter allows a syscall made from there by its
 * address). See doc/syscall-buffer.md.
 */
#include "preload/uprr-preload.h"

	.section .text.entry, "ax", @progbits
	.hidden uprr_syscall
	.hidden uprr_stub

	/* UPRR_PRELOAD_ENTRY_SYSCALL */
	.org UPRR_PRELOAD_ENTRY_SYSCALL
	jmp uprr_syscall

	/* UPRR_PRELOAD_UNTRACED_OFF: allowed by the filter, never traced */
	.org UPRR_PRELOAD_UNTRACED_OFF
untraced_syscall:
	syscall
	ret

	/*
	 * The stub every buffered call goes through: rax and the argument
	 * registers of a syscall, r12 the address of the record's result.
	 * Recording makes the call; replay (ctl.replay) returns the recorded
	 * result instead. Both run one conditional branch and nothing else
	 * that differs: PMU ticks, which count library code too, stay equal.
	 */
	.org 0x50
	.globl uprr_stub
uprr_stub:
	cmpl $0, UPRR_PRELOAD_CTL_ADDR + 8 /* ctl.replay */
	jne 1f
	jmp untraced_syscall
1:	movq (%r12), %rax
	ret
	.section .note.GNU-stack, "", @progbits
