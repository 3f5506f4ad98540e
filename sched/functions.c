/* SPDX-License-Identifier: MIT */
/*
 * Function extents for soft ticks: which function of which mapped file holds
 * a runtime address. Each file is parsed once into two sorted tables of file
 * virtual address ranges, its function symbols and its .eh_frame FDEs, and
 * then closed; a lookup reads /proc/PID/maps and searches the tables.
 */
#define LOG_PREFIX "ticks"
#include "sched/ticks.h"

#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "common/lazylib.h"
#include "common/log.h"
#include "sched/ticks-private.h"
#include "tracee/tracee.h"

/* libelf, loaded at the first file parsed (common/lazylib.h): a recording
 * that counts no ticks never needs it; its soname is libelf.so.1 */
static struct {
	unsigned int (*version)(unsigned int version);
	Elf *(*begin)(int fildes, Elf_Cmd cmd, Elf *ref);
	Elf_Kind (*kind)(Elf *elf);
	int (*getphdrnum)(Elf *elf, size_t *dst);
	GElf_Phdr *(*ggetphdr)(Elf *elf, int ndx, GElf_Phdr *dst);
	int (*getshdrstrndx)(Elf *elf, size_t *dst);
	Elf_Scn *(*nextscn)(Elf *elf, Elf_Scn *scn);
	GElf_Shdr *(*ggetshdr)(Elf_Scn *scn, GElf_Shdr *dst);
	char *(*strptr)(Elf *elf, size_t index, size_t offset);
	Elf_Data *(*getdata)(Elf_Scn *scn, Elf_Data *data);
	GElf_Sym *(*ggetsym)(Elf_Data *data, int ndx, GElf_Sym *dst);
	char *(*getident)(Elf *elf, size_t *nbytes);
	int (*end)(Elf *elf);
} elf_fn;

/* clang-format off */
static const struct lazylib_fn elf_fns[] = {
	{ "elf_version", (void **)&elf_fn.version },
	{ "elf_begin", (void **)&elf_fn.begin },
	{ "elf_kind", (void **)&elf_fn.kind },
	{ "elf_getphdrnum", (void **)&elf_fn.getphdrnum },
	{ "gelf_getphdr", (void **)&elf_fn.ggetphdr },
	{ "elf_getshdrstrndx", (void **)&elf_fn.getshdrstrndx },
	{ "elf_nextscn", (void **)&elf_fn.nextscn },
	{ "gelf_getshdr", (void **)&elf_fn.ggetshdr },
	{ "elf_strptr", (void **)&elf_fn.strptr },
	{ "elf_getdata", (void **)&elf_fn.getdata },
	{ "gelf_getsym", (void **)&elf_fn.ggetsym },
	{ "elf_getident", (void **)&elf_fn.getident },
	{ "elf_end", (void **)&elf_fn.end },
};
/* clang-format on */
static struct lazylib elf_lib = {
	.soname = "libelf.so.1",
	.fns = elf_fns,
	.nfns = ARRAY_SIZE(elf_fns),
};

/* DWARF pointer encodings of .eh_frame (LSB, "Exception Frames"; DWARF 5 7.7) */
#define PE_OMIT 0xff
#define PE_FORMAT(e) ((e)&0x0f)
#define PE_APPLY(e) ((e)&0x70)
enum {
	PE_ABSPTR = 0x00,
	PE_ULEB128 = 0x01,
	PE_UDATA2 = 0x02,
	PE_UDATA4 = 0x03,
	PE_UDATA8 = 0x04,
	PE_SLEB128 = 0x09,
	PE_SDATA2 = 0x0a,
	PE_SDATA4 = 0x0b,
	PE_SDATA8 = 0x0c,
	PE_PCREL = 0x10,
};

struct fn_range {
	uint64_t start, end; /* file virtual addresses, [start, end) */
};

/* Ranges sorted by start, with the running maximum of their ends */
struct fn_table {
	struct fn_range *r;
	uint64_t *max_end; /* max_end[i]: the largest end of r[0..i] */
	size_t n, cap;
};

/* A PT_LOAD segment: file bytes [offset, offset + filesz) are at vaddr */
struct fn_load {
	uint64_t vaddr, offset, filesz;
};

struct fn_file {
	char *path; /* as /proc/PID/maps names it */
	dev_t dev;
	ino_t ino;
	struct fn_load *loads;
	size_t n_loads;
	struct fn_table syms, fdes;
};

static struct fn_file **files;
static size_t n_files, cap_files;
static unsigned n_parsed;

static void
table_free(struct fn_table *t)
{
	free(t->r);
	free(t->max_end);
	*t = (struct fn_table){ 0 };
}

