/* SPDX-License-Identifier: MIT */
/*
 * Soft ticks: planning and installing counting code (see ticks-soft.h). Unlike
 * the rest of sched/ this file drives tracees: installing code maps memory in
 * them through injected syscalls.
 */
#define LOG_PREFIX "ticks"
#include "sched/ticks-soft.h"

#include <asm/unistd.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/log.h"
#include "sched/ticks.h"
#include "tracee/tracee.h"
#include "x86_64/patch.h"

/* In a PATCH event's (trap, clean) pairs, marks a trap site (user addresses
 * are below 2^47). */
#define TRAP_SITE_WORD (1ull << 63)

/* Stub areas: one anonymous r-x mapping per neighbourhood of code, each
 * within rel32 reach (+-2 GiB) of the code it serves. */
#define AREA_LEN (256 * 1024)
#define AREA_REACH (1ull << 30)
#define AREA_GUARD (64 * 1024)
/* Largest function decoded whole; beyond it only the loop around rip. */
#define MAX_FUNCTION (1024 * 1024)
#define WINDOW 4096

struct stub_area {
	uint64_t base, len, used;
};

struct ticks_soft {
	bool page_mapped;
	struct stub_area *areas;
	size_t nareas, areas_cap;
	struct patch_site *sites; /* what settling a thread needs: stub, trap, clean */
	size_t nsites, sites_cap;
	/* the event ticks_soft_plan() filled, and its buffers */
	struct patch_plan plan;
	uint64_t *site_words;
	struct trace_blob *blobs;
	uint8_t *code;
};

struct ticks_soft *
ticks_soft_new(void)
{
	return calloc(1, sizeof(struct ticks_soft));
}

static void
drop_plan(struct ticks_soft *st)
{
	patch_plan_free(&st->plan);
	memset(&st->plan, 0, sizeof(st->plan));
	free(st->site_words);
	free(st->blobs);
	free(st->code);
	st->site_words = NULL;
	st->blobs = NULL;
	st->code = NULL;
}

void
ticks_soft_free(struct ticks_soft *st)
{
	if (!st)
		return;
	drop_plan(st);
	free(st->areas);
	free(st->sites);
	free(st);
}

struct ticks_soft *
ticks_soft_clone(const struct ticks_soft *st)
{
	struct ticks_soft *c = ticks_soft_new();

	if (!c || !st)
		return c;
	c->page_mapped = st->page_mapped;
	if ((st->nareas && !(c->areas = malloc(st->nareas * sizeof(*c->areas)))) ||
	    (st->nsites && !(c->sites = malloc(st->nsites * sizeof(*c->sites))))) {
		ticks_soft_free(c);
		return NULL;
	}
	if (st->nareas)
		memcpy(c->areas, st->areas, st->nareas * sizeof(*c->areas));
	if (st->nsites)
		memcpy(c->sites, st->sites, st->nsites * sizeof(*c->sites));
	c->nareas = c->areas_cap = st->nareas;
	c->nsites = c->sites_cap = st->nsites;
	return c;
}

bool
ticks_soft_active(const struct ticks_soft *st)
{
	return st && st->page_mapped;
}

size_t
ticks_soft_nsites(const struct ticks_soft *st)
{
	return st ? st->nsites : 0;
}

/* The tracee's code to plan over: the function around @rip, else a window. */
static int
read_code(struct ticks_soft *st, pid_t pid, uint64_t rip, uint64_t *ret_addr, size_t *ret_len,
	  bool *ret_whole)
{
	uint64_t start, end, page = rip & ~4095ull;
	int r;

	r = ticks_function_at(pid, rip, &start, &end);
	if (r > 0 && end > start && end - start <= MAX_FUNCTION && rip >= start && rip < end) {
		st->code = malloc(end - start);
		if (!st->code)
			return -ENOMEM;
		if (tracee_read(pid, start, st->code, end - start) >= 0) {
			*ret_addr = start;
			*ret_len = end - start;
			*ret_whole = true;
			return 0;
		}
		free(st->code);
		st->code = NULL;
	}
	/* no symbol or FDE: the pages around rip, as far as they are mapped */
	st->code = malloc(3 * WINDOW);
	if (!st->code)
		return -ENOMEM;
	*ret_whole = false;
	if (page >= WINDOW && tracee_read(pid, page - WINDOW, st->code, 3 * WINDOW) >= 0) {
		*ret_addr = page - WINDOW;
		*ret_len = 3 * WINDOW;
	} else if (tracee_read(pid, page, st->code, WINDOW) >= 0) {
		*ret_addr = page;
		*ret_len = WINDOW;
	} else {
		return -EFAULT;
	}
	return 0;
}

