/* SPDX-License-Identifier: MIT */
/*
 * "Soft ticks": on machines without a usable hardware branch counter, uprr
 * counts a thread's progress by rewriting the loop back-edges of the
 * tracee's code. Each patched region jumps to a stub that decrements the
 * budget in a fixed page and traps with int3 when it reaches zero, then runs
 * the region's own instructions, relocated, and jumps back.
 *
 * This file only plans: it turns the tracee's code bytes into the stub bytes
 * and the edits of the original code. Writing them into the tracee, mapping
 * the tick page and handling the trap belong to the caller.
 *
 * Stub of one site, at S (offsets in PATCH_STUB_*):
 *	S:	mov [PATCH_TICK_SCRATCH], rcx
 *		mov rcx, [PATCH_TICK_BUDGET]
 *		lea rcx, [rcx-1]		; no flags are changed before C
 *		mov [PATCH_TICK_BUDGET], rcx
 *		jrcxz T
 *		mov rcx, [PATCH_TICK_SCRATCH]
 *	C:	<the region's instructions, relocated>
 *		jmp <region end>
 *	T:	int3
 *		jmp C - 8			; back to the rcx restore
 *		[dq <region end>]		; only if the region ends with a call
 *
 * A backward `jmp` that has no such region (a jmp right after the jcc that
 * leaves its loop, or after a call) is counted only if it closes a loop (a
 * path from its target comes back to it: not a jmp to a shared epilogue),
 * and then at the loop's head, or at the first instruction after it that
 * every turn runs, where a region fits. Only a loop with no room anywhere
 * (`jmp .`, the whole of `for (;;);`) gets a "trap site": the jmp's first
 * byte is replaced by int3, and the caller counts the tick and makes the
 * jump each time a thread stops there with SIGTRAP
 * (ticks_soft_count_trap()). That costs a ptrace stop per turn; such loops
 * only end when another thread or a signal handler changes something.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

/** The tick page, mapped by the caller in the tracee: below 2 GiB so that the
 * stubs reach it with absolute disp32 addressing (SIB without base). */
#define PATCH_TICK_PAGE 0x70000000ull
/** u64 decremented by every counted branch; the stub traps when it becomes 0
 * (so a budget of K traps at the K-th counted branch; 0 means "never" for
 * 2^64 branches). */
#define PATCH_TICK_BUDGET (PATCH_TICK_PAGE + 0)
/** u64 where a stub saves the thread's rcx while it uses rcx. */
#define PATCH_TICK_SCRATCH (PATCH_TICK_PAGE + 8)

/** Offset in a stub of the `mov [budget], rcx` that commits the tick. */
#define PATCH_STUB_COMMIT_OFF 20
/** Offset in a stub of the `jrcxz T`. */
#define PATCH_STUB_JRCXZ_OFF 28
/** Offset in a stub of the `mov rcx, [scratch]` that precedes C. */
#define PATCH_STUB_RESTORE_OFF 30
/** Offset in a stub of C, the first relocated instruction. */
#define PATCH_STUB_CLEAN_OFF 38

/** One patched back-edge, function entry or loop head (branch: the region's
 * start). A trap site has stub 0, trap the jmp's address (the int3), clean
 * the jmp's target, region_len 1. */
struct patch_site {
	uint64_t branch;     /**< address of the counted branch in the original code */
	uint64_t region;     /**< start of the replaced original bytes */
	uint32_t region_len; /**< bytes replaced: `jmp rel32` to the stub, then int3 */
	uint64_t stub;       /**< S: start of this site's stub; 0: a trap site */
	uint64_t trap;       /**< the stub's int3; a trapped thread stops with rip == trap + 1 */
	uint64_t clean;      /**< C: where a trapped thread continues once rcx is restored */
};

/** A write to the original code. */
struct patch_edit {
	uint64_t addr;
	uint32_t len;
	uint8_t bytes[32];
};

/** Everything to write into the tracee for a set of sites. */
struct patch_plan {
	uint8_t *stub;		  /**< code to write at the stub base, malloc'd */
	size_t stub_len;
	struct patch_edit *edits; /**< one per site, in the order of sites, malloc'd */
	size_t nedits;
	struct patch_site *sites; /**< sorted by branch address, malloc'd */
	size_t nsites;
};

