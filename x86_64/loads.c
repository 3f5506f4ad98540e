/* SPDX-License-Identifier: MIT */
/*
 * The memory a spin loop reads: decoded with capstone, each memory operand's
 * address computed from the registers of a thread seen spinning there. A
 * loop whose registers stay the same from one turn to the next (record-sched.c
 * calls it spinning) reads the same addresses at every turn; the scheduler
 * looks whether what is there changed before it gives the thread the CPU
 * again (rec_spin_pick()).
 */
#define LOG_PREFIX "arch"
#include "x86_64/arch.h"

#include "x86_64/capstone-lazy.h"
#include <errno.h>
#include <stddef.h>

/* A capstone handle with details, opened once (capstone loaded at this
 * first use); 0 if it cannot be. Sets *@lib to capstone's functions. */
static csh
detail_handle(const struct arch_capstone **lib)
{
	static const struct arch_capstone *cs_lib;
	static csh cs;
	static int state; /* 0: not tried, 1: open, -1: failed */

	if (state == 0) {
		state = -1;
		cs_lib = arch_capstone();
		if (cs_lib && cs_lib->open(CS_ARCH_X86, CS_MODE_64, &cs) == CS_ERR_OK) {
			if (cs_lib->option(cs, CS_OPT_DETAIL, CS_OPT_ON) == CS_ERR_OK)
				state = 1;
			else
				cs_lib->close(&cs);
		}
	}
	*lib = cs_lib;
	return state == 1 ? cs : 0;
}

/* The value of capstone register @reg in @r (64-bit registers and rip, which
 * is @next, the address after the instruction); false for others. */
static bool
reg_value(x86_reg reg, const struct user_regs_struct *r, uint64_t next, uint64_t *ret)
{
	switch (reg) {
	case X86_REG_INVALID: *ret = 0; return true;
	case X86_REG_RIP: *ret = next; return true;
	case X86_REG_RAX: *ret = r->rax; return true;
	case X86_REG_RBX: *ret = r->rbx; return true;
	case X86_REG_RCX: *ret = r->rcx; return true;
	case X86_REG_RDX: *ret = r->rdx; return true;
	case X86_REG_RSI: *ret = r->rsi; return true;
	case X86_REG_RDI: *ret = r->rdi; return true;
	case X86_REG_RBP: *ret = r->rbp; return true;
	case X86_REG_RSP: *ret = r->rsp; return true;
	case X86_REG_R8: *ret = r->r8; return true;
	case X86_REG_R9: *ret = r->r9; return true;
	case X86_REG_R10: *ret = r->r10; return true;
	case X86_REG_R11: *ret = r->r11; return true;
	case X86_REG_R12: *ret = r->r12; return true;
	case X86_REG_R13: *ret = r->r13; return true;
	case X86_REG_R14: *ret = r->r14; return true;
	case X86_REG_R15: *ret = r->r15; return true;
	default: return false; /* 32-bit addressing and the like: not followed */
	}
}

int
arch_first_branch(const uint8_t *code, size_t len, uint64_t addr, uint64_t *ret_at,
		  uint64_t *ret_target)
{
	const struct arch_capstone *lib;
	csh cs = detail_handle(&lib);
	const uint8_t *p = code;
	uint64_t a = addr;
	cs_insn *ci;
	int r = -ENOENT;

	if (!cs || !(ci = lib->malloc(cs)))
		return -EINVAL;
	while (len && lib->disasm_iter(cs, &p, &len, &a, ci)) {
		const cs_x86 *x = &ci->detail->x86;

		if (ci->id == X86_INS_CALL || !lib->insn_group(cs, ci, X86_GRP_BRANCH_RELATIVE))
			continue;
		if (x->op_count == 1 && x->operands[0].type == X86_OP_IMM) {
			*ret_at = ci->address;
			*ret_target = (uint64_t)x->operands[0].imm;
			r = 0;
		}
		break;
	}
	lib->free(ci, 1);
	return r;
}

size_t
arch_code_loads(const uint8_t *code, size_t len, uint64_t addr, uint64_t stop_jmp,
		const struct user_regs_struct *regs, struct arch_load *ret, size_t max)
{
	const struct arch_capstone *lib;
	csh cs = detail_handle(&lib);
	const uint8_t *p = code;
	uint64_t a = addr;
	size_t n = 0;
	cs_insn *ci;

	if (!cs || !(ci = lib->malloc(cs)))
		return 0;
	while (n < max && len && lib->disasm_iter(cs, &p, &len, &a, ci)) {
		const cs_x86 *x = &ci->detail->x86;

		/* counting code's int3 and its jmp to a stub: what follows
		 * is not the loop's own code */
		if (ci->id == X86_INS_INT3)
			break;
		if (stop_jmp && ci->id == X86_INS_JMP && x->op_count == 1 &&
		    x->operands[0].type == X86_OP_IMM && (uint64_t)x->operands[0].imm == stop_jmp)
			break;
		/* lea computes an address, nop-like forms read nothing */
		if (ci->id == X86_INS_LEA || ci->id == X86_INS_NOP)
			continue;
		for (uint8_t i = 0; i < x->op_count && n < max; i++) {
			const cs_x86_op *op = &x->operands[i];
			uint64_t base, index, ea;

			if (op->type != X86_OP_MEM || !(op->access & CS_AC_READ) || op->size > 8 ||
			    op->mem.segment != X86_REG_INVALID ||
			    !reg_value(op->mem.base, regs, a, &base) ||
			    !reg_value(op->mem.index, regs, a, &index))
				continue;
			ea = base + index * (uint64_t)op->mem.scale + (uint64_t)op->mem.disp;
			ret[n++] = (struct arch_load){ ea, op->size };
		}
	}
	lib->free(ci, 1);
	return n;
}
