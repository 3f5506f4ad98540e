/* SPDX-License-Identifier: MIT */
/*
 * The vDSO of a recorded process. It stays mapped and announced in the auxv
 * (AT_SYSINFO_EHDR): glibc, Go's runtime and V8 look it up there and parse its
 * ELF dynamic symbols. Its time functions would read the clock from the
 * kernel's shared data page without a syscall, which nothing would record,
 * so each is overwritten at the exec stop with code that makes the syscall
 * it stands for (vdso(7) lists them); those syscalls are then recorded like
 * any other. The patched image is kept in the trace and replay puts exactly
 * those bytes back, whatever its own kernel's vDSO is.
 */
#define LOG_PREFIX "vdso"
#include <asm/unistd.h>
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "recorder/record-private.h"
#include "trace/trace.h"
#include "tracee/tracee.h"
#include "x86_64/arch.h"

/* The functions of the x86-64 vDSO (Linux 6.18: arch/x86/entry/vdso/vdso.lds.S)
 * and what each becomes. Each exists as __vdso_NAME and as its weak alias
 * NAME, at the same address. */
static const struct {
	const char *name;
	int nr;	 /* the syscall it stands for */
	int err; /* or, if nr < 0, the error it returns at once */
} vdso_functions[] = {
	{ "clock_gettime", __NR_clock_gettime, 0 },
	{ "gettimeofday", __NR_gettimeofday, 0 },
	{ "time", __NR_time, 0 },
	{ "clock_getres", __NR_clock_getres, 0 },
	{ "getcpu", __NR_getcpu, 0 },
	/* vgetrandom (Linux 6.11) takes (buf, len, flags, state, state_len) and
	 * keeps per-thread state the kernel never sees: as ENOSYS, callers
	 * (glibc 2.41, Go 1.24) fall back to getrandom(2), which is recorded */
	{ "getrandom", -1, ENOSYS },
};

/* Whether [@off, @off + @size) lies within an image of @len bytes. */
static bool
in_image(size_t len, uint64_t off, uint64_t size)
{
	return off <= len && size <= len - off;
}

/* Where in @image (@len bytes, a vDSO as mapped) the functions to patch
 * start: their offsets go to @ret_offs (the same offset once), their count
 * to *ret_n. -ENOEXEC if the image cannot be read as ELF. Parsed by hand
 * (elf(5): the ELF header, the program headers for the link-time base, the
 * SHT_DYNSYM section and its string table), every offset checked against
 * @len: a recording needs no libelf (loaded at uprr's start, 0.1 ms). */
