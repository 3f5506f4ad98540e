/* SPDX-License-Identifier: MIT */
#define LOG_PREFIX "patch"
#include "x86_64/patch.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "x86_64/capstone-lazy.h"

/* What the planner knows of one decoded instruction. */
enum insn_kind {
	INSN_PLAIN = 0, /* no control transfer; may have a rip-relative operand */
	INSN_JCC,	/* jcc rel8 / rel32 */
	INSN_JMP,	/* jmp rel8 / rel32 */
	INSN_CALL,	/* call rel32 */
	INSN_IJMP,	/* indirect jmp */
	INSN_RET,	/* near ret */
	INSN_FLOW,	/* any other control transfer: loop, jrcxz, indirect call, int, ... */
};

struct insn {
	uint64_t addr;
	uint64_t target;   /* of a direct branch (has_target) */
	uint8_t len;
	uint8_t kind;	   /* enum insn_kind */
	uint8_t cc;	   /* condition of a jcc: low nibble of its opcode */
	uint8_t disp_off;  /* offset of a rip-relative disp32 in the instruction, 0: none */
	bool movable;	   /* the relocator can move it into a stub */
	bool has_target;   /* a direct (relative) branch */
	bool table_jump;   /* an indirect jmp whose targets may be anywhere */
};

struct planner {
	const struct arch_capstone *cs_lib; /* loaded at the first plan */
	const uint8_t *code;
	size_t len;
	uint64_t addr;
	struct insn *insns; /* a linear decode */
	size_t n;
	bool *used;	     /* insns[k] is in a planned region */
	uint64_t *targets;   /* every known direct branch target, sorted */
	size_t ntargets;
	const uint64_t *avoid;
	size_t navoid;
	bool blind;	     /* targets are not all known: one-instruction regions only */
	bool window;	     /* window mode: @rip is a stopped thread's, avoid it too */
	uint64_t rip;
	uint64_t stub_base;
	size_t stub_cap;
	struct patch_plan plan;
};

/* Stub prologue, SDM vol. 2A: MOV r/m64,r64 is REX.W 89 /r, MOV r64,r/m64 is
 * REX.W 8B /r; ModRM 0x0c (mod 00, reg rcx, rm 100: a SIB follows) and SIB
 * 0x25 (no index, base 101 with mod 00: disp32 alone, table 2-3) make an
 * absolute address, sign-extended, hence the tick page below 2 GiB.
 * LEA is REX.W 8D /r (ModRM 0x49: [rcx+disp8]); JRCXZ is E3 cb in 64-bit mode.
 * None of them writes the flags. */
#define STUB_PROLOGUE_LEN PATCH_STUB_CLEAN_OFF
#define JMP_REL32_LEN 5
#define JCC_REL32_LEN 6
#define PUSH_RIP_LEN 6

static bool
fits_rel32(int64_t d)
{
	return d >= INT32_MIN && d <= INT32_MAX;
}

static void
put_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static uint8_t *
put_rcx_abs(uint8_t *p, uint8_t opcode, uint64_t abs)
{
	*p++ = 0x48;
	*p++ = opcode;
	*p++ = 0x0c;
	*p++ = 0x25;
	put_u32(p, (uint32_t)abs);
	return p + 4;
}

/* Instructions never moved into a stub: the kernel or the supervisor sees
 * their rip (syscalls, traps, trapped rdtsc/cpuid), or they encode a rel8 or
 * rel32 the relocator does not rewrite (loop, jrcxz, xbegin). */
static bool
is_pinned(unsigned id)
{
	switch (id) {
	case X86_INS_SYSCALL:
	case X86_INS_SYSENTER:
	case X86_INS_SYSEXIT:
	case X86_INS_SYSRET:
	case X86_INS_INT:
	case X86_INS_INT1:
	case X86_INS_INT3:
	case X86_INS_INTO:
	case X86_INS_UD0:
	case X86_INS_UD2:
	case X86_INS_UD2B:
	case X86_INS_HLT:
	case X86_INS_RDTSC:
	case X86_INS_RDTSCP:
	case X86_INS_CPUID:
	case X86_INS_XBEGIN:
	case X86_INS_LOOP:
	case X86_INS_LOOPE:
	case X86_INS_LOOPNE:
	case X86_INS_JRCXZ:
	case X86_INS_JECXZ:
	case X86_INS_JCXZ:
		return true;
	default:
		return false;
	}
}

/* Classify a direct branch by its opcode (SDM vol. 2A, Jcc and JMP):
 * 70+cc rel8, 0F 80+cc rel32, EB rel8, E9 rel32, E8 rel32. */