static void
file_free(struct fn_file *f)
{
	if (!f)
		return;
	free(f->path);
	free(f->loads);
	table_free(&f->syms);
	table_free(&f->fdes);
	free(f);
}

static int
table_add(struct fn_table *t, uint64_t start, uint64_t end)
{
	if (end <= start)
		return 0;
	if (UTIL_GROW(t->r, t->cap, t->n + 1) < 0)
		return -ENOMEM;
	t->r[t->n++] = (struct fn_range){ start, end };
	return 0;
}

static int
range_cmp(const void *a, const void *b)
{
	const struct fn_range *x = a, *y = b;

	/* by start; for one start the longest first, so a backward scan meets the innermost */
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->end != y->end)
		return x->end > y->end ? -1 : 1;
	return 0;
}

static int
table_finish(struct fn_table *t)
{
	size_t n = 0;

	if (!t->n)
		return 0;
	qsort(t->r, t->n, sizeof(*t->r), range_cmp);
	/* aliases (memcpy, __memcpy) share one range */
	for (size_t i = 0; i < t->n; i++)
		if (!n || t->r[i].start != t->r[n - 1].start || t->r[i].end != t->r[n - 1].end)
			t->r[n++] = t->r[i];
	t->n = n;
	t->max_end = malloc(n * sizeof(*t->max_end));
	if (!t->max_end)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		t->max_end[i] = i ? MAX(t->max_end[i - 1], t->r[i].end) : t->r[i].end;
	return 0;
}

/* The innermost range holding @v: the last one starting at or before it that ends after it */
static bool
table_find(const struct fn_table *t, uint64_t v, struct fn_range *ret)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->r[mid].start <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* r[0..lo) start at or before v; no range before i ends after v once max_end[i] <= v */
	for (size_t i = lo; i-- > 0 && t->max_end[i] > v;)
		if (t->r[i].end > v) {
			*ret = t->r[i];
			return true;
		}
	return false;
}

static int
add_symbols(Elf_Scn *scn, const GElf_Shdr *sh, struct fn_table *t)
{
	Elf_Data *data = elf_fn.getdata(scn, NULL);
	size_t n;

	if (!data || !sh->sh_entsize)
		return 0;
	n = sh->sh_size / sh->sh_entsize;
	for (size_t i = 0; i < n; i++) {
		GElf_Sym sym;
		int type, r;

		if (!elf_fn.ggetsym(data, (int)i, &sym))
			break;
		type = GELF_ST_TYPE(sym.st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym.st_shndx == SHN_UNDEF ||
		    !sym.st_size)
			continue;
		r = table_add(t, sym.st_value, sym.st_value + sym.st_size);
		if (r < 0)
			return r;
	}
	return 0;
}

static uint64_t
read_uleb(const uint8_t **p, const uint8_t *end)
{
	uint64_t v = 0;
	unsigned shift = 0;

	while (*p < end) {
		uint8_t b = *(*p)++;

		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80))
			break;
	}
	return v;
}

/*
 * Read a value of encoding @enc at *@p (little-endian: x86-64 only), whose
 * own virtual address is @vaddr. Only absolute and pc-relative values occur
 * in the FDEs of GNU toolchains. Returns false for anything else.
 */
static bool
read_encoded(const uint8_t **p, const uint8_t *end, uint8_t enc, uint64_t vaddr, bool apply,
	     uint64_t *ret)
{
	const uint8_t *q = *p;
	uint64_t v = 0;
	size_t len;

	switch (PE_FORMAT(enc)) {
	case PE_ABSPTR:
	case PE_UDATA8:
	case PE_SDATA8:
		len = 8;
		break;
	case PE_UDATA4:
	case PE_SDATA4:
		len = 4;
		break;
	case PE_UDATA2:
	case PE_SDATA2:
		len = 2;
		break;
	case PE_ULEB128:
		v = read_uleb(&q, end);
		len = 0;
		break;
	default:
		return false;
	}
	if (len) {
		if ((size_t)(end - q) < len)
			return false;
		memcpy(&v, q, len);
		q += len;
		if (PE_FORMAT(enc) == PE_SDATA4)
			v = (uint64_t)(int64_t)(int32_t)v;
		else if (PE_FORMAT(enc) == PE_SDATA2)
			v = (uint64_t)(int64_t)(int16_t)v;
	}
	if (apply && PE_APPLY(enc) == PE_PCREL)
		v += vaddr;
	else if (apply && PE_APPLY(enc) != 0)
		return false;
	*p = q;
	*ret = v;
	return true;
}