static int
find_functions(uint8_t *image, size_t len, uint64_t ret_offs[], int ret_which[], size_t cap,
	       size_t *ret_n)
{
	Elf64_Ehdr eh;
	uint64_t base = UINT64_MAX;
	size_t n = 0;
	bool found = false;

	if (len < sizeof(eh))
		return -ENOEXEC;
	memcpy(&eh, image, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_phentsize != sizeof(Elf64_Phdr) ||
	    eh.e_shentsize != sizeof(Elf64_Shdr) ||
	    !in_image(len, eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr)) ||
	    !in_image(len, eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr)))
		return -ENOEXEC;
	/* symbol values are addresses in the image's link-time layout */
	for (size_t i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, image + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_LOAD) {
			base = ph.p_vaddr - ph.p_offset;
			break;
		}
	}
	if (base == UINT64_MAX)
		return -ENOEXEC;
	for (size_t s = 0; s < eh.e_shnum; s++) {
		Elf64_Shdr sh, str;

		memcpy(&sh, image + eh.e_shoff + s * sizeof(sh), sizeof(sh));
		if (sh.sh_type != SHT_DYNSYM || !sh.sh_entsize)
			continue;
		if (sh.sh_entsize != sizeof(Elf64_Sym) || !in_image(len, sh.sh_offset, sh.sh_size) ||
		    sh.sh_link >= eh.e_shnum)
			return -ENOEXEC;
		memcpy(&str, image + eh.e_shoff + sh.sh_link * sizeof(str), sizeof(str));
		if (!in_image(len, str.sh_offset, str.sh_size))
			return -ENOEXEC;
		for (size_t i = 0; i < sh.sh_size / sizeof(Elf64_Sym); i++) {
			const char *name, *strtab = (const char *)image + str.sh_offset;
			Elf64_Sym sym;
			uint64_t off;
			bool seen = false;

			memcpy(&sym, image + sh.sh_offset + i * sizeof(sym), sizeof(sym));
			if (ELF64_ST_TYPE(sym.st_info) != STT_FUNC || !sym.st_value ||
			    sym.st_name >= str.sh_size ||
			    !memchr(strtab + sym.st_name, '\0', str.sh_size - sym.st_name))
				continue;
			name = strtab + sym.st_name;
			if (strncmp(name, "__vdso_", 7) == 0)
				name += 7;
			for (size_t k = 0; k < ARRAY_SIZE(vdso_functions); k++) {
				if (strcmp(name, vdso_functions[k].name) != 0)
					continue;
				off = sym.st_value - base;
				/* a function too short for the stub, or outside the image */
				if (off > len || ARCH_STUB_LEN > len - off ||
				    (sym.st_size && sym.st_size < ARCH_STUB_LEN))
					return -ENOEXEC;
				for (size_t j = 0; j < n; j++)
					seen |= ret_offs[j] == off;
				if (!seen && n < cap) {
					ret_offs[n] = off;
					ret_which[n++] = (int)k;
				}
			}
		}
		found = true;
	}
	if (!found)
		return -ENOEXEC;
	*ret_n = n;
	return 0;
}

/* The fallback where the vDSO cannot be patched: turn the auxv entry
 * AT_SYSINFO_EHDR of the initial stack at @sp into AT_IGNORE, so glibc makes
 * real syscalls (System V x86-64 ABI 3.4.1: argc, argv[], NULL, envp[],
 * NULL, then auxv pairs up to AT_NULL). */
static int
hide_vdso(pid_t pid, int memfd, uint64_t sp)
{
	uint64_t argc, word, addr;
	int r;

	r = tracee_read(pid, sp, &argc, sizeof(argc));
	if (r < 0)
		return r;
	addr = sp + 8 * (argc + 2);
	for (;;) { /* skip envp */
		r = tracee_read(pid, addr, &word, sizeof(word));
		if (r < 0)
			return r;
		addr += 8;
		if (!word)
			break;
	}
	for (int i = 0; i < 64; i++, addr += 16) {
		uint64_t pair[2];

		r = tracee_read(pid, addr, pair, sizeof(pair));
		if (r < 0)
			return r;
		if (pair[0] == AT_NULL)
			return 0;
		if (pair[0] == AT_SYSINFO_EHDR) {
			uint64_t ignore = AT_IGNORE;

			return tracee_write(memfd, addr, &ignore, sizeof(ignore));
		}
	}
	return -EINVAL;
}

/* Keep @image in the trace, once per distinct image (every process of a
 * recording has the same vDSO, and kept files are deduplicated by inode, which
 * a memfd never shares). */
static int
keep_image(struct trace_writer *w, struct rec_vdso *cache, uint8_t *image, size_t len,
	   uint32_t *ret_id)
{
	uint32_t id;
	int r;

	if (cache->image && cache->len == len && memcmp(cache->image, image, len) == 0) {
		*ret_id = cache->id;
		return 0;
	}
	r = trace_writer_keep_data(w, image, len, "[vdso]", &id);
	if (r < 0)
		return r;
	free(cache->image);
	cache->image = image;
	cache->len = len;
	cache->id = id;
	*ret_id = id;
	return 1; /* @image is the cache's now */
}

/* Patch the time functions of @image (@len bytes, a vDSO as mapped): the
 * patched bytes lie in [*ret_lo, *ret_hi), none if *ret_nfun is 0.
 * -ENOEXEC if it cannot be parsed. */
