/* SPDX-License-Identifier: MIT */
/*
 * Finds the vDSO as runtimes do (Go, V8): getauxval(AT_SYSINFO_EHDR), checks
 * the ELF magic, looks __vdso_clock_gettime up in its dynamic symbol table
 * (PT_DYNAMIC: DT_SYMTAB, DT_STRTAB, DT_HASH or DT_GNU_HASH for the count)
 * and calls it; then clock_gettime, gettimeofday and time through glibc.
 * Prints whether each was found and whether time went forward, never the
 * times, so the output is the same natively and under uprr.
 * `vdso_lookup N` calls each N times (default 100).
 */
#include <elf.h>
#include <link.h>
#include <stdbool.h>
#include <sys/auxv.h>
#include <sys/time.h>

#include "progs.h"

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);

/* The number of symbols of a DT_GNU_HASH table: past the highest bucket,
 * the chain ends at an entry with the low bit set. */
static size_t
gnu_hash_count(const uint32_t *h)
{
	uint32_t nbuckets = h[0], symoff = h[1], bloom = h[2], max = 0;
	const uint32_t *buckets = h + 4 + bloom * 2, *chain = buckets + nbuckets;

	for (uint32_t i = 0; i < nbuckets; i++)
		if (buckets[i] > max)
			max = buckets[i];
	if (max < symoff)
		return symoff;
	while (!(chain[max - symoff] & 1))
		max++;
	return max + 1;
}

static void *
vdso_sym(const char *want, bool *ret_elf_ok)
{
	const uint8_t *base = (const uint8_t *)getauxval(AT_SYSINFO_EHDR);
	const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)base;
	const ElfW(Phdr) *ph;
	const ElfW(Dyn) *dyn = NULL;
	const ElfW(Sym) *syms = NULL;
	const char *strs = NULL;
	size_t count = 0;
	uintptr_t load = UINTPTR_MAX;

	*ret_elf_ok = false;
	if (!base)
		return NULL;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64)
		return NULL;
	*ret_elf_ok = true;
	ph = (const ElfW(Phdr) *)(base + eh->e_phoff);
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD && load == UINTPTR_MAX)
			load = (uintptr_t)base + ph[i].p_offset - ph[i].p_vaddr;
		if (ph[i].p_type == PT_DYNAMIC)
			dyn = (const ElfW(Dyn) *)(base + ph[i].p_offset);
	}
	if (!dyn || load == UINTPTR_MAX)
		return NULL;
	for (; dyn->d_tag != DT_NULL; dyn++) {
		const void *p = (const void *)(load + dyn->d_un.d_ptr);

		if (dyn->d_tag == DT_SYMTAB)
			syms = p;
		else if (dyn->d_tag == DT_STRTAB)
			strs = p;
		else if (dyn->d_tag == DT_HASH)
			count = ((const uint32_t *)p)[1];
		else if (dyn->d_tag == DT_GNU_HASH && !count)
			count = gnu_hash_count(p);
	}
	if (!syms || !strs)
		return NULL;
	for (size_t i = 0; i < count; i++)
		if (syms[i].st_shndx != SHN_UNDEF && strcmp(strs + syms[i].st_name, want) == 0)
			return (void *)(load + syms[i].st_value);
	return NULL;
}

static bool
after(const struct timespec *a, const struct timespec *b)
{
	return b->tv_sec > a->tv_sec || (b->tv_sec == a->tv_sec && b->tv_nsec >= a->tv_nsec);
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100;
	bool elf_ok, mono = true, real = true, tod = true, tm = true;
	clock_gettime_fn fn = (clock_gettime_fn)vdso_sym("__vdso_clock_gettime", &elf_ok);
	struct timespec prev = { 0 }, now, rprev = { 0 };
	struct timeval tvprev = { 0 }, tv;
	time_t tprev = 0, t;
	unsigned nonzero = 0;

	say("AT_SYSINFO_EHDR: %s\n", getauxval(AT_SYSINFO_EHDR) ? "present" : "missing");
	say("ELF magic: %s\n", elf_ok ? "ok" : "bad");
	say("__vdso_clock_gettime: %s\n", fn ? "found" : "not found");
	for (int i = 0; i < n; i++) {
		if (fn) {
			if (fn(CLOCK_MONOTONIC, &now) != 0)
				die("__vdso_clock_gettime failed");
			mono &= after(&prev, &now);
			nonzero += now.tv_nsec != 0;
			prev = now;
			if (fn(CLOCK_REALTIME, &now) != 0)
				die("__vdso_clock_gettime REALTIME failed");
			real &= after(&rprev, &now);
			rprev = now;
		}
		if (clock_gettime(CLOCK_MONOTONIC, &now) != 0)
			die("clock_gettime failed");
		mono &= after(&prev, &now);
		prev = now;
		if (gettimeofday(&tv, NULL) != 0)
			die("gettimeofday failed");
		tod &= tv.tv_sec > tvprev.tv_sec ||
		       (tv.tv_sec == tvprev.tv_sec && tv.tv_usec >= tvprev.tv_usec);
		tvprev = tv;
		t = time(NULL);
		tm &= t >= tprev;
		tprev = t;
	}
	say("vdso monotonic: %s\n", fn ? (mono ? "yes" : "NO") : "n/a");
	say("vdso realtime forward: %s\n", fn ? (real ? "yes" : "NO") : "n/a");
	say("gettimeofday forward: %s\n", tod ? "yes" : "NO");
	say("time forward: %s\n", tm ? "yes" : "NO");
	if (fn && nonzero == 0)
		die("the vDSO's clock never moved");
	return fn && mono && real && tod && tm ? 0 : 1;
}
