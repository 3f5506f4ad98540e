/* SPDX-License-Identifier: MIT */
/*
 * x86-64 specifics: the syscall calling convention in user_regs_struct
 * (syscall(2): nr in orig_rax, args in rdi rsi rdx r10 r8 r9, result in rax),
 * instruction decoding of trapped instructions (capstone), CPU identity.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/user.h>
#include <ucontext.h>

#include "common/util.h"

/** Length of the `syscall` instruction (0f 05). */
#define ARCH_SYSCALL_INSN_LEN 2

/** Whether the ARCH_SYSCALL_INSN_LEN bytes at @code are a `syscall` instruction. */
static inline bool
arch_is_syscall_insn(const uint8_t code[ARCH_SYSCALL_INSN_LEN])
{
	return code[0] == 0x0f && code[1] == 0x05;
}

/**
 * Offset from a handler's rsp at its first instruction to the signal mask
 * that rt_sigreturn(2) restores, in bytes: the frame is struct rt_sigframe
 * (arch/x86/include/asm/sigframe.h), a return address then struct ucontext,
 * whose uc_sigmask is where glibc's ucontext_t has it.
 */
#define ARCH_SIGFRAME_MASK_OFFSET (8 + offsetof(ucontext_t, uc_sigmask))
_Static_assert(ARCH_SIGFRAME_MASK_OFFSET == 304, "struct rt_sigframe layout (Linux 2.6.x to 6.x)");

/**
 * Offsets from a handler's rsp at its first instruction (struct
 * rt_sigframe, as above) to the interrupted context's saved rsp, rip and
 * cs/gs/fs/ss word (struct sigcontext in uc_mcontext, which glibc's gregs
 * mirror), in bytes: what rt_sigreturn(2) restores.
 */
#define ARCH_SIGFRAME_RSP_OFFSET (8 + offsetof(ucontext_t, uc_mcontext.gregs[REG_RSP]))
#define ARCH_SIGFRAME_RIP_OFFSET (8 + offsetof(ucontext_t, uc_mcontext.gregs[REG_RIP]))
#define ARCH_SIGFRAME_CSGSFS_OFFSET (8 + offsetof(ucontext_t, uc_mcontext.gregs[REG_CSGSFS]))
_Static_assert(ARCH_SIGFRAME_RIP_OFFSET == 176, "struct rt_sigframe layout (Linux 2.6.x to 6.x)");
/** The user code segment of a 64-bit process (__USER_CS), the low 16 bits of
 * the cs/gs/fs/ss word. */
#define ARCH_USER_CS 0x33

/**
 * For a tracee at a seccomp stop: skip the syscall now (orig_rax = -1,
 * seccomp(2)) and put it back on the `syscall` instruction with its number
 * in rax, so that it issues the same syscall again when it next runs.
 */
static inline void
arch_rewind_syscall(struct user_regs_struct *r)
{
	r->rax = r->orig_rax;
	r->orig_rax = (unsigned long long)-1;
	r->rip -= ARCH_SYSCALL_INSN_LEN;
}

/** Length of the code arch_syscall_stub() and arch_error_stub() write. */
#define ARCH_STUB_LEN 8

/**
 * Code that makes a function issue syscall @nr with the arguments it was
 * called with (the System V function ABI passes the first three in rdi rsi
 * rdx, as the syscall ABI does; rcx and r11, which `syscall` clobbers, are
 * caller-saved) and return its result: `mov $nr,%eax; syscall; ret`.
 */
static inline void
arch_syscall_stub(uint8_t code[ARCH_STUB_LEN], uint32_t nr)
{
	code[0] = 0xb8;
	for (int i = 0; i < 4; i++)
		code[1 + i] = (uint8_t)(nr >> (8 * i));
	code[5] = 0x0f;
	code[6] = 0x05;
	code[7] = 0xc3;
}

/** Code that makes a function return -@err at once: `mov $-err,%rax; ret`. */
static inline void
arch_error_stub(uint8_t code[ARCH_STUB_LEN], int err)
{
	uint32_t imm = (uint32_t)-err;

	code[0] = 0x48;
	code[1] = 0xc7;
	code[2] = 0xc0;
	for (int i = 0; i < 4; i++)
		code[3 + i] = (uint8_t)(imm >> (8 * i));
	code[7] = 0xc3;
}

/** Syscall argument @i (0..5) of a tracee stopped at syscall entry. */
static inline uint64_t
arch_syscall_arg(const struct user_regs_struct *r, int i)
{
	switch (i) {
	case 0: return r->rdi;
	case 1: return r->rsi;
	case 2: return r->rdx;
	case 3: return r->r10;
	case 4: return r->r8;
	default: return r->r9;
	}
}

/** Set syscall argument @i (0..5). */
static inline void
arch_set_syscall_arg(struct user_regs_struct *r, int i, uint64_t v)
{
	switch (i) {
	case 0: r->rdi = v; break;
	case 1: r->rsi = v; break;
	case 2: r->rdx = v; break;
	case 3: r->r10 = v; break;
	case 4: r->r8 = v; break;
	default: r->r9 = v; break;
	}
}