static int
patch_image(uint8_t *image, size_t len, uint64_t *ret_lo, uint64_t *ret_hi, size_t *ret_nfun)
{
	uint64_t offs[2 * ARRAY_SIZE(vdso_functions)], lo = UINT64_MAX, hi = 0;
	int which[ARRAY_SIZE(offs)];
	size_t nfun = 0;
	int r;

	r = find_functions(image, len, offs, which, ARRAY_SIZE(offs), &nfun);
	if (r < 0)
		return r;
	for (size_t i = 0; i < nfun; i++) {
		uint8_t *code = image + offs[i];

		if (vdso_functions[which[i]].nr >= 0)
			arch_syscall_stub(code, (uint32_t)vdso_functions[which[i]].nr);
		else
			arch_error_stub(code, vdso_functions[which[i]].err);
		lo = MIN(lo, offs[i]);
		hi = MAX(hi, offs[i] + ARCH_STUB_LEN);
	}
	*ret_lo = lo;
	*ret_hi = hi;
	*ret_nfun = nfun;
	return 0;
}

int
rec_vdso_keep_own(struct trace_writer *w, struct rec_vdso *cache)
{
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	_cleanup_free_ uint8_t *image = NULL;
	uint64_t lo, hi;
	size_t n, len = 0, nfun;
	uint32_t id;
	int r;

	r = tracee_read_maps(getpid(), &maps, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if (strcmp(maps[i].path, "[vdso]") == 0) {
			len = maps[i].end - maps[i].start;
			image = malloc(len);
			if (!image)
				return -ENOMEM;
			/* the kernel's one image, mapped readable in every
			 * process: uprr's own is the program's */
			memcpy(image, (const void *)(uintptr_t)maps[i].start, len);
		}
	if (!image)
		return 0;
	r = patch_image(image, len, &lo, &hi, &nfun);
	if (r < 0)
		return 0; /* the exec stop hides it */
	r = keep_image(w, cache, image, len, &id);
	if (r > 0)
		image = NULL; /* the cache owns it */
	return r < 0 ? r : 0;
}

int
rec_vdso_prepare(struct trace_writer *w, struct rec_vdso *cache, pid_t pid, int memfd,
		 const struct tracee_mapping *maps, size_t n, uint64_t sp, uint64_t *ret_ref)
{
	_cleanup_free_ uint8_t *image = NULL;
	uint64_t start = 0, len = 0, lo = 0, hi = 0;
	size_t nfun = 0;
	uint32_t id = 0;
	int r;

	*ret_ref = 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(maps[i].path, "[vdso]") == 0) {
			start = maps[i].start;
			len = maps[i].end - maps[i].start;
		}
	if (!len)
		return 0; /* vdso=0 on the kernel command line */
	image = malloc(len);
	if (!image)
		return -ENOMEM;
	r = tracee_read(pid, start, image, len);
	if (r < 0)
		return r;
	r = patch_image(image, len, &lo, &hi, &nfun);
	if (r < 0) {
		log_debug("the vDSO at 0x%" PRIx64 " cannot be parsed: hidden instead", start);
		return hide_vdso(pid, memfd, sp);
	}
	/* one write from the first stub to the end of the last, the bytes
	 * between them as read: a ptrace write to the vDSO (VM_MAYWRITE, as a
	 * debugger's breakpoint) gives the process its own copy of the page */
	if (nfun) {
		r = tracee_write(memfd, start + lo, image + lo, hi - lo);
		if (r < 0)
			return r;
	}
	r = keep_image(w, cache, image, len, &id);
	if (r < 0)
		return r;
	if (r > 0)
		image = NULL; /* the cache owns it */
	*ret_ref = (uint64_t)id + 1;
	return 0;
}

void
rec_vdso_free(struct rec_vdso *cache)
{
	free(cache->image);
	*cache = (struct rec_vdso){ 0 };
}