int
ticks_soft_plan(struct ticks_soft *st, pid_t pid, pid_t tid, uint64_t rip, const uint64_t *avoid,
		size_t navoid, const uint64_t *reserved, size_t nreserved, struct trace_event *ret_ev)
{
	_cleanup_free_ uint64_t *keep_out = NULL;
	struct stub_area *area = NULL, fresh = { 0 };
	uint64_t addr;
	size_t len, nblobs;
	bool whole;
	int r;

	drop_plan(st);
	r = read_code(st, pid, rip, &addr, &len, &whole);
	if (r < 0)
		return r;
	for (size_t i = 0; i < st->nareas; i++)
		if (tracee_area_reaches(st->areas[i].base, st->areas[i].len, rip, AREA_REACH) &&
		    st->areas[i].len - st->areas[i].used >= 4096)
			area = &st->areas[i];
	if (!area) {
		/* not just above a mapping, where brk grows, nor over the tick
		 * page, which may not be mapped yet */
		keep_out = malloc((nreserved + 1) * 2 * sizeof(*keep_out));
		if (!keep_out)
			return -ENOMEM;
		keep_out[0] = PATCH_TICK_PAGE;
		keep_out[1] = PATCH_TICK_PAGE + 4096;
		if (nreserved)
			memcpy(keep_out + 2, reserved, nreserved * 2 * sizeof(*keep_out));
		/* where no mmap(2) of the program's goes (an EP run's
		 * program maps as its TP run did), else near */
		r = tracee_find_area_high(pid, rip, AREA_LEN, AREA_GUARD, AREA_REACH, keep_out,
					  nreserved + 1, &fresh.base);
		if (r == -ENOSPC)
			r = tracee_find_area_near(pid, rip, AREA_LEN, AREA_GUARD, AREA_REACH,
						  keep_out, nreserved + 1, &fresh.base);
		if (r < 0)
			return r;
		fresh.len = AREA_LEN;
		area = &fresh;
	}
	r = patch_plan_code(st->code, len, addr, whole, rip, area->base + area->used,
			    area->len - area->used, avoid, navoid, &st->plan);
	if (r <= 0)
		return r;

	st->site_words = calloc(2 * st->plan.nsites, sizeof(uint64_t));
	nblobs = 2 + st->plan.nedits;
	st->blobs = calloc(nblobs, sizeof(*st->blobs));
	if (!st->site_words || !st->blobs)
		return -ENOMEM;
	for (size_t i = 0; i < st->plan.nsites; i++) {
		st->site_words[2 * i] = st->plan.sites[i].trap |
					(st->plan.sites[i].stub ? 0 : TRAP_SITE_WORD);
		st->site_words[2 * i + 1] = st->plan.sites[i].clean;
	}
	st->blobs[0] = (struct trace_blob){ 0, (uint32_t)(16 * st->plan.nsites), st->site_words };
	st->blobs[1] = (struct trace_blob){ area->base + area->used, (uint32_t)st->plan.stub_len,
					    st->plan.stub };
	for (size_t i = 0; i < st->plan.nedits; i++)
		st->blobs[2 + i] = (struct trace_blob){ st->plan.edits[i].addr, st->plan.edits[i].len,
							st->plan.edits[i].bytes };

	memset(ret_ev, 0, sizeof(*ret_ev));
	ret_ev->type = TRACE_EV_PATCH;
	ret_ev->tid = (uint32_t)tid;
	ret_ev->nvalues = 4;
	ret_ev->values[0] = st->plan.nsites;
	ret_ev->values[1] = area == &fresh ? fresh.base : 0;
	ret_ev->values[2] = area == &fresh ? fresh.len : 0;
	ret_ev->values[3] = st->page_mapped ? 0 : PATCH_TICK_PAGE;
	ret_ev->nblobs = (uint32_t)nblobs;
	ret_ev->blobs = st->blobs;
	return (int)st->plan.nsites;
}

/* mmap(@addr, @len, @prot) anonymous and private, exactly there. */
static int
map_exactly(pid_t tid, int memfd, uint64_t addr, uint64_t len, int prot)
{
	uint64_t args[6] = { addr, len, (uint64_t)prot,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, (uint64_t)-1, 0 };
	int64_t got;
	int r;

	r = tracee_inject_syscall(tid, memfd, __NR_mmap, args, &got);
	if (r < 0)
		return r;
	if ((uint64_t)got != addr) {
		log_debug("mmap at 0x%" PRIx64 " gave 0x%" PRIx64, addr, (uint64_t)got);
		return -EPROTO;
	}
	return 0;
}

