/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the tick sources: names and parsing, the perf_event_attr
 * libpfm4 encodes for forced Intel and AMD PMU models (LIBPFM_FORCE_PMU,
 * read by pfm_initialize: Criterion runs each test in its own process), and
 * that probing, "auto", opening and reading agree on this machine, whether it
 * has hardware counters or not; and the hardware breakpoint replay uses to
 * find a PMU execution point.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sched/ticks.h"
#include "tracee/tracee.h"

TestSuite(ticks, .timeout = 10);
TestSuite(ticks_pmu, .timeout = 10);
TestSuite(tracee_hw_breakpoint, .timeout = 10);

Test(ticks, name_parse_round_trip)
{
	for (int s = TICKS_SOURCE_NONE; s <= TICKS_SOURCE_PMU; s++) {
		enum ticks_source got = 99;
		bool is_auto = true;

		cr_assert_eq(ticks_source_parse(ticks_source_name(s), &got, &is_auto), 0);
		cr_assert_eq(got, (enum ticks_source)s, "%s", ticks_source_name(s));
		cr_assert_not(is_auto);
	}
	cr_assert_str_eq(ticks_source_name(TICKS_SOURCE_NONE), "none");
	cr_assert_str_eq(ticks_source_name(TICKS_SOURCE_SOFT), "soft");
	cr_assert_str_eq(ticks_source_name(TICKS_SOURCE_PMU), "pmu");
	cr_assert_str_eq(ticks_source_name((enum ticks_source)42), "?");
}

Test(ticks, parse_auto)
{
	enum ticks_source got = TICKS_SOURCE_PMU;
	bool is_auto = false;

	cr_assert_eq(ticks_source_parse("auto", &got, &is_auto), 0);
	cr_assert(is_auto);
	cr_assert_eq(got, TICKS_SOURCE_NONE);
}

Test(ticks, parse_rejects_and_leaves_outputs)
{
	static const char *const bad[] = { "", "PMU", "Soft", "hw", "pmu ", "autox", "none,soft" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum ticks_source got = (enum ticks_source)77;
		bool is_auto = true;

		cr_assert_eq(ticks_source_parse(bad[i], &got, &is_auto), -EINVAL, "'%s'", bad[i]);
		cr_assert_eq(got, (enum ticks_source)77, "'%s' touched the source", bad[i]);
		cr_assert(is_auto, "'%s' touched auto", bad[i]);
	}
	cr_assert_eq(ticks_source_parse(NULL, NULL, NULL), -EINVAL);
}

/*
 * Force libpfm4's PMU model @pmu and check the encoding: a raw event
 * (PERF_TYPE_RAW: config = umask << 8 | event select) of user space only.
 */
static void
check_forced(const char *pmu, uint64_t config, const char *name)
{
	struct perf_event_attr attr;
	char got[TICKS_PMU_NAME_MAX];

	cr_assert_eq(setenv("LIBPFM_FORCE_PMU", pmu, 1), 0);
	cr_assert_eq(ticks_pmu_attr(&attr, got, sizeof(got)), 0, "no event for %s", pmu);
	cr_assert_str_eq(got, name);
	cr_assert_eq(attr.type, PERF_TYPE_RAW);
	cr_assert_eq(attr.config, config, "%s: config %#llx, expected %#llx", pmu,
		     (unsigned long long)attr.config, (unsigned long long)config);
	cr_assert_eq(attr.size, sizeof(attr));
	cr_assert(attr.exclude_kernel);
	cr_assert(attr.exclude_hv);
	cr_assert_not(attr.exclude_user);
	cr_assert_not(attr.disabled, "the counter counts from its opening");
	cr_assert_eq(attr.sample_period, 0);
}

/* Intel SDM vol. 3B, Skylake: BR_INST_RETIRED.CONDITIONAL is event 0xc4 umask 0x01 */
Test(ticks_pmu, intel_skylake)
{
	check_forced("skl", 0x01c4, "skl::BR_INST_RETIRED:CONDITIONAL");
}

Test(ticks_pmu, intel_haswell)
{
	check_forced("hsw", 0x01c4, "hsw::BR_INST_RETIRED:CONDITIONAL");
}

