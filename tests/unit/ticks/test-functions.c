/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of ticks_function_at on the test process itself (and a forked
 * copy): a static function found through .symtab and, independently, through
 * .eh_frame; an exported libc function through .dynsym (checked against
 * dladdr1's symbol); a libc function only .eh_frame knows (the memcpy
 * implementation the IFUNC picked: Debian's libc.so.6 has no .symtab);
 * anonymous and unmapped memory; a vanished process; the cache.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sched/ticks-private.h"
#include "sched/ticks.h"

static void
fini(void)
{
	ticks_functions_reset();
}

TestSuite(ticks_functions, .fini = fini, .timeout = 20);

/* gcc's constant propagation may call a clone (.constprop) instead: noclone
 * keeps its address the one called; clang has no such attribute and does not
 * clone functions */
#ifdef __clang__
#define NOCLONE
#else
#define NOCLONE __attribute__((noclone))
#endif

/* A static function with a body of some length */
static __attribute__((noinline, used)) NOCLONE unsigned
sample_function(unsigned n)
{
	unsigned h = 2166136261u;

	for (unsigned i = 0; i < n; i++) {
		h ^= i;
		h *= 16777619u;
		if (h & 1)
			h += i;
	}
	return h;
}

static uint64_t
addr_of(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

/* The lookup with @sources; asserts the return value is @want */
static void
lookup(pid_t pid, uint64_t addr, unsigned sources, int want, uint64_t *ret_start,
       uint64_t *ret_end)
{
	int r = ticks_function_lookup(pid, addr, sources, ret_start, ret_end);

	cr_assert_eq(r, want, "lookup of %#llx (sources %u): %d (%s), expected %d",
		     (unsigned long long)addr, sources, r, r < 0 ? strerror(-r) : "", want);
}

Test(ticks_functions, static_function_symtab_and_eh_frame_agree)
{
	uint64_t a = addr_of((const void *)sample_function);
	uint64_t s, e, cs, ce;

	cr_assert_eq(sample_function(10), sample_function(10));
	cr_assert_eq(ticks_function_at(getpid(), a, &s, &e), 1);
	cr_assert_eq(s, a, "start %#llx, function at %#llx", (unsigned long long)s,
		     (unsigned long long)a);
	cr_assert_gt(e, a + 16, "a loop takes more than 16 bytes");
	cr_assert_lt(e, a + 4096);
	/* every address inside gives the same extent; the end is outside */
	for (uint64_t x = s; x < e; x += 7) {
		uint64_t s2, e2;

		cr_assert_eq(ticks_function_at(getpid(), x, &s2, &e2), 1);
		cr_assert(s2 == s && e2 == e, "%#llx", (unsigned long long)x);
	}
	lookup(getpid(), a, TICKS_FUNCTION_SYMBOLS, 1, &s, &e);
	lookup(getpid(), a + 1, TICKS_FUNCTION_CFI, 1, &cs, &ce);
	cr_assert(cs == s && ce == e, "FDE [%#llx, %#llx) vs symbol [%#llx, %#llx)",
		  (unsigned long long)cs, (unsigned long long)ce, (unsigned long long)s,
		  (unsigned long long)e);
}

Test(ticks_functions, libc_dynsym)
{
	/* RTLD_NEXT: libc's qsort, not a sanitizer's interceptor */
	void *qs = dlsym(RTLD_NEXT, "qsort");
	const ElfW(Sym) *sym = NULL;
	Dl_info info;
	uint64_t s, e, cs, ce;

	cr_assert_not_null(qs);
	cr_assert(dladdr1(qs, &info, (void **)&sym, RTLD_DL_SYMENT));
	cr_assert_not_null(sym);
	cr_assert(strstr(info.dli_fname, "libc.so"), "qsort from %s", info.dli_fname);
	cr_assert_eq(ticks_function_at(getpid(), addr_of(qs) + 2, &s, &e), 1);
	cr_assert_eq(s, addr_of(qs));
	cr_assert_eq(e, addr_of(qs) + sym->st_size, "end %#llx, size %llu", (unsigned long long)e,
		     (unsigned long long)sym->st_size);
	/* the FDE, where libc has one for it, covers the same address */
	lookup(getpid(), addr_of(qs) + 2, TICKS_FUNCTION_CFI, 1, &cs, &ce);
	cr_assert(cs <= addr_of(qs) + 2 && addr_of(qs) + 2 < ce);
}

Test(ticks_functions, libc_eh_frame_only)
{
	/* dlsym runs memcpy's IFUNC resolver: an implementation libc does not export */
	uint64_t a = addr_of(dlsym(RTLD_DEFAULT, "memcpy"));
	uint64_t s, e, cs, ce;
	int r;

	cr_assert_neq(a, 0);
	r = ticks_function_lookup(getpid(), a, TICKS_FUNCTION_SYMBOLS, &s, &e);
	cr_assert_geq(r, 0);
	if (r == 1)
		cr_skip_test("this libc has a symbol for its memcpy implementation at %#llx",
			     (unsigned long long)a);
	lookup(getpid(), a, TICKS_FUNCTION_CFI, 1, &cs, &ce);
	cr_assert(cs <= a && a < ce);
	cr_assert_lt(ce - cs, 64 * 1024, "[%#llx, %#llx)", (unsigned long long)cs,
		     (unsigned long long)ce);
	cr_assert_eq(ticks_function_at(getpid(), a, &s, &e), 1);
	cr_assert(s == cs && e == ce, "without a symbol the FDE decides");
}

Test(ticks_functions, anonymous_and_unmapped)
{
	long page = sysconf(_SC_PAGESIZE);
	char *anon = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE | PROT_EXEC,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t s = 1, e = 2;
	int on_stack;

	cr_assert_neq(anon, MAP_FAILED);
	cr_assert_eq(ticks_function_at(getpid(), addr_of(anon) + 16, &s, &e), 0);
	cr_assert_eq(ticks_function_at(getpid(), addr_of(&on_stack), &s, &e), 0);
	cr_assert_eq(munmap(anon + page, (size_t)page), 0);
	cr_assert_eq(ticks_function_at(getpid(), addr_of(anon) + (uint64_t)page, &s, &e), 0);
	cr_assert_eq(ticks_function_at(getpid(), 0, &s, &e), 0);
	cr_assert(s == 1 && e == 2, "outputs untouched without a function");
	munmap(anon, (size_t)page);
}

Test(ticks_functions, another_process)
{
	uint64_t a = addr_of((const void *)sample_function), s, e, ms, me;
	pid_t child = fork();
	int status;

	cr_assert_geq(child, 0);
	if (child == 0) {
		pause();
		_exit(0);
	}
	cr_assert_eq(ticks_function_at(getpid(), a + 3, &ms, &me), 1);
	cr_assert_eq(ticks_function_at(child, a + 3, &s, &e), 1);
	kill(child, SIGKILL);
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert(s == ms && e == me, "fork keeps the layout");
	/* a process that is gone has no /proc/PID/maps */
	cr_assert_eq(ticks_function_at(child, a, &s, &e), -ENOENT);
}

Test(ticks_functions, cache_parses_each_file_once)
{
	uint64_t a = addr_of((const void *)sample_function), q = addr_of(dlsym(RTLD_NEXT, "qsort"));
	uint64_t s, e;
	unsigned p0 = ticks_functions_parsed();

	for (int i = 0; i < 5; i++) {
		cr_assert_eq(ticks_function_at(getpid(), a, &s, &e), 1);
		cr_assert_eq(ticks_function_at(getpid(), q, &s, &e), 1);
	}
	cr_assert_eq(ticks_functions_parsed() - p0, 2, "the test binary and libc, once each");
	ticks_functions_reset();
	cr_assert_eq(ticks_function_at(getpid(), a, &s, &e), 1);
	cr_assert_eq(ticks_functions_parsed() - p0, 3, "parsed again after a reset");
}
