/* SPDX-License-Identifier: MIT */
/*
 * PMU ticks: a perf_event_open(2) counter of retired conditional branches in
 * user space, the event rr counts, encoded for this CPU by libpfm4.
 */
#define LOG_PREFIX "ticks"
#include "sched/ticks.h"

#include <errno.h>
#include <fcntl.h>
#include <perfmon/pfmlib_perf_event.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include "common/lazylib.h"
#include "common/log.h"
#include "sched/ticks-private.h"

/*
 * Event names, tried in order. Intel cores up to Skylake call the event
 * BR_INST_RETIRED.CONDITIONAL (event 0xc4 umask 0x01); from Ice Lake umask
 * 0x01 is COND_TAKEN only and all conditional branches are COND (umask 0x11),
 * which libpfm4 also accepts as an alias on Skylake. AMD Zen 1-4 count them
 * with PMCx0D1 (PPR for family 17h/19h). rr uses the same three encodings.
 */
static const char *const cond_branch_events[] = {
	"BR_INST_RETIRED:CONDITIONAL",
	"BR_INST_RETIRED:COND",
	"RETIRED_CONDITIONAL_BRANCH_INSTRUCTIONS",
};

/* libpfm4's functions, loaded at the first use (common/lazylib.h): a
 * machine without hardware counters never needs them */
static struct {
	pfm_err_t (*initialize)(void);
	const char *(*strerror)(int code);
	pfm_err_t (*get_os_event_encoding)(const char *str, int dfl_plm, pfm_os_t os, void *args);
	pfm_err_t (*get_pmu_info)(pfm_pmu_t pmu, pfm_pmu_info_t *output);
} pfm;

/* clang-format off */
static const struct lazylib_fn pfm_fns[] = {
	{ "pfm_initialize", (void **)&pfm.initialize },
	{ "pfm_strerror", (void **)&pfm.strerror },
	{ "pfm_get_os_event_encoding", (void **)&pfm.get_os_event_encoding },
	{ "pfm_get_pmu_info", (void **)&pfm.get_pmu_info },
};
/* clang-format on */

/* libpfm4's Makefile names the library after the major version (4) */
_Static_assert(LIBPFM_VERSION >> 16 == 4, "libpfm4's soname is libpfm.so.4");
static struct lazylib pfm_lib = {
	.soname = "libpfm.so.4",
	.fns = pfm_fns,
	.nfns = ARRAY_SIZE(pfm_fns),
};

static int
pfm_init(void)
{
	int r = lazylib_load(&pfm_lib);

	if (r < 0)
		return log_debug_errno(-ENODEV, "cannot load libpfm4");
	/* returns the first call's result on later calls (libpfm4 pfmlib_common.c) */
	r = pfm.initialize();
	if (r != PFM_SUCCESS)
		return log_debug_errno(-ENODEV, "pfm_initialize: %s", pfm.strerror(r));
	return 0;
}

/* "skl::BR_INST_RETIRED:CONDITIONAL:e=0:i=0:..." without the ":x=v" modifiers */
static int
store_name(const char *fstr, char *name, size_t name_len)
{
	const char *eq = strchr(fstr, '='), *end = fstr + strlen(fstr);

	if (eq) {
		end = eq;
		while (end > fstr && *end != ':')
			end--;
	}
	if ((size_t)(end - fstr) >= name_len)
		return -ENOBUFS;
	memcpy(name, fstr, (size_t)(end - fstr));
	name[end - fstr] = '\0';
	return 0;
}

int
ticks_pmu_attr(struct perf_event_attr *ret_attr, char *name, size_t name_len)
{
	int r;

	r = pfm_init();
	if (r < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(cond_branch_events); i++) {
		struct perf_event_attr attr = { 0 };
		pfm_perf_encode_arg_t arg = { 0 };
		char *fstr = NULL;

		arg.size = sizeof(arg);
		arg.attr = &attr;
		arg.fstr = &fstr;
		/* PFM_PLM3: privilege level 3, user space only */
		r = pfm.get_os_event_encoding(cond_branch_events[i], PFM_PLM3, PFM_OS_PERF_EVENT,
					      &arg);
		if (r == PFM_ERR_NOTFOUND || r == PFM_ERR_ATTR || r == PFM_ERR_UMASK)
			continue; /* not this CPU's name for it */
		if (r != PFM_SUCCESS)
			return log_debug_errno(-EINVAL, "libpfm4 cannot encode %s: %s",
					       cond_branch_events[i], pfm.strerror(r));
		r = name ? store_name(fstr, name, name_len) : 0;
		free(fstr);
		if (r < 0)
			return r;
		attr.size = sizeof(attr);
		/* a tick is a user-space branch: the kernel's and a host's vary */
		attr.exclude_kernel = 1;
		attr.exclude_hv = 1;
		attr.exclude_guest = 1;
		*ret_attr = attr;
		return 0;
	}
	return -ENOENT;
}

