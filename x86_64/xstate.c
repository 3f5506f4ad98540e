/* SPDX-License-Identifier: MIT */
/*
 * The fields of an XSAVE area in the standard (non-compacted) format that
 * PTRACE_GETREGSET NT_X86_XSTATE returns (Intel SDM vol. 1, 13.4 and 13.5;
 * AMD APM vol. 2, 11.5): their offsets and names, to compare two threads'
 * extended states and name the first field that differs.
 */
#include <cpuid.h>
#include <stdio.h>
#include <string.h>

#include "x86_64/arch.h"

/* The legacy region (FXSAVE layout) and the XSAVE header. */
#define LEGACY_ST 32	     /* st0-st7 / mm0-mm7, 16 bytes each, 10 used */
#define LEGACY_XMM 160	     /* xmm0-xmm15, 16 bytes each */
#define LEGACY_RESERVED 416  /* 416-463 reserved, 464-511 the kernel's fx_sw_bytes */
#define XSAVE_EXTENDED 576   /* after the 64-byte header at 512 */

/* One named field: [off, off + len). */
struct field {
	size_t off, len;
	char name[24];
};

/* The 8 bytes at @p (fewer if @len is shorter), little-endian. */
static uint64_t
low_word(const uint8_t *p, size_t len)
{
	uint64_t v = 0;

	memcpy(&v, p, MIN(len, sizeof(v)));
	return v;
}

/* Whether field @f differs between @a and @b; if so fills the results. */
static bool
field_differs(const struct field *f, const uint8_t *a, const uint8_t *b, char *ret_name,
	      size_t name_len, uint64_t *ret_a, uint64_t *ret_b)
{
	if (memcmp(a + f->off, b + f->off, f->len) == 0)
		return false;
	snprintf(ret_name, name_len, "%s", f->name);
	*ret_a = low_word(a + f->off, f->len);
	*ret_b = low_word(b + f->off, f->len);
	return true;
}

/* The name of element @i of extended component @comp, each @elem bytes. */
static void
component_name(unsigned comp, size_t i, char *buf, size_t len)
{
	switch (comp) {
	case 2: snprintf(buf, len, "ymm%zu_hi128", i); break;	/* AVX: upper halves of ymm0-15 */
	case 3: snprintf(buf, len, "bnd%zu", i); break;		/* MPX bounds */
	case 4: snprintf(buf, len, "bndcsr"); break;
	case 5: snprintf(buf, len, "k%zu", i); break;		/* AVX-512 opmask */
	case 6: snprintf(buf, len, "zmm%zu_hi256", i); break;	/* upper halves of zmm0-15 */
	case 7: snprintf(buf, len, "zmm%zu", i + 16); break;	/* zmm16-31 */
	case 9: snprintf(buf, len, "pkru"); break;
	case 17: snprintf(buf, len, "tilecfg"); break;		/* AMX */
	case 18: snprintf(buf, len, "tmm%zu", i); break;
	default: snprintf(buf, len, "xfeature%u+%zu", comp, i * 8); break;
	}
}

/* Bytes per named element of extended component @comp (its size if whole). */
static size_t
component_elem(unsigned comp, size_t size)
{
	switch (comp) {
	case 2: case 3: return 16;
	case 5: return 8;
	case 6: return 32;
	case 7: return 64;
	case 18: return 1024;
	case 4: case 9: case 17: return size;
	default: return 8;
	}
}

/* The user components of the XSAVE area: offset and size (0: none), from
 * cpuid leaf 0xd, asked once (cpuid traps to the hypervisor in a VM). */
struct component {
	unsigned off, size;
};

static const struct component *
components(void)
{
	static struct component comps[63];
	static bool known;

	if (known)
		return comps;
	if (__get_cpuid_max(0, NULL) >= 0xd) {
		for (unsigned comp = 2; comp < ARRAY_SIZE(comps); comp++) {
			unsigned size, off, ecx, edx;

			__cpuid_count(0xd, comp, size, off, ecx, edx);
			/* ecx bit 0: a supervisor component, not in this area */
			if (size && !(ecx & 1) && off >= XSAVE_EXTENDED)
				comps[comp] = (struct component){ off, size };
		}
	}
	known = true;
	return comps;
}

bool
arch_xstate_differ(const uint8_t *a, const uint8_t *b, size_t len, char *ret_name, size_t name_len,
		   uint64_t *ret_a, uint64_t *ret_b)
{
	/* clang-format off */
	static const struct field legacy[] = {
		{ 0, 2, "fcw" }, { 2, 2, "fsw" }, { 4, 1, "ftw" }, { 6, 2, "fop" },
		{ 8, 8, "fip" }, { 16, 8, "fdp" }, { 24, 4, "mxcsr" },
	};
	/* clang-format on */
	const struct component *comps = components();

	if (len < XSAVE_EXTENDED)
		len = MIN(len, (size_t)LEGACY_RESERVED);
	for (size_t i = 0; i < ARRAY_SIZE(legacy); i++)
		if (legacy[i].off + legacy[i].len <= len &&
		    field_differs(&legacy[i], a, b, ret_name, name_len, ret_a, ret_b))
			return true;
	/* mxcsr_mask (28) is the CPU's; of each st register 10 bytes are used */
	for (size_t i = 0; i < 8; i++) {
		struct field f = { LEGACY_ST + 16 * i, 10, "" };

		snprintf(f.name, sizeof(f.name), "st%zu", i);
		if (f.off + f.len <= len && field_differs(&f, a, b, ret_name, name_len, ret_a, ret_b))
			return true;
	}
	for (size_t i = 0; i < 16; i++) {
		struct field f = { LEGACY_XMM + 16 * i, 16, "" };

		snprintf(f.name, sizeof(f.name), "xmm%zu", i);
		if (f.off + f.len <= len && field_differs(&f, a, b, ret_name, name_len, ret_a, ret_b))
			return true;
	}
	/* 416-575: reserved bytes, the kernel's software bytes and the
	 * header, whose XSTATE_BV says which components are in their initial
	 * state: not program state, and the kernel writes the initial values
	 * of those that are (copy_xstate_to_uabi_buf(),
	 * arch/x86/kernel/fpu/xstate.c), so the fields compare equal anyway */
	for (unsigned comp = 2; comp < 63; comp++) {
		size_t off = comps[comp].off, size = comps[comp].size, elem;

		if (!size || off + size > len)
			continue;
		elem = component_elem(comp, size);
		for (size_t i = 0; i * elem < size; i++) {
			struct field f = { off + i * elem, MIN(elem, size - i * elem), "" };

			component_name(comp, i, f.name, sizeof(f.name));
			if (field_differs(&f, a, b, ret_name, name_len, ret_a, ret_b))
				return true;
		}
	}
	return false;
}