/** Instructions uprr traps and emulates. */
enum arch_trapped_insn {
	ARCH_INSN_NONE = 0,   /**< not one we emulate */
	ARCH_INSN_RDTSC = 1,  /**< rdtsc: edx:eax = TSC */
	ARCH_INSN_RDTSCP = 2, /**< rdtscp: edx:eax = TSC, ecx = TSC_AUX */
};

/**
 * Decode the instruction at the start of @code (@len bytes) with capstone.
 * Stores its kind in *ret_kind and its length in *ret_len.
 * Returns 0, or -EINVAL if the bytes do not decode.
 */
int arch_decode_trapped(const uint8_t *code, size_t len, enum arch_trapped_insn *ret_kind,
			unsigned *ret_len) _wur_;

/** Execute rdtscp in the supervisor: returns the TSC, stores TSC_AUX in *ret_aux. */
uint64_t arch_rdtscp(uint32_t *ret_aux);

/**
 * The CPU's vendor string (cpuid leaf 0, 13 bytes with NUL) and the feature
 * words uprr compares between record and replay machines (cpuid 1 ecx,edx;
 * 7.0 ebx,ecx,edx; 0xd.1 eax; 0x80000001 ecx,edx).
 */
void arch_cpu_identity(char vendor[16], uint32_t features[8]);

/**
 * Bytes a buffer needs for the whole XSAVE area of a thread (PTRACE_GETREGSET
 * NT_X86_XSTATE): the largest size cpuid leaf 0xd sub-leaf 0 reports (Intel
 * SDM vol. 1, 13.2), at least 4 KiB. PTRACE_SETREGSET takes back only a whole
 * area (xstateregs_set(), arch/x86/kernel/fpu/regset.c), so a truncated copy
 * cannot be restored: with AMX (Sapphire Rapids) the area is 11,008 bytes.
 */
size_t arch_xstate_size(void);

/** A memory read of an instruction (arch_code_loads()). */
struct arch_load {
	uint64_t addr; /**< where, computed from a thread's registers */
	uint8_t size;  /**< bytes read: 1 to 8 */
};

/**
 * The first direct jmp or jcc (not a call) of the code at @code (@len
 * bytes, at address @addr), decoded from its start: its address in
 * *ret_at, its target in *ret_target. Returns 0, -ENOENT (none before an
 * indirect branch, the end, or bytes that do not decode) or -EINVAL.
 */
int arch_first_branch(const uint8_t *code, size_t len, uint64_t addr, uint64_t *ret_at,
		      uint64_t *ret_target) _wur_;

/**
 * The memory the instructions at @code (@len bytes, at address @addr) read,
 * their addresses computed with the registers @regs of a thread that runs
 * them (a loop whose registers are the same at every turn: rip-relative
 * operands and [base + index * scale + disp] with 64-bit registers; not
 * fs/gs-relative ones, not reads wider than 8 bytes, not lea). Decoding
 * stops at an int3, at a `jmp @stop_jmp` (0: none; soft ticks' jmp to a
 * stub, whose original bytes are elsewhere) and at bytes capstone cannot
 * decode. Stores up to @max in @ret, in the order of the code; returns how
 * many.
 */
size_t arch_code_loads(const uint8_t *code, size_t len, uint64_t addr, uint64_t stop_jmp,
		       const struct user_regs_struct *regs, struct arch_load *ret, size_t max);

/** Compare general-purpose registers, ignoring eflags bits the kernel may set
 * differently (RF, TF): returns the name of the first that differs, or NULL. */
const char *arch_regs_differ(const struct user_regs_struct *a, const struct user_regs_struct *b);

/** The value of register @name (a name arch_regs_differ() returns) of @r
 * into *ret: false if there is no such register. */
bool arch_reg_value(const struct user_regs_struct *r, const char *name, uint64_t *ret);

/**
 * Compare two XSAVE areas of @len bytes each in the standard format of
 * PTRACE_GETREGSET NT_X86_XSTATE (Intel SDM vol. 1, 13.4-13.5; component
 * offsets from cpuid leaf 0xd): the x87 control fields (fcw, fsw, ftw, fop,
 * fip, fdp), mxcsr, st0-7 (their 10 bytes), xmm0-15, then each user
 * component the CPU has (ymmN_hi128, kN, zmmN_hi256, zmm16-31, pkru, AMX
 * tiles...). Not compared: mxcsr_mask (the CPU's), bytes 416-575 (reserved,
 * the kernel's software bytes, and the XSAVE header: XSTATE_BV tells which
 * components sit in their initial state, and the kernel fills those with
 * their initial values, copy_xstate_to_uabi_buf(), Linux 5.14). On the first
 * field that differs, stores its name in @ret_name (@name_len bytes) and its
 * first 8 bytes from each area in *ret_a and *ret_b, and returns true.
 */
bool arch_xstate_differ(const uint8_t *a, const uint8_t *b, size_t len, char *ret_name,
			size_t name_len, uint64_t *ret_a, uint64_t *ret_b);