static void
classify_direct(const cs_x86 *x, struct insn *in)
{
	in->has_target = true;
	in->target = (uint64_t)x->operands[0].imm;
	if (x->opcode[0] == 0xeb || x->opcode[0] == 0xe9) {
		in->kind = INSN_JMP;
	} else if (x->opcode[0] == 0xe8) {
		in->kind = INSN_CALL;
	} else if ((x->opcode[0] & 0xf0) == 0x70) {
		in->kind = INSN_JCC;
		in->cc = x->opcode[0] & 0x0f;
	} else if (x->opcode[0] == 0x0f && (x->opcode[1] & 0xf0) == 0x80) {
		in->kind = INSN_JCC;
		in->cc = x->opcode[1] & 0x0f;
	} else {
		in->kind = INSN_FLOW;
		in->movable = false;
	}
	/* 66 truncates the target to 16 bits on AMD and is ignored by Intel
	 * (SDM JMP, "64-bit mode"); leave such oddities where they are. */
	if (x->prefix[2] || x->prefix[3])
		in->movable = false;
}

/* The rip-relative operand, if any (SDM vol. 2A 2.2.1.6: ModRM mod 00 rm 101
 * without SIB). Cross-check capstone's operands against the ModRM byte. */
static void
classify_riprel(const cs_insn *ci, struct insn *in)
{
	const cs_x86 *x = &ci->detail->x86;
	bool riprel = false;

	for (unsigned k = 0; k < x->op_count; k++) {
		if (x->operands[k].type != X86_OP_MEM)
			continue;
		if (x->operands[k].mem.base == X86_REG_RIP)
			riprel = true;
		if (x->operands[k].mem.base == X86_REG_EIP)
			in->movable = false;
	}
	if (x->encoding.modrm_offset && (ci->bytes[x->encoding.modrm_offset] & 0xc7) == 0x05)
		riprel = true;
	if (!riprel)
		return;
	if (x->encoding.disp_size != 4 || x->encoding.disp_offset != x->encoding.modrm_offset + 1)
		in->movable = false;
	else
		in->disp_off = x->encoding.disp_offset;
}

/* Decode the instruction at @off; false if capstone cannot. */
static bool
decode_at(csh cs, cs_insn *ci, const struct planner *pl, size_t off, struct insn *ret)
{
	const uint8_t *p = pl->code + off;
	size_t size = pl->len - off;
	uint64_t a = pl->addr + off;
	const struct arch_capstone *cs_lib = pl->cs_lib;
	const cs_x86 *x;
	struct insn in = { .addr = pl->addr + off, .movable = true };

	if (!cs_lib->disasm_iter(cs, &p, &size, &a, ci))
		return false;
	x = &ci->detail->x86;
	in.len = (uint8_t)ci->size; /* at most 15 bytes (SDM vol. 2A, chapter 2) */
	if (is_pinned(ci->id))
		in.movable = false;
	if (cs_lib->insn_group(cs, ci, X86_GRP_BRANCH_RELATIVE) && x->op_count == 1 &&
	    x->operands[0].type == X86_OP_IMM) {
		classify_direct(x, &in);
		*ret = in;
		return true;
	}
	if (cs_lib->insn_group(cs, ci, X86_GRP_JUMP)) {
		in.kind = INSN_IJMP;
		/* jmp [rip+x] is a tail call through the GOT; anything else
		 * may be a switch's jump table into this very code */
		in.table_jump = !(x->op_count == 1 && x->operands[0].type == X86_OP_MEM &&
				  x->operands[0].mem.base == X86_REG_RIP &&
				  x->operands[0].mem.index == X86_REG_INVALID);
	} else if (ci->id == X86_INS_RET) {
		in.kind = INSN_RET;
	} else if (cs_lib->insn_group(cs, ci, X86_GRP_CALL) ||
		   cs_lib->insn_group(cs, ci, X86_GRP_RET) ||
		   cs_lib->insn_group(cs, ci, X86_GRP_INT) ||
		   cs_lib->insn_group(cs, ci, X86_GRP_IRET) ||
		   cs_lib->insn_group(cs, ci, X86_GRP_BRANCH_RELATIVE) || is_pinned(ci->id)) {
		/* indirect calls push a stub address; far transfers; traps */
		in.kind = INSN_FLOW;
		in.movable = false;
	}
	classify_riprel(ci, &in);
	*ret = in;
	return true;
}

/* Decode linearly from @off into pl->insns until the end or an undecodable
 * byte. Returns the offset where decoding stopped. */