/* From Ice Lake umask 0x01 is COND_TAKEN; COND (0x11) adds the not-taken ones */
Test(ticks_pmu, intel_icelake)
{
	check_forced("icl", 0x11c4, "icl::BR_INST_RETIRED:COND");
}

Test(ticks_pmu, intel_sapphire_rapids)
{
	check_forced("spr", 0x11c4, "spr::BR_INST_RETIRED:COND");
}

/* AMD PPR for family 17h/19h: PMCx0D1 Retired Conditional Branch Instructions */
Test(ticks_pmu, amd_zen1)
{
	check_forced("amd64_fam17h_zen1", 0xd1,
		     "amd64_fam17h_zen1::RETIRED_CONDITIONAL_BRANCH_INSTRUCTIONS");
}

Test(ticks_pmu, amd_zen2)
{
	check_forced("amd64_fam17h_zen2", 0xd1,
		     "amd64_fam17h_zen2::RETIRED_CONDITIONAL_BRANCH_INSTRUCTIONS");
}

Test(ticks_pmu, amd_zen3)
{
	check_forced("amd64_fam19h_zen3", 0xd1,
		     "amd64_fam19h_zen3::RETIRED_CONDITIONAL_BRANCH_INSTRUCTIONS");
}

Test(ticks_pmu, amd_zen4)
{
	check_forced("amd64_fam19h_zen4", 0xd1,
		     "amd64_fam19h_zen4::RETIRED_CONDITIONAL_BRANCH_INSTRUCTIONS");
}

/* Tremont's BR_INST_RETIRED has no conditional umask: no tick event */
Test(ticks_pmu, tremont_has_none)
{
	struct perf_event_attr attr = { .config = 0x1234 };
	char name[TICKS_PMU_NAME_MAX] = "untouched";
	char why[256] = "";

	cr_assert_eq(setenv("LIBPFM_FORCE_PMU", "tmt", 1), 0);
	cr_assert_eq(ticks_pmu_attr(&attr, name, sizeof(name)), -ENOENT);
	cr_assert_eq(attr.config, 0x1234, "attr touched on failure");
	cr_assert_str_eq(name, "untouched");
	cr_assert_eq(ticks_pmu_probe(why, sizeof(why)), -ENOENT);
	cr_assert(strstr(why, "tmt"), "reason names the PMU: '%s'", why);
	cr_assert_eq(ticks_source_auto(), TICKS_SOURCE_SOFT);
}

Test(ticks_pmu, short_name_buffer)
{
	struct perf_event_attr attr = { .config = 0x1234 };
	char name[8];

	cr_assert_eq(setenv("LIBPFM_FORCE_PMU", "skl", 1), 0);
	cr_assert_eq(ticks_pmu_attr(&attr, name, sizeof(name)), -ENOBUFS);
	cr_assert_eq(attr.config, 0x1234);
	cr_assert_eq(ticks_pmu_attr(&attr, NULL, 0), 0, "the name is optional");
	cr_assert_eq(attr.config, 0x01c4);
}

/* Branches the counter must see: the asm keeps the loop */
static void
run_branches(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		__asm__ volatile("" ::: "memory");
}

static void
check_reason(int r, const char *why)
{
	if (r == 0)
		return;
	cr_assert_lt(r, 0);
	cr_assert_gt(strlen(why), 10, "a readable reason, got '%s'", why);
	cr_assert_null(strchr(why, '\n'), "one line: '%s'", why);
	cr_log_info("no PMU ticks here: %s (%s)", why, strerror(-r));
}

/*
 * Probe, auto, open and read agree: all work, or open fails as the probe did
 * (a probe that fails after opening, counting nothing, is -ENODATA).
 */