static int
sys_perf_event_open(struct perf_event_attr *attr, pid_t tid)
{
	int fd = (int)syscall(SYS_perf_event_open, attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int
ticks_pmu_open(pid_t tid, uint64_t overflow_after, int sig, int *ret_fd)
{
	struct perf_event_attr attr;
	_cleanup_close_ int fd = -1;
	int r;

	r = ticks_pmu_attr(&attr, NULL, 0);
	if (r < 0)
		return r;
	attr.sample_period = overflow_after;
	/* always on the PMU: counters the program opens for itself
	 * (perf_event_open(2)) are multiplexed around it, never it around
	 * them, which would lose ticks (pinned, perf_event_open(2)) */
	attr.pinned = 1;
	/* an interrupting counter starts disabled: PERF_EVENT_IOC_REFRESH below
	 * enables it for one overflow, after which the kernel disables it */
	attr.disabled = overflow_after > 0;
	fd = sys_perf_event_open(&attr, tid);
	if (fd < 0)
		return fd;
	if (overflow_after > 0) {
		/*
		 * The overflow signal goes to the fd's owner (fcntl(2),
		 * F_SETOWN_EX): the counted thread itself, with @sig
		 * instead of SIGIO (F_SETSIG); perf raises it on every
		 * overflow of an O_ASYNC event (kernel/events/core.c).
		 */
		struct f_owner_ex own = { .type = F_OWNER_TID, .pid = tid };
		int fl = fcntl(fd, F_GETFL);

		if (fl < 0 || fcntl(fd, F_SETOWN_EX, &own) < 0 || fcntl(fd, F_SETSIG, sig) < 0 ||
		    fcntl(fd, F_SETFL, fl | O_ASYNC) < 0 || ioctl(fd, PERF_EVENT_IOC_REFRESH, 1) < 0)
			return -errno;
	}
	*ret_fd = steal_fd(&fd);
	return 0;
}

int
ticks_pmu_reset(int fd)
{
	return ioctl(fd, PERF_EVENT_IOC_RESET, 0) < 0 ? -errno : 0;
}

int
ticks_pmu_read(int fd, uint64_t *ret_ticks)
{
	uint64_t v;
	ssize_t n;

	do
		n = read(fd, &v, sizeof(v));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n != sizeof(v))
		return -EIO;
	*ret_ticks = v;
	return 0;
}

int
ticks_pmu_kernel_has_counters(char *why, size_t why_len)
{
	/* a generic event any core PMU driver maps (x86: branch instructions
	 * retired); without one the kernel finds no PMU for the type
	 * (perf_init_event(), kernel/events/core.c) */
	struct perf_event_attr attr = {
		.type = PERF_TYPE_HARDWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_HW_BRANCH_INSTRUCTIONS,
		.disabled = 1,
		.exclude_kernel = 1,
		.exclude_hv = 1,
	};
	int fd = sys_perf_event_open(&attr, 0);

	if (fd == -ENOENT || fd == -EOPNOTSUPP || fd == -ENODEV) {
		snprintf(why, why_len,
			 "perf_event_open: %s: the kernel exposes no hardware counters "
			 "(a VM without a virtual PMU?)", strerror(-fd));
		return fd;
	}
	if (fd >= 0)
		close(fd);
	return 0; /* or libpfm4 and the real event tell why not */
}

/* Names of the core PMUs libpfm4 detected, "" if none. */
static void
detected_pmus(char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int p = 0; p < PFM_PMU_MAX; p++) {
		pfm_pmu_info_t info = { .size = sizeof(info) };

		if (pfm.get_pmu_info(p, &info) != PFM_SUCCESS || !info.is_present ||
		    info.type != PFM_PMU_TYPE_CORE)
			continue;
		used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? "," : "", info.name);
		if (used >= len)
			break;
	}
}

int
ticks_pmu_probe(char *why, size_t why_len)
{
	char pmus[128];
	struct perf_event_attr attr;
	_cleanup_close_ int fd = -1;
	uint64_t ticks = 0;
	int r;

	r = ticks_pmu_attr(&attr, NULL, 0);
	if (r == -ENOENT) {
		detected_pmus(pmus, sizeof(pmus));
		if (pmus[0])
			snprintf(why, why_len,
				 "libpfm4 PMU %s has no retired-conditional-branch event", pmus);
		else
			snprintf(why, why_len, "libpfm4 does not know this CPU model's PMU");
		return r;
	}
	if (r < 0) {
		snprintf(why, why_len, "libpfm4 failed: %s", strerror(-r));
		return r;
	}
	fd = sys_perf_event_open(&attr, 0);
	if (fd == -ENOENT || fd == -EOPNOTSUPP) {
		snprintf(why, why_len,
			 "perf_event_open: %s: the kernel exposes no hardware counters "
			 "(a VM without a virtual PMU?)", strerror(-fd));
		return fd;
	}
	if (fd == -EACCES || fd == -EPERM) {
		snprintf(why, why_len,
			 "perf_event_open: %s: see /proc/sys/kernel/perf_event_paranoid",
			 strerror(-fd));
		return fd;
	}
	if (fd < 0) {
		snprintf(why, why_len, "perf_event_open: %s", strerror(-fd));
		return fd;
	}
	/* some virtual PMUs accept any raw event and count nothing: branch */
	for (volatile int i = 0; i < 1000; i++)
		;
	r = ticks_pmu_read(fd, &ticks);
	if (r < 0) {
		snprintf(why, why_len, "reading the counter: %s", strerror(-r));
		return r;
	}
	if (ticks == 0) {
		snprintf(why, why_len, "the counter opens but counts no branches");
		return -ENODATA;
	}
	return 0;
}