static size_t
decode_linear(csh cs, cs_insn *ci, struct planner *pl, size_t off)
{
	while (off < pl->len && decode_at(cs, ci, pl, off, &pl->insns[pl->n])) {
		off += pl->insns[pl->n].len;
		pl->n++;
	}
	return off;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
collect_targets(struct planner *pl)
{
	for (size_t k = 0; k < pl->n; k++)
		if (pl->insns[k].has_target)
			pl->targets[pl->ntargets++] = pl->insns[k].target;
}

/* Best effort for window mode: targets of what decodes in [from, to),
 * skipping a byte where nothing decodes. A misaligned decode only adds
 * targets, which can only refuse more regions. */
static void
sweep_targets(csh cs, cs_insn *ci, struct planner *pl, size_t from, size_t to)
{
	struct insn in;

	while (from < to) {
		if (!decode_at(cs, ci, pl, from, &in)) {
			from++;
			continue;
		}
		if (in.has_target)
			pl->targets[pl->ntargets++] = in.target;
		from += in.len;
	}
}

/* No known target and no avoided address strictly inside (lo, hi). */
static bool
range_clear(const struct planner *pl, uint64_t lo, uint64_t hi)
{
	size_t a = 0, b = pl->ntargets;

	/* first target > lo */
	while (a < b) {
		size_t m = a + (b - a) / 2;

		if (pl->targets[m] <= lo)
			a = m + 1;
		else
			b = m;
	}
	if (a < pl->ntargets && pl->targets[a] < hi)
		return false;
	for (size_t k = 0; k < pl->navoid; k++)
		if (pl->avoid[k] > lo && pl->avoid[k] < hi)
			return false;
	return !(pl->window && pl->rip > lo && pl->rip < hi);
}

static uint64_t
insn_end(const struct insn *in)
{
	return in->addr + in->len;
}

/* Prepend insns[i-1] to the region insns[i..j]: same basic block only. */
static bool
can_prepend(const struct planner *pl, size_t i, size_t j)
{
	const struct insn *prev;

	if (pl->blind || i == 0 || pl->used[i - 1])
		return false;
	prev = &pl->insns[i - 1];
	return prev->kind == INSN_PLAIN && prev->movable &&
	       range_clear(pl, prev->addr, insn_end(&pl->insns[j]));
}

/* Append insns[j+1]: not after an instruction that does not fall through,
 * nor after a call, whose return address must stay the region end. */
static bool
can_append(const struct planner *pl, size_t i, size_t j)
{
	const struct insn *last = &pl->insns[j], *next;

	if (pl->blind || j + 1 >= pl->n || pl->used[j + 1])
		return false;
	if (last->kind == INSN_JMP || last->kind == INSN_IJMP || last->kind == INSN_RET ||
	    last->kind == INSN_CALL || last->kind == INSN_FLOW)
		return false;
	next = &pl->insns[j + 1];
	return next->movable && range_clear(pl, pl->insns[i].addr, insn_end(next));
}

static size_t
reloc_len(const struct insn *in)
{
	switch (in->kind) {
	case INSN_JCC:
		return JCC_REL32_LEN;
	case INSN_JMP:
		return JMP_REL32_LEN;
	case INSN_CALL:
		return PUSH_RIP_LEN + JMP_REL32_LEN;
	default:
		return in->len;
	}
}

/* Write @in relocated to @at into @out. A branch to the region start goes to
 * the stub start @s, so that it is counted again; a call becomes
 * `push qword [rip -> @lit]; jmp target` (FF /6, E9), pushing the original
 * return address. Returns the length, or -ERANGE if a rel32 does not reach. */
static int
reloc_insn(const struct planner *pl, const struct insn *in, uint64_t region, uint64_t s,
	   uint64_t at, uint64_t lit, uint8_t *out)
{
	uint64_t target = in->target == region ? s : in->target;
	int64_t d;

	switch (in->kind) {
	case INSN_JCC:
		d = (int64_t)(target - (at + JCC_REL32_LEN));
		if (!fits_rel32(d))
			return -ERANGE;
		out[0] = 0x0f;
		out[1] = 0x80 | in->cc;
		put_u32(out + 2, (uint32_t)d);
		return JCC_REL32_LEN;
	case INSN_JMP:
		d = (int64_t)(target - (at + JMP_REL32_LEN));
		if (!fits_rel32(d))
			return -ERANGE;
		out[0] = 0xe9;
		put_u32(out + 1, (uint32_t)d);
		return JMP_REL32_LEN;
	case INSN_CALL:
		out[0] = 0xff;
		out[1] = 0x35;
		put_u32(out + 2, (uint32_t)(lit - (at + PUSH_RIP_LEN)));
		d = (int64_t)(target - (at + PUSH_RIP_LEN + JMP_REL32_LEN));
		if (!fits_rel32(d))
			return -ERANGE;
		out[PUSH_RIP_LEN] = 0xe9;
		put_u32(out + PUSH_RIP_LEN + 1, (uint32_t)d);
		return PUSH_RIP_LEN + JMP_REL32_LEN;
	default:
		memcpy(out, pl->code + (in->addr - pl->addr), in->len);
		if (in->disp_off) {
			int32_t disp;

			memcpy(&disp, out + in->disp_off, sizeof(disp));
			d = disp + (int64_t)(in->addr - at);
			if (!fits_rel32(d))
				return -ERANGE;
			put_u32(out + in->disp_off, (uint32_t)d);
		}
		return in->len;
	}
}

/* Build the stub and the edit for the region insns[i..j] with branch b.
 * Returns 1 if planned, 0 if it does not fit or reach, -ENOMEM. */
static int
emit_site(struct planner *pl, size_t i, size_t j, size_t b)
{
	struct patch_plan *plan = &pl->plan;
	uint64_t region = pl->insns[i].addr, region_end = insn_end(&pl->insns[j]);
	uint32_t region_len = (uint32_t)(region_end - region);
	uint64_t s = pl->stub_base + plan->stub_len, c, t, lit;
	size_t c_len = 0, total;
	uint8_t buf[512], *p;
	struct patch_edit *edit;
	struct patch_site *site;
	void *tmp;
	int64_t d;

	if (region_len < JMP_REL32_LEN || region_len > sizeof(edit->bytes))
		return 0;
	for (size_t k = i; k <= j; k++)
		c_len += reloc_len(&pl->insns[k]);
	total = STUB_PROLOGUE_LEN + c_len + JMP_REL32_LEN + 1 + JMP_REL32_LEN;
	if (pl->insns[j].kind == INSN_CALL)
		total += sizeof(uint64_t);
	if (total > sizeof(buf) || total > pl->stub_cap - plan->stub_len)
		return 0;
	c = s + STUB_PROLOGUE_LEN;
	t = c + c_len + JMP_REL32_LEN;
	lit = t + 1 + JMP_REL32_LEN;
	/* jrcxz has only a rel8 */
	if (t - (s + PATCH_STUB_RESTORE_OFF) > INT8_MAX)
		return 0;
	if (!fits_rel32((int64_t)(s - (region + JMP_REL32_LEN))) ||
	    !fits_rel32((int64_t)(region_end - t)))
		return 0;

	p = put_rcx_abs(buf, 0x89, PATCH_TICK_SCRATCH);
	p = put_rcx_abs(p, 0x8b, PATCH_TICK_BUDGET);
	*p++ = 0x48;
	*p++ = 0x8d;
	*p++ = 0x49;
	*p++ = 0xff;
	p = put_rcx_abs(p, 0x89, PATCH_TICK_BUDGET);
	*p++ = 0xe3;
	*p++ = (uint8_t)(t - (s + PATCH_STUB_RESTORE_OFF));
	p = put_rcx_abs(p, 0x8b, PATCH_TICK_SCRATCH);
	for (size_t k = i; k <= j; k++) {
		int r = reloc_insn(pl, &pl->insns[k], region, s, s + (size_t)(p - buf), lit, p);

		if (r < 0)
			return 0;
		p += r;
	}
	*p++ = 0xe9;
	put_u32(p, (uint32_t)(region_end - (s + (size_t)(p - buf) + 4)));
	p += 4;
	*p++ = 0xcc;
	d = (int64_t)(s + PATCH_STUB_RESTORE_OFF - (t + 1 + JMP_REL32_LEN));
	*p++ = 0xe9;
	put_u32(p, (uint32_t)d);
	p += 4;
	if (pl->insns[j].kind == INSN_CALL) {
		memcpy(p, &region_end, sizeof(region_end));
		p += sizeof(region_end);
	}
	assert((size_t)(p - buf) == total);

	tmp = realloc(plan->stub, plan->stub_len + total);
	if (!tmp)
		return -ENOMEM;
	plan->stub = tmp;
	tmp = realloc(plan->sites, (plan->nsites + 1) * sizeof(*plan->sites));
	if (!tmp)
		return -ENOMEM;
	plan->sites = tmp;
	tmp = realloc(plan->edits, (plan->nedits + 1) * sizeof(*plan->edits));
	if (!tmp)
		return -ENOMEM;
	plan->edits = tmp;

	memcpy(plan->stub + plan->stub_len, buf, total);
	plan->stub_len += total;
	site = &plan->sites[plan->nsites++];
	*site = (struct patch_site){
		.branch = pl->insns[b].addr,
		.region = region,
		.region_len = region_len,
		.stub = s,
		.trap = t,
		.clean = c,
	};
	edit = &plan->edits[plan->nedits++];
	*edit = (struct patch_edit){ .addr = region, .len = region_len };
	memset(edit->bytes, 0xcc, sizeof(edit->bytes));
	edit->bytes[0] = 0xe9;
	put_u32(edit->bytes + 1, (uint32_t)(s - (region + JMP_REL32_LEN)));
	for (size_t k = i; k <= j; k++)
		pl->used[k] = true;
	return 1;
}

/* Plan a trap site for the direct jmp insns[b]: its first byte becomes int3.
 * Returns 1, or -ENOMEM. */
static int
emit_trap_site(struct planner *pl, size_t b)
{
	struct patch_plan *plan = &pl->plan;
	const struct insn *br = &pl->insns[b];
	void *tmp;

	tmp = realloc(plan->sites, (plan->nsites + 1) * sizeof(*plan->sites));
	if (!tmp)
		return -ENOMEM;
	plan->sites = tmp;
	tmp = realloc(plan->edits, (plan->nedits + 1) * sizeof(*plan->edits));
	if (!tmp)
		return -ENOMEM;
	plan->edits = tmp;
	plan->sites[plan->nsites++] = (struct patch_site){
		.branch = br->addr,
		.region = br->addr,
		.region_len = 1,
		.trap = br->addr,
		.clean = br->target,
	};
	plan->edits[plan->nedits] = (struct patch_edit){ .addr = br->addr, .len = 1 };
	plan->edits[plan->nedits++].bytes[0] = 0xcc;
	pl->used[b] = true;
	return 1;
}

/* The index of the decoded instruction at @a, or SIZE_MAX. */
static size_t
insn_index(const struct planner *pl, uint64_t a)
{
	size_t lo = 0, hi = pl->n;

	while (lo < hi) {
		size_t m = lo + (hi - lo) / 2;

		if (pl->insns[m].addr < a)
			lo = m + 1;
		else
			hi = m;
	}
	return lo < pl->n && pl->insns[lo].addr == a ? lo : SIZE_MAX;
}

/*
 * Whether a path from insns[from] reaches insns[to] without running
 * insns[blocked] (SIZE_MAX: none). Calls return; where the decode cannot
 * follow (a branch out of the decoded code or into the middle of an
 * instruction, a jump table, the end of a window), assume it may.
 * Returns 1, 0, or -ENOMEM.
 */
static int
reaches(const struct planner *pl, size_t from, size_t to, size_t blocked)
{
	size_t top = 0, *stack;
	bool *seen;
	int r = 0;

	if (from == blocked)
		return 0;
	stack = calloc(pl->n, sizeof(*stack));
	seen = calloc(pl->n, sizeof(*seen));
	if (!stack || !seen) {
		r = -ENOMEM;
		goto out;
	}
	seen[from] = true;
	stack[top++] = from;
	while (top && !r) {
		size_t k = stack[--top], next[2], nnext = 0;
		const struct insn *in = &pl->insns[k];

		if (k == to) {
			r = 1;
			break;
		}
		if (in->kind == INSN_IJMP && in->table_jump)
			r = 1;
		if ((in->kind == INSN_JCC || in->kind == INSN_JMP) && in->has_target) {
			next[nnext] = insn_index(pl, in->target);
			r = r || next[nnext] == SIZE_MAX;
			nnext++;
		}
		if (in->kind != INSN_JMP && in->kind != INSN_IJMP && in->kind != INSN_RET) {
			/* off the end of a whole function: nothing of it follows
			 * (a call that does not return) */
			if (k + 1 < pl->n)
				next[nnext++] = k + 1;
			else if (pl->window)
				r = 1;
		}
		for (size_t m = 0; m < nnext && !r; m++) {
			if (seen[next[m]] || next[m] == blocked)
				continue;
			seen[next[m]] = true;
			stack[top++] = next[m];
		}
	}
out:
	free(stack);
	free(seen);
	return r;
}

/*
 * Whether the jmp insns[b] may close a loop: some path from its target comes
 * back to it. A jmp to a shared epilogue (`call f; jmp .Lret`, after which
 * the function returns) is backward in the address space but runs once per
 * call; a trap site there costs a ptrace stop per call of the function (sort's
 * comparison function: millions). Returns 1, 0, or -ENOMEM.
 */
static int
may_loop(const struct planner *pl, size_t b)
{
	size_t t = insn_index(pl, pl->insns[b].target);

	return t == SIZE_MAX ? 1 : reaches(pl, t, b, SIZE_MAX);
}

/* Instructions after a loop's head tried as the start of its region. */
#define LOOP_CANDIDATES 64

/*
 * Count the loop that the jmp insns[b] closes elsewhere than at the jmp: at
 * the first instruction from its head on that every turn runs (no path from
 * the head back to the jmp avoids it) and where a region fits, entered only
 * at its start, so once per pass. The head itself comes first. Returns 1 if
 * planned, 0 if there is no room anywhere, -ENOMEM.
 */
static int
plan_loop_body(struct planner *pl, size_t b)
{
	size_t h = insn_index(pl, pl->insns[b].target);

	if (h == SIZE_MAX)
		return 0;
	for (size_t k = h; k < b && k < h + LOOP_CANDIDATES; k++) {
		const struct insn *in = &pl->insns[k];
		size_t j = k;
		int r;

		if (pl->used[k] || !in->movable || in->kind == INSN_JMP ||
		    !range_clear(pl, in->addr, insn_end(in)))
			continue;
		while (insn_end(&pl->insns[j]) - in->addr < JMP_REL32_LEN && can_append(pl, k, j))
			j++;
		if (insn_end(&pl->insns[j]) - in->addr < JMP_REL32_LEN)
			continue;
		/* every turn passes the head; another instruction, only if
		 * the jmp cannot be reached from the head without it */
		if (k != h && (r = reaches(pl, h, b, k)) != 0) {
			if (r < 0)
				return r;
			continue;
		}
		return emit_site(pl, k, j, k);
	}
	return 0;
}

/* Whether a planned site's region starts at @a: every pass there counts. */
static bool
counted_at(const struct planner *pl, uint64_t a)
{
	for (size_t k = 0; k < pl->plan.nsites; k++)
		if (pl->plan.sites[k].region == a)
			return true;
	return false;
}

/* Choose a region for the backward branch insns[b] and plan it. An
 * unconditional jmp that has none and closes a loop is counted at the
 * loop's head, else becomes a trap site. */
static int
plan_branch(struct planner *pl, size_t b)
{
	const struct insn *br = &pl->insns[b];
	size_t i = b, j = b;
	int r;

	if (!br->movable || pl->used[b] || !range_clear(pl, br->addr, insn_end(br)))
		return 0;
	while (insn_end(&pl->insns[j]) - pl->insns[i].addr < JMP_REL32_LEN && can_prepend(pl, i, j))
		i--;
	while (insn_end(&pl->insns[j]) - pl->insns[i].addr < JMP_REL32_LEN && can_append(pl, i, j))
		j++;
	r = insn_end(&pl->insns[j]) - pl->insns[i].addr < JMP_REL32_LEN ? 0 : emit_site(pl, i, j, b);
	if (r != 0)
		return r;
	/* Blind, only a jump to itself: a misaligned decode does not make
	 * EB FE. */
	if (br->kind != INSN_JMP || (pl->blind && br->target != br->addr)) {
		log_debug("no region for the branch at %#" PRIx64, br->addr);
		return 0;
	}
	r = may_loop(pl, b);
	if (r <= 0) {
		if (!r)
			log_debug("the jmp at %#" PRIx64 " closes no loop", br->addr);
		return r;
	}
	/* a loop whose only way back is a jmp after a jcc that leaves it, or
	 * after a call: count it where every turn passes, as cheap as any
	 * stub */
	if (counted_at(pl, br->target))
		return 0;
	r = plan_loop_body(pl, b);
	if (r != 0)
		return r;
	/* `jmp .` (for (;;);), or a loop with no room: trap there, a ptrace
	 * stop per turn */
	return emit_trap_site(pl, b);
}

/* Count the entries of the function: a region at its first instruction. */
static int
plan_entry(struct planner *pl)
{
	size_t j = 0;

	/* a jmp first: counted already (a region's jmp to its stub), or a
	 * tail call whose callee counts */
	if (pl->n == 0 || pl->blind || pl->used[0] || !pl->insns[0].movable ||
	    pl->insns[0].kind == INSN_JMP)
		return 0;
	while (insn_end(&pl->insns[j]) - pl->insns[0].addr < JMP_REL32_LEN && can_append(pl, 0, j))
		j++;
	if (insn_end(&pl->insns[j]) - pl->insns[0].addr < JMP_REL32_LEN) {
		log_debug("no region at the entry %#" PRIx64, pl->addr);
		return 0;
	}
	return emit_site(pl, 0, j, 0);
}

/* Whether the function has a direct call: to itself only if @self. */
static bool
has_call(const struct planner *pl, bool self)
{
	for (size_t k = 0; k < pl->n; k++)
		if (pl->insns[k].kind == INSN_CALL && (!self || pl->insns[k].target == pl->addr))
			return true;
	return false;
}

static bool
is_backward(const struct insn *in, uint64_t lo, uint64_t hi)
{
	return (in->kind == INSN_JCC || in->kind == INSN_JMP) && in->target <= in->addr &&
	       in->target >= lo && in->target <= hi;
}

static int
plan_whole(csh cs, cs_insn *ci, struct planner *pl)
{
	size_t end = decode_linear(cs, ci, pl, 0);
	int r, count = 0;

	pl->blind = end != pl->len;
	for (size_t k = 0; k < pl->n; k++)
		pl->blind = pl->blind || pl->insns[k].table_jump;
	collect_targets(pl);
	qsort(pl->targets, pl->ntargets, sizeof(*pl->targets), cmp_u64);
	/* a recursion may go round without any loop: count its entries (first,
	 * so that the sites stay sorted) */
	if (has_call(pl, true)) {
		r = plan_entry(pl);
		if (r < 0)
			return r;
		count += r;
	}
	for (size_t k = 0; k < pl->n; k++) {
		if (!is_backward(&pl->insns[k], pl->addr, pl->insns[k].addr))
			continue;
		r = plan_branch(pl, k);
		if (r < 0)
			return r;
		count += r;
	}
	/* a thread ran out of time here with no loop around it: a recursion
	 * through other functions, count the entries of this one */
	if (count == 0 && has_call(pl, false))
		count = plan_entry(pl);
	return count;
}

static int
plan_window(csh cs, cs_insn *ci, struct planner *pl, uint64_t rip)
{
	size_t off = rip - pl->addr, b = SIZE_MAX;
	uint64_t t = 0, branch = 0;
	bool found = false, rip_seen = false;
	struct insn in;

	/* the first backward branch to [addr, rip]: the loop @rip is in */
	while (off < pl->len && decode_at(cs, ci, pl, off, &in)) {
		if (is_backward(&in, pl->addr, rip)) {
			t = in.target;
			branch = in.addr;
			found = true;
			break;
		}
		off += in.len;
	}
	if (!found)
		return 0;
	decode_linear(cs, ci, pl, t - pl->addr);
	for (size_t k = 0; k < pl->n; k++) {
		if (pl->insns[k].addr == rip)
			rip_seen = true;
		if (pl->insns[k].addr == branch) {
			b = k;
			break;
		}
	}
	if (!rip_seen || b == SIZE_MAX) {
		log_debug("no linear decode from %#" PRIx64 " to %#" PRIx64, t, branch);
		return 0;
	}
	for (size_t k = 0; k <= b; k++)
		pl->blind = pl->blind || pl->insns[k].table_jump;
	collect_targets(pl);
	sweep_targets(cs, ci, pl, 0, t - pl->addr);
	qsort(pl->targets, pl->ntargets, sizeof(*pl->targets), cmp_u64);
	return plan_branch(pl, b);
}

struct site_edit {
	struct patch_site site;
	struct patch_edit edit;
};

static int
cmp_site_edit(const void *a, const void *b)
{
	const struct site_edit *x = a, *y = b;

	return x->site.branch < y->site.branch ? -1 : x->site.branch > y->site.branch;
}

/* Sort the sites, and their edits with them, by branch address: a loop's
 * head is planned after branches that lie above it. Returns 0 or -ENOMEM. */
static int
sort_sites(struct patch_plan *plan)
{
	struct site_edit *v;
	bool sorted = true;

	for (size_t k = 1; k < plan->nsites; k++)
		sorted = sorted && plan->sites[k - 1].branch < plan->sites[k].branch;
	if (sorted)
		return 0;
	v = malloc(plan->nsites * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t k = 0; k < plan->nsites; k++)
		v[k] = (struct site_edit){ plan->sites[k], plan->edits[k] };
	qsort(v, plan->nsites, sizeof(*v), cmp_site_edit);
	for (size_t k = 0; k < plan->nsites; k++) {
		plan->sites[k] = v[k].site;
		plan->edits[k] = v[k].edit;
	}
	free(v);
	return 0;
}

int
patch_plan_code(const uint8_t *code, size_t len, uint64_t addr, bool whole_function, uint64_t rip,
		uint64_t stub_base, size_t stub_cap, const uint64_t *avoid, size_t navoid,
		struct patch_plan *ret_plan)
{
	struct planner pl = {
		.code = code,
		.len = len,
		.addr = addr,
		.avoid = avoid,
		.navoid = navoid,
		.stub_base = stub_base,
		.stub_cap = stub_cap,
		.window = !whole_function,
		.rip = rip,
	};
	cs_insn *ci = NULL;
	csh cs;
	int r;

	if (!ret_plan || (len && !code) || (navoid && !avoid) || addr + len < addr ||
	    stub_base + stub_cap < stub_base)
		return -EINVAL;
	if (!whole_function && (rip < addr || rip >= addr + len))
		return -EINVAL;
	if (stub_base < addr + len && addr < stub_base + stub_cap)
		return -EINVAL;
	if (len == 0) {
		*ret_plan = (struct patch_plan){ 0 };
		return 0;
	}

	pl.cs_lib = arch_capstone();
	if (!pl.cs_lib)
		return -EOPNOTSUPP; /* capstone is not installed */
	switch (pl.cs_lib->open(CS_ARCH_X86, CS_MODE_64, &cs)) {
	case CS_ERR_OK:
		break;
	case CS_ERR_MEM:
		return -ENOMEM;
	default:
		return -EOPNOTSUPP; /* a capstone built without x86 */
	}
	if (pl.cs_lib->option(cs, CS_OPT_DETAIL, CS_OPT_ON) != CS_ERR_OK ||
	    !(ci = pl.cs_lib->malloc(cs))) {
		r = -ENOMEM;
		goto out;
	}
	/* every instruction is at least one byte: @len bounds both arrays */
	pl.insns = calloc(len, sizeof(*pl.insns));
	pl.used = calloc(len, sizeof(*pl.used));
	pl.targets = calloc(len, sizeof(*pl.targets));
	if (!pl.insns || !pl.used || !pl.targets) {
		r = -ENOMEM;
		goto out;
	}
	if (whole_function)
		r = plan_whole(cs, ci, &pl);
	else
		r = plan_window(cs, ci, &pl, rip);
	if (r > 0) {
		int e = sort_sites(&pl.plan);

		if (e < 0)
			r = e;
	}
	if (r >= 0) {
		*ret_plan = pl.plan;
		pl.plan = (struct patch_plan){ 0 };
	}
out:
	patch_plan_free(&pl.plan);
	free(pl.insns);
	free(pl.used);
	free(pl.targets);
	if (ci)
		pl.cs_lib->free(ci, 1);
	pl.cs_lib->close(&cs);
	return r;
}

void
patch_plan_free(struct patch_plan *plan)
{
	if (!plan)
		return;
	free(plan->stub);
	free(plan->edits);
	free(plan->sites);
	*plan = (struct patch_plan){ 0 };
}

enum patch_stop
patch_site_clean(const struct patch_site *site, uint64_t rip, uint64_t rcx, uint64_t scratch,
		 uint64_t *ret_rip, uint64_t *ret_rcx)
{
	uint64_t s = site->stub;
	enum patch_stop stop;

	if (!s) {
		/* a trap site: only its int3 has a tick in flight */
		stop = rip == site->trap + 1 ? PATCH_STOP_TRAPPED : PATCH_STOP_OUTSIDE;
		*ret_rip = stop == PATCH_STOP_TRAPPED ? site->clean : rip;
		*ret_rcx = rcx;
		return stop;
	}
	if (rip == site->trap || rip == site->trap + 1)
		stop = PATCH_STOP_TRAPPED;
	else if (rip < s || rip >= site->clean)
		stop = PATCH_STOP_OUTSIDE;
	else if (rip <= s + PATCH_STUB_COMMIT_OFF)
		stop = PATCH_STOP_UNCOUNTED;
	else if (rip == s + PATCH_STUB_JRCXZ_OFF && rcx == 0)
		stop = PATCH_STOP_TRAPPED; /* the budget just became 0 */
	else
		stop = PATCH_STOP_COUNTED;

	switch (stop) {
	case PATCH_STOP_OUTSIDE:
		*ret_rip = rip;
		*ret_rcx = rcx;
		break;
	case PATCH_STOP_UNCOUNTED:
		/* at S nothing is saved yet; past it, the scratch holds rcx */
		*ret_rip = s;
		*ret_rcx = rip == s ? rcx : scratch;
		break;
	default:
		*ret_rip = site->clean;
		*ret_rcx = scratch;
		break;
	}
	return stop;
}
