/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the soft-ticks patch planner: hand-encoded loops patched and
 * run in this process (the tick page mapped at PATCH_TICK_PAGE), the int3 trap
 * and the clean-up of a thread stopped anywhere in a stub prologue (single
 * stepping with EFLAGS.TF), compiled C loops patched in place, plans over
 * every function of this process's libc checked instruction by instruction
 * with capstone, and the refusals. Criterion runs each test in its own
 * process, so patching our own text does not leak into other tests.
 */
#include <capstone/capstone.h>
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <link.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "x86_64/patch.h"

#define PAGE 4096ul
#define BUF_SIZE (16 * PAGE)
#define DATA_OFF 0x400 /* data of the hand-encoded code, in the same buffer */
#define STUB_OFF 0x800 /* stubs of the hand-encoded code */

#define budget ((volatile uint64_t *)PATCH_TICK_BUDGET)
#define scratch ((volatile uint64_t *)PATCH_TICK_SCRATCH)

static void
map_tick_page(void)
{
	void *p = mmap((void *)PATCH_TICK_PAGE, PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	/* EEXIST: an earlier test of this process (--no-fork) mapped it */
	cr_assert(p == (void *)PATCH_TICK_PAGE || errno == EEXIST, "tick page: %s",
		  strerror(errno));
	*budget = 0;
}

TestSuite(patch, .init = map_tick_page, .timeout = 60);

/* An RWX mapping within 1 GiB of @anchor, so that rel32 reaches both ways. */
static uint8_t *
map_near(const void *anchor, size_t size)
{
	uintptr_t a = (uintptr_t)anchor & ~(uintptr_t)(PAGE - 1);

	for (uintptr_t d = 1ul << 24; d < 1ul << 30; d += 1ul << 24) {
		for (int below = 1; below >= 0; below--) {
			uintptr_t hint = below ? a - d : a + d;
			void *p = mmap((void *)hint, size, PROT_READ | PROT_WRITE | PROT_EXEC,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

			if (p == (void *)hint)
				return p;
			if (p != MAP_FAILED)
				munmap(p, size); /* kernel < 4.17 took it as a hint */
		}
	}
	cr_assert_fail("no free range within 1 GiB of %p", anchor);
	return NULL;
}

static uint64_t
u64(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

/* Helper called from hand-encoded code: records its return address. */
static uint64_t helper_ra;

__attribute__((noinline)) static int
helper(void)
{
	helper_ra = u64(__builtin_return_address(0));
	return 42;
}

/* A buffer near our text holding @code at offset 0. */
static uint8_t *
load_code(const uint8_t *code, size_t len)
{
	uint8_t *buf = map_near((const void *)helper, BUF_SIZE);

	memset(buf, 0xcc, BUF_SIZE);
	memcpy(buf, code, len);
	return buf;
}

static void
apply_plan(const struct patch_plan *plan, uint64_t stub_base)
{
	if (plan->stub_len)
		memcpy((void *)(uintptr_t)stub_base, plan->stub, plan->stub_len);
	for (size_t k = 0; k < plan->nedits; k++)
		memcpy((void *)(uintptr_t)plan->edits[k].addr, plan->edits[k].bytes,
		       plan->edits[k].len);
}

/*
 * Check a plan against the code it was made for: sizes, bounds, no overlap,
 * and each stub decoded with capstone against the original instructions
 * (same instruction, same absolute branch target or rip-relative address).
 */
static void
check_plan(const struct patch_plan *plan, int r, const uint8_t *code, uint64_t addr, size_t len,
	   uint64_t stub_base, size_t stub_cap)
{
	cs_insn *o, *s;
	csh cs;

	cr_assert_geq(r, 0, "plan failed: %s", strerror(-r));
	cr_assert_eq((size_t)r, plan->nsites);
	cr_assert_eq(plan->nedits, plan->nsites);
	cr_assert_leq(plan->stub_len, stub_cap);
	if (!r)
		return;
	cr_assert_eq(cs_open(CS_ARCH_X86, CS_MODE_64, &cs), CS_ERR_OK);
	cr_assert_eq(cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON), CS_ERR_OK);
	o = cs_malloc(cs);
	s = cs_malloc(cs);
	for (size_t k = 0; k < plan->nsites; k++) {
		const struct patch_site *site = &plan->sites[k];
		const struct patch_edit *edit = &plan->edits[k];
		uint64_t region_end = site->region + site->region_len;
		uint64_t stub_end = stub_base + plan->stub_len;
		const uint8_t *op = code + (site->region - addr);
		const uint8_t *sp; /* a trap site has no stub */
		size_t osz = site->region_len, ssz;
		uint64_t oa = site->region, sa = site->clean;
		uint8_t prologue[PATCH_STUB_CLEAN_OFF] = {
			0x48, 0x89, 0x0c, 0x25, 0x08, 0x00, 0x00, 0x70, /* mov [scratch], rcx */
			0x48, 0x8b, 0x0c, 0x25, 0x00, 0x00, 0x00, 0x70, /* mov rcx, [budget] */
			0x48, 0x8d, 0x49, 0xff,				/* lea rcx, [rcx-1] */
			0x48, 0x89, 0x0c, 0x25, 0x00, 0x00, 0x00, 0x70, /* mov [budget], rcx */
			0xe3, 0x00,					/* jrcxz T */
			0x48, 0x8b, 0x0c, 0x25, 0x08, 0x00, 0x00, 0x70, /* mov rcx, [scratch] */
		};
		int32_t rel;

		/* this stub ends where the next one starts (a loop's head is
		 * planned after the branches above it: stubs are laid out in
		 * the order of planning, not of the sites) */
		for (size_t m = 0; m < plan->nsites; m++)
			if (plan->sites[m].stub > site->stub && plan->sites[m].stub < stub_end)
				stub_end = plan->sites[m].stub;

		cr_assert(k == 0 || plan->sites[k - 1].branch < site->branch);
		cr_assert(k == 0 || plan->sites[k - 1].region + plan->sites[k - 1].region_len <=
					    site->region, "regions overlap");
		cr_assert(site->region >= addr && region_end <= addr + len);
		cr_assert(site->branch >= site->region && site->branch < region_end);
		if (!site->stub) {
			/* a trap site: int3 on a backward jmp, which goes to clean */
			osz = addr + len - site->branch;
			cr_assert(cs_disasm_iter(cs, &op, &osz, &oa, o));
			cr_assert_eq(o->id, X86_INS_JMP);
			cr_assert_eq((uint64_t)o->detail->x86.operands[0].imm, site->clean);
			cr_assert_leq(site->clean, site->branch);
			cr_assert_eq(site->region, site->branch);
			cr_assert_eq(site->region_len, 1);
			cr_assert_eq(site->trap, site->branch);
			cr_assert_eq(edit->addr, site->branch);
			cr_assert_eq(edit->len, 1);
			cr_assert_eq(edit->bytes[0], 0xcc);
			continue;
		}
		cr_assert_geq(site->region_len, 5);
		cr_assert(site->stub >= stub_base && stub_end <= stub_base + plan->stub_len);
		sp = plan->stub + (site->clean - stub_base);
		ssz = stub_end - site->clean;
		cr_assert_eq(site->clean, site->stub + PATCH_STUB_CLEAN_OFF);
		cr_assert(site->trap > site->clean && site->trap < stub_end);

		/* the edit: jmp rel32 to the stub, then int3 */
		cr_assert_eq(edit->addr, site->region);
		cr_assert_eq(edit->len, site->region_len);
		cr_assert_eq(edit->bytes[0], 0xe9);
		memcpy(&rel, edit->bytes + 1, 4);
		cr_assert_eq(site->region + 5 + (int64_t)rel, site->stub);
		for (uint32_t b = 5; b < edit->len; b++)
			cr_assert_eq(edit->bytes[b], 0xcc);

		prologue[29] = (uint8_t)(site->trap - (site->stub + PATCH_STUB_RESTORE_OFF));
		cr_assert_arr_eq(plan->stub + (site->stub - stub_base), prologue, sizeof(prologue));

		while (oa < region_end) {
			const cs_x86 *ox, *sx;

			cr_assert(cs_disasm_iter(cs, &op, &osz, &oa, o), "region does not decode");
			cr_assert(cs_disasm_iter(cs, &sp, &ssz, &sa, s), "stub does not decode");
			ox = &o->detail->x86;
			sx = &s->detail->x86;
			if (ox->opcode[0] == 0xe8) {
				/* call: push qword [rip -> region end]; jmp target */
				uint64_t lit, v;

				cr_assert_eq(s->id, X86_INS_PUSH);
				cr_assert_eq(sx->operands[0].mem.base, X86_REG_RIP);
				lit = s->address + s->size + sx->disp;
				cr_assert(lit >= site->trap && lit + 8 <= stub_end);
				memcpy(&v, plan->stub + (lit - stub_base), 8);
				cr_assert_eq(v, region_end);
				cr_assert(cs_disasm_iter(cs, &sp, &ssz, &sa, s));
				cr_assert_eq(s->id, X86_INS_JMP);
				cr_assert_eq((uint64_t)sx->operands[0].imm, (uint64_t)ox->operands[0].imm);
			} else if (cs_insn_group(cs, o, X86_GRP_BRANCH_RELATIVE)) {
				uint64_t t = (uint64_t)ox->operands[0].imm;

				cr_assert_eq(s->id, o->id, "%s became %s", o->mnemonic, s->mnemonic);
				cr_assert_eq((uint64_t)sx->operands[0].imm, t == site->region ? site->stub : t,
					     "%s %s at %#lx", o->mnemonic, o->op_str, o->address);
			} else {
				cr_assert_eq(s->id, o->id, "%s became %s", o->mnemonic, s->mnemonic);
				cr_assert_eq(s->size, o->size);
				cr_assert_eq(sx->op_count, ox->op_count);
				for (unsigned i = 0; i < ox->op_count; i++) {
					if (ox->operands[i].type != X86_OP_MEM ||
					    ox->operands[i].mem.base != X86_REG_RIP)
						continue;
					cr_assert_eq(s->address + s->size + sx->operands[i].mem.disp,
						     o->address + o->size + ox->operands[i].mem.disp,
						     "%s %s at %#lx", o->mnemonic, o->op_str, o->address);
				}
			}
		}
		cr_assert_eq(oa, region_end);
		cr_assert(cs_disasm_iter(cs, &sp, &ssz, &sa, s));
		cr_assert_eq(s->id, X86_INS_JMP);
		cr_assert_eq((uint64_t)s->detail->x86.operands[0].imm, region_end);
		cr_assert_eq(sa, site->trap);
		cr_assert(cs_disasm_iter(cs, &sp, &ssz, &sa, s));
		cr_assert_eq(s->id, X86_INS_INT3);
		cr_assert(cs_disasm_iter(cs, &sp, &ssz, &sa, s));
		cr_assert_eq(s->id, X86_INS_JMP);
		cr_assert_eq((uint64_t)s->detail->x86.operands[0].imm,
			     site->stub + PATCH_STUB_RESTORE_OFF);
	}
	cs_free(o, 1);
	cs_free(s, 1);
	cs_close(&cs);
}

/* Plan hand-encoded code at the start of @buf, whole-function, stubs at STUB_OFF. */
static int
plan_buf(uint8_t *buf, size_t len, const uint64_t *avoid, size_t navoid, struct patch_plan *plan)
{
	int r = patch_plan_code(buf, len, u64(buf), true, 0, u64(buf + STUB_OFF),
				BUF_SIZE - STUB_OFF, avoid, navoid, plan);

	check_plan(plan, r, buf, u64(buf), len, u64(buf + STUB_OFF), BUF_SIZE - STUB_OFF);
	return r;
}

static uint64_t
ticks_since_zero(void)
{
	return 0 - *budget;
}

/* int f(int n): sum n..1, with the loop counter in ecx */
static const uint8_t sum_loop[] = {
	0x89, 0xf9,	  /* 0: mov ecx, edi */
	0x31, 0xc0,	  /* 2: xor eax, eax */
	0x01, 0xc8,	  /* 4: L: add eax, ecx */
	0xff, 0xc9,	  /* 6: dec ecx */
	0x75, 0xfa,	  /* 8: jnz L */
	0xc3,		  /* a: ret */
};

Test(patch, counting_loop)
{
	struct patch_plan plan;
	uint8_t *buf = load_code(sum_loop, sizeof(sum_loop));
	int (*f)(int) = (int (*)(int))buf;

	cr_assert_eq(plan_buf(buf, sizeof(sum_loop), NULL, 0, &plan), 1);
	cr_assert_eq(plan.sites[0].branch, u64(buf + 8));
	cr_assert_eq(plan.sites[0].region, u64(buf + 4), "grown back to the loop head");
	cr_assert_eq(plan.sites[0].region_len, 6);
	apply_plan(&plan, u64(buf + STUB_OFF));
	for (int n = 1; n <= 1000; n *= 10) {
		*budget = 0;
		cr_assert_eq(f(n), n * (n + 1) / 2);
		cr_assert_eq(ticks_since_zero(), (uint64_t)n, "one tick per jnz executed");
	}
	patch_plan_free(&plan);
	patch_plan_free(&plan);
}

/* int f(void): counts a dword at DATA_OFF up to 100 through rip-relative operands */
static const uint8_t riprel_loop[] = {
	0x31, 0xc0,				    /* 0: xor eax, eax */
	0x83, 0x05, 0xf7, 0x03, 0x00, 0x00, 0x01, /* 2: L: add dword [rip -> 0x400], 1 */
	0xff, 0xc0,				    /* 9: inc eax */
	0x83, 0x3d, 0xee, 0x03, 0x00, 0x00, 0x64, /* b: cmp dword [rip -> 0x400], 100 */
	0x75, 0xee,				    /* 12: jnz L */
	0xc3,					    /* 14: ret */
};

Test(patch, riprel_operand_in_region)
{
	struct patch_plan plan;
	uint8_t *buf = load_code(riprel_loop, sizeof(riprel_loop));
	int (*f)(void) = (int (*)(void))buf;
	uint32_t *counter = (uint32_t *)(buf + DATA_OFF);

	cr_assert_eq(plan_buf(buf, sizeof(riprel_loop), NULL, 0, &plan), 1);
	cr_assert_eq(plan.sites[0].region, u64(buf + 0xb), "cmp + jnz");
	apply_plan(&plan, u64(buf + STUB_OFF));
	*counter = 0;
	cr_assert_eq(f(), 100);
	cr_assert_eq(*counter, 100);
	cr_assert_eq(ticks_since_zero(), 100);
	patch_plan_free(&plan);
}

/* int f(int n): a loop whose block is 4 bytes, grown forwards over the call after it */
static const uint8_t call_after_loop[] = {
	0x53,			      /* 0: push rbx */
	0x89, 0xfb,		      /* 1: mov ebx, edi */
	0xff, 0xcb,		      /* 3: L: dec ebx */
	0x75, 0xfc,		      /* 5: jnz L */
	0xe8, 0x00, 0x00, 0x00, 0x00, /* 7: call helper (rel32 set below) */
	0x5b,			      /* c: pop rbx */
	0xc3,			      /* d: ret */
};

Test(patch, call_keeps_its_return_address)
{
	struct patch_plan plan;
	uint8_t *buf = load_code(call_after_loop, sizeof(call_after_loop));
	int (*f)(int) = (int (*)(int))buf;
	int32_t rel = (int32_t)(u64(helper) - u64(buf + 0xc));

	memcpy(buf + 8, &rel, 4);
	cr_assert_eq(plan_buf(buf, sizeof(call_after_loop), NULL, 0, &plan), 1);
	cr_assert_eq(plan.sites[0].region, u64(buf + 3));
	cr_assert_eq(plan.sites[0].region_len, 9, "dec, jnz, call");
	apply_plan(&plan, u64(buf + STUB_OFF));
	cr_assert_eq(f(7), 42);
	cr_assert_eq(ticks_since_zero(), 7);
	cr_assert_eq(helper_ra, u64(buf + 0xc), "the callee sees the original return address");
	patch_plan_free(&plan);
}

/* int f(int n): the jb consumes flags set by a cmp outside its region, across the prologue */
static const uint8_t flags_loop[] = {
	0x31, 0xc0,	  /* 0: xor eax, eax */
	0x70, 0x04,	  /* 2: jo M (never taken: makes M a target) */
	0xff, 0xc0,	  /* 4: L: inc eax */
	0x39, 0xf8,	  /* 6: cmp eax, edi */
	0x8d, 0x0c, 0x00, /* 8: M: lea ecx, [rax+rax] */
	0x72, 0xf7,	  /* b: jb L */
	0xc3,		  /* d: ret */
};

Test(patch, prologue_keeps_flags)
{
	struct patch_plan plan;
	uint8_t *buf = load_code(flags_loop, sizeof(flags_loop));
	int (*f)(int) = (int (*)(int))buf;

	cr_assert_eq(plan_buf(buf, sizeof(flags_loop), NULL, 0, &plan), 1);
	cr_assert_eq(plan.sites[0].region, u64(buf + 8), "starts at the target M");
	apply_plan(&plan, u64(buf + STUB_OFF));
	cr_assert_eq(f(1000), 1000);
	cr_assert_eq(ticks_since_zero(), 1000);
	patch_plan_free(&plan);
}

/* Trap handling shared by the trap tests. */
static struct {
	struct patch_site site;
	uint64_t rearm;	  /* budget to set after a trap (0: never again) */
	unsigned traps;
	uint64_t rcx_at_trap;
	bool bad_rip;
} trap;

static void
on_sigtrap(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	greg_t *g = uc->uc_mcontext.gregs;

	if ((uint64_t)g[REG_RIP] != trap.site.trap + 1) {
		trap.bad_rip = true;
		return;
	}
	trap.traps++;
	trap.rcx_at_trap = (uint64_t)g[REG_RCX];
	/* the clean-up the supervisor does */
	g[REG_RCX] = (greg_t)*scratch;
	g[REG_RIP] = (greg_t)trap.site.clean;
	*budget = trap.rearm;
}

static void
install_sigtrap(void (*fn)(int, siginfo_t *, void *))
{
	struct sigaction sa = { .sa_sigaction = fn, .sa_flags = SA_SIGINFO };

	sigemptyset(&sa.sa_mask);
	cr_assert_eq(sigaction(SIGTRAP, &sa, NULL), 0);
}

Test(patch, trap_after_budget)
{
	struct patch_plan plan;
	uint8_t *buf = load_code(sum_loop, sizeof(sum_loop));
	int (*f)(int) = (int (*)(int))buf;
	const uint64_t k = 37;

	cr_assert_eq(plan_buf(buf, sizeof(sum_loop), NULL, 0, &plan), 1);
	apply_plan(&plan, u64(buf + STUB_OFF));
	trap.site = plan.sites[0];
	install_sigtrap(on_sigtrap);

	*budget = k;
	cr_assert_eq(f(100), 5050, "rcx, the loop counter, survives the trap");
	cr_assert_eq(trap.traps, 1);
	cr_assert_not(trap.bad_rip);
	cr_assert_eq(trap.rcx_at_trap, 0);
	cr_assert_eq(ticks_since_zero(), 100 - k, "the trap came at the %lu-th branch", k);
	patch_plan_free(&plan);
}

Test(patch, trap_every_k_branches)
{
	struct patch_plan plan;
	uint8_t *buf = load_code(riprel_loop, sizeof(riprel_loop));
	int (*f)(void) = (int (*)(void))buf;

	cr_assert_eq(plan_buf(buf, sizeof(riprel_loop), NULL, 0, &plan), 1);
	apply_plan(&plan, u64(buf + STUB_OFF));
	trap.site = plan.sites[0];
	trap.rearm = 7;
	install_sigtrap(on_sigtrap);

	*(uint32_t *)(buf + DATA_OFF) = 0;
	*budget = 7;
	cr_assert_eq(f(), 100);
	cr_assert_eq(trap.traps, 100 / 7);
	cr_assert_not(trap.bad_rip);
	cr_assert_eq(*budget, 7 - 100 % 7);
	patch_plan_free(&plan);
}

/*
 * Single-step (EFLAGS.TF) through a patched loop and, at each region entry,
 * stop the thread at another prologue offset and apply patch_site_clean(), as
 * a supervisor would before running another thread: the loop must still be
 * right and every region entry counted exactly once.
 */
static const uint8_t stepped_loop[] = {
	0x9c,					  /* 0: pushfq */
	0x48, 0x81, 0x0c, 0x24, 0x00, 0x01, 0x00, 0x00, /* 1: or qword [rsp], TF */
	0x9d,					  /* 9: popfq */
	0x89, 0xf9,				  /* a: mov ecx, edi */
	0x31, 0xc0,				  /* c: xor eax, eax */
	0x01, 0xc8,				  /* e: L: add eax, ecx */
	0xff, 0xc9,				  /* 10: dec ecx */
	0x75, 0xfa,				  /* 12: jnz L */
	0x9c,					  /* 14: pushfq */
	0x48, 0x81, 0x24, 0x24, 0xff, 0xfe, 0xff, 0xff, /* 15: and qword [rsp], ~TF */
	0x9d,					  /* 1d: popfq */
	0xc3,					  /* 1e: ret */
};

static const unsigned step_offsets[] = { 0, 8, PATCH_STUB_COMMIT_OFF, PATCH_STUB_COMMIT_OFF - 4,
					 PATCH_STUB_JRCXZ_OFF, PATCH_STUB_RESTORE_OFF };

static struct {
	unsigned entries; /* region entries that reached C */
	bool done;	  /* this entry was stopped and cleaned */
	unsigned stops[4];
	bool wrong;
} step;

static void
on_step(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	greg_t *g = uc->uc_mcontext.gregs;
	uint64_t rip = (uint64_t)g[REG_RIP], nrip, nrcx;
	unsigned off = step_offsets[step.entries % ARRAY_SIZE(step_offsets)];
	enum patch_stop stop;

	if (rip == trap.site.trap + 1) {
		trap.traps++; /* not expected: the trap is taken at jrcxz below */
		return;
	}
	if (rip == trap.site.clean) {
		step.entries++;
		step.done = false;
		return;
	}
	if (step.done || rip != trap.site.stub + off)
		return;
	stop = patch_site_clean(&trap.site, rip, (uint64_t)g[REG_RCX], *scratch, &nrip, &nrcx);
	step.stops[stop]++;
	step.done = true;
	if (off <= PATCH_STUB_COMMIT_OFF)
		step.wrong |= stop != PATCH_STOP_UNCOUNTED || nrip != trap.site.stub;
	else
		step.wrong |= stop == PATCH_STOP_UNCOUNTED || nrip != trap.site.clean;
	if (stop == PATCH_STOP_TRAPPED) {
		trap.rcx_at_trap = (uint64_t)g[REG_RCX];
		*budget = 0;
	}
	g[REG_RIP] = (greg_t)nrip;
	g[REG_RCX] = (greg_t)nrcx;
	if (nrip == trap.site.clean) {
		step.entries++;
		step.done = false;
	}
}

Test(patch, clean_anywhere_in_prologue)
{
	struct patch_plan plan;
	uint8_t *buf = load_code(stepped_loop, sizeof(stepped_loop));
	int (*f)(int) = (int (*)(int))buf;
	const int n = 60;

	cr_assert_eq(plan_buf(buf, sizeof(stepped_loop), NULL, 0, &plan), 1);
	apply_plan(&plan, u64(buf + STUB_OFF));
	trap.site = plan.sites[0];
	install_sigtrap(on_step);

	/* the 11th entry is stopped at jrcxz (offsets cycle by 6) with rcx == 0 */
	*budget = 11;
	cr_assert_eq(f(n), n * (n + 1) / 2);
	cr_assert_eq(step.entries, (unsigned)n);
	cr_assert_not(step.wrong);
	cr_assert_eq(trap.traps, 0);
	cr_assert_eq(step.stops[PATCH_STOP_TRAPPED], 1);
	cr_assert_eq(step.stops[PATCH_STOP_UNCOUNTED], 40, "4 of 6 offsets are before the commit");
	cr_assert_eq(step.stops[PATCH_STOP_COUNTED], 19);
	cr_assert_eq(11 + ticks_since_zero(), (uint64_t)n, "each entry counted once");
	patch_plan_free(&plan);
}

Test(patch, clean_outside_is_untouched)
{
	struct patch_site site = {
		.stub = 0x1000, .clean = 0x1000 + PATCH_STUB_CLEAN_OFF, .trap = 0x1050,
	};
	uint64_t rip = 1, rcx = 2;

	cr_assert_eq(patch_site_clean(&site, 0xfff, 5, 9, &rip, &rcx), PATCH_STOP_OUTSIDE);
	cr_assert_eq(rip, 0xfff);
	cr_assert_eq(rcx, 5);
	cr_assert_eq(patch_site_clean(&site, site.clean, 5, 9, &rip, &rcx), PATCH_STOP_OUTSIDE);
	cr_assert_eq(patch_site_clean(&site, 0x1000, 5, 9, &rip, &rcx), PATCH_STOP_UNCOUNTED);
	cr_assert_eq(rcx, 5, "nothing saved yet at S");
	cr_assert_eq(patch_site_clean(&site, 0x1050, 5, 9, &rip, &rcx), PATCH_STOP_TRAPPED);
	cr_assert_eq(rip, site.clean);
	cr_assert_eq(rcx, 9);
}

/* int f(void): waits until the dword at DATA_OFF is not 0; the only way back
 * is a jmp after the jne that leaves (a flag wait compiled at -O0); the
 * loop's head has no room for a region (M, a target, lies 2 bytes in), M has
 * ([test, jne, jmp]) unless a thread stands at the jmp */
static const uint8_t jmp_wait[] = {
	0x48, 0x8d, 0x3d, 0xf9, 0x03, 0x00, 0x00, /* 0: lea rdi, [rip -> 0x400] */
	0x31, 0xc0,				    /* 7: xor eax, eax */
	0xeb, 0x02,				    /* 9: jmp M */
	0x8b, 0x07,				    /* b: L: mov eax, [rdi] */
	0x85, 0xc0,				    /* d: M: test eax, eax */
	0x75, 0x02,				    /* f: jne N */
	0xeb, 0xf8,				    /* 11: jmp L */
	0x31, 0xc0,				    /* 13: N: xor eax, eax */
	0xc3,					    /* 15: ret */
};

/* What the supervisor does at a trap site (ticks_soft_count_trap() and
 * patch_site_clean()): count, go on at the jmp's target; here the 5th tick
 * also sets the flag the code waits for. */
static struct {
	struct patch_site site;
	unsigned traps, ticks_at_set;
	bool bad_rip;
} tsite;

static void
on_trap_site(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	greg_t *g = uc->uc_mcontext.gregs;
	uint64_t rip, rcx;

	(void)sig;
	(void)si;
	if (patch_site_clean(&tsite.site, (uint64_t)g[REG_RIP], (uint64_t)g[REG_RCX], 0, &rip,
			     &rcx) != PATCH_STOP_TRAPPED) {
		tsite.bad_rip = true;
		return;
	}
	tsite.traps++;
	--*budget;
	if (tsite.traps == 5)
		*(volatile uint32_t *)(tsite.site.region - 0x11 + DATA_OFF) = 1;
	g[REG_RIP] = (greg_t)rip;
	g[REG_RCX] = (greg_t)rcx;
}

Test(patch, jmp_loops_become_trap_sites)
{
	static const uint8_t jmp_self[] = {
		0x31, 0xc0, /* 0: xor eax, eax */
		0xeb, 0xfe, /* 2: L: jmp L */
	};
	struct patch_plan plan;
	uint8_t *buf = load_code(jmp_wait, sizeof(jmp_wait));
	int (*f)(void) = (int (*)(void))buf;
	uint64_t rip, rcx;

	uint64_t at_jmp = u64(buf + 0x11);

	/* every turn runs M: counted there */
	cr_assert_eq(plan_buf(buf, sizeof(jmp_wait), NULL, 0, &plan), 1);
	cr_assert_neq(plan.sites[0].stub, 0, "a stub, not a trap site");
	cr_assert_eq(plan.sites[0].region, u64(buf + 0xd), "M, after the head");
	cr_assert_eq(plan.sites[0].region_len, 6, "[test, jne, jmp]");
	apply_plan(&plan, u64(buf + STUB_OFF));
	*(uint32_t *)(buf + DATA_OFF) = 1;
	*budget = 0;
	cr_assert_eq(f(), 0);
	cr_assert_eq(ticks_since_zero(), 2, "M ran twice");
	patch_plan_free(&plan);
	memcpy(buf, jmp_wait, sizeof(jmp_wait));

	/* a thread at the jmp: the jmp has no 5-byte region (jne before it,
	 * nothing after a jmp), nor has any instruction of the loop */
	cr_assert_eq(plan_buf(buf, sizeof(jmp_wait), &at_jmp, 1, &plan), 1);
	cr_assert_eq(plan.sites[0].stub, 0);
	cr_assert_eq(plan.sites[0].trap, u64(buf + 0x11));
	cr_assert_eq(plan.sites[0].clean, u64(buf + 0xb));
	cr_assert_eq(plan.stub_len, 0);
	apply_plan(&plan, u64(buf + STUB_OFF));
	cr_assert_eq(buf[0x11], 0xcc);
	tsite.site = plan.sites[0];
	install_sigtrap(on_trap_site);
	*(uint32_t *)(buf + DATA_OFF) = 0;
	*budget = 0;
	cr_assert_eq(f(), 0);
	cr_assert_not(tsite.bad_rip);
	cr_assert_eq(tsite.traps, 5, "one trap per jmp, until the flag");
	cr_assert_eq(ticks_since_zero(), 5);

	/* anywhere but just after its int3, a trap site has nothing in flight */
	cr_assert_eq(patch_site_clean(&plan.sites[0], u64(buf + 0x11), 7, 9, &rip, &rcx),
		     PATCH_STOP_OUTSIDE);
	cr_assert_eq(rip, u64(buf + 0x11));
	cr_assert_eq(rcx, 7);
	cr_assert_eq(patch_site_clean(&plan.sites[0], u64(buf + 0x12), 7, 9, &rip, &rcx),
		     PATCH_STOP_TRAPPED);
	cr_assert_eq(rip, u64(buf + 0xb));
	cr_assert_eq(rcx, 7, "no scratch at a trap site");
	patch_plan_free(&plan);

	/* for (;;); is a jmp to itself */
	memcpy(buf, jmp_self, sizeof(jmp_self));
	cr_assert_eq(plan_buf(buf, sizeof(jmp_self), NULL, 0, &plan), 1);
	cr_assert_eq(plan.sites[0].trap, u64(buf + 2));
	cr_assert_eq(plan.sites[0].clean, u64(buf + 2));
	patch_plan_free(&plan);

	/* a backward jcc with no region is still refused: no trap per iteration
	 * in loops that end by themselves */
	memcpy(buf, (const uint8_t[]){ 0xff, 0xcf, 0x75, 0xfc, 0xcc }, 5); /* L: dec edi; jnz L; int3 */
	cr_assert_eq(plan_buf(buf, 5, NULL, 0, &plan), 0);
	patch_plan_free(&plan);
}

/* Put `call helper` at @at of @buf (5 bytes). */
static void
put_call_helper(uint8_t *buf, size_t at)
{
	int32_t rel = (int32_t)(u64((const void *)helper) - u64(buf + at + 5));

	buf[at] = 0xe8;
	memcpy(buf + at + 1, &rel, 4);
}

/* The same flag wait with room at its head: counted there, by a stub, not by
 * a trap at every turn; and a loop closed by a jmp after a call */
Test(patch, jmp_loops_counted_at_their_head)
{
	static const uint8_t flag_wait[] = {
		0x83, 0x3d, 0xf9, 0x03, 0x00, 0x00, 0x00, /* 0: L: cmp dword [rip -> 0x400], 0 */
		0x75, 0x02,				    /* 7: jne N */
		0xeb, 0xf5,				    /* 9: jmp L */
		0x31, 0xc0,				    /* b: N: xor eax, eax */
		0xc3,					    /* d: ret */
	};
	static const uint8_t call_loop[] = {
		0x53,			      /* 0: push rbx */
		0x89, 0xfb,		      /* 1: mov ebx, edi */
		0x83, 0xeb, 0x01,	      /* 3: L: sub ebx, 1 */
		0x78, 0x07,		      /* 6: js N */
		0xe8, 0x00, 0x00, 0x00, 0x00, /* 8: call helper */
		0xeb, 0xf4,		      /* d: jmp L */
		0x5b,			      /* f: N: pop rbx */
		0xc3,			      /* 10: ret */
	};
	struct patch_plan plan;
	uint8_t *buf = load_code(flag_wait, sizeof(flag_wait));
	int (*f)(void) = (int (*)(void))buf;
	int (*g)(int) = (int (*)(int))buf;

	cr_assert_eq(plan_buf(buf, sizeof(flag_wait), NULL, 0, &plan), 1);
	cr_assert_neq(plan.sites[0].stub, 0, "a stub, not a trap site");
	cr_assert_eq(plan.sites[0].region, u64(buf), "the loop's head");
	cr_assert_eq(plan.sites[0].region_len, 7);
	apply_plan(&plan, u64(buf + STUB_OFF));
	*(uint32_t *)(buf + DATA_OFF) = 1;
	*budget = 0;
	cr_assert_eq(f(), 0);
	cr_assert_eq(ticks_since_zero(), 1, "the head ran once");
	patch_plan_free(&plan);

	memset(buf, 0xcc, BUF_SIZE);
	memcpy(buf, call_loop, sizeof(call_loop));
	put_call_helper(buf, 8);
	cr_assert_eq(plan_buf(buf, sizeof(call_loop), NULL, 0, &plan), 1);
	cr_assert_neq(plan.sites[0].stub, 0, "a stub, not a trap site");
	cr_assert_eq(plan.sites[0].region, u64(buf + 3), "the loop's head");
	cr_assert_eq(plan.sites[0].region_len, 5, "[sub, js]");
	apply_plan(&plan, u64(buf + STUB_OFF));
	for (int n = 0; n <= 100; n += 25) {
		*budget = 0;
		helper_ra = 0;
		g(n);
		cr_assert_eq(ticks_since_zero(), (uint64_t)n + 1, "one tick per turn");
		cr_assert_eq(helper_ra, n ? u64(buf + 0xd) : 0);
	}
	patch_plan_free(&plan);
}

/* A loop with no room at its head: counted at the first instruction that
 * every turn runs, not at one that a turn may skip */
Test(patch, jmp_loops_counted_where_every_turn_passes)
{
	static const uint8_t skip_loop[] = {
		0x85, 0xff,				  /* 0: L: test edi, edi */
		0x74, 0x07,				  /* 2: je X */
		0x83, 0x05, 0xf5, 0x03, 0x00, 0x00, 0x01, /* 4: add dword [rip -> 0x400], 1 */
		0xff, 0xcf,				  /* b: X: dec edi */
		0x78, 0x02,				  /* d: js N */
		0xeb, 0xef,				  /* f: jmp L */
		0xc3,					  /* 11: N: ret */
	};
	struct patch_plan plan;
	uint8_t *buf = load_code(skip_loop, sizeof(skip_loop));
	void (*f)(int) = (void (*)(int))buf;
	uint64_t avoid[] = { u64(buf + 2), u64(buf + 4) }; /* no room at L nor at the je */

	cr_assert_eq(plan_buf(buf, sizeof(skip_loop), avoid, 2, &plan), 1);
	cr_assert_neq(plan.sites[0].stub, 0, "a stub, not a trap site");
	cr_assert_eq(plan.sites[0].region, u64(buf + 0xb), "X, not the add that je skips");
	cr_assert_eq(plan.sites[0].region_len, 6, "[dec, js, jmp]");
	apply_plan(&plan, u64(buf + STUB_OFF));
	*(uint32_t *)(buf + DATA_OFF) = 0;
	*budget = 0;
	f(5);
	cr_assert_eq(*(uint32_t *)(buf + DATA_OFF), 5);
	cr_assert_eq(ticks_since_zero(), 6, "one tick per turn");
	patch_plan_free(&plan);
}

/* A backward jmp to a shared epilogue after a call (sort's comparison
 * function: `call xmemcoll0; jmp .Lret`) closes no loop: no trap site, which
 * would stop the thread at every call of the function */
Test(patch, jmp_to_epilogue_is_no_loop)
{
	static const uint8_t epilogue[] = {
		0x53,			      /* 0: push rbx */
		0x85, 0xff,		      /* 1: test edi, edi */
		0x75, 0x03,		      /* 3: jne T */
		0x5b,			      /* 5: E: pop rbx */
		0xc3,			      /* 6: ret */
		0x90,			      /* 7: nop */
		0xe8, 0x00, 0x00, 0x00, 0x00, /* 8: T: call helper */
		0xeb, 0xf6,		      /* d: jmp E */
	};
	struct patch_plan plan;
	uint8_t *buf = load_code(epilogue, sizeof(epilogue));
	int (*f)(int) = (int (*)(int))buf;
	int r;

	put_call_helper(buf, 8);
	/* no loop, but a call: its entry is counted (a recursion through
	 * others), by a stub */
	cr_assert_eq(plan_buf(buf, sizeof(epilogue), NULL, 0, &plan), 1);
	cr_assert_neq(plan.sites[0].stub, 0, "a stub, not a trap site");
	cr_assert_eq(plan.sites[0].region, u64(buf), "the entry");
	apply_plan(&plan, u64(buf + STUB_OFF));
	*budget = 0;
	for (int k = 0; k < 10; k++)
		cr_assert_eq(f(1), 42);
	cr_assert_eq(ticks_since_zero(), 10, "one tick per call");
	patch_plan_free(&plan);

	/* in window mode (no symbol), from a rip in the epilogue: nothing */
	memcpy(buf, epilogue, sizeof(epilogue));
	put_call_helper(buf, 8);
	r = patch_plan_code(buf, sizeof(epilogue), u64(buf), false, u64(buf + 5),
			    u64(buf + STUB_OFF), BUF_SIZE - STUB_OFF, NULL, 0, &plan);
	check_plan(&plan, r, buf, u64(buf), sizeof(epilogue), u64(buf + STUB_OFF),
		   BUF_SIZE - STUB_OFF);
	cr_assert_eq(r, 0, "no trap site on the jmp to the epilogue");
	patch_plan_free(&plan);
}

/* int f(int n): n + f(n - 1), f(0) = 0: a recursion without a loop */
static const uint8_t sum_rec[] = {
	0x85, 0xff,			/* 0: test edi, edi */
	0x74, 0x12,			/* 2: je Z */
	0x53,				/* 4: push rbx */
	0x89, 0xfb,			/* 5: mov ebx, edi */
	0x8d, 0x7f, 0xff,		/* 7: lea edi, [rdi-1] */
	0xe8, 0xf1, 0xff, 0xff, 0xff,	/* a: call f */
	0x01, 0xd8,			/* f: add eax, ebx */
	0x5b,				/* 11: pop rbx */
	0xc3,				/* 12: ret */
	0x90, 0x90, 0x90,		/* 13: nop (3) */
	0x31, 0xc0,			/* 16: Z: xor eax, eax */
	0xc3,				/* 18: ret */
};

Test(patch, recursion_counts_entries)
{
	struct patch_plan plan;
	uint8_t *buf = load_code(sum_rec, sizeof(sum_rec));
	int (*f)(int) = (int (*)(int))buf;

	cr_assert_eq(plan_buf(buf, sizeof(sum_rec), NULL, 0, &plan), 1);
	cr_assert_eq(plan.sites[0].region, u64(buf), "the entry");
	cr_assert_eq(plan.sites[0].region_len, 5, "[test, je, push]");
	apply_plan(&plan, u64(buf + STUB_OFF));
	*budget = 0;
	cr_assert_eq(f(10), 55);
	cr_assert_eq(ticks_since_zero(), 11, "one tick per call");
	patch_plan_free(&plan);

	/* calls another function and has no loop (a recursion through others,
	 * f -> g -> f): its entry is counted; a leaf without loops is not */
	memcpy(buf, (const uint8_t[]){ 0x53, 0xe8, 0x00, 0x01, 0x00, 0x00, 0x5b, 0xc3 }, 8);
	cr_assert_eq(plan_buf(buf, 8, NULL, 0, &plan), 1);
	cr_assert_eq(plan.sites[0].region, u64(buf));
	cr_assert_eq(plan.sites[0].region_len, 6, "[push, call]");
	patch_plan_free(&plan);
	memcpy(buf, (const uint8_t[]){ 0x8d, 0x47, 0x01, 0x01, 0xf8, 0xc3 }, 6); /* lea; add; ret */
	cr_assert_eq(plan_buf(buf, 6, NULL, 0, &plan), 0);
	patch_plan_free(&plan);
}

/* A loop whose only regions would hold a target or a stopped thread's rip. */
static const uint8_t target_inside[] = {
	0x31, 0xc0, /* 0: xor eax, eax */
	0x85, 0xff, /* 2: test edi, edi */
	0x74, 0x08, /* 4: jz N (becomes nop nop in the control case) */
	0xeb, 0x02, /* 6: jmp M */
	0xff, 0xc0, /* 8: L: inc eax */
	0xff, 0xcf, /* a: M: dec edi */
	0x75, 0xfa, /* c: jnz L */
	0xc3,	    /* e: N: ret */
};

Test(patch, refuse_target_inside)
{
	struct patch_plan plan;
	uint8_t *buf = load_code(target_inside, sizeof(target_inside));
	int (*f)(int) = (int (*)(int))buf;

	/* [inc, dec, jnz] holds M, [dec, jnz, ret] holds N (and no call: the
	 * entry is not counted instead) */
	cr_assert_eq(plan_buf(buf, sizeof(target_inside), NULL, 0, &plan), 0);
	cr_assert_null(plan.stub);
	cr_assert_null(plan.sites);
	patch_plan_free(&plan);

	/* without the jz to N, [dec, jnz, ret] is fine */
	buf[4] = buf[5] = 0x90;
	cr_assert_eq(plan_buf(buf, sizeof(target_inside), NULL, 0, &plan), 1);
	cr_assert_eq(plan.sites[0].region, u64(buf + 0xa));
	cr_assert_eq(plan.sites[0].region_len, 5);
	apply_plan(&plan, u64(buf + STUB_OFF));
	cr_assert_eq(f(9), 8);
	cr_assert_eq(ticks_since_zero(), 9);
	patch_plan_free(&plan);
}

Test(patch, refuse_avoided_address_inside)
{
	struct patch_plan plan;
	uint8_t *buf = load_code(sum_loop, sizeof(sum_loop));
	int (*f)(int) = (int (*)(int))buf;
	uint64_t avoid[] = { u64(buf + 8) }; /* a thread stopped at the jnz */

	cr_assert_eq(plan_buf(buf, sizeof(sum_loop), avoid, 1, &plan), 0);
	patch_plan_free(&plan);

	avoid[0] = u64(buf + 4); /* at the region start: fine */
	cr_assert_eq(plan_buf(buf, sizeof(sum_loop), avoid, 1, &plan), 1);
	patch_plan_free(&plan);

	avoid[0] = u64(buf + 6); /* at the dec: the region moves to [dec, jnz, ret] */
	cr_assert_eq(plan_buf(buf, sizeof(sum_loop), avoid, 1, &plan), 1);
	cr_assert_eq(plan.sites[0].region, u64(buf + 6));
	apply_plan(&plan, u64(buf + STUB_OFF));
	cr_assert_eq(f(10), 55);
	cr_assert_eq(ticks_since_zero(), 10);
	patch_plan_free(&plan);
}

Test(patch, window_mode_avoids_rip)
{
	struct patch_plan plan;
	uint8_t *buf = load_code(sum_loop, sizeof(sum_loop));
	int (*f)(int) = (int (*)(int))buf;
	uint64_t stub = u64(buf + STUB_OFF);
	int r;

	/* rip at the loop head: the region starts there */
	r = patch_plan_code(buf, sizeof(sum_loop), u64(buf), false, u64(buf + 4), stub,
			    BUF_SIZE - STUB_OFF, NULL, 0, &plan);
	check_plan(&plan, r, buf, u64(buf), sizeof(sum_loop), stub, BUF_SIZE - STUB_OFF);
	cr_assert_eq(r, 1);
	cr_assert_eq(plan.sites[0].region, u64(buf + 4));
	patch_plan_free(&plan);

	/* rip at the dec, which must not end up inside */
	r = patch_plan_code(buf, sizeof(sum_loop), u64(buf), false, u64(buf + 6), stub,
			    BUF_SIZE - STUB_OFF, NULL, 0, &plan);
	check_plan(&plan, r, buf, u64(buf), sizeof(sum_loop), stub, BUF_SIZE - STUB_OFF);
	cr_assert_eq(r, 1);
	cr_assert_eq(plan.sites[0].region, u64(buf + 6));
	apply_plan(&plan, stub);
	cr_assert_eq(f(4), 10);
	cr_assert_eq(ticks_since_zero(), 4);
	patch_plan_free(&plan);

	/* rip after the loop: no loop to count */
	r = patch_plan_code(buf, sizeof(sum_loop), u64(buf), false, u64(buf + 0xa), stub,
			    BUF_SIZE - STUB_OFF, NULL, 0, &plan);
	cr_assert_eq(r, 0);
	patch_plan_free(&plan);
}

/* With an indirect jmp the targets are unknown: only a rel32 branch alone is patched. */
static const uint8_t blind_loop[] = {
	0x31, 0xc0,			    /* 0: xor eax, eax */
	0xff, 0xc0,			    /* 2: L: inc eax */
	0xff, 0xcf,			    /* 4: dec edi */
	0x0f, 0x85, 0xf6, 0xff, 0xff, 0xff, /* 6: jnz L (rel32) */
	0xc3,				    /* c: ret */
	0xff, 0xe1,			    /* d: jmp rcx (never run) */
};

Test(patch, indirect_jump_limits_regions)
{
	struct patch_plan plan;
	uint8_t *buf = load_code(blind_loop, sizeof(blind_loop));
	int (*f)(int) = (int (*)(int))buf;
	static const uint8_t jnz_rel8[] = { 0x75, 0xfa, 0x90, 0x90, 0x90, 0x90 };
	static const uint8_t jmp_got[] = { 0xff, 0x25, 0x00, 0x01, 0x00, 0x00 };

	cr_assert_eq(plan_buf(buf, sizeof(blind_loop), NULL, 0, &plan), 1);
	cr_assert_eq(plan.sites[0].region, u64(buf + 6));
	cr_assert_eq(plan.sites[0].region_len, 6);
	apply_plan(&plan, u64(buf + STUB_OFF));
	cr_assert_eq(f(25), 25);
	cr_assert_eq(ticks_since_zero(), 25);
	patch_plan_free(&plan);

	/* jnz rel8 needs [inc, dec, jnz]: refused while jmp rcx may land on dec */
	memcpy(buf, blind_loop, sizeof(blind_loop));
	memcpy(buf + 6, jnz_rel8, sizeof(jnz_rel8));
	cr_assert_eq(plan_buf(buf, sizeof(blind_loop), NULL, 0, &plan), 0);
	patch_plan_free(&plan);

	/* a tail call through the GOT (jmp [rip+x]) is no jump table */
	buf[0xd] = 0x90;
	buf[0xe] = 0x90;
	memcpy(buf + 0xf, jmp_got, sizeof(jmp_got));
	cr_assert_eq(plan_buf(buf, 0xf + sizeof(jmp_got), NULL, 0, &plan), 1);
	patch_plan_free(&plan);
}

Test(patch, unmovable_instructions)
{
	static const uint8_t loop_insn[] = {
		0x31, 0xc0, /* xor eax, eax */
		0x89, 0xf9, /* mov ecx, edi */
		0xff, 0xc0, /* L: inc eax */
		0xe2, 0xfc, /* loop L: not a jcc, never counted */
		0xc3,
	};
	static const uint8_t syscall_loop[] = {
		0x0f, 0x05, /* L: syscall */
		0x0f, 0x05, /* syscall */
		0xff, 0xcf, /* dec edi */
		0x75, 0xf8, /* jnz L */
		0xcc, 0xcc, /* int3 int3 */
	};
	struct patch_plan plan;
	uint8_t *buf = load_code(loop_insn, sizeof(loop_insn));

	cr_assert_eq(plan_buf(buf, sizeof(loop_insn), NULL, 0, &plan), 0);
	patch_plan_free(&plan);
	memcpy(buf, syscall_loop, sizeof(syscall_loop));
	cr_assert_eq(plan_buf(buf, sizeof(syscall_loop), NULL, 0, &plan), 0,
		     "neither syscall nor int3 is moved");
	patch_plan_free(&plan);
}

Test(patch, stub_limits)
{
	struct patch_plan plan = { 0 }, untouched;
	uint8_t *buf = load_code(sum_loop, sizeof(sum_loop));
	int r;

	/* too small for one stub */
	r = patch_plan_code(buf, sizeof(sum_loop), u64(buf), true, 0, u64(buf + STUB_OFF), 40,
			    NULL, 0, &plan);
	cr_assert_eq(r, 0);
	patch_plan_free(&plan);
	/* out of rel32 reach */
	r = patch_plan_code(buf, sizeof(sum_loop), u64(buf), true, 0, u64(buf) + (3ull << 30),
			    4096, NULL, 0, &plan);
	cr_assert_eq(r, 0);
	patch_plan_free(&plan);

	memset(&untouched, 0x5a, sizeof(untouched));
	plan = untouched;
	/* stub area over the code; rip outside the window */
	r = patch_plan_code(buf, sizeof(sum_loop), u64(buf), true, 0, u64(buf + 4), 4096, NULL, 0,
			    &plan);
	cr_assert_eq(r, -EINVAL);
	r = patch_plan_code(buf, sizeof(sum_loop), u64(buf), false, u64(buf) + 100,
			    u64(buf + STUB_OFF), 4096, NULL, 0, &plan);
	cr_assert_eq(r, -EINVAL);
	cr_assert_arr_eq(&plan, &untouched, sizeof(plan), "untouched on failure");
	patch_plan_free(NULL);
}

/*
 * Compiled C loops, each in its own section so that __start_/__stop_ give
 * its exact extent, patched in place.
 */
#if defined(__has_attribute) && __has_attribute(noipa)
#define NOIPA __attribute__((noipa))
#else
#define NOIPA __attribute__((noinline))
#endif

NOIPA __attribute__((section("uprr_patch_adler"))) static uint32_t
adler_patched(const uint8_t *p, size_t n)
{
	uint32_t a = 1, b = 0;

	for (size_t i = 0; i < n; i++) {
		a = (a + p[i]) % 65521;
		b = (b + a) % 65521;
	}
	return (b << 16) | a;
}

NOIPA __attribute__((section("uprr_patch_sort"))) static void
sort_patched(int *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		int x = v[i];
		size_t j = i;

		while (j > 0 && v[j - 1] > x) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
}

extern const uint8_t __start_uprr_patch_adler[], __stop_uprr_patch_adler[];
extern const uint8_t __start_uprr_patch_sort[], __stop_uprr_patch_sort[];

/* Adler-32 written another way, so that the compiler cannot fold the two. */
static uint32_t
adler_ref(const uint8_t *p, size_t n)
{
	uint64_t a = 1, b = 0;

	while (n--) {
		a += *p++;
		a -= a >= 65521 ? 65521 : 0;
		b += a;
		b %= 65521;
	}
	return (uint32_t)(b << 16 | a);
}

static int
cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static void
make_writable(const uint8_t *start, const uint8_t *stop)
{
	uintptr_t lo = u64(start) & ~(PAGE - 1);
	uintptr_t hi = (u64(stop) + PAGE - 1) & ~(PAGE - 1);

	cr_assert_eq(mprotect((void *)lo, hi - lo, PROT_READ | PROT_WRITE | PROT_EXEC), 0,
		     "mprotect our text: %s", strerror(errno));
}

/* Plan a compiled function, whole, and apply the plan. Returns the sites. */
static int
patch_function(const uint8_t *start, const uint8_t *stop, uint8_t *stubs)
{
	struct patch_plan plan;
	size_t len = (size_t)(stop - start);
	int r;

	r = patch_plan_code(start, len, u64(start), true, 0, u64(stubs), BUF_SIZE, NULL, 0, &plan);
	check_plan(&plan, r, start, u64(start), len, u64(stubs), BUF_SIZE);
	make_writable(start, stop);
	apply_plan(&plan, u64(stubs));
	patch_plan_free(&plan);
	return r;
}

Test(patch, compiled_checksum_loop)
{
	uint8_t *stubs = map_near(__start_uprr_patch_adler, BUF_SIZE);
	static uint8_t data[100000];
	uint64_t first;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 2654435761u >> 13);
	cr_assert_eq(adler_patched(data, sizeof(data)), adler_ref(data, sizeof(data)));
	cr_assert_geq(patch_function(__start_uprr_patch_adler, __stop_uprr_patch_adler, stubs), 1);

	*budget = 0;
	cr_assert_eq(adler_patched(data, sizeof(data)), adler_ref(data, sizeof(data)));
	first = ticks_since_zero();
	cr_assert(first >= sizeof(data) / 8 && first <= sizeof(data) + 1,
		  "%lu ticks for %zu bytes", first, sizeof(data));
	*budget = 0;
	cr_assert_eq(adler_patched(data, 1000), adler_ref(data, 1000));
	cr_assert_lt(ticks_since_zero(), first);
	*budget = 0;
	cr_assert_eq(adler_patched(data, sizeof(data)), adler_ref(data, sizeof(data)));
	cr_assert_eq(ticks_since_zero(), first, "same input, same ticks");
}

Test(patch, compiled_nested_loops)
{
	uint8_t *stubs = map_near(__start_uprr_patch_sort, BUF_SIZE);
	int v[500], w[500];
	uint64_t first;

	cr_assert_geq(patch_function(__start_uprr_patch_sort, __stop_uprr_patch_sort, stubs), 1);
	for (int round = 0; round < 2; round++) {
		srand(7);
		for (size_t i = 0; i < ARRAY_SIZE(v); i++)
			v[i] = w[i] = rand() % 1000;
		qsort(w, ARRAY_SIZE(w), sizeof(*w), cmp_int);
		*budget = 0;
		sort_patched(v, ARRAY_SIZE(v));
		cr_assert_arr_eq(v, w, sizeof(v));
		if (round == 0)
			first = ticks_since_zero();
		else
			cr_assert_eq(ticks_since_zero(), first, "same input, same ticks");
	}
	cr_assert_geq(first, ARRAY_SIZE(v) - 1, "at least the outer loop");
}

static void
run_adler(void)
{
	static uint8_t data[5000];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 31 + 7);
	cr_assert_eq(adler_patched(data, sizeof(data)), adler_ref(data, sizeof(data)));
}