/**
 * Plan counting patches. @code/@len are the tracee's bytes at @addr.
 *
 * If @whole_function, [addr, addr+len) is one whole function (from a symbol
 * table or an FDE): it is decoded linearly, all direct branch targets are
 * collected, and every backward jcc/jmp that can be patched safely is (a
 * jmp without a region as described above: at its loop's head or body, or
 * as a trap site, or not at all if it closes no loop). Its
 * entry is counted too (a region at its first instruction) if it calls
 * itself, or if it has calls but no backward branch to count: a thread that
 * ran out of time in a function without loops that calls others is in a
 * recursion through them.
 * Otherwise the bytes are a window of code around @rip with unknown
 * boundaries: decode forward from @rip to the first backward branch whose
 * target t satisfies addr <= t <= rip (the loop @rip is in), check that a
 * linear decode from t reaches @rip and the branch on instruction boundaries,
 * and patch only that branch (or its loop). In this mode jumps from outside
 * the window into the loop cannot be seen; targets are taken from the decode
 * from t to the window's end and from a best-effort decode of [addr, t).
 *
 * A region (the original bytes replaced by `jmp rel32`) is at least 5 bytes
 * of whole instructions containing the branch, grown backwards within its
 * basic block, then forwards after the branch; so every entry into a region
 * executes its branch exactly once and each execution of a patched branch
 * counts one tick (a branch back to the region start enters again through
 * the stub). A region is refused if a known direct branch target,
 * an address of @avoid (rips of stopped threads, resume addresses in signal
 * frames, landing pads), or a call other than its last instruction lies
 * strictly inside it, or if it holds an instruction that is not moved
 * (loop/jrcxz, syscall, int, rdtsc, cpuid, xbegin, indirect call, anything
 * capstone cannot decode). When the code has an indirect jump that may use a
 * jump table (anything but `jmp [rip+x]`) or does not decode completely, its
 * targets are unknown and only branches that are a 5-byte region on their own
 * (rel32 forms) are patched.
 *
 * Stubs are laid out from @stub_base, at most @stub_cap bytes, which must not
 * overlap the code; a site whose rel32 displacements do not reach is skipped.
 * A relocated call pushes the original return address (region end), so the
 * callee sees exactly what it would see unpatched.
 *
 * The caller writes plan->stub at @stub_base before applying the edits, and
 * keeps the budget per thread (the page is shared by the threads of a
 * process: only one may run patched code at a time).
 *
 * Returns the number of sites, and stores the plan in *ret_plan (0 sites: an
 * empty but valid plan), or -EINVAL (bad arguments, @rip outside the window),
 * -ENOMEM; *ret_plan is untouched on failure.
 */
int patch_plan_code(const uint8_t *code, size_t len, uint64_t addr, bool whole_function,
		    uint64_t rip, uint64_t stub_base, size_t stub_cap, const uint64_t *avoid,
		    size_t navoid, struct patch_plan *ret_plan) _wur_;

/** Free what a plan owns and zero it (NULL-safe; the struct is the caller's). */
void patch_plan_free(struct patch_plan *plan);

/** Where a stopped thread was, relative to a site's stub. */
enum patch_stop {
	PATCH_STOP_OUTSIDE = 0,	  /**< not in the prologue nor at the trap: nothing to do */
	PATCH_STOP_UNCOUNTED = 1, /**< in the prologue before the tick was committed: moved to S */
	PATCH_STOP_COUNTED = 2,	  /**< tick committed, budget not zero: moved to C */
	PATCH_STOP_TRAPPED = 3,	  /**< tick committed and budget reached zero: moved to C */
};

/**
 * Make a thread stopped in @site's stub prologue or at its trap "clean": give
 * it back its own rcx and a rip where it has no stub state in flight. @rip and
 * @rcx are the thread's registers, @scratch the u64 at PATCH_TICK_SCRATCH.
 * Call it before another thread runs patched code or a signal handler runs on
 * this thread (both would overwrite the scratch). At S or C the thread is at
 * the equivalent of the region start in the original code (before or after
 * its tick). A trap site is PATCH_STOP_TRAPPED at rip == trap + 1 (moved to
 * the jmp's target: the int3 always traps, the budget is the caller's to
 * check) and PATCH_STOP_OUTSIDE anywhere else. Stores the new registers in *ret_rip, *ret_rcx (unchanged for
 * PATCH_STOP_OUTSIDE) and returns an enum patch_stop.
 */
enum patch_stop patch_site_clean(const struct patch_site *site, uint64_t rip, uint64_t rcx,
				 uint64_t scratch, uint64_t *ret_rip, uint64_t *ret_rcx);