/* The FDE pointer encoding of a CIE: its 'R' augmentation (LSB "Augmentation String Format") */
static uint8_t
cie_fde_encoding(const Dwarf_CIE *cie)
{
	const uint8_t *p = cie->augmentation_data;
	const uint8_t *end = p ? p + cie->augmentation_data_size : NULL;
	const char *a = cie->augmentation;
	uint64_t ignored;

	if (!a || a[0] != 'z')
		return PE_ABSPTR;
	for (a++; *a && p && p < end; a++)
		switch (*a) {
		case 'R':
			return *p;
		case 'L':
			p++;
			break;
		case 'P': {
			uint8_t penc = *p++;

			/* the personality routine's pointer: only its length matters */
			if (!read_encoded(&p, end, penc & 0x7f, 0, false, &ignored))
				return PE_OMIT;
			break;
		}
		case 'S':
		case 'B':
		case 'G':
			break;
		default:
			return PE_OMIT;
		}
	return PE_ABSPTR;
}

/* libdw, loaded when a function has no symbol (common/lazylib.h); its
 * soname has been libdw.so.1 since elfutils 0.1xx */
static int (*next_cfi_fn)(const unsigned char e_ident[], Elf_Data *data, bool eh_frame_p,
			  Dwarf_Off offset, Dwarf_Off *next_offset, Dwarf_CFI_Entry *entry);
static const struct lazylib_fn dw_fns[] = {
	{ "dwarf_next_cfi", (void **)&next_cfi_fn },
};
static struct lazylib dw_lib = {
	.soname = "libdw.so.1",
	.fns = dw_fns,
	.nfns = ARRAY_SIZE(dw_fns),
};

/* One CIE offset and its FDE encoding; a file has a handful of CIEs */
struct cie_enc {
	Dwarf_Off off;
	uint8_t enc;
};