static void
run_sort(void)
{
	int v[100], w[100];

	for (size_t i = 0; i < ARRAY_SIZE(v); i++)
		v[i] = w[i] = (int)((i * 37 + 11) % 101); /* 0 comes late: all paths */
	qsort(w, ARRAY_SIZE(w), sizeof(*w), cmp_int);
	sort_patched(v, ARRAY_SIZE(v));
	cr_assert_arr_eq(v, w, sizeof(v));
}

/* Every instruction of a compiled function as a stopped thread's rip, in
 * window mode: plan, patch, run, check, restore. Returns how many rips led to
 * a patch that counted ticks. */
static unsigned
window_every_rip(const uint8_t *start, const uint8_t *stop, void (*run)(void))
{
	size_t len = (size_t)(stop - start);
	uint8_t *stubs = map_near(start, BUF_SIZE), *saved = malloc(len);
	const uint8_t *wlo = (const uint8_t *)(u64(start) & ~(PAGE - 1));
	const uint8_t *whi = stop + 64;
	unsigned counted = 0;
	cs_insn *insn;
	size_t n;
	csh cs;

	/* the window may run 64 bytes past the function if that stays in its page */
	if ((u64(whi) & ~(PAGE - 1)) != (u64(stop) & ~(PAGE - 1)))
		whi = stop;
	memcpy(saved, start, len);
	make_writable(start, stop);
	cr_assert_eq(cs_open(CS_ARCH_X86, CS_MODE_64, &cs), CS_ERR_OK);
	n = cs_disasm(cs, saved, len, u64(start), 0, &insn);
	cr_assert_gt(n, 0);
	for (size_t k = 0; k < n; k++) {
		struct patch_plan plan;
		int r;

		memcpy((void *)start, saved, len);
		r = patch_plan_code(wlo, (size_t)(whi - wlo), u64(wlo), false, insn[k].address,
				    u64(stubs), BUF_SIZE, NULL, 0, &plan);
		check_plan(&plan, r, wlo, u64(wlo), (size_t)(whi - wlo), u64(stubs), BUF_SIZE);
		for (size_t s = 0; s < plan.nsites; s++)
			cr_assert(insn[k].address <= plan.sites[s].region ||
				  insn[k].address >= plan.sites[s].region + plan.sites[s].region_len,
				  "rip strictly inside a region");
		apply_plan(&plan, u64(stubs));
		*budget = 0;
		run();
		/* a patched loop may be on a path run() does not take (sanitizers) */
		cr_assert(r > 0 || ticks_since_zero() == 0, "rip %#lx", insn[k].address);
		counted += ticks_since_zero() > 0;
		patch_plan_free(&plan);
	}
	cs_free(insn, n);
	cs_close(&cs);
	memcpy((void *)start, saved, len);
	free(saved);
	return counted;
}