static void
check_consistent(void)
{
	char why[256] = "";
	uint64_t t0 = 0, t1 = 0;
	int r, ro, fd = -1;

	r = ticks_pmu_probe(why, sizeof(why));
	check_reason(r, why);
	cr_assert_eq(r == 0, ticks_source_auto() == TICKS_SOURCE_PMU);
	cr_assert_neq(ticks_source_auto(), TICKS_SOURCE_NONE);
	ro = ticks_pmu_open(gettid(), 0, 0, &fd);
	if (ro < 0) {
		cr_assert_eq(ro, r, "open: %s, probe: %s", strerror(-ro), why);
		cr_assert_eq(fd, -1, "fd touched on failure");
		return;
	}
	cr_assert(r == 0 || r == -ENODATA, "open works where the probe said: %s", why);
	cr_assert_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	cr_assert_eq(ticks_pmu_read(fd, &t0), 0);
	run_branches(10000);
	cr_assert_eq(ticks_pmu_read(fd, &t1), 0);
	if (r == 0)
		cr_assert_geq(t1 - t0, 10000, "%llu ticks for 10000 loop branches",
			      (unsigned long long)(t1 - t0));
	close(fd);
}

Test(ticks_pmu, probe_open_read_agree)
{
	check_consistent();
}

/* With a model forced, libpfm4 encodes an event; perf_event_open decides */
Test(ticks_pmu, probe_open_read_agree_forced)
{
	cr_assert_eq(setenv("LIBPFM_FORCE_PMU", "skl", 1), 0);
	check_consistent();
}

Test(ticks_pmu, read_bad_fd)
{
	uint64_t t = 7;

	cr_assert_eq(ticks_pmu_read(-1, &t), -EBADF);
	cr_assert_eq(t, 7);
}

static volatile sig_atomic_t overflows;

static void
on_overflow(int sig)
{
	overflows++;
}

Test(ticks_pmu, overflow_signals_the_thread)
{
	struct sigaction sa = { .sa_handler = on_overflow };
	char why[256] = "";
	int fd = -1, r;

	r = ticks_pmu_probe(why, sizeof(why));
	if (r < 0)
		cr_skip_test("no PMU ticks here: %s", why);
	cr_assert_eq(sigaction(SIGUSR2, &sa, NULL), 0);
	cr_assert_eq(ticks_pmu_open(gettid(), 5000, SIGUSR2, &fd), 0);
	cr_assert(fcntl(fd, F_GETFL) & O_ASYNC);
	cr_assert_eq(fcntl(fd, F_GETSIG), SIGUSR2);
	run_branches(100000);
	cr_assert_eq(overflows, 1, "%d SIGUSR2 after 100000 branches with a period of 5000: "
		     "the counter interrupts once", (int)overflows);
	close(fd);
}

/*
 * The hardware breakpoint replay's PMU path uses to reach an execution point:
 * a traced child stops at each pass through a function, resumes past it, and
 * runs free once the breakpoint is gone.
 */
static __attribute__((noinline)) void
bp_target(void)
{
	__asm__ volatile("" ::: "memory");
}

Test(tracee_hw_breakpoint, stops_at_each_pass_then_never)
{
	struct user_regs_struct regs;
	siginfo_t si;
	int status, traps = 0;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		for (int i = 0; i < 5; i++)
			bp_target();
		_exit(7);
	}
	cr_assert_eq(tracee_wait(pid, &status), 0);
	cr_assert(WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP);
	cr_assert_eq(tracee_set_hw_breakpoint(pid, (uint64_t)(uintptr_t)bp_target), 0);
	for (;;) {
		tracee_resume(pid, PTRACE_CONT, 0);
		cr_assert_eq(tracee_wait(pid, &status), 0);
		if (!WIFSTOPPED(status))
			break;
		cr_assert_eq(WSTOPSIG(status), SIGTRAP);
		cr_assert_eq(ptrace(PTRACE_GETSIGINFO, pid, 0, &si), 0);
		cr_assert_eq(si.si_code, TRAP_HWBKPT);
		cr_assert_eq(tracee_get_regs(pid, &regs), 0);
		cr_assert_eq(regs.rip, (uint64_t)(uintptr_t)bp_target);
		if (++traps == 3)
			cr_assert_eq(tracee_set_hw_breakpoint(pid, 0), 0);
	}
	cr_assert_eq(traps, 3, "stops before removal: %d", traps);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 7);
}