static int
add_fdes(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh, struct fn_table *t)
{
	const unsigned char *ident = (const unsigned char *)elf_fn.getident(elf, NULL);
	Elf_Data *data = elf_fn.getdata(scn, NULL);
	_cleanup_free_ struct cie_enc *cies = NULL;
	size_t n_cies = 0, cap_cies = 0;
	Dwarf_Off off = 0, next;
	Dwarf_CFI_Entry e;
	int r;

	if (!ident || !data || !data->d_buf || ident[EI_CLASS] != ELFCLASS64 ||
	    ident[EI_DATA] != ELFDATA2LSB)
		return 0;
	if (lazylib_load(&dw_lib) < 0)
		return 0; /* no libdw: symbols only */
	for (; (r = next_cfi_fn(ident, data, true, off, &next, &e)) != 1; off = next) {
		const uint8_t *p, *end;
		uint64_t start, len;
		uint8_t enc = PE_OMIT;

		if (r < 0) {
			if (next == (Dwarf_Off)-1 || next <= off)
				break; /* no way past a broken entry */
			continue;
		}
		if (dwarf_cfi_cie_p(&e)) {
			if (UTIL_GROW(cies, cap_cies, n_cies + 1) < 0)
				return -ENOMEM;
			cies[n_cies++] = (struct cie_enc){ off, cie_fde_encoding(&e.cie) };
			continue;
		}
		for (size_t i = 0; i < n_cies; i++)
			if (cies[i].off == e.fde.CIE_pointer)
				enc = cies[i].enc;
		if (enc == PE_OMIT)
			continue; /* a CIE after its FDE, or one we cannot read */
		p = e.fde.start;
		end = e.fde.end;
		if (!read_encoded(&p, end, enc, sh->sh_addr + (uint64_t)(p - (const uint8_t *)data->d_buf),
				  true, &start) ||
		    !read_encoded(&p, end, enc & 0x0f, 0, false, &len))
			continue;
		/* an FDE of a section the linker discarded may be left at 0 */
		if (!start)
			continue;
		r = table_add(t, start, start + len);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Read the PT_LOAD segments, function symbols and FDEs of ELF file @fd into @f */
static int
file_parse(int fd, struct fn_file *f)
{
	Elf *elf;
	Elf_Scn *scn = NULL;
	size_t n, shstrndx;
	int r = 0;

	if (lazylib_load(&elf_lib) < 0 || elf_fn.version(EV_CURRENT) == EV_NONE)
		return -ENOSYS;
	elf = elf_fn.begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return 0; /* not a file libelf can read: nothing covers its addresses */
	if (elf_fn.kind(elf) != ELF_K_ELF || elf_fn.getphdrnum(elf, &n) < 0)
		goto out;
	f->loads = calloc(n ? n : 1, sizeof(*f->loads));
	if (!f->loads) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (elf_fn.ggetphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD && ph.p_filesz)
			f->loads[f->n_loads++] = (struct fn_load){ ph.p_vaddr, ph.p_offset, ph.p_filesz };
	}
	if (elf_fn.getshdrstrndx(elf, &shstrndx) < 0)
		goto out;
	while ((scn = elf_fn.nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!elf_fn.ggetshdr(scn, &sh))
			continue;
		name = elf_fn.strptr(elf, shstrndx, sh.sh_name);
		if (sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_DYNSYM)
			r = add_symbols(scn, &sh, &f->syms);
		else if (name && strcmp(name, ".eh_frame") == 0 && sh.sh_type != SHT_NOBITS)
			/* SHT_PROGBITS, or SHT_X86_64_UNWIND from newer linkers */
			r = add_fdes(elf, scn, &sh, &f->fdes);
		if (r < 0)
			goto out;
	}
	r = table_finish(&f->syms);
	if (r >= 0)
		r = table_finish(&f->fdes);
out:
	elf_fn.end(elf);
	return r;
}

/* The parsed file mapped at @m of @pid, from the cache or parsed now */
static int
file_get(pid_t pid, const struct tracee_mapping *m, struct fn_file **ret)
{
	_cleanup_close_ int fd = -1;
	struct fn_file *f = NULL;
	char mf[64];
	const char *open_path = mf;
	struct stat st;
	int r;

	/*
	 * map_files/ names the mapped inode itself, even if the path was
	 * replaced or deleted; following its links takes CAP_SYS_ADMIN
	 * (CAP_CHECKPOINT_RESTORE since Linux 5.9), so fall back to the path.
	 */
	snprintf(mf, sizeof(mf), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, pid, m->start, m->end);
	if (stat(mf, &st) < 0) {
		if (stat(m->path, &st) < 0)
			return -errno;
		open_path = m->path;
	}
	for (size_t i = 0; i < n_files; i++)
		if (files[i]->dev == st.st_dev && files[i]->ino == st.st_ino &&
		    strcmp(files[i]->path, m->path) == 0) {
			*ret = files[i];
			return 0;
		}
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->path = strdup(m->path);
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	if (!f->path) {
		file_free(f);
		return -ENOMEM;
	}
	/* a device mapping has no functions, and opening one may have effects */
	if (S_ISREG(st.st_mode)) {
		fd = open(open_path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			file_free(f);
			return log_debug_errno(r, "opening %s", m->path);
		}
		r = file_parse(fd, f);
		if (r < 0) {
			file_free(f);
			return log_debug_errno(r, "parsing %s", m->path);
		}
	}
	if (UTIL_GROW(files, cap_files, n_files + 1) < 0) {
		file_free(f);
		return -ENOMEM;
	}
	files[n_files++] = f;
	n_parsed++;
	*ret = f;
	return 0;
}

int
ticks_function_lookup(pid_t pid, uint64_t addr, unsigned sources, uint64_t *ret_start,
		      uint64_t *ret_end)
{
	_cleanup_free_ struct tracee_mapping *maps = NULL;
	const struct tracee_mapping *m = NULL;
	struct fn_file *f = NULL;
	struct fn_range fn;
	uint64_t fo, vaddr;
	size_t n;
	int r;

	r = tracee_read_maps(pid, &maps, &n);
	if (r < 0)
		return r; /* -ENOENT: the process is gone */
	for (size_t i = 0; i < n && !m; i++)
		if (maps[i].start <= addr && addr < maps[i].end)
			m = &maps[i];
	/* anonymous memory and pseudo files ([heap], [stack], [vdso]) have no file */
	if (!m || m->path[0] != '/')
		return 0;
	r = file_get(pid, m, &f);
	if (r < 0)
		return r;
	/* the file offset of @addr, then the segment the kernel mapped it from */
	fo = addr - m->start + m->offset;
	for (size_t i = 0; i < f->n_loads; i++) {
		const struct fn_load *l = &f->loads[i];

		if (l->offset <= fo && fo - l->offset < l->filesz) {
			vaddr = fo - l->offset + l->vaddr;
			if (((sources & TICKS_FUNCTION_SYMBOLS) && table_find(&f->syms, vaddr, &fn)) ||
			    ((sources & TICKS_FUNCTION_CFI) && table_find(&f->fdes, vaddr, &fn))) {
				/* runtime = file vaddr + load bias (addr - vaddr) */
				*ret_start = fn.start + (addr - vaddr);
				*ret_end = fn.end + (addr - vaddr);
				return 1;
			}
			return 0;
		}
	}
	return 0;
}

int
ticks_function_at(pid_t pid, uint64_t addr, uint64_t *ret_start, uint64_t *ret_end)
{
	return ticks_function_lookup(pid, addr, TICKS_FUNCTION_ANY, ret_start, ret_end);
}

unsigned
ticks_functions_parsed(void)
{
	return n_parsed;
}

void
ticks_functions_reset(void)
{
	for (size_t i = 0; i < n_files; i++)
		file_free(files[i]);
	free(files);
	files = NULL;
	n_files = cap_files = 0;
}
