/* SPDX-License-Identifier: MIT */
/*
 * The fixed part of the preload image: its entry table and the untraced
 * syscall instruction, at the offsets preload/uprr-preload.h names (the
 * supervisor's seccomp filter allows a syscall made from there by its
 * address). See doc/syscall-buffer.md.
 */
#include "preload/uprr-preload.h"

	/*
	 * Zero the UPRR_PRELOAD_STACK_SCRUB bytes under the stack pointer,
	 * the library's frames of the call that returned: its paths differ
	 * between the TP run (record mode), an EP run and replay (replay
	 * mode, or the traced call where the run had buffered it), and what
	 * they left there is what the program's later frames find in slots
	 * they do not write (ep_threads: say()'s buffer past its string held
	 * openat's saved arguments in one run and snprintf's FILE in the
	 * other, a false divergence of the EP run's check). The same range
	 * whatever the path: both runs leave zeros. Only with UPRR_CTL_SCRUB
	 * (a TP run, an EP run, their replay: the same branch in each). rax
	 * (the result) kept, rcx, rdi and r11 clobbered, the flags (the
	 * direction) kept.
	 */
	.macro SCRUB_STACK
	testl $UPRR_CTL_SCRUB, UPRR_PRELOAD_CTL_ADDR + UPRR_CTL_FLAGS_OFF
	jz 1f
	pushfq
	mov %rax, %r11
	xor %eax, %eax
	lea -(UPRR_PRELOAD_STACK_SCRUB)(%rsp), %rdi
	mov $(UPRR_PRELOAD_STACK_SCRUB / 8), %ecx
	cld
	rep stosq
	mov %r11, %rax
	popfq
	movq $0, -8(%rsp)	/* the flags of the library's path */
1:
	.endm

	.section .text.entry, "ax", @progbits
	.hidden uprr_syscall
	.hidden uprr_stub
	.hidden uprr_notify
	.hidden uprr_untraced
	.hidden uprr_traced_call

	/* UPRR_PRELOAD_ENTRY_SYSCALL */
	.org UPRR_PRELOAD_ENTRY_SYSCALL
	jmp c_entry

	/* UPRR_PRELOAD_ENTRY_SYSCALL_ABI: for patched syscall sites */
	.org UPRR_PRELOAD_ENTRY_SYSCALL_ABI
	jmp syscall_abi_entry

	/* UPRR_PRELOAD_ENTRY_REDIRECT: for sites that could not be patched */
	.org UPRR_PRELOAD_ENTRY_REDIRECT
	jmp redirect_entry

	/* UPRR_PRELOAD_UNTRACED_OFF: allowed by the filter, never traced */
	.org UPRR_PRELOAD_UNTRACED_OFF
	.globl uprr_untraced
uprr_untraced:
untraced_syscall:
	syscall
	/* rcx and r11 as in replay, where no syscall sets them (rip and
	 * rflags): execution points compare every register */
	xor %ecx, %ecx
	xor %r11d, %r11d
	ret

	/*
	 * The stub every buffered call goes through: rax and the argument
	 * registers of a syscall, r12 the address of the record's result,
	 * r13 the thread's buffer. Recording makes the call; replay
	 * (ctl.replay) and a re-run after a rollback (the buffer's replay)
	 * return the recorded result instead. Both run one conditional branch
	 * and nothing else that differs: PMU ticks, which count library code
	 * too, stay equal. ecx is free: the syscall clobbers it.
	 */
	.org 0x50
	.globl uprr_stub
uprr_stub:
	movl UPRR_PRELOAD_CTL_ADDR + 8, %ecx /* ctl.replay */
	orl UPRR_BUF_REPLAY_OFF(%r13), %ecx /* buf->replay */
	jne 1f
	jmp untraced_syscall
1:	movq (%r12), %rax
	xor %ecx, %ecx
	xor %r11d, %r11d
	ret

	/*
	 * long uprr_traced_call(long nr, long a0, ..., long a5): a syscall
	 * the supervisor traces, with every register that is not an argument
	 * zeroed (the callee-saved ones kept on the stack): the library's own
	 * values in them may differ between recording and replay (what the
	 * buffer's head holds), and the seccomp stop shows every register.
	 * The flags as replay has them whichever way led here (popfq leaves
	 * IF alone in user mode); the kernel shows them in r11.
	 */
	.globl uprr_traced_call
uprr_traced_call:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rdi, %rax
	mov %rsi, %rdi
	mov %rdx, %rsi
	mov %rcx, %rdx
	mov %r8, %r10
	mov %r9, %r8
	mov 56(%rsp), %r9
	xor %ebx, %ebx
	xor %ebp, %ebp
	xor %r12d, %r12d
	xor %r13d, %r13d
	xor %r14d, %r14d
	xor %r15d, %r15d
	xor %ecx, %ecx
	xor %r11d, %r11d
	pushq $0x202
	popfq
	syscall
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	/* the saved values off the stack too, which becomes the program's
	 * when the library returns: one it reads uninitialised must be the
	 * same in replay */
	movq $0, -8(%rsp)
	movq $0, -16(%rsp)
	movq $0, -24(%rsp)
	movq $0, -32(%rsp)
	movq $0, -40(%rsp)
	movq $0, -48(%rsp)
	ret

	/*
	 * The notify call (UPRR_NOTIFY_NR), traced: a re-run consumed its
	 * records. Keeps every register and the flags, so that the code
	 * after it sees what replay, which never makes it, sees.
	 */
	.globl uprr_notify
uprr_notify:
	pushfq
	push %rax
	push %rcx
	push %r11
	mov $UPRR_NOTIFY_NR, %eax
	syscall
	pop %r11
	pop %rcx
	pop %rax
	popfq
	ret

	/*
	 * A patched syscall site's stub calls here (with the red zone below
	 * the stack pointer skipped) with the syscall's registers: rax the
	 * number, rdi, rsi, rdx, r10, r8, r9 the arguments. Returns the
	 * result in rax and, as the syscall instruction does, keeps every
	 * other register but rcx and r11 (and the flags, which no code keeps
	 * live across a syscall). The stack pointer may be unaligned.
	 */
	/* the C entry: uprr_syscall() with the scratch registers cleared on
	 * the way out; its seventh argument (a5) passed on */
c_entry:
	pushq 8(%rsp)
	call uprr_syscall
	add $8, %rsp
	SCRUB_STACK
	/* the scratch registers the caller may not rely on (System V ABI):
	 * cleared, so that no path through the library (a re-run's notify
	 * call, which replay never makes) shows in them */
	xor %ecx, %ecx
	xor %r11d, %r11d
	xor %edx, %edx
	xor %esi, %esi
	xor %edi, %edi
	xor %r8d, %r8d
	xor %r9d, %r9d
	xor %r10d, %r10d
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
	SCRUB_STACK
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
	 * A thread the recorder sent here from the seccomp stop of a syscall
	 * instruction it could not patch: the syscall's registers, rcx the
	 * address after that instruction. As a patched site's stub: the red
	 * zone skipped, the syscall-ABI entry (which clears rcx and r11, as in
	 * replay), then back with the stack pointer as it was (ret pops the
	 * address, then the 128 bytes).
	 */
redirect_entry:
	lea -128(%rsp), %rsp
	push %rcx
	call syscall_abi_entry
	ret $128

	.section .note.GNU-stack, "", @progbits
