/* SPDX-License-Identifier: MIT */
/*
 * Prints the values of the common sources of time and randomness: the vDSO
 * functions clock_gettime, gettimeofday and time, the same clock through the
 * raw syscall, getrandom(2), /dev/urandom, and the process and thread ids.
 * Natively the output changes in every run; in replay it must be the
 * recorded one.
 */
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/time.h>

#include "progs.h"

static void
print_hex(const char *what, const unsigned char *buf, size_t len)
{
	char line[256];
	size_t off = 0;

	for (size_t i = 0; i < len && off + 3 < sizeof(line); i++)
		off += snprintf(line + off, sizeof(line) - off, "%02x", buf[i]);
	say("%s %s\n", what, line);
}

static void
print_clock(const char *name, clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) < 0)
		die("time_random: clock_gettime(%s): %s", name, strerror(errno));
	say("clock_gettime %s %lld.%09ld\n", name, (long long)ts.tv_sec, ts.tv_nsec);
}

int
main(void)
{
	unsigned char buf[32];
	struct timespec raw, m1, m2;
	struct timeval tv;
	ssize_t n;
	int fd;

	print_clock("REALTIME", CLOCK_REALTIME);
	print_clock("MONOTONIC", CLOCK_MONOTONIC);
	print_clock("BOOTTIME", CLOCK_BOOTTIME);
	print_clock("REALTIME_COARSE", CLOCK_REALTIME_COARSE);
	print_clock("PROCESS_CPUTIME", CLOCK_PROCESS_CPUTIME_ID);

	if (syscall(SYS_clock_gettime, CLOCK_REALTIME, &raw) < 0)
		die("time_random: raw clock_gettime: %s", strerror(errno));
	say("syscall clock_gettime REALTIME %lld.%09ld\n", (long long)raw.tv_sec, raw.tv_nsec);

	gettimeofday(&tv, NULL);
	say("gettimeofday %lld.%06ld\n", (long long)tv.tv_sec, (long)tv.tv_usec);
	say("time %lld\n", (long long)time(NULL));

	n = getrandom(buf, sizeof(buf), 0);
	if (n != sizeof(buf))
		die("time_random: getrandom returned %zd", n);
	print_hex("getrandom", buf, sizeof(buf));

	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, buf, sizeof(buf)) != sizeof(buf))
		die("time_random: /dev/urandom: %s", strerror(errno));
	close(fd);
	print_hex("urandom", buf, sizeof(buf));

	say("pid %d tid %d ppid %d\n", getpid(), gettid(), getppid());

	/* Elapsed time across a sleep: positive and plausible. */
	clock_gettime(CLOCK_MONOTONIC, &m1);
	sleep_us(2000);
	clock_gettime(CLOCK_MONOTONIC, &m2);
	long long ns = (m2.tv_sec - m1.tv_sec) * 1000000000ll + (m2.tv_nsec - m1.tv_nsec);
	say("slept %lld ns\n", ns);
	if (ns < 2000000) {
		say("time_random: MONOTONIC CLOCK TOO SLOW\n");
		return 1;
	}
	return 0;
}
