/* SPDX-License-Identifier: MIT */
#define LOG_PREFIX "arch"
#include "x86_64/arch.h"

#include <cpuid.h>
#include <errno.h>
#include <stddef.h>
#include <x86intrin.h>

#include "common/lazylib.h"
#include "common/log.h"
#include "x86_64/capstone-lazy.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static struct arch_capstone cs_api;

/* clang-format off */
static const struct lazylib_fn cs_fns[] = {
	{ "cs_open", (void **)&cs_api.open },
	{ "cs_close", (void **)&cs_api.close },
	{ "cs_option", (void **)&cs_api.option },
	{ "cs_disasm", (void **)&cs_api.disasm },
	{ "cs_disasm_iter", (void **)&cs_api.disasm_iter },
	{ "cs_malloc", (void **)&cs_api.malloc },
	{ "cs_free", (void **)&cs_api.free },
	{ "cs_insn_group", (void **)&cs_api.insn_group },
};
/* clang-format on */

/* capstone's build names its library after the API's major version
 * (SOVERSION in its CMakeLists.txt: libcapstone.so.4 for 4.0.x) */
static struct lazylib cs_lib = {
	.soname = "libcapstone.so." STR(CS_API_MAJOR),
	.fns = cs_fns,
	.nfns = ARRAY_SIZE(cs_fns),
};

const struct arch_capstone *
arch_capstone(void)
{
	return lazylib_load(&cs_lib) < 0 ? NULL : &cs_api;
}

int
arch_decode_trapped(const uint8_t *code, size_t len, enum arch_trapped_insn *ret_kind,
		    unsigned *ret_len)
{
	static csh handle;
	static bool opened;
	const struct arch_capstone *cs;
	cs_insn *insn;
	size_t n;
	int r = -EINVAL;

	/* The encodings PR_SET_TSC traps without prefixes, 0f 31 and
	 * 0f 01 f9 (SDM vol. 2B, RDTSC and RDTSCP): every rdtsc of ld.so and
	 * libc, decoded here so that a recording that counts no ticks never
	 * loads capstone. */
	if (len >= 2 && code[0] == 0x0f && code[1] == 0x31) {
		*ret_kind = ARCH_INSN_RDTSC;
		*ret_len = 2;
		return 0;
	}
	if (len >= 3 && code[0] == 0x0f && code[1] == 0x01 && code[2] == 0xf9) {
		*ret_kind = ARCH_INSN_RDTSCP;
		*ret_len = 3;
		return 0;
	}
	cs = arch_capstone();
	if (!cs)
		return -EINVAL;
	if (!opened) {
		if (cs->open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK)
			return -EINVAL;
		opened = true;
	}
	n = cs->disasm(handle, code, len, 0, 1, &insn);
	if (n < 1)
		return -EINVAL;
	switch (insn[0].id) {
	case X86_INS_RDTSC:
		*ret_kind = ARCH_INSN_RDTSC;
		break;
	case X86_INS_RDTSCP:
		*ret_kind = ARCH_INSN_RDTSCP;
		break;
	default:
		*ret_kind = ARCH_INSN_NONE;
		break;
	}
	*ret_len = insn[0].size;
	r = 0;
	cs->free(insn, n);
	return r;
}

uint64_t
arch_rdtscp(uint32_t *ret_aux)
{
	unsigned aux;
	uint64_t t = __rdtscp(&aux);

	*ret_aux = aux;
	return t;
}

void
arch_cpu_identity(char vendor[16], uint32_t features[8])
{
	unsigned a, b, c, d;

	memset(vendor, 0, 16);
	memset(features, 0, 8 * sizeof(uint32_t));
	__cpuid(0, a, b, c, d);
	memcpy(vendor, &b, 4);
	memcpy(vendor + 4, &d, 4);
	memcpy(vendor + 8, &c, 4);
	__cpuid(1, a, b, c, d);
	/* leave out the APIC id and other per-CPU bits: only feature flags */
	features[0] = c & ~(1u << 27); /* OSXSAVE follows CR4, same on one machine */
	features[1] = d;
	__cpuid_count(7, 0, a, b, c, d);
	features[2] = b;
	features[3] = c;
	features[4] = d;
	__cpuid_count(0xd, 1, a, b, c, d);
	features[5] = a;
	__cpuid(0x80000001, a, b, c, d);
	features[6] = c;
	features[7] = d;
}

size_t
arch_xstate_size(void)
{
	/* cpuid traps to the hypervisor in a VM (tens of microseconds): ask
	 * once; the answer does not change while uprr runs */
	static size_t size;
	unsigned a, b, c, d;

	if (size)
		return size;
	if (__get_cpuid_max(0, NULL) < 0xd)
		return size = 4096;
	/* ebx: the size for the features enabled in XCR0 now; ecx: for every
	 * feature the CPU supports. AMX's tile data alone is 8 KiB. */
	__cpuid_count(0xd, 0, a, b, c, d);
	return size = MAX(MAX(b, c), 4096u);
}

/* The general registers arch_regs_differ() compares, by name. */
static const struct {
	const char *name;
	size_t off;
} compared_regs[] = {
#define R(x) { #x, offsetof(struct user_regs_struct, x) }
	R(rip), R(rsp), R(orig_rax), R(rdi), R(rsi), R(rdx), R(r10), R(r8), R(r9),
	R(rax), R(rbx), R(rcx), R(rbp), R(r11), R(r12), R(r13), R(r14), R(r15),
	R(fs_base), R(gs_base), R(cs), R(ss), R(eflags),
#undef R
};

const char *
arch_regs_differ(const struct user_regs_struct *a, const struct user_regs_struct *b)
{
	/* arithmetic flags, DF; RF and TF depend on how we stopped */
	const unsigned long long flags_mask = 0x8d5 | 0x400;

	/* all but eflags, last in the table */
	for (size_t i = 0; i + 1 < ARRAY_SIZE(compared_regs); i++) {
		unsigned long long va, vb;

		memcpy(&va, (const char *)a + compared_regs[i].off, sizeof(va));
		memcpy(&vb, (const char *)b + compared_regs[i].off, sizeof(vb));
		if (va != vb)
			return compared_regs[i].name;
	}
	if ((a->eflags & flags_mask) != (b->eflags & flags_mask))
		return "eflags";
	return NULL;
}

bool
arch_reg_value(const struct user_regs_struct *r, const char *name, uint64_t *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(compared_regs); i++) {
		if (strcmp(compared_regs[i].name, name) == 0) {
			memcpy(ret, (const char *)r + compared_regs[i].off, sizeof(*ret));
			return true;
		}
	}
	return false;
}
