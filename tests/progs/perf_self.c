/* SPDX-License-Identifier: MIT */
/*
 * A program that measures itself with software perf events: task clock,
 * context switches and page faults around some work (pages touched, sleeps),
 * reset, enabled and disabled by ioctl, read(2) for the counts, ioctl
 * PERF_EVENT_IOC_ID for their ids; a hardware event, which fails where the
 * machine has no PMU. Prints the counts (they differ from run to run) and
 * whether they make sense. `perf_self mmap` maps a counter's ring buffer,
 * which uprr refuses: the kernel writes it at any time.
 */
#include <inttypes.h>
#include <linux/perf_event.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "progs.h"

#define PAGES 64

static bool user_only; /* perf_event_paranoid lets us count user space only */

/* Context switches happen in the kernel: counted only with its part. */
static int
open_event(uint32_t type, uint64_t config)
{
	struct perf_event_attr attr = { .type = type, .size = sizeof(attr), .config = config,
					.disabled = 1, .exclude_kernel = user_only,
					.exclude_hv = 1 };
	int fd = (int)syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);

	if (fd < 0 && (errno == EACCES || errno == EPERM) && !user_only) {
		user_only = true;
		return open_event(type, config);
	}
	return fd;
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		uint64_t config;
	} events[] = {
		{ "task clock", PERF_COUNT_SW_TASK_CLOCK },
		{ "context switches", PERF_COUNT_SW_CONTEXT_SWITCHES },
		{ "page faults", PERF_COUNT_SW_PAGE_FAULTS },
	};
	uint64_t count[3], id[3];
	int fd[3], hw;
	char *mem;

	for (int i = 0; i < 3; i++) {
		fd[i] = open_event(PERF_TYPE_SOFTWARE, events[i].config);
		if (fd[i] < 0)
			die("perf_event_open %s: %s", events[i].name, strerror(errno));
	}
	if (argc > 1 && !strcmp(argv[1], "mmap")) {
		void *ring = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd[0], 0);

		say("mmap of the ring buffer: %s\n", ring == MAP_FAILED ? strerror(errno) : "mapped");
		return 0;
	}
	for (int i = 0; i < 3; i++)
		if (ioctl(fd[i], PERF_EVENT_IOC_RESET, 0) < 0 ||
		    ioctl(fd[i], PERF_EVENT_IOC_ID, &id[i]) < 0 ||
		    ioctl(fd[i], PERF_EVENT_IOC_ENABLE, 0) < 0)
			die("ioctl: %s", strerror(errno));
	mem = mmap(NULL, PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	for (int i = 0; i < PAGES; i++) {
		mem[i * 4096] = (char)i;
		if (i % 16 == 0)
			sleep_us(1000);
	}
	for (int i = 0; i < 3; i++)
		if (ioctl(fd[i], PERF_EVENT_IOC_DISABLE, 0) < 0 ||
		    read(fd[i], &count[i], sizeof(count[i])) != sizeof(count[i]))
			die("disable or read: %s", strerror(errno));
	say("ids %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", id[0], id[1], id[2]);
	say("task clock %" PRIu64 " ns, %" PRIu64 " context switches, %" PRIu64 " page faults\n",
	    count[0], count[1], count[2]);
	hw = open_event(PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS);
	say("hardware instructions counter: %s\n", hw >= 0 ? "opened" : strerror(errno));
	say("perf_self: %s\n",
	    count[0] > 0 && (user_only || count[1] >= 4) && count[2] >= PAGES && id[0] != id[1] ? "ok" : "WRONG");
	return 0;
}