Test(patch, compiled_window_every_rip)
{
	cr_assert_gt(window_every_rip(__start_uprr_patch_adler, __stop_uprr_patch_adler, run_adler),
		     0, "rips inside the loop find it and count");
	cr_assert_gt(window_every_rip(__start_uprr_patch_sort, __stop_uprr_patch_sort, run_sort), 0,
		     "rips inside the loops find them and count");
}

/* Plans over library code: never executed, checked by check_plan(). */
struct libc_info {
	const char *path;
	uint64_t base;
	uint64_t text_lo, text_hi; /* executable PT_LOAD, as mapped */
};

static int
find_libc(struct dl_phdr_info *info, size_t size, void *data)
{
	struct libc_info *li = data;
	/* libc's own qsort: a sanitizer's runtime interposes it */
	uint64_t q = u64(dlsym(RTLD_NEXT, "qsort"));

	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uint64_t lo = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && q >= lo && q < lo + ph->p_memsz) {
			li->path = info->dlpi_name;
			li->base = info->dlpi_addr;
			li->text_lo = lo;
			li->text_hi = lo + ph->p_filesz;
			return 1;
		}
	}
	return 0;
}

/* Plan [addr, addr+len) whole, and in window mode at every @rip_step-th instruction. */
static unsigned
plan_library_code(const uint8_t *code, size_t len, unsigned rip_step)
{
	uint64_t addr = u64(code), stub = (addr & ~(PAGE - 1)) - (64ul << 20);
	struct patch_plan plan;
	unsigned sites;
	cs_insn *insn;
	size_t n;
	csh cs;
	int r;

	r = patch_plan_code(code, len, addr, true, 0, stub, 1 << 20, NULL, 0, &plan);
	check_plan(&plan, r, code, addr, len, stub, 1 << 20);
	sites = plan.nsites;
	patch_plan_free(&plan);

	if (!rip_step)
		return sites;
	cr_assert_eq(cs_open(CS_ARCH_X86, CS_MODE_64, &cs), CS_ERR_OK);
	n = cs_disasm(cs, code, len, addr, 0, &insn);
	for (size_t k = 0; k < n; k += rip_step) {
		uint64_t avoid = insn[k].address + 1; /* not a boundary: must still be honoured */

		r = patch_plan_code(code, len, addr, false, insn[k].address, stub, 4096, &avoid, 1,
				    &plan);
		check_plan(&plan, r, code, addr, len, stub, 4096);
		cr_assert_leq(r, 1, "window mode patches one loop");
		for (size_t s = 0; s < plan.nsites; s++)
			cr_assert(avoid <= plan.sites[s].region ||
				  avoid >= plan.sites[s].region + plan.sites[s].region_len);
		patch_plan_free(&plan);
	}
	if (n)
		cs_free(insn, n);
	cs_close(&cs);
	return sites;
}