int
ticks_soft_apply(struct ticks_soft *st, pid_t tid, int memfd, const struct trace_event *ev)
{
	const uint8_t *words;
	uint64_t nsites;
	int r;

	if (ev->nvalues < 4 || ev->nblobs < 1)
		return -EINVAL;
	nsites = ev->values[0];
	/* a hostile count must not wrap 16 * nsites onto the blob's length */
	if (ev->blobs[0].len % 16 || ev->blobs[0].len / 16 != nsites)
		return -EINVAL;
	if (UTIL_GROW(st->sites, st->sites_cap, st->nsites + nsites) < 0 ||
	    UTIL_GROW(st->areas, st->areas_cap, st->nareas + 1) < 0)
		return -ENOMEM;
	if (ev->values[3]) {
		r = map_exactly(tid, memfd, ev->values[3], 4096, PROT_READ | PROT_WRITE);
		if (r < 0)
			return r;
		st->page_mapped = true;
	}
	if (ev->values[1]) {
		r = map_exactly(tid, memfd, ev->values[1], ev->values[2], PROT_READ | PROT_EXEC);
		if (r < 0)
			return r;
		st->areas[st->nareas++] = (struct stub_area){ ev->values[1], ev->values[2], 0 };
	}
	for (uint32_t i = 1; i < ev->nblobs; i++) {
		const struct trace_blob *b = &ev->blobs[i];

		r = tracee_write(memfd, b->addr, b->data, b->len);
		if (r < 0)
			return r;
		for (size_t k = 0; k < st->nareas; k++) {
			struct stub_area *a = &st->areas[k];

			if (b->addr >= a->base && b->addr + b->len <= a->base + a->len)
				a->used = MAX(a->used, b->addr + b->len - a->base);
		}
	}
	/* (trap, clean) pairs; a stub starts a fixed distance before its C.
	 * The blob lies at any offset of its frame: copy, do not cast. */
	words = ev->blobs[0].data;
	for (uint64_t i = 0; i < nsites; i++) {
		uint64_t pair[2];

		memcpy(pair, words + 16 * i, sizeof(pair));
		st->sites[st->nsites++] = (struct patch_site){
			.stub = pair[0] & TRAP_SITE_WORD ? 0 : pair[1] - PATCH_STUB_CLEAN_OFF,
			.trap = pair[0] & ~TRAP_SITE_WORD,
			.clean = pair[1],
		};
	}
	return 0;
}

enum patch_stop
ticks_soft_settle(const struct ticks_soft *st, pid_t tid, struct user_regs_struct *regs)
{
	uint64_t scratch, rip, rcx;
	enum patch_stop stop;

	if (!st)
		return PATCH_STOP_OUTSIDE;
	for (size_t i = 0; i < st->nsites; i++) {
		const struct patch_site *ps = &st->sites[i];

		if (!ps->stub) {
			if (regs->rip != ps->trap + 1)
				continue;
			regs->rip = ps->clean;
			return PATCH_STOP_TRAPPED;
		}
		if (regs->rip < ps->stub || regs->rip > ps->trap + 1)
			continue;
		if (tracee_read(tid, PATCH_TICK_SCRATCH, &scratch, sizeof(scratch)) < 0)
			return PATCH_STOP_OUTSIDE;
		stop = patch_site_clean(ps, regs->rip, regs->rcx, scratch, &rip, &rcx);
		regs->rip = rip;
		regs->rcx = rcx;
		return stop;
	}
	return PATCH_STOP_OUTSIDE;
}

const struct patch_site *
ticks_soft_site_at(const struct ticks_soft *st, uint64_t rip)
{
	if (!st)
		return NULL;
	for (size_t i = 0; i < st->nsites; i++)
		if (st->sites[i].clean == rip)
			return &st->sites[i];
	return NULL;
}

/* The trap site whose int3 is just before @rip, or NULL. */
static const struct patch_site *
trap_site_before(const struct ticks_soft *st, uint64_t rip)
{
	if (!st)
		return NULL;
	for (size_t i = 0; i < st->nsites; i++)
		if (!st->sites[i].stub && st->sites[i].trap + 1 == rip)
			return &st->sites[i];
	return NULL;
}

bool
ticks_soft_trap_pending(const struct ticks_soft *st, uint64_t rip)
{
	if (!st)
		return false;
	/* a trap site's int3, or a stub's (its budget ran out) */
	for (size_t i = 0; i < st->nsites; i++)
		if (st->sites[i].trap + 1 == rip)
			return true;
	return false;
}

enum patch_stop
ticks_soft_count_trap(const struct ticks_soft *st, int memfd, struct user_regs_struct *regs)
{
	const struct patch_site *ps = trap_site_before(st, regs->rip);
	uint64_t budget;

	if (!ps || tracee_read_mem(memfd, PATCH_TICK_BUDGET, &budget, sizeof(budget)) < 0)
		return PATCH_STOP_OUTSIDE;
	/* what a stub does: decrement, trap when it becomes 0 */
	budget--;
	if (tracee_write(memfd, PATCH_TICK_BUDGET, &budget, sizeof(budget)) < 0)
		return PATCH_STOP_OUTSIDE;
	if (budget == 0)
		return PATCH_STOP_TRAPPED;
	regs->rip = ps->clean;
	return PATCH_STOP_COUNTED;
}

int
ticks_soft_set_budget(int memfd, uint64_t budget)
{
	return tracee_write(memfd, PATCH_TICK_BUDGET, &budget, sizeof(budget));
}

int
ticks_soft_get_budget(pid_t tid, uint64_t *ret_budget)
{
	uint64_t b;
	int r = tracee_read(tid, PATCH_TICK_BUDGET, &b, sizeof(b));

	if (r < 0)
		return r;
	*ret_budget = b;
	return 0;
}
