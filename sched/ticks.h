/* SPDX-License-Identifier: MIT */
/*
 * Ticks: the unit of a thread's progress between events, i.e. retired
 * conditional branches in user space. They are counted either by the PMU
 * (perf_event_open(2) with a raw event libpfm4 names for this CPU, as rr does)
 * or by uprr's own rewritten code ("soft" ticks), which needs the extent of
 * the function around an address (ticks_function_at).
 */
#pragma once

#include <linux/perf_event.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/util.h"

/** Who counts ticks. */
enum ticks_source {
	TICKS_SOURCE_NONE = 0, /**< nothing counts: events are ordered by syscalls and signals only */
	TICKS_SOURCE_SOFT,     /**< uprr's rewritten code counts branches in the tracee */
	TICKS_SOURCE_PMU,      /**< a hardware counter of retired conditional branches (perf) */
};

/** Size of a buffer that holds any libpfm4 event name ticks_pmu_attr stores. */
#define TICKS_PMU_NAME_MAX 128

/** The name of @s: "none", "soft", "pmu"; "?" for a value out of range. */
const char *ticks_source_name(enum ticks_source s);

/**
 * Parse a --ticks option value: "auto", or a name ticks_source_name returns.
 * "auto" stores TICKS_SOURCE_NONE in *ret_source and true in *ret_auto (the
 * caller resolves it with ticks_source_auto); a name stores its value and
 * false. Returns 0, or -EINVAL for anything else (outputs untouched).
 */
int ticks_source_parse(const char *s, enum ticks_source *ret_source, bool *ret_auto) _wur_;

/**
 * The perf_event_attr that counts the retired conditional branches of one
 * thread in user space on this CPU, from libpfm4 (pfm_get_os_event_encoding
 * with PFM_OS_PERF_EVENT): Intel BR_INST_RETIRED:CONDITIONAL (umask 0x01;
 * named BR_INST_RETIRED:COND, umask 0x11, from Ice Lake on), AMD Zen
 * RETIRED_CONDITIONAL_BRANCH_INSTRUCTIONS (PMCx0D1, fam17h/fam19h). The attr
 * is PERF_TYPE_RAW with exclude_kernel, exclude_hv and exclude_guest set,
 * enabled, no sampling. libpfm4 finds the PMU model from cpuid, even where the
 * kernel exposes no counters, and honours LIBPFM_FORCE_PMU (read once, at the
 * first call in the process). Stores the event's fully qualified libpfm4 name
 * ("skl::BR_INST_RETIRED:CONDITIONAL") in @name (@name_len bytes with the NUL;
 * @name may be NULL). Returns 0, -ENOENT when libpfm4 knows no such event for
 * this CPU, -ENOBUFS when @name is too short, or another -errno.
 */
int ticks_pmu_attr(struct perf_event_attr *ret_attr, char *name, size_t name_len) _wur_;

/**
 * Whether the tick counter works here: perf_event_open(2) of the
 * ticks_pmu_attr event on the calling thread, which then runs a 1000-branch
 * loop and reads it. Returns 0, or -errno with a one-line reason in @why
 * (@why_len bytes): -ENOENT when libpfm4 knows no event or the kernel has no
 * "cpu" PMU (VMs without a virtual PMU), -EACCES or -EPERM when
 * perf_event_paranoid forbids it, -ENODATA when the counter opens but counts
 * nothing (some virtual PMUs accept any raw event).
 */
int ticks_pmu_probe(char *why, size_t why_len) _wur_;

/** Resolve "auto": TICKS_SOURCE_PMU when ticks_pmu_probe succeeds, else TICKS_SOURCE_SOFT. */
enum ticks_source ticks_source_auto(void);

/**
 * How many ticks before an execution point replay asks the PMU to interrupt:
 * the overflow interrupt arrives some branches late ("skid"; rr allows 100 on
 * Intel and more on AMD), and from the interrupt on a hardware breakpoint and
 * single steps reach the exact point.
 */
#define TICKS_PMU_SKID 256

/** The signal the overflow of a replay's interrupting counter raises in the tracee (rr's choice). */
#define TICKS_PMU_SIGNAL SIGSTKFLT

/**
 * Open an enabled tick counter of thread @tid (perf_event_open(2), any CPU,
 * PERF_FLAG_FD_CLOEXEC; the caller needs ptrace access to @tid). If
 * @overflow_after > 0 the counter interrupts once, after that many ticks
 * (sample_period, enabled for one overflow with PERF_EVENT_IOC_REFRESH, after
 * which the kernel disables it: read such a counter only before then): the
 * kernel sends signal @sig (0: SIGIO) to @tid itself (fcntl(2) F_SETOWN_EX
 * with F_OWNER_TID, F_SETSIG, O_ASYNC, as rr does), so a supervisor that
 * ptraces @tid sees a signal-delivery-stop shortly after the target (the PMU
 * interrupt skids, see TICKS_PMU_SKID). Stores the fd (caller closes) in
 * *ret_fd. Returns 0 or -errno (-ENOENT: no such event or PMU, -ESRCH: @tid
 * vanished).
 */
int ticks_pmu_open(pid_t tid, uint64_t overflow_after, int sig, int *ret_fd) _wur_;

/** Set counter @fd back to 0 (PERF_EVENT_IOC_RESET, perf_event_open(2)). Returns 0 or -errno. */
int ticks_pmu_reset(int fd) _wur_;

/**
 * Read the tick count of counter @fd: one u64, read(2) of a counter opened
 * without read_format (perf_event_open(2)). Returns 0 or -errno.
 */
int ticks_pmu_read(int fd, uint64_t *ret_ticks) _wur_;

/**
 * The function containing runtime address @addr of process @pid: finds the
 * mapping in /proc/PID/maps (tracee_read_maps), opens its file (through
 * /proc/PID/map_files/ when permitted, so a replaced or deleted file still
 * resolves; else by path), and looks for an STT_FUNC or STT_GNU_IFUNC symbol
 * covering the address in .symtab or .dynsym (libelf), else the FDE covering
 * it in .eh_frame (libdw's CFI reader; stripped Debian binaries keep
 * .eh_frame). File virtual addresses become runtime ones with the load bias of
 * the PT_LOAD segment holding the address's file offset (mapping start -
 * mapping offset + p_offset - p_vaddr; the kernel maps segments so, see
 * load_elf_binary in fs/binfmt_elf.c). Stores [*ret_start, *ret_end), runtime
 * addresses, and returns 1; returns 0 if nothing covers it (unmapped,
 * anonymous or pseudo mapping such as [vdso], no symbol, no FDE), or -errno.
 * Parsed files are cached by path, device and inode until
 * ticks_functions_reset. Not thread-safe (the supervisor is single-threaded).
 */
int ticks_function_at(pid_t pid, uint64_t addr, uint64_t *ret_start, uint64_t *ret_end) _wur_;

/** Drop the cache of parsed files of ticks_function_at (closes their fds, frees memory). */
void ticks_functions_reset(void);