Test(patch, libc_named_functions)
{
	static const char *const names[] = { "memchr", "strlen", "qsort", "strstr", "memcpy" };
	struct libc_info li = { 0 };

	cr_assert_eq(dl_iterate_phdr(find_libc, &li), 1);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		/* RTLD_NEXT: libc's, not a sanitizer's interceptor */
		const uint8_t *f = dlsym(RTLD_NEXT, names[i]);
		size_t len = 1024;

		cr_assert_not_null(f, "%s", names[i]);
		/* IFUNCs resolve to an implementation whose size we do not know */
		if (u64(f) + len > li.text_hi)
			len = li.text_hi - u64(f);
		plan_library_code(f, len, 1);
	}
}

Test(patch, libc_every_function, .timeout = 100)
{
	struct libc_info li = { 0 };
	unsigned functions = 0, sites = 0;
	Elf_Scn *scn = NULL;
	Elf *elf;
	int fd;

	cr_assert_eq(dl_iterate_phdr(find_libc, &li), 1);
	cr_assert_neq(elf_version(EV_CURRENT), EV_NONE);
	fd = open(li.path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0, "%s: %s", li.path, strerror(errno));
	elf = elf_begin(fd, ELF_C_READ, NULL);
	cr_assert_not_null(elf);
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		gelf_getshdr(scn, &sh);
		if (sh.sh_type != SHT_DYNSYM && sh.sh_type != SHT_SYMTAB)
			continue;
		d = elf_getdata(scn, NULL);
		for (size_t k = 0; k < sh.sh_size / sh.sh_entsize; k++) {
			GElf_Sym sym;
			uint64_t a;

			gelf_getsym(d, (int)k, &sym);
			a = li.base + sym.st_value;
			if (GELF_ST_TYPE(sym.st_info) != STT_FUNC || !sym.st_size ||
			    a < li.text_lo || a + sym.st_size > li.text_hi)
				continue;
			/* window mode at every 16th instruction keeps this under seconds */
			sites += plan_library_code((const uint8_t *)(uintptr_t)a, sym.st_size, 16);
			functions++;
		}
	}
	elf_end(elf);
	close(fd);
	cr_log_info("%u libc functions, %u sites", functions, sites);
	cr_assert_gt(functions, 500);
	cr_assert_gt(sites, functions / 10, "libc has loops");
}
