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
	.hidden uprr_stub_inout

	/* UPRR_PRELOAD_ENTRY_SYSCALL */
	.org UPRR_PRELOAD_ENTRY_SYSCALL
	jmp c_entry

	/* UPRR_PRELOAD_ENTRY_SYSCALL_ABI: for patched syscall sites */
	.org UPRR_PRELOAD_ENTRY_SYSCALL_ABI
	jmp syscall_abi_entry

	/* UPRR_PRELOAD_UNTRACED_OFF: allowed by the filter, never traced */
	.org UPRR_PRELOAD_UNTRACED_OFF
untraced_syscall:
	syscall
	/* rcx and r11 as in replay, where no syscall sets them (rip and
	 * rflags): execution points compare every register */
	xor %ecx, %ecx
	xor %r11d, %r11d
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
	xor %ecx, %ecx
	xor %r11d, %r11d
	ret

	/*
	 * A patched syscall site's stub calls here (with the red zone below
	 * the stack pointer skipped) with the syscall's registers: rax the
	 * number, rdi, rsi, rdx, r10, r8, r9 the arguments. Returns the
	 * result in rax and, as the syscall instruction does, keeps every
	 * other register but rcx and r11 (and the flags, which no code keeps
	 * live across a syscall). The stack pointer may be unaligned.
	 */
	/* the C entry: uprr_syscall() with rcx and r11 cleared on the way
	 * out; its seventh argument (a5) passed on */
c_entry:
	pushq 8(%rsp)
	call uprr_syscall
	add $8, %rsp
	xor %ecx, %ecx
	xor %r11d, %r11d
	ret

syscall_abi_entry:
	push %rbp
	mov %rsp, %rbp
	push %rdi
	push %rsi
	push %rdx
	push %r10
	push %r8
	push %r9
	and $-16, %rsp
	sub $8, %rsp
	push %r9		/* a5, on the stack */
	mov %r8, %r9		/* a4 */
	mov %r10, %r8		/* a3 */
	mov %rdx, %rcx		/* a2 */
	mov %rsi, %rdx		/* a1 */
	mov %rdi, %rsi		/* a0 */
	mov %rax, %rdi		/* nr */
	call uprr_syscall
	xor %ecx, %ecx		/* whatever the library left: the same in replay */
	xor %r11d, %r11d
	lea -48(%rbp), %rsp
	pop %r9
	pop %r8
	pop %r10
	pop %rdx
	pop %rsi
	pop %rdi
	pop %rbp
	ret

	/*
	 * uprr_stub with one more thing on the recording side: r14d stored
	 * at (%r13) before the call, an input the kernel reads and then
	 * overwrites with its output (recvmsg's msg_namelen, in the record).
	 * In replay that word keeps the recorded output. Still one
	 * conditional branch either way.
	 */
	.globl uprr_stub_inout
uprr_stub_inout:
	cmpl $0, UPRR_PRELOAD_CTL_ADDR + 8 /* ctl.replay */
	jne 1f
	movl %r14d, (%r13)
	jmp untraced_syscall
1:	movq (%r12), %rax
	xor %ecx, %ecx
	xor %r11d, %r11d
	ret

	.section .note.GNU-stack, "", @progbits
